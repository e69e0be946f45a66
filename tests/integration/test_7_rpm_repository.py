"""The hello fixture's RPMs as a signed yum repository: made by `invoke repo` from what test_1 built (amd64 and
arm64), checked with the tools RPM users have, and installed on a host by the offline bundle's install.sh.

The key is made here, in a keyring of the test's own.  The user's tools are Debian's: rpm (rpm -K), dnf
(dnf repoquery, with --forcearch for the aarch64 folder) and gpg.

The host is a container of the Debian base the hello build made, with dnf, rpm and gnupg from Debian
(tests/dnfhost.py): what Debian installed there is made known to rpm as one package whose Provides rpm's
own generator finds in the real files, so dnf installs hello with its requirements (libc.so.6 and its
versions, rtld(GNU_HASH)) met by the libraries that are really there, as on an RPM host.
"""
from __future__ import annotations

import gzip
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

import dnfhost
from conftest import invoke
from keys import export, keyring, make_key
from test_1_hello_pipeline import build_unless_built
from test_4_offline_host import Host

pytestmark = [pytest.mark.docker, pytest.mark.slow]
AMD_BASE = "mysqlbuild/debian:bookworm-amd64"
DNF_HOST = "mysqlbuild-test/dnf-host:bookworm-amd64"
REPO_ID = "mysqlbuild-hello"
ARCHES = ("x86_64", "aarch64")
# What dnf and rpm themselves keep while they work: their logs, history, caches and database.
DNF_CHURN = ("/var/log/dnf", "/var/log/hawkey.log", "/var/cache/dnf", "/var/lib/dnf", "/var/lib/rpm")


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    home = tmp_path_factory.mktemp("gnupg")
    with keyring(home):
        fingerprint = make_key(home, "hello builds <builds@example.invalid>")
        other = make_key(home, "someone else <else@example.invalid>")
        folder = tmp_path_factory.mktemp("public")
        yield {"home": home, "fpr": fingerprint, "key_id": fingerprint[-8:].lower(),
               "public": export(home, fingerprint, folder / "builds.asc"),
               "other_public": export(home, other, folder / "else.asc")}


@pytest.fixture(scope="module")
def repo(hello_work, engine, signer, tmp_path_factory):
    """`invoke repo` over both architectures, signed; its folder."""
    build_unless_built(hello_work, engine, "amd64", "arm64")
    where = tmp_path_factory.mktemp("repos")
    env = dict(hello_work["env"], MYSQLBUILD_REPO_DIR=str(where), GNUPGHOME=str(signer["home"]))
    run = invoke("repo", "--arch", "amd64,arm64", "--gpg-key", signer["fpr"], env=env)
    assert run.code == 0, run.text[-4000:]
    assert "2 RPM(s) signed now" in run.out, run.out
    return where / "hello"


def rpms(folder: Path) -> list[Path]:
    return sorted(folder.glob("*/Packages/*.rpm"))


def test_the_built_rpms_of_both_architectures_are_in_the_repository_signed(repo, hello_work):
    built = sorted(p.name for p in (hello_work["root"] / "rpmbuild" / "RPMS").glob("*/*.rpm"))
    assert sorted(p.name for p in rpms(repo)) == built and len(built) == 2
    assert {p.parent.parent.name for p in rpms(repo)} == set(ARCHES)


def rpm_k(path: Path, dbpath: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["rpm", "--dbpath", str(dbpath), "-K", str(path)], capture_output=True, text=True)


