"""GEMM programs for MATVEC, the weight-streaming mode of chips with a tile buffer.

For few rows of A (a GEMV) the weight-stationary MATMUL spends a tile's load on few vectors.
MATVEC instead streams whole weight tiles through the array, one per cycle, against a vector
held in the array's rows (:class:`~systole.hw.array.SystolicArray`), so the chip consumes B at
``rows * cols`` bytes per cycle and a GEMV is bound by the memory, not by the array's edge.

Memory layout (regions on interleave granules)::

    a_addr   A, per row m, per K-tile kt: one activation word (A[m, kt*rows:][:rows])
    b_addr   B as tiles, per K-tile kt, per N-tile nt: one tile word (B[kt*rows:, nt*cols:],
             rows x cols, row r at byte r * tile_row_pitch, zero-padded)
    c_addr   C, per N-tile nt: M accumulator words (as for MATMUL programs)
    prog     the instructions

The tiles are streamed in *chunks* of at most half the tile buffer, in memory order (K-tile
major), so each chunk is one contiguous LOAD and the two halves double-buffer: the next chunk
loads while the array streams the current one. A chunk holds whole K-tile rows of tiles (as
many as fit) or an equal part of one, so that no MATVEC is cut short at a chunk's edge. Every
row of A runs one MATVEC per K-tile row (or part) of a chunk, accumulating from the second
K-tile on, into accumulator words ``m * n_tiles + nt``.
All of A stays in the activation buffer; the STOREs (one per row of A) come at the end.
"""

from __future__ import annotations

import numpy as np

from .compiler import Program, _align, _stagger, assign_tokens
from .hw.config import SystoleConfig
from .hw.isa import INSTR_BYTES, Buffer, Opcode, encode
from .tiling import Tiling

__all__ = ["matvec_fits", "estimate_matvec_cycles", "compile_matvec"]

#: Cycles a MATVEC costs beyond its tiles (reading its vector, the command hand-over).
MATVEC_OVERHEAD = 5
#: Cycles from START to the first tile LOAD's data and from the last tile to DONE (program
#: fetch, decode, memory latency, array latency, the STORE's write responses); rough.
START_END = 250


