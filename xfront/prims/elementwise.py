"""Elementwise primitives: one explicit declaration per primitive.

Imports: _core, _dtypes, numpy, the lowering rules. Never the namespace (xfront._api).

VJP rules have the signature ``vjp(ct, *primals, out, **params) -> [ct_per_input]`` and are
written with the strict prim wrappers below (operands already share shape and dtype). ``None``
in the returned list means "no cotangent" (zero).
"""

from __future__ import annotations

from typing import Any, Callable

import ml_dtypes
import numpy as np

from xfront import _dtypes as dt
from xfront import _errors, _shapes
from xfront._aval import AbstractArray
from xfront._core import NONDIFFERENTIABLE, Primitive
from xfront.lowering.rules import elementwise as L
from xfront.prims import shape as _shape
from xfront.prims._factories import (binary, check_dtype, check_same, internal_error, to_bool,
                                     unary)

F, C, R = dt.REAL_FLOATING, dt.COMPLEX, dt.FLOATING  # real float, complex, both
NUM, INT, IB = dt.NUMERIC, dt.INTEGER, dt.INTEGER_OR_BOOL
SIGNED_NUM = dt.SIGNED | dt.FLOATING


def _np(fn: Callable) -> Callable:
    """NumPy reference that computes 16-bit floats in float32 (NumPy lacks bfloat16 math)."""

    def ref(*xs: Any, **params: Any):
        up = [x.astype(np.float32) if x.dtype in (np.float16, ml_dtypes.bfloat16) else x
              for x in xs]
        with np.errstate(all="ignore"):
            return fn(*up, **params)

    ref.__name__ = getattr(fn, "__name__", "ref")
    return ref


def _special(name: str) -> Callable:
    """A scipy.special function, imported on first use (keeps ``import xfront`` fast)."""

    def fn(x: np.ndarray) -> np.ndarray:
        from scipy import special

        return getattr(special, name)(x)

    fn.__name__ = name
    return fn


def full_like(x: Any, value: Any) -> Any:
    """A strict-prim constant with ``x``'s shape and dtype."""
    if _shapes.is_symbolic(value):  # a count under symbolic shapes (``mean``): a traced size
        v = convert(_shape.dimension_size(value), dtype=x.dtype)
        return _shape.broadcast_in_dim(v, shape=x.shape, dims=())
    return _shape.broadcast_in_dim(np.asarray(value, dtype=x.dtype.np), shape=x.shape, dims=())

# --- unary ---------------------------------------------------------------------------------

neg_p = unary("neg", NUM, ref=np.negative, lowering=L.elementwise("stablehlo.negate"),
              vjp=lambda ct, x, out: [neg(ct)])
abs_p = unary("abs", SIGNED_NUM, ref=_np(np.abs), lowering=L.lower_abs,
              result=dt.real_dtype, vjp=lambda ct, x, out: [_abs_vjp(ct, x)])
sign_p = unary("sign", SIGNED_NUM, ref=_np(np.sign), lowering=L.complex_sign,
               vjp=lambda ct, x, out: [None])
floor_p = unary("floor", F, ref=_np(np.floor), lowering=L.elementwise("stablehlo.floor"),
                vjp=lambda ct, x, out: [None])
ceil_p = unary("ceil", F, ref=_np(np.ceil), lowering=L.elementwise("stablehlo.ceil"),
               vjp=lambda ct, x, out: [None])
round_p = unary("round", F, ref=_np(np.round),
                lowering=L.elementwise("stablehlo.round_nearest_even"),
                vjp=lambda ct, x, out: [None])
sqrt_p = unary("sqrt", R, ref=_np(np.sqrt), lowering=L.lower_sqrt,
               vjp=lambda ct, x, out: [div(ct, mul(full_like(out, 2), out))])
rsqrt_p = unary("rsqrt", R, ref=_np(lambda x: 1 / np.sqrt(x)),
                lowering=L.elementwise("stablehlo.rsqrt"),
                vjp=lambda ct, x, out: [mul(ct, mul(full_like(out, -0.5), div(out, x)))])
