"""The yum/dnf repository of the built RPMs: `invoke repo`, and the one an offline bundle carries.

A repository folder (``<repo_dir>/<recipe>/`` for invoke repo, ``repo/`` in a bundle):

    <rpm arch>/Packages/*.rpm            the RPMs, signed with the user's key (rpmsign)
    <rpm arch>/repodata/                 createrepo_c's metadata, and repomd.xml.asc, its signature
    RPM-GPG-KEY-<repo id>                the public key, when signed
    <repo id>.repo                       the file for /etc/yum.repos.d/, pointing at the URL given
    mysqlbuild-repo.json                 each RPM: as checked (sha256), its header and payload (sha256), signer

Only RPMs the rpms stage checked come in (the caller passes each with the sha256 recorded when its
checks passed; a file that differs is refused).  The repository keeps what earlier runs added, so
several versions and architectures live side by side; a file in it that no run added, or that
changed since, stops the run.

Signing works on copies: rpmsign rewrites a file in place, so the RPMs under rpmbuild/RPMS are never
given to it.  It adds to the signature header only; that the RPM checks still hold is proven, not
assumed: the bytes after the signature header (the header rpm -K digests, and the payload) of every
signed copy are compared with those of the checked RPM.

The new repository is made beside the old one and swapped in whole; a failure leaves the old one.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from . import proc, signing
from .errors import CheckError, ConfigError
from .signing import SigningKey
from .sources import sha256_file
from .stages.rpms import swap_dir

MANIFEST = "mysqlbuild-repo.json"
NEEDED_FOR = "make the yum repository (invoke repo, invoke bundle)"
RPM_LEAD = 96
HEADER_MAGIC = b"\x8e\xad\xe8\x01"
# Metadata every yum and dnf reads (EL7's yum 3 knows no zstd): sha256, gzip, with yum's sqlite files.
CREATEREPO_OPTIONS = ("--quiet", "--database", "--checksum", "sha256", "--general-compress-type", "gz")


@dataclass(frozen=True)
class CheckedRpm:
    """An RPM that passed the rpms stage's checks: where it is, and its sha256 as it passed them."""

    path: Path
    sha256: str
    arch: str          # the repository folder: the target's rpm arch (a noarch RPM goes into each)
    name: str
    evr: str


@dataclass(frozen=True)
class Made:
    """What make_repository did."""

    folder: Path
    repo_file: Path
    key_file: Path | None
    url: str
    key: SigningKey | None
    packages: tuple[dict, ...]       # the manifest's entries, every RPM in the repository
    added: tuple[str, ...]
    signed: tuple[str, ...]           # the files signed by this run (their header and payload compared)
    dropped: tuple[str, ...]          # recorded files that were deleted by hand: left out of the metadata


def checked_rpms(rpm_out: Path, arch: str, output: dict) -> list[CheckedRpm]:
    """The RPMs an rpms stage record lists (its output, once the caller found it current), as CheckedRpm."""
    return [CheckedRpm(rpm_out / p["file"], output["rpms"][p["file"]], arch, name, p["evr"])
            for name, p in sorted(output["packages"].items())]


def repo_id(recipe_name: str) -> str:
    return f"mysqlbuild-{recipe_name}"


def key_file_name(rid: str) -> str:
    return f"RPM-GPG-KEY-{rid}"


def body_sha256(path: Path) -> str:
    """sha256 of everything after an RPM's signature header: the main header (file list, digests,
    requirements; what rpm -K's header digests cover) and the payload.  Signing leaves it as it is."""
    with open(path, "rb") as handle:
        head = handle.read(RPM_LEAD + 16)
        if len(head) < RPM_LEAD + 16 or head[:4] != b"\xed\xab\xee\xdb" or head[RPM_LEAD:RPM_LEAD + 4] != HEADER_MAGIC:
            raise CheckError(f"{path.name}: not an RPM (no lead and signature header)")
        entries, size = struct.unpack(">II", head[RPM_LEAD + 8:RPM_LEAD + 16])
        end = RPM_LEAD + 16 + 16 * entries + size
        end += -end % 8                      # the signature header is padded to 8 bytes
        handle.seek(end)
        if handle.read(4) != HEADER_MAGIC:
            raise CheckError(f"{path.name}: no header after the signature header at byte {end}")
        handle.seek(end)
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def normalize_url(value: str, folder: Path) -> str:
    """The repository's base URL for the .repo file: http(s)://, file://, or an absolute path (file://);
    empty: the folder itself."""
    value = value.strip().rstrip("/")
    if not value:
        return "file://" + str(folder.resolve())
    if value.startswith(("http://", "https://", "file:///")):
        return value
    if value.startswith("/"):
        return "file://" + value
    raise ConfigError(f"repo_url {value!r} is neither an http(s):// or file:// URL nor an absolute path",
                      "e.g. --repo-url http://repo.intranet/mysql57 (a web server) or --repo-url "
                      "/mnt/share/mysql57 (a shared folder, as the hosts mount it)")


