"""DRAM command timing of one HBM pseudo-channel, one whole burst at a time.

:class:`DramState` keeps, per bank, per bank group and per channel, the earliest cycle at which
each kind of command may next be issued, and turns one burst into its PRE/ACT and column commands
plus the controller cycle of every data beat. All times are DRAM command-clock cycles except the
returned beat cycles (controller cycles). Which burst goes next is decided by the caller
(:class:`~systole.sim.hbm.model.PseudoChannel`).
"""

from __future__ import annotations

from collections import deque

from .timing import HBMTiming
from .types import Command, HBMStats

__all__ = ["DramState"]

_NEVER = -(1 << 40)  # "long ago": every constraint measured from it is already met


class DramState:
    """Bank, bank-group and channel timing state of one pseudo-channel.

    Parameters
    ----------
    timing : HBMTiming
        Organisation and timing.
    stats : HBMStats
        Counters updated in place (row hits/misses/conflicts, commands, refreshes).
    log : list of Command or None
        Command log to append to, or ``None`` for no log.
    per_bank_refresh : bool
        Refresh is due every ``t_refi_pb`` (:meth:`refresh_bank`) rather than every ``t_refi``
        (:meth:`refresh`).
    """

    def __init__(self, timing: HBMTiming, stats: HBMStats, log: list[Command] | None, *,
                 per_bank_refresh: bool = False) -> None:
        self.timing = timing
        self.stats = stats
        self.log = log
        nb, ng = timing.banks, timing.bank_groups
        self.bg_of = [flat // timing.banks_per_group for flat in range(nb)]
        #: Row open (or being opened by an already scheduled ACT) in each bank, ``None`` if closed.
        self.open_row: list[int | None] = [None] * nb
        self.act_ready = [0] * nb    # earliest ACT: tRP after PRE, tRC after ACT, tRFC after REF
        self.col_ready = [0] * nb    # earliest column command: tRCD after ACT
        self.pre_ready = [0] * nb    # earliest PRE: tRAS, tRTP after RD, tWR after write data
        self.last_act_bg = [_NEVER] * ng
        self.last_col_bg = [_NEVER] * ng
        self.wr_end_bg = [_NEVER] * ng
        self.faw: deque[int] = deque([_NEVER] * 4, maxlen=4)
        self.last_act = _NEVER
        self.last_col = _NEVER
        self.last_rd_col = _NEVER
        self.wr_end = _NEVER
        #: Direction of the last burst (``None`` before the first).
        self.last_write: bool | None = None
        #: Column command of the last burst: when the controller picks the next one.
        self.decision = 0
        self.next_refresh = timing.t_refi_pb if per_bank_refresh else timing.t_refi
        #: Banks not yet refreshed in the current per-bank refresh round.
        self.refresh_round: set[int] = set()
        self.last_ref_pb = _NEVER
        self.last_beat = {False: -1, True: -1}

    def refresh(self, decision: int) -> None:
        """Issue every all-bank refresh due at or before DRAM cycle ``decision``.

        Each one precharges all banks once their scheduled accesses allow it (PREA), refreshes
        ``tRP`` later (REF), and blocks every ACT for ``tRFC``.
        """
        t = self.timing
        log = self.log
        while self.next_refresh <= decision:
            start = self.next_refresh
            open_banks = [b for b, row in enumerate(self.open_row) if row is not None]
            for b in open_banks:
                start = max(start, self.pre_ready[b])
            if open_banks and log is not None:
                log.append(Command(start, "PREA", -1, -1, -1))
            ref = start + t.t_rp if open_banks else start
            ref = max([ref, *self.act_ready])
            if log is not None:
                log.append(Command(ref, "REF", -1, -1, -1))
            end = ref + t.t_rfc
            for b in range(t.banks):
                self.open_row[b] = None
                self.act_ready[b] = end
            self.stats.refreshes += 1
            self.stats.refresh_cycles += -(-t.t_rfc // t.clock_ratio)
            self.next_refresh += t.t_refi

    def refresh_bank(self, decision: int, next_use: dict[int, int]) -> None:
        """Issue every per-bank refresh due at or before DRAM cycle ``decision``.

        Each refreshes one bank not yet refreshed in the current round (every bank once per
        ``banks`` refreshes, in any order, as JEDEC allows), the one whose next use is farthest
        away as far as the controller can see: ``next_use`` maps a flat bank to the queue
        position of the first request that needs it. Banks no queued request needs go first,
        the one used last among them (a stream has just left it and returns to it last). The
        bank is precharged if open (PRE), refreshed ``tRP`` later (REFPB) and blocked for
        ``tRFCpb``; the other banks keep serving. REFPB keeps ``tRRD_S``/``tRRD_L`` after the
        last ACT, and the next REFPB or ACT waits ``tRREFD``.
        """
        t = self.timing
        log = self.log
        while self.next_refresh <= decision:
            if not self.refresh_round:
                self.refresh_round = set(range(t.banks))
            due = self.next_refresh
            pre_ready = self.pre_ready
            bank = max(self.refresh_round,
                       key=lambda b: (next_use.get(b, 1 << 30), pre_ready[b], -b))
            self.refresh_round.discard(bank)
            bg = self.bg_of[bank]
            in_group = bank % t.banks_per_group
            ref = due
            if self.open_row[bank] is not None:
                pre = max(due, pre_ready[bank])
                if log is not None:
                    log.append(Command(pre, "PRE", bg, in_group, self.open_row[bank]))
                self.stats.precharges += 1
                ref = pre + t.t_rp
            ref = max(ref, self.act_ready[bank], self.last_act + t.t_rrd_s,
                      self.last_act_bg[bg] + t.t_rrd_l, self.last_ref_pb + t.t_rrefd)
            if log is not None:
                log.append(Command(ref, "REFPB", bg, in_group, -1))
            self.open_row[bank] = None
            self.act_ready[bank] = ref + t.t_rfc_pb
            self.last_ref_pb = ref
            self.stats.refreshes += 1
            self.stats.refresh_cycles += -(-t.t_rfc_pb // t.clock_ratio)
            self.next_refresh += t.t_refi_pb

    def is_hit(self, segments: list[tuple[int, int]]) -> bool:
        """Whether every ``(flat_bank, row)`` of a burst is already open."""
        open_row = self.open_row
        return all(open_row[flat] == row for flat, row in segments)

    def issue(self, *, write: bool, arrival: int, banks: list[int],
              segments: list[tuple[int, int]]) -> list[int]:
        """Schedule one burst as early as the rules allow and return its beat cycles.

        Parameters
        ----------
        write : bool
            Direction.
        arrival : int
            DRAM cycle the request became visible; no command of it is issued earlier.
        banks, segments : list
            From :meth:`~systole.sim.hbm.mapping.AddressMap.atom_banks`.

        Returns
        -------
        list of int
            Controller cycle of every beat, strictly increasing and after the previous beat in
            the same direction.
        """
        t = self.timing
        s = self.stats
        log = self.log
        bg_of = self.bg_of
        open_row, act_ready = self.open_row, self.act_ready
        col_ready, pre_ready = self.col_ready, self.pre_ready
        per_group = t.banks_per_group
        for flat, row in segments:
            current = open_row[flat]
            if current == row:
                s.row_hits += 1
                continue
            bg = bg_of[flat]
            if current is None:
                s.row_misses += 1
            else:
                s.row_conflicts += 1
                s.precharges += 1
                pre = max(pre_ready[flat], arrival)
                act_ready[flat] = max(act_ready[flat], pre + t.t_rp)
                if log is not None:
                    log.append(Command(pre, "PRE", bg, flat % per_group, current))
            act = max(act_ready[flat], arrival, self.last_act + t.t_rrd_s,
                      self.last_act_bg[bg] + t.t_rrd_l, self.faw[0] + t.t_faw,
                      self.last_ref_pb + t.t_rrefd)
            if log is not None:
                log.append(Command(act, "ACT", bg, flat % per_group, row))
            s.activates += 1
            open_row[flat] = row
            col_ready[flat] = act + t.t_rcd
            pre_ready[flat] = act + t.t_ras
            act_ready[flat] = act + t.t_rc
            self.last_act = self.last_act_bg[bg] = act
            self.faw.append(act)

        if self.last_write is not None and write != self.last_write:
            s.turnarounds += 1
        self.last_write = write
        ccd_s, ccd_l, burst, ratio = t.t_ccd_s, t.t_ccd_l, t.burst_cycles, t.clock_ratio
        data_latency = (t.t_wl if write else t.t_cl) + burst
        rtw, wtr_s, wtr_l, rtp, wr = t.t_rtw, t.t_wtr_s, t.t_wtr_l, t.t_rtp, t.t_wr
        last_col_bg, wr_end_bg = self.last_col_bg, self.wr_end_bg
        last_col, last_rd_col, wr_end = self.last_col, self.last_rd_col, self.wr_end
        per_beat = t.atoms_per_beat
        prev_beat = self.last_beat[write]
        beats = []
        kind = "WR" if write else "RD"
        # Fast path: once every bank of a burst that rotates through distinct bank groups has had
        # its first column access, the rest are bound only by tCCD_S (tCCD_L, tRCD, arrival and
        # the turnaround of a one-direction burst are already met), so they are computed without
        # the full rule set. The command log always takes the full path (a test compares both).
        n, k = len(banks), len(segments)
        head = n
        if (log is None and per_beat == 1 and n > k and k * ccd_s >= ccd_l
                and banks[k:] == banks[:n - k] and len({bg_of[b] for b in banks[:k]}) == k):
            head = k
        col = last_col
        # Plain comparisons rather than max(): this loop runs once per column access.
        for i in range(head):
            flat = banks[i]
            bg = bg_of[flat]
            col = last_col + ccd_s
            x = last_col_bg[bg] + ccd_l
            if x > col:
                col = x
            x = col_ready[flat]
            if x > col:
                col = x
            if arrival > col:
                col = arrival
            if write:
                x = last_rd_col + rtw
                if x > col:
                    col = x
                end = col + data_latency
                wr_end = wr_end_bg[bg] = end
                bank_free = end + wr
            else:
                x = wr_end + wtr_s
                if x > col:
                    col = x
                x = wr_end_bg[bg] + wtr_l
                if x > col:
                    col = x
                last_rd_col = col
                end = col + data_latency
                bank_free = col + rtp
            if bank_free > pre_ready[flat]:
                pre_ready[flat] = bank_free
            last_col = last_col_bg[bg] = col
            if log is not None:
                log.append(Command(col, kind, bg, flat % per_group, open_row[flat]))
            if per_beat == 1 or (i + 1) % per_beat == 0:
                # The beat is on the controller bus in the first cycle after its data arrived.
                cycle = -(-end // ratio)
                if cycle <= prev_beat:
                    cycle = prev_beat + 1
                beats.append(cycle)
                prev_beat = cycle
        if head < n:
            for _ in range(head, n):
                col += ccd_s
                cycle = -(-(col + data_latency) // ratio)
                if cycle <= prev_beat:
                    cycle = prev_beat + 1
                beats.append(cycle)
                prev_beat = cycle
            # Bank and bank-group state after the last access of each bank; head accesses
            # already updated it in the loop above.
            for i in range(max(head, n - k), n):
                flat = banks[i]
                at = col - (n - 1 - i) * ccd_s
                last_col_bg[bg_of[flat]] = at
                if write:
                    wr_end_bg[bg_of[flat]] = at + data_latency
                    bank_free = at + data_latency + wr
                else:
                    bank_free = at + rtp
                if bank_free > pre_ready[flat]:
                    pre_ready[flat] = bank_free
            last_col = col
            if write:
                wr_end = col + data_latency
            else:
                last_rd_col = col
        self.last_rd_col, self.wr_end = last_rd_col, wr_end
        self.last_col = self.decision = last_col
        self.last_beat[write] = prev_beat
        return beats
