"""What crossing the bridge costs per call: ``python -m benchmarks.bench_bridges``.

One compiled elementwise kernel (``x * y + 1``, two inputs, one output) is called with xfront
arrays (the baseline), NumPy arrays, torch tensors, TensorFlow tensors and jax arrays, and each
framework's call is compared with the same crossing done by hand through ``jax.dlpack`` +
``jax.jit``. The raw executable (no Python wrapper at all) gives the floor.

Every call waits for its result (frameworks that get results back through DLPack wait anyway;
asynchronous results are blocked on), so the columns compare like with like. Contenders run
interleaved, round by round; each cell is the median (and min) over rounds of the mean time per
call. "per array" is (framework call - xfront call) / 3: the cost of moving one array across
(two in, one out). Figures are measured, never asserted; they depend on the host and its load.

Options: ``--sizes 8,1048576`` (elements), ``--rounds 15``, ``--json out.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import xfront as xf  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402
from benchmarks.report import save_json  # noqa: E402


def _optional(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        return None


def _time(fn: Callable[[], Any], budget_s: float) -> tuple[int, Callable[[], float]]:
    """Pick a call count that takes about ``budget_s``; return (n, one_round)."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > budget_s / 4 or n > 1 << 20:
            break
        n *= 4
    n = max(1, int(n * budget_s / max(dt, 1e-9)))

    def one_round() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n * 1e6

    return n, one_round


def _aligned(a: np.ndarray, offset: int = 0) -> np.ndarray:
    raw = np.empty(a.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def _misaligned(a: np.ndarray) -> np.ndarray:
    return _aligned(a, offset=16)


def contenders(size: int) -> dict[str, Callable[[], Any]]:
    """name -> a zero-argument call; every call returns a ready result."""
    torch = _optional("torch")
    tf = _optional("tensorflow")
    from xfront.lowering import runtime

    @xf.compile
    def kernel(x, y):
        return x * y + 1.0

    # 64-byte aligned NumPy data (PJRT aliases only such memory); "numpy (as allocated)" uses
    # NumPy's own allocations, which are usually 16 bytes off (then PJRT copies them)
    a = _aligned(np.linspace(0.0, 1.0, size, dtype=np.float32))
    b = _aligned(np.linspace(1.0, 2.0, size, dtype=np.float32))
    ua, ub = _misaligned(a), _misaligned(b)
    xa, xb = xf.asarray(a), xf.asarray(b)
    out: dict[str, Callable[[], Any]] = {}
    kernel(xa, xb)
    (entry,) = kernel._cache.values()
    bufs = list(entry.const_bufs) + [xa._buf, xb._buf]
    out["raw executable"] = lambda: runtime.block_all(entry.exe.run(bufs))
    out["xfront arrays"] = lambda: kernel(xa, xb).block_until_ready()
    out["numpy"] = lambda: kernel(a, b)
    out["numpy (not 64-byte aligned: copied)"] = lambda: kernel(ua, ub)
    jax = _optional("jax")
    if jax is not None:
        import jax.dlpack  # noqa: F401  (the by-hand baselines use jax itself)

        jk = jax.jit(lambda x, y: x * y + 1.0)
        ja, jb = xf.to_jax(xf.asarray(a)), xf.to_jax(xf.asarray(b))
        out["jax arrays"] = lambda: kernel(ja, jb).block_until_ready()
        out["by hand: jax.jit(jax arrays)"] = lambda: jk(ja, jb).block_until_ready()
        out["by hand: numpy -> jax.jit -> np.asarray"] = lambda: np.asarray(jk(a, b))
    if torch is not None:
        ta, tb = torch.from_numpy(a).clone(), torch.from_numpy(b).clone()  # torch-allocated
        out["torch"] = lambda: kernel(ta, tb)
        if jax is not None:
            out["by hand: torch -> jax.dlpack -> jit -> torch"] = lambda: torch.from_dlpack(
                jk(jax.dlpack.from_dlpack(ta), jax.dlpack.from_dlpack(tb)))
    if tf is not None:
        ga, gb = tf.constant(a), tf.constant(b)
        out["tensorflow"] = lambda: kernel(ga, gb)
        if jax is not None:
            out["by hand: tf -> jax.dlpack -> jit -> tf"] = lambda: tf.experimental.dlpack.from_dlpack(
                jk(jax.dlpack.from_dlpack(ga), jax.dlpack.from_dlpack(gb)).__dlpack__())
    return out


def _host(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # TF eager tensors
        return np.asarray(x.numpy())
    return np.asarray(x)


def run(size: int, rounds: int, budget_s: float) -> dict[str, dict[str, float]]:
    calls = contenders(size)
    a = np.linspace(0.0, 1.0, size, dtype=np.float32)
    want = a * np.linspace(1.0, 2.0, size, dtype=np.float32) + np.float32(1.0)
    for name, fn in calls.items():  # every route must give the same numbers before it is timed
        if name == "raw executable":  # runtime buffers, the same program as "xfront arrays"
            continue
        if not np.allclose(_host(fn()), want, rtol=1e-6, atol=1e-6):
            raise AssertionError(f"bench_bridges: {name!r} disagrees with NumPy")
    timers = {name: _time(fn, budget_s)[1] for name, fn in calls.items()}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, one in timers.items():
            samples[name].append(one())
    return {name: {"median_us": statistics.median(v), "min_us": min(v)}
            for name, v in samples.items()}


def report(size: int, res: dict[str, dict[str, float]]) -> list[str]:
    base = res["xfront arrays"]["median_us"]
    base_min = res["xfront arrays"]["min_us"]
    lines = [f"\n{size} float32 elements per array ({4 * size / 1024:.0f} KiB)",
             f"{'call':46s} {'median us':>10s} {'min us':>9s} {'vs xfront':>10s} "
             f"{'per array':>10s}"]
    for name, r in res.items():
        rel = f"{(r['median_us'] / base - 1) * 100:+.0f}%"
        per = ""
        if name in ("numpy", "torch", "tensorflow", "jax arrays"):
            per = f"{(r['min_us'] - base_min) / 3:.2f} us"
        lines.append(f"{name:46s} {r['median_us']:10.2f} {r['min_us']:9.2f} {rel:>10s} {per:>10s}")
    return lines


def main(argv: list[str] | None = None) -> dict[int, dict[str, dict[str, float]]]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="8,1048576")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--budget", type=float, default=0.02, help="seconds per cell per round")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    versions = {m: getattr(_optional(m), "__version__", "absent")
                for m in ("numpy", "jax", "torch", "tensorflow")}
    print(f"host: {cpu_name()}, {os.cpu_count()} cores; python {sys.version.split()[0]}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"device: {xf.default_device()} ({xf.default_device().kind}); load average "
          f"{os.getloadavg()[0]:.1f}")
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        res = run(size, args.rounds, args.budget)
        results[size] = res
        print("\n".join(report(size, res)))
    print("\nper array = (min framework call - min xfront call) / 3 arrays (2 in, 1 out)")
    save_json(args.json, {"host": cpu_name(), "versions": versions, "results": results})
    return results


if __name__ == "__main__":
    main()
