"""On-chip buffers of the chip and their address spaces.

Five ``lib.memory.Memory`` instances: activations, weights, accumulators, post-processing
parameters and the instruction prefetch ring, and on chips that run MATVEC the tile buffer
(:mod:`.tilebuf`). Words are whole vectors (see
:class:`~systole.hw.config.SystoleConfig`): an activation word holds one activation vector, a
weight word one row of a weight tile, an accumulator word one int32 result vector, a parameter
word the bias, multiplier and shift of every column; each is one or more memory beats wide.

The load DMA sees one beat-addressed space: region 0 activations, 1 weights, 2 instructions,
3 post-processing parameters (4 the tile buffer), each ``2**region_bits`` beats. The store DMA
sees the accumulators, beat-addressed. Each DMA channel has its own write (load) or read
(store) port, so channels never wait for each other.
"""

from __future__ import annotations

from dataclasses import replace

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In
from amaranth.utils import ceil_log2, exact_log2

from .bufread import ReadPortSignature, WritePortSignature
from .config import SystoleConfig
from .dma_channel import BufferReadSignature, BufferWriteSignature
from .isa import INSTR_BITS
from .tilebuf import TileBuffer

__all__ = ["BufferMap", "ChipBuffers", "WritePortSignature", "REGION_ACT", "REGION_WEIGHT",
           "REGION_INSTR", "REGION_PARAM", "REGION_TILE"]

REGION_ACT, REGION_WEIGHT, REGION_INSTR, REGION_PARAM, REGION_TILE = 0, 1, 2, 3, 4


class BufferMap:
    """Geometry of the buffers for ``config``: words, beats per word, DMA address spaces."""

    def __init__(self, config: SystoleConfig):
        self.config = config
        mem, buf = config.memory, config.buffers
        self.beat_bits = mem.data_width
        self.instr_word_bits = max(mem.data_width, INSTR_BITS)
        self.instrs_per_word = self.instr_word_bits // INSTR_BITS
        self.depth = {REGION_ACT: buf.act_depth, REGION_WEIGHT: buf.weight_depth,
                      REGION_INSTR: buf.instr_depth // self.instrs_per_word,
                      REGION_PARAM: buf.param_depth}
        self.lanes = {REGION_ACT: config.act_word_beats, REGION_WEIGHT: config.weight_word_beats,
                      REGION_INSTR: self.instr_word_bits // mem.data_width,
                      REGION_PARAM: config.param_word_beats}
        if config.matvec:
            self.depth[REGION_TILE] = buf.tile_depth
            self.lanes[REGION_TILE] = config.tile_word_beats
        self.acc_lanes = config.acc_word_beats
        self.region_bits = max(ceil_log2(self.depth[r] * self.lanes[r]) for r in self.depth)
        #: Width of the region number above ``region_bits``.
        self.region_field = ceil_log2(len(self.depth))
        # DMA engine configs: beat address spaces of the load side (4 or 5 regions) and the
        # store side (accumulators).
        self.load_memory = replace(mem, buffer_depth=(1 << self.region_field) << self.region_bits)
        self.store_memory = replace(mem, buffer_depth=max(2, buf.acc_depth * self.acc_lanes))

    def word_bits(self, region: int) -> int:
        return self.lanes[region] * self.beat_bits

    @property
    def acc_word_bits(self) -> int:
        return self.acc_lanes * self.beat_bits

    def load_beat_addr(self, region: int, word):
        """DMA beat address of ``word`` of ``region`` (Python int or Amaranth value)."""
        return (region << self.region_bits) | (word << exact_log2(self.lanes[region]))


