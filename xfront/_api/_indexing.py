"""Indexing: ``x[key]`` with NumPy semantics, and ``x.at[key]`` (functional updates).

Imports: _helpers, prims, _core; _gather lazily (it imports this module).

``prepare_key`` normalizes a key once for reads and updates: ints, slices (any step), ``...``,
``None``, bools, integer arrays (NumPy, xfront, traced, lists, torch/TF/JAX arrays) and boolean
masks. Keys without index arrays are *basic*: a static window (rev + slice, see ``Window``) and
a reshape. Keys with index arrays are *advanced* and handled in _gather.py (gather, or
dynamic_slice for a traced 0-d index). Boolean masks become their ``nonzero()`` index arrays,
so they need concrete values: a traced mask raises DynamicShapeError (the result shape depends
on its values), except ``x.at[mask].set(scalar)`` and friends, which keep the shape and lower to
a select. Concrete masks (NumPy or xfront constants) also work inside ``compile``.

NOTE [Out-of-bounds indices]
    Concrete indices (Python ints, NumPy/xfront index arrays, also when they are constants
    inside ``compile``) are bounds-checked and raise IndexError naming the axis, the index and
    the axis size, as NumPy does. Traced indices are only known when the program runs, and XLA
    has no error path: negative ones wrap once (``-n <= i < 0`` means ``i + n``), then reads
    (``x[i]``, ``take``, ``take_along_axis``) **clamp** out-of-range indices to the nearest valid
    one, and updates (``x.at[i].set/add/...``) **drop** them (the element keeps its value). JAX
    does the same.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from xfront import _core, _errors, _shapes
from xfront import _dtypes as dt
from xfront._api._helpers import _foreign_to_array, describe, ensure_array, to_array
from xfront._array import Array
from xfront.prims import elementwise as ew
from xfront.prims import shape as sh


def _is_int_scalar(k: Any) -> bool:
    return isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))


class _Separator:
    """An ellipsis that stands for no axes. It still separates advanced indices (NumPy's rule
    for where the broadcast index dimensions go), so the key keeps a marker for it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<ellipsis of no axes>"


SEP = _Separator()


def is_index_array(k: Any) -> bool:
    """An integer index array after ``prepare_key``: concrete (NumPy) or traced."""
    return isinstance(k, (np.ndarray, _core.Tracer))


def _holds_arrays(seq: Any) -> bool:
    return any(isinstance(e, Array) or (isinstance(e, (list, tuple)) and _holds_arrays(e))
               for e in seq)


def _index_array(op: str, k: Any) -> Any:
    """An array-like index as a NumPy array (concrete values) or a Tracer; checks the dtype."""
    if isinstance(k, (float, complex, np.floating, np.complexfloating)):
        raise _errors.err(_errors.XfIndexError, op,
                          f"the {type(k).__name__} {k!r} cannot be used as an index; "
                          + _VALID.replace("valid", "the valid", 1),
                          f"convert it explicitly, e.g. int({k!r})")
    if isinstance(k, _core.Tracer):
        arr = k
    elif isinstance(k, (Array, np.ndarray, np.generic)):
        arr = np.asarray(k)  # concrete indices are checked on the host
    elif isinstance(k, (list, tuple)) and _holds_arrays(k):
        from xfront._api._creation import asarray  # stacks the (possibly traced) elements

        arr = asarray(k)
        arr = arr if isinstance(arr, _core.Tracer) else np.asarray(arr)
    elif isinstance(k, (list, tuple)):
        try:
            arr = np.asarray(k)
        except ValueError:
            raise _errors.err(_errors.XfIndexError, op,
                              f"the sequence {k!r} is ragged and cannot be used as an index")
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(np.int64)  # NumPy: an empty list is an (empty) integer index
    else:
        foreign = _foreign_to_array(op, k)
        if foreign is None:
            raise _errors.err(_errors.XfIndexError, op,
                              f"unsupported index {k!r} of type {type(k).__name__}", _VALID)
        arr = np.asarray(foreign)
    kind = arr.dtype.kind
    if kind not in "biu":
        try:
            what = describe(arr)
        except TypeError:  # a NumPy dtype xfront does not have (str, object, ...)
            what = f"{arr.dtype}[{','.join(map(str, arr.shape))}]"
        raise _errors.err(_errors.XfIndexError, op,
                          f"arrays used as indices must have an integer or boolean dtype, got "
                          f"{what}", "convert it first, e.g. xfront.astype(i, xfront.int64)")
    return arr


