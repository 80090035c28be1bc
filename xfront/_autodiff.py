"""Automatic differentiation as graph -> graph transformations: reverse mode (``vjp``, ``grad``,
``value_and_grad``) and forward mode (``jvp``), plus ``stop_gradient``.

Imports: _core, _tree, _dtypes, _errors, _aval, _array, prims; _compile, _eager, _device,
bridges and lowering lazily (eager execution only).

How it works
------------
* ``f`` is traced into a Graph (``_core.trace_graph``), nested under the current trace, so values
  it closes over become captured inputs that are *not* differentiated (JAX semantics).
* Reverse mode re-emits that graph's eqns into the current trace (``_inline``), then walks them
  backwards (``backward_pass``) calling each primitive's ``vjp`` rule. Rules are written with
  prim-level wrappers, so they *emit* primitives: the backward pass is itself a graph that is
  lowered to StableHLO and compiled together with the forward pass.
* Only *active* eqns are differentiated: those that depend on a differentiated input through
  floating-point (or complex) values and are not NONDIFFERENTIABLE. Fan-out is handled by
  accumulating cotangents with ``add``; eqns whose outputs got no cotangent are skipped; a
  missing cotangent is a zero. Reaching an active eqn whose primitive is ``VJP_TODO`` raises
  ``DifferentiationError`` naming the primitive and the user's source line.
* Forward mode is derived from the VJP rules (NOTE [JVP by transposition]); a primitive that
  declares an explicit ``jvp`` rule uses it instead.
* Outside any trace, ``grad``/``value_and_grad``/``jvp`` trace forward and backward into one
  program and compile it once per abstract signature (through ``xfront.compile``, so caching,
  pytrees and "outputs come back in the inputs' framework" behave as for compiled functions).
  Eager ``vjp`` compiles two programs (``CompiledVJP``): the forward, which also returns the
  residuals the backward needs, and the backward. Inside a trace (``xf.compile(xf.grad(f))``)
  everything is emitted into that trace instead.

For framework integration (torch autograd, TF GradientTape), ``compile_vjp(graph, wrt)`` gives a
``CompiledVJP`` whose ``call`` runs the plain forward executable (no residuals: calls without
grad-requiring inputs pay nothing for differentiation), ``forward`` runs the forward that also
returns residuals, and ``backward`` maps (primals, residuals, output cotangents) to input
cotangents. ``vjp_graphs`` is the graph-level split behind it.

For rule authors (control flow, ...): ``emit_vjp(graph, primals, cts)`` and
``emit_jvp(graph, primals, tangents)`` differentiate a sub-graph into the current trace;
``vjp_graph``/``jvp_graph`` return the transformed graph instead.

NOTE [Cotangent dtypes]
    A cotangent has its primal's shape and dtype: float inputs get cotangents of their own
    dtype (a float16 input gets a float16 gradient), weak-typed inputs (Python floats) get their
    weak dtype's strong form (float64). Integer and bool values are never differentiated: they
    get no cotangent inside the graph, ``grad``/``value_and_grad`` raise ``DTypeError`` for an
    integer or bool argument in ``argnums``, ``vjp`` returns zeros of the input's own integer
    dtype for such inputs, and ``jvp`` ignores their tangents and returns zero tangents (of the
    output's dtype) for integer outputs. Complex values follow JAX's convention (the VJP is the
    transpose of the linear map, without conjugation).

NOTE [JVP by transposition]
    A VJP rule ``ct -> vjp(ct, primals)`` is linear in ``ct``; its transpose is the JVP. For each
    active eqn without an explicit ``jvp`` rule, forward mode emits the rule on a zero-seeded
    cotangent ``u`` and runs ``backward_pass`` over just those emitted eqns with the input
    tangents as cotangents: that gives ``J t``. The zero seed only ever feeds linear ops, so the
    seeded forward values are dead and removed (``_dce_section``). Cost: tracing does about
    twice the work of a hand-written JVP rule per eqn (the rule, then its transpose); the
    emitted program has the same operations a JVP rule would emit plus the primal-only parts of
    the VJP rule (e.g. ``cos(x)`` for ``sin``), i.e. about the cost of one forward and one
    backward pass, which XLA fuses. No per-primitive JVP rules have to be written or kept in
    sync with the VJP rules.
"""

from __future__ import annotations

import functools
import threading
import weakref
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._array import Array
from xfront._aval import AbstractArray
from xfront._core import (NONDIFFERENTIABLE, VJP_TODO, Builder, Eqn, Graph, Literal, Tracer, Var,
                          WeakValue)
from xfront._once import SingleFlight
from xfront._tree import TreeDef, tree_flatten, tree_flatten_with_path, tree_map, tree_unflatten
from xfront.prims import elementwise as _ew
from xfront.prims import shape as _sh

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "stop_gradient", "DifferentiationError",
           "backward_pass", "jvp_pass", "emit_vjp", "emit_jvp", "vjp_graph", "jvp_graph",
           "vjp_graphs", "VJPGraphs", "compile_vjp", "CompiledVJP", "dce"]


class DifferentiationError(_errors.XfrontError, NotImplementedError):
    """A function cannot be differentiated (a primitive on the path has no VJP rule yet)."""


_PY_SCALAR_AVALS = {bool: AbstractArray((), dt.bool_, True), int: AbstractArray((), dt.int64, True),
                    float: AbstractArray((), dt.float64, True),
                    complex: AbstractArray((), dt.complex128, True)}


def differentiable(aval: AbstractArray) -> bool:
    """Whether values of this type carry cotangents/tangents (floating and complex dtypes)."""
    return aval.dtype.kind in "fc"


def zeros(aval: AbstractArray) -> Any:
    """A zero array of ``aval``'s shape and dtype, emitted into the current trace."""
    return _sh.broadcast_in_dim(np.zeros((), dtype=aval.dtype.np), shape=aval.shape, dims=())


# --- values that rules see ---------------------------------------------------------------------

class _Const(WeakValue):
    """A graph literal handed to rules: keeps the literal's own aval (weak or not)."""

    __slots__ = ("_aval",)

    def __init__(self, lit: Literal):
        super().__init__(lit.value)
        self._aval = lit.aval

    @property
    def aval(self) -> AbstractArray:
        return self._aval

    @property
    def dtype(self):
        return self._aval.dtype


def _to_value(x: Any) -> Any:
    """``x`` as an operand of the current trace: a Tracer of it, or a literal (_Const/WeakValue)."""
    b = _core.current_builder()
    assert b is not None, "internal: autodiff emits into a trace"
    if isinstance(x, Tracer) and x._builder is b:
        return x
    if isinstance(x, WeakValue):
        return x
    if type(x) in _PY_SCALAR_AVALS:
        return WeakValue(np.asarray(x, dtype=_PY_SCALAR_AVALS[type(x)].dtype.np))
    atom = b.atom_for(x)
    if isinstance(atom, Literal):
        return _Const(atom)
    return Tracer._make(b, atom)


