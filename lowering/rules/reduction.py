"""Lowering rules for reductions (stablehlo.reduce with a scalar combiner region)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xfront import _dtypes, _shapes
from xfront._aval import AbstractArray
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, enum, i64, i64_array
from xfront.lowering.rules.elementwise import compare_type


def reduce(combiner: str, init: Callable[[_dtypes.DType], Any]) -> Callable:
    """Rule for a single-operand reduction with a binary StableHLO combiner op."""

    def rule(ctx: LoweringRuleContext, x: Value, *, axes) -> list[Value]:
        d = x.aval.dtype
        scalar = AbstractArray((), d)
        init_v = ctx.constant(init(d), scalar)
        region = ctx.binary_region(combiner, scalar)
        return ctx.op("stablehlo.reduce", [x, init_v],
                      props={"dimensions": i64_array(axes)}, regions=[region])

    rule.__name__ = f"lower_reduce_{combiner.split('.')[-1]}"
    return rule


def argreduce(direction: str) -> Callable:
    """argmax (direction 'GT') / argmin ('LT') along one axis; first index wins ties, NaN wins."""

    def rule(ctx: LoweringRuleContext, x: Value, *, axis, index_dtype) -> list[Value]:
        d = x.aval.dtype
        out = ctx.avals_out[0]
        idx_aval = AbstractArray(x.aval.shape, index_dtype)
        idx = ctx.op1("stablehlo.iota", [], idx_aval, props={"iota_dimension": i64(axis)})
        sv, si = AbstractArray((), d), AbstractArray((), index_dtype)
        if d.kind == "f":
            init = float("-inf") if direction == "GT" else float("inf")
        elif d.kind == "b":
            init = direction != "GT"
        else:
            info = np.iinfo(d.np)
            init = int(info.min) if direction == "GT" else int(info.max)
        init_v = ctx.constant(init, sv)
        init_i = ctx.constant(0, si)
        region = ctx.region([sv, si, sv, si])
        av, ai, bv, bi = region.args
        blk = region.block
        bool_s = AbstractArray((), _dtypes.bool_)

        def cmp(p, q, dirn, ct=None):
            props = {"comparison_direction": enum("comparison_direction", dirn),
                     "compare_type": enum("comparison_type", ct or compare_type(p.aval.dtype))}
            return blk.op("stablehlo.compare", [p, q], [bool_s], props=props)[0]

        def op(name, *vs, aval=bool_s):
            return blk.op(name, list(vs), [aval])[0]

        better = cmp(av, bv, direction)
        eq = cmp(av, bv, "EQ")
        a_first = cmp(ai, bi, "LT")
        pick_a = op("stablehlo.or", better, op("stablehlo.and", eq, a_first))
        if d.kind == "f":  # NaN beats everything; the first NaN wins
            a_nan = cmp(av, av, "NE")
            b_nan = cmp(bv, bv, "NE")
            nan_pick = op("stablehlo.and", a_nan,
                          op("stablehlo.or", op("stablehlo.not", b_nan), a_first))
            neither = op("stablehlo.not", op("stablehlo.or", a_nan, b_nan))
            pick_a = op("stablehlo.or", nan_pick, op("stablehlo.and", neither, pick_a))
        rv = blk.op("stablehlo.select", [pick_a, av, bv], [sv])[0]
        ri = blk.op("stablehlo.select", [pick_a, ai, bi], [si])[0]
        blk.ret([rv, ri])
        vals_aval = out.update(dtype=d)
        res = ctx.op("stablehlo.reduce", [x, idx, init_v, init_i], [vals_aval, out],
                     props={"dimensions": i64_array((axis,))}, regions=[region])
        return [res[1]]

    rule.__name__ = f"lower_arg{'max' if direction == 'GT' else 'min'}"
    return rule


# NOTE [Scans along a symbolic axis]
#     The static scan unrolls ceil(log2 n) shift-and-combine steps. For a symbolic length n the
#     steps are unrolled up to the largest length the axis can have (2**31 - 1 for a symbol:
#     sizes are i32 in the lowered program), and step k shifts by min(n, k): after shape
#     refinement a step with k >= n shifts the whole axis out, i.e. combines with a splat of the
#     identity, which XLA's algebraic simplifier removes (x + 0, x * 1, max(x, lowest)), so the
#     compiled code is the static scan's. The shift is a dynamic_pad of the cropped operand
#     (real_dynamic_slice), both of which refinement turns into their static forms.
_SCAN_MAX_STEPS = 64


def _symbolic_scan(ctx: LoweringRuleContext, x: Value, combiner: str, pad_v: Value,
                   axis: int) -> Value:
    aval = x.aval
    n = aval.shape[axis]
    nd = aval.ndim
    b = ctx.block
    ub = _shapes.upper_bound(n)
    k = 1
    for _ in range(_SCAN_MAX_STEPS):
        if k >= ub:
            break
        s = _shapes.dim_min(n, k)
        limit = list(aval.shape)
        limit[axis] = n - s
        part = ctx.op1("stablehlo.real_dynamic_slice",
                       [x, b.shape_tensor([0] * nd), b.shape_tensor(limit),
                        b.shape_tensor([1] * nd)], aval.update(shape=tuple(limit)))
        lo = [0] * nd
        lo[axis] = s
        shifted = ctx.op1("stablehlo.dynamic_pad",
                          [part, pad_v, b.shape_tensor(lo), b.shape_tensor([0] * nd),
                           b.shape_tensor([0] * nd)], aval)
        x = ctx.op1(combiner, [x, shifted], aval)
        k *= 2
    return x


def _scan(ctx: LoweringRuleContext, x: Value, combiner: str, pad: Any, axis: int) -> Value:
    """Inclusive scan of ``x`` along ``axis`` with ``combiner`` (``pad``: its identity)."""
    aval = x.aval
    pad_v = ctx.constant(pad, AbstractArray((), aval.dtype))
    if not _shapes.is_static_shape(aval.shape):  # (a symbolic axis, or another one)
        return _symbolic_scan(ctx, x, combiner, pad_v, axis)
    n = aval.shape[axis]
    nd = aval.ndim
    k = 1
    while k < n:
        limit = list(aval.shape)
        limit[axis] = n - k
        part_aval = aval.update(shape=limit)
        part = ctx.op1("stablehlo.slice", [x], part_aval,
                       props={"start_indices": i64_array([0] * nd),
                              "limit_indices": i64_array(limit),
                              "strides": i64_array([1] * nd)})
        lo = [0] * nd
        lo[axis] = k
        shifted = ctx.op1("stablehlo.pad", [part, pad_v], aval,
                          props={"edge_padding_low": i64_array(lo),
                                 "edge_padding_high": i64_array([0] * nd),
                                 "interior_padding": i64_array([0] * nd)})
        x = ctx.op1(combiner, [x, shifted], aval)
        k *= 2
    return x


# NOTE [Special values of a floating cumulative product]
#     The shift-and-combine scan multiplies partial products in another order than the
#     sequential x0 * x1 * x2 ..., so a partial product can overflow to inf (or underflow to 0)
#     before it meets a 0 (or an inf) and give 0 * inf = NaN where the sequential product has
#     0 or inf: [0, 1e300, 1e300] -> [0, 0, nan]. For real floating dtypes the special values
#     are therefore taken from scans whose results do not depend on the order:
#       - one or-scan of per-element flags packed in a ui8 (bit 0: the element is +-0, bit 1:
#         +-inf, bit 2: NaN), so each prefix knows whether it holds a zero, an inf, a NaN;
#       - one xor-scan of the sign bits (the sign of an IEEE product is the xor of the operands'
#         signs, for zeros and infs too);
#     and the result is NaN if the prefix holds a NaN, or both a zero and an inf; else a zero
#     of the scanned sign if it holds a zero; else an inf of that sign if it holds an inf; else
#     the fast scan's value (which then met no zero, inf or NaN element).
#     "Zero" is tested with a float compare, i.e. as this platform's multiply sees it: XLA:CPU
#     flushes subnormal operands to zero, so there [inf, 2e-309] gives [inf, nan] as the
#     elementwise inf * 2e-309 does (NumPy: inf).
#     What still differs from the sequential order is where finite elements overflow or
#     underflow, a rounding-class difference any parallel scan has: (a) a finite prefix that
#     overflows before a 0 arrives ([1e200, 1e200, 0]) is NaN sequentially, 0 here (and one
#     that underflows before an inf arrives is NaN there, inf here); (b) where the grouping
#     made both an inf and a 0 from finite nonzero elements only ([1e200, 1e200, 1e-200,
#     1e-200]: sequentially inf) a prefix can come back finite, and where the scan gives NaN it
#     is kept, as the magnitude was lost and no choice of inf or 0 is right for every order;
#     (c) products that underflow through subnormals. Complex products keep the plain scan: their special values (an inf in
#     either part) do not reduce to per-element flags this cheaply.
def _float_cumprod(ctx: LoweringRuleContext, x: Value, axis: int) -> Value:
    aval = x.aval
    d = aval.dtype
    b_aval = aval.update(dtype=_dtypes.bool_)
    u_aval = aval.update(dtype=_dtypes.uint8)
    ity = _dtypes.int_of_size(d.itemsize)
    fcmp = enum("comparison_type", "FLOAT")

    def cmp(p: Value, q: Value, dirn: str, ct: str) -> Value:
        return ctx.op1("stablehlo.compare", [p, q], b_aval,
                       props={"comparison_direction": enum("comparison_direction", dirn),
                              "compare_type": ct})

    def flag(p: Value, bit: int) -> Value:
        return ctx.op1("stablehlo.select", [p, ctx.full(bit, u_aval), ctx.full(0, u_aval)],
                       u_aval)

    def has(flags: Value, bit: int) -> Value:
        masked = ctx.op1("stablehlo.and", [flags, ctx.full(bit, u_aval)], u_aval)
        return cmp(masked, ctx.full(0, u_aval), "NE", enum("comparison_type", "UNSIGNED"))

    def sel(p: Value, a: Value, c: Value) -> Value:
        return ctx.op1("stablehlo.select", [p, a, c], aval)

    raw = _scan(ctx, x, "stablehlo.multiply", 1, axis)
    i_aval = aval.update(dtype=ity)
    # NOTE: a float compare, so that "zero" is what this platform's multiply treats as zero:
    # XLA:CPU flushes subnormal operands to zero, and there inf * 2e-309 is NaN as 0 * inf is
    is_zero = cmp(x, ctx.full(0, aval), "EQ", fcmp)
    is_inf = cmp(ctx.op1("stablehlo.abs", [x], aval), ctx.full(float("inf"), aval), "EQ", fcmp)
    is_nan = cmp(x, x, "NE", fcmp)
    flags = ctx.op1("stablehlo.or", [ctx.op1("stablehlo.or", [flag(is_zero, 1), flag(is_inf, 2)],
                                             u_aval), flag(is_nan, 4)], u_aval)
    flags = _scan(ctx, flags, "stablehlo.or", 0, axis)
    bits = ctx.op1("stablehlo.bitcast_convert", [x], i_aval)
    neg = cmp(bits, ctx.full(0, i_aval), "LT", enum("comparison_type", "SIGNED"))
    neg = _scan(ctx, neg, "stablehlo.xor", False, axis)
    zero_seen, inf_seen, nan_seen = has(flags, 1), has(flags, 2), has(flags, 4)
    signed_zero = sel(neg, ctx.full(-0.0, aval), ctx.full(0.0, aval))
    signed_inf = sel(neg, ctx.full(float("-inf"), aval), ctx.full(float("inf"), aval))
    out = sel(zero_seen, signed_zero, raw)
    out = sel(inf_seen, signed_inf, out)
    bad = ctx.op1("stablehlo.or", [nan_seen, ctx.op1("stablehlo.and", [zero_seen, inf_seen],
                                                     b_aval)], b_aval)
    return sel(bad, ctx.full(float("nan"), aval), out)


def cumulative(combiner: str, init: Callable[[_dtypes.DType], Any]) -> Callable:
    """Inclusive scan along ``axis`` in ceil(log2 n) shift-and-combine steps (O(n log n) work,
    fully parallel; stablehlo.reduce_window would be O(n^2) on XLA:CPU for long axes)."""

    def rule(ctx: LoweringRuleContext, x: Value, *, axis: int, reverse: bool) -> list[Value]:
        aval = x.aval
        rev = {"dimensions": i64_array((axis,))}
        if reverse:
            x = ctx.op1("stablehlo.reverse", [x], aval, props=rev)
        if combiner == "stablehlo.multiply" and aval.dtype.kind == "f":
            x = _float_cumprod(ctx, x, axis)
        else:
            x = _scan(ctx, x, combiner, init(aval.dtype), axis)
        if reverse:
            x = ctx.op1("stablehlo.reverse", [x], aval, props=rev)
        return [x]

    rule.__name__ = f"lower_cumulative_{combiner.split('.')[-1]}"
    return rule
