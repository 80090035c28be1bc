"""Compiled functions inside framework autograd: torch autograd and TF GradientTape.

Imports: numpy, _array, _autodiff, _aval, _errors, _once, _tree, bridges._dlpack; _compile and the
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
from xfront._once import SingleFlight
from xfront._tree import TreeDef, tree_flatten, tree_unflatten
from xfront.bridges._dlpack import Adapter, export_buffer, import_array
from xfront._rt import rt as _rt

_errors.register_internal_dir(__file__)

__all__ = ["GradCall", "GradPlan", "PolyVJP", "bind_symbols", "call", "concrete_aval",
           "plan_for"]


# NOTE [Polymorphic gradient plans]
#     A plan traced on symbolic avals (``compile(polymorphic=...)``, or torch.compile's symbolic
#     sizes) serves every size: its forward-with-residuals and backward graphs are lowered once
#     each to modules with dynamic shapes and, per concrete input shapes, refined to static ones
#     and compiled (as ``CompiledFunction`` does for the plain forward). The backward module
#     reads each symbol's size from one of its inputs, so a plan is polymorphic only when every
#     symbol of the backward graph is the whole size of some axis of a backward input;
#     otherwise the call plans per concrete shape, as before. ``env`` (symbol -> size) comes
#     from the call's concrete arguments.

def bind_symbols(sym: Sequence[AbstractArray], concrete: Sequence[Any]) -> dict[str, int]:
    """symbol -> size from concrete shapes (tuples) matched to symbolic avals."""
    from xfront import _shapes

    env: dict[str, int] = {}
    for a, shape in zip(sym, concrete):
        for d, n in zip(a.shape, shape):
            name = _shapes.symbol_name(d)
            if name is not None:
                env.setdefault(name, int(n))
    return env


def concrete_aval(a: AbstractArray, env: dict[str, int]) -> AbstractArray:
    from xfront import _shapes

    if _shapes.is_static_shape(a.shape):
        return a.strong()
    return AbstractArray(_shapes.evaluate_shape(a.shape, env), a.dtype)


def _bindable(g: Any) -> bool:
    """Whether every symbol of graph ``g`` is the size of some axis of one of its inputs."""
    from xfront import _shapes

    ins = [v.aval.shape for v in (*g.constvars, *g.invars)]
    used = set(_shapes.symbols_of(d for s in ins for d in s))
    for e in g.eqns:
        for v in e.outputs:
            used |= _shapes.symbols_of(v.aval.shape)
    for a in g.out_avals:
        used |= _shapes.symbols_of(a.shape)
    return used <= set(_shapes.symbol_axes(ins))


class PolyVJP:
    """``CompiledVJP``'s forward/backward for a graph with symbolic avals (NOTE [Polymorphic
    gradient plans]): one lowering per program, one refined compile per concrete shape."""

    def __init__(self, graph: Any, device: Any, graphs: Any):
        self.graph = graph
        self.device = device
        self.graphs = graphs
        self._lowered: dict[str, Any] = {}
        self._progs: dict[tuple, tuple[Any, list[Any]]] = {}
        # NOTE [Single-flight caches] in xfront/_once.py: threads that meet a new shape at
        # once wait for one refinement and compile of it
        self._flights = SingleFlight()

    def _program(self, slot: str, g: Any, in_avals: list[AbstractArray],
                 env: dict[str, int]) -> tuple[Any, list[Any]]:
        key = (slot, tuple(in_avals))
        hit = self._progs.get(key)
        if hit is None:
            hit = self._flights.get(self._progs, key,
                                    lambda: self._build(slot, g, in_avals, env))[0]
        return hit

    def _build(self, slot: str, g: Any, in_avals: list[AbstractArray],
               env: dict[str, int]) -> tuple[Any, list[Any]]:
        from xfront._compile import _PolyProgram
        from xfront._eager import compile_lowered, load_consts
        from xfront.lowering import Lowered, lower_graph, specialize

        def lower_slot() -> Any:
            low = lower_graph(g, platform=self.device.platform)
            _rt().parse_verify(low.text)
            return low

        low = self._lowered.get(slot)
        if low is None:
            low = self._flights.get(self._lowered, slot, lower_slot)[0]
        outs = [concrete_aval(a, env) for a in g.out_avals]
        ins = [v.aval for v in g.constvars] + list(in_avals)

        def lower(alias_outputs: dict[int, int] | None = None,
                  extra_args: Sequence[AbstractArray] = ()) -> Any:
            text = _rt().refine_shapes(specialize(low, ins, outs, alias_outputs=alias_outputs,
                                                  extra_args=extra_args))
            return Lowered(text, g, ins + list(extra_args), outs, low.platform,
                           tuple(sorted(alias_outputs or ())))

        exe = compile_lowered(lower(), self.device)
        return (_PolyProgram(exe, g, self.device, (), outs, lower),
                load_consts(g.consts, self.device))

    def _run(self, slot: str, g: Any, arrays: Sequence[Array],
             env: dict[str, int]) -> list[Array]:
        prog, consts = self._program(slot, g, [a.aval.strong() for a in arrays], env)
        return prog.call(consts, arrays, "vjp")

    def forward(self, *primals: Array) -> tuple[list[Array], list[Array]]:
        env = bind_symbols([v.aval for v in self.graph.invars], [a.shape for a in primals])
        res = self._run("fwd", self.graphs.forward, primals, env)
        n = len(self.graph.outs)
        return res[:n], res[n:]

    def backward(self, primals: Sequence[Any], residuals: Sequence[Array],
                 cts: Sequence[Any], env: dict[str, int] | None) -> list[Array | None]:
        from xfront._eager import array_from_numpy

        g = self.graphs
        ins = [primals[i] for i in g.bwd_primals] + list(residuals)
        if env is None:  # read the sizes off the backward's inputs
            given = ins + [cts[j] for j in g.ct_outs]
            env = bind_symbols([v.aval for v, a in zip(g.backward.invars, given)
                                if a is not None], [a.shape for a in given if a is not None])
        for j in g.ct_outs:
            aval = concrete_aval(self.graph.outs[j].aval, env)
            ct = cts[j]
            ins.append(array_from_numpy(np.zeros(aval.shape, aval.dtype.np), self.device)
                       if ct is None else ct)
        got = self._run("bwd", g.backward, ins, env)
        out: list[Array | None] = [None] * len(self.graph.invars)
        for i, ct in zip(g.wrt, got):
            out[i] = ct
        return out


class GradPlan:
    """The forward-with-residuals and backward programs of one compiled function, for one call
    signature and one ``wrt`` mask (programs are compiled on first use)."""

    __slots__ = ("vjp", "out_tree", "out_avals", "n_out", "device", "wrt", "float_out",
                 "_bwd_set", "poly")

    def __init__(self, traced: Any, wrt: tuple[bool, ...]):
        from xfront import _shapes
        from xfront._autodiff import vjp_graphs

        graph = traced.graph
        self.poly = not all(_shapes.is_static_shape(v.aval.shape) for v in graph.invars)
        if self.poly:  # NOTE [Polymorphic gradient plans]
            self.vjp: Any = PolyVJP(graph, traced.device, vjp_graphs(graph, wrt, None))
        else:
            self.vjp = compile_vjp(graph, wrt, traced.device)
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
                 cts: Sequence[Array | None],
                 env: dict[str, int] | None = None) -> list[Array | None]:
        """Cotangents of the ``wrt`` inputs (None elsewhere); ``cts`` has one entry per output
        (None: zero). ``env``: the symbol sizes of the call, for a polymorphic plan."""
        if self.poly:
            return self.vjp.backward(primals, residuals, cts, env)
        return self.vjp.backward(primals, residuals, cts)


class _NotPolymorphic(Exception):
    """A symbolic plan whose backward cannot read every symbol (plan per shape instead)."""


def plan_for(cf: Any, dyn: Any, statics: Any, treedef: TreeDef, avals: list[AbstractArray],
             dev: Any, wrt: tuple[bool, ...]) -> GradPlan:
    """The cached GradPlan of compiled function ``cf`` for this signature (traces on a miss,
    reusing the graph of the plain executable when that is cached). Under ``polymorphic=``
    concrete ``avals`` plan for their polymorphic signature (NOTE [Polymorphic gradient
    plans]); a plan that cannot be polymorphic falls back to the concrete one."""
    if cf._poly is not None:
        from xfront import _shapes

        if all(_shapes.is_static_shape(a.shape) for a in avals):
            poly = cf._poly_avals(dyn, statics, treedef, avals)[0]
            no_poly = ("per shape", treedef, tuple(poly), statics, dev, wrt)
            if poly != avals and no_poly not in cf._grad_plans:
                try:
                    return plan_for(cf, dyn, statics, treedef, poly, dev, wrt)
                except _NotPolymorphic:
                    cf._grad_plans[no_poly] = True
    key = (treedef, tuple(avals), statics, dev)
    plans = cf._grad_plans
    plan = plans.get((key, wrt))
    if plan is None:
        def build() -> GradPlan:
            entry = cf._cache.get(key)
            stage = getattr(cf, "_poly_cache", {}).get(key)
            if stage is not None:  # the polymorphic trace of the plain calls
                traced = stage[0]
            elif entry is not None:
                traced = entry.traced
            else:
                cf._check_arity(dyn, statics)
                traced = cf._trace(dyn, statics, treedef, avals, dev)
            plan = GradPlan(traced, wrt)
            if plan.poly and not _bindable(plan.vjp.graphs.backward):
                raise _NotPolymorphic
            return plan

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
                 "primals", "residuals", "device", "env")

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
        self.env: dict[str, int] = {}  # symbol sizes of a polymorphic plan

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
        plan = self.plan
        if plan is None:  # (preset by a caller that planned already: torch.compile's op)
            plan = self.plan = plan_for(cf, dyn, statics, treedef, avals, dev, self.wrt)
        if plan.poly:
            self.env = bind_symbols([v.aval for v in plan.vjp.graph.invars],
                                    [a.shape for a in avals])
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
            want = concrete_aval(plan.out_avals[j], self.env) if plan.poly else plan.out_avals[j]
            if arr.aval != want:
                raise _errors.err(_errors.ArgumentError, "backward",
                                  f"the gradient of output {j} of `{self.cf.__name__}` is "
                                  f"{arr.aval.short}, but the output is {want.short}")
            ct_arrays.append(arr)
        if all(c is None for c in ct_arrays):
            return [None] * len(self.tensor_pos)
        got = (plan.backward(self.primals, self.residuals, ct_arrays, self.env) if plan.poly
               else plan.backward(self.primals, self.residuals, ct_arrays))
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
