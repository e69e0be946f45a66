"""The whole pipeline, end to end, on the hello fixture: real BuildKit, real QEMU, real rpmbuild.

The tests share one work folder. In file order the first builds arm64 from
nothing (base by debootstrap included) and the next ones build on it; each
test also asks, through a fixture, for what it needs (a build, or for the
first nothing at all), which is made only when it is missing: so any test
runs alone or in another order, and in file order no fixture builds anything.
Sources come from a real HTTP server on loopback acting as the mirror.
"""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import warnings

import pytest

from conftest import ARM_BASE, NATIVE_STAGES, STAGES, invoke
from fixtures import edit_recipe, hello_tarball
from httpfiles import Route
from mysqlbuild.sources import sha256_file
from mysqlbuild.state import State

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def skipped(run, arch) -> set[str]:
    section = run.err.split(f"(debian12, {arch})", 1)[1].split("hello 1.0 (debian12,", 1)[0]
    return {s for s in STAGES if f"{s}: up to date, skipped" in section}


def rpm_arch(path) -> str:
    return subprocess.run(["rpm", "-qp", "--qf", "%{ARCH}", str(path)], capture_output=True, text=True).stdout


@pytest.fixture
def work(hello_work):
    return hello_work


def image_of(arch) -> str:
    return f"mysqlbuild-hello:1.0-{arch}"


def target_dir(work, arch):
    return work["root"] / "build" / "hello" / "1.0" / f"debian12-{arch}"


def archive_of(work, arch):
    return work["root"] / "dist" / f"mysqlbuild-hello-1.0-{arch}.tar.gz"


def unbuilt(work, engine, *archs) -> list[str]:
    """Those of `archs` of which `invoke build` would run some stage, as the pipeline's own plan says."""
    from mysqlbuild.pipeline import Pipeline
    from mysqlbuild.progress import Reporter
    from mysqlbuild.settings import resolve

    pipeline = Pipeline(resolve({}, work["env"], {"arch": ",".join(archs)}), Reporter(io.StringIO()), engine=engine)
    return [t.arch.docker for t, stages in pipeline.plan("build") if not all(sp.current for sp in stages)]


def build_unless_built(work, engine, *archs) -> None:
    """Build those of `archs` that are not built and current (none, when the tests run in file order)."""
    missing = unbuilt(work, engine, *archs)
    if missing:
        # Shown in pytest's summary: in file order it never happens, so seen there it costs CI time.
        warnings.warn(f"built {','.join(missing)} first: this test ran alone or out of file order")
        run = invoke("build", "--arch", ",".join(missing), env=work["env"])
        assert run.code == 0, f"building what this test needs failed: {run.text[-5000:]}"


@pytest.fixture
def nothing_built(work, engine):
    """arm64 as the session starts: no base image and no image of the fixture (hello_work removes them), no
    build folder, RPMs or archive.  Whatever a test run before left of them goes."""
    archive = archive_of(work, "arm64")
    images = [ref for ref in (ARM_BASE, image_of("arm64")) if engine.image_id(ref)]
    paths = [path for path in (target_dir(work, "arm64"), work["root"] / "rpmbuild" / "RPMS" / "aarch64", archive,
                               archive.with_name(archive.name + ".sha256")) if path.exists()]
    if images or paths:
        warnings.warn("removed the arm64 build an earlier test made: this test ran out of file order")
    for ref in images:
        engine.remove_image(ref)
    for path in paths:
        shutil.rmtree(path) if path.is_dir() else path.unlink()


@pytest.fixture
def arm64_base(work, engine):
    if engine.image_id(ARM_BASE) is None:
        warnings.warn("made the arm64 base first: this test ran alone or out of file order")
        run = invoke("base", "--arch", "arm64", env=work["env"])
        assert run.code == 0, f"making the arm64 base failed: {run.text[-5000:]}"


@pytest.fixture
def arm64_built(work, engine):
    build_unless_built(work, engine, "arm64")


@pytest.fixture
def both_built(work, engine):
    build_unless_built(work, engine, "amd64", "arm64")


@pytest.fixture
def arm64_built_amd64_rpms_not(work, engine):
    """arm64 built, and amd64's RPMs not (yet) recorded: the amd64 half of a two-architecture run compiles."""
    build_unless_built(work, engine, "arm64")
    state = State(target_dir(work, "amd64") / "state.json")
    if state.get("rpms"):
        state.data.pop("rpms")
        state.save()


@pytest.fixture
def arm64_rpms_recorded(work, engine):
    """arm64's image and its rpms stage record (what verify checks the image against)."""
    if engine.image_id(image_of("arm64")) is None or not State(target_dir(work, "arm64") / "state.json").get("rpms"):
        build_unless_built(work, engine, "arm64")


