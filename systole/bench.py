"""``systole bench``: GEMM shapes and array sizes through the whole chip in RTL simulation.

Every case is a :func:`systole.run.run_gemm` (Verilator, HBM2E model, checked against numpy and
the golden model) and is listed next to

* the cycle model's prediction (:mod:`systole.sim.cyclemodel`),
* SCALE-Sim's analytical model of a weight-stationary array that runs folds back to back:
  ``cycles = folds * (2R + C + T - 2)`` with ``folds = ceil(K/R) * ceil(N/C)`` and ``T = M``,
* the ideal (every PE busy every cycle, padding of partial tiles counted as lost).

Outputs: ``bench.json`` (every number), ``bench.md`` (the table the README shows) and two plots,
utilisation versus GEMM size and a roofline against the HBM model's sustained bandwidth.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .hw.config import SystoleConfig, preset

__all__ = ["Case", "CASES", "QUICK_CASES", "run_bench", "scalesim_cycles", "write_outputs"]

@dataclass(frozen=True)
class Case:
    """One benchmark case: a configuration and a GEMM (A is M x K, B is K x N)."""

    config: str          # preset name, or "RxC": the default preset with an R x C array
    m: int
    k: int
    n: int
    kind: str            # "square", "skinny", "gemv"

    def build_config(self) -> SystoleConfig:
        if self.config in ("tiny", "default"):
            return preset(self.config)
        rows, cols = (int(v) for v in self.config.split("x"))
        return preset("default").with_array(rows, cols)


CASES = (
    Case("default", 32, 32, 32, "square"),
    Case("default", 64, 64, 64, "square"),
    Case("default", 128, 128, 128, "square"),
    Case("default", 256, 256, 256, "square"),
    Case("default", 512, 512, 512, "square"),
    Case("default", 1024, 64, 64, "skinny"),
    Case("default", 16, 512, 512, "skinny"),
    Case("default", 1, 256, 256, "gemv"),
    Case("default", 1, 2048, 2048, "gemv"),
    # A tall array takes 128 bytes of B^T per cycle: the GEMV becomes memory-bound.
    Case("128x16", 1, 2048, 2048, "gemv"),
    Case("8x8", 64, 64, 64, "square"),
    Case("8x8", 256, 256, 256, "square"),
    Case("tiny", 64, 64, 64, "square"),
)
QUICK_CASES = (Case("tiny", 12, 9, 7, "square"), Case("tiny", 1, 16, 8, "gemv"))


def scalesim_cycles(m: int, k: int, n: int, rows: int, cols: int) -> int:
    """SCALE-Sim's weight-stationary estimate: ``folds * (2R + C + T - 2)``."""
    folds = math.ceil(k / rows) * math.ceil(n / cols)
    return folds * (2 * rows + cols + m - 2)


def _ideal_utilization(m: int, k: int, n: int, rows: int, cols: int) -> float:
    """Utilisation with every PE busy every cycle, partial tiles padded, in the better of the
    two mappings (C = A @ B pads N to the columns, C^T = B^T A^T pads M)."""
    def padded(columns: int) -> float:
        return (k * columns) / (math.ceil(k / rows) * rows * math.ceil(columns / cols) * cols)
    return max(padded(n), padded(m))


def run_case(case: Case, *, seed: int = 0) -> dict:
    from .run import run_gemm, sustained_bytes_per_cycle

    config = case.build_config()
    rows, cols = config.array.rows, config.array.cols
    report = run_gemm(config, case.m, case.k, case.n, seed=seed)
    moved = report.bytes_read + report.bytes_written
    scalesim = scalesim_cycles(case.m, case.k, case.n, rows, cols)
    macs = case.m * case.k * case.n
    return {
        "config": config.name, "rows": rows, "cols": cols, "kind": case.kind,
        "m": case.m, "k": case.k, "n": case.n, "transposed": report.transposed,
        "mapping": report.mapping,
        "ok": report.ok,
        "cycles": report.cycles, "utilization": round(report.utilization, 4),
        "model_cycles": report.model_cycles,
        "model_error": round((report.model_cycles - report.cycles) / report.cycles, 4),
        "scalesim_cycles": scalesim,
        "scalesim_utilization": round(macs / (rows * cols * scalesim), 4),
        "ideal_utilization": round(_ideal_utilization(case.m, case.k, case.n, rows, cols), 4),
        "bytes_read": report.bytes_read, "bytes_written": report.bytes_written,
        "bytes_per_cycle": report.bytes_per_cycle,
        "bandwidth_fraction": report.bandwidth_fraction,
        "operand_bandwidth_fraction": report.operand_bandwidth_fraction,
        "sustained_bytes_per_cycle": round(sustained_bytes_per_cycle(config), 2),
        "macs_per_byte": round(macs / moved, 2),
        "macs_per_cycle": round(macs / report.cycles, 2),
        "stalls": {"busy": report.array_busy_cycles, **report.stalls},
        "sim_cycles_per_second": report.sim_cycles_per_second,
    }


