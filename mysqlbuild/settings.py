"""Settings: invoke.yaml, overridden by MYSQLBUILD_* variables, overridden by flags.

Every setting is declared once, in SETTINGS, with its type and its help.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError
from .recipe import ATOMICS

ENV_PREFIX = "MYSQLBUILD_"
MODES = ("auto", "native", "cross", "emulate")


@dataclass(frozen=True)
class Settings:
    recipe: str = "mysql57"
    version: str = ""            # empty: the recipe's default_version
    arch: str = "arm64"          # comma list: amd64,arm64
    base: str = ""               # empty: the recipe's default_base
    jobs: int = 0                # 0: as many as CPUs and memory allow (2 GB per job)
    mode: str = "auto"           # auto, native, cross or emulate (buildmode.py)
    toolchain: str = "clang-16"  # cross mode's host toolchain: clang-<version> from Debian 12 (toolchain.py)
    atomics: str = ""            # aarch64 atomics: dispatch, lse or llsc (empty: the recipe's codegen.atomics)
    ccache: bool = True          # keep compiler output between builds (off: every compile from scratch)
    rpm_with: str = ""           # rpm conditionals to switch on, comma list
    rpm_without: str = ""        # rpm conditionals to switch off, comma list
    mirror: str = ""             # http(s):// or file:// base tried before the recipe's URLs
    recipes_dir: str = "recipes"
    cache_dir: str = ".cache/sources"
    build_dir: str = "build"
    rpm_dir: str = "rpmbuild/RPMS"
    dist_dir: str = "dist"
    docker: str = "docker"       # the docker client binary
    builder: str = ""            # an existing buildx builder (remote or kubernetes)
    docker_host: str = ""        # another Docker engine (DOCKER_HOST form)
    image_tag: str = "{name}:{version}-{arch}"
    progress: str = "auto"       # auto, tty or plain
    retries: int = 4             # download attempts per URL for transient errors
    # The Docker engine an offline bundle may carry (invoke bundle --with-docker), and its daemon.json.
    with_docker: bool = False
    docker_version: str = ""     # empty: the pin file's default_version
    docker_tarball: str = ""     # the static tarball (or a folder holding it); implies with_docker
    docker_static_file: str = "delivery/docker-static.yaml"   # where versions and sha256s are pinned
    docker_data_root: str = "/var/lib/docker"
    docker_storage_driver: str = ""      # empty: dockerd chooses (overlay2 where the kernel has it)
    docker_log_max_size: str = "100m"    # json-file log rotation, per container
    docker_log_max_file: int = 3
    docker_registry_mirrors: str = ""    # comma list of http(s):// URLs
    docker_insecure_registries: str = "" # comma list of HOST[:PORT] (plain-http registries)
    docker_daemon_extra: str = ""        # a JSON object of further daemon.json keys, e.g. {"iptables": false}
    # invoke mtr: which of MySQL's own tests run (empty: the recipe's default selection)
    mtr_selection: str = ""      # a selection named in the recipe's mtr section
    mtr_suite: str = ""          # comma list of whole suites instead
    mtr_tests: str = ""          # comma list of suite.test instead (with mtr_suite: both)
    force: bool = False
    dry_run: bool = False

    def path(self, root: Path, name: str) -> Path:
        value = Path(getattr(self, name)).expanduser()
        return value if value.is_absolute() else root / value

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)


def _coerce(name: str, kind: type, value: Any, origin: str) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{origin}: {name} must be true or false, found {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{origin}: {name} must be an integer, found {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {name} must be an integer, found {value!r}") from None
        if number < 0:
            raise ConfigError(f"{origin}: {name} must not be negative, found {number}")
        return number
    if value is None:
        return ""
    return str(value)


def resolve(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
            flags: Mapping[str, Any] | None = None) -> Settings:
    """Merge the three layers; later layers win, None in flags means 'not given'."""
    environ = os.environ if environ is None else environ
    types = {f.name: (str if f.type == "str" else int if f.type == "int" else bool) for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if key not in types:
            raise ConfigError(f"invoke.yaml: unknown setting mysqlbuild.{key}",
                              f"known settings: {', '.join(types)}")
        values[key] = _coerce(key, types[key], value, "invoke.yaml")
    for key, kind in types.items():
        env_name = ENV_PREFIX + key.upper()
        if env_name in environ:
            values[key] = _coerce(key, kind, environ[env_name], f"environment variable {env_name}")
    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key not in types:
            raise ConfigError(f"unknown option --{key.replace('_', '-')}")
        values[key] = _coerce(key, types[key], value, f"option --{key.replace('_', '-')}")
    settings = Settings(**values)
    if settings.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, found {settings.mode!r}",
                          "auto picks native, cross or emulate per target; see `invoke build --dry-run`")
    if settings.atomics and settings.atomics not in ATOMICS:
        raise ConfigError(f"atomics must be one of {', '.join(ATOMICS)}, found {settings.atomics!r}",
                          "dispatch: LSE where the CPU has it, chosen at run time (the default); lse: ARMv8.1 "
                          "and later only; llsc: load/store-exclusive loops only")
    if settings.progress not in ("auto", "tty", "plain"):
        raise ConfigError(f"progress must be auto, tty or plain, found {settings.progress!r}")
    if settings.mirror and not settings.mirror.startswith(("http://", "https://", "file://")):
        raise ConfigError(f"mirror {settings.mirror!r} is not an http://, https:// or file:// URL",
                          "set MYSQLBUILD_MIRROR to a base URL holding the source files by name, "
                          "e.g. http://repo.intranet/mysql/ or file:///srv/mirror/")
    return settings
