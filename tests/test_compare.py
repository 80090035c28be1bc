"""xfront.testing.compare: one program through xfront and NumPy, torch, TensorFlow and jax."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import xfront as xf
from xfront.testing import compare, ulp_distance

FRAMEWORKS = ("numpy", "torch", "tensorflow", "jax")
KERNELS = importlib.import_module("xfront.kernels").KERNELS


# four kernels that between them reach every primitive of softmax and log_softmax too (each
# kernel's eager rows compile its ops once per framework: that is what a row costs)
@pytest.mark.parametrize("name", ["logsumexp", "silu", "scaled_dot_product_attention",
                                  "cross_entropy"])
def test_kernels_agree_across_frameworks(name):
    k = KERNELS[name]
    case = k.cases[0]
    report = compare(k.fn, *k.inputs(case, "float32"), kwargs=dict(case.kwargs))
    assert report.ok, str(report)
    for fw in ("xfront eager",) + FRAMEWORKS:
        rows = report.for_framework(fw)
        assert rows and all(r.status == "ok" for r in rows), str(report)
        assert all(r.dtype == ("float32", "float32") for r in rows)


def test_non_array_api_names_give_error_rows():
    # layer_norm uses xf.rsqrt, an xfront extension that NumPy's Array API namespace lacks
    k = KERNELS["layer_norm"]
    report = compare(k.fn, *k.inputs(k.cases[0], "float32"), against=("numpy", "torch"))
    (row,) = report.for_framework("numpy")
    assert row.status == "error" and "rsqrt" in row.detail
    assert all(r.status == "ok" for r in report.for_framework("torch"))  # torch has rsqrt
    assert not report.ok


def _is_xfront(xp):
    return getattr(xp, "Array", None) is xf.Array


def test_first_differing_op_is_named():
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)

    def prog(x, *, xp):
        y = xp.exp(x)
        if not _is_xfront(xp):
            y = y * 1.001  # a deliberate difference between the exp call and the sum call
        return xp.sum(y, axis=1), xp.tanh(x)

    report = compare(prog, x, against=("numpy", "torch"))
    assert not report.ok
    for fw in ("numpy", "torch"):
        bad, good = report.for_framework(fw)
        assert bad.status == "differs" and good.status == "ok"
        assert bad.first_diff.startswith("xp.sum (call 2"), bad.first_diff
        assert "test_compare.py" in bad.first_diff
        expected = np.max(np.abs(np.sum(np.exp(x.astype(np.float64)), axis=1) * 0.001))
        assert bad.max_abs == pytest.approx(expected, rel=1e-2)
        assert bad.max_rel == pytest.approx(1e-3, rel=1e-2)
        assert bad.max_ulp > 1000
    text = str(report)
    assert "first differing op" in text and "xp.sum (call 2" in text and "ok: False" in text
    # no xfront primitive is off its NumPy reference: the difference is the framework's
    assert report.xfront_first_diff is None


def test_dtype_disagreements_are_reported():
    def total(x, *, xp):
        return xp.sum(x)

    report = compare(total, np.arange(5, dtype=np.uint8), against=("numpy", "torch"))
    (np_row,) = report.for_framework("numpy")
    assert np_row.ok and np_row.dtype == ("uint64", "uint64")
    (torch_row,) = report.for_framework("torch")  # torch sums small unsigned ints to int64
    assert torch_row.status == "differs" and torch_row.dtype == ("uint64", "int64")
    assert "dtypes differ" in torch_row.first_diff


def test_shape_disagreement():
    def prog(x, *, xp):
        return xp.sum(x, axis=0, keepdims=not _is_xfront(xp))

    (row,) = compare(prog, np.ones((2, 3), np.float32), against=("numpy",)).for_framework(
        "numpy")
    assert row.status == "differs" and row.shape == ((3,), (1, 3))


def test_bisection_names_the_primitive_off_its_reference(monkeypatch):
    from xfront.prims import elementwise as ew

    # make the NumPy reference of tanh wrong: compiled xfront no longer matches it
    monkeypatch.setattr(ew.tanh_p, "ref", lambda x: np.tanh(x) + np.float32(0.5))

    def prog(x, *, xp):
        y = xp.exp(x)
        if not _is_xfront(xp):
            y = y + 1.0
        return xp.tanh(y * 0.5)

    report = compare(prog, np.linspace(-1, 1, 6, dtype=np.float32), against=("numpy",))
    assert not report.ok
    assert report.xfront_first_diff.startswith("tanh at test_compare.py:"), \
        report.xfront_first_diff


def test_program_using_the_xfront_module_directly():
    # no xp parameter: the function's global `xf` is rebound to each namespace in turn
    def prog(x):
        return xf.mean(xf.abs(x - xf.max(x)), axis=-1)

    x = np.random.default_rng(1).standard_normal((3, 5))
    report = compare(prog, x, against=("numpy", "torch", "tensorflow"))
    assert report.ok, str(report)
    # jax computes float64 inputs in float32 unless its x64 mode is on: reported, not hidden
    import jax

    (row,) = compare(prog, x, against=("jax",)).for_framework("jax")
    if jax.config.jax_enable_x64:
        assert row.ok
    else:
        assert row.status == "differs" and row.dtype == ("float64", "float32")
        assert row.first_diff.startswith("xp.max (call 1")


def test_ulp_distance():
    one = np.float32(1.0)
    assert ulp_distance(np.array([one]), np.array([np.nextafter(one, np.float32(2))]))[0] == 1
    assert ulp_distance(np.array([0.0], np.float32), np.array([-0.0], np.float32))[0] == 0
    tiny = np.float32(1e-45)
    assert ulp_distance(np.array([tiny]), np.array([-tiny]))[0] == 2
    assert ulp_distance(np.array([1.0]), np.array([1.0 + 2 ** -52 * 3]))[0] == 3


def test_bad_framework_name():
    with pytest.raises(xf.ArgumentError, match=r"xfront\.testing\.compare: unknown framework"):
        compare(lambda x, *, xp: x, np.ones(2), against=("mxnet",))
