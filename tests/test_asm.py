"""Assembler and disassembler: every opcode round-trips, names, comments, errors."""

import numpy as np
import pytest

from systole.asm import (
    AsmError,
    assemble,
    assemble_line,
    disassemble_program,
    disassemble_word,
    from_bytes,
    to_bytes,
)
from systole.hw.isa import FIELDS, FLAGS, Opcode, decode, encode


def random_words(seed: int, count: int) -> list[int]:
    rng = np.random.default_rng(seed)
    words = []
    for _ in range(count):
        opcode = Opcode(rng.choice(list(Opcode)))
        fields = {f.name: int(rng.integers(0, 1 << f.width)) for f in FIELDS[opcode]}
        fields.update({flag: int(rng.integers(0, 2)) for flag in FLAGS})
        words.append(encode(opcode, **fields))
    return words


def test_random_programs_round_trip():
    words = random_words(1, 300)
    assert assemble(disassemble_program(words)) == words
    assert assemble(disassemble_program(words, base=0x1000)) == words


def test_any_word_round_trips():
    rng = np.random.default_rng(2)
    words = [int.from_bytes(rng.bytes(16), "little") for _ in range(200)]
    words += [encode("HALT") | 1 << 127, encode("SYNC", unit=2) | 0xF << 12, 0]
    assert assemble(disassemble_program(words)) == words
    assert "illegal opcode" in disassemble_word(0)
    assert "reserved bits set" in disassemble_word(encode("HALT") | 1 << 127)


def test_syntax():
    text = """
        ; a comment line, then a blank one

        load buffer=weight buf_addr=0x10 rows=0b100 mem_addr=4096 stride=32 +push_next ; tail
        SYNC unit=compute +pop_prev
        SYNC +push_prev unit=STORE
        .word 0x0f
    """
    words = assemble(text)
    assert decode(words[0]) == decode(encode("LOAD", buffer=1, buf_addr=16, rows=4,
                                             mem_addr=4096, stride=32, push_next=1))
    assert words[1] == encode("SYNC", unit=1, pop_prev=1)
    assert words[2] == encode("SYNC", unit=2, push_prev=1)
    assert words[3] == encode("HALT")
    assert assemble_line("   ; only a comment") is None


def test_disassembly_text():
    word = encode("LOAD", buffer=0, buf_addr=0, rows=16, mem_addr=0x1000, stride=0x20,
                  push_next=1)
    assert disassemble_word(word) == \
        "LOAD buffer=0 buf_addr=0 rows=16 mem_addr=0x1000 stride=0x20 +push_next"
    assert disassemble_program([word], base=0x40).rstrip().endswith("; 0x40")
    assert disassemble_program([]) == ""


@pytest.mark.parametrize("line,message", [
    ("JUMP rows=1", "line 2: unknown opcode 'JUMP'"),
    ("LOAD rows=1 +pop", "line 2: unknown flag '\\+pop'"),
    ("LOAD colour=1", "line 2: LOAD has no field 'colour'"),
    ("LOAD rows=70000", "line 2: LOAD.rows must fit 16 bits, not 70000"),
    ("LOAD rows=-1", "line 2: LOAD.rows must fit 16 bits, not -1"),
    ("LOAD rows=x", "line 2: rows='x' is not a number"),
    ("LOAD buffer=acc", "line 2: buffer='acc' is not a number"),
    ("LOAD rows", "line 2: expected field=value or \\+flag, not 'rows'"),
    ("LOAD rows=1 rows=2", "line 2: rows given twice"),
    (".word", "line 2: .word takes exactly one value"),
    (".word 0x1" + "0" * 32, "line 2: .word value must fit 128 bits"),
])
def test_errors_name_the_line(line, message):
    with pytest.raises(AsmError, match=message):
        assemble("HALT\n" + line)


def test_bytes_round_trip():
    words = random_words(3, 10)
    image = to_bytes(words)
    assert image.dtype == np.uint8 and len(image) == 160
    assert from_bytes(image) == words and from_bytes(image.tobytes()) == words
    assert image[0] == words[0] & 0xFF                     # little-endian
    with pytest.raises(ValueError, match="multiple of 16 bytes, not 15"):
        from_bytes(image[:15])
