"""Shared fixtures. Tests that need Docker are marked `docker` and skip only
when no engine answers (CI starts one: .ci/run)."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures import ROOT  # noqa: E402

# The recipes' own image tests run inside `invoke verify`, not in this suite.
collect_ignore_glob = ["recipes/*/tests/*"]


@pytest.fixture
def reporter():
    from mysqlbuild.progress import Reporter

    stream = io.StringIO()
    rep = Reporter(stream)
    rep.text = stream.getvalue  # type: ignore[attr-defined]
    return rep


@pytest.fixture
def project_root() -> Path:
    return ROOT
