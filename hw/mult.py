"""The PE's registered multiplier: generic (inferred) or on an ECP5 MULT18X18D.

Both implementations have the same cycle-level behaviour, so a PE built on either is identical
at its ports (pinned by ``tests/sim/test_mult_ecp5.py`` against a behavioural model of the DSP):

* ``weight`` is a register loaded from ``shadow`` at the end of a cycle with ``swap`` set, and
  cleared by the synchronous reset;
* ``product`` is a register (not reset): at the end of every cycle it takes
  ``act * weight`` of that cycle.

The generic multiplier is what yosys infers for any target. On ECP5 the inferred multiplier
leaves both registers in the fabric, so the multiplier's routing sits in the critical path; the
``ecp5`` multiplier instantiates MULT18X18D directly with the product in its output register.
The activation and the weight (a fabric register) enter the DSP unregistered: the activation
must be multiplied in the cycle it arrives, and the weight stays out of the DSP's input register
so that all DSPs share one clock enable (see :class:`Ecp5Multiplier`).
"""

from __future__ import annotations

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, Value

from .numfmt import IntMacFormat
from .params import check_choice

__all__ = ["MULTIPLIERS", "RegisteredMultiplier", "GenericMultiplier", "Ecp5Multiplier",
           "multiplier", "ecp5_registered_product"]

#: Widest signed operand of one ECP5 MULT18X18D.
ECP5_OPERAND_BITS = 18


class RegisteredMultiplier:
    """Weight register plus registered product (see the module docstring for the contract).

    Not a submodule: :meth:`build` adds the logic to the PE's own module, so the PE stays one
    Verilog module (the converted design keeps one module per distinct cell).

    Parameters
    ----------
    fmt : IntMacFormat

    Latency
    -------
    ``act`` to ``product``: 1 cycle. A weight swapped in at cycle t multiplies from cycle t + 1.
    """

    def __init__(self, fmt: IntMacFormat):
        self.fmt = fmt

    def build(self, m: Module, act: Value, shadow: Value, swap: Value) -> Value:
        """Add the multiplier to ``m``; return ``product``.

        ``act`` is multiplied in the cycle it is presented; ``shadow`` is loaded into the
        weight register at the end of a cycle with ``swap`` set; ``product`` is ``act *
        weight`` of the previous cycle (``fmt.product_shape``).
        """
        raise NotImplementedError


class GenericMultiplier(RegisteredMultiplier):
    """Inferred multiplier: fabric weight and product registers (any target)."""

    def build(self, m: Module, act: Value, shadow: Value, swap: Value) -> Value:
        weight = Signal(self.fmt.weight_shape, name="weight")
        # No reset on the product: results are only taken from cycles marked valid.
        product = Signal(self.fmt.product_shape, reset_less=True, name="product")
        with m.If(swap):
            m.d.sync += weight.eq(shadow)
        m.d.sync += product.eq(self.fmt.multiply(act, weight))
        return product


class Ecp5Multiplier(RegisteredMultiplier):
    """Lattice ECP5 MULT18X18D: weight register in the fabric, product in the DSP's output register.

    The output register is the only DSP register used: clock CLK0, clock enable CE0 = 1, reset
    RST0 = 0 (the product has no reset), so every DSP of the array has the same CLK, CE and RST
    signals. A DSP block of the ECP5 (four MULT18X18D) has only four CE, four CLK and four RST
    inputs for all its multipliers; with the weight in each DSP's B input register (clock
    enable = that PE's own ``swap``, plus CE = 1 for the output register) a full block needed
    five different clock enables, and nextpnr could not route the array (12 x 12: placed, but
    router2 kept thousands of overused wires). The weight register (clock enable ``swap``,
    synchronous reset like the generic one) therefore sits in the fabric next to the DSP and
    feeds the B input directly, like the activation the A input. Operands are sign-extended to
    18 bits (SIGNEDA = SIGNEDB = 1).

    Raises
    ------
    ValueError
        An operand is wider than 18 bits.
    """

    def __init__(self, fmt: IntMacFormat):
        for name, width in (("act_width", fmt.act_width), ("weight_width", fmt.weight_width)):
            if width > ECP5_OPERAND_BITS:
                raise ValueError(f"{name} must be at most {ECP5_OPERAND_BITS} for the ecp5 "
                                 f"multiplier, not {width}")
        super().__init__(fmt)

    def build(self, m: Module, act: Value, shadow: Value, swap: Value) -> Value:
        weight = Signal(self.fmt.weight_shape, name="weight")
        with m.If(swap):
            m.d.sync += weight.eq(shadow)
        # The unused clocks, enables and resets stay unconnected: tying them to constants
        # made nextpnr fail to route the constant net to ~150 DSPs.
        p = _mult18x18d(m, "dsp", act, weight, signed=True, ce=Const(1, 1))
        return p[:self.fmt.product_width].as_signed()


