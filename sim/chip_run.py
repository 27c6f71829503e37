"""Run a program on the generated chip in RTL simulation (cocotb + Verilator or Icarus)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hw.config import SystoleConfig
from ..hw.isa import INSTR_BYTES
from .runner import build_for_sim, build_root

__all__ = ["RtlRun", "run_on_rtl", "pad_image"]


@dataclass
class RtlRun:
    """Outcome of :func:`run_on_rtl`."""

    memory: np.ndarray           # final memory image (same length as the padded input)
    registers: dict[str, int]    # every control register after the run
    finished: bool               # DONE was reached before the cycle limit
    read_latencies: list[int]    # per read burst, AR handshake to first R beat, in cycles
    port_errors: list[str]       # protocol errors the memory models saw
    sim_seconds: float = 0.0     # wall-clock time of the simulated run (START to DONE)


def pad_image(config: SystoleConfig, image: np.ndarray) -> np.ndarray:
    """``image`` zero-padded to whole interleave rounds (every channel the same length), with
    room for the instruction ring the sequencer may prefetch past the end of a program."""
    mem = config.memory
    unit = mem.interleave * mem.channels
    slack = config.buffers.instr_depth * INSTR_BYTES
    padded = np.zeros(min(-(-(len(image) + slack) // unit) * unit, mem.size), np.uint8)
    padded[:len(image)] = image
    return padded


def _echo_progress(path: Path, stop: threading.Event) -> None:
    """Copy the progress lines the testbench appends to ``path`` to stderr while it runs."""
    with open(path) as file:
        while True:
            line = file.readline()
            if line:
                print(line.rstrip(), file=sys.stderr, flush=True)
            elif stop.is_set():
                return
            else:
                time.sleep(0.2)


def run_on_rtl(config: SystoleConfig, image: np.ndarray, prog_addr: int, *,
               simulator: str = "verilator", hbm: str = "hbm2e", mode: str = "timing",
               max_cycles: int = 2_000_000, seed: int = 0, quiet: bool = True) -> RtlRun:
    """Build (or reuse) the chip for ``simulator``, run the program, return the results.

    ``mode`` selects the memory timing: ``"timing"`` (HBM model ``hbm``), ``"fixed"`` or
    ``"random"``. The run stops at DONE or after ``max_cycles`` cycles.
    """
    if not quiet:
        print(f"[systole] building the chip for {simulator} (reused when unchanged)...",
              file=sys.stderr, flush=True)
    logs = build_root() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    build = build_for_sim(config, simulator, top="chip", log_file=logs / "chip-build.log")
    padded = pad_image(config, image)
    params = {"prog_addr": prog_addr, "hbm": hbm, "mode": mode, "max_cycles": max_cycles,
              "seed": seed}
    key = hashlib.sha1(padded.tobytes() + json.dumps(params).encode()).hexdigest()[:12]
    run_dir = build_root() / "runs" / key
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    np.save(run_dir / "image.npy", padded)
    (run_dir / "params.json").write_text(json.dumps(params))
    if not quiet:
        print(f"[systole] simulating ({len(padded)} bytes of memory, {mode} {hbm})...",
              file=sys.stderr, flush=True)
    progress = run_dir / "progress"
    progress.touch()
    stop = threading.Event()
    echo = threading.Thread(target=_echo_progress, args=(progress, stop), daemon=True)
    if not quiet:
        echo.start()
    log = logs / f"chip-run-{key}.log"
    try:
        build.run("systole.sim.chip_cocotb", env={"SYSTOLE_RUN": str(run_dir)}, name="run",
                  log_file=log)
    finally:
        stop.set()
        if echo.is_alive():
            echo.join()
    if not (run_dir / "result.json").exists():
        raise RuntimeError(f"the chip simulation produced no result; see {log}")
    result = json.loads((run_dir / "result.json").read_text())
    memory = np.load(run_dir / "memory.npy")
    shutil.rmtree(run_dir)
    log.unlink(missing_ok=True)
    return RtlRun(memory, result["registers"], result["finished"], result["read_latencies"],
                  result["port_errors"], result.get("sim_seconds", 0.0))
