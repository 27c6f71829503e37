"""TokenQueues against a plain counter per queue: with random pushes, pops (only when ready)
and clears, every queue's ``*_ready`` is the counter's ``!= 0`` in every cycle, also when the
hardware registers the pulses before its counters (``registered``)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from systole.hw.tokens import QUEUES, TokenQueues


@pytest.mark.parametrize("registered", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_ready_matches_a_counter_every_cycle(seed, registered):
    rng = np.random.default_rng(seed)
    dut = TokenQueues(width=4, registered=registered)
    counts = {name: 0 for name, _, _ in QUEUES}
    seen = {name: set() for name, _, _ in QUEUES}

    async def bench(ctx):
        for cycle in range(3000):
            # Bursts of pushes, then of pops, so queues fill up and drain to empty.
            phase = (cycle // 40) % 2
            pulses = {}
            for name, (producer, push), (consumer, pop) in QUEUES:
                ready_flag = "prev_ready" if pop == "pop_prev" else "next_ready"
                ready = ctx.get(getattr(getattr(dut, consumer), ready_flag))
                assert ready == (counts[name] != 0), (cycle, name, counts[name])
                seen[name].add(counts[name])
                do_push = counts[name] < 14 and rng.random() < (0.7 if phase == 0 else 0.2)
                do_pop = ready and rng.random() < (0.2 if phase == 0 else 0.7)
                ctx.set(getattr(getattr(dut, producer), push), do_push)
                ctx.set(getattr(getattr(dut, consumer), pop), do_pop)
                pulses[name] = (do_push, do_pop)
            clear = rng.random() < 0.005
            ctx.set(dut.clear, clear)
            await ctx.tick()
            for name, (do_push, do_pop) in pulses.items():
                counts[name] = 0 if clear else counts[name] + do_push - do_pop

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # Each queue was empty, held one token, and filled up beyond a few.
    for name, values in seen.items():
        assert {0, 1, 2, 5} <= values, name
