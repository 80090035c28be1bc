"""What a new user tries first: torch.compile with ``xf.torch``, pickling and copying arrays,
NumPy/torch names, ``einsum``/``pad`` against other frameworks, and loop-carry dtypes.

(``einsum`` and ``pad`` are also rows of the op table; the README's examples run in
test_readme.py.) The torch.compile tests are few and small: compiling is slow on small CPUs.
"""

from __future__ import annotations

import copy
import pickle
import pickletools
import re
import sys

import numpy as np
import pytest

import xfront as xf
import xfront.kernels  # noqa: F401  (xf.kernels, named by some suggestions)
from tests._harness import BF16

# --- pickle / copy / deepcopy ----------------------------------------------------------------

_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
           "float16", "bfloat16", "float32", "float64", "complex64", "complex128"]
_SHAPES = [(), (0,), (2, 0, 3), (3,), (2, 3)]


def _sample(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    v = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) * 1.5 - 2.0
    if dtype == "bool":
        return v > 0
    if dtype.startswith("complex"):
        return (v + 1j * v[::-1] if v.ndim else v + 1j).astype(dtype)
    if dtype.startswith("uint"):
        return np.abs(v).astype(dtype)
    return v.astype(BF16 if dtype == "bfloat16" else dtype)


def _same(a, b) -> None:
    assert type(b) is xf.Array
    assert b.dtype == a.dtype and b.shape == a.shape and b.device == a.device
    np.testing.assert_array_equal(np.asarray(b), np.asarray(a))


@pytest.mark.parametrize("dtype", _DTYPES)
def test_arrays_pickle_and_copy_by_value(dtype):
    for shape in _SHAPES:
        x = xf.asarray(_sample(dtype, shape))
        _same(x, pickle.loads(pickle.dumps(x)))
        _same(x, copy.copy(x))
        tree = copy.deepcopy({"w": x, "layers": [x, (x,)]})
        _same(x, tree["w"])
        assert tree["layers"][0] is tree["w"]  # deepcopy keeps shared references shared
        if x.size:  # a copy is a new buffer
            assert copy.copy(x).unsafe_buffer_pointer() != x.unsafe_buffer_pointer()


def test_pickles_hold_no_runtime_objects():
    data = pickle.dumps({"a": xf.asarray(np.ones((2, 3), np.float32))},
                        protocol=pickle.HIGHEST_PROTOCOL)
    strings = [str(arg) for op, arg, _ in pickletools.genops(data)
               if op.name in ("GLOBAL", "STACK_GLOBAL", "SHORT_BINUNICODE", "BINUNICODE")]
    # the only global is xfront._array._unpickle; the rest is bytes, a dtype name, a device name
    assert "_unpickle" in strings
    assert [t for t in strings if "." in t] == ["xfront._array"], strings
    assert not re.search(r"jax|Device|Client|Buffer", " ".join(strings)), strings
    # the device travels as its name
    assert b"cpu:0" in data


def test_unpickling_onto_a_missing_device_raises_a_device_error():
    from xfront._array import _unpickle

    fn, (raw, dtype, shape, dev) = xf.asarray([1.0, 2.0]).__reduce__()
    assert fn is _unpickle and dev == "cpu:0"
    with pytest.raises(xf.DeviceError, match=r"'gpu:7'|gpu"):
        _unpickle(raw, dtype, shape, "gpu:7")


def test_pickling_a_tracer_raises_a_clear_error():
    @xf.compile
    def f(x):
        pickle.dumps(x)
        return x

    with pytest.raises(xf.TracerConversionError, match="traced array"):
        f(np.ones(3))


def test_array_del_never_raises(monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: reported.append(info))
    half = object.__new__(xf.Array)  # no slots set: construction failed half way
    del half

    class Broken(xf.Array):
        __slots__ = ()

    b = object.__new__(Broken)
    b._owned = True  # owned, but no buffer
    del b
    import gc

    gc.collect()
    assert reported == []


# --- NumPy/torch names -----------------------------------------------------------------------

def test_numpy_habits_name_the_standard_function():
    from xfront._habits import HABITS

    assert {"concatenate", "transpose", "array", "dot", "power", "arccos"} <= set(HABITS)
    for name, use in HABITS.items():
        assert name not in vars(xf), f"xf.{name} exists; the table must only hold missing names"
        with pytest.raises(AttributeError) as info:
            getattr(xf, name)
        assert isinstance(info.value, xf.XfrontError)
        assert repr(name) in str(info.value) and use in str(info.value)
        for target in re.findall(r"(?:xf|xfront)\.([A-Za-z_][\w.]*\w)", use):
            obj = xf
            for part in target.split("."):  # xf.random.normal, xfront.kernels.softmax, ...
                assert hasattr(obj, part), f"{name}: suggests {target}, which does not exist"
                obj = getattr(obj, part)
    assert not hasattr(xf, "concatenate")
    with pytest.raises(AttributeError, match=r"use xf\.concat "):
        xf.concatenate
    with pytest.raises(AttributeError, match=r"xf\.matmul .*xf\.tensordot .*xf\.vecdot"):
        xf.dot
    with pytest.raises(AttributeError) as info:
        xf.no_such_function
    assert not isinstance(info.value, xf.XfrontError)  # a plain miss stays a plain miss


