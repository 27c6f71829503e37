"""DMA engine: moves 2-D tiles between HBM-style memory and an on-chip buffer.

A descriptor names a tile in memory (``mem_addr``, ``rows`` rows of ``row_bytes`` bytes,
``stride`` bytes apart) and its place in the buffer (``buf_addr``, rows packed back to back,
one beat per buffer word). The engine checks the descriptor, splits each row into AXI bursts
that never cross an interleave granule (so never a 4 KiB boundary) and are at most
``max_burst`` beats, sends each burst to the pseudo-channel that owns its address, and reports
one status per descriptor when every beat has arrived (load) or been acknowledged (store).

A descriptor that is misaligned or reaches outside the memory or the buffer is rejected with an
error code and moves no data.
"""

from __future__ import annotations

import enum

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from .addrmap import AddressMap
from .carry import greater_on_carry
from .config import MemoryConfig
from .dma_channel import (
    BufferReadSignature,
    BufferWriteSignature,
    ReadChannel,
    WriteChannel,
    burst_layout,
)
from .params import check_choice

__all__ = ["DmaError", "descriptor_layout", "status_layout", "DmaEngine", "row_bytes_width",
           "ROWS_WIDTH"]

#: Width of a descriptor's ``rows`` (the ISA's ``rows`` field).
ROWS_WIDTH = 16


def row_bytes_width(config: MemoryConfig) -> int:
    """Width of a descriptor's ``row_bytes``: enough for the longest row that fits both the
    memory (``size`` bytes) and the buffer (``buffer_depth`` beats), so every valid
    descriptor can be expressed as one row (a contiguous tile of the whole buffer is one long
    row, split into full-length bursts)."""
    return ceil_log2(min(config.size, config.buffer_depth * config.data_bytes) + 1)


class DmaError(enum.IntEnum):
    """Status codes of a DMA descriptor."""

    NONE = 0
    ALIGN = 1        # mem_addr, stride or row_bytes not a multiple of the beat size
    MEM_RANGE = 2    # the tile reaches past the end of memory
    BUF_RANGE = 3    # the tile reaches past the end of the buffer
    RESP = 4         # a channel returned a non-OKAY response (data may be partly moved)


def descriptor_layout(config: MemoryConfig) -> data.StructLayout:
    return data.StructLayout({
        "mem_addr": config.addr_width,
        "stride": config.addr_width,
        "row_bytes": row_bytes_width(config),
        "rows": ROWS_WIDTH,
        "buf_addr": config.buffer_addr_width,
    })


def status_layout() -> data.StructLayout:
    return data.StructLayout({"error": 3})


