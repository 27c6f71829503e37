"""Token discipline: deadlocks, races and token bounds of deliberately broken programs."""

import numpy as np
import pytest

from systole.asm import assemble, to_bytes
from systole.hw.config import preset
from systole.hw.isa import decode
from systole.sim.golden_isa import GoldenMachine
from systole.sim.tokens import (
    DeadlockError,
    Queue,
    RaceError,
    TokenError,
    check_tokens,
    queue_between,
    token_ops,
)

TINY = preset("tiny")


def report(program: str, **kwargs):
    trace = [(16 * i, decode(w)) for i, w in enumerate(assemble(program))]
    return check_tokens(trace, TINY, **kwargs)


GOOD = """
    LOAD buffer=act rows=4 mem_addr=0x1000 stride=0x20
    LOAD buffer=weight rows=4 mem_addr=0x2000 stride=0x20 +push_next
    MATMUL rows=4 +pop_prev +push_prev              ; acc 0..3; act free again
    LOAD buffer=act rows=4 mem_addr=0x3000 stride=0x20 +pop_next +push_next
    MATMUL rows=4 accumulate=1 +pop_prev +push_next
    STORE rows=4 mem_addr=0x4000 stride=0x20 +pop_prev +push_prev
    MATMUL acc_addr=4 rows=4 +push_next             ; other accumulators: no wait
    STORE acc_addr=4 rows=4 mem_addr=0x5000 stride=0x20 +pop_prev
    MATMUL rows=4 +pop_next                         ; acc 0..3 again, once stored
    HALT
"""


def test_correct_program_is_clean():
    rep = report(GOOD)
    assert rep.ok and not rep.deadlock and not rep.races
    assert rep.leftover == {}
    assert rep.bound == {"L2C": 1, "C2L": 1, "C2S": 2, "S2C": 1}


def test_golden_machine_raises_and_reports():
    image = np.zeros(0x9000, np.uint8)
    image[0x8000:0x8000 + 32] = to_bytes(assemble("MATMUL rows=1 +pop_prev\nHALT"))
    with pytest.raises(DeadlockError, match="compute unit stuck at 0x8000"):
        GoldenMachine(TINY).run(image, 0x8000)
    result = GoldenMachine(TINY).run(image, 0x8000, strict=False)
    assert result.ok and not result.tokens.ok    # the sequential result exists anyway


def test_pop_without_push_deadlocks():
    rep = report("""
        LOAD buffer=weight rows=4 mem_addr=0x2000 stride=0x20
        MATMUL rows=1 +pop_prev
        HALT""")
    assert [(s.unit.name, s.pc, s.waits_on) for s in rep.deadlock] == \
        [("COMPUTE", 0x10, (Queue.L2C,))]
    with pytest.raises(DeadlockError, match=r"compute unit stuck at 0x10 \(MATMUL .*\) on L2C"):
        rep.raise_for_problems()


def test_circular_wait_deadlocks():
    program = """
        LOAD buffer=act rows=1 mem_addr=0x1000 +pop_next +push_next
        MATMUL rows=1 +pop_prev +push_prev
        HALT"""
    assert [s.unit.name for s in report(program).deadlock] == ["LOAD"]
    rep = report(program, queue_depth=None)
    assert {s.unit.name for s in rep.deadlock} == {"LOAD", "COMPUTE"}


def test_a_pop_before_its_push_deadlocks_the_in_order_sequencer():
    program = """
        SYNC unit=compute +pop_prev
        SYNC unit=compute
        SYNC unit=load +push_next
        HALT"""
    assert report(program, queue_depth=None).ok    # unbounded queues: the load unit runs
    rep = report(program, queue_depth=1)           # stalls dispatching the 2nd SYNC
    assert rep.dispatch_pc == 0x10
    assert [s.unit.name for s in rep.deadlock] == ["COMPUTE"]
    rep = report(program)                          # the hardware: stalls at the 1st SYNC
    assert rep.dispatch_pc == 0x0
    assert [str(s) for s in rep.deadlock] == \
        ["compute unit stuck at 0x0 (SYNC unit=1 +pop_prev) on L2C"]


