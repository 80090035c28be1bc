"""``xfront.Array``: the concrete array type, and the operator surface shared with tracers.

Imports: _aval, _dtypes, _errors. The namespace (xfront._api) is reached through ``_ns``, which
xfront/_api/__init__.py fills in once it is imported (operators dispatch to namespace functions).
The device buffer is opaque here: only xfront.lowering.runtime knows what it is.
"""

from __future__ import annotations

import os as _os
import sys as _sys
from typing import Any

import numpy as np

from xfront import _errors
from xfront._aval import AbstractArray
from xfront._rt import rt as _rt

_ns: Any = None  # the xfront namespace module, set by xfront._api
# the buffer pool's size threshold (NOTE [Output buffer pool] in lowering/runtime.py, which
# reads the same variable with the same default)
_POOL_MIN = int(_os.environ.get("XFRONT_POOL_MIN_BYTES", str(32 << 20)))


def poolable(aval: AbstractArray) -> bool:
    """Whether an output of this type is large enough for the buffer pool."""
    return aval.size * aval.dtype.itemsize >= _POOL_MIN


def _unpickle(data: bytes, dtype_name: str, shape: tuple[int, ...], device: str) -> Array:
    """Rebuild a pickled array (NOTE [Pickling arrays])."""
    from xfront._device import get_device
    from xfront._dtypes import dtype
    from xfront._eager import array_from_numpy

    d = dtype(dtype_name)
    host = np.frombuffer(data, dtype=d.np).reshape(shape)
    return array_from_numpy(host, get_device(device), copy=True)


# NOTE [Consumed arrays]
#     An xfront array is consumed when ``xf.to_torch`` moves its buffer out (zero-copy) or a
#     compiled call donates it (donate_argnums): its buffer slot then holds a ``ConsumedBuffer``
#     that says how, and every entry point that reads the array raises ArgumentError naming
#     the argument and how it was consumed. A buffer deleted behind xfront's back (a jax array
#     imported zero-copy and then deleted or donated in jax) is found by the runtime's deleted
#     flag instead. The checks run where the buffer is handed over (exports, ``__dlpack__``,
#     ``np.asarray``) and, for executions, only after a failure (a hot call pays nothing).

class ConsumedBuffer:
    """Stands in for the buffer of a consumed array (NOTE [Consumed arrays]): any use raises."""

    __slots__ = ("how", "hint")

    def __init__(self, how: str, hint: str):
        self.how = how
        self.hint = hint

    def is_deleted(self) -> bool:
        return True

    def error(self, op: str = "Array", what: str = "this array") -> _errors.XfrontError:
        return _errors.err(_errors.ArgumentError, op,
                           f"{what} was {self.how} and cannot be used any more", self.hint)

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error()

    def __getattr__(self, name: str) -> Any:
        raise self.error()


def consumed_error(buf: Any, op: str, what: str) -> _errors.XfrontError | None:
    """The ArgumentError for a consumed or deleted buffer ``buf`` of argument ``what`` of
    ``op`` (None when the buffer is live)."""
    if isinstance(buf, ConsumedBuffer):
        return buf.error(op, what)
    if buf is None or not _rt().is_deleted(buf):
        return None
    return _errors.err(_errors.ArgumentError, op,
                       f"{what} was deleted: its buffer was donated or deleted by the framework "
                       "that shares its memory (e.g. a jax array's .delete() or a jax donation)",
                       "pass a live array (copy an array before handing its memory elsewhere)")


def mark_donated(x: Array, fn_name: str) -> None:
    """After a call that donated ``x``'s buffer: make ``x`` say so when it is used again."""
    buf = x._buf
    if not isinstance(buf, ConsumedBuffer) and _rt().is_deleted(buf):
        x._owned = False
        x._buf = ConsumedBuffer(f"donated to the compiled function `{fn_name}` "
                                "(donate_argnums): its memory now holds that call's output",
                                "do not use an array after donating it; donate a copy "
                                "(xf.asarray(x, copy=True)) to keep it")


