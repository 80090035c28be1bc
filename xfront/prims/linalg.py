"""Contraction primitives: dot_general.

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules.
"""

from __future__ import annotations

from typing import Any, Sequence

import ml_dtypes
import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._aval import AbstractArray
from xfront._core import Primitive
from xfront.lowering.rules import linalg as L
from xfront.prims import shape as _sh
from xfront.prims._factories import check_dtype, internal_error


def _dot_general_abstract_eval(x: AbstractArray, y: AbstractArray, *, contracting, batch,
                               precision=None) -> AbstractArray:
    (xc, yc), (xb, yb) = contracting, batch
    check_dtype("dot_general", x, dt.NUMERIC)
    if x.dtype is not y.dtype:
        raise internal_error(_errors.DTypeError, "dot_general",
                             f"operands must share a dtype, got {x.short} and {y.short}")
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise internal_error(_errors.ShapeError, "dot_general",
                             f"unpaired dimension numbers {contracting}, {batch}")
    for a, b in list(zip(xc, yc)) + list(zip(xb, yb)):
        if not (0 <= a < x.ndim and 0 <= b < y.ndim) or x.shape[a] != y.shape[b]:
            raise internal_error(_errors.ShapeError, "dot_general",
                                 f"dimensions {contracting}/{batch} do not match for "
                                 f"{x.short} and {y.short}")
    x_free = [x.shape[i] for i in range(x.ndim) if i not in xc and i not in xb]
    y_free = [y.shape[i] for i in range(y.ndim) if i not in yc and i not in yb]
    shape = tuple(x.shape[i] for i in xb) + tuple(x_free) + tuple(y_free)
    return AbstractArray(shape, x.dtype)


def _dot_general_ref(x: np.ndarray, y: np.ndarray, *, contracting, batch, precision=None):
    (xc, yc), (xb, yb) = contracting, batch
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    xs = [""] * x.ndim
    ys = [""] * y.ndim
    for a, b in zip(xb, yb):
        xs[a] = ys[b] = next(letters)
    for a, b in zip(xc, yc):
        xs[a] = ys[b] = next(letters)
    for i in range(x.ndim):
        xs[i] = xs[i] or next(letters)
    for i in range(y.ndim):
        ys[i] = ys[i] or next(letters)
    out = ([xs[a] for a in xb] + [xs[i] for i in range(x.ndim) if i not in xc and i not in xb]
           + [ys[i] for i in range(y.ndim) if i not in yc and i not in yb])
    spec = f"{''.join(xs)},{''.join(ys)}->{''.join(out)}"
    if x.dtype in (np.float16, ml_dtypes.bfloat16):
        return np.einsum(spec, x.astype(np.float32), y.astype(np.float32))
    return np.einsum(spec, x, y)


def _dot_general_vjp(ct: Any, x: Any, y: Any, *, out: Any, contracting, batch,
                     precision=None) -> list[Any]:
    (xc, yc), (xb, yb) = contracting, batch
    nb = len(xb)
    x_free = [i for i in range(x.ndim) if i not in xc and i not in xb]
    y_free = [i for i in range(y.ndim) if i not in yc and i not in yb]
    ct_batch = list(range(nb))
    ct_x_free = list(range(nb, nb + len(x_free)))
    ct_y_free = list(range(nb + len(x_free), nb + len(x_free) + len(y_free)))
    # d/dx: contract ct with y over y's free dims; what remains of y is its contracted dims
    r = dot_general(ct, y, contracting=(ct_y_free, y_free), batch=(ct_batch, yb),
                    precision=precision)
    x_of_y_rest = [xc[list(yc).index(j)] for j in sorted(yc)]
    layout = list(xb) + x_free + x_of_y_rest
    ct_x = _sh.transpose(r, perm=[layout.index(d) for d in range(x.ndim)])
    r2 = dot_general(ct, x, contracting=(ct_x_free, x_free), batch=(ct_batch, xb),
                     precision=precision)
    y_of_x_rest = [yc[list(xc).index(i)] for i in sorted(xc)]
    layout2 = list(yb) + y_free + y_of_x_rest
    ct_y = _sh.transpose(r2, perm=[layout2.index(d) for d in range(y.ndim)])
    return [ct_x, ct_y]


dot_general_p = Primitive("dot_general", abstract_eval=_dot_general_abstract_eval,
                          ref=_dot_general_ref, lowering=L.dot_general, vjp=_dot_general_vjp)


def dot_general(x: Any, y: Any, *, contracting: tuple[Sequence[int], Sequence[int]],
                batch: tuple[Sequence[int], Sequence[int]] = ((), ()),
                precision: str | None = None) -> Any:
    c = (tuple(int(i) for i in contracting[0]), tuple(int(i) for i in contracting[1]))
    b = (tuple(int(i) for i in batch[0]), tuple(int(i) for i in batch[1]))
    return dot_general_p.bind(x, y, contracting=c, batch=b, precision=precision)


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------

from xfront import _batching as _bt  # noqa: E402


def _dot_general_rule(size: int, args, bdims, *, contracting, batch, precision=None):
    (xc, yc), (xb, yb) = contracting, batch
    x, y = args
    dx, dy = bdims
    up = lambda ax: tuple(a + 1 for a in ax)  # noqa: E731
    if dx is not None and dy is not None:
        # both batched: the batch axis becomes a dot batch dimension (the output's first axis)
        out = dot_general(_bt.moveaxis(x, dx, 0), _bt.moveaxis(y, dy, 0),
                          contracting=(up(xc), up(yc)), batch=((0, *up(xb)), (0, *up(yb))),
                          precision=precision)
        return out, 0
    if dx is not None:
        # a free axis of x: x's free axes follow the dot batch axes in the output
        out = dot_general(_bt.moveaxis(x, dx, 0), y, contracting=(up(xc), yc),
                          batch=(up(xb), yb), precision=precision)
        return out, len(xb)
    # a free axis of y: y's free axes follow the batch axes and x's free axes
    x_free = len(x.shape) - len(xc) - len(xb)
    out = dot_general(x, _bt.moveaxis(y, dy, 0), contracting=(xc, up(yc)), batch=(xb, up(yb)),
                      precision=precision)
    return out, len(xb) + x_free


dot_general_p.batch = _dot_general_rule
