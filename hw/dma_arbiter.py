"""Share one DMA engine between several clients (instruction fetch and the load unit)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .dma import status_layout

__all__ = ["DmaArbiter"]


class DmaArbiter(wiring.Component):
    """Fixed-priority arbiter of descriptor streams; statuses go back to their client.

    Client 0 has priority (instruction fetch: short descriptors that keep the sequencer fed).
    The engine reports statuses in descriptor order, so a FIFO of client numbers routes them.

    Members
    -------
    clients : In(stream.Signature(descriptor)).array(count)
    statuses : Out(stream.Signature(status_layout())).array(count)
    cmd : Out(stream.Signature(descriptor))
    status : In(stream.Signature(status_layout()))

    Latency
    -------
    Combinational in both directions.
    """

    def __init__(self, descriptor, count: int = 2, *, depth: int = 8):
        self.count = count
        self.depth = depth
        super().__init__({
            "clients": In(stream.Signature(descriptor)).array(count),
            "statuses": Out(stream.Signature(status_layout())).array(count),
            "cmd": Out(stream.Signature(descriptor)),
            "status": In(stream.Signature(status_layout())),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.owners = owners = fifo.SyncFIFOBuffered(
            width=max(1, ceil_log2(self.count)), depth=self.depth)
        # The payload is the first valid client's, else the last client's: it depends on the
        # valids of the clients before the last only, not on the last one's (a token count
        # behind the load unit's) nor on the owner FIFO's room. The engine loads its
        # registers from it in every idle cycle, whether it takes the descriptor or not.
        payload = self.clients[-1].payload
        for client in reversed(self.clients[:-1]):
            payload = Mux(client.valid, client.payload, payload)
        m.d.comb += self.cmd.payload.eq(payload)
        with m.If(owners.w_rdy):
            chosen = None  # an If/Elif chain: the lowest index wins
            for index, client in enumerate(self.clients):
                condition = client.valid
                if chosen is None:
                    ctx = m.If(condition)
                else:
                    ctx = m.Elif(condition)
                with ctx:
                    m.d.comb += [
                        self.cmd.valid.eq(1),
                        client.ready.eq(self.cmd.ready),
                        owners.w_data.eq(index),
                        owners.w_en.eq(self.cmd.ready),
                    ]
                chosen = index
        for index, status in enumerate(self.statuses):
            with m.If(owners.r_rdy & (owners.r_data == index)):
                m.d.comb += [
                    status.valid.eq(self.status.valid),
                    status.payload.eq(self.status.payload),
                    self.status.ready.eq(status.ready),
                    owners.r_en.eq(self.status.valid & status.ready),
                ]
        return m
