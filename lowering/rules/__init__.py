"""StableHLO lowering rules, one module per primitive family.

Each rule has the signature ``rule(ctx: LoweringRuleContext, *values, **params) -> list[Value]``
and is named by the primitive declaration that uses it (xfront/prims/*.py). Rules emit ops
only through ``ctx`` (see xfront.lowering._emit); none of them formats MLIR text itself.
"""
