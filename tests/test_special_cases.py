"""Special cases of the Array API standard for elementwise functions, real and complex.

The cases are data: one row per case of the standard (``function: inputs -> result``). Rows of
one function are batched into one array per dtype and checked eagerly and compiled. Complex
rows are written for ``imag >= 0`` as the standard lists them; the conjugate rows are derived
(``f(conj z) == conj f(z)`` for every function here).

Notation: ``nan inf -inf 0 -0 pi`` and numbers; ``a+bj`` is written ``(a, b)``; a result
component prefixed with ``~`` has an unspecified sign; ``@`` marks a value compared with a
tolerance (an approximation such as ``pi/2``).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest

import xfront as xf

PI = math.pi

# --- real unary: function: x -> result --------------------------------------------------------
REAL_UNARY = """
abs: nan -> nan | -inf -> inf | inf -> inf | -0 -> 0 | 0 -> 0
acos: nan -> nan | 1.5 -> nan | -1.5 -> nan | 1 -> 0
acosh: nan -> nan | 0.5 -> nan | 1 -> 0 | inf -> inf
asin: nan -> nan | 1.5 -> nan | -1.5 -> nan | 0 -> 0 | -0 -> -0
asinh: nan -> nan | 0 -> 0 | -0 -> -0 | inf -> inf | -inf -> -inf
atan: nan -> nan | 0 -> 0 | -0 -> -0 | inf -> @pi/2 | -inf -> @-pi/2
atanh: nan -> nan | -1.5 -> nan | 1.5 -> nan | -1 -> -inf | 1 -> inf | 0 -> 0 | -0 -> -0
ceil: nan -> nan | inf -> inf | -inf -> -inf | 0 -> 0 | -0 -> -0 | -0.5 -> -0
cos: nan -> nan | 0 -> 1 | -0 -> 1 | inf -> nan | -inf -> nan
cosh: nan -> nan | 0 -> 1 | -0 -> 1 | inf -> inf | -inf -> inf
exp: nan -> nan | 0 -> 1 | -0 -> 1 | inf -> inf | -inf -> 0
expm1: nan -> nan | 0 -> 0 | -0 -> -0 | inf -> inf | -inf -> -1
floor: nan -> nan | inf -> inf | -inf -> -inf | 0 -> 0 | -0 -> -0 | 0.5 -> 0
log: nan -> nan | -1 -> nan | 0 -> -inf | -0 -> -inf | 1 -> 0 | inf -> inf
log1p: nan -> nan | -2 -> nan | -1 -> -inf | -0 -> -0 | 0 -> 0 | inf -> inf
log2: nan -> nan | -1 -> nan | 0 -> -inf | -0 -> -inf | 1 -> 0 | inf -> inf
log10: nan -> nan | -1 -> nan | 0 -> -inf | -0 -> -inf | 1 -> 0 | inf -> inf
round: nan -> nan | inf -> inf | -inf -> -inf | 0 -> 0 | -0 -> -0 | 2.5 -> 2 | -0.5 -> -0
sign: nan -> nan | -0 -> 0 | 0 -> 0 | -inf -> -1 | inf -> 1
sin: nan -> nan | 0 -> 0 | -0 -> -0 | inf -> nan | -inf -> nan
sinh: nan -> nan | 0 -> 0 | -0 -> -0 | inf -> inf | -inf -> -inf
sqrt: nan -> nan | -1 -> nan | 0 -> 0 | -0 -> -0 | inf -> inf
square: nan -> nan | -inf -> inf | -0 -> 0
tan: nan -> nan | 0 -> 0 | -0 -> -0 | inf -> nan | -inf -> nan
tanh: nan -> nan | 0 -> 0 | -0 -> -0 | inf -> 1 | -inf -> -1
trunc: nan -> nan | inf -> inf | -inf -> -inf | 0 -> 0 | -0 -> -0 | -0.5 -> -0
isfinite: nan -> False | inf -> False | -inf -> False | 1 -> True | -0 -> True
isinf: nan -> False | inf -> True | -inf -> True | 1 -> False
isnan: nan -> True | inf -> False | -0 -> False
signbit: -0 -> True | 0 -> False | -inf -> True | inf -> False | -1 -> True
negative: 0 -> -0 | -0 -> 0 | inf -> -inf | -inf -> inf | nan -> nan
positive: -0 -> -0 | 0 -> 0 | -inf -> -inf | nan -> nan
"""

# --- real binary: function: x1, x2 -> result ---------------------------------------------------
REAL_BINARY = """
add: nan, 1 -> nan | inf, -inf -> nan | -inf, inf -> nan | inf, 1 -> inf | -0, -0 -> -0
    | -0, 0 -> 0 | 1, -1 -> 0
