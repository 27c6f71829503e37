"""Records the HBM pseudo-channel model hands back: completions, commands and statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

__all__ = ["Completion", "Command", "HBMStats"]


@dataclass(frozen=True, slots=True)
class Completion:
    """Timing of one served burst, in controller cycles.

    Members
    -------
    tag : object
        As given to ``submit``.
    write : bool
        Write burst.
    addr, nbytes : int
        Burst address and length in bytes.
    issue_cycle : int
        Cycle the request was submitted.
    first_beat_cycle : int
        Cycle of the first data beat (``beat_cycles[0]``).
    beat_cycles : tuple of int
        Strictly increasing cycle of every beat: for reads the cycle it is on the controller
        read-data bus, for writes the cycle the controller consumes it.
    done_cycle : int
        Cycle of the last beat: the last read beat, or the cycle a write response may be sent.
    """

    tag: Any
    write: bool
    addr: int
    nbytes: int
    issue_cycle: int
    first_beat_cycle: int
    beat_cycles: tuple[int, ...]
    done_cycle: int

    @property
    def latency(self) -> int:
        """Cycles from submission to the first beat."""
        return self.first_beat_cycle - self.issue_cycle


class Command(NamedTuple):
    """One DRAM command in the optional log.

    Members
    -------
    cycle : int
        DRAM command-clock cycle (not controller cycles).
    kind : str
        ``"ACT"``, ``"PRE"``, ``"PREA"``, ``"RD"``, ``"WR"``, ``"REF"`` (all-bank) or
        ``"REFPB"`` (per-bank).
    bank_group, bank : int
        Target; -1 for all-bank commands.
    row : int
        Row opened, closed or accessed; -1 for all-bank commands.
    """

    cycle: int
    kind: str
    bank_group: int
    bank: int
    row: int


@dataclass(slots=True)
class HBMStats:
    """Counters of one pseudo-channel since construction.

    Members
    -------
    bursts, reads, writes, bytes : int
        Served bursts and bytes.
    row_hits, row_misses, row_conflicts : int
        Per (burst, bank) touched: row already open, bank closed, another row open.
    activates, precharges, refreshes : int
        DRAM commands issued (precharges excludes the PREA of a refresh).
    turnarounds : int
        Switches between reading and writing.
    refresh_cycles : int
        Controller cycles of refresh: refreshes x ceil(tRFC / ratio) with all-bank refresh
        (the channel is blocked), refreshes x ceil(tRFCpb / ratio) with per-bank refresh (one
        bank is).
    busy_cycles : int
        Controller cycles carrying a data beat.
    """

    bursts: int = 0
    reads: int = 0
    writes: int = 0
    bytes: int = 0
    row_hits: int = 0
    row_misses: int = 0
    row_conflicts: int = 0
    activates: int = 0
    precharges: int = 0
    refreshes: int = 0
    turnarounds: int = 0
    refresh_cycles: int = 0
    busy_cycles: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict (for reports and JSON)."""
        return asdict(self)
