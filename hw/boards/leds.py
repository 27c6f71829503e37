"""Status LEDs shared by the board tops."""

from __future__ import annotations

from amaranth.hdl import Module, Signal

__all__ = ["heartbeat"]


def heartbeat(m: Module, clock_hz: int) -> Signal:
    """A signal that toggles about once a second (the clock runs)."""
    counter = Signal(max(1, (clock_hz // 2).bit_length()))
    m.d.sync += counter.eq(counter + 1)
    return counter[-1]
