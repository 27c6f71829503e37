"""cocotb on the generated post-processing unit: bit-exact to the integer reference."""

import pytest

from systole.hw.config import ArrayConfig, SystoleConfig
from systole.sim.runner import build_for_sim


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_postproc_cocotb(simulator):
    config = SystoleConfig(array=ArrayConfig(rows=4, cols=4))
    build = build_for_sim(config, simulator, top="postproc")
    tests, failed = build.run("systole.sim.tb_postproc")
    assert (tests, failed) == (2, 0)
