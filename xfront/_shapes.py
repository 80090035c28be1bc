"""Symbolic dimensions: the dimension of an abstract value is an ``int`` or a ``Dim``.

Imports: _errors only.

A ``Dim`` is a polynomial with integer coefficients over *atoms*: named symbols (``b``) and
the non-polynomial forms ``floordiv(e, k)``, ``mod(e, k)`` (by positive constants), ``max(e, f)``
and ``min(e, f)``. Arithmetic (``+ - *``, ``//`` and ``%`` by constants, ``max``/``min`` via
``dim_max``/``dim_min``) builds new expressions; an expression that turns out constant is
returned as a plain ``int``, so static shapes never hold ``Dim`` objects.

NOTE [Deciding facts about symbolic dimensions]
    Every symbol stands for an integer in [1, 2**31 - 1]. ``==`` and ``!=`` compare normal
    forms, so they always answer: ``b == 4`` is False (it does not hold for every ``b``), as in jax.export.
    An order comparison (``<``, ``>=`` ...) answers when a lower or upper bound of the
    difference decides it (each symbol >= 1, ``floordiv``/``mod`` >= 0) and otherwise raises
    ``InconclusiveDimensionError`` naming the expressions. ``int(d)`` and ``bool(d)`` of an
    undecidable ``Dim`` raise the same way. A constant modulo a symbolic dimension (``k % b``,
    a roll's shift) is an atom in [0, b - 1]. Shape rules therefore keep one rule: a fact that
    cannot be proved (a reshape needing ``b % 4 == 0``, a broadcast of ``b`` against ``4``)
    fails at trace time with an error naming the symbol and the constraint. Nothing is deferred
    to call time, except that every occurrence of one symbol must get one size (checked per
    call by ``xfront.compile``).
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Union

from xfront import _errors

DimLike = Union[int, "Dim"]


class InconclusiveDimensionError(_errors.ShapeError):
    """A fact about symbolic dimensions that does not hold for every size of its symbols."""


def _inconclusive(what: str, why: str = "") -> InconclusiveDimensionError:
    # (with the user's line that reached it: the op is not known here)
    return InconclusiveDimensionError(_errors._with_site(
        f"xfront: symbolic dimensions: cannot decide {what} for every value of the symbols "
        f"(each symbol stands for any size from 1 to 2**31 - 1){': ' + why if why else ''}. "
        "Make the dimension static, or use a symbolic shape for which it holds.", None))


# A monomial is a sorted tuple of (atom, power); an atom is a symbol name (str) or a tuple
# (kind, operand, operand) for floordiv/mod/max/min. A polynomial is a dict monomial -> coef.

def _atom_key(a: Any) -> str:
    return a if isinstance(a, str) else repr(a)


def _mono_mul(m1: tuple, m2: tuple) -> tuple:
    d: dict[Any, int] = dict(m1)
    for a, p in m2:
        d[a] = d.get(a, 0) + p
    return tuple(sorted(d.items(), key=lambda t: _atom_key(t[0])))


def _poly(x: DimLike) -> dict[tuple, int]:
    if isinstance(x, Dim):
        return dict(x._terms)
    return {(): int(x)} if x else {}


def _make(terms: dict[tuple, int]) -> DimLike:
    terms = {m: c for m, c in terms.items() if c}
    if not terms:
        return 0
    if list(terms) == [()]:
        return terms[()]
    return Dim._from(terms)


def _add(a: DimLike, b: DimLike, sign: int = 1) -> DimLike:
    t = _poly(a)
    for m, c in _poly(b).items():
        t[m] = t.get(m, 0) + sign * c
    return _make(t)


def _mul(a: DimLike, b: DimLike) -> DimLike:
    t: dict[tuple, int] = {}
    for m1, c1 in _poly(a).items():
        for m2, c2 in _poly(b).items():
            m = _mono_mul(m1, m2)
            t[m] = t.get(m, 0) + c1 * c2
    return _make(t)


# NOTE: each symbol ranges over [1, MAX_SIZE]: sizes are read in lowered programs with
# stablehlo.get_dimension_size, whose result is an i32.
MAX_SIZE = 2 ** 31 - 1


def _atom_range(a: Any) -> tuple[float, float]:
    if isinstance(a, str):
        return 1, MAX_SIZE
    kind, x, y = a
    if kind == "floordiv":
        lo, hi = _range(x)
        return math.floor(lo / y), math.floor(hi / y)
    if kind == "mod":
        return 0, (y if isinstance(y, int) else upper_bound(y)) - 1
    (lx, hx), (ly, hy) = _range(x), _range(y)
    return (max(lx, ly), max(hx, hy)) if kind == "max" else (min(lx, ly), min(hx, hy))


def _range(x: DimLike) -> tuple[float, float]:
    """Interval arithmetic bounds of ``x`` over the symbols' ranges."""
    if not isinstance(x, Dim):
        return int(x), int(x)
    lo = hi = 0.0
    for m, c in x._terms:
        mlo = mhi = 1.0
        for a, p in m:
            alo, ahi = _atom_range(a)
            if alo < 0:
                return -math.inf, math.inf
            mlo, mhi = mlo * alo ** p, mhi * ahi ** p
        if c >= 0:
            lo, hi = lo + c * mlo, hi + c * mhi
        else:
            lo, hi = lo + c * mhi, hi + c * mlo
    return lo, hi