class ChipBuffers(wiring.Component):
    """The chip's five buffers with every port they serve.

    Members
    -------
    load : In(BufferWriteSignature(load_memory)).array(channels)
        Load-DMA write ports, one per channel, in the three-region beat space.
    store : In(BufferReadSignature(store_memory)).array(channels)
        Store-DMA read ports into the accumulators, one per channel, beat-addressed.
    act, weight, instr : In(ReadPortSignature(...))
        Word read ports of the compute unit and the instruction fetch.
    tile : In(ReadPortSignature(...))
        Tile read port of the compute unit (chips that run MATVEC): row ``r`` of the tile
        ``r + 1`` cycles after ``en`` (:class:`~.tilebuf.TileBuffer`).
    acc_read : In(ReadPortSignature(...))
        Accumulator read port of the compute unit's read-modify-write; transparent to
        ``acc_write``, so a word written in one cycle reads back new in the same cycle.
        With ``registered_acc_reads`` its data comes a cycle later and it is not
        transparent (the compute unit forwards its write).
    acc_write : In(WritePortSignature(...))
        Accumulator write port of the compute unit (whole words).
    param : In(ReadPortSignature(...))
        Parameter word read port of the post-processing unit.
    post_acc_read : In(ReadPortSignature(...))
        Accumulator read port of the post-processing unit.
    post_acc_write, post_act_write : In(WritePortSignature(...))
        Whole-word write ports of the post-processing unit into the accumulators and the
        activations.

    Latency
    -------
    Reads: data one cycle after ``en`` (``store`` and ``acc_read``: two with the
    configuration's ``registered_acc_reads``; ``act`` and ``weight``: two with
    ``registered_operand_reads``).
    Writes take effect at the end of the cycle.
    """

    def __init__(self, config: SystoleConfig):
        self.config = config
        self.map = bmap = BufferMap(config)
        buf, channels = config.buffers, config.memory.channels
        acc_addr = ceil_log2(buf.acc_depth)
        tile = {"tile": In(ReadPortSignature(
            max(1, ceil_log2(buf.tile_depth)),
            config.array.rows * config.array.cols * config.array.fmt.weight_width))
        } if config.matvec else {}
        super().__init__({
            **tile,
            "load": In(BufferWriteSignature(bmap.load_memory)).array(channels),
            "store": In(BufferReadSignature(bmap.store_memory)).array(channels),
            "act": In(ReadPortSignature(ceil_log2(buf.act_depth),
                                        bmap.word_bits(REGION_ACT))),
            "weight": In(ReadPortSignature(ceil_log2(buf.weight_depth),
                                           bmap.word_bits(REGION_WEIGHT))),
            "instr": In(ReadPortSignature(max(1, ceil_log2(bmap.depth[REGION_INSTR])),
                                          bmap.word_bits(REGION_INSTR))),
            "acc_read": In(ReadPortSignature(acc_addr, bmap.acc_word_bits)),
            "acc_write": In(WritePortSignature(acc_addr, bmap.acc_word_bits)),
            "param": In(ReadPortSignature(max(1, ceil_log2(buf.param_depth)),
                                          bmap.word_bits(REGION_PARAM))),
            "post_acc_read": In(ReadPortSignature(acc_addr, bmap.acc_word_bits)),
            "post_acc_write": In(WritePortSignature(acc_addr, bmap.acc_word_bits)),
            "post_act_write": In(WritePortSignature(ceil_log2(buf.act_depth),
                                                    bmap.word_bits(REGION_ACT))),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        bmap = self.map
        beat = bmap.beat_bits
        memories = {}
        for region, name in ((REGION_ACT, "act"), (REGION_WEIGHT, "weight"),
                             (REGION_INSTR, "instr"), (REGION_PARAM, "param")):
            memories[region] = m.submodules[f"{name}_mem"] = memory.Memory(
                shape=bmap.word_bits(region), depth=bmap.depth[region], init=[])
        acc = m.submodules.acc_mem = memory.Memory(shape=bmap.acc_word_bits,
                                                   depth=self.config.buffers.acc_depth, init=[])

        if self.config.matvec:
            m.submodules.tiles = tiles = TileBuffer(self.config)
            wiring.connect(m, wiring.flipped(self.tile), tiles.read)

        # Load DMA: every channel writes one beat lane of one word of one region.
        for index, channel in enumerate(self.load):
            region = channel.addr[bmap.region_bits:bmap.region_bits + bmap.region_field]
            local = channel.addr[:bmap.region_bits]
            if self.config.matvec:
                port = tiles.load[index]
                m.d.comb += [port.addr.eq(local), port.data.eq(channel.data),
                             port.en.eq(channel.en & (region == REGION_TILE))]
            for kind, mem in memories.items():
                lanes = bmap.lanes[kind]
                lane_bits = exact_log2(lanes)
                port = mem.write_port(granularity=beat)
                lane = local[:lane_bits] if lane_bits else 0
                m.d.comb += [
                    port.addr.eq(local[lane_bits:]),
                    port.data.eq(Cat(channel.data for _ in range(lanes))),
                    port.en.eq((channel.en & (region == kind)) << lane),
                ]

        # Compute and fetch word reads; with registered_operand_reads the activation and weight
        # words are registered once more: data two cycles after ``en``. The registers behind
        # block RAM reads here have no reset (only valid data is ever used), so that the ECP5
        # build can move them into the block RAMs' output registers (systole.outreg).
        registered = (("act", "weight") if self.config.registered_operand_reads else ())
        for index, name, bus in ((REGION_ACT, "act", self.act),
                                 (REGION_WEIGHT, "weight", self.weight),
                                 (REGION_INSTR, "instr", self.instr),
                                 (REGION_PARAM, "param", self.param)):
            port = memories[index].read_port()
            word = port.data
            if name in registered:
                word = Signal.like(port.data, name=f"{name}_word", reset_less=True)
                m.d.sync += word.eq(port.data)
            m.d.comb += [port.addr.eq(bus.addr), port.en.eq(bus.en), bus.data.eq(word)]

        # Post-processing: whole-word writes into the activations and accumulators, and an
        # accumulator read port of its own.
        for mem, bus in ((memories[REGION_ACT], self.post_act_write),
                         (acc, self.post_acc_write)):
            port = mem.write_port()
            m.d.comb += [port.addr.eq(bus.addr), port.data.eq(bus.data), port.en.eq(bus.en)]
        port = acc.read_port()
        m.d.comb += [port.addr.eq(self.post_acc_read.addr), port.en.eq(self.post_acc_read.en),
                     self.post_acc_read.data.eq(port.data)]

        # Accumulators: compute read-modify-write, store-DMA beat reads.
        write = acc.write_port()
        m.d.comb += [write.addr.eq(self.acc_write.addr), write.data.eq(self.acc_write.data),
                     write.en.eq(self.acc_write.en)]
        if self.config.registered_acc_reads:
            # The word is registered behind the block RAM, with no logic in between, so that
            # the ECP5 build moves the register into the DP16KDs' output registers (their read
            # without them took 5.8 ns of the ULX3S build's 8). Not transparent: yosys'
            # emulation of a transparent port puts its multiplexer between the block RAM and
            # any register behind it. The compute unit forwards its own write instead.
            rmw = acc.read_port()
            read = Signal.like(rmw.data, name="rmw_word", reset_less=True)
            m.d.sync += read.eq(rmw.data)
        else:
            rmw = acc.read_port(transparent_for=(write,))
            read = rmw.data
        m.d.comb += [rmw.addr.eq(self.acc_read.addr), rmw.en.eq(self.acc_read.en),
                     self.acc_read.data.eq(read)]
        # Store-DMA beat reads; with registered_acc_reads the word (and its lane) is
        # registered before the beat multiplexer: data two cycles after ``en``.
        lane_bits = exact_log2(bmap.acc_lanes)
        for channel in self.store:
            port = acc.read_port()
            m.d.comb += [port.addr.eq(channel.addr[lane_bits:]), port.en.eq(channel.en)]
            word = port.data
            if self.config.registered_acc_reads:
                word = Signal.like(port.data, name="store_word", reset_less=True)
                m.d.sync += word.eq(port.data)
            if lane_bits:
                lane = Signal(lane_bits)
                with m.If(channel.en):
                    m.d.sync += lane.eq(channel.addr[:lane_bits])
                if self.config.registered_acc_reads:
                    lane_q = Signal(lane_bits, name="store_lane")
                    m.d.sync += lane_q.eq(lane)
                    lane = lane_q
                m.d.comb += channel.data.eq(word.word_select(lane, beat))
            else:
                m.d.comb += channel.data.eq(word)
        return m
