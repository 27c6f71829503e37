"""DMA tile moves through the memory subsystem, bit-exact against a numpy memory image."""

import dataclasses

import numpy as np
import pytest

from systole.hw.config import MemoryConfig
from systole.hw.dma import DmaError
from systole.sim.memsys_tb import Tile, join_image, run_memsys, split_image

# 256-bit beats: the HBM timing model's smallest controller width (one 32-byte DRAM atom).
CONFIG = MemoryConfig(channels=2, data_width=256, size=1 << 17, interleave=256, buffer_depth=128,
                      max_burst=4, outstanding=4)


def copy_tile(image, src: Tile, dst: Tile):
    """numpy reference: copy src's rows to dst's rows."""
    out = image.copy()
    for r in range(src.rows):
        a, b = src.mem_addr + r * src.stride, dst.mem_addr + r * dst.stride
        out[b:b + dst.row_bytes] = image[a:a + src.row_bytes]
    return out


def random_tile_pair(rng, config):
    beat = config.data_bytes
    rows = int(rng.integers(1, 6))
    row_beats = int(rng.integers(1, 12))
    row_bytes = row_beats * beat
    src_stride = row_bytes + beat * int(rng.integers(0, 20))
    dst_stride = row_bytes + beat * int(rng.integers(0, 20))
    half = config.size // 2
    src_addr = beat * int(rng.integers(0, (half - rows * src_stride) // beat))
    dst_addr = half + beat * int(rng.integers(0, (half - rows * dst_stride) // beat))
    buf = int(rng.integers(0, config.buffer_depth - rows * row_beats + 1))
    return (Tile(src_addr, rows, row_bytes, src_stride, buf),
            Tile(dst_addr, rows, row_bytes, dst_stride, buf, store=True))


def test_image_split_roundtrip():
    image = np.arange(CONFIG.size, dtype=np.uint32).astype(np.uint8)
    assert np.array_equal(join_image(CONFIG, split_image(CONFIG, image)), image)
    # Granule g of the global space is local granule g // 2 of channel g % 2.
    granules = np.repeat(np.arange(CONFIG.size // 256) % 251, 256).astype(np.uint8)
    parts = split_image(CONFIG, granules)
    assert parts[1][0] == 1 and parts[0][256] == 2


def random_moves(rng, config, count=4):
    """A random memory image, ``count`` load/store pairs and the numpy result."""
    image = rng.integers(0, 256, config.size, dtype=np.uint8)
    expected = image.copy()
    tiles = []
    for _ in range(count):
        src, dst = random_tile_pair(rng, config)
        expected = copy_tile(expected, src, dst)
        tiles += [src, dst]
    return image, tiles, expected


@pytest.mark.parametrize("mode,ready,descriptors", [
    ("fixed", 1.0, 8), ("random", 0.6, 8), ("timing", 1.0, 8),
    ("random", 0.6, 2),     # two-slot tags and status FIFO (MemoryConfig.descriptors)
])
def test_random_tile_moves(mode, ready, descriptors):
    config = dataclasses.replace(CONFIG, descriptors=descriptors)
    rng = np.random.default_rng({"fixed": 1, "random": 2, "timing": 3}[mode])
    image, tiles, expected = random_moves(rng, config)
    final, statuses, _ = run_memsys(config, image, tiles, mode=mode, ready_probability=ready)
    assert statuses == [DmaError.NONE] * len(tiles)
    np.testing.assert_array_equal(final, expected)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("mode,ready", [("fixed", 1.0), ("random", 0.6)])
def test_fast_control_moves_the_same_bursts_in_the_same_cycles(mode, ready, channels):
    """``DmaEngine(fast_control=True)`` (the chip's engines with ``registered_control``):
    random tiles, several granules per row, land bit-exact, and every status is taken in the
    same cycle as without it."""
    # Steps of 64 bytes in 256-byte granules; one channel: the unfinished-burst counters'
    # multiplexer.
    config = dataclasses.replace(CONFIG, max_burst=2, channels=channels)
    image, tiles, expected = random_moves(np.random.default_rng(7), config)
    timings = {}
    for fast_control in (False, True):
        cycles: list[int] = []
        final, statuses, total = run_memsys(config, image, tiles, mode=mode,
                                            ready_probability=ready, status_cycles=cycles,
                                            fast_control=fast_control)
        assert statuses == [DmaError.NONE] * len(tiles)
        np.testing.assert_array_equal(final, expected)
        timings[fast_control] = (cycles, total)
    assert timings[True] == timings[False]


def test_bursts_respect_granules_and_length():
    # One long row crossing several 256-byte granules (and so both channels).
    image = np.random.default_rng(4).integers(0, 256, CONFIG.size, dtype=np.uint8)
    src = Tile(32, 1, 40 * 32, 40 * 32, 0)
    dst = Tile(CONFIG.size // 2 + 96, 1, 40 * 32, 40 * 32, 0, store=True)
    final, statuses, _ = run_memsys(CONFIG, image, [src, dst])
    assert statuses == [0, 0]
    np.testing.assert_array_equal(final, copy_tile(image, src, dst))


@pytest.mark.parametrize("tile,error", [
    (Tile(CONFIG.size - 64, 2, 64, 64), DmaError.MEM_RANGE),
    (Tile(CONFIG.size - 64, 1, 96, 96), DmaError.MEM_RANGE),
    (Tile(0, 3, 64, 1 << 16), DmaError.MEM_RANGE),
    (Tile(16, 1, 64, 64), DmaError.ALIGN),
    (Tile(0, 2, 48, 64), DmaError.ALIGN),
    (Tile(0, 2, 64, 64, buf_addr=CONFIG.buffer_depth - 3), DmaError.BUF_RANGE),
    (Tile(CONFIG.size - 64, 2, 64, 64, store=True), DmaError.MEM_RANGE),
    (Tile(0, 2, 64, 80, store=True), DmaError.ALIGN),
])
def test_bad_descriptors_move_nothing(tile, error):
    image = np.random.default_rng(5).integers(0, 256, CONFIG.size, dtype=np.uint8)
    # A good load first fills the buffer, so a wrongly executed store would change memory.
    fill = Tile(0, 16, 256, 256, 0)
    final, statuses, _ = run_memsys(CONFIG, image, [fill, tile])
    assert statuses == [DmaError.NONE, error]
    np.testing.assert_array_equal(final, image)


def test_empty_descriptor_is_ok():
    image = np.zeros(CONFIG.size, np.uint8)
    final, statuses, _ = run_memsys(CONFIG, image, [Tile(0, 0, 64, 64),
                                                  Tile(0, 3, 0, 0, store=True)])
    assert statuses == [0, 0]
    assert not final.any()


@pytest.mark.parametrize("store", [False, True], ids=["load", "store"])
def test_back_to_back_descriptors_keep_channels_busy(store):
    """Eight 4 KiB tiles over two channels with fixed latency: descriptors overlap, so the
    run takes the data time (2 beats per cycle) plus one memory latency, not eight."""
    config = dataclasses.replace(CONFIG, outstanding=8)
    image = np.random.default_rng(6).integers(0, 256, CONFIG.size, dtype=np.uint8)
    tiles = [Tile(i * 4096, 16, 256, 256, 0, store=store) for i in range(8)]
    final, statuses, cycles = run_memsys(config, image, tiles)
    assert statuses == [0] * 8
    beats = 8 * 16 * 256 // CONFIG.data_bytes
    assert beats / CONFIG.channels / cycles > 0.94, cycles
    if not store:
        np.testing.assert_array_equal(final, image)


def test_slave_error_is_reported():
    image = np.zeros(CONFIG.size, np.uint8)
    bad = Tile(0, 4, 256, 1024, 0)
    final, statuses, _ = run_memsys(CONFIG, image, [bad, Tile(8192, 1, 256, 256, 0)],
                                    fault_range=(1024, 1056))
    assert statuses == [DmaError.RESP, DmaError.NONE]


def test_status_waits_for_its_own_bursts():
    """A descriptor on a slow channel followed by one on a fast channel: the second finishes
    first, but the first one's status must still wait for its own data (a store of the
    buffer right after the statuses sees the loaded data)."""
    image = np.random.default_rng(7).integers(0, 256, CONFIG.size, dtype=np.uint8)
    slow = Tile(0, 1, 256, 256, 0)               # granule 0: channel 0
    fast = Tile(256, 1, 256, 256, 8)             # granule 1: channel 1
    out = Tile(CONFIG.size // 2, 1, 256, 256, 0, store=True)
    taken: list[int] = []
    final, statuses, _ = run_memsys(CONFIG, image, [slow, fast, out], latencies=[60, 2],
                                    status_cycles=taken)
    assert statuses == [0, 0, 0]
    assert taken[0] > 60            # not before the slow channel delivered its data
    np.testing.assert_array_equal(final, copy_tile(image, slow, out))


def test_buffer_latency_choices():
    """Store engines read the buffer with a latency of 1 or 2 cycles; loads only write it."""
    from systole.hw.bufread import BufferReader
    from systole.hw.dma import DmaEngine

    assert DmaEngine(CONFIG, store=True, buffer_latency=2).store
    with pytest.raises(ValueError, match="buffer_latency must be one of \\[1\\], not 2"):
        DmaEngine(CONFIG, store=False, buffer_latency=2)
    with pytest.raises(ValueError, match="latency must be one of \\[1, 2\\], not 3"):
        BufferReader(8, 32, 1, latency=3)
