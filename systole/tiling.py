"""How the compiler splits a GEMM over the array and the on-chip buffers.

The array computes one weight tile (``rows`` x ``cols`` of B, a K-tile by an N-tile) against a
block of activation vectors (an M-block: up to ``m_block`` rows of A's K-tile) per MATMUL. The
loop nest is::

    for each M-block:
        for each N-tile:
            for each K-tile:  MATMUL (accumulate from the second K-tile on)
            STORE the M-block x N-tile of C

A whole M-block of A (all its K-tiles) stays in the activation buffer across N-tiles when two of
them fit (*act_resident*), otherwise each step reloads its K-tile into a ring of slots; all of B
stays in the weight buffer when it fits (*weight_resident*), otherwise a ring of weight slots is
refilled every step. The M-block is as large as the buffers allow with double buffering (so
loads and stores overlap compute) and balanced across blocks; among the candidate plans the
one with the lowest estimated time wins (compute time vs memory traffic at peak bandwidth).

The sequencer dispatches in program order and holds an instruction until the tokens it pops
are there. An instruction that waits for a MATMUL to complete (a LOAD refilling a slot, a STORE
of its results) therefore stops dispatch until then; placed at least :attr:`Tiling.gap`
MATMULs after it, the wait ends while the compute unit still streams the MATMULs dispatched
before, and the array never starves.
"""

from __future__ import annotations

from dataclasses import dataclass

from .hw.config import SystoleConfig
from .hw.params import check_int

__all__ = ["Tiling", "plan_tiling", "traffic", "estimate_cycles"]

_MAX_ROWS = (1 << 16) - 1   # the ``rows`` field of LOAD, MATMUL and STORE
#: Cycles from a MATMUL's last vector to its completion beyond the array latency (accumulator
#: write-back, token push, decode of the next instruction); a rough figure for the gap.
_COMPLETION_OVERHEAD = 10


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True, kw_only=True)
class Tiling:
    """A GEMM's split over the array and buffers (see the module docstring).

    Parameters
    ----------
    m, k, n : int
        GEMM size: A is M x K, B is K x N.
    m_block : int
        Activation vectors per MATMUL (the last M-block may be shorter).
    k_tiles, n_tiles, m_blocks : int
        Tiles along K (array rows), N (array columns) and M-blocks.
    act_resident, weight_resident : bool
        Whether an M-block of A / all of B is loaded once and kept.
    act_slots, weight_slots, acc_slots : int
        Regions of each buffer used round robin (a slot is an M-block of all K-tiles of A, or
        one K-tile of it; a weight tile; an M-block of accumulators).
    lookahead : int
        Steps (MATMULs) the load unit may run ahead of the compute unit; rings have at most
        this many slots.
    gap : int
        MATMULs between a MATMUL and the first instruction that waits for its completion.
    """

    m: int
    k: int
    n: int
    m_block: int
    k_tiles: int
    n_tiles: int
    m_blocks: int
    act_resident: bool
    weight_resident: bool
    act_slots: int
    weight_slots: int
    acc_slots: int
    lookahead: int
    gap: int

    @property
    def steps(self) -> int:
        """MATMULs in the program."""
        return self.m_blocks * self.n_tiles * self.k_tiles

    def block_rows(self, block: int) -> int:
        """Activation vectors of M-block ``block``."""
        return min(self.m_block, self.m - block * self.m_block)

    @property
    def prefetch(self) -> int:
        """Steps whose loads come before a MATMUL in program order.

        This distance is how far the load unit runs ahead. A load into a ring slot waits for
        the MATMUL that last read the slot, the throttled load of step ``j`` for MATMUL
        ``j - lookahead``; both must be at least :attr:`gap` MATMULs back (which also keeps
        the program order valid: the waited-for MATMUL comes first).
        """
        distance = self.lookahead - self.gap
        if not self.weight_resident:
            distance = min(distance, self.weight_slots - self.gap)
        if not self.act_resident:
            distance = min(distance, self.act_slots - self.gap)
        elif self.m_blocks > 1:
            distance = min(distance, self.n_tiles * self.k_tiles + 1 - self.gap)
        return max(distance, 0)

    @property
    def store_delay(self) -> int:
        """MATMULs between the last MATMUL of an output block and its STORE.

        At most ``gap - 1`` and early enough that the STORE precedes the MATMUL that reuses
        its accumulator slot.
        """
        return min(self.gap - 1, (self.acc_slots - 1) * self.k_tiles)


def _balanced(m: int, limit: int) -> int:
    return _ceil_div(m, _ceil_div(m, limit))


