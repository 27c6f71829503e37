"""The bare PE grid: rows of processing elements, no skew, no flow control."""

from __future__ import annotations

from itertools import pairwise

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import ArrayConfig
from .hier import blackbox
from .pe import ProcessingElement

__all__ = ["PERow", "PEGrid"]


def _bus(shape, count: int):
    """Port shape of a vector crossing the grid.

    The grid's internal buses are plain bit vectors read through an ``ArrayLayout`` view:
    layout-typed ports make Amaranth emit a debug wire per element and instance, which made a
    128 x 128 conversion several times slower.
    """
    return unsigned(data.ArrayLayout(shape, count).size)


def _view(shape, count: int, value) -> data.View:
    return data.View(data.ArrayLayout(shape, count), value)


class PERow(wiring.Component):
    """One row of ``cols`` PEs: activations flow right, partial sums and weights pass through.

    Parameters
    ----------
    config : ArrayConfig
        Array shape and number format (``cols`` PEs of ``config.fmt``).
    pe_module : str or None
        ``None`` elaborates real :class:`ProcessingElement` submodules (simulatable). A module
        name instantiates that separately converted Verilog module instead (fast conversion).
    stream : bool
        PEs with the weight-streaming mode (:class:`ProcessingElement`); adds ``stream_mode``
        (registered once in the row, so that no net fans out to every PE of the array),
        ``x_in`` (the row's vector element, to every PE) and ``direct_in`` (one weight per PE).

    Members
    -------
    act_in : In(fmt.act_shape)
        Activation entering the left PE.
    swap_in : In(1)
        Swap strobe entering the left PE (one cycle ahead of the first new activation).
    psum_in : In(cols * fmt.acc_width)
        Partial sums from the row above (``ArrayLayout(fmt.psum_shape, cols)`` packing).
    psum_out : Out(cols * fmt.acc_width)
        Partial sums to the row below.
    weight_in : In(cols * fmt.weight_width)
        Weight shift chain from the row below.
    weight_shift : In(cols)
        Per-column shift enable.
    weight_out : Out(cols * fmt.weight_width)
        Weight shift chain to the row above (the shadow registers).

    Latency
    -------
    PE ``c`` sees ``act_in`` ``c`` cycles late; see :class:`ProcessingElement` for the rest.
    """

    def __init__(self, config: ArrayConfig, *, pe_module: str | None = None,
                 stream: bool = False):
        self.config = config
        self.pe_module = pe_module
        self.stream = stream
        fmt, cols = config.fmt, config.cols
        streaming = {"stream_mode": In(1), "x_in": In(fmt.act_shape),
                     "direct_in": In(_bus(fmt.weight_shape, cols))} if stream else {}
        super().__init__({
            "act_in": In(fmt.act_shape),
            "swap_in": In(1),
            "psum_in": In(_bus(fmt.psum_shape, cols)),
            "psum_out": Out(_bus(fmt.psum_shape, cols)),
            "weight_in": In(_bus(fmt.weight_shape, cols)),
            "weight_shift": In(cols),
            "weight_out": Out(_bus(fmt.weight_shape, cols)),
            **streaming,
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        fmt, cols = self.config.fmt, self.config.cols
        psum_in = _view(fmt.psum_shape, cols, self.psum_in)
        psum_out = _view(fmt.psum_shape, cols, self.psum_out)
        weight_in = _view(fmt.weight_shape, cols, self.weight_in)
        weight_out = _view(fmt.weight_shape, cols, self.weight_out)
        act, swap = self.act_in, self.swap_in
        if self.stream:
            mode = Signal(name="stream_mode_q")
            m.d.sync += mode.eq(self.stream_mode)
        for c in range(cols):
            pe = ProcessingElement(self.config.fmt, multiplier=self.config.multiplier,
                                   stream=self.stream)
            if self.pe_module is None:
                m.submodules[f"pe{c}"] = pe
            else:
                m.submodules[f"pe{c}"] = blackbox(pe, self.pe_module)
            m.d.comb += [
                pe.act_in.eq(act),
                pe.swap_in.eq(swap),
                pe.psum_in.eq(psum_in[c]),
                psum_out[c].eq(pe.psum_out),
                pe.weight_in.eq(weight_in[c]),
                pe.weight_shift.eq(self.weight_shift[c]),
                weight_out[c].eq(pe.weight_out),
            ]
            if self.stream:
                direct = _view(fmt.weight_shape, cols, self.direct_in)
                m.d.comb += [pe.stream_mode.eq(mode), pe.x_in.eq(self.x_in),
                             pe.direct_in.eq(direct[c])]
            act, swap = pe.act_out, pe.swap_out
        return m


class PEGrid(wiring.Component):
    """``rows`` x ``cols`` PEs. Activations enter the left edge, partial sums leave the bottom
    edge, weights shift in from the bottom edge upwards. Inputs must already be skewed.

    Parameters
    ----------
    config : ArrayConfig
        Array shape and number format.
    row_module : str or None
        ``None`` elaborates real :class:`PERow` submodules; a module name instantiates that
        separately converted Verilog module instead.
    stream : bool
        PEs with the weight-streaming mode: adds ``stream_mode``, ``xs`` (one vector element
        per row) and ``direct`` (one weight per PE, row-major).

    Members
    -------
    acts : In(rows * fmt.act_width)
        Left edge, one activation per row (``ArrayLayout(fmt.act_shape, rows)`` packing).
    swaps : In(rows)
        Left edge swap strobes, one per row.
    weights : In(cols * fmt.weight_width)
        Bottom edge of the weight shift chain.
    weight_shift : In(cols)
        Per-column shift enable (all rows of a column shift together).
    psums : Out(cols * fmt.acc_width)
        Bottom edge partial sums. The top edge adds to zero.

    Latency
    -------
    An activation entering row ``r`` at cycle ``t`` reaches PE ``(r, c)`` at ``t + c``; the
    column sum of a diagonal wavefront that enters row ``r`` at ``t0 + r`` leaves column ``c`` at
    ``t0 + rows + c + 1``. After ``rows`` shifts of a column, its shadow registers hold the
    words in shift order: the first word shifted in ends in row 0.
    """

    def __init__(self, config: ArrayConfig, *, row_module: str | None = None,
                 stream: bool = False):
        self.config = config
        self.row_module = row_module
        self.stream = stream
        fmt, rows, cols = config.fmt, config.rows, config.cols
        streaming = {"stream_mode": In(1), "xs": In(_bus(fmt.act_shape, rows)),
                     "direct": In(_bus(fmt.weight_shape, rows * cols))} if stream else {}
        super().__init__({
            **streaming,
            "acts": In(_bus(fmt.act_shape, rows)),
            "swaps": In(rows),
            "weights": In(_bus(fmt.weight_shape, cols)),
            "weight_shift": In(cols),
            "psums": Out(_bus(fmt.psum_shape, cols)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        fmt, cols = self.config.fmt, self.config.cols
        acts = _view(fmt.act_shape, self.config.rows, self.acts)
        rows = []
        for r in range(self.config.rows):
            row = PERow(self.config, stream=self.stream)
            if self.row_module is None:
                m.submodules[f"row{r}"] = row
            else:
                m.submodules[f"row{r}"] = blackbox(row, self.row_module)
            m.d.comb += [
                row.act_in.eq(acts[r]),
                row.swap_in.eq(self.swaps[r]),
                row.weight_shift.eq(self.weight_shift),
            ]
            if self.stream:
                xs = _view(fmt.act_shape, self.config.rows, self.xs)
                row_bits = cols * fmt.weight_width
                m.d.comb += [row.stream_mode.eq(self.stream_mode), row.x_in.eq(xs[r]),
                             row.direct_in.eq(self.direct[r * row_bits:(r + 1) * row_bits])]
            rows.append(row)
        for upper, lower in pairwise(rows):
            m.d.comb += [
                lower.psum_in.eq(upper.psum_out),
                upper.weight_in.eq(lower.weight_out),
            ]
        m.d.comb += [
            rows[0].psum_in.eq(0),
            rows[-1].weight_in.eq(self.weights),
            self.psums.eq(rows[-1].psum_out),
        ]
        return m
