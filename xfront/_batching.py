"""``xfront.vmap``: batching as a graph transformation, with one batching rule per primitive.

Imports: _core, _tree, _errors, _aval; the strict prims lazily (the prims modules import this
module to declare their rules, so it must not import them at import time).

How it works
------------
``vmap(f)(*args)`` traces ``f`` once on *per-example* avals (the batched axis removed) into a
graph, then re-runs that graph in the caller's trace with :func:`eval_batched`, an interpreter
whose values carry a batch dimension (``dim``: the axis that is batched, or None for a value
that is the same for every member). An eqn whose inputs are all unbatched is re-bound as it
is; otherwise its primitive's ``batch`` rule runs::

    rule(size, args, dims, **params) -> (out, out_dim)        # or lists for multiple_results

A rule binds ordinary primitives, so the batched program is an ordinary graph: it compiles,
differentiates (``grad(vmap(f))``, ``vmap(grad(f))``) and nests (``vmap(vmap(f))``) with no
other machinery. Outside any trace, ``vmap(f)`` runs through ``xfront.compile`` (one compiled
program per input signature, cached on the vmapped function).

Rules live at the end of each ``xfront/prims/*.py`` module. The generic rules here cover
families: :func:`elementwise` (operands of one shape, output of that shape),
:func:`leading_batch` (a primitive that maps over any leading axes, e.g. matrix factorizations
on ``[..., m, n]``), and :func:`batch_by_scan` (always correct: a scan over the members, used
where a vectorized rule is not written yet). A primitive with no sensible rule gets
``NotBatchable("why")``; ``missing_rules()`` lists primitives with neither.

NOTE [Batching over a symbolic axis]
    The batch size may be a symbolic dimension (a vmap inside ``compile(polymorphic=...)`` or
    over an ``xf.Spec`` axis): rules then build shapes with it like any other dimension. The
    elementwise, reduction, dot, shape, indexing (a gather with a symbolic slice size lowers
    to ``dynamic_gather``) and cumulative rules work so; a rule that needs a concrete size (a
    batch-by-scan rule loops over the members) raises a BatchingError naming the primitive
    and the symbol.

NOTE [Batched control flow]
    ``cond`` with a batched index runs every branch and selects per member (so a branch that
    would not run for a member still runs, and must not loop forever on its values).
    ``while`` with a batched predicate runs until every member's predicate is False; each step
    keeps the carry of members that are done (a select), so all carries become batched.
    ``scan`` batches its body; a carry that becomes batched in the body is batched from the
    start (the carry types are found by iterating to a fixed point).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence


from xfront import _core, _errors, _shapes
from xfront._aval import AbstractArray
from xfront._core import Graph, Literal, WeakValue
from xfront._tree import tree_flatten, tree_unflatten


class BatchingError(_errors.XfrontError, NotImplementedError):
    """A primitive reached by ``vmap`` has no batching rule (or declares it cannot have one)."""


class NotBatchable:
    """The ``batch`` slot of a primitive that has no batching rule, with the reason why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"NotBatchable({self.reason!r})"


def missing_rules() -> list[str]:
    """Names of declared primitives with neither a batching rule nor a ``NotBatchable``."""
    return sorted(n for n, p in _core.PRIMITIVES.items()
                  if not (callable(p.batch) or isinstance(p.batch, NotBatchable)))


# --- helpers the rules use ------------------------------------------------------------------

def _ndim(x: Any) -> int:
    return len(x.shape)


def moveaxis(x: Any, src: int, dst: int) -> Any:
    """``x`` with axis ``src`` moved to position ``dst`` (a transpose; none when equal)."""
    from xfront.prims import shape as _sh

    if src == dst:
        return x
    perm = [i for i in range(_ndim(x)) if i != src]
    perm.insert(dst, src)
    return _sh.transpose(x, perm=perm)


def broadcast_batch(x: Any, size: int, axis: int = 0) -> Any:
    """An unbatched ``x`` repeated ``size`` times along a new axis ``axis``."""
    from xfront.prims import shape as _sh

    shape = list(x.shape)
    shape.insert(axis, size)
    dims = [i for i in range(len(shape)) if i != axis]
    return _sh.broadcast_in_dim(x, shape=shape, dims=dims)


