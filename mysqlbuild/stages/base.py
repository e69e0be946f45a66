"""Stage base: the builder and runtime base images, made here by debootstrap when the recipe says so."""
from __future__ import annotations

from pathlib import Path

from .. import baseimage
from ..engine import BuildRequest
from ..target import Target
from .common import Context, Stage


class BaseStage(Stage):
    name = "base"

    def inputs(self, ctx: Context, t: Target) -> dict:
        boot = t.base.debootstrap
        return {"arch": t.arch.docker, "builder": t.base.builder_image(t.arch.docker),
                "runtime": t.base.runtime_image(t.arch.docker),
                "debootstrap": None if boot is None else
                {"suite": boot.suite, "mirror": boot.mirror, "variant": boot.variant,
                 "include": list(boot.include)}}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        if t.base.debootstrap is None:
            return [f"builder base {t.base.builder_image(t.arch.docker)}, runtime base "
                    f"{t.base.runtime_image(t.arch.docker)}: pulled by BuildKit when first used, or made "
                    "with `invoke base --rootfs`"], []
        boot = t.base.debootstrap
        cmds = []
        for ref, arch in t.local_bases:
            include = f" --include={','.join(boot.include)}" if boot.include else ""
            cmds.append(f"debootstrap --variant={boot.variant} --arch={arch.docker}{include} "
                        f"{boot.suite} <tmp>/rootfs {boot.mirror}")
            cmds.append(ctx.command_text(BuildRequest(dockerfile=Path("<tmp>/Dockerfile"), context=Path("<tmp>"),
                                                      platform=arch.platform, tags=(ref,))))
        made = ", ".join(ref for ref, _ in t.local_bases)
        return [f"local base {made} made by debootstrap of {boot.suite} ({boot.variant}) for {t.arch.docker}, "
                f"if missing"], cmds

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        missing = [ref for ref, _ in t.local_bases if ctx.engine.image_id(ref) is None]
        return (not missing, f"missing image {missing[0]}" if missing else "images present")

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        ids = {}
        boot = t.base.debootstrap
        for ref, arch in t.local_bases:
            existing = ctx.engine.image_id(ref)
            if existing and not forced:
                ctx.reporter.note(f"base image {ref} present")
                ids[ref] = existing
                continue
            assert boot is not None
            ids[ref] = baseimage.debootstrap(ctx.engine, ctx.reporter, boot, ref, arch, t.build_dir / "base")
        if not t.local_bases:
            for ref in dict.fromkeys((t.base.builder_image(t.arch.docker), t.base.runtime_image(t.arch.docker))):
                ctx.reporter.note(f"{ref}: present here" if ctx.engine.image_id(ref) else
                                  f"{ref}: pulled by BuildKit when first used")
        return {"images": ids}


STAGE = BaseStage()
