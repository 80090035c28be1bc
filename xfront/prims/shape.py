"""Shape and layout primitives: broadcast_in_dim, reshape, transpose, rev, slice, pad,
concatenate, iota.

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules
(for VJP rules). Never the namespace.
"""

from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront import _shapes
from xfront._aval import AbstractArray
from xfront._core import NONDIFFERENTIABLE, Primitive
from xfront.lowering.rules import shape as L
from xfront.prims import elementwise as _ew
from xfront.prims import reduction as _red
from xfront.prims._factories import check_same, internal_error


def _shape_err(prim: str, msg: str) -> Exception:
    return internal_error(_errors.ShapeError, prim, msg)


# --- broadcast_in_dim ------------------------------------------------------------------------

def _broadcast_in_dim_abstract_eval(x: AbstractArray, *, shape: tuple[int, ...],
                                    dims: tuple[int, ...]) -> AbstractArray:
    if len(dims) != x.ndim or len(set(dims)) != len(dims) or list(dims) != sorted(dims):
        raise _shape_err("broadcast_in_dim", f"dims {dims} must be {x.ndim} increasing, distinct "
                                             f"output axes for operand {x.short}")
    for i, d in enumerate(dims):
        if not 0 <= d < len(shape) or x.shape[i] not in (1, shape[d]):
            raise _shape_err("broadcast_in_dim",
                             f"cannot broadcast {x.short} to {shape} with dims {dims}")
    return AbstractArray(tuple(shape), x.dtype, x.weak)


def _broadcast_in_dim_ref(x: np.ndarray, *, shape, dims) -> np.ndarray:
    expanded = [1] * len(shape)
    for i, d in enumerate(dims):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


def _broadcast_in_dim_vjp(ct: Any, x: Any, *, out: Any, shape, dims) -> list[Any]:
    summed = tuple(i for i in range(len(shape))
                   if i not in dims or x.shape[dims.index(i)] != shape[i])
    t = _red.reduce_sum(ct, axes=summed) if summed else ct
    return [reshape(t, shape=x.shape)]


broadcast_in_dim_p = Primitive("broadcast_in_dim", abstract_eval=_broadcast_in_dim_abstract_eval,
                               ref=_broadcast_in_dim_ref, lowering=L.broadcast_in_dim,
                               vjp=_broadcast_in_dim_vjp)


def broadcast_in_dim(x: Any, *, shape: Sequence[int], dims: Sequence[int]) -> Any:
    return broadcast_in_dim_p.bind(x, shape=tuple(_shapes.as_dim(s) for s in shape),
                                   dims=tuple(int(d) for d in dims))


# --- reshape ---------------------------------------------------------------------------------

def _reshape_abstract_eval(x: AbstractArray, *, shape: tuple[int, ...]) -> AbstractArray:
    if any(s < 0 for s in shape) or _shapes.prod(shape) != x.size:  # (exact, symbols too)
        raise _shape_err("reshape", f"cannot reshape {x.short} to "
                                    f"({', '.join(map(str, shape))})")
    return AbstractArray(tuple(shape), x.dtype, x.weak)


reshape_p = Primitive("reshape", abstract_eval=_reshape_abstract_eval,
                      ref=lambda x, *, shape: np.reshape(x, shape), lowering=L.reshape,
                      vjp=lambda ct, x, *, out, shape: [reshape(ct, shape=x.shape)])


def reshape(x: Any, *, shape: Sequence[int]) -> Any:
    return reshape_p.bind(x, shape=tuple(_shapes.as_dim(s) for s in shape))


# --- transpose -------------------------------------------------------------------------------

def _transpose_abstract_eval(x: AbstractArray, *, perm: tuple[int, ...]) -> AbstractArray:
    if sorted(perm) != list(range(x.ndim)):
        raise _shape_err("transpose", f"{perm} is not a permutation of the axes of {x.short}")
    return AbstractArray(tuple(x.shape[p] for p in perm), x.dtype, x.weak)


def _transpose_vjp(ct: Any, x: Any, *, out: Any, perm) -> list[Any]:
    return [transpose(ct, perm=tuple(int(i) for i in np.argsort(perm)))]


