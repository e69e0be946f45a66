"""The Docker engine an offline bundle carries to a host that has none (hostdocker: Docker for the host).

Three parts, all checked before a bundle is written:
- Docker's static tarball (docker-<version>.tgz for aarch64 or x86_64),
  pinned by version and sha256 in delivery/docker-static.yaml and found in
  the verified cache, hand-dropped into it, under --docker-tarball, on the
  mirror or at the pinned URLs; any other file is refused;
- our own systemd units, delivery/docker.service and delivery/docker.socket
  (install.sh fills in the folder of the binaries);
- a daemon.json made from settings (data root, log rotation, storage driver,
  registry mirrors, plain-http registries, further keys as JSON).

Both architectures' tarballs share Docker's file name; the verified cache keeps
them apart by checksum (<cache>/<sha256>/<file>).  A file dropped by hand as
<cache>/<file> or <cache>/<arch>/<file> is filed under the checksum it has,
when that checksum is pinned for any architecture; a mirror may hold them in
Docker's own folders, <mirror>/<arch>/<file>.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Dict

from pydantic import model_validator

from . import ROOT
from .archs import ARCHS, Arch
from .errors import CheckError, ChecksumError, ConfigError, FetchError
from .progress import Reporter
from .recipe import Source
from .settings import Settings
from .sources import Fetcher, cache_path, sha256_file
from .yamlmodel import Check, FileName, Model, Sha256, Text, Urls, fail, read

DELIVERY_DIR = ROOT / "delivery"
UNIT_FILES = ("docker.service", "docker.socket")
DOCKER_ARCHS = tuple(a.rpm for a in ARCHS.values())      # Docker's folder names: aarch64, x86_64
STATIC_URL = "https://download.docker.com/linux/static/stable/"
# What install.sh needs from the tarball; ctr comes too when it is there.
REQUIRED_BINARIES = ("dockerd", "docker", "containerd", "containerd-shim-runc-v2", "runc", "docker-init",
                     "docker-proxy")
STORAGE_DRIVERS = ("overlay2", "fuse-overlayfs", "btrfs", "zfs", "vfs")
NAMED_DAEMON_KEYS = {"data-root": "--docker-data-root", "storage-driver": "--docker-storage-driver",
                     "log-driver": "--docker-log-max-size/--docker-log-max-file",
                     "log-opts": "--docker-log-max-size/--docker-log-max-file",
                     "registry-mirrors": "--docker-registry-mirrors",
                     "insecure-registries": "--docker-insecure-registries"}
BINARY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]*$")
SIZE_RE = re.compile(r"^[1-9][0-9]*[kmg]$")
REGISTRY_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")
CIDR_RE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$")
MIRROR_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s,]*)?$")


# --- the pin file ------------------------------------------------------------------

class PinnedTarball(Model):
    """One static engine tarball, as Docker publishes it under linux/static/stable/<arch>/."""

    file: Annotated[FileName, Check(lambda value: value.endswith((".tgz", ".tar.gz")), "{value!r} is not a .tgz",
                                    "Docker names them docker-<version>.tgz", pattern=r"\.(tgz|tar\.gz)$")]
    """docker-<version>.tgz"""
    sha256: Sha256
    """Its sha256, checked by someone you trust: any other file is refused."""
    urls: Urls
    """Where to download it, tried in order."""


DockerVersion = Annotated[Text, Check.pattern(r"^[0-9][0-9A-Za-z.+~_-]*$", "is not a Docker version",
                                              'write it as a quoted string, e.g. "28.0.4"')]
DockerArch = Annotated[Text, Check.one_of(DOCKER_ARCHS, "is not an architecture of Docker's static tarballs",
                                          f"allowed: {', '.join(DOCKER_ARCHS)} (Docker's folder names under "
                                          f"{STATIC_URL})")]
PerArch = Annotated[Dict[DockerArch, PinnedTarball],
                    Check.not_empty("must pin the tarball of at least one architecture",
                                    f"architectures: {', '.join(DOCKER_ARCHS)}", minProperties=1)]


class PinFile(Model):
    """Docker engines an offline bundle can carry (invoke bundle --with-docker), pinned by sha256."""

    default_version: Text
    """The version carried when --docker-version names none: a key of versions."""
    versions: Annotated[Dict[DockerVersion, PerArch], Check.not_empty("must pin at least one version",
                                                                      minProperties=1)]
    """Per Docker version (quoted), per architecture (aarch64, x86_64): the tarball."""

    @model_validator(mode="after")
    def _default_is_pinned(self) -> "PinFile":
        if self.default_version not in self.versions:
            fail(f"{self.default_version!r} is not one of the pinned versions",
                 f"pinned versions: {', '.join(self.versions)}", at=("default_version",))
        return self


@dataclass(frozen=True)
class DockerPins:
    path: Path
    default_version: str
    versions: dict[str, dict[str, Source]]      # version -> Docker arch name -> the pinned file

    def pin(self, version: str | None, arch: Arch) -> Source:
        key = version or self.default_version
        if key not in self.versions:
            raise ConfigError(f"Docker {key} is not pinned in {self.path}",
                              f"pinned versions: {', '.join(self.versions)}; to carry {key}, add it there with "
                              f"the sha256 of each architecture's docker-{key}.tgz (one you have checked)")
        per_arch = self.versions[key]
        if arch.rpm not in per_arch:
            raise ConfigError(f"{self.path}: Docker {key} has no {arch.rpm} tarball pinned",
                              f"pinned there for: {', '.join(per_arch)}; add versions.{key}.{arch.rpm} with "
                              f"file, sha256 and urls")
        return per_arch[arch.rpm]

    def identify(self, digest: str) -> tuple[str, str] | None:
        """(version, arch) of the pinned tarball with this sha256, if any."""
        for version, per_arch in self.versions.items():
            for arch, source in per_arch.items():
                if source.sha256 == digest:
                    return version, arch
        return None


def load_pins(path: Path) -> DockerPins:
    """Read and check the pin file; every mistake names the file, the field and what is allowed."""
    try:
        pinned = read(path, PinFile, ConfigError)
    except FileNotFoundError:
        raise ConfigError(f"the Docker pin file {path} does not exist",
                          "point MYSQLBUILD_DOCKER_STATIC_FILE at it (default: delivery/docker-static.yaml)") from None
    versions = {version: {arch: Source(t.file, t.sha256, t.urls) for arch, t in per_arch.items()}
                for version, per_arch in pinned.versions.items()}
    return DockerPins(path=path, default_version=pinned.default_version, versions=versions)


# --- daemon.json ---------------------------------------------------------------------

def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def daemon_config(settings: Settings) -> dict[str, Any]:
    """The daemon.json that install.sh puts in /etc/docker (when the host has none)."""
    data_root = settings.docker_data_root.rstrip("/") or "/"
    if not PATH_RE.match(data_root) or data_root == "/" or "/../" in data_root + "/":
        raise ConfigError(f"--docker-data-root {settings.docker_data_root!r} is not an absolute folder path",
                          "e.g. /var/lib/docker or /data/docker (letters, digits, . _ - + and /; no spaces)")
    config: dict[str, Any] = {"data-root": data_root}
    driver = settings.docker_storage_driver.strip()
    if driver:
        if driver not in STORAGE_DRIVERS:
            raise ConfigError(f"--docker-storage-driver {driver!r} is not a storage driver of current Docker",
                              f"allowed: {', '.join(STORAGE_DRIVERS)}; leave it empty to let dockerd choose "
                              f"(overlay2 on any kernel that has it)")
        config["storage-driver"] = driver
    size = settings.docker_log_max_size.strip().lower()
    if not SIZE_RE.match(size):
        raise ConfigError(f"--docker-log-max-size {settings.docker_log_max_size!r} is not a size",
                          "a number with k, m or g, e.g. 100m")
    if settings.docker_log_max_file < 1:
        raise ConfigError("--docker-log-max-file must be at least 1", "e.g. 3: the current log and two rotated ones")
    config["log-driver"] = "json-file"
    config["log-opts"] = {"max-size": size, "max-file": str(settings.docker_log_max_file)}
    mirrors = _comma_list(settings.docker_registry_mirrors)
    for url in mirrors:
        if not MIRROR_RE.match(url):
            raise ConfigError(f"--docker-registry-mirrors: {url!r} is not an http(s):// URL",
                              "e.g. https://harbor.intranet:8443 (comma-separate several)")
    if mirrors:
        config["registry-mirrors"] = mirrors
    insecure = _comma_list(settings.docker_insecure_registries)
    for entry in insecure:
        if not (REGISTRY_RE.match(entry) or CIDR_RE.match(entry)):
            hint = "without http:// in front" if "://" in entry else "HOST[:PORT] or a CIDR such as 10.0.0.0/8"
            raise ConfigError(f"--docker-insecure-registries: {entry!r} is not a registry address", hint)
    if insecure:
        config["insecure-registries"] = insecure
    extra_text = settings.docker_daemon_extra.strip()
    if extra_text:
        try:
            extra = json.loads(extra_text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--docker-daemon-extra is not valid JSON: {exc}",
                              "give a JSON object, e.g. '{\"iptables\": false, \"live-restore\": true}'") from None
        if not isinstance(extra, dict):
            raise ConfigError("--docker-daemon-extra must be a JSON object of daemon.json keys",
                              "e.g. '{\"live-restore\": true}'")
        for key, value in extra.items():
            if key in NAMED_DAEMON_KEYS:
                raise ConfigError(f"--docker-daemon-extra sets {key!r}, which has its own option",
                                  f"use {NAMED_DAEMON_KEYS[key]} instead")
            config[key] = value
    return config


def daemon_json_text(config: dict[str, Any]) -> str:
    return json.dumps(config, indent=2) + "\n"


# --- the tarball ---------------------------------------------------------------------

def tarball_binaries(path: Path, arch: Arch) -> tuple[str, ...]:
    """The file names under docker/ in a static tarball, after checking its layout and its dockerd's machine."""
    names: list[str] = []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                name = name.rstrip("/")
                if name == "docker" and member.isdir():
                    continue
                folder, _, base = name.partition("/")
                if folder != "docker" or not BINARY_RE.match(base):
                    raise CheckError(f"{path}: unexpected entry {member.name!r}",
                                     "Docker's static tarball holds files directly under docker/ and nothing "
                                     "else; this is another kind of archive")
                if not member.isfile():
                    raise CheckError(f"{path}: docker/{base} is not a regular file",
                                     "Docker's static tarball holds plain files only")
                if base == "dockerd":
                    head = tar.extractfile(member).read(20)
                    machine = int.from_bytes(head[18:20], "little") if head[:4] == b"\x7fELF" else None
                    if machine != arch.elf_machine:
                        found = {a.elf_machine: a.rpm for a in ARCHS.values()}.get(machine, f"machine {machine}")
                        raise CheckError(f"{path}: docker/dockerd is built for {found}, not {arch.rpm}",
                                         "the pin file lists this tarball under the wrong architecture")
                names.append(base)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CheckError(f"{path} is not a readable .tgz: {exc}",
                         "download it again; its sha256 matched, so the pin itself may be for another file") from None
    missing = [b for b in REQUIRED_BINARIES if b not in names]
    if missing:
        raise CheckError(f"{path} lacks " + ", ".join(f"docker/{b}" for b in missing),
                         "this is not a static engine tarball of the layout install.sh knows (Docker 19.03 "
                         "and later: dockerd, docker, containerd, containerd-shim-runc-v2, runc, docker-init, "
                         "docker-proxy)")
    return tuple(sorted(names))


def _mismatch(pins: DockerPins, pin: Source, version: str, arch: Arch, path: Path, actual: str) -> ChecksumError:
    other = pins.identify(actual)
    if other:
        hint = (f"this file is the pinned Docker {other[0]} tarball for {other[1]}; this bundle is for "
                f"{arch.rpm} and needs {pin.urls[0]}")
    else:
        hint = (f"it is damaged or another file: download {pin.urls[0]} again and compare its sha256sum with "
                f"the pin; to carry another Docker version, pin it in {pins.path} with a checksum you trust")
    return ChecksumError(f"{path}: sha256 {actual} is not the one pinned for {pin.file} ({arch.rpm}, Docker "
                         f"{version}, in {pins.path}): expected {pin.sha256}", hint)


def _keep(src: Path, final: Path, move: bool) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    if move:
        os.replace(src, final)
        return final
    part = final.parent / f".{final.name}.part"
    try:
        shutil.copyfile(src, part)
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)        # a failed copy leaves nothing in the cache
        raise
    return final


def _file_dropped(pins: DockerPins, dropped: Path, cache_dir: Path, reporter: Reporter,
                  pin: Source, version: str, arch: Arch) -> None:
    """A tarball dropped into the cache by hand: file it under the architecture its checksum belongs to."""
    actual = sha256_file(dropped)
    found = pins.identify(actual)
    if found is None:
        raise _mismatch(pins, pin, version, arch, dropped, actual)
    found_version, found_arch = found
    final = cache_path(cache_dir, pins.versions[found_version][found_arch])
    _keep(dropped, final, move=True)
    reporter.note(f"{dropped}: Docker {found_version} for {found_arch}, sha256 verified; filed as {final}")


