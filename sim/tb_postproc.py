"""cocotb tests of the generated ``systole_postproc``: bit-exact to systole.quant, latency.

Run through pytest (tests/sim/test_postproc_cocotb.py) on Verilator and Icarus Verilog.
"""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from .cocotb_tb import CLOCK_NS, StreamMonitor, StreamSource, load_design
from .postproc_model import expected_rows, random_rows

SEED = int(os.environ.get("SYSTOLE_SEED", "1"))


async def setup(dut, *, idle: float):
    design = load_design()
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    source = StreamSource(dut, design, "rows_in", idle=idle, seed=SEED)
    monitor = StreamMonitor(dut, design, "rows_out")
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    return design, source, monitor


async def check(dut, *, count: int, idle: float, seed: int) -> list[int]:
    design, source, monitor = await setup(dut, idle=idle)
    cols = design["config"]["array"]["cols"]
    rows = random_rows(cols, count, seed)
    accepts, outputs = [], []

    async def watch():
        # Both handshakes sampled at the same edges, so their distance is the latency.
        edge = 0
        while True:
            await RisingEdge(dut.clk)
            edge += 1
            if dut.rows_in__valid.value == 1 and dut.rows_in__ready.value == 1:
                accepts.append(edge)
            if dut.rows_out__valid.value == 1:
                outputs.append(edge)

    watcher = cocotb.start_soon(watch())
    for row in rows:
        await source.send(row)
    await monitor.wait_for(count, timeout=count * 4 + 50)
    got = np.array([values for _, values in monitor.items], np.int8)
    want = expected_rows(rows)
    bad = np.argwhere(got != want)
    assert bad.size == 0, (f"{len(bad)} wrong values, first at {bad[0].tolist()}: got "
                           f"{got[tuple(bad[0])]}, expected {want[tuple(bad[0])]}, row "
                           f"{rows[bad[0][0]]}")
    watcher.cancel()
    return [out - start for start, out in zip(accepts, outputs, strict=True)]


@cocotb.test()
async def random_and_edges(dut):
    """Random rows, int32 extremes, exact halves, shifts 0 and 31, back to back."""
    latencies = await check(dut, count=200, idle=0.0, seed=SEED)
    latency = load_design()["latency"]["rows_in_to_rows_out"]
    assert set(latencies) == {latency}, latencies


@cocotb.test()
async def idle_source(dut):
    """A source that pauses at random: results do not depend on timing."""
    await check(dut, count=80, idle=0.4, seed=SEED + 1)