def lower_bound(x: DimLike) -> float:
    """A lower bound of ``x`` over all symbol values in [1, MAX_SIZE]."""
    if not isinstance(x, Dim):
        return int(x)
    best = _range(x)[0]
    # a max(p, q) term with a positive coefficient is >= each of p and q (and a min with a
    # negative one): bound ``x`` with the term replaced by either operand, keep the better
    for m, c in x._terms:
        if len(m) == 1 and m[0][1] == 1 and not isinstance(m[0][0], str):
            kind, p, q = m[0][0]
            if (kind == "max" and c > 0) or (kind == "min" and c < 0):
                rest = _add(x, _make({m: c}), -1)
                best = max(best, lower_bound(_add(rest, _mul(p, c))),
                           lower_bound(_add(rest, _mul(q, c))))
            elif kind in ("max", "min"):
                # the term equals c*p or c*q: x is at least the smaller of the two bounds
                rest = _add(x, _make({m: c}), -1)
                best = max(best, min(lower_bound(_add(rest, _mul(p, c))),
                                     lower_bound(_add(rest, _mul(q, c)))))
            # mod(p, q) <= q - 1 for a symbolic q too, so with a negative coefficient the
            # term is >= c*(q - 1): n - mod(k, n) >= 1
            if kind == "mod" and c < 0 and isinstance(q, Dim):
                rest = _add(x, _make({m: c}), -1)
                best = max(best, lower_bound(_add(rest, _mul(_add(q, 1, -1), c))))
            # (p - (k - 1)) / k <= floordiv(p, k) <= p / k: bound k*x with the term replaced
            # by the side its coefficient's sign picks, then divide by k
            if kind == "floordiv":
                rest = _add(x, _make({m: c}), -1)
                side = p if c < 0 else _add(p, q - 1, -1)
                best = max(best, lower_bound(_add(_mul(rest, q), _mul(side, c))) / q)
            # k*floordiv(p, k) is p - mod(p, k), within [p - (k - 1), p]
            if kind == "floordiv" and c % q == 0:
                rest = _add(x, _make({m: c}), -1)
                r = c // q
                best = max(best, lower_bound(_add(rest, _mul(p, r))) - (r * (q - 1) if c > 0
                                                                        else 0))
    return best


def upper_bound(x: DimLike) -> float:
    """An upper bound of ``x`` over all symbol values in [1, MAX_SIZE]."""
    if not isinstance(x, Dim):
        return int(x)
    return -lower_bound(-x)