def _materialize(x: Any) -> Any:
    """A value returned to user code: literals become (traced) arrays."""
    if isinstance(x, Tracer):
        return x
    return _sh.reshape(x, shape=x.shape)


def _aval_of(x: Any) -> AbstractArray:
    aval = getattr(x, "aval", None)
    if isinstance(aval, AbstractArray):
        return aval
    if type(x) in _PY_SCALAR_AVALS:
        return _PY_SCALAR_AVALS[type(x)]
    arr = np.asarray(x)
    return AbstractArray(tuple(arr.shape), dt.dtype(arr.dtype))


def _set_source(b: Builder, start: int, source: Any) -> None:
    """Eqns emitted for an eqn (re-emitted forward, its VJP) point at the user's line of it."""
    if source is not None:
        for e in b.eqns[start:]:
            e.source = source


# --- dead code elimination -----------------------------------------------------------------------

def _live(eqns: Sequence[Eqn], roots: set[int]) -> list[bool]:
    live = set(roots)
    keep = [False] * len(eqns)
    for i in range(len(eqns) - 1, -1, -1):
        e = eqns[i]
        if any(v.id in live for v in e.outputs):
            keep[i] = True
            live.update(a.id for a in e.inputs if isinstance(a, Var))
    return keep


def dce(graph: Graph) -> Graph:
    """``graph`` without the eqns (and constants) its outputs do not depend on."""
    keep = _live(graph.eqns, {a.id for a in graph.outs if isinstance(a, Var)})
    eqns = [e for e, k in zip(graph.eqns, keep) if k]
    used = {a.id for e in eqns for a in e.inputs if isinstance(a, Var)}
    used |= {a.id for a in graph.outs if isinstance(a, Var)}
    cv = [(v, c) for v, c in zip(graph.constvars, graph.consts) if v.id in used]
    return Graph(list(graph.invars), [v for v, _ in cv], [c for _, c in cv], eqns,
                 list(graph.outs), graph.name)


def _dce_section(b: Builder, start: int, roots: set[int]) -> None:
    """Drop the eqns emitted since ``start`` that ``roots`` do not depend on."""
    section = b.eqns[start:]
    keep = _live(section, roots)
    b.eqns[start:] = [e for e, k in zip(section, keep) if k]


# --- the transformations on eqn lists ------------------------------------------------------------

def _todo_error(api: str, e: Eqn) -> DifferentiationError:
    return _errors.err(
        DifferentiationError, api,
        f"cannot differentiate through the primitive `{e.prim.name}`: its VJP rule is not "
        "written yet (VJP_TODO)",
        "if this value's gradient is not needed, wrap it in xfront.stop_gradient; otherwise the "
        "rule belongs next to the primitive's declaration in xfront/prims",
        site=str(e.source) if e.source is not None else None)


def _check_rule_result(api: str, e: Eqn, i: int, want: AbstractArray, ct: Any, what: str) -> None:
    got = _aval_of(ct)
    if got.shape != want.shape or got.dtype is not want.dtype:
        raise _errors.err(
            DifferentiationError, api,
            f"internal error: the {what} rule of `{e.prim.name}` returned {got.short} for "
            f"operand {i} of type {want.strong().short}; rules must return values with the "
            "shape and dtype of the operand they belong to",
            site=str(e.source) if e.source is not None else None)


def _read_builder(b: Builder) -> Callable[[Any], Any]:
    def read(atom: Any) -> Any:
        return _Const(atom) if isinstance(atom, Literal) else Tracer._make(b, atom)

    return read


def backward_pass(eqns: Sequence[Eqn], read: Callable[[Any], Any], outs: Sequence[Any],
                  cts: Sequence[Any], wrt: Sequence[Var], *, api: str = "vjp") -> list[Any]:
    """Emit the VJP of ``eqns`` into the current trace.

    Args:
      eqns: the forward eqns, in order; their values must already exist in the current trace.
      read: atom of ``eqns`` -> its value in the current trace (what rules receive as primals).
      outs / cts: output atoms and their cotangents (None: no cotangent).
      wrt: the vars to differentiate with respect to.
    Returns:
      the cotangent of each var in ``wrt``, or None where it is zero (or not differentiable).
    """
    b = _core.current_builder()
    section = len(b.eqns)
    active = {v.id for v in wrt if differentiable(v.aval)}
    for e in eqns:
        if e.prim.vjp is NONDIFFERENTIABLE:
            continue
        if any(isinstance(a, Var) and a.id in active for a in e.inputs):
            active.update(v.id for v in e.outputs if differentiable(v.aval))
    ct_env: dict[int, Any] = {}

    def accum(v: Var, ct: Any) -> None:
        prev = ct_env.get(v.id)
        ct_env[v.id] = ct if prev is None else _ew.add(prev, ct)

    for a, ct in zip(outs, cts):
        if ct is not None and isinstance(a, Var) and a.id in active:
            accum(a, ct)
    for e in reversed(eqns):
        if not any(v.id in ct_env for v in e.outputs):
            continue
        is_active = [isinstance(a, Var) and a.id in active for a in e.inputs]
        if not any(is_active):
            continue
        rule = e.prim.vjp
        if rule is VJP_TODO:
            raise _todo_error(api, e)
        start = len(b.eqns)
        cts_out = [ct_env.pop(v.id, None) for v in e.outputs]
        primals = [read(a) for a in e.inputs]
        out_vals = [read(v) for v in e.outputs]
        if e.prim.multiple_results:
            cts_out = [zeros(v.aval) if ct is None and differentiable(v.aval) else ct
                       for ct, v in zip(cts_out, e.outputs)]
            res = rule(cts_out, *primals, out=out_vals, **e.params)
        else:
            res = rule(cts_out[0], *primals, out=out_vals[0], **e.params)
        if not isinstance(res, (list, tuple)) or len(res) != len(e.inputs):
            raise _errors.err(DifferentiationError, api,
                              f"internal error: the VJP rule of `{e.prim.name}` must return a "
                              f"list of {len(e.inputs)} cotangents, got {res!r}")
        for i, (a, act, ct) in enumerate(zip(e.inputs, is_active, res)):
            if act and ct is not None:
                _check_rule_result(api, e, i, a.aval, ct, "VJP")
                accum(a, _to_value(ct))
        _set_source(b, start, e.source)
    result = [ct_env.get(v.id) for v in wrt]
    # rules also emit cotangents of inactive operands (e.g. of a weight in x @ w when only x
    # is differentiated): drop everything the requested cotangents do not need
    _dce_section(b, section, {r._var.id for r in result
                              if isinstance(r, Tracer) and r._builder is b})
    return result


