"""Compiled functions inside framework autograd: torch autograd and TF GradientTape.

Imports: numpy, _array, _autodiff, _aval, _errors, _tree, bridges._dlpack; _compile and the
runtime adapter lazily. Framework-neutral: the glue that records one call as one op of torch's
autograd graph or of a TF tape lives in the adapters (``record_call`` in bridges/torch.py and
bridges/tensorflow.py), and arrays cross only through bridges._dlpack.

NOTE [Gradients through framework autograd]
    A compiled call takes the autograd route when one of its arguments is *recorded* by its
    framework's autograd: a torch tensor that requires grad while grad mode is on, or a TF
    tensor (a trainable variable's value) that an active ``GradientTape`` watches. The adapter's
    ``prepare`` raises ``NeedsAutograd`` for such an input (no extra work on the plain call
    path), and ``CompiledFunction._call`` hands the call to ``call`` here:

    * ``wrt`` is the mask of recorded floating (or complex) leaves; integer/bool tensors, Python
      numbers, NumPy and xfront arrays are never differentiated.
    * A ``GradPlan`` per (call signature, ``wrt``) holds the ``CompiledVJP`` of the traced graph
      (xfront/_autodiff.py): the forward that also returns residuals, and the backward that maps
      (saved primals, residuals, output cotangents) to the cotangents of ``wrt``. Nothing is
      recomputed in the backward pass. Plans are cached on the compiled function like its
      executables, and each program is compiled on first use.
    * The adapter's ``record_call`` runs the call as one framework op (a
      ``torch.autograd.Function``; ``tf.custom_gradient``) whose forward runs ``GradCall.forward``
      and whose backward runs ``GradCall.backward``. Inputs, outputs, cotangents and gradients
      cross zero-copy; residuals stay xfront buffers between the two passes.
    * Outputs come back in the recording framework (whatever the other inputs are); integer and
      bool outputs carry no gradient. The backward is not itself recorded (no gradients of
      gradients through the framework; ``xf.grad`` inside the function composes instead).

    Calls without recorded inputs never get here: they run the plain forward executable and pay
    nothing for differentiation. Inside ``torch.compile`` and ``tf.function`` the same plans are
    staged as graph ops (``xfront::call`` with its autograd formula; XlaCallModule pairs under
    ``tf.custom_gradient``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xfront import _errors
from xfront._array import Array
from xfront._autodiff import CompiledVJP, compile_vjp, differentiable
from xfront._aval import AbstractArray
from xfront._tree import TreeDef, tree_flatten, tree_unflatten
from xfront.bridges._dlpack import Adapter, export_buffer, import_array

_errors.register_internal_dir(__file__)

__all__ = ["GradCall", "GradPlan", "call", "plan_for"]


def _rt() -> Any:
    from xfront.lowering import runtime

    return runtime


class GradPlan:
    """The forward-with-residuals and backward programs of one compiled function, for one call
    signature and one ``wrt`` mask (programs are compiled on first use)."""

    __slots__ = ("vjp", "out_tree", "out_avals", "n_out", "device", "wrt", "float_out",
                 "_bwd_set")

    def __init__(self, traced: Any, wrt: tuple[bool, ...]):
        graph = traced.graph
        self.vjp: CompiledVJP = compile_vjp(graph, wrt, traced.device)
        self.out_tree: TreeDef = traced.out_tree
        self.out_avals = [a.strong() for a in graph.out_avals]
        self.n_out = len(self.out_avals)
        self.device = traced.device
        self.wrt = wrt
        self.float_out = [differentiable(a) for a in self.out_avals]
        self._bwd_set: frozenset[int] | None = None

    @property
    def bwd_primals(self) -> frozenset[int]:
        """Indices of the inputs the backward program reads."""
        if self._bwd_set is None:
            self._bwd_set = frozenset(self.vjp.graphs.bwd_primals)
        return self._bwd_set

    @property
    def residual_avals(self) -> list[AbstractArray]:
        return [a.strong() for a in self.vjp.graphs.forward.out_avals[self.n_out:]]

    def forward(self, arrays: Sequence[Array]) -> tuple[list[Array], list[Array]]:
        """(outputs, residuals). Every output is a fresh buffer (XLA copies outputs that are
        inputs, constants or other outputs), so handing it to a mutable framework is safe."""
        return self.vjp.forward(*arrays)

    def backward(self, primals: Sequence[Array | None], residuals: Sequence[Array],
                 cts: Sequence[Array | None]) -> list[Array | None]:
        """Cotangents of the ``wrt`` inputs (None elsewhere); ``cts`` has one entry per output
        (None: zero)."""
        return self.vjp.backward(primals, residuals, cts)


def plan_for(cf: Any, dyn: Any, statics: Any, treedef: TreeDef, avals: list[AbstractArray],
             dev: Any, wrt: tuple[bool, ...]) -> GradPlan:
    """The cached GradPlan of compiled function ``cf`` for this signature (traces on a miss,
    reusing the graph of the plain executable when that is cached)."""
    key = (treedef, tuple(avals), statics, dev)
    plans = cf._grad_plans
    plan = plans.get((key, wrt))
    if plan is None:
        def build() -> GradPlan:
            entry = cf._cache.get(key)
            if entry is not None:
                traced = entry.traced
            else:
                cf._check_arity(dyn, statics)
                traced = cf._trace(dyn, statics, treedef, avals, dev)
            return GradPlan(traced, wrt)

        plan = cf._flights.get(plans, (key, wrt), build)[0]  # one trace across threads
    return plan


class GradCall:
    """One call on the autograd route: its arguments, and (after ``forward``) what ``backward``
    needs.

    ``tensors`` are the leaves of the recording framework, in order: the framework glue passes
    them through its autograd op, so that it knows which inputs the op depends on, and
    ``backward`` returns one gradient (or None) for each of them.
    """

    __slots__ = ("cf", "args", "kwargs", "adapter", "wrt", "tensor_pos", "tensors", "plan",
                 "primals", "residuals", "device")

    def __init__(self, cf: Any, args: tuple, kwargs: dict, adapter: Adapter, leaves: list[Any],
                 recorded: list[bool]):
        self.cf = cf
        self.args = args
        self.kwargs = kwargs
        self.adapter = adapter
        self.wrt = tuple(recorded)
        from xfront.bridges import adapter_for_type

        self.tensor_pos = [i for i, x in enumerate(leaves)
                           if not isinstance(x, Array) and adapter_for_type(type(x)) is adapter]
        self.tensors = [leaves[i] for i in self.tensor_pos]
        self.plan: GradPlan | None = None
        self.primals: list[Array | None] = []
        self.residuals: list[Array] = []

    @property
    def saved_tensor_index(self) -> list[int]:
        """Positions in ``tensors`` of the inputs the backward reads (valid after forward)."""
        need = self.plan.bwd_primals  # type: ignore[union-attr]
        return [k for k, i in enumerate(self.tensor_pos) if i in need]

    def forward(self) -> list[Any]:
        """Run the forward program; returns the flat outputs as framework arrays.

        Call it where the framework does not record (inside the autograd op's forward)."""
        from xfront._compile import _leaf_path

        cf = self.cf
        rt = _rt()
        dyn, statics, leaves, treedef, items, _, dev, _ = cf._flatten_inputs(self.args,
                                                                            self.kwargs)
        if dev is None:
            from xfront._device import get_device

            dev = get_device(None)
        avals = [v.aval if isinstance(v, Array) else v for v in items]
        if len(avals) != len(self.wrt):
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"internal error: {len(avals)} argument leaves, but {len(self.wrt)} "
                              f"in the gradient mask of `{cf.__name__}`")
        plan = self.plan = plan_for(cf, dyn, statics, treedef, avals, dev, self.wrt)
        need = plan.bwd_primals
        arrays: list[Array] = []
        for i, (leaf, v) in enumerate(zip(leaves, items)):
            if isinstance(v, Array):
                if v._device is not dev and v._device != dev:
                    v = v.to_device(dev)
                arrays.append(v)
                continue
            try:  # NumPy and Python values; copied when the backward reads them later
                host = leaf if type(leaf) is np.ndarray else np.asarray(leaf, dtype=v.dtype.np)
            except (TypeError, ValueError) as e:
                raise _errors.err(_errors.ArgumentError, "compile",
                                  f"argument {_leaf_path(dyn, i)}: {e}") from None
            arrays.append(Array._new(rt.put(host, dev.rt, copy=i in need), v, dev))
        outs, res = plan.forward(arrays)
        # inputs may borrow caller memory: the residuals must be complete before we return
        rt.block_all([r._buf for r in res])
        self.primals = [a if i in need else None for i, a in enumerate(arrays)]
        self.residuals = res
        self.device = dev
        ad = self.adapter
        return [export_buffer(o._buf, dev, ad, owned=True) for o in outs]

    def backward(self, cts: Sequence[Any]) -> list[Any]:
        """Gradients (framework arrays, or None) for ``tensors`` from the output cotangents
        (framework arrays, or None for zero)."""
        plan = self.plan
        assert plan is not None, "internal: backward before forward"
        ad = self.adapter
        dev = self.device
        ct_arrays: list[Array | None] = []
        for j, c in enumerate(cts):
            if c is None or not plan.float_out[j]:
                ct_arrays.append(None)
                continue
            arr = import_array(c, ad, "backward", dev)
            want = plan.out_avals[j]
            if arr.aval != want:
                raise _errors.err(_errors.ArgumentError, "backward",
                                  f"the gradient of output {j} of `{self.cf.__name__}` is "
                                  f"{arr.aval.short}, but the output is {want.short}")
            ct_arrays.append(arr)
        if all(c is None for c in ct_arrays):
            return [None] * len(self.tensor_pos)
        got = plan.backward(self.primals, self.residuals, ct_arrays)
        return [None if got[i] is None else export_buffer(got[i]._buf, dev, ad, owned=True)
                for i in self.tensor_pos]

    def unflatten(self, outs: Sequence[Any]) -> Any:
        plan = self.plan
        assert plan is not None
        return tree_unflatten(plan.out_tree, list(outs))


