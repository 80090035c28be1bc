"""The torch adapter: dtypes, devices, strides and CUDA streams of torch tensors.

Imports: _dtypes, _errors, bridges._dlpack; torch lazily (inside functions). The transfer
itself is bridges._dlpack's; this module only decides what torch must do first:

* A tensor that requires grad while grad mode is on raises ``NeedsAutograd``: a compiled call
  then becomes one ``torch.autograd.Function`` whose backward runs xfront's compiled VJP
  (``record_call``; NOTE [Gradients through framework autograd] in bridges/_autograd.py), and
  eager namespace functions raise a clear error (their xfront results cannot carry torch
  gradients). Under ``torch.no_grad()`` such tensors are detached: no gradient is expected.
* Conjugate/negative views are resolved (one copy); non-contiguous tensors (``.T``,
  channels_last, ``[:, ::2]``, ``expand``) are made contiguous (one copy) -- never imported with a
  non-row-major layout (NOTE [Layouts of imported buffers] in the runtime adapter).
* Contiguous tensors with odd strides on size-0/1 dimensions get canonical strides through a
  free ``as_strided`` view (torch calls them contiguous; the runtime would not).
* CPU tensors export through ``torch.utils.dlpack.to_dlpack`` (0.3 us, no stream); CUDA tensors
  through ``__dlpack__(stream=S)`` with the runtime's ready-event stream ``S``, so torch makes
  ``S`` wait for its pending work (a DLPack producer given a stream records an event on its own
  current stream and makes ``S`` wait on it; torch's default, ``stream=-1``, would skip that).
  Results go back with torch's current stream, which then waits for them.
* Tensors on torch-xla's ``xla`` device take the optional torch_xla path (sync first, then its
  DLPack capsule); never required by the default tests.

Also here: ``torch.compile`` support (NOTE [xfront functions inside torch.compile]), with the
autograd formula of the ``xfront::call`` op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _dtypes, _errors
from xfront._device import Device
from xfront._rt import rt as _rt
from xfront.bridges._dlpack import DLPACK, Adapter, NeedsAutograd

_errors.register_internal_dir(__file__)

_torch: Any = None


def _stage_min_bytes() -> int:
    runtime = _rt()
    return runtime.STAGE_MIN_BYTES if runtime.POOL_ENABLED else 1 << 62


def _t() -> Any:
    global _torch
    if _torch is None:
        import torch

        _torch = torch
    return _torch


def _dtype_table() -> dict[Any, _dtypes.DType]:
    torch = _t()
    table = {
        torch.bool: _dtypes.bool_, torch.int8: _dtypes.int8, torch.int16: _dtypes.int16,
        torch.int32: _dtypes.int32, torch.int64: _dtypes.int64, torch.uint8: _dtypes.uint8,
        torch.float16: _dtypes.float16, torch.bfloat16: _dtypes.bfloat16,
        torch.float32: _dtypes.float32, torch.float64: _dtypes.float64,
        torch.complex64: _dtypes.complex64, torch.complex128: _dtypes.complex128,
    }
    for name, d in (("uint16", _dtypes.uint16), ("uint32", _dtypes.uint32),
                    ("uint64", _dtypes.uint64)):
        td = getattr(torch, name, None)
        if td is not None:
            table[td] = d
    return table


def _canonical_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    n = 1
    for s in reversed(shape):
        out.append(n)
        n *= max(s, 1)
    return tuple(reversed(out))


class TorchAdapter(Adapter):
    name = "torch"
    route = DLPACK
    borrows = True
    writable_export = True

    def __init__(self) -> None:
        self._dtypes: dict[Any, _dtypes.DType] | None = None
        self._to_dlpack: Any = None
        self._from_dlpack: Any = None

    def _setup(self) -> None:
        torch = _t()
        self._dtypes = _dtype_table()
        self._to_dlpack = torch.utils.dlpack.to_dlpack
        # what torch.utils.dlpack.from_dlpack calls for a capsule, without its checks (0.6 us)
        self._from_dlpack = getattr(torch._C, "_from_dlpack", torch.utils.dlpack.from_dlpack)
        self._strided = torch.strided
        install_compile_hook()

    def dtype(self, td: Any, op: str) -> _dtypes.DType:
        if self._dtypes is None:
            self._setup()
        d = self._dtypes.get(td)  # type: ignore[union-attr]
        if d is None:
            raise _errors.err(_errors.DTypeError, op,
                              f"the torch tensor has dtype {td}, which has no xfront equivalent",
                              "convert it first (t.to(torch.float32), ...); supported: "
                              + ", ".join(sorted(d.name for d in _dtypes.ALL)))
        return d

    def prepare(self, t: Any, op: str) -> tuple[Any, _dtypes.DType, bool, bool]:
        if self._dtypes is None:
            self._setup()
        d = self._dtypes.get(t.dtype) or self.dtype(t.dtype, op)  # type: ignore[union-attr]
        if t.requires_grad:
            if _t().is_grad_enabled():
                raise NeedsAutograd(self)
            t = t.detach()
        if t.layout is not self._strided:
            raise _errors.err(_errors.ArgumentError, op,
                              f"the torch tensor has layout {t.layout}; xfront takes dense "
                              "(strided) tensors", "convert it first, e.g. t.to_dense()")
        copied = False
        if d.kind == "c" and (t.is_conj() or t.is_neg()):
            t = t.resolve_conj().resolve_neg()
            copied = True
        if not t.is_contiguous():
            t = t.contiguous()
            copied = True
        shape = t.shape
        if len(shape) >= 2 and (1 in shape or 0 in shape):
            canon = _canonical_strides(tuple(shape))
            if t.stride() != canon:
                t = t.as_strided(shape, canon)  # same memory: size-0/1 dims have no stride
        return t, d, True, copied

    def device_of(self, t: Any) -> tuple[str, int]:
        if t.is_cpu:
            return "cpu", 0
        dev = t.device
        if dev.type == "cuda":
            return "gpu", dev.index or 0
        if dev.type == "xla":
            return _xla_device(t)
        raise _errors.err(_errors.DeviceError, "asarray",
                          f"the torch tensor is on device {dev}, which xfront cannot import",
                          "move it to the CPU or a CUDA GPU first (t.cpu())")

    def capsule(self, t: Any, stream: Any) -> Any:
        if t.is_cpu:
            return self._to_dlpack(t)
        if t.device.type == "xla":
            return _xla_capsule(t)
        return t.__dlpack__(stream=stream)

    def compact(self, t: Any) -> Any:
        return t.clone(memory_format=_t().contiguous_format)

    def data_pointer(self, t: Any) -> int:
        return t.data_ptr()

    def synchronize(self, t: Any, op: str) -> None:
        if t.device.type == "cuda":
            _t().cuda.synchronize(t.device)
        elif not t.is_cpu:
            super().synchronize(t, op)

    def fast_cpu_buffer(self, t: Any, rt_dev: Any) -> Any:
        """The runtime buffer of a CPU tensor that needs none of ``prepare``'s conversions and
        no staging (row-major, unrecorded, not conjugated, aligned or small), imported without
        a copy where PJRT can alias it; None for anything else (the general path takes it).
        """
        if (t.requires_grad or not t.is_cpu or t.layout is not self._strided
                or not t.is_contiguous() or t.is_conj() or t.is_neg()):
            return None
        shape = t.shape
        if len(shape) >= 2 and (1 in shape or 0 in shape):  # strides prepare canonicalises
            return None
        if t.data_ptr() % 64 and t.nbytes >= _stage_min_bytes():
            return None  # staged or imported from below
        rt = _rt()
        buf = rt.import_dlpack(self._to_dlpack(t), rt_dev, None, row_major=True)
        rt.block_until_ready(buf)  # NOTE [Hidden copies of borrowed memory] in _dlpack.py
        return buf

    # --- small CPU tensors (NOTE [Small host inputs] in xfront.lowering.runtime) --------------
    def strided_layout(self) -> Any:
        if self._from_dlpack is None:
            self._setup()
        return self._strided

    def can_stage(self, np_dtype: Any) -> bool:
        """Whether a staging buffer of this NumPy dtype can be viewed as a torch tensor."""
        try:
            _t().from_numpy(np.zeros(0, np_dtype))
        except (TypeError, RuntimeError):  # bfloat16 and other extension dtypes
            return False
        return True

    def staging_tensor(self, view: Any) -> Any:
        return _t().from_numpy(view)

    @staticmethod
    def copy_into(dst: Any, src: Any) -> None:
        # NOTE: copy_ reads any strides and resolves conjugate and negative views
        dst.copy_(src)

    def small_result_wrapper(self) -> Any:
        """``buf -> tensor`` for a fresh small output: a DLPack export (waits for the value)."""
        if self._from_dlpack is None:
            self._setup()
        from_dlpack = self._from_dlpack
        export = _rt().export_fresh
        return lambda buf: from_dlpack(export(buf))

    def staging_view(self, t: Any) -> Any:
        # cheap checks first: this runs for every torch argument of a compiled call
        if (t.data_ptr() % 64 == 0 or not t.is_cpu or t.requires_grad
                or t.nbytes < _stage_min_bytes() or not t.is_contiguous()):
            return None
        try:  # NOTE: numpy() refuses conjugated/negated views and bfloat16: the normal import
            return t.numpy()
        except (TypeError, RuntimeError):
            return None

    def consumer_stream(self, dev: Device) -> Any:
        if dev.platform == "cpu":
            return None
        s = _t().cuda.current_stream(dev.id).cuda_stream
        return 1 if s == 0 else s  # the array API's value for the legacy default stream

    def from_capsule(self, capsule: Any, dev: Device) -> Any:
        if self._from_dlpack is None:
            self._setup()
        return self._from_dlpack(capsule)

    # --- autograd -----------------------------------------------------------------------------
    def recorded(self, t: Any) -> bool:
        return bool(t.requires_grad and (t.is_floating_point() or t.is_complex())
                    and _t().is_grad_enabled())

    def untracked(self) -> Any:
        return _t().no_grad()

    def autograd_error(self, t: Any, op: str) -> _errors.XfrontError:
        return _errors.err(
            _errors.ArgumentError, op,
            f"the torch tensor ({tuple(t.shape)}, {t.dtype}) requires grad, but xfront.{op} is "
            "not recorded by torch autograd (its xfront result could not carry the gradient)",
            "call the code through an xf.compile'd function (its calls join torch's autograd "
            "graph, with xfront's VJP as the backward), or pass tensor.detach(), or use "
            "torch.no_grad()")

    def record_call(self, call: Any) -> list[Any]:
        return list(_autograd_function().apply(call, *call.tensors))


# --- torch autograd -----------------------------------------------------------------------------

_FUNCTION: Any = None


def _autograd_function() -> Any:
    """The ``torch.autograd.Function`` of an eager compiled call with recorded inputs: forward
    runs xfront's forward program (residuals stay xfront buffers on ``ctx``), backward its VJP
    program (NOTE [Gradients through framework autograd] in bridges/_autograd.py)."""
    global _FUNCTION
    if _FUNCTION is not None:
        return _FUNCTION
    torch = _t()
    from torch.autograd.function import once_differentiable

    class XfrontCall(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, call: Any, *tensors: Any) -> Any:
            outs = call.forward()  # grad mode is off here: inputs import as plain tensors
            ctx.call = call
            ctx.set_materialize_grads(False)
            # saved only so that torch notices in-place writes to them before the backward;
            # the backward reads the zero-copy xfront views kept by ``call``
            ctx.save_for_backward(*[tensors[k] for k in call.saved_tensor_index])
            fixed = [o for o, f in zip(outs, call.plan.float_out) if not f]
            if fixed:
                ctx.mark_non_differentiable(*fixed)
            return tuple(outs)

        @staticmethod
        @once_differentiable
        def backward(ctx: Any, *grads: Any) -> Any:
            ctx.saved_tensors  # raises if a saved input was modified in place
            return (None, *ctx.call.backward(grads))

    _FUNCTION = XfrontCall
    return _FUNCTION


# --- torch-xla (optional; see the README) --------------------------------------------------------

def _xla_device(t: Any) -> tuple[str, int]:
    import torch_xla.runtime as xr  # optional dependency

    kind = xr.device_type()
    if kind == "CPU":
        return "cpu", 0
    if kind in ("CUDA", "GPU"):
        return "gpu", t.device.index or 0
    raise _errors.err(_errors.DeviceError, "asarray",
                      f"the torch-xla tensor lives on a {kind} device, which xfront cannot "
                      "import through DLPack", "move it to the CPU first (t.cpu())")


def _xla_capsule(t: Any) -> Any:
    import torch_xla
    import torch_xla.utils.dlpack as xdl

    # exporting a tensor with pending lazy work aborts the process: materialise it first
    torch_xla.sync(wait=True)
    return xdl.to_dlpack(t)


ADAPTER = TorchAdapter()


# --- torch.compile ------------------------------------------------------------------------------
#
# NOTE [xfront functions inside torch.compile]
#     TorchDynamo would trace into ``CompiledFunction.__call__`` (tree flattening, DLPack,
#     jaxlib) and break the graph. Instead, once torch is loaded, ``CompiledFunction.__call__``
#     first asks ``torch.compiler.is_compiling()``; under Dynamo it calls ``graph_call``, which
#     Dynamo does not trace into (``torch._dynamo.nonstrict_trace``). ``graph_call`` flattens the
#     arguments in plain Python and calls the custom op ``xfront::call(str spec, Tensor[] args)
#     -> Tensor[]`` (torch.library). ``spec`` names a registered call signature (the function,
#     the argument tree, Python-scalar and static leaves, and which tensors need gradients). The
#     op's fake (meta) implementation traces the xfront function abstractly (xfront's shape
#     rules) to get the output shapes and dtypes; its real implementation runs the compiled
#     executable. The op is functional (no mutation, outputs never alias inputs), so inductor
#     may reorder or fuse around it. Under ``dynamic=True`` the sizes stay symbolic (NOTE
#     [Symbolic sizes under torch.compile]).
#
#     Gradients: when grad mode is on and a float tensor argument requires grad, the spec
#     records that ``wrt`` mask and the op runs the forward program that also returns the
#     residuals (as extra outputs, which ``graph_call`` drops). The op's autograd formula saves
#     the inputs the backward reads and the residuals, and its backward is a second custom op,
#     ``xfront::call_backward(str spec, Tensor[] args) -> Tensor[]``, running xfront's VJP
#     program (bridges/_autograd.py). AOTAutograd traces both into the forward and backward
#     graphs, so a compiled training step differentiates through xfront without recomputing
#     its forward.

_SPECS: dict[str, tuple[Any, Any, list[Any], Any, tuple[bool, ...]]] = {}
_SPEC_IDS: dict[tuple, str] = {}
_op: Any = None
_bwd_op: Any = None


def install_compile_hook() -> None:
    """Route xfront compiled functions through ``xfront::call`` under torch.compile."""
    global _op, _bwd_op
    if _op is not None:
        return
    torch = _t()
    from xfront import _compile

    lib_op = torch.library.custom_op("xfront::call", mutates_args=(),
                                     schema="(str spec, Tensor[] args) -> Tensor[]")(_call_impl)
    lib_op.register_fake(_call_fake)
    lib_op.register_autograd(_call_backward, setup_context=_call_setup)
    bwd_op = torch.library.custom_op("xfront::call_backward", mutates_args=(),
                                     schema="(str spec, Tensor[] args) -> Tensor[]")(_bwd_impl)
    bwd_op.register_fake(_bwd_fake)
    _op = torch.ops.xfront.call
    _bwd_op = torch.ops.xfront.call_backward
    global _graph_call_body
    _graph_call_body = torch._dynamo.disable(_graph_call_body, recursive=True)
    _compile.set_torch_graph_hook(torch.compiler.is_compiling,
                                  torch._dynamo.nonstrict_trace(graph_call))


def _split_leaves(cf: Any, args: tuple, kwargs: dict) -> tuple[str, list[Any]]:
    from xfront._tree import tree_flatten

    torch = _t()
    dyn, statics = cf._split(args, kwargs)
    leaves, treedef = tree_flatten(dyn)
    tensors = []
    template: list[Any] = []
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            tensors.append(leaf)
            template.append(None)
        else:
            template.append(leaf)
    wrt = tuple(ADAPTER.recorded(t) for t in tensors)
    if not any(wrt):
        wrt = ()
    key = (id(cf), treedef, tuple((type(v), v) if v is not None else None for v in template),
           statics, wrt)
    spec = _SPEC_IDS.get(key)
    if spec is None:
        spec = f"{cf.__name__}#{len(_SPECS)}"
        _SPEC_IDS[key] = spec
        _SPECS[spec] = (cf, treedef, template, statics, wrt)
    return spec, tensors


def _rebuild(spec: str, tensors: list[Any]) -> tuple[Any, tuple, dict]:
    from xfront._tree import tree_unflatten

    cf, treedef, template, statics, _ = _SPECS[spec]
    it = iter(tensors)
    leaves = [next(it) if v is None else v for v in template]
    args, kwargs = cf._merge(tree_unflatten(treedef, leaves), statics)
    return cf, args, kwargs


def _leaf_wrt(spec: str) -> tuple[bool, ...]:
    """The spec's gradient mask over all argument leaves (() when no gradient is needed)."""
    _, _, template, _, wrt = _SPECS[spec]
    if not wrt:
        return ()
    it = iter(wrt)
    return tuple(next(it) if v is None else False for v in template)


