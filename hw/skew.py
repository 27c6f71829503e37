"""Skew and de-skew: delay element i of a vector by a different number of cycles."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .params import check_choice, check_int

__all__ = ["Skew", "delay_taps"]


class Skew(wiring.Component):
    """Delay element ``i`` of a vector by ``offset + i`` (``ascending``) or
    ``offset + count - 1 - i`` (``descending``) cycles.

    The input skew of a systolic array (row ``r`` enters ``r`` cycles late) and the output
    de-skew (column ``c`` waits ``cols - 1 - c`` cycles) are both such triangles. Stage ``t`` is
    one register holding the elements still in flight after ``t`` cycles, so the structure costs
    ``sum(delays)`` element registers in ``max(delays)`` signals.

    Parameters
    ----------
    shape : shape-castable
        Shape of one element.
    count : int
        Number of elements.
    order : ``"ascending"`` or ``"descending"``
        Which end of the vector is delayed most.
    offset : int
        Extra delay common to all elements.

    Members
    -------
    i : In(ArrayLayout(shape, count))
    o : Out(ArrayLayout(shape, count))

    Latency
    -------
    Element ``i``: :meth:`delay` ``(i)`` cycles. Initiation interval 1; valid-only pipeline
    without backpressure (it always advances).
    """

    def __init__(self, shape, count: int, *, order: str = "ascending", offset: int = 0):
        try:
            check_int("count", count, 1)
            check_int("offset", offset, 0)
            check_choice("order", order, {"ascending", "descending"})
        except (TypeError, ValueError):
            self._MustUse__silence = True  # never elaborated: no "created but never used" noise
            raise
        self.shape = shape
        self.count = count
        self.order = order
        self.offset = offset
        layout = data.ArrayLayout(shape, count)
        super().__init__({"i": In(layout), "o": Out(layout)})

    def delay(self, index: int) -> int:
        """Delay of element ``index`` in cycles."""
        steps = index if self.order == "ascending" else self.count - 1 - index
        return self.offset + steps

    def elaborate(self, platform) -> Module:
        m = Module()
        width = data.ArrayLayout(self.shape, 1).size
        delays = [self.delay(i) for i in range(self.count)]
        flat_i, flat_o = self.i.as_value(), self.o.as_value()

        def element(value, index):
            return value[index * width:(index + 1) * width]

        for i in range(self.count):
            if delays[i] == 0:
                m.d.comb += element(flat_o, i).eq(element(flat_i, i))
        # Elements still in flight after t cycles form one contiguous run [lo, hi); each stage
        # is a plain bit vector (layout-typed stages would add a debug wire per element).
        prev, prev_lo = flat_i, 0
        for t in range(1, max(delays) + 1):
            members = [i for i in range(self.count) if delays[i] >= t]
            lo, hi = members[0], members[-1] + 1
            stage = Signal((hi - lo) * width, name=f"stage{t}")
            m.d.sync += stage.eq(prev[(lo - prev_lo) * width:(hi - prev_lo) * width])
            for i in members:
                if delays[i] == t:
                    m.d.comb += element(flat_o, i).eq(element(stage, i - lo))
            prev, prev_lo = stage, lo
        return m


def delay_taps(m: Module, bit, depth: int, *, name: str) -> list:
    """Return ``[bit, bit delayed 1 cycle, ..., bit delayed depth cycles]``.

    One shift register for a control bit that travels alongside a skewed vector.
    """
    if depth == 0:
        return [bit]
    line = Signal(depth, name=name)
    m.d.sync += line.eq(Cat(bit, line[:-1]))
    return [bit] + [line[t] for t in range(depth)]
