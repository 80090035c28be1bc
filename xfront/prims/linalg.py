"""Linear-algebra primitives: dot_general, and the matrix factorizations (cholesky,
triangular_solve, lu, qr, eigh, svd; NOTE [Linear algebra primitives] below).

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules.
"""

from __future__ import annotations

from typing import Any, Sequence

import ml_dtypes
import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._aval import AbstractArray
from xfront._core import Primitive
from xfront.lowering.rules import linalg as L
from xfront.prims import elementwise as _ew
from xfront.prims import shape as _sh
from xfront.prims._factories import check_dtype, internal_error


def _dot_general_abstract_eval(x: AbstractArray, y: AbstractArray, *, contracting, batch,
                               precision=None) -> AbstractArray:
    (xc, yc), (xb, yb) = contracting, batch
    check_dtype("dot_general", x, dt.NUMERIC)
    if x.dtype is not y.dtype:
        raise internal_error(_errors.DTypeError, "dot_general",
                             f"operands must share a dtype, got {x.short} and {y.short}")
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise internal_error(_errors.ShapeError, "dot_general",
                             f"unpaired dimension numbers {contracting}, {batch}")
    for a, b in list(zip(xc, yc)) + list(zip(xb, yb)):
        if not (0 <= a < x.ndim and 0 <= b < y.ndim) or x.shape[a] != y.shape[b]:
            raise internal_error(_errors.ShapeError, "dot_general",
                                 f"dimensions {contracting}/{batch} do not match for "
                                 f"{x.short} and {y.short}")
    x_free = [x.shape[i] for i in range(x.ndim) if i not in xc and i not in xb]
    y_free = [y.shape[i] for i in range(y.ndim) if i not in yc and i not in yb]
    shape = tuple(x.shape[i] for i in xb) + tuple(x_free) + tuple(y_free)
    return AbstractArray(shape, x.dtype)


def _dot_general_ref(x: np.ndarray, y: np.ndarray, *, contracting, batch, precision=None):
    (xc, yc), (xb, yb) = contracting, batch
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    xs = [""] * x.ndim
    ys = [""] * y.ndim
    for a, b in zip(xb, yb):
        xs[a] = ys[b] = next(letters)
    for a, b in zip(xc, yc):
        xs[a] = ys[b] = next(letters)
    for i in range(x.ndim):
        xs[i] = xs[i] or next(letters)
    for i in range(y.ndim):
        ys[i] = ys[i] or next(letters)
    out = ([xs[a] for a in xb] + [xs[i] for i in range(x.ndim) if i not in xc and i not in xb]
           + [ys[i] for i in range(y.ndim) if i not in yc and i not in yb])
    spec = f"{''.join(xs)},{''.join(ys)}->{''.join(out)}"
    if x.dtype in (np.float16, ml_dtypes.bfloat16):
        return np.einsum(spec, x.astype(np.float32), y.astype(np.float32))
    return np.einsum(spec, x, y)


def _dot_general_vjp(ct: Any, x: Any, y: Any, *, out: Any, contracting, batch,
                     precision=None) -> list[Any]:
    (xc, yc), (xb, yb) = contracting, batch
    nb = len(xb)
    x_free = [i for i in range(x.ndim) if i not in xc and i not in xb]
    y_free = [i for i in range(y.ndim) if i not in yc and i not in yb]
    ct_batch = list(range(nb))
    ct_x_free = list(range(nb, nb + len(x_free)))
    ct_y_free = list(range(nb + len(x_free), nb + len(x_free) + len(y_free)))
    # d/dx: contract ct with y over y's free dims; what remains of y is its contracted dims
    r = dot_general(ct, y, contracting=(ct_y_free, y_free), batch=(ct_batch, yb),
                    precision=precision)
    x_of_y_rest = [xc[list(yc).index(j)] for j in sorted(yc)]
    layout = list(xb) + x_free + x_of_y_rest
    ct_x = _sh.transpose(r, perm=[layout.index(d) for d in range(x.ndim)])
    r2 = dot_general(ct, x, contracting=(ct_x_free, x_free), batch=(ct_batch, xb),
                     precision=precision)
    y_of_x_rest = [yc[list(xc).index(i)] for i in sorted(xc)]
    layout2 = list(yb) + y_free + y_of_x_rest
    ct_y = _sh.transpose(r2, perm=[layout2.index(d) for d in range(y.ndim)])
    return [ct_x, ct_y]


