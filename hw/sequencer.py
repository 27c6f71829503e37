"""Sequencer: fetches instructions through the DMA, decodes and checks them, and dispatches
them to the load, compute and store units."""

from __future__ import annotations

from amaranth.hdl import C, Cat, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .buffers import REGION_INSTR, BufferMap
from .bufread import ReadPortSignature
from .carry import greater_on_carry
from .cmds import compute_cmd_layout, load_cmd_layout, store_cmd_layout
from .config import SystoleConfig
from .dma import descriptor_layout, status_layout
from .dmaunit import unit_error_layout
from .isa import (
    FLAGS,
    INSTR_BITS,
    INSTR_BYTES,
    Buffer,
    ErrorCode,
    Opcode,
    PostProcDst,
    Unit,
    instr_layout,
)
from .mult import ECP5_OPERAND_BITS, ecp5_registered_product

__all__ = ["Sequencer"]


def _exceeds(addr, count, depth, max_depth: int | None = None, total=None):
    """``addr + count > depth`` for a buffer of at most ``max_depth`` words, in the bits that
    hold ``max_depth``: any higher bit set decides it alone. ``total``, if given, is the sum
    of those bits (a register loaded ahead)."""
    max_depth = depth if max_depth is None else max_depth
    bits = max_depth.bit_length()
    high = Value.cast(addr)[bits:].any() | Value.cast(count)[bits:].any()
    if total is None:
        total = Value.cast(addr)[:bits] + Value.cast(count)[:bits]
    return high | (total > depth)


def _exceeds_one_of(addr, count, depths: list, max_depth: int, *, per_depth: bool,
                    total=None):
    """:func:`_exceeds` for a range that may lie in one of several buffers: ``depths`` lists
    ``(condition, depth)``, the first whose condition holds applies, the last one's condition
    is ``None`` (the default). ``per_depth`` compares the one sum (``total``, if given) with
    each depth (constants) and selects the result; otherwise it is compared with the selected
    depth."""
    if per_depth:
        result = _exceeds(addr, count, depths[-1][1], max_depth, total)
        for condition, depth in reversed(depths[:-1]):
            result = Mux(condition, _exceeds(addr, count, depth, max_depth, total), result)
        return result
    selected = depths[-1][1]
    for condition, depth in reversed(depths[:-1]):
        selected = Mux(condition, depth, selected)
    return _exceeds(addr, count, selected, max_depth)


def _fits(value, size: int, limit: int, *, compare_only: bool):
    """``value + size <= limit``; with ``compare_only`` as ``value <= limit - size`` (one
    compare with a constant, no adder in front of it)."""
    if not compare_only:
        return value + size <= limit
    return Value.cast(value) <= limit - size if limit >= size else C(0, 1)


