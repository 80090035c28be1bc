"""The graph IR, primitives, and the tracer that records programs into graphs.

Imports: _aval, _array, _dtypes, _errors. Never the namespace (_api), lowering or the runtime
(eager execution is reached through ``_eager_apply``, which xfront._eager installs).

IR in one breath
----------------
* ``Var`` is a typed SSA value (an ``AbstractArray``); ``Literal`` is a small inline constant.
* ``Eqn`` applies a ``Primitive`` with hashable keyword ``params`` to input atoms and defines
  output vars. It remembers the user's source line.
* ``Graph`` has ``invars``, ``constvars`` (with the concrete ``consts`` they stand for),
  ``eqns`` and ``outs``. Control-flow primitives carry sub-graphs (regions) in their params.
* ``Builder`` records eqns while user code runs on ``Tracer``s. Builders nest: a region's
  builder lifts values of enclosing builders into explicit ``captures`` of the region.

Every operation funnels through ``Primitive.bind``: inside a trace the eqn is recorded
(omnistaging: concrete inputs become constants); outside, the primitive runs eagerly through
the same lowering as compiled code.
"""

from __future__ import annotations

import itertools
import os
import threading
from typing import Any, Callable, Sequence

import numpy as np

from xfront import _dtypes, _errors
from xfront._array import Array
from xfront._aval import AbstractArray

_var_ids = itertools.count()


class Var:
    __slots__ = ("aval", "id")

    def __init__(self, aval: AbstractArray):
        self.aval = aval
        self.id = next(_var_ids)

    def __repr__(self) -> str:
        return f"Var({self.id}:{self.aval.short})"


class Literal:
    """An inline constant (a small NumPy array) used directly as an eqn input."""

    __slots__ = ("value", "aval")

    def __init__(self, value: np.ndarray, aval: AbstractArray):
        self.value = value
        self.aval = aval

    def __repr__(self) -> str:
        return f"Literal({format_literal(self.value)}:{self.aval.short})"


Atom = Var | Literal


