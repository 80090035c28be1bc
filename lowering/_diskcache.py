"""The persistent compile cache's storage: one file per executable in a user-private directory.

Imports: the standard library only (no jaxlib: the runtime adapter serializes executables and
hands bytes to this module).

Configuration (read on every lookup, so it can change while a process runs):
  * ``XFRONT_CACHE=0`` turns the cache off (``1``, the default, turns it on);
  * ``XFRONT_CACHE_DIR`` moves it (default: ``$XDG_CACHE_HOME/xfront/executables``, else
    ``~/.cache/xfront/executables``);
  * ``XFRONT_CACHE_MAX_BYTES`` bounds its size (default 1 GiB); the least recently used
    entries are evicted first;
  * ``XFRONT_CACHE_MIN_COMPILE_MS`` stores only programs whose compilation took at least this
    long (default 0: everything).

NOTE [Cache entries]
    An entry is ``MAGIC | sha256(key) | sha256(payload) | payload`` in ``<key>.xfx``. It is
    written to a temporary file in the same directory and renamed into place, so readers see
    either no entry or a complete one, and two processes filling one cache at once are safe
    (the last rename wins; both wrote the same program). A read checks the magic, the key and
    the checksum; anything else is deleted and reported as a miss. A hit refreshes the file's
    modification time, which orders eviction (least recently used first).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time

MAGIC = b"XFXCACHE1\n"
_SUFFIX = ".xfx"
DEFAULT_MAX_BYTES = 1 << 30


def now() -> float:
    return time.perf_counter()


def make_key(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(str(p).encode())
        h.update(b"\0")
    return h.hexdigest()


def default_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "xfront", "executables")


class DiskCache:
    """Executables by key in ``directory``, at most ``max_bytes`` in all (LRU eviction)."""

    def __init__(self, directory: str, max_bytes: int = DEFAULT_MAX_BYTES,
                 min_compile_ms: float = 0.0):
        self.directory = directory
        self.max_bytes = max_bytes
        self.min_compile_ms = min_compile_ms
        self._made = False

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key + _SUFFIX)

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return None
        n = len(MAGIC)
        head, kh, ph, payload = data[:n], data[n:n + 32], data[n + 32:n + 64], data[n + 64:]
        if (head != MAGIC or kh != hashlib.sha256(key.encode()).digest()
                or ph != hashlib.sha256(payload).digest()):
            self.discard(key)  # corrupt, truncated or foreign: never trusted
            return None
        try:
            os.utime(path)  # most recently used
        except OSError:
            pass
        return payload

    def put(self, key: str, payload: bytes) -> None:
        if not self._made:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            self._made = True
        data = (MAGIC + hashlib.sha256(key.encode()).digest()
                + hashlib.sha256(payload).digest() + payload)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=_SUFFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self._path(key))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        self.evict()

    def discard(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except OSError:
            pass

    def entries(self) -> list[tuple[float, int, str]]:
        """(last use, size, path) of every entry, least recently used first."""
        out = []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return out
        for name in names:
            if not name.endswith(_SUFFIX) or name.startswith(".tmp-"):
                continue
            path = os.path.join(self.directory, name)
            try:
                st = os.stat(path)
            except OSError:  # removed by another process meanwhile
                continue
            out.append((st.st_mtime, st.st_size, path))
        out.sort()
        return out

    def size(self) -> int:
        return sum(s for _, s, _ in self.entries())

    def evict(self) -> None:
        """Delete least recently used entries until the cache fits ``max_bytes``."""
        entries = self.entries()
        total = sum(s for _, s, _ in entries)
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            try:
                os.unlink(path)
            except OSError:
                pass
            total -= size

    def clear(self) -> None:
        for _, _, path in self.entries():
            try:
                os.unlink(path)
            except OSError:
                pass


_active: dict[tuple, DiskCache] = {}


def active_cache() -> DiskCache | None:
    """The cache the environment asks for, or None when it is turned off."""
    env = os.environ
    if env.get("XFRONT_CACHE", "1").strip().lower() in ("0", "false", "off", "no"):
        return None
    cfg = (env.get("XFRONT_CACHE_DIR") or default_dir(),
           env.get("XFRONT_CACHE_MAX_BYTES", ""), env.get("XFRONT_CACHE_MIN_COMPILE_MS", ""))
    cache = _active.get(cfg)
    if cache is None:
        try:
            max_bytes = int(cfg[1]) if cfg[1] else DEFAULT_MAX_BYTES
            min_ms = float(cfg[2]) if cfg[2] else 0.0
        except ValueError:
            return None  # a malformed setting: run uncached rather than fail every compile
        cache = _active[cfg] = DiskCache(cfg[0], max_bytes, min_ms)
    return cache
