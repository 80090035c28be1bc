"""Shared machinery of the table-driven op tests: input generation and result comparison.

``OpCase`` rows (tests/op_db*.py) describe each public xfront function once; test_ops.py
expands every row into eager, compiled, traced-aval, reference-interpreter, special-value and
error tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import ml_dtypes
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xfront as xf

BF16 = np.dtype(ml_dtypes.bfloat16)

# dtype groups by name (the table lists names so test ids stay readable)
BOOL = ("bool",)
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
REAL_FLOATS = ("float16", "bfloat16", "float32", "float64")
COMPLEX = ("complex64", "complex128")
FLOATS = REAL_FLOATS + COMPLEX
NUMERIC = INTS + FLOATS
REAL_NUMERIC = INTS + REAL_FLOATS
ALL = BOOL + NUMERIC

# default tolerances per dtype: (rtol, atol)
DEFAULT_TOL: dict[str, tuple[float, float]] = {
    "float16": (4e-3, 2e-3), "bfloat16": (2e-2, 2e-2),
    "float32": (3e-5, 2e-6), "float64": (1e-11, 1e-13),
    "complex64": (3e-5, 2e-6), "complex128": (1e-11, 1e-13),
}


@dataclass(frozen=True)
class A:
    """An array spec used by error cases: a shape and a dtype name (or a literal value)."""

    shape: tuple[int, ...]
    dtype: str = "float32"

    def make(self) -> np.ndarray:
        d = np.dtype(BF16 if self.dtype == "bfloat16" else self.dtype)
        return np.ones(self.shape, dtype=d)


@dataclass(frozen=True)
class ErrorCase:
    args: tuple
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    raises: type = TypeError
    match: str = ""
    compiled: bool = True  # also check that the error is raised while tracing

    def build_args(self) -> list[Any]:
        return [a.make() if isinstance(a, A) else a for a in self.args]


@dataclass(frozen=True)
class OpCase:
    """One public function: how to call it, its NumPy reference, and what inputs it accepts."""

    name: str
    fn: Callable
    ref: Callable
    dtypes: tuple[str, ...]
    nargs: int = 1
    shapes: Any = "unary"  # "unary" | "broadcast" | "same" | callable(nargs) -> strategy
    kwargs: Any = ({},)  # tuple of dicts, or callable(shapes) -> strategy of dicts
    domain: tuple[float, float] = (-3.0, 3.0)
    int_domain: tuple[int, int] = (-20, 20)
    specials: bool = True  # mix nan/inf/-0.0 into float inputs
    tol: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    errors: tuple[ErrorCase, ...] = ()
    examples: int = 6  # hypothesis examples per (op, dtype)
    elements: Callable | None = None  # custom element strategy factory (dtype, index) -> strategy
    same_dtype: bool = True  # all array inputs share one dtype
    arg_dtype: Callable | None = None  # (dtype_name, index) -> forced dtype name or None
    check_dtype: bool = True

    def tolerance(self, dtype: np.dtype) -> tuple[float, float]:
        name = "bfloat16" if dtype == BF16 else np.dtype(dtype).name
        return self.tol.get(name, DEFAULT_TOL.get(name, (0.0, 0.0)))


# --- input generation ----------------------------------------------------------------------

def np_dtype(name: str) -> np.dtype:
    return BF16 if name == "bfloat16" else np.dtype(name)


SPECIALS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0]


def element_strategy(case: OpCase, dtype: np.dtype) -> st.SearchStrategy:
    if dtype == np.bool_:
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = case.int_domain
        lo, hi = max(lo, int(info.min)), min(hi, int(info.max))
        return st.integers(lo, hi)
    lo, hi = case.domain
    width = 16 if dtype == np.float16 else (64 if dtype in (np.float64, np.complex128) else 32)
    if width < 64:  # bounds must be representable at the generated width: round inwards
        ft = np.float16 if width == 16 else np.float32
        lo_r, hi_r = ft(lo), ft(hi)
        lo = float(lo_r if lo_r >= lo else np.nextafter(lo_r, ft(np.inf)))
        hi = float(hi_r if hi_r <= hi else np.nextafter(hi_r, ft(-np.inf)))
    # XLA:CPU flushes subnormal floats to zero (README, "Differences from NumPy"): none drawn
    fl = st.floats(lo, hi, width=width, allow_subnormal=False)
    if case.specials and (dtype.kind == "f" or dtype == BF16):
        fl = st.one_of(fl, fl, fl, fl, fl, fl, st.sampled_from(SPECIALS))
    if dtype.kind == "c":
        return st.builds(complex, fl, fl)
    return fl


def array_strategy(case: OpCase, dtype: np.dtype, shape: tuple[int, ...],
                   index: int = 0) -> st.SearchStrategy:
    elements = case.elements(dtype, index) if case.elements else None
    if elements is None:
        elements = element_strategy(case, dtype)
    gen_dtype = np.dtype(np.float32) if dtype == BF16 else dtype
    if dtype == BF16:
        return hnp.arrays(gen_dtype, shape, elements=elements).map(lambda a: a.astype(BF16))
    return hnp.arrays(gen_dtype, shape, elements=elements)


def shapes_strategy(case: OpCase) -> st.SearchStrategy:
    if callable(case.shapes):
        return case.shapes(case.nargs)
    if case.shapes == "unary" or case.nargs == 1:
        return hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4).map(
            lambda s: (s,) * case.nargs)
    if case.shapes == "same":
        return hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4).map(
            lambda s: (s,) * case.nargs)
    if case.shapes == "broadcast":
        return hnp.mutually_broadcastable_shapes(num_shapes=case.nargs, min_dims=0, max_dims=4,
                                                 min_side=0, max_side=4).map(
            lambda r: r.input_shapes)
    raise ValueError(f"unknown shapes spec {case.shapes!r}")


def kwargs_strategy(case: OpCase, shapes: tuple) -> st.SearchStrategy:
    if callable(case.kwargs):
        return case.kwargs(shapes)
    return st.sampled_from(list(case.kwargs))


@st.composite
def op_inputs(draw: Any, case: OpCase, dtype_name: str) -> tuple[list[np.ndarray], dict]:
    shapes = draw(shapes_strategy(case))
    dtype = np_dtype(dtype_name)
    dtypes = [dtype] * case.nargs
    if not case.same_dtype:
        dtypes = [dtype] + [np_dtype(draw(st.sampled_from(case.dtypes)))
                            for _ in range(case.nargs - 1)]
    if case.arg_dtype is not None:
        dtypes = [np_dtype(case.arg_dtype(dtype_name, i) or np.dtype(d).name if d != BF16 else
                           case.arg_dtype(dtype_name, i) or "bfloat16")
                  for i, d in enumerate(dtypes)]
    arrays = [draw(array_strategy(case, d, s, i)) for i, (d, s) in enumerate(zip(dtypes, shapes))]
    kwargs = draw(kwargs_strategy(case, shapes))
    return arrays, kwargs


# --- reference evaluation and comparison ---------------------------------------------------

def reference(case: OpCase, arrays: list[np.ndarray], kwargs: dict) -> Any:
    """Run the NumPy reference; bfloat16 inputs are computed in float32 and rounded back."""
    has_bf16 = any(a.dtype == BF16 for a in arrays)
    ins = [a.astype(np.float32) if a.dtype == BF16 else a for a in arrays]
    with np.errstate(all="ignore"):
        out = case.ref(*ins, **kwargs)
    if has_bf16:
        # float32 results stand for the promoted input dtype, which may be bfloat16
        promoted = xf.result_type(*[xf._dtypes.dtype(a.dtype) for a in arrays])
        if promoted is xf.bfloat16:
            return _map_out(out, lambda o: o.astype(BF16) if o.dtype == np.float32 else o)
    return out


def _map_out(out: Any, f: Callable) -> Any:
    if isinstance(out, (tuple, list)):
        return type(out)(_map_out(o, f) for o in out)
    return f(np.asarray(out))


def assert_close(actual: Any, expected: Any, case: OpCase, what: str = "") -> None:
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), \
            f"{case.name}{what}: expected {len(expected)} outputs, got {actual!r}"
        for a, e in zip(actual, expected):
            assert_close(a, e, case, what)
        return
    exp = np.asarray(expected)
    if isinstance(actual, xf.Array):
        act_dtype = np_dtype(actual.dtype.name)
    else:
        act_dtype = np.asarray(actual).dtype
    act = np.asarray(actual)
    assert act.shape == exp.shape, f"{case.name}{what}: shape {act.shape} != expected {exp.shape}"
    if case.check_dtype:
        assert act_dtype == exp.dtype, \
            f"{case.name}{what}: dtype {act_dtype} != expected {exp.dtype}"
    if exp.dtype.kind in "biu" or exp.size == 0:
        np.testing.assert_array_equal(act, exp, err_msg=f"{case.name}{what}")
        return
    rtol, atol = case.tolerance(exp.dtype)
    a64 = act.astype(np.complex128 if exp.dtype.kind == "c" else np.float64)
    e64 = exp.astype(np.complex128 if exp.dtype.kind == "c" else np.float64)
    if exp.dtype.kind == "c":
        for part in (np.real, np.imag):
            _close_real(part(a64), part(e64), rtol, atol, case, what)
    else:
        _close_real(a64, e64, rtol, atol, case, what)


def _close_real(a: np.ndarray, e: np.ndarray, rtol: float, atol: float, case: OpCase,
                what: str) -> None:
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    bad = nan_a != nan_e
    assert not bad.any(), (f"{case.name}{what}: NaN mismatch at {np.argwhere(bad)[:5].tolist()}: "
                           f"got {a[bad][:5]}, expected {e[bad][:5]}")
    inf_e = np.isinf(e)
    assert (a[inf_e] == e[inf_e]).all(), (f"{case.name}{what}: inf mismatch: got {a[inf_e][:5]},"
                                          f" expected {e[inf_e][:5]}")
    ok = ~(nan_e | inf_e)
    np.testing.assert_allclose(a[ok], e[ok], rtol=rtol, atol=atol,
                               err_msg=f"{case.name}{what}")


def dtype_supports(case: OpCase, name: str) -> bool:
    return name in case.dtypes


def fits(value: float) -> bool:
    return math.isfinite(value)


def run_with_cpu_devices(code: str, n: int, timeout: float = 180) -> "subprocess.CompletedProcess":
    """Run ``code`` (dedented) in a fresh interpreter with ``n`` virtual CPU devices (the
    device count is fixed when the runtime starts, so it needs its own process), from the
    repository root with this checkout first on the path."""
    import os
    import subprocess
    import sys
    import textwrap

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                          + f" --xla_force_host_platform_device_count={n}").strip(),
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)
