"""FPGA prototype blocks in the Amaranth simulator: UART round trip and errors, AXI4 block RAM
bursts (strobes, backpressure) and host bytes against a numpy memory; driver frame splitting."""

import numpy as np
import pytest
from amaranth.hdl import Module

from systole.hw.axi import AxiParams
from systole.hw.axi_bram import AxiBram
from systole.hw.uart import UartRx, UartTx, uart_divisor
from systole.sim.amaranth_tb import simulate, stream_get_timed, stream_put
from systole.uart_device import MIN_FILL_RUN, _runs


def test_uart_round_trip():
    divisor = 5
    m = Module()
    m.submodules.tx = tx = UartTx(divisor)
    m.submodules.rx = rx = UartRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    data = [0x00, 0xFF, 0x55, 0xAA, 0x01, 0x80, *np.random.default_rng(1).integers(0, 256, 10)]
    got = []

    async def send(ctx):
        for byte in data:
            ctx.set(tx.data.valid, 1)
            ctx.set(tx.data.payload, int(byte))
            await ctx.tick().until(tx.data.ready)
        ctx.set(tx.data.valid, 0)

    async def receive(ctx):
        ctx.set(rx.data.ready, 1)
        while len(got) < len(data):
            payload, = await ctx.tick().sample(rx.data.payload).until(rx.data.valid)
            got.append(int(payload))
        assert not ctx.get(rx.overrun) and not ctx.get(rx.framing)

    simulate(m, send, receive)
    assert got == [int(b) for b in data]


def test_uart_framing_error_and_timing():
    divisor = 6
    rx = UartRx(divisor)

    async def bench(ctx):
        ctx.set(rx.data.ready, 1)
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(10)
        # 0xA5 with a low stop bit: dropped, framing set.
        for bit in [0] + [(0xA5 >> i) & 1 for i in range(8)] + [0]:
            ctx.set(rx.rx, bit)
            await ctx.tick().repeat(divisor)
        ctx.set(rx.rx, 1)
        await ctx.tick().repeat(3 * divisor)
        assert ctx.get(rx.framing) and not ctx.get(rx.data.valid)

    simulate(rx, bench)


def test_uart_divisor_checks():
    assert uart_divisor(125_000_000, 3_000_000) == 42
    assert uart_divisor(12_000_000, 1_000_000) == 12
    with pytest.raises(ValueError, match="baud 1800000 is 4.8% off at 12000000 Hz "
                                         "\\(divisor 7\\)"):
        uart_divisor(12_000_000, 1_800_000)
    with pytest.raises(ValueError, match="clocks per bit must be at least 4, not 1"):
        uart_divisor(12_000_000, 12_000_000)


