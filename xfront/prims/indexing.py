"""Indexing primitives: gather, scatter, dynamic_slice, dynamic_update_slice.

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules
(for VJP rules). Never the namespace.

The primitives follow StableHLO's semantics exactly (the namespace, xfront._api._gather, maps
NumPy indexing onto them):

* ``gather`` takes its dimension numbers as params (``offset_dims``, ``collapsed_slice_dims``,
  ``start_index_map``, ``index_vector_dim``, ``slice_sizes``). Start indices are **clamped** so
  that the whole slice lies inside the operand.
* ``scatter`` combines ``updates`` into ``operand`` with the update region's combiner ``mode``
  (``set``, ``add``, ``mul``, ``min``, ``max``). Duplicate indices accumulate for
  add/mul/min/max; for ``set`` which duplicate wins is unspecified (XLA does not promise an
  order). An update window that does not fit inside the operand is **dropped**.
* ``dynamic_slice`` / ``dynamic_update_slice`` take one 0-d integer start per axis; starts are
  clamped so that the slice (or the update) fits, as in StableHLO.

VJP rules (all linear maps here are transposed exactly, including the clamping / dropping):
gather -> scatter-add of the cotangent at the clamped starts; scatter-add -> gather of the
cotangent; scatter-set -> the cotangent masked to where each update won; scatter mul/min/max
-> closed forms (see each rule); dynamic_slice -> dynamic_update_slice into zeros;
dynamic_update_slice -> both pieces. Index operands get no cotangent.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors, _shapes
from xfront._aval import AbstractArray
from xfront._core import Primitive
from xfront.lowering.rules import indexing as L
from xfront.prims import elementwise as _ew
from xfront.prims import reduction as _red
from xfront.prims import shape as _sh
from xfront.prims._factories import check_dtype, internal_error

SCATTER_MODES = ("set", "add", "mul", "min", "max")
_SCATTER_ACCEPTS = {"set": dt.ALL, "add": dt.NUMERIC, "mul": dt.NUMERIC,
                    "min": dt.ALL - dt.COMPLEX, "max": dt.ALL - dt.COMPLEX}


def _err(prim: str, msg: str) -> Exception:
    return internal_error(_errors.ShapeError, prim, msg)


def _check_dims(prim: str, what: str, dims: tuple[int, ...], bound: int, *,
                increasing: bool = True) -> None:
    ok = len(set(dims)) == len(dims) and all(0 <= d < bound for d in dims)
    if increasing:
        ok = ok and list(dims) == sorted(dims)
    if not ok:
        order = "increasing, " if increasing else ""
        raise _err(prim, f"{what} {dims} must be {order}distinct and in [0, {bound})")


def _batch_shape(indices: AbstractArray | Any, index_vector_dim: int) -> tuple[int, ...]:
    """The shape of ``indices`` without its index-vector axis (StableHLO's batch dims)."""
    shape = tuple(indices.shape)
    if index_vector_dim == len(shape):
        return shape
    return shape[:index_vector_dim] + shape[index_vector_dim + 1:]


def _index_vector_size(prim: str, indices: AbstractArray, index_vector_dim: int) -> int:
    if not 0 <= index_vector_dim <= indices.ndim:
        raise _err(prim, f"index_vector_dim {index_vector_dim} is out of range for indices "
                         f"{indices.short}")
    return 1 if index_vector_dim == indices.ndim else indices.shape[index_vector_dim]


def _index_vectors(idx: np.ndarray, index_vector_dim: int) -> np.ndarray:
    """NumPy: indices with the index vector moved last, as int64 (unsigned saturates)."""
    if index_vector_dim == idx.ndim:
        idx = idx[..., None]
    else:
        idx = np.moveaxis(idx, index_vector_dim, -1)
    if idx.dtype.kind == "u":
        idx = np.minimum(idx, np.array(np.iinfo(np.int64).max, dtype=idx.dtype))
    return idx.astype(np.int64)


# --- gather ----------------------------------------------------------------------------------

def _gather_abstract_eval(x: AbstractArray, indices: AbstractArray, *, offset_dims,
                          collapsed_slice_dims, start_index_map, index_vector_dim, slice_sizes,
                          indices_are_sorted) -> AbstractArray:
    check_dtype("gather", indices, dt.INTEGER, "indices")
    n = _index_vector_size("gather", indices, index_vector_dim)
    if len(start_index_map) != n:
        raise _err("gather", f"start_index_map {start_index_map} must have one entry per index "
                             f"vector element ({n}) of indices {indices.short}")
    _check_dims("gather", "start_index_map", start_index_map, x.ndim, increasing=False)
    _check_dims("gather", "collapsed_slice_dims", collapsed_slice_dims, x.ndim)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= d for s, d in zip(slice_sizes, x.shape)):
        raise _err("gather", f"slice_sizes {slice_sizes} must have one size in [0, dim] per "
                             f"axis of operand {x.short}")
    if any(slice_sizes[d] != 1 for d in collapsed_slice_dims):
        raise _err("gather", f"collapsed_slice_dims {collapsed_slice_dims} must have slice size "
                             f"1, got slice_sizes {slice_sizes}")
    offset_sizes = [s for d, s in enumerate(slice_sizes) if d not in collapsed_slice_dims]
    batch = _batch_shape(indices, index_vector_dim)
    rank = len(batch) + len(offset_sizes)
    if len(offset_dims) != len(offset_sizes):
        raise _err("gather", f"offset_dims {offset_dims} must have {len(offset_sizes)} entries "
                             f"(operand rank minus collapsed_slice_dims)")
    _check_dims("gather", "offset_dims", offset_dims, rank)
    shape, b, o = [], iter(batch), iter(offset_sizes)
    for i in range(rank):
        shape.append(next(o) if i in offset_dims else next(b))
    return AbstractArray(tuple(shape), x.dtype, x.weak)


