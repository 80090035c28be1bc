"""In-place updates: ``x[key] = v`` and the in-place operators, eagerly, compiled and under grad.

They are functional underneath (NOTE [In-place updates] in xfront/_array.py): the Python object is
rebound to the new value and no buffer is written, so views held elsewhere keep their values.
"""

import math
import operator

import numpy as np
import pytest

import xfront as xf

# (in-place operator, NumPy's in-place operator, dtype, other operand)
INPLACE_OPS = [
    ("iadd", operator.iadd, "float32", 1.5),
    ("isub", operator.isub, "int32", 3),
    ("imul", operator.imul, "complex64", 2 - 1j),
    ("itruediv", operator.itruediv, "float64", 4.0),
    ("ifloordiv", operator.ifloordiv, "int64", 3),
    ("imod", operator.imod, "int16", 4),
    ("ipow", operator.ipow, "float32", 2),
    ("iand", operator.iand, "uint8", 6),
    ("ior", operator.ior, "int8", 5),
    ("ixor", operator.ixor, "bool", True),
    ("ilshift", operator.ilshift, "int32", 2),
    ("irshift", operator.irshift, "uint16", 1),
]

SHAPES = [(), (0,), (5,), (2, 3)]


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    return (rng.integers(1, 9, shape)).astype(dtype)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name,op,dtype,other", INPLACE_OPS, ids=[r[0] for r in INPLACE_OPS])
def test_inplace_operator_eager_and_compiled(name, op, dtype, other, shape):
    a = _data(shape, dtype)
    want = op(a.copy(), np.asarray(other, dtype=dtype) if dtype != "bool" else other)
    for arr_other in (other, xf.asarray(np.full(shape[-1:], other, dtype=dtype))):
        x = xf.asarray(a)
        same = x
        x = op(x, arr_other)
        assert x is same  # the same Python object, rebound
        assert x.dtype == xf.asarray(a).dtype and x.shape == shape
        np.testing.assert_allclose(np.asarray(x), want, rtol=1e-6)

    @xf.compile
    def f(t, o):
        t = op(t, o)
        return t

    np.testing.assert_allclose(np.asarray(f(xf.asarray(a), other)), want, rtol=1e-6)


def test_imatmul():
    a = np.arange(9.0).reshape(3, 3)
    x = xf.asarray(a)
    x @= xf.asarray(a)
    np.testing.assert_allclose(np.asarray(x), a @ a)
    with pytest.raises(xf.ShapeError, match=r"__imatmul__.*f64\[3,1\].*f64\[3,3\]"):
        x @= xf.ones((3, 1), dtype=xf.float64)


SETITEM_KEYS = [
    (1, 7.0),
    ((slice(None), 0), np.array([1.0, 2.0])),
    ((Ellipsis, slice(None, None, 2)), 0.5),
    ((slice(1, None), None), np.array([[3.0], ])),
    (np.array([0, 0, 1]), 2.0),             # integer-array key
    (np.array([True, False]), -1.0),        # boolean mask on axis 0
    (np.array([[True, False, True], [False, False, True]]), 9.0),
    ((slice(2, 2),), 1.0),                  # empty selection: no change
]


@pytest.mark.parametrize("key,value", SETITEM_KEYS, ids=[str(i) for i in range(len(SETITEM_KEYS))])
def test_setitem_matches_numpy(key, value):
    a = np.arange(6.0).reshape(2, 3)
    want = a.copy()
    want[key] = value
    x = xf.asarray(a)
    x[key] = value
    np.testing.assert_array_equal(np.asarray(x), want)
    x = xf.asarray(a)
    x[key] = xf.asarray(value)
    np.testing.assert_array_equal(np.asarray(x), want)


@pytest.mark.parametrize("xs,ks", [((2, 1), (2, 0)), ((2, 3), (0, 3)), ((0, 1), (0, 0))], ids=str)
def test_empty_masks_of_other_sizes_select_nothing(xs, ks):
    # NumPy (and the conformance suite) accept a size-0 mask axis against any axis size
    a = np.arange(math.prod(xs), dtype=np.float64).reshape(xs)
    k = np.zeros(ks, bool)
    assert xf.asarray(a)[xf.asarray(k)].shape == a[k].shape == (0,)
    x = xf.asarray(a)
    x[xf.asarray(k)] = 1.0
    x[k] = np.ones(0)
    np.testing.assert_array_equal(np.asarray(x), a)
    with pytest.raises(IndexError, match=r"boolean index did not match .* axis 1"):
        xf.ones((0, 3))[np.zeros((0, 2), bool)]


