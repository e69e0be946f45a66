"""The Docker pin file (delivery/docker-static.yaml): which static engine tarballs a bundle may carry.

Owns the file's model (published as schema/docker-static.schema.json, see schemas.py) and
DockerPins, what is read from it: per Docker version and architecture (Docker's folder names,
aarch64 and x86_64) one tarball with its sha256 and URLs.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Dict

from pydantic import model_validator

from ..archs import ARCHS, Arch
from ..errors import ConfigError
from ..recipe import Source
from ..yamlmodel import Check, FileName, Model, Sha256, Text, Urls, must_name_one_of, read

DOCKER_ARCHS = tuple(a.rpm for a in ARCHS.values())      # Docker's folder names: aarch64, x86_64
STATIC_URL = "https://download.docker.com/linux/static/stable/"


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
        must_name_one_of(self.default_version, self.versions, "pinned versions", "default_version")
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
