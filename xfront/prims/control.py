"""Control-flow primitives: cond (if / case), while, scan. Their operands are flat arrays and
their bodies are region graphs carried in the params.

Imports: _core, _dtypes, _errors, numpy, the lowering rules; other prim families as modules.
Never the namespace (xfront._api) or the public wrappers (xfront._control).

Region layout (every region graph is closed: it reads only its own invars)
--------------------------------------------------------------------------
* ``cond(index, *operands, branches)``: each branch graph maps ``operands`` to the outputs.
  ``index`` is a bool scalar (two branches: ``branches[0]`` runs for False) or an int32
  scalar (any number of branches; out-of-range indices are clamped).
* ``while(*cond_consts, *body_consts, *init, cond_graph, body_graph, ...)``:
  ``cond_graph(*cond_consts, *carry) -> bool[]``, ``body_graph(*body_consts, *carry) -> carry``.
* ``scan(*consts, *init, *xs, body, length, reverse, ...)``:
  ``body(*consts, *carry, *x_slices) -> (*carry, *y_slices)``; outputs are the final carry and
  the ys stacked along a new leading axis of size ``length`` (``ys[t]`` belongs to ``xs[t]``,
  also when ``reverse`` runs the steps from the last one to the first).

Values a traced function closes over become explicit operands: ``trace_region`` records the
function in a child ``Builder`` (which lifts outer values into ``captured_outer``), and
``close_regions`` unifies the captures of several regions so they share one operand list.

Autodiff support lives here too: ``eval_graph`` re-binds a graph's eqns (inlining it into the
current trace, or running it eagerly), ``graph_vjp`` is the reverse pass over one graph with
each primitive's VJP rule, and the VJP rules of cond and scan are written with them (cond: a
cond of the branches' VJPs; scan: a forward scan that stacks the carries, then a reverse scan
of the body's VJP that recomputes each step's body).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._aval import AbstractArray
from xfront._core import (NONDIFFERENTIABLE, VJP_TODO, Eqn, Graph, Literal, Primitive, Var,
                          WeakValue)
from xfront.lowering.rules import control as L
from xfront.prims import elementwise as _ew
from xfront.prims import shape as _sh
from xfront.prims._factories import internal_error


def _err(prim: str, msg: str) -> Exception:
    return internal_error(_errors.ShapeError, prim, msg)


def _strong(avals: Sequence[AbstractArray]) -> list[AbstractArray]:
    return [a.strong() for a in avals]


def _shorts(avals: Sequence[AbstractArray]) -> str:
    return "(" + ", ".join(a.short for a in avals) + ")"


def _or_zeros(cts: Sequence[Any], avals: Sequence[AbstractArray],
              mask: Sequence[bool]) -> list[Any]:
    """The masked cotangents, with zeros for missing (None) ones."""
    return [c if c is not None else zeros(a) for c, a, m in zip(cts, avals, mask) if m]


def is_differentiable(aval: AbstractArray) -> bool:
    return aval.dtype.kind in "fc"


def zeros(aval: AbstractArray) -> Any:
    """A zero array of ``aval``'s shape and dtype (a strict-prim constant)."""
    return _sh.broadcast_in_dim(np.zeros((), dtype=aval.dtype.np), shape=aval.shape, dims=())


# --- cond -------------------------------------------------------------------------------------

def _cond_abstract_eval(index: AbstractArray, *operands: AbstractArray,
                        branches: tuple[Graph, ...]) -> list[AbstractArray]:
    if index.shape != () or index.dtype not in (dt.bool_, dt.int32):
        raise _err("cond", f"index must be a bool or int32 scalar, got {index.short}")
    if not branches or (index.dtype is dt.bool_ and len(branches) != 2):
        raise _err("cond", f"a {index.short} index needs 2 branches, got {len(branches)}")
    ins = _strong(operands)
    outs = _strong(branches[0].out_avals)
    for i, g in enumerate(branches):
        if _strong(g.in_avals) != ins:
            raise _err("cond", f"branch {i} takes {_shorts(g.in_avals)} but the operands are "
                               f"{_shorts(operands)}")
        if _strong(g.out_avals) != outs:
            raise _err("cond", f"branch {i} returns {_shorts(g.out_avals)} but branch 0 returns "
                               f"{_shorts(outs)}")
    return [AbstractArray(a.shape, a.dtype, all(g.out_avals[j].weak for g in branches))
            for j, a in enumerate(outs)]


