"""How a target is compiled on this host: native, cross or emulate, and why.

    native   the host runs the target's architecture: nothing is emulated
    cross    the compiler runs on the host's architecture and writes the target's code; the target's
             builder image, made under QEMU, is its sysroot; programs the build runs go through QEMU
    emulate  everything (cmake, make, rpmbuild) runs in the target's architecture under QEMU: 10 to 15
             times slower; the reference that cross is checked against

`auto` is native when the architectures match, cross when the base declares a cross toolchain
(recipe.yaml: bases.<name>.cross), emulate otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass

from .archs import Arch
from .errors import ConfigError
from .recipe import Base


@dataclass(frozen=True)
class BuildMode:
    name: str        # native, cross or emulate
    host: Arch       # the architecture the compiler runs on
    reason: str

    @property
    def cross(self) -> bool:
        return self.name == "cross"


def choose_mode(requested: str, target: Arch, host: Arch, base: Base) -> BuildMode:
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
    if base.cross is None:
        if requested == "cross":
            raise ConfigError(f"--mode cross: base {base.name} declares no cross toolchain",
                              f"add `cross: {{requires: [...]}}` to bases.{base.name} in recipe.yaml (the "
                              "host-arch packages of clang, lld and llvm), or use --mode emulate")
        return BuildMode("emulate", host, f"base {base.name} declares no cross toolchain "
                                          f"(recipe.yaml bases.{base.name}.cross): {target.rpm} under QEMU")
    asked = "asked for" if requested == "cross" else f"base {base.name} declares a cross toolchain"
    return BuildMode("cross", host, f"{asked}: the compiler runs on {host.rpm}, the sysroot is the "
                                    f"{target.rpm} builder image, only programs the build runs use QEMU")
