"""Stage verify: the image is what was built (architecture, package versions), and the recipe's tests pass on it.

When the image of the other architecture of the same recipe, version and base exists (the peer), the
tests get it too: the recipe's migration tests move a data directory from one image to the other and
back.  The plan says whether that runs, and a verify that ran without the peer runs again once it exists.
"""
from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

from .. import ROOT, proc
from ..engine import Engine
from ..errors import CheckError, EngineError
from ..progress import Reporter
from ..archs import ARCHS, parse_archs
from ..target import Target
from ..testing import FIGURE  # the image tests' lines with figures: shown as they come
from .common import Context, Stage, digest_file, digest_tree, image_unchanged

QUERY_FORMAT = "%{NAME} %{VERSION}-%{RELEASE}\\n"


def installed_packages(engine: Engine, image: str, names: list[str]) -> dict[str, str]:
    """name -> version-release of the packages installed in `image` (per its RPM database)."""
    try:
        # rpm -q exits non-zero when a package is missing; its output still says which.
        _code, text = engine.run_once(image, ["-q", "--qf", QUERY_FORMAT, *names], entrypoint=["rpm"])
    except EngineError as exc:
        raise CheckError(f"cannot query the RPM database of {image}: {exc.message}",
                         "the image needs the rpm command for verification") from None
    found = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in names:
            found[parts[0]] = parts[1]
    return found


def peer_target(t: Target) -> Target:
    """The same recipe, version and base for the other architecture."""
    other = next(arch for name, arch in ARCHS.items() if name != t.arch.docker)
    return dataclasses.replace(t, arch=other)


def peer_image(engine: Engine, t: Target) -> tuple[str, str | None]:
    """The peer's image tag and its id (None when it does not exist)."""
    tag = peer_target(t).image_tag
    return tag, engine.image_id(tag)


def peer_line(ctx: Context, t: Target) -> str:
    """The plan's line about the migration tests."""
    peer = peer_target(t)
    try:
        present = peer_image(ctx.engine, t)[1] is not None
    except EngineError:
        return f"data migration to and from {peer.image_tag}: run if that image exists when verify runs"
    if present:
        return f"data migration to and from {peer.image_tag} ({peer.arch.docker}): runs, the image exists"
    order = [arch.docker for arch in parse_archs(ctx.settings.arch)]
    earlier = order[:order.index(t.arch.docker)] if t.arch.docker in order else []
    if peer.arch.docker in earlier:
        return f"data migration to and from {peer.image_tag} ({peer.arch.docker}): runs, built earlier in this run"
    return (f"data migration to and from {peer.image_tag}: not run, no such image "
            f"(build it: invoke build --arch {peer.arch.docker}; then verify runs again)")


def verify_image(engine: Engine, reporter: Reporter, t: Target, expected: dict[str, str]) -> str | None:
    """Check the image and run the recipe's tests on it; returns the id of the other architecture's image
    the tests got for the migration tests (None when they got none)."""
    arch = engine.image_arch(t.image_tag)
    if arch is None:
        raise CheckError(f"image {t.image_tag} not found", "build it first: invoke image")
    if arch != t.arch.docker:
        raise CheckError(f"image {t.image_tag} has architecture {arch}, expected {t.arch.docker}",
                         "rebuild the image for the right --arch")
    reporter.note(f"architecture {arch}: ok")
    if expected:
        found = installed_packages(engine, t.image_tag, sorted(expected))
        for name, evr in sorted(expected.items()):
            if found.get(name) != evr:
                raise CheckError(f"image {t.image_tag}: package {name} is {found.get(name, 'not installed')}, "
                                 f"expected {evr}", "rebuild the image from the current RPMs: invoke image --force")
        reporter.note("packages: " + ", ".join(f"{n} {v}" for n, v in sorted(found.items())))
    if t.recipe.tests is None:
        reporter.note("the recipe has no tests folder: only architecture and packages checked")
        return None
    peer = peer_target(t)
    peer_tag, peer_id = peer_image(engine, t)
    if peer_id is None:
        reporter.note(f"data migration between architectures: not run, no image {peer_tag} "
                      f"(build it: invoke build --arch {peer.arch.docker})")
    run_image_tests(reporter, t.recipe.tests, image=t.image_tag, arch=t.arch.rpm, packages=expected,
                    recipe=t.recipe.path, peer=(peer_tag, peer.arch.rpm) if peer_id else None,
                    log_path=t.log_dir / "verify.log", docker_host=t.settings.docker_host)
    return peer_id


