"""Array API sections "Statistical Functions" and "Utility Functions" (any, all), plus
argmax/argmin and where from "Searching Functions".

Imports: _helpers, prims.

Accumulation dtypes follow the standard (and NumPy): ``sum``/``prod``/``cumulative_*`` of
signed integers and bool give int64, of unsigned integers uint64; ``mean``/``var``/``std`` of
integers give float64. ``max``/``min`` of an empty axis raise ValueError (no identity), as NumPy.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from xfront import _errors, _shapes
from xfront import _dtypes as dt
from xfront._api._helpers import (broadcast_shapes, broadcast_to, cast, dtype_of, ensure_array,
                                  normalize_axes, normalize_axis, promote, require, to_array)
from xfront.prims import elementwise as ew
from xfront.prims import reduction as red
from xfront.prims import shape as sh


def _arr(op: str, x: Any) -> Any:
    return ensure_array(to_array(op, x))


def _keep(out: Any, x: Any, axes: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return out
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    return sh.reshape(out, shape=shape)


def _accum_dtype(d: dt.DType) -> dt.DType:
    if d.kind in "bi":
        return dt.int64
    if d.kind == "u":
        return dt.uint64
    return d


def sum(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum of elements over ``axis``."""
    x = _arr("sum", x)
    require("sum", x.dtype, dt.NUMERIC | dt.BOOL, x)
    axes = normalize_axes("sum", axis, x.ndim)
    d = dt.dtype(dtype) if dtype is not None else _accum_dtype(x.dtype)
    return _keep(red.reduce_sum(cast("sum", x, d), axes=axes), x, axes, keepdims)


