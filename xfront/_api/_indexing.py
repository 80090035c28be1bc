"""Indexing: ``x[key]`` (basic indexing) plus the Array API "Indexing Functions".

Imports: _helpers, prims, _core.

Basic indexing (ints, slices with any step, ``...``, ``None``, bool scalars) lowers to static
slice / rev / reshape primitives. Integer-array ("advanced") indexing, ``take`` and
``take_along_axis`` lower to gather; boolean-array masks are eager only (the result shape
depends on values; see _searching.boolean_mask).

NOTE [Out-of-bounds indices]
    Static (Python int) indices are bounds-checked when the program is traced and raise
    IndexError. Array indices are only known when the program runs: eagerly they are checked
    and raise IndexError; inside ``compile`` negative indices wrap once and out-of-range ones are
    clamped to the nearest valid index (XLA's gather semantics), as in JAX.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._api._helpers import ensure_array, to_array
from xfront._array import Array
from xfront.prims import shape as sh


def _is_int_scalar(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


def _is_array_index(k: Any) -> bool:
    if isinstance(k, Array):
        return True
    if isinstance(k, np.ndarray):
        return True
    if isinstance(k, (list, tuple)):
        return True
    return hasattr(k, "__dlpack__")


def _expand_key(x: Any, key: Any) -> list[Any]:
    if not isinstance(key, tuple):
        key = (key,)
    n_ellipsis = sum(1 for k in key if k is Ellipsis)
    if n_ellipsis > 1:
        raise _errors.err(_errors.XfIndexError, "__getitem__",
                          "an index can only have a single ellipsis ('...')")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis
                   and not isinstance(k, (bool, np.bool_)))
    if consumed > x.ndim:
        raise _errors.err(_errors.XfIndexError, "__getitem__",
                          f"too many indices for array {x.aval.short}: {consumed} were given")
    out: list[Any] = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (x.ndim - consumed))
        else:
            out.append(k)
    if n_ellipsis == 0:
        out.extend([slice(None)] * (x.ndim - consumed))
    return out


def getitem(x: Any, key: Any) -> Any:
    """``x[key]`` with NumPy semantics (see the module docstring for what compiles)."""
    x = ensure_array(to_array("__getitem__", x))
    if (isinstance(key, (Array, np.ndarray)) and key.ndim > 0
            and dt.dtype(key.dtype) is dt.bool_):
        from xfront._api._searching import boolean_mask

        return boolean_mask("__getitem__", x, key)
    items = _expand_key(x, key)
    if any(_is_array_index(k) or isinstance(k, _core.Tracer) for k in items):
        return _advanced(x, items)
    return _basic(x, items)


def _basic(x: Any, items: list[Any]) -> Any:
    start, limit, strides, rev_axes = [], [], [], []
    out_shape: list[int] = []
    dim = 0
    for k in items:
        if k is None:
            out_shape.append(1)
            continue
        if isinstance(k, (bool, np.bool_)):
            out_shape.append(1 if k else 0)
            continue
        n = x.shape[dim]
        if _is_int_scalar(k):
            i = operator.index(k)
            if not -n <= i < n:
                raise _errors.err(_errors.XfIndexError, "__getitem__",
                                  f"index {i} is out of bounds for axis {dim} with size {n}")
            i %= n
            start.append(i)
            limit.append(i + 1)
            strides.append(1)
        elif isinstance(k, slice):
            try:
                s0, s1, step = k.indices(n)
            except TypeError:
                raise _errors.err(_errors.XfIndexError, "__getitem__",
                                  f"slice bounds must be integers or None, got {k}") from None
            m = len(range(s0, s1, step))
            if step < 0:
                rev_axes.append(dim)
                s0, step = n - 1 - s0, -step
            if m == 0:
                start.append(0)
                limit.append(0)
                strides.append(1)
            else:
                start.append(s0)
                limit.append(s0 + (m - 1) * step + 1)
                strides.append(step)
            out_shape.append(m)
        else:
            raise _errors.err(_errors.XfIndexError, "__getitem__",
                              f"unsupported index {k!r} of type {type(k).__name__}",
                              "valid indices are integers, slices, ..., None, booleans and "
                              "integer or boolean arrays")
        dim += 1
    y = sh.rev(x, axes=rev_axes) if rev_axes else x
    if (start != [0] * x.ndim or limit != list(x.shape) or strides != [1] * x.ndim):
        y = sh.slice(y, start=start, limit=limit, strides=strides)
    if tuple(out_shape) != tuple(y.shape):
        y = sh.reshape(y, shape=out_shape)
    return y


def _advanced(x: Any, items: list[Any]) -> Any:
    from xfront._api._gather import advanced_index

    return advanced_index(x, items)


class _AtIndexer:
    """``x.at[index].set(v)`` / ``.add(v)`` / ... : functional updates (arrays are immutable)."""

    __slots__ = ("x",)

    def __init__(self, x: Any):
        self.x = x

    def __getitem__(self, key: Any) -> _AtRef:
        return _AtRef(self.x, key)


class _AtRef:
    __slots__ = ("x", "key")

    def __init__(self, x: Any, key: Any):
        self.x = x
        self.key = key

    def get(self) -> Any:
        return getitem(self.x, self.key)

    def _update(self, value: Any, mode: str) -> Any:
        from xfront._api._gather import indexed_update

        return indexed_update(self.x, self.key, value, mode)

    def set(self, value: Any) -> Any:
        return self._update(value, "set")

    def add(self, value: Any) -> Any:
        return self._update(value, "add")

    def multiply(self, value: Any) -> Any:
        return self._update(value, "mul")

    def min(self, value: Any) -> Any:
        return self._update(value, "min")

    def max(self, value: Any) -> Any:
        return self._update(value, "max")


__all__ = ["getitem"]
