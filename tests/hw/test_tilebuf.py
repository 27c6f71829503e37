"""The tile buffer alone: beat writes from every DMA channel (in effect a cycle late),
whole-tile reads with row ``r`` ``r + 1`` cycles after the read, for rows narrower and wider
than a memory beat and rows padded to their power-of-two pitch."""

from dataclasses import replace

import numpy as np
import pytest
from amaranth.sim import Simulator

from systole.hw.config import ArrayConfig, BufferConfig, MemoryConfig, SystoleConfig, preset
from systole.hw.tilebuf import TileBuffer

TINY = preset("tiny")     # 4 x 4 tiles of 16 bytes in a 32-byte beat (one padded beat)
# 8 x 16 tiles on 8-byte beats: a 16-byte row spans two beats, a tile 16 beats.
WIDE_ROWS = SystoleConfig(
    name="wide-rows", array=ArrayConfig(rows=8, cols=16),
    memory=MemoryConfig(channels=2, data_width=64, size=1 << 16, interleave=512,
                        buffer_depth=64),
    buffers=BufferConfig(act_depth=64, weight_depth=64, acc_depth=64, tile_depth=8))
# 12 x 12 tiles: rows of 12 bytes at a 16-byte pitch, two per 32-byte beat.
TWELVE = replace(preset("default").with_array(12, 12), name="twelve",
                 buffers=replace(preset("default").buffers, tile_depth=8))
# The default: 16 x 16 tiles, two rows per 32-byte beat, 8 beats per tile, 4 channels.
DEFAULT = replace(preset("default"), buffers=replace(preset("default").buffers, tile_depth=8))


@pytest.mark.parametrize("config", [TINY, WIDE_ROWS, TWELVE, DEFAULT], ids=lambda c: c.name)
def test_tiles_written_by_beats_read_row_skewed(config):
    rows, cols = config.array.rows, config.array.cols
    depth, beat = config.buffers.tile_depth, config.memory.data_bytes
    beats = config.tile_word_beats
    channels = config.memory.channels
    rng = np.random.default_rng(depth)
    tiles = rng.integers(0, 256, (depth, beats * beat), dtype=np.uint8)
    dut = TileBuffer(config)
    seen = {}

    async def bench(ctx):
        # Every beat of every tile, spread over the channels in a shuffled order.
        order = rng.permutation(depth * beats)
        for start in range(0, len(order), channels):
            for channel, index in enumerate(order[start:start + channels]):
                port = dut.load[channel]
                tile, lane = divmod(int(index), beats)
                ctx.set(port.addr, tile * beats + lane)
                ctx.set(port.data, int.from_bytes(tiles[tile, lane * beat:][:beat].tobytes(),
                                                  "little"))
                ctx.set(port.en, 1)
            await ctx.tick()
            for port in dut.load:
                ctx.set(port.en, 0)
        # Writes take effect a cycle late (registered).
        await ctx.tick()
        # One tile read per cycle, in reverse order; sample every cycle.
        reads = list(range(depth))[::-1]
        for cycle in range(depth + rows + 2):
            if cycle < depth:
                ctx.set(dut.read.addr, reads[cycle])
                ctx.set(dut.read.en, 1)
            else:
                ctx.set(dut.read.en, 0)
            await ctx.tick()
            seen[cycle + 1] = ctx.get(dut.read.data)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    pitch = config.tile_row_pitch
    for cycle, tile in enumerate(list(range(depth))[::-1]):
        for r in range(rows):
            data = seen[cycle + r + 1]
            got = (data >> (8 * cols * r)) & ((1 << (8 * cols)) - 1)
            want = int.from_bytes(tiles[tile, r * pitch:][:cols].tobytes(), "little")
            assert got == want, (tile, r)
