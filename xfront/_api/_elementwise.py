"""Array API section "Element-wise Functions" (plus a few special functions).

Imports: _helpers, prims, _dtypes. Every function promotes and broadcasts here, then calls
strict primitives. Where the standard leaves behaviour open, NumPy 2 is followed:

* integer/bool inputs to floating functions (sin, sqrt, ...) are promoted as NumPy does:
  8-bit ints and bool -> float16, 16-bit -> float32, wider -> float64;
* ``divide`` of integers returns float64; ``floor_divide``/``remainder`` of integers floor
  towards -inf and return 0 for a zero divisor (NumPy's result, without its warning);
* ``add``/``multiply`` of bools are logical or/and; ``floor``/``ceil``/``trunc``/``round`` of
  integers return them unchanged.

One documented difference: ``pow`` of integers with negative integer exponents gives 0 (or
±1 for bases ±1), where NumPy raises; XLA has no error path inside compiled code.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xfront import _dtypes as dt
from xfront._array import Array
from xfront._api._helpers import (broadcast_shapes, broadcast_to, cast, dtype_of, ensure_array,
                                  is_weak, operand, promote, require, shape_of, to_array)
from xfront.prims import elementwise as ew
from xfront.prims import shape as sh

_F16_PROMOTE = "integer and boolean inputs are promoted to floating point as in NumPy"


# --- helpers -------------------------------------------------------------------------------

def _floatify(d: dt.DType) -> dt.DType:
    return dt.promote_types(d, dt.float16) if d.kind in "biu" else d


def _unary(name: str, x: Any, accepts: frozenset[dt.DType], fn: Callable, *,
           to_float: bool = False) -> Any:
    if isinstance(x, Array) and x.aval.dtype in accepts and (
            not to_float or x.aval.dtype.kind in "fc"):
        return fn(x)  # fast path: nothing to convert
    x = to_array(name, x)
    d = dtype_of(x)
    if to_float:
        d = _floatify(d)
    require(name, d, accepts, x)
    return fn(cast(name, x, d, is_weak(x)))


def _binary_operands(name: str, x1: Any, x2: Any, accepts: frozenset[dt.DType], *,
                     to_float: bool = False, hint: str = "") -> tuple[Any, Any]:
    if isinstance(x1, Array) and isinstance(x2, Array):
        a1, a2 = x1.aval, x2.aval
        if (a1.shape == a2.shape and a1.dtype is a2.dtype and not a1.weak and not a2.weak
                and a1.dtype in accepts and (not to_float or a1.dtype.kind in "fc")):
            return x1, x2  # fast path: same shape and dtype, nothing to promote or broadcast
    a = operand(name, x1, "x1")
    b = operand(name, x2, "x2")
    d, weak = promote(name, a, b)
    if to_float:
        d = _floatify(d)
    require(name, d, accepts, a, b, hint=hint)
    a, b = cast(name, a, d, weak), cast(name, b, d, weak)
    shape = broadcast_shapes(name, shape_of(a), shape_of(b))
    return broadcast_to(a, shape), broadcast_to(b, shape)


def _binary(name: str, x1: Any, x2: Any, accepts: frozenset[dt.DType], fn: Callable, *,
            to_float: bool = False, hint: str = "") -> Any:
    a, b = _binary_operands(name, x1, x2, accepts, to_float=to_float, hint=hint)
    return fn(a, b)


def _full(x: Any, value: Any) -> Any:
    return ew.full_like(x, value)


def _zeros_bool(x: Any) -> Any:
    return sh.broadcast_in_dim(np.asarray(False), shape=x.shape, dims=())


def _ones_bool(x: Any) -> Any:
    return sh.broadcast_in_dim(np.asarray(True), shape=x.shape, dims=())


def _is_complex(x: Any) -> bool:
    return x.dtype.kind == "c"


_NUM = dt.NUMERIC
_RNUM = dt.REAL_NUMERIC
_FLT = dt.FLOATING
_RFLT = dt.REAL_FLOATING
_IB = dt.INTEGER_OR_BOOL
_INT = dt.INTEGER
_ALL = dt.ALL
_SIGNED_NUM = dt.SIGNED | dt.FLOATING


# --- arithmetic ----------------------------------------------------------------------------

def add(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 + x2`` (bool + bool is logical or, as in NumPy)."""
    a, b = _binary_operands("add", x1, x2, _ALL)
    return ew.or_(a, b) if a.dtype is dt.bool_ else ew.add(a, b)


