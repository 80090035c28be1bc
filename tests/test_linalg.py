"""Tests of ``xfront.linalg`` (the Array API linear-algebra extension), table-driven.

Each ``Case`` row names a public function, its NumPy reference, the dtypes and shapes it is
checked on (batched, zero-size), how inputs are made (general, Hermitian positive-definite,
vectors, ...) and, for factorizations whose factors are unique only up to signs/phases, the
invariant quantities compared (``post``). Generated tests: eager and compiled results against
NumPy (value, shape, dtype); the traced graph run through every primitive's NumPy reference;
gradients and JVPs against central finite differences in float64; and bad inputs against the
expected xfront error. Plus: the StableHLO uses the LAPACK targets with column-major layouts,
failure conventions (NaN / inf / 0), and the primitive-level VJPs of triangular_solve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import xfront as xf
from xfront import _core
from xfront.prims import linalg as pla

LA = xf.linalg
FLOATS = ("float32", "float64", "complex64", "complex128")
TOL = {"float32": 2e-4, "complex64": 2e-4, "float64": 1e-9, "complex128": 1e-9}

SQUARE = ((2, 3, 3), (1, 1), (0, 2, 2), (0, 0))
RECT = ((2, 4, 3), (3, 5), (0, 2, 3))


def _rand(rng, shape, dtype):
    d = np.dtype(dtype)
    x = rng.standard_normal(shape)
    if d.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(d)


def _mH(a):
    return np.conj(np.swapaxes(a, -1, -2))


def general(rng, shapes, dtype):
    return [_rand(rng, s, dtype) for s in shapes]


def well_conditioned(rng, shapes, dtype):
    out = []
    for s in shapes:
        a = _rand(rng, s, dtype)
        if len(s) >= 2 and s[-1] == s[-2]:
            a = (a + 2 * s[-1] * np.eye(s[-1])).astype(dtype)
        out.append(a)
    return out


def hpd(rng, shapes, dtype):
    """Hermitian positive-definite matrices."""
    out = []
    for s in shapes:
        a = _rand(rng, s, dtype)
        out.append((a @ _mH(a) + s[-1] * np.eye(s[-1])).astype(dtype))
    return out


def _abs2(v):
    return (np.abs(np.asarray(v)) ** 2).astype(np.asarray(v).real.dtype)


def _gram(v):
    v = np.asarray(v)
    return _mH(v) @ v


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable  # xfront
    ref: Callable  # NumPy
    shapes: tuple  # each entry: a tuple of input shapes
    make: Callable = general
    dtypes: tuple = FLOATS
    post: Callable | None = None  # (outputs as NumPy) -> comparable quantities
    grad: bool = True
    grad_fn: Callable | None = None  # differentiated instead of fn (e.g. sign-invariant)
    errors: tuple = ()


def _svd_full_post(out):
    u, s, vh = (np.asarray(o) for o in out)
    k = s.shape[-1]
    return (s, _abs2(u[..., :, :k]), _abs2(vh[..., :k, :]), _gram(u), _gram(_mH(vh)),
            u.shape, vh.shape)


def _svd_reduced_post(out):
    u, s, vh = (np.asarray(o) for o in out)
    return (s, _abs2(u), _abs2(vh))


def _eigh_post(out):
    w, v = (np.asarray(o) for o in out)
    return (w, _abs2(v))


def _ref_svd(full):
    def ref(x):
        u, s, vh = np.linalg.svd(x, full_matrices=full)
        return u, s, vh
    return ref


def _eigh_grad(x):
    r = LA.eigh(x @ xf.matrix_transpose(x) + 3 * xf.eye(x.shape[-1]))
    return r.eigenvalues, r.eigenvectors * r.eigenvectors  # sign-invariant


def _svd_grad(full):
    def f(x):
        r = LA.svd(x, full_matrices=full)
        return r.S, r.U * r.U, r.Vh * r.Vh
    return f


def _sq(*shapes):
    return tuple((s,) for s in shapes)


CASES = [
    Case("cholesky", LA.cholesky, np.linalg.cholesky, _sq(*SQUARE), make=hpd,
         grad_fn=lambda x: LA.cholesky(x @ xf.matrix_transpose(x) + 3 * xf.eye(x.shape[-1])),
         errors=[((3, 4), "float64", {}, xf.ShapeError, r"linalg\.cholesky: expected square "
                  r"matrices in the last two axes .*got shape \(3, 4\)"),
                 ((3, 3), "int32", {}, xf.DTypeError, r"linalg\.cholesky: expected a float32, "
                  r"float64, complex64 or complex128 array, got i32\[3,3\]")]),
    Case("cholesky_upper", lambda x: LA.cholesky(x, upper=True),
         lambda x: _mH(np.linalg.cholesky(x)), _sq((2, 3, 3)), make=hpd, grad=False),
    Case("det", LA.det, np.linalg.det, _sq(*SQUARE),
         errors=[((2, 3), "float64", {}, xf.ShapeError,
                  r"linalg\.det: expected square matrices .*got shape \(2, 3\)"),
                 ((3,), "float64", {}, xf.ShapeError, r"linalg\.det: expected square matrices"),
                 ((2, 2), "int64", {}, xf.DTypeError, r"linalg\.det: .*got i64\[2,2\]")]),
    Case("slogdet", lambda x: tuple(LA.slogdet(x)), lambda x: tuple(np.linalg.slogdet(x)),
         _sq(*SQUARE), grad_fn=lambda x: LA.slogdet(x).logabsdet),
    Case("inv", LA.inv, np.linalg.inv, _sq(*SQUARE), make=well_conditioned,
         errors=[((3, 4), "float32", {}, xf.ShapeError,
                  r"linalg\.inv: expected square matrices in the last two axes \(shape "
                  r"\(\.\.\., M, M\)\), got shape \(3, 4\)"),
                 ((3, 3), "bool", {}, xf.DTypeError, r"linalg\.inv: .*got bool\[3,3\]")]),
    Case("solve", LA.solve, np.linalg.solve,
         (((2, 3, 3), (2, 3, 2)), ((3, 3), (3,)), ((1, 2, 2), (3, 2, 4)), ((0, 2, 2), (0, 2, 1)),
          ((2, 2), (2, 0))), make=well_conditioned,
         errors=[((3, 3), "float64", {"x2": (4,)}, xf.ShapeError,
                  r"linalg\.solve: x1 has shape \(3, 3\) and x2 has shape \(4,\); x2 must "
                  r"have 3 rows")]),
    Case("eigh", lambda x: tuple(LA.eigh(x)), lambda x: tuple(np.linalg.eigh(x)),
         _sq(*SQUARE), make=hpd, post=_eigh_post, grad_fn=_eigh_grad),
    Case("eigvalsh", LA.eigvalsh, np.linalg.eigvalsh, _sq(*SQUARE), make=hpd,
         grad_fn=lambda x: LA.eigvalsh(x @ xf.matrix_transpose(x))),
    Case("svd", lambda x: tuple(LA.svd(x)), _ref_svd(True), _sq(*RECT), post=_svd_full_post,
         grad_fn=None, grad=False),
    Case("svd_reduced", lambda x: tuple(LA.svd(x, full_matrices=False)), _ref_svd(False),
         _sq(*RECT, (3, 3)), post=_svd_reduced_post, grad_fn=_svd_grad(False)),
    Case("svd_square", lambda x: tuple(LA.svd(x)), _ref_svd(True), _sq((2, 3, 3)),
         post=_svd_reduced_post, grad_fn=_svd_grad(True), dtypes=("float64",)),
    Case("svdvals", LA.svdvals, lambda x: np.linalg.svd(x, compute_uv=False),
         _sq(*RECT, (3, 3))),
    Case("qr", lambda x: tuple(LA.qr(x)), lambda x: tuple(np.linalg.qr(x)),
         _sq((2, 4, 3), (3, 3), (0, 2, 2), (3, 0)),
         errors=[((3, 3), "float64", {"mode": "r"}, xf.ArgumentError,
                  r"linalg\.qr: mode must be 'reduced' or 'complete', got 'r'")]),
    Case("qr_wide", lambda x: tuple(LA.qr(x)), lambda x: tuple(np.linalg.qr(x)),
         _sq((2, 3, 5)), grad=False),
    Case("qr_complete", lambda x: tuple(LA.qr(x, mode="complete")),
         lambda x: tuple(np.linalg.qr(x, mode="complete")), _sq((2, 4, 3), (3, 5), (3, 3)),
         grad=False),
    Case("pinv", LA.pinv, np.linalg.pinv, _sq(*RECT, (3, 3))),
    Case("matrix_rank", LA.matrix_rank, np.linalg.matrix_rank, _sq((2, 4, 3), (3, 3), (0, 3)),
         grad=False),
    Case("matrix_rank_deficient", lambda x: LA.matrix_rank(x @ xf.matrix_transpose(x)),
         lambda x: np.linalg.matrix_rank(x @ np.swapaxes(x, -1, -2)), _sq((2, 4, 2)),
         grad=False),
    Case("matrix_power_3", lambda x: LA.matrix_power(x, 3),
         lambda x: np.linalg.matrix_power(x, 3), _sq((2, 3, 3), (0, 0))),
    Case("matrix_power_-2", lambda x: LA.matrix_power(x, -2),
         lambda x: np.linalg.matrix_power(x, -2), _sq((2, 3, 3)), make=well_conditioned,
         grad=False),
    Case("matrix_power_0", lambda x: LA.matrix_power(x, 0),
         lambda x: np.linalg.matrix_power(x, 0), _sq((2, 3, 3)), grad=False,
         errors=[((2, 2), "float64", {"n": 1.5}, xf.ArgumentError,
                  r"linalg\.matrix_power: n must be an integer, got float")]),
    *[Case(f"matrix_norm_{o}", (lambda o: lambda x: LA.matrix_norm(x, ord=o))(o),
           (lambda o: lambda x: np.linalg.matrix_norm(x, ord=o))(o), _sq((2, 3, 4), (3, 3)),
           grad=o in ("fro", "nuc", 2, 1))
      for o in ("fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)],
    Case("matrix_norm_keepdims", lambda x: LA.matrix_norm(x, ord=2, keepdims=True),
         lambda x: np.linalg.matrix_norm(x, ord=2, keepdims=True), _sq((2, 3, 4)), grad=False),
    *[Case(f"vector_norm_{o}", (lambda o: lambda x: LA.vector_norm(x, ord=o, axis=-1))(o),
           (lambda o: lambda x: np.linalg.vector_norm(x, ord=o, axis=-1))(o),
           _sq((2, 5), (4,)), grad=o in (2, 3, np.inf))
      for o in (2, 1, 3, 0.5, 0, np.inf, -np.inf)],
    Case("vector_norm_axes", lambda x: LA.vector_norm(x, axis=(0, 2), keepdims=True),
         lambda x: np.linalg.vector_norm(x, axis=(0, 2), keepdims=True), _sq((2, 3, 4))),
    Case("vector_norm_all", LA.vector_norm, lambda x: np.linalg.vector_norm(x),
         _sq((2, 3), (), (0, 3))),
    Case("cross", LA.cross, np.cross, (((2, 3), (2, 3)), ((4, 3), (3,))),
         errors=[((2, 4), "float64", {"x2": (2, 4)}, xf.ShapeError,
                  r"linalg\.cross: axis -1 has size 4 .*it must have size 3")]),
    Case("cross_axis0", lambda a, b: LA.cross(a, b, axis=0),
         lambda a, b: np.cross(a, b, axis=0), (((3, 2), (3, 2)),)),
    Case("outer", LA.outer, np.outer, (((3,), (4,)), ((0,), (2,))),
         errors=[((2, 2), "float64", {"x2": (2,)}, xf.ShapeError,
                  r"linalg\.outer: expected two 1-D arrays")]),
    Case("diagonal", LA.diagonal, lambda x: np.diagonal(x, axis1=-2, axis2=-1),
         _sq((2, 3, 4), (0, 0))),
    Case("diagonal_offset", lambda x: LA.diagonal(x, offset=-1),
         lambda x: np.diagonal(x, offset=-1, axis1=-2, axis2=-1), _sq((2, 4, 3), (3, 2))),
    Case("trace", LA.trace, lambda x: np.trace(x, axis1=-2, axis2=-1), _sq((2, 3, 4), (3, 3))),
    Case("trace_offset", lambda x: LA.trace(x, offset=2),
         lambda x: np.trace(x, offset=2, axis1=-2, axis2=-1), _sq((2, 3, 4))),
    Case("matmul", LA.matmul, np.matmul, (((2, 3, 4), (4, 2)),), grad=False),
    Case("tensordot", lambda a, b: LA.tensordot(a, b, axes=1),
         lambda a, b: np.tensordot(a, b, axes=1), (((2, 3), (3, 2)),), grad=False),
    Case("vecdot", LA.vecdot, lambda a, b: np.sum(np.conj(a) * b, axis=-1),
         (((2, 3), (3,)),), grad=False),
    Case("matrix_transpose", LA.matrix_transpose, lambda x: np.swapaxes(x, -1, -2),
         _sq((2, 3, 4)), grad=False),
]

IDS = [c.name for c in CASES]


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _compare(got, exp, dtype, what):
    got, exp = _as_tuple(got), _as_tuple(exp)
    assert len(got) == len(exp), what
    tol = TOL[dtype]
    for g, e in zip(got, exp):
        if isinstance(e, tuple):  # shapes
            assert tuple(g) == e, what
            continue
        g = np.asarray(g)
        e = np.asarray(e)
        assert g.shape == e.shape, f"{what}: shape {g.shape} != {e.shape}"
        assert g.dtype == e.dtype, f"{what}: dtype {g.dtype} != {e.dtype}"
        scale = 1.0 + (float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0))
                       if e.dtype.kind in "fc" else 0.0)
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol * scale, err_msg=what)


def _inputs(case, dtype, shapes, seed=0):
    return case.make(np.random.default_rng(seed), shapes, np.dtype(dtype))


PARAMS = [(c, d) for c in CASES for d in c.dtypes]


@pytest.mark.parametrize("case,dtype", PARAMS, ids=[f"{c.name}-{d}" for c, d in PARAMS])
def test_matches_numpy(case, dtype):
    """Eager and compiled results match NumPy; the traced graph's prim refs agree.

    float64 runs every shape of the row; the other dtypes its first (batched) shape."""
    shape_sets = case.shapes if dtype == "float64" else case.shapes[:1]
    post = case.post or (lambda o: o)
    for shapes in shape_sets:
        args = _inputs(case, dtype, shapes)
        with np.errstate(all="ignore"):
            expected = post(case.ref(*args))
        where = f"{case.name} {dtype} {shapes}"
        eager = case.fn(*[xf.asarray(a) for a in args])
        _compare(post(tuple(np.asarray(o) for o in _as_tuple(eager)) if case.post else eager),
                 expected, dtype, "eager " + where)
        f = xf.compile(case.fn)
        _compare(post(f(*args)) if case.post else f(*args), expected, dtype, "compiled " + where)
        graph = f.trace(*args).graph
        _core.check_graph(graph)
        if dtype == "float64":
            refs = _core.eval_graph_ref(graph, *args)
            _compare(post(tuple(refs)) if case.post else tuple(refs), expected, dtype,
                     "prim refs " + where)


GRAD_CASES = [c for c in CASES if c.grad and "float64" in c.dtypes]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_grad_matches_finite_differences(case):
    """grad and jvp of sum(f(x) * w) against central differences, float64, batched input."""
    rng = np.random.default_rng(3)
    fn = case.grad_fn or case.fn
    args = _inputs(case, "float64", case.shapes[0], seed=3)
    outs = _as_tuple(fn(*[xf.asarray(a) for a in args]))
    ws = [rng.standard_normal(np.shape(o)) for o in outs]

    def loss(*xs):
        return sum(xf.sum(o * w) for o, w in zip(_as_tuple(fn(*xs)), ws))

    lc = xf.compile(loss)
    vs = [rng.standard_normal(a.shape) for a in args]
    h = 1e-6
    fd = (float(lc(*[a + h * v for a, v in zip(args, vs)]))
          - float(lc(*[a - h * v for a, v in zip(args, vs)]))) / (2 * h)
    grads = _as_tuple(xf.grad(loss, argnums=tuple(range(len(args))))(*args))
    gv = sum(float(np.sum(np.asarray(g) * v)) for g, v in zip(grads, vs))
    scale = 1.0 + sum(float(np.sum(np.abs(np.asarray(g) * v))) for g, v in zip(grads, vs))
    assert abs(gv - fd) <= 1e-6 * scale, f"{case.name}: <grad, v> = {gv}, FD = {fd}"
    _, t = xf.jvp(loss, tuple(args), tuple(vs))
    assert abs(float(t) - fd) <= 1e-6 * scale, f"{case.name}: jvp {float(t)}, FD = {fd}"


ERRORS = [(c, e) for c in CASES for e in c.errors]


@pytest.mark.parametrize("case,err", ERRORS, ids=[f"{c.name}-{i}" for c, e in
                                                   [(c, None) for c in CASES]
                                                   for i in range(len(c.errors))])
def test_errors(case, err):
    shape, dtype, kwargs, cls, match = err
    kwargs = dict(kwargs)
    x = np.ones(shape, dtype=dtype)
    extra = []
    if "x2" in kwargs:
        extra = [np.ones(kwargs.pop("x2"), dtype=dtype)]
    fn = case.fn
    if "mode" in kwargs or "n" in kwargs:
        name = case.name.split("_")[0] if case.name.startswith("qr") else "matrix_power"
        fn = getattr(LA, name)
        if "n" in kwargs:
            extra = [kwargs.pop("n")]
    for call in (lambda *a: fn(*[xf.asarray(v) if isinstance(v, np.ndarray) else v
                                 for v in a], **kwargs),
                 xf.compile(lambda *a: fn(*a, **kwargs), static_argnums=tuple(
                     i for i, v in enumerate([x] + extra) if not isinstance(v, np.ndarray)))):
        with pytest.raises(cls, match=match) as info:
            call(x, *extra)
        assert isinstance(info.value, xf.XfrontError)


# --- lowering, conventions, primitive rules ---------------------------------------------------

def test_lapack_targets_and_column_major_layouts():
    x = np.eye(3)[None].repeat(2, 0)
    text = xf.compile(lambda a: (LA.det(a), LA.qr(a), LA.eigh(a), LA.svdvals(a))).lower(
        x).as_text(pretty=False)
    for target in ("lapack_dgetrf_ffi", "lapack_dgeqrf_ffi", "lapack_dorgqr_ffi",
                   "lapack_dsyevd_ffi", "lapack_dgesdd_ffi"):
        assert target in text, target
    # batched 3-D matrices are passed column-major: minor-to-major (1, 2, 0)
    assert "operand_layouts = [dense<[1, 2, 0]> : tensor<3xindex>]" in text
    solve = xf.compile(LA.solve).lower(x, x).as_text(pretty=False)
    assert solve.count("lapack_dtrsm_ffi") == 2 and "lapack_dgetrf_ffi" in solve
    assert "lapack_dpotrf_ffi" in xf.compile(LA.cholesky).lower(x).as_text(pretty=False)


def test_other_platforms_use_stablehlo_or_say_what_is_missing():
    """Off CPU, cholesky and triangular solves lower to the StableHLO ops; the LAPACK-only
    primitives raise a LoweringError naming the primitive and the platform."""
    from xfront.lowering import lower_graph

    x = np.eye(3)[None].repeat(2, 0)
    graph = xf.compile(lambda a: LA.cholesky(a) @ LA.matrix_transpose(a)).trace(x).graph
    text = lower_graph(graph, platform="cuda").text
    assert "stablehlo.cholesky" in text and "_ffi" not in text
    graph = xf.compile(lambda a, b: pla.triangular_solve(a, b)).trace(x, x).graph
    assert "stablehlo.triangular_solve" in lower_graph(graph, platform="cuda").text
    graph = xf.compile(LA.det).trace(x).graph
    with pytest.raises(xf.LoweringError, match=r"`lu` has a lowering for CPU \(LAPACK\) only; "
                       r"platform 'cuda' has no kernel for it yet"):
        lower_graph(graph, platform="cuda")


def test_failure_conventions():
    """NumPy raises LinAlgError; xfront (like JAX) returns NaN / inf / 0 values."""
    not_pd = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert np.isnan(np.asarray(LA.cholesky(not_pd))).all()
    assert np.isnan(np.asarray(xf.compile(LA.cholesky)(not_pd))).all()
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert float(LA.det(singular)) == 0.0
    sign, logabs = LA.slogdet(singular)
    assert float(sign) == 0.0 and float(logabs) == -np.inf
    assert not np.isfinite(np.asarray(LA.inv(singular))).all()
    assert int(LA.matrix_rank(singular)) == 1


def test_named_tuple_results_and_signatures():
    import inspect

    x = np.eye(2)
    assert LA.eigh(x)._fields == ("eigenvalues", "eigenvectors")
    assert LA.qr(x)._fields == ("Q", "R")
    assert LA.slogdet(x)._fields == ("sign", "logabsdet")
    assert LA.svd(x)._fields == ("U", "S", "Vh")
    P, K = inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.KEYWORD_ONLY
    sig = inspect.signature(LA.matrix_norm).parameters
    assert sig["x"].kind is P and sig["ord"].kind is K and sig["keepdims"].kind is K
    assert [p.kind for p in inspect.signature(LA.solve).parameters.values()] == [P, P]
    assert inspect.signature(LA.cholesky).parameters["upper"].kind is K
    assert set(LA.__all__) >= {"cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv",
                               "matmul", "matrix_norm", "matrix_power", "matrix_rank",
                               "matrix_transpose", "outer", "pinv", "qr", "slogdet", "solve",
                               "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm"}
    assert all(callable(getattr(LA, n)) for n in LA.__all__)


@pytest.mark.parametrize("transpose_a", ["NO_TRANSPOSE", "TRANSPOSE", "ADJOINT"])
@pytest.mark.parametrize("left_side,lower,unit", [(True, True, False), (False, False, True)])
def test_triangular_solve_prim(transpose_a, left_side, lower, unit):
    """Values against the NumPy ref and gradients against finite differences, both operands."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 3)) + 4 * np.eye(3)
    b = rng.standard_normal((2, 3, 2) if left_side else (2, 2, 3))
    kw = dict(left_side=left_side, lower=lower, transpose_a=transpose_a, unit_diagonal=unit)
    got = np.asarray(pla.triangular_solve(xf.asarray(a), xf.asarray(b), **kw))
    np.testing.assert_allclose(got, pla._triangular_solve_ref(a, b, **kw), rtol=1e-12, atol=1e-12)
    w = rng.standard_normal(b.shape)

    def loss(a_, b_):
        return xf.sum(pla.triangular_solve(a_, b_, **kw) * w)

    va, vb = rng.standard_normal(a.shape), rng.standard_normal(b.shape)
    h = 1e-6
    fd = (float(loss(xf.asarray(a + h * va), xf.asarray(b + h * vb)))
          - float(loss(xf.asarray(a - h * va), xf.asarray(b - h * vb)))) / (2 * h)
    ga, gb = xf.grad(loss, argnums=(0, 1))(a, b)
    assert abs(float(np.sum(ga * va) + np.sum(gb * vb)) - fd) < 1e-6 * (1 + abs(fd))


