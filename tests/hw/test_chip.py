"""The whole chip in the Amaranth simulator: hand-written programs, results and error stops."""

from dataclasses import replace

import numpy as np
import pytest

from systole.hw.config import preset
from systole.hw.isa import ErrorCode, encode
from systole.hw.perf import COUNTER_REGISTERS
from systole.sim.chip_amaranth import run_chip
from systole.sim.cyclemodel import predict_cycles
from systole.sim.golden import matmul_int32
from systole.tiling import Tiling, estimate_cycles

CONFIG = preset("tiny")         # 4 x 4 array, 32-byte words
WORD = 32
A_ADDR, B_ADDR, C_ADDR = 0x1000, 0x2000, 0x3000
MODEL_TOLERANCE = 0.06


def image_with(program, a, b, *, a_addr=A_ADDR, size=0x4000):
    image = np.zeros(size, np.uint8)
    for m, row in enumerate(a):
        image[a_addr + WORD * m:][:row.size] = row.view(np.uint8)
    for r, row in enumerate(b):
        image[B_ADDR + WORD * r:][:row.size] = row.view(np.uint8)
    for index, word in enumerate(program):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    return image


def gemm_program(m, *, store_addr=C_ADDR, a_addr=A_ADDR, extra=()):
    return [
        encode("LOAD", buffer=1, buf_addr=0, rows=4, mem_addr=B_ADDR, stride=WORD),
        encode("LOAD", buffer=0, buf_addr=0, rows=m, mem_addr=a_addr, stride=WORD,
               push_next=1),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=0, rows=m, pop_prev=1,
               push_next=1),
        encode("STORE", acc_addr=0, rows=m, mem_addr=store_addr, stride=WORD, pop_prev=1),
        *extra,
        encode("HALT"),
    ]


def result(memory, m, addr=C_ADDR):
    return np.stack([memory[addr + WORD * i:addr + WORD * i + 16].view(np.int32)
                     for i in range(m)])


def operands(m, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(-128, 128, (m, 4), dtype=np.int8),
            rng.integers(-128, 128, (4, 4), dtype=np.int8))


@pytest.mark.parametrize("mode", ["fixed", "timing"])
def test_single_tile_gemm(mode):
    a, b = operands(9)
    run = run_chip(CONFIG, image_with(gemm_program(9), a, b), 0, mode=mode)
    np.testing.assert_array_equal(result(run.memory, 9), matmul_int32(a, b))
    regs = run.registers
    assert regs["ERROR_CODE"] == 0 and regs["STATUS"] & 0b110 == 0b010   # DONE, no ERROR
    assert regs["INSTRUCTIONS"] == 4 and regs["ARRAY_BUSY"] == 9
    assert regs["BYTES_WRITTEN"] == 9 * WORD
    assert regs["CONFIG"] == 4 | 4 << 16 and regs["ID"] == 0x51570001


def test_accumulate_over_two_matmuls():
    a, b = operands(5, seed=1)
    program = [
        encode("LOAD", buffer=1, buf_addr=0, rows=4, mem_addr=B_ADDR, stride=WORD),
        encode("LOAD", buffer=0, buf_addr=0, rows=5, mem_addr=A_ADDR, stride=WORD,
               push_next=1),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=0, rows=5, pop_prev=1),
        encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=0, rows=5, accumulate=1,
               push_next=1),
        encode("STORE", acc_addr=0, rows=5, mem_addr=C_ADDR, stride=WORD, pop_prev=1),
        encode("HALT"),
    ]
    run = run_chip(CONFIG, image_with(program, a, b), 0)
    np.testing.assert_array_equal(result(run.memory, 5), 2 * matmul_int32(a, b))