class Array:
    """An n-dimensional array held in a PJRT device buffer.

    Every operation returns a new array; ``x[key] = v`` and ``x += y`` rebind ``x`` to a new
    value (NOTE [In-place updates]) and never write a buffer. Inside ``xfront.compile`` the
    same operations are recorded on tracers (a subclass), so one function serves both.
    """

    __slots__ = ("aval", "_buf", "_device", "_owned", "__weakref__")
    __array_priority__ = 100  # NumPy defers binary operators to us (np_array + xf_array -> xf)

    def __init__(self, *args: Any, **kwargs: Any):
        raise TypeError("xfront.Array cannot be constructed directly; use xfront.asarray(...)")

    @classmethod
    def _new(cls, buf: Any, aval: AbstractArray, device: Any, owned: bool = False) -> Array:
        """Wrap a device buffer. ``owned``: xfront allocated it, nothing else aliases it and it
        is large enough to be worth recycling when this array dies (NOTE [Output buffer pool];
        callers pass ``poolable(aval)``)."""
        self = object.__new__(cls)
        self.aval = aval
        self._buf = buf
        self._device = device
        self._owned = owned
        return self

    def __del__(self) -> None:
        # NOTE: never raises. An object whose construction failed half way (``object.__new__``
        # then an error before the slots were set, or a subclass that never sets them) has
        # unset slots (reading one raises AttributeError, caught below), and errors from a
        # finalizer could only be printed, not handled. Every array runs this when it dies,
        # so the common case (not owned) is one slot read: no ``getattr`` call.
        try:
            if not self._owned:
                return
            buf = self._buf
            # 3 = our attribute, this local, getrefcount's argument: no NumPy view or other
            # object holds the buffer
            if _sys.getrefcount(buf) <= 3:
                rt = _sys.modules.get("xfront.lowering.runtime")  # never import from __del__
                if rt is not None and not _sys.is_finalizing():
                    rt.release(buf, self.aval.size * self.aval.dtype.itemsize)
        except Exception:  # noqa: BLE001 (see the NOTE above)
            pass

    # --- pickling and copying: by value --------------------------------------------------------
    # NOTE [Pickling arrays]
    #     An array pickles as (raw bytes, dtype name, shape, device name): the runtime's buffer
    #     and device objects are process-local handles and are never pickled. Unpickling copies
    #     the bytes into a new buffer on the device of that name (``get_device``), which raises
    #     a DeviceError if this process has no such device. Raw bytes plus the dtype name also
    #     carry bfloat16 without relying on NumPy's pickling of extension dtypes. Tracers and
    #     donated or moved arrays raise the same clear error as any read of their values.
    #     ``copy.copy`` and ``copy.deepcopy`` give a new buffer with the same values on the same
    #     device (arrays hold no Python objects, so both are the same operation).
    def __reduce__(self) -> tuple[Any, tuple]:
        host = np.asarray(self)
        return (_unpickle, (host.tobytes(), self.dtype.name, self.shape, str(self.device)))

    def __copy__(self) -> Array:
        return _ns.asarray(self, copy=True)

    def __deepcopy__(self, memo: dict) -> Array:
        return self.__copy__()

    # --- Array API attributes ---------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @property
    def ndim(self) -> int:
        return len(self.aval.shape)

    @property
    def size(self) -> int:
        return self.aval.size

    @property
    def device(self):
        return self._device

    @property
    def T(self) -> Array:
        if self.ndim != 2:
            raise _errors.err(_errors.ShapeError, "Array.T",
                              f"expected a 2-D array, got {self.aval.short}",
                              "use xfront.permute_dims or .mT for stacks of matrices")
        return _ns.permute_dims(self, (1, 0))

    @property
    def mT(self) -> Array:
        return _ns.matrix_transpose(self)

    def __array_namespace__(self, *, api_version: str | None = None):
        if api_version not in (None, "2021.12", "2022.12", "2023.12", "2024.12"):
            raise ValueError(f"xfront supports Array API versions up to 2024.12, "
                             f"got api_version={api_version!r}")
        import xfront

        return xfront

    # --- conversion -------------------------------------------------------------------------
    def _live_buf(self, op: str, what: str | None = None) -> Any:
        """The buffer, or ArgumentError when the array was consumed (NOTE [Consumed arrays])."""
        e = consumed_error(self._buf, op, what or f"this {self.aval.short} array")
        if e is not None:
            raise e
        return self._buf

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        out = _rt().to_numpy(self._live_buf("__array__"))  # zero-copy, read-only view
        if dtype is not None and np.dtype(dtype) != out.dtype:
            return out.astype(dtype)
        if copy:
            return out.copy()
        return out

    def __dlpack__(self, *, stream: Any = None, max_version: Any = None, dl_device: Any = None,
                   copy: bool | None = None):
        """DLPack export. Exports a copy unless ``copy=False`` (then the consumer must not write
        to the memory): see NOTE [Exporting an immutable buffer to a mutable framework] in
        xfront/bridges/_dlpack.py."""
        from xfront.bridges._dlpack import dlpack_capsule

        return dlpack_capsule(self, stream=stream, max_version=max_version, dl_device=dl_device,
                              copy=copy)

    def __dlpack_device__(self) -> tuple[int, int]:
        return _rt().dlpack_device(self._live_buf("Array.__dlpack_device__"))

    def to_device(self, device: Any, /, *, stream: Any = None) -> Array:
        from xfront._device import get_device

        dev = get_device(device)
        if dev == self._device:
            return self
        return Array._new(_rt().copy_to_device(self._live_buf("Array.to_device"), dev.rt),
                          self.aval, dev)

    def _scalar(self, op: str):
        if self.ndim != 0:
            if self.size == 1:
                return np.asarray(self).reshape(()).item()
            raise _errors.err(_errors.ArgumentError, op,
                              f"only arrays with one element can be converted to Python scalars, "
                              f"got {self.aval.short}")
        return np.asarray(self).item()

    def __bool__(self) -> bool:
        return bool(self._scalar("__bool__"))

    def __int__(self) -> int:
        return int(self._scalar("__int__"))

    def __float__(self) -> float:
        return float(self._scalar("__float__"))

    def __complex__(self) -> complex:
        return complex(self._scalar("__complex__"))

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise _errors.err(_errors.ArgumentError, "__index__",
                              f"only integer arrays can be used as an index, got {self.aval.short}")
        return int(self._scalar("__index__"))

    def item(self):
        return self._scalar("item")

    def tolist(self):
        return np.asarray(self).tolist()

    def block_until_ready(self) -> Array:
        _rt().block_until_ready(self._buf)
        return self

    def unsafe_buffer_pointer(self) -> int:
        """The device address of the data (for zero-copy checks)."""
        return _rt().buffer_pointer(self._buf)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d xfront array")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d xfront array")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self), separator=", ", prefix="Array(")
        return f"Array({body}, dtype={self.dtype.name})"

    def __str__(self) -> str:
        return str(np.asarray(self))

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return format(self.item(), spec)
        return format(str(self), spec)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._rebind("Array.__setitem__", _ns._AtIndexer(self)[key].set(value))

    def _rebind(self, op: str, new: Array) -> Array:
        """Make this Python object refer to ``new``, the updated value of an in-place update.

        NOTE [In-place updates]
            ``x[key] = v`` and ``x += y`` (every in-place operator) are functional underneath:
            the new value is computed out of place (``x.at[key].set(v)``, ``x + y``) and then
            this object is rebound to it: eagerly to the new device buffer, inside a trace to
            the new graph variable. So no buffer is ever written: a NumPy view, a DLPack
            consumer or a torch tensor that shares the old buffer keeps the old values, and so
            do arrays sliced from ``x`` before the update (the standard leaves both unspecified).
            The update may not change ``x``'s shape or dtype. Inside ``compile``/``grad`` the
            rebinding is recorded in the graph, so only the traced function sees it: the
            caller's array passed in is not updated (return the new value instead). An array
            from outside a trace (a constant, or a value of an enclosing trace inside a
            ``cond``/``while_loop``/``scan`` body) cannot be updated with a traced value.
        """
        if new is self:
            return self
        traced = hasattr(self, "_var")
        if traced != hasattr(new, "_var") or (traced and new._builder is not self._builder):
            where = ("an enclosing trace (a cond/while_loop/scan body cannot update it)"
                     if traced else "outside the traced function (a constant to it)")
            raise _errors.err(_errors.ArgumentError, op,
                              f"cannot update this {self.aval.short} array in place here: it "
                              f"comes from {where} and the new value is traced",
                              "compute a new array instead, e.g. y = x.at[key].set(v), and "
                              "return or carry it")
        if new.aval.shape != self.aval.shape or new.aval.dtype != self.aval.dtype:
            raise _errors.err(_errors.DTypeError if new.aval.shape == self.aval.shape
                              else _errors.ShapeError, op,
                              f"the result {new.aval.short} differs from the updated array "
                              f"{self.aval.short}; an in-place update cannot change its shape "
                              "or dtype",
                              "use the out-of-place operator (x = x + y) to get a new array")
        self.aval = new.aval
        if traced:
            self._var = new._var  # type: ignore[attr-defined]
        else:
            self._buf, self._device, self._owned = new._buf, new._device, new._owned
            new._owned = False  # the buffer now belongs to self
            if type(self) is not Array:  # e.g. a borrowed view: it now holds xfront's buffer
                self.__class__ = Array
        return self

    def __getitem__(self, key: Any) -> Array:
        return _ns._getitem(self, key)

    @property
    def at(self):
        return _ns._AtIndexer(self)

    # --- NumPy/torch-style convenience methods ------------------------------------------------
    def astype(self, dtype: Any, /, *, copy: bool = True) -> Array:
        return _ns.astype(self, dtype, copy=copy)

    def reshape(self, *shape: Any) -> Array:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ns.reshape(self, shape)

    def transpose(self, *axes: Any) -> Array:
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        elif len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ns.permute_dims(self, axes)

    def flatten(self) -> Array:
        return _ns.reshape(self, (-1,))

    def squeeze(self, axis: Any = None) -> Array:
        if axis is None:
            axis = tuple(i for i, s in enumerate(self.shape) if s == 1)
        return _ns.squeeze(self, axis)

    def sum(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Array:
        return _ns.sum(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def prod(self, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Array:
        return _ns.prod(self, axis=axis, keepdims=keepdims, dtype=dtype)

    def mean(self, axis: Any = None, keepdims: bool = False) -> Array:
        return _ns.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> Array:
        return _ns.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> Array:
        return _ns.min(self, axis=axis, keepdims=keepdims)

    def any(self, axis: Any = None, keepdims: bool = False) -> Array:
        return _ns.any(self, axis=axis, keepdims=keepdims)

    def all(self, axis: Any = None, keepdims: bool = False) -> Array:
        return _ns.all(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis: Any = None, keepdims: bool = False) -> Array:
        return _ns.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: Any = None, keepdims: bool = False) -> Array:
        return _ns.argmin(self, axis=axis, keepdims=keepdims)

    # --- operators (Array API): each one is the namespace function ---------------------------
    def __neg__(self): return _ns.negative(self)
    def __pos__(self): return _ns.positive(self)
    def __abs__(self): return _ns.abs(self)
    def __invert__(self): return _ns.bitwise_invert(self)

    def __add__(self, o): return _ns.add(self, o)
    def __radd__(self, o): return _ns.add(o, self)
    def __sub__(self, o): return _ns.subtract(self, o)
    def __rsub__(self, o): return _ns.subtract(o, self)
    def __mul__(self, o): return _ns.multiply(self, o)
    def __rmul__(self, o): return _ns.multiply(o, self)
    def __truediv__(self, o): return _ns.divide(self, o)
    def __rtruediv__(self, o): return _ns.divide(o, self)
    def __floordiv__(self, o): return _ns.floor_divide(self, o)
    def __rfloordiv__(self, o): return _ns.floor_divide(o, self)
    def __mod__(self, o): return _ns.remainder(self, o)
    def __rmod__(self, o): return _ns.remainder(o, self)
    def __pow__(self, o): return _ns.pow(self, o)
    def __rpow__(self, o): return _ns.pow(o, self)
    def __matmul__(self, o): return _ns.matmul(self, o)
    def __rmatmul__(self, o): return _ns.matmul(o, self)
    def __and__(self, o): return _ns.bitwise_and(self, o)
    def __rand__(self, o): return _ns.bitwise_and(o, self)
    def __or__(self, o): return _ns.bitwise_or(self, o)
    def __ror__(self, o): return _ns.bitwise_or(o, self)
    def __xor__(self, o): return _ns.bitwise_xor(self, o)
    def __rxor__(self, o): return _ns.bitwise_xor(o, self)
    def __lshift__(self, o): return _ns.bitwise_left_shift(self, o)
    def __rlshift__(self, o): return _ns.bitwise_left_shift(o, self)
    def __rshift__(self, o): return _ns.bitwise_right_shift(self, o)
    def __rrshift__(self, o): return _ns.bitwise_right_shift(o, self)

    # in-place operators: NOTE [In-place updates] (rebinds self, never writes a buffer)
    def __iadd__(self, o): return self._rebind("Array.__iadd__", _ns.add(self, o))
    def __isub__(self, o): return self._rebind("Array.__isub__", _ns.subtract(self, o))
    def __imul__(self, o): return self._rebind("Array.__imul__", _ns.multiply(self, o))
    def __itruediv__(self, o): return self._rebind("Array.__itruediv__", _ns.divide(self, o))
    def __ifloordiv__(self, o):
        return self._rebind("Array.__ifloordiv__", _ns.floor_divide(self, o))
    def __imod__(self, o): return self._rebind("Array.__imod__", _ns.remainder(self, o))
    def __ipow__(self, o): return self._rebind("Array.__ipow__", _ns.pow(self, o))
    def __imatmul__(self, o): return self._rebind("Array.__imatmul__", _ns.matmul(self, o))
    def __iand__(self, o): return self._rebind("Array.__iand__", _ns.bitwise_and(self, o))
    def __ior__(self, o): return self._rebind("Array.__ior__", _ns.bitwise_or(self, o))
    def __ixor__(self, o): return self._rebind("Array.__ixor__", _ns.bitwise_xor(self, o))
    def __ilshift__(self, o):
        return self._rebind("Array.__ilshift__", _ns.bitwise_left_shift(self, o))
    def __irshift__(self, o):
        return self._rebind("Array.__irshift__", _ns.bitwise_right_shift(self, o))

    def __eq__(self, o): return _ns.equal(self, o)  # type: ignore[override]
    def __ne__(self, o): return _ns.not_equal(self, o)  # type: ignore[override]
    def __lt__(self, o): return _ns.less(self, o)
    def __le__(self, o): return _ns.less_equal(self, o)
    def __gt__(self, o): return _ns.greater(self, o)
    def __ge__(self, o): return _ns.greater_equal(self, o)

