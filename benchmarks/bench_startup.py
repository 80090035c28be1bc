"""Start-up cost, whole process: ``python -m benchmarks.bench_startup``.

Two figures, each the median over ``--runs`` fresh interpreters (alternating, so both sides see
the same load): a process that only imports the library (``import xfront`` against
``import jax``), and a process that imports it, compiles a small function and calls it once on
a (4, 4) float32 array (xfront against ``jax.jit``), each as wall time and as the CPU time of
the process (all its threads: steadier than wall time on a loaded host). The persistent compile
caches are off for both (a cold first call). Figures are measured, never asserted.

``--phases`` also splits a fresh process's first call into its steps (medians over the same
number of fresh processes, each step timed inside the process): importing the library, jax's
Python layer and jaxlib (xfront imports them with its runtime, at the first call), creating the
CPU client, tracing and lowering to StableHLO text once, then the first call of a new function
object with the same body (its own trace and lowering, XLA's first compile in the process, and
the first run), and the second call; the same steps for ``jax.jit`` where they exist (its trace
and lowering are one step, ``.lower()``; the new function object keeps jax from reusing that
lowering). Last, for xfront, the MLIR parse and verify of the text, which a compile runs only
after XLA has rejected a module (NOTE [Verify after a failed compile] in the runtime adapter).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from benchmarks.report import save_json

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

PHASES = {
    "xfront": (
        "import time, json\n"
        "t = [time.perf_counter()]\n"
        "import numpy as np, xfront as xf\n"
        "t.append(time.perf_counter())\n"
        "from xfront.lowering import runtime as rt\n"
        "t.append(time.perf_counter())\n"
        "rt.client('cpu')\n"
        "t.append(time.perf_counter())\n"
        "x = np.ones((4, 4), np.float32)\n"
        "tr = xf.compile(lambda x: xf.tanh(x) * 2 + 1).trace(x)\n"
        "t.append(time.perf_counter())\n"
        "text = tr.lower().as_text(pretty=False)\n"
        "t.append(time.perf_counter())\n"
        "f = xf.compile(lambda x: xf.tanh(x) * 2 + 1)\n"
        "np.asarray(f(x))\n"
        "t.append(time.perf_counter())\n"
        "np.asarray(f(x))\n"
        "t.append(time.perf_counter())\n"
        "rt.parse_verify(text)\n"
        "t.append(time.perf_counter())\n"
        "print(json.dumps([b - a for a, b in zip(t, t[1:])]))\n"),
    "jax.jit": (
        "import time, json\n"
        "t = [time.perf_counter()]\n"
        "import numpy as np\n"
        "t.append(time.perf_counter())\n"
        "import jax\n"
        "t.append(time.perf_counter())\n"
        "jax.devices('cpu')\n"
        "t.append(time.perf_counter())\n"
        "x = np.ones((4, 4), np.float32)\n"
        "low = jax.jit(lambda x: jax.numpy.tanh(x) * 2 + 1).lower(x)\n"
        "t.append(time.perf_counter())\n"
        "t.append(time.perf_counter())\n"
        "f = jax.jit(lambda x: jax.numpy.tanh(x) * 2 + 1)\n"
        "np.asarray(f(x))\n"
        "t.append(time.perf_counter())\n"
        "np.asarray(f(x))\n"
        "t.append(time.perf_counter())\n"
        "t.append(time.perf_counter())\n"
        "print(json.dumps([b - a for a, b in zip(t, t[1:])]))\n"),
}
STEPS = ["import numpy (and xfront, which does not import jax)", "import jax + jaxlib",
         "CPU client", "trace (jax.jit: trace + lower)", "lower to StableHLO text",
         "first call: trace + lower + compile + run", "second call",
         "MLIR parse + verify (not on the call path)"]

ENV = dict(os.environ, XFRONT_CACHE="0", JAX_ENABLE_COMPILATION_CACHE="false",
           TF_CPP_MIN_LOG_LEVEL="3")
# NOTE: every process reads compiled bytecode, as after an install (pip writes it then): with
# PYTHONDONTWRITEBYTECODE set, a source checkout would recompile xfront's ~100 modules in every
# process (measured 0.48 s of a 0.85 s import) while jax's installed bytecode is read. The
# bytecode goes to a private cache directory (PYTHONPYCACHEPREFIX; nothing is written next to
# the sources), filled by one untimed round first.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def _once(code: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all its threads) of one fresh process running ``code``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def _warm_bytecode() -> None:
    if "PYTHONPYCACHEPREFIX" not in ENV:
        ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="xfront-bench-pyc-")
    for code in list(SCRIPTS.values()) + list(PHASES.values()):
        subprocess.run([sys.executable, "-c", code], check=True, env=ENV, capture_output=True)


def _phases(runs: int) -> dict[str, list[float]]:
    samples: dict[str, list[list[float]]] = {k: [] for k in PHASES}
    for _ in range(runs):
        for name, code in PHASES.items():
            out = subprocess.run([sys.executable, "-c", code], check=True, env=ENV,
                                 capture_output=True, text=True).stdout
            samples[name].append(json.loads(out.strip().splitlines()[-1]))
    res = {k: [statistics.median(col) for col in zip(*v)] for k, v in samples.items()}
    print(f"\nfirst call by step (median of {runs} fresh processes, seconds)")
    print(f"{'step':52s} {'xfront':>8s} {'jax.jit':>8s}")
    for i, step in enumerate(STEPS):
        print(f"{step:52s} {res['xfront'][i]:8.3f} {res['jax.jit'][i]:8.3f}")
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--phases", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    _warm_bytecode()
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in SCRIPTS}
    for _ in range(args.runs):
        for name, code in SCRIPTS.items():
            samples[name].append(_once(code))
    res = {k: statistics.median(w for w, _ in v) for k, v in samples.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in samples.items()}
    print(f"load average {os.getloadavg()[0]:.1f}; median of {args.runs} fresh processes "
          "(wall; CPU time of the process, all threads)")
    for k in res:
        print(f"{k:22s} {res[k]:7.3f} s  CPU {cpu[k]:7.3f} s")
    for what, d in (("wall", res), ("CPU", cpu)):
        print(f"{what}: import xfront / jax = {d['import xfront'] / d['import jax']:.2f}; "
              f"first call xfront / jax.jit = "
              f"{d['first call xfront'] / d['first call jax.jit']:.2f}")
    out: dict[str, Any] = dict(res)
    out["cpu"] = cpu
    if args.phases:
        out["phases"] = _phases(args.runs)
    save_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
