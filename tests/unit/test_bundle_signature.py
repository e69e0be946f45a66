"""install.sh --key: a bundle's origin checked with the real gpg and the real script, before it reads bundle.env.

The bundle folders here are small (no image, no RPMs: what is checked is the same for any file), sealed by the
code that seals real bundles (delivery.seal: SHA256SUMS, and SHA256SUMS.asc made with the maker's key).  Their
bundle.env leaves a mark on the disk when the shell reads it: where install.sh stops, the mark must be absent,
which shows it stopped before it read anything it would act on.  invoke bundle --gpg-key itself, and install.sh
--key loading a real image and installing from a real repository, are tested in tests/integration.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fixtures import ROOT
from keys import export, keyring, make_key
from mysqlbuild import delivery, signing

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs gpg (apt-get install gnupg)")


@pytest.fixture(scope="module")
def makers(tmp_path_factory):
    """The bundle maker's key, and someone else's; their public keys as files."""
    home = tmp_path_factory.mktemp("gnupg")
    public = tmp_path_factory.mktemp("public")
    with keyring(home):
        maker, other = make_key(home, "Bundle maker <maker@example.invalid>"), make_key(home, "Other <o@example.invalid>")
        yield {"key": signing.find_key(maker), "public": export(home, maker, public / "maker.asc"),
               "other_public": export(home, other, public / "other.asc"), "other": signing.find_key(other)}


def bundle(folder: Path, key, mark: Path) -> Path:
    folder.mkdir()
    shutil.copy(ROOT / "delivery" / "install.sh", folder / "install.sh")
    (folder / "bundle.env").write_text(f"touch {mark}\nRPM_ARCH=x86_64\n")
    (folder / "image").mkdir()
    (folder / "image" / "archive.tar.gz").write_bytes(b"an image archive\n")
    delivery.seal(folder, key)
    return folder


def install(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(folder / "install.sh"), "--check", *args], capture_output=True, text=True,
                          cwd="/")


def test_a_bundle_signed_by_the_key_given_passes(makers, tmp_path):
    mark = tmp_path / "read"
    folder = bundle(tmp_path / "b", makers["key"], mark)
    done = install(folder, "--key", str(makers["public"]))
    assert done.returncode == 0, done.stderr
    assert f"SHA256SUMS is signed by the key you gave ({makers['key'].fingerprint})" in done.stdout
    assert "and signed by the key you gave; nothing installed" in done.stdout
    assert mark.exists()


def test_without_key_a_signed_bundle_is_checked_for_damage_and_says_how_to_check_its_origin(makers, tmp_path):
    folder = bundle(tmp_path / "b", makers["key"], tmp_path / "read")
    done = install(folder)
    assert done.returncode == 0 and "run me with --key FILE" in done.stdout


def refused(folder: Path, mark: Path, key: Path, said: str) -> None:
    done = install(folder, "--key", str(key))
    assert done.returncode == 1, done.stdout
    assert said in done.stderr and "nothing was installed" in done.stderr
    assert not mark.exists(), "install.sh read bundle.env of a bundle it refused"


def test_an_unsigned_bundle_is_refused_when_a_key_is_given(makers, tmp_path):
    mark = tmp_path / "read"
    refused(bundle(tmp_path / "b", None, mark), mark, makers["public"], "this bundle is not signed")


def test_a_bundle_signed_by_another_key_is_refused_naming_both(makers, tmp_path):
    mark = tmp_path / "read"
    folder = bundle(tmp_path / "b", makers["other"], mark)
    refused(folder, mark, makers["public"], f"SHA256SUMS.asc was made with the key {makers['other'].fingerprint[-16:]}")
    assert makers["key"].fingerprint in install(folder, "--key", str(makers["public"])).stderr


def test_a_changed_file_whose_checksum_was_rewritten_breaks_the_signature(makers, tmp_path):
    mark = tmp_path / "read"
    folder = bundle(tmp_path / "b", makers["key"], mark)
    (folder / "bundle.env").write_text(f"touch {mark}\nRPM_ARCH=x86_64\nIMAGE_TAG=evil\n")
    signature = (folder / "SHA256SUMS.asc").read_bytes()
    delivery.seal(folder, None)                    # the list made again, but not signed again
    (folder / "SHA256SUMS.asc").write_bytes(signature)
    refused(folder, mark, makers["public"], "the signature does not match SHA256SUMS")


def test_a_changed_file_fails_its_checksum(makers, tmp_path):
    mark = tmp_path / "read"
    folder = bundle(tmp_path / "b", makers["key"], mark)
    (folder / "image" / "archive.tar.gz").write_bytes(b"another image archive\n")
    refused(folder, mark, makers["public"], "image/archive.tar.gz: FAILED")


def test_a_file_the_list_does_not_name_is_refused(makers, tmp_path):
    mark = tmp_path / "read"
    folder = bundle(tmp_path / "b", makers["key"], mark)
    (folder / "image" / "extra.rpm").write_bytes(b"slipped in\n")
    refused(folder, mark, makers["public"], "files that SHA256SUMS does not list are in the bundle")


def test_a_file_that_is_no_key_is_refused(makers, tmp_path):
    mark = tmp_path / "read"
    folder = bundle(tmp_path / "b", makers["key"], mark)
    not_a_key = tmp_path / "key.txt"
    not_a_key.write_text("this is not a key\n")
    refused(folder, mark, not_a_key, "holds no public key gpg can read")


def test_install_sh_leaves_no_gpg_home_or_agent_behind(makers, tmp_path):
    folder = bundle(tmp_path / "b", makers["key"], tmp_path / "read")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(["sh", str(folder / "install.sh"), "--check", "--key", str(makers["public"])],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch)})
    assert done.returncode == 0, done.stderr
    assert list(scratch.iterdir()) == []
    left = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue                                    # gone while we looked
        if words and words[0].endswith(b"gpg-agent") and str(scratch).encode() in b" ".join(words):
            left.append(cmdline.parent.name)
    assert left == [], "install.sh left a gpg-agent running"
