"""Per-call dispatch cost of a tiny compiled call: ``python -m benchmarks.bench_dispatch``.

``x * y + 1`` on two 8-element float32 arrays, called with xfront arrays, NumPy arrays, torch
tensors (results back in the caller's framework) and ``jax.jit`` on jax arrays. Each cell is the
best over ``--rounds`` interleaved rounds of the mean per-thread CPU time per call
(``time.thread_time``: what the calling thread spends, which other processes' load on a shared
host disturbs much less than wall time). ``torch (general path)`` calls the same function
through its general path (no per-signature fast path), for comparison. Figures are measured,
never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import xfront as xf  # noqa: E402


def contenders() -> dict[str, Callable[[], Any]]:
    f = xf.compile(lambda x, y: x * y + 1.0)
    a, b = np.ones(8, np.float32), np.full(8, 2.0, np.float32)
    xa, xb = xf.asarray(a), xf.asarray(b)
    out: dict[str, Callable[[], Any]] = {"xfront arrays": lambda: f(xa, xb), "numpy": lambda: f(a, b)}
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


def run(rounds: int, calls: int) -> dict[str, float]:
    cs = contenders()
    for fn in cs.values():
        for _ in range(100):
            fn()
    best = {k: float("inf") for k in cs}
    for _ in range(rounds):
        for k, fn in cs.items():
            t0 = time.thread_time()
            for _ in range(calls):
                fn()
            best[k] = min(best[k], (time.thread_time() - t0) / calls * 1e6)
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=10000)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    res = run(args.rounds, args.calls)
    base = res.get("jax.jit")
    print(f"load average {os.getloadavg()[0]:.1f}; per-thread CPU us per call, best of "
          f"{args.rounds} rounds")
    for k, v in res.items():
        rel = f"{v / base:6.2f}x jax.jit" if base else ""
        print(f"{k:24s} {v:8.2f} {rel}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return res


if __name__ == "__main__":
    main()
