"""Stage image: the runtime image, from the runtime base, the built RPMs and the recipe's files."""
from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

from .. import git_revision
from ..engine import BuildRequest
from ..errors import CheckError
from ..render import render
from ..sources import cache_path, copy_or_link
from ..target import Target
from .common import Context, Stage, digest_file, image_unchanged


def image_labels(t: Target) -> list[tuple[str, str]]:
    return [
        ("org.opencontainers.image.title", t.recipe.image.name),
        ("org.opencontainers.image.description", t.recipe.summary),
        ("org.opencontainers.image.version", t.version.version),
        ("io.mysqlbuild.recipe", t.recipe.name),
        ("io.mysqlbuild.release", t.version.release),
        ("io.mysqlbuild.base", t.base.name),
        ("io.mysqlbuild.sources.sha256", " ".join(f"{s.file}={s.sha256}" for s in t.sources)),
    ]


def runtime_files(t: Target) -> list[dict[str, str]]:
    files = [{"context_path": f"files/{i}-{f.src.name}", "dest": f.dest, "mode": f.mode, "src": str(f.src)}
             for i, f in enumerate(t.recipe.image.files)]
    files += [{"context_path": f"downloads/{d.file}", "dest": d.dest, "mode": d.mode,
               "src": str(cache_path(t.cache_dir, d))} for d in t.downloads]
    return files


def runtime_dockerfile(t: Target) -> str:
    return render("runtime.Dockerfile.j2", {
        "recipe": t.recipe.name, "version": t.version.version, "base": t.base, "arch": t.arch,
        "runtime_image": t.base.runtime_image(t.arch.docker), "tag": t.image_tag, "image": t.recipe.image,
        "files": runtime_files(t), "downloads": t.downloads, "labels": image_labels(t),
    }, t.root / "dockerfiles")


def runtime_request(t: Target, labels: tuple[tuple[str, str], ...] = ()) -> BuildRequest:
    context = t.build_dir / "runtime-context"
    return BuildRequest(dockerfile=context / "Dockerfile", context=context, platform=t.arch.platform,
                        tags=(t.image_tag,), labels=labels)


class ImageStage(Stage):
    name = "image"
    upstream = ("rpms", "base")

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"dockerfile": runtime_dockerfile(t),
                "files": [[f.dest, f.mode, digest_file(f.src)] for f in t.recipe.image.files],
                "downloads": [[d.dest, d.sha256] for d in t.downloads],
                "packages": list(t.recipe.image.packages), "tag": t.image_tag}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        pkgs = ", ".join(t.recipe.image.packages) or "all built RPMs"
        return ([f"runtime base {t.base.runtime_image(t.arch.docker)} + {pkgs}", f"image {t.image_tag}"],
                [ctx.command_text(runtime_request(t))])

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        return image_unchanged(ctx, t, output)

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        packages = ctx.recorded(t, "rpms").get("packages", {})
        context = t.build_dir / "runtime-context"
        if context.exists():
            shutil.rmtree(context)
        (context / "rpms").mkdir(parents=True)
        wanted = set(t.recipe.image.packages) or set(packages)
        missing = wanted - set(packages)
        if missing:
            raise CheckError(f"the image needs package(s) {', '.join(sorted(missing))}, which the build did not make",
                             f"built packages: {', '.join(sorted(packages))}; fix image.packages in {t.recipe.file}")
        for name in sorted(wanted):
            copy_or_link(t.rpm_out / packages[name]["file"], context / "rpms" / packages[name]["file"])
        for item in runtime_files(t):
            copy_or_link(Path(item["src"]), context / item["context_path"])
        (context / "Dockerfile").write_text(runtime_dockerfile(t))
        labels = (("org.opencontainers.image.created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")),
                  ("org.opencontainers.image.revision", git_revision(ctx.root)))
        stream = ctx.reporter.build("runtime image", t.log_dir / "image.log")
        ctx.engine.run_build(runtime_request(t, labels), stream, f"building image {t.image_tag}")
        arch = ctx.engine.image_arch(t.image_tag)
        if arch != t.arch.docker:
            raise CheckError(f"image {t.image_tag} has architecture {arch}, not {t.arch.docker}")
        return {"image_id": ctx.engine.image_id(t.image_tag)}


STAGE = ImageStage()
