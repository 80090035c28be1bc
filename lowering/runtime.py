"""The PJRT runtime adapter: the one module of xfront that touches jax/jaxlib.

Installed as ``xfront.lowering.runtime`` and imported lazily (on first device use), so
``import xfront`` stays cheap. Everything else in xfront treats a device buffer as an opaque
object and calls the functions below. A jaxlib upgrade should only touch this file.

Verified facts this adapter relies on (checked on jax/jaxlib 0.10.2):
  * ``Client.compile_and_load(text, DeviceList, CompileOptions)`` takes StableHLO text.
  * ``execute_sharded(bufs).consume_with_handlers(handlers)`` is the cheapest execute path;
    handlers are built once per executable.
  * ``batched_device_put`` must get ``enable_x64=True`` (otherwise 64-bit data is silently
    narrowed) and an aval built from the array itself (it does not validate it).
  * With HostBufferSemantics.ZERO_COPY a 64-byte-aligned NumPy array is aliased, not copied.
  * DLPack imports of non-row-major tensors arrive with a non-default layout, which a raw
    ``execute_sharded`` silently misreads: ``from_dlpack`` here always returns row-major buffers.
"""

from __future__ import annotations

import collections
import ctypes
import functools
import gc
import os
import re
import sys
import threading
import time
import weakref
from typing import Any, Sequence

import numpy as np

# NOTE [Why the adapter imports jax's Python layer]
#     Importing jax is half of a fresh process's first compiled call (0.32 s of 0.65 s wall,
#     the README's start-up figures); ``jaxlib._jax`` with ``jaxlib.xla_client`` and a CPU
#     client cost about 35 ms, and that client compiles StableHLO text without jax.
#     The rest of this adapter does not work without jax (checked with jaxlib 0.10.2):
#     ``batched_device_put`` and the result handlers call back into Python methods that jax's
#     sharding classes add (the C++ ``SingleDeviceSharding`` alone raises AttributeError for
#     ``_to_xla_hlo_sharding``); ``ArrayImpl`` gets ``__array__``, ``__dlpack__`` and the
#     rest from jax's array module (NumPy and the DLPack bridges read results through them);
#     avals are jax's ``ShapedArray``. And a client made here is not the one jax makes when the
#     user imports jax later (jax's ``devices()[0].client`` is a second client), so arrays
#     crossing the JAX bridge would live on a client other than xfront's executables'; GPU
#     plugins are found by jax's backend code too. So the adapter imports jax (at the first
#     device use, never at ``import xfront``), but nothing beyond what it uses: ``jax.extend``
#     pulled in pallas, checkify and shard_map (~35 ms in a fresh process).
#
# NOTE [No garbage collection while jax imports]
#     Importing jax creates a few hundred thousand container objects and almost no garbage,
#     yet CPython's cyclic collector runs every 700 net allocations (172 passes during the
#     import) and, as the survivors age, rescans them and the NumPy and xfront objects already
#     loaded. Paused, it makes one pass over the new objects soon after it is switched back on.
#     So the collector is paused for these imports and switched back on after them, unless the
#     process had switched it off itself. Before that, ``gc.freeze()`` then ``gc.unfreeze()``
#     moves every tracked object into the oldest generation without scanning it, which is where
#     the import's long-lived objects would end up anyway: they are then scanned only by full
#     collections, and the one pass after the pause is skipped. Importing this adapter in a
#     process that has imported NumPy and xfront, plus 20,000 allocations after it (so that
#     the deferred pass is counted), took 364 ms of CPU with neither step, 347 ms with the
#     pause alone and 299 ms with both (medians of 15 fresh processes, one run). Nothing is
#     exempt from collection afterwards; objects that were young just then are collected by
#     the next full collection instead of a young one. The freeze step is skipped when the
#     process has frozen objects itself (``gc.unfreeze`` would release them too).
_gc_was_enabled = gc.isenabled()
gc.disable()
try:
    import jax  # noqa: F401  (jax's Python layer defines ArrayImpl's methods and the backends)
    import jaxlib
    from jax._src import core as _jcore
    from jax._src import xla_bridge as _xb
    from jax._src.lib import xla_client as xc
    from jaxlib import _jax as _J
finally:
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
    if _gc_was_enabled:
        gc.enable()

from xfront import _errors
from xfront._aval import AbstractArray

_errors.register_internal_dir(__file__)

SUPPORTED_JAXLIB = ((0, 10, 2), (0, 12, 0))  # [low, high)


def _check_version() -> None:
    v = tuple(int(p) for p in jaxlib.__version__.split(".")[:3] if p.isdigit())
    lo, hi = SUPPORTED_JAXLIB
    if not (lo <= v < hi):
        raise ImportError(
            f"xfront's runtime adapter supports jaxlib >= {'.'.join(map(str, lo))} and < "
            f"{'.'.join(map(str, hi))}; found jaxlib {jaxlib.__version__}")


_check_version()

JAXLIB_VERSION = jaxlib.__version__


# --- the exception boundary ------------------------------------------------------------------
#
# NOTE [One exception boundary]
#     Every call into jaxlib goes through this module, and every exception it raises leaves as
#     an xfront error that subclasses the builtin a user expects: ``translate`` maps it by the
#     table ``BOUNDARY`` below (first match wins). The user never sees a C++ type name, a
#     nanobind signature or a jaxlib exception class: messages keep XLA's own explanation (its
#     first line, with the status code) and drop what only makes sense inside jaxlib. Hot paths
#     (execute, put) wrap their jaxlib call in a try block, which costs nothing until it
#     raises; the others use the ``_guarded`` decorator. Callers that know the arguments (a
#     compiled call, an eager op) turn a consumed buffer into an ArgumentError naming the
#     argument before this generic translation applies (``xfront._array.consumed_error``).

_BYTES = re.compile(r"allocat\w* (\d+) bytes")
_STATUS = re.compile(r"^[A-Z_]+: ")
_LOCS = re.compile(r'loc\("((?:[^"\\]|\\.)*)"')
_INTERNAL_MARKERS = ("std::", "incompatible function arguments", "nanobind", "Invoked with",
                     "jaxlib", "_jax.")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    line = text.splitlines()[0] if text else type(e).__name__
    if any(m in line for m in _INTERNAL_MARKERS):
        return ""
    return line


def _is_oom(e: BaseException, text: str) -> bool:
    return isinstance(e, MemoryError) or "RESOURCE_EXHAUSTED" in text or \
        "Out of memory" in text or "out of memory" in text


def _is_consumed(e: BaseException, text: str) -> bool:
    return ("deleted or donated" in text or "has been deleted" in text
            or "called on deleted" in text or "donated buffer" in text)


def _is_internal(e: BaseException, text: str) -> bool:
    return any(m in text for m in _INTERNAL_MARKERS)


def _oom(e: BaseException, op: str, what: str, nbytes: int | None) -> _errors.XfrontError:
    m = _BYTES.search(str(e))
    n = int(m.group(1)) if m else nbytes
    amount = f"{n} bytes ({n / 2**30:.3g} GiB)" if n is not None else "memory"
    return _errors.err(_errors.XfMemoryError, op,
                       f"out of memory: the runtime could not allocate {amount} for {what}",
                       "use smaller arrays (or fewer live ones), or a device with more memory")


def _consumed(e: BaseException, op: str, what: str, nbytes: int | None) -> _errors.XfrontError:
    return _errors.err(_errors.ArgumentError, op,
                       f"an input of {what} was deleted: it was donated to an earlier call, moved "
                       "to another framework, or deleted by a framework that shares its memory",
                       "pass live arrays; keep a copy of an array you donate or move")


def _internal(e: BaseException, op: str, what: str, nbytes: int | None) -> _errors.XfrontError:
    return _errors.err(_errors.ExecutionError, op,
                       f"the runtime rejected an operation on {what} (an internal error of "
                       "xfront's runtime adapter: an object that is not a live device buffer "
                       "reached it)", "please report this with the code that triggered it")


def _compile_failed(e: BaseException, op: str, what: str,
                    nbytes: int | None) -> _errors.XfrontError:
    text = str(e)
    sites = list(dict.fromkeys(_LOCS.findall(text)))[:5]
    line = _first_line(e)
    msg = f"XLA failed to compile {what}: {line or 'an internal compiler error'}"
    if sites:
        msg += "\n  at StableHLO location(s): " + "; ".join(sites)
    return _errors.err(_errors.CompileError, op, msg,
                       "this is most likely a bug in xfront's lowering; please report it")


def _failed(e: BaseException, op: str, what: str, nbytes: int | None) -> _errors.XfrontError:
    line = _first_line(e) or "an internal runtime error"
    return _errors.err(_errors.ExecutionError, op, f"running {what} failed: {line}")


# (name, matches(exception, text) -> bool, builds the xfront error): first match wins
BOUNDARY: list[tuple[str, Any, Any]] = [
    ("allocation failure -> XfMemoryError (MemoryError)", _is_oom, _oom),
    ("deleted/donated buffer -> ArgumentError (TypeError)", _is_consumed, _consumed),
    ("compile failure -> CompileError (RuntimeError)",
     lambda e, text: getattr(e, "_xfront_compile", False), _compile_failed),
    ("C++/nanobind type error -> ExecutionError (RuntimeError)", _is_internal, _internal),
    ("any other runtime failure -> ExecutionError (RuntimeError)", lambda e, text: True, _failed),
]


def translate(e: BaseException, op: str, what: str = "the program",
              nbytes: int | None = None) -> _errors.XfrontError:
    """The xfront error for exception ``e`` raised by jaxlib during ``op`` on ``what``."""
    if isinstance(e, _errors.XfrontError):
        return e
    text = str(e)
    for _, matches, build in BOUNDARY:
        if matches(e, text):
            return build(e, op, what, nbytes)
    raise AssertionError("unreachable: the last BOUNDARY row matches everything")


