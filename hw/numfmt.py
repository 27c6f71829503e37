"""Number formats of the processing element.

The PE is generic over a *MAC format*: the shapes of activations, weights and partial sums, and
the two arithmetic steps of a multiply-accumulate. Today there is one format, ``int8`` (signed
int8 x signed int8 -> int32); a ``bf16`` x ``bf16`` -> ``fp32`` format for training plugs in later
by implementing the same small interface.

Overflow
--------
Integer formats wrap around, exactly like numpy's fixed-width integers: the partial-sum adder
keeps the low ``acc_width`` bits of the exact sum, interpreted as two's complement. An int8 product
is at most ``(-128) * (-128) = 16384``, so an int32 column overflows only after more than 131,071
worst-case products; when it does, the hardware equals ``numpy`` int32 arithmetic
(``np.int32`` addition wraps).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Shape, Value, signed

from .params import check_choice, check_int

__all__ = ["IntMacFormat", "INT8", "FORMATS", "mac_format"]


@dataclass(frozen=True, kw_only=True)
class IntMacFormat:
    """Signed integer multiply-accumulate: ``psum + act * weight``, wrapping at ``acc_width``.

    Parameters
    ----------
    name : str
        Short name used by presets, the CLI and the JSON design description.
    act_width, weight_width : int
        Two's-complement widths of the activation and the weight operand (2 to 32 bits).
    acc_width : int
        Width of the partial sums; must hold at least one full product.

    Raises
    ------
    TypeError, ValueError
        A width is not an int or out of range; the message names it.
    """

    name: str = "int8"
    act_width: int = 8
    weight_width: int = 8
    acc_width: int = 32

    def __post_init__(self) -> None:
        check_int("act_width", self.act_width, 2, 32)
        check_int("weight_width", self.weight_width, 2, 32)
        check_int("acc_width", self.acc_width, 2, 64)
        if self.acc_width < self.product_width:
            raise ValueError(
                f"acc_width must be at least act_width + weight_width = {self.product_width}, "
                f"not {self.acc_width}")

    @property
    def product_width(self) -> int:
        return self.act_width + self.weight_width

    @property
    def act_shape(self) -> Shape:
        return signed(self.act_width)

    @property
    def weight_shape(self) -> Shape:
        return signed(self.weight_width)

    @property
    def product_shape(self) -> Shape:
        return signed(self.product_width)

    @property
    def psum_shape(self) -> Shape:
        return signed(self.acc_width)

    # Arithmetic, as Amaranth expressions. The PE registers the result of each step.
    def multiply(self, act: Value, weight: Value) -> Value:
        """The exact product; fits ``product_shape``."""
        return act * weight

    def accumulate(self, psum: Value, product: Value) -> Value:
        """``psum + product``; assigning it to a ``psum_shape`` signal wraps like numpy."""
        return psum + product

    # The same arithmetic on numpy arrays, for golden models.
    def numpy_dtype(self, role: str) -> str:
        width = {"act": self.act_width, "weight": self.weight_width,
                 "psum": self.acc_width}[role]
        for candidate in (8, 16, 32, 64):
            if width <= candidate:
                return f"int{candidate}"
        raise ValueError(f"no numpy dtype for {role} width {width}")

    def to_dict(self) -> dict:
        return {"name": self.name, "act_width": self.act_width,
                "weight_width": self.weight_width, "acc_width": self.acc_width}


INT8 = IntMacFormat()

FORMATS: dict[str, IntMacFormat] = {"int8": INT8}


def mac_format(name: str) -> IntMacFormat:
    """Look up a number format by name."""
    check_choice("fmt", name, FORMATS)
    return FORMATS[name]


