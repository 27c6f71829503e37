"""Compute unit: feeds weight tiles and activation vectors from the buffers through the array
and accumulates the results into the accumulator buffer."""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .array import SystolicArray
from .buffers import REGION_ACT, REGION_WEIGHT, BufferMap
from .bufread import BufferReader, ReadPortSignature
from .cmds import compute_cmd_layout, flags_layout
from .config import SystoleConfig
from .perf import Activity
from .regslice import RegisterSlice
from .tokens import TokenSignature

__all__ = ["ComputeUnit"]


class ComputeUnit(wiring.Component):
    """Executes MATMUL, MATVEC and SYNC commands in order, overlapping consecutive MATMULs.

    A MATMUL shifts its weight tile (``rows`` words of the weight buffer) into the array's
    shadow registers while the previous MATMUL still streams, then streams its activation
    vectors (the first one swaps the tile in) and writes each result vector to its accumulator
    word, overwriting or adding (int32, wrapping). Token pops happen before a command starts;
    its pushes when its last result is in the accumulators. A SYNC waits for every earlier
    result, then does its token operations.

    Members
    -------
    cmd : In(stream.Signature(compute_cmd_layout()))
        Checked commands: a MATMUL's rows fit the activation buffer (the sequencer's buffer
        range check).
    tokens : Out(TokenSignature())
    act, weight : Out(ReadPortSignature(...))
        Activation and weight buffer read ports.
    tile : Out(ReadPortSignature(...))
        Tile buffer read port (``config.matvec`` only; row-skewed data, see
        :class:`~.tilebuf.TileBuffer`).
    acc_read : Out(ReadPortSignature(...))
        Accumulator read port: transparent to ``acc_write``, or with ``registered_acc_reads``
        data a cycle later and not transparent (the unit forwards its own write).
    acc_write : Out(Signature addr, data, en)
    idle : Out(1)
        No command queued or in flight.
    array_busy : Out(1)
        The array accepted an activation vector this cycle.
    activity : Out(Activity)
        What the array does this cycle, from this unit's view (:mod:`.perf`); ``IDLE`` when
        the unit has nothing queued or in flight.

    Latency
    -------
    Activation read to accumulator write: array latency (``rows + cols + 1``) plus 4 cycles
    (5 with ``registered_acc_reads``, one more with ``registered_operand_reads``).
    One activation vector per cycle while tiles hold at least ``2 * rows - 1`` vectors.
    """

    def __init__(self, config: SystoleConfig, *, row_module: str | None = None):
        self.config = config
        self.row_module = row_module
        bmap = BufferMap(config)
        buf = config.buffers
        acc_addr = ceil_log2(buf.acc_depth)
        arr = config.array
        tile = {"tile": Out(ReadPortSignature(
            max(1, ceil_log2(buf.tile_depth)), arr.rows * arr.cols * arr.fmt.weight_width))
        } if config.matvec else {}
        super().__init__({
            **tile,
            "cmd": In(stream.Signature(compute_cmd_layout(config.matvec))),
            "tokens": Out(TokenSignature()),
            "act": Out(ReadPortSignature(ceil_log2(buf.act_depth), bmap.word_bits(REGION_ACT))),
            "weight": Out(ReadPortSignature(ceil_log2(buf.weight_depth),
                                            bmap.word_bits(REGION_WEIGHT))),
            "acc_read": Out(ReadPortSignature(acc_addr, bmap.acc_word_bits)),
            "acc_write": Out(wiring.Signature({"addr": Out(acc_addr),
                                               "data": Out(bmap.acc_word_bits),
                                               "en": Out(1)})),
            "idle": Out(1),
            "array_busy": Out(1),
            "activity": Out(Activity),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        arr = cfg.array
        rows, cols, fmt = arr.rows, arr.cols, arr.fmt
        matvec = cfg.matvec
        m.submodules.array = array = SystolicArray(
            arr, row_module=self.row_module, streaming=matvec,
            registered_ready=cfg.registered_control)
        # The feeders' streams into the array, through register slices with
        # ``register_slices`` (the array's control sits among the DSPs, the readers by the
        # block RAMs).
        acts, weights = array.acts, array.weights
        if cfg.register_slices:
            m.submodules.acts_slice = acts_slice = RegisterSlice(acts.payload.shape())
            m.submodules.weights_slice = weights_slice = RegisterSlice(weights.payload.shape())
            wiring.connect(m, acts_slice.o, array.acts)
            wiring.connect(m, weights_slice.o, array.weights)
            acts, weights = acts_slice.i, weights_slice.i

        # Queues between the token gate and the two feeders. They hold the command narrowed to
        # the buffers: addresses to the read and write ports' widths (the feeders' sums wrap
        # there anyway) and ``rows`` to the activation buffer's depth (the sequencer's buffer
        # check guarantees it).
        # A MATVEC's tile address travels in ``weight_addr``, its tile count in ``rows``.
        weight_addr_bits = len(self.weight.addr)
        rows_bits = cfg.buffers.act_depth.bit_length()
        if matvec:
            weight_addr_bits = max(weight_addr_bits, len(self.tile.addr))
            rows_bits = max(rows_bits, cfg.buffers.acc_depth.bit_length())
        cmd_layout = data.StructLayout({
            "sync": 1, "flags": flags_layout(),
            "act_addr": len(self.act.addr), "weight_addr": weight_addr_bits,
            "acc_addr": len(self.acc_write.addr), "rows": rows_bits,
            "accumulate": 1, **({"matvec": 1} if matvec else {}),
            # With ``registered_control`` the index of the last row, ``rows - 1``, is queued
            # too: the activation feeder's end-of-command compare then has no subtraction.
            **({"last_index": rows_bits} if cfg.registered_control else {}),
        })
        queued = Signal(cmd_layout)
        m.submodules.weight_q = weight_q = fifo.SyncFIFOBuffered(width=cmd_layout.size, depth=4)
        m.submodules.act_q = act_q = fifo.SyncFIFOBuffered(width=cmd_layout.size, depth=4)
        cmd, flags = self.cmd.payload, self.cmd.payload.flags
        m.d.comb += [getattr(queued, name).eq(getattr(cmd, name))
                     for name in cmd_layout.members if name != "last_index"]
        if cfg.registered_control:
            m.d.comb += queued.last_index.eq(cmd.rows - 1)
        tokens_ok = ((~flags.pop_prev | self.tokens.prev_ready)
                     & (~flags.pop_next | self.tokens.next_ready))
        no_tile = cmd.sync | cmd.matvec if matvec else cmd.sync   # no weight tile to shift
        room = act_q.w_rdy & (weight_q.w_rdy | no_tile)
        go = self.cmd.valid & tokens_ok & room
        m.d.comb += [
            self.cmd.ready.eq(tokens_ok & room),
            self.tokens.pop_prev.eq(go & flags.pop_prev),
            self.tokens.pop_next.eq(go & flags.pop_next),
            act_q.w_data.eq(queued), act_q.w_en.eq(go),
            weight_q.w_data.eq(queued), weight_q.w_en.eq(go & ~no_tile),
        ]

        # Weight feeder: rows words per MATMUL into the array's weight stream.
        # Reads of two cycles with registered_operand_reads (a word more of read-ahead).
        read_latency = 2 if self.config.registered_operand_reads else 1
        m.submodules.weight_reader = weight_reader = BufferReader(
            len(self.weight.addr), len(self.weight.data), 1, latency=read_latency,
            room_register=self.config.registered_control)
        wiring.connect(m, weight_reader.port, wiring.flipped(self.weight))
        w_head = data.View(cmd_layout, weight_q.r_data)
        w_index = Signal(range(max(rows, 2)))
        m.d.comb += [
            weight_reader.req.valid.eq(weight_q.r_rdy),
            weight_reader.req.payload.addr.eq(w_head.weight_addr + w_index),
        ]
        with m.If(weight_reader.req.valid & weight_reader.req.ready):
            with m.If(w_index == rows - 1):
                m.d.sync += w_index.eq(0)
                m.d.comb += weight_q.r_en.eq(1)
            with m.Else():
                m.d.sync += w_index.eq(w_index + 1)
        m.d.comb += [
            weights.valid.eq(weight_reader.resp.valid),
            weights.payload.eq(weight_reader.resp.payload.data[:cols * fmt.weight_width]),
            weight_reader.resp.ready.eq(weights.ready),
        ]

        # Activation feeder: one vector per accepted read, with its write-back instructions.
        # A MATVEC's vector comes through the same reader, marked ``x``.
        meta_layout = data.StructLayout({
            "swap": 1, "acc_addr": len(self.acc_write.addr), "accumulate": 1, "last": 1,
            "push_prev": 1, "push_next": 1, **({"x": 1} if matvec else {}),
        })
        m.submodules.act_reader = act_reader = BufferReader(
            len(self.act.addr), len(self.act.data), meta_layout, latency=read_latency,
            room_register=self.config.registered_control)
        wiring.connect(m, act_reader.port, wiring.flipped(self.act))
        a_head = data.View(cmd_layout, act_q.r_data)
        a_index = Signal.like(a_head.rows)
        in_flight = Signal(range(1 << 12))    # vectors read but not yet written back
        retire = Signal()
        request = act_reader.req
        last = a_index == (a_head.last_index if cfg.registered_control else a_head.rows - 1)
        m.d.comb += [
            request.payload.addr.eq(a_head.act_addr + a_index),
            request.payload.meta.swap.eq(a_index == 0),
            request.payload.meta.acc_addr.eq(a_head.acc_addr + a_index),
            request.payload.meta.accumulate.eq(a_head.accumulate),
            request.payload.meta.last.eq(last),
            request.payload.meta.push_prev.eq(a_head.flags.push_prev & last),
            request.payload.meta.push_next.eq(a_head.flags.push_next & last),
        ]
        issued = request.valid & request.ready
        sync_push = Signal()
        # A continuous expression, not an assignment inside If blocks: Icarus does not evaluate
        # Yosys' always @* blocks at time 0, and an X here would stick in the reader's
        # in-flight flag.
        wants_vectors = act_q.r_rdy & ~a_head.sync
        if matvec:
            mv = self._matvec(m, array, act_q, a_head, in_flight, retire)
            # A MATMUL's reads wait for the array to leave streaming mode; a MATVEC reads its
            # vector once (``x_asked``), with the tile's flags cleared.
            wants_vectors = Mux(a_head.matvec, act_q.r_rdy & ~mv.x_asked,
                                wants_vectors & ~mv.mode)
            with m.If(a_head.matvec):
                m.d.comb += [request.payload.addr.eq(a_head.act_addr),
                             request.payload.meta.swap.eq(0),
                             request.payload.meta.x.eq(1)]
            vectors = issued & ~a_head.matvec         # MATMUL vectors read
            with m.If(issued & a_head.matvec):
                m.d.sync += mv.x_asked.eq(1)
        else:
            vectors = issued
        m.d.comb += request.valid.eq(wants_vectors)
        with m.If(act_q.r_rdy):
            with m.If(a_head.sync):
                # A SYNC completes once every earlier result is in the accumulators.
                with m.If((in_flight == 0) & ~retire):
                    m.d.comb += [sync_push.eq(1), act_q.r_en.eq(1)]
            with m.Else():
                with m.If(vectors):
                    with m.If(last):
                        m.d.sync += a_index.eq(0)
                        m.d.comb += act_q.r_en.eq(1)
                    with m.Else():
                        m.d.sync += a_index.eq(a_index + 1)
        started = vectors | mv.issue if matvec else vectors    # results to come
        with m.If(started & ~retire):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(retire & ~started):
            m.d.sync += in_flight.eq(in_flight - 1)

        depth = 1 << ceil_log2(arr.latency + 8)
        m.submodules.meta_q = meta_q = fifo.SyncFIFOBuffered(width=meta_layout.size, depth=depth)
        response = act_reader.resp
        to_array = response.valid & ~response.payload.meta.x if matvec else response.valid
        m.d.comb += [
            acts.valid.eq(to_array & meta_q.w_rdy),
            acts.payload.data.eq(response.payload.data[:rows * fmt.act_width]),
            acts.payload.swap.eq(response.payload.meta.swap),
            response.ready.eq(acts.ready & meta_q.w_rdy),
            meta_q.w_data.eq(response.payload.meta),
            meta_q.w_en.eq(acts.valid & acts.ready),
            self.array_busy.eq(array.acts.valid & array.acts.ready),
        ]
        if matvec:
            self._matvec_tiles(m, array, act_q, a_head, a_index, last, meta_layout, meta_q,
                               response, mv)

        # Write-back: read the old word with the result, write the sum a cycle later (or two:
        # registered_acc_reads).
        meta = data.View(meta_layout, meta_q.r_data)
        psum_layout = data.ArrayLayout(fmt.psum_shape, cols)
        held = Signal(psum_layout)
        held_meta = Signal(meta_layout)
        held_valid = Signal()
        m.d.comb += [
            meta_q.r_en.eq(array.psums.valid),
            self.acc_read.addr.eq(meta.acc_addr),
            self.acc_read.en.eq(array.psums.valid),
        ]
        m.d.sync += [held.eq(array.psums.payload), held_meta.eq(meta),
                     held_valid.eq(array.psums.valid)]
        old = data.View(psum_layout, self.acc_read.data[:psum_layout.size])
        if self.config.registered_acc_reads:
            # Three stages: read (R), the old word registered in the buffers (D), add and
            # write (W); the read is not transparent. Results for one word come from
            # different MATMULs, whose weight tiles shift in one row per cycle after the one
            # before: the second result follows the first by at least ``rows + 1`` cycles
            # (tests/hw/test_chip.py, back-to-back results and the tightest accumulation).
            # From two rows on that is three or more, so the first result's write (W) is done
            # before the second's read (R). A 1-row array forwards the word written in the
            # read's cycle.
            stage, stage_meta, stage_valid = held, held_meta, held_valid
            held, held_meta, held_valid = (Signal(psum_layout), Signal(meta_layout), Signal())
            m.d.sync += [held.eq(stage), held_meta.eq(stage_meta), held_valid.eq(stage_valid)]
        if self.config.registered_acc_reads and rows == 1:
            # The forwarded word has an adder of its own, so that no multiplexer sits between
            # the block RAM (its output register, on the ECP5) and the adder: the sums are
            # selected after it, with ``accumulate``.
            hit, hit_q = Signal(), Signal()
            forward = Signal(psum_layout, reset_less=True)
            forward_q = Signal(psum_layout, reset_less=True)
            with m.If(self.acc_read.en):
                m.d.sync += [hit.eq(self.acc_write.en
                                    & (self.acc_write.addr == self.acc_read.addr)),
                             forward.eq(self.acc_write.data[:psum_layout.size])]
            m.d.sync += [hit_q.eq(hit), forward_q.eq(forward)]
            sums = [Mux(hit_q, forward_q[c] + held[c], old[c] + held[c]) for c in range(cols)]
        else:
            sums = [old[c] + held[c] for c in range(cols)]
        total = Cat(Mux(held_meta.accumulate, sums[c], held[c])[:fmt.acc_width]
                    for c in range(cols))
        m.d.comb += [
            self.acc_write.addr.eq(held_meta.acc_addr),
            self.acc_write.data.eq(total),      # padding bits of the word stay zero
            self.acc_write.en.eq(held_valid),
            retire.eq(held_valid),
            self.tokens.push_prev.eq((held_valid & held_meta.push_prev)
                                     | (sync_push & a_head.flags.push_prev)),
            self.tokens.push_next.eq((held_valid & held_meta.push_next)
                                     | (sync_push & a_head.flags.push_next)),
            self.idle.eq(~self.cmd.valid & ~act_q.r_rdy & ~weight_q.r_rdy & (in_flight == 0)
                         & (act_q.level == 0) & (weight_q.level == 0) & ~retire),
        ]

        # Performance: classify the cycle (precedence as in .perf).
        offered = to_array
        holds_matmul = (act_q.r_rdy & ~a_head.sync) | offered
        waiting = ~tokens_ok & self.cmd.valid
        in_pipeline = (in_flight != 0) | retire | (act_q.r_rdy & a_head.sync)
        with m.If(self.array_busy):
            m.d.comb += self.activity.eq(Activity.BUSY)
        # The array refuses a vector while its next weight tile loads; with a slice the vector
        # waits there.
        refused = array.acts.valid & ~array.acts.ready if cfg.register_slices \
            else offered & ~acts.ready
        with m.Elif(refused):
            m.d.comb += self.activity.eq(Activity.WEIGHTS)
        with m.Elif(holds_matmul):
            m.d.comb += self.activity.eq(Activity.INPUTS)
        with m.Elif(waiting & flags.pop_prev & ~self.tokens.prev_ready):
            m.d.comb += self.activity.eq(Activity.MEMORY)
        with m.Elif(waiting | in_pipeline):
            m.d.comb += self.activity.eq(Activity.DRAIN)
        with m.Elif(self.cmd.valid):
            m.d.comb += self.activity.eq(Activity.INPUTS)
        with m.Else():
            m.d.comb += self.activity.eq(Activity.IDLE)
        return m

    def _matvec(self, m: Module, array: SystolicArray, act_q, a_head, in_flight, retire):
        """The streaming mode and the MATVEC's vector state; switches the mode when the head
        command needs the other one and every earlier result is written back."""
        mv = SimpleNamespace(mode=Signal(), x_asked=Signal(), x_ok=Signal(), issue=Signal(),
                             x=Signal(data.ArrayLayout(self.config.array.fmt.act_shape,
                                                       self.config.array.rows)))
        drained = (in_flight == 0) & ~retire
        with m.If(act_q.r_rdy & ~a_head.sync & (a_head.matvec != mv.mode) & drained):
            m.d.sync += mv.mode.eq(a_head.matvec)
        m.d.comb += array.stream.mode.eq(mv.mode)
        return mv

    def _matvec_tiles(self, m: Module, array: SystolicArray, act_q, a_head, a_index, last,
                      meta_layout, meta_q, response, mv) -> None:
        """A MATVEC: take its vector from the reader, then read one tile per cycle into the
        array's streaming port, each with its write-back instructions."""
        act_bits = len(mv.x.as_value())
        with m.If(response.valid & response.payload.meta.x):
            m.d.comb += response.ready.eq(1)
            m.d.sync += [mv.x.eq(response.payload.data[:act_bits]), mv.x_ok.eq(1)]
        # A new vector at most every ``rows`` cycles (the array's ``x_pending``).
        rows = self.config.array.rows
        x_wait = Signal(range(rows))
        first = a_index == 0
        m.d.comb += mv.issue.eq(act_q.r_rdy & a_head.matvec & mv.mode & mv.x_ok & meta_q.w_rdy
                                & (~first | (x_wait == 0)))
        with m.If(mv.issue & first):
            m.d.sync += x_wait.eq(rows - 1)
        with m.Elif(x_wait != 0):
            m.d.sync += x_wait.eq(x_wait - 1)
        tile_meta = Signal(meta_layout)
        m.d.comb += [
            self.tile.addr.eq(a_head.weight_addr + a_index),
            self.tile.en.eq(mv.issue),
            array.stream.issue.eq(mv.issue),
            array.stream.first.eq(first),
            array.stream.x.eq(mv.x),
            array.stream.tile.eq(self.tile.data),
            tile_meta.acc_addr.eq(a_head.acc_addr + a_index),
            tile_meta.accumulate.eq(a_head.accumulate),
            tile_meta.last.eq(last),
            tile_meta.push_prev.eq(a_head.flags.push_prev & last),
            tile_meta.push_next.eq(a_head.flags.push_next & last),
        ]
        with m.If(mv.issue):
            m.d.comb += [meta_q.w_data.eq(tile_meta), meta_q.w_en.eq(1),
                         self.array_busy.eq(1)]
            with m.If(last):
                m.d.sync += [a_index.eq(0), mv.x_asked.eq(0), mv.x_ok.eq(0)]
                m.d.comb += act_q.r_en.eq(1)
            with m.Else():
                m.d.sync += a_index.eq(a_index + 1)
