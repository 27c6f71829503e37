"""Golden instruction-level model: semantics bit for bit, every error code, watchdog."""

import numpy as np
import pytest

from systole.asm import assemble, to_bytes
from systole.hw.config import ArrayConfig, BufferConfig, MemoryConfig, SystoleConfig, preset
from systole.hw.isa import ErrorCode, Opcode, encode
from systole.sim.golden_isa import GoldenMachine, check_instruction

TINY = preset("tiny")            # 4 x 4 array, 32-byte beats and words, 1 MiB memory
PROG = 0x8000


def image_with(program: str, size: int = 0x9000, seed: int = 1) -> np.ndarray:
    """Random data below PROG, the assembled program at PROG."""
    image = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)
    code = to_bytes(assemble(program))
    image[PROG:PROG + len(code)] = code
    image[PROG + len(code):] = 0
    return image


def run(program: str, config=TINY, image=None, **kwargs):
    image = image_with(program) if image is None else image
    return GoldenMachine(config).run(image, PROG, **kwargs), image


def int8_rows(image, addr, rows, stride, width):
    return np.stack([image[addr + r * stride:addr + r * stride + width].view(np.int8)
                     for r in range(rows)])


def test_load_matmul_store_bit_exact():
    result, image = run("""
        LOAD buffer=act buf_addr=3 rows=5 mem_addr=0x1000 stride=0x40
        LOAD buffer=weight buf_addr=2 rows=4 mem_addr=0x2000 stride=0x20 +push_next
        MATMUL act_addr=3 weight_addr=2 acc_addr=7 rows=5 +pop_prev
        MATMUL act_addr=3 weight_addr=2 acc_addr=7 rows=5 accumulate=1 +push_next
        STORE acc_addr=7 rows=5 mem_addr=0x4000 stride=0x60 +pop_prev
        HALT""")
    assert result.ok and result.tokens.ok and result.instructions == 5   # HALT not counted
    acts = int8_rows(image, 0x1000, 5, 0x40, 4).astype(np.int64)
    weights = int8_rows(image, 0x2000, 4, 0x20, 4).astype(np.int64)
    expect = image.copy()
    for r, row in enumerate(2 * (acts @ weights)):
        word = np.zeros(32, np.uint8)
        word[:16] = row.astype("<i4").view(np.uint8)     # padding bytes are zero
        expect[0x4000 + r * 0x60:0x4000 + r * 0x60 + 32] = word
    np.testing.assert_array_equal(result.memory, expect)
    assert (result.bytes_read, result.bytes_written, result.vectors) == (9 * 32, 5 * 32, 10)


def test_whole_words_move_padding_included():
    result, image = run("""
        LOAD buffer=act buf_addr=0 rows=2 mem_addr=0x1000 stride=0x20 +push_next
        SYNC unit=compute +pop_prev +push_next
        SYNC unit=store +pop_prev
        HALT""")
    machine = GoldenMachine(TINY)
    machine.run(image, PROG)
    np.testing.assert_array_equal(machine.act[:2].ravel(), image[0x1000:0x1040])
    assert not machine.act[2:].any()


def test_stride_zero_broadcasts_a_row():
    result, image = run("LOAD buffer=act rows=3 mem_addr=0x1040 stride=0\nHALT")
    machine = GoldenMachine(TINY)
    machine.run(image, PROG)
    np.testing.assert_array_equal(machine.act[:3], np.tile(image[0x1040:0x1060], (3, 1)))


def test_overlapping_store_rows_last_row_wins():
    result, image = run("""
        LOAD buffer=act buf_addr=0 rows=3 mem_addr=0x1000 stride=0x20
        LOAD buffer=weight buf_addr=0 rows=4 mem_addr=0x2000 stride=0x20 +push_next
        MATMUL act_addr=0 weight_addr=0 acc_addr=0 rows=3 +pop_prev +push_next
        STORE acc_addr=0 rows=3 mem_addr=0x4000 stride=0 +pop_prev
        HALT""")
    acts = int8_rows(image, 0x1000, 3, 0x20, 4).astype(np.int64)
    weights = int8_rows(image, 0x2000, 4, 0x20, 4).astype(np.int64)
    last = (acts @ weights)[2].astype("<i4").view(np.uint8)
    np.testing.assert_array_equal(result.memory[0x4000:0x4010], last)


