#!/usr/bin/env python3
"""The rpms stage of one recipe in each build mode, timed in one run, with the ratios.

    .venv/bin/python bench/bench_modes.py                         # the hello fixture: native, cross, emulate
    .venv/bin/python bench/bench_modes.py --recipe PATH --base debian11 --modes native,cross   # MySQL

For each mode it first makes what the rpms stage needs (bases, sources, the host toolchain, builder images:
not timed), then
times `invoke rpms --force` as a whole process, with ccache off so that every object is compiled: amd64
natively, arm64 in cross mode, arm64 under emulation.  The rpms stage is everything the pipeline does for
the RPMs: the build context, the BuildKit build, rpmbuild (compile and packaging), bringing the RPMs home,
the RPM checks and the swap.  The figure rpmbuild prints for itself ("rpmbuild finished in N s") is shown
beside it, so what the pipeline adds around the compile can be read off.

Settings come from the environment as for invoke (MYSQLBUILD_*); without MYSQLBUILD_BUILD_DIR the runs
use a folder of their own under /var/tmp.  The hello fixture's source is served from a file:// mirror.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
RUNS = {"native": ("amd64", "native"), "cross": ("arm64", "cross"), "emulate": ("arm64", "emulate")}


def invoke(env: dict[str, str], *args: str, log: Path) -> float:
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT)
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"invoke {' '.join(args)} failed (exit {proc.returncode}); log: {log}")
    return took


def rpmbuild_seconds(build_dir: Path, arch: str) -> float | None:
    logs = sorted(build_dir.glob(f"**/*-{arch}/logs/rpms.log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return None
    match = re.search(r"rpmbuild finished in (\d+) s", logs[-1].read_text(errors="replace"))
    return float(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="", help="recipe name or folder (default: the hello fixture)")
    parser.add_argument("--base", default="", help="base of the recipe (default: its default_base)")
    parser.add_argument("--modes", default="native,cross,emulate", help="which of native, cross, emulate to time")
    parser.add_argument("--jobs", default="0", help="compile jobs (default: CPUs, one per 2 GB)")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - set(RUNS)
    if unknown:
        sys.exit(f"unknown mode(s) {', '.join(sorted(unknown))}: use native, cross, emulate")

    env = {k: v for k, v in os.environ.items()}
    env.update(MYSQLBUILD_PROGRESS="plain", MYSQLBUILD_CCACHE="0", MYSQLBUILD_JOBS=args.jobs)
    if "MYSQLBUILD_BUILD_DIR" not in env:
        work = Path(tempfile.mkdtemp(prefix="bench-modes-", dir="/var/tmp"))
        for name, sub in (("BUILD_DIR", "build"), ("RPM_DIR", "rpmbuild/RPMS"), ("DIST_DIR", "dist"),
                          ("CACHE_DIR", "cache")):
            env[f"MYSQLBUILD_{name}"] = str(work / sub)
    build_dir = Path(env["MYSQLBUILD_BUILD_DIR"])
    logs = build_dir / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    if args.recipe:
        env["MYSQLBUILD_RECIPE"] = args.recipe
    else:
        from fixtures import HELLO, hello_tarball

        mirror = build_dir / "mirror"
        hello_tarball(mirror)
        env.update(MYSQLBUILD_RECIPE=str(HELLO), MYSQLBUILD_MIRROR=f"file://{mirror}/")
    if args.base:
        env["MYSQLBUILD_BASE"] = args.base

    print(f"recipe {env['MYSQLBUILD_RECIPE']}, modes {', '.join(modes)}; logs in {logs}", flush=True)
    for mode in modes:
        arch, flag = RUNS[mode]
        print(f"preparing {mode} ({arch}): bases, sources, toolchain, builder image (not timed)", flush=True)
        invoke(env, "builder", "--arch", arch, "--mode", flag, log=logs / f"prepare-{mode}.log")
        invoke(env, "toolchain", "--arch", arch, "--mode", flag, log=logs / f"toolchain-{mode}.log")
        invoke(env, "fetch", "--arch", arch, log=logs / f"fetch-{mode}.log")
    figures: dict[str, tuple[float, float | None]] = {}
    for mode in modes:
        arch, flag = RUNS[mode]
        print(f"timing   {mode} ({arch}): invoke rpms --force ...", flush=True)
        took = invoke(env, "rpms", "--arch", arch, "--mode", flag, "--force", log=logs / f"rpms-{mode}.log")
        figures[mode] = (took, rpmbuild_seconds(build_dir, arch))
        inner = figures[mode][1]
        print(f"  {mode:<8} rpms stage {took:8.1f} s" + (f"   (rpmbuild itself {inner:.0f} s)" if inner else ""),
              flush=True)

    print("\nmode      arch    rpms stage   rpmbuild   around it")
    for mode, (took, inner) in figures.items():
        around = f"{took - inner:7.1f} s" if inner else "      ?"
        print(f"{mode:<9} {RUNS[mode][0]:<7} {took:9.1f} s  {inner or 0:7.0f} s  {around}")
    base = figures.get("native", (None,))[0]
    for mode in ("cross", "emulate"):
        if mode in figures and base:
            print(f"{mode} / native: {figures[mode][0] / base:.2f}")
    if "cross" in figures and "emulate" in figures:
        print(f"emulate / cross: {figures['emulate'][0] / figures['cross'][0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
