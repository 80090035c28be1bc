"""Single-flight caches: a missing value is built once while other threads asking for it wait.

Imports: the standard library only.

NOTE [Single-flight caches]
    xfront's caches (compiled functions by signature, eager per-op executables, executables by
    fingerprint, autodiff programs) are plain dicts read without a lock on the hot path: a
    dict lookup is atomic under the GIL. A miss goes through ``SingleFlight.get``: the first
    thread to miss a key builds the value (trace, lower, compile) outside any lock; threads
    that miss the same key meanwhile wait for it and then read the stored value, so N threads
    on one new signature cause exactly one trace and one XLA compile. If the build raises, the
    waiters retry (each then raises its own error, with its own call site). A thread that asks
    again for a key it is building itself (a re-entrant build) builds it directly instead of
    waiting for itself.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

_MISSING = object()


class _Flight:
    __slots__ = ("owner", "done")

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self.done = threading.Event()


class SingleFlight:
    """Builds missing entries of one or more dict caches at most once at a time per key."""

    __slots__ = ("_lock", "_flights")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[Any, _Flight] = {}

    def get(self, cache: dict, key: Any, build: Callable[[], Any]) -> tuple[Any, bool]:
        """``(value, built)``: ``cache[key]``, built by ``build()`` and stored if missing.

        ``built`` is True in exactly one of the threads that asked for a missing key.
        """
        fkey = (id(cache), key)
        while True:
            with self._lock:
                v = cache.get(key, _MISSING)
                if v is not _MISSING:
                    return v, False
                flight = self._flights.get(fkey)
                if flight is None:
                    flight = self._flights[fkey] = _Flight()
                    break
            if flight.owner == threading.get_ident():  # re-entrant: build it here
                return build(), True
            flight.done.wait()
        try:
            v = build()
            with self._lock:
                cache[key] = v
        finally:
            with self._lock:
                del self._flights[fkey]
            flight.done.set()
        return v, True

    def pending(self) -> int:
        """How many builds are in progress (for tests)."""
        with self._lock:
            return len(self._flights)
