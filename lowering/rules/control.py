"""Lowering rules for control-flow primitives: stablehlo.if / case / while.

Region graphs are closed (they read only their invars). Operands that do not change inside a
region (branch operands, loop constants, the scanned arrays) are read from the enclosing block
directly; StableHLO regions may use values defined above them, so they are not threaded
through the loop carry.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from xfront import _dtypes
from xfront._aval import AbstractArray
from xfront._core import Graph
from xfront.lowering import LoweringRuleContext, lower_subgraph
from xfront.lowering._emit import Region, Value, enum, i64_array
from xfront.lowering.rules.elementwise import compare_type

_I32 = AbstractArray((), _dtypes.int32)
_PRED = AbstractArray((), _dtypes.bool_)


def _region(ctx: LoweringRuleContext, graph: Graph, outer: Sequence[Value],
            arg_avals: Sequence[AbstractArray] = ()) -> tuple[Region, list[Value]]:
    """A region with block args ``arg_avals`` whose body is ``graph(*outer, *args)``."""
    region = ctx.region(arg_avals)
    outs = lower_subgraph(region.block, graph, list(outer) + list(region.args), ctx.platform)
    return region, outs


def _returning(ctx: LoweringRuleContext, graph: Graph, outer: Sequence[Value],
               arg_avals: Sequence[AbstractArray] = ()) -> Region:
    region, outs = _region(ctx, graph, outer, arg_avals)
    region.block.ret(outs)
    return region


def cond(ctx: LoweringRuleContext, index: Value, *operands: Value,
         branches: tuple[Graph, ...]) -> list[Value]:
    regions = [_returning(ctx, g, operands) for g in branches]
    if index.aval.dtype is _dtypes.bool_:
        # stablehlo.if takes the true region first; branches[0] is the False branch
        return ctx.op("stablehlo.if", [index], regions=[regions[1], regions[0]])
    lo = ctx.constant(0, _I32)
    hi = ctx.constant(len(branches) - 1, _I32)
    index = ctx.op1("stablehlo.clamp", [lo, index, hi], _I32)
    return ctx.op("stablehlo.case", [index], regions=regions)


def while_(ctx: LoweringRuleContext, *args: Value, cond_graph: Graph, body_graph: Graph,
           cond_nconsts: int, body_nconsts: int) -> list[Value]:
    cconsts = args[:cond_nconsts]
    bconsts = args[cond_nconsts:cond_nconsts + body_nconsts]
    init = args[cond_nconsts + body_nconsts:]
    carry = [v.aval for v in init]
    cond_r = _returning(ctx, cond_graph, cconsts, carry)
    body_r = _returning(ctx, body_graph, bconsts, carry)
    return ctx.op("stablehlo.while", init, carry, regions=[cond_r, body_r])


def _compare(block, x: Value, y: Value, direction: str) -> Value:
    props = {"comparison_direction": enum("comparison_direction", direction),
             "compare_type": enum("comparison_type", compare_type(x.aval.dtype))}
    return block.op("stablehlo.compare", [x, y], [_PRED], props=props)[0]


def scan(ctx: LoweringRuleContext, *args: Value, body: Graph, length: int, reverse: bool,
         nconsts: int, ncarry: int) -> list[Value]:
    consts = args[:nconsts]
    init = list(args[nconsts:nconsts + ncarry])
    xs = args[nconsts + ncarry:]
    y_avals = ctx.avals_out[ncarry:]
    if length == 0:  # no step runs; (a zero-trip while would still slice size-0 arrays)
        return init + [ctx.full(0, a) for a in y_avals]
    ys0 = [ctx.full(0, a) for a in y_avals]
    carry_avals = [_I32] + [v.aval for v in init] + list(y_avals)

    cond_r = ctx.region(carry_avals)
    blk = cond_r.block
    n = blk.constant(length, _I32)
    blk.ret([_compare(blk, cond_r.args[0], n, "LT")])

    body_r = ctx.region(carry_avals)
    blk = body_r.block
    i, carry, ys = body_r.args[0], body_r.args[1:1 + ncarry], body_r.args[1 + ncarry:]
    if reverse:
        last = blk.constant(length - 1, _I32)
        t = blk.op("stablehlo.subtract", [last, i], [_I32])[0]
    else:
        t = i
    zero = blk.constant(0, _I32)
    x_t = []
    for x in xs:
        rest = x.aval.shape[1:]
        row = AbstractArray((1,) + rest, x.aval.dtype)
        s = blk.op("stablehlo.dynamic_slice", [x, t] + [zero] * len(rest), [row],
                   props={"slice_sizes": i64_array((1,) + rest)})[0]
        x_t.append(blk.op("stablehlo.reshape", [s], [AbstractArray(rest, x.aval.dtype)])[0])
    outs = lower_subgraph(blk, body, list(consts) + list(carry) + x_t, ctx.platform)
    new_ys = []
    for y_buf, y in zip(ys, outs[ncarry:]):
        row = AbstractArray((1,) + y.aval.shape, y.aval.dtype)
        r = blk.op("stablehlo.reshape", [y], [row])[0]
        new_ys.append(blk.op("stablehlo.dynamic_update_slice", [y_buf, r, t]
                             + [zero] * len(y.aval.shape), [y_buf.aval])[0])
    one = blk.constant(np.int32(1), _I32)
    blk.ret([blk.op("stablehlo.add", [i, one], [_I32])[0]] + list(outs[:ncarry]) + new_ys)

    zero_i = ctx.constant(0, _I32)
    res = ctx.op("stablehlo.while", [zero_i] + init + ys0, carry_avals,
                 regions=[cond_r, body_r])
    return res[1:]
