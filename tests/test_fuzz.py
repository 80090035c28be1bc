"""Fuzzing the front door: generated argument trees for eager and compiled calls of a few op
families. Every outcome is a correct result (checked against NumPy) or an xfront error; any
other exception type fails. Cases that could crash the process (consumed and foreign
buffers, odd DLPack layouts) run in a subprocess, so an abort or a hang is seen."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xfront as xf

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64", "complex64", "complex128"]  # bfloat16: a layout
# ``XFRONT_FUZZ_EXAMPLES=N`` runs N fresh (random) examples per test instead of the 30 fixed
# ones of the default run (e.g. 500 for a long fuzzing session).
_EXAMPLES = int(os.environ.get("XFRONT_FUZZ_EXAMPLES", "0"))
_SETTINGS = settings(max_examples=_EXAMPLES or 30, deadline=None, derandomize=not _EXAMPLES,
                     suppress_health_check=list(HealthCheck))


@st.composite
def odd_array(draw):
    """A NumPy array of any dtype with an odd layout: 0-d, zero-size, strided, transposed,
    reversed, read-only, non-native byte order, or plain."""
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    x = draw(hnp.arrays(np.dtype(dtype), shape,
                        elements={"allow_nan": False, "allow_infinity": False,
                                  "min_value": -100, "max_value": 100}
                        if np.dtype(dtype).kind in "fc" else None))
    layout = draw(st.sampled_from(["plain", "T", "reversed", "strided", "readonly", "swapped",
                                   "bf16"]))
    if layout == "T":
        x = x.T
    elif layout == "reversed" and x.ndim:
        x = x[::-1]
    elif layout == "strided" and x.ndim:
        x = np.repeat(x, 2, axis=0)[::2]
    elif layout == "readonly":
        x = x.copy()
        x.flags.writeable = False
    elif layout == "swapped" and x.dtype.itemsize > 1 and x.dtype.kind != "c":
        x = x.astype(x.dtype.newbyteorder())
    elif layout == "bf16" and x.dtype.kind == "f":
        x = x.astype(ml_dtypes.bfloat16)
    return x


junk = st.sampled_from([None, "abc", object(), b"xy", {1, 2}, slice(1), Ellipsis])
scalars = st.one_of(st.booleans(), st.integers(-2**70, 2**70), st.floats(-1e6, 1e6),
                    st.complex_numbers(max_magnitude=1e3, allow_nan=False))
leaf = st.one_of(odd_array(), odd_array(), scalars, junk)
tree = st.recursive(leaf, lambda ch: st.one_of(st.lists(ch, max_size=3),
                                               st.dictionaries(st.sampled_from("ab"), ch,
                                                               max_size=2)), max_leaves=4)

# op family -> (xfront function, NumPy reference, number of arguments)
FAMILIES = {
    "add": (xf.add, np.add, 2),
    "multiply": (xf.multiply, np.multiply, 2),
    "maximum": (xf.maximum, np.maximum, 2),
    "negative": (xf.negative, np.negative, 1),
    "sin": (xf.sin, np.sin, 1),
    "sum": (xf.sum, np.sum, 1),
    "matmul": (xf.matmul, np.matmul, 2),
}
_COMPILED = {name: xf.compile(fn) for name, (fn, _, _) in FAMILIES.items()}


def _tol(d: np.dtype) -> float:
    return {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-4, "complex64": 1e-4}.get(
        str(d), 1e-8)


def _check(name: str, got, args) -> None:
    """``got`` succeeded: it must equal NumPy's answer on the same (array) inputs."""
    _, ref, _ = FAMILIES[name]
    got = np.asarray(got)
    np_args = [np.asarray(a, dtype=np.float32) if isinstance(a, np.ndarray)
               and a.dtype == ml_dtypes.bfloat16 else a for a in args]
    try:
        with np.errstate(all="ignore"):
            want = np.asarray(ref(*np_args))
    except Exception:
        return  # NumPy has no answer to compare with (xfront may accept more)
    assert got.shape == want.shape, (name, got.shape, want.shape)
    if got.dtype.kind in "iub" and want.dtype.kind in "iub":
        # integer arithmetic wraps in both; compare modulo the result width
        bits = got.dtype.itemsize * 8
        np.testing.assert_array_equal(got.astype(np.uint64) % (1 << min(bits, 63)),
                                      want.astype(got.dtype).astype(np.uint64)
                                      % (1 << min(bits, 63)))
        return
    if got.dtype.kind not in "fc" or want.dtype.kind not in "fciub":
        return
    tol = max(_tol(got.dtype), _tol(want.dtype) if want.dtype.kind in "fc" else 0)
    g = got.astype(np.complex128)
    w = want.astype(np.complex128)
    finite = np.isfinite(g) & np.isfinite(w)
    scale = np.abs(w[finite]).max(initial=1.0) * (4 if name in ("sum", "matmul") else 1)
    np.testing.assert_allclose(g[finite], w[finite], rtol=tol, atol=tol * scale)