def pytest_command(tests: Path, *, image: str, arch: str, packages: dict[str, str], recipe: Path | None = None,
                   peer: tuple[str, str] | None = None) -> list[str]:
    """The image tests' command line; `recipe` is the folder of the recipe that made the image, `peer` the
    other architecture's image and its `uname -m`."""
    command = [sys.executable, "-m", "pytest", str(tests), "-p", "mysqlbuild.testing", "-p", "no:cacheprovider",
               "--confcutdir", str(tests), "--rootdir", str(tests), "-o", "addopts=", "-q", "-rfEs",
               "--mysqlbuild-image", image, "--mysqlbuild-arch", arch,
               "--mysqlbuild-packages", json.dumps(packages, sort_keys=True)]
    if recipe is not None:
        command += ["--mysqlbuild-recipe", str(recipe)]
    if peer is not None:
        command += ["--mysqlbuild-peer-image", peer[0], "--mysqlbuild-peer-arch", peer[1]]
    return command


def run_image_tests(reporter: Reporter, tests: Path, *, image: str, arch: str, packages: dict[str, str],
                    log_path: Path, docker_host: str = "", recipe: Path | None = None,
                    peer: tuple[str, str] | None = None) -> None:
    pythonpath = str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    env = (("PYTHONPATH", pythonpath),) + ((("DOCKER_HOST", docker_host),) if docker_host else ())
    command = proc.Command(tuple(pytest_command(tests, image=image, arch=arch, packages=packages, recipe=recipe,
                                                peer=peer)), env)

    def show(line: str) -> None:
        text = line.rstrip()
        if (text.startswith(("FAILED", "ERROR", "PASSED", "SKIPPED", FIGURE)) or " passed" in text
                or " failed" in text):
            reporter.note("  " + text)

    stream = reporter.build(f"image tests ({tests.name})", log_path, track_percent=False)
    proc.stream(command, stream, f"the image tests on {image}", on_line=show, tail=40,
                hint="read the failing test's output in the log; the image was kept for inspection")


class VerifyStage(Stage):
    name = "verify"
    upstream = ("image",)

    def inputs(self, ctx: Context, t: Target) -> dict:
        return {"tests": digest_tree(t.recipe.tests) if t.recipe.tests else None,
                "plugin": digest_file(ctx.root / "mysqlbuild" / "testing.py")}

    def describe(self, ctx: Context, t: Target) -> tuple[list[str], list[str]]:
        tests = t.recipe.tests
        shown = tests.relative_to(ctx.root) if tests and tests.is_relative_to(ctx.root) else tests or "(none)"
        return ([f"image architecture is {t.arch.docker}; installed package versions match the RPMs",
                 f"testinfra tests: {shown}"] + ([peer_line(ctx, t)] if tests else []),
                [f"{sys.executable} -m pytest {tests} -p mysqlbuild.testing --mysqlbuild-image {t.image_tag}"]
                if tests else [])

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        unchanged, reason = image_unchanged(ctx, t, output)
        if not unchanged or t.recipe.tests is None:
            return unchanged, reason
        tag, present = peer_image(ctx.engine, t)
        if present != output.get("peer_image_id"):
            return False, (f"{tag} appeared or changed: the migration tests run with it" if present else
                           f"{tag} is gone: verify runs without the migration tests")
        return True, reason

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        image_id = ctx.engine.image_id(t.image_tag)
        rpms = ctx.recorded(t, "rpms").get("packages", {})
        wanted = set(t.recipe.image.packages) or set(rpms)
        expected = {name: rpms[name]["evr"] for name in wanted if name in rpms}
        peer_id = verify_image(ctx.engine, ctx.reporter, t, expected)
        return {"image_id": image_id, "peer_image_id": peer_id}


STAGE = VerifyStage()
