"""How a target is compiled on this host: native, cross or emulate, and why.

    native   the host runs the target's architecture: nothing is emulated
    cross    the compiler is the host toolchain's (toolchain.py: clang, lld, llvm, the same for every base),
             running natively inside the target's own builder container; make, cmake, rpmbuild and the
             programs the build runs are the base's own, under QEMU
    emulate  everything runs in the target's architecture under QEMU: 10 to 15 times slower

`auto` is native when the architectures match, cross for a foreign one, and emulate only where no host
toolchain exists for this host's architecture.
"""
from __future__ import annotations

from dataclasses import dataclass

from .archs import Arch
from .errors import ConfigError
from .toolchain import Toolchain, toolchain_for


@dataclass(frozen=True)
class BuildMode:
    name: str        # native, cross or emulate
    host: Arch       # the architecture the compiler runs on
    reason: str
    toolchain: Toolchain | None = None     # cross mode's host toolchain

    @property
    def cross(self) -> bool:
        return self.name == "cross"


def choose_mode(requested: str, target: Arch, host: Arch, toolchain: str) -> BuildMode:
    """The mode of one target; a mode that cannot work here is refused with the reason and the fix."""
    if target == host:
        why = {"auto": "", "native": ""}.get(requested, f" (--mode {requested} asked: there is nothing to "
                                                        f"{'cross-compile' if requested == 'cross' else 'emulate'})")
        return BuildMode("native", host, f"this host is {host.rpm}, like the target{why}")
    if requested == "native":
        raise ConfigError(f"--mode native: this host is {host.rpm}, the target {target.rpm}",
                          "use --mode cross or --mode emulate (or auto), or build on an "
                          f"{target.rpm} machine (--docker-host, --builder)")
    if requested == "emulate":
        return BuildMode("emulate", host, f"asked for: {target.rpm} under QEMU on this {host.rpm} host")
    tc = toolchain_for(toolchain, host)
    if tc is None:
        if requested == "cross":
            raise ConfigError(f"--mode cross: there is no host toolchain for {host.rpm} hosts",
                              "use --mode emulate, or build on an x86_64 or aarch64 host")
        return BuildMode("emulate", host, f"no host toolchain for {host.rpm} hosts: {target.rpm} under QEMU")
    asked = "asked for" if requested == "cross" else f"{target.rpm} target on this {host.rpm} host"
    return BuildMode("cross", host, f"{asked}: {tc.name} runs natively in the {target.rpm} builder; "
                                    "make, cmake and rpmbuild are the base's own, under QEMU", tc)
