"""Primitives behind ``xfront.random``: the Threefry-2x32 block function and a keyed sort.

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules.
Never the namespace.

``threefry2x32`` is the counter-based generator every sampler is built on: 20 rounds of 32-bit
add / rotate / xor (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011). It is
lowered to plain integer StableHLO ops, so it gives the same bits on every backend, eagerly and
compiled; ``threefry2x32_ref`` is the NumPy definition (checked against the published
known-answer vectors in the tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._aval import AbstractArray
from xfront._core import NONDIFFERENTIABLE, Primitive
from xfront.lowering.rules import random as L
from xfront.prims import shape as _sh
from xfront.prims._factories import check_dtype, check_same, internal_error

# the algorithm's constants live with its lowering rule (rules may not import prims):
# round r rotates by ROTATIONS[(r // 4) % 2][r % 4]; the third key word is k0 ^ k1 ^ KEY_PARITY
ROTATIONS, KEY_PARITY, ROUNDS = L.ROTATIONS, L.KEY_PARITY, L.ROUNDS


def threefry2x32_ref(k0: np.ndarray, k1: np.ndarray, x0: np.ndarray,
                     x1: np.ndarray) -> list[np.ndarray]:
    """NumPy Threefry-2x32 (20 rounds): encrypt counters (x0, x1) under key (k0, k1)."""
    u = np.uint32
    k0, k1, x0, x1 = (np.asarray(a, dtype=u) for a in (k0, k1, x0, x1))
    ks = (k0, k1, k0 ^ k1 ^ u(KEY_PARITY))
    with np.errstate(over="ignore"):
        x0 = x0 + ks[0]
        x1 = x1 + ks[1]
        for r in range(ROUNDS):
            s = ROTATIONS[(r // 4) % 2][r % 4]
            x0 = x0 + x1
            x1 = (x1 << u(s)) | (x1 >> u(32 - s))
            x1 = x1 ^ x0
            if r % 4 == 3:  # key injection after every 4 rounds
                j = r // 4 + 1
                x0 = x0 + ks[j % 3]
                x1 = x1 + ks[(j + 1) % 3] + u(j)
    return [x0, x1]


def _threefry_abstract_eval(k0: AbstractArray, k1: AbstractArray, x0: AbstractArray,
                            x1: AbstractArray) -> list[AbstractArray]:
    for a in (k0, k1, x0, x1):
        check_dtype("threefry2x32", a, frozenset({dt.uint32}))
    check_same("threefry2x32", k0, k1, x0, x1)
    out = AbstractArray(x0.shape, dt.uint32)
    return [out, out]


threefry2x32_p = Primitive("threefry2x32", abstract_eval=_threefry_abstract_eval,
                           ref=threefry2x32_ref, lowering=L.threefry2x32,
                           vjp=NONDIFFERENTIABLE, multiple_results=True,
                           doc="Threefry-2x32 block cipher (20 rounds), elementwise.")


def threefry2x32(k0: Any, k1: Any, x0: Any, x1: Any) -> list[Any]:
    return threefry2x32_p.bind(k0, k1, x0, x1)


# --- sort_by_key ------------------------------------------------------------------------------

def _sort_by_key_abstract_eval(keys: AbstractArray, x: AbstractArray, *,
                               axis: int) -> AbstractArray:
    check_dtype("sort_by_key", keys, dt.REAL_NUMERIC, "keys")
    if keys.shape != x.shape or not 0 <= axis < x.ndim:
        raise internal_error(_errors.ShapeError, "sort_by_key",
                             f"keys {keys.short} and x {x.short} need equal shapes and an axis "
                             f"in range, got axis={axis}")
    return x.strong()


def _sort_by_key_ref(keys: np.ndarray, x: np.ndarray, *, axis: int) -> np.ndarray:
    order = np.argsort(keys, axis=axis, kind="stable")
    return np.take_along_axis(x, order, axis=axis)


def _sort_by_key_vjp(ct: Any, keys: Any, x: Any, *, out: Any, axis: int) -> list[Any]:
    # out[j] = x[perm[j]], so ct_x[perm[j]] = ct[j]: sorting ct by perm undoes the shuffle
    perm = sort_by_key(keys, _sh.iota(dt.int64, keys.shape, axis), axis=axis)
    return [None, sort_by_key(perm, ct, axis=axis)]


sort_by_key_p = Primitive("sort_by_key", abstract_eval=_sort_by_key_abstract_eval,
                          ref=_sort_by_key_ref, lowering=L.sort_by_key, vjp=_sort_by_key_vjp,
                          doc="Reorder x along an axis so that keys are ascending (stable).")


def sort_by_key(keys: Any, x: Any, *, axis: int) -> Any:
    return sort_by_key_p.bind(keys, x, axis=int(axis))


__all__ = ["threefry2x32_p", "threefry2x32", "threefry2x32_ref", "sort_by_key_p", "sort_by_key",
           "ROTATIONS", "KEY_PARITY", "ROUNDS"]


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------
# threefry2x32 is elementwise over its four equal-shape operands, so batched keys and batched
# counters both batch like any elementwise op.

from xfront import _batching as _bt  # noqa: E402

threefry2x32_p.batch = _bt.elementwise_rule(threefry2x32_p)
sort_by_key_p.batch = _bt.axis_param_rule(sort_by_key_p, "axis")
