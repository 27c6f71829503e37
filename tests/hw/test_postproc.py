"""PostProcessor in the Amaranth simulator: bit-exact to systole.quant, latency, stalls."""

import random

import numpy as np
import pytest
from amaranth.sim import Simulator

from systole.hw.postproc import PostProcessor
from systole.sim.amaranth_tb import stream_put
from systole.sim.postproc_model import expected_rows, random_rows


def run(cols, rows, *, in_gaps=0.0, out_stalls=0.0, seed=0):
    dut = PostProcessor(cols)
    rnd = random.Random(seed)
    accepted, results = [], []
    cycle = [0]

    async def clock(ctx):
        async for _ in ctx.tick():
            cycle[0] += 1

    async def source(ctx):
        for row in rows:
            while rnd.random() < in_gaps:
                await ctx.tick()
            await stream_put(ctx, dut.rows_in, row)
            accepted.append(cycle[0] - 1)

    async def sink(ctx):
        stall = random.Random(seed + 1)
        while len(results) < len(rows):
            ready = stall.random() >= out_stalls
            ctx.set(dut.rows_out.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.rows_out.valid, dut.rows_out.payload)
            if valid and ready:
                results.append((cycle[0] - 1, [int(v) for v in payload]))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(clock)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run_until(1e-8 * (len(rows) * 20 + 100))
    return dut, accepted, results


@pytest.mark.parametrize("cols", [1, 4])
def test_bit_exact_random_and_edges(cols):
    rows = random_rows(cols, 64, seed=cols)
    _, _, results = run(cols, rows)
    np.testing.assert_array_equal(np.array([r for _, r in results], np.int8),
                                  expected_rows(rows))


def test_latency_and_throughput_pinned():
    rows = random_rows(2, 12, seed=3)
    dut, accepted, results = run(2, rows)
    assert dut.latency == 5
    assert [done - start for start, (done, _) in zip(accepted, results, strict=True)] == [5] * 12
    assert accepted == list(range(accepted[0], accepted[0] + 12))   # one row per cycle


def test_backpressure_and_gaps():
    rows = random_rows(3, 60, seed=9)
    _, _, results = run(3, rows, in_gaps=0.3, out_stalls=0.4, seed=4)
    np.testing.assert_array_equal(np.array([r for _, r in results], np.int8),
                                  expected_rows(rows))


def test_bad_cols():
    with pytest.raises(ValueError, match="cols must be a positive int"):
        PostProcessor(0)
