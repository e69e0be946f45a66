"""invoke repo with the real tools (gpg, rpmsign, createrepo_c, rpm), no Docker: small RPMs made by the host's
rpmbuild stand for a build's output, recorded as the rpms stage records what passed its checks.

What the hello fixture's real RPMs show to a user's own tools (rpm -K, dnf repoquery, a host that installs
them) is tested in tests/integration/test_7_rpm_repository.py; here: the key, what may go in, what a run
keeps, and the proof that signing leaves every byte the checks read as it was.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fixtures import HELLO, ROOT, copy_recipe, edit_recipe, run_task
from keys import export, keyring, make_key
from mysqlbuild import rpmrepo
from mysqlbuild.errors import ProgramMissing
from mysqlbuild.rpmcheck import read_header
from mysqlbuild.settings import resolve
from mysqlbuild.sources import sha256_file
from mysqlbuild.stages.rpms import rpm_digests
from mysqlbuild.state import State
from mysqlbuild.target import load_targets

TOOLS = ("rpmbuild", "rpmsign", "createrepo_c", "gpg")
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason="needs rpmbuild, rpmsign, createrepo_c and gpg (bash ci/setup-host.sh)")

SPEC = """\
Name: {name}
Version: {version}
Release: 1
Summary: a package standing for a built one
License: MIT
Requires: {requires}
%description
test
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {name} {version} > %{{buildroot}}/usr/share/{name}/VERSION
%files
/usr/share/{name}/VERSION
"""


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """A keyring with a key that signs, one that needs a passphrase, and two more that share a name."""
    home = tmp_path_factory.mktemp("gnupg")
    with keyring(home):
        found = {"good": make_key(home, "Build signing <build@example.invalid>"),
                 "locked": make_key(home, "Locked <locked@example.invalid>", passphrase="not given"),
                 "twin1": make_key(home, "Twin one <twins@example.invalid>"),
                 "twin2": make_key(home, "Twin two <twins@example.invalid>"),
                 "home": home}
        yield found


class Work:
    """A hello recipe whose rpms stage 'built' small RPMs: files under rpmbuild/RPMS/<arch>/ and the record of
    their checks in the target's state, exactly as the stage leaves them."""

    def __init__(self, root: Path):
        self.root = root
        self.recipe = copy_recipe(HELLO, root / "hello")
        self.env = {"MYSQLBUILD_RECIPE": str(self.recipe), "MYSQLBUILD_BUILD_DIR": str(root / "build"),
                    "MYSQLBUILD_RPM_DIR": str(root / "rpmbuild" / "RPMS"), "MYSQLBUILD_REPO_DIR": str(root / "repo"),
                    "MYSQLBUILD_PROGRESS": "plain"}
        self.repo = root / "repo" / "hello"

    def target(self, arch: str, version: str = "1.0"):
        return load_targets(resolve({}, self.env, {"arch": arch, "version": version}), ROOT)[0]

    def build(self, arch: str, version: str = "1.0") -> dict[str, Path]:
        """RPMs hello and hello-data for `arch`, recorded as checked; {file name: path}."""
        t = self.target(arch, version)
        shutil.rmtree(t.rpm_out, ignore_errors=True)
        t.rpm_out.mkdir(parents=True)
        for name, requires in (("hello", f"hello-data = {version}-1"), ("hello-data", "/bin/sh")):
            top = self.root / f"top-{name}-{version}-{arch}"
            (top / "SPECS").mkdir(parents=True, exist_ok=True)
            spec = top / "SPECS" / f"{name}.spec"
            spec.write_text(SPEC.format(name=name, version=version, requires=requires))
            subprocess.run(["rpmbuild", "-bb", "--target", t.arch.rpm, "--define", f"_topdir {top}",
                            "--define", "__os_install_post %{nil}", "--nodeps", str(spec)], check=True,
                           capture_output=True)
            (built,) = (top / "RPMS").rglob("*.rpm")
            shutil.copy(built, t.rpm_out / built.name)
        infos = [read_header(p) for p in sorted(t.rpm_out.glob("*.rpm"))]
        State(t.state_path).record("rpms", "key-of-this-test", {
            "rpms": rpm_digests(t.rpm_out),
            "packages": {i.name: {"evr": i.evr, "arch": i.arch, "file": i.path.name} for i in infos}})
        return {p.name: p for p in t.rpm_out.glob("*.rpm")}

    def repo_task(self, *args: str, key: str = "", home: Path | None = None):
        env = dict(self.env, **({"GNUPGHOME": str(home)} if home else {}))
        return run_task("repo", *args, *(["--gpg-key", key] if key else []), env=env)

    def manifest(self) -> dict:
        return json.loads((self.repo / rpmrepo.MANIFEST).read_text())

    def listed(self, arch: str) -> list[str]:
        """The packages the repository's primary metadata lists for `arch`, as name-version."""
        repomd = (self.repo / arch / "repodata" / "repomd.xml").read_text()
        primary = re.search(r'<location href="(repodata/[^"]*primary\.xml\.gz)"', repomd).group(1)
        text = gzip.decompress((self.repo / arch / primary).read_bytes()).decode()
        return sorted(f"{n}-{v}" for n, v in re.findall(r'<name>([^<]+)</name>.*?<version epoch="0" ver="([^"]+)"',
                                                        text, re.S))


