"""Verilog generation: readable, reproducible Verilog plus a JSON description of the design.

Four tops: the whole chip (``systole``), the systolic array alone (``systole_array``), the
memory subsystem alone (``systole_memsys``) and the post-processing unit alone
(``systole_postproc``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, Shape
from amaranth.hdl._ir import PortDirection
from amaranth.lib import data, wiring

from .array import SystolicArray
from .axi import flatten_axi, flatten_channels
from .axil import axil_port_names
from .chip import SystoleChip
from .config import SystoleConfig
from .fpga_soc import FpgaSoC
from .grid import PERow
from .hier import component_ports, convert_ports
from .isa import software_view
from .memsys import MemorySubsystem
from .pe import ProcessingElement
from .postproc import PostProcessor
from .regs import register_view
from .sdc import DEFAULT_PERIOD_NS, sdc_text

__all__ = ["Design", "build_design", "build_memsys_design", "build_chip_design",
           "build_postproc_design", "build_fpga_design", "write_design", "describe_shape",
           "TOPS", "SIM_UART_DIVISOR"]

#: UART clock cycles per bit of the simulated FPGA top (boards use their clock / baud).
SIM_UART_DIVISOR = 8


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
    """Generated files of one configuration, as text: Verilog, JSON description and timing
    constraints (SDC, clock period ``period_ns``)."""

    top: str
    verilog: str
    description: dict
    period_ns: float = DEFAULT_PERIOD_NS

    @property
    def sdc(self) -> str:
        return sdc_text(self.top, self.description["ports"], period_ns=self.period_ns)

    def files(self) -> dict[str, str]:
        return {f"{self.top}.v": self.verilog,
                f"{self.top}.json": json.dumps(self.description, indent=2, sort_keys=True) + "\n",
                f"{self.top}.sdc": self.sdc}


def _convert(component: wiring.Component, name: str) -> str:
    return verilog.convert(component, name=name, emit_src=False, strip_internal_attrs=True,
                           ports=convert_ports(component))


def _cell_modules(config: SystoleConfig, top: str) -> tuple[list[str], list[str]]:
    """Convert the PE and the PE row once; return (module names, Verilog texts)."""
    array_cfg = config.array
    pe_name, row_name = f"{top}_pe", f"{top}_pe_row"
    pe = ProcessingElement(array_cfg.fmt, multiplier=array_cfg.multiplier,
                           stream=config.matvec)
    texts = [_convert(pe, pe_name),
             _convert(PERow(array_cfg, pe_module=pe_name, stream=config.matvec), row_name)]
    return [pe_name, row_name], texts


def _clock_reset_ports() -> list[dict]:
    return [{"name": "clk", "direction": "input", "width": 1, "shape": {"kind": "clock"}},
            {"name": "rst", "direction": "input", "width": 1,
             "shape": {"kind": "reset", "synchronous": True, "active": "high"}}]


def _header(top: str, what: str, config: SystoleConfig, command: str) -> str:
    a = config.array
    return (f"// {top}: systole {what}, configuration {config.name!r} ({a.rows} x {a.cols} "
            f"{a.fmt.name} array).\n// Do not edit: regenerate with `{command}`. "
            f"See {top}.json.\n")


def _description(top: str, config: SystoleConfig, ports: list[dict], **extra) -> dict:
    return {"top": top, "generator": "systole", "config": config.to_dict(),
            "clock": {"name": "clk", "edge": "rising"},
            "reset": {"name": "rst", "synchronous": True, "active": "high"},
            "ports": ports, **extra}


def build_design(config: SystoleConfig, *, top: str = "systole_array") -> Design:
    """Convert the systolic array of ``config`` to Verilog.

    The PE and the PE row are converted once each and instantiated by name (modules
    ``<top>_pe`` and ``<top>_pe_row``), so conversion time grows with rows + cols, not with
    rows x cols. Output depends only on ``config`` and ``top`` (no paths, no dates).
    """
    modules, texts = _cell_modules(config, top)
    array = SystolicArray(config.array, row_module=modules[1], streaming=config.matvec)
    texts.append(_convert(array, top))
    ports = _clock_reset_ports()
    for port in component_ports(array):
        ports.append({"name": port.name, "direction": port.direction, "width": port.width,
                      "shape": describe_shape(port.member.shape)})
    description = _description(
        top, config, ports, modules=[*modules, top],
        latency={"acts_to_psums": array.latency,
                 "min_tile_period": config.array.min_tile_period})
    header = _header(top, "systolic array", config, "systole generate --top array")
    return Design(top=top, verilog=header + "\n".join(texts), description=description)


class _FlatTop(Elaboratable):
    """Verilog top around a component: its ``axi`` member array becomes standard AXI4 ports
    ``m_axi<i>_<channel><field>``, a ``csr`` member AXI4-Lite ports ``s_axil_<channel><field>``;
    every other member keeps its Amaranth port name."""

    def __init__(self, inner: wiring.Component, channels: int):
        self.inner = inner
        self.statements = []
        self.ports: dict[str, tuple] = {}
        self.shapes: dict[str, dict] = {}
        for port in component_ports(inner):
            if port.name.startswith(("axi__", "csr__")):
                continue
            self.ports[port.name] = (port.value, port.direction)
            self.shapes[port.name] = describe_shape(port.member.shape)
        groups = [flatten_axi(inner.axi[index], f"m_axi{index}_") for index in range(channels)]
        if "csr" in inner.signature.members:
            groups.append(flatten_channels(inner.csr, axil_port_names("s_axil_")))
        for statements, ports in groups:
            self.statements += statements
            self.ports.update(ports)

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.core = self.inner
        m.d.comb += self.statements
        return m

    def convert(self, name: str) -> str:
        directions = {"input": PortDirection.Input, "output": PortDirection.Output}
        ports = {port: (value, directions[direction])
                 for port, (value, direction) in self.ports.items()}
        return verilog.convert(self, name=name, emit_src=False, strip_internal_attrs=True,
                               ports=ports)

    def describe(self) -> list[dict]:
        ports = _clock_reset_ports()
        for name, (value, direction) in self.ports.items():
            shape = self.shapes.get(name, {"kind": "int", "width": len(value), "signed": False})
            ports.append({"name": name, "direction": direction, "width": len(value),
                          "shape": shape})
        return ports


def _axi_description(config: SystoleConfig) -> dict:
    mem = config.memory
    return {"channels": mem.channels, "prefix": "m_axi<i>_", "data_width": mem.data_width,
            "addr_width": mem.axi.addr_width, "id_width": mem.axi.id_width,
            "address_map": {"interleave": mem.interleave, "size": mem.size}}


def build_memsys_design(config: SystoleConfig, *, top: str = "systole_memsys") -> Design:
    """Convert the memory subsystem (DMA engines, scratch buffer, AXI4 ports) to Verilog."""
    wrapper = _FlatTop(MemorySubsystem(config.memory), config.memory.channels)
    text = wrapper.convert(top)
    description = _description(top, config, wrapper.describe(), axi=_axi_description(config))
    header = _header(top, "memory subsystem (DMA + AXI4 ports)", config,
                     "systole generate --top memsys")
    return Design(top=top, verilog=header + text, description=description)


def build_chip_design(config: SystoleConfig, *, top: str = "systole") -> Design:
    """Convert the whole accelerator to Verilog: AXI4 memory ports, AXI4-Lite control port,
    clock, reset and interrupt."""
    modules, texts = _cell_modules(config, top)
    wrapper = _FlatTop(SystoleChip(config, row_module=modules[1]), config.memory.channels)
    texts.append(wrapper.convert(top))
    description = _description(
        top, config, wrapper.describe(), modules=[*modules, top],
        axi=_axi_description(config),
        control={"prefix": "s_axil_", "data_width": 32, "registers": register_view()},
        isa=software_view())
    header = _header(top, "accelerator", config, "systole generate")
    return Design(top=top, verilog=header + "\n".join(texts), description=description)


def build_postproc_design(config: SystoleConfig, *, top: str = "systole_postproc") -> Design:
    """Convert the post-processing unit (one row of ``cols`` channels per cycle) to Verilog."""
    unit = PostProcessor(config.array.cols)
    ports = _clock_reset_ports()
    for port in component_ports(unit):
        ports.append({"name": port.name, "direction": port.direction, "width": port.width,
                      "shape": describe_shape(port.member.shape)})
    description = _description(top, config, ports, latency={"rows_in_to_rows_out": unit.latency})
    header = _header(top, "post-processing unit", config, "systole generate --top postproc")
    return Design(top=top, verilog=header + _convert(unit, top), description=description)



def build_fpga_design(config: SystoleConfig, *, top: str = "systole_fpga",
                      divisor: int = SIM_UART_DIVISOR, ram: str = "generic") -> Design:
    """Convert the FPGA prototype minus pins (:class:`~systole.hw.fpga_soc.FpgaSoC`: chip,
    block RAM, UART bridge) to Verilog, for simulation of the host link. ``ram="ice40_spram"``
    instantiates iCE40 SPRAM cells (simulate with their model, ``sim/runner.py``)."""
    modules, texts = _cell_modules(config, top)
    soc = FpgaSoC(config, divisor=divisor, row_module=modules[1], ram=ram)
    texts.append(_convert(soc, top))
    ports = _clock_reset_ports()
    for port in component_ports(soc):
        ports.append({"name": port.name, "direction": port.direction, "width": port.width,
                      "shape": describe_shape(port.member.shape)})
    description = _description(top, config, ports, modules=[*modules, top],
                               uart={"divisor": divisor, "format": "8N1"}, ram=ram,
                               control={"registers": register_view()})
    header = _header(top, "FPGA prototype (chip + block RAM + UART bridge)", config,
                     "systole generate --top fpga")
    return Design(top=top, verilog=header + "\n".join(texts), description=description)


def build_fpga_spram_design(config: SystoleConfig) -> Design:
    """:func:`build_fpga_design` with the iCEBreaker's SPRAM main memory."""
    return build_fpga_design(config, ram="ice40_spram")


TOPS = {"chip": build_chip_design, "array": build_design, "memsys": build_memsys_design,
        "postproc": build_postproc_design, "fpga": build_fpga_design,
        "fpga_spram": build_fpga_spram_design}


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
