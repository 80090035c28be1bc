"""Lowering: xfront graphs -> StableHLO text.  Installed as ``xfront.lowering``.

Imports: xfront._core, xfront._aval, xfront._errors and ._emit. The runtime adapter
(``xfront.lowering.runtime``, the only module that touches jaxlib) is imported lazily by its
users, so lowering to text needs no jaxlib.

``lower_graph`` is a loop over eqns that calls each primitive's own lowering rule
(``eqn.prim.lowering``, or its per-platform override). There is no per-primitive switch here.
"""

from __future__ import annotations

from typing import Any, Sequence

from xfront import _errors, _shapes
from xfront._aval import AbstractArray
from xfront._core import Graph, Literal, lowering_rule
from xfront.lowering._emit import Block, Module, Region, Value, aval_type

_errors.register_internal_dir(__file__)

__all__ = ["LoweringRuleContext", "Lowered", "lower_graph", "lower_subgraph", "Value",
           "specialize", "static_entry_body"]

# NOTE [Lowering symbolic dimensions]
#     A symbolic dimension (xfront/_shapes.py) lowers to a dynamic one (``tensor<?x4xf32>``).
#     At the entry of ``@main`` the size of each symbol is read once with
#     ``stablehlo.get_dimension_size`` from the first argument axis that is exactly that symbol;
#     expressions (``2*b + 1``, ``floordiv(b, 2)``...) become i64 arithmetic on those values
#     (``Block.dim_value``), and ops whose result shape is an attribute take their dynamic form
#     with a shape operand (``dynamic_broadcast_in_dim``, ``dynamic_reshape``, ``dynamic_iota``,
#     ``real_dynamic_slice``, ``dynamic_pad``); the other ops infer dynamic result types from
#     their operands. One such module serves every size. To run it, ``specialize`` wraps it in
#     a static ``@main`` for the concrete argument shapes (``stablehlo.convert`` casts the
#     static arguments to the dynamic types and back, around a ``func.call``) and the runtime
#     adapter runs StableHLO's shape refinement on the result, so XLA only sees static shapes.


class LoweringRuleContext:
    """What a lowering rule gets besides its operand values."""

    __slots__ = ("block", "avals_in", "avals_out", "platform", "eqn")

    def __init__(self, block: Block, avals_in: list[AbstractArray],
                 avals_out: list[AbstractArray], platform: str, eqn: Any):
        self.block = block
        self.avals_in = avals_in
        self.avals_out = avals_out
        self.platform = platform
        self.eqn = eqn

    @property
    def symbolic(self) -> bool:
        """Whether an operand or result has a symbolic dimension (NOTE [Lowering symbolic
        dimensions]): rules whose static op takes shapes as attributes emit the dynamic form."""
        return not all(_shapes.is_static_shape(a.shape)
                       for a in (*self.avals_in, *self.avals_out))

    # thin forwards, so rules read ``ctx.op(...)``
    def op(self, name: str, operands: Sequence[Value], results: Sequence[AbstractArray] | None = None,
           **kw: Any) -> list[Value]:
        return self.block.op(name, operands, self.avals_out if results is None else results, **kw)

    def op1(self, name: str, operands: Sequence[Value], result: AbstractArray | None = None,
            **kw: Any) -> Value:
        return self.block.op(name, operands, [self.avals_out[0] if result is None else result],
                             **kw)[0]

    def custom_call(self, operands: Sequence[Value], results: Sequence[AbstractArray],
                    props: dict[str, str]) -> list[Value]:
        """A ``stablehlo.custom_call`` (a library function: LAPACK...); ``props`` holds its
        attributes (``call_target_name``, layouts...).

        NOTE: shape refinement cannot give a library call static shapes, so an equation with
        symbolic dimensions that would emit one is refused here (``lower_subgraph`` names the
        primitive and its operands)."""
        if self.symbolic:
            raise _shapes.InconclusiveDimensionError(
                f"xfront: symbolic dimensions: `{self.eqn.prim.name}` lowers to a library call "
                "that needs static shapes")
        return self.block.op("stablehlo.custom_call", operands, results, props=props)

    def constant(self, value: Any, aval: AbstractArray) -> Value:
        return self.block.constant(value, aval)

    def full(self, value: Any, aval: AbstractArray) -> Value:
        return self.block.full(value, aval)

    def region(self, arg_avals: Sequence[AbstractArray]) -> Region:
        return self.block.region(arg_avals)

    def binary_region(self, op: str, scalar: AbstractArray) -> Region:
        """The region ``(a, b) -> op(a, b)`` on 0-d ``scalar`` values: the combiner of
        stablehlo.reduce, reduce_window and scatter."""
        region = self.block.region([scalar, scalar])
        a, b = region.args
        region.block.ret([region.block.op(op, [a, b], [scalar])[0]])
        return region

    def lower_region(self, graph: Graph, arg_avals: Sequence[AbstractArray] | None = None) -> Region:
        """A region whose body is ``graph`` (args = graph.invars), ending in stablehlo.return."""
        region = self.block.region(arg_avals if arg_avals is not None else graph.in_avals)
        outs = lower_subgraph(region.block, graph, region.args, self.platform)
        region.block.ret(outs)
        return region

    def subcontext(self, block: Block) -> LoweringRuleContext:
        return LoweringRuleContext(block, self.avals_in, self.avals_out, self.platform, self.eqn)


