"""Stage builder: the builder image, the base with the recipe's build requirements installed in the target's
architecture (under QEMU on a foreign host); the same image in every mode."""
from __future__ import annotations

import time

from ..buildercontext import builder_image_dockerfile, builder_request, write_builder_context
from ..doctor import arch_runnable, register_fix
from ..errors import EngineError
from ..target import Target
from .common import Context, Stage


class BuilderStage(Stage):
    name = "builder"
    upstream = ("base",)

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"dockerfile_deps": builder_image_dockerfile(t), "arch": t.arch.docker}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        reqs = " ".join(t.base.build_requires)
        qemu = " (under QEMU)" if t.mode.name != "native" else ""
        lines = [f"{t.base.family} base {t.base.builder_image(t.arch.docker)} + build requirements{qemu}: {reqs}"]
        return (lines + [f"builder image {t.builder_tag}"],
                [ctx.command_text(builder_request(t, "deps", tags=(t.builder_tag,)))])

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        present = ctx.engine.image_id(t.builder_tag)
        return (present == output.get("image_id"), "builder image present" if present else "builder image missing")

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        if t.mode.name != "native" and not ctx.settings.docker_host:
            # Both cross and emulate run target programs here; a remote engine is checked by its own build.
            ok, detail = arch_runnable(t.arch)
            if not ok:
                raise EngineError(f"{t.arch.rpm} programs cannot run on this host ({detail}), and the "
                                  f"{t.mode.name} build needs them", register_fix(t.arch))
        write_builder_context(t, sources=False)
        request = builder_request(t, "deps", tags=(t.builder_tag,),
                                  build_args=(("FORCE_NONCE", str(time.time_ns())),) if forced else ())
        stream = ctx.reporter.build("builder image", t.log_dir / "builder.log")
        ctx.engine.run_build(request, stream, f"building the builder image for {t.label}")
        return {"image_id": ctx.engine.image_id(t.builder_tag)}


STAGE = BuilderStage()