def test_int32_wraps_like_numpy():
    config = SystoleConfig(array=ArrayConfig(rows=256, cols=1),
                           memory=MemoryConfig(channels=1, size=1 << 16, interleave=256),
                           buffers=BufferConfig(act_depth=2, weight_depth=256, acc_depth=2))
    image = np.zeros(0x10000, np.uint8)
    image[0x1000:0x1100] = np.uint8(0x80)                      # act word: 256 x -128
    image[0x2000:0x2000 + 256 * 32:32] = np.uint8(0x80)        # weights: 256 rows, -128
    lines = ["LOAD buffer=act rows=1 mem_addr=0x1000",
             "LOAD buffer=weight rows=256 mem_addr=0x2000 stride=0x20 +push_next",
             "MATMUL rows=1 +pop_prev"]
    lines += ["MATMUL rows=1 accumulate=1"] * 598
    lines += ["MATMUL rows=1 accumulate=1 +push_next",
              "STORE rows=1 mem_addr=0x4000 +pop_prev", "HALT"]
    code = to_bytes(assemble("\n".join(lines)))
    image[PROG:PROG + len(code)] = code
    result = GoldenMachine(config).run(image, PROG)
    expect = np.int64(600 * 256 * 128 * 128).astype(np.int32)
    assert expect < 0                                           # it did wrap
    assert result.ok
    assert result.memory[0x4000:0x4004].view("<i4")[0] == expect


def test_reserved_bits_are_ignored():
    plain = encode("LOAD", buffer=0, rows=1, mem_addr=0x1000, push_next=1)
    noisy = plain | 0xF << 12 | 1 << 127
    halt = encode("HALT") | 0xF << 12 | 0xFF << 64
    image = image_with("")
    image[PROG:PROG + 48] = to_bytes([noisy, encode("SYNC", unit=1, pop_prev=1), halt])
    result = GoldenMachine(TINY).run(image, PROG)
    assert result.ok and result.instructions == 2


PREFIX = """
    LOAD buffer=act buf_addr=0 rows=4 mem_addr=0x1000 stride=0x20
    LOAD buffer=weight buf_addr=0 rows=4 mem_addr=0x2000 stride=0x20 +push_next
    MATMUL act_addr=0 weight_addr=0 acc_addr=0 rows=4 +pop_prev +push_next
    STORE acc_addr=0 rows=4 mem_addr=0x4000 stride=0x20 +pop_prev
"""
LATER = """
    SYNC unit=compute
    STORE acc_addr=0 rows=4 mem_addr=0x5000 stride=0x20
    HALT
"""
DEPTH = TINY.buffers


