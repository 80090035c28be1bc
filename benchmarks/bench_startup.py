"""Start-up cost, whole process: ``python -m benchmarks.bench_startup``.

Two figures, each the median over ``--runs`` fresh interpreters (alternating, so both sides see
the same load): the wall time of a process that only imports the library (``import xfront``
against ``import jax``), and of a process that imports it, compiles a small function and calls
it once on a (4, 4) float32 array (xfront against ``jax.jit``). The persistent compile caches
are off for both (a cold first call). Figures are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SCRIPTS = {
    "import xfront": "import xfront",
    "import jax": "import jax",
    "first call xfront": (
        "import numpy as np, xfront as xf\n"
        "f = xf.compile(lambda x: xf.tanh(x) * 2 + 1)\n"
        "np.asarray(f(np.ones((4, 4), np.float32)))\n"),
    "first call jax.jit": (
        "import numpy as np, jax\n"
        "f = jax.jit(lambda x: jax.numpy.tanh(x) * 2 + 1)\n"
        "np.asarray(f(np.ones((4, 4), np.float32)))\n"),
}

ENV = dict(os.environ, XFRONT_CACHE="0", JAX_ENABLE_COMPILATION_CACHE="false",
           TF_CPP_MIN_LOG_LEVEL="3")


def _once(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    samples: dict[str, list[float]] = {k: [] for k in SCRIPTS}
    for _ in range(args.runs):
        for name, code in SCRIPTS.items():
            samples[name].append(_once(code))
    res = {k: statistics.median(v) for k, v in samples.items()}
    print(f"load average {os.getloadavg()[0]:.1f}; median of {args.runs} fresh processes")
    for k, v in res.items():
        print(f"{k:22s} {v:7.3f} s")
    print(f"import: xfront / jax = {res['import xfront'] / res['import jax']:.2f}; first call: "
          f"xfront / jax.jit = {res['first call xfront'] / res['first call jax.jit']:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return res


if __name__ == "__main__":
    main()
