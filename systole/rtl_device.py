"""The driver backend that runs programs on the generated chip in RTL simulation."""

from __future__ import annotations

import numpy as np

from .driver import HostDevice
from .hw.config import SystoleConfig
from .hw.regs import CTRL_START, REG, STATUS_BUSY
from .sim.chip_run import RtlRun, run_on_rtl

__all__ = ["RtlSimDevice"]


class RtlSimDevice(HostDevice):
    """``dev.matmul(A, B)`` on the generated Verilog (cocotb + Verilator or Icarus).

    The simulator runs a whole program per START: memory writes collect into an image, the
    START write simulates the chip from reset to DONE (or ``max_cycles``), and register and
    memory reads then see the state at the end of that run.

    Parameters
    ----------
    config : SystoleConfig
    simulator : str
        ``"verilator"`` (fast) or ``"icarus"``.
    hbm : str
        HBM timing preset of the memory model (``hbm2``, ``hbm2e``, ``hbm3``).
    mode : str
        ``"timing"`` (HBM model), ``"fixed"`` or ``"random"`` memory latency.
    max_cycles : int
        Watchdog: a run that is not DONE by then leaves STATUS.BUSY set.
    quiet : bool
        ``False`` prints progress to stderr.
    """

    def __init__(self, config: SystoleConfig, *, simulator: str = "verilator",
                 hbm: str = "hbm2e", mode: str = "timing", max_cycles: int = 2_000_000,
                 seed: int = 0, quiet: bool = True):
        super().__init__(config, poll_limit=1)
        self.simulator, self.hbm, self.mode = simulator, hbm, mode
        self.max_cycles, self.seed, self.quiet = max_cycles, seed, quiet
        self.image = np.zeros(0, np.uint8)
        self.registers = {reg.name: 0 for reg in REG.values()}
        self.last_run: RtlRun | None = None

    def write_memory(self, addr: int, data: np.ndarray) -> None:
        end = addr + len(data)
        if end > len(self.image):
            self.image = np.concatenate([self.image, np.zeros(end - len(self.image), np.uint8)])
        self.image[addr:end] = data

    def read_memory(self, addr: int, nbytes: int) -> np.ndarray:
        out = np.zeros(nbytes, np.uint8)
        available = self.image[addr:addr + nbytes]
        out[:len(available)] = available
        return out

    def read_reg(self, offset: int) -> int:
        name = next(reg.name for reg in REG.values() if reg.offset == offset)
        return self.registers[name]

    def write_reg(self, offset: int, value: int) -> None:
        name = next(reg.name for reg in REG.values() if reg.offset == offset)
        if name == "CTRL" and value & CTRL_START:
            run = run_on_rtl(self.config, self.image, self.registers["PROG_ADDR"],
                             simulator=self.simulator, hbm=self.hbm, mode=self.mode,
                             max_cycles=self.max_cycles, seed=self.seed, quiet=self.quiet)
            self.last_run = run
            self.image = run.memory
            self.registers = dict(run.registers)
            if not run.finished:
                self.registers["STATUS"] |= STATUS_BUSY
        elif name in ("PROG_ADDR", "CTRL"):
            self.registers[name] = value
