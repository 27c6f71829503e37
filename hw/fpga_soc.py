"""The FPGA prototype without pins: chip, block-RAM memory channels, UART and its bridge.

Board wrappers (:mod:`systole.hw.boards`) add clocks, pins and LEDs around it; simulations drive
``rx`` and watch ``tx`` directly (``sim/fpga_uart_cocotb.py``).
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .addrmap import AddressMap
from .axi_bram import AxiBram
from .chip import SystoleChip
from .config import SystoleConfig
from .regslice import AxiRegisterSlice
from .uart import UartRx, UartTx
from .uart_bridge import UartBridge

__all__ = ["FpgaSoC"]


#: The most memory (bytes) an FPGA prototype may have: a few times the largest ECP5's block
#: RAM, and enough for the ``tiny`` preset's 1 MiB in simulation.
MAX_MEMORY = 4 << 20


class FpgaSoC(wiring.Component):
    """Accelerator with on-chip memory and a UART host link.

    Every AXI4 port of :class:`~systole.hw.chip.SystoleChip` gets its own :class:`AxiBram` of
    ``memory.channel_size`` bytes; the UART bridge reaches memory through the block RAMs' host
    ports (global addresses, split by :class:`~systole.hw.addrmap.AddressMap`) and the
    registers through the chip's AXI4-Lite port.

    Parameters
    ----------
    config : SystoleConfig
    divisor : int
        UART clock cycles per bit (clock frequency / baud rate).
    row_module : str or None
        As for :class:`~systole.hw.chip.SystoleChip` (Verilog generation only).
    ram : str
        Memory implementation of the block RAMs (:class:`~systole.hw.axi_bram.AxiBram`).

    Members
    -------
    rx : In(1)
        UART from the host (idle high).
    tx : Out(1)
        UART to the host.
    busy, done, error : Out(1)
        STATUS bits as the bridge last polled them (for LEDs).
    uart_error : Out(1)
        Sticky: the receiver dropped a byte (overrun or framing error).
    irq : Out(1)
        The chip's interrupt.
    """

    def __init__(self, config: SystoleConfig, *, divisor: int, row_module: str | None = None,
                 ram: str = "generic"):
        if config.memory.size > MAX_MEMORY:
            # The default chip's 1 GiB would become a 1 GiB memory in the netlist, which no
            # FPGA holds and whose elaboration runs the machine out of memory.
            self._MustUse__silence = True        # refused: no "never used" warning
            raise ValueError(f"memory.size must be at most {MAX_MEMORY >> 20} MiB for the FPGA "
                             f"prototype, whose block RAM stands in for HBM (the ULX3S 85F "
                             f"holds 468 KiB), not {config.memory.size}; the ulx3s and "
                             f"icebreaker presets fit their boards")
        self.config = config
        self.ram = ram
        self.divisor = divisor
        self.row_module = row_module
        super().__init__({
            "rx": In(1, init=1), "tx": Out(1, init=1),
            "busy": Out(1), "done": Out(1), "error": Out(1),
            "uart_error": Out(1), "irq": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        mem = self.config.memory
        m.submodules.chip = chip = SystoleChip(self.config, row_module=self.row_module)
        m.submodules.uart_rx = rx = UartRx(self.divisor)
        m.submodules.uart_tx = tx = UartTx(self.divisor)
        m.submodules.bridge = bridge = UartBridge(mem.addr_width)
        amap = AddressMap(mem)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), self.irq.eq(chip.irq),
                     self.uart_error.eq(rx.overrun | rx.framing),
                     self.busy.eq(bridge.status[0]), self.done.eq(bridge.status[1]),
                     self.error.eq(bridge.status[2])]
        wiring.connect(m, rx.data, bridge.rx)
        wiring.connect(m, bridge.tx, tx.data)
        wiring.connect(m, bridge.csr, chip.csr)

        # Memory: one block RAM per channel; the bridge's byte accesses go to the channel that
        # holds the address (one command in flight, so the answers can simply be merged).
        channel = amap.channel_of(bridge.mem.payload.addr)
        ready, rsp_valid, rsp_data = 0, 0, 0
        for index in range(mem.channels):
            # Inferred block RAM (the ECP5's 64 DP16KD) is pipelined and its AXI4 port is
            # behind register slices (AR, AW, W and R: its ready, decoded from its state, ran
            # into the DMA splitter's enables, its read data across the die into the chip's
            # buffers); the iCE40's four SPRAMs keep the multiplexed address and direct ports
            # (no logic cells to spare).
            pipelined = self.ram == "generic"
            bram = m.submodules[f"bram{index}"] = AxiBram(
                mem.axi, mem.channel_size, ram=self.ram, pipelined=pipelined)
            if pipelined:
                axi_slice = m.submodules[f"axi_slice{index}"] = AxiRegisterSlice(mem.axi)
                wiring.connect(m, chip.axi[index], axi_slice.s)
                wiring.connect(m, axi_slice.m, bram.axi)
            else:
                wiring.connect(m, chip.axi[index], bram.axi)
            selected = channel == index
            m.d.comb += [
                bram.host.valid.eq(bridge.mem.valid & selected),
                bram.host.payload.addr.eq(amap.local_of(bridge.mem.payload.addr)),
                bram.host.payload.data.eq(bridge.mem.payload.data),
                bram.host.payload.write.eq(bridge.mem.payload.write),
                bram.host_rsp.ready.eq(bridge.mem_rsp.ready),
            ]
            ready = ready | (bram.host.ready & selected)
            rsp_valid = rsp_valid | bram.host_rsp.valid
            rsp_data = rsp_data | (bram.host_rsp.payload & bram.host_rsp.valid.replicate(8))
        m.d.comb += [bridge.mem.ready.eq(ready), bridge.mem_rsp.valid.eq(rsp_valid),
                     bridge.mem_rsp.payload.eq(rsp_data)]
        return m
