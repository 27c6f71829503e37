"""Dependency tokens between the load, compute and store units (VTA-style semaphores)."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
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

    With ``registered`` (the default) the pulses are registered before they reach a counter:
    a queue holds ``count + pushed - popped`` tokens, with ``pushed`` and ``popped`` the last
    cycle's pulses, and ``*_ready`` is decided from those registers alone. The units' push and
    pop decisions (DMA completions, handshakes) end at a flip-flop instead of running on
    through the counter's adder, and the tokens a unit sees are the same in every cycle.
    """

    def __init__(self, width: int = 8, *, registered: bool = True):
        self.width = width
        self.registered = registered
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
            ready = getattr(getattr(self, consumer),
                            "prev_ready" if pop == "pop_prev" else "next_ready")
            if self.registered:
                pushed = Signal(name=f"{name}_pushed")      # last cycle's pulses
                popped = Signal(name=f"{name}_popped")
                # ``count == 0`` and ``count == 1`` in registers of their own, kept with the
                # counter.
                empty = Signal(init=1, name=f"{name}_empty")
                single = Signal(name=f"{name}_single")
                # ``ready`` is a register too: count + pushed - popped != 0 for the next
                # cycle, from this cycle's pulses and the same registers a cycle ahead (a pop
                # never takes a token that is not there). The pop, decided by the consumer's
                # handshake, then ends at one LUT before a flip-flop.
                ready_q = Signal(name=f"{name}_ready")
                m.d.comb += ready.eq(ready_q)
                # The tokens after this cycle's counter update, before the pulses.
                next_empty = Mux(pushed & ~popped, 0, Mux(popped & ~pushed, single, empty))
                next_single = Mux(pushed & ~popped, empty,
                                  Mux(popped & ~pushed, count == 2, single))
                with m.If(self.clear):
                    m.d.sync += [pushed.eq(0), popped.eq(0), empty.eq(1), single.eq(0),
                                 ready_q.eq(0)]
                with m.Else():
                    m.d.sync += [pushed.eq(inc), popped.eq(dec),
                                 ready_q.eq(inc | Mux(dec, ~next_single, ~next_empty))]
                    with m.If(pushed & ~popped):
                        m.d.sync += [empty.eq(0), single.eq(empty)]
                    with m.Elif(popped & ~pushed):
                        m.d.sync += [empty.eq(single), single.eq(count == 2)]
                inc, dec = pushed, popped
            else:
                m.d.comb += ready.eq(count != 0)
            with m.If(self.clear):
                m.d.sync += count.eq(0)
            with m.Elif(inc & ~dec):
                m.d.sync += count.eq(count + 1)
            with m.Elif(dec & ~inc):
                m.d.sync += count.eq(count - 1)
        # The load unit has no previous unit and the store unit no next one.
        m.d.comb += [self.load.prev_ready.eq(1), self.store.next_ready.eq(1)]
        return m
