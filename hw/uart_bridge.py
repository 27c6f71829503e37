"""UART bridge: a framed byte protocol that reads and writes memory and the control registers.

The protocol (reference page ``docs/fpga.md``; host side :mod:`systole.uart_device`). Every
field is little-endian; the host sends one frame and waits for its answer before the next:

=========  ==========================================  ======================================
opcode     then                                        answer
=========  ==========================================  ======================================
``W`` 0x57 addr (4), count (2), ``count`` data bytes   ``ACK`` (0x06) after the last write
``F`` 0x46 addr (4), count (2), value (1)              ``ACK`` once ``count`` bytes are filled
``R`` 0x52 addr (4), count (2)                         ``count`` data bytes
``w`` 0x77 register offset (1), value (4)              ``ACK`` once the write is answered (B)
``r`` 0x72 register offset (1)                         the register value (4)
other                                                  ``NAK`` (0x15)
=========  ==========================================  ======================================

Memory addresses are global byte addresses of the chip's memory (wrapping at its size);
``count`` 0 is an empty access. Register offsets are those of :mod:`systole.hw.regs`.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .axi_bram import host_cmd_layout
from .axil import AxiLiteSignature
from .regs import REG

__all__ = ["UartBridge", "OP_WRITE", "OP_FILL", "OP_READ", "OP_REG_WRITE", "OP_REG_READ",
           "ACK", "NAK"]

OP_WRITE, OP_FILL, OP_READ = ord("W"), ord("F"), ord("R")
OP_REG_WRITE, OP_REG_READ = ord("w"), ord("r")
ACK, NAK = 0x06, 0x15
#: Header bytes after the opcode.
HEADER_BYTES = {OP_WRITE: 6, OP_FILL: 7, OP_READ: 6, OP_REG_WRITE: 5, OP_REG_READ: 1}


class UartBridge(wiring.Component):
    """Protocol engine between the UART byte streams, the memory host ports and AXI4-Lite.

    While it waits for an opcode it polls STATUS over AXI4-Lite (no side effects), so
    ``status`` follows the machine for the board's LEDs.

    Parameters
    ----------
    addr_width : int
        Width of a global memory byte address.

    Members
    -------
    rx : In(stream.Signature(8))
        Bytes from the host.
    tx : Out(stream.Signature(8))
        Bytes to the host.
    mem : Out(stream.Signature(host_cmd_layout(addr_width)))
        Byte reads and writes of memory; one in flight.
    mem_rsp : In(stream.Signature(8))
        One answer per ``mem`` command.
    csr : Out(AxiLiteSignature())
        The chip's control port.
    status : Out(3)
        STATUS bits BUSY, DONE, ERROR as last polled.

    Latency
    -------
    Bounded by the UART: a few cycles of work per byte.
    """

    def __init__(self, addr_width: int):
        self.addr_width = addr_width
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "mem": Out(stream.Signature(host_cmd_layout(addr_width))),
            "mem_rsp": In(stream.Signature(8)),
            "csr": Out(AxiLiteSignature()),
            "status": Out(3),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        rx, tx, csr = self.rx, self.tx, self.csr
        op = Signal(8)
        header = Signal(56)
        got = Signal(range(8))
        need = Signal(range(8))
        addr = Signal(self.addr_width)   # wraps at the memory size
        reg_offset = Signal(8)
        count = Signal(16)
        value = Signal(32)          # register value, or the fill byte
        out_byte = Signal(8)
        out_left = Signal(range(5))  # register-read bytes still to send
        aw_done = Signal()
        w_done = Signal()

        m.d.comb += [
            self.mem.payload.addr.eq(addr),
            self.mem.payload.write.eq(op != OP_READ),
            tx.payload.eq(out_byte),
            csr.aw.payload.addr.eq(reg_offset), csr.ar.payload.addr.eq(reg_offset),
            csr.w.payload.data.eq(value), csr.w.payload.strb.eq(0xF),
        ]

        with m.FSM():
            with m.State("OPCODE"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += [op.eq(rx.payload), got.eq(0)]
                    with m.Switch(rx.payload):
                        for code, length in HEADER_BYTES.items():
                            with m.Case(code):
                                m.d.sync += need.eq(length)
                                m.next = "HEADER"
                        with m.Default():
                            m.d.sync += out_byte.eq(NAK)
                            m.next = "SEND"
                with m.Else():
                    m.d.sync += reg_offset.eq(REG["STATUS"].offset)
                    m.next = "POLL"
            with m.State("POLL"):
                m.d.comb += csr.ar.valid.eq(1)
                with m.If(csr.ar.ready):
                    m.next = "POLL_DATA"
            with m.State("POLL_DATA"):
                m.d.comb += csr.r.ready.eq(1)
                with m.If(csr.r.valid):
                    m.d.sync += self.status.eq(csr.r.payload.data[:3])
                    m.next = "OPCODE"
            with m.State("HEADER"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += [header.eq(Cat(header[8:], rx.payload)), got.eq(got + 1)]
                    with m.If(got + 1 == need):
                        m.next = "DECODE"
            with m.State("DECODE"):
                # Header bytes shift in from the top: after n bytes the first one is at bit
                # 56 - 8 n, so every field sits at a fixed place per opcode.
                m.d.sync += [aw_done.eq(0), w_done.eq(0)]
                empty = Signal()
                with m.Switch(op):
                    with m.Case(OP_WRITE, OP_READ):
                        m.d.sync += [addr.eq(header[8:40]), count.eq(header[40:56])]
                        m.d.comb += empty.eq(header[40:56] == 0)
                        with m.If(op == OP_READ):
                            m.next = "MEM_CMD"
                        with m.Else():
                            m.next = "MEM_DATA"
                    with m.Case(OP_FILL):
                        m.d.sync += [addr.eq(header[0:32]), count.eq(header[32:48]),
                                     value.eq(header[48:56])]
                        m.d.comb += empty.eq(header[32:48] == 0)
                        m.next = "MEM_CMD"
                    with m.Case(OP_REG_WRITE):
                        m.d.sync += [reg_offset.eq(header[16:24]), value.eq(header[24:56])]
                        m.next = "REG_WRITE"
                    with m.Case(OP_REG_READ):
                        m.d.sync += reg_offset.eq(header[48:56])
                        m.next = "REG_READ"
                # An empty memory access: answer at once (nothing for R).
                with m.If(empty):
                    with m.If(op == OP_READ):
                        m.next = "OPCODE"
                    with m.Else():
                        m.d.sync += out_byte.eq(ACK)
                        m.next = "SEND"

            # Memory: one byte per command.
            with m.State("MEM_DATA"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += value.eq(rx.payload)
                    m.next = "MEM_CMD"
            with m.State("MEM_CMD"):
                m.d.comb += [self.mem.valid.eq(1), self.mem.payload.data.eq(value[:8])]
                with m.If(self.mem.ready):
                    m.next = "MEM_RSP"
            with m.State("MEM_RSP"):
                m.d.comb += self.mem_rsp.ready.eq(1)
                with m.If(self.mem_rsp.valid):
                    m.d.sync += [addr.eq(addr + 1), count.eq(count - 1)]
                    with m.If(op == OP_READ):
                        m.d.sync += out_byte.eq(self.mem_rsp.payload)
                        m.next = "MEM_SEND"
                    with m.Elif(count == 1):
                        m.d.sync += out_byte.eq(ACK)
                        m.next = "SEND"
                    with m.Elif(op == OP_WRITE):
                        m.next = "MEM_DATA"
                    with m.Else():
                        m.next = "MEM_CMD"
            with m.State("MEM_SEND"):
                m.d.comb += tx.valid.eq(1)
                with m.If(tx.ready):
                    m.next = "MEM_CMD"
                    with m.If(count == 0):
                        m.next = "OPCODE"

            # Registers.
            with m.State("REG_WRITE"):
                m.d.comb += [csr.aw.valid.eq(~aw_done), csr.w.valid.eq(~w_done)]
                with m.If(csr.aw.ready):
                    m.d.sync += aw_done.eq(1)
                with m.If(csr.w.ready):
                    m.d.sync += w_done.eq(1)
                with m.If((aw_done | csr.aw.ready) & (w_done | csr.w.ready)):
                    m.next = "REG_WRITE_RSP"
            with m.State("REG_WRITE_RSP"):
                m.d.comb += csr.b.ready.eq(1)
                with m.If(csr.b.valid):
                    m.d.sync += out_byte.eq(ACK)
                    m.next = "SEND"
            with m.State("REG_READ"):
                m.d.comb += csr.ar.valid.eq(1)
                with m.If(csr.ar.ready):
                    m.next = "REG_READ_DATA"
            with m.State("REG_READ_DATA"):
                m.d.comb += csr.r.ready.eq(1)
                with m.If(csr.r.valid):
                    m.d.sync += [value.eq(csr.r.payload.data), out_byte.eq(csr.r.payload.data[:8]),
                                 out_left.eq(3)]
                    m.next = "REG_SEND"
            with m.State("REG_SEND"):
                m.d.comb += tx.valid.eq(1)
                with m.If(tx.ready):
                    m.d.sync += [value.eq(value >> 8), out_byte.eq(value[8:16]),
                                 out_left.eq(out_left - 1)]
                    with m.If(out_left == 0):
                        m.next = "OPCODE"

            with m.State("SEND"):
                m.d.comb += tx.valid.eq(1)
                with m.If(tx.ready):
                    m.next = "OPCODE"
        return m
