"""Amaranth-simulator adapter of :class:`~systole.sim.axi_slave.AxiSlavePort`."""

from __future__ import annotations

from .axi_slave import AxiSlavePort

__all__ = ["serve_axi"]


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
