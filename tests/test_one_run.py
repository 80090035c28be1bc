"""Every execution goes through the runtime's one run (NOTE [The one run] and NOTE [Per-call
pieces of the run] in xfront.lowering.runtime).

The runs are counted by wrapping ``runtime.runner`` and every execute of a compiled program
(``Executable.execute``, and ``SpmdExecutable.execute`` of a sharded program) is recorded with
whether it happened inside a run; each call path (fast and general, small and large host
inputs, staged and offset-variant inputs, donation, eager ops, autodiff programs, sharded
programs on one device and, in a fresh process, partitioned over two) must execute only inside a
run, and give the right numbers. A failing execute leaves a sharded program as the same xfront
error as a one-device program.
"""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf
from tests._harness import run_with_cpu_devices
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

    def recorded(real_execute):
        def execute(self, bufs):
            if state["depth"] == 0:
                state["outside"].append(self.name)
            return real_execute(self, bufs)
        return execute

    monkeypatch.setattr(rt, "runner", runner)
    monkeypatch.setattr(rt.Executable, "execute", recorded(rt.Executable.execute))
    monkeypatch.setattr(rt.SpmdExecutable, "execute", recorded(rt.SpmdExecutable.execute))
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
        # keys: ((offsets..., placement shift), shift): 16 bytes = 4 float32 below the data
        assert [k[0][0] for k in entry.variants] == [4]


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


# --- sharded (SPMD) programs ------------------------------------------------------------------

def _sharded(fn, **kw):
    mesh = xf.Mesh(xf.devices("cpu")[:1], ("x",))  # a one-device mesh: this process has one
    return xf.compile(fn, in_shardings=xf.NamedSharding(mesh, xf.P("x")), **kw), mesh


def test_sharded_paths_run_once(runs):
    torch = pytest.importorskip("torch")
    c = np.linspace(-1, 1, 40, dtype=np.float32).reshape(20, 2)  # captured: a constant buffer
    f, mesh = _sharded(lambda v: {"y": v * 2.0 + c, "s": (xf.sum(v, axis=0),)})
    rows = xf.NamedSharding(mesh, xf.P("x"))
    a = np.arange(40, dtype=np.float32).reshape(20, 2) / 8
    want_y, want_s = a * 2 + c, a.sum(0)
    g = xf.device_put(a, rows)
    n = 0
    for call, kind in ((lambda: f(g), xf.ShardedArray), (lambda: f(g), xf.ShardedArray),
                       (lambda: f(a), np.ndarray), (lambda: f(a), np.ndarray),
                       (lambda: f(torch.from_numpy(a)), torch.Tensor),
                       (lambda: f(a, returns="xfront"), xf.ShardedArray)):
        got = call()
        n = _check(runs, n)
        assert set(got) == {"y", "s"} and isinstance(got["s"], tuple)
        for v, w in ((got["y"], want_y), (got["s"][0], want_s)):
            assert isinstance(v, kind), type(v)
            np.testing.assert_allclose(np.asarray(v), w, rtol=1e-6)
    (entry,) = f._cache.values()
    assert len(entry["consts"]) == 1 and f.compiles == 1
    assert sorted(entry["runs"]) == ["numpy", "torch", "xfront"]  # one run per framework
    # a gradient program, and a one-device program and an eager op on a global array
    h, _ = _sharded(xf.grad(lambda v: xf.sum(xf.sin(v) * c)))
    np.testing.assert_allclose(h(a), np.cos(a) * c, rtol=1e-5)
    n = _check(runs, n)
    np.testing.assert_allclose(np.asarray(xf.compile(lambda v: v - 1.0)(g)), a - 1, rtol=1e-6)
    n = _check(runs, n)
    np.testing.assert_allclose(np.asarray(xf.exp(g)), np.exp(a), rtol=1e-6)
    _check(runs, n)


class _FailingExecute:
    """A stand-in for the runtime's loaded executable whose execute raises ``error``."""

    def __init__(self, error):
        self.error = error

    def execute_sharded(self, bufs):
        raise self.error


# the runtime's own wording of each kind of failure (a jaxlib runtime error is a RuntimeError)
_FAILURES = [
    (MemoryError, "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 4096 bytes."),
    (TypeError, "INVALID_ARGUMENT: Array has been deleted with shape=float32[4]."),
    (RuntimeError, "std::bad_cast"),
    (RuntimeError, "INTERNAL: the collective timed out"),
]