def lower_subgraph(block: Block, graph: Graph, args: Sequence[Value], platform: str,
                   consts: Sequence[Value] = ()) -> list[Value]:
    """Emit ``graph``'s eqns into ``block``; ``args`` bind invars, ``consts`` bind constvars."""
    env: dict[int, Value] = {}
    if len(args) != len(graph.invars) or len(consts) != len(graph.constvars):
        raise AssertionError(f"lower_subgraph: {len(args)} args/{len(consts)} consts for a graph "
                             f"with {len(graph.invars)} invars/{len(graph.constvars)} constvars")
    for v, a in zip(graph.constvars, consts):
        env[v.id] = a
    for v, a in zip(graph.invars, args):
        env[v.id] = a

    def read(atom: Any) -> Value:
        if isinstance(atom, Literal):
            return block.constant(atom.value, atom.aval)
        return env[atom.id]

    outer_loc = block.loc
    for eqn in graph.eqns:
        prim = eqn.prim
        rule = lowering_rule(prim, platform)
        site = f" at {eqn.source}" if eqn.source else ""
        block.loc = f"{prim.name}{site}"
        ins = [read(a) for a in eqn.inputs]
        ctx = LoweringRuleContext(block, [a.aval for a in eqn.inputs],
                                  [v.aval for v in eqn.outputs], platform, eqn)
        try:
            outs = rule(ctx, *ins, **eqn.params)
        except _shapes.InconclusiveDimensionError as e:  # a rule that needs static sizes
            if "does not lower with symbolic" in str(e):  # (named by a nested region)
                raise
            shapes = ", ".join(a.short for a in ctx.avals_in)
            raise _errors.err(
                _shapes.InconclusiveDimensionError, "compile",
                f"the primitive `{prim.name}`{site} does not lower with symbolic dimensions "
                f"yet (operands {shapes}): {str(e).split(': ', 1)[-1].splitlines()[0]}",
                "leave these dimensions out of polymorphic= (or give xf.Spec static sizes) "
                "so that they compile per size") from None
        except _errors.XfrontError:
            raise
        except Exception as e:
            raise _errors.LoweringError(
                f"xfront: lowering primitive `{prim.name}` failed{site}: "
                f"{type(e).__name__}: {e}") from e
        if isinstance(outs, Value):
            outs = [outs]
        if len(outs) != len(eqn.outputs):
            raise _errors.LoweringError(
                f"xfront: the lowering of `{prim.name}`{site} produced {len(outs)} values, "
                f"expected {len(eqn.outputs)} (internal error)")
        for v, o in zip(eqn.outputs, outs):
            if aval_type(o.aval) != aval_type(v.aval):
                raise _errors.LoweringError(
                    f"xfront: the lowering of `{prim.name}`{site} produced {o.type}, "
                    f"expected {aval_type(v.aval)} (internal error)")
            env[v.id] = o
    block.loc = outer_loc
    return [read(a) for a in graph.outs]


class Lowered:
    """A graph lowered to a StableHLO module (``text``), with its signature."""

    def __init__(self, text: str, graph: Graph, in_avals: list[AbstractArray],
                 out_avals: list[AbstractArray], platform: str, donated: tuple[int, ...]):
        self.text = text
        self.graph = graph
        self.in_avals = in_avals
        self.out_avals = out_avals
        self.platform = platform
        self.donated = donated

    def as_text(self, pretty: bool = True) -> str:
        """The StableHLO module. ``pretty`` re-prints it in MLIR's pretty form (needs jaxlib)."""
        if not pretty:
            return self.text
        from xfront.lowering import runtime

        return runtime.pretty_print(self.text)

    def __str__(self) -> str:
        return self.text


