"""Settings: each declared once, merged from invoke.yaml, MYSQLBUILD_* variables and task flags.

Every setting is a field of the Settings dataclass below, declared there once: its name, its type and
default (the field's), its help and, where there are some, its allowed values (the field's metadata,
set by _setting).  Its environment variable is MYSQLBUILD_<NAME>.  SETTINGS describes each one from
that declaration, and the rest comes from SETTINGS:

- the help of every task option that is a setting (tasks.py, option_help);
- invoke.yaml, which lists the settings with their defaults (render_invoke_yaml);
- the Settings table of the README (render_readme_table).

`python -m mysqlbuild.settings` writes the last two; tests/unit/test_settings_declared.py fails when
either says something else than this module.  A new setting is one more field here (and, when a task
takes it as a flag, one more parameter of that task).

The layers: invoke.yaml (section `mysqlbuild`), overridden by the environment, overridden by flags.
"""
from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from .errors import ConfigError
from .recipe import ATOMICS
from .sources import RETRIES
from .toolchain import OLDEST

ENV_PREFIX = "MYSQLBUILD_"
TYPES = {"str": str, "int": int, "bool": bool}
BUILD_MODES_DOC = ("build modes", "docs/build-modes.md")


def _setting(default: Any, help: str, *, choices: Mapping[str, str] | None = None, empty: str = "",
             hint: str = "", see: tuple[str, str] | None = None, per_run: bool = False,
             or_list: bool = False) -> Any:
    """A field of Settings, with what is declared beside its type and default:
    help     what the setting is, in a few words (choices and default are added where shown);
    choices  the allowed values, each with what it means ("" where the name says it);
    empty    what an empty default means (the recipe's choice, ...);
    hint     what to do when a value is refused (default: the choices explained);
    see      (title, path) of the page that tells more;
    per_run  a switch of one run (--force, --dry-run), not a default to keep in invoke.yaml;
    or_list  a refused value's message lists the choices as "a, b or c" (else "one of a, b, c")."""
    return field(default=default, metadata={"help": help, "choices": dict(choices or {}), "empty": empty,
                                            "hint": hint, "see": see, "per_run": per_run, "or_list": or_list})


# The values a recipe's codegen.atomics allows (recipe.ATOMICS), each with what it means.
_ATOMICS_MEANING = {"dispatch": "LSE where the CPU has it, chosen at run time", "lse": "ARMv8.1 and later only",
                    "llsc": "load/store-exclusive loops only"}
_ATOMICS_CHOICES = {value: _ATOMICS_MEANING[value] for value in ATOMICS}


