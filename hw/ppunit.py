"""The store unit's post-processing front: executes POSTPROC, forwards STORE and SYNC."""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .buffers import REGION_ACT, REGION_PARAM, BufferMap, WritePortSignature
from .bufread import BufferReader, ReadPortSignature
from .cmds import store_cmd_layout
from .config import SystoleConfig
from .isa import PostProcDst
from .postproc import PostProcessor, channel_params_layout
from .tokens import TokenSignature

__all__ = ["PostProcUnit"]


class PostProcUnit(wiring.Component):
    """Executes POSTPROC commands of the store unit's stream and forwards the others (STORE,
    SYNC) to the store :class:`~systole.hw.dmaunit.DmaUnit`, keeping their order.

    A POSTPROC starts once the DMA unit is idle (every earlier STORE acknowledged by memory)
    and its token is available; it reads the parameter word once, then streams the
    accumulator words ``acc_addr ..`` through a :class:`~systole.hw.postproc.PostProcessor` and
    writes each int8 row (zero-padded to the word) to ``dst_addr ..`` of the activation or
    accumulator buffer. Its token pushes follow the last write. Later commands wait for it.

    Members
    -------
    cmd : In(stream.Signature(store_cmd_layout()))
        The store unit's commands, from the sequencer.
    store_cmd : Out(stream.Signature(store_cmd_layout()))
        STORE and SYNC commands, to the DMA unit.
    store_idle : In(1)
        The DMA unit is idle.
    tokens : Out(TokenSignature())
        The store unit's token port: this unit's operations merged with ``store_tokens``.
    store_tokens : In(TokenSignature())
        The DMA unit's token port.
    param, acc_read : Out(ReadPortSignature(...))
    acc_write, act_write : Out(WritePortSignature(...))
    idle : Out(1)

    Latency
    -------
    A POSTPROC of ``rows`` words takes about ``rows + 10`` cycles from acceptance to its token
    pushes (parameter read, accumulator read, :attr:`PostProcessor.latency`, write), one row
    per cycle.
    """

    def __init__(self, config: SystoleConfig):
        self.config = config
        self.map = bmap = BufferMap(config)
        buf = config.buffers
        acc_addr = ceil_log2(buf.acc_depth)
        super().__init__({
            "cmd": In(stream.Signature(store_cmd_layout())),
            "store_cmd": Out(stream.Signature(store_cmd_layout())),
            "store_idle": In(1),
            "tokens": Out(TokenSignature()),
            "store_tokens": In(TokenSignature()),
            "param": Out(ReadPortSignature(max(1, ceil_log2(buf.param_depth)),
                                           bmap.word_bits(REGION_PARAM))),
            "acc_read": Out(ReadPortSignature(acc_addr, bmap.acc_word_bits)),
            "acc_write": Out(WritePortSignature(acc_addr, bmap.acc_word_bits)),
            "act_write": Out(WritePortSignature(ceil_log2(buf.act_depth),
                                                bmap.word_bits(REGION_ACT))),
            "idle": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cols = self.config.array.cols
        cmd = self.cmd.payload
        acc_addr_width = len(self.acc_read.addr)
        m.submodules.reader = reader = BufferReader(acc_addr_width, self.map.acc_word_bits, 1)
        m.submodules.postproc = post = PostProcessor(cols)
        wiring.connect(m, reader.port, wiring.flipped(self.acc_read))

        # Token port: the DMA unit's operations and ours never coincide (we run alone).
        mine = {name: Signal(name=f"own_{name}") for name in ("pop_prev", "push_prev",
                                                                "push_next")}
        m.d.comb += [
            self.tokens.pop_prev.eq(self.store_tokens.pop_prev | mine["pop_prev"]),
            self.tokens.pop_next.eq(self.store_tokens.pop_next),
            self.tokens.push_prev.eq(self.store_tokens.push_prev | mine["push_prev"]),
            self.tokens.push_next.eq(self.store_tokens.push_next | mine["push_next"]),
            self.store_tokens.prev_ready.eq(self.tokens.prev_ready),
            self.store_tokens.next_ready.eq(self.tokens.next_ready),
        ]

        current = Signal(store_cmd_layout())
        params = Signal(channel_params_layout(cols))
        issued = Signal(16)
        written = Signal(16)

        # Strobes and forwarding are continuous logic of the state (no combinational
        # assignments inside FSM states: X-safe at start under event-driven simulators), and
        # forwarding does not look at the DMA unit's idle, which looks at the forwarded valid.
        waiting, running, done, start = Signal(), Signal(), Signal(), Signal()
        m.d.comb += [
            self.store_cmd.payload.eq(cmd),
            self.store_cmd.valid.eq(self.cmd.valid & ~cmd.postproc & waiting),
            start.eq(waiting & self.cmd.valid & cmd.postproc & self.store_idle
                     & (~cmd.flags.pop_prev | self.tokens.prev_ready)),
            self.cmd.ready.eq((self.store_cmd.valid & self.store_cmd.ready) | start),
            self.idle.eq(waiting & ~self.cmd.valid),
            mine["pop_prev"].eq(start & cmd.flags.pop_prev),
            self.param.addr.eq(cmd.param_addr),
            self.param.en.eq(start),
            reader.req.valid.eq(running & (issued != current.rows)),
            reader.req.payload.addr.eq(current.acc_addr + issued),
            mine["push_prev"].eq(done & current.flags.push_prev),
            mine["push_next"].eq(done & current.flags.push_next),
        ]
        with m.FSM(name="postproc") as fsm:
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [current.eq(cmd), issued.eq(0), written.eq(0)]
                    m.next = "PARAMS"
            with m.State("PARAMS"):
                m.d.sync += params.eq(self.param.data[:len(params.as_value())])
                m.next = "RUN"
            with m.State("RUN"):
                with m.If(reader.req.valid & reader.req.ready):
                    m.d.sync += issued.eq(issued + 1)
                with m.If(post.rows_out.valid):
                    m.d.sync += written.eq(written + 1)
                    with m.If(written + 1 == current.rows):
                        m.next = "DONE"
            with m.State("DONE"):
                m.next = "IDLE"
        m.d.comb += [waiting.eq(fsm.ongoing("IDLE")), running.eq(fsm.ongoing("RUN")),
                     done.eq(fsm.ongoing("DONE"))]

        # Accumulator words through the post-processor; results into the destination buffer.
        acc_row = data.View(data.ArrayLayout(signed(32), cols),
                            reader.resp.payload.data[:32 * cols])
        m.d.comb += [
            # The reader's side information: the last row (for waveforms; keeps it driven).
            reader.req.payload.meta.eq(issued + 1 == current.rows),
            post.rows_in.valid.eq(reader.resp.valid),
            reader.resp.ready.eq(post.rows_in.ready),
            post.rows_in.payload.acc.eq(acc_row),
            post.rows_in.payload.params.channel.eq(params),
            post.rows_in.payload.params.zero_point.eq(current.zero_point),
            post.rows_in.payload.params.act_min.eq(current.act_min),
            post.rows_in.payload.params.act_max.eq(current.act_max),
            post.rows_out.ready.eq(1),
        ]
        row = Cat(post.rows_out.payload[c] for c in range(cols))
        to_act = current.dst == PostProcDst.ACT
        for port, selected in ((self.act_write, to_act), (self.acc_write, ~to_act)):
            m.d.comb += [port.addr.eq(current.dst_addr + written), port.data.eq(row),
                         port.en.eq(post.rows_out.valid & selected)]
        return m
