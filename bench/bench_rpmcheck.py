#!/usr/bin/env python3
"""The RPM checks of mysqlbuild.rpmcheck against the alternatives it was weighed with: prints figures.

    .venv/bin/python bench/bench_rpmcheck.py [--size-mb 256] [--rounds 5] [--payload gzip|xz|zstd]

Two inputs: "big" is bench_pipeline.py's RPM (one ELF header followed by
size_mb MiB of random bytes: the payload reader's cost); "many" holds this
host's own ELF executables and libraries up to size_mb MiB (real files with
sections and DT_NEEDED: the ELF parser's cost, as in a package of binaries
and plugins).  Variants, each in a fresh process on the same RPM:
- module: mysqlbuild.rpmcheck as it is (payload with libarchive-c, our ELF parser);
- rpm2cpio: the payload reader before libarchive (rpm2cpio piped into our cpio reader);
- rpmfile: payload with rpmfile (pure Python), our ELF parser;
- pyelftools: the module's payload reader, ELF part with pyelftools.
Printed: MiB/s of check_rpms, the part of it spent in parse_elf, the process's
peak memory (ru_maxrss, as bench_pipeline.py; rpm2cpio's own is not in it),
a digest of the parse_elf results (the same for every variant), and ratios
to --ref.  The alternatives live here, not in the package.
"""
from __future__ import annotations

import argparse
import binascii
import functools
import io
import json
import mmap
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the alternatives, behind the module's functions ------------------------------

def pyelftools_parse_elf(data):
    """parse_elf with pyelftools: the same ElfInfo, None for anything but an ELF executable or library."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile
    from elftools.elf.enums import ENUM_E_MACHINE

    from mysqlbuild.rpmcheck import ElfInfo

    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None
    stream = data if isinstance(data, mmap.mmap) else io.BytesIO(data)
    stream.seek(0)
    try:
        elf = ELFFile(stream)
        if elf["e_type"] not in ("ET_EXEC", "ET_DYN"):
            return None
        machine = elf["e_machine"]
        machine = ENUM_E_MACHINE.get(machine, machine) if isinstance(machine, str) else machine
        aligns, needed = [], []
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_LOAD":
                aligns.append(segment["p_align"])
            elif segment["p_type"] == "PT_DYNAMIC":
                needed += [tag.needed for tag in segment.iter_tags("DT_NEEDED")]
    except (ELFError, ValueError, EOFError):
        return None
    return ElfInfo(machine=machine, load_aligns=tuple(aligns), needed=tuple(needed))


def _as_data(blocks: Iterator[bytes], head: bytes, size: int):
    """What the module does with a file's data: bytes up to IN_MEMORY, else a read-only mmap of a spool file."""
    from mysqlbuild import rpmcheck

    if size <= rpmcheck.IN_MEMORY:
        return head + b"".join(blocks), None
    spool = tempfile.TemporaryFile()
    spool.write(head)
    for block in blocks:
        spool.write(block)
    spool.flush()
    return mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ), spool


def rpmfile_iter_payload(path: Path, *, only_elf: bool = False):
    """iter_payload with rpmfile: gzip/lzma modules in-process; members are listed first, then extracted."""
    import rpmfile

    with rpmfile.open(str(path)) as rpm:
        for member in rpm.getmembers():
            if member.isdir or member.issymlink or not member.size:
                continue
            handle = rpm.extractfile(member)
            head = handle.read(4)
            if only_elf and head != b"\x7fELF":
                continue
            data, spool = _as_data(iter(functools.partial(handle.read, 64 << 10), b""), head, member.size)
            try:
                yield member.name.lstrip("."), data
            finally:
                if spool is not None:
                    data.close()
                    spool.close()


# The module's payload reader before libarchive, verbatim but for its name: the yardstick.

def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks = []
    while size:
        block = stream.read(size)
        if not block:
            raise EOFError
        chunks.append(block)
        size -= len(block)
    return b"".join(chunks)


def _skip(stream: IO[bytes], size: int, out: IO[bytes] | None = None) -> None:
    """Read `size` bytes in chunks, into `out` when given: never all at once."""
    while size:
        block = stream.read(min(size, 1 << 20))
        if not block:
            raise EOFError
        if out is not None:
            out.write(block)
        size -= len(block)


