"""The systolic array with input skew, output de-skew and weight-load flow control."""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import ArrayConfig
from .grid import PEGrid
from .skew import Skew, delay_taps

__all__ = ["SystolicArray", "act_layout"]


def act_layout(config: ArrayConfig) -> data.StructLayout:
    """Payload of the activation stream: one vector (a row of A's K-tile) and the swap flag."""
    return data.StructLayout({
        "data": data.ArrayLayout(config.fmt.act_shape, config.rows),
        "swap": 1,
    })


class SystolicArray(wiring.Component):
    """Weight-stationary systolic array that takes and returns whole vectors per cycle.

    Computes, for every accepted activation vector ``a`` (length ``rows``), the vector
    ``a @ W`` (length ``cols``) where ``W`` (``rows`` x ``cols``) is the active weight tile.
    In GEMM terms (A is M x K, B is K x N): ``W`` is a K x N tile of B, and the M rows of the
    matching K-slice of A stream through, giving M partial-sum rows of C.

    Weight tiles are double-buffered. The ``weights`` stream shifts the next tile into the
    shadow registers row by row (row 0 of the tile first, ``rows`` beats) while the current
    tile computes. The first activation vector that must use the new tile carries
    ``swap = 1``; it waits (``acts.ready = 0``) until the whole tile is loaded. The shift chain
    is reused for the following tile only after the swap has passed the bottom row, so a tile
    must be used by at least :attr:`ArrayConfig.min_tile_period` (``2 * rows - 1``) vectors to
    hide all weight loading; ``weights.ready`` enforces it.

    Parameters
    ----------
    config : ArrayConfig
        Array shape and number format.
    row_module : str or None
        Name of a separately converted :class:`~systole.hw.grid.PERow` module to instantiate
        (Verilog generation), or ``None`` for a fully native hierarchy (simulation).

    Members
    -------
    acts : In(stream.Signature(act_layout(config)))
        Activation vectors; ``payload.data[r]`` enters row ``r``.
    weights : In(stream.Signature(ArrayLayout(fmt.weight_shape, cols)))
        Weight rows of the next tile, tile row 0 first.
    psums : Out(stream.Signature(ArrayLayout(fmt.psum_shape, cols), always_ready=True))
        Result vectors, in the order the activations were accepted. The array never stalls:
        the consumer must take every vector (``always_ready``).

    Latency
    -------
    :attr:`latency` = ``rows + cols + 1`` cycles from an accepted activation vector to its
    result vector. Initiation interval 1. Backpressure: ``acts.ready`` drops only for a swap
    whose tile is not yet loaded; ``weights.ready`` drops while the shadow registers are full
    or still in use by the previous swap. Results of vectors accepted before a swap use the
    old tile, those from the swap on use the new one.
    """

    def __init__(self, config: ArrayConfig, *, row_module: str | None = None):
        self.config = config
        self.row_module = row_module
        fmt = config.fmt
        super().__init__({
            "acts": In(stream.Signature(act_layout(config))),
            "weights": In(stream.Signature(data.ArrayLayout(fmt.weight_shape, config.cols))),
            "psums": Out(stream.Signature(data.ArrayLayout(fmt.psum_shape, config.cols),
                                          always_ready=True)),
        })

    @property
    def latency(self) -> int:
        return self.config.latency

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        rows, cols = cfg.rows, cfg.cols

        m.submodules.grid = grid = PEGrid(cfg, row_module=self.row_module)
        # Row r's activation reaches the grid r + 1 cycles after acceptance (an input register
        # plus the skew); its swap strobe one cycle earlier, so the PE switches weights just
        # before the first new activation arrives.
        m.submodules.act_skew = act_skew = Skew(cfg.fmt.act_shape, rows, offset=1)
        # Column c of a weight row shifts c cycles late, following the activation wavefront.
        m.submodules.weight_skew = weight_skew = Skew(cfg.fmt.weight_shape, cols)
        # Column c leaves the grid c cycles late; delay it cols - 1 - c cycles to re-align.
        m.submodules.psum_deskew = psum_deskew = Skew(cfg.fmt.psum_shape, cols,
                                                      order="descending")

        # Flow control of the double-buffered weights.
        loaded = Signal(range(rows + 1))        # tile rows in the shadow registers
        # Cycles until the shift chain is free again after a swap (none for 1- and 2-row arrays).
        cooldown_init = max(rows - 2, 0)
        cooldown = Signal(range(cooldown_init + 1)) if cooldown_init else C(0, 1)

        acts_accept = self.acts.valid & self.acts.ready
        swap = Signal()
        weights_accept = Signal()
        m.d.comb += [
            self.acts.ready.eq(~self.acts.payload.swap | (loaded == rows)),
            self.weights.ready.eq((loaded != rows) & (cooldown == 0)),
            swap.eq(acts_accept & self.acts.payload.swap),
            weights_accept.eq(self.weights.valid & self.weights.ready),
        ]
        with m.If(swap):
            m.d.sync += loaded.eq(0)
        with m.Elif(weights_accept):
            m.d.sync += loaded.eq(loaded + 1)
        if cooldown_init:
            with m.If(swap):
                m.d.sync += cooldown.eq(cooldown_init)
            with m.Elif(cooldown != 0):
                m.d.sync += cooldown.eq(cooldown - 1)

        # Datapath: skew in, grid, de-skew out. Idle cycles feed zeros (no toggling).
        m.d.comb += act_skew.i.eq(Mux(acts_accept, self.acts.payload.data, 0))
        m.d.comb += grid.acts.eq(act_skew.o.as_value())
        swap_taps = delay_taps(m, swap, rows - 1, name="swap_line")
        for r in range(rows):
            m.d.comb += grid.swaps[r].eq(swap_taps[r])

        m.d.comb += weight_skew.i.eq(self.weights.payload)
        m.d.comb += grid.weights.eq(weight_skew.o.as_value())
        shift_taps = delay_taps(m, weights_accept, cols - 1, name="shift_line")
        for c in range(cols):
            m.d.comb += grid.weight_shift[c].eq(shift_taps[c])

        m.d.comb += psum_deskew.i.eq(grid.psums)
        valid_taps = delay_taps(m, acts_accept, self.latency, name="valid_line")
        m.d.comb += [
            self.psums.payload.eq(psum_deskew.o),
            self.psums.valid.eq(valid_taps[-1]),
        ]
        return m