def call(cf: Any, args: tuple, kwargs: dict, returns: str | None, adapter: Adapter) -> Any:
    """A compiled call with inputs that ``adapter``'s framework records (see the NOTE)."""
    from xfront.bridges import adapter_for_type

    dyn, statics = cf._split(args, kwargs)
    leaves, treedef = tree_flatten(dyn)
    recorded = []
    swapped = False
    for i, x in enumerate(leaves):
        ad = None if isinstance(x, Array) else adapter_for_type(type(x))
        if ad is adapter:
            v = ad.autograd_value(x)
            if v is not x:
                leaves[i] = x = v
                swapped = True
        rec = ad is not None and ad.recorded(x)
        if rec and ad is not adapter:
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"`{cf.__name__}` got inputs recorded by both {adapter.name}'s "
                              f"and {ad.name}'s autograd; one call can join one framework's "
                              "autograd", "detach the inputs of one framework")
        recorded.append(rec)
    if returns not in (None, adapter.name):
        raise _errors.err(_errors.ArgumentError, "compile",
                          f"`{cf.__name__}` was compiled with returns={returns!r}, but it got "
                          f"inputs recorded by {adapter.name}'s autograd, whose gradients need "
                          f"{adapter.name} outputs", f"drop returns=, or detach the inputs")
    if swapped:
        args, kwargs = cf._merge(tree_unflatten(treedef, leaves), statics)
    gc = GradCall(cf, args, kwargs, adapter, leaves, recorded)
    outs = adapter.record_call(gc)
    return gc.unflatten(outs)
