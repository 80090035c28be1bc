"""``xfront.__array_namespace_info__()``: the Array API inspection namespace.

Imports: _dtypes, _device.
"""

from __future__ import annotations

from typing import Any

from xfront import _dtypes as dt

# the standard's dtypes by kind, from xfront's kind table (float16/bfloat16 are xfront extras
# and are not listed), each in the order bool, signed, unsigned, real, complex; narrow first
_KINDS: dict[str, tuple[dt.DType, ...]] = {
    k: tuple(sorted(s - {dt.float16, dt.bfloat16},
                    key=lambda d: ("biufc".index(d.kind), d.itemsize)))
    for k, s in dt.KINDS.items()}


class Info:
    """What ``xfront`` supports: capabilities, devices and dtypes (Array API inspection)."""

    __slots__ = ()

    def capabilities(self) -> dict[str, Any]:
        # boolean indexing and data-dependent shapes (nonzero, unique_*) run eagerly; inside
        # compile they raise DynamicShapeError for traced values (see "Value-dependent shapes")
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": None}

    def default_device(self):
        from xfront._device import default_device

        return default_device()

    def devices(self) -> list:
        from xfront._device import devices

        return list(devices())

    def _check_device(self, device: Any) -> None:
        if device is not None:
            from xfront._device import get_device

            get_device(device)  # raises DeviceError for an unknown device

    def default_dtypes(self, *, device: Any = None) -> dict[str, dt.DType]:
        self._check_device(device)
        return {"real floating": dt.float64, "complex floating": dt.complex128,
                "integral": dt.int64, "indexing": dt.int64}

    def dtypes(self, *, device: Any = None, kind: str | tuple[str, ...] | None = None
               ) -> dict[str, dt.DType]:
        self._check_device(device)
        if kind is None:
            kinds: tuple[str, ...] = ("bool", "numeric")
        elif isinstance(kind, str):
            kinds = (kind,)
        else:
            kinds = tuple(kind)
        out: dict[str, dt.DType] = {}
        for k in kinds:
            if k not in _KINDS:
                from xfront import _errors

                raise _errors.err(_errors.ArgumentError, "__array_namespace_info__().dtypes",
                                  f"unknown kind {k!r}", f"valid kinds: {sorted(_KINDS)}")
            for d in _KINDS[k]:
                out[d.name] = d
        return out


def __array_namespace_info__() -> Info:
    """The Array API inspection namespace of xfront."""
    return Info()
