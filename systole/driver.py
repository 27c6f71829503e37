"""Host driver: ``dev.matmul(A, B)`` over any backend (golden model, RTL simulation, board).

A backend implements four low-level hooks (memory and register access) by subclassing
:class:`HostDevice`; everything above them (compiling, loading the image, starting the chip
through its registers, waiting, reading the result, error reporting) is shared, so every
backend is driven exactly like the hardware::

    class MyDevice(HostDevice):
        def write_memory(self, addr, data): ...
        def read_memory(self, addr, nbytes): ...
        def write_reg(self, offset, value): ...
        def read_reg(self, offset): ...

A backend that can wait more cleverly than by polling STATUS (an interrupt, a simulator
trigger) overrides :meth:`HostDevice.wait`. :class:`GoldenDevice` is the reference backend: a
register file around :class:`~systole.sim.golden_isa.GoldenMachine`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .compiler import Program, compile_gemm
from .hw.config import SystoleConfig
from .hw.isa import ErrorCode
from .hw.regs import (
    CTRL_START,
    ID_VALUE,
    REG,
    STATUS_BUSY,
    STATUS_DONE,
    STATUS_ERROR,
)
from .sim.golden_isa import DEFAULT_MAX_INSTRUCTIONS, GoldenMachine

__all__ = ["Device", "HostDevice", "GoldenDevice", "RunStats", "DeviceError"]


@runtime_checkable
class Device(Protocol):
    """What users program against: a chip that multiplies int8 matrices."""

    config: SystoleConfig

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """C = A @ B: int8 A (M x K) and B (K x N) in, int32 C (M x N) out."""
        ...


class DeviceError(RuntimeError):
    """The chip stopped with an error code (or did not finish)."""

    def __init__(self, message: str, error: ErrorCode | None = None, pc: int | None = None):
        super().__init__(message)
        self.error = error
        self.pc = pc


@dataclass(frozen=True)
class RunStats:
    """Counters read back after a run (see :mod:`systole.hw.regs`)."""

    cycles: int
    instructions: int
    array_busy: int
    bytes_read: int
    bytes_written: int


class HostDevice(abc.ABC):
    """Shared host logic over memory and register hooks.

    Parameters
    ----------
    config : SystoleConfig
        The chip the backend talks to.
    poll_limit : int
        STATUS reads :meth:`wait` makes before giving up.

    Members
    -------
    last_program : Program or None
        The program of the last :meth:`matmul`.
    last_stats : RunStats or None
        The counters of the last :meth:`run`.
    """

    def __init__(self, config: SystoleConfig, *, poll_limit: int = 1_000_000):
        if not isinstance(config, SystoleConfig):
            raise TypeError(f"config must be a SystoleConfig, not {config!r}")
        self.config = config
        self.poll_limit = poll_limit
        self.last_program: Program | None = None
        self.last_stats: RunStats | None = None

    @abc.abstractmethod
    def write_memory(self, addr: int, data: np.ndarray) -> None:
        """Write uint8 ``data`` to device memory at byte address ``addr``."""

    @abc.abstractmethod
    def read_memory(self, addr: int, nbytes: int) -> np.ndarray:
        """Read ``nbytes`` of device memory from byte address ``addr`` (uint8)."""

    @abc.abstractmethod
    def write_reg(self, offset: int, value: int) -> None:
        """Write a 32-bit control register."""

    @abc.abstractmethod
    def read_reg(self, offset: int) -> int:
        """Read a 32-bit control register."""

    def wait(self) -> None:
        """Block until the chip is no longer busy (default: poll STATUS).

        Raises
        ------
        DeviceError
            Still busy after ``poll_limit`` polls.
        """
        for _ in range(self.poll_limit):
            status = self.read_reg(REG["STATUS"].offset)
            if status & (STATUS_DONE | STATUS_ERROR) and not status & STATUS_BUSY:
                return
        raise DeviceError(f"the chip did not finish within {self.poll_limit} STATUS polls")

    def check_id(self) -> None:
        """Raise :class:`DeviceError` unless the ID register reads :data:`ID_VALUE`."""
        value = self.read_reg(REG["ID"].offset)
        if value != ID_VALUE:
            raise DeviceError(f"ID register reads {value:#010x}, expected {ID_VALUE:#010x}")

    def run(self, prog_addr: int) -> RunStats:
        """Run the program at ``prog_addr`` to completion and return the counters.

        Raises
        ------
        DeviceError
            The chip stopped with an error code (``error`` and ``pc`` tell which).
        """
        self.write_reg(REG["PROG_ADDR"].offset, prog_addr)
        self.write_reg(REG["STATUS"].offset, STATUS_DONE)   # clear a stale DONE
        self.write_reg(REG["CTRL"].offset, CTRL_START)
        self.wait()
        status = self.read_reg(REG["STATUS"].offset)
        if status & STATUS_ERROR:
            error = ErrorCode(self.read_reg(REG["ERROR_CODE"].offset))
            pc = self.read_reg(REG["ERROR_PC"].offset)
            raise DeviceError(f"the chip stopped with {error.name} at {pc:#x}", error, pc)
        regs = {name: self.read_reg(REG[name].offset) for name in
                ("CYCLES_LO", "CYCLES_HI", "INSTRUCTIONS", "ARRAY_BUSY", "BYTES_READ",
                 "BYTES_WRITTEN")}
        self.last_stats = RunStats(
            cycles=regs["CYCLES_LO"] | regs["CYCLES_HI"] << 32,
            instructions=regs["INSTRUCTIONS"], array_busy=regs["ARRAY_BUSY"],
            bytes_read=regs["BYTES_READ"], bytes_written=regs["BYTES_WRITTEN"])
        return self.last_stats

    def execute(self, program: Program) -> np.ndarray:
        """Load a compiled program's image, run it and return its result."""
        self.write_memory(0, program.image)
        self.run(program.prog_addr)
        addr, nbytes = program.result_range
        return program.read_result(self.read_memory(addr, nbytes), base=addr)

    def matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """C = A @ B on the chip (see :func:`~systole.compiler.compile_gemm` for the rules)."""
        self.last_program = compile_gemm(a, b, self.config)
        return self.execute(self.last_program)


