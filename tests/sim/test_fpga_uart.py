"""The FPGA prototype (chip + block RAM + UART bridge, no pins) in Verilator, driven only over
its simulated UART by the board driver: registers, memory, GEMMs against numpy, errors, LEDs."""

import json

import pytest

from systole.hw.config import preset
from systole.sim.runner import build_for_sim


@pytest.fixture(scope="module")
def fpga_build():
    return build_for_sim(preset("icebreaker"), "verilator", top="fpga")


def test_registers_and_memory(fpga_build):
    tests, failed = fpga_build.run("systole.sim.tb_fpga_uart", testcase="registers_and_memory",
                                   env={"SYSTOLE_FPGA_TEST": json.dumps({"seed": 3})},
                                   name="regs")
    assert (tests, failed) == (1, 0)


def test_matmul_through_uart(fpga_build):
    gemms = [[1, 1, 1, 0], [5, 3, 4, 1], [9, 7, 5, 2]]
    tests, failed = fpga_build.run("systole.sim.tb_fpga_uart", testcase="matmul_through_uart",
                                   env={"SYSTOLE_FPGA_TEST": json.dumps({"gemms": gemms})},
                                   name="matmul")
    assert (tests, failed) == (1, 0)


def test_matmul_through_uart_with_registered_accumulator_reads():
    """The ``ulx3s`` preset's chip (64-bit beats, ``registered_acc_reads``: an accumulator word
    of 12 int32 is 8 beats, which the store side reads through its registered half-word) with a
    4 x 12 array of generic multipliers, so that it simulates: GEMMs of odd shapes against
    numpy, more columns than the array."""
    from dataclasses import replace

    from systole.hw.config import ArrayConfig

    config = replace(preset("ulx3s"), name="ulx3s-4x12", array=ArrayConfig(rows=4, cols=12))
    assert config.registered_acc_reads and config.acc_word_beats == 8
    build = build_for_sim(config, "verilator", top="fpga")
    gemms = [[7, 9, 20, 3], [1, 5, 12, 4]]
    tests, failed = build.run("systole.sim.tb_fpga_uart", testcase="matmul_through_uart",
                              env={"SYSTOLE_FPGA_TEST": json.dumps({"gemms": gemms})},
                              name="matmul")
    assert (tests, failed) == (1, 0)


@pytest.mark.slow   # a second Verilator build (~1 min)
def test_matmul_through_uart_on_ice40_spram():
    """The iCEBreaker's memory: SB_SPRAM256KA cells (yosys' simulation model) behind AxiBram."""
    build = build_for_sim(preset("icebreaker"), "verilator", top="fpga_spram")
    tests, failed = build.run("systole.sim.tb_fpga_uart",
                              env={"SYSTOLE_FPGA_TEST": json.dumps({"gemms": [[6, 5, 3, 4]],
                                                                    "seed": 5})},
                              name="spram")
    assert (tests, failed) == (2, 0)