dot_general_p = Primitive("dot_general", abstract_eval=_dot_general_abstract_eval,
                          ref=_dot_general_ref, lowering=L.dot_general, vjp=_dot_general_vjp)


def dot_general(x: Any, y: Any, *, contracting: tuple[Sequence[int], Sequence[int]],
                batch: tuple[Sequence[int], Sequence[int]] = ((), ()),
                precision: str | None = None) -> Any:
    c = (tuple(int(i) for i in contracting[0]), tuple(int(i) for i in contracting[1]))
    b = (tuple(int(i) for i in batch[0]), tuple(int(i) for i in batch[1]))
    return dot_general_p.bind(x, y, contracting=c, batch=b, precision=precision)


# --- matrix factorizations -------------------------------------------------------------------
#
# NOTE [Linear algebra primitives]
#     ``cholesky``, ``triangular_solve``, ``lu`` (LAPACK getrf: packed L\U and 1-based row
#     swaps), ``qr``, ``eigh`` and ``svd`` work on the two trailing axes of a batch of matrices
#     of float32/float64/complex64/complex128. The namespace (xfront.linalg) builds everything
#     else from them: solve/inv/det/slogdet from ``lu`` and ``triangular_solve``, pinv,
#     matrix_rank and matrix norms from ``svd``.
#
#     VJP rules: the adjoint formulas are the standard ones (Cholesky: Murray 2016; LU, QR,
#     eigh, SVD: Giles 2008, Seeger et al. 2017, Townsend 2016), written in the convention of
#     PyTorch's ``linalg`` backward formulas (gradients are conjugate-linear in the cotangent)
#     and converted to xfront's convention (JAX's: the plain transpose of the linear map) by
#     ``_conj_convention``: ``vjp(ct) = conj(adjoint(conj(ct)))``. Singular/degenerate inputs
#     give inf/NaN gradients, as in JAX (eigh and svd with repeated values, singular LU).

LINALG_DTYPES = frozenset({dt.float32, dt.float64, dt.complex64, dt.complex128})


def _check_matrix(prim: str, x: AbstractArray, *, square: bool = True) -> None:
    check_dtype(prim, x, LINALG_DTYPES)
    if x.ndim < 2 or (square and x.shape[-1] != x.shape[-2]):
        raise internal_error(_errors.ShapeError, prim,
                             f"expected a batch of {'square ' if square else ''}matrices, "
                             f"got {x.short}")


def _batched_ref(fn, x: np.ndarray, outs: list[tuple[tuple, Any]]) -> list[np.ndarray]:
    """Run ``fn(matrix) -> tuple of arrays`` per batch element into ``outs`` ((shape, dtype))."""
    batch = x.shape[:-2]
    res = [np.zeros(batch + tuple(s), dtype=d) for s, d in outs]
    for idx in np.ndindex(*batch):
        vals = fn(x[idx])
        for r, v in zip(res, vals):
            r[idx] = v
    return res


def _conj(x: Any) -> Any:
    if x.dtype.kind != "c":
        return x
    return _ew.complex_(_ew.real(x), _ew.neg(_ew.imag(x)))


def _mT(x: Any) -> Any:
    perm = list(range(x.ndim))
    perm[-2], perm[-1] = perm[-1], perm[-2]
    return _sh.transpose(x, perm=perm)


def _mH(x: Any) -> Any:
    return _conj(_mT(x))