def graph_call(key: str, args: tuple, kwargs: dict) -> Any:
    """What ``CompiledFunction.__call__`` does under torch.compile (not traced by Dynamo)."""
    return _graph_call_body(key, args, kwargs)


def _graph_call_body(key: str, args: tuple, kwargs: dict) -> Any:
    # NOTE: Dynamo must never trace this code. Under ``nonstrict_trace`` it runs as plain
    # Python on fake tensors. But when that run raises (an error in the user's xfront
    # function), Dynamo reports a graph break and, without fullgraph, compiles the calling
    # frames again one by one: it would then trace graph_call itself, defer the spec
    # registration below as a side effect, and call the op with a spec the op cannot find.
    # ``install_compile_hook`` wraps this function in ``torch._dynamo.disable``, so that
    # fallback runs it eagerly instead and the user's error surfaces unchanged.
    from xfront import _compile
    from xfront._tree import tree_unflatten

    cf = _compile.function_by_key(key)
    spec, tensors = _split_leaves(cf, args, kwargs)
    if _leaf_wrt(spec):  # NOTE [Symbolic sizes under torch.compile]: a polymorphic plan
        pspec = _grad_spec(spec, tensors)
        plan = _PLANS[pspec]
        outs = _op(pspec, tensors)
        return tree_unflatten(plan.out_tree, list(outs)[:plan.n_out])
    out_tree, out_avals = _traced(spec, tensors)  # the user's errors surface here, not in the op
    outs = _op(spec, tensors)
    return tree_unflatten(out_tree, list(outs)[:len(out_avals)])  # residuals stay behind


