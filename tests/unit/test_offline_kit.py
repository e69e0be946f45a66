"""The Docker engine a bundle can carry, checked without Docker and without the network:
the pin file and its validation, daemon.json from settings, the tarball's layout, and how
the tarball is found (cache, dropped by hand, --docker-tarball, mirror) and refused when wrong.

The tarballs here are packed by the test (tests/dockertarball.py) with fake ELF files: Docker's
real one cannot be downloaded where the tests run.
"""
from __future__ import annotations

import json
import tarfile
import textwrap

import pytest

from dockertarball import fake_elf, pack, pin_file
from fixtures import ROOT, run_task
from mysqlbuild import hostdocker
from mysqlbuild.archs import ARCHS
from mysqlbuild.errors import CheckError, ChecksumError, ConfigError, FetchError, PipelineError
from mysqlbuild.settings import resolve

ARM, AMD = ARCHS["arm64"], ARCHS["amd64"]
UNREACHABLE = "http://127.0.0.1:9/nothing-listens-here.tgz"


def binaries(machine: int, drop: str | None = None) -> dict[str, bytes]:
    names = ("dockerd", "docker", "containerd", "containerd-shim-runc-v2", "ctr", "runc", "docker-init",
             "docker-proxy")
    return {n: fake_elf(machine, n.encode()) for n in names if n != drop}


# --- the shipped pin file --------------------------------------------------------------

def test_the_shipped_pin_file_pins_docker_28_0_4_for_both_architectures():
    pins = hostdocker.load_pins(ROOT / "delivery" / "docker-static.yaml")
    assert pins.default_version == "28.0.4"
    arm, amd = pins.pin(None, ARM), pins.pin("28.0.4", AMD)
    assert arm.sha256 == "d3291093e8ed576ed9e237b24dc4556a9ed21ff25d4c26578df612cb6fe0480f"
    assert amd.sha256 == "6b130fa5fb13516620d5ece0b63f63a495cede428bb2f9e24449022e9d72e0cb"
    assert arm.file == amd.file == "docker-28.0.4.tgz"
    assert arm.urls[0] == "https://download.docker.com/linux/static/stable/aarch64/docker-28.0.4.tgz"
    assert amd.urls[0] == "https://download.docker.com/linux/static/stable/x86_64/docker-28.0.4.tgz"
    assert pins.identify(arm.sha256) == ("28.0.4", "aarch64")


GOOD = """\
default_version: "1.0"
versions:
  "1.0":
    aarch64:
      file: docker-1.0.tgz
      sha256: 1111111111111111111111111111111111111111111111111111111111111111
      urls: [https://example.invalid/aarch64/docker-1.0.tgz]
"""


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace('default_version: "1.0"\n', ""), "missing required key 'default_version'"),
    (lambda t: t.replace("    aarch64:", "    arm64:"),
     "versions.1.0.arm64: is not an architecture of Docker's static tarballs"),
    (lambda t: t.replace("1111111111111111111111111111111111111111111111111111111111111111", "abc"),
     "versions.1.0.aarch64.sha256: 'abc' is not a sha256"),
    (lambda t: t.replace("[https://example.invalid/aarch64/docker-1.0.tgz]", "[ftp.example/x.tgz]"),
     "versions.1.0.aarch64.urls[0]: 'ftp.example/x.tgz' is not a URL"),
    (lambda t: t.replace('default_version: "1.0"', 'default_version: "2.0"'),
     "default_version: '2.0' is not one of the pinned versions"),
    (lambda t: t.replace("file: docker-1.0.tgz", "file: aarch64/docker-1.0.tgz"), "must be a plain file name"),
    (lambda t: t.replace("file: docker-1.0.tgz", "file: docker-1.0.zip"), "'docker-1.0.zip' is not a .tgz"),
    (lambda t: t + "      size: 10\n", "versions.1.0.aarch64: unknown key 'size'"),
    (lambda t: 'default_version: "1.0"\nversions: {}\n', "versions: must pin at least one version"),
    (lambda t: t.replace('"1.0":\n', '"x1":\n'), "versions.x1: is not a Docker version"),
    (lambda t: "versions: [\n", "not valid YAML"),
])
def test_a_bad_pin_file_is_refused_naming_file_and_field(tmp_path, edit, message):
    path = tmp_path / "pins.yaml"
    path.write_text(edit(GOOD))
    with pytest.raises(PipelineError) as info:
        hostdocker.load_pins(path)
    assert message in info.value.message
    assert str(path) in info.value.message


