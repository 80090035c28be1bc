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
  ``S`` wait for its pending work (RUNTIME notes, section 8). Results go back with torch's
  current stream, which then waits for them.
* Tensors on torch-xla's ``xla`` device take the optional torch_xla path (sync first, then its
  DLPack capsule); never required by the default tests.

Also here: ``torch.compile`` support (NOTE [xfront functions inside torch.compile]), with the
autograd formula of the ``xfront::call`` op.
"""

from __future__ import annotations

from typing import Any

from xfront import _dtypes, _errors
from xfront._device import Device
from xfront.bridges._dlpack import DLPACK, Adapter, NeedsAutograd

_errors.register_internal_dir(__file__)

_torch: Any = None


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
#     the argument tree, Python-scalar and static leaves). The op's fake (meta) implementation
#     traces the xfront function abstractly (xfront's shape rules) to get the output shapes and
#     dtypes; its real implementation runs the compiled executable. The op is functional (no
#     mutation, outputs never alias inputs), so inductor may reorder or fuse around it.
#     xfront compiles per static shape: under ``dynamic=True`` the sizes an xfront function sees
#     are specialized (torch guards on them and recompiles when they change).

_SPECS: dict[str, tuple[Any, Any, list[Any], Any]] = {}
_SPEC_IDS: dict[tuple, str] = {}
_op: Any = None


def install_compile_hook() -> None:
    """Route xfront compiled functions through ``xfront::call`` under torch.compile."""
    global _op
    if _op is not None:
        return
    torch = _t()
    from xfront import _compile

    lib_op = torch.library.custom_op("xfront::call", mutates_args=(),
                                     schema="(str spec, Tensor[] args) -> Tensor[]")(_call_impl)
    lib_op.register_fake(_call_fake)
    # until the gradient bridge lands: the same refusal as in eager mode, not torch's generic one
    lib_op.register_autograd(_no_backward, setup_context=_no_context)
    _op = torch.ops.xfront.call
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
    key = (id(cf), treedef, tuple((type(v), v) if v is not None else None for v in template),
           statics)
    spec = _SPEC_IDS.get(key)
    if spec is None:
        spec = f"{cf.__name__}#{len(_SPECS)}"
        _SPEC_IDS[key] = spec
        _SPECS[spec] = (cf, treedef, template, statics)
    return spec, tensors


def _rebuild(spec: str, tensors: list[Any]) -> tuple[Any, tuple, dict]:
    from xfront._tree import tree_unflatten

    cf, treedef, template, statics = _SPECS[spec]
    it = iter(tensors)
    leaves = [next(it) if v is None else v for v in template]
    args, kwargs = cf._merge(tree_unflatten(treedef, leaves), statics)
    return cf, args, kwargs


def graph_call(key: str, args: tuple, kwargs: dict) -> Any:
    """What ``CompiledFunction.__call__`` does under torch.compile (not traced by Dynamo)."""
    from xfront import _compile
    from xfront._tree import tree_unflatten

    cf = _compile.function_by_key(key)
    spec, tensors = _split_leaves(cf, args, kwargs)
    outs = _op(spec, tensors)
    return tree_unflatten(_out_tree(spec, tensors), list(outs))


_OUT_TREES: dict[tuple, Any] = {}


def _static_shape(t: Any) -> tuple[int, ...]:
    # int() on a symbolic size specializes it (torch adds a guard and recompiles for other
    # sizes): xfront programs are compiled per static shape anyway
    return tuple(int(s) for s in t.shape)


def _signature(spec: str, tensors: list[Any]) -> tuple:
    return (spec,) + tuple((_static_shape(t), t.dtype) for t in tensors)


def _traced(spec: str, tensors: list[Any]) -> Any:
    key = _signature(spec, tensors)
    hit = _OUT_TREES.get(key)
    if hit is None:
        from xfront._aval import AbstractArray

        stand_ins = [AbstractArray(_static_shape(t), ADAPTER.dtype(t.dtype, "compile"))
                     for t in tensors]
        cf, args, kwargs = _rebuild(spec, stand_ins)
        traced = cf.trace(*args, **kwargs)
        hit = _OUT_TREES[key] = (traced.out_tree, [a.strong() for a in traced.graph.out_avals])
    return hit


def _out_tree(spec: str, tensors: list[Any]) -> Any:
    return _traced(spec, tensors)[0]


_TORCH_OF: dict[_dtypes.DType, Any] = {}


def torch_dtype(d: _dtypes.DType) -> Any:
    if not _TORCH_OF:
        _TORCH_OF.update({v: k for k, v in _dtype_table().items()})
    return _TORCH_OF[d]


def _call_impl(spec: str, args: list[Any]) -> list[Any]:
    from xfront._tree import tree_flatten

    cf, a, kw = _rebuild(spec, args)
    with _t().no_grad():  # gradients are refused by the op's autograd rule, not here
        outs = tree_flatten(cf._call(a, kw, "torch"))[0]
    # outputs must be fresh tensors: an output that is an input is cloned
    ptrs = {t.data_ptr() for t in args}
    return [o.clone() if o.data_ptr() in ptrs and o.numel() else o for o in outs]


def _no_context(ctx: Any, inputs: Any, output: Any) -> None:
    return None


def _no_backward(ctx: Any, grads: Any) -> Any:
    raise _errors.err(_errors.ArgumentError, "compile",
                      "a torch tensor that requires grad reached an xfront function under "
                      "torch.compile; xfront does not track torch gradients through this call yet",
                      "pass tensor.detach(), or call it under torch.no_grad()")


def _call_fake(spec: str, args: list[Any]) -> list[Any]:
    torch = _t()
    _, avals = _traced(spec, args)
    dev = args[0].device if args else torch.device("cpu")
    return [torch.empty(a.shape, dtype=torch_dtype(a.dtype), device=dev) for a in avals]