def test_rpm_k_passes_with_the_key_imported_and_fails_without(repo, signer, tmp_path):
    without, with_key = tmp_path / "db-without", tmp_path / "db-with"
    without.mkdir()
    with_key.mkdir()
    imported = subprocess.run(["rpm", "--dbpath", str(with_key), "--import", str(repo / f"RPM-GPG-KEY-{REPO_ID}")],
                              capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr
    for path in rpms(repo):
        good = rpm_k(path, with_key)
        assert good.returncode == 0 and good.stdout.strip().endswith("digests signatures OK"), good.stdout
        assert f"key ID {signer['key_id']}: OK" in subprocess.run(
            ["rpm", "--dbpath", str(with_key), "-Kv", str(path)], capture_output=True, text=True).stdout
        bad = rpm_k(path, without)
        assert bad.returncode != 0 and "SIGNATURES NOT OK" in bad.stdout, bad.stdout


def dnf(folder: Path, root: Path, arch: str, *args: str) -> subprocess.CompletedProcess:
    """dnf reading only the repository through its .repo file, as a host would; metadata signature checked."""
    return subprocess.run(["dnf", "-y", "-q", f"--installroot={root}", f"--setopt=reposdir={folder}",
                           "--setopt=skip_if_unavailable=False", "--releasever=1", f"--forcearch={arch}",
                           f"--repo={REPO_ID}", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("arch", ARCHES)
def test_dnf_repoquery_lists_every_package_with_its_requirements(repo, tmp_path, arch):
    listed = dnf(repo, tmp_path / "root", arch, "repoquery", "--qf", "%{name}-%{version}-%{release}.%{arch}")
    assert listed.returncode == 0, listed.stderr
    files = [p for p in rpms(repo) if p.parent.parent.name == arch]
    assert sorted(listed.stdout.split()) == sorted(p.name[:-len(".rpm")] for p in files)
    for path in files:
        name = subprocess.run(["rpm", "-qp", "--nosignature", "--qf", "%{NAME}", str(path)], capture_output=True,
                              text=True).stdout
        wanted = subprocess.run(["rpm", "-qpR", "--nosignature", str(path)], capture_output=True, text=True).stdout
        wanted = {line.strip() for line in wanted.splitlines() if not line.startswith("rpmlib(")}
        assert wanted, f"{path.name} requires nothing: the fixture must need libc"
        found = dnf(repo, tmp_path / "root", arch, "repoquery", "--requires", name)
        assert found.returncode == 0, found.stderr
        listed = set(found.stdout.split("\n")) - {""}
        # createrepo_c keeps, of a package's libc.so.6 requirements, the newest version only (it implies the
        # others), as createrepo always did; every other requirement is listed as rpm has it.
        libc = {r for r in wanted if r.startswith("libc.so.6")}
        assert listed - libc == wanted - libc
        assert len(listed & libc) == 1 and max(libc, key=glibc_version) in listed


def glibc_version(requirement: str) -> tuple[int, ...]:
    """libc.so.6(GLIBC_2.34)(64bit) -> (2, 34); libc.so.6()(64bit) -> ()."""
    inside = requirement.split("(", 2)[1].split(")")[0]
    return tuple(int(n) for n in inside.removeprefix("GLIBC_").split(".")) if inside.startswith("GLIBC_") else ()


def test_a_changed_metadata_file_or_rpm_is_detected(repo, signer, tmp_path):
    copy = tmp_path / "hello"
    shutil.copytree(repo, copy)
    (copy / f"{REPO_ID}.repo").write_text((repo / f"{REPO_ID}.repo").read_text().replace(str(repo), str(copy)))
    assert dnf(copy, tmp_path / "r0", "x86_64", "repoquery").returncode == 0, "the copy reads as the original"
    repodata = copy / "x86_64" / "repodata"
    repomd = repodata / "repomd.xml"
    original = repomd.read_bytes()
    repomd.write_bytes(original.replace(b"<revision>", b"<revision>1", 1))
    changed = dnf(copy, tmp_path / "r1", "x86_64", "repoquery")
    assert changed.returncode != 0 and "repomd.xml GPG signature verification error" in changed.stderr
    repomd.write_bytes(original)
    primary = next(repodata.glob("*-primary.xml.gz"))
    primary.write_bytes(gzip.compress(gzip.decompress(primary.read_bytes()).replace(b"<name>hello</name>",
                                                                                    b"<name>hellp</name>")))
    changed = dnf(copy, tmp_path / "r2", "x86_64", "repoquery")      # its checksum in repomd.xml differs now
    assert changed.returncode != 0 and f"Downloading error(s): repodata/{primary.name}" in changed.stderr
    db = tmp_path / "db"
    db.mkdir()
    subprocess.run(["rpm", "--dbpath", str(db), "--import", str(signer["public"])], check=True)
    rpm = next(copy.glob("x86_64/Packages/*.rpm"))
    data = bytearray(rpm.read_bytes())
    data[-100] ^= 0xFF                                   # a byte of the payload
    rpm.write_bytes(bytes(data))
    checked = rpm_k(rpm, db)
    assert checked.returncode != 0 and "NOT OK" in checked.stdout, checked.stdout


# --- the bundle's repository on a host with dnf and no Docker ------------------------------------------

@pytest.fixture(scope="module")
def signed_bundle(hello_work, engine, signer, tmp_path_factory):
    run = invoke("bundle", "--arch", "amd64", "--gpg-key", signer["fpr"],
                 env=dict(hello_work["env"], GNUPGHOME=str(signer["home"])))
    assert run.code == 0, run.text[-4000:]
    archive = hello_work["root"] / "dist" / "mysqlbuild-hello-1.0-amd64-bundle.tar.gz"
    verified = subprocess.run(["gpg", "--batch", "--homedir", str(signer["home"]), "--verify",
                               f"{archive}.asc", str(archive)], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr
    dest = tmp_path_factory.mktemp("carried-repo")
    with tarfile.open(archive) as tar:
        tar.extractall(dest)
    return dest / "mysqlbuild-hello-1.0-amd64-bundle"


AMD_TAG = "mysqlbuild-hello:1.0-amd64"


def test_install_sh_with_the_makers_key_loads_the_image_and_with_another_loads_nothing(signed_bundle, signer,
                                                                                        engine):
    engine.remove_image(AMD_TAG)
    script = str(signed_bundle / "install.sh")
    refused = subprocess.run(["sh", script, "--key", str(signer["other_public"])], capture_output=True, text=True)
    assert refused.returncode == 1 and "not with the key you gave" in refused.stderr, refused.stderr
    assert engine.image_id(AMD_TAG) is None, "nothing may be loaded from a bundle that fails its signature check"
    loaded = subprocess.run(["sh", script, "--key", str(signer["public"]), "--image"], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert f"signed by the key you gave ({signer['fpr']})" in loaded.stdout
    assert engine.image_id(AMD_TAG)


@pytest.fixture(scope="module")
def dnf_host(engine, signed_bundle, signer, tmp_path_factory):
    assert engine.image_id(AMD_BASE), "the hello build makes the Debian base"
    dnfhost.build(engine, AMD_BASE, DNF_HOST, tmp_path_factory.mktemp("dnf-host"))
    keys = {str(signer["public"]): {"bind": "/keys/builds.asc", "mode": "ro"},
            str(signer["other_public"]): {"bind": "/keys/else.asc", "mode": "ro"}}
    host = Host(engine, DNF_HOST, signed_bundle, systemd=False, mounts=keys)
    host.first = host.snapshot()
    yield host
    host.remove()


def churn(lines: set[str]) -> set[str]:
    """Listing lines of what dnf and rpm keep for themselves."""
    return {line for line in lines if any(f" {p}" in line for p in DNF_CHURN)}


def test_a_bundle_signed_by_another_key_changes_nothing_on_the_host(dnf_host):
    result = dnf_host.install("--key", "/keys/else.asc", "--rpms")
    assert result.code == 1, result
    assert "SHA256SUMS.asc was made with the key" in result.err and "nothing was installed" in result.err
    assert dnf_host.snapshot() == dnf_host.first


def test_a_state_folder_others_may_write_stops_the_install(dnf_host):
    dnf_host.sh("mkdir -m 1777 /var/lib/mysqlbuild-bundle")
    first = dnf_host.snapshot()
    result = dnf_host.install("--key", "/keys/builds.asc", "--rpms")
    assert result.code == 1, result
    assert ("/var/lib/mysqlbuild-bundle must be a folder of root's that only root may write; it is not, so I stop "
            "before changing anything") in result.err
    assert "stopped after changing this host" not in result.err
    assert dnf_host.snapshot() == first
    dnf_host.sh("rmdir /var/lib/mysqlbuild-bundle")


def test_install_sh_puts_the_repository_and_key_in_place_and_dnf_installs_hello(dnf_host, signer):
    # A file at the name install.sh once staged the .repo file under: it must write through nothing it did not make.
    dnf_host.sh("echo untouched >/root/victim && "
                f"ln -s /root/victim /etc/yum.repos.d/{REPO_ID}.repo.mysqlbuild-new")
    result = dnf_host.install("--key", "/keys/builds.asc", "--rpms")
    assert result.code == 0, result
    assert f"SHA256SUMS is signed by the key you gave ({signer['fpr']})" in result.out
    assert "installed the repository /var/lib/mysqlbuild-repo/hello (1 RPM(s))" in result.out
    assert f"imported the repository's key into rpm: gpg-pubkey-{signer['key_id']}-" in result.out
    assert "installed: hello-1.0-1.x86_64" in result.out
    assert dnf_host.sh("hello").code == 0
    assert dnf_host.sh("cat /root/victim").out == "untouched\n"
    dnf_host.sh(f"rm /etc/yum.repos.d/{REPO_ID}.repo.mysqlbuild-new /root/victim")
    repo_file = dnf_host.sh(f"cat /etc/yum.repos.d/{REPO_ID}.repo").out
    assert "baseurl=file:///var/lib/mysqlbuild-repo/hello/$basearch/" in repo_file and "repo_gpgcheck=1" in repo_file
    checked = dnf_host.sh("rpm -K /var/lib/mysqlbuild-repo/hello/x86_64/Packages/hello-1.0-1.x86_64.rpm")
    assert checked.out.strip().endswith("digests signatures OK"), checked
    before = dnf_host.snapshot()
    again = dnf_host.install("--key", "/keys/builds.asc", "--rpms")
    assert again.code == 0, again
    assert "holds this bundle's packages already" in again.out
    assert before ^ dnf_host.snapshot() <= churn(before ^ dnf_host.snapshot()), "a second run changes nothing"


def test_dnf_refuses_an_rpm_changed_in_the_hosts_repository(dnf_host):
    package = "/var/lib/mysqlbuild-repo/hello/x86_64/Packages/hello-1.0-1.x86_64.rpm"
    dnf_host.sh(f"cp {package} /root/hello.rpm && printf 'x' | dd of={package} bs=1 seek=5000 conv=notrunc")
    refused = dnf_host.sh("dnf -y reinstall hello")
    assert refused.code != 0, refused
    assert "incorrect checksum" in refused.out + refused.err or "GPG check FAILED" in refused.out + refused.err
    dnf_host.sh(f"cp /root/hello.rpm {package} && rm /root/hello.rpm")


def test_uninstall_takes_back_the_repository_and_the_key_and_leaves_hello_installed(dnf_host):
    result = dnf_host.install(script="/var/lib/mysqlbuild-bundle/uninstall.sh")
    assert result.code == 0, result
    assert "removed the repository /var/lib/mysqlbuild-repo/hello" in result.out
    assert f"removed /etc/yum.repos.d/{REPO_ID}.repo" in result.out
    assert "removed the repository's key from rpm (gpg-pubkey-" in result.out
    assert "remove them yourself when nothing needs them: dnf remove hello" in result.out
    assert dnf_host.sh("rpm -q gpg-pubkey").code != 0
    assert dnf_host.sh("rpm -q hello").code == 0, "the packages stay: they may hold a database"
    removed = dnf_host.sh("dnf -y remove hello")
    assert removed.code == 0, removed
    left = dnf_host.first ^ dnf_host.snapshot()
    assert left - churn(left) == set(), "the host is as it was, but for dnf's and rpm's own records"
