"""Threads: a trace belongs to its thread, and caches build each entry once across threads.

Every test runs its threads under a watchdog (``_run``): a hang fails the test instead of
blocking the suite.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import xfront as xf
from xfront import _core, _eager

WATCHDOG_S = 120


def _run(n: int, target, *args) -> list:
    """Run ``target(i, *args)`` in ``n`` threads; return results, re-raise the first error."""
    results: list = [None] * n
    errors: list = []

    def body(i: int) -> None:
        try:
            results[i] = target(i, *args)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + WATCHDOG_S
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), f"threads still running after {WATCHDOG_S} s"
    if errors:
        raise errors[0]
    return results


def test_eager_ops_in_another_thread_never_see_a_trace():
    x = xf.asarray(np.linspace(0, 1, 5, dtype=np.float32))
    inside = threading.Event()
    release = threading.Event()
    leaked = []

    @xf.compile
    def f(a):
        inside.set()
        assert release.wait(WATCHDOG_S)
        return a * 2

    def other(i: int):
        assert inside.wait(WATCHDOG_S)
        try:
            outs = []
            for _ in range(50):
                y = xf.sin(x)
                if isinstance(y, _core.Tracer) or _core.current_builder() is not None:
                    leaked.append(y)
                outs.append(np.asarray(y))
            return outs
        finally:
            release.set()

    def tracer(i: int):
        return np.asarray(f(x))

    res = _run(2, lambda i: tracer(i) if i == 0 else other(i))
    assert leaked == []
    np.testing.assert_allclose(res[0], np.asarray(x) * 2)
    for y in res[1]:
        np.testing.assert_allclose(y, np.sin(np.asarray(x)), rtol=1e-6)
    # the compiled function's graph holds its own multiply only, none of the other thread's sins
    names = [e.prim.name for e in f.trace(x).graph.eqns]
    assert "mul" in names and "sin" not in names


def test_concurrent_traces_of_different_functions():
    n = 4
    barrier = threading.Barrier(n)
    fns = []
    for k in range(n):
        def make(k=k):
            def f(a):
                y = a + k
                barrier.wait(WATCHDOG_S)  # every thread is inside its own trace here
                return xf.sum(y * y)
            f.__name__ = f"f{k}"
            return xf.compile(f)
        fns.append(make())
    x = np.arange(6, dtype=np.float32)

    res = _run(n, lambda i: float(fns[i](x)))
    for k, r in enumerate(res):
        assert r == pytest.approx(float(np.sum((x + k) ** 2)))


def test_tracer_handed_to_another_thread_is_a_leak_error():
    box = []
    done = threading.Event()

    @xf.compile
    def f(a):
        box.append(a)
        assert done.wait(WATCHDOG_S)
        return a + 1

    def worker(i: int):
        if i == 0:
            return f(np.ones(3, np.float32))
        while not box:
            time.sleep(0.001)
        try:
            with pytest.raises(xf.XfrontError) as info:
                xf.sin(box[0])
            return str(info.value)
        finally:
            done.set()

    res = _run(2, worker)
    assert isinstance(res[1], str) and "xfront.sin" in res[1] and "leaked" in res[1]


def test_one_trace_and_one_compile_for_one_new_signature():
    n, calls = 8, 5
    traces = []
    barrier = threading.Barrier(n)

    @xf.compile
    def f(a, b):
        traces.append(threading.get_ident())
        time.sleep(0.05)  # keep the first trace open while the other threads arrive
        return xf.tanh(a) * b + 0.25

    a = xf.asarray(np.linspace(-1, 1, 11, dtype=np.float32))
    b = xf.asarray(np.full(11, 3.0, np.float32))
    before = _eager.STATS.compiles

    def worker(i: int):
        barrier.wait(WATCHDOG_S)
        return [np.asarray(f(a, b)) for _ in range(calls)]

    res = _run(n, worker)
    want = np.tanh(np.asarray(a)) * 3.0 + 0.25
    for r in res:
        for y in r:
            np.testing.assert_allclose(y, want, rtol=1e-6)
    assert len(traces) == 1
    info = f.cache_info()
    assert info.misses == 1 and info.compiles == 1 and info.entries == 1
    assert info.hits == n * calls - 1
    assert _eager.STATS.compiles - before == 1


def test_one_compile_for_one_new_eager_signature():
    n = 8
    x = xf.asarray(np.arange(3 * 7 * 5, dtype=np.float32).reshape(3, 7, 5) / 200)
    barrier = threading.Barrier(n)
    before = _eager.STATS.compiles

    def worker(i: int):
        barrier.wait(WATCHDOG_S)
        return np.asarray(xf.expm1(xf.atanh(x)))  # two signatures no other test uses

    res = _run(n, worker)
    for r in res:
        np.testing.assert_allclose(r, np.expm1(np.arctanh(np.asarray(x))), rtol=1e-5)
    assert _eager.STATS.compiles - before == 2


def test_one_compile_for_grad_and_vjp_across_threads():
    n = 8
    barrier = threading.Barrier(n)

    def loss(w, x):
        return xf.sum(xf.sin(w * x))

    g = xf.grad(loss)
    w = xf.asarray(np.linspace(0.5, 1.5, 9, dtype=np.float32))
    x = xf.asarray(np.linspace(-2, 2, 9, dtype=np.float32))

    def worker(i: int):
        barrier.wait(WATCHDOG_S)
        gw = np.asarray(g(w, x))
        out, pull = xf.vjp(loss, w, x)
        (dw, dx) = pull(xf.asarray(np.float32(1)))
        return gw, np.asarray(dw), np.asarray(dx), float(out)

    res = _run(n, worker)
    wn, xn = np.asarray(w), np.asarray(x)
    for gw, dw, dx, out in res:
        np.testing.assert_allclose(gw, np.cos(wn * xn) * xn, rtol=1e-5)
        np.testing.assert_allclose(dw, np.cos(wn * xn) * xn, rtol=1e-5)
        np.testing.assert_allclose(dx, np.cos(wn * xn) * wn, rtol=1e-5)
        assert out == pytest.approx(float(np.sum(np.sin(wn * xn))), rel=1e-5)
    info = g.cache_info()
    assert info.misses == 1 and info.compiles == 1 and info.hits == n - 1


def test_one_program_per_new_shape_of_a_polymorphic_gradient_plan(monkeypatch):
    """Threads that meet one new size of a polymorphic gradient plan (torch autograd through
    ``polymorphic=``) build its forward program once. The first build holds its compile until
    a second thread starts one too (or 2 s pass), so a cache that lets two threads build the
    same program fails here every time rather than by chance."""
    torch = pytest.importorskip("torch")
    n = 4
    cf = xf.compile(lambda x, w: xf.tanh(x @ w), polymorphic=("b, _",))
    w = torch.linspace(-1, 1, 12).reshape(4, 3).requires_grad_()
    cf(torch.ones(2, 4), w).sum().backward()  # the plan, and its programs at b = 2
    (plan,) = cf._grad_plans.values()
    assert plan.poly
    builds = []
    second = threading.Event()
    real = _eager.compile_lowered

    def compile_lowered(lowered, device):
        builds.append(threading.get_ident())
        if len(builds) == 1:
            second.wait(2.0)
        else:
            second.set()
        return real(lowered, device)

    monkeypatch.setattr(_eager, "compile_lowered", compile_lowered)
    x = torch.linspace(-2, 2, 20).reshape(5, 4)  # b = 5: new programs
    barrier = threading.Barrier(n)

    def worker(i: int):
        barrier.wait(WATCHDOG_S)
        xi = x.clone().requires_grad_()
        return cf(xi, w).detach().numpy()

    res = _run(n, worker)
    assert len(builds) == 1, f"{len(builds)} builds of the b = 5 forward program"
    want = np.tanh(x.numpy() @ w.detach().numpy())
    for r in res:
        np.testing.assert_allclose(r, want, rtol=1e-5, atol=1e-6)


def test_failed_build_lets_waiters_retry_and_raise_their_own_error():
    n = 4
    barrier = threading.Barrier(n)

    @xf.compile
    def bad(a):
        time.sleep(0.02)
        return a @ a  # 1-d @ 1-d of different lengths: a ShapeError at trace time

    def worker(i: int):
        barrier.wait(WATCHDOG_S)
        with pytest.raises(xf.ShapeError):
            bad(np.ones((2, 3), np.float32))
        return True

    assert all(_run(n, worker))
    assert bad.cache_info().entries == 0


def test_stress_eight_threads_mixed_work():
    """8 threads mix compiled calls (shared and per-thread functions), eager ops, grad, vjp and
    bridged torch/NumPy calls; every result is checked, and a watchdog bounds the run."""
    torch = pytest.importorskip("torch")
    n, rounds = 8, 4

    @xf.compile
    def shared(a, b):
        return xf.tanh(a) @ b

    shared_grad = xf.grad(lambda w, x: xf.sum(xf.sin(w * x)))
    before = shared.cache_info()

    def worker(i: int):
        rng = np.random.default_rng(i)
        own = xf.compile(lambda a, k=i: a * (k + 1) - 1)  # a function per thread
        for r in range(rounds):
            m = 2 + (r % 2)  # two shapes of the shared function
            a = rng.standard_normal((m, 4)).astype(np.float32)
            b = rng.standard_normal((4, 3)).astype(np.float32)
            np.testing.assert_allclose(np.asarray(shared(xf.asarray(a), xf.asarray(b))),
                                       np.tanh(a) @ b, rtol=1e-5, atol=1e-6)
            got = shared(a, b)  # NumPy in, NumPy out
            assert isinstance(got, np.ndarray)
            np.testing.assert_allclose(got, np.tanh(a) @ b, rtol=1e-5, atol=1e-6)
            t = shared(torch.from_numpy(a), torch.from_numpy(b))  # torch in, torch out
            np.testing.assert_allclose(t.numpy(), np.tanh(a) @ b, rtol=1e-5, atol=1e-6)
            x = xf.asarray(a)
            np.testing.assert_allclose(np.asarray(xf.exp(x) + x * 2), np.exp(a) + a * 2,
                                       rtol=1e-5)
            np.testing.assert_allclose(np.asarray(own(x)), a * (i + 1) - 1, rtol=1e-5, atol=1e-6)
            w = a[0]
            np.testing.assert_allclose(np.asarray(shared_grad(xf.asarray(w), xf.asarray(w))),
                                       np.cos(w * w) * w, rtol=1e-5, atol=1e-6)
            out, pull = xf.vjp(lambda v: xf.sum(v * v), xf.asarray(w))
            np.testing.assert_allclose(np.asarray(pull(xf.asarray(np.float32(1)))[0]), 2 * w,
                                       rtol=1e-6)
            moved = xf.to_torch(xf.asarray(w) * 1)  # move out, use in torch
            assert torch.allclose(moved, torch.from_numpy(w))
        return True

    assert all(_run(n, worker))
    info = shared.cache_info()
    # two array-argument signatures (NumPy and torch arguments reuse them): compiled once each
    assert info.compiles - before.compiles == 2
    assert info.hits + info.misses - before.hits - before.misses == n * rounds * 3
    assert shared_grad.cache_info().compiles == 1  # one signature: w is always f32[4]
    assert _core.current_builder() is None
