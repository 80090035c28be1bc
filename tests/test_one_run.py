"""Every execution goes through the runtime's one run (NOTE [The one run] and NOTE [Per-call
pieces of the run] in xfront.lowering.runtime).

The runs are counted by wrapping ``runtime.runner`` and every execute of a compiled program
(``Executable.execute``) is recorded with whether it happened inside a run; each call path
(fast and general, small and large host inputs, staged and offset-variant inputs, donation,
eager ops, autodiff programs) must execute only inside a run, and give the right numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf
from xfront.lowering import runtime as rt


@pytest.fixture
def runs(monkeypatch):
    state = {"depth": 0, "runs": 0, "outside": []}
    real_runner = rt.runner

    def runner(*a, **k):
        run = real_runner(*a, **k)

        def counted(*args):
            state["depth"] += 1
            state["runs"] += 1
            try:
                return run(*args)
            finally:
                state["depth"] -= 1
        return counted

    real_execute = rt.Executable.execute

    def execute(self, bufs):
        if state["depth"] == 0:
            state["outside"].append(self.name)
        return real_execute(self, bufs)

    monkeypatch.setattr(rt, "runner", runner)
    monkeypatch.setattr(rt.Executable, "execute", execute)
    # small thresholds keep the large-input paths cheap: 4 KiB counts as large
    monkeypatch.setattr(rt, "STAGE_MIN_BYTES", 4096)
    return state


def _misaligned(n, dtype=np.float32, off=16):
    """A C-contiguous array whose data starts ``off`` bytes after a 64-byte boundary."""
    item = np.dtype(dtype).itemsize
    raw = np.empty(n * item + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + off
    out = raw[start:start + n * item].view(dtype)
    out[...] = np.arange(n, dtype=dtype) % 7 - 3
    assert out.ctypes.data % 64 == off
    return out


def _check(state, before):
    assert state["outside"] == [], f"executed outside the one run: {state['outside']}"
    assert state["runs"] > before, "the call did not go through a run"
    return state["runs"]


def test_xfront_numpy_and_eager_paths_run_once(runs):
    a = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    b = np.float32(0.25) + np.zeros(3, np.float32)
    f = xf.compile(lambda x, y: (x * y - 0.75, xf.sum(x, axis=0)))
    want = (a * b - np.float32(0.75), a.sum(0))
    n = 0
    for call in (lambda: f(xf.asarray(a), xf.asarray(b)),  # general, then the fast path
                 lambda: f(xf.asarray(a), xf.asarray(b)),
                 lambda: f(a, b), lambda: f(a, b),           # NumPy: general, small host run
                 lambda: f(xf.asarray(a), b),                # mixed frameworks: general
                 lambda: f._call((a, b), {}, "xfront")):
        got = call()
        n = _check(runs, n)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-6)
    # an eager op of a new signature, and an autodiff program
    x = xf.asarray(np.arange(7 * 3, dtype=np.float32).reshape(7, 3) / 10)
    np.testing.assert_allclose(np.asarray(xf.sin(x)), np.sin(np.asarray(x)), rtol=1e-6)
    n = _check(runs, n)
    g = xf.grad(lambda v: xf.sum(xf.sin(v) * 1.5))(x)
    np.testing.assert_allclose(np.asarray(g), 1.5 * np.cos(np.asarray(x)), rtol=1e-5)
    _check(runs, n)


@pytest.mark.parametrize("kind", ["staged", "offsets"])
def test_large_numpy_inputs(runs, kind):
    rt.release_memory()  # no staging buffers kept from earlier tests
    x = _misaligned(2048)  # 8 KiB: large under the fixture's threshold
    if kind == "staged":  # a reduction: staged (a copy into a kept staging buffer)
        f = xf.compile(lambda v: (xf.sum(v), v[::2] * 2.0))
        want = (x.sum(), x[::2] * 2)
    else:  # elementwise only: imported from below, run by an offsets variant
        f = xf.compile(lambda v: xf.tanh(v) * 0.5 + 1.0)
        want = (np.tanh(x) * np.float32(0.5) + 1,)
    n = 0
    for _ in range(2):  # the general path, then the NumPy fast path
        got = f(x)
        n = _check(runs, n)
        got = got if isinstance(got, tuple) else (got,)
        for g, w in zip(got, want):
            assert type(g) is np.ndarray
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    entry = next(iter(f._cache.values()))
    if kind == "staged":  # the run handed the staging buffer back after the call
        key = (entry.device.rt, x.shape, x.dtype)
        assert rt._STAGING.get(key), "the staged input was not handed back"
        assert not entry.variants
    else:
        assert list(entry.variants) == [(4,)]  # 16 bytes = 4 float32 below the data


def test_torch_paths(runs):
    torch = pytest.importorskip("torch")
    small = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    big = torch.linspace(-2, 2, 2048)  # torch's own allocation: aligned, imported directly
    f = xf.compile(lambda v: v * v + 1.0)
    n = 0
    for t in (small, small, big, big):  # general, then the small host run / the import path
        got = f(t)
        n = _check(runs, n)
        assert isinstance(got, torch.Tensor)
        torch.testing.assert_close(got, t * t + 1.0)
    got = f._call((big,), {}, None)
    _check(runs, n)
    torch.testing.assert_close(got, big * big + 1.0)


@pytest.mark.parametrize("route", ["fast", "general"])
def test_donation_is_marked_by_the_run(runs, route):
    f = xf.compile(lambda v, w: v * 2.0 + w, donate_argnums=0)
    w = xf.asarray(np.ones(3, np.float32))
    n = 0
    for i in range(2):  # the first call is general, the second fast (xfront arrays)
        v = xf.asarray(np.arange(3, dtype=np.float32) + i)
        out = f(v, w) if route == "fast" else f._call((v, w), {}, None)
        n = _check(runs, n)
        np.testing.assert_allclose(np.asarray(out), (np.arange(3) + i) * 2.0 + 1.0)
        with pytest.raises(xf.ArgumentError, match="donated to the compiled function"):
            v + 1.0
        np.testing.assert_allclose(np.asarray(w), 1.0)  # not donated: still live


def test_consumed_argument_is_named_by_the_run(runs):
    pytest.importorskip("torch")
    f = xf.compile(lambda v, w: v + w, donate_argnums=0)
    x = xf.asarray(np.ones(4, np.float32))
    y = xf.asarray(np.ones(4, np.float32))
    f(xf.asarray(np.ones(4, np.float32)), y)
    xf.to_torch(x)  # moves x's buffer to torch
    for call in (lambda: f(x, y), lambda: f._call((x, y), {}, "torch")):
        with pytest.raises(xf.ArgumentError, match=r"argument args\[0\] was moved to torch") as e:
            call()
        assert "to_torch" in str(e.value)
        np.testing.assert_allclose(np.asarray(y), 1.0)  # the failed call consumed nothing
    assert runs["outside"] == []
