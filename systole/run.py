"""``systole run``: a random GEMM through the whole generated chip, checked three ways."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from .compiler import compile_gemm
from .driver import DeviceError
from .hw.config import SystoleConfig
from .hw.perf import COUNTER_REGISTERS
from .rtl_device import RtlSimDevice
from .sim.cyclemodel import predict_cycles
from .sim.golden import matmul_int32
from .sim.golden_isa import GoldenMachine

__all__ = ["GemmReport", "run_gemm", "check_gemm", "random_operands", "HBM2E_SEQ_EFFICIENCY",
           "sustained_bytes_per_cycle"]

#: Sustained sequential read bandwidth of the HBM2E model, as a fraction of its peak
#: (``results/membench.json``: ``seq_read_efficiency``; refresh included).
HBM2E_SEQ_EFFICIENCY = 0.9832


_MAPPINGS = {"straight": "C = A @ B", "transposed": "C^T = B^T A^T (transposed)",
             "matvec": "C = A @ B as MATVECs (B's tiles streamed through the array)"}


def sustained_bytes_per_cycle(config: SystoleConfig) -> float:
    """Bytes per chip cycle the HBM2E model sustains on long sequential reads over all of the
    configuration's channels (the reference of ``bandwidth_fraction``)."""
    mem = config.memory
    return mem.channels * mem.data_bytes * HBM2E_SEQ_EFFICIENCY


@dataclass
class GemmReport:
    ok: bool
    preset: str
    m: int
    k: int
    n: int
    seed: int
    sim: str
    hbm: str
    rows: int
    cols: int
    #: The program computes C^T = B^T A^T (see :mod:`systole.compiler`).
    transposed: bool
    #: The compiler's mapping: ``"straight"``, ``"transposed"`` or ``"matvec"``
    #: (:mod:`systole.matvec`).
    mapping: str
    cycles: int
    macs: int
    utilization: float
    bytes_read: int
    bytes_written: int
    #: Bytes read and written per cycle (all LOAD and STORE data: padding of rows to memory
    #: beats, instruction fetch).
    bytes_per_cycle: float
    #: ``bytes_per_cycle`` over the HBM2E model's sustained sequential bandwidth
    #: (:func:`sustained_bytes_per_cycle`); None under another memory model.
    bandwidth_fraction: float | None
    #: The same for the operand bytes alone: A and B as int8 and C as int32 (M*K + K*N + 4*M*N).
    operand_bandwidth_fraction: float | None
    instructions: int
    array_busy_cycles: int
    #: Stall cycles by cause (STALL_* registers); with array_busy_cycles they sum to cycles.
    stalls: dict[str, int]
    #: The cycle model's prediction (:mod:`systole.sim.cyclemodel`) for the same program.
    model_cycles: int
    #: Simulated cycles per wall-clock second from START to DONE (simulator speed).
    sim_cycles_per_second: float
    matches_numpy: bool
    matches_golden_memory: bool
    error: str | None
    wall_seconds: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def text(self) -> str:
        verdict = "ok" if self.ok else "WRONG"
        lines = [
            f"systole run: {self.m} x {self.k} x {self.n} int8 GEMM on preset {self.preset!r} "
            f"({self.rows} x {self.cols} array), {self.sim}, {self.hbm} memory model: {verdict}",
            f"  mapping: {_MAPPINGS[self.mapping]}",
            f"  C equals numpy: {self.matches_numpy}; memory image equals the golden model's: "
            f"{self.matches_golden_memory}",
            f"  cycles {self.cycles:,}  MACs {self.macs:,}  utilisation {self.utilization:.3f}  "
            f"(M*K*N / (rows*cols*cycles))",
            f"  bytes read {self.bytes_read:,}  written {self.bytes_written:,}  instructions "
            f"{self.instructions}  array busy {self.array_busy_cycles:,} cycles",
            f"  memory: {self.bytes_per_cycle:.1f} bytes/cycle"
            + ("" if self.bandwidth_fraction is None else
               f" = {self.bandwidth_fraction:.1%} of the HBM2E model's sustained bandwidth "
               f"({self.operand_bandwidth_fraction:.1%} counting only A, B and C)"),
            "  where the cycles went: " + "  ".join(
                f"{name} {count:,} ({count / max(self.cycles, 1):.1%})"
                for name, count in [("busy", self.array_busy_cycles), *self.stalls.items()]),
            f"  cycle model: {self.model_cycles:,} cycles "
            f"({(self.model_cycles - self.cycles) / max(self.cycles, 1):+.1%} vs the RTL)",
            f"  simulation: {self.sim_cycles_per_second:,.0f} cycles/s ({self.sim}), "
            f"{self.wall_seconds} s wall clock in all",
        ]
        if self.error:
            lines.append(f"  error: {self.error}")
        return "\n".join(lines)


