"""Windowed operations of ``xfront.nn``: general convolution and windowed max/sum reductions.

Imports: _helpers, _dtypes, _errors, prims. These are the public, forgiving forms of the strict
windowed primitives (xfront/prims/conv.py): they promote dtypes, accept layout strings and
'SAME'/'VALID' padding, and raise errors that name ``xfront.nn.<function>``. The kernels in
``xfront.kernels`` (conv2d, max_pool2d, avg_pool2d) are written on top of them.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from xfront import _errors
from xfront import _dtypes as dt
from xfront._api._helpers import cast, dtype_of, ensure_array, operand, promote, require, to_array
from xfront.prims import conv as cv

Padding = str | int | Sequence[int] | Sequence[tuple[int, int]]


def _ints(op: str, name: str, value: Any, n: int, default: int) -> tuple[int, ...]:
    """``value`` (None, int or sequence of n ints) as a tuple of n positive ints."""
    if value is None:
        return (default,) * n
    try:
        vals = (operator.index(value),) * n if not isinstance(value, (tuple, list)) else tuple(
            operator.index(v) for v in value)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, op,
                          f"{name} must be an int or a sequence of ints, got {value!r}") from None
    if len(vals) != n:
        raise _errors.err(_errors.ShapeError, op,
                          f"{name} has {len(vals)} entries, expected {n} (one per window axis)")
    if any(v < 1 for v in vals):
        raise _errors.err(_errors.ArgumentError, op, f"{name} must be >= 1, got {vals}")
    return vals


def _same_pads(size: int, window: int, stride: int) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def padding_pairs(op: str, padding: Padding, sizes: Sequence[int], windows: Sequence[int],
                  strides: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Resolve 'VALID', 'SAME', an int, per-axis ints, or (low, high) pairs to pairs."""
    n = len(sizes)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0),) * n
        if mode == "SAME":
            return tuple(_same_pads(s, w, st) for s, w, st in zip(sizes, windows, strides))
        raise _errors.err(_errors.ArgumentError, op,
                          f"padding {padding!r} is not 'SAME', 'VALID', an int or (low, high) "
                          "pairs")
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * n
    items = list(padding)
    if len(items) != n:
        raise _errors.err(_errors.ShapeError, op,
                          f"padding has {len(items)} entries, expected {n} (one per window axis)")
    pairs = []
    for p in items:
        if isinstance(p, (int, np.integer)):
            pairs.append((int(p), int(p)))
        elif isinstance(p, (tuple, list)) and len(p) == 2:
            pairs.append((int(p[0]), int(p[1])))
        else:
            raise _errors.err(_errors.ArgumentError, op,
                              f"padding entry {p!r} is not an int or a (low, high) pair")
    return tuple(pairs)


def _dilated(size: int, d: int) -> int:
    return 0 if size == 0 else (size - 1) * d + 1


def _spec(op: str, spec: Any, ndim: int, roles: str, letters: str | None) -> tuple[tuple[int, ...],
                                                                                   str]:
    """One layout (a string like 'NHWC' or a tuple of axis indices) -> (axis spec, letters)."""
    if isinstance(spec, str):
        if len(spec) != ndim or len(set(spec)) != ndim or not set(roles) <= set(spec):
            raise _errors.err(_errors.ShapeError, op,
                              f"layout {spec!r} does not fit a {ndim}-D operand; it needs the "
                              f"letters {roles[0]!r} and {roles[1]!r} and one letter per spatial "
                              "axis")
        spatial = "".join(c for c in spec if c not in roles)
        if letters is not None and sorted(spatial) != sorted(letters):
            raise _errors.err(_errors.ShapeError, op,
                              f"layout {spec!r} names spatial axes {spatial!r} but the input "
                              f"layout names {letters!r}")
        order = letters if letters is not None else spatial
        return (spec.index(roles[0]), spec.index(roles[1])) + tuple(
            spec.index(c) for c in order), order
    axes = tuple(operator.index(a) for a in spec)
    if sorted(axes) != list(range(ndim)):
        raise _errors.err(_errors.ShapeError, op,
                          f"dimension spec {axes} is not a permutation of range({ndim})")
    return axes, letters


