"""GEMM compiler: any shape through the golden model equals numpy; layout, tiling, validation."""

from dataclasses import replace

import numpy as np
import pytest

from systole.asm import assemble
from systole.compiler import compile_gemm
from systole.hw.config import BufferConfig, MemoryConfig, SystoleConfig, preset
from systole.hw.isa import Buffer, Opcode, decode
from systole.sim.golden import matmul_int32
from systole.sim.golden_isa import GoldenMachine
from systole.tiling import plan_tiling

TINY, DEFAULT = preset("tiny"), preset("default")
# Buffers far smaller than the GEMMs: every M-block, slot ring and reload path is exercised.
SMALL = SystoleConfig(name="small", array=TINY.array, memory=TINY.memory,
                      buffers=BufferConfig(act_depth=12, weight_depth=8, acc_depth=6))
MINIMAL = SystoleConfig(name="minimal", array=TINY.array, memory=TINY.memory,
                        buffers=BufferConfig(act_depth=2, weight_depth=4, acc_depth=2))


def operands(m, k, n, seed=0, fill=None):
    if fill is not None:
        return np.full((m, k), fill, np.int8), np.full((k, n), fill, np.int8)
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (m, k), dtype=np.int8),
            rng.integers(-128, 128, (k, n), dtype=np.int8))


def run_gemm(a, b, config, queue_depth=0, transpose=None):
    program = compile_gemm(a, b, config, transpose=transpose)
    result = GoldenMachine(config).run(program.image, program.prog_addr,
                                       queue_depth=queue_depth)   # strict: tokens checked
    assert result.ok, result.message
    assert result.tokens.leftover == {}
    return program, result


@pytest.mark.parametrize("config", [TINY, DEFAULT, SMALL, MINIMAL], ids=lambda c: c.name)
@pytest.mark.parametrize("m,k,n", [
    (1, 1, 1), (7, 13, 5), (37, 41, 29), (2, 300, 3), (1, 50, 37), (41, 50, 1), (16, 16, 16),
    (64, 8, 20),
])
@pytest.mark.parametrize("transpose", [None, True], ids=["auto", "transposed"])
def test_gemm_equals_numpy(config, m, k, n, transpose):
    a, b = operands(m, k, n, seed=m * k * n)
    program, result = run_gemm(a, b, config, transpose=transpose)
    assert program.shape == (m, k, n)
    np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))
    assert (result.bytes_read, result.bytes_written) == (program.bytes_read,
                                                         program.bytes_written)
    assert result.vectors == program.array_vectors


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("fill", [-128, 127])
@pytest.mark.parametrize("config", [TINY, SMALL], ids=lambda c: c.name)
def test_extreme_operands(config, fill, transpose):
    a, b = operands(9, 70, 6, fill=fill)
    program, result = run_gemm(a, b, config, transpose=transpose)
    np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))


def test_k_much_larger_than_the_array_on_default():
    a, b = operands(5, 2000, 3, seed=4)
    program, result = run_gemm(a, b, DEFAULT)
    np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))


@pytest.mark.parametrize("queue_depth", [1, 2, None])
@pytest.mark.parametrize("config", [TINY, SMALL, MINIMAL], ids=lambda c: c.name)
def test_no_deadlock_with_unit_command_queues(config, queue_depth):
    a, b = operands(23, 19, 11, seed=5)
    program, result = run_gemm(a, b, config, queue_depth=queue_depth)
    assert not result.tokens.deadlock
    np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))


def test_128_cube_on_default():
    a, b = operands(128, 128, 128, seed=6)
    program, result = run_gemm(a, b, DEFAULT)
    np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))
    t = program.tiling
    assert (t.m_block, t.m_blocks, t.k_tiles, t.n_tiles) == (128, 1, 8, 8)
    assert t.act_resident and t.weight_resident
    # A: a LOAD per K-tile; B (64 tiles, resident): LOADs of 1, 1, 2, 4 and then 8 tiles.
    assert program.counts == {"LOAD": 8 + 11, "MATMUL": 64, "STORE": 8, "HALT": 1}
    assert program.macs == 128 ** 3 and program.array_vectors == 64 * 128
    assert program.bytes_read == 8 * 128 * 32 + 64 * 16 * 32     # A once, B once
    assert program.bytes_written == 8 * 128 * 64
    assert max(result.tokens.bound.values()) <= t.lookahead
    assert len(program.image) <= DEFAULT.memory.size


