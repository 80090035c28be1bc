"""Array API section "Creation Functions".

Imports: _helpers, _core, _eager, _device, prims, bridges.

Outside a trace, creation functions build their values with NumPy and upload them (no
per-shape compilation); inside a trace they record primitives (iota, broadcast_in_dim...), so
no large constants get baked into programs.

NOTE [asarray and NumPy memory]
    ``asarray(numpy_array)`` copies by default, because xfront arrays are immutable and a later
    in-place write to the NumPy array must not change them. ``copy=False`` aliases the NumPy
    memory without a copy when it is suitably aligned: the caller then promises not to mutate it.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from xfront import _core, _errors, _shapes
from xfront import _dtypes as dt
from xfront._api._helpers import broadcast_to, dtype_of, ensure_array, to_array
from xfront._array import Array
from xfront._device import get_device
from xfront.prims import elementwise as ew
from xfront.prims import shape as sh


def _tracing() -> bool:
    return _core.current_builder() is not None


def _upload(arr: np.ndarray, device: Any, *, copy: bool = True) -> Array:
    from xfront._eager import array_from_numpy

    return array_from_numpy(arr, get_device(device), copy=copy)


def _shape_arg(op: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) or (isinstance(shape, Array) and shape.ndim == 0):
        shape = (shape,)
    try:
        out = tuple(s if _shapes.is_symbolic(s) else operator.index(s) for s in shape)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, op,
                          f"shape must be a sequence of integers, got {shape!r}") from None
    if any(s < 0 for s in out):
        raise _errors.err(_errors.ShapeError, op, f"negative dimension in shape {out}")
    return out


def _dtype_arg(dtype: Any, default: dt.DType) -> dt.DType:
    return default if dtype is None else dt.dtype(dtype)


def asarray(obj: Any, /, *, dtype: Any = None, device: Any = None, copy: bool | None = None) -> Array:
    """Convert ``obj`` to an xfront array.

    Accepts xfront arrays, NumPy arrays and scalars, nested Python sequences, Python scalars,
    and torch / TensorFlow / JAX arrays (zero-copy through DLPack where the layout allows).
    See NOTE [asarray and NumPy memory] for ``copy``.
    """
    want = None if dtype is None else dt.dtype(dtype)
    if isinstance(obj, Array):
        out = obj
        if want is not None and out.dtype is not want:
            out = ew.convert(out, dtype=want)
        elif copy and not _tracing():
            out = sh.reshape(out, shape=out.shape)  # a fresh buffer
        if device is not None and not _tracing():
            out = out.to_device(get_device(device))
        return out
    if isinstance(obj, (list, tuple)) and any(isinstance(o, Array) for o in _flat(obj)):
        from xfront._api._manipulation import stack

        return stack([asarray(o, dtype=dtype, device=device) for o in obj])
    if not isinstance(obj, (np.ndarray, np.generic, list, tuple, bool, int, float, complex)):
        from xfront.bridges import import_foreign

        dev = None if device is None else get_device(device)
        foreign = import_foreign(obj, op="asarray", device=dev, copy=copy)
        if foreign is not None:
            return asarray(foreign, dtype=dtype) if want is not None else foreign
        if not hasattr(obj, "__array__"):
            raise _errors.err(_errors.ArgumentError, "asarray",
                              f"cannot convert {type(obj).__name__} to an array")
    if isinstance(obj, (bool, int, float, complex)):
        d = want or dt.weak_result(None, [dt.scalar_kind(obj)])[0]
        if isinstance(obj, int) and not isinstance(obj, bool):
            obj = dt.check_int_fits(obj, d, "asarray")
        arr = np.asarray(obj, dtype=d.np)
    else:
        arr = np.asarray(obj)
        if arr.dtype.kind not in "biufcV":
            raise _errors.err(_errors.DTypeError, "asarray",
                              f"cannot make an xfront array from data of dtype {arr.dtype}",
                              "supported dtypes: " + ", ".join(sorted(d.name for d in dt.ALL)))
        if not arr.dtype.isnative:  # the same values in native byte order (one copy)
            arr = arr.astype(arr.dtype.newbyteorder("="))
        if want is not None and arr.dtype != want.np:
            arr = arr.astype(want.np)
    try:
        dt.dtype(arr.dtype)  # validate
    except TypeError:
        raise _errors.err(_errors.DTypeError, "asarray",
                          f"cannot make an xfront array from data of dtype {arr.dtype}",
                          "supported dtypes: " + ", ".join(sorted(d.name for d in dt.ALL))
                          ) from None
    if _tracing():
        return ensure_array(arr)
    zero_copy = copy is False and isinstance(obj, np.ndarray) and arr is obj
    return _upload(arr, device, copy=not zero_copy)


def _flat(obj: Any):
    for o in obj:
        if isinstance(o, (list, tuple)):
            yield from _flat(o)
        else:
            yield o


def _filled(op: str, shape: Any, value: Any, dtype: dt.DType, device: Any) -> Array:
    shp = _shape_arg(op, shape)
    if _tracing():
        return sh.broadcast_in_dim(np.asarray(value, dtype=dtype.np), shape=shp, dims=())
    return _upload(np.full(shp, value, dtype=dtype.np), device)


def zeros(shape: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array of zeros (default dtype float64)."""
    return _filled("zeros", shape, 0, _dtype_arg(dtype, dt.default_float()), device)


