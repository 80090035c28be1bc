"""``xf.export_onnx``: translate an exported program's graph IR into an ONNX model.

Imports: numpy, _core, _dtypes, _errors, _aval; onnx only inside ``export_onnx`` (an optional
extra: ``pip install xfront[onnx]``).

One translation rule per primitive, in a table keyed by the primitive object (``_RULES``); a
primitive without a rule raises ``OnnxExportError`` naming it and the user's source line. The
model uses ONNX opset 18 (reductions take their axes as an input there), which onnxruntime runs,
unless a translation needs a newer operator: ``bitcast_convert`` becomes ``BitCast`` (opset 26;
onnxruntime 1.32 runs it), which the namespace uses for ``signbit``, ``copysign``,
``floor_divide``/``remainder`` of floats, ``nextafter`` and the sort keys of floats.

NOTE [Where ONNX and xfront differ]
    The translation is value-for-value on ordinary inputs; a few edge cases follow ONNX's (or
    onnxruntime's) definitions instead of xfront's: float-to-int ``Cast`` of NaN or of values
    outside the integer range is undefined in ONNX (xfront saturates), single-axis gathers
    (ONNX Gather) assume in-range indices (xfront's namespace clamps traced indices before the
    gather primitive, so graphs from the namespace are fine; multi-axis gathers clamp, as
    stablehlo does), and ``Max``/``Min``/``ArgMax`` with NaN inputs follow onnxruntime.
    onnxruntime's elementwise ``Where`` returns +0.0 where it takes a -0.0 from its first
    value operand (measured with onnxruntime 1.32), so a ``select`` that picks -0.0 there
    (``copysign(0, -1)``, say) gives +0.0; the values compare equal. Complex dtypes have no
    ONNX mapping.

NOTE [Formulations]
    Where ONNX has no operator, a rule composes exact integer or bit-level steps (shifts,
    popcount, clz, nextafter, Threefry, the sort keys, scatters with out-of-range updates
    dropped) or, for ``cbrt``, ``atan2``, ``erf_inv``, ``lgamma`` and ``digamma``,
    floating-point formulas (``sign(x) * |x| ** (1/3)``; ``Atan(y / x)`` plus the quadrant,
    with signed zeros, infinities and NaNs as in C; Giles' single-precision polynomials,
    float16/float32 only; the Lanczos series with g = 7 and its derivative, reflected below
    0.5) that agree with XLA's to a few ulp rather than bit for bit (erf_inv: within 2 ulp on
    a grid of [-1, 1]; lgamma: absolute error up to ~2e-6 in float32 next to its poles).
    ``cumprod``/``cummax``/``cummin`` run as ONNX Scan with the product/extremum as the body:
    a running product rounded at each step (``exp(cumsum(log|x|))`` would not be exact;
    products may still differ from XLA's by rounding where XLA associates differently).
    ``sort`` is a chain of stable ONNX TopK sorts (k = the axis size,
    ties broken by position), least significant key first; float keys are split into
    (is NaN, value) so NaNs sort last, and -0.0 ties with 0.0, as in xfront.

NOTE [Symbolic dimensions in ONNX]
    An artifact exported with symbolic dimensions (``xf.Spec(("b", 4), ...)``) becomes one
    model whose inputs and outputs carry ``dim_param``s (the printed expression: ``b``,
    ``2*b``). Each symbol's size is read once from the first input axis that is exactly that
    symbol (``Shape`` with start/end), and every shape the graph needs (reshape targets,
    broadcast shapes, slice ends, iota lengths, TopK's k, clamp bounds of gathers) is computed
    from those sizes with int64 ``Mul``/``Add``/``Div``/``Mod``/``Max``/``Min`` and
    ``Concat`` where a static size was a constant before (``_Ctx.i64``). A rule written this
    way says so where it is defined (``@_symbolic``); an equation with symbolic shapes whose rule
    is not marked raises OnnxExportError naming the primitive, its line and its symbolic types.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._aval import AbstractArray
from xfront._shapes import Dim, symbol_name

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
        self.opset = OPSET  # raised by rules that need a newer operator (BitCast: 26)
        self.syms: dict[str, str] = {}  # symbol -> its size, a [1] int64 tensor
        self._dims: dict[Any, str] = {}

    def need(self, opset: int) -> None:
        self.opset = max(self.opset, opset)

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
        """An int64 constant; a list with symbolic dimensions is computed in the graph (NOTE
        [Symbolic dimensions in ONNX])."""
        if isinstance(values, (list, tuple)) and any(isinstance(v, Dim) for v in values):
            if len(values) == 1:
                return self.dim(values[0])
            return self.one("Concat", [self.dim(v) for v in values], axis=0)
        if isinstance(values, Dim):  # a scalar
            return self.one("Reshape", [self.dim(values), self.i64(np.zeros(0, np.int64))])
        return self.const(np.asarray(values, dtype=np.int64))

    def dim(self, d: Any) -> str:
        """A dimension as a [1] int64 tensor."""
        if not isinstance(d, Dim):
            return self.const(np.asarray([int(d)], dtype=np.int64))
        hit = self._dims.get(d)
        if hit is not None:
            return hit
        total: str | None = None
        for mono, coef in d._terms:
            v = None if (mono and coef == 1) else self.dim(coef)
            for atom, power in mono:
                a = self._atom(atom)
                for _ in range(power):
                    v = a if v is None else self.one("Mul", [v, a])
            assert v is not None
            total = v if total is None else self.one("Add", [total, v])
        assert total is not None
        self._dims[d] = total
        return total

    def _atom(self, atom: Any) -> str:
        if isinstance(atom, str):
            if atom not in self.syms:
                raise self.unsupported(f"uses the symbol `{atom}`, which no input axis has "
                                       "alone")
            return self.syms[atom]
        kind, x, y = atom  # floordiv/mod by positive constants, max/min: on sizes >= 0
        op = {"floordiv": "Div", "mod": "Mod", "max": "Max", "min": "Min"}[kind]
        return self.one(op, [self.dim(x), self.dim(y)])

    def node(self, op: str, inputs: list[str], n_out: int = 1, **attrs: Any) -> list[str]:
        from onnx import helper

        outs = [self.fresh(op.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op, inputs, outs, **attrs))
        return outs

    def one(self, op: str, inputs: list[str], **attrs: Any) -> str:
        return self.node(op, inputs, **attrs)[0]

    # NOTE [onnxruntime kernel gaps]: onnxruntime's CPU kernels for Where lack bool, int16,
    # uint16 and uint64, and those for Min/Max lack int16 and uint16; these two helpers widen
    # such operands exactly (to int32, or bit-cast uint64 to int64) and narrow the result back.
    def where(self, c: str, a: str, b: str, d: dt.DType) -> str:
        if d in (dt.bool_, dt.int16, dt.uint16):
            from onnx import TensorProto as T

            a, b = (self.one("Cast", [v], to=T.INT32) for v in (a, b))
            return self.one("Cast", [self.one("Where", [c, a, b])], to=_elem_type(d))
        if d is dt.uint64:
            self.need(26)
            a, b = (self.one("BitCast", [v], to=_elem_type(dt.int64)) for v in (a, b))
            return self.one("BitCast", [self.one("Where", [c, a, b])], to=_elem_type(d))
        return self.one("Where", [c, a, b])

    def minmax(self, op: str, a: str, b: str, d: dt.DType) -> str:
        if d in (dt.int16, dt.uint16):
            from onnx import TensorProto as T

            a, b = (self.one("Cast", [v], to=T.INT32) for v in (a, b))
            return self.one("Cast", [self.one(op, [a, b])], to=_elem_type(d))
        return self.one(op, [a, b])

    def unsupported(self, why: str) -> OnnxExportError:
        e = self.eqn
        site = f" at {e.source}" if e is not None and e.source else ""
        name = e.prim.name if e is not None else "?"
        return _errors.err(OnnxExportError, "export_onnx",
                           f"primitive `{name}`{site} {why}")


Rule = Callable[..., list[str]]


def _symbolic(rule: Rule) -> Rule:
    """Marks a translation rule as written for symbolic dimensions too: it builds every shape it
    needs with ``_Ctx.i64``/``_Ctx.dim`` (NOTE [Symbolic dimensions in ONNX]). ``_translate``
    refuses an equation with symbolic shapes whose rule is not marked."""
    setattr(rule, "symbolic", True)
    return rule


def _simple(op: str) -> Rule:
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, *xs: str, **params: Any) -> list[str]:
        return [ctx.one(op, list(xs))]
    return rule


def _chain(*ops: str) -> Rule:
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, **params: Any) -> list[str]:
        for op in ops:
            x = ctx.one(op, [x])
        return [x]
    return rule


def _bitwise(bool_op: str, int_op: str) -> Rule:
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, *xs: str, **params: Any) -> list[str]:
        op = bool_op if eqn.inputs[0].aval.dtype is dt.bool_ else int_op
        return [ctx.one(op, list(xs))]
    return rule


@_symbolic
def _expm1(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    one = ctx.const(np.asarray(1, dtype=eqn.inputs[0].aval.dtype.np))
    return [ctx.one("Sub", [ctx.one("Exp", [x]), one])]


@_symbolic
def _log1p(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    one = ctx.const(np.asarray(1, dtype=eqn.inputs[0].aval.dtype.np))
    return [ctx.one("Log", [ctx.one("Add", [x, one])])]


@_symbolic
def _is_finite(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    bad = ctx.one("Or", [ctx.one("IsInf", [x]), ctx.one("IsNaN", [x])])
    return [ctx.one("Not", [bad])]


@_symbolic
def _ne(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str) -> list[str]:
    return [ctx.one("Not", [ctx.one("Equal", [x, y])])]


@_symbolic
def _rem(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str) -> list[str]:
    # stablehlo.remainder truncates (C fmod): ONNX Mod with fmod=1 for every dtype
    return [ctx.one("Mod", [x, y], fmod=1)]


@_symbolic
def _not(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    op = "Not" if eqn.inputs[0].aval.dtype is dt.bool_ else "BitwiseNot"
    return [ctx.one(op, [x])]


@_symbolic
def _convert(ctx: _Ctx, eqn: _core.Eqn, x: str, *, dtype: dt.DType) -> list[str]:
    return [ctx.one("Cast", [x], to=_elem_type(dtype))]


@_symbolic
def _select(ctx: _Ctx, eqn: _core.Eqn, p: str, a: str, b: str) -> list[str]:
    return [ctx.where(p, a, b, eqn.inputs[1].aval.dtype)]


@_symbolic
def _clamp(ctx: _Ctx, eqn: _core.Eqn, lo: str, x: str, hi: str) -> list[str]:
    d = eqn.inputs[1].aval.dtype
    return [ctx.minmax("Min", ctx.minmax("Max", x, lo, d), hi, d)]


def _minmax(op: str) -> Rule:
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, a: str, b: str) -> list[str]:
        return [ctx.minmax(op, a, b, eqn.inputs[0].aval.dtype)]
    return rule


@_symbolic
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


@_symbolic
def _reshape(ctx: _Ctx, eqn: _core.Eqn, x: str, *, shape: Any, **params: Any) -> list[str]:
    return [ctx.one("Reshape", [x, ctx.i64(shape)], allowzero=1)]


@_symbolic
def _transpose(ctx: _Ctx, eqn: _core.Eqn, x: str, *, perm: Any) -> list[str]:
    if not perm:
        return [x]
    return [ctx.one("Transpose", [x], perm=list(perm))]


@_symbolic
def _concatenate(ctx: _Ctx, eqn: _core.Eqn, *xs: str, axis: int) -> list[str]:
    return [ctx.one("Concat", list(xs), axis=axis)]


@_symbolic
def _slice(ctx: _Ctx, eqn: _core.Eqn, x: str, *, start: Any, limit: Any, strides: Any) -> list[str]:
    n = len(start)
    steps = strides if strides is not None else (1,) * n
    return [ctx.one("Slice", [x, ctx.i64(start), ctx.i64(limit), ctx.i64(list(range(n))),
                              ctx.i64(steps)])]


@_symbolic
def _rev(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axes: Any) -> list[str]:
    if not axes:
        return [ctx.one("Identity", [x])]
    n = len(axes)
    return [ctx.one("Slice", [x, ctx.i64([-1] * n), ctx.i64([-(2 ** 62)] * n),
                              ctx.i64(list(axes)), ctx.i64([-1] * n)])]


@_symbolic
def _iota(ctx: _Ctx, eqn: _core.Eqn, *, shape: Any, dtype: dt.DType, axis: int) -> list[str]:
    if any(isinstance(d, Dim) for d in shape):  # Range over the axis, broadcast to the shape
        r = ctx.one("Range", [ctx.i64(0), ctx.i64(shape[axis]), ctx.i64(1)])
        r = ctx.one("Reshape", [r, ctx.i64([-1 if i == axis else 1
                                            for i in range(len(shape))])])
        r = ctx.one("Expand", [r, ctx.i64(list(shape))])
        return [ctx.one("Cast", [r], to=_elem_type(dtype))]
    # static shapes: iota is a constant
    n = shape[axis] if shape else 1
    vals = np.arange(n).reshape([n if i == axis else 1 for i in range(len(shape))])
    return [ctx.one("Identity", [ctx.const(np.broadcast_to(vals, shape).astype(dtype.np),
                                           dtype)])]


@_symbolic
def _dimension_size(ctx: _Ctx, eqn: _core.Eqn, *, dim: Any) -> list[str]:
    # the size of a (symbolic) dimension as a 0-d value: NOTE [Symbolic dimensions in ONNX]
    r = ctx.i64(dim) if isinstance(dim, Dim) else ctx.i64(int(dim))
    d = eqn.outputs[0].aval.dtype
    return [r if d is dt.int64 else ctx.one("Cast", [r], to=_elem_type(d))]


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@_symbolic
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
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axes: Any) -> list[str]:
        if not axes:
            return [ctx.one("Identity", [x])]
        return [ctx.one(op, [x, ctx.i64(list(axes))], keepdims=0)]
    return rule


def _reduce_bool(op: str) -> Rule:
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axes: Any) -> list[str]:
        if not axes:
            return [ctx.one("Identity", [x])]
        from onnx import TensorProto as T

        xi = ctx.one("Cast", [x], to=T.INT32)
        r = ctx.one(op, [xi, ctx.i64(list(axes))], keepdims=0)
        return [ctx.one("Cast", [r], to=T.BOOL)]
    return rule


def _arg(op: str) -> Rule:
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axis: int, index_dtype: dt.DType) -> list[str]:
        r = ctx.one(op, [x], axis=axis, keepdims=0, select_last_index=0)
        if index_dtype is not dt.int64:
            r = ctx.one("Cast", [r], to=_elem_type(index_dtype))
        return [r]
    return rule


@_symbolic
def _cumsum(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axis: int, reverse: bool) -> list[str]:
    return [ctx.one("CumSum", [x, ctx.i64(axis)], reverse=int(bool(reverse)))]


@_symbolic
def _gather(ctx: _Ctx, eqn: _core.Eqn, x: str, idx: str, *, offset_dims: Any,
            collapsed_slice_dims: Any, start_index_map: Any, index_vector_dim: int,
            slice_sizes: Any, indices_are_sorted: Any) -> list[str]:
    # the single-axis gather (take, integer-array indexing of one axis): ONNX Gather
    xa, ia = eqn.inputs[0].aval, eqn.inputs[1].aval
    if len(start_index_map) != 1:
        return _gather_nd(ctx, eqn, x, idx, offset_dims=offset_dims,
                          collapsed_slice_dims=collapsed_slice_dims,
                          start_index_map=start_index_map, index_vector_dim=index_vector_dim,
                          slice_sizes=slice_sizes)
    if tuple(collapsed_slice_dims) != tuple(start_index_map):
        raise ctx.unsupported("of this form (a window over the indexed axis) has no ONNX "
                              "translation")
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


def _gather_nd(ctx: _Ctx, eqn: _core.Eqn, x: str, idx: str, *, offset_dims: Any,
               collapsed_slice_dims: Any, start_index_map: Any, index_vector_dim: int,
               slice_sizes: Any) -> list[str]:
    """A point gather over several axes with full windows elsewhere (``take_along_axis``,
    ``x[i, j]``): ONNX GatherND on the operand with the indexed axes moved first. stablehlo
    clamps each index into range; so does this (GatherND rejects out-of-range indices)."""
    from onnx import TensorProto as T

    xa, ia = eqn.inputs[0].aval, eqn.inputs[1].aval
    sdims = list(start_index_map)
    k = len(sdims)
    rest = [i for i in range(xa.ndim) if i not in sdims]
    if sorted(collapsed_slice_dims) != sorted(sdims) or len(set(sdims)) != k:
        raise ctx.unsupported("of this form (windows over indexed axes) has no ONNX translation")
    if [slice_sizes[i] for i in rest] != [xa.shape[i] for i in rest]:
        raise ctx.unsupported("with partial slices has no ONNX translation")
    perm = sdims + rest
    if perm != list(range(xa.ndim)):
        x = ctx.one("Transpose", [x], perm=perm)
    batch_shape = [s for i, s in enumerate(ia.shape) if i != index_vector_dim]
    if index_vector_dim == ia.ndim:
        idx = ctx.one("Reshape", [idx, ctx.i64(batch_shape + [1])], allowzero=1)
    elif index_vector_dim != ia.ndim - 1:
        ip = [i for i in range(ia.ndim) if i != index_vector_dim] + [index_vector_dim]
        idx = ctx.one("Transpose", [idx], perm=ip)
    idx = ctx.one("Cast", [idx], to=T.INT64)
    idx = ctx.one("Min", [ctx.one("Max", [idx, ctx.i64([0] * k)]),
                          ctx.i64([xa.shape[i] - 1 for i in sdims])])
    g = ctx.one("GatherND", [x, idx])
    # GatherND: batch dims, then the rest dims in operand order; stablehlo: the offset (rest)
    # dims at offset_dims, batch dims in order elsewhere
    nb, out_rank = len(batch_shape), len(batch_shape) + len(rest)
    order: list[int] = [-1] * out_rank
    for j, d in enumerate(offset_dims):
        order[d] = nb + j
    b = 0
    for p in range(out_rank):
        if order[p] < 0:
            order[p] = b
            b += 1
    if order != list(range(out_rank)):
        g = ctx.one("Transpose", [g], perm=order)
    return [g]


@_symbolic
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
        ctx.need(sub.opset)
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


# --- loops: ONNX Loop and Scan ---------------------------------------------------------------

def _subgraph(ctx: _Ctx, inputs: list[tuple[str, AbstractArray]],
              emit: Callable[[_Ctx], list[tuple[str, AbstractArray]]]) -> Any:
    """An ONNX body graph: ``emit`` translates into a fresh context (outer values are read by
    name, as ONNX scoping allows) and returns the body's results."""
    from onnx import helper

    sub = _Ctx()
    sub._n = ctx._n  # one counter: names stay unique across scopes
    sub.eqn = ctx.eqn
    outs = emit(sub)
    names = [sub.one("Identity", [r]) for r, _ in outs]
    ctx._n = sub._n
    ctx.need(sub.opset)
    nodes = [helper.make_node("Constant", [], [t.name], value=t) for t in sub.inits]
    return helper.make_graph(nodes + sub.nodes, ctx.fresh("body"),
                             [_value_info(n, a) for n, a in inputs],
                             [_value_info(n, a) for n, (_, a) in zip(names, outs)])