def jvp_pass(eqns: Sequence[Eqn], read: Callable[[Any], Any], wrt: Sequence[Var],
             tangents: Sequence[Any], *, api: str = "jvp") -> dict[int, Any]:
    """Emit the JVP of ``eqns`` into the current trace; returns {var id: tangent} (absent: 0)."""
    b = _core.current_builder()
    t_env: dict[int, Any] = {v.id: t for v, t in zip(wrt, tangents)
                             if t is not None and differentiable(v.aval)}
    for e in eqns:
        t_in = [t_env.get(a.id) if isinstance(a, Var) else None for a in e.inputs]
        if (all(t is None for t in t_in) or e.prim.vjp is NONDIFFERENTIABLE
                or not any(differentiable(v.aval) for v in e.outputs)):
            continue
        start = len(b.eqns)
        primals = [read(a) for a in e.inputs]
        out_vals = [read(v) for v in e.outputs]
        multi = e.prim.multiple_results
        if e.prim.jvp is not None:
            full = [t if t is not None else (zeros(a.aval) if differentiable(a.aval) else None)
                    for t, a in zip(t_in, e.inputs)]
            t_out = e.prim.jvp(primals, full, out=out_vals if multi else out_vals[0], **e.params)
            t_out = list(t_out) if multi else [t_out]
        elif e.prim.vjp is VJP_TODO:
            raise _todo_error(api, e)
        else:
            t_out = _jvp_by_transposition(api, e, primals, out_vals, t_in)
        _set_source(b, start, e.source)
        for i, (v, t) in enumerate(zip(e.outputs, t_out)):
            if t is not None and differentiable(v.aval):
                _check_rule_result(api, e, i, v.aval, t, "JVP")
                t_env[v.id] = _to_value(t)
    return t_env


def _jvp_by_transposition(api: str, e: Eqn, primals: list[Any], out_vals: list[Any],
                          t_in: list[Any]) -> list[Any]:
    """The JVP of one eqn as the transpose of its (linear in ct) VJP rule; see the NOTE."""
    b = _core.current_builder()
    start = len(b.eqns)
    seeds = [zeros(v.aval) if differentiable(v.aval) else None for v in e.outputs]
    if e.prim.multiple_results:
        res = e.prim.vjp(seeds, *primals, out=out_vals, **e.params)
    else:
        res = e.prim.vjp(seeds[0], *primals, out=out_vals[0], **e.params)
    lin_outs, lin_cts = [], []
    for i, (r, t) in enumerate(zip(res, t_in)):
        if t is not None and r is not None:
            _check_rule_result(api, e, i, e.inputs[i].aval, r, "VJP")
            if isinstance(r, Tracer) and r._builder is b:
                lin_outs.append(r._var)
                lin_cts.append(t)
    seed_vars = [s._var for s in seeds if s is not None]
    t_seed = backward_pass(b.eqns[start:], _read_builder(b), lin_outs, lin_cts, seed_vars, api=api)
    it = iter(t_seed)
    t_out = [next(it) if s is not None else None for s in seeds]
    _dce_section(b, start, {t._var.id for t in t_out if isinstance(t, Tracer) and t._builder is b})
    return t_out


# --- graphs into the current trace ---------------------------------------------------------------

def _inline(graph: Graph, args: Sequence[Any]) -> tuple[list[Any], Callable[[Any], Any]]:
    """Re-emit ``graph`` into the current trace; returns (output values, atom -> value)."""
    b = _core.current_builder()
    env: dict[int, Any] = {}
    for v, c in zip(graph.constvars, graph.consts):
        env[v.id] = _to_value(c)
    for v, a in zip(graph.invars, args):
        env[v.id] = _to_value(a)

    def read(atom: Any) -> Any:
        return _Const(atom) if isinstance(atom, Literal) else env[atom.id]

    for e in graph.eqns:
        start = len(b.eqns)
        out = e.prim.bind(*[read(a) for a in e.inputs], **e.params)
        _set_source(b, start, e.source)
        for v, o in zip(e.outputs, out if e.prim.multiple_results else [out]):
            env[v.id] = o
    return [read(a) for a in graph.outs], read


def emit_vjp(graph: Graph, primals: Sequence[Any], cts: Sequence[Any],
             wrt: Sequence[bool] | None = None, *, api: str = "vjp") -> list[Any]:
    """Emit ``graph``'s forward and its VJP into the current trace.

    Returns one cotangent per graph input: zeros for inputs not in ``wrt`` (a mask, default:
    all) and for integer inputs. ``cts`` has one entry per graph output (None: zero).
    """
    outs, read = _inline(graph, primals)
    wrt_vars = [v for i, v in enumerate(graph.invars) if wrt is None or wrt[i]]
    cts = [None if c is None else _to_value(c) for c in cts]
    got = dict(zip([v.id for v in wrt_vars],
                   backward_pass(graph.eqns, read, graph.outs, cts, wrt_vars, api=api)))
    return [got.get(v.id) if got.get(v.id) is not None else zeros(v.aval) for v in graph.invars]


def emit_jvp(graph: Graph, primals: Sequence[Any], tangents: Sequence[Any], *,
             api: str = "jvp") -> tuple[list[Any], list[Any]]:
    """Emit ``graph``'s forward and its JVP into the current trace: (outputs, output tangents).

    ``tangents`` has one entry per graph input (None: zero); output tangents of integer outputs
    are integer zeros.
    """
    outs, read = _inline(graph, primals)
    tangents = [None if t is None else _to_value(t) for t in tangents]
    t_env = jvp_pass(graph.eqns, read, graph.invars, tangents, api=api)
    t_outs = []
    for a in graph.outs:
        t = t_env.get(a.id) if isinstance(a, Var) else None
        t_outs.append(t if t is not None else zeros(a.aval))
    return [_materialize(o) for o in outs], t_outs


def vjp_graph(graph: Graph, wrt: Sequence[bool] | None = None) -> Graph:
    """The graph ``(*primals, *cts) -> (*input cotangents)`` of ``graph`` (one ct per output)."""
    n_in = len(graph.invars)

    def joint(*xs: Any) -> list[Any]:
        return emit_vjp(graph, xs[:n_in], xs[n_in:], wrt)

    avals = graph.in_avals + [a.aval.strong() for a in graph.outs]
    return dce(_core.trace_graph(joint, avals, name=f"vjp_{graph.name}")[0])