atan2: nan, 1 -> nan | 1, nan -> nan | 1, 0 -> @pi/2 | 1, -0 -> @pi/2 | 0, 1 -> 0 | 0, 0 -> 0
    | 0, -0 -> @pi | 0, -1 -> @pi | -0, 1 -> -0 | -0, 0 -> -0 | -0, -0 -> @-pi | -0, -1 -> @-pi
    | -1, 0 -> @-pi/2 | -1, -0 -> @-pi/2 | 1, inf -> 0 | 1, -inf -> @pi | -1, inf -> -0
    | -1, -inf -> @-pi | inf, 1 -> @pi/2 | -inf, 1 -> @-pi/2 | inf, inf -> @pi/4
    | inf, -inf -> @3*pi/4 | -inf, inf -> @-pi/4 | -inf, -inf -> @-3*pi/4
divide: nan, 1 -> nan | inf, inf -> nan | 0, 0 -> nan | -0, -0 -> nan | 0, 1 -> 0 | -0, 1 -> -0
    | 0, -1 -> -0 | 1, 0 -> inf | 1, -0 -> -inf | -1, 0 -> -inf | -1, -0 -> inf | inf, 2 -> inf
    | inf, -2 -> -inf | 2, inf -> 0 | 2, -inf -> -0 | -2, inf -> -0
floor_divide: nan, 1 -> nan | inf, inf -> nan | 0, 0 -> nan | inf, 2 -> inf | inf, -2 -> -inf
    | -inf, 2 -> -inf | -inf, -2 -> inf | 2, inf -> 0 | 2, -inf -> -0 | -2, inf -> -0
    | -2, -inf -> 0 | 1, 0 -> inf | -1, 0 -> -inf | 7, 2 -> 3 | -7, 2 -> -4
hypot: inf, nan -> inf | nan, -inf -> inf | nan, 1 -> nan | 0, -0 -> 0
logaddexp: nan, 1 -> nan | inf, nan -> nan | inf, 1 -> inf | 1, inf -> inf | -inf, -inf -> -inf
maximum: nan, 1 -> nan | 1, nan -> nan | -inf, 1 -> 1
minimum: nan, 1 -> nan | 1, nan -> nan | inf, 1 -> 1
multiply: nan, 1 -> nan | inf, 0 -> nan | -0, inf -> nan | inf, -inf -> -inf | -0, 2 -> -0
    | -0, -2 -> 0 | inf, 2 -> inf
pow: nan, 0 -> 1 | nan, -0 -> 1 | 1, nan -> 1 | nan, 1 -> nan | 2, inf -> inf | 0.5, inf -> 0
    | 2, -inf -> 0 | 0.5, -inf -> inf | -1, inf -> 1 | inf, 1 -> inf | inf, -1 -> 0
    | -inf, 3 -> -inf | -inf, 2 -> inf | -inf, -3 -> -0 | -inf, -2 -> 0 | 0, 1 -> 0 | 0, -1 -> inf
    | -0, 3 -> -0 | -0, 2 -> 0 | -0, -3 -> -inf | -0, -2 -> inf | -2, 0.5 -> nan
remainder: nan, 1 -> nan | inf, 2 -> nan | 1, 0 -> nan | 0, 2 -> 0 | -0, 2 -> 0 | 0, -2 -> -0
    | 5, inf -> 5 | 5, -inf -> -inf | -5, inf -> inf | -5, -inf -> -5