def _gather_ref(x: np.ndarray, indices: np.ndarray, *, offset_dims, collapsed_slice_dims,
                start_index_map, index_vector_dim, slice_sizes, indices_are_sorted) -> np.ndarray:
    out = _gather_abstract_eval(
        AbstractArray(x.shape, dt.dtype(x.dtype)), AbstractArray(indices.shape,
                                                                 dt.dtype(indices.dtype)),
        offset_dims=offset_dims, collapsed_slice_dims=collapsed_slice_dims,
        start_index_map=start_index_map, index_vector_dim=index_vector_dim,
        slice_sizes=slice_sizes, indices_are_sorted=indices_are_sorted)
    vec = _index_vectors(indices, index_vector_dim)
    starts = np.zeros(vec.shape[:-1] + (x.ndim,), dtype=np.int64)
    for k, d in enumerate(start_index_map):
        starts[..., d] = np.clip(vec[..., k], 0, x.shape[d] - slice_sizes[d])
    if out.size == 0:
        return np.zeros(out.shape, dtype=x.dtype)
    grid = np.indices(out.shape)
    batch_dims = [i for i in range(len(out.shape)) if i not in offset_dims]
    full = np.broadcast_to(starts[tuple(grid[i] for i in batch_dims)],
                           out.shape + (x.ndim,)).copy()
    window = [d for d in range(x.ndim) if d not in collapsed_slice_dims]
    for j, d in enumerate(window):
        full[..., d] += grid[offset_dims[j]]
    return x[tuple(full[..., d] for d in range(x.ndim))]


def _is_float(x: Any) -> bool:
    return x.dtype.kind in "fc"


def _index_const(values: Sequence[int], d: dt.DType) -> np.ndarray:
    """Bounds as a constant of index dtype ``d`` (saturated: a bound above d's range never
    binds)."""
    return np.minimum(np.asarray(values, dtype=np.int64), np.iinfo(d.np).max).astype(d.np)


def _clamp_starts(indices: Any, *, index_vector_dim: int, upper: Sequence[int]) -> Any:
    """Clamp each index-vector entry k to [0, upper[k]] (as gather does implicitly)."""
    hi = _index_const(upper, indices.dtype)
    if index_vector_dim == indices.ndim:
        hi_b = _sh.broadcast_in_dim(hi.reshape(()), shape=indices.shape, dims=())
    else:
        hi_b = _sh.broadcast_in_dim(hi, shape=indices.shape, dims=(index_vector_dim,))
    lo_b = _ew.full_like(indices, 0)
    return _ew.clamp(lo_b, indices, hi_b)