def stall_breakdown(registers: dict[str, int]) -> dict[str, int]:
    """Stall cycles by cause from the STALL_* registers (see :mod:`systole.hw.perf`)."""
    return {name.removeprefix("STALL_").lower(): registers[name]
            for name in COUNTER_REGISTERS.values() if name.startswith("STALL_")}


def random_operands(m: int, k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (m, k), dtype=np.int8),
            rng.integers(-128, 128, (k, n), dtype=np.int8))


def run_gemm(config: SystoleConfig, m: int, k: int, n: int, *, seed: int = 0,
             **options) -> GemmReport:
    """Compile a random GEMM, run it on the golden model and on the RTL, compare."""
    a, b = random_operands(m, k, n, seed)
    return check_gemm(config, a, b, seed=seed, **options)


def check_gemm(config: SystoleConfig, a: np.ndarray, b: np.ndarray, *, seed: int = 0,
               sim: str = "verilator", hbm: str = "hbm2e", mode: str = "timing",
               max_cycles: int = 5_000_000, transpose: bool | None = None,
               matvec: bool | None = None, quiet: bool = True) -> GemmReport:
    """C = A @ B on the golden model and on the RTL; compare with numpy and each other.

    ``transpose`` and ``matvec`` choose the compiler's mapping
    (:func:`~systole.compiler.compile_gemm`)."""
    start = time.perf_counter()
    m, k = a.shape
    n = b.shape[1]
    program = compile_gemm(a, b, config, transpose=transpose, matvec=matvec)
    if not quiet:
        print(f"[systole] compiled: {len(program.instructions)} instructions, image "
              f"{len(program.image):,} bytes", file=sys.stderr, flush=True)
    golden = GoldenMachine(config).run(program.image.copy(), program.prog_addr)
    device = RtlSimDevice(config, simulator=sim, hbm=hbm, mode=mode, max_cycles=max_cycles,
                          seed=seed, quiet=quiet)
    error = None
    try:
        c = device.execute(program)
    except DeviceError as failure:
        error, c = str(failure), None
    registers = device.registers
    cycles = registers["CYCLES_LO"] | registers["CYCLES_HI"] << 32
    expected = matmul_int32(a, b)
    matches_numpy = c is not None and np.array_equal(c, expected)
    length = len(golden.memory)
    rtl_memory = device.read_memory(0, length)
    matches_golden = bool(np.array_equal(rtl_memory, golden.memory[:length]))
    if device.last_run is not None and not device.last_run.finished:
        error = error or "the chip did not report DONE within the cycle limit"
    macs = m * k * n
    array = config.array
    run = device.last_run
    moved = registers["BYTES_READ"] + registers["BYTES_WRITTEN"]
    sustained = sustained_bytes_per_cycle(config) if mode == "timing" and hbm == "hbm2e" else 0

    def fraction(nbytes: int) -> float | None:
        return round(nbytes / cycles / sustained, 4) if sustained and cycles else None

    return GemmReport(
        ok=bool(matches_numpy and matches_golden and error is None), preset=config.name,
        m=m, k=k, n=n, seed=seed, sim=sim, hbm=hbm if mode == "timing" else mode,
        rows=array.rows, cols=array.cols, transposed=program.transposed,
        mapping=program.mapping, cycles=cycles,
        macs=macs,
        utilization=macs / (array.rows * array.cols * cycles) if cycles else 0.0,
        bytes_read=registers["BYTES_READ"], bytes_written=registers["BYTES_WRITTEN"],
        bytes_per_cycle=round(moved / cycles, 2) if cycles else 0.0,
        bandwidth_fraction=fraction(moved),
        operand_bandwidth_fraction=fraction(m * k + k * n + 4 * m * n),
        instructions=registers["INSTRUCTIONS"], array_busy_cycles=registers["ARRAY_BUSY"],
        stalls=stall_breakdown(registers),
        model_cycles=predict_cycles(program.instructions, config, program.prog_addr).cycles,
        sim_cycles_per_second=round(cycles / run.sim_seconds) if run and run.sim_seconds else 0.0,
        matches_numpy=bool(matches_numpy), matches_golden_memory=matches_golden,
        error=error, wall_seconds=round(time.perf_counter() - start, 2))