def _mm(a: Any, b: Any) -> Any:
    nb = a.ndim - 2
    return dot_general(a, b, contracting=((nb + 1,), (nb,)), batch=(range(nb), range(nb)))


def _tri(x: Any, *, lower: bool, k: int = 0) -> Any:
    """tril(x, k) / triu(x, k) of the trailing matrices."""
    r = _sh.iota(dt.int32, x.shape, x.ndim - 2)
    c = _sh.iota(dt.int32, x.shape, x.ndim - 1)
    if k:
        r = _ew.add(r, _ew.full_like(r, k))
    keep = _ew.le(c, r) if lower else _ew.ge(c, r)
    return _ew.select(keep, x, _ew.full_like(x, 0))


def _eye_like(x: Any) -> Any:
    r = _sh.iota(dt.int32, x.shape, x.ndim - 2)
    c = _sh.iota(dt.int32, x.shape, x.ndim - 1)
    return _ew.select(_ew.eq(r, c), _ew.full_like(x, 1), _ew.full_like(x, 0))


def _diag(x: Any) -> Any:
    """The main diagonal of the trailing square matrices: (..., n, n) -> (..., n)."""
    from xfront.prims import reduction as _red

    return _red.reduce_sum(_ew.mul(x, _eye_like(x)), axes=(x.ndim - 1,))


def _diag_embed(v: Any, like: Any) -> Any:
    """A batch of square matrices (``like``'s shape) with ``v`` (..., n) on the diagonal."""
    return _ew.mul(_rows(v, like.shape), _eye_like(like))


def _rows(v: Any, shape: tuple) -> Any:
    """Broadcast (..., k) to (..., m, k): the same vector in every row."""
    nb = len(shape) - 2
    return _sh.broadcast_in_dim(v, shape=shape, dims=tuple(range(nb)) + (nb + 1,))


def _cols(v: Any, shape: tuple) -> Any:
    """Broadcast (..., m) to (..., m, k): entry i fills row i."""
    nb = len(shape) - 2
    return _sh.broadcast_in_dim(v, shape=shape, dims=tuple(range(nb)) + (nb,))


def _as(v: Any, d: Any) -> Any:
    return v if v.dtype is d else _ew.convert(v, dtype=d)


def _conj_convention(adjoint):
    """Turn a PyTorch-convention adjoint into xfront's VJP (NOTE [Linear algebra primitives])."""

    def vjp(cts: Any, *primals: Any, out: Any, **params: Any) -> list[Any]:
        if isinstance(cts, list):
            cts = [None if c is None else _conj(c) for c in cts]
        else:
            cts = _conj(cts)
        return [None if g is None else _conj(g) for g in adjoint(cts, *primals, out=out,
                                                                 **params)]

    return vjp


# cholesky: the lower factor L of a Hermitian positive-definite matrix (lower triangle read)

def _cholesky_abstract_eval(x: AbstractArray) -> AbstractArray:
    _check_matrix("cholesky", x)
    return AbstractArray(x.shape, x.dtype)


def _cholesky_ref(x: np.ndarray) -> np.ndarray:
    def one(a: np.ndarray):
        try:
            return (np.linalg.cholesky(a),)
        except np.linalg.LinAlgError:
            return (np.full(a.shape, np.nan),)

    return _batched_ref(one, x, [(x.shape[-2:], x.dtype)])[0]


def _cholesky_adjoint(g: Any, x: Any, *, out: Any) -> list[Any]:
    # gA = sym(L^-H phi(L^H gL) L^-1), phi: lower triangle with the diagonal halved
    L = out
    phi = _tri(_mm(_mH(L), g), lower=True)
    phi = _ew.sub(phi, _ew.mul(_ew.full_like(phi, 0.5), _ew.mul(phi, _eye_like(phi))))
    y = triangular_solve(L, phi, left_side=True, lower=True, transpose_a="ADJOINT")
    ga = triangular_solve(L, y, left_side=False, lower=True, transpose_a="NO_TRANSPOSE")
    return [_ew.mul(_ew.full_like(ga, 0.5), _ew.add(ga, _mH(ga)))]


