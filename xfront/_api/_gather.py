"""Integer-array ("advanced") indexing, ``x.at[key]`` updates, ``take`` and ``take_along_axis``.

Imports: _helpers, _indexing, prims, _core.

``advanced_index`` implements NumPy's integer-array indexing on keys that ``prepare_key``
(_indexing.py) has normalized: integer arrays (NumPy, xfront, traced, lists, foreign arrays)
mixed with ints, slices, None, bools and an ellipsis. All index arrays (and ints, once any array
is present) broadcast together to one shape B. The result has B's dimensions where the first
index array stood when the advanced indices are adjacent in the key, and in front otherwise
(indices separated by a slice, None or an ellipsis), as in NumPy. Negative indices wrap once.

How it lowers: None and bool scalars become size-1 axes (reshape); slices become a static
window (rev + slice); the index arrays become one ``gather`` whose windows span the sliced axes.
If every index array is 0-d and one is traced (``x[i]`` with a traced ``i``), it is a
``dynamic_slice`` instead.

Out-of-bounds indices follow NOTE [Out-of-bounds indices] in _indexing.py: concrete index arrays
(eagerly, and NumPy/xfront constants inside ``compile``) are checked and raise IndexError naming
the axis, the index and the size. Traced indices cannot be checked: reads **clamp** them to the
nearest valid index, updates **drop** them (the element is left unchanged), as in JAX.

NOTE [Updates with duplicate indices]
    ``x.at[idx].add(v)`` accumulates every update, like ``np.add.at`` (likewise ``multiply``,
    ``min``, ``max``). For ``set``, NumPy's ``x[idx] = v`` keeps the last write: xfront does
    the same when the indices are concrete (it drops the earlier duplicates before scattering).
    With traced indices XLA's scatter does not say which duplicate wins; on CPU it is the last
    one in practice, but portable code should not rely on it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._api._helpers import (broadcast_shapes, broadcast_to, cast, describe, ensure_array,
                                  normalize_axis, operand, shape_of, to_array)
from xfront._api._indexing import (SEP, Window, _index_array, _is_int_scalar, basic_window,
                                   check_int_index, check_mask_shape, is_index_array,
                                   prepare_key, slice_bounds, zeros)
from xfront.prims import elementwise as ew
from xfront.prims import indexing as ix
from xfront.prims import shape as sh


def _traced(a: Any) -> bool:
    return isinstance(a, _core.Tracer)


# --- analysing a key with index arrays -------------------------------------------------------

class _Plan:
    """Where an advanced key reads: a window of ``x`` (reshaped to ``shape1``, which adds the
    size-1 axes of None and bool entries), index arrays on some of the window's axes, and the
    layout of the result."""

    __slots__ = ("shape1", "window", "adv_axes", "adv", "adv_names", "batch", "pos",
                 "out_shape", "traced")

    def __init__(self, shape1, window, adv_axes, adv, adv_names, batch, pos, out_shape):
        self.shape1 = shape1  # x's shape with the None/bool axes inserted
        self.window = window  # Window over shape1 (index-array axes are kept whole)
        self.adv_axes = adv_axes  # window axes indexed by arrays, in key order
        self.adv = adv  # per adv axis: normalized int64 NumPy array, or a raw Tracer
        self.adv_names = adv_names  # per adv axis: x's axis number (for messages)
        self.batch = batch  # B: the broadcast shape of the index arrays
        self.pos = pos  # where B's dimensions go in the result
        self.out_shape = out_shape
        self.traced = any(_traced(a) for a in adv)

    @property
    def y_shape(self) -> tuple[int, ...]:
        return self.window.shape

    @property
    def rest_axes(self) -> list[int]:
        return [a for a in range(len(self.shape1)) if a not in self.adv_axes]

    @property
    def offset_dims(self) -> tuple[int, ...]:
        nb, nr = len(self.batch), len(self.rest_axes)
        return tuple(range(self.pos)) + tuple(range(self.pos + nb, nr + nb))


def _check_concrete(op: str, a: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Bounds-check a concrete index array and wrap negatives; returns int64."""
    if a.size:
        bad = (a < -n) | (a >= n)
        if bad.any():
            v = a[bad].reshape(-1)[0]
            raise _errors.err(_errors.XfIndexError, op,
                              f"index {int(v)} is out of bounds for axis {axis} with size {n}",
                              "negative indices count from the end; valid indices are "
                              f"{-n}..{n - 1}" if n else "the axis is empty")
    a64 = a.astype(np.int64)
    return np.where(a64 < 0, a64 + n, a64)