@pytest.mark.parametrize("pipelined", [False, True])
def test_axi_bram_bursts_and_host_port(pipelined):
    params = AxiParams(addr_width=12, data_width=64, id_width=2)
    dut = AxiBram(params, 4096, pipelined=pipelined)
    rng = np.random.default_rng(4)
    model = np.zeros(4096, np.uint8)
    axi = dut.axi

    async def write_burst(ctx, addr, beats, strobes):
        ctx.set(axi.aw.valid, 1)
        ctx.set(axi.aw.payload, {"addr": addr, "id": 2, "len": len(beats) - 1, "size": 3,
                                 "burst": 1})
        await ctx.tick().until(axi.aw.ready)
        ctx.set(axi.aw.valid, 0)
        for index, (beat, strb) in enumerate(zip(beats, strobes, strict=True)):
            ctx.set(axi.w.valid, 1)
            ctx.set(axi.w.payload, {"data": int.from_bytes(beat.tobytes(), "little"),
                                    "strb": strb, "last": index == len(beats) - 1})
            await ctx.tick().until(axi.w.ready)
            for byte in range(8):
                if strb >> byte & 1:
                    model[addr + 8 * index + byte] = beat[byte]
        ctx.set(axi.w.valid, 0)
        ctx.set(axi.b.ready, 1)
        payload, = await ctx.tick().sample(axi.b.payload).until(axi.b.valid)
        ctx.set(axi.b.ready, 0)
        assert payload.id == 2 and payload.resp == 0

    async def read_burst(ctx, addr, beats):
        ctx.set(axi.ar.valid, 1)
        ctx.set(axi.ar.payload, {"addr": addr, "id": 1, "len": beats - 1, "size": 3,
                                 "burst": 1})
        await ctx.tick().until(axi.ar.ready)
        ctx.set(axi.ar.valid, 0)
        out = []
        while len(out) < beats:
            ready = bool(rng.random() < 0.6)            # backpressure
            ctx.set(axi.r.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(axi.r.valid, axi.r.payload)
            if valid and ready:
                out.append(int(payload.data).to_bytes(8, "little"))
                assert payload.last == (len(out) == beats) and payload.id == 1
        ctx.set(axi.r.ready, 0)
        return np.frombuffer(b"".join(out), np.uint8)

    async def first_beat_latency(ctx, addr):
        """Cycles from AR's handshake to the first R beat, R always ready; then one beat per
        cycle for the whole 16-beat burst (the pipelined memory's read-ahead keeps up)."""
        await stream_put(ctx, axi.ar, {"addr": addr, "id": 1, "len": 15, "size": 3,
                                       "burst": 1})
        beats = [await stream_get_timed(ctx, axi.r) for _ in range(16)]
        words = [int.from_bytes(model[addr + 8 * i:addr + 8 * i + 8].tobytes(), "little")
                 for i in range(16)]
        assert [(int(beat.data), int(beat.last)) for beat, _ in beats] == \
            [(word, int(i == 15)) for i, word in enumerate(words)]
        assert [cycles for _, cycles in beats[1:]] == [1] * 15
        return beats[0][1]

    host_latency = {}     # write or read -> cycles from the command to its response

    async def host(ctx, addr, value=None):
        await stream_put(ctx, dut.host,
                         {"addr": addr, "data": value or 0, "write": value is not None})
        data, cycles = await stream_get_timed(ctx, dut.host_rsp)
        host_latency.setdefault(value is not None, set()).add(cycles)
        if value is not None:
            model[addr] = value
        return int(data)

    async def bench(ctx):
        for _ in range(6):
            beats = int(rng.integers(1, 17))
            addr = int(rng.integers(0, 4096 // 8 - beats)) * 8
            data = rng.integers(0, 256, (beats, 8), dtype=np.uint8)
            strobes = [0xFF if rng.random() < 0.7 else int(rng.integers(0, 256))
                       for _ in range(beats)]
            await write_burst(ctx, addr, data, strobes)
            for _ in range(3):
                byte_addr = int(rng.integers(0, 4096))
                await host(ctx, byte_addr, int(rng.integers(0, 256)))
                assert await host(ctx, byte_addr) == model[byte_addr]
            got = await read_burst(ctx, addr, beats)
            assert (got == model[addr:addr + 8 * beats]).all()
        # The docstring's Latency section: AR to the first beat, host command to response.
        assert await first_beat_latency(ctx, 64) == (6 if pipelined else 2)
        assert host_latency == ({True: {2}, False: {6}} if pipelined
                                else {True: {1}, False: {2}})

    simulate(dut, bench)


def test_axi_bram_checks():
    params = AxiParams(addr_width=17, data_width=64)
    with pytest.raises(ValueError, match="size must be at most 16384 words \\(131072 bytes\\) "
                                         "for ice40_spram, not 262144"):
        AxiBram(params, 1 << 18, ram="ice40_spram")
    with pytest.raises(ValueError, match="ram must be one of"):
        AxiBram(params, 4096, ram="sram")
    with pytest.raises(TypeError, match="pipelined must be a bool, not 'yes'"):
        AxiBram(params, 4096, pipelined="yes")


def test_driver_splits_fill_runs():
    data = np.zeros(100, np.uint8)
    data[5:9] = [1, 2, 3, 4]
    data[60:80] = 7
    pieces = list(_runs(data))
    assert pieces == [(0, 5, None), (5, 9, None), (9, 60, 0), (60, 80, 7), (80, 100, 0)] or \
        pieces == [(0, 9, None), (9, 60, 0), (60, 80, 7), (80, 100, 0)]
    covered = np.concatenate([np.full(stop - start, fill) if fill is not None
                              else data[start:stop] for start, stop, fill in pieces])
    assert (covered == data).all()
    assert all(stop - start >= MIN_FILL_RUN for start, stop, fill in pieces if fill is not None)


def test_array_probe_exercises_the_array():
    """The stimulus of ``systole fpga --scope array`` loads weight tiles, swaps them in and
    streams vectors, and the folded results change: no part of the array sits idle (which
    would let synthesis drop it and flatter the timing)."""
    from systole.hw.array_probe import ArrayProbe
    from systole.hw.config import ArrayConfig

    dut = ArrayProbe(ArrayConfig(rows=3, cols=4))
    array = dut.array
    seen = {"weights": 0, "swaps": 0, "vectors": 0, "results": 0, "outs": set()}

    async def bench(ctx):
        for _ in range(400):
            await ctx.tick()
            seen["weights"] += ctx.get(array.weights.valid & array.weights.ready)
            seen["swaps"] += ctx.get(array.acts.valid & array.acts.ready & array.acts.payload.swap)
            seen["vectors"] += ctx.get(array.acts.valid & array.acts.ready)
            seen["results"] += ctx.get(array.psums.valid)
            seen["outs"].add(ctx.get(dut.out))

    simulate(dut, bench)
    assert seen["weights"] >= 3 * 10 and seen["swaps"] >= 10 and seen["vectors"] >= 100
    assert seen["results"] >= 100 and len(seen["outs"]) >= 20
