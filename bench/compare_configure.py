#!/usr/bin/env python3
"""Does MySQL 5.7 configure the same in cross mode as under emulation?  (issue: cross-compiling)

Runs MySQL's cmake, with the release tree's options of recipes/mysql57/mysql-community.spec and the
recipe's code generation flags, twice in the same aarch64 builder image: with the base's own GCC, all
under QEMU (emulate: the reference), and with the host toolchain's clang mounted and set up as the rpms
stage sets it up (cross: dockerfiles/toolchain-setup.sh), then compares:
  - include/my_config.h, every #define and #undef;
  - CMakeCache.txt entries HAVE_*, SIZEOF_*, *STACK_DIRECTION*, *ATOMIC*, *CRC32*, *FUTEX*, *FMA*, and
    CMAKE_SYSTEM_PROCESSOR / CMAKE_SYSTEM_NAME / CMAKE_CROSSCOMPILING.
Prints each difference; exits 1 when a difference is not in the explained list below (docs/build-modes.md
says why each explained one is harmless).  Emulated cmake takes about 14 minutes on 2 cores.

    .venv/bin/python bench/compare_configure.py --source mysql-boost-5.7.41.tar.gz \\
        --builder mysqlbuild-builder/mysql57:5.7.41-debian11-arm64 \\
        --toolchain mysqlbuild/toolchain:clang-16-amd64 [--out DIR]

The images are those `invoke builder --base debian11 --arch arm64` and `invoke toolchain --arch arm64` make.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mysqlbuild.engine import Engine  # noqa: E402
# The release tree's cmake options in mysql-community.spec (build_tree RelWithDebInfo ... "$cflags"),
# with the flags rpm gives aarch64 (%{optflags}: -O2 -g) and the recipe's codegen flags for aarch64.
CFLAGS = "-O2 -g -ffp-contract=off -moutline-atomics"
CMAKE_OPTIONS = [
    "-DBUILD_CONFIG=mysql_release", "-DINSTALL_LAYOUT=RPM", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
    "-DWITH_BOOST=/root/rpmbuild/BUILD/src/boost", f"-DCMAKE_C_FLAGS={CFLAGS} -fcommon", f"-DCMAKE_CXX_FLAGS={CFLAGS}",
    "-DWITH_SSL=system", "-DWITH_NUMA=ON", "-DWITH_INNODB_MEMCACHED=1", "-DWITH_SYSTEMD=1",
    "-DINSTALL_LIBDIR=lib64/mysql", "-DINSTALL_PLUGINDIR=lib64/mysql/plugin",
    "-DINSTALL_MYSQLTESTDIR=share/mysql-test", "-DMYSQL_UNIX_ADDR=/var/lib/mysql/mysql.sock",
    "-DWITH_EMBEDDED_SERVER=0", "-DFEATURE_SET=community", "-DCMAKE_INSTALL_SO_NO_EXE=0",
]
CACHE_KEYS = re.compile(r"^(HAVE_\w+|SIZEOF_\w+|\w*STACK_DIRECTION\w*|\w*ATOMIC\w*|\w*CRC32\w*|\w*FUTEX\w*|"
                        r"\w*FMA\w*|CMAKE_SYSTEM_PROCESSOR|CMAKE_SYSTEM_NAME|CMAKE_CROSSCOMPILING)$")
# Differences that come from the compiler (the base's GCC in emulate, the host toolchain's clang in cross),
# not from the target: checks whether a compiler accepts a warning flag, and which compiler it is.
EXPLAINED = {
    re.compile(r"^HAVE_(C|CXX)_W|^HAVE_(CAST_FUNCTION_TYPE|CLASS_MEMACCESS|DISCARDED_QUALIFIERS|MAYBE_UNINITIALIZED|"
               r"STRINGOP_OVERFLOW|STRINGOP_TRUNCATION|SUGGEST_ATTRIBUTE_FORMAT|UNUSED_BUT_SET(_PARAMETER|_VARIABLE)?|"
               r"STRICT_ALIASING|PREPROCESSOR_WARNINGS)$"):
        "whether the compiler accepts a warning option: GCC and clang know different ones; warnings only",
    re.compile(r"^HAVE_(C|CXX)_(FLOATING_POINT_FUSED_MADD|SHIFT_OR_OPTIMIZATION_BUG|FP_CONTRACT_FLAG)"
               r"(_COMPILED|_EXITCODE)?$"):
        "checks MySQL runs for GCC only; for clang it sets its clang flags (-fPIC -fno-omit-frame-pointer "
        "-fno-strict-aliasing, as for GCC), and the recipe's codegen.flags give both -ffp-contract=off",
    re.compile(r"^HAVE_SUPPORTED_CLANG_VERSION(_COMPILED|_EXITCODE)?$"): "a check MySQL runs for clang only",
    re.compile(r"^HAVE___CONST$"): "group replication's `int main(__const int *)` probe, which clang refuses as "
                                   "a signature of main; nothing but the Windows build reads the result",
}

SCRIPT = """set -e
mkdir -p /root/rpmbuild/BUILD/src /root/rpmbuild/BUILD/tree
tar xzf /source.tar.gz -C /root/rpmbuild/BUILD/src --strip-components=1
if [ -d /opt/mysqlbuild/toolchain ]; then
    sh /scripts/toolchain-setup.sh /opt/mysqlbuild/toolchain aarch64-linux-gnu /opt/mysqlbuild/target
    . /opt/mysqlbuild/target/env
