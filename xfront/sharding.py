"""Beyond one device: meshes, shardings, global arrays and SPMD programs.

Imports: _array, _aval, _core, _device, _errors, _tree, lowering; the runtime adapter lazily.

The vocabulary is JAX's: a ``Mesh`` names the axes of an array of devices, a ``PartitionSpec``
(``P``) says which mesh axes split which array dimension, and a ``NamedSharding(mesh, spec)``
places a global array. ``device_put(x, sharding)`` splits a value over the mesh;
``compile(f, in_shardings=..., out_shardings=...)`` builds one program that XLA's SPMD
partitioner splits over the mesh's devices (NOTE [SPMD programs] in lowering/runtime.py), and
``shard(x, sharding)`` constrains an intermediate value inside such a program.

NOTE [Global arrays]
    A ``ShardedArray`` is an ``xfront.Array`` whose value is one global array of the runtime
    (one buffer per device). It takes part in every xfront operation: eager operations and
    single-device programs see its whole value gathered on its first device (``_buf``, made
    on first use and kept), so only programs compiled with shardings run distributed. NumPy,
    torch and TF inputs of such a program are split by its input shardings; results come back
    gathered into the caller's framework (NumPy, torch, TF) or as ``ShardedArray``s.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np

from xfront import _core, _errors
from xfront._array import Array
from xfront._aval import AbstractArray
from xfront._device import Device, devices as _devices
from xfront._dtypes import dtype as _dtype
from xfront._tree import tree_flatten, tree_unflatten
from xfront.bridges import framework_of
from xfront._rt import rt as _rt

__all__ = ["Mesh", "PartitionSpec", "P", "NamedSharding", "SingleDeviceSharding",
           "ShardedArray", "Shard", "device_put", "shard", "compile_sharded"]


# --- vocabulary ------------------------------------------------------------------------------

class PartitionSpec(tuple):
    """Per array dimension: None (not split), a mesh axis name, or a tuple of axis names."""

    def __new__(cls, *parts: Any) -> PartitionSpec:
        norm = []
        for p in parts:
            if p is None or isinstance(p, str):
                norm.append(p)
            elif isinstance(p, (tuple, list)) and all(isinstance(a, str) for a in p):
                norm.append(tuple(p) if len(p) != 1 else p[0])
            else:
                raise _errors.err(_errors.ArgumentError, "PartitionSpec",
                                  f"entry {p!r} is not None, a mesh axis name or a tuple of "
                                  "axis names")
        return super().__new__(cls, norm)

    def __repr__(self) -> str:
        return "P(" + ", ".join(repr(p) for p in self) + ")"

    def axes(self) -> list[str]:
        out: list[str] = []
        for p in self:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, tuple):
                out.extend(p)
        return out


P = PartitionSpec


class Mesh:
    """A named array of devices: ``Mesh(xf.devices()[:4], ('x',))`` or a 2-D device array with
    ``('data', 'model')``."""

    def __init__(self, devices: Any, axis_names: Sequence[str] | str):
        if isinstance(axis_names, str):
            axis_names = (axis_names,)
        axis_names = tuple(axis_names)
        arr = np.empty(np.shape(np.asarray(devices, dtype=object)), dtype=object)
        flat = list(np.asarray(devices, dtype=object).flat)
        for i, d in enumerate(flat):
            if not isinstance(d, Device):
                from xfront._device import get_device

                d = get_device(d)
            arr.flat[i] = d
        if arr.ndim != len(axis_names):
            raise _errors.err(_errors.ArgumentError, "Mesh",
                              f"{arr.ndim}-D devices {arr.shape} but {len(axis_names)} axis "
                              f"names {axis_names}",
                              "give one name per dimension of the device array")
        if len(set(axis_names)) != len(axis_names) or \
                not all(isinstance(a, str) and a for a in axis_names):
            raise _errors.err(_errors.ArgumentError, "Mesh",
                              f"axis names must be distinct non-empty strings, got {axis_names}")
        if len(set(arr.flat)) != arr.size or arr.size == 0:
            raise _errors.err(_errors.ArgumentError, "Mesh",
                              "devices must be distinct and at least one",
                              f"available: {[str(d) for d in _devices('cpu')]}")
        self.devices = arr
        self.axis_names = axis_names
        self.shape = dict(zip(axis_names, arr.shape))
        self._key = (axis_names, arr.shape, tuple(arr.flat))
        self._hash = hash(self._key)  # a mesh is immutable: hashed once (cache keys)
        self._jmesh: Any = None

    @property
    def size(self) -> int:
        return int(self.devices.size)

    def _rt_mesh(self) -> Any:
        if self._jmesh is None:
            rt_devs = np.empty(self.devices.shape, dtype=object)
            for i, d in enumerate(self.devices.flat):
                rt_devs.flat[i] = d.rt
            self._jmesh = _rt().jax_mesh(rt_devs, self.axis_names)
        return self._jmesh

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mesh) and other._key == self._key

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"Mesh({', '.join(f'{a}={n}' for a, n in self.shape.items())})"

    def _sdy(self) -> str:
        axes = ", ".join(f'"{a}"={n}' for a, n in self.shape.items())
        return f"sdy.mesh @mesh = <[{axes}]>"


class NamedSharding:
    """How a global array is laid out over ``mesh``: ``spec`` names the mesh axes that split
    each dimension (missing trailing entries mean "not split")."""

    def __init__(self, mesh: Mesh, spec: PartitionSpec | Sequence[Any] = PartitionSpec()):
        if not isinstance(mesh, Mesh):
            raise _errors.err(_errors.ArgumentError, "NamedSharding",
                              f"expected an xfront.Mesh, got {type(mesh).__name__}")
        if not isinstance(spec, PartitionSpec):
            spec = PartitionSpec(*spec)
        seen: set[str] = set()
        for a in spec.axes():
            if a not in mesh.shape:
                raise _errors.err(_errors.ArgumentError, "NamedSharding",
                                  f"{spec!r} names the axis {a!r}, which {mesh!r} does not have",
                                  f"use one of {list(mesh.axis_names)} or None")
            if a in seen:
                raise _errors.err(_errors.ArgumentError, "NamedSharding",
                                  f"{spec!r} uses the mesh axis {a!r} twice")
            seen.add(a)
        self.mesh = mesh
        self.spec = spec
        # equality ignores trailing None entries; computed once, as every call's cache lookup
        # and layout check hash and compare shardings
        self._key = (mesh, tuple(_strip(spec)))
        self._hash = hash(self._key)
        self._js: Any = None

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, NamedSharding) and other._key == self._key)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"NamedSharding({self.mesh!r}, {self.spec!r})"

    @property
    def is_fully_replicated(self) -> bool:
        return not self.spec.axes()

    @property
    def device_set(self) -> set[Device]:
        return set(self.mesh.devices.flat)

    def _factor(self, entry: Any) -> int:
        if entry is None:
            return 1
        names = (entry,) if isinstance(entry, str) else entry
        n = 1
        for a in names:
            n *= self.mesh.shape[a]
        return n

    def _factors(self, ndim: int) -> list[int]:
        return [self._factor(self.spec[d]) if d < len(self.spec) else 1 for d in range(ndim)]

    def check(self, shape: tuple[int, ...], op: str, what: str = "the array") -> None:
        """Raise ShapeError unless ``shape`` can be laid out by this sharding."""
        if len(self.spec) > len(shape):
            raise _errors.err(_errors.ShapeError, op,
                              f"{what} has shape {shape} ({len(shape)}-D) but {self.spec!r} "
                              f"has {len(self.spec)} entries",
                              "give at most one PartitionSpec entry per dimension")
        for d, entry in enumerate(self.spec):
            f = self._factor(entry)
            if shape[d] % f:
                raise _errors.err(_errors.ShapeError, op,
                                  f"{what} has shape {shape}: dimension {d} (size {shape[d]}) "
                                  f"is split over mesh axis {entry!r} of size {f} by "
                                  f"{self.spec!r}, which does not divide it",
                                  f"use a size that is a multiple of {f}, or do not split "
                                  f"dimension {d}")

    def shard_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        self.check(shape, "NamedSharding.shard_shape")
        out = list(shape)
        for d, entry in enumerate(self.spec):
            out[d] //= self._factor(entry)
        return tuple(out)

    def _rt_sharding(self) -> Any:
        if self._js is None:
            self._js = _rt().named_sharding(self.mesh._rt_mesh(), tuple(self.spec))
        return self._js

    def _sdy(self, ndim: int) -> str:
        dims = []
        for d in range(ndim):
            entry = self.spec[d] if d < len(self.spec) else None
            if entry is None:
                dims.append("{}")
            else:
                names = (entry,) if isinstance(entry, str) else entry
                dims.append("{" + ", ".join(f'"{a}"' for a in names) + "}")
        return f"#sdy.sharding<@mesh, [{', '.join(dims)}]>"


def _strip(spec: PartitionSpec) -> list[Any]:
    out = list(spec)
    while out and out[-1] is None:
        out.pop()
    return out


class SingleDeviceSharding:
    """The sharding of an ordinary (one-device) xfront array."""

    def __init__(self, device: Device):
        self.device = device
        self.is_fully_replicated = True

    @property
    def device_set(self) -> set[Device]:
        return {self.device}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SingleDeviceSharding) and other.device == self.device

    def __hash__(self) -> int:
        return hash(self.device)

    def __repr__(self) -> str:
        return f"SingleDeviceSharding({self.device})"


class Shard:
    """One device's part of an array: ``device``, ``index`` (a tuple of slices into the
    global array) and ``data`` (an xfront array on that device)."""

    __slots__ = ("device", "index", "data")

    def __init__(self, device: Device, index: tuple, data: Array):
        self.device = device
        self.index = index
        self.data = data

    def __repr__(self) -> str:
        return f"Shard(device={self.device}, index={self.index}, data={self.data.aval.short})"


_by_rt: dict[Any, Device] = {}


def _device_of(rt_dev: Any) -> Device:
    d = _by_rt.get(rt_dev)
    if d is None:
        for cand in _devices(_rt().device_platform(rt_dev)):
            _by_rt[cand.rt] = cand
        d = _by_rt[rt_dev]
    return d


# --- global arrays ---------------------------------------------------------------------------

class ShardedArray(Array):
    """An xfront array laid out over a mesh (NOTE [Global arrays])."""

    __slots__ = ("_gbuf", "_sharding", "_gathered")

    @classmethod
    def _wrap(cls, gbuf: Any, aval: AbstractArray, sharding: NamedSharding) -> ShardedArray:
        self = object.__new__(cls)
        self.aval = aval
        self._gbuf = gbuf
        self._sharding = sharding
        self._gathered = None
        self._device = sharding.mesh.devices.flat[0]
        self._owned = False
        return self

    @property  # type: ignore[override]
    def _buf(self) -> Any:  # the whole value on the first device, for single-device use
        g = self._gathered
        if g is None:
            g = self._gathered = _rt().gather_to(self._gbuf, self._device.rt)
        return g

    @_buf.setter
    def _buf(self, value: Any) -> None:
        self._gathered = value

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = _rt().gather(self._gbuf)
        if dtype is not None and np.dtype(dtype) != out.dtype:
            return out.astype(dtype)
        return out.copy() if copy else out

    def __repr__(self) -> str:
        return f"ShardedArray({np.asarray(self)!r}, sharding={self._sharding!r})"

    def __reduce__(self) -> tuple[Any, tuple]:
        return (_unpickle_sharded, (np.asarray(self), self._sharding.mesh.axis_names,
                                    [str(d) for d in self._sharding.mesh.devices.flat],
                                    self._sharding.mesh.devices.shape, tuple(self._sharding.spec)))

    def block_until_ready(self) -> ShardedArray:
        for _, _, b in _rt().global_shards(self._gbuf):
            _rt().block_until_ready(b)
        return self


def _unpickle_sharded(value: np.ndarray, axis_names: tuple, devs: list[str], shape: tuple,
                      spec: tuple) -> ShardedArray:
    from xfront._device import get_device

    mesh = Mesh(np.array([get_device(d) for d in devs], dtype=object).reshape(shape), axis_names)
    return device_put(value, NamedSharding(mesh, PartitionSpec(*spec)))


def _array_sharding(self: Array) -> Any:
    if isinstance(self, ShardedArray):
        return self._sharding
    if isinstance(self, _core.Tracer):
        raise _errors.err(_errors.ArgumentError, "Array.sharding",
                          "a traced value has no concrete sharding",
                          "use xf.shard(x, sharding) to constrain it inside a program")
    return SingleDeviceSharding(self._device)


def _array_shards(self: Array) -> list[Shard]:
    if isinstance(self, ShardedArray):
        out = []
        for rt_dev, index, buf in _rt().global_shards(self._gbuf):
            shape = tuple(len(range(*s.indices(n))) for s, n in zip(index, self.shape))
            aval = AbstractArray(shape, self.aval.dtype)
            out.append(Shard(_device_of(rt_dev), index,
                             Array._new(buf, aval, _device_of(rt_dev))))
        return out
    return [Shard(self._device, tuple(slice(None) for _ in self.shape), self)]


Array.sharding = property(_array_sharding)  # type: ignore[attr-defined]
Array.addressable_shards = property(_array_shards)  # type: ignore[attr-defined]


def _host_value(x: Any, op: str) -> np.ndarray:
    """The whole value of any array-like (xfront, NumPy, torch, TF, jax, scalars) on the host."""
    if isinstance(x, ShardedArray):
        return _rt().gather(x._gbuf)
    if isinstance(x, Array):
        return np.asarray(x)
    if isinstance(x, np.ndarray):
        return x
    if getattr(x, "requires_grad", False):  # a torch tensor recorded by autograd
        raise _errors.err(_errors.ArgumentError, op,
                          "a torch tensor that requires grad reached a sharded program; "
                          "gradients through torch autograd are not supported there yet",
                          "compute gradients inside with xf.grad, or pass x.detach()")
    from xfront import asarray

    return np.asarray(asarray(x))


def _check_addressable(sharding: NamedSharding, op: str) -> None:
    if _rt().process_count() > 1:
        raise _errors.err(_errors.ArgumentError, op,
                          "this process holds only part of a multi-process mesh, so it cannot "
                          "split a whole value over it",
                          "use xf.make_array_from_process_local_data(sharding, local_part)")


def device_put(x: Any, sharding: Any) -> Array:
    """``x`` laid out by ``sharding`` (a NamedSharding), or moved to one device (a Device,
    a device name or a SingleDeviceSharding)."""
    if isinstance(sharding, SingleDeviceSharding):
        sharding = sharding.device
    if not isinstance(sharding, NamedSharding):
        from xfront import asarray
        from xfront._device import get_device

        dev = get_device(sharding)
        if isinstance(x, ShardedArray):
            return asarray(_rt().gather(x._gbuf), device=dev)
        return asarray(x, device=dev) if not isinstance(x, Array) else x.to_device(dev)
    if isinstance(x, _core.Tracer):
        return shard(x, sharding)
    if isinstance(x, ShardedArray) and x._sharding == sharding:
        return x
    host = _host_value(x, "device_put")
    aval = AbstractArray(tuple(host.shape), _dtype(host.dtype))
    sharding.check(aval.shape, "device_put", f"the {aval.short} array")
    if sharding.is_fully_replicated and _rt().process_count() > 1:  # every process has it all
        return ShardedArray._wrap(_rt().global_from_local(
            sharding._rt_sharding(), host, sharding._factors(len(aval.shape)), aval.shape),
            aval, sharding)
    _check_addressable(sharding, "device_put")
    return ShardedArray._wrap(_rt().put_global(host, sharding._rt_sharding()), aval, sharding)


def make_array_from_process_local_data(sharding: NamedSharding, local_data: Any,
                                       global_shape: Sequence[int] | None = None) -> Array:
    """A global array from each process's part ``local_data`` (every process calls this with
    its own part; single-process, the part is the whole value)."""
    if not isinstance(sharding, NamedSharding):
        raise _errors.err(_errors.ArgumentError, "make_array_from_process_local_data",
                          f"expected a NamedSharding, got {type(sharding).__name__}")
    host = np.ascontiguousarray(_host_value(local_data, "make_array_from_process_local_data"))
    try:
        g = _rt().global_from_local(sharding._rt_sharding(), host, sharding._factors(host.ndim),
                                    None if global_shape is None else tuple(global_shape))
    except (_errors.XfrontError, ValueError) as e:
        raise _errors.err(_errors.ShapeError, "make_array_from_process_local_data",
                          f"the local part {host.shape} does not fit {sharding!r} with global "
                          f"shape {global_shape}: {e}") from None
    aval = AbstractArray(tuple(g.shape), _dtype(host.dtype))
    return ShardedArray._wrap(g, aval, sharding)


# --- sharding constraints inside programs ----------------------------------------------------

_lowering = threading.local()  # .mesh: the mesh of the SPMD program being lowered


def _constraint_abstract_eval(x: AbstractArray, *, sharding: NamedSharding) -> AbstractArray:
    sharding.check(x.shape, "shard", f"the {x.short} value")
    return x


def _constraint_lowering(ctx: Any, x: Any, *, sharding: NamedSharding) -> list[Any]:
    mesh = getattr(_lowering, "mesh", None)
    if mesh is None:  # a one-device program: the layout has no meaning there
        return [x]
    if mesh != sharding.mesh:
        raise _errors.err(_errors.ArgumentError, "shard",
                          f"xf.shard uses {sharding.mesh!r} but the program is partitioned over "
                          f"{mesh!r}", "use the mesh of the program's in_shardings")
    return [ctx.op1("sdy.sharding_constraint", [x],
                    props={"sharding": sharding._sdy(len(ctx.avals_in[0].shape))})]


def _constraint_vjp(ct: Any, x: Any, *, out: Any, sharding: NamedSharding) -> list[Any]:
    return [sharding_constraint_p.bind(ct, sharding=sharding)]


sharding_constraint_p = _core.Primitive(
    "sharding_constraint", abstract_eval=_constraint_abstract_eval,
    ref=lambda x, *, sharding: x, lowering=_constraint_lowering, vjp=_constraint_vjp,
    doc="The identity, with a layout for the SPMD partitioner (xf.shard).")


def shard(x: Any, sharding: NamedSharding) -> Any:
    """Inside a program compiled with shardings: lay ``x`` out by ``sharding`` (a constraint
    for XLA's partitioner; the value is unchanged). Outside a program: ``device_put``."""
    if not isinstance(sharding, NamedSharding):
        raise _errors.err(_errors.ArgumentError, "shard",
                          f"expected a NamedSharding, got {type(sharding).__name__}")
    if isinstance(x, _core.Tracer):
        return sharding_constraint_p.bind(x, sharding=sharding)
    return device_put(x, sharding)


# --- SPMD programs ---------------------------------------------------------------------------

def _expand(spec: Any, treedef: Any, n: int, what: str, fn_name: str) -> list[Any]:
    """One sharding (or None) per flattened leaf of ``treedef`` from one sharding (for all),
    or a tuple/list matching ``treedef``'s children (one entry per argument or result)."""
    if spec is None or isinstance(spec, NamedSharding):
        return [spec] * n
    if isinstance(spec, (tuple, list)) and treedef is not None and treedef.kind != "leaf" \
            and len(treedef.children) == len(spec):
        out: list[Any] = []
        for s, k in zip(spec, treedef.children):
            out.extend(_expand(s, k, k.num_leaves, what, fn_name))
        return out
    raise _errors.err(_errors.ArgumentError, "compile",
                      f"{what} of `{fn_name}` ({spec!r}) do not match its "
                      f"{'arguments' if what == 'in_shardings' else 'results'} ({n} arrays)",
                      "give one NamedSharding, one per argument/result, or None")


class ShardedFunction:
    """``xf.compile(f, in_shardings=..., out_shardings=...)``: ``f`` as one SPMD program."""

    def __init__(self, fn: Callable, in_shardings: Any, out_shardings: Any,
                 returns: str | None = None):
        from xfront._compile import CompiledFunction

        self._inner = CompiledFunction(fn)
        self._returns = returns
        self._fn = fn
        self.__name__ = getattr(fn, "__name__", "fn")
        self._in = in_shardings
        self._out = out_shardings
        self._cache: dict[Any, Any] = {}
        self._lock = threading.Lock()
        self.compiles = 0
        self.__wrapped__ = fn

    def __repr__(self) -> str:
        return f"<xfront sharded compiled function {self.__name__}>"

    # -- staging
    def _mesh(self, shardings: list[Any]) -> Mesh:
        meshes = {s.mesh for s in shardings if s is not None}
        if len(meshes) > 1:
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"the shardings of `{self.__name__}` use different meshes: "
                              f"{sorted(map(repr, meshes))}", "use one mesh per program")
        if not meshes:
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"`{self.__name__}` was given no NamedSharding",
                              "pass in_shardings or out_shardings with a NamedSharding")
        return next(iter(meshes))

    def _stage(self, args: tuple) -> tuple:
        leaves, treedef = tree_flatten(args)
        avals = []
        hosts: list[Any] = []  # the host value of each leaf that is not an xfront array
        for i, x in enumerate(leaves):
            h = None
            if isinstance(x, Array):
                avals.append(x.aval)
            elif isinstance(x, AbstractArray):
                avals.append(x)
            else:
                h = np.asarray(x) if isinstance(x, (np.ndarray, np.generic, int, float, bool,
                                                    complex)) else _host_value(x, "compile")
                avals.append(AbstractArray(tuple(h.shape), _dtype(h.dtype)))
            hosts.append(h)
        in_sh = _expand(self._in, treedef, len(leaves), "in_shardings", self.__name__)
        return leaves, treedef, avals, in_sh, hosts

    def _build(self, args: tuple, avals: list[AbstractArray], in_sh: list[Any]) -> dict:
        abstract = tree_unflatten(tree_flatten(args)[1], avals)
        traced = self._inner.trace(*abstract)
        graph = traced.graph
        out_avals = [a.strong() for a in graph.out_avals]
        out_sh = _expand(self._out, traced.out_tree, len(out_avals), "out_shardings",
                         self.__name__)
        mesh = self._mesh([s for s in in_sh + out_sh if s is not None]
                          + _constraint_shardings(graph))
        repl = NamedSharding(mesh, PartitionSpec())
        in_sh = [s or repl for s in in_sh]
        out_sh = [s or repl for s in out_sh]
        for i, (s, a) in enumerate(zip(in_sh, avals)):
            s.check(a.shape, "compile", f"argument {i} ({a.short}) of `{self.__name__}`")
        for i, (s, a) in enumerate(zip(out_sh, out_avals)):
            s.check(a.shape, "compile", f"result {i} ({a.short}) of `{self.__name__}`")
        ncon = len(graph.constvars)
        all_in = [repl] * ncon + in_sh
        spmd = {"arg_attrs": [{"sdy.sharding": s._sdy(len(a.shape))}
                              for s, a in zip(all_in, [v.aval for v in graph.constvars]
                                              + [v.aval for v in graph.invars])],
                "res_attrs": [{"sdy.sharding": s._sdy(len(a.shape))}
                              for s, a in zip(out_sh, out_avals)],
                "num_partitions": mesh.size, "preamble": [mesh._sdy()]}
        from xfront.lowering import lower_graph

        platform = mesh.devices.flat[0].platform
        _lowering.mesh = mesh
        try:
            lowered = lower_graph(graph, platform=platform, spmd=spmd, name="main")
        finally:
            _lowering.mesh = None
        return {"lowered": lowered, "graph": graph, "mesh": mesh, "in_sh": in_sh,
                "out_sh": out_sh, "consts_sh": [repl] * ncon, "out_tree": traced.out_tree,
                "out_avals": out_avals, "exe": None, "runs": {}}

    def lower(self, *args: Any) -> Any:
        """The partitioned program's StableHLO (``.as_text()`` shows the sharding
        annotations)."""
        leaves, treedef, avals, in_sh, _ = self._stage(args)
        return self._build(args, avals, in_sh)["lowered"]

    def _entry(self, args: tuple, leaves: list[Any], treedef: Any, avals: list[AbstractArray],
               in_sh: list[Any]) -> dict:
        key = (treedef, tuple(avals), tuple(in_sh))
        e = self._cache.get(key)
        if e is None:
            with self._lock:
                e = self._cache.get(key)
                if e is None:
                    e = self._build(args, avals, in_sh)
                    lw = e["lowered"]
                    rt = _rt()
                    e["exe"] = rt.compile_spmd(
                        lw.text, [d.rt for d in e["mesh"].devices.flat],
                        [s._rt_sharding() for s in e["consts_sh"] + e["in_sh"]],
                        [s._rt_sharding() for s in e["out_sh"]], lw.in_avals, e["out_avals"],
                        self.__name__)
                    e["consts"] = [device_put(_host_value(c, "compile"), s)._gbuf
                                   for c, s in zip(e["graph"].consts, e["consts_sh"])]
                    self._cache[key] = e
                    self.compiles += 1
        return e

    def __call__(self, *args: Any, returns: str | None = None) -> Any:
        if _core._TRACE.stack:  # inside another trace: inline
            return self._fn(*args)
        leaves, treedef, avals, in_sh, hosts = self._stage(args)
        e = self._entry(args, leaves, treedef, avals, in_sh)
        frameworks = set()
        bufs = []  # the arguments; the run puts the program's constants in front
        for i, (x, s) in enumerate(zip(leaves, e["in_sh"])):
            if isinstance(x, ShardedArray):
                frameworks.add("xfront")
                if x._sharding != s:
                    raise _errors.err(
                        _errors.ArgumentError, "compile",
                        f"argument {i} ({x.aval.short}) of `{self.__name__}` is laid out as "
                        f"{x._sharding!r} but the program expects {s!r}",
                        "pass xf.device_put(x, sharding) with the expected sharding")
                bufs.append(x._gbuf)
                continue
            frameworks.add(_framework(x))
            # a foreign leaf's host value was made once, by _stage
            bufs.append(device_put(x if hosts[i] is None else hosts[i], s)._gbuf)
        exe = e["exe"]
        bad = exe.mismatched(bufs, len(e["consts"]))
        if bad is not None:  # NOTE [SPMD programs]: never execute with a wrong layout
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"argument {bad} of `{self.__name__}` does not have the "
                              "compiled input sharding",
                              "pass xf.device_put(x, sharding) with the expected sharding")
        mode = returns or self._returns or \
            (next(iter(frameworks)) if len(frameworks) == 1 else "xfront")
        run = e["runs"].get(mode)
        if run is None:
            run = e["runs"][mode] = _run(e, mode)
        return run(bufs)


