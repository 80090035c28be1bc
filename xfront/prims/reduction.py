"""Reduction primitives: reduce_{sum,prod,max,min,and,or}, argmax/argmin, cumulative scans.

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors, _shapes
from xfront._aval import AbstractArray
from xfront._core import NONDIFFERENTIABLE, Primitive
from xfront.lowering.rules import reduction as L
from xfront.prims import elementwise as _ew
from xfront.prims import shape as _sh
from xfront.prims._factories import check_dtype, internal_error


def _check_axes(prim: str, x: AbstractArray, axes: tuple[int, ...]) -> None:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise internal_error(_errors.ShapeError, prim, f"bad axes {axes} for {x.short}")


def _reduce_abstract_eval(name: str, accepts: frozenset[dt.DType]) -> Callable:
    def abstract_eval(x: AbstractArray, *, axes: tuple[int, ...]) -> AbstractArray:
        check_dtype(name, x, accepts)
        _check_axes(name, x, axes)
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
        return AbstractArray(shape, x.dtype)

    return abstract_eval


def _np_reduce(fn: Callable) -> Callable:
    def ref(x: np.ndarray, *, axes) -> np.ndarray:
        with np.errstate(all="ignore"):
            return fn(x, axis=tuple(axes)) if axes else x.copy()

    return ref


def _keepdims_shape(x: Any, axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(1 if i in axes else s for i, s in enumerate(x.shape))


def _expand_back(t: Any, x: Any, axes: Sequence[int]) -> Any:
    """Broadcast a reduced value back to ``x``'s shape."""
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    return _sh.broadcast_in_dim(t, shape=x.shape, dims=kept)


def _sum_vjp(ct: Any, x: Any, *, out: Any, axes) -> list[Any]:
    return [_expand_back(ct, x, axes)]


def _maxmin_vjp(ct: Any, x: Any, *, out: Any, axes) -> list[Any]:
    # the cotangent goes to the positions that attain the extremum, split evenly among ties
    hit = _ew.eq(x, _expand_back(out, x, axes))
    mask = _ew.convert(hit, dtype=x.dtype)
    count = reduce_sum(mask, axes=axes)
    share = _ew.div(ct, count)
    return [_ew.mul(mask, _expand_back(share, x, axes))]


def _prod_vjp(ct: Any, x: Any, *, out: Any, axes) -> list[Any]:
    # d prod / d x_i = product of the other elements: exclusive prefix * exclusive suffix products
    # (no division, so zeros are handled exactly)
    kept = [i for i in range(x.ndim) if i not in axes]
    perm = kept + list(axes)
    xt = _sh.transpose(x, perm=perm)
    lead = tuple(x.shape[i] for i in kept)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    flat = _sh.reshape(xt, shape=lead + (n,))
    one = np.ones((), dtype=x.dtype.np)
    last = len(lead)
    lo = [0] * (last + 1)
    hi = [0] * (last + 1)
    lo_l = list(lo)
    lo_l[last] = 1
    hi_l = list(hi)
    hi_l[last] = -1
    excl_prefix = _sh.pad(cumprod(flat, axis=last), one, lo=lo_l, hi=hi_l)
    excl_suffix = _sh.pad(cumprod(flat, axis=last, reverse=True), one, lo=hi_l, hi=lo_l)
    others = _ew.mul(excl_prefix, excl_suffix)
    ct_b = _sh.broadcast_in_dim(ct, shape=lead + (n,), dims=tuple(range(last)))
    g = _sh.reshape(_ew.mul(others, ct_b), shape=tuple(x.shape[i] for i in perm))
    return [_sh.transpose(g, perm=tuple(int(i) for i in np.argsort(perm)))]


reduce_sum_p = Primitive("reduce_sum", abstract_eval=_reduce_abstract_eval("reduce_sum", dt.NUMERIC),
                         ref=_np_reduce(np.sum), lowering=L.reduce("stablehlo.add", lambda d: 0),
                         vjp=_sum_vjp)
reduce_prod_p = Primitive("reduce_prod",
                          abstract_eval=_reduce_abstract_eval("reduce_prod", dt.NUMERIC),
                          ref=_np_reduce(np.prod),
                          lowering=L.reduce("stablehlo.multiply", lambda d: 1), vjp=_prod_vjp)
reduce_max_p = Primitive("reduce_max",
                         abstract_eval=_reduce_abstract_eval("reduce_max", dt.ALL - dt.COMPLEX),
                         ref=_np_reduce(np.max),
                         lowering=L.reduce("stablehlo.maximum", lambda d: _lowest(d)),
                         vjp=_maxmin_vjp)
reduce_min_p = Primitive("reduce_min",
                         abstract_eval=_reduce_abstract_eval("reduce_min", dt.ALL - dt.COMPLEX),
                         ref=_np_reduce(np.min),
                         lowering=L.reduce("stablehlo.minimum", lambda d: _highest(d)),
                         vjp=_maxmin_vjp)
