"""A small typed emitter for StableHLO text (MLIR generic op form).

Imports: numpy, xfront._dtypes, xfront._aval. No jaxlib: lowering to text works anywhere.

This is the only module that knows MLIR syntax. Lowering rules call ``Block.op`` (and the
attribute helpers below); they never format op strings themselves. Ops are printed in MLIR's
generic form, ``%3 = "stablehlo.add"(%1, %2) : (T, T) -> T loc("...")``, which is uniform
across ops; ``Lowered.as_text(pretty=True)`` re-prints the module in the pretty form.
"""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Sequence

import numpy as np

from xfront import _dtypes, _errors
from xfront import _shapes
from xfront._aval import AbstractArray

_I64 = AbstractArray((), _dtypes.int64)


def tensor_type(shape: Sequence[Any], dtype: _dtypes.DType) -> str:
    # a symbolic dimension (xfront/_shapes.py) is a dynamic one: ``tensor<?x4xf32>``
    dims = "".join("?x" if isinstance(d, _shapes.Dim) else f"{d}x" for d in shape)
    return f"tensor<{dims}{dtype.mlir}>"


def aval_type(aval: AbstractArray) -> str:
    return tensor_type(aval.shape, aval.dtype)


class Value:
    """An SSA value in the emitted text, with its aval."""

    __slots__ = ("ref", "aval")

    def __init__(self, ref: str, aval: AbstractArray):
        self.ref = ref
        self.aval = aval

    @property
    def type(self) -> str:
        return aval_type(self.aval)

    def __repr__(self) -> str:
        return f"Value({self.ref}: {self.type})"


# --- attribute spellings -------------------------------------------------------------------

def i64_array(values: Iterable[int]) -> str:
    vals = ", ".join(str(int(v)) for v in values)
    return f"array<i64: {vals}>" if vals else "array<i64>"


def bool_array(values: Iterable[bool]) -> str:
    vals = ", ".join("true" if v else "false" for v in values)
    return f"array<i1: {vals}>" if vals else "array<i1>"


def i64(v: int) -> str:
    return f"{int(v)} : i64"


def i32(v: int) -> str:
    return f"{int(v)} : i32"


def boolean(v: bool) -> str:
    return "true" if v else "false"


def enum(dialect_attr: str, value: str) -> str:
    """``#stablehlo<comparison_direction LT>`` style enum attributes."""
    return f"#stablehlo<{dialect_attr} {value}>"