def test_token_bound_follows_the_lookahead():
    a, b = operands(40, 64, 64, seed=7)
    for lookahead in (2, 3, 8):
        program = compile_gemm(a, b, TINY, lookahead=lookahead)
        result = GoldenMachine(TINY).run(program.image, program.prog_addr)
        assert result.tokens.bound["L2C"] <= lookahead


def test_layout_of_operands_and_result():
    a, b = operands(3, 6, 5, seed=8)
    program = compile_gemm(a, b, TINY, transpose=False)
    image, word = program.image, 32
    # A, K-tile 1, row 2: A[2, 4:6] then zero padding
    row = image[(1 * 3 + 2) * word:][:word].view(np.int8)
    assert list(row[:2]) == list(a[2, 4:6]) and not row[2:].any()
    # B, N-tile 1, K-tile 0, tile row 3: B[3, 4:5]
    row = image[program.b_addr + ((1 * 2 + 0) * 4 + 3) * word:][:word].view(np.int8)
    assert list(row[:1]) == list(b[3, 4:5]) and not row[1:].any()
    # Regions start on interleave granules; B on the channel after the first A rows (2 x 2
    # TINY channels of 256-byte granules: A's first block is one granule, on channel 0).
    interleave = TINY.memory.interleave
    assert program.a_addr == 0 and program.c_addr % 4096 == 0
    assert program.b_addr % 4096 == interleave and program.prog_addr % 4096 == 0
    assert program.result_range == (program.c_addr, 2 * 3 * 32)
    assert program.prog_addr % 4096 == 0
    assert len(program.image) == program.prog_addr + 16 * len(program.instructions)


def test_transposed_layout_holds_b_t_a_t_and_c_t():
    a, b = operands(3, 6, 5, seed=8)
    program, result = run_gemm(a, b, TINY, transpose=True)
    image, word = program.image, 32
    assert program.transposed and program.tiling.m == 5 and program.tiling.n == 3
    # A region, K-tile 1, row 2: B^T[2, 4:6] = B[4:6, 2]
    row = image[(1 * 5 + 2) * word:][:word].view(np.int8)
    assert list(row[:2]) == list(b[4:6, 2]) and not row[2:].any()
    # B region, N-tile 0, K-tile 1, tile row 1: A^T[5, 0:3] = A[0:3, 5]
    row = image[program.b_addr + (1 * 4 + 1) * word:][:word].view(np.int8)
    assert list(row[:3]) == list(a[:, 5]) and not row[3:].any()
    # C region: row n holds C^T[n, :] = C[:, n] as int32
    c_t = result.memory[program.c_addr:][:5 * word].view("<i4").reshape(5, 8)
    np.testing.assert_array_equal(c_t[:, :3], matmul_int32(a, b).T)
    assert not c_t[:, 3:].any()


@pytest.mark.parametrize("m,k,n,transposed", [
    (1, 2048, 2048, True), (8, 512, 512, True), (1, 16, 16, False), (64, 64, 64, False),
    (2048, 64, 1, False),
])
def test_few_rows_of_a_transpose_on_default(m, k, n, transposed):
    """A GEMV spends 2 * rows - 1 cycles per weight tile for one vector; transposed, the
    N rows of B^T stream through each tile of A^T: about half the cycles (MATVEC left out)."""
    a, b = operands(m, k, n, seed=13)
    straight = compile_gemm(a, b, DEFAULT, transpose=False)
    program = compile_gemm(a, b, DEFAULT, matvec=False)
    assert program.transposed is transposed and program.mapping != "matvec"
    if transposed:
        assert program.estimated_cycles < 0.55 * straight.estimated_cycles
        assert program.array_vectors == n * -(-k // 16) * -(-m // 16)


@pytest.mark.parametrize("m,k,n,mapping", [
    (1, 2048, 2048, "matvec"), (4, 256, 1000, "matvec"), (16, 512, 512, "transposed"),
    (64, 64, 64, "straight"), (1, 16, 16, "straight"),
])
def test_auto_mapping_on_default(m, k, n, mapping):
    """The compiler's choice among the three mappings: MATVEC for few rows of A and large
    K x N (the chip then streams B at memory speed); C^T for 16 rows; straight for square
    GEMMs and for a single tile, where the fixed costs of MATVEC dominate."""
    a, b = operands(m, k, n, seed=5)
    program = compile_gemm(a, b, DEFAULT)
    assert program.mapping == mapping
    result = GoldenMachine(DEFAULT).run(program.image, program.prog_addr)
    assert result.ok
    np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))