@dataclass(frozen=True)
class Settings:
    recipe: str = _setting("mysql57", "recipe name under recipes/, or a path to a recipe folder")
    version: str = _setting("", "version from the recipe", empty="the recipe's default_version")
    arch: str = _setting("arm64", "target architectures: arm64, amd64, or a comma list amd64,arm64")
    base: str = _setting("", "builder and runtime base declared in the recipe", empty="the recipe's default_base")
    jobs: int = _setting(0, "parallel compile jobs; 0: as many as CPUs, and never more than one job per 2 GB "
                            "of memory")
    mode: str = _setting("auto", "how to compile a foreign architecture", choices={
        "auto": "native if the host matches, else cross",
        "native": "",
        "cross": "the host toolchain's clang runs natively in the target's builder; make, cmake and rpmbuild "
                 "under QEMU",
        "emulate": "everything under QEMU, hours"},
        hint="auto picks native, cross or emulate per target; see `invoke build --dry-run`", see=BUILD_MODES_DOC)
    toolchain: str = _setting(f"clang-{OLDEST}", f"cross mode's host toolchain: clang-{OLDEST} or a newer "
                                                 f"clang-N of Debian 12", see=BUILD_MODES_DOC)
    atomics: str = _setting("", "aarch64 atomics for this build", choices=_ATOMICS_CHOICES,
                            empty="the recipe's codegen.atomics", see=BUILD_MODES_DOC)
    ccache: bool = _setting(True, "keep compiled objects between builds (false: compile everything, as the "
                                  "benchmarks do)")
    rpm_with: str = _setting("", "rpm conditionals to switch on, comma list (e.g. debug,embedded)")
    rpm_without: str = _setting("", "rpm conditionals to switch off, comma list")
    mirror: str = _setting("", "http(s):// or file:// folder holding the sources by name, tried before the "
                               "recipe's URLs (intranet)")
    recipes_dir: str = _setting("recipes", "where recipe names are looked up")
    cache_dir: str = _setting(".cache/sources", "verified downloads, as <sha256>/<file>")
    build_dir: str = _setting("build", "per-target build contexts, logs and stage records")
    rpm_dir: str = _setting("rpmbuild/RPMS", "where RPMs land, in <rpm_dir>/<rpm arch>/")
    dist_dir: str = _setting("dist", "image archives and offline bundles")
    docker: str = _setting("docker", "the docker client (docker: the first one on the machine that can run "
                                     "BuildKit builds)")
    builder: str = _setting("", "an existing buildx builder to compile on (remote BuildKit, kubernetes, native "
                                "arm64 nodes)")
    docker_host: str = _setting("", "run everything on another Docker engine (DOCKER_HOST form: tcp://, ssh://, "
                                    "unix://)")
    image_tag: str = _setting("{name}:{version}-{arch}", "the runtime image's tag; {name}, {version}, {arch}, "
                                                         "{release}, {base} and {recipe} are filled in")
    progress: str = _setting("auto", "how progress shows", choices={
        "auto": "bars on a terminal, else lines",
        "tty": "bars",
        "plain": "lines, for CI logs"}, or_list=True)
    retries: int = _setting(RETRIES, "download attempts per URL on transient errors")
    # The Docker engine an offline bundle may carry (invoke bundle --with-docker), and its daemon.json.
    with_docker: bool = _setting(False, "carry a Docker engine for hosts without one: Docker's static tarball "
                                        "(pinned in delivery/docker-static.yaml), systemd units and a daemon.json")
    docker_version: str = _setting("", "Docker version from the pin file", empty="the pin file's default_version")
    docker_tarball: str = _setting("", "the static tarball docker-<version>.tgz you downloaded (or a folder "
                                       "holding it, or <arch>/ subfolders); implies with_docker. Else it is looked "
                                       "for in the cache and fetched")
    docker_static_file: str = _setting("delivery/docker-static.yaml", "where Docker versions and their sha256s "
                                                                      "are pinned")
    docker_data_root: str = _setting("/var/lib/docker", "daemon.json data-root: where images, containers and "
                                                        "volumes live")
    docker_storage_driver: str = _setting("", "daemon.json storage-driver: overlay2, fuse-overlayfs, btrfs, zfs "
                                              "or vfs", empty="dockerd chooses")
    docker_log_max_size: str = _setting("100m", "container log rotation: size of one log file")
    docker_log_max_file: int = _setting(3, "container log rotation: files kept")
    docker_registry_mirrors: str = _setting("", "daemon.json registry-mirrors, comma list of http(s):// URLs")
    docker_insecure_registries: str = _setting("", "daemon.json insecure-registries, comma list of HOST[:PORT] "
                                                   "(plain-http registries)")
    docker_daemon_extra: str = _setting("", "further daemon.json keys as a JSON object, e.g. "
                                            "'{\"live-restore\": true}'")
    # Signatures and the yum repository (invoke repo, invoke bundle).
    gpg_key: str = _setting("", "the GPG key that signs the RPMs, the repository metadata and the offline bundles: a "
                                "fingerprint, key id or user id of a secret key in GNUPGHOME (~/.gnupg); "
                                "without one they are made unsigned, and say so",
                            see=("RPM repository", "docs/rpm-repository.md"))
    repo_dir: str = _setting("dist/repo", "where invoke repo keeps the yum repository: <repo_dir>/<recipe>/, "
                                          "one folder per rpm arch")
    repo_url: str = _setting("", "where hosts will read the repository, written into its .repo file: http(s):// URL "
                                 "or an absolute path on the hosts", empty="the repository's own folder here")
    # invoke mtr: which of MySQL's own tests run.
    mtr_selection: str = _setting("", "a test selection named in the recipe's mtr section",
                                  empty="the recipe's default_selection")
    mtr_suite: str = _setting("", "whole suites to run instead, comma list (e.g. main,innodb)")
    mtr_tests: str = _setting("", "single tests to run instead, comma list of suite.test (with suites: both)")
    force: bool = _setting(False, "redo the stage even when its key and output are unchanged", per_run=True)
    dry_run: bool = _setting(False, "print the plan (inputs, keys, exact docker commands) and run nothing",
                             per_run=True)

    def path(self, root: Path, name: str) -> Path:
        value = Path(getattr(self, name)).expanduser()
        return value if value.is_absolute() else root / value

    def with_(self, **changes: Any) -> "Settings":
        return replace(self, **changes)


