"""The driver backend for FPGA boards: the UART bridge protocol (:mod:`systole.hw.uart_bridge`).

:class:`UartDevice` is a :class:`~systole.driver.HostDevice`, so ``dev.matmul(A, B)`` works on a
board exactly as on the golden model or the RTL simulation. It talks to any byte transport with
``write(data: bytes)`` and ``read(count: int) -> bytes`` (blocking until ``count`` bytes came):
a pyserial port on a real board (:func:`open_board`), or the simulated UART of the cocotb
testbench (``sim/tb_fpga_uart.py``). Protocol reference: ``docs/fpga.md``.
"""

from __future__ import annotations

import struct
from typing import Protocol

import numpy as np

from .driver import DeviceError, HostDevice
from .hw.config import SystoleConfig
from .hw.uart_bridge import ACK, OP_FILL, OP_READ, OP_REG_READ, OP_REG_WRITE, OP_WRITE

__all__ = ["Transport", "UartDevice", "open_board", "MAX_CHUNK", "MIN_FILL_RUN",
           "BOARD_BAUD"]

#: Largest count of one memory frame (a 16-bit field).
MAX_CHUNK = 0xFFFF
#: Runs of equal bytes at least this long are sent as one FILL frame.
MIN_FILL_RUN = 16
#: Default baud rate of each board's bitstream (``systole fpga``).
BOARD_BAUD = {"ulx3s-85f": 1_000_000, "icebreaker": 1_000_000}


class Transport(Protocol):
    """A byte pipe to the board."""

    def write(self, data: bytes) -> None: ...

    def read(self, count: int) -> bytes: ...


class UartDevice(HostDevice):
    """``dev.matmul(A, B)`` on a board (or its simulation) through the UART bridge.

    Parameters
    ----------
    config : SystoleConfig
        The configuration the bitstream was built from (its preset).
    transport : Transport
        Byte pipe to the bridge.
    poll_limit : int
        STATUS reads :meth:`wait` makes before giving up.

    Raises
    ------
    DeviceError
        The bridge answered with something else than expected (a NAK, a short read).
    """

    def __init__(self, config: SystoleConfig, transport: Transport, *,
                 poll_limit: int = 100_000):
        super().__init__(config, poll_limit=poll_limit)
        self.transport = transport
        self.bytes_sent = 0

    # Frames.
    def _send(self, frame: bytes) -> None:
        self.bytes_sent += len(frame)
        self.transport.write(frame)

    def _receive(self, count: int) -> bytes:
        data = self.transport.read(count)
        if len(data) != count:
            raise DeviceError(f"the board answered {len(data)} of {count} bytes")
        return data

    def _expect_ack(self, what: str) -> None:
        answer = self._receive(1)[0]
        if answer != ACK:
            raise DeviceError(f"the board answered {answer:#04x} to {what}, not ACK")

    def _check_range(self, addr: int, nbytes: int) -> None:
        if addr < 0 or addr + nbytes > self.config.memory.size:
            raise ValueError(f"bytes {addr:#x}..{addr + nbytes:#x} are outside the "
                             f"{self.config.memory.size}-byte memory")

    # HostDevice hooks.
    def write_memory(self, addr: int, data: np.ndarray) -> None:
        data = np.asarray(data, np.uint8).ravel()
        self._check_range(addr, len(data))
        for start, stop, fill in _runs(data):
            for offset in range(start, stop, MAX_CHUNK):
                count = min(MAX_CHUNK, stop - offset)
                header = struct.pack("<IH", addr + offset, count)
                if fill is None:
                    self._send(bytes([OP_WRITE]) + header + data[offset:offset + count].tobytes())
                else:
                    self._send(bytes([OP_FILL]) + header + bytes([fill]))
                self._expect_ack("a memory write")

    def read_memory(self, addr: int, nbytes: int) -> np.ndarray:
        self._check_range(addr, nbytes)
        out = bytearray()
        for offset in range(0, nbytes, MAX_CHUNK):
            count = min(MAX_CHUNK, nbytes - offset)
            self._send(bytes([OP_READ]) + struct.pack("<IH", addr + offset, count))
            out += self._receive(count)
        return np.frombuffer(bytes(out), np.uint8).copy()

    def write_reg(self, offset: int, value: int) -> None:
        self._send(bytes([OP_REG_WRITE, offset]) + struct.pack("<I", value & 0xFFFF_FFFF))
        self._expect_ack(f"a register write at {offset:#x}")

    def read_reg(self, offset: int) -> int:
        self._send(bytes([OP_REG_READ, offset]))
        return struct.unpack("<I", self._receive(4))[0]


def _runs(data: np.ndarray):
    """Split ``data`` into ``(start, stop, fill)`` pieces: ``fill`` is the byte of a run of at
    least :data:`MIN_FILL_RUN` equal bytes, ``None`` for literal bytes."""
    n = len(data)
    if n == 0:
        return
    # Start of every run of equal bytes.
    edges = np.flatnonzero(np.diff(data)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [n]])
    literal = None
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        if stop - start >= MIN_FILL_RUN:
            if literal is not None:
                yield literal, start, None
                literal = None
            yield start, stop, int(data[start])
        elif literal is None:
            literal = start
    if literal is not None:
        yield literal, n, None


class _SerialTransport:
    def __init__(self, port):
        self.port = port

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def read(self, count: int) -> bytes:
        return self.port.read(count)


def open_board(config: SystoleConfig, port: str, *, board: str = "ulx3s-85f",
               baud: int | None = None, timeout: float = 2.0) -> UartDevice:
    """Open the board's USB serial port with pyserial (``pip install systole[fpga]``) and check
    the chip's ID register.

    Parameters
    ----------
    config : SystoleConfig
        The preset the bitstream was built from.
    port : str
        Serial device, e.g. ``/dev/ttyUSB0``.
    board : str
        Picks the default baud rate of :data:`BOARD_BAUD`.
    baud : int, optional
        Overrides it (must match ``systole fpga --baud``).
    timeout : float
        Seconds a read may wait.
    """
    import serial  # optional dependency: pyserial

    link = serial.Serial(port, baudrate=baud or BOARD_BAUD[board], timeout=timeout)
    device = UartDevice(config, _SerialTransport(link))
    device.check_id()
    return device
