"""The one transfer path between xfront and other array frameworks.

Imports: _array, _aval, _dtypes, _errors, _device; the runtime adapter (xfront.lowering.runtime)
lazily. Never a framework: torch, TensorFlow and jax are reached only through the per-framework
adapters (``xfront/bridges/{numpy,torch,tensorflow,jax}.py``), which map dtypes, devices and
stream quirks and hold no transfer logic.

An ``Adapter`` says which of three routes its arrays take:

* ``DLPACK`` (torch, TensorFlow, any ``__dlpack__`` producer): the adapter validates the tensor and
  hands over a capsule; ``import_array`` resolves the device, exchanges the stream, imports the
  capsule through the runtime and checks the layout (NOTE [Layouts of imported buffers] in the
  runtime adapter).
* ``HOST`` (NumPy): the runtime's host-buffer put, which aliases 64-byte-aligned memory and
  copies everything DLPack cannot describe (negative strides, read-only arrays, bfloat16).
* ``NATIVE`` (jax): a jax array already is a runtime buffer; it is adopted as it is.

Exports go the other way on the same routes (``export_buffer``).

NOTE [Borrowed memory]
    An import from NumPy or torch may alias memory the caller can still write in place. Such
    arrays are ``BorrowedArray``s. Every execution that reads one (a compiled call, an eager op)
    waits for its results before returning (on CPU), so a write made after the call returns can
    never reach a computation that was still in flight. ``xf.asarray(t)`` and
    ``xf.from_dlpack(t)`` with ``copy=None`` return such views on purpose (as every DLPack consumer
    does): a later in-place write to ``t`` shows in them. ``copy=True`` gives an independent array.
    On GPUs the ordering comes from DLPack streams instead (the consumer passes its stream to
    the producer's ``__dlpack__``, and the producer makes that stream wait for its pending
    work): xfront waits on the producer's stream before reading, and results exported back to
    torch make torch's stream wait for them.

NOTE [Hidden copies of borrowed memory]
    When borrowed memory cannot be aliased (not 64-byte aligned, not row-major), PJRT copies it,
    and that copy runs asynchronously: a write by the caller right after the import would land
    in the middle of it (seen: half old, half new values). Every import of borrowed memory
    therefore waits until its buffer is ready (~0.25 us when nothing was copied).

NOTE [Borrowed memory at interpreter exit]
    An execution that reads imported memory may run on XLA's worker threads, and it drops its
    references to its inputs only after its outputs are ready: possibly after the call returned.
    When that is the last reference to torch memory, torch's DLPack deleter takes the GIL on the
    worker thread. While Python runs that only waits for the GIL; but once the interpreter is
    finalizing, a thread that asks for the GIL is made to exit, and unwinding XLA's worker
    aborts the process ("terminate called without an active exception"), seen in about a third
    of the runs of a script whose last line is a compiled call on torch tensors (with
    asynchronous CPU dispatch). So the first import of borrowed DLPack memory registers an
    exit hook that releases xfront's references in order while the interpreter is still whole
    (``_release_at_exit``):

    1. it collects garbage, so xfront arrays in reference cycles that view borrowed memory die
       now, on the main thread (xfront's views go before the foreign owners they borrow from);
    2. the runtime drops its idle buffers (pool, staging), then waits, with the GIL released,
       for every execution that a worker thread may still be running, and keeps the references
       to those executions' inputs until the process ends, so a worker's drop is never the last
       one (NOTE [Executions in flight at exit] in the runtime adapter). Nothing is timed: the
       hook waits for exactly the executions that were recorded in flight.

    With synchronous CPU dispatch (xfront's default, NOTE [Synchronous CPU dispatch] in the
    runtime adapter) a program runs on the calling thread, which also drops its inputs before
    the call returns: nothing is recorded, and the hook only does step 1 and the pool release.

NOTE [Exporting an immutable buffer to a mutable framework]
    xfront arrays are immutable, but a torch tensor made from a DLPack capsule is writable and
    aliases the memory (so is a NumPy array made through ``__array_interface__``). xfront never
    hands out a writable alias of memory that an xfront array can still observe:

    * results of compiled functions are fresh buffers that no xfront array holds: they leave as
      ordinary writable tensors / NumPy arrays, without a copy;
    * ``xf.to_torch(x)`` *moves* the buffer: zero-copy, and ``x`` is consumed (deleted, like a
      donated argument; using it afterwards raises). When other xfront objects share the buffer
      (the same array captured as a constant of a compiled function), it copies once instead and
      ``x`` stays valid. ``copy=True`` always copies and keeps ``x``;
    * ``xf.to_numpy(x)`` gives a read-only view, ``xf.to_tf(x)`` and ``xf.to_jax(x)`` give
      immutable arrays: all zero-copy, ``x`` stays valid;
    * ``x.__dlpack__()`` (used by ``torch.from_dlpack(x)``, ``np.from_dlpack(x)``...) exports a
      copy unless the consumer passes ``copy=False``, which exports the buffer itself: the
      consumer then promises not to write to it.

    XLA never reuses or donates a buffer that a DLPack consumer still views (it skips the
    donation), so an exported tensor keeps its values.

NOTE [Results for other frameworks in recycled memory]
    A large result is written by XLA into fresh memory unless the buffer pool has a dead buffer
    of its type (NOTE [Output buffer pool] in the runtime adapter), and fresh memory costs one
    page fault per 4 KiB page on first touch (a 64 MiB result: 16,385 faults, more time than
    an elementwise kernel over it). Results handed to torch or TensorFlow on the CPU therefore
    leave through the same NumPy array that NumPy callers get (``to_numpy_owned``: its base
    object owns the runtime buffer and offers it to the pool when it dies), exported to the
    framework with NumPy's DLPack capsule, whose deleter drops that array. So the memory comes
    back to the pool exactly when the framework has dropped the tensor and all its views; a
    buffer a consumer still views is never reused.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
from typing import Any

from xfront import _dtypes, _errors
from xfront._array import Array, ConsumedBuffer
from xfront._aval import AbstractArray
from xfront._device import Device, default_device, devices
from xfront._rt import rt as _rt

_errors.register_internal_dir(__file__)

DLPACK = "dlpack"
HOST = "host"
NATIVE = "native"


class BridgeError(_errors.XfrontError, BufferError):
    """An array cannot cross the bridge as asked (``copy=False`` but a copy is needed...)."""


class NeedsGraphCall(Exception):
    """Raised by an adapter for symbolic values (a TF graph tensor): the call must be staged
    into the framework's graph instead of exchanging buffers."""