def _outcome(name: str, mode: str, args) -> None:
    fn = FAMILIES[name][0] if mode == "eager" else _COMPILED[name]
    try:
        got = fn(*args)
    except xf.XfrontError:
        return  # a clear xfront error is an accepted outcome
    except Exception as e:  # anything else is a bug
        pytest.fail(f"{mode} xfront.{name}{tuple(type(a).__name__ for a in args)} raised "
                    f"{type(e).__module__}.{type(e).__name__}: {e}")
    if all(isinstance(a, (np.ndarray, bool, int, float, complex)) for a in args):
        _check(name, got, args)


@pytest.mark.filterwarnings("ignore::xfront.RecompileWarning")
@pytest.mark.parametrize("mode", ["eager", "compiled"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_front_door(name, mode):
    nargs = FAMILIES[name][2]

    @_SETTINGS
    @given(st.lists(st.one_of(leaf, leaf, tree), min_size=nargs, max_size=nargs))
    def run(args):
        _outcome(name, mode, args)

    run()


# --- crash-prone cases, in a subprocess -----------------------------------------------------------

_CHILD = textwrap.dedent(r"""
    import sys
    import numpy as np
    import torch
    import jax.numpy as jnp
    from hypothesis import given, settings, HealthCheck, strategies as st
    import xfront as xf

    ENTRY = [lambda x: xf.sin(x), lambda x: xf.compile(lambda a: a * 2)(x),
             lambda x: np.asarray(x), lambda x: xf.to_torch(x), lambda x: xf.to_jax(x),
             lambda x: xf.to_numpy(x), lambda x: x.__dlpack__(), lambda x: xf.from_dlpack(x),
             lambda x: xf.vjp(xf.sin, x), lambda x: x.__dlpack_device__(),
             lambda x: xf.asarray(x, copy=True)]

    def make(kind, shape, perm):
        t = torch.arange(float(np.prod(shape)), dtype=torch.float32).reshape(shape)
        t = t.permute(*perm) if len(perm) == t.ndim else t
        if kind == "torch":
            return xf.asarray(t), t.numpy()
        if kind == "moved":
            x = xf.asarray(t.contiguous().numpy()) * 1
            xf.to_torch(x)
            return x, None
        if kind == "donated":
            x = xf.asarray(t.contiguous().numpy()) * 1
            xf.compile(lambda a: a + 1, donate_argnums=0)(x)
            return x, None
        if kind == "jax-deleted":
            j = jnp.asarray(t.contiguous().numpy())
            x = xf.asarray(j)
            j.delete()
            return x, None
        j = jnp.asarray(t.contiguous().numpy())
        return xf.asarray(j), np.asarray(j)

    @settings(max_examples=int(sys.argv[1]), deadline=None, derandomize=sys.argv[2] == "fixed",
              suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(["torch", "moved", "donated", "jax-deleted", "jax"]),
           st.sampled_from([(2, 3), (3, 1, 2), (0, 2), (4,)]),
           st.permutations([0, 1, 2]), st.integers(0, len(ENTRY) - 1))
    def run(kind, shape, perm, i):
        x, want = make(kind, shape, perm[:len(shape)] if len(shape) == 3 else ())
        try:
            out = ENTRY[i](x)
        except xf.XfrontError:
            assert want is None or i in (3,), (kind, i)  # live arrays only fail by design
            return
        assert want is not None, f"entry {i} accepted a {kind} array"

    run()
    print("FUZZ-OK")
""")


@pytest.mark.slow
def test_crash_prone_cases_in_a_subprocess():
    pytest.importorskip("torch")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", _CHILD, str(_EXAMPLES or 80),
                        "random" if _EXAMPLES else "fixed"], capture_output=True, text=True,
                       timeout=300 + _EXAMPLES, env=env,
                       cwd=os.path.dirname(os.path.dirname(__file__)))
    assert r.returncode == 0 and "FUZZ-OK" in r.stdout, (r.returncode, r.stdout[-2000:],
                                                         r.stderr[-4000:])


# --- what the fuzzer found ----------------------------------------------------------------------

