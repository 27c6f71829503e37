"""Pure-Python, burst-level, timing-accurate model of an HBM pseudo-channel and its controller.

One core shared by the cocotb and Amaranth-simulator AXI adapters: they submit whole bursts and
play back the beat cycles this model computes. See :mod:`.model` for the scheduler and timing
rules, :mod:`.dram` for the command timing, :mod:`.timing` for parameters and presets,
:mod:`.mapping` for the address layout and :mod:`.check` for an independent rule checker.
"""

from .check import check_commands
from .mapping import AddressMap
from .model import BOUNDARY_BYTES, MAX_BURST_BEATS, MODES, REFRESH_MODES, PseudoChannel
from .timing import PRESETS, HBMTiming
from .types import Command, Completion, HBMStats

__all__ = [
    "AddressMap",
    "BOUNDARY_BYTES",
    "Command",
    "Completion",
    "HBMStats",
    "HBMTiming",
    "MAX_BURST_BEATS",
    "MODES",
    "PRESETS",
    "PseudoChannel",
    "REFRESH_MODES",
    "check_commands",
]