_OUT_TREES: dict[tuple, Any] = {}


def _static_shape(t: Any) -> tuple[int, ...]:
    # int() on a symbolic size specializes it (torch adds a guard and recompiles for other
    # sizes)
    return tuple(int(s) for s in t.shape)


def _symbolic_shape(t: Any) -> tuple[Any, ...]:
    """A tensor's shape with torch's symbolic sizes (SymInts of ``dynamic=True`` or
    ``mark_dynamic``) as xfront symbolic dimensions named after torch's symbols (NOTE
    [Symbolic sizes under torch.compile]); a size that is not a plain symbol is specialized."""
    from xfront import _shapes

    out: list[Any] = []
    for s in t.shape:
        name = _torch_symbol(s)
        out.append(int(s) if name is None else _shapes.symbol(name))
    return tuple(out)


def _torch_symbol(s: Any) -> str | None:
    """The name of a torch size that is one plain symbol (a SymInt ``s0``), else None."""
    expr = getattr(getattr(s, "node", None), "expr", None)
    if expr is not None and getattr(expr, "is_Symbol", False):
        name = str(expr)
        if name.isidentifier():
            return name
    return None


def _signature(spec: str, tensors: list[Any]) -> tuple:
    return (spec,) + tuple((_static_shape(t), t.dtype) for t in tensors)


