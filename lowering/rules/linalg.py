"""Lowering rules for contractions and matrix factorizations."""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _dtypes
from xfront._aval import AbstractArray
from xfront.lowering import LoweringRuleContext
from xfront.lowering._emit import Value, boolean, dims_list, enum, i64, i64_array, string


def dot_general(ctx: LoweringRuleContext, x: Value, y: Value, *, contracting, batch,
                precision=None) -> list[Value]:
    (lc, rc), (lb, rb) = contracting, batch
    dn = (f"#stablehlo.dot<lhs_batching_dimensions = {dims_list(lb)}, "
          f"rhs_batching_dimensions = {dims_list(rb)}, "
          f"lhs_contracting_dimensions = {dims_list(lc)}, "
          f"rhs_contracting_dimensions = {dims_list(rc)}>")
    props = {"dot_dimension_numbers": dn}
    if precision is not None:
        p = enum("precision", precision)
        props["precision_config"] = f"[{p}, {p}]"
    return ctx.op("stablehlo.dot_general", [x, y], props=props)


# --- factorizations -------------------------------------------------------------------------
#
# ``cholesky`` and ``triangular_solve`` are StableHLO ops (on CPU: LAPACK potrf/trsm, which
# XLA:CPU's expansions are much slower than). LU, QR, eigh and SVD lower on CPU
# to the LAPACK kernels jaxlib registers with XLA (NOTE [LAPACK custom calls] in
# xfront.lowering.runtime): typed-FFI custom calls that take batched matrices. Two traps:
#   * LAPACK is column-major: every matrix operand and result gets an explicit layout whose
#     two minor dimensions are swapped (``[r-2, r-1, r-3, ..., 0]``); without it the kernel
#     silently works on the transpose.
#   * a kernel that fails (no convergence) reports it in an ``info`` result only: the rules
#     turn that batch element's results into NaN, as NumPy's gufuncs and JAX do.
# Zero-size operands never reach a kernel (the rules emit the empty/trivial results).
# Other platforms have no rule yet (cuSOLVER targets would be added as platform rules).

_PREFIX = {"float32": "s", "float64": "d", "complex64": "c", "complex128": "z"}


def _matrix_layout(ndim: int) -> str:
    dims = [ndim - 2, ndim - 1] + list(range(ndim - 3, -1, -1))
    return f"dense<{dims_list(dims)}> : tensor<{ndim}xindex>"


def _plain_layout(ndim: int) -> str:
    if ndim == 0:
        return "dense<> : tensor<0xindex>"
    return f"dense<{dims_list(range(ndim - 1, -1, -1))}> : tensor<{ndim}xindex>"


def _lapack(ctx: LoweringRuleContext, name: str, dtype: Any, operands: list[Value],
            results: list[AbstractArray], matrices: tuple[bool, ...], *,
            config: str = "{}", matrix_operands: tuple[bool, ...] = (True,)) -> list[Value]:
    """One LAPACK FFI call; ``matrices`` / ``matrix_operands`` flag which results / operands
    are column-major matrices (the others are batched vectors or scalars)."""
    from xfront.lowering import runtime

    runtime.ensure_lapack()
    target = f"lapack_{_PREFIX[dtype.name]}{name}_ffi"
    flags = tuple(matrix_operands) + (False,) * (len(operands) - len(matrix_operands))
    op_layouts = [_matrix_layout(v.aval.ndim) if m else _plain_layout(v.aval.ndim)
                  for v, m in zip(operands, flags)]
    res_layouts = [_matrix_layout(a.ndim) if m else _plain_layout(a.ndim)
                   for a, m in zip(results, matrices)]
    props = {"api_version": "4 : i32", "backend_config": config,
             "call_target_name": string(target),
             "operand_layouts": "[" + ", ".join(op_layouts) + "]",
             "result_layouts": "[" + ", ".join(res_layouts) + "]"}
    return ctx.custom_call(operands, results, props)


def _batch_ok(ctx: LoweringRuleContext, info: Value) -> Value:
    """bool[batch] "this batch element's kernel succeeded" from an int32 ``info`` result."""
    zero = ctx.full(0, info.aval)
    return ctx.op1("stablehlo.compare", [info, zero], AbstractArray(info.aval.shape, _dtypes.bool_),
                   props={"comparison_direction": enum("comparison_direction", "EQ"),
                          "compare_type": enum("comparison_type", "SIGNED")})


def _nan_where_failed(ctx: LoweringRuleContext, ok: Value, x: Value) -> Value:
    nb = ok.aval.ndim
    pred = ctx.op1("stablehlo.broadcast_in_dim", [ok],
                   AbstractArray(x.aval.shape, _dtypes.bool_),
                   props={"broadcast_dimensions": i64_array(range(nb))})
    return ctx.op1("stablehlo.select", [pred, x, ctx.full(np.nan, x.aval)], x.aval)


def _iota(ctx: LoweringRuleContext, shape: tuple, dim: int) -> Value:
    return ctx.op1("stablehlo.iota", [], AbstractArray(shape, _dtypes.int32),
                   props={"iota_dimension": i64(dim)})


