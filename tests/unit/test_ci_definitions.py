"""The pipeline definitions users copy into their CI systems: schema-valid, and calling real tasks."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fixtures import ROOT
from test_tasks import TASKS

CHECK = Path(sys.executable).with_name("check-jsonschema")
DEFINITIONS = [("ci/github/mysqlbuild.yml", "vendor.github-workflows"),
               ("ci/gitlab/gitlab-ci.yml", "vendor.gitlab-ci")]


@pytest.mark.parametrize("path,schema", DEFINITIONS)
def test_definition_passes_its_schema(path, schema):
    exe = str(CHECK) if CHECK.exists() else shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is part of the test extra"
    proc = subprocess.run([exe, "--builtin-schema", schema, str(ROOT / path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path,schema", DEFINITIONS)
def test_definition_calls_only_existing_tasks_over_both_architectures(path, schema):
    text = (ROOT / path).read_text()
    called = set(re.findall(r"invoke (\w+)", text))
    assert called and called <= set(TASKS), called - set(TASKS)
    assert {"build", "bundle", "doctor"} <= called
    data = yaml.safe_load(text)
    if "jobs" in data:
        matrix = data["jobs"]["build"]["strategy"]["matrix"]["arch"]
    else:
        matrix = data["build"]["parallel"]["matrix"][0]["ARCH"]
    assert sorted(matrix) == ["amd64", "arm64"]
