"""Control and status registers of the chip, on its AXI4-Lite slave port (32-bit registers).

Defined once here; the hardware register file, the host driver, the C header and the docs are
generated from :data:`REGISTERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Register", "REGISTERS", "REG", "ID_VALUE", "CTRL_START", "CTRL_IRQ_ENABLE",
           "STATUS_BUSY", "STATUS_DONE", "STATUS_ERROR", "register_view"]


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str      # "rw", "ro", "w1c" (write 1 to clear bits), "wo"
    doc: str


REGISTERS: tuple[Register, ...] = (
    Register("CTRL", 0x00, "rw", "bit 0 START (write 1 to start at PROG_ADDR; reads 0), "
                                 "bit 1 IRQ_ENABLE"),
    Register("STATUS", 0x04, "w1c", "bit 0 BUSY (ro), bit 1 DONE (w1c; the interrupt), "
                                    "bit 2 ERROR (ro; cleared by START)"),
    Register("ERROR_CODE", 0x08, "ro", "ErrorCode of the instruction that stopped the machine"),
    Register("ERROR_PC", 0x0C, "ro", "byte address of that instruction (low 32 bits)"),
    Register("PROG_ADDR", 0x10, "rw", "byte address of the first instruction, beat-aligned"),
    Register("CYCLES_LO", 0x18, "ro", "cycles from START to DONE, low word"),
    Register("CYCLES_HI", 0x1C, "ro", "cycles from START to DONE, high word"),
    Register("INSTRUCTIONS", 0x20, "ro", "instructions dispatched"),
    Register("ARRAY_BUSY", 0x24, "ro", "cycles in which the array accepted an activation vector"),
    Register("BYTES_READ", 0x28, "ro", "bytes read from memory (all ports, data and program)"),
    Register("BYTES_WRITTEN", 0x2C, "ro", "bytes written to memory"),
    Register("CONFIG", 0x30, "ro", "bits [8:0] array rows, [24:16] array columns (0 = 256)"),
    Register("ID", 0x34, "ro", "0x5157_0001: 'systole', register map version 1"),
    Register("STALL_WEIGHTS", 0x38, "ro",
             "cycles an activation vector waited for its weight tile to shift in"),
    Register("STALL_INPUTS", 0x3C, "ro",
             "cycles the compute unit held a MATMUL but no vector reached the array "
             "(buffer read latency, bubbles between commands)"),
    Register("STALL_MEMORY", 0x40, "ro",
             "cycles the next MATMUL waited for a LOAD token (operands coming from memory)"),
    Register("STALL_DRAIN", 0x44, "ro",
             "cycles waiting for results to leave: a STORE token, results in flight in the "
             "array, or only STORE work left"),
    Register("STALL_SEQUENCER", 0x48, "ro",
             "cycles with nothing for the array because instructions were being fetched or "
             "decoded; ARRAY_BUSY and the STALL_* registers add up to CYCLES"),
)

REG = {reg.name: reg for reg in REGISTERS}

CTRL_START = 1 << 0
CTRL_IRQ_ENABLE = 1 << 1
STATUS_BUSY = 1 << 0
STATUS_DONE = 1 << 1
STATUS_ERROR = 1 << 2
ID_VALUE = 0x5157_0001


def register_view() -> dict:
    """JSON-able register map."""
    return {reg.name: {"offset": reg.offset, "access": reg.access, "doc": reg.doc}
            for reg in REGISTERS}
