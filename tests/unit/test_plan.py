"""The plan and the stage keys: any input changes the key, nothing else does."""
from __future__ import annotations

import io

import pytest

from fixtures import HELLO, copy_recipe, edit_recipe, hello_tarball
from mysqlbuild.engine import ClientInfo, Engine
from mysqlbuild.buildercontext import builder_dockerfile
from mysqlbuild.pipeline import BUILD as STAGES, Pipeline, downstream, stages_for
from mysqlbuild.progress import Reporter
from mysqlbuild.settings import Settings
from mysqlbuild.stages.image import runtime_dockerfile


def pipeline(recipe_dir, tmp_path, **changes) -> Pipeline:
    settings = Settings(recipe=str(recipe_dir), build_dir=str(tmp_path / "build"),
                        cache_dir=str(tmp_path / "cache"), rpm_dir=str(tmp_path / "rpms"),
                        dist_dir=str(tmp_path / "dist")).with_(**changes)
    engine = Engine(_client=ClientInfo("/usr/bin/docker", "20.10.24", buildx=False))
    return Pipeline(settings, Reporter(io.StringIO()), engine=engine)


def keys(p: Pipeline) -> dict[str, dict[str, str]]:
    return {t.arch.docker: {sp.stage: sp.key for sp in stages} for t, stages in p.plan("build")}


@pytest.fixture
def hello(tmp_path):
    return copy_recipe(HELLO, tmp_path / "hello")


def changed(before, after, arch="arm64"):
    """The stages whose keys differ; a stage one of the plans lacks (the toolchain) counts as changed."""
    return {s for s in STAGES if before[arch].get(s) != after[arch].get(s)}


def test_nothing_but_inputs_changes_a_key(hello, tmp_path):
    first = keys(pipeline(hello, tmp_path))
    other = keys(pipeline(hello, tmp_path / "elsewhere", jobs=7, mirror="http://mirror/", progress="plain",
                          retries=9))
    assert first == other
    assert keys(pipeline(hello, tmp_path)) == first  # stable


def test_changing_the_c_source_changes_keys_from_the_rpm_stage_on(hello, tmp_path):
    before = keys(pipeline(hello, tmp_path))
    (hello / "src" / "hello.c").write_text((hello / "src" / "hello.c").read_text() + "/* changed */\n")
    _, sha = hello_tarball(tmp_path / "new", hello / "src")
    edit_recipe(hello, lambda d: d["versions"]["1.0"]["sources"][0].update(sha256=sha))
    after = keys(pipeline(hello, tmp_path))
    assert changed(before, after) == {"fetch", "rpms", "image", "verify", "save"}


@pytest.mark.parametrize("what,edit,expected", [
    ("build requirement", lambda d: d["bases"]["debian12"]["build_requires"].append("ccache"),
     {"builder", "rpms", "image", "verify", "save"}),
    ("base image", lambda d: d["bases"]["debian12"].update(builder="other/debian:{arch}"),
     {"base", "builder", "rpms", "image", "verify", "save"}),
    ("conditional default", lambda d: d["rpm"]["conditionals"].update(fail=True),
     {"rpms", "image", "verify", "save"}),
    ("release", lambda d: d["versions"]["1.0"].update(release="2"), {"rpms", "image", "verify", "save"}),
    ("image command", lambda d: d["image"].update(cmd=["hello", "--machine"]), {"image", "verify", "save"}),
    ("image packages", lambda d: d["image"].update(packages=[]), {"image", "verify", "save"}),
])
def test_each_recipe_input_changes_its_stage_and_those_after(hello, tmp_path, what, edit, expected):
    before = keys(pipeline(hello, tmp_path))
    edit_recipe(hello, edit)
    assert changed(before, keys(pipeline(hello, tmp_path))) == expected


