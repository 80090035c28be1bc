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


def _symbolic_scan(ctx: LoweringRuleContext, x: Value, combiner: str | Callable, pad_v: Value,
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
        x = _combine(ctx, combiner, x, shifted)
        k *= 2
    return x


def _combine(ctx: LoweringRuleContext, combiner: str | Callable, x: Value, earlier: Value) -> Value:
    if callable(combiner):
        return combiner(ctx, x, earlier)
    return ctx.op1(combiner, [x, earlier], x.aval)


def _scan(ctx: LoweringRuleContext, x: Value, combiner: str | Callable, pad: Any,
          axis: int) -> Value:
    """Inclusive scan of ``x`` along ``axis`` with ``combiner`` (a StableHLO op name, or
    ``(ctx, x, earlier) -> Value``; ``pad``: its identity)."""
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
        x = _combine(ctx, combiner, x, shifted)
        k *= 2
    return x


# NOTE [Special values of a floating cumulative product]
#     The shift-and-combine scan multiplies partial products in another order than the
#     sequential x0 * x1 * x2 ..., so a partial product can overflow to inf (or underflow to 0)
#     before it meets a 0 (or an inf) and give 0 * inf = NaN where the sequential product has
#     0 or inf: [0, 1e300, 1e300] gave [0, 0, nan]. For real floating dtypes the special values
#     therefore come from what does not depend on the order:
#       - a prefix holds a zero (an inf) iff it ends at or after the first zero (inf) of its
#         row: one min-reduction of the indices along the axis each, O(n) and exact;
#       - the scan combines with _multiply_keeping_sign: where 0 * inf of two non-NaN partial
#         products would give NaN it keeps the earlier partial product's magnitude (0 or inf)
#         with the product's sign (the sign of an IEEE product is the xor of its operands'
#         signs, for zeros, infs, overflow and underflow too). So the scan is NaN exactly after
#         a NaN element, and its sign is always the sequential product's.
#     The result is NaN if the scan is NaN or the prefix holds both a zero and an inf; else a
#     zero of the scan's sign if it holds a zero; else an inf of that sign if it holds an inf;
#     else the scan's value.
#     "Zero" is tested with a float compare, i.e. as this platform's multiply sees it: XLA:CPU
#     flushes subnormal operands to zero, so there [inf, 2e-309] gives [inf, nan] as the
#     elementwise inf * 2e-309 does (NumPy: inf).
#     What still differs from the sequential order is where finite elements overflow or
#     underflow, a rounding-class difference any parallel scan has: (a) a finite prefix that
#     overflows before a 0 arrives ([1e200, 1e200, 0]) is NaN sequentially, 0 here (and one
#     that underflows before an inf arrives is NaN there, inf here); (b) where the grouping
#     makes both an inf and a 0 from finite nonzero elements, the earlier partial product
#     wins, which is the sequential result when that part crossed its bound first, and a
#     prefix can come back finite ([1e200, 1e200, 1e-200, 1e-200] gives [1e200, inf, 1e200,
#     inf], sequentially [1e200, inf, inf, inf]); never NaN, and the sign is exact; (c)
#     products that underflow through subnormals. Complex products keep the plain scan: their
#     special values (an inf in either part) do not reduce to per-element flags this cheaply.
#     Cost, XLA:CPU on a shared 2-core host (load 3-4), median of 9-15 interleaved rounds of
#     5 calls, before -> after, per-thread CPU time of the calling thread [process CPU time]:
#     1M float32: 9.1 -> 11.2 ms (x1.24) [84.5 -> 85.0 ms, x1.01]; (1000, 1000) float64
#     along axis 0: 7.3 -> 10.9 ms (x1.50) [52.0 -> 54.6 ms, x1.04], along axis 1:
#     7.4 -> 10.4 ms (x1.33) [53.1 -> 57.6 ms, x1.08]. The extra work is two O(n)
#     min-reductions and elementwise ops fused into the scan's steps, no extra scan.
def _float_cumprod(ctx: LoweringRuleContext, x: Value, axis: int) -> Value:
    aval = x.aval
    b_aval = aval.update(dtype=_dtypes.bool_)
    i_aval = aval.update(dtype=_dtypes.int_of_size(aval.dtype.itemsize))

    def cmp(p: Value, q: Value, dirn: str, ct: str = "FLOAT") -> Value:
        return ctx.op1("stablehlo.compare", [p, q], b_aval,
                       props={"comparison_direction": enum("comparison_direction", dirn),
                              "compare_type": enum("comparison_type", ct)})

    def sel(p: Value, a: Value, c: Value, av: AbstractArray = aval) -> Value:
        return ctx.op1("stablehlo.select", [p, a, c], av)

    def negative(v: Value) -> Value:  # the sign bit (also of -0.0)
        bits = ctx.op1("stablehlo.bitcast_convert", [v], i_aval)
        return cmp(bits, ctx.full(0, i_aval), "LT", "SIGNED")

    def signed(p: Value, value: float) -> Value:
        return sel(p, ctx.full(-value, aval), ctx.full(value, aval))

    # NOTE: a float compare, so that "zero" is what this platform's multiply treats as zero
    is_zero = cmp(x, ctx.full(0, aval), "EQ")
    is_inf = cmp(ctx.op1("stablehlo.abs", [x], aval), ctx.full(float("inf"), aval), "EQ")
    # whether a prefix holds a zero (an inf): it ends at or after the first one, an
    # index found by a min-reduction along the axis (O(n), cheaper than another scan)
    n = aval.shape[axis]
    idx_dt = _dtypes.int32 if _shapes.upper_bound(n) < 2**31 else _dtypes.int64
    idx_aval = aval.update(dtype=idx_dt)
    idx = ctx.op1("stablehlo.iota", [], idx_aval, props={"iota_dimension": i64(axis)})
    none = ctx.full(int(np.iinfo(idx_dt.np).max), idx_aval)
    rest = [i for i in range(aval.ndim) if i != axis]
    red_aval = AbstractArray(tuple(aval.shape[i] for i in rest), idx_dt)
    region = ctx.binary_region("stablehlo.minimum", AbstractArray((), idx_dt))
    big = ctx.constant(int(np.iinfo(idx_dt.np).max), AbstractArray((), idx_dt))

    def seen(p: Value) -> Value:
        first = ctx.op1("stablehlo.reduce", [sel(p, idx, none, idx_aval), big], red_aval,
                        props={"dimensions": i64_array((axis,))}, regions=[region])
        first = ctx.op1("stablehlo.broadcast_in_dim", [first], idx_aval,
                        props={"broadcast_dimensions": i64_array(rest)})
        return cmp(idx, first, "GE", "SIGNED")

    zero_seen, inf_seen = seen(is_zero), seen(is_inf)
    raw = _scan(ctx, x, _multiply_keeping_sign, 1, axis)
    neg = negative(raw)
    out = sel(zero_seen, signed(neg, 0.0), raw)
    out = sel(inf_seen, signed(neg, float("inf")), out)
    bad = ctx.op1("stablehlo.or", [cmp(raw, raw, "NE"),
                                   ctx.op1("stablehlo.and", [zero_seen, inf_seen], b_aval)],
                  b_aval)
    return sel(bad, ctx.full(float("nan"), aval), out)


def _multiply_keeping_sign(ctx: LoweringRuleContext, x: Value, earlier: Value) -> Value:
    """``x * earlier``, except that 0 * inf (no NaN operand) gives ``earlier`` with the sign
    of the product, so a scan's value is NaN only after a NaN element and always has the sign
    of the sequential product (NOTE [Special values of a floating cumulative product])."""
    aval = x.aval
    b_aval = aval.update(dtype=_dtypes.bool_)
    ity = _dtypes.int_of_size(aval.dtype.itemsize)
    i_aval = aval.update(dtype=ity)
    fcmp = {"comparison_direction": enum("comparison_direction", "NE"),
            "compare_type": enum("comparison_type", "FLOAT")}

    def isnan(v: Value) -> Value:
        return ctx.op1("stablehlo.compare", [v, v], b_aval, props=fcmp)

    def op(name: str, *vs: Value, av: AbstractArray = b_aval) -> Value:
        return ctx.op1(name, list(vs), av)

    p = op("stablehlo.multiply", x, earlier, av=aval)
    operand_nan = op("stablehlo.or", isnan(x), isnan(earlier))
    lost = op("stablehlo.and", isnan(p), op("stablehlo.not", operand_nan))
    bx = op("stablehlo.bitcast_convert", x, av=i_aval)
    be = op("stablehlo.bitcast_convert", earlier, av=i_aval)
    sign = ctx.full(int(np.iinfo(ity.np).min), i_aval)  # the sign bit alone
    magnitude = op("stablehlo.and", be, op("stablehlo.not", sign, av=i_aval), av=i_aval)
    sign_bit = op("stablehlo.and", op("stablehlo.xor", bx, be, av=i_aval), sign, av=i_aval)
    kept = op("stablehlo.bitcast_convert", op("stablehlo.or", magnitude, sign_bit, av=i_aval),
              av=aval)
    return op("stablehlo.select", lost, kept, p, av=aval)


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