def _in_bounds(indices: Any, *, index_vector_dim: int, upper: Sequence[int],
               updates_shape: Sequence[int], update_scatter_dims: Sequence[int]) -> Any:
    """Bool mask of ``updates_shape``: True where the scatter window fits the operand."""
    d = indices.dtype
    hi = _index_const(upper, d)  # windows fit the operand (abstract_eval), so upper >= 0
    if index_vector_dim == indices.ndim:
        hi_b = _sh.broadcast_in_dim(hi.reshape(()), shape=indices.shape, dims=())
    else:
        hi_b = _sh.broadcast_in_dim(hi, shape=indices.shape, dims=(index_vector_dim,))
    ok = _ew.le(indices, hi_b)
    if d.kind == "i":
        ok = _ew.and_(ok, _ew.ge(indices, _ew.full_like(indices, 0)))
    if index_vector_dim < indices.ndim:
        ok = _red.reduce_and(ok, axes=(index_vector_dim,))
    return _sh.broadcast_in_dim(ok, shape=tuple(updates_shape), dims=tuple(update_scatter_dims))


def _gather_vjp(ct: Any, x: Any, indices: Any, *, out: Any, offset_dims, collapsed_slice_dims,
                start_index_map, index_vector_dim, slice_sizes, indices_are_sorted) -> list[Any]:
    if not _is_float(x):
        return [None, None]
    # transpose of "clamp the starts, then read": clamp explicitly, then scatter-add
    upper = [x.shape[d] - slice_sizes[d] for d in start_index_map]
    starts = _clamp_starts(indices, index_vector_dim=index_vector_dim, upper=upper)
    zeros = _ew.full_like(x, 0)
    return [scatter(zeros, starts, ct, update_window_dims=offset_dims,
                    inserted_window_dims=collapsed_slice_dims,
                    scatter_dims_to_operand_dims=start_index_map,
                    index_vector_dim=index_vector_dim, mode="add",
                    indices_are_sorted=indices_are_sorted), None]


gather_p = Primitive("gather", abstract_eval=_gather_abstract_eval, ref=_gather_ref,
                     lowering=L.gather, vjp=_gather_vjp)


def gather(x: Any, indices: Any, *, offset_dims: Sequence[int],
           collapsed_slice_dims: Sequence[int], start_index_map: Sequence[int],
           index_vector_dim: int, slice_sizes: Sequence[int],
           indices_are_sorted: bool = False) -> Any:
    return gather_p.bind(x, indices, offset_dims=tuple(map(int, offset_dims)),
                         collapsed_slice_dims=tuple(map(int, collapsed_slice_dims)),
                         start_index_map=tuple(map(int, start_index_map)),
                         index_vector_dim=int(index_vector_dim),
                         slice_sizes=tuple(map(_shapes.as_dim, slice_sizes)),
                         indices_are_sorted=bool(indices_are_sorted))


# --- scatter ---------------------------------------------------------------------------------

def _window_sizes(operand_ndim: int, updates_shape: Sequence[int],
                  update_window_dims: Sequence[int],
                  inserted_window_dims: Sequence[int]) -> list[int]:
    """Per operand axis: the extent of one update window (1 on inserted axes)."""
    sizes, w = [], iter(update_window_dims)
    for d in range(operand_ndim):
        sizes.append(1 if d in inserted_window_dims else updates_shape[next(w)])
    return sizes


def _scatter_abstract_eval(x: AbstractArray, indices: AbstractArray, updates: AbstractArray, *,
                           update_window_dims, inserted_window_dims, scatter_dims_to_operand_dims,
                           index_vector_dim, mode, indices_are_sorted,
                           unique_indices) -> AbstractArray:
    if mode not in SCATTER_MODES:
        raise _err("scatter", f"mode must be one of {SCATTER_MODES}, got {mode!r}")
    check_dtype("scatter", x, _SCATTER_ACCEPTS[mode], f"operand (mode {mode!r})")
    check_dtype("scatter", indices, dt.INTEGER, "indices")
    if updates.dtype is not x.dtype:
        raise internal_error(_errors.DTypeError, "scatter",
                             f"updates {updates.short} must have the operand's dtype {x.short}")
    n = _index_vector_size("scatter", indices, index_vector_dim)
    if len(scatter_dims_to_operand_dims) != n:
        raise _err("scatter", f"scatter_dims_to_operand_dims {scatter_dims_to_operand_dims} must "
                              f"have one entry per index vector element ({n})")
    _check_dims("scatter", "scatter_dims_to_operand_dims", scatter_dims_to_operand_dims, x.ndim,
                increasing=False)
    _check_dims("scatter", "inserted_window_dims", inserted_window_dims, x.ndim)
    _check_dims("scatter", "update_window_dims", update_window_dims, updates.ndim)
    if len(update_window_dims) + len(inserted_window_dims) != x.ndim:
        raise _err("scatter", f"update_window_dims {update_window_dims} and inserted_window_dims "
                              f"{inserted_window_dims} must cover the {x.ndim} operand axes")
    scatter_shape = tuple(s for i, s in enumerate(updates.shape) if i not in update_window_dims)
    if scatter_shape != _batch_shape(indices, index_vector_dim):
        raise _err("scatter", f"the scatter axes of updates {updates.short} must match the batch "
                              f"shape of indices {indices.short}")
    sizes = _window_sizes(x.ndim, updates.shape, update_window_dims, inserted_window_dims)
    if any(s > d for s, d in zip(sizes, x.shape)):
        raise _err("scatter", f"update windows {tuple(sizes)} do not fit operand {x.short}")
    return AbstractArray(x.shape, x.dtype, x.weak)


