"""Just enough of the Liberty format: cell areas, pins and logic functions.

Used for two things: the flop and macro facts of the reports, and behavioural Verilog models of
the standard cells, generated from each cell's ``function`` / ``ff`` attributes, so that the
synthesised netlist (the one that was timed) can be simulated with Icarus Verilog.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Cell", "Pin", "Flop", "read_cells", "function_to_verilog", "cell_model", "cell_models"]


@dataclass
class Pin:
    name: str
    direction: str
    function: str | None = None


@dataclass
class Flop:
    """A Liberty ``ff`` group: state variables, clock, next state, asynchronous clear/preset."""

    iq: str
    iqn: str
    clocked_on: str
    next_state: str
    clear: str | None = None
    preset: str | None = None


@dataclass
class Cell:
    name: str
    area: float
    pins: dict[str, Pin] = field(default_factory=dict)
    flop: Flop | None = None
    latch: bool = False

    @property
    def inputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "input"]

    @property
    def outputs(self) -> list[str]:
        return [p.name for p in self.pins.values() if p.direction == "output"]


def _open(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("ascii", errors="replace")


def _attr(body: str, name: str) -> str | None:
    match = re.search(rf'(?<![A-Za-z_]){name}\s*:\s*"?([^";\n]*)"?\s*;', body)
    return match.group(1).strip() if match else None


def _groups(body: str, kind: str):
    """Yield (argument, body) of every group ``kind (...) { ... }`` in ``body``."""
    for match in re.finditer(rf'(?<![A-Za-z_]){kind}\s*\(\s*([^)]*)\)\s*\{{', body):
        depth, pos = 1, match.end()
        while depth:
            nxt = min(i for i in (body.find("{", pos), body.find("}", pos)) if i >= 0)
            depth += 1 if body[nxt] == "{" else -1
            pos = nxt + 1
        yield match.group(1).replace('"', "").strip(), body[match.end():pos - 1]


def read_cells(path: str | Path, names: set[str] | None = None) -> dict[str, Cell]:
    """Cells of the Liberty file ``path`` (plain or gzip), or only those in ``names``."""
    cells = {}
    for name, body in _groups(_open(Path(path)), "cell"):
        if names is not None and name not in names:
            continue
        cell = Cell(name=name, area=float(_attr(body, "area") or 0.0))
        for pin_name, pin_body in _groups(body, "pin"):
            direction = _attr(pin_body, "direction") or "input"
            cell.pins[pin_name] = Pin(pin_name, direction, _attr(pin_body, "function"))
        for states, ff_body in _groups(body, "ff"):
            iq, iqn = (s.strip() for s in states.split(","))
            cell.flop = Flop(iq, iqn, _attr(ff_body, "clocked_on"), _attr(ff_body, "next_state"),
                             _attr(ff_body, "clear"), _attr(ff_body, "preset"))
        cell.latch = any(True for _ in _groups(body, "latch"))
        cells[name] = cell
    return cells


# Liberty boolean functions: ! and postfix ' are NOT, & * and juxtaposition are AND, | + are OR,
# ^ is XOR. Parsed by precedence climbing into a fully parenthesised Verilog expression.
_FUNC_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|[01]|[!'&*|+^()])")


def function_to_verilog(function: str) -> str:
    """Translate a Liberty ``function`` string to a Verilog expression."""
    tokens = _FUNC_TOKEN.findall(function)
    if "".join(tokens) != re.sub(r"\s+", "", function):
        raise ValueError(f"cannot parse Liberty function {function!r}")
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"unexpected end of Liberty function {function!r} "
                             f"(unbalanced parentheses?)")
        pos += 1
        return tokens[pos - 1]

    def primary() -> str:
        tok = take()
        if tok == "!":
            value = f"(~{primary()})"
        elif tok == "(":
            value = or_expr()
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in {function!r}")
        elif tok in ("0", "1"):
            value = f"1'b{tok}"
        elif re.fullmatch(r"[A-Za-z_]\w*", tok):
            value = tok
        else:
            raise ValueError(f"unexpected {tok!r} in {function!r}")
        while peek() == "'":
            take()
            value = f"(~{value})"
        return value

    def and_expr() -> str:
        value = primary()
        while peek() is not None and peek() not in ("|", "+", "^", ")"):
            if peek() in ("&", "*"):
                take()
            value = f"({value} & {primary()})"
        return value

    def binary(operand, operators: tuple[str, ...], verilog_op: str):
        def parse() -> str:
            value = operand()
            while peek() in operators:
                take()
                value = f"({value} {verilog_op} {operand()})"
            return value
        return parse

    xor_expr = binary(and_expr, ("^",), "^")
    or_expr = binary(xor_expr, ("|", "+"), "|")

    result = or_expr()
    if pos != len(tokens):
        raise ValueError(f"trailing tokens in {function!r}")
    return result


def _edge(clocked_on: str) -> tuple[str, str]:
    """(Verilog edge, signal) of a clock expression ``CLK`` or ``!CLK_N``."""
    text = clocked_on.replace(" ", "")
    if re.fullmatch(r"[A-Za-z_]\w*", text):
        return "posedge", text
    match = re.fullmatch(r"!([A-Za-z_]\w*)|([A-Za-z_]\w*)'", text)
    if match:
        return "negedge", match.group(1) or match.group(2)
    raise ValueError(f"unsupported clock expression {clocked_on!r}")


def _active_low(expr: str) -> tuple[str, str]:
    """(edge, signal) for an asynchronous control such as ``!RESET_B`` or ``SET``."""
    edge, signal = _edge(expr)
    return ("negedge" if edge == "negedge" else "posedge"), signal


def cell_model(cell: Cell) -> str:
    """Behavioural Verilog of one cell (combinational or edge-triggered flop)."""
    if cell.latch:
        raise ValueError(f"{cell.name}: latches are not modelled (keep them out of synthesis)")
    ports = [*cell.inputs, *cell.outputs]
    lines = [f"module {cell.name} ({', '.join(ports)});"]
    lines += [f"  input {name};" for name in cell.inputs]
    lines += [f"  output {name};" for name in cell.outputs]
    if cell.flop is not None:
        ff = cell.flop
        lines.append(f"  reg {ff.iq};")
        lines.append(f"  wire {ff.iqn} = ~{ff.iq};")
        edge, clk = _edge(ff.clocked_on)
        events = [f"{edge} {clk}"]
        body = []
        if ff.clear:
            cedge, csig = _active_low(ff.clear)
            events.append(f"{cedge} {csig}")
            body.append(f"if ({function_to_verilog(ff.clear)}) {ff.iq} <= 1'b0;")
        if ff.preset:
            pedge, psig = _active_low(ff.preset)
            events.append(f"{pedge} {psig}")
            body.append(f"{'else ' if body else ''}if ({function_to_verilog(ff.preset)}) "
                        f"{ff.iq} <= 1'b1;")
        nxt = f"{ff.iq} <= {function_to_verilog(ff.next_state)};"
        body.append(f"else {nxt}" if body else nxt)
        lines.append(f"  always @({' or '.join(events)}) begin")
        lines += [f"    {line}" for line in body]
        lines.append("  end")
    for name in cell.outputs:
        function = cell.pins[name].function
        if function is None:
            raise ValueError(f"{cell.name}.{name}: output without a function")
        lines.append(f"  assign {name} = {function_to_verilog(function)};")
    lines.append("endmodule")
    return "\n".join(lines) + "\n"


def cell_models(cells: dict[str, Cell]) -> str:
    """Verilog models of ``cells``, sorted by name (reproducible)."""
    header = ("// Behavioural models of standard cells, generated by systole from the Liberty\n"
              "// `function` and `ff` attributes (logic only, no timing).\n`timescale 1ns/1ps\n")
    return header + "".join(cell_model(cells[name]) for name in sorted(cells))
