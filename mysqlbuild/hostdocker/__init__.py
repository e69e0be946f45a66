"""The Docker engine an offline bundle carries to a host that has none (hostdocker: Docker for the host).

The bundle gets three things, all checked before a bundle is written (prepare), so that a
wrong tarball or option fails in seconds, not after the build:
- Docker's static tarball (docker-<version>.tgz for aarch64 or x86_64), pinned by version and
  sha256 in delivery/docker-static.yaml (pins.py) and found and checked by tarball.py;
- our own systemd units, delivery/docker.service and delivery/docker.socket (install.sh fills
  in the folder of the binaries);
- a daemon.json made from settings (daemon.py).

This module owns the kit: what `invoke bundle --with-docker` carries for one architecture, its
--dry-run description, and putting it into a bundle folder with the values for bundle.env and
the manifest.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import ROOT
from ..archs import Arch
from ..progress import Reporter
from ..recipe import Source
from ..settings import Settings
from ..sources import cache_path
from .daemon import daemon_config, daemon_json_text
from .pins import load_pins
from .tarball import locate_tarball, tarball_binaries

DELIVERY_DIR = ROOT / "delivery"
UNIT_FILES = ("docker.service", "docker.socket")


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
