"""Keyed dropout, written once in xfront.

Imports: xfront (the public namespace and xfront.random) only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import xfront as xf
from xfront import _errors


def dropout(x: Any, rate: float, key: Any, *, training: bool = True) -> Any:
    """Zero each entry of ``x`` with probability ``rate`` and scale the rest by ``1/(1-rate)``.

    The mask comes from ``xf.random.bernoulli(key, 1 - rate, x.shape)``, so the same key gives
    the same mask eagerly, compiled and on every backend; use a fresh key per step (e.g.
    ``xf.random.fold_in(key, step)``).

    Args:
      x: a floating-point array.
      rate: the drop probability, a Python float in ``[0, 1]``.
      key: a key from ``xf.random.key`` / ``split`` / ``fold_in``.
      training: when False, return ``x`` unchanged (inference).

    Returns:
      An array of ``x``'s shape and dtype. ``rate == 1`` gives zeros.
    """
    if not isinstance(rate, (int, float, np.floating)) or isinstance(rate, bool) or not (
            0.0 <= float(rate) <= 1.0):
        raise _errors.err(_errors.ArgumentError, "kernels.dropout",
                          f"rate must be a Python float in [0, 1], got {rate!r}")
    x = xf.asarray(x) if not isinstance(x, xf.Array) else x
    if not xf.isdtype(x.dtype, "real floating"):
        raise _errors.err(_errors.DTypeError, "kernels.dropout",
                          f"x must be a real floating-point array, got {x.dtype.name}")
    rate = float(rate)
    if not training or rate == 0.0:
        return x
    if rate == 1.0:
        return xf.zeros_like(x)
    keep = xf.random.bernoulli(key, 1.0 - rate, x.shape)
    return xf.where(keep, x * (1.0 / (1.0 - rate)), xf.zeros_like(x))


def dropout_ref(x: np.ndarray, rate: float, keep: np.ndarray) -> np.ndarray:
    """NumPy reference given the keep mask."""
    if rate == 1.0:
        return np.zeros_like(x)
    return np.where(keep, x * np.asarray(1.0 / (1.0 - rate), dtype=x.dtype), 0).astype(x.dtype)
