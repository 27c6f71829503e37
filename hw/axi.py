"""AXI4 memory-mapped interface as five ``lib.stream`` channels (AR, R, AW, W, B).

Inside the design each AXI4 channel is a stream whose payload is a ``StructLayout`` of the
channel's fields; at the Verilog top the fields are flattened to the standard AMBA names
(``m_axi0_araddr``, ``m_axi0_arvalid``, ...) by :func:`axi_port_names`, so third-party AXI models
and vendor HBM controllers connect without glue.

Only INCR bursts of full-width beats are issued (``AxSIZE`` = log2 of the data bytes,
``AxBURST`` = 1); the channel carries the full field set.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from .params import check_int

__all__ = ["AxiParams", "AxiSignature", "BURST_INCR", "RESP_OKAY", "axi_port_names",
           "flatten_axi", "flatten_channels", "join_port"]

BURST_INCR = 1
RESP_OKAY = 0
MAX_BURST_BEATS = 256       # AXI4 INCR limit (AxLEN is 8 bits)
BOUNDARY_BYTES = 4096       # bursts must not cross a 4 KiB boundary


@dataclass(frozen=True, kw_only=True)
class AxiParams:
    """Widths of one AXI4 port.

    Parameters
    ----------
    addr_width : int
        Byte-address width, 12 to 64.
    data_width : int
        Data bus width in bits: a power of two from 8 to 1024.
    id_width : int
        Transaction ID width, 1 to 16.
    """

    addr_width: int = 32
    data_width: int = 256
    id_width: int = 4

    def __post_init__(self) -> None:
        check_int("addr_width", self.addr_width, 12, 64)
        check_int("data_width", self.data_width, 8, 1024)
        if self.data_width & (self.data_width - 1):
            raise ValueError(f"data_width must be a power of two, not {self.data_width}")
        check_int("id_width", self.id_width, 1, 16)

    @property
    def data_bytes(self) -> int:
        return self.data_width // 8

    @property
    def size(self) -> int:
        """``AxSIZE`` of a full-width beat."""
        return exact_log2(self.data_bytes)

    def addr_layout(self) -> data.StructLayout:
        return data.StructLayout({"addr": self.addr_width, "id": self.id_width, "len": 8,
                                  "size": 3, "burst": 2})

    def r_layout(self) -> data.StructLayout:
        return data.StructLayout({"data": self.data_width, "id": self.id_width, "resp": 2,
                                  "last": 1})

    def w_layout(self) -> data.StructLayout:
        return data.StructLayout({"data": self.data_width, "strb": self.data_bytes, "last": 1})

    def b_layout(self) -> data.StructLayout:
        return data.StructLayout({"id": self.id_width, "resp": 2})


class AxiSignature(wiring.Signature):
    """AXI4 master (manager) port: AR, AW, W out; R, B in. ``flip()`` for a slave."""

    def __init__(self, params: AxiParams):
        self.params = params
        super().__init__({
            "ar": Out(stream.Signature(params.addr_layout())),
            "r": In(stream.Signature(params.r_layout())),
            "aw": Out(stream.Signature(params.addr_layout())),
            "w": Out(stream.Signature(params.w_layout())),
            "b": In(stream.Signature(params.b_layout())),
        })

    def __eq__(self, other):
        return isinstance(other, AxiSignature) and other.params == self.params

    def __repr__(self):
        return f"AxiSignature({self.params!r})"


def join_port(m, port, reader, writer) -> None:
    """Connect the AXI4 master ``port`` (a component's own, flipped) to two masters that share
    it: ``reader`` drives AR/R (a load DMA), ``writer`` AW/W/B (a store DMA)."""
    for channel, master in (("ar", reader), ("r", reader), ("aw", writer), ("w", writer),
                            ("b", writer)):
        wiring.connect(m, wiring.flipped(getattr(port, channel)), getattr(master, channel))


def axi_port_names(prefix: str) -> dict[tuple[str, str], str]:
    """Standard AMBA names for (channel, field) pairs, e.g. ``("ar", "valid") -> m_axi0_arvalid``
    for ``prefix="m_axi0_"``. ``field`` is a payload field, ``valid`` or ``ready``."""
    fields = {
        "ar": ("addr", "id", "len", "size", "burst"),
        "aw": ("addr", "id", "len", "size", "burst"),
        "r": ("data", "id", "resp", "last"),
        "w": ("data", "strb", "last"),
        "b": ("id", "resp"),
    }
    names = {}
    for channel, channel_fields in fields.items():
        for field in (*channel_fields, "valid", "ready"):
            names[(channel, field)] = f"{prefix}{channel}{field}"
    return names


def flatten_channels(iface, names: dict[tuple[str, str], str]) -> tuple[list, dict]:
    """Flat, standard-named signals for a channel-structured interface (AXI4, AXI4-Lite).

    ``iface`` is an interface object (or a component member) whose members are streams;
    ``names`` maps ``(channel, field)`` (payload fields, ``valid``, ``ready``) to port names.
    Directions follow the interface's signature, so master and (flipped) slave ports both work.
    Returns ``(statements, ports)``: combinational statements connecting the flat signals and a
    ``{name: (signal, "input" | "output")}`` port dictionary for a Verilog top.
    """
    statements, ports = [], {}
    for path, member, value in iface.signature.flatten(iface):
        channel, kind = path[0], path[1]
        output = member.flow == wiring.Out
        if kind == "payload":
            pieces = [(names[(channel, field)], getattr(value, field))
                      for field, _ in value.shape()]
        else:
            pieces = [(names[(channel, kind)], value)]
        for name, inner in pieces:
            flat = Signal(len(inner), name=name)
            statements.append(flat.eq(inner) if output else inner.eq(flat))
            ports[name] = (flat, "output" if output else "input")
    return statements, ports


def flatten_axi(iface, prefix: str) -> tuple[list, dict]:
    """:func:`flatten_channels` with the AXI4 names ``<prefix><channel><field>``."""
    return flatten_channels(iface, axi_port_names(prefix))
