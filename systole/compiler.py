"""GEMM compiler: int8 A (M x K) and B (K x N) to a program and a memory image for the chip.

Memory layout (every region starts on an interleave granule, every row is one buffer word, so
all addresses and strides are beat-aligned; B and the program start on a channel the first
activation LOAD does not use)::

    a_addr   A, per K-tile kt: M activation words (row m: A[m, kt*rows:][:rows], zero-padded)
    b_addr   B, per N-tile nt, per K-tile kt: ``rows`` weight words (B[kt*rows + i, nt*cols:])
    c_addr   C, per N-tile nt: M accumulator words (row m: C[m, nt*cols:][:cols] as int32)
    prog     the instructions, 16 bytes each (``prog_addr``), ending with HALT

The tiling (:mod:`systole.tiling`) decides M-blocks and buffer slots. Instructions are emitted in
sequential order: the loads of a later step (``Tiling.prefetch`` steps ahead) before the
current MATMUL, so the load unit prefetches, and each STORE ``Tiling.store_delay`` MATMULs after
the last MATMUL of its block, so that its wait does not stall dispatch while the array still
has work. Dependency tokens are then derived from the hazards between units
(:func:`assign_tokens`): each instruction pops a token for the latest instruction of an adjacent
unit it conflicts with, which pushes it. Every push precedes its pop in program order, so the
program cannot deadlock whatever the dispatch queue depths. The load unit is throttled to
``lookahead`` MATMULs ahead, which bounds the tokens waiting in each queue.

The program ends with a bare HALT: the chip reports done only once every unit is idle, so no
trailing SYNC is needed, and every token pushed is popped (no tokens are left over).

**Transposed mapping.** A weight tile is used by the M rows of an M-block, and the array needs
at least ``2 * rows - 1`` vectors per tile to hide the next tile's weight shift
(:attr:`~systole.hw.config.ArrayConfig.min_tile_period`). With few rows of A (a GEMV, M = 1)
every tile costs that many cycles for M vectors. :func:`compile_gemm` then computes
C^T = B^T A^T instead: B^T (N x K) streams through the array as the activations, A^T (K x M)
is the weight tiles, each used by all N rows, and the layout above holds B^T in the A region,
A^T in the B region and C^T in the C region (:attr:`Program.transposed`;
:meth:`Program.read_result` returns C). It transposes when
:func:`~systole.tiling.estimate_cycles` finds that at least 10 % faster
(:data:`TRANSPOSE_GAIN`); ``transpose=`` forces either mapping.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

import numpy as np

from .asm import disassemble_program
from .hw.config import SystoleConfig, preset
from .hw.isa import INSTR_BYTES, Buffer, Opcode, Unit, encode, unit_of
from .sim.footprint import Shadow, footprint
from .sim.tokens import queue_between
from .tiling import Tiling, estimate_cycles, plan_tiling

__all__ = ["Program", "compile_gemm", "assign_tokens", "REGION_ALIGN", "TRANSPOSE_GAIN"]

REGION_ALIGN = 4096
#: ``compile_gemm`` transposes only when the estimate of C^T = B^T A^T is below this fraction
#: of the straight mapping's: the estimate is rough, and close calls stay straight.
TRANSPOSE_GAIN = 0.9


def _align(value: int) -> int:
    return -(-value // REGION_ALIGN) * REGION_ALIGN


@dataclass(frozen=True, eq=False)
class Program:
    """A compiled GEMM: instructions, memory image and where the result lands.

    Members
    -------
    config : SystoleConfig
    tiling : Tiling
    instructions : tuple of int
        128-bit instruction words.
    image : numpy.ndarray
        uint8 memory image from address 0: operands, zeroed result space, program.
    prog_addr, a_addr, b_addr, c_addr : int
        Byte addresses of the program and the A, B and C regions.
    bytes_read, bytes_written : int
        Data bytes the LOADs read and the STOREs write (instruction fetch not included).
    transposed : bool
        The program computes C^T = B^T A^T (see the module docstring): :attr:`tiling` is that
        GEMM's (N x K x M), the A region holds B^T, the B region A^T and the C region C^T.
    matvec : bool
        The program streams B's tiles through MATVECs (:mod:`systole.matvec`): the B region
        holds whole tiles; A and C are laid out as for MATMUL programs.
    """

    config: SystoleConfig
    tiling: Tiling
    instructions: tuple[int, ...]
    image: np.ndarray
    prog_addr: int
    a_addr: int
    b_addr: int
    c_addr: int
    bytes_read: int
    bytes_written: int
    transposed: bool = False
    matvec: bool = False

    @property
    def mapping(self) -> str:
        """``"straight"``, ``"transposed"`` or ``"matvec"``."""
        return "matvec" if self.matvec else "transposed" if self.transposed else "straight"

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(M, K, N)`` of C = A @ B (whichever mapping the program uses)."""
        t = self.tiling
        return (t.n, t.k, t.m) if self.transposed else (t.m, t.k, t.n)

    @property
    def macs(self) -> int:
        """Useful multiply-accumulates, M * K * N."""
        m, k, n = self.shape
        return m * k * n

    @property
    def array_vectors(self) -> int:
        """Activation vectors the array processes (sum of MATMUL rows)."""
        return self.tiling.m * self.tiling.n_tiles * self.tiling.k_tiles

    @property
    def counts(self) -> dict[str, int]:
        """Instructions per opcode name."""
        return dict(Counter(Opcode(w & 0xFF).name for w in self.instructions))

    @property
    def result_range(self) -> tuple[int, int]:
        """``(address, bytes)`` of the C region."""
        t = self.tiling
        return self.c_addr, t.n_tiles * t.m * self.config.word_bytes("acc")

    def read_result(self, memory: np.ndarray, *, base: int = 0) -> np.ndarray:
        """Un-tile C (int32, M x N) from ``memory``, a uint8 image whose first byte is at
        address ``base`` and which covers :attr:`result_range`."""
        t, cols = self.tiling, self.config.array.cols
        addr, nbytes = self.result_range
        region = np.asarray(memory, dtype=np.uint8)[addr - base:addr - base + nbytes]
        if addr < base or len(region) != nbytes:
            raise ValueError(f"memory must cover bytes {addr:#x}..{addr + nbytes:#x}")
        words = region.reshape(t.n_tiles, t.m, -1)[:, :, :4 * cols].copy().view("<i4")
        c = words.transpose(1, 0, 2).reshape(t.m, t.n_tiles * cols)[:, :t.n].astype(np.int32)
        return np.ascontiguousarray(c.T) if self.transposed else c

    @property
    def estimated_cycles(self) -> int:
        """The tiling's rough run-time estimate (see :func:`systole.tiling.estimate_cycles`
        and :func:`systole.matvec.estimate_matvec_cycles`)."""
        if self.matvec:
            from .matvec import estimate_matvec_cycles
            t = self.tiling
            return estimate_matvec_cycles(t.m, t.k, t.n, self.config)
        return estimate_cycles(self.tiling, self.config)

    def assembly(self) -> str:
        """The program as assembly text (see :mod:`systole.asm`)."""
        return disassemble_program(self.instructions, base=self.prog_addr)


