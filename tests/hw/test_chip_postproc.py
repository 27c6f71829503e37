"""POSTPROC on the whole chip in the Amaranth simulator: two layers chained on chip (the first
layer's int8 output written into the activation buffer), the second requantised in place and
stored; equal to numpy + systole.quant and to the golden model, byte for byte."""

from dataclasses import replace

import numpy as np
import pytest

from systole.hw.config import preset
from systole.hw.isa import ErrorCode, encode
from systole.quant import INT32_MAX, INT32_MIN, PostProcParams
from systole.sim.chip_amaranth import run_chip
from systole.sim.golden import matmul_int32
from systole.sim.golden_isa import GoldenMachine
from systole.sim.quant_image import param_words

CONFIG = preset("tiny")         # 4 x 4 array, 32-byte words, 64-byte parameter words
WORD, PWORD = 32, CONFIG.word_bytes("param")
A_ADDR, W_ADDR, P_ADDR, C_ADDR = 0x1000, 0x2000, 0x2800, 0x3000


def random_params(rng, zero_point, act_min, act_max):
    return PostProcParams(bias=rng.integers(-3000, 3000, 4),
                          multiplier=rng.integers(1 << 30, 1 << 31, 4),
                          shift=rng.choice([8, 9, 10, 31], 4),
                          zero_point=zero_point, act_min=act_min, act_max=act_max)


def program(m, p1, p2):
    def pp(params):
        return {"zero_point": params.zero_point & 0xFF, "act_min": params.act_min & 0xFF,
                "act_max": params.act_max & 0xFF}
    return [
        encode("LOAD", buffer=2, buf_addr=0, rows=2, mem_addr=P_ADDR, stride=PWORD),
        encode("LOAD", buffer=1, buf_addr=0, rows=8, mem_addr=W_ADDR, stride=WORD),
        encode("LOAD", buffer=0, buf_addr=0, rows=m, mem_addr=A_ADDR, stride=WORD,
               push_next=1),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=0, rows=m, pop_prev=1,
               push_next=1),
        # Layer 1 -> activation words 16.., through the post-processor.
        encode("POSTPROC", acc_addr=0, rows=m, dst=1, dst_addr=16, param_addr=0,
               pop_prev=1, push_prev=1, **pp(p1)),
        encode("MATMUL", act_addr=16, weight_addr=4, acc_addr=16, rows=m, pop_next=1,
               push_next=1),
        # Layer 2 in place in the accumulators, then out to memory.
        encode("POSTPROC", acc_addr=16, rows=m, dst=0, dst_addr=16, param_addr=1,
               pop_prev=1, **pp(p2)),
        encode("STORE", acc_addr=16, rows=m, mem_addr=C_ADDR, stride=WORD),
        encode("HALT"),
    ]


def image_for(instrs, a, w1, w2, p1, p2):
    image = np.zeros(0x4000, np.uint8)
    for i, row in enumerate(a):
        image[A_ADDR + WORD * i:][:4] = row.view(np.uint8)
    for i, row in enumerate(np.concatenate([w1, w2])):
        image[W_ADDR + WORD * i:][:4] = row.view(np.uint8)
    words = np.concatenate([param_words(p1, CONFIG), param_words(p2, CONFIG)])
    image[P_ADDR:P_ADDR + words.size] = words.ravel()
    for index, word in enumerate(instrs):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    return image


@pytest.mark.parametrize("seed,activation", [(0, "none"), (1, "relu")])
def test_two_layers_on_chip(seed, activation):
    rng = np.random.default_rng(seed)
    m = 7
    a = rng.integers(-128, 128, (m, 4), dtype=np.int8)
    w1, w2 = (rng.integers(-128, 128, (4, 4), dtype=np.int8) for _ in range(2))
    lo = -3 if activation == "relu" else -128
    p1 = random_params(rng, -3, lo, 127)
    p2 = random_params(rng, 5, -100, 90)
    instrs = program(m, p1, p2)
    image = image_for(instrs, a, w1, w2, p1, p2)

    hidden = p1.apply(matmul_int32(a, w1))
    expected = p2.apply(matmul_int32(hidden, w2))

    golden = GoldenMachine(CONFIG).run(image, 0)
    assert golden.ok and golden.tokens.ok
    run = run_chip(CONFIG, image, 0)
    assert run.registers["ERROR_CODE"] == ErrorCode.NONE
    out = np.stack([run.memory[C_ADDR + WORD * i:][:WORD] for i in range(m)])
    np.testing.assert_array_equal(out[:, :4].view(np.int8), expected)
    assert not out[:, 4:].any()                    # int8 row, then zero padding
    np.testing.assert_array_equal(run.memory[:len(golden.memory)], golden.memory)


