"""Export and deploy figures: first calls in fresh processes with cold and warm compile caches,
artifact sizes, loading a deserialized artifact, and ONNX Runtime vs xfront.

    python -m benchmarks.bench_export [--reps N] [--json PATH]

Every first-call figure is the median over ``--reps`` fresh processes of the time from "library
imported, inputs ready" to "first result on the host" (trace + lower + compile or cache load +
run). The MLP is 64 -> 256 -> 256 -> 10 (tanh) on a batch of 32, float32.

Both libraries have created their PJRT client before the clock starts (jaxlib's import and
client start-up, about a second on a loaded host, are not in the figures).

* ``xfront cold``: empty persistent cache (``XFRONT_CACHE_DIR`` a new directory);
  ``xfront warm``: a second process on the same directory; ``xfront no cache``: XFRONT_CACHE=0.
* ``jax.jit cold`` / ``warm``: jax's persistent compilation cache in a new directory, with its
  thresholds at 0 so that this small program is cached.
* ``kernel suite cold`` / ``warm``: the first call of every case of every kernel in
  ``xfront.kernels`` (one process, in sequence), with an empty and with a filled cache.
* ``kernel workloads xfront`` / ``jax.jit`` (cold / warm): the first call of each of the five
  kernel workloads of ``benchmarks/workloads.py`` that have a jax version (softmax,
  layer_norm, mlp, attention, conv2d; the kernels' small 'test' inputs), in sequence in one
  process: ``xf.compile`` of the xfront kernel against ``jax.jit`` of the jax version, each
  with its persistent cache empty and then filled.
* ``deserialize + first call``: ``xf.deserialize(bytes)`` then the first call, in a fresh
  process (cold and warm xfront cache).
* steady state: median per call of ``onnxruntime`` (the ``xf.export_onnx`` model) and of the
  exported xfront function, NumPy in and out, same process, interleaved.
* symbolic batch (``xf.Spec(("b", 64), ...)``): artifact size; in a fresh process
  ``deserialize`` + first call at batch 32, then the first call at batch 64 (refine + compile
  of a new size); steady state of onnxruntime (the ``dim_param`` model) and of the artifact at
  batch 32 and 64, and of the static-shape artifact at 32 (interleaved).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_SETUP = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    ws = [rng.standard_normal(s).astype(np.float32) * 0.1
          for s in ((64, 256), (256, 256), (256, 10))]
""")

_XFRONT = _SETUP + textwrap.dedent("""
    import xfront as xf
    xf.devices()  # jaxlib loaded and the PJRT client made before the clock starts
    def mlp(x, w1, w2, w3):
        return xf.tanh(xf.tanh(x @ w1) @ w2) @ w3
    f = xf.compile(mlp)
    t0 = time.perf_counter()
    np.asarray(f(x, *ws))
    print(json.dumps({"s": time.perf_counter() - t0}))
""")

_KERNELS = textwrap.dedent("""
    import json, time
    import numpy as np
    import xfront as xf
    from xfront.kernels import KERNELS
    xf.devices()
    calls = [(k, c, k.inputs(c)) for k in KERNELS.values() for c in k.cases]
    t0 = time.perf_counter()
    for k, c, args in calls:  # every kernel case once: trace, lower, compile (or load), run
        np.asarray(xf.tree_leaves(k.compiled(*args, **c.kwargs))[0])
    print(json.dumps({"s": time.perf_counter() - t0}))
""")

_JAX = _SETUP + textwrap.dedent("""
    import jax, jax.numpy as jnp
    jax.config.update("jax_compilation_cache_dir", sys.argv[1])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.devices()
    @jax.jit
    def mlp(x, w1, w2, w3):
        return jnp.tanh(jnp.tanh(x @ w1) @ w2) @ w3
    t0 = time.perf_counter()
    np.asarray(mlp(x, *ws))
    print(json.dumps({"s": time.perf_counter() - t0}))
""")

_KERNEL_WORKLOADS = ("softmax", "layer_norm", "mlp", "attention", "conv2d_nhwc")

_WORKLOADS_FIRST = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    from benchmarks.workloads import WORKLOADS
    from xfront.kernels import KERNELS
    which = sys.argv[1]
    if which == "jax":
        import jax
        jax.config.update("jax_compilation_cache_dir", sys.argv[2])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
        jax.devices()
    else:
        import xfront as xf
        xf.devices()
    kernel = {"softmax": ("softmax", {}), "layer_norm": ("layer_norm", {}), "mlp": ("mlp", {}),
              "attention": ("scaled_dot_product_attention", {}),
              "conv2d_nhwc": ("conv2d", {"padding": 1, "layout": "NHWC"})}
    calls = []
    for name in sys.argv[3].split(","):
        kname, kw = kernel[name]
        k = KERNELS[kname]
        args = k.example(np.random.default_rng(0), "float32", "test", **{**k.cases[0].build, **kw})
        calls.append((WORKLOADS[name], args))
    t0 = time.perf_counter()
    for w, args in calls:
        if which == "jax":
            jax.block_until_ready(jax.jit(w.jax)(*args))
        else:
            np.asarray(xf.tree_leaves(xf.compile(w.xfront)(*args))[0])
    print(json.dumps({"s": time.perf_counter() - t0}))
