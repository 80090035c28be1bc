"""The tiny-call dispatch shortcuts (NOTE [The call path] in xfront/_compile.py, NOTE [The one
run] in xfront.lowering.runtime) change speed, never results or errors.

Covered here: the last-signature hits of the xfront-array and NumPy fast paths (found by
identity, falling back to the tables on any other signature), the runs with the execute (and
a single xfront-array result) inlined, the host runs' loads, and the one-pass eager apply.
"""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf
from tests._harness import run_with_cpu_devices
from xfront.lowering import runtime as rt


def _fn(x, y):
    return x * y + 1


@pytest.mark.filterwarnings("ignore::xfront.RecompileWarning")
def test_xfront_array_signatures_alternate_and_loop_on_outputs():
    f = xf.compile(_fn)
    cases = [(np.arange(8, dtype=np.float32), np.full(8, 0.5, np.float32)),
             (np.arange(3, dtype=np.float32), np.full(3, 2, np.float32)),
             (np.arange(8, dtype=np.int32), np.full(8, 3, np.int32)),
             (np.zeros((0, 2), np.float32), np.ones((0, 2), np.float32)),
             (np.float32(2.5), np.float32(-1))]
    arrays = [(xf.asarray(a), xf.asarray(b)) for a, b in cases]
    for _ in range(3):  # alternating signatures: each call finds its own entry
        for (a, b), (xa, xb) in zip(cases, arrays):
            got = f(xa, xb)
            assert type(got) is xf.Array and got.dtype == xf.asarray(a).dtype
            np.testing.assert_array_equal(np.asarray(got), a * b + 1)
    hits = f.cache_info().hits
    x, y = arrays[0]
    want = np.asarray(x)
    for _ in range(4):  # a loop on its own outputs: the output's aval object each time
        x = f(x, y)
        want = want * np.float32(0.5) + 1
        np.testing.assert_allclose(np.asarray(x), want, rtol=1e-6)
    assert f.cache_info().hits == hits + 4
    f.clear_cache()  # no stale hit after the tables are cleared
    misses = f.cache_info().misses
    np.testing.assert_array_equal(np.asarray(f(*arrays[1])), cases[1][0] * cases[1][1] + 1)
    assert f.cache_info().misses == misses + 1


@pytest.mark.filterwarnings("ignore::xfront.RecompileWarning")
def test_numpy_signatures_alternate_by_dtype_and_shape():
    f = xf.compile(_fn)
    a = np.arange(6, dtype=np.float32)
    cases = [(a, a[::-1].copy()), (a.astype(np.float64), a.astype(np.float64)),
             (a.astype(np.int32), a.astype(np.int32)), (a.reshape(2, 3), a.reshape(2, 3)),
             (a.reshape(3, 2), a.reshape(3, 2)), (a, np.float32(2)), (a, 2.0),
             (a.astype(">f4").astype(np.float32), a)]
    for _ in range(3):
        for x, y in cases:
            got = f(x, y)
            want = np.asarray(x) * y + 1
            assert type(got) is np.ndarray and got.dtype == np.result_type(x, y) \
                or (isinstance(y, float) and got.dtype == x.dtype), (x.dtype, type(y))
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(xf.DTypeError, match="dtype >f4 is not supported"):
        f(a, a.astype(">f4"))  # same shape as a warm signature, a dtype the general refuses


def test_inlined_runs_translate_execute_failures(monkeypatch):
    """A failing execute leaves every inlined run (one xfront-array result, several results,
    the small host run) as the same xfront error, and the program keeps working after."""

    class Failing:
        def execute_sharded(self, bufs):
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate "
                               "4096 bytes.")

    def one(x, y):
        return x * y - 1

    def two(x, y):
        return x + y, x * y

    a, b = np.ones(4, np.float32), np.full(4, 3, np.float32)
    for fn, args in [(one, (xf.asarray(a), xf.asarray(b))), (two, (xf.asarray(a), xf.asarray(b))),
                     (one, (a, b))]:
        f = xf.compile(fn)
        want = f(*args)
        (entry,) = f._cache.values()
        real = entry.exe.exe.exe
        monkeypatch.setattr(entry.exe.exe, "exe", Failing())
        with pytest.raises(xf.XfrontError) as e:
            f(*args)
        assert isinstance(e.value, MemoryError), type(e.value).__mro__
        assert f"`{fn.__name__}`" in str(e.value) and "RuntimeError" not in str(e.value)
        monkeypatch.setattr(entry.exe.exe, "exe", real)
        for g, w in zip(np.atleast_1d(f(*args)) if fn is one else f(*args),
                        np.atleast_1d(want) if fn is one else want):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_a_wrapped_execute_is_not_inlined(monkeypatch):
    seen = []
    real = rt.Executable.execute

    def execute(self, bufs):
        seen.append(self.name)
        return real(self, bufs)

    monkeypatch.setattr(rt.Executable, "execute", execute)
    f = xf.compile(_fn)
    x = xf.asarray(np.arange(4, dtype=np.float32))
    for _ in range(3):
        np.testing.assert_array_equal(np.asarray(f(x, x)), np.arange(4) ** 2 + 1)
    assert len(seen) == 3  # the wrapper ran on every call, the fast ones included


def test_eager_ops_mix_arrays_and_host_values():
    x = xf.asarray(np.arange(5, dtype=np.float32))
    h = np.linspace(0, 1, 5, dtype=np.float32)
    for got, want in [(xf.multiply(x, x), np.arange(5) ** 2),
                      (xf.multiply(x, h), np.arange(5) * h),
                      (xf.multiply(h, x), h * np.arange(5)),
                      (xf.add(x, 2), np.arange(5) + 2),
                      (xf.add(h, h), h + h)]:
        assert type(got) is xf.Array and got.dtype == xf.float32
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)
    h[:] = 9  # host memory written after the op: the result keeps its values
    np.testing.assert_allclose(np.asarray(got), np.linspace(0, 2, 5), rtol=1e-6)


_TWO_DEVICES = """
import numpy as np
import xfront as xf
d0, d1 = xf.devices("cpu")
f = xf.compile(lambda x, y: x * y + 1)
a = np.arange(4, dtype=np.float32)
x0 = xf.asarray(a, device=d0)
x1 = x0.to_device(d1)
for x in (x0, x1, x0, x1):  # one signature on two devices: each call on its own device
    r = f(x, x)
    assert r.device == x.device, (r.device, x.device)
    np.testing.assert_array_equal(np.asarray(r), a * a + 1)
    e = xf.multiply(x, x)
    assert e.device == x.device
try:
    xf.multiply(x0, x1)
except xf.DeviceError as err:
    assert "different devices" in str(err), err
else:
    raise AssertionError("no DeviceError")
print("OK")
"""


def test_two_devices_never_share_a_hit():
    """Two CPU devices need a fresh process (the device count is fixed when the runtime
    starts)."""
    p = run_with_cpu_devices(_TWO_DEVICES, 2)
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
