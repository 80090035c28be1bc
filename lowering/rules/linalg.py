"""Lowering rules for contractions."""

from __future__ import annotations

from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, dims_list, enum


def dot_general(ctx: LoweringRuleContext, x: Value, y: Value, *, contracting, batch,
                precision=None) -> list[Value]:
    (lc, rc), (lb, rb) = contracting, batch
    dn = (f"#stablehlo.dot<lhs_batching_dimensions = {dims_list(lb)}, "
          f"rhs_batching_dimensions = {dims_list(rb)}, "
          f"lhs_contracting_dimensions = {dims_list(lc)}, "
          f"rhs_contracting_dimensions = {dims_list(rc)}>")
    props = {"dot_dimension_numbers": dn}
    if precision is not None:
        p = enum("precision", precision)
        props["precision_config"] = f"[{p}, {p}]"
    return ctx.op("stablehlo.dot_general", [x, y], props=props)