cholesky_p = Primitive("cholesky", abstract_eval=_cholesky_abstract_eval, ref=_cholesky_ref,
                       lowering=L.cholesky, platform_lowering={"cpu": L.cholesky_cpu},
                       vjp=_conj_convention(_cholesky_adjoint))


def cholesky(x: Any) -> Any:
    return cholesky_p.bind(x)


# triangular_solve: op(a) x = b (left_side) or x op(a) = b, reading one triangle of ``a``

_TRANSPOSES = ("NO_TRANSPOSE", "TRANSPOSE", "ADJOINT")


def _triangular_solve_abstract_eval(a: AbstractArray, b: AbstractArray, *, left_side: bool,
                                    lower: bool, transpose_a: str,
                                    unit_diagonal: bool) -> AbstractArray:
    _check_matrix("triangular_solve", a)
    _check_matrix("triangular_solve", b, square=False)
    if transpose_a not in _TRANSPOSES:
        raise internal_error(_errors.ArgumentError, "triangular_solve",
                             f"transpose_a must be one of {_TRANSPOSES}, got {transpose_a!r}")
    n = a.shape[-1]
    if (a.dtype is not b.dtype or a.shape[:-2] != b.shape[:-2]
            or (b.shape[-2] if left_side else b.shape[-1]) != n):
        raise internal_error(_errors.ShapeError, "triangular_solve",
                             f"{a.short} and {b.short} do not fit (left_side={left_side})")
    return AbstractArray(b.shape, b.dtype)


def _op_matrix(a: np.ndarray, lower: bool, transpose_a: str, unit_diagonal: bool) -> np.ndarray:
    t = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        t = t - np.eye(a.shape[-1]) * np.diagonal(t, axis1=-2, axis2=-1)[..., None, :] \
            + np.eye(a.shape[-1], dtype=a.dtype)
    if transpose_a == "TRANSPOSE":
        t = np.swapaxes(t, -1, -2)
    elif transpose_a == "ADJOINT":
        t = np.conj(np.swapaxes(t, -1, -2))
    return t


