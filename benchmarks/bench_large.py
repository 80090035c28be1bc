"""Large bridged calls against native ones: ``python -m benchmarks.bench_large``.

The three large workloads of the performance issue (an elementwise chain of 16M float32 and
float64, sum+mean of 16M float32) are called with xfront arrays ("native", the baseline) and
with the frameworks' own arrays, results returned to the caller's framework:

* ``torch (from_numpy)``: ``torch.from_numpy`` tensors, as data loaders make them (NumPy's
  allocations are 16 bytes off a 64-byte boundary, which PJRT cannot alias);
* ``torch (own)``: tensors torch allocated (64-byte aligned);
* ``numpy``: arrays as NumPy allocated them; ``tensorflow``: ``tf.constant`` tensors.

Every contender runs interleaved, round by round, and each cell is the median over rounds of
one call's time, beside its CPU time (the process's user + system time over the call, all
threads: steadier than wall time on a loaded host, where waiting for a core counts in wall
time only), with the minor page faults per call (``getrusage``; not noisy, unlike time on
a shared host) and two memory figures: ``peak RSS`` is the process's resident-set high-water
mark during that contender's calls (the kernel's ``VmHWM``, reset before every call through
``/proc/self/clear_refs``; the largest over rounds), and ``+MiB/call`` is that peak minus the
resident set just before the call: the memory a call needs beyond what is already resident
(fresh outputs, copies of inputs). Where the high-water mark cannot be reset, ``peak RSS`` is
the process's peak so far (``getrusage``) and ``+MiB/call`` is not measured (reported -1).
The process itself holds every workload's inputs and the other contenders' state, so compare
``+MiB/call`` across contenders; ``peak RSS`` shows the whole process. Results are checked
against NumPy before timing. Figures are measured, never asserted.

The report starts with the host's transparent-huge-page mode and whether the kernel actually
backs a madvised region with huge pages (pool and staging memory do not ask for them: on the
host these figures come from, none were granted).

Options: ``--rounds 7``, ``--workloads chain_f32,chain_f64,summean``, ``--elements 16777216``,
``--json out.json``; ``--placement`` adds the NumPy and ``torch.from_numpy`` contenders once
more with their results not placed (``... (unplaced)``: NOTE [Placing the results of
misaligned elementwise programs] in xfront/_offsets.py), in the same interleaved rounds;
``--page-offsets 0,16,64,...`` instead times the chain workloads on NumPy inputs placed that
many bytes into a page (all inputs alike; results not placed), interleaved, with each
result's page offset: where the loads trail the stores by a little mod 4096, the loop slows.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import xfront as xf  # noqa: E402
from benchmarks.report import save_json  # noqa: E402

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


def _status_mib(*fields: str) -> list[float] | None:
    try:
        with open("/proc/self/status") as fh:
            got = {k: float(v.split()[0]) / 1024 for k, _, v in
                   (line.partition(":") for line in fh) if k in fields}
        return [got[f] for f in fields]
    except (OSError, KeyError, ValueError):
        return None


def _reset_peak() -> bool:
    """Reset the kernel's resident-set high-water mark (Linux >= 4.0); False if unavailable."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status_mib("VmHWM") is not None
    except OSError:
        return False


