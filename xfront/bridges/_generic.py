"""The adapter for DLPack producers xfront has no dedicated adapter for (CuPy, ...).

Imports: bridges._dlpack only. It trusts nothing: the layout of every import is checked, and the
dtype comes from the imported buffer.
"""

from __future__ import annotations

import ctypes
from typing import Any

from xfront import _errors
from xfront.bridges._dlpack import DLPACK, Adapter, BridgeError


class GenericAdapter(Adapter):
    name = "xfront"  # results of calls with such inputs are xfront arrays
    route = DLPACK
    borrows = True  # unknown producer: assume it may write in place

    def prepare(self, x: Any, op: str) -> tuple[Any, None, bool, bool]:
        return x, None, False, False

    def data_pointer(self, x: Any) -> int | None:
        """The address of ``x``'s first element, read from a DLPack capsule of it (None if
        that cannot be read: ``copy=False`` then fails closed, see ``_pointer_moved``)."""
        try:
            return capsule_data_pointer(x.__dlpack__())
        except Exception:
            return None

    def compact(self, x: Any) -> Any:
        raise _errors.err(BridgeError, "from_dlpack",
                          f"the {type(x).__name__} has strides the runtime cannot import "
                          "(steps or broadcast dimensions)",
                          "make it contiguous in its own framework first")


ADAPTER = GenericAdapter()


class _DLTensor(ctypes.Structure):
    # DLPack's DLTensor up to byte_offset (DLDevice and DLDataType flattened); an unversioned
    # capsule ("dltensor") points at a DLManagedTensor, whose first member is this struct
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32),
                ("device_id", ctypes.c_int32), ("ndim", ctypes.c_int32),
                ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16),
                ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
                ("byte_offset", ctypes.c_uint64)]


_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype = ctypes.c_void_p
_get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]


def capsule_data_pointer(capsule: Any) -> int | None:
    """The data address an unconsumed unversioned DLPack capsule describes (None if it is not
    one). The capsule is left unconsumed: its own destructor releases it."""
    if not ctypes.pythonapi.PyCapsule_IsValid(ctypes.py_object(capsule), b"dltensor"):
        return None
    t = _DLTensor.from_address(_get_pointer(capsule, b"dltensor"))
    return (t.data or 0) + t.byte_offset
