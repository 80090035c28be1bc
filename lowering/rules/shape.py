"""Lowering rules for shape and layout primitives."""

from __future__ import annotations

from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, i64, i64_array

# Symbolic shapes take the ops' dynamic forms (NOTE [Lowering symbolic dimensions] in
# xfront/lowering/__init__.py; Block.op switches broadcast_in_dim, reshape and iota itself);
# static shapes keep the static ops (``ctx.symbolic``).


def broadcast_in_dim(ctx: LoweringRuleContext, x: Value, *, shape, dims) -> list[Value]:
    return ctx.op("stablehlo.broadcast_in_dim", [x], props={"broadcast_dimensions": i64_array(dims)})


def reshape(ctx: LoweringRuleContext, x: Value, *, shape) -> list[Value]:
    if tuple(shape) == x.aval.shape:
        return [x]
    return ctx.op("stablehlo.reshape", [x])


def transpose(ctx: LoweringRuleContext, x: Value, *, perm) -> list[Value]:
    if tuple(perm) == tuple(range(len(perm))):
        return [x]
    return ctx.op("stablehlo.transpose", [x], props={"permutation": i64_array(perm)})


def rev(ctx: LoweringRuleContext, x: Value, *, axes) -> list[Value]:
    if not axes:
        return [x]
    return ctx.op("stablehlo.reverse", [x], props={"dimensions": i64_array(axes)})


def slice_(ctx: LoweringRuleContext, x: Value, *, start, limit, strides) -> list[Value]:
    if ctx.symbolic:
        b = ctx.block
        return ctx.op("stablehlo.real_dynamic_slice", [x, b.shape_tensor(start),
                                                       b.shape_tensor(limit),
                                                       b.shape_tensor(strides)])
    return ctx.op("stablehlo.slice", [x], props={"start_indices": i64_array(start),
                                                  "limit_indices": i64_array(limit),
                                                  "strides": i64_array(strides)})


def pad(ctx: LoweringRuleContext, x: Value, value: Value, *, lo, hi, interior) -> list[Value]:
    if ctx.symbolic:
        b = ctx.block
        return ctx.op("stablehlo.dynamic_pad", [x, value, b.shape_tensor(lo), b.shape_tensor(hi),
                                                b.shape_tensor(interior)])
    return ctx.op("stablehlo.pad", [x, value], props={"edge_padding_low": i64_array(lo),
                                                       "edge_padding_high": i64_array(hi),
                                                       "interior_padding": i64_array(interior)})


def concatenate(ctx: LoweringRuleContext, *xs: Value, axis) -> list[Value]:
    return ctx.op("stablehlo.concatenate", xs, props={"dimension": i64(axis)})


def iota(ctx: LoweringRuleContext, *, shape, dtype, axis) -> list[Value]:
    return ctx.op("stablehlo.iota", [], props={"iota_dimension": i64(axis)})


def dimension_size(ctx: LoweringRuleContext, *, dim) -> list[Value]:
    return [ctx.block.dim_value(dim)]
