"""Docker's static engine tarball (docker-<version>.tgz): where a bundle's copy comes from, and its check.

Owns finding the pinned tarball for one architecture, verified: given with --docker-tarball
(a file, or a folder in Docker's <arch>/ layout), dropped into the cache by hand, already
cached, on the mirror or at the pinned URLs.  Downloading, the cache and its checksums are
sources.Fetcher's; what is Docker's own is here: both architectures' tarballs share one file
name, so a file dropped as <cache>/<file> or <cache>/<arch>/<file> is filed under whichever
pin its checksum matches, a mirror may hold them in Docker's folders (<mirror>/<arch>/<file>),
and a wrong file is named as the other architecture's tarball when it is one.

Also owns the check of what a tarball holds (tarball_binaries): files directly under docker/,
the binaries install.sh needs, and a dockerd built for the bundle's architecture.
"""
from __future__ import annotations

import re
import tarfile
from pathlib import Path

from ..archs import ARCHS, Arch
from ..errors import CheckError, ChecksumError, ConfigError, FetchError
from ..progress import Reporter
from ..recipe import Source
from ..sources import Fetcher, cache_path, sha256_file
from .pins import DockerPins

# What install.sh needs from the tarball; ctr comes too when it is there.
REQUIRED_BINARIES = ("dockerd", "docker", "containerd", "containerd-shim-runc-v2", "runc", "docker-init",
                     "docker-proxy")
BINARY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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


def _file_dropped(pins: DockerPins, dropped: Path, fetcher: Fetcher, pin: Source, version: str, arch: Arch) -> None:
    """A tarball dropped into the cache by hand: file it under the architecture its checksum belongs to."""
    actual = sha256_file(dropped)
    found = pins.identify(actual)
    if found is None:
        raise _mismatch(pins, pin, version, arch, dropped, actual)
    found_version, found_arch = found
    final = fetcher.store(pins.versions[found_version][found_arch], dropped, move=True)
    fetcher.reporter.note(f"{dropped}: Docker {found_version} for {found_arch}, sha256 verified; filed as {final}")


def _given(explicit: str, pin: Source, arch: Arch) -> Path:
    """The file --docker-tarball names: that file, or in a folder <folder>/<arch>/<file> or <folder>/<file>."""
    given = Path(explicit).expanduser()
    if given.is_dir():
        candidates = [given / arch.rpm / pin.file, given / pin.file]
        present = [p for p in candidates if p.is_file()]
        if not present:
            raise ConfigError(f"--docker-tarball {given}: neither {candidates[0]} nor {candidates[1]} exists",
                              f"put {pin.file} for {arch.rpm} there ({pin.urls[0]})")
        return present[0]
    if not given.is_file():
        raise ConfigError(f"--docker-tarball {given}: no such file or folder",
                          f"give the path of {pin.file} for {arch.rpm}, downloaded from {pin.urls[0]}")
    return given


def locate_tarball(pins: DockerPins, version: str | None, arch: Arch, *, cache_dir: Path, mirror: str,
                   explicit: str, reporter: Reporter, retries: int = 4) -> Path:
    """The verified tarball for this architecture, in the cache; fetched when it is nowhere here."""
    version = version or pins.default_version
    pin = pins.pin(version, arch)
    fetcher = Fetcher(cache_dir, reporter, mirror=mirror, retries=retries)
    if explicit:
        given = _given(explicit, pin, arch)
        actual = sha256_file(given)
        if actual != pin.sha256:
            raise _mismatch(pins, pin, version, arch, given, actual)
        if not fetcher.is_cached(pin):
            fetcher.store(pin, given, move=False)
        reporter.note(f"{given}: Docker {version} for {arch.rpm}, sha256 verified")
        return cache_path(cache_dir, pin)
    for dropped in (cache_dir / arch.rpm / pin.file, cache_dir / pin.file):
        if dropped.is_file():
            _file_dropped(pins, dropped, fetcher, pin, version, arch)
    try:
        return fetcher.fetch(pin, mirror_folders=(arch.rpm,))
    except ChecksumError:
        raise
    except FetchError as exc:
        raise FetchError(
            f"{exc.message}\n(Docker {version} for {arch.rpm})",
            f"on a machine with internet, download {pin.urls[0]} and bring it here: drop it into "
            f"{cache_dir}/ (or {cache_dir}/{arch.rpm}/), or pass --docker-tarball PATH, or put it on the "
            f"mirror as {arch.rpm}/{pin.file}; it is checked against sha256 {pin.sha256}") from None
