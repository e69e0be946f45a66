"""Helpers shared by the tests: fixture sources made reproducibly, recipe copies."""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
HELLO = TESTS / "recipes" / "hello"
FIXED_MTIME = 1700000000


def run_task(*args: str, env: dict | None = None, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    """`invoke <args>` as a user runs it, with no MYSQLBUILD_ variable but those of `env`."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("MYSQLBUILD_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, env=full, capture_output=True, text=True,
                          timeout=timeout)


def make_tarball(src_dir: Path, out: Path, prefix: str) -> str:
    """A .tar.gz of src_dir under prefix/, byte-for-byte reproducible; returns its sha256."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        folder = tarfile.TarInfo(prefix)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, FIXED_MTIME
        archive.addfile(folder)
        for path in sorted(p for p in src_dir.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(f"{prefix}/{path.relative_to(src_dir)}")
            data = path.read_bytes()
            info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
            archive.addfile(info, io.BytesIO(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as handle:
        with gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())
    return hashlib.sha256(out.read_bytes()).hexdigest()


def hello_tarball(out_dir: Path, src_dir: Path = HELLO / "src", version: str = "1.0") -> tuple[Path, str]:
    out = out_dir / f"hello-{version}.tar.gz"
    return out, make_tarball(src_dir, out, f"hello-{version}")


def copy_recipe(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def edit_recipe(recipe_dir: Path, edit) -> None:
    path = recipe_dir / "recipe.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def copy_recipe_elsewhere(src: Path, dest: Path) -> Path:
    """A copy of a recipe in another folder, its paths to the repository's files made absolute."""
    copy_recipe(src, dest)
    path = dest / "recipe.yaml"
    data = yaml.safe_load(path.read_text())
    for item in data.get("image", {}).get("files", []):
        item["src"] = str((src / item["src"]).resolve())
    if "tests" in data and not (dest / data["tests"]).is_dir():
        data["tests"] = str((src / data["tests"]).resolve())
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return dest
