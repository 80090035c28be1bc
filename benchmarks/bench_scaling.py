"""Scaling of a data-parallel training step over 1..N devices, and a multi-process run.

    python -m benchmarks.bench_scaling [--devices 1,2,4,8] [--processes 2] [--steps 30]
                                       [--json PATH]

Each configuration runs in a fresh process (the CPU device count is fixed when the runtime
starts; ``--xla_force_host_platform_device_count`` gives N virtual CPU devices). The step is an
MLP (64 -> 256 -> 256 -> 10, tanh) on a global batch of 512, float32: the batch is sharded
over the devices, the parameters are replicated, and the gradient is summed across devices by
the partitioner's all-reduce. Reported per configuration: the median time per step, and the
median time of a program that only all-reduces parameter-sized arrays (``xf.psum`` in
``xf.shard_map``): the time spent in collectives. The multi-process row runs the same step
over ``--processes`` processes joined by ``xf.distributed.initialize`` on 127.0.0.1 (gloo
collectives), 2 devices each. On a CPU host, virtual devices share the cores, so the figures
show overheads, not speed-ups; on a machine with several accelerators the same script measures
scaling. Figures are reported, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import textwrap

from benchmarks.report import save_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_WORKER = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import xfront as xf
    ndev, steps, pid, nproc, port = map(int, sys.argv[1:6])
    if nproc > 1:
        xf.distributed.initialize(f"127.0.0.1:{port}", nproc, pid, timeout_s=60)
    devs = xf.devices("cpu")
    mesh = xf.Mesh(devs, ("batch",))
    data = xf.NamedSharding(mesh, xf.P("batch"))
    repl = xf.NamedSharding(mesh, xf.P())
    rng = np.random.default_rng(0)
    sizes = [64, 256, 256, 10]
    params = tuple((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
                   for a, b in zip(sizes[:-1], sizes[1:]))
    B = 512
    x = rng.standard_normal((B, 64)).astype(np.float32)
    y = rng.standard_normal((B, 10)).astype(np.float32)

    def loss(ps, x, y):
        h = x
        for w in ps[:-1]:
            h = xf.tanh(h @ w)
        return xf.mean((h @ ps[-1] - y) ** 2)

    def step(ps, x, y):
        g = xf.grad(loss)(ps, x, y)
        return tuple(p - 0.01 * gp for p, gp in zip(ps, g))

    f = xf.compile(step, in_shardings=(repl, data, data), out_shardings=repl)
    n_local = B // nproc
    lx = x[pid * n_local:(pid + 1) * n_local]
    ly = y[pid * n_local:(pid + 1) * n_local]
    gx = xf.make_array_from_process_local_data(data, lx)
    gy = xf.make_array_from_process_local_data(data, ly)
    ps = tuple(xf.device_put(p, repl) for p in params)
    allreduce = xf.compile(
        xf.shard_map(lambda *gs: tuple(xf.psum(g, "batch") for g in gs), mesh=mesh,
                     in_specs=xf.P(), out_specs=xf.P()),
        in_shardings=repl, out_shardings=repl)

    def timed(fn, n):
        fn()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return float(np.median(ts))

    t_step = timed(lambda: f(ps, gx, gy), steps)
    t_coll = timed(lambda: allreduce(*ps), steps)
    print("RESULT " + json.dumps({"devices": len(devs), "processes": nproc,
                                  "step_ms": t_step * 1e3, "allreduce_ms": t_coll * 1e3}))
""")


def _run(ndev: int, steps: int, nproc: int = 1, timeout: float = 300) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        f" --xla_force_host_platform_device_count={ndev}").strip()
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    port = 0
    if nproc > 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(ndev), str(steps), str(pid),
                               str(nproc), str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for pid in range(nproc)]
    outs = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out = "timed out"
        outs.append(out)
    for line in outs[0].splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"run with {ndev} devices x {nproc} processes failed:\n{outs[0][-2000:]}")


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="1,2,4,8")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = [_run(int(n), args.steps) for n in args.devices.split(",")]
    if args.processes > 1:
        rows.append(_run(2, args.steps, args.processes))
    base = rows[0]["step_ms"]
    print("| devices | processes | step (ms) | vs 1 device | all-reduce of the gradients (ms) |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['devices']} | {r['processes']} | {r['step_ms']:.2f} | "
              f"{base / r['step_ms']:.2f}x | {r['allreduce_ms']:.2f} |")
    save_json(args.json, rows)
    return rows


if __name__ == "__main__":
    main()