""")

_LOAD = _SETUP + textwrap.dedent("""
    import xfront as xf
    xf.devices()
    blob = open(sys.argv[1], "rb").read()
    t0 = time.perf_counter()
    f = xf.deserialize(blob)
    np.asarray(f(x, *ws))
    print(json.dumps({"s": time.perf_counter() - t0}))
""")


_LOAD_POLY = _SETUP + textwrap.dedent("""
    import xfront as xf
    xf.devices()
    blob = open(sys.argv[1], "rb").read()
    x64 = np.concatenate([x, x])
    t0 = time.perf_counter()
    f = xf.deserialize(blob)
    np.asarray(f(x, *ws))
    t1 = time.perf_counter()
    np.asarray(f(x64, *ws))
    print(json.dumps({"s": [t1 - t0, time.perf_counter() - t1]}))
""")


def _child(code: str, env: dict[str, str], *args: str) -> Any:
    full = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env=full, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])["s"]


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1e3, 1)


def first_calls(reps: int) -> dict[str, float]:
    out: dict[str, list[float]] = {k: [] for k in (
        "xfront cold", "xfront warm", "xfront no cache", "jax.jit cold", "jax.jit warm",
        "kernel suite cold", "kernel suite warm", "kernel workloads xfront cold",
        "kernel workloads xfront warm", "kernel workloads jax.jit cold",
        "kernel workloads jax.jit warm")}
    names = ",".join(_KERNEL_WORKLOADS)
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            env = {"XFRONT_CACHE": "1", "XFRONT_CACHE_DIR": d}
            out["xfront cold"].append(_child(_XFRONT, env))
            out["xfront warm"].append(_child(_XFRONT, env))
        out["xfront no cache"].append(_child(_XFRONT, {"XFRONT_CACHE": "0"}))
        with tempfile.TemporaryDirectory() as d:
            env = {"XFRONT_CACHE": "1", "XFRONT_CACHE_DIR": d}
            out["kernel suite cold"].append(_child(_KERNELS, env))
            out["kernel suite warm"].append(_child(_KERNELS, env))
        with tempfile.TemporaryDirectory() as d:
            out["jax.jit cold"].append(_child(_JAX, {}, d))
            out["jax.jit warm"].append(_child(_JAX, {}, d))
        with tempfile.TemporaryDirectory() as d:
            env = {"XFRONT_CACHE": "1", "XFRONT_CACHE_DIR": d}
            for kind in ("cold", "warm"):
                out[f"kernel workloads xfront {kind}"].append(
                    _child(_WORKLOADS_FIRST, env, "xfront", d, names))
        with tempfile.TemporaryDirectory() as d:
            for kind in ("cold", "warm"):
                out[f"kernel workloads jax.jit {kind}"].append(
                    _child(_WORKLOADS_FIRST, {}, "jax", d, names))
    return {k: _median_ms(v) for k, v in out.items()}


def artifacts_and_steady_state(reps: int, tmp: str) -> dict[str, object]:
    import numpy as np

    import xfront as xf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    ws = [rng.standard_normal(s).astype(np.float32) * 0.1
          for s in ((64, 256), (256, 256), (256, 10))]

    def mlp(x, w1, w2, w3):
        return xf.tanh(xf.tanh(x @ w1) @ w2) @ w3

    w1, w2, w3 = ws

    def mlp_closed(x):  # weights inside the artifact
        return xf.tanh(xf.tanh(x @ w1) @ w2) @ w3

    res: dict[str, object] = {}
    exp = xf.export(mlp, x, *ws)
    blob = exp.serialize()
    res["artifact bytes (MLP, weights as inputs)"] = len(blob)
    res["artifact bytes (with VJP)"] = len(xf.export(mlp, x, *ws, vjp=True).serialize())
    closed = xf.export(mlp_closed, x)
    res["artifact bytes (weights inside, 82k floats)"] = len(closed.serialize())
    path = os.path.join(tmp, "mlp.xfexport")
    with open(path, "wb") as f:
        f.write(blob)
    cold, warm = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            env = {"XFRONT_CACHE": "1", "XFRONT_CACHE_DIR": d}
            cold.append(_child(_LOAD, env, path))
            warm.append(_child(_LOAD, env, path))
    res["deserialize + first call, cold cache (ms)"] = _median_ms(cold)
    res["deserialize + first call, warm cache (ms)"] = _median_ms(warm)
    try:
        import onnxruntime as ort
    except ImportError:
        res["onnxruntime"] = "not installed"
        return res
    model = xf.export_onnx(exp)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {f"arg{i}": a for i, a in enumerate([x, *ws])}
    loaded = xf.deserialize(blob)
    want = np.asarray(loaded(x, *ws))
    got = sess.run(None, feeds)[0]
    res["onnxruntime max abs diff"] = float(np.max(np.abs(got - want)))
    direct = xf.compile(mlp)
    direct(x, *ws)
    t_ort, t_xf, t_direct = [], [], []
    for _ in range(max(reps, 5)):
        t0 = time.perf_counter()
        for _ in range(200):
            direct(x, *ws)
        t_direct.append((time.perf_counter() - t0) / 200)
        t0 = time.perf_counter()
        for _ in range(200):
            sess.run(None, feeds)
        t_ort.append((time.perf_counter() - t0) / 200)
        t0 = time.perf_counter()
        for _ in range(200):
            loaded(x, *ws)
        t_xf.append((time.perf_counter() - t0) / 200)
    res["steady state onnxruntime (us/call)"] = round(statistics.median(t_ort) * 1e6, 1)
    res["steady state xfront, deserialized (us/call)"] = round(statistics.median(t_xf) * 1e6, 1)
    res["steady state xf.compile(mlp) (us/call)"] = round(statistics.median(t_direct) * 1e6, 1)
    res.update(symbolic_batch(reps, tmp, x, ws, mlp, loaded))
    return res


def symbolic_batch(reps: int, tmp: str, x: Any, ws: list, mlp: Any,
                   static: Any) -> dict[str, object]:
    import numpy as np
    import onnxruntime as ort

    import xfront as xf

    res: dict[str, object] = {}
    exp = xf.export(mlp, xf.Spec(("b", 64), xf.float32), *ws)
    blob = exp.serialize()
    res["symbolic: artifact bytes (MLP, batch b)"] = len(blob)
    path = os.path.join(tmp, "mlp_poly.xfexport")
    with open(path, "wb") as f:
        f.write(blob)
    first, second = [], []
    for _ in range(reps):
        with tempfile.TemporaryDirectory() as d:
            a, b = _child(_LOAD_POLY, {"XFRONT_CACHE": "1", "XFRONT_CACHE_DIR": d}, path)
            first.append(a)
            second.append(b)
    res["symbolic: deserialize + first call at batch 32, cold cache (ms)"] = _median_ms(first)
    res["symbolic: first call at a new batch 64 (ms)"] = _median_ms(second)
    sess = ort.InferenceSession(xf.export_onnx(exp).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    loaded = xf.deserialize(blob)
    for n in (32, 64):
        xb = np.concatenate([x] * (n // 32))
        feeds = {f"arg{i}": a for i, a in enumerate([xb, *ws])}
        diff = np.max(np.abs(sess.run(None, feeds)[0] - np.asarray(loaded(xb, *ws))))
        res[f"symbolic: onnxruntime max abs diff (batch {n})"] = float(diff)
        t_ort, t_xf, t_static = [], [], []
        for _ in range(max(reps, 5)):
            t0 = time.perf_counter()
            for _ in range(200):
                sess.run(None, feeds)
            t_ort.append((time.perf_counter() - t0) / 200)
            t0 = time.perf_counter()
            for _ in range(200):
                loaded(xb, *ws)
            t_xf.append((time.perf_counter() - t0) / 200)
            if n == 32:  # the static-shape artifact of the same MLP, interleaved
                t0 = time.perf_counter()
                for _ in range(200):
                    static(xb, *ws)
                t_static.append((time.perf_counter() - t0) / 200)
        if t_static:
            res["symbolic: steady state static-shape artifact, batch 32 (us/call)"] = round(
                statistics.median(t_static) * 1e6, 1)
        res[f"symbolic: steady state onnxruntime, batch {n} (us/call)"] = round(
            statistics.median(t_ort) * 1e6, 1)
        res[f"symbolic: steady state xfront artifact, batch {n} (us/call)"] = round(
            statistics.median(t_xf) * 1e6, 1)
    return res


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    os.environ["XFRONT_CACHE"] = "0"  # this process: no cache (the children choose their own)
    from benchmarks.machine import cpu_name

    out: dict[str, object] = {"machine": cpu_name(), "reps": a.reps}
    out["first call (ms, median of fresh processes)"] = first_calls(a.reps)
    with tempfile.TemporaryDirectory() as tmp:
        out.update(artifacts_and_steady_state(a.reps, tmp))
    text = json.dumps(out, indent=2)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    return out


if __name__ == "__main__":
    main()