class NeedsAutograd(Exception):
    """Raised by an adapter's ``prepare`` for an input that its framework's autograd records (a
    torch tensor that requires grad under grad mode, a TF tensor an active GradientTape
    watches). A compiled call then takes the autograd route (NOTE [Gradients through framework
    autograd] in bridges/_autograd.py); other entry points raise ``adapter.autograd_error``."""

    def __init__(self, adapter: Adapter):
        super().__init__(adapter.name)
        self.adapter = adapter


class BorrowedArray(Array):
    """An xfront array viewing memory the caller may write in place (NOTE [Borrowed memory])."""

    __slots__ = ()


class MovedBuffer(ConsumedBuffer):
    """Stands in for the buffer of an array that ``xf.to_torch`` moved out: any use raises."""

    __slots__ = ()

    def __init__(self, framework: str, op: str):
        super().__init__(f"moved to {framework} by xfront.{op} (zero-copy)",
                         f"use the {framework} array, or call xfront.{op}(x, copy=True) to "
                         "keep x")


class Adapter:
    """What the transfer path needs to know about one framework (a subclass per framework).

    Attributes:
      name: the framework's name in ``returns=`` ('torch', 'tensorflow', 'numpy', 'jax').
      route: DLPACK, HOST or NATIVE (see the module docstring).
      borrows: imports may alias memory the caller can write in place.
      writable_export: exported arrays are writable aliases (torch): see
        NOTE [Exporting an immutable buffer to a mutable framework].
    """

    name = ""
    route = DLPACK
    borrows = False
    writable_export = False

    # --- import ------------------------------------------------------------------------------
    def prepare(self, x: Any, op: str) -> tuple[Any, _dtypes.DType, bool, bool]:
        """DLPACK route: validate ``x``; return ``(producer, dtype, row_major, copied)``.

        ``producer`` is what ``capsule`` exports (``x`` itself, or a row-major copy or view of
        it); ``row_major`` vouches for row-major compact strides (skips the layout check);
        ``copied`` says that the adapter already made a copy.
        """
        raise NotImplementedError

    def host_array(self, x: Any, op: str) -> tuple[Any, _dtypes.DType]:
        """HOST route: ``(ndarray, dtype)`` for ``x``."""
        raise NotImplementedError

    def adopt(self, x: Any, op: str) -> tuple[Any, _dtypes.DType, Any]:
        """NATIVE route: ``(runtime buffer, dtype, runtime device)`` for ``x``."""
        raise NotImplementedError

    def device_of(self, x: Any) -> tuple[str, int]:
        """('cpu', 0), ('gpu', 1)... for a prepared producer."""
        return dlpack_device_of(x)

    def capsule(self, x: Any, stream: Any) -> Any:
        """A DLPack capsule of a prepared producer, ready for ``stream`` (None on CPU)."""
        return generic_capsule(x, stream)

    def compact(self, x: Any) -> Any:
        """A row-major copy of ``x``, for strides the runtime cannot import."""
        raise NotImplementedError

    def data_pointer(self, x: Any) -> int | None:
        return None

    def synchronize(self, x: Any, op: str) -> None:
        """Wait until all work the framework queued on ``x``'s device is done (used when the
        runtime cannot name a stream to order the import on). Frameworks that cannot wait
        refuse the import."""
        raise _errors.err(_errors.DeviceError, op,
                          f"cannot tell when the {type(x).__name__} on {self.device_of(x)} is "
                          "ready: the runtime names no stream to order the import on",
                          "move the array to the CPU first")

    def staging_view(self, x: Any) -> Any:
        """For one compiled call: a NumPy array viewing ``x``'s CPU memory when PJRT would copy
        it into fresh memory (large, row-major, not 64-byte aligned), so that the call stages
        it instead (NOTE [Staging misaligned NumPy inputs] in the runtime adapter); otherwise None.
        Never for inputs the framework's autograd records."""
        return None

    # --- autograd (NOTE [Gradients through framework autograd] in bridges/_autograd.py) -----
    def autograd_value(self, x: Any) -> Any:
        """What the autograd route passes through the framework's op for input ``x`` (a
        variable's current value, ...)."""
        return x

    def recorded(self, x: Any) -> bool:
        """Whether the framework's autograd records ``x``, so that a gradient must flow to it
        (floating and complex arrays only). Asked on the autograd route only."""
        return False

    def untracked(self) -> Any:
        """A context in which ``prepare`` never raises NeedsAutograd (imports are not
        recorded)."""
        return contextlib.nullcontext()

    def autograd_error(self, x: Any, op: str) -> _errors.XfrontError:
        """The error for a recorded input reaching a function that cannot record it."""
        return _errors.err(_errors.ArgumentError, op,
                           f"the {type(x).__name__} is recorded by {self.name}'s autograd")

    def record_call(self, call: Any) -> list[Any]:
        """Run ``call`` (a bridges._autograd.GradCall) as one op of the framework's autograd;
        returns its flat outputs."""
        raise NotImplementedError

    # --- export ------------------------------------------------------------------------------
    def consumer_stream(self, dev: Device) -> Any:
        """The stream this framework will read an exported buffer on (None: wait on the host)."""
        return None

    def from_capsule(self, capsule: Any, dev: Device) -> Any:
        raise NotImplementedError