def test_complex_gradient_convention():
    """Complex inputs: the gradient of a real loss follows xfront's (JAX's) convention, checked
    through d/dt L(x + t v) = Re <conj(grad), v> for a complex direction v."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    w = rng.standard_normal((3, 3))

    def loss(a):
        h = a @ xf.conj(xf.matrix_transpose(a)) + 3 * xf.eye(3)
        return (xf.sum(xf.real(LA.inv(a)) * w) + xf.sum(LA.eigvalsh(h) * w[0])
                + xf.sum(xf.abs(LA.cholesky(h)) * w) + xf.sum(LA.svdvals(a)))

    g = np.asarray(xf.grad(loss)(x))
    v = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
    lc = xf.compile(loss)
    h = 1e-6
    fd = (float(lc(x + h * v)) - float(lc(x - h * v))) / (2 * h)
    # JAX convention: d/dt L(x + t v) = Re(sum(grad * v))
    assert abs(float(np.real(np.sum(g * v))) - fd) < 1e-6 * (1 + abs(fd)), \
        (np.real(np.sum(g * v)), fd)


def test_gradient_limits_raise_differentiation_error():
    """Like JAX: no QR gradient for M < N, no SVD gradient with full_matrices on non-square."""
    wide = np.ones((2, 3))
    with pytest.raises(xf.DifferentiationError, match=r"linalg\.qr: the gradient of QR is "
                       r"defined for M >= N .*got shape \(2, 3\)"):
        xf.grad(lambda a: xf.sum(LA.qr(a).R))(wide)
    with pytest.raises(xf.DifferentiationError, match=r"linalg\.svd: .*square matrices only"):
        xf.grad(lambda a: xf.sum(LA.svd(a).U))(wide)


def test_deserialized_lapack_artifact_runs_in_a_fresh_process():
    # a process whose first LAPACK module comes from an artifact (never lowered here) must
    # initialise jaxlib's LAPACK kernels before compiling it, or it crashes
    import subprocess
    import sys

    blob = xf.export(lambda a: xf.linalg.inv(a), xf.Spec((3, 3), xf.float64)).serialize()
    code = ("import sys, numpy as np, xfront as xf; f = xf.deserialize(sys.stdin.buffer.read());"
            "print(np.asarray(f(np.eye(3) * 2)).trace())")
    r = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    assert float(r.stdout.decode().strip()) == 1.5


def test_results_are_the_standards_named_tuples():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    s = a @ a.T + 3 * np.eye(3)
    for result, kind, fields in ((LA.eigh(s), LA.EighResult, ("eigenvalues", "eigenvectors")),
                                 (LA.qr(a), LA.QRResult, ("Q", "R")),
                                 (LA.slogdet(a), LA.SlogdetResult, ("sign", "logabsdet")),
                                 (LA.svd(a), LA.SVDResult, ("U", "S", "Vh"))):
        assert isinstance(result, kind) and kind._fields == fields
    q, r = LA.qr(a)
    np.testing.assert_allclose(np.asarray(q) @ np.asarray(r), a, atol=1e-12)
