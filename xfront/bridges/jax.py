"""The JAX adapter: jax arrays are buffers of the runtime xfront itself uses.

Imports: numpy, _dtypes, _errors, bridges._dlpack; the runtime adapter lazily. It never imports
jax (only ``xfront.lowering.runtime`` touches jax/jaxlib): a jax array is adopted as it is
(zero-copy, the same buffer object), after the runtime checked that it lives on one device and
has the default (row-major) layout. jax tracers (inside ``jax.jit``/``grad``/``vmap``) have no
buffer and raise a clear error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _dtypes, _errors
from xfront.bridges._dlpack import NATIVE, Adapter
from xfront._rt import rt as _rt

_errors.register_internal_dir(__file__)

_BY_NP: dict[np.dtype, _dtypes.DType] = {}


class JaxAdapter(Adapter):
    name = "jax"
    route = NATIVE

    def adopt(self, x: Any, op: str) -> tuple[Any, _dtypes.DType, Any]:
        rt = _rt()
        if type(x) is not rt.native_array_type():
            if rt.is_native_tracer(x):
                raise _errors.err(_errors.ArgumentError, op,
                                  f"got a jax tracer ({type(x).__name__}); xfront functions "
                                  "cannot run inside jax transformations (jax.jit, grad, vmap)",
                                  "call them outside jax.jit, with concrete jax arrays")
            raise _errors.err(_errors.ArgumentError, op,
                              f"cannot take a {type(x).__name__} as an array")
        try:
            buf, dev = rt.adopt(x)
        except ValueError as e:
            raise _errors.err(_errors.ArgumentError, op, str(e)) from None
        npd = np.dtype(buf.dtype)
        d = _BY_NP.get(npd)
        if d is None:
            try:
                d = _dtypes.dtype(npd)
            except TypeError:
                raise _errors.err(_errors.DTypeError, op,
                                  f"the jax array has dtype {npd}, which has no xfront "
                                  "equivalent", "supported: " + ", ".join(
                                      sorted(t.name for t in _dtypes.ALL))) from None
            _BY_NP[npd] = d
        return buf, d, dev


ADAPTER = JaxAdapter()
