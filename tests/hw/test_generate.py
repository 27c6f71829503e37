"""Verilog generation: reproducible files, a truthful port list, the CLI."""

import json
import re
import subprocess
import sys

import pytest

from systole.hw.config import ArrayConfig, SystoleConfig
from systole.hw.generate import build_chip_design, build_design

SYSTOLE = [sys.executable, "-m", "systole.cli"]


def generate(tmp_path, *args):
    return subprocess.run([*SYSTOLE, "generate", *args, "--out", str(tmp_path)],
                          capture_output=True, text=True)


@pytest.mark.parametrize("top,name", [("chip", "systole"), ("array", "systole_array")])
def test_cli_generate_is_byte_identical(tmp_path, top, name):
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = generate(out, "--rows", "4", "--cols", "8", "--top", top)
        assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in first.iterdir())
    assert names == [f"{name}.json", f"{name}.sdc", f"{name}.v"]
    for file in names:
        assert (first / file).read_bytes() == (second / file).read_bytes()
    text = (first / f"{name}.v").read_text()
    assert str(tmp_path) not in text and "/work" not in text and "/home" not in text
    desc = json.loads((first / f"{name}.json").read_text())
    assert desc["config"]["array"]["rows"] == 4 and desc["config"]["array"]["cols"] == 8


def test_chip_top_has_only_memory_control_clock_reset_irq(tmp_path):
    result = generate(tmp_path, "--preset", "tiny")
    assert result.returncode == 0, result.stderr
    desc = json.loads((tmp_path / "systole.json").read_text())
    names = {port["name"] for port in desc["ports"]}
    channels = desc["config"]["memory"]["channels"]
    axi = {f"m_axi{i}_{sig}" for i in range(channels) for sig in (
        "araddr arid arlen arsize arburst arvalid arready rdata rid rresp rlast rvalid rready "
        "awaddr awid awlen awsize awburst awvalid awready wdata wstrb wlast wvalid wready "
        "bid bresp bvalid bready").split()}
    axil = {f"s_axil_{sig}" for sig in (
        "awaddr awprot awvalid awready wdata wstrb wvalid wready bresp bvalid bready "
        "araddr arprot arvalid arready rdata rresp rvalid rready").split()}
    assert names == axi | axil | {"clk", "rst", "irq"}
    assert desc["control"]["registers"]["CTRL"]["offset"] == 0
    assert desc["isa"]["opcodes"]["MATMUL"]["value"] == 2


def test_cli_preset(tmp_path):
    result = generate(tmp_path, "--preset", "tiny")
    assert result.returncode == 0, result.stderr
    desc = json.loads((tmp_path / "systole.json").read_text())
    assert desc["config"]["name"] == "tiny"


@pytest.mark.parametrize("args,message", [
    (["--rows", "0", "--cols", "4"], "rows must be between 1 and 256, not 0"),
    (["--rows", "4"], "give --preset NAME, or both --rows R and --cols C"),
    (["--preset", "nope"], "preset must be one of"),
    (["--preset", "tiny", "--rows", "4"], "either --preset or --rows/--cols"),
    # The default chip's 1 GiB of memory as FPGA block RAM: refused, not elaborated.
    (["--preset", "default", "--top", "fpga"],
     "memory.size must be at most 4 MiB for the FPGA prototype"),
])
def test_cli_errors(tmp_path, args, message):
    result = generate(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_port_list_matches_verilog():
    design = build_design(SystoleConfig(array=ArrayConfig(rows=3, cols=5)))
    header = re.search(r"module systole_array\((.*?)\);", design.verilog, re.S).group(1)
    verilog_ports = {name.strip() for name in header.split(",")}
    described = {port["name"]: port for port in design.description["ports"]}
    assert set(described) == verilog_ports
    for name, port in described.items():
        decl = re.search(rf"\n\s*({port['direction']})\s+(\[(\d+):0\]\s+)?{name};",
                         design.verilog)
        assert decl, name
        assert (int(decl.group(3)) + 1 if decl.group(3) else 1) == port["width"], name
    acts = described["acts__payload"]["shape"]
    assert acts["fields"]["data"]["count"] == 3 and acts["fields"]["swap"]["offset"] == 24
    assert described["psums__payload"]["width"] == 5 * 32
    assert "psums__ready" not in described  # the array never stalls its output
    # One module per distinct cell, not per instance.
    assert design.verilog.count("module systole_array_pe(") == 1
    modules = re.findall(r"^module (\S+?)\s*\(", design.verilog, re.M)
    assert len(modules) == len(set(modules)) == 7
    # The chip also converts the PE and the row once.
    chip = build_chip_design(SystoleConfig(array=ArrayConfig(rows=3, cols=5)))
    assert chip.verilog.count("module systole_pe(") == 1
