"""cocotb tests of the generated ``systole_memsys``: DMA tile moves bit-exact against numpy.

Run through pytest (``tests/sim/test_memsys_cocotb.py``). The environment picks the memory
behind the AXI4 ports:

``SYSTOLE_MEMSYS_MODEL``
    ``fixed``, ``random``, ``timing`` (the HBM model) or ``axiram`` (cocotbext-axi).
``SYSTOLE_READY``
    ``ARREADY``/``AWREADY``/``WREADY`` probability per cycle (own models), default 1.
``SYSTOLE_SKIP_IDLE``
    ``0`` keeps the AXI adapters awake every cycle (default ``1``).
``SYSTOLE_ROUNDS``
    Rounds of random tiles (default 3).
``SYSTOLE_TRACE``
    If set, a JSON file receiving the cycle of every status and the ports' read latencies.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np

from ..hw.dma import DmaError
from .memsys_cocotb import MemsysTB, design_memory_config
from .memsys_model import MemsysModel, random_tiles
from .memsys_tb import Tile

SEED = int(os.environ.get("SYSTOLE_SEED", "1"))
MODEL = os.environ.get("SYSTOLE_MEMSYS_MODEL", "fixed")
READY = float(os.environ.get("SYSTOLE_READY", "1"))
SKIP_IDLE = os.environ.get("SYSTOLE_SKIP_IDLE", "1") == "1"
ROUNDS = int(os.environ.get("SYSTOLE_ROUNDS", "3"))


def make_tb(dut, image: np.ndarray) -> MemsysTB:
    return MemsysTB(dut, image, model=MODEL, ready_probability=READY, seed=SEED,
                    skip_idle=SKIP_IDLE)


def assert_memory(tb: MemsysTB, expected: np.ndarray, what: str) -> None:
    got = tb.image()
    wrong = np.flatnonzero(got != expected)
    assert wrong.size == 0, (f"{what}: {wrong.size} wrong bytes, first at {wrong[0]:#x}: "
                             f"got {got[wrong[0]]}, expected {expected[wrong[0]]}")
    assert not tb.errors(), tb.errors()


@cocotb.test()
async def random_tile_moves(dut):
    """Random 2-D tiles loaded into the buffer and stored elsewhere with other strides."""
    rng = np.random.default_rng(SEED)
    size = design_memory_config().size
    image = rng.integers(0, 256, size, dtype=np.uint8)
    tb = make_tb(dut, image)
    await tb.reset()
    model = MemsysModel(tb.config, image)
    for round_ in range(ROUNDS):
        tiles = random_tiles(tb.config, rng, 4)
        expected = [model.run(tile) for tile in tiles]
        statuses = await tb.run(tiles)
        assert statuses == expected, f"round {round_}: statuses {statuses} != {expected}"
        assert_memory(tb, model.memory, f"round {round_} ({len(tiles)} tiles)")
        dut._log.info("round %d: %d tiles ok, cycle %d", round_, len(tiles), tb.cycle)
    if "SYSTOLE_TRACE" in os.environ:
        trace = {"statuses": tb.trace,
                 "read_latencies": [p.stats.read_latencies for p in tb.ports],
                 "wakeups": [a.wakeups for a in tb.adapters]}
        with open(os.environ["SYSTOLE_TRACE"], "w") as file:
            json.dump(trace, file)


@cocotb.test()
async def bad_descriptors_move_nothing(dut):
    """Descriptors outside memory or buffer, or misaligned, are flagged and move nothing."""
    rng = np.random.default_rng(SEED + 1)
    size = design_memory_config().size
    image = rng.integers(0, 256, size, dtype=np.uint8)
    tb = make_tb(dut, image)
    await tb.reset()
    cfg = tb.config
    beat, depth = cfg.data_bytes, cfg.buffer_depth
    model = MemsysModel(cfg, image)
    # A good load fills the buffer first, so a wrongly executed store would change memory.
    fill = Tile(0, depth // 8, 8 * beat, 8 * beat, 0)
    bad = [
        Tile(size - 2 * beat, 2, 2 * beat, 2 * beat, 0, store=True),    # one row past the end
        Tile(size - 2 * beat, 1, 3 * beat, 3 * beat, 0, store=True),
        Tile(0, 3, beat, size // 2, 0, store=True),                     # stride runs out
        Tile(size - beat, 1, 2 * beat, 0, 0),
        Tile(beat // 2, 1, beat, beat, 0, store=True),                  # misaligned address
        Tile(0, 2, beat + beat // 2, 2 * beat, 0, store=True),          # misaligned row
        Tile(0, 2, beat, beat + 8, 0, store=True),                      # misaligned stride
        Tile(0, 2, 4 * beat, 4 * beat, depth - 7, store=True),          # past the buffer
        Tile(0, 2, 4 * beat, 4 * beat, depth - 7),
    ]
    tiles = [fill, *bad, Tile(size // 2, 4, beat, 3 * beat, 0, store=True)]
    expected = [model.run(tile) for tile in tiles]
    assert expected[0] == expected[-1] == DmaError.NONE
    assert all(e != DmaError.NONE for e in expected[1:-1])
    statuses = []
    for tile in tiles:          # one at a time: every status is checked on its own
        statuses += await tb.run([tile])
    assert statuses == expected, f"{statuses} != {expected}"
    assert_memory(tb, model.memory, "bad descriptors")
    changed = np.flatnonzero(model.memory != image)
    assert changed.size and changed.min() >= size // 2, "only the last good store writes"
