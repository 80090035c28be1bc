"""The op table: one OpCase row per public xfront function (see tests/_harness.py).

Rows are grouped by Array API section. A new function needs one row here; test_ops.py turns it
into eager, compiled, traced-aval, reference-interpreter, special-value and error tests.
Other tables (op_db_*.py) are concatenated into OPS at the bottom.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xfront as xf
from tests._harness import (ALL, BOOL, COMPLEX, FLOATS, INTS, NUMERIC, REAL_FLOATS, REAL_NUMERIC,
                            SIGNED, UNSIGNED, A, ErrorCase, OpCase)

# inputs used for floating functions: floats plus the integer/bool dtypes that promote
FLOAT_IN = FLOATS + ("bool", "int8", "int16", "int32", "uint8", "uint64")
REAL_FLOAT_IN = REAL_FLOATS + ("bool", "int8", "int16", "int32", "uint8", "uint64")


def _recip(x):
    if x.dtype.kind in "biu":
        x = x.astype(np.result_type(x.dtype, np.float16))
    return np.reciprocal(x)


def _rsqrt(x):
    if x.dtype.kind in "biu":
        x = x.astype(np.result_type(x.dtype, np.float16))
    return (1 / np.sqrt(x)).astype(x.dtype)


def _floor_divide_std(x1, x2):
    """NumPy's floor_divide with the standard's special cases where they differ: +-inf //
    finite nonzero is +-inf, and finite // +-inf is a signed zero (both x1 / x2)."""
    out = np.floor_divide(x1, x2)
    if out.dtype.kind == "f" or str(out.dtype) == "bfloat16":
        with np.errstate(all="ignore"):
            q = np.divide(x1, x2)
            a_inf = np.isinf(x1) & np.isfinite(x2) & (x2 != 0)
            b_inf = np.isfinite(x1) & np.isinf(x2)
            out = np.where(a_inf | b_inf, q, out).astype(out.dtype)
    return out


def _cast_like_numpy_float(fn):
    def ref(*xs):
        ys = [x.astype(np.result_type(x.dtype, np.float16)) if x.dtype.kind in "biu" else x
              for x in xs]
        out = fn(*ys)
        return np.asarray(out).astype(np.result_type(*[y.dtype for y in ys]))
    return ref


def _special(name):
    def ref(x):
        from scipy import special

        return _cast_like_numpy_float(getattr(special, name))(x)
    ref.__name__ = name
    return ref


def _lgamma(x):
    # C99/IEEE lgamma: lgamma(-inf) = +inf (scipy's gammaln gives -inf there)
    out = _special("gammaln")(x)
    return np.where(np.isneginf(x), np.inf, out).astype(out.dtype)


def _shift_elements(dtype, index):
    dtype = np.dtype(dtype)
    bits = dtype.itemsize * 8
    if index == 1:
        return st.integers(0, bits - 1)
    info = np.iinfo(dtype)
    return st.integers(max(int(info.min), -1000), min(int(info.max), 1000))


def _pow_elements(dtype, index):
    dtype = np.dtype(dtype) if dtype != "bfloat16" else dtype
    if getattr(dtype, "kind", "f") in "iu":
        return st.integers(0, 5) if index == 1 else st.integers(
            max(-4, int(np.iinfo(dtype).min)), 4)
    width = 16 if dtype == np.float16 else (64 if dtype == np.float64 else 32)
    return st.floats(0.125, 3.0, width=width)  # bounds exact in every float width


def _no_complex_zero(dtype, index):
    if np.dtype(dtype).kind != "c":
        return None
    width = 32 if np.dtype(dtype) == np.complex64 else 64
    part = st.floats(-3, 3, width=width, allow_subnormal=False)
    return st.builds(complex, part, part).filter(lambda z: abs(z) > 1e-3)


def _nonzero_elements(dtype, index):
    dtype = np.dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = max(int(info.min), -50), min(int(info.max), 50)
        return st.integers(lo, hi)
    width = 16 if dtype == np.float16 else (64 if dtype == np.float64 else 32)
    return st.one_of(st.floats(-20, 20, width=width), st.sampled_from([0.0, -0.0, 7.0, -7.0]))


# --- element-wise ---------------------------------------------------------------------------

