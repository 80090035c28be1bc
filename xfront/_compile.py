"""``xfront.compile`` and ``xfront.trace``: trace once per abstract signature, lower to
StableHLO, compile with PJRT, cache, execute.

Imports: _core, _tree, _array, _aval, _dtypes, _errors, _device, _eager, lowering, bridges.

Staged API (as in JAX): ``f.trace(*args) -> Traced`` (``.graph``), ``f.lower(*args) ->
Lowered`` (``.as_text()``), and calling ``f(*args)`` does all stages with a cache keyed by
(pytree structure, leaf avals, static argument values, device).

NOTE [Which framework do outputs come back in?]
    If every array input comes from one framework (NumPy, torch, TensorFlow, JAX or xfront),
    outputs are returned in that framework. Python scalars do not count. With no array inputs,
    or inputs from several frameworks, outputs are xfront arrays (never a guess).
    ``returns=`` overrides this ('xfront', 'numpy', 'torch', 'tensorflow', 'jax'). Outputs leave
    without a copy: they are fresh buffers that no xfront array holds (see NOTE [Exporting an
    immutable buffer to a mutable framework] in xfront/bridges/_dlpack.py).

NOTE [The call path]
    ``__call__`` is the hot path: per argument one type test (a dict lookup for foreign types,
    cached per type), per output one export. NumPy arguments are aliased for the duration of the
    call (no copy when 64-byte aligned); whenever an argument borrowed caller memory that can be
    written in place (NumPy, torch) and the results stay asynchronous (xfront or jax outputs),
    the call waits for its results before returning (NOTE [Borrowed memory] in
    xfront/bridges/_dlpack.py). Three routes leave it early: under ``torch.compile`` the call
    becomes the ``xfront::call`` custom op (xfront/bridges/torch.py); with symbolic TF tensors
    (inside ``tf.function``) it becomes an XlaCallModule op (xfront/bridges/tensorflow.py); and
    with inputs that torch autograd or a TF GradientTape records, it becomes one op of that
    framework's autograd, backed by xfront's VJP (NOTE [Gradients through framework autograd]
    in xfront/bridges/_autograd.py). A call without recorded inputs never pays for gradients.

    Per-signature fast paths skip the general flattening for positional xfront arrays, NumPy
    arrays and CPU torch tensors. Each is entered on the first call of its kind (the three
    share one cache entry per signature) and declines anything it cannot take as it is (a
    recorded, non-row-major or conjugated tensor, a large misaligned one): the general path
    then runs, so the fast paths change speed, never results. Each runs the runtime's one run
    bound once per signature (NOTE [The one run] in xfront.lowering.runtime): xfront arrays
    through ``_Entry.xf_run``; small NumPy arrays and CPU tensors (any layout) are copied into
    the run's staging buffers instead of imported (NOTE [Small host inputs], same file), which
    is what brings a tiny call from NumPy or torch near the cost of one from xfront arrays.
    Two-argument calls first compare with the last hit of their table: xfront arrays by the
    identity of their avals (a program's outputs share one aval object, so a loop on its own
    results hits), NumPy arrays by dtype identity and shape equality; anything else, and any
    miss, takes the table lookup, so the shortcut never changes which entry serves a call
    (``entry.device`` is still checked). It saves the key's tuples and hashes (AbstractArray's
    hash is a Python method), about 0.1 us a call.
    The general path, the large-input NumPy and torch paths and calls that donate take the
    same run, bound once per (offsets variant, output framework) in ``_Entry.runs``, with
    what differs between calls (staged inputs, donated arguments, the wait for borrowed
    memory) passed as data (NOTE [Per-call pieces of the run] in xfront.lowering.runtime).
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
import warnings
import weakref
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from xfront import _core, _errors, _offsets
from xfront import _dtypes as dt
from xfront._array import Array, mark_donated, poolable
from xfront._aval import AbstractArray
from xfront._device import Device, get_device
from xfront._eager import Program, array_wrapper, compile_lowered_counted, load_consts
from xfront._once import SingleFlight
from xfront._tree import TreeDef, tree_flatten, tree_flatten_with_path, tree_unflatten
from xfront.bridges import adapter_for_type, adapter_named
from xfront.bridges._dlpack import (BorrowedArray, NeedsAutograd, NeedsGraphCall, export_buffer,
                                    note_borrowed_import,
                                    import_array)
from xfront.lowering import Lowered, lower_graph
from xfront._rt import rt as _rt

_TRACE = _core._TRACE  # the per-thread trace state (one lookup less on the call path)


class RecompileWarning(UserWarning):
    """A compiled function keeps being recompiled for new shapes/dtypes."""


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    compiles: int
    entries: int
    disk_hits: int = 0  # executables loaded from the persistent compile cache


_RETURNS = ("xfront", "numpy", "torch", "tensorflow", "jax")


# --- leaf classification ---------------------------------------------------------------------

_WEAK_PY = {bool: AbstractArray((), dt.bool_, True), int: AbstractArray((), dt.int64, True),
            float: AbstractArray((), dt.float64, True),
            complex: AbstractArray((), dt.complex128, True)}


def weak_scalar_aval(x: Any) -> AbstractArray | None:
    """The weak aval of a Python scalar argument (None for anything else)."""
    return _WEAK_PY.get(type(x))


# Types known to be array leaves (never pytree nodes): calls whose positional arguments all
# have such types, and no keyword arguments, skip the general pytree flattening.
_NO_FAST = object()  # a fast path declined the call: take the general path
_LEAF_TYPES: set[type] = {Array, BorrowedArray, np.ndarray, bool, int, float, complex}
_ARGS_TREEDEFS: dict[int, TreeDef] = {}


def _flatten_args(dyn: tuple) -> tuple[list[Any], TreeDef]:
    args, kwargs = dyn
    if not kwargs:
        for a in args:
            if type(a) not in _LEAF_TYPES:
                break
        else:
            n = len(args)
            td = _ARGS_TREEDEFS.get(n)
            if td is None:
                td = _ARGS_TREEDEFS[n] = _intern(tree_flatten((tuple(range(n)), {}))[1])
            return list(args), td
    leaves, td = tree_flatten(dyn)
    return leaves, _intern(td)


_TREEDEFS: dict[TreeDef, TreeDef] = {}


def _intern(td: TreeDef) -> TreeDef:
    # one object per structure: cache-key comparisons then stop at the identity check
    if len(_TREEDEFS) > 4096:
        _TREEDEFS.clear()
    return _TREEDEFS.setdefault(td, td)


def _foreign_leaf(x: Any, dyn: Any, i: int, abstract_ok: bool) -> tuple[Any, str]:
    """(Array or aval, framework) for a leaf that is not an Array/Python scalar/ndarray."""
    if isinstance(x, np.generic):
        _LEAF_TYPES.add(type(x))
        try:
            d = dt.dtype(x.dtype)
        except TypeError as e:
            raise _errors.err(_errors.DTypeError, "compile",
                              f"argument {_leaf_path(dyn, i)} has an unsupported dtype: "
                              f"{e}") from None
        return AbstractArray((), d), "numpy"
    if isinstance(x, Array):  # BorrowedArray and other subclasses
        return x, "xfront"
    if abstract_ok and type(x) is AbstractArray:
        return x, "abstract"
    if abstract_ok and type(x).__name__ == "Spec" and type(x).__module__ == "xfront._export":
        return x.aval, "abstract"
    ad = adapter_for_type(type(x))
    if ad is None:
        raise _errors.err(
            _errors.ArgumentError, "compile",
            f"argument {_leaf_path(dyn, i)} is a {type(x).__name__}, which is not an array",
            "array arguments must be xfront/NumPy/torch/TF/JAX arrays or Python scalars; "
            "mark other arguments static (static_argnums / static_argnames)")
    if ad.name == "numpy":  # ndarray subclasses
        arr = np.asarray(x)
        return AbstractArray(arr.shape, ad.host_array(arr, "compile")[1]), "numpy"
    view = ad.staging_view(x)
    if view is not None:  # staged like a NumPy argument (the caller swaps the leaf)
        _LEAF_TYPES.add(type(x))
        return view, ad.name
    out = import_array(x, ad, "compile")
    _LEAF_TYPES.add(type(x))
    return out, ad.name


def _leaf_aval(x: Any, path_fn: Callable[[], str]) -> tuple[Any, str]:
    """(Array or aval, framework) for one argument leaf outside ``compile``'s call path (used
    by the autodiff entry points); 'python' marks weak Python scalars."""
    t = type(x)
    if t is Array:
        return x, "xfront"
    if t in _WEAK_PY:
        if t is int and not -(2 ** 63) <= x < 2 ** 63:
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"argument {path_fn()} is the Python int {x}, which does not fit "
                              "int64", "pass it as a static argument or an array")
        return _WEAK_PY[t], "python"
    if t is np.ndarray:
        try:
            return AbstractArray(x.shape, dt.dtype(x.dtype)), "numpy"
        except TypeError as e:
            raise _errors.err(_errors.DTypeError, "compile",
                              f"argument {path_fn()} has an unsupported dtype: {e}") from None
    try:
        return _foreign_leaf(x, ((x,), {}), 0, False)
    except NeedsAutograd as e:  # xf.vjp & co. do not record on a framework's autograd
        raise e.adapter.autograd_error(x, "vjp") from None


# --- hooks installed by the torch bridge (NOTE [xfront functions inside torch.compile]) --------

_torch_compiling: Callable[[], bool] | None = None
_torch_graph_call: Callable[..., Any] | None = None
_BY_KEY: weakref.WeakValueDictionary[str, CompiledFunction] = weakref.WeakValueDictionary()


def set_torch_graph_hook(is_compiling: Callable[[], bool], graph_call: Callable[..., Any]) -> None:
    global _torch_compiling, _torch_graph_call
    _torch_graph_call = graph_call
    _torch_compiling = is_compiling


def function_by_key(key: str) -> CompiledFunction:
    return _BY_KEY[key]


def _exclude_from_autograph() -> None:
    global _autograph_done
    if not _autograph_done:
        from xfront.bridges import tensorflow as _tf_bridge

        _tf_bridge.exclude_from_autograph()
        _autograph_done = True


_autograph_done = False


def _install_torch_hook() -> None:
    from xfront.bridges import torch as _torch_bridge

    _torch_bridge.install_compile_hook()


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
                 "single_out", "out_pool", "from_below", "variants", "xf_run", "runs",
                 "fast_shape")

    def __init__(self, exe: Program, const_bufs: list[Any], traced: Traced,
                 out_avals: list[AbstractArray] | None = None):
        self.exe = exe  # .run(bufs) executes, writing large outputs into recycled buffers
        self.const_bufs = const_bufs
        self.out_tree = traced.out_tree
        # (concrete ``out_avals`` when ``traced`` is polymorphic)
        self.out_avals = [a.strong() for a in (out_avals or traced.graph.out_avals)]
        self.traced = traced
        self.n_in = len(traced.graph.invars)
        self.device = traced.device
        self.single_out = traced.out_tree.kind == "leaf"
        self.out_pool = [poolable(a) for a in self.out_avals]
        # misaligned large host inputs imported from below (NOTE in xfront/_offsets.py)
        self.from_below = out_avals is None and _offsets.eligible(traced.graph, exe.donate,
                                                                  traced.device.platform)
        self.variants: dict[tuple[int, ...], Any] = {}
        # the run for xfront arrays (NOTE [The one run] in xfront.lowering.runtime); calls that
        # donate take the general steps (they mark their donated arguments)
        self.xf_run = None if exe.donate else exe.runner(const_bufs, self.unflatten())
        # the runs of the general call paths, per (offsets, output framework): NOTE [Per-call
        # pieces of the run] in xfront.lowering.runtime
        self.runs: dict[tuple[Any, str], Any] = {}
        # whether the signature (flat positional arrays, no weak scalars) can take a fast path
        # at all: fixed by the cache key, so decided once (None: not yet)
        self.fast_shape: bool | None = None

    def unflatten(self) -> Any:
        """None for a single array result, else ``outs -> result tree``."""
        if self.single_out:
            return None
        tree = self.out_tree
        return lambda outs: tree_unflatten(tree, outs)


class _PolyProgram(Program):
    """The program of a polymorphic entry: its variants (the pool-fed one) are lowered from
    the refined module of its concrete shapes, never from its symbolic graph."""

    __slots__ = ("_lower",)

    def __init__(self, exe: Any, graph: _core.Graph, device: Device, donate: tuple[int, ...],
                 out_avals: list[AbstractArray], lower: Callable[..., Lowered]):
        super().__init__(exe, graph, device, donate, out_avals)
        self._lower = lower

    def lower_variant(self, alias_outputs: dict[int, int],
                      extra_args: Sequence[AbstractArray]) -> Lowered:
        return self._lower(alias_outputs=alias_outputs, extra_args=extra_args)


class CompiledFunction:
    """A function compiled by xfront (see ``xfront.compile``)."""

    def __init__(self, fn: Callable, *, static_argnums: int | Sequence[int] = (),
                 static_argnames: str | Sequence[str] = (), donate_argnums: int | Sequence[int] = (),
                 device: Any = None, returns: str | None = None, polymorphic: Any = None):
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
        # NOTE [Polymorphic compile] in xfront/_spec.py
        self._poly: tuple[Any, ...] | dict[str, Any] | None = None
        if polymorphic is not None:
            from xfront import _spec

            if isinstance(polymorphic, dict):
                _spec.check_poly_specs(polymorphic)
                self._poly = dict(polymorphic)  # type: ignore[assignment]
            else:
                if isinstance(polymorphic, str) or not isinstance(polymorphic, (tuple, list)):
                    polymorphic = (polymorphic,)
                _spec.check_poly_specs(tuple(polymorphic))
                self._poly = tuple(polymorphic)
            self._positional = positional
        self._poly_cache: dict[Any, tuple[Traced, Lowered]] = {}
        self._op = "compile"  # the public function errors name (grad, jvp... set their own)
        self._cache: dict[Any, _Entry] = {}
        self._grad_plans: dict[Any, Any] = {}  # autograd route (bridges/_autograd.py)
        # fast paths (NOTE [The call path]): positional xfront arrays on one device, keyed by
        # their avals; positional NumPy arrays, keyed by (shape, dtype)
        self._fast: dict[tuple, _Entry] = {}
        # the last two-argument hit of _fast: (aval, aval, entry). Arrays of one program's
        # output share that output's aval object, so a loop's calls mostly find their
        # signature by identity, without hashing the avals (NOTE [The call path])
        self._last2: tuple[Any, Any, _Entry | None] = (None, None, None)
        # the last two-argument hit of _fast_np: (shape, dtype, shape, dtype, hit)
        self._last_np2: tuple[Any, ...] = (None,) * 5
        self._fast_np: dict[tuple, tuple[_Entry, list[AbstractArray], Any]] = {}
        # positional CPU torch tensors, keyed by (shape, torch dtype); _torch_type is torch's
        # Tensor class once a call registered one (this module never imports torch)
        self._fast_torch: dict[tuple, tuple[_Entry, Any]] = {}
        self._torch_type: Any = None
        self._torch_strided: Any = None
        self._fast_ok = not (self._static_nums or self._static_names)
        self._fast_xf = self._fast_ok and returns in (None, "xfront")
        # NOTE [Exact cache counts under threads]: misses and compiles change under _lock (a
        # miss is rare); a hit is ``self._hits += 1`` on the hot path, which under the GIL no
        # other thread can interleave: no instruction between the load and the store calls
        # Python code or checks for a thread switch (an int allocation never triggers the
        # cyclic GC), so concurrent hits are all counted.
        self._hits = 0
        self._misses = 0
        self._compiles = 0
        self._disk_hits = 0
        self._lock = threading.Lock()
        self._flights = SingleFlight()  # NOTE [Single-flight caches] in xfront/_once.py
        self._last_sig: tuple[Any, list[tuple[str, Any]]] | None = None
        self._warn_after = int(os.environ.get("XFRONT_RECOMPILE_WARN", "4"))
        self._key = f"{getattr(fn, '__qualname__', 'fn')}@{id(self):x}"
        _BY_KEY[self._key] = self
        if _torch_graph_call is None and "torch" in sys.modules:
            _install_torch_hook()  # so that torch.compile can stage calls (no graph break)
        if "tensorflow" in sys.modules:
            _exclude_from_autograph()  # tf.function must not rewrite xfront's own code

    def __repr__(self) -> str:
        return f"<xfront.compile of {getattr(self._fn, '__qualname__', self._fn)}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        return functools.partial(self, obj)

    # --- argument handling ---------------------------------------------------------------
    def _split(self, args: tuple, kwargs: dict) -> tuple[Any, Any]:
        if self._static_nums or self._static_names:
            return self._split_statics(args, kwargs, self._static_nums, self._static_names,
                                       "compile")
        return (args, kwargs), None

    def _split_statics(self, args: tuple, kwargs: dict, nums: Any, names: Any,
                       op: str) -> tuple[Any, Any]:
        """((dynamic args, dynamic kwargs), statics) for positions ``nums`` and names ``names``;
        statics must be hashable (they are part of the cache key)."""
        dyn_args = tuple(a for i, a in enumerate(args) if i not in nums)
        st_args = tuple((i, a) for i, a in enumerate(args) if i in nums)
        dyn_kw = {k: v for k, v in kwargs.items() if k not in names}
        st_kw = tuple(sorted((k, v) for k, v in kwargs.items() if k in names))
        statics = (st_args, st_kw)
        try:
            hash(statics)
        except TypeError:
            bad = [f"#{i}" for i, a in st_args if not _hashable(a)]
            bad += [k for k, v in st_kw if not _hashable(v)]
            raise _errors.err(_errors.ArgumentError, op,
                              f"static argument(s) {', '.join(bad)} of `{self.__name__}` "
                              "must be hashable", "use tuples instead of lists") from None
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

    def _flatten_inputs(self, args: tuple, kwargs: dict, abstract_ok: bool = False):
        dyn, statics = self._split(args, kwargs)
        leaves, treedef = _flatten_args(dyn)
        items: list[Any] = []
        frameworks = set()
        dev = self._device
        borrowed = False
        for i, leaf in enumerate(leaves):
            t = type(leaf)
            if t is Array:
                v, fw = leaf, "xfront"
            elif t in _WEAK_PY:
                if t is int and not -(2 ** 63) <= leaf < 2 ** 63:
                    raise _errors.err(_errors.ArgumentError, "compile",
                                      f"argument {_leaf_path(dyn, i)} is the Python int {leaf}, "
                                      "which does not fit int64",
                                      "pass it as a static argument or an array")
                items.append(_WEAK_PY[t])
                continue
            elif t is np.ndarray:
                d = _NP_DTYPES.get(leaf.dtype) or _np_dtype(leaf, dyn, i)
                items.append(AbstractArray(leaf.shape, d))
                frameworks.add("numpy")
                continue
            else:
                v, fw = _foreign_leaf(leaf, dyn, i, abstract_ok)
                if type(v) is np.ndarray:  # a view of a framework's memory, staged per call
                    leaves[i] = v
                    items.append(AbstractArray(v.shape, _NP_DTYPES.get(v.dtype)
                                               or _np_dtype(v, dyn, i)))
                    frameworks.add(fw)
                    continue
                if not isinstance(v, Array):
                    items.append(v)
                    frameworks.add(fw)
                    continue
                if type(v) is BorrowedArray:
                    borrowed = True
            items.append(v)
            frameworks.add(fw)
            if dev is None:
                dev = v._device
            elif v._device is not dev and v._device != dev and self._device is None:
                raise _errors.err(_errors.DeviceError, "compile",
                                  f"arguments of `{self.__name__}` are on different devices: "
                                  f"{dev} and {v._device}",
                                  "move them first with x.to_device(...)")
        return dyn, statics, leaves, treedef, items, frameworks, dev, borrowed

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
        try:
            dyn, statics, leaves, treedef, items, frameworks, dev, _ = self._flatten_inputs(
                args, kwargs, abstract_ok=True)
        except NeedsAutograd as e:  # tracing needs no gradients: read the values untracked
            with e.adapter.untracked():
                return self._abstract(args, kwargs)
        avals = [v.aval if isinstance(v, Array) else v for v in items]
        if self._poly is not None:
            avals = self._poly_avals(dyn, statics, treedef, avals)[0]
        return dyn, statics, treedef, avals, dev

    def _poly_avals(self, dyn: Any, statics: Any, treedef: TreeDef,
                    avals: list[AbstractArray]) -> tuple[list[AbstractArray], dict[str, int]]:
        """Symbolic avals of a call under ``polymorphic=`` (NOTE [Polymorphic compile])."""
        from xfront import _shapes, _spec

        specs = self._leaf_poly_specs(dyn, statics, treedef)
        if any(not _shapes.is_static_shape(a.shape) for a in avals):
            return avals, {}  # already abstract (xf.Spec arguments)
        return _spec.polymorphic_avals(specs, avals,
                                       [_pretty_path(p) for p, _ in tree_flatten_with_path(dyn)])

    def _leaf_poly_specs(self, dyn: Any, statics: Any, treedef: TreeDef) -> list[Any]:
        """The ``polymorphic=`` axis spec of each flattened dynamic argument leaf."""
        from xfront import _spec

        st = {i for i, _ in statics[0]} if statics else set()
        n_dyn = len(treedef.children[0].children)
        positions = [i for i in range(n_dyn + len(st)) if i not in st][:n_dyn]
        return _spec.leaf_specs(self._poly, self._positional, positions, treedef)

    def trace(self, *args: Any, **kwargs: Any) -> Traced:
        """Trace for these arguments' abstract signature; ``.graph`` holds the IR.

        Array leaves may also be ``AbstractArray(shape, dtype)`` stand-ins (no data needed).
        """
        dyn, statics, treedef, avals, dev = self._abstract(args, kwargs)
        return self._trace(dyn, statics, treedef, avals, dev)

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        """Trace and lower; ``.as_text()`` gives the StableHLO module."""
        return self.trace(*args, **kwargs).lower()

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, self._compiles, len(self._cache),
                         self._disk_hits)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._grad_plans.clear()
        self._fast.clear()
        self._last2 = (None, None, None)
        self._last_np2 = (None,) * 5
        self._fast_np.clear()
        self._fast_torch.clear()
        self._last_sig = None

    # --- call ------------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _torch_compiling is not None and _torch_compiling():
            return _torch_graph_call(self._key, args, kwargs)  # type: ignore[misc]
        if _TRACE.stack:  # called inside another trace: inline
            # fresh tracer objects, so in-place updates inside stay local, as in a top-level
            # call (NOTE [In-place updates] in _array.py)
            leaves, tree = tree_flatten((args, kwargs))
            leaves = [_core.Tracer._make(x._builder, x._var) if isinstance(x, _core.Tracer)
                      else x for x in leaves]
            args, kwargs = tree_unflatten(tree, leaves)
            return self._fn(*args, **kwargs)
        if self._fast_ok and not kwargs and args:
            first = args[0]
            if type(first) is Array and self._fast_xf:
                dev = first._device
                n = len(args)
                if n == 2 and type(args[1]) is Array and args[1]._device is dev:
                    second = args[1]  # unrolled: the commonest arity, ~0.15 us less
                    a0 = first.aval
                    a1 = second.aval
                    bufs = [first._buf, second._buf]
                    last = self._last2
                    if last[0] is a0 and last[1] is a1:  # the last signature's very avals
                        entry = last[2]
                    else:
                        entry = self._fast.get((a0, a1))
                        if entry is not None:
                            self._last2 = (a0, a1, entry)
                elif n == 1:
                    bufs = [first._buf]
                    entry = self._fast.get((first.aval,))
                else:
                    key: Any = []
                    bufs = []
                    for a in args:
                        if type(a) is not Array or a._device is not dev:
                            break
                        key.append(a.aval)
                        bufs.append(a._buf)
                    else:
                        key = tuple(key)
                    entry = self._fast.get(key) if type(key) is tuple else None
                if entry is not None and entry.device is dev:
                    self._hits += 1
                    run = entry.xf_run
                    if run is not None:
                        try:
                            return run(bufs)
                        except Exception:
                            _raise_if_consumed(self._op, list(args), (args, {}))
                            raise
                    # a call that donates: the run marks the donated arguments consumed
                    run = entry.runs.get((None, "xfront")) or \
                        self._run_for(entry, None, "xfront")
                    return run(bufs, None, args, False, (args, None))
            elif type(first) is np.ndarray and self._returns in (None, "numpy"):
                # the key written out for one and two arguments (a comprehension is a call);
                # two arrays of the last hit's shapes and dtypes skip the key and its hash
                # (NumPy's dtype objects of the builtin types are one object each)
                n = len(args)
                if n == 2:
                    second = args[1]
                    last = self._last_np2
                    s0 = first.shape
                    d0 = first.dtype
                    if type(second) is not np.ndarray:
                        hit = self._fast_np.get(((s0, d0), None))
                    else:
                        s1 = second.shape
                        d1 = second.dtype
                        if d0 is last[1] and d1 is last[3] and s0 == last[0] and s1 == last[2]:
                            hit = last[4]
                        else:
                            hit = self._fast_np.get(((s0, d0), (s1, d1)))
                            if hit is not None:
                                self._last_np2 = (s0, d0, s1, d1, hit)
                elif n == 1:
                    hit = self._fast_np.get(((first.shape, first.dtype),))
                else:
                    hit = self._fast_np.get(tuple([(a.shape, a.dtype) if type(a) is np.ndarray
                                                   else None for a in args]))
                if hit is not None:
                    entry, avals, host_run = hit
                    self._hits += 1
                    if host_run is not None:  # NOTE [Small host inputs] in the runtime
                        return host_run(args)
                    rt = _rt()
                    rdev = entry.device.rt
                    # NumPy memory is aliased for this call only: the results leave as NumPy
                    # arrays, whose conversion waits for them before we return
                    offs = _offsets.offsets(args, rt.STAGE_MIN_BYTES, entry.from_below) \
                        if entry.from_below else None
                    run = entry.runs.get((offs, "numpy")) or self._run_for(entry, offs, "numpy")
                    bufs = []
                    staged = []
                    for i, (a, v) in enumerate(zip(args, avals)):
                        if offs and offs[i]:
                            bufs.append(rt.put(_offsets.from_below(a, offs[i]), rdev, copy=False))
                            continue
                        b, st = rt.put_input(a, rdev, v)
                        bufs.append(b)
                        if st:
                            staged.append(b)
                    return run(bufs, staged or None)
            elif type(first) is self._torch_type and self._returns in (None, "torch"):
                tt = self._torch_type
                n = len(args)
                if n == 1:
                    key = ((first.shape, first.dtype),)
                elif n == 2:
                    second = args[1]
                    key = ((first.shape, first.dtype), (second.shape, second.dtype)
                           if type(second) is tt else None)
                else:
                    key = tuple([(a.shape, a.dtype) if type(a) is tt else None for a in args])
                hit = self._fast_torch.get(key)
                if hit is not None:
                    entry, host_run = hit
                    if host_run is not None:  # NOTE [Small host inputs] in the runtime
                        strided = self._torch_strided
                        for a in args:
                            if a.requires_grad or not a.is_cpu or a.layout is not strided:
                                break  # recorded (autograd route) or not a CPU dense tensor
                        else:
                            self._hits += 1
                            return host_run(args)
                    out = self._call_torch(entry, args)
                    if out is not _NO_FAST:
                        return out
        return self._call(args, kwargs, self._returns)

    def _call_torch(self, entry: _Entry, args: tuple) -> Any:
        """The torch fast path: CPU tensors that need none of the adapter's conversions are
        imported directly (NOTE [The call path]); anything else returns _NO_FAST."""
        ad = adapter_named("torch")
        rdev = entry.device.rt
        bufs = []
        for a in args:
            b = ad.fast_cpu_buffer(a, rdev)
            if b is None:
                return _NO_FAST
            bufs.append(b)
        note_borrowed_import()
        self._hits += 1
        run = entry.runs.get((None, "torch")) or self._run_for(entry, None, "torch")
        return run(bufs, None, None, False, (args, None))

    def _call(self, args: tuple, kwargs: dict, returns: str | None) -> Any:
        try:
            dyn, statics, leaves, treedef, items, frameworks, dev, borrowed = \
                self._flatten_inputs(args, kwargs)
        except NeedsGraphCall:  # symbolic TF tensors: stage into the TF graph
            from xfront.bridges import tensorflow as _tf_bridge

            return _tf_bridge.graph_call(self, args, kwargs)
        except NeedsAutograd as e:  # inputs recorded by torch autograd or a TF tape
            from xfront.bridges import _autograd

            return _autograd.call(self, args, kwargs, returns, e.adapter)
        if dev is None:
            dev = get_device(None)
        avals = [v.aval if isinstance(v, Array) else v for v in items]
        key = (treedef, tuple(avals), statics, dev)
        entry = self._cache.get(key)
        if entry is None:
            entry, built = self._flights.get(
                self._cache, key, lambda: self._miss(key, dyn, statics, treedef, avals, dev))
            if not built:  # another thread built it while this one waited
                with self._lock:
                    self._hits += 1
        else:
            self._hits += 1
        if self._fast_ok and statics is None and not dyn[1]:
            # NOTE: here rather than at the miss: xfront, NumPy and torch arguments of one
            # signature share the entry, and each kind gets its fast path on its first call
            self._register_fast(entry, dyn, treedef, avals, dev)
        rt = _rt()
        offs = _offsets.offsets(leaves, rt.STAGE_MIN_BYTES, entry.from_below) \
            if entry.from_below else None
        bufs: list[Any] = []
        staged: list[Any] = []
        for i, (leaf, v) in enumerate(zip(leaves, items)):
            if isinstance(v, Array):
                if v._device is not dev and v._device != dev:
                    v = v.to_device(dev)
                bufs.append(v._buf)
            elif type(leaf) is np.ndarray:
                # aliased for this call only (NOTE [The call path]), or staged (NOTE [Staging
                # misaligned NumPy inputs] in xfront/lowering/runtime.py), or imported from
                # below (NOTE [Misaligned inputs without a copy] in xfront/_offsets.py)
                if offs and offs[i]:
                    bufs.append(rt.put(_offsets.from_below(leaf, offs[i]), dev.rt, copy=False))
                    borrowed = True
                    continue
                b, st = rt.put_input(leaf, dev.rt)
                bufs.append(b)
                if st:
                    staged.append(b)
                borrowed = True
            else:  # Python and NumPy scalars, ndarray subclasses
                bufs.append(rt.put(np.asarray(leaf, dtype=v.dtype.np), dev.rt, copy=False))
                borrowed = borrowed or isinstance(leaf, np.ndarray)
        mode = returns
        if mode is None:
            mode = next(iter(frameworks)) if len(frameworks) == 1 else "xfront"
        run = entry.runs.get((offs, mode)) or self._run_for(entry, offs, mode)
        # the runtime's one run with this call's pieces (NOTE [Per-call pieces of the run]):
        # the staged inputs, the donated arguments, whether to wait for borrowed memory
        return run(bufs, staged or None, leaves if entry.exe.donate else None,
                   borrowed and (mode == "xfront" or mode == "jax"), (leaves, dyn))

    def _run_for(self, entry: _Entry, offs: tuple[int, ...] | None, mode: str) -> Any:
        """The run of the general call paths for ``entry`` (its offsets variant ``offs``) with
        results for framework ``mode`` (NOTE [Per-call pieces of the run] in
        xfront.lowering.runtime), bound once and kept in ``entry.runs``."""
        run = entry.runs.get((offs, mode))
        if run is not None:
            return run
        dev = entry.device
        placed: list[Any] = []
        if offs:  # NOTE [Placing the results of misaligned elementwise programs]
            prog, cbufs, placed = _offsets.variant(
                entry, offs, (mode == "numpy" or mode == "torch") and dev.platform == "cpu")
        else:
            prog, cbufs = entry.exe, entry.const_bufs
        # results for jax (and for torch/TF off the CPU) never come back to the buffer pool,
        # so they do not take recycled buffers from it either (NOTE [Output buffer pool]); on
        # the CPU results for torch/TF do (NOTE [Results for other frameworks in recycled
        # memory] in xfront/bridges/_dlpack.py)
        execute = prog.run if mode == "xfront" or mode == "numpy" or (
            mode != "jax" and dev.platform == "cpu") else prog.exe.execute
        rt = _rt()
        if mode == "xfront":
            wraps = [array_wrapper(a, dev, p) for a, p in zip(entry.out_avals, entry.out_pool)]
        elif mode == "numpy":  # a view that owns the buffer (waits for its value)
            wraps = [_numpy_wrapper(rt, dev.platform == "cpu")] * len(entry.out_avals)
        else:
            ad = adapter_named(mode)
            wraps = [_export_wrapper(dev, ad, p) for p in entry.out_pool]
        if any(k is not None for k in placed):
            np_wrap = _numpy_wrapper(rt, True)
            export = None if mode == "numpy" else \
                lambda v: ad.from_capsule(v.__dlpack__(), dev)
            wraps = [w if k is None else _offsets.placed_wrapper(np_wrap, k, a.shape, export)
                     for w, k, a in zip(wraps, placed, entry.out_avals)]
        op = self._op
        run = rt.runner(
            execute, cbufs, wraps, entry.unflatten(), per_call=True, waits=mode == "numpy",
            mark=functools.partial(_mark_donated, entry.exe.donate, len(entry.const_bufs),
                                   self.__name__),
            on_fail=lambda v: _raise_if_consumed(op, v[0], v[1]))  # v: (leaves, dyn)
        entry.runs[(offs, mode)] = run
        return run

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
        """Trace, lower and compile for a new signature (one thread per key at a time: the
        caller holds the key's flight); the caller stores the entry in ``_cache``."""
        with self._lock:
            self._misses += 1
        self._check_arity(dyn, statics)
        if self._poly is not None:
            entry, compiled = self._miss_polymorphic(dyn, statics, treedef, avals, dev)
        else:
            traced = self._trace(dyn, statics, treedef, avals, dev)
            lowered = traced.lower()
            exe, compiled = compile_lowered_counted(lowered, dev)
            exe = Program(exe, traced.graph, dev, traced.donate,
                          [a.strong() for a in traced.graph.out_avals])
            entry = _Entry(exe, load_consts(traced.graph.consts, dev), traced)
        if compiled:
            with self._lock:
                self._compiles += 1
                self._disk_hits += entry.exe.exe.from_disk
        if self._poly is None:
            self._note_recompile(dyn, avals, statics)
        return entry

    def _register_fast(self, entry: _Entry, dyn: Any, treedef: TreeDef,
                       avals: list[AbstractArray], dev: Device) -> None:
        """Enter ``entry`` in the fast-path table of its arguments' kind (NOTE [The call
        path]): positional xfront arrays, NumPy arrays or CPU torch tensors, nothing else."""
        exe = entry.exe
        ok = entry.fast_shape
        if ok is None:  # the same for every call of the entry (its key holds treedef, avals)
            ok = entry.fast_shape = (
                len(treedef.children[0].children) == len(avals)
                and all(c.kind == "leaf" for c in treedef.children[0].children)
                and all(type(a) is AbstractArray and not a.weak for a in avals))
        if not ok:
            return
        first = dyn[0][0] if dyn[0] else None
        if all(type(x) is Array for x in dyn[0]):
            self._fast[tuple(avals)] = entry
        elif all(type(x) is np.ndarray for x in dyn[0]):
            key = tuple((x.shape, x.dtype) for x in dyn[0])
            if key not in self._fast_np:
                self._fast_np[key] = (entry, list(avals), self._host_run(entry, avals, None))
        elif (dev.platform == "cpu" and not exe.donate and first is not None
              and type(first).__module__ == "torch" and type(first).__name__ == "Tensor"
              and all(type(x) is type(first) for x in dyn[0])):
            key = tuple((x.shape, x.dtype) for x in dyn[0])
            if key not in self._fast_torch:
                ad = adapter_named("torch")
                self._torch_type = type(first)
                self._torch_strided = ad.strided_layout()
                self._fast_torch[key] = (entry, self._host_run(entry, avals, ad))

    def _host_run(self, entry: _Entry, avals: list[AbstractArray], ad: Any) -> Any:
        """The run for small NumPy (``ad`` None) or CPU torch inputs of one signature (NOTE
        [Small host inputs] in the runtime), or None where it does not apply."""
        rt = _rt()
        dev = entry.device
        limit = min(rt.SMALL_INPUT_BYTES, rt.STAGE_MIN_BYTES - 1)  # below the large-input paths
        if (dev.platform != "cpu" or entry.exe.donate
                or any(a.size * a.dtype.itemsize > limit for a in avals)):
            return None
        wraps: list[Any] = []
        for a, p in zip(entry.out_avals, entry.out_pool):
            small = a.size * a.dtype.itemsize <= rt.SMALL_INPUT_BYTES
            if ad is None:
                wraps.append(rt.host_copy if small else _numpy_wrapper(rt, True))
            elif small:
                wraps.append(ad.small_result_wrapper())
            else:
                wraps.append(_export_wrapper(dev, ad, p))
        if ad is None:
            return rt.host_runner(entry.exe.run, entry.const_bufs, dev.rt, avals, wraps,
                                  entry.unflatten())
        if not all(ad.can_stage(a.dtype.np) for a in avals):
            return None
        # the load: torch's own ``Tensor.copy_`` (what ``ad.copy_into`` calls) taken as the
        # method itself, so the run's loop calls C directly (no Python frame per argument)
        load = getattr(self._torch_type, "copy_", None) or ad.copy_into
        return rt.host_runner(entry.exe.run, entry.const_bufs, dev.rt, avals, wraps,
                              entry.unflatten(), view=ad.staging_tensor, load=load)

    def _miss_polymorphic(self, dyn: Any, statics: Any, treedef: TreeDef,
                          avals: list[AbstractArray], dev: Device) -> tuple[_Entry, bool]:
        """Trace and lower once per polymorphic signature; refine and compile per concrete
        shape (NOTE [Polymorphic compile] in xfront/_spec.py)."""
        from xfront import _shapes
        from xfront.lowering import specialize

        poly, env = self._poly_avals(dyn, statics, treedef, avals)
        pkey = (treedef, tuple(poly), statics, dev)
        stage = self._poly_cache.get(pkey)
        if stage is None:
            traced = self._trace(dyn, statics, treedef, poly, dev)
            low = traced.lower()
            _rt().parse_verify(low.text)  # names the primitive of a bad lowering
            stage = self._poly_cache[pkey] = (traced, low)
        traced, lowered = stage
        g = traced.graph
        outs = [AbstractArray(_shapes.evaluate_shape(a.shape, env), a.dtype, a.weak)
                for a in g.out_avals]
        ins = [v.aval for v in g.constvars] + list(avals)
        donate = traced.donate

        def lower(alias_outputs: dict[int, int] | None = None,
                  extra_args: Sequence[AbstractArray] = ()) -> Lowered:
            text = _rt().refine_shapes(specialize(lowered, ins, outs, donate=donate,
                                                  alias_outputs=alias_outputs,
                                                  extra_args=extra_args))
            return Lowered(text, g, ins + list(extra_args), list(outs), lowered.platform,
                           tuple(sorted(set(donate) | set(alias_outputs or ()))))

        exe, compiled = compile_lowered_counted(lower(), dev)
        strong = [a.strong() for a in outs]
        return _Entry(_PolyProgram(exe, g, dev, donate, strong, lower),
                      load_consts(g.consts, dev), traced, strong), compiled

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
            RecompileWarning, stacklevel=_user_stacklevel())