def test_spec_and_tests_are_inputs_too(hello, tmp_path):
    before = keys(pipeline(hello, tmp_path))
    (hello / "hello.spec").write_text((hello / "hello.spec").read_text() + "\n# changed\n")
    mid = keys(pipeline(hello, tmp_path))
    assert changed(before, mid) == {"rpms", "image", "verify", "save"}
    (hello / "tests" / "test_extra.py").write_text("def test_x():\n    pass\n")
    assert changed(mid, keys(pipeline(hello, tmp_path))) == {"verify"}


def test_architectures_have_their_own_keys(hello, tmp_path):
    both = keys(pipeline(hello, tmp_path, arch="amd64,arm64"))
    assert set(both) == {"amd64", "arm64"}
    # Sources are the same for every architecture; everything built differs.  amd64 is native here:
    # it has no toolchain stage.
    assert "toolchain" not in both["amd64"] and "toolchain" in both["arm64"]
    assert {s for s in STAGES if both["amd64"].get(s) == both["arm64"][s]} == {"fetch"}
    assert both["arm64"] == keys(pipeline(hello, tmp_path))["arm64"]


def test_rpm_with_flag_changes_the_rpm_key(hello, tmp_path):
    before = keys(pipeline(hello, tmp_path))
    after = keys(pipeline(hello, tmp_path, rpm_with="fail"))
    assert changed(before, after) == {"rpms", "image", "verify", "save"}


def test_the_plan_shows_every_stage_with_inputs_keys_and_commands(hello, tmp_path):
    p = pipeline(hello, tmp_path, mirror="http://127.0.0.1:9/mirror")
    text = p.format_plan(p.plan("build"))
    for stage in STAGES:
        assert f"] {stage:<9} key " in text
    assert "plan for hello 1.0 (debian12, arm64): rpm arch aarch64, platform linux/arm64" in text
    assert "from http://127.0.0.1:9/mirror/hello-1.0.tar.gz" in text
    assert "debootstrap --variant=minbase --arch=arm64 --include=rpm bookworm" in text
    assert ("$ DOCKER_BUILDKIT=1 /usr/bin/docker build --platform linux/arm64 --progress plain -f "
            f"{tmp_path}/build/hello/1.0/debian12-arm64/builder-context/Dockerfile --target export") in text
    assert f"--output type=local,dest={tmp_path}/rpms/.aarch64.incoming" in text
    assert "-t mysqlbuild-hello:1.0-arm64" in text
    assert f"{tmp_path}/dist/mysqlbuild-hello-1.0-arm64.tar.gz" in text
    assert "(never built)" in text
    assert not (tmp_path / "build").exists(), "planning must not write anything"


def test_task_stage_selection():
    assert stages_for("rpms") == ["base", "fetch", "toolchain", "builder", "rpms"]
    assert stages_for("save") == ["base", "fetch", "toolchain", "builder", "rpms", "image", "save"]
    assert stages_for("fetch") == ["fetch"]
    assert set(downstream("builder")) == {"rpms", "image", "verify", "save", "mtr"}
    assert set(downstream("toolchain")) == {"rpms", "image", "verify", "save", "mtr"}
    assert downstream("verify") == []
    assert stages_for("mtr") == ["base", "fetch", "toolchain", "builder", "rpms", "mtr"]


def test_the_rendered_builder_has_the_recipe_inputs(hello, tmp_path):
    p = pipeline(hello, tmp_path, mode="emulate")
    (t,) = p.targets()
    text = builder_dockerfile(t)
    assert text.startswith("# Generated by mysqlbuild from dockerfiles/builder.Dockerfile.j2")
    assert "FROM mysqlbuild/debian:bookworm-arm64 AS deps" in text
    assert "gcc" in text and "libc6-dev" in text
    assert ("NODEPS=1 SOURCE_DATE_EPOCH=1700000000 MYSQLBUILD_CODEGEN_FLAGS=-moutline-atomics "
            "bash /usr/local/libexec/mysqlbuild-rpms hello.spec") in text
    assert "'mysqlbuild_codegen_flags -moutline-atomics'" in text
    assert "AS toolchain" not in text and "--mount=type=bind,from=toolchain" not in text
    assert "--without fail" in text
    assert "--mount=type=cache,id=mysqlbuild-hello-debian12-arm64-ccache" in text
    assert "# syntax" not in text
    runtime = runtime_dockerfile(t)
    assert "RUN --mount" not in runtime and "<<" not in runtime and "--chmod" not in runtime
    assert 'CMD ["hello"]' in runtime


