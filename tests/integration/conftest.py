"""Fixtures for tests against the real Docker engine that .ci/run starts."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures import HELLO, ROOT, copy_recipe, hello_tarball
from httpfiles import FileServer, Route

STAGES = ("base", "fetch", "toolchain", "builder", "rpms", "image", "verify", "save")
NATIVE_STAGES = tuple(s for s in STAGES if s != "toolchain")      # a native target has no toolchain stage
ARM_BASE = "mysqlbuild/debian:bookworm-arm64"


@pytest.fixture(scope="session")
def engine():
    from mysqlbuild.engine import Engine
    from mysqlbuild.errors import PipelineError

    eng = Engine()
    try:
        eng.sdk
    except PipelineError as exc:
        pytest.fail(f"these tests need a Docker engine (.ci/run starts one): {exc.message}", pytrace=False)
    return eng


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def invoke(*args: str, env: dict[str, str], timeout: float = 1200) -> Run:
    """Run an Invoke task exactly as a user does, from the project folder."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("MYSQLBUILD_")}
    full.update(env)
    full["MYSQLBUILD_PROGRESS"] = "plain"
    proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=full, capture_output=True,
                          text=True, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def hello_work(tmp_path_factory, engine):
    """One workspace for the hello fixture, shared by the integration modules in order
    (test_1_* builds from nothing, the later ones build on it)."""
    root = tmp_path_factory.mktemp("hello-e2e")
    recipe = copy_recipe(HELLO, root / "hello")
    tarball, sha = hello_tarball(root / "src-out", recipe / "src")
    server = FileServer()
    server.routes["/mirror/hello-1.0.tar.gz"] = Route(tarball.read_bytes())
    env = {
        "MYSQLBUILD_RECIPE": str(recipe),
        "MYSQLBUILD_MIRROR": server.url("/mirror/"),
        "MYSQLBUILD_BUILD_DIR": str(root / "build"),
        "MYSQLBUILD_CACHE_DIR": str(root / "cache"),
        "MYSQLBUILD_RPM_DIR": str(root / "rpmbuild" / "RPMS"),
        "MYSQLBUILD_DIST_DIR": str(root / "dist"),
    }
    # From nothing: no arm64 base, no images of this fixture.
    for ref in (ARM_BASE, "mysqlbuild-hello:1.0-arm64", "mysqlbuild-hello:1.0-amd64"):
        engine.remove_image(ref) if engine.image_id(ref) else None
    yield {"root": root, "recipe": recipe, "env": env, "server": server, "sha": sha}
    server.close()
