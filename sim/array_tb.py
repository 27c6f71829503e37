"""Drive a :class:`~systole.hw.array.SystolicArray` in the Amaranth simulator with a tiled GEMM.

Three concurrent testbenches: the weight feeder shifts each tile in as soon as the array lets
it (overlapping the previous tile's compute), the activation feeder streams each tile's vectors
(the first with ``swap``), and the monitor collects result vectors with the cycle they left.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth.sim import Simulator

from ..hw.array import SystolicArray
from ..hw.config import ArrayConfig
from .amaranth_tb import stream_put
from .golden import accumulate_tiles, plan_tiles

__all__ = ["ArrayRun", "run_array_gemm"]


@dataclass
class ArrayRun:
    """Outcome of :func:`run_array_gemm`."""

    c: np.ndarray
    accept_cycles: list[int] = field(default_factory=list)   # per activation vector
    result_cycles: list[int] = field(default_factory=list)   # per result vector
    cycles: int = 0


def run_array_gemm(config: ArrayConfig, a: np.ndarray, b: np.ndarray, *,
                   act_gaps: list[int] | None = None, vcd: str | None = None,
                   registered_ready: bool = True) -> ArrayRun:
    """Compute A @ B on a simulated array; ``act_gaps[i]`` idle cycles precede vector ``i``."""
    dut = SystolicArray(config, registered_ready=registered_ready)
    tiles = plan_tiles(a, b, config.rows, config.cols)
    m = a.shape[0]
    total = m * len(tiles)
    gaps = act_gaps or [0] * total
    run = ArrayRun(c=np.zeros((m, b.shape[1]), np.int32))
    results: list[np.ndarray] = []
    cycle = [0]

    async def clock(ctx):
        async for _ in ctx.tick():
            cycle[0] += 1

    async def feed_weights(ctx):
        for tile in tiles:
            for row in tile.weights:
                await stream_put(ctx, dut.weights, [int(w) for w in row])

    async def feed_acts(ctx):
        index = 0
        for tile in tiles:
            for i, vector in enumerate(tile.acts):
                for _ in range(gaps[index]):
                    await ctx.tick()
                await stream_put(ctx, dut.acts, {"data": [int(x) for x in vector],
                                                 "swap": int(i == 0)})
                run.accept_cycles.append(cycle[0] - 1)
                index += 1

    async def monitor(ctx):
        rows = []
        while len(rows) < total:
            payload, = await ctx.tick().sample(dut.psums.payload).until(dut.psums.valid)
            run.result_cycles.append(cycle[0] - 1)
            rows.append([int(x) for x in payload])
        run.cycles = cycle[0]
        for t in range(len(tiles)):
            results.append(np.array(rows[t * m:(t + 1) * m], dtype=np.int64))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(clock)
    sim.add_testbench(feed_weights, background=True)
    sim.add_testbench(feed_acts, background=True)
    sim.add_testbench(monitor)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    run.c = accumulate_tiles(tiles, results, m, b.shape[1])
    return run
