"""Guards that fail closed, beyond the layout/stream/deletion guards of tests/test_boundary.py:
``copy=False`` from a producer xfront has no adapter for checks that the import really aliases
the producer's memory, and refuses when it cannot establish the address."""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf
from xfront.bridges import _generic


class Producer:
    """A DLPack producer of a kind xfront has no dedicated adapter for."""

    def __init__(self, a: np.ndarray):
        self.a = a

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def _aligned(n: int, offset_bytes: int = 0) -> np.ndarray:
    raw = np.zeros(n * 4 + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset_bytes
    a = raw[start:start + n * 4].view(np.float32)
    a[:] = np.arange(n)
    return a


def test_capsule_data_pointer_reads_the_address():
    a = _aligned(8)
    assert _generic.capsule_data_pointer(a.__dlpack__()) == a.ctypes.data
    assert _generic.capsule_data_pointer(a[3:].__dlpack__()) == a[3:].ctypes.data
    assert _generic.capsule_data_pointer(object()) is None


def test_copy_false_from_an_unknown_producer_aliases_its_memory():
    a = _aligned(8)
    x = xf.from_dlpack(Producer(a), copy=False)
    a[0] = 42.0  # the producer may write in place: copy=False promised an alias
    assert float(np.asarray(x)[0]) == 42.0


def test_copy_false_refuses_when_the_import_copied():
    a = _aligned(8, offset_bytes=4)  # not 64-byte aligned: the runtime copies it
    with pytest.raises(xf.BridgeError, match=r"xfront\.from_dlpack: copy=False, but the "
                                              r"Producer cannot be imported without a copy"):
        xf.from_dlpack(Producer(a), copy=False)
    np.testing.assert_array_equal(np.asarray(xf.from_dlpack(Producer(a))), np.arange(8))


def test_copy_false_fails_closed_when_the_address_is_unknown(monkeypatch):
    monkeypatch.setattr(_generic.GenericAdapter, "data_pointer", lambda self, x: None)
    with pytest.raises(xf.BridgeError, match=r"copy=False"):
        xf.from_dlpack(Producer(_aligned(8)), copy=False)
    # without copy=False the import is still right
    np.testing.assert_array_equal(np.asarray(xf.from_dlpack(Producer(_aligned(8)))),
                                  np.arange(8))