def lower_graph(graph: Graph, *, platform: str = "cpu", name: str = "main",
                donate: Sequence[int] = (), alias_outputs: dict[int, int] | None = None,
                extra_args: Sequence[AbstractArray] = (),
                spmd: dict[str, Any] | None = None) -> Lowered:
    """Lower a graph to a StableHLO module whose ``@main`` takes ``(*consts, *inputs, *extra)``.

    Args:
      donate: indices (into consts+inputs) of parameters whose buffers XLA may reuse for outputs.
      alias_outputs: {parameter index: output index} explicit input/output aliasing; parameters
        may be ``extra_args`` (unused donor buffers that recycled outputs are written into).
      spmd: for programs partitioned over several devices (xfront/sharding.py):
        ``{"arg_attrs": [dict|None per parameter], "res_attrs": [dict|None per result],
        "num_partitions": int, "preamble": [module-level lines]}``.
    """
    in_avals = [v.aval for v in graph.constvars] + [v.aval for v in graph.invars]
    all_avals = in_avals + list(extra_args)
    attrs: list[dict[str, str] | None] = [None] * len(all_avals)
    for i in donate:
        attrs[i] = {"jax.buffer_donor": "true"}
    for i, o in (alias_outputs or {}).items():
        attrs[i] = {"tf.aliasing_output": f"{int(o)} : i32"}
    if spmd:
        for i, extra in enumerate(spmd.get("arg_attrs") or ()):
            if extra:
                attrs[i] = {**(attrs[i] or {}), **extra}
    module = Module()
    fn = module.function(name, all_avals, attrs)
    if spmd:
        fn.res_attrs = list(spmd.get("res_attrs") or ())
        fn.num_partitions = int(spmd.get("num_partitions", 1))
        fn.preamble = list(spmd.get("preamble") or ())
    nconst = len(graph.constvars)
    args = fn.args[nconst:nconst + len(graph.invars)]
    if any(not _shapes.is_static_shape(a.shape) for a in all_avals):
        fn.bind_symbols()
    outs = lower_subgraph(fn.body, graph, args, platform, consts=fn.args[:nconst])
    text = fn.finish(outs)
    return Lowered(text, graph, all_avals, [o.aval for o in outs], platform,
                   tuple(sorted(set(donate) | set((alias_outputs or {}).keys()))))


def static_entry_body(callee: str, all_in: Sequence[str], st_in: Sequence[str],
                      poly_in: Sequence[str], st_out: Sequence[str],
                      poly_out: Sequence[str]) -> list[str]:
    """The body of a static entry function (generic MLIR form) that converts its static
    arguments ``st_in`` to the polymorphic types ``poly_in``, calls ``@callee`` and converts its
    results back to ``st_out``; ``all_in`` are the entry's parameter types (``st_in`` first,
    then any unused donor parameters). Ends with the closing ``}) : () -> ()`` line."""
    lines = []
    if all_in:
        lines.append("  ^bb0(" + ", ".join(f"%a{i}: {t}" for i, t in enumerate(all_in)) + "):")
    for i, (s, d) in enumerate(zip(st_in, poly_in)):
        lines.append(f'    %c{i} = "stablehlo.convert"(%a{i}) : ({s}) -> {d}')
    args = ", ".join(f"%c{i}" for i in range(len(st_in)))
    n = len(poly_out)
    lhs = "" if n == 0 else ("%r = " if n == 1 else f"%r:{n} = ")
    refs = ["%r"] if n == 1 else [f"%r#{i}" for i in range(n)]
    lines.append(f'    {lhs}"func.call"({args}) <{{callee = @{callee}}}> : '
                 f'({", ".join(poly_in)}) -> ({", ".join(poly_out)})')
    for i, (r, d, s) in enumerate(zip(refs, poly_out, st_out)):
        lines.append(f'    %o{i} = "stablehlo.convert"({r}) : ({d}) -> {s}')
    lines.append('    "func.return"(' + ", ".join(f"%o{i}" for i in range(n)) + ") : ("
                 + ", ".join(st_out) + ") -> ()")
    lines.append("  }) : () -> ()")
    return lines


def specialize(lowered: Lowered, in_avals: Sequence[AbstractArray],
               out_avals: Sequence[AbstractArray], *, donate: Sequence[int] = (),
               alias_outputs: dict[int, int] | None = None,
               extra_args: Sequence[AbstractArray] = ()) -> str:
    """The module text of a polymorphic ``lowered`` (entry ``@main``) wrapped for static
    argument and result avals (NOTE [Lowering symbolic dimensions]); refine it before
    compiling (``runtime.refine_shapes``)."""
    text = lowered.text
    head = 'sym_name = "main", sym_visibility = "public"'
    if text.count(head) != 1:
        raise AssertionError("specialize: expected one public @main (internal error)")
    text = text.replace(head, 'sym_name = "_xf_poly", sym_visibility = "private"')
    poly_in = [aval_type(a) for a in lowered.in_avals]
    poly_out = [aval_type(a) for a in lowered.out_avals]
    st_in = [aval_type(a) for a in in_avals]
    st_out = [aval_type(a) for a in out_avals]
    # donation and aliasing (as in ``lower_graph``) sit on the static @main's parameters;
    # ``extra_args`` are unused donor parameters that outputs are aliased to
    all_in = st_in + [aval_type(a) for a in extra_args]
    attrs: list[str] = ["{}"] * len(all_in)
    for i in donate:
        attrs[i] = "{jax.buffer_donor = true}"
    for i, o in (alias_outputs or {}).items():
        attrs[i] = f"{{tf.aliasing_output = {int(o)} : i32}}"
    arg_attrs = f"arg_attrs = [{', '.join(attrs)}], " if any(a != "{}" for a in attrs) else ""
    lines = ['  "func.func"() <{' + arg_attrs + 'function_type = (' + ", ".join(all_in)
             + ") -> (" + ", ".join(st_out)
             + '), sym_name = "main", sym_visibility = "public"}> ({']
    lines += static_entry_body("_xf_poly", all_in, st_in, poly_in, st_out, poly_out)
    end = text.rstrip().rfind("}")
    return text[:end] + "\n".join(lines) + "\n}\n"
