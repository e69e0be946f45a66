"""Cross and emulate build the same arm64 packages: the hello fixture, built both ways on this x86_64 host.

test_1 built arm64 with the default mode, which on this host is cross (the host toolchain's clang runs
natively inside the arm64 builder container; make, cmake, rpmbuild, the configure probe and the
generator run under QEMU).  Here the same target is built again with --mode emulate (everything under
QEMU, the base's own GCC), and both results are compared: files, modes, requirements, and how the
binary does its atomic operations.
"""
from __future__ import annotations

import platform
import re
import shutil
import subprocess

import pytest

from conftest import invoke
from fixtures import edit_recipe
from mysqlbuild.archs import ARCHS
from mysqlbuild.rpmcheck import check_rpms, iter_payload, parse_elf
from mysqlbuild.sources import sha256_file

pytestmark = [pytest.mark.docker, pytest.mark.slow]
TAG = "mysqlbuild-hello:1.0-arm64"
ARM = ARCHS["arm64"]


def rpm_query(path, fmt: str) -> list[str]:
    proc = subprocess.run(["rpm", "-qp", "--nosignature", "--qf", fmt, str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return sorted(line for line in proc.stdout.splitlines() if line)


@pytest.fixture(scope="module")
def both(hello_work, engine, tmp_path_factory):
    """The cross build test_1 left, kept aside, and an emulated build of the same target."""
    if platform.machine() != "x86_64" or shutil.which("qemu-aarch64-static") is None:
        pytest.fail("these tests compare cross and emulate for arm64 on an x86_64 host with QEMU")
    work = hello_work
    keep = tmp_path_factory.mktemp("modes")
    rpm_dir = work["root"] / "rpmbuild" / "RPMS" / "aarch64"
    log = work["root"] / "build" / "hello" / "1.0" / "debian12-arm64" / "logs" / "rpmbuild.log"
    dry = invoke("build", "--arch", "arm64", "--dry-run", env=work["env"])
    assert "mode cross: aarch64 target on this x86_64 host: clang-16 runs natively in the aarch64 builder" \
        in dry.out, dry.text[-3000:]
    run = invoke("build", "--arch", "arm64", env=work["env"])      # current: nothing to do, or finishes test_1
    assert run.code == 0, run.text[-5000:]
    shutil.copytree(rpm_dir, keep / "cross")
    shutil.copy(log, keep / "cross-rpmbuild.log")
    engine.tag(TAG, "mysqlbuild-hello:modes-cross")
    images = {"cross": engine.image_id(TAG)}
    run = invoke("build", "--arch", "arm64", "--mode", "emulate", env=work["env"])
    assert run.code == 0, run.text[-5000:]
    shutil.copytree(rpm_dir, keep / "emulate")
    engine.tag(TAG, "mysqlbuild-hello:modes-emulate")
    images["emulate"] = engine.image_id(TAG)
    shutil.copy(log, keep / "emulate-rpmbuild.log")
    yield {"cross": sorted((keep / "cross").glob("*.rpm")), "emulate": sorted((keep / "emulate").glob("*.rpm")),
           "emulate_run": run, "work": work, "images": images,
           "logs": {m: (keep / f"{m}-rpmbuild.log").read_text() for m in ("cross", "emulate")}}
    for ref in ("mysqlbuild-hello:modes-cross", "mysqlbuild-hello:modes-emulate"):
        engine.remove_image(ref)


def test_the_emulated_build_ran_everything_under_qemu(both):
    err = both["emulate_run"].err
    assert "hello 1.0 (debian12, arm64)" in err and "rpms: up to date" not in err   # the mode is in the key
    context = both["work"]["root"] / "build" / "hello" / "1.0" / "debian12-arm64" / "builder-context"
    dockerfile = (context / "Dockerfile").read_text()
    assert "mode emulate" in dockerfile and "AS toolchain" not in dockerfile and "--platform=" not in dockerfile
    assert "clang" not in both["logs"]["emulate"]


def test_the_cross_build_compiled_with_the_host_toolchain_and_the_bases_gcc_runtime(both):
    log = both["logs"]["cross"]
    assert "mysqlbuild toolchain: Debian clang version 16." in log
    assert "GCC 12's runtime (/usr/lib/gcc/aarch64-linux-gnu/12): C and C++ programs build and run" in log \
        or "GCC 12's runtime (/usr/lib/gcc/aarch64-linux-gnu/12): C programs build and run" in log
    assert "code generation -moutline-atomics: an atomic counter builds and runs" in log
    # The packaging is the base's own rpmbuild, in the arm64 container, in both modes.
    assert "rpmbuild --target" not in log


def test_both_rpm_sets_pass_the_rpm_checks_and_dispatch_atomics_at_run_time(both):
    found = {}
    for mode in ("cross", "emulate"):
        infos = check_rpms(both[mode], ARM, check_align=True, atomics="dispatch")
        assert [(i.name, i.arch) for i in infos] == [("hello", "aarch64")], mode
        found[mode] = dict(infos[0].atomics)
        assert {name: a.kind for name, a in found[mode].items()} == {"/usr/bin/hello": "dispatch"}, mode
    # The same helper (libgcc's __aarch64_ldadd8_acq_rel) in both: one LSE instruction and one LL/SC loop.
    assert found["cross"] == found["emulate"]


def test_both_hold_the_same_files_with_the_same_modes_and_dependencies(both):
    (cross,), (emulate,) = both["cross"], both["emulate"]
    assert cross.name == emulate.name == "hello-1.0-1.aarch64.rpm"
    files = "[%{FILEMODES:octal} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\\n]"
    # rpm names the build-id links after each binary's build-id, which differs between compilers.
    same = lambda rows: sorted(re.sub(r"/\.build-id/[0-9a-f]{2}(/[0-9a-f]+)?", "/.build-id/<id>", r) for r in rows)  # noqa: E731
    assert same(rpm_query(cross, files)) == same(rpm_query(emulate, files))
    assert any("/.build-id/" in row for row in rpm_query(cross, files)), "the cross-built binary has a build-id"
    assert rpm_query(cross, "[%{REQUIRENEVRS}\\n]") == rpm_query(emulate, "[%{REQUIRENEVRS}\\n]")
    assert "libz.so.1()(64bit)" in rpm_query(cross, "[%{REQUIRENEVRS}\\n]")   # linked against the base's zlib


def test_every_elf_file_is_aarch64(both):
    for mode in ("cross", "emulate"):
        elves = [(name, parse_elf(data)) for rpm in both[mode] for name, data in iter_payload(rpm, only_elf=True)]
        assert elves, mode
        assert {info.machine for _, info in elves} == {ARM.elf_machine}, mode


@pytest.mark.parametrize("mode", ["cross", "emulate"])
def test_both_images_run_on_aarch64_with_what_the_build_ran_and_made(both, engine, mode):
    image = both["images"][mode]
    assert engine.image_arch(image) == "arm64", subprocess.run(["docker", "images"], capture_output=True,
                                                                 text=True).stdout
    run = lambda *cmd: engine.sdk.containers.run(image, list(cmd), remove=True).decode().strip()  # noqa: E731
    assert run("hello", "--machine") == "aarch64"
    # The configure probe and the generator ran as aarch64 programs (under QEMU in both modes), and
    # cmake knew the target: the same build information either way.
    assert run("hello", "--build-info").startswith(
        "configured on aarch64, generated on aarch64, cmake processor aarch64, zlib ")
    assert run("hello", "--build-info").endswith(", table ok")


def test_a_library_missing_from_the_builder_is_named_with_its_package(both):
    work = both["work"]
    rpm_dir = work["root"] / "rpmbuild" / "RPMS" / "aarch64"
    good = {p.name: sha256_file(p) for p in rpm_dir.glob("*.rpm")}
    run = invoke("rpms", "--arch", "arm64", "--mode", "cross", "--rpm-with", "extralib", env=work["env"])
    assert run.code == 1, run.text[-3000:]
    assert "the library -lzstd is not in the aarch64 builder image of base debian12" in run.err
    assert "libzstd-dev" in run.err and "bases.debian12.build_requires" in run.err
    assert "the RPMs of the last good build are still in" in run.err and "Traceback" not in run.text
    assert {p.name: sha256_file(p) for p in rpm_dir.glob("*.rpm")} == good
    assert not list(rpm_dir.parent.glob(".aarch64*")), "no half-made RPM folder is left behind"