def _triangular_solve_ref(a: np.ndarray, b: np.ndarray, *, left_side: bool, lower: bool,
                          transpose_a: str, unit_diagonal: bool) -> np.ndarray:
    m = _op_matrix(a, lower, transpose_a, unit_diagonal)
    if b.size == 0:
        return b.copy()
    if left_side:
        return np.linalg.solve(m, b)
    return np.swapaxes(np.linalg.solve(np.swapaxes(m, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)


def _triangular_solve_adjoint(g: Any, a: Any, b: Any, *, out: Any, left_side: bool, lower: bool,
                              transpose_a: str, unit_diagonal: bool) -> list[Any]:
    # X = M^-1 B (M = op(a)): gB = M^-H gX, gM = -gB X^H (right side: gB = gX M^-H, gM = -X^H gB)
    if transpose_a == "TRANSPOSE":  # M^-H = conj(a)^-1
        aa, t2 = _conj(a), "NO_TRANSPOSE"
    else:
        aa, t2 = a, "NO_TRANSPOSE" if transpose_a == "ADJOINT" else "ADJOINT"
    gb = triangular_solve(aa, g, left_side=left_side, lower=lower, transpose_a=t2,
                          unit_diagonal=unit_diagonal)
    gm = _mm(gb, _mH(out)) if left_side else _mm(_mH(out), gb)
    gm = _ew.neg(gm)
    ga = {"NO_TRANSPOSE": gm, "TRANSPOSE": _mT(gm), "ADJOINT": _mH(gm)}[transpose_a]
    k = (-1 if lower else 1) if unit_diagonal else 0
    return [_tri(ga, lower=lower, k=k), gb]


triangular_solve_p = Primitive("triangular_solve", abstract_eval=_triangular_solve_abstract_eval,
                               ref=_triangular_solve_ref, lowering=L.triangular_solve,
                               platform_lowering={"cpu": L.triangular_solve_cpu},
                               vjp=_conj_convention(_triangular_solve_adjoint))


def triangular_solve(a: Any, b: Any, *, left_side: bool = True, lower: bool = True,
                     transpose_a: str = "NO_TRANSPOSE", unit_diagonal: bool = False) -> Any:
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=str(transpose_a),
                                   unit_diagonal=bool(unit_diagonal))


def _no_rule(prim: str):
    def rule(ctx: Any, *args: Any, **params: Any) -> Any:
        raise _errors.LoweringError(
            f"xfront.linalg: `{prim}` has a lowering for CPU (LAPACK) only; platform "
            f"{ctx.platform!r} has no kernel for it yet")

    return rule


# lu: LAPACK getrf, P^T A = L U with row swaps ``pivots`` (1-based, int32, applied in order)

def _lu_abstract_eval(x: AbstractArray) -> list[AbstractArray]:
    _check_matrix("lu", x)
    return [AbstractArray(x.shape, x.dtype), AbstractArray(x.shape[:-1], dt.int32)]


def _lu_one(a: np.ndarray):
    a = a.astype(a.dtype, copy=True)
    n = a.shape[-1]
    piv = np.zeros(n, dtype=np.int32)
    for j in range(n):
        col = a[j:, j]
        p = j + int(np.argmax(np.abs(col.real) + np.abs(col.imag)))  # LAPACK's i?amax
        piv[j] = p + 1
        if p != j:
            a[[j, p]] = a[[p, j]]
        if a[j, j] != 0:
            a[j + 1:, j] /= a[j, j]
        a[j + 1:, j + 1:] -= np.outer(a[j + 1:, j], a[j, j + 1:])
    return a, piv


def _lu_ref(x: np.ndarray) -> list[np.ndarray]:
    return _batched_ref(_lu_one, x, [(x.shape[-2:], x.dtype), (x.shape[-1:], np.int32)])


def apply_pivots(y: Any, pivots: Any, *, inverse: bool = False) -> Any:
    """Swap the rows of ``y`` (..., n, k) as getrf's ``pivots`` (..., n) say: row i with row
    pivots[i] - 1 for i = 0, 1, ... (P^T y); ``inverse`` undoes them (P y).

    The swaps are applied to an index vector (a scan over the n pivots on int32 (..., n)
    arrays), then ``y``'s rows are gathered once."""
    from xfront.prims import control as _ctl
    from xfront.prims import indexing as _ix
    from xfront.prims import reduction as _red

    n = pivots.shape[-1]
    if n == 0 or y.size == 0:
        return y
    nb = pivots.ndim - 1
    shape = tuple(pivots.shape)
    steps = _sh.iota(dt.int32, (n,), 0)
    piv_t = _sh.transpose(pivots, perm=(nb,) + tuple(range(nb)))  # (n, *batch)

    def body(perm: Any, i: Any, p: Any) -> list[Any]:
        pos = _sh.iota(dt.int32, shape, nb)
        at_i = _ew.eq(pos, _sh.broadcast_in_dim(i, shape=shape, dims=()))
        at_j = _ew.eq(pos, _sh.broadcast_in_dim(_ew.sub(p, _ew.full_like(p, 1)), shape=shape,
                                                dims=tuple(range(nb))))

        def pick(at: Any) -> Any:  # perm[..., i] / perm[..., j], broadcast back to (..., n)
            v = _red.reduce_sum(_ew.select(at, perm, _ew.full_like(perm, 0)), axes=(nb,))
            return _sh.broadcast_in_dim(v, shape=shape, dims=tuple(range(nb)))

        return [_ew.select(at_i, pick(at_j), _ew.select(at_j, pick(at_i), perm))]

    start = _sh.iota(dt.int32, shape, nb)
    perm = _ctl.scan_flat(body, [start], [AbstractArray(shape, dt.int32)], [steps, piv_t],
                          [AbstractArray((), dt.int32), AbstractArray(shape[:-1], dt.int32)],
                          n, inverse)[0]
    return _ix.take_along_axis(y, _cols(perm, tuple(y.shape)), axis=y.ndim - 2)


def _lu_adjoint(cts: list[Any], x: Any, *, out: list[Any]) -> list[Any]:
    # A = P L U: gA = P L^-H (tril(L^H gL, -1) + triu(gU U^H)) U^-H
    g = cts[0]
    if g is None:
        return [None]
    lu, piv = out
    lo = _ew.add(_tri(lu, lower=True, k=-1), _eye_like(lu))
    up = _tri(lu, lower=False)
    phi = _ew.add(_tri(_mm(_mH(lo), _tri(g, lower=True, k=-1)), lower=True, k=-1),
                  _tri(_mm(_tri(g, lower=False), _mH(up)), lower=False))
    y = triangular_solve(lo, phi, left_side=True, lower=True, transpose_a="ADJOINT",
                         unit_diagonal=True)
    y = triangular_solve(up, y, left_side=False, lower=False, transpose_a="ADJOINT")
    return [apply_pivots(y, piv, inverse=True)]


lu_p = Primitive("lu", abstract_eval=_lu_abstract_eval, ref=_lu_ref, lowering=_no_rule("lu"),
                 platform_lowering={"cpu": L.lu_cpu}, vjp=_conj_convention(_lu_adjoint),
                 multiple_results=True)


def lu(x: Any) -> list[Any]:
    return lu_p.bind(x)


# qr: Householder QR (LAPACK geqrf + orgqr/ungqr); reduced (k = min(m, n)) or complete

def _qr_abstract_eval(x: AbstractArray, *, full_matrices: bool) -> list[AbstractArray]:
    _check_matrix("qr", x, square=False)
    *b, m, n = x.shape
    k = m if full_matrices else min(m, n)
    return [AbstractArray(tuple(b) + (m, k), x.dtype), AbstractArray(tuple(b) + (k, n), x.dtype)]


def _qr_ref(x: np.ndarray, *, full_matrices: bool) -> list[np.ndarray]:
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q, r]