def _while(ctx: _Ctx, eqn: _core.Eqn, *args: str, cond_graph: Any, body_graph: Any,
           cond_nconsts: int, body_nconsts: int) -> list[str]:
    """``while`` as ONNX Loop without a trip count: the condition is evaluated once before the
    loop and again at the end of each body, on the new carry."""
    cc, bc = args[:cond_nconsts], args[cond_nconsts:cond_nconsts + body_nconsts]
    init = args[cond_nconsts + body_nconsts:]
    avals = [v.aval for v in eqn.outputs]
    c0 = _translate(cond_graph, ctx, {v.id: n for v, n in zip(cond_graph.invars, cc + init)})[0]
    ctx.eqn = eqn
    it, cin = ctx.fresh("iter"), ctx.fresh("cond_in")
    carry = [ctx.fresh("carry") for _ in init]

    def emit(sub: _Ctx) -> list[tuple[str, AbstractArray]]:
        new = _translate(body_graph, sub,
                         {v.id: n for v, n in zip(body_graph.invars, bc + tuple(carry))})
        c = _translate(cond_graph, sub,
                       {v.id: n for v, n in zip(cond_graph.invars, cc + tuple(new))})[0]
        return [(c, AbstractArray((), dt.bool_))] + list(zip(new, avals))

    body = _subgraph(ctx, [(it, AbstractArray((), dt.int64)), (cin, AbstractArray((), dt.bool_))]
                     + list(zip(carry, avals)), emit)
    return ctx.node("Loop", ["", c0, *init], n_out=len(init), body=body)


