"""Lowering rule for the fft primitive: ``stablehlo.fft`` over the trailing axes."""

from __future__ import annotations

from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, i64_array


def fft(ctx: LoweringRuleContext, x: Value, *, fft_type: str, fft_length: tuple) -> list[Value]:
    out = ctx.avals_out[0]
    if x.aval.size == 0 or out.size == 0:  # XLA rejects empty transforms; nothing to compute
        return [ctx.full(0, out)]
    return ctx.op("stablehlo.fft", [x],
                  props={"fft_type": f"#stablehlo<fft_type {fft_type}>",
                         "fft_length": i64_array(fft_length)})
