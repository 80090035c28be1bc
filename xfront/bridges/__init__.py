"""Bridges: arrays of other frameworks entering and leaving xfront, zero-copy where possible.

Imports: _array, _dtypes, _errors, _device, bridges._dlpack (the transfer path), and the
per-framework adapters lazily (each imports its framework inside functions), so
``import xfront`` imports neither torch, TensorFlow nor jax.

Public helpers (re-exported as ``xf.to_torch`` ...): ``from_dlpack``, ``to_torch``, ``to_tf``,
``to_numpy``, ``to_jax``. ``import_foreign`` is the one entry point the namespace and
``compile`` use for a value that is not an xfront array; ``adapter_for_type`` is the per-type
dispatch, cached so that a compiled call pays one dict lookup per foreign argument.

See NOTE [Borrowed memory] and NOTE [Exporting an immutable buffer to a mutable framework] in
``_dlpack.py`` for what aliases what.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _errors
from xfront._array import Array
from xfront.bridges._dlpack import (Adapter, BorrowedArray, BridgeError, NeedsAutograd,
                                    NeedsGraphCall, export_array, export_buffer, import_array)
from xfront._rt import rt as _rt

__all__ = ["Adapter", "BorrowedArray", "BridgeError", "adapter_for_type", "adapter_named",
           "export", "framework_of", "from_dlpack", "import_foreign", "to_jax", "to_numpy",
           "to_tf", "to_torch"]

_errors.register_internal_dir(__file__)

FRAMEWORKS = ("numpy", "torch", "tensorflow", "jax")


def _load(framework: str) -> Adapter:
    if framework == "numpy":
        from xfront.bridges import numpy as mod
    elif framework == "torch":
        from xfront.bridges import torch as mod
    elif framework == "tensorflow":
        from xfront.bridges import tensorflow as mod
    elif framework == "jax":
        from xfront.bridges import jax as mod
    else:
        from xfront.bridges import _generic as mod
    return mod.ADAPTER


_BY_TYPE: dict[type, Adapter | None] = {}
_BY_NAME: dict[str, Adapter] = {}


def adapter_named(framework: str) -> Adapter:
    """The adapter of 'numpy', 'torch', 'tensorflow' or 'jax'."""
    ad = _BY_NAME.get(framework)
    if ad is None:
        ad = _BY_NAME[framework] = _load(framework)
    return ad


def _resolve(t: type) -> Adapter | None:
    if issubclass(t, Array):
        return None
    if issubclass(t, (np.ndarray, np.generic)):
        return adapter_named("numpy")
    root = (t.__module__ or "").partition(".")[0]
    if root == "torch":
        return adapter_named("torch")
    if root in ("tensorflow", "keras"):
        return adapter_named("tensorflow")
    if root in ("jax", "jaxlib"):
        return adapter_named("jax")
    if hasattr(t, "__dlpack__") and hasattr(t, "__dlpack_device__"):
        return adapter_named("dlpack")
    return None


def adapter_for_type(t: type) -> Adapter | None:
    """The adapter for arrays of type ``t`` (None: not an array xfront can take). Cached."""
    try:
        return _BY_TYPE[t]
    except KeyError:
        ad = _BY_TYPE[t] = _resolve(t)
        return ad


def framework_of(x: Any) -> str | None:
    """'torch', 'tensorflow', 'jax', 'numpy', 'xfront' or None (not an array)."""
    if isinstance(x, Array):
        return "xfront"
    ad = adapter_for_type(type(x))
    return None if ad is None else ad.name


def import_foreign(x: Any, *, op: str = "asarray", device: Any = None,
                   copy: bool | None = None) -> Array | None:
    """An xfront array viewing foreign array ``x`` (zero-copy where the layout allows), or
    None when ``x`` is not an array xfront can take."""
    ad = adapter_for_type(type(x))
    if ad is None:
        return None
    return _import(x, ad, op, device, copy)


def _import(x: Any, ad: Adapter, op: str, device: Any, copy: bool | None) -> Array:
    """``import_array`` for entry points that run eagerly: symbolic and autograd-recorded
    inputs are errors here (only compiled functions stage into graphs and record gradients)."""
    try:
        return import_array(x, ad, op, device, copy)
    except NeedsGraphCall:
        raise _errors.err(_errors.ArgumentError, op,
                          f"got a symbolic {type(x).__name__} (a value inside tf.function); "
                          "eager xfront functions need concrete tensors",
                          "call an xf.compile'd function inside tf.function instead: it is "
                          "staged into the TF graph as an XlaCallModule op") from None
    except NeedsAutograd:
        raise ad.autograd_error(x, op) from None


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """Import any array that implements DLPack (torch, TF, jax, NumPy, ...) as an xfront array.

    Args:
      x: an object with ``__dlpack__`` / ``__dlpack_device__`` (or a NumPy/torch/TF/jax array).
      device: where the result must live (default: where ``x`` lives).
      copy: None shares memory when possible; True always copies; False never copies and raises
        ``BridgeError`` when a copy would be needed (a transposed tensor, another device).

    Returns:
      An xfront array. Without a copy it views ``x``'s memory: see NOTE [Borrowed memory].
    """
    from xfront._device import get_device

    dev = None if device is None else get_device(device)
    if isinstance(x, Array):
        if getattr(x, "_buf", None) is None:  # a tracer
            raise x._concrete_error("xfront.from_dlpack")
        x._live_buf("from_dlpack", f"the {x.aval.short} array passed to xfront.from_dlpack")
        if dev is not None and dev != x.device:
            if copy is False:
                raise _errors.err(BridgeError, "from_dlpack",
                                  f"copy=False, but the array lives on {x.device} and "
                                  f"device={dev} was requested")
            return x.to_device(dev)
        if copy:
            return Array._new(_rt().copy_buffer(x._buf), x.aval, x.device)
        return x
    out = import_foreign(x, op="from_dlpack", device=dev, copy=copy)
    if out is None:
        raise _errors.err(_errors.ArgumentError, "from_dlpack",
                          f"{type(x).__name__} does not implement __dlpack__",
                          "pass a NumPy/torch/TensorFlow/jax array or a DLPack producer")
    return out


def _to(framework: str, op: str, x: Any, copy: bool | None) -> Any:
    ad = adapter_named(framework)
    if isinstance(x, Array):
        return export_array(x, ad, op, copy)
    if type(x) in (list, tuple, dict) or x is None:
        from xfront._tree import tree_map

        return tree_map(lambda leaf: _to(framework, op, leaf, copy), x)
    src = adapter_for_type(type(x))
    if src is ad and not copy:
        return x
    if ad.writable_export and isinstance(x, np.ndarray) and not x.flags.writeable:
        copy = True  # never hand out a writable alias of memory its owner marked read-only
    if src is None:
        if isinstance(x, (bool, int, float, complex)):
            from xfront._api._creation import asarray

            return export_array(asarray(x), ad, op, None)
        raise _errors.err(_errors.ArgumentError, op,
                          f"expected an array (or a pytree of arrays), got {type(x).__name__}")
    arr = _import(x, src, op, None, None)
    if copy:
        return export_array(arr, ad, op, True)
    # the import is a temporary that only we hold: hand its buffer over as it is
    return export_buffer(arr._buf, arr._device, ad, owned=not src.borrows)


def to_torch(x: Any, /, *, copy: bool | None = None) -> Any:
    """An xfront array (or a pytree of them, or any supported array) as a torch tensor.

    Zero-copy: the tensor uses the buffer's memory, on the same device. Because torch may write
    to it, the buffer *moves*: ``x`` is consumed and must not be used afterwards, unless other
    xfront objects share the buffer, in which case one copy is made and ``x`` stays valid (see
    NOTE [Exporting an immutable buffer to a mutable framework]).

    Args:
      copy: True always copies (``x`` stays valid); False never copies (raises ``BridgeError``
        when the buffer cannot be moved).
    """
    return _to("torch", "to_torch", x, copy)


def to_tf(x: Any, /, *, copy: bool | None = None) -> Any:
    """An xfront array (or a pytree of them) as a TensorFlow tensor, zero-copy; ``x`` stays
    valid (TF tensors are immutable). ``copy=True`` copies."""
    return _to("tensorflow", "to_tf", x, copy)


def to_numpy(x: Any, /, *, copy: bool | None = None) -> Any:
    """An xfront array (or a pytree of them) as a NumPy array.

    Zero-copy on CPU: a read-only view of the buffer (``x`` stays valid); from an accelerator,
    a copy. ``copy=True`` gives a writable copy.
    """
    return _to("numpy", "to_numpy", x, copy)


def to_jax(x: Any, /, *, copy: bool | None = None) -> Any:
    """An xfront array (or a pytree of them) as a jax array, zero-copy (the same runtime
    buffer; ``x`` stays valid). If jax later donates that array, ``x`` is deleted with it."""
    return _to("jax", "to_jax", x, copy)


def export(x: Array, framework: str) -> Any:
    """Hand an xfront array to ``framework`` ('numpy', 'torch', 'tensorflow', 'jax')."""
    if framework not in FRAMEWORKS:
        raise _errors.err(_errors.ArgumentError, "export",
                          f"unknown framework {framework!r}; expected one of "
                          + ", ".join(FRAMEWORKS))
    return _to(framework, "export", x, None)
