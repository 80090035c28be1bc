"""Large bridged calls reuse memory safely: misaligned torch inputs are staged (NOTE [Staging
misaligned inputs]), results for torch/TF are written into recycled buffers that return to the
pool only when the framework has dropped them (NOTE [Results for other frameworks in recycled
memory]). Zero-copy and reuse are proven by data pointers; values are checked against NumPy."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import xfront as xf
from xfront.lowering import runtime

torch = pytest.importorskip("torch")

N = runtime.POOL_MIN_BYTES // 4 + 1024  # float32 elements: just above the pool's threshold


@pytest.fixture(autouse=True)
def _fresh():
    runtime.POOL.clear()
    xf.release_memory()
    yield
    runtime.POOL.clear()
    xf.release_memory()


def _misaligned(n: int, dtype=np.float32, seed=0) -> np.ndarray:
    raw = np.empty(n * np.dtype(dtype).itemsize + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + 16
    out = raw[start:start + n * np.dtype(dtype).itemsize].view(dtype)
    out[...] = np.random.default_rng(seed).standard_normal(n)
    return out


def _staged_pointers() -> set[int]:
    return {b.unsafe_buffer_pointer() for lst in runtime._STAGING.values() for b in lst}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_misaligned_torch_inputs_are_staged_and_right(dtype):
    n = runtime.STAGE_MIN_BYTES // np.dtype(dtype).itemsize + 16
    a, b = _misaligned(n, dtype, 0), _misaligned(n, dtype, 1)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    assert ta.data_ptr() % 64 != 0
    f = xf.compile(lambda x, y: x * y + xf.max(x))  # a reduction: staged, not sliced
    out = f(ta, tb)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), a * b + a.max(), rtol=1e-6, atol=1e-6)
    staged = _staged_pointers()
    assert len(staged) == 2, "both inputs came back to the staging buffers"
    assert not staged & {ta.data_ptr(), tb.data_ptr()}
    # the next call copies into the same (already mapped) memory; later writes to the torch
    # tensors never reach a finished call's result
    prev = out.clone()
    out2 = f(ta, tb)
    assert _staged_pointers() == staged
    ta.add_(1)
    np.testing.assert_array_equal(out2.numpy(), prev.numpy())
    np.testing.assert_allclose(f(ta, tb).numpy(), a * b + a.max(), rtol=1e-6,
                               atol=1e-6)  # a was written


def test_small_or_aligned_torch_inputs_are_not_staged():
    f = xf.compile(lambda x: x + 1)
    small = torch.from_numpy(_misaligned(16))
    own = torch.ones(runtime.STAGE_MIN_BYTES // 4 + 16)  # torch's allocations are aligned
    assert own.data_ptr() % 64 == 0
    np.testing.assert_array_equal(f(small).numpy(), small.numpy() + 1)
    np.testing.assert_array_equal(f(own).numpy(), own.numpy() + 1)
    assert not runtime._STAGING


def test_torch_results_recycle_only_after_the_tensor_dies():
    f = xf.compile(lambda x: x * 2 + 1)
    a = torch.from_numpy(np.random.default_rng(0).standard_normal(N).astype(np.float32))
    out1 = f(a)
    p1 = out1.data_ptr()
    want1 = a.numpy() * 2 + 1
    out2 = f(a + 1)  # out1 is alive: its memory must not be reused
    assert out2.data_ptr() != p1
    np.testing.assert_allclose(out1.numpy(), want1, rtol=1e-6, atol=1e-6)
    view = out2[5:]  # a view keeps out2's memory away from the pool
    p2 = out2.data_ptr()
    del out1, out2
    gc.collect()
    out3 = f(a - 1)
    assert out3.data_ptr() == p1, "the dropped result's memory should be reused"
    np.testing.assert_allclose(out3.numpy(), a.numpy() * 2 - 1, rtol=1e-6, atol=1e-6)
    out4 = f(a)
    assert out4.data_ptr() not in (p1, p2)
    np.testing.assert_allclose(view.numpy(), ((a + 1).numpy() * 2 + 1)[5:], rtol=1e-6, atol=1e-6)
    out3.fill_(0)  # torch results are writable, and writing them changes nothing else
    np.testing.assert_allclose(out4.numpy(), want1, rtol=1e-6, atol=1e-6)


def test_tf_results_use_recycled_memory_with_right_values():
    tf = pytest.importorskip("tensorflow")
    f = xf.compile(lambda x: x * 2 + 1)
    a = np.random.default_rng(0).standard_normal(N).astype(np.float32)
    ta = tf.constant(a)
    out1 = f(ta)
    out2 = f(ta * 2)
    np.testing.assert_allclose(out1.numpy(), a * 2 + 1, rtol=1e-6, atol=1e-6)
    puts = runtime.POOL.puts
    del out1
    gc.collect()
    assert runtime.POOL.puts == puts + 1, "the dropped TF result went back to the pool"
    hits = runtime.POOL.hits
    out3 = f(ta - 1)
    assert runtime.POOL.hits == hits + 1
    np.testing.assert_allclose(out3.numpy(), a * 2 - 1, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out2.numpy(), a * 4 + 1, rtol=1e-6, atol=1e-6)


def test_release_memory_returns_idle_pool_and_staging_memory():
    f = xf.compile(lambda x: x + xf.max(x))
    t = torch.from_numpy(_misaligned(N))  # staged input, pooled output
    out = f(t)
    assert xf.release_memory() >= t.nbytes  # the staging copy
    del out
    gc.collect()
    assert runtime.POOL.bytes >= t.nbytes
    assert xf.release_memory() >= t.nbytes
    assert runtime.POOL.bytes == 0 and not runtime._STAGING
    assert xf.release_memory() == 0


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)  # XLA may fuse to an FMA


def _spy_puts(monkeypatch) -> list[tuple[int, int]]:
    """(imported buffer's pointer, host pointer) of every host put."""
    seen: list[tuple[int, int]] = []
    real = runtime.put

    def put(x, dev, **kw):
        buf = real(x, dev, **kw)
        if x.size:
            seen.append((buf.unsafe_buffer_pointer(), x.ctypes.data))
        return buf

    monkeypatch.setattr(runtime, "put", put)
    return seen


@pytest.mark.parametrize("dtype,shape", [(np.float32, (1 << 18,)), (np.float64, (512, 260)),
                                         (np.int32, (4, 256, 260))])
@pytest.mark.parametrize("frm", ["numpy", "torch"])
def test_misaligned_inputs_of_elementwise_programs_are_not_copied(monkeypatch, dtype, shape,
                                                                  frm):
    n = int(np.prod(shape))
    a = _misaligned(n, dtype, 0).reshape(shape)
    b = _misaligned(n, dtype, 1).reshape(shape)
    c = np.ones(shape[-1], dtype)  # small, broadcast: taken as it is
    f = xf.compile(lambda x, y, z: (x * y + z) - x)
    seen = _spy_puts(monkeypatch)
    args = (a, b, c) if frm == "numpy" else tuple(torch.from_numpy(v) for v in (a, b, c))
    out = f(*args)
    out = out if frm == "numpy" else out.numpy()
    _close(out, (a * b + c) - a)
    assert not runtime._STAGING, "nothing was staged"
    below = {a.ctypes.data - a.ctypes.data % 64, b.ctypes.data - b.ctypes.data % 64}
    aliased = {p for p, host in seen if p == host}
    assert below <= aliased, "both inputs were imported in place, from the boundary below"
    # a later write to the input never reaches the finished result
    a += 1
    _close(out, (a - 1) * b + c - (a - 1))
    out2 = f(*args)
    out2 = out2 if frm == "numpy" else out2.numpy()
    _close(out2, (a * b + c) - a)


def test_reductions_keep_staging():
    a = _misaligned(runtime.STAGE_MIN_BYTES // 4 + 16)
    f = xf.compile(lambda x: xf.sum(x * 2))
    np.testing.assert_allclose(f(a), np.sum(a.astype(np.float64) * 2), rtol=1e-5)
    assert runtime._STAGING, "a reduction stages its misaligned input"
    (entry,) = f._fast_np.values()
    assert not entry[0].variants


def test_torch_fast_path_takes_only_tensors_it_can_import_as_they_are():
    f = xf.compile(lambda x, y: x * y + 1)
    # above the small-input size, which is copied instead (NOTE [Small host inputs])
    a, b = torch.arange(64 * 128.0).reshape(64, 128), torch.full((64, 128), 2.0)
    assert a.nbytes > runtime.SMALL_INPUT_BYTES
    np.testing.assert_array_equal(f(a, b).numpy(), a.numpy() * 2 + 1)
    assert len(f._fast_torch) == 1
    seen = []
    real = runtime.import_dlpack

    def spy(capsule, dev, stream=None, **kw):
        buf = real(capsule, dev, stream, **kw)
        seen.append(buf.unsafe_buffer_pointer())
        return buf

    runtime.import_dlpack = spy
    try:
        hits = f.cache_info().hits
        np.testing.assert_array_equal(f(a, b).numpy(), a.numpy() * 2 + 1)
        assert f.cache_info().hits == hits + 1
        assert seen == [a.data_ptr(), b.data_ptr()], "imported in place"
        # what the fast path declines still gives the right numbers (the general path)
        at = a.t().contiguous().t()  # column-major strides
        np.testing.assert_array_equal(f(at, b).numpy(), a.numpy() * 2 + 1)
        g = a.clone().requires_grad_(True)
        out = f(g, b)
        out.sum().backward()
        np.testing.assert_array_equal(g.grad.numpy(), np.full((64, 128), 2.0))
        c = torch.tensor([[1 + 2j, 3 - 1j]]).conj()
        fc = xf.compile(lambda x, y: x * y)
        assert fc(c, c).shape == (1, 2)
        np.testing.assert_allclose(fc(c, c).numpy(), c.resolve_conj().numpy() ** 2)
    finally:
        runtime.import_dlpack = real
    a.add_(1)  # a write after the call: the next call sees it
    np.testing.assert_array_equal(f(a, b).numpy(), a.numpy() * 2 + 1)
