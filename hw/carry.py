"""Compares built on the FPGA's carry chain."""

from __future__ import annotations

from amaranth.hdl import Value

__all__ = ["greater_on_carry"]


def greater_on_carry(a: Value, b: Value) -> Value:
    """``a > b`` as the sign (borrow) of ``b - a``: yosys builds the subtraction on the carry
    chain (the ECP5's CCU2C), while ``synth_ecp5`` turns a compare (``$gt``, ``$le``) into a
    tree of LUTs (its ``cmp2lut``/``cmp2lcu`` maps), four levels for 12 to 20 bits. Either
    operand may be signed; the difference is wide enough not to overflow."""
    return (Value.cast(b) - Value.cast(a))[-1]
