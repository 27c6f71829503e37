"""cocotb testbench of the whole chip (top ``systole``): load a memory image, start a program
over AXI4-Lite, serve the AXI4 memory ports from the HBM model, collect memory and registers.

Driven by :func:`systole.sim.chip_run.run_on_rtl`, which passes a run folder in
``SYSTOLE_RUN`` holding ``image.npy`` and ``params.json``; this module writes ``memory.npy``
and ``result.json`` there.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge, Timer

from ..hw.config import MemoryConfig
from ..hw.regs import CTRL_IRQ_ENABLE, CTRL_START, REG, STATUS_DONE
from .axi_cocotb import AxiCocotbAdapter
from .axi_slave import AxiSlavePort
from .cocotb_tb import load_design
from .memsys_tb import join_image, make_model, split_image

CLOCK_NS = 10


class AxiLiteMaster:
    """Minimal AXI4-Lite master on ``s_axil_*`` (a handful of transactions per run)."""

    def __init__(self, dut, prefix: str = "s_axil_"):
        self.dut = dut
        self.sig = {name: getattr(dut, prefix + name) for name in (
            "awaddr awprot awvalid awready wdata wstrb wvalid wready bresp bvalid bready "
            "araddr arprot arvalid arready rdata rresp rvalid rready").split()}
        for name in ("awvalid", "wvalid", "bready", "arvalid", "rready", "awprot", "arprot"):
            self.sig[name].value = 0

    async def write(self, addr: int, value: int) -> None:
        s = self.sig
        s["awaddr"].value, s["awvalid"].value = addr, 1
        s["wdata"].value, s["wstrb"].value, s["wvalid"].value = value, 0xF, 1
        s["bready"].value = 1
        aw = w = False
        while not (aw and w):
            await RisingEdge(self.dut.clk)
            aw = aw or bool(s["awready"].value)
            w = w or bool(s["wready"].value)
            if aw:
                s["awvalid"].value = 0
            if w:
                s["wvalid"].value = 0
        while True:
            await RisingEdge(self.dut.clk)
            if s["bvalid"].value:
                break
        s["bready"].value = 0

    async def read(self, addr: int) -> int:
        s = self.sig
        s["araddr"].value, s["arvalid"].value, s["rready"].value = addr, 1, 1
        while True:
            await RisingEdge(self.dut.clk)
            if s["arready"].value:
                break
        s["arvalid"].value = 0
        while True:
            await RisingEdge(self.dut.clk)
            if s["rvalid"].value:
                value = s["rdata"].value.to_unsigned()
                break
        s["rready"].value = 0
        return value


@cocotb.test()
async def run_program(dut):
    """Run the program of ``SYSTOLE_RUN`` to DONE (or the cycle limit) and save the results."""
    run_dir = Path(os.environ["SYSTOLE_RUN"])
    params = json.loads((run_dir / "params.json").read_text())
    design = load_design()
    mem = MemoryConfig(**design["config"]["memory"])
    image = np.load(run_dir / "image.npy")

    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    ports = [AxiSlavePort(local, mem.data_bytes,
                          make_model(mem, params["mode"], preset=params["hbm"],
                                     seed=params["seed"] + c))
             for c, local in enumerate(split_image(mem, image))]
    host = AxiLiteMaster(dut)
    # The adapters drive their outputs idle now: an undriven BVALID reads X under Icarus, and the
    # DMA's completion counters would count that X the first cycle out of reset.
    adapters = [AxiCocotbAdapter(port, dut, f"m_axi{c}", dut.clk, period_ns=CLOCK_NS,
                                 skip_idle=params.get("skip_idle", True))
                for c, port in enumerate(ports)]
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    for adapter in adapters:
        adapter.start()

    await host.write(REG["PROG_ADDR"].offset, params["prog_addr"])
    await host.write(REG["CTRL"].offset, CTRL_START | CTRL_IRQ_ENABLE)
    started = time.perf_counter()
    limit, chunk, waited = params["max_cycles"], 20_000, 0
    finished = bool(dut.irq.value)
    while not finished and waited < limit:
        step = min(chunk, limit - waited)
        trigger = await First(RisingEdge(dut.irq), Timer(step * CLOCK_NS, "ns"))
        finished = isinstance(trigger, RisingEdge) or bool(dut.irq.value)
        waited += step
        if not finished:
            with open(run_dir / "progress", "a") as progress:
                print(f"[systole] {waited:,} cycles simulated...", file=progress, flush=True)
    sim_seconds = time.perf_counter() - started
    registers = {name: await host.read(REG[name].offset) for name in REG}
    if finished:
        await host.write(REG["STATUS"].offset, STATUS_DONE)
    errors = [error for port in ports for error in port.errors]
    result = {
        "finished": finished,
        "timeout_cycles": None if finished else limit,
        "registers": registers,
        "port_errors": errors[:20],
        "read_latencies": [lat for port in ports for lat in port.stats.read_latencies],
        "adapter_wakeups": sum(adapter.wakeups for adapter in adapters),
        "sim_seconds": sim_seconds,
    }
    np.save(run_dir / "memory.npy", join_image(mem, [port.image for port in ports]))
    (run_dir / "result.json").write_text(json.dumps(result))
