"""Bridges: NumPy, torch, TensorFlow and jax arrays in and out of xfront, zero-copy.

The (framework, dtype, layout) table in tests/_bridge_cases.py drives the round trips: values
equal, dtype and device preserved, data pointers equal where zero-copy is promised (and unequal
where exactly one copy is documented). The rest pins the hard cases and the runtime traps
(silent 64-bit narrowing, misread non-row-major layouts, DLPack lifetimes) as regression tests.
Torch/TF tests skip without the extra.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import xfront as xf
from xfront.lowering import runtime
from tests._bridge_cases import (CASES, BridgeCase, aligned, dtype_name, need, pointer, reference,
                                 to_numpy)


@pytest.fixture
def spy(monkeypatch):
    """Records the data pointers of every executable's inputs and outputs."""
    calls: list[dict[str, list[int]]] = []
    orig = runtime.Executable.execute

    def execute(self, bufs):
        outs = orig(self, bufs)
        calls.append({"in": [b.unsafe_buffer_pointer() for b in bufs],
                      "out": [b.unsafe_buffer_pointer() for b in outs]})
        return outs

    monkeypatch.setattr(runtime.Executable, "execute", execute)
    return calls


def _source_pointer(case: BridgeCase, src) -> int:
    if case.layout == "variable":
        return pointer(src.read_value())
    return pointer(src)


def _check_values(out, ref: np.ndarray, dtype: str) -> None:
    got = to_numpy(out)
    assert got.shape == ref.shape
    assert dtype_name(out) == dtype
    np.testing.assert_array_equal(got, ref)


def _device_kind(x) -> str:
    mod = type(x).__module__.partition(".")[0]
    if mod == "torch":
        return x.device.type
    if mod == "tensorflow":
        return "cpu" if "CPU" in x.device else "gpu"
    if isinstance(x, np.ndarray):
        return "cpu"
    return next(iter(x.devices())).platform


# --- the table ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_import_values_dtype_pointer(case: BridgeCase):
    src, ref = case.build()
    # from_dlpack shares memory for every framework; asarray does too, except that it copies
    # NumPy arrays by default (NOTE [asarray and NumPy memory])
    x = xf.from_dlpack(src) if case.framework == "numpy" else xf.asarray(src)
    assert isinstance(x, xf.Array)
    assert x.dtype == case.dtype and x.shape == ref.shape
    assert x.device.platform == "cpu"
    np.testing.assert_array_equal(to_numpy(x), ref)
    if case.zero_copy is True:
        assert x.unsafe_buffer_pointer() == _source_pointer(case, src), "promised zero-copy"
    elif case.zero_copy is False:
        assert x.unsafe_buffer_pointer() != _source_pointer(case, src), "expected one copy"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_compiled_round_trip(case: BridgeCase, spy):
    src, ref = case.build()
    f = xf.compile(lambda a: {"same": a, "pair": (a, a)})
    out = f(src)
    fw = "tensorflow" if case.framework == "tensorflow" else case.framework
    for leaf in (out["same"], *out["pair"]):
        assert type(leaf).__module__.partition(".")[0] == {"numpy": "numpy", "torch": "torch",
                                                          "tensorflow": "tensorflow",
                                                          "jax": "jaxlib"}[fw]
        _check_values(leaf, ref, case.dtype)
        assert _device_kind(leaf) == "cpu"
    (call,) = spy
    if case.zero_copy is True:
        assert call["in"][-1] == _source_pointer(case, src), "input should enter zero-copy"
    if ref.size:  # outputs leave zero-copy: the framework array views the result buffer
        # dict keys flatten sorted: pair[0], pair[1], same
        assert pointer(out["pair"][0]) == call["out"][0]
        assert pointer(out["pair"][1]) == call["out"][1]
        assert pointer(out["same"]) == call["out"][2]


@pytest.mark.parametrize("case", [c for c in CASES if c.layout == "contiguous"],
                         ids=lambda c: c.id)
def test_export_helpers_round_trip(case: BridgeCase):
    _, ref = case.build()
    to = {"numpy": xf.to_numpy, "torch": xf.to_torch, "tensorflow": xf.to_tf,
          "jax": xf.to_jax}[case.framework]
    x = xf.asarray(ref, copy=True)
    p = x.unsafe_buffer_pointer()
    out = to(x)
    _check_values(out, ref, case.dtype)
    assert pointer(out) == p, "to_* is zero-copy"


