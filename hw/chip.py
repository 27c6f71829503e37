"""The whole accelerator: sequencer, units, DMA, buffers, array, AXI4 and AXI4-Lite ports."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .axi import AxiSignature, join_port
from .axil import AxiLiteSignature
from .buffers import BufferMap, ChipBuffers
from .compute import ComputeUnit
from .config import SystoleConfig
from .csr import ControlRegisters
from .dma import DmaEngine, descriptor_layout
from .dma_arbiter import DmaArbiter
from .dmaunit import DmaUnit
from .ppunit import PostProcUnit
from .regslice import RegisterSlice
from .sequencer import Sequencer
from .tokens import TokenQueues

__all__ = ["SystoleChip"]


class SystoleChip(wiring.Component):
    """One systole accelerator. Wiring only; every block documents its own behaviour.

    Members
    -------
    axi : Out(AxiSignature(config.memory.axi)).array(config.memory.channels)
        One AXI4 master per HBM pseudo-channel (global addresses interleaved, see
        :mod:`systole.hw.addrmap`).
    csr : In(AxiLiteSignature())
        Control and status registers (:mod:`systole.hw.regs`).
    irq : Out(1)
        STATUS.DONE while CTRL.IRQ_ENABLE.

    Latency
    -------
    A program runs from a CTRL.START write until STATUS.DONE; see the units for throughput.
    """

    def __init__(self, config: SystoleConfig, *, row_module: str | None = None):
        self.config = config
        self.row_module = row_module
        super().__init__({
            "axi": Out(AxiSignature(config.memory.axi)).array(config.memory.channels),
            "csr": In(AxiLiteSignature()),
            "irq": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg = self.config
        bmap = BufferMap(cfg)
        array = cfg.array

        m.submodules.csr = csr = ControlRegisters(rows=array.rows, cols=array.cols,
                                                  stall_counters=cfg.stall_counters,
                                                  registered_events=cfg.registered_control,
                                                  registered_reads=cfg.register_slices)
        m.submodules.sequencer = seq = Sequencer(cfg)
        m.submodules.tokens = tokens = TokenQueues(registered=cfg.registered_control)
        m.submodules.load_unit = load_unit = DmaUnit(cfg, store=False)
        m.submodules.store_unit = store_unit = DmaUnit(cfg, store=True)
        m.submodules.compute = compute = ComputeUnit(cfg, row_module=self.row_module)
        m.submodules.arbiter = arbiter = DmaArbiter(descriptor_layout(bmap.load_memory),
                                                    last_payload=cfg.registered_control)
        # The sequencer checks every descriptor's memory and buffer range before the units
        # issue it (instruction fetch: before it fetches), so the engines need not.
        m.submodules.load_dma = load_dma = DmaEngine(bmap.load_memory, store=False,
                                                     range_checks=False,
                                                     fast_control=cfg.registered_control)
        m.submodules.store_dma = store_dma = DmaEngine(
            bmap.store_memory, store=True, range_checks=False,
            buffer_latency=2 if cfg.registered_acc_reads else 1,
            room_register=cfg.registered_control, fast_control=cfg.registered_control)
        m.submodules.buffers = buffers = ChipBuffers(cfg)
        # For testbenches that observe the blocks (token traffic, unit states).
        self.parts = {"sequencer": seq, "tokens": tokens, "load_unit": load_unit,
                      "store_unit": store_unit, "compute": compute, "load_dma": load_dma,
                      "store_dma": store_dma, "csr": csr}

        # Host interface.
        wiring.connect(m, wiring.flipped(self.csr), csr.bus)
        m.d.comb += [
            self.irq.eq(csr.irq),
            seq.start.eq(csr.start), seq.prog_addr.eq(csr.prog_addr),
            tokens.clear.eq(csr.start),
            csr.busy.eq(seq.busy), csr.done.eq(seq.done), csr.error.eq(seq.error),
            csr.error_code.eq(seq.error_code), csr.error_pc.eq(seq.error_pc),
            csr.dispatched.eq(seq.dispatched), csr.activity.eq(compute.activity),
        ]

        # Sequencer to units; units to each other through the token queues.
        wiring.connect(m, seq.load, load_unit.cmd)
        wiring.connect(m, seq.compute, compute.cmd)
        store_idle = self._store_front(m, seq, store_unit, tokens, buffers)
        m.d.comb += [
            csr.store_idle.eq(store_idle),
            seq.units_idle.eq(load_unit.idle & compute.idle & store_idle),
        ]
        wiring.connect(m, seq.unit_errors[0], load_unit.error)
        wiring.connect(m, seq.unit_errors[1], store_unit.error)
        wiring.connect(m, load_unit.tokens, tokens.load)
        wiring.connect(m, compute.tokens, tokens.compute)

        # DMA: instruction fetch (priority) and the load unit share the load engine.
        wiring.connect(m, seq.fetch_cmd, arbiter.clients[0])
        wiring.connect(m, seq.fetch_status, arbiter.statuses[0])
        wiring.connect(m, load_unit.dma_cmd, arbiter.clients[1])
        wiring.connect(m, load_unit.dma_status, arbiter.statuses[1])
        # Statuses: the engine's completion tracking into the units' in-order queues, through
        # register slices with ``register_slices``.
        def statuses(name, user, engine):
            if cfg.register_slices:
                status_slice = m.submodules[f"{name}_status_slice"] = RegisterSlice(
                    engine.status.payload.shape())
                wiring.connect(m, engine.status, status_slice.i)
                wiring.connect(m, status_slice.o, user)
            else:
                wiring.connect(m, user, engine.status)

        wiring.connect(m, arbiter.cmd, load_dma.cmd)
        statuses("load", arbiter.status, load_dma)
        wiring.connect(m, store_unit.dma_cmd, store_dma.cmd)
        statuses("store", store_unit.dma_status, store_dma)

        # Buffers.
        for index in range(cfg.memory.channels):
            wiring.connect(m, load_dma.buf[index], buffers.load[index])
            wiring.connect(m, store_dma.buf[index], buffers.store[index])
        wiring.connect(m, seq.instr, buffers.instr)
        wiring.connect(m, compute.act, buffers.act)
        wiring.connect(m, compute.weight, buffers.weight)
        if cfg.matvec:
            wiring.connect(m, compute.tile, buffers.tile)
        wiring.connect(m, compute.acc_read, buffers.acc_read)
        wiring.connect(m, compute.acc_write, buffers.acc_write)

        # Memory ports: reads belong to the load engine, writes to the store engine.
        beat = cfg.memory.data_bytes
        read_beats, write_beats = [], []
        for index in range(cfg.memory.channels):
            port = self.axi[index]
            join_port(m, port, load_dma.axi[index], store_dma.axi[index])
            read_beats.append(port.r.valid & port.r.ready)
            write_beats.append(port.w.valid & port.w.ready)
        m.d.comb += [csr.bytes_read.eq(sum(read_beats) * beat),
                     csr.bytes_written.eq(sum(write_beats) * beat)]
        return m

    def _store_front(self, m, seq, store_unit, tokens, buffers):
        """The store unit's command and token path; returns its idle signal.

        STORE-unit commands pass the post-processing front (it runs POSTPROC itself), unless
        the configuration has none: then the sequencer rejects POSTPROC and the commands go
        straight to the DMA unit.
        """
        if not self.config.postproc:
            wiring.connect(m, seq.store, store_unit.cmd)
            wiring.connect(m, store_unit.tokens, tokens.store)
            return store_unit.idle
        m.submodules.postproc_unit = postproc_unit = PostProcUnit(self.config)
        self.parts["postproc_unit"] = postproc_unit
        m.d.comb += postproc_unit.store_idle.eq(store_unit.idle)
        wiring.connect(m, seq.store, postproc_unit.cmd)
        wiring.connect(m, postproc_unit.store_cmd, store_unit.cmd)
        wiring.connect(m, store_unit.tokens, postproc_unit.store_tokens)
        wiring.connect(m, postproc_unit.tokens, tokens.store)
        wiring.connect(m, postproc_unit.param, buffers.param)
        wiring.connect(m, postproc_unit.acc_read, buffers.post_acc_read)
        wiring.connect(m, postproc_unit.acc_write, buffers.post_acc_write)
        wiring.connect(m, postproc_unit.act_write, buffers.post_act_write)
        return store_unit.idle & postproc_unit.idle
