"""The systole instruction set, defined once.

Everything else is generated from the tables in this file: the hardware decoder's layouts
(:func:`instr_layout`), the assembler and disassembler (:func:`encode`, :func:`decode`), the
JSON/C-header software view and the reference page in the docs.

Instructions are 128 bits, little-endian in memory (16 bytes each, the program starts on a
beat boundary). Bits ``[7:0]`` hold the opcode, bits ``[11:8]`` the dependency flags, bits
``[15:12]`` are reserved (zero); the operands start at bit 16 and depend on the opcode. Unused
operand bits are reserved and must be zero; opcodes not listed here are illegal and stop the
machine with :attr:`ErrorCode.ILLEGAL_OPCODE`.

Units and dependency tokens (in the spirit of VTA)
---------------------------------------------------
The sequencer dispatches LOAD to the load unit, MATMUL and MATVEC to the compute unit, STORE
and POSTPROC to the store unit; SYNC goes to the unit it names. The units run concurrently and
synchronise through four token queues (semaphores): load->compute (L2C), compute->load (C2L),
compute->store (C2S) and store->compute (S2C). For a unit, *prev* is the unit before it in the
load -> compute -> store chain and *next* the one after:

* ``pop_prev`` / ``pop_next``: before executing, wait for and take one token from the queue
  coming from the previous / next unit (load has no previous unit, store no next unit).
* ``push_prev`` / ``push_next``: after the instruction has fully completed (data in the buffer,
  results in the accumulators, bytes acknowledged by memory), give one token to the previous /
  next unit.

A LOAD that fills a buffer the compute unit reads pushes next; the MATMUL that reads it pops
prev. A MATMUL whose results a STORE writes out pushes next; the STORE pops prev. Tokens in the
other direction (push_prev) let a producer reuse a buffer region once its consumer is done.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from amaranth.lib import data

__all__ = ["INSTR_BITS", "INSTR_BYTES", "HEADER_BITS", "Opcode", "Unit", "Buffer", "PostProcDst",
           "ErrorCode",
           "Field", "FIELDS", "FLAGS", "instr_layout", "header_layout", "encode", "decode",
           "disassemble", "unit_of", "software_view"]

INSTR_BITS = 128
INSTR_BYTES = INSTR_BITS // 8
HEADER_BITS = 16


class Opcode(enum.IntEnum):
    """Operation in bits [7:0]. Room to grow: post-processing, convolution, bf16 later."""

    LOAD = 0x01     # memory -> activation or weight buffer (2-D tile, DMA)
    MATMUL = 0x02   # weight tile into the array, activation rows through it, into accumulators
    MATVEC = 0x05   # one activation vector times a stream of weight tiles, into accumulators
    STORE = 0x03    # accumulators -> memory (2-D tile, DMA)
    POSTPROC = 0x06  # accumulators -> int8 (bias, requantise, clamp) -> activations/accumulators
    SYNC = 0x04     # only the dependency flags, executed by the unit named in `unit`
    HALT = 0x0F     # stop fetching; done once every unit is idle


class Unit(enum.IntEnum):
    LOAD = 0
    COMPUTE = 1
    STORE = 2


class Buffer(enum.IntEnum):
    """Destination of a LOAD."""

    ACT = 0
    WEIGHT = 1
    PARAM = 2   # post-processing parameters (per-channel bias, multiplier, shift)
    TILE = 3    # whole weight tiles for MATVEC (chips with a tile buffer)


class PostProcDst(enum.IntEnum):
    """Destination buffer of a POSTPROC."""

    ACC = 0
    ACT = 1


class ErrorCode(enum.IntEnum):
    """Value of the ERROR_CODE register; the machine stops on any non-zero code."""

    NONE = 0
    ILLEGAL_OPCODE = 1     # unknown opcode, bad buffer or unit number
    BUFFER_RANGE = 2       # a buffer address range reaches past the end of its buffer
    MEMORY_RANGE = 3       # a memory tile reaches past the end of memory
    MISALIGNED = 4         # memory address, stride or program address not beat-aligned
    EMPTY = 5              # rows = 0
    BUS_ERROR = 6          # a memory port answered SLVERR/DECERR


@dataclass(frozen=True)
class Field:
    name: str
    width: int
    doc: str


#: Dependency flags, bits [8 + i].
FLAGS = ("pop_prev", "pop_next", "push_prev", "push_next")

#: Operands of each opcode, packed from bit 16 upwards in this order.
FIELDS: dict[Opcode, tuple[Field, ...]] = {
    Opcode.LOAD: (
        Field("buffer", 2, "destination buffer: 0 activations, 1 weights, 2 parameters, "
                           "3 weight tiles"),
        Field("buf_addr", 16, "first buffer word"),
        Field("rows", 16, "buffer words (tile rows) to load, 1 or more"),
        Field("mem_addr", 32, "byte address of the first row, beat-aligned"),
        Field("stride", 24, "bytes between rows in memory, beat-aligned"),
    ),
    Opcode.MATMUL: (
        Field("act_addr", 16, "activation buffer word of the first vector"),
        Field("weight_addr", 16, "weight buffer word of the tile's row 0 (rows words)"),
        Field("acc_addr", 16, "accumulator word of the first result"),
        Field("rows", 16, "activation vectors (M rows), 1 or more"),
        Field("accumulate", 1, "1: add to the accumulators, 0: overwrite them"),
    ),
    # MATVEC's operands sit where MATMUL's are: the compute unit reads both the same way.
    Opcode.MATVEC: (
        Field("act_addr", 16, "activation buffer word of the vector"),
        Field("tile_addr", 16, "tile buffer word of the first weight tile"),
        Field("acc_addr", 16, "accumulator word of the first result"),
        Field("tiles", 16, "weight tiles (results), 1 or more"),
        Field("accumulate", 1, "1: add to the accumulators, 0: overwrite them"),
    ),
    Opcode.STORE: (
        Field("acc_addr", 16, "first accumulator word"),
        Field("rows", 16, "accumulator words (tile rows) to store, 1 or more"),
        Field("mem_addr", 32, "byte address of the first row, beat-aligned"),
        Field("stride", 24, "bytes between rows in memory, beat-aligned"),
    ),
    # acc_addr and rows sit where STORE has them: the store unit reads both the same way.
    Opcode.POSTPROC: (
        Field("acc_addr", 16, "first accumulator word"),
        Field("rows", 16, "accumulator words to post-process, 1 or more"),
        Field("dst", 1, "destination buffer: 0 accumulators (int8 in the low bytes), "
                        "1 activations"),
        Field("dst_addr", 16, "destination word of the first row"),
        Field("param_addr", 16, "parameter buffer word (per-channel bias, multiplier, shift)"),
        Field("zero_point", 8, "output zero point, int8 (two's complement)"),
        Field("act_min", 8, "lower clamp, int8 (-128: none; zero_point: ReLU)"),
        Field("act_max", 8, "upper clamp, int8 (127: none; ReLU6: zero_point + 6 / scale)"),
    ),
    Opcode.SYNC: (
        Field("unit", 2, "unit that executes the token operations: 0 load, 1 compute, 2 store"),
    ),
    Opcode.HALT: (),
}

_UNIT_OF = {Opcode.LOAD: Unit.LOAD, Opcode.MATMUL: Unit.COMPUTE, Opcode.MATVEC: Unit.COMPUTE,
            Opcode.STORE: Unit.STORE, Opcode.POSTPROC: Unit.STORE}


def unit_of(fields: dict) -> Unit | None:
    """The unit that executes a decoded instruction (``None`` for HALT)."""
    opcode = Opcode(fields["opcode"])
    if opcode == Opcode.SYNC:
        return Unit(fields["unit"])
    return _UNIT_OF.get(opcode)


def header_layout() -> data.StructLayout:
    return data.StructLayout({
        "opcode": 8,
        **{flag: 1 for flag in FLAGS},
        "reserved": 4,
    })


def instr_layout() -> data.StructLayout:
    """Hardware view: the header and one operand view per opcode (a union over bit 16+)."""
    operands = data.UnionLayout({
        opcode.name.lower(): data.StructLayout({f.name: f.width for f in fields})
        for opcode, fields in FIELDS.items() if fields
    })
    return data.StructLayout({
        "header": header_layout(),
        "operands": operands,
        "padding": INSTR_BITS - HEADER_BITS - operands.size,
    })


def _check_tables() -> None:
    for opcode, fields in FIELDS.items():
        width = sum(f.width for f in fields)
        assert HEADER_BITS + width <= INSTR_BITS, (opcode, width)


_check_tables()


def encode(opcode: Opcode | str, **fields) -> int:
    """Encode one instruction. Flags and operands are keyword arguments; missing ones are 0.

    Raises
    ------
    ValueError
        Unknown opcode or field, or a value that does not fit its field.
    """
    if isinstance(opcode, str):
        try:
            opcode = Opcode[opcode.upper()]
        except KeyError:
            raise ValueError(f"unknown opcode {opcode!r}") from None
    opcode = Opcode(opcode)
    word = int(opcode)
    known = set(FLAGS) | {f.name for f in FIELDS[opcode]}
    unknown = set(fields) - known
    if unknown:
        raise ValueError(f"{opcode.name} has no field {sorted(unknown)[0]!r}")
    for index, flag in enumerate(FLAGS):
        value = int(fields.get(flag, 0))
        if value not in (0, 1):
            raise ValueError(f"{flag} must be 0 or 1, not {value}")
        word |= value << (8 + index)
    offset = HEADER_BITS
    for f in FIELDS[opcode]:
        value = int(fields.get(f.name, 0))
        if not 0 <= value < (1 << f.width):
            raise ValueError(f"{opcode.name}.{f.name} must fit {f.width} bits, not {value}")
        word |= value << offset
        offset += f.width
    return word


def decode(word: int) -> dict:
    """Decode one instruction word into ``{"opcode": Opcode, flags..., operands...}``.

    Raises
    ------
    ValueError
        Illegal opcode.
    """
    raw = word & 0xFF
    try:
        opcode = Opcode(raw)
    except ValueError:
        raise ValueError(f"illegal opcode {raw:#04x}") from None
    fields: dict = {"opcode": opcode}
    for index, flag in enumerate(FLAGS):
        fields[flag] = (word >> (8 + index)) & 1
    offset = HEADER_BITS
    for f in FIELDS[opcode]:
        fields[f.name] = (word >> offset) & ((1 << f.width) - 1)
        offset += f.width
    return fields


def disassemble(word: int) -> str:
    """One line of assembly, e.g. ``LOAD buffer=0 buf_addr=0 rows=16 ... +push_next``."""
    try:
        fields = decode(word)
    except ValueError:
        return f".word {word:#034x}  ; illegal"
    parts = [fields["opcode"].name]
    parts += [f"{f.name}={fields[f.name]:#x}" if f.name in ("mem_addr", "stride")
              else f"{f.name}={fields[f.name]}" for f in FIELDS[fields["opcode"]]]
    parts += [f"+{flag}" for flag in FLAGS if fields[flag]]
    return " ".join(parts)


def software_view() -> dict:
    """JSON-able description of the ISA (for the C header, docs and host tools)."""
    return {
        "instr_bits": INSTR_BITS,
        "header": {"opcode": [0, 8], **{flag: [8 + i, 1] for i, flag in enumerate(FLAGS)}},
        "opcodes": {
            op.name: {"value": int(op), "fields": [
                {"name": f.name, "width": f.width, "doc": f.doc} for f in FIELDS[op]]}
            for op in Opcode
        },
        "buffers": {b.name: int(b) for b in Buffer},
        "postproc_dst": {d.name: int(d) for d in PostProcDst},
        "units": {u.name: int(u) for u in Unit},
        "errors": {e.name: int(e) for e in ErrorCode},
    }
