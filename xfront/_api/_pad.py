"""``xf.pad``: NumPy's ``pad`` (an extension beyond the Array API standard).

Imports: _helpers, prims, _gather (``take``). Built from existing primitives (``pad`` for
constant padding; ``take`` of static indices and ``concatenate`` for the other modes), so it
compiles and differentiates like any other xfront code.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from xfront import _errors
from xfront._api._helpers import cast, ensure_array, to_array
from xfront.prims import shape as sh

_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_width(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    """NumPy's forms: ``n``, ``(n,)``, ``(before, after)``, ``((before, after),)`` or one
    ``(before, after)`` pair per axis."""
    try:
        w = np.asarray(pad_width)
        ok = w.dtype.kind in "iu" or (w.size == 0 and ndim == 0)
        w = np.broadcast_to(w.astype(np.int64), (ndim, 2)) if ok else None
    except (ValueError, TypeError):
        w = None
    if w is None:
        raise _errors.err(_errors.ArgumentError, "pad",
                          f"pad_width={pad_width!r} is not valid for a {ndim}-D array",
                          "pass an int, (before, after), or one (before, after) pair of ints "
                          "per axis")
    if (w < 0).any():
        raise _errors.err(_errors.ArgumentError, "pad",
                          f"pad_width={pad_width!r} has a negative entry",
                          "widths must be >= 0 (use slicing to crop)")
    return [(int(a), int(b)) for a, b in w]


def _source_index(i: np.ndarray, n: int, mode: str) -> np.ndarray:
    """Which input position a (possibly out-of-range) position ``i`` along an axis reads."""
    if mode == "edge":
        return np.clip(i, 0, n - 1)
    if mode == "wrap":
        return np.mod(i, n)
    if mode == "symmetric":  # ... 1 0 | 0 1 ... n-1 | n-1 n-2 ...
        m = np.mod(i, 2 * n)
        return np.where(m < n, m, 2 * n - 1 - m)
    if n == 1:  # reflect about a single element repeats it
        return np.zeros_like(i)
    m = np.mod(i, 2 * (n - 1))  # ... 2 1 | 0 1 ... n-1 | n-2 ...
    return np.where(m < n, m, 2 * (n - 1) - m)


def pad(x: Any, /, pad_width: Any, mode: str = "constant", *, constant_values: Any = 0) -> Any:
    """Pad ``x`` as NumPy's ``pad`` does (an xfront extension).

    Args:
      x: the array.
      pad_width: ``n``, ``(before, after)``, or ``((before_0, after_0), ...)`` one pair per axis
        (NumPy's forms; non-negative ints).
      mode: ``"constant"`` (fill with ``constant_values``), ``"edge"`` (repeat the edge value),
        ``"reflect"`` (mirror without repeating the edge), ``"symmetric"`` (mirror repeating
        it) or ``"wrap"`` (periodic).
      constant_values: for ``"constant"``: a scalar (a Python number or 0-d array, cast to
        ``x``'s dtype), or NumPy's per-axis ``(before, after)`` forms of Python numbers.

    Returns:
      The padded array, with ``x``'s dtype. Gradients flow to ``x`` (and to a 0-d array
      ``constant_values``).

    Examples:
      >>> import xfront as xf
      >>> xf.pad(xf.asarray([1, 2, 3]), (2, 1), mode="reflect")
      Array([3, 2, 1, 2, 3, 2], dtype=int64)
    """
    x = ensure_array(to_array("pad", x))
    if mode not in _MODES:
        raise _errors.err(_errors.ArgumentError, "pad", f"mode={mode!r} is not supported",
                          "use one of " + ", ".join(repr(m) for m in _MODES))
    widths = _pad_width(pad_width, x.ndim)
    if not any(lo or hi for lo, hi in widths):
        return x
    if mode == "constant":
        return _pad_constant(x, widths, constant_values)
    out = x
    for axis, (lo, hi) in enumerate(widths):
        if lo == 0 and hi == 0:
            continue
        n = x.shape[axis]
        if n == 0:
            raise _errors.err(_errors.ShapeError, "pad",
                              f"mode={mode!r} cannot extend axis {axis} of {x.aval.short}, "
                              "which is empty", "use mode='constant'")
        from xfront._api._gather import take

        parts = []
        if lo:
            parts.append(take(out, _source_index(np.arange(-lo, 0), n, mode), axis=axis))
        parts.append(out)
        if hi:
            parts.append(take(out, _source_index(np.arange(n, n + hi), n, mode), axis=axis))
        out = sh.concatenate(parts, axis=axis)
    return out


def _pad_constant(x: Any, widths: list[tuple[int, int]], constant_values: Any) -> Any:
    if isinstance(constant_values, (tuple, list)) or (
            isinstance(constant_values, np.ndarray) and constant_values.ndim):
        try:
            vals = np.broadcast_to(np.asarray(constant_values, dtype=object), (x.ndim, 2))
        except ValueError:
            raise _errors.err(_errors.ArgumentError, "pad",
                              f"constant_values={constant_values!r} is not valid for a "
                              f"{x.ndim}-D array",
                              "pass a scalar, (before, after), or one pair per axis") from None
        out = x
        for axis, ((lo, hi), (v_lo, v_hi)) in enumerate(zip(widths, vals)):
            for v, lo_hi in ((v_lo, (lo, 0)), (v_hi, (0, hi))):
                if lo_hi != (0, 0):
                    out = _pad_axes(out, [lo_hi if a == axis else (0, 0)
                                          for a in range(x.ndim)], v)
        return out
    return _pad_axes(x, widths, constant_values)


def _pad_axes(x: Any, widths: list[tuple[int, int]], value: Any) -> Any:
    v = to_array("pad", value, "constant_values")
    if getattr(v, "ndim", 0) != 0:
        raise _errors.err(_errors.ShapeError, "pad",
                          f"constant_values must be a scalar here, got shape {tuple(v.shape)}")
    v = ensure_array(cast("pad", v, x.dtype))
    return sh.pad(x, v, lo=[operator.index(a) for a, _ in widths],
                  hi=[operator.index(b) for _, b in widths])


__all__ = ["pad"]
