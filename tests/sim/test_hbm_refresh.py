"""Per-bank refresh of the HBM pseudo-channel model (the default; all-bank stays selectable)."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from test_hbm_model import MIB, sequential

from systole.sim.hbm import PRESETS, AddressMap, Command, PseudoChannel, check_commands

HBM2 = PRESETS["hbm2"]
NO_PER_BANK = dataclasses.replace(HBM2, t_refi_pb=0, t_rfc_pb=0, t_rrefd=0)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_refresh_per_bank_by_default(name):
    t = PRESETS[name]
    assert t.per_bank_refresh and PseudoChannel(t).refresh == "per-bank"
    # tREFIpb is tREFI / 16 rounded down: each bank is refreshed at least as often.
    assert t.t_refi_pb == t.t_refi // t.banks
    assert t.t_rfc_pb < t.t_rfc
    assert t.t_rfc_pb * t.tck_ns == pytest.approx(160, abs=t.tck_ns)


def test_refresh_argument():
    assert PseudoChannel(HBM2, refresh=True).refresh == "all-bank"      # the first API
    assert PseudoChannel(HBM2, refresh=False).refresh == "off"
    assert PseudoChannel(NO_PER_BANK).refresh == "all-bank"
    with pytest.raises(ValueError, match="refresh 'per-bank' needs t_rfc_pb"):
        PseudoChannel(NO_PER_BANK, refresh="per-bank")
    with pytest.raises(ValueError, match=r"\brefresh\b"):
        PseudoChannel(HBM2, refresh="sometimes")


@pytest.mark.parametrize("changes, name", [
    ({"t_rfc_pb": 0}, "t_rfc_pb"),
    ({"t_rrefd": 0}, "t_rfc_pb"),
    ({"t_rfc_pb": HBM2.t_rfc + 1}, "t_rfc_pb"),
    ({"t_refi_pb": HBM2.t_refi // 16 + 1}, "t_refi_pb"),
])
def test_per_bank_timing_validation(changes, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        dataclasses.replace(HBM2, **changes)


@pytest.mark.parametrize("write", [False, True], ids=["read", "write"])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_per_bank_refresh_costs_a_stream_little(name, write):
    timing = PRESETS[name]
    kwargs = dict(write=write, total=2 * MIB, sizes=(512,))
    eff, channel = sequential(timing, refresh="per-bank", record_commands=True, **kwargs)
    eff_off, _ = sequential(timing, refresh="off", **kwargs)
    eff_all, _ = sequential(timing, refresh="all-bank", **kwargs)
    overhead = 1 - eff / eff_off
    # REFPB and tRREFD delay an ACT now and then; nowhere near all-bank's tRFC / tREFI.
    assert 0 < overhead < 0.02
    assert eff > eff_all + 0.05
    commands = channel.commands
    assert check_commands(timing, commands) == []
    refreshes = [c for c in commands if c.kind == "REFPB"]
    assert len(refreshes) == channel.stats.refreshes
    span = max(c.cycle for c in commands if c.kind in ("RD", "WR"))
    assert abs(len(refreshes) - span / timing.t_refi_pb) <= 2
    per_bank = Counter((c.bank_group, c.bank) for c in refreshes)
    assert len(per_bank) == timing.banks
    assert max(per_bank.values()) - min(per_bank.values()) <= 1


def test_refresh_picks_a_bank_no_queued_request_needs():
    amap = AddressMap(HBM2)
    channel = PseudoChannel(HBM2, record_commands=True)
    # Arrive just after the first per-bank refresh is due: one read to each bank but one.
    cycle = HBM2.t_refi_pb // HBM2.clock_ratio + 1
    for flat in range(HBM2.banks - 1):
        addr = amap.encode(flat // 4, flat % 4, 7)
        channel.submit(cycle=cycle, addr=addr, nbytes=32, write=False)
    channel.drain()
    refresh = [c for c in channel.commands if c.kind == "REFPB"]
    assert [(c.bank_group, c.bank) for c in refresh] == [(3, 3)]
    assert check_commands(HBM2, channel.commands) == []


def test_random_reads_see_fewer_refresh_stalls_than_all_bank():
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, HBM2.capacity_bytes // 64, size=3000).tolist()
    latency = {}
    for mode in ("per-bank", "all-bank"):
        channel = PseudoChannel(HBM2, refresh=mode)
        for i, block in enumerate(blocks):
            channel.submit(cycle=40 * i, addr=block * 64, nbytes=64, write=False)
        latency[mode] = np.percentile([c.latency for c in channel.drain()], 99)
    assert latency["per-bank"] < latency["all-bank"]


def test_checker_catches_per_bank_violations():
    t = HBM2

    def cmd(cycle, kind, bg=0, bank=0, row=1):
        return Command(cycle, kind, bg, bank, row if kind in ("ACT", "PRE", "RD") else -1)

    legal = [cmd(0, "REFPB"), cmd(t.t_rrefd, "REFPB", bank=1),
             cmd(t.t_rfc_pb, "ACT"), cmd(t.t_rfc_pb + t.t_rrd_s, "ACT", bg=1)]
    assert check_commands(t, legal) == []
    cases = {
        "REFPB to an open bank": [cmd(0, "ACT"), cmd(t.t_rc, "REFPB")],
        "tRFCpb": [cmd(0, "REFPB"), cmd(t.t_rfc_pb - 1, "ACT")],
        "tRREFD": [cmd(0, "REFPB"), cmd(t.t_rrefd - 1, "ACT", bank=1)],
        "tRRD_S before REFPB": [cmd(0, "ACT", bg=1), cmd(t.t_rrd_s - 1, "REFPB")],
        "REFPB twice in one round": [cmd(0, "REFPB"), cmd(t.t_rfc_pb, "REFPB")],
    }
    for rule, commands in cases.items():
        errors = check_commands(t, commands)
        assert errors and rule in errors[0], (rule, errors)
