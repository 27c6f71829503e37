"""AXI4-Lite: the control port of the chip (32-bit data)."""

from __future__ import annotations

from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AXIL_ADDR_WIDTH", "AxiLiteSignature", "axil_port_names"]

AXIL_ADDR_WIDTH = 8
DATA_WIDTH = 32


class AxiLiteSignature(wiring.Signature):
    """AXI4-Lite master view (AW, W, AR out; B, R in); ``.flip()`` for the slave."""

    def __init__(self, addr_width: int = AXIL_ADDR_WIDTH):
        self.addr_width = addr_width
        super().__init__({
            "aw": Out(stream.Signature(data.StructLayout({"addr": addr_width, "prot": 3}))),
            "w": Out(stream.Signature(data.StructLayout({"data": DATA_WIDTH, "strb": 4}))),
            "b": In(stream.Signature(data.StructLayout({"resp": 2}))),
            "ar": Out(stream.Signature(data.StructLayout({"addr": addr_width, "prot": 3}))),
            "r": In(stream.Signature(data.StructLayout({"data": DATA_WIDTH, "resp": 2}))),
        })


def axil_port_names(prefix: str) -> dict[tuple[str, str], str]:
    """Standard names, e.g. ``("aw", "addr") -> s_axil_awaddr`` for ``prefix="s_axil_"``."""
    fields = {"aw": ("addr", "prot"), "w": ("data", "strb"), "b": ("resp",),
              "ar": ("addr", "prot"), "r": ("data", "resp")}
    return {(channel, field): f"{prefix}{channel}{field}"
            for channel, names in fields.items() for field in (*names, "valid", "ready")}
