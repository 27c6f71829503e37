"""Event-level cycle model of the chip: predicts ``CYCLES`` of a program without simulating RTL.

The model follows each instruction through the machine the way the hardware does, with a few
calibrated latencies instead of signals:

* **Fetch**: the sequencer fills the instruction ring half by half through the load DMA; a
  half is requested once the half before it has arrived and the one two back has been decoded,
  and its data queues behind the LOAD data already requested from that engine.
* **Dispatch** is in program order, :attr:`Timing.decode` cycles per instruction, into a
  register per unit: an instruction leaves the sequencer once its unit has taken the one
  before, and its unit takes it a cycle later at the earliest, when the tokens it pops have
  been pushed and the unit has room (the compute unit queues four MATMULs).
* **LOAD / STORE**: the DMA engines move descriptors in order: one splitter issues a burst per
  cycle with at most ``outstanding`` bursts in flight per channel, and takes the next
  descriptor (the load unit the next LOAD) only after the last burst of the previous one; each
  channel moves its bursts after a request latency at its sustained bandwidth; the token push
  follows the last beat (STORE: the last write response, which the controller sends after
  taking the write's beats once all have arrived).
* **MATMUL**: a tile's activation vectors stream back to back, one per cycle; a new weight
  tile needs ``2 * rows - 1`` cycles after the previous tile started (its shift overlaps the
  previous tile's vectors), ``rows`` cycles when the array was idle; results are complete
  ``rows + cols + 1`` cycles (array latency) plus write-back after the last vector.
* **MATVEC**: its vector is read (:attr:`Timing.matvec_start` cycles after dispatch, or after
  the previous MATVEC's last tile; at least ``rows`` cycles after the previous MATVEC's first
  tile), then its tiles stream one per cycle; results are complete
  ``rows + 3`` cycles plus write-back after the last tile. Between a MATMUL and a MATVEC the
  array drains: the later one starts after the earlier one's results are written back.
* **HALT**: DONE when every unit has finished.
* **Banks** follow the HBM model's controller (``sim/hbm``): each channel remembers the row
  open in each bank (its address layout, open-page policy). A burst to a closed bank starts
  tRCD after it could have (the ACT waits for the request to arrive, so a request that queued
  long enough hides it), to a bank with another row open tRP + tRCD after it could have and
  after the bank may be precharged.
* **Refresh**: per-bank refresh as the HBM model does it: every tREFIpb (195 cycles) one bank
  of the round of 16 is precharged if open and refreshed at its due time (tRREFD after the
  last), blocked for tRFCpb (128 cycles); a burst that needs it waits, and the channel's later
  bursts behind it. The bank is picked like the controller picks it, after the first burst it
  serves once the refresh is due, from the requests then waiting (its queue): the bank whose
  next use in the queue is farthest, banks no waiting request needs first, the one used last
  among them. The model meets the waiting requests after that burst (the bursts that follow
  in its order and could have started by then), so the pick stays pending until they have
  come. On the 2-channel tiny preset, where activations, weights, program and results share
  every bank of a channel, this is most of the stall time beyond the array's. Which bank a
  refresh takes, and so the cost, moves with a few cycles of burst timing, in the RTL as in
  the model: tiny GEMMs are where the model is least exact.

It gives the same answer for a program every time (no randomness) and is meant to track the
RTL under the HBM timing model within a couple of per cent; ``tests/sim`` keeps it honest
against RTL runs, and ``systole bench`` lists both for every case.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..hw.buffers import REGION_INSTR, BufferMap
from ..hw.config import SystoleConfig
from ..hw.dma import row_bytes_width
from ..hw.isa import INSTR_BYTES, Opcode, Unit, decode, unit_of
from .hbm import PRESETS
from .hbm.mapping import AddressMap
from .hbm.model import REFRESH_LOOKAHEAD

__all__ = ["Timing", "CyclePrediction", "predict_cycles", "timing_for"]


@dataclass(frozen=True, kw_only=True)
class Timing:
    """Calibrated latencies of the model, in chip cycles (fitted to RTL traces).

    Parameters
    ----------
    fetch : int
        START to the first instruction in the ring.
    decode : int
        Cycles per instruction in the sequencer's decode.
    read_latency : int
        LOAD dispatch to the first beat of its data in the buffer, on a row hit (a row miss
        adds tRCD: the 39 fitted before row misses were modelled included one).
    store_latency : int
        STORE dispatch to DONE-able, beyond its beats taken twice (into the memory port, then
        by the controller: a write is served once all its data is in) (accumulator read,
        write response; 24 before the second pass over the beats was modelled, which on the
        default chip's 512-byte bursts is 16).
    matmul_start : int
        MATMUL dispatch to its first vector, beyond the weight shift (``rows`` cycles).
    writeback : int
        Beyond the array latency: last vector to the MATMUL's token push.
    finish : int
        Last unit done to DONE.
    postproc : int
        POSTPROC pipeline beyond one cycle per row (buffer read, five stages, write).
    matvec_start : int
        A MATVEC's dispatch (or the previous MATVEC's last tile) to its first tile: the
        vector's read through the activation reader.
    slots : int
        Descriptors each DMA engine (and each DMA unit) keeps in flight.
    compute_queue : int
        MATMULs the compute unit accepts ahead.
    bandwidth_efficiency : float
        Fraction of a channel's peak that long sequential transfers reach.
    dma_check : int
        A load descriptor's acceptance to its first burst (the engine's checks).
    refresh : bool
        Model the HBM model's per-bank refresh.
    refresh_phase : int
        Cycles from the memory model's cycle 0 to START (the host's register writes).
    beat_lag : int
        A read burst's first beat at the memory controller to the model's start of the burst
        (the R channel and the DMA's write into the buffer).
    """

    fetch: int = 54
    decode: int = 3
    read_latency: int = 30
    store_latency: int = 8
    matmul_start: int = 5
    writeback: int = 4
    finish: int = 1
    postproc: int = 8
    matvec_start: int = 4
    slots: int = 8
    compute_queue: int = 4
    bandwidth_efficiency: float = 0.98
    dma_check: int = 4
    refresh: bool = True
    refresh_phase: int = 3
    beat_lag: int = 5


def timing_for(config: SystoleConfig, memory: str = "hbm2e") -> Timing:
    """Calibrated timing for a configuration and memory model (``hbm2e``; others use the same
    figures, which makes the prediction rougher). ``registered_acc_reads`` adds its cycle to
    :attr:`Timing.writeback` and one to :attr:`Timing.store_latency` (the store DMA's buffer
    reads)."""
    del memory
    if config.registered_acc_reads:
        return Timing(writeback=5, store_latency=9)
    return Timing()


@dataclass(frozen=True)
class CyclePrediction:
    """What :func:`predict_cycles` found."""

    cycles: int
    array_busy: int

    @property
    def utilization(self) -> float:
        return self.array_busy and self.array_busy / self.cycles


@dataclass
class _Decision:
    """A refresh decision of the controller the model has not settled yet: the refreshes due
    (chip cycles), the start of the burst it follows, the queue position of the first waiting
    request that needs each bank (-1: that burst's) and when each bank may be precharged."""

    dues: list[float]
    begin: float
    first: dict[int, int]
    ready: dict[int, float]
    position: int = 0


class _Banks:
    """The row open in every bank of every channel, when it was last used (shared by both DMA
    directions), and the channel's per-bank refreshes as the HBM model's controller does them."""

    def __init__(self, config: SystoleConfig, memory: str, t: Timing):
        mem = config.memory
        self.channels, self.interleave = mem.channels, mem.interleave
        hbm = PRESETS.get(memory, PRESETS["hbm2e"])
        self.map = AddressMap(hbm)
        self.open: list[dict[int, tuple[int, float]]] = [{} for _ in range(mem.channels)]
        # Per-bank refresh (the HBM model's default), in chip cycles from START; the DRAM
        # figures are the HBM model's, converted from its command clock.
        ratio = hbm.clock_ratio
        self.refresh = hbm.t_refi_pb > 0 and t.refresh
        self.interval = hbm.t_refi_pb / ratio
        self.blocked_for = hbm.t_rfc_pb / ratio
        self.precharge = hbm.t_rp / ratio
        self.refresh_gap = hbm.t_rrefd / ratio
        # A burst's start in the model is its first beat at the controller plus ``beat_lag``;
        # the controller decides on it a column access (tCL + burst) before that beat, and a
        # bank that was refreshed needs ACT and tRCD before it.
        self.lag = t.beat_lag
        self.to_beat = (hbm.t_cl + hbm.burst_cycles) / ratio
        self.activate = hbm.t_rcd / ratio
        self.reopen = (hbm.t_rcd + hbm.t_cl + hbm.burst_cycles) / ratio
        # A bank may be precharged tRTP after its last read column access, tWR after the end
        # of its last write data.
        self.read_to_pre = (hbm.t_rtp - hbm.t_cl - hbm.burst_cycles) / ratio - t.beat_lag
        self.write_to_pre = (hbm.t_wl + hbm.t_wr) / ratio
        self.banks = hbm.banks
        self.next_due = [self.interval - t.refresh_phase] * mem.channels
        self.last_refresh = [-1e9] * mem.channels
        self.round: list[set[int]] = [set() for _ in range(mem.channels)]
        self.blocked: list[dict[int, float]] = [{} for _ in range(mem.channels)]
        self.precharge_ready: list[dict[int, float]] = [{} for _ in range(mem.channels)]
        self.pending: list[_Decision | None] = [None] * mem.channels

    def _decide(self, channel: int) -> None:
        """Issue the refreshes of the channel's pending decision: each takes the bank of the
        round whose next use by a waiting request is farthest (banks none needs first, the one
        used last among them), as the controller does; it is precharged if open and
        refreshed at its due time, tRREFD after the one before."""
        pending = self.pending[channel]
        self.pending[channel] = None
        opened, blocked = self.open[channel], self.blocked[channel]
        first, ready = pending.first, pending.ready
        never = 1 << 30
        for due in pending.dues:
            if not self.round[channel]:
                self.round[channel] = set(range(self.banks))
            bank = max(self.round[channel], key=lambda b: (
                first.get(b, never), ready.get(b, -1e9), -b))
            self.round[channel].discard(bank)
            start = due
            if bank in opened:
                start = max(due, ready.get(bank, -1e9)) + self.precharge
            start = max(start, blocked.get(bank, -1e9),
                        self.last_refresh[channel] + self.refresh_gap)
            self.last_refresh[channel] = start
            blocked[bank] = start + self.blocked_for
            opened.pop(bank, None)

    def _refresh(self, channel: int, needed: set[int], begin: float, earliest: float) -> None:
        """Follow the controller's refresh decisions around a burst that could start at
        ``earliest`` and starts at ``begin``.

        The controller picks a refresh's bank after the first burst it serves at or after the
        refresh is due, from the requests then waiting. The model meets those requests later
        (they are the bursts that follow, in its order, that could have started by then), so
        it keeps the decision pending while they come: a waiting burst records the banks it
        needs (none of them is picked while a bank of the round is needed by none); a burst
        that arrived after the decision and needs a bank that could still be picked, or a new
        refresh, settles it."""
        pending = self.pending[channel]
        if pending is not None:
            if earliest <= pending.begin:
                for bank in needed:
                    if len(pending.first) < REFRESH_LOOKAHEAD:
                        pending.first.setdefault(bank, pending.position)
                pending.position += 1
                if self.round[channel] <= pending.first.keys():
                    self._decide(channel)
            elif needed & (self.round[channel] or set(range(self.banks))) - pending.first.keys():
                self._decide(channel)
        decision = begin - self.lag - self.to_beat
        if self.next_due[channel] > decision:
            return
        if self.pending[channel] is not None:
            self._decide(channel)
        dues = []
        while self.next_due[channel] <= decision:
            dues.append(self.next_due[channel])
            self.next_due[channel] += self.interval
        self.pending[channel] = _Decision(dues, begin, {bank: -1 for bank in needed},
                                          dict(self.precharge_ready[channel]))

    def delay(self, channel: int, addr: int, nbytes: int, begin: float, duration: float,
              *, earliest: float, write: bool) -> float:
        """Open the rows of a burst at global ``addr`` that could move its data from ``begin``
        for ``duration`` cycles (from ``earliest`` without the channel's earlier bursts);
        return how much later it starts: a bank under refresh (until it is free and
        activated), a closed bank (ACT, not before the request arrived) or another row open
        (PRE and ACT)."""
        granule = addr // self.interleave
        local = (granule // self.channels) * self.interleave + addr % self.interleave
        atoms, segments = self.map.atom_banks(local, nbytes)
        needed = {bank for bank, _ in segments}
        if self.refresh:
            self._refresh(channel, needed, begin, earliest)
        # The controller opens a closed bank (ACT) once the request has arrived and the bank
        # is not refreshing, and closes another row first (PRE, once the bank allows it).
        blocked, ready = self.blocked[channel], self.precharge_ready[channel]
        start = begin
        for bank, row in segments:
            other = self.open[channel].get(bank)
            if other is None:
                start = max(start, earliest + self.activate,
                            blocked.get(bank, -1e9) + self.reopen + self.lag)
            elif other[0] != row:
                start = max(start, max(earliest, ready[bank] + self.to_beat + self.lag)
                            + self.precharge + self.activate)
        extra = start - begin
        end = begin + extra + duration
        for bank, row in segments:
            self.open[channel][bank] = (row, end)
        # The banks' column accesses follow each other evenly over the burst.
        step = duration / len(atoms)
        for index, bank in enumerate(atoms):
            ready[bank] = end - (len(atoms) - 1 - index) * step + (
                self.write_to_pre if write else self.read_to_pre)
        return extra


class _Engine:
    """A DMA engine: descriptors in order through one splitter that issues a burst per cycle
    (after a check of :attr:`Timing.dma_check` cycles) to the pseudo-channel that owns its
    address, at most ``outstanding`` bursts in flight per channel; the next descriptor is
    accepted once the previous one's last burst has issued. Every channel moves its bursts
    after the request latency at its own bandwidth."""

    def __init__(self, config: SystoleConfig, latency: int, efficiency: float, check: int, *,
                 store: bool, banks: _Banks):
        mem = config.memory
        bmap = BufferMap(config)
        # The DMA unit merges contiguous rows into one descriptor row when it fits the field.
        self.merge_limit = 1 << row_bytes_width(bmap.store_memory if store else bmap.load_memory)
        self.channels, self.interleave = mem.channels, mem.interleave
        self.max_bytes = mem.max_burst * mem.data_bytes
        self.outstanding = mem.outstanding
        self.latency, self.check = latency, check
        self.banks = banks
        self.store = store
        self.bandwidth = mem.data_bytes * efficiency
        self.free = [0.0] * mem.channels   # when each channel's data path is free
        self.window: list[list[float]] = [[] for _ in range(mem.channels)]  # burst ends
        self.accept = 0.0                   # when the splitter takes the next descriptor
        self.completions: list[float] = []  # every descriptor's completion, in order

    def _bursts(self, addr: int, rows: int, stride: int, row_bytes: int):
        """``(channel, address, bytes)`` of each burst, in issue order."""
        if stride == row_bytes and rows * row_bytes < self.merge_limit:
            rows, row_bytes = 1, rows * row_bytes   # contiguous rows: one long row (as the units)
        for r in range(rows):
            start, end = addr + r * stride, addr + r * stride + row_bytes
            while start < end:
                granule_end = (start // self.interleave + 1) * self.interleave
                piece = min(end, granule_end, start + self.max_bytes) - start
                yield (start // self.interleave) % self.channels, start, piece
                start += piece

    def touch(self, addr: int, nbytes: int, end: float) -> None:
        """Open the banks of a transfer timed elsewhere (the first fetch) that ends at
        ``end``, so that refreshes know them."""
        for channel, start, piece in self._bursts(addr, 1, 0, nbytes):
            duration = piece / self.bandwidth
            self.banks.delay(channel, start, piece, end - duration, duration,
                             earliest=end - duration, write=self.store)

    def slot_free(self, slots: int) -> float:
        """When a descriptor slot is free (the one ``slots`` descriptors back has finished)."""
        return self.completions[-slots] if len(self.completions) >= slots else 0.0

    def move(self, issue: float, addr: int, rows: int, stride: int, row_bytes: int) -> float:
        issue = max(issue, self.accept)
        done, burst = issue, issue + self.check
        for channel, start, nbytes in self._bursts(addr, rows, stride, row_bytes):
            window = self.window[channel]
            if len(window) >= self.outstanding:
                burst = max(burst, window[-self.outstanding])
            earliest = burst + self.latency
            begin = max(earliest, self.free[channel])
            begin += self.banks.delay(channel, start, nbytes, begin, nbytes / self.bandwidth,
                                      earliest=earliest, write=self.store)
            self.free[channel] = begin + nbytes / self.bandwidth
            window.append(self.free[channel])
            # A write reaches the controller once all its data has arrived; the controller
            # then takes the data again at a beat per cycle before it answers.
            done = max(done, self.free[channel] + (nbytes / self.bandwidth if self.store else 0))
            burst += 1
        self.accept = burst
        self.completions.append(done)
        return done


def predict_cycles(instructions, config: SystoleConfig, prog_addr: int,
                   timing: Timing | None = None) -> CyclePrediction:
    """Predict ``CYCLES`` (START to DONE) of a program of instruction words that ends in HALT
    and sits at byte address ``prog_addr``.

    Raises
    ------
    ValueError
        The program has no HALT or pops a token that no earlier instruction pushes.
    """
    t = timing or timing_for(config)
    words = [decode(word) for word in instructions]
    if not any(f["opcode"] == Opcode.HALT for f in words):
        raise ValueError("the program has no HALT")
    rows = config.array.rows
    banks = _Banks(config, "hbm2e", t)
    load_dma = _Engine(config, t.read_latency - t.dma_check, t.bandwidth_efficiency,
                       t.dma_check, store=False, banks=banks)
    store_dma = _Engine(config, 0, t.bandwidth_efficiency, 0, store=True, banks=banks)
    # A ring half in instructions (``instr_depth`` counts instructions, the ring words).
    bmap = BufferMap(config)
    half = max(1, bmap.depth[REGION_INSTR] // 2) * bmap.instrs_per_word

    pushes: dict[tuple[Unit, Unit], list[float]] = defaultdict(list)   # (from, to) -> times
    popped: dict[tuple[Unit, Unit], int] = defaultdict(int)
    fetched: list[float] = []        # arrival of each ring half
    dispatched: list[float] = []     # when the sequencer dispatched each instruction
    register_free = {unit: 0.0 for unit in Unit}   # the unit's dispatch register is empty
    unit_done = {unit: 0.0 for unit in Unit}
    unit_history: dict[Unit, list[float]] = {unit: [] for unit in Unit}
    leaves_queue: list[float] = []   # when each MATMUL's last vector left the compute queue
    stream_end, tile_start = 0.0, -1e9
    streaming, compute_done = False, 0.0     # the array's mode, the last result written
    vector_start = -1e9                      # the last MATVEC's first tile
    busy = 0

    def request_time(k: int) -> float | None:
        """When the sequencer asks for ring half ``k`` (``None``: not known yet)."""
        if k < 2:
            return 0.0
        last = (k - 1) * half - 1            # the last instruction of half k - 2
        return dispatched[last] if last < len(dispatched) else None

    def pump_fetch(now: float) -> None:
        """Issue the fetches requested by ``now`` (fetch has priority at the load DMA)."""
        while len(fetched) * half < len(words):
            k = len(fetched)
            when = request_time(k)
            if when is None or when > now:
                return
            if k < 2:
                fetched.append(float(t.fetch) + k * half * INSTR_BYTES
                               / (config.memory.data_bytes * config.memory.channels))
                load_dma.completions.append(fetched[-1])
                load_dma.touch(prog_addr + k * half * INSTR_BYTES, half * INSTR_BYTES,
                               fetched[-1])
            else:
                addr = prog_addr + k * half * INSTR_BYTES
                fetched.append(load_dma.move(when, addr, 1, 0, half * INSTR_BYTES) + 1)

    def token(src: Unit, dst: Unit) -> float:
        index = popped[src, dst]
        if index >= len(pushes[src, dst]):
            raise ValueError(f"a {dst.name} instruction pops a token from {src.name} that no "
                             f"earlier instruction pushes")
        popped[src, dst] += 1
        return pushes[src, dst][index] + 1

    clock = -float(t.decode)
    for index, f in enumerate(words):
        h = index // half
        while len(fetched) <= h:
            pump_fetch(request_time(len(fetched)))
        gate = max(clock + t.decode, fetched[h])
        op = f["opcode"]
        if op == Opcode.HALT:
            return CyclePrediction(round(max([gate, *unit_done.values()]) + t.finish), busy)
        unit = unit_of(f)
        # The sequencer hands the instruction to its unit's dispatch register once the unit
        # has taken the one before; the unit takes it a cycle later at the earliest.
        clock = gate = max(gate, register_free[unit])
        dispatched.append(clock)
        gate += 1
        if f["pop_prev"]:
            gate = max(gate, token(Unit(unit - 1), unit))
        if f["pop_next"]:
            gate = max(gate, token(Unit(unit + 1), unit))
        history = unit_history[unit]
        if op in (Opcode.LOAD, Opcode.STORE) and len(history) >= t.slots:
            gate = max(gate, history[-t.slots] + 1)
        if op == Opcode.LOAD:
            pump_fetch(gate)
            # The load unit holds a LOAD until the DMA engine takes its descriptor.
            gate = max(gate, load_dma.slot_free(t.slots), load_dma.accept)
        if op in (Opcode.MATMUL, Opcode.MATVEC) and len(leaves_queue) >= t.compute_queue:
            gate = max(gate, leaves_queue[-t.compute_queue])
        dispatch = gate
        register_free[unit] = dispatch + 1

        if op == Opcode.LOAD:
            kind = ("act", "weight", "param", "tile")[f["buffer"]]
            done = load_dma.move(dispatch, f["mem_addr"], f["rows"], f["stride"],
                                 config.word_bytes(kind)) + 1
        elif op == Opcode.STORE:
            done = store_dma.move(dispatch, f["mem_addr"], f["rows"], f["stride"],
                                  config.word_bytes("acc")) + t.store_latency
        elif op == Opcode.MATMUL:
            first = max(dispatch + rows + t.matmul_start, stream_end,
                        tile_start + 2 * rows - 1)
            if streaming:        # the array drains and leaves streaming mode first
                first = max(first, compute_done + t.matvec_start)
                streaming = False
            tile_start, stream_end = first, first + f["rows"]
            leaves_queue.append(stream_end)
            busy += f["rows"]
            done = compute_done = stream_end + config.array.latency + t.writeback
        elif op == Opcode.MATVEC:
            # A new vector at most every ``rows`` cycles (it must reach the last row first).
            first = max(max(dispatch, stream_end) + t.matvec_start, vector_start + rows)
            vector_start = first
            if not streaming:    # the array drains and enters streaming mode first
                first = max(first, compute_done + 1)
                streaming = True
            stream_end = first + f["tiles"]
            leaves_queue.append(stream_end)
            busy += f["tiles"]
            done = compute_done = stream_end + rows + 3 + t.writeback
        elif op == Opcode.POSTPROC:
            # One row per cycle through the post-processing pipeline, after the unit's
            # earlier work (it runs in the store unit's order).
            done = max(dispatch, unit_done[unit]) + f["rows"] + t.postproc
        else:                    # SYNC: waits for its unit's earlier work
            done = max(dispatch, unit_done[unit])
        done = max(done, unit_done[unit])    # a unit completes in order
        unit_done[unit] = done
        history.append(done)
        if f["push_prev"]:
            pushes[unit, Unit(unit - 1)].append(done)
        if f["push_next"]:
            pushes[unit, Unit(unit + 1)].append(done)
    raise ValueError("the program has no HALT")
