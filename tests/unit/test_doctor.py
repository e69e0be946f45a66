"""Reading binfmt_misc: what `invoke doctor` says when QEMU is missing or misregistered.

The real registration cannot be removed on a shared CI machine, so these
cases use a folder laid out like /proc/sys/fs/binfmt_misc; the real one is
checked in tests/integration/test_engine.py.
"""
from __future__ import annotations

from mysqlbuild.archs import ARCHS
from mysqlbuild.doctor import arch_runnable


def test_missing_or_misregistered_qemu_is_explained(tmp_path):
    ok, detail = arch_runnable(ARCHS["arm64"], binfmt_dir=tmp_path / "absent")
    assert not ok and "binfmt_misc is not mounted" in detail
    fake = tmp_path / "binfmt"
    fake.mkdir()
    (fake / "status").write_text("enabled\n")
    ok, detail = arch_runnable(ARCHS["arm64"], binfmt_dir=fake)
    assert not ok and "no qemu-aarch64 entry" in detail
    (fake / "qemu-aarch64").write_text("enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: \n")
    ok, detail = arch_runnable(ARCHS["arm64"], binfmt_dir=fake)
    assert not ok and "without the F flag" in detail