BAD_INSTRUCTIONS = [
    (0x3E, ErrorCode.ILLEGAL_OPCODE),
    (encode("LOAD", buffer=3, buf_addr=32, rows=1, mem_addr=0, stride=WORD),
     ErrorCode.BUFFER_RANGE),
    (encode("STORE", acc_addr=0, rows=0, mem_addr=0x3800, stride=WORD), ErrorCode.EMPTY),
    (encode("STORE", acc_addr=250, rows=9, mem_addr=0x3800, stride=WORD),
     ErrorCode.BUFFER_RANGE),
    # Buffer checks add in the bits of the buffer depth; higher bits decide on their own.
    (encode("STORE", acc_addr=0xFFFF, rows=1, mem_addr=0x3800, stride=WORD),
     ErrorCode.BUFFER_RANGE),
    (encode("STORE", acc_addr=1, rows=0x8200, mem_addr=0x3800, stride=WORD),
     ErrorCode.BUFFER_RANGE),
    (encode("LOAD", buffer=1, buf_addr=0x200, rows=1, mem_addr=0, stride=WORD),
     ErrorCode.BUFFER_RANGE),
    (encode("STORE", acc_addr=0, rows=2, mem_addr=0x3808, stride=WORD), ErrorCode.MISALIGNED),
    (encode("STORE", acc_addr=0, rows=2, mem_addr=(1 << 20) - WORD, stride=WORD),
     ErrorCode.MEMORY_RANGE),
    # The range check is narrowed to the memory's address width: addresses and strides past
    # the memory decide it on their own; a single row never uses its stride.
    (encode("STORE", acc_addr=0, rows=2, mem_addr=0, stride=1 << 20), ErrorCode.MEMORY_RANGE),
    (encode("STORE", acc_addr=0, rows=2, mem_addr=0, stride=(1 << 24) - WORD),
     ErrorCode.MEMORY_RANGE),
    (encode("STORE", acc_addr=0, rows=1, mem_addr=1 << 20, stride=WORD),
     ErrorCode.MEMORY_RANGE),
    (encode("STORE", acc_addr=0, rows=1, mem_addr=(1 << 32) - WORD, stride=WORD),
     ErrorCode.MEMORY_RANGE),
    (encode("STORE", acc_addr=0, rows=256, mem_addr=0, stride=4128), ErrorCode.MEMORY_RANGE),
]


@pytest.mark.parametrize("bad,code", BAD_INSTRUCTIONS)
@pytest.mark.parametrize("register_slices", [False, True])
def test_bad_instruction_stops_before_writing(bad, code, register_slices):
    """The bad instruction comes after a correct GEMM and before a second STORE: the GEMM's
    result lands, the error is reported with the instruction's address, nothing after it
    writes memory. With ``register_slices`` one register decides the dispatch before the
    checks' results are looked at one by one (hw/sequencer.py, ``can_dispatch``)."""
    a, b = operands(3, seed=2)
    program = gemm_program(3, extra=[
        bad,
        encode("STORE", acc_addr=0, rows=3, mem_addr=0x3400, stride=WORD),
    ])
    image = image_with(program, a, b)
    run = run_chip(replace(CONFIG, register_slices=register_slices), image, 0)
    assert run.registers["ERROR_CODE"] == code
    assert run.registers["ERROR_PC"] == 4 * 16
    assert run.registers["STATUS"] & 0b110 == 0b110         # DONE and ERROR
    expected = image.copy()
    expected[C_ADDR:C_ADDR + 3 * WORD] = 0
    for i, row in enumerate(matmul_int32(a, b)):
        expected[C_ADDR + WORD * i:C_ADDR + WORD * i + 16] = row.view(np.uint8)
    np.testing.assert_array_equal(run.memory[:len(image)], expected)
    assert not run.memory[len(image):].any()


@pytest.mark.parametrize("register_slices", [False, True])
def test_bad_first_instruction_writes_nothing(register_slices):
    """Each bad instruction of the test above as a program's first, where its unit is idle
    and would take it at once: the error is reported at address 0 and memory is unchanged.
    (Above, the STORE unit is still busy when most of them are checked.)"""
    for bad, code in BAD_INSTRUCTIONS:
        image = image_with([bad, encode("STORE", acc_addr=0, rows=3, mem_addr=0x3400,
                                        stride=WORD), encode("HALT")],
                           *operands(3, seed=2))
        run = run_chip(replace(CONFIG, register_slices=register_slices), image, 0)
        assert (run.registers["ERROR_CODE"], run.registers["ERROR_PC"]) == (code, 0), bad
        np.testing.assert_array_equal(run.memory[:len(image)], image)
        assert not run.memory[len(image):].any()