def _m_block_options(m: int, per_row: int, steps_per_block: int, n_tiles: int,
                     act_resident: bool, act_depth: int, acc_depth: int,
                     min_rows: int) -> list[int]:
    """Balanced M-blocks whose activation and accumulator slots fit (two slots, i.e. double
    buffering, whenever there is more than one block to hold): the largest, then smaller ones
    (halving) down to ``min_rows``. Smaller blocks shorten the program's start (the first LOAD)
    and end (the last STORE) at the cost of more instructions."""
    options: list[int] = []
    limit = min(m, _MAX_ROWS, act_depth // per_row, acc_depth)
    while limit >= 1:
        m_block = _balanced(m, limit)
        m_blocks = _ceil_div(m, m_block)
        act_slots = min(2, m_blocks if act_resident else m_blocks * steps_per_block)
        acc_slots = min(2, m_blocks * n_tiles)
        if act_slots * per_row * m_block <= act_depth and acc_slots * m_block <= acc_depth:
            if m_block not in options:
                options.append(m_block)
            if m_block // 2 < min_rows:
                break
            limit = m_block // 2
        else:
            limit = m_block - 1
    return options


def _plan(m: int, k: int, n: int, config: SystoleConfig, m_block: int, act_resident: bool,
          weight_resident: bool, lookahead: int) -> Tiling:
    rows, cols = config.array.rows, config.array.cols
    bufs = config.buffers
    k_tiles, n_tiles = _ceil_div(k, rows), _ceil_div(n, cols)
    m_blocks = _ceil_div(m, m_block)
    steps = m_blocks * n_tiles * k_tiles
    if act_resident:
        act_slots = min(2, m_blocks)
    else:
        act_slots = min(bufs.act_depth // m_block, lookahead, steps)
    period = max(m_block, config.array.min_tile_period)
    gap = 1 + _ceil_div(config.array.latency + _COMPLETION_OVERHEAD, period)
    return Tiling(
        m=m, k=k, n=n, m_block=m_block, k_tiles=k_tiles, n_tiles=n_tiles,
        m_blocks=m_blocks, act_resident=act_resident, weight_resident=weight_resident,
        act_slots=act_slots,
        weight_slots=(k_tiles * n_tiles if weight_resident else
                      min(bufs.weight_depth // rows, lookahead, steps)),
        acc_slots=min(bufs.acc_depth // m_block, lookahead, m_blocks * n_tiles),
        lookahead=lookahead, gap=gap)


def plan_tiling(m: int, k: int, n: int, config: SystoleConfig, *, lookahead: int = 16
                ) -> Tiling:
    """Choose the tiling of an M x K x N GEMM for ``config``.

    Raises
    ------
    ValueError
        A size is below 1, ``lookahead`` below 2, or the buffers cannot hold one step.
    """
    for name, value in (("m", m), ("k", k), ("n", n)):
        check_int(name, value, 1)
    check_int("lookahead", lookahead, 2)
    rows, cols = config.array.rows, config.array.cols
    bufs = config.buffers
    k_tiles, n_tiles = _ceil_div(k, rows), _ceil_div(n, cols)
    weight_resident = k_tiles * n_tiles * rows <= bufs.weight_depth
    candidates = []
    for act_resident in (True, False):
        per_row = k_tiles if act_resident else 1
        for m_block in _m_block_options(m, per_row, n_tiles * k_tiles, n_tiles, act_resident,
                                        bufs.act_depth, bufs.acc_depth,
                                        config.array.min_tile_period):
            candidates.append(_plan(m, k, n, config, m_block, act_resident, weight_resident,
                                    lookahead))
    if not candidates:  # unreachable with validated configs (every depth is at least 2)
        raise ValueError(f"the buffers of {config.name!r} cannot hold one step")
    return min(candidates, key=lambda t: (estimate_cycles(t, config), traffic(t, config),
                                          -t.m_block))


def traffic(tiling: Tiling, config: SystoleConfig) -> int:
    """Bytes the plan moves between memory and the chip (operands, results; no program)."""
    t = tiling
    a_bytes = t.m * t.k_tiles * config.word_bytes("act") * (1 if t.act_resident else t.n_tiles)
    b_bytes = (t.k_tiles * t.n_tiles * config.array.rows * config.word_bytes("weight")
               * (1 if t.weight_resident else t.m_blocks))
    c_bytes = t.m * t.n_tiles * config.word_bytes("acc")
    return a_bytes + b_bytes + c_bytes


def estimate_cycles(tiling: Tiling, config: SystoleConfig) -> int:
    """Rough run time: array time (a tile takes at least ``2 * rows - 1`` cycles to hide its
    weight load) or memory time at peak bandwidth, whichever is longer, plus what cannot
    overlap: the first step's operands coming in and the last block's results going out."""
    t = tiling
    compute = sum(max(t.block_rows(b), config.array.min_tile_period)
                  for b in range(t.m_blocks)) * t.n_tiles * t.k_tiles
    bandwidth = config.memory.data_bytes * config.memory.channels
    first = (t.block_rows(0) * config.word_bytes("act")
             + config.array.rows * config.word_bytes("weight"))
    last = t.block_rows(t.m_blocks - 1) * config.word_bytes("acc")
    # A cycle per MATMUL stands for the cost of more, shorter steps (more instructions to
    # fetch and decode, a hand-over between tiles), which the saving at the ends must beat.
    return (max(compute, _ceil_div(traffic(t, config), bandwidth))
            + _ceil_div(first + last, bandwidth) + t.steps)
