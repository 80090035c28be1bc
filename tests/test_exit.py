"""Deterministic shutdown: short processes that exit right after a bridged torch or TF call
exit cleanly (no abort, no hang), in both CPU dispatch modes (NOTE [Borrowed memory at
interpreter exit] in xfront/bridges/_dlpack.py).

Each process imports torch or TensorFlow, which costs seconds of CPU, so the default run is
small (``XFRONT_EXIT_RUNS`` processes for torch with the default dispatch, default 2, half as
many for the other cases); set it to e.g. 100 for a long run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

RUNS = int(os.environ.get("XFRONT_EXIT_RUNS", "2"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TORCH = """
import torch, xfront as xf
f = xf.compile(lambda a, b: (a * b + 1).sum(axis=0))
a = torch.ones(256, 512)
out = f(a, a.T.contiguous().T)
y = xf.sin(xf.asarray(a))                 # a borrowed view that is still alive at exit
t = xf.to_torch(xf.asarray(a) * 2)        # a moved buffer
from xfront.bridges import _dlpack
print("HOOK", _dlpack._exit_hook)
"""

TF = """
import tensorflow as tf, xfront as xf
f = xf.compile(lambda a: (a * 2 + 1).sum())
out = f(tf.ones((64, 32)))
t = xf.to_tf(xf.asarray(tf.ones((8,))) + 1)
print("HOOK", True)
"""


def _one(code: str, env: dict) -> tuple[int, str, str, float]:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                       env=env, cwd=ROOT)
    return r.returncode, r.stdout, r.stderr, time.monotonic() - t0


@pytest.mark.slow
@pytest.mark.parametrize("framework,dispatch", [("torch", "sync"), ("torch", "async"),
                                                ("tf", "sync")])
def test_short_processes_exit_cleanly_after_a_bridged_call(framework, dispatch):
    pytest.importorskip("torch" if framework == "torch" else "tensorflow")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               XFRONT_CPU_ASYNC_DISPATCH="1" if dispatch == "async" else "0")
    code = TORCH if framework == "torch" else TF
    with ThreadPoolExecutor(2) as pool:
        n = RUNS if (framework, dispatch) == ("torch", "sync") else max(1, RUNS // 2)
        results = list(pool.map(lambda _: _one(code, env), range(n)))
    for rc, out, err, _ in results:
        assert rc == 0 and "HOOK True" in out, (rc, out[-500:], err[-2000:])
        assert "terminate called" not in err and "Fatal Python error" not in err, err[-2000:]


def test_exit_release_waits_only_when_workers_may_hold_inputs(monkeypatch):
    from xfront.bridges import _dlpack
    from xfront.lowering import runtime as rt

    slept = []
    monkeypatch.setattr(_dlpack.time, "sleep", slept.append)
    monkeypatch.setattr(rt, "cpu_dispatch_is_async", lambda: False)
    assert _dlpack._release_at_exit() is False and slept == []
    assert rt.POOL.bytes == 0 and not rt._STAGING
    monkeypatch.setattr(rt, "cpu_dispatch_is_async", lambda: True)
    assert _dlpack._release_at_exit() is True and slept == [_dlpack._EXIT_GRACE_S]
    monkeypatch.setattr(rt, "cpu_dispatch_is_async", lambda: None)  # unknown: fail closed
    assert _dlpack._release_at_exit() is True