def test_matvec_program_streams_chunks_of_half_the_tile_buffer():
    """1 x 2048 x 2048: A in one LOAD, B's 16,384 tiles in 256 LOADs of 64 (16 KiB, one
    contiguous row each), alternating between the two halves of the 128-tile buffer; one
    MATVEC of 64 tiles per chunk; one STORE of 128 accumulator words."""
    a, b = operands(1, 2048, 2048, seed=2)
    program = compile_gemm(a, b, DEFAULT)
    assert program.counts == {"LOAD": 1 + 256, "MATVEC": 256, "STORE": 1, "HALT": 1}
    fields = [decode(word) for word in program.instructions]
    tile_loads = [f for f in fields if f["opcode"] == Opcode.LOAD and f["buffer"] == Buffer.TILE]
    assert [f["buf_addr"] for f in tile_loads[:4]] == [0, 64, 0, 64]
    assert all(f["rows"] == 64 and f["stride"] == 256 for f in tile_loads)
    assert [f["mem_addr"] - tile_loads[0]["mem_addr"] for f in tile_loads[:3]] == [
        0, 64 * 256, 128 * 256]
    matvecs = [f for f in fields if f["opcode"] == Opcode.MATVEC]
    assert all(f["tiles"] == 64 for f in matvecs)
    assert [f["accumulate"] for f in matvecs[:4]] == [0, 0, 1, 1]
    assert program.bytes_read == 2048 // 16 * 32 + 2048 * 2048


def test_matvec_needs_a_tile_buffer_and_room_for_a_and_c():
    a, b = operands(1, 64, 64, seed=1)
    no_tiles = SystoleConfig(name="no-tiles", array=DEFAULT.array, memory=DEFAULT.memory,
                             buffers=replace(DEFAULT.buffers, tile_depth=0))
    with pytest.raises(ValueError, match="has no tile buffer"):
        compile_gemm(a, b, no_tiles, matvec=True)
    assert compile_gemm(a, b, no_tiles).mapping != "matvec"
    wide, long_b = operands(1, 16, 2049 * 16, seed=1)
    with pytest.raises(ValueError, match="C needs 2049 accumulator words"):
        compile_gemm(wide, long_b, DEFAULT, matvec=True)
    with pytest.raises(TypeError, match="matvec must be None, True or False"):
        compile_gemm(a, b, DEFAULT, matvec="yes")


def test_auto_mapping_stays_straight_when_the_transposed_image_does_not_fit():
    # 1 x 4 x 8100 on a 512 KiB tiny: C^T takes a 32-byte word per column of B (8100 of them)
    config = SystoleConfig(name="half-mib", array=TINY.array,
                           memory=MemoryConfig(channels=2, data_width=256, size=1 << 19,
                                               interleave=256, buffer_depth=256),
                           buffers=TINY.buffers)
    a, b = np.ones((1, 4), np.int8), np.ones((4, 8100), np.int8)
    with pytest.raises(ValueError, match="the GEMM needs 531744 bytes of memory"):
        compile_gemm(a, b, config, transpose=True)
    program = compile_gemm(a, b, config)
    assert not program.transposed and len(program.image) <= config.memory.size
    assert compile_gemm(a[:, :], b[:, :2000], config).transposed


def test_transpose_must_be_a_bool_or_none():
    a, b = operands(2, 2, 2)
    with pytest.raises(TypeError, match="transpose must be None, True or False, not 1"):
        compile_gemm(a, b, TINY, transpose=1)


def test_read_result_from_a_slice_of_memory():
    a, b = operands(5, 3, 6, seed=9)
    program, result = run_gemm(a, b, TINY)
    addr, nbytes = program.result_range
    c = program.read_result(result.memory[addr:addr + nbytes], base=addr)
    np.testing.assert_array_equal(c, matmul_int32(a, b))
    with pytest.raises(ValueError, match="memory must cover bytes"):
        program.read_result(result.memory[:addr])