def subtract(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 - x2``."""
    return _binary("subtract", x1, x2, _NUM, ew.sub,
                   hint="boolean subtraction is not defined; use logical_xor")


def multiply(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 * x2`` (bool * bool is logical and, as in NumPy)."""
    a, b = _binary_operands("multiply", x1, x2, _ALL)
    return ew.and_(a, b) if a.dtype is dt.bool_ else ew.mul(a, b)


def divide(x1: Any, x2: Any, /) -> Any:
    """Element-wise true division; integer inputs give float64 (NumPy)."""
    a = operand("divide", x1, "x1")
    b = operand("divide", x2, "x2")
    d, weak = promote("divide", a, b)
    if d.kind in "biu":
        d, weak = dt.float64, False
    return _binary("divide", cast("divide", a, d, weak), cast("divide", b, d, weak), _FLT, ew.div)


def _int_floor_div(a: Any, b: Any) -> Any:
    zero = _full(a, 0)
    one = _full(a, 1)
    safe_b = ew.select(ew.eq(b, zero), one, b)
    q = ew.div(a, safe_b)  # truncates towards zero
    if a.dtype.kind == "i":
        r = ew.rem(a, safe_b)
        adjust = ew.and_(ew.ne(r, zero), ew.ne(ew.lt(r, zero), ew.lt(safe_b, zero)))
        q = ew.select(adjust, ew.sub(q, one), q)
    return ew.select(ew.eq(b, zero), zero, q)


def _float_divmod(a: Any, b: Any) -> tuple[Any, Any]:
    """NumPy's npy_divmod for floats: (floor quotient, modulo with the divisor's sign)."""
    zero = _full(a, 0)
    mod = ew.rem(a, b)  # fmod
    div = ew.div(ew.sub(a, mod), b)
    mod_nz = ew.ne(mod, zero)
    wrong_sign = ew.and_(mod_nz, ew.ne(ew.lt(b, zero), ew.lt(mod, zero)))
    mod = ew.select(wrong_sign, ew.add(mod, b), mod)
    div = ew.select(wrong_sign, ew.sub(div, _full(a, 1)), div)
    mod = ew.select(mod_nz, mod, copysign(zero, b))
    fl = ew.floor(div)
    fl = ew.select(ew.gt(ew.sub(div, fl), _full(a, 0.5)), ew.add(fl, _full(a, 1)), fl)
    floordiv = ew.select(ew.ne(div, zero), fl, copysign(zero, ew.div(a, b)))
    b_zero = ew.eq(b, zero)
    floordiv = ew.select(b_zero, ew.div(a, b), floordiv)
    return floordiv, mod


def floor_divide(x1: Any, x2: Any, /) -> Any:
    """Element-wise floor division (rounds towards -inf; ``x // 0 == 0`` for integers)."""
    a, b = _binary_operands("floor_divide", x1, x2, _RNUM)
    if a.dtype.kind in "iu":
        return _int_floor_div(a, b)
    out = _float_divmod(a, b)[0]
    # the standard's special cases where NumPy differs: +-inf // finite nonzero is +-inf
    # (NumPy: nan) and finite // +-inf is a signed zero (NumPy: -1.0 for opposite signs); both
    # are a / b there
    a_fin, b_fin = ew.is_finite(a), ew.is_finite(b)
    inf_by_finite = ew.and_(ew.and_(ew.not_(a_fin), ew.eq(a, a)),
                            ew.and_(b_fin, ew.ne(b, _full(b, 0))))
    finite_by_inf = ew.and_(a_fin, ew.and_(ew.not_(b_fin), ew.eq(b, b)))
    return ew.select(ew.or_(inf_by_finite, finite_by_inf), ew.div(a, b), out)


def remainder(x1: Any, x2: Any, /) -> Any:
    """Element-wise remainder with the sign of the divisor (Python/NumPy ``%``)."""
    a, b = _binary_operands("remainder", x1, x2, _RNUM)
    if a.dtype.kind == "u":
        zero = _full(a, 0)
        safe_b = ew.select(ew.eq(b, zero), _full(a, 1), b)
        return ew.select(ew.eq(b, zero), zero, ew.rem(a, safe_b))
    if a.dtype.kind == "i":
        zero = _full(a, 0)
        safe_b = ew.select(ew.eq(b, zero), _full(a, 1), b)
        r = ew.rem(a, safe_b)
        adjust = ew.and_(ew.ne(r, zero), ew.ne(ew.lt(r, zero), ew.lt(safe_b, zero)))
        r = ew.select(adjust, ew.add(r, safe_b), r)
        return ew.select(ew.eq(b, zero), zero, r)
    return _float_divmod(a, b)[1]


def pow(x1: Any, x2: Any, /) -> Any:  # noqa: A001
    """Element-wise ``x1 ** x2``."""
    return _binary("pow", x1, x2, _NUM, ew.pow)


def negative(x: Any, /) -> Any:
    """Element-wise ``-x``."""
    return _unary("negative", x, _NUM, ew.neg)


def positive(x: Any, /) -> Any:
    """Element-wise ``+x`` (returns ``x``)."""
    return _unary("positive", x, _NUM, ensure_array)


def abs(x: Any, /) -> Any:  # noqa: A001
    """Element-wise absolute value (complex -> real magnitude)."""
    def fn(v: Any) -> Any:
        return v if v.dtype.kind == "u" else ew.abs(v)

    return _unary("abs", x, _NUM, fn)


def sign(x: Any, /) -> Any:
    """Element-wise sign (-1, 0, 1; ``x/|x|`` for complex, as in NumPy 2)."""
    def fn(v: Any) -> Any:
        if v.dtype.kind == "u":
            zero = _full(v, 0)
            return ew.select(ew.eq(v, zero), zero, _full(v, 1))
        if v.dtype.kind == "f":  # the standard (and NumPy): sign(-0.0) is +0, XLA's is -0.0
            zero = _full(v, 0)
            return ew.select(ew.eq(v, zero), zero, ew.sign(v))
        return ew.sign(v)

    return _unary("sign", x, _NUM, fn)


def square(x: Any, /) -> Any:
    """Element-wise ``x * x``."""
    return _unary("square", x, _NUM, lambda v: ew.mul(v, v))


def reciprocal(x: Any, /) -> Any:
    """Element-wise ``1 / x`` (integer inputs are promoted to floating point)."""
    return _unary("reciprocal", x, _FLT, lambda v: ew.div(_full(v, 1), v), to_float=True)


def maximum(x1: Any, x2: Any, /) -> Any:
    """Element-wise maximum; NaN propagates."""
    return _binary("maximum", x1, x2, _ALL - dt.COMPLEX, ew.max)


def minimum(x1: Any, x2: Any, /) -> Any:
    """Element-wise minimum; NaN propagates."""
    return _binary("minimum", x1, x2, _ALL - dt.COMPLEX, ew.min)


def clip(x: Any, /, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    """Clamp ``x`` to ``[min, max]`` (``minimum(maximum(x, min), max)``, as NumPy)."""
    out = to_array("clip", x)
    d = dtype_of(out)
    if d.kind in "iu":  # Python-int bounds beyond the dtype's range clip nothing (as NumPy)
        info = np.iinfo(d.np)
        if isinstance(min, int) and not isinstance(min, bool) and min < info.min:
            min = None
        if isinstance(max, int) and not isinstance(max, bool) and max > info.max:
            max = None
    if min is None and max is None:
        return ensure_array(out)
    if min is not None:
        out = maximum(out, min)
    if max is not None:
        out = minimum(out, max)
    return out


# --- exponentials, logs, powers ------------------------------------------------------------

def exp(x: Any, /) -> Any:
    """Element-wise ``e ** x``."""
    return _unary("exp", x, _FLT, ew.exp, to_float=True)


def exp2(x: Any, /) -> Any:
    """Element-wise ``2 ** x`` (exact for integer-valued x)."""
    return _unary("exp2", x, _FLT, lambda v: ew.pow(_full(v, 2), v), to_float=True)


def expm1(x: Any, /) -> Any:
    """Element-wise ``exp(x) - 1``, accurate near 0."""
    return _unary("expm1", x, _FLT, ew.expm1, to_float=True)


def log(x: Any, /) -> Any:
    """Element-wise natural logarithm."""
    return _unary("log", x, _FLT, ew.log, to_float=True)


def log1p(x: Any, /) -> Any:
    """Element-wise ``log(1 + x)``, accurate near 0."""
    return _unary("log1p", x, _FLT, ew.log1p, to_float=True)


def log2(x: Any, /) -> Any:
    """Element-wise base-2 logarithm."""
    return _unary("log2", x, _FLT, lambda v: ew.div(ew.log(v), _full(v, np.log(2))),
                  to_float=True)


def log10(x: Any, /) -> Any:
    """Element-wise base-10 logarithm."""
    return _unary("log10", x, _FLT, lambda v: ew.div(ew.log(v), _full(v, np.log(10))),
                  to_float=True)


def logaddexp(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``log(exp(x1) + exp(x2))`` without overflow."""
    def fn(a: Any, b: Any) -> Any:
        m = ew.max(a, b)
        diff = ew.abs(ew.sub(a, b))
        out = ew.add(m, ew.log1p(ew.exp(ew.neg(diff))))
        same = ew.eq(a, b)  # covers a == b == +-inf, where a - b is NaN
        return ew.select(same, ew.add(a, _full(a, np.log(2))), out)

    return _binary("logaddexp", x1, x2, _RFLT, fn, to_float=True)


def sqrt(x: Any, /) -> Any:
    """Element-wise square root."""
    return _unary("sqrt", x, _FLT, ew.sqrt, to_float=True)


def rsqrt(x: Any, /) -> Any:
    """Element-wise ``1 / sqrt(x)`` (xfront extension)."""
    return _unary("rsqrt", x, _FLT, ew.rsqrt, to_float=True)


def cbrt(x: Any, /) -> Any:
    """Element-wise cube root (xfront extension)."""
    return _unary("cbrt", x, _RFLT, ew.cbrt, to_float=True)


def hypot(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``sqrt(x1**2 + x2**2)`` without undue overflow or underflow."""
    def fn(a: Any, b: Any) -> Any:
        a, b = ew.abs(a), ew.abs(b)
        hi, lo = ew.max(a, b), ew.min(a, b)
        zero = _full(a, 0)
        safe_hi = ew.select(ew.eq(hi, zero), _full(a, 1), hi)
        r = ew.div(lo, safe_hi)
        out = ew.mul(hi, ew.sqrt(ew.add(_full(a, 1), ew.mul(r, r))))
        out = ew.select(ew.eq(hi, zero), zero, out)
        inf = _full(a, np.inf)
        return ew.select(ew.or_(ew.eq(a, inf), ew.eq(b, inf)), inf, out)

    return _binary("hypot", x1, x2, _RFLT, fn, to_float=True)


# --- trigonometric and hyperbolic ----------------------------------------------------------

def sin(x: Any, /) -> Any:
    """Element-wise sine."""
    return _unary("sin", x, _FLT, ew.sin, to_float=True)


def cos(x: Any, /) -> Any:
    """Element-wise cosine."""
    return _unary("cos", x, _FLT, ew.cos, to_float=True)


def tan(x: Any, /) -> Any:
    """Element-wise tangent."""
    return _unary("tan", x, _FLT, ew.tan, to_float=True)


def asin(x: Any, /) -> Any:
    """Element-wise inverse sine."""
    return _unary("asin", x, _FLT, ew.asin, to_float=True)


def acos(x: Any, /) -> Any:
    """Element-wise inverse cosine."""
    return _unary("acos", x, _FLT, ew.acos, to_float=True)


def atan(x: Any, /) -> Any:
    """Element-wise inverse tangent."""
    return _unary("atan", x, _FLT, ew.atan, to_float=True)


def atan2(x1: Any, x2: Any, /) -> Any:
    """Element-wise angle of the point (x2, x1), quadrant-aware."""
    return _binary("atan2", x1, x2, _RFLT, ew.atan2, to_float=True)


def sinh(x: Any, /) -> Any:
    """Element-wise hyperbolic sine."""
    return _unary("sinh", x, _FLT, ew.sinh, to_float=True)


def cosh(x: Any, /) -> Any:
    """Element-wise hyperbolic cosine."""
    return _unary("cosh", x, _FLT, ew.cosh, to_float=True)


def tanh(x: Any, /) -> Any:
    """Element-wise hyperbolic tangent."""
    return _unary("tanh", x, _FLT, ew.tanh, to_float=True)


def asinh(x: Any, /) -> Any:
    """Element-wise inverse hyperbolic sine."""
    return _unary("asinh", x, _FLT, ew.asinh, to_float=True)


def acosh(x: Any, /) -> Any:
    """Element-wise inverse hyperbolic cosine."""
    return _unary("acosh", x, _FLT, ew.acosh, to_float=True)


def atanh(x: Any, /) -> Any:
    """Element-wise inverse hyperbolic tangent."""
    return _unary("atanh", x, _FLT, ew.atanh, to_float=True)


# --- special functions (xfront extensions) --------------------------------------------------

def sigmoid(x: Any, /) -> Any:
    """Element-wise logistic function ``1 / (1 + exp(-x))``."""
    return _unary("sigmoid", x, _FLT, ew.logistic, to_float=True)


def erf(x: Any, /) -> Any:
    """Element-wise error function."""
    return _unary("erf", x, _RFLT, ew.erf, to_float=True)


def erfinv(x: Any, /) -> Any:
    """Element-wise inverse error function."""
    return _unary("erfinv", x, _RFLT, ew.erf_inv, to_float=True)


def lgamma(x: Any, /) -> Any:
    """Element-wise ``log|Gamma(x)|``."""
    return _unary("lgamma", x, _RFLT, ew.lgamma, to_float=True)


def digamma(x: Any, /) -> Any:
    """Element-wise digamma (psi) function; at 0 it is -inf (+inf at -0.0), as in SciPy."""
    def fn(v: Any) -> Any:
        pole = ew.neg(copysign(_full(v, np.inf), v))
        return ew.select(ew.eq(v, _full(v, 0)), pole, ew.digamma(v))

    return _unary("digamma", x, _RFLT, fn, to_float=True)


# --- rounding ------------------------------------------------------------------------------

def _int_identity(name: str, x: Any, fn: Callable) -> Any:
    x = to_array(name, x)
    d = dtype_of(x)
    if d.kind in "iu":
        return ensure_array(x)
    require(name, d, _RFLT, x, hint="complex values have no order; round the parts separately")
    return fn(x)


def floor(x: Any, /) -> Any:
    """Element-wise floor (integers are returned unchanged)."""
    return _int_identity("floor", x, ew.floor)


def ceil(x: Any, /) -> Any:
    """Element-wise ceiling (integers are returned unchanged)."""
    return _int_identity("ceil", x, ew.ceil)


def trunc(x: Any, /) -> Any:
    """Element-wise rounding towards zero (integers are returned unchanged)."""
    def fn(v: Any) -> Any:
        return ew.select(ew.lt(v, _full(v, 0)), ew.ceil(v), ew.floor(v))

    return _int_identity("trunc", x, fn)


def round(x: Any, /) -> Any:  # noqa: A001
    """Element-wise rounding to the nearest integer, halves to even (complex: per part)."""
    x = to_array("round", x)
    d = dtype_of(x)
    if d.kind in "iu":
        return ensure_array(x)
    require("round", d, _FLT, x)
    if d.kind == "c":
        return ew.complex_(ew.round(ew.real(x)), ew.round(ew.imag(x)))
    return ew.round(x)


# --- comparisons ---------------------------------------------------------------------------

def equal(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 == x2``."""
    return _binary("equal", x1, x2, _ALL, ew.eq)


def not_equal(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 != x2``."""
    return _binary("not_equal", x1, x2, _ALL, ew.ne)


def less(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 < x2``."""
    return _binary("less", x1, x2, _ALL - dt.COMPLEX, ew.lt)


def less_equal(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 <= x2``."""
    return _binary("less_equal", x1, x2, _ALL - dt.COMPLEX, ew.le)


def greater(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 > x2``."""
    return _binary("greater", x1, x2, _ALL - dt.COMPLEX, ew.gt)


def greater_equal(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 >= x2``."""
    return _binary("greater_equal", x1, x2, _ALL - dt.COMPLEX, ew.ge)


# --- classification ------------------------------------------------------------------------

def isnan(x: Any, /) -> Any:
    """Element-wise test for NaN (complex: either part)."""
    def fn(v: Any) -> Any:
        if v.dtype.kind in "biu":
            return _zeros_bool(v)
        return ew.ne(v, v)

    return _unary("isnan", x, _ALL, fn)


def isinf(x: Any, /) -> Any:
    """Element-wise test for +-inf (complex: either part)."""
    def fn(v: Any) -> Any:
        if v.dtype.kind in "biu":
            return _zeros_bool(v)
        if v.dtype.kind == "c":
            return ew.or_(isinf(ew.real(v)), isinf(ew.imag(v)))
        return ew.eq(ew.abs(v), _full(v, np.inf))

    return _unary("isinf", x, _ALL, fn)


def isfinite(x: Any, /) -> Any:
    """Element-wise test for finite values (complex: both parts)."""
    def fn(v: Any) -> Any:
        if v.dtype.kind in "biu":
            return _ones_bool(v)
        if v.dtype.kind == "c":
            return ew.and_(ew.is_finite(ew.real(v)), ew.is_finite(ew.imag(v)))
        return ew.is_finite(v)

    return _unary("isfinite", x, _ALL, fn)


def signbit(x: Any, /) -> Any:
    """Element-wise test of the sign bit (true for -0.0 and negative NaNs)."""
    def fn(v: Any) -> Any:
        if v.dtype.kind == "i":
            return ew.lt(v, _full(v, 0))
        if v.dtype.kind in "ub":
            return _zeros_bool(v)
        bits = dt.int_of_size(v.dtype.itemsize)
        as_int = ew.bitcast_convert(v, dtype=bits)
        return ew.lt(as_int, ew.full_like(as_int, 0))

    return _unary("signbit", x, _RNUM | dt.BOOL, fn)


def copysign(x1: Any, x2: Any, /) -> Any:
    """Element-wise magnitude of ``x1`` with the sign (bit) of ``x2``."""
    def fn(a: Any, b: Any) -> Any:
        mag = ew.abs(a)
        return ew.select(signbit(b), ew.neg(mag), mag)

    return _binary("copysign", x1, x2, _RFLT, fn, to_float=True)


def nextafter(x1: Any, x2: Any, /) -> Any:
    """Element-wise next representable value after ``x1`` towards ``x2``."""
    return _binary("nextafter", x1, x2, _RFLT, ew.next_after, to_float=True)


# --- complex parts -------------------------------------------------------------------------

def real(x: Any, /) -> Any:
    """Element-wise real part (real inputs are returned unchanged)."""
    x = to_array("real", x)
    return ew.real(x) if dtype_of(x).kind == "c" else ensure_array(x)


def imag(x: Any, /) -> Any:
    """Element-wise imaginary part (zeros for real inputs)."""
    x = to_array("imag", x)
    if dtype_of(x).kind == "c":
        return ew.imag(x)
    require("imag", dtype_of(x), _NUM, x)
    return sh.broadcast_in_dim(np.zeros((), dtype_of(x).np), shape=tuple(x.shape), dims=())


def conj(x: Any, /) -> Any:
    """Element-wise complex conjugate (real inputs are returned unchanged)."""
    x = to_array("conj", x)
    if dtype_of(x).kind != "c":
        return ensure_array(x)
    return ew.complex_(ew.real(x), ew.neg(ew.imag(x)))


# --- logical -------------------------------------------------------------------------------

def _as_bool(name: str, x: Any) -> Any:
    x = to_array(name, x)
    if dtype_of(x) is dt.bool_:
        return x
    return cast(name, x, dt.bool_)


def logical_and(x1: Any, x2: Any, /) -> Any:
    """Element-wise logical and (non-bool inputs are tested for non-zero)."""
    return _binary("logical_and", _as_bool("logical_and", x1), _as_bool("logical_and", x2),
                   dt.BOOL, ew.and_)


def logical_or(x1: Any, x2: Any, /) -> Any:
    """Element-wise logical or (non-bool inputs are tested for non-zero)."""
    return _binary("logical_or", _as_bool("logical_or", x1), _as_bool("logical_or", x2),
                   dt.BOOL, ew.or_)


def logical_xor(x1: Any, x2: Any, /) -> Any:
    """Element-wise logical xor (non-bool inputs are tested for non-zero)."""
    return _binary("logical_xor", _as_bool("logical_xor", x1), _as_bool("logical_xor", x2),
                   dt.BOOL, ew.xor)


def logical_not(x: Any, /) -> Any:
    """Element-wise logical not (non-bool inputs are tested for non-zero)."""
    return ew.not_(_as_bool("logical_not", x))


# --- bitwise -------------------------------------------------------------------------------

def bitwise_and(x1: Any, x2: Any, /) -> Any:
    """Element-wise bitwise and of integers or bools."""
    return _binary("bitwise_and", x1, x2, _IB, ew.and_)


def bitwise_or(x1: Any, x2: Any, /) -> Any:
    """Element-wise bitwise or of integers or bools."""
    return _binary("bitwise_or", x1, x2, _IB, ew.or_)


def bitwise_xor(x1: Any, x2: Any, /) -> Any:
    """Element-wise bitwise xor of integers or bools."""
    return _binary("bitwise_xor", x1, x2, _IB, ew.xor)


def bitwise_invert(x: Any, /) -> Any:
    """Element-wise bitwise not of integers or bools."""
    return _unary("bitwise_invert", x, _IB, ew.not_)


def bitwise_left_shift(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 << x2`` (shifts of the bit width or more give 0)."""
    return _binary("bitwise_left_shift", x1, x2, _INT, ew.shift_left)


def bitwise_right_shift(x1: Any, x2: Any, /) -> Any:
    """Element-wise ``x1 >> x2`` (arithmetic for signed, logical for unsigned integers)."""
    def fn(a: Any, b: Any) -> Any:
        if a.dtype.kind == "i":
            return ew.shift_right_arithmetic(a, b)
        return ew.shift_right_logical(a, b)

    return _binary("bitwise_right_shift", x1, x2, _INT, fn)


def bitwise_count(x: Any, /) -> Any:
    """Element-wise number of set bits (of ``|x|`` for signed integers, as NumPy)."""
    def fn(v: Any) -> Any:
        if v.dtype.kind == "i":
            v = ew.abs(v)
        return ew.convert(ew.popcnt(v), dtype=dt.uint8)

    return _unary("bitwise_count", x, _INT, fn)


__all__ = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "floor_divide",
    "remainder",
    "pow",
    "negative",
    "positive",
    "abs",
    "sign",
    "square",
    "reciprocal",
    "maximum",
    "minimum",
    "clip",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "logaddexp",
    "sqrt",
    "rsqrt",
    "cbrt",
    "hypot",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "sigmoid",
    "erf",
    "erfinv",
    "lgamma",
    "digamma",
    "floor",
    "ceil",
    "trunc",
    "round",
    "equal",
    "not_equal",
    "less",
    "less_equal",
    "greater",
    "greater_equal",
    "isnan",
    "isinf",
    "isfinite",
    "signbit",
    "copysign",
    "nextafter",
    "real",
    "imag",
    "conj",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "bitwise_count",
]
