"""AXI4 slave memory port, one Python core for every simulator.

:class:`AxiSlavePort` serves one AXI4 port from a byte image, with the timing of a burst-level
memory model (:class:`systole.sim.hbm.PseudoChannel`: fixed latency, random latency, or the
HBM timing model) and optional random ``READY`` backpressure. It is simulator-agnostic: an
adapter calls :meth:`outputs` to get what to drive in the coming cycle and :meth:`step` with
what it sampled at the clock edge. Adapters: :mod:`systole.sim.axi_amaranth` (Amaranth
simulator) and :mod:`systole.sim.axi_cocotb` (cocotb; it sleeps through idle cycles using
:meth:`AxiSlavePort.next_event`).

Reads with one ID return in request order (AXI4 rule); the model may serve them out of order
internally, so beats are played back no earlier than the model says and never ahead of an older
burst. Writes are applied to the image when their last W beat arrives; B follows when the model
says the write is done.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .hbm import PseudoChannel

__all__ = ["AxiSlavePort", "PortStats", "SLVERR"]

SLVERR = 2


@dataclass
class PortStats:
    """Counters of one port, for benchmarks."""

    read_bursts: int = 0
    write_bursts: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    read_latencies: list[int] = field(default_factory=list)   # AR handshake to first R beat
    first_cycle: int | None = None
    last_cycle: int = 0


@dataclass
class _Read:
    id: int
    addr: int
    beats: int
    ar_cycle: int
    resp: int = 0
    beat_cycles: tuple[int, ...] | None = None
    sent: int = 0


@dataclass
class _Write:
    id: int
    addr: int
    beats: int
    aw_cycle: int
    resp: int = 0
    data: list[int] = field(default_factory=list)
    submitted: bool = False
    done_cycle: int | None = None


class AxiSlavePort:
    """One AXI4 slave port over ``image`` (a writable ``numpy.uint8`` array, local addresses).

    Parameters
    ----------
    image : numpy.ndarray
        Bytes of this port's memory; modified in place by writes.
    data_bytes : int
        Beat width in bytes.
    model : PseudoChannel
        Timing of each burst.
    ready_probability : float
        Probability that ARREADY/AWREADY/WREADY are high in a cycle (1.0: always).
    seed : int
        Seed of the backpressure pattern.
    fault_range : (int, int) or None
        Local byte range ``[lo, hi)``; bursts touching it answer SLVERR (and writes to it are
        dropped), for error-path tests.
    """

    def __init__(self, image: np.ndarray, data_bytes: int, model: PseudoChannel, *,
                 ready_probability: float = 1.0, seed: int = 0,
                 fault_range: tuple[int, int] | None = None):
        if image.dtype != np.uint8:
            raise TypeError(f"image must be a uint8 array, not {image.dtype}")
        self.image = image
        self.data_bytes = data_bytes
        self.model = model
        self.ready_probability = ready_probability
        self.fault_range = fault_range
        self.random = np.random.default_rng(seed)
        self.stats = PortStats()
        self.errors: list[str] = []
        self._reads: deque[_Read] = deque()       # AR order
        self._writes: deque[_Write] = deque()     # AW order, waiting for data or B
        self._w_beats: deque[int] = deque()       # W beats that arrived before their AW
        self._ready = {"ar": True, "aw": True, "w": True}
        self._by_tag: dict[int, object] = {}
        self._tag = 0

    # -- driven outputs ----------------------------------------------------------------------
    def outputs(self, cycle: int) -> dict[str, int]:
        """Values to drive during ``cycle``: ``arready``, ``awready``, ``wready``, ``rvalid``,
        ``rdata``, ``rid``, ``rresp``, ``rlast``, ``bvalid``, ``bid``, ``bresp``."""
        self._collect(cycle)
        if self.ready_probability < 1.0:
            for channel in self._ready:
                self._ready[channel] = bool(self.random.random() < self.ready_probability)
        out = {"arready": int(self._ready["ar"]), "awready": int(self._ready["aw"]),
               "wready": int(self._ready["w"]), "rvalid": 0, "rdata": 0, "rid": 0, "rresp": 0,
               "rlast": 0, "bvalid": 0, "bid": 0, "bresp": 0}
        read = self._reads[0] if self._reads else None
        if read is not None and read.beat_cycles is not None \
                and read.beat_cycles[read.sent] <= cycle:
            start = read.addr + read.sent * self.data_bytes
            beat = self.image[start:start + self.data_bytes]
            out.update(rvalid=1, rdata=int.from_bytes(beat.tobytes(), "little"), rid=read.id,
                       rresp=read.resp, rlast=int(read.sent == read.beats - 1))
        write = self._writes[0] if self._writes else None
        if write is not None and write.done_cycle is not None and write.done_cycle <= cycle:
            out.update(bvalid=1, bid=write.id, bresp=write.resp)
        return out

    # -- sampled inputs ------------------------------------------------------------------------
    def step(self, cycle: int, sampled: dict[str, int], driven: dict[str, int]) -> None:
        """Advance past the clock edge that ends ``cycle``. ``sampled`` holds the master's
        ``arvalid, araddr, arid, arlen, awvalid, awaddr, awid, awlen, wvalid, wdata, wlast,
        rready, bready``; ``driven`` is what :meth:`outputs` returned for this cycle."""
        if sampled["arvalid"] and driven["arready"]:
            self._accept_address(cycle, sampled["araddr"], sampled["arid"], sampled["arlen"],
                                 write=False)
        if sampled["awvalid"] and driven["awready"]:
            self._accept_address(cycle, sampled["awaddr"], sampled["awid"], sampled["awlen"],
                                 write=True)
        if sampled["wvalid"] and driven["wready"]:
            self._w_beats.append(sampled["wdata"])
            self._check_wlast(sampled["wlast"])
        if driven["rvalid"] and sampled["rready"]:
            read = self._reads[0]
            if read.sent == 0:
                self.stats.read_latencies.append(cycle - read.ar_cycle)
            read.sent += 1
            if read.sent == read.beats:
                self._reads.popleft()
                self.stats.last_cycle = max(self.stats.last_cycle, cycle)
        if driven["bvalid"] and sampled["bready"]:
            self._writes.popleft()
            self.stats.last_cycle = max(self.stats.last_cycle, cycle)
        self._submit_writes(cycle)

    def busy(self) -> bool:
        return bool(self._reads or self._writes or self._w_beats)

    def next_event(self, cycle: int) -> int | None:
        """Earliest cycle after ``cycle`` whose :meth:`outputs` may differ from ``cycle``'s
        without new input from the master, or ``None`` if none will (the port waits for the
        master). For adapters that sleep through idle cycles; call after ``outputs(cycle)``."""
        due = []
        decision = self.model.next_event_cycle()
        if decision is not None:
            due.append(decision)
        if self._reads and self._reads[0].beat_cycles is not None:
            read = self._reads[0]
            due.append(read.beat_cycles[read.sent])
        if self._writes and self._writes[0].done_cycle is not None:
            due.append(self._writes[0].done_cycle)
        if not due:
            return None
        return max(cycle + 1, min(due))

    # -- internals -------------------------------------------------------------------------------
    def _accept_address(self, cycle: int, addr: int, id: int, length: int, *, write: bool):
        beats = length + 1
        nbytes = beats * self.data_bytes
        if addr % self.data_bytes or addr + nbytes > len(self.image):
            self.errors.append(f"cycle {cycle}: bad {'AW' if write else 'AR'} "
                               f"addr {addr:#x} len {length}")
            addr = 0
        if self.stats.first_cycle is None:
            self.stats.first_cycle = cycle
        resp = 0
        if self.fault_range is not None:
            lo, hi = self.fault_range
            resp = SLVERR if addr < hi and lo < addr + nbytes else 0
        if write:
            self._writes.append(_Write(id, addr, beats, cycle, resp))
            self.stats.write_bursts += 1
            self.stats.write_bytes += nbytes
        else:
            read = _Read(id, addr, beats, cycle, resp)
            self._reads.append(read)
            self._submit(cycle, read, addr, nbytes, write=False)
            self.stats.read_bursts += 1
            self.stats.read_bytes += nbytes

    def _check_wlast(self, wlast: int) -> None:
        # The beat just queued belongs to the oldest write still short of data.
        needed = 0
        for write in self._writes:
            if write.submitted:
                continue
            needed += write.beats
            if len(self._w_beats) <= needed:
                expected_last = len(self._w_beats) == needed
                if bool(wlast) != expected_last:
                    self.errors.append(f"WLAST {wlast} where {int(expected_last)} was due")
                return

    def _submit_writes(self, cycle: int) -> None:
        for write in self._writes:
            if write.submitted:
                continue
            if len(self._w_beats) < write.beats:
                return
            for index in range(write.beats):
                word = self._w_beats.popleft()
                if write.resp:
                    continue
                start = write.addr + index * self.data_bytes
                self.image[start:start + self.data_bytes] = np.frombuffer(
                    word.to_bytes(self.data_bytes, "little"), dtype=np.uint8)
            write.submitted = True
            self._submit(cycle, write, write.addr, write.beats * self.data_bytes, write=True)

    def _submit(self, cycle: int, request, addr: int, nbytes: int, *, write: bool) -> None:
        tag = self._tag
        self._tag += 1
        self._by_tag[tag] = request
        # The model sees the request in the cycle after the handshake edge.
        self.model.submit(cycle=cycle + 1, addr=addr, nbytes=nbytes, write=write, tag=tag)

    def _collect(self, cycle: int) -> None:
        for done in self.model.advance(cycle):
            request = self._by_tag.pop(done.tag)
            if isinstance(request, _Read):
                request.beat_cycles = done.beat_cycles
            else:
                request.done_cycle = done.done_cycle
        # In-order playback: a read's beats never precede the previous read's last beat.
        previous = None
        for read in self._reads:
            if read.beat_cycles is None:
                break
            if previous is not None and read.beat_cycles[0] <= previous:
                shift = previous + 1 - read.beat_cycles[0]
                read.beat_cycles = tuple(c + shift for c in read.beat_cycles)
            previous = read.beat_cycles[-1]
