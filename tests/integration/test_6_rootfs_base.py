"""A base that exists only as an arm64 root filesystem, as a Kylin V10 user has it, builds in cross mode.

No amd64 image of this base exists and the recipe declares nothing about compilers for it: the host
toolchain runs inside the arm64 builder made from the imported root filesystem.  The root filesystem is
the hello fixture's arm64 builder image (made here if no earlier test made it), exported to a tarball and
imported with `invoke base --rootfs`, exactly as a user imports theirs.  Two things make it stand for an EL-like base:
- its rpm is given EL8's GCC-only build flags (spec files for hardening and annobin,
  -fstack-clash-protection), which clang does not take for aarch64: the build drops them, says so, and
  keeps the rest (-mbranch-protection=standard);
- its GCC runtime has no outline-atomic helpers, like EL7's GCC 4.8.5 or Kylin V10's GCC 7 (they are
  taken out of its libgcc.a): cross mode links compiler-rt's, carried by the toolchain, and the binary
  still dispatches; an emulated build of the same base stops before compiling and says why.
"""
from __future__ import annotations

import subprocess

import pytest

from conftest import invoke
from fixtures import edit_recipe
from mysqlbuild.archs import ARCHS
from mysqlbuild.rpmcheck import check_rpms

pytestmark = [pytest.mark.docker, pytest.mark.slow]
ROOTFS_TAG = "mysqlbuild-test/hello-rootfs:arm64"
SOURCE_IMAGE = "mysqlbuild-builder/hello:1.0-debian12-arm64"
IMAGE_TAG = "mysqlbuild-hello-rootfs:{version}-{arch}"
IMAGE = "mysqlbuild-hello-rootfs:1.0-arm64"
# GCC 10 and later keep the outline-atomic helpers in libgcc.a, one object per operation, size and order.
STRIP_HELPERS = ("cd /usr/lib/gcc/aarch64-linux-gnu/12 && ar t libgcc.a "
                 "| grep -E '^((cas|swp|ldadd|ldclr|ldeor|ldset)_[0-9]+_[0-9]+|lse-init)[.]o$' | xargs ar d libgcc.a "
                 "&& ! nm libgcc.a 2>/dev/null | grep -q __aarch64_ldadd4_acq_rel")
# EL8's %{optflags} for aarch64 as redhat-rpm-config writes them, with its hardening and annobin spec files.
EL8_OPTFLAGS = ("-O2 -g -pipe -Wall -Werror=format-security -Wp,-D_FORTIFY_SOURCE=2 -Wp,-D_GLIBCXX_ASSERTIONS "
                "-fexceptions -fstack-protector-strong -grecord-gcc-switches "
                "-specs=/usr/lib/rpm/redhat/redhat-hardened-cc1 -specs=/usr/lib/rpm/redhat/redhat-annobin-cc1 "
                "-mbranch-protection=standard -fasynchronous-unwind-tables -fstack-clash-protection")


@pytest.fixture(scope="module")
def rootfs_build(hello_work, engine, tmp_path_factory):
    work = hello_work
    if engine.image_id(SOURCE_IMAGE) is None:
        made = invoke("builder", "--arch", "arm64", env=work["env"])
        assert made.code == 0, made.text[-3000:]
    folder = tmp_path_factory.mktemp("rootfs")
    tarball = folder / "hello-rootfs-arm64.tar"
    container = engine.sdk.containers.create(SOURCE_IMAGE, command=["true"])
    try:
        with open(tarball, "wb") as out:
            for chunk in container.export():
                out.write(chunk)
    finally:
        container.remove()
    engine.remove_image(ROOTFS_TAG) if engine.image_id(ROOTFS_TAG) else None
    made = invoke("base", "--rootfs", str(tarball), "--tag", ROOTFS_TAG, "--arch", "arm64", env=work["env"])
    assert made.code == 0, made.text[-3000:]
    tarball.unlink()
    recipe = work["root"] / "rootfs-recipe"
    subprocess.run(["cp", "-r", str(work["recipe"]), str(recipe)], check=True)

    def edit(data):
        base = dict(data["bases"]["debian12"])
        base.pop("debootstrap")
        base.update(builder="mysqlbuild-test/hello-rootfs:{arch}", runtime="mysqlbuild-test/hello-rootfs:{arch}",
                    setup=[f"printf 'optflags: aarch64 {EL8_OPTFLAGS}\\n' > /etc/rpmrc", STRIP_HELPERS])
        data["bases"] = {"rootfs": base}
        data["default_base"] = "rootfs"
    edit_recipe(recipe, edit)
    env = dict(work["env"], MYSQLBUILD_RECIPE=str(recipe), MYSQLBUILD_RPM_DIR=str(work["root"] / "rootfs-rpms"),
               MYSQLBUILD_DIST_DIR=str(work["root"] / "rootfs-dist"), MYSQLBUILD_IMAGE_TAG=IMAGE_TAG)
    plan = invoke("build", "--arch", "arm64", "--dry-run", env=env, timeout=120)
    run = invoke("build", "--arch", "arm64", env=env)
    yield {"plan": plan, "run": run, "env": env, "root": work["root"]}
    for ref in (IMAGE, ROOTFS_TAG):
        engine.remove_image(ref) if engine.image_id(ref) else None


