#!/usr/bin/env python3
"""Benchmarks of the pipeline's own work (not of MySQL's compile): prints figures.

    .venv/bin/python bench/bench_pipeline.py [--size-mb 256]

- download: streaming a file from a loopback HTTP server into the cache
  (throughput, and the process's peak memory: it must not grow with the file);
- sha256 of a cached file (what every fetch and skip check pays);
- RPM checks on an RPM holding one large ELF file (payload read with libarchive + ELF
  parsing; bench_rpmcheck.py compares them with the alternatives);
- planning the MySQL build (keys of every stage; what a no-op rerun costs).
Each part runs in a fresh process, so peak memory is its own.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_download(size_mb: int) -> dict:
    from httpfiles import FileServer, Route
    from mysqlbuild.progress import Reporter
    from mysqlbuild.recipe import Source
    from mysqlbuild.sources import Fetcher
    import hashlib

    work = Path(tempfile.mkdtemp(prefix="bench-dl-"))
    try:
        blob = work / "blob"
        with open(blob, "wb") as handle:
            for _ in range(size_mb):
                handle.write(os.urandom(1 << 20))
        digest = hashlib.sha256(blob.read_bytes()).hexdigest()
        server = FileServer()
        # Serve from a file-like route: read once here (outside the measured fetch's streaming).
        server.routes["/blob.tar.gz"] = Route(blob.read_bytes())
        blob.unlink()
        base = peak_mib()
        fetcher = Fetcher(work / "cache", Reporter(io.StringIO()))
        start = time.perf_counter()
        fetcher.fetch(Source("blob.tar.gz", digest, (server.url("/blob.tar.gz"),)))
        seconds = time.perf_counter() - start
        server.close()
        return {"download_mib_s": size_mb / seconds, "download_s": seconds,
                "peak_mib_before": base, "peak_mib_after": peak_mib()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def part_sha256(size_mb: int) -> dict:
    from mysqlbuild.sources import sha256_file

    with tempfile.NamedTemporaryFile() as handle:
        for _ in range(size_mb):
            handle.write(os.urandom(1 << 20))
        handle.flush()
        start = time.perf_counter()
        sha256_file(Path(handle.name))
        seconds = time.perf_counter() - start
    return {"sha256_mib_s": size_mb / seconds, "peak_mib": peak_mib()}


def part_rpmcheck(size_mb: int) -> dict:
    from elfmaker import make_elf
    from mysqlbuild.archs import ARCHS
    from mysqlbuild.rpmcheck import check_rpms

    work = Path(tempfile.mkdtemp(prefix="bench-rpm-"))
    try:
        top = work / "top"
        for sub in ("SOURCES", "SPECS", "RPMS", "BUILD", "BUILDROOT"):
            (top / sub).mkdir(parents=True)
        elf = make_elf(183, (0x10000,), ("libc.so.6",))
        with open(top / "SOURCES" / "big.so", "wb") as handle:
            handle.write(elf)
            for _ in range(size_mb):
                handle.write(os.urandom(1 << 20))
        (top / "SPECS" / "big.spec").write_text(
            "Name: big\nVersion: 1\nRelease: 1\nSummary: b\nLicense: MIT\n%description\nb\n%install\n"
            "install -D -m 0755 %{_sourcedir}/big.so %{buildroot}/usr/lib64/big.so\n%files\n/usr/lib64/big.so\n")
        subprocess.run(["rpmbuild", "-bb", "--target", "aarch64", "--define", f"_topdir {top}",
                        "--define", "__os_install_post %{nil}", "--define", "debug_package %{nil}",
                        "--define", "_binary_payload w1.gzdio", "--nodeps", str(top / "SPECS" / "big.spec")],
                       check=True, capture_output=True)
        rpm = next((top / "RPMS").rglob("*.rpm"))
        base = peak_mib()
        start = time.perf_counter()
        check_rpms([rpm], ARCHS["arm64"], forbid_libs=("libjemalloc",))
        seconds = time.perf_counter() - start
        return {"rpmcheck_s": seconds, "rpmcheck_mib_s": size_mb / seconds, "peak_mib_before": base,
                "peak_mib_after": peak_mib()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def part_plan(_: int) -> dict:
    from mysqlbuild.engine import ClientInfo, Engine
    from mysqlbuild.pipeline import Pipeline
    from mysqlbuild.progress import Reporter
    from mysqlbuild.settings import Settings

    engine = Engine(_client=ClientInfo("/usr/bin/docker", "20.10.24", buildx=False))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(arch="amd64,arm64", build_dir=tmp)
        pipeline = Pipeline(settings, Reporter(io.StringIO()), engine=engine)
        start = time.perf_counter()
        rounds = 20
        for _ in range(rounds):
            pipeline.plan("build")
        seconds = (time.perf_counter() - start) / rounds
    return {"plan_ms": seconds * 1000, "peak_mib": peak_mib()}


PARTS = {"download": part_download, "sha256": part_sha256, "rpmcheck": part_rpmcheck, "plan": part_plan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--part", choices=sorted(PARTS))
    args = parser.parse_args()
    if args.part:
        print(json.dumps(PARTS[args.part](args.size_mb)))
        return
    print(f"mysqlbuild benchmarks, {args.size_mb} MiB files, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    for name in PARTS:
        proc = subprocess.run([sys.executable, __file__, "--part", name, "--size-mb", str(args.size_mb)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"{name:9} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
            continue
        data = json.loads(proc.stdout)
        print(f"{name:9} " + "  ".join(f"{k}={v:.1f}" for k, v in data.items()))


if __name__ == "__main__":
    main()
