"""``xfront.linalg``: the Array API 2024.12 linear-algebra extension.

Every function works on batches of matrices (the two trailing axes) of float32, float64,
complex64 and complex128, eagerly and inside ``compile``/``grad``. The factorizations are
primitives (NOTE [Linear algebra primitives] in xfront/prims/linalg.py): ``cholesky`` and
triangular solves lower to StableHLO ops, LU/QR/eigh/SVD to LAPACK kernels on CPU. The rest is
composed from them and from the main namespace, so gradients come from the primitives' rules.

Differences from NumPy (NumPy raises ``LinAlgError`` where these return values, as JAX does):
a singular matrix gives inf/NaN from ``solve``/``inv`` and 0 from ``det``; a matrix that is not
positive-definite gives NaN from ``cholesky``; a factorization that does not converge gives NaN.

Imports: the namespace (xfront._api), prims. Never torch/TF/jaxlib.
"""

from __future__ import annotations

import math
import operator
from typing import Any, NamedTuple

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._api import _elementwise as ew
from xfront._api import _manipulation as mp
from xfront._api import _statistical as stat
from xfront._api._creation import asarray, eye
from xfront._api._eager_program import as_one_program
from xfront._api._helpers import (broadcast_shapes, cast, dtype_of, ensure_array, normalize_axes,
                                  normalize_axis, operand, promote, require)
from xfront._api._linalg import matmul, matrix_transpose, tensordot, vecdot  # noqa: F401
from xfront.prims import linalg as la
from xfront.prims import shape as sh

__all__ = ["cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "matrix_power", "matrix_rank", "matrix_transpose", "outer", "pinv",
           "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot",
           "vector_norm", "EighResult", "QRResult", "SlogdetResult", "SVDResult"]


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


_LINALG = la.LINALG_DTYPES


def _matrix(op: str, x: Any, *, square: bool = False, name: str = "x") -> Any:
    """Validate a floating batch of (square) matrices for ``xfront.linalg.<op>``."""
    x = operand(f"linalg.{op}", x, name)
    d = dtype_of(x)
    if d is None:
        x = np.asarray(x, dtype=dt.default_float().np)
        d = dtype_of(x)
    if d not in _LINALG:
        raise _errors.err(_errors.DTypeError, f"linalg.{op}",
                          f"expected a float32, float64, complex64 or complex128 array, got "
                          f"{_errors.short(x)}",
                          "convert first, e.g. xfront.astype(x, xfront.float64)")
    x = ensure_array(x)
    if x.ndim < 2 or (square and x.shape[-1] != x.shape[-2]):
        what = "square matrices" if square else "matrices"
        raise _errors.err(_errors.ShapeError, f"linalg.{op}",
                          f"expected {what} in the last two axes (shape (..., M, "
                          f"{'M' if square else 'N'})), got shape {tuple(x.shape)}")
    return x


def _pair(op: str, x1: Any, x2: Any) -> tuple[Any, Any]:
    a = operand(f"linalg.{op}", x1, "x1")
    b = operand(f"linalg.{op}", x2, "x2")
    d, _ = promote(f"linalg.{op}", a, b)
    return ensure_array(cast(f"linalg.{op}", a, d)), ensure_array(cast(f"linalg.{op}", b, d))


def _bcast(x: Any, shape: tuple) -> Any:
    if tuple(x.shape) == tuple(shape):
        return x
    return sh.broadcast_in_dim(x, shape=shape, dims=tuple(range(len(shape) - x.ndim, len(shape))))


# --- factorizations ----------------------------------------------------------------------------

@as_one_program
def cholesky(x: Any, /, *, upper: bool = False) -> Any:
    """Cholesky factor of Hermitian positive-definite matrices (lower, or ``upper``: L^H).

    Reads the lower triangle; a matrix that is not positive-definite gives NaN.
    """
    x = _matrix("cholesky", x, square=True)
    out = la.cholesky(x)
    return ew.conj(matrix_transpose(out)) if upper else out


