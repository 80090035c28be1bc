"""The TensorFlow adapter: dtypes and devices of TF tensors, and xfront calls inside tf.function.

Imports: numpy, _dtypes, _errors, _tree, bridges._dlpack; tensorflow and the runtime adapter
lazily (inside functions). The transfer itself is bridges._dlpack's; this module only decides
what TF must do first:

* The dtype is checked *before* TF is asked for a capsule: ``__dlpack__`` / ``to_dlpack`` of a
  string tensor aborts the process (a failed CHECK inside TF), so strings, resources, variants
  and quantized types raise a DTypeError here and never reach TF's exporter.
* ``tf.Variable`` (resource variables) enter as their current value: ``read_value()`` shares the
  variable's buffer, and TF copies on the next ``assign`` while xfront still holds it, so the
  xfront array is a zero-copy snapshot.
* TF tensors are always dense and row-major, so no layout check is needed; TF's exporter waits
  for the data itself (it takes no stream).
* Symbolic tensors (inside ``tf.function``) raise ``NeedsGraphCall``: ``compile`` then stages
  the call into the TF graph (``graph_call``), as an ``XlaCallModule`` op that carries the
  lowered StableHLO module (TF has no public raw op for it; ``tfxla.call_module`` from
  ``tensorflow.compiler.tf2xla.python.xla`` builds it, as jax2tf does). That op also runs under
  ``jit_compile=True`` and survives ``tf.saved_model.save``.
* A floating tensor that an active ``GradientTape`` watches raises ``NeedsAutograd``: a compiled
  call then runs under ``tf.custom_gradient`` with xfront's forward-with-residuals and VJP
  programs (``record_call``; NOTE [Gradients through framework autograd] in
  bridges/_autograd.py). XlaCallModule has no gradient of its own, so inside ``tf.function``
  the backward is a second staged module under ``tf.custom_gradient``
  (NOTE [Gradients inside tf.function]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _dtypes, _errors
from xfront._device import Device
from xfront.bridges._dlpack import DLPACK, Adapter, NeedsAutograd, NeedsGraphCall

_errors.register_internal_dir(__file__)

_tf: Any = None


def _t() -> Any:
    global _tf
    if _tf is None:
        import tensorflow as tf

        _tf = tf
    return _tf


def _dtype_table() -> dict[Any, _dtypes.DType]:
    tf = _t()
    return {
        tf.bool: _dtypes.bool_, tf.int8: _dtypes.int8, tf.int16: _dtypes.int16,
        tf.int32: _dtypes.int32, tf.int64: _dtypes.int64, tf.uint8: _dtypes.uint8,
        tf.uint16: _dtypes.uint16, tf.uint32: _dtypes.uint32, tf.uint64: _dtypes.uint64,
        tf.float16: _dtypes.float16, tf.bfloat16: _dtypes.bfloat16, tf.float32: _dtypes.float32,
        tf.float64: _dtypes.float64, tf.complex64: _dtypes.complex64,
        tf.complex128: _dtypes.complex128,
    }


class TensorFlowAdapter(Adapter):
    name = "tensorflow"
    route = DLPACK
    borrows = False  # TF tensors are immutable
    writable_export = False

    def __init__(self) -> None:
        self._dtypes: dict[Any, _dtypes.DType] | None = None
        self._eager: Any = None
        self._devices: dict[str, tuple[str, int]] = {}
        self._could_record: Any = None

    def _setup(self) -> None:
        tf = _t()
        from tensorflow.python.framework import ops

        exclude_from_autograph()

        self._dtypes = _dtype_table()
        self._eager = ops.EagerTensor
        self._to_dlpack = tf.experimental.dlpack.to_dlpack
        self._from_dlpack = tf.experimental.dlpack.from_dlpack
        # whether a GradientTape records a tensor: TF has no public query for it
        try:
            from tensorflow.python.eager import record
        except ImportError:  # pragma: no cover (moved): tapes never see xfront calls
            self._could_record = lambda: False
        else:
            self._could_record = record.could_possibly_record
            self._should_record = record.should_record_backprop
            self._stop_recording = record.stop_recording

    def dtype(self, td: Any, op: str) -> _dtypes.DType:
        if self._dtypes is None:
            self._setup()
        d = self._dtypes.get(td)  # type: ignore[union-attr]
        if d is None:
            raise _errors.err(_errors.DTypeError, op,
                              f"the TensorFlow tensor has dtype {td.name}, which has no xfront "
                              "equivalent", "supported: " + ", ".join(
                                  sorted(d.name for d in _dtypes.ALL)))
        return d

    def prepare(self, t: Any, op: str) -> tuple[Any, _dtypes.DType, bool, bool]:
        if self._dtypes is None:
            self._setup()
        if type(t) is not self._eager:
            t = self._concrete(t, op)
        # NOTE: the dtype check must come before any DLPack call (string tensors abort TF)
        d = self._dtypes.get(t.dtype) or self.dtype(t.dtype, op)  # type: ignore[union-attr]
        if self._could_record() and d.kind in "fc" and self._should_record([t]):
            raise NeedsAutograd(self)
        return t, d, True, False

    def _concrete(self, t: Any, op: str) -> Any:
        tf = _t()
        if tf.is_symbolic_tensor(t):
            raise NeedsGraphCall
        if hasattr(t, "read_value"):  # tf.Variable: its current value (copy-on-write snapshot)
            if t.dtype not in self._dtypes:  # type: ignore[operator]
                self.dtype(t.dtype, op)
            t = t.read_value()
        else:
            try:
                t = tf.convert_to_tensor(t)
            except (TypeError, ValueError) as e:
                raise _errors.err(_errors.ArgumentError, op,
                                  f"cannot take a {type(t).__name__} as a tensor: {e}") from None
        if type(t) is not self._eager:
            raise NeedsGraphCall
        return t

    def device_of(self, t: Any) -> tuple[str, int]:
        name = t.device
        hit = self._devices.get(name)
        if hit is None:
            kind, _, idx = name.rpartition("device:")[2].partition(":")
            hit = ("gpu", int(idx or 0)) if kind.upper() == "GPU" else ("cpu", 0)
            if kind.upper() not in ("CPU", "GPU"):
                raise _errors.err(_errors.DeviceError, "asarray",
                                  f"the TensorFlow tensor is on {name}, which xfront cannot "
                                  "import", "copy it to the CPU first (tf.identity under "
                                  "tf.device('/CPU:0'))")
            self._devices[name] = hit
        return hit

    def capsule(self, t: Any, stream: Any) -> Any:
        return self._to_dlpack(t)  # TF waits for the data itself; it takes no stream

    def consumer_stream(self, dev: Device) -> Any:
        return None  # TF's importer takes no stream: the runtime waits on the host

    def synchronize(self, t: Any, op: str) -> None:
        pass  # TF's exporter waits for the tensor's value itself (it takes no stream)

    def from_capsule(self, capsule: Any, dev: Device) -> Any:
        if self._dtypes is None:
            self._setup()
        return self._from_dlpack(capsule)

    # --- autograd -----------------------------------------------------------------------------
    def autograd_value(self, t: Any) -> Any:
        # a variable (TF or Keras) enters as its value, read here so that the tape records the
        # read (and its gradient reaches the variable); nothing inside the recorded op touches
        # variables
        if self._dtypes is None:
            self._setup()
        if type(t) is self._eager:
            return t
        return t.read_value() if hasattr(t, "read_value") else _t().convert_to_tensor(t)

    def recorded(self, t: Any) -> bool:
        if self._dtypes is None:
            self._setup()
        return bool((t.dtype.is_floating or t.dtype.is_complex) and self._could_record()
                    and self._should_record([t]))

    def untracked(self) -> Any:
        if self._dtypes is None:
            self._setup()
        return self._stop_recording()

    def autograd_error(self, t: Any, op: str) -> _errors.XfrontError:
        return _errors.err(
            _errors.ArgumentError, op,
            f"the TensorFlow tensor ({tuple(t.shape)}, {t.dtype.name}) is watched by a "
            f"GradientTape, but xfront.{op} is not recorded on tapes (its xfront result could "
            "not carry the gradient)",
            "call the code through an xf.compile'd function (its calls are recorded, with "
            "xfront's VJP as the gradient), or pass tf.stop_gradient(x)")

    def record_call(self, call: Any) -> list[Any]:
        tf = _t()
        untracked = self.untracked

        @tf.custom_gradient
        def xfront_call(*tensors: Any) -> Any:
            with untracked():
                outs = call.forward()

            def grad(*dys: Any) -> list[Any]:
                with untracked():
                    return call.backward(dys)

            return outs, grad

        return list(xfront_call(*call.tensors))


ADAPTER = TensorFlowAdapter()


def exclude_from_autograph() -> None:
    """Tell AutoGraph not to rewrite xfront's own code when a tf.function calls into it.

    xfront's Python control flow never depends on tensors, so AutoGraph's rewriting only costs
    time and warnings. Uses AutoGraph's conversion rules (internal API; skipped if it moved).
    """
    try:
        from tensorflow.python.autograph.core import config
    except ImportError:  # pragma: no cover
        return
    rule = config.DoNotConvert("xfront")
    if not any(getattr(r, "_prefix", None) == "xfront" for r in config.CONVERSION_RULES):
        config.CONVERSION_RULES = (rule,) + tuple(config.CONVERSION_RULES)


def tf_dtype(d: _dtypes.DType) -> Any:
    if ADAPTER._dtypes is None:
        ADAPTER._setup()
    for k, v in ADAPTER._dtypes.items():  # type: ignore[union-attr]
        if v is d:
            return k
    raise KeyError(d)


# --- xfront functions inside tf.function -------------------------------------------------------
#
# NOTE [Gradients inside tf.function]
#     The XlaCallModule op has no registered gradient (``tape.gradient`` raises a LookupError
#     for it), and inside a graph TF
#     decides only after tracing whether a gradient is taken. So a staged call whose inputs
#     include a floating TF tensor is staged under ``tf.custom_gradient`` as two modules: the
#     forward that also returns the residuals, and the backward (xfront's VJP program: saved
#     inputs, residuals and output cotangents in, input cotangents out), which TF stages only
#     when a gradient is requested (GradientTape inside or around the function, Keras'
#     train_step). Both are lowered from the plan that eager calls use (bridges/_autograd.py).
#     Without a gradient the residuals are unused outputs: under ``jit_compile=True`` XLA drops
#     them, otherwise they are written out once (no extra computation: they are values the
#     forward computes anyway). Calls whose TF inputs are all integer or bool stage the plain
#     module.

_GRAPH_CACHE: dict[Any, tuple[Any, list[Any], Any]] = {}


def _platform() -> tuple[str, str]:
    tf = _t()
    return ("gpu", "CUDA") if tf.config.list_logical_devices("GPU") else ("cpu", "CPU")


def _staged(artifact: bytes, consts: list[np.ndarray], inputs: list[Any], out_avals: list[Any],
            tf_platform: str) -> list[Any]:
    tf = _t()
    from tensorflow.compiler.tf2xla.python import xla as tfxla

    return list(tfxla.call_module(
        [tf.constant(c) for c in consts] + list(inputs), version=9, module=artifact,
        Tout=[tf_dtype(a.dtype) for a in out_avals],
        Sout=[[d if type(d) is int else None for d in a.shape] for a in out_avals],
        platforms=[tf_platform]))


def _module(graph: Any, platform: str) -> tuple[bytes, list[np.ndarray]]:
    from xfront.lowering import lower_graph, runtime

    artifact = runtime.portable_artifact(lower_graph(graph, platform=platform).text)
    return artifact, [np.asarray(c) for c in graph.consts]


def _symbolic_shape(spec: Any, i: int, dims: list[Any]) -> tuple[Any, ...]:
    """An argument's shape with TF's unknown (None) dimensions made symbolic.

    NOTE [Unknown TF dimensions]
        Inside ``tf.function`` (and Keras, which builds layers on ``(None, ...)``), an unknown
        dimension becomes a symbolic one (xfront/_shapes.py) and the call stages one
        polymorphic module into XlaCallModule, which refines it to the run-time shapes. Names:
        the axis's symbol in ``compile(polymorphic=...)`` when given; otherwise an unknown axis
        0 is the batch symbol ``batch``, shared by every argument (so batched arguments
        broadcast together), and any other unknown axis gets its own symbol ``d<arg>_<axis>``.
        Arguments that share a symbol are checked to agree at run time (a TF assertion
        naming the symbol and both arguments).
    """
    from xfront import _shapes

    if None not in dims:
        return tuple(dims)
    out: list[Any] = []
    for axis, d in enumerate(dims):
        if d is not None:
            out.append(d)
        elif spec is not None and axis < len(spec) and spec[axis]:
            out.append(_shapes.symbol(spec[axis]))
        else:
            out.append(_shapes.symbol("batch" if axis == 0 else f"d{i}_{axis}"))
    return tuple(out)


def _check_symbol_sizes(cf: Any, avals: list[Any], inputs: list[Any]) -> list[Any]:
    """Run-time checks that every axis of one symbol has one size (NOTE [Unknown TF
    dimensions]): without them, TF inputs whose unknown sizes disagree would fail inside the
    module's shape refinement, with an error that names neither the symbol nor the argument.
    (Under ``jit_compile=True`` XLA drops TF assertions, and that error is what remains.)"""
    from xfront import _shapes

    tf = _t()
    first: dict[str, tuple[int, int]] = {}
    checks: dict[int, list[Any]] = {}
    for k, a in enumerate(avals):
        for axis, d in enumerate(a.shape):
            name = _shapes.symbol_name(d)
            if name is None:
                continue
            if name not in first:
                first[name] = (k, axis)
                continue
            k0, a0 = first[name]
            checks.setdefault(k, []).append(tf.debugging.assert_equal(
                tf.shape(inputs[k])[axis], tf.shape(inputs[k0])[a0],
                message=f"xfront.compile: `{cf.__name__}`: the symbolic dimension `{name}` "
                        f"(an unknown TF dimension) has one size per call, but argument #{k} "
                        f"(axis {axis}) and argument #{k0} (axis {a0}) differ"))
    if not checks:
        return inputs
    out = list(inputs)
    for k, deps in checks.items():
        with tf.control_dependencies(deps):
            out[k] = tf.identity(inputs[k])
    return out


def graph_call(cf: Any, args: tuple, kwargs: dict) -> Any:
    """Stage a compiled xfront function into the current TF graph (an XlaCallModule op; with
    floating TF inputs, a forward/backward pair under ``tf.custom_gradient``).

    Each array leaf must have a static shape; TF tensors, NumPy/xfront arrays and Python scalars
    may be mixed. Results are TF tensors of the graph.
    """
    tf = _t()

    from xfront import _compile
    from xfront._array import Array
    from xfront._aval import AbstractArray
    from xfront._device import default_device
    from xfront._tree import tree_flatten, tree_unflatten

    dyn, statics = cf._split(args, kwargs)
    leaves, treedef = tree_flatten(dyn)
    poly_specs: list[Any] | None = None
    avals: list[AbstractArray] = []
    inputs: list[Any] = []
    wrt: list[bool] = []
    for i, leaf in enumerate(leaves):
        weak = _compile.weak_scalar_aval(leaf)
        if weak is not None:
            avals.append(weak)
            inputs.append(tf.constant(leaf, dtype=tf_dtype(weak.dtype)))
            wrt.append(False)
            continue
        if isinstance(leaf, (Array, np.ndarray, np.generic)):
            leaf = np.asarray(leaf)
            d = _dtypes.dtype(leaf.dtype)
            avals.append(AbstractArray(leaf.shape, d))
            inputs.append(tf.constant(leaf, dtype=tf_dtype(d)))
            wrt.append(False)
            continue
        t = leaf.read_value() if hasattr(leaf, "read_value") else tf.convert_to_tensor(leaf)
        shape = t.shape
        if shape.rank is None:
            raise _errors.err(_errors.ShapeError, "compile",
                              f"argument #{i} of `{cf.__name__}` has a TF shape of unknown rank",
                              "give tf.function an input_signature with a rank")
        if poly_specs is None:  # (polymorphic= axis names, per leaf)
            poly_specs = (cf._leaf_poly_specs(dyn, statics, treedef) if cf._poly is not None
                          else [None] * len(leaves))
        aval = AbstractArray(_symbolic_shape(poly_specs[i], i, shape.as_list()),
                             ADAPTER.dtype(t.dtype, "compile"))
        avals.append(aval)
        inputs.append(t)
        wrt.append(aval.dtype.kind in "fc")
    inputs = _check_symbol_sizes(cf, avals, inputs)
    platform, tf_platform = _platform()
    grad = tuple(wrt) if any(wrt) else ()
    key = (id(cf), treedef, tuple(avals), statics, platform, grad)
    hit = _GRAPH_CACHE.get(key)
    if hit is None:
        # TF's XLA runs the module: lower for TF's platform, whatever xfront's runtime has
        traced = cf._trace(dyn, statics, treedef, avals, cf._device or default_device())
        if traced.donate:
            raise _errors.err(_errors.ArgumentError, "compile",
                              "donate_argnums has no meaning inside tf.function")
        if grad:
            from xfront.bridges._autograd import GradPlan

            plan = GradPlan(traced, grad)
            g = plan.vjp.graphs
            hit = (traced, plan, _module(g.forward, platform), _module(g.backward, platform))
        else:
            hit = (traced, None, _module(traced.graph, platform), None)
        _GRAPH_CACHE[key] = hit
    traced, plan, (artifact, consts), bwd = hit
    out_avals = [a.strong() for a in traced.graph.out_avals]
    if plan is None:
        outs = _staged(artifact, consts, inputs, out_avals, tf_platform)
    else:
        outs = _staged_with_gradient(plan, artifact, consts, bwd, inputs, tf_platform)
    return tree_unflatten(traced.out_tree, outs)


def _staged_with_gradient(plan: Any, artifact: bytes, consts: list[np.ndarray], bwd: Any,
                          inputs: list[Any], tf_platform: str) -> list[Any]:
    tf = _t()
    g = plan.vjp.graphs
    n = plan.n_out
    fwd_avals = [a.strong() for a in g.forward.out_avals]
    bwd_artifact, bwd_consts = bwd
    bwd_avals = [a.strong() for a in g.backward.out_avals]

    @tf.custom_gradient
    def xfront_call(*xs: Any) -> Any:
        res_all = _staged(artifact, consts, xs, fwd_avals, tf_platform)
        outs, residuals = res_all[:n], res_all[n:]

        def grad(*dys: Any) -> list[Any]:
            cts = [dys[j] if dys[j] is not None else tf.zeros_like(outs[j])
                   for j in g.ct_outs]
            got = _staged(bwd_artifact, bwd_consts,
                          [xs[i] for i in g.bwd_primals] + residuals + cts, bwd_avals,
                          tf_platform)
            out: list[Any] = [None] * len(xs)
            for i, ct in zip(g.wrt, got):
                out[i] = ct
            return out

        return outs, grad

    return list(xfront_call(*inputs))