def _scan(ctx: _Ctx, eqn: _core.Eqn, *args: str, body: Any, length: int, reverse: bool,
          nconsts: int, ncarry: int) -> list[str]:
    """``scan`` as ONNX Scan over the leading axis (consts read from the outer scope; a scan
    with no scanned operand scans a dummy vector of the length)."""
    consts, init, xs = args[:nconsts], args[nconsts:nconsts + ncarry], args[nconsts + ncarry:]
    c_avals = list(body.in_avals[nconsts:nconsts + ncarry])
    x_avals = list(body.in_avals[nconsts + ncarry:])
    y_avals = list(body.out_avals[ncarry:])
    if length == 0:  # no steps: the carry as given, empty ys (onnxruntime rejects empty scans)
        return ([ctx.one("Identity", [c]) for c in init]
                + [ctx.const(np.zeros((0,) + a.shape, a.dtype.np), a.dtype) for a in y_avals])
    carry = [ctx.fresh("carry") for _ in init]
    elems = [ctx.fresh("elem") for _ in xs]
    scanned = list(xs)
    extra: list[tuple[str, AbstractArray]] = []
    if not xs:
        scanned = [ctx.const(np.zeros((length,), np.int32))]
        extra = [(ctx.fresh("tick"), AbstractArray((), dt.int32))]

    def emit(sub: _Ctx) -> list[tuple[str, AbstractArray]]:
        outs = _translate(body, sub, {v.id: n for v, n in
                                      zip(body.invars, consts + tuple(carry) + tuple(elems))})
        return list(zip(outs, c_avals + y_avals))

    g = _subgraph(ctx, list(zip(carry, c_avals)) + list(zip(elems, x_avals)) + extra, emit)
    d = 1 if reverse else 0
    attrs: dict[str, Any] = {"scan_input_directions": [d] * len(scanned)}
    if y_avals:
        attrs["scan_output_directions"] = [d] * len(y_avals)
    return ctx.node("Scan", [*init, *scanned], n_out=ncarry + len(y_avals), body=g,
                    num_scan_inputs=len(scanned), **attrs)