def test_edge_values_in_place():
    """int32 extremes through bias and multiplier, shifts 0 and 31, crossed clamp bounds."""
    m = 4
    a = np.array([[-128] * 4, [127] * 4, [0] * 4, [-128, 127, -128, 127]], np.int8)
    w = np.array([[-128] * 4, [127] * 4, [-128] * 4, [127] * 4], np.int8)
    params = PostProcParams(bias=np.array([INT32_MAX, INT32_MIN, -1, 1]),
                            multiplier=np.array([INT32_MIN, INT32_MAX, 1 << 30, INT32_MIN]),
                            shift=np.array([0, 31, 1, 31]), zero_point=-128)
    instrs = [
        encode("LOAD", buffer=2, buf_addr=3, rows=1, mem_addr=P_ADDR, stride=PWORD),
        encode("LOAD", buffer=1, buf_addr=0, rows=4, mem_addr=W_ADDR, stride=WORD),
        encode("LOAD", buffer=0, buf_addr=0, rows=m, mem_addr=A_ADDR, stride=WORD,
               push_next=1),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=2, rows=m, pop_prev=1,
               push_next=1),
        encode("POSTPROC", acc_addr=2, rows=m, dst=0, dst_addr=2, param_addr=3, pop_prev=1,
               zero_point=0x80, act_min=0x80, act_max=0x7F),
        encode("STORE", acc_addr=2, rows=m, mem_addr=C_ADDR, stride=WORD),
        encode("HALT"),
    ]
    image = np.zeros(0x4000, np.uint8)
    for i in range(m):
        image[A_ADDR + WORD * i:][:4] = a[i].view(np.uint8)
        image[W_ADDR + WORD * i:][:4] = w[i].view(np.uint8)
    image[P_ADDR:P_ADDR + PWORD] = param_words(params, CONFIG)[0]
    for index, word in enumerate(instrs):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    expected = params.apply(matmul_int32(a, w))
    golden = GoldenMachine(CONFIG).run(image, 0)
    run = run_chip(CONFIG, image, 0)
    out = np.stack([run.memory[C_ADDR + WORD * i:][:4] for i in range(m)]).view(np.int8)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(run.memory[:len(golden.memory)], golden.memory)


@pytest.mark.parametrize("instr", [
    encode("POSTPROC", acc_addr=250, rows=7, dst=0, dst_addr=0, param_addr=0),
    encode("POSTPROC", acc_addr=0, rows=7, dst=1, dst_addr=250, param_addr=0),
    encode("POSTPROC", acc_addr=0, rows=1, dst=0, dst_addr=0, param_addr=64),
])
def test_postproc_buffer_range_stops(instr):
    image = np.zeros(0x100, np.uint8)
    for index, word in enumerate([instr, encode("HALT")]):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    golden = GoldenMachine(CONFIG).run(image, 0)
    run = run_chip(CONFIG, image, 0)
    assert golden.error == ErrorCode.BUFFER_RANGE
    assert run.registers["ERROR_CODE"] == ErrorCode.BUFFER_RANGE
    assert run.registers["ERROR_PC"] == 0


def test_postproc_is_illegal_without_the_unit():
    """``postproc=False`` drops the unit: POSTPROC stops the machine as an illegal opcode, in
    the golden model as on the chip."""
    config = replace(CONFIG, postproc=False)
    instr = encode("POSTPROC", acc_addr=0, rows=1, dst=0, dst_addr=0, param_addr=0)
    image = np.zeros(0x100, np.uint8)
    for index, word in enumerate([encode("SYNC", unit=2), instr, encode("HALT")]):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    assert GoldenMachine(config).run(image, 0).error == ErrorCode.ILLEGAL_OPCODE
    run = run_chip(config, image, 0)
    assert run.registers["ERROR_CODE"] == ErrorCode.ILLEGAL_OPCODE
    assert run.registers["ERROR_PC"] == 16