def _stand_ins(tensors: list[Any], symbolic: bool = False) -> list[Any]:
    from xfront._aval import AbstractArray

    shape = _symbolic_shape if symbolic else _static_shape
    return [AbstractArray(shape(t), ADAPTER.dtype(t.dtype, "compile")) for t in tensors]


# NOTE [Symbolic sizes under torch.compile]
#     Under ``torch.compile(dynamic=True)`` or ``torch._dynamo.mark_dynamic`` the fake tensors
#     that reach ``xfront::call`` have SymInt sizes. For calls that need no gradient, the fake
#     implementation traces the xfront function once per symbolic signature, with each plain
#     torch symbol (``s0``) as an xfront symbolic dimension of the same name, and returns
#     outputs whose sizes are xfront's shape expressions evaluated on torch's SymInts; no size
#     is specialized, so one Dynamo graph serves every batch size (the real implementation
#     runs the compiled program for each concrete shape). Where xfront's shape rules need a
#     fact the symbols do not prove (torch names equal sizes with distinct symbols until it
#     guards on their equality: ``x @ w + b`` with ``w: (4, s1)``, ``b: (s2,)``), the call
#     falls back to specializing its sizes, so torch guards on them and recompiles per size.
#     Calls that record gradients plan their VJP on the same symbolic avals (NOTE [Polymorphic
#     gradient plans] in bridges/_autograd.py) and bind the plan into the op's spec
#     (``spec@n``), so the forward op, its autograd formula and ``xfront::call_backward`` serve
#     every size of one Dynamo graph; a plan that cannot be polymorphic specializes the sizes.

