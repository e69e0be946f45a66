"""The image itself: layout, metadata, my.cnf opt-ins, and what "Kylin-compatible" means.

Kylin V10 on ARM runs Docker 18.09/19.03 on a 4.19 kernel with 64K pages. What
can be checked on any machine is checked here: no syscall newer than 4.19 is
needed, privileges are dropped by the pinned gosu, binaries load with 64K
pages (on arm64 images), nothing links jemalloc or tcmalloc. Docker 18.09's
seccomp profile cannot be checked here (docs/image.md says how to check it on
a Kylin host).
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile

import pytest

from imagetest import DATADIR
from mysqlbuild.rpmcheck import MIN_ALIGN_AARCH64, parse_elf

# System calls Linux gained after 4.19 (Kylin V10's kernel, October 2018): on
# a 4.19 kernel they fail with ENOSYS.
NEWER_THAN_4_19 = [
    "io_uring_setup", "io_uring_enter", "io_uring_register", "pidfd_send_signal",  # 5.1
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",  # 5.2
    "clone3", "pidfd_open",  # 5.3
    "openat2", "pidfd_getfd",  # 5.6
    "faccessat2",  # 5.8
    "close_range",  # 5.9
    "process_madvise",  # 5.10
    "epoll_pwait2",  # 5.11
    "mount_setattr",  # 5.12
    "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",  # 5.13
    "memfd_secret", "quotactl_fd",  # 5.14
    "process_mrelease",  # 5.15
    "futex_waitv",  # 5.16
    "set_mempolicy_home_node",  # 6.0
    "cachestat",  # 6.5
    "fchmodat2", "map_shadow_stack",  # 6.6
]


def seccomp_profile(names: list[str], errno: int) -> str:
    """A profile that lets everything through except `names`, which fail with `errno`."""
    return json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": errno}]})


def read_file(docker_client, image: str, path: str) -> bytes:
    """The bytes of a file of the image, symlinks followed."""
    container = docker_client.containers.create(image, command=["true"])
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.getmembers()[0]
            return archive.extractfile(member).read()
    finally:
        container.remove(force=True)


# --- metadata and layout -----------------------------------------------------------------

def test_image_metadata(image_config):
    assert image_config["Entrypoint"] == ["docker-entrypoint.sh"]
    assert image_config["Cmd"] == ["mysqld"]
    assert set(image_config["ExposedPorts"]) == {"3306/tcp", "33060/tcp"}
    assert set(image_config["Volumes"]) == {DATADIR}
    assert image_config["Healthcheck"]["Test"] == ["CMD", "healthcheck.sh"]
    assert image_config["Labels"].get("org.opencontainers.image.version")


def test_no_proxy_or_secret_in_environment_or_history(docker_client, image, image_config):
    pattern = re.compile(r"(https?|ftp|no|all)_proxy|password|secret|token", re.I)
    for item in image_config.get("Env") or []:
        assert not pattern.search(item.split("=", 1)[0]), f"ENV {item}"
    for layer in docker_client.images.get(image).history():
        created_by = layer.get("CreatedBy", "")
        assert not re.search(r"(https?|ftp|no|all)_proxy=", created_by, re.I), created_by


@pytest.mark.parametrize("path, owner, mode", [
    ("/var/lib/mysql", "mysql", None),
    ("/var/lib/mysql-files", "mysql", None),
    ("/var/run/mysqld", "mysql", 0o1777),
    ("/docker-entrypoint-initdb.d", "root", None),
    ("/etc/mysql/conf.d", "root", None),
])
def test_folders(image_host, path, owner, mode):
    folder = image_host.file(path)
    assert folder.is_directory
    assert folder.user == owner
    if mode is not None:
        assert folder.mode == mode


def test_mysql_user_is_999(image_host):
    user = image_host.user("mysql")
    assert (user.uid, user.gid) == (999, 999)


def test_my_cnf_defaults(image_host):
    text = image_host.file("/etc/my.cnf").content_string
    for line in ("socket          = /var/run/mysqld/mysqld.sock", "skip-host-cache", "skip-name-resolve"):
        assert line in text
    assert text.rstrip().endswith("!includedir /etc/mysql/conf.d/")


@pytest.mark.parametrize("tool", ["bash", "gosu", "mysql", "mysqladmin", "my_print_defaults",
                                  "gzip", "bzip2", "xz", "zstd", "sed", "awk", "od", "stat", "mktemp"])
def test_entrypoint_tools_are_in_the_image(image_host, tool):
    assert image_host.exists(tool), f"{tool} is missing: the entrypoint or an init file kind needs it"


# --- my.cnf opt-ins ----------------------------------------------------------------------

def test_utf8mb4_and_local_time_opt_ins(servers):
    """The shipped utf8mb4 example, a named server zone (needs the zone tables) and TZ for the clock."""
    named_zone = b"[mysqld]\ndefault-time-zone = 'Asia/Shanghai'\n"
    server = servers.start(
        env={"MYSQL_ROOT_PASSWORD": "pw", "TZ": "Asia/Shanghai"},
        command=["sh", "-c", "cp /etc/mysql/conf.d-examples/utf8mb4.cnf /etc/mysql/conf.d-examples/timezone.cnf "
                             "/etc/mysql/conf.d/ && exec docker-entrypoint.sh mysqld"],
        files={"/etc/mysql/conf.d": {"zz-named-zone.cnf": (named_zone, 0o644)}}).wait_ready()
    values = server.query("SELECT @@character_set_server, @@time_zone, @@system_time_zone", password="pw")
    assert values.split("\t") == ["utf8mb4", "Asia/Shanghai", "CST"]
    assert server.exec(["date", "+%Z"]).out.strip() == "CST"


def test_default_character_set_and_zone_are_untouched(image_host):
    text = image_host.file("/etc/my.cnf").content_string
    active = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert not any("character-set" in line or "time-zone" in line for line in active)


# --- Kylin V10 ---------------------------------------------------------------------------------

def test_initialises_and_serves_on_a_kernel_without_syscalls_newer_than_4_19(servers, tmp_path):
    profile = tmp_path / "linux-4.19.json"
    profile.write_text(seccomp_profile(NEWER_THAN_4_19, 38))  # ENOSYS, as an old kernel answers
    server = servers.start(env={"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_INITDB_SKIP_TZINFO": "1"},
                           security_opt=[f"seccomp={profile.read_text()}"]).wait_ready()
    assert server.query("SELECT 1", password="pw") == "1"
    assert "seccomp=2" in server.exec(["cat", "/proc/1/status"]).out.replace("Seccomp:\t", "seccomp=")


def _binary(image_host, name: str) -> str:
    return image_host.check_output(f"readlink -f \"$(command -v {name})\"")


@pytest.mark.parametrize("name", ["mysqld", "gosu"])
def test_no_jemalloc_or_tcmalloc(docker_client, image, image_host, name):
    info = parse_elf(read_file(docker_client, image, _binary(image_host, name)))
    assert info is not None
    assert not [lib for lib in info.needed if "jemalloc" in lib or "tcmalloc" in lib], info.needed


@pytest.mark.parametrize("name", ["mysqld", "gosu"])
def test_loads_on_64k_page_kernels(docker_client, image, image_host, arch, name):
    if arch != "aarch64":
        pytest.skip(f"64K pages concern arm64 images; this one is {arch}")
    info = parse_elf(read_file(docker_client, image, _binary(image_host, name)))
    assert info is not None and info.load_aligns
    assert min(info.load_aligns) >= MIN_ALIGN_AARCH64, [hex(a) for a in info.load_aligns]


def test_gosu_is_the_pinned_one(docker_client, image, image_host, image_files, arch):
    """The gosu in the image is the file the recipe pins for this architecture, byte for byte, and runs."""
    path = _binary(image_host, "gosu")
    pin = image_files.get(path)
    assert pin is not None and pin["from"] == "download", (
        f"the recipe pins no gosu download for {arch} at {path}: the image's gosu comes from somewhere "
        "unchecked; add it to image.downloads with its sha256 (recipes/mysql57/recipe.yaml shows how)")
    actual = hashlib.sha256(read_file(docker_client, image, path)).hexdigest()
    assert actual == pin["sha256"], f"{path} has sha256 {actual}, the recipe pins {pin['sha256']}"
    assert image_host.run("gosu nobody true").rc == 0


def test_every_file_of_the_recipe_is_in_the_image_as_given(docker_client, image, image_host, image_files):
    """The entrypoint, health check, my.cnf, examples and downloads the recipe names: same bytes, same mode."""
    assert image_files, "the recipe puts no file into the image"
    for path, want in sorted(image_files.items()):
        actual = hashlib.sha256(read_file(docker_client, image, path)).hexdigest()
        assert actual == want["sha256"], f"{path} in the image differs from the recipe's {want['from']}"
        assert image_host.file(path).mode == int(want["mode"], 8), f"{path}: mode {want['mode']} expected"


def test_entrypoint_uses_bash_and_no_network(image_host):
    script = image_host.file("/usr/local/bin/docker-entrypoint.sh").content_string
    assert script.startswith("#!/bin/bash\n")
    for tool in ("curl", "wget", "/dev/tcp", "nc ", "apt-get", "yum ", "dnf ", "pip "):
        assert tool not in script, f"the entrypoint must not need the network ({tool})"