cbrt_p = unary("cbrt", F, ref=_np(np.cbrt), lowering=L.elementwise("stablehlo.cbrt"),
               vjp=lambda ct, x, out: [div(ct, mul(full_like(out, 3), mul(out, out)))])
exp_p = unary("exp", R, ref=_np(np.exp), lowering=L.lower_exp,
              vjp=lambda ct, x, out: [mul(ct, out)])
expm1_p = unary("expm1", R, ref=_np(np.expm1),
                lowering=L.lower_expm1,
                vjp=lambda ct, x, out: [mul(ct, add(out, full_like(out, 1)))])
log_p = unary("log", R, ref=_np(np.log), lowering=L.lower_log,
              vjp=lambda ct, x, out: [div(ct, x)])
log1p_p = unary("log1p", R, ref=_np(np.log1p), lowering=L.lower_log1p,
                vjp=lambda ct, x, out: [div(ct, add(x, full_like(x, 1)))])
sin_p = unary("sin", R, ref=_np(np.sin), lowering=L.elementwise("stablehlo.sine"),
              vjp=lambda ct, x, out: [mul(ct, cos(x))])
cos_p = unary("cos", R, ref=_np(np.cos), lowering=L.elementwise("stablehlo.cosine"),
              vjp=lambda ct, x, out: [neg(mul(ct, sin(x)))])
tan_p = unary("tan", R, ref=_np(np.tan), lowering=L.elementwise("stablehlo.tan"),
              vjp=lambda ct, x, out: [mul(ct, add(full_like(out, 1), mul(out, out)))])
tanh_p = unary("tanh", R, ref=_np(np.tanh), lowering=L.lower_tanh,
               vjp=lambda ct, x, out: [mul(ct, sub(full_like(out, 1), mul(out, out)))])
logistic_p = unary("logistic", R, ref=_np(lambda x: 1 / (1 + np.exp(-x))),
                   lowering=L.elementwise("stablehlo.logistic"),
                   vjp=lambda ct, x, out: [mul(ct, mul(out, sub(full_like(out, 1), out)))])
asin_p = unary("asin", R, ref=_np(np.arcsin), lowering=L.elementwise("chlo.asin"),
               vjp=lambda ct, x, out: [mul(ct, rsqrt(sub(full_like(x, 1), mul(x, x))))])
acos_p = unary("acos", R, ref=_np(np.arccos), lowering=L.lower_acos,
               vjp=lambda ct, x, out: [neg(mul(ct, rsqrt(sub(full_like(x, 1), mul(x, x)))))])
atan_p = unary("atan", R, ref=_np(np.arctan), lowering=L.elementwise("chlo.atan"),
               vjp=lambda ct, x, out: [div(ct, add(full_like(x, 1), mul(x, x)))])
sinh_p = unary("sinh", R, ref=_np(np.sinh), lowering=L.lower_sinh,
               vjp=lambda ct, x, out: [mul(ct, cosh(x))])
cosh_p = unary("cosh", R, ref=_np(np.cosh), lowering=L.lower_cosh,
               vjp=lambda ct, x, out: [mul(ct, sinh(x))])
asinh_p = unary("asinh", R, ref=_np(np.arcsinh), lowering=L.lower_asinh,
                vjp=lambda ct, x, out: [mul(ct, rsqrt(add(mul(x, x), full_like(x, 1))))])
acosh_p = unary("acosh", R, ref=_np(np.arccosh), lowering=L.lower_acosh,
                vjp=lambda ct, x, out: [mul(ct, rsqrt(sub(mul(x, x), full_like(x, 1))))])
atanh_p = unary("atanh", R, ref=_np(np.arctanh), lowering=L.lower_atanh,
                vjp=lambda ct, x, out: [div(ct, sub(full_like(x, 1), mul(x, x)))])
erf_p = unary("erf", F, ref=_np(_special("erf")), lowering=L.elementwise("chlo.erf"),
              vjp=lambda ct, x, out: [mul(ct, mul(full_like(x, 2 / np.sqrt(np.pi)),
                                                   exp(neg(mul(x, x)))))])
