"""Memory benchmark workloads: DMA descriptor lists for each access pattern.

Pure Python, shared by the benchmark driver (:mod:`systole.sim.membench`) and the cocotb bench
(:mod:`systole.sim.tb_membench`). Every pattern is a list of load descriptors and a list of
store descriptors; the bench feeds each list back to back into its DMA engine, both at once.

Patterns
--------
``seq_read`` / ``seq_write``
    One contiguous region, in descriptors as large as the scratch buffer.
``mixed``
    Half the bytes read from one region while the other half is written to another (loads and
    stores concurrently: every channel sees both directions).
``random``
    ``granule``-byte accesses at scattered addresses. The DMA moves strided tiles, so each
    descriptor is a gather: ``rows`` accesses of one granule, a random large stride apart (every
    access lands in another DRAM row of another bank or channel); stride and base are drawn
    afresh for every descriptor.
``latency``
    Dependent single-granule reads at random addresses, one at a time (the DMA runs one
    descriptor, then the next): the unloaded read latency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hw.config import MemoryConfig
from .memsys_tb import Tile

__all__ = ["PATTERNS", "Workload", "workload"]

#: Pattern kinds understood by :func:`workload`.
PATTERNS = ("seq_read", "seq_write", "mixed", "random", "latency")
#: Bytes per row of sequential descriptors (the descriptor's row field is 16 bits).
SEQ_ROW_BYTES = 4096


@dataclass(frozen=True)
class Workload:
    """Descriptors of one benchmark pattern.

    Members
    -------
    loads, stores : list of Tile
        Fed to the load and the store engine (concurrently, each list back to back).
    serial : bool
        Wait for each descriptor's status before the next (``latency``).
    """

    loads: list[Tile]
    stores: list[Tile]
    serial: bool = False

    @property
    def bytes(self) -> int:
        """Bytes the workload moves."""
        return sum(t.rows * t.row_bytes for t in (*self.loads, *self.stores))


def _sequential(config: MemoryConfig, start: int, nbytes: int, buf0: int, buf_beats: int,
                *, store: bool) -> list[Tile]:
    row = min(SEQ_ROW_BYTES, buf_beats * config.data_bytes)
    rows_per_tile = max(1, buf_beats * config.data_bytes // row)
    tiles, addr, end = [], start, start + nbytes
    while addr < end:
        remaining = end - addr
        if remaining >= row:
            rows = min(rows_per_tile, remaining // row)
            tiles.append(Tile(addr, rows, row, row, buf0, store=store))
        else:
            rows, row = 1, remaining
            tiles.append(Tile(addr, 1, remaining, remaining, buf0, store=store))
        addr += rows * row
    return tiles


def _random(config: MemoryConfig, rng: np.random.Generator, nbytes: int, granule: int,
            buf_beats: int, *, serial: bool) -> list[Tile]:
    rows_max = 1 if serial else max(1, min(64, buf_beats * config.data_bytes // granule))
    tiles, moved = [], 0
    while moved < nbytes:
        rows = min(rows_max, -(-(nbytes - moved) // granule))
        if rows == 1:
            stride = granule
        else:
            # Large strides (at least a DRAM row per channel) scatter the accesses.
            low = max(granule, 16 * 1024 * config.channels) // granule
            high = max(low + 1, config.size // (rows * granule))
            stride = granule * int(rng.integers(low, high))
        extent = (rows - 1) * stride + granule
        base = granule * int(rng.integers(0, (config.size - extent) // granule + 1))
        tiles.append(Tile(base, rows, granule, stride, 0))
        moved += rows * granule
    return tiles


def workload(kind: str, config: MemoryConfig, nbytes: int, *, granule: int = 64,
             seed: int = 0) -> Workload:
    """Descriptors moving ``nbytes`` bytes in the pattern ``kind`` (one of :data:`PATTERNS`).

    Raises
    ------
    ValueError
        Unknown ``kind``, a ``granule`` that is not a whole number of beats, or ``nbytes`` that
        does not fit the memory.
    """
    if kind not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, not {kind!r}")
    beat = config.data_bytes
    if granule % beat or granule <= 0 or granule > 65535:
        raise ValueError(f"granule must be a multiple of the {beat}-byte beat up to 65535, "
                         f"not {granule}")
    if nbytes % beat or nbytes <= 0 or nbytes > config.size // 2:
        raise ValueError(f"size must be a positive multiple of {beat} bytes up to half the "
                         f"memory ({config.size // 2}), not {nbytes}")
    rng = np.random.default_rng(seed)
    half = config.buffer_depth // 2
    if kind == "seq_read":
        return Workload(_sequential(config, 0, nbytes, 0, half, store=False), [])
    if kind == "seq_write":
        return Workload([], _sequential(config, 0, nbytes, 0, half, store=True))
    if kind == "mixed":
        reads = nbytes // (2 * beat) * beat
        loads = _sequential(config, 0, reads, 0, half, store=False)
        stores = _sequential(config, config.size // 2, nbytes - reads, half, half, store=True)
        return Workload(loads, stores)
    serial = kind == "latency"
    return Workload(_random(config, rng, nbytes, granule, half, serial=serial), [],
                    serial=serial)
