"""Shared helpers of the namespace: operand normalization, promotion, broadcasting, axes.

Imports: _array, _core, _dtypes, _errors, prims. This is the only place that promotes dtypes
(NOTE [Type promotion] and NOTE [Python scalars are weak] in _dtypes.py) and broadcasts
shapes; primitives below it are strict.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._array import Array
from xfront._core import WeakValue
from xfront.prims import elementwise as ew
from xfront.prims import shape as sh

PY_SCALARS = (bool, int, float, complex)
Operand = Any  # Array | np.ndarray | Python scalar


def is_py_scalar(x: Any) -> bool:
    return isinstance(x, PY_SCALARS) and not isinstance(x, np.generic)


def _foreign_to_array(op: str, x: Any) -> Array | None:
    """torch / TensorFlow / jax arrays (anything with ``__dlpack__``) -> xfront Array."""
    from xfront.bridges import import_foreign

    return import_foreign(x, op=op)


def _dtype_hint(d: np.dtype) -> str:
    if not d.isnative and d.newbyteorder("=") in dt._BY_NP:
        return (f"it is a {d.newbyteorder('=')} in non-native byte order: convert it with "
                f"x.astype(x.dtype.newbyteorder('='))")
    return "supported dtypes: " + ", ".join(sorted(t.name for t in dt.ALL))


def operand(op: str, x: Any, name: str = "x") -> Operand:
    """Normalize one argument of a namespace function (Arrays/tracers pass through)."""
    if isinstance(x, Array):
        return x
    if is_py_scalar(x):
        return x
    if isinstance(x, WeakValue):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        if x.dtype.kind not in "biufcV" or (x.dtype.kind == "V" and x.dtype.itemsize != 2):
            raise _errors.err(_errors.DTypeError, op,
                              f"{name} has NumPy dtype {x.dtype}, which xfront does not support",
                              "supported dtypes: " + ", ".join(sorted(d.name for d in dt.ALL)))
        try:
            dt.dtype(x.dtype)  # raises for e.g. float128 / V2 that is not bfloat16
        except TypeError:
            raise _errors.err(_errors.DTypeError, op,
                              f"{name} has NumPy dtype {x.dtype}, which xfront does not support",
                              _dtype_hint(x.dtype)) from None
        return np.asarray(x)
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x)
        except ValueError as e:
            raise _errors.err(_errors.ArgumentError, op, f"{name} is a ragged sequence: {e}") from None
        if arr.dtype.kind not in "biufc":
            raise _errors.err(_errors.ArgumentError, op,
                              f"{name} is a sequence that is not numeric ({arr.dtype})")
        if not arr.dtype.isnative:  # values (of big-endian arrays): kept, in native order
            arr = arr.astype(arr.dtype.newbyteorder("="))
        try:
            dt.dtype(arr.dtype)
        except TypeError:
            raise _errors.err(_errors.DTypeError, op,
                              f"{name} is a sequence of NumPy dtype {arr.dtype}, which xfront "
                              "does not support", _dtype_hint(arr.dtype)) from None
        return arr
    foreign = _foreign_to_array(op, x)
    if foreign is not None:
        return foreign
    raise _errors.err(_errors.ArgumentError, op,
                      f"{name} must be an array or a Python scalar, got {type(x).__name__}",
                      "pass an xfront/NumPy/torch/TF/JAX array or a Python number")


def dtype_of(x: Operand) -> dt.DType | None:
    """The dtype of an operand, or None for a Python scalar (weak, kind only)."""
    if isinstance(x, Array) or isinstance(x, WeakValue):
        return x.aval.dtype
    if is_py_scalar(x):
        return None
    return dt.dtype(x.dtype)


def is_weak(x: Operand) -> bool:
    if is_py_scalar(x):
        return True
    aval = getattr(x, "aval", None)
    return aval is not None and aval.weak


def shape_of(x: Operand) -> tuple[int, ...]:
    if is_py_scalar(x):
        return ()
    return tuple(x.shape)


def describe(x: Operand) -> str:
    return _errors.short(x) if not isinstance(x, np.ndarray) else (
        f"{dt.dtype(x.dtype).short}[{','.join(map(str, x.shape))}]")


def promote(op: str, *xs: Operand) -> tuple[dt.DType, bool]:
    """Result (dtype, weak) of combining operands (Array API table + weak Python scalars)."""
    strong: dt.DType | None = None
    weak_kinds: list[str] = []
    for x in xs:
        if is_py_scalar(x):
            weak_kinds.append(dt.scalar_kind(x))
            continue
        d = dtype_of(x)
        if is_weak(x):
            weak_kinds.append(d.kind)
        else:
            strong = d if strong is None else dt.promote_types(strong, d)
    return dt.weak_result(strong, weak_kinds)


def require(op: str, d: dt.DType, accepts: frozenset[dt.DType], *xs: Operand,
            hint: str = "") -> None:
    if d not in accepts:
        got = " and ".join(describe(x) for x in xs) if xs else d.name
        raise _errors.err(_errors.DTypeError, op,
                          f"expected {dt.category_name(accepts)} input, got {got}"
                          + (f" (promoted to {d.name})" if len(xs) > 1 else ""), hint)


def cast(op: str, x: Operand, d: dt.DType, weak: bool = False) -> Any:
    """Convert an operand to dtype ``d`` (Python scalars become NumPy/weak constants)."""
    if is_py_scalar(x):
        if isinstance(x, int) and not isinstance(x, bool):
            x = dt.check_int_fits(x, d, op)
        if isinstance(x, complex) and d.kind != "c":
            raise _errors.err(_errors.DTypeError, op, f"cannot convert {x!r} to {d.name}")
        v = np.asarray(x, dtype=d.np) if d.kind != "b" else np.asarray(bool(x))
        return WeakValue(v) if weak else v
    if isinstance(x, WeakValue):
        v = x.value.astype(d.np) if x.value.dtype != d.np else x.value
        return WeakValue(v) if weak else v
    if isinstance(x, Array):
        return x if x.aval.dtype is d else ew.convert(x, dtype=d)
    arr = np.asarray(x)
    return arr if arr.dtype == d.np else arr.astype(d.np)


def broadcast_shapes(op: str, *shapes: Sequence[int]) -> tuple[int, ...]:
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        for i, n in enumerate(s):
            j = nd - len(s) + i
            if out[j] == 1:
                out[j] = n
            elif n != 1 and n != out[j]:
                shapes_s = " and ".join(str(tuple(x)) for x in shapes)
                raise _errors.err(_errors.ShapeError, op,
                                  f"cannot broadcast shapes {shapes_s}: axis {j - nd} has size "
                                  f"{out[j]} vs {n}",
                                  "sizes must match or be 1 in every axis aligned from the right")
    return tuple(out)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    xs = tuple(x.shape)
    if xs == shape:
        return x
    nd = len(shape)
    dims = tuple(range(nd - len(xs), nd))
    return sh.broadcast_in_dim(x, shape=shape, dims=dims)


def normalize_axis(op: str, axis: Any, ndim: int, name: str = "axis") -> int:
    try:
        a = operator.index(axis)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, op,
                          f"{name} must be an integer, got {type(axis).__name__}") from None
    if not -max(ndim, 1) <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
        raise _errors.err(_errors.ShapeError, op,
                          f"{name} {a} is out of bounds for an array of dimension {ndim}",
                          f"valid axes are {-ndim}..{ndim - 1}" if ndim else "the array is 0-d")
    return a % ndim if ndim else 0


def normalize_axes(op: str, axis: Any, ndim: int) -> tuple[int, ...]:
    """``axis`` (None, int or sequence) -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = [normalize_axis(op, a, ndim) for a in axis]
        if len(set(axes)) != len(axes):
            raise _errors.err(_errors.ShapeError, op, f"repeated axis in {tuple(axis)}")
        return tuple(sorted(axes))
    if ndim == 0:
        normalize_axis(op, axis, 0)
        return ()
    return (normalize_axis(op, axis, ndim),)


def to_array(op: str, x: Any, name: str = "x") -> Any:
    """An operand as something prims accept (Python scalars become default-dtype constants)."""
    x = operand(op, x, name)
    if is_py_scalar(x):
        d, _ = dt.weak_result(None, [dt.scalar_kind(x)])
        if isinstance(x, int) and not isinstance(x, bool):
            x = dt.check_int_fits(x, d, op)  # NumPy's own error would name neither op nor range
        return np.asarray(x, dtype=d.np)
    return x


def ensure_array(x: Any) -> Array:
    """Make a concrete/traced xfront Array out of a NumPy value (for outputs of namespace fns)."""
    if isinstance(x, Array):
        return x
    # identity through a primitive: eagerly this uploads, in a trace it records a constant
    arr = np.asarray(x)
    return sh.reshape(arr, shape=arr.shape)