def _dimension_numbers(op: str, dimension_numbers: Any, ndim: int) -> tuple[tuple[int, ...], ...]:
    if dimension_numbers is None:
        canon = tuple(range(ndim))
        return (canon, canon, canon)
    if len(dimension_numbers) != 3:
        raise _errors.err(_errors.ArgumentError, op,
                          "dimension_numbers must be (lhs, rhs, out) layouts, e.g. "
                          "('NHWC', 'HWIO', 'NHWC')")
    lhs, rhs, out = dimension_numbers
    ls, letters = _spec(op, lhs, ndim, "NC", None)
    rs, _ = _spec(op, rhs, ndim, "OI", letters)
    os_, _ = _spec(op, out, ndim, "NC", letters)
    return (ls, rs, os_)


def conv_general_dilated(lhs: Any, rhs: Any, /, window_strides: int | Sequence[int] | None = None,
                         padding: Padding = "VALID", *,
                         lhs_dilation: int | Sequence[int] | None = None,
                         rhs_dilation: int | Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1,
                         batch_group_count: int = 1) -> Any:
    """General N-d convolution (cross-correlation, as in every deep-learning framework).

    Args:
      lhs: input, e.g. (N, C, H, W) or (N, H, W, C).
      rhs: kernel, e.g. (O, I, kH, kW) or (kH, kW, I, O), with ``I * feature_group_count == C``.
      window_strides: stride per spatial axis (int or sequence; default 1).
      padding: 'VALID', 'SAME' (output size ``ceil(input / stride)``, extra padding at the
        end, as TensorFlow), an int, one int per spatial axis, or ``(low, high)`` pairs
        (negative values crop).
      lhs_dilation: input dilation (transposed convolution); default 1.
      rhs_dilation: kernel dilation (atrous convolution); default 1.
      dimension_numbers: ``(lhs, rhs, out)`` layouts as strings such as
        ``('NCHW', 'OIHW', 'NCHW')`` or ``('NHWC', 'HWIO', 'NHWC')``, or as axis tuples
        (see NOTE [Convolution dimension numbers] in xfront/prims/conv.py). Default: channels
        first, ``('NC...', 'OI...', 'NC...')``.
      feature_group_count: number of feature groups (``C`` for depthwise convolution).
      batch_group_count: number of batch groups.

    Returns:
      The convolution, in the ``out`` layout.

    Examples:
      >>> import numpy as np, xfront as xf
      >>> x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
      >>> xf.nn.conv_general_dilated(x, w, 1, "SAME").shape
      (1, 1, 4, 4)
    """
    op = "nn.conv_general_dilated"
    a = operand(op, lhs, "lhs")
    b = operand(op, rhs, "rhs")
    d, _ = promote(op, a, b)
    require(op, d, dt.REAL_FLOATING, a, b, hint="cast integer inputs with xfront.astype first")
    a = ensure_array(cast(op, a, d))
    b = ensure_array(cast(op, b, d))
    if a.ndim != b.ndim or a.ndim < 2:
        raise _errors.err(_errors.ShapeError, op,
                          f"lhs {a.aval.short} and rhs {b.aval.short} must have the same rank "
                          ">= 2 (batch, feature and spatial axes)")
    dn = _dimension_numbers(op, dimension_numbers, a.ndim)
    ls, rs, _ = dn
    nsp = a.ndim - 2
    strides = _ints(op, "window_strides", window_strides, nsp, 1)
    ld = _ints(op, "lhs_dilation", lhs_dilation, nsp, 1)
    rd = _ints(op, "rhs_dilation", rhs_dilation, nsp, 1)
    G, B = operator.index(feature_group_count), operator.index(batch_group_count)
    C, I = a.shape[ls[1]], b.shape[rs[1]]
    N, O = a.shape[ls[0]], b.shape[rs[0]]
    if G < 1 or B < 1 or (G > 1 and B > 1):
        raise _errors.err(_errors.ArgumentError, op,
                          f"feature_group_count={G} and batch_group_count={B} must be >= 1, and "
                          "at most one of them > 1")
    if C != I * G or O % G:
        raise _errors.err(_errors.ShapeError, op,
                          f"lhs {a.aval.short} has {C} input features but rhs {b.aval.short} "
                          f"expects {I} per group x {G} groups = {I * G}; the lhs feature count "
                          "must equal rhs in-features x feature_group_count, and the rhs "
                          "out-features must divide by it",
                          "check the layouts in dimension_numbers (NCHW/OIHW vs NHWC/HWIO)")
    if N % B or O % B:
        raise _errors.err(_errors.ShapeError, op,
                          f"batch {N} and out-features {O} must divide by batch_group_count={B}")
    sizes = [_dilated(a.shape[ls[2 + i]], ld[i]) for i in range(nsp)]
    windows = [_dilated(b.shape[rs[2 + i]], rd[i]) for i in range(nsp)]
    pads = padding_pairs(op, padding, sizes, windows, strides)
    return cv.conv_general_dilated(a, b, window_strides=strides, padding=pads, lhs_dilation=ld,
                                   rhs_dilation=rd, dimension_numbers=dn,
                                   feature_group_count=G, batch_group_count=B)


