"""The control register file's AXI4-Lite reads: values, latency and back-pressure, with and
without ``registered_reads`` (the ULX3S presets' address register)."""

import random

import pytest

from systole.hw.csr import ControlRegisters
from systole.hw.regs import ID_VALUE, REG
from systole.sim.amaranth_tb import simulate, stream_get_timed, stream_put
from systole.sim.chip_amaranth import axil_write

UNMAPPED = 0xFC


@pytest.mark.parametrize("registered_reads, latency", [(False, 2), (True, 4)])
def test_reads_return_the_register_after_the_stated_latency(registered_reads, latency):
    """Every read returns its register (an unmapped address reads 0) the stated number of
    edges after AR is taken, and R holds while the master is not ready, with AR refused."""
    dut = ControlRegisters(rows=12, cols=7, registered_reads=registered_reads)
    rng = random.Random(registered_reads)
    prog_addr, error_pc, error_code = (rng.getrandbits(32), rng.getrandbits(32),
                                       rng.getrandbits(8))
    expected = {REG["ID"].offset: ID_VALUE, REG["CONFIG"].offset: 12 | 7 << 16,
                REG["PROG_ADDR"].offset: prog_addr, REG["ERROR_PC"].offset: error_pc,
                REG["ERROR_CODE"].offset: error_code, UNMAPPED: 0}
    seen = []

    async def bench(ctx):
        ctx.set(dut.error_pc, error_pc)
        ctx.set(dut.error_code, error_code)
        await axil_write(ctx, dut.bus, REG["PROG_ADDR"].offset, prog_addr)
        order = list(expected) * 2
        rng.shuffle(order)
        for addr in order:
            await stream_put(ctx, dut.bus.ar, {"addr": addr, "prot": 0})
            payload, edges = await stream_get_timed(ctx, dut.bus.r)
            seen.append((addr, int(payload.data), edges))
        # Back-pressure: the answer waits with R valid, and a second AR is not taken.
        await stream_put(ctx, dut.bus.ar, {"addr": REG["ID"].offset, "prot": 0})
        ctx.set(dut.bus.ar.valid, 1)
        ctx.set(dut.bus.ar.payload, {"addr": REG["CONFIG"].offset, "prot": 0})
        for edge in range(1, latency + 3):      # the edges after the one that took AR
            await ctx.tick()
            assert not ctx.get(dut.bus.ar.ready)
            assert ctx.get(dut.bus.r.valid) == (edge >= latency - 2)
        assert ctx.get(dut.bus.r.payload.data) == ID_VALUE
        ctx.set(dut.bus.ar.valid, 0)
        ctx.set(dut.bus.r.ready, 1)
        await ctx.tick()
        ctx.set(dut.bus.r.ready, 0)
        assert not ctx.get(dut.bus.r.valid)

    simulate(dut, bench)
    assert [(addr, data) for addr, data, _ in seen] == [(addr, expected[addr])
                                                         for addr, _, _ in seen]
    # stream_get_timed counts the edges after the one that took AR.
    assert {edges for _, _, edges in seen} == {latency - 1}
