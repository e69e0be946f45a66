"""Fixtures for tests against the real Docker engine that .ci/run starts."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures import ROOT


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