def huge_pages() -> str:
    """The host's transparent-huge-page mode, and the huge pages a madvised 8 MiB anonymous
    region actually got (probed once: whether ``madvise(MADV_HUGEPAGE)`` could pay here)."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as fh:
            mode = fh.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        return "transparent huge pages: not available"
    try:
        import ctypes
        import mmap

        n = 8 << 20
        m = mmap.mmap(-1, n)
        buf = (ctypes.c_char * n).from_buffer(m)
        addr = ctypes.addressof(buf)
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.madvise(ctypes.c_void_p(addr), ctypes.c_size_t(n), 14)  # MADV_HUGEPAGE
        np.frombuffer(buf, np.uint8)[::4096] = 1
        huge = 0
        cur = False
        with open("/proc/self/smaps") as fh:
            for line in fh:
                head = line.split(" ", 1)[0]
                if "-" in head and ":" not in head:
                    lo, hi = (int(v, 16) for v in head.split("-"))
                    cur = lo <= addr < hi
                elif cur and line.startswith("AnonHugePages:"):
                    huge += int(line.split()[1])
        del buf
        m.close()
        got = f"madvise rc {rc}, {huge} KiB of a madvised 8 MiB region in huge pages"
    except (OSError, ValueError, AttributeError) as e:
        got = f"probe failed ({type(e).__name__})"
    return f"transparent huge pages: {mode}; {got}"


def _leaves(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _host(o: Any) -> np.ndarray:
    if hasattr(o, "numpy") and not isinstance(o, np.ndarray):
        return np.asarray(o.numpy())
    return np.asarray(o)


def _unplaced(call: Callable[[], Any]) -> Callable[[], Any]:
    from xfront import _offsets

    def run() -> Any:
        _offsets.PLACE = False
        try:
            return call()
        finally:
            _offsets.PLACE = True
    return run


def contenders(name: str, n: int = N, placement: bool = False
               ) -> tuple[dict[str, Callable[[], Any]], list[np.ndarray]]:
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
        if placement:
            out["torch (unplaced)"] = _unplaced(out["torch (from_numpy)"])
    except ImportError:
        pass
    if placement:
        out["numpy (unplaced)"] = _unplaced(out["numpy"])
    try:
        import tensorflow as tf

        tt = [tf.constant(x) for x in xs]
        out["tensorflow"] = lambda: f(*tt)
    except ImportError:
        pass
    return out, xs


def run(name: str, rounds: int, n: int = N, placement: bool = False
        ) -> dict[str, dict[str, float]]:
    calls, xs = contenders(name, n, placement)
    fn = WORKLOADS[name][0]
    want = [_host(o) for o in _leaves(fn(*[xf.asarray(x) for x in xs]))]
    for label, call in calls.items():  # right numbers first
        got = [_host(o) for o in _leaves(call())]
        for g, w in zip(got, want):
            if not np.allclose(g, w, rtol=1e-5, atol=1e-5):
                raise AssertionError(f"bench_large: {label!r} disagrees on {name}")
    times: dict[str, list[float]] = {k: [] for k in calls}
    faults: dict[str, list[int]] = {k: [] for k in calls}
    cpu: dict[str, list[float]] = {k: [] for k in calls}
    peak: dict[str, float] = {k: 0.0 for k in calls}
    extra: dict[str, float] = {k: -1.0 for k in calls}
    for _ in range(rounds):
        for label, call in calls.items():
            hwm = _reset_peak()
            before = _status_mib("VmRSS") if hwm else None
            f0 = _faults()
            c0 = time.process_time()
            t0 = time.perf_counter()
            r = call()
            dt = time.perf_counter() - t0
            cpu[label].append((time.process_time() - c0) * 1e3)
            faults[label].append(_faults() - f0)
            top = _status_mib("VmHWM") if hwm else None
            if top is not None and before is not None:
                peak[label] = max(peak[label], top[0])
                extra[label] = max(extra[label], top[0] - before[0])
            else:
                peak[label] = _peak_mib()
            del r
            times[label].append(dt * 1e3)
    return {k: {"median_ms": statistics.median(times[k]), "min_ms": min(times[k]),
                "cpu_ms": statistics.median(cpu[k]),
                "faults": statistics.median(faults[k]), "peak_rss_mib": peak[k],
                "call_extra_mib": extra[k]}
            for k in calls}


def page_offsets(name: str, offsets: list[int], rounds: int, n: int = N
                 ) -> dict[str, dict[str, float]]:
    """The chain on NumPy inputs ``offsets`` bytes into a page (results not placed): median
    wall and CPU time per call and the result's page offset, per input offset."""
    import mmap

    from xfront import _offsets

    fn, n_in, dtype = WORKLOADS[name]
    item = np.dtype(dtype).itemsize
    rng = np.random.default_rng(0)
    src = [rng.standard_normal(n).astype(dtype) for _ in range(n_in)]
    f = xf.compile(fn)
    want = np.asarray(f(*[xf.asarray(x) for x in src]))
    ins: dict[int, list[np.ndarray]] = {}
    for off in offsets:
        ins[off] = []
        for x in src:
            # page-aligned memory (the view keeps the map alive; writable, as the map is)
            raw = np.frombuffer(mmap.mmap(-1, n * item + 2 * 4096), np.uint8)
            a = raw[off:off + n * item].view(dtype)
            a[...] = x
            ins[off].append(a)
    out_at: dict[int, int] = {}
    _offsets.PLACE = False
    try:
        for off in offsets:
            r = f(*ins[off])
            if not np.allclose(r, want, rtol=1e-5, atol=1e-5):
                raise AssertionError(f"bench_large: inputs at {off} disagree on {name}")
            out_at[off] = r.ctypes.data % 4096
            del r
        wall: dict[int, list[float]] = {o: [] for o in offsets}
        cpu: dict[int, list[float]] = {o: [] for o in offsets}
        for _ in range(rounds):
            for off in offsets:
                c0 = time.process_time()
                t0 = time.perf_counter()
                r = f(*ins[off])
                wall[off].append((time.perf_counter() - t0) * 1e3)
                cpu[off].append((time.process_time() - c0) * 1e3)
                del r
    finally:
        _offsets.PLACE = True
    return {str(o): {"median_ms": statistics.median(wall[o]), "cpu_ms": statistics.median(cpu[o]),
                     "out_page_offset": out_at[o]} for o in offsets}


