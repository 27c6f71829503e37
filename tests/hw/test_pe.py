"""ProcessingElement in the Amaranth simulator: latency, edge values, wrap-around, weight swap."""

import numpy as np
from amaranth.sim import Simulator

from systole.hw.pe import ProcessingElement
from systole.sim.golden import wrap_int32


def run(testbench):
    dut = ProcessingElement()
    sim = Simulator(dut)
    sim.add_clock(1e-8)

    async def bench(ctx):
        await testbench(ctx, dut)
    sim.add_testbench(bench)
    sim.run()


async def load_weight(ctx, dut, weight):
    """Shift ``weight`` into the shadow register and swap it in (takes two cycles)."""
    ctx.set(dut.weight_in, weight)
    ctx.set(dut.weight_shift, 1)
    await ctx.tick()
    ctx.set(dut.weight_shift, 0)
    ctx.set(dut.swap_in, 1)
    await ctx.tick()
    ctx.set(dut.swap_in, 0)


def test_latency_is_two_cycles():
    async def tb(ctx, dut):
        await load_weight(ctx, dut, 3)
        ctx.set(dut.act_in, 5)
        ctx.set(dut.psum_in, 100)  # psum_in is added one cycle after act_in
        await ctx.tick()
        ctx.set(dut.act_in, 0)
        assert ctx.get(dut.act_out) == 5            # act: 1 cycle
        await ctx.tick()
        ctx.set(dut.psum_in, 0)
        assert ctx.get(dut.psum_out) == 100 + 15    # product of act_in: 2 cycles
    run(tb)
    assert ProcessingElement.latency == 2
    assert ProcessingElement.hop_latency == 1


def test_extremes_and_wraparound():
    cases = [(-128, -128, 0, 16384), (127, 127, 0, 16129), (-128, 127, 0, -16256),
             (1, 1, 2**31 - 1, -2**31),                 # int32 overflow wraps like numpy
             (-128, 127, -2**31, 2**31 - 16256),
             (0, -128, -7, -7)]
    async def tb(ctx, dut):
        for act, weight, psum, expected in cases:
            await load_weight(ctx, dut, weight)
            ctx.set(dut.act_in, act)
            await ctx.tick()
            ctx.set(dut.psum_in, psum)
            await ctx.tick()
            got = ctx.get(dut.psum_out)
            assert got == expected == wrap_int32(psum + act * weight), (act, weight, psum)
    run(tb)


def test_weight_swap_while_computing():
    """The shadow register loads while the active weight keeps computing; the swap takes
    effect for exactly the activation after the swap cycle."""
    async def tb(ctx, dut):
        await load_weight(ctx, dut, 2)
        ctx.set(dut.psum_in, 0)
        outputs = []
        # Cycle 0..5: acts 1..6; new weight -3 shifts in at cycle 1 and swaps at cycle 3.
        for cycle, act in enumerate(range(1, 7)):
            ctx.set(dut.act_in, act)
            ctx.set(dut.weight_in, -3)
            ctx.set(dut.weight_shift, cycle == 1)
            ctx.set(dut.swap_in, cycle == 3)
            await ctx.tick()
            outputs.append(ctx.get(dut.psum_out))
            assert ctx.get(dut.swap_out) == (cycle == 3)
        ctx.set(dut.act_in, 0)
        await ctx.tick()
        outputs.append(ctx.get(dut.psum_out))
        # psum_out after tick i holds the product of act from cycle i - 1.
        assert outputs[1:] == [2, 4, 6, 8, -15, -18]
    run(tb)


def test_random_against_model():
    rng = np.random.default_rng(1)
    n = 200
    acts = rng.integers(-128, 128, n)
    weights = rng.integers(-128, 128, n)
    psums = rng.integers(-2**31, 2**31, n)
    shift = rng.random(n) < 0.3
    swap = rng.random(n) < 0.3

    async def tb(ctx, dut):
        shadow = active = 0
        product = None
        expected = []
        for i in range(n):
            ctx.set(dut.act_in, int(acts[i]))
            ctx.set(dut.weight_in, int(weights[i]))
            ctx.set(dut.weight_shift, bool(shift[i]))
            ctx.set(dut.swap_in, bool(swap[i]))
            ctx.set(dut.psum_in, int(psums[i]))
            if product is not None:
                total = int(psums[i]) + product
                expected.append(wrap_int32(total))
            product = int(acts[i]) * active
            await ctx.tick()
            if i > 0:
                assert ctx.get(dut.psum_out) == expected[-1], i
            assert ctx.get(dut.weight_out) == (int(weights[i]) if shift[i] else shadow)
            new_shadow = int(weights[i]) if shift[i] else shadow
            active = shadow if swap[i] else active
            shadow = new_shadow
    run(tb)
