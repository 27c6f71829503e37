"""``verilator --lint-only -Wall`` on generated Verilog, with the documented waivers only."""

import subprocess

import pytest

from systole.hw.config import ArrayConfig, SystoleConfig, preset
from systole.hw.generate import build_chip_design, build_design, build_memsys_design, write_design
from systole.sim.runner import WAIVERS
from systole.sim.tools import prepare_simulator


@pytest.mark.parametrize("config", [
    SystoleConfig(array=ArrayConfig(rows=4, cols=8)),
    SystoleConfig(array=ArrayConfig(rows=1, cols=1)),
    preset("default"),
], ids=["4x8", "1x1", "default"])
def test_verilator_lint_clean(tmp_path, config):
    lint(tmp_path, build_design(config))


@pytest.mark.parametrize("config", [preset("tiny"), preset("default")], ids=["tiny", "default"])
def test_verilator_lint_clean_memsys(tmp_path, config):
    lint(tmp_path, build_memsys_design(config))


@pytest.mark.parametrize("config", [preset("tiny"), preset("default")], ids=["tiny", "default"])
def test_verilator_lint_clean_chip(tmp_path, config):
    lint(tmp_path, build_chip_design(config))


def lint(tmp_path, design):
    prepare_simulator("verilator")
    write_design(design, tmp_path)
    result = subprocess.run(
        ["verilator", "--lint-only", "-Wall", "--top-module", design.top, str(WAIVERS),
         str(tmp_path / f"{design.top}.v")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "%Warning" not in result.stderr and "%Error" not in result.stderr, result.stderr


def test_waivers_are_documented():
    lines = WAIVERS.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("lint_off"):
            previous = [text for text in lines[:index] if text.strip()][-1]
            assert previous.startswith("//") or previous.startswith("lint_off"), line
    assert sum(line.startswith("lint_off") for line in lines) <= 7
