"""Array API section "Data Type Functions": astype, can_cast, finfo, iinfo, isdtype,
result_type.

Imports: _helpers, _dtypes, prims.
"""

from __future__ import annotations

from typing import Any

from xfront import _dtypes as dt
from xfront._api._helpers import ensure_array, to_array
from xfront._dtypes import can_cast, finfo, iinfo, isdtype, result_type  # noqa: F401
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
