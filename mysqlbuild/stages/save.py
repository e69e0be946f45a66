"""Stage save: the image as a `docker save` archive with its .sha256, for hosts with no registry."""
from __future__ import annotations

from .. import archive
from ..errors import CheckError
from ..target import Target
from .common import Context, Stage


class SaveStage(Stage):
    name = "save"
    upstream = ("image",)

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"archive": t.archive_path.name}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        return ([f"{t.archive_path} and {t.archive_path.name}.sha256"],
                [f"docker save {t.image_tag} | gzip > {t.archive_path}"])

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        path = t.archive_path
        if not path.is_file() or ctx.engine.image_id(t.image_tag) != output.get("image_id"):
            return False, "archive missing or made from another image"
        try:
            return archive.verify(path) == output.get("sha256"), "archive unchanged"
        except CheckError as exc:
            return False, exc.message

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        sha = archive.save(ctx.engine, ctx.reporter, t.image_tag, t.archive_path)
        return {"image_id": ctx.engine.image_id(t.image_tag), "sha256": sha}


STAGE = SaveStage()
