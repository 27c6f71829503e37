"""cocotb tests of the FPGA prototype minus pins (top ``systole_fpga``) through its UART only.

A UART model drives ``rx`` and decodes ``tx`` (one simulator callback per bit, so Python work
stays per bit, not per cycle). The host side is the real board driver,
:class:`systole.uart_device.UartDevice`, run in a cocotb ``bridge`` thread whose transport
calls back into the simulation: the same code that drives a board drives the simulated one.
Parameters come from ``SYSTOLE_FPGA_TEST`` (JSON: ``gemms`` as ``[M, K, N, seed]`` lists).
"""

from __future__ import annotations

import json
import os
from collections import deque

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, Timer

from ..driver import DeviceError
from ..hw.config import SystoleConfig
from ..hw.isa import ErrorCode, Opcode, encode
from ..hw.regs import ID_VALUE, REG
from ..hw.uart_bridge import NAK
from ..uart_device import UartDevice
from .cocotb_tb import load_design

CLOCK_NS = 10


class SimUart:
    """The host's end of the serial line: sends on ``rx``, decodes ``tx`` into a queue.

    Parameters
    ----------
    dut : the ``systole_fpga`` top
    divisor : int
        Clock cycles per bit.
    """

    def __init__(self, dut, divisor: int):
        self.dut = dut
        self.bit_ns = divisor * CLOCK_NS
        self.received: deque[int] = deque()
        self.arrived = Event()
        self.framing_errors = 0
        dut.rx.value = 1
        cocotb.start_soon(self._monitor())

    async def _monitor(self) -> None:
        tx = self.dut.tx
        while True:
            await FallingEdge(tx)
            await Timer(self.bit_ns * 3 // 2, "ns")      # middle of data bit 0
            byte = 0
            for bit in range(8):
                byte |= int(tx.value) << bit
                await Timer(self.bit_ns, "ns")
            if not int(tx.value):
                self.framing_errors += 1
            self.received.append(byte)
            self.arrived.set()

    async def send(self, data: bytes) -> None:
        rx = self.dut.rx
        for byte in data:
            bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1]
            for bit in bits:
                rx.value = bit
                await Timer(self.bit_ns, "ns")

    async def receive(self, count: int, timeout_bits: int = 400_000) -> bytes:
        out = bytearray()
        waited = 0
        while len(out) < count:
            if self.received:
                out.append(self.received.popleft())
                continue
            self.arrived.clear()
            await First(self.arrived.wait(), Timer(self.bit_ns * 100, "ns"))
            waited += 100
            if waited > timeout_bits:
                break
        return bytes(out)


class BridgeTransport:
    """:class:`~systole.uart_device.Transport` for a driver running in a cocotb bridge thread."""

    def __init__(self, uart: SimUart):
        self.uart = uart
        self.write = resume(uart.send)
        self.read = resume(uart.receive)


async def start(dut) -> tuple[SimUart, SystoleConfig]:
    design = load_design()
    config = SystoleConfig.from_dict(design["config"])
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    uart = SimUart(dut, design["uart"]["divisor"])
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 3)
    return uart, config


def _params() -> dict:
    return json.loads(os.environ.get("SYSTOLE_FPGA_TEST", "{}"))


@cocotb.test()
async def registers_and_memory(dut):
    """ID and CONFIG through the bridge; random bytes written and read back at odd addresses
    (literal and FILL frames); an unknown opcode gets NAK and the link still works."""
    uart, config = await start(dut)
    rng = np.random.default_rng(_params().get("seed", 1))
    dev = UartDevice(config, BridgeTransport(uart))

    def host() -> None:
        assert dev.read_reg(REG["ID"].offset) == ID_VALUE
        config_reg = dev.read_reg(REG["CONFIG"].offset)
        assert config_reg == config.array.rows | config.array.cols << 16, hex(config_reg)
        dev.write_reg(REG["PROG_ADDR"].offset, 0x1230)
        assert dev.read_reg(REG["PROG_ADDR"].offset) == 0x1230
        data = rng.integers(0, 256, 45, dtype=np.uint8)
        data[10:30] = 7                                   # a FILL run inside
        dev.write_memory(3, data)
        assert (dev.read_memory(3, len(data)) == data).all()
        assert (dev.read_memory(0, 3) == 0).all()
        top = config.memory.size - 5
        dev.write_memory(top, data[:5])
        assert (dev.read_memory(top, 5) == data[:5]).all()

    await bridge(host)()
    await uart.send(b"?")
    assert await uart.receive(1) == bytes([NAK])
    await bridge(lambda: dev.check_id())()
    assert uart.framing_errors == 0
    assert not int(dut.uart_error.value)


@cocotb.test()
async def matmul_through_uart(dut):
    """compile_gemm's program and operands go over the UART; the chip runs; C equals numpy.
    The LEDs show DONE afterwards; a bad instruction stops with ERROR and the error LED."""
    uart, config = await start(dut)
    dev = UartDevice(config, BridgeTransport(uart))
    results = []

    def host() -> None:
        dev.check_id()
        for m, k, n, seed in _params().get("gemms", [[5, 3, 4, 0]]):
            rng = np.random.default_rng(seed)
            a = rng.integers(-128, 128, (m, k), dtype=np.int8)
            b = rng.integers(-128, 128, (k, n), dtype=np.int8)
            a[0, :] = -128
            b[:, 0] = -128
            c = dev.matmul(a, b)
            expected = a.astype(np.int32) @ b.astype(np.int32)
            results.append((m, k, n, bool((c == expected).all()), dev.last_stats))
            assert c.dtype == np.int32 and c.shape == expected.shape
            assert (c == expected).all(), (m, k, n, seed)

    await bridge(host)()
    for m, k, n, ok, stats in results:
        dut._log.info(f"{m}x{k}x{n}: ok={ok}, {stats.cycles} cycles, "
                      f"{stats.instructions} instructions")
    await ClockCycles(dut.clk, 100)
    assert int(dut.done.value) and not int(dut.busy.value) and not int(dut.error.value)

    # A program whose first instruction has an unknown opcode.
    bad = np.frombuffer(encode(Opcode.HALT).to_bytes(16, "little"), np.uint8).copy()
    bad[0] = 0x3E                                          # no such opcode

    def host_error() -> None:
        dev.write_memory(0x100, bad)
        try:
            dev.run(0x100)
        except DeviceError as error:
            assert error.error == ErrorCode.ILLEGAL_OPCODE, error
            assert error.pc == 0x100
        else:
            raise AssertionError("the bad program did not stop with an error")

    await bridge(host_error)()
    await ClockCycles(dut.clk, 100)
    assert int(dut.error.value)
    assert uart.framing_errors == 0 and not int(dut.uart_error.value)
