"""Load and store units: turn LOAD/STORE commands into DMA descriptors, in order."""

from __future__ import annotations

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from .buffers import REGION_ACT, REGION_PARAM, REGION_TILE, REGION_WEIGHT, BufferMap
from .cmds import load_cmd_layout, store_cmd_layout
from .config import SystoleConfig
from .dma import DmaError, descriptor_layout, status_layout
from .isa import Buffer, ErrorCode
from .tokens import TokenSignature

__all__ = ["DmaUnit", "unit_error_layout"]


def unit_error_layout() -> data.StructLayout:
    return data.StructLayout({"code": 8, "pc": 32})


class DmaUnit(wiring.Component):
    """The load unit (``store=False``: LOAD, memory to activation/weight buffer) or the store
    unit (``store=True``: STORE, accumulators to memory). POSTPROC commands are not for this
    unit: :class:`~systole.hw.ppunit.PostProcUnit` executes them and forwards the rest.

    Commands issue descriptors back to back (the DMA engine pipelines them); a command's token
    pushes happen when its DMA status arrives, i.e. when its data is in the buffer (load) or
    acknowledged by memory (store). A SYNC waits for every earlier command's status.

    Members
    -------
    cmd : In(stream.Signature(load_cmd_layout() or store_cmd_layout()))
    tokens : Out(TokenSignature())
    dma_cmd : Out(stream.Signature(descriptor_layout(...)))
    dma_status : In(stream.Signature(status_layout()))
    error : Out(stream.Signature(unit_error_layout()))
        A DMA status that was not OKAY (``BUS_ERROR``) with the instruction's address.
    idle : Out(1)

    Latency
    -------
    A command becomes a descriptor in the cycle its tokens are available.
    """

    def __init__(self, config: SystoleConfig, *, store: bool):
        self.config = config
        self.store = store
        self.map = bmap = BufferMap(config)
        dma_memory = bmap.store_memory if store else bmap.load_memory
        layout = store_cmd_layout() if store else load_cmd_layout()
        super().__init__({
            "cmd": In(stream.Signature(layout)),
            "tokens": Out(TokenSignature()),
            "dma_cmd": Out(stream.Signature(descriptor_layout(dma_memory))),
            "dma_status": In(stream.Signature(status_layout())),
            "error": Out(stream.Signature(unit_error_layout(), always_ready=True)),
            "idle": Out(1),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cfg, bmap = self.config, self.map
        cmd, flags = self.cmd.payload, self.cmd.payload.flags
        # The store unit consumes from compute (prev); the load unit from compute (next).
        pop = "pop_prev" if self.store else "pop_next"
        ready = self.tokens.prev_ready if self.store else self.tokens.next_ready
        tokens_ok = ~getattr(flags, pop) | ready

        pending_layout = data.StructLayout({"push_prev": 1, "push_next": 1, "pc": 32})
        m.submodules.pending = pending = fifo.SyncFIFOBuffered(width=pending_layout.size,
                                                               depth=cfg.memory.descriptors)
        pushed = data.View(pending_layout, pending.w_data)
        m.d.comb += [pushed.push_prev.eq(flags.push_prev), pushed.push_next.eq(flags.push_next),
                     pushed.pc.eq(cmd.pc)]

        # Descriptor of the command. Rows that lie back to back in memory (stride = word size)
        # become one long row, so the DMA issues full-length bursts across the channels
        # instead of one short burst per word.
        desc = self.dma_cmd.payload
        if self.store:
            lane_bits = exact_log2(bmap.acc_lanes)
            word_bytes = C(cfg.word_bytes("acc"))
            word_shift = C(exact_log2(cfg.word_bytes("acc")))
            m.d.comb += desc.buf_addr.eq(cmd.acc_addr << lane_bits)
        else:
            is_weight, is_param = cmd.buffer == Buffer.WEIGHT, cmd.buffer == Buffer.PARAM
            word_bytes = Mux(is_weight, cfg.word_bytes("weight"),
                             Mux(is_param, cfg.word_bytes("param"), cfg.word_bytes("act")))
            word_shift = Mux(is_weight, exact_log2(cfg.word_bytes("weight")),
                             Mux(is_param, exact_log2(cfg.word_bytes("param")),
                                 exact_log2(cfg.word_bytes("act"))))
            buf_addr = Mux(is_weight, bmap.load_beat_addr(REGION_WEIGHT, cmd.buf_addr),
                           Mux(is_param, bmap.load_beat_addr(REGION_PARAM, cmd.buf_addr),
                               bmap.load_beat_addr(REGION_ACT, cmd.buf_addr)))
            if cfg.matvec:
                is_tile = cmd.buffer == Buffer.TILE
                word_bytes = Mux(is_tile, cfg.word_bytes("tile"), word_bytes)
                word_shift = Mux(is_tile, exact_log2(cfg.word_bytes("tile")), word_shift)
                buf_addr = Mux(is_tile, bmap.load_beat_addr(REGION_TILE, cmd.buf_addr), buf_addr)
            m.d.comb += desc.buf_addr.eq(buf_addr)
        # A tile too long for ``row_bytes`` is longer than the buffer: it stays row by row and
        # the DMA rejects it (BUF_RANGE).
        kinds = ("acc",) if self.store else ("act", "weight", "param") + (
            ("tile",) if cfg.matvec else ())
        max_shift = max(exact_log2(cfg.word_bytes(kind)) for kind in kinds)
        tile_bytes = Signal(len(cmd.rows) + max_shift)
        m.d.comb += tile_bytes.eq(cmd.rows << word_shift)
        merge = (cmd.stride == word_bytes) & (tile_bytes < (1 << len(desc.row_bytes)))
        m.d.comb += [
            desc.mem_addr.eq(cmd.mem_addr), desc.stride.eq(cmd.stride),
            desc.rows.eq(Mux(merge, 1, cmd.rows)),
            desc.row_bytes.eq(Mux(merge, tile_bytes, word_bytes)),
        ]

        sync_done = Signal()
        with m.If(self.cmd.valid & tokens_ok):
            with m.If(cmd.sync):
                # Every earlier descriptor has reported: do the token operations now.
                with m.If(~pending.r_rdy & (pending.level == 0)):
                    m.d.comb += [sync_done.eq(1), self.cmd.ready.eq(1)]
            with m.Else():
                m.d.comb += [self.dma_cmd.valid.eq(pending.w_rdy),
                             self.cmd.ready.eq(self.dma_cmd.ready & pending.w_rdy)]
        accepted = self.dma_cmd.valid & self.dma_cmd.ready
        m.d.comb += [
            pending.w_en.eq(accepted),
            getattr(self.tokens, pop).eq(self.cmd.valid & self.cmd.ready & getattr(flags, pop)),
        ]

        # Completion, in order.
        head = data.View(pending_layout, pending.r_data)
        status = self.dma_status
        m.d.comb += [status.ready.eq(pending.r_rdy), pending.r_en.eq(status.valid)]
        finished = status.valid & status.ready
        m.d.comb += [
            self.tokens.push_prev.eq((finished & head.push_prev) | (sync_done & flags.push_prev)),
            self.tokens.push_next.eq((finished & head.push_next) | (sync_done & flags.push_next)),
            self.error.valid.eq(finished & (status.payload.error != DmaError.NONE)),
            self.error.payload.code.eq(ErrorCode.BUS_ERROR),
            self.error.payload.pc.eq(head.pc),
            self.idle.eq(~self.cmd.valid & ~pending.r_rdy & (pending.level == 0)),
        ]
        return m
