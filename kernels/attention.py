"""Attention and MLP kernels: scaled_dot_product_attention (causal and masked), mlp.

Imports: xfront (public names), numpy, kernels._util, kernels.activations; torch / tensorflow
lazily in the equivalents.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import xfront as xf
from xfront.kernels._util import as_array, downcast, np_float, np_like, upcast
from xfront.kernels.activations import gelu, gelu_ref, silu, silu_ref


def _causal_keep(lq: int, lk: int) -> Any:
    """(lq, lk) bool: query i sees keys j <= i (top-left aligned, as torch's is_causal)."""
    return xf.arange(lq)[:, None] >= xf.arange(lk)[None, :]


# NOTE [Attention in blocks of heads]
#     The plain formulation materialises the (..., Lq, Lk) scores of every head at once: for
#     (4, 8, 512, 512) float32 that is a 32 MiB temporary that XLA:CPU takes fresh from malloc
#     on every call. Blocks of that size are mmap'ed by glibc, so every call paid ~8,200 page
#     faults, and the scores went through memory several times (max, exp, sum, normalise, the
#     second product). When the scores exceed ``BLOCK_MIN_BYTES``, the flattened batch (all
#     leading axes) is split into equal blocks of at most ``BLOCK_BYTES`` of scores and the
#     blocks are run by ``xf.scan`` (one stablehlo.while): the loop body's temporaries are
#     allocated once and stay cache-sized. Each block computes exactly the plain formula for its
#     heads, so results agree with the plain form to rounding. Measured on the (4, 8, 512, 64)
#     benchmark (2-core AVX-512 host): 8,193 -> 0 page faults per call and ~35% less CPU time.
#     Unrolled blocks (slices + concat) did not help: XLA runs them concurrently and their
#     temporaries add up again.
BLOCK_BYTES = 2 << 20
BLOCK_MIN_BYTES = 8 << 20


def _attend(qf: Any, kf: Any, vf: Any, mask: Any, is_causal: bool, scale: float) -> Any:
    """The plain formula on upcast arrays (mask already an xfront array or None)."""
    s = xf.matmul(qf, xf.matrix_transpose(kf)) * scale
    if is_causal:
        s = xf.where(_causal_keep(s.shape[-2], s.shape[-1]), s, -math.inf)
    if mask is not None:
        s = xf.where(mask, s, -math.inf) if mask.dtype == xf.bool else s + upcast(mask)
    p = xf.exp(s - xf.max(s, axis=-1, keepdims=True))
    return xf.matmul(p / xf.sum(p, axis=-1, keepdims=True), vf)


def _static(*shapes: tuple) -> bool:
    return all(type(d) is int for shape in shapes for d in shape)


def _itemsize(dtype: Any) -> int | None:
    """Bytes per element of ``dtype`` from any namespace (the kernel also runs on other
    frameworks' namespaces, e.g. under ``xfront.testing.compare``: TensorFlow's ``DType`` calls
    it ``size``); None when unknown, and then the plain form runs."""
    for name in ("itemsize", "size"):
        v = getattr(dtype, name, None)
        if isinstance(v, int):
            return v
    return None


def _block_heads(batch: tuple[int, ...], lq: int, lk: int, itemsize: int) -> int:
    """Heads per block (a divisor of the flattened batch), or 0 to run the plain form."""
    n = math.prod(batch)
    per_head = lq * lk * itemsize
    if n < 2 or n * per_head <= BLOCK_MIN_BYTES:
        return 0
    fit = max(1, BLOCK_BYTES // per_head)
    c = max(d for d in range(1, min(fit, n) + 1) if n % d == 0)
    return c if c < n else 0


def _attend_blocked(qf: Any, kf: Any, vf: Any, mask: Any, is_causal: bool, scale: float,
                    batch: tuple[int, ...], c: int) -> Any:
    """``_attend`` over blocks of ``c`` heads of the flattened batch (NOTE above)."""
    n = math.prod(batch)
    lq, lk = qf.shape[-2], kf.shape[-2]

    def blocks(x: Any, tail: tuple[int, ...]) -> Any:
        x = xf.broadcast_to(x, batch + tail)
        return xf.reshape(x, (n // c, c) + tail)

    xs = [blocks(qf, (lq, qf.shape[-1])), blocks(kf, (lk, kf.shape[-1])),
          blocks(vf, (lk, vf.shape[-1]))]
    fixed = None
    if mask is not None:
        if all(d == 1 for d in mask.shape[:-2]):  # one mask for every head: close over it
            fixed = xf.reshape(mask, mask.shape[-2:])
        else:
            xs.append(blocks(mask, mask.shape[-2:]))

    def step(carry: Any, x: Any) -> tuple[Any, Any]:
        m = x[3] if len(x) == 4 else fixed
        return carry, _attend(x[0], x[1], x[2], m, is_causal, scale)

    _, out = xf.scan(step, xf.zeros((), dtype=qf.dtype), tuple(xs))
    return xf.reshape(out, batch + (lq, vf.shape[-1]))


def scaled_dot_product_attention(q: Any, k: Any, v: Any, mask: Any = None, *,
                                 is_causal: bool = False, scale: float | None = None) -> Any:
    """``softmax(q k^T * scale + mask) v`` over the last two axes, batched over the leading ones.

    Args:
      q: queries (..., Lq, D).
      k: keys (..., Lk, D).
      v: values (..., Lk, Dv).
      mask: optional, broadcastable to (..., Lq, Lk): bool (True = attend) or an additive float
        bias, as ``torch.nn.functional.scaled_dot_product_attention``'s ``attn_mask``.
      is_causal: mask out keys after each query (combined with ``mask`` if both are given).
      scale: score scale; default ``1 / sqrt(D)``.

    Returns:
      (..., Lq, Dv). Rows whose keys are all masked out give NaN (as torch).

    NOTE: the plain form (scale the scores, normalize the probabilities, then multiply by
    ``v``) is the fastest measured on XLA:CPU, which fuses all of it into one library call.
    Scaling ``q`` instead of the scores gave no gain, and normalizing after the second matmul
    (dividing an (Lq, Dv) array instead of (Lq, Lk)) was ~35% slower. Large problems run in
    blocks of heads: NOTE [Attention in blocks of heads].
    """
    q, k, v = as_array(q), as_array(k), as_array(v)
    qf, kf, vf = upcast(q), upcast(k), upcast(v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if mask is not None:
        mask = as_array(mask)
    shapes = [q.shape, k.shape, v.shape] + ([mask.shape] if mask is not None else [])
    c = 0
    if _static(*shapes) and q.ndim >= 3:
        try:
            batch = tuple(np.broadcast_shapes(*(s[:-2] for s in shapes)))
        except ValueError:  # mismatched batch axes: the plain form raises the clear error
            batch = ()
        size = _itemsize(qf.dtype)
        if batch and size:
            c = _block_heads(batch, q.shape[-2], k.shape[-2], size)
    if c:
        out = _attend_blocked(qf, kf, vf, mask, is_causal, scale, batch, c)
    else:
        out = _attend(qf, kf, vf, mask, is_causal, scale)
    return downcast(out, q)


_ACTIVATIONS = {
    "gelu": lambda h: gelu(h),
    "gelu_tanh": lambda h: gelu(h, approximate="tanh"),
    "relu": lambda h: xf.maximum(h, 0.0),
    "silu": silu,
}


def mlp(x: Any, w1: Any, b1: Any, w2: Any, b2: Any, *, activation: str = "gelu_tanh") -> Any:
    """A transformer MLP block: ``act(x @ w1 + b1) @ w2 + b2``.

    Args:
      x: (..., D). w1: (D, H). b1: (H,). w2: (H, Dout). b2: (Dout,).
      activation: 'gelu', 'gelu_tanh' (default, as GPT-2), 'relu' or 'silu'.
    """
    if activation not in _ACTIVATIONS:
        raise xf.ArgumentError(f"xfront.kernels.mlp: activation={activation!r} is not one of "
                               f"{', '.join(sorted(_ACTIVATIONS))}")
    x = as_array(x)
    h = _ACTIVATIONS[activation](xf.matmul(x, as_array(w1)) + as_array(b1))
    return xf.matmul(h, as_array(w2)) + as_array(b2)


# --- NumPy references and framework equivalents ----------------------------------------------

def scaled_dot_product_attention_ref(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                     mask: Any = None, *, is_causal: bool = False,
                                     scale: float | None = None) -> np.ndarray:
    qf, kf, vf = np_float(q), np_float(k), np_float(v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = qf @ np.swapaxes(kf, -1, -2) * scale
    if is_causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + np_float(mask)
    with np.errstate(invalid="ignore"):
        p = np.exp(s - s.max(-1, keepdims=True))
        return np_like(p / p.sum(-1, keepdims=True) @ vf, q)


def _np_act(name: str, h: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(h, 0)
    if name == "silu":
        return silu_ref(h)
    return gelu_ref(h, approximate="tanh" if name == "gelu_tanh" else "none")


def mlp_ref(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, *,
            activation: str = "gelu_tanh") -> np.ndarray:
    h = _np_act(activation, np_float(x) @ np_float(w1) + np_float(b1))
    return np_like(h @ np_float(w2) + np_float(b2), x)


def scaled_dot_product_attention_torch(q: Any, k: Any, v: Any, mask: Any = None, *,
                                       is_causal: bool = False, scale: float | None = None) -> Any:
    import torch

    return torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                            is_causal=is_causal, scale=scale)


def mlp_torch(x: Any, w1: Any, b1: Any, w2: Any, b2: Any, *, activation: str = "gelu_tanh") -> Any:
    import torch

    F = torch.nn.functional
    acts = {"gelu": F.gelu, "gelu_tanh": lambda h: F.gelu(h, approximate="tanh"),
            "relu": F.relu, "silu": F.silu}
    return torch.addmm(b2, acts[activation](torch.addmm(b1, x, w1)), w2)


def scaled_dot_product_attention_tf(q: Any, k: Any, v: Any, mask: Any = None, *,
                                    is_causal: bool = False, scale: float | None = None) -> Any:
    import tensorflow as tf

    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = tf.matmul(q, k, transpose_b=True) * scale
    neg = tf.constant(-np.inf, s.dtype)
    if is_causal:
        keep = tf.linalg.band_part(tf.ones(s.shape[-2:], tf.bool), -1, 0)
        s = tf.where(keep, s, neg)
    if mask is not None:
        s = tf.where(mask, s, neg) if mask.dtype == tf.bool else s + mask
    return tf.matmul(tf.nn.softmax(s, axis=-1), v)


def mlp_tf(x: Any, w1: Any, b1: Any, w2: Any, b2: Any, *, activation: str = "gelu_tanh") -> Any:
    import tensorflow as tf

    acts = {"gelu": tf.nn.gelu, "gelu_tanh": lambda h: tf.nn.gelu(h, approximate=True),
            "relu": tf.nn.relu, "silu": tf.nn.silu}
    return tf.matmul(acts[activation](tf.matmul(x, w1) + b1), w2) + b2