subtract: inf, inf -> nan | -inf, -inf -> nan | -0, 0 -> -0 | 0, 0 -> 0
copysign: 1, -0 -> -1 | nan, -1 -> ~nan | -2, 0 -> 2 | inf, -1 -> -inf | -0, 1 -> 0
equal: nan, nan -> False | nan, 1 -> False | 0, -0 -> True | inf, inf -> True
not_equal: nan, nan -> True | 1, nan -> True | -0, 0 -> False
less: nan, 1 -> False | 1, nan -> False | -0, 0 -> False | -inf, inf -> True
less_equal: nan, nan -> False | -0, 0 -> True | inf, inf -> True
greater: nan, 1 -> False | 0, -0 -> False | inf, -inf -> True
greater_equal: nan, nan -> False | inf, inf -> True | -0, 0 -> True
"""

# --- complex unary (imag >= 0; conjugates are derived): function: (a, b) -> (re, im) -----
COMPLEX_UNARY = """
abs: (inf, nan) -> inf | (nan, -inf) -> inf | (0, -3) -> 3 | (-4, 0) -> 4 | (nan, 1) -> nan
    | (nan, nan) -> nan
acos: (0, 0) -> (@pi/2, -0) | (-0, 0) -> (@pi/2, -0) | (0, nan) -> (@pi/2, nan)
    | (-0, nan) -> (@pi/2, nan) | (1.5, inf) -> (@pi/2, -inf) | (1.5, nan) -> (nan, nan)
    | (-inf, 1.5) -> (@pi, -inf) | (inf, 1.5) -> (0, -inf) | (-inf, inf) -> (@3*pi/4, -inf)
    | (inf, inf) -> (@pi/4, -inf) | (inf, nan) -> (nan, ~inf) | (-inf, nan) -> (nan, ~inf)
    | (nan, 1.5) -> (nan, nan) | (nan, inf) -> (nan, -inf) | (nan, nan) -> (nan, nan)
acosh: (0, 0) -> (0, @pi/2) | (-0, 0) -> (0, @pi/2) | (1.5, inf) -> (inf, @pi/2)
    | (1.5, nan) -> (nan, nan) | (0, nan) -> (nan, ~@pi/2) | (-inf, 1.5) -> (inf, @pi)
    | (inf, 1.5) -> (inf, 0) | (-inf, inf) -> (inf, @3*pi/4) | (inf, inf) -> (inf, @pi/4)
    | (inf, nan) -> (inf, nan) | (-inf, nan) -> (inf, nan) | (nan, 1.5) -> (nan, nan)
    | (nan, inf) -> (inf, nan) | (nan, nan) -> (nan, nan)
asinh: (0, 0) -> (0, 0) | (1.5, inf) -> (inf, @pi/2) | (1.5, nan) -> (nan, nan)
    | (inf, 1.5) -> (inf, 0) | (inf, inf) -> (inf, @pi/4) | (nan, 0) -> (nan, 0)
    | (nan, 1.5) -> (nan, nan) | (nan, inf) -> (~inf, nan) | (nan, nan) -> (nan, nan)
atanh: (0, 0) -> (0, 0) | (0, nan) -> (0, nan) | (1, 0) -> (inf, 0) | (1.5, inf) -> (0, @pi/2)
    | (1.5, nan) -> (nan, nan) | (inf, 1.5) -> (0, @pi/2) | (inf, inf) -> (0, @pi/2)
    | (inf, nan) -> (0, nan) | (nan, 1.5) -> (nan, nan) | (nan, inf) -> (~0, @pi/2)
    | (nan, nan) -> (nan, nan)
cosh: (0, 0) -> (1, 0) | (0, inf) -> (nan, ~0) | (0, nan) -> (nan, ~0) | (1.5, inf) -> (nan, nan)
    | (1.5, nan) -> (nan, nan) | (inf, 0) -> (inf, 0) | (inf, 1) -> (inf, inf)
    | (inf, 2) -> (-inf, inf) | (inf, inf) -> (~inf, nan) | (inf, nan) -> (inf, nan)
    | (nan, 0) -> (nan, ~0) | (nan, 1.5) -> (nan, nan) | (nan, nan) -> (nan, nan)
exp: (0, 0) -> (1, 0) | (-0, 0) -> (1, 0) | (1.5, inf) -> (nan, nan) | (1.5, nan) -> (nan, nan)
    | (inf, 0) -> (inf, 0) | (-inf, 1) -> (0, 0) | (-inf, 2) -> (-0, 0) | (inf, 1) -> (inf, inf)
    | (inf, 2) -> (-inf, inf) | (-inf, inf) -> (~0, ~0) | (inf, inf) -> (~inf, nan)
    | (-inf, nan) -> (~0, ~0) | (inf, nan) -> (~inf, nan) | (nan, 0) -> (nan, 0)
    | (nan, 1.5) -> (nan, nan) | (nan, nan) -> (nan, nan)
