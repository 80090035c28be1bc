"""``xf.shard_map``: a per-device program over a mesh, with explicit collectives.

Imports: _core, _errors, _aval, _tree, sharding, lowering._emit.

``shard_map(f, mesh=, in_specs=, out_specs=)`` runs ``f`` once per device of ``mesh`` on that
device's block of each input (split by ``in_specs``) and assembles the outputs by
``out_specs``. Inside ``f`` the collectives ``psum pmean pmax all_gather reduce_scatter ppermute
all_to_all axis_index`` communicate over named mesh axes. It lowers to one Shardy manual
computation (``sdy.manual_computation`` over every mesh axis) whose body holds StableHLO
collectives with device groups computed from the mesh, so it runs inside a program compiled
with shardings (``xf.compile(..., in_shardings=...)``) over the same mesh.

NOTE [Collective gradients]
    The per-device program is differentiated as a linear map of all devices' values at once,
    as jax's ``shard_map`` does (with ``check_vma=False``). An output whose spec does not name
    a mesh axis holds the same value on every device of that axis (as after ``psum``); its
    value is any one device's, i.e. their mean, so its cotangent reaches each of the n devices
    of those axes as ``ct / n``. Each collective then takes its exact transpose, whether its
    cotangent is the same on every device or not: ``psum`` -> ``psum``, ``pmean`` -> ``pmean``,
    ``pmax`` -> ``psum(ct)`` where the input was the maximum, ``all_gather`` ->
    ``reduce_scatter``, ``reduce_scatter`` -> ``all_gather``, ``ppermute`` -> the inverse
    permutation, ``all_to_all`` -> ``all_to_all`` with split and concat swapped. (Dividing at
    the collective instead, e.g. ``all_gather`` -> ``reduce_scatter(ct) / n``, is right only
    while the cotangent is the same on every device: it is n times too small when the gathered
    value reaches an output whose spec names the axis.) An input whose spec does not name a
    mesh axis is the same on every device of that axis, so its gradient is the ``psum`` of the
    devices' gradients over the axes it does not name.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Callable, Sequence

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._aval import AbstractArray
from xfront._tree import tree_flatten, tree_unflatten
from xfront.sharding import Mesh, NamedSharding, PartitionSpec, _lowering

__all__ = ["shard_map", "psum", "pmean", "pmax", "all_gather", "reduce_scatter", "ppermute",
           "all_to_all", "axis_index"]

_env = threading.local()  # .stack: meshes of the shard_map bodies being traced
_channels = itertools.count(1)


def _mesh_in_scope(op: str, axes: tuple[str, ...]) -> Mesh:
    stack = getattr(_env, "stack", None)
    if not stack:
        raise _errors.err(_errors.ArgumentError, op,
                          f"{op} over {axes} outside xf.shard_map",
                          "call collectives inside a function given to xf.shard_map")
    mesh = stack[-1]
    for a in axes:
        if a not in mesh.shape:
            raise _errors.err(_errors.ArgumentError, op,
                              f"{op} over the axis {a!r}, which {mesh!r} does not have",
                              f"use one of {list(mesh.axis_names)}")
    return mesh


def _axes(axis_name: Any) -> tuple[str, ...]:
    return (axis_name,) if isinstance(axis_name, str) else tuple(axis_name)


def _groups(mesh: Mesh, axes: tuple[str, ...]) -> list[list[int]]:
    """Flat device indices grouped by equal coordinates on the axes not in ``axes``."""
    ids = np.arange(mesh.size).reshape(mesh.devices.shape)
    pos = [mesh.axis_names.index(a) for a in axes]
    rest = [i for i in range(ids.ndim) if i not in pos]
    moved = np.transpose(ids, rest + pos).reshape(-1, int(np.prod([ids.shape[p] for p in pos])))
    return moved.tolist()


def _size(mesh: Mesh, axes: tuple[str, ...]) -> int:
    return int(np.prod([mesh.shape[a] for a in axes]))


def _dense2(rows: list[list[int]]) -> str:
    n, m = len(rows), len(rows[0]) if rows else 0
    body = ", ".join("[" + ", ".join(map(str, r)) + "]" for r in rows)
    return f"dense<[{body}]> : tensor<{n}x{m}xi64>"


def _channel() -> str:
    return f"#stablehlo.channel_handle<handle = {next(_channels)}, type = 1>"


# --- collectives ---------------------------------------------------------------------------

def _same(x: AbstractArray, **_: Any) -> AbstractArray:
    return x


def _reduce_lowering(op: str) -> Callable:
    def rule(ctx: Any, x: Any, *, axes: tuple[str, ...], mesh: Mesh) -> list[Any]:
        scalar = AbstractArray((), x.aval.dtype)
        region = ctx.binary_region(op, scalar)
        props = {"channel_handle": _channel(), "replica_groups": _dense2(_groups(mesh, axes)),
                 "use_global_device_ids": "unit"}
        return ctx.op("stablehlo.all_reduce", [x], props=props, regions=[region])
    return rule


# NOTE [Collective gradients]: each VJP is the exact transpose (cotangents may differ per device)
def _psum_vjp(ct: Any, x: Any, *, out: Any, axes: tuple, mesh: Mesh) -> list[Any]:
    return [psum_p.bind(ct, axes=axes, mesh=mesh)]


def _pmean_vjp(ct: Any, x: Any, *, out: Any, axes: tuple, mesh: Mesh) -> list[Any]:
    return [pmean_p.bind(ct, axes=axes, mesh=mesh)]


def _pmax_vjp(ct: Any, x: Any, *, out: Any, axes: tuple, mesh: Mesh) -> list[Any]:
    from xfront.prims import elementwise as ew
    from xfront.prims.control import zeros

    total = psum_p.bind(ct, axes=axes, mesh=mesh)
    return [ew.select(ew.eq(x, out), total, zeros(ct.aval))]


psum_p = _core.Primitive("psum", abstract_eval=_same, ref=lambda x, **k: x,
                         lowering=_reduce_lowering("stablehlo.add"), vjp=_psum_vjp)


def _pmean_lowering(ctx: Any, x: Any, *, axes: tuple, mesh: Mesh) -> list[Any]:
    s = _reduce_lowering("stablehlo.add")(ctx, x, axes=axes, mesh=mesh)[0]
    n = ctx.full(_size(mesh, axes), x.aval)
    return [ctx.op1("stablehlo.divide", [s, n])]


pmean_p = _core.Primitive("pmean", abstract_eval=_same, ref=lambda x, **k: x,
                          lowering=_pmean_lowering, vjp=_pmean_vjp)
pmax_p = _core.Primitive("pmax", abstract_eval=_same, ref=lambda x, **k: x,
                         lowering=_reduce_lowering("stablehlo.maximum"), vjp=_pmax_vjp)


def _gather_eval(x: AbstractArray, *, axes: tuple, mesh: Mesh, axis: int) -> AbstractArray:
    shape = list(x.shape)
    shape[axis] *= _size(mesh, axes)
    return AbstractArray(tuple(shape), x.dtype)


def _gather_lowering(ctx: Any, x: Any, *, axes: tuple, mesh: Mesh, axis: int) -> list[Any]:
    props = {"all_gather_dim": f"{axis} : i64", "channel_handle": _channel(),
             "replica_groups": _dense2(_groups(mesh, axes)), "use_global_device_ids": "unit"}
    return ctx.op("stablehlo.all_gather", [x], props=props)


def _gather_vjp(ct: Any, x: Any, *, out: Any, axes: tuple, mesh: Mesh, axis: int) -> list[Any]:
    return [reduce_scatter_p.bind(ct, axes=axes, mesh=mesh, axis=axis)]


all_gather_p = _core.Primitive("all_gather", abstract_eval=_gather_eval,
                               ref=lambda x, **k: x, lowering=_gather_lowering, vjp=_gather_vjp)


def _scatter_eval(x: AbstractArray, *, axes: tuple, mesh: Mesh, axis: int) -> AbstractArray:
    n = _size(mesh, axes)
    if not 0 <= axis < x.ndim or x.shape[axis] % n:
        raise _errors.err(_errors.ShapeError, "reduce_scatter",
                          f"dimension {axis} of {x.short} must exist and be divisible by the "
                          f"{n} devices of {axes}")
    shape = list(x.shape)
    shape[axis] //= n
    return AbstractArray(tuple(shape), x.dtype)


def _scatter_lowering(ctx: Any, x: Any, *, axes: tuple, mesh: Mesh, axis: int) -> list[Any]:
    scalar = AbstractArray((), x.aval.dtype)
    region = ctx.binary_region("stablehlo.add", scalar)
    props = {"scatter_dimension": f"{axis} : i64", "channel_handle": _channel(),
             "replica_groups": _dense2(_groups(mesh, axes)), "use_global_device_ids": "unit"}
    return ctx.op("stablehlo.reduce_scatter", [x], props=props, regions=[region])


def _scatter_vjp(ct: Any, x: Any, *, out: Any, axes: tuple, mesh: Mesh, axis: int) -> list[Any]:
    return [all_gather_p.bind(ct, axes=axes, mesh=mesh, axis=axis)]


reduce_scatter_p = _core.Primitive("reduce_scatter", abstract_eval=_scatter_eval,
                                   ref=lambda x, **k: x, lowering=_scatter_lowering,
                                   vjp=_scatter_vjp)


def _ppermute_lowering(ctx: Any, x: Any, *, axes: tuple, mesh: Mesh,
                       perm: tuple[tuple[int, int], ...]) -> list[Any]:
    pairs = [[g[s], g[d]] for g in _groups(mesh, axes) for s, d in perm]
    props = {"channel_handle": _channel(), "source_target_pairs": _dense2(pairs)}
    return ctx.op("stablehlo.collective_permute", [x], props=props)


def _ppermute_vjp(ct: Any, x: Any, *, out: Any, axes: tuple, mesh: Mesh,
                  perm: tuple) -> list[Any]:
    return [ppermute_p.bind(ct, axes=axes, mesh=mesh, perm=tuple((d, s) for s, d in perm))]


ppermute_p = _core.Primitive("ppermute", abstract_eval=_same, ref=lambda x, **k: x,
                             lowering=_ppermute_lowering, vjp=_ppermute_vjp)


def _a2a_eval(x: AbstractArray, *, axes: tuple, mesh: Mesh, split_axis: int,
              concat_axis: int) -> AbstractArray:
    n = _size(mesh, axes)
    if not (0 <= split_axis < x.ndim and 0 <= concat_axis < x.ndim) or x.shape[split_axis] % n:
        raise _errors.err(_errors.ShapeError, "all_to_all",
                          f"split_axis {split_axis} of {x.short} must exist and be divisible by "
                          f"the {n} devices of {axes}")
    shape = list(x.shape)
    shape[split_axis] //= n
    shape[concat_axis] *= n
    return AbstractArray(tuple(shape), x.dtype)


def _a2a_lowering(ctx: Any, x: Any, *, axes: tuple, mesh: Mesh, split_axis: int,
                  concat_axis: int) -> list[Any]:
    props = {"channel_handle": _channel(), "concat_dimension": f"{concat_axis} : i64",
             "replica_groups": _dense2(_groups(mesh, axes)),
             "split_count": f"{_size(mesh, axes)} : i64",
             "split_dimension": f"{split_axis} : i64"}
    return ctx.op("stablehlo.all_to_all", [x], props=props)


def _a2a_vjp(ct: Any, x: Any, *, out: Any, axes: tuple, mesh: Mesh, split_axis: int,
             concat_axis: int) -> list[Any]:
    return [all_to_all_p.bind(ct, axes=axes, mesh=mesh, split_axis=concat_axis,
                              concat_axis=split_axis)]


all_to_all_p = _core.Primitive("all_to_all", abstract_eval=_a2a_eval, ref=lambda x, **k: x,
                               lowering=_a2a_lowering, vjp=_a2a_vjp)


def _axis_index_lowering(ctx: Any, *, axes: tuple, mesh: Mesh) -> list[Any]:
    u32 = AbstractArray((), dt.uint32)
    pid = ctx.op1("stablehlo.partition_id", [], u32)
    ids = np.arange(mesh.size).reshape(mesh.devices.shape)
    # index along ``axes`` (row-major over them) of flat device index pid
    idx = None
    for a in axes:
        k = mesh.axis_names.index(a)
        stride = int(np.prod(ids.shape[k + 1:]))
        q = ctx.op1("stablehlo.divide", [pid, ctx.constant(stride, u32)], u32)
        r = ctx.op1("stablehlo.remainder", [q, ctx.constant(mesh.shape[a], u32)], u32)
        idx = r if idx is None else ctx.op1(
            "stablehlo.add", [ctx.op1("stablehlo.multiply",
                                      [idx, ctx.constant(mesh.shape[a], u32)], u32), r], u32)
    return [ctx.op1("stablehlo.convert", [idx])]


axis_index_p = _core.Primitive("axis_index",
                               abstract_eval=lambda **k: AbstractArray((), dt.int32),
                               ref=lambda **k: np.int32(0), lowering=_axis_index_lowering,
                               vjp=_core.NONDIFFERENTIABLE)


def psum(x: Any, axis_name: Any) -> Any:
    """Sum of ``x`` over the devices of mesh axis (or axes) ``axis_name``."""
    axes = _axes(axis_name)
    return psum_p.bind(x, axes=axes, mesh=_mesh_in_scope("psum", axes))


def pmean(x: Any, axis_name: Any) -> Any:
    axes = _axes(axis_name)
    return pmean_p.bind(x, axes=axes, mesh=_mesh_in_scope("pmean", axes))


def pmax(x: Any, axis_name: Any) -> Any:
    axes = _axes(axis_name)
    return pmax_p.bind(x, axes=axes, mesh=_mesh_in_scope("pmax", axes))


def all_gather(x: Any, axis_name: Any, *, axis: int = 0, tiled: bool = True) -> Any:
    """The blocks of every device along ``axis_name`` concatenated along ``axis``; with
    ``tiled=False`` stacked along a new axis ``axis`` instead (as ``jax.lax.all_gather``)."""
    from xfront._api._helpers import normalize_axis
    from xfront.prims import shape as sh

    axes = _axes(axis_name)
    mesh = _mesh_in_scope("all_gather", axes)
    shape = tuple(_aval_of(x).shape)
    if not tiled:
        ax = normalize_axis("all_gather", axis, len(shape) + 1)
        x = sh.reshape(x, shape=shape[:ax] + (1,) + shape[ax:])
        return all_gather_p.bind(x, axes=axes, mesh=mesh, axis=ax)
    if not shape:
        raise _errors.err(_errors.ShapeError, "all_gather",
                          "tiled=True concatenates along an axis of x, but x is 0-d",
                          "pass tiled=False to stack the devices' values along a new axis")
    return all_gather_p.bind(x, axes=axes, mesh=mesh,
                             axis=normalize_axis("all_gather", axis, len(shape)))


def reduce_scatter(x: Any, axis_name: Any, *, axis: int = 0) -> Any:
    """Sum over ``axis_name``, each device keeping its block of dimension ``axis``
    (``psum_scatter``)."""
    from xfront._api._helpers import normalize_axis

    axes = _axes(axis_name)
    mesh = _mesh_in_scope("reduce_scatter", axes)
    ndim = len(_aval_of(x).shape)
    return reduce_scatter_p.bind(x, axes=axes, mesh=mesh,
                                 axis=normalize_axis("reduce_scatter", axis, ndim))


def ppermute(x: Any, axis_name: Any, perm: Sequence[tuple[int, int]]) -> Any:
    """Send each device's ``x`` to another along ``axis_name``: ``perm`` lists
    (source index, destination index) pairs; devices no pair sends to get zeros."""
    axes = _axes(axis_name)
    mesh = _mesh_in_scope("ppermute", axes)
    n = _size(mesh, axes)
    perm = tuple((int(s), int(d)) for s, d in perm)
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts) or \
            not all(0 <= v < n for v in srcs + dsts):
        raise _errors.err(_errors.ArgumentError, "ppermute",
                          f"perm {perm} is not a partial permutation of 0..{n - 1}")
    return ppermute_p.bind(x, axes=axes, mesh=mesh, perm=perm)


def all_to_all(x: Any, axis_name: Any, split_axis: int, concat_axis: int) -> Any:
    axes = _axes(axis_name)
    mesh = _mesh_in_scope("all_to_all", axes)
    return all_to_all_p.bind(x, axes=axes, mesh=mesh, split_axis=int(split_axis),
                             concat_axis=int(concat_axis))


def axis_index(axis_name: Any) -> Any:
    """This device's index (int32) along mesh axis ``axis_name``."""
    axes = _axes(axis_name)
    return axis_index_p.bind(axes=axes, mesh=_mesh_in_scope("axis_index", axes))


