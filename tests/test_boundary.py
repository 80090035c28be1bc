"""The runtime adapter's exception boundary, guards that fail closed, and platform names.

Runtime failures are simulated by monkeypatching the adapter (NOTE [One exception boundary] in
xfront/lowering/runtime.py); each case checks the xfront error class, the builtin it
subclasses, and that no jaxlib/nanobind/C++ text reaches the user.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import xfront as xf
from xfront import _core
from xfront._aval import AbstractArray
from xfront.lowering import lower_graph
from xfront.lowering import runtime as rt

_LEAKS = ("std::", "nanobind", "incompatible function arguments", "JaxRuntimeError",
          "XlaRuntimeError", "jaxlib", "Invoked with", "bad_cast")


def _clean(msg: str) -> None:
    assert not any(s in msg for s in _LEAKS), msg


# (raised inside jaxlib, xfront class, builtin, message regex)
TABLE = [
    (MemoryError("std::bad_alloc"), xf.XfMemoryError, MemoryError,
     r"xfront\.op: out of memory: the runtime could not allocate memory for the program `p`"),
    (RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 123456 bytes."), xf.XfMemoryError,
     MemoryError, r"could not allocate 123456 bytes \(0\.000115 GiB\) for the program `p`"),
    (RuntimeError("INVALID_ARGUMENT: Buffer has been deleted or donated."), xf.ArgumentError,
     TypeError, r"xfront\.op: an input of the program `p` was deleted"),
    (RuntimeError("Array has been deleted with shape=float32[3]."), xf.ArgumentError, TypeError,
     r"was deleted"),
    (TypeError("execute_sharded(): incompatible function arguments. The following argument types "
               "are supported:\n 1. execute_sharded(self, ...)\nInvoked with types: object"),
     xf.ExecutionError, RuntimeError, r"an internal error of xfront's runtime adapter"),
    (RuntimeError("std::bad_cast"), xf.ExecutionError, RuntimeError, r"internal error"),
    (RuntimeError("INTERNAL: the device went away"), xf.ExecutionError, RuntimeError,
     r"xfront\.op: running the program `p` failed: INTERNAL: the device went away"),
    (ValueError("something else"), xf.ExecutionError, RuntimeError,
     r"running the program `p` failed: something else"),
]


def test_boundary_table_has_one_row_per_kind_of_failure():
    assert len(rt.BOUNDARY) == 5
    assert rt.BOUNDARY[-1][1](ValueError(), "")  # the last row catches everything


@pytest.mark.parametrize("raised,cls,builtin,pattern", TABLE,
                         ids=[type(t[0]).__name__ + ":" + str(t[0])[:24] for t in TABLE])
def test_translate(raised, cls, builtin, pattern):
    e = rt.translate(raised, "op", "the program `p`")
    assert type(e) is cls and isinstance(e, builtin) and isinstance(e, xf.XfrontError)
    assert re.search(pattern, str(e)), str(e)
    _clean(str(e))


def test_translate_keeps_xfront_errors():
    e = xf.ShapeError("xfront.x: bad")
    assert rt.translate(e, "op") is e


def test_allocation_failure_in_a_compiled_call_is_a_memory_error():
    @xf.compile
    def huge():
        return xf.ones(3 * 10**12)  # 24 TB of float64

    with pytest.raises(MemoryError) as info:
        huge()
    assert isinstance(info.value, xf.XfMemoryError)
    msg = str(info.value)
    assert "xfront.compile: out of memory" in msg
    assert "24000000000000 bytes" in msg and "the program `huge`" in msg
    assert "test_boundary.py" in msg
    _clean(msg)


def test_execute_failure_names_the_program(monkeypatch):
    f = xf.compile(lambda a: a * 3)
    x = xf.asarray(np.ones(3, np.float32))
    f(x)
    exe = next(iter(f._cache.values())).exe.exe  # the runtime Executable

    class Failing:
        def execute_sharded(self, bufs):
            raise RuntimeError("INTERNAL: simulated failure in the runtime")

    monkeypatch.setattr(exe, "exe", Failing())
    with pytest.raises(xf.ExecutionError, match=r"xfront\.compile: running the program `<lambda>` "
                                                r"failed: INTERNAL: simulated failure"):
        f(x)


def test_compile_failure_names_program_and_stablehlo_location(monkeypatch):
    class FakeClient:
        def compile_and_load(self, text, devices, options):
            raise RuntimeError('UNKNOWN: error: loc("mul at model.py:12 in f"): failed to '
                               'legalize operation\nmore C++ detail from jaxlib')

    dev = xf.devices("cpu")[0]
    monkeypatch.setattr(rt, "client", lambda platform: FakeClient())
    with pytest.raises(xf.CompileError) as info:
        rt.compile("module {}", dev.rt, [], [], verify=False, name="step")
    e = info.value
    assert isinstance(e, xf.LoweringError) and isinstance(e, RuntimeError)
    msg = str(e)
    assert "xfront.compile: XLA failed to compile the program `step`" in msg
    assert "at StableHLO location(s): mul at model.py:12 in f" in msg
    _clean(msg)


def test_unparsable_module_is_a_compile_error():
    with pytest.raises(xf.CompileError, match="XLA failed to compile the program"):
        rt.compile("garbage", xf.devices("cpu")[0].rt, [], [], verify=False)


# --- guards fail closed -----------------------------------------------------------------------

class _NoLayout:
    """A buffer whose layout cannot be read (as if a jaxlib update moved the attribute)."""

    shape = (2, 3)
    dtype = np.float32

    def is_deleted(self):
        return False

    @property
    def _pjrt_layout(self):
        raise AttributeError("_pjrt_layout")


def test_layout_guard_fails_closed():
    assert rt.has_default_layout(_NoLayout()) is False


def test_deleted_buffer_layout_check_raises_instead_of_crashing():
    b = rt.put(np.ones(3, np.float32), xf.devices("cpu")[0].rt)
    b.delete()
    with pytest.raises(xf.ArgumentError, match="was deleted"):
        rt.has_default_layout(b)


def test_is_deleted_fails_closed():
    class Broken:
        def is_deleted(self):
            raise RuntimeError("cannot tell")

    assert rt.is_deleted(Broken()) is True


@pytest.mark.parametrize("how", ["unknown", "raises"])
def test_imports_stay_right_when_the_layout_cannot_be_established(monkeypatch, how):
    torch = pytest.importorskip("torch")
    if how == "unknown":
        monkeypatch.setattr(rt, "has_default_layout", lambda buf: False)
    else:  # the cached default layouts cannot be consulted: the guard must answer False
        class Raising(dict):
            def get(self, *a):
                raise RuntimeError("simulated")

        monkeypatch.setattr(rt, "_default_layouts", Raising())
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    for t in (base, base.T, base.T.contiguous(), torch.arange(24.).reshape(2, 3, 4)
              .permute(2, 0, 1)):
        got = np.asarray(xf.asarray(t) * 1)
        np.testing.assert_array_equal(got, t.numpy())
        np.testing.assert_array_equal(np.asarray(xf.compile(lambda a: a + 0)(t)), t.numpy())


def test_jax_arrays_stay_right_when_the_layout_cannot_be_established(monkeypatch):
    jnp = pytest.importorskip("jax.numpy")
    monkeypatch.setattr(rt, "has_default_layout", lambda buf: False)
    j = jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(xf.asarray(j) + 1), np.asarray(j) + 1)


# --- platform names -----------------------------------------------------------------------------

@pytest.mark.parametrize("registered", ["cuda", "rocm", "gpu"])
@pytest.mark.parametrize("asked", ["gpu", "cuda", "rocm"])
def test_platform_rule_registered_under_a_vendor_name_is_used_for_gpu(registered, asked):
    from xfront.prims import elementwise as ew

    calls = []

    def gpu_rule(ctx, x):
        calls.append(ctx.platform)
        return ew.neg_p.lowering(ctx, x)

    name = f"test_platform_fake_{registered}_{asked}"
    prim = _core.Primitive(name, abstract_eval=lambda a: a, ref=lambda a: a,
                           lowering=ew.sin_p.lowering, platform_lowering={registered: gpu_rule},
                           vjp=_core.NONDIFFERENTIABLE)
    try:
        graph, _, _ = _core.trace_graph(lambda x: [prim.bind(x)],
                                        [AbstractArray((3,), xf.float32)])
        gpu_text = lower_graph(graph, platform=asked).text
        cpu_text = lower_graph(graph, platform="cpu").text
    finally:
        del _core.PRIMITIVES[name]
    assert len(calls) == 1  # the GPU rule ran for the GPU lowering only
    assert "stablehlo.negate" in gpu_text and "stablehlo.sine" not in gpu_text
    assert "stablehlo.sine" in cpu_text


def test_conflicting_rules_for_one_platform_are_refused():
    with pytest.raises(ValueError, match="different lowering rules"):
        _core.Primitive("test_platform_conflict", abstract_eval=lambda a: a, ref=lambda a: a,
                        lowering=lambda c, x: [x],
                        platform_lowering={"cuda": lambda c, x: [x], "rocm": lambda c, x: [x]})
    assert "test_platform_conflict" not in _core.PRIMITIVES
