"""Burst-level, timing-accurate model of one HBM pseudo-channel behind an AXI-style controller.

The model is event driven at command granularity: for every burst it computes the ACT/PRE and
column command times arithmetically from "earliest next command" state kept per bank, per bank
group and per channel (:mod:`.dram`), so a burst costs a few microseconds of Python whatever its
latency. This module holds the controller: request queue, scheduler and the simple modes.

Scheduler (``mode="timing"``)
    Requests wait in one queue in arrival order. Each time the column pipeline frees up (at the
    last column command of the previous burst, the *decision time*), the controller looks at the
    ``window`` oldest requests that have arrived and takes, in this order of preference: a row hit
    in the current read/write direction, any row hit, the oldest request (FR-FCFS). A burst is a
    row hit when every bank it touches already has its row open. The oldest request is bypassed
    at most ``window`` times in a row, so nothing starves. Chosen bursts are served whole; their
    ACT/PRE may be issued before the decision time (the controller opens rows for queued requests
    in the background, as HBM's separate row-command bus allows) but never before the request
    arrived. Pages stay open until a conflicting request or a refresh closes them (open-page
    policy). Refresh commands are inserted at the first decision time at or after they are due:

    * ``refresh="per-bank"`` (default where the preset supports it, as all presets do): every
      tREFIpb one bank is precharged and refreshed (REFPB) and blocked for tRFCpb while the other
      fifteen keep serving; the controller picks a bank that no queued request needs
      (:meth:`~systole.sim.hbm.dram.DramState.refresh_bank`). Costs a sequential stream well
      under 1 % of peak.
    * ``refresh="all-bank"``: every tREFI all banks are precharged (PREA) and refreshed (REF),
      blocking the channel for tRFC: costs about tRFC / tREFI (9 % on HBM2E).
    * ``refresh="off"``: no refresh (to measure its cost).

Timing rules applied (nCK): tRCD, tRP, tRAS, tRC = tRAS + tRP, tCCD_S/tCCD_L between column
commands, tRRD_S/tRRD_L and tFAW between ACTs, tRTW (RD to WR), tWTR_S/tWTR_L (end of write data
to RD), tRTP and tWR (to PRE), tRFC/tREFI, tRFCpb/tREFIpb/tRREFD. Not modelled: row-command bus
slot conflicts between PRE and ACT, refresh postponement, power-down, tRCDRD != tRCDWR.

Interface timing
    Everything at the interface is in controller cycles. A request submitted at cycle ``c`` is
    visible to the scheduler at DRAM cycle ``(c + ctrl_latency) * clock_ratio``. A read beat is
    on the controller data bus in the first controller cycle that starts after its last column
    access has left the pins (RD time + tCL + burst); a write beat is consumed in the first cycle
    after its data has been driven (WR time + tWL + burst). At most one beat per direction per
    cycle. So, idle channel, ``L = ctrl_latency``, ``r = clock_ratio``, ``b = burst_cycles``::

        read row hit      L + ceil((tCL + b) / r)
        read row miss     L + ceil((tRCD + tCL + b) / r)
        read row conflict L + ceil((tRP + tRCD + tCL + b) / r)

Read data may be returned out of request order (FR-FCFS); an adapter that needs AXI in-order
responses for one ID uses ``window=1`` or reorders by tag.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

import numpy as np

from .dram import DramState
from .mapping import AddressMap
from .timing import HBMTiming
from .types import Command, Completion, HBMStats

__all__ = ["PseudoChannel", "MAX_BURST_BEATS", "BOUNDARY_BYTES", "MODES", "REFRESH_MODES"]

#: Longest burst accepted, in controller beats.
MAX_BURST_BEATS = 16
#: Bursts must not cross this address boundary (the AXI 4 KiB rule).
BOUNDARY_BYTES = 4096
#: Accepted values of ``mode``.
MODES = ("timing", "fixed", "random")
#: Accepted values of ``refresh``.
REFRESH_MODES = ("per-bank", "all-bank", "off")
#: Queued requests the controller looks at when it picks a bank to refresh.
REFRESH_LOOKAHEAD = 64

class _Request:
    __slots__ = ("issue", "visible", "addr", "nbytes", "write", "tag", "banks", "segments")

    def __init__(self, issue: int, visible: int, addr: int, nbytes: int, write: bool, tag: Any,
                 banks: list[int], segments: list[tuple[int, int]]) -> None:
        self.issue = issue
        self.visible = visible
        self.addr = addr
        self.nbytes = nbytes
        self.write = write
        self.tag = tag
        self.banks = banks
        self.segments = segments


def _refresh_mode(timing: HBMTiming, refresh: str | bool | None) -> str:
    if refresh is None:
        return "per-bank" if timing.per_bank_refresh else "all-bank"
    if isinstance(refresh, bool):
        return "all-bank" if refresh else "off"
    if refresh not in REFRESH_MODES:
        raise ValueError(f"PseudoChannel: refresh must be one of {REFRESH_MODES}, a bool or "
                         f"None, got {refresh!r}")
    if refresh == "per-bank" and not timing.per_bank_refresh:
        raise ValueError(f"PseudoChannel: refresh 'per-bank' needs t_rfc_pb in the timing "
                         f"({timing.name} has none)")
    return refresh


def _check_int(owner: str, name: str, value: Any, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value}")
    return value


class PseudoChannel:
    """One HBM pseudo-channel with its controller, answering whole AXI bursts.

    Parameters
    ----------
    timing : HBMTiming
        Organisation, DRAM timing and controller port (e.g. ``PRESETS["hbm2"]``).
    mode : str
        ``"timing"`` (full model), ``"fixed"`` (in order, first beat ``fixed_latency`` cycles after
        submission, then one beat per cycle) or ``"random"`` (in order, first beat after
        ``fixed_latency`` plus a uniform 0..``max_extra_latency`` cycles, then 0..``max_gap`` idle
        cycles before each further beat, drawn from ``numpy.random.default_rng(seed)``). In both
        simple modes a burst also waits for the previous burst of its direction to finish, as
        each direction has one data bus.
    window : int
        FR-FCFS look-ahead: how many of the oldest requests may be reordered (1 = FCFS).
    bg_interleave : bool
        Address layout, see :mod:`systole.sim.hbm.mapping`.
    refresh : str or bool or None
        One of :data:`REFRESH_MODES`: ``"per-bank"``, ``"all-bank"`` or ``"off"`` (see the
        module docstring). ``None``: per-bank if ``timing`` supports it, else all-bank.
        ``False`` means ``"off"`` and ``True`` ``"all-bank"`` (the model's first API).
    fixed_latency, max_extra_latency, max_gap : int
        Knobs of the ``fixed`` and ``random`` modes, in controller cycles.
    seed : int
        Seed of the ``random`` mode.
    record_commands : bool
        Keep a log of every DRAM command in :attr:`commands` (slower; for tests and debugging).

    Latency
    -------
    Read row hit / miss / conflict on an idle channel: see the module docstring (HBM2 preset:
    10 / 17 / 24 controller cycles). Throughput: up to one ``beat_bytes`` beat per controller
    cycle. A burst's timing is final once :meth:`advance` returns it; no backpressure is taken
    from the consumer (adapters buffer).

    Raises
    ------
    TypeError, ValueError
        On a bad argument; the message names it.
    """

    def __init__(self, timing: HBMTiming, *, mode: str = "timing", window: int = 8,
                 bg_interleave: bool = True, refresh: str | bool | None = None,
                 fixed_latency: int = 16,
                 max_extra_latency: int = 16, max_gap: int = 2, seed: int = 0,
                 record_commands: bool = False) -> None:
        if not isinstance(timing, HBMTiming):
            raise TypeError(f"PseudoChannel: timing must be an HBMTiming, got {timing!r}")
        if mode not in MODES:
            raise ValueError(f"PseudoChannel: mode must be one of {MODES}, got {mode!r}")
        owner = "PseudoChannel"
        self.timing = timing
        self.mode = mode
        self.window = _check_int(owner, "window", window, 1)
        self.fixed_latency = _check_int(owner, "fixed_latency", fixed_latency, 1)
        self.max_extra_latency = _check_int(owner, "max_extra_latency", max_extra_latency, 0)
        self.max_gap = _check_int(owner, "max_gap", max_gap, 0)
        self.seed = _check_int(owner, "seed", seed, 0)
        self.refresh = _refresh_mode(timing, refresh)
        self.address_map = AddressMap(timing, bg_interleave=bg_interleave)
        self.stats = HBMStats()
        self._rng = np.random.default_rng(seed)
        self._log: list[Command] | None = [] if record_commands else None
        self._queue: deque[_Request] = deque()
        self._min_submit = 0
        self._last_submit = 0
        self._dram = DramState(timing, self.stats, self._log,
                               per_bank_refresh=self.refresh == "per-bank")
        self._bypass = 0
        self._last_beat = {False: -1, True: -1}

    # Public properties -----------------------------------------------------------------------

    @property
    def peak_bytes_per_cycle(self) -> int:
        """Peak bytes per controller cycle (one beat)."""
        return self.timing.peak_bytes_per_cycle

    @property
    def peak_gbps(self) -> float:
        """Peak controller-port bandwidth in Gb/s."""
        return self.timing.peak_gbps

    @property
    def peak_gbytes_per_s(self) -> float:
        """Peak controller-port bandwidth in GB/s."""
        return self.timing.peak_gbytes_per_s

    @property
    def pending(self) -> int:
        """Requests submitted but not yet scheduled."""
        return len(self._queue)

    def next_event_cycle(self) -> int | None:
        """Controller cycle of the next scheduling decision, or ``None`` with an empty queue.

        ``advance(c)`` returns nothing new for any ``c`` below this cycle, whatever is submitted
        meanwhile (a later submission is seen only after it), so a caller may skip calling
        :meth:`advance` until then.
        """
        if not self._queue:
            return None
        if self.mode != "timing":
            return self._queue[0].issue
        return max(self._dram.decision, self._queue[0].visible) // self.timing.clock_ratio

    @property
    def commands(self) -> list[Command]:
        """DRAM command log (DRAM cycles), if ``record_commands`` was set; else empty."""
        return [] if self._log is None else self._log

    # Requests --------------------------------------------------------------------------------

    def submit(self, *, cycle: int, addr: int, nbytes: int, write: bool, tag: Any = None) -> None:
        """Enqueue one burst that reaches the controller at controller cycle ``cycle``.

        Parameters
        ----------
        cycle : int
            Arrival cycle; non-decreasing across calls and later than the ``until_cycle`` of the
            last :meth:`advance` (decisions up to then are final).
        addr, nbytes : int
            Byte address and length; multiples of ``beat_bytes``, 1..16 beats, not crossing a
            4 KiB boundary, inside the pseudo-channel.
        write : bool
            Write burst (data already held by the adapter) rather than read.
        tag : object
            Returned unchanged in the :class:`Completion`.

        Raises
        ------
        ValueError
            If the burst breaks one of the rules above; the message names the argument.
        """
        owner = "PseudoChannel.submit"
        t = self.timing
        _check_int(owner, "cycle", cycle, max(self._min_submit, self._last_submit))
        _check_int(owner, "addr", addr, 0)
        _check_int(owner, "nbytes", nbytes, 1)
        beat = t.beat_bytes
        if addr % beat:
            raise ValueError(f"{owner}: addr must be a multiple of {beat} bytes, got {addr:#x}")
        if nbytes % beat or nbytes > MAX_BURST_BEATS * beat:
            raise ValueError(f"{owner}: nbytes must be 1..{MAX_BURST_BEATS} beats of {beat} "
                             f"bytes, got {nbytes}")
        if addr // BOUNDARY_BYTES != (addr + nbytes - 1) // BOUNDARY_BYTES:
            raise ValueError(f"{owner}: burst at addr {addr:#x} of nbytes {nbytes} crosses a "
                             f"{BOUNDARY_BYTES}-byte boundary")
        if addr + nbytes > t.capacity_bytes:
            raise ValueError(f"{owner}: addr {addr:#x} + nbytes {nbytes} exceeds the capacity "
                             f"{t.capacity_bytes:#x}")
        if self.mode == "timing":
            banks, segments = self.address_map.atom_banks(addr, nbytes)
        else:
            banks, segments = [], []
        visible = (cycle + t.ctrl_latency) * t.clock_ratio
        self._queue.append(_Request(cycle, visible, addr, nbytes, bool(write), tag, banks,
                                    segments))
        self._last_submit = cycle

    def advance(self, until_cycle: int) -> list[Completion]:
        """Make every scheduling decision due up to and including controller cycle ``until_cycle``.

        Returns
        -------
        list of Completion
            The bursts scheduled by this call, in service order. Their timing is final; their
            beats may lie after ``until_cycle`` (the adapter plays them out when due).
        """
        _check_int("PseudoChannel.advance", "until_cycle", until_cycle, 0)
        self._min_submit = max(self._min_submit, until_cycle + 1)
        if self.mode == "timing":
            return self._run_timing((until_cycle + 1) * self.timing.clock_ratio)
        return self._run_simple(until_cycle)

    def drain(self) -> list[Completion]:
        """Schedule every queued request, as if nothing else will arrive before they are served.

        Later submissions must arrive after the last decision this made.
        """
        if self.mode == "timing":
            out = self._run_timing(1 << 62)
            last = self._dram.decision // self.timing.clock_ratio
            self._min_submit = max(self._min_submit, last + 1)
            return out
        out = self._run_simple(1 << 62)
        self._min_submit = max(self._min_submit, self._last_submit)
        return out

    # Fixed and random modes ------------------------------------------------------------------

    def _run_simple(self, until_cycle: int) -> list[Completion]:
        out = []
        q = self._queue
        beat_bytes = self.timing.beat_bytes
        rng = self._rng if self.mode == "random" else None
        while q and q[0].issue <= until_cycle:
            req = q.popleft()
            n = req.nbytes // beat_bytes
            prev = self._last_beat[req.write]
            latency = self.fixed_latency
            if rng is not None:
                latency += int(rng.integers(0, self.max_extra_latency + 1))
                gaps = rng.integers(0, self.max_gap + 1, size=n - 1).tolist()
            else:
                gaps = [0] * (n - 1)
            cycle = max(req.issue + latency, prev + 1)
            beats = [cycle]
            for gap in gaps:
                cycle += 1 + gap
                beats.append(cycle)
            self._last_beat[req.write] = cycle
            out.append(self._complete(req, beats))
        return out

    def _complete(self, req: _Request, beats: list[int]) -> Completion:
        s = self.stats
        s.bursts += 1
        s.bytes += req.nbytes
        s.busy_cycles += len(beats)
        if req.write:
            s.writes += 1
        else:
            s.reads += 1
        return Completion(tag=req.tag, write=req.write, addr=req.addr, nbytes=req.nbytes,
                          issue_cycle=req.issue, first_beat_cycle=beats[0],
                          beat_cycles=tuple(beats), done_cycle=beats[-1])

    # Timing mode -----------------------------------------------------------------------------

    def _run_timing(self, limit: int) -> list[Completion]:
        out = []
        q = self._queue
        dram = self._dram
        while q:
            decision = max(dram.decision, q[0].visible)
            if decision >= limit:
                break
            if self.refresh == "all-bank" and decision >= dram.next_refresh:
                dram.refresh(decision)
            index = self._choose(decision)
            req = q[index]
            del q[index]
            beats = dram.issue(write=req.write, arrival=req.visible, banks=req.banks,
                               segments=req.segments)
            out.append(self._complete(req, beats))
            # A per-bank refresh goes after this decision's burst, whose ACTs it must not delay.
            if self.refresh == "per-bank" and decision >= dram.next_refresh:
                dram.refresh_bank(decision, self._next_use(decision, req))
        return out

    def _next_use(self, decision: int, current: _Request) -> dict[int, int]:
        """Flat bank -> queue position of the first of the oldest ``REFRESH_LOOKAHEAD``
        requests arrived by ``decision`` that needs it, -1 for the banks of ``current`` (the
        burst being served): what the controller knows when it picks a bank to refresh."""
        first: dict[int, int] = {flat: -1 for flat, _ in current.segments}
        for index, req in enumerate(itertools.islice(self._queue, REFRESH_LOOKAHEAD)):
            if req.visible > decision:
                break
            for flat, _ in req.segments:
                first.setdefault(flat, index)
        return first

    def _choose(self, decision: int) -> int:
        """FR-FCFS pick among the ``window`` oldest arrived requests (index into the queue)."""
        q = self._queue
        if self.window == 1 or len(q) == 1:
            return 0
        dram = self._dram
        chosen = -1
        first_hit = -1
        for i in range(min(self.window, len(q))):
            req = q[i]
            if req.visible > decision:
                break
            if dram.is_hit(req.segments):
                if req.write == dram.last_write:
                    chosen = i
                    break
                if first_hit < 0:
                    first_hit = i
        if chosen < 0:
            chosen = max(first_hit, 0)
        if chosen == 0:
            self._bypass = 0
            return 0
        self._bypass += 1
        if self._bypass > self.window:
            self._bypass = 0
            return 0
        return chosen