class Sequencer(wiring.Component):
    """Instruction fetch, decode, operand checks and dispatch; start, halt, done and errors.

    Fetch fills the two halves of the instruction ring alternately through the load DMA (one
    descriptor per half), starting at ``prog_addr``. Decode reads one instruction at a time,
    checks it (:class:`~systole.hw.isa.ErrorCode` order: opcode, empty, buffer range,
    alignment, memory range) and hands it to its unit's command stream. An instruction that
    fails a check is not dispatched; the machine records the code and the instruction's
    address, dispatches nothing more, waits until the units are idle and reports done with the
    error. HALT stops fetch and decode; done follows when the units are idle.

    Members
    -------
    start : In(1)
    prog_addr : In(32)
    fetch_cmd : Out(stream.Signature(descriptor_layout(load_memory)))
    fetch_status : In(stream.Signature(status_layout()))
    instr : Out(ReadPortSignature(...))
        Instruction ring read port.
    load, compute, store : Out(stream.Signature(..._cmd_layout()))
    unit_errors : In(stream.Signature(unit_error_layout(), always_ready=True)).array(2)
        Bus errors reported by the load and store units; registered, they stop the run a
        cycle after the report.
    units_idle : In(1)
    busy, done, error : Out(1)
        ``done`` pulses once per run; ``error`` holds until the next start.
    error_code : Out(8)
    error_pc : Out(32)
    dispatched : Out(1)
        Pulses per dispatched instruction.

    Latency
    -------
    Three cycles per instruction (two check stages, dispatch) when the ring holds it: a front
    stage reads the next instruction from the ring (three cycles) while the current one is
    checked and dispatched. Dispatch writes the instruction into its unit's command register
    (``load``, ``compute`` and ``store`` are registered streams), which must be empty: the unit
    took the one before at least a cycle earlier. The unit sees it the cycle after dispatch.
    """

    def __init__(self, config: SystoleConfig):
        self.config = config
        self.map = bmap = BufferMap(config)
        self.half_words = max(1, bmap.depth[REGION_INSTR] // 2)
        super().__init__({
            "start": In(1),
            "prog_addr": In(32),
            "fetch_cmd": Out(stream.Signature(descriptor_layout(bmap.load_memory))),
            "fetch_status": In(stream.Signature(status_layout())),
            "instr": Out(ReadPortSignature(max(1, (bmap.depth[REGION_INSTR] - 1).bit_length()),
                                           bmap.word_bits(REGION_INSTR))),
            "load": Out(stream.Signature(load_cmd_layout())),
            "compute": Out(stream.Signature(compute_cmd_layout(config.matvec))),
            "store": Out(stream.Signature(store_cmd_layout())),
            "unit_errors": In(stream.Signature(unit_error_layout(),
                                               always_ready=True)).array(2),
            "units_idle": In(1),
            "busy": Out(1), "done": Out(1), "error": Out(1),
            "error_code": Out(8), "error_pc": Out(32),
            "dispatched": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, bmap = self.config, self.map
        mem, buf = cfg.memory, cfg.buffers
        beat_mask = mem.data_bytes - 1
        word_bytes = bmap.word_bits(REGION_INSTR) // 8
        half_words, ipw = self.half_words, bmap.instrs_per_word
        half_bytes = half_words * word_bytes

        running = Signal()     # fetching and decoding
        stopping = Signal()    # HALT or error seen: wait for the units
        m.d.comb += self.busy.eq(running | stopping)

        reported = [(Signal(name=f"unit_error{i}_valid"),
                     Signal(unit_error_layout(), name=f"unit_error{i}"))
                    for i in range(len(self.unit_errors))] if cfg.registered_control else []

        def fail(code, pc):
            """Record the first error and stop dispatching."""
            return [
                self.error.eq(1), self.error_code.eq(code), self.error_pc.eq(pc),
                running.eq(0), stopping.eq(1),
            ]

        # Program addresses. Fetch never passes the end of memory, and decode never passes
        # fetch, so above bit ``addr_width`` every address of a run is that of ``prog_addr``
        # (a program starting past the memory fetches nothing): the counters hold only the low
        # bits, ``pc_hi`` the rest.
        pc_bits = min(32, mem.addr_width + 1)
        pc_hi = Signal(32 - pc_bits)

        def program_address(name):
            low = Signal(pc_bits, name=f"{name}_low")
            return low, Cat(low, pc_hi)

        # ---- fetch: two halves, filled alternately --------------------------------------------
        full = Signal(2)        # half h holds instructions not yet decoded
        fetching = Signal(2)    # a descriptor for half h is in flight
        fetch_half = Signal()   # next half to fill
        fetch_low, fetch_pc = program_address("fetch_pc")
        oldest = Signal()       # half of the oldest fetch in flight (statuses come in order)
        fetch_on = Signal()
        target_free = ~Mux(fetch_half, full[1] | fetching[1], full[0] | fetching[0])
        # The next half lies in memory: a register, updated with ``fetch_low``.
        in_memory = Signal()
        desc = self.fetch_cmd.payload
        m.d.comb += [
            self.fetch_cmd.valid.eq(running & fetch_on & target_free & in_memory),
            desc.mem_addr.eq(fetch_pc), desc.stride.eq(half_bytes),
            desc.row_bytes.eq(half_bytes), desc.rows.eq(1),
            desc.buf_addr.eq(bmap.load_beat_addr(REGION_INSTR, fetch_half * half_words)),
            self.fetch_status.ready.eq(1),
        ]
        with m.If(self.fetch_cmd.valid & self.fetch_cmd.ready):
            m.d.sync += [fetch_low.eq(fetch_low + half_bytes), fetch_half.eq(~fetch_half),
                         in_memory.eq(_fits(fetch_low, 2 * half_bytes, mem.size,
                                            compare_only=cfg.check_registers)),
                         fetching.bit_select(fetch_half, 1).eq(1)]
        # A failed fetch stops the sequencer a cycle after its status, from registers: the
        # status comes from the DMA engine's completion logic through the arbiter, and the
        # error registers are some 40 flip-flops. The failed half is never marked full, so
        # nothing past the error is decoded in between. ERROR_PC is the first address the
        # failed fetch read: by then ``fetch_pc`` is past it and past every fetch still in
        # flight (at most one, issued after it).
        fetch_failed = Signal()
        failed_low = fetch_low - (1 + fetching[0] + fetching[1]) * half_bytes
        m.d.sync += fetch_failed.eq(0)
        with m.If(self.fetch_status.valid):
            m.d.sync += [fetching.bit_select(oldest, 1).eq(0), oldest.eq(~oldest)]
            with m.If(self.fetch_status.payload.error == 0):
                m.d.sync += full.bit_select(oldest, 1).eq(1)
            with m.Else():
                m.d.sync += fetch_failed.eq(1)
        with m.If(fetch_failed & running):
            m.d.sync += fail(ErrorCode.BUS_ERROR, Cat(failed_low[:len(fetch_low)], pc_hi))

        # ---- decode ---------------------------------------------------------------------------
        # Two stages: the front reads the next instruction from the ring into ``staged`` while
        # the back checks and dispatches the current one (``instr`` at ``pc``).
        pc_low, pc = program_address("pc")    # address of ``instr`` (the back's)
        front_low, _ = program_address("front_pc")   # the next instruction to read
        staged = Signal(instr_layout())
        staged_low, _ = program_address("staged_pc")
        staged_valid = Signal()
        take = Signal()                       # the back takes ``staged`` this cycle
        word = Signal(range(max(half_words, 2)))
        slot = Signal(range(max(ipw, 2)))
        half = Signal()
        instr = Signal(instr_layout())
        header = instr.header
        ops = instr.operands
        # Memory range check, narrowed to the memory's address width: it matters only for
        # an instruction that passed the buffer check, whose rows fit the largest buffer.
        # Addresses or strides reaching past the memory decide the check on their own.
        aw = mem.addr_width
        rows_bits = max(1, (max(buf.act_depth, buf.weight_depth, buf.acc_depth,
                                buf.param_depth, buf.tile_depth) - 1).bit_length())
        span = Signal(rows_bits + aw)         # (rows - 1) * stride, when it is below 2**aw
        span_big = Signal()                   # (rows - 1) * stride >= memory size
        # The span on a MULT18X18D (ECP5 builds; see the front below).
        span_dsp = (cfg.check_registers and cfg.array.multiplier == "ecp5"
                    and max(rows_bits, aw) <= ECP5_OPERAND_BITS)
        code = Signal(8)                      # the first failed check, read when one failed
        checked_ok = Signal()                 # every check passed
        is_known, is_empty = Signal(), Signal()           # CHECK's results for CLASSIFY
        is_out_of_buffer, is_misaligned = Signal(), Signal()
        halting = Signal()                    # the instruction is a HALT
        last_slot = (slot == ipw - 1) if ipw > 1 else True

        m.d.comb += self.instr.addr.eq(half * half_words + word)
        # Observable state for testbenches.
        self.debug = {"pc": pc, "full": full, "fetching": fetching, "fetch_pc": fetch_pc,
                      "half": half, "word": word, "running": running, "stopping": stopping}

        def computes(op):
            """A compute-unit instruction (MATVEC's tiles sit where MATMUL's rows are)."""
            return (op == Opcode.MATMUL) | (op == Opcode.MATVEC) if cfg.matvec \
                else op == Opcode.MATMUL

        def rows_and_stride(word):
            """An instruction's row count and memory stride (POSTPROC's rows sit where
            STORE's are)."""
            op, operands = word.header.opcode, word.operands
            store_unit = (op == Opcode.STORE) | (op == Opcode.POSTPROC)
            return (Mux(computes(op), operands.matmul.rows,
                        Mux(store_unit, operands.store.rows, operands.load.rows)),
                    Mux(op == Opcode.STORE, operands.store.stride, operands.load.stride))

        opcode = header.opcode
        rows, stride = rows_and_stride(instr)

        def mem_addr_of(word):
            """A LOAD's or STORE's memory address."""
            return Mux(word.header.opcode == Opcode.STORE, word.operands.store.mem_addr,
                       word.operands.load.mem_addr)

        def per_row_bytes(word, f=lambda b: b):
            """``f`` of an instruction's row bytes (a LOAD's buffer word, a STORE's
            accumulator word), as a multiplexer of constants."""
            buffer = word.operands.load.buffer
            load = Mux(buffer == Buffer.WEIGHT, f(cfg.word_bytes("weight")),
                       Mux(buffer == Buffer.PARAM, f(cfg.word_bytes("param")),
                           f(cfg.word_bytes("act"))))
            if cfg.matvec:
                load = Mux(buffer == Buffer.TILE, f(cfg.word_bytes("tile")), load)
            return Mux(word.header.opcode == Opcode.STORE, f(cfg.word_bytes("acc")), load)

        mem_addr = mem_addr_of(instr)
        row_bytes = per_row_bytes(instr)
        moves_data = (opcode == Opcode.LOAD) | (opcode == Opcode.STORE)

        # Without a post-processing unit (``config.postproc``) POSTPROC is illegal.
        known = ((opcode == Opcode.LOAD) & (ops.load.buffer <= Buffer.PARAM)) \
            | (opcode == Opcode.MATMUL) | (opcode == Opcode.STORE) | (opcode == Opcode.HALT) \
            | ((opcode == Opcode.SYNC) & (ops.sync.unit <= Unit.STORE))
        if cfg.postproc:
            known |= opcode == Opcode.POSTPROC
        # With a tile buffer: MATVEC, and LOAD to it (buffer 3, the field's last value).
        if cfg.matvec:
            known |= (opcode == Opcode.LOAD) | (opcode == Opcode.MATVEC)
        empty = (opcode != Opcode.SYNC) & (opcode != Opcode.HALT) & (rows == 0)
        # With ``check_registers`` the buffer checks' sums are registers loaded with the
        # instruction (from ``staged``), so that CHECK holds only the compares and the
        # selection by opcode; and a range that may end in one of several buffers is compared
        # with each one's depth and the results selected (one sum, compares with constants).
        def ahead(addr_of, count_of, max_depth):
            """The sum :func:`_exceeds` compares, loaded with the instruction; ``None``
            without ``check_registers``."""
            if not cfg.check_registers:
                return None
            bits = max_depth.bit_length()
            total = Signal(bits + 1)
            with m.If(take):
                m.d.sync += total.eq(Value.cast(addr_of(staged))[:bits]
                                     + Value.cast(count_of(staged))[:bits])
            return total

        def exceeds(kind, addr, count, depths, max_depth=None):
            """:func:`_exceeds_one_of` for the operands ``addr`` and ``count`` (field names,
            or an int count) of instruction kind ``kind``; ``depths`` is one depth or a list
            of ``(condition, depth)``."""
            def field(name):
                return (lambda w: name) if isinstance(name, int) else \
                    (lambda w: getattr(getattr(w.operands, kind), name))
            addr_of, count_of = field(addr), field(count)
            if isinstance(depths, int):
                max_depth, depths = depths, [(None, depths)]
            return _exceeds_one_of(addr_of(instr), count_of(instr), depths, max_depth,
                                   per_depth=cfg.check_registers,
                                   total=ahead(addr_of, count_of, max_depth))

        load_depths = [(ops.load.buffer == Buffer.WEIGHT, buf.weight_depth),
                       (ops.load.buffer == Buffer.PARAM, buf.param_depth), (None, buf.act_depth)]
        load_max = max(buf.weight_depth, buf.param_depth, buf.act_depth)
        if cfg.matvec:
            load_depths.insert(0, (ops.load.buffer == Buffer.TILE, buf.tile_depth))
            load_max = max(load_max, buf.tile_depth)
        load_out_of_buffer = exceeds("load", "buf_addr", "rows", load_depths, load_max)
        pp = ops.postproc
        postproc_out_of_buffer = (
            exceeds("postproc", "acc_addr", "rows", buf.acc_depth)
            | (pp.param_addr >= buf.param_depth)
            | exceeds("postproc", "dst_addr", "rows",
                      [(pp.dst == PostProcDst.ACT, buf.act_depth), (None, buf.acc_depth)],
                      max(buf.act_depth, buf.acc_depth)))
        matvec_out_of_buffer = False
        if cfg.matvec:
            matvec_out_of_buffer = (opcode == Opcode.MATVEC) & (
                (ops.matvec.act_addr >= buf.act_depth)
                | exceeds("matvec", "tile_addr", "tiles", buf.tile_depth)
                | exceeds("matvec", "acc_addr", "tiles", buf.acc_depth))
        out_of_buffer = Mux(
            opcode == Opcode.LOAD,
            load_out_of_buffer,
            Mux(opcode == Opcode.STORE, exceeds("store", "acc_addr", "rows", buf.acc_depth),
                (opcode == Opcode.MATMUL) & (
                    exceeds("matmul", "act_addr", "rows", buf.act_depth)
                    | exceeds("matmul", "weight_addr", cfg.array.rows, buf.weight_depth)
                    | exceeds("matmul", "acc_addr", "rows", buf.acc_depth))
                | (opcode == Opcode.POSTPROC) & postproc_out_of_buffer
                | matvec_out_of_buffer))
        misaligned = moves_data & (((mem_addr | stride) & beat_mask) != 0)
        addr_big = mem_addr[aw:].any() if aw < len(mem_addr) else False
        if cfg.check_registers:
            # The bytes left after the first row, mem.size - (mem_addr + row_bytes), registered
            # in CHECK (negative when the first row already passes the end), so that CLASSIFY
            # holds one compare and no adder: the end passes mem.size when span > room.
            room = Signal(range(-(1 << (aw + 1)), mem.size + 1))
            # With ``span_dsp`` the compare is a register of its own (loaded below).
            beyond = Signal() if span_dsp else span > room
            is_far = Signal()                 # the address or stride passes the memory
            is_memory_op = Signal()           # a LOAD or STORE: the span is checked
        else:
            beyond = mem_addr[:aw] + span + row_bytes > mem.size
        out_of_memory = moves_data & (span_big | addr_big | beyond)

        # Commands for the units.
        flags = {flag: getattr(header, flag) for flag in FLAGS}
        unit = Mux(opcode == Opcode.SYNC, ops.sync.unit,
                   Mux(opcode == Opcode.LOAD, Unit.LOAD,
                       Mux(computes(opcode), Unit.COMPUTE, Unit.STORE)))  # STORE, POSTPROC
        is_sync = opcode == Opcode.SYNC
        # Dispatch registers: one command per unit, held until the unit takes it. The
        # sequencer fills a unit's register only when it is empty, so no unit's ``ready``
        # (tokens, queue room) reaches the sequencer's decode in the same cycle.
        # The registers hold only bits that can be non-zero in a dispatched instruction, so
        # synthesis drops the rest: addresses and strides below ``addr_width`` (higher bits
        # fail the memory check, except a one-row stride's, which no unit uses), the program
        # address without ``pc_hi`` (fetch runs only below the end of memory), and no
        # post-processing fields without the unit.
        postproc = {"postproc": opcode == Opcode.POSTPROC, "dst": pp.dst,
                    "dst_addr": pp.dst_addr, "param_addr": pp.param_addr,
                    "zero_point": pp.zero_point, "act_min": pp.act_min,
                    "act_max": pp.act_max} if cfg.postproc else {}
        # Buffer addresses and row counts likewise fit the buffer they passed the check for.
        def addr(value, depth):
            return Value.cast(value)[:max(1, (depth - 1).bit_length())]

        def count(value, depth):
            return Value.cast(value)[:depth.bit_length()]

        targets, loads = {}, {}
        for unit_value, stream_, fields in (
            (Unit.LOAD, self.load, {
                "buffer": ops.load.buffer, "buf_addr": addr(ops.load.buf_addr, load_max),
                "rows": count(ops.load.rows, load_max), "mem_addr": ops.load.mem_addr[:aw],
                "stride": ops.load.stride[:aw], "pc": pc_low}),
            (Unit.COMPUTE, self.compute, {
                "act_addr": addr(ops.matmul.act_addr, buf.act_depth),
                "weight_addr": addr(ops.matmul.weight_addr,
                                    max(buf.weight_depth, buf.tile_depth)),
                **({"matvec": opcode == Opcode.MATVEC} if cfg.matvec else {}),
                "acc_addr": addr(ops.matmul.acc_addr, buf.acc_depth),
                "rows": count(ops.matmul.rows, max(buf.act_depth, buf.acc_depth)),
                "accumulate": ops.matmul.accumulate, "pc": pc_low}),
            (Unit.STORE, self.store, {
                "acc_addr": addr(ops.store.acc_addr, buf.acc_depth),
                "rows": count(ops.store.rows, buf.acc_depth),
                "mem_addr": ops.store.mem_addr[:aw], "stride": ops.store.stride[:aw],
                "pc": pc_low, **postproc}),
        ):
            name = unit_value.name.lower()
            command = Signal(stream_.payload.shape(), name=f"{name}_next")
            valid = Signal(name=f"{name}_valid")
            load = Signal(name=f"{name}_load")
            m.d.comb += [getattr(command, field).eq(value) for field, value in fields.items()]
            m.d.comb += [getattr(command.flags, flag).eq(value) for flag, value in flags.items()]
            m.d.comb += command.sync.eq(is_sync)
            m.d.comb += stream_.valid.eq(valid)
            with m.If(stream_.ready):
                m.d.sync += valid.eq(0)
            if cfg.registered_control:
                # Dispatch loads a unit's register only when it is empty, so the register
                # follows the decoded command while it is empty: its enable is ``valid`` (a
                # flip-flop), not the dispatch decision.
                with m.If(~valid):
                    m.d.sync += stream_.payload.eq(command)
                with m.If(load):
                    m.d.sync += valid.eq(1)
            else:
                with m.If(load):
                    m.d.sync += [stream_.payload.eq(command), valid.eq(1)]
            targets[unit_value], loads[unit_value] = valid, load
        target_of = {value: Signal(name=f"to_{value.name.lower()}") for value in targets}
        # With ``register_slices`` dispatch is decided by one register, loaded in CLASSIFY and
        # every DISPATCH cycle: the instruction passed its checks, is no HALT and its unit has
        # no command waiting (a cycle behind its ``ready``). Not the units' command registers
        # through the target decode, nor the checks one by one: both were the ULX3S build's
        # paths into the ``take`` enables of some 200 flip-flops.
        can_dispatch = Signal()

        def free(is_target):
            """No command waits in the register of the unit ``is_target(value)`` picks."""
            return ~Cat(*(is_target(value) & held for value, held in targets.items())).any()

        # With ``span_dsp`` the range check's multiply runs on a MULT18X18D, at the die's edge
        # where the free DSPs sit: a compare straight after the DSP and then the route back
        # to ``checked_ok`` was the ULX3S build's worst path. So the compare is registered
        # next to the DSP (``beyond``), and the whole check runs ahead: the operands and the
        # memory check's registers are loaded with ``staged`` (in PICK), the product and
        # ``room`` a cycle later, ``beyond`` a cycle after that, all always enabled. The take
        # comes at the earliest a cycle after PICK and the next PICK at the earliest two
        # cycles after the take, so ``beyond`` holds the taken instruction's result in
        # CLASSIFY (and in CHECK, the operands still hold it for ``span_big``).
        if cfg.check_registers:
            # The range check's multiply takes its operands from registers, loaded with
            # ``instr`` (at ``take``) or with ``span_dsp`` with ``staged``, so that CHECK
            # holds only the multiplier.
            mul_rows_m1 = Signal(rows_bits)
            mul_stride = Signal(aw)
            mul_stride_big = Signal()
            # So are the memory check's: mem.size less the row bytes (a constant per row
            # size) and the address, so that ``room`` is one subtraction.
            room_base = Signal(range(mem.size + 1))
            first_addr = Signal(aw)

            def load_operands(rows, stride):
                return [mul_rows_m1.eq((rows - 1)[:rows_bits]), mul_stride.eq(stride[:aw]),
                        mul_stride_big.eq(stride[aw:].any() if aw < len(stride) else 0)]

            def load_room(word):
                return [room_base.eq(per_row_bytes(word, lambda b: mem.size - b)),
                        first_addr.eq(mem_addr_of(word)[:aw])]

        # Front: READ (ring read), SELECT (the ring word arrives), PICK (the instruction of
        # the word) -> staged. It stops at ``running`` low; what it staged is then dropped.
        end_of_half = last_slot & (word == half_words - 1)
        with m.FSM(name="front"):
            with m.State("READ"):
                with m.If(running & (~staged_valid | take) & full.bit_select(half, 1)):
                    m.d.comb += self.instr.en.eq(1)
                    m.next = "SELECT"
            with m.State("SELECT"):
                # The ring word is on the read port; it stays there (``en`` low) until the next
                # READ, so it needs no register of its own.
                m.next = "PICK"
            with m.State("PICK"):
                ring_word = self.instr.data
                picked = Signal(instr_layout())
                m.d.comb += picked.eq(ring_word.word_select(slot, INSTR_BITS) if ipw > 1
                                      else ring_word[:INSTR_BITS])
                with m.If(picked.header.opcode == Opcode.HALT):
                    # Nothing after a HALT is needed: fetching further would only delay DONE
                    # (it waits for fetches in flight).
                    m.d.sync += fetch_on.eq(0)
                m.d.sync += [
                    staged.eq(picked),
                    staged_low.eq(front_low), staged_valid.eq(running),
                    front_low.eq(front_low + INSTR_BYTES),
                ]
                if span_dsp:
                    # Only a LOAD's or a STORE's span is checked.
                    store = picked.header.opcode == Opcode.STORE
                    m.d.sync += load_operands(
                        Mux(store, picked.operands.store.rows, picked.operands.load.rows),
                        Mux(store, picked.operands.store.stride, picked.operands.load.stride))
                    m.d.sync += load_room(picked)
                if ipw > 1:
                    m.d.sync += slot.eq(Mux(last_slot, 0, slot + 1))
                with m.If(last_slot):
                    m.d.sync += word.eq(Mux(end_of_half, 0, word + 1))
                with m.If(end_of_half):     # the ring half is consumed: fetch may refill it
                    m.d.sync += [full.bit_select(half, 1).eq(0), half.eq(~half)]
                m.next = "READ"
        with m.If(take):
            m.d.sync += [instr.eq(staged), pc_low.eq(staged_low), staged_valid.eq(0)]
        if span_dsp:
            product = ecp5_registered_product(m, "span_dsp", mul_rows_m1, mul_stride,
                                              keep=C(1, 1))
            m.d.sync += [room.eq(room_base - first_addr),
                         beyond.eq(greater_on_carry(product[:len(span)], room))]
        elif cfg.check_registers:
            with m.If(take):
                m.d.sync += load_operands(*rows_and_stride(staged))
                m.d.sync += load_room(staged)
        else:
            mul_rows_m1 = (rows - 1)[:rows_bits]
            mul_stride = stride[:aw]
            mul_stride_big = stride[aw:].any() if aw < len(stride) else False
        with m.If(~running):
            m.d.sync += staged_valid.eq(0)

        with m.FSM(name="decode"):
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += [
                        self.error.eq(0), self.error_code.eq(0), self.error_pc.eq(0),
                        pc_hi.eq(self.prog_addr[pc_bits:]), pc_low.eq(self.prog_addr),
                        front_low.eq(self.prog_addr), fetch_low.eq(self.prog_addr),
                        in_memory.eq((self.prog_addr[pc_bits:] == 0)
                                     & _fits(self.prog_addr[:pc_bits], half_bytes, mem.size,
                                             compare_only=cfg.check_registers)),
                        staged_valid.eq(0),
                        full.eq(0), fetching.eq(0), fetch_half.eq(0), oldest.eq(0),
                        half.eq(0), word.eq(0), slot.eq(0), fetch_on.eq(1),
                    ]
                    with m.If((self.prog_addr & beat_mask) != 0):
                        m.d.sync += fail(ErrorCode.MISALIGNED, self.prog_addr)
                        m.next = "DRAIN"
                    with m.Else():
                        m.d.sync += running.eq(1)
                        m.next = "READ"
            with m.State("READ"):
                with m.If(~running):
                    m.next = "DRAIN"
                with m.Elif(staged_valid):
                    m.d.comb += take.eq(1)
                    m.next = "CHECK"
            with m.State("CHECK"):
                if not span_dsp:
                    m.d.sync += span.eq(mul_rows_m1 * mul_stride)
                stride_big = mul_stride_big & mul_rows_m1.any()
                m.d.sync += span_big.eq(stride_big)
                if cfg.check_registers:
                    if not span_dsp:
                        m.d.sync += room.eq(room_base - first_addr)
                    m.d.sync += [is_memory_op.eq(moves_data),
                                 is_far.eq(moves_data & (addr_big | stride_big))]
                # The checks that do not need the span, registered here for CLASSIFY.
                m.d.sync += [is_known.eq(known), is_empty.eq(empty),
                             is_out_of_buffer.eq(out_of_buffer), is_misaligned.eq(misaligned)]
                m.next = "CLASSIFY"
            with m.State("CLASSIFY"):
                with m.If(~is_known):
                    m.d.sync += code.eq(ErrorCode.ILLEGAL_OPCODE)
                with m.Elif(is_empty):
                    m.d.sync += code.eq(ErrorCode.EMPTY)
                with m.Elif(is_out_of_buffer):
                    m.d.sync += code.eq(ErrorCode.BUFFER_RANGE)
                with m.Elif(is_misaligned):
                    m.d.sync += code.eq(ErrorCode.MISALIGNED)
                if cfg.check_registers:
                    # ``code`` is read only when a check failed: past the first four that is
                    # the memory check, so the code does not wait for the span's compare,
                    # which ends at ``checked_ok`` alone (``beyond``, registered or not).
                    with m.Else():
                        m.d.sync += code.eq(ErrorCode.MEMORY_RANGE)
                    passed = (is_known & ~is_empty & ~is_out_of_buffer & ~is_misaligned
                              & ~is_far & ~(is_memory_op & beyond))
                else:
                    with m.Elif(out_of_memory):
                        m.d.sync += code.eq(ErrorCode.MEMORY_RANGE)
                    with m.Else():
                        m.d.sync += code.eq(ErrorCode.NONE)
                    passed = (is_known & ~is_empty & ~is_out_of_buffer & ~is_misaligned
                              & ~out_of_memory)
                m.d.sync += checked_ok.eq(passed)
                # Decided here so that dispatch looks at registers only.
                m.d.sync += halting.eq(opcode == Opcode.HALT)
                m.d.sync += [target_of[value].eq(unit == value) for value in targets]
                if cfg.register_slices:
                    m.d.sync += can_dispatch.eq(passed & (opcode != Opcode.HALT)
                                                & free(lambda value: unit == value))
                m.next = "DISPATCH"
            with m.State("DISPATCH"):
                def dispatch():
                    m.d.comb += [loads[value].eq(target_of[value]) for value in targets]
                    m.d.comb += self.dispatched.eq(1)
                    # Take the staged instruction at once when it is there.
                    with m.If(staged_valid):
                        m.d.comb += take.eq(1)
                        m.next = "CHECK"
                    with m.Else():
                        m.next = "READ"

                if cfg.register_slices:
                    # Staying here means the checks passed and it is no HALT (with
                    # ``can_dispatch`` low the first cycle decides those): the unit decides.
                    m.d.sync += can_dispatch.eq(free(target_of.get))
                with m.If(~running):
                    m.next = "DRAIN"
                if cfg.register_slices:       # first, so that it alone decides ``take``
                    with m.Elif(can_dispatch):
                        dispatch()
                with m.Elif(~checked_ok):
                    m.d.sync += fail(code, pc)
                    m.next = "DRAIN"
                with m.Elif(halting):
                    m.d.sync += [running.eq(0), stopping.eq(1)]
                    m.next = "DRAIN"
                if not cfg.register_slices:
                    with m.Elif(free(target_of.get)):
                        dispatch()
            with m.State("DRAIN"):
                m.d.sync += [running.eq(0), fetch_on.eq(0)]
                # Outstanding fetches must land before the ring can be reused.
                idle = self.units_idle & (fetching == 0) & ~self.fetch_cmd.valid
                if reported:        # registered bus errors still to be taken
                    idle &= ~Cat(*(valid for valid, _ in reported)).any()
                with m.If(idle):
                    m.d.sync += stopping.eq(0)
                    m.d.comb += self.done.eq(1)
                    m.next = "IDLE"

        # The units' bus errors stop the run a cycle after they are reported: registered here
        # first, so that a DMA's completion logic ends at a flip-flop (through the unit into
        # ERROR_PC it was the ULX3S build's longest path). DRAIN waits for them.
        # Without ``registered_control`` they stop it in the cycle of the report.
        for index, error in enumerate(self.unit_errors):
            if cfg.registered_control:
                valid, payload = reported[index]
                m.d.sync += [valid.eq(error.valid), payload.eq(error.payload)]
            else:
                valid, payload = error.valid, error.payload
            with m.If(valid & ~self.error & self.busy):
                m.d.sync += fail(payload.code, payload.pc)
        return m

