"""Tests of ``xfront.fft`` (the Array API FFT extension), table-driven.

Each row: a public function, its ``numpy.fft`` reference, whether it takes real or complex
input, its dtypes and (shape, kwargs) cases (``n``/``s`` padding and truncating, ``axis``/
``axes``, every ``norm``, batches, zero-size batches, more than three axes). Generated tests:
eager and compiled results against NumPy (value, shape, dtype), the traced graph through the
fft primitive's NumPy reference, gradients and JVPs against central finite differences in
float64/complex128 (complex inputs along complex directions), and bad inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import xfront as xf
from xfront import _core

FT = xf.fft
TOL = {"float32": 2e-4, "complex64": 2e-4, "float64": 1e-10, "complex128": 1e-10}
NORMS = ({}, {"norm": "ortho"}, {"norm": "forward"})


@dataclass(frozen=True)
class Case:
    name: str
    real_input: bool
    cases: tuple  # ((shape, kwargs), ...)
    dtypes: tuple = ()

    @property
    def fn(self):
        return FUNCTIONS[self.name]

    @property
    def ref(self):
        return getattr(np.fft, self.name)

    def all_dtypes(self):
        return self.dtypes or (("float32", "float64") if self.real_input
                               else ("complex64", "complex128"))


FUNCTIONS = {"fft": FT.fft, "ifft": FT.ifft, "fftn": FT.fftn, "ifftn": FT.ifftn, "rfft": FT.rfft,
             "irfft": FT.irfft, "rfftn": FT.rfftn, "irfftn": FT.irfftn, "hfft": FT.hfft,
             "ihfft": FT.ihfft, "fftshift": FT.fftshift, "ifftshift": FT.ifftshift,
             "fftfreq": FT.fftfreq, "rfftfreq": FT.rfftfreq}


def _c(*items):
    return tuple(items)


CASES = [
    Case("fft", False, _c(((3, 5), {}), ((3, 5), {"n": 7, "axis": 0}),
                          ((4,), {"n": 3, "norm": "ortho"}), ((2, 6), {"norm": "forward"}),
                          ((2, 0, 3), {}))),
    Case("ifft", False, _c(((3, 5), {"axis": 0}), ((4,), {"n": 6, "norm": "ortho"}),
                           ((2, 6), {"norm": "forward"}))),
    Case("fftn", False, _c(((2, 3, 4), {}), ((2, 3, 4), {"s": (3, 5), "axes": (0, 2),
                                                          "norm": "ortho"}),
                           ((2, 2, 2, 3), {}), ((0, 3), {"axes": (1,)}))),
    Case("ifftn", False, _c(((2, 3, 4), {"axes": (2, 0)}), ((2, 2, 2, 3), {"norm": "forward"}))),
    Case("rfft", True, _c(((3, 6), {}), ((3, 5), {"n": 8, "axis": 0}),
                          ((7,), {"norm": "ortho"}), ((4, 4), {"n": 3, "norm": "forward"}))),
    Case("irfft", False, _c(((3, 4), {}), ((3, 4), {"n": 7}),
                            ((5, 3), {"axis": 0, "norm": "forward"}), ((4,), {"n": 3,
                                                                               "norm": "ortho"}))),
    Case("rfftn", True, _c(((2, 3, 4), {}), ((2, 3, 4), {"s": (4, 5), "axes": (0, 1)}),
                           ((2, 2, 2, 3), {"norm": "ortho"}))),
    Case("irfftn", False, _c(((2, 3, 4), {}), ((2, 3, 3), {"s": (3, 4), "axes": (1, 2),
                                                            "norm": "ortho"}),
                             ((2, 2, 2, 3), {"norm": "forward"}))),
    Case("hfft", False, _c(((3, 4), {}), ((4,), {"n": 5, "norm": "ortho"}),
                           ((4, 3), {"axis": 0, "norm": "forward"}))),
    Case("ihfft", True, _c(((3, 6), {}), ((5,), {"n": 4, "norm": "forward"}),
                           ((5, 2), {"axis": 0, "norm": "ortho"}))),
    Case("fftshift", True, _c(((3, 4), {}), ((3, 4), {"axes": 1}), ((5,), {"axes": (0,)})),
         dtypes=("float64", "complex64", "int32")),
    Case("ifftshift", True, _c(((3, 4), {}), ((3, 5), {"axes": (0, 1)})),
         dtypes=("float32", "complex128", "int64")),
]
PARAMS = [(c, d) for c in CASES for d in c.all_dtypes()]


def _make(shape, dtype, rng):
    d = np.dtype(dtype)
    if d.kind in "iu":
        return rng.integers(-5, 5, shape).astype(d)
    x = rng.standard_normal(shape)
    if d.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(d)


def _compare(got, exp, dtype, what):
    got = np.asarray(got)
    assert got.shape == exp.shape, f"{what}: shape {got.shape} != {exp.shape}"
    assert got.dtype == exp.dtype, f"{what}: dtype {got.dtype} != {exp.dtype}"
    tol = TOL.get(dtype, 0.0)
    scale = 1.0 + float(np.max(np.abs(exp), initial=0.0))
    np.testing.assert_allclose(got, exp, rtol=tol, atol=tol * scale, err_msg=what)


@pytest.mark.parametrize("case,dtype", PARAMS, ids=[f"{c.name}-{d}" for c, d in PARAMS])
def test_matches_numpy(case, dtype):
    """Eager and compiled results match numpy.fft (every case in double precision, the first
    two in single); the traced graph's primitive references agree."""
    rng = np.random.default_rng(0)
    double = dtype in ("float64", "complex128", "int32", "int64")
    for shape, kwargs in case.cases if double else case.cases[:2]:
        x = _make(shape, dtype, rng)
        expected = case.ref(x, **kwargs)
        where = f"{case.name} {dtype} {shape} {kwargs}"
        _compare(case.fn(xf.asarray(x), **kwargs), expected, dtype, "eager " + where)
        f = xf.compile(lambda a: case.fn(a, **kwargs))
        _compare(f(x), expected, dtype, "compiled " + where)
        if double:
            graph = f.trace(x).graph
            _core.check_graph(graph)
            _compare(_core.eval_graph_ref(graph, x)[0], expected, dtype, "prim refs " + where)