def _window(op: str, x: Any, window_dimensions: Any, window_strides: Any, padding: Padding,
            accepts: frozenset[dt.DType]) -> tuple[Any, dict[str, Any]]:
    x = ensure_array(to_array(op, x))
    require(op, dtype_of(x), accepts, x)
    windows = _ints(op, "window_dimensions", window_dimensions, x.ndim, 1)
    strides = _ints(op, "window_strides", window_strides, x.ndim, 1)
    pads = padding_pairs(op, padding, x.shape, windows, strides)
    return x, {"window_dimensions": windows, "window_strides": strides, "padding": pads}


def reduce_window_max(x: Any, /, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None,
                      padding: Padding = "VALID") -> Any:
    """Maximum over sliding windows (max pooling); padding counts as -inf.

    Args:
      x: real array.
      window_dimensions: window size per axis of ``x`` (1 for batch/channel axes).
      window_strides: step per axis (default 1).
      padding: as for ``conv_general_dilated``.

    Examples:
      >>> import numpy as np, xfront as xf
      >>> x = np.arange(16.0).reshape(4, 4)
      >>> np.asarray(xf.nn.reduce_window_max(x, (2, 2), (2, 2))).tolist()
      [[5.0, 7.0], [13.0, 15.0]]
    """
    x, params = _window("nn.reduce_window_max", x, window_dimensions, window_strides, padding,
                        dt.REAL_NUMERIC)
    return cv.reduce_window_max(x, **params)


def reduce_window_sum(x: Any, /, window_dimensions: Sequence[int],
                      window_strides: Sequence[int] | None = None,
                      padding: Padding = "VALID") -> Any:
    """Sum over sliding windows (the numerator of average pooling); padding counts as 0.

    Args:
      x: numeric array (bool is summed as int64).
      window_dimensions: window size per axis of ``x`` (1 for batch/channel axes).
      window_strides: step per axis (default 1).
      padding: as for ``conv_general_dilated``.
    """
    x = ensure_array(to_array("nn.reduce_window_sum", x))
    if x.dtype is dt.bool_:
        x = cast("nn.reduce_window_sum", x, dt.int64)
    x, params = _window("nn.reduce_window_sum", x, window_dimensions, window_strides, padding,
                        dt.NUMERIC)
    return cv.reduce_window_sum(x, **params)


__all__ = ["conv_general_dilated", "reduce_window_max", "reduce_window_sum", "padding_pairs"]