def _analyse(op: str, x: Any, items: list[Any]) -> _Plan:
    shape1: list[int] = []
    entries: list[tuple] = []  # ("slice", axis, slice) | ("adv", axis, index, x_axis) | ("sep",)
    dim = 0
    for k in items:
        if k is SEP:
            entries.append(("sep",))
        elif k is None:
            entries.append(("slice", len(shape1), slice(None)))
            shape1.append(1)
        elif isinstance(k, bool):  # with index arrays present a bool is an index on a new axis
            entries.append(("adv", len(shape1), np.zeros((1 if k else 0,), np.int64), None))
            shape1.append(1)
        else:
            n = x.shape[dim]
            if isinstance(k, slice):
                entries.append(("slice", len(shape1), k))
            elif _is_int_scalar(k) or is_index_array(k):
                entries.append(("adv", len(shape1), k, dim))
            else:  # pragma: no cover - prepare_key only produces the kinds above
                raise AssertionError(f"unexpected index item {k!r}")
            shape1.append(n)
            dim += 1
    window_axes = [(0, 1, n) for n in shape1]
    adv_axes, adv, names, shapes, where = [], [], [], [], []
    for i, e in enumerate(entries):
        if e[0] == "slice":
            _, a, k = e
            window_axes[a] = slice_bounds(op, k, shape1[a])
        elif e[0] == "adv":
            _, a, k, name = e
            n = shape1[a]
            if _is_int_scalar(k):
                k = np.asarray(check_int_index(op, int(k), n, name), dtype=np.int64)
            elif not _traced(k):
                k = _check_concrete(op, k, n, name)
            adv_axes.append(a)
            adv.append(k)
            names.append(name)
            shapes.append(tuple(k.shape))
            where.append(i)
    try:
        batch = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise _errors.err(_errors.XfIndexError, op,
                          "shape mismatch: indexing arrays could not be broadcast together "
                          "with shapes " + " ".join(str(s) for s in shapes)) from None
    adjacent = where[-1] - where[0] + 1 == len(where)
    pos = 0
    if adjacent:
        pos = sum(1 for e in entries[:where[0]] if e[0] == "slice")
    window = Window(window_axes)
    rest = [window.shape[a] for a in range(len(shape1)) if a not in adv_axes]
    out_shape = tuple(rest[:pos]) + batch + tuple(rest[pos:])
    plan = _Plan(tuple(shape1), window, adv_axes, adv, names, batch, pos, out_shape)
    if math.prod(batch) and any(shape1[a] == 0 for a in adv_axes):
        a = next(a for a in adv_axes if shape1[a] == 0)
        raise _errors.err(_errors.XfIndexError, op,
                          f"cannot index axis {names[adv_axes.index(a)]} of size 0 with a "
                          f"non-empty index array (every index is out of bounds)")
    return plan


def _traced_index(t: Any, n: int, idt: dt.DType, *, clamp: bool) -> Any:
    """A traced index for an axis of size ``n``: negatives wrap once; then out-of-range values
    are clamped into [0, n) (``clamp``) or replaced by ``n``, which scatter drops."""
    d = t.dtype
    if d.kind == "u":
        fits = n - 1 <= np.iinfo(d.np).max
        if clamp:
            if fits:
                t = ew.min(t, ew.full_like(t, n - 1))
            return ew.convert(t, dtype=idt)
        if not fits:
            return ew.convert(t, dtype=idt)
        valid = ew.lt(t, ew.full_like(t, n))
        w = ew.convert(t, dtype=idt)
        return ew.select(valid, w, ew.full_like(w, n))
    w = t if d is dt.int64 else ew.convert(t, dtype=dt.int64)
    w = ew.select(ew.lt(w, ew.full_like(w, 0)), ew.add(w, ew.full_like(w, n)), w)
    if clamp:
        w = ew.clamp(ew.full_like(w, 0), w, ew.full_like(w, max(n - 1, 0)))
    else:
        valid = ew.and_(ew.ge(w, ew.full_like(w, 0)), ew.lt(w, ew.full_like(w, n)))
        w = ew.select(valid, w, ew.full_like(w, n))
    return ew.convert(w, dtype=idt)