def _traced(spec: str, tensors: list[Any]) -> Any:
    symbolic = not _leaf_wrt(spec)
    shapes = tuple((_symbolic_shape(t) if symbolic else _static_shape(t), t.dtype)
                   for t in tensors)
    key = (spec,) + shapes
    hit = _OUT_TREES.get(key)
    if hit is None:
        from xfront import _errors

        try:
            cf, args, kwargs = _rebuild(spec, _stand_ins(tensors, symbolic))
            traced = cf.trace(*args, **kwargs)
        except (_errors.XfrontError, TypeError):  # (a genuine error recurs in the retry)
            if not symbolic or all(type(d) is int for t in shapes for d in t[0]):
                raise
            # a fact the symbols do not prove (torch gives equal sizes distinct symbols unless
            # it guarded on their equality): specialize the sizes (torch guards on them)
            return _traced_static(spec, tensors)
        hit = _OUT_TREES[key] = (traced.out_tree, [a.strong() for a in traced.graph.out_avals])
    return hit


def _traced_static(spec: str, tensors: list[Any]) -> Any:
    key = ("static", spec) + tuple((_static_shape(t), t.dtype) for t in tensors)
    hit = _OUT_TREES.get(key)
    if hit is None:
        cf, args, kwargs = _rebuild(spec, _stand_ins(tensors))
        traced = cf.trace(*args, **kwargs)
        hit = _OUT_TREES[key] = (traced.out_tree, [a.strong() for a in traced.graph.out_avals])
    return hit


