"""Driver: the shared host logic over the golden backend's register interface."""

import numpy as np
import pytest

from systole.asm import assemble, to_bytes
from systole.driver import Device, DeviceError, GoldenDevice, HostDevice
from systole.hw.config import preset
from systole.hw.isa import ErrorCode
from systole.hw.regs import ID_VALUE, REG, STATUS_DONE
from systole.sim.golden import matmul_int32
from systole.sim.tokens import RaceError

TINY = preset("tiny")


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (13, 29, 7), (40, 9, 33)])
def test_matmul_equals_numpy(m, k, n):
    rng = np.random.default_rng(m + k + n)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    dev = GoldenDevice(TINY)
    assert isinstance(dev, Device)
    c = dev.matmul(a, b)
    assert c.dtype == np.int32
    np.testing.assert_array_equal(c, matmul_int32(a, b))
    stats, program = dev.last_stats, dev.last_program
    assert stats.instructions == len(program.instructions) - 1     # HALT is not dispatched
    assert (stats.bytes_read, stats.bytes_written) == (program.bytes_read, program.bytes_written)
    assert stats.array_busy == program.array_vectors


def test_registers():
    dev = GoldenDevice(preset("default"))
    dev.check_id()
    assert dev.read_reg(REG["ID"].offset) == ID_VALUE
    assert dev.read_reg(REG["CONFIG"].offset) == 16 | 16 << 16
    dev.write_reg(REG["PROG_ADDR"].offset, 0x1000)
    assert dev.read_reg(REG["PROG_ADDR"].offset) == 0x1000
    dev.write_reg(REG["ID"].offset, 0)                      # read-only
    assert dev.read_reg(REG["ID"].offset) == ID_VALUE


def test_error_stops_with_code_and_pc():
    dev = GoldenDevice(TINY)
    dev.write_memory(0x100, to_bytes(assemble("SYNC unit=load\n.word 0x42\nHALT")))
    with pytest.raises(DeviceError, match="ILLEGAL_OPCODE at 0x110") as info:
        dev.run(0x100)
    assert (info.value.error, info.value.pc) == (ErrorCode.ILLEGAL_OPCODE, 0x110)
    dev.write_reg(REG["STATUS"].offset, STATUS_DONE)
    assert dev.read_reg(REG["STATUS"].offset) & STATUS_DONE == 0


def test_hung_program_times_out():
    dev = GoldenDevice(TINY, poll_limit=10, max_instructions=1000)
    dev.write_memory(0, to_bytes(assemble("SYNC unit=load\n" * 2000)))
    with pytest.raises(DeviceError, match="did not finish within 10 STATUS polls"):
        dev.run(0)


def test_token_problems_raise_in_strict_mode():
    program = to_bytes(assemble("MATMUL rows=1\nSTORE rows=1 mem_addr=0x1000\nHALT"))
    dev = GoldenDevice(TINY)
    dev.write_memory(0, program)
    with pytest.raises(RaceError):
        dev.run(0)
    relaxed = GoldenDevice(TINY, strict=False)
    relaxed.write_memory(0, program)
    relaxed.run(0)
    assert not relaxed.last_result.tokens.ok


def test_memory_hooks():
    dev = GoldenDevice(TINY)
    dev.write_memory(8, np.arange(4, dtype=np.uint8))
    np.testing.assert_array_equal(dev.read_memory(6, 8), [0, 0, 0, 1, 2, 3, 0, 0])
    with pytest.raises(ValueError, match="outside the memory"):
        dev.write_memory(TINY.memory.size - 2, np.zeros(4, np.uint8))


def test_a_backend_only_implements_the_hooks():
    class Loopback(HostDevice):
        """Forwards the hooks to a golden device: proves the four hooks are enough."""

        def __init__(self, config):
            super().__init__(config)
            self.inner = GoldenDevice(config)
            self.calls = 0

        def write_memory(self, addr, data):
            self.inner.write_memory(addr, data)

        def read_memory(self, addr, nbytes):
            return self.inner.read_memory(addr, nbytes)

        def write_reg(self, offset, value):
            self.calls += 1
            self.inner.write_reg(offset, value)

        def read_reg(self, offset):
            return self.inner.read_reg(offset)

    a = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    dev = Loopback(TINY)
    np.testing.assert_array_equal(dev.matmul(a, a.T.copy()), matmul_int32(a, a.T))
    assert dev.calls == 3          # PROG_ADDR, STATUS (clear DONE), CTRL (START)
    with pytest.raises(TypeError, match="config must be a SystoleConfig"):
        Loopback("tiny")