def jvp_graph(graph: Graph) -> Graph:
    """The graph ``(*primals, *tangents) -> (*outputs, *output tangents)`` of ``graph``."""
    n_in = len(graph.invars)

    def joint(*xs: Any) -> list[Any]:
        outs, t_outs = emit_jvp(graph, xs[:n_in], xs[n_in:])
        return outs + t_outs

    avals = graph.in_avals + [a.strong() for a in graph.in_avals]
    return dce(_core.trace_graph(joint, avals, name=f"jvp_{graph.name}")[0])


# --- the forward/backward split (residuals) ------------------------------------------------------

class VJPGraphs(NamedTuple):
    """A graph split into a forward that saves residuals and a backward that uses them.

    ``forward``: ``(*primals) -> (*outputs, *residuals)``.
    ``backward``: ``(*[primals[i] for i in bwd_primals], *residuals, *[cts[j] for j in ct_outs])
    -> (*[cotangent of input i for i in wrt])``.
    """

    forward: Graph
    backward: Graph
    bwd_primals: tuple[int, ...]
    ct_outs: tuple[int, ...]
    wrt: tuple[int, ...]
    n_residuals: int


def vjp_graphs(graph: Graph, wrt: Sequence[bool] | None = None,
               has_ct: Sequence[bool] | None = None) -> VJPGraphs:
    """Split ``graph``'s VJP into a forward (outputs + residuals) and a backward graph.

    The forward keeps exactly the eqns the outputs need; everything else the backward needs is
    computed there (values that depend only on constants are recomputed, not saved). ``wrt`` is
    a mask over the inputs (default: all floating inputs), ``has_ct`` a mask over the outputs
    that take cotangents (default: all floating outputs).
    """
    n_in, n_out = len(graph.invars), len(graph.outs)
    wrt_idx = tuple(i for i, v in enumerate(graph.invars)
                    if differentiable(v.aval) and (wrt is None or wrt[i]))
    ct_outs = tuple(j for j, a in enumerate(graph.outs)
                    if differentiable(a.aval) and (has_ct is None or has_ct[j]))

    def joint(*xs: Any) -> list[Any]:
        b = _core.current_builder()
        outs, read = _inline(graph, xs)
        cts: list[Any] = [None] * n_out
        for j in ct_outs:
            cts[j] = b.new_arg(graph.outs[j].aval.strong())
        wrt_vars = [graph.invars[i] for i in wrt_idx]
        got = backward_pass(graph.eqns, read, graph.outs, cts, wrt_vars, api="vjp")
        return outs + [c if c is not None else zeros(v.aval) for c, v in zip(got, wrt_vars)]

    j = dce(_core.trace_graph(joint, graph.in_avals, name=f"vjp_{graph.name}")[0])
    p_vars, c_vars = j.invars[:n_in], j.invars[n_in:]
    out_atoms, ct_atoms = j.outs[:n_out], j.outs[n_out:]
    fwd_keep = _live(j.eqns, {a.id for a in out_atoms if isinstance(a, Var)})
    on_primals = {v.id for v in p_vars}
    for e in j.eqns:
        if any(isinstance(a, Var) and a.id in on_primals for a in e.inputs):
            on_primals.update(v.id for v in e.outputs)
    candidates = [e for e, k in zip(j.eqns, fwd_keep)
                  if not k or not any(v.id in on_primals for v in e.outputs)]
    bwd_keep = _live(candidates, {a.id for a in ct_atoms if isinstance(a, Var)})
    bwd_eqns = [e for e, k in zip(candidates, bwd_keep) if k]
    fwd_eqns = [e for e, k in zip(j.eqns, fwd_keep) if k]
    defined = {v.id for e in bwd_eqns for v in e.outputs}
    needed: dict[int, Var] = {}
    for a in [a for e in bwd_eqns for a in e.inputs] + list(ct_atoms):
        if isinstance(a, Var) and a.id not in defined:
            needed.setdefault(a.id, a)
    p_ids = {v.id: i for i, v in enumerate(p_vars)}
    c_ids = {v.id for v in c_vars}
    k_ids = {v.id for v in j.constvars}
    bwd_primals = tuple(i for i, v in enumerate(p_vars) if v.id in needed)
    residuals = [v for vid, v in needed.items()
                 if vid not in p_ids and vid not in c_ids and vid not in k_ids]

    def consts_for(eqns: list[Eqn], outs: Sequence[Any]) -> tuple[list[Var], list[Any]]:
        used = {a.id for e in eqns for a in e.inputs if isinstance(a, Var)}
        used |= {a.id for a in outs if isinstance(a, Var)}
        pairs = [(v, c) for v, c in zip(j.constvars, j.consts) if v.id in used]
        return [v for v, _ in pairs], [c for _, c in pairs]

    f_outs = list(out_atoms) + residuals
    fwd = Graph(list(p_vars), *consts_for(fwd_eqns, f_outs), fwd_eqns, f_outs,
                f"{graph.name}_fwd")
    b_ins = [p_vars[i] for i in bwd_primals] + residuals + list(c_vars)
    bwd = Graph(b_ins, *consts_for(bwd_eqns, ct_atoms), bwd_eqns, list(ct_atoms),
                f"{graph.name}_bwd")
    return VJPGraphs(fwd, bwd, bwd_primals, ct_outs, wrt_idx, len(residuals))


class _Program:
    """One graph compiled for one device; runs on xfront Arrays (``Program.call`` in
    xfront/_eager.py: the shared load-constants/execute/wrap path)."""

    op = "vjp"  # the public function named by errors

    def __init__(self, graph: Graph, device: Any):
        from xfront._eager import Program, compile_lowered, load_consts
        from xfront.lowering import lower_graph

        self.graph = graph
        self.device = device
        out_avals = [a.strong() for a in graph.out_avals]
        self.program = Program(compile_lowered(lower_graph(graph, platform=device.platform),
                                               device), graph, device, (), out_avals)
        self.const_bufs = load_consts(graph.consts, device)
        self.out_avals = out_avals

    def __call__(self, arrays: Sequence[Array]) -> list[Array]:
        return self.program.call(self.const_bufs, arrays, self.op)


