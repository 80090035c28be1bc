"""Array API section "Manipulation Functions" (+ moveaxis, repeat, tile from NumPy).

Imports: _helpers, prims.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from xfront import _errors, _shapes
from xfront import _dtypes as dt
from xfront._api._helpers import (broadcast_shapes, cast, ensure_array, normalize_axes,
                                  normalize_axis, promote, to_array)
from xfront.prims import shape as sh


def _arr(op: str, x: Any) -> Any:
    return ensure_array(to_array(op, x))


def reshape(x: Any, /, shape: Sequence[int], *, copy: bool | None = None) -> Any:
    """Reshape ``x``; one dimension may be -1 (inferred)."""
    x = _arr("reshape", x)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        shp = [s if _shapes.is_symbolic(s) else operator.index(s) for s in shape]
    except TypeError:
        raise _errors.err(_errors.ArgumentError, "reshape",
                          f"shape must be a sequence of integers, got {shape!r}") from None
    if shp.count(-1) > 1 or any(s < -1 for s in shp):
        raise _errors.err(_errors.ShapeError, "reshape",
                          f"invalid shape {tuple(shp)}: at most one -1 and no other negatives")
    if not _shapes.is_static_shape((*shp, *x.shape)):
        return sh.reshape(x, shape=_symbolic_reshape(x, shp))
    if -1 in shp:
        known = int(np.prod([s for s in shp if s != -1], dtype=np.int64))
        if known == 0 or x.size % known:
            raise _errors.err(_errors.ShapeError, "reshape",
                              f"cannot reshape {x.aval.short} (size {x.size}) into {tuple(shp)}")
        shp[shp.index(-1)] = x.size // known
    if int(np.prod(shp, dtype=np.int64)) != x.size:
        raise _errors.err(_errors.ShapeError, "reshape",
                          f"cannot reshape {x.aval.short} (size {x.size}) into {tuple(shp)}",
                          "the number of elements must stay the same")
    return sh.reshape(x, shape=shp)


def _symbolic_reshape(x: Any, shp: list[Any]) -> list[Any]:
    """The target shape of a reshape with symbolic dimensions (xfront/_shapes.py): the sizes
    must agree as polynomials, and -1 must divide out exactly, for every value of the
    symbols; otherwise the error names the symbols and the constraint."""
    size = x.aval.size
    syms = ", ".join(sorted(_shapes.symbols_of((*x.shape, *shp))))
    target = "(" + ", ".join(map(str, shp)) + ")"
    if -1 in shp:
        known = _shapes.prod(s for s in shp if s != -1)
        q = _shapes.exact_div(size, known) if not (type(known) is int and known == 0) else None
        if q is None:
            raise _errors.err(_errors.ShapeError, "reshape",
                              f"cannot reshape {x.aval.short} into {target}: the size {size} is "
                              f"not known to be divisible by {known} for every value of the "
                              f"symbolic dimension(s) {syms}",
                              "use a shape whose product is the same expression, e.g. with the "
                              "symbol in it")
        shp = list(shp)
        shp[shp.index(-1)] = q
    if _shapes.prod(shp) != size:
        raise _errors.err(_errors.ShapeError, "reshape",
                          f"cannot reshape {x.aval.short} into {target}: {_shapes.prod(shp)} "
                          f"elements is not {size} for every value of the symbolic "
                          f"dimension(s) {syms}", "the number of elements must stay the same")
    return shp


def permute_dims(x: Any, /, axes: Sequence[int]) -> Any:
    """Permute the axes of ``x``."""
    x = _arr("permute_dims", x)
    ax = [normalize_axis("permute_dims", a, x.ndim) for a in axes]
    if sorted(ax) != list(range(x.ndim)):
        raise _errors.err(_errors.ShapeError, "permute_dims",
                          f"axes {tuple(axes)} are not a permutation of the {x.ndim} axes of "
                          f"{x.aval.short}")
    return sh.transpose(x, perm=ax)


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes."""
    x = _arr("matrix_transpose", x)
    if x.ndim < 2:
        raise _errors.err(_errors.ShapeError, "matrix_transpose",
                          f"expected at least 2 dimensions, got {x.aval.short}")
    perm = list(range(x.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return sh.transpose(x, perm=perm)


def expand_dims(x: Any, /, axis: int | Sequence[int] = 0) -> Any:
    """Insert size-1 axes at ``axis`` (an int or a tuple, positions in the result)."""
    x = _arr("expand_dims", x)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    nd = x.ndim + len(axes)
    for a in axes:  # the standard asks for IndexError here
        if isinstance(a, (int, np.integer)) and not -nd <= a < nd:
            raise _errors.err(_errors.XfIndexError, "expand_dims",
                              f"axis {a} is out of bounds for the {nd}-d result of expanding "
                              f"{x.aval.short}", f"valid axes are {-nd}..{nd - 1}")
    pos = normalize_axes("expand_dims", axes, nd)
    shape = list(x.shape)
    for p in pos:
        shape.insert(p, 1)
    return sh.reshape(x, shape=shape)


def squeeze(x: Any, /, axis: int | Sequence[int] | None = None) -> Any:
    """Remove size-1 axes (all of them when ``axis`` is None)."""
    x = _arr("squeeze", x)
    if axis is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    else:
        axes = normalize_axes("squeeze", axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise _errors.err(_errors.ShapeError, "squeeze",
                              f"cannot remove axis {a} of size {x.shape[a]} from {x.aval.short}",
                              "only size-1 axes can be squeezed")
    return sh.reshape(x, shape=[s for i, s in enumerate(x.shape) if i not in axes])


def flip(x: Any, /, *, axis: int | Sequence[int] | None = None) -> Any:
    """Reverse the order of elements along ``axis`` (all axes when None)."""
    x = _arr("flip", x)
    return sh.rev(x, axes=normalize_axes("flip", axis, x.ndim))


def roll(x: Any, /, shift: int | Sequence[int], *, axis: int | Sequence[int] | None = None) -> Any:
    """Roll elements along ``axis`` (flattened when None) by ``shift``."""
    x = _arr("roll", x)
    if axis is None:
        flat = sh.reshape(x, shape=(x.size,))
        return sh.reshape(roll(flat, shift, axis=0), shape=x.shape)
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    if len(shifts) != len(axes):
        if len(shifts) == 1:
            shifts = tuple(shifts) * len(axes)
        else:
            raise _errors.err(_errors.ArgumentError, "roll",
                              f"shift {shift} and axis {axis} have different lengths")
    out = x
    for s, a in zip(shifts, axes):
        a = normalize_axis("roll", a, x.ndim)
        n = x.shape[a]
        if n == 0:
            continue
        s = operator.index(s) % n
        if s == 0:
            continue
        start = [0] * x.ndim
        limit = list(x.shape)
        limit[a] = n - s
        head = sh.slice(out, start=start, limit=limit)
        start2 = [0] * x.ndim
        start2[a] = n - s
        tail = sh.slice(out, start=start2, limit=list(x.shape))
        out = sh.concatenate([tail, head], axis=a)
    return out


def _promoted(op: str, arrays: Sequence[Any]) -> list[Any]:
    if isinstance(arrays, (np.ndarray,)) or not isinstance(arrays, (list, tuple)):
        raise _errors.err(_errors.ArgumentError, op,
                          f"expected a list or tuple of arrays, got {type(arrays).__name__}")
    if not arrays:
        raise _errors.err(_errors.ArgumentError, op, "needs at least one array")
    xs = [to_array(op, a) for a in arrays]
    d, weak = promote(op, *xs)
    return [ensure_array(cast(op, x, d)) for x in xs]


def concat(arrays: Sequence[Any], /, *, axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (``axis=None`` flattens them first)."""
    xs = _promoted("concat", arrays)
    if axis is None:
        xs = [sh.reshape(x, shape=(x.size,)) for x in xs]
        axis = 0
    nd = xs[0].ndim
    if nd == 0:
        raise _errors.err(_errors.ShapeError, "concat", "zero-dimensional arrays cannot be "
                                                        "concatenated", "use stack instead")
    a = normalize_axis("concat", axis, nd)
    for x in xs[1:]:
        if x.ndim != nd or any(p != q for i, (p, q) in enumerate(zip(x.shape, xs[0].shape))
                               if i != a):
            raise _errors.err(_errors.ShapeError, "concat",
                              f"all shapes must match except along axis {a}, got "
                              + ", ".join(str(tuple(y.shape)) for y in xs))
    return sh.concatenate(xs, axis=a)


def stack(arrays: Sequence[Any], /, *, axis: int = 0) -> Any:
    """Join arrays along a new axis."""
    xs = _promoted("stack", arrays)
    shape = tuple(xs[0].shape)
    for x in xs[1:]:
        if tuple(x.shape) != shape:
            raise _errors.err(_errors.ShapeError, "stack",
                              "all arrays must have the same shape, got "
                              + ", ".join(str(tuple(y.shape)) for y in xs))
    a = normalize_axis("stack", axis, len(shape) + 1)
    new_shape = list(shape)
    new_shape.insert(a, 1)
    return sh.concatenate([sh.reshape(x, shape=new_shape) for x in xs], axis=a)


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """Split ``x`` along ``axis`` into a tuple of arrays."""
    x = _arr("unstack", x)
    if x.ndim == 0:
        raise _errors.err(_errors.ShapeError, "unstack", "cannot unstack a 0-d array")
    a = normalize_axis("unstack", axis, x.ndim)
    out = []
    rest = [s for i, s in enumerate(x.shape) if i != a]
    for i in range(x.shape[a]):
        start = [0] * x.ndim
        limit = list(x.shape)
        start[a], limit[a] = i, i + 1
        out.append(sh.reshape(sh.slice(x, start=start, limit=limit), shape=rest))
    return tuple(out)


def broadcast_to(x: Any, /, shape: Sequence[int]) -> Any:
    """Broadcast ``x`` to ``shape``."""
    x = _arr("broadcast_to", x)
    shape = tuple(s if _shapes.is_symbolic(s) else operator.index(s) for s in shape)
    out = broadcast_shapes("broadcast_to", tuple(x.shape), shape)
    if out != shape:
        raise _errors.err(_errors.ShapeError, "broadcast_to",
                          f"cannot broadcast {x.aval.short} to {shape}")
    if tuple(x.shape) == shape:
        return x
    nd = len(shape)
    return sh.broadcast_in_dim(x, shape=shape, dims=tuple(range(nd - x.ndim, nd)))


def broadcast_arrays(*arrays: Any) -> list[Any]:
    """Broadcast arrays against each other."""
    xs = [_arr("broadcast_arrays", a) for a in arrays]
    shape = broadcast_shapes("broadcast_arrays", *[tuple(x.shape) for x in xs])
    return [broadcast_to(x, shape) for x in xs]


def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int], /) -> Any:
    """Move axes of ``x`` to new positions."""
    x = _arr("moveaxis", x)
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise _errors.err(_errors.ArgumentError, "moveaxis",
                          "source and destination must have the same number of elements")
    src = [normalize_axis("moveaxis", a, x.ndim, "source") for a in src]
    dst = [normalize_axis("moveaxis", a, x.ndim, "destination") for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise _errors.err(_errors.ShapeError, "moveaxis", "repeated axes")
    order = [a for a in range(x.ndim) if a not in src]
    for d_, s_ in sorted(zip(dst, src)):
        order.insert(d_, s_)
    return sh.transpose(x, perm=order)


def repeat(x: Any, repeats: int | Sequence[int] | Any, /, *, axis: int | None = None) -> Any:
    """Repeat each element ``repeats`` times along ``axis`` (flattened when None).

    ``repeats`` must be concrete (a Python int, a sequence of ints or a concrete array): the
    output shape depends on it.
    """
    x = _arr("repeat", x)
    if axis is None or x.ndim == 0:  # NumPy treats a 0-d input as 1-d here
        x = sh.reshape(x, shape=(x.size,))
        axis = 0 if axis is None else axis
    a = normalize_axis("repeat", axis, x.ndim)
    from xfront._core import Tracer

    if isinstance(repeats, Tracer):
        raise _errors.err(_errors.DynamicShapeError, "repeat",
                          "repeats is a traced array, but the output shape depends on its values",
                          "pass repeats as a Python int/list or a static argument")
    reps = np.asarray(repeats)
    if reps.dtype.kind not in "iu" or reps.ndim > 1:
        raise _errors.err(_errors.ArgumentError, "repeat",
                          f"repeats must be an int or a 1-D sequence of ints, got {repeats!r}")
    n = x.shape[a]
    if reps.ndim == 1 and reps.shape[0] == 1:  # a one-element repeats broadcasts
        reps = reps.reshape(())
    if reps.ndim == 1 and reps.shape[0] != n:
        raise _errors.err(_errors.ShapeError, "repeat",
                          f"repeats has {reps.shape[0]} entries but axis {a} has size {n}")
    if (reps < 0).any():
        raise _errors.err(_errors.ArgumentError, "repeat", "repeats must be non-negative")
    if reps.ndim == 0:
        r = int(reps)
        expanded = list(x.shape)
        expanded.insert(a + 1, r)
        keep = list(range(x.ndim + 1))
        keep.pop(a + 1)
        b = sh.broadcast_in_dim(x, shape=expanded, dims=keep)
        out_shape = list(x.shape)
        out_shape[a] = n * r
        return sh.reshape(b, shape=out_shape)
    pieces = []
    for i, r in enumerate(reps.tolist()):
        if r == 0:
            continue
        start = [0] * x.ndim
        limit = list(x.shape)
        start[a], limit[a] = i, i + 1
        piece = sh.slice(x, start=start, limit=limit)
        shp = list(x.shape)
        shp[a] = r
        pieces.append(sh.broadcast_in_dim(piece, shape=shp, dims=tuple(range(x.ndim))))
    if not pieces:
        shp = list(x.shape)
        shp[a] = 0
        return sh.slice(x, start=[0] * x.ndim, limit=shp)
    return sh.concatenate(pieces, axis=a) if len(pieces) > 1 else pieces[0]


def tile(x: Any, repetitions: Sequence[int], /) -> Any:
    """Repeat the whole array ``repetitions[i]`` times along each axis."""
    x = _arr("tile", x)
    reps = tuple(operator.index(r) for r in (repetitions if isinstance(repetitions, (tuple, list))
                                             else (repetitions,)))
    if any(r < 0 for r in reps):
        raise _errors.err(_errors.ArgumentError, "tile", "repetitions must be non-negative")
    nd = max(x.ndim, len(reps))
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - x.ndim) + tuple(x.shape)
    x = sh.reshape(x, shape=shape)
    # broadcast to (r0, s0, r1, s1, ...) then merge pairs
    big = []
    dims = []
    for i, (r, s) in enumerate(zip(reps, shape)):
        big.extend([r, s])
        dims.append(2 * i + 1)
    b = sh.broadcast_in_dim(x, shape=big, dims=dims)
    return sh.reshape(b, shape=[r * s for r, s in zip(reps, shape)])


__all__ = ["broadcast_arrays", "broadcast_to", "concat", "expand_dims", "flip", "matrix_transpose",
           "moveaxis", "permute_dims", "repeat", "reshape", "roll", "squeeze", "stack", "tile",
           "unstack"]