def test_assembly_round_trips():
    program = compile_gemm(*operands(9, 9, 9), TINY)
    assert tuple(assemble(program.assembly())) == program.instructions
    assert program.instructions[-1] & 0xFF == Opcode.HALT


def test_tiling_choices():
    t = plan_tiling(256, 256, 256, DEFAULT)       # A block (16 K-tiles) resident, B reloaded
    assert t.act_resident and not t.weight_resident and t.m_blocks == 1
    assert t.k_tiles * t.m_block <= DEFAULT.buffers.act_depth
    # Resident A blocks of 16 K-tiles would be 8 rows (two slots): a MATMUL per 8 vectors, more
    # instructions than the 4 x 4 chip fetches in time. Streaming A allows 125-row blocks.
    t = plan_tiling(1000, 64, 64, TINY)
    assert not t.act_resident and not t.weight_resident and (t.m_blocks, t.m_block) == (8, 125)
    t = plan_tiling(100, 4000, 4, TINY)           # K too large to keep A: stream it
    assert not t.act_resident
    # Balanced blocks. One 301-row block would fit, but smaller ones start the array sooner
    # (a smaller first LOAD) and end sooner (a smaller last STORE): 301 / 2 / 2 -> 7 x 43.
    t = plan_tiling(301, 16, 16, DEFAULT)
    assert (t.m_blocks, t.m_block) == (7, 43)
    # At most 1,024 rows (accumulators double-buffered) and at least 2 * rows - 1 = 31 (a tile
    # hides its weight shift): 3,000 -> 1,000 -> 500 -> 250 -> 125 -> 62 (balanced: 49 x 62).
    t = plan_tiling(3000, 16, 16, DEFAULT)
    assert (t.m_blocks, t.m_block) == (49, 62)


def test_gemm_too_large_for_memory():
    config = SystoleConfig(array=TINY.array, memory=MemoryConfig(channels=1, size=1 << 14,
                                                                 interleave=256))
    with pytest.raises(ValueError, match="the GEMM needs .* bytes of memory, 'custom' has 16384"):
        compile_gemm(*operands(100, 100, 100), config)


@pytest.mark.parametrize("a,b,error,message", [
    ([[1]], np.ones((1, 1), np.int8), TypeError, "A must be a numpy.ndarray of int8, not list"),
    (np.ones((1, 1), np.int8), 3, TypeError, "B must be a numpy.ndarray of int8, not int"),
    (np.ones((2, 2), np.int16), np.ones((2, 2), np.int8), TypeError,
     "A must have dtype int8, not int16"),
    (np.ones((2, 2), np.int8), np.ones((2, 2), np.uint8), TypeError,
     "B must have dtype int8, not uint8"),
    (np.ones(4, np.int8), np.ones((4, 1), np.int8), ValueError,
     r"A must be 2-D \(M x K\), not 1-D with shape \(4,\)"),
    (np.ones((2, 2), np.int8), np.ones((2, 2, 1), np.int8), ValueError,
     r"B must be 2-D \(K x N\), not 3-D"),
    (np.ones((0, 3), np.int8), np.ones((3, 2), np.int8), ValueError,
     r"A must not be empty, its shape is \(0, 3\)"),
    (np.ones((2, 3), np.int8), np.ones((3, 0), np.int8), ValueError,
     r"B must not be empty, its shape is \(3, 0\)"),
    (np.ones((2, 3), np.int8), np.ones((4, 2), np.int8), ValueError,
     "inner dimensions differ: A is M x K = 2 x 3, B is K x N = 4 x 2"),
])
def test_input_validation(a, b, error, message):
    with pytest.raises(error, match=message):
        compile_gemm(a, b, TINY)


def test_config_and_lookahead_validation():
    a, b = operands(2, 2, 2)
    with pytest.raises(TypeError, match="config must be a SystoleConfig, not 'tiny'"):
        compile_gemm(a, b, "tiny")
    with pytest.raises(ValueError, match="lookahead must be at least 2, not 1"):
        compile_gemm(a, b, TINY, lookahead=1)


def test_default_config_is_the_default_preset():
    assert compile_gemm(*operands(2, 2, 2)).config is DEFAULT