def test_xf_torch_still_resolves_through_the_module_getattr():
    pytest.importorskip("torch")
    import xfront.torch as xt

    assert xf.torch is xt and xf.__getattr__("torch") is xt
    assert xf.torch.Module.__name__ == "Module"


# --- einsum / pad against torch and jax, and einsum's contraction order -----------------------

_EINSUMS = [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
            ("ii->i", [(3, 3)]), ("ij,ij->", [(2, 3), (2, 3)]), ("i,j->ij", [(3,), (2,)]),
            ("abc,cd,db->a", [(2, 3, 4), (4, 5), (5, 3)])]


@pytest.mark.parametrize("eq,shapes", _EINSUMS, ids=[e for e, _ in _EINSUMS])
def test_einsum_matches_torch_and_jax_with_gradients(eq, shapes):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s) for s in shapes]
    loss = lambda *a: xf.sum(xf.sin(xf.einsum(eq, *a)))  # noqa: E731
    got = xf.einsum(eq, *xs)
    grads = xf.grad(loss, argnums=tuple(range(len(xs))))(*xs)
    torch = pytest.importorskip("torch")
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    out = torch.einsum(eq, *ts)
    torch.sin(out).sum().backward()
    np.testing.assert_allclose(np.asarray(got), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    jnp = pytest.importorskip("jax.numpy")
    # jax computes in float32 here (its x64 mode is off)
    np.testing.assert_allclose(np.asarray(got), np.asarray(jnp.einsum(eq, *xs)), rtol=2e-5,
                               atol=2e-5)


def test_einsum_follows_the_opt_einsum_path():
    # (50, 2) @ (2, 50) @ (50, 2): left to right builds a 50x50 intermediate, the optimal order
    # contracts the last two first (a 2x2)
    a, b, c = np.ones((50, 2)), np.ones((2, 50)), np.ones((50, 2))
    graph = xf.compile(lambda a, b, c: xf.einsum("ij,jk,kl->il", a, b, c)).trace(a, b, c).graph
    dots = [e for e in graph.eqns if e.prim.name == "dot_general"]
    assert len(dots) == 2
    assert all(o.aval.shape != (50, 50) for e in dots for o in e.outputs)
    np.testing.assert_array_equal(np.asarray(xf.einsum("ij,jk,kl->il", a, b, c)), a @ b @ c)


@pytest.mark.parametrize("mode,torch_mode", [("constant", "constant"), ("edge", "replicate"),
                                             ("reflect", "reflect"), ("wrap", "circular")])
def test_pad_matches_torch_with_gradients(mode, torch_mode):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    pw = ((0, 0), (1, 2), (2, 1))
    got = xf.pad(x, pw, mode=mode)
    g = xf.grad(lambda x: xf.sum(xf.pad(x, pw, mode=mode) ** 3))(x)
    t = torch.tensor(x, requires_grad=True)
    # torch pads the last dimensions first, as (left, right) pairs
    out = torch.nn.functional.pad(t, (2, 1, 1, 2), mode=torch_mode)
    (out ** 3).sum().backward()
    np.testing.assert_allclose(np.asarray(got), out.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g), t.grad.numpy(), rtol=1e-12)


# --- loop carries ----------------------------------------------------------------------------

_CARRY_MSG = (r"returns f64~?\[\] for .*carry\S*, which starts as the Python int .*"
              r"a loop carry must keep its shape and dtype")


@pytest.mark.parametrize("loop", ["while_loop", "fori_loop", "scan"])
def test_weak_int_carry_does_not_silently_become_float(loop):
    def run(x):
        if loop == "while_loop":
            return xf.while_loop(lambda c: c < 3, lambda c: c + 1.5, 0)
        if loop == "fori_loop":
            return xf.fori_loop(0, 3, lambda i, c: c + 1.5, 0)
        return xf.scan(lambda c, t: (c + 1.5, t), 0, x)[0]

    x = np.arange(3.0)
    with pytest.raises(xf.DTypeError, match=_CARRY_MSG):
        run(x)
    with pytest.raises(xf.DTypeError, match=_CARRY_MSG):
        xf.compile(run)(x)
    # the documented remedies work: a float start, or an int update
    assert float(xf.while_loop(lambda c: c < 3, lambda c: c + 1.5, 0.0)) == 3.0
    out = xf.fori_loop(0, 3, lambda i, c: c + xf.asarray(2, dtype=xf.int8), 0)
    assert out.dtype == xf.int8 and int(out) == 6  # a weak int meets int8: int8