ELEMENTWISE = [
    # arithmetic
    OpCase("add", xf.add, np.add, ALL, nargs=2, shapes="broadcast"),
    OpCase("subtract", xf.subtract, np.subtract, NUMERIC, nargs=2, shapes="broadcast",
           errors=(ErrorCase((A((3,), "bool"), A((3,), "bool")), raises=TypeError,
                             match=r"xfront\.subtract: expected numeric input, got bool\[3\]"),)),
    OpCase("multiply", xf.multiply, np.multiply, ALL, nargs=2, shapes="broadcast"),
    OpCase("divide", xf.divide, np.divide, FLOATS + ("int8", "int32", "uint8", "bool"), nargs=2,
           shapes="broadcast"),
    OpCase("floor_divide", xf.floor_divide, _floor_divide_std, REAL_NUMERIC, nargs=2,
           shapes="broadcast", elements=_nonzero_elements,
           tol={"float16": (4e-3, 4e-3), "bfloat16": (2e-2, 1.0)}),
    OpCase("remainder", xf.remainder, np.remainder, REAL_NUMERIC, nargs=2, shapes="broadcast",
           elements=_nonzero_elements,
           tol={"float16": (4e-3, 2e-2), "bfloat16": (2e-2, 0.2), "float32": (1e-5, 1e-5)}),
    OpCase("pow", xf.pow, np.power, NUMERIC, nargs=2, shapes="broadcast",
           elements=_pow_elements, specials=False),
    OpCase("negative", xf.negative, np.negative, NUMERIC),
    OpCase("positive", xf.positive, np.positive, NUMERIC),
    OpCase("abs", xf.abs, np.abs, NUMERIC,
           errors=(ErrorCase((A((2,), "bool"),), raises=TypeError,
                             match=r"xfront\.abs: expected numeric input, got bool\[2\]"),)),
    OpCase("sign", xf.sign, np.sign, NUMERIC, tol={"complex64": (3e-5, 1e-6)}),
    OpCase("square", xf.square, np.square, NUMERIC),
    # complex 1/0 is a complex infinity in C99 (XLA) but nan+nanj in NumPy: not drawn
    OpCase("reciprocal", xf.reciprocal, _recip, FLOAT_IN, elements=_no_complex_zero),
    OpCase("maximum", xf.maximum, np.maximum, BOOL + REAL_NUMERIC, nargs=2,
           shapes="broadcast",
           errors=(ErrorCase((A((2,), "complex64"), A((2,), "complex64")), raises=TypeError,
                             match=r"xfront\.maximum: expected .* input, got c64\[2\]"),)),
    OpCase("minimum", xf.minimum, np.minimum, BOOL + REAL_NUMERIC, nargs=2, shapes="broadcast"),
    # exponentials and logarithms
    OpCase("exp", xf.exp, np.exp, FLOAT_IN),
    OpCase("exp2", xf.exp2, np.exp2, FLOAT_IN),
    OpCase("expm1", xf.expm1, np.expm1, FLOAT_IN),
    OpCase("log", xf.log, np.log, FLOAT_IN, domain=(0.01, 10.0)),
    OpCase("log1p", xf.log1p, np.log1p, FLOAT_IN, domain=(-0.9, 10.0)),
    OpCase("log2", xf.log2, np.log2, FLOAT_IN, domain=(0.01, 10.0)),
    OpCase("log10", xf.log10, np.log10, FLOAT_IN, domain=(0.01, 10.0)),
    OpCase("logaddexp", xf.logaddexp, np.logaddexp, REAL_FLOAT_IN, nargs=2, shapes="broadcast"),
    OpCase("sqrt", xf.sqrt, np.sqrt, FLOAT_IN, domain=(0.0, 10.0)),
    OpCase("rsqrt", xf.rsqrt, _rsqrt, REAL_FLOATS, domain=(0.01, 10.0)),
    OpCase("cbrt", xf.cbrt, np.cbrt, REAL_FLOATS),
    OpCase("hypot", xf.hypot, np.hypot, REAL_FLOAT_IN, nargs=2, shapes="broadcast"),
    # trigonometry
    OpCase("sin", xf.sin, np.sin, FLOAT_IN),
    OpCase("cos", xf.cos, np.cos, FLOAT_IN),
    OpCase("tan", xf.tan, np.tan, FLOAT_IN, domain=(-1.4, 1.4)),
    OpCase("asin", xf.asin, np.arcsin, FLOAT_IN, domain=(-1.0, 1.0)),
    OpCase("acos", xf.acos, np.arccos, FLOAT_IN, domain=(-1.0, 1.0)),
    OpCase("atan", xf.atan, np.arctan, FLOAT_IN),
    OpCase("atan2", xf.atan2, np.arctan2, REAL_FLOAT_IN, nargs=2, shapes="broadcast"),
    OpCase("sinh", xf.sinh, np.sinh, FLOAT_IN),
    OpCase("cosh", xf.cosh, np.cosh, FLOAT_IN),
    OpCase("tanh", xf.tanh, np.tanh, FLOAT_IN),
    OpCase("asinh", xf.asinh, np.arcsinh, FLOAT_IN),
    OpCase("acosh", xf.acosh, np.arccosh, FLOAT_IN, domain=(1.0, 10.0)),
    OpCase("atanh", xf.atanh, np.arctanh, FLOAT_IN, domain=(-0.99, 0.99)),
    # special functions (xfront extensions)
    OpCase("sigmoid", xf.sigmoid, _cast_like_numpy_float(lambda x: 1 / (1 + np.exp(-x))),
           REAL_FLOATS),
    OpCase("erf", xf.erf, _special("erf"), REAL_FLOATS),
    OpCase("erfinv", xf.erfinv, _special("erfinv"), REAL_FLOATS, domain=(-0.99, 0.99),
           tol={"float32": (1e-4, 1e-5)}),
    OpCase("lgamma", xf.lgamma, _lgamma, REAL_FLOATS, domain=(0.1, 8.0),
           tol={"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-10)}),
    OpCase("digamma", xf.digamma, _special("digamma"), REAL_FLOATS, domain=(0.1, 8.0),
           tol={"float32": (1e-4, 1e-5), "float64": (1e-9, 1e-10)}),
    # rounding
    OpCase("floor", xf.floor, np.floor, REAL_NUMERIC),
    OpCase("ceil", xf.ceil, np.ceil, REAL_NUMERIC),
    OpCase("trunc", xf.trunc, np.trunc, REAL_NUMERIC),
    OpCase("round", xf.round, np.round, NUMERIC, domain=(-10, 10)),
    # comparisons
    OpCase("equal", xf.equal, np.equal, ALL, nargs=2, shapes="broadcast"),
    OpCase("not_equal", xf.not_equal, np.not_equal, ALL, nargs=2, shapes="broadcast"),
    OpCase("less", xf.less, np.less, BOOL + REAL_NUMERIC, nargs=2, shapes="broadcast"),
    OpCase("less_equal", xf.less_equal, np.less_equal, BOOL + REAL_NUMERIC, nargs=2,
           shapes="broadcast"),
    OpCase("greater", xf.greater, np.greater, BOOL + REAL_NUMERIC, nargs=2, shapes="broadcast"),
    OpCase("greater_equal", xf.greater_equal, np.greater_equal, BOOL + REAL_NUMERIC, nargs=2,
           shapes="broadcast",
           errors=(ErrorCase((A((3, 4)), A((5,))), raises=ValueError,
                             match=r"xfront\.greater_equal: cannot broadcast shapes \(3, 4\) "
                                   r"and \(5,\): axis -1 has size 4 vs 5"),)),
    # classification
    OpCase("isnan", xf.isnan, np.isnan, ALL),
    OpCase("isinf", xf.isinf, np.isinf, ALL),
    OpCase("isfinite", xf.isfinite, np.isfinite, ALL),
    OpCase("signbit", xf.signbit, np.signbit, BOOL + REAL_NUMERIC),
    OpCase("copysign", xf.copysign, np.copysign, REAL_FLOAT_IN, nargs=2, shapes="broadcast"),
    OpCase("nextafter", xf.nextafter, np.nextafter, ("float32", "float64"), nargs=2,
           shapes="broadcast"),
    # complex parts
    OpCase("real", xf.real, np.real, NUMERIC),
    OpCase("imag", xf.imag, np.imag, NUMERIC),
    OpCase("conj", xf.conj, np.conj, NUMERIC),
    # logical
    OpCase("logical_and", xf.logical_and, np.logical_and, ALL, nargs=2, shapes="broadcast"),
    OpCase("logical_or", xf.logical_or, np.logical_or, ALL, nargs=2, shapes="broadcast"),
    OpCase("logical_xor", xf.logical_xor, np.logical_xor, ALL, nargs=2, shapes="broadcast"),
    OpCase("logical_not", xf.logical_not, np.logical_not, ALL),
    # bitwise
    OpCase("bitwise_and", xf.bitwise_and, np.bitwise_and, BOOL + INTS, nargs=2,
           shapes="broadcast",
           errors=(ErrorCase((A((2,), "float32"), A((2,), "float32")), raises=TypeError,
                             match=r"xfront\.bitwise_and: expected integer or boolean input"),)),
    OpCase("bitwise_or", xf.bitwise_or, np.bitwise_or, BOOL + INTS, nargs=2, shapes="broadcast"),
    OpCase("bitwise_xor", xf.bitwise_xor, np.bitwise_xor, BOOL + INTS, nargs=2,
           shapes="broadcast"),
    OpCase("bitwise_invert", xf.bitwise_invert, np.invert, BOOL + INTS),
    OpCase("bitwise_left_shift", xf.bitwise_left_shift, np.left_shift, INTS, nargs=2,
           shapes="broadcast", elements=_shift_elements),
    OpCase("bitwise_right_shift", xf.bitwise_right_shift, np.right_shift, INTS, nargs=2,
           shapes="broadcast", elements=_shift_elements),
    OpCase("bitwise_count", xf.bitwise_count, np.bitwise_count, INTS, int_domain=(-1000, 1000)),
    # clip: scalar bounds and array bounds
    OpCase("clip", lambda x, **kw: xf.clip(x, **kw), lambda x, **kw: np.clip(x, **kw),
           REAL_NUMERIC,
           kwargs=({"min": 0, "max": 2}, {"min": -1}, {"max": 1}, {})),
]


# --- statistical & utility --------------------------------------------------------------------

def _axis_kwargs(extra=None, allow_none=True, allow_tuple=True, keepdims=True):
    def make(shapes):
        nd = len(shapes[0])
        options = []
        if allow_none:
            options.append(st.none())
        if nd:
            options.append(st.integers(-nd, nd - 1))
            if allow_tuple:
                options.append(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd)
                               .map(tuple))
        axis = st.one_of(*options) if options else st.none()
        d = {"axis": axis}
        if keepdims:
            d["keepdims"] = st.booleans()
        for k, v in (extra or {}).items():
            d[k] = v
        return st.fixed_dictionaries(d)

    return make


def _nonempty_shapes(nargs):
    return hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4).map(
        lambda s: (s,) * nargs)


