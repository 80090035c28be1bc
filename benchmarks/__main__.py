"""The xfront benchmark suite.

    python -m benchmarks                # the full run (all workloads, all contenders)
    python -m benchmarks --quick        # a short run (under two minutes on a 2-core host)
    python -m benchmarks --workloads softmax,matmul_2048 --contenders xfront,jax.jit,torch
    python -m benchmarks --list         # workloads and contenders

For every workload, each contender (NumPy, torch eager, torch.compile, TF eager,
tf.function(jit_compile=True), jax.jit, and xfront called with xfront / NumPy / torch / TF /
JAX arrays) is compiled and warmed up, its result is checked against a float64 NumPy reference
(a contender that disagrees is reported and not timed), and then all contenders are timed in
interleaved rounds. First-call latency (trace + compile) is measured in fresh processes.
The machine's limits (STREAM copy/triad bandwidth, peak GEMM FLOP/s) are measured first.
Results go to ``benchmarks/results/<name>.{md,json,png}`` (``--out``, ``--name``).

Imports: numpy, xfront, the benchmark modules; frameworks lazily (see contenders.py).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks import machine, report, timing  # noqa: E402
from benchmarks.contenders import CONTENDERS, missing_framework  # noqa: E402
from benchmarks.workloads import WORKLOADS, Workload  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(outs: list[np.ndarray], ref: Any, tol: tuple[float, float]) -> tuple[bool, float]:
    refs = list(ref) if isinstance(ref, (tuple, list)) else [ref]
    if len(outs) != len(refs):
        return False, float("inf")
    worst, ok = 0.0, True
    for o, r in zip(outs, refs):
        o = np.asarray(o, np.float64)
        r = np.asarray(r, np.float64)
        if o.shape != r.shape:
            return False, float("inf")
        scale = max(float(np.max(np.abs(r))), 1e-30)
        worst = max(worst, float(np.max(np.abs(o - r))) / scale if r.size else 0.0)
        ok = ok and bool(np.allclose(o, r, rtol=tol[0], atol=tol[1] * scale))
    return ok, worst


def run_workload(w: Workload, names: list[str], args: argparse.Namespace,
                 progress: timing.Progress) -> dict[str, Any]:
    inputs = w.inputs()
    ref = w.ref(*inputs)
    entry: dict[str, Any] = {"title": w.title, "bytes": w.bytes, "flops": w.flops,
                             "contenders": {}}
    calls, per_sample = {}, {}
    for name in names:
        c = CONTENDERS[name]
        rec: dict[str, Any] = {"peer": c.peer, "status": "ok"}
        entry["contenders"][name] = rec
        progress.show(f"{w.name}: preparing {name}")
        missing = missing_framework(name)
        if missing:
            rec.update(status="unavailable", detail=f"{missing} is not installed")
            progress.step(f"{w.name}: {name} unavailable")
            continue
        try:
            call, to_numpy = c.prepare(w, inputs)
            out = call()
            call()
            ok, err = _check(to_numpy(out), ref, w.tol)
            del out
        except Exception as e:  # noqa: BLE001 - a failing contender is reported, not fatal
            rec.update(status="error", detail=f"{type(e).__name__}: {str(e).splitlines()[0][:160]}")
            progress.step(f"{w.name}: {name} failed")
            continue
        rec["max_rel_err"] = err
        if not ok:
            rec.update(status="mismatch", detail=f"max relative error {err:.1e} exceeds "
                                                 f"rtol={w.tol[0]:g}")
            progress.step(f"{w.name}: {name} disagrees")
            continue
        calls[name] = call
        per_sample[name] = timing.calibrate(call, args.target_ms / 1e3)
        rec["per_sample"] = per_sample[name]
        progress.step(f"{w.name}: {name} ready")
    samples = timing.interleaved(
        calls, per_sample, args.rounds,
        on_round=lambda r: progress.step(f"{w.name}: round {r + 1}/{args.rounds}"))
    for name, s in samples.items():
        entry["contenders"][name].update(timing.summarize(s))
    skipped = args.rounds - (args.rounds if calls else 0)
    if skipped:
        progress.step(f"{w.name}: nothing to time", skipped)
    return entry


def first_calls(jobs: list[tuple[list[str], list[str]]], progress: timing.Progress,
                timeout: float) -> dict[tuple[str, str], Any]:
    """Run first_call.py for each (contenders, workloads) job in a fresh process."""
    out: dict[tuple[str, str], Any] = {}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for contenders, names in jobs:
        label = ",".join(contenders)
        progress.show(f"first call: {label} on {', '.join(names)}")
        try:
            proc = subprocess.run([sys.executable, "-m", "benchmarks.first_call", label,
                                   *names], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if not lines:
                err = (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]
                result = {c: {n: f"error: {err}" for n in names} for c in contenders}
            else:
                result = json.loads(lines[-1])
        except subprocess.TimeoutExpired:
            result = {c: {n: f"timeout after {timeout:.0f} s" for n in names}
                      for c in contenders}
        for c in contenders:
            for n in names:
                out[(c, n)] = result.get(c, {}).get(n)
        progress.step(f"first call: {label} done")
    return out


QUICK_WORKLOADS = [n for n, w in WORKLOADS.items() if w.quick]
QUICK_FIRST_CALL = ["softmax"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer workloads, rounds and first-call processes (under two minutes)")
    p.add_argument("--workloads", help="comma-separated workload names (default: all, or the "
                                       "quick set with --quick)")
    p.add_argument("--contenders", help="comma-separated contender names (default: all)")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 15, quick 5)")
    p.add_argument("--target-ms", type=float, help="time per sample (default 40, quick 10)")
    p.add_argument("--first-call", choices=("per-workload", "per-contender", "per-framework",
                                             "off"),
                   help="a fresh process per (contender, workload), per contender, per "
                        "framework (its contenders in turn), or none (default per-workload; "
                        "quick: per framework, on softmax only)")
    p.add_argument("--first-call-timeout", type=float, default=300.0)
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results"))
    p.add_argument("--name", help="file stem of the results (default: quick or full)")
    p.add_argument("--no-chart", action="store_true")
    p.add_argument("--list", action="store_true", help="list workloads and contenders")
    a = p.parse_args(argv)
    a.rounds = a.rounds or (5 if a.quick else 15)
    a.target_ms = a.target_ms or (10.0 if a.quick else 40.0)
    a.first_call = a.first_call or ("per-framework" if a.quick else "per-workload")
    a.name = a.name or ("quick" if a.quick else "full")
    return a


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.list:
        for n, w in WORKLOADS.items():
            print(f"{n:18s} {'(quick) ' if w.quick else '        '}{w.title}")
        print("contenders:", ", ".join(CONTENDERS))
        return {}
    names = args.workloads.split(",") if args.workloads else (
        QUICK_WORKLOADS if args.quick else list(WORKLOADS))
    contenders = args.contenders.split(",") if args.contenders else list(CONTENDERS)
    for n in names:
        if n not in WORKLOADS:
            sys.exit(f"unknown workload {n!r}; see --list")
    for n in contenders:
        if n not in CONTENDERS:
            sys.exit(f"unknown contender {n!r}; see --list")
    fc_names = [n for n in names if n in QUICK_FIRST_CALL] if args.quick else names
    fc_contenders = [c for c in contenders if missing_framework(c) is None
                     and c not in ("xfront[numpy]", "xfront[torch]", "xfront[tf]",
                                   "xfront[jax]")]
    if args.first_call == "off" or not fc_names:
        jobs: list[tuple[list[str], list[str]]] = []
    elif args.first_call == "per-framework":
        families: dict[str, list[str]] = {}
        for c in fc_contenders:
            families.setdefault(CONTENDERS[c].family, []).append(c)
        jobs = [(cs, fc_names) for cs in families.values()]
    elif args.first_call == "per-contender":
        jobs = [([c], fc_names) for c in fc_contenders]
    else:
        jobs = [([c], [n]) for c in fc_contenders for n in fc_names]
    steps = 4 + len(names) * (len(contenders) + args.rounds) + len(jobs)
    progress = timing.Progress(steps)
    t0 = time.perf_counter()
    result: dict[str, Any] = {"meta": {
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
        "rounds": args.rounds, "target_ms": args.target_ms,
        "first_call": {"per-workload": "one fresh process per (contender, workload)",
                       "per-contender": "one fresh process per contender, workloads "
                                        + ", ".join(fc_names) + " in order",
                       "per-framework": "one fresh process per framework (eager contender "
                                        "first, then the compiled one), workloads "
                                        + ", ".join(fc_names),
                       "off": "not measured"}[args.first_call],
        "machine": machine.describe(), "loadavg": os.getloadavg()}, "workloads": {}}
    progress.show("measuring memory bandwidth and peak GEMM")
    result["limits"] = machine.measure(args.quick)
    progress.step("machine limits measured", 2)
    for n in names:
        result["workloads"][n] = run_workload(WORKLOADS[n], contenders, args, progress)
    for (c, n), v in first_calls(jobs, progress, args.first_call_timeout).items():
        rec = result["workloads"][n]["contenders"].get(c)
        if rec is not None:
            rec["first_call_s"] = v
    progress.show("measuring the machine limits again")
    result["limits"] = machine.best_of(result["limits"], machine.measure(args.quick))
    progress.step("machine limits measured again", 2)
    progress.close()
    result["meta"]["loadavg_end"] = os.getloadavg()
    result["meta"]["wall_s"] = time.perf_counter() - t0
    report.analyze(result)
    paths = report.write(result, args.out, args.name, with_chart=not args.no_chart)
    print(report.markdown(result))
    print(f"wrote {', '.join(paths)} in {result['meta']['wall_s']:.0f} s")
    return result


if __name__ == "__main__":
    main()