def ones(shape: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array of ones (default dtype float64)."""
    return _filled("ones", shape, 1, _dtype_arg(dtype, dt.default_float()), device)


def empty(shape: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array with unspecified contents (xfront fills it with zeros)."""
    return zeros(shape, dtype=dtype, device=device)


def full(shape: Any, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array filled with ``fill_value`` (dtype inferred from it when not given)."""
    if isinstance(fill_value, Array):
        if fill_value.ndim != 0:
            raise _errors.err(_errors.ShapeError, "full",
                              f"fill_value must be a scalar, got {fill_value.aval.short}")
        d = _dtype_arg(dtype, fill_value.dtype)
        v = fill_value if fill_value.dtype is d else ew.convert(fill_value, dtype=d)
        return sh.broadcast_in_dim(v, shape=_shape_arg("full", shape), dims=())
    if isinstance(fill_value, (bool, int, float, complex)):
        d = _dtype_arg(dtype, dt.weak_result(None, [dt.scalar_kind(fill_value)])[0])
        if isinstance(fill_value, int) and not isinstance(fill_value, bool):
            fill_value = dt.check_int_fits(fill_value, d, "full")
    else:
        d = _dtype_arg(dtype, dt.dtype(np.asarray(fill_value).dtype))
    return _filled("full", shape, fill_value, d, device)


def _like(op: str, x: Any, value: Any, dtype: Any, device: Any) -> Array:
    x = to_array(op, x)
    d = _dtype_arg(dtype, dtype_of(x))
    dev = device if device is not None else (x.device if isinstance(x, Array) and not _tracing() else None)
    return _filled(op, tuple(x.shape), value, d, dev)


def zeros_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Array:
    """Zeros with the shape (and dtype, unless given) of ``x``."""
    return _like("zeros_like", x, 0, dtype, device)


def ones_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Array:
    """Ones with the shape (and dtype, unless given) of ``x``."""
    return _like("ones_like", x, 1, dtype, device)


def empty_like(x: Any, /, *, dtype: Any = None, device: Any = None) -> Array:
    """An array like ``x`` with unspecified contents (zeros)."""
    return _like("empty_like", x, 0, dtype, device)


def full_like(x: Any, /, fill_value: Any, *, dtype: Any = None, device: Any = None) -> Array:
    """An array like ``x`` filled with ``fill_value``."""
    x = to_array("full_like", x)
    d = _dtype_arg(dtype, dtype_of(x))
    if isinstance(fill_value, int) and not isinstance(fill_value, bool):
        fill_value = dt.check_int_fits(fill_value, d, "full_like")
    return _like("full_like", x, fill_value, d, device)


def _static_number(op: str, v: Any, name: str) -> Any:
    if isinstance(v, _core.Tracer):
        raise _errors.err(_errors.TracerConversionError, op,
                          f"{name} must be a concrete number, got a traced array {v.aval.short}",
                          "the output shape depends on it; pass it as a static argument")
    if isinstance(v, Array):
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def arange(start: Any, /, stop: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None) -> Array:
    """Evenly spaced values in ``[start, stop)`` (``start + i * step``, as NumPy)."""
    if isinstance(start, _shapes.Dim) or isinstance(stop, _shapes.Dim):
        return _symbolic_arange(start, stop, step, dtype)
    start = _static_number("arange", start, "start")
    stop = _static_number("arange", stop, "stop")
    step = _static_number("arange", step, "step")
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise _errors.err(_errors.ArgumentError, "arange", "step must not be zero")
    if dtype is None:
        kinds = [dt.scalar_kind(v) if isinstance(v, (bool, int, float, complex))
                 else dt.dtype(np.asarray(v).dtype).kind for v in (start, stop, step)]
        d = dt.weak_result(None, ["i" if k == "b" else k for k in kinds])[0]
    else:
        d = dt.dtype(dtype)
    n = max(0, math.ceil((stop - start) / step))
    if d.kind in "iu" and n:
        # the values must fit the dtype: the first and the last one (stop is exclusive)
        for v in (start, start + (n - 1) * step):
            if isinstance(v, int) and not isinstance(v, bool):
                dt.check_int_fits(v, d, "arange")
    if n > np.iinfo(np.int64).max // max(d.itemsize, 1):
        raise _errors.err(_errors.XfMemoryError, "arange",
                          f"{n} elements of {d.name} cannot be allocated",
                          "ask for fewer elements")
    if not _tracing():
        return _upload(np.arange(start, stop, step, dtype=d.np), device)
    if d.kind in "iu" or d is dt.bool_:
        i = sh.iota(d, (n,))
        return ew.add(ew.mul(i, ew.full_like(i, step)), ew.full_like(i, start))
    i = sh.iota(dt.float64 if d.itemsize >= 8 else dt.float32, (n,))
    out = ew.add(ew.mul(i, ew.full_like(i, step)), ew.full_like(i, start))
    return ew.convert(out, dtype=d)


def _symbolic_arange(start: Any, stop: Any, step: Any, dtype: Any) -> Array:
    """``arange`` to a symbolic ``stop`` (``arange(x.shape[0])`` under symbolic shapes): an
    iota of symbolic length; ``start`` and ``step`` must be Python ints."""
    if stop is None:
        start, stop = 0, start
    if not (type(start) is int and type(step) is int and step != 0):
        raise _errors.err(_errors.ArgumentError, "arange",
                          f"with a symbolic bound (start={start}, stop={stop}), start must be "
                          f"a Python int and step a nonzero Python int, got step={step!r}",
                          "count from a static start, e.g. arange(0, n) reversed with flip")
    span = stop - start if step > 0 else start - stop
    n = _shapes.dim_max((span + abs(step) - 1) // abs(step), 0)
    d = dt.dtype(dtype) if dtype is not None else dt.default_int()
    i = sh.iota(d if d.kind in "iu" else dt.float64 if d.itemsize >= 8 else dt.float32, (n,))
    out = ew.add(ew.mul(i, ew.full_like(i, step)), ew.full_like(i, start))
    return out if out.dtype is d else ew.convert(out, dtype=d)


def linspace(start: Any, stop: Any, /, num: int, *, dtype: Any = None, device: Any = None,
             endpoint: bool = True) -> Array:
    """``num`` evenly spaced samples from ``start`` to ``stop`` (as NumPy computes them)."""
    start = _static_number("linspace", start, "start")
    stop = _static_number("linspace", stop, "stop")
    num = operator.index(num)
    if num < 0:
        raise _errors.err(_errors.ArgumentError, "linspace", f"num must be >= 0, got {num}")
    cplx = isinstance(start, complex) or isinstance(stop, complex)
    d = _dtype_arg(dtype, dt.complex128 if cplx else dt.default_float())
    vals = np.linspace(start, stop, num, endpoint=endpoint,
                       dtype=np.complex128 if d.kind == "c" else np.float64)
    if _tracing():
        if num <= _core.LITERAL_MAX_SIZE:
            return ensure_array(vals.astype(d.np))
        div = (num - 1) if endpoint else num
        i = sh.iota(dt.float64, (num,))
        step = (stop - start) / div if div > 0 else 0.0
        out = ew.add(ew.mul(i, ew.full_like(i, step)), ew.full_like(i, start))
        if endpoint and num > 1:
            last = ew.full_like(i, stop)
            idx = sh.iota(dt.int64, (num,))
            out = ew.select(ew.eq(idx, ew.full_like(idx, num - 1)), last, out)
        return ew.convert(out, dtype=d)
    return _upload(vals.astype(d.np), device)


def eye(n_rows: int, n_cols: int | None = None, /, *, k: int = 0, dtype: Any = None,
        device: Any = None) -> Array:
    """A 2-D array with ones on the ``k``-th diagonal."""
    n_cols = n_rows if n_cols is None else n_cols
    d = _dtype_arg(dtype, dt.default_float())
    if not _tracing():
        return _upload(np.eye(n_rows, n_cols, k=k, dtype=d.np), device)
    r = sh.iota(dt.int64, (n_rows, n_cols), 0)
    c = sh.iota(dt.int64, (n_rows, n_cols), 1)
    on = ew.eq(ew.sub(c, r), ew.full_like(r, k))
    return ew.convert(on, dtype=d)


def _tri_mask(op: str, x: Any, k: int, upper: bool) -> Any:
    x = to_array(op, x)
    if len(x.shape) < 2:
        raise _errors.err(_errors.ShapeError, op, f"expected an array of at least 2 dimensions, "
                                                  f"got shape {tuple(x.shape)}")
    shape = tuple(x.shape)
    r = sh.iota(dt.int64, shape[-2:], 0)
    c = sh.iota(dt.int64, shape[-2:], 1)
    diff = ew.sub(c, r)
    kk = ew.full_like(diff, k)
    mask = ew.ge(diff, kk) if upper else ew.le(diff, kk)
    mask = broadcast_to(mask, shape)
    zero = sh.broadcast_in_dim(np.zeros((), dtype_of(x).np), shape=shape, dims=())
    return ew.select(mask, x if isinstance(x, Array) else ensure_array(x), zero)


def tril(x: Any, /, *, k: int = 0) -> Array:
    """Lower triangle of the last two axes (elements above the k-th diagonal zeroed)."""
    return _tri_mask("tril", x, k, upper=False)


def triu(x: Any, /, *, k: int = 0) -> Array:
    """Upper triangle of the last two axes (elements below the k-th diagonal zeroed)."""
    return _tri_mask("triu", x, k, upper=True)


def meshgrid(*arrays: Any, indexing: str = "xy") -> list[Array]:
    """Coordinate matrices from 1-D coordinate vectors (``indexing='xy'`` or ``'ij'``)."""
    if indexing not in ("xy", "ij"):
        raise _errors.err(_errors.ArgumentError, "meshgrid",
                          f"indexing must be 'xy' or 'ij', got {indexing!r}")
    arrs = [to_array("meshgrid", a) for a in arrays]
    for a in arrs:
        if len(a.shape) != 1:
            raise _errors.err(_errors.ShapeError, "meshgrid",
                              f"expected 1-D arrays, got shape {tuple(a.shape)}")
    from xfront._api._helpers import promote

    d, _ = promote("meshgrid", *arrs) if arrs else (dt.float64, False)
    sizes = [a.shape[0] for a in arrs]
    if indexing == "xy" and len(arrs) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, a in enumerate(arrs):
        axis = i
        if indexing == "xy" and len(arrs) >= 2 and i < 2:
            axis = 1 - i
        a = a if dtype_of(a) is d else ew.convert(ensure_array(a), dtype=d)
        out.append(sh.broadcast_in_dim(a, shape=tuple(sizes), dims=(axis,)))
    return out


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """Import any object that implements the DLPack protocol (zero-copy where possible).

    See ``xfront.bridges.from_dlpack``.
    """
    from xfront.bridges import from_dlpack as _from_dlpack

    return _from_dlpack(x, device=device, copy=copy)


__all__ = ["asarray", "arange", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like",
           "linspace", "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like"]