class Dim:
    """A symbolic dimension (see the module docstring). Immutable and hashable."""

    __slots__ = ("_terms", "_hash")

    _terms: tuple

    @classmethod
    def _from(cls, terms: dict[tuple, int]) -> Dim:
        self = object.__new__(cls)
        self._terms = tuple(sorted(terms.items(), key=lambda t: (-_deg(t[0]), repr(t[0]))))
        self._hash = hash(self._terms)
        return self

    # --- arithmetic ---------------------------------------------------------------------------
    def __add__(self, o: Any) -> DimLike:
        return _add(self, _check(o, "+")) if _is_dimlike(o) else NotImplemented

    __radd__ = __add__

    def __sub__(self, o: Any) -> DimLike:
        return _add(self, _check(o, "-"), -1) if _is_dimlike(o) else NotImplemented

    def __rsub__(self, o: Any) -> DimLike:
        return _add(_check(o, "-"), self, -1) if _is_dimlike(o) else NotImplemented

    def __neg__(self) -> DimLike:
        return _add(0, self, -1)

    def __mul__(self, o: Any) -> DimLike:
        return _mul(self, _check(o, "*")) if _is_dimlike(o) else NotImplemented

    __rmul__ = __mul__

    def __floordiv__(self, o: Any) -> DimLike:
        if not _is_dimlike(o):
            return NotImplemented
        q = exact_div(self, o)
        if q is not None:
            return q
        if isinstance(o, Dim) or o <= 0:
            raise _inconclusive(f"{self} // {o}", "floor division of a symbolic dimension is "
                                "supported by positive constants and exact divisors only")
        return _make({((("floordiv", self, int(o)), 1),): 1})

    def __rfloordiv__(self, o: Any) -> DimLike:
        if not _is_dimlike(o):
            return NotImplemented
        if o == 0:
            return 0
        raise _inconclusive(f"{o} // {self}", "division by a symbolic dimension")

    def __mod__(self, o: Any) -> DimLike:
        if not _is_dimlike(o):
            return NotImplemented
        if exact_div(self, o) is not None:
            return 0
        if isinstance(o, Dim) or o <= 0:
            raise _inconclusive(f"{self} % {o}", "modulo of a symbolic dimension is supported "
                                "by positive constants only")
        return _make({((("mod", self, int(o)), 1),): 1})

    def __rmod__(self, o: Any) -> DimLike:
        # ``k % d`` of a constant k (a roll's shift modulo a symbolic length): an atom in
        # [0, d - 1] (NOTE [Deciding facts about symbolic dimensions])
        if not _is_dimlike(o):
            return NotImplemented
        if o == 0:
            return 0
        return _make({((("mod", int(o.__index__()), self), 1),): 1})

    def __pow__(self, k: Any) -> DimLike:
        if type(k) is not int or k < 0:
            return NotImplemented
        out: DimLike = 1
        for _ in range(k):
            out = _mul(out, self)
        return out

    # --- comparisons (NOTE [Deciding facts about symbolic dimensions]) ------------------------
    def __eq__(self, o: Any) -> bool:
        if isinstance(o, Dim):
            return self._terms == o._terms
        if _is_dimlike(o):
            return False  # a Dim is never constant
        return NotImplemented

    def __ne__(self, o: Any) -> bool:
        r = self.__eq__(o)
        return r if r is NotImplemented else not r

    def __hash__(self) -> int:
        return self._hash

    def _cmp(self, o: Any, op: str, true_if: Any, false_if: Any) -> Any:
        if not _is_dimlike(o):
            return NotImplemented
        d = _add(self, _check(o, op), -1)
        lb, ub = lower_bound(d), upper_bound(d)
        if true_if(lb, ub):
            return True
        if false_if(lb, ub):
            return False
        raise _inconclusive(f"{self} {op} {o}")

    def __lt__(self, o: Any) -> bool:
        return self._cmp(o, "<", lambda lb, ub: ub < 0, lambda lb, ub: lb >= 0)

    def __le__(self, o: Any) -> bool:
        return self._cmp(o, "<=", lambda lb, ub: ub <= 0, lambda lb, ub: lb > 0)

    def __gt__(self, o: Any) -> bool:
        return self._cmp(o, ">", lambda lb, ub: lb > 0, lambda lb, ub: ub <= 0)

    def __ge__(self, o: Any) -> bool:
        return self._cmp(o, ">=", lambda lb, ub: lb >= 0, lambda lb, ub: ub < 0)

    def __bool__(self) -> bool:
        if lower_bound(self) > 0 or upper_bound(self) < 0:
            return True
        raise _inconclusive(f"whether {self} != 0")

    def __int__(self) -> int:
        raise _inconclusive(f"the integer value of `{self}`",
                            "a concrete size is needed here")

    __index__ = __int__

    # --- inspection ---------------------------------------------------------------------------
    @property
    def symbols(self) -> frozenset[str]:
        out: set[str] = set()
        for m, _ in self._terms:
            for a, _ in m:
                out |= _atom_symbols(a)
        return frozenset(out)

    def evaluate(self, env: Mapping[str, int]) -> int:
        """The value for concrete symbol values ``env`` (name -> int)."""
        total = 0
        for m, c in self._terms:
            v = c
            for a, p in m:
                v *= _eval_atom(a, env) ** p
            total += v
        return total

    def __str__(self) -> str:
        parts = []
        for m, c in self._terms:
            body = "*".join(_atom_str(a) + (f"^{p}" if p > 1 else "") for a, p in m)
            if not m:
                parts.append((c, str(abs(c))))
            elif abs(c) == 1:
                parts.append((c, body))
            else:
                parts.append((c, f"{abs(c)}*{body}"))
        out = ""
        for i, (c, s) in enumerate(parts):
            if i == 0:
                out = ("-" if c < 0 else "") + s
            else:
                out += (" - " if c < 0 else " + ") + s
        return out

    def __repr__(self) -> str:  # shapes print as (b, 4) in graphs and errors
        return str(self)

    def __reduce__(self):
        return (parse, (str(self),))