def dlpack_device_of(x: Any) -> tuple[str, int]:
    t, i = x.__dlpack_device__()
    plat = _rt().dlpack_platform(int(t))
    if plat is None:
        raise _errors.err(_errors.DeviceError, "from_dlpack",
                          f"the {type(x).__name__} lives on DLPack device type {int(t)}, which "
                          "xfront cannot import", "move it to the CPU or a CUDA/ROCm GPU first")
    return plat, int(i) if plat == "gpu" else 0


def generic_capsule(x: Any, stream: Any) -> Any:
    """``x.__dlpack__`` with the consumer's stream (older producers take no keywords)."""
    try:
        return x.__dlpack__(stream=stream)
    except TypeError:
        return x.__dlpack__()


# --- devices ------------------------------------------------------------------------------------

_DEVICE_CACHE: dict[Any, Device] = {}


def device_for(platform: str, index: int) -> Device:
    """The xfront Device for ('gpu', 1)... (cached)."""
    key = (platform, index)
    dev = _DEVICE_CACHE.get(key)
    if dev is None:
        try:
            devs = devices(platform)
        except _errors.XfrontError:
            raise _errors.err(_errors.DeviceError, "from_dlpack",
                              f"the array lives on {platform}:{index}, but xfront has no "
                              f"{platform} runtime here",
                              "install a jaxlib with that platform, or move the array to the "
                              "CPU first") from None
        if not 0 <= index < len(devs):
            raise _errors.err(_errors.DeviceError, "from_dlpack",
                              f"the array lives on {platform}:{index}, but xfront sees "
                              f"{len(devs)} {platform} device(s)")
        dev = devs[index]
        _DEVICE_CACHE[key] = dev
    return dev


