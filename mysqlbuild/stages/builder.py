"""Stage builder: the builder image, the base with the recipe's build requirements; in cross mode a stage of the
host's architecture with the cross toolchain, reading the target's builder (made under QEMU) as its sysroot."""
from __future__ import annotations

import time

from ..buildercontext import CROSS_SETUP, DEPS_END, builder_dockerfile, builder_request, write_builder_context
from ..doctor import arch_runnable, register_fix
from ..errors import EngineError
from ..target import Target
from .common import Context, Stage, digest_file


class BuilderStage(Stage):
    name = "builder"
    upstream = ("base",)

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"dockerfile_deps": builder_dockerfile(t).split(DEPS_END, 1)[0], "arch": t.arch.docker,
                "cross_setup": digest_file(CROSS_SETUP) if t.mode.cross else None}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        reqs = " ".join(t.base.build_requires)
        lines = [f"{t.base.family} base {t.base.builder_image(t.arch.docker)} + build requirements: {reqs}"]
        if t.mode.cross:
            assert t.base.cross is not None
            lines[0] = "sysroot: " + lines[0] + " (under QEMU)"
            lines.append(f"cross compiler: {t.base.builder_image(t.mode.host.docker)} ({t.mode.host.docker}) + the "
                         f"same + {' '.join(t.base.cross.requires)}; clang --target={t.arch.triple} "
                         f"--sysroot=<the sysroot>, lld, llvm binutils")
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
