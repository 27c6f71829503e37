"""MATVEC (weight streaming) on the tiny chip in the Amaranth simulator, against numpy and the
golden model: back-to-back vectors, accumulation, switches between MATMUL and MATVEC, edge
values and the decode checks."""

from dataclasses import replace

import numpy as np
import pytest

from systole.hw.config import preset
from systole.hw.isa import ErrorCode, encode
from systole.sim.chip_amaranth import run_chip
from systole.sim.golden_isa import GoldenMachine

CONFIG = preset("tiny")         # 4 x 4 array, 32-byte beats, 32 tile words of one beat
WORD = 32
X_ADDR, T_ADDR, B_ADDR, C_ADDR = 0x1000, 0x2000, 0x2800, 0x3000


def image_with(program, xs, tiles, b=None, size=0x4000):
    """Program at 0, vectors (act words) at X_ADDR, tiles (row-major, one word each) at
    T_ADDR, weight rows of a MATMUL tile at B_ADDR."""
    image = np.zeros(size, np.uint8)
    for i, x in enumerate(xs):
        image[X_ADDR + WORD * i:X_ADDR + WORD * i + 4] = x.view(np.uint8)
    for i, tile in enumerate(tiles):
        image[T_ADDR + WORD * i:T_ADDR + WORD * i + 16] = tile.reshape(-1).view(np.uint8)
    if b is not None:
        for r, row in enumerate(b):
            image[B_ADDR + WORD * r:B_ADDR + WORD * r + 4] = row.view(np.uint8)
    for index, word in enumerate(program):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    return image


def results(memory, count):
    return np.stack([memory[C_ADDR + WORD * i:C_ADDR + WORD * i + 16].view(np.int32)
                     for i in range(count)])


def check_against_golden(config, image, run):
    golden = GoldenMachine(config).run(image, 0)
    assert golden.ok, golden.message
    np.testing.assert_array_equal(run.memory[:len(image)], golden.memory[:len(image)])
    return golden


def random_operands(vectors, tiles, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (vectors, 4), dtype=np.int8),
            rng.integers(-128, 128, (tiles, 4, 4), dtype=np.int8))


def test_back_to_back_vectors_accumulate():
    """Three vectors, each over the same 11 tiles, accumulated: one MATVEC after the other
    without a gap, the first one of a single tile."""
    xs, tiles = random_operands(3, 11, seed=1)
    program = [
        encode("LOAD", buffer=0, buf_addr=0, rows=3, mem_addr=X_ADDR, stride=WORD),
        encode("LOAD", buffer=3, buf_addr=5, rows=11, mem_addr=T_ADDR, stride=WORD,
               push_next=1),
        encode("MATVEC", act_addr=2, tile_addr=5, acc_addr=0, tiles=1, pop_prev=1),
        encode("MATVEC", act_addr=0, tile_addr=5, acc_addr=0, tiles=11, accumulate=1),
        encode("MATVEC", act_addr=1, tile_addr=5, acc_addr=0, tiles=11, accumulate=1,
               push_next=1),
        encode("STORE", acc_addr=0, rows=11, mem_addr=C_ADDR, stride=WORD, pop_prev=1),
        encode("HALT"),
    ]
    image = image_with(program, xs, tiles)
    run = run_chip(CONFIG, image, 0)
    x = xs.astype(np.int64)
    t = tiles.astype(np.int64)
    want = np.einsum("k,tkn->tn", x[0] + x[1], t)
    want[0] += x[2] @ t[0]
    np.testing.assert_array_equal(results(run.memory, 11), want.astype(np.int32))
    check_against_golden(CONFIG, image, run)
    assert run.registers["ERROR_CODE"] == 0
    assert run.registers["ARRAY_BUSY"] == 23          # one cycle per tile


def test_edge_values_wrap():
    """-128 and 127 everywhere: the sums of 4 products fit int32; accumulated 300 times they
    still do, and the hardware matches numpy's wrap-free int64 sums cast to int32."""
    xs = np.array([[-128] * 4, [127] * 4, [-128, 127, 0, -1]], np.int8)
    tiles = np.array([np.full((4, 4), -128), np.full((4, 4), 127),
                      np.array([[-128, 127, 0, 1]] * 4)], np.int8)
    program = [
        encode("LOAD", buffer=0, buf_addr=0, rows=3, mem_addr=X_ADDR, stride=WORD),
        encode("LOAD", buffer=3, buf_addr=0, rows=3, mem_addr=T_ADDR, stride=WORD,
               push_next=1),
    ]
    program += [encode("MATVEC", act_addr=i % 3, tile_addr=0, acc_addr=0, tiles=3,
                       accumulate=int(i > 0), pop_prev=int(i == 0), push_next=int(i == 5))
                for i in range(6)]
    program += [encode("STORE", acc_addr=0, rows=3, mem_addr=C_ADDR, stride=WORD, pop_prev=1),
                encode("HALT")]
    image = image_with(program, xs, tiles)
    run = run_chip(CONFIG, image, 0)
    x = xs.astype(np.int64)
    want = np.einsum("k,tkn->tn", 2 * x.sum(axis=0), tiles.astype(np.int64))
    np.testing.assert_array_equal(results(run.memory, 3), want.astype(np.int32))
    check_against_golden(CONFIG, image, run)