def device_of_runtime(rt_dev: Any) -> Device:
    """The xfront Device for a runtime (PJRT) device object (cached)."""
    dev = _DEVICE_CACHE.get(rt_dev)
    if dev is None:
        plat = _rt().device_platform(rt_dev)
        for d in devices(plat):
            if d.rt == rt_dev:
                dev = d
                break
        else:
            raise _errors.err(_errors.DeviceError, "asarray",
                              f"the jax array lives on {rt_dev}, which is not one of xfront's "
                              "devices")
        _DEVICE_CACHE[rt_dev] = dev
    return dev


# --- avals --------------------------------------------------------------------------------------

_AVALS: dict[tuple[tuple[int, ...], _dtypes.DType], AbstractArray] = {}


def aval_of(shape: tuple[int, ...], dtype: _dtypes.DType) -> AbstractArray:
    key = (shape, dtype)
    a = _AVALS.get(key)
    if a is None:
        if len(_AVALS) > 4096:
            _AVALS.clear()
        a = _AVALS[key] = AbstractArray(shape, dtype)
    return a


# --- import -------------------------------------------------------------------------------------

def import_array(x: Any, ad: Adapter, op: str, device: Device | None = None,
                 copy: bool | None = None) -> Array:
    """An xfront array holding foreign array ``x`` (zero-copy where the memory allows).

    Args:
      ad: the adapter of ``type(x)``.
      op: the public function, for error messages.
      device: where the result must live (default: where ``x`` lives; NumPy: the default device).
      copy: None copies only when needed; True always copies; False never copies (raises
        BridgeError when a copy would be needed).
    """
    rt = _rt()
    route = ad.route
    if route is HOST:
        arr, dtype = ad.host_array(x, op)
        dev = device or default_device()
        buf = rt.put(arr, dev.rt, copy=copy is True)
        rt.block_until_ready(buf)  # NOTE [Hidden copies of borrowed memory]
        if copy is False and arr.size and rt.buffer_pointer(buf) != arr.ctypes.data:
            raise _copy_error(op, x, "its memory is not 64-byte aligned or not row-major")
        cls = Array if copy is True else BorrowedArray
        return cls._new(buf, aval_of(arr.shape, dtype), dev)
    if route is NATIVE:
        buf, dtype, rt_dev = ad.adopt(x, op)
        dev = device_of_runtime(rt_dev)
        if copy:
            buf = rt.copy_buffer(buf)
        out = Array._new(buf, aval_of(tuple(buf.shape), dtype), dev)
        return out if device is None or device == dev else _move(out, device, copy, op, x)
    src, dtype, row_major, copied = ad.prepare(x, op)
    plat, idx = ad.device_of(src)
    dev = device_for(plat, idx)
    stream = rt.external_ready_stream(dev.rt) if plat != "cpu" else None
    if stream is rt.UNKNOWN_STREAM:  # fail closed: the producer finishes everything first
        ad.synchronize(src, op)
        stream = None
    try:
        buf = rt.import_dlpack(ad.capsule(src, stream), dev.rt, stream, row_major=row_major)
    except ValueError:  # strides the runtime cannot import (steps, broadcasts): one copy
        if copy is False:
            raise _copy_error(op, x, "its strides are not compact") from None
        src = ad.compact(src)
        copied = True
        buf = rt.import_dlpack(ad.capsule(src, stream), dev.rt, stream, row_major=True)
    if ad.borrows:
        rt.block_until_ready(buf)  # NOTE [Hidden copies of borrowed memory]
        note_borrowed_import()
    if copy is False and (copied or _pointer_moved(ad, src, buf)):
        raise _copy_error(op, x, "its memory is not row-major compact or not aligned")
    if copy and not copied:
        buf = rt.copy_buffer(buf)
        copied = True
    if dtype is None:  # a producer without an adapter: trust the buffer
        dtype = _buffer_dtype(op, x, buf)
    cls = BorrowedArray if ad.borrows and not copied else Array
    out = cls._new(buf, aval_of(tuple(buf.shape), dtype), dev)
    return out if device is None or device == dev else _move(out, device, copy, op, x)


