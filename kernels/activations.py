"""Activation kernels: gelu (exact and tanh approximation) and silu.

Imports: xfront (public names), numpy, kernels._util; torch / tensorflow lazily in the
``*_torch`` / ``*_tf`` equivalents (used by tests and benchmarks only).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import xfront as xf
from xfront.kernels._util import as_array, downcast, np_float, np_like, upcast

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_TANH_C = math.sqrt(2.0 / math.pi)


def gelu(x: Any, *, approximate: str = "none") -> Any:
    """Gaussian error linear unit, ``x * Phi(x)``.

    Args:
      x: real floating array.
      approximate: ``'none'`` (exact, with erf) or ``'tanh'``
        (``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``), as ``torch.nn.functional.gelu``.

    Returns:
      An array like ``x``.
    """
    x = as_array(x)
    y = upcast(x)
    if approximate == "tanh":
        inner = _TANH_C * (y + 0.044715 * (y * y * y))
        out = 0.5 * y * (1.0 + xf.tanh(inner))
    elif approximate == "none":
        out = 0.5 * y * (1.0 + xf.erf(y * _SQRT_HALF))
    else:
        raise xf.ArgumentError(f"xfront.kernels.gelu: approximate={approximate!r} is not "
                               "'none' or 'tanh'")
    return downcast(out, x)


def silu(x: Any) -> Any:
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``.

    The sigmoid is written as ``0.5 * tanh(0.5 x) + 0.5``: XLA:CPU evaluates tanh with one
    polynomial, measured faster than ``1 / (1 + exp(-x))`` (most of all in float64) and as
    accurate.
    """
    x = as_array(x)
    y = upcast(x)
    return downcast(y * (0.5 * xf.tanh(0.5 * y) + 0.5), x)


# --- NumPy references and framework equivalents ----------------------------------------------

def gelu_ref(x: np.ndarray, *, approximate: str = "none") -> np.ndarray:
    from scipy import special

    y = np_float(x)
    if approximate == "tanh":
        out = 0.5 * y * (1 + np.tanh(_TANH_C * (y + 0.044715 * y ** 3)))
    else:
        out = 0.5 * y * (1 + special.erf(y * _SQRT_HALF))
    return np_like(out, x)


def silu_ref(x: np.ndarray) -> np.ndarray:
    y = np_float(x)
    return np_like(y / (1 + np.exp(-y)), x)


def gelu_torch(x: Any, *, approximate: str = "none") -> Any:
    import torch

    return torch.nn.functional.gelu(x, approximate=approximate)


def silu_torch(x: Any) -> Any:
    import torch

    return torch.nn.functional.silu(x)


def gelu_tf(x: Any, *, approximate: str = "none") -> Any:
    import tensorflow as tf

    return tf.nn.gelu(x, approximate=approximate == "tanh")


def silu_tf(x: Any) -> Any:
    import tensorflow as tf

    return tf.nn.silu(x)