erf_inv_p = unary("erf_inv", F, ref=_np(_special("erfinv")),
                  lowering=L.elementwise("chlo.erf_inv"),
                  vjp=lambda ct, x, out: [mul(ct, mul(full_like(x, np.sqrt(np.pi) / 2),
                                                       exp(mul(out, out))))])
def _lgamma_ref(x: np.ndarray) -> np.ndarray:
    # C99 lgamma (what XLA computes): lgamma(-inf) = +inf, where scipy's gammaln gives -inf
    return np.where(np.isneginf(x), np.inf, _special("gammaln")(x))


lgamma_p = unary("lgamma", F, ref=_np(_lgamma_ref), lowering=L.elementwise("chlo.lgamma"),
                 vjp=lambda ct, x, out: [mul(ct, digamma(x))])
digamma_p = unary("digamma", F, ref=_np(_special("digamma")),
                  lowering=L.elementwise("chlo.digamma"),
                  vjp=lambda ct, x, out: [mul(ct, polygamma(full_like(x, 1), x))])
is_finite_p = unary("is_finite", F, ref=_np(np.isfinite),
                    lowering=L.elementwise("stablehlo.is_finite"), result=to_bool,
                    vjp=NONDIFFERENTIABLE)
not_p = unary("not", IB, ref=lambda x: np.logical_not(x) if x.dtype == np.bool_ else np.invert(x),
              lowering=L.elementwise("stablehlo.not"), vjp=NONDIFFERENTIABLE)
popcnt_p = unary("popcnt", INT, ref=lambda x: np.bitwise_count(x).astype(x.dtype),
                 lowering=L.elementwise("stablehlo.popcnt"), vjp=NONDIFFERENTIABLE)
clz_p = unary("clz", INT, ref=lambda x: _clz_ref(x),
              lowering=L.elementwise("stablehlo.count_leading_zeros"), vjp=NONDIFFERENTIABLE)
real_p = unary("real", C, ref=np.real, lowering=L.elementwise("stablehlo.real"),
               result=dt.real_dtype, vjp=lambda ct, x, out: [complex_(ct, full_like(ct, 0))])
imag_p = unary("imag", C, ref=np.imag, lowering=L.elementwise("stablehlo.imag"),
               result=dt.real_dtype,
               vjp=lambda ct, x, out: [complex_(full_like(ct, 0), neg(ct))])


def _clz_ref(x: np.ndarray) -> np.ndarray:
    bits = x.dtype.itemsize * 8
    u = x.view(np.dtype(f"u{x.dtype.itemsize}")).astype(np.uint64)
    out = np.full(x.shape, bits, dtype=np.int64)
    for b in range(bits):
        hit = ((u >> np.uint64(bits - 1 - b)) & np.uint64(1)).astype(bool) & (out == bits)
        out[hit] = b
    return out.astype(x.dtype)


# --- binary --------------------------------------------------------------------------------

add_p = binary("add", NUM, ref=np.add, lowering=L.elementwise("stablehlo.add"),
               vjp=lambda ct, x, y, out: [ct, ct])
sub_p = binary("sub", NUM, ref=np.subtract, lowering=L.elementwise("stablehlo.subtract"),
               vjp=lambda ct, x, y, out: [ct, neg(ct)])
mul_p = binary("mul", NUM, ref=np.multiply, lowering=L.elementwise("stablehlo.multiply"),
               vjp=lambda ct, x, y, out: [mul(ct, y), mul(ct, x)])
div_p = binary("div", NUM, ref=_np(lambda x, y: _div_ref(x, y)),
               lowering=L.elementwise("stablehlo.divide"),
               vjp=lambda ct, x, y, out: [div(ct, y), neg(mul(ct, div(out, y)))])
rem_p = binary("rem", NUM, ref=_np(lambda x, y: _rem_ref(x, y)),
               lowering=L.elementwise("stablehlo.remainder"),
               vjp=lambda ct, x, y, out: [ct, neg(mul(ct, _trunc(div(x, y))))])
