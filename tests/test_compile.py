"""``xfront.compile``: staging, caching, pytrees, static arguments, weak scalars, outputs."""

from __future__ import annotations

import collections
import warnings

import numpy as np
import pytest

import xfront as xf


def _xs(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_cache_hits_on_second_call_and_recompiles_on_new_shape_or_dtype():
    calls = []

    @xf.compile
    def f(x):
        calls.append(1)  # runs only while tracing
        return xf.sin(x) * 2

    a = _xs(3, 4)
    np.testing.assert_allclose(f(a), np.sin(a) * 2, rtol=1e-6)
    assert f.cache_info().misses == 1 and f.cache_info().hits == 0
    f(a + 1)
    assert f.cache_info().hits == 1 and f.cache_info().misses == 1
    assert len(calls) == 1
    f(_xs(5, 4))  # new shape
    assert f.cache_info().misses == 2
    f(_xs(3, 4, dtype=np.float64))  # new dtype
    info = f.cache_info()
    assert info.misses == 3 and info.entries == 3 and len(calls) == 3


def test_xfront_arrays_in_xfront_arrays_out_and_numpy_in_numpy_out():
    f = xf.compile(lambda x: x + 1)
    a = _xs(4)
    out_np = f(a)
    assert type(out_np) is np.ndarray and out_np.flags.writeable
    out_xf = f(xf.asarray(a))
    assert isinstance(out_xf, xf.Array)
    np.testing.assert_array_equal(np.asarray(out_xf), out_np)
    # writable NumPy outputs own their result buffer: writing one leaves other results alone
    out_np[0] = 123.0
    np.testing.assert_array_equal(f(a), a + 1)


def test_numpy_output_views_the_result_buffer_without_copy():
    f = xf.compile(lambda x: x * 2)
    out = f(_xs(1024))
    base = out.base
    while base is not None and not hasattr(base, "xfront_buffer"):
        base = getattr(base, "base", None)
    assert base is not None, "the NumPy output should be a view of the PJRT buffer"
    assert out.ctypes.data == base.xfront_buffer.unsafe_buffer_pointer()


def test_same_graph_in_two_functions_compiles_once():
    before = xf._eager.STATS.compiles
    f = xf.compile(lambda x: xf.cos(x) + 3.0)
    g = xf.compile(lambda y: xf.cos(y) + 3.0)
    a = _xs(7, 3)
    f(a)
    g(a)
    assert xf._eager.STATS.compiles - before == 1
    assert f.cache_info().compiles == 1 and g.cache_info().compiles == 0


def test_pytrees_in_and_out():
    Point = collections.namedtuple("Point", ["x", "y"])

    @xf.compile
    def f(params, batch, extra=None):
        h = batch["x"] @ params[0] + params[1]
        return {"out": h, "pt": Point(xf.sum(h), xf.mean(h)), "none": None,
                "list": [h * 2, extra]}

    w, b = _xs(4, 3), _xs(3)
    x = _xs(5, 4)
    out = f((w, b), {"x": x}, extra=_xs(2))
    ref = x @ w + b
    np.testing.assert_allclose(out["out"], ref, rtol=1e-5)
    assert isinstance(out["pt"], Point)
    np.testing.assert_allclose(out["pt"].x, ref.sum(), rtol=1e-4)
    assert out["none"] is None
    np.testing.assert_allclose(out["list"][0], ref * 2, rtol=1e-5)
    assert out["list"][1].shape == (2,)


def test_static_argnums_and_argnames():
    @xf.compile(static_argnums=(1,), static_argnames=("mode",))
    def f(x, n, mode="sum"):
        y = x
        for _ in range(n):  # Python loop over a static value
            y = y * 2
        return xf.sum(y) if mode == "sum" else xf.max(y)

    a = _xs(5)
    np.testing.assert_allclose(f(a, 3), (a * 8).sum(), rtol=1e-5)
    np.testing.assert_allclose(f(a, 3, mode="max"), (a * 8).max(), rtol=1e-6)
    np.testing.assert_allclose(f(a, n=2), (a * 4).sum(), rtol=1e-5)  # static name by keyword
    assert f.cache_info().misses == 3
    f(a, 3)
    assert f.cache_info().hits == 1


def test_unhashable_static_argument_is_a_clear_error():
    f = xf.compile(lambda x, axes: xf.sum(x, axis=axes), static_argnums=1)
    with pytest.raises(TypeError, match=r"static argument\(s\) #1 .* must be hashable"):
        f(_xs(2, 3), [0])
    np.testing.assert_allclose(f(_xs(2, 3), (0,)), _xs(2, 3).sum(0), rtol=1e-6)


def test_python_scalars_are_weak_and_share_an_executable():
    f = xf.compile(lambda x, s: x * s + s)
    a = _xs(4)
    out = f(a, 2.0)
    assert out.dtype == np.float32  # the weak scalar does not promote float32
    np.testing.assert_allclose(out, a * 2 + 2, rtol=1e-6)
    np.testing.assert_allclose(f(a, 3.0), a * 3 + 3, rtol=1e-6)
    assert f.cache_info().misses == 1 and f.cache_info().hits == 1
    # an int array with a Python int stays int; with a Python float it becomes float64 (NumPy 2)
    i = np.arange(4, dtype=np.int16)
    assert f(i, 3).dtype == np.int16
    assert f(i, 1.5).dtype == np.float64


def test_weak_scalar_only_function_returns_default_dtype():
    f = xf.compile(lambda s: s * 2)
    assert isinstance(f(3.0), xf.Array)  # no array inputs -> xfront arrays out
    assert f(3.0).dtype == xf.float64 and float(f(3.0)) == 6.0
    assert f(3).dtype == xf.int64


def test_recompile_warning_names_the_changed_argument():
    f = xf.compile(lambda x, y: x + y)
    y = _xs(1)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for n in range(1, 8):
            f(_xs(n), y)
    msgs = [str(w.message) for w in rec if issubclass(w.category, xf.RecompileWarning)]
    assert msgs, "expected a RecompileWarning"
    assert "args[0]: f32[6] -> f32[7]" in msgs[-1]


def test_lower_gives_stablehlo_and_trace_gives_graph():
    def f(x, y):
        return xf.tanh(x @ y)

    cf = xf.compile(f)
    a, b = _xs(2, 3), _xs(3, 4)
    text = cf.lower(a, b).as_text()
    assert "func.func public @main" in text and "stablehlo.dot_general" in text
    assert "stablehlo.tanh" in text and "tensor<2x4xf32>" in text
    g = cf.trace(a, b).graph
    assert [e.prim.name for e in g.eqns] == ["dot_general", "tanh"]
    assert str(xf.trace(f)(a, b)) == str(g)
    assert cf.cache_info().misses == 0  # staging does not fill the call cache


def test_nested_compiled_function_is_inlined():
    inner = xf.compile(lambda x: x * 3)

    @xf.compile
    def outer(x):
        return inner(x) + 1

    a = _xs(3)
    np.testing.assert_allclose(outer(a), a * 3 + 1, rtol=1e-6)
    assert [e.prim.name for e in outer.trace(a).graph.eqns] == ["broadcast_in_dim", "mul",
                                                               "broadcast_in_dim", "add"]


def test_closed_over_arrays_become_constants():
    w = xf.asarray(_xs(3, 3))
    big = np.arange(100.0)

    @xf.compile
    def f(x):
        return x @ w + xf.sum(xf.asarray(big))

    a = _xs(2, 3)
    np.testing.assert_allclose(f(a), a @ np.asarray(w) + big.sum(), rtol=1e-5)
    g = f.trace(a).graph
    assert len(g.constvars) == 2


def test_donated_argument_buffer_is_reused_and_the_array_becomes_unusable():
    f = xf.compile(lambda x: x + 1, donate_argnums=0)
    a = _xs(1024)
    x = xf.asarray(a)
    ptr = x.unsafe_buffer_pointer()
    assert "jax.buffer_donor = true" in f.lower(x).text
    y = f(x)
    np.testing.assert_allclose(np.asarray(y), a + 1)
    assert y.unsafe_buffer_pointer() == ptr  # the output was written into the donated buffer
    with pytest.raises(xf.ArgumentError, match=r"was donated"):
        np.asarray(x)


def test_compile_respects_device_argument():
    cpu = xf.devices("cpu")[0]
    f = xf.compile(lambda x: x * 2, device="cpu")
    out = f(xf.asarray(_xs(3)))
    assert out.device == cpu


def test_methods_and_functools_wraps():
    class Model:
        def __init__(self):
            self.w = xf.asarray(_xs(3, 2))

        @xf.compile(static_argnums=0)
        def __call__(self, x):
            return x @ self.w

    m = Model()
    a = _xs(4, 3)
    np.testing.assert_allclose(m(a), a @ np.asarray(m.w), rtol=1e-5)

    def documented(x):
        """Doc."""
        return x

    assert xf.compile(documented).__doc__ == "Doc."
    assert xf.compile(documented).__name__ == "documented"
