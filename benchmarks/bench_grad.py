"""Forward + backward of a small MLP loss from torch: ``python -m benchmarks.bench_grad``.

The loss ``mean((tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2)`` and its gradients with respect to the
four parameters, called from torch with parameters that require grad, then ``loss.backward()``:

* ``torch eager``: the loss written in torch;
* ``torch.compile``: the same, through ``torch.compile`` (inductor);
* ``xfront from torch``: the loss written in xfront (``xf.compile``), called with the torch
  tensors; torch autograd runs xfront's compiled forward (with residuals) and VJP programs;
* ``xfront inside torch.compile``: the xfront loss called inside a ``torch.compile``'d
  function (the ``xfront::call`` op and its backward op);
* ``xf.value_and_grad (xfront arrays)``: xfront alone, forward and backward in one program, no
  framework crossing (the floor for the xfront contenders).

Every contender's loss and gradients are checked against a float64 NumPy reference first (one
that disagrees is reported, not timed). Contenders then run interleaved, round by round; each
cell is the median (and min) over rounds of the mean time of one full step (zeroing the
gradients, forward, backward). Figures are measured, never asserted; they depend on the host
and its load.

Options: ``--sizes tiny,small`` (or ``B:D:H:O``), ``--rounds 15``, ``--target-ms 50``,
``--json out.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import xfront as xf  # noqa: E402
from benchmarks.timing import calibrate, interleaved  # noqa: E402
from benchmarks.machine import cpu_name  # noqa: E402
from benchmarks.report import save_json  # noqa: E402

SIZES = {"tiny": (32, 16, 32, 1), "small": (256, 128, 512, 10)}


@xf.compile
def xf_loss(w1, b1, w2, b2, x, y):
    return xf.mean((xf.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2)


def torch_loss(w1, b1, w2, b2, x, y):
    import torch

    return ((torch.tanh(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()


def reference(params: list[np.ndarray], x: np.ndarray, y: np.ndarray
              ) -> tuple[float, list[np.ndarray]]:
    """Loss and gradients in float64 NumPy (by hand)."""
    w1, b1, w2, b2 = (p.astype(np.float64) for p in params)
    x, y = x.astype(np.float64), y.astype(np.float64)
    h = np.tanh(x @ w1 + b1)
    r = h @ w2 + b2 - y
    d = 2 * r / r.size
    dh = (d @ w2.T) * (1 - h * h)
    return float(np.mean(r * r)), [x.T @ dh, dh.sum(0), h.T @ d, d.sum(0)]


def inputs(size: tuple[int, int, int, int], seed: int = 0):
    b, d, h, o = size
    rng = np.random.default_rng(seed)
    params = [(rng.standard_normal((d, h)) / np.sqrt(d)).astype(np.float32),
              (0.1 * rng.standard_normal(h)).astype(np.float32),
              (rng.standard_normal((h, o)) / np.sqrt(h)).astype(np.float32),
              (0.1 * rng.standard_normal(o)).astype(np.float32)]
    x = rng.standard_normal((b, d)).astype(np.float32)
    y = rng.standard_normal((b, o)).astype(np.float32)
    return params, x, y


def contenders(params: list[np.ndarray], x: np.ndarray, y: np.ndarray
               ) -> dict[str, Callable[[], tuple[Any, list[Any]]]]:
    """name -> one training step's forward + backward, returning (loss, gradients)."""
    import torch

    tp = [torch.tensor(p, requires_grad=True) for p in params]
    tx, ty = torch.tensor(x), torch.tensor(y)

    def torch_step(loss_fn: Callable) -> Callable[[], tuple[Any, list[Any]]]:
        def step() -> tuple[Any, list[Any]]:
            for p in tp:
                p.grad = None
            loss = loss_fn(*tp, tx, ty)
            loss.backward()
            return loss, [p.grad for p in tp]

        return step

    compiled_torch = torch.compile(torch_loss)
    compiled_xf = torch.compile(lambda *a: xf_loss(*a), fullgraph=True)
    xp = [xf.asarray(p) for p in params]
    xx, xy = xf.asarray(x), xf.asarray(y)
    vg = xf.value_and_grad(xf_loss, argnums=(0, 1, 2, 3))

    def xf_step() -> tuple[Any, list[Any]]:
        loss, grads = vg(*xp, xx, xy)
        loss.block_until_ready()
        return loss, list(grads)

    return {"torch eager": torch_step(torch_loss),
            "torch.compile": torch_step(compiled_torch),
            "xfront from torch": torch_step(xf_loss),
            "xfront inside torch.compile": torch_step(compiled_xf),
            "xf.value_and_grad (xfront arrays)": xf_step}


