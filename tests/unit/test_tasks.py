"""The Invoke tasks as users run them (no Docker needed for these)."""
from __future__ import annotations

import os
import subprocess
import sys

from fixtures import ROOT, run_task

INVOKE = [sys.executable, "-m", "invoke"]
TASKS = ["base", "build", "builder", "bundle", "clean", "doctor", "fetch", "image", "load", "mtr", "push", "repo",
         "rpms", "save", "toolchain", "verify"]


run = run_task


def test_invoke_list_shows_every_task():
    proc = run("--list")
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.splitlines()[1:] if line.strip()
              and line.startswith("  ") and not line.startswith("    ")]
    assert sorted(listed) == TASKS


def test_build_dry_run_prints_the_mysql_plan_and_runs_nothing(tmp_path):
    proc = run("build", "--arch", "arm64", "--dry-run", env={"MYSQLBUILD_BUILD_DIR": str(tmp_path / "b")})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "plan for mysql57 5.7.44" in out and "arm64" in out
    assert "b8fe262c4679cb7bbc379a3f1addc723844db168628ce2acf78d33906849e491" in out
    for url in ("https://cdn.mysql.com/Downloads/MySQL-5.7/mysql-boost-5.7.44.tar.gz",
                "https://cdn.mysql.com/archives/mysql-5.7/mysql-boost-5.7.44.tar.gz",
                "https://downloads.mysql.com/archives/get/p/23/file/mysql-boost-5.7.44.tar.gz"):
        assert url in out
    assert "--platform linux/arm64" in out and "rpmbuild" in out
    assert "dry run: nothing was run" in out
    assert not (tmp_path / "b").exists()


def test_an_expected_failure_is_one_message_with_a_hint_and_no_traceback():
    proc = run("fetch", "--recipe", "no-such-recipe")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no recipe 'no-such-recipe'")
    assert "hint: recipes under" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_a_bad_environment_variable_is_reported_by_name():
    proc = run("build", "--dry-run", env={"MYSQLBUILD_JOBS": "lots"})
    assert proc.returncode == 1
    assert "MYSQLBUILD_JOBS" in proc.stderr and "Traceback" not in proc.stderr


def test_flags_override_the_environment():
    proc = run("build", "--dry-run", "--arch", "amd64", env={"MYSQLBUILD_ARCH": "arm64"})
    assert proc.returncode == 0, proc.stderr
    assert "platform linux/amd64" in proc.stdout and "linux/arm64" not in proc.stdout


def test_an_unknown_architecture_says_what_is_allowed():
    proc = run("build", "--dry-run", "--arch", "sparc")
    assert proc.returncode == 1
    assert "unknown architecture 'sparc'" in proc.stderr and "amd64" in proc.stderr


def test_several_architectures_in_one_plan():
    proc = run("build", "--dry-run", "--arch", "amd64,arm64")
    assert proc.returncode == 0, proc.stderr
    assert "(el7, amd64)" in proc.stdout and "(el7, arm64)" in proc.stdout


def test_a_reader_that_goes_away_ends_the_plan_quietly(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQLBUILD_")}
    env["MYSQLBUILD_BUILD_DIR"] = str(tmp_path / "b")
    proc = subprocess.Popen([*INVOKE, "build", "--dry-run", "--arch", "amd64,arm64"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()                       # as `invoke build --dry-run | head` once head has its lines
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err