GRAD = [c for c in CASES if "int" not in "".join(c.all_dtypes()[:1])]


@pytest.mark.parametrize("case", GRAD, ids=[c.name for c in GRAD])
def test_grad_matches_finite_differences(case):
    """grad and jvp of L = Re(sum(f(x) * w)) against central differences along a random
    direction v (complex for complex inputs: dL = Re(sum(grad * v)), xfront's convention)."""
    rng = np.random.default_rng(1)
    dtype = "float64" if case.real_input else "complex128"
    for shape, kwargs in case.cases[:2]:
        x = _make(shape, dtype, rng)
        out = case.ref(x, **kwargs)
        w = _make(out.shape, out.dtype.name, rng)

        def loss(a):
            return xf.real(xf.sum(case.fn(a, **kwargs) * w))

        lc = xf.compile(loss)
        v = _make(shape, dtype, rng)
        h = 1e-6
        fd = (float(lc(x + h * v)) - float(lc(x - h * v))) / (2 * h)
        g = np.asarray(xf.grad(loss)(x))
        assert g.shape == x.shape and g.dtype == x.dtype
        gv = float(np.real(np.sum(g * v)))
        scale = 1.0 + float(np.sum(np.abs(g) * np.abs(v)))
        assert abs(gv - fd) <= 1e-6 * scale, f"{case.name} {kwargs}: <g, v> = {gv}, FD = {fd}"
        if case.real_input:
            _, t = xf.jvp(loss, (x,), (v,))
            assert abs(float(t) - fd) <= 1e-6 * scale, f"{case.name} {kwargs}: jvp {float(t)}"