_VALID = ("valid indices are integers, slices, ..., None, booleans and integer or boolean "
          "arrays")


def _mask_error(op: str, mask: Any) -> Exception:
    return _errors.err(
        _errors.DynamicShapeError, op,
        f"the boolean mask {_errors.short(mask)} is traced, and the shape of the result depends "
        "on how many of its elements are true, so it cannot be compiled (XLA needs static "
        "shapes)",
        "use xfront.where(mask, x, fill) to keep the shape static (for updates, "
        "x.at[mask].set(scalar) compiles), or index with a concrete mask outside compile")


def check_mask_shape(op: str, mask_shape: tuple[int, ...], x_shape: tuple[int, ...],
                     axis: int) -> None:
    """A boolean mask starting at ``axis`` must match the axes it covers (NumPy's message); a
    mask axis of size 0 selects nothing and goes with any size, as in NumPy."""
    if len(mask_shape) > len(x_shape) - axis:
        raise _errors.err(_errors.XfIndexError, op,
                          f"too many indices: a boolean index of shape {mask_shape} for an "
                          f"array of shape {x_shape}")
    for j, (m, n) in enumerate(zip(mask_shape, x_shape[axis:axis + len(mask_shape)])):
        if m != n and m != 0:
            raise _errors.err(
                _errors.XfIndexError, op,
                f"boolean index did not match indexed array along axis {axis + j}; size of "
                f"axis is {n} but size of corresponding boolean axis is {m}")


def prepare_key(op: str, x: Any, key: Any) -> tuple[list[Any], bool]:
    """Normalize an index key for ``x`` into one item per entry.

    Items are None, slices, Python ints and bools, ``SEP`` (an ellipsis of no axes), and
    integer index arrays (NumPy arrays with concrete values, or Tracers). The ellipsis is
    expanded, missing trailing axes get ``slice(None)``, and concrete boolean masks become their
    ``nonzero()`` index arrays (a traced mask raises DynamicShapeError). Returns
    ``(items, advanced)`` where ``advanced`` says whether any index array is present.
    """
    if not isinstance(key, tuple):
        key = (key,)
    raw: list[Any] = []
    for k in key:
        if k is None or k is Ellipsis or isinstance(k, slice):
            raw.append(k)
        elif isinstance(k, (bool, np.bool_)):
            raw.append(bool(k))
        elif _is_int_scalar(k):
            raw.append(operator.index(k))
        else:
            arr = _index_array(op, k)
            if arr.ndim == 0 and not isinstance(arr, _core.Tracer):
                raw.append(bool(arr) if arr.dtype.kind == "b" else int(arr))
            else:
                raw.append(arr)
    if sum(1 for k in raw if k is Ellipsis) > 1:
        raise _errors.err(_errors.XfIndexError, op,
                          "an index can only have a single ellipsis ('...')")

    def consumed(k: Any) -> int:
        if k is None or k is Ellipsis or isinstance(k, bool):
            return 0
        if is_index_array(k) and k.dtype.kind == "b":
            return k.ndim
        return 1

    used = sum(consumed(k) for k in raw)
    if used > x.ndim:
        raise _errors.err(_errors.XfIndexError, op,
                          f"too many indices for array {x.aval.short}: the array is "
                          f"{x.ndim}-dimensional, but {used} were indexed")
    items: list[Any] = []
    axis = 0
    for k in raw:
        if k is Ellipsis:
            fill = x.ndim - used
            items.extend([slice(None)] * fill if fill else [SEP])
            axis += fill
        elif is_index_array(k) and k.dtype.kind == "b":
            if isinstance(k, _core.Tracer):
                raise _mask_error(op, k)
            check_mask_shape(op, tuple(k.shape), tuple(x.shape), axis)
            items.extend(i.astype(np.int64) for i in np.nonzero(k))
            axis += k.ndim
        else:
            items.append(k)
            axis += consumed(k)
    if not any(k is Ellipsis for k in raw):
        items.extend([slice(None)] * (x.ndim - used))
    return items, any(is_index_array(k) for k in items)