@pytest.fixture
def work(tmp_path):
    return Work(tmp_path)


def digests(paths) -> dict[str, str]:
    return {Path(p).name: sha256_file(p) for p in paths}


def rpm_k(path: Path, dbpath: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["rpm", "--dbpath", str(dbpath), "-K", str(path)], capture_output=True, text=True)


# --- the key ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,said", [
    ("Nobody <nobody@example.invalid>", "no secret key named 'Nobody <nobody@example.invalid>'"),
    ("locked", "needs its passphrase, and no gpg-agent holds it"),
    ("twins@example.invalid", "names 2 secret keys"),
])
def test_a_key_that_cannot_sign_stops_before_anything_is_written(work, keys, name, said):
    built = work.build("amd64")
    before = digests(built.values())
    run = work.repo_task("--arch", "amd64", key=keys.get(name, name), home=keys["home"])
    assert run.returncode == 1, run.stdout
    assert said in run.stderr and "hint:" in run.stderr and "Traceback" not in run.stderr
    assert not (work.root / "repo").exists(), "nothing may be written"
    assert digests(built.values()) == before, "the built RPMs stay untouched"


# --- signing ------------------------------------------------------------------------------------

def test_signed_copies_keep_every_byte_the_checks_read_and_the_built_rpms_stay_as_built(work, keys, tmp_path):
    built = {**work.build("amd64"), **work.build("arm64")}
    before = digests(built.values())
    run = work.repo_task("--arch", "amd64,arm64", key=keys["good"], home=keys["home"])
    assert run.returncode == 0, run.stderr
    assert digests(built.values()) == before, "rpmsign must never touch rpmbuild/RPMS"
    db = tmp_path / "rpmdb"
    db.mkdir()
    export(keys["home"], keys["good"], tmp_path / "key.asc")
    subprocess.run(["rpm", "--dbpath", str(db), "--import", str(tmp_path / "key.asc")], check=True)
    for name, original in built.items():
        arch = "aarch64" if "aarch64" in name else "x86_64"
        signed = work.repo / arch / "Packages" / name
        assert sha256_file(signed) != before[name], f"{name} was not signed"
        assert "digests signatures OK" in rpm_k(signed, db).stdout
        # The proof, with rpm's own reading of both files: the same main header and the same payload.
        query = ["rpm", "-qp", "--nosignature", "--qf", "%{SHA256HEADER} %{PAYLOADDIGEST}"]
        assert subprocess.run([*query, str(signed)], capture_output=True, text=True).stdout == \
            subprocess.run([*query, str(original)], capture_output=True, text=True).stdout
        cpio = [subprocess.run(["rpm2cpio", str(p)], capture_output=True, check=True).stdout
                for p in (signed, original)]
        assert cpio[0] == cpio[1]
        # And byte for byte: everything after the signature header, found without the module's own parser.
        data, plain = signed.read_bytes(), original.read_bytes()
        body = len(plain) - plain.index(rpmrepo.HEADER_MAGIC, rpmrepo.RPM_LEAD + 1)
        assert data[-body:] == plain[-body:]
    assert "each one's header and payload byte for byte as checked" in run.stdout


