"""cocotb harness of the ``systole_memsys`` top: clock, reset, descriptor streams, memories.

In the style of cocotbext-axi testbenches: :class:`MemsysTB` owns the clock, the reset, the
descriptor sources and status monitors (bound by name from the generated JSON port list) and one
memory model per AXI4 port: either the project's :class:`~systole.sim.axi_slave.AxiSlavePort`
(fixed latency, random latency with random ``READY`` backpressure, or the HBM timing model),
served by :mod:`systole.sim.axi_cocotb`, or cocotbext-axi's ``AxiRam`` (a third-party model).
Memory is one global numpy image, split over the channels by the address map.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from ..hw.config import MemoryConfig
from .axi_cocotb import AxiCocotbAdapter, serve_axi
from .axi_slave import AxiSlavePort
from .cocotb_tb import StreamMonitor, StreamSource, load_design
from .hbm import PRESETS, PseudoChannel
from .memsys_tb import Tile, join_image, split_image

__all__ = ["MemsysTB", "MODELS", "CLOCK_NS", "channel_model", "design_memory_config"]

CLOCK_NS = 10
#: Memory models a port can be served by.
MODELS = ("fixed", "random", "timing", "axiram")


def design_memory_config() -> MemoryConfig:
    """The memory configuration of the design under test (from ``SYSTOLE_DESIGN``)."""
    return MemoryConfig(**load_design()["config"]["memory"])


def channel_model(config: MemoryConfig, mode: str, *, preset: str = "hbm2e", seed: int = 0,
                  refresh: str | bool | None = None, latency: int = 8) -> PseudoChannel:
    """An HBM pseudo-channel model (``mode`` fixed / random / timing) whose controller port is
    ``config.data_width`` wide; ``refresh`` as in :class:`~systole.sim.hbm.PseudoChannel`
    (``None``: the preset's default)."""
    timing = dataclasses.replace(PRESETS[preset], controller_data_bits=config.data_width)
    kwargs = {} if refresh is None else {"refresh": refresh}
    return PseudoChannel(timing, mode=mode, fixed_latency=latency, seed=seed, **kwargs)


class MemsysTB:
    """Testbench of the memory subsystem top.

    Parameters
    ----------
    dut : cocotb handle
        The ``systole_memsys`` top; its JSON description is found through ``SYSTOLE_DESIGN``.
    image : numpy.ndarray
        Initial global memory image (``uint8``, ``config.size`` bytes); copied.
    model : str
        One of :data:`MODELS`: ``fixed``/``random``/``timing`` serve every port from an
        :class:`AxiSlavePort` with that :class:`PseudoChannel` mode; ``axiram`` uses
        cocotbext-axi's ``AxiRam``.
    ready_probability : float
        ``ARREADY``/``AWREADY``/``WREADY`` probability per cycle (own models only).
    seed : int
        Seed of the random latency and backpressure.
    skip_idle : bool
        Let the AXI adapters sleep through idle cycles.
    models : list of PseudoChannel, optional
        Explicit per-port timing models (benchmarks); overrides ``model`` unless ``axiram``.

    Members
    -------
    config : MemoryConfig
        From the design description.
    ports : list of AxiSlavePort
        The Python cores (empty with ``axiram``).
    adapters : list of AxiCocotbAdapter
    rams : list of cocotbext.axi.AxiRam
        The third-party models (``axiram`` only).
    """

    def __init__(self, dut, image: np.ndarray, *, model: str = "fixed",
                 ready_probability: float = 1.0, seed: int = 0, skip_idle: bool = True,
                 models: list[PseudoChannel] | None = None):
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, not {model!r}")
        self.dut = dut
        self.design = load_design()
        self.config = MemoryConfig(**self.design["config"]["memory"])
        cfg = self.config
        if image.dtype != np.uint8 or image.shape != (cfg.size,):
            raise ValueError(f"image must be {cfg.size} uint8 bytes, not {image.dtype} "
                             f"{image.shape}")
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        dut.rst.value = 1
        self.load_cmd = StreamSource(dut, self.design, "load_cmd")
        self.store_cmd = StreamSource(dut, self.design, "store_cmd")
        self.load_status = StreamMonitor(dut, self.design, "load_status")
        self.store_status = StreamMonitor(dut, self.design, "store_status")
        #: (direction, cycle) of every status, for cycle-exact comparisons between runs.
        self.trace: list[tuple[str, int]] = []
        self.ports: list[AxiSlavePort] = []
        self.adapters: list[AxiCocotbAdapter] = []
        self.rams: list = []
        locals_ = split_image(cfg, image.copy())
        if model == "axiram":
            # cocotbext-axi 0.1.28 uses APIs cocotb 2 deprecates (Immediate writes, task.kill);
            # they work, so keep the log readable.
            warnings.filterwarnings("ignore", category=DeprecationWarning, module="cocotbext")
            from cocotbext.axi import AxiBus, AxiRam

            for index, local in enumerate(locals_):
                logging.getLogger(f"cocotb.{dut._name}.m_axi{index}").setLevel(logging.WARNING)
                ram = AxiRam(AxiBus.from_prefix(dut, f"m_axi{index}"), dut.clk, dut.rst,
                             size=len(local))
                ram.write(0, local.tobytes())
                self.rams.append(ram)
            return
        if models is None:
            models = [channel_model(cfg, model, seed=seed + c) for c in range(cfg.channels)]
        for index, (local, timing) in enumerate(zip(locals_, models, strict=True)):
            port = AxiSlavePort(local, cfg.data_bytes, timing,
                                ready_probability=ready_probability, seed=seed + 100 + index)
            self.ports.append(port)
            self.adapters.append(serve_axi(port, dut, f"m_axi{index}", dut.clk,
                                           period_ns=CLOCK_NS, skip_idle=skip_idle))

    async def reset(self) -> None:
        """Hold reset for three cycles."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, 3)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    @property
    def cycle(self) -> int:
        """Cycles counted by the status monitors since the clock started."""
        return self.load_status.cycle

    def image(self) -> np.ndarray:
        """The current global memory image (a copy)."""
        if self.rams:
            locals_ = [np.frombuffer(ram.read(0, self.config.channel_size), np.uint8)
                       for ram in self.rams]
        else:
            locals_ = [port.image for port in self.ports]
        return join_image(self.config, locals_)

    def errors(self) -> list[str]:
        """Protocol errors seen by the Python cores (bad addresses, misplaced WLAST)."""
        return [f"port {i}: {e}" for i, port in enumerate(self.ports) for e in port.errors]

    async def run(self, tiles: list[Tile], *, timeout: int = 200_000) -> list[int]:
        """Run ``tiles`` in order and return their status codes.

        Consecutive tiles of one direction are queued back to back (the engine overlaps them);
        a change of direction first waits for every earlier status, since a store usually reads
        what a load wrote. ``timeout`` bounds the cycles per run of one direction.
        """
        statuses: list[int] = []
        index = 0
        while index < len(tiles):
            store = tiles[index].store
            run = []
            while index < len(tiles) and tiles[index].store == store:
                run.append(tiles[index])
                index += 1
            source, monitor = (self.store_cmd, self.store_status) if store \
                else (self.load_cmd, self.load_status)
            monitor.items.clear()
            for tile in run:
                await source.send(tile.payload())
            await monitor.wait_for(len(run), timeout=timeout)
            items = list(monitor.items)[:len(run)]
            statuses += [item["error"] for _, item in items]
            self.trace += [("store" if store else "load", cycle) for cycle, _ in items]
        # B responses are counted by the DMA before the status: memory is final here.
        await ClockCycles(self.dut.clk, 2)
        return statuses
