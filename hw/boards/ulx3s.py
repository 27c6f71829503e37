"""ULX3S (Lattice ECP5 LFE5U-85F): 25 MHz oscillator -> PLL (125 MHz by default), FTDI UART,
8 LEDs."""

from __future__ import annotations

from amaranth.hdl import (
    ClockDomain,
    ClockSignal,
    Const,
    Elaboratable,
    Instance,
    Module,
    ResetSignal,
    Signal,
)
from amaranth.lib.cdc import FFSynchronizer, ResetSynchronizer

from ..array_probe import ArrayProbe
from ..config import SystoleConfig
from ..fpga_soc import FpgaSoC
from ..params import check_choice
from ..uart import uart_divisor
from .leds import heartbeat

__all__ = ["Ulx3sTop", "PLL_SETTINGS", "SCOPES"]

#: What a build puts on the board: the whole prototype, or the PE array alone with generated
#: stimulus (:class:`~systole.hw.array_probe.ArrayProbe`) to time it apart from the rest.
SCOPES = ("chip", "array")

#: EHXPLLL settings from 25 MHz, as ``yowasp-ecppll -i 25 -o MHZ`` computes them:
#: output MHz -> (CLKI_DIV, CLKOP_DIV, CLKOP_CPHASE, CLKFB_DIV); VCO = output x CLKOP_DIV.
PLL_SETTINGS = {
    125.0: (1, 5, 2, 5), 100.0: (1, 6, 2, 4), 90.0: (5, 7, 3, 18), 87.5: (2, 7, 3, 7),
    80.0: (5, 7, 3, 16), 75.0: (1, 8, 4, 3), 62.5: (2, 10, 4, 5),
    50.0: (1, 12, 5, 2), 40.0: (5, 15, 7, 8), 37.5: (2, 16, 8, 3), 35.0: (5, 17, 8, 7),
    31.25: (4, 19, 9, 5), 30.0: (5, 20, 9, 6),
}


class Ulx3sTop(Elaboratable):
    """The FPGA prototype on a ULX3S 85F.

    LEDs: 0 BUSY, 1 DONE, 2 ERROR (STATUS as the UART bridge polls it), 3 UART receive error,
    7 heartbeat (about 1 Hz). Reset: held until the PLL locks.

    Parameters
    ----------
    config : SystoleConfig
    baud : int
        UART baud rate (the FT231X on the board runs up to 3 Mbaud).
    clock_mhz : float
        Design clock, a key of :data:`PLL_SETTINGS`.
    scope : str
        ``"chip"``: the prototype (:class:`~systole.hw.fpga_soc.FpgaSoC`). ``"array"``: the PE
        array alone (:class:`~systole.hw.array_probe.ArrayProbe`, its folded results on the
        LEDs), no UART; its reset is on a global network (DCCA), where the prototype's stays
        in the fabric (docs/fpga.md, "The array on its own").
    """

    clock_hz = 125_000_000     # default
    input_hz = 25_000_000

    def __init__(self, config: SystoleConfig, *, baud: int = 1_000_000,
                 clock_mhz: float = 125.0, scope: str = "chip"):
        check_choice("clock_mhz", clock_mhz, PLL_SETTINGS)
        check_choice("scope", scope, SCOPES)
        self.config = config
        self.scope = scope
        self.baud = baud
        self.clock_hz = round(clock_mhz * 1e6)
        self.pll = PLL_SETTINGS[clock_mhz]
        self.divisor = uart_divisor(self.clock_hz, baud)

    @staticmethod
    def platform():
        from amaranth_boards.ulx3s import ULX3S_85F_Platform

        return ULX3S_85F_Platform()

    def elaborate(self, platform) -> Module:
        m = Module()
        clk25 = platform.request("clk25", 0)
        m.domains.sync = ClockDomain("sync")
        pll_clk, locked = Signal(name="pll_clk"), Signal(name="pll_locked")
        # Output = 25 MHz * CLKFB_DIV / CLKI_DIV (feedback from CLKOP).
        clki_div, clkop_div, cphase, clkfb_div = self.pll
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI="25", a_FREQUENCY_PIN_CLKOP=f"{self.clock_hz / 1e6:g}",
            a_ICP_CURRENT="12",
            a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD", p_CLKI_DIV=clki_div,
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=clkop_div, p_CLKOP_CPHASE=cphase,
            p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=clkfb_div,
            i_RST=Const(0, 1), i_STDBY=Const(0, 1), i_CLKI=clk25.i, i_CLKFB=pll_clk,
            i_PHASESEL0=Const(0, 1), i_PHASESEL1=Const(0, 1), i_PHASEDIR=Const(1, 1),
            i_PHASESTEP=Const(1, 1), i_PHASELOADREG=Const(1, 1), i_PLLWAKESYNC=Const(0, 1),
            i_ENCLKOP=Const(0, 1), o_CLKOP=pll_clk, o_LOCK=locked)
        m.d.comb += ClockSignal("sync").eq(pll_clk)
        # The clock constraint is in constraints/ulx3s-85f.lpf (net "clk").
        if self.scope == "array":
            # The array alone: its reset reaches every PE's registers across the die; in the
            # fabric that net took 9.5-11.1 ns of routing and was the array's longest path. On
            # a global network it is not. (In the whole prototype a global reset measured 79.5
            # and 77.5 MHz on seeds 1 and 2 against 84.4 and 83.3 with the fabric reset, so the
            # prototype keeps the fabric one.)
            reset_local, reset_global = Signal(name="reset_local"), Signal(name="reset_global")
            m.submodules.reset_sync = FFSynchronizer(~locked, reset_local, o_domain="sync",
                                                     init=1)
            m.submodules.reset_buffer = Instance("DCCA", i_CLKI=reset_local,
                                                 i_CE=Const(1, 1), o_CLKO=reset_global)
            m.d.comb += ResetSignal("sync").eq(reset_global)
            m.submodules.soc = probe = ArrayProbe(self.config.array)
            for index in range(8):
                m.d.comb += platform.request("led", index).o.eq(probe.out[index])
            return m
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")

        m.submodules.soc = soc = FpgaSoC(self.config, divisor=self.divisor)
        uart = platform.request("uart", 0)
        m.d.comb += [soc.rx.eq(uart.rx.i), uart.tx.o.eq(soc.tx)]
        leds = [platform.request("led", index) for index in range(8)]
        status = {0: soc.busy, 1: soc.done, 2: soc.error, 3: soc.uart_error,
                  7: heartbeat(m, self.clock_hz)}
        for index, value in status.items():
            m.d.comb += leds[index].o.eq(value)
        return m
