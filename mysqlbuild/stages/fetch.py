"""Stage fetch: the recipe's sources and the image's downloads, verified into the cache."""
from __future__ import annotations

from ..sources import Fetcher, cache_path, candidate_urls
from ..target import Target
from .common import Context, Stage


class FetchStage(Stage):
    name = "fetch"

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"sources": [[s.file, s.sha256] for s in t.sources],
                "downloads": [[d.file, d.sha256] for d in t.downloads]}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        lines = []
        for s in (*t.sources, *t.downloads):
            lines.append(f"{s.file} sha256 {s.sha256}")
            lines.extend(f"  from {u}" for u in candidate_urls(s, ctx.settings.mirror))
            lines.append(f"  into {cache_path(t.cache_dir, s)}")
        return lines, []

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        missing = [s.file for s in (*t.sources, *t.downloads) if not cache_path(t.cache_dir, s).is_file()]
        return (not missing, f"{missing[0]} not in the cache" if missing else "all sources in the cache")

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        fetcher = Fetcher(t.cache_dir, ctx.reporter, mirror=ctx.settings.mirror, retries=ctx.settings.retries)
        files = fetcher.fetch_all([*t.sources, *t.downloads])
        return {"files": {name: str(path) for name, path in files.items()}}


STAGE = FetchStage()
