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
from tests.op_db import OPS, _floor_divide_std

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
              "logistic", "erf", "iota", "cummax", "cummin", "sort_by_key",
              "clz", "while", "scan", "threefry2x32", "erf_inv",
              "dimension_size"}  # symbolic shapes only: test_symbolic_* below
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
    with pytest.raises(xf.OnnxExportError, match=r"primitive `cholesky` at test_onnx"):
        xf.export_onnx(xf.export(lambda x: xf.linalg.cholesky(x @ x.T), x))
    with pytest.raises(xf.OnnxExportError, match="complex"):
        xf.export_onnx(xf.export(lambda x: x * 1j, x))
    with pytest.raises(xf.OnnxExportError, match="carries no graph IR"):
        xf.export_onnx(xf.deserialize(exp.serialize()))
    with pytest.raises(xf.ArgumentError, match="expected an xf.Exported"):
        xf.export_onnx(f)


# --- the issue-13 gaps: sort, bit-level ops, scatter/update, padding, scans -------------------

def _onnx_vs_xfront(fn, *args, numpy_ref=None, tol=None):
    """Export ``fn`` on ``args``, run it in onnxruntime, and compare every output with xfront's
    compiled result (exactly, NaNs equal, unless ``tol``) and with ``numpy_ref`` if given."""
    exp = xf.export(fn, *args)
    got = _run_onnx(xf.export_onnx(exp), args)
    want = [np.asarray(w) for w in xf.tree_leaves(exp(*args))]
    assert len(got) == len(want)
    refs = xf.tree_leaves(numpy_ref(*args)) if numpy_ref is not None else [None] * len(got)
    for k, (g, w, r) in enumerate(zip(got, want, refs)):
        assert g.shape == w.shape and g.dtype == w.dtype, (k, g.shape, w.shape, g.dtype, w.dtype)
        for other in (w,) if r is None else (w, np.asarray(r)):
            if tol is None:
                np.testing.assert_array_equal(g, other, err_msg=f"output {k}")
            else:
                np.testing.assert_allclose(g, other, rtol=tol, atol=tol, err_msg=f"output {k}")
    return exp


_RNG = np.random.default_rng(13)


def _floats(shape, dtype=np.float32):
    """Values with ties, signed zeros, infinities and NaNs (NaNs sort last in xfront)."""
    pool = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -1.5, 2.0, 3.25, -7.0],
                    dtype=np.float64)
    return _RNG.choice(pool, size=shape).astype(dtype)


