"""Control flow: cond, switch, while_loop, fori_loop, scan.

Differential tests: every row of CASES is a function written with xfront control flow and the
same computation written with Python ``if``/``for``/``while`` on NumPy values; each row runs
eagerly and compiled, and its traced graph must type-check and agree with the reference
interpreter. Then: the StableHLO it lowers to, pytree and weak-type rules, the errors (eager and
compiled alike), gradients through cond / switch / scan / fori_loop (against finite
differences, eagerly and compiled), and the error for while_loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xfront as xf
from xfront import _core
from xfront.prims import control as C

F32, F64, I32, I64 = np.float32, np.float64, np.int32, np.int64


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable  # written with xfront control flow
    ref: Callable  # the same with Python control flow on NumPy values
    args: tuple
    tol: float = 1e-6


def _np_args(args: tuple) -> tuple:
    return tuple(np.asarray(a) if isinstance(a, np.ndarray) else a for a in args)


# --- the reference computations, in plain Python --------------------------------------------

def _collatz_ref(n):
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return np.int64(steps)


def _newton_ref(a):
    x, it = a.copy(), 0
    while np.max(np.abs(x * x - a)) > 1e-10:
        x = 0.5 * (x + a / x)
        it += 1
    return x, np.int64(it)


def _cumsum_scan_ref(xs, reverse=False):
    carry, ys = np.float64(0), [None] * len(xs)
    for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
        carry = carry + xs[t]
        ys[t] = carry * 2
    return carry, np.stack(ys)


def _rnn_ref(h, w, xs):
    ys = []
    for x in xs:
        h = np.tanh(h @ w + x)
        ys.append(h.sum())
    return (h, w), np.array(ys)


def _switch_ref(i, x):
    i = min(max(int(i), 0), 2)
    return [x + 1, x * x, -x][i]


CASES = [
    Case("cond_true", lambda p, x: xf.cond(p, lambda v: v * 2, lambda v: v - 1, x),
         lambda p, x: x * 2 if p else x - 1, (True, np.arange(4.0))),
    Case("cond_false", lambda p, x: xf.cond(p, lambda v: v * 2, lambda v: v - 1, x),
         lambda p, x: x * 2 if p else x - 1, (False, np.arange(4.0))),
    Case("cond_data_dependent",
         lambda x: xf.cond(xf.sum(x) > 0, lambda v: xf.sin(v), lambda v: xf.cos(v), x),
         lambda x: np.sin(x) if x.sum() > 0 else np.cos(x), (np.array([-3.0, 1.0, 0.5]),)),
    Case("cond_int_pred",
         lambda n, x: xf.cond(n, lambda v: v, lambda v: -v, x),
         lambda n, x: x if n != 0 else -x, (np.int32(2), np.ones(3, F32))),
    Case("cond_pytree",
         lambda p, d: xf.cond(p, lambda t: {"a": t["b"], "b": t["a"] + 1},
                              lambda t: {"a": t["a"], "b": t["b"]}, d),
         lambda p, d: {"a": d["b"], "b": d["a"] + 1} if p else d,
         (True, {"a": np.ones(2, F32), "b": np.zeros(2, F32)})),
    Case("cond_no_operands_closures",  # each branch closes over a different array
         lambda p, x, y: xf.cond(p, lambda: x * 3, lambda: y + x),
         lambda p, x, y: x * 3 if p else y + x, (False, np.ones(3), np.arange(3.0))),
    Case("cond_weak_branch",  # a Python 0.0 next to a float32 branch gives float32
         lambda x: xf.cond(xf.max(x) > 10, lambda: 0.0, lambda: xf.sum(x)),
         lambda x: np.float32(0.0) if x.max() > 10 else x.sum(), (np.arange(3, dtype=F32),)),
    Case("cond_nested",
         lambda x: xf.cond(x[0] > 0,
                           lambda v: xf.cond(v[1] > 0, lambda u: u + 1, lambda u: u - 1, v),
                           lambda v: v * 10, x),
         lambda x: (x + 1 if x[1] > 0 else x - 1) if x[0] > 0 else x * 10,
         (np.array([1.0, -2.0]),)),
    Case("switch_each_index", lambda i, x: xf.switch(i, [lambda v: v + 1, lambda v: v * v,
                                                       lambda v: -v], x),
         _switch_ref, (1, np.arange(3.0))),
    Case("switch_clamps_high", lambda i, x: xf.switch(i, [lambda v: v + 1, lambda v: v * v,
                                                        lambda v: -v], x),
         _switch_ref, (np.int64(17), np.arange(3.0))),
    Case("switch_clamps_low", lambda i, x: xf.switch(i, [lambda v: v + 1, lambda v: v * v,
                                                       lambda v: -v], x),
         _switch_ref, (np.int32(-4), np.arange(3.0))),
    Case("while_collatz",
         lambda n: xf.while_loop(lambda c: c[0] != 1,
                                 lambda c: (xf.where(c[0] % 2 == 0, c[0] // 2, 3 * c[0] + 1),
                                            c[1] + 1), (n, 0))[1],
         _collatz_ref, (np.int64(27),)),
    Case("while_newton_sqrt",
         lambda a: xf.while_loop(lambda c: xf.max(xf.abs(c[0] * c[0] - a)) > 1e-10,
                                 lambda c: (0.5 * (c[0] + a / c[0]), c[1] + 1), (a, 0)),
         _newton_ref, (np.array([2.0, 9.0, 0.25]),), tol=1e-12),
    Case("while_zero_trips", lambda x: xf.while_loop(lambda c: c > 100, lambda c: c * 2, x),
         lambda x: x, (np.float32(3.0),)),
    Case("fori_static",
         lambda x: xf.fori_loop(0, 5, lambda i, c: c * x + i, xf.zeros_like(x)),
         lambda x: _fori_ref(0, 5, lambda i, c: c * x + i, np.zeros_like(x)),
         (np.array([0.5, 2.0], F32),), tol=1e-5),
    Case("fori_empty_range", lambda x: xf.fori_loop(5, 2, lambda i, c: c + i, x),
         lambda x: x, (np.arange(3.0),)),
    Case("fori_traced_bounds",
         lambda lo, hi, x: xf.fori_loop(lo, hi, lambda i, c: c + i * x, x),
         lambda lo, hi, x: _fori_ref(int(lo), int(hi), lambda i, c: c + i * x, x),
         (np.int64(2), np.int64(7), np.array([1.0, -1.0]))),
    Case("scan_cumsum", lambda xs: xf.scan(lambda c, x: (c + x, (c + x) * 2), 0.0, xs),
         _cumsum_scan_ref, (np.arange(1.0, 6.0),)),
    Case("scan_reverse",
         lambda xs: xf.scan(lambda c, x: (c + x, (c + x) * 2), 0.0, xs, reverse=True),
         lambda xs: _cumsum_scan_ref(xs, reverse=True), (np.arange(1.0, 6.0),)),
    Case("scan_rnn_pytree", lambda h, w, xs: xf.scan(_rnn_step, (h, w), xs), _rnn_ref,
         (np.ones(3), np.eye(3) * 0.5 + 0.1, np.linspace(-1, 1, 12).reshape(4, 3)), tol=1e-12),
    Case("scan_length_no_xs",
         lambda x: xf.scan(lambda c, _: (c * 2, c), x, None, length=4),
         lambda x: (x * 16, np.stack([x, x * 2, x * 4, x * 8])), (np.arange(3.0),)),
    Case("scan_length_zero",
         lambda x: xf.scan(lambda c, xi: (c + xi, c * xi), x, np.zeros((0, 2))),
         lambda x: (x, np.zeros((0, 2))), (np.ones(2),)),
    Case("scan_int_and_float_carry",
         lambda xs: xf.scan(lambda c, x: ((c[0] + 1, c[1] + x * c[0]), c[0]), (0, 0.0), xs),
         lambda xs: ((np.int64(len(xs)), float(sum(x * i for i, x in enumerate(xs)))),
                     np.arange(len(xs), dtype=I64)), (np.arange(1.0, 5.0),)),
    Case("scan_with_cond_inside",
         lambda xs, w: xf.scan(lambda c, x: (xf.cond(x > 0, lambda: c + x * w, lambda: c - w),
                                             c), 0.0, xs),
         lambda xs, w: _scan_cond_ref(xs, w), (np.array([1.0, -2.0, 3.0]), np.float64(0.5))),
    Case("scan_nested",
         lambda xss: xf.scan(lambda c, row: xf.scan(lambda c2, v: (c2 + v, c2), c, row), 0.0,
                             xss),
         lambda xss: _nested_scan_ref(xss), (np.arange(6.0).reshape(2, 3),)),
    Case("while_in_cond",
         lambda x: xf.cond(x > 0, lambda: xf.while_loop(lambda c: c < 100, lambda c: c * 3, x),
                           lambda: x),
         lambda x: _while_ref(x) if x > 0 else x, (np.float64(2.0),)),
]


def _rnn_step(c, x):
    h, w = c
    n = xf.tanh(xf.matmul(h, w) + x)
    return (n, w), xf.sum(n)


def _fori_ref(lo, hi, body, x):
    for i in range(lo, hi):
        x = body(i, x)
    return x


def _scan_cond_ref(xs, w):
    c, ys = 0.0, []
    for x in xs:
        ys.append(c)
        c = c + x * w if x > 0 else c - w
    return np.float64(c), np.array(ys)


def _nested_scan_ref(xss):
    c, outer = 0.0, []
    for row in xss:
        outer.append([])
        for v in row:
            outer[-1].append(c)
            c = c + v
    return np.float64(c), np.array(outer)


def _while_ref(x):
    while x < 100:
        x = x * 3
    return x


def _compare(actual: Any, expected: Any, tol: float, what: str) -> None:
    a_leaves, a_tree = xf.tree_flatten(actual)
    e_leaves, e_tree = xf.tree_flatten(expected)
    assert a_tree == e_tree, f"{what}: structure {a_tree} != {e_tree}"
    for a, e in zip(a_leaves, e_leaves):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
        if e.dtype.kind in "iub":
            assert a.dtype.kind == e.dtype.kind, f"{what}: dtype {a.dtype} vs {e.dtype}"
            np.testing.assert_array_equal(a, e, err_msg=what)
        else:
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol, err_msg=what)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_eager_matches_python(case):
    _compare(case.fn(*case.args), case.ref(*_np_args(case.args)), case.tol, "eager")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_compiled_matches_python(case):
    _compare(xf.compile(case.fn)(*case.args), case.ref(*_np_args(case.args)), case.tol,
             "compiled")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_graph_checks_and_reference_interpreter(case):
    graph = xf.trace(case.fn)(*case.args)
    _core.check_graph(graph)
    leaves = [a for a in xf.tree_leaves(case.args)]
    flat_args = [np.asarray(a) for a in leaves]
    got = _core.eval_graph_ref(graph, *flat_args)
    want = xf.tree_leaves(xf.compile(case.fn)(*case.args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g, dtype=np.asarray(w).dtype), np.asarray(w),
                                   rtol=case.tol, atol=case.tol)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_eager_and_compiled_agree_exactly(case):
    eager = xf.tree_leaves(case.fn(*case.args))
    compiled = xf.tree_leaves(xf.compile(case.fn)(*case.args))
    for e, c in zip(eager, compiled):
        e, c = np.asarray(e), np.asarray(c)
        assert e.dtype == c.dtype and e.shape == c.shape
        if e.dtype.kind in "iub":
            np.testing.assert_array_equal(e, c)
        else:
            np.testing.assert_allclose(e, c, rtol=1e-12 if e.dtype == F64 else 1e-6)


@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(hnp.arrays(F64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
                  elements=st.integers(-100, 100).map(float)), st.booleans())
def test_scan_is_a_python_loop(xs, reverse):
    f = xf.compile(lambda xs: xf.scan(lambda c, x: (c * 0.5 + x, c - x), xf.zeros_like(xs[0]),
                                      xs, reverse=reverse))
    carry, ys = f(xs)
    c, want = np.zeros_like(xs[0]), [None] * len(xs)
    for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
        c, want[t] = c * 0.5 + xs[t], c - xs[t]
    np.testing.assert_allclose(carry, c, rtol=1e-12)
    np.testing.assert_allclose(ys, np.stack(want), rtol=1e-12)


# --- what the primitives lower to ------------------------------------------------------------

def test_lowers_to_stablehlo_control_flow():
    x = np.arange(3.0)
    text = xf.compile(lambda p, x: xf.cond(p, lambda: x, lambda: -x)).lower(True, x).as_text(
        pretty=False)
    assert '"stablehlo.if"' in text and '"stablehlo.case"' not in text
    text = xf.compile(lambda i, x: xf.switch(i, [lambda: x, lambda: -x, lambda: 2 * x])).lower(
        1, x).as_text(pretty=False)
    assert '"stablehlo.case"' in text and '"stablehlo.clamp"' in text
    text = xf.compile(lambda x: xf.while_loop(lambda c: c < 5, lambda c: c + 1, x)).lower(
        np.float64(0)).as_text(pretty=False)
    assert text.count('"stablehlo.while"') == 1
    text = xf.compile(lambda xs: xf.scan(lambda c, v: (c + v, c), 0.0, xs)).lower(x).as_text(
        pretty=False)
    assert '"stablehlo.while"' in text and '"stablehlo.dynamic_slice"' in text
    assert '"stablehlo.dynamic_update_slice"' in text


def test_closed_over_values_become_operands():
    x, y, z = np.arange(3.0), np.ones(3), np.full(3, 7.0)

    def f(p, x, y, z):
        return xf.cond(p, lambda: x + y, lambda: z * x)

    graph = xf.trace(f)(True, x, y, z)
    (eqn,) = [e for e in graph.eqns if e.prim is C.cond_p]
    # index + the union of what the branches read (x, y, z), each read once
    assert len(eqn.inputs) == 4
    for branch in eqn.params["branches"]:
        assert [v.aval.short for v in branch.invars] == ["f64[3]"] * 3
    np.testing.assert_array_equal(xf.compile(f)(False, x, y, z), z * x)


def test_eager_runs_python_control_flow():
    calls = []

    def body(c):
        calls.append(type(c).__name__)
        return c + 1

    out = xf.while_loop(lambda c: c < 4, body, 0)
    # the body is traced once (to fix the carry type) and then called once per iteration
    # with the concrete value (a Python int: still weakly typed)
    assert calls == ["Tracer"] + ["int"] * 4
    assert int(out) == 4 and out.dtype == xf.int64
    seen = []
    out = xf.cond(True, lambda: seen.append("t") or 1.0, lambda: seen.append("f") or 2.0)
    # each branch's Python runs once (traced); the chosen branch's graph gives the value
    assert sorted(seen) == ["f", "t"] and float(out) == 1.0
    seen.clear()
    out = xf.switch(1, [lambda: seen.append(0) or 0.0, lambda: seen.append(1) or 1.0,
                        lambda: seen.append(2) or 2.0])
    assert sorted(seen) == [0, 1, 2] and float(out) == 1.0


def test_weak_carry_promotes_like_the_namespace():
    x = np.ones(3, F32)
    for run in (lambda f: f(x), lambda f: xf.compile(f)(x)):
        out = run(lambda x: xf.fori_loop(0, 3, lambda i, c: c + xf.sum(x) * i, 0.0))
        assert np.asarray(out).dtype == F32  # the Python 0.0 adapts to float32
        np.testing.assert_allclose(out, F32(9.0))
        i_out = run(lambda x: xf.fori_loop(0, 3, lambda i, c: c + i, 0))
        assert np.asarray(i_out).dtype == I64 and int(np.asarray(i_out)) == 3


def test_fori_index_is_weak_with_python_bounds():
    x = np.ones(2, F32)
    out = xf.compile(lambda x: xf.fori_loop(0, 2, lambda i, c: c * i + x, x))(x)
    assert out.dtype == F32  # i * c stays float32 (a strong int64 i would give float64)


# --- errors ---------------------------------------------------------------------------------

def _both(fn, *args):
    """Yield the eager and the compiled call (errors must not depend on the mode)."""
    yield lambda: fn(*args)
    yield lambda: xf.compile(fn)(*args)


ERRORS = [
    ("branch_dtype", lambda x: xf.cond(x[0] > 0, lambda: x, lambda: xf.astype(x, xf.int32)),
     (np.ones(2),), xf.DTypeError,
     r"xfront\.cond: output is i32\[2\] in false_fn but f64\[2\] in true_fn"),
    ("branch_shape", lambda x: xf.cond(x[0] > 0, lambda: x, lambda: x[:1]),
     (np.ones(2),), xf.ShapeError, r"output is f64\[1\] in false_fn but f64\[2\] in true_fn"),
    ("branch_structure", lambda x: xf.cond(x[0] > 0, lambda: (x, x), lambda: [x, x]),
     (np.ones(2),), xf.ArgumentError, r"false_fn returns structure \[\*, \*\] but true_fn "
                                      r"returns \(\*, \*\)"),
    ("switch_branch_dtype",
     lambda i, x: xf.switch(i, [lambda: {"a": x}, lambda: {"a": x}, lambda: {"a": x > 0}]),
     (0, np.ones(2)), xf.DTypeError, r"output\['a'\] is f64\[2\] in branches\[0\] but "
                                     r"bool\[2\] in branches\[2\]"),
    ("pred_not_scalar", lambda x: xf.cond(x > 0, lambda: x, lambda: x), (np.ones(2),),
     xf.ShapeError, r"xfront\.cond: pred must be a boolean scalar, got bool\[2\]"),
    ("pred_float", lambda x: xf.cond(x[0], lambda: x, lambda: x), (np.ones(2),),
     xf.DTypeError, r"pred must be a boolean scalar, got f64\[\]"),
    ("switch_float_index", lambda x: xf.switch(x[0], [lambda: x]), (np.ones(2),),
     xf.DTypeError, r"xfront\.switch: index must be an integer scalar, got f64\[\]"),
    ("while_carry_dtype",
     lambda x: xf.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * 0.5, c[1] + 1),
                             (xf.astype(x, xf.int32), 0)),
     (np.ones(2),), xf.DTypeError,
     r"xfront\.while_loop: body_fn returns f64\[2\] for carry\[0\], which starts as i32\[2\]"),
    ("while_carry_shape",
     lambda x: xf.while_loop(lambda c: xf.sum(c) < 3, lambda c: xf.concat([c, c]), x),
     (np.ones(2),), xf.ShapeError, r"body_fn returns f64\[4\] for carry, which starts as f64\[2\]"),
    ("while_cond_not_bool", lambda x: xf.while_loop(lambda c: c, lambda c: c - 1, x),
     (np.float64(3),), xf.DTypeError, r"cond_fn must return a boolean scalar, got f64\[\]"),
    ("while_structure", lambda x: xf.while_loop(lambda c: c[0] < 3, lambda c: c[0] + 1, (x, x)),
     (np.float64(0),), xf.ArgumentError,
     r"body_fn returned a carry with structure \*, expected \(\*, \*\)"),
    ("scan_length_mismatch", lambda a, b: xf.scan(lambda c, x: (c, x[0] + x[1]), 0.0, (a, b)),
     (np.ones(3), np.ones(4)), xf.ShapeError,
     r"xs\[1\] has leading axis 4 but xs\[0\] has 3"),
    ("scan_not_pair", lambda a: xf.scan(lambda c, x: c + x, 0.0, a), (np.ones(3),),
     xf.ArgumentError, r"xfront\.scan: f must return a pair \(carry, y\)"),
    ("scan_0d_xs", lambda a: xf.scan(lambda c, x: (c, x), 0.0, a), (np.float64(1),),
     xf.ShapeError, r"xs is f64\[\]; scanned arrays need a leading axis"),
    ("scan_no_length", lambda a: xf.scan(lambda c, x: (c, c), a, None), (np.ones(2),),
     xf.ArgumentError, r"length is required"),
    ("fori_float_bound", lambda x: xf.fori_loop(0, x[0], lambda i, c: c, x), (np.ones(2),),
     xf.DTypeError, r"xfront\.fori_loop: upper must be an integer scalar, got f64\[\]"),
    ("not_an_array_output", lambda x: xf.cond(x[0] > 0, lambda: "a", lambda: "b"),
     (np.ones(2),), xf.ArgumentError, r"false_fn returned a str at output"),
]


@pytest.mark.parametrize("name,fn,args,exc,match", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name, fn, args, exc, match):
    for call in _both(fn, *args):
        with pytest.raises(exc, match=match):
            call()


def test_python_if_on_tracer_points_to_control_flow():
    @xf.compile
    def f(x):
        if xf.sum(x) > 0:
            return x
        return -x

    with pytest.raises(xf.TracerConversionError) as info:
        f(np.ones(3))
    msg = str(info.value)
    for name in ("xfront.cond", "xfront.while_loop", "xfront.where", "xfront.scan"):
        assert name in msg
    assert "test_control.py" in msg  # points at the user's line

    @xf.compile
    def g(x):
        while xf.sum(x) < 10:
            x = x * 2
        return x

    with pytest.raises(xf.TracerConversionError, match="xfront.while_loop"):
        g(np.ones(3))


def test_non_callable_and_bad_branches():
    with pytest.raises(xf.ArgumentError, match="true_fn must be callable"):
        xf.cond(True, 1, lambda: 1)
    with pytest.raises(xf.ArgumentError, match="branches must be a non-empty list"):
        xf.switch(0, [])


# --- gradients --------------------------------------------------------------------------------

def _vjp(fn, *args):
    """Gradient of sum(outputs) by the reverse pass over fn's graph (each primitive's VJP rule,
    as the autodiff transformation calls them), run eagerly and compiled."""
    graph = xf.trace(fn)(*args)
    cts = [np.ones(a.aval.shape, a.aval.dtype.np) for a in graph.outs]
    eager = C.graph_vjp(graph, [xf.asarray(a) for a in args], [xf.asarray(c) for c in cts])
    compiled = xf.compile(lambda *a: C.graph_vjp(graph, list(a), cts))(*args)
    return [eager, compiled]


def _numeric_grad(fn, args, eps=1e-6):
    grads = []
    for i, a in enumerate(args):
        a = np.asarray(a, F64)
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            hi, lo = a.copy(), a.copy()
            hi[idx] += eps
            lo[idx] -= eps
            f_hi = fn(*[hi if j == i else args[j] for j in range(len(args))])
            f_lo = fn(*[lo if j == i else args[j] for j in range(len(args))])
            g[idx] = sum(np.sum(np.asarray(p) - np.asarray(m)) for p, m in
                         zip(xf.tree_leaves(f_hi), xf.tree_leaves(f_lo))) / (2 * eps)
        grads.append(g)
    return grads


X = np.array([0.5, -1.2, 2.0])
W = np.array([1.5, 0.3, -0.7])
GRAD_CASES = [
    ("cond_true", lambda x, w: xf.cond(xf.sum(x) > 0, lambda v: xf.sin(v) * w,
                                       lambda v: v * v, x)),
    ("cond_false", lambda x, w: xf.cond(xf.sum(x) > 10, lambda v: xf.sin(v) * w,
                                        lambda v: v * v * w, x)),
    ("switch", lambda x, w: xf.switch(1, [lambda: x, lambda: xf.exp(x) * w, lambda: w])),
    ("scan", lambda x, w: xf.scan(lambda c, xi: (c * xf.cos(xi) + w, c * xi), w,
                                  xf.stack([x, x * 2]))),
    ("scan_reverse_closure", lambda x, w: xf.scan(lambda c, xi: (xf.tanh(c * w + xi), c), x,
                                                  xf.stack([w, x, w]), reverse=True)),
    ("fori_static", lambda x, w: xf.fori_loop(0, 3, lambda i, c: xf.sin(c) * w + i, x)),
    ("switch_data_index", lambda x, w: xf.switch(xf.astype(xf.sum(x) > 0, xf.int32) + 1,
                                                 [lambda v: v, lambda v: v * w,
                                                  lambda v: xf.sin(v) + w], x)),
    ("scan_nested", lambda x, w: xf.scan(
        lambda c, row: xf.scan(lambda c2, v: (xf.sin(c2) * v + w, c2 * v), c, row),
        x, xf.stack([xf.stack([w, x]), xf.stack([x * x, w])]))),
    ("cond_in_scan", lambda x, w: xf.scan(
        lambda c, xi: (xf.cond(xi > 0, lambda: c * xi, lambda: c + w), None), x,
        xf.stack([x[0], -x[1]]))),
]


@pytest.mark.parametrize("name,fn", GRAD_CASES, ids=[g[0] for g in GRAD_CASES])
def test_gradients_match_finite_differences(name, fn):
    want = _numeric_grad(fn, (X, W))
    for got in _vjp(fn, X, W):
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g) if g is not None else 0 * w, w, rtol=1e-5,
                                       atol=1e-7)


def test_while_loop_is_not_reverse_differentiable():
    fn = lambda x: xf.while_loop(lambda c: xf.sum(c) < 10, lambda c: c * 2, x)  # noqa: E731
    graph = xf.trace(fn)(X)
    with pytest.raises(xf.ArgumentError, match=r"xfront\.while_loop: reverse-mode "
                                               r"differentiation .* fori_loop"):
        C.graph_vjp(graph, [xf.asarray(X)], [xf.asarray(np.ones(3))])
    traced = xf.trace(lambda x, n: xf.fori_loop(0, n, lambda i, c: c * 2, x))(X, np.int64(3))
    with pytest.raises(xf.ArgumentError, match="fori_loop with traced bounds"):
        xf.compile(lambda x: C.graph_vjp(traced, [x, np.int64(3)], [np.ones(3)]))(X)


def test_vjp_rules_are_declared():
    assert callable(C.cond_p.vjp) and callable(C.scan_p.vjp) and callable(C.while_p.vjp)