# --- shard_map ---------------------------------------------------------------------------------

def _local_aval(a: AbstractArray, spec: PartitionSpec, mesh: Mesh, what: str) -> AbstractArray:
    s = NamedSharding(mesh, spec)
    s.check(a.shape, "shard_map", what)
    return AbstractArray(s.shard_shape(a.shape), a.dtype, a.weak)


def _global_aval(a: AbstractArray, spec: PartitionSpec, mesh: Mesh) -> AbstractArray:
    shape = list(a.shape)
    s = NamedSharding(mesh, spec)
    for d in range(min(len(spec), len(shape))):
        shape[d] *= s._factor(spec[d])
    return AbstractArray(tuple(shape), a.dtype)


def _sm_eval(*xs: AbstractArray, body: Any, mesh: Mesh, in_specs: tuple,
             out_specs: tuple) -> list[AbstractArray]:
    return [_global_aval(a, s, mesh) for a, s in zip(body.out_avals, out_specs)]


def _sm_ref(*xs: Any, **k: Any) -> Any:
    raise NotImplementedError("shard_map has no NumPy reference")


def _per_value(mesh: Mesh, specs: tuple, avals: Sequence[AbstractArray]) -> str:
    parts = [NamedSharding(mesh, s)._sdy(len(a.shape))[len("#sdy.sharding"):]
             for s, a in zip(specs, avals)]
    return "#sdy.sharding_per_value<[" + ", ".join(parts) + "]>"


