"""Windowed primitives: conv_general_dilated, reduce_window_sum, reduce_window_max.

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules
(for VJP rules). Never the namespace.

NOTE [Convolution dimension numbers]
    ``dimension_numbers = (lhs_spec, rhs_spec, out_spec)``; each spec lists axis indices of its
    tensor: ``lhs_spec = (batch, feature, *spatial)``, ``rhs_spec = (out_feature, in_feature,
    *spatial)``, ``out_spec = (batch, feature, *spatial)``. NCHW/OIHW/NCHW is
    ``((0, 1, 2, 3),) * 3``; NHWC/HWIO/NHWC is ``((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))``.
    ``padding`` is one ``(low, high)`` pair per spatial axis (negative values crop).
    With ``feature_group_count = G`` the lhs features and the out features are split into G
    contiguous groups (``in_features * G == lhs features``). With ``batch_group_count = B`` the
    lhs batch and the out features are split into B contiguous groups (used by the rhs VJP of
    grouped convolutions). At most one of the two is > 1.

NOTE [VJP of windowed ops]
    Both conv VJPs are convolutions again (derived per spatial axis, 1-D):
    ``out[t] = sum_k xp[t*st + k*rd] * w[k]`` with ``xp`` the lhs dilated by ``ld`` and padded
    by ``(lo, hi)``. The lhs cotangent convolves ``ct`` (dilated by ``st``) with the spatially
    reversed kernel whose in/out features are swapped, at stride ``ld``, padding
    ``((K-1)*rd - lo, (S-1)*ld - (T-1)*st + lo)``. The rhs cotangent convolves the lhs (batch
    and feature roles swapped) with ``ct`` as the kernel: stride ``rd``, rhs dilation ``st``,
    lhs dilation ``ld``, padding ``(lo, (K-1)*rd + (T-1)*st + 1 - D - lo)`` with
    ``D = (S-1)*ld + 1``; feature groups become batch groups.
    ``reduce_window_sum``'s cotangent is ``ct`` dilated by the stride (interior padding), padded
    by ``(W-1-lo, S-1+lo-(T-1)*st)`` and summed over the same window at stride 1.
    ``reduce_window_max``'s cotangent goes to the first position (in row-major window order)
    that attains each window's maximum, as torch's max-pool backward does; it is written as one
    masked, strided scatter (pad with interior padding) per window offset, so it needs no
    select-and-scatter primitive.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import ml_dtypes
import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._aval import AbstractArray
from xfront._core import Primitive
from xfront.lowering.rules import conv as L
from xfront.prims import elementwise as _ew
from xfront.prims import shape as _sh
from xfront.prims._factories import check_dtype, internal_error
from xfront.prims.reduction import _lowest


def _shape_err(prim: str, msg: str) -> Exception:
    return internal_error(_errors.ShapeError, prim, msg)


def _window_out(size: int, lo: int, hi: int, window: int, stride: int) -> int:
    """Number of window positions along one axis of a (padded) operand."""
    padded = size + lo + hi
    return 0 if padded < window else (padded - window) // stride + 1


def _dilated(size: int, dilation: int) -> int:
    return 0 if size == 0 else (size - 1) * dilation + 1


def _is_perm(spec: Sequence[int], n: int) -> bool:
    return sorted(spec) == list(range(n))


def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


# --- conv_general_dilated --------------------------------------------------------------------

def _conv_abstract_eval(lhs: AbstractArray, rhs: AbstractArray, *, window_strides, padding,
                        lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count,
                        batch_group_count) -> AbstractArray:
    name = "conv_general_dilated"
    check_dtype(name, lhs, dt.REAL_FLOATING, "lhs")
    if rhs.dtype is not lhs.dtype:
        raise internal_error(_errors.DTypeError, name,
                             f"operands must share a dtype, got {lhs.short} and {rhs.short}")
    ls, rs, os_ = dimension_numbers
    n = lhs.ndim
    nsp = n - 2
    if rhs.ndim != n or n < 2 or not all(_is_perm(s, n) for s in (ls, rs, os_)):
        raise _shape_err(name, f"dimension numbers {dimension_numbers} do not fit {lhs.short} "
                               f"and {rhs.short}")
    if not (len(window_strides) == len(padding) == len(lhs_dilation) == len(rhs_dilation)
            == nsp):
        raise _shape_err(name, f"strides/padding/dilations need {nsp} entries each")
    if min((*window_strides, *lhs_dilation, *rhs_dilation), default=1) < 1:
        raise _shape_err(name, "strides and dilations must be >= 1")
    G, B = feature_group_count, batch_group_count
    if G < 1 or B < 1 or (G > 1 and B > 1):
        raise _shape_err(name, f"bad group counts feature={G}, batch={B}")
    N, C = lhs.shape[ls[0]], lhs.shape[ls[1]]
    O, I = rhs.shape[rs[0]], rhs.shape[rs[1]]
    if C != I * G or O % G or O % B or N % B:
        raise _shape_err(name, f"features do not match: lhs {lhs.short} has {C} features and "
                               f"batch {N}, rhs {rhs.short} has {I} in / {O} out features "
                               f"(feature_group_count={G}, batch_group_count={B})")
    spatial = []
    for i in range(nsp):
        size = _dilated(lhs.shape[ls[2 + i]], lhs_dilation[i])
        k = _dilated(rhs.shape[rs[2 + i]], rhs_dilation[i])
        lo, hi = padding[i]
        spatial.append(_window_out(size, lo, hi, k, window_strides[i]))
    canon = (N // B, O, *spatial)
    shape = [0] * n
    for axis, size in zip(os_, canon):
        shape[axis] = size
    return AbstractArray(tuple(shape), lhs.dtype)


def _conv_ref(lhs: np.ndarray, rhs: np.ndarray, *, window_strides, padding, lhs_dilation,
              rhs_dilation, dimension_numbers, feature_group_count,
              batch_group_count) -> np.ndarray:
    ls, rs, os_ = dimension_numbers
    out_dtype = lhs.dtype
    if lhs.dtype in (np.float16, ml_dtypes.bfloat16):
        lhs, rhs = lhs.astype(np.float32), rhs.astype(np.float32)
    x = np.transpose(lhs, ls)  # (N, C, *S)
    w = np.transpose(rhs, rs)  # (O, I, *K)
    nsp = x.ndim - 2
    # dilate the lhs, then pad it (negative padding crops)
    xd = np.zeros(x.shape[:2] + tuple(_dilated(s, d) for s, d in zip(x.shape[2:], lhs_dilation)),
                  x.dtype)
    xd[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in lhs_dilation)] = x
    xp = np.pad(xd, [(0, 0), (0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in padding])
    xp = xp[(slice(None), slice(None)) + tuple(
        slice(max(-lo, 0), xp.shape[2 + i] - max(-hi, 0)) for i, (lo, hi) in enumerate(padding))]
    G, B = feature_group_count, batch_group_count
    N, C = x.shape[:2]
    O, I = w.shape[:2]
    T = tuple(_window_out(xp.shape[2 + i], 0, 0, _dilated(w.shape[2 + i], rhs_dilation[i]),
                          window_strides[i]) for i in range(nsp))
    out = np.zeros((N // B, O) + T, dtype=x.dtype)
    if all(T) and out.size:
        for k in itertools.product(*[range(s) for s in w.shape[2:]]):
            window = tuple(slice(k[i] * rhs_dilation[i],
                                 k[i] * rhs_dilation[i] + (T[i] - 1) * window_strides[i] + 1,
                                 window_strides[i]) for i in range(nsp))
            patch = xp[(slice(None), slice(None)) + window]  # (N, C, *T)
            wk = w[(slice(None), slice(None)) + k]  # (O, I)
            if B == 1:
                p = patch.reshape((N, G, I) + T)
                out += np.einsum("ngi...,goi->ngo...", p, wk.reshape(G, O // G, I)).reshape(
                    out.shape)
            else:
                p = patch.reshape((B, N // B, C) + T)
                out += np.einsum("bni...,boi->nbo...", p, wk.reshape(B, O // B, I)).reshape(
                    out.shape)
    return np.transpose(out, _inverse(os_)).astype(out_dtype)


def _canonical_dims(n: int) -> tuple[tuple[int, ...], ...]:
    spec = tuple(range(n))
    return (spec, spec, spec)


def _conv_vjp(ct: Any, lhs: Any, rhs: Any, *, out: Any, window_strides, padding, lhs_dilation,
              rhs_dilation, dimension_numbers, feature_group_count,
              batch_group_count) -> list[Any]:
    if batch_group_count != 1:
        raise internal_error(_errors.ArgumentError, "conv_general_dilated",
                             "the VJP of a convolution with batch_group_count > 1 (a second "
                             "derivative of a grouped convolution) is not implemented")
    ls, rs, os_ = dimension_numbers
    n = lhs.ndim
    nsp = n - 2
    G = feature_group_count
    x = _sh.transpose(lhs, perm=ls)  # (N, C, *S)
    w = _sh.transpose(rhs, perm=rs)  # (O, I, *K)
    g = _sh.transpose(ct, perm=os_)  # (N, O, *T)
    N, C = x.shape[:2]
    O, I = w.shape[:2]
    S, K, T = x.shape[2:], w.shape[2:], g.shape[2:]
    canon = _canonical_dims(n)
    if 0 in T or 0 in (N, C, O):
        return [_ew.full_like(lhs, 0), _ew.full_like(rhs, 0)]
    spatial = tuple(range(2, n))
    # lhs cotangent: conv(ct, reversed kernel with in/out swapped)
    wr = _sh.rev(w, axes=spatial)
    if G == 1:
        wr = _sh.transpose(wr, perm=(1, 0) + spatial)  # (I, O, *K)
    else:
        wr = _sh.reshape(wr, shape=(G, O // G, I) + tuple(K))
        wr = _sh.transpose(wr, perm=(0, 2, 1) + tuple(range(3, n + 1)))
        wr = _sh.reshape(wr, shape=(G * I, O // G) + tuple(K))
    pads_x = tuple(((K[i] - 1) * rhs_dilation[i] - padding[i][0],
                    (S[i] - 1) * lhs_dilation[i] - (T[i] - 1) * window_strides[i]
                    + padding[i][0]) for i in range(nsp))
    dx = conv_general_dilated(g, wr, window_strides=lhs_dilation, padding=pads_x,
                              lhs_dilation=window_strides, rhs_dilation=rhs_dilation,
                              dimension_numbers=canon, feature_group_count=G)
    # rhs cotangent: conv(lhs with batch/feature swapped, ct as the kernel)
    pads_w = tuple((padding[i][0],
                    (K[i] - 1) * rhs_dilation[i] + (T[i] - 1) * window_strides[i] + 1
                    - _dilated(S[i], lhs_dilation[i]) - padding[i][0]) for i in range(nsp))
    swapped = (1, 0) + spatial
    dw = conv_general_dilated(x, g, window_strides=rhs_dilation, padding=pads_w,
                              lhs_dilation=lhs_dilation, rhs_dilation=window_strides,
                              dimension_numbers=(swapped, swapped, swapped),
                              batch_group_count=G)  # (O, I, *K)
    return [_sh.transpose(dx, perm=_inverse(ls)), _sh.transpose(dw, perm=_inverse(rs))]


def _conv_jvp(primals: list[Any], tangents: list[Any], *, out: Any, **params: Any) -> Any:
    # bilinear: d conv(x, w) = conv(dx, w) + conv(x, dw); no second derivative is needed
    lhs, rhs = primals
    dlhs, drhs = tangents
    terms = []
    if dlhs is not None:
        terms.append(conv_general_dilated_p.bind(dlhs, rhs, **params))
    if drhs is not None:
        terms.append(conv_general_dilated_p.bind(lhs, drhs, **params))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else _ew.add(terms[0], terms[1])


conv_general_dilated_p = Primitive(
    "conv_general_dilated", abstract_eval=_conv_abstract_eval, ref=_conv_ref,
    lowering=L.conv_general_dilated, vjp=_conv_vjp, jvp=_conv_jvp)


def conv_general_dilated(lhs: Any, rhs: Any, *, window_strides: Sequence[int],
                         padding: Sequence[tuple[int, int]],
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Sequence[Sequence[int]],
                         feature_group_count: int = 1, batch_group_count: int = 1) -> Any:
    nsp = len(window_strides)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=tuple(int(s) for s in window_strides),
        padding=tuple((int(lo), int(hi)) for lo, hi in padding),
        lhs_dilation=tuple(int(d) for d in (lhs_dilation or (1,) * nsp)),
        rhs_dilation=tuple(int(d) for d in (rhs_dilation or (1,) * nsp)),
        dimension_numbers=tuple(tuple(int(a) for a in s) for s in dimension_numbers),
        feature_group_count=int(feature_group_count), batch_group_count=int(batch_group_count))


# --- reduce_window_sum / reduce_window_max ---------------------------------------------------

def _window_abstract_eval(name: str, accepts: frozenset[dt.DType]) -> Callable:
    def abstract_eval(x: AbstractArray, *, window_dimensions, window_strides,
                      padding) -> AbstractArray:
        check_dtype(name, x, accepts)
        if not (len(window_dimensions) == len(window_strides) == len(padding) == x.ndim):
            raise _shape_err(name, f"window {window_dimensions}, strides {window_strides} and "
                                   f"padding {padding} need {x.ndim} entries for {x.short}")
        if min((*window_dimensions, *window_strides), default=1) < 1:
            raise _shape_err(name, f"window {window_dimensions} and strides {window_strides} "
                                   "must be >= 1")
        shape = tuple(_window_out(s, lo, hi, w, st) for s, (lo, hi), w, st in
                      zip(x.shape, padding, window_dimensions, window_strides))
        return AbstractArray(shape, x.dtype)

    return abstract_eval


def _window_ref(fn: Callable, init: Callable[[np.dtype], Any]) -> Callable:
    def ref(x: np.ndarray, *, window_dimensions, window_strides, padding) -> np.ndarray:
        out_dtype = x.dtype
        if x.dtype in (np.float16, ml_dtypes.bfloat16):
            x = x.astype(np.float32)
        fill = init(dt.dtype(out_dtype))
        xp = np.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in padding], constant_values=fill)
        xp = xp[tuple(slice(max(-lo, 0), xp.shape[i] - max(-hi, 0))
                      for i, (lo, hi) in enumerate(padding))]
        T = tuple(_window_out(s, 0, 0, w, st) for s, w, st in
                  zip(xp.shape, window_dimensions, window_strides))
        out = np.full(T, fill, dtype=x.dtype)
        if out.size:
            for k in itertools.product(*[range(w) for w in window_dimensions]):
                sl = tuple(slice(k[i], k[i] + (T[i] - 1) * window_strides[i] + 1,
                                 window_strides[i]) for i in range(x.ndim))
                out = fn(out, xp[sl])
        return out.astype(out_dtype)

    return ref


def _window_sum_vjp(ct: Any, x: Any, *, out: Any, window_dimensions, window_strides,
                    padding) -> list[Any]:
    if 0 in ct.shape:
        return [_ew.full_like(x, 0)]
    lo = [w - 1 - p[0] for w, p in zip(window_dimensions, padding)]
    hi = [s - 1 + p[0] - (t - 1) * st for s, p, t, st in
          zip(x.shape, padding, ct.shape, window_strides)]
    zero = np.zeros((), dtype=ct.dtype.np)
    spread = _sh.pad(ct, zero, lo=lo, hi=hi, interior=[st - 1 for st in window_strides])
    return [reduce_window_sum(spread, window_dimensions=window_dimensions,
                              window_strides=(1,) * x.ndim, padding=((0, 0),) * x.ndim)]


def _window_max_vjp(ct: Any, x: Any, *, out: Any, window_dimensions, window_strides,
                    padding) -> list[Any]:
    if 0 in ct.shape or 0 in x.shape:
        return [_ew.full_like(x, 0)]
    nd = x.ndim
    low = np.asarray(_lowest(x.dtype), dtype=x.dtype.np)
    xp = _sh.pad(x, low, lo=[p[0] for p in padding], hi=[p[1] for p in padding])
    zero_ct = _ew.full_like(ct, 0)
    taken = _sh.broadcast_in_dim(np.asarray(False), shape=ct.shape, dims=())
    acc = _ew.full_like(xp, 0)
    zero = np.zeros((), dtype=ct.dtype.np)
    T = ct.shape
    for k in itertools.product(*[range(w) for w in window_dimensions]):
        limit = [k[i] + (T[i] - 1) * window_strides[i] + 1 for i in range(nd)]
        seen = _sh.slice(xp, start=k, limit=limit, strides=window_strides)
        hit = _ew.and_(_ew.eq(seen, out), _ew.not_(taken))
        taken = _ew.or_(taken, hit)
        back = _sh.pad(_ew.select(hit, ct, zero_ct), zero, lo=k,
                       hi=[xp.shape[i] - limit[i] for i in range(nd)],
                       interior=[st - 1 for st in window_strides])
        acc = _ew.add(acc, back)
    return [_sh.pad(acc, zero, lo=[-p[0] for p in padding], hi=[-p[1] for p in padding])]


reduce_window_sum_p = Primitive(
    "reduce_window_sum", abstract_eval=_window_abstract_eval("reduce_window_sum", dt.NUMERIC),
    ref=_window_ref(np.add, lambda d: 0),
    lowering=L.reduce_window("stablehlo.add", lambda d: 0), vjp=_window_sum_vjp)
reduce_window_max_p = Primitive(
    "reduce_window_max",
    abstract_eval=_window_abstract_eval("reduce_window_max", dt.REAL_NUMERIC),
    ref=_window_ref(np.maximum, _lowest),
    lowering=L.reduce_window("stablehlo.maximum", _lowest), vjp=_window_max_vjp)


def _window_params(x: Any, window_dimensions: Sequence[int], window_strides: Sequence[int] | None,
                   padding: Sequence[tuple[int, int]] | None) -> dict[str, Any]:
    nd = len(window_dimensions)
    return {"window_dimensions": tuple(int(w) for w in window_dimensions),
            "window_strides": tuple(int(s) for s in (window_strides or (1,) * nd)),
            "padding": tuple((int(lo), int(hi)) for lo, hi in (padding or ((0, 0),) * nd))}


def reduce_window_sum(x: Any, *, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None,
                      padding: Sequence[tuple[int, int]] | None = None) -> Any:
    return reduce_window_sum_p.bind(x, **_window_params(x, window_dimensions, window_strides,
                                                        padding))


def reduce_window_max(x: Any, *, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None,
                      padding: Sequence[tuple[int, int]] | None = None) -> Any:
    return reduce_window_max_p.bind(x, **_window_params(x, window_dimensions, window_strides,
                                                        padding))


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------

from xfront import _batching as _bt  # noqa: E402

_conv_by_scan = _bt.batch_by_scan(conv_general_dilated_p)


def _merge_into(x: Any, dim: int, axis: int) -> Any:
    """Fold batch axis ``dim`` of ``x`` into ``axis`` of the unbatched shape (batch-major)."""
    x = _bt.moveaxis(x, dim, axis)
    shape = list(x.shape)
    shape[axis:axis + 2] = [shape[axis] * shape[axis + 1]]
    return _sh.reshape(x, shape=shape)


def _split_out(out: Any, axis: int, size: int) -> tuple[Any, int]:
    """Undo a batch-major fold: axis ``axis`` of ``out`` becomes (batch, rest)."""
    shape = list(out.shape)
    shape[axis:axis + 1] = [size, shape[axis] // size]
    return _sh.reshape(out, shape=shape), axis


def _conv_rule(size: int, args, bdims, **params):
    # NOTE [Batching convolutions]
    #     A batched lhs alone is more images: its batch axis folds into N. Per-member kernels
    #     become feature groups: the member axis folds (batch-major) into the kernel's output
    #     features and, when the lhs is batched too, into its input features, with
    #     feature_group_count multiplied by the batch size, so member b's features only meet
    #     member b's kernel. Batch groups, and per-member kernels over a shared grouped lhs,
    #     run as a scan over the members.
    lhs, rhs = args
    dl, dr = bdims
    ls, rs, os_ = params["dimension_numbers"]
    if params["batch_group_count"] != 1 or (dr is not None and dl is None
                                            and params["feature_group_count"] != 1):
        return _conv_by_scan(size, args, bdims, **params)
    if dr is None:  # members of a batched lhs are more images
        out = conv_general_dilated_p.bind(_merge_into(lhs, dl, ls[0]), rhs, **params)
        return _split_out(out, os_[0], size)
    if dl is None:  # one lhs, per-member kernels: more output features
        out = conv_general_dilated_p.bind(lhs, _merge_into(rhs, dr, rs[0]), **params)
        return _split_out(out, os_[1], size)
    p = dict(params, feature_group_count=params["feature_group_count"] * size)
    out = conv_general_dilated_p.bind(_merge_into(lhs, dl, ls[1]), _merge_into(rhs, dr, rs[0]),
                                      **p)
    return _split_out(out, os_[1], size)


def _window_rule(prim: Primitive):
    def rule(size: int, args, bdims, *, window_dimensions, window_strides, padding):
        return prim.bind(_bt.front(args[0], bdims[0]), window_dimensions=(1, *window_dimensions),
                         window_strides=(1, *window_strides),
                         padding=((0, 0), *padding)), 0

    return rule


conv_general_dilated_p.batch = _conv_rule
reduce_window_sum_p.batch = _window_rule(reduce_window_sum_p)
reduce_window_max_p.batch = _window_rule(reduce_window_max_p)
