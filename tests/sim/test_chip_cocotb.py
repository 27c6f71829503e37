"""The generated chip end to end on Verilator (and Icarus for the smallest cases): compiled GEMMs
and error stops, checked against numpy and the golden model byte for byte."""

import json

import numpy as np
import pytest

from systole.hw.config import preset
from systole.hw.isa import ErrorCode, encode
from systole.rtl_device import RtlSimDevice
from systole.run import check_gemm, run_gemm
from systole.sim.golden_isa import GoldenMachine

TINY = preset("tiny")


@pytest.mark.parametrize("m,k,n", [
    (1, 1, 1), (7, 13, 5), (2, 61, 3), (1, 9, 6), (37, 41, 29), (12, 4, 1),
], ids=lambda v: str(v))
def test_random_gemm(m, k, n):
    report = run_gemm(TINY, m, k, n, seed=m + k + n)
    assert report.matches_numpy and report.matches_golden_memory, report.text()
    assert report.ok and report.cycles > 0 and report.array_busy_cycles > 0


@pytest.mark.parametrize("m,k,n,seed", [(1, 1, 1, 0), (3, 7, 2, 5)], ids=lambda v: str(v))
def test_icarus_runs_the_same_cycles_as_verilator(m, k, n, seed):
    icarus = run_gemm(TINY, m, k, n, seed=seed, sim="icarus")
    assert icarus.ok, icarus.text()
    verilator = run_gemm(TINY, m, k, n, seed=seed)
    assert verilator.ok, verilator.text()
    assert icarus.cycles == verilator.cycles


def test_icarus_extreme_operands():
    a = np.full((2, 5), -128, np.int8)
    b = np.full((5, 3), -128, np.int8)
    b[:, 1] = 127
    report = check_gemm(TINY, a, b, sim="icarus")
    assert report.ok, report.text()


@pytest.mark.parametrize("value", [-128, 127])
def test_extreme_operands(value):
    a = np.full((9, 11), value, np.int8)
    b = np.full((11, 6), value, np.int8)
    report = check_gemm(TINY, a, b)
    assert report.ok, report.text()


@pytest.mark.parametrize("memory", ["fixed", "random"])
def test_memory_models(memory):
    report = run_gemm(TINY, 10, 9, 7, seed=4, mode=memory)
    assert report.ok, report.text()


@pytest.mark.parametrize("m,k,n", [(1, 9, 6), (5, 13, 22), (1, 1, 1)], ids=lambda v: str(v))
def test_transposed_mapping(m, k, n):
    """C^T = B^T A^T on the chip (B^T streams as activations, A^T is the weights)."""
    report = run_gemm(TINY, m, k, n, seed=m * k + n, transpose=True)
    assert report.transposed and report.ok, report.text()


def test_transposed_extreme_operands():
    a = np.full((3, 11), -128, np.int8)
    b = np.full((11, 9), -128, np.int8)
    b[:, 4] = 127
    report = check_gemm(TINY, a, b, transpose=True)
    assert report.ok, report.text()


def test_gemv_transposed_takes_half_the_cycles_on_default():
    """1 x 512 x 512 on the 16 x 16 chip without MATVEC: straight, each of the 1,024 weight
    tiles holds the array for 2 * 16 - 1 cycles for a single vector; transposed, the 512 rows
    of B^T stream through each of the 32 tiles of A^T back to back (16,384 busy cycles)."""
    straight = run_gemm(preset("default"), 1, 512, 512, seed=3, transpose=False)
    flipped = run_gemm(preset("default"), 1, 512, 512, seed=3, transpose=True)
    assert straight.ok and flipped.ok, (straight.text(), flipped.text())
    assert flipped.transposed and not straight.transposed
    assert flipped.array_busy_cycles == 512 * 32
    assert flipped.cycles < 0.55 * straight.cycles, (flipped.cycles, straight.cycles)
    assert flipped.array_busy_cycles > 0.95 * flipped.cycles