expm1: (0, 0) -> (~0, 0) | (-0, 0) -> (~0, 0) | (1.5, inf) -> (nan, nan)
    | (1.5, nan) -> (nan, nan) | (inf, 0) -> (inf, 0) | (-inf, 1) -> (-1, 0)
    | (inf, 1) -> (inf, inf) | (inf, 2) -> (-inf, inf) | (-inf, inf) -> (-1, ~0)
    | (inf, inf) -> (~inf, nan) | (-inf, nan) -> (-1, ~0) | (inf, nan) -> (~inf, nan)
    | (nan, 0) -> (nan, 0) | (nan, 1.5) -> (nan, nan) | (nan, nan) -> (nan, nan)
isfinite: (nan, 1) -> False | (1, nan) -> False | (inf, 1) -> False | (1, -inf) -> False
    | (1, 2) -> True
isinf: (inf, nan) -> True | (-inf, 1) -> True | (nan, inf) -> True | (1, -inf) -> True
    | (nan, 1) -> False | (1, 2) -> False
isnan: (nan, 1) -> True | (1, nan) -> True | (inf, 1) -> False
log: (-0, 0) -> (-inf, @pi) | (0, 0) -> (-inf, 0) | (1.5, inf) -> (inf, @pi/2)
    | (1.5, nan) -> (nan, nan) | (-inf, 1.5) -> (inf, @pi) | (inf, 1.5) -> (inf, 0)
    | (-inf, inf) -> (inf, @3*pi/4) | (inf, inf) -> (inf, @pi/4) | (inf, nan) -> (inf, nan)
    | (-inf, nan) -> (inf, nan) | (nan, 1.5) -> (nan, nan) | (nan, inf) -> (inf, nan)
    | (nan, nan) -> (nan, nan)
log1p: (-1, 0) -> (-inf, 0) | (1.5, inf) -> (inf, @pi/2) | (1.5, nan) -> (nan, nan)
    | (-inf, 1.5) -> (inf, @pi) | (inf, 1.5) -> (inf, 0) | (-inf, inf) -> (inf, @3*pi/4)
    | (inf, inf) -> (inf, @pi/4) | (inf, nan) -> (inf, nan) | (-inf, nan) -> (inf, nan)
    | (nan, 1.5) -> (nan, nan) | (nan, inf) -> (inf, nan) | (nan, nan) -> (nan, nan)
sign: (0, 0) -> (0, 0) | (-0, 0) -> (0, 0) | (0, -0) -> (0, 0) | (-0, -0) -> (0, 0)
    | (nan, 1) -> (nan, nan) | (1, nan) -> (nan, nan) | (0, 2) -> (0, 1) | (-3, 0) -> (-1, 0)
sinh: (0, 0) -> (0, 0) | (0, inf) -> (~0, nan) | (0, nan) -> (~0, nan) | (1.5, inf) -> (nan, nan)
    | (1.5, nan) -> (nan, nan) | (inf, 0) -> (inf, 0) | (inf, 1) -> (inf, inf)
    | (inf, 2) -> (-inf, inf) | (inf, inf) -> (~inf, nan) | (inf, nan) -> (~inf, nan)
    | (nan, 0) -> (nan, 0) | (nan, 1.5) -> (nan, nan) | (nan, nan) -> (nan, nan)
sqrt: (0, 0) -> (0, 0) | (-0, 0) -> (0, 0) | (1.5, inf) -> (inf, inf) | (nan, inf) -> (inf, inf)
    | (-inf, inf) -> (inf, inf) | (1.5, nan) -> (nan, nan) | (-inf, 1.5) -> (0, inf)
    | (inf, 1.5) -> (inf, 0) | (-inf, nan) -> (nan, ~inf) | (inf, nan) -> (inf, nan)
    | (nan, 1.5) -> (nan, nan) | (nan, nan) -> (nan, nan)
