"""The kernel registry: one ``Kernel`` record per kernel, used by the tests and the benchmarks.

Imports: xfront (public names), numpy. Framework equivalents are plain callables that import
torch / tensorflow lazily when called.

A ``Kernel`` holds the xfront function, its NumPy reference (computed in float64), the
equivalent torch and TensorFlow callables (same signature, framework tensors in and out), an
example-input builder, and the ``Case``s (keyword variants, e.g. layouts) the tests cover.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

import xfront as xf

# (rtol, atol) per dtype name
TOL_ELEMENTWISE = {"float32": (2e-5, 2e-6), "float64": (1e-12, 1e-14)}
TOL_REDUCTION = {"float32": (5e-5, 5e-6), "float64": (1e-11, 1e-13)}
TOL_MATMUL = {"float32": (2e-4, 2e-4), "float64": (1e-10, 1e-11)}


@dataclass(frozen=True)
class Case:
    """One keyword variant of a kernel: the kernel's keyword arguments, extra arguments for the
    example builder (e.g. which kind of mask to build), and which peers implement it."""

    label: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    build: Mapping[str, Any] = field(default_factory=dict)
    torch: bool = True
    tf: bool = True


@dataclass(frozen=True)
class Kernel:
    """A kernel and everything needed to check and benchmark it.

    ``example(rng, dtype, size, **case.kwargs, **case.build)`` (build wins on clashes) returns
    the positional array arguments (NumPy) for ``size`` 'test' (small) or 'bench' (the
    benchmark shapes).
    """

    name: str
    fn: Callable
    ref: Callable
    torch: Callable | None
    tf: Callable | None
    example: Callable[..., list[np.ndarray]]
    cases: tuple[Case, ...] = (Case("default"),)
    dtypes: tuple[str, ...] = ("float32", "float64")
    tol: Mapping[str, tuple[float, float]] = field(default_factory=lambda: TOL_REDUCTION)
    static: tuple[str, ...] = ()  # positional parameters that are not arrays (kernel sizes...)

    @property
    def static_argnames(self) -> tuple[str, ...]:
        """Parameters baked into the program when compiled: the keyword-only ones and
        ``static``."""
        params = inspect.signature(self.fn).parameters.values()
        kw = tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)
        return tuple(self.static) + kw

    @functools.cached_property
    def compiled(self) -> Any:
        """``xfront.compile(fn)`` with the keyword-only parameters static: call it with NumPy,
        torch, TF, JAX or xfront arrays, get results back in the same framework."""
        return xf.compile(self.fn, static_argnames=self.static_argnames)

    def inputs(self, case: Case, dtype: str = "float32", size: str = "test",
               seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return self.example(rng, dtype, size, **{**case.kwargs, **case.build})


# --- example builders ------------------------------------------------------------------------

def _normal(rng: np.random.Generator, shape: tuple[int, ...], dtype: str,
            scale: float = 1.0) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(dtype)


def rows_example(rng, dtype, size, **_):
    """One (rows, features) array: (4096, 1024) for benchmarks."""
    return [_normal(rng, (4096, 1024) if size == "bench" else (4, 5, 37), dtype, 3.0)]


def elementwise_example(rng, dtype, size, **_):
    return [_normal(rng, (4096, 1024) if size == "bench" else (5, 33), dtype, 3.0)]


def layer_norm_example(rng, dtype, size, **_):
    shape = (4096, 1024) if size == "bench" else (3, 5, 16)
    return [_normal(rng, shape, dtype, 2.0) + 0.5, _normal(rng, shape[-1:], dtype),
            _normal(rng, shape[-1:], dtype)]


def rms_norm_example(rng, dtype, size, **_):
    shape = (4096, 1024) if size == "bench" else (3, 5, 16)
    return [_normal(rng, shape, dtype, 2.0), _normal(rng, shape[-1:], dtype)]


def batch_norm_example(rng, dtype, size, *, layout="NCHW", **_):
    n, c, h, w = (32, 64, 56, 56) if size == "bench" else (2, 3, 5, 4)
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    return [_normal(rng, shape, dtype, 2.0), _normal(rng, (c,), dtype),
            (rng.random(c) + 0.5).astype(dtype), _normal(rng, (c,), dtype),
            _normal(rng, (c,), dtype)]


def attention_example(rng, dtype, size, *, mask=None, is_causal=False, **_):
    b, h, lq, lk, d = (4, 8, 512, 512, 64) if size == "bench" else (2, 3, 7, 9, 8)
    if is_causal and mask is None and size != "bench":
        lk = lq
    out = [_normal(rng, (b, h, lq, d), dtype), _normal(rng, (b, h, lk, d), dtype),
           _normal(rng, (b, h, lk, d), dtype)]
    if mask == "bool":
        keep = rng.random((b, 1, lq, lk)) < 0.7
        keep[..., 0] = True  # every query sees at least one key
        out.append(keep)
    elif mask == "additive":
        out.append(_normal(rng, (1, h, lq, lk), dtype))
    return out


def mlp_example(rng, dtype, size, **_):
    n, d, hdim = (512, 1024, 4096) if size == "bench" else (6, 16, 32)
    return [_normal(rng, (n, d), dtype), _normal(rng, (d, hdim), dtype, d ** -0.5),
            _normal(rng, (hdim,), dtype, 0.1), _normal(rng, (hdim, d), dtype, hdim ** -0.5),
            _normal(rng, (d,), dtype, 0.1)]


def cross_entropy_example(rng, dtype, size, **_):
    n, c = (4096, 1000) if size == "bench" else (9, 11)
    return [_normal(rng, (n, c), dtype, 3.0), rng.integers(0, c, size=n).astype(np.int64)]


def conv2d_example(rng, dtype, size, *, layout="NCHW", groups=1, bias=True, **_):
    n, c, h, w, o, k = (16, 64, 56, 56, 64, 3) if size == "bench" else (2, 4, 9, 8, 6, 3)
    x = _normal(rng, (n, c, h, w) if layout == "NCHW" else (n, h, w, c), dtype)
    wshape = (o, c // groups, k, k) if layout == "NCHW" else (k, k, c // groups, o)
    out = [x, _normal(rng, wshape, dtype, (c * k * k / groups) ** -0.5)]
    if bias:
        out.append(_normal(rng, (o,), dtype, 0.1))
    return out


def pool_example(rng, dtype, size, *, layout="NCHW", **_):
    n, c, h, w = (16, 64, 112, 112) if size == "bench" else (2, 3, 9, 8)
    return [_normal(rng, (n, c, h, w) if layout == "NCHW" else (n, h, w, c), dtype)]
