"""The NumPy adapter: NumPy arrays enter through the runtime's host-buffer put.

Imports: numpy, _dtypes, _errors, bridges._dlpack.

Why not DLPack: NumPy's ``__dlpack__`` refuses read-only arrays (without a versioned capsule)
and bfloat16, and hands negative strides to consumers that may abort on them. The host put
takes every NumPy array: it aliases 64-byte-aligned row-major memory and copies the rest
(negative or non-compact strides, Fortran order, unaligned data) to row-major, always keeping
64-bit types (the put is called with 64-bit types enabled: otherwise jaxlib silently stores
float64/int64 data as 32-bit while the buffer still claims 64 bits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _dtypes, _errors
from xfront.bridges._dlpack import HOST, Adapter

_BY_NP: dict[np.dtype, _dtypes.DType] = {}


class NumpyAdapter(Adapter):
    name = "numpy"
    route = HOST
    borrows = True  # a later in-place write by the caller must not reach a running program

    def host_array(self, x: Any, op: str) -> tuple[np.ndarray, _dtypes.DType]:
        arr = x if type(x) is np.ndarray else np.asarray(x)
        d = _BY_NP.get(arr.dtype)
        if d is None:
            try:
                d = _dtypes.dtype(arr.dtype)
            except TypeError:
                raise _errors.err(_errors.DTypeError, op,
                                  f"the NumPy array has dtype {arr.dtype}, which xfront does "
                                  "not support", "supported dtypes: " + ", ".join(
                                      sorted(t.name for t in _dtypes.ALL))) from None
            _BY_NP[arr.dtype] = d
        return arr, d


ADAPTER = NumpyAdapter()