def _branch_index(index: Any, n: int) -> int:
    i = int(np.asarray(index))
    if np.asarray(index).dtype == np.bool_:
        return i
    return min(max(i, 0), n - 1)


def _cond_ref(index: np.ndarray, *operands: np.ndarray, branches: tuple[Graph, ...]):
    return _core.eval_graph_ref(branches[_branch_index(index, len(branches))], *operands)


def _cond_vjp(cts: list[Any], index: Any, *operands: Any, out: list[Any],
              branches: tuple[Graph, ...]) -> list[Any]:
    in_avals = branches[0].in_avals
    out_avals = branches[0].out_avals
    diff_in = [is_differentiable(a) for a in in_avals]
    diff_out = [is_differentiable(a) for a in out_avals]
    if not any(diff_in):
        return [None] * (1 + len(operands))
    ct_ops = [ct if ct is not None else zeros(a)
              for ct, a, d in zip(cts, out_avals, diff_out) if d]
    n = len(operands)

    def branch_vjp(g: Graph) -> Callable:
        def bwd(*args: Any) -> list[Any]:
            it = iter(args[n:])
            full = [next(it) if d else None for d in diff_out]
            res = graph_vjp(g, list(args[:n]), full)
            return [r if r is not None else zeros(a)
                    for r, a, d in zip(res, in_avals, diff_in) if d]
        bwd.__name__ = f"{g.name}_vjp"
        return bwd

    avals = [a.strong() for a in in_avals] + [a.strong() for a, d in zip(out_avals, diff_out) if d]
    res = iter(cond_flat(index, [branch_vjp(g) for g in branches], list(operands) + ct_ops,
                         avals))
    return [None] + [next(res) if d else None for d in diff_in]


cond_p = Primitive("cond", abstract_eval=_cond_abstract_eval, ref=_cond_ref, lowering=L.cond,
                   vjp=_cond_vjp, multiple_results=True,
                   doc="Run one of several region graphs, chosen by a scalar index.")


def cond(index: Any, *operands: Any, branches: Sequence[Graph]) -> list[Any]:
    return cond_p.bind(index, *operands, branches=tuple(branches))


# --- while ------------------------------------------------------------------------------------

def _while_abstract_eval(*args: AbstractArray, cond_graph: Graph, body_graph: Graph,
                         cond_nconsts: int, body_nconsts: int) -> list[AbstractArray]:
    init = args[cond_nconsts + body_nconsts:]
    cconsts, bconsts = args[:cond_nconsts], args[cond_nconsts:cond_nconsts + body_nconsts]
    carry = _strong(body_graph.in_avals[body_nconsts:])
    if _strong(init) != carry or _strong(body_graph.in_avals[:body_nconsts]) != _strong(bconsts):
        raise _err("while", f"body takes {_shorts(body_graph.in_avals)} but the operands are "
                            f"{_shorts(bconsts)} + {_shorts(init)}")
    if _strong(body_graph.out_avals) != carry:
        raise _err("while", f"body returns {_shorts(body_graph.out_avals)} for the carry "
                            f"{_shorts(carry)}")
    if _strong(cond_graph.in_avals) != _strong(cconsts) + carry:
        raise _err("while", f"cond takes {_shorts(cond_graph.in_avals)} but the operands are "
                            f"{_shorts(cconsts)} + {_shorts(init)}")
    if _strong(cond_graph.out_avals) != [AbstractArray((), dt.bool_)]:
        raise _err("while", f"cond must return one bool[], got {_shorts(cond_graph.out_avals)}")
    return list(body_graph.in_avals[body_nconsts:])


