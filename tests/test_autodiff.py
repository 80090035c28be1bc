"""Tests of automatic differentiation (xfront.grad / value_and_grad / vjp / jvp).

The backbone is a table test: every op-table row (tests/op_db.py) that accepts float64 is
differentiated through ``L(*xs) = sum_k sum(f(*xs)[k] * w_k)`` with random weights ``w``, in
reverse mode (``grad``) and forward mode (``jvp``), and both are checked against central
finite differences of the compiled forward along a random direction, in float64, on
hypothesis-drawn shapes (0-d, zero-size and broadcasting included). Rows whose outputs are
integer or bool (comparisons, argmax, ...) are included too: their gradient must be zero.
The remaining tests cover the API (argnums, has_aux, pytrees, errors), composition with
``compile``, higher order, residual splitting and what a plain call does not pay for.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xfront as xf
from tests._harness import op_inputs
from tests.op_db import OPS
from xfront import _autodiff, _core
from xfront import _dtypes as dt
from xfront._aval import AbstractArray
from xfront.prims import elementwise as ew
from xfront.prims import reduction as red
from xfront.prims import shape as sh

# --- the finite-difference table --------------------------------------------------------------

# input ranges where the function is smooth (default: the row's domain)
GRAD_DOMAIN = {
    "pow": (0.1, 3.0), "sqrt": (0.1, 10.0), "rsqrt": (0.1, 10.0), "log": (0.1, 10.0),
    "log2": (0.1, 10.0), "log10": (0.1, 10.0), "log1p": (-0.8, 10.0), "acosh": (1.1, 10.0),
    "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9), "erfinv": (-0.9, 0.9),
    "lgamma": (0.2, 8.0), "digamma": (0.2, 8.0), "tan": (-1.3, 1.3), "prod": (-2.0, 2.0),
    "cumulative_prod": (-2.0, 2.0),
}
# functions with a kink or pole at 0: inputs are moved to |x| >= 0.3
AWAY_FROM_ZERO = {"divide", "floor_divide", "remainder", "reciprocal", "cbrt", "abs", "copysign",
                  "hypot", "sign"}
# std of one element is sqrt(0): its derivative is infinite, so such draws are skipped
_FD_STEP = 1e-5

# all array inputs float64 (except where a row forces a dtype, like where's condition); values
# are drawn by _fill, so the rows' element strategies are not needed
GRAD_CASES = [dataclasses.replace(c, same_dtype=True, elements=None) for c in OPS
              if "float64" in c.dtypes]


def _settings(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def _flat_outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _fill(case, arrays, rng):
    """Replace float64 inputs by smooth random values in the row's domain."""
    lo, hi = GRAD_DOMAIN.get(case.name, case.domain)
    out = []
    for a in arrays:
        if a.dtype == np.float64:
            v = rng.uniform(lo, hi, a.shape)
            if case.name in AWAY_FROM_ZERO:
                v = np.where(v < 0, -0.3, 0.3) + v
            out.append(v)
        else:
            out.append(a)
    return out


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.name for c in GRAD_CASES])
def test_grad_and_jvp_match_finite_differences(case):
    checked = []

    @_settings(5)
    @given(op_inputs(case, "float64"), st.integers(0, 2 ** 32 - 1))
    def check(inputs, seed):
        arrays, kwargs = inputs
        rng = np.random.default_rng(seed)
        arrays = _fill(case, arrays, rng)
        diff = [i for i, a in enumerate(arrays) if a.dtype == np.float64]
        if not diff:
            return
        outs = _flat_outputs(case.fn(*[xf.asarray(a) for a in arrays], **kwargs))
        ws = [rng.standard_normal(np.shape(o)) for o in outs]

        def loss(*xs):
            ys = _flat_outputs(case.fn(*xs, **kwargs))
            return sum(xf.sum(y * w) for y, w in zip(ys, ws))

        lc = xf.compile(loss)
        value = float(lc(*arrays))
        if not np.isfinite(value):
            return
        v = [rng.standard_normal(a.shape) if i in diff else None for i, a in enumerate(arrays)]

        def moved(sign):
            return [a + sign * _FD_STEP * vi if vi is not None else a for a, vi in zip(arrays, v)]

        fd = (float(lc(*moved(1))) - float(lc(*moved(-1)))) / (2 * _FD_STEP)
        grads = xf.grad(loss, argnums=tuple(diff))(*arrays)
        for i, g in zip(diff, grads):
            assert g.shape == arrays[i].shape and g.dtype == np.float64, (i, g.shape, g.dtype)
        if not all(np.isfinite(g).all() for g in grads):
            return
        scale = 1.0 + sum(float(np.sum(np.abs(g) * np.abs(v[i]))) for i, g in zip(diff, grads))
        g_dot_v = sum(float(np.sum(g * v[i])) for i, g in zip(diff, grads))
        where = f"{case.name} {kwargs} on {[a.shape for a in arrays]}"
        assert abs(g_dot_v - fd) <= 1e-6 * scale, f"grad {where}: <g, v> = {g_dot_v}, FD = {fd}"
        tangents = [vi if vi is not None else a for a, vi in zip(arrays, v)]
        val, t_out = xf.jvp(loss, arrays, tangents)
        assert abs(float(val) - value) <= 1e-9 * (1 + abs(value))
        assert abs(float(t_out) - fd) <= 1e-6 * scale, f"jvp {where}: {float(t_out)} vs FD {fd}"
        checked.append(where)

    try:
        check()
    except xf.DifferentiationError as e:
        # a primitive on this row's path has no VJP rule yet: the error must say which one
        todo = [p.name for p in _core.PRIMITIVES.values() if p.vjp is _core.VJP_TODO]
        named = [n for n in todo if f"`{n}`" in str(e)]
        assert named, f"{case.name}: DifferentiationError names no VJP_TODO primitive: {e}"
        pytest.fail(f"{case.name}: no VJP rule for {named[0]} (every differentiable primitive "
                    "needs one; see tests/test_registry.py)")
    assert checked, f"{case.name}: no example was checked"


