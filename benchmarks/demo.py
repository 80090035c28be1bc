"""The xfront demo: one program, written once, compiled for NumPy, PyTorch and TensorFlow inputs.

    python -m benchmarks.demo

It compiles an MLP forward pass and a softmax, prints the traced graph and the StableHLO that
XLA compiles, checks the results against NumPy, and times compiled xfront against NumPy (and
against torch / TensorFlow eager when they are installed) on the same inputs, in one run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import xfront as xf


def mlp(x, w1, b1, w2, b2):
    h = xf.tanh(x @ w1 + b1)
    return h @ w2 + b2


def softmax(x):
    m = xf.max(x, axis=-1, keepdims=True)
    e = xf.exp(x - m)
    return e / xf.sum(e, axis=-1, keepdims=True)


def np_mlp(x, w1, b1, w2, b2):
    return np.tanh(x @ w1 + b1) @ w2 + b2


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def timeit(fn, *, repeat: int = 7, min_time: float = 0.05) -> float:
    """Median seconds per call over ``repeat`` rounds (each round runs >= ``min_time``)."""
    fn()
    n = 1
    while True:
        t = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t
        if dt >= min_time:
            break
        n *= 2
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t) / n)
    return statistics.median(samples)


def _fmt(s: float) -> str:
    return f"{s * 1e6:9.1f} us" if s < 1e-3 else f"{s * 1e3:9.3f} ms"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--quiet-ir", action="store_true", help="do not print graph/StableHLO")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    B, D, H, O = args.batch, 512, 1024, 256
    params = [rng.standard_normal(s).astype(np.float32) * 0.05
              for s in ((B, D), (D, H), (H,), (H, O), (O,))]
    logits = rng.standard_normal((B, 1000)).astype(np.float32)

    print(f"xfront {xf.__version__} on {xf.default_device()} ({xf.default_device().kind})")
    cmlp = xf.compile(mlp)
    csoft = xf.compile(softmax)

    if not args.quiet_ir:
        print("\n== graph of mlp (xf.trace) ==")
        print(xf.trace(mlp)(*params))
        print("\n== StableHLO of softmax (compiled by XLA) ==")
        print(csoft.lower(logits).as_text())

    t0 = time.perf_counter()
    out = cmlp(*params)
    first = time.perf_counter() - t0
    ref = np_mlp(*params)
    print(f"\nmlp: first call (trace + lower + compile) {first * 1e3:.1f} ms; "
          f"max |xfront - numpy| = {np.abs(out - ref).max():.2e}")
    assert np.allclose(out, ref, rtol=1e-4, atol=1e-4)
    sm = csoft(logits)
    assert np.allclose(sm, np_softmax(logits), rtol=1e-5, atol=1e-6)

    rows: list[tuple[str, str, float]] = []
    rows.append(("mlp", "numpy", timeit(lambda: np_mlp(*params))))
    rows.append(("mlp", "xfront compiled (numpy in/out)", timeit(lambda: cmlp(*params))))
    xparams = [xf.asarray(a) for a in params]
    rows.append(("mlp", "xfront compiled (xfront arrays)",
                 timeit(lambda: cmlp(*xparams).block_until_ready())))
    rows.append(("softmax", "numpy", timeit(lambda: np_softmax(logits))))
    rows.append(("softmax", "xfront compiled (numpy in/out)", timeit(lambda: csoft(logits))))

    try:
        import torch

        tparams = [torch.from_numpy(a) for a in params]
        tout = cmlp(*tparams)
        assert isinstance(tout, torch.Tensor)
        assert np.allclose(tout.numpy(), ref, rtol=1e-4, atol=1e-4)
        tl = torch.from_numpy(logits)
        print(f"torch inputs -> {type(tout).__module__}.{type(tout).__name__} out, same values")
        rows.append(("mlp", "torch eager", timeit(
            lambda: torch.tanh(tparams[0] @ tparams[1] + tparams[2]) @ tparams[3] + tparams[4])))
        rows.append(("mlp", "xfront compiled (torch in/out)", timeit(lambda: cmlp(*tparams))))
        rows.append(("softmax", "torch eager", timeit(lambda: torch.softmax(tl, -1))))
        rows.append(("softmax", "xfront compiled (torch in/out)", timeit(lambda: csoft(tl))))
    except ImportError:
        print("torch is not installed: skipping torch inputs (pip install 'xfront[torch]')")

    try:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf

        fparams = [tf.constant(a) for a in params]
        fout = cmlp(*fparams)
        assert isinstance(fout, tf.Tensor)
        assert np.allclose(fout.numpy(), ref, rtol=1e-4, atol=1e-4)
        fl = tf.constant(logits)
        print(f"TF inputs -> {type(fout).__module__}.{type(fout).__name__} out, same values")
        rows.append(("mlp", "tensorflow eager", timeit(
            lambda: tf.tanh(fparams[0] @ fparams[1] + fparams[2]) @ fparams[3] + fparams[4])))
        rows.append(("mlp", "xfront compiled (TF in/out)", timeit(lambda: cmlp(*fparams))))
        rows.append(("softmax", "tensorflow eager", timeit(lambda: tf.nn.softmax(fl))))
        rows.append(("softmax", "xfront compiled (TF in/out)", timeit(lambda: csoft(fl))))
    except ImportError:
        print("tensorflow is not installed: skipping TF inputs (pip install 'xfront[tf]')")

    print(f"\n== timings (median of 7 rounds, same run; batch {B}) ==")
    base = {w: t for w, c, t in rows if c == "numpy"}
    print(f"{'workload':10s} {'contender':36s} {'time':>12s} {'vs numpy':>9s}")
    for w, c, t in rows:
        print(f"{w:10s} {c:36s} {_fmt(t):>12s} {base[w] / t:8.2f}x")


if __name__ == "__main__":
    main()