def test_table_covers_every_dtype_per_framework():
    for fw in ("numpy", "torch", "tensorflow", "jax"):
        dtypes = {c.dtype for c in CASES if c.framework == fw and c.layout == "contiguous"}
        assert dtypes == {d.name for d in xf._dtypes.ALL}, fw


# --- which framework comes back -------------------------------------------------------------------

def test_mixed_frameworks_give_xfront_arrays_and_returns_overrides():
    torch = need("torch")
    f = xf.compile(lambda a, b: a + b)
    t = torch.ones(3)
    n = np.ones(3, np.float32)
    assert isinstance(f(t, n), xf.Array)  # mixed: never a guess
    assert isinstance(f(t, 2.0), torch.Tensor)  # Python scalars do not count
    g = xf.compile(lambda a, b: a + b, returns="torch")
    out = g(n, n)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_array_equal(out.numpy(), 2 * n)
    assert isinstance(xf.compile(lambda a: a, returns="numpy")(t), np.ndarray)
    assert isinstance(f(xf.asarray(n), xf.asarray(n)), xf.Array)
    assert isinstance(xf.compile(lambda: xf.ones(2))(), xf.Array)


def test_returns_rejects_unknown_framework():
    with pytest.raises(xf.ArgumentError, match=r"returns='mxnet' is not one of"):
        xf.compile(lambda a: a, returns="mxnet")


def test_pytrees_of_torch_tensors():
    torch = need("torch")
    f = xf.compile(lambda d: {"s": d["a"] + d["b"][0], "p": [d["b"][1] * 2]})
    out = f({"a": torch.ones(2), "b": (torch.full((2,), 3.0), torch.arange(2.0))})
    assert isinstance(out["s"], torch.Tensor) and isinstance(out["p"][0], torch.Tensor)
    assert out["s"].tolist() == [4.0, 4.0] and out["p"][0].tolist() == [0.0, 2.0]


def test_eager_ops_accept_foreign_arrays():
    torch = need("torch")
    tf = need("tensorflow")
    t = torch.arange(4.0)
    y = xf.sin(t)
    assert isinstance(y, xf.Array)
    np.testing.assert_allclose(np.asarray(y), np.sin(np.arange(4.0)), rtol=1e-6)
    z = xf.add(torch.ones(3, dtype=torch.float64), tf.ones(3, dtype=tf.float64))
    np.testing.assert_array_equal(np.asarray(z), [2.0, 2.0, 2.0])


# --- hard cases -----------------------------------------------------------------------------------

def test_requires_grad_in_eager_functions_is_a_clear_error():
    torch = need("torch")
    t = torch.ones(3, requires_grad=True)
    with pytest.raises(xf.ArgumentError, match=r"requires grad, but xfront.asarray is not "
                                               r"recorded by torch autograd"):
        xf.asarray(t)
    with pytest.raises(xf.ArgumentError, match=r"xfront.sin: .* requires grad"):
        xf.sin(t)
    with pytest.raises(xf.ArgumentError, match=r"xfront.vjp: .* requires grad"):
        xf.vjp(lambda a: a * 2, t)
    out = xf.compile(lambda a: a * 2)(t)  # compiled functions join torch's autograd graph
    assert out.requires_grad and out.tolist() == [2.0, 2.0, 2.0]
    with torch.no_grad():  # no gradient expected: the tensor is detached
        out = xf.compile(lambda a: a * 2)(t)
        assert out.tolist() == [2.0, 2.0, 2.0] and not out.requires_grad


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "complex32", "quint8"])
def test_torch_dtype_without_equivalent_is_a_dtype_error(name):
    torch = need("torch")
    td = getattr(torch, name, None)
    if td is None:
        pytest.skip(f"this torch has no {name}")
    t = torch.zeros(2, dtype=torch.float32)
    t = torch.quantize_per_tensor(t, 0.1, 0, td) if name == "quint8" else t.to(td)
    with pytest.raises(xf.DTypeError, match=rf"dtype torch\.{name}, which has no xfront"):
        xf.asarray(t)
    with pytest.raises(xf.DTypeError, match="no xfront equivalent"):
        xf.compile(lambda a: a)(t)