def test_table_covers_every_differentiable_primitive():
    """Every primitive with a VJP rule is reached by some row of the gradient table."""
    reached = set()
    for case in GRAD_CASES:
        @_settings(3)
        @given(op_inputs(case, "float64"))
        def collect(inputs):
            arrays, kwargs = inputs
            g = xf.trace(lambda *a: case.fn(*a, **kwargs))(*arrays)
            reached.update(e.prim.name for e in g.eqns)

        collect()
    differentiable = {p.name for p in _core.PRIMITIVES.values() if callable(p.vjp)}
    # reached only through other rules or internal uses, tested directly below
    direct = {"clamp", "polygamma", "stop_gradient", "cummax", "cummin", "complex", "real",
              "imag", "rem", "rsqrt", "next_after", "round", "sign", "logistic", "pad", "slice",
              "cond", "scan", "while", "sort_by_key",
              "call_module",  # tests/test_export.py checks it against finite differences
              # linalg and fft primitives: tests/test_linalg.py, tests/test_fft.py
              "cholesky", "triangular_solve", "lu", "qr", "eigh", "svd", "fft",
              # multi-device primitives: gradients in tests/test_multidevice.py (4 devices)
              "sharding_constraint", "shard_map", "psum", "pmean", "pmax", "all_gather",
              "reduce_scatter", "ppermute", "all_to_all"}
    missing = differentiable - reached - direct
    assert not missing, f"primitives with VJP rules that no table row exercises: {missing}"


# --- direct tests of primitives the table reaches only indirectly -------------------------------

