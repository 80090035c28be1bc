"""Array API section "Utility Functions": ``diff`` (``all``/``any`` live in _statistical).

Imports: _helpers, _manipulation, _elementwise, _indexing.
"""

from __future__ import annotations

import operator
from typing import Any

from xfront import _errors
from xfront._api._elementwise import not_equal, subtract
from xfront._api._helpers import ensure_array, normalize_axis, to_array
from xfront._api._indexing import getitem
from xfront._api._manipulation import concat


def diff(x: Any, /, *, axis: int = -1, n: int = 1, prepend: Any = None,
         append: Any = None) -> Any:
    """The ``n``-th forward difference along ``axis``: ``out[i] = x[i+1] - x[i]``, repeated.

    ``prepend``/``append`` are joined to ``x`` along ``axis`` first (same shape elsewhere). A
    boolean ``x`` gives ``x[i+1] != x[i]``, as NumPy does.
    """
    x = ensure_array(to_array("diff", x))
    if x.ndim == 0:
        raise _errors.err(_errors.ShapeError, "diff", f"expected at least 1 dimension, got "
                          f"{x.aval.short}")
    a = normalize_axis("diff", axis, x.ndim)
    try:
        n = operator.index(n)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, "diff",
                          f"n must be an integer, got {type(n).__name__}") from None
    if n < 0:
        raise _errors.err(_errors.ArgumentError, "diff", f"n must be non-negative, got {n}")
    if n == 0:  # NumPy returns x itself (prepend/append unused)
        return x
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        parts = [ensure_array(to_array("diff", p, "prepend/append")) for p in parts]
        for p in parts:
            if p.ndim != x.ndim or any(p.shape[i] != x.shape[i] for i in range(x.ndim) if i != a):
                raise _errors.err(_errors.ShapeError, "diff",
                                  f"prepend/append {p.aval.short} must match x {x.aval.short} "
                                  f"in every axis but {a}")
        x = concat(parts, axis=a)
    hi = (slice(None),) * a + (slice(1, None),)
    lo = (slice(None),) * a + (slice(None, -1),)
    for _ in range(n):
        if x.shape[a] == 0:
            break
        x = (not_equal if x.dtype.kind == "b" else subtract)(getitem(x, hi), getitem(x, lo))
    return x


__all__ = ["diff"]
