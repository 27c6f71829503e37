"""8N1 UART receiver and transmitter as byte streams (no parity, one stop bit, LSB first)."""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from .params import check_int

__all__ = ["UartRx", "UartTx", "uart_divisor"]


def uart_divisor(clk_hz: int, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clk_hz``; raise if the rate is off by over 2 %."""
    check_int("baud", baud, 1)
    divisor = round(clk_hz / baud)
    check_int("clocks per bit", divisor, 4)
    error = abs(clk_hz / divisor - baud) / baud
    if error > 0.02:
        raise ValueError(f"baud {baud} is {error:.1%} off at {clk_hz} Hz (divisor {divisor})")
    return divisor


class UartRx(wiring.Component):
    """Receiver: samples each bit in its middle, ``divisor`` cycles apart.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least 4.

    Members
    -------
    rx : In(1)
        Serial input (idle high); synchronised inside.
    data : Out(stream.Signature(8))
        Received bytes. A byte that arrives while the previous one is still not taken is
        dropped and flagged in ``overrun``.
    overrun : Out(1)
        Sticky: a byte was dropped.
    framing : Out(1)
        Sticky: a stop bit was low (the byte is dropped).

    Latency
    -------
    A byte is valid about half a bit after its stop bit's middle (plus two synchroniser cycles).
    """

    def __init__(self, divisor: int):
        check_int("divisor", divisor, 4)
        self.divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "data": Out(stream.Signature(8)),
            "overrun": Out(1),
            "framing": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor + self.divisor // 2 + 1))
        bits = Signal(range(9))
        shift = Signal(8)

        with m.If(self.data.valid & self.data.ready):
            m.d.sync += self.data.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # Middle of the first data bit: one and a half bits after the start edge.
                    m.d.sync += [timer.eq(self.divisor + self.divisor // 2 - 1), bits.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += timer.eq(self.divisor - 1)
                    with m.If(bits == 8):
                        with m.If(~rx):
                            m.d.sync += self.framing.eq(1)
                        with m.Elif(self.data.valid & ~self.data.ready):
                            m.d.sync += self.overrun.eq(1)
                        with m.Else():
                            m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1)]
                        m.next = "STOP"
                    with m.Else():
                        m.d.sync += [shift.eq(rx << 7 | shift >> 1), bits.eq(bits + 1)]
            with m.State("STOP"):
                # Wait for the line to be idle again (the rest of the stop bit).
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Transmitter: start bit, eight data bits LSB first, one stop bit.

    Members
    -------
    data : In(stream.Signature(8))
        Bytes to send; one is taken when the line is idle.
    tx : Out(1)
        Serial output (idle high).

    Latency
    -------
    One byte per ``10 * divisor`` cycles; the start bit begins the cycle after the handshake.
    """

    def __init__(self, divisor: int):
        check_int("divisor", divisor, 4)
        self.divisor = divisor
        super().__init__({
            "data": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        timer = Signal(ceil_log2(self.divisor + 1))
        bits = Signal(range(11))
        shift = Signal(10, init=0x3FF)
        m.d.comb += [self.tx.eq(shift[0]), self.data.ready.eq(bits == 0)]
        with m.If(bits == 0):
            with m.If(self.data.valid):
                m.d.sync += [shift.eq(1 << 9 | self.data.payload << 1), bits.eq(10),
                             timer.eq(self.divisor - 1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [shift.eq(1 << 9 | shift >> 1), bits.eq(bits - 1),
                         timer.eq(self.divisor - 1)]
        return m
