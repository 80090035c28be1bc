"""Lowering rules for elementwise primitives."""

from __future__ import annotations

from typing import Callable

from xfront import _dtypes
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, enum


def elementwise(op_name: str) -> Callable:
    """Rule for a primitive that maps 1:1 onto an elementwise StableHLO/CHLO op."""

    def rule(ctx: LoweringRuleContext, *xs: Value, **params) -> list[Value]:
        return ctx.op(op_name, xs)

    rule.__name__ = f"lower_{op_name.replace('.', '_')}"
    return rule


def compare_type(d: _dtypes.DType) -> str:
    if d.kind in "fc":
        return "FLOAT"
    if d.kind == "i":
        return "SIGNED"
    return "UNSIGNED"  # unsigned ints and bool (i1)


def compare(direction: str) -> Callable:
    def rule(ctx: LoweringRuleContext, x: Value, y: Value) -> list[Value]:
        props = {"comparison_direction": enum("comparison_direction", direction),
                 "compare_type": enum("comparison_type", compare_type(x.aval.dtype))}
        return ctx.op("stablehlo.compare", [x, y], props=props)

    rule.__name__ = f"lower_compare_{direction}"
    return rule


def convert(ctx: LoweringRuleContext, x: Value, *, dtype) -> list[Value]:
    src, dst = x.aval.dtype, ctx.avals_out[0].dtype
    if src is dst:
        return [x]
    if src.kind == "c" and dst.kind not in "cb":
        # NumPy semantics: complex -> real keeps the real part
        x = ctx.op1("stablehlo.real", [x], x.aval.update(dtype=_dtypes.real_dtype(src)))
        src = x.aval.dtype
        if src is dst:
            return [x]
    if dst is _dtypes.bool_ and src is not _dtypes.bool_:
        # x != 0 (stablehlo.convert to i1 is not defined for every source type)
        zero = ctx.full(0, x.aval)
        props = {"comparison_direction": enum("comparison_direction", "NE"),
                 "compare_type": enum("comparison_type", compare_type(src))}
        return ctx.op("stablehlo.compare", [x, zero], props=props)
    return ctx.op("stablehlo.convert", [x])


def bitcast_convert(ctx: LoweringRuleContext, x: Value, *, dtype) -> list[Value]:
    return ctx.op("stablehlo.bitcast_convert", [x])


def select(ctx: LoweringRuleContext, pred: Value, on_true: Value, on_false: Value) -> list[Value]:
    return ctx.op("stablehlo.select", [pred, on_true, on_false])


def clamp(ctx: LoweringRuleContext, lo: Value, x: Value, hi: Value) -> list[Value]:
    return ctx.op("stablehlo.clamp", [lo, x, hi])


# --- complex special values (C99 Annex G, as the Array API standard lists them) -----------------

