"""StableHLO produced for small programs: expected structure (not byte-for-byte), source
locations, and errors that name the primitive and the user's line."""

from __future__ import annotations

import re

import numpy as np
import pytest

import xfront as xf
from xfront._aval import AbstractArray
from xfront._core import Primitive
from xfront.lowering import lower_graph


def _ops(text: str) -> list[str]:
    """Op names in emission order (generic form)."""
    return [o for o in re.findall(r'"((?:stablehlo|chlo|func)\.[a-z_]+)"', text)
            if o != "func.func"]


def _f32(*shape):
    return np.ones(shape, np.float32)


def test_mlp_structure():
    def mlp(x, w, b):
        return xf.tanh(x @ w + b)

    low = xf.compile(mlp).lower(_f32(8, 4), _f32(4, 16), _f32(16))
    ops = _ops(low.text)
    assert ops == ["stablehlo.dot_general", "stablehlo.broadcast_in_dim", "stablehlo.add",
                   "stablehlo.tanh", "func.return"]
    assert "(tensor<8x4xf32>, tensor<4x16xf32>, tensor<16xf32>) -> (tensor<8x16xf32>)" in low.text
    assert "lhs_contracting_dimensions = [1], rhs_contracting_dimensions = [0]" in low.text
    pretty = low.as_text()
    assert "func.func public @main" in pretty and "stablehlo.tanh" in pretty


def test_softmax_structure_has_two_reductions():
    def softmax(x):
        e = xf.exp(x - xf.max(x, axis=-1, keepdims=True))
        return e / xf.sum(e, axis=-1, keepdims=True)

    text = xf.compile(softmax).lower(_f32(4, 10)).text
    ops = _ops(text)
    assert ops.count("stablehlo.reduce") == 2
    assert "stablehlo.maximum" in ops and "stablehlo.exponential" in ops
    assert "stablehlo.divide" in ops
    # the reductions combine with max and add, over dimension 1
    assert text.count("dimensions = array<i64: 1>") == 2


def test_float64_and_bool_types_and_constants():
    def f(x, m):
        return xf.where(m, x * 2.5, -0.0)

    text = xf.compile(f).lower(np.ones(3), np.ones(3, bool)).text
    assert "tensor<3xf64>" in text and "tensor<3xi1>" in text
    # constants are exact (hex), including -0.0
    assert 'dense<"0x0000000000000440"> : tensor<f64>' in text  # 2.5
    assert 'dense<"0x0000000000000080"> : tensor<f64>' in text  # -0.0


def test_locations_name_primitive_and_user_line():
    def f(x):
        return xf.sin(x)  # LINE-MARK

    text = xf.compile(f).lower(_f32(2)).text
    line = next(i for i, l in enumerate(open(__file__).read().splitlines(), 1) if "LINE-MARK" in l
                and "def" not in l)
    assert f'loc("sine at test_lowering.py:{line} in f")' not in text  # prim names, not ops
    assert f'loc("sin at test_lowering.py:{line} in f")' in text


def test_lowering_error_names_primitive_and_source_line():
    def bad_rule(ctx, x):
        raise RuntimeError("no rule for this case")

    bad_p = Primitive("test_bad_lowering", abstract_eval=lambda x: x, ref=lambda x: x,
                      lowering=bad_rule)
    try:
        def f(x):
            return bad_p.bind(x) + 1

        with pytest.raises(xf.LoweringError,
                           match=r"lowering primitive `test_bad_lowering` failed at "
                                 r"test_lowering\.py:\d+ in f: RuntimeError: no rule"):
            xf.compile(f)(_f32(2))
    finally:
        from xfront._core import PRIMITIVES

        PRIMITIVES.pop("test_bad_lowering", None)


def test_invalid_module_is_caught_by_the_verifier_before_compiling():
    def wrong_type_rule(ctx, x):  # emits an op whose declared type is wrong
        return ctx.op("stablehlo.transpose", [x], [AbstractArray((3, 2), x.aval.dtype)],
                      props={"permutation": "array<i64: 0, 1>"})

    p = Primitive("test_bad_verify", abstract_eval=lambda x: x.update(shape=x.shape[::-1]),
                  ref=lambda x: x.T, lowering=wrong_type_rule)
    try:
        g = xf.trace(lambda x: p.bind(x))(_f32(2, 3))
        low = lower_graph(g)
        from xfront.lowering import runtime

        with pytest.raises(xf.LoweringError, match=r"test_bad_verify at test_lowering\.py:\d+"):
            runtime.parse_verify(low.text)
    finally:
        from xfront._core import PRIMITIVES

        PRIMITIVES.pop("test_bad_verify", None)


def test_lowering_needs_no_jaxlib_import():
    import subprocess
    import sys

    code = ("import sys, numpy as np, xfront as xf\n"
            "from xfront.lowering import lower_graph\n"
            "g = xf.trace(lambda x: xf.exp(x) * 2)(np.ones(3))\n"
            "t = lower_graph(g, platform='cpu').text\n"
            "assert 'stablehlo.exponential' in t\n"
            "assert not {'jax', 'jaxlib', 'torch', 'tensorflow'} & set(sys.modules), "
            "sorted(m for m in sys.modules if m.split('.')[0] in ('jax','jaxlib','torch','tensorflow'))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_import_loads_no_framework():
    import subprocess
    import sys

    code = ("import xfront, sys\n"
            "bad = {'jax', 'jaxlib', 'torch', 'tensorflow'} & {m.split('.')[0] for m in sys.modules}\n"
            "assert not bad, bad\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
