"""The README's SKY130 table: PE, 8x8 and 16x16 arrays and the default chip (``make asic``).

``python -m systole.asic.table [--out results/asic.json] [--period NS]`` runs the four
syntheses (the chip takes several minutes), prints a Markdown table and writes the reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from systole.hw.config import ArrayConfig, SystoleConfig, preset

from .flow import CORNER, run_asic

__all__ = ["ROWS", "main", "markdown"]

#: (label, configuration, scope) of each table row.
ROWS = [
    ("PE (int8 MAC)", lambda: preset("default"), "pe"),
    ("8 x 8 array", lambda: SystoleConfig(array=ArrayConfig(rows=8, cols=8)), "array"),
    ("16 x 16 array", lambda: preset("default"), "array"),
    ("default chip (16 x 16, SRAM buffers)", lambda: preset("default"), "chip"),
]


def markdown(reports: list[tuple[str, dict]]) -> str:
    lines = ["| design | area (mm^2) | logic / memory (mm^2) | cells | flip-flops | "
             "critical path (ns) | fmax (MHz) | peak int8 TOPS | TOPS/mm^2 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, r in reports:
        lines.append(
            f"| {label} | {r['area_um2'] / 1e6:.4f} | {r['logic_area_um2'] / 1e6:.4f} / "
            f"{r['memory_area_um2'] / 1e6:.3f} | {r['cells']:,} | {r['flops']:,} | "
            f"{r['critical_path_ns']:.2f} | {r['fmax_mhz']:.0f} | {r['peak_int8_tops']:.4f} | "
            f"{r['tops_per_mm2']:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m systole.asic.table", description=__doc__)
    parser.add_argument("--out", default="results/asic.json", help="JSON summary file")
    parser.add_argument("--period", type=float, default=4.0, help="clock period (ns)")
    parser.add_argument("--skip-chip", action="store_true", help="leave out the chip row")
    parser.add_argument("--show", action="store_true",
                        help="only print the table of an existing --out file")
    args = parser.parse_args(argv)
    if args.show:
        rows = json.loads(Path(args.out).read_text())["rows"]
        print(markdown([(row["label"], row) for row in rows]))
        return 0
    reports = []
    for label, make_config, scope in ROWS:
        if scope == "chip" and args.skip_chip:
            continue
        print(f"asic table: {label}", file=sys.stderr, flush=True)
        result = run_asic(make_config(), scope=scope, period_ns=args.period,
                          progress=lambda text: print(f"  {text}", file=sys.stderr, flush=True))
        reports.append((label, result.to_dict()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"library": CORNER, "pre_layout": True,
                               "rows": [{"label": label, **r} for label, r in reports]},
                              indent=2) + "\n")
    print(markdown(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