def test_setitem_compiled_and_traced_index():
    @xf.compile
    def f(x, i, v):
        x[i] = v
        x[:, -1] += 100.0
        return x

    a = np.zeros((3, 2), np.float32)
    want = a.copy()
    want[1] = 4.0
    want[:, -1] += 100.0
    np.testing.assert_array_equal(f(a, np.int32(1), np.float32(4.0)), want)
    np.testing.assert_array_equal(a, 0.0)  # the caller's NumPy array is never written
    x = xf.asarray(a)
    f(x, 1, 4.0)
    np.testing.assert_array_equal(np.asarray(x), 0.0)  # nor the caller's xfront array


def test_grad_through_inplace_updates():
    def loss(w):
        h = w * 1.0
        h[0] = 3.0              # cuts the gradient of w[0]
        h *= w                  # h = [3 w0, w1^2, w2^2]
        h[1:] += 2.0 * w[1:]
        return xf.sum(h)

    w = np.array([1.0, 2.0, -1.5])
    want = np.array([3.0, 2 * 2.0 + 2, 2 * -1.5 + 2])
    np.testing.assert_allclose(np.asarray(xf.grad(loss)(xf.asarray(w))), want)
    np.testing.assert_allclose(np.asarray(xf.compile(xf.grad(loss))(w)), want)
    # the same against finite differences
    eps = 1e-6
    fd = [(float(loss(xf.asarray(w + eps * e))) - float(loss(xf.asarray(w - eps * e)))) / (2 * eps)
          for e in np.eye(3)]
    np.testing.assert_allclose(fd, want, rtol=1e-5)


def test_inlined_compiled_call_does_not_update_the_caller():
    @xf.compile
    def f(a):
        a[0] = 5.0
        return a

    def g(a):
        b = f(a)
        return xf.sum(a * b)

    # a is not updated by f: sum(a * [5, a1, a2]) -> grad [5, 2 a1, 2 a2]
    np.testing.assert_allclose(np.asarray(xf.grad(g)(xf.ones(3, dtype=xf.float64))), [5.0, 2, 2])


def test_views_and_earlier_slices_keep_their_values():
    x = xf.arange(6.0)
    s = x[1:4]
    v = np.asarray(x)           # zero-copy NumPy view of the old buffer
    x[1] = 99.0
    x += 1.0
    np.testing.assert_array_equal(np.asarray(x), [1, 100, 3, 4, 5, 6])
    np.testing.assert_array_equal(np.asarray(s), [1, 2, 3])
    np.testing.assert_array_equal(v, np.arange(6.0))


def test_foreign_buffers_are_never_written():
    torch = pytest.importorskip("torch")
    t = torch.arange(4, dtype=torch.float32)
    x = xf.asarray(t)
    assert x.unsafe_buffer_pointer() == t.data_ptr()  # a zero-copy view of t's memory
    x[0] = 10.0
    assert x.unsafe_buffer_pointer() != t.data_ptr()
    x *= 2.0
    np.testing.assert_array_equal(np.asarray(x), [20, 2, 4, 6])
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0]
    n = np.arange(3.0)
    y = xf.asarray(n)
    y[2] = -1.0
    np.testing.assert_array_equal(n, [0.0, 1.0, 2.0])


def test_closed_over_constant_keeps_the_traced_value():
    c = xf.zeros(3)

    @xf.compile
    def f(t):
        return t + c

    np.testing.assert_array_equal(np.asarray(f(xf.ones(3))), 1.0)
    c[0] = 5.0  # rebinding c does not change the value f captured
    np.testing.assert_array_equal(np.asarray(f(xf.ones(3))), 1.0)


def test_inplace_errors():
    x = xf.ones(3, dtype=xf.int32)
    with pytest.raises(xf.DTypeError, match=r"__iadd__.*f64\[3\].*i32\[3\]"):
        x += 1.5
    with pytest.raises(xf.ShapeError, match=r"__imul__"):
        x *= xf.ones((2, 3), dtype=xf.int32)
    np.testing.assert_array_equal(np.asarray(x), 1)  # unchanged after the errors
    c = xf.zeros(3)

    @xf.compile
    def h(t):
        c[0] = t
        return c

    with pytest.raises(xf.ArgumentError, match=r"__setitem__: cannot update .* in place here"):
        h(xf.ones(()))

    def body(i, carry):
        outer[0] = carry
        return carry

    @xf.compile
    def k(a):
        global outer
        outer = a
        return xf.fori_loop(0, 2, body, a[0])

    with pytest.raises(xf.ArgumentError, match=r"enclosing trace"):
        k(xf.ones(3))
    with pytest.raises(xf.XfIndexError):
        y = xf.ones(3)
        y[5] = 1.0
