"""cocotb bench of the generated ``systole_memsys`` against the HBM timing model.

Runs one benchmark job (JSON in ``SYSTOLE_MEMBENCH_JOB``; see :mod:`systole.sim.membench`) and
writes its measurements as JSON to ``SYSTOLE_MEMBENCH_OUT``. Started by
:func:`systole.sim.membench.run_job`, never by pytest directly.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.triggers import RisingEdge

from ..hw.dma import DmaError
from .membench_workloads import workload
from .memsys_cocotb import MemsysTB, channel_model, design_memory_config
from .memsys_tb import Tile


async def _feed(tb: MemsysTB, tiles: list[Tile], store: bool) -> None:
    source = tb.store_cmd if store else tb.load_cmd
    for tile in tiles:
        await source.send(tile.payload())


async def _wait(tb: MemsysTB, count: int, store: bool, timeout: int) -> None:
    monitor = tb.store_status if store else tb.load_status
    await monitor.wait_for(count, timeout=timeout)


@cocotb.test()
async def membench(dut):
    """One job: feed the workload's descriptors, time them, collect port and model stats."""
    job = json.loads(os.environ["SYSTOLE_MEMBENCH_JOB"])
    config = design_memory_config()
    models = [channel_model(config, "timing", preset=job["preset"], seed=job["seed"] + c,
                            refresh=job["refresh"]) for c in range(config.channels)]
    tb = MemsysTB(dut, np.zeros(config.size, np.uint8), models=models)
    await tb.reset()
    work = workload(job["kind"], config, job["bytes"], granule=job["granule"],
                    seed=job["seed"])
    timeout = 50 * work.bytes // config.data_bytes + 10_000
    wall = time.perf_counter()
    start = tb.cycle
    if work.serial:
        for tile in work.loads:
            await tb.run([tile], timeout=timeout)
    else:
        feeders = [cocotb.start_soon(_feed(tb, tiles, store))
                   for store, tiles in ((False, work.loads), (True, work.stores)) if tiles]
        await _wait(tb, len(work.loads), False, timeout)
        await _wait(tb, len(work.stores), True, timeout)
        for feeder in feeders:
            await feeder
    ends = [items[-1][0] for items in (tb.load_status.items, tb.store_status.items) if items]
    cycles = max(ends) - start
    await RisingEdge(dut.clk)
    statuses = [item["error"] for monitor in (tb.load_status, tb.store_status)
                for _, item in monitor.items]
    assert all(s == DmaError.NONE for s in statuses), statuses
    assert not tb.errors(), tb.errors()

    stats = [port.stats for port in tb.ports]
    latencies = np.array([lat for s in stats for lat in s.read_latencies], dtype=np.int64)
    first = min(s.first_cycle for s in stats if s.first_cycle is not None)
    last = max(s.last_cycle for s in stats)
    model_stats: dict[str, int] = {}
    for port in tb.ports:
        for key, value in port.model.stats.as_dict().items():
            model_stats[key] = model_stats.get(key, 0) + value
    result = {
        **job,
        "channels": config.channels,
        "data_bytes": config.data_bytes,
        "moved_bytes": work.bytes,
        "descriptors": len(work.loads) + len(work.stores),
        "cycles": cycles,
        "port_cycles": last - first + 1,
        "read_bytes": sum(s.read_bytes for s in stats),
        "write_bytes": sum(s.write_bytes for s in stats),
        "read_latency_cycles": {
            "count": int(latencies.size),
            "p50": float(np.percentile(latencies, 50)) if latencies.size else None,
            "p99": float(np.percentile(latencies, 99)) if latencies.size else None,
            "max": int(latencies.max()) if latencies.size else None,
        },
        "model": model_stats,
        "wakeups": sum(a.wakeups for a in tb.adapters),
        "wall_seconds": time.perf_counter() - wall,
    }
    with open(os.environ["SYSTOLE_MEMBENCH_OUT"], "w") as file:
        json.dump(result, file)