def _while_ref(*args: np.ndarray, cond_graph: Graph, body_graph: Graph, cond_nconsts: int,
               body_nconsts: int) -> list[np.ndarray]:
    cconsts = list(args[:cond_nconsts])
    bconsts = list(args[cond_nconsts:cond_nconsts + body_nconsts])
    carry = list(args[cond_nconsts + body_nconsts:])
    while bool(_core.eval_graph_ref(cond_graph, *cconsts, *carry)[0]):
        carry = _core.eval_graph_ref(body_graph, *bconsts, *carry)
    return carry


def _while_vjp(cts: list[Any], *args: Any, out: list[Any], **params: Any) -> list[Any]:
    raise _errors.err(
        _errors.ArgumentError, "while_loop",
        "reverse-mode differentiation through a while_loop (or a fori_loop with traced bounds) "
        "is not supported: its number of iterations is only known when it runs",
        "use xfront.fori_loop with Python-int bounds or xfront.scan, which are differentiable")


while_p = Primitive("while", abstract_eval=_while_abstract_eval, ref=_while_ref,
                    lowering=L.while_, vjp=_while_vjp, multiple_results=True,
                    doc="Repeat a body region while a cond region returns True.")


def while_(*args: Any, cond_graph: Graph, body_graph: Graph, cond_nconsts: int,
           body_nconsts: int) -> list[Any]:
    return while_p.bind(*args, cond_graph=cond_graph, body_graph=body_graph,
                        cond_nconsts=int(cond_nconsts), body_nconsts=int(body_nconsts))


# --- scan -------------------------------------------------------------------------------------

def _scan_abstract_eval(*args: AbstractArray, body: Graph, length: int, reverse: bool,
                        nconsts: int, ncarry: int) -> list[AbstractArray]:
    consts = args[:nconsts]
    init = args[nconsts:nconsts + ncarry]
    xs = args[nconsts + ncarry:]
    for x in xs:
        if x.ndim == 0 or x.shape[0] != length:
            raise _err("scan", f"scanned operand {x.short} needs a leading axis of size {length}")
    want = _strong(consts) + _strong(init) + [AbstractArray(x.shape[1:], x.dtype) for x in xs]
    if _strong(body.in_avals) != want:
        raise _err("scan", f"body takes {_shorts(body.in_avals)} but the operands give "
                           f"{_shorts(want)}")
    carry = list(body.in_avals[nconsts:nconsts + ncarry])
    if _strong(body.out_avals[:ncarry]) != _strong(carry):
        raise _err("scan", f"body returns {_shorts(body.out_avals[:ncarry])} for the carry "
                           f"{_shorts(carry)}")
    ys = [AbstractArray((length,) + a.shape, a.dtype) for a in body.out_avals[ncarry:]]
    return carry + ys


def _scan_ref(*args: np.ndarray, body: Graph, length: int, reverse: bool, nconsts: int,
              ncarry: int) -> list[np.ndarray]:
    consts = list(args[:nconsts])
    carry = list(args[nconsts:nconsts + ncarry])
    xs = args[nconsts + ncarry:]
    ys: list[list[np.ndarray]] = [[None] * length for _ in body.outs[ncarry:]]  # type: ignore
    for t in (reversed(range(length)) if reverse else range(length)):
        outs = _core.eval_graph_ref(body, *consts, *carry, *[x[t] for x in xs])
        carry = outs[:ncarry]
        for y, o in zip(ys, outs[ncarry:]):
            y[t] = o
    stacked = [np.stack(y) if length else np.zeros((0,) + a.shape, a.dtype.np)
               for y, a in zip(ys, body.out_avals[ncarry:])]
    return carry + stacked


