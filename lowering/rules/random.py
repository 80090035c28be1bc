"""Lowering rules for the primitives behind ``xfront.random``.

``threefry2x32`` is emitted as plain ui32 add / shift / or / xor ops (no rng_bit_generator:
that op's bits are only specified per backend), so every backend computes the same bits.
"""

from __future__ import annotations

import numpy as np

from xfront import _dtypes
from xfront._aval import AbstractArray
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, boolean, enum, i64
from xfront.lowering.rules.elementwise import compare_type

ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
KEY_PARITY = 0x1BD11BDA
ROUNDS = 20


def threefry2x32(ctx: LoweringRuleContext, k0: Value, k1: Value, x0: Value,
                 x1: Value) -> list[Value]:
    aval = ctx.avals_out[0]
    consts: dict[int, Value] = {}

    def c(v: int) -> Value:
        if v not in consts:
            consts[v] = ctx.full(np.uint32(v), aval)
        return consts[v]

    def op(name: str, a: Value, b: Value) -> Value:
        return ctx.op1(name, [a, b], aval)

    def rotl(x: Value, s: int) -> Value:
        return op("stablehlo.or", op("stablehlo.shift_left", x, c(s)),
                  op("stablehlo.shift_right_logical", x, c(32 - s)))

    ks = (k0, k1, op("stablehlo.xor", op("stablehlo.xor", k0, k1), c(KEY_PARITY)))
    x0 = op("stablehlo.add", x0, ks[0])
    x1 = op("stablehlo.add", x1, ks[1])
    for r in range(ROUNDS):
        x0 = op("stablehlo.add", x0, x1)
        x1 = op("stablehlo.xor", rotl(x1, ROTATIONS[(r // 4) % 2][r % 4]), x0)
        if r % 4 == 3:  # key injection after every 4 rounds
            j = r // 4 + 1
            x0 = op("stablehlo.add", x0, ks[j % 3])
            x1 = op("stablehlo.add", op("stablehlo.add", x1, ks[(j + 1) % 3]), c(j))
    return [x0, x1]


def sort_by_key(ctx: LoweringRuleContext, keys: Value, x: Value, *, axis: int) -> list[Value]:
    kd, xd = keys.aval.dtype, x.aval.dtype
    region = ctx.region([AbstractArray((), kd), AbstractArray((), kd),
                         AbstractArray((), xd), AbstractArray((), xd)])
    a, b = region.args[0], region.args[1]
    props = {"comparison_direction": enum("comparison_direction", "LT"),
             "compare_type": enum("comparison_type", compare_type(kd))}
    lt = region.block.op("stablehlo.compare", [a, b], [AbstractArray((), _dtypes.bool_)],
                         props=props)[0]
    region.block.ret([lt])
    outs = ctx.op("stablehlo.sort", [keys, x], [keys.aval, x.aval],
                  props={"dimension": i64(axis), "is_stable": boolean(True)}, regions=[region])
    return [outs[1]]
