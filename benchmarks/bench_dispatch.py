"""Per-call dispatch cost of a tiny compiled call: ``python -m benchmarks.bench_dispatch``.

``x * y + 1`` on two 8-element float32 arrays, called with xfront arrays, NumPy arrays, torch
tensors (results back in the caller's framework) and ``jax.jit`` on jax arrays; and one eager
op (``xf.multiply``) on the same xfront arrays. Every contender is sampled once per round and
rounds repeat (interleaved); a sample is the mean over ``--calls`` calls of the per-thread CPU
time (``time.thread_time``: what the calling thread spends, which other processes' load on a
shared host disturbs much less) and of the wall time. The report gives the median over rounds
of both (and the best CPU time), and the median over rounds of each contender's CPU time over
``jax.jit``'s in the same round (less disturbed by load). ``torch (general path)`` calls the
same function through its general path (no per-signature fast path), for comparison, and so
does ``numpy (general path)``; ``xfront arrays, donating`` calls ``x = g(x, y)`` with ``x``
donated (``donate_argnums=0``).

``--breakdown`` adds the parts of a call (NOTE [The one run] in xfront.lowering.runtime): the
raw jaxlib execute, the execute with its result handlers, xfront's run without the call's
argument checks, and each way of importing an input / exporting a result.

``--compare REF`` measures the call rows of git revision ``REF`` of this checkout (``before``)
against the working tree (``after``) in one interleaved run: the two alternate round by round,
each round in a fresh subprocess. Figures are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import xfront as xf  # noqa: E402
from benchmarks.report import save_json  # noqa: E402


def contenders() -> dict[str, Callable[[], Any]]:
    f = xf.compile(lambda x, y: x * y + 1.0)
    a, b = np.ones(8, np.float32), np.full(8, 2.0, np.float32)
    xa, xb = xf.asarray(a), xf.asarray(b)
    out: dict[str, Callable[[], Any]] = {"xfront arrays": lambda: f(xa, xb), "numpy": lambda: f(a, b),
                                         "eager op (xfront arrays)": lambda: xf.multiply(xa, xb)}
    out["numpy (general path)"] = lambda: f._call((a, b), {}, None)
    g = xf.compile(lambda x, y: x * 0.5 + y, donate_argnums=0)
    state = [xf.asarray(a, copy=True)]

    def donating() -> None:  # a training-step pattern: the result replaces the donated input
        state[0] = g(state[0], xb)
    out["xfront arrays, donating"] = donating
    try:
        import torch

        ta, tb = torch.from_numpy(a).clone(), torch.from_numpy(b).clone()
        out["torch"] = lambda: f(ta, tb)
        out["torch (general path)"] = lambda: f._call((ta, tb), {}, None)
    except ImportError:
        pass
    try:
        import jax

        jk = jax.jit(lambda x, y: x * y + 1.0)
        ja, jb = jax.device_put(a), jax.device_put(b)
        out["jax.jit"] = lambda: jk(ja, jb)
    except ImportError:
        pass
    return out


def breakdown() -> dict[str, Callable[[], Any]]:
    """The parts of a tiny call (see the module docstring)."""
    from xfront.lowering import runtime as rt

    f = xf.compile(lambda x, y: x * y + 1.0)
    a, b = np.ones(8, np.float32), np.full(8, 2.0, np.float32)
    xa, xb = xf.asarray(a), xf.asarray(b)
    f(xa, xb)
    (entry,) = f._fast.values()
    exe = entry.exe.exe  # the runtime's Executable
    raw, handlers = exe.exe, exe._handlers
    bufs = [xa._buf, xb._buf]
    dev = entry.device.rt
    out_buf = exe.execute(bufs)[0]
    stage = np.zeros(8, np.float32)
    run = entry.xf_run
    parts: dict[str, Callable[[], Any]] = {
        "jaxlib execute_sharded": lambda: raw.execute_sharded(bufs),
        "jaxlib execute_sharded + handlers": lambda: raw.execute_sharded(bufs)
        .consume_with_handlers(handlers),
        "xfront run (no argument checks)": lambda: run(bufs),
        "NumPy in: batched_device_put": lambda: rt.put(a, dev, copy=False),
        "NumPy in: copy into staging": lambda: stage.__setitem__(Ellipsis, a),
        "NumPy out: view owning the buffer": lambda: rt.to_numpy_owned(out_buf, True),
        "NumPy out: copy": lambda: rt.host_copy(out_buf),
    }
    try:
        import torch

        t = torch.from_numpy(a).clone()
        st = torch.from_numpy(stage)
        to_dlpack = torch.utils.dlpack.to_dlpack
        parts["torch in: DLPack import"] = lambda: rt.import_dlpack(to_dlpack(t), dev,
                                                                    row_major=True)
        parts["torch in: copy_ into staging"] = lambda: st.copy_(t)
        parts["torch out: execute + DLPack export"] = lambda: torch.utils.dlpack.from_dlpack(
            rt.export_fresh(raw.execute_sharded(bufs).consume_with_handlers(handlers)[0]))
    except ImportError:
        pass
    return parts


def sample(cs: dict[str, Callable[[], Any]], rounds: int, calls: int
           ) -> dict[str, dict[str, list[float]]]:
    """Per contender, per round: mean per-call CPU and wall time (us)."""
    for fn in cs.values():
        for _ in range(100):
            fn()
    res = {k: {"cpu": [], "wall": []} for k in cs}
    for _ in range(rounds):
        for k, fn in cs.items():
            t0, w0 = time.thread_time(), time.perf_counter()
            for _ in range(calls):
                fn()
            res[k]["cpu"].append((time.thread_time() - t0) / calls * 1e6)
            res[k]["wall"].append((time.perf_counter() - w0) / calls * 1e6)
    return res


def _summary(samples: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    out = {k: {"cpu_median_us": statistics.median(v["cpu"]), "cpu_best_us": min(v["cpu"]),
               "wall_median_us": statistics.median(v["wall"])} for k, v in samples.items()}
    jit = samples.get("jax.jit", {}).get("cpu")
    if jit:  # per round against jax.jit timed in the same round (and process): a host that
        # runs slower for a while (other load) slows both, so the ratio varies less
        for k, v in samples.items():
            out[k]["jit_ratio_median"] = statistics.median(c / j for c, j in zip(v["cpu"], jit))
    return out


def _print(title: str, summ: dict[str, dict[str, float]], base: float | None) -> None:
    print(title)
    print(f"{'':36s} {'CPU med':>8s} {'CPU best':>8s} {'wall med':>8s}")
    for k, v in summ.items():
        rel = f"  {v['cpu_median_us'] / base:5.2f}x jax.jit" if base else ""
        if "jit_ratio_median" in v:
            rel += f" (per round {v['jit_ratio_median']:5.2f}x)"
        print(f"{k:36s} {v['cpu_median_us']:8.2f} {v['cpu_best_us']:8.2f} "
              f"{v['wall_median_us']:8.2f}{rel}")


def compare(ref: str, rounds: int, calls: int) -> dict[str, dict[str, dict[str, float]]]:
    """``before`` (git revision ``ref``) against ``after`` (this tree), alternating rounds."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", root, "archive", ref, "xfront", "lowering",
                                  "kernels"], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        trees = {"before": tmp, "after": root}
        samples: dict[str, dict[str, dict[str, list[float]]]] = {"before": {}, "after": {}}
        for r in range(rounds):
            for label in (("before", "after") if r % 2 == 0 else ("after", "before")):
                # the tree's xfront first; this checkout's root for the benchmarks package
                env = dict(os.environ, PYTHONPATH=os.pathsep.join((trees[label], root)))
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one-round",
                                      "--calls", str(calls)], env=env, capture_output=True,
                                     text=True, check=True).stdout
                for k, v in json.loads(out.splitlines()[-1]).items():
                    cell = samples[label].setdefault(k, {"cpu": [], "wall": []})
                    cell["cpu"].append(v["cpu"][0])
                    cell["wall"].append(v["wall"][0])
    return {label: _summary(s) for label, s in samples.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=10000)
    p.add_argument("--json", default=None)
    p.add_argument("--breakdown", action="store_true")
    p.add_argument("--compare", default=None, metavar="REF")
    p.add_argument("--one-round", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one_round:  # a round of --compare, in a subprocess
        print(json.dumps(sample(contenders(), 1, args.calls)))
        return {}
    report: dict[str, Any] = {"load_average": os.getloadavg()[0]}
    if args.compare:
        both = compare(args.compare, args.rounds, args.calls)
        report["compare"] = {"ref": args.compare, **both}
        print(f"load average {report['load_average']:.1f}; {args.rounds} interleaved rounds "
              f"of {args.calls} calls; per-call us")
        for label in ("before", "after"):
            base = both[label].get("jax.jit", {}).get("cpu_median_us")
            _print(f"-- {label} ({args.compare if label == 'before' else 'working tree'})",
                   both[label], base)
        res = {k: v["cpu_median_us"] for k, v in both["after"].items()}
    else:
        cs = contenders()
        if args.breakdown:
            cs.update(breakdown())
        summ = _summary(sample(cs, args.rounds, args.calls))
        report["results"] = summ
        print(f"load average {report['load_average']:.1f}; {args.rounds} interleaved rounds "
              f"of {args.calls} calls; per-call us")
        _print("", summ, summ.get("jax.jit", {}).get("cpu_median_us"))
        res = {k: v["cpu_median_us"] for k, v in summ.items()}
    save_json(args.json, report)
    return res


if __name__ == "__main__":
    main()