@pytest.mark.parametrize("registered_control", [True, False])
@pytest.mark.parametrize("fault,pc", [(B_ADDR + WORD, 0),   # the first LOAD's read (B)
                                      (C_ADDR + WORD, 48)])  # the STORE's write (C)
def test_transfer_that_meets_a_bus_error_stops_with_its_address(fault, pc, registered_control):
    """A memory port answers SLVERR to one beat of a LOAD or STORE: BUS_ERROR with that
    instruction's address (reported to the sequencer through a register or not)."""
    a, b = operands(3, seed=3)
    run = run_chip(replace(CONFIG, registered_control=registered_control),
                   image_with(gemm_program(3), a, b), 0, fault_range=(fault, fault + WORD))
    assert run.registers["ERROR_CODE"] == ErrorCode.BUS_ERROR
    assert run.registers["ERROR_PC"] == pc
    assert run.registers["STATUS"] & 0b111 == 0b110          # DONE and ERROR, not BUSY


@pytest.mark.parametrize("prog_addr", [0, 0x800])
def test_fetch_that_meets_a_bus_error_stops_at_the_half_it_read(prog_addr):
    """The program's second ring half (instructions 8 on, 128 bytes on the tiny chip) lies on a
    port that answers SLVERR: BUS_ERROR with the first address of that half. The HALT is
    there, so without the fetch error the program would end normally."""
    a, b = operands(3, seed=4)
    program = gemm_program(3)[:-1] + [encode("SYNC", unit=0)] * 4 + [encode("HALT")]
    assert len(program) == 9
    image = image_with([], a, b)
    image[prog_addr:prog_addr + 16 * len(program)] = np.frombuffer(
        b"".join(word.to_bytes(16, "little") for word in program), np.uint8)
    half = prog_addr + 128
    run = run_chip(CONFIG, image, prog_addr, fault_range=(half, half + WORD))
    assert run.registers["ERROR_CODE"] == ErrorCode.BUS_ERROR
    assert run.registers["ERROR_PC"] == half
    assert run.registers["STATUS"] & 0b111 == 0b110
    # The same program without the fault ends normally.
    assert run_chip(CONFIG, image, prog_addr).registers["ERROR_CODE"] == ErrorCode.NONE


@pytest.mark.parametrize("stride,rows,mem_addr", [
    (WORD, 2, (1 << 20) - WORD), (1 << 20, 2, 0), (WORD, 1, 1 << 20), (4128, 256, 0),
])
def test_memory_range_without_check_registers(stride, rows, mem_addr):
    """``check_registers=False`` (the iCEBreaker's sequencer) catches the same tiles."""
    a, b = operands(3, seed=2)
    program = gemm_program(3, extra=[
        encode("STORE", acc_addr=0, rows=rows, mem_addr=mem_addr, stride=stride)])
    run = run_chip(replace(CONFIG, check_registers=False), image_with(program, a, b), 0)
    assert run.registers["ERROR_CODE"] == ErrorCode.MEMORY_RANGE
    assert run.registers["ERROR_PC"] == 4 * 16
    np.testing.assert_array_equal(result(run.memory, 3), matmul_int32(a, b))


def test_misaligned_program_address():
    a, b = operands(1)
    run = run_chip(CONFIG, image_with(gemm_program(1), a, b), 8)
    assert run.registers["ERROR_CODE"] == ErrorCode.MISALIGNED
    assert run.registers["ERROR_PC"] == 8
    assert not run.memory[C_ADDR:C_ADDR + 64].any()


