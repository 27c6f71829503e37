"""Per-pseudo-channel DMA units: one AXI4 read or write master each.

A :class:`ReadChannel` turns burst commands into AR requests and writes the returning R beats
into a buffer write port; a :class:`WriteChannel` turns burst commands into AW requests and
streams the burst's beats from a buffer read port onto W, then counts B responses. Each keeps
up to ``outstanding`` bursts in flight and relies on AXI's in-order return for one ID.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import BURST_INCR, RESP_OKAY, AxiSignature
from .bufread import BufferReader
from .config import MemoryConfig

__all__ = ["burst_layout", "BufferWriteSignature", "BufferReadSignature",
           "ReadChannel", "WriteChannel"]


def burst_layout(config: MemoryConfig) -> data.StructLayout:
    """One burst for one channel: local byte address, beats - 1 (AXI ``len``), buffer beat."""
    return data.StructLayout({
        "addr": config.axi.addr_width,
        "len": 4,                                  # beats - 1, at most 15
        "buf_addr": config.buffer_addr_width,
        "tag": config.tag_bits,                    # which descriptor the burst belongs to
    })


class BufferWriteSignature(wiring.Signature):
    """A buffer write port driven by the DMA (matches ``lib.memory`` write ports)."""

    def __init__(self, config: MemoryConfig):
        super().__init__({"addr": Out(config.buffer_addr_width),
                          "data": Out(config.data_width), "en": Out(1)})


class BufferReadSignature(wiring.Signature):
    """A synchronous buffer read port (data one cycle after ``en``), driven by the DMA."""

    def __init__(self, config: MemoryConfig):
        super().__init__({"addr": Out(config.buffer_addr_width),
                          "en": Out(1), "data": In(config.data_width)})


def _meta_layout(config: MemoryConfig) -> data.StructLayout:
    return data.StructLayout({"len": 4, "buf_addr": config.buffer_addr_width,
                              "tag": config.tag_bits})


def _address_beat(config: MemoryConfig, ax, cmd) -> list:
    """Statements loading an AR/AW payload from a burst command (ID 0: in-order returns)."""
    return [ax.addr.eq(cmd.addr), ax.id.eq(0), ax.len.eq(cmd.len),
            ax.size.eq(config.axi.size), ax.burst.eq(BURST_INCR)]


class ReadChannel(wiring.Component):
    """AXI4 read master of one pseudo-channel, writing into a buffer.

    Members
    -------
    cmd : In(stream.Signature(burst_layout(config)))
        Bursts to read. Accepted while fewer than ``outstanding`` bursts are in flight.
    axi : Out(AxiSignature(config.axi))
        Only AR and R are used; AW/W stay idle, B is ignored.
    buf : Out(BufferWriteSignature(config))
        One beat written per R beat (``R`` is always ready).
    idle : Out(1)
        No burst accepted and unfinished.
    done : Out(1)
        Pulses when a burst's last beat is written to the buffer.
    done_tag : Out(config.tag_bits)
        The ``tag`` of that burst.
    error : Out(1)
        An R beat had a non-OKAY response or a misplaced ``last``; sticky until ``clear``.
    clear : In(1)

    Latency
    -------
    A command is on AR one cycle after acceptance; an R beat is written to the buffer in the
    cycle it arrives. Up to ``outstanding`` bursts in flight; one command per cycle.
    """

    def __init__(self, config: MemoryConfig):
        self.config = config
        super().__init__({
            "cmd": In(stream.Signature(burst_layout(config))),
            "axi": Out(AxiSignature(config.axi)),
            "buf": Out(BufferWriteSignature(config)),
            "idle": Out(1),
            "done": Out(1),
            "done_tag": Out(config.tag_bits),
            "error": Out(1),
            "clear": In(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        ar, r = self.axi.ar, self.axi.r
        meta = _meta_layout(cfg)
        m.submodules.inflight = inflight = fifo.SyncFIFOBuffered(width=meta.size,
                                                                 depth=cfg.outstanding)
        head = data.View(meta, inflight.r_data)

        # AR: one register slot, refilled in the cycle it empties.
        slot_free = ~ar.valid | ar.ready
        m.d.comb += self.cmd.ready.eq(slot_free & inflight.w_rdy)
        cmd_accept = self.cmd.valid & self.cmd.ready
        pushed = data.View(meta, inflight.w_data)
        m.d.comb += [
            pushed.len.eq(self.cmd.payload.len),
            pushed.buf_addr.eq(self.cmd.payload.buf_addr),
            pushed.tag.eq(self.cmd.payload.tag),
            inflight.w_en.eq(cmd_accept),
        ]
        with m.If(cmd_accept):
            m.d.sync += [ar.valid.eq(1), *_address_beat(cfg, ar.payload, self.cmd.payload)]
        with m.Elif(ar.ready):
            m.d.sync += ar.valid.eq(0)

        # R: every beat goes straight into the buffer.
        beat = Signal(4)
        last_beat = beat == head.len
        m.d.comb += r.ready.eq(1)
        with m.If(r.valid):
            m.d.comb += [
                self.buf.en.eq(1),
                self.buf.addr.eq(head.buf_addr + beat),
                self.buf.data.eq(r.payload.data),
            ]
            with m.If(last_beat):
                m.d.comb += [inflight.r_en.eq(1), self.done.eq(1), self.done_tag.eq(head.tag)]
                m.d.sync += beat.eq(0)
            with m.Else():
                m.d.sync += beat.eq(beat + 1)
            with m.If((r.payload.resp != RESP_OKAY) | (r.payload.last != last_beat)
                      | ~inflight.r_rdy):
                m.d.sync += self.error.eq(1)
        with m.If(self.clear):
            m.d.sync += self.error.eq(0)

        m.d.comb += [
            self.idle.eq(~inflight.r_rdy & ~ar.valid & (inflight.level == 0)),
            # The write side of this AXI port belongs to the WriteChannel.
            self.axi.aw.valid.eq(0), self.axi.w.valid.eq(0), self.axi.b.ready.eq(1),
        ]
        return m


class WriteChannel(wiring.Component):
    """AXI4 write master of one pseudo-channel, reading from a buffer.

    Members
    -------
    cmd : In(stream.Signature(burst_layout(config)))
        Bursts to write. Accepted while fewer than ``outstanding`` bursts await B.
    axi : Out(AxiSignature(config.axi))
        Only AW, W and B are used; AR stays idle, R is ignored.
    buf : Out(BufferReadSignature(config))
        Beats are read ahead into a small FIFO so that W runs at one beat per cycle under
        any ``WREADY`` pattern.
    idle : Out(1)
        Every accepted burst has had its B response.
    done : Out(1)
        Pulses when a burst's B response arrives.
    done_tag : Out(config.tag_bits)
        The ``tag`` of that burst.
    error : Out(1)
        A B response was not OKAY; sticky until ``clear``.
    clear : In(1)

    Parameters
    ----------
    config : MemoryConfig
    buffer_latency : int
        Cycles from a buffer read's ``en`` to its data: 1, or 2 for a buffer that registers
        its read data (:class:`~.bufread.BufferReader`).
    room_register : bool
        The buffer reader's ``room_register``.

    Latency
    -------
    AW one cycle after acceptance; the first W beat 2 + ``buffer_latency`` cycles after
    acceptance (buffer read, FIFO); W may lead AW, as AXI4 allows. One beat per cycle.
    """

    def __init__(self, config: MemoryConfig, *, buffer_latency: int = 1,
                 room_register: bool = True):
        self.config = config
        self.buffer_latency = buffer_latency
        self.room_register = room_register
        super().__init__({
            "cmd": In(stream.Signature(burst_layout(config))),
            "axi": Out(AxiSignature(config.axi)),
            "buf": Out(BufferReadSignature(config)),
            "idle": Out(1),
            "done": Out(1),
            "done_tag": Out(config.tag_bits),
            "error": Out(1),
            "clear": In(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        aw, w, b = self.axi.aw, self.axi.w, self.axi.b
        meta = _meta_layout(cfg)
        m.submodules.pending = pending = fifo.SyncFIFOBuffered(width=meta.size,
                                                               depth=cfg.outstanding)

        # Bursts awaiting their B response.
        awaiting = Signal(range(cfg.outstanding + 1))
        slot_free = ~aw.valid | aw.ready
        m.d.comb += self.cmd.ready.eq(slot_free & pending.w_rdy & (awaiting != cfg.outstanding))
        cmd_accept = self.cmd.valid & self.cmd.ready
        pushed = data.View(meta, pending.w_data)
        m.d.comb += [
            pushed.len.eq(self.cmd.payload.len),
            pushed.buf_addr.eq(self.cmd.payload.buf_addr),
            pushed.tag.eq(self.cmd.payload.tag),
            pending.w_en.eq(cmd_accept),
        ]
        with m.If(cmd_accept):
            m.d.sync += [aw.valid.eq(1), *_address_beat(cfg, aw.payload, self.cmd.payload)]
        with m.Elif(aw.ready):
            m.d.sync += aw.valid.eq(0)

        b_accept = b.valid & b.ready
        # B responses come in AW order: a FIFO of tags names the burst each one finishes.
        m.submodules.b_tags = b_tags = fifo.SyncFIFOBuffered(width=cfg.tag_bits,
                                                             depth=cfg.outstanding)
        m.d.comb += [
            b_tags.w_data.eq(self.cmd.payload.tag), b_tags.w_en.eq(cmd_accept),
            b_tags.r_en.eq(b_accept),
            b.ready.eq(1), self.done.eq(b_accept), self.done_tag.eq(b_tags.r_data),
        ]
        with m.If(cmd_accept & ~b_accept):
            m.d.sync += awaiting.eq(awaiting + 1)
        with m.Elif(b_accept & ~cmd_accept):
            m.d.sync += awaiting.eq(awaiting - 1)
        with m.If(b_accept & (b.payload.resp != RESP_OKAY)):
            m.d.sync += self.error.eq(1)
        with m.If(self.clear):
            m.d.sync += self.error.eq(0)

        # Read the head burst's beats ahead (BufferReader, as deep as one beat per cycle
        # needs at this read latency), so W runs at one beat per cycle.
        m.submodules.reader = reader = BufferReader(
            cfg.buffer_addr_width, cfg.data_width, 1, latency=self.buffer_latency,
            room_register=self.room_register)
        wiring.connect(m, reader.port, wiring.flipped(self.buf))
        head = data.View(meta, pending.r_data)
        beat = Signal(4)
        last = beat == head.len
        m.d.comb += [
            reader.req.valid.eq(pending.r_rdy),
            reader.req.payload.addr.eq(head.buf_addr + beat),
            reader.req.payload.meta.eq(last),
        ]
        with m.If(reader.req.valid & reader.req.ready):
            with m.If(last):
                m.d.comb += pending.r_en.eq(1)
                m.d.sync += beat.eq(0)
            with m.Else():
                m.d.sync += beat.eq(beat + 1)

        m.d.comb += [
            w.valid.eq(reader.resp.valid),
            w.payload.data.eq(reader.resp.payload.data),
            w.payload.strb.eq(-1),
            w.payload.last.eq(reader.resp.payload.meta),
            reader.resp.ready.eq(w.ready),
            # B follows the burst's last W beat, so no B outstanding means nothing is buffered.
            self.idle.eq((awaiting == 0) & ~aw.valid & ~pending.r_rdy & (pending.level == 0)),
            self.axi.ar.valid.eq(0), self.axi.r.ready.eq(1),
        ]
        return m