def _torch_sizes(shape: tuple[Any, ...], tensors: list[Any]) -> list[Any]:
    """``shape`` with xfront symbols replaced by the tensors' SymInts of the same name."""
    from xfront import _shapes

    if _shapes.is_static_shape(shape):
        return list(shape)
    env: dict[str, Any] = {}
    for t in tensors:
        for s in t.shape:
            name = _torch_symbol(s)
            if name is not None:
                env.setdefault(name, s)
    return list(_shapes.evaluate_shape(shape, env))


# gradient specs bound to one plan (``spec@n``): the fake and the real implementation, the
# autograd formula and the backward op all use that plan
_PLANS: dict[str, Any] = {}
_PLAN_SPECS: dict[tuple, str] = {}


def _grad_spec(spec: str, tensors: list[Any]) -> str:
    """A spec bound to the GradPlan for these (fake) tensors: polymorphic in torch's symbolic
    sizes when xfront's shape rules allow it (NOTE [Polymorphic gradient plans] in
    bridges/_autograd.py), else planned for the specialized sizes."""
    from xfront import _errors, _shapes
    from xfront.bridges import _autograd

    plan = None
    stand_ins = _stand_ins(tensors, True)
    if all(_shapes.is_static_shape(a.shape) for a in stand_ins):
        # real tensors (an eager backend runs this at run time): a polymorphic plan of this
        # spec that their sizes fit serves them too
        for pspec in _POLY_SPECS.get(spec, ()):
            if _fits(_PLANS[pspec], spec, tensors):
                return pspec
    else:
        try:
            plan = _plan(spec, tensors, stand_ins)
        except (_errors.XfrontError, TypeError, _autograd._NotPolymorphic):
            plan = None  # (a genuine error recurs below)
    if plan is None:
        plan = _plan(spec, tensors)
    key = (spec, id(plan))
    pspec = _PLAN_SPECS.get(key)
    if pspec is None:
        pspec = _PLAN_SPECS[key] = f"{spec}@{len(_PLANS)}"
        _SPECS[pspec] = _SPECS[spec]
        _PLANS[pspec] = plan
        if plan.poly:
            _POLY_SPECS.setdefault(spec, []).append(pspec)
    return pspec


_POLY_SPECS: dict[str, list[str]] = {}  # spec -> its polymorphic ``spec@n``


def _tensor_avals(plan: Any, spec: str) -> list[Any]:
    """The plan's input avals at the spec's tensor leaves (in the order of its tensors)."""
    invars = plan.vjp.graph.invars
    return [invars[i].aval for i, v in enumerate(_SPECS[spec][2]) if v is None]