class CompiledVJP:
    """The compiled forward and VJP of one graph (what framework autograd integration calls).

    Each program is compiled on first use, so a caller that never asks for gradients never
    compiles (or runs) anything but the plain forward.
    """

    def __init__(self, graph: Graph, wrt: Sequence[bool] | None = None, device: Any = None, *,
                 has_ct: Sequence[bool] | None = None):
        from xfront._device import get_device

        self.graph = graph
        self.device = get_device(device)
        self._wrt = None if wrt is None else tuple(bool(w) for w in wrt)
        self._has_ct = None if has_ct is None else tuple(bool(c) for c in has_ct)
        self._graphs: VJPGraphs | None = None
        self._plain: _Program | None = None
        self._fwd: _Program | None = None
        self._bwd: _Program | None = None
        self._lock = threading.RLock()  # builds each lazy part once across threads

    @property
    def graphs(self) -> VJPGraphs:
        if self._graphs is None:
            with self._lock:
                if self._graphs is None:
                    self._graphs = vjp_graphs(self.graph, self._wrt, self._has_ct)
        return self._graphs

    def _program(self, slot: str, graph: Callable[[], Graph]) -> _Program:
        p = getattr(self, slot)
        if p is None:
            with self._lock:
                p = getattr(self, slot)
                if p is None:
                    p = _Program(graph(), self.device)
                    setattr(self, slot, p)
        return p

    @property
    def wrt(self) -> tuple[int, ...]:
        """Indices of the inputs that get cotangents."""
        return self.graphs.wrt

    def call(self, *primals: Array) -> list[Array]:
        """The outputs, from the plain forward program (nothing saved for a backward pass)."""
        return self._program("_plain", lambda: self.graph)(primals)

    def forward(self, *primals: Array) -> tuple[list[Array], list[Array]]:
        """(outputs, residuals) from the forward program that saves what ``backward`` needs."""
        res = self._program("_fwd", lambda: self.graphs.forward)(primals)
        n = len(self.graph.outs)
        return res[:n], res[n:]

    def backward(self, primals: Sequence[Array], residuals: Sequence[Array],
                 cts: Sequence[Any]) -> list[Array | None]:
        """Input cotangents (None for inputs not in ``wrt``) from output cotangents.

        ``cts`` has one entry per output; entries of integer outputs (and of outputs outside
        ``has_ct``) are ignored, and None stands for a zero cotangent.
        """
        from xfront._eager import array_from_numpy

        g = self.graphs
        bwd = self._program("_bwd", lambda: g.backward)
        ins = [primals[i] for i in g.bwd_primals] + list(residuals)
        for j in g.ct_outs:
            aval = self.graph.outs[j].aval
            ct = cts[j]
            ins.append(array_from_numpy(np.zeros(aval.shape, aval.dtype.np), self.device)
                       if ct is None else ct)
        got = bwd(ins)
        out: list[Array | None] = [None] * len(self.graph.invars)
        for i, ct in zip(g.wrt, got):
            out[i] = ct
        return out


def compile_vjp(graph: Graph, wrt: Sequence[bool] | None = None, device: Any = None, *,
                has_ct: Sequence[bool] | None = None) -> CompiledVJP:
    """Compiled plain forward, forward-with-residuals and backward programs of ``graph``.

    ``wrt`` masks the inputs that need cotangents (default: every floating input); ``has_ct``
    masks the outputs that take cotangents (default: every floating output).
    """
    return CompiledVJP(graph, wrt, device, has_ct=has_ct)


# --- tracing user functions ----------------------------------------------------------------------

def _is_array_leaf(x: Any) -> bool:
    if isinstance(x, (Array, np.ndarray, np.generic, WeakValue)):
        return True
    from xfront.bridges import framework_of

    return hasattr(x, "__dlpack__") or framework_of(x) not in (None, "numpy")


def _leaf(api: str, x: Any, where: Callable[[], str]) -> Any:
    """One array leaf of a differentiated argument, normalized (foreign arrays imported)."""
    if isinstance(x, (Array, WeakValue)) or type(x) in _PY_SCALAR_AVALS:
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        try:
            dt.dtype(x.dtype)
        except TypeError as e:
            raise _errors.err(_errors.DTypeError, api,
                              f"{where()} has an unsupported dtype: {e}") from None
        return np.asarray(x)
    from xfront.bridges import import_foreign

    arr = import_foreign(x, op=api) if _is_array_leaf(x) else None
    if arr is None:
        raise _errors.err(_errors.ArgumentError, api,
                          f"{where()} is a {type(x).__name__}, which is not an array",
                          "differentiated arguments must be arrays, Python floats, or pytrees "
                          "(tuples, lists, dicts) of them")
    return arr


def _flatten(api: str, tree: Any, what: str) -> tuple[list[Any], TreeDef]:
    leaves, treedef = tree_flatten(tree)
    paths = [p for p, _ in tree_flatten_with_path(tree)]
    out = [_leaf(api, x, lambda i=i: f"{what}{paths[i] if i < len(paths) else ''}")
           for i, x in enumerate(leaves)]
    return out, treedef


class _Traced(NamedTuple):
    graph: Graph
    captured: list[Any]
    out_tree: TreeDef
    aux_tree: TreeDef | None
    n_out: int


def _trace_fun(api: str, fun: Callable, in_tree: TreeDef, avals: list[AbstractArray],
               has_aux: bool) -> _Traced:
    """Trace ``fun(*unflatten(in_tree, args))`` into a graph nested under the current trace."""
    box: dict[str, Any] = {}
    name = getattr(fun, "__name__", "f")

    def flat_fun(*xs: Any) -> list[Any]:
        res = fun(*tree_unflatten(in_tree, xs))
        aux = None
        if has_aux:
            if not (isinstance(res, (tuple, list)) and len(res) == 2):
                raise _errors.err(_errors.ArgumentError, api,
                                  f"with has_aux=True, `{name}` must return a pair "
                                  f"(output, aux), got {type(res).__name__}")
            res, aux = res
        out_leaves, box["out_tree"] = tree_flatten(res)
        aux_leaves, box["aux_tree"] = tree_flatten(aux)
        box["n_out"] = len(out_leaves)
        flat = []
        for path, leaf in (tree_flatten_with_path(res) + tree_flatten_with_path(aux)):
            if not (isinstance(leaf, (Array, np.ndarray, np.generic, WeakValue))
                    or type(leaf) in _PY_SCALAR_AVALS):
                raise _errors.err(_errors.ArgumentError, api,
                                  f"`{name}` returned a {type(leaf).__name__} at output{path}, "
                                  "which is not an array", "return arrays (or pytrees of arrays)")
            flat.append(leaf if isinstance(leaf, (Array, WeakValue)) else np.asarray(leaf))
        return flat

    graph, _, b = _core.trace_graph(flat_fun, avals, name=name,
                                    parent=_core.current_builder())
    return _Traced(graph, list(b.captured_outer), box["out_tree"],
                   box["aux_tree"] if has_aux else None, box["n_out"])


