"""Large bridged calls reuse memory safely: misaligned torch inputs are staged (NOTE [Staging
misaligned inputs]), results for torch/TF are written into recycled buffers that return to the
pool only when the framework has dropped them (NOTE [Results for other frameworks in recycled
memory]). Zero-copy and reuse are proven by data pointers; values are checked against NumPy."""

from __future__ import annotations

import gc
import sys

import numpy as np
import pytest

import xfront as xf
from xfront import _offsets
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
    runtime._short_checked[0] = 0.0  # no memory-pressure answer cached across tests


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
    # a reduction of a computed value: staged, not sliced
    f = xf.compile(lambda x, y: x * y + xf.max(x * 2))
    out = f(ta, tb)
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), a * b + 2 * a.max(), rtol=1e-6, atol=1e-6)
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
    np.testing.assert_allclose(f(ta, tb).numpy(), a * b + 2 * a.max(), rtol=1e-6,
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
    # torch's own (aligned) memory, as ``a + 1`` below: one route, so one result shape in the
    # pool (misaligned inputs write their results into longer buffers: NOTE [Placing the
    # results of misaligned elementwise programs] in xfront/_offsets.py)
    a = torch.from_numpy(np.random.default_rng(0).standard_normal(N).astype(np.float32)).clone()
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
    f = xf.compile(lambda x: x + xf.max(x * 2))
    t = torch.from_numpy(_misaligned(N))  # staged input, pooled output
    out = f(t)
    assert xf.release_memory() >= t.nbytes  # the staging copy
    del out
    gc.collect()
    assert runtime.POOL.bytes >= t.nbytes
    assert xf.release_memory() >= t.nbytes
    assert runtime.POOL.bytes == 0 and not runtime._STAGING
    assert xf.release_memory() == 0


def _small_staging_buffers() -> list:
    return [b for sets in list(runtime._SMALL_RUNS) for bufs, _ in list(sets.free) for b in bufs]


@pytest.mark.parametrize("route", ["numpy", "torch"])
def test_release_memory_frees_small_staging_sets(route):
    import weakref
    f = xf.compile(lambda x, y: x * y + 1)
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    b = np.linspace(-1, 1, 4)
    args = (a, b) if route == "numpy" else (torch.from_numpy(a), torch.from_numpy(b))
    for _ in range(2):  # the second call of a signature copies into a staging set it keeps
        out = f(*args)
    set_bytes = a.nbytes + b.nbytes
    assert runtime.small_staging_bytes() >= set_bytes
    dead = [weakref.ref(x) for x in _small_staging_buffers()]
    assert len(dead) >= 2
    assert xf.release_memory() >= set_bytes
    assert runtime.small_staging_bytes() == 0 and not _small_staging_buffers()
    gc.collect()
    assert all(w() is None for w in dead), "a dropped staging buffer is still alive"
    # the next call makes a new set and is still right, with new values
    args2 = (a - 5, b * 3)
    if route == "torch":
        args2 = tuple(torch.from_numpy(v) for v in args2)
    out2 = f(*args2)
    np.testing.assert_allclose(np.asarray(out), a * b + 1, rtol=1e-14)  # (an FMA may round once)
    np.testing.assert_allclose(np.asarray(out2), (a - 5) * (b * 3) + 1, rtol=1e-14)
    assert runtime.small_staging_bytes() >= set_bytes
    assert xf.release_memory() >= set_bytes


def test_release_memory_under_concurrent_small_calls():
    import threading
    f = xf.compile(lambda x, y: x * y + 1)
    f(np.ones(64, np.float32), np.ones(64, np.float32))  # signature seen: later calls stage
    errors: list = []
    stop = threading.Event()

    def caller(k: int) -> None:
        x = np.arange(64, dtype=np.float32) + k
        try:
            for i in range(300):
                y = np.full(64, i, np.float32)
                got = f(x, y)
                if not np.array_equal(got, x * y + 1):
                    errors.append((k, i))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def releaser() -> None:
        while not stop.is_set():
            xf.release_memory()

    rel = threading.Thread(target=releaser)
    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    rel.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    rel.join()
    assert not errors
    assert len(_small_staging_buffers()) <= 2 * runtime._SMALL_SETS_KEPT
    xf.release_memory()
    assert runtime.small_staging_bytes() == 0


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


def _in_page(n: int, dtype, at: int, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` elements starting ``at`` bytes into a page, and the page-aligned memory around them
    with every byte outside the data set to 0xff (NaN for floats, -1 for integers)."""
    isz = np.dtype(dtype).itemsize
    raw = np.full(n * isz + 3 * 4096, 0xFF, np.uint8)
    start = (-raw.ctypes.data) % 4096 + at
    out = raw[start:start + n * isz].view(dtype)
    rng = np.random.default_rng(seed)
    out[...] = rng.standard_normal(n) * 4 if np.dtype(dtype).kind == "f" else \
        rng.integers(-50, 50, n)
    return out, raw


@pytest.mark.parametrize("dtype,shape,at", [
    (np.float32, (1 << 18,), 16),           # NumPy's large allocations: 16 bytes past a page
    (np.float32, (1 << 18,), 4000),         # rows start in the data's page, end in the next
    (np.float64, (513, 259), 1000),         # partial first and last rows, 2-D
    (np.int64, (3, 1 << 16), 48),
])
@pytest.mark.parametrize("frm", ["numpy", "torch"])
def test_whole_reductions_of_misaligned_inputs_are_not_copied(monkeypatch, dtype, shape, at,
                                                              frm):
    n = int(np.prod(shape))
    x, raw = _in_page(n, dtype, at)
    x = x.reshape(shape)
    if np.dtype(dtype).kind == "f":
        want = [np.sum(x), np.mean(x), np.max(x), np.min(x), x * 2]
        f = xf.compile(lambda v: (xf.sum(v), xf.mean(v), xf.max(v), xf.min(v), v * 2))
    else:
        want = [np.sum(x), np.max(x), np.min(x), x * 2]
        f = xf.compile(lambda v: (xf.sum(v), xf.max(v), xf.min(v), v * 2))
    seen = _spy_puts(monkeypatch)
    arg = x if frm == "numpy" else torch.from_numpy(x)
    for _ in range(2):  # the second call takes the fast path where there is one
        got = [np.asarray(g) if frm == "numpy" else g.numpy() for g in f(arg)]
        for g, w in zip(got, want):
            assert g.dtype == w.dtype and g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-4)
            assert np.all(np.isfinite(g)), "a NaN of the bytes around the data leaked in"
    assert not runtime._STAGING, "nothing was staged"
    below = x.ctypes.data - x.ctypes.data % _offsets.ROW_BYTES  # the row boundary below
    assert below in {p for p, host in seen if p == host}, "imported in place, as rows"
    assert raw[raw.size - 4096:].min() == 0xFF, "nothing outside the data was written"


def test_whole_reductions_of_misaligned_inputs_at_a_page_end(monkeypatch):
    # the data ends at a page end: the rows end exactly there (nothing past the page is read)
    n = (1 << 18) + 7
    isz = 4
    x, raw = _in_page(n, np.float32, 4096 - (n * isz) % 4096)
    assert (x.ctypes.data + x.nbytes) % 4096 == 0 and x.ctypes.data % 64
    f = xf.compile(lambda v: xf.sum(v))
    np.testing.assert_allclose(f(x), np.sum(x.astype(np.float64)), rtol=1e-5)
    entry = next(iter(f._fast_np.values()))[0]
    ((h, length), _), _ = list(entry.variants)[0]  # ((offsets..., placement), placement)
    assert x.ctypes.data - h * isz + length * isz == x.ctypes.data + x.nbytes
    assert not runtime._STAGING


@pytest.mark.parametrize("where", [0, 5, -1])
def test_whole_reductions_of_misaligned_inputs_see_nans_in_the_data(where):
    x, _ = _in_page(1 << 18, np.float32, 16)
    x[:] = 1.0
    f = xf.compile(lambda v: (xf.sum(v), xf.max(v)))
    assert [float(g) for g in f(x)] == [float(x.size), 1.0]
    x[where] = np.nan  # in the first row, the second, the last
    assert all(np.isnan(g) for g in f(x))
    assert not runtime._STAGING


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(float(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


def test_pool_cap_and_memory_pressure_return_idle_memory(monkeypatch):
    n = runtime.POOL_MIN_BYTES // 4 + 1024
    nbytes = n * 4
    f = xf.compile(lambda x: x * 2 + 1)
    x = xf.asarray(np.ones(n, np.float32))
    monkeypatch.setattr(runtime, "POOL_MAX_BYTES", nbytes + nbytes // 2)  # room for one buffer
    monkeypatch.setattr(runtime, "POOL_MIN_FREE_BYTES", 0)  # the cap alone, whatever the host
    runtime._short_checked[0] = 0.0
    outs = [f(x) for _ in range(3)]
    np.testing.assert_array_equal(np.asarray(outs[0]), np.full(n, 3, np.float32))
    del outs
    gc.collect()
    assert runtime.POOL.bytes == nbytes, "the cap keeps one idle buffer, the others are freed"
    # memory runs short: the next buffer offered to the pool drops every idle one instead
    monkeypatch.setattr(runtime, "POOL_MAX_BYTES", 4 * nbytes)
    monkeypatch.setattr(runtime, "POOL_MIN_FREE_BYTES", 1 << 62)
    runtime._short_checked[0] = 0.0
    out = f(x)  # takes the pooled buffer
    out2 = f(x)
    before = _rss_mib() if sys.platform.startswith("linux") else None
    del out, out2
    gc.collect()
    assert runtime.POOL.bytes == 0 and not runtime._STAGING
    if before is not None:  # the memory went back to the system, not only out of the pool
        # (at least one buffer's worth: alone this drops both, but after the rest of the suite
        # the allocator may keep one of the two blocks mapped for reuse)
        assert _rss_mib() < before - 0.75 * nbytes / 2**20
    # and a misaligned input's staging buffer is not kept either
    a = _misaligned(runtime.STAGE_MIN_BYTES // 4 + 16)
    g = xf.compile(lambda v: v + xf.max(v * 2))  # a staged input
    _close(g(a), a + 2 * a.max())
    assert not runtime._STAGING
    monkeypatch.setattr(runtime, "POOL_MIN_FREE_BYTES", 0)
    runtime._short_checked[0] = 0.0
    _close(g(a), a + 2 * a.max())
    assert runtime._STAGING, "with memory to spare the staging buffer is kept"


def test_available_memory_is_a_plausible_byte_count():
    avail = runtime.available_memory()
    if not sys.platform.startswith("linux"):
        pytest.skip("read from /proc on Linux")
    assert avail is not None and 0 < avail < 1 << 50


def test_whole_boolean_reductions_of_misaligned_inputs_ignore_the_bytes_around():
    n = runtime.STAGE_MIN_BYTES + 77
    x, raw = _in_page(n, np.bool_, 40)  # 0xff bytes all around the data
    x[:] = False
    f = xf.compile(lambda v: (xf.any(v), xf.all(v)))
    assert [bool(g) for g in f(x)] == [False, False]
    x[:] = True
    assert [bool(g) for g in f(x)] == [True, True]
    x[-1] = False
    assert [bool(g) for g in f(x)] == [True, False]
    assert not runtime._STAGING


def _buffer_start(r: np.ndarray) -> int:
    import ctypes
    m = r
    while isinstance(m, np.ndarray):
        m = m.base
    return ctypes.addressof(m)


@pytest.mark.parametrize("frm,at", [("numpy", 16), ("torch", 16), ("numpy", 2000)])
def test_results_of_misaligned_elementwise_programs_are_placed(frm, at):
    # NOTE [Placing the results of misaligned elementwise programs] in xfront/_offsets.py
    shape = (runtime.POOL_MIN_BYTES // 4 // 4096 + 1, 4096)  # float32 results the pool takes
    n = shape[0] * shape[1]
    a, _ra = _in_page(n, np.float32, at, 0)
    b, _rb = _in_page(n, np.float32, at, 1)
    a, b = a.reshape(shape), b.reshape(shape)
    f = xf.compile(lambda x, y: (x * y + 1, x - y))
    args = (a, b) if frm == "numpy" else (torch.from_numpy(a), torch.from_numpy(b))
    for rnd in range(2):  # the second call writes into the first one's recycled buffers
        hits = runtime.POOL.hits
        p, q = f(*args)
        assert type(p) is type(args[0]) and tuple(p.shape) == shape
        p, q = (p, q) if frm == "numpy" else (p.numpy(), q.numpy())
        _close(p, a * b + 1)
        np.testing.assert_array_equal(q, a - b)
        assert not runtime._STAGING, "nothing was staged"
        if frm == "numpy":
            for r in (p, q):
                start = _buffer_start(r)  # the runtime buffer the result views
                assert (r.ctypes.data - start) % 1024 == 0 and r.ctypes.data > start, \
                    "the result starts whole rows into its buffer"
                if start % 4096 == _offsets.OUT_IN_PAGE:  # a page-mapped output, as assumed:
                    # the inputs' loads run ahead of the result's stores (mod 4096)
                    assert 256 <= (a.ctypes.data - r.ctypes.data) % 4096 <= 1280
            del r
        if rnd:
            assert runtime.POOL.hits == hits + 1
        del p, q
        gc.collect()
    assert runtime.POOL.bytes >= 2 * a.nbytes, "both results returned to the pool"
    k = (at - _offsets.OUT_IN_PAGE - _offsets.LEAD) % 4096 // 1024  # leading 1 KiB rows
    assert {key[1] for key, bufs in runtime.POOL._free.items() if bufs} == {(n // 256 + k, 256)}
    # a live result (or a view of it) keeps its memory: the next call writes elsewhere
    held = f(*args)[0][3:]
    held_at = held.data_ptr() if frm == "torch" else held.ctypes.data
    other = f(*args)[0]
    assert (other.data_ptr() if frm == "torch" else other.ctypes.data) != held_at - 3 * 4 * 4096
    _close(np.asarray(held), (a * b + 1)[3:])
    del held, other
    # results that are xfront arrays are not views: the plain variant, right values
    g = xf.compile(lambda x, y: x * y + 1, returns="xfront")
    r = g(*args)
    assert isinstance(r, xf.Array)
    _close(np.asarray(r), a * b + 1)


def test_unplaceable_results_of_misaligned_programs_stay_right():
    # a size with no row width of 256 B to 1 KiB (a multiple of 64 B): the plain variant
    shape = (1025, 4097)  # 5^2 * 17 * 41 * 241 elements of 8 bytes, above the pool threshold
    n = shape[0] * shape[1]
    assert n * 8 >= runtime.POOL_MIN_BYTES
    a, _ra = _in_page(n, np.float64, 16, 0)
    a = a.reshape(shape)
    f = xf.compile(lambda x: x * 2 + 1)
    for _ in range(2):
        out = f(torch.from_numpy(a)).numpy()
        np.testing.assert_array_equal(out, a * 2 + 1)
        assert out.ctypes.data % 64 == 0
        del out
        gc.collect()
    assert not runtime._STAGING


def test_placement_off_gives_the_same_values(monkeypatch):
    n = runtime.POOL_MIN_BYTES // 4 + 4096
    a, _ra = _in_page(n, np.float32, 16)
    f = xf.compile(lambda x: xf.tanh(x) * 0.5 + xf.sigmoid(x))
    placed = f(a)
    monkeypatch.setattr(_offsets, "PLACE", False)
    plain = f(a)
    np.testing.assert_array_equal(placed, plain)
    assert placed.ctypes.data - _buffer_start(placed) == 3 * 1024  # 16 B into a page: 3 rows
    assert plain.ctypes.data == _buffer_start(plain)
    # the placed variant is one fused loop (slice, body and pad), nothing copied
    entry = next(iter(f._cache.values()))
    (prog, _, rows), = [v for k, v in entry.variants.items() if k[1]]
    assert rows == [3]
    hlo = prog.exe.hlo_text()
    body = hlo[hlo.index("ENTRY"):]
    assert body.count(" fusion(") == 1 and " copy(" not in body and "pad" in body


def test_unplaced_results_share_one_variant_across_page_offsets():
    # results for xfront arrays are never placed: inputs at page offsets that would pick
    # different placements all run the one plain variant (traced and lowered once)
    n = runtime.STAGE_MIN_BYTES // 4 + 256
    g = xf.compile(lambda x: x * 2 + 1, returns="xfront")
    for at in (16, 1040, 2064, 3088):
        a, _raw = _in_page(n, np.float32, at)
        got = g(a)
        assert isinstance(got, xf.Array)
        np.testing.assert_array_equal(np.asarray(got), a * 2 + 1)
    entry = next(iter(g._cache.values()))
    assert list(entry.variants) == [((4, 0), 0)]  # 16 bytes = 4 float32 below the data
