"""Per-program XLA:CPU options (NOTE [Dot library per program] in xfront/lowering/runtime.py):
which programs get Eigen dots instead of YNNPACK's, and that such programs agree with NumPy."""

from __future__ import annotations

import re

import numpy as np
import pytest

import xfront as xf
from xfront.lowering import runtime as rt

OPTION = ("xla_cpu_experimental_ynn_fusion_type", "LIBRARY_FUSION_TYPE_REDUCE")


def _text(fn, *shapes, dtype=np.float32):
    return xf.compile(fn).lower(*[xf.zeros(s, dtype=dtype) for s in shapes]).as_text(
        pretty=False)


def _matmul(a, b):
    return a @ b


@pytest.mark.parametrize("fn,shapes,dtype,eigen", [
    (_matmul, [(2048, 2048), (2048, 2048)], np.float32, True),
    (lambda a, b: xf.tanh(a @ b + 1.0), [(4096, 1024), (1024, 1024)], np.float32, True),
    (lambda a, b: xf.sum(a @ b, axis=1), [(2048, 2048), (2048, 2048)], np.float32, False),
    (_matmul, [(2048, 2048), (2048, 2048)], np.float64, False),
    (_matmul, [(256, 256), (256, 256)], np.float32, False),
    (_matmul, [(512, 1024), (1024, 4096)], np.float32, False),
    (_matmul, [(4, 1024, 1024), (4, 1024, 1024)], np.float32, False),  # batched
    (lambda a: xf.exp(a), [(2048, 2048)], np.float32, False),  # no dot
], ids=["mm2048", "mm_tanh", "mm_sum", "f64", "small", "wide_small_out", "batched", "no_dot"])
def test_which_programs_get_eigen_dots(fn, shapes, dtype, eigen):
    text = _text(fn, *shapes, dtype=dtype)
    assert rt._eigen_dots(text) is eigen
    assert (OPTION in rt.default_compile_options("cpu", text)) is eigen
    assert OPTION not in rt.default_compile_options("cpu")  # no text: host defaults only


def _library_calls(fn, *xs):
    fn(*xs)
    entry = next(iter(fn._cache.values()))
    return re.findall(r'"kind":"(__\w+)"', entry.exe.exe.hlo_text())


@pytest.mark.parametrize("shapes", [[(96, 40), (40, 80)], [(1, 33), (33, 7)], [(64, 0), (0, 16)],
                                    [(0, 8), (8, 24)]])
def test_eigen_dot_programs_match_numpy(monkeypatch, shapes):
    monkeypatch.setattr(rt, "DOT_EIGEN_MIN_ELEMENTS", 0)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    bias = rng.standard_normal(shapes[1][1:]).astype(np.float32)

    def mlp_like(a, b, bias):
        return xf.maximum(a @ b + bias, 0.0) * 2.0

    fn = xf.compile(mlp_like)
    calls = _library_calls(fn, a, b, bias)
    assert "__ynn_fusion" not in calls
    ref = np.maximum(a.astype(np.float64) @ b + bias, 0.0) * 2.0
    np.testing.assert_allclose(np.asarray(fn(a, b, bias)), ref, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.asarray(fn(xf.asarray(a), xf.asarray(b), xf.asarray(bias))),
                               ref, rtol=2e-5, atol=2e-5)


def test_threshold_decides_the_library(monkeypatch):
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal((72, 72)).astype(np.float32) for _ in range(2))
    # default threshold: a 72x72 product stays on YNNPACK
    assert "__ynn_fusion" in _library_calls(xf.compile(lambda a, b: a @ b), a, b)
    monkeypatch.setattr(rt, "DOT_EIGEN_MIN_ELEMENTS", 72 * 72)
    fn = xf.compile(lambda a, b: (a @ b) - 1.0)  # another module text: compiled anew
    assert "__ynn_fusion" not in _library_calls(fn, a, b)
    np.testing.assert_allclose(np.asarray(fn(a, b)), a.astype(np.float64) @ b - 1.0,
                               rtol=1e-5, atol=1e-4)