def _np_sum(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims)


def _np_mean(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims,
                   dtype=None if x.dtype.kind in "fc" else np.float64)


def _np_var(x, axis=None, keepdims=False, correction=0.0):
    return np.var(x, axis=axis, keepdims=keepdims, ddof=correction,
                  dtype=None if x.dtype.kind in "fc" else np.float64)


def _np_std(x, axis=None, keepdims=False, correction=0.0):
    return np.std(x, axis=axis, keepdims=keepdims, ddof=correction,
                  dtype=None if x.dtype.kind in "fc" else np.float64)


def _np_cumsum(x, axis=None, include_initial=False):
    out = np.cumsum(x.reshape(-1) if x.ndim == 0 else x, axis=axis if axis is not None else 0)
    if include_initial:
        a = (axis or 0) % out.ndim
        zeros = np.zeros(tuple(1 if i == a else s for i, s in enumerate(out.shape)), out.dtype)
        out = np.concatenate([zeros, out], axis=a)
    return out


def _np_cumprod(x, axis=None, include_initial=False):
    out = np.cumprod(x.reshape(-1) if x.ndim == 0 else x, axis=axis if axis is not None else 0)
    if include_initial:
        a = (axis or 0) % out.ndim
        ones = np.ones(tuple(1 if i == a else s for i, s in enumerate(out.shape)), out.dtype)
        out = np.concatenate([ones, out], axis=a)
    return out


