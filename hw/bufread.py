"""Read a synchronous memory port at one word per cycle under downstream backpressure."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import check_choice

__all__ = ["ReadPortSignature", "WritePortSignature", "BufferReader"]


class ReadPortSignature(wiring.Signature):
    """A synchronous read port as seen by its user: ``data`` is valid the cycle after ``en``."""

    def __init__(self, addr_width: int, data_width: int):
        super().__init__({"addr": Out(addr_width), "en": Out(1), "data": In(data_width)})


class WritePortSignature(wiring.Signature):
    """A whole-word write port as seen by its user; the write takes effect at the clock edge."""

    def __init__(self, addr_width: int, data_width: int):
        super().__init__({"addr": Out(addr_width), "data": Out(data_width), "en": Out(1)})


class BufferReader(wiring.Component):
    """Turns a stream of read requests into a stream of words, with read-ahead.

    A request carries an address and ``meta`` that travels with the word. Reads are issued only
    while the output FIFO has room for every word in flight, so the response stream can stall
    at any time without losing data, and runs at one word per cycle when it does not.

    Parameters
    ----------
    addr_width, data_width : int
        Read port geometry.
    meta : Layout or int
        Shape of the side information carried from request to response.
    depth : int or None
        Words of read-ahead, counting the reads in flight and the FIFO's output register.
        ``None`` (default): ``3 + latency``, the least that keeps one word per cycle.
    latency : int
        Cycles from a read's ``en`` to its data on ``port.data``: 1, or 2 for a port whose
        data is registered once more.
    room_register : bool
        Keep the room left for reads in a register of its own (default), so that
        ``req.ready`` is one compare of a register; ``False`` compares the FIFO's level plus
        the reads in flight with ``depth`` (fewer logic cells). Same behaviour.

    Members
    -------
    req : In(stream.Signature({"addr", "meta"}))
    resp : Out(stream.Signature({"data", "meta"}))
    port : Out(ReadPortSignature(addr_width, data_width))

    Latency
    -------
    A request accepted in cycle t is at the FIFO output in cycle t + 2 + ``latency`` at the
    earliest (the read, ``latency`` cycles to its data, a cycle into the FIFO and one into its
    output register). Initiation interval 1.
    """

    def __init__(self, addr_width: int, data_width: int, meta, *, depth: int | None = None,
                 latency: int = 1, room_register: bool = True):
        check_choice("latency", latency, (1, 2))
        self.room_register = room_register
        self.depth = 3 + latency if depth is None else depth
        self.latency = latency
        self.req_layout = data.StructLayout({"addr": addr_width, "meta": meta})
        self.resp_layout = data.StructLayout({"data": data_width, "meta": meta})
        super().__init__({
            "req": In(stream.Signature(self.req_layout)),
            "resp": Out(stream.Signature(self.resp_layout)),
            "port": Out(ReadPortSignature(addr_width, data_width)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.fifo = words = fifo.SyncFIFOBuffered(width=self.resp_layout.size,
                                                          depth=self.depth)
        # One stage per cycle of read latency: whether a read is in it, and its meta.
        suffixes = [str(i) for i in range(self.latency - 1)] + [""]
        stages = [(Signal(name=f"in_flight{suffix}"),
                   Signal.like(self.req.payload.meta, name=f"in_flight_meta{suffix}"))
                  for suffix in suffixes]
        # Words the FIFO can still take beyond those in it and in flight (with
        # ``room_register``: a register that holds depth - level - reads at all times).
        if self.room_register:
            accept = Signal()
            room = Signal(range(self.depth + 1), init=self.depth)
            m.d.sync += room.eq(room - accept + (self.resp.valid & self.resp.ready))
            ready = room != 0
        else:
            reads = stages[0][0]
            for valid, _ in stages[1:]:
                reads = reads + valid
            accept = Signal()
            ready = words.level + reads < self.depth
        m.d.comb += [
            self.req.ready.eq(ready),
            accept.eq(self.req.valid & self.req.ready),
            self.port.addr.eq(self.req.payload.addr),
            self.port.en.eq(accept),
        ]
        source = (accept, self.req.payload.meta)
        for valid, meta in stages:
            m.d.sync += [valid.eq(source[0]), meta.eq(source[1])]
            source = (valid, meta)
        in_flight, in_flight_meta = source
        word_in = data.View(self.resp_layout, words.w_data)
        m.d.comb += [
            word_in.data.eq(self.port.data),
            word_in.meta.eq(in_flight_meta),
            words.w_en.eq(in_flight),
            self.resp.valid.eq(words.r_rdy),
            self.resp.payload.eq(words.r_data),
            words.r_en.eq(self.resp.ready),
        ]
        return m