def _plain_symbol(d: Any) -> str | None:
    """The name of an xfront dimension that is one bare symbol (``b``, not ``2*b``), else None."""
    from xfront import _shapes

    if isinstance(d, _shapes.Dim) and len(d.symbols) == 1:
        name = next(iter(d.symbols))
        if d == _shapes.symbol(name):
            return name
    return None


def _fits(plan: Any, spec: str, tensors: list[Any]) -> bool:
    """Whether concrete tensors fit a polymorphic plan's symbolic avals (and dtypes)."""
    from xfront import _shapes

    env: dict[str, int] = {}
    for t, a in zip(tensors, _tensor_avals(plan, spec)):
        if len(a.shape) != t.dim() or ADAPTER.dtype(t.dtype, "compile") is not a.dtype:
            return False
        for d, n in zip(a.shape, t.shape):
            if isinstance(d, _shapes.Dim):
                name = _plain_symbol(d)
                if name is None or env.setdefault(name, int(n)) != int(n):
                    return False
            elif d != int(n):
                return False
    return True


def _size_env(plan: Any, spec: str, tensors: list[Any]) -> dict[str, Any]:
    """symbol -> the tensors' size (a SymInt or an int) for a polymorphic plan."""
    env: dict[str, Any] = {}
    for t, a in zip(tensors, _tensor_avals(plan, spec)):
        for d, n in zip(a.shape, t.shape):
            name = _plain_symbol(d)
            if name is not None:
                env.setdefault(name, n)
    return env


def _plan(spec: str, tensors: list[Any], stand_ins: list[Any] | None = None) -> Any:
    """The GradPlan of a gradient spec for these tensors' shapes (real or fake tensors)."""
    from xfront._device import get_device
    from xfront.bridges import _autograd
    from xfront.bridges._dlpack import device_for

    if spec in _PLANS:
        return _PLANS[spec]
    cf, args, kwargs = _rebuild(spec, stand_ins or _stand_ins(tensors))
    dyn, statics, treedef, avals, dev = cf._abstract(args, kwargs)
    if dev is None:
        dev = device_for(*ADAPTER.device_of(tensors[0])) if tensors else get_device(None)
    return _autograd.plan_for(cf, dyn, statics, treedef, avals, dev, _leaf_wrt(spec))


_TORCH_OF: dict[_dtypes.DType, Any] = {}


def torch_dtype(d: _dtypes.DType) -> Any:
    if not _TORCH_OF:
        _TORCH_OF.update({v: k for k, v in _dtype_table().items()})
    return _TORCH_OF[d]


def _fresh(outs: list[Any], ins: list[Any]) -> list[Any]:
    # outputs must be fresh tensors: one that shares memory with an input or an earlier output
    # is cloned
    ptrs = {t.data_ptr() for t in ins if t.numel()}
    out = []
    for o in outs:
        if o.numel():
            if o.data_ptr() in ptrs:
                o = o.clone()
            ptrs.add(o.data_ptr())
        out.append(o)
    return out


def _call_impl(spec: str, args: list[Any]) -> list[Any]:
    from xfront._tree import tree_flatten
    from xfront.bridges import _autograd
    from xfront.bridges._dlpack import export_buffer

    cf, a, kw = _rebuild(spec, args)
    wrt = _leaf_wrt(spec)
    with _t().no_grad():  # the op's autograd formula handles gradients, not the import
        if not wrt:
            return _fresh(tree_flatten(cf._call(a, kw, "torch"))[0], args)
        _, _, template, _, _ = _SPECS[spec]
        it = iter(args)
        leaves = [next(it) if v is None else v for v in template]
        call = _autograd.GradCall(cf, a, kw, ADAPTER, leaves, list(wrt))
        call.plan = _PLANS.get(spec)  # (the plan the fake implementation used)
        outs = call.forward()
        res = [export_buffer(r._buf, call.device, ADAPTER, owned=True) for r in call.residuals]
    return _fresh(outs + res, args)


def _call_fake(spec: str, args: list[Any]) -> list[Any]:
    torch = _t()
    if spec in _PLANS:
        plan = _PLANS[spec]
        avals = plan.out_avals + plan.residual_avals
    else:
        _, avals = _traced(spec, args)
        if _leaf_wrt(spec):
            avals = avals + _plan(spec, args).residual_avals
    dev = args[0].device if args else torch.device("cpu")
    return [torch.empty(_torch_sizes(a.shape, args), dtype=torch_dtype(a.dtype), device=dev)
            for a in avals]


