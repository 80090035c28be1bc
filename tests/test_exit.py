"""Deterministic shutdown (NOTE [Borrowed memory at interpreter exit] in
xfront/bridges/_dlpack.py, NOTE [Executions in flight at exit] in the runtime adapter).

``test_many_short_processes_exit_cleanly`` checks ``XFRONT_EXIT_RUNS`` (default 100) short
processes per framework, torch and TensorFlow, half of them with asynchronous CPU dispatch, each
exiting through ordinary interpreter finalization right after a bridged call: no abort, no hang,
right numbers, and the exit release waited for exactly the executions in flight. The processes
are forked by tests/_exit_driver.py, which tests/conftest.py starts in the background when this
test is selected; the test runs last and collects their records.
"""

from __future__ import annotations

import collections
import os
import sys

import numpy as np
import pytest

from tests import _exit_driver


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server needs /proc")
def test_many_short_processes_exit_cleanly(request):
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    runs = _exit_driver.runs_per_framework()
    bg = _exit_driver.start_background()  # already running if tests/conftest.py started it
    request.addfinalizer(_exit_driver.stop_background)
    recs, server_err, wall = bg.collect(_exit_driver.WAIT_S - (bg.elapsed()))
    children = [r for r in recs if "i" in r]
    errors = [r["error"] for r in recs if "error" in r]
    assert not errors, errors
    failures = [(r["framework"], r["i"], r["dispatch"], why, r["output"][-2000:])
                for r in children if (why := _exit_driver.child_failure(r))]
    assert not failures, failures[:5]
    for fw in ("torch", "tf"):
        mine = [r for r in children if r["framework"] == fw]
        assert len(mine) == runs, (fw, len(mine), server_err[-3000:])
        assert {r["dispatch"] for r in mine} == ({"sync", "async"} if runs > 1 else {"sync"})
    secs = sorted(r["seconds"] for r in children)
    print(f"\n{len(children)} processes in {wall:.1f} s wall; per process: median "
          f"{secs[len(secs) // 2]:.3f} s, max {secs[-1]:.3f} s")


# --- the in-flight record, with stand-in buffers ------------------------------------------------

class _Out:
    """A stand-in output buffer: ready once ``finish`` was called (or waited for)."""

    def __init__(self, log: list, name: str, ready: bool = False):
        self.log, self.name, self.ready = log, name, ready

    def is_ready(self) -> bool:
        return self.ready

    def block_until_ready(self) -> None:
        self.log.append(("wait", self.name))
        self.ready = True


@pytest.fixture
def tracking(monkeypatch):
    from xfront.lowering import runtime as rt

    monkeypatch.setattr(rt, "_track_inflight", True)
    monkeypatch.setattr(rt, "_inflight", collections.deque())
    monkeypatch.setattr(rt, "_kept_at_exit", [])
    monkeypatch.setattr(rt, "_exiting", False)
    monkeypatch.setattr(rt, "release_memory", lambda: 0)
    return rt


def test_inflight_record_prunes_finished_executions_and_bounds_itself(tracking, monkeypatch):
    rt = tracking
    log: list = []
    a, b = _Out(log, "a"), _Out(log, "b")
    rt.note_inflight(["in-a"], [a])
    rt.note_inflight(["in-b"], [b])
    assert rt.inflight_count() == 2 and log == []
    b.ready = True  # finished out of order: kept until the one before it has finished
    rt.note_inflight(["in-c"], [_Out(log, "c")])
    assert [r[1] for r in rt._inflight] == [("in-a",), ("in-b",), ("in-c",)]
    a.ready = True
    b.ready = False
    rt.note_inflight(["in-d"], [_Out(log, "d")])
    assert [r[1] for r in rt._inflight] == [("in-b",), ("in-c",), ("in-d",)]  # a's is gone
    monkeypatch.setattr(rt, "_INFLIGHT_MAX", 3)
    rt.note_inflight(["in-e"], [_Out(log, "e")])  # over the bound: the oldest is waited for
    assert log == [("wait", "b")] and rt.inflight_count() == 3