fi
cd /root/rpmbuild/BUILD/tree
start=$(date +%s)
cmake /root/rpmbuild/BUILD/src "$@" > /out/cmake.log 2>&1 || { tail -n 40 /out/cmake.log; exit 1; }
echo "cmake took $(( $(date +%s) - start )) s" | tee -a /out/cmake.log
cp include/my_config.h CMakeCache.txt /out/
"""


def configure(image: str, source: Path, out: Path, name: str, toolchain: Path | None = None) -> float:
    out.mkdir(parents=True, exist_ok=True)
    mounts = ["-v", f"{source.resolve()}:/source.tar.gz:ro", "-v", f"{out.resolve()}:/out",
              "-v", f"{ROOT / 'dockerfiles'}:/scripts:ro"]
    if toolchain is not None:
        mounts += ["-v", f"{toolchain}:/opt/mysqlbuild/toolchain:ro"]
    argv = ["docker", "run", "--rm", "--platform", "linux/arm64", *mounts, "-w", "/root/rpmbuild/BUILD", image,
            "bash", "-c", SCRIPT, "configure", *CMAKE_OPTIONS]
    print(f"[{name}] {image}: cmake ...", flush=True)
    start = time.monotonic()
    proc = subprocess.run(argv)
    took = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"[{name}] cmake failed (exit {proc.returncode}); log: {out / 'cmake.log'}")
    print(f"[{name}] done in {took:.0f} s", flush=True)
    return took


def config_h(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"^\s*#\s*(define|undef)\s+(\w+)\s*(.*)$", line)
        if match:
            kind, name, value = match.groups()
            found[name] = value.strip() if kind == "define" else "(undef)"
    return found


def cache(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"^(\w+):\w+=(.*)$", line)
        if match and CACHE_KEYS.match(match.group(1)):
            found[match.group(1)] = match.group(2)
    return found


def compare(what: str, emulate: dict[str, str], cross: dict[str, str]) -> list[tuple[str, str, str, str]]:
    rows = []
    for key in sorted(set(emulate) | set(cross)):
        a, b = emulate.get(key, "(absent)"), cross.get(key, "(absent)")
        if a != b:
            why = next((text for pattern, text in EXPLAINED.items() if pattern.search(key)), "")
            rows.append((f"{what} {key}", a, b, why))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="the mysql-boost tarball")
    parser.add_argument("--builder", required=True, help="the aarch64 builder image (the same in both modes)")
    parser.add_argument("--toolchain", required=True, help="the host toolchain image (invoke toolchain)")
    parser.add_argument("--out", type=Path, help="keep the configured files here (default: a temporary folder)")
    parser.add_argument("--reuse", choices=("cross", "emulate"), action="append", default=[],
                        help="take that mode's files from an earlier run in --out instead of configuring again")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="compare-configure-"))
    times = {}
    for name in ("cross", "emulate"):
        if name in args.reuse:
            if not (out / name / "my_config.h").is_file():
                sys.exit(f"--reuse {name}: no earlier run in {out / name}")
            log = (out / name / "cmake.log").read_text(errors="replace")
            took = re.search(r"cmake took (\d+) s", log)
            times[name] = float(took.group(1)) if took else 0.0
            print(f"[{name}] reused from {out / name}", flush=True)
        else:
            # The toolchain image's packed folder, copied out to mount it as the rpms stage does.
            toolchain = (Engine().copy_out(args.toolchain, "/opt/mysqlbuild/toolchain", out)
                         if name == "cross" else None)
            times[name] = configure(args.builder, args.source, out / name, name, toolchain)
    rows = compare("my_config.h", config_h(out / "emulate" / "my_config.h"), config_h(out / "cross" / "my_config.h"))
    rows += compare("CMakeCache", cache(out / "emulate" / "CMakeCache.txt"), cache(out / "cross" / "CMakeCache.txt"))
    defines = len(config_h(out / "emulate" / "my_config.h"))
    entries = len(cache(out / "emulate" / "CMakeCache.txt"))
    print(f"\ncmake: emulate {times['emulate']:.0f} s, cross {times['cross']:.0f} s; compared {defines} "
          f"my_config.h symbols and {entries} CMakeCache entries; files in {out}")
    unexplained = [r for r in rows if not r[3]]
    for key, a, b, why in rows:
        mark = "  explained" if why else "UNEXPLAINED"
        print(f"{mark}  {key}: emulate {a!r}, cross {b!r}" + (f"  ({why})" if why else ""))
    print(f"{len(rows)} difference(s), {len(unexplained)} unexplained")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
