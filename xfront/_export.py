"""Export and deploy: ``xf.export``, ``xf.Exported``, ``xf.deserialize``, ``xf.import_stablehlo``
and ``xf.export_tf``.

Imports: _core, _tree, _aval, _dtypes, _errors, _compile, _autodiff, lowering; the runtime adapter,
TensorFlow and jax only inside functions (``import xfront`` stays light).

An ``Exported`` is a program that left Python: a StableHLO portable artifact (versioned MLIR
bytecode) plus its calling convention (argument and result pytree structures, shapes, dtypes,
weak flags), the platforms it was lowered for, the versions that wrote it, and optionally a VJP
module. It is called like any compiled function (NumPy, torch, TF, JAX or xfront arrays in,
the same framework out), inside ``xf.compile`` (inlined), under ``xf.grad`` and framework
autograd when it carries a VJP. Calls go through one primitive, ``call_module``, whose
lowering pastes the module's functions into the calling module and emits ``func.call``; a
module imported from another producer (``jax.export``, StableHLO text) uses the same path.

NOTE [The artifact format]
    ``serialize()`` writes, in order (integers little-endian)::

        b"XFEXPORT"                   8 bytes, magic
        format version                u32 (this xfront writes and reads version 1)
        header length H               u32
        header                        H bytes of UTF-8 JSON (schema in the README)
        sections                      the bytes the header's "sections" point into
        sha256                        32 bytes, over everything before it

    There is no pickle and no code: the header is data checked field by field, and the
    sections are StableHLO portable artifacts (``module``, and ``vjp`` when exported with
    ``vjp=True``). ``deserialize`` checks the magic, the checksum (so accidental corruption is
    caught before any parser sees the bytes), the version, every header field, the section
    bounds, then parses the modules and checks their types against the header. Any failure is
    an ``ArtifactError`` saying what is wrong. NOTE: a deliberately forged artifact with a valid
    checksum reaches StableHLO's bytecode reader, which fuzzing crashes on some malformed
    modules; ``deserialize(data, isolate=True)`` parses in a child process first.

NOTE [Symbolic dimensions]
    ``xf.export(f, xf.Spec(("b", 4), xf.float32))`` writes one polymorphic artifact: the
    module's ``@main`` has dynamic types (``tensor<?x4xf32>``) and reads each symbol's size
    from the first argument axis that is exactly that symbol, so every symbol must appear
    alone on some argument axis (``("b", "2*b")`` is fine, ``("2*b",)`` alone is not). The
    header stores each dimension as an int or as the printed expression (``"b"``,
    ``"2*b + 1"``) and lists the symbols; such artifacts have format version 2 (static ones
    keep version 1, so older readers still load them and reject the new ones by version).
    A call binds each symbol to its argument sizes (one size per symbol, every expression
    matching; an ArgumentError names the symbol otherwise), then wraps the module in a static
    ``@main`` for those shapes and runs StableHLO's shape refinement: one static module per
    concrete signature, cached, and compiled once each (the VJP module likewise). A call
    traced with symbolic shapes (``xf.compile(..., polymorphic=...)``, a ``tf.function`` with
    None dimensions) binds the symbols to the caller's expressions instead and pastes the
    dynamic module as is, typed with the caller's symbols.
"""

from __future__ import annotations

import collections
import hashlib
import json
import struct
from typing import Any, Callable, Sequence

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._aval import AbstractArray
from xfront._shapes import Dim
from xfront._tree import LEAF, NONE, TreeDef, tree_flatten, tree_map, tree_unflatten

__all__ = ["Spec", "Exported", "ArtifactError", "export", "deserialize", "import_stablehlo",
           "export_tf", "call_module_p"]

MAGIC = b"XFEXPORT"
FORMAT_VERSION = 1  # static shapes
FORMAT_VERSION_SYMBOLIC = 2  # symbolic dimensions (NOTE [Symbolic dimensions])
_MAX_TREE_DEPTH = 64
_MAX_LEAVES = 1 << 16
_MAX_RANK = 64


class ArtifactError(_errors.XfrontError, ValueError):
    """An exported artifact is truncated, corrupted, incompatible or malformed."""


def _rt() -> Any:
    from xfront.lowering import runtime

    return runtime


def _artifact_error(msg: str, hint: str = "") -> ArtifactError:
    return ArtifactError(f"xfront.deserialize: {msg}" + (f". {hint}" if hint else ""))


# --- specs ------------------------------------------------------------------------------------

class Spec:
    """The shape and dtype of one exported argument (no data): ``xf.Spec((2, 3), xf.float32)``.

    ``weak=True`` marks a Python-scalar argument (see NOTE [Python scalars are weak]). A string
    dimension is symbolic (``xf.Spec(("b", 128), xf.float32)``, ``xf.Spec("b, 2*b", ...)``):
    ``f.trace``/``f.lower`` of a compiled function accept such specs (xfront/_shapes.py).
    """

    __slots__ = ("shape", "dtype", "weak")

    def __init__(self, shape: Sequence[int] | int, dtype: Any = "float32", weak: bool = False):
        if isinstance(shape, int):
            shape = (shape,)
        if not isinstance(shape, str):  # ("b", 2): one entry per axis
            try:
                shape = tuple(shape)
            except TypeError:
                raise _errors.err(_errors.ArgumentError, "Spec",
                                  f"shape must be a sequence of ints, got {shape!r}") from None
        if isinstance(shape, str) or any(isinstance(d, str) for d in shape):
            # symbolic dimensions, or "b, 2*b": one string for the whole shape (NOTE
            # [Polymorphic compile] in xfront/_spec.py)
            from xfront._spec import parse_shape

            shape = parse_shape(shape, "Spec")
        for d in shape:
            if d is None:
                raise _errors.err(_errors.ShapeError, "Spec",
                                  f"dimension None in shape {shape} is unknown",
                                  "give it an int size or a symbol name such as 'b'")
            if isinstance(d, Dim):
                continue
            if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 0:
                raise _errors.err(_errors.ShapeError, "Spec",
                                  f"shape {shape} has the dimension {d!r}; dimensions are "
                                  "non-negative ints or symbol names")
        try:
            d = dt.dtype(dtype)
        except TypeError as e:
            raise _errors.err(_errors.DTypeError, "Spec", str(e)) from None
        self.shape = tuple(s if isinstance(s, Dim) else int(s) for s in shape)
        self.dtype = d
        self.weak = bool(weak)

    @property
    def aval(self) -> AbstractArray:
        return AbstractArray(self.shape, self.dtype, self.weak)

    def __repr__(self) -> str:
        return f"Spec({self.aval.short})"


