"""Checks on built RPMs, run before they replace the last good ones: this module owns reading
their headers, digests and payloads, and the checks on every ELF file of the payload.

- the architecture in each RPM's header is the target's (or noarch);
- ``rpm -K`` accepts the package's digests;
- every ELF file in the payload is for the target machine and, on aarch64,
  has LOAD segments aligned to at least 64 KiB: Kylin V10 and other ARM
  distributions run 64K-page kernels, which refuse smaller alignments;
- no ELF file needs a forbidden library (jemalloc and tcmalloc built on 4K
  hosts abort on 64K-page kernels with "Unsupported system page size");
- on aarch64, how each ELF file does atomic operations (atomics.py): run-time
  LSE dispatch, LSE only, or load/store-exclusive loops only; when the recipe
  asks for dispatch, a file with LL/SC loops only fails the check.

Libraries weighed (bench/bench_rpmcheck.py: 256 MiB of payload, median of 5, peak = ru_maxrss):
- payload: libarchive-c, adopted: 202 MiB/s, peak 21.3 MiB vs 166 MiB/s, 18.8 MiB for rpm2cpio and
  our cpio reader (one ELF, gzip); as fast or faster on 154 real ELF files in gzip, xz and zstd RPMs.
  rpmfile: 75 vs 115 MiB/s on those files (gzip; 25 vs 39 with xz: it decompresses twice), peak 41.0
  vs 35.3 MiB, and zstd payloads need the zstandard module and are read whole into memory.
- ELF headers: ours kept.  pyelftools gave the same results but spent 335 ms vs 3.4 ms in parse_elf
  on those 154 files: 182 vs 288 MiB/s for the whole check (zstd), peak 49.2 vs 42.6 MiB.
"""
from __future__ import annotations

import mmap
import struct
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from . import atomics as elf_atomics
from . import proc
from .archs import Arch
from .errors import CheckError, EngineError

MIN_ALIGN_AARCH64 = 0x10000
IN_MEMORY = 8 << 20  # larger payload files are spooled to disk and mapped
BLOCK = 64 << 10  # libarchive read size: 1 MiB blocks cost 4-5 MiB more peak, and no time
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5
RPM_NEEDED_FOR = "check the built RPMs"


@dataclass(frozen=True)
class RpmInfo:
    path: Path
    name: str
    version: str
    release: str
    arch: str
    atomics: tuple[tuple[str, elf_atomics.Atomics], ...] = ()    # aarch64 ELF files that do atomics

    @property
    def evr(self) -> str:
        return f"{self.version}-{self.release}"


@dataclass(frozen=True)
class ElfInfo:
    machine: int
    load_aligns: tuple[int, ...]
    needed: tuple[str, ...]


def read_header(path: Path) -> RpmInfo:
    result = proc.run(["rpm", "-qp", "--nosignature", "--qf", "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n",
                       str(path)], check=False, needed_for=RPM_NEEDED_FOR)
    fields = result.stdout.strip().split("\t")
    if result.returncode != 0 or len(fields) != 4:
        raise CheckError(f"{path.name}: not a readable RPM ({result.stderr.strip() or result.stdout.strip()})")
    return RpmInfo(path, *fields)


def check_digests(path: Path) -> None:
    result = proc.run(["rpm", "-K", str(path)], check=False, needed_for=RPM_NEEDED_FOR)
    out = result.output
    if result.returncode != 0 or "NOT OK" in out:
        raise CheckError(f"{path.name}: rpm -K failed: {out}", "the RPM is damaged; rebuild it with --force")


# --- the payload -------------------------------------------------------------

def load_libarchive():
    try:
        import libarchive
    except (ImportError, OSError, AttributeError):  # no binding, or no C library (ctypes finds nothing)
        raise EngineError("libarchive is not installed on this host; it reads the payloads of the built RPMs",
                          "install it: apt-get install libarchive13 (libarchive13t64 on Ubuntu 24.04) "
                          "or yum install libarchive, and pip install libarchive-c") from None
    return libarchive


def _first_bytes(blocks: Iterator[bytes], size: int) -> list[bytes]:
    """Blocks from the start of a file until they hold `size` bytes (or the file ends)."""
    out, have = [], 0
    while have < size:
        block = next(blocks, b"")
        if not block:
            break
        out.append(block)
        have += len(block)
    return out


def iter_payload(path: Path, *, only_elf: bool = False) -> Iterator[tuple[str, bytes]]:
    """Regular files of an RPM's payload, read in-process by libarchive (lead and header skipped, any
    payload compression rpm uses).

    Files up to IN_MEMORY bytes come as bytes; larger ones as a read-only
    mmap of a temporary file, valid until the next file, so that memory
    stays flat whatever the size of mysqld.  With only_elf, other files are
    skipped unread."""
    libarchive = load_libarchive()
    try:
        with libarchive.file_reader(str(path), format_name="cpio") as archive:
            for entry in archive:
                if not entry.isreg or not entry.size:
                    continue
                blocks = entry.get_blocks(BLOCK)
                chunks = _first_bytes(blocks, 4)
                if only_elf and b"".join(chunks)[:4] != b"\x7fELF":
                    continue  # libarchive skips the rest when it reads the next header
                name = entry.pathname
                if isinstance(name, bytes):
                    name = name.decode("utf-8", "replace")
                spool = None
                if entry.size <= IN_MEMORY:
                    data = b"".join(chunks + list(blocks))
                else:
                    spool = tempfile.TemporaryFile()
                    for block in chunks:
                        spool.write(block)
                    for block in blocks:
                        spool.write(block)
                    spool.flush()
                    data = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
                try:
                    yield name.lstrip("."), data
                finally:
                    if spool is not None:
                        data.close()
                        spool.close()
    except libarchive.ArchiveError as exc:
        raise CheckError(f"{path.name}: cannot read its payload ({exc.msg})",
                         "the RPM is damaged or uses a payload compression this host's libarchive lacks") from None


