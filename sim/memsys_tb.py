"""Drive the memory subsystem (DMA + scratch buffer) in the Amaranth simulator.

A global numpy memory image is split into per-channel images by the address map; each channel
is served by an :class:`~systole.sim.axi_slave.AxiSlavePort` with the chosen timing model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..hw.addrmap import AddressMap
from ..hw.config import MemoryConfig
from ..hw.memsys import MemorySubsystem
from .amaranth_tb import stream_get, stream_put
from .axi_amaranth import simulate_with_memory
from .axi_slave import AxiSlavePort
from .hbm import PRESETS, PseudoChannel

__all__ = ["Tile", "split_image", "join_image", "make_model", "run_memsys"]


@dataclass(frozen=True)
class Tile:
    """A DMA descriptor: ``rows`` rows of ``row_bytes`` at ``mem_addr``, ``stride`` apart,
    packed into the buffer from beat ``buf_addr``."""

    mem_addr: int
    rows: int
    row_bytes: int
    stride: int
    buf_addr: int = 0
    store: bool = False

    def payload(self) -> dict:
        return {"mem_addr": self.mem_addr, "stride": self.stride, "row_bytes": self.row_bytes,
                "rows": self.rows, "buf_addr": self.buf_addr}


def split_image(config: MemoryConfig, image: np.ndarray) -> list[np.ndarray]:
    """Per-channel local images of a global image (granule by granule)."""
    g, n = config.interleave, config.channels
    granules = image.reshape(-1, n, g)
    return [np.ascontiguousarray(granules[:, c, :]).reshape(-1) for c in range(n)]


def join_image(config: MemoryConfig, channels: list[np.ndarray]) -> np.ndarray:
    g = config.interleave
    stacked = np.stack([c.reshape(-1, g) for c in channels], axis=1)
    return stacked.reshape(-1)


def make_model(config: MemoryConfig, mode: str, *, preset: str = "hbm2e", seed: int = 0,
               latency: int = 8) -> PseudoChannel:
    """A timing model whose controller port matches the AXI data width."""
    timing = dataclasses.replace(PRESETS[preset], controller_data_bits=config.data_width)
    return PseudoChannel(timing, mode=mode, fixed_latency=latency, seed=seed)


def channel_faults(config: MemoryConfig, fault_range: tuple[int, int] | None
                   ) -> list[tuple[int, int] | None]:
    """Each channel's local ``fault_range`` for :class:`AxiSlavePort`, from a global byte range
    ``[lo, hi)`` inside one interleave granule (or ``None``: no faults)."""
    faults: list[tuple[int, int] | None] = [None] * config.channels
    if fault_range is not None:
        lo, hi = fault_range
        amap = AddressMap(config)
        if amap.channel(lo) != amap.channel(hi - 1) or hi - lo > config.interleave:
            raise ValueError(f"fault_range {fault_range} must lie inside one interleave granule")
        faults[amap.channel(lo)] = (amap.local(lo), amap.local(hi - 1) + 1)
    return faults


def run_memsys(config: MemoryConfig, image: np.ndarray, tiles: list[Tile], *,
               mode: str = "fixed", ready_probability: float = 1.0, seed: int = 0,
               max_cycles: int = 200_000, fault_range: tuple[int, int] | None = None,
               latencies: list[int] | None = None, status_cycles: list[int] | None = None,
               fast_control: bool = False) -> tuple[np.ndarray, list[int], int]:
    """Run ``tiles`` in order; return the final global image, the status codes and the cycle
    count. Runs of same-direction tiles are queued back to back; a change of direction waits
    for all earlier statuses. ``latencies`` sets each channel's fixed latency;
    ``status_cycles`` (a list) receives the cycle each status was taken. ``fast_control``
    is the engines' (:class:`~systole.hw.dma.DmaEngine`)."""
    dut = MemorySubsystem(config, fast_control=fast_control)
    locals_ = split_image(config, image.copy())
    faults = channel_faults(config, fault_range)
    latencies = latencies or [8] * config.channels
    ports = [AxiSlavePort(local, config.data_bytes,
                          make_model(config, mode, seed=seed + c, latency=latencies[c]),
                          ready_probability=ready_probability, seed=seed + 100 + c,
                          fault_range=faults[c])
             for c, local in enumerate(locals_)]
    statuses: list[int] = []

    async def driver(ctx, cycles):
        # Consecutive tiles of one direction are queued back to back (the engine pipelines
        # them); a change of direction waits for every earlier status, since a store usually
        # reads what a load wrote.
        index = 0
        while index < len(tiles):
            run = [tiles[index]]
            while index + len(run) < len(tiles) and tiles[index + len(run)].store == run[0].store:
                run.append(tiles[index + len(run)])
            index += len(run)
            cmd, status = (dut.store_cmd, dut.store_status) if run[0].store \
                else (dut.load_cmd, dut.load_status)
            results: list[int] = []
            for tile in run:
                await stream_put(ctx, cmd, tile.payload())
                # Statuses of already finished tiles are taken while we keep feeding.
                while ctx.get(status.valid) and len(results) < len(run):
                    results.append(int((await stream_get(ctx, status)).error))
                    if status_cycles is not None:
                        status_cycles.append(cycles[0])
            while len(results) < len(run):
                results.append(int((await stream_get(ctx, status)).error))
                if status_cycles is not None:
                    status_cycles.append(cycles[0])
            statuses.extend(results)
        # Let the last write responses settle before reading the image.
        for _ in range(4):
            await ctx.tick()

    total = simulate_with_memory(dut, ports, driver, max_cycles=max_cycles)
    return join_image(config, [p.image for p in ports]), statuses, total
