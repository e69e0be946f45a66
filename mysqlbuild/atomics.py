"""How the machine code of an aarch64 ELF file does atomic operations, read from its instructions.

aarch64 has two ways to update memory atomically: load/store-exclusive loops (LL/SC: ``ldxr``/``ldaxr``
... ``stxr``), which every ARMv8 CPU runs, and the ARMv8.1 LSE instructions (``cas``, ``ldadd``, ``swp``,
...), which scale far better under contention on many-core servers but die with SIGILL on ARMv8.0 CPUs.
GCC 10 and later (and clang, with a GCC 10 runtime) compile atomics to calls of the outline-atomic
helpers (``__aarch64_ldadd8_acq_rel``, ...) by default: each helper holds both forms and picks LSE at run
time where the CPU has it.  The helpers are linked statically into each binary, and their names are gone
once it is stripped, so a file is classified by the instructions of its executable sections:

    dispatch  LSE and LL/SC instructions both: the helpers (run-time choice)
    lse       LSE only (-march=armv8-a+lse and later: ARMv8.1 CPUs only)
    llsc      LL/SC only (no LSE on any CPU: what a compiler without outline atomics makes)
    none      no atomic read-modify-write at all

Instructions are counted 32-bit word by word, with byte tables and big-integer arithmetic, so that a
100 MB mysqld takes well under a second (bench/bench_rpmcheck.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

SHT_PROGBITS = 1
SHF_EXECINSTR = 0x4

# Each class of instruction as (byte index in a little-endian word, mask, value) conditions, all of which
# hold.  Byte 3 holds bits 31..24, byte 2 bits 23..16, byte 1 bits 15..8 (Arm ARM, "Loads and Stores").
Pattern = Sequence[tuple[int, int, int]]
# LDXR, LDAXR, LDXRB/H, LDAXRB/H: bits 29..24 = 001000, o2 (23) = 0, L (22) = 1, o1 (21) = 0
LOAD_EXCLUSIVE: Pattern = ((3, 0x3F, 0x08), (2, 0xE0, 0x40))
# CAS, CASA, CASL, CASAL (and B/H): bits 29..24 = 001000, o2 = 1, o1 = 1, Rt2 (14..10) = 11111
CAS: Pattern = ((3, 0x3F, 0x08), (2, 0xA0, 0xA0), (1, 0x7C, 0x7C))
# CASP: bit 31 = 0, bits 29..24 = 001000, o2 = 0, o1 = 1, Rt2 = 11111
CASP: Pattern = ((3, 0xBF, 0x08), (2, 0xA0, 0x20), (1, 0x7C, 0x7C))
# LDADD, LDCLR, LDEOR, LDSET, LD[SU]MAX/MIN, SWP (and ST* aliases): bits 29..24 = 111000, bit 21 = 1,
# bits 11..10 = 00 ...
ATOMIC_MEMORY_OP: Pattern = ((3, 0x3F, 0x38), (2, 0x20, 0x20), (1, 0x0C, 0x00))
# ... except LDAPR (ARMv8.3 acquire load, no write), encoded in the same space: A R 1 Rs = 1 0 1 11111,
# o3 opc 00 = 1 100 00
LDAPR: Pattern = ((3, 0x3F, 0x38), (2, 0xFF, 0xBF), (1, 0xFC, 0xC0))

_TABLES: dict[tuple[int, int], bytes] = {}


def _table(mask: int, value: int) -> bytes:
    key = (mask, value)
    if key not in _TABLES:
        _TABLES[key] = bytes(1 if (b & mask) == value else 0 for b in range(256))
    return _TABLES[key]


def count(code: bytes, pattern: Pattern) -> int:
    """How many 32-bit little-endian words of `code` match every condition of `pattern`."""
    code = code[:len(code) - len(code) % 4]
    hits = -1
    for index, mask, value in pattern:
        column = bytes(code[index::4]).translate(_table(mask, value))   # one byte per word: 1 where it holds
        hits &= int.from_bytes(column, "little")
    return bin(hits).count("1") if hits > 0 else 0


@dataclass(frozen=True)
class Atomics:
    llsc: int      # load-exclusive instructions: one per LL/SC loop
    lse: int       # LSE instructions

    @property
    def kind(self) -> str:
        if self.lse and self.llsc:
            return "dispatch"
        if self.lse:
            return "lse"
        return "llsc" if self.llsc else "none"

    def describe(self) -> str:
        what = {"dispatch": "dispatches at run time (LSE where the CPU has it, LL/SC where not)",
                "lse": "LSE instructions only (ARMv8.1 CPUs only)",
                "llsc": "load/store-exclusive loops only (no LSE on any CPU)", "none": "no atomics"}[self.kind]
        return f"{what}: {self.lse} LSE, {self.llsc} load-exclusive instructions"


def executable_code(data: bytes) -> list[bytes]:
    """The contents of the executable sections (.text, .plt, .init, ...) of a 64-bit little-endian ELF file."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    out = []
    for index in range(shnum):
        start = shoff + index * shentsize
        if start + 64 > len(data):
            break
        _name, sh_type, sh_flags, _addr, sh_offset, sh_size = struct.unpack_from("<IIQQQQ", data, start)
        if sh_type == SHT_PROGBITS and sh_flags & SHF_EXECINSTR and sh_offset + sh_size <= len(data):
            out.append(data[sh_offset:sh_offset + sh_size])
    return out


def classify(data: bytes) -> Atomics:
    """The atomics of an aarch64 ELF file (executable or library), from its executable sections."""
    llsc = lse = 0
    for code in executable_code(data):
        llsc += count(code, LOAD_EXCLUSIVE)
        lse += count(code, CAS) + count(code, CASP) + count(code, ATOMIC_MEMORY_OP) - count(code, LDAPR)
    return Atomics(llsc=llsc, lse=lse)
