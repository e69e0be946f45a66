"""Stage builder: the builder image, the base with the recipe's build requirements installed."""
from __future__ import annotations

import time

from ..buildercontext import DEPS_END, builder_dockerfile, builder_request, write_builder_context
from ..target import Target
from .common import Context, Stage


class BuilderStage(Stage):
    name = "builder"
    upstream = ("base",)

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"dockerfile_deps": builder_dockerfile(t).split(DEPS_END, 1)[0], "arch": t.arch.docker}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        reqs = " ".join(t.base.build_requires)
        return ([f"{t.base.family} base {t.base.builder_image(t.arch.docker)} + build requirements: {reqs}",
                 f"builder image {t.builder_tag}"],
                [ctx.command_text(builder_request(t, "deps", tags=(t.builder_tag,)))])

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        present = ctx.engine.image_id(t.builder_tag)
        return (present == output.get("image_id"), "builder image present" if present else "builder image missing")

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        write_builder_context(t)
        request = builder_request(t, "deps", tags=(t.builder_tag,),
                                  build_args=(("FORCE_NONCE", str(time.time_ns())),) if forced else ())
        stream = ctx.reporter.build("builder image", t.log_dir / "builder.log")
        ctx.engine.run_build(request, stream, f"building the builder image for {t.label}")
        return {"image_id": ctx.engine.image_id(t.builder_tag)}


STAGE = BuilderStage()