def _numpy_wrapper(rt: Any, on_cpu: bool) -> Any:
    to_numpy_owned = rt.to_numpy_owned

    def wrap(buf: Any) -> np.ndarray:
        return to_numpy_owned(buf, on_cpu)
    return wrap


def _export_wrapper(dev: Device, ad: Any, pooled: bool) -> Any:
    """``wrap(buf)``: a fresh result for framework ``ad`` (a closure: ~0.1 us less per result
    than a ``functools.partial`` with keywords)."""
    def wrap(buf: Any) -> Any:
        return export_buffer(buf, dev, ad, owned=True, pooled=pooled)
    return wrap


def _mark_donated(donate: tuple[int, ...], ncon: int, fn_name: str,
                  leaves: Sequence[Any]) -> None:
    """After a call of ``fn_name`` that donated program inputs ``donate`` (constants first):
    mark the donated xfront arrays among its argument ``leaves`` consumed."""
    for i in donate:
        x = leaves[i - ncon] if 0 <= i - ncon < len(leaves) else None
        if isinstance(x, Array):
            mark_donated(x, fn_name)


_NP_DTYPES: dict[np.dtype, dt.DType] = {}


def _np_dtype(x: np.ndarray, dyn: Any, i: int) -> dt.DType:
    try:
        d = dt.dtype(x.dtype)
    except TypeError as e:
        raise _errors.err(_errors.DTypeError, "compile",
                          f"argument {_leaf_path(dyn, i)} has an unsupported dtype: {e}") from None
    _NP_DTYPES[x.dtype] = d
    return d


