"""xf.export_onnx: the op table's ONNX column.

Every row of tests/op_db.py is traced on drawn inputs (one dtype per row: float32 where the row
takes it), exported, translated to ONNX and run in onnxruntime; the results must equal
xfront's compiled results within the row's tolerance. Rows whose graphs use a primitive without
an ONNX translation must raise OnnxExportError naming that primitive and the source line (and
are reported as skipped, with the primitive). Inputs exclude nan/inf (NOTE [Where ONNX and
xfront differ] in xfront/_onnx.py). Skips cleanly without onnx/onnxruntime.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import xfront as xf
from tests._harness import assert_close, op_inputs
from tests.op_db import OPS

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from xfront import _onnx  # noqa: E402

_PREFERRED = ("float32", "int32", "int64", "bool", "float64", "uint8")


def _dtype_for(case):
    for d in _PREFERRED:
        if d in case.dtypes:
            return d
    return None


ROWS = [(c, _dtype_for(c)) for c in OPS if _dtype_for(c) is not None]


def _run_onnx(model, arrays):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {f"arg{i}": np.asarray(a) for i, a in enumerate(arrays)})


def _mapped(graph) -> set[str]:
    return {e.prim.name for e in graph.eqns if e.prim in _onnx._build_rules()}


@pytest.mark.parametrize("case,dtype", ROWS, ids=[f"{c.name}-{d}" for c, d in ROWS])
def test_onnx_matches_xfront(case, dtype):
    case = dataclasses.replace(case, specials=False)
    unmapped: list[str] = []

    @settings(max_examples=1, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(op_inputs(case, dtype))
    def check(inputs):
        arrays, kwargs = inputs
        f = xf.compile(lambda *a: case.fn(*a, **kwargs))
        exp = xf.export(f, *arrays)
        want = exp(*arrays)
        rules = _onnx._build_rules()
        missing = sorted({e.prim.name for e in exp.graph.eqns if e.prim not in rules})
        try:
            model = xf.export_onnx(exp)
        except xf.OnnxExportError as e:
            # the first primitive without a translation is named, with the user's line
            m = re.search(r"primitive `(\w+)` at \S+:\d+ .*(has no ONNX|of this form|with |on )",
                          str(e))
            assert m, str(e)
            assert m.group(1) in missing or m.group(1) in {x.prim.name for x in exp.graph.eqns}
            unmapped.append(m.group(1))
            return
        assert not missing, missing
        got = _run_onnx(model, arrays)
        want_flat = xf.tree_leaves(want)
        assert len(got) == len(want_flat)
        assert_close(got if len(got) > 1 else got[0],
                     [np.asarray(w) for w in want_flat] if len(got) > 1 else
                     np.asarray(want_flat[0]), case,
                     f" onnxruntime {kwargs} on {[a.shape for a in arrays]}")

    check()
    if unmapped:
        pytest.skip(f"no ONNX translation for primitive `{unmapped[0]}`")


def test_every_translation_rule_is_exercised_by_the_table():
    """Every primitive with an ONNX rule appears in some row whose whole graph translates."""
    rules = _onnx._build_rules()
    reached: set[str] = set()

    for case, dtype in ROWS:
        case = dataclasses.replace(case, specials=False)

        @settings(max_examples=2, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(op_inputs(case, dtype))
        def collect(inputs):
            arrays, kwargs = inputs
            g = xf.trace(lambda *a: case.fn(*a, **kwargs))(*arrays)
            if all(e.prim in rules for e in g.eqns):
                reached.update(e.prim.name for e in g.eqns)

        collect()
    # reached only by dtypes or forms other than the row's first dtype, or not in the op
    # table (control flow): tested below
    direct = {"cond", "shift_left", "shift_right_logical", "pad", "reduce_and", "reduce_or", "not",
              "xor", "and", "or", "rem", "clamp", "round", "is_finite", "expm1", "log1p",
              "stop_gradient", "rsqrt", "sign", "argmin", "reduce_prod", "reduce_min",
              "logistic", "erf", "iota"}
    missing = {p.name for p in rules} - reached - direct
    assert not missing, f"ONNX rules no table row exercises: {sorted(missing)}"


def test_direct_rules_and_errors(tmp_path):
    """Rules the table reaches only indirectly, on fixed inputs; file output; errors."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    u = rng.integers(0, 200, (3, 4)).astype(np.uint32)
    s = rng.integers(0, 8, (3, 4)).astype(np.uint32)
    i = rng.integers(-50, 50, (3, 4)).astype(np.int32)
    b = x > 0

    def f(x, u, s, i, b):
        from xfront.prims import elementwise as ew
        from xfront.prims import reduction as red

        return (ew.shift_left(u, s), ew.shift_right_logical(u, s),
                xf.pad(x, ((1, 0), (2, 1))) if hasattr(xf, "pad") else x,
                xf.all(b, axis=1), xf.any(b, axis=0), ~b, b ^ (x < 0.5), i & 7, i | 8, i ^ 3,
                ~i, i % 7, xf.clip(x, -0.5, 0.5), xf.round(x * 3), xf.isfinite(x / (x > 0)),
                xf.expm1(x), xf.log1p(xf.abs(x)), xf.stop_gradient(x), ew.rsqrt(xf.abs(x) + 1),
                xf.sign(x), xf.argmin(x, axis=1), xf.prod(x, axis=0), xf.min(x, axis=1),
                xf.sigmoid(x), xf.erf(x), xf.arange(12).reshape(3, 4) + i,
                red.reduce_sum(x, axes=()))

    exp = xf.export(f, x, u, s, i, b)
    path = tmp_path / "direct.onnx"
    model = xf.export_onnx(exp, str(path))
    assert path.exists() and onnx.load(str(path)).graph.node
    used = {e.prim.name for e in exp.graph.eqns}
    want = [np.asarray(w) for w in exp(x, u, s, i, b)]
    got = _run_onnx(model, [x, u, s, i, b])
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape and g.dtype == w.dtype, (k, g.dtype, w.dtype, g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=2e-6, err_msg=f"output {k}")
    assert {"shift_left", "shift_right_logical", "reduce_and", "reduce_or", "rem",
            "is_finite", "iota", "argmin"} <= used
    # control flow: cond (bool) and switch (int index, clamped) become nested If nodes
    def branches(x, p, k):
        w = xf.asarray(np.float32(2.0))
        a = xf.cond(p, lambda x: xf.sin(x) * w, lambda x: x - 1, x)
        b = xf.switch(k, [lambda x: x, lambda x: x * 3, lambda x: -x, lambda x: x @ x.T[:, :4]],
                      x)
        return a, b

    cx = rng.standard_normal((4, 4)).astype(np.float32)
    cexp = xf.export(branches, cx, np.bool_(True), np.int32(0))
    cmodel = xf.export_onnx(cexp)
    assert "cond" in {e.prim.name for e in cexp.graph.eqns}
    for p in (True, False):
        for k in (-2, 0, 1, 2, 3, 7):
            args = [cx, np.asarray(p), np.asarray(k, np.int32)]
            got = _run_onnx(cmodel, args)
            for g, w in zip(got, cexp(*args)):
                np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-5,
                                           err_msg=f"p={p} k={k}")
    with pytest.raises(xf.OnnxExportError, match=r"primitive `bitcast_convert` at test_onnx"):
        xf.export_onnx(xf.export(lambda x: xf.sort(x), x))
    with pytest.raises(xf.OnnxExportError, match="complex"):
        xf.export_onnx(xf.export(lambda x: x * 1j, x))
    with pytest.raises(xf.OnnxExportError, match="carries no graph IR"):
        xf.export_onnx(xf.deserialize(exp.serialize()))
    with pytest.raises(xf.ArgumentError, match="expected an xf.Exported"):
        xf.export_onnx(f)