@pytest.mark.parametrize("mode", ["fixed", "timing"])
def test_matmul_and_matvec_interleaved(mode):
    """MATMUL, MATVEC, MATMUL into neighbouring accumulator words: the array drains between
    the two modes, and the MATMUL tile shifted in during the MATVEC survives it."""
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, (5, 4), dtype=np.int8)
    b = rng.integers(-128, 128, (4, 4), dtype=np.int8)
    xs, tiles = random_operands(1, 6, seed=3)
    program = [
        encode("LOAD", buffer=1, buf_addr=0, rows=4, mem_addr=B_ADDR, stride=WORD),
        encode("LOAD", buffer=0, buf_addr=0, rows=5, mem_addr=X_ADDR + 0x100, stride=WORD),
        encode("LOAD", buffer=0, buf_addr=5, rows=1, mem_addr=X_ADDR, stride=WORD),
        encode("LOAD", buffer=3, buf_addr=0, rows=6, mem_addr=T_ADDR, stride=WORD,
               push_next=1),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=0, rows=5, pop_prev=1),
        encode("MATVEC", act_addr=5, tile_addr=0, acc_addr=5, tiles=6),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=11, rows=5, push_next=1),
        encode("STORE", acc_addr=0, rows=16, mem_addr=C_ADDR, stride=WORD, pop_prev=1),
        encode("HALT"),
    ]
    image = image_with(program, xs, tiles)
    for m, row in enumerate(a):
        image[X_ADDR + 0x100 + WORD * m:X_ADDR + 0x100 + WORD * m + 4] = row.view(np.uint8)
    for r, row in enumerate(b):
        image[B_ADDR + WORD * r:B_ADDR + WORD * r + 4] = row.view(np.uint8)
    run = run_chip(CONFIG, image, 0, mode=mode)
    c = a.astype(np.int64) @ b.astype(np.int64)
    want = np.concatenate([c, np.einsum("k,tkn->tn", xs[0].astype(np.int64),
                                        tiles.astype(np.int64)), c])
    np.testing.assert_array_equal(results(run.memory, 16), want.astype(np.int32))
    check_against_golden(CONFIG, image, run)


NO_TILES = replace(CONFIG, name="tiny-no-tiles",
                   buffers=replace(CONFIG.buffers, tile_depth=0))


@pytest.mark.parametrize("config,bad,code", [
    (NO_TILES, encode("MATVEC", act_addr=0, tile_addr=0, acc_addr=0, tiles=1),
     ErrorCode.ILLEGAL_OPCODE),
    (NO_TILES, encode("LOAD", buffer=3, rows=1, mem_addr=0, stride=WORD),
     ErrorCode.ILLEGAL_OPCODE),
    (CONFIG, encode("MATVEC", act_addr=0, tile_addr=0, acc_addr=0, tiles=0), ErrorCode.EMPTY),
    (CONFIG, encode("MATVEC", act_addr=256, tile_addr=0, acc_addr=0, tiles=1),
     ErrorCode.BUFFER_RANGE),
    (CONFIG, encode("MATVEC", act_addr=0, tile_addr=30, acc_addr=0, tiles=3),
     ErrorCode.BUFFER_RANGE),
    (CONFIG, encode("MATVEC", act_addr=0, tile_addr=0, acc_addr=250, tiles=7),
     ErrorCode.BUFFER_RANGE),
    (CONFIG, encode("LOAD", buffer=3, buf_addr=31, rows=2, mem_addr=0, stride=WORD),
     ErrorCode.BUFFER_RANGE),
])
def test_decode_errors(config, bad, code):
    """Illegal or out-of-range MATVECs and tile LOADs stop the machine before they run, with
    the code and address the golden model gives."""
    program = [encode("SYNC", unit=1), bad, encode("HALT")]
    image = image_with(program, [], [])
    run = run_chip(config, image, 0)
    assert run.registers["ERROR_CODE"] == code
    assert run.registers["ERROR_PC"] == 16
    golden = GoldenMachine(config).run(image, 0)
    assert (golden.error, golden.error_pc) == (code, 16)


def test_short_matvecs_with_new_vectors_on_a_taller_array():
    """One-tile MATVECs, each with another vector, on an 8 x 4 array: a vector reaches the
    last row 8 cycles after the first, longer than a MATVEC takes, so the compute unit spaces
    new vectors ``rows`` cycles apart (without that, rows 4-7 took the next vector)."""
    config = CONFIG.with_array(8, 4)
    rng = np.random.default_rng(11)
    xs = rng.integers(-128, 128, (6, 8), dtype=np.int8)
    tiles = rng.integers(-128, 128, (6, 8, 4), dtype=np.int8)
    program = [
        encode("LOAD", buffer=0, buf_addr=0, rows=6, mem_addr=X_ADDR, stride=WORD),
        encode("LOAD", buffer=3, buf_addr=0, rows=6, mem_addr=T_ADDR, stride=WORD,
               push_next=1),
    ]
    program += [encode("MATVEC", act_addr=i, tile_addr=i, acc_addr=i, tiles=1,
                       pop_prev=int(i == 0), push_next=int(i == 5)) for i in range(6)]
    program += [encode("STORE", acc_addr=0, rows=6, mem_addr=C_ADDR, stride=WORD, pop_prev=1),
                encode("HALT")]
    image = np.zeros(0x4000, np.uint8)
    for i in range(6):
        image[X_ADDR + WORD * i:X_ADDR + WORD * i + 8] = xs[i].view(np.uint8)
        image[T_ADDR + WORD * i:T_ADDR + WORD * i + 32] = tiles[i].reshape(-1).view(np.uint8)
    for index, word in enumerate(program):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    run = run_chip(config, image, 0)
    want = np.einsum("tk,tkn->tn", xs.astype(np.int64), tiles.astype(np.int64))
    np.testing.assert_array_equal(results(run.memory, 6), want.astype(np.int32))
    check_against_golden(config, image, run)
