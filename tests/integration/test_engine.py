"""Engine smoke test: the engine .ci/run started answers, with BuildKit, and arm64 can run."""
from __future__ import annotations

import shutil

from mysqlbuild.archs import ARCHS
from mysqlbuild.doctor import NEEDED_FREE_GIB, arch_runnable, run_checks
from mysqlbuild.engine import find_client


def test_the_engine_answers_and_a_client_can_run_buildkit(engine):
    version = engine.version()
    assert version["ApiVersion"]
    client = find_client("docker")
    assert client.buildx or client.builtin_buildkit


def test_arm64_can_run_here(engine):
    ok, detail = arch_runnable(ARCHS["arm64"])
    assert ok, detail


def test_doctor_reports_every_check(engine, tmp_path):
    checks = {c.name: c for c in run_checks(engine, tmp_path)}
    for name in ("docker client", "BuildKit", "Docker engine", "host architecture", "can run linux/arm64",
                 "rpm on the host", "libarchive on the host"):
        assert name in checks and checks[name].ok, checks.get(name)
    # Free disk is this machine's state: the check must tell it as it is, with the fix when it is short.
    disk = checks["free disk (cache)"]
    free_gib = shutil.disk_usage(tmp_path).free / 2**30
    assert disk.detail.endswith(f"GiB free at {tmp_path}") and abs(float(disk.detail.split()[0]) - free_gib) < 1
    assert disk.ok == (free_gib >= NEEDED_FREE_GIB) and (disk.ok or "free space" in disk.fix), disk
