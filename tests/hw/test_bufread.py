"""BufferReader alone: every word arrives once, in order, with its meta, under random request
and response stalls, at read latency 1 and 2; one word per cycle when nothing stalls."""

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from systole.hw.bufread import BufferReader

DEPTH, WIDTH = 64, 16


class Harness(Elaboratable):
    """A reader in front of a memory whose read data is registered ``latency - 1`` more times."""

    def __init__(self, latency: int, contents: list[int], room_register: bool = True):
        self.latency = latency
        self.reader = BufferReader(6, WIDTH, 8, latency=latency, room_register=room_register)
        self.contents = contents

    def elaborate(self, platform):
        m = Module()
        m.submodules.reader = reader = self.reader
        m.submodules.mem = mem = Memory(shape=WIDTH, depth=DEPTH, init=self.contents)
        port = mem.read_port()
        m.d.comb += [port.addr.eq(reader.port.addr), port.en.eq(reader.port.en)]
        data = port.data
        for _ in range(self.latency - 1):
            registered = Signal(WIDTH)
            m.d.sync += registered.eq(data)
            data = registered
        m.d.comb += reader.port.data.eq(data)
        return m


def run(latency: int, requests: int, p_valid: float, p_ready: float, seed: int,
        room_register: bool = True):
    """Issue ``requests`` reads; return the (data, meta) pairs received, the expected pairs and
    the cycles taken."""
    rng = np.random.default_rng(seed)
    contents = [int(x) for x in rng.integers(0, 1 << WIDTH, DEPTH)]
    addrs = [int(x) for x in rng.integers(0, DEPTH, requests)]
    dut = Harness(latency, contents, room_register)
    reader = dut.reader
    got, cycles = [], [0]

    async def bench(ctx):
        sent = 0
        for cycle in range(40 * requests + 50):
            valid = sent < requests and rng.random() < p_valid
            ready = rng.random() < p_ready
            ctx.set(reader.req.valid, valid)
            if valid:
                ctx.set(reader.req.payload.addr, addrs[sent])
                ctx.set(reader.req.payload.meta, sent & 0xFF)
            ctx.set(reader.resp.ready, ready)
            accepted = valid and ctx.get(reader.req.ready)
            if ready and ctx.get(reader.resp.valid):
                word = ctx.get(reader.resp.payload)
                got.append((word.data, word.meta))
            await ctx.tick()
            sent += accepted
            if len(got) == requests:
                cycles[0] = cycle + 1
                return

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    expected = [(contents[addr], index & 0xFF) for index, addr in enumerate(addrs)]
    return got, expected, cycles[0]


@pytest.mark.parametrize("room_register", [True, False])
@pytest.mark.parametrize("latency", [1, 2])
@pytest.mark.parametrize("p_valid,p_ready", [(0.7, 0.5), (1.0, 0.3), (0.4, 1.0)])
def test_every_word_once_in_order_under_stalls(latency, p_valid, p_ready, room_register):
    got, expected, _ = run(latency, 300, p_valid, p_ready, seed=latency,
                           room_register=room_register)
    assert got == expected


@pytest.mark.parametrize("room_register", [True, False])
@pytest.mark.parametrize("latency", [1, 2])
def test_one_word_per_cycle_without_stalls(latency, room_register):
    got, expected, cycles = run(latency, 200, 1.0, 1.0, seed=7, room_register=room_register)
    assert got == expected
    # The first request is accepted in cycle 0, its word is at the FIFO's output in cycle
    # 2 + latency, and the last one 199 cycles later.
    assert cycles == 200 + 2 + latency