class _Cx:
    """Small expression helpers over a complex operand's real and imaginary parts (rules only)."""

    def __init__(self, ctx: LoweringRuleContext, x: Value):
        self.ctx = ctx
        self.caval = x.aval
        self.raval = x.aval.update(dtype=_dtypes.real_dtype(x.aval.dtype))
        self.baval = x.aval.update(dtype=_dtypes.bool_)
        self.re = self.part("real", x)
        self.im = self.part("imag", x)

    def part(self, which: str, z: Value) -> Value:
        return self.ctx.op1(f"stablehlo.{which}", [z], self.raval)

    def c(self, v: float) -> Value:
        return self.ctx.full(v, self.raval)

    def un(self, name: str, v: Value) -> Value:
        return self.ctx.op1(name, [v], self.raval)

    def cmp(self, direction: str, a: Value, b: Value) -> Value:
        props = {"comparison_direction": enum("comparison_direction", direction),
                 "compare_type": enum("comparison_type", "FLOAT")}
        return self.ctx.op1("stablehlo.compare", [a, b], self.baval, props=props)

    def and_(self, *ps: Value) -> Value:
        out = ps[0]
        for p in ps[1:]:
            out = self.ctx.op1("stablehlo.and", [out, p], self.baval)
        return out

    def or_(self, *ps: Value) -> Value:
        out = ps[0]
        for p in ps[1:]:
            out = self.ctx.op1("stablehlo.or", [out, p], self.baval)
        return out

    def not_(self, p: Value) -> Value:
        return self.ctx.op1("stablehlo.not", [p], self.baval)

    def nan(self, v: Value) -> Value:
        return self.cmp("NE", v, v)

    def zero(self, v: Value) -> Value:
        return self.cmp("EQ", v, self.c(0.0))

    def inf(self, v: Value) -> Value:  # either sign
        return self.cmp("EQ", self.un("stablehlo.abs", v), self.c(float("inf")))

    def posinf(self, v: Value) -> Value:
        return self.cmp("EQ", v, self.c(float("inf")))

    def neginf(self, v: Value) -> Value:
        return self.cmp("EQ", v, self.c(float("-inf")))

    def finite(self, v: Value) -> Value:
        return self.ctx.op1("stablehlo.is_finite", [v], self.baval)

    def negative(self, v: Value) -> Value:
        """The sign bit is set (also for -0.0 and negative NaNs)."""
        ity = _dtypes.int_of_size(self.raval.dtype.itemsize)
        bits = self.ctx.op1("stablehlo.bitcast_convert", [v], self.raval.update(dtype=ity))
        zero = self.ctx.full(0, self.raval.update(dtype=ity))
        props = {"comparison_direction": enum("comparison_direction", "LT"),
                 "compare_type": enum("comparison_type", "SIGNED")}
        return self.ctx.op1("stablehlo.compare", [bits, zero], self.baval, props=props)

    def select(self, p: Value, a: Value, b: Value) -> Value:
        return self.ctx.op1("stablehlo.select", [p, a, b], self.raval)

    def complex(self, re: Value, im: Value) -> Value:
        return self.ctx.op1("stablehlo.complex", [re, im], self.caval)


NAN, INF, PI = float("nan"), float("inf"), 3.141592653589793


def complex_special_cases(base: Callable, symmetry: str, cases: Callable) -> Callable:
    """Wrap an elementwise rule so that complex inputs get the standard's special values.

    ``cases(e, re, im)`` lists ``(condition, real, imag)`` triples (later ones win) for inputs
    reduced by the function's symmetry: ``im >= 0`` always (``f(conj z) == conj f(z)``), and
    ``re >= 0`` too for ``"odd"`` (``f(-z) == -f(z)``) and ``"even"`` (``f(-z) == f(z)``)
    functions; the result is mapped back. Values are real scalars or rule values. Real inputs
    take ``base`` unchanged.

    NOTE [Complex special values]
        XLA's complex functions are accurate for finite inputs but do not follow C99 Annex G
        at infinities and NaNs (e.g. ``exp(-inf + inf j)`` is NaN instead of ``0 + 0j``). The
        standard requires those values, so these rules select them after the XLA op.
    """

    def rule(ctx: LoweringRuleContext, x: Value, **params) -> list[Value]:
        out = base(ctx, x, **params)[0]
        if x.aval.dtype.kind != "c":
            return [out]
        e = _Cx(ctx, x)
        re_neg, im_neg = e.negative(e.re), e.negative(e.im)
        re = e.un("stablehlo.abs", e.re) if symmetry in ("odd", "even") else e.re
        im = e.un("stablehlo.abs", e.im)
        # XLA's real part in the reduced frame (odd functions here are >= 0 for re >= 0)
        e.out_re = e.part("real", out)
        if symmetry == "odd":
            e.out_re = e.un("stablehlo.abs", e.out_re)
        hit = None
        r_fix = i_fix = None
        for cond, r, i in cases(e, re, im):
            r = e.c(r) if isinstance(r, float) else r
            i = e.c(i) if isinstance(i, float) else i
            if hit is None:
                hit, r_fix, i_fix = cond, r, i
            else:
                hit = e.or_(hit, cond)
                r_fix, i_fix = e.select(cond, r, r_fix), e.select(cond, i, i_fix)
        # map the reduced input's value back: conj when im (times the sign of re for odd/even
        # functions) is negative, negate when re is negative for odd functions
        flip_im = im_neg
        if symmetry in ("odd", "even"):
            flip_im = ctx.op1("stablehlo.xor", [im_neg, re_neg], e.baval)
        i_fix = e.select(flip_im, e.un("stablehlo.negate", i_fix), i_fix)
        if symmetry == "odd":
            r_fix = e.select(re_neg, e.un("stablehlo.negate", r_fix), r_fix)
            i_fix = e.select(re_neg, e.un("stablehlo.negate", i_fix), i_fix)
        r_out = e.select(hit, r_fix, e.part("real", out))
        i_out = e.select(hit, i_fix, e.part("imag", out))
        return [e.complex(r_out, i_out)]

    rule.__name__ = getattr(base, "__name__", "rule") + "_c99"
    return rule


