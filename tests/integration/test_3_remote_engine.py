"""--docker-host: the whole build on a second Docker engine, started here on loopback
with its own data folder, bridge and NAT rules (removed afterwards)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from conftest import invoke

pytestmark = [pytest.mark.docker, pytest.mark.slow]
BRIDGE, SUBNET, GATEWAY = "mbtest0", "10.213.7.0/24", "10.213.7.1/24"
AMD_BASE = "mysqlbuild/debian:bookworm-amd64"
NAT = [["-t", "nat", "POSTROUTING", "-s", SUBNET, "!", "-o", BRIDGE, "-j", "MASQUERADE"],
       ["-t", "filter", "FORWARD", "-i", BRIDGE, "-j", "ACCEPT"],
       ["-t", "filter", "FORWARD", "-o", BRIDGE, "-j", "ACCEPT"]]


def _sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=check)


def _iptables(action: str, rule: list[str]) -> None:
    table, chain, rest = rule[1], rule[2], rule[3:]
    _sh("iptables", "-t", table, action, chain, *rest, check=action != "-D")


@pytest.fixture(scope="module")
def second_engine(tmp_path_factory, engine):
    root = tmp_path_factory.mktemp("engine2")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _sh("ip", "link", "add", BRIDGE, "type", "bridge", check=False)
    _sh("ip", "addr", "replace", GATEWAY, "dev", BRIDGE)
    _sh("ip", "link", "set", BRIDGE, "up")
    for rule in NAT:
        _iptables("-I", rule)
    log = open(root / "dockerd.log", "w")
    proc = subprocess.Popen(
        ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
         "--pidfile", str(root / "dockerd.pid"), "-H", f"tcp://127.0.0.1:{port}",
         "-H", f"unix://{root / 'docker.sock'}", "--bridge", BRIDGE, "--iptables=false", "--ip-masq=false",
         "--containerd-namespace", "mysqlbuild-engine2", "--containerd-plugins-namespace", "mysqlbuild-engine2p"],
        stdout=log, stderr=subprocess.STDOUT)
    host = f"tcp://127.0.0.1:{port}"
    from mysqlbuild.engine import Engine

    other = Engine(docker_host=host)
    for _ in range(60):
        try:
            other.sdk
            break
        except Exception:
            time.sleep(1)
    else:
        pytest.fail(f"the second engine did not start: {(root / 'dockerd.log').read_text()[-2000:]}")
    try:
        yield {"host": host, "engine": other, "root": root}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
        for rule in NAT:
            _iptables("-D", rule)
        _sh("ip", "link", "del", BRIDGE, check=False)
        shutil.rmtree(root / "data", ignore_errors=True)


def test_the_whole_build_runs_on_the_other_engine(hello_work, engine, second_engine, tmp_path):
    other = second_engine["engine"]
    # Carry the base over the way an intranet host gets it: save, then load.
    if engine.image_id(AMD_BASE) is None:
        assert invoke("base", "--arch", "amd64", env=hello_work["env"]).code == 0
    other.sdk.images.load(b"".join(engine.save_chunks([AMD_BASE])))
    env = dict(hello_work["env"], MYSQLBUILD_BUILD_DIR=str(tmp_path / "build"),
               MYSQLBUILD_RPM_DIR=str(tmp_path / "rpms"), MYSQLBUILD_DIST_DIR=str(tmp_path / "dist"))
    before = {image.id for image in engine.sdk.images.list()}
    run = invoke("build", "--arch", "amd64", "--docker-host", second_engine["host"], env=env)
    assert run.code == 0, run.text[-5000:]
    assert f"DOCKER_HOST={second_engine['host']}" in (tmp_path / "build" / "hello" / "1.0" / "debian12-amd64"
                                                       / "logs" / "rpms.log").read_text()
    built = other.image_id("mysqlbuild-hello:1.0-amd64")
    assert built and other.image_arch("mysqlbuild-hello:1.0-amd64") == "amd64"
    assert built not in before and built not in {image.id for image in engine.sdk.images.list()}
    assert (tmp_path / "rpms" / "x86_64" / "hello-1.0-1.x86_64.rpm").is_file()
    assert (tmp_path / "dist" / "mysqlbuild-hello-1.0-amd64.tar.gz").is_file()


def test_doctor_checks_the_other_engine(hello_work, second_engine):
    run = invoke("doctor", "--arch", "amd64", "--docker-host", second_engine["host"], env=hello_work["env"])
    assert "[ok  ] Docker engine:" in run.out, run.text
    assert "remote engine: not measured here" in run.out
