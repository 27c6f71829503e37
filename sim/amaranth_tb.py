"""Stream helpers for Amaranth-simulator testbenches (async, Amaranth 0.5)."""

from __future__ import annotations

__all__ = ["simulate", "stream_put", "stream_get", "stream_get_timed"]


def simulate(dut, *benches, background=()) -> None:
    """Run ``benches`` (async testbenches) on ``dut`` with a 100 MHz clock until they end;
    ``background`` testbenches run alongside and do not keep the simulation going."""
    from amaranth.sim import Simulator

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in benches:
        sim.add_testbench(bench)
    for bench in background:
        sim.add_testbench(bench, background=True)
    sim.run()


async def stream_put(ctx, stream, payload) -> None:
    """Offer ``payload`` on ``stream`` until it is accepted (``valid`` never waits on ready)."""
    ctx.set(stream.valid, 1)
    ctx.set(stream.payload, payload)
    await ctx.tick().until(stream.ready)
    ctx.set(stream.valid, 0)


async def stream_get(ctx, stream):
    """Accept one payload from ``stream`` and return it."""
    payload, _ = await stream_get_timed(ctx, stream)
    return payload


async def stream_get_timed(ctx, stream):
    """Accept one payload from ``stream``; return it and the clock edges waited (1: it was
    valid at the first edge), for latency checks."""
    if not stream.signature.always_ready:
        ctx.set(stream.ready, 1)
    cycles = 0
    while True:
        cycles += 1
        _, _, valid, payload = await ctx.tick().sample(stream.valid, stream.payload)
        if valid:
            break
    if not stream.signature.always_ready:
        ctx.set(stream.ready, 0)
    return payload, cycles
