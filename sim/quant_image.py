"""Memory layout of post-processing parameter words (host side and tests)."""

from __future__ import annotations

import numpy as np

from ..hw.config import SystoleConfig
from ..quant import PostProcParams

__all__ = ["param_words"]


def param_words(params: PostProcParams, config: SystoleConfig) -> np.ndarray:
    """The parameter words (uint8, one row per ``cols`` channels, zero-padded) that a LOAD
    with ``buffer = PARAM`` reads for ``params``: per word ``cols`` int32 biases, ``cols``
    int32 multipliers and ``cols`` uint8 shifts; channels past ``params.channels`` are zero."""
    cols = config.array.cols
    tiles = -(-params.channels // cols)
    words = np.zeros((tiles, config.word_bytes("param")), np.uint8)

    def padded(values, dtype):
        out = np.zeros(tiles * cols, dtype)
        out[:params.channels] = values
        return out.reshape(tiles, cols)

    words[:, :4 * cols] = padded(params.bias, "<i4").view(np.uint8)
    words[:, 4 * cols:8 * cols] = padded(params.multiplier, "<i4").view(np.uint8)
    words[:, 8 * cols:9 * cols] = padded(params.shift, np.uint8)
    return words
