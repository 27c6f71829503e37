"""Run the whole chip in the Amaranth simulator: memory ports served by AxiSlavePort models,
the host driving the AXI4-Lite registers. For small configurations and short programs; the
cocotb/Verilator flow is the fast path for real workloads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hw.chip import SystoleChip
from ..hw.config import SystoleConfig
from ..hw.regs import CTRL_IRQ_ENABLE, CTRL_START, REG, STATUS_DONE
from .axi_amaranth import simulate_with_memory
from .axi_slave import AxiSlavePort, PortStats
from .memsys_tb import channel_faults, join_image, make_model, split_image

__all__ = ["ChipRun", "run_chip"]


@dataclass
class ChipRun:
    memory: np.ndarray
    registers: dict[str, int]
    cycles: int
    irq: bool
    ports: list[PortStats]      # per memory port: bursts and bytes moved


async def axil_write(ctx, bus, addr: int, value: int) -> None:
    ctx.set(bus.aw.valid, 1)
    ctx.set(bus.aw.payload, {"addr": addr, "prot": 0})
    ctx.set(bus.w.valid, 1)
    ctx.set(bus.w.payload, {"data": value, "strb": 0xF})
    aw_done = w_done = False
    while not (aw_done and w_done):
        _, _, aw_ready, w_ready = await ctx.tick().sample(bus.aw.ready, bus.w.ready)
        aw_done = aw_done or aw_ready
        w_done = w_done or w_ready
        if aw_done:
            ctx.set(bus.aw.valid, 0)
        if w_done:
            ctx.set(bus.w.valid, 0)
    ctx.set(bus.b.ready, 1)
    await ctx.tick().until(bus.b.valid)
    ctx.set(bus.b.ready, 0)


async def axil_read(ctx, bus, addr: int) -> int:
    ctx.set(bus.ar.valid, 1)
    ctx.set(bus.ar.payload, {"addr": addr, "prot": 0})
    await ctx.tick().until(bus.ar.ready)
    ctx.set(bus.ar.valid, 0)
    ctx.set(bus.r.ready, 1)
    payload, = await ctx.tick().sample(bus.r.payload).until(bus.r.valid)
    ctx.set(bus.r.ready, 0)
    return int(payload.data)


def run_chip(config: SystoleConfig, image: np.ndarray, prog_addr: int, *,
             mode: str = "fixed", max_cycles: int = 100_000, seed: int = 0,
             fault_range: tuple[int, int] | None = None) -> ChipRun:
    """Load ``image``, start the program at ``prog_addr``, wait for DONE (or raise
    ``TimeoutError`` after ``max_cycles``), return the final memory and the registers.
    Bursts that touch ``fault_range`` (global bytes ``[lo, hi)`` inside one interleave granule)
    answer SLVERR."""
    mem = config.memory
    dut = SystoleChip(config)
    padded = np.zeros(mem.size, np.uint8)
    padded[:len(image)] = image
    faults = channel_faults(mem, fault_range)
    ports = [AxiSlavePort(local, mem.data_bytes, make_model(mem, mode, seed=seed + c),
                          fault_range=faults[c])
             for c, local in enumerate(split_image(mem, padded))]
    result: dict = {}

    async def host(ctx, cycles):
        await axil_write(ctx, dut.csr, REG["PROG_ADDR"].offset, prog_addr)
        await axil_write(ctx, dut.csr, REG["CTRL"].offset, CTRL_START | CTRL_IRQ_ENABLE)
        while not ctx.get(dut.irq):
            await ctx.tick()
        result["irq"] = True
        result["registers"] = {reg: await axil_read(ctx, dut.csr, REG[reg].offset)
                               for reg in REG}
        await axil_write(ctx, dut.csr, REG["STATUS"].offset, STATUS_DONE)

    total = simulate_with_memory(dut, ports, host, max_cycles=max_cycles)
    final = join_image(mem, [port.image for port in ports])
    return ChipRun(final, result["registers"], total, result["irq"],
                   [port.stats for port in ports])
