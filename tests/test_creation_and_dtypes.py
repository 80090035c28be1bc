"""Namespace functions that no op-table row covers: creation functions, dtype queries, unique_*,
constants, pytree helpers, devices. Differential against NumPy, eagerly and (where the function
can run inside a trace) compiled."""

from __future__ import annotations

import math

import numpy as np
import pytest

import xfront as xf

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]


def _both(fn, *args):
    """fn(*args) eagerly and inside compile; both results as NumPy."""
    eager = fn(*args)
    compiled = xf.compile(fn)(*args)
    return eager, compiled


def _check(got, want):
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)


# --- creation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (2, 3)])
@pytest.mark.parametrize("dtype", ["bool", "int32", "uint8", "float32", "float64", "complex64"])
def test_full_empty_and_like(shape, dtype):
    fill = {"bool": True, "int32": -7, "uint8": 200, "float32": 2.5, "float64": -1e300,
            "complex64": 1 - 2j}[dtype]
    for got in _both(lambda: xf.full(shape, fill, dtype=getattr(xf, dtype))):
        _check(got, np.full(shape, fill, dtype=dtype))
    e = xf.empty(shape, dtype=getattr(xf, dtype))
    assert e.shape == shape and e.dtype == getattr(xf, dtype)
    src = np.arange(math.prod(shape), dtype=np.float64).reshape(shape).astype(dtype)
    x = xf.asarray(src)
    for got in _both(lambda a: xf.full_like(a, fill), x):
        _check(got, np.full_like(src, fill))
    for got in _both(lambda a: xf.ones_like(a), x):
        _check(got, np.ones_like(src))
    for got in _both(lambda a: xf.ones_like(a, dtype=xf.float32), x):
        _check(got, np.ones_like(src, dtype=np.float32))
    el = xf.empty_like(x)
    assert el.shape == shape and el.dtype == x.dtype


def test_full_default_dtypes_follow_the_fill_value():
    assert xf.full((2,), 1).dtype == xf.int64
    assert xf.full((2,), 1.0).dtype == xf.float64
    assert xf.full((2,), True).dtype == xf.bool
    assert xf.full((2,), 1j).dtype == xf.complex128
    assert xf.empty((2,)).dtype == xf.float64


@pytest.mark.parametrize("start,stop,num,endpoint", [
    (0.0, 1.0, 5, True), (0.0, 1.0, 5, False), (-3.0, 7.5, 1, True), (2.0, 2.0, 4, True),
    (0.0, 1.0, 0, True), (10.0, -10.0, 7, True), (1 + 1j, 3 - 2j, 4, True)])
@pytest.mark.parametrize("dtype", [None, "float32"])
def test_linspace(start, stop, num, endpoint, dtype):
    if dtype is not None and isinstance(start, complex):
        dtype = "complex64"
    want = np.linspace(start, stop, num, endpoint=endpoint,
                       dtype=dtype or (np.complex128 if isinstance(start, complex)
                                       else np.float64))
    kw = {"endpoint": endpoint}
    if dtype:
        kw["dtype"] = getattr(xf, dtype)
    for got in _both(lambda: xf.linspace(start, stop, num, **kw)):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-6)
        assert np.asarray(got).dtype == want.dtype


@pytest.mark.parametrize("n,m,k", [(0, None, 0), (1, None, 0), (3, None, 0), (3, 5, 1),
                                   (4, 2, -1), (3, 3, 5), (3, 3, -5)])
@pytest.mark.parametrize("dtype", ["float32", "int32", "bool"])
def test_eye(n, m, k, dtype):
    for got in _both(lambda: xf.eye(n, m, k=k, dtype=getattr(xf, dtype))):
        _check(got, np.eye(n, m, k=k, dtype=dtype))


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (2, 3, 4), (0, 3), (1, 1)])
@pytest.mark.parametrize("k", [-1, 0, 3])
@pytest.mark.parametrize("dtype", ["float32", "int8", "bool"])
def test_tril_triu(shape, k, dtype):
    src = (np.arange(math.prod(shape)).reshape(shape) % 5 + 1).astype(dtype)
    for got in _both(lambda a: xf.tril(a, k=k), src):
        _check(got, np.tril(src, k=k))
    for got in _both(lambda a: xf.triu(a, k=k), src):
        _check(got, np.triu(src, k=k))


def test_tril_needs_two_dimensions():
    with pytest.raises(xf.XfrontError, match=r"xfront\.tril"):
        xf.tril(xf.asarray(np.ones(3)))


@pytest.mark.parametrize("indexing", ["xy", "ij"])
@pytest.mark.parametrize("sizes", [(), (3,), (2, 3), (2, 0, 4), (1, 2, 3)])
def test_meshgrid(indexing, sizes):
    arrays = [np.arange(n, dtype=np.float32) * (i + 1) for i, n in enumerate(sizes)]
    want = np.meshgrid(*arrays, indexing=indexing)
    for got in _both(lambda *a: xf.meshgrid(*a, indexing=indexing), *arrays):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _check(g, w)