def test_the_repository_is_laid_out_by_arch_with_its_key_signature_and_repo_file(work, keys):
    work.build("amd64")
    work.build("arm64")
    run = work.repo_task("--arch", "amd64,arm64", "--repo-url", "http://repo.intranet/hello", key=keys["good"],
                         home=keys["home"])
    assert run.returncode == 0, run.stderr
    for arch in ("x86_64", "aarch64"):
        assert work.listed(arch) == ["hello-1.0", "hello-data-1.0"]
        assert (work.repo / arch / "repodata" / "repomd.xml.asc").is_file()
    key_file = work.repo / "RPM-GPG-KEY-mysqlbuild-hello"
    assert "BEGIN PGP PUBLIC KEY BLOCK" in key_file.read_text()
    text = (work.repo / "mysqlbuild-hello.repo").read_text()
    for line in ("[mysqlbuild-hello]", "baseurl=http://repo.intranet/hello/$basearch/", "gpgcheck=1",
                 "repo_gpgcheck=1", "gpgkey=http://repo.intranet/hello/RPM-GPG-KEY-mysqlbuild-hello"):
        assert line in text.splitlines()
    verified = subprocess.run(["gpg", "--batch", "--homedir", str(keys["home"]), "--verify",
                               str(work.repo / "x86_64" / "repodata" / "repomd.xml.asc"),
                               str(work.repo / "x86_64" / "repodata" / "repomd.xml")], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_without_a_key_the_command_and_the_repo_file_say_it_is_unsigned(work):
    work.build("amd64")
    run = work.repo_task("--arch", "amd64")
    assert run.returncode == 0, run.stderr
    assert "UNSIGNED: no gpg_key given" in run.stderr and "UNSIGNED" in run.stdout
    text = (work.repo / "mysqlbuild-hello.repo").read_text()
    assert "# UNSIGNED" in text and "gpgcheck=0" in text.splitlines() and "repo_gpgcheck=0" in text.splitlines()
    assert not list(work.repo.rglob("*.asc")) and not list(work.repo.glob("RPM-GPG-KEY-*"))


def test_an_unsigned_run_cannot_add_to_a_signed_repository_and_a_new_key_signs_everything_again(work, keys):
    work.build("amd64")
    assert work.repo_task("--arch", "amd64", key=keys["good"], home=keys["home"]).returncode == 0
    refused = work.repo_task("--arch", "amd64")
    assert refused.returncode == 1 and f"is signed with the key {keys['good']}" in refused.stderr
    other = make_key(keys["home"], "Next year's key <build@example.invalid>")
    again = work.repo_task("--arch", "amd64", key=other, home=keys["home"])
    assert again.returncode == 0, again.stderr
    manifest = work.manifest()
    assert manifest["signed_by"]["fingerprint"] == other
    assert {e["signed_by"] for e in manifest["packages"]} == {other}


# --- what goes in, and what a run keeps -------------------------------------------------------------

def test_versions_accumulate_and_the_metadata_lists_each_one(work, keys):
    edit_recipe(work.recipe, lambda data: data["versions"].update({"1.1": data["versions"]["1.0"]}))
    work.build("amd64", "1.0")
    assert work.repo_task("--arch", "amd64", "--version", "1.0", key=keys["good"], home=keys["home"]).returncode == 0
    work.build("amd64", "1.1")            # the rpm folder now holds 1.1 only, as after a real build of 1.1
    run = work.repo_task("--arch", "amd64", "--version", "1.1", key=keys["good"], home=keys["home"])
    assert run.returncode == 0, run.stderr
    assert work.listed("x86_64") == ["hello-1.0", "hello-1.1", "hello-data-1.0", "hello-data-1.1"]
    assert sorted(e["evr"] for e in work.manifest()["packages"]) == ["1.0-1", "1.0-1", "1.1-1", "1.1-1"]
    # 1.0's RPMs are no longer in rpmbuild/RPMS: asking for them again is refused, the repository keeps them.
    stale = work.repo_task("--arch", "amd64", "--version", "1.0", key=keys["good"], home=keys["home"])
    assert stale.returncode == 1 and "no RPMs that passed the checks" in stale.stderr
    assert work.listed("x86_64") == ["hello-1.0", "hello-1.1", "hello-data-1.0", "hello-data-1.1"]


def test_an_rpm_changed_after_its_checks_is_never_added(work):
    built = work.build("amd64")
    rpm = built["hello-1.0-1.x86_64.rpm"]
    rpm.write_bytes(rpm.read_bytes() + b"\0")
    run = work.repo_task("--arch", "amd64")
    assert run.returncode == 1
    assert "no RPMs that passed the checks" in run.stderr and "invoke rpms --arch amd64" in run.stderr
    assert not work.repo.exists()


def test_an_rpm_put_into_the_repository_by_hand_or_changed_there_stops_the_next_run(work):
    work.build("amd64")
    assert work.repo_task("--arch", "amd64").returncode == 0
    metadata = sorted((work.repo / "x86_64" / "repodata").iterdir())
    stranger = work.repo / "x86_64" / "Packages" / "other-1.0-1.x86_64.rpm"
    shutil.copy(work.repo / "x86_64" / "Packages" / "hello-1.0-1.x86_64.rpm", stranger)
    run = work.repo_task("--arch", "amd64")
    assert run.returncode == 1 and "x86_64/Packages/other-1.0-1.x86_64.rpm" in run.stderr
    assert "did not add" in run.stderr
    assert sorted((work.repo / "x86_64" / "repodata").iterdir()) == metadata, "the metadata stays as it was"
    stranger.unlink()
    data = work.repo / "x86_64" / "Packages" / "hello-data-1.0-1.x86_64.rpm"
    data.write_bytes(data.read_bytes()[:-1])
    edit_recipe(work.recipe, lambda d: d["versions"].update({"1.1": d["versions"]["1.0"]}))
    work.build("amd64", "1.1")
    run = work.repo_task("--arch", "amd64", "--version", "1.1")
    assert run.returncode == 1 and "hello-data-1.0-1.x86_64.rpm changed after invoke repo put it there" in run.stderr
    data.unlink()                         # what the hint says: remove it, and it leaves the metadata
    run = work.repo_task("--arch", "amd64", "--version", "1.1")
    assert run.returncode == 0, run.stderr
    assert "left out (deleted from the folder): x86_64/Packages/hello-data-1.0-1.x86_64.rpm" in run.stdout
    assert work.listed("x86_64") == ["hello-1.0", "hello-1.1", "hello-data-1.1"]


# --- the tools ------------------------------------------------------------------------------------

@pytest.mark.parametrize("missing,install", [("createrepo_c", "apt-get install createrepo-c"),
                                             ("rpmsign", "yum install rpm-sign")])
def test_a_missing_tool_is_named_with_what_to_install(work, keys, tmp_path, monkeypatch, missing, install):
    work.build("amd64")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("rpm", "gpg", "rpmsign", "createrepo_c", "gpgconf", "gpg-agent"):
        if tool != missing:
            os.symlink(shutil.which(tool), bin_dir / tool)
    monkeypatch.setenv("PATH", str(bin_dir))
    with keyring(keys["home"]):
        key = rpmrepo.signing.find_key(keys["good"])
        with pytest.raises(ProgramMissing) as raised:
            rpmrepo.make_repository(work.repo, rid="mysqlbuild-hello", title="hello", rpms=[], key=key,
                                    url="file:///srv/hello")
    assert f"{missing} is not installed on this host" in raised.value.message
    assert install in raised.value.hint
    assert not work.repo.exists()


def test_doctor_says_what_to_install_for_the_repository(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("rpm"), bin_dir / "rpm")
    proc = run_task("doctor", "--arch", "amd64", env={"PATH": f"{bin_dir}:{Path(os.sys.executable).parent}"})
    for tool, install in (("createrepo_c", "apt-get install createrepo-c"), ("rpmsign", "apt-get install rpm"),
                          ("gpg", "apt-get install gnupg")):
        assert f"[warn] {tool} on the host: not found" in proc.stdout
        assert f"fix: install it: {install}" in proc.stdout


def test_bundle_checks_the_tools_and_the_key_before_it_builds_anything(work, keys, tmp_path):
    env = dict(work.env, MYSQLBUILD_DIST_DIR=str(tmp_path / "dist"), GNUPGHOME=str(keys["home"]))
    wrong = run_task("bundle", "--arch", "amd64", "--gpg-key", "Nobody <nobody@example.invalid>", env=env)
    assert wrong.returncode == 1 and "no secret key named" in wrong.stderr
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("rpm", "gpg", "rpmsign", "gpgconf", "gpg-agent", "docker"):
        if shutil.which(tool):
            os.symlink(shutil.which(tool), bin_dir / tool)
    env["PATH"] = f"{bin_dir}:{Path(os.sys.executable).parent}"
    missing = run_task("bundle", "--arch", "amd64", env=env)
    assert missing.returncode == 1
    assert "createrepo_c is not installed on this host" in missing.stderr and "createrepo-c" in missing.stderr
    assert not (work.root / "build").exists() and not (tmp_path / "dist").exists(), "no build started"
