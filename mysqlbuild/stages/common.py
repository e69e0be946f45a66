"""What every stage shares: the Stage interface, the Context a stage runs in, and the digests keys are made of.

A stage module holds one subclass of Stage and nothing another stage needs; the pipeline
(pipeline.py) knows the stages only through this interface.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..engine import BuildRequest, Engine, build_command
from ..errors import EngineError
from ..progress import Reporter
from ..settings import Settings
from ..sources import sha256_file
from ..state import State
from ..target import Target


def digest_json(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def digest_file(path: Path) -> str:
    return sha256_file(path)


def digest_tree(folder: Path) -> str:
    items = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            items.append((str(path.relative_to(folder)), sha256_file(path)))
    return digest_json(items)


def image_unchanged(ctx: "Context", t: Target, output: dict) -> tuple[bool, str]:
    """The image a stage recorded is still the one under the target's tag."""
    present = ctx.engine.image_id(t.image_tag)
    return (present == output.get("image_id"), "image unchanged" if present == output.get("image_id") else
            f"image {t.image_tag} changed or missing")


@dataclass
class Context:
    """What a stage may use: the settings, the reporter, the Docker engine and the checkout."""

    settings: Settings
    reporter: Reporter
    engine: Engine
    root: Path

    def command_text(self, request: BuildRequest) -> str:
        """The exact build command, for the plan; the built-in BuildKit form where no client is usable."""
        try:
            return self.engine.command(request).display()
        except EngineError:
            return build_command(self.settings.docker, request, buildx=False,
                                 docker_host=self.settings.docker_host).display()

    @staticmethod
    def recorded(t: Target, stage: str) -> dict:
        """The output an upstream stage recorded for this target."""
        return State(t.state_path).output(stage)


class Stage:
    """One stage of the pipeline.

    name      the stage's name (also the task that ends with it)
    upstream  the stages whose output it takes; their keys are part of its key
    applies   whether a target has this stage at all (the toolchain: cross mode only)
    in_build  whether `invoke build` runs it
    inputs    everything that goes into it (hashed into its key; never paths or times of this machine)
    describe  its lines in the plan: a summary and the exact commands
    current   whether the output it recorded is still there and unchanged
    run       do the work; return the output to record
    """

    name: ClassVar[str]
    upstream: ClassVar[tuple[str, ...]] = ()
    in_build: ClassVar[bool] = True         # run by `invoke build` (mtr runs only when asked for)

    def applies(self, t: Target) -> bool:
        return True

    def inputs(self, ctx: Context, t: Target) -> dict[str, Any]:
        raise NotImplementedError

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        raise NotImplementedError

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        raise NotImplementedError

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        raise NotImplementedError
