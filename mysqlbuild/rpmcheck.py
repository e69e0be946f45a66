"""Checks on built RPMs, run before they replace the last good ones.

- the architecture in each RPM's header is the target's (or noarch);
- ``rpm -K`` accepts the package's digests;
- every ELF file in the payload is for the target machine and, on aarch64,
  has LOAD segments aligned to at least 64 KiB: Kylin V10 and other ARM
  distributions run 64K-page kernels, which refuse smaller alignments;
- no ELF file needs a forbidden library (jemalloc and tcmalloc built on 4K
  hosts abort on 64K-page kernels with "Unsupported system page size").
"""
from __future__ import annotations

import mmap
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

from .archs import Arch
from .errors import CheckError, EngineError

MIN_ALIGN_AARCH64 = 0x10000
IN_MEMORY = 8 << 20  # larger payload files are spooled to disk and mapped
PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


@dataclass(frozen=True)
class RpmInfo:
    path: Path
    name: str
    version: str
    release: str
    arch: str

    @property
    def evr(self) -> str:
        return f"{self.version}-{self.release}"


@dataclass(frozen=True)
class ElfInfo:
    machine: int
    load_aligns: tuple[int, ...]
    needed: tuple[str, ...]


def _rpm_tool(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, text=True)
    except FileNotFoundError:
        raise EngineError(f"{args[0]} is not installed on this host; it is needed to check the built RPMs",
                          "install it: apt-get install rpm (Debian/Ubuntu) or yum install rpm") from None


def read_header(path: Path) -> RpmInfo:
    proc = _rpm_tool(["rpm", "-qp", "--nosignature", "--qf", "%{NAME}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n",
                      str(path)])
    fields = proc.stdout.strip().split("\t")
    if proc.returncode != 0 or len(fields) != 4:
        raise CheckError(f"{path.name}: not a readable RPM ({proc.stderr.strip() or proc.stdout.strip()})")
    return RpmInfo(path, *fields)


def check_digests(path: Path) -> None:
    proc = _rpm_tool(["rpm", "-K", str(path)])
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or "NOT OK" in out:
        raise CheckError(f"{path.name}: rpm -K failed: {out}", "the RPM is damaged; rebuild it with --force")


# --- the payload -------------------------------------------------------------

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

    Files up to IN_MEMORY bytes come as bytes; larger ones as a read-only
    mmap of a temporary file, valid until the next entry, so that memory
    stays flat whatever the size of mysqld.  With only_elf, other files are
    skipped unread (data None)."""
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
            elif filesize <= IN_MEMORY:
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


def iter_payload(path: Path, *, only_elf: bool = False) -> Iterator[tuple[str, bytes]]:
    """Regular files of an RPM's payload, decompressed by rpm2cpio."""
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


def check_payload(path: Path, arch: Arch, *, check_align: bool, forbid_libs: tuple[str, ...]) -> int:
    """Check every ELF file of one RPM; returns how many ELF files were checked."""
    checked = 0
    for name, data in iter_payload(path, only_elf=True):
        info = parse_elf(data)
        if info is None:
            continue
        checked += 1
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
    return checked


def check_rpms(rpms: list[Path], arch: Arch, *, check_align: bool = True,
               forbid_libs: tuple[str, ...] = ()) -> list[RpmInfo]:
    if not rpms:
        raise CheckError("the build produced no RPM", "read the rpmbuild log: the spec may build no package")
    infos = []
    for path in sorted(rpms):
        info = read_header(path)
        if info.arch not in (arch.rpm, "noarch"):
            raise CheckError(f"{path.name}: its header says architecture {info.arch}, but the target is {arch.rpm}",
                             "the builder ran for another architecture; check --arch and the builder's base image")
        check_digests(path)
        check_payload(path, arch, check_align=check_align, forbid_libs=forbid_libs)
        infos.append(info)
    return infos