def _scan_vjp(cts: list[Any], *args: Any, out: list[Any], body: Graph, length: int,
              reverse: bool, nconsts: int, ncarry: int) -> list[Any]:
    consts = list(args[:nconsts])
    init = list(args[nconsts:nconsts + ncarry])
    xs = list(args[nconsts + ncarry:])
    c_avals = body.in_avals[:nconsts]
    k_avals = body.in_avals[nconsts:nconsts + ncarry]
    x_avals = body.in_avals[nconsts + ncarry:]
    y_avals = body.out_avals[ncarry:]
    dc = [is_differentiable(a) for a in c_avals]
    dk = [is_differentiable(a) for a in k_avals]
    dx = [is_differentiable(a) for a in x_avals]
    dy = [is_differentiable(a) for a in y_avals]
    if not (any(dc) or any(dk) or any(dx)):
        return [None] * len(args)

    # 1) the carry entering every step, stacked (ys[t] is the carry step t starts from)
    def forward(*a: Any) -> list[Any]:
        outs = eval_graph(body, *consts, *a)
        return outs[:ncarry] + list(a[:ncarry])

    hist = scan_flat(forward, init, k_avals, xs, x_avals, length, reverse)[ncarry:]

    # 2) the reverse scan of the body's VJP; its carry holds the consts' summed cotangents
    #    and the carry's cotangent
    ct_k = _or_zeros(cts[:ncarry], k_avals, dk)
    ct_y = _or_zeros(cts[ncarry:], [AbstractArray((length,) + a.shape, a.dtype) for a in y_avals],
                     dy)
    acc0 = [zeros(a) for a, d in zip(c_avals, dc) if d]
    nacc, nk, nx = len(acc0), len(ct_k), len(xs)

    def backward(*a: Any) -> list[Any]:
        acc, ctk = list(a[:nacc]), iter(a[nacc:nacc + nk])
        carry_t = a[nacc + nk:nacc + nk + ncarry]
        x_t = a[nacc + nk + ncarry:nacc + nk + ncarry + nx]
        cty = iter(a[nacc + nk + ncarry + nx:])
        full = [next(ctk) if d else None for d in dk] + [next(cty) if d else None for d in dy]
        res = graph_vjp(body, consts + list(carry_t) + list(x_t), full)
        r_c, r_k, r_x = res[:nconsts], res[nconsts:nconsts + ncarry], res[nconsts + ncarry:]
        c_cts = _or_zeros(r_c, c_avals, dc)
        new_acc = [_ew.add(s_, c) for s_, c in zip(acc, c_cts)]
        return new_acc + _or_zeros(r_k, k_avals, dk) + _or_zeros(r_x, x_avals, dx)

    bx = hist + xs + ct_y
    bx_avals = list(k_avals) + list(x_avals) + [a for a, d in zip(y_avals, dy) if d]
    carry_avals = [a for a, d in zip(c_avals, dc) if d] + [a for a, d in zip(k_avals, dk) if d]
    res = scan_flat(backward, acc0 + ct_k, carry_avals, bx, bx_avals, length, not reverse)
    r_c, r_k, r_x = iter(res[:nacc]), iter(res[nacc:nacc + nk]), iter(res[nacc + nk:])
    return ([next(r_c) if d else None for d in dc] + [next(r_k) if d else None for d in dk]
            + [next(r_x) if d else None for d in dx])


scan_p = Primitive("scan", abstract_eval=_scan_abstract_eval, ref=_scan_ref, lowering=L.scan,
                   vjp=_scan_vjp, multiple_results=True,
                   doc="Loop a body region over the leading axis of its scanned operands.")


def scan(*args: Any, body: Graph, length: int, reverse: bool, nconsts: int,
         ncarry: int) -> list[Any]:
    return scan_p.bind(*args, body=body, length=int(length), reverse=bool(reverse),
                       nconsts=int(nconsts), ncarry=int(ncarry))


# --- tracing regions --------------------------------------------------------------------------

def trace_region(fn: Callable[..., Sequence[Any]], in_avals: Sequence[AbstractArray],
                 name: str) -> tuple[Graph, _core.Builder]:
    """Trace ``fn(*tracers) -> flat outputs`` as a region of the current trace.

    Outside any trace the graph is a root graph (closed-over arrays become its consts); such
    graphs are used to check types only.
    """
    graph, _, builder = _core.trace_graph(fn, in_avals, name=name,
                                          parent=_core.current_builder())
    return graph, builder