def _ints(shape, dtype):
    info = np.iinfo(dtype)
    pool = np.array([info.min, info.max, 0, 1, 2, 3, info.max // 2, 7], dtype=dtype)
    if info.min < 0:
        pool = np.concatenate([pool, np.array([-1, -2, -3], dtype=dtype)])
    return _RNG.choice(pool, size=shape).astype(dtype)


_SORT_INPUTS = [
    _floats((4, 6)), _floats((7,), np.float64), _floats((3, 5), np.float16),
    _ints((5, 4), np.int8), _ints((4, 5), np.int32), _ints((6,), np.int64),
    _ints((3, 4), np.uint8), _ints((4, 3), np.uint32), _ints((5, 3), np.uint64),
    _RNG.random((3, 5)) > 0.5, np.zeros((0, 3), np.float32), _floats((1,)),
]


@pytest.mark.parametrize("x", _SORT_INPUTS, ids=[f"{a.dtype}{a.shape}" for a in _SORT_INPUTS])
def test_sort_argsort_match_numpy_order(x):
    """sort/argsort (stable, both directions, NaNs last ascending) through ONNX TopK chains;
    64-bit keys take the multi-operand sort, narrower ones the packed-key argsort."""
    axis = x.ndim - 1 if x.ndim == 1 else 0

    def f(x):
        return (xf.sort(x, axis=-1), xf.argsort(x, axis=axis),
                xf.argsort(x, axis=-1, descending=True), xf.sort(x, axis=axis, descending=True))

    def ref(x):
        asc = np.argsort(x, axis=axis, kind="stable")
        desc = np.flip(np.argsort(np.flip(x, -1), axis=-1, kind="stable"), -1)
        desc = x.shape[-1] - 1 - desc if x.size else desc
        return (np.sort(x, axis=-1), asc, desc,
                np.flip(np.sort(x, axis=axis), axis))

    _onnx_vs_xfront(f, x, numpy_ref=ref)


def test_multi_key_sort_and_sort_by_key():
    from xfront.prims import random as rnd
    from xfront.prims import sort as srt

    k1 = _ints((4, 7), np.int32) % 3
    k2 = _floats((4, 7))
    v = np.arange(28, dtype=np.float32).reshape(4, 7)
    for desc in (False, True):
        _onnx_vs_xfront(lambda a, b, c: srt.sort(a, b, c, dimension=1, num_keys=2,
                                                 descending=desc), k1, k2, v)
    keys = _ints((3, 6), np.int64) % 4
    _onnx_vs_xfront(lambda k, x: rnd.sort_by_key(k, x, axis=1), keys, v[:3, :6],
                    numpy_ref=lambda k, x: np.take_along_axis(
                        x, np.argsort(k, axis=1, kind="stable"), axis=1))


_BIT_INPUTS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", _BIT_INPUTS, ids=[np.dtype(d).name for d in _BIT_INPUTS])
def test_shifts_and_popcount(dtype):
    """Shift counts past the width (and negative ones) follow stablehlo: 0, or sign bits."""
    from xfront.prims import elementwise as ew

    bits = 8 * np.dtype(dtype).itemsize
    x = _ints((4, 5), dtype)
    odd = [-1] if np.dtype(dtype).kind == "i" else [2]
    s = np.array([0, 1, 3, bits - 1, bits, bits + 3] + odd * 2 + [5] * 12,
                 dtype=dtype)[:20].reshape(4, 5)

    def f(x, s):
        out = [ew.shift_left(x, s), ew.shift_right_logical(x, s), ew.popcnt(x)]
        if np.dtype(dtype).kind == "i":
            out.append(ew.shift_right_arithmetic(x, s))
        return out

    def ref(x, s):
        u = x.view(np.dtype(f"u{x.itemsize}"))
        su = s.view(u.dtype)
        big = su >= bits
        sc = np.minimum(su, bits - 1).astype(u.dtype)
        left = np.where(big, 0, u << sc).astype(u.dtype).view(x.dtype)
        right = np.where(big, 0, u >> sc).astype(u.dtype).view(x.dtype)
        pop = np.bitwise_count(u).astype(x.dtype)
        out = [left, right, pop]
        if x.dtype.kind == "i":
            out.append(x >> sc.astype(x.dtype))
        return out

    _onnx_vs_xfront(f, x, s, numpy_ref=ref)
    # the namespace functions, row shapes with broadcasting
    _onnx_vs_xfront(lambda x, s: (xf.bitwise_left_shift(x, s[:1] % 5),
                                  xf.bitwise_right_shift(x, s[:, :1] % 5),
                                  xf.bitwise_count(x)), x, np.abs(s))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_bitcast_rules_signbit_copysign_divmod_nextafter(dtype):
    """BitCast (opset 26) carries signbit/copysign/floor_divide/remainder/nextafter exactly,
    signed zeros, infinities and NaNs included."""
    x = _floats((6, 5), dtype)
    y = _floats((6, 5), dtype)
    y[0] = [0.0, -0.0, 3.0, -3.0, np.inf]

    def f(x, y):
        return (xf.signbit(x), xf.copysign(x, y), xf.floor_divide(x, y), xf.remainder(x, y),
                xf.nextafter(x, y), xf.nextafter(y[:1], x))

    with np.errstate(all="ignore"):
        exp = _onnx_vs_xfront(f, x, y, numpy_ref=lambda x, y: (
            np.signbit(x), np.copysign(x, y), _floor_divide_std(x, y), np.remainder(x, y),
            np.nextafter(x, y), np.nextafter(y[:1], x)))
    assert xf.export_onnx(exp).opset_import[0].version == 26
    # without a bitcast the model stays at the base opset
    plain = xf.export_onnx(xf.export(lambda x: x + 1, x))
    assert plain.opset_import[0].version == _onnx.OPSET == 18


_SCATTER_MODES = ["add", "set", "multiply", "min", "max"]


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.bool_])
def test_scatter_modes_out_of_range_and_windows(dtype):
    """x.at[i].op(v) as ScatterND with a reduction; out-of-range updates are dropped (xfront's
    rule), repeated indices accumulate; 2-D index arrays and full windows."""
    x = (_RNG.integers(-4, 5, (5, 3)) if dtype is not np.bool_
         else _RNG.random((5, 3)) > 0.5).astype(dtype)
    i = np.array([0, 4, -1, 2, 2, 9], np.int32)
    v = (_RNG.integers(-4, 5, (6, 3)) if dtype is not np.bool_
         else _RNG.random((6, 3)) > 0.5).astype(dtype)
    modes = [m for m in _SCATTER_MODES if dtype is not np.bool_ or m in ("add", "set", "max")]

    def f(x, i, v):
        return [getattr(x.at[i], m)(v) for m in modes] + [
            x.at[i.reshape(2, 3)].add(v.reshape(2, 3, 3)), x.at[:, i[:3] % 3].max(v[:5, :3])]

    _onnx_vs_xfront(f, x, i, v)
    # a point scatter into both axes, and a traced-start dynamic_update_slice (clamped)
    _onnx_vs_xfront(lambda x, r, c, v: x.at[r, c].add(v[:, 0]), x, i, i[::-1] % 3, v)