@_symbolic
def _identity(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    return [ctx.one("Identity", [x])]


# --- bit-level rules -----------------------------------------------------------------------

def _bitcast(ctx: _Ctx, x: str, to: dt.DType) -> str:
    ctx.need(26)
    return ctx.one("BitCast", [x], to=_elem_type(to))


@_symbolic
def _bitcast_convert(ctx: _Ctx, eqn: _core.Eqn, x: str, *, dtype: dt.DType) -> list[str]:
    return [_bitcast(ctx, x, dtype)]


def _shift(kind: str) -> Rule:
    """stablehlo shifts: a shift count >= the bit width (or negative, read as unsigned) gives 0,
    or all sign bits for the arithmetic right shift; ONNX BitShift takes unsigned integers only
    (signed values are bit-cast through the unsigned type of their width)."""
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str, **params: Any) -> list[str]:
        d = eqn.inputs[0].aval.dtype
        bits = 8 * d.itemsize
        u = dt.int_of_size(d.itemsize, unsigned=True)
        xu = x if d.kind == "u" else _bitcast(ctx, x, u)
        yu = y if d.kind == "u" else _bitcast(ctx, y, u)
        width = ctx.const(np.asarray(bits - 1, u.np), u)
        big = ctx.one("Greater", [yu, width])
        if kind == "ra":
            yc = ctx.minmax("Min", yu, width, u)
            r = ctx.one("BitShift", [xu, yc], direction="RIGHT")
            ones = ctx.const(np.asarray(np.iinfo(u.np).max, u.np), u)
            fill = ctx.one("BitwiseNot", [ctx.one("BitShift", [ones, yc], direction="RIGHT")])
            neg = ctx.one("Less", [x, ctx.const(np.asarray(0, d.np), d)])
            r = ctx.where(neg, ctx.one("BitwiseOr", [r, fill]), r, u)
        else:
            r = ctx.one("BitShift", [xu, ctx.minmax("Min", yu, width, u)],
                        direction="LEFT" if kind == "l" else "RIGHT")
            r = ctx.where(big, ctx.const(np.asarray(0, u.np), u), r, u)
        return [r if d.kind == "u" else _bitcast(ctx, r, d)]
    return rule