def close_regions(traced: Sequence[tuple[Graph, _core.Builder]],
                  nargs: int) -> tuple[list[Any], list[Graph]]:
    """Unify the captures of regions traced with ``nargs`` arguments each.

    Returns the outer values the regions read (operands for the control-flow primitive, in
    first-capture order) and the regions rewritten to take ``(*captures, *args)``.
    """
    index: dict[int, int] = {}
    outer: list[Any] = []
    for _, b in traced:
        for t in b.captured_outer:
            if t._var.id not in index:
                index[t._var.id] = len(outer)
                outer.append(t)
    graphs = []
    for g, b in traced:
        assert not g.constvars, "region graphs read outer values through captures"
        mine = {t._var.id: v for t, v in zip(b.captured_outer, b.captured_vars)}
        caps = [mine.get(t._var.id) or Var(t.aval) for t in outer]
        graphs.append(Graph(caps + list(g.invars[:nargs]), [], [], list(g.eqns), list(g.outs),
                            g.name))
    return outer, graphs


def cast_outputs(graph: Graph, avals: Sequence[AbstractArray]) -> Graph:
    """``graph`` with outputs converted to ``avals``' dtypes where they differ."""
    if all(a.aval.dtype is b.dtype for a, b in zip(graph.outs, avals)):
        return graph
    eqns = list(graph.eqns)
    outs: list[Any] = []
    for a, want in zip(graph.outs, avals):
        if a.aval.dtype is want.dtype:
            outs.append(a)
        elif isinstance(a, Literal):
            outs.append(Literal(np.asarray(a.value, dtype=want.dtype.np), want))
        else:
            v = Var(AbstractArray(a.aval.shape, want.dtype, want.weak))
            eqns.append(Eqn(_ew.convert_p, [a], [v], {"dtype": want.dtype}, None))
            outs.append(v)
    return Graph(list(graph.invars), list(graph.constvars), list(graph.consts), eqns, outs,
                 graph.name)


def _aval_of(x: Any) -> AbstractArray:
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    arr = np.asarray(x)
    return AbstractArray(arr.shape, dt.dtype(arr.dtype))


# --- graph interpreters that bind primitives (used by the VJP rules) --------------------------

def eval_graph(graph: Graph, *args: Any) -> list[Any]:
    """Run ``graph`` by binding its eqns: inlined into the current trace, or eagerly."""
    env: dict[int, Any] = {}
    for v, c in zip(graph.constvars, graph.consts):
        env[v.id] = c
    for v, a in zip(graph.invars, args):
        env[v.id] = a

    def read(a: Any) -> Any:
        if isinstance(a, Literal):
            return WeakValue(a.value) if a.aval.weak else a.value
        return env[a.id]

    for e in graph.eqns:
        out = e.prim.bind(*[read(a) for a in e.inputs], **e.params)
        for v, o in zip(e.outputs, out if e.prim.multiple_results else [out]):
            env[v.id] = o
    return [read(a) for a in graph.outs]


