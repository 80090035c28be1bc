"""Compile cost over many batch sizes: ``python -m benchmarks.bench_symbolic``.

A call sequence over 16 batch sizes (8, 16, ..., 128) of a small MLP head
``log_softmax(tanh(x @ w1 + b1) @ w2 + b2)`` plus its batch mean, with three contenders:

* ``xfront polymorphic``: ``xf.compile(f, polymorphic=("b, _", ...))``: one trace and one
  lowering for all sizes, then per size a shape refinement and an XLA compile;
* ``xfront static``: ``xf.compile(f)``: trace, lower and compile per size;
* ``jax.jit``: retraces, lowers and compiles per size.

Each contender runs in a fresh process (no shared caches; xfront's persistent compile cache is
off), calls the function once per size and reports the total wall time of those first calls
(trace + lower + compile + one run), then the median time of one call at the largest size
(so the polymorphic program can be compared with the static one). Figures are measured, never
asserted; they depend on the host and its load. The first size also pays each library's
start-up (client creation, first compile), so later sizes are reported separately.

Options: ``--sizes 16`` (how many batch sizes), ``--json out.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from benchmarks.report import save_json

D, H, O = 64, 128, 10
CONTENDERS = ("xfront polymorphic", "xfront static", "jax.jit")


def _weights() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((D, H)).astype(np.float32) / 8,
            np.zeros(H, np.float32),
            rng.standard_normal((H, O)).astype(np.float32) / 8,
            np.zeros(O, np.float32)]


def _run_one(name: str, n_sizes: int) -> dict:
    os.environ["XFRONT_CACHE"] = "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sizes = [8 * (i + 1) for i in range(n_sizes)]
    w = _weights()
    xs = [np.random.default_rng(n).standard_normal((n, D)).astype(np.float32) for n in sizes]
    if name == "jax.jit":
        import jax
        import jax.numpy as jnp

        def jf(x, w1, b1, w2, b2):
            z = jnp.tanh(x @ w1 + b1) @ w2 + b2
            out = z - jax.nn.logsumexp(z, axis=1, keepdims=True)
            return out, jnp.mean(out, axis=0)

        f = jax.jit(jf)
        ws = [jnp.asarray(a) for a in w]
        args = [jnp.asarray(x) for x in xs]

        def call(x):
            return jax.block_until_ready(f(x, *ws))
    else:
        import xfront as xf

        def xfn(x, w1, b1, w2, b2):
            z = xf.tanh(x @ w1 + b1) @ w2 + b2
            m = xf.max(z, axis=1, keepdims=True)
            out = z - (m + xf.log(xf.sum(xf.exp(z - m), axis=1, keepdims=True)))
            return out, xf.mean(out, axis=0)

        poly = ("b, _",) if name == "xfront polymorphic" else None
        f = xf.compile(xfn, polymorphic=poly) if poly else xf.compile(xfn)
        ws = [xf.asarray(a) for a in w]
        args = [xf.asarray(x) for x in xs]

        def call(x):
            out = f(x, *ws)
            np.asarray(out[1])
            return out
    ref = None
    per = []
    for x in args:
        t0 = time.perf_counter()
        out = call(x)
        per.append(time.perf_counter() - t0)
    first = sum(per)
    ref = np.asarray(out[0])
    x = xs[-1].astype(np.float64)
    z = np.tanh(x @ w[0] + w[1]) @ w[2] + w[3]
    expect = z - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - z.max(1, keepdims=True)
    ok = bool(np.allclose(ref, expect, rtol=1e-4, atol=1e-4))
    times = []
    for _ in range(50):
        t = time.perf_counter()
        call(args[-1])
        times.append(time.perf_counter() - t)
    return {"contender": name, "sizes": len(sizes), "first_calls_s": first,
            "first_size_ms": 1e3 * per[0],
            "per_size_ms": 1e3 * sum(per[1:]) / max(len(per) - 1, 1),
            "steady_us_at_largest": 1e6 * statistics.median(times), "correct": ok}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, default=16)
    ap.add_argument("--json")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(_run_one(a.one, a.sizes)))
        return []
    rows = []
    for name in CONTENDERS:
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_symbolic", "--one", name,
                              "--sizes", str(a.sizes)], capture_output=True, text=True,
                             check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'contender':<20} {'sizes':>5} {'all first calls (s)':>20} {'first size (ms)':>16} "
          f"{'each later size (ms)':>21} {'call at largest (us)':>21} correct")
    for r in rows:
        print(f"{r['contender']:<20} {r['sizes']:>5} {r['first_calls_s']:>20.3f} "
              f"{r['first_size_ms']:>16.1f} {r['per_size_ms']:>21.1f} "
              f"{r['steady_us_at_largest']:>21.1f} {r['correct']}")
    save_json(a.json, rows)
    return rows


if __name__ == "__main__":
    main()