def _waits_on_matmuls(program):
    """For every pop of a token a MATMUL pushed: MATMULs between that MATMUL and the pop."""
    from systole.hw.isa import decode
    from systole.sim.tokens import token_ops
    instrs = [decode(word) for word in program.instructions]
    total = sum(f["opcode"] == Opcode.MATMUL for f in instrs)
    pushed, popped, gaps, matmuls = {}, {}, [], 0
    for fields in instrs:
        pops, pushes, _ = token_ops(fields)
        for q in pops:
            k = popped.get(q, 0)
            popped[q] = k + 1
            source = pushed[q][k]
            if source is not None and matmuls < total:   # not after the last MATMUL
                gaps.append(matmuls - source)
        if fields["opcode"] == Opcode.MATMUL:
            matmuls += 1
        for q in pushes:
            pushed.setdefault(q, []).append(matmuls if fields["opcode"] == Opcode.MATMUL
                                            else None)
    return gaps


@pytest.mark.parametrize("shape,config,between", [
    ((128, 128, 128), DEFAULT, 1), ((40, 64, 64), TINY, 1), ((12, 64, 64), TINY, 2),
    ((60, 40, 30), SMALL, 1),           # two weight slots only: a refill waits for M(j - 2)
])
def test_waits_leave_the_array_busy(shape, config, between):
    """An instruction waiting for a MATMUL stops dispatch: ``gap - 1`` MATMULs lie between
    them (when the buffers have the slots for it), so the array keeps streaming."""
    program = compile_gemm(*operands(*shape), config)
    assert min(program.tiling.gap - 1, between) == between
    assert min(_waits_on_matmuls(program)) == between


def test_prefetch_and_store_delay_of_the_128_cube():
    program = compile_gemm(*operands(128, 128, 128), DEFAULT)
    t = program.tiling
    assert (t.gap, t.prefetch, t.store_delay) == (2, 14, 1)
    lines = program.assembly().splitlines()
    first_matmul = next(i for i, line in enumerate(lines) if line.startswith("MATMUL"))
    assert first_matmul == 4             # A and B of steps 0 and 1 only: an early start
    stores = [i for i, line in enumerate(lines) if line.startswith("STORE")]
    assert all(lines[i - 1].startswith("MATMUL") and lines[i - 2].startswith("MATMUL") or
               lines[i - 2].startswith("LOAD") for i in stores)


@pytest.mark.parametrize("kwargs,message", [
    ({"m": 0}, "m must be at least 1, not 0"),
    ({"n": -1}, "n must be at least 1, not -1"),
    ({"k": 2.0}, "k must be an int, not 2.0"),
    ({"lookahead": 1}, "lookahead must be at least 2, not 1"),
])
def test_plan_tiling_validation(kwargs, message):
    args = {"m": 1, "k": 1, "n": 1, **kwargs}
    lookahead = args.pop("lookahead", 16)
    with pytest.raises((ValueError, TypeError), match=message):
        plan_tiling(args["m"], args["k"], args["n"], TINY, lookahead=lookahead)


def test_random_buffer_depths_and_shapes():
    """Odd buffer depths (even odd ones) and shapes: the plan always fits and is right."""
    rng = np.random.default_rng(11)
    for _ in range(25):
        buffers = BufferConfig(act_depth=int(rng.integers(2, 40)),
                               weight_depth=int(rng.integers(4, 24)),
                               acc_depth=int(rng.integers(2, 30)))
        config = SystoleConfig(array=TINY.array, memory=TINY.memory, buffers=buffers)
        m, k, n = (int(x) for x in rng.integers(1, 20, 3))
        a, b = operands(m, k, n, seed=int(rng.integers(1 << 30)))
        program, result = run_gemm(a, b, config)
        np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))


def test_odd_depths_keep_two_slots_inside_the_buffer():
    config = SystoleConfig(array=TINY.array, memory=TINY.memory,
                           buffers=BufferConfig(act_depth=13, weight_depth=8, acc_depth=14))
    t = plan_tiling(13, 4, 8, config)
    assert (t.m_blocks, t.m_block) == (3, 5)      # 2 x 7 would overflow the 13 act words
    a, b = operands(13, 4, 8, seed=12)
    program, result = run_gemm(a, b, config)
    np.testing.assert_array_equal(program.read_result(result.memory), matmul_int32(a, b))