pow_p = binary("pow", NUM, ref=_np(lambda x, y: _pow_ref(x, y)),
               lowering=L.elementwise("stablehlo.power"),
               vjp=lambda ct, x, y, out: _pow_vjp(ct, x, y, out))
max_p = binary("max", dt.ALL - C, ref=np.maximum, lowering=L.elementwise("stablehlo.maximum"),
               vjp=lambda ct, x, y, out: _minmax_vjp(ct, x, y, out))
min_p = binary("min", dt.ALL - C, ref=np.minimum, lowering=L.elementwise("stablehlo.minimum"),
               vjp=lambda ct, x, y, out: _minmax_vjp(ct, x, y, out))
atan2_p = binary("atan2", F, ref=_np(np.arctan2), lowering=L.elementwise("stablehlo.atan2"),
                 vjp=lambda ct, x, y, out: _atan2_vjp(ct, x, y))
polygamma_p = binary("polygamma", F, ref=_np(lambda n, x: _polygamma_ref(n, x)),
                     lowering=L.elementwise("chlo.polygamma"),
                     vjp=lambda ct, n, x, out: [None, mul(ct, polygamma(add(n, full_like(n, 1)),
                                                                        x))])
# nextafter(x, y) moves x by one ulp: derivative 1 in x and 0 in y (as x +- ulp)
next_after_p = binary("next_after", F, ref=np.nextafter,
                      lowering=L.elementwise("chlo.next_after"),
                      vjp=lambda ct, x, y, out: [ct, None])
and_p = binary("and", IB, ref=np.bitwise_and, lowering=L.elementwise("stablehlo.and"),
               vjp=NONDIFFERENTIABLE)
or_p = binary("or", IB, ref=np.bitwise_or, lowering=L.elementwise("stablehlo.or"),
              vjp=NONDIFFERENTIABLE)
xor_p = binary("xor", IB, ref=np.bitwise_xor, lowering=L.elementwise("stablehlo.xor"),
               vjp=NONDIFFERENTIABLE)
shift_left_p = binary("shift_left", INT, ref=lambda x, y: _shift_ref(x, y, "l"),
                      lowering=L.elementwise("stablehlo.shift_left"), vjp=NONDIFFERENTIABLE)
shift_right_arithmetic_p = binary(
    "shift_right_arithmetic", INT, ref=lambda x, y: _shift_ref(x, y, "ra"),
    lowering=L.elementwise("stablehlo.shift_right_arithmetic"), vjp=NONDIFFERENTIABLE)
shift_right_logical_p = binary(
    "shift_right_logical", INT, ref=lambda x, y: _shift_ref(x, y, "rl"),
    lowering=L.elementwise("stablehlo.shift_right_logical"), vjp=NONDIFFERENTIABLE)
complex_p = binary("complex", frozenset({dt.float32, dt.float64}),
                   ref=lambda x, y: x + 1j * y.astype(np.result_type(x, np.complex64)),
                   lowering=L.elementwise("stablehlo.complex"), result=dt.complex_dtype,
                   vjp=lambda ct, x, y, out: [real(ct), neg(imag(ct))])

eq_p = binary("eq", dt.ALL, ref=np.equal, lowering=L.compare("EQ"), result=to_bool,
              vjp=NONDIFFERENTIABLE)
ne_p = binary("ne", dt.ALL, ref=np.not_equal, lowering=L.compare("NE"), result=to_bool,
              vjp=NONDIFFERENTIABLE)
lt_p = binary("lt", dt.ALL - C, ref=np.less, lowering=L.compare("LT"), result=to_bool,
              vjp=NONDIFFERENTIABLE)
le_p = binary("le", dt.ALL - C, ref=np.less_equal, lowering=L.compare("LE"), result=to_bool,
              vjp=NONDIFFERENTIABLE)
gt_p = binary("gt", dt.ALL - C, ref=np.greater, lowering=L.compare("GT"), result=to_bool,
              vjp=NONDIFFERENTIABLE)
ge_p = binary("ge", dt.ALL - C, ref=np.greater_equal, lowering=L.compare("GE"), result=to_bool,
              vjp=NONDIFFERENTIABLE)


