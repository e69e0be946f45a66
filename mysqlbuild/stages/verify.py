"""Stage verify: the image is what was built (architecture, package versions), and the recipe's tests pass on it."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .. import ROOT, proc
from ..engine import Engine
from ..errors import CheckError, EngineError
from ..progress import Reporter
from ..target import Target
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


def verify_image(engine: Engine, reporter: Reporter, t: Target, expected: dict[str, str]) -> None:
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
        return
    run_image_tests(reporter, t.recipe.tests, image=t.image_tag, arch=t.arch.rpm, packages=expected,
                    log_path=t.log_dir / "verify.log", docker_host=t.settings.docker_host)


def pytest_command(tests: Path, *, image: str, arch: str, packages: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "pytest", str(tests), "-p", "mysqlbuild.testing", "-p", "no:cacheprovider",
            "--confcutdir", str(tests), "--rootdir", str(tests), "-o", "addopts=", "-q", "-rfE",
            "--mysqlbuild-image", image, "--mysqlbuild-arch", arch,
            "--mysqlbuild-packages", json.dumps(packages, sort_keys=True)]


def run_image_tests(reporter: Reporter, tests: Path, *, image: str, arch: str, packages: dict[str, str],
                    log_path: Path, docker_host: str = "") -> None:
    pythonpath = str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
    env = (("PYTHONPATH", pythonpath),) + ((("DOCKER_HOST", docker_host),) if docker_host else ())
    command = proc.Command(tuple(pytest_command(tests, image=image, arch=arch, packages=packages)), env)

    def show(line: str) -> None:
        text = line.rstrip()
        if text.startswith(("FAILED", "ERROR", "PASSED")) or " passed" in text or " failed" in text:
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
                 f"testinfra tests: {shown}"],
                [f"{sys.executable} -m pytest {tests} -p mysqlbuild.testing --mysqlbuild-image {t.image_tag}"]
                if tests else [])

    def current(self, ctx: Context, t: Target, output: dict) -> tuple[bool, str]:
        return image_unchanged(ctx, t, output)

    def run(self, ctx: Context, t: Target, forced: bool) -> dict:
        image_id = ctx.engine.image_id(t.image_tag)
        rpms = ctx.recorded(t, "rpms").get("packages", {})
        wanted = set(t.recipe.image.packages) or set(rpms)
        expected = {name: rpms[name]["evr"] for name in wanted if name in rpms}
        verify_image(ctx.engine, ctx.reporter, t, expected)
        return {"image_id": image_id}


STAGE = VerifyStage()