def test_dynamic_update_slice_and_interior_padding():
    from xfront.prims import indexing as ix
    from xfront.prims import shape as sh

    x = _RNG.standard_normal((5, 4)).astype(np.float32)
    u = _RNG.standard_normal((2, 3)).astype(np.float32)
    for r, c in [(1, 0), (-3, 2), (9, 9), (4, 1)]:
        _onnx_vs_xfront(lambda x, u, r, c: ix.dynamic_update_slice(x, u, [r, c]), x, u,
                        np.int32(r), np.int32(c))
    _onnx_vs_xfront(lambda x, u: ix.dynamic_update_slice(x[0, 0], u[0, 0], []), x, u)
    pads = [((1, 2, 1), (0, -1, 2)), ((-1, 0, 0), (2, 1, 1)), ((0, 0, 3), (-2, -1, 0))]
    for (l0, h0, i0), (l1, h1, i1) in pads:
        _onnx_vs_xfront(lambda x: sh.pad(x, np.float32(9.0), lo=(l0, l1), hi=(h0, h1),
                                         interior=(i0, i1)), x)
    b = x > 0
    _onnx_vs_xfront(lambda b: sh.pad(b, True, lo=(0, 1), hi=(1, 0), interior=(1, 2)), b)
    for mode in ("reflect", "edge", "symmetric", "wrap"):
        _onnx_vs_xfront(lambda x: xf.pad(x, ((1, 2), (0, 3)), mode=mode), x,
                        numpy_ref=lambda x: np.pad(x, ((1, 2), (0, 3)), mode=mode))


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.uint8, np.int16])
def test_cumulative_scans(dtype):
    from xfront.prims import reduction as red

    x = _RNG.integers(0 if dtype is np.uint8 else -3, 4, (4, 5)).astype(dtype)

    def f(x):
        out = []
        for axis in (0, 1):
            for rev in (False, True):
                out += [red.cumprod(x, axis=axis, reverse=rev),
                        red.cummax(x, axis=axis, reverse=rev),
                        red.cummin(x, axis=axis, reverse=rev)]
        return out

    _onnx_vs_xfront(f, x)
    if dtype is np.float32:
        _onnx_vs_xfront(lambda x: xf.cumulative_prod(x, axis=1), x,
                        numpy_ref=lambda x: np.cumprod(x, axis=1))


