"""xfront.kernels: a library of kernels written once in xfront (installed as ``xfront.kernels``).

Every kernel is a plain function of the public ``xfront`` namespace, so it runs eagerly on
xfront/NumPy/torch/TF/JAX arrays, is inlined when called inside ``xfront.compile``, and can be
compiled on its own: ``KERNELS['softmax'].compiled(torch_tensor)`` returns a torch tensor
(keyword arguments are static). ``KERNELS`` maps each name to a ``Kernel`` record with the
NumPy reference, the torch and TensorFlow equivalents and an example-input builder; the tests
(tests/test_kernels.py) and the benchmarks (``python -m benchmarks``) are generated from it.

Imports: xfront (public names), numpy; torch / tensorflow only inside the equivalents.
"""

from __future__ import annotations

from xfront.kernels import activations as _act
from xfront.kernels import attention as _att
from xfront.kernels import conv as _conv
from xfront.kernels import losses as _loss
from xfront.kernels import norm as _norm
from xfront.kernels import softmax as _sm
from xfront.kernels import _registry as _r
from xfront.kernels._registry import Case, Kernel
from xfront.kernels.activations import gelu, silu
from xfront.kernels.attention import mlp, scaled_dot_product_attention
from xfront.kernels.conv import avg_pool2d, conv2d, max_pool2d
from xfront.kernels.losses import cross_entropy
from xfront.kernels.norm import batch_norm, layer_norm, rms_norm
from xfront.kernels.softmax import log_softmax, logsumexp, softmax

_POOL_STATIC = ("kernel_size", "stride", "padding")
_LAYOUTS = (Case("NCHW", {"layout": "NCHW"}), Case("NHWC", {"layout": "NHWC"}))

KERNELS: dict[str, Kernel] = {
    "softmax": Kernel("softmax", softmax, _sm.softmax_ref, _sm.softmax_torch, _sm.softmax_tf,
                      _r.rows_example, cases=(Case("last"), Case("axis0", {"axis": 0}))),
    "log_softmax": Kernel("log_softmax", log_softmax, _sm.log_softmax_ref,
                          _sm.log_softmax_torch, _sm.log_softmax_tf, _r.rows_example),
    "logsumexp": Kernel("logsumexp", logsumexp, _sm.logsumexp_ref, _sm.logsumexp_torch,
                        _sm.logsumexp_tf, _r.rows_example,
                        cases=(Case("last"), Case("keepdims", {"axis": 1, "keepdims": True}))),
    "layer_norm": Kernel("layer_norm", layer_norm, _norm.layer_norm_ref,
                         _norm.layer_norm_torch, _norm.layer_norm_tf, _r.layer_norm_example),
    "rms_norm": Kernel("rms_norm", rms_norm, _norm.rms_norm_ref, _norm.rms_norm_torch,
                       _norm.rms_norm_tf, _r.rms_norm_example),
    "gelu": Kernel("gelu", gelu, _act.gelu_ref, _act.gelu_torch, _act.gelu_tf,
                   _r.elementwise_example,
                   cases=(Case("exact"), Case("tanh", {"approximate": "tanh"})),
                   tol=_r.TOL_ELEMENTWISE),
    "silu": Kernel("silu", silu, _act.silu_ref, _act.silu_torch, _act.silu_tf,
                   _r.elementwise_example, tol=_r.TOL_ELEMENTWISE),
    "scaled_dot_product_attention": Kernel(
        "scaled_dot_product_attention", scaled_dot_product_attention,
        _att.scaled_dot_product_attention_ref, _att.scaled_dot_product_attention_torch,
        _att.scaled_dot_product_attention_tf, _r.attention_example,
        cases=(Case("plain"), Case("causal", {"is_causal": True}),
               Case("bool_mask", build={"mask": "bool"}),
               Case("additive_mask", build={"mask": "additive"}),
               Case("causal_and_mask", {"is_causal": True}, build={"mask": "bool"}, tf=False)),
        tol=_r.TOL_MATMUL),
    "mlp": Kernel("mlp", mlp, _att.mlp_ref, _att.mlp_torch, _att.mlp_tf, _r.mlp_example,
                  cases=(Case("gelu_tanh"), Case("silu", {"activation": "silu"})),
                  tol=_r.TOL_MATMUL),
    "cross_entropy": Kernel("cross_entropy", cross_entropy, _loss.cross_entropy_ref,
                            _loss.cross_entropy_torch, _loss.cross_entropy_tf,
                            _r.cross_entropy_example,
                            cases=(Case("mean"), Case("none", {"reduction": "none"}))),
    "conv2d": Kernel(
        "conv2d", conv2d, _conv.conv2d_ref, _conv.conv2d_torch, _conv.conv2d_tf,
        _r.conv2d_example,
        cases=(Case("NCHW_pad1", {"padding": 1, "layout": "NCHW"}),
               Case("NHWC_pad1", {"padding": 1, "layout": "NHWC"}),
               Case("NCHW_stride2", {"stride": 2, "layout": "NCHW"}),
               Case("NHWC_same", {"padding": "SAME", "layout": "NHWC"}, torch=False),
               Case("NCHW_dilated", {"dilation": 2, "padding": (2, 1), "layout": "NCHW"}),
               Case("NHWC_groups", {"groups": 2, "layout": "NHWC"}, tf=False),
               Case("NCHW_nobias", {"layout": "NCHW"}, build={"bias": False})),
        tol=_r.TOL_MATMUL),
    "max_pool2d": Kernel(
        "max_pool2d", max_pool2d, _conv.max_pool2d_ref, _conv.max_pool2d_torch,
        _conv.max_pool2d_tf, _r.pool_example, static=_POOL_STATIC,
        cases=(Case("NCHW_2x2", {"kernel_size": 2, "layout": "NCHW"}),
               Case("NHWC_2x2", {"kernel_size": 2, "layout": "NHWC"}),
               Case("NCHW_3x3s2p1", {"kernel_size": 3, "stride": 2, "padding": 1,
                                     "layout": "NCHW"}),
               Case("NHWC_same", {"kernel_size": 3, "stride": 2, "padding": "SAME",
                                  "layout": "NHWC"}, torch=False)),
        tol=_r.TOL_ELEMENTWISE),
    "avg_pool2d": Kernel(
        "avg_pool2d", avg_pool2d, _conv.avg_pool2d_ref, _conv.avg_pool2d_torch,
        _conv.avg_pool2d_tf, _r.pool_example, static=_POOL_STATIC,
        cases=(Case("NCHW_2x2", {"kernel_size": 2, "layout": "NCHW"}),
               Case("NHWC_2x2", {"kernel_size": 2, "layout": "NHWC"}),
               Case("NCHW_3x3s2p1", {"kernel_size": 3, "stride": 2, "padding": 1,
                                     "layout": "NCHW"}, tf=False),
               Case("NHWC_same", {"kernel_size": 3, "stride": 2, "padding": "SAME",
                                  "layout": "NHWC"}, torch=False)),
        tol=_r.TOL_REDUCTION),
    "batch_norm": Kernel("batch_norm", batch_norm, _norm.batch_norm_ref, _norm.batch_norm_torch,
                         _norm.batch_norm_tf, _r.batch_norm_example, cases=_LAYOUTS,
                         tol=_r.TOL_ELEMENTWISE),
}

__all__ = ["KERNELS", "Case", "Kernel", "avg_pool2d", "batch_norm", "conv2d", "cross_entropy",
           "gelu", "layer_norm", "log_softmax", "logsumexp", "max_pool2d", "mlp", "rms_norm",
           "scaled_dot_product_attention", "silu", "softmax"]