tanh: (0, 0) -> (0, 0) | (1.5, inf) -> (nan, nan) | (0, inf) -> (0, nan)
    | (1.5, nan) -> (nan, nan) | (0, nan) -> (0, nan) | (inf, 1.5) -> (1, 0)
    | (inf, inf) -> (1, ~0) | (inf, nan) -> (1, ~0) | (nan, 0) -> (nan, 0)
    | (nan, 1.5) -> (nan, nan) | (nan, nan) -> (nan, nan)
"""


def _value(tok: str) -> tuple[object, bool, bool]:
    """A scalar token -> (value, sign unspecified, approximate)."""
    tok = tok.strip()
    free = tok.startswith("~")
    tok = tok.lstrip("~")
    approx = tok.startswith("@")
    tok = tok.lstrip("@")
    if tok in ("True", "False"):
        return tok == "True", False, False
    try:
        return float(tok), free, approx  # keeps the sign of -0
    except ValueError:  # an expression of pi
        v = eval(tok, {"__builtins__": {}}, {"pi": PI})
        return float(v), free, approx


def _operand(tok: str):
    tok = tok.strip()
    if tok.startswith("("):
        re, im = tok.strip("()").split(",")
        return (_value(re), _value(im))
    return _value(tok)


def _parse(table: str, nargs: int) -> dict[str, list]:
    rows: dict[str, list] = defaultdict(list)
    lines: list[str] = []
    for line in table.strip().splitlines():  # an indented line continues the one above
        if line.startswith(" "):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    for line in lines:
        fn, cases = line.split(":", 1)
        for case in cases.split("|"):
            if not case.strip():
                continue
            lhs, rhs = case.split("->")
            if nargs == 1:
                args = [_operand(lhs)]
            else:
                args = [_operand(t) for t in lhs.split(",")]
            rows[fn.strip()].append((args, _operand(rhs)))
    return rows


REAL_ROWS = {**_parse(REAL_UNARY, 1), **{k: v for k, v in _parse(REAL_BINARY, 2).items()}}
COMPLEX_ROWS = _parse(COMPLEX_UNARY, 1)


def _conj_rows(rows: list) -> list:
    """The standard's rows plus their conjugates (f(conj z) == conj f(z))."""
    out = list(rows)
    for (z,), want in rows:
        (a, b) = z
        if b[0] == 0.0 or not math.isnan(b[0]):  # conj of a NaN imag is the same row
            cz = (a, (-b[0], b[1], b[2]))
            if isinstance(want, tuple) and len(want) == 2 and isinstance(want[0], tuple):
                (r, i) = want
                want = (r, (-i[0], i[1], i[2]))
            out.append(([cz], want))
    return out


def _show(args: list) -> str:
    def one(a):
        if isinstance(a[0], tuple):
            return "(" + ", ".join(one(p) for p in a) + ")"
        return ("~" if a[1] else "") + ("@" if a[2] else "") + repr(a[0])
    return "(" + ", ".join(one(a) for a in args) + ")"


def _check(fn_name: str, got: np.ndarray, rows: list, dtype: str) -> None:
    tol = 1e-6 if dtype in ("float32", "complex64") else 1e-12
    bad = []
    for k, (args, want) in enumerate(rows):
        g = got[k]
        parts = want if isinstance(want[0], tuple) else (want,)
        gparts = (g.real, g.imag) if len(parts) == 2 else (g,)
        for gp, (w, free, approx) in zip(gparts, parts):
            gp = gp.item() if hasattr(gp, "item") else gp
            if isinstance(w, bool):
                ok = bool(gp) is w
            elif math.isnan(w):
                ok = math.isnan(gp)
            elif approx:
                ok = (math.isclose(abs(gp), abs(w), rel_tol=tol) if free
                      else math.isclose(gp, w, rel_tol=tol))
            elif free:
                ok = abs(gp) == abs(w)
            else:
                ok = gp == w and math.copysign(1, gp) == math.copysign(1, w)
            if not ok:
                bad.append(f"{fn_name}{_show(args)} = {g!r}, want {_show([want])}")
                break
    assert not bad, "\n".join(bad)


def _column(rows: list, i: int, dtype: str) -> np.ndarray:
    vals = []
    for args, _ in rows:
        a = args[i]
        vals.append(complex(a[0][0], a[1][0]) if isinstance(a[0], tuple) else a[0])
    return np.asarray(vals, dtype=dtype)