@pytest.mark.parametrize("check_registers", [True, False])
@pytest.mark.parametrize("rows,stride", [(2, WORD), (3, 3 * WORD)])
def test_memory_range_boundary(check_registers, rows, stride):
    """A STORE whose last row ends on the last byte of memory is legal and written; one word
    further is MEMORY_RANGE and writes nothing, with and without the check registers."""
    size = CONFIG.memory.size
    last_fits = size - (rows - 1) * stride - WORD
    a, b = operands(3, seed=5)
    config = replace(CONFIG, check_registers=check_registers)
    for mem_addr, code in ((last_fits, ErrorCode.NONE), (last_fits + WORD, ErrorCode.MEMORY_RANGE)):
        store = encode("STORE", acc_addr=0, rows=rows, mem_addr=mem_addr, stride=stride)
        run = run_chip(config, image_with(gemm_program(3, extra=[store]), a, b), 0)
        assert run.registers["ERROR_CODE"] == code
        written = np.stack([run.memory[mem_addr + stride * i:][:16].view(np.int32)
                            for i in range(rows) if mem_addr + stride * i < size])
        if code == ErrorCode.NONE:
            np.testing.assert_array_equal(written, matmul_int32(a, b)[:rows])
        else:
            assert not written.any()


@pytest.mark.parametrize("mode", ["fixed", "timing"])
def test_stall_breakdown_adds_up_to_cycles(mode):
    a, b = operands(9)
    regs = run_chip(CONFIG, image_with(gemm_program(9), a, b), 0, mode=mode).registers
    breakdown = {name: regs[name] for name in COUNTER_REGISTERS.values()}
    assert sum(breakdown.values()) == regs["CYCLES_LO"] and regs["CYCLES_HI"] == 0
    assert breakdown["ARRAY_BUSY"] == 9
    # One 4-row weight tile shifts in while the first vector waits.
    assert breakdown["STALL_WEIGHTS"] == CONFIG.array.rows
    if mode == "fixed":
        # Deterministic memory: fetch + decode before the first MATMUL can be dispatched
        # (sequencer), the two LOADs' round trip (memory), the 9 results' way through the
        # array, the accumulators and the STORE's write response (drain).
        assert breakdown == {"ARRAY_BUSY": 9, "STALL_WEIGHTS": 4, "STALL_INPUTS": 4,
                             "STALL_MEMORY": 20, "STALL_DRAIN": 44, "STALL_SEQUENCER": 32}


def test_long_contiguous_moves_use_full_bursts():
    """A 64 KiB LOAD and a 64 KiB STORE (2,048 contiguous 32-byte words, more than a 16-bit
    ``row_bytes`` holds) each become one descriptor row, split into full 256-byte bursts (one
    interleave granule), not 2,048 one-beat bursts. With 16-bit rows this run took 16,356
    cycles (2,048 write and 2,051 read bursts); the compiler's estimate for this one-block
    plan and the cycle model assume full bursts and agree with the hardware."""
    m, a_addr, c_addr = 2048, 0x10000, 0x20000
    config = replace(CONFIG, buffers=replace(
        CONFIG.buffers, act_depth=m, acc_depth=m))
    a, b = operands(m, seed=3)
    program = gemm_program(m, a_addr=a_addr, store_addr=c_addr)
    run = run_chip(config, image_with(program, a, b, a_addr=a_addr, size=0x30000), 0,
                   mode="timing")
    np.testing.assert_array_equal(result(run.memory, m, c_addr), matmul_int32(a, b))
    granules = m * WORD // config.memory.interleave
    assert sum(port.write_bursts for port in run.ports) == granules
    # A's granules, B's 128 bytes and the program fetch.
    assert sum(port.read_bursts for port in run.ports) == granules + 3
    cycles = run.registers["CYCLES_LO"]
    plan = Tiling(m=m, k=4, n=4, m_block=m, k_tiles=1, n_tiles=1, m_blocks=1,
                  act_resident=True, weight_resident=True, act_slots=1, weight_slots=1,
                  acc_slots=1, lookahead=16, gap=2)
    assert abs(estimate_cycles(plan, config) - cycles) <= 0.10 * cycles, cycles
    model = predict_cycles(program, config, 0).cycles
    assert abs(model - cycles) <= MODEL_TOLERANCE * cycles, (model, cycles)


def test_small_control_options_keep_results_and_cycles():
    """``stall_counters=False`` leaves the STALL_* registers at 0 and changes nothing else;
    ``postproc=False`` runs GEMMs in the same cycles (the post-processor only forwards them),
    and so does ``check_registers=False``."""
    a, b = operands(9)
    image = image_with(gemm_program(9), a, b)
    full = run_chip(CONFIG, image, 0).registers
    small = run_chip(replace(CONFIG, postproc=False, stall_counters=False,
                             check_registers=False), image, 0)
    np.testing.assert_array_equal(result(small.memory, 9), matmul_int32(a, b))
    stalls = [name for name in COUNTER_REGISTERS.values() if name.startswith("STALL_")]
    assert all(small.registers[name] == 0 for name in stalls)
    assert {name: value for name, value in small.registers.items() if name not in stalls} == \
        {name: value for name, value in full.items() if name not in stalls}


