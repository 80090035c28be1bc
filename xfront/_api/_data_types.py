"""Array API section "Data Type Functions": astype, can_cast, finfo, iinfo, isdtype,
result_type.

Imports: _helpers, _dtypes, prims.
"""

from __future__ import annotations

from typing import Any

from xfront import _dtypes as dt
from xfront._api._helpers import ensure_array, to_array
from xfront._dtypes import result_type  # noqa: F401
from xfront.prims import elementwise as ew
from xfront.prims import shape as sh


def astype(x: Any, dtype: Any, /, *, copy: bool = True, device: Any = None) -> Any:
    """Cast ``x`` to ``dtype``.

    Float -> integer truncates towards zero and saturates at the integer range (NaN -> 0), as
    XLA does; NumPy leaves these cases undefined. Complex -> real keeps the real part.
    """
    x = ensure_array(to_array("astype", x))
    d = dt.dtype(dtype)
    if x.dtype is d:
        out = sh.reshape(x, shape=x.shape) if copy else x
    else:
        out = ew.convert(x, dtype=d)
    if device is not None:
        out = out.to_device(device)
    return out


def _dtype_arg(x: Any) -> dt.DType:
    aval = getattr(x, "aval", None)
    return aval.dtype if aval is not None else dt.dtype(x)


def can_cast(from_: Any, to: Any, /) -> bool:
    """Whether ``from_`` (a dtype or an array) can be cast to ``to`` by the promotion rules."""
    return dt.can_cast(_dtype_arg(from_), dt.dtype(to))


def finfo(type: Any, /):  # noqa: A002  (the standard's parameter name)
    """Machine limits of a floating dtype (or of an array's dtype)."""
    return dt.finfo(_dtype_arg(type))


def iinfo(type: Any, /):  # noqa: A002
    """Machine limits of an integer dtype (or of an array's dtype)."""
    return dt.iinfo(_dtype_arg(type))


def isdtype(dtype: Any, kind: Any) -> bool:
    """Whether ``dtype`` is of ``kind`` (a dtype, a kind name, or a tuple of them)."""
    return dt.isdtype(dtype, kind)