def test_gemv_streams_the_tiles_at_memory_speed(capsys):
    """The issue's GEMV, ``systole run --preset default --m 1 --k 2048 --n 2048 --json``: the
    compiler picks MATVEC, whose tiles stream through the array one per cycle, so the run is
    bound by the memory: at least 85 % of the HBM2E model's sustained bandwidth, counting all
    bytes and counting only A, B and C; one busy cycle per tile; the cycle model within 2 %."""
    from systole.cli import main

    code = main(["run", "--preset", "default", "--m", "1", "--k", "2048", "--n", "2048",
                 "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"], report
    assert report["mapping"] == "matvec" and not report["transposed"]
    assert report["array_busy_cycles"] == 128 * 128
    assert report["bandwidth_fraction"] >= 0.85, report
    assert report["operand_bandwidth_fraction"] >= 0.85, report
    assert abs(report["model_cycles"] - report["cycles"]) <= 0.02 * report["cycles"], report


@pytest.mark.parametrize("m,k,n", [(1, 37, 29), (3, 16, 130), (1, 1, 1), (2, 300, 5)],
                         ids=lambda v: str(v))
def test_matvec_mapping(m, k, n):
    """Forced MATVEC programs on tiny: ragged K and N (zero-padded tiles), several rows of A,
    several chunks of the tile buffer (16 tiles each), checked against numpy and the golden
    model."""
    report = run_gemm(TINY, m, k, n, seed=m + k + n, matvec=True)
    assert report.mapping == "matvec" and report.ok, report.text()


def test_matvec_extreme_operands_on_icarus():
    a = np.full((2, 11), -128, np.int8)
    b = np.full((11, 9), -128, np.int8)
    b[:, 4] = 127
    a[1, 3] = 127
    report = check_gemm(TINY, a, b, sim="icarus", matvec=True)
    assert report.mapping == "matvec" and report.ok, report.text()


def test_gemv_on_a_tall_array_is_memory_bound(capsys):
    """``systole run --rows 128 --cols 16``: the default memory with a 128 x 16 array, which
    takes a 128-byte row of B^T per cycle (transposed GEMV), more than the four HBM2E channels
    sustain. The run must be memory-bound: at least 85 % of the sustained bandwidth moved
    (padding and the program included), the cycle model within 2 %."""
    from systole.cli import main

    code = main(["run", "--rows", "128", "--cols", "16", "--m", "1", "--k", "2048",
                 "--n", "2048", "--seed", "4", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"], report
    assert report["preset"] == "default-128x16" and (report["rows"], report["cols"]) == (128, 16)
    assert report["transposed"] and report["array_busy_cycles"] == 2048 * 16
    assert report["bandwidth_fraction"] >= 0.85, report
    assert report["operand_bandwidth_fraction"] >= 0.8, report
    assert abs(report["model_cycles"] - report["cycles"]) <= 0.02 * report["cycles"], report


def test_run_takes_both_array_dimensions_or_neither(capsys):
    from systole.cli import main

    assert main(["run", "--rows", "8", "--m", "1", "--k", "1", "--n", "1"]) != 0
    assert "give both --rows and --cols" in capsys.readouterr().err


def test_default_preset():
    report = run_gemm(preset("default"), 40, 37, 33, seed=1)
    assert report.ok, report.text()


def program_image(program, extra=b""):
    image = np.zeros(0x2000, np.uint8)
    for index, word in enumerate(program):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    image[0x1000:0x1000 + len(extra)] = np.frombuffer(extra, np.uint8)
    return image


@pytest.mark.parametrize("bad,code", [
    (0x77, ErrorCode.ILLEGAL_OPCODE),
    (encode("LOAD", buffer=0, rows=2, mem_addr=(1 << 20) - 32, stride=32),
     ErrorCode.MEMORY_RANGE),
])
def test_errors_stop_the_chip_with_memory_intact(bad, code):
    program = [
        encode("LOAD", buffer=0, buf_addr=0, rows=2, mem_addr=0x1000, stride=32, push_next=1),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=0, rows=2, pop_prev=1,
               push_next=1),
        encode("STORE", acc_addr=0, rows=2, mem_addr=0x1800, stride=32, pop_prev=1),
        bad,
        encode("STORE", acc_addr=0, rows=2, mem_addr=0x1400, stride=32),
        encode("HALT"),
    ]
    image = program_image(program, bytes(range(64)))
    golden = GoldenMachine(TINY).run(image.copy(), 0)
    assert golden.error == code and golden.error_pc == 48
    device = RtlSimDevice(TINY, max_cycles=20_000)
    device.write_memory(0, image)
    device.write_reg(0x10, 0)
    device.write_reg(0x00, 1)
    regs = device.registers
    assert regs["ERROR_CODE"] == code and regs["ERROR_PC"] == 48
    assert regs["STATUS"] & 0b111 == 0b110          # not busy, done, error
    np.testing.assert_array_equal(device.read_memory(0, len(image)), golden.memory[:len(image)])


def test_program_without_halt_hits_the_watchdog():
    program = [encode("SYNC", unit=1)] * 8          # then zero words: illegal opcode 0
    image = program_image(program)
    device = RtlSimDevice(TINY, max_cycles=5_000)
    device.write_memory(0, image)
    device.write_reg(0x10, 0)
    device.write_reg(0x00, 1)
    # Opcode 0 is illegal, so running off the program stops with an error, not a hang.
    assert device.registers["ERROR_CODE"] == ErrorCode.ILLEGAL_OPCODE
    assert device.registers["ERROR_PC"] == 8 * 16
    # A program that loops forever on tokens never finishes: the watchdog reports it.
    stuck = program_image([encode("SYNC", unit=2, pop_prev=1), encode("HALT")])
    device = RtlSimDevice(TINY, max_cycles=3_000)
    device.write_memory(0, stuck)
    device.write_reg(0x10, 0)
    device.write_reg(0x00, 1)
    assert device.last_run is not None and not device.last_run.finished
    assert device.registers["STATUS"] & 1                  # still busy


def test_default_128_cubed_keeps_the_array_busy():
    """Contiguous LOAD/STORE tiles become long multi-channel bursts; with loads, compute and
    stores overlapped the 16 x 16 array is busy over 90 % of the run (measured 0.945)."""
    report = run_gemm(preset("default"), 128, 128, 128, seed=0)
    assert report.ok, report.text()
    assert report.array_busy_cycles == 128 * 8 * 8
    assert report.utilization > 0.9, report.text()


def test_run_refuses_matvec_without_a_tile_buffer(capsys):
    from systole.cli import main

    assert main(["run", "--preset", "icebreaker", "--m", "1", "--k", "8", "--n", "8",
                 "--mapping", "matvec"]) == 2
    assert "'icebreaker' has no tile buffer (buffers.tile_depth is 0)" in capsys.readouterr().err