def _qr_adjoint(cts: list[Any], x: Any, *, out: list[Any], full_matrices: bool) -> list[Any]:
    # m >= n (reduced): gA = (gQ + Q copyltu(M)) R^-H, M = R gR^H - gQ^H Q
    m, n = x.shape[-2], x.shape[-1]
    if m < n or (full_matrices and m != n):
        from xfront._autodiff import DifferentiationError

        raise _errors.err(DifferentiationError, "linalg.qr",
                          f"the gradient of QR is defined for M >= N with mode='reduced' (or "
                          f"square matrices), got shape {tuple(x.shape)} with "
                          f"mode={'complete' if full_matrices else 'reduced'!r}")
    q, r = out
    gq, gr = cts
    if gq is None:
        gq = _ew.full_like(q, 0)
    if gr is None:
        gr = _ew.full_like(r, 0)
    mm = _ew.sub(_mm(r, _mH(gr)), _mm(_mH(gq), q))
    low = _tri(mm, lower=True, k=-1)
    d = _diag(mm)
    if d.dtype.kind == "c":
        d = _ew.complex_(_ew.real(d), _ew.full_like(_ew.real(d), 0))
    sym = _ew.add(_ew.add(low, _mH(low)), _diag_embed(d, mm))
    b = _ew.add(gq, _mm(q, sym))
    return [triangular_solve(r, b, left_side=False, lower=False, transpose_a="ADJOINT")]


qr_p = Primitive("qr", abstract_eval=_qr_abstract_eval, ref=_qr_ref, lowering=_no_rule("qr"),
                 platform_lowering={"cpu": L.qr_cpu}, vjp=_conj_convention(_qr_adjoint),
                 multiple_results=True)