def _index_operand(plan: _Plan, *, clamp: bool, keep: np.ndarray | None = None
                   ) -> tuple[Any, int]:
    """The gather/scatter start indices (B + (k,), or B when k == 1) and index_vector_dim."""
    y_shape = plan.y_shape
    idt = ix.index_dtype(*(n + 1 for n in y_shape))
    cols = []
    for a, k in zip(plan.adv_axes, plan.adv):
        n = y_shape[a]
        if _traced(k):
            c = _traced_index(k, n, idt, clamp=clamp)
            cols.append(broadcast_to(c, plan.batch))
        else:
            c = np.broadcast_to(k, plan.batch)
            if keep is not None:  # drop the duplicates that an update should not write
                c = np.where(keep, c, n)
            cols.append(c.astype(idt.np))
    nb = len(plan.batch)
    if len(cols) == 1:
        return cols[0], nb
    if not any(_traced(c) for c in cols):
        return np.stack(cols, axis=-1), nb
    return sh.concatenate([sh.reshape(c, shape=plan.batch + (1,)) for c in cols], axis=nb), nb


def _dynamic_starts(plan: _Plan) -> list[Any]:
    """Clamped 0-d start per window axis (every index array of the plan is 0-d)."""
    y_shape = plan.y_shape
    idt = ix.index_dtype(*(n + 1 for n in y_shape))
    starts: list[Any] = [np.zeros((), idt.np) for _ in y_shape]
    for a, k in zip(plan.adv_axes, plan.adv):
        n = y_shape[a]
        starts[a] = (_traced_index(k, n, idt, clamp=True) if _traced(k)
                     else np.asarray(k, dtype=idt.np))
    return starts


def advanced_index(x: Any, items: list[Any], op: str = "__getitem__") -> Any:
    """``x[items]`` for a normalized key (see ``prepare_key``) that holds index arrays."""
    plan = _analyse(op, x, items)
    if math.prod(plan.out_shape) == 0:
        return zeros(plan.out_shape, x.dtype)
    x1 = sh.reshape(x, shape=plan.shape1) if plan.shape1 != tuple(x.shape) else x
    y = plan.window.read(x1)
    sizes = [1 if a in plan.adv_axes else s for a, s in enumerate(plan.y_shape)]
    if plan.batch == () and plan.traced:
        starts = _dynamic_starts(plan)
        out = ix.dynamic_slice(y, starts, slice_sizes=sizes)
        return sh.reshape(out, shape=plan.out_shape)
    indices, ivd = _index_operand(plan, clamp=True)
    return ix.gather(y, indices, offset_dims=plan.offset_dims,
                     collapsed_slice_dims=sorted(plan.adv_axes), start_index_map=plan.adv_axes,
                     index_vector_dim=ivd, slice_sizes=sizes)


# --- x.at[key].set / add / multiply / min / max ----------------------------------------------

_PUBLIC = {"set": "set", "add": "add", "mul": "multiply", "min": "min", "max": "max"}


def _combine(mode: str, old: Any, new: Any) -> Any:
    """What an update does to one element (``old`` and ``new`` share shape and dtype)."""
    if mode == "set":
        return new
    if old.dtype is dt.bool_:  # NumPy: bool + is or, bool * is and
        mode = {"add": "max", "mul": "min"}.get(mode, mode)
    if mode == "add":
        return ew.add(old, new)
    if mode == "mul":
        return ew.mul(old, new)
    return ew.min(old, new) if mode == "min" else ew.max(old, new)


def _check_value(op: str, v: Any, shape: tuple[int, ...]) -> Any:
    """Check that the update value broadcasts to the indexed shape (NumPy also drops leading
    size-1 axes of the value); returns the value without those axes."""
    vs = tuple(shape_of(v))
    while len(vs) > len(shape) and vs[0] == 1:
        vs = vs[1:]
    if len(vs) != len(tuple(shape_of(v))):
        v = sh.reshape(v, shape=vs)
    try:
        ok = broadcast_shapes(op, vs, shape) == tuple(shape)
    except _errors.ShapeError:
        ok = False
    if not ok:
        raise _errors.err(_errors.ShapeError, op,
                          f"shape mismatch: value array of shape {tuple(shape_of(v))} could not "
                          f"be broadcast to indexing result of shape {tuple(shape)}")
    return v


