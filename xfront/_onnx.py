"""``xf.export_onnx``: translate an exported program's graph IR into an ONNX model.

Imports: numpy, _core, _dtypes, _errors, _aval; onnx only inside ``export_onnx`` (an optional
extra: ``pip install xfront[onnx]``).

One translation rule per primitive, in a table keyed by the primitive object (``_RULES``); a
primitive without a rule raises ``OnnxExportError`` naming it and the user's source line. The
model uses ONNX opset 18 (reductions take their axes as an input there), which onnxruntime runs.

NOTE [Where ONNX and xfront differ]
    The translation is value-for-value on ordinary inputs; a few edge cases follow ONNX's (or
    onnxruntime's) definitions instead of xfront's: float-to-int ``Cast`` of NaN or of values
    outside the integer range is undefined in ONNX (xfront saturates), gathers assume in-range
    indices (xfront's namespace clamps traced indices before the gather primitive, so graphs
    from the namespace are fine), and ``Max``/``Min``/``ArgMax`` with NaN inputs follow
    onnxruntime. Complex dtypes have no ONNX mapping.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._aval import AbstractArray

__all__ = ["export_onnx", "OnnxExportError", "OPSET"]

OPSET = 18


class OnnxExportError(_errors.XfrontError, NotImplementedError):
    """A program uses a primitive (or dtype) that has no ONNX translation."""


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise _errors.err(OnnxExportError, "export_onnx", "the onnx package is not installed",
                          "pip install 'xfront[onnx]'") from None
    return onnx


def _elem_type(d: dt.DType) -> int:
    from onnx import TensorProto as T

    table = {"bool": T.BOOL, "int8": T.INT8, "int16": T.INT16, "int32": T.INT32,
             "int64": T.INT64, "uint8": T.UINT8, "uint16": T.UINT16, "uint32": T.UINT32,
             "uint64": T.UINT64, "float16": T.FLOAT16, "bfloat16": T.BFLOAT16,
             "float32": T.FLOAT, "float64": T.DOUBLE}
    t = table.get(d.name)
    if t is None:
        raise _errors.err(OnnxExportError, "export_onnx",
                          f"the dtype {d.name} has no ONNX translation here",
                          "complex values cannot be exported to ONNX")
    return t


class _Ctx:
    """Collects ONNX nodes and initializers; names values uniquely."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0
        self.eqn: _core.Eqn | None = None

    def fresh(self, hint: str = "v") -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, dtype: dt.DType | None = None) -> str:
        from onnx import numpy_helper

        arr = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype.np)
        name = self.fresh("c")
        if dtype is not None and dtype is dt.bfloat16:
            from onnx import helper

            t = helper.make_tensor(name, _elem_type(dtype), arr.shape,
                                   arr.view(np.uint16).reshape(-1).tolist(), raw=False)
            self.inits.append(t)
        else:
            # NOTE: not np.ascontiguousarray, which turns 0-d arrays into 1-d ones
            self.inits.append(numpy_helper.from_array(np.array(arr, order="C"), name))
        return name

    def i64(self, values: Any) -> str:
        return self.const(np.asarray(values, dtype=np.int64))

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> list[str]:
        from onnx import helper

        outs = [self.fresh(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, **attrs))
        return outs

    def one(self, op: str, inputs: list[str], **attrs: Any) -> str:
        return self.node(op, inputs, **attrs)[0]

    def unsupported(self, why: str) -> OnnxExportError:
        e = self.eqn
        site = f" at {e.source}" if e is not None and e.source else ""
        name = e.prim.name if e is not None else "?"
        return _errors.err(OnnxExportError, "export_onnx",
                           f"primitive `{name}`{site} {why}")


Rule = Callable[..., list[str]]


def _simple(op: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, *xs: str, **params: Any) -> list[str]:
        return [ctx.one(op, list(xs))]
    return rule


def _chain(*ops: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, **params: Any) -> list[str]:
        for op in ops:
            x = ctx.one(op, [x])
        return [x]
    return rule


def _bitwise(bool_op: str, int_op: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, *xs: str, **params: Any) -> list[str]:
        op = bool_op if eqn.inputs[0].aval.dtype is dt.bool_ else int_op
        return [ctx.one(op, list(xs))]
    return rule


