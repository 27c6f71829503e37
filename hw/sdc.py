"""Timing constraints (SDC) of a generated design, for downstream synthesis and timing tools.

One clock ``clk`` on the port of that name; every other input and every output gets an external
delay of ``io_fraction`` of the period (a budget for the logic outside the block), written as an
absolute number of nanoseconds, so the constraints stay the same when only the analysis period
changes. ``rst`` is synchronous and is constrained like any other input.
"""

from __future__ import annotations

__all__ = ["DEFAULT_PERIOD_NS", "DEFAULT_IO_FRACTION", "sdc_text"]

#: Default clock period: 250 MHz, the PE's frequency target in the typical corner.
DEFAULT_PERIOD_NS = 4.0
#: Share of the clock period left to the logic outside the block on each input and output.
DEFAULT_IO_FRACTION = 0.2


def _check(period_ns: float, io_fraction: float) -> None:
    if not period_ns > 0:
        raise ValueError(f"period_ns must be positive, not {period_ns!r}")
    if not 0 <= io_fraction < 1:
        raise ValueError(f"io_fraction must be in [0, 1), not {io_fraction!r}")


def sdc_text(top: str, ports: list[dict], *, period_ns: float = DEFAULT_PERIOD_NS,
             io_fraction: float = DEFAULT_IO_FRACTION) -> str:
    """SDC for module ``top`` with the port list of its JSON description (``name``,
    ``direction``, ``width``); the clock port is the one whose shape kind is ``clock``."""
    _check(period_ns, io_fraction)
    clocks = [p["name"] for p in ports if p.get("shape", {}).get("kind") == "clock"]
    if len(clocks) != 1:
        raise ValueError(f"{top}: expected exactly one clock port, found {clocks}")
    clock = clocks[0]
    delay = round(period_ns * io_fraction, 4)
    inputs = sorted(p["name"] for p in ports if p["direction"] == "input" and p["name"] != clock)
    outputs = sorted(p["name"] for p in ports if p["direction"] == "output")
    lines = [
        f"# {top}: timing constraints written by systole (pre-layout, ideal clock).",
        f"# Clock period {period_ns:g} ns ({1000 / period_ns:.1f} MHz); inputs and outputs",
        f"# get {io_fraction:.0%} of the period ({delay:g} ns) as external delay.",
        f"create_clock -name {clock} -period {period_ns:g} [get_ports {{{clock}}}]",
    ]
    if inputs:
        lines.append(f"set_input_delay {delay:g} -clock {clock} "
                     f"[get_ports {{{' '.join(inputs)}}}]")
    if outputs:
        lines.append(f"set_output_delay {delay:g} -clock {clock} "
                     f"[get_ports {{{' '.join(outputs)}}}]")
    return "\n".join(lines) + "\n"