def _deg(m: tuple) -> int:
    return sum(p for _, p in m)


def _atom_symbols(a: Any) -> set[str]:
    if isinstance(a, str):
        return {a}
    out: set[str] = set()
    for x in a[1:]:
        if isinstance(x, Dim):
            out |= x.symbols
    return out


def _eval_atom(a: Any, env: Mapping[str, int]) -> int:
    if isinstance(a, str):
        if a not in env:
            raise _errors.ShapeError(f"xfront: symbolic dimensions: no value for symbol `{a}`")
        return env[a]  # an int, or a framework's symbolic int (never forced to a constant)
    kind, x, y = a
    xv, yv = evaluate(x, env), evaluate(y, env)
    return {"floordiv": lambda: xv // yv, "mod": lambda: xv % yv,
            "max": lambda: max(xv, yv), "min": lambda: min(xv, yv)}[kind]()


def _atom_str(a: Any) -> str:
    if isinstance(a, str):
        return a
    kind, x, y = a
    return f"{kind}({x}, {y})"


def _is_dimlike(x: Any) -> bool:
    return isinstance(x, Dim) or (isinstance(x, int) and not isinstance(x, bool)) or (
        hasattr(x, "__index__") and not isinstance(x, (float, bool)))


def _check(x: Any, op: str) -> DimLike:
    return x if isinstance(x, Dim) else int(x.__index__())


