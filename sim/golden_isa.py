"""Bit-exact instruction-level golden model of the whole chip.

:class:`GoldenMachine` executes a program sequentially on a memory image and the three on-chip
buffers, exactly as the hardware's final state must look (for programs whose dependency tokens
are right: the hardware runs its units concurrently). Every run also checks the token discipline
(:func:`systole.sim.tokens.check_tokens`): deadlocks and races are reported, and raised unless
``strict=False``, so compiler bugs that would hang or corrupt the hardware fail in pure Python.

Semantics (the contract the RTL implements; R x C is the array)
--------------------------------------------------------------
* LOAD: ``buf[buf_addr + r] = mem[mem_addr + r * stride :][:word_bytes]`` for every row ``r``
  (the whole word, padding bytes included).
* MATMUL: ``W[i] = weight[weight_addr + i][:C]`` as int8 for ``i < R``; for every row ``v``,
  ``p = int8(act[act_addr + v][:R]) @ W`` in int32 and ``acc[acc_addr + v] = p`` or ``+= p``
  (wrapping). An accumulator word holds C little-endian int32 and zero padding.
* MATVEC (chips with a tile buffer): ``x = int8(act[act_addr][:R])``; for every tile ``i <
  tiles``, ``T`` is the R x C int8 matrix whose row ``j`` is the C bytes at ``j * P`` of word
  ``tile[tile_addr + i]`` (``P = config.tile_row_pitch``, C rounded up to a power of two) and
  ``acc[acc_addr + i] = x @ T`` or ``+= x @ T`` (wrapping).
* STORE: ``mem[mem_addr + r * stride :][:word_bytes] = acc[acc_addr + r]``, rows in order.
* LOAD with ``buffer = PARAM`` fills parameter words: ``C`` int32 biases, ``C`` int32
  multipliers, ``C`` uint8 shifts (values above 31 act as 31), then padding.
* POSTPROC: for every row ``r``, ``q = requantize(acc[acc_addr + r][:C], bias, multiplier,
  shift, zero_point, act_min, act_max)`` (:func:`systole.quant.requantize_unchecked`, the
  parameters from word ``param_addr``), written as ``C`` int8 followed by zeros over the whole
  word ``dst_addr + r`` of the activations (``dst = 1``; truncated to the word) or the
  accumulators (``dst = 0``). Every row is read before any is written, so ``dst_addr =
  acc_addr`` works in place; other overlaps of the two ranges are not allowed.
* SYNC: token operations only. HALT: stop fetching.

Each instruction is checked when decoded, before it executes, in this order: ILLEGAL_OPCODE
(unknown opcode, LOAD buffer > 2, SYNC unit > 2; MATVEC and LOAD buffer 3 on a chip without a
tile buffer), EMPTY (rows or tiles = 0), BUFFER_RANGE, MISALIGNED
(memory address or stride), MEMORY_RANGE. A failing instruction stops the machine with its
error code and address; it and every later instruction have no effect. Reserved bits are
ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..hw.config import SystoleConfig
from ..hw.isa import INSTR_BYTES, Buffer, ErrorCode, Opcode, PostProcDst, Unit, decode
from ..quant import requantize_unchecked
from .footprint import word_bytes
from .tokens import TokenReport, check_tokens

__all__ = ["Result", "GoldenMachine", "check_instruction", "DEFAULT_MAX_INSTRUCTIONS"]

DEFAULT_MAX_INSTRUCTIONS = 1 << 20


@dataclass
class Result:
    """Outcome of :meth:`GoldenMachine.run`.

    Members
    -------
    error : ErrorCode
        The ERROR_CODE register (``NONE`` after a clean HALT, a watchdog stop or a deadlock).
    error_pc : int or None
        The ERROR_PC register: byte address of the failing instruction.
    instructions : int
        Instructions dispatched to a unit (the INSTRUCTIONS register): neither HALT nor the
        failing instruction count.
    memory : numpy.ndarray
        Final memory image, uint8: the input image, extended if a STORE wrote past its end.
    halted : bool
        A HALT was reached (``False`` on an error or when the watchdog stopped the run).
    message : str
        What stopped the run, for people.
    bytes_read, bytes_written : int
        Data bytes moved by LOAD and STORE (instruction fetch not included).
    vectors : int
        Activation vectors through the array (sum of MATMUL rows and MATVEC tiles).
    trace : list of (pc, fields)
        The dispatched instructions, decoded.
    tokens : TokenReport or None
        Token-discipline report (``None`` if not checked).
    """

    error: ErrorCode
    error_pc: int | None
    instructions: int
    memory: np.ndarray
    halted: bool
    message: str
    bytes_read: int = 0
    bytes_written: int = 0
    vectors: int = 0
    trace: list[tuple[int, dict]] = field(default_factory=list, repr=False)
    tokens: TokenReport | None = None

    @property
    def ok(self) -> bool:
        """Halted without an error (tokens not considered)."""
        return self.halted and self.error == ErrorCode.NONE


_LOAD_KIND = {Buffer.ACT: "act", Buffer.WEIGHT: "weight", Buffer.PARAM: "param",
              Buffer.TILE: "tile"}


def _depth(config: SystoleConfig, kind: str) -> int:
    return getattr(config.buffers, f"{kind}_depth")


def check_instruction(word: int, config: SystoleConfig) -> tuple[ErrorCode, dict | None]:
    """Decode ``word`` and check it like the sequencer does; return ``(error, fields)``.

    ``fields`` is ``None`` for an illegal opcode.
    """
    try:
        fields = decode(word)
    except ValueError:
        return ErrorCode.ILLEGAL_OPCODE, None
    opcode = fields["opcode"]
    rows_r = config.array.rows
    if opcode == Opcode.LOAD:
        if fields["buffer"] == Buffer.TILE and not config.matvec:
            return ErrorCode.ILLEGAL_OPCODE, fields
        kind = _LOAD_KIND[Buffer(fields["buffer"])]
        ranges = [(fields["buf_addr"], fields["rows"], _depth(config, kind))]
    elif opcode == Opcode.MATMUL:
        kind = None
        ranges = [(fields["act_addr"], fields["rows"], config.buffers.act_depth),
                  (fields["weight_addr"], rows_r, config.buffers.weight_depth),
                  (fields["acc_addr"], fields["rows"], config.buffers.acc_depth)]
    elif opcode == Opcode.MATVEC:
        if not config.matvec:
            return ErrorCode.ILLEGAL_OPCODE, fields
        if fields["tiles"] == 0:
            return ErrorCode.EMPTY, fields
        ranges = [(fields["act_addr"], 1, config.buffers.act_depth),
                  (fields["tile_addr"], fields["tiles"], config.buffers.tile_depth),
                  (fields["acc_addr"], fields["tiles"], config.buffers.acc_depth)]
        if any(start + count > depth for start, count, depth in ranges):
            return ErrorCode.BUFFER_RANGE, fields
        return ErrorCode.NONE, fields
    elif opcode == Opcode.STORE:
        kind = "acc"
        ranges = [(fields["acc_addr"], fields["rows"], config.buffers.acc_depth)]
    elif opcode == Opcode.POSTPROC:
        if not config.postproc:
            return ErrorCode.ILLEGAL_OPCODE, fields
        kind = None
        dst_depth = config.buffers.act_depth if fields["dst"] == PostProcDst.ACT \
            else config.buffers.acc_depth
        ranges = [(fields["acc_addr"], fields["rows"], config.buffers.acc_depth),
                  (fields["dst_addr"], fields["rows"], dst_depth),
                  (fields["param_addr"], 1, config.buffers.param_depth)]
    else:
        if opcode == Opcode.SYNC and fields["unit"] not in tuple(Unit):
            return ErrorCode.ILLEGAL_OPCODE, fields
        return ErrorCode.NONE, fields
    if fields["rows"] == 0:
        return ErrorCode.EMPTY, fields
    if any(start + count > depth for start, count, depth in ranges):
        return ErrorCode.BUFFER_RANGE, fields
    if kind is not None:
        beat = config.memory.data_bytes
        if fields["mem_addr"] % beat or fields["stride"] % beat:
            return ErrorCode.MISALIGNED, fields
        end = fields["mem_addr"] + (fields["rows"] - 1) * fields["stride"] + \
            word_bytes(config, kind)
        if end > config.memory.size:
            return ErrorCode.MEMORY_RANGE, fields
    return ErrorCode.NONE, fields


class _Memory:
    """A memory image of at most ``size`` bytes; bytes past the image read as zero."""

    def __init__(self, image: np.ndarray, size: int):
        self.data = image.copy()
        self.size = size

    def read_rows(self, starts: np.ndarray, nbytes: int) -> np.ndarray:
        index = starts[:, None] + np.arange(nbytes, dtype=np.int64)
        inside = index < len(self.data)
        rows = np.zeros(index.shape, dtype=np.uint8)
        rows[inside] = self.data[index[inside]]
        return rows

    def write_rows(self, starts: np.ndarray, rows: np.ndarray) -> None:
        nbytes = rows.shape[1]
        end = int(starts.max()) + nbytes
        if end > len(self.data):
            self.data = np.concatenate([self.data, np.zeros(end - len(self.data), np.uint8)])
        overlapping = len(starts) > 1 and (np.diff(np.sort(starts)) < nbytes).any()
        if overlapping:  # rows in order: a later row wins, as in hardware
            for start, row in zip(starts, rows, strict=True):
                self.data[start:start + nbytes] = row
        else:
            self.data[starts[:, None] + np.arange(nbytes, dtype=np.int64)] = rows

    def fetch(self, pc: int) -> int:
        return int.from_bytes(self.read_rows(np.array([pc]), INSTR_BYTES)[0].tobytes(),
                              "little")


class GoldenMachine:
    """Sequential, bit-exact model of the chip running one program.

    Parameters
    ----------
    config : SystoleConfig
        The accelerator: array shape, memory size and beat, buffer depths.

    Members
    -------
    act, weight : numpy.ndarray
        Buffers after the last run, uint8, one row per word.
    acc : numpy.ndarray
        Accumulators after the last run, little-endian int32, one row per word (padding
        included).
    """

    def __init__(self, config: SystoleConfig):
        if not isinstance(config, SystoleConfig):
            raise TypeError(f"config must be a SystoleConfig, not {config!r}")
        self.config = config
        self._reset()

    def _reset(self) -> None:
        cfg = self.config
        self.act = np.zeros((cfg.buffers.act_depth, cfg.word_bytes("act")), np.uint8)
        self.weight = np.zeros((cfg.buffers.weight_depth, cfg.word_bytes("weight")), np.uint8)
        self.acc = np.zeros((cfg.buffers.acc_depth, cfg.word_bytes("acc") // 4), "<i4")
        self.param = np.zeros((cfg.buffers.param_depth, cfg.word_bytes("param")), np.uint8)
        self.tile = np.zeros((cfg.buffers.tile_depth, cfg.word_bytes("tile")), np.uint8)

    def run(self, memory: np.ndarray, prog_addr: int, *,
            max_instructions: int = DEFAULT_MAX_INSTRUCTIONS, check: bool = True,
            strict: bool = True, queue_depth: int | None = 0) -> Result:
        """Reset the buffers and run the program at ``prog_addr`` on a copy of ``memory``.

        Parameters
        ----------
        memory : numpy.ndarray
            uint8 memory image starting at address 0, at most ``config.memory.size`` bytes;
            memory past its end reads as zero.
        prog_addr : int
            Byte address of the first instruction (the PROG_ADDR register).
        max_instructions : int
            Watchdog: stop (``halted=False``) after this many instructions without HALT.
        check : bool
            Check the token discipline of the dispatched instructions.
        strict : bool
            Raise a :class:`~systole.sim.tokens.TokenError` if the check finds a problem.
        queue_depth : int or None
            Dispatch model of the deadlock check (see :func:`~systole.sim.tokens.check_tokens`;
            0 is the hardware's).

        Raises
        ------
        TypeError, ValueError
            ``memory`` is not a 1-D uint8 array that fits the memory, or ``prog_addr`` is not a
            32-bit address.
        systole.sim.tokens.TokenError
            With ``check`` and ``strict``: deadlock, race or a flag naming no queue.
        """
        cfg = self.config
        if not isinstance(memory, np.ndarray) or memory.dtype != np.uint8 or memory.ndim != 1:
            raise TypeError(f"memory must be a 1-D numpy uint8 array, not {memory!r:.60}")
        if len(memory) > cfg.memory.size:
            raise ValueError(f"memory image has {len(memory)} bytes, more than the memory "
                             f"size {cfg.memory.size}")
        if not isinstance(prog_addr, int) or not 0 <= prog_addr < 1 << 32:
            raise ValueError(f"prog_addr must be a 32-bit byte address, not {prog_addr!r}")
        self._reset()
        mem = _Memory(memory, cfg.memory.size)
        result = Result(ErrorCode.NONE, None, 0, mem.data, halted=False, message="")
        pc = prog_addr
        if prog_addr % cfg.memory.data_bytes:
            result.error, result.error_pc = ErrorCode.MISALIGNED, prog_addr
        decoded = 0
        while result.error == ErrorCode.NONE:
            if decoded >= max_instructions:
                result.message = f"no HALT within {max_instructions} instructions"
                break
            if pc + INSTR_BYTES > cfg.memory.size:
                result.message = f"no HALT before the end of memory ({decoded} instructions)"
                break
            error, fields = check_instruction(mem.fetch(pc), cfg)
            if error != ErrorCode.NONE:
                result.error, result.error_pc = error, pc
                break
            result.trace.append((pc, fields))
            decoded += 1
            if fields["opcode"] == Opcode.HALT:
                result.halted = True
                break
            result.instructions += 1
            self._execute(fields, mem, result)
            pc += INSTR_BYTES
        if result.error != ErrorCode.NONE:
            result.message = f"{result.error.name} at {result.error_pc:#x}"
        elif result.halted:
            result.message = f"HALT at {pc:#x} after {decoded} instructions"
        result.memory = mem.data
        if check:
            fetched_end = pc + INSTR_BYTES if decoded or result.error else prog_addr
            result.tokens = check_tokens(result.trace, cfg, queue_depth=queue_depth,
                                         program=(prog_addr, fetched_end))
            if strict:
                result.tokens.raise_for_problems()
        return result

    def _execute(self, fields: dict, mem: _Memory, result: Result) -> None:
        cfg = self.config
        opcode = fields["opcode"]
        if opcode == Opcode.LOAD:
            kind = _LOAD_KIND[Buffer(fields["buffer"])]
            buf = getattr(self, kind)
            rows, nbytes = fields["rows"], word_bytes(cfg, kind)
            starts = fields["mem_addr"] + np.arange(rows, dtype=np.int64) * fields["stride"]
            buf[fields["buf_addr"]:fields["buf_addr"] + rows] = mem.read_rows(starts, nbytes)
            result.bytes_read += rows * nbytes
        elif opcode == Opcode.MATMUL:
            r, c, rows = cfg.array.rows, cfg.array.cols, fields["rows"]
            wa, aa, ca = fields["weight_addr"], fields["act_addr"], fields["acc_addr"]
            weights = self.weight[wa:wa + r, :c].view(np.int8).astype(np.int64)
            acts = self.act[aa:aa + rows, :r].view(np.int8).astype(np.int64)
            psums = acts @ weights  # exact: |sum| < 2**31 for any array up to 256 rows
            if fields["accumulate"]:
                psums += self.acc[ca:ca + rows, :c]
            self.acc[ca:ca + rows, :c] = psums.astype(np.int32)  # wraps like int32
            result.vectors += rows
        elif opcode == Opcode.MATVEC:
            r, c, tiles = cfg.array.rows, cfg.array.cols, fields["tiles"]
            ta, ca = fields["tile_addr"], fields["acc_addr"]
            x = self.act[fields["act_addr"], :r].view(np.int8).astype(np.int64)
            pitch = cfg.tile_row_pitch
            words = self.tile[ta:ta + tiles, :r * pitch].reshape(tiles, r, pitch)
            weights = words[:, :, :c].view(np.int8).astype(np.int64)
            psums = np.einsum("i,tij->tj", x, weights)
            if fields["accumulate"]:
                psums += self.acc[ca:ca + tiles, :c]
            self.acc[ca:ca + tiles, :c] = psums.astype(np.int32)
            result.vectors += tiles
        elif opcode == Opcode.STORE:
            rows, nbytes = fields["rows"], word_bytes(cfg, "acc")
            words = self.acc[fields["acc_addr"]:fields["acc_addr"] + rows].view(np.uint8)
            starts = fields["mem_addr"] + np.arange(rows, dtype=np.int64) * fields["stride"]
            mem.write_rows(starts, words)
            result.bytes_written += rows * nbytes
        elif opcode == Opcode.POSTPROC:
            c, rows = cfg.array.cols, fields["rows"]
            word = self.param[fields["param_addr"]]
            bias = word[:4 * c].view("<i4")
            multiplier = word[4 * c:8 * c].view("<i4")
            shift = np.minimum(word[8 * c:9 * c], 31)
            acc = self.acc[fields["acc_addr"]:fields["acc_addr"] + rows, :c]
            signed = lambda v: v - 256 if v > 127 else v   # noqa: E731
            out = requantize_unchecked(acc, bias, multiplier, shift,
                                       signed(fields["zero_point"]), signed(fields["act_min"]),
                                       signed(fields["act_max"])).view(np.uint8)
            if fields["dst"] == PostProcDst.ACT:
                dst = self.act
            else:
                dst = self.acc.view(np.uint8)
            n = min(c, dst.shape[1])
            dst[fields["dst_addr"]:fields["dst_addr"] + rows] = 0
            dst[fields["dst_addr"]:fields["dst_addr"] + rows, :n] = out[:, :n]
