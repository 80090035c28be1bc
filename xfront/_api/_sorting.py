"""Array API section "Sorting Functions" (``sort``, ``argsort``) and ``searchsorted``.

Imports: _helpers, _gather, prims.

Sort order (NOTE [Sort order] in xfront/prims/sort.py): NumPy's. Floats put NaNs last and treat
-0.0 and 0.0 as equal; complex numbers sort as NumPy sorts them. ``descending`` is the exact
reverse order (NaNs first), and equal elements keep their original order in both directions
(every sort here is stable, as the Array API asks for ``stable=True``). ``searchsorted`` uses the
same order, so it agrees with ``sort``. Keys of up to 32 bits sort through one packed 64-bit key
(NOTE [Packed sort keys]), which XLA:CPU sorts several times faster than a comparator region.

XLA:CPU flushes subnormal floats to zero, so comparisons, and with them sorting, treat
subnormals as zero there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _errors
from xfront import _dtypes as dt
from xfront._api._helpers import cast, ensure_array, normalize_axis, operand, promote, to_array
from xfront.prims import elementwise as ew
from xfront.prims import indexing as ix
from xfront.prims import shape as sh
from xfront.prims import sort as so


def _arr(op: str, x: Any) -> Any:
    return ensure_array(to_array(op, x))


def sort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    """A sorted copy of ``x`` along ``axis`` (Array API ``sort``).

    Args:
      x: input array of any dtype (bool, integer, real or complex floating).
      axis: the axis to sort along.
      descending: sort in descending order (NaNs first).
      stable: keep the relative order of equal elements (visible only for -0.0 / 0.0 and NaN
        payloads). Sorts are stable whatever this says.

    Returns:
      An array of ``x``'s shape and dtype.
    """
    x = _arr("sort", x)
    if x.ndim == 0 or x.size == 0:
        return sh.reshape(x, shape=x.shape)
    a = normalize_axis("sort", axis, x.ndim)
    if so.can_pack(x.dtype, x.shape[a]):  # NOTE [Packed sort keys]: argsort, then gather
        perm = so.argsort(x, dimension=a, descending=descending,
                          index_dtype=ix.index_dtype(x.shape[a]))
        return ix.take_along_axis(x, perm, axis=a)
    return so.sort(x, dimension=a, is_stable=True, descending=descending)[0]


def argsort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    """Indices that sort ``x`` along ``axis`` (Array API ``argsort``), as int64.

    Equal elements keep their original order (the sort is always stable), also when
    ``descending``, so it is not ``flip(argsort(x))``.
    """
    x = _arr("argsort", x)
    if x.ndim == 0:
        return sh.broadcast_in_dim(np.zeros((), np.int64), shape=(), dims=())
    if x.size == 0:
        return sh.broadcast_in_dim(np.zeros((), np.int64), shape=x.shape, dims=())
    a = normalize_axis("argsort", axis, x.ndim)
    perm = so.argsort(x, dimension=a, descending=descending,
                      index_dtype=ix.index_dtype(x.shape[a]))
    return ew.convert(perm, dtype=dt.int64)


def searchsorted(x1: Any, x2: Any, /, *, side: str = "left", sorter: Any = None) -> Any:
    """Where ``x2``'s elements would be inserted into the sorted 1-D ``x1`` (Array API).

    Args:
      x1: a 1-D array sorted ascending (in xfront's sort order: NaNs last), or any 1-D array
        together with ``sorter``.
      x2: the values to look up (any shape).
      side: ``'left'``: the first suitable position (``x1[i-1] < v <= x1[i]``); ``'right'``:
        the last (``x1[i-1] <= v < x1[i]``).
      sorter: optional integer indices that sort ``x1`` (e.g. ``argsort(x1)``).

    Returns:
      int64 positions with ``x2``'s shape.
    """
    op = "searchsorted"
    if side not in ("left", "right"):
        raise _errors.err(_errors.ArgumentError, op,
                          f"side must be 'left' or 'right', got {side!r}")
    a = operand(op, x1, "x1")
    b = operand(op, x2, "x2")
    d, _ = promote(op, a, b)
    a = ensure_array(cast(op, a, d))
    b = ensure_array(cast(op, b, d))
    if a.ndim != 1:
        raise _errors.err(_errors.ShapeError, op,
                          f"x1 must be a 1-D sorted array, got {a.aval.short}")
    if sorter is not None:
        from xfront._api._gather import take

        a = take(a, sorter, axis=0)
    n, m = a.shape[0], b.size
    if n == 0 or m == 0:
        return sh.broadcast_in_dim(np.zeros((), np.int64), shape=b.shape, dims=())
    # A branchless binary search, unrolled: ceil(log2(n + 1)) rounds of one gather and one
    # comparison over x2, so O(m log n) work and no sort. ``pos`` ends as the number of x1
    # values before each x2 value (x1[i] < v for 'left', not v < x1[i] for 'right').
    v = sh.reshape(b, shape=(m,))
    if so.can_pack(d, n):  # compare uint32 order keys: one integer compare per round
        a, v, less = so.order_bits(a), so.order_bits(v), ew.lt
    else:
        less = so.less
    idt = ix.index_dtype(n + 1)
    pos = sh.broadcast_in_dim(np.zeros((), idt.np), shape=(m,), dims=())
    step = 1 << (n.bit_length() - 1)
    while step:
        cand = ew.add(pos, ew.full_like(pos, step))
        fits = ew.le(cand, ew.full_like(cand, n))
        probe = ix.take_along_axis(a, ew.min(ew.sub(cand, ew.full_like(cand, 1)),
                                             ew.full_like(cand, n - 1)), axis=0)
        before = less(probe, v) if side == "left" else ew.not_(less(v, probe))
        pos = ew.select(ew.and_(fits, before), cand, pos)
        step >>= 1
    return sh.reshape(ew.convert(pos, dtype=dt.int64), shape=b.shape)


__all__ = ["argsort", "searchsorted", "sort"]
