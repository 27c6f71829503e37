"""Stimulus and expected values for post-processing tests (Amaranth simulator and cocotb)."""

from __future__ import annotations

import numpy as np

from ..quant import INT32_MAX, INT32_MIN, requantize_unchecked

__all__ = ["EDGE_INT32", "random_rows", "expected_rows"]

EDGE_INT32 = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -1, 0, 1, 1 << 30, INT32_MAX]


def random_rows(cols: int, count: int, seed: int) -> list[dict]:
    """``count`` rows as ``{"acc": [...], "params": {...}}`` dicts: random values, int32
    extremes, exact halves for the multiply and the shift, shifts 0 and 31, varied clamps."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        kind = index % 4
        acc = rng.integers(INT32_MIN, INT32_MAX, cols, endpoint=True)
        bias = rng.integers(-(1 << 20), 1 << 20, cols)
        mult = rng.integers(1 << 30, 1 << 31, cols)
        shift = rng.integers(0, 32, cols)
        if kind == 1:       # int32 extremes everywhere
            acc = rng.choice(EDGE_INT32, cols)
            bias = rng.choice(EDGE_INT32, cols)
            mult = rng.choice(EDGE_INT32, cols)
            shift = rng.choice([0, 31], cols)
        elif kind == 2:     # exact halves: (acc + bias) * 2**30 / 2**31 and then / 2**shift
            shift = rng.integers(1, 32, cols)
            acc = rng.choice([-3, -1, 1, 3], cols) << (shift - 1).astype(np.int64) << 1
            acc = np.clip(acc, INT32_MIN, INT32_MAX)
            bias = rng.choice([-1, 0, 1], cols)
            mult = np.full(cols, 1 << 30)
        elif kind == 3:     # small values around the clamp
            acc = rng.integers(-5000, 5000, cols)
            bias = rng.integers(-100, 100, cols)
            shift = rng.choice([0, 31, 4, 7, 32, 255], cols)   # above 31: as 31
        zero_point = int(rng.integers(-128, 128))
        act_min = int(rng.integers(-128, 128))
        act_max = int(rng.integers(act_min, 128))
        if index % 3 == 0:
            act_min, act_max = -128, 127
        elif index % 7 == 5:      # crossed bounds: the upper one wins
            act_min, act_max = act_max, act_min - 1 if act_min > -128 else act_min
        rows.append({"acc": [int(v) for v in acc], "params": {
            "channel": {"bias": [int(v) for v in bias], "multiplier": [int(v) for v in mult],
                        "shift": [int(v) for v in shift]},
            "zero_point": zero_point, "act_min": act_min, "act_max": act_max}})
    return rows


def expected_rows(rows: list[dict]) -> np.ndarray:
    """int8 results of :func:`systole.quant.requantize_unchecked` for each row."""
    out = []
    for row in rows:
        p = row["params"]
        ch = p["channel"]
        out.append(requantize_unchecked(row["acc"], ch["bias"], ch["multiplier"],
                                        np.minimum(ch["shift"], 31), p["zero_point"],
                                        p["act_min"], p["act_max"]))
    return np.array(out, np.int8).reshape(len(rows), -1)
