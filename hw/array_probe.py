"""The PE array alone on an FPGA, with generated stimulus (``systole fpga --scope array``)."""

from __future__ import annotations

from amaranth.hdl import Cat, Elaboratable, Module, Signal

from .array import SystolicArray
from .config import ArrayConfig

__all__ = ["ArrayProbe"]


class ArrayProbe(Elaboratable):
    """A :class:`~systole.hw.array.SystolicArray` driven by a pseudo-random sequence, its
    results folded into a few bits: a design for measuring the array's clock on an FPGA apart
    from the control plane, the memory and the UART (which the whole prototype adds around it).

    A shift register with XOR feedback (``width`` bits, one new bit per cycle) drives the
    activation vectors, their swap flag and valid, and the weight rows and their valid; the
    array's own flow control decides what it takes. The partial sums and their valid are
    folded by two registered XOR levels into ``out``, so that synthesis keeps every PE.
    It computes nothing useful: its results are not checked, only its timing is of interest.

    Parameters
    ----------
    config : ArrayConfig

    Members
    -------
    array : SystolicArray
    out : Signal(8)
        The folded results (for LEDs).
    """

    def __init__(self, config: ArrayConfig):
        self.config = config
        self.array = SystolicArray(config)
        self.out = Signal(8)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.array = array = self.array
        acts = array.acts.payload.data.as_value()
        weights = array.weights.payload.as_value()
        width = max(64, len(acts) + len(weights) + 4)
        state = Signal(width, init=0x5EED_C0DE_1234_5678)
        feedback = state[0] ^ state[1] ^ state[3] ^ state[width - 1]
        m.d.sync += state.eq(Cat(state[1:], feedback))
        m.d.comb += [
            array.acts.valid.eq(state[0] | state[1]),
            array.acts.payload.swap.eq(state[2] & state[3]),
            array.weights.valid.eq(state[1] | state[2]),
            acts.eq(state[4:4 + len(acts)]),
            weights.eq(state[4 + len(acts):4 + len(acts) + len(weights)]),
        ]
        # Each first-level fold takes every n-th bit, so that it mixes low and high bits of
        # the sums (the high bits of one sum are often all equal).
        bits = Cat(array.psums.payload.as_value(), array.psums.valid)
        chunks = [Signal(name=f"fold{index}") for index in range(-(-len(bits) // 16))]
        for index, chunk in enumerate(chunks):
            m.d.sync += chunk.eq(bits[index::len(chunks)].xor())
        m.d.sync += self.out.eq(Cat(Cat(chunks[lane::8]).xor() for lane in range(8)))
        return m
