"""Convolution and pooling kernels for both layouts: conv2d, max_pool2d, avg_pool2d.

Imports: xfront (public names, including xfront.nn), numpy, kernels._util; torch / tensorflow
lazily in the equivalents.

NOTE [Layouts]
    ``layout='NCHW'`` is PyTorch's convention: inputs (N, C, H, W), conv weights (O, I, kH, kW).
    ``layout='NHWC'`` is TensorFlow's and JAX's: inputs (N, H, W, C), weights (kH, kW, I, O).
    The same kernel serves both; XLA picks its own internal layout either way.

NOTE [Padding]
    ``padding`` is an int, a pair ``(pH, pW)`` (symmetric, as torch), a pair of
    ``(low, high)`` pairs, ``'VALID'`` (none) or ``'SAME'`` (output ``ceil(size / stride)``,
    extra padding at the end, as TensorFlow). Max pooling pads with -inf. Average pooling
    divides by the whole window (``count_include_pad=True``, torch's default) or by the
    number of real elements (``False``, TensorFlow's 'SAME' behaviour); ``None`` picks
    ``False`` for string padding and ``True`` otherwise, matching each framework's default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import xfront as xf
from xfront.kernels._util import as_array, np_float, np_like

_WEIGHT_LAYOUT = {"NCHW": "OIHW", "NHWC": "HWIO"}


def _layout(op: str, layout: str) -> str:
    if layout not in _WEIGHT_LAYOUT:
        raise xf.ArgumentError(f"xfront.kernels.{op}: layout={layout!r} is not 'NCHW' or "
                               "'NHWC'")
    return layout


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _spatial_padding(padding: Any) -> Any:
    """Padding for the two spatial axes: a string, or two (low, high) pairs."""
    if isinstance(padding, str):
        return padding
    if isinstance(padding, (int, np.integer)):
        return ((int(padding),) * 2,) * 2
    return tuple(_pair(p) for p in padding)


def _full(layout: str, spatial: tuple[Any, Any], fill: Any) -> tuple[Any, ...]:
    """A per-axis tuple for a 4-D array: ``spatial`` on H and W, ``fill`` on N and C."""
    h, w = spatial
    return (fill, fill, h, w) if layout == "NCHW" else (fill, h, w, fill)


def conv2d(x: Any, weight: Any, bias: Any = None, *, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1, layout: str = "NCHW") -> Any:
    """2-D convolution (cross-correlation) in either layout (NOTE [Layouts], NOTE [Padding]).

    Args:
      x: (N, C, H, W) for 'NCHW', (N, H, W, C) for 'NHWC'.
      weight: (O, C // groups, kH, kW) for 'NCHW', (kH, kW, C // groups, O) for 'NHWC'.
      bias: optional (O,).
      stride, dilation: int or (h, w).
      padding: see NOTE [Padding].
      groups: feature groups (``groups == C`` is a depthwise convolution).
      layout: 'NCHW' (PyTorch) or 'NHWC' (TensorFlow/JAX).
    """
    layout = _layout("conv2d", layout)
    x, weight = as_array(x), as_array(weight)
    out = xf.nn.conv_general_dilated(
        x, weight, _pair(stride), _spatial_padding(padding), rhs_dilation=_pair(dilation),
        dimension_numbers=(layout, _WEIGHT_LAYOUT[layout], layout), feature_group_count=groups)
    if bias is not None:
        c = 1 if layout == "NCHW" else 3
        out = out + xf.reshape(as_array(bias), tuple(-1 if i == c else 1 for i in range(4)))
    return out


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
               layout: str = "NCHW") -> Any:
    """2-D max pooling; ``stride`` defaults to ``kernel_size`` (NOTE [Padding])."""
    layout = _layout("max_pool2d", layout)
    x = as_array(x)
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    pad = _spatial_padding(padding)
    pads = pad if isinstance(pad, str) else _full(layout, pad, (0, 0))
    return xf.nn.reduce_window_max(x, _full(layout, k, 1), _full(layout, s, 1), pads)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
               count_include_pad: bool | None = None, layout: str = "NCHW") -> Any:
    """2-D average pooling; ``stride`` defaults to ``kernel_size`` (NOTE [Padding])."""
    layout = _layout("avg_pool2d", layout)
    x = as_array(x)
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    pad = _spatial_padding(padding)
    pads = pad if isinstance(pad, str) else _full(layout, pad, (0, 0))
    window, strides = _full(layout, k, 1), _full(layout, s, 1)
    total = xf.nn.reduce_window_sum(x, window, strides, pads)
    if count_include_pad is None:
        count_include_pad = not isinstance(pad, str)
    if count_include_pad:
        return total / float(k[0] * k[1])
    # the number of real (unpadded) elements per window: a window sum of ones, which XLA
    # folds to a constant at compile time
    plane = (1, 1, x.shape[2], x.shape[3]) if layout == "NCHW" else (1, x.shape[1], x.shape[2], 1)
    ones = xf.ones(plane, dtype=x.dtype)
    counts = xf.nn.reduce_window_sum(ones, window, strides, pads)
    return total / counts


# --- NumPy references and framework equivalents ----------------------------------------------

def _to_nchw(a: np.ndarray, layout: str) -> np.ndarray:
    return a if layout == "NCHW" else np.transpose(a, (0, 3, 1, 2))


def _from_nchw(a: np.ndarray, layout: str) -> np.ndarray:
    return a if layout == "NCHW" else np.transpose(a, (0, 2, 3, 1))


def _np_pads(padding: Any, size: tuple[int, int], window: tuple[int, int],
             stride: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    p = _spatial_padding(padding)
    if p == "VALID":
        return ((0, 0), (0, 0))
    if p == "SAME":
        out = []
        for n, w, st in zip(size, window, stride):
            total = max((-(-n // st) - 1) * st + w - n, 0)
            out.append((total // 2, total - total // 2))
        return tuple(out)
    return p


def _np_windows(xp: np.ndarray, window: tuple[int, int], stride: tuple[int, int],
                dilation: tuple[int, int] = (1, 1)):
    """Yield ((i, j), strided view (N, C, oh, ow)) per window offset of a padded NCHW array."""
    oh = (xp.shape[2] - (window[0] - 1) * dilation[0] - 1) // stride[0] + 1
    ow = (xp.shape[3] - (window[1] - 1) * dilation[1] - 1) // stride[1] + 1
    for i in range(window[0]):
        for j in range(window[1]):
            a, b = i * dilation[0], j * dilation[1]
            yield (i, j), xp[:, :, a:a + (oh - 1) * stride[0] + 1:stride[0],
                             b:b + (ow - 1) * stride[1] + 1:stride[1]]


def conv2d_ref(x: np.ndarray, weight: np.ndarray, bias: Any = None, *, stride: Any = 1,
               padding: Any = 0, dilation: Any = 1, groups: int = 1,
               layout: str = "NCHW") -> np.ndarray:
    xn = np_float(_to_nchw(x, layout))
    w = np_float(weight if layout == "NCHW" else np.transpose(weight, (3, 2, 0, 1)))  # OIHW
    st, dl = _pair(stride), _pair(dilation)
    keff = tuple((k - 1) * d + 1 for k, d in zip(w.shape[2:], dl))
    pads = _np_pads(padding, xn.shape[2:], keff, st)
    xp = np.pad(xn, ((0, 0), (0, 0)) + tuple(pads))
    n, c = xn.shape[:2]
    o, i = w.shape[:2]
    out = 0.0
    for (a, b), patch in _np_windows(xp, w.shape[2:], st, dl):
        pg = patch.reshape((n, groups, c // groups) + patch.shape[2:])
        wg = w[:, :, a, b].reshape(groups, o // groups, i)
        out = out + np.einsum("ngihw,goi->ngohw", pg, wg).reshape((n, o) + patch.shape[2:])
    if bias is not None:
        out = out + np_float(bias)[None, :, None, None]
    return np_like(_from_nchw(out, layout), x)


def _pool_ref(x: np.ndarray, kernel_size: Any, stride: Any, padding: Any, layout: str,
              fill: float) -> tuple[list[np.ndarray], np.ndarray]:
    xn = np_float(_to_nchw(x, layout))
    k = _pair(kernel_size)
    s = k if stride is None else _pair(stride)
    pads = _np_pads(padding, xn.shape[2:], k, s)
    xp = np.pad(xn, ((0, 0), (0, 0)) + tuple(pads), constant_values=fill)
    real = np.pad(np.ones(xn.shape[2:]), pads)
    views = [v for _, v in _np_windows(xp, k, s)]
    counts = sum(v for _, v in _np_windows(real[None, None], k, s))
    return views, counts


def max_pool2d_ref(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
                   layout: str = "NCHW") -> np.ndarray:
    views, _ = _pool_ref(x, kernel_size, stride, padding, layout, -np.inf)
    return np_like(_from_nchw(np.maximum.reduce(views), layout), x)


def avg_pool2d_ref(x: np.ndarray, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
                   count_include_pad: bool | None = None, layout: str = "NCHW") -> np.ndarray:
    views, counts = _pool_ref(x, kernel_size, stride, padding, layout, 0.0)
    k = _pair(kernel_size)
    if count_include_pad is None:
        count_include_pad = not isinstance(padding, str)
    out = sum(views) / (k[0] * k[1] if count_include_pad else counts)
    return np_like(_from_nchw(out, layout), x)


def _torch_in(x: Any, layout: str) -> Any:
    return x if layout == "NCHW" else x.permute(0, 3, 1, 2)


def _torch_out(y: Any, layout: str) -> Any:
    return y if layout == "NCHW" else y.permute(0, 2, 3, 1).contiguous()


def conv2d_torch(x: Any, weight: Any, bias: Any = None, *, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, layout: str = "NCHW") -> Any:
    import torch

    w = weight if layout == "NCHW" else weight.permute(3, 2, 0, 1)
    pad = padding.lower() if isinstance(padding, str) else padding
    y = torch.nn.functional.conv2d(_torch_in(x, layout), w, bias, stride, pad, dilation, groups)
    return _torch_out(y, layout)


def max_pool2d_torch(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
                     layout: str = "NCHW") -> Any:
    import torch

    y = torch.nn.functional.max_pool2d(_torch_in(x, layout), kernel_size, stride, padding)
    return _torch_out(y, layout)


def avg_pool2d_torch(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
                     count_include_pad: bool | None = None, layout: str = "NCHW") -> Any:
    import torch

    y = torch.nn.functional.avg_pool2d(_torch_in(x, layout), kernel_size, stride, padding,
                                       count_include_pad=count_include_pad is not False)
    return _torch_out(y, layout)


def _tf_in(x: Any, layout: str) -> Any:
    import tensorflow as tf

    return x if layout == "NHWC" else tf.transpose(x, (0, 2, 3, 1))


def _tf_out(y: Any, layout: str) -> Any:
    import tensorflow as tf

    return y if layout == "NHWC" else tf.transpose(y, (0, 3, 1, 2))


def _tf_padding(padding: Any) -> Any:
    p = _spatial_padding(padding)
    if isinstance(p, str):
        return p
    if p == ((0, 0), (0, 0)):
        return "VALID"  # the pooling ops take no explicit padding
    return [[0, 0], list(p[0]), list(p[1]), [0, 0]]


def conv2d_tf(x: Any, weight: Any, bias: Any = None, *, stride: Any = 1, padding: Any = 0,
              dilation: Any = 1, groups: int = 1, layout: str = "NCHW") -> Any:
    import tensorflow as tf

    w = weight if layout == "NHWC" else tf.transpose(weight, (2, 3, 1, 0))
    y = tf.nn.conv2d(_tf_in(x, layout), w, strides=_pair(stride), padding=_tf_padding(padding),
                     dilations=_pair(dilation))
    if bias is not None:
        y = y + bias
    return _tf_out(y, layout)


def max_pool2d_tf(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
                  layout: str = "NCHW") -> Any:
    import tensorflow as tf

    k = _pair(kernel_size)
    y = tf.nn.max_pool2d(_tf_in(x, layout), k, k if stride is None else _pair(stride),
                         _tf_padding(padding))
    return _tf_out(y, layout)


def avg_pool2d_tf(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, *,
                  count_include_pad: bool | None = None, layout: str = "NCHW") -> Any:
    import tensorflow as tf

    k = _pair(kernel_size)
    y = tf.nn.avg_pool2d(_tf_in(x, layout), k, k if stride is None else _pair(stride),
                         _tf_padding(padding))
    return _tf_out(y, layout)