def qr(x: Any, *, full_matrices: bool = False) -> list[Any]:
    return qr_p.bind(x, full_matrices=bool(full_matrices))


# eigh: eigenvalues (ascending, real) and eigenvectors of a Hermitian matrix (lower triangle)

def _eigh_abstract_eval(x: AbstractArray) -> list[AbstractArray]:
    _check_matrix("eigh", x)
    return [AbstractArray(x.shape[:-1], dt.real_dtype(x.dtype)), AbstractArray(x.shape, x.dtype)]


def _eigh_ref(x: np.ndarray) -> list[np.ndarray]:
    w, v = np.linalg.eigh(x, UPLO="L")
    return [w, v]


def _eigh_adjoint(cts: list[Any], x: Any, *, out: list[Any]) -> list[Any]:
    # gA = V (diag(gw) + skew(V^H gV) / E) V^H, skew(X) = (X - X^H)/2, E_ij = w_j - w_i
    w, v = out
    gw, gv = cts
    inner = _ew.full_like(v, 0)
    if gv is not None:
        vg = _mm(_mH(v), gv)
        skew = _ew.mul(_ew.full_like(vg, 0.5), _ew.sub(vg, _mH(vg)))
        e = _ew.sub(_rows(w, v.shape), _cols(w, v.shape))  # real, 0 on the diagonal
        e = _ew.add(e, _eye_like(e))
        inner = _ew.mul(_ew.div(skew, _as(e, v.dtype)), _ew.sub(_ew.full_like(v, 1),
                                                               _eye_like(v)))
    if gw is not None:
        inner = _ew.add(inner, _diag_embed(_as(gw, v.dtype), v))
    return [_mm(_mm(v, inner), _mH(v))]


eigh_p = Primitive("eigh", abstract_eval=_eigh_abstract_eval, ref=_eigh_ref,
                   lowering=_no_rule("eigh"), platform_lowering={"cpu": L.eigh_cpu},
                   vjp=_conj_convention(_eigh_adjoint), multiple_results=True)


def eigh(x: Any) -> list[Any]:
    return eigh_p.bind(x)


# svd: singular values (descending, real) and, with compute_uv, U and V^H