# Each table: the standard's cases for re/im of the reduced input (see complex_special_cases).
def exp_cases(e: _Cx, re: Value, im: Value, one: float = 0.0) -> list:
    # exp (expm1 with one=1): infinities and NaNs (C99 G.6.3.1); a real input keeps the sign
    # of its zero imaginary part (XLA drops it)
    return [
        (e.zero(im), e.out_re, 0.0),
        (e.and_(e.neginf(re), e.not_(e.finite(im))), 0.0 - one, 0.0),  # -inf + (inf|nan) j
        (e.and_(e.posinf(re), e.inf(im)), INF, NAN),
        (e.and_(e.posinf(re), e.nan(im)), INF, NAN),
        (e.and_(e.nan(re), e.zero(im)), NAN, 0.0),
    ]


def expm1_cases(e: _Cx, re: Value, im: Value) -> list:
    return exp_cases(e, re, im, one=1.0)


def log_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.and_(e.inf(re), e.nan(im)), INF, NAN),
        (e.and_(e.nan(re), e.inf(im)), INF, NAN),
    ]


def sqrt_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.and_(e.zero(re), e.zero(im)), 0.0, 0.0),
        (e.and_(e.neginf(re), e.nan(im)), NAN, INF),
        (e.and_(e.posinf(re), e.nan(im)), INF, NAN),
        (e.inf(im), INF, INF),  # any re, including NaN
    ]


def cosh_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.zero(im), e.out_re, 0.0),  # real input: keeps the sign of the zero imaginary part
        (e.and_(e.zero(re), e.not_(e.finite(im))), NAN, 0.0),
        (e.and_(e.posinf(re), e.not_(e.finite(im))), INF, NAN),
        (e.and_(e.nan(re), e.zero(im)), NAN, 0.0),
    ]


def sinh_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.zero(im), e.out_re, 0.0),  # real input: keeps the sign of the zero imaginary part
        (e.and_(e.zero(re), e.not_(e.finite(im))), 0.0, NAN),
        (e.and_(e.posinf(re), e.not_(e.finite(im))), INF, NAN),
        (e.and_(e.nan(re), e.zero(im)), NAN, 0.0),
    ]


def tanh_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.zero(im), e.out_re, 0.0),  # real input: keeps the sign of the zero imaginary part
        (e.and_(e.zero(re), e.not_(e.finite(im))), 0.0, NAN),
        (e.posinf(re), 1.0, 0.0),  # any im, finite or not
        (e.and_(e.nan(re), e.zero(im)), NAN, 0.0),
    ]


