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


# --- the fast paths give what the general path gives (NOTE [The call path]) ------------------
# The first call of a signature takes the general path and enters the fast path of its kind;
# later calls take the fast path. ``f._call(args, {}, None)`` always takes the general path.

def _fast_cases():
    rng = np.random.default_rng(1)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return {
        "0-d": (np.full((), 2.5, np.float32), f32(3)),
        "zero-size": (np.zeros((0, 3), np.float32), f32(3)),
        "broadcast": (f32(3, 1), f32(1, 4)),
        "float64": (rng.standard_normal((2, 3)), rng.standard_normal(3)),
        "int32": (np.arange(6, dtype=np.int32).reshape(2, 3), np.arange(3, dtype=np.int32)),
        "complex64": ((f32(4) + 1j * f32(4)).astype(np.complex64), f32(4)),
    }


def _fn(x, y):  # several outputs in a tree, and a captured constant
    return {"p": x * y + _CONST, "s": (xf.sum(x) + xf.sum(y),)}


_CONST = np.full((), 0.5, np.float32)


def _ref(x, y):
    return {"p": x * y + np.float32(0.5), "s": (np.sum(x) + np.sum(y),)}


def _leaves(tree):
    return [tree["p"], tree["s"][0]]


@pytest.mark.filterwarnings("ignore::xfront.RecompileWarning")
@pytest.mark.parametrize("kind", ["xfront", "numpy", "torch"])
def test_fast_paths_match_the_general_path(kind, monkeypatch):
    from xfront.lowering import runtime

    imports = []  # host memory brought in by put or DLPack (not by a staging copy)
    for name in ("put", "put_input", "import_dlpack"):
        real = getattr(runtime, name)
        monkeypatch.setattr(runtime, name, lambda *a, _real=real, _n=name, **k:
                            imports.append(_n) or _real(*a, **k))
    if kind == "torch":
        torch = pytest.importorskip("torch")
        conv = torch.from_numpy
        back = lambda t: t.numpy()  # noqa: E731
        out_type = torch.Tensor
    elif kind == "numpy":
        conv = back = lambda a: a  # noqa: E731
        out_type = np.ndarray
    else:
        conv, back, out_type = xf.asarray, np.asarray, xf.Array
    f = xf.compile(_fn)
    for name, (a, b) in _fast_cases().items():
        x, y = conv(a), conv(b)
        general = f._call((x, y), {}, None)
        hits = f.cache_info().hits
        fast = [f(x, y)]
        del imports[:]
        fast.append(f(x, y))
        assert f.cache_info().hits == hits + 2, name
        # a warm small call imports nothing: xfront buffers as they are, host data staged
        assert imports == [], (name, imports)
        ref = _ref(a, b)
        for out in fast + [general]:
            for got, want, g0 in zip(_leaves(out), _leaves(ref), _leaves(general)):
                assert type(got) is out_type, name
                got = back(got)
                assert got.shape == np.shape(want) and got.dtype == back(g0).dtype, name
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
        if kind != "xfront" and a.size:
            # results are the caller's own: writing one changes no other result
            p0, p1 = back(fast[0]["p"]), back(fast[1]["p"])
            p0[...] = 7
            np.testing.assert_allclose(p1, ref["p"], rtol=1e-5, err_msg=name)


def test_fast_numpy_path_reads_views_and_results_stay_independent():
    f = xf.compile(lambda x: x * 1)  # an identity-like program: results must be fresh
    base = np.arange(40, dtype=np.float32)
    views = {
        "reversed": base[::-1][:8],
        "strided": base[::5],
        "fortran": np.asfortranarray(base[:8].reshape(2, 4)).T.T,
        "misaligned": base[1:9],
        "read-only": np.frombuffer(base[:8].tobytes(), np.float32),
    }
    for name, v in views.items():
        want = np.array(v, dtype=np.float32)
        outs = [f(v) for _ in range(3)]  # general, then fast
        for o in outs:
            np.testing.assert_array_equal(o, want, err_msg=name)
            assert o.dtype == np.float32 and o.flags.writeable, name
    with pytest.raises(xf.DTypeError, match="dtype >f4 is not supported"):
        f(base[:8].astype(">f4"))  # the fast path never takes a signature the general refuses
    a = np.ones(8, np.float32)
    out1 = f(a)
    a[:] = 5  # the caller writes its array after the call: earlier results keep their values
    out2 = f(a)
    np.testing.assert_array_equal(out1, np.ones(8, np.float32))
    np.testing.assert_array_equal(out2, np.full(8, 5, np.float32))


def test_fast_torch_path_reads_any_layout_and_keeps_autograd():
    torch = pytest.importorskip("torch")
    f = xf.compile(lambda x, y: x * y + 1)
    base = torch.arange(24.0).reshape(4, 6)
    y = torch.full((6, 4), 2.0)
    f(base.T.contiguous(), y)  # enters the fast path for (6, 4) float32
    layouts = {
        "transposed": base.T,
        "strided": torch.arange(48.0).reshape(12, 4)[::2],
        "neg": torch._neg_view(base.T),
        "channels_last-like": base.reshape(1, 4, 6, 1).to(
            memory_format=torch.channels_last).reshape(4, 6).T,
    }
    for name, t in layouts.items():
        want = t.resolve_neg().contiguous().numpy() * 2 + 1
        np.testing.assert_array_equal(f(t, y).numpy(), want, err_msg=name)
    c = torch.tensor([[1 + 2j, 3 - 1j]], dtype=torch.complex64)
    fc = xf.compile(lambda x, y: x * y)
    for _ in range(3):
        np.testing.assert_allclose(fc(c.conj(), c).numpy(), c.numpy().conj() * c.numpy())
    g = base.T.clone().requires_grad_(True)  # recorded: the autograd route, not the fast path
    f(g, y).sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), np.full((6, 4), 2.0))
    bf = torch.ones(6, 4, dtype=torch.bfloat16)  # no NumPy view for staging: general path
    for _ in range(2):
        assert f(bf, bf).to(torch.float32).tolist() == [[2.0] * 4] * 6


def test_fast_paths_raise_what_the_general_path_raises():
    f = xf.compile(lambda x, y: xf.matmul(x, y))
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    f(a, b), f(xf.asarray(a), xf.asarray(b))  # warm the NumPy and xfront fast paths
    bad = np.ones((2, 4), np.float32)
    for args in [(a, bad), (xf.asarray(a), xf.asarray(bad))]:
        errors = []
        for call in (lambda: f(*args), lambda: f._call(args, {}, None)):
            with pytest.raises(xf.ShapeError) as info:
                call()
            errors.append(str(info.value).splitlines()[0])
        assert errors[0] == errors[1] and "matmul" in errors[0]
    with pytest.raises(xf.DTypeError, match="unsupported dtype"):
        f(np.array([["a"]]), b)


def test_fast_numpy_path_under_threads_gives_each_caller_its_result():
    import threading

    f = xf.compile(lambda x, y: x * y + 1)
    f(np.ones(8, np.float32), np.ones(8, np.float32))
    bad = []

    def work(k: int) -> None:
        for i in range(200):
            x = np.full(8, k, np.float32)
            y = np.full(8, i, np.float32)
            if not np.array_equal(f(x, y), x * y + 1):
                bad.append((k, i))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not bad