def test_torch_sparse_and_meta_tensors_are_clear_errors():
    torch = need("torch")
    with pytest.raises(xf.ArgumentError, match=r"layout torch\.sparse_coo"):
        xf.asarray(torch.eye(3).to_sparse())
    with pytest.raises(xf.DeviceError, match="device meta"):
        xf.asarray(torch.empty(3, device="meta"))


def test_tf_quantized_and_string_dtypes_are_dtype_errors():
    tf = need("tensorflow")
    with pytest.raises(xf.DTypeError, match="dtype qint8"):
        xf.asarray(tf.cast(tf.constant([1, 2]), tf.qint8))


def test_tf_resource_variable_is_a_zero_copy_snapshot():
    tf = need("tensorflow")
    v = tf.Variable(np.arange(4, dtype=np.float32))
    x = xf.asarray(v)
    assert x.unsafe_buffer_pointer() == pointer(v.read_value())  # zero-copy
    v.assign([9.0, 9.0, 9.0, 9.0])  # TF copies on write while xfront holds the buffer
    v.assign_add([1.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(x), [0.0, 1.0, 2.0, 3.0])
    out = xf.compile(lambda a: a * 2)(v)
    assert isinstance(out, tf.Tensor)
    np.testing.assert_array_equal(out.numpy(), [20.0] * 4)


def test_jax_tracer_is_a_clear_error():
    jax = need("jax")
    f = xf.compile(lambda a: a + 1)
    with pytest.raises(xf.ArgumentError, match="jax tracer"):
        jax.jit(lambda a: f(a))(np.ones(2, np.float32))


def test_jax_array_with_non_default_layout_is_made_row_major():
    torch = need("torch")
    jax = need("jax")
    t = torch.arange(12.0).reshape(3, 4)
    j = jax.dlpack.from_dlpack(t.T)  # zero-copy with a column-major layout
    np.testing.assert_array_equal(np.asarray(xf.compile(lambda a: a * 1)(j)), t.T.numpy())
    np.testing.assert_array_equal(np.asarray(xf.asarray(j)), t.T.numpy())


def test_unaligned_buffers_take_one_copy_with_right_values():
    torch = need("torch")
    base = torch.arange(40, dtype=torch.float32)
    for k in (1, 2, 3, 4, 8):
        t = base[k:]
        x = xf.asarray(t)
        np.testing.assert_array_equal(np.asarray(x), t.numpy())
        assert (x.unsafe_buffer_pointer() == t.data_ptr()) == (t.data_ptr() % 64 == 0)
    with pytest.raises(xf.BridgeError, match="copy=False"):
        xf.asarray(base[1:], copy=False)


def test_hidden_copy_of_unaligned_memory_completes_before_import_returns():
    torch = need("torch")
    base = torch.ones(1 << 22)
    x = xf.asarray(base[1:])  # not 64-byte aligned: PJRT copies
    base.fill_(5.0)  # written right after the import returned
    assert np.unique(np.asarray(x)).tolist() == [1.0]
    raw = aligned(np.ones(1 << 22, np.float32), offset=4)
    y = xf.from_dlpack(raw)
    raw[:] = 5.0
    assert np.unique(np.asarray(y)).tolist() == [1.0]


def test_copy_argument_of_asarray_and_from_dlpack():
    torch = need("torch")
    t = torch.arange(6.0).reshape(2, 3)
    assert xf.from_dlpack(t).unsafe_buffer_pointer() == t.data_ptr()
    assert xf.from_dlpack(t, copy=False).unsafe_buffer_pointer() == t.data_ptr()
    c = xf.from_dlpack(t, copy=True)
    assert c.unsafe_buffer_pointer() != t.data_ptr()
    t.add_(100)
    np.testing.assert_array_equal(np.asarray(c), np.arange(6.0).reshape(2, 3))
    with pytest.raises(xf.BridgeError, match="strides are not compact|not row-major"):
        xf.from_dlpack(t.T, copy=False)
    np.testing.assert_array_equal(np.asarray(xf.from_dlpack(t.T)), t.T.numpy())
    with pytest.raises(xf.ArgumentError, match="does not implement __dlpack__"):
        xf.from_dlpack(object())
    x = xf.asarray(np.arange(3.0))
    assert xf.from_dlpack(x) is x
    y = xf.from_dlpack(x, copy=True)
    assert y.unsafe_buffer_pointer() != x.unsafe_buffer_pointer()
    np.testing.assert_array_equal(np.asarray(y), np.arange(3.0))


# --- lifetime -------------------------------------------------------------------------------------

def _churn():
    gc.collect()
    junk = [np.full(1000, 7.0) for _ in range(100)]
    del junk


def test_source_deleted_while_xfront_aliases_it():
    torch = need("torch")
    tf = need("tensorflow")
    t = torch.arange(64.0)
    x = xf.asarray(t)
    assert x.unsafe_buffer_pointer() == t.data_ptr()
    del t
    _churn()
    np.testing.assert_array_equal(np.asarray(x), np.arange(64.0))
    a = aligned(np.arange(64.0))
    y = xf.from_dlpack(a)
    assert y.unsafe_buffer_pointer() == pointer(a)
    del a
    _churn()
    np.testing.assert_array_equal(np.asarray(y), np.arange(64.0))
    g = tf.range(64.0)
    z = xf.asarray(g)
    del g
    _churn()
    np.testing.assert_array_equal(np.asarray(z), np.arange(64.0))


def test_exported_tensor_outlives_the_xfront_array():
    torch = need("torch")
    tf = need("tensorflow")
    x = xf.asarray(np.arange(64.0), copy=True)
    t = xf.to_torch(x)
    del x
    _churn()
    assert t.tolist() == list(np.arange(64.0))
    y = xf.asarray(np.arange(64.0), copy=True)
    g = xf.to_tf(y)
    del y
    _churn()
    np.testing.assert_array_equal(g.numpy(), np.arange(64.0))
    out = xf.compile(lambda a: a * 2)(torch.arange(64.0))
    _churn()
    assert out.tolist() == list(np.arange(64.0) * 2)


# --- runtime traps as regression tests (64-bit narrowing, layouts, DLPack lifetimes) -----------

@pytest.mark.parametrize("layout", ["transposed", "channels_last"])
def test_trap_non_row_major_import_never_reaches_execute(layout, spy):
    torch = need("torch")
    if layout == "transposed":
        t = torch.arange(12.0).reshape(3, 4).T
    else:
        t = torch.arange(24.0).reshape(1, 2, 3, 4).to(memory_format=torch.channels_last)
    ref = t.numpy()
    # the hazard: imported as it is, the buffer has a non-default layout
    raw = runtime.import_dlpack(torch.utils.dlpack.to_dlpack(t), xf.default_device().rt,
                                row_major=True)
    assert not runtime.has_default_layout(raw)
    # xfront never feeds such a buffer to execute: every path gives the right numbers
    w = np.arange(ref.size, dtype=np.float32).reshape(ref.shape)
    f = xf.compile(lambda a, b: (a * b, xf.sum(a * b)))
    prod, total = f(t, torch.from_numpy(w))
    np.testing.assert_array_equal(prod.numpy(), ref * w)
    assert float(total) == float((ref * w).sum())
    np.testing.assert_array_equal(np.asarray(xf.multiply(t, 2.0)), ref * 2)
    np.testing.assert_array_equal(np.asarray(xf.asarray(t)), ref)
    assert runtime.has_default_layout(xf.asarray(t)._buf)


@pytest.mark.parametrize("framework", ["numpy", "torch", "tensorflow"])
@pytest.mark.parametrize("dtype", ["float64", "int64", "uint64", "complex128"])
def test_trap_64_bit_data_is_never_narrowed(framework, dtype):
    src, ref = BridgeCase(framework, dtype).build()
    assert xf.asarray(src).dtype == dtype
    np.testing.assert_array_equal(np.asarray(xf.asarray(src)), ref)
    out = xf.compile(lambda a: a + a)(src)
    assert dtype_name(out) == dtype
    np.testing.assert_array_equal(to_numpy(out), ref + ref)


def _heavy(a, b):
    y = a
    for _ in range(30):
        y = xf.sin(y) * 1.0001 + b
    return y


def test_trap_caller_mutating_an_aliased_numpy_array():
    a = aligned(np.ones(1 << 21, np.float32))  # 8 MiB: the program runs for milliseconds
    b = xf.asarray(np.float32(0.5))
    f = xf.compile(_heavy)
    expected = np.asarray(f(xf.asarray(a, copy=True), b)).copy()
    expected_sin = np.asarray(xf.sin(xf.asarray(a, copy=True))).copy()
    for _ in range(3):
        a[:] = 1.0
        out = f(a, b)  # NumPy + xfront in -> xfront out (asynchronous)
        a[:] = 100.0  # the caller writes right after the call returned
        np.testing.assert_array_equal(np.asarray(out), expected)
        a[:] = 1.0
        out = xf.sin(a)  # eager op: same rule
        a[:] = 100.0
        np.testing.assert_array_equal(np.asarray(out), expected_sin)
    # asarray copies by default: later writes are invisible
    a[:] = 1.0
    c = xf.asarray(a)
    a[:] = 2.0
    assert float(c[0]) == 1.0
    # a view on purpose (copy=False, from_dlpack): later writes show, as documented
    v = xf.from_dlpack(a)
    assert v.unsafe_buffer_pointer() == pointer(a)
    a[:] = 3.0
    assert float(v[0]) == 3.0


def test_trap_caller_mutating_an_aliased_torch_tensor():
    torch = need("torch")
    t = torch.ones(1 << 21)
    b = xf.asarray(np.float32(0.5))
    f = xf.compile(_heavy)
    expected = np.asarray(f(xf.asarray(t, copy=True), b)).copy()
    for _ in range(3):
        t.fill_(1.0)
        out = f(t, b)
        t.fill_(100.0)
        np.testing.assert_array_equal(np.asarray(out), expected)


def test_trap_torch_tensor_exported_while_xfront_could_donate_the_buffer():
    torch = need("torch")
    inc = xf.compile(lambda a: a + 1, donate_argnums=0)
    # the protocol path hands out a copy: torch writes never reach the xfront array
    x = xf.asarray(np.arange(4.0), copy=True)
    t = torch.from_dlpack(x)
    assert t.data_ptr() != x.unsafe_buffer_pointer()
    t.add_(10)
    np.testing.assert_array_equal(np.asarray(x), np.arange(4.0))
    # an explicit alias (copy=False): XLA skips donating a buffer torch still views
    y = xf.asarray(np.arange(4.0), copy=True)
    u = torch.from_dlpack(y, copy=False)
    assert u.data_ptr() == y.unsafe_buffer_pointer()
    out = inc(y)
    np.testing.assert_array_equal(np.asarray(out), np.arange(4.0) + 1)
    assert u.tolist() == [0.0, 1.0, 2.0, 3.0]
    # to_torch moves the buffer: zero-copy, and the xfront array is consumed
    z = inc(xf.asarray(np.arange(4.0), copy=True))
    p = z.unsafe_buffer_pointer()
    w = xf.to_torch(z)
    assert w.data_ptr() == p
    w.mul_(2)
    assert w.tolist() == [2.0, 4.0, 6.0, 8.0]
    with pytest.raises(xf.ArgumentError, match=r"moved to torch by xfront\.to_torch"):
        np.asarray(z)
    with pytest.raises(xf.ArgumentError, match=r"argument args\[0\] was moved to torch"):
        inc(z)
    with pytest.raises(xf.ArgumentError, match=r"xfront\.sin: argument 0 \(f64\[4\]\) was moved"):
        xf.sin(z)


def test_to_torch_copies_a_buffer_other_xfront_objects_share():
    torch = need("torch")
    w = xf.asarray(np.arange(3.0), copy=True)
    f = xf.compile(lambda a: a + w)  # w is captured as a constant of f
    assert f(np.zeros(3)).tolist() == [0.0, 1.0, 2.0]
    t = xf.to_torch(w)
    assert t.data_ptr() != w.unsafe_buffer_pointer()  # one copy; w stays valid
    t.add_(100)
    np.testing.assert_array_equal(np.asarray(w), np.arange(3.0))
    assert f(np.zeros(3)).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(xf.BridgeError, match="shared with other xfront objects"):
        xf.to_torch(w, copy=False)
    k = xf.asarray(np.arange(3.0), copy=True)
    kt = xf.to_torch(k, copy=True)
    kt.add_(1)
    np.testing.assert_array_equal(np.asarray(k), np.arange(3.0))
    assert isinstance(xf.to_torch(np.ones(2)), torch.Tensor)


def test_to_numpy_and_to_tf_keep_the_array_valid():
    x = xf.asarray(np.arange(4.0), copy=True)
    n = xf.to_numpy(x)
    assert not n.flags.writeable and pointer(n) == x.unsafe_buffer_pointer()
    np.testing.assert_array_equal(np.asarray(x), np.arange(4.0))
    assert xf.to_numpy(x, copy=True).flags.writeable
    tf = need("tensorflow")
    g = xf.to_tf(x)
    assert isinstance(g, tf.Tensor) and pointer(g) == x.unsafe_buffer_pointer()
    np.testing.assert_array_equal(np.asarray(x), np.arange(4.0))


def _run_isolated(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter: a regression that aborts must not kill the suite."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd=str(__import__("pathlib").Path(
                              __file__).resolve().parents[1]))