def _polygamma_ref(n: np.ndarray, x: np.ndarray) -> np.ndarray:
    from scipy import special

    n = np.broadcast_to(n, np.broadcast_shapes(n.shape, x.shape))
    ok = (n == np.floor(n)) & (n >= 0)  # polygamma is defined for integer orders only
    return np.where(ok, special.polygamma(np.where(ok, n, 0).astype(np.int64), x), np.nan)


def _div_ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":  # C-style truncating division, like stablehlo.divide
        q = np.trunc(x.astype(np.float64) / np.where(y == 0, 1, y)).astype(x.dtype)
        return np.where(y == 0, -1 if x.dtype.kind == "i" else np.iinfo(x.dtype).max, q)
    return x / y


def _rem_ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":
        return np.where(y == 0, x, np.fmod(x, np.where(y == 0, 1, y)))
    return np.fmod(x, y)


def _pow_ref(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    if x.dtype.kind in "iu":
        return np.power(x, np.where(y < 0, 0, y)) * np.where(y < 0, 0, 1).astype(x.dtype)
    return np.power(x, y)


def _shift_ref(x: np.ndarray, y: np.ndarray, kind: str) -> np.ndarray:
    bits = x.dtype.itemsize * 8
    ut = np.dtype(f"u{x.dtype.itemsize}")
    big = (y.astype(np.int64) < 0) | (y.astype(np.int64) >= bits)
    ys = np.where(big, 0, y).astype(x.dtype)
    if kind == "l":
        return np.where(big, 0, np.left_shift(x, ys)).astype(x.dtype)
    if kind == "rl":
        return np.where(big, 0, np.right_shift(x.view(ut), ys.astype(ut)).view(x.dtype))
    fill = np.where(x < 0, -1, 0) if x.dtype.kind == "i" else 0
    return np.where(big, fill, np.right_shift(x, ys)).astype(x.dtype)


# --- ternary & casts -----------------------------------------------------------------------

def _select_abstract_eval(pred: AbstractArray, x: AbstractArray, y: AbstractArray) -> AbstractArray:
    check_dtype("select", pred, dt.BOOL, "predicate")
    check_same("select", x, y)
    if pred.shape != x.shape:
        check_same("select", pred.update(dtype=x.dtype), x)
    return AbstractArray(x.shape, x.dtype, x.weak and y.weak)


select_p = Primitive("select", abstract_eval=_select_abstract_eval,
                     ref=lambda p, x, y: np.where(p, x, y), lowering=L.select,
                     vjp=lambda ct, p, x, y, out: [None, select(p, ct, full_like(ct, 0)),
                                                   select(p, full_like(ct, 0), ct)])


def _clamp_abstract_eval(lo: AbstractArray, x: AbstractArray, hi: AbstractArray) -> AbstractArray:
    check_dtype("clamp", x, dt.ALL - C)
    check_same("clamp", lo, x, hi)
    return x


def _clamp_vjp(ct: Any, lo: Any, x: Any, hi: Any, out: Any) -> list[Any]:
    # clamp = min(max(x, lo), hi): the cotangent goes to whichever operand was selected
    # (x on ties, so an in-range x keeps its gradient at the bounds)
    zero = full_like(ct, 0)
    to_hi = gt(max(x, lo), hi)
    rest = select(to_hi, zero, ct)
    to_lo = lt(x, lo)
    return [select(to_lo, rest, zero), select(to_lo, zero, rest), select(to_hi, ct, zero)]


clamp_p = Primitive("clamp", abstract_eval=_clamp_abstract_eval,
                    ref=lambda lo, x, hi: np.minimum(np.maximum(x, lo), hi), lowering=L.clamp,
                    vjp=_clamp_vjp)


def _convert_abstract_eval(x: AbstractArray, *, dtype: dt.DType) -> AbstractArray:
    return AbstractArray(x.shape, dtype, x.weak)


def _convert_ref(x: np.ndarray, *, dtype: dt.DType) -> np.ndarray:
    with np.errstate(all="ignore"):
        if dtype.kind == "b":
            return x != 0
        if x.dtype.kind == "c" and dtype.kind != "c":
            x = x.real
        if dtype.kind in "iu" and x.dtype.kind == "f":
            # float -> int: truncate, NaN -> 0, saturate at the integer range (XLA semantics)
            info = np.iinfo(dtype.np)
            xf = np.nan_to_num(np.trunc(x.astype(np.float64)), nan=0.0)
            return np.clip(xf, info.min, info.max).astype(dtype.np)
        return x.astype(dtype.np)


def _convert_vjp(ct: Any, x: Any, *, out: Any, dtype: dt.DType) -> list[Any]:
    if x.dtype.kind not in "fc" or dtype.kind not in "fc":
        return [None]
    return [convert(ct, dtype=x.dtype)]


convert_p = Primitive("convert", abstract_eval=_convert_abstract_eval, ref=_convert_ref,
                      lowering=L.convert, vjp=_convert_vjp)


def _bitcast_abstract_eval(x: AbstractArray, *, dtype: dt.DType) -> AbstractArray:
    if x.dtype.itemsize != dtype.itemsize or x.dtype is dt.bool_ or dtype is dt.bool_:
        raise internal_error(_errors.DTypeError, "bitcast_convert",
                             f"needs non-bool dtypes of equal width, got {x.dtype} -> {dtype}")
    return AbstractArray(x.shape, dtype)


def _stop_gradient_abstract_eval(x: AbstractArray) -> AbstractArray:
    return x


# stop_gradient: the identity whose outputs are constants to differentiation (NONDIFFERENTIABLE
# makes its output inactive, so no cotangent flows back through it)
stop_gradient_p = Primitive("stop_gradient", abstract_eval=_stop_gradient_abstract_eval,
                            ref=lambda x: x, lowering=lambda ctx, x: [x], vjp=NONDIFFERENTIABLE)


bitcast_convert_p = Primitive("bitcast_convert", abstract_eval=_bitcast_abstract_eval,
                              ref=lambda x, *, dtype: x.view(dtype.np),
                              lowering=L.bitcast_convert, vjp=NONDIFFERENTIABLE)


# --- prim-level wrappers (array operands positional, params keyword) ------------------------

def neg(x): return neg_p.bind(x)
def abs(x): return abs_p.bind(x)  # noqa: A001
def sign(x): return sign_p.bind(x)
def floor(x): return floor_p.bind(x)
def ceil(x): return ceil_p.bind(x)
def round(x): return round_p.bind(x)  # noqa: A001
def sqrt(x): return sqrt_p.bind(x)
def rsqrt(x): return rsqrt_p.bind(x)
def cbrt(x): return cbrt_p.bind(x)
def exp(x): return exp_p.bind(x)
def expm1(x): return expm1_p.bind(x)
def log(x): return log_p.bind(x)
def log1p(x): return log1p_p.bind(x)
def sin(x): return sin_p.bind(x)
def cos(x): return cos_p.bind(x)
def tan(x): return tan_p.bind(x)
def tanh(x): return tanh_p.bind(x)
def logistic(x): return logistic_p.bind(x)
def asin(x): return asin_p.bind(x)
def acos(x): return acos_p.bind(x)
def atan(x): return atan_p.bind(x)
def sinh(x): return sinh_p.bind(x)
def cosh(x): return cosh_p.bind(x)
def asinh(x): return asinh_p.bind(x)
def acosh(x): return acosh_p.bind(x)
def atanh(x): return atanh_p.bind(x)
def erf(x): return erf_p.bind(x)
def erf_inv(x): return erf_inv_p.bind(x)
def lgamma(x): return lgamma_p.bind(x)
def digamma(x): return digamma_p.bind(x)
def polygamma(n, x): return polygamma_p.bind(n, x)
def is_finite(x): return is_finite_p.bind(x)
def not_(x): return not_p.bind(x)
def popcnt(x): return popcnt_p.bind(x)
def clz(x): return clz_p.bind(x)
def real(x): return real_p.bind(x)
def imag(x): return imag_p.bind(x)
def add(x, y): return add_p.bind(x, y)
def sub(x, y): return sub_p.bind(x, y)
def mul(x, y): return mul_p.bind(x, y)
def div(x, y): return div_p.bind(x, y)
def rem(x, y): return rem_p.bind(x, y)
def pow(x, y): return pow_p.bind(x, y)  # noqa: A001
def max(x, y): return max_p.bind(x, y)  # noqa: A001
def min(x, y): return min_p.bind(x, y)  # noqa: A001
def atan2(x, y): return atan2_p.bind(x, y)
def next_after(x, y): return next_after_p.bind(x, y)
def and_(x, y): return and_p.bind(x, y)
def or_(x, y): return or_p.bind(x, y)
def xor(x, y): return xor_p.bind(x, y)
def shift_left(x, y): return shift_left_p.bind(x, y)
def shift_right_arithmetic(x, y): return shift_right_arithmetic_p.bind(x, y)
def shift_right_logical(x, y): return shift_right_logical_p.bind(x, y)
def complex_(x, y): return complex_p.bind(x, y)
def eq(x, y): return eq_p.bind(x, y)
def ne(x, y): return ne_p.bind(x, y)
def lt(x, y): return lt_p.bind(x, y)
def le(x, y): return le_p.bind(x, y)
def gt(x, y): return gt_p.bind(x, y)
def ge(x, y): return ge_p.bind(x, y)
def select(p, x, y): return select_p.bind(p, x, y)
def clamp(lo, x, hi): return clamp_p.bind(lo, x, hi)
def convert(x, *, dtype): return convert_p.bind(x, dtype=dt.dtype(dtype))
def bitcast_convert(x, *, dtype): return bitcast_convert_p.bind(x, dtype=dt.dtype(dtype))
def stop_gradient(x): return stop_gradient_p.bind(x)


# --- VJP helpers ---------------------------------------------------------------------------

def _trunc(x: Any) -> Any:
    return select(lt(x, full_like(x, 0)), ceil(x), floor(x))


def _abs_vjp(ct: Any, x: Any) -> Any:
    if x.dtype.kind != "c":
        return mul(ct, sign(x))
    # |z| changes by real(conj(sign z) dz): the cotangent is ct * conj(sign z) (0 at z == 0)
    s = sign(x)
    return mul(complex_(ct, full_like(ct, 0)), complex_(real(s), neg(imag(s))))


def _pow_vjp(ct: Any, x: Any, y: Any, out: Any) -> list[Any]:
    # d/dx x^y = y x^(y-1) (0 where y == 0: x^0 is constant, even at x == 0);
    # d/dy x^y = log(x) x^y (0 where x == 0, matching the limit y>0)
    zero = full_like(x, 0)
    dx = mul(ct, select(eq(y, zero), zero, mul(y, pow(x, sub(y, full_like(y, 1))))))
    safe_log = log(select(eq(x, zero), full_like(x, 1), x))
    dy = mul(ct, mul(out, safe_log))
    return [dx, dy]


def _minmax_vjp(ct: Any, x: Any, y: Any, out: Any) -> list[Any]:
    # ties split the cotangent evenly (as JAX does), so the gradient is symmetric
    zero = full_like(ct, 0)
    half = full_like(ct, 0.5)
    x_is = eq(x, out)
    y_is = eq(y, out)
    both = and_(x_is, y_is)
    ct_half = mul(ct, half)
    dx = select(both, ct_half, select(x_is, ct, zero))
    dy = select(both, ct_half, select(y_is, ct, zero))
    return [dx, dy]


def _atan2_vjp(ct: Any, x: Any, y: Any) -> list[Any]:
    # atan2(x, y): d/dx = y / (x^2 + y^2), d/dy = -x / (x^2 + y^2)
    denom = add(mul(x, x), mul(y, y))
    return [mul(ct, div(y, denom)), neg(mul(ct, div(x, denom)))]


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------
# Every primitive here takes operands of one shape and returns that shape: one generic rule.

from xfront import _batching  # noqa: E402

for _p in [v for v in list(globals().values()) if isinstance(v, Primitive)]:
    _p.batch = _batching.elementwise_rule(_p)
del _p