def prod(x: Any, /, *, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Any:
    """Product of elements over ``axis``."""
    x = _arr("prod", x)
    require("prod", x.dtype, dt.NUMERIC | dt.BOOL, x)
    axes = normalize_axes("prod", axis, x.ndim)
    d = dt.dtype(dtype) if dtype is not None else _accum_dtype(x.dtype)
    return _keep(red.reduce_prod(cast("prod", x, d), axes=axes), x, axes, keepdims)


def _extremum(op: str, x: Any, axis: Any, keepdims: bool, fn: Any) -> Any:
    x = _arr(op, x)
    require(op, x.dtype, dt.ALL - dt.COMPLEX, x, hint="complex numbers are not ordered")
    axes = normalize_axes(op, axis, x.ndim)
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise _errors.err(_errors.ShapeError, op,
                          f"zero-size reduction over axes {axes} of {x.aval.short}, which has no "
                          "identity", "reduce over non-empty axes or handle the empty case")
    return _keep(fn(x, axes=axes), x, axes, keepdims)


def max(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over ``axis`` (NaN propagates)."""
    return _extremum("max", x, axis, keepdims, red.reduce_max)


def min(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over ``axis`` (NaN propagates)."""
    return _extremum("min", x, axis, keepdims, red.reduce_min)


def _count(x: Any, axes: tuple[int, ...]) -> int:
    n = 1
    for a in axes:
        n *= x.shape[a]
    return n


def mean(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis`` (integers give float64)."""
    x = _arr("mean", x)
    require("mean", x.dtype, dt.NUMERIC | dt.BOOL, x)
    d = x.dtype if x.dtype.kind in "fc" else dt.float64
    xs = cast("mean", x, d)
    axes = normalize_axes("mean", axis, x.ndim)
    s = red.reduce_sum(xs, axes=axes)
    n = _count(x, axes)
    out = ew.div(s, ew.full_like(s, n))  # n == 0 gives 0/0 = NaN, as NumPy
    return _keep(out, x, axes, keepdims)


def var(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
    """Variance over ``axis`` with ``correction`` degrees of freedom (two-pass)."""
    x = _arr("var", x)
    require("var", x.dtype, dt.NUMERIC | dt.BOOL, x)
    d = x.dtype if x.dtype.kind in "fc" else dt.float64
    xs = cast("var", x, d)
    axes = normalize_axes("var", axis, x.ndim)
    n = _count(x, axes)
    m = red.reduce_sum(xs, axes=axes)
    m = ew.div(m, ew.full_like(m, n))
    kept = tuple(i for i in range(x.ndim) if i not in axes)
    centered = ew.sub(xs, sh.broadcast_in_dim(m, shape=x.shape, dims=kept))
    if d.kind == "c":
        sq = ew.add(ew.mul(ew.real(centered), ew.real(centered)),
                    ew.mul(ew.imag(centered), ew.imag(centered)))
    else:
        sq = ew.mul(centered, centered)
    ss = red.reduce_sum(sq, axes=axes)
    # NumPy: divide by builtins.max(n - correction, 0); 0/0 gives NaN and x/0 gives inf
    if _shapes.is_symbolic(n):  # a traced count (xfront/_shapes.py)
        d = ew.sub(ew.full_like(ss, n), ew.full_like(ss, correction))
        out = ew.div(ss, ew.max(d, ew.full_like(ss, 0)))
    else:
        out = ew.div(ss, ew.full_like(ss, builtins.max(n - correction, 0)))
    return _keep(out, x, axes, keepdims)


def std(x: Any, /, *, axis: Any = None, correction: float = 0.0, keepdims: bool = False) -> Any:
    """Standard deviation over ``axis`` (square root of ``var``)."""
    return ew.sqrt(var(x, axis=axis, correction=correction, keepdims=keepdims))


def _cumulative(op: str, x: Any, axis: Any, dtype: Any, include_initial: bool, fn: Any,
                initial: int) -> Any:
    x = _arr(op, x)
    require(op, x.dtype, dt.NUMERIC | dt.BOOL, x)
    if axis is None:
        if x.ndim > 1:
            raise _errors.err(_errors.ArgumentError, op,
                              f"axis is required for {x.ndim}-D input {x.aval.short}")
        if x.ndim == 0:
            x = sh.reshape(x, shape=(1,))
        axis = 0
    a = normalize_axis(op, axis, x.ndim)
    d = dt.dtype(dtype) if dtype is not None else _accum_dtype(x.dtype)
    out = fn(cast(op, x, d), axis=a)
    if include_initial:
        lo = [0] * x.ndim
        lo[a] = 1
        out = sh.pad(out, np.asarray(initial, dtype=d.np), lo=lo, hi=[0] * x.ndim)
    return out


def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                   include_initial: bool = False) -> Any:
    """Inclusive cumulative sum along ``axis`` (with a leading 0 if ``include_initial``)."""
    return _cumulative("cumulative_sum", x, axis, dtype, include_initial, red.cumsum, 0)


def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Any:
    """Inclusive cumulative product along ``axis`` (with a leading 1 if ``include_initial``)."""
    return _cumulative("cumulative_prod", x, axis, dtype, include_initial, red.cumprod, 1)


def _as_bool(x: Any) -> Any:
    return x if x.dtype is dt.bool_ else cast("any", x, dt.bool_)


def any(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether any element along ``axis`` is true (non-zero)."""
    x = _arr("any", x)
    axes = normalize_axes("any", axis, x.ndim)
    return _keep(red.reduce_or(_as_bool(x), axes=axes), x, axes, keepdims)


def all(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Whether all elements along ``axis`` are true (non-zero)."""
    x = _arr("all", x)
    axes = normalize_axes("all", axis, x.ndim)
    return _keep(red.reduce_and(_as_bool(x), axes=axes), x, axes, keepdims)


def _arg(op: str, x: Any, axis: Any, keepdims: bool, fn: Any) -> Any:
    x = _arr(op, x)
    require(op, x.dtype, dt.ALL - dt.COMPLEX, x, hint="complex numbers are not ordered")
    if axis is None:
        if x.size == 0:
            raise _errors.err(_errors.ShapeError, op, f"attempt to get {op} of an empty array")
        flat = sh.reshape(x, shape=(x.size,))
        out = fn(flat, axis=0)
        return sh.reshape(out, shape=(1,) * x.ndim) if keepdims else out
    a = normalize_axis(op, axis, x.ndim)
    if x.shape[a] == 0:
        raise _errors.err(_errors.ShapeError, op,
                          f"attempt to get {op} of an empty axis {a} of {x.aval.short}")
    return _keep(fn(x, axis=a), x, (a,), keepdims)


def argmax(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the maximum along ``axis`` (flattened when None); first occurrence, NaN wins."""
    return _arg("argmax", x, axis, keepdims, red.argmax)


def argmin(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Index of the minimum along ``axis`` (flattened when None); first occurrence, NaN wins."""
    return _arg("argmin", x, axis, keepdims, red.argmin)


def where(condition: Any, x1: Any = None, x2: Any = None, /) -> Any:
    """Choose ``x1`` where ``condition`` is true, else ``x2`` (all three broadcast).

    The one-argument form ``where(condition)`` is ``nonzero(condition)`` (eager only).
    """
    if x1 is None and x2 is None:
        from xfront._api._searching import nonzero

        return nonzero(condition)
    if x1 is None or x2 is None:
        raise _errors.err(_errors.ArgumentError, "where",
                          "either both or neither of x1 and x2 must be given")
    c = to_array("where", condition, "condition")
    if dtype_of(c) is not dt.bool_:
        c = cast("where", c, dt.bool_)
    from xfront._api._helpers import operand

    a = operand("where", x1, "x1")
    b = operand("where", x2, "x2")
    d, weak = promote("where", a, b)
    a, b = cast("where", a, d, weak), cast("where", b, d, weak)
    shape = broadcast_shapes("where", tuple(c.shape), tuple(a.shape), tuple(b.shape))
    return ew.select(broadcast_to(c, shape), broadcast_to(a, shape), broadcast_to(b, shape))


def count_nonzero(x: Any, /, *, axis: Any = None, keepdims: bool = False) -> Any:
    """Number of non-zero elements along ``axis``."""
    x = _arr("count_nonzero", x)
    b = cast("count_nonzero", x, dt.bool_)
    return sum(b, axis=axis, keepdims=keepdims)
