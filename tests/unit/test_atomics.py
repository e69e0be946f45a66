"""How an aarch64 ELF file does atomics, read from its instructions (mysqlbuild/atomics.py).

The instruction words below are what llvm-mc -triple=aarch64 -mattr=+lse,+rcpc encodes for each line;
the ELF files are made by tests/elfmaker.py with those words as their .text.
"""
from __future__ import annotations

import struct

import pytest

from elfmaker import make_elf
from mysqlbuild.atomics import Atomics, classify, count, LOAD_EXCLUSIVE
from mysqlbuild.errors import CheckError

WORDS = {
    "ldaxr x0, [x1]": 0xC85FFC20,
    "ldxrb w0, [x1]": 0x085F7C20,
    "stlxr w2, x0, [x1]": 0xC802FC20,
    "casal w0, w1, [x2]": 0x88E0FC41,
    "caspal x0, x1, x2, x3, [x4]": 0x4860FC82,
    "ldaddal x1, x0, [x2]": 0xF8E10040,
    "swpal x1, x0, [x2]": 0xF8E18040,
    "stadd x1, [x2]": 0xF821005F,
    "ldapr x0, [x1]": 0xF8BFC020,     # an acquire load, no write: not an atomic update
    "ldar x0, [x1]": 0xC8DFFC20,      # likewise
    "ldxp x0, x1, [x2]": 0xC87F0440,  # a pair load: not counted (one ldaxr per loop is enough)
    "nop": 0xD503201F,
    "ret": 0xD65F03C0,
}
LSE = ["casal w0, w1, [x2]", "caspal x0, x1, x2, x3, [x4]", "ldaddal x1, x0, [x2]", "swpal x1, x0, [x2]",
       "stadd x1, [x2]"]
LLSC = ["ldaxr x0, [x1]", "ldxrb w0, [x1]"]
OTHER = ["stlxr w2, x0, [x1]", "ldapr x0, [x1]", "ldar x0, [x1]", "ldxp x0, x1, [x2]", "nop", "ret"]


def code(*lines: str) -> bytes:
    return b"".join(struct.pack("<I", WORDS[line]) for line in lines)


def elf(*lines: str, data: bytes = b"") -> bytes:
    return make_elf(183, (0x10000,), text=code(*lines), rodata=data)


@pytest.mark.parametrize("line", LSE)
def test_each_lse_instruction_counts_as_lse(line):
    assert classify(elf(line, "ret")) == Atomics(llsc=0, lse=1)


@pytest.mark.parametrize("line", LLSC)
def test_each_load_exclusive_counts_once_per_loop(line):
    assert classify(elf(line, "stlxr w2, x0, [x1]", "ret")) == Atomics(llsc=1, lse=0)


@pytest.mark.parametrize("line", OTHER)
def test_other_instructions_are_no_atomic_update(line):
    assert classify(elf(line)) == Atomics(llsc=0, lse=0)


@pytest.mark.parametrize("lines,kind", [
    # What an outline-atomic helper holds: the LSE form and the LL/SC loop, one chosen at run time.
    (["ldaddal x1, x0, [x2]", "ret", "ldaxr x0, [x1]", "stlxr w2, x0, [x1]", "ret"], "dispatch"),
    (["casal w0, w1, [x2]", "ldaddal x1, x0, [x2]", "ret"], "lse"),
    (["ldaxr x0, [x1]", "stlxr w2, x0, [x1]", "ret"], "llsc"),
    (["nop", "ret"], "none"),
])
def test_files_are_classified_by_what_their_code_holds(lines, kind):
    assert classify(elf(*lines)).kind == kind


def test_data_outside_executable_sections_is_not_read():
    """.rodata that happens to hold instruction-like words must not count: only code is read."""
    result = classify(elf("nop", "ret", data=code("ldaxr x0, [x1]", "casal w0, w1, [x2]") * 50))
    assert result == Atomics(llsc=0, lse=0)


def test_counting_is_per_aligned_word():
    words = code("ldaxr x0, [x1]") * 3
    assert count(words, LOAD_EXCLUSIVE) == 3
    assert count(b"\0\0" + words[:-2], LOAD_EXCLUSIVE) == 0      # shifted by half a word: no instruction
    assert count(b"", LOAD_EXCLUSIVE) == 0


def test_the_rpm_check_fails_a_file_with_llsc_only_when_dispatch_is_asked(tmp_path):
    from test_rpmcheck import make_rpm

    from mysqlbuild.archs import ARCHS
    from mysqlbuild.rpmcheck import check_rpms

    arm = ARCHS["arm64"]
    llsc = make_rpm(tmp_path, "llsc", "aarch64", elf("ldaxr x0, [x1]", "stlxr w2, x0, [x1]", "ret"))
    with pytest.raises(CheckError) as err:
        check_rpms([llsc], arm, atomics="dispatch")
    assert "load/store-exclusive loops only (no LSE on any CPU): 0 LSE, 1 load-exclusive" in err.value.message
    assert "codegen.atomics: dispatch" in err.value.message and "-moutline-atomics" in err.value.hint
    (info,) = check_rpms([llsc], arm, atomics="llsc")          # asked for: reported, not refused
    assert [(name, a.kind) for name, a in info.atomics] == [("/usr/lib64/llsc.so", "llsc")]
    dispatch = make_rpm(tmp_path, "dispatch", "aarch64",
                        elf("ldaddal x1, x0, [x2]", "ret", "ldaxr x0, [x1]", "stlxr w2, x0, [x1]"))
    (info,) = check_rpms([dispatch], arm, atomics="dispatch")
    assert [(name, a.kind, a.lse, a.llsc) for name, a in info.atomics] == [("/usr/lib64/dispatch.so", "dispatch", 1, 1)]
    (info,) = check_rpms([llsc], arm)                          # no codegen asked: nothing read
    assert info.atomics == ()
