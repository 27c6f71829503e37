"""Where the array's cycles go: a per-cycle activity class for the performance counters.

Every cycle the machine is busy falls into exactly one :class:`Activity`, so the counters of the
register file (``ARRAY_BUSY`` and ``STALL_*``) add up to ``CYCLES``. The classes are judged from
the array's point of view, in this order of precedence:

``BUSY``
    The array accepted an activation vector.
``WEIGHTS``
    An activation vector waits at the array's input for its weight tile to finish shifting in.
``INPUTS``
    The compute unit holds a MATMUL but no vector reaches the array: buffer read latency and the
    bubble between two commands (its operands are already on chip).
``MEMORY``
    The compute unit's next command waits for a LOAD token: its operands are still coming from
    memory.
``DRAIN``
    Results are still on their way out: the next command waits for a STORE token (accumulator
    space not yet written back to memory), results are in flight in the array, or only STORE
    work remains.
``SEQUENCER``
    Nothing else to do: the compute unit has no command because the sequencer is fetching or
    decoding instructions (the start of a program, in-order dispatch behind a full queue).
"""

from __future__ import annotations

from amaranth.hdl import Mux
from amaranth.lib import enum as hdl_enum

__all__ = ["Activity", "COUNTER_REGISTERS", "fold_activity"]


class Activity(hdl_enum.Enum, shape=3):
    """Activity class of one cycle (see the module docstring)."""

    BUSY = 0
    WEIGHTS = 1
    INPUTS = 2
    MEMORY = 3
    DRAIN = 4
    SEQUENCER = 5
    #: Compute-unit view only: it has nothing to do (folded into DRAIN or SEQUENCER).
    IDLE = 7


#: Register counting each class (``BUSY`` is the existing ``ARRAY_BUSY``).
COUNTER_REGISTERS = {
    Activity.BUSY: "ARRAY_BUSY",
    Activity.WEIGHTS: "STALL_WEIGHTS",
    Activity.INPUTS: "STALL_INPUTS",
    Activity.MEMORY: "STALL_MEMORY",
    Activity.DRAIN: "STALL_DRAIN",
    Activity.SEQUENCER: "STALL_SEQUENCER",
}


def fold_activity(compute_activity, store_idle):
    """The machine's activity from the compute unit's view and the store unit's state."""
    return Mux(compute_activity == Activity.IDLE,
               Mux(store_idle, Activity.SEQUENCER, Activity.DRAIN), compute_activity)

