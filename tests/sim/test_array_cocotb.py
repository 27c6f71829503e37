"""cocotb on the generated Verilog, Icarus and Verilator: A @ B equals numpy bit for bit."""

import pytest

from systole.hw.config import ArrayConfig, SystoleConfig
from systole.sim.runner import build_for_sim

SHAPES = [(4, 4), (4, 8), (8, 4)]


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
@pytest.mark.parametrize("rows,cols", SHAPES, ids=[f"{r}x{c}" for r, c in SHAPES])
def test_array_gemm(simulator, rows, cols):
    config = SystoleConfig(array=ArrayConfig(rows=rows, cols=cols))
    build = build_for_sim(config, simulator)
    tests, failed = build.run("systole.sim.tb_array")
    assert (tests, failed) == (3, 0)