def _run(fn_name: str, cols: list[np.ndarray], compiled: bool) -> np.ndarray:
    f = getattr(xf, fn_name)
    if compiled:
        f = xf.compile(f)
    return np.asarray(f(*[xf.asarray(c) for c in cols]))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn_name", sorted(REAL_ROWS))
def test_real_special_cases(fn_name, dtype, compiled):
    rows = REAL_ROWS[fn_name]
    nargs = len(rows[0][0])
    cols = [_column(rows, i, dtype) for i in range(nargs)]
    _check(fn_name, _run(fn_name, cols, compiled), rows, dtype)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("fn_name", sorted(COMPLEX_ROWS))
def test_complex_special_cases(fn_name, dtype, compiled):
    # sign's zero case is given for every sign of the zeros: no conjugate rows
    rows = COMPLEX_ROWS[fn_name] if fn_name == "sign" else _conj_rows(COMPLEX_ROWS[fn_name])
    got = _run(fn_name, [_column(rows, 0, dtype)], compiled)
    _check(fn_name, got, rows, dtype)


def test_table_covers_every_function_the_standard_gives_complex_cases():
    # the functions whose complex special cases the 2024.12 standard lists
    listed = {"abs", "acos", "acosh", "asinh", "atanh", "cosh", "exp", "expm1", "isfinite",
              "isinf", "isnan", "log", "log1p", "sign", "sinh", "sqrt", "tanh"}
    assert listed <= set(COMPLEX_ROWS)


