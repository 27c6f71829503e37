"""Commands the sequencer dispatches to the load, compute and store units.

Each is the decoded, checked instruction with only what its unit needs; ``sync`` marks a SYNC
(token operations only).
"""

from __future__ import annotations

from amaranth.lib import data

from .isa import FLAGS

__all__ = ["flags_layout", "load_cmd_layout", "compute_cmd_layout", "store_cmd_layout"]


def flags_layout() -> data.StructLayout:
    return data.StructLayout({flag: 1 for flag in FLAGS})


def load_cmd_layout() -> data.StructLayout:
    return data.StructLayout({
        "sync": 1, "flags": flags_layout(), "pc": 32,
        "buffer": 2, "buf_addr": 16, "rows": 16, "mem_addr": 32, "stride": 24,
    })


def compute_cmd_layout(matvec: bool = False) -> data.StructLayout:
    """MATMUL and SYNC; with ``matvec`` also MATVEC (``matvec`` set: ``weight_addr`` is the
    tile address and ``rows`` the tile count)."""
    return data.StructLayout({
        "sync": 1, "flags": flags_layout(), "pc": 32,
        "act_addr": 16, "weight_addr": 16, "acc_addr": 16, "rows": 16, "accumulate": 1,
        **({"matvec": 1} if matvec else {}),
    })


def store_cmd_layout() -> data.StructLayout:
    """STORE, SYNC and POSTPROC (``postproc`` set: the POSTPROC operands are valid)."""
    return data.StructLayout({
        "sync": 1, "flags": flags_layout(), "pc": 32,
        "acc_addr": 16, "rows": 16, "mem_addr": 32, "stride": 24,
        "postproc": 1, "dst": 1, "dst_addr": 16, "param_addr": 16,
        "zero_point": 8, "act_min": 8, "act_max": 8,
    })
