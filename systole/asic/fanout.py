"""Fanout buffering of a mapped netlist (Yosys JSON), the part of "repair design" that matters
before placement.

ABC sizes and buffers the logic it sees, but a net that leaves its logic cone to drive many
flip-flops (an enable of a 256-bit register, a column-wide shift strobe) looks to it like one
output with one load. Without a buffer tree such a net has a transition time of many
nanoseconds in static timing, which no placement flow would leave. This pass gives every net
with more than ``max_fanout`` cell inputs a tree of buffers, ``max_fanout`` loads per buffer,
level by level, in each module separately. Module ports stay on the original net.
"""

from __future__ import annotations

from collections import defaultdict

__all__ = ["buffer_fanout"]


def _directions(module: dict, cell: dict, modules: dict, library: dict) -> dict | None:
    if cell.get("port_directions"):
        return cell["port_directions"]
    kind = cell["type"]
    if kind in library:
        return library[kind]
    sub = modules.get(kind) or modules.get("\\" + kind)
    if sub is not None:
        return {name: port["direction"] for name, port in sub["ports"].items()}
    return None


def buffer_fanout(netlist: dict, library: dict[str, dict[str, str]], *, buffer: str,
                  buffer_in: str = "A", buffer_out: str = "X", max_fanout: int = 16) -> int:
    """Insert buffer trees in ``netlist`` (Yosys ``write_json`` data, changed in place).

    ``library`` maps standard-cell names to ``{pin: "input" | "output"}``. Cells of unknown type
    (black boxes) are left alone. Returns the number of buffers added."""
    if max_fanout < 2:
        raise ValueError(f"max_fanout must be at least 2, not {max_fanout}")
    modules = netlist["modules"]
    added = 0
    for module in modules.values():
        cells = module.get("cells", {})
        next_bit = 1 + max((bit for net in module.get("netnames", {}).values()
                            for bit in net["bits"] if isinstance(bit, int)), default=1)
        serial = 0
        while True:
            sinks: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
            for name, cell in cells.items():
                dirs = _directions(module, cell, modules, library)
                if dirs is None:
                    continue
                for pin, bits in cell["connections"].items():
                    if dirs.get(pin) != "input":
                        continue
                    for index, bit in enumerate(bits):
                        if isinstance(bit, int):
                            sinks[bit].append((name, pin, index))
            heavy = {bit: loads for bit, loads in sinks.items() if len(loads) > max_fanout}
            if not heavy:
                break
            for bit, loads in sorted(heavy.items()):
                for start in range(0, len(loads), max_fanout):
                    new = next_bit
                    next_bit += 1
                    serial += 1
                    cell_name = f"$fanout_buf${serial}"
                    while cell_name in cells:
                        serial += 1
                        cell_name = f"$fanout_buf${serial}"
                    cells[cell_name] = {
                        "hide_name": 1, "type": buffer, "parameters": {}, "attributes": {},
                        "port_directions": {buffer_in: "input", buffer_out: "output"},
                        "connections": {buffer_in: [bit], buffer_out: [new]}}
                    module.setdefault("netnames", {})[f"$fanout_net${serial}"] = {
                        "hide_name": 1, "bits": [new], "attributes": {}}
                    for name, pin, index in loads[start:start + max_fanout]:
                        cells[name]["connections"][pin][index] = new
                    added += 1
    return added