def _sm_lowering(ctx: Any, *xs: Any, body: Any, mesh: Mesh, in_specs: tuple,
                 out_specs: tuple) -> list[Any]:
    cur = getattr(_lowering, "mesh", None)
    if cur is None or cur != mesh:
        raise _errors.err(_errors.ArgumentError, "shard_map",
                          f"xf.shard_map over {mesh!r} must run inside a program compiled with "
                          f"shardings over the same mesh (got {cur!r})",
                          "wrap the caller in xf.compile(..., in_shardings=NamedSharding(mesh, "
                          "...))")
    from xfront.lowering import lower_subgraph

    region = ctx.region(body.in_avals)
    outs = lower_subgraph(region.block, body, region.args, ctx.platform)
    region.block.ret(outs, op="sdy.return")
    axes = ", ".join(f'"{a}"' for a in mesh.axis_names)
    props = {"in_shardings": _per_value(mesh, in_specs, ctx.avals_in),
             "manual_axes": f"#sdy<manual_axes{{{axes}}}>",
             "out_shardings": _per_value(mesh, out_specs, ctx.avals_out)}
    return ctx.op("sdy.manual_computation", list(xs), props=props, regions=[region])


def _unnamed_axes(mesh: Mesh, spec: PartitionSpec) -> tuple[str, ...]:
    """The mesh axes ``spec`` does not name: a value with this spec is the same on every
    device of them."""
    return tuple(a for a in mesh.axis_names if a not in spec.axes())


