"""Memory subsystem: load and store DMA engines, a scratch buffer and the AXI4 ports.

This is the HBM-facing half of the accelerator on its own, used to verify and benchmark the DMA
against memory models (``systole generate --top memsys``, ``systole membench``). The full chip
replaces the scratch buffer with the activation, weight and accumulator buffers.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .axi import AxiSignature, join_port
from .config import MemoryConfig
from .dma import DmaEngine, descriptor_layout, status_layout

__all__ = ["MemorySubsystem"]


class MemorySubsystem(wiring.Component):
    """Load and store DMA over ``config.channels`` AXI4 ports into one scratch buffer.

    The scratch buffer holds ``buffer_depth`` beats; every channel has its own write port (for
    loads) and read port (for stores), so the channels never wait for each other.

    Members
    -------
    load_cmd, store_cmd : In(stream.Signature(descriptor_layout(config)))
        Tile descriptors: load moves memory to buffer, store buffer to memory.
    load_status, store_status : Out(stream.Signature(status_layout()))
        One :class:`~systole.hw.dma.DmaError` code per descriptor.
    axi : Out(AxiSignature(config.axi)).array(config.channels)
        One AXI4 master per pseudo-channel; AR/R serve loads, AW/W/B stores.

    Parameters
    ----------
    config : MemoryConfig
    fast_control : bool
        The engines' ``fast_control`` (:class:`~systole.hw.dma.DmaEngine`).

    Latency
    -------
    See :class:`~systole.hw.dma.DmaEngine`; loads and stores run concurrently.
    """

    def __init__(self, config: MemoryConfig, *, fast_control: bool = False):
        self.config = config
        self.fast_control = fast_control
        super().__init__({
            "load_cmd": In(stream.Signature(descriptor_layout(config))),
            "load_status": Out(stream.Signature(status_layout())),
            "store_cmd": In(stream.Signature(descriptor_layout(config))),
            "store_status": Out(stream.Signature(status_layout())),
            "axi": Out(AxiSignature(config.axi)).array(config.channels),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        m.submodules.load = load = DmaEngine(cfg, store=False, fast_control=self.fast_control)
        m.submodules.store = store = DmaEngine(cfg, store=True, fast_control=self.fast_control)
        m.submodules.buffer = buffer = memory.Memory(shape=cfg.data_width,
                                                     depth=cfg.buffer_depth, init=[])

        wiring.connect(m, wiring.flipped(self.load_cmd), load.cmd)
        wiring.connect(m, wiring.flipped(self.load_status), load.status)
        wiring.connect(m, wiring.flipped(self.store_cmd), store.cmd)
        wiring.connect(m, wiring.flipped(self.store_status), store.status)

        for index in range(cfg.channels):
            # Reads belong to the load engine, writes to the store engine.
            join_port(m, self.axi[index], load.axi[index], store.axi[index])

            write_port = buffer.write_port()
            m.d.comb += [
                write_port.addr.eq(load.buf[index].addr),
                write_port.data.eq(load.buf[index].data),
                write_port.en.eq(load.buf[index].en),
            ]
            read_port = buffer.read_port()
            m.d.comb += [
                read_port.addr.eq(store.buf[index].addr),
                read_port.en.eq(store.buf[index].en),
                store.buf[index].data.eq(read_port.data),
            ]
        return m