def _either(words: list[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _plain(text: str) -> str:
    return text


@dataclass(frozen=True)
class Setting:
    """One setting as Settings declares it."""

    name: str
    type: type
    default: Any
    help: str
    choices: Mapping[str, str]
    empty: str
    hint: str
    see: tuple[str, str] | None
    per_run: bool
    or_list: bool

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def default_text(self, code: Callable[[str], str] = _plain) -> str:
        """The default as a reader wants it: the value, or what an empty one means."""
        if self.default == "":
            return self.empty or "(none)"
        if isinstance(self.default, bool):
            return code("true" if self.default else "false")
        return code(str(self.default))

    def meaning(self, code: Callable[[str], str] = _plain, link: Callable[[str, str], str] | None = None) -> str:
        """The help with the choices explained, and where to read more."""
        text = self.help
        if self.choices:
            text += ": " + _either([code(value) + (f" ({means})" if means else "")
                                    for value, means in self.choices.items()])
        if self.see:
            title, path = self.see
            text += f" ({link(title, path) if link else 'see ' + path})"
        return text

    def option_help(self) -> str:
        """The help of a task option that sets this (a switch, or an option empty unless given, has no
        default to name)."""
        if self.default is False or (self.default == "" and not self.empty):
            return self.meaning()
        return f"{self.meaning()} (default: {self.default_text()})"

    def refused(self, value: str) -> ConfigError | None:
        """The error for a value outside the choices (an empty default is always allowed)."""
        if not self.choices or value in self.choices or value == self.default:
            return None
        allowed = _either(list(self.choices)) if self.or_list else "one of " + ", ".join(self.choices)
        hint = self.hint or "; ".join(f"{choice}: {means}" for choice, means in self.choices.items() if means)
        return ConfigError(f"{self.name} must be {allowed}, found {value!r}", hint or None)


SETTINGS: dict[str, Setting] = {
    f.name: Setting(name=f.name, type=TYPES[str(f.type)], default=f.default, **f.metadata)
    for f in fields(Settings)
}


def option_help(name: str) -> str:
    """The help of the task option that sets setting `name`."""
    return SETTINGS[name].option_help()


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
    values: dict[str, Any] = {}
    for key, value in (config or {}).items():
        if key not in SETTINGS:
            raise ConfigError(f"invoke.yaml: unknown setting mysqlbuild.{key}",
                              f"known settings: {', '.join(SETTINGS)}")
        values[key] = _coerce(key, SETTINGS[key].type, value, "invoke.yaml")
    for key, setting in SETTINGS.items():
        if setting.env in environ:
            values[key] = _coerce(key, setting.type, environ[setting.env], f"environment variable {setting.env}")
    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key not in SETTINGS:
            raise ConfigError(f"unknown option --{key.replace('_', '-')}")
        values[key] = _coerce(key, SETTINGS[key].type, value, f"option --{key.replace('_', '-')}")
    settings = Settings(**values)
    for setting in SETTINGS.values():
        error = setting.refused(getattr(settings, setting.name))
        if error:
            raise error
    if settings.mirror and not settings.mirror.startswith(("http://", "https://", "file://")):
        raise ConfigError(f"mirror {settings.mirror!r} is not an http://, https:// or file:// URL",
                          "set MYSQLBUILD_MIRROR to a base URL holding the source files by name, "
                          "e.g. http://repo.intranet/mysql/ or file:///srv/mirror/")
    return settings


# The files that list the settings, written from SETTINGS.

INVOKE_YAML = "invoke.yaml"
README = "README.md"
README_START = "<!-- settings table: written by `python -m mysqlbuild.settings` from mysqlbuild/settings.py -->"
README_END = "<!-- end of the settings table -->"


def kept_settings() -> list[Setting]:
    """The settings a checkout keeps defaults for (all but the switches of one run)."""
    return [s for s in SETTINGS.values() if not s.per_run]


def render_invoke_yaml() -> str:
    lines = ["# The pipeline's settings and their defaults, as mysqlbuild/settings.py declares them",
             "# (written by `python -m mysqlbuild.settings`). An environment variable MYSQLBUILD_<NAME>",
             "# (e.g. MYSQLBUILD_MIRROR) overrides a value here, and a task's flag overrides both.",
             "mysqlbuild:"]
    for s in kept_settings():
        meaning = s.meaning()
        if s.default == "" and s.empty:
            meaning += f" (empty: {s.empty})"
        lines += textwrap.wrap(meaning, 110, initial_indent="  # ", subsequent_indent="  # ", break_on_hyphens=False)
        lines.append("  " + yaml.safe_dump({s.name: s.default}, default_flow_style=False, width=1000).strip())
    return "\n".join(lines) + "\n"


def _code(text: str) -> str:
    return f"`{text}`"


# A word holding a placeholder: {name}, <sha256>/<file>, docker-<version>.tgz, <rpm_dir>/<rpm arch>/
_PLACEHOLDER_WORD = re.compile(r"[\w./-]*(?:\{\w+\}|<[\w ]+>)(?:[\w./-]|\{\w+\}|<[\w ]+>)*")


def _markdown(text: str) -> str:
    """Help text in a table cell: words with placeholders as code (markdown would take <file> for a tag)."""
    return _PLACEHOLDER_WORD.sub(lambda m: f"`{m.group(0)}`", text).replace("|", "\\|")


def render_readme_table() -> str:
    rows = ["| setting | environment variable | default | meaning |", "| --- | --- | --- | --- |"]
    for s in kept_settings():
        meaning = _markdown(s.meaning(code=lambda value: f"`{value}`", link=lambda title, path: f"[{title}]({path})"))
        rows.append(f"| `{s.name}` | `{s.env}` | {s.default_text(_code)} | {meaning} |")
    return "\n".join([README_START, *rows, README_END]) + "\n"


def readme_with_table(readme: str) -> str:
    """The README with its settings table replaced by the one SETTINGS gives."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ConfigError(f"{README} lacks the settings table's markers", f"{README_START} ... {README_END}")
    return readme[:start] + render_readme_table() + readme[end + len(README_END) + 1:]


def write_listings(root: Path) -> list[Path]:
    """Write invoke.yaml and the README's settings table from SETTINGS; the files that changed."""
    changed = []
    for path, text in ((root / INVOKE_YAML, render_invoke_yaml()),
                       (root / README, readme_with_table((root / README).read_text()))):
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


if __name__ == "__main__":
    from . import ROOT

    for written in write_listings(ROOT):
        print(f"wrote {written}")
