"""The instruction-set reference page, ``docs/isa.md``, generated from the tables.

Encodings, operands, token queues, error codes, the register map and the buffer word sizes come
from :mod:`systole.hw.isa`, :mod:`systole.hw.regs` and the presets; this module only adds the
prose. A test checks that the committed page equals :func:`isa_markdown`, so it never drifts.
Regenerate it with ``python -m systole.isadoc docs/isa.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .hw import isa, regs
from .hw.config import PRESETS
from .sim.tokens import Queue, queue_between
from .swview import field_layout

__all__ = ["isa_markdown", "main"]

_EXECUTED_BY = {isa.Opcode.LOAD: "load unit", isa.Opcode.MATMUL: "compute unit",
                isa.Opcode.MATVEC: "compute unit",
                isa.Opcode.STORE: "store unit", isa.Opcode.POSTPROC: "store unit",
                isa.Opcode.SYNC: "the unit named by `unit`",
                isa.Opcode.HALT: "the sequencer"}

_SEMANTICS = {
    isa.Opcode.LOAD: (
        "Copies `rows` words from memory into a buffer: for every row `r`, buffer word "
        "`buf_addr + r` receives the word-sized bytes at `mem_addr + r * stride` (the whole word, "
        "padding included). An activation word holds `rows` int8 (one vector, element `i` "
        "entering array row `i`), a weight word holds `cols` int8 (one row of a weight tile), "
        "a parameter word (`buffer` 2) `C` int32 biases, then `C` int32 multipliers, then `C` "
        "uint8 right shifts (values above 31 act as 31), all little-endian, and a tile word "
        "(`buffer` 3, chips with a tile buffer) a whole `R` x `C` weight tile, int8, row `i` "
        "at byte `i * P` (`P`: `C` rounded up to a power of two)."),
    isa.Opcode.MATMUL: (
        "Multiplies `rows` activation vectors by one weight tile. The tile is the `R` weight "
        "words from `weight_addr` (word `i` is tile row `i`, its first `C` bytes as int8). For "
        "every row `v`, the first `R` bytes of activation word `act_addr + v` (int8) times the "
        "tile give `C` int32 sums (wrapping), which overwrite accumulator word `acc_addr + v` or, "
        "with `accumulate`, are added to it (wrapping). Consecutive MATMULs stream back to back: "
        "the array loads the next tile while the current one computes, and a MATMUL of at least "
        "`2 R - 1` rows hides the next tile's load completely."),
    isa.Opcode.MATVEC: (
        "Multiplies one activation vector by `tiles` weight tiles (chips with a tile buffer, "
        "`tile_depth` > 0; illegal otherwise). The vector is the first `R` bytes of "
        "activation word `act_addr` (int8); tile `i` is tile word `tile_addr + i` (an `R` x "
        "`C` int8 matrix, see LOAD). The vector times tile `i` gives `C` int32 sums "
        "(wrapping), which overwrite accumulator word `acc_addr + i` or, with `accumulate`, "
        "are added to it (wrapping). The array takes one tile per cycle: every PE gets its "
        "weight straight from the tile buffer and the vector stays in the rows, so a GEMV "
        "(M = 1) runs at `R * C` bytes of weights per cycle instead of one tile row. Between "
        "a MATMUL and a MATVEC the array drains (about `R + C` cycles), and a MATVEC starts "
        "at least `R` cycles after the previous one (only MATVECs of fewer tiles notice)."),
    isa.Opcode.STORE: (
        "Copies `rows` accumulator words to memory: word `acc_addr + r` goes to "
        "`mem_addr + r * stride`, rows in order. An accumulator word holds `C` little-endian "
        "int32 followed by zero padding."),
    isa.Opcode.POSTPROC: (
        "Requantises `rows` accumulator words to int8 (`docs/quant.md`, "
        "`systole.quant.requantize`): for every channel `c` of word `acc_addr + r`, "
        "`x = wrap32(acc + bias[c])`, `y = floor(x * multiplier[c] / 2^31 + 1/2)` (gemmlowp "
        "SaturatingRoundingDoublingHighMul), `z = y / 2^shift[c]` rounded half away from zero, "
        "`out = min(max(z + zero_point, act_min), act_max)`, with the parameters of word "
        "`param_addr`. The `C` int8 results followed by zeros fill word `dst_addr + r` of the "
        "accumulators (`dst` 0; a later STORE writes them out) or the activations (`dst` 1; a "
        "later MATMUL reads them as its next layer's input). Runs after every earlier STORE "
        "completes; every row is read before it is overwritten, so `dst_addr = acc_addr` "
        "works in place (other overlaps are not allowed)."),
    isa.Opcode.SYNC: (
        "No data effect: the unit named by `unit` performs the instruction's token operations "
        "in its place in that unit's instruction stream."),
    isa.Opcode.HALT: (
        "Stops fetching. The chip reports DONE once every unit is idle, so HALT needs no "
        "preceding SYNC."),
}

_ERRORS = {
    isa.ErrorCode.NONE: "no error",
    isa.ErrorCode.ILLEGAL_OPCODE: "unknown opcode, SYNC `unit` above 2, POSTPROC on a chip "
                                  "built without the post-processor (`postproc=False`, preset "
                                  "`icebreaker`), MATVEC or LOAD `buffer` 3 on a chip without "
                                  "a tile buffer (`tile_depth` 0)",
    isa.ErrorCode.EMPTY: "`rows` is 0 (LOAD, MATMUL, STORE, POSTPROC) or `tiles` is 0 "
                         "(MATVEC)",
    isa.ErrorCode.BUFFER_RANGE: "a buffer range ends past its buffer: `buf_addr + rows`, "
                                "`act_addr + rows`, `weight_addr + R`, `acc_addr + rows`, "
                                "`dst_addr + rows`, MATVEC's `act_addr + 1`, `tile_addr + "
                                "tiles` and `acc_addr + tiles` above the buffer's depth, "
                                "`param_addr` at or above it",
    isa.ErrorCode.MISALIGNED: "`mem_addr` or `stride` not a multiple of the beat (also "
                              "PROG_ADDR, reported at PROG_ADDR)",
    isa.ErrorCode.MEMORY_RANGE: "`mem_addr + (rows - 1) * stride + word bytes` above the "
                                "memory size",
    isa.ErrorCode.BUS_ERROR: "a memory port answered SLVERR or DECERR: to a LOAD or STORE "
                             "(ERROR_PC is its address) or to an instruction fetch (ERROR_PC is "
                             "the first address that fetch read)",
}

_CHECK_ORDER = (isa.ErrorCode.ILLEGAL_OPCODE, isa.ErrorCode.EMPTY, isa.ErrorCode.BUFFER_RANGE,
                isa.ErrorCode.MISALIGNED, isa.ErrorCode.MEMORY_RANGE)


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines + [""]


def _bits(offset: int, width: int) -> str:
    return f"[{offset}]" if width == 1 else f"[{offset + width - 1}:{offset}]"


def _encoding() -> list[str]:
    rows = [[_bits(0, 8), "opcode", "operation (below); any other value is illegal"]]
    rows += [[_bits(8 + i, 1), f"`{flag}`", "dependency flag (see tokens)"]
             for i, flag in enumerate(isa.FLAGS)]
    rows += [[_bits(8 + len(isa.FLAGS), isa.HEADER_BITS - 8 - len(isa.FLAGS)), "reserved",
              "write 0, ignored"],
             [_bits(isa.HEADER_BITS, isa.INSTR_BITS - isa.HEADER_BITS), "operands",
              "per opcode, packed upwards in the order listed; unused bits reserved"]]
    return [f"Instructions are {isa.INSTR_BITS} bits, stored little-endian ({isa.INSTR_BYTES} "
            "bytes), fetched from PROG_ADDR upwards (PROG_ADDR must be beat-aligned).", ""
            ] + _table(["bits", "field", "meaning"], rows)


def _instructions() -> list[str]:
    out: list[str] = []
    for opcode, placed in field_layout().items():
        out += [f"### {opcode.name} (`{int(opcode):#04x}`): {_EXECUTED_BY[opcode]}", "",
                _SEMANTICS[opcode], ""]
        if placed:
            out += _table(["bits", "operand", "meaning"],
                          [[_bits(o, f.width), f"`{f.name}`", f.doc] for f, o in placed])
    return out


def _tokens() -> list[str]:
    ends = [(src, dst, queue_between(src, dst)) for src in isa.Unit for dst in isa.Unit
            if queue_between(src, dst) is not None]
    rows = [[q.name, src.name.lower(), dst.name.lower()] for src, dst, q in
            sorted(ends, key=lambda e: e[2])]
    flags = []
    for unit in isa.Unit:
        cells = []
        for flag in isa.FLAGS:
            direction, side = flag.split("_")
            other = unit + (-1 if side == "prev" else 1)
            queue = None
            if 0 <= other < len(isa.Unit):
                pair = (isa.Unit(other), unit) if direction == "pop" else (unit, isa.Unit(other))
                queue = queue_between(*pair)
            cells.append(queue.name if isinstance(queue, Queue) else "-")
        flags.append([unit.name.lower()] + cells)
    return (["Load, compute and store units run concurrently; they wait for each other only "
             "through four token queues (counting semaphores, empty at START). A `pop` flag "
             "waits for a token and takes it before the instruction starts; a `push` flag "
             "gives a token after the instruction and every earlier instruction of its unit "
             "have fully completed (data in the buffer, results in the accumulators, bytes "
             "acknowledged by memory). The k-th pop of a queue is therefore ordered after the "
             "end of the instruction that made its k-th push.", ""]
            + _table(["queue", "from", "to"], rows)
            + ["Queue used by each flag (`-`: the flag names no queue and must be 0):", ""]
            + _table(["unit"] + [f"`{f}`" for f in isa.FLAGS], flags)
            + ["The sequencer dispatches in program order into one command register per unit "
               "and waits while the instruction's unit still holds the one before; the unit "
               "takes it once the tokens it pops are available. Every push must precede its "
               "matching pop in program order (otherwise the machine can deadlock), and the "
               "program order bounds how far the load unit runs ahead of the compute unit. A "
               "correct program also orders, through tokens, every pair of instructions of "
               "different units that touch the same buffer word or memory bytes with one of "
               "them writing. `systole.sim.tokens.check_tokens` checks both.", ""])


def _errors() -> list[str]:
    rows = [[int(code), f"`{code.name}`", _ERRORS[code],
             _CHECK_ORDER.index(code) + 1 if code in _CHECK_ORDER else "-"]
            for code in isa.ErrorCode]
    return (["Every instruction is checked when it is decoded, before it executes; a failing "
             "check stops the machine with ERROR_CODE and ERROR_PC (its byte address). The "
             "failing instruction and every later one have no effect; earlier ones complete. "
             "Reserved bits are ignored. When several checks fail, the first in check order "
             "is reported.", ""]
            + _table(["code", "name", "when", "check order"], rows))


def _registers() -> list[str]:
    rows = [[f"`{r.offset:#04x}`", f"`{r.name}`", r.access, r.doc] for r in regs.REGISTERS]
    return (["32-bit registers on the AXI4-Lite slave port. ID reads "
             f"`{regs.ID_VALUE:#010x}`.", ""] + _table(["offset", "name", "access", "contents"],
                                                       rows))


def _words() -> list[str]:
    rows = []
    for name, cfg in PRESETS.items():
        rows.append([f"`{name}`", f"{cfg.array.rows} x {cfg.array.cols}",
                     cfg.memory.data_bytes]
                    + [f"{getattr(cfg.buffers, f'{k}_depth')} x {cfg.word_bytes(k)} B"
                       for k in ("act", "weight", "acc", "param")]
                    + [f"{cfg.buffers.tile_depth} x {cfg.word_bytes('tile')} B"
                       if cfg.matvec else "-"])
    return (["A buffer word occupies a power-of-two number of memory beats (zero-padded). Per "
             "preset (depth x bytes per word in memory; `-`: no tile buffer):", ""]
            + _table(["preset", "array", "beat bytes", "act", "weight", "acc", "param", "tile"],
                     rows))


def _example() -> list[str]:
    from .compiler import compile_gemm
    cfg = PRESETS["tiny"]
    program = compile_gemm(np.zeros((6, 6), np.int8), np.zeros((6, 5), np.int8), cfg)
    return (["`compile_gemm` on the `tiny` preset for a 6 x 6 x 5 GEMM (A at 0x0, B at "
             f"{program.b_addr:#x}, C at {program.c_addr:#x}); the assembler "
             "(`systole.asm`) reads this text back:", "", "```"]
            + program.assembly().splitlines() + ["```", ""])


def isa_markdown() -> str:
    """The text of ``docs/isa.md``."""
    out = ["# systole instruction set", "",
           "<!-- Generated by `python -m systole.isadoc docs/isa.md` from hw/isa.py, hw/regs.py "
           "and hw/config.py; do not edit. -->", "",
           "`R` x `C` is the array (`rows` x `cols`). A is M x K (activations), B is K x N "
           "(weights), C = A @ B is M x N (int32).", "",
           "## Encoding", ""] + _encoding()
    out += ["## Instructions", ""] + _instructions()
    out += ["## Dependency tokens", ""] + _tokens()
    out += ["## Errors", ""] + _errors()
    out += ["## Registers", ""] + _registers()
    out += ["## Buffer words", ""] + _words()
    out += ["## Assembly", "",
            "One instruction per line: opcode, `field=value` operands (missing ones are 0; "
            "`buffer` and `unit` also take names), `+flag`s; `;` starts a comment; "
            "`.word 0x...` emits a raw word.", ""] + _example()
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m systole.isadoc",
                                     description="Write the instruction-set reference (Markdown).")
    parser.add_argument("output", type=Path, help="Markdown file to write, e.g. docs/isa.md")
    args = parser.parse_args(argv)
    args.output.write_text(isa_markdown())


if __name__ == "__main__":
    main()