def _sm_vjp(cts: list[Any], *xs: Any, out: list[Any], body: Any, mesh: Mesh, in_specs: tuple,
            out_specs: tuple) -> list[Any]:
    from xfront.prims.control import graph_vjp, is_differentiable, zeros

    n = len(xs)
    diff_in = [is_differentiable(a) for a in body.in_avals]
    diff_out = [is_differentiable(a) for a in body.out_avals]
    ct_in = [c if c is not None else zeros(o.aval) for c, o, d in zip(cts, out, diff_out) if d]

    def bwd(*args: Any) -> list[Any]:
        from xfront.prims import elementwise as ew

        it = iter(args[n:])
        full = [next(it) if d else None for d in diff_out]
        for j, spec in enumerate(out_specs):
            # an output the same on every device of some axes: each of those devices gets
            # ct / n (NOTE [Collective gradients])
            k = _size(mesh, _unnamed_axes(mesh, spec))
            if full[j] is not None and k > 1:
                full[j] = ew.div(full[j], ew.full_like(full[j], k))
        res = graph_vjp(body, list(args[:n]), full)
        out = []
        for r, a, d, spec in zip(res, body.in_avals, diff_in, in_specs):
            if not d:
                continue
            r = r if r is not None else zeros(a)
            # an input the same on every device of some axes: its gradient is the sum of the
            # devices' contributions (NOTE [Collective gradients])
            missing = _unnamed_axes(mesh, spec)
            if missing:
                r = psum_p.bind(r, axes=missing, mesh=mesh)
            out.append(r)
        return out

    specs_in = tuple(in_specs) + tuple(s for s, d in zip(out_specs, diff_out) if d)
    specs_out = tuple(s for s, d in zip(in_specs, diff_in) if d)
    res = iter(_shard_map_flat(bwd, mesh, specs_in, specs_out, list(xs) + ct_in))
    return [next(res) if d else None for d in diff_in]


