"""The processing element: one weight-stationary multiply-accumulate cell."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .mult import multiplier
from .numfmt import INT8, IntMacFormat

__all__ = ["ProcessingElement"]


class ProcessingElement(wiring.Component):
    """Weight-stationary MAC cell with a shadow weight register.

    Each cycle the PE multiplies the activation arriving from the left by its *active* weight,
    adds the product to the partial sum arriving from above and passes the sum down; the
    activation is passed right. A second, *shadow* weight register takes the next tile's weight
    from the shift chain (``weight_in`` from the PE below, ``weight_out`` to the PE above) while
    the active weight computes; ``swap_in`` copies shadow to active. ``swap`` travels right with
    the activations, one cycle *ahead* of the first activation that must use the new weight.

    The product is registered, so the multiplier and the wide adder sit in different cycles.
    Arithmetic wraps at the accumulator width like numpy (see :mod:`systole.hw.numfmt`).

    With ``stream`` the PE also has a *weight-streaming* mode for MATVEC (GEMV): while
    ``stream_mode`` is set, the active weight takes ``direct_in`` (this PE's byte of a tile
    straight from the tile buffer) every cycle, and the activation register takes ``x_in``
    (the row's vector element) instead of ``act_in``, so the right neighbour multiplies by
    the vector. Both multiplexers sit in front of registers, not between a register and the
    multiplier; without ``stream`` the PE is unchanged.

    Parameters
    ----------
    fmt : IntMacFormat
        Number format (operand and partial-sum shapes, multiply and accumulate).
    multiplier : str
        Implementation of the active weight and product registers and the multiply
        (:mod:`systole.hw.mult`): ``"generic"`` (inferred, any target) or ``"ecp5"`` (MULT18X18D
        with its own registers). Both give the same cycle-level behaviour.
    stream : bool
        Add the weight-streaming mode (ports ``stream_mode``, ``x_in``, ``direct_in``).

    Members
    -------
    act_in : In(fmt.act_shape)
        Activation from the left neighbour (or the skew register of this row).
    act_out : Out(fmt.act_shape)
        ``act_in`` delayed by one cycle, to the right neighbour.
    swap_in : In(1)
        Copy the shadow weight to the active weight at the end of this cycle.
    swap_out : Out(1)
        ``swap_in`` delayed by one cycle, to the right neighbour.
    weight_in : In(fmt.weight_shape)
        Shift-chain input, from the PE below (or the array's bottom edge).
    weight_shift : In(1)
        Load ``weight_in`` into the shadow register (all PEs of a column shift together).
    weight_out : Out(fmt.weight_shape)
        The shadow register, to the PE above.
    psum_in : In(fmt.psum_shape)
        Partial sum from the PE above (zero at the top edge).
    psum_out : Out(fmt.psum_shape)
        ``psum_in + product``, registered.
    stream_mode : In(1)
        Weight-streaming mode (``stream`` only).
    x_in : In(fmt.act_shape)
        The row's vector element, into ``act_out`` in streaming mode (``stream`` only).
    direct_in : In(fmt.weight_shape)
        Loaded into the active weight at the end of every streaming cycle (``stream`` only).

    Latency
    -------
    ``act_in`` to ``act_out``: 1 cycle. ``act_in`` to its product in ``psum_out``: 2 cycles
    (:attr:`latency`). ``psum_in`` to ``psum_out``: 1 cycle. A weight swapped in at cycle t is
    used by the activation of cycle t + 1. Initiation interval 1; no backpressure (valid-only
    pipeline: every cycle computes).
    """

    #: Cycles from ``act_in`` to the product's contribution in ``psum_out``.
    latency = 2
    #: Cycles from ``act_in`` to ``act_out`` and from ``psum_in`` to ``psum_out``.
    hop_latency = 1

    def __init__(self, fmt: IntMacFormat = INT8, *, multiplier: str = "generic",
                 stream: bool = False):
        self.fmt = fmt
        self.multiplier = multiplier
        self.stream = stream
        streaming = {"stream_mode": In(1), "x_in": In(fmt.act_shape),
                     "direct_in": In(fmt.weight_shape)} if stream else {}
        super().__init__({
            "act_in": In(fmt.act_shape),
            "act_out": Out(fmt.act_shape),
            "swap_in": In(1),
            "swap_out": Out(1),
            "weight_in": In(fmt.weight_shape),
            "weight_shift": In(1),
            "weight_out": Out(fmt.weight_shape),
            "psum_in": In(fmt.psum_shape),
            "psum_out": Out(fmt.psum_shape),
            **streaming,
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        fmt = self.fmt

        shadow = Signal(fmt.weight_shape)
        # Datapath registers need no reset: results are only taken from cycles marked valid,
        # and a reset mux would sit behind the adder on the critical path.
        psum = Signal(fmt.psum_shape, reset_less=True)
        act = Signal(fmt.act_shape, reset_less=True)
        # The active weight register and the registered product belong to the multiplier.
        weight_next, load, act_next = shadow, self.swap_in, self.act_in
        if self.stream:
            weight_next = Mux(self.stream_mode, self.direct_in, shadow)
            load = self.swap_in | self.stream_mode
            act_next = Mux(self.stream_mode, self.x_in, self.act_in)
        product = multiplier(self.multiplier, fmt).build(m, self.act_in, weight_next, load)

        with m.If(self.weight_shift):
            m.d.sync += shadow.eq(self.weight_in)

        m.d.sync += [
            psum.eq(fmt.accumulate(self.psum_in, product)),
            act.eq(act_next),
            self.swap_out.eq(self.swap_in),
        ]
        m.d.comb += [
            self.psum_out.eq(psum),
            self.act_out.eq(act),
            self.weight_out.eq(shadow),
        ]
        return m
