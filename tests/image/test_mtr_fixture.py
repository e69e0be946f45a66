"""invoke mtr on a real server: the MariaDB fixture's -test RPM holds a tiny suite (one test that passes,
one known failure with its reason, one failure, and one listed as known that passes), run by MariaDB's
own mysql-test-run.pl (Debian's mariadb-test) through exactly the task that runs MySQL's suite."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from fixtures import ROOT, copy_recipe_elsewhere, edit_recipe

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def mtr_env(mariadb_recipe, tmp_path_factory):
    work = tmp_path_factory.mktemp("mtr")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQLBUILD_")}
    env.update(MYSQLBUILD_RECIPE=str(mariadb_recipe.path), MYSQLBUILD_ARCH="amd64",
               MYSQLBUILD_MIRROR=mariadb_recipe.mirror.as_uri() + "/", MYSQLBUILD_PROGRESS="plain",
               MYSQLBUILD_BUILD_DIR=str(work / "build"), MYSQLBUILD_RPM_DIR=str(work / "rpms"),
               MYSQLBUILD_DIST_DIR=str(work / "dist"), MYSQLBUILD_CACHE_DIR=str(work / "cache"))
    return {"env": env, "results": work / "build" / "mysql-hostinfo" / "1.0" / "debian12-amd64" / "logs" / "mtr"}


def invoke(env, *args, timeout=900):
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_fixture_suite_counts_passes_known_failures_and_failures(mtr_env):
    run = invoke(mtr_env["env"], "mtr")
    assert run.returncode == 1, run.stdout + run.stderr[-4000:]
    err = run.stderr
    assert "4 test runs: 2 passed, 0 skipped, 1 known failure(s), 1 failed" in err
    assert "known failure mysqlbuild.known: the fixture's known failure, its result file expects 3" in err
    assert "mysqlbuild.fixed is listed as a known failure" in err and "remove it from mtr.known_failures" in err
    assert "error: 1 test(s) of the recipe's test suite failed on mysql-hostinfo 1.0 (debian12, amd64): " \
           "mysqlbuild.fail" in err
    assert "Traceback" not in run.stdout + err
    results = mtr_env["results"]
    suite = ET.parse(results / "junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    assert {c.get("name") for c in suite.iter("testcase")} == {"pass", "known", "fail", "fixed"}
    assert sorted(p.name for p in (results / "failures").iterdir()) == ["mysqlbuild.fail.log",
                                                                        "mysqlbuild.known.log"]
    assert "Result content mismatch" in (results / "failures" / "mysqlbuild.fail.log").read_text()
    assert "FAILED mysqlbuild.fail" in (results / "summary.txt").read_text()


def test_a_selection_without_unexpected_failures_passes(mtr_env):
    run = invoke(mtr_env["env"], "mtr", "--tests", "mysqlbuild.pass,mysqlbuild.known")
    assert run.returncode == 0, run.stderr[-4000:]
    assert "2 test runs: 1 passed, 0 skipped, 1 known failure(s), 0 failed" in run.stderr
    assert "tests:" in run.stdout and "summary.txt" in run.stdout
    assert "selection custom" in (mtr_env["results"] / "summary.txt").read_text()


MTR_IMAGE = "mysqlbuild-mtr/mysql-hostinfo:1.0-debian12-amd64"


def running_the_slow_test() -> bool:
    """Whether a test container of the fixture runs mysqltest on the slow test: mysql-test-run.pl has started
    the server, and the minute-long SELECT SLEEP(60) is under way (mysqltest runs with --test-file=.../slow.test)."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"ancestor={MTR_IMAGE}"], capture_output=True,
                         text=True).stdout.split()
    return any("/slow.test" in subprocess.run(["docker", "top", cid], capture_output=True, text=True).stdout
               for cid in ids)


def wait_until(condition, seconds: float, what: str, proc: subprocess.Popen, output: list[str]) -> None:
    """Wait for `condition()`; fail with `what` and the run's output if the run ends or the time is up first
    (a run still going is interrupted first, so that it removes its container)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                why = f"not within {seconds:.0f} s"
                os.killpg(proc.pid, signal.SIGINT)
                proc.wait(timeout=120)
            else:
                why = f"invoke mtr ended with code {proc.returncode}"
            pytest.fail(f"{what}: {why}; its output so far:\n" + "".join(output)[-3000:], pytrace=False)
        time.sleep(0.5)


def read_all(stream, lines: list[str]) -> threading.Thread:
    """Collect `stream`'s lines in a thread, so that a full pipe never stalls the run while the test waits."""

    def read() -> None:
        for line in stream:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def test_an_interrupted_run_leaves_the_last_results_as_they_were(mtr_env):
    summary = mtr_env["results"] / "summary.txt"
    before = summary.read_text()
    proc = subprocess.Popen([sys.executable, "-m", "invoke", "mtr", "--selection", "slow"], cwd=ROOT,
                            env=mtr_env["env"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            # as from a terminal: a shell starts background jobs with SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen: list[str] = []
    reader = read_all(proc.stdout, seen)
    wait_until(lambda: any("mysql-test-run (slow): full log" in line for line in seen), 600,
               "the mtr task never started mysql-test-run", proc, seen)
    wait_until(running_the_slow_test, 300, "mysql-test-run.pl never got to the slow test", proc, seen)
    os.killpg(proc.pid, signal.SIGINT)
    proc.wait(timeout=120)
    reader.join(timeout=30)
    text = "".join(seen)
    assert proc.returncode == 130, text[-3000:]
    assert "interrupted" in text and "Traceback" not in text
    assert summary.read_text() == before
    assert not list(summary.parent.parent.glob(".mtr*")), "no half-written results are left"
    image = MTR_IMAGE
    running = subprocess.run(["docker", "ps", "-q", "--filter", f"ancestor={image}"], capture_output=True, text=True)
    assert running.stdout.strip() == "", "the test container was removed"


def test_a_missing_test_package_or_selection_is_one_clear_error(mtr_env, tmp_path, mariadb_recipe):
    recipe = copy_recipe_elsewhere(mariadb_recipe.path, tmp_path / "recipe")
    edit_recipe(recipe, lambda d: d["mtr"].update(packages=["mysql-hostinfo", "mysql-hostinfo-nosuch"]))
    env = dict(mtr_env["env"], MYSQLBUILD_RECIPE=str(recipe))
    run = invoke(env, "mtr")
    assert run.returncode == 1
    assert "lack mysql-hostinfo-nosuch, which the tests need" in run.stderr and "Traceback" not in run.stderr
    run = invoke(env, "mtr", "--selection", "nosuch")
    assert run.returncode == 1
    assert "no test selection 'nosuch'" in run.stderr and "selections: fixture" in run.stderr