def repo_file_text(rid: str, title: str, url: str, key: SigningKey | None) -> str:
    lines = [f"# {title}: the yum/dnf repository made by mysqlbuild (invoke repo).",
             f"# Copy this file into /etc/yum.repos.d/ on each host; the packages are read from {url}/<arch>/."]
    if key is not None:
        lines += [f"# Signed with the GPG key {key.fingerprint} ({key.uid}): yum and dnf check each package",
                  "# (gpgcheck) and the repository metadata (repo_gpgcheck) against the key at gpgkey=."]
    else:
        lines += ["# UNSIGNED: made without a GPG key (invoke repo --gpg-key KEY signs it). Nothing here proves",
                  "# that these packages come from your build: yum and dnf check no signature (gpgcheck=0)."]
    lines += [f"[{rid}]", f"name={title} ($basearch)", f"baseurl={url}/$basearch/", "enabled=1"]
    if key is not None:
        lines += ["gpgcheck=1", "repo_gpgcheck=1", f"gpgkey={url}/{key_file_name(rid)}"]
    else:
        lines += ["gpgcheck=0", "repo_gpgcheck=0"]
    return "\n".join(lines) + "\n"


def sign_rpms(key: SigningKey, paths: list[Path]) -> None:
    """rpmsign --addsign, without a terminal, with the key's own gpg (rpm's default is gpg2, which Debian lacks).
    Header-only and header+payload signatures both (--rpmv3, where rpmsign has it): EL7's rpm reads either."""
    rpmsign = proc.require("rpmsign", NEEDED_FOR)
    v3 = ["--rpmv3"] if "--rpmv3" in proc.run([rpmsign, "--help"], check=False).stdout else []
    proc.run([rpmsign, "--addsign", *v3, "--define", f"__gpg {key.gpg}", "--define", f"_gpg_name {key.fingerprint}",
              "--define", "_gpg_digest_algo sha256",
              "--define", "_gpg_sign_cmd_extra_args " + " ".join(signing.BATCH),
              *[str(p) for p in paths]], what="rpmsign", needed_for=NEEDED_FOR,
             hint="the key signed a test file a moment ago; see rpmsign's output above")


def signer_of(path: Path) -> str:
    """The key id (16 hex digits, lowercase) of an RPM's header signature; empty when it has none."""
    shown = proc.run(["rpm", "-qp", "--nosignature", "--nodigest", "--qf", "%{RSAHEADER:pgpsig}|%{DSAHEADER:pgpsig}",
                      str(path)], what="rpm -qp", needed_for=NEEDED_FOR).stdout
    for part in shown.split("|"):
        if "Key ID" in part:
            return part.rsplit("Key ID", 1)[1].strip().lower()
    return ""


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another invoke repo is writing {folder}", "wait for it to finish") from None
        yield


def read_manifest(folder: Path) -> dict:
    """The repository's record (empty for a folder that does not exist yet)."""
    path = folder / MANIFEST
    if not folder.exists() or (not path.exists() and not any(folder.iterdir())):
        return {"packages": [], "signed_by": None}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise CheckError(f"{folder} holds no readable {MANIFEST}: it was not made by invoke repo",
                         "give another repo_dir, or move that folder away") from None


def _kept(folder: Path, record: dict, replaced: set[tuple[str, str]]) -> tuple[list[dict], list[str]]:
    """The recorded RPMs that stay, each checked against its record; and those deleted by hand."""
    recorded = {(e["arch"], e["file"]): e for e in record["packages"]}
    on_disk = {(p.parent.parent.name, p.name) for p in folder.glob("*/Packages/*.rpm")}
    strangers = sorted(f"{arch}/Packages/{name}" for arch, name in on_disk - set(recorded) - replaced)
    if strangers:
        raise CheckError(f"{folder} holds RPMs that invoke repo did not add, so nobody knows they passed the checks: "
                         + ", ".join(strangers), "remove them from the repository folder; add RPMs with invoke repo")
    kept, dropped = [], []
    for where, entry in sorted(recorded.items()):
        if where in replaced:
            continue
        path = folder / entry["arch"] / "Packages" / entry["file"]
        if where not in on_disk:
            dropped.append(f"{entry['arch']}/Packages/{entry['file']}")
            continue
        if sha256_file(path) != entry["sha256"]:
            raise CheckError(f"{path} changed after invoke repo put it there",
                             "remove it (the next invoke repo leaves it out of the metadata), or put the RPM back "
                             "as it was")
        kept.append(entry)
    return kept, dropped