def locate_tarball(pins: DockerPins, version: str | None, arch: Arch, *, cache_dir: Path, mirror: str,
                   explicit: str, reporter: Reporter, retries: int = 4) -> Path:
    """The verified tarball for this architecture, in the cache; fetched when it is nowhere here."""
    version = version or pins.default_version
    pin = pins.pin(version, arch)
    final = cache_path(cache_dir, pin)
    if explicit:
        given = Path(explicit).expanduser()
        if given.is_dir():
            candidates = [given / arch.rpm / pin.file, given / pin.file]
            present = [p for p in candidates if p.is_file()]
            if not present:
                raise ConfigError(f"--docker-tarball {given}: neither {candidates[0]} nor {candidates[1]} exists",
                                  f"put {pin.file} for {arch.rpm} there ({pin.urls[0]})")
            given = present[0]
        elif not given.is_file():
            raise ConfigError(f"--docker-tarball {given}: no such file or folder",
                              f"give the path of {pin.file} for {arch.rpm}, downloaded from {pin.urls[0]}")
        actual = sha256_file(given)
        if actual != pin.sha256:
            raise _mismatch(pins, pin, version, arch, given, actual)
        if not (final.is_file() and sha256_file(final) == pin.sha256):
            _keep(given, final, move=False)
        reporter.note(f"{given}: Docker {version} for {arch.rpm}, sha256 verified")
        return final
    for dropped in (cache_dir / arch.rpm / pin.file, cache_dir / pin.file):
        if dropped.is_file():
            _file_dropped(pins, dropped, cache_dir, reporter, pin, version, arch)
    fetcher = Fetcher(cache_dir, reporter, mirror="", retries=retries)
    source = pin
    if mirror:
        base = mirror if mirror.endswith("/") else mirror + "/"
        source = Source(pin.file, pin.sha256, (f"{base}{arch.rpm}/{pin.file}", f"{base}{pin.file}", *pin.urls))
    try:
        return fetcher.fetch(source)
    except ChecksumError:
        raise
    except FetchError as exc:
        raise FetchError(
            f"{exc.message}\n(Docker {version} for {arch.rpm})",
            f"on a machine with internet, download {pin.urls[0]} and bring it here: drop it into "
            f"{cache_dir}/ (or {cache_dir}/{arch.rpm}/), or pass --docker-tarball PATH, or put it on the "
            f"mirror as {arch.rpm}/{pin.file}; it is checked against sha256 {pin.sha256}") from None


