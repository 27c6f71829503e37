"""iCEBreaker (Lattice iCE40UP5K): 12 MHz oscillator, FTDI UART, two LEDs plus the break-off
PMOD's five."""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module

from ..config import SystoleConfig
from ..fpga_soc import FpgaSoC
from ..uart import uart_divisor
from .leds import heartbeat

__all__ = ["IcebreakerTop"]


class IcebreakerTop(Elaboratable):
    """The FPGA prototype on an iCEBreaker, clocked straight from the 12 MHz oscillator.

    LEDs: red = ERROR, green = DONE; on the break-off PMOD: 2 BUSY, 3 DONE, 4 ERROR, 5 UART
    receive error, 6 heartbeat (about 1 Hz).

    Parameters
    ----------
    config : SystoleConfig
    baud : int
        UART baud rate (1 Mbaud is 12 clocks per bit exactly).
    """

    clock_hz = 12_000_000

    def __init__(self, config: SystoleConfig, *, baud: int = 1_000_000):
        self.config = config
        self.baud = baud
        self.divisor = uart_divisor(self.clock_hz, baud)

    @staticmethod
    def platform():
        from amaranth_boards.icebreaker import ICEBreakerPlatform

        platform = ICEBreakerPlatform()
        platform.add_resources(platform.break_off_pmod)
        return platform

    def elaborate(self, platform) -> Module:
        m = Module()
        # Main memory in the four SPRAMs (128 KiB); block RAM is left to the chip's buffers.
        m.submodules.soc = soc = FpgaSoC(self.config, divisor=self.divisor, ram="ice40_spram")
        uart = platform.request("uart", 0)
        m.d.comb += [soc.rx.eq(uart.rx.i), uart.tx.o.eq(soc.tx)]
        leds = {index: platform.request("led", index) for index in range(7)}
        status = {0: soc.error, 1: soc.done, 2: soc.busy, 3: soc.done, 4: soc.error,
                  5: soc.uart_error, 6: heartbeat(m, self.clock_hz)}
        for index, value in status.items():
            m.d.comb += leds[index].o.eq(value)
        return m
