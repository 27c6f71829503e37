"""SystolicArray in the Amaranth simulator: GEMMs against numpy, latency, swap timing."""

from itertools import pairwise

import numpy as np
import pytest

from systole.hw.config import ArrayConfig
from systole.sim.array_tb import run_array_gemm
from systole.sim.golden import matmul_int32


def gemm(rows, cols, m, k, n, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    return a, b, run_array_gemm(ArrayConfig(rows=rows, cols=cols), a, b, **kwargs)


@pytest.mark.parametrize("rows,cols,m,k,n", [
    (4, 4, 9, 4, 4),        # one tile
    (4, 4, 10, 11, 9),      # tiled, ragged edges
    (3, 5, 7, 7, 12),       # non-square array
    (1, 1, 3, 2, 2),        # smallest array
    (2, 3, 1, 5, 4),        # M = 1: weight loading dominates
])
def test_matches_numpy(rows, cols, m, k, n):
    a, b, run = gemm(rows, cols, m, k, n, seed=rows * 100 + m)
    np.testing.assert_array_equal(run.c, matmul_int32(a, b))


@pytest.mark.parametrize("value", [-128, 127])
def test_extreme_operands(value):
    a = np.full((5, 8), value, np.int8)
    b = np.full((8, 6), value, np.int8)
    run = run_array_gemm(ArrayConfig(rows=4, cols=4), a, b)
    np.testing.assert_array_equal(run.c, matmul_int32(a, b))
    assert run.c[0, 0] == 8 * value * value


def test_latency_pinned():
    rows, cols = 3, 5
    _, _, run = gemm(rows, cols, 4, rows, cols)
    latency = ArrayConfig(rows=rows, cols=cols).latency
    assert latency == rows + cols + 1
    pairs = zip(run.accept_cycles, run.result_cycles, strict=True)
    assert [result - accept for accept, result in pairs] == [latency] * 4


def test_back_to_back_tiles_without_bubbles():
    """Tiles of exactly min_tile_period vectors stream with no idle cycle: the next tile's
    weights load while the current one computes, and each swap waits for nothing."""
    rows, cols = 4, 3
    period = ArrayConfig(rows=rows, cols=cols).min_tile_period
    a, b, run = gemm(rows, cols, period, 3 * rows, cols)
    np.testing.assert_array_equal(run.c, matmul_int32(a, b))
    first = run.accept_cycles[0]
    assert run.accept_cycles == list(range(first, first + 3 * period))


def test_short_tiles_wait_for_weights():
    """With fewer vectors than min_tile_period per tile the swap stalls, results stay right."""
    rows, cols = 4, 4
    a, b, run = gemm(rows, cols, 2, 3 * rows, cols)
    np.testing.assert_array_equal(run.c, matmul_int32(a, b))
    starts = run.accept_cycles[::2]
    assert all(later - earlier == 2 * rows - 1 for earlier, later in pairwise(starts))


def test_idle_gaps_between_vectors():
    rng = np.random.default_rng(5)
    gaps = list(rng.integers(0, 3, 3 * 6))
    a, b, run = gemm(3, 3, 6, 7, 3, act_gaps=gaps)
    np.testing.assert_array_equal(run.c, matmul_int32(a, b))


@pytest.mark.parametrize("rows,cols,m", [(1, 3, 2), (2, 2, 1), (4, 3, 2), (5, 2, 9)])
def test_registered_ready_changes_no_cycle(rows, cols, m):
    """``registered_ready`` (the ready outputs from registers, as the ULX3S build has them) and
    the compares it replaces accept and return every vector in the same cycle: short and full
    tiles, idle gaps, arrays with and without the post-swap cooldown."""
    rng = np.random.default_rng(rows * 10 + cols)
    a = rng.integers(-128, 128, (m, 3 * rows), dtype=np.int8)
    b = rng.integers(-128, 128, (3 * rows, 2 * cols), dtype=np.int8)
    gaps = [int(g) for g in rng.integers(0, 3, m * 6)]
    config = ArrayConfig(rows=rows, cols=cols)
    runs = [run_array_gemm(config, a, b, act_gaps=gaps, registered_ready=registered)
            for registered in (False, True)]
    for run in runs:
        np.testing.assert_array_equal(run.c, matmul_int32(a, b))
    assert runs[0].accept_cycles == runs[1].accept_cycles
    assert runs[0].result_cycles == runs[1].result_cycles

