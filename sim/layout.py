"""Pack and unpack port values using the shapes in a design's JSON description.

The generated JSON describes each port's shape (``int``, ``array``, ``struct``); testbenches bind
ports from it instead of hard-coding bit offsets.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pack", "unpack"]


def pack(shape: dict, value) -> int:
    """Bits (a non-negative int) of ``value`` laid out as ``shape``.

    Raises
    ------
    ValueError
        A value does not fit its field, or an array has the wrong length.
    """
    kind = shape["kind"]
    if kind == "int":
        width, value = shape["width"], int(value)
        low, high = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if shape["signed"] \
            else (0, (1 << width) - 1)
        if not low <= value <= high:
            raise ValueError(f"{value} does not fit a {width}-bit "
                             f"{'signed' if shape['signed'] else 'unsigned'} field")
        return value & ((1 << width) - 1)
    if kind == "array":
        element, count = shape["element"], shape["count"]
        if len(value) != count:
            raise ValueError(f"array of {count} elements, got {len(value)}")
        step = element["width"]
        bits = 0
        for index, item in enumerate(value):
            bits |= pack(element, item) << (index * step)
        return bits
    if kind == "struct":
        bits = 0
        for name, field in shape["fields"].items():
            bits |= pack(field, value[name]) << field["offset"]
        return bits
    raise ValueError(f"cannot pack a port of kind {kind!r}")


def unpack(shape: dict, bits: int):
    """The value (int, list or dict) that ``bits`` hold for ``shape``."""
    kind = shape["kind"]
    if kind == "int":
        width = shape["width"]
        value = bits & ((1 << width) - 1)
        if shape["signed"] and value >> (width - 1):
            value -= 1 << width
        return value
    if kind == "array":
        element, count = shape["element"], shape["count"]
        step = element["width"]
        if element["kind"] == "int" and step in (8, 16, 32, 64):
            # Whole-vector fast path: one conversion instead of one per element.
            raw = (bits & ((1 << (step * count)) - 1)).to_bytes(step * count // 8, "little")
            dtype = f"<{'i' if element['signed'] else 'u'}{step // 8}"
            return np.frombuffer(raw, dtype=dtype).astype(np.int64).tolist()
        return [unpack(element, bits >> (index * step)) for index in range(count)]
    if kind == "struct":
        return {name: unpack(field, bits >> field["offset"])
                for name, field in shape["fields"].items()}
    raise ValueError(f"cannot unpack a port of kind {kind!r}")