# --- what goes into a bundle -----------------------------------------------------------

@dataclass(frozen=True)
class DockerKit:
    version: str
    arch: Arch
    pin: Source
    tarball: Path
    binaries: tuple[str, ...]
    daemon: dict[str, Any]
    pins_path: Path


def wanted(settings: Settings) -> bool:
    return settings.with_docker or bool(settings.docker_tarball)


def prepare(settings: Settings, root: Path, arch: Arch, reporter: Reporter) -> DockerKit:
    """Everything checked before the build runs: a wrong tarball or option fails in seconds, not after it."""
    daemon = daemon_config(settings)
    pins = load_pins(settings.path(root, "docker_static_file"))
    version = settings.docker_version or pins.default_version
    pin = pins.pin(version, arch)
    tarball = locate_tarball(pins, version, arch, cache_dir=settings.path(root, "cache_dir"),
                             mirror=settings.mirror, explicit=settings.docker_tarball, reporter=reporter,
                             retries=settings.retries)
    return DockerKit(version=version, arch=arch, pin=pin, tarball=tarball,
                     binaries=tarball_binaries(tarball, arch), daemon=daemon, pins_path=pins.path)


def describe(settings: Settings, root: Path, arch: Arch) -> str:
    """For --dry-run: what would be carried, and where the tarball would come from."""
    daemon = daemon_config(settings)
    pins = load_pins(settings.path(root, "docker_static_file"))
    version = settings.docker_version or pins.default_version
    pin = pins.pin(version, arch)
    cached = cache_path(settings.path(root, "cache_dir"), pin)
    if settings.docker_tarball:
        origin = f"from {settings.docker_tarball} (checked against the pin)"
    elif cached.is_file():
        origin = f"in the cache: {cached}"
    else:
        origin = "to fetch: " + ", ".join(pin.urls)
    return (f"with Docker {version} for {arch.rpm}: {pin.file} sha256 {pin.sha256} ({origin})\n"
            f"and daemon.json:\n{daemon_json_text(daemon)}")


