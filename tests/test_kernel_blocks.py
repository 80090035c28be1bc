"""Attention in blocks of heads (NOTE [Attention in blocks of heads] in
xfront/kernels/attention.py): the blocked form is taken for large problems, and agrees with NumPy, the plain form and its
gradients on small shapes when the thresholds are lowered."""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf
from xfront.kernels import KERNELS
from xfront.kernels import attention as A

K = KERNELS["scaled_dot_product_attention"]
sdpa = A.scaled_dot_product_attention


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Block every problem with more than one head, 2 heads of (7, 9) scores per block."""
    monkeypatch.setattr(A, "BLOCK_MIN_BYTES", 0)
    monkeypatch.setattr(A, "BLOCK_BYTES", 2 * 7 * 9 * 8)


def _text(fn, *xs):
    return xf.compile(fn).lower(*[xf.asarray(x) for x in xs]).as_text()


def test_block_sizes():
    # the benchmark shape: 32 heads of 1 MiB scores -> blocks of 2 heads (2 MiB)
    assert A._block_heads((4, 8), 512, 512, 4) == 2
    assert A._block_heads((4, 8), 64, 64, 4) == 0  # 0.5 MiB of scores in all: plain
    assert A._block_heads((1,), 4096, 4096, 4) == 0  # one head: nothing to split
    assert A._block_heads((3, 5), 1024, 1024, 4) == 1  # 4 MiB per head: one at a time
    assert A._block_heads((6,), 1024, 512, 4) == 1
    assert A._block_heads((12,), 512, 256, 4) == 0  # 6 MiB in all: plain
    assert A._block_heads((18,), 512, 256, 4) == 3  # largest divisor of 18 within 4


@pytest.mark.parametrize("case", K.cases, ids=lambda c: c.label)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_blocked_matches_numpy(tiny_blocks, case, dtype):
    xs = K.inputs(case, dtype)
    ref = K.ref(*xs, **case.kwargs)
    rtol, atol = K.tol[dtype]
    assert "stablehlo.while" in _text(lambda *a: sdpa(*a, **case.kwargs), *xs)
    eager = np.asarray(sdpa(*xs, **case.kwargs))
    compiled = np.asarray(xf.compile(lambda *a: sdpa(*a, **case.kwargs))(*xs))
    np.testing.assert_allclose(eager, ref, rtol=rtol, atol=atol)
    np.testing.assert_allclose(compiled, ref, rtol=rtol, atol=atol)


def _qkv(rng, qshape, kshape, dtype=np.float32):
    d = qshape[-1]
    return (rng.standard_normal(qshape).astype(dtype),
            rng.standard_normal(kshape[:-1] + (d,)).astype(dtype),
            rng.standard_normal(kshape[:-1] + (5,)).astype(dtype))


@pytest.mark.parametrize("mask_shape,kshape", [
    (None, (2, 3, 9, 4)), ((7, 9), (3, 9, 4)), ((1, 1, 7, 9), (9, 4)), ((9,), (2, 3, 9, 4)),
    ((2, 1, 1, 9), (3, 9, 4))])
def test_blocked_broadcasting_and_masks(tiny_blocks, mask_shape, kshape):
    rng = np.random.default_rng(1)
    q, k, v = _qkv(rng, (2, 3, 7, 4), kshape)
    mask = None
    if mask_shape is not None:
        mask = rng.random(mask_shape) < 0.7
        mask[..., 0] = True
    args = (q, k, v) if mask is None else (q, k, v, mask)
    ref = A.scaled_dot_product_attention_ref(*args, is_causal=True)
    assert "stablehlo.while" in _text(lambda *a: sdpa(*a, is_causal=True), *args)
    out = np.asarray(xf.compile(lambda *a: sdpa(*a, is_causal=True))(*args))
    assert out.shape == ref.shape == (2, 3, 7, 5)
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-6)


def test_three_d_and_low_precision(tiny_blocks):
    rng = np.random.default_rng(2)
    q, k, v = _qkv(rng, (4, 7, 8), (4, 9, 8))
    out = np.asarray(sdpa(q, k, v))
    np.testing.assert_allclose(out, A.scaled_dot_product_attention_ref(q, k, v),
                               rtol=2e-5, atol=2e-6)
    h = sdpa(xf.astype(xf.asarray(q), xf.bfloat16), xf.asarray(k).astype(xf.bfloat16),
             xf.astype(xf.asarray(v), xf.bfloat16))
    assert h.dtype == xf.bfloat16
    np.testing.assert_allclose(np.asarray(xf.astype(h, xf.float32)), out, rtol=3e-2, atol=3e-2)


def test_blocked_gradients_match_plain(monkeypatch):
    rng = np.random.default_rng(3)
    q, k, v = (xf.asarray(a) for a in _qkv(rng, (2, 3, 7, 4), (2, 3, 9, 4), np.float64))

    def loss(q, k, v):
        return xf.sum(sdpa(q, k, v, is_causal=False) ** 2)

    grad = xf.compile(xf.grad(loss, argnums=(0, 1, 2)))
    plain = [np.asarray(g) for g in grad(q, k, v)]
    monkeypatch.setattr(A, "BLOCK_MIN_BYTES", 0)
    monkeypatch.setattr(A, "BLOCK_BYTES", 2 * 7 * 9 * 8)
    grad_b = xf.compile(xf.grad(loss, argnums=(0, 1, 2)))
    assert "stablehlo.while" in grad_b.lower(q, k, v).as_text()
    for g, p in zip(grad_b(q, k, v), plain):
        np.testing.assert_allclose(np.asarray(g), p, rtol=1e-10, atol=1e-12)