def to_front(x: Any, dim: int | None, size: int) -> Any:
    """``x`` with its batch axis first (broadcast to ``size`` when it is unbatched)."""
    return broadcast_batch(x, size, 0) if dim is None else moveaxis(x, dim, 0)


def to_dim(x: Any, dim: int | None, size: int, want: int | None) -> Any:
    """``x`` with its batch axis at ``want`` (None: ``x`` must be unbatched)."""
    if want is None:
        assert dim is None
        return x
    return broadcast_batch(x, size, want) if dim is None else moveaxis(x, dim, want)


def front(x: Any, dim: int | None) -> Any:
    """A batched ``x`` with its batch axis first; an unbatched one unchanged."""
    return x if dim is None else moveaxis(x, dim, 0)


# --- the generic rules ----------------------------------------------------------------------

def elementwise_rule(prim: _core.Primitive) -> Callable:
    """The batching rule of an elementwise primitive (any number of equal-shape operands)."""

    def rule(size: int, args: Sequence[Any], dims: Sequence[int | None], **params: Any):
        ds = {d for d in dims if d is not None}
        if len(ds) == 1 and all(d is not None for d in dims):
            d = ds.pop()
            out = prim.bind(*args, **params)
        else:
            d = 0
            out = prim.bind(*[to_front(a, b, size) for a, b in zip(args, dims)], **params)
        return out, ([d] * len(out) if prim.multiple_results else d)

    rule.__name__ = f"batch_{prim.name}"
    return rule


def leading_batch(prim: _core.Primitive) -> Callable:
    """The rule of a primitive that maps over leading axes (all operands batched at axis 0)."""

    def rule(size: int, args: Sequence[Any], dims: Sequence[int | None], **params: Any):
        out = prim.bind(*[to_front(a, d, size) for a, d in zip(args, dims)], **params)
        return out, ([0] * len(out) if prim.multiple_results else 0)

    rule.__name__ = f"batch_{prim.name}"
    return rule


def axis_param_rule(prim: _core.Primitive, *names: str) -> Callable:
    """The rule of a primitive whose params ``names`` are axes (ints or tuples of ints).

    Every operand gets its batch axis first (broadcast when unbatched) and each named axis
    param shifts by one; outputs are batched at axis 0.
    """

    def shift(v: Any) -> Any:
        return tuple(int(a) + 1 for a in v) if isinstance(v, (tuple, list)) else int(v) + 1

    def rule(size: int, args: Sequence[Any], dims: Sequence[int | None], **params: Any):
        p = {k: (shift(v) if k in names else v) for k, v in params.items()}
        out = prim.bind(*[to_front(a, d, size) for a, d in zip(args, dims)], **p)
        return out, ([0] * len(out) if prim.multiple_results else 0)

    rule.__name__ = f"batch_{prim.name}"
    return rule


def batch_by_scan(prim: _core.Primitive) -> Callable:
    """A rule that is always correct: scan over the members, binding ``prim`` per member.

    The batched program holds one copy of the primitive inside a loop, so it is slower than a
    vectorized rule but never wrong; it is the rule of record where one is not written yet.
    """

    def rule(size: int, args: Sequence[Any], dims: Sequence[int | None], **params: Any):
        from xfront.prims import control as _cf

        batched = [i for i, d in enumerate(dims) if d is not None]
        xs = [front(args[i], dims[i]) for i in batched]
        x_avals = [AbstractArray(tuple(x.shape[1:]), aval_of(x).dtype) for x in xs]

        def body(*slices: Any) -> list[Any]:
            full = list(args)
            for i, s in zip(batched, slices):
                full[i] = s
            out = prim.bind(*full, **params)
            return list(out) if prim.multiple_results else [out]

        body.__name__ = f"{prim.name}_member"
        outs = _cf.scan_flat(body, [], [], xs, x_avals, size, False)
        return (outs, [0] * len(outs)) if prim.multiple_results else (outs[0], 0)

    rule.__name__ = f"batch_{prim.name}_by_scan"
    return rule


def aval_of(x: Any) -> AbstractArray:
    """The aval of a traced value, xfront array, WeakValue or NumPy value."""
    from xfront.prims import control as _cf

    return _cf._aval_of(x)


# --- the interpreter ------------------------------------------------------------------------

