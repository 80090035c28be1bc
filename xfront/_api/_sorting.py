"""Array API section "Sorting Functions" (``sort``, ``argsort``) and ``searchsorted``.

Imports: _helpers, _gather, prims.

Sort order (NOTE [Sort order] in xfront/prims/sort.py): NumPy's. Floats put NaNs last and treat
-0.0 and 0.0 as equal; complex numbers sort lexicographically by (real, imag). ``descending``
is the exact reverse order (NaNs first), and with ``stable=True`` equal elements keep their
original order in both directions, as the Array API asks. ``searchsorted`` uses the same order,
so it agrees with ``sort``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _errors
from xfront import _dtypes as dt
from xfront._api._helpers import cast, ensure_array, normalize_axis, operand, promote, to_array
from xfront.prims import elementwise as ew
from xfront.prims import indexing as ix
from xfront.prims import reduction as red
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
      stable: keep the relative order of equal elements (the default; ``False`` lets the
        backend use an unstable sort, which only matters for ``argsort``).

    Returns:
      An array of ``x``'s shape and dtype.
    """
    x = _arr("sort", x)
    if x.ndim == 0:
        return sh.reshape(x, shape=())
    a = normalize_axis("sort", axis, x.ndim)
    return so.sort(x, dimension=a, is_stable=stable, descending=descending)[0]


def argsort(x: Any, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Any:
    """Indices that sort ``x`` along ``axis`` (Array API ``argsort``), as int64.

    With ``stable=True`` (the default) equal elements keep their original order, also when
    ``descending`` (so it is not ``flip(argsort(x))``).
    """
    x = _arr("argsort", x)
    if x.ndim == 0:
        return sh.broadcast_in_dim(np.zeros((), np.int64), shape=(), dims=())
    a = normalize_axis("argsort", axis, x.ndim)
    iota = sh.iota(ix.index_dtype(x.shape[a]), x.shape, a)
    perm = so.sort(x, iota, dimension=a, is_stable=stable, descending=descending)[1]
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
    # Sort x1 and x2 together by (value, tag), where the tag puts x2's values before equal x1
    # values ('left') or after them ('right'). The x1 values in front of each x2 value are then
    # counted by a running sum, and the counts are scattered back to x2's order.
    idt = ix.index_dtype(n + m + 1)
    values = sh.concatenate([a, sh.reshape(b, shape=(m,))], axis=0)
    from_x1 = np.arange(n + m) < n
    tag = from_x1 if side == "left" else ~from_x1
    pos = sh.iota(idt, (n + m,), 0)
    _, _, order = so.sort(values, tag, pos, dimension=0, num_keys=2, is_stable=True)
    n_b = ew.full_like(order, n)
    is_x1 = ew.lt(order, n_b)
    count = red.cumsum(ew.convert(is_x1, dtype=idt), axis=0)
    target = ew.select(is_x1, ew.full_like(order, m), ew.sub(order, n_b))  # x1 rows: dropped
    out = ix.scatter(sh.broadcast_in_dim(np.zeros((), idt.np), shape=(m,), dims=()), target,
                     count, update_window_dims=(), inserted_window_dims=(0,),
                     scatter_dims_to_operand_dims=(0,), index_vector_dim=1, mode="set")
    return sh.reshape(ew.convert(out, dtype=dt.int64), shape=b.shape)


__all__ = ["argsort", "searchsorted", "sort"]
