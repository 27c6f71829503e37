"""Random quantised layers for network and convolution tests."""

from __future__ import annotations

import numpy as np

from ..network import Dense
from ..quant import PostProcParams, quantize_multiplier

__all__ = ["random_params", "random_dense"]


def random_params(rng: np.random.Generator, k: int, n: int, *, relu: bool = False
                  ) -> PostProcParams:
    """Per-channel parameters whose outputs spread over int8 for random int8 operands
    (accumulators of ``k`` products)."""
    scale = 40.0 / (np.sqrt(k) * 5500.0)
    pairs = [quantize_multiplier(float(scale * rng.uniform(0.5, 2.0))) for _ in range(n)]
    zero_point = int(rng.integers(-20, 20))
    return PostProcParams(
        bias=rng.integers(-20000, 20000, n), multiplier=np.array([p[0] for p in pairs]),
        shift=np.array([p[1] for p in pairs]), zero_point=zero_point,
        act_min=zero_point if relu else -128, act_max=127)


def random_dense(rng: np.random.Generator, k: int, n: int, *, relu: bool = False) -> Dense:
    return Dense(rng.integers(-128, 128, (k, n), dtype=np.int8),
                 random_params(rng, k, n, relu=relu))
