"""Benchmark workloads: one program per workload, written for every contender.

Imports: numpy, xfront, xfront.kernels; torch / tensorflow / jax only inside the per-framework
functions (called by the contenders that use them).

A ``Workload`` holds an input builder (NumPy arrays), a float64 NumPy reference used to check
every contender, one implementation per framework (NumPy, torch, TF, JAX and xfront, each
written the way a user of that framework would write it, with the same math; the compiled
contenders compile the same function their eager sibling runs), and a cost model
(logical bytes read + written, FLOPs) used to express the measured time as a fraction of the
machine's limits. Kernel workloads take their torch/TF implementations from
``xfront.kernels.KERNELS`` so the benchmarks and the differential tests run the same peers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import xfront as xf
from xfront.kernels import KERNELS


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    build: Callable[[np.random.Generator], list[np.ndarray]]
    ref: Callable[..., Any]  # float64 NumPy reference
    numpy: Callable[..., Any]
    torch: Callable[..., Any]
    tf: Callable[..., Any]
    jax: Callable[..., Any]
    xfront: Callable[..., Any]
    bytes: int  # logical bytes read + written by one call
    flops: float = 0.0
    tol: tuple[float, float] = (1e-4, 1e-5)  # (rtol, atol) against the float64 reference
    quick: bool = False  # part of --quick

    def inputs(self, seed: int = 0) -> list[np.ndarray]:
        return self.build(np.random.default_rng(seed))


def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float32,
            scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape, dtype=np.float64) * scale).astype(dtype)


def _f64(*xs: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(x, np.float64) for x in xs]


# --- tiny call: dispatch overhead ------------------------------------------------------------

def _tiny_np(x):
    return x * 2.0 + 1.0


def _tiny_torch(x):
    return x * 2.0 + 1.0


def _tiny_tf(x):
    return x * 2.0 + 1.0


def _tiny_jax(x):
    return x * 2.0 + 1.0


def _tiny_xf(x):
    return x * 2.0 + 1.0


# --- fused elementwise chain: tanh(a*b + c) * 0.5 + sigmoid(a) -------------------------------

def _chain_ref(a, b, c):
    a, b, c = _f64(a, b, c)
    return np.tanh(a * b + c) * 0.5 + 1.0 / (1.0 + np.exp(-a))


def _chain_np(a, b, c):
    return np.tanh(a * b + c) * 0.5 + 1.0 / (1.0 + np.exp(-a))


def _chain_torch(a, b, c):
    import torch

    return torch.tanh(a * b + c) * 0.5 + torch.sigmoid(a)


def _chain_tf(a, b, c):
    import tensorflow as tf

    return tf.tanh(a * b + c) * 0.5 + tf.sigmoid(a)


def _chain_jax(a, b, c):
    import jax

    return jax.numpy.tanh(a * b + c) * 0.5 + jax.nn.sigmoid(a)


def _chain_xf(a, b, c):
    return xf.tanh(a * b + c) * 0.5 + xf.sigmoid(a)


def _chain(n: int, dtype: Any, quick: bool) -> Workload:
    size = np.dtype(dtype).itemsize
    label = f"{n >> 20}M"
    name = f"chain_{label}_{np.dtype(dtype).name.replace('float', 'f')}"
    tol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-13)
    return Workload(name, f"tanh(a*b+c)*0.5 + sigmoid(a), {label} {np.dtype(dtype).name}",
                    lambda rng: [_normal(rng, (n,), dtype) for _ in range(3)], _chain_ref,
                    _chain_np, _chain_torch, _chain_tf, _chain_jax, _chain_xf,
                    bytes=4 * n * size, tol=tol, quick=quick)


# --- reductions: sum and mean of 16M float32 -------------------------------------------------

def _summean_ref(x):
    s = np.float64(x).sum()
    return s, s / x.size


def _summean_np(x):
    return x.sum(), x.mean()


def _summean_torch(x):
    return x.sum(), x.mean()


def _summean_tf(x):
    import tensorflow as tf

    return tf.reduce_sum(x), tf.reduce_mean(x)


def _summean_jax(x):
    return x.sum(), x.mean()


def _summean_xf(x):
    return xf.sum(x), xf.mean(x)


# --- softmax / layer_norm / attention / MLP (kernels) ----------------------------------------

def _softmax_np(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_jax(x):
    import jax

    return jax.nn.softmax(x, axis=-1)


def _layer_norm_np(x, w, b):
    m = x.mean(axis=-1, keepdims=True)
    d = x - m
    return d / np.sqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5) * w + b


def _layer_norm_jax(x, w, b):
    import jax

    m = x.mean(axis=-1, keepdims=True)
    d = x - m
    return d * jax.lax.rsqrt((d * d).mean(axis=-1, keepdims=True) + 1e-5) * w + b


def _attention_np(q, k, v):
    s = q @ np.swapaxes(k, -1, -2) * np.float32(1.0 / math.sqrt(q.shape[-1]))
    p = np.exp(s - s.max(-1, keepdims=True))
    return (p / p.sum(-1, keepdims=True)) @ v


def _attention_jax(q, k, v):
    import jax

    s = q @ k.swapaxes(-1, -2) * (1.0 / math.sqrt(q.shape[-1]))
    return jax.nn.softmax(s, axis=-1) @ v


_GELU_C = math.sqrt(2.0 / math.pi)


def _mlp_np(x, w1, b1, w2, b2):
    h = x @ w1 + b1
    h = 0.5 * h * (1.0 + np.tanh(np.float32(_GELU_C) * (h + np.float32(0.044715) * h ** 3)))
    return h @ w2 + b2


def _mlp_jax(x, w1, b1, w2, b2):
    import jax

    return jax.nn.gelu(x @ w1 + b1, approximate=True) @ w2 + b2


def _kernel_workload(name: str, kernel: str, title: str, jax_fn: Callable, numpy_fn: Callable,
                     nbytes: Callable[[list[np.ndarray]], int],
                     flops: Callable[[list[np.ndarray]], float], tol: tuple[float, float],
                     quick: bool, kwargs: dict[str, Any] | None = None) -> Workload:
    k = KERNELS[kernel]
    case = k.cases[0]
    kwargs = dict(kwargs or {})
    build = {**case.build, **kwargs}
    shapes = k.example(np.random.default_rng(0), "float32", "bench", **build)  # cost model

    def bind(fn: Callable) -> Callable:
        return (lambda *a: fn(*a, **kwargs)) if kwargs else fn

    return Workload(name, title, lambda rng: k.example(rng, "float32", "bench", **build),
                    bind(k.ref), numpy_fn, bind(k.torch), bind(k.tf), jax_fn, bind(k.fn),
                    bytes=nbytes(shapes), flops=flops(shapes), tol=tol, quick=quick)


def _nbytes(arrays: list[np.ndarray], outputs: int = 1) -> int:
    """Inputs + ``outputs`` arrays the size of the first input."""
    return sum(a.nbytes for a in arrays) + outputs * arrays[0].nbytes


def _conv_np(x, w, b):
    # NHWC x HWIO, stride 1, padding 1: a sum of nine shifted matrix products
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    n, h, wd, _ = x.shape
    out = b
    for i in range(3):
        for j in range(3):
            out = out + xp[:, i:i + h, j:j + wd, :] @ w[i, j]
    return out


def _conv_jax(x, w, b):
    import jax

    y = jax.lax.conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1)),
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + b


# --- matmul ----------------------------------------------------------------------------------

def _matmul_ref(a, b):
    return np.float64(a) @ np.float64(b)


def _matmul(a, b):
    return a @ b


def _matmul_tf(a, b):
    import tensorflow as tf

    return tf.matmul(a, b)


def _matmul_xf(a, b):
    return xf.matmul(a, b)


N_MM = 2048

WORKLOADS: dict[str, Workload] = {w.name: w for w in [
    Workload("tiny", "x*2+1 on 8 float32 (dispatch overhead)",
             lambda rng: [_normal(rng, (8,))], lambda x: np.float64(x) * 2 + 1, _tiny_np,
             _tiny_torch, _tiny_tf, _tiny_jax, _tiny_xf, bytes=64, tol=(1e-6, 1e-6),
             quick=True),
    _chain(1 << 20, np.float32, True),
    _chain(1 << 24, np.float32, True),
    _chain(1 << 20, np.float64, False),
    _chain(1 << 24, np.float64, False),
    Workload("sum_mean_16M", "sum(x) and mean(x), 16M float32",
             lambda rng: [_normal(rng, (1 << 24,))], _summean_ref, _summean_np, _summean_torch,
             _summean_tf, _summean_jax, _summean_xf, bytes=4 << 24, tol=(2e-5, 2e-3)),
    _kernel_workload("softmax", "softmax", "softmax over rows of (4096, 1024) float32",
                     _softmax_jax, _softmax_np, lambda a: _nbytes(a), lambda a: 0.0,
                     (1e-5, 1e-7), True),
    _kernel_workload("layer_norm", "layer_norm",
                     "layer_norm (4096, 1024) float32 with weight and bias",
                     _layer_norm_jax, _layer_norm_np, lambda a: _nbytes(a), lambda a: 0.0,
                     (1e-4, 1e-5), True),
    _kernel_workload("mlp", "mlp", "MLP block gelu_tanh(x@W1+b1)@W2+b2, x (512, 1024), hidden 4096",
                     _mlp_jax, _mlp_np, lambda a: _nbytes(a),
                     lambda a: 2 * 2 * a[0].shape[0] * a[1].shape[0] * a[1].shape[1],
                     (1e-4, 1e-4), False),
    _kernel_workload("attention", "scaled_dot_product_attention",
                     "attention softmax(QK^T/8)V, (4, 8, 512, 64) float32",
                     _attention_jax, _attention_np, lambda a: _nbytes(a),
                     lambda a: 2 * 2 * a[0].shape[0] * a[0].shape[1] * a[0].shape[2]
                     * a[1].shape[2] * a[0].shape[3], (1e-4, 1e-5), False),
    _kernel_workload("conv2d_nhwc", "conv2d", "conv2d 3x3 pad 1, NHWC (16, 56, 56, 64) x HWIO "
                     "(3, 3, 64, 64) + bias, float32", _conv_jax, _conv_np,
                     lambda a: _nbytes(a), lambda a: 2.0 * a[0].size * a[1].shape[-1] * 9,
                     (1e-4, 1e-4), False, kwargs={"padding": 1, "layout": "NHWC"}),
    Workload(f"matmul_{N_MM}", f"matmul {N_MM}x{N_MM} @ {N_MM}x{N_MM} float32",
             lambda rng: [_normal(rng, (N_MM, N_MM)), _normal(rng, (N_MM, N_MM))], _matmul_ref,
             _matmul, _matmul, _matmul_tf, _matmul, _matmul_xf, bytes=3 * 4 * N_MM * N_MM,
             flops=2.0 * N_MM ** 3, tol=(1e-4, 1e-3)),
]}
