"""The integer requantisation reference against an independent exact-rational oracle."""

from fractions import Fraction
from math import floor

import numpy as np
import pytest

from systole.quant import (
    INT32_MAX,
    INT32_MIN,
    PostProcParams,
    activation_range,
    quantize_multiplier,
    rdbpot,
    requantize,
    srdhm,
)

EDGES = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3, 1 << 30, INT32_MAX - 1,
         INT32_MAX]


def oracle_srdhm(x: int, m: int) -> int:
    if x == m == INT32_MIN:
        return INT32_MAX
    return floor(Fraction(x * m, 1 << 31) + Fraction(1, 2))


def oracle_rdbpot(y: int, shift: int) -> int:
    q = Fraction(y, 1 << shift)
    magnitude = floor(abs(q) + Fraction(1, 2))      # ties away from zero
    return magnitude if q >= 0 else -magnitude


def oracle(acc, bias, mult, shift, zp, lo, hi) -> int:
    x = (acc + bias + (1 << 31)) % (1 << 32) - (1 << 31)
    return max(lo, min(hi, oracle_rdbpot(oracle_srdhm(x, mult), shift) + zp))


def test_srdhm_edges():
    xs, ms = np.meshgrid(EDGES, EDGES)
    got = srdhm(xs, ms)
    want = np.vectorize(oracle_srdhm, otypes=[np.int64])(xs, ms)
    np.testing.assert_array_equal(got, want)
    assert srdhm(INT32_MIN, INT32_MIN) == INT32_MAX


def test_srdhm_ties_round_up():
    # x * m / 2**31 exactly -0.5, +0.5, -1.5: gemmlowp rounds ties toward +infinity.
    assert int(srdhm(-1, 1 << 30)) == 0
    assert int(srdhm(1, 1 << 30)) == 1
    assert int(srdhm(-3, 1 << 30)) == -1
    assert int(srdhm(3, 1 << 30)) == 2


def test_rdbpot_halves_and_shifts():
    for shift in (0, 1, 2, 7, 30, 31):
        for y in EDGES + [-(1 << max(shift - 1, 0)), 1 << max(shift - 1, 0),
                          -3 << max(shift - 1, 0), 3 << max(shift - 1, 0)]:
            y = max(INT32_MIN, min(INT32_MAX, y))
            assert int(rdbpot(y, shift)) == oracle_rdbpot(y, shift), (y, shift)
    assert int(rdbpot(-1, 1)) == -1 and int(rdbpot(1, 1)) == 1      # +-0.5 away from zero
    assert int(rdbpot(-3, 1)) == -2 and int(rdbpot(3, 1)) == 2      # +-1.5
    assert int(rdbpot(INT32_MIN, 31)) == -1 and int(rdbpot(INT32_MAX, 31)) == 1
    assert int(rdbpot(-(1 << 30), 31)) == -1 and int(rdbpot((1 << 30) - 1, 31)) == 0
    with pytest.raises(ValueError, match="shift must be 0..31"):
        rdbpot(1, 32)


def test_requantize_random_and_edges():
    rng = np.random.default_rng(1)
    n = 4000
    acc = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    acc[:len(EDGES)] = EDGES
    bias = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    bias[::3] = rng.integers(-1000, 1000, len(bias[::3]))
    mult = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    mult[::2] = rng.integers(1 << 30, 1 << 31, len(mult[::2]))
    mult[:len(EDGES)] = EDGES[::-1]
    shift = rng.integers(0, 32, n)
    shift[:4] = [0, 31, 0, 31]
    for zp, lo, hi in ((0, -128, 127), (-5, -5, 127), (3, 3, 60), (-128, -128, -128)):
        got = requantize(acc, bias, mult, shift, zp, lo, hi)
        want = [oracle(*map(int, v), zp, lo, hi) for v in zip(acc, bias, mult, shift, strict=True)]
        assert got.dtype == np.int8
        np.testing.assert_array_equal(got, np.array(want, np.int8))


def test_requantize_bias_wraps_like_int32():
    got = requantize([INT32_MAX], [1], [INT32_MAX], [31])
    assert int(got[0]) == oracle(INT32_MAX, 1, INT32_MAX, 31, 0, -128, 127) == -1


@pytest.mark.parametrize("kwargs,message", [
    ({"zero_point": 128}, "zero_point must be an int8"),
    ({"act_min": -129}, "act_min must be an int8"),
    ({"act_min": 5, "act_max": 4}, "must not exceed act_max"),
])
def test_requantize_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        requantize([0], [0], [1 << 30], [0], **kwargs)


def test_requantize_rejects_non_int32():
    with pytest.raises(ValueError, match="bias must hold int32"):
        requantize([0], [1 << 31], [1 << 30], [0])


def test_quantize_multiplier():
    for scale in (0.5, 0.1, 1e-3, 0.999999, 2.0 ** -31, 0.3333):
        mult, shift = quantize_multiplier(scale)
        assert (1 << 30) <= mult < (1 << 31) and 0 <= shift <= 31
        assert abs(mult * 2.0 ** (-31 - shift) - scale) <= scale * 2.0 ** -30
    assert quantize_multiplier(0.0) == (0, 0)
    for bad in (1.0, -0.1, float("nan"), 2.0 ** -40):
        with pytest.raises(ValueError):
            quantize_multiplier(bad)


def test_quantized_scale_matches_float():
    rng = np.random.default_rng(2)
    acc = rng.integers(-100000, 100000, 1000)
    scale = 0.00123
    mult, shift = quantize_multiplier(scale)
    got = requantize(acc, 0, mult, shift).astype(np.int64)
    want = np.clip(np.round(acc * scale), -128, 127)
    assert np.abs(got - want).max() <= 1


def test_activation_range_and_params():
    assert activation_range("none", 0.1, 3) == (-128, 127)
    assert activation_range("relu", 0.1, -7) == (-7, 127)
    assert activation_range("relu6", 0.1, -7) == (-7, 53)
    with pytest.raises(ValueError, match="activation must be one of"):
        activation_range("gelu", 0.1, 0)
    params = PostProcParams(np.array([10, -10]), np.array([1 << 30] * 2), np.array([0, 1]),
                            zero_point=1, act_min=0, act_max=127)
    np.testing.assert_array_equal(params.apply(np.array([[4, 4], [-100, 7]])),
                                  [[8, 0], [0, 0]])
    with pytest.raises(ValueError, match="shift has 1 channels"):
        PostProcParams(np.array([0, 0]), np.array([1, 1]), np.array([0]))