def test_meshgrid_rejects_a_bad_indexing():
    with pytest.raises(xf.ArgumentError, match=r"xfront\.meshgrid: indexing must be"):
        xf.meshgrid(xf.asarray(np.ones(2)), indexing="xz")


# --- dtypes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DTYPES + ["bool_", "bfloat16"])
def test_dtype_names_round_trip(name):
    d = getattr(xf, name)
    assert isinstance(d, xf.DType)
    x = xf.zeros((2,), dtype=d)
    assert x.dtype == d
    if name not in ("bfloat16",):
        assert np.asarray(x).dtype == np.dtype(name.rstrip("_"))


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES)
def test_can_cast_matches_the_promotion_lattice(src, dst):
    # the Array API: can_cast(a, b) iff result_type(a, b) == b (no value-based casting)
    a, b = getattr(xf, src), getattr(xf, dst)
    try:
        promoted = xf.result_type(a, b)
    except TypeError:
        promoted = None
    assert xf.can_cast(a, b) == (promoted == b)
    x = xf.zeros((1,), dtype=a)
    assert xf.can_cast(x, b) == xf.can_cast(a, b)


KINDS = {"bool": {"bool"},
         "signed integer": {"int8", "int16", "int32", "int64"},
         "unsigned integer": {"uint8", "uint16", "uint32", "uint64"},
         "real floating": {"float16", "float32", "float64"},
         "complex floating": {"complex64", "complex128"}}
KINDS["integral"] = KINDS["signed integer"] | KINDS["unsigned integer"]
KINDS["numeric"] = KINDS["integral"] | KINDS["real floating"] | KINDS["complex floating"]


@pytest.mark.parametrize("kind", list(KINDS))
def test_isdtype(kind):
    for name in DTYPES:
        assert xf.isdtype(getattr(xf, name), kind) == (name in KINDS[kind]), (name, kind)
    assert xf.isdtype(xf.float32, ("bool", xf.float32))
    assert not xf.isdtype(xf.int8, (xf.float32, "complex floating"))


def test_isdtype_rejects_an_unknown_kind():
    with pytest.raises((TypeError, ValueError)):
        xf.isdtype(xf.float32, "floating point please")


@pytest.mark.parametrize("name", ["float16", "float32", "float64", "bfloat16"])
def test_finfo(name):
    fi = xf.finfo(getattr(xf, name))
    ref = np.finfo(np.float32 if name == "bfloat16" else name)
    if name != "bfloat16":
        assert fi.bits == ref.bits and fi.eps == ref.eps and fi.max == ref.max
        assert fi.min == ref.min and fi.smallest_normal == ref.smallest_normal
    else:
        assert fi.bits == 16 and fi.max == pytest.approx(3.3895e38, rel=1e-3)
        assert fi.eps == 2.0 ** -7


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                  "uint32", "uint64"])
def test_iinfo(name):
    ii, ref = xf.iinfo(getattr(xf, name)), np.iinfo(name)
    assert (ii.bits, ii.min, ii.max) == (ref.bits, ref.min, ref.max)


def test_constants():
    assert xf.e == math.e and xf.pi == math.pi
    assert xf.inf == math.inf and math.isnan(xf.nan)
    assert xf.newaxis is None
    x = xf.asarray(np.arange(3.0))
    assert x[xf.newaxis].shape == (1, 3) and x[:, xf.newaxis].shape == (3, 1)


# --- unique_* -----------------------------------------------------------------------------------

UNIQUE_INPUTS = [np.array([3, 1, 3, 2, 1, 3], np.int32), np.array([], np.float32),
                 np.array(5.0), np.array([[2.0, np.nan], [np.nan, 2.0]]),
                 np.array([True, False, True]), np.array([-0.0, 0.0, 1.5], np.float64)]


@pytest.mark.parametrize("x", UNIQUE_INPUTS, ids=lambda x: f"{x.dtype}{list(x.shape)}")
def test_unique(x):
    flat = x.reshape(-1)
    vals, idx, inv, counts = np.unique(flat, return_index=True, return_inverse=True,
                                       return_counts=True, equal_nan=False)
    a = xf.asarray(x)
    _check(xf.unique_values(a), vals)
    c = xf.unique_counts(a)
    _check(c.values, vals)
    np.testing.assert_array_equal(np.asarray(c.counts), counts)
    i = xf.unique_inverse(a)
    _check(i.values, vals)
    assert np.asarray(i.inverse_indices).shape == x.shape
    np.testing.assert_array_equal(np.asarray(i.values)[np.asarray(i.inverse_indices)]
                                  .reshape(-1)[~np.isnan(flat.astype(float))],
                                  flat[~np.isnan(flat.astype(float))])
    u = xf.unique_all(a)
    _check(u.values, vals)
    np.testing.assert_array_equal(np.asarray(u.counts), counts)
    np.testing.assert_array_equal(flat[np.asarray(u.indices)][~np.isnan(vals.astype(float))],
                                  vals[~np.isnan(vals.astype(float))])


def test_unique_inside_compile_is_a_dynamic_shape_error():
    with pytest.raises(xf.DynamicShapeError, match=r"xfront\.unique_values"):
        xf.compile(lambda a: xf.unique_values(a))(np.ones(3))


