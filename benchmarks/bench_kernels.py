"""The CPU kernel table: ``python -m benchmarks.bench_kernels``.

Five kernel workloads of ``benchmarks.workloads`` (softmax, layer_norm, attention, matmul_2048,
mlp) run by xfront (called with xfront arrays) and its peers (torch eager, torch.compile,
jax.jit, tf.function(jit_compile=True)), all contenders interleaved round by round in one
process. Each cell is the median over rounds of one call's time (a sample is the mean of a few
back-to-back calls), with the process CPU time per call (all threads; on a shared host it
tracks the work done better than wall time) and the minor page faults per call
(``getrusage``: the cost of fresh output or temporary memory). Every contender's result is checked
against the float64 NumPy reference before it is timed. Figures are measured, never asserted.

Options: ``--rounds 9``, ``--workloads softmax,layer_norm,...``, ``--contenders ...``,
``--target-ms 60``, ``--json out.json``, ``--hlo`` (print xfront's optimized HLO per workload),
``--no-limits`` (skip measuring the machine's bandwidth and GEMM peak for the roofline table).

Imports: numpy, xfront, the benchmark modules; frameworks lazily (see contenders.py).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import time
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import machine  # noqa: E402
from benchmarks.contenders import CONTENDERS, missing_framework  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402
from benchmarks.report import save_json  # noqa: E402

KERNEL_WORKLOADS = ["softmax", "layer_norm", "attention", "matmul_2048", "mlp"]
PEERS = ["torch", "torch.compile", "jax.jit", "tf.xla"]
# the targets: ratio to torch eager (softmax/layer_norm/attention) or to the best peer
TARGETS = {"softmax": ("torch", 1.25), "layer_norm": ("torch", 1.25),
           "attention": ("torch", 1.25), "matmul_2048": ("best", 1.1), "mlp": ("best", 1.1)}


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _check(out: Any, ref: Any, tol: tuple[float, float]) -> float:
    o = np.asarray(out[0] if isinstance(out, list) else out, np.float64)
    r = np.asarray(ref, np.float64)
    scale = max(float(np.max(np.abs(r))), 1e-30)
    if o.shape != r.shape or not np.allclose(o, r, rtol=tol[0], atol=tol[1] * scale):
        raise AssertionError(f"disagrees with the reference (max abs err "
                             f"{float(np.max(np.abs(o - r))) if o.shape == r.shape else 'shape'})")
    return float(np.max(np.abs(o - r))) / scale


def _sample(call: Callable[[], Any], n: int) -> tuple[float, float, float]:
    """(wall seconds, process CPU seconds, minor page faults) per call."""
    f0 = _faults()
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    t = (time.perf_counter() - t0) / n
    return t, (time.process_time() - c0) / n, (_faults() - f0) / n


def run(workload: str, contenders: list[str], rounds: int, target: float) -> dict[str, Any]:
    w = WORKLOADS[workload]
    xs = w.inputs()
    ref = w.ref(*xs)
    calls: dict[str, Callable] = {}
    per: dict[str, int] = {}
    rec: dict[str, Any] = {}
    for name in contenders:
        if missing_framework(name):
            rec[name] = {"status": "unavailable"}
            continue
        try:
            call, to_numpy = CONTENDERS[name].prepare(w, xs)
            err = _check(to_numpy(call()), ref, w.tol)
            call()
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            rec[name] = {"status": f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"}
            continue
        t = _sample(call, 2)[0]
        calls[name] = call
        per[name] = max(1, min(50, round(target / max(t, 1e-6))))
        rec[name] = {"status": "ok", "rel_err": err}
    samples: dict[str, list[tuple[float, float, float]]] = {n: [] for n in calls}
    gc.collect()
    gc.disable()
    try:
        names = list(calls)
        for r in range(rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                samples[name].append(_sample(calls[name], per[name]))
    finally:
        gc.enable()
    for name, s in samples.items():
        ts = [t for t, _, _ in s]
        rec[name].update(ms=1e3 * statistics.median(ts), min_ms=1e3 * min(ts),
                         max_ms=1e3 * max(ts), cpu_ms=1e3 * statistics.median([c for _, c, _ in s]),
                         faults=statistics.median([f for _, _, f in s]))
    return rec


def roofline(results: dict[str, dict[str, Any]], limits: dict[str, Any]) -> str:
    """xfront's median as a fraction of the machine's limits: bytes (inputs + outputs, no
    temporaries) against the triad bandwidth, FLOPs against the best measured float32 GEMM."""
    bw, peak = limits["bandwidth"]["triad"], limits["matmul"]["flops"]
    lines = [f"machine: triad {bw / 1e9:.1f} GB/s, peak GEMM {peak / 1e9:.0f} GFLOP/s "
             f"({limits['matmul']['library']})",
             "| workload | MB moved | GFLOP | xfront GB/s (% triad) | xfront GFLOP/s (% peak) |",
             "|---|---|---|---|---|"]
    for wname, rec in results.items():
        w = WORKLOADS[wname]
        t = rec.get("xfront", {}).get("ms")
        if not t:
            continue
        gbs = w.bytes / (t / 1e3) / 1e9
        fl = w.flops / (t / 1e3) / 1e9
        lines.append(f"| {wname} | {w.bytes / 1e6:.1f} | {w.flops / 1e9:.2f} | "
                     f"{gbs:.1f} ({100 * gbs * 1e9 / bw:.0f}%) | "
                     + (f"{fl:.0f} ({100 * fl * 1e9 / peak:.0f}%) |" if w.flops else "- |"))
    return "\n".join(lines)


def table(results: dict[str, dict[str, Any]], contenders: list[str]) -> str:
    peers = [c for c in contenders if c != "xfront" and not c.startswith("xfront")]
    head = "| workload | " + " | ".join(contenders) + " | xfront / torch | xfront / best peer |"
    lines = [head, "|" + "---|" * (len(contenders) + 3)]
    for wname, rec in results.items():
        cells = []
        for c in contenders:
            r = rec.get(c, {})
            cells.append(f"{r['ms']:.2f} ms (cpu {r['cpu_ms']:.1f}, {r['faults']:.0f} pf)"
                         if "ms" in r else r.get("status", "-"))
        x = rec.get("xfront", {}).get("ms")
        tm = rec.get("torch", {}).get("ms")
        best = min((rec[c]["ms"] for c in peers if "ms" in rec.get(c, {})), default=None)
        r1 = f"{x / tm:.2f}x" if x and tm else "-"
        r2 = f"{x / best:.2f}x" if x and best else "-"
        lines.append(f"| {wname} | " + " | ".join(cells) + f" | {r1} | {r2} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_kernels")
    p.add_argument("--workloads", default=",".join(KERNEL_WORKLOADS))
    p.add_argument("--contenders", default=",".join(["xfront", *PEERS]))
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--target-ms", type=float, default=60.0)
    p.add_argument("--json")
    p.add_argument("--hlo", action="store_true")
    p.add_argument("--no-limits", action="store_true", help="skip the bandwidth/GEMM roofline")
    a = p.parse_args(argv)
    contenders = a.contenders.split(",")
    limits = None if a.no_limits else machine.measure(quick=True)
    results = {}
    for wname in a.workloads.split(","):
        results[wname] = run(wname, contenders, a.rounds, a.target_ms / 1e3)
        if a.hlo:
            print(hlo(wname))
    if limits is not None:
        limits = machine.best_of(limits, machine.measure(quick=True))
    print(table(results, contenders))
    if limits is not None:
        print(roofline(results, limits))
    save_json(a.json, {"results": results, "limits": limits, "loadavg": os.getloadavg()})
    return results


def hlo(workload: str) -> str:
    """xfront's optimized HLO for a workload (what XLA:CPU fused and which library it calls)."""
    import xfront as xf

    w = WORKLOADS[workload]
    xs = [xf.asarray(x) for x in w.inputs()]
    fn = xf.compile(w.xfront)
    fn(*xs)
    entry = next(iter(fn._cache.values()))  # the one compiled signature
    return entry.exe.exe.hlo_text()


if __name__ == "__main__":
    main()
