"""Multi-layer programs, convolution and the MLP demo on the generated chip (Verilator):
the RTL output equals the int8 numpy reference and the golden model's memory image."""

import json

import numpy as np
import pytest

from systole.cli import main
from systole.hw.config import preset
from systole.network import (
    compile_network,
    conv2d_layer,
    conv2d_reference,
    im2col,
    reference_network,
)
from systole.sim.chip_run import run_on_rtl
from systole.sim.golden_isa import GoldenMachine
from systole.sim.network_model import random_dense, random_params

TINY = preset("tiny")


def run_both(program):
    golden = GoldenMachine(program.config).run(program.image, program.prog_addr)
    assert golden.ok and golden.tokens.ok
    run = run_on_rtl(program.config, program.image, program.prog_addr, mode="random")
    assert run.finished and run.registers["ERROR_CODE"] == 0 and not run.port_errors
    np.testing.assert_array_equal(run.memory[:len(golden.memory)], golden.memory)
    return program.read_output(run.memory)


@pytest.mark.parametrize("mode", ["chip", "memory"])
def test_three_layers_on_rtl(mode):
    rng = np.random.default_rng(11)
    sizes = [9, 7, 6, 3]
    layers = [random_dense(rng, k, n, relu=True) for k, n in zip(sizes, sizes[1:], strict=False)]
    x = rng.integers(-128, 128, (6, sizes[0]), dtype=np.int8)
    program = compile_network(x, layers, TINY, mode=mode)
    np.testing.assert_array_equal(run_both(program), reference_network(x, layers))


def test_conv_stride2_padding1_on_rtl():
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, (1, 6, 5, 3), dtype=np.int8)
    w = rng.integers(-128, 128, (3, 3, 3, 4), dtype=np.int8)
    params = random_params(rng, 27, 4, relu=True)
    cols, oh, ow = im2col(x, 3, 3, stride=2, padding=1)
    program = compile_network(cols, [conv2d_layer(w, params)], TINY)
    got = run_both(program).reshape(1, oh, ow, 4)
    np.testing.assert_array_equal(got, params.apply(conv2d_reference(x, w, stride=2,
                                                                     padding=1)))


def test_mlp_demo_reduced(capsys):
    """`systole mlp-demo --json` on a few test images, the whole network as one program (the
    per-layer runs only in the slow full demo, each default-chip run costs ~15 s)."""
    code = main(["mlp-demo", "--samples", "6", "--no-per-layer", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"]
    assert report["mismatches"] == 0 and report["samples"] == 6 and report["mode"] == "chip"
    assert report["accuracy_rtl"] == report["accuracy_int8"]
    assert 0 < report["utilization"] < 1 and report["cycles"] > 6 * 4 * 5
    assert {"accuracy_float", "layers", "error"} <= set(report)


@pytest.mark.slow
def test_mlp_demo_full(capsys):
    """The whole test split: mismatches 0, RTL accuracy within 1 point of float, above 0.9."""
    code = main(["mlp-demo", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] and report["samples"] == 360
    assert report["mismatches"] == 0
    assert [layer["ok"] for layer in report["layers"]] == [True, True]
    assert all(0 < layer["utilization"] < 1 for layer in report["layers"])
    assert report["accuracy_rtl"] > 0.9
    assert report["accuracy_rtl"] >= report["accuracy_float"] - 0.01