def test_the_pin_file_must_exist_and_name_the_version_and_architecture(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        hostdocker.load_pins(tmp_path / "nope.yaml")
    path = tmp_path / "pins.yaml"
    path.write_text(GOOD)
    pins = hostdocker.load_pins(path)
    with pytest.raises(ConfigError) as info:
        pins.pin("9.9", ARM)
    assert "Docker 9.9 is not pinned" in info.value.message and "pinned versions: 1.0" in info.value.hint
    with pytest.raises(ConfigError) as info:
        pins.pin(None, AMD)
    assert "Docker 1.0 has no x86_64 tarball pinned" in info.value.message
    assert "pinned there for: aarch64" in info.value.hint


# --- daemon.json ----------------------------------------------------------------------

def test_daemon_json_defaults():
    assert hostdocker.daemon_config(resolve({}, {}, {})) == {
        "data-root": "/var/lib/docker", "log-driver": "json-file",
        "log-opts": {"max-size": "100m", "max-file": "3"}}


def test_daemon_json_from_every_option_and_from_the_environment():
    env = {"MYSQLBUILD_DOCKER_DATA_ROOT": "/data/docker/", "MYSQLBUILD_DOCKER_LOG_MAX_FILE": "5"}
    flags = {"docker_storage_driver": "overlay2", "docker_log_max_size": "50M",
             "docker_registry_mirrors": "https://harbor.intranet:8443, http://10.0.0.5:5000/mirror",
             "docker_insecure_registries": "harbor.intranet:8080,10.0.0.0/8",
             "docker_daemon_extra": '{"live-restore": true, "iptables": false}'}
    config = hostdocker.daemon_config(resolve({}, env, flags))
    assert config == {
        "data-root": "/data/docker", "storage-driver": "overlay2", "log-driver": "json-file",
        "log-opts": {"max-size": "50m", "max-file": "5"},
        "registry-mirrors": ["https://harbor.intranet:8443", "http://10.0.0.5:5000/mirror"],
        "insecure-registries": ["harbor.intranet:8080", "10.0.0.0/8"],
        "live-restore": True, "iptables": False}
    assert json.loads(hostdocker.daemon_json_text(config)) == config


@pytest.mark.parametrize("flags,message", [
    ({"docker_data_root": "var/lib/docker"}, "--docker-data-root 'var/lib/docker' is not an absolute folder path"),
    ({"docker_data_root": "/data/my docker"}, "is not an absolute folder path"),
    ({"docker_data_root": "/"}, "is not an absolute folder path"),
    ({"docker_storage_driver": "devicemapper"}, "'devicemapper' is not a storage driver of current Docker"),
    ({"docker_log_max_size": "100MB"}, "--docker-log-max-size '100MB' is not a size"),
    ({"docker_log_max_file": "0"}, "--docker-log-max-file must be at least 1"),
    ({"docker_registry_mirrors": "harbor.intranet"}, "'harbor.intranet' is not an http(s):// URL"),
    ({"docker_insecure_registries": "http://harbor:80"}, "'http://harbor:80' is not a registry address"),
    ({"docker_daemon_extra": "{live-restore: true}"}, "--docker-daemon-extra is not valid JSON"),
    ({"docker_daemon_extra": "[1]"}, "--docker-daemon-extra must be a JSON object"),
    ({"docker_daemon_extra": '{"data-root": "/x"}'}, "sets 'data-root', which has its own option"),
])
def test_bad_daemon_options_are_one_clear_error(flags, message):
    with pytest.raises(ConfigError) as info:
        hostdocker.daemon_config(resolve({}, {}, flags))
    assert message in info.value.message
    assert info.value.hint


# --- the tarball's layout ----------------------------------------------------------------

def test_a_static_tarball_lists_its_binaries(tmp_path):
    path = tmp_path / "docker-1.0.tgz"
    pack(path, binaries(ARM.elf_machine))
    assert hostdocker.tarball_binaries(path, ARM) == (
        "containerd", "containerd-shim-runc-v2", "ctr", "docker", "docker-init", "docker-proxy", "dockerd", "runc")


def _link(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


@pytest.mark.parametrize("files,extra,message", [
    (binaries(183, drop="dockerd"), [], "lacks docker/dockerd"),
    (binaries(183, drop="containerd-shim-runc-v2"), [], "lacks docker/containerd-shim-runc-v2"),
    (binaries(62), [], "docker/dockerd is built for x86_64, not aarch64"),
    (binaries(183), [_file("docker/../../etc/cron.d/x")], "unexpected entry 'docker/../../etc/cron.d/x'"),
    (binaries(183), [_file("usr/bin/x")], "unexpected entry 'usr/bin/x'"),
    (binaries(183), [_link("docker/evil")], "docker/evil is not a regular file"),
])
def test_a_tarball_of_another_layout_is_refused(tmp_path, files, extra, message):
    path = tmp_path / "docker-1.0.tgz"
    pack(path, files, extra)
    with pytest.raises(CheckError) as info:
        hostdocker.tarball_binaries(path, ARM)
    assert message in info.value.message


def test_a_file_that_is_no_tarball_is_refused(tmp_path):
    path = tmp_path / "docker-1.0.tgz"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(CheckError, match="is not a readable .tgz"):
        hostdocker.tarball_binaries(path, ARM)


# --- finding the tarball --------------------------------------------------------------------

@pytest.fixture
def kit(tmp_path):
    """Two pinned tarballs (aarch64 and x86_64) of the same file name, as Docker names them."""
    arm = tmp_path / "downloads" / "aarch64" / "docker-1.0.tgz"
    amd = tmp_path / "downloads" / "x86_64" / "docker-1.0.tgz"
    arm_sha, amd_sha = pack(arm, binaries(183)), pack(amd, binaries(62))
    pins_path = tmp_path / "pins.yaml"
    pins_path.write_text(textwrap.dedent(f"""\
        default_version: "1.0"
        versions:
          "1.0":
            aarch64: {{file: docker-1.0.tgz, sha256: {arm_sha}, urls: ["{UNREACHABLE}"]}}
            x86_64: {{file: docker-1.0.tgz, sha256: {amd_sha}, urls: ["{UNREACHABLE}"]}}
        """))
    return {"pins": hostdocker.load_pins(pins_path), "arm": arm, "amd": amd, "arm_sha": arm_sha,
            "amd_sha": amd_sha, "cache": tmp_path / "cache"}


def locate(kit, reporter, arch=ARM, explicit="", mirror=""):
    return hostdocker.locate_tarball(kit["pins"], None, arch, cache_dir=kit["cache"], mirror=mirror,
                                    explicit=explicit, reporter=reporter, retries=1)


def test_docker_tarball_option_is_checked_then_kept_in_the_cache(kit, reporter):
    found = locate(kit, reporter, explicit=str(kit["arm"]))
    assert found == kit["cache"] / kit["arm_sha"] / "docker-1.0.tgz"
    assert found.read_bytes() == kit["arm"].read_bytes() and kit["arm"].is_file(), "the user's file stays"
    # A folder with Docker's <arch>/ layout serves each architecture.
    folder = kit["arm"].parent.parent
    assert locate(kit, reporter, arch=AMD, explicit=str(folder)).parent.name == kit["amd_sha"]


def test_a_wrong_file_is_refused_with_both_checksums_and_what_to_do(kit, reporter, tmp_path):
    bad = tmp_path / "docker-1.0.tgz"
    bad.write_bytes(kit["arm"].read_bytes()[:-100])
    with pytest.raises(ChecksumError) as info:
        locate(kit, reporter, explicit=str(bad))
    message, hint = info.value.message, info.value.hint
    assert f"expected {kit['arm_sha']}" in message and "sha256 " in message and str(bad) in message
    assert f"download {UNREACHABLE} again" in hint
    assert not kit["cache"].exists() or not any(kit["cache"].rglob("*.tgz")), "nothing wrong is kept"


def test_a_copy_that_fails_midway_leaves_nothing_in_the_cache(kit, reporter, monkeypatch):
    """A full disk cannot be made here on demand: the copy is made to write half the file, then fail."""
    real_copyfile = hostdocker.shutil.copyfile

    def half_then_enospc(src, dst, *args, **kwargs):
        with open(src, "rb") as source, open(dst, "wb") as target:
            target.write(source.read(1000))
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(hostdocker.shutil, "copyfile", half_then_enospc)
    with pytest.raises(OSError):
        locate(kit, reporter, explicit=str(kit["arm"]))
    assert [p.name for p in kit["cache"].rglob("*") if p.is_file()] == [], "no .part and no tarball"
    monkeypatch.setattr(hostdocker.shutil, "copyfile", real_copyfile)
    assert locate(kit, reporter, explicit=str(kit["arm"])).read_bytes() == kit["arm"].read_bytes()


def test_the_other_architectures_tarball_is_named_as_such(kit, reporter):
    with pytest.raises(ChecksumError) as info:
        locate(kit, reporter, explicit=str(kit["amd"]))
    assert "this file is the pinned Docker 1.0 tarball for x86_64" in info.value.hint
    assert "this bundle is for aarch64" in info.value.hint


def test_a_tarball_dropped_into_the_cache_is_filed_under_its_architecture(kit, reporter):
    kit["cache"].mkdir()
    (kit["cache"] / "docker-1.0.tgz").write_bytes(kit["arm"].read_bytes())
    found = locate(kit, reporter)
    assert found == kit["cache"] / kit["arm_sha"] / "docker-1.0.tgz"
    assert not (kit["cache"] / "docker-1.0.tgz").exists()
    assert locate(kit, reporter) == found, "found in the cache the next time"


def test_a_dropped_tarball_of_the_other_architecture_is_filed_and_the_right_one_asked_for(kit, reporter):
    kit["cache"].mkdir()
    (kit["cache"] / "docker-1.0.tgz").write_bytes(kit["amd"].read_bytes())
    with pytest.raises(FetchError) as info:
        locate(kit, reporter)
    assert "could not download docker-1.0.tgz" in info.value.message
    assert "(Docker 1.0 for aarch64)" in info.value.message
    hint = info.value.hint
    assert f"download {UNREACHABLE}" in hint and "--docker-tarball PATH" in hint
    assert f"{kit['cache']}/aarch64/" in hint and kit["arm_sha"] in hint
    assert (kit["cache"] / kit["amd_sha"] / "docker-1.0.tgz").is_file()


def test_an_unknown_dropped_file_is_refused(kit, reporter):
    (kit["cache"] / "aarch64").mkdir(parents=True)
    (kit["cache"] / "aarch64" / "docker-1.0.tgz").write_bytes(b"something else")
    with pytest.raises(ChecksumError, match="is not the one pinned for docker-1.0.tgz"):
        locate(kit, reporter)


def test_a_mirror_serves_it_in_dockers_arch_folders(kit, reporter):
    mirror = "file://" + str(kit["arm"].parent.parent) + "/"
    assert locate(kit, reporter, mirror=mirror).read_bytes() == kit["arm"].read_bytes()
    assert locate(kit, reporter, arch=AMD, mirror=mirror).read_bytes() == kit["amd"].read_bytes()


def test_pin_file_helper_writes_a_valid_pin_file(tmp_path):
    path = pin_file(tmp_path / "p.yaml", "20.10.24-test", "x86_64", "docker-x.tgz", "a" * 64, [UNREACHABLE])
    assert hostdocker.load_pins(path).pin(None, AMD).sha256 == "a" * 64


# --- the task, as users run it ------------------------------------------------------------

run_invoke = run_task


def test_bundle_dry_run_shows_the_pinned_docker_and_the_daemon_json(tmp_path):
    proc = run_invoke("bundle", "--arch", "arm64", "--with-docker", "--docker-storage-driver", "overlay2",
                      "--dry-run", env={"MYSQLBUILD_BUILD_DIR": str(tmp_path / "b"),
                                        "MYSQLBUILD_CACHE_DIR": str(tmp_path / "c")})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "with Docker 28.0.4 for aarch64: docker-28.0.4.tgz sha256 " \
           "d3291093e8ed576ed9e237b24dc4556a9ed21ff25d4c26578df612cb6fe0480f" in out
    assert "to fetch: https://download.docker.com/linux/static/stable/aarch64/docker-28.0.4.tgz" in out
    assert '"storage-driver": "overlay2"' in out and '"data-root": "/var/lib/docker"' in out
    assert "dry run: nothing was run" in out and not (tmp_path / "b").exists()


def test_bundle_with_a_bad_option_or_no_tarball_fails_before_building_anything(tmp_path):
    env = {"MYSQLBUILD_BUILD_DIR": str(tmp_path / "b"), "MYSQLBUILD_CACHE_DIR": str(tmp_path / "c"),
           "MYSQLBUILD_DIST_DIR": str(tmp_path / "d"), "MYSQLBUILD_RETRIES": "1",
           "MYSQLBUILD_DOCKER_STATIC_FILE": str(pin_file(tmp_path / "pins.yaml", "1.0", "aarch64",
                                                         "docker-1.0.tgz", "b" * 64, [UNREACHABLE]))}
    proc = run_invoke("bundle", "--arch", "arm64", "--with-docker", "--docker-daemon-extra",
                      '{"data-root": "/x"}', env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: --docker-daemon-extra sets 'data-root', which has its own option")
    proc = run_invoke("bundle", "--arch", "arm64", env={**env, "MYSQLBUILD_WITH_DOCKER": "yes"})
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: could not download docker-1.0.tgz from any URL")
    assert "hint: on a machine with internet, download " + UNREACHABLE in proc.stderr
    proc = run_invoke("bundle", "--arch", "arm64", "--docker-tarball", str(tmp_path / "pins.yaml"), env=env)
    assert proc.returncode == 1
    assert "is not the one pinned for docker-1.0.tgz (aarch64, Docker 1.0" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "b").exists() and not (tmp_path / "d").exists(), "no build started"