def _cum_kwargs(shapes):
    nd = len(shapes[0])
    axis = st.integers(-nd, nd - 1) if nd > 1 else st.sampled_from([None, 0] if nd else [None])
    return st.fixed_dictionaries({"axis": axis, "include_initial": st.booleans()})


_RED_TOL = {"float16": (2e-2, 2e-2), "bfloat16": (5e-2, 0.25), "float32": (1e-5, 1e-5),
            "complex64": (1e-5, 1e-5)}

STATISTICAL = [
    OpCase("sum", xf.sum, _np_sum, ALL, kwargs=_axis_kwargs(), tol=_RED_TOL),
    OpCase("prod", xf.prod, lambda x, axis=None, keepdims=False: np.prod(x, axis=axis,
                                                                       keepdims=keepdims),
           ALL, kwargs=_axis_kwargs(), domain=(-2, 2), int_domain=(-3, 3), tol=_RED_TOL),
    OpCase("max", xf.max, lambda x, **kw: np.max(x, **kw), BOOL + REAL_NUMERIC,
           kwargs=_axis_kwargs(), shapes=_nonempty_shapes,
           errors=(ErrorCase((A((0, 3)),), {"axis": 0}, raises=ValueError,
                             match=r"xfront\.max: zero-size reduction over axes \(0,\) of "
                                   r"f32\[0,3\], which has no identity"),
                   ErrorCase((A((2, 3)),), {"axis": 2}, raises=ValueError,
                             match=r"xfront\.max: axis 2 is out of bounds for an array of "
                                   r"dimension 2"))),
    OpCase("min", xf.min, lambda x, **kw: np.min(x, **kw), BOOL + REAL_NUMERIC,
           kwargs=_axis_kwargs(), shapes=_nonempty_shapes),
    OpCase("mean", xf.mean, _np_mean, NUMERIC + BOOL, kwargs=_axis_kwargs(), tol=_RED_TOL),
    OpCase("var", xf.var, _np_var, REAL_NUMERIC + COMPLEX,
           kwargs=_axis_kwargs({"correction": st.sampled_from([0, 1])}), tol=_RED_TOL),
    OpCase("std", xf.std, _np_std, REAL_NUMERIC,
           kwargs=_axis_kwargs({"correction": st.sampled_from([0, 1])}), tol=_RED_TOL),
    OpCase("cumulative_sum", xf.cumulative_sum, _np_cumsum, NUMERIC + BOOL, kwargs=_cum_kwargs,
           tol=_RED_TOL),
    OpCase("cumulative_prod", xf.cumulative_prod, _np_cumprod, NUMERIC + BOOL,
           kwargs=_cum_kwargs, domain=(-2, 2), int_domain=(-3, 3), tol=_RED_TOL),
    OpCase("any", xf.any, lambda x, **kw: np.any(x, **kw), ALL, kwargs=_axis_kwargs()),
    OpCase("all", xf.all, lambda x, **kw: np.all(x, **kw), ALL, kwargs=_axis_kwargs()),
    OpCase("argmax", xf.argmax, lambda x, **kw: np.argmax(x, **kw), BOOL + REAL_NUMERIC,
           kwargs=_axis_kwargs(allow_tuple=False), shapes=_nonempty_shapes),
    OpCase("argmin", xf.argmin, lambda x, **kw: np.argmin(x, **kw), BOOL + REAL_NUMERIC,
           kwargs=_axis_kwargs(allow_tuple=False), shapes=_nonempty_shapes),
    OpCase("count_nonzero", xf.count_nonzero, lambda x, **kw: np.asarray(
        np.count_nonzero(x, **kw), dtype=np.int64), ALL, kwargs=_axis_kwargs()),
    OpCase("where", xf.where, np.where, ALL, nargs=3, shapes="broadcast", same_dtype=False,
           arg_dtype=lambda d, i: "bool" if i == 0 else None),
]


