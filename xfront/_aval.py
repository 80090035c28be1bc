"""Abstract values: the static type (shape, dtype, weak flag) of every array and graph value.

Imports: _dtypes only.
"""

from __future__ import annotations

from typing import Any

from xfront._dtypes import DType


class AbstractArray:
    """The type of an array value: a static shape, a dtype, and whether it is weakly typed.

    ``weak`` marks values that came from Python scalars (see NOTE [Python scalars are weak] in
    _dtypes.py); they adapt to the dtype of the arrays they meet.
    """

    __slots__ = ("shape", "dtype", "weak", "_hash")

    def __init__(self, shape: tuple[int, ...], dtype: DType, weak: bool = False):
        self.shape = shape
        self.dtype = dtype
        self.weak = weak
        self._hash = hash((shape, dtype.name, weak))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def short(self) -> str:
        """``f32[3,4]`` (a trailing ``~`` marks weak types: ``f64~[]``)."""
        w = "~" if self.weak else ""
        return f"{self.dtype.short}{w}[{','.join(map(str, self.shape))}]"

    def strong(self) -> AbstractArray:
        return AbstractArray(self.shape, self.dtype) if self.weak else self

    def update(self, shape: Any = None, dtype: DType | None = None, weak: bool | None = None):
        return AbstractArray(self.shape if shape is None else tuple(shape),
                             self.dtype if dtype is None else dtype,
                             self.weak if weak is None else weak)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, AbstractArray) and self.shape == other.shape
                and self.dtype is other.dtype and self.weak == other.weak)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"AbstractArray({self.short})"

    def __reduce__(self):
        return (AbstractArray, (self.shape, self.dtype, self.weak))
