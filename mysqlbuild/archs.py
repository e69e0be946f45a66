"""The architectures the pipeline builds for, and their names in each tool."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Arch:
    docker: str        # Docker / OCI name: arm64, amd64
    rpm: str           # RPM and uname -m name: aarch64, x86_64
    elf_machine: int   # e_machine in ELF headers
    triple: str        # the GNU target triple a cross compiler is given

    @property
    def platform(self) -> str:
        return f"linux/{self.docker}"


ARCHS = {
    "arm64": Arch("arm64", "aarch64", 183, "aarch64-linux-gnu"),
    "amd64": Arch("amd64", "x86_64", 62, "x86_64-linux-gnu"),
}
ALIASES = {"aarch64": "arm64", "x86_64": "amd64", "arm64v8": "arm64"}


def get_arch(name: str) -> Arch:
    key = ALIASES.get(name.strip(), name.strip())
    if key not in ARCHS:
        raise ConfigError(f"unknown architecture {name!r}",
                          f"use one of: {', '.join(ARCHS)} (several as a comma list, e.g. amd64,arm64)")
    return ARCHS[key]


def parse_archs(value: str | list[str]) -> list[Arch]:
    items = value.split(",") if isinstance(value, str) else list(value)
    archs: list[Arch] = []
    for item in items:
        if not item.strip():
            continue
        arch = get_arch(item)
        if arch not in archs:
            archs.append(arch)
    if not archs:
        raise ConfigError("no architecture given", "pass --arch arm64, --arch amd64 or --arch amd64,arm64")
    return archs


def arch_of_machine(machine: str) -> Arch | None:
    """The Arch of a machine name as uname -m or `docker info` give it (None: not one we build for)."""
    return ARCHS.get(ALIASES.get(machine, machine))


def host_arch() -> Arch | None:
    import platform

    return arch_of_machine(platform.machine())