def test_complex_special_values_keep_finite_results():
    # the fix-ups only touch non-finite inputs: finite values still match NumPy
    z = np.array([0.5 + 0.25j, -1.5 + 2j, 3 - 0.5j, -0.1 - 0.1j], np.complex128)
    for name, ref in [("exp", np.exp), ("expm1", np.expm1), ("log", np.log),
                      ("log1p", np.log1p), ("sqrt", np.sqrt), ("cosh", np.cosh),
                      ("sinh", np.sinh), ("tanh", np.tanh), ("acos", np.arccos),
                      ("acosh", np.arccosh), ("asinh", np.arcsinh), ("atanh", np.arctanh),
                      ("sign", lambda v: v / np.abs(v))]:
        np.testing.assert_allclose(np.asarray(getattr(xf, name)(xf.asarray(z))), ref(z),
                                   rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name", ["acos", "acosh"])
def test_huge_finite_real_part_with_nan_imaginary_part(name, dtype):
    # XLA's acos/acosh take an asymptotic path for huge |re|, which gave a finite real or
    # imaginary part for (finite, nan); the standard says nan + nan j
    big = float(np.finfo(np.dtype(dtype)).max) / 2  # the real part's largest finite values
    x = np.array([complex(big, np.nan), complex(-big, np.nan), complex(1.5, np.nan)], dtype)
    fn = getattr(xf, name)
    for got in (fn(xf.asarray(x)), xf.compile(fn)(x)):
        got = np.asarray(got)
        assert np.isnan(got.real).all() and np.isnan(got.imag).all(), got


# --- cumulative_prod: zeros, infs and NaNs follow the sequential product ------------------------
# One row per case, a sequence scanned left to right; B is a big and T a tiny value of the dtype
# (B * B overflows, T * T underflows to exactly 0, B * T is moderate), so that a parallel scan
# that groups the products differently meets 0 * inf where the sequential product does not.
# Rows avoid a finite prefix that overflows (underflows) before a 0 (an inf) arrives: there the
# sequential product is NaN and the order-independent result is not (see NOTE [Special values
# of a floating cumulative product] in xfront/lowering/rules/reduction.py).
CUMPROD_ROWS = """
0 B B
inf T T
-inf T -T 2
-0 B -B 2
0 B B B B B B B B
inf T T T T T T T T
1 2 0 B B B -B B B
-2 -inf T T T -T T T 3
nan 0 inf 1
1 nan B B
0 inf 1
inf 0
-0 -0 -0
B T -B T 0 B B
-B T 2 -T -inf B
0 B B T T
-inf B B T T
-0 T T B B -2
"""
_CUM_BT = {"float16": (300.0, 1e-4), "bfloat16": (1e30, 1e-30), "float32": (1e30, 1e-30),
           "float64": (1e200, 1e-200)}
_CUM_RTOL = {"float16": 1e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": 1e-12}


def _cum_dtype(name: str) -> np.dtype:
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def _cumprod_matrix(dtype: str) -> np.ndarray:
    """The rows above as one (rows, 9) array, each padded with trailing 1s (which change no
    prefix)."""
    big, tiny = _CUM_BT[dtype]
    tok = {"B": big, "-B": -big, "T": tiny, "-T": -tiny}
    rows = [[tok[t] if t in tok else float(t) for t in line.split()]
            for line in CUMPROD_ROWS.strip().splitlines()]
    width = max(map(len, rows))
    return np.asarray([r + [1.0] * (width - len(r)) for r in rows], dtype=_cum_dtype(dtype))


def _cum_expect(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.cumprod(x, axis=axis)


def _cum_check(got, want: np.ndarray, dtype: str, what: str) -> None:
    got = np.asarray(got).astype(np.float64)
    want = want.astype(np.float64)
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, rtol=_CUM_RTOL[dtype], atol=0, equal_nan=True,
                               err_msg=what)
    keep = ~np.isnan(want)  # signed zeros and signed infs: the sign must match too
    np.testing.assert_array_equal(np.signbit(got[keep]), np.signbit(want[keep]), err_msg=what)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("dtype", sorted(_CUM_BT))
def test_cumulative_prod_special_values_follow_the_sequential_product(dtype, compiled):
    from xfront.prims import reduction as _red

    m = _cumprod_matrix(dtype)
    want = _cum_expect(m, 1)

    def run(fn, *args):
        return (xf.compile(fn) if compiled else fn)(*[xf.asarray(a) for a in args])

    _cum_check(run(lambda x: xf.cumulative_prod(x, axis=1), m), want, dtype, "axis 1")
    _cum_check(run(lambda x: xf.cumulative_prod(x, axis=0), m.T), want.T, dtype, "axis 0")
    # reverse=True (the primitive's flag): the flipped rows scanned from the end
    _cum_check(run(lambda x: _red.cumprod(x, axis=1, reverse=True), np.flip(m, 1)),
               np.flip(want, 1), dtype, "reverse")
    for row, w in zip(m, want):  # 1-D, and 0-d (flattened to one element, as NumPy does)
        _cum_check(run(xf.cumulative_prod, row), w, dtype, f"1-D {row}")
    for v in (0.0, -0.0, float("inf"), float("-inf"), float("nan")):
        x = np.asarray(v, dtype=m.dtype)
        _cum_check(run(xf.cumulative_prod, x), _cum_expect(x, None), dtype, f"0-d {v}")


@pytest.mark.parametrize("shape,axis", [((0,), 0), ((0, 3), 0), ((2, 0), 1), ((3, 0), 0)])
def test_cumulative_prod_zero_size(shape, axis):
    x = np.zeros(shape, np.float32)
    for f in (xf.cumulative_prod, xf.compile(xf.cumulative_prod, static_argnames=("axis",))):
        got = np.asarray(f(xf.asarray(x), axis=axis))
        assert got.shape == shape and got.dtype == np.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cumulative_prod_special_values_symbolic_axes(dtype):
    from xfront.prims import reduction as _red

    m = _cumprod_matrix(dtype)
    want = _cum_expect(m, 1)
    along1 = xf.compile(lambda x: xf.cumulative_prod(x, axis=1), polymorphic=("b, c",))
    along0 = xf.compile(lambda x: xf.cumulative_prod(x, axis=0), polymorphic=("b, c",))
    rev = xf.compile(lambda x: _red.cumprod(x, axis=1, reverse=True), polymorphic=("b, c",))
    for cols in (9, 5, 3):  # prefixes keep each row's sequential products
        _cum_check(along1(m[:, :cols]), want[:, :cols], dtype, f"symbolic axis 1, {cols}")
        _cum_check(along0(m[:, :cols].T), want[:, :cols].T, dtype, f"symbolic axis 0, {cols}")
        _cum_check(rev(np.flip(m[:, :cols], 1)), np.flip(want[:, :cols], 1), dtype,
                   f"symbolic reverse, {cols}")