def _rule_error(prim: _core.Primitive, source: Any) -> BatchingError:
    at = f" (used at {source})" if source else ""
    if isinstance(prim.batch, NotBatchable):
        return _errors.err(BatchingError, "vmap",
                           f"the primitive `{prim.name}` cannot be batched{at}: "
                           f"{prim.batch.reason}")
    return _errors.err(BatchingError, "vmap",
                       f"the primitive `{prim.name}` has no batching rule yet{at}",
                       "call the function in a Python loop (or xfront.scan) over the batch")


def eval_batched(graph: Graph, args: Sequence[Any], dims: Sequence[int | None],
                 size: int) -> tuple[list[Any], list[int | None]]:
    """Run ``graph`` on batched values in the current trace; returns outputs and their dims."""
    env: dict[int, tuple[Any, int | None]] = {}
    for v, c in zip(graph.constvars, graph.consts):
        env[v.id] = (c, None)
    for v, a, d in zip(graph.invars, args, dims):
        env[v.id] = (a, d)

    def read(a: Any) -> tuple[Any, int | None]:
        if isinstance(a, Literal):
            return (WeakValue(a.value) if a.aval.weak else a.value), None
        return env[a.id]

    for e in graph.eqns:
        ins = [read(a) for a in e.inputs]
        vals = [x for x, _ in ins]
        ds = [d for _, d in ins]
        if all(d is None for d in ds):
            out = e.prim.bind(*vals, **e.params)
            outs = out if e.prim.multiple_results else [out]
            odims: list[int | None] = [None] * len(outs)
        else:
            if not callable(e.prim.batch):
                raise _rule_error(e.prim, e.source)
            try:
                out, od = e.prim.batch(size, vals, ds, **e.params)
            except _shapes.InconclusiveDimensionError as ex:
                if not _shapes.is_symbolic(size):
                    raise
                at = f" (used at {e.source})" if e.source else ""
                raise _errors.err(
                    BatchingError, "vmap",
                    f"the primitive `{e.prim.name}`{at} cannot be batched over the symbolic "
                    f"axis size `{size}` yet: {str(ex).split(': ', 1)[-1].splitlines()[0]}",
                    "vmap over an axis with a static size, or leave that axis out of "
                    "polymorphic=") from None
            outs = list(out) if e.prim.multiple_results else [out]
            odims = list(od) if e.prim.multiple_results else [od]
        for v, o, d in zip(e.outputs, outs, odims):
            env[v.id] = (o, d)
    res = [read(a) for a in graph.outs]
    return [x for x, _ in res], [d for _, d in res]


def batched_avals(avals: Sequence[AbstractArray], batched: Sequence[bool],
                  size: int) -> list[AbstractArray]:
    """``avals`` with a leading batch axis of ``size`` where ``batched``."""
    return [AbstractArray((size,) + a.shape, a.dtype, a.weak) if b else a
            for a, b in zip(avals, batched)]


def region_fn(graph: Graph, batched: Sequence[bool], size: int,
              force: Sequence[bool] | None = None,
              out_b: list[bool] | None = None) -> Callable[..., list[Any]]:
    """A function running ``graph`` batched, for tracing as a region.

    Batched inputs carry the batch axis first; outputs come back batched (axis 0) where the
    graph makes them batched or ``force`` asks for it, which ``out_b`` records.
    """

    def fn(*args: Any) -> list[Any]:
        outs, ods = eval_batched(graph, args, [0 if b else None for b in batched], size)
        want = [d is not None or bool(force and force[i]) for i, d in enumerate(ods)]
        if out_b is not None:
            out_b[:] = want
        return [to_dim(o, d, size, 0 if w else None) for o, d, w in zip(outs, ods, want)]

    fn.__name__ = graph.name
    return fn


def close_fn(fn: Callable[..., list[Any]], in_avals: Sequence[AbstractArray],
             name: str) -> tuple[list[Any], Graph]:
    """Trace ``fn`` as a region of the current trace: (outer values it reads, the region
    taking ``(*captures, *inputs)``)."""
    from xfront.prims import control as _cf

    traced = _cf.trace_region(fn, in_avals, name)
    captures, (g,) = _cf.close_regions([traced], len(in_avals))
    return captures, g


# --- xfront.vmap ----------------------------------------------------------------------------