class DmaEngine(wiring.Component):
    """One direction of the DMA over all pseudo-channels.

    Parameters
    ----------
    config : MemoryConfig
    store : bool
        ``False``: memory to buffer (load, AXI reads). ``True``: buffer to memory (store, AXI
        writes).
    range_checks : bool
        Check that the tile lies inside the memory and the buffer (``MEM_RANGE``,
        ``BUF_RANGE``; two multiplies). A user that only issues descriptors it has checked
        itself (the chip: the sequencer's checks) leaves them out; the engine then moves
        whatever it is given, wrapping addresses.
    buffer_latency : int
        Store engines: cycles from a buffer read to its data, 1 or 2 (a buffer that registers
        its read data). Loads write the buffer and take only 1.
    room_register : bool
        Store engines: the buffer readers' ``room_register``
        (:class:`~.bufread.BufferReader`).
    fast_control : bool
        Shorter control paths for a fast clock, with the same bursts and statuses in the same
        cycles: the splitter keeps its next step (the bytes to the granule boundary, at most
        a burst) in a register, updated with the bytes to the boundary, instead of deriving
        it from them in the cycle of the burst (the compare and multiplexer leave the burst's
        path into the address, the bytes left and the length), and the next row's address
        and its bytes to the boundary too (the stride's adder and the subtraction leave the
        path of a row's last burst); with one channel, each
        descriptor's count of unfinished bursts selects between its value plus and minus one
        instead of adding the start and completion pulses. ``False`` (default) saves logic
        cells (the iCEBreaker).

    Members
    -------
    cmd : In(stream.Signature(descriptor_layout(config)))
        Descriptors; the next is accepted as soon as the previous one's last burst is issued
        (up to ``config.descriptors`` descriptors awaiting their status).
    status : Out(stream.Signature(status_layout()))
        One per descriptor, in order: a :class:`DmaError` code. ``RESP`` is reported on the
        first status after a channel saw a non-OKAY response.
    axi : Out(AxiSignature(config.axi)).array(config.channels)
        Read (load) or write (store) side of each pseudo-channel's AXI4 port.
    buf : Out(BufferWriteSignature(config)).array(channels) for loads,
        Out(BufferReadSignature(config)).array(channels) for stores.

    Latency
    -------
    Descriptor check: 3 cycles. Then one burst per cycle while the owning channel has room
    for it; the status follows the descriptor's last beat (load) or B response (store) by two
    cycles. Memory latency is hidden by ``config.outstanding`` bursts per channel and by
    splitting the next descriptor while the previous one completes.
    """

    def __init__(self, config: MemoryConfig, *, store: bool, range_checks: bool = True,
                 buffer_latency: int = 1, room_register: bool = True,
                 fast_control: bool = False):
        check_choice("buffer_latency", buffer_latency, (1, 2) if store else (1,))
        self.config = config
        self.store = store
        self.range_checks = range_checks
        self.fast_control = fast_control
        buf_sig = BufferReadSignature(config) if store else BufferWriteSignature(config)
        self._channels = [WriteChannel(config, buffer_latency=buffer_latency,
                                       room_register=room_register) if store
                          else ReadChannel(config) for _ in range(config.channels)]
        super().__init__({
            "cmd": In(stream.Signature(descriptor_layout(config))),
            "status": Out(stream.Signature(status_layout())),
            "axi": Out(self._channels[0].axi.signature).array(config.channels),
            "buf": Out(buf_sig).array(config.channels),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        amap = AddressMap(cfg)
        beat_bits = exact_log2(cfg.data_bytes)

        for index, channel in enumerate(self._channels):
            m.submodules[f"channel{index}"] = channel
            wiring.connect(m, wiring.flipped(self.axi[index]), channel.axi)
            wiring.connect(m, wiring.flipped(self.buf[index]), channel.buf)

        row_width = row_bytes_width(cfg)
        desc = Signal(descriptor_layout(cfg))
        extent = Signal(max(cfg.addr_width, row_width) + ROWS_WIDTH + 1)  # mem bytes spanned
        buf_extent = Signal(max(cfg.buffer_addr_width, ROWS_WIDTH + row_width) + 1)  # beats

        # Splitter state. The next burst's address, the bytes left in its row and the bytes
        # to the next granule boundary are kept in registers (not derived from a column
        # count). A burst that does not end its row is ``step`` bytes, from registers alone:
        # the next state (address, bytes left, buffer pointer, burst length) is computed for
        # both outcomes side by side, and the one compare that decides whether the burst ends
        # the row (``remaining <= to_granule``) only selects between them.
        row_addr = Signal(cfg.addr_width)     # start of the current row
        addr = Signal(cfg.addr_width)         # next burst: row_addr + bytes done in the row
        remaining = Signal(row_width)         # bytes of the row still to issue
        rows_left = Signal(ROWS_WIDTH)
        buf_ptr = Signal(cfg.buffer_addr_width)
        to_granule = Signal(range(cfg.interleave + 1))   # interleave - addr % interleave

        max_bytes = cfg.max_burst * cfg.data_bytes
        granule_bits = exact_log2(cfg.interleave)
        short_granule = to_granule <= max_bytes          # a burst reaches the boundary
        step = Signal(range(max(cfg.interleave, max_bytes) + 1))

        def clamp(bytes_):
            """The step for ``bytes_`` to the granule boundary."""
            return Mux(bytes_ <= max_bytes, bytes_, max_bytes)

        def to_boundary(value):
            """Statements loading ``to_granule`` (and with ``fast_control`` the step)."""
            return [to_granule.eq(value), *([step.eq(clamp(value))] if self.fast_control
                                            else [])]

        if self.fast_control:
            row_end = ~greater_on_carry(remaining, step)    # the row's last burst
            next_row = Signal(cfg.addr_width)               # row_addr + desc.stride
            next_gap = Signal.like(to_granule)              # its bytes to the boundary

            def load_next_row(value):
                return [next_row.eq(value),
                        next_gap.eq(cfg.interleave - value[:granule_bits])]
        else:
            m.d.comb += step.eq(Mux(short_granule, to_granule, max_bytes))
            row_end = (remaining <= to_granule) & (remaining <= max_bytes)

        burst = Signal(burst_layout(cfg))
        m.d.comb += [
            burst.addr.eq(amap.local_of(addr)),
            burst.len.eq(Mux(row_end, (remaining >> beat_bits) - 1, (step >> beat_bits) - 1)),
            burst.buf_addr.eq(buf_ptr),
        ]
        target = amap.channel_of(addr)
        channel_ready = Array(ch.cmd.ready for ch in self._channels)[target]
        for channel in self._channels:
            m.d.comb += channel.cmd.payload.eq(burst)

        # Completion tracking. Descriptors are split back to back: the next one starts while
        # the previous one's bursts are still in flight, and channels finish bursts in any
        # order. Each descriptor in flight owns a tag (its slot among MARKERS); every burst
        # carries it, and a per-tag counter of unfinished bursts tells when the descriptor is
        # complete. Statuses leave in descriptor order (the marker FIFO).
        slots = cfg.descriptors
        count_width = ceil_log2(cfg.channels * cfg.outstanding + 2) + 1
        unfinished = [Signal(count_width, name=f"unfinished{s}") for s in range(slots)]
        split_tag = Signal(cfg.tag_bits)      # tag of the descriptor being split
        head_tag = Signal(cfg.tag_bits)       # tag of the oldest descriptor awaiting its status
        marker_layout = data.StructLayout({"error": 3})
        m.submodules.markers = markers = fifo.SyncFIFOBuffered(width=marker_layout.size,
                                                               depth=slots)
        marker_in = data.View(marker_layout, markers.w_data)
        marker = data.View(marker_layout, markers.r_data)
        m.d.comb += burst.tag.eq(split_tag)
        issue = Signal()
        for tag, count in enumerate(unfinished):
            started = issue & (split_tag == tag)
            if self.fast_control and len(self._channels) == 1:
                # count + 1 and count - 1 side by side, selected by the late pulses (an
                # adder would carry them through its whole chain).
                finished = self._channels[0].done & (self._channels[0].done_tag == tag)
                with m.If(started & ~finished):
                    m.d.sync += count.eq(count + 1)
                with m.Elif(finished & ~started):
                    m.d.sync += count.eq(count - 1)
            else:
                finished = sum((ch.done & (ch.done_tag == tag)) for ch in self._channels)
                m.d.sync += count.eq(count + started - finished)
        # An explicit sum of products rather than an Array index: it stays a continuous
        # assignment in the Verilog, which Icarus evaluates from time 0.
        head_done = Cat((head_tag == tag) & (count == 0)
                        for tag, count in enumerate(unfinished)).any()
        any_error = Cat(ch.error for ch in self._channels).any()
        with m.If(markers.r_rdy & head_done):
            m.d.comb += [
                self.status.valid.eq(1),
                self.status.payload.error.eq(
                    Mux(any_error & (marker.error == DmaError.NONE), DmaError.RESP,
                        marker.error)),
            ]
            with m.If(self.status.ready):
                m.d.comb += markers.r_en.eq(1)
                m.d.sync += head_tag.eq(head_tag + 1)
                for channel in self._channels:
                    m.d.comb += channel.clear.eq(1)

        def finish(code):
            """The descriptor's marker (all its bursts issued): take the next tag."""
            m.d.sync += split_tag.eq(split_tag + 1)
            return [markers.w_en.eq(1), marker_in.error.eq(code)]

        beat_mask = cfg.data_bytes - 1
        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.cmd.ready.eq(markers.w_rdy)
                # The splitter starts from the descriptor's fields; the checks read them there,
                # so ``desc`` keeps only what the split and the range checks need. They load in
                # every IDLE cycle, whether a descriptor is taken or not: the handshake, which
                # comes through the arbiter from the sequencer, only decides the next state,
                # and does not reach the enables of some 150 flip-flops.
                payload = self.cmd.payload
                m.d.sync += [
                    desc.eq(payload), row_addr.eq(payload.mem_addr),
                    addr.eq(payload.mem_addr), remaining.eq(payload.row_bytes),
                    rows_left.eq(payload.rows), buf_ptr.eq(payload.buf_addr),
                ]
                with m.If(self.cmd.valid & markers.w_rdy):
                    m.next = "CHECK-1"
            with m.State("CHECK-1"):
                m.d.sync += to_boundary(cfg.interleave - addr[:granule_bits])
                if self.fast_control:
                    m.d.sync += load_next_row(row_addr + desc.stride)
                if self.range_checks:
                    rows_minus_1 = Mux(desc.rows == 0, 0, desc.rows - 1)
                    m.d.sync += [
                        extent.eq(desc.mem_addr + rows_minus_1 * desc.stride + desc.row_bytes),
                        buf_extent.eq(desc.buf_addr
                                      + desc.rows * (desc.row_bytes >> beat_bits)),
                    ]
                m.next = "CHECK-2"
            with m.State("CHECK-2"):
                misaligned = ((row_addr | desc.stride | desc.row_bytes) & beat_mask) != 0
                empty = (rows_left == 0) | (desc.row_bytes == 0)
                m.next = "IDLE"
                with m.If(misaligned):
                    m.d.comb += finish(DmaError.ALIGN)
                with m.Elif(empty):
                    m.d.comb += finish(DmaError.NONE)
                with m.Elif(extent > cfg.size if self.range_checks else False):
                    m.d.comb += finish(DmaError.MEM_RANGE)
                with m.Elif(buf_extent > cfg.buffer_depth if self.range_checks else False):
                    m.d.comb += finish(DmaError.BUF_RANGE)
                with m.Else():
                    m.next = "SPLIT"
            with m.State("SPLIT"):
                for index, channel in enumerate(self._channels):
                    m.d.comb += channel.cmd.valid.eq(target == index)
                with m.If(channel_ready):
                    with m.If(row_end):
                        if self.fast_control:
                            m.d.sync += load_next_row(next_row + desc.stride)
                            gap = next_gap
                        else:
                            next_row = row_addr + desc.stride
                            gap = cfg.interleave - next_row[:granule_bits]
                        m.d.sync += [row_addr.eq(next_row), addr.eq(next_row),
                                     remaining.eq(desc.row_bytes), rows_left.eq(rows_left - 1),
                                     *to_boundary(gap),
                                     buf_ptr.eq(buf_ptr + (remaining >> beat_bits))]
                        with m.If(rows_left == 1):
                            # The FSM only accepts a descriptor when a marker slot is free.
                            m.d.comb += finish(DmaError.NONE)
                            m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [addr.eq(addr + step), remaining.eq(remaining - step),
                                     buf_ptr.eq(buf_ptr + (step >> beat_bits)),
                                     # A step to the boundary starts a whole granule.
                                     *to_boundary(Mux(short_granule, cfg.interleave,
                                                      to_granule - max_bytes))]
        # Outside the FSM's case statement, so the Verilog computes it continuously from time 0
        # (Icarus does not run always @* blocks before their inputs change, and the burst
        # counters would latch the X).
        m.d.comb += issue.eq(fsm.ongoing("SPLIT") & channel_ready)
        return m

