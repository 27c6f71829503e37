"""Post-processing: int32 accumulator rows to int8 activation rows (bias, requantisation,
zero point, activation clamp), bit-exact to :func:`systole.quant.requantize`."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["PostProcessor", "postproc_params_layout", "postproc_in_layout",
           "postproc_out_layout", "channel_params_layout"]

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def channel_params_layout(cols: int) -> data.StructLayout:
    """Per-output-channel parameters, ``cols`` of each (the parameter buffer word)."""
    return data.StructLayout({
        "bias": data.ArrayLayout(signed(32), cols),
        "multiplier": data.ArrayLayout(signed(32), cols),
        "shift": data.ArrayLayout(unsigned(8), cols),
    })


def postproc_params_layout(cols: int) -> data.StructLayout:
    """Everything that turns one row: the channel parameters and the per-tensor ones."""
    return data.StructLayout({
        "channel": channel_params_layout(cols),
        "zero_point": signed(8), "act_min": signed(8), "act_max": signed(8),
    })


def postproc_in_layout(cols: int) -> data.StructLayout:
    return data.StructLayout({"acc": data.ArrayLayout(signed(32), cols),
                              "params": postproc_params_layout(cols)})


def postproc_out_layout(cols: int) -> data.ArrayLayout:
    return data.ArrayLayout(signed(8), cols)


class PostProcessor(wiring.Component):
    """Requantises one row of ``cols`` int32 accumulators per cycle into ``cols`` int8 values.

    Per channel ``c`` (see ``docs/quant.md``): ``x = wrap32(acc + bias)``, ``y =
    srdhm(x, multiplier)`` (``floor(x * m / 2**31 + 1/2)``, ``-2**31 * -2**31`` saturating),
    ``z = rdbpot(y, shift)`` (ties away from zero; shifts above 31 are treated as 31), ``out =
    min(max(z + zero_point, act_min), act_max)`` (``act_max`` wins if ``act_min > act_max``).
    The parameters travel with each row, so rows with different parameters may follow each
    other.

    Parameters
    ----------
    cols : int
        Channels per row (the array's columns).

    Members
    -------
    rows_in : In(stream.Signature(postproc_in_layout(cols)))
        Accumulator row and its parameters.
    rows_out : Out(stream.Signature(postproc_out_layout(cols)))
        int8 row.

    Latency
    -------
    :attr:`latency` = 5 cycles from a row accepted to its result valid (bias add, multiply,
    rounding high half, rounding shift, offset and clamp); initiation interval 1. The pipeline
    advances as a whole: it stalls only while its output is valid and not ready, so
    ``rows_in.ready`` is ``~rows_out.valid | rows_out.ready``.
    """

    latency = 5

    def __init__(self, cols: int):
        if not isinstance(cols, int) or cols < 1:
            self._MustUse__silence = True      # never built: no "unused elaboratable" warning
            raise ValueError(f"cols must be a positive int, not {cols!r}")
        self.cols = cols
        super().__init__({
            "rows_in": In(stream.Signature(postproc_in_layout(cols))),
            "rows_out": Out(stream.Signature(postproc_out_layout(cols))),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cols = self.cols
        advance = Signal()
        m.d.comb += [advance.eq(~self.rows_out.valid | self.rows_out.ready),
                     self.rows_in.ready.eq(advance)]
        valid = Signal(self.latency)
        with m.If(advance):
            m.d.sync += valid.eq((valid << 1) | self.rows_in.valid)
        m.d.comb += self.rows_out.valid.eq(valid[-1])

        def stage(name, shape):
            """A pipeline register (loaded below, under ``advance``)."""
            return Signal(shape, name=name)

        params_in = self.rows_in.payload.params
        tensor = [stage(f"tensor{i}", data.StructLayout({"zero_point": signed(8),
                                                         "act_min": signed(8),
                                                         "act_max": signed(8)}))
                  for i in range(4)]
        with m.If(advance):
            m.d.sync += [tensor[0].zero_point.eq(params_in.zero_point),
                         tensor[0].act_min.eq(params_in.act_min),
                         tensor[0].act_max.eq(params_in.act_max)]
            m.d.sync += [tensor[i].eq(tensor[i - 1]) for i in range(1, 4)]
        last = tensor[-1]

        for c in range(cols):
            acc = self.rows_in.payload.acc[c]
            channel = params_in.channel
            # Stage 1: bias, wrapping like int32.
            x = stage(f"x{c}", signed(32))
            mult1 = stage(f"mult1_{c}", signed(32))
            shift1 = stage(f"shift1_{c}", unsigned(5))
            # Stage 2: the exact 64-bit product.
            product = stage(f"product{c}", signed(64))
            saturate = stage(f"saturate{c}", 1)
            shift2 = stage(f"shift2_{c}", unsigned(5))
            # Stage 3: rounding high half, floor((x * m + 2**30) / 2**31).
            y = stage(f"y{c}", signed(32))
            shift3 = stage(f"shift3_{c}", unsigned(5))
            # Stage 4: rounding division by 2**shift, ties away from zero.
            z = stage(f"z{c}", signed(32))
            # Stage 5: offset and clamp.
            out = stage(f"out{c}", signed(8))

            shift_in = channel.shift[c]
            mask = Signal(unsigned(32), name=f"mask{c}")
            remainder = Signal(unsigned(32), name=f"remainder{c}")
            threshold = Signal(unsigned(32), name=f"threshold{c}")
            offset = Signal(signed(34), name=f"offset{c}")
            low = Signal(signed(34), name=f"low{c}")
            m.d.comb += [
                mask.eq((1 << shift3) - 1),
                remainder.eq(y.as_unsigned() & mask),
                threshold.eq((mask >> 1) + y[31]),
                offset.eq(z + last.zero_point),
                low.eq(Mux(offset < last.act_min, last.act_min, offset)),
            ]
            with m.If(advance):
                m.d.sync += [
                    x.eq((acc + channel.bias[c])[:32].as_signed()),
                    mult1.eq(channel.multiplier[c]),
                    shift1.eq(Mux(shift_in > 31, 31, shift_in)),
                    product.eq(x * mult1),
                    saturate.eq((x == INT32_MIN) & (mult1 == INT32_MIN)),
                    shift2.eq(shift1),
                    y.eq(Mux(saturate, INT32_MAX, ((product + (1 << 30)) >> 31)[:32].as_signed())),
                    shift3.eq(shift2),
                    z.eq((y >> shift3) + (remainder > threshold)),
                    out.eq(Mux(low > last.act_max, last.act_max, low[:8].as_signed())),
                ]
            m.d.comb += self.rows_out.payload[c].eq(out)
        return m