def _triangle(ctx: LoweringRuleContext, x: Value, *, lower: bool, k: int = 0) -> Value:
    """Zero the elements of ``x``'s trailing matrices outside tril(k) / triu(k)."""
    shape = x.aval.shape
    r, c = _iota(ctx, shape, len(shape) - 2), _iota(ctx, shape, len(shape) - 1)
    if k:
        r = ctx.op1("stablehlo.add", [r, ctx.full(k, r.aval)], r.aval)
    keep = ctx.op1("stablehlo.compare", [c, r], AbstractArray(shape, _dtypes.bool_),
                   props={"comparison_direction": enum("comparison_direction",
                                                       "LE" if lower else "GE"),
                          "compare_type": enum("comparison_type", "SIGNED")})
    return ctx.op1("stablehlo.select", [keep, x, ctx.full(0, x.aval)], x.aval)


def _slice(ctx: LoweringRuleContext, x: Value, limits: tuple) -> Value:
    nd = x.aval.ndim
    return ctx.op1("stablehlo.slice", [x], AbstractArray(tuple(limits), x.aval.dtype),
                   props={"start_indices": i64_array([0] * nd), "limit_indices": i64_array(limits),
                          "strides": i64_array([1] * nd)})


def _pad(ctx: LoweringRuleContext, x: Value, shape: tuple) -> Value:
    nd = x.aval.ndim
    zero = ctx.constant(0, AbstractArray((), x.aval.dtype))
    return ctx.op1("stablehlo.pad", [x, zero], AbstractArray(tuple(shape), x.aval.dtype),
                   props={"edge_padding_low": i64_array([0] * nd),
                          "edge_padding_high": i64_array([s - d for s, d in
                                                          zip(shape, x.aval.shape)]),
                          "interior_padding": i64_array([0] * nd)})


def _empty_results(ctx: LoweringRuleContext) -> list[Value]:
    return [ctx.full(0, a) for a in ctx.avals_out]


def _eye(ctx: LoweringRuleContext, aval: AbstractArray) -> Value:
    shape = aval.shape
    r, c = _iota(ctx, shape, len(shape) - 2), _iota(ctx, shape, len(shape) - 1)
    on = ctx.op1("stablehlo.compare", [r, c], AbstractArray(shape, _dtypes.bool_),
                 props={"comparison_direction": enum("comparison_direction", "EQ"),
                        "compare_type": enum("comparison_type", "SIGNED")})
    return ctx.op1("stablehlo.select", [on, ctx.full(1, aval), ctx.full(0, aval)], aval)


def cholesky(ctx: LoweringRuleContext, x: Value) -> list[Value]:
    if x.aval.size == 0:
        return [x]
    out = _triangle(ctx, ctx.op1("stablehlo.cholesky", [x], props={"lower": boolean(True)}),
                    lower=True)
    # NOTE: XLA's Cholesky leaves NaN only in the entries computed after a non-positive pivot;
    # like NumPy's error and JAX's info check, a matrix that is not positive-definite gives
    # an all-NaN factor.
    shape = x.aval.shape
    finite = ctx.op1("stablehlo.compare", [out, out], AbstractArray(shape, _dtypes.bool_),
                     props={"comparison_direction": enum("comparison_direction", "EQ")})
    scalar = AbstractArray((), _dtypes.bool_)
    ok = ctx.op1("stablehlo.reduce", [finite, ctx.constant(True, scalar)],
                 AbstractArray(shape[:-2], _dtypes.bool_),
                 props={"dimensions": i64_array((len(shape) - 2, len(shape) - 1))},
                 regions=[ctx.binary_region("stablehlo.and", scalar)])
    return [_nan_where_failed(ctx, ok, out)]


def cholesky_cpu(ctx: LoweringRuleContext, x: Value) -> list[Value]:
    # LAPACK potrf: measured 40x faster than XLA:CPU's expansion of stablehlo.cholesky
    # (256 x 256 float64: 0.6 ms vs 23 ms)
    if x.aval.size == 0:
        return [x]
    info = AbstractArray(x.aval.shape[:-2], _dtypes.int32)
    out, st = _lapack(ctx, "potrf", x.aval.dtype, [x], [x.aval, info], (True, False),
                      config="{uplo = 76 : ui8}")  # 'L': read and write the lower triangle
    # the strict upper triangle still holds the input; info > 0: not positive-definite
    return [_nan_where_failed(ctx, _batch_ok(ctx, st), _triangle(ctx, out, lower=True))]


_TRANS = {"NO_TRANSPOSE": 78, "TRANSPOSE": 84, "ADJOINT": 67}  # 'N', 'T', 'C'