def test_trap_negative_strides_never_reach_torch_from_dlpack():
    need("torch")
    r = _run_isolated("""
        import numpy as np, torch, xfront as xf
        a = np.arange(12.0)[::-1]
        t = xf.to_torch(a)
        assert t.tolist() == a.tolist(), t
        out = xf.compile(lambda v: v * 2, returns="torch")(a)
        assert out.tolist() == (a * 2).tolist()
        m = np.arange(12.0).reshape(3, 4)[::-1, ::-2]
        assert xf.to_torch(m).tolist() == m.tolist()
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.returncode, r.stderr[-2000:])


def test_trap_donating_or_moving_an_array_other_frameworks_view():
    need("torch")
    need("tensorflow")
    r = _run_isolated("""
        import numpy as np, torch, tensorflow as tf, xfront as xf
        inc = xf.compile(lambda a: a + 1, donate_argnums=0)
        x = xf.asarray(np.arange(4.0), copy=True)
        g = xf.to_tf(x)  # zero-copy, x stays valid
        n = xf.to_numpy(x)
        y = inc(x)  # XLA must skip donating a buffer TF and NumPy still view
        assert g.numpy().tolist() == [0.0, 1.0, 2.0, 3.0], g
        assert n.tolist() == [0.0, 1.0, 2.0, 3.0] and np.asarray(y).tolist() == [1.0, 2.0, 3.0, 4.0]
        z = inc(xf.asarray(np.arange(4.0), copy=True))
        t = xf.to_torch(z)  # moved
        del z
        w = xf.asarray(np.arange(4.0), copy=True)
        u = torch.from_dlpack(w, copy=False)  # an explicit alias
        v = inc(w)
        assert u.tolist() == [0.0, 1.0, 2.0, 3.0] and t.tolist() == [1.0, 2.0, 3.0, 4.0]
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.returncode, r.stderr[-2000:])


def test_trap_tf_string_tensor_never_reaches_dlpack():
    need("tensorflow")
    r = _run_isolated("""
        import tensorflow as tf, xfront as xf
        s = tf.constant(["a", "bc"])
        for call in (lambda: xf.asarray(s), lambda: xf.compile(lambda v: v)(s),
                     lambda: xf.from_dlpack(s), lambda: xf.asarray(tf.Variable(["x"]))):
            try:
                call()
            except xf.DTypeError as e:
                assert "dtype string" in str(e), e
            else:
                raise AssertionError("no error")
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), (r.returncode, r.stderr[-2000:])


def test_import_xfront_loads_no_framework():
    r = _run_isolated("""
        import sys, xfront
        loaded = {'torch', 'tensorflow', 'jax'} & set(sys.modules)
        assert not loaded, loaded
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip().endswith("ok"), r.stderr[-2000:]


def test_reference_values_exercise_64_bit_range():
    assert int(reference("int64").max()) > 2 ** 32
    assert float(np.float32(reference("float64")[0, 1])) != reference("float64")[0, 1]
