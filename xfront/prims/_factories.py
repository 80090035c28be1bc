"""Factories that declare families of primitives with shared shape/dtype rules.

Primitives are strict: operands of binary ops have equal shapes and dtypes, and only the
dtypes a primitive lists are accepted. Promotion and broadcasting happen once, in the
namespace (xfront._api); a prim-level error reaching a user means a namespace bug, and the
message says so.
"""

from __future__ import annotations

from typing import Any, Callable

from xfront import _dtypes, _errors
from xfront._aval import AbstractArray
from xfront._core import VJP_TODO, Primitive


def internal_error(cls: type, prim: str, msg: str) -> Exception:
    return _errors.err(cls, f"prims.{prim}",
                       f"{msg} (primitives are strict; the public xfront functions promote and "
                       "broadcast before calling them)")


def check_dtype(prim: str, aval: AbstractArray, accepts: frozenset[_dtypes.DType],
                what: str = "operand") -> None:
    if aval.dtype not in accepts:
        raise internal_error(_errors.DTypeError, prim,
                             f"{what} must have a {_dtypes.category_name(accepts)} dtype, "
                             f"got {aval.short}")


def check_same(prim: str, *avals: AbstractArray) -> None:
    first = avals[0]
    for a in avals[1:]:
        if a.shape != first.shape or a.dtype is not first.dtype:
            raise internal_error(_errors.ShapeError, prim,
                                 "operands must have equal shapes and dtypes, got "
                                 + ", ".join(x.short for x in avals))


def _same_dtype(d: _dtypes.DType) -> _dtypes.DType:
    return d


def unary(name: str, accepts: frozenset[_dtypes.DType], *, ref: Callable, lowering: Callable,
          vjp: Any = VJP_TODO, result: Callable[[_dtypes.DType], _dtypes.DType] = _same_dtype,
          jvp: Callable | None = None) -> Primitive:
    """An elementwise one-operand primitive; ``result`` maps the input dtype to the output's."""

    def abstract_eval(x: AbstractArray) -> AbstractArray:
        check_dtype(name, x, accepts)
        return AbstractArray(x.shape, result(x.dtype), x.weak)

    return Primitive(name, abstract_eval=abstract_eval, ref=ref, lowering=lowering, vjp=vjp,
                     jvp=jvp)


def binary(name: str, accepts: frozenset[_dtypes.DType], *, ref: Callable, lowering: Callable,
           vjp: Any = VJP_TODO, result: Callable[[_dtypes.DType], _dtypes.DType] = _same_dtype,
           jvp: Callable | None = None) -> Primitive:
    """An elementwise two-operand primitive on equal shapes and dtypes."""

    def abstract_eval(x: AbstractArray, y: AbstractArray) -> AbstractArray:
        check_dtype(name, x, accepts)
        check_same(name, x, y)
        return AbstractArray(x.shape, result(x.dtype), x.weak and y.weak)

    return Primitive(name, abstract_eval=abstract_eval, ref=ref, lowering=lowering, vjp=vjp,
                     jvp=jvp)


def to_bool(_: _dtypes.DType) -> _dtypes.DType:
    return _dtypes.bool_