@pytest.fixture
def amd64_image(work, engine):
    if engine.image_id(image_of("amd64")) is None:
        build_unless_built(work, engine, "amd64")


def test_arm64_from_nothing(work, engine, nothing_built):
    assert engine.image_id(ARM_BASE) is None
    run = invoke("build", "--arch", "arm64", env=work["env"])
    assert run.code == 0, run.text[-5000:]
    assert "debootstrap bookworm for arm64" in run.err
    rpms = sorted((work["root"] / "rpmbuild" / "RPMS" / "aarch64").glob("*.rpm"))
    assert [p.name for p in rpms] == ["hello-1.0-1.aarch64.rpm"]
    assert rpm_arch(rpms[0]) == "aarch64"
    assert engine.image_arch(ARM_BASE) == "arm64"
    assert engine.image_arch("mysqlbuild-hello:1.0-arm64") == "arm64"
    assert "5 passed" in run.err  # the recipe's testinfra tests, inside verify
    archive = work["root"] / "dist" / "mysqlbuild-hello-1.0-arm64.tar.gz"
    assert archive.is_file()
    assert (archive.parent / (archive.name + ".sha256")).read_text().split()[0] == sha256_file(archive)
    assert (work["root"] / "build" / "hello" / "1.0" / "debian12-arm64" / "logs" / "rpmbuild.log").is_file()


def test_an_arm64_container_reports_aarch64(work, engine, arm64_base):
    out = engine.sdk.containers.run(ARM_BASE, ["uname", "-m"], remove=True)
    assert out.decode().strip() == "aarch64"


def test_the_archive_loads_back_the_same_image(work, engine, arm64_built):
    image_id = engine.image_id("mysqlbuild-hello:1.0-arm64")
    archive = work["root"] / "dist" / "mysqlbuild-hello-1.0-arm64.tar.gz"
    names = {entry for item in _manifest(archive) for entry in item["RepoTags"]}
    assert names == {"mysqlbuild-hello:1.0-arm64"}  # the classic layout Docker 18.09 reads
    engine.remove_image("mysqlbuild-hello:1.0-arm64")
    run = invoke("load", "--archive", str(archive), env=work["env"])
    assert run.code == 0, run.text
    assert "mysqlbuild-hello:1.0-arm64" in run.out
    assert engine.image_id("mysqlbuild-hello:1.0-arm64") == image_id


