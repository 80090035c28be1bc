"""xfront's dtypes, dtype categories and type promotion.

Imports: numpy and ml_dtypes only. Everything else in xfront depends on this module.

NOTE [Type promotion]
    Array-array promotion follows the Array API standard's table: within one kind (bool, signed
    int, unsigned int, real float, complex) the wider type wins; int + uint go to the smallest
    signed type that holds both (uint64 + int* has no such type). Pairs that the standard leaves
    undefined (int with float, bool with numbers, uint64 with int*) follow NumPy 2:
    ``int8 + float16 -> float16``, ``int32 + float32 -> float64``, ``uint64 + int64 -> float64``,
    ``bool + int8 -> int8``. bfloat16 (no NumPy equivalent) promotes like float16 does with
    integers; bfloat16 + float16 -> float32.

NOTE [Python scalars are weak]
    A Python ``bool/int/float/complex`` (or a compile argument that was one) adapts to the dtype
    of the array it meets when its kind is not higher: ``float32_array * 2.0 -> float32``,
    ``uint8_array + 1 -> uint8``. When the scalar's kind is higher than the array's, the result is
    the array's kind raised to the scalar's kind, as NumPy 2 does: ``int32_array + 1.5 -> float64``,
    ``float32_array * 1j -> complex64``, ``bool_array + 1 -> int64``. A Python int that does not
    fit the array's integer dtype raises OverflowError (NumPy 2 does the same).

The default dtypes follow NumPy on 64-bit Linux: float64 for real floats, int64 for integers,
complex128 for complex. float64 needs no global switch.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "DType", "dtype", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
    "ALL", "BOOL", "SIGNED", "UNSIGNED", "INTEGER", "REAL_FLOATING", "COMPLEX", "FLOATING",
    "NUMERIC", "REAL_NUMERIC", "INTEGER_OR_BOOL", "result_type", "promote_types",
    "default_float", "default_int", "default_complex",
]


class DType:
    """An xfront dtype. Compares equal to itself and to the equivalent NumPy dtype."""

    __slots__ = ("name", "np", "kind", "itemsize", "bits", "short", "mlir")

    def __init__(self, name: str, np_dtype: Any, kind: str, short: str, mlir: str):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.kind = kind  # 'b' bool, 'i' signed, 'u' unsigned, 'f' real float, 'c' complex
        self.itemsize = self.np.itemsize
        self.bits = 8 * self.itemsize if kind != "b" else 1
        self.short = short  # f32, i64, ... (graph printing)
        self.mlir = mlir  # element type in StableHLO text

    def __repr__(self) -> str:
        return f"xfront.{self.name}"

    __str__ = lambda self: self.name  # noqa: E731

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self is other
        if other is None:
            return False
        try:
            return dtype(other) is self
        except TypeError:
            return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self):
        return (dtype, (self.name,))

    @property
    def type(self):  # NumPy-style scalar type, useful for np interop
        return self.np.type


bool_ = DType("bool", np.bool_, "b", "bool", "i1")
int8 = DType("int8", np.int8, "i", "i8", "i8")
int16 = DType("int16", np.int16, "i", "i16", "i16")
int32 = DType("int32", np.int32, "i", "i32", "i32")
int64 = DType("int64", np.int64, "i", "i64", "i64")
uint8 = DType("uint8", np.uint8, "u", "u8", "ui8")
uint16 = DType("uint16", np.uint16, "u", "u16", "ui16")
uint32 = DType("uint32", np.uint32, "u", "u32", "ui32")
uint64 = DType("uint64", np.uint64, "u", "u64", "ui64")
float16 = DType("float16", np.float16, "f", "f16", "f16")
bfloat16 = DType("bfloat16", ml_dtypes.bfloat16, "f", "bf16", "bf16")
float32 = DType("float32", np.float32, "f", "f32", "f32")
float64 = DType("float64", np.float64, "f", "f64", "f64")
complex64 = DType("complex64", np.complex64, "c", "c64", "complex<f32>")
complex128 = DType("complex128", np.complex128, "c", "c128", "complex<f64>")

ALL: frozenset[DType] = frozenset(
    {bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,
     float16, bfloat16, float32, float64, complex64, complex128})
BOOL = frozenset({bool_})
SIGNED = frozenset({int8, int16, int32, int64})
UNSIGNED = frozenset({uint8, uint16, uint32, uint64})
INTEGER = SIGNED | UNSIGNED
REAL_FLOATING = frozenset({float16, bfloat16, float32, float64})
COMPLEX = frozenset({complex64, complex128})
FLOATING = REAL_FLOATING | COMPLEX  # Array API "floating-point" = real or complex floating
NUMERIC = INTEGER | FLOATING
REAL_NUMERIC = INTEGER | REAL_FLOATING
INTEGER_OR_BOOL = INTEGER | BOOL
# the Array API's dtype kinds (isdtype; the inspection namespace lists them)
KINDS: dict[str, frozenset[DType]] = {
    "bool": BOOL, "signed integer": SIGNED, "unsigned integer": UNSIGNED, "integral": INTEGER,
    "real floating": REAL_FLOATING, "complex floating": COMPLEX, "numeric": NUMERIC}

_BY_NAME: dict[str, DType] = {d.name: d for d in ALL}
_BY_NAME.update({"bool_": bool_, "float": float64, "int": int64, "complex": complex128})
_BY_NP: dict[np.dtype, DType] = {d.np: d for d in ALL}
_CATEGORY_NAMES = {
    BOOL: "boolean", SIGNED: "signed integer", UNSIGNED: "unsigned integer",
    INTEGER: "integer", REAL_FLOATING: "real floating-point", COMPLEX: "complex floating-point",
    FLOATING: "floating-point", NUMERIC: "numeric", REAL_NUMERIC: "real numeric",
    INTEGER_OR_BOOL: "integer or boolean", ALL: "any",
}


def category_name(cat: frozenset[DType]) -> str:
    """A readable name for a dtype category, for error messages."""
    return _CATEGORY_NAMES.get(cat) or ", ".join(sorted(d.name for d in cat))


def default_float() -> DType:
    return float64


def default_int() -> DType:
    return int64


def default_complex() -> DType:
    return complex128


def dtype(x: Any) -> DType:
    """Canonicalize a dtype specifier to an xfront DType.

    Accepts xfront dtypes, NumPy dtypes and scalar types, the strings NumPy accepts, the Python
    types ``bool/int/float/complex``, ml_dtypes.bfloat16, and torch/TensorFlow dtypes (mapped by
    name, without importing those frameworks).
    """
    if isinstance(x, DType):
        return x
    if x is bool:
        return bool_
    if x is int:
        return int64
    if x is float:
        return float64
    if x is complex:
        return complex128
    if isinstance(x, str) and x in _BY_NAME:
        return _BY_NAME[x]
    mod = type(x).__module__
    if mod.startswith("torch") or mod.startswith("tensorflow"):
        name = x.name if mod.startswith("tensorflow") else str(x).split(".")[-1]
        name = {"bool": "bool", "half": "float16", "float": "float32", "double": "float64",
                "cfloat": "complex64", "cdouble": "complex128", "long": "int64",
                "int": "int32", "short": "int16"}.get(name, name)
        if name in _BY_NAME:
            return _BY_NAME[name]
        raise TypeError(f"xfront has no dtype equivalent to {x!r}; supported dtypes: "
                        f"{', '.join(sorted(d.name for d in ALL))}")
    if hasattr(x, "dtype") and not isinstance(x, type) and not isinstance(x, np.dtype):
        return dtype(x.dtype)
    try:
        npd = np.dtype(x)
    except Exception:
        raise TypeError(f"cannot interpret {x!r} as an xfront dtype; supported dtypes: "
                        f"{', '.join(sorted(d.name for d in ALL))}") from None
    d = _BY_NP.get(npd)
    if d is None:
        raise TypeError(f"dtype {npd} is not supported by xfront; supported dtypes: "
                        f"{', '.join(sorted(d.name for d in ALL))}")
    return d


# --- promotion ------------------------------------------------------------------------------

_KIND_ORDER = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}


def _promote_pair(a: DType, b: DType) -> DType:
    if a is b:
        return a
    if a is bfloat16 or b is bfloat16:
        other = b if a is bfloat16 else a
        if other is float16:
            return float32
        if other.kind in "bf":
            return bfloat16 if other is bool_ else other
        if other.kind == "c":
            return other
        # integers: like float16 (NumPy 2): 8-bit -> bf16, 16-bit -> f32, wider -> f64
        return bfloat16 if other.itemsize == 1 else (float32 if other.itemsize == 2 else float64)
    return _BY_NP[np.promote_types(a.np, b.np)]


_PROMOTE_TABLE: dict[tuple[DType, DType], DType] = {
    (a, b): _promote_pair(a, b) for a in ALL for b in ALL
}


def promote_types(a: Any, b: Any) -> DType:
    """The dtype that ``a`` and ``b`` promote to (see NOTE [Type promotion])."""
    return _PROMOTE_TABLE[dtype(a), dtype(b)]


def _kind_default(kind: str) -> DType:
    return {"b": bool_, "i": int64, "u": int64, "f": float64, "c": complex128}[kind]


def weak_result(strong: DType | None, weak_kinds: list[str]) -> tuple[DType, bool]:
    """Combine a strong dtype (or None) with the kinds of weak scalars.

    Returns (dtype, is_weak). See NOTE [Python scalars are weak].
    """
    top = max(weak_kinds, key=_KIND_ORDER.__getitem__) if weak_kinds else None
    if strong is None:
        return _kind_default(top), True
    if top is None or _KIND_ORDER[top] <= _KIND_ORDER[strong.kind]:
        return strong, False
    if top == "c":
        # float32 + 1j -> complex64; float64/bf16/f16 map to the complex of matching precision
        return (complex64 if strong in (float16, bfloat16, float32) else complex128), False
    if top == "f":
        return float64, False  # int/bool array + Python float -> default float (NumPy 2)
    return int64, False  # bool array + Python int -> default int


def scalar_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i"
    if isinstance(value, float):
        return "f"
    if isinstance(value, complex):
        return "c"
    raise TypeError(f"not a Python scalar: {value!r}")


def result_type(*arrays_and_dtypes: Any) -> DType:
    """Array API ``result_type``: promote arrays, dtypes and Python scalars together."""
    strong: DType | None = None
    weak: list[str] = []
    for x in arrays_and_dtypes:
        if isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic):
            weak.append(scalar_kind(x))
            continue
        aval = getattr(x, "aval", None)
        if aval is not None and getattr(aval, "weak", False):
            weak.append(aval.dtype.kind)
            continue
        d = dtype(x)
        strong = d if strong is None else _PROMOTE_TABLE[strong, d]
    if strong is None and not weak:
        raise ValueError("result_type() needs at least one array or dtype")
    return weak_result(strong, weak)[0]


def can_cast(from_: Any, to: Any, /) -> bool:
    """Array API ``can_cast`` (same-kind-or-safe as by the promotion table); ``from_`` may be a
    dtype or an array."""
    src = from_ if isinstance(from_, DType) else dtype(getattr(from_, "dtype", from_))
    dst = to if isinstance(to, DType) else dtype(to)
    return _PROMOTE_TABLE.get((src, dst)) is dst


def check_int_fits(value: int, d: DType, op: str = "asarray") -> int | float:
    """NumPy 2 rule: a Python int must fit the integer dtype it is combined with. Returns the
    value to convert to ``d``: for floating dtypes an int beyond int64 becomes a Python float
    first (bfloat16's NumPy type takes no such ints), and one beyond the float range raises
    XfOverflowError, as NumPy raises OverflowError."""
    if d.kind in "fc" and not -(2 ** 63) <= value < 2 ** 63:
        try:
            return float(value)
        except OverflowError:
            from xfront import _errors

            raise _errors.err(_errors.XfOverflowError, op,
                              f"Python integer {value} is too large to convert to {d.name}",
                              "convert it explicitly") from None
    if d.kind in "iu":
        info = np.iinfo(d.np)
        if not info.min <= value <= info.max:
            from xfront import _errors

            raise _errors.err(
                _errors.XfOverflowError, op,
                f"Python integer {value} is out of bounds for {d.name} "
                f"(valid range [{info.min}, {info.max}])",
                "convert it or the array explicitly")
    return value


# --- info objects ---------------------------------------------------------------------------

class finfo:
    """Array API ``finfo`` for xfront's floating dtypes (complex maps to its real part)."""

    def __init__(self, type: Any):
        d = dtype(getattr(type, "dtype", type))
        if d.kind not in "fc":
            raise TypeError(f"finfo: expected a floating-point dtype, got {d.name}")
        real = {complex64: float32, complex128: float64}.get(d, d)
        info = ml_dtypes.finfo(real.np) if real is bfloat16 else np.finfo(real.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.smallest_normal = float(info.smallest_normal)
        self.dtype = real

    def __repr__(self) -> str:
        return (f"finfo(bits={self.bits}, eps={self.eps}, max={self.max}, min={self.min}, "
                f"smallest_normal={self.smallest_normal}, dtype={self.dtype.name})")


class iinfo:
    """Array API ``iinfo`` for xfront's integer dtypes."""

    def __init__(self, type: Any):
        d = dtype(getattr(type, "dtype", type))
        if d.kind not in "iu":
            raise TypeError(f"iinfo: expected an integer dtype, got {d.name}")
        info = np.iinfo(d.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d

    def __repr__(self) -> str:
        return f"iinfo(bits={self.bits}, min={self.min}, max={self.max}, dtype={self.dtype.name})"


def isdtype(d: Any, kind: Any) -> bool:
    """Array API ``isdtype``."""
    d = dtype(d)
    if isinstance(kind, tuple):
        return any(isdtype(d, k) for k in kind)
    if isinstance(kind, str):
        if kind not in KINDS:
            raise ValueError(f"isdtype: unknown kind {kind!r}; valid kinds: {sorted(KINDS)}")
        return d in KINDS[kind]
    return d is dtype(kind)


_INT_OF_SIZE = {(d.itemsize, d.kind): d for d in INTEGER}


def int_of_size(itemsize: int, *, unsigned: bool = False) -> DType:
    """The signed (or unsigned) integer dtype of ``itemsize`` bytes: the type a float's bits
    are bitcast to (``int_of_size(float32.itemsize) is int32``)."""
    d = _INT_OF_SIZE.get((itemsize, "u" if unsigned else "i"))
    if d is None:
        raise ValueError(f"no {'un' if unsigned else ''}signed integer dtype of {itemsize} "
                         "bytes; sizes 1, 2, 4 and 8 have one")
    return d


def real_dtype(d: DType) -> DType:
    return {complex64: float32, complex128: float64}.get(d, d)


def complex_dtype(d: DType) -> DType:
    if d.kind == "c":
        return d
    return complex128 if d is float64 else complex64