def _place(source: Path, dest: Path, link: bool) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(source, dest)
            return
        except OSError:
            pass
    shutil.copyfile(source, dest)


def require_tools(signed: bool) -> None:
    """The programs a repository needs, or ProgramMissing saying what to install (before any work starts)."""
    for program in ("createrepo_c", "rpm", *(("rpmsign", "gpg") if signed else ())):
        proc.require(program, NEEDED_FOR)


def make_repository(folder: Path, *, rid: str, title: str, rpms: list[CheckedRpm], key: SigningKey | None,
                    url: str) -> Made:
    """Add `rpms` to the repository at `folder` (made when missing), sign what needs it, write the metadata."""
    require_tools(signed=key is not None)
    with _locked(folder):
        record = read_manifest(folder)
        old_key = (record.get("signed_by") or {}).get("fingerprint")
        if key is None and old_key and record["packages"]:
            raise ConfigError(f"the repository {folder} is signed with the key {old_key}: an unsigned run would "
                              "mix signed and unsigned packages",
                              f"give that key (--gpg-key {old_key}), or make an unsigned repository in another "
                              "repo_dir")
        new = {(r.arch, r.path.name): r for r in rpms}
        kept, dropped = _kept(folder, record, set(new))
        staging = folder.with_name(f".{folder.name}.new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            entries, to_sign = [], []
            for entry in kept:
                dest = staging / entry["arch"] / "Packages" / entry["file"]
                resign = key is not None and entry.get("signed_by") != key.fingerprint
                _place(folder / entry["arch"] / "Packages" / entry["file"], dest, link=not resign)
                if resign:
                    to_sign.append((dest, dict(entry)))
                else:
                    entries.append(dict(entry))
            for (arch, name), rpm in sorted(new.items()):
                dest = staging / arch / "Packages" / name
                _place(rpm.path, dest, link=False)           # a copy: rpmsign rewrites files in place
                if sha256_file(dest) != rpm.sha256:
                    raise CheckError(f"{rpm.path} is not the RPM that passed the checks (its sha256 changed)",
                                     "build it again (invoke rpms --force); nothing was added")
                entry = {"file": name, "arch": arch, "name": rpm.name, "evr": rpm.evr, "checked_sha256": rpm.sha256,
                         "body_sha256": body_sha256(dest), "signed_by": None}
                if key is not None:
                    to_sign.append((dest, entry))
                else:
                    entries.append(dict(entry, sha256=rpm.sha256))
            if to_sign:
                sign_rpms(key, [dest for dest, _ in to_sign])
                for dest, entry in to_sign:
                    if body_sha256(dest) != entry["body_sha256"]:
                        raise CheckError(f"signing changed the header or payload of {dest.name}",
                                         "rpmsign must add to the signature header only; check the rpm version")
                    if signer_of(dest) not in key.key_ids:
                        raise CheckError(f"{dest.name}: rpmsign left no signature of {key.fingerprint}")
                    entries.append(dict(entry, signed_by=key.fingerprint, sha256=sha256_file(dest)))
            for arch in sorted({e["arch"] for e in entries}):
                proc.run(["createrepo_c", *CREATEREPO_OPTIONS, str(staging / arch)], what="createrepo_c",
                         needed_for=NEEDED_FOR)
                if key is not None:
                    signing.detach_sign(key, staging / arch / "repodata" / "repomd.xml")
            if key is not None:
                signing.export_public(key, staging / key_file_name(rid))
            repo_file = staging / f"{rid}.repo"
            repo_file.write_text(repo_file_text(rid, title, url, key))
            entries.sort(key=lambda e: (e["arch"], e["name"], e["file"]))
            signed_by = {"fingerprint": key.fingerprint, "uid": key.uid} if key is not None else None
            (staging / MANIFEST).write_text(json.dumps({"repo_id": rid, "url": url, "signed_by": signed_by,
                                                        "packages": entries}, indent=2) + "\n")
            swap_dir(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Made(folder=folder, repo_file=folder / f"{rid}.repo",
                key_file=folder / key_file_name(rid) if key is not None else None, url=url, key=key, packages=tuple(entries),
                added=tuple(f"{a}/Packages/{n}" for a, n in sorted(new)),
                signed=tuple(f"{e['arch']}/Packages/{e['file']}" for _, e in to_sign), dropped=tuple(dropped))
