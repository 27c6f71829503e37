"""Board wrappers: the only code that requests pins (``platform.request``).

Each board top puts :class:`~systole.hw.fpga_soc.FpgaSoC` (chip, block-RAM memory, UART bridge)
on a board of amaranth-boards: clock (and PLL), UART pins, status LEDs. Build them with
``systole fpga`` (:mod:`systole.fpga`).
"""

from __future__ import annotations

from .icebreaker import IcebreakerTop
from .ulx3s import PLL_SETTINGS, Ulx3sTop

__all__ = ["BOARDS", "Board", "IcebreakerTop", "Ulx3sTop"]


class Board:
    """What the build needs to know about a board.

    Members
    -------
    name : str
        The ``--board`` name.
    top : type
        The board top (an ``Elaboratable`` taking ``config`` and ``baud``).
    preset : str
        The configuration that fits the board.
    clock_hz : int
        Default frequency the design is built and constrained for.
    baud : int
        Default UART baud rate.
    clocks_mhz : tuple of float or None
        The design clocks a build can choose (``systole fpga --clock-mhz``); None: only
        ``clock_hz``.
    """

    def __init__(self, name: str, top: type, preset: str, clock_hz: int, baud: int,
                 clocks_mhz: tuple[float, ...] | None = None):
        self.name, self.top, self.preset = name, top, preset
        self.clock_hz, self.baud = clock_hz, baud
        self.clocks_mhz = tuple(sorted(clocks_mhz or (clock_hz / 1e6,)))

    def fastest_clock_mhz(self, fmax_mhz: float) -> float | None:
        """The fastest design clock of :attr:`clocks_mhz` at or below ``fmax_mhz`` (None if
        even the slowest is faster)."""
        met = [mhz for mhz in self.clocks_mhz if mhz <= fmax_mhz]
        return met[-1] if met else None

    def platform(self):
        return self.top.platform()


BOARDS: dict[str, Board] = {
    "ulx3s-85f": Board("ulx3s-85f", Ulx3sTop, "ulx3s", Ulx3sTop.clock_hz, 1_000_000,
                       tuple(PLL_SETTINGS)),
    "icebreaker": Board("icebreaker", IcebreakerTop, "icebreaker", IcebreakerTop.clock_hz,
                        1_000_000),
}
