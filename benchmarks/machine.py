"""The machine's limits: memory bandwidth (STREAM-style copy and triad) and peak matmul FLOP/s.

Imports: numpy (threads for the bandwidth kernels); torch lazily for the matmul peak.

Bandwidth: STREAM's copy (``a = b``) and triad (``a = b + s*c``) on float64 arrays far larger
than the caches, one thread per core, each thread sweeping its own contiguous slice in
cache-sized blocks (the triad's two NumPy passes per block stay in L2, so memory sees one read
of b and c and one write of a). Bytes are counted as STREAM does (2 and 3 arrays, no
write-allocate traffic), the same convention as the workloads' byte counts.
Peak FLOP/s: the best float32 GEMM any available library (NumPy's BLAS, torch) reaches at
2048^3, i.e. a measured, not a datasheet, peak.
"""

from __future__ import annotations

import os
import platform
import threading
import time
from typing import Any, Callable

import numpy as np

_BLOCK = 1 << 15  # float64 elements per block (256 KiB)


def _threaded(n: int, work: Callable[[int, int], None], threads: int) -> float:
    """Run ``work(lo, hi)`` over [0, n) split across ``threads``; returns wall seconds."""
    bounds = np.linspace(0, n, threads + 1).astype(int)
    ts = [threading.Thread(target=work, args=(int(bounds[i]), int(bounds[i + 1])))
          for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return time.perf_counter() - t0


def stream(n: int = 1 << 25, reps: int = 5, threads: int | None = None) -> dict[str, float]:
    """Best-of-``reps`` copy and triad bandwidth in bytes/s."""
    threads = threads or os.cpu_count() or 1
    a = np.ones(n)
    b = np.full(n, 2.0)
    c = np.full(n, 0.5)
    scalar = 3.0

    def copy(lo: int, hi: int) -> None:
        for i in range(lo, hi, _BLOCK):
            j = min(i + _BLOCK, hi)
            np.copyto(a[i:j], b[i:j])

    def triad(lo: int, hi: int) -> None:
        for i in range(lo, hi, _BLOCK):
            j = min(i + _BLOCK, hi)
            np.multiply(c[i:j], scalar, out=a[i:j])
            np.add(a[i:j], b[i:j], out=a[i:j])

    best_copy = min(_threaded(n, copy, threads) for _ in range(reps))
    best_triad = min(_threaded(n, triad, threads) for _ in range(reps))
    assert a[0] == 2.0 + scalar * 0.5
    return {"copy": 2 * 8 * n / best_copy, "triad": 3 * 8 * n / best_triad}


def peak_matmul(n: int = 2048, reps: int = 3) -> dict[str, Any]:
    """Best float32 GEMM FLOP/s over NumPy's BLAS and torch (if installed)."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    results: dict[str, float] = {}

    def best(fn: Callable[[], Any]) -> float:
        fn()
        return min(_time(fn) for _ in range(reps))

    results["numpy"] = 2.0 * n ** 3 / best(lambda: a @ a)
    try:
        import torch

        t = torch.from_numpy(a)
        results["torch"] = 2.0 * n ** 3 / best(lambda: t @ t)
    except ImportError:
        pass
    lib = max(results, key=results.get)
    return {"flops": results[lib], "library": lib, "by_library": results}


def _time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe() -> dict[str, Any]:
    """CPU model, core count and library versions, for the report header."""
    model = cpu_name()
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("xfront", "jax", "jaxlib", "torch", "tensorflow"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - absent or broken: report as missing
            versions[mod] = "absent"
    return {"cpu": model, "cores": os.cpu_count(), "platform": platform.platform(),
            "versions": versions}


def measure(quick: bool) -> dict[str, Any]:
    bw = stream(n=1 << 24 if quick else 1 << 25, reps=3 if quick else 7)
    mm = peak_matmul(reps=2 if quick else 5)
    return {"bandwidth": bw, "matmul": mm}


def best_of(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The better of two ``measure`` results, figure by figure (the machine's limit is the best
    it showed; on a shared host a single measurement can land in a busy moment)."""
    bw = {k: max(a["bandwidth"][k], b["bandwidth"][k]) for k in a["bandwidth"]}
    mm = a["matmul"] if a["matmul"]["flops"] >= b["matmul"]["flops"] else b["matmul"]
    return {"bandwidth": bw, "matmul": mm, "runs": [a, b]}