_SCATTER_UFUNC = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum}


def _scatter_ref(x: np.ndarray, indices: np.ndarray, updates: np.ndarray, *, update_window_dims,
                 inserted_window_dims, scatter_dims_to_operand_dims, index_vector_dim, mode,
                 indices_are_sorted, unique_indices) -> np.ndarray:
    out = np.array(x, copy=True)
    if updates.size == 0:
        return out
    sizes = _window_sizes(x.ndim, updates.shape, update_window_dims, inserted_window_dims)
    vec = _index_vectors(indices, index_vector_dim)  # batch + (n,)
    starts = np.zeros(vec.shape[:-1] + (x.ndim,), dtype=np.int64)
    for k, d in enumerate(scatter_dims_to_operand_dims):
        starts[..., d] = vec[..., k]
    fits = np.all((starts >= 0) & (starts + np.asarray(sizes) <= np.asarray(x.shape)), axis=-1)
    grid = np.indices(updates.shape)
    scatter_dims = [i for i in range(updates.ndim) if i not in update_window_dims]
    bidx = tuple(grid[i] for i in scatter_dims)
    full = np.broadcast_to(starts[bidx], updates.shape + (x.ndim,)).copy()
    keep = np.broadcast_to(fits[bidx], updates.shape)
    window = [d for d in range(x.ndim) if d not in inserted_window_dims]
    for j, d in enumerate(window):
        full[..., d] += grid[update_window_dims[j]]
    where = tuple(full[..., d][keep] for d in range(x.ndim))
    vals = updates[keep]
    if mode == "set":
        out[where] = vals  # duplicates: NumPy's last write wins (XLA leaves it unspecified)
    elif x.dtype == np.bool_ and mode in ("add", "mul"):
        raise AssertionError("bool add/mul scatter is rejected by abstract_eval")
    else:
        with np.errstate(all="ignore"):
            _SCATTER_UFUNC[mode].at(out, where, vals)
    return out


