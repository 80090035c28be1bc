"""Many short processes that exit right after a bridged call (tests/test_exit.py).

Run as a script, it is a fork server for one framework: it imports the framework, xfront, the
runtime adapter and the bridges once, creates no PJRT client, and then forks one child per run.
Each child does a bridged call (compiled and eager, with borrowed and moved buffers), checks the
numbers, prints ``OK`` and leaves through ordinary interpreter finalization (``sys.exit``: exit
hooks, module teardown, library destructors), which is where an abort would come from. The
server writes one JSON line per child (exit code, signal, output, seconds) and a last summary
line. Children alternate synchronous and asynchronous CPU dispatch (the mode is chosen when a
child creates its client). The first child fills a persistent compile cache in a temporary
directory, so the others load their programs instead of compiling them.

NOTE [Forking after importing torch or TensorFlow]
    fork() copies only the calling thread; it is unsafe when another thread holds a lock (an
    allocator's, a thread pool's) that the child then needs. Importing torch, TensorFlow and
    xfront (without a PJRT client) starts no thread except OpenBLAS's pool, which NumPy starts
    at import; ``OPENBLAS_NUM_THREADS=1`` (set before Python starts) keeps it from starting. So
    the server checks before every fork that it has exactly one thread (``/proc/self/task``)
    and refuses to fork otherwise: a single-threaded process holds no lock that another thread
    could own, and everything the child uses (XLA's client and thread pools, TF's and torch's
    intra-op pools) is created in the child. ``gc.freeze()`` before the first fork keeps the
    imported modules out of the children's garbage collections (fewer copy-on-write pages).

``start_background`` / ``collect`` run the servers (torch first, then TF, one at a time, so they
take one core) from a pytest session while the rest of the suite runs, with a watchdog.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD_TIMEOUT_S = 120.0  # one child; a hang is reported, the child killed
WAIT_S = float(os.environ.get("XFRONT_EXIT_WAIT_S", "1200"))  # the whole run, from its start


def runs_per_framework() -> int:
    """Children per framework (half with synchronous, half with asynchronous dispatch)."""
    return int(os.environ.get("XFRONT_EXIT_RUNS", "100"))

OK = "OK"

# Registered before xfront's own exit hooks, so it runs after them (exit hooks run last-in,
# first-out): it reports what the ordered release left behind.
PROLOGUE = """
import atexit, sys
def _report():
    rt = sys.modules["xfront.lowering.runtime"]
    print("EXIT", rt._exiting, rt.inflight_count(), len(rt._kept_at_exit), flush=True)
atexit.register(_report)
"""

# After the calls: whether executions are tracked, and how many are in flight.
TRACK = """
from xfront.lowering import runtime as rt
print("TRACK", rt._track_inflight, rt.inflight_count(), flush=True)
print("OK")
"""

TORCH = PROLOGUE + """
import numpy as np, torch, xfront as xf
f = xf.compile(lambda a, b: (a * b + 1).sum(axis=0))
a = torch.arange(64 * 48, dtype=torch.float32).reshape(64, 48) / 1000
out = f(a, a.T.contiguous().T)                   # a compiled call on borrowed torch memory
assert isinstance(out, torch.Tensor)
assert np.allclose(out.numpy(), (a * a + 1).sum(0).numpy(), rtol=1e-5)
y = xf.sin(xf.asarray(a))                        # a borrowed view still alive at exit
t = xf.to_torch(xf.asarray(a) * 2)               # a moved buffer
assert np.allclose(t.numpy(), a.numpy() * 2)
z = f(a, a)                                      # the last call: its result is never read
""" + TRACK

TF = PROLOGUE + """
import numpy as np, tensorflow as tf, xfront as xf
f = xf.compile(lambda a: (a * 2 + 1).sum(axis=0))
a = tf.reshape(tf.range(64 * 48, dtype=tf.float32), (64, 48)) / 1000
out = f(a)                                       # a compiled call on TF memory
assert isinstance(out, tf.Tensor)
assert np.allclose(out.numpy(), (a.numpy() * 2 + 1).sum(0), rtol=1e-5)
y = xf.sin(xf.asarray(a))                        # a view of TF memory still alive at exit
t = xf.to_tf(xf.asarray(a) + 1)
assert np.allclose(t.numpy(), a.numpy() + 1)
z = f(a)                                         # the last call: its result is never read
""" + TRACK

CODE = {"torch": TORCH, "tf": TF}
ABORT_MARKERS = ("terminate called", "Fatal Python error", "Aborted", "Segmentation fault",
                 "core dumped", "Check failed")


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _emit(rec: dict) -> None:
    sys.stdout.write(json.dumps(rec) + "\n")
    sys.stdout.flush()


def serve(framework: str, runs: int, workdir: str) -> None:
    """The fork server's body (see the module docstring)."""
    if framework == "torch":
        import torch  # noqa: F401
        import torch._dynamo  # noqa: F401  (xfront's compile hook for torch imports it)

        import xfront.bridges.torch  # noqa: F401
    else:
        import tensorflow  # noqa: F401

        import xfront.bridges.tensorflow  # noqa: F401
    import gc

    import xfront  # noqa: F401
    import xfront.lowering.runtime  # noqa: F401  (imports jax; creates no client)

    gc.collect()
    gc.freeze()
    code = compile(CODE[framework], f"<exit child {framework}>", "exec")
    for i in range(runs):
        n = _threads()
        if n != 1:
            _emit({"error": f"the fork server has {n} threads; forking is only safe with one"})
            return
        path = os.path.join(workdir, f"{framework}-{i}.txt")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        dispatch = "async" if i % 2 else "sync"
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: no try/finally around this, so SystemExit finalizes it
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.environ["XFRONT_CPU_ASYNC_DISPATCH"] = "1" if dispatch == "async" else "0"
            exec(code, {"__name__": "__main__"})
            sys.stdout.flush()
            sys.exit(0)
        os.close(fd)
        status = None
        while status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            elif time.monotonic() - t0 > CHILD_TIMEOUT_S:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                status = -1
            else:
                time.sleep(0.005)
        secs = time.monotonic() - t0
        with open(path, errors="replace") as fh:
            out = fh.read()
        os.unlink(path)
        rec = {"framework": framework, "i": i, "dispatch": dispatch, "seconds": round(secs, 3),
               "output": out[-3000:]}
        if status == -1:
            rec.update(rc=None, signal=None, hang=True)
        else:
            rec.update(rc=os.waitstatus_to_exitcode(status), hang=False)
        _emit(rec)
    _emit({"done": framework, "runs": runs})


