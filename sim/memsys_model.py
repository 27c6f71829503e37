"""numpy golden model of the memory subsystem: memory image, scratch buffer, descriptor checks.

What the DMA must do, written independently of :mod:`systole.hw.dma`: a load copies a tile's rows
from memory into consecutive buffer beats, a store copies them back, and a descriptor the engine
must reject (:func:`expected_error`) moves nothing.
"""

from __future__ import annotations

import numpy as np

from ..hw.config import MemoryConfig
from ..hw.dma import DmaError
from .memsys_tb import Tile

__all__ = ["MemsysModel", "expected_error", "random_tiles"]


def expected_error(config: MemoryConfig, tile: Tile) -> DmaError:
    """The status the engine must report for ``tile``, checks in the engine's documented
    order: alignment, empty tile (accepted, no data), memory range, buffer range."""
    beat = config.data_bytes
    if (tile.mem_addr | tile.stride | tile.row_bytes) % beat:
        return DmaError.ALIGN
    if tile.rows == 0 or tile.row_bytes == 0:
        return DmaError.NONE
    if tile.mem_addr + (tile.rows - 1) * tile.stride + tile.row_bytes > config.size:
        return DmaError.MEM_RANGE
    if tile.buf_addr + tile.rows * tile.row_bytes // beat > config.buffer_depth:
        return DmaError.BUF_RANGE
    return DmaError.NONE


class MemsysModel:
    """Memory image plus scratch buffer, updated descriptor by descriptor.

    Parameters
    ----------
    config : MemoryConfig
    image : numpy.ndarray
        Initial memory (``uint8``, ``config.size`` bytes); copied.

    Members
    -------
    memory : numpy.ndarray
        ``config.size`` bytes.
    buffer : numpy.ndarray
        ``config.buffer_depth`` x ``config.data_bytes`` bytes (contents are undefined in
        hardware until written; the model starts at zero and tests only compare memory).
    """

    def __init__(self, config: MemoryConfig, image: np.ndarray):
        self.config = config
        self.memory = image.copy()
        self.buffer = np.zeros((config.buffer_depth, config.data_bytes), np.uint8)

    def run(self, tile: Tile) -> DmaError:
        """Apply one descriptor; return its expected status."""
        error = expected_error(self.config, tile)
        if error != DmaError.NONE or tile.rows == 0 or tile.row_bytes == 0:
            return error
        beat = self.config.data_bytes
        row_beats = tile.row_bytes // beat
        for row in range(tile.rows):
            start = tile.mem_addr + row * tile.stride
            first = tile.buf_addr + row * row_beats
            mem = self.memory[start:start + tile.row_bytes]
            if tile.store:
                mem[:] = self.buffer[first:first + row_beats].reshape(-1)
            else:
                self.buffer[first:first + row_beats] = mem.reshape(row_beats, beat)
        return error


def random_tiles(config: MemoryConfig, rng: np.random.Generator, count: int, *,
                 max_rows: int = 6, max_row_beats: int = 24) -> list[Tile]:
    """``count`` random loads then ``count`` stores of the same shapes elsewhere.

    Loads go to disjoint buffer regions, so every store writes back what its load read, to
    another address with another stride. Shapes cross interleave granules and 4 KiB
    boundaries; some tiles end exactly at the end of memory.
    """
    beat = config.data_bytes
    loads, stores = [], []
    buf = 0
    for _ in range(count):
        rows = int(rng.integers(1, max_rows + 1))
        row_beats = int(rng.integers(1, max_row_beats + 1))
        if buf + rows * row_beats > config.buffer_depth:
            break
        row_bytes = row_beats * beat
        tiles = []
        for _ in range(2):
            stride = row_bytes + beat * int(rng.integers(0, 3 * row_beats + 8))
            extent = (rows - 1) * stride + row_bytes
            if rng.random() < 0.1:
                addr = config.size - extent                   # ends at the last byte
            else:
                addr = beat * int(rng.integers(0, (config.size - extent) // beat + 1))
            tiles.append((addr, stride))
        (src, src_stride), (dst, dst_stride) = tiles
        loads.append(Tile(src, rows, row_bytes, src_stride, buf))
        stores.append(Tile(dst, rows, row_bytes, dst_stride, buf, store=True))
        buf += rows * row_beats
    return loads + stores