def test_eager_cond_and_switch_run_each_branch_once_and_match_compiled():
    seen = []

    def branch(tag, scale):
        def fn(v):
            seen.append(tag)
            return v * scale
        return fn

    x = np.arange(3.0, dtype=np.float32)
    out = xf.cond(xf.sum(x) > 0, branch("t", 2.0), branch("f", -1.0), x)
    assert sorted(seen) == ["f", "t"]
    np.testing.assert_array_equal(np.asarray(out), x * 2)
    assert out.dtype == xf.float32
    seen.clear()
    out = xf.switch(7, [branch(0, 0.0), branch(1, 1.0)], x)  # clamped to the last branch
    assert sorted(seen) == [0, 1]
    np.testing.assert_array_equal(np.asarray(out), x)
    compiled = xf.compile(lambda i, x: xf.switch(i, [branch(0, 0.0), branch(1, 1.0)], x))
    np.testing.assert_array_equal(compiled(7, x), x)


# --- torch.compile with xf.torch -----------------------------------------------------------------

def _mlp(p, x):
    return xf.tanh(x @ p["w1"] + p["b1"]) @ p["w2"]


def _train(torch, compiled: bool, steps: int = 2):
    g = torch.Generator().manual_seed(0)
    init = {"w1": torch.randn(4, 8, generator=g), "b1": torch.zeros(8),
            "w2": torch.randn(8, 1, generator=g)}
    x, y = torch.randn(5, 4, generator=g), torch.randn(5, 1, generator=g)
    model = xf.torch.Module(_mlp, init)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = torch.compile(model, fullgraph=True) if compiled else model
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((run(x) - y) ** 2).mean()
        loss.backward()
        history.append((loss.detach().clone(), {n: p.grad.clone()
                                                for n, p in model.named_parameters()}))
        opt.step()
    return history, {n: p.detach().clone() for n, p in model.named_parameters()}


def test_torch_compile_of_an_xf_torch_module_matches_eager():
    torch = pytest.importorskip("torch")
    (eager, eager_params), (comp, comp_params) = _train(torch, False), _train(torch, True)
    for (le, ge), (lc, gc) in zip(eager, comp):
        torch.testing.assert_close(lc, le)
        assert ge.keys() == gc.keys() == {"w1", "b1", "w2"}
        for n in ge:
            torch.testing.assert_close(gc[n], ge[n])
    for n in eager_params:  # the optimizer steps agree too
        torch.testing.assert_close(comp_params[n], eager_params[n])


def test_torch_compile_of_code_calling_an_xf_torch_function_matches_eager():
    torch = pytest.importorskip("torch")
    # a static int argument (n) and a dynamic Python float (scale) next to tensors
    f = xf.torch.Function(lambda x, w, n, scale: xf.sum(xf.sin(x @ w) ** n, axis=0) * scale)
    x = torch.randn(5, 4)
    w = torch.randn(4, 3, requires_grad=True)

    def step(x, w):
        return f(x, w, 2, 0.5).sum() + (w ** 2).sum()

    got = torch.compile(step, backend="aot_eager", fullgraph=True)(x, w)
    got.backward()
    g_compiled, w.grad = w.grad.clone(), None
    want = step(x, w)
    want.backward()
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(g_compiled, w.grad)


def test_errors_in_the_xfront_function_surface_under_torch_compile():
    torch = pytest.importorskip("torch")
    model = xf.torch.Module(lambda p, x: x @ p["w"] @ p["w"], {"w": torch.randn(4, 8)})
    x = torch.randn(5, 4)
    # without fullgraph, torch falls back to running the call: xfront's own error, unchanged
    with pytest.raises(xf.ShapeError, match=r"xfront\.matmul: x1 has shape \(5, 8\)"):
        torch.compile(model, backend="aot_eager")(x)
    # with fullgraph, torch reports the failed trace; xfront's error is in the chain
    with pytest.raises(Exception) as info:
        torch.compile(model, backend="aot_eager", fullgraph=True)(x)
    chain, e = [], info.value
    while e is not None and len(chain) < 10:
        chain.append(e)
        e = e.__cause__ or e.__context__
    assert any(isinstance(c, xf.ShapeError) for c in chain), chain


def test_pad_constant_value_is_differentiable_and_may_be_traced():
    x = np.ones((2, 3))
    # d/dv sum(pad(x, 1, v)) = the number of padded elements: 4 * 5 - 6
    assert float(xf.grad(lambda v: xf.sum(xf.pad(x, 1, constant_values=v)))(2.0)) == 14.0
    got = xf.compile(lambda x, v: xf.pad(x, ((1, 0), (0, 2)), constant_values=v))(x, 5.0)
    np.testing.assert_array_equal(got, np.pad(x, ((1, 0), (0, 2)), constant_values=5.0))