def graph_vjp(graph: Graph, primals: Sequence[Any], cts: Sequence[Any]) -> list[Any]:
    """Cotangents of ``graph``'s invars given its outputs' cotangents (None means zero).

    Recomputes the forward pass (binding each eqn), then walks the eqns backwards calling
    each primitive's VJP rule. Integer and bool values get no cotangent (None).
    """
    env: dict[int, Any] = {}
    for v, c in zip(graph.constvars, graph.consts):
        env[v.id] = c
    for v, a in zip(graph.invars, primals):
        env[v.id] = a

    def read(a: Any) -> Any:
        if isinstance(a, Literal):
            return WeakValue(a.value) if a.aval.weak else a.value
        return env[a.id]

    records = []
    for e in graph.eqns:
        ins = [read(a) for a in e.inputs]
        out = e.prim.bind(*ins, **e.params)
        outs = out if e.prim.multiple_results else [out]
        for v, o in zip(e.outputs, outs):
            env[v.id] = o
        records.append((e, ins, outs))

    ct_env: dict[int, Any] = {}

    def accumulate(a: Any, ct: Any) -> None:
        if ct is None or not isinstance(a, Var) or not is_differentiable(a.aval):
            return
        prev = ct_env.get(a.id)
        ct_env[a.id] = ct if prev is None else _ew.add(prev, ct)

    for a, ct in zip(graph.outs, cts):
        accumulate(a, ct)
    for e, ins, outs in reversed(records):
        ocs = [ct_env.pop(v.id, None) for v in e.outputs]
        if all(c is None for c in ocs) or e.prim.vjp is NONDIFFERENTIABLE:
            continue
        if e.prim.vjp is VJP_TODO:
            raise _errors.err(_errors.ArgumentError, "grad",
                              f"the primitive `{e.prim.name}` has no VJP rule yet"
                              + (f" (used at {e.source})" if e.source else ""))
        if e.prim.multiple_results:
            ocs = [c if c is not None else zeros(v.aval) for c, v in zip(ocs, e.outputs)]
            in_cts = e.prim.vjp(ocs, *ins, out=outs, **e.params)
        else:
            in_cts = e.prim.vjp(ocs[0], *ins, out=outs[0], **e.params)
        for a, c in zip(e.inputs, in_cts):
            accumulate(a, c)
    return [ct_env.get(v.id) for v in graph.invars]


# --- flat control flow on values (the VJP rules use these; the public API adds pytrees) -------

def cond_flat(index: Any, fns: Sequence[Callable[..., list[Any]]], operands: list[Any],
              avals: list[AbstractArray]) -> list[Any]:
    """``fns[index](*operands)``: a cond primitive inside a trace, a Python call outside."""
    if _core.current_builder() is None:
        return list(fns[_branch_index(index, len(fns))](*operands))
    traced = [trace_region(f, avals, getattr(f, "__name__", "branch")) for f in fns]
    captures, graphs = close_regions(traced, len(avals))
    return cond(index, *captures, *operands, branches=graphs)


def scan_flat(fn: Callable[..., list[Any]], init: list[Any], carry_avals: Sequence[AbstractArray],
              xs: list[Any], x_avals: Sequence[AbstractArray], length: int,
              reverse: bool) -> list[Any]:
    """Scan ``fn(*carry, *x_t) -> (*carry, *y_t)``; returns ``(*carry, *ys)``.

    Inside a trace this records a scan primitive; outside, ``fn`` is traced once and the graph
    is run eagerly step by step.
    """
    avals = list(carry_avals) + list(x_avals)
    graph, builder = trace_region(fn, avals, getattr(fn, "__name__", "body"))
    ncarry = len(carry_avals)
    if builder.parent is not None:
        captures, (body,) = close_regions([(graph, builder)], len(avals))
        return scan(*captures, *init, *xs, body=body, length=length, reverse=reverse,
                    nconsts=len(captures), ncarry=ncarry)
    carry = list(init)
    ys: list[list[Any]] = [[None] * length for _ in graph.outs[ncarry:]]
    for t in (reversed(range(length)) if reverse else range(length)):
        x_t = [slice_along_0(x, t) for x in xs]
        outs = eval_graph(graph, *carry, *x_t)
        carry = outs[:ncarry]
        for y, o in zip(ys, outs[ncarry:]):
            y[t] = o
    return carry + [stack_along_0(y, a) for y, a in zip(ys, graph.out_avals[ncarry:])]


def slice_along_0(x: Any, t: int) -> Any:
    shape = tuple(x.shape)
    s = _sh.slice(x, start=(t,) + (0,) * (len(shape) - 1), limit=(t + 1,) + shape[1:])
    return _sh.reshape(s, shape=shape[1:])


def stack_along_0(items: Sequence[Any], aval: AbstractArray) -> Any:
    if not items:
        return zeros(AbstractArray((0,) + aval.shape, aval.dtype))
    parts = []
    for y in items:
        if _aval_of(y).dtype is not aval.dtype:
            y = _ew.convert(y, dtype=aval.dtype)
        parts.append(_sh.reshape(y, shape=(1,) + aval.shape))
    return parts[0] if len(parts) == 1 else _sh.concatenate(parts, axis=0)