def acos_cases(e: _Cx, re: Value, im: Value) -> list:
    # NOTE: chlo.acos/acosh switch to an asymptotic formula for huge |re|, which turns
    # (finite, nan) into a finite part instead of the standard's nan + nan j
    return [
        (e.and_(e.zero(re), e.zero(im)), PI / 2, -0.0),
        (e.and_(e.zero(re), e.nan(im)), PI / 2, NAN),
        (e.and_(e.finite(re), e.not_(e.zero(re)), e.nan(im)), NAN, NAN),
    ]


def acosh_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.and_(e.zero(re), e.zero(im)), 0.0, PI / 2),
        (e.and_(e.zero(re), e.nan(im)), NAN, PI / 2),
        (e.and_(e.finite(re), e.not_(e.zero(re)), e.nan(im)), NAN, NAN),  # see acos_cases
    ]


def asinh_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.and_(e.nan(re), e.zero(im)), NAN, 0.0),
        (e.and_(e.nan(re), e.finite(im), e.not_(e.zero(im))), NAN, NAN),
    ]


def atanh_cases(e: _Cx, re: Value, im: Value) -> list:
    return [
        (e.and_(e.zero(re), e.nan(im)), 0.0, NAN),
        (e.and_(e.finite(re), e.not_(e.zero(re)), e.nan(im)), NAN, NAN),
        (e.and_(e.posinf(re), e.nan(im)), 0.0, NAN),
        (e.and_(e.nan(re), e.finite(im)), NAN, NAN),
        (e.and_(e.nan(re), e.nan(im)), NAN, NAN),
    ]


# the rules the primitives use
lower_sqrt = complex_special_cases(elementwise("stablehlo.sqrt"), "conj", sqrt_cases)
lower_exp = complex_special_cases(elementwise("stablehlo.exponential"), "conj", exp_cases)
lower_expm1 = complex_special_cases(elementwise("stablehlo.exponential_minus_one"), "conj",
                                    expm1_cases)
lower_log = complex_special_cases(elementwise("stablehlo.log"), "conj", log_cases)
lower_log1p = complex_special_cases(elementwise("stablehlo.log_plus_one"), "conj", log_cases)
lower_tanh = complex_special_cases(elementwise("stablehlo.tanh"), "odd", tanh_cases)
lower_acos = complex_special_cases(elementwise("chlo.acos"), "conj", acos_cases)
lower_sinh = complex_special_cases(elementwise("chlo.sinh"), "odd", sinh_cases)
lower_cosh = complex_special_cases(elementwise("chlo.cosh"), "even", cosh_cases)
lower_asinh = complex_special_cases(elementwise("chlo.asinh"), "odd", asinh_cases)
lower_acosh = complex_special_cases(elementwise("chlo.acosh"), "conj", acosh_cases)
lower_atanh = complex_special_cases(elementwise("chlo.atanh"), "odd", atanh_cases)


def lower_abs(ctx: LoweringRuleContext, x: Value) -> list[Value]:
    """abs: ``|z|`` is +inf when either part is infinite, even if the other is NaN (C99 hypot;
    XLA gives NaN there)."""
    out = ctx.op1("stablehlo.abs", [x])
    if x.aval.dtype.kind != "c":
        return [out]
    e = _Cx(ctx, x)
    return [e.select(e.or_(e.inf(e.re), e.inf(e.im)), e.c(INF), out)]


def complex_sign(ctx: LoweringRuleContext, x: Value) -> list[Value]:
    """sign: ``z / |z|``, and ``0 + 0j`` at zero (XLA gives NaN there)."""
    out = ctx.op1("stablehlo.sign", [x])
    if x.aval.dtype.kind != "c":
        return [out]
    e = _Cx(ctx, x)
    at_zero = e.and_(e.zero(e.re), e.zero(e.im))
    zero = e.c(0.0)
    return [e.complex(e.select(at_zero, zero, e.part("real", out)),
                      e.select(at_zero, zero, e.part("imag", out)))]