transpose_p = Primitive("transpose", abstract_eval=_transpose_abstract_eval,
                        ref=lambda x, *, perm: np.transpose(x, perm), lowering=L.transpose,
                        vjp=_transpose_vjp)


def transpose(x: Any, *, perm: Sequence[int]) -> Any:
    return transpose_p.bind(x, perm=tuple(int(p) for p in perm))


# --- rev -------------------------------------------------------------------------------------

def _rev_abstract_eval(x: AbstractArray, *, axes: tuple[int, ...]) -> AbstractArray:
    if any(not 0 <= a < x.ndim for a in axes) or len(set(axes)) != len(axes):
        raise _shape_err("rev", f"bad axes {axes} for {x.short}")
    return x


rev_p = Primitive("rev", abstract_eval=_rev_abstract_eval,
                  ref=lambda x, *, axes: np.flip(x, axes) if axes else x, lowering=L.rev,
                  vjp=lambda ct, x, *, out, axes: [rev(ct, axes=axes)])


def rev(x: Any, *, axes: Sequence[int]) -> Any:
    return rev_p.bind(x, axes=tuple(sorted(int(a) for a in axes)))


# --- slice -----------------------------------------------------------------------------------

def _slice_abstract_eval(x: AbstractArray, *, start, limit, strides) -> AbstractArray:
    if not (len(start) == len(limit) == len(strides) == x.ndim):
        raise _shape_err("slice", f"start/limit/strides must have {x.ndim} entries for {x.short}")
    shape = []
    for s, l, k, n in zip(start, limit, strides, x.shape):
        if not (0 <= s <= l <= n) or k < 1:
            raise _shape_err("slice", f"bad slice start={start} limit={limit} strides={strides} "
                                      f"for {x.short}")
        shape.append((l - s + k - 1) // k)  # ceil((l - s) / k), a normal form for symbols
    return AbstractArray(tuple(shape), x.dtype, x.weak)


def _slice_ref(x: np.ndarray, *, start, limit, strides) -> np.ndarray:
    # (``slice`` is this module's primitive wrapper; the index needs the builtin)
    return x[tuple(builtins.slice(s, l, k) for s, l, k in zip(start, limit, strides))]


def _slice_vjp(ct: Any, x: Any, *, out: Any, start, limit, strides) -> list[Any]:
    lo, hi, interior = [], [], []
    for s, k, n, m in zip(start, strides, x.shape, ct.shape):
        if m == 0:
            return [_ew.full_like(x, 0)]
        lo.append(s)
        interior.append(k - 1)
        hi.append(n - (s + (m - 1) * k + 1))
    zero = np.zeros((), dtype=ct.dtype.np)
    return [pad(ct, zero, lo=lo, hi=hi, interior=interior)]


slice_p = Primitive("slice", abstract_eval=_slice_abstract_eval, ref=_slice_ref,
                    lowering=L.slice_, vjp=_slice_vjp)


def slice(x: Any, *, start: Sequence[int], limit: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None) -> Any:
    strides = strides if strides is not None else (1,) * len(start)
    return slice_p.bind(x, start=tuple(map(_shapes.as_dim, start)),
                        limit=tuple(map(_shapes.as_dim, limit)), strides=tuple(map(int, strides)))


# --- pad -------------------------------------------------------------------------------------

def _pad_abstract_eval(x: AbstractArray, v: AbstractArray, *, lo, hi, interior) -> AbstractArray:
    if v.shape != () or v.dtype is not x.dtype:
        raise _shape_err("pad", f"padding value must be a 0-d {x.dtype} array, got {v.short}")
    if not (len(lo) == len(hi) == len(interior) == x.ndim) or any(i < 0 for i in interior):
        raise _shape_err("pad", f"bad padding lo={lo} hi={hi} interior={interior} for {x.short}")
    shape = []
    for n, a, b, i in zip(x.shape, lo, hi, interior):
        size = a + b + n + _shapes.dim_max(n - 1, 0) * i
        if size < 0:
            raise _shape_err("pad", f"padding lo={lo} hi={hi} leaves a negative size for {x.short}")
        shape.append(size)
    return AbstractArray(tuple(shape), x.dtype, x.weak)


def _pad_ref(x: np.ndarray, v: np.ndarray, *, lo, hi, interior) -> np.ndarray:
    # interior padding first, then edges (negative edges crop)
    shape = [n + max(n - 1, 0) * i for n, i in zip(x.shape, interior)]
    y = np.full(shape, v, dtype=x.dtype)
    y[tuple(np.s_[::i + 1] for i in interior)] = x
    pads = [(max(a, 0), max(b, 0)) for a, b in zip(lo, hi)]
    y = np.pad(y, pads, constant_values=v)
    crop = tuple(np.s_[max(-a, 0):y.shape[d] - max(-b, 0)] for d, (a, b) in enumerate(zip(lo, hi)))
    return y[crop]


def _pad_vjp(ct: Any, x: Any, v: Any, *, out: Any, lo, hi, interior) -> list[Any]:
    zero = np.zeros((), dtype=ct.dtype.np)
    t = pad(ct, zero, lo=[-a for a in lo], hi=[-b for b in hi], interior=[0] * len(lo))
    ct_x = slice(t, start=[0] * t.ndim, limit=t.shape, strides=[i + 1 for i in interior])
    total = _red.reduce_sum(ct, axes=tuple(range(ct.ndim)))
    inner = _red.reduce_sum(ct_x, axes=tuple(range(ct_x.ndim)))
    return [ct_x, _ew.sub(total, inner)]


pad_p = Primitive("pad", abstract_eval=_pad_abstract_eval, ref=_pad_ref, lowering=L.pad,
                  vjp=_pad_vjp)


def pad(x: Any, value: Any, *, lo: Sequence[int], hi: Sequence[int],
        interior: Sequence[int] | None = None) -> Any:
    interior = interior if interior is not None else (0,) * len(lo)
    return pad_p.bind(x, value, lo=tuple(map(_shapes.as_dim, lo)),
                      hi=tuple(map(_shapes.as_dim, hi)),
                      interior=tuple(map(int, interior)))


# --- concatenate -----------------------------------------------------------------------------

def _concatenate_abstract_eval(*xs: AbstractArray, axis: int) -> AbstractArray:
    if not xs:
        raise _shape_err("concatenate", "needs at least one operand")
    first = xs[0]
    if not 0 <= axis < first.ndim:
        raise _shape_err("concatenate", f"axis {axis} out of range for {first.short}")
    for x in xs[1:]:
        if (x.dtype is not first.dtype or x.ndim != first.ndim
                or any(a != b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis)):
            raise _shape_err("concatenate", "operands must agree except along axis "
                                            f"{axis}, got " + ", ".join(a.short for a in xs))
    shape = list(first.shape)
    shape[axis] = sum(x.shape[axis] for x in xs)
    return AbstractArray(tuple(shape), first.dtype, all(x.weak for x in xs))


def _concatenate_vjp(ct: Any, *xs: Any, out: Any, axis: int) -> list[Any]:
    outs, offset = [], 0
    for x in xs:
        start = [0] * ct.ndim
        limit = list(ct.shape)
        start[axis], limit[axis] = offset, offset + x.shape[axis]
        outs.append(slice(ct, start=start, limit=limit))
        offset += x.shape[axis]
    return outs


concatenate_p = Primitive("concatenate", abstract_eval=_concatenate_abstract_eval,
                          ref=lambda *xs, axis: np.concatenate(xs, axis=axis),
                          lowering=L.concatenate, vjp=_concatenate_vjp)


def concatenate(xs: Sequence[Any], *, axis: int) -> Any:
    return concatenate_p.bind(*xs, axis=int(axis))


# --- iota ------------------------------------------------------------------------------------

def _iota_abstract_eval(*, shape, dtype, axis) -> AbstractArray:
    if not 0 <= axis < max(len(shape), 1) or dtype.kind not in "iuf":
        raise _shape_err("iota", f"bad iota shape={shape} axis={axis} dtype={dtype}")
    return AbstractArray(tuple(shape), dtype)


def _iota_ref(*, shape, dtype, axis) -> np.ndarray:
    expanded = [1] * len(shape)
    expanded[axis] = shape[axis]
    return np.broadcast_to(np.arange(shape[axis], dtype=dtype.np).reshape(expanded), shape)


iota_p = Primitive("iota", abstract_eval=_iota_abstract_eval, ref=_iota_ref, lowering=L.iota,
                   vjp=NONDIFFERENTIABLE)


def iota(dtype: Any, shape: Sequence[int], axis: int = 0) -> Any:
    return iota_p.bind(shape=tuple(_shapes.as_dim(s) for s in shape), dtype=dt.dtype(dtype),
                       axis=int(axis))


# --- dimension_size --------------------------------------------------------------------------
# The value of a (symbolic) dimension as a 0-d int64 array: ``mean`` divides by a count that
# is ``b`` under symbolic shapes. Static dimensions never reach it (they are constants).

def _dimension_size_abstract_eval(*, dim) -> AbstractArray:
    return AbstractArray((), dt.int64)


def _dimension_size_ref(*, dim) -> np.ndarray:
    if _shapes.is_symbolic(dim):
        raise _shape_err("dimension_size", f"the symbolic dimension {dim} has no value outside "
                                           "a compiled function")
    return np.asarray(dim, dtype=np.int64)


dimension_size_p = Primitive("dimension_size", abstract_eval=_dimension_size_abstract_eval,
                             ref=_dimension_size_ref, lowering=L.dimension_size,
                             vjp=NONDIFFERENTIABLE)


def dimension_size(dim: Any) -> Any:
    """A 0-d int64 array holding the size ``dim`` (an int or a symbolic dimension)."""
    return dimension_size_p.bind(dim=_shapes.as_dim(dim))


__all__ = ["broadcast_in_dim", "reshape", "transpose", "rev", "slice", "pad", "concatenate", "iota",
           "check_same"]


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------
# The batched operand's batch axis goes first; the rule shifts the axis params by one.

from xfront import _batching as _bt  # noqa: E402


def _bid_rule(size: int, args, bdims, *, shape, dims):
    x = _bt.front(args[0], bdims[0])
    return broadcast_in_dim(x, shape=(size, *shape), dims=(0, *(d + 1 for d in dims))), 0


def _reshape_rule(size: int, args, bdims, *, shape):
    return reshape(_bt.front(args[0], bdims[0]), shape=(size, *shape)), 0


def _transpose_rule(size: int, args, bdims, *, perm):
    return transpose(_bt.front(args[0], bdims[0]), perm=(0, *(p + 1 for p in perm))), 0


def _rev_rule(size: int, args, bdims, *, axes):
    return rev(_bt.front(args[0], bdims[0]), axes=[a + 1 for a in axes]), 0


def _slice_rule(size: int, args, bdims, *, start, limit, strides):
    return slice(_bt.front(args[0], bdims[0]), start=(0, *start), limit=(size, *limit),
                 strides=(1, *strides)), 0


def _pad_rule(size: int, args, bdims, *, lo, hi, interior):
    if bdims[1] is not None:  # a per-member padding value
        return _bt.batch_by_scan(pad_p)(size, args, bdims, lo=lo, hi=hi, interior=interior)
    return pad(_bt.front(args[0], bdims[0]), args[1], lo=(0, *lo), hi=(0, *hi),
               interior=(0, *interior)), 0


def _concatenate_rule(size: int, args, bdims, *, axis):
    return concatenate([_bt.to_front(x, d, size) for x, d in zip(args, bdims)], axis=axis + 1), 0


broadcast_in_dim_p.batch = _bid_rule
reshape_p.batch = _reshape_rule
transpose_p.batch = _transpose_rule
rev_p.batch = _rev_rule
slice_p.batch = _slice_rule
pad_p.batch = _pad_rule
concatenate_p.batch = _concatenate_rule
iota_p.batch = _bt.NotBatchable("it takes no operands, so no input of it is ever batched")
dimension_size_p.batch = _bt.NotBatchable("it takes no operands, so no input of it is ever "
                                          "batched")