def add_to_bundle(kit: DockerKit, folder: Path, link) -> tuple[dict[str, str], dict[str, Any]]:
    """Put the kit into a bundle folder; returns the values for bundle.env and the manifest's docker entry."""
    docker_dir = folder / "docker"
    docker_dir.mkdir()
    link(kit.tarball, docker_dir / kit.pin.file)
    for unit in UNIT_FILES:
        shutil.copyfile(DELIVERY_DIR / unit, docker_dir / unit)
    (docker_dir / "daemon.json").write_text(daemon_json_text(kit.daemon))
    env = {"DOCKER_VERSION": kit.version, "DOCKER_TARBALL": f"docker/{kit.pin.file}", "DOCKER_ARCH": kit.arch.rpm,
           "DOCKER_BINARIES": " ".join(kit.binaries), "DOCKER_DATA_ROOT": kit.daemon["data-root"]}
    try:
        pinned_in = str(kit.pins_path.relative_to(DELIVERY_DIR.parent))
    except ValueError:
        pinned_in = str(kit.pins_path)
    manifest = {"version": kit.version, "arch": kit.arch.rpm, "file": f"docker/{kit.pin.file}",
                "sha256": kit.pin.sha256, "urls": list(kit.pin.urls), "pinned_in": pinned_in,
                "binaries": list(kit.binaries), "units": [f"docker/{u}" for u in UNIT_FILES],
                "daemon_json": kit.daemon}
    return env, manifest


NO_DOCKER_ENV = {"DOCKER_VERSION": "", "DOCKER_TARBALL": "", "DOCKER_ARCH": "", "DOCKER_BINARIES": "",
                 "DOCKER_DATA_ROOT": ""}
