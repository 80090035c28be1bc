"""Eager execution: run one primitive now, through the same lowering as compiled code.

Imports: _core, _array, _aval, _dtypes, _errors, _device, _once, bridges._dlpack, lowering; the
runtime lazily.

Each (primitive, params, input avals, device) signature is lowered and compiled once into a
tiny executable and cached; later calls only execute. Compiled programs of every kind share
one fingerprint cache (``compile_lowered``), so two identical graphs compile once.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any, Sequence

import numpy as np

from xfront import _core, _dtypes, _errors
from xfront._array import Array, poolable
from xfront._aval import AbstractArray
from xfront._device import Device, default_device
from xfront._once import SingleFlight
from xfront.bridges._dlpack import BorrowedArray
from xfront.lowering import Lowered, lower_graph
from xfront._rt import rt as _rt


class _Stats:
    __slots__ = ("compiles", "fingerprint_hits")

    def __init__(self) -> None:
        self.compiles = 0
        self.fingerprint_hits = 0


STATS = _Stats()
_by_fingerprint: dict[tuple[str, Device], Any] = {}
# NOTE [Single-flight caches] in xfront/_once.py: one build per key across threads
_FLIGHTS = SingleFlight()
_stats_lock = threading.Lock()


_LOC = re.compile(r' loc\("(?:[^"\\]|\\.)*"\)')


def fingerprint(text: str) -> str:
    """Hash of a module's text without source locations (they do not change the program)."""
    return hashlib.sha256(_LOC.sub("", text).encode()).hexdigest()[:24]


def compile_lowered(lowered: Lowered, device: Device) -> Any:
    """Compile (or reuse) the executable for a lowered module on ``device``."""
    return compile_lowered_counted(lowered, device)[0]


def compile_lowered_counted(lowered: Lowered, device: Device) -> tuple[Any, bool]:
    """``(executable, compiled)``: ``compiled`` is True when this call ran the XLA compile
    (False when the executable came from the fingerprint cache, or from another thread's
    compile of the same module)."""
    fp = fingerprint(lowered.text)
    key = (fp, device)
    exe = _by_fingerprint.get(key)
    if exe is None:
        exe, built = _FLIGHTS.get(_by_fingerprint, key, lambda: _rt().compile(
            lowered.text, device.rt, lowered.in_avals, lowered.out_avals, fingerprint=fp,
            name=lowered.graph.name))
    else:
        built = False
    with _stats_lock:
        if built:
            STATS.compiles += 1
        else:
            STATS.fingerprint_hits += 1
    return exe, built


