"""The benchmark suite's machinery (not its speed): every workload's xfront program agrees with
its float64 reference, a small run writes well-formed Markdown/JSON/PNG reports, and the
first-call probe works in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import report
from benchmarks.__main__ import ROOT, _check, main
from benchmarks.contenders import CONTENDERS
from benchmarks.workloads import WORKLOADS


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_xfront_program_matches_reference(name):
    w = WORKLOADS[name]
    inputs = w.inputs()
    call, to_numpy = CONTENDERS["xfront"].prepare(w, inputs)
    ok, err = _check(to_numpy(call()), w.ref(*inputs), w.tol)
    assert ok, f"{name}: max relative error {err:.2e}"


def test_check_flags_disagreement():
    ref = np.arange(4.0)
    assert _check([ref.astype(np.float32)], ref, (1e-6, 1e-7))[0]
    assert not _check([ref + 1], ref, (1e-6, 1e-7))[0]
    assert not _check([ref[:3]], ref, (1e-6, 1e-7))[0]


def test_small_run_writes_reports(tmp_path):
    result = main(["--quick", "--workloads", "tiny,softmax",
                   "--contenders", "numpy,xfront,xfront[numpy]",
                   "--rounds", "2", "--target-ms", "1", "--first-call", "off",
                   "--out", str(tmp_path), "--name", "t"])
    assert set(result["workloads"]) == {"tiny", "softmax"}
    for w in result["workloads"].values():
        assert w["best_peer"] == "numpy"
        for c in w["contenders"].values():
            assert c["status"] == "ok"
            assert c["min"] <= c["median"] <= c["max"] and c["n_samples"] == 2
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["limits"]["bandwidth"]["triad"] > 0 and data["limits"]["matmul"]["flops"] > 0
    md = (tmp_path / "t.md").read_text()
    assert "## Summary" in md and "| softmax |" in md
    pytest.importorskip("matplotlib")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_report_marks_failed_contenders():
    result = {"limits": {"bandwidth": {"triad": 1e10}, "matmul": {"flops": 1e11}},
              "workloads": {"w": {"title": "t", "bytes": 10 ** 7, "flops": 0.0, "contenders": {
                  "numpy": {"peer": True, "status": "ok", "median": 2e-3, "min": 1e-3,
                            "max": 3e-3, "max_rel_err": 0.0},
                  "xfront": {"peer": False, "status": "mismatch", "detail": "max relative "
                                                                             "error 1e-1"}}}}}
    report.analyze(result)
    w = result["workloads"]["w"]
    assert w["best_peer"] == "numpy" and w["best_xfront"] is None
    assert w["contenders"]["numpy"]["fraction_of_limit"] == pytest.approx(0.5)


def test_first_call_probe_runs_in_a_fresh_process():
    proc = subprocess.run([sys.executable, "-m", "benchmarks.first_call", "xfront", "tiny"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1]
    seconds = json.loads(line)["xfront"]["tiny"]
    assert isinstance(seconds, float) and 0 < seconds < 60


def test_bridge_benchmark_runs_and_every_route_agrees():
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    from benchmarks import bench_bridges

    res = bench_bridges.main(["--sizes", "8", "--rounds", "1", "--budget", "0.001"])
    rows = res[8] if 8 in res else next(iter(res.values()))
    assert {"raw executable", "xfront arrays", "numpy", "torch", "tensorflow"} <= set(rows)


def test_gradient_benchmark_checks_every_contender_against_the_reference():
    pytest.importorskip("torch")
    from benchmarks import bench_grad

    res = bench_grad.main(["--sizes", "4:3:5:2", "--rounds", "1", "--target-ms", "1"])
    (one,) = res.values()
    got = one["contenders"]
    assert set(got) >= {"torch eager", "xfront from torch", "xfront inside torch.compile",
                        "xf.value_and_grad (xfront arrays)"}
    for name, r in got.items():
        assert r["status"] == "ok", (name, r)
        assert r["max_rel_err"] < 2e-4 and r["median_us"] > 0


def test_demo_runs_and_times_every_contender(capsys):
    from benchmarks import demo

    rows = demo.main(["--quiet-ir", "--batch", "4", "--chain", "4096", "--repeat", "1",
                      "--min-time", "0.001"])
    out = capsys.readouterr().out
    seen = {(w, c) for w, c, _ in rows}
    for w in ("chain", "mlp", "softmax"):
        assert (w, "numpy") in seen and (w, "xfront (xfront arrays)") in seen
        assert f"\n{w}: xfront is " in out  # every workload gets a verdict (fastest / behind + why)
    assert all(t > 0 for _, _, t in rows)


def test_large_call_benchmark_checks_every_route_and_counts_faults():
    pytest.importorskip("torch")
    from benchmarks import bench_large

    res = bench_large.main(["--rounds", "1", "--elements", "4096", "--workloads",
                            "chain_f32,summean", "--placement"])
    for name in ("chain_f32", "summean"):
        assert {"native", "numpy", "torch (from_numpy)", "numpy (unplaced)",
                "torch (unplaced)"} <= set(res[name])
        for cell in res[name].values():
            assert cell["median_ms"] > 0 and cell["faults"] >= 0 and cell["peak_rss_mib"] > 0
            assert cell["cpu_ms"] >= 0 and cell["call_extra_mib"] >= -1
    res = bench_large.main(["--rounds", "1", "--elements", "4096", "--workloads", "chain_f32",
                            "--page-offsets", "0,16"])
    assert set(res["chain_f32"]) == {"0", "16"}
    for cell in res["chain_f32"].values():
        assert cell["cpu_ms"] >= 0 and 0 <= cell["out_page_offset"] < 4096


def test_dispatch_benchmark_times_every_route():
    pytest.importorskip("torch")
    from benchmarks import bench_dispatch

    res = bench_dispatch.main(["--rounds", "1", "--calls", "5"])
    assert {"xfront arrays", "numpy", "torch", "torch (general path)"} <= set(res)
    assert all(v >= 0 for v in res.values())


def test_startup_benchmark_splits_the_first_call_into_steps():
    from benchmarks import bench_startup

    res = bench_startup._phases(1)
    for side in ("xfront", "jax.jit"):
        assert len(res[side]) == len(bench_startup.STEPS)
        assert all(t >= 0 for t in res[side])
        assert res[side][1] > 0 and res[side][5] > 0  # jax's import; the first call
