"""Loss kernels: cross_entropy (softmax cross-entropy with integer class labels).

Imports: xfront (public names), numpy, kernels._util; torch / tensorflow lazily in the
equivalents.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import xfront as xf
from xfront.kernels._util import as_array, downcast, np_float, np_like, upcast

_REDUCTIONS = ("mean", "sum", "none")


def cross_entropy(logits: Any, labels: Any, *, reduction: str = "mean") -> Any:
    """Softmax cross-entropy ``logsumexp(logits) - logits[label]`` over the last axis.

    Args:
      logits: (..., C) real floating scores.
      labels: (...) integer class indices in ``[0, C)``.
      reduction: 'mean' (default, as torch), 'sum' or 'none'.

    The label's logit is picked with a one-hot comparison against an iota, which XLA fuses
    into the same pass as the log-sum-exp (no gather).
    """
    if reduction not in _REDUCTIONS:
        raise xf.ArgumentError(f"xfront.kernels.cross_entropy: reduction={reduction!r} is not "
                               f"one of {', '.join(_REDUCTIONS)}")
    logits, labels = as_array(logits), as_array(labels)
    if not xf.isdtype(labels.dtype, "integral"):
        raise xf.DTypeError(f"xfront.kernels.cross_entropy: labels must be integer class "
                            f"indices, got dtype {labels.dtype}")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise xf.ShapeError(f"xfront.kernels.cross_entropy: labels {tuple(labels.shape)} must "
                            f"have the shape of logits {tuple(logits.shape)} without the class "
                            "axis")
    z = upcast(logits)
    m = xf.max(z, axis=-1, keepdims=True)
    lse = xf.log(xf.sum(xf.exp(z - m), axis=-1)) + xf.squeeze(m, axis=-1)
    hit = xf.expand_dims(labels, axis=-1) == xf.arange(logits.shape[-1])
    picked = xf.sum(xf.where(hit, z, 0.0), axis=-1)
    loss = lse - picked
    if reduction == "mean":
        loss = xf.mean(loss)
    elif reduction == "sum":
        loss = xf.sum(loss)
    return downcast(loss, logits)


# --- NumPy reference and framework equivalents -----------------------------------------------

def cross_entropy_ref(logits: np.ndarray, labels: np.ndarray, *,
                      reduction: str = "mean") -> np.ndarray:
    from scipy import special

    z = np_float(logits)
    picked = np.take_along_axis(z, labels[..., None].astype(np.int64), axis=-1)[..., 0]
    loss = special.logsumexp(z, axis=-1) - picked
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return np_like(loss, logits)


def cross_entropy_torch(logits: Any, labels: Any, *, reduction: str = "mean") -> Any:
    import torch

    c = logits.shape[-1]
    out = torch.nn.functional.cross_entropy(logits.reshape(-1, c), labels.reshape(-1).long(),
                                            reduction=reduction)
    return out.reshape(labels.shape) if reduction == "none" else out


def cross_entropy_tf(logits: Any, labels: Any, *, reduction: str = "mean") -> Any:
    import tensorflow as tf

    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if reduction == "mean":
        return tf.reduce_mean(loss)
    if reduction == "sum":
        return tf.reduce_sum(loss)
    return loss
