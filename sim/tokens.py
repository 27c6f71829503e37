"""Dependency-token discipline of a program: deadlocks, races, token counts.

The hardware runs the load, compute and store units concurrently; they only wait for each other
through the four token queues of :mod:`systole.hw.isa`. The golden model executes sequentially,
so a program whose tokens are wrong still gives the right answer there, and would hang or race in
hardware. :func:`check_tokens` finds both, in pure Python:

* **Deadlock**: the sequencer and the three in-order units are simulated with their token
  counters. By default (``queue_depth=0``) the sequencer dispatches in program order and hands
  an instruction to its unit only once the tokens it pops are there, so every pop must follow
  its matching push in program order. That is stricter than the hardware, whose sequencer
  dispatches into a one-deep command register per unit (``queue_depth=1``): a program that
  passes the default check cannot deadlock there. With ``queue_depth=n`` each unit
  has an n-deep command queue and pops at its head (``None``: unbounded, as in VTA). A pop that
  can never be satisfied leaves a unit stuck.
* **Races**: a happens-before analysis over the executed instructions. Every instruction has a
  start (after its pops) and an end (before its pushes). Within a unit, starts and ends are in
  order (a unit completes its instructions in order: a push certifies that the pushing
  instruction *and every earlier one of its unit* are complete); the k-th pop of a queue happens
  after the end of the instruction that made its k-th push. Two instructions of different units
  that touch the same buffer word or memory beat, at least one writing, must be ordered: the end
  of the earlier one (in program order) must happen before the start of the later one.
* **Token bound**: an upper bound, over all timings, of the tokens waiting in each queue, which
  the hardware's token counters must hold.

The analysis assumes nothing about instruction latencies, so it is valid for any memory timing.
It does not rely on the in-order dispatch of the current sequencer either (an instruction starts
only after every earlier one was dispatched), so programs it accepts stay correct if the units
get command queues.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..hw.config import SystoleConfig
from ..hw.isa import FLAGS, Opcode, Unit, disassemble, encode, unit_of
from .footprint import Shadow, footprint

__all__ = ["Queue", "queue_between", "token_ops", "Stuck", "Race", "TokenReport", "TokenError",
           "DeadlockError", "RaceError", "check_tokens"]


class Queue(enum.IntEnum):
    """Token queues (semaphores) between adjacent units."""

    L2C = 0
    C2L = 1
    C2S = 2
    S2C = 3


_QUEUES = {(Unit.LOAD, Unit.COMPUTE): Queue.L2C, (Unit.COMPUTE, Unit.LOAD): Queue.C2L,
           (Unit.COMPUTE, Unit.STORE): Queue.C2S, (Unit.STORE, Unit.COMPUTE): Queue.S2C}


def queue_between(src: Unit, dst: Unit) -> Queue | None:
    """The queue carrying tokens from unit ``src`` to unit ``dst`` (``None``: not adjacent)."""
    return _QUEUES.get((Unit(src), Unit(dst)))


def token_ops(fields: dict) -> tuple[list[Queue], list[Queue], list[str]]:
    """Queues a decoded instruction pops and pushes, and its flags that name no queue.

    Load has no previous unit and store no next one; HALT belongs to no unit. Flags without a
    queue are returned as the third element (the golden model treats them as no-ops).
    """
    unit = unit_of(fields)
    pops: list[Queue] = []
    pushes: list[Queue] = []
    meaningless: list[str] = []
    for flag in FLAGS:
        if not fields[flag]:
            continue
        direction, side = flag.split("_")
        other = None if unit is None else unit + (-1 if side == "prev" else 1)
        queue = None
        if other is not None and 0 <= other < len(Unit):
            queue = (queue_between(Unit(other), unit) if direction == "pop"
                     else queue_between(unit, Unit(other)))
        if queue is None:
            meaningless.append(flag)
        else:
            (pops if direction == "pop" else pushes).append(queue)
    return pops, pushes, meaningless


@dataclass(frozen=True)
class Stuck:
    """A unit that can never proceed: its head instruction waits on empty queues forever."""

    unit: Unit
    pc: int
    text: str
    waits_on: tuple[Queue, ...]

    def __str__(self) -> str:
        queues = ", ".join(q.name for q in self.waits_on) or "dispatch"
        return f"{self.unit.name.lower()} unit stuck at {self.pc:#x} ({self.text}) on {queues}"


@dataclass(frozen=True)
class Race:
    """Two instructions of different units touch ``space`` without a token ordering them."""

    space: str
    earlier_pc: int
    earlier: str
    later_pc: int
    later: str

    def __str__(self) -> str:
        return (f"race on {self.space}: {self.later_pc:#x} ({self.later}) is not ordered after "
                f"{self.earlier_pc:#x} ({self.earlier})")


class TokenError(Exception):
    """A program whose dependency tokens are wrong (see :class:`TokenReport`)."""

    def __init__(self, report: TokenReport, message: str):
        super().__init__(message)
        self.report = report


class DeadlockError(TokenError):
    """The units would wait for each other forever."""


class RaceError(TokenError):
    """Two units touch the same data without a token ordering them."""


@dataclass
class TokenReport:
    """Result of :func:`check_tokens`.

    Members
    -------
    deadlock : list of Stuck
        Units that can never proceed (empty: no deadlock).
    dispatch_pc : int or None
        The instruction the sequencer could not dispatch, if it got stuck.
    races : list of Race
        Unordered conflicting accesses among the instructions that could execute.
    meaningless : list of (pc, flag)
        Flags that name no queue (pop_prev on LOAD, push_next on STORE, any flag on HALT).
    leftover : dict
        Tokens pushed but never popped, per queue name (non-zero entries only).
    bound : dict
        Upper bound of the tokens waiting in each queue, over all timings.
    """

    deadlock: list[Stuck] = field(default_factory=list)
    dispatch_pc: int | None = None
    races: list[Race] = field(default_factory=list)
    meaningless: list[tuple[int, str]] = field(default_factory=list)
    leftover: dict[str, int] = field(default_factory=dict)
    bound: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.deadlock or self.races or self.meaningless)

    def raise_for_problems(self) -> None:
        """Raise :class:`DeadlockError`, :class:`RaceError` or :class:`TokenError` if not ok."""
        if self.deadlock:
            raise DeadlockError(self, "deadlock: " + "; ".join(map(str, self.deadlock)))
        if self.races:
            more = f" (and {len(self.races) - 1} more)" if len(self.races) > 1 else ""
            raise RaceError(self, f"{self.races[0]}{more}")
        if self.meaningless:
            pc, flag = self.meaningless[0]
            raise TokenError(self, f"{flag} at {pc:#x} names no token queue")


def _text(fields: dict) -> str:
    return disassemble(encode(fields["opcode"], **{k: v for k, v in fields.items()
                                                   if k != "opcode"}))


def _schedule(units: list, pops: list, pushes: list, queue_depth: int | None):
    """Run the units eagerly; return the execution order, the stuck heads and dispatch state."""
    pending = {u: deque() for u in Unit}
    tokens = [0] * len(Queue)
    order: list[int] = []
    dispatch = 0
    if queue_depth == 0:   # pops at dispatch, in program order: blocked means blocked forever
        for i, unit in enumerate(units):
            if unit is not None:
                if any(tokens[q] == 0 for q in pops[i]):
                    pending[unit].append(i)
                    return order, pending, tokens, i
                for q in pops[i]:
                    tokens[q] -= 1
                for q in pushes[i]:
                    tokens[q] += 1
                order.append(i)
        return order, pending, tokens, len(units)
    progress = True
    while progress:
        progress = False
        while dispatch < len(units):
            unit = units[dispatch]
            if unit is not None:
                if queue_depth is not None and len(pending[unit]) >= queue_depth:
                    break
                pending[unit].append(dispatch)
            dispatch += 1
            progress = True
        for unit in Unit:
            while pending[unit]:
                i = pending[unit][0]
                if any(tokens[q] == 0 for q in pops[i]):
                    break
                for q in pops[i]:
                    tokens[q] -= 1
                for q in pushes[i]:
                    tokens[q] += 1
                order.append(pending[unit].popleft())
                progress = True
    return order, pending, tokens, dispatch


def check_tokens(trace: Sequence[tuple[int, dict]], config: SystoleConfig, *,
                 queue_depth: int | None = 0, program: tuple[int, int] | None = None
                 ) -> TokenReport:
    """Check the token discipline of the instructions a run dispatched.

    Parameters
    ----------
    trace : sequence of (pc, fields)
        Dispatched instructions in program order, decoded (:func:`systole.hw.isa.decode`).
    config : SystoleConfig
        The accelerator (buffer depths, word sizes).
    queue_depth : int or None
        0 (the hardware): an instruction is dispatched, in program order, only once its pops
        can be taken. n: each unit queues n dispatched instructions and pops at the head; the
        sequencer stalls while the next instruction's queue is full. ``None``: unbounded.
    program : (int, int), optional
        Byte range ``[start, end)`` the sequencer fetched; a STORE writing into it is reported
        as a race with instruction fetch.
    """
    report = TokenReport()
    units = [unit_of(f) for _, f in trace]
    ops = [token_ops(f) for _, f in trace]
    pops = [o[0] for o in ops]
    pushes = [o[1] for o in ops]
    report.meaningless = [(pc, flag) for (pc, _), o in zip(trace, ops, strict=True)
                          for flag in o[2]]
    order, pending, _, dispatch = _schedule(units, pops, pushes, queue_depth)
    for unit, queue in pending.items():
        if queue:
            i = queue[0]
            pc, fields = trace[i]
            report.deadlock.append(Stuck(unit, pc, _text(fields), tuple(pops[i])))
    if dispatch < len(trace):
        report.dispatch_pc = trace[dispatch][0]
    local = [0] * len(trace)
    members: dict[Unit, list[int]] = {u: [] for u in Unit}
    for i, unit in enumerate(units):
        if unit is not None:
            local[i] = len(members[unit])
            members[unit].append(i)
    for q in Queue:
        pushed = sum(q in p for p in pushes)
        popped = sum(q in p for p in pops)
        if pushed > popped:
            report.leftover[q.name] = pushed - popped

    # Vector clocks: vc[u] = latest unit-u instruction whose end happens before this event.
    vc_start: dict[int, list[int]] = {}
    vc_end: dict[int, list[int]] = {}
    last_start = {u: [-1] * len(Unit) for u in Unit}
    last_end = {u: [-1] * len(Unit) for u in Unit}
    pushers: dict[Queue, list[int]] = {q: [] for q in Queue}
    popped_so_far = dict.fromkeys(Queue, 0)
    for i in order:
        unit = units[i]
        start = list(last_start[unit])
        for q in pops[i]:
            source = vc_end[pushers[q][popped_so_far[q]]]
            popped_so_far[q] += 1
            start = [max(a, b) for a, b in zip(start, source, strict=True)]
        end = [max(a, b) for a, b in zip(start, last_end[unit], strict=True)]
        end[unit] = local[i]
        vc_start[i], vc_end[i] = start, end
        last_start[unit], last_end[unit] = start, end
        for q in pushes[i]:
            pushers[q].append(i)

    report.bound = _token_bound(units, local, members, pops, pushers, vc_end)
    _find_races(report, trace, config, units, local, members, vc_start, program)
    return report


def _token_bound(units, local, members, pops, pushers, vc_end) -> dict[str, int]:
    bound: dict[str, int] = {}
    for q in Queue:
        consumer = next(dst for (src, dst), queue in _QUEUES.items() if queue == q)
        cumulative = [0]
        for i in members[consumer]:
            cumulative.append(cumulative[-1] + (q in pops[i]))
        worst = 0
        for p, i in enumerate(pushers[q], start=1):
            worst = max(worst, p - cumulative[vc_end[i][consumer] + 1])
        bound[q.name] = worst
    return bound


def _find_races(report, trace, config, units, local, members, vc_start, program) -> None:
    shadow = Shadow(config)
    fetched = None
    if program is not None:
        beat = config.memory.data_bytes
        fetched = (program[0] // beat, -(-program[1] // beat))
    for i, (pc, fields) in enumerate(trace):
        unit = units[i]
        if unit is None or i not in vc_start:
            continue
        accesses = footprint(fields, config)
        for other, (j, space) in shadow.conflicts(unit, accesses).items():
            if vc_start[i][other] < j:
                epc, efields = trace[members[Unit(other)][j]]
                report.races.append(Race(space, epc, _text(efields), pc, _text(fields)))
        shadow.record(unit, local[i], accesses)
        if fetched is not None and fields["opcode"] == Opcode.STORE:
            beats = accesses[-1].words
            if ((beats >= fetched[0]) & (beats < fetched[1])).any():
                report.races.append(Race("program", pc, _text(fields), program[0],
                                         "instruction fetch"))
