"""Integer-only requantisation: the numpy reference of the chip's post-processing.

One output channel ``c`` of one accumulator row goes through (all arithmetic exact, in int64;
``docs/quant.md`` states it with examples)::

    x   = wrap32(acc + bias[c])                                    # int32, wraps like int32
    y   = srdhm(x, multiplier[c])                                  # Q31 fixed-point multiply
    z   = rdbpot(y, shift[c])                                      # rounding right shift 0..31
    out = clamp(z + zero_point, act_min, act_max)                  # int8

* ``srdhm`` is gemmlowp's SaturatingRoundingDoublingHighMul: ``floor(x * m / 2**31 + 1/2)``,
  i.e. rounding to nearest with ties toward +infinity (gemmlowp's negative nudge
  ``1 - 2**30`` makes -0.5 round to 0 and -1.5 to -1), and the single overflowing case
  ``x = m = -2**31`` saturated to ``2**31 - 1``.
* ``rdbpot`` is gemmlowp's RoundingDivideByPOT: ``round(y / 2**shift)`` with ties away from
  zero (``shift = 0`` leaves ``y`` unchanged).
* ``zero_point``, ``act_min`` and ``act_max`` are int8; ``act_min <= act_max``. Saturation to
  int8 is the clamp: no activation is ``[-128, 127]``, ReLU ``[zero_point, 127]``, ReLU6
  ``[zero_point, min(127, zero_point + round(6 / scale_out))]`` (:func:`activation_range`).

A real scale ``s`` in (0, 1) becomes ``multiplier * 2**-31 * 2**-shift`` with
``multiplier`` in [2**30, 2**31) (:func:`quantize_multiplier`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["INT32_MIN", "INT32_MAX", "srdhm", "rdbpot", "requantize", "requantize_unchecked",
           "quantize_multiplier",
           "activation_range", "PostProcParams"]

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
ACTIVATIONS = ("none", "relu", "relu6")


def _int64(value) -> np.ndarray:
    return np.asarray(value, dtype=np.int64)


def srdhm(x, m) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul of int32 arrays, written as gemmlowp does it:
    ``floor(x * m / 2**31 + 1/2)`` (ties toward +infinity), ``(-2**31, -2**31)`` saturating to
    ``2**31 - 1``. Returns int64 values in the int32 range."""
    x, m = np.broadcast_arrays(_int64(x), _int64(m))
    product = x * m                                      # |product| <= 2**62: exact in int64
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    total = product + nudge
    # C++ integer division truncates toward zero.
    high = np.where(total >= 0, total >> 31, -((-total) >> 31))
    overflow = (x == INT32_MIN) & (m == INT32_MIN)
    return np.where(overflow, INT32_MAX, high)


def rdbpot(y, shift) -> np.ndarray:
    """RoundingDivideByPOT: ``round(y / 2**shift)`` with ties away from zero, shift 0..31."""
    y, shift = np.broadcast_arrays(_int64(y), _int64(shift))
    if ((shift < 0) | (shift > 31)).any():
        raise ValueError(f"shift must be 0..31, not {shift.min()}..{shift.max()}")
    mask = (np.int64(1) << shift) - 1
    remainder = y & mask
    threshold = (mask >> 1) + (y < 0)
    return (y >> shift) + (remainder > threshold)