def exact_div(a: DimLike, b: DimLike) -> DimLike | None:
    """``a / b`` if ``b`` divides ``a`` as polynomials (for every symbol value), else None."""
    if not isinstance(b, Dim):
        b = int(b)
        if b == 0:
            return None
        pa = _poly(a)
        if all(c % b == 0 for c in pa.values()):
            return _make({m: c // b for m, c in pa.items()})
        return None
    # divide by a single-term Dim c*m only
    if len(b._terms) != 1:
        return a if a == b else None
    (mb, cb), = b._terms
    out = {}
    for m, c in _poly(a).items():
        d = dict(m)
        for at, p in mb:
            if d.get(at, 0) < p:
                return None
            d[at] -= p
        if c % cb:
            return None
        out[tuple(sorted(((k, v) for k, v in d.items() if v),
                         key=lambda t: _atom_key(t[0])))] = c // cb
    return _make(out)


def dim_max(a: DimLike, b: DimLike) -> DimLike:
    if not (isinstance(a, Dim) or isinstance(b, Dim)):
        return max(a, b)
    d = _add(a, b, -1)
    if lower_bound(d) >= 0:
        return a
    if upper_bound(d) <= 0:
        return b
    x, y = sorted((a, b), key=str)
    return _make({((("max", x, y), 1),): 1})


def dim_min(a: DimLike, b: DimLike) -> DimLike:
    if not (isinstance(a, Dim) or isinstance(b, Dim)):
        return min(a, b)
    d = _add(a, b, -1)
    if upper_bound(d) <= 0:
        return a
    if lower_bound(d) >= 0:
        return b
    x, y = sorted((a, b), key=str)
    return _make({((("min", x, y), 1),): 1})


def symbol(name: str) -> Dim:
    """The symbolic dimension named ``name`` (a Python identifier)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise _errors.err(_errors.ArgumentError, "Spec",
                          f"a symbolic dimension name must be an identifier, got {name!r}")
    return Dim._from({((name, 1),): 1})


def evaluate(d: DimLike, env: Mapping[str, int]) -> int:
    return d.evaluate(env) if isinstance(d, Dim) else int(d)


def evaluate_shape(shape: Iterable[DimLike], env: Mapping[str, int]) -> tuple[int, ...]:
    """``shape`` at the concrete symbol sizes ``env`` (name -> size); static entries pass
    through. A symbol missing from ``env`` raises ShapeError naming it."""
    return tuple(evaluate(d, env) for d in shape)


def is_symbolic(d: Any) -> bool:
    return isinstance(d, Dim)


def is_static_shape(shape: Iterable[Any]) -> bool:
    return not any(isinstance(d, Dim) for d in shape)


def symbol_name(d: Any) -> str | None:
    """The name of ``d`` if it is exactly one symbol (``b``; not ``2*b`` or ``b + 1``), else
    None."""
    if isinstance(d, Dim) and len(d._terms) == 1:
        (mono, coef), = d._terms
        if coef == 1 and len(mono) == 1 and mono[0][1] == 1 and isinstance(mono[0][0], str):
            return mono[0][0]
    return None


def symbol_axes(shapes: Iterable[Iterable[Any]]) -> dict[str, tuple[int, int]]:
    """symbol -> (index, axis) of the first axis of ``shapes`` that is exactly that symbol (in
    order of first appearance): where a lowered program reads the symbol's size."""
    out: dict[str, tuple[int, int]] = {}
    for i, shape in enumerate(shapes):
        for axis, d in enumerate(shape):
            name = symbol_name(d)
            if name is not None and name not in out:
                out[name] = (i, axis)
    return out


def symbols_of(shape: Iterable[Any]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for d in shape:
        if isinstance(d, Dim):
            out |= d.symbols
    return out


def prod(shape: Iterable[DimLike]) -> DimLike:
    out: DimLike = 1
    for d in shape:
        out = out * d
    return out


def as_dim(x: Any) -> DimLike:
    """An int (via ``__index__``) or a ``Dim``, for shape parameters of primitives."""
    return x if isinstance(x, Dim) else int(x)


_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|(.))")


def parse(text: str) -> DimLike:
    """Parse ``2*b + 1``, ``floordiv(b, 2)``, ``max(b, c)`` (the printed form) to a dim."""
    toks = [(m.group(1), m.group(2), m.group(3)) for m in _TOKEN.finditer(text.strip())
            if any(m.groups())]
    pos = 0

    def peek() -> Any:
        return toks[pos] if pos < len(toks) else (None, None, None)

    def take(op: str) -> None:
        nonlocal pos
        if peek()[2] != op:
            raise _errors.err(_errors.ArgumentError, "Spec",
                              f"cannot parse the dimension expression {text!r}")
        pos += 1

    def expr() -> DimLike:
        nonlocal pos
        sign = 1
        if peek()[2] == "-":
            pos += 1
            sign = -1
        out = _mul(term(), sign)
        while peek()[2] in ("+", "-"):
            s = 1 if peek()[2] == "+" else -1
            pos += 1
            out = _add(out, term(), s)
        return out

    def term() -> DimLike:
        nonlocal pos
        out = factor()
        while peek()[2] == "*":
            pos += 1
            out = _mul(out, factor())
        return out

    def factor() -> DimLike:
        nonlocal pos
        num, name, op = peek()
        if num is not None:
            pos += 1
            base: DimLike = int(num)
        elif name in ("floordiv", "mod", "max", "min"):
            pos += 1
            take("(")
            a = expr()
            take(",")
            b = expr()
            take(")")
            base = {"floordiv": lambda: a // b, "mod": lambda: a % b,
                    "max": lambda: dim_max(a, b), "min": lambda: dim_min(a, b)}[name]()
        elif name is not None:
            pos += 1
            base = symbol(name)
        elif op == "(":
            pos += 1
            base = expr()
            take(")")
        else:
            raise _errors.err(_errors.ArgumentError, "Spec",
                              f"cannot parse the dimension expression {text!r}")
        if peek()[2] == "^":
            pos += 1
            base = base ** int(peek()[0])
            pos += 1
        return base

    out = expr()
    if pos != len(toks):
        raise _errors.err(_errors.ArgumentError, "Spec",
                          f"cannot parse the dimension expression {text!r}")
    return out
