"""RPM checks on real RPMs made with the host's rpmbuild: header arch, rpm -K, 64K LOAD alignment, libraries."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from elfmaker import make_elf
from mysqlbuild.archs import ARCHS
from mysqlbuild.errors import CheckError
from mysqlbuild.rpmcheck import check_rpms, iter_payload, parse_elf

ARM, AMD = ARCHS["arm64"], ARCHS["amd64"]
pytestmark = pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="rpmbuild not installed (apt-get install rpm)")

SPEC = """\
Name: {name}
Version: 1.0
Release: 1
Summary: test package
License: MIT
%description
test
%install
mkdir -p %{{buildroot}}/usr/lib64 %{{buildroot}}/usr/share/doc/{name}
cp %{{_sourcedir}}/payload.bin %{{buildroot}}/usr/lib64/{name}.so
echo text > %{{buildroot}}/usr/share/doc/{name}/README
%files
/usr/lib64/{name}.so
/usr/share/doc/{name}/README
"""


def make_rpm(tmp_path: Path, name: str, target: str, payload: bytes) -> Path:
    top = tmp_path / f"top-{name}-{target}"
    for sub in ("SOURCES", "SPECS", "BUILD", "RPMS", "BUILDROOT"):
        (top / sub).mkdir(parents=True, exist_ok=True)
    (top / "SOURCES" / "payload.bin").write_bytes(payload)
    spec = top / "SPECS" / f"{name}.spec"
    spec.write_text(SPEC.format(name=name))
    subprocess.run(["rpmbuild", "-bb", "--target", target, "--define", f"_topdir {top}",
                    "--define", "__os_install_post %{nil}", "--define", "debug_package %{nil}",
                    "--nodeps", str(spec)], check=True, capture_output=True)
    (rpm,) = (top / "RPMS").rglob("*.rpm")
    return rpm


def test_elf_parsing_reads_alignments_and_needed_libraries():
    info = parse_elf(make_elf(183, (0x10000, 0x1000), ("libc.so.6", "libjemalloc.so.2")))
    assert info.machine == 183
    assert info.load_aligns == (0x10000, 0x1000)
    assert info.needed == ("libc.so.6", "libjemalloc.so.2")
    assert parse_elf(b"#!/bin/sh\necho not elf\n" * 4) is None
    assert parse_elf(make_elf(e_type=1)) is None  # a relocatable object has no segments


def test_the_payload_is_read_from_the_rpm(tmp_path):
    rpm = make_rpm(tmp_path, "good", "aarch64", make_elf(183))
    names = dict(iter_payload(rpm))
    assert set(names) == {"/usr/lib64/good.so", "/usr/share/doc/good/README"}
    assert names["/usr/lib64/good.so"] == make_elf(183)


def test_a_good_aarch64_rpm_passes(tmp_path):
    rpm = make_rpm(tmp_path, "good", "aarch64", make_elf(183, (0x10000, 0x10000)))
    (info,) = check_rpms([rpm], ARM)
    assert (info.name, info.evr, info.arch) == ("good", "1.0-1", "aarch64")


def test_an_rpm_of_the_wrong_architecture_is_refused(tmp_path):
    rpm = make_rpm(tmp_path, "other", "x86_64", make_elf(62))
    with pytest.raises(CheckError) as info:
        check_rpms([rpm], ARM)
    assert rpm.name in info.value.message and "architecture x86_64" in info.value.message
    assert "aarch64" in info.value.message


def test_a_4k_aligned_library_is_refused_for_aarch64_naming_rpm_and_file(tmp_path):
    rpm = make_rpm(tmp_path, "small", "aarch64", make_elf(183, (0x10000, 0x1000)))
    with pytest.raises(CheckError) as info:
        check_rpms([rpm], ARM)
    assert rpm.name in info.value.message and "/usr/lib64/small.so" in info.value.message
    assert "0x1000" in info.value.message and "64K-page" in info.value.message
    check_rpms([make_rpm(tmp_path, "small", "x86_64", make_elf(62, (0x1000,)))], AMD)  # fine on x86_64


def test_an_elf_file_of_another_machine_is_refused(tmp_path):
    rpm = make_rpm(tmp_path, "liar", "aarch64", make_elf(62))
    with pytest.raises(CheckError) as info:
        check_rpms([rpm], ARM)
    assert "/usr/lib64/liar.so" in info.value.message and "machine 62" in info.value.message


def test_a_forbidden_library_is_refused(tmp_path):
    rpm = make_rpm(tmp_path, "jem", "aarch64", make_elf(183, needed=("libc.so.6", "libjemalloc.so.2")))
    check_rpms([rpm], ARM)
    with pytest.raises(CheckError) as info:
        check_rpms([rpm], ARM, forbid_libs=("libjemalloc", "libtcmalloc"))
    assert "needs libjemalloc.so.2" in info.value.message


def test_a_damaged_rpm_fails_rpm_k(tmp_path):
    rpm = make_rpm(tmp_path, "bad", "aarch64", make_elf(183))
    data = bytearray(rpm.read_bytes())
    data[-200] ^= 0xFF
    rpm.write_bytes(bytes(data))
    with pytest.raises(CheckError) as info:
        check_rpms([rpm], ARM)
    assert rpm.name in info.value.message


def test_no_rpm_at_all_is_an_error():
    with pytest.raises(CheckError):
        check_rpms([], ARM)


def test_large_files_are_checked_from_a_mapped_spool_file(tmp_path, monkeypatch):
    import mysqlbuild.rpmcheck as rpmcheck

    monkeypatch.setattr(rpmcheck, "IN_MEMORY", 64)  # every file of this RPM counts as large
    rpm = make_rpm(tmp_path, "big", "aarch64", make_elf(183, (0x10000, 0x1000), ("libtcmalloc.so.4",)))
    with pytest.raises(CheckError) as info:
        check_rpms([rpm], ARM)
    assert "0x1000" in info.value.message
    names = {name: bytes(data) for name, data in iter_payload(rpm)}
    assert names["/usr/lib64/big.so"] == make_elf(183, (0x10000, 0x1000), ("libtcmalloc.so.4",))
    assert names["/usr/share/doc/big/README"] == b"text\n"