# --- the call_module primitive --------------------------------------------------------------

class ModuleRef:
    """A parsed module ready to be pasted into xfront modules (the ``module`` param of
    ``call_module``). Hashable by content; ``kept`` lists the arguments the module takes (jax
    drops unused ones), ``vjp`` is the VJP module or None."""

    __slots__ = ("text", "symbol", "in_avals", "out_avals", "kept", "vjp", "name", "key",
                 "_hash")

    def __init__(self, text: str, symbol: str, in_avals: list[AbstractArray],
                 out_avals: list[AbstractArray], kept: tuple[int, ...], vjp: ModuleRef | None,
                 name: str, key: str):
        self.text, self.symbol, self.name, self.key = text, symbol, name, key
        self.in_avals, self.out_avals, self.kept, self.vjp = in_avals, out_avals, kept, vjp
        self._hash = hash((key, kept, vjp.key if vjp else None))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ModuleRef) and self.key == other.key
                and self.kept == other.kept and self.vjp == other.vjp)

    def __repr__(self) -> str:
        sig = ", ".join(a.short for a in self.in_avals)
        out = ", ".join(a.short for a in self.out_avals)
        return f"<module {self.name} ({sig}) -> ({out})>"


_MLIR_DTYPES = {d.mlir: d for d in dt.ALL}


def _avals_of_types(types: list[tuple[tuple[int, ...], str]], what: str) -> list[AbstractArray]:
    out = []
    for shape, elem in types:
        d = _MLIR_DTYPES.get(elem)
        if d is None:
            raise ValueError(f"{what} has element type {elem}, which has no xfront dtype")
        out.append(AbstractArray(tuple(shape), d))
    return out


