"""Dependency tokens between the load, compute and store units (VTA-style semaphores)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["TokenSignature", "TokenQueues", "QUEUES"]

#: (name, producer unit and flag, consumer unit and flag)
QUEUES = (
    ("l2c", ("load", "push_next"), ("compute", "pop_prev")),
    ("c2l", ("compute", "push_prev"), ("load", "pop_next")),
    ("c2s", ("compute", "push_next"), ("store", "pop_prev")),
    ("s2c", ("store", "push_prev"), ("compute", "pop_next")),
)


class TokenSignature(wiring.Signature):
    """A unit's view of its token queues: pulses to push/pop, and whether a pop would succeed.

    A unit pops only when the matching ``*_ready`` is high; each pulse moves one token.
    """

    def __init__(self):
        super().__init__({
            "pop_prev": Out(1), "pop_next": Out(1),
            "push_prev": Out(1), "push_next": Out(1),
            "prev_ready": In(1), "next_ready": In(1),
        })


class TokenQueues(wiring.Component):
    """Four token counters connecting the units' :class:`TokenSignature` ports.

    Members
    -------
    load, compute, store : In(TokenSignature())
    clear : In(1)
        Empties every queue (on START).

    Latency
    -------
    A pushed token can be popped in the next cycle.
    """

    def __init__(self, width: int = 8):
        self.width = width
        super().__init__({
            "load": In(TokenSignature()),
            "compute": In(TokenSignature()),
            "store": In(TokenSignature()),
            "clear": In(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        for name, (producer, push), (consumer, pop) in QUEUES:
            count = Signal(self.width, name=f"{name}_count")
            inc = getattr(getattr(self, producer), push)
            dec = getattr(getattr(self, consumer), pop)
            ready_flag = "prev_ready" if pop == "pop_prev" else "next_ready"
            m.d.comb += getattr(getattr(self, consumer), ready_flag).eq(count != 0)
            with m.If(self.clear):
                m.d.sync += count.eq(0)
            with m.Elif(inc & ~dec):
                m.d.sync += count.eq(count + 1)
            with m.Elif(dec & ~inc):
                m.d.sync += count.eq(count - 1)
        # The load unit has no previous unit and the store unit no next one.
        m.d.comb += [self.load.prev_ready.eq(1), self.store.next_ready.eq(1)]
        return m