@pytest.mark.parametrize("call,op", [
    (lambda: xf.add(128, np.zeros((), np.int8)), "add"),
    (lambda: xf.compile(lambda a: a + 300)(np.zeros(2, np.uint8)), "add"),
    (lambda: xf.asarray(2**70), "asarray"),
    (lambda: xf.full((2,), 256, dtype=xf.uint8), "full"),
    (lambda: xf.full_like(np.zeros(2, np.int8), -129), "full_like"),
    (lambda: xf.negative(2**64), "negative"),  # a bare Python int into an eager op
    (lambda: xf.sin(-(2**63) - 1), "sin"),
    (lambda: xf.sum(2**70), "sum"),
    (lambda: xf.arange(2**64), "arange"),
    (lambda: xf.arange(0, 300, dtype=xf.uint8), "arange"),
])
def test_python_int_out_of_range_is_an_xfront_overflow_error(call, op):
    # found by test_front_door: a bare OverflowError without the op's name escaped
    with pytest.raises(xf.XfOverflowError, match=rf"xfront\.{op}: Python integer -?\d+ is out of "
                                                 r"bounds for u?int\d+ \(valid range"):
        call()
    assert issubclass(xf.XfOverflowError, OverflowError)


@pytest.mark.parametrize("call,op,arg", [
    (lambda a: xf.sin(a), "sin", "x"),
    (lambda a: xf.add(False, a), "add", "x2"),
    (lambda a: xf.sum(a), "sum", "x"),
    (lambda a: xf.matmul(a, a), "matmul", "x1"),
])
def test_non_native_byte_order_into_an_eager_op_is_a_dtype_error(call, op, arg):
    # found by test_front_door (a long run): eager ops raised a bare TypeError from the dtype
    # table for big-endian NumPy arrays (compiled calls already raised DTypeError)
    for a in (np.array(0, ">i4"), np.array([1.5, 2.0], ">f8")):
        with pytest.raises(xf.DTypeError, match=rf"xfront\.{op}: {arg} has NumPy dtype >[if]\d, "
                                                 r"which xfront does not support\nHint: it is a "
                                                 r"(int32|float64) in non-native byte order"):
            call(a)


def test_asarray_converts_non_native_byte_order():
    for a in (np.array(3, ">i4"), np.array([1.5, -2.0], ">f8"), np.array([[1, 2]], ">u2")):
        x = xf.asarray(a)
        assert np.dtype(np.asarray(x).dtype) == a.dtype.newbyteorder("=")
        np.testing.assert_array_equal(np.asarray(x), a)


def test_sequences_of_non_native_or_unsupported_arrays_into_an_eager_op():
    # found by test_front_door (a long run): xf.maximum(False, [array(0, '>i2')]) raised a bare
    # TypeError from the dtype table; a sequence's values are now taken in native byte order
    out = xf.maximum(False, [np.array(3, ">i2")])
    assert out.dtype == xf.int16 and np.asarray(out).tolist() == [3]
    np.testing.assert_array_equal(np.asarray(xf.add([np.array(1.5, ">f8")], 1.0)), [2.5])
    if np.dtype(np.longdouble).itemsize > 8:  # an extended-precision long double
        with pytest.raises(xf.DTypeError, match=r"xfront\.sin: x is a sequence of NumPy dtype "
                                                 r"float\d+, which xfront does not support"):
            xf.sin([np.longdouble(1)])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_python_int_beyond_int64_with_a_floating_dtype():
    # found by test_front_door (a long run): xf.maximum(bfloat16 array, 2**63) raised
    # ml_dtypes' bare "TypeError: expected number, got int"; an int too large for a float
    # raised a bare OverflowError
    bf = np.array(0, ml_dtypes.bfloat16)
    for got, want in [(xf.maximum(bf, 2**63), 2.0**63), (xf.add(bf, -2**70), -2.0**70),
                      (xf.asarray(2**63, dtype=xf.bfloat16), 2.0**63),
                      (xf.full((2,), 2**64, dtype=xf.bfloat16), 2.0**64),
                      (xf.full_like(bf, 2**63), 2.0**63),
                      (xf.compile(lambda a: xf.maximum(a, 2**63))(bf), 2.0**63),
                      (xf.add(xf.ones(2, dtype=xf.float16), 2**63), np.inf)]:
        np.testing.assert_array_equal(np.asarray(got).astype(np.float64), want)
    for call, op in [(lambda: xf.asarray(2**1100, dtype=xf.float32), "asarray"),
                     (lambda: xf.add(xf.ones(2), 2**1100), "add")]:
        with pytest.raises(xf.XfOverflowError, match=rf"xfront\.{op}: Python integer \d+ is too "
                                                      r"large to convert to float(32|64)"):
            call()
