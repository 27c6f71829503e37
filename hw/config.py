"""Configuration of a systole accelerator: frozen, validated dataclasses and named presets.

Every layer has its own config; :class:`SystoleConfig` composes them. One config object produces
both the hardware and its software view (:meth:`SystoleConfig.to_dict`). Invalid values raise
:class:`TypeError` or :class:`ValueError` with a message that names the parameter and the value.

Glossary (used everywhere): A is M x K (activations), B is K x N (weights), C = A @ B is M x N.
The array has ``rows`` x ``cols`` processing elements; a weight tile is ``rows`` x ``cols`` of B
(rows along K, columns along N).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .numfmt import INT8, IntMacFormat
from .params import check_choice, check_int

__all__ = ["ArrayConfig", "SystoleConfig", "PRESETS", "preset", "MAX_ARRAY_DIM"]

MAX_ARRAY_DIM = 256


@dataclass(frozen=True, kw_only=True)
class ArrayConfig:
    """Shape and number format of the weight-stationary systolic array.

    Parameters
    ----------
    rows : int
        PE rows, 1 to 256. Rows run along K: one activation enters each row per cycle.
    cols : int
        PE columns, 1 to 256. Columns run along N: one partial sum leaves each column per cycle.
    fmt : IntMacFormat
        Number format of every PE (``int8``: int8 x int8 -> int32).
    """

    rows: int = 16
    cols: int = 16
    fmt: IntMacFormat = INT8

    def __post_init__(self) -> None:
        check_int("rows", self.rows, 1, MAX_ARRAY_DIM)
        check_int("cols", self.cols, 1, MAX_ARRAY_DIM)
        if not isinstance(self.fmt, IntMacFormat):
            raise TypeError(f"fmt must be an IntMacFormat, not {self.fmt!r}")

    @property
    def latency(self) -> int:
        """Cycles from an accepted activation vector to its partial-sum vector (with skew)."""
        return self.rows + self.cols + 1

    @property
    def min_tile_period(self) -> int:
        """Fewest activation vectors per weight tile that keep the array busy without bubbles.

        The next tile's weights shift into the shadow registers of a column only after the swap
        has passed its bottom row (``rows - 1`` cycles) and take ``rows`` cycles.
        """
        return 2 * self.rows - 1

    def to_dict(self) -> dict:
        return {"rows": self.rows, "cols": self.cols, "fmt": self.fmt.to_dict()}


@dataclass(frozen=True, kw_only=True)
class SystoleConfig:
    """The whole accelerator.

    Parameters
    ----------
    name : str
        Preset name or ``"custom"``; informational, goes into the design description.
    array : ArrayConfig
        The systolic array.
    """

    name: str = "custom"
    array: ArrayConfig = field(default_factory=ArrayConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, not {self.name!r}")
        if not isinstance(self.array, ArrayConfig):
            raise TypeError(f"array must be an ArrayConfig, not {self.array!r}")

    def to_dict(self) -> dict:
        return {"name": self.name, "array": self.array.to_dict()}


PRESETS: dict[str, SystoleConfig] = {
    "tiny": SystoleConfig(name="tiny", array=ArrayConfig(rows=4, cols=4)),
    "default": SystoleConfig(name="default", array=ArrayConfig(rows=16, cols=16)),
}


def preset(name: str) -> SystoleConfig:
    """Return the named preset; raise :class:`ValueError` naming the valid presets."""
    check_choice("preset", name, PRESETS)
    return PRESETS[name]