@pytest.mark.parametrize("builtin,text", _FAILURES)
def test_sharded_errors_translated_like_one_device(runs, monkeypatch, builtin, text):
    def prog(v):
        return v * 3.0 - 1.0
    one = xf.compile(prog)
    spmd, mesh = _sharded(prog)
    x = np.arange(4, dtype=np.float32)
    one(x), spmd(x)  # compiled; now make each execute fail as the runtime would
    (entry,) = one._cache.values()
    (sentry,) = spmd._cache.values()
    monkeypatch.setattr(entry.exe.exe, "exe", _FailingExecute(RuntimeError(text)))
    monkeypatch.setattr(sentry["exe"], "exe", _FailingExecute(RuntimeError(text)))
    msgs = []
    for call in (lambda: one(xf.asarray(x)), lambda: spmd(x),
                 lambda: spmd(xf.device_put(x, xf.NamedSharding(mesh, xf.P("x"))))):
        with pytest.raises(xf.XfrontError) as e:
            call()
        assert isinstance(e.value, builtin), type(e.value).__mro__
        msg = str(e.value)
        for internal in ("std::", "jaxlib", "nanobind", "RuntimeError"):
            assert internal not in msg, msg
        assert "`prog`" in msg, msg
        msgs.append((type(e.value), msg.split("\n  at ")[0]))  # without the caller's line
    assert msgs[0] == msgs[1] == msgs[2], msgs
    assert runs["outside"] == []


_TWO_DEVICES = """
import numpy as np
import xfront as xf
from xfront.lowering import runtime as rt
state = {"depth": 0, "runs": 0, "outside": []}
real_runner, real_execute = rt.runner, rt.SpmdExecutable.execute
def runner(*a, **k):
    run = real_runner(*a, **k)
    def counted(*args):
        state["depth"] += 1; state["runs"] += 1
        try:
            return run(*args)
        finally:
            state["depth"] -= 1
    return counted
def execute(self, bufs):
    if state["depth"] == 0:
        state["outside"].append(self.name)
    return real_execute(self, bufs)
rt.runner, rt.SpmdExecutable.execute = runner, execute
devs = xf.devices("cpu")
assert len(devs) == 2, devs
mesh = xf.Mesh(devs, ("x",))
rows, repl = xf.NamedSharding(mesh, xf.P("x")), xf.NamedSharding(mesh, xf.P())
c = np.linspace(0, 1, 32, dtype=np.float32).reshape(16, 2)
def body(v):  # a cross-device reduction and a constant
    return xf.sum(v * c, axis=0), v + 1.0
f = xf.compile(body, in_shardings=rows, out_shardings=(repl, rows))
a = np.arange(32, dtype=np.float32).reshape(16, 2)
g = xf.device_put(a, rows)
for call in (lambda: f(a), lambda: f(g), lambda: f(g)):
    before = state["runs"]
    s, y = call()
    assert state["runs"] == before + 1 and state["outside"] == [], state
    np.testing.assert_allclose(np.asarray(s), (a * c).sum(0), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(y), a + 1, rtol=1e-6)
assert isinstance(y, xf.ShardedArray) and len(y.addressable_shards) == 2
sm = xf.compile(xf.shard_map(lambda v: xf.psum(v, "x"), mesh=mesh, in_specs=xf.P("x"),
                             out_specs=xf.P()), in_shardings=rows, out_shardings=repl)
np.testing.assert_allclose(sm(a), a[:8] + a[8:], rtol=1e-6)
before = state["runs"]
try:  # a wrong layout is refused before the run: nothing executes
    f(xf.device_put(a, repl))
    raise AssertionError("no error")
except xf.ArgumentError as e:
    assert "argument 0" in str(e) and "P('x')" in str(e), e
assert state["runs"] == before and state["outside"] == [], state
# an equal sharding made anew (not the compiled sharding object) takes the equivalence test
rows2 = xf.NamedSharding(mesh, xf.P("x"))
s, y = f(xf.device_put(a, rows2))
np.testing.assert_allclose(np.asarray(y), a + 1, rtol=1e-6)
(entry,) = f._cache.values()
exe = entry["exe"]
assert exe.mismatched([xf.device_put(a, rows2)._gbuf], 1) is None
# the adapter's own last guard refuses a wrong layout (executing it would crash the process)
wrong = [entry["consts"][0], xf.device_put(a, repl)._gbuf]
assert exe.mismatched(wrong) == 1
try:
    exe.execute(wrong)
    raise AssertionError("no error")
except xf.ArgumentError as e:
    assert "`body`" in str(e) and "sharding" in str(e), e
print("RUNS", state["runs"])
"""


def test_partitioned_program_runs_once():
    """Two CPU devices need a fresh process (the device count is fixed when the runtime
    starts); the counting wrappers are installed there the same way as in ``runs``."""
    p = run_with_cpu_devices(_TWO_DEVICES, 2)
    assert p.returncode == 0 and "RUNS 5" in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