@pytest.mark.parametrize("program,space", [
    # MATMUL reads a tile the LOAD writes, without a token.
    ("LOAD buffer=weight rows=4 mem_addr=0x2000 stride=0x20\nMATMUL rows=1", "weight"),
    # the token comes from an earlier LOAD: it does not cover the later one
    ("""LOAD buffer=weight rows=4 mem_addr=0x2000 stride=0x20 +push_next
        LOAD buffer=act rows=1 mem_addr=0x1000
        MATMUL rows=1 +pop_prev""", "act"),
    # STORE reads accumulators the MATMUL writes, without a token.
    ("MATMUL rows=2\nSTORE rows=2 mem_addr=0x4000 stride=0x20", "acc"),
    # LOAD overwrites activations an earlier MATMUL still reads.
    ("""MATMUL rows=2 act_addr=4
        LOAD buffer=act buf_addr=5 rows=1 mem_addr=0x1000""", "act"),
    # MATMUL overwrites accumulators an earlier STORE has not finished reading.
    ("""MATMUL rows=2 +push_next
        STORE rows=2 mem_addr=0x4000 stride=0x20 +pop_prev
        MATMUL rows=1 acc_addr=1""", "acc"),
    # LOAD reads memory a STORE writes (the units share no queue: order through compute).
    ("STORE rows=1 mem_addr=0x4000\nLOAD buffer=act rows=1 mem_addr=0x4000", "mem"),
    # STORE writes memory an earlier LOAD reads.
    ("LOAD buffer=act rows=1 mem_addr=0x4000\nSTORE rows=1 mem_addr=0x4000", "mem"),
])
def test_races_are_found(program, space):
    rep = report(program + "\nHALT")
    assert not rep.deadlock
    assert [r.space for r in rep.races] == [space]
    with pytest.raises(RaceError, match=f"race on {space}: "):
        rep.raise_for_problems()


def test_order_through_compute_removes_the_memory_race():
    rep = report("""
        STORE rows=1 mem_addr=0x4000 +push_prev
        SYNC unit=compute +pop_next +push_prev
        LOAD buffer=act rows=1 mem_addr=0x4000 +pop_next
        HALT""")
    assert rep.ok, rep.races


def test_disjoint_regions_need_no_tokens():
    rep = report("""
        LOAD buffer=act buf_addr=8 rows=4 mem_addr=0x1000 stride=0x20
        MATMUL act_addr=0 acc_addr=0 rows=4
        STORE acc_addr=4 rows=4 mem_addr=0x4000 stride=0x20
        HALT""")
    assert rep.ok


def test_store_over_the_program_is_a_race():
    trace = [(0x100, decode(w)) for w in assemble("STORE rows=1 mem_addr=0x100")]
    rep = check_tokens(trace, TINY, program=(0x100, 0x120))
    assert [r.space for r in rep.races] == ["program"]


@pytest.mark.parametrize("line,flag", [
    ("LOAD rows=1 +pop_prev", "pop_prev"), ("LOAD rows=1 +push_prev", "push_prev"),
    ("STORE rows=1 +pop_next", "pop_next"), ("STORE rows=1 +push_next", "push_next"),
    ("SYNC unit=load +pop_prev", "pop_prev"), ("HALT +push_next", "push_next"),
])
def test_flags_without_a_queue(line, flag):
    rep = report(line)
    assert rep.meaningless == [(0, flag)] and not rep.ok
    with pytest.raises(TokenError, match=f"{flag} at 0x0 names no token queue"):
        rep.raise_for_problems()


def test_leftover_tokens_are_reported_not_errors():
    rep = report("LOAD buffer=act buf_addr=8 rows=1 +push_next\nMATMUL rows=1 +push_next\nHALT")
    assert rep.ok and rep.leftover == {"L2C": 1, "C2S": 1}


def test_bound_counts_tokens_a_producer_can_run_ahead():
    rep = report("\n".join(["SYNC unit=load +push_next"] * 5 + ["SYNC unit=compute +pop_prev"] * 5))
    assert rep.bound["L2C"] == 5
    credit = ["SYNC unit=load +push_next"] + ["SYNC unit=compute +pop_prev +push_prev",
                                              "SYNC unit=load +pop_next +push_next"] * 4
    rep = report("\n".join(credit + ["SYNC unit=compute +pop_prev +push_prev",
                                      "SYNC unit=load +pop_next"]))
    assert rep.ok and rep.bound["L2C"] == 1 and rep.bound["C2L"] == 1


def test_queue_names():
    assert [q.name for q in Queue] == ["L2C", "C2L", "C2S", "S2C"]
    assert queue_between(0, 2) is None and queue_between(2, 1) == Queue.S2C
    assert token_ops(decode(assemble("MATMUL rows=1 +pop_next +push_prev")[0])) == \
        ([Queue.S2C], [Queue.C2L], [])