def getitem(x: Any, key: Any) -> Any:
    """``x[key]`` with NumPy semantics (see the module docstring for what compiles)."""
    x = ensure_array(to_array("__getitem__", x))
    items, advanced = prepare_key("__getitem__", x, key)
    if advanced:
        return _advanced(x, items)
    return _basic(x, items)


# --- static windows: what basic indexing selects, and writing it back -------------------------

def slice_bounds(op: str, k: slice, n: int) -> tuple[int, int, int]:
    """(first position, step, count) that slice ``k`` selects from an axis of size ``n``."""
    for b in (k.start, k.stop, k.step):
        if isinstance(b, _core.Tracer):
            raise _errors.err(_errors.DynamicShapeError, op,
                              f"the slice {k} has a traced bound, so the size of the result "
                              "depends on values and cannot be compiled",
                              "make the bound static (static_argnums), or index one element "
                              "with a traced integer: x[i]")
    if isinstance(n, _shapes.Dim):
        return _symbolic_slice_bounds(op, k, n)
    try:
        s0, s1, step = k.indices(n)
    except TypeError:
        raise _errors.err(_errors.XfIndexError, op,
                          f"slice bounds must be integers or None, got {k}") from None
    except ValueError as e:
        raise _errors.err(_errors.ShapeError, op, f"bad slice {k}: {e}") from None
    return s0, step, len(range(s0, s1, step))


