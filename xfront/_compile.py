"""``xfront.compile`` and ``xfront.trace``: trace once per abstract signature, lower to
StableHLO, compile with PJRT, cache, execute.

Imports: _core, _tree, _array, _aval, _dtypes, _errors, _device, _eager, lowering, bridges.

Staged API (as in JAX): ``f.trace(*args) -> Traced`` (``.graph``), ``f.lower(*args) ->
Lowered`` (``.as_text()``), and calling ``f(*args)`` does all stages with a cache keyed by
(pytree structure, leaf avals, static argument values, device).

NOTE [Which framework do outputs come back in?]
    If every array input comes from one framework (NumPy, torch, TensorFlow, JAX or xfront),
    outputs are returned in that framework. Python scalars do not count. With no array inputs,
    or inputs from several frameworks, outputs are xfront arrays. ``returns=`` overrides this
    ('xfront', 'numpy', 'torch', 'tensorflow', 'jax').
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._array import Array
from xfront._aval import AbstractArray
from xfront._device import Device, get_device
from xfront._eager import Program, compile_lowered
from xfront._tree import TreeDef, tree_flatten, tree_flatten_with_path, tree_unflatten
from xfront.lowering import Lowered, lower_graph


class RecompileWarning(UserWarning):
    """A compiled function keeps being recompiled for new shapes/dtypes."""


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    compiles: int
    entries: int


_RETURNS = ("xfront", "numpy", "torch", "tensorflow", "jax")


class _LazyRuntime:
    """The runtime adapter module, imported on first use (keeps ``import xfront`` light)."""

    def __getattr__(self, name: str) -> Any:
        from xfront.lowering import runtime

        globals()["_RT"] = runtime
        return getattr(runtime, name)


_RT: Any = _LazyRuntime()


def _rt():
    from xfront.lowering import runtime

    return runtime


# --- leaf classification ---------------------------------------------------------------------

_WEAK_PY = {bool: AbstractArray((), dt.bool_, True), int: AbstractArray((), dt.int64, True),
            float: AbstractArray((), dt.float64, True),
            complex: AbstractArray((), dt.complex128, True)}


def _leaf_aval(x: Any, path_fn: Callable[[], str]) -> tuple[Any, str]:
    """(aval or Array, framework) for one dynamic leaf; raises for non-array leaves."""
    t = type(x)
    if t is Array:
        return x, "xfront"
    if t in _WEAK_PY:
        if t is int and not -(2 ** 63) <= x < 2 ** 63:
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"argument {path_fn()} is the Python int {x}, which does not fit "
                              "int64", "pass it as a static argument or an array")
        return _WEAK_PY[t], "python"
    if t is np.ndarray or isinstance(x, np.generic):
        try:
            d = dt.dtype(x.dtype)
        except TypeError as e:
            raise _errors.err(_errors.DTypeError, "compile",
                              f"argument {path_fn()} has an unsupported dtype: {e}") from None
        return AbstractArray(tuple(x.shape), d), "numpy"
    if isinstance(x, Array):  # subclasses (tracers are handled before we get here)
        return x, "xfront"
    from xfront.bridges import framework_of, import_foreign

    fw = framework_of(x)
    arr = import_foreign(x, op="compile") if fw is not None else None
    if arr is None:
        raise _errors.err(
            _errors.ArgumentError, "compile",
            f"argument {path_fn()} is a {type(x).__name__}, which is not an array",
            "array arguments must be xfront/NumPy/torch/TF/JAX arrays or Python scalars; "
            "mark other arguments static (static_argnums / static_argnames)")
    return arr, fw


class Traced:
    """The graph of a function for one abstract signature (``print(traced)`` shows it)."""

    def __init__(self, graph: _core.Graph, in_tree: TreeDef, out_tree: TreeDef,
                 device: Device | None, donate: tuple[int, ...]):
        self.graph = graph
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.device = device
        self.donate = donate

    def lower(self, platform: str | None = None) -> Lowered:
        if platform is None:
            platform = (self.device or get_device(None)).platform
        return lower_graph(self.graph, platform=platform, donate=self.donate)

    def __str__(self) -> str:
        return str(self.graph)

    def __repr__(self) -> str:
        return repr(self.graph)


class _Entry:
    __slots__ = ("exe", "const_bufs", "out_tree", "out_avals", "traced", "n_in", "device",
                 "single_out")

    def __init__(self, exe: Any, const_bufs: list[Any], traced: Traced):
        self.exe = exe  # a Program: .run(bufs) executes (using recycled output buffers)
        self.const_bufs = const_bufs
        self.out_tree = traced.out_tree
        self.out_avals = [a.strong() for a in traced.graph.out_avals]
        self.traced = traced
        self.n_in = len(traced.graph.invars)
        self.device = traced.device
        self.single_out = traced.out_tree.kind == "leaf"

    def wrap_xfront(self, outs: list[Any]) -> Any:
        dev = self.device
        if self.single_out:
            return Array._new(outs[0], self.out_avals[0], dev, True)
        return tree_unflatten(self.out_tree,
                              [Array._new(b, a, dev, True) for b, a in zip(outs, self.out_avals)])


class CompiledFunction:
    """A function compiled by xfront (see ``xfront.compile``)."""

    def __init__(self, fn: Callable, *, static_argnums: int | Sequence[int] = (),
                 static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
                 device: Any = None, returns: str | None = None):
        if not callable(fn):
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"expected a function, got {type(fn).__name__}")
        functools.update_wrapper(self, fn)
        self._fn = fn
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        try:
            self._sig: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):
            self._sig = None
        params = list(self._sig.parameters.values()) if self._sig else []
        positional = [p.name for p in params
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        nums_set = set(nums)
        names_set = set(names)
        for n in names:  # a static name that is also a position
            if n in positional:
                nums_set.add(positional.index(n))
        for i in nums:
            if i < 0 or (self._sig and i >= len(positional)
                         and not any(p.kind == p.VAR_POSITIONAL for p in params)):
                raise _errors.err(_errors.ArgumentError, "compile",
                                  f"static_argnums contains {i}, but `{fn.__name__}` has "
                                  f"{len(positional)} positional parameters")
            if i < len(positional):
                names_set.add(positional[i])
        self._static_nums = frozenset(nums_set)
        self._static_names = frozenset(names_set)
        self._donate = (donate_argnums,) if isinstance(donate_argnums, int) else tuple(donate_argnums)
        self._device = None if device is None else get_device(device)
        if returns is not None:
            returns = {"tf": "tensorflow", "np": "numpy", "xf": "xfront"}.get(returns, returns)
            if returns not in _RETURNS:
                raise _errors.err(_errors.ArgumentError, "compile",
                                  f"returns={returns!r} is not one of {', '.join(_RETURNS)}")
        self._returns = returns
        self._cache: dict[Any, _Entry] = {}
        # fast path: positional xfront-array arguments only -> entry, keyed by their avals
        self._fast: dict[tuple, _Entry] = {}
        # fast path: positional NumPy-array arguments only -> (entry, leaf avals)
        self._fast_np: dict[tuple, tuple[_Entry, list[AbstractArray]]] = {}
        self._fast_ok = not (self._static_nums or self._static_names or returns not in (
            None, "xfront"))
        self._hits = 0
        self._misses = 0
        self._compiles = 0
        self._last_sig: tuple[Any, list[tuple[str, Any]]] | None = None
        self._warn_after = int(os.environ.get("XFRONT_RECOMPILE_WARN", "4"))

    def __repr__(self) -> str:
        return f"<xfront.compile of {getattr(self._fn, '__qualname__', self._fn)}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    # --- argument handling ---------------------------------------------------------------
    def _split(self, args: tuple, kwargs: dict) -> tuple[Any, Any]:
        if self._static_nums or self._static_names:
            dyn_args = tuple(a for i, a in enumerate(args) if i not in self._static_nums)
            st_args = tuple((i, a) for i, a in enumerate(args) if i in self._static_nums)
            dyn_kw = {k: v for k, v in kwargs.items() if k not in self._static_names}
            st_kw = tuple(sorted((k, v) for k, v in kwargs.items() if k in self._static_names))
            statics = (st_args, st_kw)
            try:
                hash(statics)
            except TypeError:
                bad = [f"#{i}" for i, a in st_args if not _hashable(a)]
                bad += [k for k, v in st_kw if not _hashable(v)]
                raise _errors.err(_errors.ArgumentError, "compile",
                                  f"static argument(s) {', '.join(bad)} of `{self.__name__}` "
                                  "must be hashable", "use tuples instead of lists") from None
        else:
            dyn_args, dyn_kw, statics = args, kwargs, None
        return (dyn_args, dyn_kw), statics

    def _merge(self, dyn: Any, statics: Any) -> tuple[tuple, dict]:
        dyn_args, dyn_kw = dyn
        if statics is None:
            return tuple(dyn_args), dict(dyn_kw)
        st_args, st_kw = statics
        st = dict(st_args)
        it = iter(dyn_args)
        args = []
        n = len(dyn_args) + len(st_args)
        for i in range(n):
            args.append(st[i] if i in st else next(it))
        kwargs = dict(dyn_kw)
        kwargs.update(st_kw)
        return tuple(args), kwargs

    def _flatten_inputs(self, args: tuple, kwargs: dict):
        dyn, statics = self._split(args, kwargs)
        leaves, treedef = tree_flatten(dyn)
        items = []
        frameworks = set()
        dev = self._device
        for i, leaf in enumerate(leaves):
            v, fw = _leaf_aval(leaf, lambda i=i: _leaf_path(dyn, i))
            items.append(v)
            if fw != "python":
                frameworks.add(fw)
            if isinstance(v, Array):
                if dev is None:
                    dev = v._device
                elif v._device != dev and self._device is None:
                    raise _errors.err(_errors.DeviceError, "compile",
                                      f"arguments of `{self.__name__}` are on different devices: "
                                      f"{dev} and {v._device}",
                                      "move them first with x.to_device(...)")
        return dyn, statics, leaves, treedef, items, frameworks, dev

    # --- staging -------------------------------------------------------------------------
    def _trace(self, dyn: Any, statics: Any, treedef: TreeDef, avals: list[AbstractArray],
               device: Device) -> Traced:
        out_tree_box: list[TreeDef] = []

        def flat_fn(*tracers: Any) -> list[Any]:
            d = tree_unflatten(treedef, tracers)
            args, kwargs = self._merge(d, statics)
            out = self._fn(*args, **kwargs)
            out_leaves, out_tree = tree_flatten(out)
            for path, leaf in tree_flatten_with_path(out):
                if not (isinstance(leaf, (Array, np.ndarray, np.generic))
                        or type(leaf) in _WEAK_PY):
                    raise _errors.err(
                        _errors.ArgumentError, "compile",
                        f"`{self.__name__}` returned a {type(leaf).__name__} at output{path}, "
                        "which is not an array", "return arrays (or pytrees of arrays) only")
            out_tree_box.append(out_tree)
            return [leaf if not isinstance(leaf, (bool, int, float, complex)) or
                    isinstance(leaf, np.generic) else np.asarray(leaf) for leaf in out_leaves]

        graph, _, _ = _core.trace_graph(flat_fn, avals, name=self.__name__)
        donate = self._donated_leaves(dyn, statics)
        ncon = len(graph.constvars)
        return Traced(graph, treedef, out_tree_box[0], device, tuple(ncon + i for i in donate))

    def _donated_leaves(self, dyn: Any, statics: Any) -> list[int]:
        if not self._donate:
            return []
        dyn_args, dyn_kw = dyn
        st_nums = sorted(i for i, _ in statics[0]) if statics else []
        # map positional arg index -> index among dynamic args
        out = []
        offset = 0
        dyn_i = 0
        total = len(dyn_args) + len(st_nums)
        for i in range(total):
            if i in st_nums:
                continue
            n = len(tree_flatten(dyn_args[dyn_i])[0])
            if i in self._donate:
                out.extend(range(offset, offset + n))
            offset += n
            dyn_i += 1
        return out

    def _abstract(self, args: tuple, kwargs: dict):
        dyn, statics, leaves, treedef, items, frameworks, dev = self._flatten_inputs(args, kwargs)
        avals = [v.aval if isinstance(v, Array) else v for v in items]
        return dyn, statics, treedef, avals, dev

    def trace(self, *args: Any, **kwargs: Any) -> Traced:
        """Trace for these arguments' abstract signature; ``.graph`` holds the IR."""
        dyn, statics, treedef, avals, dev = self._abstract(args, kwargs)
        return self._trace(dyn, statics, treedef, avals, dev)

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """Trace and lower; ``.as_text()`` gives the StableHLO module."""
        return self.trace(*args, **kwargs).lower()

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, self._compiles, len(self._cache))

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast.clear()
        self._fast_np.clear()
        self._last_sig = None

    # --- call ------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # noqa: C901
        if _core._STACK:  # called inside another trace: inline
            return self._fn(*args, **kwargs)
        if self._fast_ok and not kwargs and args:
            # hot path: every argument is a concrete xfront Array on one device
            first = args[0]
            if type(first) is Array:
                dev = first._device
                key = []
                for a in args:
                    if type(a) is not Array or a._device is not dev:
                        break
                    key.append(a.aval)
                else:
                    entry = self._fast.get(tuple(key))
                    if entry is not None and entry.device is dev:
                        self._hits += 1
                        bufs = entry.const_bufs + [a._buf for a in args]
                        return entry.wrap_xfront(entry.exe.run(bufs))
            elif type(first) is np.ndarray and self._returns is None:
                hit = self._fast_np.get(tuple([(a.shape, a.dtype) if type(a) is np.ndarray
                                               else None for a in args]))
                if hit is not None:
                    entry, avals = hit
                    self._hits += 1
                    put = _RT.put
                    rdev = entry.device.rt
                    # NumPy memory is aliased for the duration of the call (we wait for results)
                    bufs = entry.const_bufs + [put(a, rdev, copy=False, aval=v)
                                               for a, v in zip(args, avals)]
                    outs = [_RT.to_numpy_owned(b) for b in entry.exe.run(bufs)]
                    return outs[0] if entry.single_out else tree_unflatten(entry.out_tree, outs)
        dyn, statics, leaves, treedef, items, frameworks, dev = self._flatten_inputs(args, kwargs)
        if dev is None:
            dev = get_device(None)
        avals = [v.aval if isinstance(v, Array) else v for v in items]
        key = (treedef, tuple(avals), statics, dev)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._miss(key, dyn, statics, treedef, avals, dev)
        else:
            self._hits += 1
        numpy_out = self._returns == "numpy" or (self._returns is None
                                                and frameworks == {"numpy"})
        rt = _rt()
        bufs = list(entry.const_bufs)
        for leaf, v in zip(leaves, items):
            if isinstance(v, Array):
                if v._device != dev:
                    v = v.to_device(dev)
                bufs.append(v._buf)
            else:
                arr = leaf if isinstance(leaf, np.ndarray) else np.asarray(leaf, dtype=v.dtype.np)
                # NumPy memory may be aliased for the call only when we wait for the results
                bufs.append(rt.put(arr, dev.rt, copy=not numpy_out, aval=v))
        outs = entry.exe.run(bufs)
        return self._wrap(entry, outs, frameworks, dev)

    def _check_arity(self, dyn: Any, statics: Any) -> None:
        if self._sig is None:
            return
        args, kwargs = self._merge(dyn, statics)
        try:
            self._sig.bind(*args, **kwargs)
        except TypeError as e:
            params = ", ".join(str(p) for p in self._sig.parameters.values())
            n = len(args)
            raise _errors.err(
                _errors.ArgumentError, "compile",
                f"`{self.__name__}` takes ({params}) but was called with {n} positional "
                f"argument{'s' if n != 1 else ''}" + (f" and keywords {sorted(kwargs)}"
                                                      if kwargs else "") + f": {e}") from None

    def _miss(self, key: Any, dyn: Any, statics: Any, treedef: TreeDef,
              avals: list[AbstractArray], dev: Device) -> _Entry:
        self._misses += 1
        self._check_arity(dyn, statics)
        traced = self._trace(dyn, statics, treedef, avals, dev)
        lowered = traced.lower()
        from xfront._eager import STATS

        before = STATS.compiles
        exe = Program(compile_lowered(lowered, dev), traced.graph, dev, traced.donate,
                      [a.strong() for a in traced.graph.out_avals])
        if STATS.compiles > before:
            self._compiles += 1
        rt = _rt()
        const_bufs = []
        for c in traced.graph.consts:
            if isinstance(c, Array):
                const_bufs.append(c._buf if c._device == dev else c.to_device(dev)._buf)
            else:
                const_bufs.append(rt.put(np.asarray(c), dev.rt, copy=True))
        entry = _Entry(exe, const_bufs, traced)
        self._cache[key] = entry
        if (self._fast_ok and statics is None and not dyn[1] and treedef.children
                and all(c.kind == "leaf" for c in treedef.children[0].children)
                and all(isinstance(a, AbstractArray) and not a.weak for a in avals)
                and len(treedef.children[0].children) == len(avals)):
            self._fast[tuple(avals)] = entry
            if all(type(x) is np.ndarray for x in dyn[0]):
                self._fast_np[tuple((x.shape, x.dtype) for x in dyn[0])] = (entry, list(avals))
        self._note_recompile(dyn, avals, statics)
        return entry

    def _note_recompile(self, dyn: Any, avals: list[AbstractArray], statics: Any) -> None:
        paths = [p for p, _ in tree_flatten_with_path(dyn)]
        sig = list(zip(paths, avals))
        prev = self._last_sig
        self._last_sig = (statics, sig)
        if prev is None or self._misses <= self._warn_after:
            return
        changes = []
        prev_statics, prev_sig = prev
        prev_map = dict(prev_sig)
        for p, a in sig:
            b = prev_map.get(p)
            if b is None:
                changes.append(f"{_pretty_path(p)}: new argument {a.short}")
            elif b != a:
                changes.append(f"{_pretty_path(p)}: {b.short} -> {a.short}")
        if prev_statics != statics:
            changes.append("static arguments changed")
        if len(prev_sig) != len(sig) and not changes:
            changes.append("the argument structure changed")
        warnings.warn(
            f"xfront.compile: `{self.__name__}` was recompiled {self._misses} times; "
            f"this call changed {'; '.join(changes) or 'the signature'}. "
            "Pad inputs to a few fixed shapes or mark non-array arguments static.",
            RecompileWarning, stacklevel=4)

    def _wrap(self, entry: _Entry, outs: list[Any], frameworks: set[str], dev: Device) -> Any:
        mode = self._returns
        if mode is None:
            mode = next(iter(frameworks)) if len(frameworks) == 1 else "xfront"
        if mode == "xfront":
            vals = [Array._new(b, a, dev, True) for b, a in zip(outs, entry.out_avals)]
        elif mode == "numpy":
            rt = _rt()
            vals = [rt.to_numpy_owned(b) for b in outs]
        else:
            from xfront.bridges import export

            vals = [export(Array._new(b, a, dev), mode) for b, a in zip(outs, entry.out_avals)]
        return tree_unflatten(entry.out_tree, vals)