def _run(e: dict, mode: str) -> Any:
    """The program's run (NOTE [The one run] in lowering/runtime.py) for results returned
    as ``mode``: the constants first, each result a ``ShardedArray`` or gathered into the
    framework, in the tree of the function's results."""
    out_tree = e["out_tree"]

    def wrap_for(aval: AbstractArray, sharding: NamedSharding) -> Callable[[Any], Any]:
        if mode == "xfront":
            return lambda b: ShardedArray._wrap(b, aval, sharding)
        return lambda b: _to_framework(ShardedArray._wrap(b, aval, sharding), mode)

    return _rt().runner(e["exe"].execute, e["consts"],
                        [wrap_for(a, s) for a, s in zip(e["out_avals"], e["out_sh"])],
                        lambda vals: tree_unflatten(out_tree, vals))


def _constraint_shardings(graph: Any) -> list[NamedSharding]:
    out = []
    for eqn in graph.eqns:
        if eqn.prim is sharding_constraint_p:
            out.append(eqn.params["sharding"])
        for v in eqn.params.values():
            if isinstance(v, Mesh):  # shard_map and collectives
                out.append(NamedSharding(v, PartitionSpec()))
            if isinstance(v, _core.Graph):
                out.extend(_constraint_shardings(v))
    return out


def _framework(x: Any) -> str:
    """The framework whose arrays the results come back as (the bridges' own answer, by type);
    "xfront" for xfront arrays, scalars and generic DLPack objects."""
    f = framework_of(x)
    return f if f in ("numpy", "torch", "tensorflow", "jax") else "xfront"


def _to_framework(v: ShardedArray, mode: str) -> Any:
    host = _rt().gather(v._gbuf)
    if mode == "numpy":
        return np.array(host)
    if mode == "torch":
        import torch

        return torch.from_numpy(np.array(host))
    if mode == "tensorflow":
        import tensorflow as tf

        return tf.convert_to_tensor(np.array(host))
    if mode == "jax":
        import jax.numpy as jnp

        return jnp.asarray(host)
    return v


def compile_sharded(fn: Callable, in_shardings: Any = None, out_shardings: Any = None, *,
                    returns: str | None = None) -> ShardedFunction:
    return ShardedFunction(fn, in_shardings, out_shardings, returns)