shard_map_p = _core.Primitive("shard_map", abstract_eval=_sm_eval, ref=_sm_ref,
                              lowering=_sm_lowering, vjp=_sm_vjp, multiple_results=True,
                              doc="A per-device program over a mesh (sdy.manual_computation).")


def _aval_of(x: Any) -> AbstractArray:
    aval = getattr(x, "aval", None)
    if isinstance(aval, AbstractArray):
        return aval
    arr = np.asarray(x)
    return AbstractArray(arr.shape, dt.dtype(arr.dtype))


def _shard_map_flat(fn: Callable, mesh: Mesh, in_specs: tuple,
                    out_specs: tuple | PartitionSpec, args: list[Any]) -> list[Any]:
    """``fn`` traced once on the local blocks of ``args`` and bound as one shard_map; one
    PartitionSpec as ``out_specs`` applies to every output (counted by that trace)."""
    local = [_local_aval(_aval_of(a), s, mesh, f"argument {i}")
             for i, (a, s) in enumerate(zip(args, in_specs))]
    stack = getattr(_env, "stack", None)
    if stack is None:
        stack = _env.stack = []
    stack.append(mesh)
    try:
        graph, _, _ = _core.trace_graph(lambda *t: list(fn(*t)), local, name="shard_map_body")
    finally:
        stack.pop()
    if isinstance(out_specs, PartitionSpec):
        out_specs = (out_specs,) * len(graph.outs)
    if len(out_specs) != len(graph.outs):
        raise _errors.err(_errors.ArgumentError, "shard_map",
                          f"out_specs has {len(out_specs)} entries but the function returns "
                          f"{len(graph.outs)} arrays")
    consts = list(graph.consts)
    if consts:  # captured values enter the manual region as replicated operands
        body = _core.Graph(list(graph.constvars) + list(graph.invars), [], [], graph.eqns,
                           graph.outs, graph.name)
        in_specs = (PartitionSpec(),) * len(consts) + tuple(in_specs)
        args = consts + list(args)
    else:
        body = graph
    return shard_map_p.bind(*args, body=body, mesh=mesh, in_specs=tuple(in_specs),
                            out_specs=tuple(out_specs))


