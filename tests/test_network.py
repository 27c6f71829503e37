"""Multi-layer programs and convolution on the golden model: equal to numpy bit for bit, with
the token discipline checked (deadlock- and race-free)."""

from dataclasses import replace

import numpy as np
import pytest

from systole.hw.config import preset
from systole.network import (
    Dense,
    compile_network,
    conv2d_layer,
    conv2d_reference,
    im2col,
    reference_network,
)
from systole.sim.golden_isa import GoldenMachine
from systole.sim.network_model import random_dense, random_params

TINY = preset("tiny")


def run_golden(program):
    result = GoldenMachine(program.config).run(program.image, program.prog_addr)
    assert result.ok and result.tokens.ok, result.message
    return program.read_output(result.memory)


@pytest.mark.parametrize("mode", ["chip", "memory"])
@pytest.mark.parametrize("config_name,m,sizes", [
    ("tiny", 5, [9, 7, 6, 3]),
    ("tiny", 1, [4, 4]),
    ("tiny", 8, [16, 8, 6]),
    ("default", 9, [40, 33, 17]),
])
def test_network_matches_numpy(mode, config_name, m, sizes):
    config = preset(config_name)
    rng = np.random.default_rng(m + len(sizes))
    layers = [random_dense(rng, k, n, relu=i < len(sizes) - 2)
              for i, (k, n) in enumerate(zip(sizes, sizes[1:], strict=False))]
    x = rng.integers(-128, 128, (m, sizes[0]), dtype=np.int8)
    program = compile_network(x, layers, config, mode=mode)
    assert program.mode == mode
    expected = reference_network(x, layers)
    assert len(np.unique(expected)) > 3          # not all clamped
    np.testing.assert_array_equal(run_golden(program), expected)


def test_auto_mode_falls_back_to_memory():
    rng = np.random.default_rng(3)
    layers = [random_dense(rng, 64, 64), random_dense(rng, 64, 10)]
    x = rng.integers(-128, 128, (40, 64), dtype=np.int8)    # 40 x 16 K-tiles > 128 words
    program = compile_network(x, layers, TINY)
    assert program.mode == "memory"
    np.testing.assert_array_equal(run_golden(program), reference_network(x, layers))
    with pytest.raises(ValueError, match="does not fit on chip"):
        compile_network(x, layers, TINY, mode="chip")
    layers = [random_dense(rng, 16, 8), random_dense(rng, 8, 10)]
    small = compile_network(x[:8, :16], layers, TINY)
    assert small.mode == "chip"
    assert small.counts["STORE"] == 3 and small.counts["POSTPROC"] == 2 + 3
    np.testing.assert_array_equal(run_golden(small), reference_network(x[:8, :16], layers))


def test_network_validation():
    rng = np.random.default_rng(0)
    layer = random_dense(rng, 4, 4)
    x = np.zeros((2, 4), np.int8)
    with pytest.raises(ValueError, match="layer 1 takes K = 5 inputs, gets 4"):
        compile_network(x, [layer, random_dense(rng, 5, 3)], TINY)
    with pytest.raises(TypeError, match="x must be"):
        compile_network(x.astype(np.int16), [layer], TINY)
    with pytest.raises(ValueError, match="mode must be"):
        compile_network(x, [layer], TINY, mode="fast")
    with pytest.raises(ValueError, match="params have 3 channels"):
        Dense(np.zeros((4, 4), np.int8), random_params(rng, 4, 3))
    with pytest.raises(ValueError, match="config.postproc is False \\('custom' has no "
                                         "post-processing unit\\): network programs need"):
        compile_network(x, [layer], replace(TINY, name="custom", postproc=False))


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 1)])
def test_im2col_equals_direct_convolution(stride, padding):
    rng = np.random.default_rng(stride * 10 + padding)
    x = rng.integers(-128, 128, (2, 7, 6, 3), dtype=np.int8)
    w = rng.integers(-128, 128, (3, 3, 3, 5), dtype=np.int8)
    cols, oh, ow = im2col(x, 3, 3, stride=stride, padding=padding)
    got = (cols.astype(np.int64) @ w.reshape(27, 5).astype(np.int64)).reshape(2, oh, ow, 5)
    np.testing.assert_array_equal(got, conv2d_reference(x, w, stride=stride, padding=padding))


@pytest.mark.parametrize("stride,padding,mode", [(1, 1, "chip"), (2, 1, "memory"),
                                                 (2, 0, "chip")])
def test_conv_layers_on_golden(stride, padding, mode):
    """conv 3x3 (stride, padding) -> conv 1x1 -> dense, compiled into one program."""
    rng = np.random.default_rng(stride + padding)
    x = rng.integers(-128, 128, (1, 5, 4, 2), dtype=np.int8)
    w1 = rng.integers(-128, 128, (3, 3, 2, 4), dtype=np.int8)
    w2 = rng.integers(-128, 128, (1, 1, 4, 4), dtype=np.int8)
    p1, p2 = random_params(rng, 18, 4, relu=True), random_params(rng, 4, 4)
    cols, oh, ow = im2col(x, 3, 3, stride=stride, padding=padding)
    layers = [conv2d_layer(w1, p1), conv2d_layer(w2, p2)]
    program = compile_network(cols, layers, TINY, mode=mode)
    got = run_golden(program).reshape(1, oh, ow, 4)
    hidden = p1.apply(conv2d_reference(x, w1, stride=stride, padding=padding))
    expected = p2.apply(conv2d_reference(hidden, w2))
    np.testing.assert_array_equal(got, expected)