class Program:
    """A compiled graph plus, lazily, its pool-fed variant (see NOTE [Output buffer pool] in
    xfront.lowering.runtime): ``run`` writes large outputs into recycled buffers when the pool
    has one for each of them, and lets XLA allocate otherwise."""

    __slots__ = ("exe", "graph", "device", "donate", "out_avals", "pool_keys", "pool_outs",
                 "_donor_exe", "run", "wraps", "_call_run")

    def __init__(self, exe: Any, graph: _core.Graph, device: Device, donate: tuple[int, ...],
                 out_avals: list[AbstractArray]):
        self.exe = exe
        self.graph = graph
        self.device = device
        self.donate = donate
        self.out_avals = out_avals
        rt = _rt()
        self.pool_outs = [i for i, a in enumerate(out_avals)
                          if a.size * a.dtype.itemsize >= rt.POOL_MIN_BYTES] \
            if rt.POOL_ENABLED and device.platform == "cpu" else []
        self.pool_keys = [rt.BufferPool.key(device.rt, out_avals[i].strong())
                          for i in self.pool_outs]
        self._donor_exe: Any = None
        # ``run(bufs) -> output buffers``: straight to the executable when no output is large
        self.run = self._run_pooled if self.pool_keys else exe.execute
        # one xfront-array wrapper per output (NOTE [The one run] in xfront.lowering.runtime)
        self.wraps = [array_wrapper(a, device, p) for a, p in zip(out_avals, self.out_pool)]
        self._call_run = rt.runner(self.run, (), self.wraps, list)

    def runner(self, const_bufs: Sequence[Any], unflatten: Any = None) -> Any:
        """``run(arg_bufs)``: this program on device buffers, returning xfront arrays (the one
        run of NOTE [The one run] in xfront.lowering.runtime, with ``const_bufs`` bound)."""
        return _rt().runner(self.run, const_bufs, self.wraps, unflatten)

    def _run_pooled(self, bufs: list[Any]) -> list[Any]:
        if self.pool_keys:
            donors = _rt().POOL.take(self.pool_keys)
            if donors is not None:
                exe = self._donor_exe or self._compile_donor()
                return exe.execute(bufs + donors)
        return self.exe.execute(bufs)

    def call(self, const_bufs: list[Any], arrays: Sequence[Array], op: str) -> list[Array]:
        """Load constants, execute on xfront ``arrays``, wrap the outputs as xfront arrays.

        Autodiff programs run through here; compiled calls and eager ops bind their own
        runners (``runner``): all of them are the runtime's one run (NOTE [The one run] in
        xfront.lowering.runtime). Only after a failure is a consumed argument looked for
        (``raise_if_consumed``).
        """
        dev = self.device
        try:
            return self._call_run(list(const_bufs) + [
                (a if a._device == dev else a.to_device(dev))._buf for a in arrays])
        except Exception:
            raise_if_consumed(op, list(arrays),
                              lambda i: f"input {i} ({arrays[i].aval.short}) of the "
                                        f"{self.graph.name} program")
            raise

    @property
    def out_pool(self) -> list[bool]:
        return [poolable(a) for a in self.out_avals]

    def lower_variant(self, alias_outputs: dict[int, int],
                      extra_args: Sequence[AbstractArray]) -> Lowered:
        """This program's module with ``extra_args`` appended, argument ``k`` of
        ``alias_outputs`` aliased to output ``alias_outputs[k]`` (the pool-fed variant)."""
        return lower_graph(self.graph, platform=self.device.platform, donate=self.donate,
                           alias_outputs=alias_outputs, extra_args=extra_args)

    def _compile_donor(self) -> Any:
        """The pool-fed variant: one extra argument per pooled output, donated into it."""
        n = len(self.graph.constvars) + len(self.graph.invars)
        lowered = self.lower_variant({n + j: i for j, i in enumerate(self.pool_outs)},
                                     [self.out_avals[i] for i in self.pool_outs])
        self._donor_exe = compile_lowered(lowered, self.device)
        return self._donor_exe


def array_wrapper(aval: AbstractArray, dev: Device, owned: bool) -> Any:
    """``wrap(buf) -> Array`` for one output type: ``Array._new`` without the call (a bare
    ``object.__new__`` and four slot stores). ``wrap.array_slots`` holds what the four stores
    write, so that the runtime's run can build a single result in its own frame (NOTE [The
    one run] in xfront.lowering.runtime)."""
    new = object.__new__

    def wrap(buf: Any) -> Array:
        a = new(Array)
        a.aval = aval
        a._buf = buf
        a._device = dev
        a._owned = owned
        return a
    wrap.array_slots = (Array, aval, dev, owned)  # type: ignore[attr-defined]
    return wrap


def load_consts(consts: Sequence[Any], dev: Device) -> list[Any]:
    """Device buffers for a graph's constants (captured xfront arrays, NumPy arrays) on ``dev``."""
    rt = _rt()
    bufs = []
    for c in consts:
        if isinstance(c, Array):
            bufs.append(c._buf if c._device == dev else c.to_device(dev)._buf)
        else:
            bufs.append(rt.put(np.asarray(c), dev.rt, copy=True))
    return bufs


def clear_executable_cache() -> None:
    _by_fingerprint.clear()
    _eager_cache.clear()


# --- eager primitive application -------------------------------------------------------------

_eager_cache: dict[tuple, tuple[Any, Device]] = {}