def parse_elf(data: bytes) -> ElfInfo | None:
    """Machine, LOAD alignments and DT_NEEDED of an ELF executable or library; None for anything else."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None
    elf_class, encoding = data[4], data[5]
    if elf_class not in (1, 2) or encoding not in (1, 2):
        return None
    end = "<" if encoding == 1 else ">"
    e_type, e_machine = struct.unpack_from(end + "HH", data, 16)
    if e_type not in (2, 3):  # ET_EXEC, ET_DYN: relocatable objects have no segments
        return None
    if elf_class == 2:
        phoff, = struct.unpack_from(end + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
        phfmt, ent = end + "IIQQQQQQ", "Qq"
    else:
        phoff, = struct.unpack_from(end + "I", data, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
        phfmt, ent = end + "IIIIIIII", "Ii"
    loads: list[tuple[int, int, int, int]] = []  # vaddr, offset, filesz, align
    dynamic: tuple[int, int] | None = None
    for index in range(phnum):
        start = phoff + index * phentsize
        if start + struct.calcsize(phfmt) > len(data):
            break
        fields = struct.unpack_from(phfmt, data, start)
        if elf_class == 2:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, p_align = fields
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _flags, p_align = fields
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz, p_align))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    return ElfInfo(machine=e_machine, load_aligns=tuple(load[3] for load in loads),
                   needed=_needed(data, end, ent, dynamic, loads))


def _needed(data: bytes, end: str, ent: str, dynamic, loads) -> tuple[str, ...]:
    if dynamic is None:
        return ()
    fmt = end + ent[0] * 2
    size = struct.calcsize(fmt)
    offset, length = dynamic
    names, strtab = [], None
    for pos in range(offset, min(offset + length, len(data) - size + 1), size):
        tag, value = struct.unpack_from(fmt, data, pos)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            names.append(value)
        elif tag == DT_STRTAB:
            strtab = value
    if strtab is None:
        return ()
    base = None
    for vaddr, file_offset, filesz, _align in loads:
        if vaddr <= strtab < vaddr + filesz:
            base = strtab - vaddr + file_offset
    if base is None:
        return ()
    out = []
    for value in names:
        start = base + value
        stop = data.find(b"\0", start)
        if 0 <= start < len(data) and stop > start:
            out.append(data[start:stop].decode("utf-8", "replace"))
    return tuple(out)


def check_payload(path: Path, arch: Arch, *, check_align: bool, forbid_libs: tuple[str, ...],
                  atomics: str = "") -> tuple[tuple[str, elf_atomics.Atomics], ...]:
    """Check every ELF file of one RPM; returns, when `atomics` names what the recipe asks for (aarch64),
    how each ELF file that does atomic operations does them."""
    found = []
    for name, data in iter_payload(path, only_elf=True):
        info = parse_elf(data)
        if info is None:
            continue
        if info.machine != arch.elf_machine:
            raise CheckError(f"{path.name}: {name} is an ELF file for machine {info.machine}, "
                             f"not {arch.rpm} ({arch.elf_machine})",
                             "the package holds binaries of another architecture; check the spec and the builder")
        if check_align and arch.rpm == "aarch64":
            small = [a for a in info.load_aligns if a < MIN_ALIGN_AARCH64]
            if small:
                raise CheckError(
                    f"{path.name}: {name} has LOAD segments aligned to {hex(min(small))}, below 64 KiB (0x10000); "
                    "it will not load on 64K-page kernels such as Kylin V10's",
                    "link with -Wl,-z,max-page-size=0x10000 (binutils' aarch64 default; something overrode it)")
        for lib in info.needed:
            for forbidden in forbid_libs:
                if lib.startswith(forbidden):
                    raise CheckError(
                        f"{path.name}: {name} needs {lib}, which this recipe forbids",
                        "jemalloc and tcmalloc built on 4K-page hosts abort on 64K-page kernels; build without them")
        if atomics and arch.rpm == "aarch64":
            result = elf_atomics.classify(data)
            if result.kind == "none":
                continue
            if atomics == "dispatch" and result.kind == "llsc":
                raise CheckError(
                    f"{path.name}: {name} {result.describe()}, but the recipe asks for run-time dispatch "
                    "(codegen.atomics: dispatch)",
                    "its compiler ignored -moutline-atomics: check that the spec adds %{mysqlbuild_codegen_flags} "
                    "to every compile (CFLAGS and CXXFLAGS), and that the compiler knows the option "
                    "(GCC 10 or newer, clang 16 or newer)")
            found.append((name, result))
    return tuple(found)


def check_rpms(rpms: list[Path], arch: Arch, *, check_align: bool = True,
               forbid_libs: tuple[str, ...] = (), atomics: str = "") -> list[RpmInfo]:
    if not rpms:
        raise CheckError("the build produced no RPM", "read the rpmbuild log: the spec may build no package")
    infos = []
    for path in sorted(rpms):
        info = read_header(path)
        if info.arch not in (arch.rpm, "noarch"):
            raise CheckError(f"{path.name}: its header says architecture {info.arch}, but the target is {arch.rpm}",
                             "the builder ran for another architecture; check --arch and the builder's base image")
        check_digests(path)
        found = check_payload(path, arch, check_align=check_align, forbid_libs=forbid_libs, atomics=atomics)
        infos.append(replace(info, atomics=found))
    return infos
