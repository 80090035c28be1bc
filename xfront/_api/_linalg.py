"""Array API section "Linear Algebra Functions": matmul, tensordot, vecdot, matrix_transpose.

Imports: _helpers, prims.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

from xfront import _errors
from xfront import _dtypes as dt
from xfront._api._elementwise import conj, multiply
from xfront._api._helpers import (broadcast_shapes, cast, ensure_array, normalize_axis, operand,
                                  promote, require)
from xfront._api._manipulation import matrix_transpose  # noqa: F401  (re-exported)
from xfront._api._statistical import sum as _sum
from xfront.prims import linalg as la
from xfront.prims import shape as sh


def _pair(op: str, x1: Any, x2: Any) -> tuple[Any, Any]:
    a = operand(op, x1, "x1")
    b = operand(op, x2, "x2")
    d, _ = promote(op, a, b)
    require(op, d, dt.NUMERIC, a, b, hint="cast boolean arrays to an integer or float dtype")
    return ensure_array(cast(op, a, d)), ensure_array(cast(op, b, d))


def matmul(x1: Any, x2: Any, /) -> Any:
    """Matrix product with NumPy's rules for 1-D operands and broadcast batch dimensions."""
    a, b = _pair("matmul", x1, x2)
    if a.ndim == 0 or b.ndim == 0:
        raise _errors.err(_errors.ShapeError, "matmul",
                          f"operands must be at least 1-D, got {a.aval.short} and {b.aval.short}",
                          "use multiply (or *) for scalars")
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    if a_vec:
        a = sh.reshape(a, shape=(1,) + tuple(a.shape))
    if b_vec:
        b = sh.reshape(b, shape=tuple(b.shape) + (1,))
    if a.shape[-1] != b.shape[-2]:
        raise _errors.err(
            _errors.ShapeError, "matmul",
            f"x1 has shape {tuple(a.shape) if not a_vec else tuple(a.shape[1:])} and x2 has shape "
            f"{tuple(b.shape) if not b_vec else tuple(b.shape[:-1])}; the contracted dimensions "
            f"must match (x1.shape[-1] = {a.shape[-1]}, x2.shape[-2] = {b.shape[-2]})")
    batch = broadcast_shapes("matmul", tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    nb = len(batch)
    a_full = batch + tuple(a.shape[-2:])
    b_full = batch + tuple(b.shape[-2:])
    if tuple(a.shape) != a_full:
        a = sh.broadcast_in_dim(a, shape=a_full, dims=tuple(range(nb + 2 - a.ndim, nb + 2)))
    if tuple(b.shape) != b_full:
        b = sh.broadcast_in_dim(b, shape=b_full, dims=tuple(range(nb + 2 - b.ndim, nb + 2)))
    out = la.dot_general(a, b, contracting=((nb + 1,), (nb,)),
                         batch=(tuple(range(nb)), tuple(range(nb))))
    if a_vec or b_vec:
        shape = list(out.shape)
        if b_vec:
            shape.pop(-1)
        if a_vec:
            shape.pop(-2 if not b_vec else -1)
        out = sh.reshape(out, shape=shape)
    return out


def tensordot(x1: Any, x2: Any, /, *, axes: int | tuple[Sequence[int], Sequence[int]] = 2) -> Any:
    """Contract ``axes`` of ``x1`` with ``axes`` of ``x2`` (int n: last n of x1, first n of x2)."""
    a, b = _pair("tensordot", x1, x2)
    if isinstance(axes, int):
        n = operator.index(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise _errors.err(_errors.ShapeError, "tensordot",
                              f"axes={n} is invalid for {a.aval.short} and {b.aval.short}")
        ax1 = list(range(a.ndim - n, a.ndim))
        ax2 = list(range(n))
    else:
        ax1 = [normalize_axis("tensordot", i, a.ndim) for i in axes[0]]
        ax2 = [normalize_axis("tensordot", i, b.ndim) for i in axes[1]]
    if len(ax1) != len(ax2) or any(a.shape[i] != b.shape[j] for i, j in zip(ax1, ax2)):
        raise _errors.err(_errors.ShapeError, "tensordot",
                          f"contracted axes {ax1} of {a.aval.short} and {ax2} of {b.aval.short} "
                          "must have equal sizes")
    return la.dot_general(a, b, contracting=(ax1, ax2))


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Dot product of vectors along ``axis`` (``sum(conj(x1) * x2, axis)``), broadcasting."""
    a, b = _pair("vecdot", x1, x2)
    shape = broadcast_shapes("vecdot", tuple(a.shape), tuple(b.shape))
    ax = normalize_axis("vecdot", axis, len(shape))
    # the contracted axis is not broadcast: both operands need the same size along it (an
    # operand with fewer dimensions counts as size 1 there, as in broadcasting)
    n1, n2 = ((tuple(x.shape)[ax - len(shape) + x.ndim] if ax - len(shape) + x.ndim >= 0 else 1)
              for x in (a, b))
    if n1 != n2:
        raise _errors.err(_errors.ShapeError, "vecdot",
                          f"x1 {a.aval.short} and x2 {b.aval.short} have sizes {n1} and {n2} "
                          f"along the contracted axis {axis}; they must be equal",
                          "the contracted axis is not broadcast: pass operands of equal size "
                          "along it (or a different axis)")
    return _sum(multiply(conj(a), b), axis=ax, dtype=a.dtype)
