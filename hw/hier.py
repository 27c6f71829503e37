"""Hierarchy helpers: port lists, and a component standing in as an ``Instance`` of a
separately converted module.

Amaranth writes one Verilog module per submodule instance; a 128 x 128 array would take minutes
to convert. Repeated cells (PE, PE row) are therefore converted once and instantiated by name;
the parent still builds the component object, so its ports are wired exactly as in the native
(simulatable) hierarchy and only the leaf elaboration differs.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import ClockSignal, Const, Instance, ResetSignal, Value
from amaranth.hdl._ir import PortDirection
from amaranth.lib import wiring

__all__ = ["Port", "component_ports", "convert_ports", "blackbox"]


@dataclass(frozen=True)
class Port:
    """One Verilog port of a component: name, direction, the Amaranth value and its member."""

    name: str
    direction: str  # "input" or "output"
    value: Value
    member: wiring.Member

    @property
    def width(self) -> int:
        return len(self.value)


def component_ports(component: wiring.Component) -> list[Port]:
    """The ports Amaranth's Verilog backend gives ``component`` (``a__b`` names), in signature
    order, without constant members (the ``ready`` of an ``always_ready`` stream)."""
    ports = []
    for path, member, value in component.signature.flatten(component):
        value = Value.cast(value)
        if isinstance(value, Const):
            continue
        direction = "input" if member.flow == wiring.In else "output"
        ports.append(Port("__".join(str(part) for part in path), direction, value, member))
    return ports


def convert_ports(component: wiring.Component) -> dict:
    """``ports=`` argument for ``amaranth.back.verilog.convert``."""
    directions = {"input": PortDirection.Input, "output": PortDirection.Output}
    return {port.name: (port.value, directions[port.direction])
            for port in component_ports(component)}


def blackbox(component: wiring.Component, module_name: str, *, domain: str = "sync") -> Instance:
    """Return an ``Instance`` of ``module_name`` wired to ``component``'s ports.

    ``module_name`` must be the Verilog conversion of an equivalent component (same signature)
    that uses the ``sync`` domain; its ``clk`` and ``rst`` connect to ``domain``.
    """
    component._MustUse__silence = True  # the Instance stands in for its elaboration
    ports = {("i_" if port.direction == "input" else "o_") + port.name: port.value
             for port in component_ports(component)}
    return Instance(module_name, i_clk=ClockSignal(domain), i_rst=ResetSignal(domain), **ports)