def run_bench(cases=CASES, *, seed: int = 0, progress=sys.stderr) -> dict:
    """Run ``cases``; return the JSON-able results."""
    results = []
    for index, case in enumerate(cases, 1):
        print(f"[bench] {index}/{len(cases)}: {case.config} {case.m} x {case.k} x {case.n} ...",
              file=progress, flush=True)
        start = time.perf_counter()
        row = run_case(case, seed=seed)
        row["wall_seconds"] = round(time.perf_counter() - start, 1)
        results.append(row)
        print(f"[bench]   {row['cycles']:,} cycles, utilisation {row['utilization']:.3f}, "
              f"model {row['model_error']:+.1%}, {row['wall_seconds']} s", file=progress,
              flush=True)
    return {
        "machine": f"{platform.machine()}, {_cpus()} CPUs, Python {platform.python_version()}",
        "memory_model": "hbm2e (sim/hbm), 800 MHz controller = chip clock",
        "cases": results,
    }


def _cpus() -> int:
    import os
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


#: How the table marks a case's mapping (C = A @ B unmarked).
_MARKS = {"transposed": " (C^T)", "matvec": " (MATVEC)"}


def markdown_table(bench: dict) -> str:
    lines = [
        "| array | M x K x N | cycles | utilisation | cycle model (error) | SCALE-Sim | ideal "
        "| bytes/cycle (of sustained) | A, B, C bytes of sustained | ok |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in bench["cases"]:
        lines.append(
            f"| {r['rows']}x{r['cols']} | {r['m']} x {r['k']} x {r['n']}"
            f"{_MARKS.get(r.get('mapping', 'transposed' if r.get('transposed') else ''), '')}"
            f" | {r['cycles']:,} "
            f"| {r['utilization']:.3f} | {r['model_cycles']:,} ({r['model_error']:+.1%}) "
            f"| {r['scalesim_utilization']:.3f} | {r['ideal_utilization']:.3f} "
            f"| {r['bytes_per_cycle']:.1f} ({r['bandwidth_fraction']:.1%}) "
            f"| {r['operand_bandwidth_fraction']:.1%} "
            f"| {'yes' if r['ok'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def plot(bench: dict, out_dir: Path) -> list[Path]:
    """Utilisation versus size (square GEMMs) and a roofline; returns the PNG paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for array in sorted({(r["rows"], r["cols"]) for r in bench["cases"]}):
        rows = [r for r in bench["cases"] if (r["rows"], r["cols"]) == array
                and r["kind"] == "square"]
        if not rows:
            continue
        sizes = [r["m"] for r in rows]
        label = f"{array[0]}x{array[1]}"
        ax.plot(sizes, [r["utilization"] for r in rows], "o-", label=f"RTL {label}")
        ax.plot(sizes, [r["scalesim_utilization"] for r in rows], "s--",
                label=f"SCALE-Sim {label}")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":", label="ideal")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("M = K = N")
    ax.set_ylabel("array utilisation")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8)
    ax.set_title("Square int8 GEMMs, HBM2E model")
    fig.tight_layout()
    paths.append(out_dir / "bench_utilization.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    default = [r for r in bench["cases"] if (r["rows"], r["cols"]) == (16, 16)]
    if default:
        peak = 16 * 16
        bandwidth = default[0]["sustained_bytes_per_cycle"]
        xs = [2 ** e for e in range(-4, 10)]
        ax.plot(xs, [min(peak, bandwidth * x) for x in xs], "k-",
                label=f"roofline: {peak} MAC/cycle, {bandwidth:.0f} B/cycle")
        for r in default:
            ax.plot(r["macs_per_byte"], r["macs_per_cycle"], "o")
            ax.annotate(f"{r['m']}x{r['k']}x{r['n']}", (r["macs_per_byte"], r["macs_per_cycle"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("arithmetic intensity (MACs per byte moved)")
    ax.set_ylabel("MACs per cycle")
    if default:
        ax.legend(fontsize=8)
    ax.set_title("Roofline, 16x16 array, HBM2E model (4 channels)")
    fig.tight_layout()
    paths.append(out_dir / "bench_roofline.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def write_outputs(bench: dict, out: Path, *, plots: bool = True) -> list[Path]:
    """Write ``out`` (JSON), ``bench.md`` next to it and the plots; return the paths."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(bench, indent=2) + "\n")
    table = out.with_suffix(".md")
    table.write_text(markdown_table(bench))
    paths = [out, table]
    if plots:
        paths += plot(bench, out.parent)
    return paths