__all__ = ["cond_p", "while_p", "scan_p", "cond", "while_", "scan", "trace_region",
           "close_regions", "cast_outputs", "eval_graph", "graph_vjp", "cond_flat", "scan_flat",
           "zeros", "is_differentiable"]


# --- batching rules (xfront.vmap; see xfront/_batching.py and its NOTE [Batched control flow]) -

from xfront import _batching as _bt  # noqa: E402
from xfront.prims import reduction as _red  # noqa: E402


def _any_batched(graphs: Sequence[Graph], batched: list[bool], size: int) -> list[bool]:
    """Which outputs any of ``graphs`` makes batched (a trial trace of each)."""
    flags = [False] * len(graphs[0].outs)
    for g in graphs:
        out_b: list[bool] = []
        trace_region(_bt.region_fn(g, batched, size, None, out_b),
                     _bt.batched_avals(g.in_avals, batched, size), g.name)
        flags = [a or b for a, b in zip(flags, out_b)]
    return flags


def _bcast_pred(pred: Any, like: Any) -> Any:
    """A bool[B] predicate broadcast over the trailing axes of ``like`` (batched at 0)."""
    return _sh.broadcast_in_dim(pred, shape=like.shape, dims=(0,))


def _cond_rule(size: int, args, bdims, *, branches):
    index, ops = args[0], [_bt.front(a, d) for a, d in zip(args[1:], bdims[1:])]
    batched = [d is not None for d in bdims[1:]]
    if bdims[0] is None:
        flags = _any_batched(branches, batched, size)
        avals = _bt.batched_avals(branches[0].in_avals, batched, size)
        traced = [trace_region(_bt.region_fn(g, batched, size, flags), avals, g.name)
                  for g in branches]
        captures, graphs = close_regions(traced, len(avals))
        outs = cond(index, *captures, *ops, branches=graphs)
        return outs, [0 if f else None for f in flags]
    # a per-member index: run every branch, then pick each member's result
    index = _bt.front(index, bdims[0])
    results = []
    for g in branches:
        outs, ods = _bt.eval_batched(g, ops, [0 if b else None for b in batched], size)
        results.append([_bt.to_front(o, d, size) for o, d in zip(outs, ods)])
    picked = results[0]
    n = len(branches)
    for i in range(1, n):
        if index.dtype is dt.bool_:
            pred = index
        elif i < n - 1:
            pred = _ew.eq(index, _ew.full_like(index, i))
        else:  # out-of-range indices clamp: the last branch takes everything above
            pred = _ew.ge(index, _ew.full_like(index, i))
        picked = [_ew.select(_bcast_pred(pred, r), r, p) for r, p in zip(results[i], picked)]
    return picked, [0] * len(picked)


def _carry_fixpoint(body: Graph, fixed_b: list[bool], carry_b: list[bool], size: int,
                    xs_b: Sequence[bool] = ()) -> list[bool]:
    """The carry batching a loop body keeps: batched inputs that make outputs batched, iterated.

    ``body`` takes ``(*fixed, *carry, *xs)`` and returns the carry first."""
    while True:
        out_b: list[bool] = []
        in_b = fixed_b + carry_b + list(xs_b)
        trace_region(_bt.region_fn(body, in_b, size, None, out_b),
                     _bt.batched_avals(body.in_avals, in_b, size), body.name)
        new = [a or b for a, b in zip(carry_b, out_b[:len(carry_b)])]
        if new == carry_b:
            return carry_b
        carry_b = new