def test_exit_release_waits_for_every_execution_in_flight_and_keeps_its_inputs(tracking):
    rt = tracking
    from xfront.bridges import _dlpack

    log: list = []
    outs = [_Out(log, "x"), _Out(log, "y")]
    rt.note_inflight(["in-x"], [outs[0]])
    rt.note_inflight(["in-y1", "in-y2"], [outs[1]])
    assert _dlpack._release_at_exit() == 2
    assert log == [("wait", "x"), ("wait", "y")] and rt.inflight_count() == 0
    assert rt._kept_at_exit == [("in-x",), ("in-y1", "in-y2")]
    # a call after the release (a later exit hook) waits before it returns, keeps its inputs
    rt.note_inflight(["in-z"], [_Out(log, "z")])
    assert log[-1] == ("wait", "z") and rt._kept_at_exit[-1] == ("in-z",)
    assert rt.inflight_count() == 0


def test_synchronous_dispatch_records_nothing_and_exit_does_not_wait(monkeypatch):
    """This process uses xfront's default (synchronous CPU dispatch): executions, bridged ones
    included, are never recorded, so the exit release has nothing to wait for."""
    torch = pytest.importorskip("torch")
    import xfront as xf
    from xfront.lowering import runtime as rt

    if os.environ.get("XFRONT_CPU_ASYNC_DISPATCH", "0") not in ("0", "") or \
            os.environ.get("JAX_CPU_ENABLE_ASYNC_DISPATCH"):
        pytest.skip("this process was started with asynchronous dispatch")
    f = xf.compile(lambda a: (a * 2).sum(axis=0))
    a = torch.ones(64, 48)
    assert torch.equal(f(a), torch.full((48,), 128.0))
    assert rt._track_inflight is False and rt.inflight_count() == 0
    monkeypatch.setattr(rt, "_exiting", False)
    monkeypatch.setattr(rt, "_kept_at_exit", [])
    from xfront.bridges import _dlpack

    assert _dlpack._release_at_exit() == 0 and rt._kept_at_exit == []
    assert rt.POOL.bytes == 0 and not rt._STAGING


def test_an_unknown_dispatch_mode_fails_closed(monkeypatch):
    """If the adapter cannot tell the CPU dispatch mode (a jax internal moved), it assumes
    workers may hold inputs: executions are recorded and the exit release waits for them."""
    import xfront as xf
    from xfront.lowering import runtime as rt

    xf.ones(2) + 1  # a client exists
    monkeypatch.setattr(rt, "cpu_dispatch_is_async", lambda: None)
    monkeypatch.setattr(rt, "_register_exit_wait", lambda: None)
    monkeypatch.setattr(rt, "_track_inflight", None)
    monkeypatch.setattr(rt, "_inflight", collections.deque())
    assert rt.workers_may_hold_inputs() is True
    f = xf.compile(lambda a: a * 3)
    out = f(np.ones(4, np.float32))
    np.testing.assert_array_equal(np.asarray(out), [3.0] * 4)
    assert rt._track_inflight is True and rt.inflight_count() == 1
    monkeypatch.setattr(rt, "cpu_dispatch_is_async", lambda: False)
    assert rt.workers_may_hold_inputs() is False


def test_child_records_are_judged_strictly():
    """What the many-process test counts as a failure (it reports each with its output)."""
    ok_sync = {"dispatch": "sync", "rc": 0, "hang": False,
               "output": "TRACK False 0\nOK\nEXIT True 0 0\n"}
    ok_async = {"dispatch": "async", "rc": 0, "hang": False,
                "output": "TRACK True 1\nOK\nEXIT True 0 1\n"}
    judge = _exit_driver.child_failure
    assert judge(ok_sync) is None and judge(ok_async) is None
    assert "a signal" in judge({**ok_sync, "rc": -6})                    # SIGABRT
    assert "exit code 1" in judge({**ok_sync, "rc": 1})
    assert "hung" in judge({**ok_sync, "rc": None, "hang": True})
    assert "abort markers" in judge({**ok_sync, "output": ok_sync["output"]
                                     + "terminate called without an active exception\n"})
    assert "no OK line" in judge({**ok_sync, "output": "TRACK False 0\nEXIT True 0 0\n"})
    assert "not tracked" in judge({**ok_async, "output": "TRACK False 0\nOK\nEXIT True 0 0\n"})
    assert "did not wait" in judge({**ok_async, "output": "TRACK True 1\nOK\nEXIT True 1 0\n"})
    assert "were tracked" in judge({**ok_sync, "output": "TRACK True 1\nOK\nEXIT True 0 1\n"})
    assert judge({"error": "the fork server has 2 threads"}) == "the fork server has 2 threads"
