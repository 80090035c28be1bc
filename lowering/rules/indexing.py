"""Lowering rules for the indexing primitives (gather, scatter, dynamic slices)."""

from __future__ import annotations

from xfront._aval import AbstractArray
from xfront._shapes import is_static_shape
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, boolean, gather_dims, i64_array, scatter_dims

# the scatter update region's combiner, per mode ("set" returns the update itself)
_COMBINER = {"add": "stablehlo.add", "mul": "stablehlo.multiply", "min": "stablehlo.minimum",
             "max": "stablehlo.maximum"}


def gather(ctx: LoweringRuleContext, x: Value, indices: Value, *, offset_dims,
           collapsed_slice_dims, start_index_map, index_vector_dim, slice_sizes,
           indices_are_sorted) -> list[Value]:
    dn = gather_dims(offset_dims=offset_dims, collapsed_slice_dims=collapsed_slice_dims,
                     start_index_map=start_index_map, index_vector_dim=index_vector_dim)
    if not is_static_shape(slice_sizes):  # a symbolic slice size (a vmap over a symbolic axis)
        return ctx.op("stablehlo.dynamic_gather",
                      [x, indices, ctx.block.shape_tensor(slice_sizes)],
                      props={"dimension_numbers": dn,
                             "indices_are_sorted": boolean(indices_are_sorted)})
    return ctx.op("stablehlo.gather", [x, indices],
                  props={"dimension_numbers": dn,
                         "indices_are_sorted": boolean(indices_are_sorted),
                         "slice_sizes": i64_array(slice_sizes)})


def scatter(ctx: LoweringRuleContext, x: Value, indices: Value, updates: Value, *,
            update_window_dims, inserted_window_dims, scatter_dims_to_operand_dims,
            index_vector_dim, mode, indices_are_sorted, unique_indices) -> list[Value]:
    scalar = AbstractArray((), x.aval.dtype)
    if mode == "set":
        region = ctx.region([scalar, scalar])
        region.block.ret([region.args[1]])  # the update replaces the old value
    else:
        region = ctx.binary_region(_COMBINER[mode], scalar)
    dn = scatter_dims(update_window_dims=update_window_dims,
                      inserted_window_dims=inserted_window_dims,
                      scatter_dims_to_operand_dims=scatter_dims_to_operand_dims,
                      index_vector_dim=index_vector_dim)
    return ctx.op("stablehlo.scatter", [x, indices, updates],
                  props={"indices_are_sorted": boolean(indices_are_sorted),
                         "scatter_dimension_numbers": dn,
                         "unique_indices": boolean(unique_indices)},
                  regions=[region])


def dynamic_slice(ctx: LoweringRuleContext, x: Value, *starts: Value, slice_sizes) -> list[Value]:
    return ctx.op("stablehlo.dynamic_slice", [x, *starts],
                  props={"slice_sizes": i64_array(slice_sizes)})


def dynamic_update_slice(ctx: LoweringRuleContext, x: Value, update: Value,
                         *starts: Value) -> list[Value]:
    return ctx.op("stablehlo.dynamic_update_slice", [x, update, *starts])