def _axes_for(spec: Any, value: Any, path: str) -> list[Any]:
    """One axis (int or None) per leaf of ``value``, from a prefix pytree ``spec``."""
    if spec is None or isinstance(spec, int) and not isinstance(spec, bool):
        return [spec] * len(tree_flatten(value)[0])
    if isinstance(spec, (tuple, list)) and isinstance(value, (tuple, list)) \
            and len(spec) == len(value):
        return [a for i, (s, v) in enumerate(zip(spec, value))
                for a in _axes_for(s, v, f"{path}[{i}]")]
    if isinstance(spec, dict) and isinstance(value, dict) and set(spec) == set(value):
        # dict leaves flatten in sorted-key order when every key is a str (as in _tree)
        keys = sorted(value) if all(isinstance(k, str) for k in value) else list(value)
        return [a for k in keys for a in _axes_for(spec[k], value[k], f"{path}[{k!r}]")]
    what = "out_axes" if path.startswith("output") else "in_axes"
    raise _errors.err(_errors.ArgumentError, "vmap",
                      f"{what} entry {spec!r} for {path} does not match its structure "
                      f"{type(value).__name__}",
                      "use an int or None per argument, or a tuple/list/dict with the argument's "
                      "structure")


def _check_axis(x: Any, axis: int, where: str) -> int:
    shape = getattr(x, "shape", None)
    if shape is None or isinstance(x, (bool, int, float, complex)):
        raise _errors.err(_errors.ArgumentError, "vmap",
                          f"{where} is a {type(x).__name__}, which has no axis {axis} to map over",
                          "pass in_axes=None for arguments that are the same for every member")
    nd = len(shape)
    if not -nd <= axis < nd:
        raise _errors.err(_errors.ShapeError, "vmap",
                          f"in_axes {axis} is out of range for {where} of shape {tuple(shape)}",
                          f"valid axes are {-nd}..{nd - 1}" if nd else
                          "a 0-d array cannot be mapped over; use in_axes=None for it")
    return axis % nd


def _leaf_axes(in_axes: Any, args: tuple) -> tuple[list[Any], Any, list[int | None]]:
    """The argument leaves, their tree, and each leaf's mapped axis (validated)."""
    if in_axes is None or isinstance(in_axes, int) and not isinstance(in_axes, bool):
        per_arg = [in_axes] * len(args)
    elif isinstance(in_axes, (tuple, list)):
        per_arg = list(in_axes)
        if len(per_arg) != len(args):
            raise _errors.err(_errors.ArgumentError, "vmap",
                              f"in_axes has {len(per_arg)} entries but the function got "
                              f"{len(args)} positional arguments")
    else:
        raise _errors.err(_errors.ArgumentError, "vmap",
                          "in_axes must be an int, None, or a tuple with one entry per "
                          f"argument, got {in_axes!r}")
    leaves, in_tree = tree_flatten(args)
    axes = [a for i, (s, v) in enumerate(zip(per_arg, args))
            for a in _axes_for(s, v, f"args[{i}]")]
    axes = [None if a is None else _check_axis(x, a, f"argument leaf {i}")
            for i, (x, a) in enumerate(zip(leaves, axes))]
    return leaves, in_tree, axes