def test_a_damaged_archive_is_refused_before_loading(work, engine, tmp_path, arm64_built):
    original = work["root"] / "dist" / "mysqlbuild-hello-1.0-arm64.tar.gz"
    damaged = tmp_path / original.name
    shutil.copy(original, damaged)
    shutil.copy(original.with_name(original.name + ".sha256"), tmp_path)
    with open(damaged, "r+b") as handle:
        handle.seek(damaged.stat().st_size // 2)
        handle.write(b"\0" * 64)
    engine.remove_image("mysqlbuild-hello:1.0-arm64")
    run = invoke("load", "--archive", str(damaged), env=work["env"])
    assert run.code == 1
    assert "is damaged" in run.err and "nothing was loaded" in run.err and "Traceback" not in run.text
    assert engine.image_id("mysqlbuild-hello:1.0-arm64") is None
    assert invoke("load", "--archive", str(original), env=work["env"]).code == 0


def test_both_architectures_in_one_command(work, engine, arm64_built_amd64_rpms_not):
    run = invoke("build", "--arch", "amd64,arm64", env=work["env"])
    assert run.code == 0, run.text[-5000:]
    # arm64 was built before amd64 existed: its verify runs again, now with amd64's image for the
    # recipe's migration tests; every other arm64 stage is up to date.
    assert skipped(run, "arm64") == set(STAGES) - {"verify"}
    arm64_section = run.err.split("(debian12, arm64)", 1)[1]
    assert "mysqlbuild-hello:1.0-amd64 appeared or changed" in arm64_section, arm64_section[-3000:]
    assert "rpms: up to date" not in run.err.split("(debian12, amd64)", 1)[1].split("(debian12, arm64)")[0]
    rpms = sorted((work["root"] / "rpmbuild" / "RPMS" / "x86_64").glob("*.rpm"))
    assert [p.name for p in rpms] == ["hello-1.0-1.x86_64.rpm"] and rpm_arch(rpms[0]) == "x86_64"
    assert engine.image_arch("mysqlbuild-hello:1.0-amd64") == "amd64"
    assert (work["root"] / "dist" / "mysqlbuild-hello-1.0-amd64.tar.gz").is_file()
    out = engine.sdk.containers.run("mysqlbuild-hello:1.0-amd64", remove=True).decode()
    assert out.strip().endswith("on x86_64")


def test_a_second_run_with_nothing_changed_skips_every_stage(work, both_built):
    run = invoke("build", "--arch", "amd64,arm64", env=work["env"])
    assert run.code == 0, run.text[-3000:]
    assert skipped(run, "amd64") == set(NATIVE_STAGES)
    assert skipped(run, "arm64") == set(STAGES)


def test_a_change_to_the_c_source_rebuilds_from_the_rpm_stage_on(work, engine, arm64_built):
    recipe = work["recipe"]
    source = recipe / "src" / "hello.c"
    source.write_text(source.read_text().replace("hello from mysqlbuild fixture", "hello again from mysqlbuild fixture"))
    tarball, sha = hello_tarball(work["root"] / "src-changed", recipe / "src")
    work["server"].routes["/mirror/hello-1.0.tar.gz"] = Route(tarball.read_bytes())
    edit_recipe(recipe, lambda d: d["versions"]["1.0"]["sources"][0].update(sha256=sha))
    # The recipe's own test expects the old greeting: adjust it like a developer would.
    test = recipe / "tests" / "test_hello.py"
    test.write_text(test.read_text().replace('startswith("hello from', 'startswith("hello again from'))
    before = engine.image_id("mysqlbuild-hello:1.0-arm64")
    run = invoke("build", "--arch", "arm64", env=work["env"])
    assert run.code == 0, run.text[-5000:]
    assert skipped(run, "arm64") == {"base", "toolchain", "builder"}
    assert engine.image_id("mysqlbuild-hello:1.0-arm64") != before
    out = engine.sdk.containers.run("mysqlbuild-hello:1.0-arm64", remove=True).decode()
    assert out.startswith("hello again from mysqlbuild fixture 1.0 on aarch64")


def test_a_failing_build_shows_the_log_tail_and_keeps_the_last_good_rpms(work, arm64_built):
    rpm_dir = work["root"] / "rpmbuild" / "RPMS" / "aarch64"
    good = {p.name: sha256_file(p) for p in rpm_dir.glob("*.rpm")}
    run = invoke("rpms", "--arch", "arm64", "--rpm-with", "fail", env=work["env"])
    assert run.code == 1
    assert "error: rpmbuild of hello 1.0 (debian12, arm64) failed" in run.err
    assert "exit code: 1" in run.err
    assert "failing on purpose (--with fail)" in run.err  # from the log tail
    assert "full log:" in run.err and "rpmbuild.log" in run.err
    assert "the RPMs of the last good build are still in" in run.err
    assert "Traceback" not in run.text
    assert {p.name: sha256_file(p) for p in rpm_dir.glob("*.rpm")} == good
    assert not list(rpm_dir.parent.glob(".aarch64*")), "no half-made RPM folder is left behind"
    log = work["root"] / "build" / "hello" / "1.0" / "debian12-arm64" / "logs" / "rpmbuild.log"
    assert "failing on purpose" in log.read_text()


def test_verify_fails_when_the_image_does_not_hold_the_built_packages(work, engine, arm64_rpms_recorded):
    """A stale image (packages of another build) is caught by verify."""
    env = work["env"]
    state_path = work["root"] / "build" / "hello" / "1.0" / "debian12-arm64" / "state.json"
    original = state_path.read_text()
    state = json.loads(original)
    state["rpms"]["output"]["packages"]["hello"]["evr"] = "9.9-9"
    state_path.write_text(json.dumps(state))
    try:
        run = invoke("verify", "--arch", "arm64", "--force", env=env)
        assert run.code == 1
        assert "package hello is 1.0-1, expected 9.9-9" in run.err
    finally:
        state_path.write_text(original)
    assert invoke("verify", "--arch", "arm64", env=env).code == 0


def _manifest(path):
    from mysqlbuild.archive import manifest

    return manifest(path)


def test_verify_fails_when_the_image_is_of_another_architecture(work, engine, amd64_image):
    """An amd64 image under the arm64 target's name is refused by verify's own check."""
    import io

    from mysqlbuild.errors import CheckError
    from mysqlbuild.pipeline import Pipeline
    from mysqlbuild.progress import Reporter
    from mysqlbuild.settings import resolve
    from mysqlbuild.stages.verify import verify_image

    settings = resolve({}, dict(work["env"], MYSQLBUILD_IMAGE_TAG="mysqlbuild-hello:1.0-amd64"),
                       {"arch": "arm64"})
    (target,) = Pipeline(settings, Reporter(io.StringIO()), engine=engine).targets()
    with pytest.raises(CheckError) as info:
        verify_image(engine, Reporter(io.StringIO()), target, {"hello": "1.0-1"})
    assert "has architecture amd64, expected arm64" in info.value.message
