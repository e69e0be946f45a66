"""Stage toolchain: the host toolchain image of cross mode (toolchain.py), made here when it is missing.

Only cross targets have this stage.  Its key holds the toolchain's name (clang-16), the Debian suite and
mirror it comes from, the host's architecture, the Dockerfile and the pack script, so the rpms stage, which
takes it as an upstream stage, builds again when the toolchain changes.
"""
from __future__ import annotations

import time

from .. import baseimage
from ..buildercontext import TOOLCHAIN_PACK, toolchain_dockerfile, toolchain_request, write_toolchain_context
from ..engine import BuildRequest
from ..target import Target
from .common import Context, Stage, digest_file


class ToolchainStage(Stage):
    name = "toolchain"

    def applies(self, t: Target) -> bool:
        return t.toolchain is not None

    def inputs(self, ctx: Context, t: Target) -> dict:
        tc = t.toolchain
        assert tc is not None
        return {"name": tc.name, "host": tc.host.docker, "suite": tc.suite, "mirror": tc.mirror,
                "packages": list(tc.packages), "dockerfile": toolchain_dockerfile(t),
                "pack": digest_file(TOOLCHAIN_PACK)}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        tc = t.toolchain
        assert tc is not None
        lines = [f"host toolchain {tc.describe()}: image {tc.image}, packed into one folder with its own "
                 f"loader and libraries, made here if missing",
                 f"its base {tc.base_image}: debootstrap of {tc.suite} for {tc.host.docker}, if missing"]
        return lines, [ctx.command_text(toolchain_request(t, tags=(tc.image,)))]

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        tc = t.toolchain
        assert tc is not None
        present = ctx.engine.image_id(tc.image)
        return (present == output.get("image_id"),
                "toolchain image present" if present else f"toolchain image {tc.image} missing")

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        tc = t.toolchain
        assert tc is not None
        work = t.build_dir / "toolchain"
        if ctx.engine.image_id(tc.base_image) is None or forced:
            baseimage.debootstrap(ctx.engine, ctx.reporter, tc.debootstrap, tc.base_image, tc.host, work)
        write_toolchain_context(t)
        request: BuildRequest = toolchain_request(
            t, tags=(tc.image,), build_args=(("FORCE_NONCE", str(time.time_ns())),) if forced else ())
        stream = ctx.reporter.build(f"toolchain {tc.name}", t.log_dir / "toolchain.log")
        ctx.engine.run_build(request, stream, f"making the {tc.name} toolchain for {tc.host.rpm}")
        version = ctx.engine.read_file(tc.image, f"{tc.mount}/VERSION").strip()
        ctx.reporter.note(f"toolchain {tc.image}: {version.splitlines()[0] if version else tc.name}")
        return {"image_id": ctx.engine.image_id(tc.image), "version": version}


STAGE = ToolchainStage()