def _guarded(op: str, what: str = "an array") -> Any:
    """Decorator: exceptions of the wrapped adapter function leave through ``translate``."""
    def deco(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except _errors.XfrontError:
                raise
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:
                raise translate(e, op, what) from None
        return wrapper
    return deco
_lock = threading.Lock()
_clients: dict[str, Any] = {}
_PLATFORM_ALIASES = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu", "rocm": "gpu", "tpu": "tpu"}


# NOTE [Synchronous CPU dispatch]
#     jaxlib's PJRT CPU client runs every program that is not trivially cheap (an HLO cost
#     estimate of 1000 flops) on a worker thread, and the caller waits on an event. xfront's
#     calls from NumPy, torch and TF must wait for their results anyway (the caller reads them,
#     or the inputs borrow the caller's memory), so the hand-off only adds a thread wake-up and
#     a context switch back: on the 2-core host we measured a tiny MLP called with torch tensors
#     at 154 us asynchronous vs 73 us synchronous, and 9 us of Python work between two calls
#     with xfront arrays cost 40 us instead of 27. Large programs still use XLA's intra-op
#     threads either way. So when xfront creates the CPU client (jax has not created its
#     backends yet), it asks for synchronous dispatch. The client is jax's, so jax code in the
#     same process runs synchronously too; ``XFRONT_CPU_ASYNC_DISPATCH=1`` (or setting jax's
#     ``jax_cpu_enable_async_dispatch`` yourself) keeps jax's asynchronous default.

def _configure_cpu_dispatch() -> None:
    if os.environ.get("JAX_CPU_ENABLE_ASYNC_DISPATCH") is not None:
        return  # the user chose
    want_async = os.environ.get("XFRONT_CPU_ASYNC_DISPATCH", "0").lower() in ("1", "true", "on")
    try:
        if _xb._backends:  # already created: its dispatch mode is fixed
            return
        jax.config.update("jax_cpu_enable_async_dispatch", want_async)
    except Exception:  # an internal that moved: keep jax's default
        pass


def cpu_dispatch_is_async() -> bool | None:
    """Whether the CPU client dispatches asynchronously (None: unknown)."""
    try:
        return bool(_xb._CPU_ENABLE_ASYNC_DISPATCH.value)
    except Exception:
        return None


def client(platform: str) -> Any:
    """The PJRT client for ``platform`` ('cpu', 'gpu' or 'tpu'); raises RuntimeError if absent."""
    platform = _PLATFORM_ALIASES.get(platform, platform)
    c = _clients.get(platform)
    if c is None:
        with _lock:
            c = _clients.get(platform)
            if c is None:
                if not _clients:
                    _configure_cpu_dispatch()
                try:
                    c = _xb.get_backend(platform)
                except Exception as e:  # jax raises RuntimeError with a long message
                    raise RuntimeError(f"no PJRT client for platform {platform!r}: "
                                       f"{str(e).splitlines()[0]}") from None
                _clients[platform] = c
                global _track_inflight
                _track_inflight = None  # a new client may dispatch asynchronously
    return c


def available_platforms() -> list[str]:
    """Platforms with a working PJRT client, accelerators first."""
    out = []
    for p in ("gpu", "tpu"):
        try:
            client(p)
            out.append(p)
        except RuntimeError:
            pass
    out.append("cpu")
    return out


def devices(platform: str) -> list[Any]:
    return list(client(platform).devices())


def device_platform(dev: Any) -> str:
    return _PLATFORM_ALIASES.get(dev.platform, dev.platform)


def device_description(dev: Any) -> str:
    return f"{dev.platform}:{dev.id} ({dev.device_kind})"


# --- avals -----------------------------------------------------------------------------------

_javal_cache: dict[AbstractArray, Any] = {}
_sharding_cache: dict[Any, Any] = {}


def _javal(aval: AbstractArray) -> Any:
    j = _javal_cache.get(aval)
    if j is None:
        j = _jcore.ShapedArray(aval.shape, aval.dtype.np)
        _javal_cache[aval] = j
    return j


def _sharding(dev: Any) -> Any:
    s = _sharding_cache.get(dev)
    if s is None:
        s = jax.sharding.SingleDeviceSharding(dev)
        _sharding_cache[dev] = s
    return s


# --- buffers ---------------------------------------------------------------------------------

_put_avals: dict[tuple[tuple[int, ...], np.dtype], Any] = {}
_COPY = xc.HostBufferSemantics.IMMUTABLE_ONLY_DURING_CALL
_ALIAS = xc.HostBufferSemantics.ZERO_COPY


def put(x: np.ndarray, dev: Any, *, copy: bool = True, aval: AbstractArray | None = None) -> Any:
    """A device buffer holding NumPy array ``x`` (``aval``, when given, must describe ``x``).

    copy=False lets PJRT alias ``x``'s memory when it is 64-byte aligned (the caller promises not
    to mutate ``x`` while the buffer lives); copy=True always copies.
    """
    if aval is not None:
        javal = _javal(aval)
    else:
        key = (x.shape, x.dtype)
        javal = _put_avals.get(key)
        if javal is None:  # jax's aval constructor costs ~1 us: cache it per shape and dtype
            if len(_put_avals) > 4096:
                _put_avals.clear()
            javal = _put_avals[key] = _jcore.ShapedArray(x.shape, x.dtype)
    try:
        return xc.batched_device_put(javal, _sharding(dev), [x], [dev], True, False,
                                     _COPY if copy else _ALIAS, True)
    except Exception as e:
        raise translate(e, "asarray", f"a {x.dtype}{list(x.shape)} host array",
                        x.nbytes) from None


@_guarded("to_numpy")
def to_numpy(buf: Any) -> np.ndarray:
    """A zero-copy, read-only NumPy view of a (CPU) buffer; copies from accelerators.

    Waits until the buffer's value has been computed (NumPy reads the memory directly).
    """
    return np.asarray(buf)


# --- recycling output buffers ------------------------------------------------------------------
#
# NOTE [Output buffer pool]
#     jaxlib's PJRT CPU client takes every output buffer fresh from malloc; a large fresh
#     buffer costs one page fault per 4 KiB page on first touch, which for memory-bound kernels
#     costs more than the kernel itself. So large output buffers that nobody references any more
#     (the xfront array or NumPy array that owned them was garbage collected, and no NumPy view,
#     DLPack consumer or other object still holds them) go into a small pool, and executables
#     whose large outputs can be served from the pool run in a variant that takes those buffers
#     as extra donated parameters aliased to the outputs (``tf.aliasing_output``): XLA writes
#     the results into already-mapped memory. Only buffers that an xfront execution allocated
#     are pooled, never imported (aliased) ones; PJRT itself refuses to reuse a donated buffer
#     that a DLPack consumer still views (the donation is skipped and the output is fresh).
#
#     The threshold is 32 MiB, glibc's largest dynamic mmap threshold on 64-bit hosts: malloc
#     serves smaller blocks from its heap, where a freed output's memory comes straight back
#     already mapped, and there the donating variant measured 10-30% slower than a fresh output
#     (a 1M-float32 elementwise chain: 762 us pooled vs 416 us fresh; 16M: 7.9 ms pooled vs
#     28 ms fresh). ``XFRONT_POOL_MIN_BYTES`` overrides it (e.g. for allocators that unmap
#     smaller blocks).

POOL_MIN_DEFAULT = 32 << 20
POOL_MIN_BYTES = int(os.environ.get("XFRONT_POOL_MIN_BYTES", str(POOL_MIN_DEFAULT)))
POOL_MAX_BYTES = int(os.environ.get("XFRONT_POOL_MAX_BYTES", str(1 << 30)))
POOL_ENABLED = os.environ.get("XFRONT_BUFFER_POOL", "1") not in ("0", "false", "off")

# NOTE [Idle memory under memory pressure]
#     Idle pool and staging buffers are memory nobody uses; they must not push the host (or the
#     process's cgroup) into swapping or the OOM killer. So before an idle buffer is kept, the
#     adapter reads how much memory is still available (``MemAvailable`` of /proc/meminfo,
#     lowered by the cgroup's limit minus its usage where one is set, v1 or v2), and when that
#     falls below ``XFRONT_POOL_MIN_FREE_BYTES`` (default 512 MiB) it drops every idle buffer
#     instead (``release_memory``), the one offered included. A look at those files costs
#     about 0.1 ms (the kernel sums /proc/meminfo on each read), so the answer is reused for
#     50 ms: at most one look per 50 ms, only when a buffer of 32 MiB or more is offered.
#     glibc returns blocks of this size to the kernel at free (they are mmapped), so the
#     resident set shrinks at once.

POOL_MIN_FREE_BYTES = int(os.environ.get("XFRONT_POOL_MIN_FREE_BYTES", str(512 << 20)))
_cgroup_files: list[tuple[str, str]] | None = None


def _cgroup_memory_files() -> list[tuple[str, str]]:
    """(limit file, usage file) of the process's memory cgroup, v2 then v1 (found once)."""
    global _cgroup_files
    if _cgroup_files is None:
        found: list[tuple[str, str]] = []
        try:
            with open("/proc/self/cgroup") as fh:
                for line in fh:
                    _, ctrl, path = line.rstrip("\n").split(":", 2)
                    if ctrl == "":
                        d = "/sys/fs/cgroup" + path.rstrip("/")
                        found.append((d + "/memory.max", d + "/memory.current"))
                    elif "memory" in ctrl.split(","):
                        d = "/sys/fs/cgroup/memory" + path.rstrip("/")
                        found.append((d + "/memory.limit_in_bytes", d + "/memory.usage_in_bytes"))
        except (OSError, ValueError):
            pass
        _cgroup_files = [f for f in found if os.path.exists(f[0]) and os.path.exists(f[1])]
    return _cgroup_files


def available_memory() -> int | None:
    """Bytes this process can still take before the host or its cgroup runs short (None:
    unknown on this platform)."""
    avail: int | None = None
    try:
        head = _read_small("/proc/meminfo")
        i = head.find(b"MemAvailable:")
        if i >= 0:
            avail = int(head[i + 13:head.index(b"kB", i)]) * 1024
    except (OSError, ValueError):
        pass
    for limit_file, usage_file in _cgroup_memory_files():
        try:
            limit = _read_small(limit_file).strip()
            if limit == b"max" or int(limit) >= 1 << 60:
                continue
            left = int(limit) - int(_read_small(usage_file).strip())
        except (OSError, ValueError):
            continue
        avail = left if avail is None else min(avail, left)
    return avail


def _read_small(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 512)
    finally:
        os.close(fd)


_short_checked = [0.0, False]  # (when, answer): one look at the files per 50 ms at most


def _memory_is_short(nbytes: int) -> bool:
    """Whether keeping ``nbytes`` more idle memory would leave less than the floor free."""
    now = time.monotonic()
    if now - _short_checked[0] > 0.05:
        avail = available_memory()
        _short_checked[:] = [now, avail is not None and avail - nbytes < POOL_MIN_FREE_BYTES]
    return _short_checked[1]


class BufferPool:
    """Dead output buffers by (device, shape, dtype), bounded in total bytes (oldest dropped)."""

    def __init__(self) -> None:
        self._free: dict[tuple, list[Any]] = {}
        self._order: list[tuple[tuple, Any]] = []
        self.bytes = 0
        self.hits = 0
        self.puts = 0

    @staticmethod
    def key(dev: Any, aval: AbstractArray) -> tuple:
        return (dev, aval.shape, aval.dtype.name)

    def put(self, buf: Any, nbytes: int) -> None:
        if not POOL_ENABLED or nbytes < POOL_MIN_BYTES or nbytes > POOL_MAX_BYTES:
            return
        if _memory_is_short(nbytes):  # NOTE [Idle memory under memory pressure]
            release_memory()
            return
        try:
            if buf.is_deleted():
                return
            k = (buffer_device(buf), tuple(buf.shape), np.dtype(buf.dtype).name)
        except Exception:  # interpreter shutdown, or a buffer of a closed client
            return
        with _pool_lock:
            self._free.setdefault(k, []).append(buf)
            self._order.append((k, buf))
            self.bytes += nbytes
            self.puts += 1
            while self.bytes > POOL_MAX_BYTES and self._order:
                k0, b0 = self._order.pop(0)
                lst = self._free.get(k0)
                if lst and b0 in lst:
                    lst.remove(b0)
                    self.bytes -= _nbytes(b0)

    def take(self, keys: list[tuple]) -> list[Any] | None:
        """One buffer per key, or None (nothing taken) if any key has none."""
        with _pool_lock:
            lists = [self._free.get(k) for k in keys]
            need: dict[tuple, int] = {}
            for k in keys:
                need[k] = need.get(k, 0) + 1
            if any(len(self._free.get(k) or ()) < n for k, n in need.items()):
                return None
            out = []
            for k, lst in zip(keys, lists):
                b = lst.pop()
                self.bytes -= _nbytes(b)
                for i in range(len(self._order) - 1, -1, -1):
                    if self._order[i][1] is b:
                        del self._order[i]
                        break
                out.append(b)
            self.hits += 1
            return out

    def clear(self) -> None:
        with _pool_lock:
            self._free.clear()
            self._order.clear()
            self.bytes = 0


def _nbytes(buf: Any) -> int:
    n = np.dtype(buf.dtype).itemsize
    for d in buf.shape:
        n *= d
    return n


_pool_lock = threading.RLock()  # re-entrant: __del__ hooks may run inside pool operations
POOL = BufferPool()


def release(buf: Any, nbytes: int) -> None:
    """Offer the buffer of a dying xfront-owned array to the pool (see NOTE above)."""
    if POOL_ENABLED and nbytes >= POOL_MIN_BYTES:
        POOL.put(buf, nbytes)


_holder_types: dict[int, type] = {}


def _holder_type(n: int) -> type:
    """A ctypes byte-array type of size n that returns its buffer to the pool when it dies."""
    t = _holder_types.get(n)
    if t is None:
        def __del__(self: Any) -> None:
            buf = self.__dict__.pop("xfront_buffer", None)
            # 2 = our local plus getrefcount's argument: nothing else holds the buffer
            if buf is not None and sys.getrefcount(buf) <= 2:
                release(buf, n)

        t = type(f"xfront_mem_{n}", (ctypes.c_char * n,), {"__del__": __del__})
        _holder_types[n] = t
    return t


# NOTE [Staging misaligned NumPy inputs]
#     PJRT aliases NumPy memory only when it is 64-byte aligned; NumPy's own allocations are
#     usually 16 bytes off, so a large NumPy argument is copied into freshly allocated memory on
#     every call (one page fault per 4 KiB). For large misaligned arguments xfront instead keeps
#     a few staging buffers per (device, shape, dtype): the argument is copied into one (memory
#     that is already mapped) and the buffer is handed back by ``unstage`` once the call's
#     results are ready, i.e. once the program has finished reading it. Torch tensors that view
#     such memory (``torch.from_numpy``) are staged the same way, through a NumPy view; inputs
#     of elementwise-only programs are not copied at all (NOTE [Misaligned inputs without a
#     copy] in xfront/_offsets.py).

#     A call may take several arguments of one shape, so up to ``_STAGING_PER_KEY`` buffers are
#     kept per key, and at most ``_STAGING_MAX_BYTES`` in all.

#     Staging starts at 1 MiB, below the pool's threshold: a staged copy measured 32 vs 41 us at
#     1 MiB, 320 vs 463 us at 8 MiB, against jaxlib's copy into a fresh buffer (even at 256 KiB).

STAGE_MIN_BYTES = int(os.environ.get("XFRONT_STAGE_MIN_BYTES", str(1 << 20)))
_STAGING: dict[tuple, list[Any]] = {}
_STAGING_PER_KEY = 8
_STAGING_MAX_BYTES = POOL_MAX_BYTES // 2
_staging_bytes = 0
_staging_lock = threading.Lock()


def put_input(x: np.ndarray, dev: Any, aval: AbstractArray | None = None) -> tuple[Any, bool]:
    """A buffer for a NumPy argument of one call: (buffer, staged). Staged buffers must be
    returned with ``unstage`` after the call's results are ready."""
    n = x.nbytes
    if (n < STAGE_MIN_BYTES or not POOL_ENABLED or x.ctypes.data % 64 == 0
            or not x.flags.c_contiguous or device_platform(dev) != "cpu"):
        return put(x, dev, copy=False, aval=aval), False
    global _staging_bytes
    with _staging_lock:  # threads share the staging buffers: each one goes to one caller
        lst = _STAGING.get((dev, x.shape, x.dtype))
        buf = lst.pop() if lst else None
        if buf is not None:
            _staging_bytes -= n
    if buf is not None:
        mem = (ctypes.c_char * n).from_address(buf.unsafe_buffer_pointer())
        np.copyto(np.frombuffer(mem, dtype=x.dtype).reshape(x.shape), x)
        return buf, True
    return put(x, dev, copy=True, aval=aval), True


def unstage(bufs: list[Any]) -> None:
    global _staging_bytes
    if bufs and _memory_is_short(sum(_nbytes(b) for b in bufs)):
        release_memory()  # NOTE [Idle memory under memory pressure]
        return
    for b in bufs:
        key = (buffer_device(b), tuple(b.shape), np.dtype(b.dtype))
        n = _nbytes(b)
        with _staging_lock:
            lst = _STAGING.setdefault(key, [])
            if len(lst) < _STAGING_PER_KEY and _staging_bytes + n <= _STAGING_MAX_BYTES:
                lst.append(b)
                _staging_bytes += n


def release_memory() -> int:
    """Drop the idle buffers the adapter holds (pool and staging); returns their bytes.

    Buffers that a live array or a framework's tensor still uses are not touched; they come
    back to the pool when they die, up to the caps (``XFRONT_POOL_MAX_BYTES``), unless memory
    is short (NOTE [Idle memory under memory pressure]).
    """
    global _staging_bytes
    with _pool_lock:
        freed = POOL.bytes
        POOL.clear()
    with _staging_lock:
        freed += _staging_bytes
        _STAGING.clear()
        _staging_bytes = 0
    with _small_lock:
        runs = list(_SMALL_RUNS)
    for sets in runs:  # NOTE [Small host inputs]: only the idle sets; a call's own set is not here
        freed += sets.drop()
    return freed


def small_staging_bytes() -> int:
    """Bytes of the idle small-input staging sets that the runs keep (NOTE [Small host
    inputs])."""
    with _small_lock:
        runs = list(_SMALL_RUNS)
    return sum(len(sets.free) * sets.set_bytes for sets in runs)


# NOTE [Executions in flight at exit]
#     With asynchronous dispatch (an accelerator, or ``XFRONT_CPU_ASYNC_DISPATCH=1`` on CPU) an
#     execution runs on a runtime worker thread after the call returned, and that worker holds
#     references to the input buffers until it is done: it drops them right *after* it marks
#     the outputs ready. If that drop is the last reference to borrowed memory (a torch tensor,
#     a NumPy array), the owner's deleter asks for the GIL on the worker thread, which aborts
#     the process once the interpreter is finalizing. So while workers may hold inputs, every
#     execution is recorded here (its outputs, its inputs) until its outputs are ready:
#
#     * a call prunes the records whose outputs are ready (our references to their inputs are
#       dropped on the calling thread, while the interpreter runs; a worker that drops its own
#       reference afterwards just waits for the GIL: its drop follows its signal by a few
#       instructions, while the interpreter still has that call and the exit hooks to run).
#       At most ``_INFLIGHT_MAX`` records are kept: beyond that the oldest one is waited for
#       (back-pressure, never forgotten);
#     * at exit (``release_for_exit``) every recorded execution is waited for, with the GIL
#       released, and the references to its inputs are then kept for the rest of the process
#       (never dropped): the worker's own drop, which may come after the outputs are ready,
#       can then never be the last one. Calls made after that point (later exit hooks) wait
#       for their outputs before returning and keep their inputs the same way.
#
#     With synchronous CPU dispatch (the default) a program runs on the calling thread and
#     releases its inputs before the call returns: nothing is recorded and nothing waits.

_INFLIGHT_MAX = 64
_inflight: collections.deque[tuple[list[Any], tuple[Any, ...]]] = collections.deque()
_inflight_lock = threading.Lock()
_kept_at_exit: list[Any] = []
# one extra reference that is never dropped: module teardown at finalization cannot free the
# list, so the inputs kept at exit are never released (the OS reclaims their memory)
ctypes.pythonapi.Py_IncRef(ctypes.py_object(_kept_at_exit))
_exiting = False
_track_inflight: bool | None = None  # None: not decided yet (no client)


def _tracking() -> bool:
    global _track_inflight
    t = _track_inflight
    if t is None:
        if not _clients:
            return False
        t = _track_inflight = workers_may_hold_inputs()
        if t:  # NumPy-aliased inputs need the wait as much as DLPack imports do
            _register_exit_wait()
    return t


_exit_wait_registered = False


def _register_exit_wait() -> None:
    global _exit_wait_registered
    with _inflight_lock:
        if _exit_wait_registered:
            return
        _exit_wait_registered = True
    import atexit

    atexit.register(release_for_exit)


def _ready(outs: list[Any]) -> bool:
    try:
        return all(o.is_ready() for o in outs)
    except Exception:  # a deleted output: its execution has finished with it
        return True


def _wait(outs: list[Any]) -> None:
    for o in outs:
        try:
            o.block_until_ready()  # releases the GIL while it waits
        except Exception:  # a failed or deleted output: the execution is over either way
            pass


def note_inflight(inputs: Sequence[Any], outs: list[Any]) -> None:
    """Record an execution that a worker thread may still run (NOTE [Executions in flight
    at exit]); a no-op with synchronous dispatch."""
    if not _tracking():
        return
    if _exiting:
        _wait(outs)
        _kept_at_exit.append(tuple(inputs))
        return
    oldest = None
    with _inflight_lock:
        # oldest first: executions mostly finish in order, and one that finished out of
        # order is pruned once the ones before it have (the bound keeps the list short)
        while _inflight and _inflight[0][0] and _ready(_inflight[0][0]):
            _inflight.popleft()
        _inflight.append((outs, tuple(inputs)))
        if len(_inflight) > _INFLIGHT_MAX:
            oldest = _inflight.popleft()
    if oldest is not None:
        _wait(oldest[0])


def inflight_count() -> int:
    """How many recorded executions may still hold their inputs (for tests)."""
    with _inflight_lock:
        return len(_inflight)


def release_for_exit() -> int:
    """The runtime's part of the ordered release at exit: drop the buffers the adapter holds
    (pool, staging), then wait for every execution still in flight and keep its inputs (NOTE
    [Executions in flight at exit]). Returns the number of executions waited for."""
    global _exiting
    release_memory()
    _exiting = True
    with _inflight_lock:
        records = list(_inflight)
        _inflight.clear()
    for outs, inputs in records:
        _wait(outs)
        _kept_at_exit.append(inputs)
    return len(records)


def workers_may_hold_inputs() -> bool:
    """Whether a finished call's inputs may still be referenced from a runtime worker thread:
    True with asynchronous CPU dispatch or an accelerator client; fails closed (True) when the
    dispatch mode cannot be determined."""
    if any(p != "cpu" for p in _clients):
        return True
    return cpu_dispatch_is_async() is not False


def to_numpy_owned(buf: Any, on_cpu: bool | None = None) -> np.ndarray:
    """A writable NumPy array over a buffer that nothing else references (a fresh output).

    Zero-copy on CPU: the array's base (a ctypes view of the buffer's memory) keeps the buffer
    alive, and gives it back to the pool when the last view dies. A copy on accelerators.
    ``on_cpu``: the caller knows where the buffer lives (saves a device lookup).
    """
    if on_cpu is None:
        on_cpu = device_platform(buffer_device(buf)) == "cpu"
    shape = buf.shape
    try:  # NOTE [One exception boundary] (inline: this is on the NumPy call path)
        if not on_cpu or 0 in shape:
            return np.array(buf)
        # NOTE: unsafe_buffer_pointer() does not wait for the computation that defines the
        # buffer; without this wait NumPy would read the memory before the program wrote it.
        buf.block_until_ready()
        ptr = buf.unsafe_buffer_pointer()
    except Exception as e:
        raise translate(e, "to_numpy", "a program's output") from None
    dt = np.dtype(buf.dtype)
    n = dt.itemsize
    for d in shape:
        n *= d
    if n >= POOL_MIN_BYTES and POOL_ENABLED:
        mem = _holder_type(n).from_address(ptr)
    else:
        mem = (ctypes.c_char * n).from_address(ptr)
    mem.xfront_buffer = buf  # keep-alive: the NumPy array's base owns the PJRT buffer
    return np.frombuffer(mem, dtype=dt).reshape(shape)


@_guarded("Array.unsafe_buffer_pointer")
def buffer_pointer(buf: Any) -> int:
    return buf.unsafe_buffer_pointer()


@_guarded("Array.block_until_ready")
def block_until_ready(buf: Any) -> None:
    buf.block_until_ready()


@_guarded("compile", "a program's outputs")
def block_all(bufs: Sequence[Any]) -> None:
    """Wait until every buffer in ``bufs`` holds its value."""
    for b in bufs:
        b.block_until_ready()


def is_deleted(buf: Any) -> bool:
    try:
        return bool(buf.is_deleted())
    except Exception:  # fail closed: what cannot be shown to be live is not used
        return True


@_guarded("Array.to_device")
def copy_to_device(buf: Any, dev: Any) -> Any:
    return jax.device_put(buf, dev)


@_guarded("copy")
def copy_buffer(buf: Any) -> Any:
    """A fresh buffer with the same value, on the same device (never an alias).

    Returns once the copy is complete: ``buf`` may view memory its owner writes next.
    """
    out = jax.device_put(buf, buffer_device(buf), may_alias=False)
    out.block_until_ready()
    return out


@_guarded("Array.device")
def buffer_device(buf: Any) -> Any:
    return next(iter(buf.devices()))


_default_layouts: dict[tuple[int, Any], Any] = {}


def has_default_layout(buf: Any) -> bool:
    """False for buffers imported with a non-row-major layout (transposed, channels_last).

    ~0.3 us: the buffer's PJRT layout is compared with the last default layout seen for its
    rank and dtype; only a mismatch reads the dimension order (jax's ``.format`` costs ~4 us).

    Fails closed: when the layout cannot be read (a jaxlib that moved these attributes, a
    backend without layouts) the answer is False, and callers make a row-major copy. A deleted
    buffer raises ArgumentError (NOTE: reading the layout of a deleted buffer crashes jaxlib).
    """
    if is_deleted(buf):
        raise translate(RuntimeError("Array has been deleted"), "asarray", "an imported array")
    try:
        layout = buf._pjrt_layout
        key = (len(buf.shape), buf.dtype)
        known = _default_layouts.get(key)
        if known is not None and layout == known:
            return True
        ndim = key[0]
        ok = tuple(layout._xla_layout().minor_to_major()) == tuple(range(ndim - 1, -1, -1))
    except Exception:  # cannot establish the layout: take the safe path (a copy)
        return False
    if ok:
        _default_layouts[key] = layout
    return ok


@_guarded("asarray", "an imported array")
def to_default_layout(buf: Any) -> Any:
    """A row-major copy of a buffer that has a non-default layout (complete on return)."""
    from jax._src.layout import Format, Layout

    dev = buffer_device(buf)
    fmt = Format(Layout(tuple(range(len(buf.shape)))), _sharding(dev))
    out = jax.device_put(buf, fmt)
    out.block_until_ready()  # as copy_buffer: the source may be borrowed memory
    return out


# --- DLPack and foreign runtime arrays (used by xfront.bridges) ------------------------------
#
# NOTE [Layouts of imported buffers]
#     A DLPack tensor whose strides are compact but not row-major (a transposed or
#     channels_last torch tensor) is imported zero-copy with a non-default layout, and a raw
#     ``execute_sharded`` reads such a buffer as if it were row-major: wrong numbers, no error.
#     ``import_dlpack`` therefore checks the layout (about 1.4 us) unless the caller vouches for
#     row-major strides, and makes a row-major copy when it is not the default.

DLPACK_CPU = 1
DLPACK_CUDA = 2
DLPACK_CUDA_HOST = 3
DLPACK_ROCM = 10
_DL_PLATFORMS = {DLPACK_CPU: "cpu", DLPACK_CUDA: "gpu", DLPACK_CUDA_HOST: "cpu",
                 DLPACK_ROCM: "gpu"}


def dlpack_platform(dl_device_type: int) -> str | None:
    """'cpu' / 'gpu' for a DLPack device type, None for types PJRT cannot import."""
    return _DL_PLATFORMS.get(int(dl_device_type))


def _import_capsule(capsule: Any, dev: Any, stream: Any) -> Any:
    # the low-level importer: ~3.7 us, keeps 64-bit types (jax.dlpack narrows them)
    return _J.dlpack_managed_tensor_to_buffer(capsule, dev, stream)


def import_dlpack(capsule: Any, dev: Any, stream: Any = None, *, row_major: bool = False) -> Any:
    """Import a DLPack capsule onto PJRT device ``dev``; the result is always row-major.

    Zero-copy when the memory is compact and suitably aligned (PJRT copies otherwise).
    ``stream``: the stream (on GPU) on which the producer made the data ready.
    ``row_major=True``: the caller guarantees row-major compact strides (skips the layout check).
    Raises ValueError for strides PJRT cannot import (the caller copies first).
    """
    try:
        buf = _import_capsule(capsule, dev, stream)
    except Exception as e:  # JaxRuntimeError: UNIMPLEMENTED ... striding / dtype
        raise ValueError(str(e).splitlines()[0]) from None
    if not row_major and not has_default_layout(buf):
        buf = to_default_layout(buf)
    return buf


def from_dlpack_capsule(capsule: Any, dev: Any, stream: Any = None) -> Any:
    """Import a DLPack capsule (no copy where possible); the result is always row-major."""
    return import_dlpack(capsule, dev, stream)


class _UnknownStream:
    """``external_ready_stream``'s answer when it cannot read the device's stream."""

    def __repr__(self) -> str:
        return "UNKNOWN_STREAM"


UNKNOWN_STREAM = _UnknownStream()


def external_ready_stream(dev: Any) -> Any:
    """The stream a DLPack producer should make its data ready on, for ``dev`` (None on CPU).

    Fails closed: when the stream cannot be read (a jaxlib or backend without the call) the
    answer is ``UNKNOWN_STREAM``, never None (None would tell the producer that no ordering is
    needed); the importer then makes the producer finish all its work before importing.
    """
    if dev.platform == "cpu":
        return None
    try:
        s = dev.get_stream_for_external_ready_events()
    except Exception:
        return UNKNOWN_STREAM
    return UNKNOWN_STREAM if s is None else s


@_guarded("Array.__dlpack__")
def to_dlpack(buf: Any, **kwargs: Any) -> Any:
    return buf.__dlpack__(**{k: v for k, v in kwargs.items() if v is not None})


@_guarded("export", "an array")
def export_dlpack(buf: Any, stream: Any = None, *, unshared: bool = False) -> Any:
    """A DLPack capsule viewing ``buf`` (no copy).

    ``stream=None`` waits on the host until the buffer is ready; a GPU stream instead makes that
    stream wait for it (DLPack stream semantics). The capsule keeps the memory alive.

    ``unshared=True``: the caller drops ``buf`` right away and never deletes or donates it. Then
    jaxlib's exporter is called directly (0.9 us instead of 2.3 us through jax's wrapper).
    NOTE: the direct export puts a hold on ``buf`` itself, and ``buf.delete()`` (or donating it)
    while the capsule lives aborts the process; jax's wrapper exports a per-device alias instead,
    which is safe to delete or donate (XLA then skips the donation).
    """
    if unshared:
        return _J.buffer_to_dlpack_managed_tensor(buf, stream=stream)
    return buf.__dlpack__() if stream is None else buf.__dlpack__(stream=stream)


@_guarded("Array.__dlpack_device__")
def dlpack_device(buf: Any) -> tuple[int, int]:
    t, i = buf.__dlpack_device__()
    return int(t), int(i)


_SingleDeviceSharding = jax.sharding.SingleDeviceSharding


def native_array_type() -> type:
    """The array type of the runtime's own buffers (jax arrays are such buffers)."""
    return _J.ArrayImpl


def is_native_tracer(x: Any) -> bool:
    """True for abstract jax values (tracers inside jax.jit and friends)."""
    return isinstance(x, _jcore.Tracer)


def adopt(x: Any) -> tuple[Any, Any]:
    """``(buffer, device)`` for a jax array: itself, when it lives on one device in row-major
    layout; a row-major copy when its layout is not the default. Raises ValueError saying why a
    jax array cannot be used (deleted, sharded over several devices)."""
    if x.is_deleted():
        raise ValueError("the jax array has been deleted (donated or freed)")
    sharding = x.sharding
    if type(sharding) is _SingleDeviceSharding:
        dev = sharding._device
    else:
        devs = x.devices()
        if len(devs) != 1:
            raise ValueError(f"the jax array is sharded over {len(devs)} devices; xfront takes "
                             "single-device arrays")
        dev = next(iter(devs))
    if not has_default_layout(x):
        x = to_default_layout(x)
    return x, dev


def portable_artifact(text: str) -> bytes:
    """A StableHLO portable artifact (4-week compatibility window) of a module's text."""
    from jax.extend import mlir as _jmlir
    from jaxlib.mlir.dialects import stablehlo as _shlo

    target = _shlo.get_version_from_compatibility_requirement(
        _shlo.StablehloCompatibilityRequirement.WEEK_4)
    return _jmlir.serialize_portable_artifact(text, target)


# --- compile & execute -----------------------------------------------------------------------

def _has_avx512() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return " avx512f " in line + " "
    except OSError:
        pass
    return False


_HOST_AVX512 = _has_avx512()


# NOTE [Dot library per program]
#     XLA:CPU in this jaxlib hands dots and reductions to YNNPACK (``__ynn_fusion``) by default.
#     For large unbatched float32 matrix products its Eigen path measured faster on a 2-core
#     AVX-512 host (CPU time per call, interleaved, 5 runs: 2048^3 -14 to -17%, 4096x1024x1024
#     -13%), equal for 512x1024 @ 1024x4096, and slower for small or batched products (256^3
#     +15%, 32 x 256x64x256 +66%), and YNNPACK's fused reductions are the fast path for
#     softmax-like programs. So a program whose every dot is an unbatched float32 product with
#     at least ``DOT_EIGEN_MIN_ELEMENTS`` outputs, and which has no reduction or convolution,
#     is compiled with YNNPACK for reductions only (its dots go to Eigen). oneDNN's dot fusion
#     (``xla_cpu_use_onednn``) is not used: it crashed the process (SIGILL) on an attention
#     program in this jaxlib.
DOT_EIGEN_MIN_ELEMENTS = 2048 * 2048
_DOT_OUT = re.compile(r'"stablehlo\.dot_general".*?lhs_batching_dimensions = \[\].*?'
                      r'-> tensor<(\d+)x(\d+)xf32>')


def _eigen_dots(text: str) -> bool:
    """Whether a module's dots should run on Eigen (NOTE [Dot library per program])."""
    if '"stablehlo.reduce' in text or '"stablehlo.convolution' in text:
        return False
    lines = [ln for ln in text.splitlines() if '"stablehlo.dot_general"' in ln]
    if not lines:
        return False
    for ln in lines:
        m = _DOT_OUT.search(ln)
        if m is None or int(m.group(1)) * int(m.group(2)) < DOT_EIGEN_MIN_ELEMENTS:
            return False
    return True


def default_compile_options(platform: str, text: str | None = None) -> list[tuple[str, Any]]:
    """XLA options chosen per host and, given the module ``text``, per program (NOTE [Dot
    library per program]); env ``XFRONT_XLA_OPTIONS="name=value,..."`` adds more (and wins)."""
    opts: list[tuple[str, Any]] = []
    if platform == "cpu":
        # NaN-propagating min/max (NumPy semantics), as jax sets it
        opts.append(("xla_cpu_enable_fast_min_max", False))
        if _HOST_AVX512:
            # measured bit-identical and up to 1.6x on compute-bound kernels on AVX-512 hosts
            opts.append(("xla_cpu_prefer_vector_width", 512))
        if text is not None and _eigen_dots(text):
            opts.append(("xla_cpu_experimental_ynn_fusion_type", "LIBRARY_FUSION_TYPE_REDUCE"))
    extra = os.environ.get("XFRONT_XLA_OPTIONS", "")
    for item in filter(None, (s.strip() for s in extra.split(","))):
        name, _, value = item.partition("=")
        v: Any = value
        if value.lower() in ("true", "false"):
            v = value.lower() == "true"
        elif value.lstrip("-").isdigit():
            v = int(value)
        opts.append((name, v))
    return opts


class Executable:
    """A compiled program bound to one device, with prebuilt output handlers."""

    __slots__ = ("exe", "device", "in_avals", "out_avals", "_handlers", "text", "fingerprint",
                 "name", "from_disk")

    def __init__(self, exe: Any, dev: Any, in_avals: Sequence[AbstractArray],
                 out_avals: Sequence[AbstractArray], text: str, fingerprint: str,
                 name: str = ""):
        self.exe = exe
        self.device = dev
        self.from_disk = False  # loaded from the persistent compile cache
        self.in_avals = list(in_avals)
        self.out_avals = list(out_avals)
        sh = _sharding(dev)
        self._handlers = [xc.array_result_handler(_javal(a), sh, committed=True,
                                                  _skip_checks=True) for a in out_avals]
        self.text = text
        self.fingerprint = fingerprint
        self.name = name  # the graph's name, for messages

    def execute(self, bufs: list[Any]) -> list[Any]:
        # NOTE: ``runner`` inlines these lines (NOTE [The one run]); change both together
        try:
            outs = self.exe.execute_sharded(bufs).consume_with_handlers(self._handlers)
        except Exception as e:  # NOTE [One exception boundary]
            raise self.error(e) from None
        if _track_inflight is not False:  # NOTE [Executions in flight at exit]
            note_inflight(bufs, outs)
        return outs

    def error(self, e: BaseException) -> _errors.XfrontError:
        """The xfront error for a failed execute of this program."""
        return translate(e, "compile", self.describe())

    def describe(self) -> str:
        """``the program `name``` for messages."""
        return f"the program `{self.name}`" if self.name else "the program"

    def hlo_text(self) -> str:
        """The optimized HLO XLA compiled (for inspection)."""
        return self.exe.hlo_modules()[0].to_string()


# --- the one run -----------------------------------------------------------------------------
#
# NOTE [The one run]
#     Every execution of a compiled program (a compiled call, an eager op, an autodiff program)
#     takes the same three steps: put the program's constant buffers in front of the argument
#     buffers, execute (through ``Executable.execute``: the exception boundary), and turn each
#     output buffer into what the caller returns. ``runner`` builds that as one closure per
#     program and signature, with everything that does not change between calls (the constants,
#     the per-output wrappers, the tree of the results) bound once, so a call does no lookups
#     and no allocations beyond the argument list and its results. ``host_runner`` is the same
#     run for small host inputs (NumPy arrays, CPU torch tensors): see NOTE [Small host inputs].
#     The general call path, the large-input NumPy/torch paths and calls that donate take the
#     same run with their per-call pieces as arguments: see NOTE [Per-call pieces of the run].
#     Sharded (SPMD) calls take the plain run too, with ``SpmdExecutable.execute`` as the
#     execute and global arrays as buffers: see NOTE [SPMD programs].
#
#     Where the time of a tiny call goes (x * y + 1 on two 8-element float32 arrays, per-thread
#     CPU time, 2-core host under load, jaxlib 0.10.2; ``python -m benchmarks.bench_dispatch
#     --breakdown`` measures these): ``execute_sharded`` alone 3.7-4.0 us, turning its results
#     into arrays (``consume_with_handlers``) another ~0.5 us, against 4.9-5.1 us for jax.jit's
#     whole call: the raw execute is already ~0.85-1.0x of jax.jit. xfront adds the call itself,
#     the argument check and signature key and the result's wrapper (~1.5 us after this change,
#     ~2 us before; a call with xfront arrays measured 6.15 us against 6.62 us). An input from
#     NumPy cost 4.1 us through ``batched_device_put`` (a copy into a staging buffer: 0.2 us),
#     a result to NumPy 2.2 us as a view that owns the buffer (an ``np.array`` copy of a small
#     result: 1.0 us), a torch input 4.2 us through DLPack (``copy_`` into a staging buffer:
#     0.9 us); from NumPy a call went from 22.7 us to 9.0 us, from torch from 26.4 to 12.6 us.
#
#     jax.jit's C++ dispatch (jaxlib's ``PjitFunction``) can run an xfront executable: a
#     ``cache_miss`` that runs the program once and returns jax's fast-path data for it makes
#     later calls skip Python. Measured on the same host: 5.2 us with the buffers as arguments
#     (no faster than ``execute_sharded`` + handlers, 4.0 us, the C++ path checks more), and
#     6.0 us with xfront arrays as arguments (a pytree registry whose flatten/unflatten
#     callbacks move between xfront arrays and buffers: each callback is a Python call). So
#     xfront keeps its own Python run; the ~4 us of ``execute_sharded`` + handlers is its floor.
#
#     Above that floor a call pays per Python frame (~0.05-0.07 us each in CPython 3.11) and per
#     hash or lookup, so the run is written for few of both: when the execute is a plain
#     ``Executable.execute`` (``_plain_executable``: not a wrapped or replaced one, not the
#     pooled variant), its lines are inlined into the run (``_inline_run``; the loaded
#     executable and its handlers are read from the Executable on every call, so a swapped
#     executable is honoured), and a single xfront-array result is built in the run's own frame
#     from the wrap's ``array_slots``; ``host_runner`` loads its arguments in its own loop (a
#     NumPy assignment, or torch's C ``Tensor.copy_``) instead of through a function per
#     argument. Together with the cheaper signature checks in ``Compiled.__call__`` (NOTE
#     [The call path] in xfront/_compile.py) and the one-pass ``eager_apply``, one interleaved
#     ``--compare`` run against the code before (11 rounds of 3,000 calls, fresh processes,
#     2-core host under a load average of about 4-5) measured, median per-thread CPU time per
#     call (median per-round ratio to jax.jit in brackets), before -> after: xfront arrays
#     5.81 (1.22x) -> 5.47 us (1.13x); NumPy 8.47 (1.77x) -> 7.74 (1.60x); torch 11.47 (2.44x)
#     -> 11.19 (2.31x); eager ``xf.multiply`` 7.08 (1.47x) -> 6.67 (1.38x); donating 6.31
#     (1.32x) -> 5.98 (1.22x); jax.jit 4.78 -> 4.90; the general paths, whose code did not
#     change, 25.58 -> 26.88 (NumPy) and 36.03 -> 36.90 (torch), within their noise (three
#     earlier runs under more load moved them by -1.5% to +1.5%, and agreed in direction and
#     size on the fast paths and the eager op).


def runner(execute: Any, const_bufs: Sequence[Any], wraps: Sequence[Any],
           unflatten: Any = None, *, per_call: bool = False, mark: Any = None,
           on_fail: Any = None, waits: bool = False) -> Any:
    """The run of one program (NOTE [The one run]): ``run(arg_bufs)`` executes with the
    constants first and returns ``unflatten([wrap(out) ...])``, or the single wrapped output
    when there is one output and no ``unflatten``. ``execute`` is ``Executable.execute`` (or a
    program's pooled variant of it): its errors are already xfront errors.

    ``per_call=True`` gives the run of the general call paths (NOTE [Per-call pieces of the
    run]): ``run(arg_bufs, staged, donated, wait, values)``, where ``staged`` lists staging
    buffers to hand back (``unstage``) once the program has read them, ``donated`` is passed
    to ``mark`` after a successful execute (the caller's donated arguments, to be marked
    consumed), ``wait`` asks for the results to hold their values before they are wrapped
    (the inputs borrowed caller memory), and ``values`` is passed to ``on_fail`` when the
    execute raises (to name a consumed argument) before the error propagates; each may be
    None (False). ``waits=True`` promises that every wrap waits for its output's value (a
    NumPy result), so staged inputs need no separate wait before they are handed back."""
    consts = list(const_bufs)
    wraps = list(wraps)
    if per_call:
        return _per_call_run(execute, consts, wraps, unflatten, mark, on_fail, waits)
    exe = _plain_executable(execute)
    if exe is not None:  # the execute inlined: one Python frame less per call
        return _inline_run(exe, consts, wraps, unflatten)
    if len(wraps) == 1 and unflatten is None:
        (w,) = wraps
        if consts:
            def run1c(bufs: list[Any]) -> Any:
                return w(execute(consts + bufs)[0])
            return run1c

        def run1(bufs: list[Any]) -> Any:
            return w(execute(bufs)[0])
        return run1
    if unflatten is None:
        unflatten = list

    def run(bufs: list[Any]) -> Any:
        return unflatten([w(b) for w, b in zip(wraps, execute(consts + bufs if consts else bufs))])
    return run


_EXECUTE = Executable.execute  # the plain execute (a wrapped or replaced one is not inlined)


def _plain_executable(execute: Any) -> Executable | None:
    """The ``Executable`` when ``execute`` is its own plain ``execute`` method, else None."""
    exe = getattr(execute, "__self__", None)
    if type(exe) is Executable and getattr(execute, "__func__", None) is _EXECUTE:
        return exe
    return None


def _inline_run(exe: Executable, consts: list[Any], wraps: list[Any], unflatten: Any) -> Any:
    """``runner``'s run with ``exe.execute`` inlined (the same lines: keep them in step). The
    loaded executable is read from ``exe`` per call, never bound early, so a program whose
    executable is swapped (a test's failing stand-in) runs the new one."""
    if len(wraps) == 1 and unflatten is None:
        (w,) = wraps
        slots = getattr(w, "array_slots", None)
        if slots is not None:  # an xfront array result, built here: no wrap call
            cls, aval, dev, owned = slots
            new = object.__new__

            def run1a(bufs: list[Any]) -> Any:
                if consts:
                    bufs = consts + bufs
                try:
                    outs = exe.exe.execute_sharded(bufs).consume_with_handlers(exe._handlers)
                except Exception as e:  # NOTE [One exception boundary]
                    raise exe.error(e) from None
                if _track_inflight is not False:  # NOTE [Executions in flight at exit]
                    note_inflight(bufs, outs)
                a = new(cls)  # as the wrap builds it (xfront._eager.array_wrapper)
                a.aval = aval
                a._buf = outs[0]
                a._device = dev
                a._owned = owned
                return a
            return run1a

        def run1(bufs: list[Any]) -> Any:
            if consts:
                bufs = consts + bufs
            try:
                outs = exe.exe.execute_sharded(bufs).consume_with_handlers(exe._handlers)
            except Exception as e:  # NOTE [One exception boundary]
                raise exe.error(e) from None
            if _track_inflight is not False:  # NOTE [Executions in flight at exit]
                note_inflight(bufs, outs)
            return w(outs[0])
        return run1
    if unflatten is None:
        unflatten = list

    def run(bufs: list[Any]) -> Any:
        if consts:
            bufs = consts + bufs
        try:
            outs = exe.exe.execute_sharded(bufs).consume_with_handlers(exe._handlers)
        except Exception as e:  # NOTE [One exception boundary]
            raise exe.error(e) from None
        if _track_inflight is not False:  # NOTE [Executions in flight at exit]
            note_inflight(bufs, outs)
        return unflatten([w(b) for w, b in zip(wraps, outs)])
    return run


# NOTE [Per-call pieces of the run]
#     The general call path and the large-input NumPy/torch paths need more than the fast
#     paths' run: staging buffers to hand back after the program has read them, donated
#     arguments to mark consumed, a wait for results when the inputs borrowed caller memory,
#     and the name of a consumed argument when the execute fails. These are data of the call,
#     not code of the caller: the run takes them as arguments (``runner(per_call=True)``), in
#     this order: execute (the exception boundary; ``on_fail`` names a consumed argument),
#     mark the donated arguments, wait (when asked, or when something was staged and the
#     wraps do not wait themselves: NumPy results do), wrap, unstage.
#     Callers bind one such run per program variant and output framework (an offsets variant,
#     NOTE [Misaligned inputs without a copy] in xfront/_offsets.py, is just another
#     program), so the per-framework wrappers are built once per signature, not per call.
#     The fast paths keep the plain run: it has no per-call pieces to test for.
#
#     Measured against the previous code (each path with its own execute-and-wrap), per-thread
#     CPU time, before/after alternating in fresh processes, 14 rounds of 3,000 calls, 2-core
#     host under a load average of about 2.5, medians: the large-input paths, exercised at 8 KiB
#     with ``XFRONT_STAGE_MIN_BYTES=4096`` so that the Python work is what is timed: NumPy
#     staged 21.2 -> 20.6 us, NumPy through an offsets variant 21.8 -> 20.1 us, torch imported
#     directly 18.9 -> 19.0 us; general path from NumPy 27.7 -> 26.2 us, from torch 39.1 ->
#     37.8 us, from xfront arrays 10.5 -> 9.8 us (the per-framework wrappers are bound once);
#     a donating call with xfront arrays 7.1 -> 7.0 us. None got slower beyond the noise
#     (about +-3% between runs). A first version that always waited before handing staged
#     inputs back cost the staged NumPy path 1.4 us, hence ``waits``.


def _per_call_run(execute: Any, consts: list[Any], wraps: list[Any], unflatten: Any,
                  mark: Any, on_fail: Any, waits: bool) -> Any:
    single = unflatten is None and len(wraps) == 1  # one result, returned as it is
    w1 = wraps[0] if single else None
    if unflatten is None:
        unflatten = list

    def run_call(bufs: list[Any], staged: list[Any] | None = None, donated: Any = None,
                 wait: bool = False, values: Any = None) -> Any:
        try:
            outs = execute(consts + bufs if consts else bufs)
        except Exception:
            if on_fail is not None and values is not None:
                on_fail(values)  # raises the ArgumentError for a consumed argument, if any
            raise
        if donated is not None:
            mark(donated)
        if wait or (staged and not waits):
            block_all(outs)
        res = w1(outs[0]) if single else unflatten([w(b) for w, b in zip(wraps, outs)])
        if staged:  # the results hold their values: the program has read the staged inputs
            unstage(staged)
        return res
    return run_call


# NOTE [Small host inputs]
#     A NumPy array or CPU torch tensor of at most ``SMALL_INPUT_BYTES`` (16 KiB) is not
#     imported (``batched_device_put`` ~4 us, a DLPack import ~4 us) but copied into a staging
#     buffer that the run keeps for its signature (~0.2 us for NumPy, ~0.9 us for torch's
#     ``copy_``; a 16 KiB copy takes ~1 us). The copy also takes any layout (NumPy views with negative
#     or Fortran strides, transposed or conjugated torch tensors) without a second pass. A
#     staging set (one buffer per input) belongs to one call at a time: a call takes a set
#     from the run's free list (or makes a new one; threads each get their own) and gives it
#     back only once its results hold their values, so the program has finished reading it
#     (the output conversions wait for the results: a NumPy copy or a DLPack export without a
#     stream). Only CPU programs without donated inputs take this path; small NumPy results
#     leave as copies (``np.array``, ~1 us against ~2.2 us for a view that owns the buffer).
#
#     A run keeps at most ``_SMALL_SETS_KEPT`` idle sets once its callers are done.
#     ``release_memory`` drops the idle sets of every run. A set a call is using is not in its
#     run's free list (the call popped it), so it is never freed under the call; the call puts it
#     back when it is done, and the next call without a free set makes a new one.

SMALL_INPUT_BYTES = int(os.environ.get("XFRONT_SMALL_INPUT_BYTES", str(16 << 10)))
_SMALL_SETS_KEPT = 4  # staging sets a run keeps for concurrent callers


class _SmallSets:
    """The idle staging sets of one run: ``free`` holds (buffers, views) pairs."""

    __slots__ = ("free", "set_bytes", "__weakref__")

    def __init__(self, set_bytes: int) -> None:
        self.free: list[tuple[list[Any], list[Any]]] = []
        self.set_bytes = set_bytes

    def drop(self) -> int:
        """Drop the idle sets; returns their bytes. Calls take and return sets with
        ``list.pop`` and ``append``, each atomic, as is each ``pop`` here: a set is either
        dropped here or taken by one call (which holds it, so its memory outlives the call)."""
        n = 0
        while True:
            try:
                self.free.pop()
            except IndexError:
                return n * self.set_bytes
            n += 1


_SMALL_RUNS: weakref.WeakSet[_SmallSets] = weakref.WeakSet()  # the runs' sets, while they live
_small_lock = threading.Lock()


def _staging_view(buf: Any, aval: AbstractArray) -> np.ndarray:
    """A writable NumPy view of a (CPU, ready, xfront-owned) buffer's memory."""
    dt = aval.dtype.np
    n = aval.size * dt.itemsize
    if n == 0:  # nothing to copy: a stand-in of the right shape
        return np.zeros(aval.shape, dt)
    mem = (ctypes.c_char * n).from_address(buffer_pointer(buf))
    mem.xfront_buffer = buf  # keep-alive
    return np.frombuffer(mem, dtype=dt).reshape(aval.shape)


def host_runner(execute: Any, const_bufs: Sequence[Any], dev: Any,
                in_avals: Sequence[AbstractArray], wraps: Sequence[Any], unflatten: Any = None,
                *, view: Any = None, load: Any = None) -> Any:
    """``run(host_arrays)`` for small host inputs (NOTE [Small host inputs]): each argument is
    copied into a staging buffer by ``load(staging_view, x)`` (NumPy assignment by default),
    then the program runs as in ``runner``. ``view`` turns a staging NumPy view into the view
    ``load`` writes (e.g. a torch tensor over the same memory). Every ``wraps`` entry must wait
    for its output's value (NOTE above)."""
    run = runner(execute, const_bufs, wraps, unflatten)
    avals = list(in_avals)
    sets = _SmallSets(sum(a.size * a.dtype.itemsize for a in avals))
    with _small_lock:
        _SMALL_RUNS.add(sets)
    free = sets.free

    def new_set() -> tuple[list[Any], list[Any]]:
        bufs, views = [], []
        for a in avals:
            b = put(np.zeros(a.shape, a.dtype.np), dev, copy=True)
            block_until_ready(b)
            v = _staging_view(b, a)
            bufs.append(b)
            views.append(view(v) if view is not None else v)
        return bufs, views

    # NOTE: the loads are written out in the loop (NumPy assignment; ``load`` for torch, best
    # a C method such as ``Tensor.copy_``): no Python frame per argument. The run never keeps
    # or changes its argument list, so the set's own list is passed as it is.
    numpy_load = load is None

    def run_host(args: Sequence[Any]) -> Any:
        try:
            s = free.pop()
        except IndexError:
            s = new_set()
        bufs, views = s
        if numpy_load:
            for v, x in zip(views, args):
                v[...] = x
        else:
            for v, x in zip(views, args):
                load(v, x)
        out = run(bufs)
        # the outputs hold their values: the set is free. Appended first, then trimmed: with
        # each caller's own check after its own append, concurrent callers never leave more
        # than _SMALL_SETS_KEPT sets once they are done (a check before the append could let
        # two of them both see room for one)
        free.append(s)
        if len(free) > _SMALL_SETS_KEPT:
            try:
                free.pop()
            except IndexError:  # taken meanwhile by other calls
                pass
        return out
    run_host.small_sets = sets  # type: ignore[attr-defined]  # what keeps them registered
    return run_host


def host_copy(buf: Any) -> np.ndarray:
    """A writable NumPy copy of a small output (waits for its value)."""
    try:
        return np.array(buf)
    except Exception as e:  # NOTE [One exception boundary]
        raise translate(e, "to_numpy", "a program's output") from None


def export_fresh(buf: Any) -> Any:
    """A DLPack capsule of a fresh output that nothing else holds (waits for its value; see
    ``export_dlpack(unshared=True)``)."""
    try:
        return _J.buffer_to_dlpack_managed_tensor(buf, stream=None)
    except Exception as e:  # NOTE [One exception boundary]
        raise translate(e, "export", "a program's output") from None


_ir_ctx: Any = None


def _mlir_context() -> Any:
    """An MLIR context with the dialects of jax's own (func, stablehlo, chlo, mhlo, sdy, ...).

    NOTE: built as jax's ``make_ir_context`` builds it, except that the mhlo dialect is
    registered through its C extension: jax's version imports mhlo's generated Python op
    classes, which nothing here uses and which cost 0.07-0.2 s of a fresh process's first
    compiled call (measured on a 2-core host)."""
    global _ir_ctx
    if _ir_ctx is None:
        from jax._src.interpreters import mlir as _jmlir

        try:
            from jax._src.lib.mlir import dialects as _d
            from jaxlib.mlir._mlir_libs import _chlo, _mlirHlo

            ctx = _jmlir.JaxIrContext()
            ctx.append_dialect_registry(_jmlir.upstream_dialects)
            ctx.load_all_available_dialects()
            ctx.set_thread_pool(_jmlir.global_thread_pool)
            _d.sdy.register_dialect(ctx)
            _d.mpmd.register_dialect(ctx)
            _mlirHlo.register_mhlo_dialect(ctx)
            _chlo.register_dialect(ctx)
            _d.hlo.register_dialect(ctx)
        except (ImportError, AttributeError):  # another jaxlib layout: jax's own
            ctx = _jmlir.make_ir_context()
        _ir_ctx = ctx
    return _ir_ctx


def parse_verify(text: str) -> None:
    """Parse and verify StableHLO text; raise LoweringError naming the offending primitive."""
    from jaxlib.mlir import ir

    with _mlir_context():
        try:
            ir.Module.parse(text).operation.verify()
        except ir.MLIRError as e:
            diags = [(str(d.location), d.message) for d in e.error_diagnostics]
            lines = []
            for loc, msg in diags[:5]:
                site = loc[loc.find('"') + 1:loc.rfind('"')] if '"' in loc else loc
                lines.append(f"  {site}: {msg}")
            raise _errors.LoweringError(
                "xfront: the generated StableHLO does not verify (internal error):\n"
                + "\n".join(lines or [f"  {e}"])) from None


def pretty_print(text: str) -> str:
    from jaxlib.mlir import ir

    with _mlir_context():
        m = ir.Module.parse(text)
        return m.operation.get_asm(enable_debug_info=False)


def refine_shapes(text: str) -> str:
    """Refine a module whose static ``@main`` calls functions with dynamic shapes to a module
    with static shapes only (StableHLO's shape refinement, as jaxlib ships it); the result is
    ordinary StableHLO text for ``compile``. See NOTE [Lowering symbolic dimensions] in
    xfront/lowering/__init__.py."""
    from jaxlib.mlir import ir

    with _mlir_context():
        try:
            data = ir.Module.parse(text).operation.get_asm(binary=True)
            out = _J.mlir.refine_polymorphic_shapes(data, enable_shape_assertions=True,
                                                    validate_static_shapes=True)
            return ir.Module.parse(out).operation.get_asm(enable_debug_info=True)
        except Exception as e:  # NOTE [One exception boundary]
            raise _errors.LoweringError(
                "xfront: refining a symbolic-shape module to static shapes failed: "
                f"{str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


# NOTE [Programs for a device other than the first]
#     ``compile_and_load`` given a one-device DeviceList of, say, cpu:1 still builds an
#     executable whose default device assignment is device 0, and executing it with cpu:1's
#     buffers then fails ("replica is assigned to device cpu:0"). A program for any device
#     but the first therefore gets an explicit one-entry device assignment.

# NOTE [Verify after a failed compile]
#     XLA parses and verifies the module text itself before it compiles it, and reports the
#     same MLIR diagnostics as ``parse_verify`` (wrapped in its own error text). Building the
#     MLIR context ``parse_verify`` needs costs about 5 ms of CPU (10 ms wall) in a fresh
#     process, a quarter of a small program's first call besides XLA's compile. So ``compile``
#     hands the text to XLA directly, and only when that fails runs ``parse_verify``, which
#     turns a module that does not verify into the LoweringError naming its primitive (any
#     other failure stays a CompileError). A module that verifies compiles as before.

def compile(text: str, dev: Any, in_avals: Sequence[AbstractArray],
            out_avals: Sequence[AbstractArray], *, fingerprint: str = "",
            verify: bool = True, options: Sequence[tuple[str, Any]] | None = None,
            name: str = "") -> Executable:
    opts = xc.CompileOptions()
    opts.env_option_overrides = list(options if options is not None
                                     else default_compile_options(device_platform(dev), text))
    if "lapack_" in text:  # LAPACK custom calls (lowered here, imported or cached): NOTE below
        ensure_lapack()
    if dev.id != 0:  # multi-device: NOTE [Programs for a device other than the first]
        opts.device_assignment = xc.DeviceAssignment.create(np.array([[dev.id]], dtype=np.int64))
    try:
        exe, from_disk = _compile_cached(text, dev, opts)  # persistent cache: block at the end
    except Exception as e:  # NOTE [One exception boundary]
        if verify:  # NOTE [Verify after a failed compile]: a LoweringError naming the primitive
            parse_verify(text)
        what = f"the program `{name}`" if name else "the program"
        try:
            e._xfront_compile = True  # type: ignore[attr-defined]
        except Exception:
            e = RuntimeError(str(e))
            e._xfront_compile = True  # type: ignore[attr-defined]
        raise translate(e, "compile", what) from None
    out = Executable(exe, dev, in_avals, out_avals, text, fingerprint, name)
    out.from_disk = from_disk
    return out


def serialize(executable: Executable) -> bytes:
    return executable.exe.serialize()


def cache_key_environment(dev: Any) -> tuple[str, ...]:
    """What besides the module text decides the compiled code (for persistent caches)."""
    c = client(device_platform(dev))
    return (JAXLIB_VERSION, c.platform, c.platform_version, dev.device_kind,
            os.environ.get("XLA_FLAGS", ""))


# === export, import and the persistent compile cache (xfront._export, lowering._diskcache) ====
#
# NOTE [Portable artifacts and imported modules]
#     ``xf.export`` stores a module as a StableHLO portable artifact (versioned MLIR bytecode
#     with a compatibility window, the format jax.export and TF's XlaCallModule also use). An
#     artifact, a ``jax.export`` blob or StableHLO text from another producer is brought back
#     by parsing it here and renaming every function symbol with a prefix unique to its content
#     (``@main`` becomes ``@<prefix>main``, private), so that the functions can be pasted into
#     any xfront module and reached with ``func.call``. Arguments' and results' attributes of
#     the entry function (shardings, donation, result names) are dropped: the call site decides.

def stablehlo_versions() -> tuple[str, str]:
    """(current StableHLO version of this jaxlib, the version artifacts are written for)."""
    from jaxlib.mlir.dialects import stablehlo as _shlo

    target = _shlo.get_version_from_compatibility_requirement(
        _shlo.StablehloCompatibilityRequirement.WEEK_4)
    return _shlo.get_current_version(), target


def _tensor_types(types: Any, what: str, dynamic: bool = False) -> list[tuple[tuple, str]]:
    from jaxlib.mlir import ir

    out = []
    for t in types:
        try:
            rt = ir.RankedTensorType(t)
        except (ValueError, TypeError):
            raise ValueError(f"{what} has type {t}; only ranked tensors are supported") \
                from None
        if dynamic:  # a dynamic dimension comes back as None
            out.append((tuple(None if rt.is_dynamic_dim(i) else rt.get_dim_size(i)
                              for i in range(rt.rank)), str(rt.element_type)))
            continue
        if not rt.has_static_shape:
            raise ValueError(f"{what} has the dynamic type {t}; only static shapes are "
                             "supported")
        out.append((tuple(rt.shape), str(rt.element_type)))
    return out


def import_module(data: bytes | str, prefix: str,
                  dynamic: bool = False) -> tuple[str, str, list, list]:
    """Parse StableHLO (text, MLIR bytecode or a portable artifact) for inlining.

    Returns ``(functions_text, entry_symbol, in_types, out_types)``: the module's functions with
    their symbols prefixed by ``prefix`` and made private, the entry (``@main``) symbol, and the
    entry's argument and result types as ``(shape, element type)`` pairs (``dynamic=True``
    accepts dynamic dimensions and gives them as None). Raises ValueError with a readable
    reason for anything that cannot be parsed or used.
    """
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import stablehlo as _shlo

    ctx = _mlir_context()
    diags: list[str] = []

    def collect(d: Any) -> bool:  # keep MLIR's diagnostics off stderr: they go in the error
        try:
            diags.append(str(d.message))
        except Exception:  # a message that is not UTF-8 (from corrupted bytecode)
            diags.append("(a diagnostic that is not valid UTF-8)")
        return True

    with ctx:
        handler = ctx.attach_diagnostic_handler(collect)
        try:
            if isinstance(data, (bytes, bytearray)) and bytes(data[:4]) == b"ML\xefR":
                # NOTE: a portable artifact names its producer (StableHLO_v...) in the bytecode
                # header and is only ever read by StableHLO's reader: the generic parser turns
                # the op names of a corrupted artifact into error strings that are not UTF-8,
                # and the bindings abort the process converting them. Other MLIR bytecode goes
                # to the generic parser.
                if is_portable_artifact(data):
                    module = _shlo.deserialize_portable_artifact(ctx, bytes(data))
                else:
                    module = ir.Module.parse(bytes(data))
            else:
                module = ir.Module.parse(data)
            module.operation.verify()
        except Exception as e:  # MLIRError, or a RuntimeError from the bytecode reader
            msg = "; ".join([d.message for d in getattr(e, "error_diagnostics", [])]
                            or diags or [str(e).splitlines()[0] if str(e) else "unknown"])
            raise ValueError(f"the module does not parse: {msg[:500]}") from None
        finally:
            handler.detach()
        funcs = [op for op in module.body.operations if op.operation.name == "func.func"]
        others = [op.operation.name for op in module.body.operations
                  if op.operation.name != "func.func"]
        if others:
            raise ValueError(f"the module holds top-level ops other than functions: {others}")
        names = [ir.StringAttr(op.attributes["sym_name"]).value for op in funcs]
        if "main" not in names:
            raise ValueError(f"the module has no @main function (functions: {names})")
        for op, name in zip(funcs, names):
            new = prefix + name
            ir.SymbolTable.replace_all_symbol_uses(name, new, module.operation)
            ir.SymbolTable.set_symbol_name(op, new)
            ir.SymbolTable.set_visibility(op, "private")
        main = funcs[names.index("main")]
        for attr in ("arg_attrs", "res_attrs"):
            if attr in main.attributes:
                del main.attributes[attr]
        ftype = ir.FunctionType(ir.TypeAttr(main.attributes["function_type"]).value)
        ins = _tensor_types(ftype.inputs, "an argument of @main", dynamic)
        outs = _tensor_types(ftype.results, "a result of @main", dynamic)
        text = "\n".join(op.operation.get_asm(enable_debug_info=False) for op in funcs)
    return text, prefix + "main", ins, outs


def is_portable_artifact(data: Any) -> bool:
    """Whether ``data`` is StableHLO portable-artifact bytecode (magic and producer checked)."""
    return (isinstance(data, (bytes, bytearray)) and bytes(data[:4]) == b"ML\xefR"
            and b"StableHLO" in bytes(data[4:64]))


def to_portable_artifact(data: bytes | str) -> bytes:
    """A portable artifact of a module given as text, MLIR bytecode or a portable artifact."""
    if is_portable_artifact(data):
        return bytes(data)
    if isinstance(data, str):
        return portable_artifact(data)
    from jaxlib.mlir import ir

    with _mlir_context():
        text = ir.Module.parse(bytes(data)).operation.get_asm(enable_debug_info=False)
    return portable_artifact(text)


def jax_export_parts(blob: bytes) -> dict[str, Any]:
    """The pieces of a ``jax.export`` serialized artifact that xfront can call.

    Returns a dict with ``module`` (portable artifact bytes), ``in_avals``/``out_avals``
    (``(shape, numpy dtype)`` pairs of the full calling convention), ``kept`` (indices of the
    arguments the module takes), ``platforms`` and ``vjp`` (the same dict for the VJP, or None).
    Raises ValueError for artifacts xfront cannot call (effects, several devices, symbolic
    shapes).
    """
    from jax import export as _jexport

    try:
        e = _jexport.deserialize(bytearray(blob))
    except Exception as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"not a jax.export artifact: {reason}") from None
    return _jax_export_dict(e, with_vjp=True)


def _jax_export_dict(e: Any, with_vjp: bool) -> dict[str, Any]:
    if e.ordered_effects or e.unordered_effects:
        raise ValueError("the jax.export artifact has side effects (tokens); xfront calls "
                         "pure modules only")
    if e.nr_devices != 1:
        raise ValueError(f"the jax.export artifact runs on {e.nr_devices} devices; xfront "
                         "calls single-device modules")
    if len(e.platforms) != 1:
        raise ValueError(f"the jax.export artifact was lowered for {len(e.platforms)} "
                         f"platforms {e.platforms}; export it for one platform")

    def avals(seq: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
        out = []
        for a in seq:
            if not all(isinstance(d, int) for d in a.shape):
                raise ValueError(f"the jax.export artifact has symbolic shape {a.shape}; "
                                 "xfront imports static shapes")
            out.append((tuple(a.shape), np.dtype(a.dtype)))
        return out

    vjp = None
    if with_vjp and e.has_vjp():
        vjp = _jax_export_dict(e.vjp(), with_vjp=False)
    return {"module": bytes(e.mlir_module_serialized), "in_avals": avals(e.in_avals),
            "out_avals": avals(e.out_avals), "kept": tuple(e.module_kept_var_idx),
            "platforms": tuple(e.platforms), "vjp": vjp}


# --- persistent compile cache ---------------------------------------------------------------
#
# NOTE [Persistent compile cache]
#     Compiled executables are kept on disk (lowering/_diskcache.py decides where, and how
#     entries are written and evicted). The key hashes the module text without source
#     locations, the serialized compile options, the device kind, the platform version, the
#     jaxlib and xfront versions and XLA_FLAGS, so a key never matches code built for something
#     else. An entry that fails its checksum or that PJRT refuses to load is deleted and the
#     program is compiled again. NOTE: PJRT can run code from a serialized executable, so the
#     cache directory is created private to the user (0700) and is never shared between users.

CACHE_STATS = {"disk_hits": 0, "disk_misses": 0, "disk_writes": 0, "xla_compiles": 0}


def _compile_cached(text: str, dev: Any, opts: Any) -> tuple[Any, bool]:
    """``compile_and_load`` through the persistent cache (when enabled): (executable, whether
    it came from the cache)."""
    from xfront.lowering import _diskcache

    c = client(device_platform(dev))
    cache = _diskcache.active_cache()
    key = None
    if cache is not None:
        try:
            from xfront import __version__ as xf_version
            from xfront._eager import fingerprint as _fp

            key = _diskcache.make_key(_fp(text), opts.SerializeAsString().hex(),
                                      *cache_key_environment(dev), xf_version)
            blob = cache.get(key)
        except Exception:
            blob = None
        if blob is not None:
            try:
                exe = c.deserialize_executable(blob, xc.DeviceList((dev,)), opts)
                CACHE_STATS["disk_hits"] += 1
                return exe, True
            except Exception:  # refused by PJRT: never trusted, compiled again below
                cache.discard(key)
        CACHE_STATS["disk_misses"] += 1
    t0 = _diskcache.now()
    exe = c.compile_and_load(text, xc.DeviceList((dev,)), opts)
    CACHE_STATS["xla_compiles"] += 1
    if cache is not None and key is not None and \
            (_diskcache.now() - t0) * 1000 >= cache.min_compile_ms:
        try:
            cache.put(key, exe.serialize())
            CACHE_STATS["disk_writes"] += 1
        except Exception:  # a full disk or a read-only directory: keep running uncached
            pass
    return exe, False
# --- LAPACK kernels (xfront.linalg) -------------------------------------------------------
#
# NOTE [LAPACK custom calls]
#     jaxlib registers typed-FFI handlers for LAPACK (``lapack_{s,d,c,z}getrf_ffi``, ...) with
#     XLA:CPU, but the handlers resolve their BLAS/LAPACK function pointers only when
#     ``jaxlib``'s ``_lapack.initialize()`` has run; a module calling one of them before that
#     crashes the process (segmentation fault). The lowering rules that emit these targets call
#     ``ensure_lapack()``, and ``compile`` calls it for any module text that names a LAPACK
#     target (a deserialized artifact, imported StableHLO, a persistent-cache hit).

_lapack_ready = False
_lapack_lock = threading.Lock()


def ensure_lapack() -> None:
    """Initialise jaxlib's CPU LAPACK kernels once (before compiling a module that calls them)."""
    global _lapack_ready
    if _lapack_ready:
        return
    with _lapack_lock:
        if not _lapack_ready:
            from jax._src.lib import lapack as _jlapack

            _jlapack._lapack.initialize()
            _lapack_ready = True


# === multi-device (SPMD) programs and global arrays: used by xfront/sharding.py ===============
#
# NOTE [SPMD programs]
#     A program partitioned over N devices is StableHLO text with Shardy annotations (an
#     ``sdy.mesh`` declaration, ``sdy.sharding`` on parameters and results, and
#     ``sdy.sharding_constraint`` ops), compiled with num_partitions=N, the SPMD partitioner and
#     Shardy enabled, and a device assignment listing the mesh's devices in row-major order.
#     Its parameters and results are global arrays: one logical array made of one buffer per
#     device. Two hazards of the CPU runtime shape the code below:
#       * executing with a global array whose sharding differs from the compiled parameter's
#         (a replicated array for a row-sharded parameter, say) crashes the process, so
#         ``SpmdExecutable.execute`` checks every argument's sharding first, and
#         xfront/sharding.py never hands it an unchecked array;
#       * back-to-back launches of a program with a cross-device reduction, without waiting in
#         between, can deadlock the CPU runtime's collectives (then abort the process) when
#         there are more virtual devices than cores, so every launch waits for its results.
#     A call of such a program (xfront/sharding.py) checks its arguments' shardings and
#     names a wrong one, then runs the program through ``runner`` like every other program
#     (NOTE [The one run]): ``SpmdExecutable.execute`` is the execute (its errors are
#     translated exactly as ``Executable.execute``'s, with the same program name), the
#     constants are replicated global arrays, and each result is wrapped as a ``ShardedArray``
#     or gathered into the caller's framework; one run per program and result framework.
#     ``execute`` repeats the layout check as the last guard before the crash above. Each
#     check asks the runtime whether two shardings are equivalent (~1 us per argument) only
#     when the argument's sharding is not the very object the program was compiled with;
#     arrays put with, or made by, the same ``NamedSharding`` carry that object. What stays
#     outside the run, on purpose: the per-call split of NumPy/torch/TF inputs over the mesh
#     (``device_put``, a copy per shard: the run keeps no staging buffers for global arrays)
#     and the wait for every result (inside ``execute``, for the second hazard above).
#     Measured against the previous code (its own execute-and-wrap in the call, and the
#     equivalence test on every argument, twice), per-thread CPU time, 2 CPU devices, 8x2
#     float32 rows-sharded inputs, before/after alternating in 10 fresh processes of 5x1,000
#     calls each, medians on a 2-core host under load: two global arrays in, one out 31.2 ->
#     28.5 us; one in, two out (a replicated one) 40.3 -> 37.2 us; NumPy in and out (split
#     and gathered) 142.6 -> 134.5 us. One-device programs run exactly the code they ran.

def jax_mesh(devs: np.ndarray, axis_names: tuple[str, ...]) -> Any:
    """A jax Mesh over the PJRT devices ``devs`` (an object array of mesh shape)."""
    return jax.sharding.Mesh(devs, axis_names)


def named_sharding(mesh: Any, spec: tuple) -> Any:
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(*spec))


@_guarded("device_put", "a sharded array")
def put_global(x: np.ndarray, sharding: Any) -> Any:
    """A global array holding ``x``, split over ``sharding``'s devices (copies each shard)."""
    x = np.ascontiguousarray(x)
    imap = sharding.addressable_devices_indices_map(x.shape)
    devs = list(imap.keys())
    # NOTE: IMMUTABLE_ONLY_DURING_CALL fails (bad_function_call) when shards repeat over
    # devices (a partly replicated layout); fresh copies handed over with ZERO_COPY do not
    shards = [np.array(x[idx], copy=True, order="C") for idx in imap.values()]
    return xc.batched_device_put(_jcore.ShapedArray(x.shape, x.dtype), sharding, shards, devs,
                                 True, False, _ALIAS, True)


@_guarded("make_array_from_process_local_data", "a sharded array")
def global_from_local(sharding: Any, local: np.ndarray, factors: Sequence[int],
                      global_shape: tuple[int, ...] | None) -> Any:
    """A global array from this process's part ``local`` (all processes call this).

    ``factors[d]``: how many blocks the sharding splits dimension d into. This process's part
    covers the blocks of its own devices; without ``global_shape`` each dimension is the local
    size times (blocks in all / blocks here). NOTE: jax's helper for this narrows 64-bit data
    to 32 bits unless jax's x64 mode is on (a global array whose type then differs from the
    program's crashes it), so the shards are put here, with 64-bit types kept.
    """
    ndim = local.ndim
    probe = sharding.addressable_devices_indices_map(tuple(int(f) for f in factors))
    here = [len({idx[d].indices(factors[d])[0] for idx in probe.values()}) for d in range(ndim)]
    if global_shape is None:
        global_shape = tuple(local.shape[d] * factors[d] // here[d] for d in range(ndim))
    imap = sharding.addressable_devices_indices_map(tuple(global_shape))
    starts = [min(idx[d].indices(global_shape[d])[0] for idx in imap.values())
              for d in range(ndim)]
    devs, shards = [], []
    for dev, idx in imap.items():
        rel = []
        for d in range(ndim):
            a, b, _ = idx[d].indices(global_shape[d])
            rel.append(slice(a - starts[d], b - starts[d]))
        part = local[tuple(rel)]
        want = tuple(idx[d].indices(global_shape[d])[1] - idx[d].indices(global_shape[d])[0]
                     for d in range(ndim))
        if part.shape != want:
            raise ValueError(f"the local part {local.shape} does not cover this process's "
                             f"blocks of the global shape {tuple(global_shape)}")
        devs.append(dev)
        shards.append(np.array(part, copy=True, order="C"))
    return xc.batched_device_put(_jcore.ShapedArray(tuple(global_shape), local.dtype), sharding,
                                 shards, devs, True, False, _ALIAS, True)


@_guarded("global array", "a sharded array")
def global_from_single(bufs: list[Any], aval: AbstractArray, sharding: Any) -> Any:
    """A global array from one buffer per device of ``sharding`` (in its device order)."""
    return xc.ArrayImpl(_javal(aval), sharding, list(bufs), committed=True, _skip_checks=True)


def global_shards(buf: Any) -> list[tuple[Any, tuple, Any]]:
    """(PJRT device, index into the global array, single-device buffer) per addressable shard."""
    return [(s.device, s.index, s.data) for s in buf.addressable_shards]


def sharding_matches(buf: Any, sharding: Any, ndim: int) -> bool:
    try:
        return bool(buf.sharding.is_equivalent_to(sharding, ndim))
    except Exception:
        return False


def is_fully_addressable(buf: Any) -> bool:
    return bool(getattr(buf, "is_fully_addressable", True))


@_guarded("gather", "a sharded array")
def gather(buf: Any) -> np.ndarray:
    """The whole value of a global array on the host (a replicated one may span processes)."""
    if not getattr(buf, "is_fully_addressable", True) and buf.is_fully_replicated:
        return np.asarray(buf.addressable_shards[0].data)
    return np.asarray(buf)


@_guarded("gather", "a sharded array")
def gather_to(buf: Any, dev: Any) -> Any:
    """The whole value of a global array as one buffer on ``dev``."""
    return put(gather(buf), dev, copy=True)


class SpmdExecutable:
    """A compiled program partitioned over the devices of one mesh (NOTE [SPMD programs])."""

    __slots__ = ("exe", "in_shardings", "out_shardings", "in_avals", "out_avals", "_handlers",
                 "text", "name", "ndims")

    def __init__(self, exe: Any, in_shardings: list[Any], out_shardings: list[Any],
                 in_avals: Sequence[AbstractArray], out_avals: Sequence[AbstractArray],
                 text: str, name: str):
        self.exe = exe
        self.in_shardings = in_shardings
        self.out_shardings = out_shardings
        self.in_avals = list(in_avals)
        self.out_avals = list(out_avals)
        self.ndims = [len(a.shape) for a in in_avals]
        self._handlers = [xc.array_result_handler(_javal(a), s, committed=True,
                                                  _skip_checks=True)
                          for a, s in zip(out_avals, out_shardings)]
        self.text = text
        self.name = name

    def mismatched(self, bufs: Sequence[Any], first: int = 0) -> int | None:
        """The index into ``bufs`` of the first argument whose sharding, dtype or shape
        differs from the compiled parameter ``first + index`` (``first``: the number of
        leading parameters ``bufs`` leaves out, the program's constants)."""
        for i, (b, s, a) in enumerate(zip(bufs, self.in_shardings[first:],
                                          self.in_avals[first:])):
            # the identical sharding object (an array put for, or made by, this program) needs
            # no equivalence test (NOTE [SPMD programs]: the calls of the run)
            if (getattr(b, "sharding", None) is not s and
                    not sharding_matches(b, s, len(a.shape))) or \
                    b.dtype != a.dtype.np or tuple(b.shape) != a.shape:
                return i
        return None

    def execute(self, bufs: list[Any]) -> list[Any]:
        """What ``runner`` runs (NOTE [The one run]): as ``Executable.execute``, after the last
        guard against a wrong layout (NOTE [SPMD programs]), and waiting for the results."""
        if len(bufs) != len(self.in_shardings) or self.mismatched(bufs) is not None:
            raise _errors.err(_errors.ArgumentError, "compile",
                              f"{self.describe()} got an argument whose sharding differs from "
                              "its compiled input sharding (internal error)")
        try:
            outs = self.exe.execute_sharded(bufs).consume_with_handlers(self._handlers)
            for o in outs:  # NOTE [SPMD programs]: one launch in flight
                o.block_until_ready()
        except Exception as e:  # NOTE [One exception boundary]: as Executable.execute
            raise translate(e, "compile", self.describe()) from None
        return outs

    describe = Executable.describe  # the same name in messages as a one-device program
    hlo_text = Executable.hlo_text


def compile_spmd(text: str, devs: Sequence[Any], in_shardings: list[Any],
                 out_shardings: list[Any], in_avals: Sequence[AbstractArray],
                 out_avals: Sequence[AbstractArray], name: str = "") -> SpmdExecutable:
    """Compile SPMD text for the devices ``devs`` (the mesh's devices, row-major)."""
    parse_verify(text)
    platform = device_platform(devs[0])
    opts = xc.CompileOptions()
    opts.env_option_overrides = list(default_compile_options(platform))
    n = len(devs)
    opts.num_replicas = 1
    opts.num_partitions = n
    b = opts.executable_build_options
    b.use_spmd_partitioning = n > 1
    b.use_shardy_partitioner = True
    opts.device_assignment = xc.DeviceAssignment.create(
        np.array([d.id for d in devs], dtype=np.int64).reshape(1, n))
    try:
        exe = client(platform).compile_and_load(text, xc.DeviceList(tuple(devs)), opts)
    except Exception as e:  # NOTE [One exception boundary]
        e2 = RuntimeError(str(e))
        e2._xfront_compile = True  # type: ignore[attr-defined]
        raise translate(e2, "compile", f"the program `{name}`" if name else "the program") \
            from None
    CACHE_STATS["xla_compiles"] += 1
    return SpmdExecutable(exe, in_shardings, out_shardings, in_avals, out_avals, text, name)


def distributed_initialize(coordinator_address: str, num_processes: int, process_id: int,
                           local_device_ids: Any = None, timeout_s: int = 300) -> None:
    """Start (process 0) or join jaxlib's distributed service; CPU collectives use gloo.

    Must run before the first device use of this process (the CPU client is created after)."""
    from jax._src import distributed as _jdist
    from jax._src import xla_bridge as _xb

    if _clients or _xb._backends:
        raise RuntimeError("devices were already used in this process; call "
                           "xfront.distributed.initialize before any array is created")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    _jdist.initialize(coordinator_address, num_processes, process_id,
                      local_device_ids=local_device_ids,
                      initialization_timeout=timeout_s)


def distributed_shutdown() -> None:
    from jax._src import distributed as _jdist

    _jdist.shutdown()


def process_index() -> int:
    return int(client("cpu").process_index()) if _clients.get("cpu") is not None \
        else int(jax.process_index())


def process_count() -> int:
    return int(jax.process_count())


# === xfront modules inside jax's trace (xfront.keras under KERAS_BACKEND=jax) ================
#
# NOTE [xfront modules inside jax.jit]
#     ``jax.export.Exported.call`` stages a StableHLO module into the calling jax trace through
#     a primitive whose lowering pastes the module into jax's module, so the call never leaves
#     jax's graph (jit, grad, Keras' train step). We take an Exported of a placeholder function
#     with the same signature and replace its module by xfront's portable artifact (marking
#     every argument kept). Its derivative would still be the placeholder's (silently wrong),
#     so the call is wrapped in ``jax.custom_vjp`` whose backward pass calls xfront's own VJP
#     module the same way. Forward mode (jax.jvp) and jax.vmap of the call are not supported.

def _jax_borrowed_exported(module: bytes, in_types: Sequence[tuple[tuple[int, ...], Any]],
                           out_types: Sequence[tuple[tuple[int, ...], Any]], platform: str,
                           name: str) -> Any:
    import dataclasses

    import jax.numpy as jnp
    from jax import export as _jexport

    def placeholder(*xs: Any) -> tuple[Any, ...]:
        return tuple(jnp.zeros(s, d) for s, d in out_types)

    ref = _jexport.export(jax.jit(placeholder), platforms=[platform])(
        *[jax.ShapeDtypeStruct(s, d) for s, d in in_types])
    return dataclasses.replace(ref, mlir_module_serialized=bytes(module), fun_name=name,
                               module_kept_var_idx=tuple(range(len(in_types))))


def jax_function(module: bytes, vjp_module: bytes,
                 in_types: Sequence[tuple[tuple[int, ...], Any]],
                 out_types: Sequence[tuple[tuple[int, ...], Any]], platform: str,
                 name: str) -> Any:
    """A jax-traceable function ``f(*inputs) -> tuple of outputs`` that runs the portable
    artifact ``module`` (``@main(*inputs) -> outputs``) inside the caller's jax trace, with
    ``vjp_module`` (``@main(*inputs, *output cotangents) -> input cotangents``) as its VJP.
    ``in_types``/``out_types`` are ``(shape, numpy dtype)`` pairs; ``platform`` is jax's name
    of the platform the modules were lowered for. See NOTE [xfront modules inside jax.jit]."""
    import jax.numpy as jnp

    in_types = [(tuple(s), np.dtype(d)) for s, d in in_types]
    out_types = [(tuple(s), np.dtype(d)) for s, d in out_types]
    if not jax.config.jax_enable_x64:  # jax would hold 64-bit values as 32-bit ones
        wide = [f"{'argument' if i < len(in_types) else 'result'} {d}"
                for i, (_, d) in enumerate(in_types + out_types) if d.itemsize == 8]
        if wide:
            raise TypeError(f"{', '.join(wide)} is 64-bit, and jax (its x64 mode off) has no "
                            "64-bit arrays")
    if b"lapack_" in module or b"lapack_" in vjp_module:
        ensure_lapack()
    fwd_exp = _jax_borrowed_exported(module, in_types, out_types, platform, name)
    bwd_exp = _jax_borrowed_exported(vjp_module, in_types + out_types, in_types, platform,
                                     "vjp_" + name)
    differentiable = [d.kind in "fc" for _, d in in_types]

    @jax.custom_vjp
    def call(*xs: Any) -> tuple[Any, ...]:
        return tuple(fwd_exp.call(*xs))

    def call_fwd(*xs: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        return call(*xs), xs

    def call_bwd(xs: tuple[Any, ...], cts: tuple[Any, ...]) -> tuple[Any, ...]:
        # integer and bool outputs get jax's float0 cotangents: the VJP module takes zeros
        cts = tuple(c if d.kind in "fc" else jnp.zeros(s, d) for c, (s, d) in zip(cts, out_types))
        got = bwd_exp.call(*xs, *cts)
        return tuple(g if ok else None for g, ok in zip(got, differentiable))

    call.defvjp(call_fwd, call_bwd)
    return call
