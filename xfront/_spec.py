"""Symbolic shapes in signatures: the string shapes of ``xfront.Spec`` (``("b", 128)``) and
the ``polymorphic=`` argument specs of ``xfront.compile``.

Imports: _aval, _dtypes, _errors, _shapes.

NOTE [Polymorphic compile]
    ``xf.compile(f, polymorphic=("b, 4", "b"))`` names the dimensions of positional array
    arguments that vary: one spec per positional argument (None for an argument that stays
    static), each a string or a tuple with one entry per axis: a symbol name (``b``), or ``_``
    / None for an axis whose size stays part of the signature. A call binds each symbol to its
    argument sizes (one size per symbol, else an ArgumentError naming it), then traces and
    lowers once per polymorphic signature (symbolic avals, dtypes, static arguments) to one
    module with dynamic shapes, and compiles once per concrete shape after refining that
    module to static shapes (NOTE [Lowering symbolic dimensions] in xfront/lowering).
"""

from __future__ import annotations

from typing import Any, Sequence

from xfront import _dtypes as dt
from xfront import _errors, _shapes
from xfront._aval import AbstractArray


def _split(shape: Any, op: str) -> list[Any]:
    if isinstance(shape, str):
        s = shape.strip()
        if s.startswith("(") and s.endswith(")"):
            s = s[1:-1]
        return [p.strip() for p in s.split(",") if p.strip()]
    try:
        return list(shape)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, op,
                          f"a shape must be a string or a sequence, got {shape!r}") from None


def parse_shape(shape: Any, op: str) -> tuple[Any, ...]:
    out = []
    for d in _split(shape, op):
        if isinstance(d, str):
            out.append(_shapes.parse(d))
        elif isinstance(d, (int, _shapes.Dim)) and not isinstance(d, bool):
            if isinstance(d, int) and d < 0:
                raise _errors.err(_errors.ArgumentError, op, f"negative dimension {d} in {shape!r}")
            out.append(d)
        else:
            raise _errors.err(_errors.ArgumentError, op,
                              f"a dimension must be an int or a string, got {d!r} in {shape!r}")
    return tuple(out)


def parse_poly_spec(spec: Any, op: str = "compile") -> tuple[Any, ...] | None:
    """One argument's ``polymorphic=`` entry: a tuple of symbol names / None per axis."""
    if spec is None:
        return None
    out: list[str | None] = []
    for d in _split(spec, op):
        if d is None or d == "_" or d == "...":
            out.append(None if d != "..." else "...")
        elif isinstance(d, str) and d.isidentifier():
            out.append(d)
        else:
            raise _errors.err(_errors.ArgumentError, op,
                              f"polymorphic spec {spec!r}: each axis must be a symbol name or "
                              f"'_', got {d!r}")
    return tuple(out)


def polymorphic_avals(specs: Sequence[Any], avals: list[AbstractArray],
                      names: Sequence[str]) -> tuple[list[AbstractArray], dict[str, int]]:
    """(symbolic avals, symbol -> size) for concrete ``avals`` under per-leaf ``specs``."""
    env: dict[str, int] = {}
    where: dict[str, str] = {}
    out = []
    for spec, a, name in zip(specs, avals, names):
        if spec is None:
            out.append(a)
            continue
        if len(spec) != a.ndim:
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"polymorphic spec ({', '.join(s or '_' for s in spec)}) of "
                              f"argument {name} has {len(spec)} axes, but the argument is "
                              f"{a.short}")
        shape: list[Any] = []
        for axis, (s, n) in enumerate(zip(spec, a.shape)):
            if s is None:
                shape.append(n)
                continue
            if n < 1:
                raise _errors.err(_errors.ArgumentError, "compile",
                                  f"argument {name} is {a.short}: symbolic dimension `{s}` "
                                  f"(axis {axis}) must be >= 1, got {n}",
                                  "symbols stand for sizes >= 1; pass size-0 arrays unmarked")
            if s in env and env[s] != n:
                raise _errors.err(_errors.ArgumentError, "compile",
                                  f"symbolic dimension `{s}` is {env[s]} in {where[s]} but {n} "
                                  f"in argument {name} (axis {axis}); one symbol has one size "
                                  "per call")
            env.setdefault(s, n)
            where.setdefault(s, f"argument {name} (axis {axis})")
            shape.append(_shapes.symbol(s))
        out.append(AbstractArray(tuple(shape), a.dtype, a.weak))
    return out, env