def child_failure(rec: dict) -> str | None:
    """Why a child's record counts as a failure (None: it exited cleanly and the ordered
    release did what NOTE [Executions in flight at exit] in the runtime adapter says)."""
    if "error" in rec:
        return rec["error"]
    if rec.get("hang"):
        return f"hung (killed after {CHILD_TIMEOUT_S:.0f} s)"
    if rec["rc"] != 0:
        return f"exit code {rec['rc']}" + (" (a signal)" if rec["rc"] < 0 else "")
    out = rec["output"]
    bad = [m for m in ABORT_MARKERS if m in out]
    if bad:
        return f"abort markers in its output: {bad}"
    lines = out.splitlines()
    if OK not in lines:
        return "no OK line"
    track = [ln.split()[1:] for ln in lines if ln.startswith("TRACK ")]
    end = [ln.split()[1:] for ln in lines if ln.startswith("EXIT ")]
    if len(track) != 1 or len(end) != 1:
        return "no TRACK or EXIT line"
    (tracking, inflight), (exiting, left, kept) = track[0], end[0]
    if rec["dispatch"] == "async":
        # executions are tracked; at exit all were waited for and their inputs kept
        if tracking != "True" or int(inflight) < 1:
            return f"asynchronous dispatch, but executions were not tracked: {track[0]}"
        if exiting != "True" or int(left) != 0 or int(kept) < 1:
            return f"asynchronous dispatch, but the exit release did not wait: {end[0]}"
    elif tracking != "False" or int(inflight) != 0 or int(left) != 0 or int(kept) != 0:
        return f"synchronous dispatch, but executions were tracked: {track[0]} {end[0]}"
    return None


# --- running the servers from a test session ----------------------------------------------------

class Background:
    """Both fork servers, one after the other, in a background process group."""

    def __init__(self, runs_per_framework: int):
        self.runs = runs_per_framework
        self.workdir = tempfile.mkdtemp(prefix="xfront-exit-")
        self.out_path = os.path.join(self.workdir, "records.jsonl")
        self.t0 = time.monotonic()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", OPENBLAS_NUM_THREADS="1",
                   XFRONT_CACHE="1", XFRONT_CACHE_DIR=os.path.join(self.workdir, "cache"),
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("XFRONT_CPU_ASYNC_DISPATCH", None)
        env.pop("JAX_CPU_ENABLE_ASYNC_DISPATCH", None)
        me = os.path.abspath(__file__)
        cmd = " && ".join(f"{sys.executable} {me} {fw} {self.runs} {self.workdir}"
                          for fw in ("torch", "tf"))
        self._out = open(self.out_path, "w")
        self._err = open(os.path.join(self.workdir, "server-stderr.txt"), "w")
        self.proc = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=self._out, stderr=self._err,
                                     env=env, cwd=ROOT, start_new_session=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        if not self._out.closed:  # the session ended before the test collected the records
            self._out.close()
            self._err.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def collect(self, timeout_s: float) -> tuple[list[dict], str, float]:
        """Wait (at most ``timeout_s``) for the servers; returns (records, server stderr,
        wall seconds since start). On timeout the servers are killed and what they reported
        so far is returned."""
        try:
            self.proc.wait(timeout=max(1.0, timeout_s))
        except subprocess.TimeoutExpired:
            self.stop()
        wall = time.monotonic() - self.t0
        self._out.close()
        self._err.close()
        with open(self.out_path) as fh:
            recs = [json.loads(line) for line in fh if line.strip()]
        with open(os.path.join(self.workdir, "server-stderr.txt"), errors="replace") as fh:
            err = fh.read()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return recs, err, wall


_RUNNING: list[Background] = []  # the run started for this test session, if any


def start_background() -> Background:
    if not _RUNNING:
        _RUNNING.append(Background(runs_per_framework()))
    return _RUNNING[0]


def stop_background() -> None:
    while _RUNNING:
        _RUNNING.pop().stop()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), sys.argv[3])