def _vmap_traced(f: Callable, in_axes: Any, out_axes: Any, axis_size: int | None,
                 args: tuple) -> Any:
    leaves, in_tree, axes = _leaf_axes(in_axes, args)
    # a size may be symbolic (NOTE [Batching over a symbolic axis])
    sizes = {_shapes.as_dim(x.shape[a]) for x, a in zip(leaves, axes) if a is not None}
    if axis_size is not None:
        sizes.add(_shapes.as_dim(axis_size))
    if not sizes:
        raise _errors.err(_errors.ArgumentError, "vmap",
                          "no argument is mapped (every in_axes is None) and axis_size is not "
                          "given", "pass axis_size=N or map at least one argument")
    if len(sizes) > 1:
        shapes = ", ".join(f"{tuple(x.shape)} axis {a}" for x, a in zip(leaves, axes)
                           if a is not None)
        raise _errors.err(_errors.ShapeError, "vmap",
                          f"mapped axes have different sizes {sorted(sizes, key=str)}: {shapes}"
                          + (f", axis_size={axis_size}" if axis_size is not None else ""),
                          "every mapped argument needs the same size along its in_axes")
    size = sizes.pop()
    mapped = [i for i, a in enumerate(axes) if a is not None]
    in_avals = []
    for i in mapped:
        av = aval_of(leaves[i])
        shape = av.shape[:axes[i]] + av.shape[axes[i] + 1:]
        in_avals.append(AbstractArray(shape, av.dtype, av.weak))
    out_tree: list[Any] = []

    def per_example(*tracers: Any) -> list[Any]:
        full = list(leaves)
        for i, t in zip(mapped, tracers):
            full[i] = t
        out = f(*tree_unflatten(in_tree, full))
        outs, td = tree_flatten(out)
        out_tree.append((td, out))
        return outs

    per_example.__name__ = getattr(f, "__name__", "f")
    graph, _, builder = _core.trace_graph(per_example, in_avals,
                                          parent=_core.current_builder())
    captured = builder.captured_outer
    vals = [leaves[i] for i in mapped] + list(captured)
    dims = [axes[i] for i in mapped] + [None] * len(captured)
    outs, odims = eval_batched(graph, vals, dims, size)
    out_td, out_value = out_tree[0]
    oaxes = _axes_for(out_axes, out_value, "output")
    res = []
    for k, (o, d, want) in enumerate(zip(outs, odims, oaxes)):
        if want is None:
            if d is not None:
                raise _errors.err(_errors.ArgumentError, "vmap",
                                  f"out_axes is None for output {k}, but that output depends "
                                  "on a mapped input", "give it an int out_axes")
            res.append(o)
            continue
        nd = len(o.shape) + (1 if d is None else 0)
        if not -nd <= want < nd:
            raise _errors.err(_errors.ShapeError, "vmap",
                              f"out_axes {want} is out of range for output {k} with "
                              f"{nd} axes (batch axis included)")
        res.append(to_dim(o, d, size, want % nd))
    return tree_unflatten(out_td, res)


class _Vmapped:
    """The function ``vmap`` returns: a traced rewrite inside traces, compiled outside."""

    def __init__(self, f: Callable, in_axes: Any, out_axes: Any, axis_size: int | None):
        self.f, self.in_axes, self.out_axes, self.axis_size = f, in_axes, out_axes, axis_size
        self._compiled: Any = None
        functools.update_wrapper(self, f, updated=())

    def __call__(self, *args: Any) -> Any:
        if _core.current_builder() is not None:
            return _vmap_traced(self.f, self.in_axes, self.out_axes, self.axis_size, args)
        _leaf_axes(self.in_axes, args)  # argument errors before compiling (Python scalars)
        if self._compiled is None:
            from xfront._compile import compile as xf_compile

            def batched(*a: Any) -> Any:
                return _vmap_traced(self.f, self.in_axes, self.out_axes, self.axis_size, a)

            batched.__name__ = f"vmap_{getattr(self.f, '__name__', 'f')}"
            self._compiled = xf_compile(batched)
        return self._compiled(*args)

    def __repr__(self) -> str:
        return f"<xfront.vmap of {getattr(self.f, '__name__', self.f)!r}>"


def vmap(f: Callable, in_axes: Any = 0, out_axes: Any = 0,
         axis_size: int | None = None) -> Callable:
    """Vectorize ``f`` over a batch axis: ``vmap(f)(xs)[i] == f(xs[i])``.

    Args:
      f: a function of arrays (pytrees allowed) written with xfront operations.
      in_axes: the mapped axis of each positional argument: an int, None (the argument is the
        same for every member), or a tuple with one entry per argument whose entries are ints,
        None, or tuples/lists/dicts with the argument's structure.
      out_axes: where the batch axis goes in each output (int, None for outputs that do not
        depend on mapped inputs, or a pytree with the outputs' structure).
      axis_size: the batch size; needed only when no argument is mapped.

    Inside ``xfront.compile``, ``grad`` or another ``vmap`` the batched program is recorded
    into the enclosing trace; called directly it is compiled once per input signature.
    """
    if not callable(f):
        raise _errors.err(_errors.ArgumentError, "vmap",
                          f"expected a function, got {type(f).__name__}")
    return _Vmapped(f, in_axes, out_axes, axis_size)


__all__ = ["vmap", "BatchingError", "NotBatchable", "missing_rules", "eval_batched",
           "batched_avals", "region_fn", "close_fn", "elementwise_rule",
           "leading_batch", "axis_param_rule", "batch_by_scan", "moveaxis", "broadcast_batch",
           "to_front", "to_dim", "front", "aval_of"]
