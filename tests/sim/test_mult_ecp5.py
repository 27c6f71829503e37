"""The ECP5 multiplier (MULT18X18D with its own registers) behaves like the generic one: the two
PEs agree on every output every cycle, and a whole array built on it computes GEMMs equal to
numpy. Simulated with sim/models/MULT18X18D.v (yosys has only a black box of the cell)."""

import pytest
from amaranth.back import verilog
from cocotb_tools.runner import get_results, get_runner

from systole.hw.config import ArrayConfig, SystoleConfig, preset
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


def test_range_check_on_the_sequencers_dsp():
    """On ECP5 builds the sequencer's range check multiplies rows by stride on a MULT18X18D
    with its operands and product in the DSP's registers: a STORE whose last row ends on the
    last byte of a 128 KiB memory is written, one word further is MEMORY_RANGE and writes
    nothing, as the golden model says (the same program the generic multiplier runs in
    tests/hw/test_chip.py)."""
    from dataclasses import replace

    import numpy as np

    from systole.hw.isa import ErrorCode, encode
    from systole.rtl_device import RtlSimDevice
    from systole.sim.golden_isa import GoldenMachine

    tiny = preset("tiny")
    config = replace(tiny, name="tiny-ecp5-128k",
                     array=replace(tiny.array, multiplier="ecp5"),
                     memory=replace(tiny.memory, size=128 << 10))
    assert config.memory.addr_width <= 18        # the DSP path (hw/sequencer.py, span_dsp)
    rows, stride, word = 3, 0x5000, 32
    last_fits = config.memory.size - (rows - 1) * stride - word
    for mem_addr, code in ((last_fits, ErrorCode.NONE), (last_fits + word, ErrorCode.MEMORY_RANGE)):
        program = [
            encode("LOAD", buffer=0, buf_addr=0, rows=rows, mem_addr=0x1000, stride=word),
            encode("LOAD", buffer=1, buf_addr=0, rows=4, mem_addr=0x1800, stride=word,
                   push_next=1),
            encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=0, rows=rows, pop_prev=1,
                   push_next=1),
            encode("STORE", acc_addr=0, rows=rows, mem_addr=mem_addr, stride=stride,
                   pop_prev=1),
            encode("HALT"),
        ]
        image = np.zeros(config.memory.size, np.uint8)
        for index, instr in enumerate(program):
            image[16 * index:][:16] = np.frombuffer(instr.to_bytes(16, "little"), np.uint8)
        image[0x1000:0x2000] = np.random.default_rng(7).integers(0, 256, 0x1000, np.uint8)
        golden = GoldenMachine(config).run(image.copy(), 0)
        assert golden.error == code
        # Icarus, as for the array above (Verilator stops at the DSP's unconnected pins).
        device = RtlSimDevice(config, simulator="icarus", max_cycles=20_000)
        device.write_memory(0, image)
        device.write_reg(0x10, 0)
        device.write_reg(0x00, 1)
        assert device.registers["ERROR_CODE"] == code
        np.testing.assert_array_equal(device.read_memory(0, config.memory.size), golden.memory)
