"""Lowering rules for windowed primitives: stablehlo.convolution and stablehlo.reduce_window."""

from __future__ import annotations

from typing import Any, Callable

from xfront import _dtypes
from xfront._aval import AbstractArray
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import (Value, conv_dimension_numbers, dense_i64_2d, i64,
                                   i64_array)


def conv_general_dilated(ctx: LoweringRuleContext, lhs: Value, rhs: Value, *, window_strides,
                         padding, lhs_dilation, rhs_dilation, dimension_numbers,
                         feature_group_count, batch_group_count) -> list[Value]:
    props = {
        "batch_group_count": i64(batch_group_count),
        "dimension_numbers": conv_dimension_numbers(*dimension_numbers),
        "feature_group_count": i64(feature_group_count),
        "lhs_dilation": i64_array(lhs_dilation),
        "padding": dense_i64_2d(padding),
        "rhs_dilation": i64_array(rhs_dilation),
        "window_strides": i64_array(window_strides),
    }
    return ctx.op("stablehlo.convolution", [lhs, rhs], props=props)


def reduce_window(combiner: str, init: Callable[[_dtypes.DType], Any]) -> Callable:
    """Rule for a windowed reduction with a binary StableHLO combiner op."""

    def rule(ctx: LoweringRuleContext, x: Value, *, window_dimensions, window_strides,
             padding) -> list[Value]:
        d = x.aval.dtype
        scalar = AbstractArray((), d)
        init_v = ctx.constant(init(d), scalar)
        region = ctx.binary_region(combiner, scalar)
        props = {"padding": dense_i64_2d(padding),
                 "window_dimensions": i64_array(window_dimensions),
                 "window_strides": i64_array(window_strides)}
        return ctx.op("stablehlo.reduce_window", [x, init_v], props=props, regions=[region])

    rule.__name__ = f"lower_reduce_window_{combiner.split('.')[-1]}"
    return rule