def _hashable(x: Any) -> bool:
    try:
        hash(x)
        return True
    except TypeError:
        return False


def _leaf_path(dyn: Any, i: int) -> str:
    paths = tree_flatten_with_path(dyn)
    return _pretty_path(paths[i][0]) if i < len(paths) else f"#{i}"


def _pretty_path(p: str) -> str:
    # dyn is (args, kwargs): "[0][2]['w']" -> "args[2]['w']", "[1]['x']" -> "kwargs['x']"
    if p.startswith("[0]"):
        return "args" + p[3:]
    if p.startswith("[1]"):
        return "kwargs" + p[3:]
    return p


def compile(fn: Callable | None = None, *, static_argnums: int | Sequence[int] = (),  # noqa: A001
            static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
            device: Any = None, returns: str | None = None) -> Any:
    """Compile ``fn`` with XLA: trace per abstract signature, lower to StableHLO, cache.

    Usable as ``@xfront.compile``, ``@xfront.compile(static_argnums=...)`` or
    ``xfront.compile(fn, ...)``.

    Args:
      static_argnums / static_argnames: arguments that are Python values baked into the
        program (hashable; a new value retraces).
      donate_argnums: positional arguments whose xfront buffers XLA may reuse for outputs; a
        donated xfront array cannot be used afterwards.
      device: where to run ('cpu', 'gpu', a Device); default: the inputs' device.
      returns: output framework override (see NOTE [Which framework do outputs come back in?]).
    """
    def wrap(f: Callable) -> CompiledFunction:
        return CompiledFunction(f, static_argnums=static_argnums, static_argnames=static_argnames,
                                donate_argnums=donate_argnums, device=device, returns=returns)

    return wrap if fn is None else wrap(fn)


def trace(fn: Callable, *, static_argnums: int | Sequence[int] = (),
          static_argnames: str | Sequence[str] = ()) -> Callable[..., _core.Graph]:
    """``xfront.trace(f)(*args)`` returns the graph of ``f`` for these arguments."""
    cf = CompiledFunction(fn, static_argnums=static_argnums, static_argnames=static_argnames)

    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> _core.Graph:
        return cf.trace(*args, **kwargs).graph

    return traced