_exit_hook = False


def note_borrowed_import() -> None:
    """See NOTE [Borrowed memory at interpreter exit]."""
    global _exit_hook
    if not _exit_hook:
        atexit.register(_release_at_exit)
        _exit_hook = True


def _release_at_exit() -> int:
    """The ordered release at exit (NOTE [Borrowed memory at interpreter exit]); returns how
    many executions still in flight it waited for."""
    import gc

    gc.collect()  # cyclic garbage that views borrowed memory dies now, on this thread
    rt = sys.modules.get("xfront.lowering.runtime")
    if rt is None:
        return 0
    return rt.release_for_exit()


def _buffer_dtype(op: str, x: Any, buf: Any) -> _dtypes.DType:
    try:
        return _dtypes.dtype(buf.dtype)
    except TypeError:
        raise _errors.err(_errors.DTypeError, op,
                          f"the {type(x).__name__} has dtype {buf.dtype}, which has no xfront "
                          "equivalent") from None


def _pointer_moved(ad: Adapter, src: Any, buf: Any) -> bool:
    """Whether the import of ``src`` landed somewhere else than ``src``'s memory (a copy).
    Fails closed: for a producer whose memory may be written in place (``ad.borrows``), an
    address that cannot be established counts as a copy, so ``copy=False`` refuses rather than
    return a silent copy; for immutable producers (TF) a copy cannot be observed."""
    if buf.size == 0:
        return False
    p = ad.data_pointer(src)
    if p is None:
        return ad.borrows
    return _rt().buffer_pointer(buf) != p


def _move(arr: Array, device: Device, copy: bool | None, op: str, x: Any) -> Array:
    if copy is False:
        raise _copy_error(op, x, f"it lives on {arr.device} and device={device} was requested")
    return arr.to_device(device)


def _copy_error(op: str, x: Any, why: str) -> BridgeError:
    return _errors.err(BridgeError, op,
                       f"copy=False, but the {type(x).__name__} cannot be imported without a "
                       f"copy: {why}", "pass copy=None to allow one copy")


# --- export -------------------------------------------------------------------------------------

def export_buffer(buf: Any, dev: Device, ad: Adapter, *, owned: bool,
                  pooled: bool = False) -> Any:
    """Hand a runtime buffer to ``ad``'s framework without a copy.

    ``owned``: no xfront array holds ``buf`` (a fresh result), so a writable alias is safe.
    ``pooled``: ``buf`` is large enough for the buffer pool; on CPU it then leaves through a
    NumPy array whose base gives it back to the pool once the framework's tensor (and every
    view of it) is gone (NOTE [Results for other frameworks in recycled memory]).
    """
    route = ad.route
    if route is NATIVE:
        return buf
    rt = _rt()
    if route is HOST:
        return rt.to_numpy_owned(buf, dev.platform == "cpu") if owned else rt.to_numpy(buf)
    if pooled and owned and dev.platform == "cpu":
        # the capsule's deleter drops the NumPy array, whose base returns ``buf`` to the pool
        return ad.from_capsule(rt.to_numpy_owned(buf, True).__dlpack__(), dev)
    return ad.from_capsule(rt.export_dlpack(buf, ad.consumer_stream(dev), unshared=owned), dev)