def common_device(op: str, arrays: Sequence[Any]) -> Device | None:
    dev = None
    for a in arrays:
        if isinstance(a, Array) and a._device is not None:
            if dev is None:
                dev = a._device
            elif a._device is not dev and a._device != dev:
                raise _errors.err(
                    _errors.DeviceError, op,
                    f"arrays on different devices were combined: {dev} and {a._device}",
                    "move them first with x.to_device(...)")
    return dev


def _build_eager(prim: _core.Primitive, params: dict[str, Any], avals: list[AbstractArray],
                 dev: Device) -> tuple[Any, Device]:
    def one(*xs: Any):
        out = prim.bind(*xs, **params)
        return out if prim.multiple_results else [out]

    graph, _, _ = _core.trace_graph(one, avals, name=prim.name)
    lowered = lower_graph(graph, platform=dev.platform)
    out_avals = [a.strong() for a in graph.out_avals]
    program = Program(compile_lowered(lowered, dev), graph, dev, (), out_avals)
    return program.runner((), list if prim.multiple_results else None), dev


def eager_apply(prim: _core.Primitive, args: Sequence[Any], params: dict[str, Any]):
    # NOTE: one pass over the arguments finds the common device (as ``common_device``) and
    # collects the buffers when every argument is an xfront array (the usual eager op); only
    # host values (NumPy arrays, scalars) take a second pass, once the device is known
    dev = None
    bufs = []
    avals = []
    borrowed = False  # NOTE [Borrowed memory] in xfront/bridges/_dlpack.py
    host = False
    for a in args:
        if isinstance(a, Array):
            d = a._device
            if d is not dev and d is not None:
                if dev is None:
                    dev = d
                elif d != dev:
                    common_device(prim.name, args)  # raises the DeviceError
            bufs.append(a._buf)
            avals.append(a.aval)
            borrowed = borrowed or type(a) is BorrowedArray
        else:
            host = True
    if dev is None:
        dev = default_device()
    if host:
        bufs = []
        avals = []
        for a in args:
            if isinstance(a, Array):
                bufs.append(a._buf)
                avals.append(a.aval)
            else:
                arr = np.asarray(a)
                d = _dtypes.dtype(arr.dtype)
                bufs.append(_rt().put(arr, dev.rt, copy=False))  # aliased for this op only
                avals.append(AbstractArray(arr.shape, d))
                borrowed = borrowed or arr is a
    key = (prim, tuple(sorted(params.items())) if params else (), tuple(avals), dev)
    try:
        entry = _eager_cache.get(key)
    except TypeError:
        raise AssertionError(f"internal: params of primitive {prim.name} are not hashable: "
                             f"{params!r}") from None
    if entry is None:
        entry = _FLIGHTS.get(_eager_cache, key,
                             lambda: _build_eager(prim, params, avals, dev))[0]
    run, dev = entry
    try:
        out = run(bufs)
    except Exception:
        raise_if_consumed(prim.name, args, lambda i: f"argument {i} ({_errors.short(args[i])})")
        raise
    if borrowed:  # the caller may write that memory as soon as we return
        _rt().block_all([a._buf for a in out] if prim.multiple_results else [out._buf])
    return out


_core.set_eager_apply(eager_apply)


def raise_if_consumed(op: str, values: Sequence[Any], name_of: Any) -> None:
    """After a failed execution: raise the ArgumentError for the first consumed array among
    ``values`` (``name_of(i)`` names the i-th), if any (NOTE [Consumed arrays] in
    xfront/_array.py)."""
    from xfront._array import consumed_error

    for i, v in enumerate(values):
        if isinstance(v, Array):
            e = consumed_error(v._buf, op, "?")
            if e is not None:
                raise consumed_error(v._buf, op, name_of(i)) from None


def array_from_numpy(x: np.ndarray, device: Device | None = None, *, copy: bool = True) -> Array:
    """An xfront Array holding NumPy data (copied unless copy=False)."""
    dev = device or default_device()
    d = _dtypes.dtype(x.dtype)
    buf = _rt().put(x, dev.rt, copy=copy)
    return Array._new(buf, AbstractArray(tuple(x.shape), d), dev)