def _single_mask(op: str, key: Any) -> Any:
    """The boolean mask when the whole key is one boolean array (ndim >= 1), else None."""
    k = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    if k is None or k is Ellipsis or isinstance(k, (tuple, slice, bool, int, np.generic)):
        return None
    try:
        arr = _index_array(op, k)
    except _errors.XfIndexError:
        return None
    return arr if arr.dtype.kind == "b" and arr.ndim >= 1 else None


def indexed_update(x: Any, key: Any, value: Any, mode: str) -> Any:
    """``x.at[key].<mode>(value)``: a copy of ``x`` with the indexed elements updated.

    ``mode`` is the update's combiner: ``set``, ``add``, ``mul``, ``min`` or ``max``. The value
    broadcasts to ``x[key]``'s shape and is cast to ``x``'s dtype. See NOTE [Updates with
    duplicate indices] and NOTE [Out-of-bounds indices].
    """
    op = f"Array.at[].{_PUBLIC[mode]}"
    x = ensure_array(to_array(op, x))
    if mode in ("min", "max") and x.dtype.kind == "c":
        raise _errors.err(_errors.DTypeError, op,
                          f"{mode} is not defined for complex arrays ({x.aval.short})")
    v = operand(op, value, "value")
    if isinstance(v, np.ndarray) and v.dtype.kind not in "biufc":
        raise _errors.err(_errors.DTypeError, op, f"value has unsupported dtype {v.dtype}")
    v = cast(op, v, x.dtype)

    mask = _single_mask(op, key)
    if mask is not None and tuple(shape_of(v)) in ((), (1,)):
        # x.at[mask].op(scalar) keeps its shape: a select, which also compiles
        check_mask_shape(op, tuple(mask.shape), tuple(x.shape), 0)
        if math.prod(mask.shape) == 0:  # selects nothing (its axes may differ from x's)
            return x
        m = sh.broadcast_in_dim(mask, shape=x.shape, dims=tuple(range(mask.ndim)))
        vb = broadcast_to(sh.reshape(v, shape=()), tuple(x.shape))
        return ew.select(m, _combine(mode, x, vb), x)

    items, advanced = prepare_key(op, x, key)
    if not advanced:
        window, out_shape = basic_window(op, x, items)
        v = _check_value(op, v, out_shape)
        if math.prod(out_shape) == 0:
            return x
        new = sh.reshape(broadcast_to(v, out_shape), shape=window.shape)
        return window.write(x, _combine(mode, window.read(x), new))

    plan = _analyse(op, x, items)
    v = _check_value(op, v, plan.out_shape)
    if math.prod(plan.out_shape) == 0:
        return x
    vb = broadcast_to(v, plan.out_shape)
    x1 = sh.reshape(x, shape=plan.shape1) if plan.shape1 != tuple(x.shape) else x
    y = plan.window.read(x1)
    # one scatter, also for a single traced index: it drops out-of-range windows natively and
    # touches only the updated elements (a dynamic_update_slice would clamp instead)
    keep = _last_writes(plan) if mode == "set" and not plan.traced else None
    indices, ivd = _index_operand(plan, clamp=False, keep=keep)
    smode = mode
    if x.dtype is dt.bool_:
        smode = {"add": "max", "mul": "min"}.get(mode, mode)
    y_new = ix.scatter(y, indices, vb, update_window_dims=plan.offset_dims,
                       inserted_window_dims=sorted(plan.adv_axes),
                       scatter_dims_to_operand_dims=plan.adv_axes, index_vector_dim=ivd,
                       mode=smode)
    x1_new = plan.window.write(x1, y_new)
    return sh.reshape(x1_new, shape=tuple(x.shape)) if plan.shape1 != tuple(x.shape) else x1_new


def _last_writes(plan: _Plan) -> np.ndarray | None:
    """For concrete indices: True at the last occurrence of each indexed position (so a ``set``
    with duplicates keeps NumPy's last write), or None when there are no duplicates."""
    cols = [np.broadcast_to(k, plan.batch).reshape(-1) for k in plan.adv]
    dims = [plan.y_shape[a] for a in plan.adv_axes]
    flat = np.ravel_multi_index(cols, dims) if cols[0].size else cols[0]
    if np.unique(flat).size == flat.size:
        return None
    _, first_from_end = np.unique(flat[::-1], return_index=True)
    keep = np.zeros(flat.size, dtype=bool)
    keep[flat.size - 1 - first_from_end] = True
    return keep.reshape(plan.batch)