def _user_cotangent(api: str, c: Any, aval: AbstractArray, what: str) -> Any:
    """Check one user-supplied cotangent/tangent against the value it belongs to."""
    if not differentiable(aval):
        return None
    c = _leaf(api, c, lambda: what)
    if type(c) in _PY_SCALAR_AVALS:
        if aval.shape != ():
            raise _errors.err(_errors.ShapeError, api,
                              f"{what} is a Python scalar but must have shape {aval.shape}")
        return _to_value(WeakValue(np.asarray(c, dtype=aval.dtype.np)))
    got = _aval_of(c)
    if got.shape != aval.shape:
        raise _errors.err(_errors.ShapeError, api,
                          f"{what} has shape {got.shape} but its primal has shape {aval.shape}; "
                          "they must match")
    if got.dtype is not aval.dtype:
        raise _errors.err(_errors.DTypeError, api,
                          f"{what} has dtype {got.dtype} but its primal has dtype "
                          f"{aval.dtype}; they must match",
                          f"convert it with .astype(xfront.{aval.dtype.name})")
    return _to_value(c)


def _vjp_traced(api: str, fun: Callable, primals: tuple, has_aux: bool):
    """vjp inside a trace: (outputs, pullback, aux); the pullback emits into the same trace."""
    leaves, in_tree = _flatten(api, primals, "primals")
    t = _trace_fun(api, fun, in_tree, [_aval_of(x) for x in leaves], has_aux)
    outs, read = _inline(t.graph, list(leaves) + t.captured)
    outs = [_materialize(o) for o in outs]
    out_atoms = t.graph.outs[:t.n_out]
    wrt = t.graph.invars[:len(leaves)]

    def pullback(ct_tree: Any) -> tuple:
        ct_leaves, ct_def = tree_flatten(ct_tree)
        if ct_def != t.out_tree:
            raise _errors.err(_errors.ArgumentError, api,
                              f"the cotangent has structure {ct_def}, but the function's "
                              f"output has structure {t.out_tree}; they must match")
        paths = [p for p, _ in tree_flatten_with_path(ct_tree)]
        cts = [_user_cotangent(api, c, a.aval, f"cotangent{paths[i] if i < len(paths) else ''}")
               for i, (c, a) in enumerate(zip(ct_leaves, out_atoms))]
        got = backward_pass(t.graph.eqns, read, out_atoms, cts, wrt, api=api)
        got = [g if g is not None else zeros(v.aval) for g, v in zip(got, wrt)]
        return tree_unflatten(in_tree, got)

    aux = tree_unflatten(t.aux_tree, outs[t.n_out:]) if has_aux else None
    return tree_unflatten(t.out_tree, outs[:t.n_out]), pullback, aux


def _jvp_traced(api: str, fun: Callable, primals: tuple, tangents: tuple, has_aux: bool):
    leaves, in_tree = _flatten(api, primals, "primals")
    t_leaves, t_tree = tree_flatten(tangents)
    if t_tree != in_tree:
        raise _errors.err(_errors.ArgumentError, api,
                          f"primals have structure {in_tree} but tangents have structure "
                          f"{t_tree}; they must match")
    avals = [_aval_of(x) for x in leaves]
    paths = [p for p, _ in tree_flatten_with_path(tangents)]
    tans = [_user_cotangent(api, tv, a, f"tangents{paths[i] if i < len(paths) else ''}")
            for i, (tv, a) in enumerate(zip(t_leaves, avals))]
    t = _trace_fun(api, fun, in_tree, avals, has_aux)
    outs, read = _inline(t.graph, list(leaves) + t.captured)
    t_env = jvp_pass(t.graph.eqns, read, t.graph.invars[:len(leaves)], tans, api=api)
    t_outs = []
    for a in t.graph.outs[:t.n_out]:
        tv = t_env.get(a.id) if isinstance(a, Var) else None
        t_outs.append(tv if tv is not None else zeros(a.aval))
    outs = [_materialize(o) for o in outs]
    res = (tree_unflatten(t.out_tree, outs[:t.n_out]), tree_unflatten(t.out_tree, t_outs))
    if has_aux:
        return res + (tree_unflatten(t.aux_tree, outs[t.n_out:]),)
    return res


# --- grad / value_and_grad ----------------------------------------------------------------------