def _svd_abstract_eval(x: AbstractArray, *, full_matrices: bool,
                       compute_uv: bool) -> list[AbstractArray]:
    _check_matrix("svd", x, square=False)
    *b, m, n = x.shape
    b, k = tuple(b), min(m, n)
    s = AbstractArray(b + (k,), dt.real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    if full_matrices:
        return [s, AbstractArray(b + (m, m), x.dtype), AbstractArray(b + (n, n), x.dtype)]
    return [s, AbstractArray(b + (m, k), x.dtype), AbstractArray(b + (k, n), x.dtype)]


def _svd_ref(x: np.ndarray, *, full_matrices: bool, compute_uv: bool) -> list[np.ndarray]:
    if not compute_uv:
        return [np.linalg.svd(x, compute_uv=False)]
    u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
    return [s, u, vh]


def _svd_adjoint(cts: list[Any], x: Any, *, out: list[Any], full_matrices: bool,
                 compute_uv: bool) -> list[Any]:
    m, n = x.shape[-2], x.shape[-1]
    k = min(m, n)
    if not compute_uv:
        s, u, vh = svd(x, full_matrices=False, compute_uv=True)
        gs, gu, gvh = cts[0], None, None
    else:
        if full_matrices and m != n:
            from xfront._autodiff import DifferentiationError

            raise _errors.err(DifferentiationError, "linalg.svd",
                              f"the gradient of the SVD with full_matrices=True is defined for "
                              f"square matrices only, got shape {tuple(x.shape)}",
                              "use full_matrices=False")
        s, u, vh = out
        gs, gu, gvh = cts
    d = u.dtype
    sd = _as(s, d)
    sq = (k, k)
    batch = tuple(x.shape[:-2])
    inner = _sh.broadcast_in_dim(np.zeros((), d.np), shape=batch + sq, dims=())
    v = _mH(vh)
    # gA = U [ (skew(U^H gU) S + S skew(V^H gV)) / E + diag(gS) ] V^H
    #      + (I - U U^H) gU S^-1 V^H + U S^-1 gV^H (I - V V^H),  skew(X) = X - X^H,
    #      E_jk = s_k^2 - s_j^2
    s2 = _ew.mul(sd, sd)
    e = _ew.sub(_rows(s2, inner.shape), _cols(s2, inner.shape))
    off = _ew.sub(_ew.full_like(inner, 1), _eye_like(inner))
    e = _ew.add(e, _eye_like(inner))
    if gu is not None:
        ug = _mm(_mH(u), gu)
        inner = _ew.add(inner, _ew.mul(_ew.sub(ug, _mH(ug)), _rows(sd, inner.shape)))
    gv = None if gvh is None else _mH(gvh)
    if gv is not None:
        vg = _mm(_mH(v), gv)
        inner = _ew.add(inner, _ew.mul(_cols(sd, inner.shape), _ew.sub(vg, _mH(vg))))
    inner = _ew.mul(_ew.div(inner, e), off)
    if gs is not None:
        inner = _ew.add(inner, _diag_embed(_as(gs, d), inner))
    ga = _mm(_mm(u, inner), vh)
    if gu is not None and m > k:
        proj = _ew.sub(gu, _mm(u, _mm(_mH(u), gu)))
        ga = _ew.add(ga, _mm(_ew.div(proj, _rows(sd, proj.shape)), vh))
    if gv is not None and n > k:
        proj = _ew.sub(gv, _mm(v, _mm(_mH(v), gv)))  # (n, k)
        ga = _ew.add(ga, _mm(u, _ew.div(_mH(proj), _cols(sd, batch + (k, n)))))
    return [ga]


svd_p = Primitive("svd", abstract_eval=_svd_abstract_eval, ref=_svd_ref,
                  lowering=_no_rule("svd"), platform_lowering={"cpu": L.svd_cpu},
                  vjp=_conj_convention(_svd_adjoint), multiple_results=True)


def svd(x: Any, *, full_matrices: bool = False, compute_uv: bool = True) -> list[Any]:
    return svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------

from xfront import _batching as _bt  # noqa: E402


def _dot_general_rule(size: int, args, bdims, *, contracting, batch, precision=None):
    (xc, yc), (xb, yb) = contracting, batch
    x, y = args
    dx, dy = bdims
    up = lambda ax: tuple(a + 1 for a in ax)  # noqa: E731
    if dx is not None and dy is not None:
        # both batched: the batch axis becomes a dot batch dimension (the output's first axis)
        out = dot_general(_bt.moveaxis(x, dx, 0), _bt.moveaxis(y, dy, 0),
                          contracting=(up(xc), up(yc)), batch=((0, *up(xb)), (0, *up(yb))),
                          precision=precision)
        return out, 0
    if dx is not None:
        # a free axis of x: x's free axes follow the dot batch axes in the output
        out = dot_general(_bt.moveaxis(x, dx, 0), y, contracting=(up(xc), yc),
                          batch=(up(xb), yb), precision=precision)
        return out, len(xb)
    # a free axis of y: y's free axes follow the batch axes and x's free axes
    x_free = len(x.shape) - len(xc) - len(xb)
    out = dot_general(x, _bt.moveaxis(y, dy, 0), contracting=(xc, up(yc)), batch=(xb, up(yb)),
                      precision=precision)
    return out, len(xb) + x_free


dot_general_p.batch = _dot_general_rule

# the factorizations work on the two trailing axes of a batch of matrices: batch at the front
for _p in (cholesky_p, triangular_solve_p, lu_p, qr_p, eigh_p, svd_p):
    _p.batch = _bt.leading_batch(_p)
del _p
