"""Docker command lines for the buildx and the built-in BuildKit paths, and client choice."""
from __future__ import annotations

from pathlib import Path

from mysqlbuild.engine import BuildRequest, ClientInfo, build_command

REQ = BuildRequest(dockerfile=Path("/ctx/Dockerfile"), context=Path("/ctx"), platform="linux/arm64",
                   target="export", output_dir=Path("/out"), build_args=(("JOBS", "4"),))


def test_builtin_buildkit_uses_docker_build_with_the_environment_switch():
    cmd = build_command("/usr/bin/docker", REQ, buildx=False)
    assert cmd.env == (("DOCKER_BUILDKIT", "1"),)
    assert list(cmd.argv) == ["/usr/bin/docker", "build", "--platform", "linux/arm64", "--progress", "plain",
                              "-f", "/ctx/Dockerfile", "--target", "export", "--build-arg", "JOBS=4",
                              "--output", "type=local,dest=/out", "/ctx"]
    assert cmd.display().startswith("DOCKER_BUILDKIT=1 /usr/bin/docker build ")


def test_buildx_uses_the_plugin_and_a_named_builder():
    cmd = build_command("docker", REQ, buildx=True, builder="arm-nodes")
    assert cmd.env == ()
    assert list(cmd.argv[:5]) == ["docker", "buildx", "build", "--builder", "arm-nodes"]
    assert "--load" not in cmd.argv  # a local output, not an image


def test_buildx_loads_tagged_images_into_the_engine():
    req = BuildRequest(dockerfile=Path("D"), context=Path("."), platform="linux/amd64", tags=("x:1",))
    assert build_command("docker", req, buildx=True).argv[-2:] == ("--load", ".")
    assert "--load" not in build_command("docker", req, buildx=False).argv


def test_docker_host_goes_into_the_environment():
    cmd = build_command("docker", REQ, buildx=False, docker_host="tcp://10.0.0.5:2375")
    assert cmd.env[0] == ("DOCKER_HOST", "tcp://10.0.0.5:2375")


def test_client_versions_decide_the_builtin_path():
    assert ClientInfo("/usr/bin/docker", "20.10.24+dfsg1", False).builtin_buildkit
    assert ClientInfo("/usr/bin/docker", "18.09.0", False).builtin_buildkit
    assert not ClientInfo("/usr/local/bin/docker", "28.2.2", False).builtin_buildkit


def test_image_references_split_into_repository_and_tag():
    from mysqlbuild.engine import split_ref

    assert split_ref("mysql:5.7.44-arm64") == ("mysql", "5.7.44-arm64")
    assert split_ref("127.0.0.1:5000/dba/mysql:5.7.44") == ("127.0.0.1:5000/dba/mysql", "5.7.44")
    assert split_ref("harbor.intranet:8443/dba/mysql") == ("harbor.intranet:8443/dba/mysql", "latest")


FAKE_BUILDX_CLIENT = """#!/bin/sh
# Stands in for a docker client with the buildx plugin: buildx cannot be installed on the CI
# machines (no Debian 12 package, no download), so its answers are the ones buildx v0.10 gives.
case "$*" in
  "version --format {{.Client.Version}}") echo 24.0.7 ;;
  "buildx version") echo "github.com/docker/buildx v0.10.5" ;;
  "buildx inspect arm-nodes") echo "Name: arm-nodes"; echo "Driver: remote" ;;
  "buildx inspect "*) echo "ERROR: no builder \\"${3}\\" found" >&2; exit 1 ;;
  *) exit 2 ;;
esac
"""


def test_an_unknown_builder_is_refused_before_any_stage_runs(tmp_path):
    import pytest

    from mysqlbuild.engine import Engine
    from mysqlbuild.errors import EngineError

    client = tmp_path / "docker"
    client.write_text(FAKE_BUILDX_CLIENT)
    client.chmod(0o755)
    assert Engine(docker=str(client), builder="arm-nodes").client.buildx
    engine = Engine(docker=str(client), builder="arm-node")
    for _ in range(2):      # a caller that catches the first error must not get the client the second time
        with pytest.raises(EngineError) as info:
            engine.client
    assert 'buildx cannot use it (ERROR: no builder "arm-node" found)' in info.value.message
    assert "docker buildx ls" in info.value.hint and "docker buildx create --name arm-node" in info.value.hint


def test_doctor_reports_the_named_builder(tmp_path):
    from mysqlbuild.doctor import run_checks
    from mysqlbuild.engine import Engine

    client = tmp_path / "docker"
    client.write_text(FAKE_BUILDX_CLIENT)
    client.chmod(0o755)
    # No engine answers at this DOCKER_HOST: the other checks fail, the builder check still runs.
    good = run_checks(Engine(docker=str(client), builder="arm-nodes", docker_host="tcp://127.0.0.1:9"), tmp_path)
    assert [(c.ok, c.detail) for c in good if c.name == "buildx builder"] == [(True, "arm-nodes")]
    bad = run_checks(Engine(docker=str(client), builder="arm-node", docker_host="tcp://127.0.0.1:9"), tmp_path)
    [check] = [c for c in bad if c.name == "buildx builder"]
    assert not check.ok and "no builder" in check.detail and "docker buildx ls" in check.fix


def test_a_containers_log_comes_in_whole_lines_however_its_chunks_cut_them():
    from mysqlbuild.engine import log_lines

    text = "première ligne\r\nsecond [ 50%]\nlast, no newline".encode()
    chunks = [text[i:i + 3] for i in range(0, len(text), 3)]     # cuts lines and the two-byte è
    assert list(log_lines(iter(chunks))) == ["première ligne", "second [ 50%]", "last, no newline"]
    assert list(log_lines(iter([b"a\n", b"", b"b\n"]))) == ["a", "b"]