def _symbolic_slice_bounds(op: str, k: slice, n: Any) -> tuple[Any, Any, Any]:
    """``slice_bounds`` for a symbolic axis size (xfront/_shapes.py): the result is an
    expression (``min(3, b)``...); a bound whose clamping cannot be decided raises a clear
    error naming the symbol."""
    for b in (k.start, k.stop, k.step):
        if b is not None and not (_is_int_scalar(b) or _shapes.is_symbolic(b)):
            raise _errors.err(_errors.XfIndexError, op,
                              f"slice bounds must be integers or None, got {k}")
    step = 1 if k.step is None else operator.index(k.step)
    if step == 0:
        raise _errors.err(_errors.ShapeError, op, f"bad slice {k}: slice step cannot be zero")

    def norm(b: Any, default: Any, lo: Any, hi: Any) -> Any:
        if b is None:
            return default
        b = b if _shapes.is_symbolic(b) else operator.index(b)
        v = b + n if b < 0 else b
        return _shapes.dim_max(lo, _shapes.dim_min(v, hi))

    if step > 0:
        s0 = norm(k.start, 0, 0, n)
        s1 = norm(k.stop, n, 0, n)
        count = _shapes.dim_max((s1 - s0 + step - 1) // step, 0)
    else:
        s0 = norm(k.start, n - 1, -1, n - 1)
        s1 = norm(k.stop, -1, -1, n - 1)
        count = _shapes.dim_max((s0 - s1 - step - 1) // -step, 0)
    return s0, step, count


class Window:
    """A strided box of an array: per axis, ``count`` positions ``first, first + step, ...``
    (``step`` may be negative). Applied with rev + slice; written back with pad + select."""

    __slots__ = ("axes",)

    def __init__(self, axes: list[tuple[int, int, int]]):
        self.axes = axes  # (first, step, count) per axis

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(m for _, _, m in self.axes)

    def _forward(self, shape: tuple[int, ...]):
        """rev axes, then (start, limit, stride, interior-pad, high-pad) per axis."""
        rev_axes, start, limit, strides, hi = [], [], [], [], []
        for d, ((s0, step, m), n) in enumerate(zip(self.axes, shape)):
            if step < 0:
                rev_axes.append(d)
                s0, step = n - 1 - s0, -step
            if m == 0:
                s0, step = 0, 1
            last = s0 + (m - 1) * step + 1 if _shapes.is_symbolic(m) or m else 0
            start.append(s0)
            limit.append(last)
            strides.append(step)
            hi.append(n - last)
        return rev_axes, start, limit, strides, hi

    def is_full(self, shape: tuple[int, ...]) -> bool:
        return all(s0 == 0 and step == 1 and m == n
                   for (s0, step, m), n in zip(self.axes, shape))

    def read(self, x: Any) -> Any:
        shape = tuple(x.shape)
        if self.is_full(shape):
            return x
        rev_axes, start, limit, strides, _ = self._forward(shape)
        y = sh.rev(x, axes=rev_axes) if rev_axes else x
        if start != [0] * len(shape) or limit != list(shape) or strides != [1] * len(shape):
            y = sh.slice(y, start=start, limit=limit, strides=strides)
        return y

    def write(self, x: Any, y: Any) -> Any:
        """``x`` with this window replaced by ``y`` (of the window's shape)."""
        shape = tuple(x.shape)
        if self.is_full(shape):
            return y
        rev_axes, start, limit, strides, hi = self._forward(shape)
        if not rev_axes and strides == [1] * len(shape) and _shapes.is_static_shape(shape):
            from xfront.prims import indexing as ix

            idt = dt.int32 if max(shape, default=0) < 2 ** 31 - 1 else dt.int64
            return ix.dynamic_update_slice(x, y, [np.asarray(s, idt.np) for s in start])
        interior = [k - 1 for k in strides]
        zero = np.zeros((), dtype=x.dtype.np)
        placed = sh.pad(y, zero, lo=start, hi=hi, interior=interior)
        mask = sh.pad(sh.broadcast_in_dim(np.asarray(True), shape=y.shape, dims=()),
                      np.asarray(False), lo=start, hi=hi, interior=interior)
        if rev_axes:
            placed, mask = sh.rev(placed, axes=rev_axes), sh.rev(mask, axes=rev_axes)
        return ew.select(mask, placed, x)


def zeros(shape: tuple[int, ...], d: dt.DType) -> Any:
    return sh.broadcast_in_dim(np.zeros((), dtype=d.np), shape=shape, dims=())


def check_int_index(op: str, i: int, n: int, axis: int) -> int:
    if not -n <= i < n:
        raise _errors.err(_errors.XfIndexError, op,
                          f"index {i} is out of bounds for axis {axis} with size {n}")
    if _shapes.is_symbolic(n):
        return i + n if i < 0 else i
    return i % n


def basic_window(op: str, x: Any, items: list[Any]) -> tuple[Window, tuple[int, ...]]:
    """The window basic indexing selects, and the result's shape (ints drop their axis)."""
    axes: list[tuple[int, int, int]] = []
    out_shape: list[int] = []
    dim = 0
    for k in items:
        if k is SEP:
            continue
        if k is None:
            out_shape.append(1)
            continue
        if isinstance(k, bool):
            out_shape.append(1 if k else 0)
            continue
        n = x.shape[dim]
        if _is_int_scalar(k):
            axes.append((check_int_index(op, operator.index(k), n, dim), 1, 1))
        elif isinstance(k, slice):
            s0, step, m = slice_bounds(op, k, n)
            axes.append((s0, step, m))
            out_shape.append(m)
        else:
            raise _errors.err(_errors.XfIndexError, op,
                              f"unsupported index {k!r} of type {type(k).__name__}", _VALID)
        dim += 1
    return Window(axes), tuple(out_shape)


def _basic(x: Any, items: list[Any], op: str = "__getitem__") -> Any:
    window, out_shape = basic_window(op, x, items)
    if math.prod(out_shape) == 0:
        return zeros(out_shape, x.dtype)
    y = window.read(x)
    if tuple(out_shape) != tuple(y.shape):
        y = sh.reshape(y, shape=out_shape)
    return y


def _advanced(x: Any, items: list[Any]) -> Any:
    from xfront._api._gather import advanced_index

    return advanced_index(x, items)


class _AtIndexer:
    """``x.at[index].set(v)`` / ``.add(v)`` / ... : functional updates (arrays are immutable)."""

    __slots__ = ("x",)

    def __init__(self, x: Any):
        self.x = x

    def __getitem__(self, key: Any) -> _AtRef:
        return _AtRef(self.x, key)


class _AtRef:
    __slots__ = ("x", "key")

    def __init__(self, x: Any, key: Any):
        self.x = x
        self.key = key

    def get(self) -> Any:
        return getitem(self.x, self.key)

    def _update(self, value: Any, mode: str) -> Any:
        from xfront._api._gather import indexed_update

        return indexed_update(self.x, self.key, value, mode)

    def set(self, value: Any) -> Any:
        return self._update(value, "set")

    def add(self, value: Any) -> Any:
        return self._update(value, "add")

    def multiply(self, value: Any) -> Any:
        return self._update(value, "mul")

    def min(self, value: Any) -> Any:
        return self._update(value, "min")

    def max(self, value: Any) -> Any:
        return self._update(value, "max")


__all__ = ["getitem"]