class GoldenDevice(HostDevice):
    """The golden model behind the chip's register interface.

    START runs the whole program at once (the token discipline is checked, and a problem raises
    :class:`~systole.sim.tokens.TokenError` unless ``strict=False``). A program that reaches no
    HALT within ``max_instructions`` leaves the chip BUSY, as hung hardware would. The cycle
    counter reads 0: the model has no timing. BYTES_READ counts data only (no instruction
    fetch). Memory grows on demand up to the configured size.
    """

    def __init__(self, config: SystoleConfig, *, strict: bool = True,
                 max_instructions: int = DEFAULT_MAX_INSTRUCTIONS, **kwargs):
        super().__init__(config, **kwargs)
        self.strict = strict
        self.max_instructions = max_instructions
        self.memory = np.zeros(0, np.uint8)
        cfg = config.array
        self._regs = dict.fromkeys(REG, 0)
        self._regs["ID"] = ID_VALUE
        self._regs["CONFIG"] = cfg.rows % 256 | (cfg.cols % 256) << 16   # as hw/csr.py
        self.last_result = None

    def write_memory(self, addr: int, data: np.ndarray) -> None:
        data = np.asarray(data, np.uint8)
        end = addr + len(data)
        if addr < 0 or end > self.config.memory.size:
            raise ValueError(f"bytes {addr:#x}..{end:#x} are outside the memory")
        if end > len(self.memory):
            self.memory = np.concatenate([self.memory, np.zeros(end - len(self.memory),
                                                                np.uint8)])
        self.memory[addr:end] = data

    def read_memory(self, addr: int, nbytes: int) -> np.ndarray:
        out = np.zeros(nbytes, np.uint8)
        chunk = self.memory[addr:addr + nbytes]
        out[:len(chunk)] = chunk
        return out

    def read_reg(self, offset: int) -> int:
        name = next(r.name for r in REG.values() if r.offset == offset)
        return self._regs[name]

    def write_reg(self, offset: int, value: int) -> None:
        name = next(r.name for r in REG.values() if r.offset == offset)
        if name == "STATUS":
            self._regs["STATUS"] &= ~(value & STATUS_DONE)
        elif name == "CTRL":
            self._regs["CTRL"] = value & ~CTRL_START
            if value & CTRL_START:
                self._start()
        elif REG[name].access in ("rw", "wo"):
            self._regs[name] = value & 0xFFFF_FFFF

    def _start(self) -> None:
        result = GoldenMachine(self.config).run(self.memory, self._regs["PROG_ADDR"],
                                                strict=self.strict,
                                                max_instructions=self.max_instructions)
        self.last_result = result
        self.memory = result.memory
        failed = result.error != ErrorCode.NONE
        self._regs.update(
            STATUS=STATUS_DONE | (STATUS_ERROR if failed else 0),
            ERROR_CODE=int(result.error), ERROR_PC=(result.error_pc or 0) & 0xFFFF_FFFF,
            CYCLES_LO=0, CYCLES_HI=0, INSTRUCTIONS=result.instructions,
            ARRAY_BUSY=result.vectors, BYTES_READ=result.bytes_read & 0xFFFF_FFFF,
            BYTES_WRITTEN=result.bytes_written & 0xFFFF_FFFF)
        if not (result.halted or failed):
            self._regs["STATUS"] = STATUS_BUSY   # what a hung chip looks like
