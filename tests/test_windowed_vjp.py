"""VJP rules of the windowed primitives (conv_general_dilated, reduce_window_sum/max).

The rules are run directly (eagerly and inside ``compile``) and checked against central finite
differences of the primitives' NumPy references in float64: for a random cotangent ``ct`` and
direction ``v``, ``<vjp(ct), v>`` must equal ``d/de <ct, f(x + e v)>``. Convolution gradients
are also compared with torch autograd when torch is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf
from xfront.prims import conv as cv

CANON2 = ((0, 1, 2, 3),) * 3
NHWC = ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def _conv(xs, ws, dims=CANON2, strides=(1, 1), padding=((0, 0), (0, 0)), ld=(1, 1),
          rd=(1, 1), groups=1):
    return (xs, ws, dict(window_strides=strides, padding=padding, lhs_dilation=ld,
                         rhs_dilation=rd, dimension_numbers=dims, feature_group_count=groups,
                         batch_group_count=1))


CONV_CASES = {
    "plain": _conv((2, 3, 7, 6), (4, 3, 3, 2), padding=((1, 1), (0, 0))),
    "strided_negative_pad": _conv((2, 4, 7, 6), (6, 2, 3, 2), strides=(2, 1),
                                  padding=((1, 2), (-1, 1)), ld=(2, 1), rd=(1, 2), groups=2),
    "nhwc_groups": _conv((2, 7, 6, 4), (3, 2, 2, 4), dims=NHWC, strides=(2, 3),
                         padding=((0, 0), (1, 2)), groups=2),
    "nhwc_dilated": _conv((2, 8, 9, 3), (3, 3, 3, 6), dims=NHWC, strides=(3, 2),
                          padding=((1, 1), (1, 1)), rd=(2, 1)),
    "depthwise_1d": (((1, 4, 9), (4, 1, 3),
                      dict(window_strides=(2,), padding=((1, 1),), lhs_dilation=(1,),
                           rhs_dilation=(1,), dimension_numbers=((0, 1, 2),) * 3,
                           feature_group_count=4, batch_group_count=1))),
}

WINDOW_CASES = {
    "pool2x2": dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1),
                    padding=((0, 0),) * 4),
    "overlap3x3_same": dict(window_dimensions=(1, 3, 3, 1), window_strides=(1, 1, 1, 1),
                            padding=((0, 0), (1, 1), (1, 1), (0, 0))),
    "uneven": dict(window_dimensions=(1, 2, 3, 1), window_strides=(1, 2, 2, 1),
                   padding=((0, 0), (1, 1), (0, 1), (0, 0))),
    "gaps": dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 3, 3, 1),
                 padding=((0, 0),) * 4),
}


def _check_vjp(prim, arrays, params, *, compiled: bool) -> None:
    rng = np.random.default_rng(1)
    out = prim.ref(*arrays, **params)
    ct = rng.standard_normal(out.shape)

    def rule(ct_, *xs):
        return prim.vjp(ct_, *xs, out=prim.bind(*xs, **params), **params)

    if compiled:
        grads = xf.compile(rule, returns="numpy")(ct, *arrays)
    else:
        grads = [np.asarray(g) for g in rule(xf.asarray(ct), *[xf.asarray(a) for a in arrays])]
    assert len(grads) == len(arrays)
    eps = 1e-6
    for i, (a, g) in enumerate(zip(arrays, grads)):
        assert g.shape == a.shape and g.dtype == a.dtype
        v = rng.standard_normal(a.shape)
        plus, minus = list(arrays), list(arrays)
        plus[i], minus[i] = a + eps * v, a - eps * v
        numeric = ((prim.ref(*plus, **params) - prim.ref(*minus, **params)) * ct).sum() / (2 * eps)
        np.testing.assert_allclose((g * v).sum(), numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=f"{prim.name} cotangent of input {i}")


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", list(CONV_CASES))
def test_conv_vjp_matches_finite_differences(name, compiled):
    xs, ws, params = CONV_CASES[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(xs), rng.standard_normal(ws)]
    _check_vjp(cv.conv_general_dilated_p, arrays, params, compiled=compiled)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", list(WINDOW_CASES))
@pytest.mark.parametrize("prim", [cv.reduce_window_sum_p, cv.reduce_window_max_p],
                         ids=["sum", "max"])
def test_reduce_window_vjp_matches_finite_differences(prim, name, compiled):
    x = np.random.default_rng(0).standard_normal((2, 5, 6, 3))
    _check_vjp(prim, [x], WINDOW_CASES[name], compiled=compiled)


def test_max_vjp_sends_ties_to_the_first_maximum():
    x = np.ones((1, 4), np.float32)
    params = dict(window_dimensions=(1, 2), window_strides=(1, 2), padding=((0, 0), (0, 0)))
    xa = xf.asarray(x)
    out = cv.reduce_window_max(xa, **params)
    (g,) = cv.reduce_window_max_p.vjp(xf.ones((1, 2), dtype=xf.float32), xa, out=out, **params)
    np.testing.assert_array_equal(np.asarray(g), [[1, 0, 1, 0]])


@pytest.mark.parametrize("stride,padding,dilation,groups", [
    (1, 1, 1, 1), (2, 0, 1, 1), (1, 2, 2, 1), (2, 1, 1, 2)])
def test_conv2d_gradients_match_torch(stride, padding, dilation, groups):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((6, 4 // groups, 3, 3))
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, None, stride, padding, dilation, groups)
    ct = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(ct))
    params = dict(window_strides=(stride,) * 2, padding=((padding, padding),) * 2,
                  lhs_dilation=(1, 1), rhs_dilation=(dilation,) * 2, dimension_numbers=CANON2,
                  feature_group_count=groups, batch_group_count=1)
    xa, wa = xf.asarray(x), xf.asarray(w)
    gx, gw = cv.conv_general_dilated_p.vjp(xf.asarray(ct), xa, wa,
                                           out=cv.conv_general_dilated(xa, wa, **params),
                                           **params)
    np.testing.assert_allclose(np.asarray(gx), tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.asarray(gw), tw.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_max_pool_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8))
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, 3, 2, 1)
    ct = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(ct))
    params = dict(window_dimensions=(1, 1, 3, 3), window_strides=(1, 1, 2, 2),
                  padding=((0, 0), (0, 0), (1, 1), (1, 1)))
    xa = xf.asarray(x)
    (g,) = cv.reduce_window_max_p.vjp(xf.asarray(ct), xa,
                                      out=cv.reduce_window_max(xa, **params), **params)
    np.testing.assert_allclose(np.asarray(g), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
