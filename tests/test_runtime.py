"""The runtime adapter: output-buffer recycling (NOTE [Output buffer pool]), zero-copy NumPy
outputs, float64 without a global switch, asynchronous execution hazards."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import xfront as xf
from xfront.lowering import runtime

N = runtime.POOL_MIN_BYTES // 4 + 1024  # float32 elements: just above the pool's threshold


def _big(seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(N).astype(dtype)


@pytest.fixture(autouse=True)
def _fresh_pool():
    runtime.POOL.clear()
    yield
    runtime.POOL.clear()


def test_dead_output_buffer_is_recycled_with_correct_values():
    f = xf.compile(lambda x: x * 2 + 1)
    a, b = _big(0), _big(1)
    y1 = f(xf.asarray(a))
    p1 = y1.unsafe_buffer_pointer()
    del y1
    gc.collect()
    y2 = f(xf.asarray(b))
    assert y2.unsafe_buffer_pointer() == p1, "the dead output's memory should be reused"
    np.testing.assert_allclose(np.asarray(y2), b * 2 + 1, rtol=1e-6)


def test_live_output_is_never_overwritten():
    f = xf.compile(lambda x: x + 1)
    a, b = _big(0), _big(1)
    y1 = f(xf.asarray(a))
    y2 = f(xf.asarray(b))
    assert y1.unsafe_buffer_pointer() != y2.unsafe_buffer_pointer()
    np.testing.assert_allclose(np.asarray(y1), a + 1, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(y2), b + 1, rtol=1e-6)


def test_numpy_view_keeps_buffer_out_of_the_pool():
    f = xf.compile(lambda x: x - 3)
    a, b = _big(0), _big(1)
    y1 = f(xf.asarray(a))
    view = np.asarray(y1)  # read-only view of the same memory
    del y1
    gc.collect()
    y2 = f(xf.asarray(b))
    np.testing.assert_allclose(view, a - 3, rtol=1e-6)  # unchanged
    assert view.ctypes.data != y2.unsafe_buffer_pointer()


def test_numpy_outputs_are_recycled_when_dropped():
    f = xf.compile(lambda x: x * 3)
    a, b = _big(0), _big(1)
    r1 = f(a)
    p1 = r1.ctypes.data
    del r1
    gc.collect()
    r2 = f(b)
    assert r2.ctypes.data == p1
    np.testing.assert_allclose(r2, b * 3, rtol=1e-6)
    view = r2[10:]  # a NumPy view keeps the buffer alive
    del r2
    gc.collect()
    r3 = f(a)
    np.testing.assert_allclose(view, (b * 3)[10:], rtol=1e-6)
    np.testing.assert_allclose(r3, a * 3, rtol=1e-6)


def test_torch_alias_of_an_output_is_not_overwritten():
    torch = pytest.importorskip("torch")
    f = xf.compile(lambda x: x * 5)
    a, b = _big(0), _big(1)
    y1 = f(xf.asarray(a))
    t = torch.from_dlpack(y1)
    del y1
    gc.collect()
    y2 = f(xf.asarray(b))
    np.testing.assert_allclose(t.numpy(), a * 5, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(y2), b * 5, rtol=1e-6)


def test_eager_ops_recycle_too():
    x = xf.asarray(_big(0))
    y = xf.exp(x)
    p = y.unsafe_buffer_pointer()
    del y
    gc.collect()
    z = xf.exp(x)
    assert z.unsafe_buffer_pointer() == p
    np.testing.assert_allclose(np.asarray(z), np.exp(np.asarray(x)), rtol=1e-6)


def test_imported_numpy_memory_is_never_pooled():
    a = _big(0)
    x = xf.asarray(a, copy=False)  # may alias a's memory
    del x
    gc.collect()
    assert runtime.POOL.bytes == 0


def test_float64_and_int64_stay_64_bit():
    x = np.array([1e300, -1e-300, np.pi], np.float64)
    i = np.array([2 ** 62, -(2 ** 62) + 1], np.int64)
    y = xf.asarray(x)
    assert y.dtype == xf.float64
    np.testing.assert_array_equal(np.asarray(y * 1.0), x)
    np.testing.assert_array_equal(np.asarray(xf.asarray(i) + 1), i + 1)
    assert xf.compile(lambda v: v * 2)(x).dtype == np.float64


def test_numpy_input_mutated_after_call_does_not_change_result():
    f = xf.compile(lambda x: x + 1)
    a = _big(0)
    out = f(a)  # NumPy memory may be aliased during the call only
    expected = a + 1
    a[:] = 0
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    x = xf.asarray(a)  # asarray copies by default
    a[:] = 7
    np.testing.assert_array_equal(np.asarray(x), np.zeros(N, np.float32))


def _misaligned(values: np.ndarray) -> np.ndarray:
    raw = np.empty(values.nbytes + 64, np.uint8)
    off = (16 - raw.ctypes.data) % 64 or 16  # 16 bytes past a 64-byte boundary
    out = raw[off:off + values.nbytes].view(values.dtype)
    out[...] = values
    assert out.ctypes.data % 64 != 0
    return out


# the programs below hold a reduction (times 0): elementwise-only programs import misaligned
# inputs in place instead of staging them (tests/test_bridged_memory.py)

def test_misaligned_numpy_inputs_are_staged_and_each_call_sees_its_data():
    f = xf.compile(lambda x: x * 2 + xf.max(xf.flip(x)) * 0)
    a = _misaligned(_big(0))
    r1 = f(a)
    np.testing.assert_allclose(r1, np.asarray(a) * 2, rtol=1e-6)
    staged = [b for lst in runtime._STAGING.values() for b in lst]
    assert staged, "the large misaligned input should have left a staging buffer"
    ptr = staged[-1].unsafe_buffer_pointer()
    a[...] = _big(1)  # new contents in the same caller memory
    r2 = f(a)
    np.testing.assert_allclose(r2, _big(1) * 2, rtol=1e-6)
    np.testing.assert_allclose(r1, _big(0) * 2, rtol=1e-6)  # earlier result untouched
    assert any(b.unsafe_buffer_pointer() == ptr
               for lst in runtime._STAGING.values() for b in lst), "staging buffer reused"
    x = xf.compile(lambda v: v + 1)(a)
    np.testing.assert_allclose(x, _big(1) + 1, rtol=1e-6)


def test_several_misaligned_inputs_of_one_shape_each_get_a_staging_buffer():
    runtime._STAGING.clear()
    runtime._staging_bytes = 0
    f = xf.compile(lambda x, y, z: x * 100 + y * 10 + z + xf.max(xf.flip(x)) * 0)
    arrs = [_misaligned(_big(i)) for i in range(3)]
    for step in range(3):
        for i, a in enumerate(arrs):
            a[...] = _big(10 * step + i)  # every call sees the caller's current data
        got = f(*arrs)
        want = _big(10 * step) * 100 + _big(10 * step + 1) * 10 + _big(10 * step + 2)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    key = next(iter(runtime._STAGING))
    assert len(runtime._STAGING[key]) == 3  # all three came back for the next call


@pytest.mark.parametrize("env, want, jax_first", [
    ({}, False, False), ({"XFRONT_CPU_ASYNC_DISPATCH": "1"}, True, False),
    ({"JAX_CPU_ENABLE_ASYNC_DISPATCH": "1"}, True, False),
    ({}, True, True),  # jax created its backends first: xfront leaves its mode alone
])
def test_cpu_dispatch_mode_is_chosen_when_xfront_creates_the_client(env, want, jax_first):
    # NOTE [Synchronous CPU dispatch] in lowering/runtime.py: synchronous unless asked otherwise
    import os
    import subprocess
    import sys

    code = (("import jax; jax.devices()\n" if jax_first else "")
            + "import xfront as xf, numpy as np\n"
            "from xfront.lowering import runtime\n"
            "y = xf.compile(lambda a: (a @ a).sum())(np.ones((64, 64), np.float32))\n"
            "assert float(y) == 64.0 ** 3, y\n"
            "print(runtime.cpu_dispatch_is_async())\n")
    e = {k: v for k, v in os.environ.items()
         if k not in ("XFRONT_CPU_ASYNC_DISPATCH", "JAX_CPU_ENABLE_ASYNC_DISPATCH")}
    e.update(env)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    e["PYTHONPATH"] = root + os.pathsep + e.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == str(want)


class _FakeGpu:
    platform = "gpu"

    def __init__(self, stream):
        self._stream = stream

    def get_stream_for_external_ready_events(self):
        if isinstance(self._stream, Exception):
            raise self._stream
        return self._stream


@pytest.mark.parametrize("stream", [RuntimeError("UNIMPLEMENTED"), None])
def test_external_ready_stream_fails_closed(stream):
    assert runtime.external_ready_stream(_FakeGpu(stream)) is runtime.UNKNOWN_STREAM
    assert runtime.external_ready_stream(_FakeGpu(7)) == 7
    assert runtime.external_ready_stream(xf.default_device().rt) is None  # CPU: no stream


def test_unknown_stream_makes_a_generic_producer_refuse():
    from xfront.bridges._dlpack import Adapter

    class Producer:
        def __dlpack_device__(self):
            return (2, 0)

    with pytest.raises(xf.XfrontError, match="cannot tell when"):
        Adapter().synchronize(Producer(), "asarray")
