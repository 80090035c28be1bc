"""Small helpers shared by the kernels (written against the public ``xfront`` namespace only).

Imports: xfront (public names), numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import xfront as xf

_LOW_PRECISION = (xf.float16, xf.bfloat16)


def as_array(x: Any) -> Any:
    """Any array-like (xfront, NumPy, torch, TF, JAX) as an xfront array: foreign arrays come in
    through DLPack without a copy, NumPy arrays are copied (as ``xf.asarray`` does: eager work
    is asynchronous, and the caller may write to its NumPy array right after the call)."""
    return x if isinstance(x, xf.Array) else xf.asarray(x)


def upcast(x: Any) -> Any:
    """16-bit floats are computed in float32 (reductions and transcendental functions keep their
    precision); other dtypes are returned unchanged."""
    return xf.astype(x, xf.float32, copy=False) if x.dtype in _LOW_PRECISION else x


def downcast(y: Any, like: Any) -> Any:
    """Undo ``upcast``: return ``y`` in ``like``'s dtype."""
    return y if y.dtype == like.dtype else xf.astype(y, like.dtype, copy=False)


def np_float(x: np.ndarray) -> np.ndarray:
    """A float64 copy for NumPy references (bfloat16/float16 included)."""
    return np.asarray(x, dtype=np.float64)


def np_like(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A float64 reference result cast back to the input's dtype."""
    return np.asarray(y).astype(x.dtype)
