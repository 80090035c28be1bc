"""Op table rows for ``xfront.nn`` (windowed operations), concatenated into tests/op_db.OPS.

The references are the NumPy definitions below (dilate, pad, then sum/max over strided window
views), written independently of xfront's padding resolution; 'SAME' follows TensorFlow.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as st

import xfront as xf
from tests._harness import A, ErrorCase, OpCase

_FLOATS = ("float16", "bfloat16", "float32", "float64")
_LOOSE = {"float16": (1e-2, 1e-2), "bfloat16": (5e-2, 5e-2), "float32": (1e-5, 1e-5),
          "float64": (1e-12, 1e-12)}


def _same(size: int, window: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def _pairs(padding, sizes, windows, strides):
    if padding == "VALID":
        return [(0, 0)] * len(sizes)
    if padding == "SAME":
        return [_same(s, w, st) for s, w, st in zip(sizes, windows, strides)]
    return [tuple(p) for p in padding]


def _dil(n: int, d: int) -> int:
    return 0 if n == 0 else (n - 1) * d + 1


def _pad_crop(x: np.ndarray, pairs, fill) -> np.ndarray:
    y = np.pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in pairs], constant_values=fill)
    return y[tuple(slice(max(-lo, 0), y.shape[i] - max(-hi, 0))
                   for i, (lo, hi) in enumerate(pairs))]


def _views(xp: np.ndarray, windows, strides, dilations, lead: int):
    """(offset, strided view) for each window offset over the trailing axes after ``lead``."""
    nsp = len(windows)
    outs = [max((xp.shape[lead + i] - _dil(windows[i], dilations[i])) // strides[i] + 1, 0)
            if xp.shape[lead + i] >= _dil(windows[i], dilations[i]) else 0 for i in range(nsp)]
    for k in itertools.product(*[range(w) for w in windows]):
        sl = tuple(slice(k[i] * dilations[i], k[i] * dilations[i] + (outs[i] - 1) * strides[i]
                         + 1, strides[i]) if outs[i] else slice(0, 0) for i in range(nsp))
        yield k, xp[(slice(None),) * lead + sl]


def conv_ref(x, w, window_strides=1, padding="VALID", *, lhs_dilation=None, rhs_dilation=None,
             feature_group_count=1):
    """Channels-first N-d convolution (the default layout of xfront.nn.conv_general_dilated)."""
    dtype = x.dtype
    x, w = x.astype(np.float64), w.astype(np.float64)
    nsp = x.ndim - 2
    st = (window_strides,) * nsp if isinstance(window_strides, int) else window_strides
    ld = lhs_dilation or (1,) * nsp
    rd = rhs_dilation or (1,) * nsp
    xd = np.zeros(x.shape[:2] + tuple(_dil(s, d) for s, d in zip(x.shape[2:], ld)))
    xd[(slice(None),) * 2 + tuple(slice(None, None, d) for d in ld)] = x
    pairs = _pairs(padding, xd.shape[2:], [_dil(k, d) for k, d in zip(w.shape[2:], rd)], st)
    xp = _pad_crop(xd, [(0, 0), (0, 0)] + list(pairs), 0.0)
    g = feature_group_count
    n, c = x.shape[:2]
    o, i = w.shape[:2]
    out = None
    for k, view in _views(xp, w.shape[2:], st, rd, 2):
        term = np.einsum("ngi...,goi->ngo...", view.reshape((n, g, i) + view.shape[2:]),
                         w[(slice(None), slice(None)) + k].reshape(g, o // g, i))
        term = term.reshape((n, o) + view.shape[2:])
        out = term if out is None else out + term
    return out.astype(dtype)


def _window_ref(combine, fill):
    def ref(x, window_dimensions, window_strides=None, padding="VALID"):
        dtype = x.dtype
        y = x.astype(np.float64)
        st = window_strides or (1,) * x.ndim
        pairs = _pairs(padding, x.shape, window_dimensions, st)
        xp = _pad_crop(y, pairs, fill)
        out = None
        for _, view in _views(xp, window_dimensions, st, (1,) * x.ndim, 0):
            out = view.copy() if out is None else combine(out, view)
        return out.astype(dtype)

    return ref


@st.composite
def _conv_shapes(draw, nargs):
    nsp = draw(st.integers(1, 2))
    groups = draw(st.integers(1, 2))
    i = draw(st.integers(1, 2))
    o = groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    spatial = tuple(draw(st.integers(1, 6)) for _ in range(nsp))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nsp))
    return ((n, i * groups) + spatial, (o, i) + kernel)


@st.composite
def _conv_kwargs(draw, shapes):
    xs, ws = shapes
    nsp = len(xs) - 2
    per = st.lists(st.integers(1, 2), min_size=nsp, max_size=nsp).map(tuple)
    padding = draw(st.one_of(st.sampled_from(["VALID", "SAME"]),
                             st.lists(st.tuples(st.integers(-1, 2), st.integers(-1, 2)),
                                      min_size=nsp, max_size=nsp).map(tuple)))
    return {"window_strides": draw(per), "padding": padding, "lhs_dilation": draw(per),
            "rhs_dilation": draw(per), "feature_group_count": xs[1] // ws[1]}


@st.composite
def _window_shapes(draw, nargs):
    return (tuple(draw(st.integers(1, 5)) for _ in range(draw(st.integers(1, 3)))),)


@st.composite
def _window_kwargs(draw, shapes):
    (xs,) = shapes
    nd = len(xs)
    windows = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = draw(st.one_of(st.sampled_from(["VALID", "SAME"]),
                             st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)),
                                      min_size=nd, max_size=nd).map(tuple)))
    return {"window_dimensions": windows, "window_strides": strides, "padding": padding}


NN = [
    OpCase("nn.conv_general_dilated", xf.nn.conv_general_dilated, conv_ref, _FLOATS, nargs=2,
           shapes=_conv_shapes, kwargs=_conv_kwargs, specials=False, tol=_LOOSE,
           errors=(ErrorCase((A((1, 4, 5)), A((2, 3, 3))), raises=ValueError,
                             match=r"xfront\.nn\.conv_general_dilated: lhs f32\[1,4,5\] has 4 "
                                   r"input features but rhs f32\[2,3,3\] expects 3"),
                   ErrorCase((A((1, 3, 5), "int32"), A((2, 3, 3), "int32")), raises=TypeError,
                             match=r"xfront\.nn\.conv_general_dilated: expected real "
                                   r"floating-point input"),
                   ErrorCase((A((1, 3, 5)), A((2, 3, 3))), {"padding": "FULL"},
                             raises=TypeError, match=r"padding 'FULL' is not"))),
    OpCase("nn.reduce_window_max", xf.nn.reduce_window_max, _window_ref(np.maximum, -np.inf),
           _FLOATS + ("int32", "uint8"), shapes=_window_shapes, kwargs=_window_kwargs,
           specials=False,
           errors=(ErrorCase((A((4, 4)),), {"window_dimensions": (2,)}, raises=ValueError,
                             match=r"xfront\.nn\.reduce_window_max: window_dimensions has 1 "
                                   r"entries, expected 2"),)),
    OpCase("nn.reduce_window_sum", xf.nn.reduce_window_sum, _window_ref(np.add, 0.0),
           _FLOATS + ("int32",), shapes=_window_shapes, kwargs=_window_kwargs, specials=False,
           tol=_LOOSE),
]