def test_primitives_without_onnx_operators_name_the_reason():
    a = np.eye(3, dtype=np.float32) * 2
    cases = [(lambda a: xf.linalg.cholesky(a), "cholesky", "LAPACK"),
             (lambda a: xf.linalg.qr(a)[0], "qr", "LAPACK"),
             (lambda a: xf.real(xf.fft.fft(a)), "fft", "complex"),
             (lambda a: xf.grad(lambda v: xf.sum(xf.digamma(v)))(a + 1), "polygamma",
              "no such operator")]
    for fn, prim, why in cases:
        with pytest.raises(xf.OnnxExportError,
                           match=rf"primitive `{prim}` at test_onnx\.py:\d+ .*has no ONNX "
                                 rf"translation: .*{why}"):
            xf.export_onnx(xf.export(fn, a))


def test_formulated_rules_cbrt_atan2_clz_on_special_values():
    from xfront.prims import elementwise as ew

    y = _floats((8, 11))
    x = _floats((8, 11))
    x[0], y[0] = np.float32(np.inf), np.float32(-np.inf)
    _onnx_vs_xfront(lambda y, x: (xf.atan2(y, x), xf.cbrt(y * 3.7)), y, x, tol=3e-7,
                    numpy_ref=lambda y, x: (np.arctan2(y, x), np.cbrt(y * np.float32(3.7))))
    # signed zeros of atan2 exactly
    z = np.array([0.0, -0.0, 0.0, -0.0, -0.0, -0.0], np.float32)
    w = np.array([0.0, 0.0, -0.0, -1.0, 5.0, np.inf], np.float32)
    exp = xf.export(xf.atan2, z, w)
    got = _run_onnx(xf.export_onnx(exp), [z, w])[0]
    assert np.array_equal(np.signbit(got), np.signbit(np.arctan2(z, w)))
    for dtype in (np.int8, np.uint16, np.int32, np.uint64):
        v = _ints((3, 5), dtype)
        _onnx_vs_xfront(lambda v: ew.clz(v), v)
    # erf_inv: Giles' polynomials, a few ulp from xfront's over [-1, 1] (+-1 -> +-inf, NaN
    # outside)
    g = np.concatenate([np.linspace(-1, 1, 2001, dtype=np.float32),
                        np.float32([0.9999999, -1e-30, 1.5, np.nan])])
    with np.errstate(invalid="ignore"):
        _onnx_vs_xfront(xf.erfinv, g, tol=5e-7)
        _onnx_vs_xfront(xf.erfinv, g.astype(np.float16), tol=1e-3)
    with pytest.raises(xf.OnnxExportError, match=r"`erf_inv` .* on float64 .*single-precision"):
        xf.export_onnx(xf.export(xf.erfinv, g.astype(np.float64)))
    # lgamma/digamma: the Lanczos series (reflected below 0.5), poles included
    t = np.concatenate([np.linspace(-9.7, 25, 1501), [0.0, -3.0, 1.0, 2.0, 0.5, 1e-6, np.inf]])
    for dtype, tol in ((np.float32, 3e-6), (np.float64, 1e-13)):
        with np.errstate(all="ignore"):
            _onnx_vs_xfront(lambda v: (xf.lgamma(v), xf.digamma(v)), t.astype(dtype), tol=tol)


def test_loops_become_onnx_loop_and_scan():
    """while_loop/fori_loop (ONNX Loop, the condition tested before each trip, zero trips
    included) and scan in both directions, with and without scanned operands (ONNX Scan)."""
    x = np.arange(12, dtype=np.float32).reshape(3, 4) / 7

    def f(x, n):
        a = xf.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.5 + x),
                          (xf.asarray(np.int32(0)), x))
        b = xf.fori_loop(0, n, lambda i, v: v * 0.5 + x, x)

        def step(c, xt):
            return c + xt, c * xt

        return (a, b, xf.scan(step, x[0], x), xf.scan(step, x[0], x, reverse=True),
                xf.fori_loop(0, 3, lambda i, v: v * 2 - x, x), xf.scan(step, x[0], x[:0]))

    exp = xf.export(f, x, np.int32(0))
    assert {"while", "scan"} <= {e.prim.name for e in exp.graph.eqns}
    model = xf.export_onnx(exp)
    for n in (0, 1, 4):
        args = [x, np.int32(n)]
        got = _run_onnx(model, args)
        want = [np.asarray(w) for w in xf.tree_leaves(exp(*args))]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-6, err_msg=f"n={n}")