@as_one_program
def qr(x: Any, /, *, mode: str = "reduced") -> QRResult:
    """QR decomposition: ``mode`` 'reduced' (Q: (..., M, K), R: (..., K, N), K = min(M, N))
    or 'complete' (Q: (..., M, M), R: (..., M, N))."""
    if mode not in ("reduced", "complete"):
        raise _errors.err(_errors.ArgumentError, "linalg.qr",
                          f"mode must be 'reduced' or 'complete', got {mode!r}")
    x = _matrix("qr", x)
    q, r = la.qr(x, full_matrices=mode == "complete")
    return QRResult(q, r)


@as_one_program
def eigh(x: Any, /) -> EighResult:
    """Eigenvalues (ascending, real dtype) and eigenvectors (columns) of Hermitian matrices;
    reads the lower triangle."""
    x = _matrix("eigh", x, square=True)
    w, v = la.eigh(x)
    return EighResult(w, v)


@as_one_program
def eigvalsh(x: Any, /) -> Any:
    """Eigenvalues (ascending, real dtype) of Hermitian matrices; reads the lower triangle."""
    x = _matrix("eigvalsh", x, square=True)
    return la.eigh(x)[0]


@as_one_program
def svd(x: Any, /, *, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition ``x = U @ diag(S) @ Vh``; S descending, real dtype."""
    x = _matrix("svd", x)
    s, u, vh = la.svd(x, full_matrices=bool(full_matrices), compute_uv=True)
    return SVDResult(u, s, vh)


@as_one_program
def svdvals(x: Any, /) -> Any:
    """Singular values (descending, real dtype), shape (..., min(M, N))."""
    x = _matrix("svdvals", x)
    return la.svd(x, full_matrices=False, compute_uv=False)[0]


# --- solving -----------------------------------------------------------------------------------

def _lu_solve(lu: Any, piv: Any, b: Any) -> Any:
    b = la.apply_pivots(b, piv)
    y = la.triangular_solve(lu, b, left_side=True, lower=True, unit_diagonal=True)
    return la.triangular_solve(lu, y, left_side=True, lower=False)


@as_one_program
def solve(x1: Any, x2: Any, /) -> Any:
    """Solve ``x1 @ x = x2`` (LU with partial pivoting). ``x2`` is a vector only when 1-D;
    batch dimensions broadcast."""
    a, b = _pair("solve", x1, x2)
    a = _matrix("solve", a, square=True, name="x1")
    vector = b.ndim == 1
    b_shape = tuple(b.shape)
    if vector:
        b = sh.reshape(b, shape=b_shape + (1,))
    b = _matrix("solve", b, name="x2")
    n = a.shape[-1]
    if b.shape[-2] != n:
        raise _errors.err(_errors.ShapeError, "linalg.solve",
                          f"x1 has shape {tuple(a.shape)} and x2 has shape {b_shape}; x2 must "
                          f"have {n} rows (x2.shape[-2] == x1.shape[-1], or x2.shape == ({n},) "
                          "for a vector)")
    batch = broadcast_shapes("linalg.solve", tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    a = _bcast(a, batch + tuple(a.shape[-2:]))
    b = _bcast(b, batch + tuple(b.shape[-2:]))
    lu, piv = la.lu(a)
    out = _lu_solve(lu, piv, b)
    if vector:
        out = sh.reshape(out, shape=tuple(out.shape[:-1]))
    return out


@as_one_program
def inv(x: Any, /) -> Any:
    """Inverse of square matrices (LU with partial pivoting; singular input gives inf/NaN)."""
    x = _matrix("inv", x, square=True)
    lu, piv = la.lu(x)
    return _lu_solve(lu, piv, la._eye_like(x))


def _lu_diag_and_parity(x: Any) -> tuple[Any, Any]:
    lu, piv = la.lu(x)
    d = _diagonal(lu)
    n = x.shape[-1]
    steps = sh.iota(dt.int32, tuple(piv.shape), piv.ndim - 1)
    swapped = ew.not_equal(piv, ew.add(steps, 1))
    odd = ew.equal(ew.remainder(stat.sum(swapped, axis=-1), 2), 1) if n else None
    return d, odd


def _diagonal(x: Any, offset: int = 0) -> Any:
    *batch, m, n = x.shape
    if offset >= 0:
        length = max(0, min(m, n - offset))
        start = offset
    else:
        length = max(0, min(m + offset, n))
        start = -offset * n
    flat = mp.reshape(x, tuple(batch) + (m * n,))
    if length == 0:
        return sh.slice(flat, start=(0,) * flat.ndim, limit=tuple(batch) + (0,))
    stop = start + (length - 1) * (n + 1) + 1
    return flat[..., start:stop:n + 1]


@as_one_program
def det(x: Any, /) -> Any:
    """Determinant (from the LU factorization)."""
    x = _matrix("det", x, square=True)
    d, odd = _lu_diag_and_parity(x)
    p = stat.prod(d, axis=-1)
    if odd is None:
        return p
    return stat.where(odd, ew.negative(p), p)


@as_one_program
def slogdet(x: Any, /) -> SlogdetResult:
    """Sign (unit-modulus for complex, 0 for singular) and natural log of |det| (-inf for
    singular), from the LU factorization."""
    x = _matrix("slogdet", x, square=True)
    d, odd = _lu_diag_and_parity(x)
    mag = ew.abs(d)
    logabs = stat.sum(ew.log(mag), axis=-1)
    zero = ew.equal(mag, 0)
    unit = stat.where(zero, ew.multiply(d, 0), ew.divide(d, stat.where(zero, 1, mag)))
    sign = stat.prod(unit, axis=-1)
    if odd is not None:
        sign = stat.where(odd, ew.negative(sign), sign)
    return SlogdetResult(sign, logabs)


def _default_rtol(x: Any, rtol: Any) -> Any:
    if rtol is None:
        return max(x.shape[-2], x.shape[-1]) * float(dt.finfo(x.dtype).eps)
    return rtol


@as_one_program
def pinv(x: Any, /, *, rtol: float | Any | None = None) -> Any:
    """Moore-Penrose pseudo-inverse through the SVD; singular values at most
    ``rtol * largest`` (default ``max(M, N) * eps``) are treated as zero."""
    x = _matrix("pinv", x)
    *batch, m, n = x.shape
    if x.size == 0:
        return ensure_array(np.zeros(tuple(batch) + (n, m), dtype=x.dtype.np))
    s, u, vh = la.svd(x, full_matrices=False, compute_uv=True)
    rtol = _default_rtol(x, rtol)
    if not isinstance(rtol, (int, float)):
        rtol = mp.expand_dims(asarray(rtol, dtype=s.dtype), axis=-1)
    cutoff = ew.multiply(stat.max(s, axis=-1, keepdims=True), rtol)
    keep = ew.greater(s, cutoff)
    s_inv = stat.where(keep, ew.divide(1, stat.where(keep, s, 1)), 0)
    s_inv = _as(s_inv, x.dtype)
    vs = ew.multiply(ew.conj(matrix_transpose(vh)), mp.expand_dims(s_inv, axis=-2))
    return matmul(vs, ew.conj(matrix_transpose(u)))


def _as(x: Any, d: Any) -> Any:
    from xfront._api._data_types import astype

    return astype(x, d)


@as_one_program
def matrix_rank(x: Any, /, *, rtol: float | Any | None = None) -> Any:
    """Number of singular values above ``rtol * largest`` (default ``max(M, N) * eps``)."""
    x = _matrix("matrix_rank", x)
    *batch, m, n = x.shape
    if x.size == 0:
        return ensure_array(np.zeros(tuple(batch), dtype=dt.default_int().np))
    s = la.svd(x, full_matrices=False, compute_uv=False)[0]
    rtol = _default_rtol(x, rtol)
    if not isinstance(rtol, (int, float)):
        rtol = mp.expand_dims(asarray(rtol, dtype=s.dtype), axis=-1)
    cutoff = ew.multiply(stat.max(s, axis=-1, keepdims=True), rtol)
    return stat.sum(ew.greater(s, cutoff), axis=-1, dtype=dt.default_int())


@as_one_program
def matrix_power(x: Any, n: int, /) -> Any:
    """``x`` multiplied by itself ``n`` times (``n < 0``: powers of the inverse; 0: identity)."""
    try:
        n = operator.index(n)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, "linalg.matrix_power",
                          f"n must be an integer, got {type(n).__name__}") from None
    x = _matrix("matrix_power", x, square=True)
    if n == 0:
        return _bcast(eye(x.shape[-1], dtype=x.dtype), tuple(x.shape))
    if n < 0:
        x, n = inv(x), -n
    result = None
    base = x
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


# --- norms -------------------------------------------------------------------------------------

def _real_floating(op: str, x: Any) -> Any:
    x = operand(f"linalg.{op}", x)
    d = dtype_of(x)
    if d is None:
        x = np.asarray(x, dtype=dt.default_float().np)
        d = dtype_of(x)
    require(f"linalg.{op}", d, dt.FLOATING, x)
    return ensure_array(x)


@as_one_program
def vector_norm(x: Any, /, *, axis: int | tuple[int, ...] | None = None, keepdims: bool = False,
                ord: int | float = 2) -> Any:  # noqa: A002
    """Vector p-norm over ``axis`` (all axes when None); ``ord`` in R or +-inf (0: number of
    nonzeros). Real-valued result."""
    x = _real_floating("vector_norm", x)
    axes = tuple(range(x.ndim)) if axis is None else normalize_axes("linalg.vector_norm", axis,
                                                                   x.ndim)
    a = ew.abs(x)
    if ord == 2:
        out = ew.sqrt(stat.sum(ew.square(a), axis=axes, keepdims=keepdims))
    elif ord == 1:
        out = stat.sum(a, axis=axes, keepdims=keepdims)
    elif ord == math.inf:
        out = _reduce_or(stat.max, a, axes, keepdims, 0.0)
    elif ord == -math.inf:
        out = _reduce_or(stat.min, a, axes, keepdims, math.inf)
    elif ord == 0:
        out = _as(stat.sum(ew.not_equal(a, 0), axis=axes, keepdims=keepdims), a.dtype)
    elif isinstance(ord, (int, float)) and not isinstance(ord, bool):
        p = float(ord)
        out = ew.pow(stat.sum(ew.pow(a, p), axis=axes, keepdims=keepdims), 1.0 / p)
    else:
        raise _errors.err(_errors.ArgumentError, "linalg.vector_norm",
                          f"ord must be a real number or +-inf, got {ord!r}")
    return out


def _reduce_or(fn: Any, a: Any, axes: tuple, keepdims: bool, empty: float) -> Any:
    if any(a.shape[i] == 0 for i in axes):
        shape = tuple(1 if i in axes else s for i, s in enumerate(a.shape)) if keepdims else \
            tuple(s for i, s in enumerate(a.shape) if i not in axes)
        return ensure_array(np.full(shape, empty, dtype=a.dtype.np))
    return fn(a, axis=axes, keepdims=keepdims)


@as_one_program
def matrix_norm(x: Any, /, *, keepdims: bool = False,
                ord: int | float | str | None = "fro") -> Any:  # noqa: A002
    """Matrix norm of the trailing matrices: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf."""
    x = _matrix("matrix_norm", x)
    a = ew.abs(x)
    if ord == "fro" or ord is None:
        out = ew.sqrt(stat.sum(ew.square(a), axis=(-2, -1)))
    elif ord == "nuc":
        out = stat.sum(svdvals(x), axis=-1)
    elif ord in (2, -2):
        s = svdvals(x)
        out = _reduce_or(stat.max if ord == 2 else stat.min, s, (s.ndim - 1,), False, 0.0)
    elif ord in (1, -1):
        s = stat.sum(a, axis=-2)
        out = _reduce_or(stat.max if ord == 1 else stat.min, s, (s.ndim - 1,), False, 0.0)
    elif ord in (math.inf, -math.inf):
        s = stat.sum(a, axis=-1)
        out = _reduce_or(stat.max if ord > 0 else stat.min, s, (s.ndim - 1,), False, 0.0)
    else:
        raise _errors.err(_errors.ArgumentError, "linalg.matrix_norm",
                          f"ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}")
    if keepdims:
        out = mp.reshape(out, tuple(out.shape) + (1, 1))
    return out


# --- products and views ------------------------------------------------------------------------

@as_one_program
def outer(x1: Any, x2: Any, /) -> Any:
    """Outer product of two vectors: shape (N, M)."""
    a, b = _pair("outer", x1, x2)
    if a.ndim != 1 or b.ndim != 1:
        raise _errors.err(_errors.ShapeError, "linalg.outer",
                          f"expected two 1-D arrays, got shapes {tuple(a.shape)} and "
                          f"{tuple(b.shape)}")
    return ew.multiply(mp.expand_dims(a, axis=1), mp.expand_dims(b, axis=0))


@as_one_program
def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Cross product of 3-element vectors along ``axis`` (broadcasting)."""
    a, b = _pair("cross", x1, x2)
    require("linalg.cross", a.dtype, dt.NUMERIC, a, b)
    shape = broadcast_shapes("linalg.cross", tuple(a.shape), tuple(b.shape))
    if not shape:
        raise _errors.err(_errors.ShapeError, "linalg.cross", "expected arrays with an axis of "
                          "size 3, got 0-d arrays")
    if axis >= 0 and (a.ndim != b.ndim):
        raise _errors.err(_errors.ShapeError, "linalg.cross",
                          "a non-negative axis needs x1 and x2 of equal rank")
    ax = normalize_axis("linalg.cross", axis, len(shape))
    if shape[ax] != 3:
        raise _errors.err(_errors.ShapeError, "linalg.cross",
                          f"axis {axis} has size {shape[ax]} for broadcast shape {shape}; it "
                          "must have size 3")
    a = mp.moveaxis(_bcast(a, shape), ax, -1)
    b = mp.moveaxis(_bcast(b, shape), ax, -1)
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    out = mp.stack([ew.subtract(ew.multiply(a1, b2), ew.multiply(a2, b1)),
                    ew.subtract(ew.multiply(a2, b0), ew.multiply(a0, b2)),
                    ew.subtract(ew.multiply(a0, b1), ew.multiply(a1, b0))], axis=-1)
    return mp.moveaxis(out, -1, ax)


@as_one_program
def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """The ``offset`` diagonal of the trailing matrices: shape (..., K)."""
    x = ensure_array(operand("linalg.diagonal", x))
    if x.ndim < 2:
        raise _errors.err(_errors.ShapeError, "linalg.diagonal",
                          f"expected at least 2 dimensions, got shape {tuple(x.shape)}")
    return _diagonal(x, operator.index(offset))


@as_one_program
def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """Sum of the ``offset`` diagonal of the trailing matrices (dtype as ``sum``)."""
    x = ensure_array(operand("linalg.trace", x))
    if x.ndim < 2:
        raise _errors.err(_errors.ShapeError, "linalg.trace",
                          f"expected at least 2 dimensions, got shape {tuple(x.shape)}")
    require("linalg.trace", x.dtype, dt.NUMERIC, x)
    return stat.sum(_diagonal(x, operator.index(offset)), axis=-1, dtype=dtype)

