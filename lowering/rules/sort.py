"""Lowering rule for the sort primitive: ``stablehlo.sort`` with a comparator region that
implements NOTE [Sort order] (xfront/prims/sort.py) using only FLOAT/SIGNED/UNSIGNED compares."""

from __future__ import annotations

from xfront import _dtypes
from xfront._aval import AbstractArray
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Block, Value, boolean, enum, i64
from xfront.lowering.rules.elementwise import compare_type

_BOOL = AbstractArray((), _dtypes.bool_)


def _cmp(blk: Block, a: Value, b: Value, direction: str) -> Value:
    props = {"comparison_direction": enum("comparison_direction", direction),
             "compare_type": enum("comparison_type", compare_type(a.aval.dtype))}
    return blk.op("stablehlo.compare", [a, b], [_BOOL], props=props)[0]


def _logic(blk: Block, name: str, *vs: Value) -> Value:
    return blk.op(name, list(vs), [_BOOL])[0]


def _lex(blk: Block, keys: list[tuple[Value, Value]]) -> Value:
    """Lexicographic "a before b" over (a_k, b_k) pairs: lt_0 or (eq_0 and (lt_1 or ...))."""
    pred = None
    for a, b in reversed(keys):
        lt = _less(blk, a, b)
        if pred is None:
            pred = lt
            continue
        gt = _less(blk, b, a)
        eq = _logic(blk, "stablehlo.not", _logic(blk, "stablehlo.or", lt, gt))
        pred = _logic(blk, "stablehlo.or", lt, _logic(blk, "stablehlo.and", eq, pred))
    return pred


def _less(blk: Block, a: Value, b: Value) -> Value:
    """``a`` sorts strictly before ``b`` (ascending)."""
    d = a.aval.dtype
    if d.kind == "c":
        # NumPy: by where the NaNs are (none < imag < real < both), then by (real, imag)
        part = AbstractArray((), _dtypes.real_dtype(d))
        ra, rb = (blk.op("stablehlo.real", [v], [part])[0] for v in (a, b))
        ia, ib = (blk.op("stablehlo.imag", [v], [part])[0] for v in (a, b))
        nan = [(_cmp(blk, p, p, "NE"), _cmp(blk, q, q, "NE")) for p, q in ((ra, rb), (ia, ib))]
        return _lex(blk, nan + [(ra, rb), (ia, ib)])
    lt = _cmp(blk, a, b, "LT")
    if d.kind != "f":
        return lt
    # NaN is greater than every number; (-0.0 < 0.0) is false under FLOAT compares
    a_num = _cmp(blk, a, a, "EQ")
    b_nan = _cmp(blk, b, b, "NE")
    return _logic(blk, "stablehlo.or", lt, _logic(blk, "stablehlo.and", a_num, b_nan))


def sort(ctx: LoweringRuleContext, *xs: Value, dimension, num_keys, is_stable,
         descending) -> list[Value]:
    scalars = [AbstractArray((), x.aval.dtype) for x in xs]
    region = ctx.region([s for s in scalars for _ in (0, 1)])
    blk = region.block
    args = region.args
    pairs = [(args[2 * k], args[2 * k + 1]) for k in range(num_keys)]
    if descending:
        pairs = [(b, a) for a, b in pairs]
    pred = _lex(blk, pairs)
    blk.ret([pred])
    return ctx.op("stablehlo.sort", xs,
                  props={"dimension": i64(dimension), "is_stable": boolean(is_stable)},
                  regions=[region])
