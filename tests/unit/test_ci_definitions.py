"""The pipeline definitions users copy into their CI systems: schema-valid, and calling real tasks."""
from __future__ import annotations

import json
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
ZIZMOR = Path(sys.executable).with_name("zizmor")
GITHUB_WORKFLOW = "ci/github/mysqlbuild.yml"
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
        matrix = [entry["ARCH"] for entry in data["build"]["parallel"]["matrix"]]
    assert sorted(matrix) == ["amd64", "arm64"]


def test_arm64_builds_on_an_arm64_runner_by_default():
    """Native, not emulated or cross, where the CI service has arm64 runners; x86 runners stay possible."""
    github = yaml.safe_load((ROOT / GITHUB_WORKFLOW).read_text())["jobs"]["build"]["runs-on"]
    assert github == "${{ matrix.arch == 'arm64' && (vars.ARM64_RUNNER || 'ubuntu-24.04-arm') || 'ubuntu-24.04' }}"
    gitlab = yaml.safe_load((ROOT / "ci/gitlab/gitlab-ci.yml").read_text())
    assert gitlab["variables"]["ARM64_RUNNER_TAG"] == "saas-linux-small-arm64"
    assert {"ARCH": "arm64", "RUNNER_TAG": "$ARM64_RUNNER_TAG"} in gitlab["build"]["parallel"]["matrix"]
    assert gitlab["build"]["tags"] == ["$RUNNER_TAG"]


def zizmor_findings(path: Path) -> list[str]:
    """zizmor's findings of medium severity or above on a workflow, one line each (offline audits only)."""
    exe = str(ZIZMOR) if ZIZMOR.exists() else shutil.which("zizmor")
    assert exe, "zizmor is part of the test extra"
    proc = subprocess.run([exe, "--offline", "--no-progress", "--format", "json", "--min-severity", "medium",
                           "--no-exit-codes", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = []
    for finding in json.loads(proc.stdout):
        if finding.get("ignored"):
            continue
        where = []
        for loc in finding["locations"]:
            if loc["symbolic"].get("kind") == "Primary":
                row = loc["concrete"]["location"]["start_point"]["row"] + 1
                first = loc["concrete"]["feature"].strip().splitlines()[0]
                where.append(f"line {row}: {first!r} ({loc['symbolic'].get('annotation', '')})")
        lines.append(f"{finding['determinations']['severity']} {finding['ident']}: {finding['desc']}; "
                     + "; ".join(where))
    return lines


def test_github_workflow_has_no_zizmor_findings_of_medium_severity_or_above():
    findings = zizmor_findings(ROOT / GITHUB_WORKFLOW)
    assert not findings, f"zizmor on {GITHUB_WORKFLOW}:\n" + "\n".join(findings)


def test_zizmor_check_catches_an_unhardened_workflow(tmp_path):
    unhardened = tmp_path / "unhardened.yml"
    unhardened.write_text("on: push\njobs:\n  build:\n    runs-on: ubuntu-24.04\n"
                          "    steps:\n      - uses: actions/checkout@v4\n")
    idents = {line.split(":")[0] for line in zizmor_findings(unhardened)}
    assert {"High unpinned-uses", "Medium artipacked", "Medium excessive-permissions"} <= idents, idents


def test_github_actions_are_pinned_by_commit_with_their_release_in_a_comment():
    """The form Dependabot updates: owner/repo@<40-hex sha> # vX.Y.Z (the comment ending with the version)."""
    uses = re.findall(r"^\s*(?:- )?uses:\s*(.*)$", (ROOT / GITHUB_WORKFLOW).read_text(), re.M)
    assert uses
    unpinned = [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", u.strip())]
    assert not unpinned, unpinned
