"""Array API "Searching" and "Set" functions whose output shape depends on values.

``nonzero``, the ``unique_*`` family and boolean-mask indexing run eagerly (on concrete
arrays) and raise DynamicShapeError inside ``compile``, naming a static-shape alternative.

Imports: _helpers, _core, _creation.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from xfront import _core, _errors
from xfront._api._helpers import ensure_array, to_array


def _concrete(op: str, x: Any, hint: str) -> np.ndarray:
    x = to_array(op, x)
    if isinstance(x, _core.Tracer) or _core.current_builder() is not None:
        raise _errors.err(
            _errors.DynamicShapeError, op,
            f"the output shape of {op} depends on the values of its input "
            f"({_errors.short(x)}), so it cannot be compiled (XLA needs static shapes)", hint)
    return np.asarray(x)


def _out(values: np.ndarray, like: Any) -> Any:
    from xfront._api._creation import asarray

    dev = like.device if hasattr(like, "device") and not isinstance(like, np.ndarray) else None
    return asarray(values, device=dev)


def nonzero(x: Any, /) -> tuple[Any, ...]:
    """Indices of the non-zero elements, one array per axis (eager only)."""
    arr = _concrete("nonzero", x, "use xfront.where(cond, x, y) to select values, or "
                                  "count with sum(cond) and pad to a static size")
    if arr.ndim == 0:
        raise _errors.err(_errors.ShapeError, "nonzero", "nonzero of a 0-d array is not defined",
                          "use xfront.reshape(x, (1,)) first")
    return tuple(_out(i.astype(np.int64), x) for i in np.nonzero(arr))


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


_UNIQUE_HINT = "compute it outside the compiled function, or use sort + a static-size mask"


def _unique(op: str, x: Any) -> tuple[np.ndarray, ...]:
    arr = _concrete(op, x, _UNIQUE_HINT)
    flat = arr.reshape(-1)
    # Array API: each NaN is distinct
    values, index, inverse, counts = np.unique(flat, return_index=True, return_inverse=True,
                                               return_counts=True, equal_nan=False)
    return values, index, inverse.reshape(arr.shape), counts


def unique_values(x: Any, /) -> Any:
    """Sorted unique elements (eager only)."""
    v, _, _, _ = _unique("unique_values", x)
    return _out(v, x)


def unique_counts(x: Any, /) -> UniqueCountsResult:
    """Unique elements and their counts (eager only)."""
    v, _, _, c = _unique("unique_counts", x)
    return UniqueCountsResult(_out(v, x), _out(c.astype(np.int64), x))


def unique_inverse(x: Any, /) -> UniqueInverseResult:
    """Unique elements and the indices that rebuild ``x`` from them (eager only)."""
    v, _, inv, _ = _unique("unique_inverse", x)
    return UniqueInverseResult(_out(v, x), _out(inv.astype(np.int64), x))


def unique_all(x: Any, /) -> UniqueAllResult:
    """Unique elements, first indices, inverse indices and counts (eager only)."""
    v, idx, inv, c = _unique("unique_all", x)
    return UniqueAllResult(_out(v, x), _out(idx.astype(np.int64), x),
                           _out(inv.astype(np.int64), x), _out(c.astype(np.int64), x))


def boolean_mask(op: str, x: Any, mask: Any) -> Any:
    """``x[mask]`` for a boolean array mask (eager only)."""
    m = _concrete(op, mask, "use xfront.where(mask, x, fill) to keep the shape static")
    arr = np.asarray(ensure_array(to_array(op, x)))
    if m.shape != arr.shape[:m.ndim]:
        raise _errors.err(_errors.XfIndexError, op,
                          f"boolean index of shape {m.shape} does not match the indexed array's "
                          f"shape {arr.shape}")
    return _out(arr[m], x)