reduce_and_p = Primitive("reduce_and", abstract_eval=_reduce_abstract_eval("reduce_and", dt.BOOL),
                         ref=_np_reduce(np.all),
                         lowering=L.reduce("stablehlo.and", lambda d: True), vjp=NONDIFFERENTIABLE)
reduce_or_p = Primitive("reduce_or", abstract_eval=_reduce_abstract_eval("reduce_or", dt.BOOL),
                        ref=_np_reduce(np.any),
                        lowering=L.reduce("stablehlo.or", lambda d: False), vjp=NONDIFFERENTIABLE)


def _lowest(d: dt.DType) -> Any:
    if d.kind == "f":
        return -np.inf
    if d.kind == "b":
        return False
    return np.iinfo(d.np).min


def _highest(d: dt.DType) -> Any:
    if d.kind == "f":
        return np.inf
    if d.kind == "b":
        return True
    return np.iinfo(d.np).max


def _norm_axes(axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted(int(a) for a in axes))


def reduce_sum(x: Any, *, axes: Sequence[int]) -> Any:
    return reduce_sum_p.bind(x, axes=_norm_axes(axes))


def reduce_prod(x: Any, *, axes: Sequence[int]) -> Any:
    return reduce_prod_p.bind(x, axes=_norm_axes(axes))


def reduce_max(x: Any, *, axes: Sequence[int]) -> Any:
    return reduce_max_p.bind(x, axes=_norm_axes(axes))


def reduce_min(x: Any, *, axes: Sequence[int]) -> Any:
    return reduce_min_p.bind(x, axes=_norm_axes(axes))


def reduce_and(x: Any, *, axes: Sequence[int]) -> Any:
    return reduce_and_p.bind(x, axes=_norm_axes(axes))


def reduce_or(x: Any, *, axes: Sequence[int]) -> Any:
    return reduce_or_p.bind(x, axes=_norm_axes(axes))


# --- argmax / argmin -------------------------------------------------------------------------

def _arg_abstract_eval(name: str) -> Callable:
    def abstract_eval(x: AbstractArray, *, axis: int, index_dtype: dt.DType) -> AbstractArray:
        check_dtype(name, x, dt.ALL - dt.COMPLEX)
        _check_axes(name, x, (axis,))
        if x.shape[axis] == 0:
            raise internal_error(_errors.ShapeError, name, f"axis {axis} of {x.short} is empty")
        return AbstractArray(tuple(s for i, s in enumerate(x.shape) if i != axis), index_dtype)

    return abstract_eval


argmax_p = Primitive("argmax", abstract_eval=_arg_abstract_eval("argmax"),
                     ref=lambda x, *, axis, index_dtype: np.argmax(x, axis=axis).astype(index_dtype.np),
                     lowering=L.argreduce("GT"), vjp=NONDIFFERENTIABLE)
argmin_p = Primitive("argmin", abstract_eval=_arg_abstract_eval("argmin"),
                     ref=lambda x, *, axis, index_dtype: np.argmin(x, axis=axis).astype(index_dtype.np),
                     lowering=L.argreduce("LT"), vjp=NONDIFFERENTIABLE)


def argmax(x: Any, *, axis: int, index_dtype: Any = dt.int64) -> Any:
    return argmax_p.bind(x, axis=int(axis), index_dtype=dt.dtype(index_dtype))


def argmin(x: Any, *, axis: int, index_dtype: Any = dt.int64) -> Any:
    return argmin_p.bind(x, axis=int(axis), index_dtype=dt.dtype(index_dtype))


# --- cumulative scans ------------------------------------------------------------------------

def _cum_abstract_eval(name: str, accepts: frozenset[dt.DType]) -> Callable:
    def abstract_eval(x: AbstractArray, *, axis: int, reverse: bool) -> AbstractArray:
        check_dtype(name, x, accepts)
        _check_axes(name, x, (axis,))
        return AbstractArray(x.shape, x.dtype)

    return abstract_eval


def _cum_ref(fn: Callable) -> Callable:
    def ref(x: np.ndarray, *, axis: int, reverse: bool) -> np.ndarray:
        with np.errstate(all="ignore"):
            if reverse:
                return np.flip(fn(np.flip(x, axis), axis=axis), axis)
            return fn(x, axis=axis)

    return ref


def _cumsum_vjp(ct: Any, x: Any, *, out: Any, axis: int, reverse: bool) -> list[Any]:
    return [cumsum(ct, axis=axis, reverse=not reverse)]


def _shift(x: Any, axis: int, s: int, fill: Any) -> Any:
    """``out[i] = x[i - s]`` along ``axis`` (``fill`` where ``i - s`` is out of range); s may be
    negative. Written as one pad that adds ``|s|`` fill values on one side and crops the other."""
    lo = [0] * x.ndim
    hi = [0] * x.ndim
    lo[axis], hi[axis] = s, -s
    return _sh.pad(x, np.asarray(fill, dtype=x.dtype.np), lo=lo, hi=hi)