# --- linear algebra ---------------------------------------------------------------------------

@st.composite
def _matmul_shapes(draw, nargs):
    n, k, m = draw(st.integers(0, 4)), draw(st.integers(0, 4)), draw(st.integers(0, 4))
    batch = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    kind = draw(st.sampled_from(["mm", "vm", "mv", "vv"]))
    a = (k,) if kind in ("vm", "vv") else batch.input_shapes[0] + (n, k)
    b = (k,) if kind in ("mv", "vv") else batch.input_shapes[1] + (k, m)
    return a, b


@st.composite
def _tensordot_case(draw, nargs):
    shape_a = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    n = draw(st.integers(0, len(shape_a)))
    rest = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    return shape_a, tuple(shape_a[len(shape_a) - n:]) + rest


def _tensordot_kwargs(shapes):
    a, b = shapes
    n = 0
    for i in range(min(len(a), len(b)), -1, -1):
        if tuple(a[len(a) - i:]) == tuple(b[:i]):
            n = i
            break
    return st.just({"axes": n})


_MM_TOL = {"float16": (1e-2, 1e-2), "bfloat16": (5e-2, 0.1), "float32": (1e-5, 1e-5),
           "complex64": (1e-5, 1e-5)}

LINALG = [
    OpCase("matmul", xf.matmul, np.matmul, NUMERIC, nargs=2, shapes=_matmul_shapes,
           specials=False, tol=_MM_TOL,
           errors=(ErrorCase((A((3, 4)), A((5, 6))), raises=ValueError,
                             match=r"xfront\.matmul: x1 has shape \(3, 4\) and x2 has shape "
                                   r"\(5, 6\); the contracted dimensions must match "
                                   r"\(x1\.shape\[-1\] = 4, x2\.shape\[-2\] = 5\)"),
                   ErrorCase((A(()), A((3,))), raises=ValueError,
                             match=r"xfront\.matmul: operands must be at least 1-D"))),
    OpCase("tensordot", xf.tensordot, np.tensordot, NUMERIC, nargs=2, shapes=_tensordot_case,
           kwargs=_tensordot_kwargs, specials=False, tol=_MM_TOL),
    OpCase("vecdot", xf.vecdot, np.vecdot,
           NUMERIC, nargs=2, shapes=lambda n: hnp.array_shapes(min_dims=1, max_dims=3,
                                                               max_side=4).map(lambda s: (s, s)),
           specials=False, tol=_MM_TOL),
    OpCase("matrix_transpose", xf.matrix_transpose, lambda x: np.swapaxes(x, -1, -2), ALL,
           shapes=lambda n: hnp.array_shapes(min_dims=2, max_dims=4, max_side=4).map(
               lambda s: (s,))),
]


# --- manipulation -----------------------------------------------------------------------------

def _perm_kwargs(shapes):
    nd = len(shapes[0])
    return st.permutations(list(range(nd))).map(lambda p: {"axes": tuple(p)})