def _mult18x18d(m: Module, name: str, a: Value, b: Value, *, signed: bool,
                ce: Value) -> Signal:
    """Add a MULT18X18D ``name`` to ``m`` multiplying ``a`` and ``b`` (extended to 18 bits) and
    return its 36-bit ``P`` from the output register: clock CLK0 (the domain's clock), clock
    enable CE0 = ``ce``, no reset (RST0 = 0). The input and pipeline registers are bypassed;
    C, SRIA, SRIB, SOURCEA/B and the other clocks, enables and resets stay unconnected."""
    p = Signal(2 * ECP5_OPERAND_BITS, name=f"{name}_p")
    ports = {}
    for index in range(ECP5_OPERAND_BITS):
        # Extension as bit selects: plain wires, no combinational process.
        ports[f"i_A{index}"] = a[index] if index < len(a) else (a[-1] if signed else 0)
        ports[f"i_B{index}"] = b[index] if index < len(b) else (b[-1] if signed else 0)
    for index in range(2 * ECP5_OPERAND_BITS):
        ports[f"o_P{index}"] = p[index]
    m.submodules[name] = Instance(
        "MULT18X18D",
        p_REG_INPUTA_CLK="NONE", p_REG_INPUTB_CLK="NONE", p_REG_INPUTC_CLK="NONE",
        p_REG_PIPELINE_CLK="NONE",
        p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
        p_CLK0_DIV="ENABLED", p_CLK1_DIV="ENABLED", p_CLK2_DIV="ENABLED",
        p_CLK3_DIV="ENABLED", p_HIGHSPEED_CLK="NONE", p_GSR="DISABLED",
        p_CAS_MATCH_REG="FALSE", p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED",
        p_RESETMODE="SYNC",
        i_SIGNEDA=Const(int(signed), 1), i_SIGNEDB=Const(int(signed), 1),
        i_CLK0=ClockSignal(), i_CE0=ce, i_RST0=Const(0, 1), **ports)
    return p


def ecp5_registered_product(m: Module, name: str, a: Value, b: Value, *,
                            keep: Value) -> Signal:
    """Unsigned ``a * b`` (each at most 18 bits) on one ECP5 MULT18X18D whose output register
    takes the product at the end of a cycle with ``keep``. Returns that register (36 bits;
    zero after configuration). ``a`` and ``b`` enter the DSP unregistered: from registers next
    to it (fed from further away through the DSP's input registers, the route to the DSP was
    the longer path).

    Raises
    ------
    ValueError
        An operand is wider than 18 bits.
    """
    for operand, value in (("a", a), ("b", b)):
        if len(value) > ECP5_OPERAND_BITS:
            raise ValueError(f"operand {operand} must be at most {ECP5_OPERAND_BITS} bits for "
                             f"a MULT18X18D, not {len(value)}")
    return _mult18x18d(m, name, a, b, signed=False, ce=keep)


MULTIPLIERS: dict[str, type[RegisteredMultiplier]] = {
    "generic": GenericMultiplier,
    "ecp5": Ecp5Multiplier,
}


def multiplier(name: str, fmt: IntMacFormat) -> RegisteredMultiplier:
    """The registered multiplier ``name`` (a key of :data:`MULTIPLIERS`) for ``fmt``."""
    check_choice("multiplier", name, MULTIPLIERS)
    return MULTIPLIERS[name](fmt)