def _shift(direction: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str, **params: Any) -> list[str]:
        d = eqn.inputs[0].aval.dtype
        if d.kind != "u":
            raise ctx.unsupported(f"on {d.name}: ONNX BitShift takes unsigned integers only")
        return [ctx.one("BitShift", [x, y], direction=direction)]
    return rule


def _expm1(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    one = ctx.const(np.asarray(1, dtype=eqn.inputs[0].aval.dtype.np))
    return [ctx.one("Sub", [ctx.one("Exp", [x]), one])]


def _log1p(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    one = ctx.const(np.asarray(1, dtype=eqn.inputs[0].aval.dtype.np))
    return [ctx.one("Log", [ctx.one("Add", [x, one])])]


def _is_finite(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    bad = ctx.one("Or", [ctx.one("IsInf", [x]), ctx.one("IsNaN", [x])])
    return [ctx.one("Not", [bad])]


def _ne(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str) -> list[str]:
    return [ctx.one("Not", [ctx.one("Equal", [x, y])])]


def _rem(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str) -> list[str]:
    # stablehlo.remainder truncates (C fmod): ONNX Mod with fmod=1 for every dtype
    return [ctx.one("Mod", [x, y], fmod=1)]


def _not(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    op = "Not" if eqn.inputs[0].aval.dtype is dt.bool_ else "BitwiseNot"
    return [ctx.one(op, [x])]


def _convert(ctx: _Ctx, eqn: _core.Eqn, x: str, *, dtype: dt.DType) -> list[str]:
    return [ctx.one("Cast", [x], to=_elem_type(dtype))]


def _select(ctx: _Ctx, eqn: _core.Eqn, p: str, a: str, b: str) -> list[str]:
    if eqn.inputs[1].aval.dtype is dt.bool_:  # onnxruntime's Where has no bool kernel
        from onnx import TensorProto as T

        a, b = (ctx.one("Cast", [v], to=T.UINT8) for v in (a, b))
        return [ctx.one("Cast", [ctx.one("Where", [p, a, b])], to=T.BOOL)]
    return [ctx.one("Where", [p, a, b])]


def _clamp(ctx: _Ctx, eqn: _core.Eqn, lo: str, x: str, hi: str) -> list[str]:
    return [ctx.one("Min", [ctx.one("Max", [x, lo]), hi])]


def _broadcast_in_dim(ctx: _Ctx, eqn: _core.Eqn, x: str, *, shape: Any, dims: Any) -> list[str]:
    src = eqn.inputs[0].aval.shape
    mid = [1] * len(shape)
    for d, s in zip(dims, src):
        mid[d] = s
    if tuple(mid) != tuple(src):
        x = ctx.one("Reshape", [x, ctx.i64(mid)], allowzero=1)
    if tuple(mid) == tuple(shape):
        return [x]
    return [ctx.one("Expand", [x, ctx.i64(shape)])]


def _reshape(ctx: _Ctx, eqn: _core.Eqn, x: str, *, shape: Any, **params: Any) -> list[str]:
    return [ctx.one("Reshape", [x, ctx.i64(shape)], allowzero=1)]


def _transpose(ctx: _Ctx, eqn: _core.Eqn, x: str, *, perm: Any) -> list[str]:
    if not perm:
        return [x]
    return [ctx.one("Transpose", [x], perm=list(perm))]


def _concatenate(ctx: _Ctx, eqn: _core.Eqn, *xs: str, axis: int) -> list[str]:
    return [ctx.one("Concat", list(xs), axis=axis)]


def _slice(ctx: _Ctx, eqn: _core.Eqn, x: str, *, start: Any, limit: Any, strides: Any) -> list[str]:
    n = len(start)
    steps = strides if strides is not None else (1,) * n
    return [ctx.one("Slice", [x, ctx.i64(start), ctx.i64(limit), ctx.i64(list(range(n))),
                              ctx.i64(steps)])]


def _rev(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axes: Any) -> list[str]:
    if not axes:
        return [ctx.one("Identity", [x])]
    n = len(axes)
    return [ctx.one("Slice", [x, ctx.i64([-1] * n), ctx.i64([-(2 ** 62)] * n),
                              ctx.i64(list(axes)), ctx.i64([-1] * n)])]


def _pad(ctx: _Ctx, eqn: _core.Eqn, x: str, v: str, *, lo: Any, hi: Any,
         interior: Any) -> list[str]:
    if any(interior):
        raise ctx.unsupported("with interior padding has no ONNX translation")
    return [ctx.one("Pad", [x, ctx.i64(list(lo) + list(hi)), v], mode="constant")]


def _iota(ctx: _Ctx, eqn: _core.Eqn, *, shape: Any, dtype: dt.DType, axis: int) -> list[str]:
    # static shapes: iota is a constant
    n = shape[axis] if shape else 1
    vals = np.arange(n).reshape([n if i == axis else 1 for i in range(len(shape))])
    return [ctx.one("Identity", [ctx.const(np.broadcast_to(vals, shape).astype(dtype.np),
                                           dtype)])]


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _dot_general(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str, *, contracting: Any, batch: Any,
                 precision: Any = None) -> list[str]:
    (xc, yc), (xb, yb) = contracting, batch
    nx, ny = eqn.inputs[0].aval.ndim, eqn.inputs[1].aval.ndim
    letters = iter(_LETTERS)
    xs = [""] * nx
    ys = [""] * ny
    for a, b in zip(xb, yb):
        xs[a] = ys[b] = next(letters)
    for a, b in zip(xc, yc):
        xs[a] = ys[b] = next(letters)
    for i in range(nx):
        if not xs[i]:
            xs[i] = next(letters)
    for i in range(ny):
        if not ys[i]:
            ys[i] = next(letters)
    out = ([xs[a] for a in xb] + [xs[i] for i in range(nx) if i not in xb and i not in xc]
           + [ys[i] for i in range(ny) if i not in yb and i not in yc])
    eq = f"{''.join(xs)},{''.join(ys)}->{''.join(out)}"
    return [ctx.one("Einsum", [x, y], equation=eq)]


def _reduce(op: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axes: Any) -> list[str]:
        if not axes:
            return [ctx.one("Identity", [x])]
        return [ctx.one(op, [x, ctx.i64(list(axes))], keepdims=0)]
    return rule


def _reduce_bool(op: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axes: Any) -> list[str]:
        if not axes:
            return [ctx.one("Identity", [x])]
        from onnx import TensorProto as T

        xi = ctx.one("Cast", [x], to=T.INT32)
        r = ctx.one(op, [xi, ctx.i64(list(axes))], keepdims=0)
        return [ctx.one("Cast", [r], to=T.BOOL)]
    return rule


def _arg(op: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axis: int, index_dtype: dt.DType) -> list[str]:
        r = ctx.one(op, [x], axis=axis, keepdims=0, select_last_index=0)
        if index_dtype is not dt.int64:
            r = ctx.one("Cast", [r], to=_elem_type(index_dtype))
        return [r]
    return rule


def _cumsum(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axis: int, reverse: bool) -> list[str]:
    return [ctx.one("CumSum", [x, ctx.i64(axis)], reverse=int(bool(reverse)))]


def _gather(ctx: _Ctx, eqn: _core.Eqn, x: str, idx: str, *, offset_dims: Any,
            collapsed_slice_dims: Any, start_index_map: Any, index_vector_dim: int,
            slice_sizes: Any, indices_are_sorted: Any) -> list[str]:
    # the single-axis gather (take, integer-array indexing of one axis): ONNX Gather
    xa, ia = eqn.inputs[0].aval, eqn.inputs[1].aval
    if (len(start_index_map) != 1 or tuple(collapsed_slice_dims) != tuple(start_index_map)):
        raise ctx.unsupported("of this form (several indexed axes) has no ONNX translation")
    axis = start_index_map[0]
    full = tuple(1 if i == axis else s for i, s in enumerate(xa.shape))
    if tuple(slice_sizes) != full:
        raise ctx.unsupported("with partial slices has no ONNX translation")
    batch_shape = list(ia.shape)
    if index_vector_dim < ia.ndim:
        if ia.shape[index_vector_dim] != 1:
            raise ctx.unsupported("with an index vector of length > 1 has no ONNX translation")
        del batch_shape[index_vector_dim]
        idx = ctx.one("Reshape", [idx, ctx.i64(batch_shape)], allowzero=1)
    # ONNX: x.shape[:axis] + batch + x.shape[axis+1:]; stablehlo: offset dims at offset_dims,
    # batch dims in order elsewhere
    g = ctx.one("Gather", [x, idx], axis=axis)
    nb = len(batch_shape)
    out_rank = xa.ndim - 1 + nb
    onnx_labels = ([("o", i) for i in range(axis)] + [("b", j) for j in range(nb)]
                   + [("o", i) for i in range(axis, xa.ndim - 1)])
    hlo_labels: list[Any] = [None] * out_rank
    for k, d in enumerate(offset_dims):
        hlo_labels[d] = ("o", k)
    j = 0
    for p in range(out_rank):
        if hlo_labels[p] is None:
            hlo_labels[p] = ("b", j)
            j += 1
    perm = [onnx_labels.index(lab) for lab in hlo_labels]
    if perm != list(range(out_rank)):
        g = ctx.one("Transpose", [g], perm=perm)
    return [g]


def _dynamic_slice(ctx: _Ctx, eqn: _core.Eqn, x: str, *starts: str, slice_sizes: Any) -> list[str]:
    from onnx import TensorProto as T

    shape = eqn.inputs[0].aval.shape
    n = len(shape)
    if n == 0:
        return [x]
    parts = [ctx.one("Reshape", [ctx.one("Cast", [s], to=T.INT64), ctx.i64([1])], allowzero=1)
             for s in starts]
    st = parts[0] if n == 1 else ctx.one("Concat", parts, axis=0)
    # stablehlo clamps each start into [0, dim - size]
    st = ctx.one("Min", [ctx.one("Max", [st, ctx.i64([0] * n)]),
                         ctx.i64([d - k for d, k in zip(shape, slice_sizes)])])
    end = ctx.one("Add", [st, ctx.i64(list(slice_sizes))])
    return [ctx.one("Slice", [x, st, end, ctx.i64(list(range(n)))])]


def _inverse(perm: Any) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


def _conv(ctx: _Ctx, eqn: _core.Eqn, lhs: str, rhs: str, *, window_strides: Any, padding: Any,
          lhs_dilation: Any, rhs_dilation: Any, dimension_numbers: Any,
          feature_group_count: int, batch_group_count: int) -> list[str]:
    ls, rs, os_ = dimension_numbers
    nsp = len(ls) - 2
    if any(d != 1 for d in lhs_dilation or ()) or batch_group_count != 1:
        raise ctx.unsupported("with lhs dilation or batch groups has no ONNX translation")
    if any(lo < 0 or hi < 0 for lo, hi in padding):
        raise ctx.unsupported("with negative padding has no ONNX translation")
    x = ctx.one("Transpose", [lhs], perm=list(ls))
    w = ctx.one("Transpose", [rhs], perm=list(rs))
    y = ctx.one("Conv", [x, w], strides=list(window_strides or (1,) * nsp),
                dilations=list(rhs_dilation or (1,) * nsp),
                pads=[p[0] for p in padding] + [p[1] for p in padding],
                group=feature_group_count)
    return [ctx.one("Transpose", [y], perm=_inverse(os_))]


def _window(op: str) -> Rule:
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, window_dimensions: Any, window_strides: Any,
             padding: Any) -> list[str]:
        aval = eqn.inputs[0].aval
        if aval.dtype.kind != "f":
            raise ctx.unsupported(f"on {aval.dtype.name}: ONNX pooling takes floats only")
        strides = window_strides or (1,) * aval.ndim
        win = [i for i in range(aval.ndim) if window_dimensions[i] != 1 or strides[i] != 1
               or tuple(padding[i]) != (0, 0)]
        if not win:
            return [x]
        if len(win) > 3:
            raise ctx.unsupported("over more than 3 dimensions has no ONNX translation")
        rest = [i for i in range(aval.ndim) if i not in win]
        perm = rest + win
        lead = int(np.prod([aval.shape[i] for i in rest])) if rest else 1
        y = ctx.one("Transpose", [x], perm=perm)
        y = ctx.one("Reshape", [y, ctx.i64([lead, 1] + [aval.shape[i] for i in win])],
                    allowzero=1)
        attrs = dict(kernel_shape=[window_dimensions[i] for i in win],
                     strides=[strides[i] for i in win],
                     pads=[padding[i][0] for i in win] + [padding[i][1] for i in win])
        if op == "MaxPool":
            y = ctx.one("MaxPool", [y], **attrs)
        else:
            y = ctx.one("AveragePool", [y], count_include_pad=1, **attrs)
            size = int(np.prod([window_dimensions[i] for i in win]))
            y = ctx.one("Mul", [y, ctx.const(np.asarray(size, aval.dtype.np), aval.dtype)])
        out = eqn.outputs[0].aval.shape
        y = ctx.one("Reshape", [y, ctx.i64([out[i] for i in perm])], allowzero=1)
        return [ctx.one("Transpose", [y], perm=_inverse(perm))]
    return rule


def _cond(ctx: _Ctx, eqn: _core.Eqn, index: str, *ops: str, branches: Any) -> list[str]:
    from onnx import helper

    def branch_graph(g: _core.Graph) -> Any:
        env = {v.id: o for v, o in zip(g.invars, ops)}  # outer values, by name
        sub = _Ctx()
        sub._n = ctx._n + 100000 * (len(ctx.nodes) + 1)  # names unique across scopes
        outs = _translate(g, sub, env)
        ctx._n = sub._n
        names = []
        for r in outs:
            names.append(sub.one("Identity", [r]))
        nodes = [helper.make_node("Constant", [], [t.name], value=t) for t in sub.inits]
        return helper.make_graph(nodes + sub.nodes, ctx.fresh("branch"), [],
                                 [_value_info(n, v.aval) for n, v in zip(names, g.outs)])

    graphs = [branch_graph(g) for g in branches]
    idx_dtype = eqn.inputs[0].aval.dtype
    # branch i runs for index i (an int index is clamped into range; a bool picks 0 or 1)
    result = graphs[-1]
    outs: list[str] = []
    for i in range(len(graphs) - 2, -1, -1):
        if idx_dtype is dt.bool_:
            pred = ctx.one("Not", [index])
        else:
            pred = ctx.one("LessOrEqual", [index, ctx.const(np.asarray(i, np.int32), dt.int32)])
        outs = ctx.node("If", [pred], n_out=len(eqn.outputs), then_branch=graphs[i],
                        else_branch=result)
        if i > 0:  # wrap the chain so far as the else branch of the next test
            result = helper.make_graph(
                [helper.make_node("Identity", [o], [o + "_r"]) for o in outs],
                ctx.fresh("chain"), [],
                [_value_info(o + "_r", v.aval) for o, v in zip(outs, eqn.outputs)])
            # the If node must live inside the chain graph, not the outer one
            result.node.insert(0, ctx.nodes.pop())
    return outs


def _identity(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    return [ctx.one("Identity", [x])]


def _build_rules() -> dict[_core.Primitive, Rule]:
    # resolved once by name from the registry; dispatch is by the primitive object
    by_name: dict[str, Rule] = {
        "neg": _simple("Neg"), "abs": _simple("Abs"), "exp": _simple("Exp"),
        "log": _simple("Log"), "sin": _simple("Sin"), "cos": _simple("Cos"),
        "tan": _simple("Tan"), "asin": _simple("Asin"), "acos": _simple("Acos"),
        "atan": _simple("Atan"), "sinh": _simple("Sinh"), "cosh": _simple("Cosh"),
        "asinh": _simple("Asinh"), "acosh": _simple("Acosh"), "atanh": _simple("Atanh"),
        "tanh": _simple("Tanh"), "sqrt": _simple("Sqrt"), "floor": _simple("Floor"),
        "ceil": _simple("Ceil"), "sign": _simple("Sign"), "erf": _simple("Erf"),
        "round": _simple("Round"), "logistic": _simple("Sigmoid"),
        "rsqrt": _chain("Sqrt", "Reciprocal"), "expm1": _expm1, "log1p": _log1p,
        "is_finite": _is_finite, "stop_gradient": _identity, "not": _not,
        "add": _simple("Add"), "sub": _simple("Sub"), "mul": _simple("Mul"),
        "div": _simple("Div"), "rem": _rem, "pow": _simple("Pow"), "max": _simple("Max"),
        "min": _simple("Min"), "eq": _simple("Equal"), "ne": _ne, "lt": _simple("Less"),
        "le": _simple("LessOrEqual"), "gt": _simple("Greater"),
        "ge": _simple("GreaterOrEqual"), "and": _bitwise("And", "BitwiseAnd"),
        "or": _bitwise("Or", "BitwiseOr"), "xor": _bitwise("Xor", "BitwiseXor"),
        "shift_left": _shift("LEFT"), "shift_right_logical": _shift("RIGHT"),
        "convert": _convert, "select": _select, "clamp": _clamp,
        "broadcast_in_dim": _broadcast_in_dim, "reshape": _reshape, "transpose": _transpose,
        "concatenate": _concatenate, "slice": _slice, "rev": _rev, "pad": _pad, "iota": _iota,
        "dot_general": _dot_general, "reduce_sum": _reduce("ReduceSum"),
        "reduce_max": _reduce("ReduceMax"), "reduce_min": _reduce("ReduceMin"),
        "reduce_prod": _reduce("ReduceProd"), "reduce_and": _reduce_bool("ReduceMin"),
        "reduce_or": _reduce_bool("ReduceMax"), "argmax": _arg("ArgMax"),
        "argmin": _arg("ArgMin"), "cumsum": _cumsum, "gather": _gather,
        "dynamic_slice": _dynamic_slice, "conv_general_dilated": _conv,
        "reduce_window_max": _window("MaxPool"), "reduce_window_sum": _window("AveragePool"),
        "cond": _cond,
    }
    return {_core.PRIMITIVES[n]: r for n, r in by_name.items() if n in _core.PRIMITIVES}


_RULES: dict[_core.Primitive, Rule] | None = None


def _value_info(name: str, aval: AbstractArray) -> Any:
    from onnx import helper

    return helper.make_tensor_value_info(name, _elem_type(aval.dtype), list(aval.shape))


def _translate(graph: _core.Graph, ctx: _Ctx, env: dict[int, str]) -> list[str]:
    global _RULES
    if _RULES is None:
        _RULES = _build_rules()
    for v, c in zip(graph.constvars, graph.consts):
        env[v.id] = ctx.const(np.asarray(c), v.aval.dtype)

    def read(atom: Any) -> str:
        if isinstance(atom, _core.Literal):
            value = np.broadcast_to(np.asarray(atom.value, dtype=atom.aval.dtype.np),
                                    atom.aval.shape)
            return ctx.const(value, atom.aval.dtype)
        return env[atom.id]

    for eqn in graph.eqns:
        ctx.eqn = eqn
        rule = _RULES.get(eqn.prim)
        if rule is None:
            raise ctx.unsupported("has no ONNX translation",)
        for a in list(eqn.inputs) + list(eqn.outputs):
            _elem_type(a.aval.dtype)
        if all(v.aval.size == 0 for v in eqn.outputs):
            # zero-size results hold no values: constants (onnxruntime's Expand and friends
            # mishandle zero-size shapes)
            for v in eqn.outputs:
                env[v.id] = ctx.const(np.zeros(v.aval.shape, v.aval.dtype.np), v.aval.dtype)
            continue
        outs = rule(ctx, eqn, *[read(a) for a in eqn.inputs], **eqn.params)
        for v, o in zip(eqn.outputs, outs):
            env[v.id] = o
    ctx.eqn = None
    return [read(a) for a in graph.outs]


def export_onnx(exported: Any, path: str | None = None) -> Any:
    """Write ``exported`` (an ``xf.Exported`` made by ``xf.export`` in this process) as an ONNX
    model (opset 18) translated from its graph IR; returns the ``onnx.ModelProto``.

    Inputs are named ``arg0, arg1, ...`` in the order of ``exported.in_avals`` and outputs
    ``out0, out1, ...`` in the order of ``exported.out_avals``. Raises ``OnnxExportError``
    naming the first primitive without an ONNX translation and its source line.
    """
    onnx = _onnx()
    from onnx import helper

    from xfront._export import Exported

    if not isinstance(exported, Exported):
        raise _errors.err(_errors.ArgumentError, "export_onnx",
                          f"expected an xf.Exported, got {type(exported).__name__}")
    graph = exported.graph
    if graph is None:
        raise _errors.err(OnnxExportError, "export_onnx",
                          f"`{exported.name}` was loaded from bytes and carries no graph IR",
                          "call xf.export_onnx on the result of xf.export (in the process that "
                          "has the Python function)")
    ctx = _Ctx()
    env: dict[int, str] = {}
    inputs = []
    for i, v in enumerate(graph.invars):
        env[v.id] = f"arg{i}"
        inputs.append(_value_info(f"arg{i}", v.aval))
    results = _translate(graph, ctx, env)
    outputs = []
    for j, (r, a) in enumerate(zip(results, graph.outs)):
        ctx.nodes.append(helper.make_node("Identity", [r], [f"out{j}"]))
        outputs.append(_value_info(f"out{j}", a.aval))
    g = helper.make_graph(ctx.nodes, exported.name or "xfront", inputs, outputs,
                          initializer=ctx.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="xfront")
    model.ir_version = 8  # the IR version that goes with opset 18
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, path)
    return model