def triangular_solve_cpu(ctx: LoweringRuleContext, a: Value, b: Value, *, left_side: bool,
                         lower: bool, transpose_a: str, unit_diagonal: bool) -> list[Value]:
    # LAPACK trsm (BLAS level 3): faster than XLA:CPU's expansion of stablehlo.triangular_solve
    if b.aval.size == 0:
        return [b]
    config = (f"{{diag = {85 if unit_diagonal else 78} : ui8, "
              f"side = {76 if left_side else 82} : ui8, trans_x = {_TRANS[transpose_a]} : ui8, "
              f"uplo = {76 if lower else 85} : ui8}}")
    return _lapack(ctx, "trsm", b.aval.dtype, [a, b], [b.aval], (True,), config=config,
                   matrix_operands=(True, True))


def triangular_solve(ctx: LoweringRuleContext, a: Value, b: Value, *, left_side: bool,
                     lower: bool, transpose_a: str, unit_diagonal: bool) -> list[Value]:
    if b.aval.size == 0:
        return [b]
    props = {"left_side": boolean(left_side), "lower": boolean(lower),
             "unit_diagonal": boolean(unit_diagonal),
             "transpose_a": enum("transpose", transpose_a)}
    return ctx.op("stablehlo.triangular_solve", [a, b], props=props)


def lu_cpu(ctx: LoweringRuleContext, x: Value) -> list[Value]:
    lu_aval, piv_aval = ctx.avals_out
    if x.aval.size == 0:
        return [x, ctx.full(0, piv_aval)]
    info = AbstractArray(x.aval.shape[:-2], _dtypes.int32)
    lu, piv, _ = _lapack(ctx, "getrf", x.aval.dtype, [x], [lu_aval, piv_aval, info],
                         (True, False, False))
    # NOTE: getrf's info > 0 only says U has an exact zero pivot; the factorization is still
    # valid (det is 0, solves give inf/nan), so it is not turned into NaN.
    return [lu, piv]


def qr_cpu(ctx: LoweringRuleContext, x: Value, *, full_matrices: bool) -> list[Value]:
    q_aval, r_aval = ctx.avals_out
    *batch, m, n = x.aval.shape
    k = min(m, n)
    if x.aval.size == 0:
        return [_eye(ctx, q_aval) if q_aval.size else ctx.full(0, q_aval), ctx.full(0, r_aval)]
    d = x.aval.dtype
    tau = AbstractArray(tuple(batch) + (k,), d)
    a, taus = _lapack(ctx, "geqrf", d, [x], [x.aval, tau], (True, False))
    r = _triangle(ctx, _slice(ctx, a, r_aval.shape) if r_aval.shape != a.aval.shape else a,
                  lower=False)
    qin = a
    if q_aval.shape[-1] < n:
        qin = _slice(ctx, a, q_aval.shape)
    elif q_aval.shape[-1] > n:
        qin = _pad(ctx, a, q_aval.shape)
    q = _lapack(ctx, "orgqr" if d.kind == "f" else "ungqr", d, [qin, taus], [q_aval],
                (True,))[0]
    return [q, r]


def eigh_cpu(ctx: LoweringRuleContext, x: Value) -> list[Value]:
    w_aval, v_aval = ctx.avals_out
    if x.aval.size == 0:
        return _empty_results(ctx)
    d = x.aval.dtype
    info = AbstractArray(x.aval.shape[:-2], _dtypes.int32)
    # mode 'V' (86): eigenvectors too; uplo 'L' (76): read the lower triangle
    v, w, st = _lapack(ctx, "syevd" if d.kind == "f" else "heevd", d, [x],
                       [v_aval, w_aval, info], (True, False, False),
                       config="{mode = 86 : ui8, uplo = 76 : ui8}")
    ok = _batch_ok(ctx, st)
    return [_nan_where_failed(ctx, ok, w), _nan_where_failed(ctx, ok, v)]


def svd_cpu(ctx: LoweringRuleContext, x: Value, *, full_matrices: bool,
            compute_uv: bool) -> list[Value]:
    *batch, m, n = x.aval.shape
    k = min(m, n)
    d = x.aval.dtype
    if x.aval.size == 0:
        outs = [ctx.full(0, ctx.avals_out[0])]
        if compute_uv:
            outs += [_eye(ctx, a) if a.size else ctx.full(0, a) for a in ctx.avals_out[1:]]
        return outs
    b = tuple(batch)
    s_aval = ctx.avals_out[0]
    if compute_uv:
        u_aval, vt_aval = ctx.avals_out[1], ctx.avals_out[2]
        mode = 65 if full_matrices else 83  # 'A' / 'S'
    else:
        u_aval, vt_aval = AbstractArray(b + (m, m), d), AbstractArray(b + (n, n), d)
        mode = 78  # 'N'
    info = AbstractArray(b, _dtypes.int32)
    _, s, u, vt, st = _lapack(ctx, "gesdd", d, [x], [x.aval, s_aval, u_aval, vt_aval, info],
                              (True, False, True, True, False),
                              config=f"{{mode = {mode} : ui8}}")
    ok = _batch_ok(ctx, st)
    if not compute_uv:
        return [_nan_where_failed(ctx, ok, s)]
    return [_nan_where_failed(ctx, ok, v) for v in (s, u, vt)]