def _reshape_kwargs(shapes):
    s = shapes[0]
    size = int(np.prod(s))
    cands = [(size,), (-1,), (1, size), (size, 1), s[::-1] if size else (0,)]
    if size and size % 2 == 0:
        cands += [(2, -1), (size // 2, 2)]
    return st.sampled_from(cands).map(lambda t: {"shape": t})


def _squeeze_shapes(nargs):
    return hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=3).map(
        lambda s: (s + (1,),))


MANIPULATION = [
    OpCase("reshape", xf.reshape, lambda x, shape: np.reshape(x, shape), ALL,
           kwargs=_reshape_kwargs,
           errors=(ErrorCase((A((2, 3)),), {"shape": (4, 2)}, raises=ValueError,
                             match=r"xfront\.reshape: cannot reshape f32\[2,3\] \(size 6\) into "
                                   r"\(4, 2\)"),)),
    OpCase("permute_dims", xf.permute_dims, lambda x, axes: np.transpose(x, axes), ALL,
           kwargs=_perm_kwargs,
           errors=(ErrorCase((A((2, 3)),), {"axes": (0, 0)}, raises=ValueError,
                             match=r"xfront\.permute_dims: axes \(0, 0\) are not a permutation"),)),
    OpCase("expand_dims", xf.expand_dims, lambda x, axis: np.expand_dims(x, axis), ALL,
           kwargs=lambda sh: st.integers(-len(sh[0]) - 1, len(sh[0])).map(
               lambda a: {"axis": a})),
    OpCase("squeeze", xf.squeeze, lambda x, axis: np.squeeze(x, axis), ALL,
           shapes=_squeeze_shapes, kwargs=lambda sh: st.just({"axis": -1}),
           errors=(ErrorCase((A((2, 3)),), {"axis": 0}, raises=ValueError,
                             match=r"xfront\.squeeze: cannot remove axis 0 of size 2"),)),
    OpCase("flip", xf.flip, lambda x, axis=None: np.flip(x, axis), ALL,
           kwargs=_axis_kwargs(keepdims=False)),
    OpCase("roll", xf.roll, lambda x, shift, axis=None: np.roll(x, shift, axis), ALL,
           kwargs=lambda sh: st.fixed_dictionaries({
               "shift": st.integers(-5, 5),
               "axis": st.none() if not sh[0] else st.one_of(
                   st.none(), st.integers(-len(sh[0]), len(sh[0]) - 1))})),
    OpCase("concat", lambda *xs, axis=0: xf.concat(list(xs), axis=axis),
           lambda *xs, axis=0: np.concatenate(xs, axis=axis), ALL, nargs=3,
           shapes=lambda n: st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3),
                                      st.integers(1, 3)).map(
               lambda t: ((t[0], t[3]), (t[1], t[3]), (t[2], t[3]))),
           kwargs=({"axis": 0}, {"axis": -2})),
    OpCase("concat_none", lambda *xs: xf.concat(list(xs), axis=None),
           lambda *xs: np.concatenate([x.reshape(-1) for x in xs]), ALL, nargs=2, same_dtype=False),
    OpCase("stack", lambda *xs, axis=0: xf.stack(list(xs), axis=axis),
           lambda *xs, axis=0: np.stack(xs, axis=axis), ALL, nargs=2, shapes="same",
           kwargs=({"axis": 0}, {"axis": -1}), same_dtype=False),
    OpCase("unstack", lambda x, axis=0: xf.unstack(x, axis=axis),
           lambda x, axis=0: tuple(np.moveaxis(x, axis, 0)), ALL,
           shapes=lambda n: hnp.array_shapes(min_dims=1, max_dims=3, max_side=3).map(
               lambda s: (s,)), kwargs=({"axis": 0}, {"axis": -1})),
    OpCase("broadcast_to", lambda x, target: xf.broadcast_to(x, target.shape),
           lambda x, target: np.broadcast_to(x, target.shape), ALL, nargs=2,
           shapes=lambda n: hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=3).map(
               lambda r: (r.input_shapes[0], r.result_shape))),
    OpCase("broadcast_arrays", lambda *xs: xf.broadcast_arrays(*xs),
           lambda *xs: list(np.broadcast_arrays(*xs)), ALL, nargs=2, shapes="broadcast"),
    OpCase("moveaxis", lambda x, source, destination: xf.moveaxis(x, source, destination),
           np.moveaxis, ALL,
           shapes=lambda n: hnp.array_shapes(min_dims=1, max_dims=4, max_side=3).map(
               lambda s: (s,)),
           kwargs=({"source": 0, "destination": -1}, {"source": -1, "destination": 0})),
    OpCase("repeat", lambda x, repeats, axis=None: xf.repeat(x, repeats, axis=axis),
           lambda x, repeats, axis=None: np.repeat(x, repeats, axis), ALL,
           kwargs=({"repeats": 2}, {"repeats": 0}, {"repeats": 3, "axis": 0})),
    OpCase("tile", lambda x, repetitions: xf.tile(x, repetitions),
           lambda x, repetitions: np.tile(x, repetitions), ALL,
           kwargs=({"repetitions": (2,)}, {"repetitions": (2, 1, 3)}, {"repetitions": (0,)})),
]