def _scatter_vjp(ct: Any, x: Any, indices: Any, updates: Any, *, out: Any, update_window_dims,
                 inserted_window_dims, scatter_dims_to_operand_dims, index_vector_dim, mode,
                 indices_are_sorted, unique_indices) -> list[Any]:
    if not _is_float(x):
        return [None, None, None]
    sizes = _window_sizes(x.ndim, updates.shape, update_window_dims, inserted_window_dims)
    update_scatter_dims = [i for i in range(updates.ndim) if i not in update_window_dims]
    upper = [x.shape[d] - sizes[d] for d in scatter_dims_to_operand_dims]
    fits = _in_bounds(indices, index_vector_dim=index_vector_dim, upper=upper,
                      updates_shape=updates.shape, update_scatter_dims=update_scatter_dims)

    def read(v: Any) -> Any:  # the transpose of scattering: gather each update's window
        return gather(v, indices, offset_dims=update_window_dims,
                      collapsed_slice_dims=inserted_window_dims,
                      start_index_map=scatter_dims_to_operand_dims,
                      index_vector_dim=index_vector_dim, slice_sizes=sizes,
                      indices_are_sorted=indices_are_sorted)

    def write(v: Any, u: Any, m: str) -> Any:
        return scatter(v, indices, u, update_window_dims=update_window_dims,
                       inserted_window_dims=inserted_window_dims,
                       scatter_dims_to_operand_dims=scatter_dims_to_operand_dims,
                       index_vector_dim=index_vector_dim, mode=m,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)

    def masked(mask: Any, v: Any) -> Any:
        return _ew.select(mask, v, _ew.full_like(v, 0))

    if mode == "add":
        return [ct, None, masked(fits, read(ct))]
    if updates.size == 0:
        return [ct, None, _ew.full_like(updates, 0)]
    if mode == "set":
        # which update won each position: scatter per-update ids the same way, read them back
        scatter_shape = [updates.shape[i] for i in update_scatter_dims]
        n_ids = int(np.prod(scatter_shape, dtype=np.int64))
        id_dt = index_dtype(n_ids + 1)
        ids = _sh.reshape(_sh.iota(id_dt, (n_ids,)), shape=scatter_shape)
        ids = _ew.add(ids, _ew.full_like(ids, 1))  # 0 = "no update landed here"
        ids = _sh.broadcast_in_dim(ids, shape=updates.shape, dims=tuple(update_scatter_dims))
        owner = scatter(_sh.broadcast_in_dim(np.zeros((), id_dt.np), shape=x.shape, dims=()),
                        indices, ids, update_window_dims=update_window_dims,
                        inserted_window_dims=inserted_window_dims,
                        scatter_dims_to_operand_dims=scatter_dims_to_operand_dims,
                        index_vector_dim=index_vector_dim, mode="set",
                        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)
        untouched = _ew.eq(owner, _ew.full_like(owner, 0))
        won = _ew.and_(fits, _ew.eq(read(owner), ids))
        return [masked(untouched, ct), None, masked(won, read(ct))]
    if mode == "mul":
        # out = x * P with P the product of the updates landing on a position. d/du_j is
        # ct * x * (product of the other updates there), computed without dividing by zero:
        # Z counts zero updates per position and Pnz multiplies the non-zero ones.
        one = _ew.full_like(x, 1)
        prod_all = write(one, updates, "mul")
        is_zero = _ew.eq(updates, _ew.full_like(updates, 0))
        zeros_here = write(_ew.full_like(x, 0), _ew.convert(is_zero, dtype=x.dtype), "add")
        nonzero_prod = write(one, _ew.select(is_zero, _ew.full_like(updates, 1), updates), "mul")
        z, pnz = read(zeros_here), read(nonzero_prod)
        safe_u = _ew.select(is_zero, _ew.full_like(updates, 1), updates)
        others = _ew.select(is_zero,
                            masked(_ew.eq(z, _ew.full_like(z, 1)), pnz),
                            masked(_ew.eq(z, _ew.full_like(z, 0)), _ew.div(pnz, safe_u)))
        ct_u = _ew.mul(read(_ew.mul(ct, x)), others)
        return [_ew.mul(ct, prod_all), None, masked(fits, ct_u)]
    # min / max: the cotangent goes to every input that attains the result, split evenly
    # among ties (as reduce_max does)
    zero = _ew.full_like(x, 0)
    x_hit = _ew.convert(_ew.eq(x, out), dtype=x.dtype)
    u_hit = _ew.convert(_ew.and_(fits, _ew.eq(updates, read(out))), dtype=x.dtype)
    count = _ew.add(x_hit, write(zero, u_hit, "add"))
    none = _ew.eq(count, zero)
    share = _ew.select(none, zero, _ew.div(ct, _ew.select(none, _ew.full_like(x, 1), count)))
    return [_ew.mul(x_hit, share), None, _ew.mul(u_hit, read(share))]


scatter_p = Primitive("scatter", abstract_eval=_scatter_abstract_eval, ref=_scatter_ref,
                      lowering=L.scatter, vjp=_scatter_vjp)


