"""Minimal but well-formed ELF files, to test the RPM checks without a cross compiler."""
from __future__ import annotations

import struct

DT_NULL, DT_NEEDED, DT_STRTAB = 0, 1, 5


SHT_PROGBITS, SHF_ALLOC, SHF_EXECINSTR = 1, 0x2, 0x4


def make_elf(machine: int = 183, aligns: tuple[int, ...] = (0x10000,), needed: tuple[str, ...] = (),
             e_type: int = 3, text: bytes = b"", rodata: bytes = b"") -> bytes:
    """A 64-bit little-endian ELF with one LOAD per alignment and a DYNAMIC segment naming `needed`; with
    `text` or `rodata`, also section headers for an executable .text and a data-only .rodata holding them."""
    phnum = len(aligns) + 1
    phoff, phentsize = 64, 56
    strtab = b"\0" + b"".join(name.encode() + b"\0" for name in needed)
    str_off = phoff + phnum * phentsize
    offsets, pos = [], 1
    for name in needed:
        offsets.append(pos)
        pos += len(name) + 1
    dyn_off = (str_off + len(strtab) + 7) & ~7
    entries = [(DT_NEEDED, o) for o in offsets] + [(DT_STRTAB, str_off), (DT_NULL, 0)]
    dynamic = b"".join(struct.pack("<qQ", tag, value) for tag, value in entries)
    total = dyn_off + len(dynamic)
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    header += struct.pack("<HHIQQQIHHHHHH", e_type, machine, 1, 0, phoff, 0, 0, 64, phentsize, phnum, 64, 0, 0)
    phdrs = b""
    for index, align in enumerate(aligns):
        vaddr = index * 0x200000
        size = total if index == 0 else 0
        phdrs += struct.pack("<IIQQQQQQ", 1, 5, 0, vaddr, vaddr, size, size, align)
    phdrs += struct.pack("<IIQQQQQQ", 2, 6, dyn_off, dyn_off, dyn_off, len(dynamic), len(dynamic), 8)
    body = header + phdrs + strtab
    body += b"\0" * (dyn_off - len(body))
    body += dynamic
    if not (text or rodata):
        return body
    sections = [struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    for content, flags in ((text, SHF_ALLOC | SHF_EXECINSTR), (rodata, SHF_ALLOC)):
        body += b"\0" * (-len(body) % 8)
        sections.append(struct.pack("<IIQQQQIIQQ", 0, SHT_PROGBITS, flags, 0, len(body), len(content), 0, 0, 4, 0))
        body += content
    body += b"\0" * (-len(body) % 8)
    shoff = len(body)
    body = body[:40] + struct.pack("<Q", shoff) + body[48:58] + struct.pack("<HH", 64, len(sections)) + body[62:]
    return body + b"".join(sections)
