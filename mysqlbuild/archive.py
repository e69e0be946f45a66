"""Image archives for hosts with no registry: `docker save` + gzip, with a .sha256.

The archive is the classic `docker save` layout (manifest.json, repositories,
one tar per layer), which Docker 18.09 loads; gzip is accepted by
`docker load` on every version.  It is written beside the old one and
renamed into place, with its checksum file, only when complete.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
from pathlib import Path

from .engine import Engine
from .errors import CheckError
from .progress import Reporter
from .sources import sha256_file


def checksum_path(archive: Path) -> Path:
    return archive.with_name(archive.name + ".sha256")


def write_checksum(path: Path, digest: str) -> Path:
    """A sha256sum-compatible file beside `path`, written atomically."""
    target = checksum_path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(tmp, target)
    return target


def read_checksum(path: Path) -> str:
    target = checksum_path(path)
    if not target.is_file():
        raise CheckError(f"{path}: no checksum file {target.name} beside it, so it cannot be trusted",
                         "copy the .sha256 file that was written with the archive next to it")
    text = target.read_text().split()
    if not text or len(text[0]) != 64:
        raise CheckError(f"{target}: not a sha256 checksum file", "copy the original .sha256 file again")
    return text[0]


def save(engine: Engine, reporter: Reporter, tag: str, dest: Path) -> str:
    """Write `dest` (.tar.gz) and `dest.sha256`; returns the sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    digest = hashlib.sha256()

    class _Hashing:
        def __init__(self, handle):
            self.handle = handle

        def write(self, data):
            digest.update(data)
            return self.handle.write(data)

        def flush(self):
            self.handle.flush()

    written = 0
    try:
        with open(tmp, "wb") as raw:
            hashing = _Hashing(raw)
            with gzip.GzipFile(filename="", mode="wb", fileobj=hashing, mtime=0, compresslevel=6) as out:
                for chunk in engine.save_chunks([tag]):
                    out.write(chunk)
                    written += len(chunk)
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sha = digest.hexdigest()
    write_checksum(dest, sha)
    reporter.note(f"{dest}: {written / 2**20:.1f} MiB image, {dest.stat().st_size / 2**20:.1f} MiB compressed, "
                  f"sha256 {sha}")
    return sha


def verify(path: Path) -> str:
    if not path.is_file():
        raise CheckError(f"archive {path} not found", "give the path of a .tar.gz written by `invoke save`")
    expected = read_checksum(path)
    actual = sha256_file(path)
    if actual != expected:
        raise CheckError(f"{path} is damaged: its sha256 is {actual}, but {checksum_path(path).name} says {expected}",
                         "copy the archive again (a transfer was cut short or altered it); nothing was loaded")
    return actual


def load(engine: Engine, reporter: Reporter, path: Path) -> list[str]:
    verify(path)
    reporter.note(f"{path}: sha256 verified")
    return engine.load(path)


def manifest(path: Path) -> list[dict]:
    """The manifest.json of a `docker save` archive (what `docker load` of 18.09 reads)."""
    try:
        with tarfile.open(path, "r:*") as archive:
            member = archive.extractfile("manifest.json")
            if member is None:
                raise KeyError("manifest.json")
            return json.load(member)
    except (KeyError, tarfile.TarError, OSError, json.JSONDecodeError) as exc:
        raise CheckError(f"{path}: not a docker save archive ({exc})") from None