def scatter(x: Any, indices: Any, updates: Any, *, update_window_dims: Sequence[int],
            inserted_window_dims: Sequence[int], scatter_dims_to_operand_dims: Sequence[int],
            index_vector_dim: int, mode: str, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> Any:
    return scatter_p.bind(
        x, indices, updates, update_window_dims=tuple(map(int, update_window_dims)),
        inserted_window_dims=tuple(map(int, inserted_window_dims)),
        scatter_dims_to_operand_dims=tuple(map(int, scatter_dims_to_operand_dims)),
        index_vector_dim=int(index_vector_dim), mode=str(mode),
        indices_are_sorted=bool(indices_are_sorted), unique_indices=bool(unique_indices))


# --- dynamic_slice / dynamic_update_slice ----------------------------------------------------

def _check_starts(prim: str, x: AbstractArray, starts: Sequence[AbstractArray]) -> None:
    if len(starts) != x.ndim:
        raise _err(prim, f"needs one start index per axis of {x.short}, got {len(starts)}")
    for s in starts:
        if s.shape != () or s.dtype not in dt.INTEGER or s.dtype is not starts[0].dtype:
            raise internal_error(_errors.DTypeError, prim,
                                 "start indices must be 0-d integer arrays of one dtype, got "
                                 + ", ".join(a.short for a in starts))


def _dynamic_slice_abstract_eval(x: AbstractArray, *starts: AbstractArray,
                                 slice_sizes) -> AbstractArray:
    _check_starts("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape)):
        raise _err("dynamic_slice", f"slice_sizes {slice_sizes} must fit operand {x.short}")
    return AbstractArray(tuple(slice_sizes), x.dtype, x.weak)


def _clamped(starts: Sequence[np.ndarray], shape: Sequence[int],
             sizes: Sequence[int]) -> list[int]:
    out = []
    for s, n, k in zip(starts, shape, sizes):
        v = int(s)  # an unsigned start above int64's range still clamps to the top
        out.append(min(max(v, 0), n - k))
    return out


def _dynamic_slice_ref(x: np.ndarray, *starts: np.ndarray, slice_sizes) -> np.ndarray:
    st = _clamped(starts, x.shape, slice_sizes)
    return x[tuple(slice(s, s + k) for s, k in zip(st, slice_sizes))]


def _dynamic_slice_vjp(ct: Any, x: Any, *starts: Any, out: Any, slice_sizes) -> list[Any]:
    if not _is_float(x):
        return [None] * (1 + len(starts))
    return [dynamic_update_slice(_ew.full_like(x, 0), ct, starts)] + [None] * len(starts)


dynamic_slice_p = Primitive("dynamic_slice", abstract_eval=_dynamic_slice_abstract_eval,
                            ref=_dynamic_slice_ref, lowering=L.dynamic_slice,
                            vjp=_dynamic_slice_vjp)


def dynamic_slice(x: Any, starts: Sequence[Any], *, slice_sizes: Sequence[int]) -> Any:
    return dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(map(int, slice_sizes)))


def _dynamic_update_slice_abstract_eval(x: AbstractArray, update: AbstractArray,
                                        *starts: AbstractArray) -> AbstractArray:
    _check_starts("dynamic_update_slice", x, starts)
    if update.dtype is not x.dtype:
        raise internal_error(_errors.DTypeError, "dynamic_update_slice",
                             f"update {update.short} must have the operand's dtype ({x.short})")
    if update.ndim != x.ndim or any(u > n for u, n in zip(update.shape, x.shape)):
        raise _err("dynamic_update_slice", f"update {update.short} does not fit operand {x.short}")
    return AbstractArray(x.shape, x.dtype, x.weak and update.weak)


def _dynamic_update_slice_ref(x: np.ndarray, update: np.ndarray, *starts: np.ndarray) -> np.ndarray:
    st = _clamped(starts, x.shape, update.shape)
    out = np.array(x, copy=True)
    out[tuple(slice(s, s + k) for s, k in zip(st, update.shape))] = update
    return out


def _dynamic_update_slice_vjp(ct: Any, x: Any, update: Any, *starts: Any, out: Any) -> list[Any]:
    if not _is_float(x):
        return [None] * (2 + len(starts))
    ct_x = dynamic_update_slice(ct, _ew.full_like(update, 0), starts)
    ct_u = dynamic_slice(ct, starts, slice_sizes=update.shape)
    return [ct_x, ct_u] + [None] * len(starts)


dynamic_update_slice_p = Primitive(
    "dynamic_update_slice", abstract_eval=_dynamic_update_slice_abstract_eval,
    ref=_dynamic_update_slice_ref, lowering=L.dynamic_update_slice,
    vjp=_dynamic_update_slice_vjp)


def dynamic_update_slice(x: Any, update: Any, starts: Sequence[Any]) -> Any:
    return dynamic_update_slice_p.bind(x, update, *starts)


# --- composites used by the namespace and by VJP rules ---------------------------------------

def index_dtype(*sizes: int) -> dt.DType:
    """int32 when every size fits (smaller indices, faster gathers), else int64."""
    # (a symbolic size counts as its upper bound, xfront/_shapes.py)
    return dt.int32 if max((_shapes.upper_bound(s) for s in sizes), default=0) < 2 ** 31 - 1 \
        else dt.int64


def point_indices(idx: Any, axis: int, ndim: int) -> Any:
    """Full index vectors ``idx.shape + (ndim,)``: ``idx`` on ``axis``, iotas elsewhere."""
    d = idx.dtype
    parts = []
    for a in range(ndim):
        p = idx if a == axis else _sh.iota(d, idx.shape, a)
        parts.append(_sh.reshape(p, shape=tuple(idx.shape) + (1,)))
    return _sh.concatenate(parts, axis=ndim) if ndim > 1 else parts[0]


def take_along_axis(x: Any, idx: Any, *, axis: int) -> Any:
    """``out[..., j, ...] = x[..., idx[..., j, ...], ...]`` along ``axis`` (idx is clamped).

    ``idx`` has ``x``'s shape except along ``axis``; it must be an integer array.
    """
    nd = x.ndim
    return gather(x, point_indices(idx, axis, nd), offset_dims=(),
                  collapsed_slice_dims=tuple(range(nd)), start_index_map=tuple(range(nd)),
                  index_vector_dim=nd, slice_sizes=(1,) * nd)


def scatter_along_axis(x: Any, idx: Any, updates: Any, *, axis: int, mode: str) -> Any:
    """The scatter twin of ``take_along_axis`` (out-of-range positions are dropped)."""
    nd = x.ndim
    return scatter(x, point_indices(idx, axis, nd), updates, update_window_dims=(),
                   inserted_window_dims=tuple(range(nd)),
                   scatter_dims_to_operand_dims=tuple(range(nd)), index_vector_dim=nd, mode=mode)


__all__ = ["gather", "scatter", "dynamic_slice", "dynamic_update_slice", "take_along_axis",
           "scatter_along_axis", "point_indices", "index_dtype", "SCATTER_MODES"]


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------
# NOTE [Batching gathers and scatters]
#     A batched operand with unbatched indices gains one more window axis (the whole batch
#     axis, sliced from 0). Batched indices into an unbatched operand gain one more batch axis.
#     When both are batched, each index vector gets the member number prepended (an iota
#     "counter" column), so member b reads or writes only row b of the batched operand; the
#     counter is in range, so the clamping of out-of-range starts is unchanged.

from xfront import _batching as _bt  # noqa: E402


def _explicit_index_vector(idx: Any, ivd: int) -> tuple[Any, int]:
    """Indices whose index-vector axis exists (a trailing axis of size 1 when implicit)."""
    if ivd == len(idx.shape):
        idx = _sh.reshape(idx, shape=(*idx.shape, 1))
    return idx, ivd


def _with_counter(idx: Any, ivd: int, size: int) -> Any:
    """Batched (axis 0) indices with the member number prepended to each index vector."""
    d = _bt.aval_of(idx).dtype
    if int(np.iinfo(d.np).max) < size - 1:
        idx, d = _ew.convert(idx, dtype=dt.int64), dt.int64
    shape = list(idx.shape)
    shape[ivd] = 1
    return _sh.concatenate([_sh.iota(d, shape, 0), idx], axis=ivd)


def _gather_rule(size: int, args, bdims, *, offset_dims, collapsed_slice_dims, start_index_map,
                 index_vector_dim, slice_sizes, indices_are_sorted):
    x, idx = args
    dx, di = bdims
    up = lambda ax: tuple(a + 1 for a in ax)  # noqa: E731
    if di is None:
        return gather(_bt.front(x, dx), idx, offset_dims=(0, *up(offset_dims)),
                      collapsed_slice_dims=up(collapsed_slice_dims),
                      start_index_map=up(start_index_map), index_vector_dim=index_vector_dim,
                      slice_sizes=(size, *slice_sizes), indices_are_sorted=indices_are_sorted), 0
    idx = _bt.front(idx, di)
    if dx is None:
        return gather(x, idx, offset_dims=up(offset_dims),
                      collapsed_slice_dims=collapsed_slice_dims, start_index_map=start_index_map,
                      index_vector_dim=index_vector_dim + 1, slice_sizes=slice_sizes,
                      indices_are_sorted=False), 0
    idx, ivd = _explicit_index_vector(idx, index_vector_dim + 1)
    return gather(_bt.front(x, dx), _with_counter(idx, ivd, size), offset_dims=up(offset_dims),
                  collapsed_slice_dims=(0, *up(collapsed_slice_dims)),
                  start_index_map=(0, *up(start_index_map)), index_vector_dim=ivd,
                  slice_sizes=(1, *slice_sizes), indices_are_sorted=False), 0


def _scatter_rule(size: int, args, bdims, *, update_window_dims, inserted_window_dims,
                  scatter_dims_to_operand_dims, index_vector_dim, mode, indices_are_sorted,
                  unique_indices):
    x, idx, upd = (_bt.to_front(a, d, size) for a, d in zip(args, bdims))
    up = lambda ax: tuple(a + 1 for a in ax)  # noqa: E731
    idx, ivd = _explicit_index_vector(idx, index_vector_dim + 1)
    return scatter(x, _with_counter(idx, ivd, size), upd,
                   update_window_dims=up(update_window_dims),
                   inserted_window_dims=(0, *up(inserted_window_dims)),
                   scatter_dims_to_operand_dims=(0, *up(scatter_dims_to_operand_dims)),
                   index_vector_dim=ivd, mode=mode, indices_are_sorted=False,
                   unique_indices=unique_indices), 0


def _dynamic_slice_rule(size: int, args, bdims, *, slice_sizes):
    x, starts = args[0], args[1:]
    dx, ds = bdims[0], bdims[1:]
    d = _bt.aval_of(starts[0]).dtype if starts else dt.int32
    if all(s is None for s in ds):
        zero = np.zeros((), dtype=d.np)
        return dynamic_slice(_bt.front(x, dx), [zero, *starts],
                             slice_sizes=(size, *slice_sizes)), 0
    # per-member starts: a gather of one window per member (gather clamps starts the same way)
    cols = [_sh.reshape(_bt.to_front(s, b, size), shape=(size, 1)) for s, b in zip(starts, ds)]
    idx = _sh.concatenate(cols, axis=1)
    nd = len(slice_sizes)
    if dx is None:
        return gather(x, idx, offset_dims=tuple(range(1, nd + 1)), collapsed_slice_dims=(),
                      start_index_map=tuple(range(nd)), index_vector_dim=1,
                      slice_sizes=slice_sizes, indices_are_sorted=False), 0
    return gather(_bt.front(x, dx), _with_counter(idx, 1, size),
                  offset_dims=tuple(range(1, nd + 1)), collapsed_slice_dims=(0,),
                  start_index_map=tuple(range(nd + 1)), index_vector_dim=1,
                  slice_sizes=(1, *slice_sizes), indices_are_sorted=False), 0


def _clamp_start(s: Any, upper: int) -> Any:
    """An int64 start clamped to [0, upper] as dynamic_update_slice clamps it (an unsigned start
    above int64's range clamps to the top, so unsigned starts are clamped before converting)."""
    d = _bt.aval_of(s).dtype
    if d in dt.UNSIGNED:
        if int(np.iinfo(d.np).max) > upper:
            s = _ew.min(s, _ew.full_like(s, upper))
        return _ew.convert(s, dtype=dt.int64)
    s = _ew.convert(s, dtype=dt.int64)
    return _ew.clamp(_ew.full_like(s, 0), s, _ew.full_like(s, upper))


def _dynamic_update_slice_rule(size: int, args, bdims):
    starts = args[2:]
    x, upd = (_bt.to_front(a, b, size) for a, b in zip(args[:2], bdims[:2]))
    if all(b is None for b in bdims[2:]):
        d = _bt.aval_of(starts[0]).dtype if starts else dt.int32
        return dynamic_update_slice(x, upd, [np.zeros((), dtype=d.np), *starts]), 0
    # per-member starts: a scatter of one window per member (member number prepended to each
    # start vector); scatter skips out-of-range windows, so the starts are clamped first
    nd = len(starts)
    cols = [_sh.reshape(_bt.to_front(_clamp_start(s, x.shape[1 + k] - upd.shape[1 + k]), b,
                                     size), shape=(size, 1))
            for k, (s, b) in enumerate(zip(starts, bdims[2:]))]
    idx = _with_counter(_sh.concatenate(cols, axis=1), 1, size)
    return scatter(x, idx, upd, update_window_dims=tuple(range(1, nd + 1)),
                   inserted_window_dims=(0,), scatter_dims_to_operand_dims=tuple(range(nd + 1)),
                   index_vector_dim=1, mode="set", unique_indices=True), 0


gather_p.batch = _gather_rule
scatter_p.batch = _scatter_rule
dynamic_slice_p.batch = _dynamic_slice_rule
dynamic_update_slice_p.batch = _dynamic_update_slice_rule
