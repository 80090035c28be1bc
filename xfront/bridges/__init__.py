"""Bridges: arrays of other frameworks entering and leaving xfront.

Imports: _array, _dtypes, _errors, _device; frameworks only lazily, inside functions, so
``import xfront`` imports neither torch nor TensorFlow.

``import_foreign(x)`` is the one entry point the namespace and ``compile`` use for a value
that is not an xfront or NumPy array; it returns None when ``x`` is not an array at all.
"""

from __future__ import annotations

from typing import Any

from xfront import _dtypes, _errors
from xfront._array import Array
from xfront._aval import AbstractArray


def framework_of(x: Any) -> str | None:
    """'torch', 'tensorflow', 'jax', 'numpy', 'xfront' or None, judged by the type's module."""
    if isinstance(x, Array):
        return "xfront"
    mod = type(x).__module__.split(".")[0]
    if mod in ("torch", "tensorflow", "jax", "jaxlib", "numpy", "keras"):
        return {"jaxlib": "jax", "keras": "tensorflow"}.get(mod, mod)
    return None


def import_foreign(x: Any, *, op: str = "asarray", device: Any = None) -> Array | None:
    """A zero-copy (where the layout allows) xfront Array viewing a foreign array."""
    if not hasattr(x, "__dlpack__"):
        fw = framework_of(x)
        if fw == "tensorflow" and hasattr(x, "read_value"):  # tf.Variable
            return import_foreign(x.read_value(), op=op, device=device)
        return None
    from xfront._device import default_device
    from xfront.lowering import runtime

    dev = default_device() if device is None else device
    obj = x
    if framework_of(x) == "torch":
        if x.requires_grad:
            raise _errors.err(_errors.ArgumentError, op,
                              "the torch tensor requires grad; xfront does not track torch "
                              "gradients through this call",
                              "call xfront compiled functions (they support autograd) or pass "
                              "tensor.detach()")
        obj = x.contiguous() if not x.is_contiguous() else x
    capsule = obj.__dlpack__()
    buf = runtime.from_dlpack_capsule(capsule, dev.rt)
    d = _dtypes.dtype(buf.dtype)
    return Array._new(buf, AbstractArray(tuple(buf.shape), d), dev)


def export(x: Array, framework: str) -> Any:
    """Hand an xfront array to ``framework`` ('numpy', 'torch', 'tensorflow', 'jax')."""
    from xfront.lowering import runtime

    if framework == "numpy":
        return runtime.to_numpy(x._buf)
    if framework == "torch":
        import torch

        return torch.from_dlpack(x._buf)
    if framework == "tensorflow":
        import tensorflow as tf

        return tf.experimental.dlpack.from_dlpack(x._buf.__dlpack__())
    if framework == "jax":
        return x._buf
    raise _errors.err(_errors.ArgumentError, "export", f"unknown framework {framework!r}")