# the backward op's registered signatures: spec -> (plan, forward spec, tensor leaf positions)
_BWD_SPECS: dict[str, tuple[Any, str, list[int]]] = {}
_BWD_IDS: dict[tuple, str] = {}


def _call_setup(ctx: Any, inputs: tuple, output: Any) -> None:
    spec, tensors = inputs
    ctx.bwd_spec = None
    if not _leaf_wrt(spec):
        return
    plan = _plan(spec, tensors)
    # (a polymorphic plan's spec serves every size: no specializing signature)
    key = (spec, id(plan)) if plan.poly else (_signature(spec, tensors), id(plan))
    bwd_spec = _BWD_IDS.get(key)
    if bwd_spec is None:
        template = _SPECS[spec][2]
        pos = [i for i, v in enumerate(template) if v is None]
        bwd_spec = f"{spec}/backward#{len(_BWD_SPECS)}"
        _BWD_IDS[key] = bwd_spec
        _BWD_SPECS[bwd_spec] = (plan, spec, pos)
    _, _, pos = _BWD_SPECS[bwd_spec]
    need = plan.bwd_primals
    saved = [t for t, i in zip(tensors, pos) if i in need]
    residuals = list(output[plan.n_out:])
    ctx.save_for_backward(*saved, *residuals)
    ctx.bwd_spec = bwd_spec
    ctx.n_tensors = len(tensors)
    ctx.device = tensors[0].device
    ctx.wrt = [k for k, i in enumerate(pos) if plan.wrt[i]]
    ctx.sizes = _size_env(plan, spec, tensors) if plan.poly else {}
    fixed = residuals + [o for o, f in zip(output[:plan.n_out], plan.float_out) if not f]
    if fixed:
        ctx.mark_non_differentiable(*fixed)


def _call_backward(ctx: Any, grads: Any) -> Any:
    torch = _t()
    plan = _BWD_SPECS[ctx.bwd_spec][0]
    cts = []
    from xfront import _shapes

    for g, a in zip(list(grads)[:plan.n_out], plan.out_avals):
        shape = list(_shapes.evaluate_shape(a.shape, ctx.sizes))
        cts.append(g if g is not None else
                   torch.zeros(shape, dtype=torch_dtype(a.dtype), device=ctx.device))
    got = _bwd_op(ctx.bwd_spec, list(ctx.saved_tensors) + cts)
    out: list[Any] = [None] * ctx.n_tensors
    for k, g in zip(ctx.wrt, got):
        out[k] = g
    return None, out


def _bwd_impl(spec: str, args: list[Any]) -> list[Any]:
    from xfront._eager import array_from_numpy
    from xfront.bridges import _autograd
    from xfront.bridges._dlpack import export_buffer, import_array

    import numpy as np

    plan, fwd_spec, pos = _BWD_SPECS[spec]
    _, _, template, _, _ = _SPECS[fwd_spec]
    need = sorted(plan.bwd_primals)
    dev = plan.device
    n_saved = sum(1 for i in pos if i in plan.bwd_primals)
    n_res = len(plan.residual_avals)
    it = iter(args)
    with _t().no_grad():
        primals: list[Any] = [None] * len(template)
        for i in need:
            if template[i] is None:
                primals[i] = import_array(next(it), ADAPTER, "backward", dev)
            else:  # a Python or NumPy value baked into the spec
                aval = plan.vjp.graph.invars[i].aval
                primals[i] = array_from_numpy(np.asarray(template[i], dtype=aval.dtype.np), dev)
        assert len(args) == n_saved + n_res + plan.n_out, "internal: backward arity"
        res = [import_array(next(it), ADAPTER, "backward", dev) for _ in range(n_res)]
        cts = []
        for f in plan.float_out:  # integer outputs have no cotangent
            g = next(it)
            cts.append(import_array(g, ADAPTER, "backward", dev) if f else None)
        got = plan.backward(primals, res, cts)
        outs = [export_buffer(got[i]._buf, dev, ADAPTER, owned=True)
                for i in pos if plan.wrt[i]]
    return _fresh(outs, args)


def _bwd_fake(spec: str, args: list[Any]) -> list[Any]:
    torch = _t()
    plan, _, pos = _BWD_SPECS[spec]
    dev = args[0].device if args else torch.device("cpu")
    avals = [plan.vjp.graph.invars[i].aval for i in pos if plan.wrt[i]]
    return [torch.empty(_torch_sizes(a.shape, args), dtype=torch_dtype(a.dtype), device=dev)
            for a in avals]