def test_random_samplers_export_bit_exactly():
    """threefry2x32 in uint32 ONNX ops: samplers, permutation (sort_by_key) and split give
    xfront's numbers; the key is a traced input."""
    key = np.asarray(xf.random.key(7))

    def f(k):
        a, b = xf.random.split(k)
        return (xf.random.bits(a, (3, 5)), xf.random.uniform(b, (4,)),
                xf.random.bernoulli(k, 0.3, (2, 3)), xf.random.randint(a, (6,), 0, 10),
                xf.random.permutation(b, 8), xf.random.normal(a, (40,), dtype=xf.float32))

    exp = _onnx_vs_xfront(f, key, tol=2e-6)  # normal: through erf_inv, a few ulp
    assert "threefry2x32" in {e.prim.name for e in exp.graph.eqns}


# --- symbolic dimensions: dim_params, shapes computed in the graph ---------------------------

# representative rows (elementwise, comparisons, reductions, transpose/broadcast/concat/stack,
# matmul, sort, gather): traced with a symbolic leading dimension, run at two sizes
SYMBOLIC_ROWS = ["add", "subtract", "multiply", "divide", "maximum", "pow", "exp", "log",
                 "tanh", "sqrt", "abs", "sigmoid", "erf", "floor", "less", "equal",
                 "logical_and", "where", "clip", "sum", "prod", "max", "min", "mean", "var",
                 "std", "argmax", "argmin", "any", "all", "logaddexp", "matmul", "vecdot",
                 "matrix_transpose", "permute_dims", "expand_dims", "flip", "concat", "stack",
                 "broadcast_to", "sort", "argsort", "take", "bitwise_and", "square"]
_BY_NAME = {c.name: c for c, _ in ROWS}
SYM_ROWS = [(_BY_NAME[n], _dtype_for(_BY_NAME[n])) for n in SYMBOLIC_ROWS]


def _symbolic_specs(arrays, which):
    return [xf.Spec(("b",) + a.shape[1:], a.dtype) if i in which else a
            for i, a in enumerate(arrays)]


def _grow(a):  # one more row along the symbolic axis
    return np.concatenate([a, a[:1]], axis=0)