def iter_cpio(stream: IO[bytes], *, only_elf: bool = False) -> Iterator[tuple[str, int, bytes | None]]:
    """Entries of a 'newc' cpio archive: (name, mode, data of regular files).

    Files up to rpmcheck.IN_MEMORY bytes come as bytes; larger ones as a read-only
    mmap of a temporary file, valid until the next entry, so that memory
    stays flat whatever the size of mysqld.  With only_elf, other files are
    skipped unread (data None)."""
    from mysqlbuild import rpmcheck

    offset = 0
    while True:
        header = _read_exact(stream, 110)
        offset += 110
        magic = header[:6]
        if magic not in (b"070701", b"070702"):
            raise ValueError(f"unsupported cpio header {magic!r}")
        values = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, filesize, namesize = values[1], values[6], values[11]
        name = _read_exact(stream, namesize)[:-1].decode("utf-8", "replace")
        offset += namesize
        pad = (-offset) % 4
        _read_exact(stream, pad)
        offset += pad
        if name == "TRAILER!!!":
            return
        data = spool = None
        if (mode & 0o170000) == 0o100000 and filesize:
            head = _read_exact(stream, min(4, filesize))
            rest = filesize - len(head)
            if only_elf and head != b"\x7fELF":
                _skip(stream, rest)
            elif filesize <= rpmcheck.IN_MEMORY:
                data = head + _read_exact(stream, rest)
            else:
                spool = tempfile.TemporaryFile()
                spool.write(head)
                _skip(stream, rest, spool)
                spool.flush()
                data = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
        else:
            _skip(stream, filesize)
        offset += filesize
        pad = (-offset) % 4
        _read_exact(stream, pad)
        offset += pad
        try:
            yield name.lstrip("."), mode, data
        finally:
            if spool is not None:
                data.close()
                spool.close()