@pytest.mark.parametrize("fn", ["fftfreq", "rfftfreq"])
def test_frequencies(fn):
    for n in (1, 4, 5):
        for d in (1.0, 0.25):
            got = FUNCTIONS[fn](n, d=d)
            exp = getattr(np.fft, fn)(n, d=d)
            assert got.dtype == xf.float64
            np.testing.assert_allclose(np.asarray(got), exp, rtol=1e-15)
    got = FUNCTIONS[fn](6, dtype=xf.float32)
    assert got.dtype == xf.float32
    np.testing.assert_allclose(np.asarray(got), getattr(np.fft, fn)(6), rtol=1e-7)
    f = xf.compile(lambda: getattr(FT, fn)(8, d=0.5))
    np.testing.assert_allclose(np.asarray(f()), getattr(np.fft, fn)(8, d=0.5), rtol=1e-15)
    with pytest.raises(xf.ArgumentError, match=rf"fft\.{fn}: n must be positive, got 0"):
        getattr(FT, fn)(0)


ERRORS = [
    ("fft", (4,), "int32", {}, xf.DTypeError,
     r"fft\.fft: expected a complex64/complex128 \(or real float32/float64\) array, got "
     r"i32\[4\]"),
    ("fft", (4,), "float16", {}, xf.DTypeError, r"fft\.fft: expected .*got f16\[4\]"),
    ("rfft", (4,), "complex128", {}, xf.DTypeError,
     r"fft\.rfft: expected a real float32 or float64 array, got c128\[4\]"),
    ("fft", (4,), "complex64", {"n": 0}, xf.ShapeError,
     r"fft\.fft: axis 0 of shape \(4,\) would be transformed with 0 points"),
    ("fft", (4,), "complex64", {"axis": 1}, xf.ShapeError,
     r"fft\.fft: axis 1 is out of bounds for an array of dimension 1"),
    ("fftn", (2, 3), "complex64", {"axes": (0, 0)}, xf.ArgumentError,
     r"fft\.fftn: axes \(0, 0\) has duplicates"),
    ("fftn", (2, 3), "complex64", {"s": (2, 3, 4), "axes": (0, 1)}, xf.ShapeError,
     r"fft\.fftn: s \(2, 3, 4\) and axes \(0, 1\) differ in length"),
    ("ifft", (4,), "complex64", {"norm": "none"}, xf.ArgumentError,
     r"fft\.ifft: norm must be one of \('backward', 'ortho', 'forward'\), got 'none'"),
    ("irfft", (), "complex64", {}, xf.ShapeError, r"fft\.irfft: expected at least one "
     r"dimension"),
]


@pytest.mark.parametrize("err", ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors(err):
    name, shape, dtype, kwargs, cls, match = err
    x = np.ones(shape, dtype=dtype)
    fn = getattr(FT, name)
    with pytest.raises(cls, match=match) as info:
        fn(xf.asarray(x), **kwargs)
    assert isinstance(info.value, xf.XfrontError)
    with pytest.raises(cls, match=match):
        xf.compile(lambda a: fn(a, **kwargs))(x)


def test_lowers_to_stablehlo_fft():
    text = xf.compile(lambda a: FT.rfftn(a)).lower(np.ones((2, 3, 4))).as_text(pretty=False)
    assert "stablehlo.fft" in text and "fft_type RFFT" in text
    sig = __import__("inspect").signature(FT.fftn).parameters
    assert sig["x"].kind is sig["x"].POSITIONAL_ONLY and sig["axes"].kind is sig["s"].KEYWORD_ONLY
    assert sorted(FT.__all__) == sorted(["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn",
                                         "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq",
                                         "fftshift", "ifftshift"])


def test_table_covers_the_extension():
    assert set(FUNCTIONS) == set(FT.__all__)
    assert {c.name for c in CASES} | {"fftfreq", "rfftfreq"} == set(FUNCTIONS)
