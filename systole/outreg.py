"""Move the flip-flops behind ECP5 block RAM outputs into the DP16KD's own output register.

Yosys maps a memory read port to a DP16KD without its output register (``REGMODE=NOREG``),
whose clock-to-out nextpnr puts at 5.83 ns; a register the design keeps right behind the read
port (the ``ulx3s`` presets' registered reads) stays a fabric flip-flop, often placed far from
the block RAM, and the route to it comes on top. Yosys cannot merge that register into the
block RAM (its memory mapper has no rule for the output register), so this pass does it on
the synthesised netlist (yosys's JSON, before nextpnr): where every used output bit of one
DP16KD read port drives exactly one flip-flop's D input and nothing else, and those flip-flops
share the port's clock and one clock enable and have no set or reset, the flip-flops go and
the port becomes ``REGMODE=OUTREG`` with their clock enable on ``OCE`` (0.96 ns clock-to-out).

The same values, cycle for cycle: without the output register the port's output latch loads
the addressed word on a clock edge with ``CE`` and holds it; the flip-flops loaded that latch
on every edge with their enable. ``OUTREG`` loads the latch into the output register on every
edge with ``OCE``. Both start at zero. A 36-bit (pseudo dual port) DP16KD reads on port B with
its word on both sides' outputs: both sides change together, ``REGMODE_A`` and ``REGMODE_B``
and both ``OCE`` pins. ``tests/test_outreg.py`` simulates netlists before and after the pass
against the RTL (``sim/models/DP16KD.v``).

Run as ``python outreg.py NETLIST.json [LOG]``: the netlist is rewritten in place and the
ports changed are listed in ``LOG`` (one ``cell:A``, ``cell:B`` or ``cell:AB`` a line).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

__all__ = ["absorb_output_registers", "absorb_file"]

_WIDTH = 18      # data outputs per DP16KD side


def _const(bit) -> bool:
    """A constant bit of yosys's JSON ("0", "1", "x", "z"); nets are integers."""
    return isinstance(bit, str)


def _int(value) -> int:
    """A yosys JSON parameter: a binary string or an integer."""
    return int(value, 2) if isinstance(value, str) else int(value)


def absorb_output_registers(netlist: dict) -> list[str]:
    """Absorb flip-flops into DP16KD output registers in every module of ``netlist`` (yosys
    JSON, changed in place); return the ports changed (``"cell:A"``, ``"cell:B"`` or
    ``"cell:AB"`` for a 36-bit block RAM)."""
    changed = []
    for module in netlist["modules"].values():
        changed += _absorb_module(module)
    return changed


def _sinks(cells: dict) -> dict:
    sinks = defaultdict(list)
    for name, cell in cells.items():
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) != "output":
                for bit in bits:
                    if not _const(bit):
                        sinks[bit].append((name, port))
    return sinks


def _absorb_module(module: dict) -> list[str]:
    cells = module["cells"]
    sinks = _sinks(cells)
    top_ports = {bit for port in module.get("ports", {}).values() for bit in port["bits"]}
    changed = []
    for name, cell in list(cells.items()):
        if cell["type"] != "DP16KD":
            continue
        params = cell["parameters"]
        widths = [_int(params.get(f"DATA_WIDTH_{side}", 18)) for side in "AB"]
        # 36 bits (pseudo dual port): one read port, B, whose word is on DOA and DOB.
        for sides in [("A", "B")] if 36 in widths else [("A",), ("B",)]:
            ffs = _absorbable(cell, sides, cells, sinks, top_ports)
            if ffs is None:
                continue
            enable = ffs[0][2]
            for port, ff_name, _ in ffs:
                cell["connections"][port] = [cells[ff_name]["connections"]["Q"][0]]
                del cells[ff_name]
            for side in sides:
                cell["connections"][f"OCE{side}"] = [enable]
                params[f"REGMODE_{side}"] = "OUTREG"
            changed.append(f"{name}:{''.join(sides)}")
    return changed


def _absorbable(cell: dict, sides: tuple, cells: dict, sinks: dict, top_ports: set):
    """The flip-flops behind the outputs of ``sides`` of a DP16KD, as ``(output port, cell
    name, clock enable)``, if they can all go into its output register; else ``None``."""
    params, conn = cell["parameters"], cell["connections"]
    clock_side = sides[-1]      # a 36-bit block RAM reads on B
    if any(params.get(f"REGMODE_{side}", "NOREG") != "NOREG" for side in sides):
        return None
    if params.get(f"CLK{clock_side}MUX", f"CLK{clock_side}") != f"CLK{clock_side}":
        return None
    clock = conn.get(f"CLK{clock_side}", ["0"])[0]
    if _const(clock):
        return None
    ffs = []
    for side in sides:
        for i in range(_WIDTH):
            port = f"DO{side}{i}"
            bit = conn.get(port, ["x"])[0]
            if _const(bit) or not sinks.get(bit):
                continue            # not used
            if bit in top_ports or len(sinks[bit]) != 1:
                return None
            ff_name, ff_port = sinks[bit][0]
            ff = cells[ff_name]
            if ff["type"] != "TRELLIS_FF" or ff_port != "DI":
                return None
            p, c = ff["parameters"], ff["connections"]
            cemux = str(p.get("CEMUX", "1")).strip()
            if (c["CLK"][0] != clock or p.get("CLKMUX", "CLK") != "CLK"
                    or p.get("REGSET", "RESET") != "RESET" or cemux not in ("1", "CE")
                    or c.get("LSR", ["0"])[0] != "0"):
                return None
            enable = "1" if cemux == "1" else c["CE"][0]
            if ffs and enable != ffs[0][2]:
                return None
            ffs.append((port, ff_name, enable))
    return ffs or None


def absorb_file(path: str | Path) -> list[str]:
    """:func:`absorb_output_registers` on a yosys JSON file, rewritten in place."""
    path = Path(path)
    netlist = json.loads(path.read_text())
    changed = absorb_output_registers(netlist)
    path.write_text(json.dumps(netlist))
    return changed


if __name__ == "__main__":
    ports = absorb_file(sys.argv[1])
    text = "".join(f"{port}\n" for port in ports)
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(text)
    else:
        sys.stdout.write(text)