def test_cross_mode_mounts_the_host_toolchain_into_the_target_builder(hello, tmp_path):
    p = pipeline(hello, tmp_path, mode="cross")
    (t,) = p.targets()
    text = builder_dockerfile(t)
    image, rest = text.split("# -- end of the builder image --")
    assert "FROM mysqlbuild/debian:bookworm-arm64 AS deps" in image and "--platform" not in image
    assert "clang" not in image and "toolchain" not in image
    assert rest.index("FROM --platform=linux/amd64 mysqlbuild/toolchain:clang-16-amd64 AS toolchain") \
        < rest.index("FROM deps AS rpms")
    assert ("--mount=type=bind,from=toolchain,source=/opt/mysqlbuild/toolchain,"
            "target=/opt/mysqlbuild/toolchain") in rest
    assert "MYSQLBUILD_TOOLCHAIN=/opt/mysqlbuild/toolchain MYSQLBUILD_TRIPLE=aarch64-linux-gnu" in rest
    # The builder image is the same in every mode, and there is no base of the host's architecture.
    emulated = builder_dockerfile(pipeline(hello, tmp_path, mode="emulate").targets()[0])
    assert emulated.split("# -- end of the builder image --")[0] == image
    assert t.builder_tag == "mysqlbuild-builder/hello:1.0-debian12-arm64"
    assert [ref for ref, _ in t.local_bases] == ["mysqlbuild/debian:bookworm-arm64"]


def test_the_plan_names_the_toolchain_and_its_version(hello, tmp_path):
    p = pipeline(hello, tmp_path)
    text = p.format_plan(p.plan("build"))
    assert "mode cross: aarch64 target on this x86_64 host: clang-16 runs natively in the aarch64 builder" in text
    assert "host toolchain clang-16 (Debian bookworm, x86_64): clang, lld and llvm binutils: image " \
           "mysqlbuild/toolchain:clang-16-amd64" in text
    assert "compiler: clang-16 from mysqlbuild/toolchain:clang-16-amd64 (mounted)" in text
    assert "aarch64 code generation: atomics dispatch (-moutline-atomics), checked on every ELF file" in text
    assert f"-f {tmp_path}/build/hello/1.0/debian12-arm64/toolchain-context/Dockerfile" in text


def test_the_mode_is_part_of_the_build_keys_but_not_of_the_sources(hello, tmp_path):
    cross = keys(pipeline(hello, tmp_path, mode="cross"))
    emulate = keys(pipeline(hello, tmp_path, mode="emulate"))
    # The builder image is the same in both modes; the toolchain exists only in cross mode.
    assert changed(cross, emulate) == {"toolchain", "rpms", "image", "verify", "save"}
    assert keys(pipeline(hello, tmp_path))["arm64"] == cross["arm64"]      # auto is cross on this host
    amd = keys(pipeline(hello, tmp_path, arch="amd64"))
    assert amd == keys(pipeline(hello, tmp_path, arch="amd64", mode="emulate"))  # same arch: native either way


def test_another_toolchain_changes_the_toolchain_key_and_those_after(hello, tmp_path):
    before = keys(pipeline(hello, tmp_path))
    after = keys(pipeline(hello, tmp_path, toolchain="clang-19"))
    assert changed(before, after) == {"toolchain", "rpms", "image", "verify", "save"}