def rpm2cpio_iter_payload(path: Path, *, only_elf: bool = False) -> Iterator[tuple[str, bytes]]:
    """The module's reader before libarchive (as it was): rpm2cpio decompresses, iter_cpio reads."""
    from mysqlbuild.errors import CheckError, EngineError

    try:
        proc = subprocess.Popen(["rpm2cpio", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise EngineError("rpm2cpio is not installed on this host; it is needed to check the built RPMs",
                          "install it: apt-get install rpm (Debian/Ubuntu)") from None
    assert proc.stdout is not None
    try:
        for name, _mode, data in iter_cpio(proc.stdout, only_elf=only_elf):
            if data is not None:
                yield name, data
    except (EOFError, ValueError) as exc:
        proc.kill()
        proc.wait()
        err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
        raise CheckError(f"{path.name}: cannot read its payload ({exc or 'truncated'}) {err}".strip(),
                         "the RPM is damaged or uses a payload compression this host's rpm2cpio lacks") from None
    finally:
        proc.stdout.close()
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


VARIANTS = {
    "module": {},
    "rpm2cpio": {"iter_payload": rpm2cpio_iter_payload},
    "rpmfile": {"iter_payload": rpmfile_iter_payload},
    "pyelftools": {"parse_elf": pyelftools_parse_elf},
}
IMPORTS = {"module": "libarchive", "rpm2cpio": None, "rpmfile": "rpmfile", "pyelftools": "elftools.elf.elffile"}


# --- measuring ------------------------------------------------------------------

SPEC = ("Name: {name}\nVersion: 1\nRelease: 1\nSummary: b\nLicense: MIT\n%description\nb\n%install\n"
        "mkdir -p %{{buildroot}}/usr/lib64\ncp -a %{{_sourcedir}}/files %{{buildroot}}/usr/lib64/{name}\n"
        "%files\n/usr/lib64/{name}\n")
PAYLOADS = {"gzip": "w1.gzdio", "xz": "w2.xzdio", "zstd": "w3.zstdio"}


def host_elf_files(limit: int) -> list[Path]:
    """Regular ELF files of this host (executables and libraries, real ones), up to `limit` bytes in all."""
    out, total = [], 0
    for top in ("/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/sbin", "/usr/libexec"):
        for root, dirs, files in sorted(os.walk(top)):
            dirs.sort()
            for name in sorted(files):
                path = Path(root, name)
                if path.is_symlink() or not path.is_file():
                    continue
                try:
                    with open(path, "rb") as handle:
                        if handle.read(4) != b"\x7fELF":
                            continue
                except OSError:
                    continue
                size = path.stat().st_size
                if total + size > limit:
                    continue
                out.append(path)
                total += size
    return out


def make_rpm(work: Path, kind: str, size_mb: int, payload: str) -> tuple[Path, str]:
    """big: bench_pipeline.py's RPM (one ELF header then size_mb MiB of random bytes), for aarch64;
    many: this host's real ELF files (x86_64), up to size_mb MiB, as in a package of binaries and plugins."""
    from elfmaker import make_elf

    top = work / kind
    for sub in ("SOURCES/files", "SPECS", "RPMS", "BUILD", "BUILDROOT"):
        (top / sub).mkdir(parents=True)
    if kind == "big":
        target, arch = "aarch64", "arm64"
        with open(top / "SOURCES" / "files" / "big.so", "wb") as handle:
            handle.write(make_elf(183, (0x10000,), ("libc.so.6",)))
            for _ in range(size_mb):
                handle.write(os.urandom(1 << 20))
    else:
        target, arch = "x86_64", "amd64"
        for index, path in enumerate(host_elf_files(size_mb << 20)):
            shutil.copyfile(path, top / "SOURCES" / "files" / f"{index:04}-{path.name}")
    (top / "SPECS" / "b.spec").write_text(SPEC.format(name=kind))
    subprocess.run(["rpmbuild", "-bb", "--target", target, "--define", f"_topdir {top}",
                    "--define", "__os_install_post %{nil}", "--define", "debug_package %{nil}",
                    "--define", f"_binary_payload {PAYLOADS[payload]}", "--nodeps", str(top / "SPECS" / "b.spec")],
                   check=True, capture_output=True)
    return next((top / "RPMS").rglob("*.rpm")), arch


def run_variant(name: str, rpm: Path, arch: str, size_mb: float) -> dict:
    from mysqlbuild import rpmcheck
    from mysqlbuild.archs import ARCHS

    for attr, func in VARIANTS[name].items():
        setattr(rpmcheck, attr, func)
    for module in filter(None, (IMPORTS[name], IMPORTS["module"] if name == "pyelftools" else None)):
        __import__(module)  # before the clock, like the module's own imports
    parse, elf = rpmcheck.parse_elf, {"s": 0.0, "n": 0, "infos": []}

    def timed_parse(data):
        t0 = time.perf_counter()
        info = parse(data)
        elf["s"] += time.perf_counter() - t0
        elf["n"] += 1
        elf["infos"].append(info)
        return info

    rpmcheck.parse_elf = timed_parse
    base = peak_mib()
    start = time.perf_counter()
    rpmcheck.check_rpms([rpm], ARCHS[arch], check_align=arch == "arm64", forbid_libs=("libjemalloc",))
    seconds = time.perf_counter() - start
    digest = f"{binascii.crc32(repr(elf['infos']).encode()):08x}"  # same results from every variant?
    return {"s": seconds, "mib_s": size_mb / seconds, "elf_s": elf["s"], "payload_s": seconds - elf["s"],
            "elf_files": elf["n"], "peak_before": base, "peak_self": peak_mib(), "results": digest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5, help="runs of each variant, interleaved; medians printed")
    parser.add_argument("--input", choices=("big", "many"), action="append",
                        help="big: one large ELF (bench_pipeline.py's); many: this host's ELF files (default: both)")
    parser.add_argument("--payload", choices=sorted(PAYLOADS), default="gzip", help="the RPM's payload compression")
    parser.add_argument("--ref", choices=sorted(VARIANTS), default="rpm2cpio", help="the variant ratios are to")
    parser.add_argument("--variant", choices=sorted(VARIANTS), help="run one variant in this process (internal)")
    parser.add_argument("--rpm", type=Path, help="with --variant: the RPM to check")
    parser.add_argument("--arch", default="arm64", help="with --variant: the target")
    parser.add_argument("--mib", type=float, help="with --variant: the payload's size, for MiB/s")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.rpm, args.arch, args.mib)))
        return
    print(f"RPM checks, {args.payload} payload, python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"median of {args.rounds} (peak: ru_maxrss of the checking process)")
    work = Path(tempfile.mkdtemp(prefix="bench-rpmcheck-"))
    try:
        for kind in args.input or ("big", "many"):
            rpm, arch = make_rpm(work, kind, args.size_mb, args.payload)
            mib = sum(p.stat().st_size for p in (work / kind / "SOURCES" / "files").iterdir()) / (1 << 20)
            print(f"{kind}: {mib:.0f} MiB in {len(list((work / kind / 'SOURCES' / 'files').iterdir()))} files, "
                  f"RPM {rpm.stat().st_size / (1 << 20):.0f} MiB")
            results: dict[str, list[dict]] = {name: [] for name in VARIANTS}
            for _ in range(args.rounds):
                for name in VARIANTS:
                    proc = subprocess.run([sys.executable, __file__, "--variant", name, "--rpm", str(rpm),
                                           "--arch", arch, "--mib", str(mib)], capture_output=True, text=True)
                    if proc.returncode != 0:
                        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
                        print(f"  {name:10} failed: {last}")
                        continue
                    results[name].append(json.loads(proc.stdout))
            medians = {name: {k: (statistics.median(r[k] for r in runs) if k != "results" else runs[0][k])
                              for k in runs[0]} for name, runs in results.items() if runs}
            ours = medians.get(args.ref)
            for name, med in medians.items():
                line = (f"  {name:10} {med['mib_s']:7.1f} MiB/s ({med['s']:.2f} s: payload {med['payload_s']:.2f} s, "
                        f"ELF {med['elf_s'] * 1000:.1f} ms for {med['elf_files']:.0f})  peak {med['peak_self']:5.1f} MiB"
                        f"  results {med['results']}")
                if ours and name != args.ref:
                    line += (f"  | x {args.ref}: time {med['s'] / ours['s']:.2f}, payload {med['payload_s'] / ours['payload_s']:.2f}"
                             f", ELF {med['elf_s'] / ours['elf_s']:.1f}, peak {med['peak_self'] / ours['peak_self']:.2f}")
                print(line)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