def _while_rule(size: int, args, bdims, *, cond_graph, body_graph, cond_nconsts, body_nconsts):
    nc, nb = cond_nconsts, body_nconsts
    b = [d is not None for d in bdims]
    cb, bb = b[:nc], b[nc:nc + nb]
    carry_b = _carry_fixpoint(body_graph, bb, b[nc + nb:], size)
    pred_b = _any_batched([cond_graph], cb + carry_b, size)[0]
    if pred_b:  # members stop at different steps: every carry is per-member
        carry_b = [True] * len(carry_b)
    vals = [_bt.front(a, d) for a, d in zip(args, bdims)]
    cconsts, bconsts = vals[:nc], vals[nc:nc + nb]
    init = [_bt.to_front(a, d, size) if w else a
            for a, d, w in zip(vals[nc + nb:], bdims[nc + nb:], carry_b)]
    c_avals = _bt.batched_avals(cond_graph.in_avals, cb + carry_b, size)
    b_avals = _bt.batched_avals(body_graph.in_avals, bb + carry_b, size)
    ncarry = len(carry_b)
    if not pred_b:
        c_caps, c_g = _bt.close_fn(_bt.region_fn(cond_graph, cb + carry_b, size), c_avals,
                                   cond_graph.name)
        b_caps, b_g = _bt.close_fn(_bt.region_fn(body_graph, bb + carry_b, size,
                                                 carry_b), b_avals, body_graph.name)
        outs = while_(*c_caps, *cconsts, *b_caps, *bconsts, *init, cond_graph=c_g,
                      body_graph=b_g, cond_nconsts=len(c_caps) + nc,
                      body_nconsts=len(b_caps) + nb)
        return outs, [0 if w else None for w in carry_b]

    run_cond = _bt.region_fn(cond_graph, cb + carry_b, size, [True])

    def any_running(*a: Any) -> list[Any]:
        return [_red.reduce_or(run_cond(*a)[0], axes=(0,))]

    run_body = _bt.region_fn(body_graph, bb + carry_b, size, carry_b)

    def step_running(*a: Any) -> list[Any]:
        cc, bc, carry = a[:nc], a[nc:nc + nb], a[nc + nb:]
        running = run_cond(*cc, *carry)[0]
        new = run_body(*bc, *carry)
        return [_ew.select(_bcast_pred(running, x), x, old) for x, old in zip(new, carry)]

    any_running.__name__ = cond_graph.name
    step_running.__name__ = body_graph.name
    c_caps, c_g = _bt.close_fn(any_running, c_avals, cond_graph.name)
    b_caps, b_g = _bt.close_fn(step_running, list(c_avals[:nc]) + b_avals, body_graph.name)
    outs = while_(*c_caps, *cconsts, *b_caps, *cconsts, *bconsts, *init, cond_graph=c_g,
                  body_graph=b_g, cond_nconsts=len(c_caps) + nc,
                  body_nconsts=len(b_caps) + nc + nb)
    return outs, [0] * ncarry


def _scan_rule(size: int, args, bdims, *, body, length, reverse, nconsts, ncarry):
    b = [d is not None for d in bdims]
    kb, xb = b[:nconsts], b[nconsts + ncarry:]
    carry_b = _carry_fixpoint(body, kb, b[nconsts:nconsts + ncarry], size, xb)
    in_b = kb + carry_b + xb
    out_b: list[bool] = []
    fn = _bt.region_fn(body, in_b, size, carry_b + [False] * (len(body.outs) - ncarry), out_b)
    caps, g = _bt.close_fn(fn, _bt.batched_avals(body.in_avals, in_b, size), body.name)
    consts = [_bt.front(a, d) for a, d in zip(args[:nconsts], bdims[:nconsts])]
    init = [_bt.to_front(a, d, size) if w else a for a, d, w in
            zip(args[nconsts:nconsts + ncarry], bdims[nconsts:nconsts + ncarry], carry_b)]
    # a scanned operand's leading axis is the step, so its batch axis goes second
    xs = [a if d is None else _bt.moveaxis(a, d, 1)
          for a, d in zip(args[nconsts + ncarry:], bdims[nconsts + ncarry:])]
    outs = scan(*caps, *consts, *init, *xs, body=g, length=length, reverse=reverse,
                nconsts=len(caps) + nconsts, ncarry=ncarry)
    dims = [0 if w else None for w in out_b[:ncarry]] + [1 if w else None
                                                        for w in out_b[ncarry:]]
    return outs, dims


cond_p.batch = _cond_rule
while_p.batch = _while_rule
scan_p.batch = _scan_rule