def _argnums(api: str, argnums: Any) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums or not all(isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise _errors.err(_errors.ArgumentError, api,
                          f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    if len(set(nums)) != len(nums):
        raise _errors.err(_errors.ArgumentError, api, f"argnums {argnums!r} has duplicates")
    return nums


def _grad_traced(api: str, fun: Callable, argnums: Any, has_aux: bool, args: tuple,
                 kwargs: dict):
    """(value, grads, aux) of ``fun(*args, **kwargs)``, emitted into the current trace."""
    nums = _argnums(api, argnums)
    name = getattr(fun, "__name__", "f")
    for i in nums:
        if not -len(args) <= i < len(args):
            raise _errors.err(_errors.ArgumentError, api,
                              f"argnums contains {i}, but `{name}` was called with "
                              f"{len(args)} positional arguments")
    nums = tuple(i % len(args) for i in nums)
    diff = tuple(args[i] for i in nums)
    for k, i in enumerate(nums):
        for path, leaf in tree_flatten_with_path(diff[k]):
            x = _leaf(api, leaf, lambda: f"argument {i}{path}")
            aval = _aval_of(x)
            if not differentiable(aval):
                if type(leaf) in _PY_SCALAR_AVALS:
                    kind = f"the Python {type(leaf).__name__} {leaf!r}"
                elif aval.weak:
                    kind = f"a Python {'bool' if aval.dtype is dt.bool_ else 'int'}"
                else:
                    kind = f"an array of dtype {aval.dtype}"
                raise _errors.err(
                    _errors.DTypeError, api,
                    f"argument {i}{path} of `{name}` is {kind}; only floating-point and complex "
                    "inputs can be differentiated",
                    "convert it to a floating dtype (e.g. x.astype(xfront.float32), or 2.0 "
                    "instead of 2), or leave it out of argnums")

    def g(*d: Any) -> Any:
        full = list(args)
        for i, x in zip(nums, d):
            full[i] = x
        return fun(*full, **kwargs)

    g.__name__ = name
    out, pullback, aux = _vjp_traced(api, g, diff, has_aux)
    if not isinstance(out, Array):
        raise _errors.err(_errors.ArgumentError, api,
                          f"`{name}` must return a scalar array, got a "
                          f"{type(out).__name__}" + (" (with has_aux=True it must return "
                                                     "(scalar, aux))" if has_aux else ""),
                          "use xfront.vjp for functions with several outputs")
    if out.shape != () or out.dtype.kind != "f":
        raise _errors.err(_errors.ShapeError if out.shape != () else _errors.DTypeError, api,
                          f"`{name}` returned {out.aval.strong().short}; the gradient is defined "
                          "for functions with a real floating-point scalar (0-d) output",
                          "reduce the output (e.g. xfront.sum), or use xfront.vjp for "
                          "non-scalar or complex outputs")
    grads = pullback(_ew.full_like(out, 1))
    return out, (grads[0] if isinstance(argnums, int) else tuple(grads)), aux


def _static_positions(args: tuple, kwargs: dict, diff: tuple[int, ...]
                      ) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Non-differentiated arguments without array leaves (and hashable) are static."""
    def static(x: Any) -> bool:
        leaves, _ = tree_flatten(x)
        if any(_is_array_leaf(leaf) for leaf in leaves):
            return False
        try:
            hash(x)
        except TypeError:
            return False
        return True

    n = len(args)
    diff = {i % n for i in diff} if n else set()
    nums = tuple(i for i, a in enumerate(args) if i not in diff and static(a))
    names = tuple(sorted(k for k, v in kwargs.items() if static(v)))
    return nums, names


class _Transformed:
    """A transformed function: emits into the current trace, or compiles and runs eagerly."""

    def __init__(self, fun: Callable, api: str, traced: Callable, diff: tuple[int, ...]):
        if not callable(fun):
            raise _errors.err(_errors.ArgumentError, api,
                              f"expected a function, got {type(fun).__name__}")
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._api = api
        self._traced = traced
        self._diff = diff
        self._compiled: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"<xfront.{self._api} of {getattr(self._fun, '__qualname__', self._fun)}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _core._TRACE.stack:
            return self._traced(*args, **kwargs)
        return self._program(args, kwargs)(*args, **kwargs)

    def trace(self, *args: Any, **kwargs: Any) -> Any:
        """The traced program for these arguments (``.graph`` holds forward + backward)."""
        return self._program(args, kwargs).trace(*args, **kwargs)

    def lower(self, *args: Any, **kwargs: Any) -> Any:
        """The program lowered to StableHLO (``.as_text()``)."""
        return self._program(args, kwargs).lower(*args, **kwargs)

    def _program(self, args: tuple, kwargs: dict) -> Any:
        """The compiled function that runs this transformation eagerly, per static layout."""
        statics = _static_positions(args, kwargs, self._diff)
        cf = self._compiled.get(statics)
        if cf is None:  # creating one traces nothing: a thread that loses the race drops its
            from xfront._compile import CompiledFunction

            traced = self._traced

            @functools.wraps(self._fun)
            def program(*a: Any, **k: Any) -> Any:
                return traced(*a, **k)

            program.__name__ = f"{self._api}_{getattr(self._fun, '__name__', 'f')}"
            cf = CompiledFunction(program, static_argnums=statics[0], static_argnames=statics[1])
            cf._op = self._api
            cf = self._compiled.setdefault(statics, cf)  # (atomic for a dict)
        return cf

    def cache_info(self) -> Any:
        """Compile-cache statistics of the eager programs (summed over static signatures)."""
        from xfront._compile import CacheInfo

        infos = [cf.cache_info() for cf in self._compiled.values()]
        return CacheInfo(*[sum(x) for x in zip(*infos)]) if infos else CacheInfo(0, 0, 0, 0)


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar-valued function.

    ``xfront.grad(f)(x)`` is ``df/dx`` with ``x``'s structure, shape and dtype. Outside
    ``compile`` the forward and backward passes are traced and compiled as one program, cached
    per abstract signature like ``xfront.compile``; inside a trace they are emitted into it, so
    ``xfront.compile(xfront.grad(f))`` and ``xfront.grad(xfront.compile(f))`` both work.

    Args:
      fun: a function whose output is a real floating-point scalar (0-d) array.
      argnums: which positional argument(s) to differentiate (an int: return that gradient; a
        tuple: return a tuple of gradients). These arguments must be floating-point (or
        complex) arrays, Python floats, or pytrees of them; integer/bool ones raise DTypeError.
      has_aux: ``fun`` returns ``(output, aux)``; ``aux`` is returned as is, not differentiated.

    Returns:
      A function returning the gradient (or ``(gradient, aux)``). Eagerly, other arguments that
      contain no arrays (Python numbers, strings, ...) are static: Python control flow may
      depend on them and each new value compiles a new program. Arrays a function closes over
      are constants of the program: like ``compile``, the values seen at the first call are
      used for later calls with the same signature (pass changing arrays as arguments).
    """
    def traced(*args: Any, **kwargs: Any) -> Any:
        _, grads, aux = _grad_traced("grad", fun, argnums, has_aux, args, kwargs)
        return (grads, aux) if has_aux else grads

    return _Transformed(fun, "grad", traced, _argnums("grad", argnums))


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable:
    """Like ``grad``, but returns ``(value, gradient)`` (``((value, aux), gradient)`` with
    ``has_aux``), computed by one program."""
    def traced(*args: Any, **kwargs: Any) -> Any:
        value, grads, aux = _grad_traced("value_and_grad", fun, argnums, has_aux, args, kwargs)
        return ((value, aux), grads) if has_aux else (value, grads)

    return _Transformed(fun, "value_and_grad", traced, _argnums("value_and_grad", argnums))


# --- vjp / jvp ----------------------------------------------------------------------------------

_vjp_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_jvp_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _ref(fun: Callable) -> Callable[[], Callable]:
    try:
        return weakref.ref(fun)
    except TypeError:
        return lambda: fun


_cache_lock = threading.Lock()
_FLIGHTS = SingleFlight()  # NOTE [Single-flight caches] in xfront/_once.py


def _cache_for(cache: weakref.WeakKeyDictionary, fun: Callable) -> dict:
    try:
        with _cache_lock:  # a WeakKeyDictionary's setdefault is not atomic
            return cache.setdefault(fun, {})
    except TypeError:  # not weak-referenceable: no caching
        return {}


def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """Outputs of ``fun(*primals)`` and a function mapping output cotangents to input cotangents.

    Returns ``(outputs, vjp_fn)`` (``(outputs, vjp_fn, aux)`` with ``has_aux``), where
    ``vjp_fn(cts)`` takes cotangents with the outputs' structure, shapes and dtypes and returns a
    tuple with one cotangent per primal (zeros of the primal's dtype for integer/bool primals;
    see NOTE [Cotangent dtypes] in xfront/_autodiff.py).

    Outside ``compile``, two programs are compiled once per abstract signature: the forward,
    which also saves the residuals the backward needs, and the backward (compiled on the first
    ``vjp_fn`` call). Inside a trace both are emitted into it; ``vjp_fn`` must then be called
    within the same trace.
    """
    if _core._TRACE.stack:
        out, pullback, aux = _vjp_traced("vjp", fun, primals, has_aux)
        return (out, pullback, aux) if has_aux else (out, pullback)
    return _vjp_eager(fun, primals, has_aux)


def _vjp_eager(fun: Callable, primals: tuple, has_aux: bool) -> tuple:
    from xfront._compile import _leaf_aval
    from xfront._device import get_device
    from xfront._eager import array_from_numpy

    leaves, in_tree = tree_flatten(primals)
    paths = [p for p, _ in tree_flatten_with_path(primals)]
    items, frameworks, dev = [], set(), None
    for i, leaf in enumerate(leaves):
        v, fw = _leaf_aval(leaf, lambda i=i: f"primals{paths[i] if i < len(paths) else ''}")
        items.append(v)
        if fw != "python":
            frameworks.add(fw)
        if isinstance(v, Array) and dev is None:
            dev = v._device
    dev = dev or get_device(None)
    avals = [v.aval if isinstance(v, Array) else v for v in items]
    key = (in_tree, tuple(avals), has_aux, dev)
    cache = _cache_for(_vjp_cache, fun)
    entry = cache.get(key)
    if entry is None:
        def build() -> tuple[CompiledVJP, Any]:
            t = _trace_fun("vjp", fun, in_tree, avals, has_aux)  # top level: closures are consts
            n_all = len(t.graph.outs)
            return CompiledVJP(t.graph, None, dev, has_ct=[j < t.n_out for j in range(n_all)]), t

        entry = _FLIGHTS.get(cache, key, build)[0]
    cv, t = entry
    arrays = [v if isinstance(v, Array) else
              array_from_numpy(np.asarray(leaf, dtype=v.dtype.np), dev)
              for leaf, v in zip(leaves, items)]
    outs, residuals = cv.forward(*arrays)
    n = t.n_out
    out_avals = [a.aval for a in cv.graph.outs[:n]]

    def pullback(ct_tree: Any) -> tuple:
        ct_leaves, ct_def = tree_flatten(ct_tree)
        if ct_def != t.out_tree:
            raise _errors.err(_errors.ArgumentError, "vjp",
                              f"the cotangent has structure {ct_def}, but the function's "
                              f"output has structure {t.out_tree}; they must match")
        cpaths = [p for p, _ in tree_flatten_with_path(ct_tree)]
        cts: list[Any] = [None] * len(cv.graph.outs)
        for i, (c, aval) in enumerate(zip(ct_leaves, out_avals)):
            cts[i] = _eager_cotangent(c, aval, f"cotangent{cpaths[i] if i < len(cpaths) else ''}",
                                      dev)
        got = cv.backward(arrays, residuals, cts)
        full = [g if g is not None else
                array_from_numpy(np.zeros(a.aval.shape, a.aval.dtype.np), dev)
                for g, a in zip(got, cv.graph.invars)]
        return tree_unflatten(in_tree, _export(full, frameworks))

    out = tree_unflatten(t.out_tree, _export(outs[:n], frameworks))
    if has_aux:
        return out, pullback, tree_unflatten(t.aux_tree, _export(outs[n:], frameworks))
    return out, pullback


def _eager_cotangent(c: Any, aval: AbstractArray, what: str, dev: Any) -> Array | None:
    from xfront._eager import array_from_numpy

    if not differentiable(aval):
        return None
    c = _leaf("vjp", c, lambda: what)
    if type(c) in _PY_SCALAR_AVALS or isinstance(c, WeakValue):
        if aval.shape != ():
            raise _errors.err(_errors.ShapeError, "vjp",
                              f"{what} is a Python scalar but must have shape {aval.shape}")
        return array_from_numpy(np.asarray(c, dtype=aval.dtype.np), dev)
    got = _aval_of(c)
    if got.shape != aval.shape:
        raise _errors.err(_errors.ShapeError, "vjp",
                          f"{what} has shape {got.shape} but the output has shape {aval.shape}; "
                          "they must match")
    if got.dtype is not aval.dtype:
        raise _errors.err(_errors.DTypeError, "vjp",
                          f"{what} has dtype {got.dtype} but the output has dtype {aval.dtype}; "
                          "they must match", f"convert it with .astype(xfront.{aval.dtype.name})")
    if isinstance(c, Array):
        return c
    return array_from_numpy(np.ascontiguousarray(c), dev)


def _export(arrays: Sequence[Array], frameworks: set[str]) -> list[Any]:
    """Outputs in the inputs' framework (see NOTE [Which framework do outputs come back in?])."""
    mode = next(iter(frameworks)) if len(frameworks) == 1 else "xfront"
    if mode == "xfront":
        return list(arrays)
    if mode == "numpy":
        from xfront.lowering import runtime

        return [runtime.to_numpy_owned(a._buf) for a in arrays]
    from xfront.bridges import export

    return [export(a, mode) for a in arrays]


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple:
    """Forward mode: ``(fun(*primals), J @ tangents)`` (and ``aux`` with ``has_aux``).

    ``primals`` and ``tangents`` are tuples (or lists) with the same structure; each tangent has
    its primal's shape and dtype (tangents of integer/bool primals are ignored). Derived from the
    VJP rules by transposition (NOTE [JVP by transposition] in xfront/_autodiff.py). Outside
    ``compile`` the program is compiled once per abstract signature.
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise _errors.err(_errors.ArgumentError, "jvp",
                          "primals and tangents must be tuples (or lists) of arguments, got "
                          f"{type(primals).__name__} and {type(tangents).__name__}",
                          "write xfront.jvp(f, (x,), (t,))")
    if len(primals) != len(tangents):
        raise _errors.err(_errors.ArgumentError, "jvp",
                          f"got {len(primals)} primals but {len(tangents)} tangents")
    if _core._TRACE.stack:
        return _jvp_traced("jvp", fun, tuple(primals), tuple(tangents), has_aux)
    cache = _cache_for(_jvp_cache, fun)
    cf = cache.get(has_aux)
    if cf is None:
        from xfront._compile import CompiledFunction

        fun_ref = _ref(fun)  # the cache is keyed by fun: do not keep it alive from the value

        def program(p: tuple, t: tuple) -> Any:
            return _jvp_traced("jvp", fun_ref(), p, t, has_aux)

        program.__name__ = f"jvp_{getattr(fun, '__name__', 'f')}"
        cf = CompiledFunction(program)
        cf._op = "jvp"
        cf = cache.setdefault(has_aux, cf)  # one per fun across threads
    return cf(tuple(primals), tuple(tangents))


# --- stop_gradient -------------------------------------------------------------------------------

def stop_gradient(x: Any) -> Any:
    """``x`` unchanged, but a constant to differentiation (no cotangent flows back through it).

    Works on arrays and pytrees of arrays; integer and bool leaves are returned as they are.
    """
    def one(leaf: Any) -> Any:
        if isinstance(leaf, (Array, np.ndarray, np.generic)) or type(leaf) in _PY_SCALAR_AVALS:
            if not differentiable(_aval_of(leaf)):
                return leaf
            if type(leaf) in _PY_SCALAR_AVALS:
                return leaf  # Python numbers are constants already
            return _ew.stop_gradient(leaf)
        return leaf

    return tree_map(one, x)
