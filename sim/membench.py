"""Memory benchmark: the memory subsystem's DMA against the HBM timing model, in RTL simulation.

Each job runs the generated ``systole_memsys`` Verilog under cocotb (Verilator, or Icarus) with
every AXI4 port served by an HBM pseudo-channel model (:mod:`systole.sim.hbm`) and feeds it one
workload (:mod:`systole.sim.membench_workloads`). Bandwidth is end to end: bytes moved over the
cycles from the first descriptor offered to the last status, as a fraction of the peak,
``channels x data_bytes`` per controller cycle (the AXI data width times the controller clock of
the preset, which equals the DRAM pin bandwidth). ``systole membench`` is the command line.

Jobs of the default plan (``channels`` = 4, ``size`` = S bytes):

* on ``channels`` channels: ``seq_read``, ``seq_write``, ``mixed`` (S bytes each), ``random64``,
  ``random256``, ``random4k`` (S / 4 bytes each), ``latency`` (256 dependent 64 B reads);
* scaling: ``seq_read`` on 1 and 2 channels (S x c / channels bytes, so every run spans the same
  time and the same number of refresh intervals);
* refresh: ``seq_read`` on one channel with refresh off and all-bank (the default per-bank run is
  the 1-channel scaling run).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..hw.config import MemoryConfig, SystoleConfig
from .hbm import PRESETS, REFRESH_MODES
from .runner import build_for_sim, build_root

__all__ = ["JOBS", "bench_config", "plan", "run_job", "run_membench", "summarise",
           "format_report", "DEFAULT_SIZE"]

#: Bytes per sequential pattern by default: 1 MiB per channel, about 10 all-bank refresh
#: intervals at 800 MHz.
DEFAULT_SIZE = 4 << 20
#: Pattern name -> (workload kind, granule bytes, fraction of ``size``).
JOBS: dict[str, tuple[str, int, float]] = {
    "seq_read": ("seq_read", 64, 1.0),
    "seq_write": ("seq_write", 64, 1.0),
    "mixed": ("mixed", 64, 1.0),
    "random64": ("random", 64, 0.25),
    "random256": ("random", 256, 0.25),
    "random4k": ("random", 4096, 0.25),
    "latency": ("latency", 64, 0.0),
}
LATENCY_READS = 256


def bench_config(channels: int, data_width: int = 256) -> SystoleConfig:
    """The memory subsystem benchmarked: ``channels`` AXI4 ports of ``data_width`` bits (the
    HBM preset's controller width), 64 MiB, 512-byte interleave, 16-beat bursts, 8 outstanding,
    a 2048-beat scratch buffer."""
    memory = MemoryConfig(channels=channels, data_width=data_width, size=64 << 20,
                          interleave=512, max_burst=16, outstanding=8, buffer_depth=2048)
    return SystoleConfig(name=f"membench{channels}", memory=memory)


def plan(*, channels: int = 4, size: int = DEFAULT_SIZE, patterns: list[str] | None = None,
         preset: str = "hbm2e", seed: int = 1) -> list[dict[str, Any]]:
    """The jobs to run: ``patterns`` (default: all of :data:`JOBS`, the scaling and the
    refresh runs)."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {sorted(PRESETS)}, not {preset!r}")
    names = list(JOBS) + ["scaling", "refresh"] if patterns is None else patterns
    for name in names:
        if name not in JOBS and name not in ("scaling", "refresh"):
            raise ValueError(f"pattern must be one of {[*JOBS, 'scaling', 'refresh']}, "
                             f"not {name!r}")
    data_width = PRESETS[preset].controller_data_bits
    beat = data_width // 8
    per_channel = size // channels

    def job(name: str, kind: str, granule: int, nbytes: int, chans: int,
            refresh: str | None = None) -> dict[str, Any]:
        nbytes = max(granule, nbytes // granule * granule)
        return {"name": name, "kind": kind, "granule": granule, "bytes": nbytes // beat * beat,
                "channels": chans, "data_width": data_width, "refresh": refresh,
                "preset": preset, "seed": seed}

    jobs = []
    for name in names:
        if name in JOBS:
            kind, granule, share = JOBS[name]
            nbytes = LATENCY_READS * granule if kind == "latency" else int(size * share)
            jobs.append(job(name, kind, granule, nbytes, channels))
        elif name == "scaling":
            jobs += [job(f"seq_read_{c}ch", "seq_read", 64, per_channel * c, c)
                     for c in (1, 2, 4) if c != channels]
        else:
            jobs += [job(f"seq_read_1ch_refresh_{mode}", "seq_read", 64, per_channel, 1, mode)
                     for mode in REFRESH_MODES if mode != "per-bank"]
            if channels != 1 and "scaling" not in names:
                jobs.append(job("seq_read_1ch", "seq_read", 64, per_channel, 1))
    return jobs


def run_job(job: dict[str, Any], *, simulator: str = "verilator",
            log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Build (or reuse) the design for ``job["channels"]`` and run one job; return its result.

    Raises
    ------
    RuntimeError
        The simulation failed; the message names the log file.
    """
    config = bench_config(job["channels"], job["data_width"])
    work = build_root() / "membench"
    work.mkdir(parents=True, exist_ok=True)
    log(f"building {config.memory.channels}-channel memsys for {simulator} ...")
    build = build_for_sim(config, simulator, top="memsys",
                          log_file=work / f"build_{simulator}_{job['channels']}.log")
    out = work / f"{job['name']}.json"
    out.unlink(missing_ok=True)
    sim_log = work / f"{job['name']}.log"
    env = {"SYSTOLE_MEMBENCH_JOB": json.dumps(job), "SYSTOLE_MEMBENCH_OUT": str(out)}
    tests, failed = build.run("systole.sim.tb_membench", env=env, name=f"membench_{job['name']}",
                              log_file=sim_log)
    if failed or tests != 1 or not out.exists():
        raise RuntimeError(f"membench job {job['name']} failed: see {sim_log}")
    return json.loads(out.read_text())


def _efficiency(result: dict[str, Any]) -> float:
    peak = result["channels"] * result["data_bytes"] * result["cycles"]
    return result["moved_bytes"] / peak


def summarise(results: list[dict[str, Any]], *, channels: int) -> dict[str, Any]:
    """The benchmark's JSON report from job results (see ``systole membench --help``)."""
    by_name = {r["name"]: r for r in results}
    any_result = results[0]
    timing = PRESETS[any_result["preset"]]
    ns_per_cycle = 1000.0 / timing.controller_clock_mhz
    peak_per_channel = any_result["data_bytes"] * timing.controller_clock_mhz / 1000.0
    patterns = {}
    for r in results:
        eff = _efficiency(r)
        lat = r["read_latency_cycles"]
        patterns[r["name"]] = {
            "channels": r["channels"], "bytes": r["moved_bytes"], "cycles": r["cycles"],
            "efficiency": round(eff, 4),
            "gbytes_per_s": round(eff * r["channels"] * peak_per_channel, 2),
            "refresh": r["refresh"] or ("per-bank" if timing.per_bank_refresh else "all-bank"),
            "latency_p50_ns": None if lat["p50"] is None else round(lat["p50"] * ns_per_cycle, 1),
            "latency_p99_ns": None if lat["p99"] is None else round(lat["p99"] * ns_per_cycle, 1),
            "row_hits": r["model"]["row_hits"], "row_misses": r["model"]["row_misses"],
            "row_conflicts": r["model"]["row_conflicts"], "refreshes": r["model"]["refreshes"],
            "wall_seconds": round(r["wall_seconds"], 1),
        }
    summary: dict[str, Any] = {
        "preset": any_result["preset"], "channels": channels,
        "peak_gbytes_per_s": round(channels * peak_per_channel, 2),
        "controller_clock_mhz": timing.controller_clock_mhz,
    }
    for key, name in (("seq_read_efficiency", "seq_read"), ("seq_write_efficiency", "seq_write"),
                      ("mixed_efficiency", "mixed"), ("random64_efficiency", "random64"),
                      ("random256_efficiency", "random256"), ("random4k_efficiency", "random4k")):
        if name in patterns:
            summary[key] = patterns[name]["efficiency"]
    seq = {r["channels"]: r for r in results if r["kind"] == "seq_read" and r["refresh"] is None}
    if 1 in seq and 4 in seq:
        def bandwidth(r: dict[str, Any]) -> float:
            return r["moved_bytes"] / r["cycles"]

        summary["channel_scaling_4"] = round(bandwidth(seq[4]) / bandwidth(seq[1]), 3)
        summary["channel_scaling"] = {str(c): round(bandwidth(seq[c]) / bandwidth(seq[1]), 3)
                                      for c in sorted(seq)}
    off = by_name.get("seq_read_1ch_refresh_off")
    if off is not None:
        default = seq.get(1)
        if default is not None:
            summary["refresh_overhead"] = round(1 - _efficiency(default) / _efficiency(off), 4)
            summary["refresh_mode"] = "per-bank" if timing.per_bank_refresh else "all-bank"
        all_bank = by_name.get("seq_read_1ch_refresh_all-bank")
        if all_bank is not None:
            summary["refresh_overhead_all_bank"] = round(
                1 - _efficiency(all_bank) / _efficiency(off), 4)
            summary["refresh_all_bank_trfc_over_trefi"] = round(timing.t_rfc / timing.t_refi, 4)
    if "latency" in patterns:
        summary["latency_p50_ns"] = patterns["latency"]["latency_p50_ns"]
        summary["latency_p99_ns"] = patterns["latency"]["latency_p99_ns"]
    summary["patterns"] = patterns
    return summary


def run_membench(*, preset: str = "hbm2e", channels: int = 4, size: int = DEFAULT_SIZE,
                 patterns: list[str] | None = None, simulator: str = "verilator",
                 seed: int = 1, progress: Callable[[str], None] | None = None
                 ) -> dict[str, Any]:
    """Plan, run and summarise the benchmark; ``progress`` gets one line per step."""
    say = progress or (lambda text: print(text, file=sys.stderr, flush=True))
    jobs = plan(channels=channels, size=size, patterns=patterns, preset=preset, seed=seed)
    results = []
    start = time.perf_counter()
    for index, job in enumerate(jobs, 1):
        say(f"[{index}/{len(jobs)}] {job['name']}: {job['bytes']} bytes on {job['channels']} "
            f"channel(s), {preset}")
        result = run_job(job, simulator=simulator, log=say)
        results.append(result)
        say(f"      {_efficiency(result):.1%} of peak in {result['cycles']} cycles "
            f"({result['wall_seconds']:.0f} s simulated, {time.perf_counter() - start:.0f} s "
            f"total)")
    summary = summarise(results, channels=channels)
    summary["simulator"] = simulator
    summary["size"] = size
    return summary


def format_report(summary: dict[str, Any]) -> str:
    """A table of the summary for people."""
    lines = [f"systole membench: {summary['preset']}, {summary['channels']} channel(s) x 256 bit "
             f"@ {summary['controller_clock_mhz']} MHz, peak {summary['peak_gbytes_per_s']} GB/s "
             f"({summary['simulator']})", "",
             f"{'pattern':<32} {'ch':>3} {'bytes':>9} {'cycles':>8} {'% peak':>7} {'GB/s':>7} "
             f"{'p50 ns':>7} {'p99 ns':>7}"]
    for name, p in summary["patterns"].items():
        p50 = "" if p["latency_p50_ns"] is None else f"{p['latency_p50_ns']:.0f}"
        p99 = "" if p["latency_p99_ns"] is None else f"{p['latency_p99_ns']:.0f}"
        lines.append(f"{name:<32} {p['channels']:>3} {p['bytes']:>9} {p['cycles']:>8} "
                     f"{p['efficiency']:>7.1%} {p['gbytes_per_s']:>7.2f} {p50:>7} {p99:>7}")
    lines.append("")
    for key in ("channel_scaling_4", "refresh_overhead", "refresh_overhead_all_bank",
                "refresh_all_bank_trfc_over_trefi", "latency_p50_ns", "latency_p99_ns"):
        if key in summary:
            lines.append(f"{key}: {summary[key]}")
    return "\n".join(lines)


def write_json(summary: dict[str, Any], path: Path) -> None:
    """Write the summary as indented JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2) + "\n")