def report(name: str, res: dict[str, dict[str, float]], n: int = N) -> list[str]:
    base = res["native"]["median_ms"]
    cbase = res["native"]["cpu_ms"] or 1e-9
    lines = [f"\n{name} ({n} elements per input)",
             f"{'inputs':22s} {'median ms':>10s} {'min ms':>8s} {'x native':>9s} "
             f"{'cpu ms':>7s} {'x native':>9s} "
             f"{'faults/call':>12s} {'peak RSS MiB':>13s} {'+MiB/call':>10s}"]
    for k, r in res.items():
        lines.append(f"{k:22s} {r['median_ms']:10.2f} {r['min_ms']:8.2f} "
                     f"{r['median_ms'] / base:9.2f} {r['cpu_ms']:7.2f} "
                     f"{r['cpu_ms'] / cbase:9.2f} {r['faults']:12.0f} "
                     f"{r['peak_rss_mib']:13.0f} {r['call_extra_mib']:10.1f}")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--elements", type=int, default=N)
    p.add_argument("--json", default=None)
    p.add_argument("--placement", action="store_true")
    p.add_argument("--page-offsets", default=None)
    args = p.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; {huge_pages()}")
    results = {}
    if args.page_offsets:
        offs = [int(v) for v in args.page_offsets.split(",")]
        for name in args.workloads.split(","):
            if not name.startswith("chain"):
                continue
            res = results[name] = page_offsets(name, offs, args.rounds, args.elements)
            best = min(r["cpu_ms"] for r in res.values())
            print(f"\n{name}: inputs at a page offset, results not placed (cpu x: over the "
                  f"fastest offset)\n{'input offset':>12s} {'result offset':>13s} "
                  f"{'median ms':>10s} {'cpu ms':>7s} {'cpu x':>6s}")
            for o, r in res.items():
                print(f"{o:>12s} {r['out_page_offset']:13d} {r['median_ms']:10.2f} "
                      f"{r['cpu_ms']:7.2f} {r['cpu_ms'] / best:6.2f}", flush=True)
        save_json(args.json, results)
        return results
    for name in args.workloads.split(","):
        results[name] = run(name, args.rounds, args.elements, args.placement)
        print("\n".join(report(name, results[name], args.elements)), flush=True)
    save_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