def _shape(m: int, k: int, n: int, config: SystoleConfig) -> tuple[int, int]:
    rows, cols = config.array.rows, config.array.cols
    return -(-k // rows), -(-n // cols)


def matvec_fits(m: int, k: int, n: int, config: SystoleConfig) -> str | None:
    """``None`` when an M x K x N GEMM can run as MATVECs on ``config``; otherwise why not."""
    if not config.matvec:
        return f"{config.name!r} has no tile buffer (buffers.tile_depth is 0)"
    k_tiles, n_tiles = _shape(m, k, n, config)
    buf = config.buffers
    if buf.tile_depth < 2:
        return "the tile buffer must hold two tiles"
    if m * k_tiles > buf.act_depth:
        return (f"A needs {m * k_tiles} activation words, the buffer holds {buf.act_depth}")
    if m * n_tiles > buf.acc_depth:
        return (f"C needs {m * n_tiles} accumulator words, the buffer holds {buf.acc_depth}")
    return None


def _chunks(k_tiles: int, n_tiles: int, config: SystoleConfig) -> list[list[tuple]]:
    """The chunks, each a list of ``(kt, nt, count)`` segments: K-tile rows of tiles, whole
    (as many as fit half the tile buffer) or split into equal parts."""
    half = config.buffers.tile_depth // 2
    if n_tiles <= half:
        per = half // n_tiles
        return [[(kt, 0, n_tiles) for kt in range(first, min(first + per, k_tiles))]
                for first in range(0, k_tiles, per)]
    parts = -(-n_tiles // half)
    size = -(-n_tiles // parts)
    return [[(kt, nt, min(size, n_tiles - nt))] for kt in range(k_tiles)
            for nt in range(0, n_tiles, size)]


def estimate_matvec_cycles(m: int, k: int, n: int, config: SystoleConfig) -> int:
    """Rough run time of the MATVEC program: the array's tile stream or the memory traffic at
    peak bandwidth, whichever is longer, plus the first chunk and the fixed start and end."""
    k_tiles, n_tiles = _shape(m, k, n, config)
    tiles = k_tiles * n_tiles
    chunks = _chunks(k_tiles, n_tiles, config)
    segments = sum(len(chunk) for chunk in chunks)      # MATVECs per row of A
    compute = m * (tiles + segments * MATVEC_OVERHEAD)
    bandwidth = config.memory.data_bytes * config.memory.channels
    traffic = (tiles * config.word_bytes("tile") + m * k_tiles * config.word_bytes("act")
               + m * n_tiles * config.word_bytes("acc"))
    first = sum(count for _, _, count in chunks[0]) * config.word_bytes("tile")
    return max(compute, -(-traffic // bandwidth)) + -(-first // bandwidth) + START_END


def _pack(a: np.ndarray, b: np.ndarray, config: SystoleConfig, k_tiles: int, n_tiles: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """A (per row, per K-tile, one activation word) and B (tiles) as uint8 byte arrays."""
    rows, cols = config.array.rows, config.array.cols
    m, k = a.shape
    n = b.shape[1]
    a_pad = np.zeros((m, k_tiles * rows), np.int8)
    a_pad[:, :k] = a
    a_words = np.zeros((m, k_tiles, config.word_bytes("act")), np.uint8)
    a_words[:, :, :rows] = a_pad.reshape(m, k_tiles, rows).view(np.uint8)
    b_pad = np.zeros((k_tiles * rows, n_tiles * cols), np.int8)
    b_pad[:k, :n] = b
    pitch = config.tile_row_pitch
    rows_of = np.zeros((k_tiles, n_tiles, rows, pitch), np.uint8)
    rows_of[..., :cols] = (b_pad.reshape(k_tiles, rows, n_tiles, cols)
                           .transpose(0, 2, 1, 3).view(np.uint8))
    tiles = np.zeros((k_tiles, n_tiles, config.word_bytes("tile")), np.uint8)
    tiles[:, :, :rows * pitch] = rows_of.reshape(k_tiles, n_tiles, rows * pitch)
    return a_words.ravel(), tiles.ravel()


def compile_matvec(a: np.ndarray, b: np.ndarray, config: SystoleConfig) -> Program:
    """Compile C = A @ B (int8 operands, already checked) as a MATVEC program.

    Raises
    ------
    ValueError
        The chip has no tile buffer, A or C does not fit its buffers (:func:`matvec_fits`),
        or the program does not fit the memory.
    """
    m, k = a.shape
    n = b.shape[1]
    why = matvec_fits(m, k, n, config)
    if why:
        raise ValueError(f"the MATVEC mapping does not fit: {why}")
    k_tiles, n_tiles = _shape(m, k, n, config)
    act, tile, acc = (config.word_bytes(kind) for kind in ("act", "tile", "acc"))
    a_bytes, b_bytes = _pack(a, b, config, k_tiles, n_tiles)
    chunks = _chunks(k_tiles, n_tiles, config)
    half = config.buffers.tile_depth // 2
    first_bytes = sum(count for _, _, count in chunks[0]) * tile
    # B starts on the channel after A's, the program after the first chunk's.
    b_addr = _stagger(_align(len(a_bytes)), len(a_bytes), 0, config)
    c_addr = _align(b_addr + len(b_bytes))
    prog_addr = _stagger(_align(c_addr + n_tiles * m * acc), first_bytes, 1, config)

    instrs: list[dict] = []

    def emit(opcode: Opcode, **fields) -> None:
        instrs.append({"opcode": opcode, **fields})

    def load(index: int) -> None:
        kt, nt, _ = chunks[index][0]
        emit(Opcode.LOAD, buffer=Buffer.TILE, buf_addr=(index % 2) * half,
             rows=sum(count for _, _, count in chunks[index]),
             mem_addr=b_addr + (kt * n_tiles + nt) * tile, stride=tile)

    emit(Opcode.LOAD, buffer=Buffer.ACT, buf_addr=0, rows=m * k_tiles, mem_addr=0, stride=act)
    for index in range(min(2, len(chunks))):
        load(index)
    for index, chunk in enumerate(chunks):
        slot = (index % 2) * half
        for kt, nt, count in chunk:
            for row in range(m):
                emit(Opcode.MATVEC, act_addr=row * k_tiles + kt, tile_addr=slot,
                     acc_addr=row * n_tiles + nt, tiles=count, accumulate=int(kt > 0))
            slot += count
        if index + 2 < len(chunks):
            load(index + 2)
    for row in range(m):
        emit(Opcode.STORE, acc_addr=row * n_tiles, rows=n_tiles, mem_addr=c_addr + row * acc,
             stride=m * acc)
    emit(Opcode.HALT)
    assign_tokens(instrs, config)

    words = tuple(encode(f["opcode"], **{key: v for key, v in f.items() if key != "opcode"})
                  for f in instrs)
    end_addr = prog_addr + INSTR_BYTES * len(words)
    if end_addr > config.memory.size:
        raise ValueError(f"the GEMM needs {end_addr} bytes of memory, {config.name!r} has "
                         f"{config.memory.size}")
    image = np.zeros(end_addr, np.uint8)
    image[:len(a_bytes)] = a_bytes
    image[b_addr:b_addr + len(b_bytes)] = b_bytes
    image[prog_addr:end_addr] = np.frombuffer(
        b"".join(w.to_bytes(INSTR_BYTES, "little") for w in words), np.uint8)
    tiling = Tiling(m=m, k=k, n=n, m_block=m, k_tiles=k_tiles, n_tiles=n_tiles, m_blocks=1,
                    act_resident=True, weight_resident=False, act_slots=1, weight_slots=2,
                    acc_slots=1, lookahead=0, gap=0)
    loads = [f for f in instrs if f["opcode"] == Opcode.LOAD]
    return Program(
        config=config, tiling=tiling, instructions=words, image=image, prog_addr=prog_addr,
        a_addr=0, b_addr=b_addr, c_addr=c_addr,
        bytes_read=sum(f["rows"] * config.word_bytes("act" if f["buffer"] == Buffer.ACT
                                                     else "tile") for f in loads),
        bytes_written=m * n_tiles * acc, matvec=True)