OPS: list[OpCase] = ELEMENTWISE + STATISTICAL + LINALG + MANIPULATION

# --- more tables (each in its own module) ---------------------------------------------------

# indexing and sorting
from tests.op_db_indexing import INDEXING  # noqa: E402
OPS += INDEXING

# windowed operations (xfront.nn)
from tests.op_db_nn import NN  # noqa: E402

OPS += NN

# --- extensions beyond the standard: einsum, pad ----------------------------------------------

def _einsum_valid(subscripts, shapes):
    try:
        np.einsum(subscripts, *[np.zeros(s) for s in shapes])
    except ValueError:
        return False
    return True


_EINSUM2 = ("ij,jk->ik", "ij,jk", "bij,bjk->bik", "...ij,...jk->...ik", "i,i->", "i,i", "i,j->ij",
            "ij,ij->i", "ii,ij->j", "ij,kj->ki", "ijk,jl->lik", ",i->i", "ij,j->", "ii->i")
_EINSUM3 = ("ij,jk,kl->il", "i,ij,j->", "ij,jk,ki", "bi,bj,bk->bijk")


@st.composite
def _einsum_shapes(draw, nargs):
    n, k, m, b = (draw(st.integers(0, 3)) for _ in range(4))
    if nargs == 3:
        return draw(st.sampled_from([((n, k), (k, m), (m, b)), ((n,), (n, k), (k,)),
                                     ((n, k), (k, m), (m, n)), ((b, n), (b, k), (b, m))]))
    return draw(st.sampled_from([
        ((n, k), (k, m)), ((b, n, k), (b, k, m)), ((b, 1, n, k), (k, m)), ((n,), (n,)),
        ((n,), (m,)), ((n, k), (n, k)), ((n, k), (1, k)), ((n, n), (n, k)), ((n, k), (m, k)),
        ((n, k, m), (k, b)), ((), (n,)), ((n, k), (k,))]))


def _einsum_kwargs(shapes):
    cands = _EINSUM3 if len(shapes) == 3 else _EINSUM2
    ok = [s for s in cands if s.count(",") == len(shapes) - 1 and _einsum_valid(s, shapes)]
    return st.sampled_from(ok).map(lambda s: {"subscripts": s})


def _einsum_ref(*xs, subscripts):
    out = np.einsum(subscripts, *xs)
    return np.asarray(out).astype(np.result_type(*xs))


def _pad_kwargs(shapes):
    nd = len(shapes[0])
    empty = 0 in shapes[0]
    pair = st.tuples(st.integers(0, 3), st.integers(0, 3))
    width = st.one_of(st.integers(0, 4), pair, st.tuples(pair),
                      st.tuples(*[pair] * nd) if nd else st.just(0))
    modes = ["constant"] if empty else ["constant", "edge", "reflect", "symmetric", "wrap"]
    return st.fixed_dictionaries({"pad_width": width, "mode": st.sampled_from(modes)})


