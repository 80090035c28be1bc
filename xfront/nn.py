"""``xfront.nn``: windowed array operations for neural-network code.

Imports: xfront._api._nn only (re-exports).

* ``conv_general_dilated``: N-d convolution with strides, 'SAME'/'VALID'/explicit padding,
  input and kernel dilation, feature and batch groups, and any layout (NCHW/OIHW, NHWC/HWIO...).
* ``reduce_window_max`` / ``reduce_window_sum``: sliding-window max and sum (pooling).

All three are differentiable (their VJP rules live on the primitives in xfront/prims/conv.py).
Ready-made layers (conv2d, max_pool2d, avg_pool2d, softmax, attention, ...) are in
``xfront.kernels``.
"""

from xfront._api._nn import (conv_general_dilated, padding_pairs, reduce_window_max,
                             reduce_window_sum)

__all__ = ["conv_general_dilated", "reduce_window_max", "reduce_window_sum", "padding_pairs"]
