"""The CPU kernel benchmark (benchmarks/bench_kernels.py): every contender is checked against
the NumPy reference before it is timed, and the report carries time, CPU time and faults."""

from __future__ import annotations

import numpy as np

from benchmarks import bench_kernels
from benchmarks.contenders import CONTENDERS, Contender


def _wrong(w, xs):  # a contender whose result is off by one everywhere
    return (lambda: w.numpy(*xs) + 1.0), (lambda out: [np.asarray(out)])


def test_kernel_benchmark_checks_and_times(monkeypatch):
    monkeypatch.setitem(CONTENDERS, "wrong", Contender("wrong", "numpy", True, _wrong))
    rec = bench_kernels.run("layer_norm", ["xfront", "numpy", "wrong"], rounds=2, target=1e-3)
    assert rec["wrong"]["status"].startswith("AssertionError")
    assert "ms" not in rec["wrong"]
    for name in ("xfront", "numpy"):
        r = rec[name]
        assert r["status"] == "ok" and r["rel_err"] < 1e-4
        assert 0 < r["min_ms"] <= r["ms"] <= r["max_ms"]
        assert r["cpu_ms"] >= 0 and r["faults"] >= 0
    text = bench_kernels.table({"layer_norm": rec}, ["xfront", "numpy", "wrong"])
    row = text.splitlines()[-1]
    assert row.startswith("| layer_norm |") and "AssertionError" in row
    ratio = rec["xfront"]["ms"] / rec["numpy"]["ms"]
    assert f"{ratio:.2f}x |" in row  # xfront / best peer (numpy is the only timed peer)
    limits = {"bandwidth": {"triad": 1e10}, "matmul": {"flops": 1e11, "library": "numpy"}}
    roof = bench_kernels.roofline({"layer_norm": rec}, limits)
    gbs = bench_kernels.WORKLOADS["layer_norm"].bytes / (rec["xfront"]["ms"] / 1e3) / 1e9
    assert f"| layer_norm | 33.6 | 0.00 | {gbs:.1f} " in roof