@pytest.mark.parametrize("m", [9, 96])
def test_registered_acc_reads_add_two_cycles(m):
    """``registered_acc_reads`` (the ULX3S presets): the same results, one cycle more from the
    last result to the STORE (write-back) and one in the STORE (its buffer reads, still one
    beat per cycle: a 96-row STORE takes no longer); the cycle model follows."""
    a, b = operands(m)
    image = image_with(gemm_program(m), a, b, size=0x10000)
    plain = run_chip(CONFIG, image, 0, mode="fixed")
    config = replace(CONFIG, registered_acc_reads=True)
    piped = run_chip(config, image, 0, mode="fixed")
    np.testing.assert_array_equal(result(piped.memory, m), matmul_int32(a, b))
    assert piped.registers["CYCLES_LO"] == plain.registers["CYCLES_LO"] + 2
    assert (predict_cycles(gemm_program(m), config, 0).cycles
            == predict_cycles(gemm_program(m), CONFIG, 0).cycles + 2)


@pytest.mark.parametrize("m", [9, 96])
def test_registered_operand_reads_add_one_cycle(m):
    """``registered_operand_reads`` (the ULX3S presets): the activation and weight words are
    registered before the compute unit's read-ahead; the same results, and one cycle more, before
    the first MATMUL's first vector (with ``registered_acc_reads`` as well: three)."""
    a, b = operands(m)
    image = image_with(gemm_program(m), a, b, size=0x10000)
    plain = run_chip(CONFIG, image, 0, mode="fixed")
    for options, more in (({"registered_operand_reads": True}, 1),
                          ({"registered_operand_reads": True, "registered_acc_reads": True}, 3)):
        piped = run_chip(replace(CONFIG, **options), image, 0, mode="fixed")
        np.testing.assert_array_equal(result(piped.memory, m), matmul_int32(a, b))
        assert piped.registers["CYCLES_LO"] == plain.registers["CYCLES_LO"] + more, options
        assert piped.registers["STALL_INPUTS"] == plain.registers["STALL_INPUTS"] + 1


@pytest.mark.parametrize("m", [9, 96])
def test_register_slices_add_a_cycle_per_crossing(m):
    """``register_slices`` (the ULX3S presets): the same results, one cycle more for each
    stream through a slice on the way: the instruction fetch's status (STALL_SEQUENCER), the
    activation LOAD's (STALL_MEMORY: the MATMUL waits for its token), the activation slice
    before the array takes the first vector (STALL_INPUTS; ARRAY_BUSY counts the array's
    own handshakes) and the STORE's status (STALL_DRAIN)."""
    a, b = operands(m)
    image = image_with(gemm_program(m), a, b, size=0x10000)
    plain = run_chip(CONFIG, image, 0, mode="fixed")
    sliced = run_chip(replace(CONFIG, register_slices=True), image, 0, mode="fixed")
    np.testing.assert_array_equal(result(sliced.memory, m), matmul_int32(a, b))
    more = {name: sliced.registers[name] - plain.registers[name]
            for name in ("CYCLES_LO", "ARRAY_BUSY", "STALL_SEQUENCER", "STALL_MEMORY",
                         "STALL_DRAIN", "STALL_WEIGHTS", "STALL_INPUTS")}
    assert more == {"CYCLES_LO": 4, "ARRAY_BUSY": 0, "STALL_SEQUENCER": 1, "STALL_MEMORY": 1,
                    "STALL_DRAIN": 1, "STALL_WEIGHTS": 0, "STALL_INPUTS": 1}


@pytest.mark.parametrize("options", [
    {}, {"registered_acc_reads": True, "registered_operand_reads": True},
    {"registered_acc_reads": True, "registered_operand_reads": True, "register_slices": True}])
