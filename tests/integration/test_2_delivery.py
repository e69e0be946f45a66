"""Delivery of the hello fixture built by test_1: offline bundle, private registry, reproducible RPMs."""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tarfile
import time

import pytest
import yaml

from conftest import invoke
from mysqlbuild.sources import sha256_file

pytestmark = [pytest.mark.docker, pytest.mark.slow]
AMD_TAG = "mysqlbuild-hello:1.0-amd64"


@pytest.fixture
def work(hello_work):
    return hello_work


def _bundle(work, arch: str, dest):
    run = invoke("bundle", "--arch", arch, env=work["env"])
    assert run.code == 0, run.text[-4000:]
    archive = work["root"] / "dist" / f"mysqlbuild-hello-1.0-{arch}-bundle.tar.gz"
    assert archive.with_name(archive.name + ".sha256").read_text().split()[0] == sha256_file(archive)
    with tarfile.open(archive) as tar:
        tar.extractall(dest)
    return dest / f"mysqlbuild-hello-1.0-{arch}-bundle"


def _install(folder, *args):
    return subprocess.run(["sh", str(folder / "install.sh"), *args], capture_output=True, text=True, cwd="/")


def test_the_bundle_holds_everything_with_checksums_and_a_manifest(work, engine, tmp_path):
    folder = _bundle(work, "amd64", tmp_path)
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert names == ["SHA256SUMS", "bundle.env", "image/mysqlbuild-hello-1.0-amd64.tar.gz", "install.sh",
                     "manifest.json", "repo/mysqlbuild-hello.repo", "repo/mysqlbuild-repo.json",
                     "repo/x86_64/Packages/hello-1.0-1.x86_64.rpm",
                     *sorted(f"repo/x86_64/repodata/{p.name}" for p in (folder / "repo/x86_64/repodata").iterdir())]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["recipe"], manifest["version"], manifest["arch"]) == ("hello", "1.0", "amd64")
    recipe = yaml.safe_load((work["recipe"] / "recipe.yaml").read_text())
    assert manifest["sources"] == {"hello-1.0.tar.gz": recipe["versions"]["1.0"]["sources"][0]["sha256"]}
    rpm = manifest["rpms"]["hello-1.0-1.x86_64.rpm"]
    built = work["root"] / "rpmbuild" / "RPMS" / "x86_64" / "hello-1.0-1.x86_64.rpm"
    carried = folder / "repo" / "x86_64" / "Packages" / "hello-1.0-1.x86_64.rpm"
    assert rpm["sha256"] == sha256_file(built) == sha256_file(carried) and rpm["evr"] == "1.0-1"
    assert manifest["signed_by"] is None and "gpgcheck=0" in (folder / "repo" / "mysqlbuild-hello.repo").read_text()
    assert manifest["image"]["id"] == engine.image_id(AMD_TAG)
    assert manifest["image"]["architecture"] == "amd64"
    assert manifest["builder"]["docker_engine"] and manifest["built"]
    listed = {line.split()[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    assert listed == set(names) - {"SHA256SUMS"}


def test_install_sh_refuses_a_damaged_bundle_before_touching_anything(work, engine, tmp_path):
    folder = _bundle(work, "amd64", tmp_path)
    engine.remove_image(AMD_TAG)
    rpm = folder / "repo" / "x86_64" / "Packages" / "hello-1.0-1.x86_64.rpm"
    rpm.write_bytes(rpm.read_bytes()[:-10] + b"0123456789")
    proc = _install(folder)
    assert proc.returncode == 1
    assert "checksum check failed, nothing was installed" in proc.stderr
    assert "repo/x86_64/Packages/hello-1.0-1.x86_64.rpm: FAILED" in proc.stderr
    assert engine.image_id(AMD_TAG) is None, "nothing may be loaded from a damaged bundle"


def test_install_sh_loads_the_image_and_a_second_run_changes_nothing(work, engine, tmp_path):
    folder = _bundle(work, "amd64", tmp_path)
    expected = json.loads((folder / "manifest.json").read_text())["image"]["id"]
    engine.remove_image(AMD_TAG)
    first = _install(folder)
    assert first.returncode == 0, first.stderr
    assert engine.image_id(AMD_TAG) == expected
    assert "docker run --rm mysqlbuild-hello:1.0-amd64" in first.stdout
    second = _install(folder)
    assert second.returncode == 0 and "already loaded" in second.stdout
    assert engine.image_id(AMD_TAG) == expected


def test_install_sh_refuses_rpms_of_another_architecture(work, tmp_path):
    folder = _bundle(work, "arm64", tmp_path)
    proc = _install(folder, "--rpms")
    assert proc.returncode == 1
    assert "these RPMs are for aarch64 and this host is x86_64; nothing was installed" in proc.stderr


def test_install_sh_passes_shellcheck(project_root):
    proc = subprocess.run(["shellcheck", str(project_root / "delivery" / "install.sh")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REGISTRY_START_SECONDS = 30


@pytest.fixture
def registry(tmp_path):
    """A Docker registry (Debian's docker-registry) on a free loopback port; the test starts once it answers."""
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'data'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    log = tmp_path / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + REGISTRY_START_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                state = (f"it exited with code {proc.returncode}" if proc.poll() is not None
                         else f"it did not answer on 127.0.0.1:{port} within {REGISTRY_START_SECONDS} s")
                pytest.fail(f"the test registry (docker-registry serve) never came up: {state}; its log:\n"
                            + (log.read_text(errors="replace")[-3000:] or "(empty)"), pytrace=False)
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait()


def test_push_sends_each_arch_and_a_manifest_list_to_a_real_registry(work, engine, registry):
    run = invoke("push", "--registry", f"{registry}/dba", "--insecure", env=work["env"])
    assert run.code == 0, run.text[-4000:]
    listed = f"{registry}/dba/mysqlbuild-hello:1.0"
    for ref in (f"{listed}-amd64", f"{listed}-arm64", listed):
        assert f"pushed: {ref}" in run.out
    from mysqlbuild.delivery import manifest_platforms

    assert sorted(manifest_platforms(engine, listed, insecure=True)) == ["amd64", "arm64"]
    for ref in (f"{listed}-amd64", f"{listed}-arm64", listed):
        engine.remove_image(ref)
    pulled = engine.sdk.images.pull(f"{registry}/dba/mysqlbuild-hello", tag="1.0", platform="linux/arm64")
    assert pulled.attrs["Architecture"] == "arm64"
    engine.remove_image(listed)


def test_push_to_a_registry_that_does_not_answer_is_one_clear_error(work, engine):
    registry = f"127.0.0.1:{_free_port()}/dba"
    run = invoke("push", "--registry", registry, "--insecure", "--arch", "amd64", env=work["env"])
    assert run.code == 1
    assert engine.image_id(f"{registry}/mysqlbuild-hello:1.0-amd64") is None, "no stray tag is left"
    assert "docker push" in run.err and "failed" in run.err and "hint:" in run.err
    assert "Traceback" not in run.text


def test_push_to_a_malformed_registry_path_is_one_clear_error(work):
    """The engine refuses the tag itself (upper case); that must read as an error, not a traceback."""
    run = invoke("push", "--registry", "Harbor.Intranet/DBA", "--arch", "amd64", env=work["env"])
    assert run.code == 1
    assert "repository name must be lowercase" in run.err and "hint: a registry path is lowercase" in run.err
    assert "Traceback" not in run.text


def _payload_digest(path) -> str:
    return subprocess.run(["rpm", "-qp", "--qf", "%{PAYLOADDIGEST}", str(path)], capture_output=True,
                          text=True, check=True).stdout


def test_two_builds_from_the_same_inputs_give_identical_payloads(work):
    rpm = work["root"] / "rpmbuild" / "RPMS" / "x86_64" / "hello-1.0-1.x86_64.rpm"
    before_payload, before_file = _payload_digest(rpm), sha256_file(rpm)
    saved = work["root"] / "before.rpm"
    shutil.copy(rpm, saved)
    run = invoke("rpms", "--arch", "amd64", "--force", env=work["env"])
    assert run.code == 0, run.text[-4000:]
    assert "rpmbuild finished" in (work["root"] / "build" / "hello" / "1.0" / "debian12-amd64" / "logs"
                                   / "rpms.log").read_text(), "the forced build must really run rpmbuild"
    assert _payload_digest(rpm) == before_payload
    assert sha256_file(rpm) == before_file, "with SOURCE_DATE_EPOCH the whole RPM is identical"
