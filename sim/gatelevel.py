"""Gate-level check: the synthesised SKY130 netlist against the RTL, in Icarus Verilog.

The netlist is the one :func:`systole.asic.run_asic` wrote and timed (``netlist.v``); the cells
are simulated with behavioural models generated from the Liberty ``function``/``ff`` attributes
(:func:`systole.asic.liberty.cell_models`). One plain-Verilog testbench drives every input of
the top with seeded random values each cycle (reset for the first cycles) and prints every
output each cycle; it is compiled once with the RTL and once with the netlist, and the two
transcripts must be identical after ``warmup`` cycles (before that, datapath registers without
reset are still X in the netlist, and 0 in the RTL). An X or Z in the netlist's outputs after the
warm-up is a mismatch too.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GateLevelResult", "testbench", "simulate", "gate_level_check"]

RESET_CYCLES = 3


@dataclass
class GateLevelResult:
    top: str
    cycles: int
    compared: int
    mismatches: list[str]
    out_dir: str

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.compared > 0


def testbench(top: str, ports: list[dict], *, cycles: int, seed: int) -> str:
    """Verilog testbench ``tb``: random stimulus on every input but ``clk``/``rst``, one line of
    outputs per cycle (``cycle`` then each output in hex, in port order)."""
    rng = random.Random(seed)
    inputs = [p for p in ports if p["direction"] == "input" and p["name"] not in ("clk", "rst")]
    outputs = [p for p in ports if p["direction"] == "output"]
    lines = ["`timescale 1ns/1ps", "module tb;", "  reg clk = 0;", "  reg rst = 1;",
             "  integer cycle;", f"  integer seed = {rng.randrange(1 << 30)};"]
    for p in inputs:
        lines.append(f"  reg [{p['width'] - 1}:0] {p['name']} = 0;")
    for p in outputs:
        lines.append(f"  wire [{p['width'] - 1}:0] {p['name']};")
    conns = ", ".join(f".{p['name']}({p['name']})"
                      for p in [{"name": "clk"}, {"name": "rst"}, *inputs, *outputs])
    lines.append(f"  {top} dut ({conns});")
    lines.append("  always #5 clk = ~clk;")
    lines.append("  initial begin")
    lines.append(f"    for (cycle = 0; cycle < {cycles}; cycle = cycle + 1) begin")
    lines.append("      @(negedge clk);")
    fmt = " ".join("%h" for _ in outputs)
    args = ", ".join(p["name"] for p in outputs)
    lines.append(f'      $display("%0d {fmt}", cycle, {args});')
    lines.append(f"      rst = cycle < {RESET_CYCLES};")
    for p in inputs:
        words = (p["width"] + 31) // 32
        value = "{" + ", ".join("$random(seed)" for _ in range(words)) + "}"
        lines.append(f"      {p['name']} = {value};")
    lines += ["    end", "    $finish;", "  end", "endmodule"]
    return "\n".join(lines) + "\n"


def simulate(out: Path, name: str, sources: list[Path]) -> list[str]:
    """Compile :func:`testbench`'s ``tb`` with ``sources`` in Icarus Verilog, run it and return
    its transcript (also written to ``out/name.txt``)."""
    if shutil.which("iverilog") is None:
        raise RuntimeError("iverilog not found: run `make setup` (Debian package iverilog)")
    binary = out / f"{name}.vvp"
    result = subprocess.run(["iverilog", "-g2012", "-o", str(binary), "-s", "tb",
                             *map(str, sources)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"iverilog ({name}) failed:\n{result.stderr[-3000:]}")
    result = subprocess.run(["vvp", "-n", str(binary)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"vvp ({name}) failed:\n{result.stderr[-3000:]}")
    lines = [line for line in result.stdout.splitlines() if line and line[0].isdigit()]
    (out / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return lines


def gate_level_check(report: dict, *, cycles: int = 300, warmup: int = 12,
                     seed: int = 1) -> GateLevelResult:
    """Compare RTL and netlist of the run whose ``report.json`` content is ``report``."""
    from systole.asic.flow import STD_LIB
    from systole.asic.liberty import cell_models, read_cells

    out = Path(report["out_dir"])
    top = report["top"]
    ports = json.loads((out / "ports.json").read_text())
    rtl = sorted(p for p in out.glob("*.v") if p.name not in ("netlist.v", "cells.v")
                 and not p.name.startswith(("tb", "sram")))
    used = set(re.findall(r"^\s*(sky130_fd_sc_\w+) ", (out / "netlist.v").read_text(), re.M))
    lib = out / STD_LIB.removesuffix(".gz")
    (out / "cells.v").write_text(cell_models(read_cells(lib, used)))
    (out / "tb.v").write_text(testbench(top, ports, cycles=cycles, seed=seed))
    want = simulate(out, "tb_rtl", [out / "tb.v", *rtl])
    got = simulate(out, "tb_gates", [out / "tb.v", out / "netlist.v", out / "cells.v"])
    mismatches = []
    if len(want) != cycles or len(got) != cycles:
        mismatches.append(f"transcripts have {len(want)} (RTL) and {len(got)} (gates) lines, "
                          f"expected {cycles}")
    compared = 0
    for expected, actual in zip(want[warmup:], got[warmup:], strict=False):
        compared += 1
        if expected != actual or any(c in actual.lower() for c in "xz"):
            mismatches.append(f"RTL   {expected}\ngates {actual}")
    return GateLevelResult(top, cycles, compared, mismatches[:5], str(out))