@pytest.mark.parametrize("case,dtype", SYM_ROWS, ids=[f"{c.name}-{d}" for c, d in SYM_ROWS])
def test_onnx_symbolic_leading_dim_matches_xfront(case, dtype):
    from hypothesis import assume

    case = dataclasses.replace(case, specials=False)

    @settings(max_examples=1, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(op_inputs(case, dtype))
    def check(inputs):
        arrays, kwargs = inputs
        assume(all(a.dtype.kind != "c" for a in arrays))  # complex: no ONNX type
        nd = max(a.ndim for a in arrays)
        if case.name == "matmul":  # the rows of a matrix x1
            assume(arrays[0].ndim == 2)
            marked = [0]
        else:
            assume(nd >= 1)
            lead = max(a.shape[0] for a in arrays if a.ndim == nd)
            # axis 0 of the highest-rank arrays of that size is symbolic (lower-rank arrays
            # and size-1 axes broadcast against it and stay static)
            marked = [i for i, a in enumerate(arrays) if a.ndim == nd and a.shape[0] == lead]
        # values to compare: no zero-size or single-row inputs
        assume(all(arrays[i].shape[0] >= 2 and arrays[i].size > 0 for i in marked))
        f = xf.compile(lambda *a: case.fn(*a, **kwargs))
        exp = xf.export(f, *_symbolic_specs(arrays, marked))
        assert exp.symbols == ("b",)
        model = xf.export_onnx(exp)
        for i in marked:
            assert model.graph.input[i].type.tensor_type.shape.dim[0].dim_param == "b"
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        for args in (arrays, [_grow(a) if i in marked else a for i, a in enumerate(arrays)]):
            got = sess.run(None, {f"arg{i}": np.asarray(a) for i, a in enumerate(args)})
            want = [np.asarray(w) for w in xf.tree_leaves(exp(*args))]
            assert len(got) == len(want)
            for g, w in zip(got, want):
                assert g.shape == w.shape, (g.shape, w.shape)
            assert_close(got if len(got) > 1 else got[0], want if len(got) > 1 else want[0],
                         case, f" onnxruntime (symbolic) {kwargs} on {[a.shape for a in args]}")

    check()


def test_symbolic_shape_computations_in_the_graph():
    """Reshape targets, broadcast shapes, iota, slices up to a symbolic end, clamps of gathers,
    TopK's k and a softmax kernel with a symbolic batch: dim_params and several sizes."""
    from xfront.prims.shape import iota

    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)

    def f(x, y, z):
        h = xf.tanh(x @ w) + y[:, None]  # (b, 4)
        e = xf.exp(h - xf.max(h, axis=1, keepdims=True))
        soft = e / xf.sum(e, axis=1, keepdims=True)
        flat = xf.reshape(h, (-1,))  # (4*b,)
        return (soft, xf.concat([flat, flat * 2]), h[1:, ::2], xf.sort(y), xf.argsort(-y),
                xf.take(x, xf.argmax(y, keepdims=True), axis=0),
                iota(xf.int32, (x.shape[0], 2), 0), xf.mean(x, axis=0), xf.flip(y),
                xf.broadcast_to(y[:, None], (y.shape[0], 5)), z[:, :-1] + 1)

    exp = xf.export(f, xf.Spec(("b", 3), xf.float32), xf.Spec("b", xf.float32),
                    xf.Spec(("b", "c"), xf.int32))
    model = xf.export_onnx(exp)
    dim = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa
    assert [dim(v) for v in model.graph.input] == [["b", 3], ["b"], ["b", "c"]]
    assert dim(model.graph.output[1]) == ["8*b"] and dim(model.graph.output[2]) == ["b - 1", 2]
    assert dim(model.graph.output[10]) == ["b", "c - 1"]
    assert {"Shape", "Range", "Concat"} <= {n.op_type for n in model.graph.node}
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(5)
    for n, c in ((2, 1), (5, 3), (9, 2)):
        args = [rng.standard_normal((n, 3)).astype(np.float32),
                rng.standard_normal(n).astype(np.float32),
                rng.integers(-5, 5, (n, c)).astype(np.int32)]
        got = sess.run(None, {f"arg{i}": a for i, a in enumerate(args)})
        want = [np.asarray(v) for v in xf.tree_leaves(exp(*args))]
        for k, (g, v) in enumerate(zip(got, want)):
            assert g.shape == v.shape and g.dtype == v.dtype, (k, g.shape, v.shape)
            np.testing.assert_allclose(g, v, rtol=1e-5, atol=1e-6, err_msg=f"output {k}, b={n}")
        x, y = args[:2]
        np.testing.assert_allclose(got[0].sum(1), np.ones(n), rtol=1e-5)
        np.testing.assert_array_equal(got[3], np.sort(y))


def test_symbolic_primitive_without_a_symbolic_translation_is_named():
    x = xf.Spec(("b", 4), xf.float32)
    exp = xf.export(lambda x: xf.pad(x, ((1, 1), (0, 0))), x)
    with pytest.raises(xf.OnnxExportError,
                       match=r"primitive `pad` at test_onnx\.py:\d+ .*with symbolic dimensions "
                             r"\(f32\[b,4\]"):
        xf.export_onnx(exp)