# --- Array API "Indexing Functions" ----------------------------------------------------------

def _index_arg(op: str, indices: Any) -> Any:
    arr = _index_array(op, indices)
    if arr.dtype.kind == "b":
        what = _errors.short(arr) if _traced(arr) else describe(arr)
        raise _errors.err(_errors.XfIndexError, op,
                          f"indices must have an integer dtype, got {what}",
                          "use x[mask] or xfront.where for boolean selection")
    return arr


def take(x: Any, indices: Any, /, *, axis: int | None = None) -> Any:
    """Elements of ``x`` at integer ``indices`` along ``axis`` (Array API ``take``).

    Args:
      x: input array. With ``axis=None`` it is flattened first (as in NumPy).
      indices: integer indices (any shape; Array API code passes 1-D). Negative indices count
        from the end.
      axis: the axis to select along.

    Returns:
      ``x[(slice(None),) * axis + (indices,)]``: the indexed axis is replaced by the axes of
      ``indices``.

    Raises:
      IndexError: a concrete index is out of bounds (traced indices are clamped; see NOTE
        [Out-of-bounds indices] in xfront/_api/_indexing.py).
    """
    x = ensure_array(to_array("take", x))
    idx = _index_arg("take", indices)
    if axis is None:
        x = sh.reshape(x, shape=(x.size,))
        a = 0
    else:
        if x.ndim == 0:
            raise _errors.err(_errors.ShapeError, "take", "cannot take from a 0-d array along "
                                                          f"axis {axis}", "use axis=None")
        a = normalize_axis("take", axis, x.ndim)
    return advanced_index(x, [slice(None)] * a + [idx] + [slice(None)] * (x.ndim - a - 1),
                          op="take")


def take_along_axis(x: Any, indices: Any, /, *, axis: int = -1) -> Any:
    """Pick values from ``x`` at ``indices`` along ``axis`` (Array API ``take_along_axis``).

    ``indices`` has ``x``'s number of dimensions; the other axes broadcast against ``x``'s, and
    ``out[..., j, ...] = x[..., indices[..., j, ...], ...]``. Negative indices count from the
    end; out-of-bounds concrete indices raise IndexError, traced ones are clamped.
    """
    op = "take_along_axis"
    x = ensure_array(to_array(op, x))
    idx = _index_arg(op, indices)
    if x.ndim == 0 or idx.ndim != x.ndim:
        raise _errors.err(_errors.ShapeError, op,
                          f"indices {_errors.short(idx) if _traced(idx) else idx.shape} must have "
                          f"the same number of dimensions as x {x.aval.short} (at least 1)")
    a = normalize_axis(op, axis, x.ndim)
    others = [(s, t) for i, (s, t) in enumerate(zip(x.shape, idx.shape)) if i != a]
    bshape = broadcast_shapes(op, tuple(s for s, _ in others), tuple(t for _, t in others))
    x_shape = list(bshape)
    x_shape.insert(a, x.shape[a])
    i_shape = list(bshape)
    i_shape.insert(a, idx.shape[a])
    out_shape = tuple(i_shape)
    n = x.shape[a]
    if not _traced(idx):
        idx = _check_concrete(op, idx, n, a)
    if math.prod(out_shape) == 0:
        return zeros(out_shape, x.dtype)
    if n == 0:
        raise _errors.err(_errors.XfIndexError, op,
                          f"cannot take along axis {a} of size 0 with non-empty indices")
    idt = ix.index_dtype(max(x_shape) + 1)
    if _traced(idx):
        idx = _traced_index(idx, n, idt, clamp=True)
    else:
        idx = idx.astype(idt.np)
    xb = broadcast_to(x, tuple(x_shape)) if tuple(x_shape) != tuple(x.shape) else x
    ib = broadcast_to(idx, out_shape) if tuple(idx.shape) != out_shape else idx
    return ix.take_along_axis(xb, ib, axis=a)


__all__ = ["advanced_index", "indexed_update", "take", "take_along_axis"]