def check(step: Callable[[], tuple[Any, list[Any]]], ref: tuple[float, list[np.ndarray]],
          rtol: float = 2e-4) -> float:
    """Max relative error of the step's loss and gradients against the reference."""
    loss, grads = step()
    got = [np.asarray(_host(loss))] + [np.asarray(_host(g)) for g in grads]
    want = [np.asarray(ref[0])] + ref[1]
    err = 0.0
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return float("inf")
        scale = max(np.abs(w).max(), 1e-6)
        err = max(err, float(np.abs(g.astype(np.float64) - w).max() / scale))
    return err


def _host(a: Any) -> Any:
    return a.detach().numpy() if hasattr(a, "detach") else a


def run(size: tuple[int, int, int, int], rounds: int, target_s: float) -> dict[str, Any]:
    params, x, y = inputs(size)
    ref = reference(params, x, y)
    calls = contenders(params, x, y)
    out: dict[str, Any] = {}
    timed = {}
    for name, step in calls.items():
        err = check(step, ref)  # also the warm-up: traces and compiles
        ok = err < 2e-4
        out[name] = {"max_rel_err": err, "status": "ok" if ok else "mismatch"}
        if ok:
            for _ in range(3):
                step()
            timed[name] = step
    per = {name: calibrate(fn, target_s) for name, fn in timed.items()}
    samples = interleaved(timed, per, rounds)
    for name, s in samples.items():
        us = [t * 1e6 for t in s]
        out[name].update(median_us=statistics.median(us), min_us=min(us), max_us=max(us))
    return out


def report(label: str, size: tuple[int, int, int, int], res: dict[str, Any]) -> list[str]:
    b, d, h, o = size
    base = res.get("torch eager", {}).get("median_us")
    lines = [f"\n{label}: batch {b}, {d} -> {h} (tanh) -> {o}, float32, loss + 4 gradients",
             f"{'contender':36s} {'median us':>10s} {'min us':>9s} {'vs torch eager':>15s}"]
    for name, r in res.items():
        if r["status"] != "ok":
            lines.append(f"{name:36s} {r['status']} (max relative error {r['max_rel_err']:.1e})")
            continue
        rel = f"{r['median_us'] / base:.2f}x" if base else ""
        lines.append(f"{name:36s} {r['median_us']:10.1f} {r['min_us']:9.1f} {rel:>15s}")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="tiny,small",
                   help="comma-separated: tiny, small, or B:D:H:O")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--target-ms", type=float, default=50.0, help="milliseconds per sample")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    import torch

    versions = {"torch": torch.__version__, "numpy": np.__version__, "xfront": xf.__version__}
    print(f"host: {cpu_name()}, {os.cpu_count()} cores, torch threads "
          f"{torch.get_num_threads()}; python {sys.version.split()[0]}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"device: {xf.default_device()}; load average {os.getloadavg()[0]:.1f}")
    results = {}
    for label in args.sizes.split(","):
        size = SIZES.get(label) or tuple(int(v) for v in label.split(":"))
        res = run(size, args.rounds, args.target_ms / 1000)  # type: ignore[arg-type]
        results[label] = {"size": size, "contenders": res}
        print("\n".join(report(label, size, res)))  # type: ignore[arg-type]
    print("\none step = zero the gradients, forward, backward (the optimizer update excluded)")
    save_json(args.json, {"host": cpu_name(), "versions": versions, "results": results})
    return results


if __name__ == "__main__":
    main()
