"""Large bridged calls against native ones: ``python -m benchmarks.bench_large``.

The three large workloads of the performance issue (an elementwise chain of 16M float32 and
float64, sum+mean of 16M float32) are called with xfront arrays ("native", the baseline) and
with the frameworks' own arrays, results returned to the caller's framework:

* ``torch (from_numpy)``: ``torch.from_numpy`` tensors, as data loaders make them (NumPy's
  allocations are 16 bytes off a 64-byte boundary, which PJRT cannot alias);
* ``torch (own)``: tensors torch allocated (64-byte aligned);
* ``numpy``: arrays as NumPy allocated them; ``tensorflow``: ``tf.constant`` tensors.

Every contender runs interleaved, round by round, and each cell is the median over rounds of
one call's time, with the minor page faults per call (``getrusage``; not noisy, unlike time on
a shared host) and the process's peak RSS after the workload. Results are checked against
NumPy before timing. Figures are measured, never asserted.

Options: ``--rounds 7``, ``--workloads chain_f32,chain_f64,summean``, ``--elements 16777216``,
``--json out.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import xfront as xf  # noqa: E402

N = 1 << 24


def _chain(a, b, c):
    return xf.tanh(a * b + c) * 0.5 + xf.sigmoid(a)


def _summean(x):
    return xf.sum(x), xf.mean(x)


WORKLOADS: dict[str, tuple[Callable, int, Any]] = {
    "chain_f32": (_chain, 3, np.float32),
    "chain_f64": (_chain, 3, np.float64),
    "summean": (_summean, 1, np.float32),
}


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _leaves(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _host(o: Any) -> np.ndarray:
    if hasattr(o, "numpy") and not isinstance(o, np.ndarray):
        return np.asarray(o.numpy())
    return np.asarray(o)


def contenders(name: str, n: int = N) -> tuple[dict[str, Callable[[], Any]], list[np.ndarray]]:
    fn, n_in, dtype = WORKLOADS[name]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(n).astype(dtype) for _ in range(n_in)]
    f = xf.compile(fn)
    out: dict[str, Callable[[], Any]] = {}
    nat = [xf.asarray(x, copy=True) for x in xs]
    out["native"] = lambda: [o.block_until_ready() for o in _leaves(f(*nat))]
    out["numpy"] = lambda: f(*xs)
    try:
        import torch

        tn = [torch.from_numpy(x) for x in xs]
        to = [torch.from_numpy(x).clone() for x in xs]
        out["torch (from_numpy)"] = lambda: f(*tn)
        out["torch (own)"] = lambda: f(*to)
    except ImportError:
        pass
    try:
        import tensorflow as tf

        tt = [tf.constant(x) for x in xs]
        out["tensorflow"] = lambda: f(*tt)
    except ImportError:
        pass
    return out, xs


def run(name: str, rounds: int, n: int = N) -> dict[str, dict[str, float]]:
    calls, xs = contenders(name, n)
    fn = WORKLOADS[name][0]
    want = [_host(o) for o in _leaves(fn(*[xf.asarray(x) for x in xs]))]
    for label, call in calls.items():  # right numbers first
        got = [_host(o) for o in _leaves(call())]
        for g, w in zip(got, want):
            if not np.allclose(g, w, rtol=1e-5, atol=1e-5):
                raise AssertionError(f"bench_large: {label!r} disagrees on {name}")
    times: dict[str, list[float]] = {k: [] for k in calls}
    faults: dict[str, list[int]] = {k: [] for k in calls}
    for _ in range(rounds):
        for label, call in calls.items():
            f0 = _faults()
            t0 = time.perf_counter()
            r = call()
            dt = time.perf_counter() - t0
            faults[label].append(_faults() - f0)
            del r
            times[label].append(dt * 1e3)
    return {k: {"median_ms": statistics.median(times[k]), "min_ms": min(times[k]),
                "faults": statistics.median(faults[k]), "peak_rss_mib": _peak_mib()}
            for k in calls}


def report(name: str, res: dict[str, dict[str, float]], n: int = N) -> list[str]:
    base = res["native"]["median_ms"]
    lines = [f"\n{name} ({n} elements per input)",
             f"{'inputs':22s} {'median ms':>10s} {'min ms':>8s} {'x native':>9s} "
             f"{'faults/call':>12s} {'peak RSS MiB':>13s}"]
    for k, r in res.items():
        lines.append(f"{k:22s} {r['median_ms']:10.2f} {r['min_ms']:8.2f} "
                     f"{r['median_ms'] / base:9.2f} {r['faults']:12.0f} "
                     f"{r['peak_rss_mib']:13.0f}")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--elements", type=int, default=N)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores")
    results = {}
    for name in args.workloads.split(","):
        results[name] = run(name, args.rounds, args.elements)
        print("\n".join(report(name, results[name], args.elements)), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