@pytest.mark.parametrize("bad,error", [
    (".word 0", ErrorCode.ILLEGAL_OPCODE),
    (".word 0x07", ErrorCode.ILLEGAL_OPCODE),
    (".word 0xff", ErrorCode.ILLEGAL_OPCODE),
    ("SYNC unit=3", ErrorCode.ILLEGAL_OPCODE),
    ("LOAD rows=0", ErrorCode.EMPTY),
    ("MATMUL rows=0", ErrorCode.EMPTY),
    ("MATVEC tiles=0 tile_addr=65535", ErrorCode.EMPTY),          # before BUFFER_RANGE
    ("STORE rows=0 acc_addr=65535 mem_addr=1", ErrorCode.EMPTY),  # before the others
    (f"LOAD buffer=act buf_addr={DEPTH.act_depth - 1} rows=2", ErrorCode.BUFFER_RANGE),
    (f"LOAD buffer=weight buf_addr={DEPTH.weight_depth - 3} rows=4", ErrorCode.BUFFER_RANGE),
    (f"MATMUL act_addr={DEPTH.act_depth} rows=1", ErrorCode.BUFFER_RANGE),
    (f"MATMUL weight_addr={DEPTH.weight_depth - 3} rows=1", ErrorCode.BUFFER_RANGE),
    (f"MATMUL acc_addr=10 rows={DEPTH.acc_depth - 9}", ErrorCode.BUFFER_RANGE),
    (f"STORE acc_addr={DEPTH.acc_depth - 1} rows=2 mem_addr=1", ErrorCode.BUFFER_RANGE),
    (f"LOAD buffer=tile buf_addr={DEPTH.tile_depth - 1} rows=2", ErrorCode.BUFFER_RANGE),
    (f"MATVEC act_addr={DEPTH.act_depth} tiles=1", ErrorCode.BUFFER_RANGE),
    (f"MATVEC tile_addr={DEPTH.tile_depth - 2} tiles=3", ErrorCode.BUFFER_RANGE),
    (f"MATVEC acc_addr={DEPTH.acc_depth - 2} tiles=3", ErrorCode.BUFFER_RANGE),
    ("LOAD rows=1 mem_addr=0x1010", ErrorCode.MISALIGNED),
    ("LOAD rows=2 mem_addr=0x1000 stride=0x30", ErrorCode.MISALIGNED),
    ("STORE rows=1 mem_addr=0xfffffff0", ErrorCode.MISALIGNED),   # before MEMORY_RANGE
    ("STORE rows=1 mem_addr=0x100000", ErrorCode.MEMORY_RANGE),
    ("LOAD rows=2 mem_addr=0xfffe0 stride=0x20", ErrorCode.MEMORY_RANGE),
    ("LOAD rows=3 mem_addr=0 stride=0x7fffe0", ErrorCode.MEMORY_RANGE),
])
def test_error_stops_before_the_instruction(bad, error):
    result, image = run(PREFIX + bad + LATER, strict=True)
    prefix, _ = run(PREFIX + "HALT")          # same data, the prefix alone
    assert result.error == error
    assert result.error_pc == PROG + 4 * 16
    assert not result.halted and result.instructions == 4
    assert error.name in result.message
    expect = image.copy()
    expect[0x4000:0x4080] = prefix.memory[0x4000:0x4080]   # the prefix's STORE, nothing more
    assert (expect != image).any()
    np.testing.assert_array_equal(result.memory, expect)


@pytest.mark.parametrize("ok", [
    f"LOAD buffer=act buf_addr={DEPTH.act_depth - 2} rows=2 mem_addr=0xfffc0 stride=0x20",
    f"LOAD buffer=weight buf_addr={DEPTH.weight_depth - 1} rows=1 mem_addr=0xfffe0",
    f"MATMUL act_addr={DEPTH.act_depth - 1} weight_addr={DEPTH.weight_depth - 4} "
    f"acc_addr={DEPTH.acc_depth - 1} rows=1",
    f"STORE acc_addr={DEPTH.acc_depth - 1} rows=1 mem_addr=0xfffe0",
    f"LOAD buffer=tile buf_addr={DEPTH.tile_depth - 1} rows=1 mem_addr=0xfffe0",
    f"MATVEC act_addr={DEPTH.act_depth - 1} tile_addr={DEPTH.tile_depth - 2} "
    f"acc_addr={DEPTH.acc_depth - 2} tiles=2",
])
def test_limits_are_inclusive(ok):
    result, _ = run(ok + "\nHALT", strict=False)
    assert result.ok, result.message


def test_misaligned_program_address():
    image = image_with("HALT")
    result = GoldenMachine(TINY).run(image, PROG + 16)
    assert (result.error, result.error_pc, result.instructions) == \
        (ErrorCode.MISALIGNED, PROG + 16, 0)
    np.testing.assert_array_equal(result.memory, image)