def dims_list(values: Iterable[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def dense_i64_2d(rows: Sequence[Sequence[int]]) -> str:
    n = len(rows)
    if n == 0:
        return "dense<> : tensor<0x2xi64>"
    body = ", ".join("[" + ", ".join(str(int(x)) for x in r) + "]" for r in rows)
    return f"dense<[{body}]> : tensor<{n}x{len(rows[0])}xi64>"


def conv_dimension_numbers(lhs: Sequence[int], rhs: Sequence[int], out: Sequence[int]) -> str:
    """``#stablehlo.conv<[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]>`` from per-tensor specs.

    Each spec lists axis indices: ``(batch, feature, *spatial)`` for ``lhs`` and ``out``, and
    ``(out_feature, in_feature, *spatial)`` for ``rhs``.
    """

    def one(spec: Sequence[int], names: tuple[str, str]) -> str:
        labels = [""] * len(spec)
        labels[spec[0]], labels[spec[1]] = names
        for i, axis in enumerate(spec[2:]):
            labels[axis] = str(i)
        return "[" + ", ".join(labels) + "]"

    return (f"#stablehlo.conv<{one(lhs, ('b', 'f'))}x{one(rhs, ('o', 'i'))}"
            f"->{one(out, ('b', 'f'))}>")


def gather_dims(*, offset_dims: Sequence[int], collapsed_slice_dims: Sequence[int],
                start_index_map: Sequence[int], index_vector_dim: int) -> str:
    """``#stablehlo.gather<...>`` dimension numbers."""
    return (f"#stablehlo.gather<offset_dims = {dims_list(offset_dims)}, "
            f"collapsed_slice_dims = {dims_list(collapsed_slice_dims)}, "
            f"start_index_map = {dims_list(start_index_map)}, "
            f"index_vector_dim = {int(index_vector_dim)}>")


def scatter_dims(*, update_window_dims: Sequence[int], inserted_window_dims: Sequence[int],
                 scatter_dims_to_operand_dims: Sequence[int], index_vector_dim: int) -> str:
    """``#stablehlo.scatter<...>`` dimension numbers."""
    return (f"#stablehlo.scatter<update_window_dims = {dims_list(update_window_dims)}, "
            f"inserted_window_dims = {dims_list(inserted_window_dims)}, "
            f"scatter_dims_to_operand_dims = {dims_list(scatter_dims_to_operand_dims)}, "
            f"index_vector_dim = {int(index_vector_dim)}>")


def string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dense_elements(value: np.ndarray, dtype: _dtypes.DType) -> str:
    """``dense<"0x...">`` (raw little-endian bytes; a one-element payload is a splat)."""
    arr = np.ascontiguousarray(np.asarray(value, dtype=dtype.np))
    flat = arr.reshape(-1)
    if flat.size > 1 and (flat == flat[0]).all() and not (dtype.kind in "fc" and np.isnan(flat[0])):
        flat = flat[:1]
    elif flat.size > 1 and dtype.kind in "fc" and np.isnan(flat).all():
        # NaN != NaN: compare bit patterns instead
        b = flat.view(np.uint8).reshape(flat.size, -1)
        if (b == b[0]).all():
            flat = flat[:1]
    if dtype is _dtypes.bool_:
        payload = flat.astype(np.uint8).tobytes()
    else:
        payload = flat.astype(flat.dtype.newbyteorder("<")).tobytes()
    return f'dense<"0x{payload.hex().upper()}">'


# --- blocks and ops ------------------------------------------------------------------------

class _Names:
    """SSA names unique across one module (nested regions may not reuse enclosing names)."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        # private functions the module also holds (symbol -> text): imported modules that
        # ``func.call`` reaches (xfront/_export.py)
        self.funcs: dict[str, str] = {}
        # symbolic dimension name -> 0-d i64 value holding its size (set at function entry by
        # ``Function.bind_symbols``; values of the entry block are visible in every region)
        self.dims: dict[str, Value] = {}

    def fresh(self) -> str:
        return f"%{next(self._counter)}"


# ops whose static form takes the result shape from the result type, and their dynamic forms
# (NOTE [Lowering symbolic dimensions] in xfront/lowering/__init__.py)
_DYNAMIC_FORMS = {"stablehlo.broadcast_in_dim": "stablehlo.dynamic_broadcast_in_dim",
                  "stablehlo.reshape": "stablehlo.dynamic_reshape",
                  "stablehlo.iota": "stablehlo.dynamic_iota"}


class Block:
    """A sequence of ops being emitted (a function body or a region body)."""

    def __init__(self, names: _Names, indent: int, args: list[Value] | None = None):
        self.names = names
        self.indent = indent
        self.args = args or []
        self.lines: list[str] = []
        self.loc: str | None = None  # location attached to ops emitted now

    def op(self, name: str, operands: Sequence[Value], results: Sequence[AbstractArray], *,
           props: dict[str, str] | None = None, attrs: dict[str, str] | None = None,
           regions: Sequence[Region] = ()) -> list[Value]:
        """Emit one op; returns its result values (always a list)."""
        if name in _DYNAMIC_FORMS and results and not _shapes.is_static_shape(results[0].shape):
            # symbolic result shape: the op's dynamic form, with the shape as an operand
            name = _DYNAMIC_FORMS[name]
            operands = [*operands, self.shape_tensor(results[0].shape)]
        ops = ", ".join(v.ref for v in operands)
        in_types = ", ".join(v.type for v in operands)
        out_types = [aval_type(a) for a in results]
        if len(out_types) == 1:
            out_sig = out_types[0]
        else:
            out_sig = "(" + ", ".join(out_types) + ")"
        base = self.names.fresh() if results else ""
        lhs = ""
        if len(results) == 1:
            lhs = f"{base} = "
        elif len(results) > 1:
            lhs = f"{base}:{len(results)} = "
        text = f'{lhs}"{name}"({ops})'
        if props:
            text += " <{" + ", ".join(f"{k} = {v}" for k, v in props.items()) + "}>"
        pad = " " * self.indent
        if regions:
            text += " ("
            self.lines.append(pad + text)
            for i, r in enumerate(regions):
                self.lines.append(pad + "  {")
                if r.args:  # an argument-less entry block needs no label
                    sig = ", ".join(f"{a.ref}: {a.type}" for a in r.args)
                    self.lines.append(pad + f"  ^bb0({sig}):")
                self.lines.extend(r.block.lines)
                self.lines.append(pad + ("  }," if i < len(regions) - 1 else "  }"))
            text = ")"
        prefix = pad
        if attrs:
            text += " {" + ", ".join(f"{k} = {v}" for k, v in attrs.items()) + "}"
        text += f" : ({in_types}) -> {out_sig}"
        if self.loc:
            text += f" loc({string(self.loc)})"
        self.lines.append(prefix + text)
        if len(results) == 1:
            return [Value(base, results[0])]
        return [Value(f"{base}#{i}", a) for i, a in enumerate(results)]

    def ret(self, values: Sequence[Value], op: str = "stablehlo.return") -> None:
        ops = ", ".join(v.ref for v in values)
        types = ", ".join(v.type for v in values)
        self.lines.append(" " * self.indent + f'"{op}"({ops}) : ({types}) -> ()')

    def region(self, arg_avals: Sequence[AbstractArray]) -> Region:
        """A new region whose block has one argument per aval (emit into ``region.block``)."""
        args = [Value(self.names.fresh(), a) for a in arg_avals]
        return Region(Block(self.names, self.indent + 4, args), args)

    # conveniences used by many rules
    def constant(self, value: Any, aval: AbstractArray) -> Value:
        arr = np.asarray(value, dtype=aval.dtype.np)
        if arr.shape != aval.shape:
            arr = np.broadcast_to(arr, aval.shape)
        attr = f"{dense_elements(arr, aval.dtype)} : {aval_type(aval)}"
        return self.op("stablehlo.constant", [], [aval], props={"value": attr})[0]

    def full(self, value: Any, aval: AbstractArray) -> Value:
        """A splat constant of ``aval``'s shape, built as scalar + broadcast (small text)."""
        scalar = self.constant(value, AbstractArray((), aval.dtype))
        if aval.shape == ():
            return scalar
        return self.op("stablehlo.broadcast_in_dim", [scalar], [aval],
                       props={"broadcast_dimensions": i64_array(())})[0]

    # --- symbolic dimensions (NOTE [Lowering symbolic dimensions] in xfront/lowering) ----------
    def dim_value(self, d: Any) -> Value:
        """A 0-d i64 value holding the size ``d`` (an int or a symbolic expression)."""
        if not isinstance(d, _shapes.Dim):
            return self.constant(int(d), _I64)
        total: Value | None = None
        for mono, coef in d._terms:
            term: Value | None = None if mono else self.constant(coef, _I64)
            for atom, power in mono:
                a = self._atom_value(atom)
                for _ in range(power):
                    term = a if term is None else self.op("stablehlo.multiply", [term, a],
                                                          [_I64])[0]
            if mono and coef != 1:
                term = self.op("stablehlo.multiply", [term, self.constant(coef, _I64)], [_I64])[0]
            total = term if total is None else self.op("stablehlo.add", [total, term], [_I64])[0]
        assert total is not None
        return total

    def _atom_value(self, atom: Any) -> Value:
        if isinstance(atom, str):
            v = self.names.dims.get(atom)
            if v is None:
                raise _errors.ShapeError(
                    f"xfront: lowering: the symbolic dimension `{atom}` is not the size of any "
                    "argument axis (every symbol must appear alone as a dimension of an input)")
            return v
        kind, x, y = atom
        op = {"floordiv": "stablehlo.divide", "mod": "stablehlo.remainder",
              "max": "stablehlo.maximum", "min": "stablehlo.minimum"}[kind]
        xv, yv = self.dim_value(x), self.dim_value(y)
        out = self.op(op, [xv, yv], [_I64])[0]
        if kind in ("floordiv", "mod") and _shapes.lower_bound(x) < 0:
            # stablehlo.divide/remainder truncate; floor them (the divisor is a positive
            # constant): q - 1 and r + k where the remainder is negative
            r = out if kind == "mod" else self.op("stablehlo.remainder", [xv, yv], [_I64])[0]
            zero = self.constant(0, _I64)
            neg = self.op("stablehlo.compare", [r, zero], [AbstractArray((), _dtypes.bool_)],
                          props={"comparison_direction": enum("comparison_direction", "LT"),
                                 "compare_type": enum("comparison_type", "SIGNED")})[0]
            fixed = self.op("stablehlo.add" if kind == "mod" else "stablehlo.subtract",
                            [out, yv if kind == "mod" else self.constant(1, _I64)], [_I64])[0]
            out = self.op("stablehlo.select", [neg, fixed, out], [_I64])[0]
        return out

    def shape_tensor(self, shape: Sequence[Any]) -> Value:
        """A ``tensor<Nxi64>`` holding ``shape`` (for the ``stablehlo.dynamic_*`` ops)."""
        if _shapes.is_static_shape(shape):  # (starts, strides, paddings: one constant)
            return self.constant(np.asarray(shape, np.int64).reshape(len(shape)),
                                 AbstractArray((len(shape),), _dtypes.int64))
        one = AbstractArray((1,), _dtypes.int64)
        parts = [self.op("stablehlo.reshape", [self.dim_value(d)], [one])[0] for d in shape]
        if len(parts) == 1:
            return parts[0]
        return self.op("stablehlo.concatenate", parts,
                       [AbstractArray((len(parts),), _dtypes.int64)],
                       props={"dimension": i64(0)})[0]


class Region:
    __slots__ = ("block", "args")

    def __init__(self, block: Block, args: list[Value]):
        self.block = block
        self.args = args


class Module:
    """One StableHLO module holding ``@main`` (and nothing else for now)."""

    def __init__(self) -> None:
        self.names = _Names()

    def function(self, name: str, arg_avals: Sequence[AbstractArray],
                 arg_attrs: Sequence[dict[str, str] | None] | None = None) -> Function:
        return Function(self, name, arg_avals, arg_attrs)


class Function:
    def __init__(self, module: Module, name: str, arg_avals: Sequence[AbstractArray],
                 arg_attrs: Sequence[dict[str, str] | None] | None):
        self.module = module
        self.name = name
        self.args = [Value(module.names.fresh(), a) for a in arg_avals]
        self.arg_attrs = list(arg_attrs or [None] * len(self.args))
        self.body = Block(module.names, 4, self.args)
        self.results: list[Value] = []
        # SPMD programs (xfront/sharding.py): result attributes, the partition count and
        # module-level declarations such as ``sdy.mesh``
        self.res_attrs: list[dict[str, str] | None] | None = None
        self.num_partitions = 1
        self.preamble: list[str] = []

    def bind_symbols(self) -> None:
        """Read the size of every symbolic dimension from the first argument axis that has
        exactly that size (``stablehlo.get_dimension_size``), for ``Block.dim_value``."""
        dims = self.module.names.dims
        for name, (i, axis) in _shapes.symbol_axes(a.aval.shape for a in self.args).items():
            if name in dims:
                continue
            size = self.body.op("stablehlo.get_dimension_size", [self.args[i]],
                                [AbstractArray((), _dtypes.int32)],
                                props={"dimension": i64(axis)})[0]
            dims[name] = self.body.op("stablehlo.convert", [size], [_I64])[0]

    def finish(self, results: Sequence[Value]) -> str:
        self.results = list(results)
        self.body.loc = None
        self.body.ret(self.results, op="func.return")
        in_t = ", ".join(a.type for a in self.args)
        out_t = ", ".join(r.type for r in self.results)
        ftype = f"({in_t}) -> ({out_t})"
        props = [f"function_type = {ftype}", f"sym_name = {string(self.name)}",
                 'sym_visibility = "public"']
        if any(self.arg_attrs):
            attrs = ", ".join(
                "{" + ", ".join(f"{k} = {v}" for k, v in (d or {}).items()) + "}"
                for d in self.arg_attrs)
            props.insert(0, f"arg_attrs = [{attrs}]")
        if self.res_attrs and any(self.res_attrs):
            rattrs = ", ".join(
                "{" + ", ".join(f"{k} = {v}" for k, v in (d or {}).items()) + "}"
                for d in self.res_attrs)
            props.append(f"res_attrs = [{rattrs}]")
        sig = ", ".join(f"{a.ref}: {a.type}" for a in self.args)
        # a module with dynamic shapes says so: XlaCallModule then refines its shapes
        poly = ("jax.uses_shape_polymorphism = true, "
                if any("?" in a.type for a in self.args) else "")
        lines = ['module @xfront attributes {' + poly + 'mhlo.num_partitions = '
                 f'{self.num_partitions} : i32, mhlo.num_replicas = 1 : i32}} {{']
        lines.extend("  " + ln for ln in self.preamble)
        lines.append('  "func.func"() <{' + ", ".join(props) + "}> ({")
        if self.args:
            lines.append(f"  ^bb0({sig}):")
        lines.extend(self.body.lines)
        lines.append("  }) : () -> ()")
        for text in self.module.names.funcs.values():
            lines.extend("  " + ln for ln in text.splitlines())
        lines.append("}")
        return "\n".join(lines) + "\n"
