"""Normalization kernels: layer_norm, rms_norm, batch_norm (inference).

Imports: xfront (public names), numpy, kernels._util; torch / tensorflow lazily in the
equivalents.

Statistics are computed in float32 for 16-bit inputs, and the variance is two-pass
(``mean((x - mean)^2)``): the one-pass ``E[x^2] - E[x]^2`` form was measured no faster on
XLA:CPU and loses precision when |mean| >> std.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import xfront as xf
from xfront.kernels._util import as_array, downcast, np_float, np_like, upcast


def _axes(axis: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(a % ndim for a in axes))


def _affine_shape(x: Any, axes: tuple[int, ...]) -> tuple[int, ...]:
    """Shape that broadcasts a per-feature parameter (over ``axes``) against ``x``."""
    return tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))


def layer_norm(x: Any, weight: Any = None, bias: Any = None, *, axis: int | tuple[int, ...] = -1,
               eps: float = 1e-5) -> Any:
    """Layer normalization: ``(x - mean) / sqrt(var + eps) * weight + bias`` over ``axis``.

    Args:
      x: real floating array.
      weight, bias: optional arrays with the shape of ``x`` over ``axis`` (for the default
        ``axis=-1``: ``x.shape[-1:]``, as torch's ``normalized_shape``).
      axis: the normalized axis or axes (the trailing ones, as in torch, or any).
      eps: added to the variance.
    """
    x = as_array(x)
    y = upcast(x)
    axes = _axes(axis, x.ndim)
    mean = xf.mean(y, axis=axes, keepdims=True)
    d = y - mean
    var = xf.mean(d * d, axis=axes, keepdims=True)
    out = d * xf.rsqrt(var + eps)
    shape = _affine_shape(x, axes)
    if weight is not None:
        out = out * xf.reshape(upcast(as_array(weight)), shape)
    if bias is not None:
        out = out + xf.reshape(upcast(as_array(bias)), shape)
    return downcast(out, x)


def rms_norm(x: Any, weight: Any = None, *, axis: int | tuple[int, ...] = -1,
             eps: float = 1e-6) -> Any:
    """Root-mean-square normalization: ``x / sqrt(mean(x^2) + eps) * weight`` over ``axis``."""
    x = as_array(x)
    y = upcast(x)
    axes = _axes(axis, x.ndim)
    out = y * xf.rsqrt(xf.mean(y * y, axis=axes, keepdims=True) + eps)
    if weight is not None:
        out = out * xf.reshape(upcast(as_array(weight)), _affine_shape(x, axes))
    return downcast(out, x)


def _channel_axis(op: str, layout: str, ndim: int) -> int:
    if layout == "NCHW":
        return 1
    if layout == "NHWC":
        return ndim - 1
    raise xf.ArgumentError(f"xfront.kernels.{op}: layout={layout!r} is not 'NCHW' or 'NHWC'")


def batch_norm(x: Any, mean: Any, var: Any, weight: Any = None, bias: Any = None, *,
               eps: float = 1e-5, layout: str = "NCHW") -> Any:
    """Batch normalization at inference: ``(x - mean) / sqrt(var + eps) * weight + bias``.

    Args:
      x: input with a channel axis: (N, C, ...) for ``layout='NCHW'`` (PyTorch), (N, ..., C) for
        ``'NHWC'`` (TensorFlow/JAX).
      mean, var: running statistics, shape (C,).
      weight, bias: optional scale and shift, shape (C,).
      eps: added to the variance.

    The per-channel scale ``weight / sqrt(var + eps)`` is formed on (C,) vectors first, so the
    full-size work is one fused pass ``(x - mean) * scale + bias``.
    """
    x = as_array(x)
    y = upcast(x)
    c = _channel_axis("batch_norm", layout, x.ndim)
    shape = tuple(x.shape[c] if i == c else 1 for i in range(x.ndim))
    scale = xf.rsqrt(upcast(as_array(var)) + eps)
    if weight is not None:
        scale = scale * upcast(as_array(weight))
    out = (y - xf.reshape(upcast(as_array(mean)), shape)) * xf.reshape(scale, shape)
    if bias is not None:
        out = out + xf.reshape(upcast(as_array(bias)), shape)
    return downcast(out, x)


# --- NumPy references and framework equivalents ----------------------------------------------

def layer_norm_ref(x: np.ndarray, weight: Any = None, bias: Any = None, *, axis: Any = -1,
                   eps: float = 1e-5) -> np.ndarray:
    y = np_float(x)
    axes = _axes(axis, x.ndim)
    m = y.mean(axis=axes, keepdims=True)
    v = ((y - m) ** 2).mean(axis=axes, keepdims=True)
    out = (y - m) / np.sqrt(v + eps)
    shape = tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim))
    if weight is not None:
        out = out * np_float(weight).reshape(shape)
    if bias is not None:
        out = out + np_float(bias).reshape(shape)
    return np_like(out, x)


def rms_norm_ref(x: np.ndarray, weight: Any = None, *, axis: Any = -1,
                 eps: float = 1e-6) -> np.ndarray:
    y = np_float(x)
    axes = _axes(axis, x.ndim)
    out = y / np.sqrt((y * y).mean(axis=axes, keepdims=True) + eps)
    if weight is not None:
        out = out * np_float(weight).reshape(tuple(x.shape[i] if i in axes else 1
                                                   for i in range(x.ndim)))
    return np_like(out, x)


def batch_norm_ref(x: np.ndarray, mean: np.ndarray, var: np.ndarray, weight: Any = None,
                   bias: Any = None, *, eps: float = 1e-5, layout: str = "NCHW") -> np.ndarray:
    c = _channel_axis("batch_norm", layout, x.ndim)
    shape = tuple(x.shape[c] if i == c else 1 for i in range(x.ndim))
    out = (np_float(x) - np_float(mean).reshape(shape)) / np.sqrt(np_float(var).reshape(shape)
                                                                   + eps)
    if weight is not None:
        out = out * np_float(weight).reshape(shape)
    if bias is not None:
        out = out + np_float(bias).reshape(shape)
    return np_like(out, x)


def layer_norm_torch(x: Any, weight: Any = None, bias: Any = None, *, axis: Any = -1,
                     eps: float = 1e-5) -> Any:
    import torch

    n = len(_axes(axis, x.ndim))
    return torch.nn.functional.layer_norm(x, tuple(x.shape[x.ndim - n:]), weight, bias, eps)


def rms_norm_torch(x: Any, weight: Any = None, *, axis: Any = -1, eps: float = 1e-6) -> Any:
    import torch

    n = len(_axes(axis, x.ndim))
    return torch.nn.functional.rms_norm(x, tuple(x.shape[x.ndim - n:]), weight, eps)


def batch_norm_torch(x: Any, mean: Any, var: Any, weight: Any = None, bias: Any = None, *,
                     eps: float = 1e-5, layout: str = "NCHW") -> Any:
    import torch

    if layout == "NHWC":  # torch normalizes axis 1: move the channels there and back
        x = torch.movedim(x, -1, 1)
        out = torch.nn.functional.batch_norm(x, mean, var, weight, bias, False, 0.0, eps)
        return torch.movedim(out, 1, -1)
    return torch.nn.functional.batch_norm(x, mean, var, weight, bias, False, 0.0, eps)


def layer_norm_tf(x: Any, weight: Any = None, bias: Any = None, *, axis: Any = -1,
                  eps: float = 1e-5) -> Any:
    import tensorflow as tf

    axes = list(_axes(axis, x.ndim))
    mean, var = tf.nn.moments(x, axes=axes, keepdims=True)
    return tf.nn.batch_normalization(x, mean, var, bias, weight, eps)


def rms_norm_tf(x: Any, weight: Any = None, *, axis: Any = -1, eps: float = 1e-6) -> Any:
    import tensorflow as tf

    axes = list(_axes(axis, x.ndim))
    out = x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=axes, keepdims=True) + eps)
    return out if weight is None else out * weight


def batch_norm_tf(x: Any, mean: Any, var: Any, weight: Any = None, bias: Any = None, *,
                  eps: float = 1e-5, layout: str = "NCHW") -> Any:
    import tensorflow as tf

    c = _channel_axis("batch_norm", layout, x.ndim)
    shape = [x.shape[c] if i == c else 1 for i in range(x.ndim)]

    def r(v: Any) -> Any:
        return None if v is None else tf.reshape(v, shape)

    return tf.nn.batch_normalization(x, r(mean), r(var), r(bias), r(weight), eps)