def _stagger(base: int, first_bytes: int, skip: int, config: SystoleConfig) -> int:
    """``base`` (on channel 0) moved to the channel ``skip`` places after the last one that
    ``first_bytes`` from address 0 reach (addresses interleave over the channels in granules,
    see :mod:`systole.hw.addrmap`)."""
    mem = config.memory
    granules = -(-first_bytes // mem.interleave)
    return base + (granules + skip) % mem.channels * mem.interleave


def _check_operand(name: str, value: object, dims: str) -> None:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of int8, not {type(value).__name__}")
    if value.dtype != np.int8:
        raise TypeError(f"{name} must have dtype int8, not {value.dtype}")
    if value.ndim != 2:
        raise ValueError(f"{name} must be 2-D ({dims}), not {value.ndim}-D with shape "
                         f"{value.shape}")
    if 0 in value.shape:
        raise ValueError(f"{name} must not be empty, its shape is {value.shape}")


def assign_tokens(instrs: list[dict], config: SystoleConfig,
                  extra: dict[int, list[int]] | None = None) -> None:
    """Set the dependency flags of sequentially ordered instructions, in place.

    An instruction waits (pop) for the latest instruction of each other unit it conflicts with
    (same buffer word or memory beat, one of them writing) and for the instructions listed in
    ``extra[index]``; that instruction pushes. Knowledge carries over: a dependency already
    covered by an earlier token of the same queue costs nothing.

    Raises
    ------
    ValueError
        A dependency between the load and the store unit (they share no token queue) that no
        chain of tokens through the compute unit covers.
    """
    extra = extra or {}
    shadow = Shadow(config)
    units = [unit_of(f) for f in instrs]
    local: list[int] = []
    members: dict[Unit, list[int]] = {u: [] for u in Unit}
    for i, unit in enumerate(units):
        local.append(len(members[unit]) if unit is not None else -1)
        if unit is not None:
            members[unit].append(i)
    known = dict.fromkeys(_pairs(), -1)
    # Vector clocks: clock[u] of an instruction's end = latest unit-u instruction known to end
    # before it, so a dependency between units without a queue (load and store) is accepted
    # when a chain of tokens through the compute unit already covers it.
    unit_clock = {u: [-1] * len(Unit) for u in Unit}
    end_clock: dict[int, list[int]] = {}
    for i, fields in enumerate(instrs):
        unit = units[i]
        if unit is None:
            continue
        accesses = footprint(fields, config)
        need = {other: j for other, (j, _) in shadow.conflicts(unit, accesses).items()}
        for dep in extra.get(i, ()):
            if units[dep] is not None and units[dep] != unit:
                need[units[dep]] = max(need.get(units[dep], -1), local[dep])
        clock = list(unit_clock[unit])
        # Units with a queue first: their pops may cover a dependency without one.
        for other, j in sorted(need.items(),
                               key=lambda item: queue_between(item[0], unit) is None):
            other = Unit(other)
            if queue_between(other, unit) is None:
                if clock[other] >= j:
                    continue
                raise ValueError(f"instruction {i} ({unit.name}) depends on a {other.name} "
                                 f"instruction, but the two units share no token queue")
            if j <= known[other, unit]:
                continue
            side = "next" if other < unit else "prev"   # where ``unit`` sits seen from other
            instrs[members[other][j]]["push_" + side] = 1
            instrs[i]["pop_" + ("prev" if side == "next" else "next")] = 1
            known[other, unit] = j
            clock = [max(a, b) for a, b in zip(clock, end_clock[members[other][j]],
                                               strict=True)]
        clock[unit] = local[i]
        end_clock[i] = unit_clock[unit] = clock
        shadow.record(unit, local[i], accesses)


def _pairs() -> list[tuple[Unit, Unit]]:
    return [(a, b) for a in Unit for b in Unit if queue_between(a, b) is not None]


class _Emitter:
    """Emits the instruction sequence of a tiling, in sequential order."""

    def __init__(self, config: SystoleConfig, tiling: Tiling, a_addr: int, b_addr: int,
                 c_addr: int):
        self.cfg, self.t = config, tiling
        self.a_addr, self.b_addr, self.c_addr = a_addr, b_addr, c_addr
        self.instrs: list[dict] = []
        self.extra: dict[int, list[int]] = {}
        self.steps = [(b, nt, kt) for b in range(tiling.m_blocks)
                      for nt in range(tiling.n_tiles) for kt in range(tiling.k_tiles)]
        self.matmul_at: list[int] = []
        # Bytes between rows of A in memory: an activation word, or an accumulator word when A
        # is the int8 output of a previous layer (see systole.network).
        self.a_row_bytes = config.word_bytes("act")

    def _emit(self, opcode: Opcode, **fields) -> int:
        self.instrs.append({"opcode": opcode, **fields})
        return len(self.instrs) - 1

    def _act_word(self, j: int) -> int:
        t = self.t
        b, _, kt = self.steps[j]
        if t.act_resident:
            return (b % t.act_slots) * t.k_tiles * t.m_block + kt * t.m_block
        return (j % t.act_slots) * t.m_block

    def _weight_word(self, j: int) -> int:
        t = self.t
        _, nt, kt = self.steps[j]
        slot = nt * t.k_tiles + kt if t.weight_resident else j % t.weight_slots
        return slot * self.cfg.array.rows

    #: Most weight tiles one LOAD brings in when all of B stays in the buffer.
    WEIGHT_TILES_PER_LOAD = 8

    def _weight_tiles(self, j: int) -> int:
        """Weight tiles the LOADs of step ``j`` bring in (0: none, they are already there).

        A ring slot gets one tile per step. Resident B (loaded during the first M-block, tile
        ``j`` in slot ``j``, back to back in memory and in the buffer) comes in chunks that
        double from one tile (the first MATMUL waits for the least data) up to
        :attr:`WEIGHT_TILES_PER_LOAD`: fewer instructions and DMA descriptors.
        """
        t = self.t
        if not t.weight_resident:
            return 1
        total = t.n_tiles * t.k_tiles
        if j >= total:              # later M-blocks reuse the resident tiles
            return 0
        start, size = 0, 1
        while start + size <= j:
            start += size
            size = min(2 * size if start > 1 else 1, self.WEIGHT_TILES_PER_LOAD)
        return min(size, total - j) if start == j else 0

    def _loads(self, j: int) -> None:
        cfg, t = self.cfg, self.t
        b, nt, kt = self.steps[j]
        rows = t.block_rows(b)
        first = len(self.instrs)
        if not t.act_resident or nt == 0:
            act_bytes = self.a_row_bytes
            self._emit(Opcode.LOAD, buffer=Buffer.ACT, buf_addr=self._act_word(j), rows=rows,
                       mem_addr=self.a_addr + (kt * t.m + b * t.m_block) * act_bytes,
                       stride=act_bytes)
        tiles = self._weight_tiles(j)
        if tiles:
            w_bytes, r = cfg.word_bytes("weight"), cfg.array.rows
            self._emit(Opcode.LOAD, buffer=Buffer.WEIGHT, buf_addr=self._weight_word(j),
                       rows=r * tiles,
                       mem_addr=self.b_addr + (nt * t.k_tiles + kt) * r * w_bytes,
                       stride=w_bytes)
        if j >= t.lookahead:  # throttle: no further ahead than `lookahead` MATMULs
            for i in range(first, len(self.instrs)):
                self.extra[i] = [self.matmul_at[j - t.lookahead]]

    def emit(self) -> None:
        cfg, t = self.cfg, self.t
        acc_bytes = cfg.word_bytes("acc")
        loaded = 0
        stores: deque[tuple[int, dict]] = deque()   # (step after which to emit, fields)
        for j, (b, nt, kt) in enumerate(self.steps):
            # Ramp up to the prefetch distance so that the first MATMUL starts early.
            while loaded <= min(j + t.prefetch, 2 * j + 1, len(self.steps) - 1):
                self._loads(loaded)
                loaded += 1
            rows = t.block_rows(b)
            acc_word = ((b * t.n_tiles + nt) % t.acc_slots) * t.m_block
            self.matmul_at.append(self._emit(
                Opcode.MATMUL, act_addr=self._act_word(j), weight_addr=self._weight_word(j),
                acc_addr=acc_word, rows=rows, accumulate=int(kt > 0)))
            if kt == t.k_tiles - 1:
                stores.append((j + t.store_delay, dict(
                    acc_addr=acc_word, rows=rows, stride=acc_bytes,
                    mem_addr=self.c_addr + (nt * t.m + b * t.m_block) * acc_bytes)))
            while stores and stores[0][0] <= j:
                self._emit(Opcode.STORE, **stores.popleft()[1])
        while stores:
            self._emit(Opcode.STORE, **stores.popleft()[1])
        self._emit(Opcode.HALT)


def _regions(t: Tiling, config: SystoleConfig) -> tuple[int, int, int]:
    """``(b_addr, c_addr, prog_addr)`` of the memory layout (A at 0).

    The first step needs the first activation rows, the first weight tile and, before them,
    the program: B and the program start on the channels after the ones the first activation
    LOAD reads, so the three come in in parallel (see :func:`_stagger`).
    """
    act, weight, acc = (config.word_bytes(kind) for kind in ("act", "weight", "acc"))
    first_act = t.block_rows(0) * act
    b_addr = _stagger(_align(t.k_tiles * t.m * act), first_act, 0, config)
    c_addr = _align(b_addr + t.n_tiles * t.k_tiles * config.array.rows * weight)
    prog_addr = _stagger(_align(c_addr + t.n_tiles * t.m * acc), first_act, 1, config)
    return b_addr, c_addr, prog_addr


def _pack(a: np.ndarray, b: np.ndarray, config: SystoleConfig, t: Tiling
          ) -> tuple[np.ndarray, np.ndarray]:
    """A and B in their memory layouts, as uint8 byte arrays."""
    rows, cols = config.array.rows, config.array.cols
    a_pad = np.zeros((t.m, t.k_tiles * rows), np.int8)
    a_pad[:, :t.k] = a
    a_words = np.zeros((t.k_tiles, t.m, config.word_bytes("act")), np.uint8)
    a_words[:, :, :rows] = a_pad.reshape(t.m, t.k_tiles, rows).transpose(1, 0, 2).view(np.uint8)
    b_pad = np.zeros((t.k_tiles * rows, t.n_tiles * cols), np.int8)
    b_pad[:t.k, :t.n] = b
    b_words = np.zeros((t.n_tiles, t.k_tiles, rows, config.word_bytes("weight")), np.uint8)
    b_words[..., :cols] = (b_pad.reshape(t.k_tiles, rows, t.n_tiles, cols)
                           .transpose(2, 0, 1, 3).view(np.uint8))
    return a_words.ravel(), b_words.ravel()


def compile_gemm(a: np.ndarray, b: np.ndarray, config: SystoleConfig | None = None, *,
                 lookahead: int = 16, transpose: bool | None = None,
                 matvec: bool | None = None) -> Program:
    """Compile C = A @ B (int8 in, int32 out) for the chip described by ``config``.

    Parameters
    ----------
    a : numpy.ndarray
        A, int8, M x K, M and K at least 1.
    b : numpy.ndarray
        B, int8, K x N, N at least 1.
    config : SystoleConfig, optional
        The accelerator (default: the ``default`` preset).
    lookahead : int
        MATMULs the load unit may run ahead of the compute unit (at least 2).
    transpose : bool or None
        Compute C^T = B^T A^T (``True``) or C = A @ B (``False``) on the array; ``None``
        (default) transposes when :func:`~systole.tiling.estimate_cycles` finds that at least
        10 % faster, as for few rows of A and many columns of B (a GEMV). The result is
        C either way (:meth:`Program.read_result`).
    matvec : bool or None
        Stream B's tiles through MATVECs (:mod:`systole.matvec`; chips with a tile buffer):
        ``True`` forces it, ``False`` keeps MATMULs; ``None`` (default) chooses it when the
        chip has a tile buffer, A and C fit and its estimate is at least 10 % below the MATMUL
        program's (a GEMV, few rows of A).

    Raises
    ------
    TypeError
        An operand is not a numpy int8 array, ``config`` is not a SystoleConfig or
        ``transpose`` is not None, True or False.
    ValueError
        An operand is not 2-D or empty, the inner dimensions differ, the GEMM does not fit
        the memory, or ``matvec=True`` on a chip or shape that cannot run it.
    """
    config = preset("default") if config is None else config
    if not isinstance(config, SystoleConfig):
        raise TypeError(f"config must be a SystoleConfig, not {config!r}")
    _check_operand("A", a, "M x K")
    _check_operand("B", b, "K x N")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: A is M x K = {a.shape[0]} x {a.shape[1]}, "
                         f"B is K x N = {b.shape[0]} x {b.shape[1]}")
    if transpose is not None and not isinstance(transpose, bool):
        raise TypeError(f"transpose must be None, True or False, not {transpose!r}")
    if matvec is not None and not isinstance(matvec, bool):
        raise TypeError(f"matvec must be None, True or False, not {matvec!r}")
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    if matvec or matvec is None and transpose is None:
        from .matvec import compile_matvec, estimate_matvec_cycles, matvec_fits
        if matvec:
            return compile_matvec(a, b, config)
        if matvec_fits(m, k, n, config) is None:
            best = min(estimate_cycles(plan_tiling(*shape, config, lookahead=lookahead),
                                       config) for shape in ((m, k, n), (n, k, m)))
            if estimate_matvec_cycles(m, k, n, config) < TRANSPOSE_GAIN * best:
                return compile_matvec(a, b, config)
    if transpose is None:
        straight = plan_tiling(m, k, n, config, lookahead=lookahead)
        flipped = plan_tiling(n, k, m, config, lookahead=lookahead)
        # At most two LOADs, a MATMUL and a STORE per step, and the HALT.
        flipped_end = _regions(flipped, config)[2] + INSTR_BYTES * (4 * flipped.steps + 1)
        transpose = (estimate_cycles(flipped, config)
                     < TRANSPOSE_GAIN * estimate_cycles(straight, config)
                     and flipped_end <= config.memory.size)
        t = flipped if transpose else straight
    else:
        t = plan_tiling(*((n, k, m) if transpose else (m, k, n)), config, lookahead=lookahead)
    if transpose:           # C^T = B^T A^T: B^T is the array's activations, A^T its weights
        a, b = b.T, a.T
    a_bytes, b_bytes = _pack(a, b, config, t)
    b_addr, c_addr, prog_addr = _regions(t, config)
    emitter = _Emitter(config, t, 0, b_addr, c_addr)
    emitter.emit()
    assign_tokens(emitter.instrs, config, emitter.extra)
    words = tuple(encode(f["opcode"], **{k: v for k, v in f.items() if k != "opcode"})
                  for f in emitter.instrs)
    end = prog_addr + INSTR_BYTES * len(words)
    if end > config.memory.size:
        raise ValueError(f"the GEMM needs {end} bytes of memory, {config.name!r} has "
                         f"{config.memory.size}")
    image = np.zeros(end, np.uint8)
    image[:len(a_bytes)] = a_bytes
    image[b_addr:b_addr + len(b_bytes)] = b_bytes
    image[prog_addr:end] = np.frombuffer(
        b"".join(w.to_bytes(INSTR_BYTES, "little") for w in words), np.uint8)
    loads = [f for f in emitter.instrs if f["opcode"] == Opcode.LOAD]
    return Program(
        config=config, tiling=t, instructions=words, image=image, prog_addr=prog_addr,
        a_addr=0, b_addr=b_addr, c_addr=c_addr,
        bytes_read=sum(f["rows"] * config.word_bytes("act" if f["buffer"] == Buffer.ACT
                                                     else "weight") for f in loads),
        bytes_written=sum(f["rows"] * config.word_bytes("acc") for f in emitter.instrs
                          if f["opcode"] == Opcode.STORE),
        transposed=transpose)
