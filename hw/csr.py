"""Control and status register file on an AXI4-Lite slave port (map in :mod:`.regs`)."""

from __future__ import annotations

import operator
from functools import reduce

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axil import AxiLiteSignature
from .perf import COUNTER_REGISTERS, Activity, fold_activity
from .regs import CTRL_START, ID_VALUE, REG, STATUS_DONE

__all__ = ["ControlRegisters"]


class ControlRegisters(wiring.Component):
    """AXI4-Lite register file: start, program address, status, error, counters, interrupt.

    Members
    -------
    bus : In(AxiLiteSignature())
        Slave port. One write and one read in flight; responses are always OKAY (unmapped
        addresses read 0 and ignore writes).
    start : Out(1)
        One-cycle pulse, the cycle after software writes CTRL.START while the machine is not
        busy (a register: no path from the bus into the sequencer).
    prog_addr : Out(32)
    busy, done, error : In(1)
        Machine state; ``done`` is a one-cycle pulse that sets STATUS.DONE.
    error_code : In(8)
    error_pc : In(32)
    dispatched : In(1)
        Event pulse counted into INSTRUCTIONS.
    activity : In(Activity)
        The compute unit's view of the cycle; with ``store_idle`` it picks the one counter of
        ARRAY_BUSY and STALL_* that counts the cycle (:func:`.perf.fold_activity`).
    store_idle : In(1)
    bytes_read, bytes_written : In(16)
        Bytes moved this cycle, added to BYTES_READ / BYTES_WRITTEN.
    irq : Out(1)
        STATUS.DONE and CTRL.IRQ_ENABLE.

    Parameters
    ----------
    rows, cols : int
        Array shape, for the CONFIG register.
    stall_counters : bool
        Count the STALL_* registers; ``False`` leaves them out (they read 0), ARRAY_BUSY stays.
    registered_events : bool
        Count ``dispatched`` a cycle late, from a register: it comes from the sequencer's
        dispatch decision, which would otherwise run into a 32-bit adder. ``False``
        (default) saves the flip-flop (the iCEBreaker).
    registered_reads : bool
        Read in three registered steps, two cycles more per read: the address, a register
        per group of four registers, and their OR. The one multiplexer of all registers
        from the bus address was a path of the ULX3S build. ``False`` (default) saves the
        cycles and the flip-flops.

    Latency
    -------
    Write response two cycles after AW and W are both valid; read data two cycles after AR
    (four with ``registered_reads``).
    Counters clear on START and count while BUSY, from registers a cycle behind it (the last
    busy cycle counts the cycle after); ARRAY_BUSY and STALL_* add up to CYCLES.
    """

    def __init__(self, *, rows: int, cols: int, stall_counters: bool = True,
                 registered_events: bool = False, registered_reads: bool = False):
        self.rows, self.cols = rows, cols
        self.registered_reads = registered_reads
        self.stall_counters = stall_counters
        self.registered_events = registered_events
        super().__init__({
            "bus": In(AxiLiteSignature()),
            "start": Out(1),
            "prog_addr": Out(32),
            "busy": In(1), "done": In(1), "error": In(1),
            "error_code": In(8), "error_pc": In(32),
            "dispatched": In(1), "activity": In(Activity), "store_idle": In(1),
            "bytes_read": In(16), "bytes_written": In(16),
            "irq": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        bus = self.bus
        irq_enable = Signal()
        done = Signal()
        cycles = Signal(64)
        instructions = Signal(32)
        # The counters take the cycle's activity a cycle late, from registers: the activity
        # comes from the compute and store units' handshakes. ``counting`` follows ``busy``
        # by the same cycle, so the counters still add up to CYCLES.
        activity = Signal(Activity)
        counting = Signal()
        m.d.sync += [activity.eq(fold_activity(self.activity, self.store_idle)),
                     counting.eq(self.busy & ~self.start)]
        counters = {name: Signal(32, name=name.lower()) for name in COUNTER_REGISTERS.values()
                    if self.stall_counters or not name.startswith("STALL_")}
        bytes_read = Signal(32)
        bytes_written = Signal(32)
        dispatched = self.dispatched
        if self.registered_events:
            dispatched = Signal()
            m.d.sync += dispatched.eq(self.dispatched)

        with m.If(self.start):
            m.d.sync += [cycles.eq(0), instructions.eq(0),
                         bytes_read.eq(0), bytes_written.eq(0), done.eq(0)]
            m.d.sync += [counter.eq(0) for counter in counters.values()]
        with m.Else():
            with m.If(counting):
                m.d.sync += cycles.eq(cycles + 1)
                with m.Switch(activity):
                    for kind, name in COUNTER_REGISTERS.items():
                        if name not in counters:
                            continue
                        with m.Case(kind):
                            m.d.sync += counters[name].eq(counters[name] + 1)
            m.d.sync += [
                instructions.eq(instructions + dispatched),
                bytes_read.eq(bytes_read + self.bytes_read),
                bytes_written.eq(bytes_written + self.bytes_written),
            ]
            with m.If(self.done):
                m.d.sync += done.eq(1)

        status = Signal(32)
        m.d.comb += [
            status[0].eq(self.busy), status[1].eq(done), status[2].eq(self.error),
            self.irq.eq(done & irq_enable),
        ]
        config = self.rows % 256 | (self.cols % 256) << 16
        readable = {
            "CTRL": irq_enable << 1, "STATUS": status, "ERROR_CODE": self.error_code,
            "ERROR_PC": self.error_pc, "PROG_ADDR": self.prog_addr,
            "CYCLES_LO": cycles[:32], "CYCLES_HI": cycles[32:],
            "INSTRUCTIONS": instructions,
            "BYTES_READ": bytes_read, "BYTES_WRITTEN": bytes_written,
            "CONFIG": config, "ID": ID_VALUE, **counters,
        }

        # Writes: take AW and W together, answer on B.
        b_pending = Signal()
        write = bus.aw.valid & bus.w.valid & ~b_pending
        m.d.comb += [bus.aw.ready.eq(write), bus.w.ready.eq(write),
                     bus.b.valid.eq(b_pending), bus.b.payload.resp.eq(0)]
        # ``start`` is a register: it pulses the cycle after the CTRL write.
        m.d.sync += self.start.eq(0)
        with m.If(bus.b.ready & b_pending):
            m.d.sync += b_pending.eq(0)
        with m.If(write):
            m.d.sync += b_pending.eq(1)
            wdata = bus.w.payload.data
            with m.Switch(bus.aw.payload.addr):
                with m.Case(REG["CTRL"].offset):
                    m.d.sync += irq_enable.eq(wdata[1])
                    m.d.sync += self.start.eq((wdata & CTRL_START).any() & ~self.busy)
                with m.Case(REG["STATUS"].offset):
                    with m.If((wdata & STATUS_DONE).any()):
                        m.d.sync += done.eq(0)
                with m.Case(REG["PROG_ADDR"].offset):
                    m.d.sync += self.prog_addr.eq(wdata)

        # Reads: register the data, answer on R.
        r_pending = Signal()
        rdata = Signal(32)
        m.d.comb += [bus.r.valid.eq(r_pending),
                     bus.r.payload.data.eq(rdata), bus.r.payload.resp.eq(0)]
        with m.If(bus.r.ready & r_pending):
            m.d.sync += r_pending.eq(0)

        def select(addr, names, target):
            """``target`` takes the register of ``names`` at ``addr``, or 0."""
            with m.Switch(addr):
                for name in names:
                    with m.Case(REG[name].offset):
                        m.d.sync += target.eq(readable[name])
                with m.Default():
                    m.d.sync += target.eq(0)

        if not self.registered_reads:
            m.d.comb += bus.ar.ready.eq(~r_pending)
            with m.If(bus.ar.valid & ~r_pending):
                m.d.sync += r_pending.eq(1)
                select(bus.ar.payload.addr, readable, rdata)
            return m
        # Registered: the address, then a register per group of four that holds the group's
        # register (or 0), then their OR in ``rdata``.
        raddr = Signal.like(bus.ar.payload.addr)
        addressed, gathered = Signal(), Signal()
        names = list(readable)
        parts = [Signal(32, name=f"part{index}") for index in range(0, len(names), 4)]
        m.d.comb += bus.ar.ready.eq(~r_pending & ~addressed & ~gathered)
        m.d.sync += [addressed.eq(bus.ar.valid & bus.ar.ready), gathered.eq(addressed)]
        with m.If(bus.ar.valid & bus.ar.ready):
            m.d.sync += raddr.eq(bus.ar.payload.addr)
        with m.If(addressed):
            for index, part in enumerate(parts):
                select(raddr, names[4 * index:][:4], part)
        with m.If(gathered):
            m.d.sync += [rdata.eq(reduce(operator.or_, parts)), r_pending.eq(1)]
        return m