def export_array(x: Array, ad: Adapter, op: str, copy: bool | None) -> Any:
    """Hand a caller's xfront array to ``ad``'s framework (see NOTE [Exporting an immutable
    buffer to a mutable framework])."""
    rt = _rt()
    if getattr(x, "_buf", None) is None:  # a tracer
        raise x._concrete_error(f"xfront.{op}")
    x._live_buf(op, f"the {x.aval.short} array passed to xfront.{op}")
    if copy:
        return export_buffer(rt.copy_buffer(x._buf), x._device, ad, owned=True)
    if not ad.writable_export:
        return export_buffer(x._buf, x._device, ad, owned=False)
    # the slot in ``x`` and getrefcount's argument: nothing else holds the buffer
    if sys.getrefcount(x._buf) <= 2:
        out = export_buffer(x._buf, x._device, ad, owned=True)
        x._buf = MovedBuffer(ad.name, op)  # ``x`` is consumed; the capsule keeps the memory
        return out
    if copy is False:
        raise _errors.err(BridgeError, op,
                          f"copy=False, but the buffer of this {x.aval.short} array is shared "
                          "with other xfront objects, so it cannot be moved",
                          "pass copy=None (one copy) or copy=True")
    return export_buffer(rt.copy_buffer(x._buf), x._device, ad, owned=True)


def dlpack_capsule(x: Array, *, stream: Any = None, max_version: Any = None,
                   dl_device: Any = None, copy: bool | None = None) -> Any:
    """``xf.Array.__dlpack__``: a capsule of a copy, or of the buffer itself with ``copy=False``.

    NOTE [DLPack protocol versions]
        The runtime exports unversioned ("dltensor", DLPack 0.x layout) capsules only. The
        standard lets a producer answer any ``max_version`` with an unversioned capsule (a
        consumer asking for 1.x must accept one; one asking for 0.x must get one), so every
        well-formed ``max_version`` is served. What cannot be served raises ``BufferError``
        (BridgeError) in these words: another ``dl_device`` than the array's, a stream on a
        device without streams (CPU takes ``None`` or ``-1``), and ``copy=False`` together
        with a transfer.
    """
    op = "Array.__dlpack__"
    rt = _rt()
    if max_version is not None:
        ok = isinstance(max_version, tuple) and len(max_version) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in max_version)
        if not ok:
            raise _errors.err(_errors.ArgumentError, op,
                              f"max_version must be None or a (major, minor) tuple of "
                              f"non-negative ints, got {max_version!r}")
    if copy not in (None, True, False):
        raise _errors.err(_errors.ArgumentError, op,
                          f"copy must be None, True or False, got {copy!r}")
    t, i = rt.dlpack_device(x._live_buf(op))
    if dl_device is not None:
        try:
            want = (int(dl_device[0]), int(dl_device[1]))
        except (TypeError, ValueError, IndexError):
            raise _errors.err(_errors.ArgumentError, op,
                              f"dl_device must be a (device_type, device_id) pair, got "
                              f"{dl_device!r}") from None
        if want != (t, i):
            raise _errors.err(BridgeError, op,
                              f"the array lives on DLPack device {(t, i)}; exporting to "
                              f"{want} is not supported"
                              + (" (and copy=False forbids a transfer)" if copy is False else ""),
                              "move it first with x.to_device(...)")
    if t == 1 and stream not in (None, -1):  # kDLCPU: no streams
        raise _errors.err(BridgeError, op,
                          f"stream={stream!r} was given, but the array is on the CPU, which has "
                          "no streams", "pass stream=None (or -1)")
    if stream == -1:
        stream = None
    buf = x._buf if copy is False else rt.copy_buffer(x._buf)
    return rt.to_dlpack(buf, stream=stream)