EXTENSIONS = [
    OpCase("einsum", lambda *xs, subscripts: xf.einsum(subscripts, *xs), _einsum_ref,
           REAL_FLOATS + COMPLEX + ("int32", "int64"), nargs=2, shapes=_einsum_shapes,
           kwargs=_einsum_kwargs, specials=False, tol=_MM_TOL),
    # bad input (xf.einsum itself: the subscripts are the first argument)
    OpCase("einsum_errors", xf.einsum, np.einsum, (),
           errors=(ErrorCase(("ij,jk->ik", A((2, 3)), A((4, 5))), raises=ValueError, compiled=False,
                             match=r"xfront\.einsum: letter 'j' has size 3 in one operand and 4"),
                   ErrorCase(("ij,jk", A((2, 3))), raises=TypeError, compiled=False,
                             match=r"xfront\.einsum: subscripts 'ij,jk' name 2 operand\(s\) "
                                   r"but 1 array\(s\)"),
                   ErrorCase(("i->j", A((2,))), raises=TypeError, compiled=False,
                             match=r"xfront\.einsum: output letter\(s\) 'j' appear in no "
                                   r"input"),
                   ErrorCase(("ij", A((2,))), raises=ValueError, compiled=False,
                             match=r"xfront\.einsum: term 'ij' names 2 axes but its operand "
                                   r"has shape \(2,\)"),
                   ErrorCase(("ij,jk,kl", A((2, 3)), A((3, 2)), A((2, 2))),
                             {"optimize": "bogus"},
                             raises=TypeError, compiled=False,
                             match=r"xfront\.einsum: optimize='bogus' is not a valid path "
                                   r"strategy"),
                   ErrorCase(("ii->i", A((1, 3))), raises=ValueError, compiled=False,
                             match=r"xfront\.einsum: letter 'i' is repeated in a term but its "
                                   r"axes have sizes \[1, 3\]"),
                   ErrorCase(("i,i", A((2,), "bool"), A((2,), "bool")), raises=TypeError,
                             compiled=False, match=r"xfront\.einsum: expected numeric"))),
    OpCase("einsum3", lambda *xs, subscripts: xf.einsum(subscripts, *xs), _einsum_ref,
           ("float32", "float64"), nargs=3, shapes=_einsum_shapes, kwargs=_einsum_kwargs,
           specials=False, tol=_MM_TOL),
    OpCase("pad", xf.pad, np.pad, ALL,
           shapes=lambda n: hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3).map(
               lambda s: (s,)), kwargs=_pad_kwargs,
           errors=(ErrorCase((A((2, 3)),), {"pad_width": -1, "mode": "constant"},
                             raises=TypeError,
                             match=r"xfront\.pad: pad_width=-1 has a negative entry"),
                   ErrorCase((A((2, 3)),), {"pad_width": (1, 2, 3), "mode": "constant"},
                             raises=TypeError,
                             match=r"xfront\.pad: pad_width=\(1, 2, 3\) is not valid for a "
                                   r"2-D array"),
                   ErrorCase((A((0, 3)),), {"pad_width": 1, "mode": "edge"}, raises=ValueError,
                             match=r"xfront\.pad: mode='edge' cannot extend axis 0"),
                   ErrorCase((A((2, 3)),), {"pad_width": 1, "mode": "mean"}, raises=TypeError,
                             match=r"xfront\.pad: mode='mean' is not supported"))),
    OpCase("pad_constant_values",
           lambda x, pad_width, constant_values: xf.pad(x, pad_width,
                                                        constant_values=constant_values),
           lambda x, pad_width, constant_values: np.pad(x, pad_width,
                                                        constant_values=constant_values),
           ("int8", "uint8", "float32", "float64", "bfloat16", "complex64"),
           kwargs=({"pad_width": 2, "constant_values": 5},
                   {"pad_width": ((1, 0),), "constant_values": ((1, 2),)})),
]

OPS += EXTENSIONS

# --- Array API completeness: diff, repeat with a one-element repeats array -----------------
OPS += [
    OpCase("diff", lambda x, axis=-1, n=1: xf.diff(x, axis=axis, n=n),
           lambda x, axis=-1, n=1: np.diff(x, n=n, axis=axis),
           ("bool", "int16", "uint8", "float32", "float64", "complex64"),
           shapes=lambda n: hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4).map(
               lambda s: (s,)),
           kwargs=({"axis": 0}, {"axis": -1, "n": 2}, {"n": 0})),
    OpCase("repeat_one_element_array",
           lambda x, axis=None: xf.repeat(x, np.array([2]), axis=axis),
           lambda x, axis=None: np.repeat(x, np.array([2]), axis), ("bool", "float64"),
           kwargs=({}, {"axis": 0})),
]

# --- conformance at many examples: vecdot's contracted axis is not broadcast ------------------


@st.composite
def _vecdot_broadcast_case(draw, n=2):
    """Broadcast batch dimensions, one contracted axis of equal size (possibly 0 or 1)."""
    s1, s2 = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3,
                                                    max_side=3)).input_shapes
    k = draw(st.integers(0, 4))
    return s1[:-1] + (k,), s2[:-1] + (k,)


OPS += [
    OpCase("vecdot_broadcast", xf.vecdot, np.vecdot, ("int16", "uint8", "float32", "complex128"),
           nargs=2, shapes=lambda n: _vecdot_broadcast_case(), specials=False, tol=_MM_TOL,
           errors=(ErrorCase((A((3,), "uint8"), A((1,), "uint8")), raises=ValueError,
                             match=r"xfront\.vecdot: x1 u8\[3\] and x2 u8\[1\] have sizes 3 and "
                                   r"1 along the contracted axis -1; they must be equal"),
                   ErrorCase((A((2, 3)), A((1, 3))), {"axis": -2}, raises=ValueError,
                             match=r"xfront\.vecdot: .* have sizes 2 and 1 along the "
                                   r"contracted axis -2"),
                   ErrorCase((A((0,)), A((2, 1))), raises=ValueError,
                             match=r"sizes 0 and 1 along the contracted axis -1"))),
]
