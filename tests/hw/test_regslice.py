"""Register slices: every payload once and in order under random valid and ready, full
throughput and the documented latency, and an AXI4 block RAM behind an AXI slice."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from systole.hw.axi import AxiParams
from systole.hw.axi_bram import AxiBram
from systole.hw.regslice import AxiRegisterSlice, RegisterSlice
from systole.sim.amaranth_tb import simulate, stream_get_timed, stream_put


@pytest.mark.parametrize("p_valid, p_ready", [(1.0, 1.0), (0.7, 0.4), (0.3, 0.9), (1.0, 0.2)])
def test_register_slice_passes_every_payload_in_order(p_valid, p_ready):
    dut = RegisterSlice(16)
    rng = np.random.default_rng(int(p_valid * 10 + p_ready * 100))
    sent = [int(x) for x in rng.integers(0, 1 << 16, 300)]
    got, accepted_at = [], []

    async def producer(ctx):
        for value in sent:
            while rng.random() >= p_valid:
                await ctx.tick()
            await stream_put(ctx, dut.i, value)

    async def consumer(ctx):
        cycle = 0
        while len(got) < len(sent) and cycle < 20 * len(sent):     # a lost payload fails
            ready = bool(rng.random() < p_ready)
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid and ready:
                got.append(int(payload))
                accepted_at.append(cycle)

    simulate(dut, consumer, background=[producer])   # a stuck ``ready`` must not hang it
    assert got == sent
    if p_valid == p_ready == 1.0:
        # One cycle through the slice, then one payload per cycle.
        assert accepted_at == list(range(2, 2 + len(sent)))


def test_register_slice_latency_and_stall():
    dut = RegisterSlice(8)

    async def bench(ctx):
        ctx.set(dut.o.ready, 0)
        await stream_put(ctx, dut.i, 1)       # into the output register
        await stream_put(ctx, dut.i, 2)       # into the skid entry
        assert not ctx.get(dut.i.ready)       # full: no third while the output stalls
        assert ctx.get(dut.o.valid) and ctx.get(dut.o.payload) == 1
        assert [(await stream_get_timed(ctx, dut.o))[0] for _ in range(2)] == [1, 2]
        assert ctx.get(dut.i.ready) and not ctx.get(dut.o.valid)
        await stream_put(ctx, dut.i, 3)
        assert await stream_get_timed(ctx, dut.o) == (3, RegisterSlice.latency)

    simulate(dut, bench)


def test_axi_slice_in_front_of_a_block_ram():
    """Bursts written and read back through the slice, with R backpressure."""
    params = AxiParams(addr_width=12, data_width=64, id_width=2)
    m = Module()
    m.submodules.slice = axi_slice = AxiRegisterSlice(params)
    m.submodules.bram = bram = AxiBram(params, 4096, pipelined=True)
    wiring.connect(m, axi_slice.m, bram.axi)
    axi = axi_slice.s
    rng = np.random.default_rng(9)
    model = np.zeros(4096, np.uint8)

    async def bench(ctx):
        for _ in range(8):
            beats = int(rng.integers(1, 17))
            addr = int(rng.integers(0, 4096 // 8 - beats)) * 8
            data = rng.integers(-128, 128, (beats, 8)).astype(np.uint8)
            await stream_put(ctx, axi.aw, {"addr": addr, "id": 1, "len": beats - 1,
                                           "size": 3, "burst": 1})
            for index, beat in enumerate(data):
                await stream_put(ctx, axi.w, {"data": int.from_bytes(beat.tobytes(), "little"),
                                              "strb": 0xFF, "last": index == beats - 1})
            payload, _ = await stream_get_timed(ctx, axi.b)
            assert payload.id == 1 and payload.resp == 0
            model[addr:addr + 8 * beats] = data.reshape(-1)
            await stream_put(ctx, axi.ar, {"addr": addr, "id": 0, "len": beats - 1,
                                           "size": 3, "burst": 1})
            out = []
            while len(out) < beats:
                ready = bool(rng.random() < 0.5)
                ctx.set(axi.r.ready, ready)
                _, _, valid, payload = await ctx.tick().sample(axi.r.valid, axi.r.payload)
                if valid and ready:
                    out.append(int(payload.data).to_bytes(8, "little"))
                    assert payload.last == (len(out) == beats)
            ctx.set(axi.r.ready, 0)
            assert np.frombuffer(b"".join(out), np.uint8).tolist() == \
                model[addr:addr + 8 * beats].tolist()

    simulate(m, bench)