@_symbolic
def _popcnt(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    # the sum of the bits, one shift-and-mask per bit position (exact; ONNX has no popcount)
    from onnx import TensorProto as T

    d = eqn.inputs[0].aval.dtype
    u = dt.int_of_size(d.itemsize, unsigned=True)
    xu = x if d.kind == "u" else _bitcast(ctx, x, u)
    one = ctx.const(np.asarray(1, u.np), u)
    total = None
    for k in range(8 * d.itemsize):
        shifted = ctx.one("BitShift", [xu, ctx.const(np.asarray(k, u.np), u)],
                          direction="RIGHT") if k else xu
        bit = ctx.one("Cast", [ctx.one("BitwiseAnd", [shifted, one])], to=T.INT32)
        total = bit if total is None else ctx.one("Add", [total, bit])
    return [ctx.one("Cast", [total], to=_elem_type(eqn.outputs[0].aval.dtype))]


@_symbolic
def _clz(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    # width - bit length; the bit length counts the shifts k with x >> k != 0 (exact)
    from onnx import TensorProto as T

    d = eqn.inputs[0].aval.dtype
    u = dt.int_of_size(d.itemsize, unsigned=True)
    xu = x if d.kind == "u" else _bitcast(ctx, x, u)
    zero = ctx.const(np.asarray(0, u.np), u)
    total = ctx.const(np.asarray(8 * d.itemsize, np.int32))
    for k in range(8 * d.itemsize):
        shifted = ctx.one("BitShift", [xu, ctx.const(np.asarray(k, u.np), u)],
                          direction="RIGHT") if k else xu
        nz = ctx.one("Cast", [ctx.one("Not", [ctx.one("Equal", [shifted, zero])])], to=T.INT32)
        total = ctx.one("Sub", [total, nz])
    return [ctx.one("Cast", [total], to=_elem_type(d))]


@_symbolic
def _cbrt(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    # sign(x) * |x| ** (1/3): within a few ulp of stablehlo.cbrt (NOTE [Formulations])
    d = eqn.inputs[0].aval.dtype
    third = ctx.const(np.asarray(1 / 3, d.np), d)
    mag = ctx.one("Pow", [ctx.one("Abs", [x]), third])
    neg = ctx.one("Less", [x, ctx.const(np.asarray(0, d.np), d)])
    return [ctx.one("Where", [neg, ctx.one("Neg", [mag]), mag])]


@_symbolic
def _atan2(ctx: _Ctx, eqn: _core.Eqn, y: str, x: str) -> list[str]:
    """C atan2 from Atan(y / x) and the quadrant, signed zeros and infinities included
    (NOTE [Formulations]); the sign of a zero is read from the sign of 1 / zero."""
    d = eqn.inputs[0].aval.dtype

    def c(v: float) -> str:
        return ctx.const(np.asarray(v, d.np), d)

    def negative(v: str) -> str:  # the sign bit, NaN aside
        return ctx.one("Or", [ctx.one("Less", [v, c(0)]),
                              ctx.one("Less", [ctx.one("Div", [c(1), v]), c(0)])])

    yneg, xneg = negative(y), negative(x)

    def signed(v: float) -> str:  # +-v with y's sign
        return ctx.one("Where", [yneg, c(-v), c(v)])

    # NOTE [Where ONNX and xfront differ]: every Where below takes a possibly signed zero from
    # its second value operand only. atan2(+-0, +0) = +-0 comes from Atan(y / 1).
    both0 = ctx.one("And", [ctx.one("Equal", [x, c(0)]), ctx.one("Equal", [y, c(0)])])
    x = ctx.one("Where", [ctx.one("And", [both0, ctx.one("Not", [xneg])]), c(1), x])
    base = ctx.one("Atan", [ctx.one("Div", [y, x])])
    r = ctx.one("Where", [xneg, ctx.one("Add", [base, signed(np.pi)]), base])
    r = ctx.one("Where", [ctx.one("And", [both0, xneg]), signed(np.pi), r])
    # both infinite: +-pi/4 or +-3pi/4
    bothinf = ctx.one("And", [ctx.one("IsInf", [x]), ctx.one("IsInf", [y])])
    r = ctx.one("Where", [bothinf, ctx.one("Where", [xneg, signed(3 * np.pi / 4),
                                                     signed(np.pi / 4)]), r])
    nan = ctx.one("Or", [ctx.one("IsNaN", [x]), ctx.one("IsNaN", [y])])
    return [ctx.one("Where", [nan, ctx.one("Add", [x, y]), r])]


def _threefry2x32(ctx: _Ctx, eqn: _core.Eqn, k0: str, k1: str, x0: str, x1: str) -> list[str]:
    """Threefry-2x32 (20 rounds) in uint32 Add / BitShift / BitwiseOr / BitwiseXor: the same
    bits as xfront's lowering, so ``xf.random`` samplers export exactly."""
    from xfront.prims import random as rnd

    def u(v: int) -> str:
        return ctx.const(np.asarray(v, np.uint32), dt.uint32)

    def add(a: str, b: str) -> str:
        return ctx.one("Add", [a, b])

    ks = [k0, k1, ctx.one("BitwiseXor", [ctx.one("BitwiseXor", [k0, k1]), u(rnd.KEY_PARITY)])]
    x0, x1 = add(x0, ks[0]), add(x1, ks[1])
    for r in range(rnd.ROUNDS):
        sh = rnd.ROTATIONS[(r // 4) % 2][r % 4]
        x0 = add(x0, x1)
        x1 = ctx.one("BitwiseOr", [ctx.one("BitShift", [x1, u(sh)], direction="LEFT"),
                                   ctx.one("BitShift", [x1, u(32 - sh)], direction="RIGHT")])
        x1 = ctx.one("BitwiseXor", [x1, x0])
        if r % 4 == 3:
            j = r // 4 + 1
            x0 = add(x0, ks[j % 3])
            x1 = add(add(x1, ks[(j + 1) % 3]), u(j))
    return [x0, x1]


# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): single-precision
# polynomials in w = -log((1 - x)(1 + x)), for w < 5 (in w - 2.5) and otherwise (in sqrt(w) - 3)
_ERFINV_SMALL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_ERFINV_LARGE = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erf_inv(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    """erf_inv of float16/float32 by Giles' single-precision approximation (NOTE
    [Formulations]); float64 would need the double-precision one and is not mapped."""
    from onnx import TensorProto as T

    d = eqn.inputs[0].aval.dtype
    if d not in (dt.float16, dt.float32):
        raise ctx.unsupported(f"on {d.name} has no ONNX translation: ONNX has Erf but no "
                              "inverse, and only the single-precision formula is mapped")
    if d is not dt.float32:
        x = ctx.one("Cast", [x], to=T.FLOAT)

    def c(v: float) -> str:
        return ctx.const(np.asarray(v, np.float32), dt.float32)

    def poly(coeffs: Any, t: str) -> str:
        p = c(coeffs[0])
        for k in coeffs[1:]:
            p = ctx.one("Add", [ctx.one("Mul", [p, t]), c(k)])
        return p

    w = ctx.one("Neg", [ctx.one("Log", [ctx.one("Sub", [c(1), ctx.one("Mul", [x, x])])])])
    small = poly(_ERFINV_SMALL, ctx.one("Sub", [w, c(2.5)]))
    large = poly(_ERFINV_LARGE, ctx.one("Sub", [ctx.one("Sqrt", [w]), c(3)]))
    r = ctx.one("Mul", [ctx.one("Where", [ctx.one("Less", [w, c(5)]), small, large]), x])
    # +-1 give +-inf
    r = ctx.one("Where", [ctx.one("Equal", [ctx.one("Abs", [x]), c(1)]),
                          ctx.one("Mul", [x, c(np.inf)]), r])
    return [r if d is dt.float32 else ctx.one("Cast", [r], to=_elem_type(d))]


# Lanczos approximation, g = 7, nine terms (the coefficients of Numerical Recipes / Godfrey)
_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)


def _lgamma(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    """log|Gamma(x)| by the Lanczos series, with the reflection formula below 0.5 (NOTE
    [Formulations]): accurate to a few ulp away from the zeros at 1 and 2, where the error is
    absolute (~1 ulp of 1)."""
    d = eqn.inputs[0].aval.dtype

    def c(v: float) -> str:
        return ctx.const(np.asarray(v, d.np), d)

    reflect = ctx.one("Less", [x, c(0.5)])
    z = ctx.one("Where", [reflect, ctx.one("Neg", [x]), ctx.one("Sub", [x, c(1)])])
    acc = c(_LANCZOS[0])
    for i, k in enumerate(_LANCZOS[1:]):
        acc = ctx.one("Add", [acc, ctx.one("Div", [c(k), ctx.one("Add", [z, c(i + 1)])])])
    t = ctx.one("Add", [z, c(_LANCZOS_G + 0.5)])
    log_t = ctx.one("Add", [c(np.log(_LANCZOS_G + 0.5)), ctx.one("Log", [ctx.one(
        "Add", [c(1), ctx.one("Div", [z, c(_LANCZOS_G + 0.5)])])])])
    log_y = ctx.one("Add", [ctx.one("Add", [c(0.5 * np.log(2 * np.pi)), ctx.one("Sub", [
        ctx.one("Mul", [ctx.one("Add", [z, c(0.5)]), log_t]), t])]), ctx.one("Log", [acc])])
    ax = ctx.one("Abs", [x])
    frac = ctx.one("Sub", [ax, ctx.one("Floor", [ax])])
    frac = ctx.one("Where", [ctx.one("Greater", [frac, c(0.5)]), ctx.one("Sub", [c(1), frac]),
                             frac])
    denom = ctx.one("Log", [ctx.one("Sin", [ctx.one("Mul", [c(np.pi), frac])])])
    finite = ctx.one("Not", [ctx.one("Or", [ctx.one("IsInf", [denom]),
                                            ctx.one("IsNaN", [denom])])])
    refl = ctx.one("Where", [finite, ctx.one("Sub", [ctx.one("Sub", [c(np.log(np.pi)), denom]),
                                                     log_y]), ctx.one("Neg", [denom])])
    r = ctx.one("Where", [reflect, refl, log_y])
    return [ctx.one("Where", [ctx.one("IsInf", [x]), c(np.inf), r])]


def _digamma(ctx: _Ctx, eqn: _core.Eqn, x: str) -> list[str]:
    """psi(x), the derivative of the Lanczos series for lgamma, reflected below 0.5 (NaN at
    the poles 0, -1, -2, ...; NOTE [Formulations])."""
    d = eqn.inputs[0].aval.dtype

    def c(v: float) -> str:
        return ctx.const(np.asarray(v, d.np), d)

    reflect = ctx.one("Less", [x, c(0.5)])
    z = ctx.one("Where", [reflect, ctx.one("Neg", [x]), ctx.one("Sub", [x, c(1)])])
    num, den = c(0.0), c(_LANCZOS[0])
    for i, k in enumerate(_LANCZOS[1:]):
        zi = ctx.one("Add", [z, c(i + 1)])
        num = ctx.one("Sub", [num, ctx.one("Div", [c(k), ctx.one("Mul", [zi, zi])])])
        den = ctx.one("Add", [den, ctx.one("Div", [c(k), zi])])
    t = ctx.one("Add", [z, c(_LANCZOS_G + 0.5)])
    log_t = ctx.one("Add", [c(np.log(_LANCZOS_G + 0.5)), ctx.one("Log", [ctx.one(
        "Add", [c(1), ctx.one("Div", [z, c(_LANCZOS_G + 0.5)])])])])
    y = ctx.one("Sub", [ctx.one("Add", [log_t, ctx.one("Div", [num, den])]),
                        ctx.one("Div", [c(_LANCZOS_G), t])])
    red = ctx.one("Add", [x, ctx.one("Abs", [ctx.one("Floor", [ctx.one("Add", [x, c(0.5)])])])])
    pr = ctx.one("Mul", [c(np.pi), red])
    refl = ctx.one("Sub", [y, ctx.one("Div", [ctx.one("Mul", [c(np.pi), ctx.one("Cos", [pr])]),
                                              ctx.one("Sin", [pr])])])
    r = ctx.one("Where", [reflect, refl, y])
    pole = ctx.one("And", [ctx.one("LessOrEqual", [x, c(0)]),
                           ctx.one("Equal", [x, ctx.one("Floor", [x])])])
    return [ctx.one("Where", [pole, c(np.nan), r])]


def _next_after(ctx: _Ctx, eqn: _core.Eqn, x: str, y: str) -> list[str]:
    """C nextafter through the bits: step the integer image of |x| towards y (NaN in either
    gives NaN, x == y gives y, zero steps to the smallest subnormal with y's sign)."""
    d = eqn.inputs[0].aval.dtype
    i = dt.int_of_size(d.itemsize)
    xi = _bitcast(ctx, x, i)
    zero_f = ctx.const(np.asarray(0, d.np), d)
    one_i = ctx.const(np.asarray(1, i.np), i)
    # away from zero when (y > x) == (x > 0): +1 on the bits of |x| (sign kept), else -1
    up = ctx.one("Greater", [y, x])
    xpos = ctx.one("Greater", [x, zero_f])
    away = ctx.one("Equal", [ctx.one("Cast", [up], to=_elem_type(dt.int32)),
                             ctx.one("Cast", [xpos], to=_elem_type(dt.int32))])
    stepped = ctx.where(away, ctx.one("Add", [xi, one_i]), ctx.one("Sub", [xi, one_i]), i)
    r = _bitcast(ctx, stepped, d)
    # x == 0: the smallest subnormal, signed like the direction
    tiny = ctx.const(np.asarray(np.finfo(d.np).smallest_subnormal, d.np), d)
    r = ctx.where(ctx.one("Equal", [x, zero_f]),
                  ctx.where(up, tiny, ctx.one("Neg", [tiny]), d), r, d)
    r = ctx.one("Where", [ctx.one("Equal", [x, y]), y, r])
    nan = ctx.one("Or", [ctx.one("IsNaN", [x]), ctx.one("IsNaN", [y])])
    return [ctx.one("Where", [nan, ctx.one("Add", [x, y]), r])]


# --- padding and updates ---------------------------------------------------------------------

def _pad(ctx: _Ctx, eqn: _core.Eqn, x: str, v: str, *, lo: Any, hi: Any,
         interior: Any) -> list[str]:
    shape = list(eqn.inputs[0].aval.shape)
    for ax, k in enumerate(interior):
        n = shape[ax]
        if k == 0 or n <= 1:
            continue
        # interior padding of one axis: append k pad values after each element (a new axis of
        # size 1 padded to 1 + k), merge the two axes and drop the last k
        inner = shape[:ax + 1] + [1] + shape[ax + 1:]
        x = ctx.one("Reshape", [x, ctx.i64(inner)], allowzero=1)
        pads = [0] * (2 * len(inner))
        pads[len(inner) + ax + 1] = k
        x = ctx.one("Pad", [x, ctx.i64(pads), v], mode="constant")
        merged = shape[:ax] + [n * (1 + k)] + shape[ax + 1:]
        x = ctx.one("Reshape", [x, ctx.i64(merged)], allowzero=1)
        shape[ax] = n + (n - 1) * k
        x = ctx.one("Slice", [x, ctx.i64([0]), ctx.i64([shape[ax]]), ctx.i64([ax])])
    if not any(lo) and not any(hi):
        return [ctx.one("Identity", [x])]
    # ONNX Pad crops for negative amounts, like stablehlo.pad
    return [ctx.one("Pad", [x, ctx.i64(list(lo) + list(hi)), v], mode="constant")]


def _grid(shape: Any) -> np.ndarray:
    """Index vectors of every position of ``shape``: ``shape + (len(shape),)`` int64."""
    return np.stack(np.indices(shape, dtype=np.int64), axis=-1) if shape else \
        np.zeros((0,), np.int64)


def _starts_vector(ctx: _Ctx, starts: Any, shape: Any, sizes: Any) -> str:
    """The dynamic start indices as one int64 vector, clamped into [0, dim - size] as
    stablehlo does."""
    from onnx import TensorProto as T

    parts = [ctx.one("Reshape", [ctx.one("Cast", [s], to=T.INT64), ctx.i64([1])], allowzero=1)
             for s in starts]
    st = parts[0] if len(parts) == 1 else ctx.one("Concat", parts, axis=0)
    return ctx.one("Min", [ctx.one("Max", [st, ctx.i64([0] * len(shape))]),
                           ctx.i64([d - k for d, k in zip(shape, sizes)])])


def _dynamic_update_slice(ctx: _Ctx, eqn: _core.Eqn, x: str, upd: str, *starts: str) -> list[str]:
    shape, ushape = eqn.inputs[0].aval.shape, eqn.inputs[1].aval.shape
    if not shape:
        return [ctx.one("Identity", [upd])]
    if eqn.inputs[1].aval.size == 0:
        return [ctx.one("Identity", [x])]
    st = _starts_vector(ctx, starts, shape, ushape)
    idx = ctx.one("Add", [ctx.const(_grid(ushape)), st])
    return [ctx.one("ScatterND", [x, idx, upd])]


_REDUCTION = {"set": "none", "add": "add", "mul": "mul", "min": "min", "max": "max"}


def _scatter(ctx: _Ctx, eqn: _core.Eqn, x: str, idx: str, upd: str, *, update_window_dims: Any,
             inserted_window_dims: Any, scatter_dims_to_operand_dims: Any, index_vector_dim: int,
             mode: str, indices_are_sorted: Any, unique_indices: Any) -> list[str]:
    """The point-and-full-window scatter (``x.at[i].op(v)``, scatter-add along an axis) as ONNX
    ScatterND with a reduction. stablehlo drops an update whose index is out of range; ONNX
    rejects it, so the operand gets one extra slot at the end of each indexed axis that such
    updates are sent to, and the slot is sliced off afterwards."""
    from onnx import TensorProto as T

    xa, ia, ua = (v.aval for v in eqn.inputs)
    sdims = list(scatter_dims_to_operand_dims)
    k = len(sdims)
    rest = [i for i in range(xa.ndim) if i not in sdims]
    if sorted(inserted_window_dims) != sorted(sdims) or len(set(sdims)) != k:
        raise ctx.unsupported("of this form (windows over indexed axes) has no ONNX translation")
    batch_pos = [i for i in range(ua.ndim) if i not in update_window_dims]
    if [ua.shape[i] for i in update_window_dims] != [xa.shape[i] for i in rest]:
        raise ctx.unsupported("with partial windows has no ONNX translation")
    dtype = xa.dtype
    if dtype is dt.bool_:  # add/mul of bools are or/and: max/min of 0/1
        x, upd = (ctx.one("Cast", [v], to=T.UINT8) for v in (x, upd))
        mode = {"add": "max", "mul": "min"}.get(mode, mode)
    perm = sdims + rest
    if perm != list(range(xa.ndim)):
        x = ctx.one("Transpose", [x], perm=perm)
    tshape = [xa.shape[i] for i in perm]
    if batch_pos + list(update_window_dims) != list(range(ua.ndim)):
        upd = ctx.one("Transpose", [upd], perm=batch_pos + list(update_window_dims))
    # index vectors on the last axis, int64
    ishape = list(ia.shape)
    if index_vector_dim == ia.ndim:
        ishape.append(1)
        idx = ctx.one("Reshape", [idx, ctx.i64(ishape)], allowzero=1)
    elif index_vector_dim != ia.ndim - 1:
        ip = [i for i in range(ia.ndim) if i != index_vector_dim] + [index_vector_dim]
        idx = ctx.one("Transpose", [idx], perm=ip)
    idx = ctx.one("Cast", [idx], to=T.INT64)
    dims = ctx.i64(tshape[:k])
    ok = ctx.one("And", [ctx.one("GreaterOrEqual", [idx, ctx.i64([0] * k)]),
                         ctx.one("Less", [idx, dims])])
    ok = ctx.one("Cast", [ctx.one("ReduceMin", [ctx.one("Cast", [ok], to=T.INT32),
                                                ctx.i64([-1])], keepdims=1)], to=T.BOOL)
    idx = ctx.one("Where", [ok, idx, dims])
    pads = [0] * (2 * xa.ndim)
    for j in range(k):
        pads[xa.ndim + j] = 1
    zero = ctx.const(np.zeros((), np.uint8 if dtype is dt.bool_ else dtype.np),
                     dt.uint8 if dtype is dt.bool_ else dtype)
    x = ctx.one("Pad", [x, ctx.i64(pads), zero], mode="constant")
    y = ctx.one("ScatterND", [x, idx, upd], reduction=_REDUCTION[mode])
    y = ctx.one("Slice", [y, ctx.i64([0] * k), ctx.i64(tshape[:k]), ctx.i64(list(range(k)))])
    if perm != list(range(xa.ndim)):
        y = ctx.one("Transpose", [y], perm=_inverse(perm))
    if dtype is dt.bool_:
        y = ctx.one("Cast", [y], to=T.BOOL)
    return [y]


# --- sorting ---------------------------------------------------------------------------------

def _sort_keys(ctx: _Ctx, key: str, d: dt.DType) -> list[str]:
    """ONNX TopK keys (int64/float/double, most significant first) whose lexicographic order
    is NOTE [Sort order] of xfront/prims/sort.py on ``key``."""
    from onnx import TensorProto as T

    if d.kind in "biu" and d is not dt.uint64:
        return [ctx.one("Cast", [key], to=T.INT64)]
    if d is dt.uint64:  # high and low 32-bit halves, each exact in int64
        c32 = ctx.const(np.asarray(32, np.uint64), dt.uint64)
        hi = ctx.one("BitShift", [key, c32], direction="RIGHT")
        lo = ctx.one("BitShift", [ctx.one("BitShift", [key, c32], direction="LEFT"), c32],
                     direction="RIGHT")
        return [ctx.one("Cast", [hi], to=T.INT64), ctx.one("Cast", [lo], to=T.INT64)]
    if d in (dt.float16, dt.bfloat16):
        key, d = ctx.one("Cast", [key], to=T.FLOAT), dt.float32
    # NaNs after everything (equal to each other), then the value (NaN read as 0); TopK treats
    # -0.0 == 0.0 as a tie
    nan = ctx.one("IsNaN", [key])
    value = ctx.one("Where", [nan, ctx.const(np.zeros((), d.np), d), key])
    return [ctx.one("Cast", [nan], to=T.INT64), value]


def _sort_perm(ctx: _Ctx, keys: Any, dtypes: Any, n: int, dimension: int,
               descending: bool) -> str:
    """The stable permutation sorting ``keys`` lexicographically along ``dimension``: a chain
    of stable single-key sorts, least significant key first (ONNX TopK with k = the axis size
    breaks ties by position, in both directions)."""
    parts: list[str] = []
    for x, d in zip(keys, dtypes):
        if d.kind == "c":
            raise ctx.unsupported("on complex keys has no ONNX translation")
        parts += _sort_keys(ctx, x, d)
    kk = ctx.i64([n])
    perm: str | None = None
    for key in reversed(parts):
        if perm is not None:
            key = ctx.one("GatherElements", [key, perm], axis=dimension)
        _, order = ctx.node("TopK", [key, kk], n_out=2, axis=dimension,
                            largest=int(bool(descending)), sorted=1)
        perm = order if perm is None else ctx.one("GatherElements", [perm, order],
                                                  axis=dimension)
    assert perm is not None
    return perm


@_symbolic
def _sort(ctx: _Ctx, eqn: _core.Eqn, *xs: str, dimension: int, num_keys: int, is_stable: bool,
          descending: bool) -> list[str]:
    # a stable result is also a valid result of a non-stable sort
    avals = [v.aval for v in eqn.inputs]
    perm = _sort_perm(ctx, xs[:num_keys], [a.dtype for a in avals[:num_keys]],
                      avals[0].shape[dimension], dimension, descending)
    return [ctx.one("GatherElements", [x, perm], axis=dimension) for x in xs]


@_symbolic
def _sort_by_key(ctx: _Ctx, eqn: _core.Eqn, keys: str, x: str, *, axis: int) -> list[str]:
    a = eqn.inputs[0].aval
    perm = _sort_perm(ctx, [keys], [a.dtype], a.shape[axis], axis, False)
    return [ctx.one("GatherElements", [x, perm], axis=axis)]


# --- cumulative products and extrema: ONNX Scan ---------------------------------------------

class _Shim:
    """Stands in for an equation where a rule re-enters another with other operand types."""

    def __init__(self, avals: list[AbstractArray]) -> None:
        self.inputs = [type("V", (), {"aval": a})() for a in avals]


def _cumulative(op: str) -> Rule:
    @_symbolic
    def rule(ctx: _Ctx, eqn: _core.Eqn, x: str, *, axis: int, reverse: bool) -> list[str]:
        from onnx import helper

        a = eqn.inputs[0].aval
        d = a.dtype
        if d in (dt.int16, dt.uint16) and op != "Mul":  # NOTE [onnxruntime kernel gaps]
            from onnx import TensorProto as T

            wide = AbstractArray(a.shape, dt.int32)
            y = _cumulative(op)(ctx, _Shim([wide]), ctx.one("Cast", [x], to=T.INT32),
                                axis=axis, reverse=reverse)[0]
            return [ctx.one("Cast", [y], to=_elem_type(d))]
        if op == "Mul":
            init = 1
        elif d.kind == "f":
            init = -np.inf if op == "Max" else np.inf
        else:
            init = np.iinfo(d.np).min if op == "Max" else np.iinfo(d.np).max
        carry_shape = [s for i, s in enumerate(a.shape) if i != axis]
        if any(isinstance(s, Dim) for s in carry_shape):
            s0 = ctx.one("Expand", [ctx.const(np.asarray(init, d.np), d), ctx.i64(carry_shape)])
        else:
            s0 = ctx.const(np.full(carry_shape, init, d.np), d)
        names = [ctx.fresh(h) for h in ("carry", "elem", "next", "out")]
        body = helper.make_graph(
            [helper.make_node(op, names[:2], [names[2]]),
             helper.make_node("Identity", [names[2]], [names[3]])],
            ctx.fresh("scan_body"),
            [_value_info(names[0], AbstractArray(tuple(carry_shape), d)),
             _value_info(names[1], AbstractArray(tuple(carry_shape), d))],
            [_value_info(names[2], AbstractArray(tuple(carry_shape), d)),
             _value_info(names[3], AbstractArray(tuple(carry_shape), d))])
        direction = [1 if reverse else 0]
        outs = ctx.node("Scan", [s0, x], n_out=2, body=body, num_scan_inputs=1,
                        scan_input_axes=[axis], scan_output_axes=[axis],
                        scan_input_directions=direction, scan_output_directions=direction)
        return [outs[1]]
    return rule


# --- primitives with no ONNX operator -----------------------------------------------------------

_NO_ONNX = {
    **{n: "is a LAPACK-based linear-algebra routine; ONNX has no such operator"
       for n in ("cholesky", "eigh", "lu", "qr", "svd", "triangular_solve")},
    "fft": "works on complex values, which have no ONNX tensor type here (ONNX DFT keeps "
           "complex numbers as a trailing axis of 2 reals, which xfront's graphs do not)",
    "polygamma": "ONNX has no such operator",
}


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
        "div": _simple("Div"), "rem": _rem, "pow": _simple("Pow"), "max": _minmax("Max"),
        "min": _minmax("Min"), "eq": _simple("Equal"), "ne": _ne, "lt": _simple("Less"),
        "le": _simple("LessOrEqual"), "gt": _simple("Greater"),
        "ge": _simple("GreaterOrEqual"), "and": _bitwise("And", "BitwiseAnd"),
        "or": _bitwise("Or", "BitwiseOr"), "xor": _bitwise("Xor", "BitwiseXor"),
        "shift_left": _shift("l"), "shift_right_logical": _shift("r"),
        "shift_right_arithmetic": _shift("ra"), "popcnt": _popcnt,
        "bitcast_convert": _bitcast_convert, "clz": _clz, "cbrt": _cbrt, "atan2": _atan2,
        "threefry2x32": _threefry2x32, "erf_inv": _erf_inv, "lgamma": _lgamma,
        "digamma": _digamma, "next_after": _next_after,
        "dynamic_update_slice": _dynamic_update_slice, "scatter": _scatter, "sort": _sort,
        "sort_by_key": _sort_by_key,
        "cumprod": _cumulative("Mul"), "cummax": _cumulative("Max"),
        "cummin": _cumulative("Min"),
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
        "cond": _cond, "while": _while, "scan": _scan, "dimension_size": _dimension_size,
    }
    return {_core.PRIMITIVES[n]: r for n, r in by_name.items() if n in _core.PRIMITIVES}


_RULES: dict[_core.Primitive, Rule] | None = None

def _value_info(name: str, aval: AbstractArray) -> Any:
    from onnx import helper

    return helper.make_tensor_value_info(
        name, _elem_type(aval.dtype), [str(d) if isinstance(d, Dim) else d for d in aval.shape])


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

    # a primitive without a rule is the first thing to report (before, say, the complex
    # values around an fft)
    for eqn in graph.eqns:
        if eqn.prim not in _RULES:
            ctx.eqn = eqn
            why = _NO_ONNX.get(eqn.prim.name)
            raise ctx.unsupported(f"has no ONNX translation: {why}" if why else
                                  "has no ONNX translation")
    for eqn in graph.eqns:
        ctx.eqn = eqn
        rule = _RULES[eqn.prim]
        for a in list(eqn.inputs) + list(eqn.outputs):
            if a.aval.dtype.kind == "c":
                raise ctx.unsupported(f"on {a.aval.dtype.name} has no ONNX translation: "
                                      "complex values cannot be exported to ONNX")
            _elem_type(a.aval.dtype)
        symbolic = any(isinstance(d, Dim) for a in list(eqn.inputs) + list(eqn.outputs)
                       for d in a.aval.shape)
        if symbolic and not getattr(rule, "symbolic", False):
            raise ctx.unsupported(
                f"with symbolic dimensions ({', '.join(a.aval.short for a in eqn.inputs)}) "
                "has no ONNX translation here; export with static shapes for this function")
        if not symbolic and all(v.aval.size == 0 for v in eqn.outputs):
            # zero-size results hold no values: constants (onnxruntime's Expand and friends
            # mishandle zero-size shapes)
            for v in eqn.outputs:
                env[v.id] = ctx.const(np.zeros(v.aval.shape, v.aval.dtype.np), v.aval.dtype)
            continue
        try:
            outs = rule(ctx, eqn, *[read(a) for a in eqn.inputs], **eqn.params)
        except (_errors.ShapeError, TypeError) as e:
            if not symbolic:
                raise
            raise ctx.unsupported(
                f"with symbolic dimensions ({', '.join(a.aval.short for a in eqn.inputs)}) "
                f"has no ONNX translation of this form: {str(e).splitlines()[0]}") from None
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
        for axis, d in enumerate(v.aval.shape):  # NOTE [Symbolic dimensions in ONNX]
            name = symbol_name(d)
            if name is not None and name not in ctx.syms:
                ctx.syms[name] = ctx.one("Shape", [f"arg{i}"], start=axis, end=axis + 1)
    results = _translate(graph, ctx, env)
    outputs = []
    for j, (r, a) in enumerate(zip(results, graph.outs)):
        ctx.nodes.append(helper.make_node("Identity", [r], [f"out{j}"]))
        outputs.append(_value_info(f"out{j}", a.aval))
    g = helper.make_graph(ctx.nodes, exported.name or "xfront", inputs, outputs,
                          initializer=ctx.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", ctx.opset)],
                              producer_name="xfront")
    # the IR version that goes with the opset (8 for opset 18)
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, path)
    return model
