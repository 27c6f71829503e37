"""cocotb tests of the generated ``systole_array``: GEMMs checked bit for bit against numpy.

Run through pytest (tests/sim/test_array_cocotb.py) on Icarus Verilog and Verilator.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np

from .cocotb_tb import ArrayTB
from .golden import matmul_int32

SEED = int(os.environ.get("SYSTOLE_SEED", "1"))


async def check(tb: ArrayTB, a: np.ndarray, b: np.ndarray, what: str) -> None:
    c, cycles = await tb.gemm(a, b)
    expected = matmul_int32(a, b)
    mismatches = np.argwhere(c != expected)
    assert mismatches.size == 0, (
        f"{what}: {len(mismatches)} wrong elements, first at {mismatches[0].tolist()}: "
        f"got {c[tuple(mismatches[0])]}, expected {expected[tuple(mismatches[0])]}")
    tb.dut._log.info("%s: %s x %s x %s ok in %d cycles", what, *a.shape, b.shape[1], cycles)


@cocotb.test()
async def random_gemms(dut):
    """Random int8 GEMMs of odd shapes, smaller and larger than the array (tiled)."""
    tb = ArrayTB(dut)
    await tb.reset()
    rng = np.random.default_rng(SEED)
    r, c = tb.rows, tb.cols
    shapes = [(1, 1, 1), (r, r, c), (2 * r + 3, 2 * r + 1, 2 * c + 3), (1, 3 * r, c + 1),
              (7, r - 1 or 1, 1), (3 * r, 5, 2 * c - 1)]
    for m, k, n in shapes:
        a = rng.integers(-128, 128, (m, k), dtype=np.int8)
        b = rng.integers(-128, 128, (k, n), dtype=np.int8)
        await check(tb, a, b, f"random {m}x{k}x{n}")


@cocotb.test()
async def edge_values(dut):
    """All -128, all 127, mixed extremes and zeros (largest and smallest products)."""
    tb = ArrayTB(dut)
    await tb.reset()
    m, k, n = tb.rows + 2, 2 * tb.rows + 1, tb.cols + 1
    for value in (-128, 127, 0):
        a = np.full((m, k), value, np.int8)
        b = np.full((k, n), value, np.int8)
        await check(tb, a, b, f"all {value}")
    a = np.where(np.indices((m, k)).sum(0) % 2, -128, 127).astype(np.int8)
    b = np.where(np.indices((k, n)).sum(0) % 3, 127, -128).astype(np.int8)
    await check(tb, a, b, "mixed extremes")


@cocotb.test()
async def idle_cycles(dut):
    """Sources that pause at random: results must not depend on timing."""
    tb = ArrayTB(dut, idle=0.3, seed=SEED)
    await tb.reset()
    rng = np.random.default_rng(SEED + 7)
    a = rng.integers(-128, 128, (2 * tb.rows + 1, 2 * tb.rows), dtype=np.int8)
    b = rng.integers(-128, 128, (2 * tb.rows, tb.cols + 2), dtype=np.int8)
    await check(tb, a, b, "idle sources")
