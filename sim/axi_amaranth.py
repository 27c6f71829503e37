"""Amaranth-simulator adapter of :class:`~systole.sim.axi_slave.AxiSlavePort`."""

from __future__ import annotations

from .axi_slave import AxiSlavePort

__all__ = ["serve_axi", "simulate_with_memory"]


def serve_axi(port: AxiSlavePort, axi):
    """Return an async testbench that serves the AXI4 master interface ``axi`` from ``port``.

    Add it with ``sim.add_testbench(..., background=True)``.
    """

    async def testbench(ctx):
        cycle = 0
        while True:
            out = port.outputs(cycle)
            ctx.set(axi.ar.ready, out["arready"])
            ctx.set(axi.aw.ready, out["awready"])
            ctx.set(axi.w.ready, out["wready"])
            ctx.set(axi.r.valid, out["rvalid"])
            ctx.set(axi.r.payload, {"data": out["rdata"], "id": out["rid"],
                                    "resp": out["rresp"], "last": out["rlast"]})
            ctx.set(axi.b.valid, out["bvalid"])
            ctx.set(axi.b.payload, {"id": out["bid"], "resp": out["bresp"]})
            _, _, ar_valid, ar, aw_valid, aw, w_valid, w, r_ready, b_ready = \
                await ctx.tick().sample(axi.ar.valid, axi.ar.payload, axi.aw.valid,
                                        axi.aw.payload, axi.w.valid, axi.w.payload,
                                        axi.r.ready, axi.b.ready)
            port.step(cycle, {
                "arvalid": ar_valid, "araddr": ar.addr, "arid": ar.id, "arlen": ar.len,
                "awvalid": aw_valid, "awaddr": aw.addr, "awid": aw.id, "awlen": aw.len,
                "wvalid": w_valid, "wdata": w.data, "wlast": w.last,
                "rready": r_ready, "bready": b_ready,
            }, out)
            cycle += 1

    return testbench


def simulate_with_memory(dut, ports: list[AxiSlavePort], main, *,
                         max_cycles: int) -> int:
    """Simulate ``dut`` with its ``axi`` ports served by ``ports`` until the async testbench
    ``main(ctx, cycles)`` returns; ``cycles[0]`` counts clock cycles. Raise ``TimeoutError``
    after ``max_cycles`` and ``AssertionError`` if a memory port saw a protocol error; return
    the cycle count."""
    from amaranth.sim import Simulator

    cycles = [0]

    async def clock(ctx):
        async for _ in ctx.tick():
            cycles[0] += 1
            if cycles[0] > max_cycles:
                raise TimeoutError(f"simulation did not finish within {max_cycles} cycles")

    async def testbench(ctx):
        await main(ctx, cycles)

    sim = Simulator(dut)
    sim.add_clock(1e-9)
    sim.add_process(clock)
    for port, axi in zip(ports, dut.axi, strict=True):
        sim.add_testbench(serve_axi(port, axi), background=True)
    sim.add_testbench(testbench)
    sim.run()
    for port in ports:
        assert not port.errors, port.errors
    return cycles[0]
