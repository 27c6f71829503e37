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

    Parameters
    ----------
    descriptor : Layout
    count : int
        Clients.
    depth : int
        Descriptors in flight (the owner FIFO).
    last_payload : bool
        ``cmd.payload`` is the first valid client's, else the last client's, whatever its
        valid and the owner FIFO's room: the engine loads its registers from the payload in
        every idle cycle, and the load unit's valid comes from behind a token counter.
        ``False``: the chosen client's payload, zero when none is valid (the iCEBreaker,
        whose placement is at its limit).

    Latency
    -------
    Combinational in both directions.
    """

    def __init__(self, descriptor, count: int = 2, *, depth: int = 8,
                 last_payload: bool = True):
        self.count = count
        self.depth = depth
        self.last_payload = last_payload
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
        if self.last_payload:     # only the earlier clients' valids select the payload
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
                        *([] if self.last_payload else [self.cmd.payload.eq(client.payload)]),
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
