"""Lowering rules for elementwise primitives."""

from __future__ import annotations

from typing import Callable

from xfront import _dtypes
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, enum


def elementwise(op_name: str) -> Callable:
    """Rule for a primitive that maps 1:1 onto an elementwise StableHLO/CHLO op."""

    def rule(ctx: LoweringRuleContext, *xs: Value, **params) -> list[Value]:
        return ctx.op(op_name, xs)

    rule.__name__ = f"lower_{op_name.replace('.', '_')}"
    return rule


def compare_type(d: _dtypes.DType) -> str:
    if d.kind in "fc":
        return "FLOAT"
    if d.kind == "i":
        return "SIGNED"
    return "UNSIGNED"  # unsigned ints and bool (i1)


def compare(direction: str) -> Callable:
    def rule(ctx: LoweringRuleContext, x: Value, y: Value) -> list[Value]:
        props = {"comparison_direction": enum("comparison_direction", direction),
                 "compare_type": enum("comparison_type", compare_type(x.aval.dtype))}
        return ctx.op("stablehlo.compare", [x, y], props=props)

    rule.__name__ = f"lower_compare_{direction}"
    return rule


def convert(ctx: LoweringRuleContext, x: Value, *, dtype) -> list[Value]:
    src, dst = x.aval.dtype, ctx.avals_out[0].dtype
    if src is dst:
        return [x]
    if src.kind == "c" and dst.kind not in "cb":
        # NumPy semantics: complex -> real keeps the real part
        x = ctx.op1("stablehlo.real", [x], x.aval.update(dtype=_dtypes.real_dtype(src)))
        src = x.aval.dtype
        if src is dst:
            return [x]
    if dst is _dtypes.bool_ and src is not _dtypes.bool_:
        # x != 0 (stablehlo.convert to i1 is not defined for every source type)
        zero = ctx.full(0, x.aval)
        props = {"comparison_direction": enum("comparison_direction", "NE"),
                 "compare_type": enum("comparison_type", compare_type(src))}
        return ctx.op("stablehlo.compare", [x, zero], props=props)
    return ctx.op("stablehlo.convert", [x])


def bitcast_convert(ctx: LoweringRuleContext, x: Value, *, dtype) -> list[Value]:
    return ctx.op("stablehlo.bitcast_convert", [x])


def select(ctx: LoweringRuleContext, pred: Value, on_true: Value, on_false: Value) -> list[Value]:
    return ctx.op("stablehlo.select", [pred, on_true, on_false])


def clamp(ctx: LoweringRuleContext, lo: Value, x: Value, hi: Value) -> list[Value]:
    return ctx.op("stablehlo.clamp", [lo, x, hi])