def test_back_to_back_results_for_one_accumulator_word(options):
    """The tightest stream of results for one accumulator word: seven 1-row MATMULs into word
    0 on a 1-row array, operands loaded first. A new tile still waits a cycle for its shift
    (STALL_WEIGHTS once per vector), so the results come every other cycle, which the
    three-stage write-back relies on (its read is transparent only to the write of the same
    cycle; hw/compute.py). If this array ever took a tile every cycle, this test fails.
    Without register slices each read meets the previous result's write, so the second case
    checks the compute unit's forwarding of that write with ``registered_acc_reads``, whose
    read is not transparent (it fails without the forwarding); with them no read meets a
    write to its word (that case passes without it)."""
    from systole.compiler import compile_gemm

    config = replace(CONFIG.with_array(1, 4), **options)
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (1, 7), dtype=np.int8)
    a[0, :3] = -128
    b = rng.integers(-128, 128, (7, 4), dtype=np.int8)
    b[:3] = -128
    layout = compile_gemm(a, b, config, transpose=False)   # A, B and C where the compiler puts them
    program = [encode("LOAD", buffer=0, buf_addr=0, rows=7, mem_addr=0, stride=WORD),
               encode("LOAD", buffer=1, buf_addr=0, rows=7, mem_addr=layout.b_addr,
                      stride=WORD, push_next=1)]
    program += [encode("MATMUL", act_addr=i, weight_addr=i, acc_addr=0, rows=1,
                       accumulate=int(i > 0), pop_prev=int(i == 0), push_next=int(i == 6))
                for i in range(7)]
    program += [encode("STORE", acc_addr=0, rows=1, mem_addr=layout.c_addr, stride=WORD,
                       pop_prev=1), encode("HALT")]
    image = layout.image.copy()
    for index, word in enumerate(program):
        image[layout.prog_addr + 16 * index:][:16] = np.frombuffer(word.to_bytes(16, "little"),
                                                                  np.uint8)
    run = run_chip(config, image, layout.prog_addr)
    assert run.registers["ERROR_CODE"] == 0
    assert (run.registers["ARRAY_BUSY"], run.registers["STALL_WEIGHTS"]) == (7, 7)
    np.testing.assert_array_equal(layout.read_result(run.memory), matmul_int32(a, b))


@pytest.mark.parametrize("rows", [2, 4])
@pytest.mark.parametrize("options", [
    {"registered_acc_reads": True}, {"registered_acc_reads": True, "register_slices": True},
    {}])
def test_tightest_accumulation_into_one_word(rows, options):
    """Seven 1-vector MATMULs, each with a weight tile of its own, all into accumulator word
    0: results for one word as close together as they come, ``rows + 1`` cycles apart (the
    next tile's shift). With ``registered_acc_reads`` the accumulator read is not transparent
    and arrays of two rows and more do not forward the write (hw/compute.py): each write
    must be done before the next read of its word. Equal to numpy, -128 included."""
    config = replace(CONFIG.with_array(rows, 4), **options)
    rng = np.random.default_rng(rows)
    a = rng.integers(-128, 128, (7, rows), dtype=np.int8)
    a[0] = -128
    b = rng.integers(-128, 128, (7 * rows, 4), dtype=np.int8)
    b[:rows] = -128
    program = [encode("LOAD", buffer=1, buf_addr=0, rows=7 * rows, mem_addr=B_ADDR,
                      stride=WORD),
               encode("LOAD", buffer=0, buf_addr=0, rows=7, mem_addr=A_ADDR, stride=WORD,
                      push_next=1)]
    program += [encode("MATMUL", act_addr=i, weight_addr=rows * i, acc_addr=0, rows=1,
                       accumulate=int(i > 0), pop_prev=int(i == 0), push_next=int(i == 6))
                for i in range(7)]
    program += [encode("STORE", acc_addr=0, rows=1, mem_addr=C_ADDR, stride=WORD,
                       pop_prev=1), encode("HALT")]
    run = run_chip(config, image_with(program, a, b), 0)
    assert run.registers["ERROR_CODE"] == 0
    if rows == 2 and not config.register_slices:
        # Each vector waits two cycles for its tile: results three cycles apart, the least.
        assert (run.registers["ARRAY_BUSY"], run.registers["STALL_WEIGHTS"]) == (7, 14)
    np.testing.assert_array_equal(result(run.memory, 1), matmul_int32(a.reshape(1, -1), b))