def requantize(acc, bias, multiplier, shift, zero_point: int = 0, act_min: int = -128,
               act_max: int = 127) -> np.ndarray:
    """int32 accumulators (``... x C``) to int8 with per-channel ``bias``, ``multiplier``,
    ``shift`` (length-C arrays or scalars) and per-tensor zero point and clamp.

    Raises
    ------
    ValueError
        A value outside its range (int32, shift 0..31, int8 zero point and clamp, min > max).
    """
    for name, value in (("zero_point", zero_point), ("act_min", act_min),
                        ("act_max", act_max)):
        if not -128 <= int(value) <= 127:
            raise ValueError(f"{name} must be an int8 (-128..127), not {value}")
    if act_min > act_max:
        raise ValueError(f"act_min ({act_min}) must not exceed act_max ({act_max})")
    acc, bias, multiplier = _int64(acc), _int64(bias), _int64(multiplier)
    for name, value in (("acc", acc), ("bias", bias), ("multiplier", multiplier)):
        if value.size and (value.min() < INT32_MIN or value.max() > INT32_MAX):
            raise ValueError(f"{name} must hold int32 values")
    return requantize_unchecked(acc, bias, multiplier, shift, zero_point, act_min, act_max)


def requantize_unchecked(acc, bias, multiplier, shift, zero_point: int, act_min: int,
                         act_max: int) -> np.ndarray:
    """:func:`requantize` without the range checks, as the hardware does it for any operands:
    the clamp is ``min(max(v, act_min), act_max)`` (``act_max`` wins if ``act_min >
    act_max``). ``shift`` must be 0..31."""
    acc, bias, multiplier = _int64(acc), _int64(bias), _int64(multiplier)
    x = (acc + bias + (1 << 31)) % (1 << 32) - (1 << 31)     # int32 wrap-around
    z = rdbpot(srdhm(x, multiplier), shift)
    return np.minimum(np.maximum(z + int(zero_point), int(act_min)),
                      int(act_max)).astype(np.int8)


def quantize_multiplier(scale: float) -> tuple[int, int]:
    """``(multiplier, shift)`` with ``scale ~= multiplier * 2**-31 * 2**-shift``,
    ``multiplier`` in [2**30, 2**31) (or 0 for a zero scale).

    Raises
    ------
    ValueError
        ``scale`` is negative, not finite, at least 1, or below 2**-32 (shift would pass 31).
    """
    if not math.isfinite(scale) or scale < 0 or scale >= 1:
        raise ValueError(f"scale must be in [0, 1), not {scale}")
    if scale == 0:
        return 0, 0
    mantissa, exponent = math.frexp(scale)           # scale = mantissa * 2**exponent
    multiplier = round(mantissa * (1 << 31))
    if multiplier == 1 << 31:
        multiplier //= 2
        exponent += 1
    shift = -exponent
    if shift > 31:
        raise ValueError(f"scale {scale} is too small (shift {shift} > 31)")
    return multiplier, shift


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """``(act_min, act_max)`` of ``"none"``, ``"relu"`` or ``"relu6"`` for an output tensor
    quantised with ``scale`` and ``zero_point``."""
    if activation == "none":
        return -128, 127
    if activation == "relu":
        return max(-128, zero_point), 127
    if activation == "relu6":
        return max(-128, zero_point), min(127, zero_point + round(6.0 / scale))
    raise ValueError(f"activation must be one of {ACTIVATIONS}, not {activation!r}")


@dataclass(frozen=True)
class PostProcParams:
    """Parameters of one post-processed layer output (``N`` channels).

    Members
    -------
    bias, multiplier : numpy.ndarray
        int32, length N.
    shift : numpy.ndarray
        0..31, length N.
    zero_point, act_min, act_max : int
        int8.
    """

    bias: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int = 0
    act_min: int = -128
    act_max: int = 127

    def __post_init__(self) -> None:
        n = len(self.bias)
        for name in ("multiplier", "shift"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} channels, bias {n}")
        # Validate the ranges once, on a dummy row.
        requantize(np.zeros(n, np.int64), self.bias, self.multiplier, self.shift,
                   self.zero_point, self.act_min, self.act_max)

    @property
    def channels(self) -> int:
        return len(self.bias)

    def apply(self, acc: np.ndarray) -> np.ndarray:
        """Requantise int32 accumulators (``M x N``) to int8."""
        return requantize(acc, self.bias, self.multiplier, self.shift, self.zero_point,
                          self.act_min, self.act_max)
