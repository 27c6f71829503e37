"""Verilog generation: the array as readable, reproducible Verilog plus a JSON description."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, Shape
from amaranth.hdl._ir import PortDirection
from amaranth.lib import data, wiring

from .array import SystolicArray
from .axi import flatten_axi
from .config import SystoleConfig
from .grid import PERow
from .hier import component_ports, convert_ports
from .memsys import MemorySubsystem
from .pe import ProcessingElement

__all__ = ["Design", "build_design", "build_memsys_design", "write_design", "describe_shape",
           "TOPS"]

TOP_NAME = "systole_array"


def describe_shape(shape) -> dict:
    """JSON view of a port's shape: plain ints, ``ArrayLayout`` and ``StructLayout`` payloads."""
    if isinstance(shape, data.ArrayLayout):
        return {"kind": "array", "width": shape.size, "count": shape.length,
                "element": describe_shape(shape.elem_shape)}
    if isinstance(shape, data.StructLayout):
        fields = {name: {"offset": field.offset, **describe_shape(field.shape)}
                  for name, field in shape}
        return {"kind": "struct", "width": shape.size, "fields": fields}
    shape = Shape.cast(shape)
    return {"kind": "int", "width": shape.width, "signed": shape.signed}


@dataclass(frozen=True)
class Design:
    """Generated files of one configuration, as text."""

    top: str
    verilog: str
    description: dict

    def files(self) -> dict[str, str]:
        return {f"{self.top}.v": self.verilog,
                f"{self.top}.json": json.dumps(self.description, indent=2, sort_keys=True) + "\n"}


def _convert(component: wiring.Component, name: str) -> str:
    return verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True,
                           ports=convert_ports(component))


def build_design(config: SystoleConfig, *, top: str = TOP_NAME) -> Design:
    """Convert the array of ``config`` to Verilog.

    The PE and the PE row are converted once each and instantiated by name (modules
    ``<top>_pe`` and ``<top>_pe_row``), so conversion time grows with rows + cols, not with
    rows x cols. Output depends only on ``config`` and ``top`` (no paths, no dates).
    """
    array_cfg = config.array
    pe_name, row_name = f"{top}_pe", f"{top}_pe_row"
    array = SystolicArray(array_cfg, row_module=row_name)
    parts = [
        _convert(ProcessingElement(array_cfg.fmt), pe_name),
        _convert(PERow(array_cfg, pe_module=pe_name), row_name),
        _convert(array, top),
    ]
    header = (f"// {top}: systole systolic array, generated from configuration "
              f"{config.name!r} ({array_cfg.rows} x {array_cfg.cols}, {array_cfg.fmt.name}).\n"
              f"// Do not edit: regenerate with `systole generate`. See {top}.json.\n")
    ports = [{"name": "clk", "direction": "input", "width": 1, "shape": {"kind": "clock"}},
             {"name": "rst", "direction": "input", "width": 1,
              "shape": {"kind": "reset", "synchronous": True, "active": "high"}}]
    for port in component_ports(array):
        ports.append({"name": port.name, "direction": port.direction, "width": port.width,
                      "shape": describe_shape(port.member.shape)})
    description = {
        "top": top,
        "generator": "systole",
        "config": config.to_dict(),
        "modules": [pe_name, row_name, top],
        "latency": {"acts_to_psums": array.latency,
                    "min_tile_period": array_cfg.min_tile_period},
        "clock": {"name": "clk", "edge": "rising"},
        "reset": {"name": "rst", "synchronous": True, "active": "high"},
        "ports": ports,
    }
    return Design(top=top, verilog=header + "\n".join(parts), description=description)


class _FlatAxiTop(Elaboratable):
    """Verilog top around a component whose ``axi`` member array becomes standard AXI4 ports
    ``m_axi<i>_<channel><field>``; every other member keeps its Amaranth port name."""

    def __init__(self, inner: wiring.Component, channels: int):
        self.inner = inner
        self.statements = []
        self.ports: dict[str, tuple] = {}
        self.shapes: dict[str, dict] = {}
        for port in component_ports(inner):
            if port.name.startswith("axi__"):
                continue
            self.ports[port.name] = (port.value, port.direction)
            self.shapes[port.name] = describe_shape(port.member.shape)
        for index in range(channels):
            statements, ports = flatten_axi(inner.axi[index], f"m_axi{index}_")
            self.statements += statements
            self.ports.update(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.core = self.inner
        m.d.comb += self.statements
        return m

    def convert_ports(self) -> dict:
        directions = {"input": PortDirection.Input, "output": PortDirection.Output}
        return {name: (value, directions[direction])
                for name, (value, direction) in self.ports.items()}


def build_memsys_design(config: SystoleConfig, *, top: str = "systole_memsys") -> Design:
    """Convert the memory subsystem (DMA engines, scratch buffer, AXI4 ports) to Verilog."""
    mem = config.memory
    wrapper = _FlatAxiTop(MemorySubsystem(mem), mem.channels)
    text = verilog.convert(wrapper, name=top, emit_src=False, strip_internal_attrs=True,
                           ports=wrapper.convert_ports())
    header = (f"// {top}: systole memory subsystem ({mem.channels} AXI4 ports of "
              f"{mem.data_width} bits), configuration {config.name!r}.\n"
              f"// Do not edit: regenerate with `systole generate --top memsys`.\n")
    ports = [{"name": "clk", "direction": "input", "width": 1, "shape": {"kind": "clock"}},
             {"name": "rst", "direction": "input", "width": 1,
              "shape": {"kind": "reset", "synchronous": True, "active": "high"}}]
    for name, (value, direction) in wrapper.ports.items():
        shape = wrapper.shapes.get(name, {"kind": "int", "width": len(value), "signed": False})
        ports.append({"name": name, "direction": direction, "width": len(value),
                      "shape": shape})
    description = {
        "top": top,
        "generator": "systole",
        "config": config.to_dict(),
        "axi": {"channels": mem.channels, "prefix": "m_axi<i>_", "data_width": mem.data_width,
                "addr_width": mem.axi.addr_width, "id_width": mem.axi.id_width,
                "address_map": {"interleave": mem.interleave, "size": mem.size}},
        "clock": {"name": "clk", "edge": "rising"},
        "reset": {"name": "rst", "synchronous": True, "active": "high"},
        "ports": ports,
    }
    return Design(top=top, verilog=header + text, description=description)


TOPS = {"array": build_design, "memsys": build_memsys_design}


def write_design(design: Design, out_dir: str | Path) -> list[Path]:
    """Write the design's files into ``out_dir`` (created if needed); return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in design.files().items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths
