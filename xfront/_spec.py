"""Symbolic shapes in signatures: the string shapes of ``xfront.Spec`` (``("b", 128)``) and
the ``polymorphic=`` argument specs of ``xfront.compile``.

Imports: _aval, _dtypes, _errors, _shapes.

NOTE [Polymorphic compile]
    ``xf.compile(f, polymorphic=("b, 4", "b"))`` names the dimensions of array arguments that
    vary: one spec per positional parameter, or a dict by parameter name (``{"x": "b, _"}``);
    an argument passed by keyword takes the spec of its parameter. A spec is None (the
    argument stays static), a string or a tuple with one entry per axis: a symbol name
    (``b``), or ``_`` / None for an axis whose size stays part of the signature; for a pytree
    argument, a string applies to every leaf and a dict/list/tuple mirrors its containers.
    A call binds each symbol to its argument sizes (one size per symbol, else an
    ArgumentError naming it), then traces and
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


def check_poly_specs(poly: Any, op: str = "compile") -> None:
    """Validate a ``polymorphic=`` value early: every string in it must parse as an axis spec
    (containers mirror pytree arguments; they are matched to the arguments per call)."""
    if poly is None:
        return
    if isinstance(poly, str):
        parse_poly_spec(poly, op)
    elif isinstance(poly, dict):
        for v in poly.values():
            check_poly_specs(v, op)
    elif isinstance(poly, (tuple, list)):
        try:  # an axis spec written as a tuple of names
            parse_poly_spec(poly, op)
        except _errors.ArgumentError:
            for v in poly:
                check_poly_specs(v, op)
    else:
        raise _errors.err(_errors.ArgumentError, op,
                          f"polymorphic spec {poly!r}: expected a string such as 'b, _', a "
                          "tuple of axis names, None, or a dict/list/tuple of these mirroring "
                          "a pytree argument")


def _leaf_specs(spec: Any, td: Any, where: str, op: str) -> list[Any]:
    """Per-leaf axis specs for one argument whose pytree structure is ``td``: a string (or
    None) applies to every leaf; a dict/list/tuple mirrors the argument's containers."""
    if td.kind is None:
        return []
    if td.kind == "leaf":
        return [parse_poly_spec(spec, op)]
    if spec is None or isinstance(spec, str):
        one = parse_poly_spec(spec, op)
        return [one] * td.num_leaves
    if td.kind is dict and isinstance(spec, dict):
        extra = set(spec) - set(td.meta)
        if extra:
            raise _errors.err(_errors.ArgumentError, op,
                              f"polymorphic spec of {where} names key(s) {sorted(extra, key=str)} "
                              f"that the argument does not have (its keys: {list(td.meta)})")
        return [s for k, c in zip(td.meta, td.children)
                for s in _leaf_specs(spec.get(k), c, f"{where}[{k!r}]", op)]
    if isinstance(spec, (tuple, list)) and not isinstance(td.kind, type(None)) and \
            td.kind is not dict and len(spec) == len(td.children):
        return [s for j, (sp, c) in enumerate(zip(spec, td.children))
                for s in _leaf_specs(sp, c, f"{where}[{j}]", op)]
    raise _errors.err(_errors.ArgumentError, op,
                      f"polymorphic spec {spec!r} of {where} does not match the argument's "
                      f"structure {td!r}", "give one string for every leaf, or a dict/list/"
                      "tuple with the argument's keys/length")


def leaf_specs(poly: Any, positional: Sequence[str], dyn_positions: Sequence[int],
               treedef: Any, op: str = "compile") -> list[Any]:
    """Per-leaf axis specs of a call's flattened dynamic arguments.

    ``poly`` is ``compile``'s ``polymorphic=``: a tuple with one spec per positional parameter,
    or a dict by parameter name. ``positional`` names the function's positional parameters,
    ``dyn_positions`` the original positions of the dynamic positional arguments, and
    ``treedef`` is the structure of ``(dynamic args, dynamic kwargs)``. A keyword argument
    takes the spec of its name (or of its position, with a tuple ``poly``)."""
    args_td, kw_td = treedef.children
    by_name = poly if isinstance(poly, dict) else {}
    by_pos = () if isinstance(poly, dict) else poly
    out: list[Any] = []
    for p, td in zip(dyn_positions, args_td.children):
        name = positional[p] if p < len(positional) else None
        spec = by_name.get(name) if by_name else (by_pos[p] if p < len(by_pos) else None)
        out += _leaf_specs(spec, td, f"args[{p}]", op)
    for k, td in zip(kw_td.meta or (), kw_td.children):
        if by_name:
            spec = by_name.get(k)
        else:
            p = positional.index(k) if k in positional else len(by_pos)
            spec = by_pos[p] if p < len(by_pos) else None
        out += _leaf_specs(spec, td, f"kwargs[{k!r}]", op)
    return out


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