def _scan_vjp(step_vjp: Callable) -> Callable:
    """VJP of an inclusive scan, through its log-depth (Hillis-Steele) form.

    The scan is ``y <- combine(y, shift(y, s))`` for s = 1, 2, 4, ... < n, and the VJP runs those
    steps backwards: ``step_vjp(g, y, s, axis) -> g`` pulls the cotangent of one step's output
    back to its input. Costs O(n log n) work and keeps the log2(n) intermediate scans; unlike a
    closed form it needs no division (cumprod stays exact at zeros) and routes max/min ties
    deterministically.
    """
    def vjp(ct: Any, x: Any, *, out: Any, axis: int, reverse: bool) -> list[Any]:
        if reverse:
            return [_sh.rev(vjp(_sh.rev(ct, axes=(axis,)), _sh.rev(x, axes=(axis,)), out=None,
                                axis=axis, reverse=False)[0], axes=(axis,))]
        levels = []
        y, k, n = x, 1, x.shape[axis]
        # a symbolic length: steps up to its largest value, each shifting by min(n, k) (NOTE
        # [Scans along a symbolic axis] in xfront/lowering/rules/reduction.py)
        ub = _shapes.upper_bound(n)
        while k < ub:
            s = _shapes.dim_min(n, k)
            levels.append((y, s))
            y = step_vjp(None, y, s, axis)  # forward step (g=None)
            k *= 2
        g = ct
        for y, s in reversed(levels):
            g = step_vjp(g, y, s, axis)
        return [g]

    return vjp


def _cumprod_step(g: Any, y: Any, s: int, axis: int) -> Any:
    # forward: y'[i] = y[i] * y[i-s];  backward: g[i] * y[i-s] + g[i+s] * y[i+s]
    prev = _shift(y, axis, s, 1)
    if g is None:
        return _ew.mul(y, prev)
    return _ew.add(_ew.mul(g, prev), _shift(_ew.mul(g, y), axis, -s, 0))


def _cumextremum_step(compare: Callable) -> Callable:
    # forward: y'[i] = y[i-s] if i >= s and compare(y[i-s], y[i]) else y[i] (ties go to the
    # earlier element, so the cotangent reaches the first position attaining the extremum)
    def step(g: Any, y: Any, s: int, axis: int) -> Any:
        prev = _shift(y, axis, s, 0)
        valid = _shift(_sh.broadcast_in_dim(np.asarray(True), shape=y.shape, dims=()), axis, s,
                       False)
        take_prev = _ew.and_(valid, compare(prev, y))
        if g is None:
            return _ew.select(take_prev, prev, y)
        zero = _ew.full_like(g, 0)
        stay = _ew.select(take_prev, zero, g)
        moved = _ew.select(take_prev, g, zero)
        return _ew.add(stay, _shift(moved, axis, -s, 0))

    return step


cumsum_p = Primitive("cumsum", abstract_eval=_cum_abstract_eval("cumsum", dt.NUMERIC),
                     ref=_cum_ref(np.cumsum), lowering=L.cumulative("stablehlo.add", lambda d: 0),
                     vjp=_cumsum_vjp)
cumprod_p = Primitive("cumprod", abstract_eval=_cum_abstract_eval("cumprod", dt.NUMERIC),
                      ref=_cum_ref(np.cumprod),
                      lowering=L.cumulative("stablehlo.multiply", lambda d: 1),
                      vjp=_scan_vjp(_cumprod_step))
cummax_p = Primitive("cummax", abstract_eval=_cum_abstract_eval("cummax", dt.REAL_NUMERIC),
                     ref=_cum_ref(np.maximum.accumulate),
                     lowering=L.cumulative("stablehlo.maximum", _lowest),
                     vjp=_scan_vjp(_cumextremum_step(lambda a, b: _ew.ge(a, b))))
cummin_p = Primitive("cummin", abstract_eval=_cum_abstract_eval("cummin", dt.REAL_NUMERIC),
                     ref=_cum_ref(np.minimum.accumulate),
                     lowering=L.cumulative("stablehlo.minimum", _highest),
                     vjp=_scan_vjp(_cumextremum_step(lambda a, b: _ew.le(a, b))))


def cumsum(x: Any, *, axis: int, reverse: bool = False) -> Any:
    return cumsum_p.bind(x, axis=int(axis), reverse=bool(reverse))


def cumprod(x: Any, *, axis: int, reverse: bool = False) -> Any:
    return cumprod_p.bind(x, axis=int(axis), reverse=bool(reverse))


def cummax(x: Any, *, axis: int, reverse: bool = False) -> Any:
    return cummax_p.bind(x, axis=int(axis), reverse=bool(reverse))


def cummin(x: Any, *, axis: int, reverse: bool = False) -> Any:
    return cummin_p.bind(x, axis=int(axis), reverse=bool(reverse))


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------
# The operand's batch axis goes first and the reduced/scanned axis params shift by one.

from xfront import _batching as _bt  # noqa: E402

for _p in (reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p):
    _p.batch = _bt.axis_param_rule(_p, "axes")
for _p in (argmax_p, argmin_p, cumsum_p, cumprod_p, cummax_p, cummin_p):
    _p.batch = _bt.axis_param_rule(_p, "axis")
del _p
