"""An intranet host without Docker gets Docker and the image from one bundle, and gives them back.

The bundle is made the way users make it, `invoke bundle --with-docker`, from the hello fixture
that test_1 built (amd64, so everything runs natively here).

Docker's static tarball cannot be downloaded here.  So this module PACKS ITS OWN tarball of the
same layout (docker/dockerd, docker, containerd, containerd-shim-runc-v2, ctr, runc, docker-init,
docker-proxy) from the Docker binaries installed on this machine (Debian's docker.io, containerd,
runc and tini), and PINS THAT TARBALL, with its real sha256, in a test pin file given to the
task through MYSQLBUILD_DOCKER_STATIC_FILE.  The bundles here carry Debian's Docker 20.10, not
Docker's 28.0.4 release that delivery/docker-static.yaml pins.

The hosts are containers of a local image: the Debian base that the hello build made, plus
systemd (to boot one host with it) and libdevmapper (Debian's dockerd links it; Docker's static
dockerd needs no library).  This machine's runtime cannot start --privileged containers (it lacks
CAP_SYS_RESOURCE), so the hosts get every other capability and no seccomp or AppArmor confinement:
enough for dockerd, and for systemd as PID 1.  Docker's data root is a tmpfs in each host (overlay2
cannot stack on the container's own overlay filesystem; a tmpfs is also quick to write and to
throw away), and the hosts have no iptables: the bundle's daemon.json therefore says
"storage-driver": "overlay2" and "iptables": false, made from the task's own options.

"As it was" is a listing of the host's filesystem (type, mode, owner, link target, and the CRC
checksum and size of every file, by cksum: it sees any change, and is five times quicker than
sha256 over the host's 330 MB; the tests take thirteen of them) taken before install.sh runs and
after it (or its uninstall) ran.  Left out of it:
/proc, /sys, /dev, /run and /tmp (volatile: tmpfs or kernel views on a real host), the bundle's
mount, Docker's data root (install.sh --uninstall leaves it on purpose: it holds the images,
containers and volumes; the tests check it is still there), systemd's journal (written all the
time), and /etc/group- and /etc/gshadow-, the backup copies that groupadd and groupdel themselves
keep of the previous /etc/group and /etc/gshadow.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import invoke
from dockertarball import debian_binaries, pack, pin_file
from fixtures import ROOT
from mysqlbuild.sources import sha256_file

pytestmark = [pytest.mark.docker, pytest.mark.slow]
AMD_BASE = "mysqlbuild/debian:bookworm-amd64"
HOST_IMAGE = "mysqlbuild-test/offline-host:bookworm-amd64"
TAG = "mysqlbuild-hello:1.0-amd64"
DOCKER_VERSION = "20.10.24-debian"
TARBALL = f"docker-{DOCKER_VERSION}.tgz"
BINARIES = ["containerd", "containerd-shim-runc-v2", "ctr", "docker", "docker-init", "docker-proxy", "dockerd",
            "runc"]
DAEMON_OPTIONS = ["--docker-storage-driver", "overlay2", "--docker-daemon-extra", '{"iptables": false}',
                  "--docker-log-max-size", "20m"]
DAEMON_JSON = {"data-root": "/var/lib/docker", "storage-driver": "overlay2", "log-driver": "json-file",
               "log-opts": {"max-size": "20m", "max-file": "3"}, "iptables": False}
VOLATILE = ("/proc", "/sys", "/dev", "/run", "/tmp", "/bundle", "/damaged", "/var/lib/docker", "/var/log/journal")
SHADOW_BACKUPS = ("/etc/group-", "/etc/gshadow-")
SNAPSHOT = ("find / -xdev \\( " + " -o ".join(f"-path {p}" for p in VOLATILE) + " \\) -prune -o "
            "-printf '%y %m %U:%G %p %l\\n'; "
            "find / -xdev \\( " + " -o ".join(f"-path {p}" for p in VOLATILE) + " \\) -prune -o "
            "-type f -print0 | xargs -0 cksum")
HOST_DOCKERFILE = """\
FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      systemd systemd-sysv libdevmapper1.02.1 >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
"""


# --- the bundle -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def static_tarball(tmp_path_factory):
    """A tarball of Docker's static layout made from this machine's Debian binaries, and its pin file."""
    folder = tmp_path_factory.mktemp("docker-static")
    path = folder / TARBALL
    sha = pack(path, debian_binaries())
    pins = pin_file(folder / "docker-static-test.yaml", DOCKER_VERSION, "x86_64", TARBALL, sha,
                    ["http://127.0.0.1:9/not-downloadable-here.tgz"])
    return {"path": path, "sha256": sha, "pins": pins}


@pytest.fixture(scope="module")
def bundle_env(hello_work, static_tarball):
    return dict(hello_work["env"], MYSQLBUILD_DOCKER_STATIC_FILE=str(static_tarball["pins"]))


@pytest.fixture(scope="module")
def bundle(hello_work, bundle_env, static_tarball, tmp_path_factory):
    """The amd64 bundle with Docker, unpacked somewhere else."""
    run = invoke("bundle", "--arch", "amd64", "--docker-tarball", str(static_tarball["path"]), *DAEMON_OPTIONS,
                 env=bundle_env)
    assert run.code == 0, run.text[-5000:]
    archive = hello_work["root"] / "dist" / "mysqlbuild-hello-1.0-amd64-bundle.tar.gz"
    dest = tmp_path_factory.mktemp("carried")
    with tarfile.open(archive) as tar:
        tar.extractall(dest)
    return {"folder": dest / "mysqlbuild-hello-1.0-amd64-bundle", "archive": archive, "output": run.text}


@pytest.fixture(scope="module")
def host_image(engine, bundle, tmp_path_factory):
    context = tmp_path_factory.mktemp("host-image")
    (context / "Dockerfile").write_text(HOST_DOCKERFILE.format(base=AMD_BASE))
    assert engine.image_id(AMD_BASE), "the hello build makes the Debian base"
    engine.sdk.images.build(path=str(context), tag=HOST_IMAGE, rm=True)
    return HOST_IMAGE


class Host:
    """A container standing in for an intranet host, with the bundle mounted at /bundle."""

    def __init__(self, engine, image: str, bundle: Path, systemd: bool, mounts: dict | None = None):
        volumes = {str(bundle): {"bind": "/bundle", "mode": "ro"}, **(mounts or {})}
        tmpfs = {"/var/lib/docker": ""}
        options = dict(cap_add=["ALL"], cap_drop=["SYS_RESOURCE"], volumes=volumes,
                       security_opt=["seccomp=unconfined", "apparmor=unconfined"],
                       name=f"mysqlbuild-offline-host-{uuid.uuid4().hex[:8]}", detach=True)
        if systemd:
            self.container = engine.sdk.containers.run(
                image, ["/sbin/init"], cgroupns="private", tmpfs={**tmpfs, "/run": "", "/run/lock": ""},
                environment={"container": "docker"}, **options)
            for _ in range(60):
                state = self.sh("systemctl is-system-running").out.strip()
                if state in ("running", "degraded"):
                    break
                time.sleep(0.5)
            else:
                pytest.fail(f"systemd did not come up in the host container: {state}")
        else:
            self.container = engine.sdk.containers.run(image, ["sleep", "infinity"], init=True, tmpfs=tmpfs,
                                                       **options)

    def sh(self, command: str):
        code, (out, err) = self.container.exec_run(["sh", "-c", command], demux=True)
        return Result(code, (out or b"").decode(), (err or b"").decode())

    def install(self, *args: str, script: str = "/bundle/install.sh"):
        return self.sh(" ".join(["sh", script, *args]))

    def snapshot(self) -> set[str]:
        result = self.sh(SNAPSHOT)
        assert result.code == 0, result.err
        return {line for line in result.out.splitlines() if not line.endswith(SHADOW_BACKUPS)}

    def remove(self) -> None:
        self.container.remove(force=True)


class Result:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


def _docker_answers(host: Host) -> str:
    return host.sh("/usr/local/bin/docker version --format '{{.Server.Version}}' 2>/dev/null").out.strip()


def _expected_image_id(bundle) -> str:
    return json.loads((bundle["folder"] / "manifest.json").read_text())["image"]["id"]


def _loaded_image_id(host: Host) -> str:
    return host.sh(f"/usr/local/bin/docker image inspect --format '{{{{.Id}}}}' {TAG}").out.strip()


# --- the bundle and the task ----------------------------------------------------------------------

def test_the_bundle_carries_the_pinned_docker_our_units_and_a_daemon_json(bundle, static_tarball):
    folder = bundle["folder"]
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert [n for n in names if not n.startswith("repo/")] == [
        "SHA256SUMS", "bundle.env", "docker/daemon.json", f"docker/{TARBALL}", "docker/docker.service",
        "docker/docker.socket", "image/mysqlbuild-hello-1.0-amd64.tar.gz", "install.sh", "manifest.json"]
    assert "repo/x86_64/Packages/hello-1.0-1.x86_64.rpm" in names
    assert sha256_file(folder / "docker" / TARBALL) == static_tarball["sha256"]
    listed = {line.split()[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}
    assert listed == set(names) - {"SHA256SUMS"}
    docker = json.loads((folder / "manifest.json").read_text())["docker"]
    assert (docker["version"], docker["arch"], docker["sha256"]) == (DOCKER_VERSION, "x86_64",
                                                                      static_tarball["sha256"])
    assert docker["binaries"] == BINARIES and docker["daemon_json"] == DAEMON_JSON
    assert docker["pinned_in"] == str(static_tarball["pins"])
    assert json.loads((folder / "docker" / "daemon.json").read_text()) == DAEMON_JSON
    env = (folder / "bundle.env").read_text()
    assert f"DOCKER_TARBALL=docker/{TARBALL}\n" in env and "DOCKER_ARCH=x86_64\n" in env
    assert f"DOCKER_BINARIES='{' '.join(BINARIES)}'\n" in env
    for unit in ("docker.service", "docker.socket"):
        assert (folder / "docker" / unit).read_text() == (ROOT / "delivery" / unit).read_text()


def test_the_task_refuses_a_wrong_docker_tarball_and_keeps_the_last_bundle(bundle, bundle_env, static_tarball,
                                                                           tmp_path):
    before = sha256_file(bundle["archive"])
    wrong = tmp_path / TARBALL
    data = bytearray(static_tarball["path"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    wrong.write_bytes(bytes(data))
    run = invoke("bundle", "--arch", "amd64", "--docker-tarball", str(wrong), env=bundle_env)
    assert run.code == 1, run.text[-3000:]
    assert f"expected {static_tarball['sha256']}" in run.err and f"{wrong}: sha256 " in run.err
    assert "hint: it is damaged or another file" in run.err and "Traceback" not in run.text
    assert sha256_file(bundle["archive"]) == before, "the last good bundle stays"


# --- a host without systemd ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain_host(engine, host_image, bundle, tmp_path_factory):
    damaged = tmp_path_factory.mktemp("damaged") / "bundle"
    shutil.copytree(bundle["folder"], damaged, copy_function=os.link)
    tarball = damaged / "docker" / TARBALL
    data = tarball.read_bytes()
    tarball.unlink()                                   # a hard link: do not write through it
    tarball.write_bytes(data[:-16] + bytes(16))
    host = Host(engine, host_image, bundle["folder"], systemd=False,
                mounts={str(damaged): {"bind": "/damaged", "mode": "ro"}})
    host.first = host.snapshot()
    yield host
    host.remove()


def test_a_damaged_bundle_is_refused_before_anything_changes(plain_host):
    result = plain_host.install(script="/damaged/install.sh")
    assert result.code == 1, result
    assert "checksum check failed, nothing was installed" in result.err, result
    assert f"docker/{TARBALL}: FAILED" in result.err
    assert plain_host.snapshot() == plain_host.first


def test_without_systemd_docker_is_installed_and_the_way_to_start_it_shown(plain_host):
    result = plain_host.install()
    assert result.code == 2, result
    out = result.out
    for name in BINARIES:
        assert f"installed /usr/local/bin/{name}" in out
    assert "installed /etc/docker/daemon.json" in out
    assert "systemd does not run here, so nothing starts it" in out
    assert "PATH=/usr/local/bin:$PATH nohup /usr/local/bin/dockerd >>/var/log/mysqlbuild-dockerd.log" in out
    assert "--start-dockerd" in out
    assert json.loads(plain_host.sh("cat /etc/docker/daemon.json").out) == DAEMON_JSON
    assert plain_host.sh("getent group docker").code == 0
    assert _docker_answers(plain_host) == "", "nothing was started"


def test_asked_to_it_starts_dockerd_and_loads_the_image(plain_host, bundle):
    result = plain_host.install("--start-dockerd")
    assert result.code == 0, result
    assert _docker_answers(plain_host).startswith("20.10")
    assert _loaded_image_id(plain_host) == _expected_image_id(bundle)
    assert f"image {TAG} (amd64) is ready; run it with:\n    docker run --rm {TAG}\n" in result.out


def test_a_second_run_changes_nothing(plain_host):
    before = plain_host.snapshot()
    result = plain_host.install()
    assert result.code == 0, result
    assert "answers here: using it as it is" in result.out and "is already loaded" in result.out
    assert plain_host.snapshot() == before


def test_uninstall_leaves_the_host_as_it_was_but_the_data(plain_host):
    result = plain_host.install(script="/var/lib/mysqlbuild-bundle/uninstall.sh")
    assert result.code == 0, result
    assert "stopping dockerd" in result.out and "removed the group docker" in result.out
    assert "/var/lib/docker: Docker data" in result.out and "rm -rf /var/lib/docker" in result.out
    assert _docker_answers(plain_host) == ""
    assert plain_host.snapshot() == plain_host.first
    assert plain_host.sh("ls /var/lib/docker/overlay2 | grep -c .").out.strip() != "0", "the data root stays"
    again = plain_host.install("--uninstall")
    assert again.code == 0 and "nothing to remove" in again.out


def test_then_a_docker_of_the_hosts_own_is_used_as_it_is_and_nothing_else_changes(plain_host, bundle):
    # The host, as it was again, gets a Docker of its own from its admin (the same binaries, put in
    # /usr/bin by hand), on the data root the uninstall left: the image is in it already.
    setup = plain_host.sh(f"tar -xzf /bundle/docker/{TARBALL} -C /tmp && cp /tmp/docker/* /usr/bin/ && "
                          "(setsid nohup dockerd --storage-driver overlay2 --iptables=false >/tmp/own.log 2>&1 &) && "
                          "for i in $(seq 60); do docker version >/dev/null 2>&1 && break; sleep 1; done")
    assert setup.code == 0, setup
    first = plain_host.snapshot()
    refused = plain_host.install("--docker")
    assert refused.code == 1, refused
    assert "another Docker answers here (Docker 20.10" in refused.err and "I leave it alone" in refused.err
    used = plain_host.install()
    assert used.code == 0, used
    assert "answers here: using it as it is" in used.out and "installed " not in used.out
    assert plain_host.sh(f"docker image inspect --format '{{{{.Id}}}}' {TAG}").out.strip() == \
        _expected_image_id(bundle)
    assert plain_host.snapshot() == first, "no file of the host changed"
    gone = plain_host.install("--uninstall")
    assert gone.code == 0 and "nothing to remove" in gone.out, gone
    assert plain_host.sh("docker version --format '{{.Server.Version}}'").out.startswith("20.10")


# --- a host with systemd ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def systemd_host(engine, host_image, bundle):
    host = Host(engine, host_image, bundle["folder"], systemd=True)
    host.first = host.snapshot()
    yield host
    host.remove()


def test_with_systemd_our_units_start_docker_and_the_image_loads(systemd_host, bundle):
    result = systemd_host.install()
    assert result.code == 0, result
    assert "installed /etc/systemd/system/docker.service" in result.out
    assert "enabled at boot" in result.out
    states = systemd_host.sh("systemctl is-enabled docker.socket docker.service; systemctl is-active docker.service")
    assert states.out.split() == ["enabled", "enabled", "active"], states
    unit = systemd_host.sh("cat /etc/systemd/system/docker.service").out
    assert "ExecStart=/usr/local/bin/dockerd -H fd://" in unit and "@BINDIR@" not in unit
    assert systemd_host.sh("stat -c %G /run/docker.sock").out.strip() == "docker"
    assert _docker_answers(systemd_host).startswith("20.10")
    assert _loaded_image_id(systemd_host) == _expected_image_id(bundle)
    verify = systemd_host.sh("systemd-analyze verify docker.socket docker.service")
    assert verify.code == 0, verify
    before = systemd_host.snapshot()
    again = systemd_host.install("--docker")
    assert again.code == 0 and "is installed in /usr/local/bin already" in again.out, again
    assert systemd_host.snapshot() == before, "a second run changes nothing with systemd either"


def test_uninstall_with_systemd_removes_the_units_and_leaves_the_host_as_it_was(systemd_host):
    result = systemd_host.install("--uninstall")
    assert result.code == 0, result
    assert "stopping and disabling docker.service and docker.socket" in result.out
    assert systemd_host.sh("systemctl is-active docker.service").out.strip() == "inactive"
    assert systemd_host.snapshot() == systemd_host.first


# --- another Docker's files are left alone unless asked ------------------------------------------------

def test_a_foreign_file_stops_the_install_unless_forced_and_comes_back_on_uninstall(engine, host_image, bundle):
    host = Host(engine, host_image, bundle["folder"], systemd=False)
    try:
        host.sh("printf '#!/bin/sh\\necho the docker someone put here\\n' >/usr/local/bin/docker; "
                "chmod 755 /usr/local/bin/docker")
        first = host.snapshot()
        refused = host.install("--docker")
        assert refused.code == 1, refused
        assert "another Docker is installed here but does not answer: /usr/local/bin/docker" in refused.err
        assert "--force-docker" in refused.err and "nothing was installed" in refused.err
        assert host.snapshot() == first
        forced = host.install("--docker", "--force-docker", "--start-dockerd")
        assert forced.code == 0, forced
        assert _docker_answers(host).startswith("20.10")
        back = host.install("--uninstall")
        assert back.code == 0, back
        assert "put back /usr/local/bin/docker as it was before" in back.out
        assert host.sh("/usr/local/bin/docker").out == "the docker someone put here\n"
        assert host.snapshot() == first
    finally:
        host.remove()


def test_install_sh_passes_shellcheck():
    proc = subprocess.run(["shellcheck", str(ROOT / "delivery" / "install.sh")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
