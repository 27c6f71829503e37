"""The systolic array with input skew, output de-skew and weight-load flow control."""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import ArrayConfig
from .grid import PEGrid
from .skew import Skew, delay_taps

__all__ = ["SystolicArray", "StreamSignature", "act_layout"]


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

    With ``streaming``, the array also runs MATVEC (weight streaming, for GEMVs): while
    ``stream.mode`` is set, every PE loads its weight of a whole tile each cycle straight from
    ``stream.tile`` (the tile buffer's banks, row ``r`` ``r`` cycles after row 0) and
    multiplies it by its row's element of a vector held in the rows, so a tile of ``rows`` x
    ``cols`` weights enters per cycle instead of one tile row. The vector (``stream.x`` with
    ``stream.first``) reaches each row with the first tile, so back-to-back MATVECs need no
    gap, but a new vector may start at most every ``rows`` cycles. The results leave unskewed,
    ``rows + 3`` cycles after the tile's read (:attr:`stream_latency`). The user switches
    ``stream.mode`` only while no result is in flight (the compute unit drains the array
    between MATMUL and MATVEC); the rows see it a cycle later.

    Parameters
    ----------
    config : ArrayConfig
        Array shape and number format.
    row_module : str or None
        Name of a separately converted :class:`~systole.hw.grid.PERow` module to instantiate
        (Verilog generation), or ``None`` for a fully native hierarchy (simulation).
    streaming : bool
        Add the weight-streaming mode (member ``stream``).
    registered_ready : bool
        Drive ``acts.ready`` and ``weights.ready`` from registers (two flip-flops; the same
        handshakes in every cycle). ``False``: from compares of the load counters, as before
        (the iCEBreaker build's Verilog, which places only on some seeds and netlists).

    Members
    -------
    acts : In(stream.Signature(act_layout(config)))
        Activation vectors; ``payload.data[r]`` enters row ``r``.
    weights : In(stream.Signature(ArrayLayout(fmt.weight_shape, cols)))
        Weight rows of the next tile, tile row 0 first.
    psums : Out(stream.Signature(ArrayLayout(fmt.psum_shape, cols), always_ready=True))
        Result vectors, in the order the activations (or streamed tiles) were accepted. The
        array never stalls: the consumer must take every vector (``always_ready``).
    stream : In(StreamSignature(config)) (``streaming`` only)
        ``mode``: weight-streaming mode (a level); ``issue``: a tile was read from the tile
        buffer this cycle (its row ``r`` arrives on ``tile`` ``r + 1`` cycles later);
        ``first``: with ``issue``, the first tile of a new vector; ``x``: the vector of the
        tile, with every ``issue``; ``tile``: the tile buffer's banks, row-major.

    Latency
    -------
    :attr:`latency` = ``rows + cols + 1`` cycles from an accepted activation vector to its
    result vector. Initiation interval 1. Backpressure: ``acts.ready`` drops only for a swap
    whose tile is not yet loaded; ``weights.ready`` drops while the shadow registers are full
    or still in use by the previous swap. Results of vectors accepted before a swap use the
    old tile, those from the swap on use the new one.
    """

    def __init__(self, config: ArrayConfig, *, row_module: str | None = None,
                 streaming: bool = False, registered_ready: bool = True):
        self.config = config
        self.row_module = row_module
        self.streaming = streaming
        self.registered_ready = registered_ready
        fmt = config.fmt
        super().__init__({
            **({"stream": In(StreamSignature(config))} if streaming else {}),
            "acts": In(stream.Signature(act_layout(config))),
            "weights": In(stream.Signature(data.ArrayLayout(fmt.weight_shape, config.cols))),
            "psums": Out(stream.Signature(data.ArrayLayout(fmt.psum_shape, config.cols),
                                          always_ready=True)),
        })

    @property
    def latency(self) -> int:
        return self.config.latency

    @property
    def stream_latency(self) -> int:
        """Cycles from a streamed tile's read (``stream.issue``) to its result vector: the
        bank read, the weight register, the product and one partial-sum register per row."""
        return self.config.rows + 3

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        rows, cols = cfg.rows, cfg.cols

        m.submodules.grid = grid = PEGrid(cfg, row_module=self.row_module,
                                          stream=self.streaming)
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
        # With ``registered_ready``, ``loaded == rows`` and ``cooldown == 0`` are registers of
        # their own, set from the counters' next values, so that both ``ready`` outputs come
        # from registers (the ULX3S build's array handshakes were its worst paths).
        if self.registered_ready:
            full = Signal()                     # loaded == rows
            free = Signal(init=1)               # cooldown == 0
            acts_ready, weights_ready = full, ~full & free
        else:
            acts_ready, weights_ready = loaded == rows, (loaded != rows) & (cooldown == 0)
        m.d.comb += [
            self.acts.ready.eq(~self.acts.payload.swap | acts_ready),
            self.weights.ready.eq(weights_ready),
            swap.eq(acts_accept & self.acts.payload.swap),
            weights_accept.eq(self.weights.valid & self.weights.ready),
        ]
        with m.If(swap):
            m.d.sync += loaded.eq(0)
            if self.registered_ready:
                m.d.sync += full.eq(0)
        with m.Elif(weights_accept):
            m.d.sync += loaded.eq(loaded + 1)
            if self.registered_ready:
                m.d.sync += full.eq(loaded == rows - 1)
        if cooldown_init:
            with m.If(swap):
                m.d.sync += cooldown.eq(cooldown_init)
                if self.registered_ready:
                    m.d.sync += free.eq(0)
            with m.Elif(cooldown != 0):
                m.d.sync += cooldown.eq(cooldown - 1)
                if self.registered_ready:
                    m.d.sync += free.eq(cooldown == 1)

        # Datapath: skew in, grid, de-skew out. Idle cycles feed zeros (no toggling).
        act_in = Mux(acts_accept, self.acts.payload.data, 0)
        if self.streaming:
            # Streaming: the skew carries the vector of the last tile read, so the PEs of
            # column 0 multiply each tile's row r by its vector's element r.
            x_hold = Signal.like(self.stream.x, name="x_hold")
            with m.If(self.stream.issue):
                m.d.sync += x_hold.eq(self.stream.x)
            act_in = Mux(self.stream.mode, x_hold, act_in)
        m.d.comb += act_skew.i.eq(act_in)
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
        if self.streaming:
            self._stream(m, grid)
        return m

    def _stream(self, m: Module, grid: PEGrid) -> None:
        """Weight streaming: the vector into the rows' activation registers as the first tile
        reaches them, the tile buffer's rows straight into the PEs, the results out unskewed.

        Column 0 gets the vector through the activation skew (``x_hold``); the other columns
        from their left neighbour's activation register, which in streaming mode loads the
        row's element ``xs_next[r]``: the vector of the MATVEC whose first tile reaches row
        ``r`` (``first_line``) from ``x_pending``, else the row's current one (``xs``). The
        user starts a new vector at most every ``rows`` cycles (``x_pending`` must last until
        the last row has taken it)."""
        cfg, port = self.config, self.stream
        rows, act = cfg.rows, cfg.fmt.act_shape
        x_pending = Signal(data.ArrayLayout(act, rows))
        with m.If(port.issue & port.first):
            m.d.sync += x_pending.eq(port.x)
        xs = Signal(data.ArrayLayout(act, rows))
        xs_next = Signal(data.ArrayLayout(act, rows))
        first_taps = delay_taps(m, port.issue & port.first, rows, name="first_line")
        for r in range(rows):
            m.d.comb += xs_next[r].eq(Mux(first_taps[r + 1], x_pending[r], xs[r]))
        m.d.sync += xs.eq(xs_next)
        stream_taps = delay_taps(m, port.issue, self.stream_latency, name="stream_line")
        m.d.comb += [
            grid.stream_mode.eq(port.mode),
            grid.xs.eq(xs_next.as_value()),
            grid.direct.eq(port.tile),
        ]
        with m.If(port.mode):
            m.d.comb += [self.psums.payload.eq(grid.psums),
                         self.psums.valid.eq(stream_taps[-1])]


class StreamSignature(wiring.Signature):
    """The array's weight-streaming port, as seen by its driver (see :class:`SystolicArray`)."""

    def __init__(self, config: ArrayConfig):
        fmt = config.fmt
        super().__init__({
            "mode": Out(1),
            "issue": Out(1),
            "first": Out(1),
            "x": Out(data.ArrayLayout(fmt.act_shape, config.rows)),
            "tile": Out(fmt.weight_width * config.rows * config.cols),
        })
