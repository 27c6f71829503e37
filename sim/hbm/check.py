"""Independent JEDEC-rule checker for a DRAM command log.

Written separately from :mod:`.dram` (which *schedules* commands) so that each can catch the
other's mistakes: tests run traffic through :class:`~systole.sim.hbm.model.PseudoChannel` with
``record_commands=True`` and require :func:`check_commands` to find nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from .timing import HBMTiming
from .types import Command

__all__ = ["check_commands"]

# Same-cycle order: closing before refreshing before opening before accessing.
_ORDER = {"PREA": 0, "PRE": 0, "REF": 1, "REFPB": 1, "ACT": 2, "RD": 3, "WR": 3}


def check_commands(timing: HBMTiming, commands: Iterable[Command], *,
                   limit: int = 20) -> list[str]:
    """List the timing and state rules a command log breaks.

    Parameters
    ----------
    timing : HBMTiming
        Rules to check against.
    commands : iterable of Command
        The log, in any order (it is sorted by cycle).
    limit : int
        Stop after this many violations.

    Returns
    -------
    list of str
        One line per violation, naming the rule and the offending command; empty if the log is
        legal. Checked: bank state (ACT to a closed bank, PRE/RD/WR to the open row), tRCD, tRP,
        tRAS, tRC, tRTP, tWR, tCCD_S/L, tRRD_S/L, tFAW, tRTW, tWTR_S/L, REF only with all banks
        precharged for tRP, no ACT within tRFC of a REF; per-bank refresh (REFPB): its bank
        precharged for tRP, tRRD_S/L after an ACT, tRREFD to the next REFPB or ACT, no ACT to
        the bank within tRFCpb, every bank once per round of ``banks`` REFPBs.
    """
    t = timing
    never = -(1 << 40)
    errors: list[str] = []
    open_row: dict[int, int] = {}
    last_act = [never] * t.banks
    last_pre = [never] * t.banks
    last_rd = [never] * t.banks
    last_wr_end = [never] * t.banks
    act_bg = [never] * t.bank_groups
    col_bg = [never] * t.bank_groups
    wr_end_bg = [never] * t.bank_groups
    acts: list[int] = []
    col_any = rd_any = wr_end_any = ref_at = refpb_any = never
    refpb_at = [never] * t.banks
    refresh_round: set[int] = set()

    def need(ok: bool, rule: str, cmd: Command) -> None:
        if not ok:
            errors.append(f"{rule}: {cmd}")

    for c in sorted(commands, key=lambda c: (c.cycle, _ORDER[c.kind])):
        if len(errors) >= limit:
            break
        bank = c.bank_group * t.banks_per_group + c.bank
        if c.kind == "ACT":
            need(bank not in open_row, "ACT to an open bank", c)
            need(c.cycle >= last_pre[bank] + t.t_rp, "tRP", c)
            need(c.cycle >= last_act[bank] + t.t_rc, "tRC", c)
            need(c.cycle >= ref_at + t.t_rfc, "tRFC", c)
            need(c.cycle >= refpb_at[bank] + t.t_rfc_pb, "tRFCpb", c)
            need(c.cycle >= refpb_any + t.t_rrefd, "tRREFD", c)
            need(c.cycle >= act_bg[c.bank_group] + t.t_rrd_l, "tRRD_L", c)
            need(not acts or c.cycle >= acts[-1] + t.t_rrd_s, "tRRD_S", c)
            need(len(acts) < 4 or c.cycle >= acts[-4] + t.t_faw, "tFAW", c)
            acts.append(c.cycle)
            open_row[bank] = c.row
            last_act[bank] = act_bg[c.bank_group] = c.cycle
        elif c.kind in ("PRE", "PREA"):
            for b in [bank] if c.kind == "PRE" else list(open_row):
                need(b in open_row and open_row[b] == c.row or c.kind == "PREA",
                     "PRE of a closed bank or another row", c)
                need(c.cycle >= last_act[b] + t.t_ras, "tRAS", c)
                need(c.cycle >= last_rd[b] + t.t_rtp, "tRTP", c)
                need(c.cycle >= last_wr_end[b] + t.t_wr, "tWR", c)
                open_row.pop(b, None)
                last_pre[b] = c.cycle
        elif c.kind == "REFPB":
            need(bank not in open_row, "REFPB to an open bank", c)
            need(c.cycle >= last_pre[bank] + t.t_rp, "tRP before REFPB", c)
            need(c.cycle >= last_act[bank] + t.t_rc, "tRC before REFPB", c)
            need(c.cycle >= refpb_at[bank] + t.t_rfc_pb, "tRFCpb", c)
            need(c.cycle >= refpb_any + t.t_rrefd, "tRREFD", c)
            need(not acts or c.cycle >= acts[-1] + t.t_rrd_s, "tRRD_S before REFPB", c)
            need(c.cycle >= act_bg[c.bank_group] + t.t_rrd_l, "tRRD_L before REFPB", c)
            if not refresh_round:
                refresh_round = set(range(t.banks))
            need(bank in refresh_round, "REFPB twice in one round", c)
            refresh_round.discard(bank)
            refpb_at[bank] = refpb_any = c.cycle
        elif c.kind == "REF":
            need(not open_row, "REF with an open bank", c)
            need(c.cycle >= max(last_pre) + t.t_rp, "tRP before REF", c)
            ref_at = c.cycle
        else:
            need(open_row.get(bank) == c.row, f"{c.kind} to a row that is not open", c)
            need(c.cycle >= last_act[bank] + t.t_rcd, "tRCD", c)
            need(c.cycle >= col_any + t.t_ccd_s, "tCCD_S", c)
            need(c.cycle >= col_bg[c.bank_group] + t.t_ccd_l, "tCCD_L", c)
            if c.kind == "RD":
                need(c.cycle >= wr_end_any + t.t_wtr_s, "tWTR_S", c)
                need(c.cycle >= wr_end_bg[c.bank_group] + t.t_wtr_l, "tWTR_L", c)
                rd_any = last_rd[bank] = c.cycle
            else:
                need(c.cycle >= rd_any + t.t_rtw, "tRTW", c)
                end = c.cycle + t.t_wl + t.burst_cycles
                wr_end_any = wr_end_bg[c.bank_group] = last_wr_end[bank] = end
            col_any = col_bg[c.bank_group] = c.cycle
    return errors