def _specs(spec: Any, n: int, what: str) -> tuple:
    if isinstance(spec, PartitionSpec):
        return (spec,) * n
    spec = tuple(spec)
    if len(spec) != n or not all(isinstance(s, PartitionSpec) for s in spec):
        raise _errors.err(_errors.ArgumentError, "shard_map",
                          f"{what} must be one PartitionSpec or one per array ({n}), got {spec}")
    return spec


def shard_map(f: Callable, *, mesh: Mesh, in_specs: Any, out_specs: Any) -> Callable:
    """``f`` run once per device of ``mesh`` on its blocks of the inputs (split by
    ``in_specs``), outputs assembled by ``out_specs``; use inside ``xf.compile`` with
    shardings over ``mesh``."""
    if not isinstance(mesh, Mesh):
        raise _errors.err(_errors.ArgumentError, "shard_map",
                          f"mesh must be an xfront.Mesh, got {type(mesh).__name__}")

    def wrapped(*args: Any) -> Any:
        leaves, in_tree = tree_flatten(args)
        ins = _specs(in_specs, len(leaves), "in_specs")
        for s in ins:
            NamedSharding(mesh, s)  # validates axis names
        tree_box: list[Any] = []

        def flat(*ts: Any) -> list[Any]:
            out = f(*tree_unflatten(in_tree, ts))
            ol, ot = tree_flatten(out)
            tree_box.append(ot)
            return ol

        if not _core._TRACE.stack:
            raise _errors.err(_errors.ArgumentError, "shard_map",
                              "xf.shard_map runs inside a program compiled with shardings",
                              "wrap the caller in xf.compile(..., in_shardings=...)")
        outs = out_specs if isinstance(out_specs, PartitionSpec) else \
            _specs(out_specs, len(out_specs), "out_specs")
        res = _shard_map_flat(flat, mesh, ins, outs, leaves)
        return tree_unflatten(tree_box[-1], res)

    wrapped.__name__ = getattr(f, "__name__", "shard_map")
    return wrapped