def test_program_at_the_end_of_memory():
    """The last ring half of memory: fetch stops exactly at the end (the sequencer keeps
    program addresses in ``addr_width + 1`` bits)."""
    a, b = operands(3, seed=4)
    program = gemm_program(3)
    image = np.zeros(1 << 20, np.uint8)
    image[:0x4000] = image_with([], a, b)
    prog_addr = (1 << 20) - 128                  # one ring half (8 instructions) of 16
    for index, word in enumerate(program):
        image[prog_addr + 16 * index:][:16] = np.frombuffer(word.to_bytes(16, "little"),
                                                          np.uint8)
    run = run_chip(CONFIG, image, prog_addr)
    assert run.registers["ERROR_CODE"] == 0 and run.registers["STATUS"] & 0b110 == 0b010
    np.testing.assert_array_equal(result(run.memory, 3), matmul_int32(a, b))


# Buffers of four different depths, so that a check against the wrong buffer's depth shows.
DEPTHS = replace(CONFIG, name="tiny-depths",
                 buffers=replace(CONFIG.buffers, act_depth=128, weight_depth=64,
                                 param_depth=16, acc_depth=256, tile_depth=32))


def _boundary_cases():
    b = DEPTHS.buffers
    cases = []
    for buffer, depth in ((0, b.act_depth), (1, b.weight_depth), (2, b.param_depth),
                          (3, b.tile_depth)):
        for rows in (2, 3):       # ends on the buffer's last word; one past it
            cases.append(encode("LOAD", buffer=buffer, buf_addr=depth - 2, rows=rows,
                                mem_addr=0x1000, stride=WORD))
    for dst, depth in ((1, b.act_depth), (0, b.acc_depth)):     # ACT, ACC
        for rows in (2, 3):
            cases.append(encode("POSTPROC", acc_addr=0, rows=rows, dst=dst,
                                dst_addr=depth - 2, param_addr=0))
    for rows in (2, 3):
        cases += [
            encode("POSTPROC", acc_addr=b.acc_depth - 2, rows=rows, dst=0, dst_addr=0,
                   param_addr=0),
            encode("STORE", acc_addr=b.acc_depth - 2, rows=rows, mem_addr=0x1000, stride=WORD),
            encode("MATMUL", act_addr=b.act_depth - 2, weight_addr=0, acc_addr=0, rows=rows),
            encode("MATMUL", act_addr=0, weight_addr=0, acc_addr=b.acc_depth - 2, rows=rows),
            encode("MATVEC", act_addr=0, tile_addr=b.tile_depth - 2, acc_addr=0, tiles=rows),
            encode("MATVEC", act_addr=0, tile_addr=0, acc_addr=b.acc_depth - 2, tiles=rows),
        ]
    for extra in (0, 1):          # the array's rows of weights from weight_addr
        cases.append(encode("MATMUL", act_addr=0, acc_addr=0, rows=1,
                            weight_addr=b.weight_depth - DEPTHS.array.rows + extra))
    return cases


@pytest.mark.parametrize("instr", _boundary_cases())
def test_buffer_range_at_each_buffers_end(instr):
    """A LOAD into each buffer, a POSTPROC into each destination and from the accumulators, a
    STORE, MATMUL and MATVEC, each ending on a buffer's last word (runs) or one past it
    (BUFFER_RANGE): the chip agrees with the golden model."""
    from systole.sim.golden_isa import GoldenMachine

    image = np.zeros(0x2000, np.uint8)
    for index, word in enumerate([instr, encode("HALT")]):
        image[16 * index:16 * index + 16] = np.frombuffer(word.to_bytes(16, "little"), np.uint8)
    golden = GoldenMachine(DEPTHS).run(image, 0)
    run = run_chip(DEPTHS, image, 0)
    assert run.registers["ERROR_CODE"] == golden.error
    assert run.registers["STATUS"] & 0b110 == (0b110 if golden.error else 0b010)