def _parse_module(data: bytes | str, name: str, in_avals: list[AbstractArray] | None = None,
                  out_avals: list[AbstractArray] | None = None, kept: Sequence[int] | None = None,
                  vjp: ModuleRef | None = None) -> ModuleRef:
    """Parse a module (raises ValueError saying why it cannot be used). ``in_avals`` and
    ``out_avals``, when given, are the calling convention the module must match."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    key = hashlib.sha256(raw).hexdigest()[:20]
    text, symbol, ins, outs = _rt().import_module(data, f"xf{key}_")
    m_in = _avals_of_types(ins, "an argument of @main")
    m_out = _avals_of_types(outs, "a result of @main")
    if in_avals is None:
        in_avals = m_in
    kept = tuple(range(len(in_avals))) if kept is None else tuple(kept)
    want_in = [in_avals[i].strong() for i in kept]
    if [a.strong() for a in m_in] != want_in:
        raise ValueError(f"the module's @main takes ({', '.join(a.short for a in m_in)}) but "
                         f"the calling convention says ({', '.join(a.short for a in want_in)})")
    if out_avals is not None and [a.strong() for a in out_avals] != m_out:
        raise ValueError(f"the module's @main returns ({', '.join(a.short for a in m_out)}) but "
                         f"the calling convention says "
                         f"({', '.join(a.short for a in out_avals)})")
    return ModuleRef(text, symbol, list(in_avals), m_out, kept, vjp, name, key)


def _call_abstract_eval(*avals: AbstractArray, module: ModuleRef) -> list[AbstractArray]:
    want = module.in_avals
    if len(avals) != len(want) or any(a.shape != w.shape or a.dtype is not w.dtype
                                       for a, w in zip(avals, want)):
        got = ", ".join(a.short for a in avals)
        exp = ", ".join(w.strong().short for w in want)
        raise _errors.err(_errors.ArgumentError, "Exported",
                          f"`{module.name}` was called with ({got}) but it takes ({exp})",
                          "an exported program has fixed shapes and dtypes: convert the "
                          "arguments (e.g. x.astype(...)) or export again for these shapes")
    return list(module.out_avals)


def _call_ref(*args: Any, module: ModuleRef) -> list[np.ndarray]:
    # the module is its own definition: run it (eagerly, through the runtime)
    return [np.asarray(o) for o in call_module_p.bind(*args, module=module)]


def _call_lowering(ctx: Any, *args: Any, module: ModuleRef) -> list[Any]:
    ctx.block.names.funcs.setdefault(module.symbol, module.text)
    return ctx.op("func.call", [args[i] for i in module.kept],
                  props={"callee": "@" + module.symbol})


def _call_vjp(cts: list[Any], *primals: Any, out: Any, module: ModuleRef) -> list[Any]:
    from xfront import _autodiff

    if module.vjp is None:
        raise _errors.err(_autodiff.DifferentiationError, "grad",
                          f"the imported module `{module.name}` (primitive `call_module`) "
                          "carries no VJP", "export it with xf.export(..., vjp=True), or "
                          "serialize a jax.export artifact with vjp_order=1")
    cts = [c if c is not None else _autodiff.zeros(a) for c, a in zip(cts, module.out_avals)]
    got = call_module_p.bind(*primals, *cts, module=module.vjp)
    return [g if _autodiff.differentiable(a) else None for g, a in zip(got, module.in_avals)]


call_module_p = _core.Primitive(
    "call_module", abstract_eval=_call_abstract_eval, ref=_call_ref, lowering=_call_lowering,
    vjp=_call_vjp, multiple_results=True,
    doc="Call a StableHLO module (exported or imported); its functions are pasted into the "
        "calling module and reached with func.call.")


# --- pytree structures as data ------------------------------------------------------------------

_NAMEDTUPLES: dict[tuple[str, tuple[str, ...]], type] = {}


def _tree_to_json(td: TreeDef, what: str) -> Any:
    k = td.kind
    if k == "leaf":
        return "*"
    if k is None:
        return None
    kids = [_tree_to_json(c, what) for c in td.children]
    if k is tuple:
        return {"tuple": kids}
    if k is list:
        return {"list": kids}
    if k is dict:
        for key in td.meta:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise _errors.err(_errors.ArgumentError, "export",
                                  f"the {what} has a dict key {key!r}; exported dict keys are "
                                  "str or int")
        return {"dict": [[key, c] for key, c in zip(td.meta, kids)]}
    fields = getattr(k, "_fields", None)
    if isinstance(k, type) and issubclass(k, tuple) and fields is not None:
        return {"namedtuple": k.__name__, "fields": list(fields), "children": kids}
    raise _errors.err(_errors.ArgumentError, "export",
                      f"the {what} contains a {getattr(k, '__name__', k)} node (a registered "
                      "pytree type), which an artifact cannot rebuild without its Python code",
                      "use tuples, lists, dicts, namedtuples or None")


def _tree_from_json(obj: Any, depth: int = 0) -> TreeDef:
    if depth > _MAX_TREE_DEPTH:
        raise ValueError(f"nested deeper than {_MAX_TREE_DEPTH}")
    if obj == "*":
        return LEAF
    if obj is None:
        return NONE
    if not isinstance(obj, dict) or len(obj) not in (1, 3):
        raise ValueError(f"bad node {str(obj)[:60]!r}")

    def kids(v: Any) -> tuple[TreeDef, ...]:
        if not isinstance(v, list):
            raise ValueError("children must be a list")
        return tuple(_tree_from_json(c, depth + 1) for c in v)

    if set(obj) == {"tuple"}:
        return TreeDef(tuple, None, kids(obj["tuple"]))
    if set(obj) == {"list"}:
        return TreeDef(list, None, kids(obj["list"]))
    if set(obj) == {"dict"}:
        items = obj["dict"]
        if not isinstance(items, list) or not all(
                isinstance(i, list) and len(i) == 2 and isinstance(i[0], (str, int))
                and not isinstance(i[0], bool) for i in items):
            raise ValueError("dict items must be [key, child] pairs with str or int keys")
        keys = tuple(i[0] for i in items)
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate dict keys")
        return TreeDef(dict, keys, kids([i[1] for i in items]))
    if set(obj) == {"namedtuple", "fields", "children"}:
        name, fields = obj["namedtuple"], obj["fields"]
        if (not isinstance(name, str) or not name.isidentifier() or not isinstance(fields, list)
                or not all(isinstance(f, str) and f.isidentifier() and not f.startswith("_")
                           for f in fields) or len(set(fields)) != len(fields)):
            raise ValueError("bad namedtuple name or fields")
        children = kids(obj["children"])
        if len(children) != len(fields):
            raise ValueError("namedtuple fields and children differ in number")
        key = (name, tuple(fields))
        cls = _NAMEDTUPLES.get(key)
        if cls is None:
            cls = _NAMEDTUPLES[key] = collections.namedtuple(name, fields)  # type: ignore
        return TreeDef(cls, None, children)
    raise ValueError(f"unknown node kind {sorted(obj)}")


def _aval_to_json(a: AbstractArray) -> dict[str, Any]:
    return {"shape": [str(d) if isinstance(d, Dim) else d for d in a.shape],
            "dtype": a.dtype.name, "weak": a.weak}


def _dim_from_json(d: str) -> Any:
    from xfront import _shapes

    if len(d) > 200:
        raise ValueError(f"the dimension expression {d[:40]!r}... is too long")
    try:
        out = _shapes.parse(d)
    except _errors.XfrontError:
        raise ValueError(f"bad dimension expression {d!r}") from None
    if _shapes.lower_bound(out) < 0:
        raise ValueError(f"the dimension {d!r} can be negative")
    return out


def _aval_from_json(obj: Any, symbolic: bool = False) -> AbstractArray:
    if not isinstance(obj, dict) or set(obj) != {"shape", "dtype", "weak"}:
        raise ValueError(f"bad array type {str(obj)[:60]!r}")
    shape, dname, weak = obj["shape"], obj["dtype"], obj["weak"]
    if not isinstance(shape, list) or len(shape) > _MAX_RANK:
        raise ValueError(f"bad shape {shape!r}")
    for d in shape:
        if isinstance(d, str) and symbolic:
            continue
        if isinstance(d, str):
            raise ValueError(f"the symbolic dimension {d!r} appears in a format-version-1 "
                             "header")
        if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d < 2 ** 62:
            raise ValueError(f"bad dimension {d!r}")
    if not isinstance(dname, str) or dname not in {d.name for d in dt.ALL}:
        raise ValueError(f"unknown dtype {str(dname)[:40]!r}")
    if not isinstance(weak, bool):
        raise ValueError("'weak' must be true or false")
    shape = [_dim_from_json(d) if isinstance(d, str) else d for d in shape]
    return AbstractArray(tuple(shape), dt.dtype(dname), weak)


def _plain_symbols(avals: Sequence[AbstractArray]) -> dict[str, tuple[int, int]]:
    """symbol -> (argument, axis) of the first argument axis that is exactly that symbol."""
    from xfront._shapes import symbol_axes

    return symbol_axes(a.shape for a in avals)


def _unbound_symbols(avals: Sequence[AbstractArray]) -> list[str]:
    from xfront._shapes import symbols_of

    bound = _plain_symbols(avals)
    return sorted(set().union(*[symbols_of(a.shape) for a in avals]) - set(bound))


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


# --- Exported -------------------------------------------------------------------------------

class Exported:
    """A program exported from Python (see ``xf.export``); call it like a compiled function.

    Attributes:
      name: the exported function's name.
      in_tree / out_tree: the argument ``(args, kwargs)`` and result pytree structures.
      in_avals / out_avals: shapes, dtypes and weak flags of the flattened arguments/results.
      platforms: the platforms the module was lowered for (``('cpu',)``).
      xfront_version / stablehlo_version: the versions that wrote the artifact (the StableHLO
        version is the one the bytecode targets, not the writer's current one).
      module / vjp_module: the StableHLO portable artifacts (bytes); ``vjp_module`` is None
        unless exported with ``vjp=True``.
      graph: the traced graph IR when exported in this process (None after ``deserialize``).
    """

    def __init__(self, *, name: str, in_tree: TreeDef, out_tree: TreeDef,
                 in_avals: list[AbstractArray], out_avals: list[AbstractArray],
                 platforms: tuple[str, ...], module: bytes, vjp_module: bytes | None,
                 xfront_version: str, stablehlo_version: str, kept: Sequence[int] | None = None,
                 vjp_kept: Sequence[int] | None = None, graph: _core.Graph | None = None,
                 text: str | None = None):
        self.name = name
        self.in_tree, self.out_tree = in_tree, out_tree
        self.in_avals, self.out_avals = list(in_avals), list(out_avals)
        self.platforms = tuple(platforms)
        self.module, self.vjp_module = module, vjp_module
        self.xfront_version, self.stablehlo_version = xfront_version, stablehlo_version
        self.graph = graph
        self._text = text
        self._kept = None if kept is None else tuple(kept)
        self._vjp_kept = None if vjp_kept is None else tuple(vjp_kept)
        self._ref: ModuleRef | None = None
        self._fn: Any = None
        self._static: dict[tuple, ModuleRef] = {}  # concrete shapes -> refined module
        args_td, kw_td = in_tree.children if in_tree.kind is tuple else (None, None)
        flat = (args_td is not None and args_td.kind is tuple and kw_td.kind is dict
                and not kw_td.children and all(c.kind == "leaf" for c in args_td.children))
        self._n_flat = len(args_td.children) if flat else -1  # -1: arguments are nested

    @property
    def has_vjp(self) -> bool:
        return self.vjp_module is not None

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbolic dimensions of the signature (sorted; empty for static shapes)."""
        from xfront._shapes import symbols_of

        return tuple(sorted(set().union(*[symbols_of(a.shape) for a in self.in_avals])))

    @property
    def polymorphic(self) -> bool:
        return bool(self.symbols)

    def __repr__(self) -> str:
        sig = ", ".join(a.short for a in self.in_avals)
        out = ", ".join(a.short for a in self.out_avals)
        return (f"<xfront.Exported {self.name} ({sig}) -> ({out}) on {'/'.join(self.platforms)}"
                f"{' with VJP' if self.has_vjp else ''}>")

    def module_ref(self) -> ModuleRef:
        """The parsed module (parsed once; raises ArtifactError if it cannot be used)."""
        if self._ref is None:
            try:
                if self.polymorphic:
                    self._ref = self._poly_ref()
                    return self._ref
                vjp = None
                if self.vjp_module is not None:
                    vjp_in = [a.strong() for a in self.in_avals] + [a.strong()
                                                                    for a in self.out_avals]
                    # results: one cotangent per input; integer inputs get whatever the
                    # producer gives them (zeros, or jax's float0 as bool), never used
                    vjp = _parse_module(self.vjp_module, f"vjp_{self.name}", vjp_in, None,
                                        self._vjp_kept)
                self._ref = _parse_module(self.module, self.name, self.in_avals,
                                          self.out_avals, self._kept, vjp)
            except ValueError as e:
                raise _artifact_error(f"the artifact of `{self.name}` cannot be used: {e}") \
                    from None
        return self._ref

    def _poly_ref(self) -> ModuleRef:
        """The polymorphic module (dynamic types), checked against the symbolic header."""
        def parse(blob: bytes, name: str, ins: list[AbstractArray],
                  outs: list[AbstractArray] | None, vjp: ModuleRef | None) -> ModuleRef:
            key = hashlib.sha256(blob).hexdigest()[:20]
            text, symbol, m_in, m_out = _rt().import_module(blob, f"xf{key}_", dynamic=True)

            def types(avals: list[AbstractArray]) -> list[tuple[tuple, str]]:
                return [(tuple(None if isinstance(d, Dim) else d for d in a.shape),
                         a.dtype.mlir) for a in avals]

            def show(ts: list[tuple[tuple, str]]) -> str:
                return ", ".join(f"{e}[{','.join('?' if d is None else str(d) for d in sh)}]"
                                 for sh, e in ts)

            if list(m_in) != types(ins):
                raise ValueError(f"the module's @main takes ({show(m_in)}) but the calling "
                                 f"convention says ({show(types(ins))})")
            if outs is None:  # the VJP: one cotangent per primal input, of its shape
                if len(m_out) != len(self.in_avals):
                    raise ValueError("the VJP module does not return one cotangent per "
                                     "argument")
                outs = [AbstractArray(a.shape, _avals_of_types([((), e)], "a VJP result")[0].dtype)
                        for a, (_, e) in zip(self.in_avals, m_out)]
            if list(m_out) != types(outs):
                raise ValueError(f"the module's @main returns ({show(m_out)}) but the calling "
                                 f"convention says ({show(types(outs))})")
            return ModuleRef(text, symbol, list(ins), list(outs),
                             tuple(range(len(ins))), vjp, name, key)

        if self._kept is not None or self._vjp_kept is not None:
            raise ValueError("a module with symbolic dimensions takes every argument")
        unbound = _unbound_symbols(self.in_avals)
        if unbound:
            raise ValueError(f"the symbols {unbound} appear alone on no argument axis")
        strong_in = [a.strong() for a in self.in_avals]
        vjp = None
        if self.vjp_module is not None:
            vjp = parse(self.vjp_module, f"vjp_{self.name}", strong_in + list(self.out_avals),
                        None, None)
        return parse(self.module, self.name, strong_in, list(self.out_avals), vjp)

    def _bind(self, avals: Sequence[AbstractArray]) -> dict[str, int]:
        """Each symbol's size in a call with ``avals`` (NOTE [Symbolic dimensions])."""
        from xfront._shapes import evaluate

        want = self.in_avals
        sig = ", ".join(a.strong().short for a in want)
        if len(avals) != len(want) or any(a.ndim != w.ndim or a.dtype is not w.dtype
                                           for a, w in zip(avals, want)):
            got = ", ".join(a.short for a in avals)
            raise _errors.err(_errors.ArgumentError, "Exported",
                              f"`{self.name}` was called with ({got}) but it takes ({sig})",
                              "convert the arguments (e.g. x.astype(...)) or export again")
        env: dict[str, int] = {}
        for name, (i, axis) in sorted(_plain_symbols(want).items()):
            n = avals[i].shape[axis]
            if n < 1:
                raise _errors.err(_errors.ArgumentError, "Exported",
                                  f"`{self.name}` takes ({sig}): symbol `{name}` (argument "
                                  f"{i}, axis {axis}) must be >= 1, got {n}")
            env[name] = n
        where = _plain_symbols(want)
        for i, (a, w) in enumerate(zip(avals, want)):
            for axis, (n, d) in enumerate(zip(a.shape, w.shape)):
                need = evaluate(d, env)
                if n != need:
                    if isinstance(d, Dim):
                        given = ", ".join(f"{s} = {env[s]} (argument {where[s][0]}, axis "
                                          f"{where[s][1]})" for s in sorted(d.symbols))
                        msg = (f"argument {i} has size {n} on axis {axis}, but its dimension "
                               f"`{d}` is {need} with {given}")
                    else:
                        msg = f"argument {i} has size {n} on axis {axis}, but that axis is {d}"
                    got = ", ".join(x.short for x in avals)
                    raise _errors.err(_errors.ArgumentError, "Exported",
                                      f"`{self.name}` takes ({sig}) and was called with "
                                      f"({got}): {msg}",
                                      "one symbol has one size per call, and every dimension "
                                      "expression must match")
        return env

    def _specialized(self, avals: Sequence[AbstractArray]) -> ModuleRef:
        """The module for the shapes of a call (cached per shapes): refined to static shapes,
        or, for a call with symbolic shapes (a polymorphic trace: ``xf.compile(...,
        polymorphic=...)``, a ``tf.function`` with None dimensions), the dynamic module with
        its symbols renamed to the caller's."""
        from xfront._shapes import evaluate_shape, is_static_shape

        key = tuple((a.shape, a.dtype) for a in avals)
        ref = self._static.get(key)
        if ref is not None:
            return ref
        env = self._bind(avals)
        poly = self.module_ref()

        def sized(avs: list[AbstractArray]) -> list[AbstractArray]:
            return [AbstractArray(evaluate_shape(a.shape, env), a.dtype) for a in avs]

        ins = sized([a.strong() for a in self.in_avals])
        outs = sized(poly.out_avals)
        if not all(is_static_shape(a.shape) for a in avals):
            vjp = None
            if poly.vjp is not None:
                p = poly.vjp
                vjp = ModuleRef(p.text, p.symbol, ins + outs, sized(p.out_avals), p.kept, None,
                                p.name, f"{p.key}:{key}")
            ref = ModuleRef(poly.text, poly.symbol, ins, outs, poly.kept, vjp, poly.name,
                            f"{poly.key}:{key}")
        else:
            vjp = None
            if poly.vjp is not None:
                vjp_ins = ins + outs
                vjp_outs = sized(poly.vjp.out_avals)
                vjp = _parse_module(_refined(poly.vjp, vjp_ins, vjp_outs),
                                    f"vjp_{self.name}", vjp_ins, vjp_outs)
            ref = _parse_module(_refined(poly, ins, outs), self.name, ins, outs, None, vjp)
        self._static[key] = ref
        return ref

    def mlir_module(self) -> str:
        """The module's StableHLO text (``@main`` is the entry function)."""
        if self._text is not None:
            return self._text
        return self.module_ref().text

    def _check_platform(self) -> None:
        from xfront._device import default_device

        here = default_device().platform
        aliases = {"gpu": ("cuda", "rocm", "gpu")}.get(here, (here,))
        if not any(p in aliases for p in self.platforms):
            raise _errors.err(_errors.DeviceError, "Exported",
                              f"`{self.name}` was lowered for {'/'.join(self.platforms)}, but "
                              f"this process runs on {here}",
                              f"export it again with platform='{here}'")

    def _compiled(self) -> Any:
        if self._fn is None:
            from xfront._compile import CompiledFunction

            ref = self.module_ref()
            self._check_platform()

            if not self.polymorphic:
                def call(*leaves: Any) -> list[Any]:
                    return call_module_p.bind(*leaves, module=ref)
            else:
                from xfront._autodiff import _aval_of

                def call(*leaves: Any) -> list[Any]:
                    avals = [_aval_of(x) for x in leaves]  # tracers, or arrays of a trace
                    return call_module_p.bind(*leaves, module=self._specialized(avals))

            call.__name__ = call.__qualname__ = self.name
            self._fn = CompiledFunction(call)
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self._fn
        if fn is not None and not kwargs and len(args) == self._n_flat:
            from xfront._compile import _LEAF_TYPES  # types known to be array leaves

            for a in args:
                if type(a) not in _LEAF_TYPES:
                    break
            else:  # positional array leaves only: no pytree work
                return tree_unflatten(self.out_tree, fn(*args))
        leaves, td = tree_flatten((args, kwargs))
        if td != self.in_tree:
            raise _errors.err(_errors.ArgumentError, "Exported",
                              f"`{self.name}` takes arguments structured as {self.in_tree} "
                              f"(args, kwargs), but was called with {td}")
        outs = self._compiled()(*leaves)
        return tree_unflatten(self.out_tree, outs)

    def cache_info(self) -> Any:
        return self._compiled().cache_info()

    # --- serialization ------------------------------------------------------------------------
    def serialize(self) -> bytes:
        """The artifact as bytes (format: NOTE [The artifact format]; no pickle)."""
        sections = [("module", self.module)]
        if self.vjp_module is not None:
            sections.append(("vjp", self.vjp_module))
        offsets: dict[str, list[int]] = {}
        pos = 0
        for name, data in sections:
            offsets[name] = [pos, len(data)]
            pos += len(data)
        header = {
            "name": self.name,
            "xfront_version": self.xfront_version,
            "stablehlo_version": self.stablehlo_version,
            "platforms": list(self.platforms),
            "in_tree": _tree_to_json(self.in_tree, "argument structure"),
            "out_tree": _tree_to_json(self.out_tree, "result structure"),
            "in_avals": [_aval_to_json(a) for a in self.in_avals],
            "out_avals": [_aval_to_json(a) for a in self.out_avals],
            "kept": None if self._kept is None else list(self._kept),
            "vjp_kept": None if self._vjp_kept is None else list(self._vjp_kept),
            "sections": offsets,
        }
        version = FORMAT_VERSION
        if self.polymorphic:
            header["symbols"] = list(self.symbols)
            version = FORMAT_VERSION_SYMBOLIC
        hb = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        body = (MAGIC + struct.pack("<II", version, len(hb)) + hb
                + b"".join(d for _, d in sections))
        return body + hashlib.sha256(body).digest()


_HEADER_KEYS = {"name", "xfront_version", "stablehlo_version", "platforms", "in_tree",
                "out_tree", "in_avals", "out_avals", "kept", "vjp_kept", "sections"}
_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def _refined(ref: ModuleRef, ins: list[AbstractArray], outs: list[AbstractArray]) -> str:
    """A module whose public ``@main`` takes and returns the static ``ins``/``outs`` and calls
    the polymorphic ``ref``, refined to static shapes throughout."""
    from xfront.lowering import static_entry_body
    from xfront.lowering._emit import aval_type

    st_in, st_out = [aval_type(a) for a in ins], [aval_type(a) for a in outs]
    dy_in = [aval_type(a) for a in ref.in_avals]
    dy_out = [aval_type(a) for a in ref.out_avals]
    lines = ["module {", ref.text,
             '  "func.func"() <{function_type = (' + ", ".join(st_in) + ") -> ("
             + ", ".join(st_out) + '), sym_name = "main", sym_visibility = "public"}> ({']
    lines += static_entry_body(ref.symbol, st_in, st_in, dy_in, st_out, dy_out)
    lines.append("}")
    return _rt().refine_shapes("\n".join(lines))


def deserialize(data: bytes, *, isolate: bool = False) -> Exported:
    """Load an artifact written by ``Exported.serialize``; raises ArtifactError when the bytes
    are truncated, corrupted, of another format version or otherwise unusable.

    ``isolate=True`` first parses the artifact in a child process (about a second) and parses
    it here only if that succeeded: for artifacts from untrusted sources, whose StableHLO
    bytecode may have been forged behind a recomputed checksum (StableHLO's bytecode reader is
    not hardened against that: fuzzing crashes it); a crash there becomes an ArtifactError.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _errors.err(_errors.ArgumentError, "deserialize",
                          f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    fixed = len(MAGIC) + 8
    if len(data) < fixed + 32 or data[:len(MAGIC)] != MAGIC:
        what = "is too short" if len(data) < fixed + 32 else "does not start with b'XFEXPORT'"
        raise _artifact_error(f"the data ({len(data)} bytes) {what}: it is not an xfront "
                              "artifact, or it was truncated")
    body, digest = data[:-32], data[-32:]
    if hashlib.sha256(body).digest() != digest:
        raise _artifact_error("the checksum does not match: the artifact was truncated or "
                              "corrupted", "write it again with Exported.serialize()")
    version, hlen = struct.unpack("<II", body[len(MAGIC):fixed])
    if version not in (FORMAT_VERSION, FORMAT_VERSION_SYMBOLIC):
        raise _artifact_error(f"the artifact has format version {version}; this xfront reads "
                              f"versions {FORMAT_VERSION} and {FORMAT_VERSION_SYMBOLIC}",
                              "load it with the xfront version that wrote it, or export again")
    if fixed + hlen > len(body):
        raise _artifact_error(f"the header length {hlen} runs past the end of the data")
    try:
        header = json.loads(body[fixed:fixed + hlen].decode("utf-8"))
        return _from_header(header, body[fixed + hlen:], data if isolate else None,
                            version == FORMAT_VERSION_SYMBOLIC)
    except (ValueError, TypeError, KeyError, RecursionError, UnicodeDecodeError) as e:
        if isinstance(e, ArtifactError):
            raise
        raise _artifact_error(f"the header is malformed: {e}") from None


def _parse_in_child(data: bytes) -> None:
    """Parse ``data`` with ``deserialize`` in a child process; ArtifactError if it crashes."""
    import os
    import subprocess
    import sys

    import xfront

    root = os.path.dirname(os.path.dirname(os.path.abspath(xfront.__file__)))
    env = dict(os.environ, XFRONT_CACHE="0", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    code = ("import sys, xfront\n"
            "try:\n"
            "    xfront.deserialize(sys.stdin.buffer.read())\n"
            "except xfront.ArtifactError as e:\n"
            "    sys.stdout.write(str(e))\n"
            "    sys.exit(1)\n")
    try:
        proc = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True,
                              timeout=600, env=env)
    except subprocess.TimeoutExpired:
        raise _artifact_error("parsing the artifact did not finish in 10 minutes (in the "
                              "isolated child process)") from None
    if proc.returncode == 1 and proc.stdout.startswith(b"xfront.deserialize"):
        # rejected cleanly there: never parsed here
        raise ArtifactError(proc.stdout.decode("utf-8", "replace"))
    if proc.returncode != 0:
        raise _artifact_error(f"the StableHLO bytecode reader crashed on this artifact (the "
                              f"isolated child process exited with {proc.returncode}): its "
                              "modules are malformed")


def _from_header(h: Any, payload: bytes, isolate: bytes | None = None,
                 symbolic: bool = False) -> Exported:
    keys = _HEADER_KEYS | ({"symbols"} if symbolic else set())
    if not isinstance(h, dict) or set(h) != keys:
        raise ValueError(f"expected the fields {sorted(keys)}")
    for k in ("name", "xfront_version", "stablehlo_version"):
        if not isinstance(h[k], str) or len(h[k]) > 200:
            raise ValueError(f"{k!r} must be a short string")
    plats = h["platforms"]
    if (not isinstance(plats, list) or len(plats) != 1 or plats[0] not in _PLATFORMS):
        raise ValueError(f"'platforms' must name one of {_PLATFORMS}")
    in_tree, out_tree = _tree_from_json(h["in_tree"]), _tree_from_json(h["out_tree"])
    if in_tree.kind is not tuple or len(in_tree.children) != 2 or \
            in_tree.children[0].kind is not tuple or in_tree.children[1].kind is not dict:
        raise ValueError("'in_tree' must be an (args tuple, kwargs dict) pair")
    for k in ("in_avals", "out_avals"):
        if not isinstance(h[k], list) or len(h[k]) > _MAX_LEAVES:
            raise ValueError(f"{k!r} must be a list")
    in_avals = [_aval_from_json(a, symbolic) for a in h["in_avals"]]
    out_avals = [_aval_from_json(a, symbolic) for a in h["out_avals"]]
    if symbolic:
        from xfront._shapes import symbols_of

        syms = sorted(set().union(*[symbols_of(a.shape) for a in in_avals]))
        outs = set().union(*[symbols_of(a.shape) for a in out_avals])
        if h["symbols"] != syms or not syms or not outs <= set(syms):
            raise ValueError(f"'symbols' must list the symbols of the argument shapes "
                             f"({syms}), and the results may use those only")
        unbound = _unbound_symbols(in_avals)
        if unbound:
            raise ValueError(f"the symbols {unbound} appear alone on no argument axis")
    if in_tree.num_leaves != len(in_avals) or out_tree.num_leaves != len(out_avals):
        raise ValueError("the pytree structures and the array types differ in number")
    kept = {}
    for k, n in (("kept", len(in_avals)), ("vjp_kept", len(in_avals) + len(out_avals))):
        v = h[k]
        if v is not None and (not isinstance(v, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in v)
                or sorted(set(v)) != v):
            raise ValueError(f"{k!r} must be null or increasing argument indices")
        kept[k] = v
    secs = h["sections"]
    if not isinstance(secs, dict) or "module" not in secs or not set(secs) <= {"module", "vjp"}:
        raise ValueError("'sections' must hold 'module' (and optionally 'vjp')")
    blobs: dict[str, bytes] = {}
    for name, span in secs.items():
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                           for x in span) or span[0] + span[1] > len(payload)):
            raise ValueError(f"section {name!r} lies outside the data")
        blob = payload[span[0]:span[0] + span[1]]
        if not _rt().is_portable_artifact(blob):  # never any other parser (see runtime)
            raise ValueError(f"section {name!r} is not a StableHLO portable artifact")
        blobs[name] = blob
    current = _rt().stablehlo_versions()[0]
    try:
        needs = _version_tuple(h["stablehlo_version"])
    except ValueError:
        raise ValueError(f"bad StableHLO version {h['stablehlo_version'][:20]!r}") from None
    if needs > _version_tuple(current):
        raise ArtifactError(f"xfront.deserialize: the artifact targets StableHLO "
                            f"{h['stablehlo_version']}, newer than this jaxlib's {current}. "
                            "Upgrade jaxlib, or export again with this version")
    exp = Exported(name=h["name"], in_tree=in_tree, out_tree=out_tree, in_avals=in_avals,
                   out_avals=out_avals, platforms=tuple(plats), module=blobs["module"],
                   vjp_module=blobs.get("vjp"), xfront_version=h["xfront_version"],
                   stablehlo_version=h["stablehlo_version"], kept=kept["kept"],
                   vjp_kept=kept["vjp_kept"])
    if isolate is not None:
        _parse_in_child(isolate)
    exp.module_ref()  # parse now: a bad module is reported here, not at the first call
    return exp


# --- export -------------------------------------------------------------------------------------

def _to_arg(x: Any) -> Any:
    return x.aval if isinstance(x, Spec) else x


def _lower_closed(graph: _core.Graph, platform: str) -> str:
    """StableHLO text of ``graph`` with its constants inside (``@main(*inputs)``)."""
    from xfront.lowering import lower_subgraph
    from xfront.lowering._emit import Module

    from xfront._shapes import is_static_shape

    module = Module()
    fn = module.function("main", graph.in_avals)
    if any(not is_static_shape(a.shape) for a in graph.in_avals):
        fn.bind_symbols()  # NOTE [Symbolic dimensions]
    consts = [fn.body.constant(np.asarray(c), v.aval)
              for v, c in zip(graph.constvars, graph.consts)]
    outs = lower_subgraph(fn.body, graph, fn.args, platform, consts=consts)
    return fn.finish(outs)


def export(fn: Callable, *specs: Any, vjp: bool = False, platform: str | None = None,
           **kwspecs: Any) -> Exported:
    """Export ``fn`` for the given argument types as a portable artifact.

    Args:
      fn: a function of xfront arrays, or an ``xf.compile``d function (its static arguments
        are then passed here as values and baked in; the artifact takes only the others).
      specs / kwspecs: one ``xf.Spec(shape, dtype)`` or example array (any framework) or
        Python scalar per array leaf, in pytrees like the real arguments.
      vjp: also export the VJP module, so the artifact is differentiable after loading.
      platform: 'cpu' or 'cuda'/'rocm'/'tpu' (default: the default device's platform).

    Returns:
      an ``Exported``: call it, ``serialize()`` it, or give it to ``export_tf``.
    """
    from xfront import __version__ as xf_version
    from xfront._compile import CompiledFunction
    from xfront._device import default_device

    cf = fn if isinstance(fn, CompiledFunction) else CompiledFunction(fn)
    args = tree_map(_to_arg, specs)
    kwargs = {k: tree_map(_to_arg, v) for k, v in kwspecs.items()}
    traced = cf.trace(*args, **kwargs)
    graph = traced.graph
    unbound = _unbound_symbols(graph.in_avals)
    if unbound:
        sig = ", ".join(a.short for a in graph.in_avals)
        raise _errors.err(_errors.ShapeError, "export",
                          f"the symbols {', '.join(unbound)} of ({sig}) appear alone on no "
                          "argument axis, so a call could not tell their sizes",
                          "give each symbol an axis of its own, e.g. Spec(('b', '2*b'), ...)")
    if platform is None:
        platform = (traced.device or default_device()).platform
    platform = {"gpu": "cuda"}.get(platform, platform)
    if platform not in _PLATFORMS:
        raise _errors.err(_errors.ArgumentError, "export",
                          f"platform={platform!r} is not one of {', '.join(_PLATFORMS)}")
    name = getattr(fn, "__name__", "fn")
    _tree_to_json(traced.in_tree, "argument structure")  # fail early on unexportable trees
    _tree_to_json(traced.out_tree, "result structure")
    rt = _rt()
    text = _lower_closed(graph, platform)
    module = rt.portable_artifact(text)
    vjp_module = None
    if vjp:
        from xfront import _autodiff

        try:
            vjp_graph = _autodiff.vjp_graph(graph)
        except _errors.ShapeError as e:
            if not any(isinstance(d, Dim) for a in graph.in_avals for d in a.shape):
                raise
            raise _errors.err(_errors.ShapeError, "export",
                              f"the VJP of `{getattr(fn, '__name__', 'fn')}` has no symbolic "
                              f"form for ({', '.join(a.short for a in graph.in_avals)}): "
                              f"{str(e).splitlines()[0]}",
                              "export with vjp=False, or with static shapes") from None
        vjp_module = rt.portable_artifact(_lower_closed(vjp_graph, platform))
    return Exported(name=name, in_tree=traced.in_tree, out_tree=traced.out_tree,
                    in_avals=graph.in_avals, out_avals=[a.strong() for a in graph.out_avals],
                    platforms=(platform,), module=module, vjp_module=vjp_module,
                    xfront_version=xf_version, stablehlo_version=rt.stablehlo_versions()[1],
                    graph=graph, text=text)


# --- foreign StableHLO ----------------------------------------------------------------------------

def import_stablehlo(module: bytes | str, *, vjp: bytes | str | None = None,
                     name: str = "imported", platform: str = "cpu") -> Exported:
    """Wrap a StableHLO module from another producer as a callable ``Exported``.

    ``module`` is StableHLO text, MLIR bytecode or a portable artifact whose ``@main`` has
    static shapes, or the bytes of ``jax.export``'s ``Exported.serialize()`` (its VJP comes
    along when it was serialized with ``vjp_order=1``). ``vjp`` (text or bytecode) is the VJP
    module for the others: ``@main(*primals, *output cotangents) -> (*input cotangents)``.
    The result takes the flat arguments positionally and returns one array, or a tuple when
    the module has several results.
    """
    from xfront import __version__ as xf_version

    rt = _rt()
    kept = vjp_kept = None
    try:
        if isinstance(module, (bytes, bytearray)) and bytes(module[:4]) != b"ML\xefR" \
                and not _looks_like_text(module):
            parts = rt.jax_export_parts(bytes(module))
            in_avals = [AbstractArray(s, dt.dtype(d)) for s, d in parts["in_avals"]]
            out_avals = [AbstractArray(s, dt.dtype(d)) for s, d in parts["out_avals"]]
            art, kept, platform = parts["module"], parts["kept"], parts["platforms"][0]
            if parts["vjp"] is not None:
                vjp, vjp_kept = parts["vjp"]["module"], parts["vjp"]["kept"]
        else:
            art = module
            ref = _parse_module(module, name)
            in_avals, out_avals = ref.in_avals, ref.out_avals
    except ValueError as e:
        raise _errors.err(ArtifactError, "import_stablehlo", str(e)) from None
    except TypeError as e:  # a dtype xfront lacks (e.g. float0 in a jax VJP)
        raise _errors.err(ArtifactError, "import_stablehlo", str(e)) from None
    platform = {"gpu": "cuda", "CPU": "cpu", "CUDA": "cuda"}.get(platform, platform)
    n = len(in_avals)
    in_tree = TreeDef(tuple, None, (TreeDef(tuple, None, (LEAF,) * n),
                                    TreeDef(dict, (), ())))
    out_tree = LEAF if len(out_avals) == 1 else TreeDef(tuple, None, (LEAF,) * len(out_avals))
    as_bytes = (lambda m: rt.to_portable_artifact(m if isinstance(m, str) or bytes(m[:4])
                                                  == b"ML\xefR" else bytes(m).decode()))
    try:
        exp = Exported(name=name, in_tree=in_tree, out_tree=out_tree, in_avals=in_avals,
                       out_avals=out_avals, platforms=(platform,), module=as_bytes(art),
                       vjp_module=None if vjp is None else as_bytes(vjp),
                       xfront_version=xf_version, stablehlo_version=rt.stablehlo_versions()[1],
                       kept=kept, vjp_kept=vjp_kept)
    except Exception as e:
        raise _errors.err(ArtifactError, "import_stablehlo",
                          f"the module cannot be stored as a portable artifact: "
                          f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    exp.module_ref()
    return exp


def _looks_like_text(b: bytes | bytearray) -> bool:
    head = bytes(b[:64]).lstrip()
    return head.startswith((b"module", b"func.func", b"#loc", b"\"func.func\"", b"//"))


# --- TensorFlow SavedModel ------------------------------------------------------------------------

def export_tf(exported: Exported) -> Any:
    """A ``tf.Module`` whose ``__call__`` is a ``tf.function`` running ``exported`` through
    TF's XlaCallModule op (with its gradient when the artifact carries a VJP).

    The signature is flat: one tensor per argument leaf, in ``exported.in_avals`` order;
    symbolic dimensions are ``None`` (XlaCallModule refines the module to the run-time shapes).
    Save it with ``tf.saved_model.save(module, path)``; loading needs TensorFlow only.
    """
    import tensorflow as tf

    from xfront.bridges.tensorflow import _staged, tf_dtype

    exp = exported
    if not isinstance(exp, Exported):
        raise _errors.err(_errors.ArgumentError, "export_tf",
                          f"expected an xf.Exported, got {type(exp).__name__}")
    exp.module_ref()
    tf_platform = {"cpu": "CPU", "cuda": "CUDA", "rocm": "ROCM", "tpu": "TPU"}[exp.platforms[0]]
    in_avals = [a.strong() for a in exp.in_avals]
    out_avals = list(exp.out_avals)
    sig = [tf.TensorSpec([d if isinstance(d, int) else None for d in a.shape],
                         tf_dtype(a.dtype), name=f"arg{i}")
           for i, a in enumerate(in_avals)]
    module, vjp_module = exp.module, exp.vjp_module
    out_tree = exp.out_tree

    def run(xs: Sequence[Any]) -> list[Any]:
        return _staged(module, [], list(xs), out_avals, tf_platform)

    if vjp_module is None:
        def flat(*xs: Any) -> Any:
            return run(xs)
    else:
        @tf.custom_gradient
        def flat(*xs: Any) -> Any:
            outs = run(xs)

            def grad(*dys: Any) -> list[Any]:
                cts = [dy if dy is not None else tf.zeros_like(o)
                       for dy, o in zip(dys, outs)]
                got = _staged(vjp_module, [], list(xs) + cts, in_avals, tf_platform)
                return [g if a.dtype.kind in "fc" else None for g, a in zip(got, in_avals)]

            return outs, grad

    class ExportedModule(tf.Module):
        def __init__(self) -> None:
            super().__init__(name=exp.name if exp.name.isidentifier() else "exported")

        @tf.function(input_signature=sig, autograph=False)
        def __call__(self, *xs: Any) -> Any:
            return tree_unflatten(out_tree, list(flat(*xs)))

    return ExportedModule()
