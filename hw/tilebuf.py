"""The tile buffer: whole weight tiles for MATVEC, one bank per tile row, read row-skewed.

A tile word is a ``rows`` x ``cols`` weight tile, row ``r`` at byte ``r * tile_row_pitch`` (``cols``
rounded up to a power of two, so that a row never straddles a beat), zero-padded to a
power-of-two number of memory beats. The load DMA writes it beat by beat like
any other buffer word. The compute unit reads one whole tile per cycle: bank ``r`` (tile row
``r``) reads the address ``r`` cycles after bank 0, so row ``r`` reaches the array's row ``r``
with the wavefront of the partial sums and no skew registers are needed for the weights.
"""

from __future__ import annotations

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In
from amaranth.utils import ceil_log2, exact_log2

from .bufread import ReadPortSignature, WritePortSignature
from .config import SystoleConfig

__all__ = ["TileBuffer"]


class TileBuffer(wiring.Component):
    """``rows`` memories of ``tile_depth`` tile rows each.

    Members
    -------
    load : In(WritePortSignature(beat address, beat)).array(channels)
        Beat writes of the load DMA, one port per channel: beat ``addr % beats`` of tile word
        ``addr // beats``.
    read : In(ReadPortSignature(word address, rows * cols * weight_width))
        Tile reads of the compute unit: ``data`` holds the banks' outputs, row ``r`` of the
        tile read at cycle ``t`` at cycle ``t + r + 1``.

    Latency
    -------
    Row ``r``: ``r + 1`` cycles from ``read.en``. One tile per cycle. Writes are registered
    first and take effect at the end of the next cycle: a DMA beat drives one register per
    channel instead of the address and data inputs of every bank (on SKY130 the load DMA's
    address bits then drove some 100 SRAM-macro input buffers: 6.9 ns). Nothing reads a tile
    that soon after its LOAD: the compute unit pops the LOAD's token, reads the vector, then
    the tile (at least four cycles).
    """

    def __init__(self, config: SystoleConfig):
        self.config = config
        arr, beat = config.array, config.memory.data_width
        self.row_bits = arr.cols * arr.fmt.weight_width
        self.pitch_bits = config.tile_row_pitch * 8
        self.beats = config.tile_word_beats
        super().__init__({
            "load": In(WritePortSignature(max(1, ceil_log2(config.buffers.tile_depth
                                                          * self.beats)), beat)
                       ).array(config.memory.channels),
            "read": In(ReadPortSignature(max(1, ceil_log2(config.buffers.tile_depth)),
                                         arr.rows * self.row_bits)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        rows, beat, row_bits = cfg.array.rows, cfg.memory.data_width, self.row_bits
        pitch = self.pitch_bits
        lane_bits = exact_log2(self.beats)
        addr, en = self.read.addr, self.read.en
        staged = []
        for index, channel in enumerate(self.load):
            stage = SimpleNamespace(addr=Signal.like(channel.addr, name=f"write{index}_addr"),
                                    data=Signal.like(channel.data, name=f"write{index}_data"),
                                    en=Signal(name=f"write{index}_en"))
            m.d.sync += stage.en.eq(channel.en)
            with m.If(channel.en):
                m.d.sync += [stage.addr.eq(channel.addr), stage.data.eq(channel.data)]
            staged.append(stage)
        for r in range(rows):
            if r:
                # Bank r reads r cycles after bank 0.
                addr_r = Signal.like(addr, name=f"addr{r}")
                en_r = Signal(name=f"en{r}")
                m.d.sync += [addr_r.eq(addr), en_r.eq(en)]
                addr, en = addr_r, en_r
            # A row of more than a beat is kept whole, padding included (written by lanes).
            bank = m.submodules[f"bank{r}"] = memory.Memory(
                shape=row_bits if pitch <= beat else pitch, depth=cfg.buffers.tile_depth,
                init=[])
            port = bank.read_port()
            m.d.comb += [port.addr.eq(addr), port.en.eq(en),
                         self.read.data[r * row_bits:(r + 1) * row_bits].eq(
                             port.data[:row_bits])]
            for channel in staged:
                lane = channel.addr[:lane_bits] if lane_bits else 0
                word = channel.addr[lane_bits:]
                if pitch <= beat:
                    # Several rows per beat: this row is a slice of one beat.
                    per_beat = beat // pitch
                    offset = (r % per_beat) * pitch
                    write = bank.write_port()
                    m.d.comb += [write.addr.eq(word),
                                 write.data.eq(channel.data[offset:offset + row_bits]),
                                 write.en.eq(channel.en & (lane == r // per_beat))]
                else:
                    # A row spans several beats: write one beat-wide lane of the row.
                    per_row = pitch // beat
                    write = bank.write_port(granularity=beat)
                    sub = channel.addr[:exact_log2(per_row)]
                    m.d.comb += [write.addr.eq(word),
                                 write.data.eq(Cat(channel.data for _ in range(per_row))),
                                 write.en.eq((channel.en & (lane >> exact_log2(per_row) == r))
                                             << sub)]
        return m