def _raise_if_consumed(op: str, leaves: Sequence[Any], dyn: Any) -> None:
    """After a failed execute: name an argument that was consumed (moved, donated, deleted).
    ``dyn`` None: ``leaves`` are the positional arguments (a fast path's call)."""
    from xfront._eager import raise_if_consumed

    if dyn is None:
        dyn = (tuple(leaves), {})

    raise_if_consumed(op, leaves, lambda i: f"argument {_leaf_path(dyn, i)}")


def _user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` called by the caller of this function that points
    at the user's code (the innermost frame outside xfront)."""
    f = sys._getframe(1)
    level = 1
    while f is not None and _errors._is_internal(f.f_code.co_filename):
        f = f.f_back
        level += 1
    return level


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
            device: Any = None, returns: str | None = None, in_shardings: Any = None,
            out_shardings: Any = None, polymorphic: Any = None) -> Any:
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
      in_shardings / out_shardings: NamedShardings (one for all, one per argument/result) that
        make ``fn`` one program partitioned over a mesh of devices (xfront/sharding.py).
      polymorphic: dimensions that vary, one spec per positional argument, e.g.
        ``("b, _", "b")``: ``b`` is symbolic, ``_`` static. Traces and lowers once for all
        sizes, compiles once per size (NOTE [Polymorphic compile] in xfront/_spec.py).
        Not with in_shardings/out_shardings (sharded programs have static shapes).
    """
    if in_shardings is not None or out_shardings is not None:
        from xfront.sharding import compile_sharded

        if polymorphic is not None:
            # NOTE: a partitioned program is planned for static shapes (each device's shard
            # of every array has a fixed size), so symbolic sizes are refused, not guessed
            raise _errors.err(_errors.ArgumentError, "compile",
                              "polymorphic= cannot be combined with in_shardings/out_shardings: "
                              "a sharded program is partitioned for static shapes",
                              "compile without polymorphic= (one program per shape), or drop "
                              "the shardings")
        if static_argnums or static_argnames or donate_argnums or device is not None:
            raise _errors.err(_errors.ArgumentError, "compile",
                              "static_argnums, static_argnames, donate_argnums and device are "
                              "not supported together with in_shardings/out_shardings yet",
                              "close over static values (functools.partial); the mesh of the "
                              "shardings decides the devices")

        def wrap_sharded(f: Callable) -> Any:
            return compile_sharded(f, in_shardings, out_shardings, returns=returns)

        return wrap_sharded if fn is None else wrap_sharded(fn)

    def wrap(f: Callable) -> CompiledFunction:
        return CompiledFunction(f, static_argnums=static_argnums, static_argnames=static_argnames,
                                donate_argnums=donate_argnums, device=device, returns=returns,
                                polymorphic=polymorphic)

    return wrap if fn is None else wrap(fn)


def trace(fn: Callable, *, static_argnums: int | Sequence[int] = (),
          static_argnames: str | Sequence[str] = ()) -> Callable[..., _core.Graph]:
    """``xfront.trace(f)(*args)`` returns the graph of ``f`` for these arguments."""
    cf = CompiledFunction(fn, static_argnums=static_argnums, static_argnames=static_argnames)

    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> _core.Graph:
        return cf.trace(*args, **kwargs).graph

    return traced
