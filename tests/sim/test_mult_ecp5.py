"""The ECP5 multiplier (MULT18X18D with its own registers) behaves like the generic one: the two
PEs agree on every output every cycle, and a whole array built on it computes GEMMs equal to
numpy. Simulated with sim/models/MULT18X18D.v (yosys has only a black box of the cell)."""

import pytest
from amaranth.back import verilog
from cocotb_tools.runner import get_results, get_runner

from systole.hw.config import ArrayConfig, SystoleConfig
from systole.hw.hier import convert_ports
from systole.hw.mult import Ecp5Multiplier, multiplier
from systole.hw.numfmt import IntMacFormat
from systole.sim.runner import CELL_MODELS, TIMESCALE, build_for_sim, build_root
from systole.sim.tb_pe_pair import PEPair
from systole.sim.tools import prepare_simulator


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_pe_pair_cycle_exact(simulator):
    prepare_simulator(simulator)
    directory = build_root() / simulator / "pe_pair"
    rtl = directory / "rtl"
    rtl.mkdir(parents=True, exist_ok=True)
    pair = PEPair()
    text = verilog.convert(pair, name="pe_pair", emit_src=False, ports=convert_ports(pair))
    path = rtl / "pe_pair.v"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    runner = get_runner(simulator)
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    runner.build(sources=[path, CELL_MODELS["ecp5"]], hdl_toplevel="pe_pair",
                 build_dir=directory / "sim_build", build_args=build_args, timescale=TIMESCALE,
                 log_file=directory / "build.log")
    results = runner.test(test_module="systole.sim.tb_pe_pair", hdl_toplevel="pe_pair",
                          hdl_toplevel_lang="verilog", build_dir=directory / "sim_build",
                          test_dir=directory, timescale=TIMESCALE,
                          results_xml=str(directory / "results.xml"),
                          log_file=directory / "run.log")
    assert get_results(results) == (1, 0)


def test_array_on_ecp5_multipliers():
    config = SystoleConfig(array=ArrayConfig(rows=4, cols=4, multiplier="ecp5"))
    build = build_for_sim(config, "icarus")
    assert build.run("systole.sim.tb_array") == (3, 0)


def test_multiplier_choice_and_limits():
    assert multiplier("generic", IntMacFormat()).fmt.act_width == 8
    with pytest.raises(ValueError, match="multiplier must be one of \\['ecp5', 'generic'\\], "
                                         "not 'dsp48'"):
        ArrayConfig(multiplier="dsp48")
    with pytest.raises(ValueError, match="act_width must be at most 18 for the ecp5 "
                                         "multiplier, not 20"):
        Ecp5Multiplier(IntMacFormat(act_width=20, acc_width=40))
    # Descriptions of generic designs are unchanged; the ecp5 one says so.
    assert "multiplier" not in ArrayConfig().to_dict()
    assert ArrayConfig(multiplier="ecp5").to_dict()["multiplier"] == "ecp5"
