"""Register slices: a stream stage whose outputs (``valid``, ``payload`` and the upstream
``ready``) all come from flip-flops, so that neither side's handshake logic reaches the other's
in the same cycle. The FPGA prototype puts them between the chip's memory ports and the block
RAMs, where the memory's ``ready`` (decoded from its state) ran through the DMA's burst
splitter into some hundred enables, and its read data across the die into the chip's buffers
(the ULX3S build's longest paths)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import AxiSignature

__all__ = ["RegisterSlice", "AxiRegisterSlice"]


class RegisterSlice(wiring.Component):
    """A full-throughput stream register (a two-entry skid buffer).

    Parameters
    ----------
    shape : shape-like
        The payload.

    Members
    -------
    i : In(stream.Signature(shape))
        ``ready`` is a flip-flop: low only while the skid entry holds a payload.
    o : Out(stream.Signature(shape))
        ``valid`` and ``payload`` are flip-flops.

    Latency
    -------
    One cycle from ``i`` to ``o``; one payload per cycle while ``o`` is ready. When ``o``
    stalls, the slice takes one more payload (into the skid entry) and then drops ``i.ready``;
    it raises it the cycle after ``o`` takes the first.
    """

    latency = 1

    def __init__(self, shape):
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        skid_valid = Signal()
        skid = Signal.like(self.o.payload, name="skid")
        m.d.comb += self.i.ready.eq(~skid_valid)
        # The skid entry follows the input while it is empty, so that its enable is one
        # flip-flop, not the handshakes; ``skid_valid`` alone decides whether it holds a payload.
        with m.If(~skid_valid):
            m.d.sync += skid.eq(self.i.payload)
        with m.If(self.o.ready | ~self.o.valid):
            # The output register is free: refill it, from the skid entry first.
            with m.If(skid_valid):
                m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
        with m.Elif(self.i.valid & ~skid_valid):
            m.d.sync += skid_valid.eq(1)
        return m


class AxiRegisterSlice(wiring.Component):
    """Register slices on the channels of an AXI4 port that carry addresses and data (AR, AW,
    W and R); B passes straight through.

    Parameters
    ----------
    params : AxiParams

    Members
    -------
    s : In(AxiSignature(params))
        Towards the manager (the chip's memory port).
    m : Out(AxiSignature(params))
        Towards the subordinate (the memory).

    Latency
    -------
    One cycle more on AR, AW, W and R (:class:`RegisterSlice`); none on B. Full throughput.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({"s": In(AxiSignature(params)), "m": Out(AxiSignature(params))})

    def elaborate(self, platform) -> Module:
        m = Module()
        for name in ("ar", "aw", "w", "r"):
            # From the manager's side to the subordinate's, except R.
            source, sink = (self.m, self.s) if name == "r" else (self.s, self.m)
            m.submodules[name] = stage = RegisterSlice(getattr(self.s, name).payload.shape())
            wiring.connect(m, wiring.flipped(getattr(source, name)), stage.i)
            wiring.connect(m, stage.o, wiring.flipped(getattr(sink, name)))
        wiring.connect(m, wiring.flipped(self.m.b), wiring.flipped(self.s.b))
        return m