def _fd_check_prim(fn, *xs, step=_FD_STEP, tol=1e-6):
    """grad and jvp of sum(fn(*xs) * w) against central differences (prim-level fn)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal(np.shape(fn(*[xf.asarray(x) for x in xs])))
    loss = xf.compile(lambda *a: red.reduce_sum(ew.mul(fn(*a), xf.asarray(w)),
                                                axes=tuple(range(w.ndim))))
    vs = [rng.standard_normal(np.shape(x)) for x in xs]
    fd = (float(loss(*[x + step * v for x, v in zip(xs, vs)]))
          - float(loss(*[x - step * v for x, v in zip(xs, vs)]))) / (2 * step)
    grads = xf.grad(lambda *a: loss(*a), argnums=tuple(range(len(xs))))(*xs)
    gv = sum(float(np.sum(g * v)) for g, v in zip(grads, vs))
    scale = 1 + sum(float(np.sum(np.abs(g) * np.abs(v))) for g, v in zip(grads, vs))
    assert abs(gv - fd) <= tol * scale, (gv, fd)
    _, t = xf.jvp(lambda *a: loss(*a), xs, vs)
    assert abs(float(t) - fd) <= tol * scale, (float(t), fd)
    return grads


def test_clamp_rule_routes_to_the_selected_operand():
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, (20,))
    lo = rng.uniform(-2, 0, (20,))
    hi = rng.uniform(0, 2, (20,))
    hi[:3] = lo[:3] - 0.5  # lo > hi: the result is hi
    g_lo, g_x, g_hi = _fd_check_prim(ew.clamp, lo, x, hi)
    ones = np.ones(20)
    g_lo, g_x, g_hi = xf.grad(lambda a, b, c: xf.sum(ew.clamp(a, b, c)), argnums=(0, 1, 2))(
        lo, x, hi)
    np.testing.assert_array_equal(g_x + g_lo + g_hi, ones)
    np.testing.assert_array_equal(g_hi[:3], 1.0)


def test_polygamma_and_digamma_rules():
    x = np.linspace(0.3, 5.0, 7)
    n = np.full(7, 2.0)  # the order is not differentiable (integer-valued)
    _fd_check_prim(lambda xx: ew.polygamma(n, xx), x)
    from scipy import special

    g = xf.grad(lambda v: xf.sum(xf.digamma(v)))(x)
    np.testing.assert_allclose(g, special.polygamma(1, x), rtol=1e-10)
    g2 = xf.grad(xf.grad(lambda v: xf.lgamma(v)))(2.5)
    np.testing.assert_allclose(float(g2), special.polygamma(1, 2.5), rtol=1e-10)


@pytest.mark.parametrize("prim", [red.cummax, red.cummin, red.cumprod])
@pytest.mark.parametrize("reverse", [False, True])
def test_cumulative_scan_rules(prim, reverse):
    x = np.random.default_rng(2).uniform(-2, 2, (3, 7))
    _fd_check_prim(lambda v: prim(v, axis=1, reverse=reverse), x)
    _fd_check_prim(lambda v: prim(v, axis=0, reverse=reverse), x)


def test_shape_rules_with_strides_interior_padding_and_cropping():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((5, 6))
    _fd_check_prim(lambda v: sh.slice(v, start=(1, 0), limit=(5, 6), strides=(2, 3)), x)
    pad_value = np.array(0.7)
    _fd_check_prim(lambda v, p: sh.pad(v, p, lo=(2, -1), hi=(-1, 3), interior=(1, 2)),
                   x, pad_value)
    _fd_check_prim(lambda v: sh.broadcast_in_dim(v[:, :1], shape=(4, 5, 6), dims=(1, 2)), x)
    _fd_check_prim(lambda v: v[::-2, 1::2][None, ..., 0], x)  # indexing: rev, slice, reshape


def test_cumprod_and_prod_gradients_are_exact_at_zeros():
    x = np.array([2.0, 0.0, 3.0, 0.0, 5.0])
    g = xf.grad(lambda v: xf.sum(xf.cumulative_prod(v)))(x)
    expected = [1 + 0, 2 * (1 + 3), 0, 2 * 0 * 3 * (1 + 5), 0]
    np.testing.assert_allclose(g, expected)
    x1 = np.array([2.0, 0.0, 3.0])
    np.testing.assert_allclose(xf.grad(lambda v: xf.prod(v))(x1), [0.0, 6.0, 0.0])


def test_cummax_ties_send_the_gradient_to_the_first_maximum():
    x = np.array([1.0, 3.0, 2.0, 3.0, 0.0])
    g = xf.grad(lambda v: xf.sum(red.cummax(v, axis=0)))(x)
    np.testing.assert_array_equal(g, [1.0, 4.0, 0.0, 0.0, 0.0])


def test_rem_rsqrt_logistic_next_after_round_sign():
    rng = np.random.default_rng(3)
    x = rng.uniform(0.5, 3, (6,))
    y = rng.uniform(0.4, 0.9, (6,))
    _fd_check_prim(ew.rem, x, y)
    _fd_check_prim(ew.rsqrt, x)
    _fd_check_prim(ew.logistic, x - 1.5)
    g = xf.grad(lambda a, b: xf.sum(ew.next_after(a, b)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(g[0], 1.0)
    np.testing.assert_array_equal(g[1], 0.0)
    np.testing.assert_array_equal(xf.grad(lambda a: xf.sum(ew.round(a) + ew.sign(a)))(x), 0.0)


def test_complex_rules_follow_the_transpose_convention():
    z = np.array([3 + 4j, -1 + 2j])
    # |z|: cotangent ct * conj(z / |z|)
    g = xf.grad(lambda v: xf.sum(xf.abs(v)))(z)
    np.testing.assert_allclose(g, np.conj(z / np.abs(z)))
    g = xf.grad(lambda v: xf.sum(xf.real(v) + 2 * xf.imag(v)))(z)
    np.testing.assert_allclose(g, [1 - 2j, 1 - 2j])
    out, pull = xf.vjp(lambda v: v * v, z)
    (ct,) = pull(np.ones(2, np.complex128))
    np.testing.assert_allclose(ct, 2 * z)
    _, t = xf.jvp(lambda a, b: ew.complex_(a, b), (np.ones(2), np.ones(2)),
                  (np.ones(2), 2 * np.ones(2)))
    np.testing.assert_allclose(t, [1 + 2j, 1 + 2j])


def test_stop_gradient():
    x = np.array([1.0, 2.0])
    g = xf.grad(lambda v: xf.sum(v * xf.stop_gradient(v)))(x)
    np.testing.assert_array_equal(g, x)
    tree = xf.stop_gradient({"a": x, "n": np.arange(2)})
    np.testing.assert_array_equal(tree["a"], x)
    assert tree["n"].dtype == np.int64


# --- API -------------------------------------------------------------------------------------

def _f(x, y):
    return xf.sum(xf.sin(x) * y)


def test_grad_argnums_int_tuple_negative():
    x = np.linspace(0, 1, 4)
    y = np.linspace(1, 2, 4)
    gx = xf.grad(_f)(x, y)
    np.testing.assert_allclose(gx, np.cos(x) * y)
    gx2, gy = xf.grad(_f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx2, np.cos(x) * y)
    np.testing.assert_allclose(gy, np.sin(x))
    (gy2,) = xf.grad(_f, argnums=(-1,))(x, y)
    np.testing.assert_allclose(gy2, np.sin(x))
    assert isinstance(gx, np.ndarray)  # NumPy in -> NumPy out, like compile


def test_value_and_grad_and_has_aux():
    x = np.array([0.5, 1.5])

    def f(v):
        s = xf.sum(v * v)
        return s, {"double": 2 * s, "count": xf.asarray(3)}

    (val, aux), g = xf.value_and_grad(f, has_aux=True)(x)
    np.testing.assert_allclose(val, 2.5)
    np.testing.assert_allclose(aux["double"], 5.0)
    assert int(aux["count"]) == 3
    np.testing.assert_allclose(g, 2 * x)
    g2, aux2 = xf.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g2, 2 * x)
    np.testing.assert_allclose(aux2["double"], 5.0)


def test_pytree_parameters():
    rng = np.random.default_rng(4)
    params = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2),
              "layers": [rng.standard_normal(2), (rng.standard_normal(()),)]}
    x = rng.standard_normal((5, 3))

    def loss(p, data):
        h = xf.tanh(data @ p["w"] + p["b"]) * p["layers"][0]
        return xf.mean(h * h) * p["layers"][1][0]

    g = xf.grad(loss)(params, x)
    assert set(g) == {"w", "b", "layers"} and isinstance(g["layers"], list)
    assert isinstance(g["layers"][1], tuple)
    # manual gradient
    w, b, s, c = params["w"], params["b"], params["layers"][0], params["layers"][1][0]
    z = x @ w + b
    t = np.tanh(z)
    h = t * s
    n = h.size
    dh = 2 * h * c / n
    dz = dh * s * (1 - t * t)
    np.testing.assert_allclose(g["w"], x.T @ dz)
    np.testing.assert_allclose(g["b"], dz.sum(0))
    np.testing.assert_allclose(g["layers"][0], (dh * t).sum(0))
    np.testing.assert_allclose(g["layers"][1][0], np.mean(h * h))


def test_vjp_pytrees_and_multiple_outputs():
    x = {"a": np.array([1.0, 2.0]), "b": np.array(3.0)}
    out, pull = xf.vjp(lambda p: (p["a"] * p["b"], xf.sin(p["b"])), x)
    np.testing.assert_allclose(out[0], [3.0, 6.0])
    (ct,) = pull((np.array([1.0, 1.0]), np.array(2.0)))
    np.testing.assert_allclose(ct["a"], [3.0, 3.0])
    np.testing.assert_allclose(ct["b"], 3.0 + 2 * np.cos(3.0))
    with pytest.raises(xf.ArgumentError, match=r"xfront\.vjp: the cotangent has structure"):
        pull(np.ones(2))
    with pytest.raises(xf.DTypeError, match=r"cotangent\[0\] has dtype float32 but the output "
                                             r"has dtype float64"):
        pull((np.ones(2, np.float32), np.array(2.0)))
    with pytest.raises(xf.ShapeError, match=r"cotangent\[0\] has shape \(3,\)"):
        pull((np.ones(3), np.array(2.0)))


def test_vjp_has_aux_and_integer_primals_get_zero_cotangents():
    x = np.array([1.0, 2.0])
    k = np.array([3, 4])
    out, pull, aux = xf.vjp(lambda a, n: (a * n, n + 1), x, k, has_aux=True)
    np.testing.assert_array_equal(aux, [4, 5])
    ca, cn = pull(np.ones(2))
    np.testing.assert_allclose(ca, [3.0, 4.0])
    assert cn.dtype == np.int64
    np.testing.assert_array_equal(cn, 0)


def test_jvp_pytrees_has_aux_and_integer_tangents_ignored():
    p = ({"x": np.array([0.0, 1.0])}, np.array([2, 3]))
    t = ({"x": np.array([1.0, 1.0])}, np.array([7, 7]))
    out, tan, aux = xf.jvp(lambda d, n: (xf.sin(d["x"]) * n, n * 2), p, t, has_aux=True)
    np.testing.assert_allclose(out, np.sin([0.0, 1.0]) * [2, 3])
    np.testing.assert_allclose(tan, np.cos([0.0, 1.0]) * [2, 3])
    np.testing.assert_array_equal(aux, [4, 6])
    out, tan = xf.jvp(lambda n: n * 2, (np.array([1, 2]),), (np.array([1, 1]),))
    assert tan.dtype == np.int64 and not tan.any()
    with pytest.raises(xf.ArgumentError, match=r"xfront\.jvp: primals and tangents must be "
                                               r"tuples"):
        xf.jvp(xf.sin, np.ones(2), np.ones(2))
    with pytest.raises(xf.DTypeError, match=r"tangents\[0\] has dtype float32 but its primal "
                                             r"has dtype float64"):
        xf.jvp(xf.sin, (np.ones(2),), (np.ones(2, np.float32),))


def test_hessian_vector_product_forward_over_reverse():
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([1.0, 0.5, -2.0])

    def f(a):
        return xf.sum(xf.sin(a) * a)

    _, hv = xf.jvp(xf.grad(f), (x,), (v,))
    hess_diag = 2 * np.cos(x) - x * np.sin(x)
    np.testing.assert_allclose(hv, hess_diag * v)
    np.testing.assert_allclose(xf.grad(xf.grad(xf.sin))(1.0), -np.sin(1.0))
    g3 = xf.grad(xf.grad(xf.grad(lambda a: a ** 4.0)))(1.5)
    np.testing.assert_allclose(float(g3), 24 * 1.5)


def test_compile_of_grad_and_grad_of_compile():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    y = np.linspace(0.5, 2, 6).reshape(2, 3)
    expected = np.cos(x) * y
    np.testing.assert_allclose(xf.compile(xf.grad(_f))(x, y), expected)
    np.testing.assert_allclose(xf.grad(xf.compile(_f))(x, y), expected)
    np.testing.assert_allclose(xf.compile(xf.grad(xf.compile(_f)))(x, y), expected)
    cg = xf.compile(lambda a, b: xf.grad(lambda u: _f(u, b) * xf.sum(b))(a))
    np.testing.assert_allclose(cg(x, y), expected * y.sum())  # b is closed over: not traced
    vg = xf.compile(xf.value_and_grad(_f))
    val, g = vg(x, y)
    np.testing.assert_allclose(val, np.sum(np.sin(x) * y))
    np.testing.assert_allclose(g, expected)
    # the whole gradient program is one graph
    graph = xf.trace(xf.grad(_f))(x, y)
    assert len(xf.grad(_f).trace(x, y).graph.eqns) == len(graph.eqns)
    assert "stablehlo.cosine" in xf.grad(_f).lower(x, y).as_text(pretty=False)
    _core.check_graph(graph)
    assert {e.prim.name for e in graph.eqns} >= {"sin", "cos", "mul"}


def test_vjp_and_jvp_inside_compile():
    x = np.array([0.1, 0.7])

    @xf.compile
    def both(a, ct):
        out, pull = xf.vjp(xf.exp, a)
        (g,) = pull(ct)
        _, t = xf.jvp(xf.exp, (a,), (ct,))
        return out, g, t

    out, g, t = both(x, np.array([2.0, 3.0]))
    np.testing.assert_allclose(out, np.exp(x))
    np.testing.assert_allclose(g, np.exp(x) * [2.0, 3.0])
    np.testing.assert_allclose(t, np.exp(x) * [2.0, 3.0])


def test_eager_grad_is_one_cached_program():
    calls = []

    def f(a):
        calls.append(1)
        return xf.sum(xf.exp(a))

    g = xf.grad(f)
    before = xf._eager.STATS.compiles
    x = np.array([1.0, 2.0])
    g(x)
    g(x + 1)
    assert len(calls) == 1, "traced once per signature"
    assert g.cache_info().misses == 1 and g.cache_info().hits == 1
    assert xf._eager.STATS.compiles - before <= 1, "forward and backward compile as one program"
    g(np.ones(3))
    assert len(calls) == 2


def test_eager_vjp_compiles_forward_and_backward_once():
    def f(a):
        return xf.tanh(a) * 2

    x = np.array([0.1, 0.2, 0.3])
    out, pull = xf.vjp(f, x)
    pull(np.ones(3))
    before = xf._eager.STATS.compiles
    out, pull = xf.vjp(f, x * 2)
    (g,) = pull(np.ones(3))
    assert xf._eager.STATS.compiles == before
    np.testing.assert_allclose(g, 2 * (1 - np.tanh(2 * x) ** 2))


def test_static_non_array_arguments_in_eager_grad():
    def f(x, n, mode="sum"):
        for _ in range(n):  # Python control flow on a non-differentiated int
            x = xf.sin(x)
        return xf.sum(x) if mode == "sum" else xf.max(x)

    x = np.array([0.2, 0.4])
    g = xf.grad(f)(x, 2, mode="sum")
    np.testing.assert_allclose(g, np.cos(np.sin(x)) * np.cos(x))
    g = xf.grad(f)(x, 1, mode="max")
    np.testing.assert_allclose(g, [0.0, np.cos(0.4)])


def test_integer_arguments_raise_from_grad():
    with pytest.raises(xf.DTypeError) as info:
        xf.grad(lambda a: xf.sum(a * 1.5))(np.arange(3))
    msg = str(info.value)
    assert "xfront.grad: argument 0 of `<lambda>` is an array of dtype int64" in msg
    assert "only floating-point and complex inputs can be differentiated" in msg
    assert isinstance(info.value, TypeError)
    assert "test_autodiff.py" in msg
    with pytest.raises(TypeError, match=r"argument 1\['k'\] of `f` is a Python int"):
        def f(a, d):
            return a * d["k"]
        xf.value_and_grad(f, argnums=(0, 1))(1.0, {"k": 2})
    with pytest.raises(TypeError, match=r"an array of dtype bool"):
        xf.grad(lambda a: xf.sum(xf.where(a, 1.0, 0.0)))(np.array([True]))


def test_grad_needs_a_real_scalar_output():
    with pytest.raises(xf.ShapeError, match=r"xfront\.grad: `<lambda>` returned f64\[2\]; the "
                                            r"gradient is defined for functions with a real "
                                            r"floating-point scalar"):
        xf.grad(lambda a: a * 2)(np.ones(2))
    with pytest.raises(xf.DTypeError, match=r"returned c128\[\]"):
        xf.grad(lambda a: xf.sum(a * 1j))(np.ones(2))
    with pytest.raises(xf.ArgumentError, match=r"must return a pair"):
        xf.grad(lambda a: xf.sum(a), has_aux=True)(np.ones(2))
    with pytest.raises(xf.ArgumentError, match=r"argnums contains 3, but `<lambda>` was called "
                                               r"with 1 positional arguments"):
        xf.grad(lambda a: xf.sum(a), argnums=3)(np.ones(2))


def _todo_abstract_eval(x: AbstractArray) -> AbstractArray:
    return x


# a primitive without a VJP rule (declared once for the error test below)
_todo_p = _core.Primitive("test_autodiff_todo", abstract_eval=_todo_abstract_eval,
                          ref=lambda x: x, lowering=lambda ctx, x: [x])


def test_vjp_todo_error_names_primitive_and_user_line():
    def f(a):
        b = xf.sin(a)
        c = _todo_p.bind(b)  # the line the error must point at
        return xf.sum(c)

    line = inspect.getsourcelines(f)[1] + 2
    for api in (lambda: xf.grad(f)(np.ones(2)),
                lambda: xf.compile(xf.grad(f))(np.ones(2)),
                lambda: xf.jvp(f, (np.ones(2),), (np.ones(2),))):
        with pytest.raises(xf.DifferentiationError) as info:
            api()
        msg = str(info.value)
        assert "cannot differentiate through the primitive `test_autodiff_todo`" in msg
        assert f"test_autodiff.py:{line} in f" in msg
        assert isinstance(info.value, NotImplementedError)
    # not differentiated: no error
    np.testing.assert_allclose(xf.grad(lambda a, b: xf.sum(a + _todo_p.bind(b)))(
        np.ones(2), np.ones(2)), 1.0)
    np.testing.assert_allclose(xf.grad(lambda a: xf.sum(a + xf.stop_gradient(_todo_p.bind(a))))(
        np.ones(2)), 1.0)


_jvp_rule_calls = []


def _triple_jvp(primals, tangents, *, out):
    _jvp_rule_calls.append(1)
    return ew.mul(tangents[0], ew.full_like(tangents[0], 3.0))


# a primitive with an explicit JVP rule (and no VJP rule: forward mode must not need one)
_triple_p = _core.Primitive("test_autodiff_triple", abstract_eval=_todo_abstract_eval,
                            ref=lambda x: 3 * x, lowering=lambda ctx, x: [x],  # never lowered
                            jvp=_triple_jvp)


def test_explicit_jvp_rule_is_used():
    graph = xf.trace(lambda a, t: xf.jvp(lambda u: _triple_p.bind(u), (a,), (t,))[1])(
        np.ones(2), np.ones(2))
    assert _jvp_rule_calls
    assert [e.prim.name for e in graph.eqns].count("mul") == 1


# --- what gets computed ---------------------------------------------------------------------

def test_gradient_for_one_argument_does_not_compute_the_others():
    x = np.ones((4, 3))
    w = np.ones((3, 5))

    def f(a, b):
        return xf.sum(xf.tanh(a @ b))

    g_x = xf.trace(xf.grad(f, argnums=0))(x, w)
    g_both = xf.trace(xf.grad(f, argnums=(0, 1)))(x, w)
    count = lambda g: sum(e.prim.name == "dot_general" for e in g.eqns)  # noqa: E731
    assert count(g_x) == 2 and count(g_both) == 3


def test_plain_compiled_call_builds_no_backward(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("a backward pass was built")

    monkeypatch.setattr(_autodiff, "backward_pass", fail)
    f = xf.compile(lambda a: xf.sum(xf.sin(a)))
    np.testing.assert_allclose(f(np.ones(2)), 2 * np.sin(1.0))


def test_compiled_vjp_split_forward_and_backward():
    x = np.array([0.2, 0.5, 0.9])
    w = np.array([1.0, -2.0, 0.5])

    def f(a, b):
        return xf.sin(a) * b + xf.exp(a)

    graph = xf.trace(f)(x, w)
    cv = _autodiff.compile_vjp(graph, wrt=[True, False])
    xs = [xf.asarray(x), xf.asarray(w)]
    (out,) = cv.call(*xs)
    assert cv._graphs is None and cv._fwd is None, "a plain call compiles nothing else"
    np.testing.assert_allclose(out, np.sin(x) * w + np.exp(x))
    outs, res = cv.forward(*xs)
    np.testing.assert_allclose(outs[0], out)
    # the forward runs exactly the plain forward's primitives (plus handing out residuals)
    fwd_prims = sorted(e.prim.name for e in cv.graphs.forward.eqns)
    assert fwd_prims == sorted(e.prim.name for e in graph.eqns)
    assert "cos" in {e.prim.name for e in cv.graphs.backward.eqns}
    ct = np.array([1.0, 2.0, 3.0])
    gx, gw = cv.backward(xs, res, [xf.asarray(ct)])
    assert gw is None
    np.testing.assert_allclose(gx, (np.cos(x) * w + np.exp(x)) * ct)
    _core.check_graph(cv.graphs.forward)
    _core.check_graph(cv.graphs.backward)
    _core.check_graph(_autodiff.vjp_graph(graph))
    _core.check_graph(_autodiff.jvp_graph(graph))


def test_fan_out_and_closures():
    x = np.array([0.3, 0.8])
    g = xf.grad(lambda a: xf.sum(a * a + xf.sin(a) * a + a))(x)
    np.testing.assert_allclose(g, 2 * x + np.cos(x) * x + np.sin(x) + 1)
    c = xf.asarray(np.array([2.0, 3.0]))
    np.testing.assert_allclose(xf.grad(lambda a: xf.sum(a * c))(x), [2.0, 3.0])


def test_cotangent_dtypes_follow_inputs():
    g = xf.grad(lambda a: a * a)(3.0)  # a weak Python float: float64 gradient
    assert g.dtype == xf.float64 and float(g) == 6.0
    g32 = xf.grad(lambda a: xf.sum(a * 2.0))(np.ones(2, np.float32))
    assert g32.dtype == np.float32
    g16 = xf.grad(lambda a: xf.sum(a.astype(xf.float32) * 2.0))(np.ones(2, np.float16))
    assert g16.dtype == np.float16
    gm = xf.grad(lambda a, b: xf.sum(a * b), argnums=(0, 1))(np.ones(2, np.float32), 2.0)
    assert gm[0].dtype == np.float32 and np.asarray(gm[1]).dtype == np.float64


def test_backward_eqns_point_at_the_user_line():
    def f(a):
        return xf.sum(xf.tan(a))  # this line

    line = inspect.getsourcelines(f)[1] + 1
    graph = xf.trace(xf.grad(f))(np.ones(2))
    tan_lines = {e.source.line for e in graph.eqns if e.prim.name in ("tan", "mul", "add")}
    assert tan_lines == {line}


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    x = torch.tensor([0.5, 1.0], dtype=torch.float64)
    g = xf.grad(lambda a: xf.sum(xf.exp(a)))(x)
    assert isinstance(g, torch.Tensor)
    np.testing.assert_allclose(g.numpy(), np.exp([0.5, 1.0]))


def test_dtype_helpers():
    assert _autodiff.differentiable(AbstractArray((), dt.float32))
    assert _autodiff.differentiable(AbstractArray((), dt.complex64))
    assert not _autodiff.differentiable(AbstractArray((), dt.int32))


def test_eager_caches_do_not_keep_functions_alive():
    import gc
    import weakref

    def f(a):
        return xf.sin(a)

    xf.jvp(f, (np.ones(2),), (np.ones(2),))
    _, pull = xf.vjp(f, np.ones(2))
    pull(np.ones(2))
    ref = weakref.ref(f)
    del f, pull
    gc.collect()
    assert ref() is None


# --- control flow through xf.grad / xf.jvp ----------------------------------------------------

def test_grad_through_cond_and_switch():
    x = np.array([0.3, -1.2, 2.0])
    y = np.array([1.5, 0.5, -0.7])

    def f(a, b):
        return xf.cond(xf.sum(a) > 0, lambda u, v: xf.sin(u) * v, lambda u, v: u * u - v, a, b)

    def g(a, b):
        return xf.switch(1, [lambda u, v: u + v, lambda u, v: xf.exp(u) * v,
                             lambda u, v: u - v], a, b)

    _fd_check_prim(f, x, y)
    _fd_check_prim(lambda a, b: f(-a, b), x, y)  # the other branch
    _fd_check_prim(g, x, y)
    gx, gy = xf.grad(lambda a, b: xf.sum(f(a, b)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.cos(x) * y, rtol=1e-12)
    np.testing.assert_allclose(gy, np.sin(x), rtol=1e-12)
    compiled = xf.compile(xf.grad(lambda a, b: xf.sum(f(a, b))))(x, y)
    np.testing.assert_allclose(compiled, np.cos(x) * y, rtol=1e-12)


def test_grad_through_scan_and_static_fori_loop():
    xs = np.random.default_rng(3).standard_normal((5, 3))
    h0 = np.array([0.1, -0.2, 0.3])
    w = np.random.default_rng(4).standard_normal((3, 3)) * 0.5

    def rnn(h, seq, ww):
        def step(c, x_t):
            c = xf.tanh(c @ ww + x_t)
            return c, c * 2
        c, ys = xf.scan(step, h, seq)
        return ys

    _fd_check_prim(rnn, h0, xs, w)

    def loop(x):
        return xf.fori_loop(0, 4, lambda i, c: xf.sin(c) * 1.5 + c * 0.1, x)

    _fd_check_prim(loop, h0)


def test_grad_through_while_loop_is_a_clear_error():
    def f(x):
        return xf.while_loop(lambda c: c[1] < 3, lambda c: (c[0] * 1.5, c[1] + 1), (x, 0))[0]

    x = np.array([1.0, 2.0])
    with pytest.raises(TypeError, match=r"while_loop.*not supported"):
        xf.grad(lambda v: xf.sum(f(v)))(x)


def test_grad_through_sort_by_key():
    from xfront.prims import random as prand

    keys = np.array([3, 1, 2, 0], np.uint32)
    x = np.array([0.5, -1.0, 2.0, 4.0])
    _fd_check_prim(lambda v: ew.mul(prand.sort_by_key(keys, v, axis=0), v), x)