def test_the_base_exists_for_arm64_only(rootfs_build, engine):
    assert engine.image_arch(ROOTFS_TAG) == "arm64"
    assert engine.image_id("mysqlbuild-test/hello-rootfs:amd64") is None


def test_the_plan_names_cross_mode_and_the_toolchain(rootfs_build):
    out = rootfs_build["plan"].out
    assert "plan for hello 1.0 (rootfs, arm64)" in out
    assert "mode cross: aarch64 target on this x86_64 host: clang-16 runs natively in the aarch64 builder" in out
    assert "host toolchain clang-16 (Debian bookworm, x86_64)" in out
    assert "debootstrap" not in out.split("[run ] base")[1].split("[")[0]     # a --rootfs base: nothing to make


def test_it_builds_aarch64_rpms_with_the_gcc_only_flags_dropped(rootfs_build):
    run = rootfs_build["run"]
    assert run.code == 0, run.text[-5000:]
    log = (rootfs_build["root"] / "build" / "hello" / "1.0" / "rootfs-arm64" / "logs" / "rpmbuild.log").read_text()
    for option in ("-specs=/usr/lib/rpm/redhat/redhat-hardened-cc1", "-specs=/usr/lib/rpm/redhat/redhat-annobin-cc1",
                   "-fstack-clash-protection"):
        assert f"mysqlbuild toolchain: dropped from every compile: {option} (" in log, option
    assert "dropped from every compile: -mbranch-protection" not in log
    assert "GCC 12's libgcc has no outline-atomic helpers: compiler-rt's builtins give them" in log
    (rpm,) = sorted((rootfs_build["root"] / "rootfs-rpms" / "aarch64").glob("*.rpm"))
    (info,) = check_rpms([rpm], ARCHS["arm64"], atomics="dispatch")
    assert {name: a.kind for name, a in info.atomics} == {"/usr/bin/hello": "dispatch"}


def test_its_image_runs_on_aarch64(rootfs_build, engine):
    assert rootfs_build["run"].code == 0
    out = engine.sdk.containers.run(IMAGE, ["hello", "--machine"], remove=True)
    assert out.decode().strip() == "aarch64"
    out = engine.sdk.containers.run(IMAGE, ["hello", "--count", "1000"], remove=True)
    assert out.decode().strip() == "1000"


def test_an_emulated_build_of_a_runtime_without_the_helpers_stops_before_compiling(rootfs_build):
    rpm_dir = rootfs_build["root"] / "rootfs-rpms" / "aarch64"
    before = sorted(p.name for p in rpm_dir.glob("*.rpm"))
    run = invoke("rpms", "--arch", "arm64", "--mode", "emulate", env=rootfs_build["env"])
    assert run.code == 1, run.text[-3000:]
    assert "cannot build and run an atomic counter with the recipe's code generation flags: -moutline-atomics" \
        in run.err
    assert "needs GCC 10 or newer, or its libgcc (EL7: devtoolset-10), or set codegen.atomics: llsc" in run.err
    assert "__aarch64_ldadd8_acq_rel" in run.err                    # the linker's own words, from the log tail
    assert "Traceback" not in run.text
    assert sorted(p.name for p in rpm_dir.glob("*.rpm")) == before
