"""The host toolchain of cross mode: clang, lld and the llvm binutils for the host's architecture.

One toolchain serves every base and package family.  It is made here like the other base images: a
Debian suite debootstrapped for the host's architecture, its clang, lld and llvm packages installed, then
packed by dockerfiles/toolchain-pack.sh into one folder that carries its own dynamic loader and
libraries.  The rpms stage mounts that folder into the target's own builder container (made under QEMU),
where the kernel runs the compiler natively while everything else (make, cmake, rpmbuild, the base's
headers, libraries and GCC runtime) is the base's own, under QEMU (docs/build-modes.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .archs import ARCHS, Arch
from .errors import ConfigError
from .recipe import DEBIAN_MIRROR, Debootstrap

MOUNT = "/opt/mysqlbuild/toolchain"          # where the packed toolchain lives, in its image and when mounted
NAME_RE = re.compile(r"^clang-(\d+)$")
OLDEST = 16                                  # --gcc-install-dir, which names the base's GCC, came with clang 16
SUITE = "bookworm"                           # Debian 12: clang 16 and 19, for amd64 and arm64
HOST_ARCHS = ("amd64", "arm64")              # host architectures Debian packages that clang for


@dataclass(frozen=True)
class Toolchain:
    major: int
    host: Arch
    suite: str = SUITE
    mirror: str = DEBIAN_MIRROR

    mount: str = MOUNT

    @property
    def name(self) -> str:
        return f"clang-{self.major}"

    @property
    def packages(self) -> tuple[str, ...]:
        return (f"clang-{self.major}", f"lld-{self.major}", f"llvm-{self.major}", "ccache", "patchelf")

    @property
    def prefix(self) -> str:
        """Where Debian installs this clang: bin/ and lib/clang/<major>/ (the compiler's own headers)."""
        return f"/usr/lib/llvm-{self.major}"

    @property
    def runtime_targets(self) -> tuple[Arch, ...]:
        """Targets whose compiler-rt builtins the toolchain carries: aarch64, where the outline-atomic helpers
        live in the runtime (GCC 10's libgcc and later), for bases whose GCC runtime is older."""
        return tuple(a for a in ARCHS.values() if a != self.host and a.rpm == "aarch64")

    @property
    def image(self) -> str:
        return f"mysqlbuild/toolchain:{self.name}-{self.host.docker}"

    @property
    def base_image(self) -> str:
        return f"mysqlbuild/toolchain-base:{self.suite}-{self.host.docker}"

    @property
    def debootstrap(self) -> Debootstrap:
        return Debootstrap(suite=self.suite, mirror=self.mirror, variant="minbase", include=())

    def describe(self) -> str:
        return f"{self.name} (Debian {self.suite}, {self.host.rpm}): clang, lld and llvm binutils"


def parse_name(name: str) -> int:
    """The clang major version a `toolchain` setting names; an unusable one is refused with the fix."""
    match = NAME_RE.match(name.strip())
    if not match:
        raise ConfigError(f"toolchain {name!r} is not clang-<version>",
                          f"use clang-{OLDEST} (the default) or a newer clang Debian {SUITE} packages, e.g. clang-19")
    major = int(match.group(1))
    if major < OLDEST:
        raise ConfigError(f"toolchain {name}: clang {major} cannot name the base's GCC installation "
                          "(--gcc-install-dir came with clang 16)", f"use clang-{OLDEST} or newer")
    return major


def toolchain_for(name: str, host: Arch) -> Toolchain | None:
    """The toolchain of this name for the host's architecture; None where Debian packages no clang for it."""
    major = parse_name(name)
    if host.docker not in HOST_ARCHS or host.docker not in ARCHS:
        return None
    return Toolchain(major=major, host=host)
