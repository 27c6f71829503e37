"""numpy golden models of the datapath: what the hardware must equal, bit for bit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["wrap_int32", "matmul_int32", "WeightTile", "plan_tiles", "accumulate_tiles"]


def wrap_int32(value: int) -> int:
    """The int32 two's-complement value of an exact integer (numpy int32 wrap-around)."""
    return ((int(value) + 2**31) % 2**32) - 2**31


def matmul_int32(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """C = A @ B for int8 A (M x K) and B (K x N), wrapped to int32 like numpy int32 sums."""
    exact = a.astype(np.int64) @ b.astype(np.int64)
    return exact.astype(np.int32)  # integer astype keeps the low 32 bits (two's complement)


@dataclass(frozen=True)
class WeightTile:
    """One pass of the array: a ``rows`` x ``cols`` tile of B and the matching slice of A.

    ``weights`` and ``acts`` are zero-padded to the array size; ``k0``/``n0`` locate the tile.
    """

    k0: int
    n0: int
    weights: np.ndarray   # rows x cols, int8
    acts: np.ndarray      # M x rows, int8

    @property
    def width(self) -> int:
        """Valid columns (N may not be a multiple of cols)."""
        return self.weights.shape[1]


def plan_tiles(a: np.ndarray, b: np.ndarray, rows: int, cols: int) -> list[WeightTile]:
    """Split A @ B into weight-stationary passes, K-tiles innermost (n-major order)."""
    m, k = a.shape
    k2, n = b.shape
    if k != k2:
        raise ValueError(f"inner dimensions differ: A is {m} x {k}, B is {k2} x {n}")
    tiles = []
    for n0 in range(0, n, cols):
        for k0 in range(0, k, rows):
            w = np.zeros((rows, cols), dtype=np.int8)
            blk = b[k0:k0 + rows, n0:n0 + cols]
            w[:blk.shape[0], :blk.shape[1]] = blk
            x = np.zeros((m, rows), dtype=np.int8)
            x[:, :blk.shape[0]] = a[:, k0:k0 + rows]
            tiles.append(WeightTile(k0, n0, w, x))
    return tiles


def accumulate_tiles(tiles: list[WeightTile], results: list[np.ndarray], m: int, n: int
                     ) -> np.ndarray:
    """Sum per-pass results (each M x cols int32) into C (M x N), wrapping at int32."""
    c = np.zeros((m, n), dtype=np.int32)
    for tile, res in zip(tiles, results, strict=True):
        width = min(tile.weights.shape[1], n - tile.n0)
        c[:, tile.n0:tile.n0 + width] += res[:, :width].astype(np.int32)
    return c
