"""Start-up: what ``import xfront`` and a fresh process's first compiled call load and build.

The figures live in benchmarks/bench_startup.py; these tests pin the behaviour the figures rely
on (NOTE [Lazy modules] in xfront/__init__.py, NOTE [Verify after a failed compile] in the
runtime adapter) and check that the lazily bound names behave exactly as eager ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import xfront as xf
from xfront import _core
from xfront._aval import AbstractArray

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# a fresh process: what ``import xfront`` loads, then what one compiled call adds
_FRESH = r"""
import gc, json, sys
import numpy as np
import xfront as xf
after_import = sorted(sys.modules)
f = xf.compile(lambda x: xf.tanh(x) * 2 + 1)
out = np.asarray(f(np.ones((4, 4), np.float32)))
rt = sys.modules["xfront.lowering.runtime"]
print(json.dumps({"after_import": after_import, "after_call": sorted(sys.modules),
                  "value": float(out[0, 0]), "mlir_context_built": rt._ir_ctx is not None,
                  "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""

LAZY_MODULES = ("xfront._onnx", "xfront._export", "xfront._autodiff", "xfront._control",
                "xfront._shard_map", "xfront.random", "xfront.testing", "xfront.linalg",
                "xfront.fft", "xfront.distributed")


def _run_fresh(code: str) -> dict:
    env = dict(os.environ, XFRONT_CACHE="0", TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def fresh() -> dict:
    return _run_fresh(_FRESH)


def test_import_leaves_export_autodiff_and_friends_unloaded(fresh):
    loaded = set(fresh["after_import"])
    assert not loaded & set(LAZY_MODULES), sorted(loaded & set(LAZY_MODULES))
    assert not {m for m in loaded if m.split(".")[0] in ("jax", "jaxlib", "torch",
                                                          "tensorflow", "onnx")}


def test_first_call_loads_only_what_it_needs(fresh):
    assert fresh["value"] == pytest.approx(np.tanh(1.0) * 2 + 1)
    loaded = set(fresh["after_call"])
    assert not loaded & set(LAZY_MODULES), sorted(loaded & set(LAZY_MODULES))
    # jax.extend pulls in pallas, checkify and shard_map (~35 ms): the adapter does not need it
    assert "jax.extend" not in loaded
    # a module that compiles is not parsed a second time in Python (no MLIR context built)
    assert fresh["mlir_context_built"] is False


def test_the_collector_pause_ends_with_the_runtime_import(fresh):
    # NOTE [No garbage collection while jax imports]: switched back on after the import, and
    # nothing is left frozen (exempt from collection) ...
    assert fresh["gc_enabled"] is True and fresh["frozen"] == 0
    # ... unless the process had switched it off, or frozen objects, itself
    got = _run_fresh("import gc, json\ngc.disable()\ngc.freeze()\n"
                     "import xfront.lowering.runtime\n"
                     "print(json.dumps({'gc_enabled': gc.isenabled(), "
                     "'kept': gc.get_freeze_count() > 0}))\n")
    assert got["gc_enabled"] is False and got["kept"] is True


@pytest.mark.parametrize("name", sorted(xf._LAZY))
def test_lazy_names_are_the_module_objects(name):
    module, attr = xf._LAZY[name]
    value = getattr(xf, name)
    target = sys.modules[module] if attr is None else getattr(sys.modules[module], attr)
    assert value is target
    assert name in vars(xf) and name in dir(xf)  # bound once: later accesses skip __getattr__
    assert name in xf.__all__ or name == "__array_namespace_info__"
    if attr is None:
        assert isinstance(value, types.ModuleType)


def test_from_import_and_star_import_resolve_lazy_names():
    ns: dict = {}
    exec("from xfront import cond, random as r, export_onnx, psum", ns)
    assert ns["cond"] is xf.cond and ns["r"] is xf.random and ns["psum"] is xf.psum
    ns = {}
    exec("from xfront import *", ns)
    assert {"grad", "einsum", "Exported", "shard_map", "testing"} <= set(ns)


def test_unknown_names_still_raise_the_habit_error():
    with pytest.raises(AttributeError, match="concat"):
        xf.concatenate  # noqa: B018
    with pytest.raises(AttributeError):
        xf.no_such_name  # noqa: B018


def _bad_verify_primitive(name: str) -> _core.Primitive:
    def wrong_type_rule(ctx, x):  # declares a transpose result of the wrong type
        return ctx.op("stablehlo.transpose", [x], [AbstractArray((3, 2), x.aval.dtype)],
                      props={"permutation": "array<i64: 0, 1>"})

    return _core.Primitive(name, abstract_eval=lambda x: x.update(shape=x.shape[::-1]),
                           ref=lambda x: x.T, lowering=wrong_type_rule)


@pytest.mark.parametrize("entry", ["compile", "eager"])
def test_a_module_that_does_not_verify_still_names_its_primitive(entry):
    name = f"test_startup_bad_verify_{entry}"
    p = _bad_verify_primitive(name)
    x = np.ones((2, 3), np.float32)
    try:
        with pytest.raises(xf.LoweringError, match=rf"does not verify[\s\S]*{name}"):
            if entry == "compile":
                xf.compile(lambda a: p.bind(a))(x)
            else:
                p.bind(xf.asarray(x))
    finally:
        _core.PRIMITIVES.pop(name, None)


def test_a_module_xla_rejects_after_verifying_is_a_compile_error():
    from xfront.lowering import runtime as rt

    dev = xf.devices("cpu")[0].rt
    # verifies (a well-formed module), but names a custom call no handler is registered for
    text = ('func.func public @main(%a: tensor<2xf32>) -> tensor<2xf32> {\n'
            '  %0 = stablehlo.custom_call @xfront_no_such_target(%a) {api_version = 4 : i32}'
            ' : (tensor<2xf32>) -> tensor<2xf32>\n  return %0 : tensor<2xf32>\n}\n')
    rt.parse_verify(text)
    a = AbstractArray((2,), xf.float32)
    with pytest.raises(xf.CompileError, match="no_such_target"):
        rt.compile(text, dev, [a], [a], name="step")