class WeakValue:
    """A Python scalar converted to ``dtype`` that stays weakly typed inside traces.

    The namespace wraps converted Python scalars in this so ``s * 2`` keeps a weak compile
    argument weak (see NOTE [Python scalars are weak]). Eagerly it is just its NumPy value.
    """

    __slots__ = ("value",)

    def __init__(self, value: np.ndarray):
        self.value = value

    @property
    def dtype(self):
        return _dtypes.dtype(self.value.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.shape

    @property
    def ndim(self) -> int:
        return self.value.ndim

    @property
    def aval(self) -> AbstractArray:
        return AbstractArray(self.value.shape, self.dtype, True)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.value if dtype is None else self.value.astype(dtype)


def format_literal(v: np.ndarray) -> str:
    if v.ndim == 0:
        x = v.item()
        return repr(bool(x)) if v.dtype == np.bool_ else repr(x)
    return np.array2string(v, separator=",", threshold=8).replace("\n", "")


class SourceInfo:
    __slots__ = ("file", "line", "function")

    def __init__(self, file: str, line: int, function: str):
        self.file, self.line, self.function = file, line, function

    def __str__(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line} in {self.function}"


class Eqn:
    __slots__ = ("prim", "inputs", "outputs", "params", "source")

    def __init__(self, prim: Primitive, inputs: list[Atom], outputs: list[Var],
                 params: dict[str, Any], source: SourceInfo | None):
        self.prim, self.inputs, self.outputs = prim, inputs, outputs
        self.params, self.source = params, source

    def __repr__(self) -> str:
        return f"Eqn({self.prim.name})"


class Graph:
    """A typed dataflow graph: ``outs = f(*constvars, *invars)``."""

    __slots__ = ("invars", "constvars", "consts", "eqns", "outs", "name")

    def __init__(self, invars: list[Var], constvars: list[Var], consts: list[Any],
                 eqns: list[Eqn], outs: list[Atom], name: str = "graph"):
        self.invars, self.constvars, self.consts = invars, constvars, consts
        self.eqns, self.outs, self.name = eqns, outs, name

    @property
    def in_avals(self) -> list[AbstractArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[AbstractArray]:
        return [a.aval for a in self.outs]

    def __str__(self) -> str:
        from xfront._pprint import pprint_graph

        return pprint_graph(self)

    def __repr__(self) -> str:
        return f"<xfront.Graph {self.name}: {len(self.invars)} inputs, {len(self.eqns)} eqns>"

    # identity hashing: graphs appear in params of control-flow eqns
    __hash__ = object.__hash__
    __eq__ = object.__eq__


# --- primitives -----------------------------------------------------------------------------

class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


# NOTE [Platform names]
#     Devices report their platform as 'cpu', 'gpu' or 'tpu' (the runtime folds CUDA and ROCm
#     into 'gpu'), and lowering is asked for that name. Platform-specific lowering rules may be
#     registered under 'cuda' or 'rocm' as well; both are stored under 'gpu' (StableHLO is the
#     same for either vendor), so registration and lookup always agree.
LOWERING_PLATFORMS = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "rocm": "gpu", "tpu": "tpu"}


def lowering_rule(prim: Primitive, platform: str) -> Callable:
    """The lowering rule of ``prim`` for ``platform`` (any name in LOWERING_PLATFORMS)."""
    return prim.platform_lowering.get(LOWERING_PLATFORMS.get(platform, platform), prim.lowering)


NONDIFFERENTIABLE = _Marker("NONDIFFERENTIABLE")  # comparisons, integer-valued ops, ...
VJP_TODO = _Marker("VJP_TODO")  # a differentiable prim whose rule is not written yet

PRIMITIVES: dict[str, Primitive] = {}


class Primitive:
    """One primitive operation, declared once with all of its rules.

    Args:
      name: display name (printing, test ids); never used for dispatch.
      abstract_eval: ``(*in_avals, **params) -> out_aval`` (or a list when
        ``multiple_results``); raises ShapeError/DTypeError with a clear message.
      ref: NumPy reference ``(*np_arrays, **params) -> np_array(s)``: the semantic definition.
      lowering: StableHLO rule ``(ctx, *values, **params) -> list[Value]`` from xfront.lowering.
      vjp: ``(ct, *primals, out=..., **params) -> list[ct | None]`` (``ct``/``out`` are lists
        for ``multiple_results``), or NONDIFFERENTIABLE / VJP_TODO (see xfront/_autodiff.py).
      jvp: ``(primals, tangents, *, out, **params) -> tangent(s) out``, or None: forward mode
        then transposes the vjp rule (NOTE [JVP by transposition] in xfront/_autodiff.py).
      batch: vmap's batching rule ``(size, args, dims, **params) -> (out(s), out_dim(s))``
        (``dims[i]`` is the batched axis of ``args[i]`` or None), or a
        ``xfront._batching.NotBatchable`` saying why there is none; None until a prims module
        sets it (see xfront/_batching.py).
    """

    __slots__ = ("name", "abstract_eval", "ref", "lowering", "vjp", "jvp", "multiple_results",
                 "platform_lowering", "doc", "batch", "__weakref__")

    def __init__(self, name: str, *, abstract_eval: Callable, ref: Callable, lowering: Callable,
                 vjp: Any = VJP_TODO, jvp: Callable | None = None,
                 multiple_results: bool = False,
                 platform_lowering: dict[str, Callable] | None = None, doc: str = "",
                 batch: Any = None):
        if name in PRIMITIVES:
            raise ValueError(f"primitive {name!r} is already declared")
        for rule, what in ((abstract_eval, "abstract_eval"), (ref, "ref"), (lowering, "lowering")):
            if not callable(rule):
                raise TypeError(f"primitive {name!r}: {what} must be callable, got {rule!r}")
        if not (callable(vjp) or vjp is NONDIFFERENTIABLE or vjp is VJP_TODO):
            raise TypeError(f"primitive {name!r}: vjp must be a rule, NONDIFFERENTIABLE or VJP_TODO")
        rules: dict[str, Callable] = {}
        for platform, rule in (platform_lowering or {}).items():
            canon = LOWERING_PLATFORMS.get(platform)
            if canon is None:
                raise ValueError(f"primitive {name!r}: unknown platform {platform!r}; "
                                 f"known platforms: {', '.join(LOWERING_PLATFORMS)}")
            if rules.get(canon, rule) is not rule:
                raise ValueError(f"primitive {name!r}: different lowering rules for {platform!r} "
                                 f"and another name of the {canon!r} platform")
            rules[canon] = rule
        self.name = name
        self.abstract_eval = abstract_eval
        self.ref = ref
        self.lowering = lowering
        self.vjp = vjp
        self.jvp = jvp
        self.multiple_results = multiple_results
        self.platform_lowering = rules  # keyed by canonical platform (see LOWERING_PLATFORMS)
        self.doc = doc
        self.batch = batch
        PRIMITIVES[name] = self

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def bind(self, *args: Any, **params: Any):
        stack = _TRACE.stack
        top = stack[-1] if stack else None
        if top is None:
            for a in args:
                if isinstance(a, Tracer):
                    raise _leak_error(a, self.name)
            return _eager_apply(self, args, params)
        return top.apply(self, args, params)


def _no_eager(prim: Primitive, args: Sequence[Any], params: dict[str, Any]):
    raise RuntimeError("xfront._eager was not imported")


_eager_apply: Callable = _no_eager  # installed by xfront._eager


def set_eager_apply(fn: Callable) -> None:
    global _eager_apply
    _eager_apply = fn


# --- tracing --------------------------------------------------------------------------------

# NOTE [Per-thread trace state]
#     A trace belongs to the thread that opened it: the stack of open builders is thread-local,
#     so eager work in another thread never sees (or records into) a trace, and two threads can
#     trace different functions at once. Tracers carry their builder, so a tracer handed to
#     another thread is still caught as a leak (its builder is not on that thread's stack).

class _TraceState(threading.local):
    def __init__(self) -> None:
        self.stack: list[Builder] = []


_TRACE = _TraceState()


class _StackView:
    """The calling thread's stack of open builders, read like a list (``if _STACK:``,
    ``_STACK[-1]``, ``len(_STACK)``)."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return bool(_TRACE.stack)

    def __len__(self) -> int:
        return len(_TRACE.stack)

    def __getitem__(self, i: Any) -> Any:
        return _TRACE.stack[i]

    def __iter__(self):
        return iter(list(_TRACE.stack))

    def append(self, b: Builder) -> None:
        _TRACE.stack.append(b)

    def pop(self) -> Builder:
        return _TRACE.stack.pop()


_STACK = _StackView()


def tracing() -> bool:
    """Whether the calling thread is inside a trace."""
    return bool(_TRACE.stack)


LITERAL_MAX_SIZE = 16  # NumPy constants up to this many elements are inlined as literals


def _leak_error(t: Tracer, where: str) -> _errors.TracerLeakError:
    return _errors.err(
        _errors.TracerLeakError, where,
        f"a traced value {t.aval.short} from the trace of `{t._builder.name}` was used after "
        "that trace ended (it leaked out, e.g. through a global, a closure or a list)",
        "return values from the compiled function instead of storing tracers")


def _source_info() -> SourceInfo | None:
    f = _errors.user_frame(3)
    if f is None:
        return None
    return SourceInfo(f.f_code.co_filename, f.f_lineno, f.f_code.co_name)


class Builder:
    """Records eqns while a function runs on tracers. Nested builders trace regions."""

    def __init__(self, name: str = "graph", parent: Builder | None = None):
        self.name = name
        self.parent = parent
        self.eqns: list[Eqn] = []
        self.invars: list[Var] = []
        self.constvars: list[Var] = []
        self.consts: list[Any] = []
        self._const_ids: dict[int, tuple[Any, Var]] = {}
        # region builders: outer values (tracers of an enclosing builder) -> inner vars
        self.captured_outer: list[Any] = []
        self.captured_vars: list[Var] = []
        self._capture_ids: dict[int, Var] = {}
        self._keepalive: list[Any] = []  # objects whose id() keys _capture_ids
        self.alive = True

    def __enter__(self) -> Builder:
        _TRACE.stack.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        stack = _TRACE.stack
        if not stack or stack[-1] is not self:  # pragma: no cover - an internal bug
            raise RuntimeError(f"xfront: the trace stack of this thread is corrupted while "
                               f"closing `{self.name}`")
        stack.pop()

    def new_arg(self, aval: AbstractArray) -> Tracer:
        v = Var(aval)
        self.invars.append(v)
        return Tracer._make(self, v)

    def _is_ancestor(self, b: Builder) -> bool:
        p = self.parent
        while p is not None:
            if p is b:
                return True
            p = p.parent
        return False

    def atom_for(self, x: Any) -> Atom:
        """The graph atom for an input value, capturing outer values as needed."""
        if isinstance(x, Tracer):
            b = x._builder
            if b is self:
                return x._var
            if not b.alive or not self._is_ancestor(b):
                raise _leak_error(x, "trace")
            return self._capture(x)
        if isinstance(x, Array):
            if self.parent is not None:
                return self._capture(x)
            # keyed by the object and its buffer: an in-place update rebinds x to a new buffer
            # (NOTE [In-place updates] in _array.py), which is a new constant; the snapshot
            # keeps the value this trace saw
            hit = self._const_ids.get(id(x))
            if hit is None or hit[0] is not x._buf:
                v = Var(x.aval)
                self._const_ids[id(x)] = (x._buf, v)
                self.constvars.append(v)
                self.consts.append(Array._new(x._buf, x.aval, x._device))
                return v
            return hit[1]
        if isinstance(x, WeakValue):
            return Literal(x.value, x.aval)
        arr = np.asarray(x)
        d = _dtypes.dtype(arr.dtype)
        if arr.size <= LITERAL_MAX_SIZE:
            return Literal(arr, AbstractArray(arr.shape, d))
        if self.parent is not None:
            return self._capture(arr)
        v = Var(AbstractArray(arr.shape, d))
        self.constvars.append(v)
        self.consts.append(arr)
        return v

    def _capture(self, outer: Any) -> Var:
        v = self._capture_ids.get(id(outer))
        if v is None:
            # make sure the value is representable in the parent first (recursively)
            assert self.parent is not None
            parent_atom = self.parent.atom_for(outer)
            if isinstance(parent_atom, Literal):  # pragma: no cover - literals are not captured
                raise AssertionError("literals are inlined, never captured")
            aval = parent_atom.aval
            v = Var(aval)
            self._capture_ids[id(outer)] = v
            self._keepalive.append(outer)
            self.captured_outer.append(outer if isinstance(outer, Tracer) else
                                       Tracer._make(self.parent, parent_atom))
            self.captured_vars.append(v)
        return v

    def apply(self, prim: Primitive, args: Sequence[Any], params: dict[str, Any]):
        atoms = [self.atom_for(a) for a in args]
        out = prim.abstract_eval(*[a.aval for a in atoms], **params)
        out_avals = out if prim.multiple_results else [out]
        outvars = [Var(a) for a in out_avals]
        self.eqns.append(Eqn(prim, atoms, outvars, params, _source_info()))
        tracers = [Tracer._make(self, v) for v in outvars]
        return tracers if prim.multiple_results else tracers[0]

    def build(self, outs: Sequence[Any]) -> Graph:
        out_atoms = [self.atom_for(o) for o in outs]
        invars = self.invars + self.captured_vars
        return Graph(invars, list(self.constvars), list(self.consts), list(self.eqns), out_atoms,
                     self.name)

    def close(self) -> None:
        self.alive = False


def current_builder() -> Builder | None:
    stack = _TRACE.stack
    return stack[-1] if stack else None


class Tracer(Array):
    """An abstract array recorded into a graph while a function is traced."""

    __slots__ = ("_builder", "_var")

    @classmethod
    def _make(cls, builder: Builder, var: Var) -> Tracer:
        self = object.__new__(cls)
        self.aval = var.aval
        self._builder = builder
        self._var = var
        self._buf = None
        self._device = None
        self._owned = False
        return self

    @property
    def device(self):
        from xfront._device import default_device

        return default_device()

    def _concrete_error(self, what: str) -> _errors.TracerConversionError:
        return _errors.err(
            _errors.TracerConversionError, what,
            f"{what} was called on a traced array {self.aval.short} inside `{self._builder.name}`; "
            "Python control flow and conversions cannot depend on traced values",
            "for a data-dependent branch use xfront.cond (or xfront.switch), for a loop use "
            "xfront.while_loop (or xfront.fori_loop / xfront.scan), to choose elementwise use "
            "xfront.where; or mark the argument static (static_argnums / static_argnames)")

    def __bool__(self) -> bool:
        raise self._concrete_error("bool()")

    def __int__(self) -> int:
        raise self._concrete_error("int()")

    def __float__(self) -> float:
        raise self._concrete_error("float()")

    def __complex__(self) -> complex:
        raise self._concrete_error("complex()")

    def __index__(self) -> int:
        raise self._concrete_error("__index__ (use as a Python index)")

    def item(self):
        raise self._concrete_error("item()")

    def tolist(self):
        raise self._concrete_error("tolist()")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise self._concrete_error("numpy conversion (__array__)")

    def __dlpack__(self, **kwargs: Any):
        raise self._concrete_error("__dlpack__")

    def __dlpack_device__(self):
        raise self._concrete_error("__dlpack_device__")

    def block_until_ready(self) -> Tracer:
        return self

    def unsafe_buffer_pointer(self) -> int:
        raise self._concrete_error("unsafe_buffer_pointer()")

    def to_device(self, device: Any, /, *, stream: Any = None) -> Tracer:
        return self

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        return f"Tracer<{self.aval.short}>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)


def trace_graph(fn: Callable, in_avals: Sequence[AbstractArray], *, name: str | None = None,
                parent: Builder | None = None) -> tuple[Graph, Any, Builder]:
    """Trace ``fn(*tracers)`` into a Graph. Returns (graph, raw python outputs, builder).

    ``fn`` receives one tracer per aval and must return a flat sequence of array-likes.
    """
    b = Builder(name or getattr(fn, "__name__", "graph"), parent=parent)
    try:
        with b:
            args = [b.new_arg(a) for a in in_avals]
            outs = fn(*args)
            graph = b.build(outs)
    finally:
        b.close()
    return graph, outs, b


# --- graph utilities ------------------------------------------------------------------------

def check_graph(graph: Graph) -> None:
    """IR verifier: every input is defined before use, and every eqn re-type-checks."""
    defined: set[int] = {v.id for v in graph.invars} | {v.id for v in graph.constvars}

    def read(a: Atom, where: str) -> None:
        if isinstance(a, Var) and a.id not in defined:
            raise AssertionError(f"{where}: var {a} used before definition")

    for i, e in enumerate(graph.eqns):
        for a in e.inputs:
            read(a, f"eqn {i} ({e.prim.name})")
        out = e.prim.abstract_eval(*[a.aval for a in e.inputs], **e.params)
        avals = out if e.prim.multiple_results else [out]
        if [a.strong() for a in avals] != [v.aval.strong() for v in e.outputs]:
            raise AssertionError(f"eqn {i} ({e.prim.name}): recorded {[v.aval for v in e.outputs]} "
                                 f"but rules give {avals}")
        for p in e.params.values():
            for sub in (p if isinstance(p, tuple) else (p,)):
                if isinstance(sub, Graph):
                    check_graph(sub)
        defined.update(v.id for v in e.outputs)
    for a in graph.outs:
        read(a, "graph outputs")


def eval_graph_ref(graph: Graph, *args: Any) -> list[np.ndarray]:
    """Reference interpreter: run a graph with each primitive's NumPy ``ref``."""
    env: dict[int, Any] = {}
    for v, c in zip(graph.constvars, graph.consts):
        env[v.id] = np.asarray(c)
    for v, a in zip(graph.invars, args):
        env[v.id] = np.asarray(a)

    def read(a: Atom):
        return a.value if isinstance(a, Literal) else env[a.id]

    for e in graph.eqns:
        out = e.prim.ref(*[read(a) for a in e.inputs], **e.params)
        outs = out if e.prim.multiple_results else [out]
        for v, o in zip(e.outputs, outs):
            env[v.id] = np.asarray(o, dtype=v.aval.dtype.np).reshape(v.aval.shape)
    return [read(a) for a in graph.outs]

