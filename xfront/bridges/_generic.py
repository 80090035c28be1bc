"""The adapter for DLPack producers xfront has no dedicated adapter for (CuPy, ...).

Imports: bridges._dlpack only. It trusts nothing: the layout of every import is checked, and the
dtype comes from the imported buffer.
"""

from __future__ import annotations

from typing import Any

from xfront import _errors
from xfront.bridges._dlpack import DLPACK, Adapter, BridgeError


class GenericAdapter(Adapter):
    name = "xfront"  # results of calls with such inputs are xfront arrays
    route = DLPACK
    borrows = True  # unknown producer: assume it may write in place

    def prepare(self, x: Any, op: str) -> tuple[Any, None, bool, bool]:
        return x, None, False, False

    def compact(self, x: Any) -> Any:
        raise _errors.err(BridgeError, "from_dlpack",
                          f"the {type(x).__name__} has strides the runtime cannot import "
                          "(steps or broadcast dimensions)",
                          "make it contiguous in its own framework first")


ADAPTER = GenericAdapter()