def test_watchdog_stops_a_program_without_halt():
    image = np.zeros(TINY.memory.size, np.uint8)
    image[PROG:] = to_bytes([encode("SYNC", unit=0)] * ((TINY.memory.size - PROG) // 16))
    result = GoldenMachine(TINY).run(image, PROG, max_instructions=100)
    assert not result.halted and result.error == ErrorCode.NONE
    assert result.instructions == 100
    assert result.message == "no HALT within 100 instructions"


def test_running_off_the_end_of_memory():
    config = SystoleConfig(memory=MemoryConfig(channels=1, size=4096, interleave=512))
    image = to_bytes([encode("SYNC", unit=2)] * 256)
    result = GoldenMachine(config).run(image, 0)
    assert not result.halted and result.error == ErrorCode.NONE
    assert result.instructions == 256 and "end of memory" in result.message


def test_code_after_the_image_is_zero_and_illegal():
    result = GoldenMachine(TINY).run(to_bytes(assemble("SYNC unit=load")), 0)
    assert (result.error, result.error_pc) == (ErrorCode.ILLEGAL_OPCODE, 16)


def test_store_grows_a_short_image():
    image = to_bytes(assemble("STORE rows=2 mem_addr=0x2000 stride=0x20\nHALT"))
    result = GoldenMachine(TINY).run(image, 0)
    assert result.ok and len(result.memory) == 0x2040 and not result.memory[0x2000:].any()


@pytest.mark.parametrize("memory,prog_addr,error,message", [
    (np.zeros(4, np.int8), 0, TypeError, "memory must be a 1-D numpy uint8 array"),
    (np.zeros((2, 2), np.uint8), 0, TypeError, "memory must be a 1-D numpy uint8 array"),
    ([0, 0], 0, TypeError, "memory must be a 1-D numpy uint8 array"),
    (np.zeros((1 << 20) + 1, np.uint8), 0, ValueError, "more than the memory size"),
    (np.zeros(4, np.uint8), 1 << 32, ValueError, "prog_addr must be a 32-bit byte address"),
])
def test_run_validates(memory, prog_addr, error, message):
    with pytest.raises(error, match=message):
        GoldenMachine(TINY).run(memory, prog_addr)


def test_machine_needs_a_config():
    with pytest.raises(TypeError, match="config must be a SystoleConfig"):
        GoldenMachine("tiny")


def test_check_instruction_matches_run():
    assert check_instruction(encode(Opcode.HALT), TINY) == (ErrorCode.NONE,
                                                            {"opcode": Opcode.HALT,
                                                             "pop_prev": 0, "pop_next": 0,
                                                             "push_prev": 0, "push_next": 0})
    assert check_instruction(0x77, TINY) == (ErrorCode.ILLEGAL_OPCODE, None)


def test_partially_overlapping_store_rows_in_order():
    config = preset("default")                  # accumulator words are 64 bytes, two beats
    image = np.zeros(0x9000, np.uint8)
    image[0x1000:0x1000 + 3 * 32] = np.random.default_rng(3).integers(0, 256, 96, np.uint8)
    image[0x2000:0x2000 + 16 * 32:32] = 1      # weights: column 0 of every row is 1
    code = to_bytes(assemble("""
        LOAD buffer=act rows=3 mem_addr=0x1000 stride=0x20
        LOAD buffer=weight rows=16 mem_addr=0x2000 stride=0x20 +push_next
        MATMUL rows=3 +pop_prev +push_next
        STORE rows=3 mem_addr=0x4000 stride=0x20 +pop_prev
        HALT"""))
    image[PROG:PROG + len(code)] = code
    machine = GoldenMachine(config)
    result = machine.run(image, PROG)
    words = machine.acc[:3].view(np.uint8)
    expect = np.concatenate([words[0, :32], words[1, :32], words[2]])
    np.testing.assert_array_equal(result.memory[0x4000:0x4000 + 128], expect)