# --- pytrees, aliases, devices, classes ---------------------------------------------------------

def test_tree_map_unflatten_and_register_pytree_node():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    xf.register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, ch: Pair(*ch))
    tree = {"p": Pair(1.0, [2.0, 3.0]), "q": (4.0,)}
    leaves, td = xf.tree_flatten(tree)
    assert leaves == [1.0, 2.0, 3.0, 4.0]
    back = xf.tree_unflatten(td, [v * 10 for v in leaves])
    assert back["p"].a == 10.0 and back["p"].b == [20.0, 30.0] and back["q"] == (40.0,)
    doubled = xf.tree_map(lambda v: v * 2, tree)
    assert isinstance(doubled["p"], Pair) and doubled["p"].b == [4.0, 6.0]

    @xf.compile
    def f(p):
        return Pair(p.a + p.b, p.a * p.b)

    out = f(Pair(np.float32(2), np.float32(3)))
    assert isinstance(out, Pair) and float(out.a) == 5.0 and float(out.b) == 6.0


def test_jit_is_compile():
    assert xf.jit is xf.compile
    f = xf.jit(lambda a: a * 2)
    assert isinstance(f, xf.CompiledFunction)
    np.testing.assert_array_equal(np.asarray(f(np.arange(3.0))), [0.0, 2.0, 4.0])
    info = f.cache_info()
    assert isinstance(info, xf.CacheInfo) and info.compiles == 1


def test_using_device_and_device_classes():
    cpu = xf.devices("cpu")[0]
    assert isinstance(cpu, xf.Device)
    with xf.using_device("cpu") as d:
        assert d == cpu and xf.default_device() == cpu
        assert xf.zeros(2).device == cpu


def test_graph_primitive_tracer_classes():
    seen = []

    def f(a):
        seen.append(isinstance(a, xf.Tracer) and isinstance(a, xf.Array))
        return xf.sin(a)

    g = xf.trace(f)(np.ones(3, np.float32))
    assert seen == [True]
    assert isinstance(g, xf.Graph)
    assert all(isinstance(e.prim, xf.Primitive) for e in g.eqns)


def test_index_error_class():
    with pytest.raises(xf.XfIndexError) as info:
        xf.asarray(np.arange(3))[5]
    assert isinstance(info.value, IndexError)


def test_every_dtype_name_is_its_numpy_dtype():
    pairs = [(xf.bool_, np.bool_), (xf.bool, np.bool_), (xf.int8, np.int8), (xf.int16, np.int16),
             (xf.int32, np.int32), (xf.int64, np.int64), (xf.uint8, np.uint8),
             (xf.uint16, np.uint16), (xf.uint32, np.uint32), (xf.uint64, np.uint64),
             (xf.float16, np.float16), (xf.float32, np.float32), (xf.float64, np.float64),
             (xf.complex64, np.complex64), (xf.complex128, np.complex128)]
    for d, n in pairs:
        x = xf.asarray(np.zeros(2, n))
        assert x.dtype == d and np.asarray(xf.astype(x, d)).dtype == n
    assert xf.bool_ == xf.bool


def test_integer_dtype_of_a_size():
    from xfront import _dtypes as dt

    for n in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64):
        d = dt.int_of_size(np.dtype(n).itemsize, unsigned=np.dtype(n).kind == "u")
        assert d.np == np.dtype(n)
    # floats bitcast to the signed integer of their width (signbit, nextafter, ulp distances)
    for f in (dt.float16, dt.bfloat16, dt.float32, dt.float64):
        i = dt.int_of_size(f.itemsize)
        assert i.kind == "i" and i.itemsize == f.itemsize
        np.testing.assert_array_equal(np.array([-0.0, 1.5], f.np).view(i.np) < 0, [True, False])
    with pytest.raises(ValueError, match=r"no unsigned integer dtype of 16 bytes.*1, 2, 4 and 8"):
        dt.int_of_size(16, unsigned=True)


@pytest.mark.parametrize("size,window,stride", [(5, 3, 1), (5, 3, 2), (6, 2, 2), (7, 4, 3),
                                                (1, 3, 1), (4, 1, 1)])
def test_nn_padding_pairs(size, window, stride):
    from xfront import nn

    # 'SAME' (TF/XLA convention): output ceil(size/stride), the extra pad goes high
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    assert nn.padding_pairs("f", "SAME", [size], [window], [stride]) == \
        ((total // 2, total - total // 2),)
    assert nn.padding_pairs("f", "valid", [size, size], [window, 1], [stride, 1]) == ((0, 0),) * 2
    assert nn.padding_pairs("f", 2, [size], [window], [stride]) == ((2, 2),)
    assert nn.padding_pairs("f", [(1, 0), 3], [size, size], [1, 1], [1, 1]) == ((1, 0), (3, 3))
    with pytest.raises(xf.ShapeError, match=r"xfront\.f: padding has 1 entries, expected 2"):
        nn.padding_pairs("f", [1], [size, size], [1, 1], [1, 1])
    with pytest.raises(xf.ArgumentError, match="is not 'SAME', 'VALID'"):
        nn.padding_pairs("f", "FULL", [size], [window], [stride])
