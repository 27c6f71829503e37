"""Assembler and disassembler of the systole instruction set.

One instruction per line: the opcode, ``field=value`` operands (decimal, ``0x`` hex or ``0b``;
``buffer`` and ``unit`` also take names such as ``act`` or ``compute``) and ``+flag`` dependency
flags, in any order; missing operands are 0. ``;`` starts a comment, blank lines are skipped.
``.word VALUE`` emits a raw 128-bit word (the disassembler writes it for illegal or
non-canonical words, so any word sequence round-trips)::

    LOAD buffer=act buf_addr=0 rows=16 mem_addr=0x1000 stride=0x20 +push_next
    MATMUL act_addr=0 weight_addr=0 acc_addr=0 rows=16 +pop_prev +push_next
    STORE acc_addr=0 rows=16 mem_addr=0x8000 stride=0x40 +pop_prev
    HALT
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .hw.isa import (
    FLAGS,
    INSTR_BITS,
    INSTR_BYTES,
    Buffer,
    Opcode,
    Unit,
    decode,
    disassemble,
    encode,
)

__all__ = ["AsmError", "assemble", "assemble_line", "disassemble_word", "disassemble_program",
           "to_bytes", "from_bytes"]

_NAMED = {"buffer": Buffer, "unit": Unit}


class AsmError(ValueError):
    """A line that does not assemble; the message names the line number."""


def _value(text: str, field: str) -> int:
    enum = _NAMED.get(field)
    if enum is not None and text.upper() in enum.__members__:
        return int(enum[text.upper()])
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError(f"{field}={text!r} is not a number") from None


def assemble_line(line: str) -> int | None:
    """Assemble one line; ``None`` for a blank or comment-only line.

    Raises
    ------
    ValueError
        Unknown opcode, field or flag, a repeated field, or a value that does not fit.
    """
    tokens = line.split(";", 1)[0].split()
    if not tokens:
        return None
    head, args = tokens[0], tokens[1:]
    if head.lower() == ".word":
        if len(args) != 1:
            raise ValueError(".word takes exactly one value")
        value = _value(args[0], ".word")
        if not 0 <= value < 1 << INSTR_BITS:
            raise ValueError(f".word value must fit {INSTR_BITS} bits")
        return value
    try:
        opcode = Opcode[head.upper()]
    except KeyError:
        raise ValueError(f"unknown opcode {head!r}") from None
    fields: dict[str, int] = {}
    for arg in args:
        if arg.startswith("+"):
            name, value = arg[1:], 1
            if name not in FLAGS:
                raise ValueError(f"unknown flag {arg!r}; flags are "
                                 + ", ".join("+" + f for f in FLAGS))
        elif "=" in arg:
            name, text = arg.split("=", 1)
            value = _value(text, name)
        else:
            raise ValueError(f"expected field=value or +flag, not {arg!r}")
        if name in fields:
            raise ValueError(f"{name} given twice")
        fields[name] = value
    return encode(opcode, **fields)


def assemble(text: str) -> list[int]:
    """Assemble a program text into instruction words.

    Raises
    ------
    AsmError
        A line does not assemble (the message starts with ``line N:``).
    """
    words = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            word = assemble_line(line)
        except ValueError as error:
            raise AsmError(f"line {number}: {error}") from None
        if word is not None:
            words.append(word)
    return words


def disassemble_word(word: int) -> str:
    """One line of assembly that assembles back to exactly ``word``."""
    try:
        fields = decode(word)
    except ValueError:
        return f".word {word:#034x}  ; illegal opcode"
    text = disassemble(word)
    operands = {k: v for k, v in fields.items() if k != "opcode"}
    if encode(fields["opcode"], **operands) != word:
        return f".word {word:#034x}  ; {text} (reserved bits set)"
    return text


def disassemble_program(words: Iterable[int], *, base: int | None = None) -> str:
    """Disassemble words, one per line; with ``base``, each line ends with its address."""
    lines = []
    for index, word in enumerate(words):
        line = disassemble_word(word)
        if base is not None:
            line = f"{line:<88} ; {base + index * INSTR_BYTES:#x}"
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def to_bytes(words: Iterable[int]) -> np.ndarray:
    """Instruction words as their little-endian memory image (uint8)."""
    data = b"".join(int(w).to_bytes(INSTR_BYTES, "little") for w in words)
    return np.frombuffer(data, dtype=np.uint8).copy()


def from_bytes(data: np.ndarray | bytes) -> list[int]:
    """Instruction words from a memory image whose length is a multiple of 16 bytes."""
    raw = bytes(np.asarray(bytearray(data) if isinstance(data, bytes) else data, np.uint8))
    if len(raw) % INSTR_BYTES:
        raise ValueError(f"program image must be a multiple of {INSTR_BYTES} bytes, "
                         f"not {len(raw)}")
    return [int.from_bytes(raw[i:i + INSTR_BYTES], "little")
            for i in range(0, len(raw), INSTR_BYTES)]
