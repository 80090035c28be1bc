"""The persistent compile cache (lowering/_diskcache.py and its hook in the runtime adapter).

The test session runs with the cache off (tests/conftest.py); these tests turn it on, each
pointed at its own temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import xfront as xf
from xfront import _eager
from xfront.lowering import _diskcache, runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PROGRAM = textwrap.dedent("""
    import json, sys
    import numpy as np
    import xfront as xf
    from xfront.lowering import runtime

    @xf.compile
    def mlp(x, w1, w2):
        return xf.sum(xf.tanh(xf.tanh(x @ w1) @ w2), axis=-1)

    rng = np.random.default_rng(0)
    x, w1, w2 = (rng.standard_normal(s).astype(np.float32) for s in ((4, 8), (8, 16), (16, 2)))
    y = mlp(x, w1, w2)
    print(json.dumps({"y": y.tolist(), "stats": runtime.CACHE_STATS,
                      "info": mlp.cache_info()._asdict()}))
""")


def _run(cache_dir, *, background=False, cache="1"):
    env = dict(os.environ, XFRONT_CACHE=cache, XFRONT_CACHE_DIR=str(cache_dir),
               TF_CPP_MIN_LOG_LEVEL="3")
    args = [sys.executable, "-c", _PROGRAM]
    if background:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT, env=env)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_skips_xla_compilation(tmp_path):
    cache_dir = tmp_path / "cache"
    # two processes fill one empty cache at the same time
    procs = [_run(cache_dir, background=True) for _ in range(2)]
    firsts = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        firsts.append(json.loads(out.strip().splitlines()[-1]))
    # one of them compiled; the other compiled too, or already found (complete) entries
    assert sum(r["stats"]["xla_compiles"] for r in firsts) >= 1
    for r in firsts:
        assert r["stats"]["xla_compiles"] + r["stats"]["disk_hits"] >= 1
    entries = [n for n in os.listdir(cache_dir) if n.endswith(".xfx")]
    assert entries and not [n for n in os.listdir(cache_dir) if n.startswith(".tmp-")]
    assert oct(os.stat(cache_dir).st_mode & 0o777) == "0o700"
    third = _run(cache_dir)
    assert third["stats"]["xla_compiles"] == 0, third  # every program came from disk
    assert third["stats"]["disk_hits"] >= 1
    assert third["info"]["disk_hits"] == 1 and third["info"]["misses"] == 1
    np.testing.assert_array_equal(np.array(third["y"]), np.array(firsts[0]["y"]))
    # XFRONT_CACHE=0: nothing read, nothing written
    off = _run(tmp_path / "unused", cache="0")
    assert off["stats"]["disk_hits"] == 0 and off["stats"]["disk_writes"] == 0
    assert not (tmp_path / "unused").exists()


@pytest.fixture
def cache_on(tmp_path, monkeypatch):
    monkeypatch.setenv("XFRONT_CACHE", "1")
    monkeypatch.setenv("XFRONT_CACHE_DIR", str(tmp_path / "c"))
    _eager.clear_executable_cache()  # in-memory executables would hide the disk
    yield tmp_path / "c"
    _eager.clear_executable_cache()


def _fresh_call(x):
    f = xf.compile(lambda x: xf.cumulative_sum(xf.sin(x) * 3.0 + 1.5, axis=0))
    return f, f(x)


def test_corrupt_and_refused_entries_are_recompiled(cache_on):
    x = np.linspace(0, 1, 7, dtype=np.float32)
    want = np.cumsum(np.sin(x) * 3.0 + 1.5, axis=0)
    f, y = _fresh_call(x)
    np.testing.assert_allclose(y, want, rtol=1e-6)
    paths = [os.path.join(cache_on, n) for n in os.listdir(cache_on) if n.endswith(".xfx")]
    assert paths
    _eager.clear_executable_cache()
    f, y = _fresh_call(x)
    assert f.cache_info().disk_hits == 1
    # flipped bytes: the checksum fails, the entry is deleted and the program compiled again
    for p in paths:
        data = bytearray(open(p, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(p, "wb").write(bytes(data))
    _eager.clear_executable_cache()
    before = dict(runtime.CACHE_STATS)
    f, y = _fresh_call(x)
    np.testing.assert_allclose(y, want, rtol=1e-6)
    assert f.cache_info().disk_hits == 0
    assert runtime.CACHE_STATS["xla_compiles"] > before["xla_compiles"]
    # a well-formed entry whose payload PJRT refuses: deleted and recompiled, never trusted
    cache = _diskcache.active_cache()
    for p in paths:
        cache.put(os.path.basename(p)[:-4], b"not an executable")
    _eager.clear_executable_cache()
    f, y = _fresh_call(x)
    np.testing.assert_allclose(y, want, rtol=1e-6)
    assert f.cache_info().disk_hits == 0
    for p in paths:  # rewritten with the real executable
        assert os.path.getsize(p) > 1000


def test_lru_eviction_and_atomic_writes(tmp_path):
    cache = _diskcache.DiskCache(str(tmp_path), max_bytes=3 * 1100)
    for i, k in enumerate("abc"):
        cache.put(k, bytes([i]) * 1000)
        os.utime(os.path.join(tmp_path, k + ".xfx"), (1000 + i, 1000 + i))
    assert cache.get("a") == b"\0" * 1000  # a is now the most recently used
    cache.put("d", b"\3" * 1000)  # over the limit: b, the least recently used, goes
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.get("d") is not None and cache.size() <= 3 * 1100
    assert cache.get("missing") is None
    # entries are for their key only
    os.replace(os.path.join(tmp_path, "a.xfx"), os.path.join(tmp_path, "z.xfx"))
    assert cache.get("z") is None and not os.path.exists(os.path.join(tmp_path, "z.xfx"))
    # concurrent writers of one key and readers: a reader sees nothing or a whole entry
    big = [bytes([i]) * 200_000 for i in range(4)]
    seen = []

    def write(i):
        for _ in range(10):
            cache.put("k", big[i])

    def read():
        for _ in range(40):
            v = cache.get("k")
            if v is not None:
                seen.append(v)

    cache.max_bytes = 1 << 30
    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(v in big for v in seen)
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("XFRONT_CACHE", "off")
    assert _diskcache.active_cache() is None
    monkeypatch.setenv("XFRONT_CACHE", "1")
    monkeypatch.setenv("XFRONT_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("XFRONT_CACHE_MAX_BYTES", "12345")
    c = _diskcache.active_cache()
    assert c.directory == str(tmp_path) and c.max_bytes == 12345
    monkeypatch.delenv("XFRONT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _diskcache.active_cache().directory == str(tmp_path / "xdg" / "xfront" /
                                                      "executables")


_POLY = textwrap.dedent("""
    import json, sys
    import numpy as np
    import xfront as xf
    from xfront.lowering import runtime

    f = xf.deserialize(open(sys.argv[1], "rb").read())
    ys = [f(np.arange(n * 3, dtype=np.float32).reshape(n, 3)).tolist() for n in (2, 5)]
    print(json.dumps({"ys": ys, "stats": runtime.CACHE_STATS,
                      "info": f.cache_info()._asdict()}))
""")


def test_symbolic_artifact_sizes_come_from_disk_in_a_new_process(tmp_path):
    """A deserialized artifact with a symbolic batch is refined per size; each refined
    program is cached on disk like any other, so a restarted process compiles nothing."""
    path = tmp_path / "poly.xfexport"
    path.write_bytes(xf.export(lambda x: xf.tanh(x) * 2, xf.Spec(("b", 3), xf.float32))
                     .serialize())
    env = dict(os.environ, XFRONT_CACHE="1", XFRONT_CACHE_DIR=str(tmp_path / "cache"),
               TF_CPP_MIN_LOG_LEVEL="3")
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", _POLY, str(path)], capture_output=True,
                              text=True, timeout=300, cwd=ROOT, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    cold, warm = runs
    assert cold["info"]["misses"] == 2 and cold["stats"]["xla_compiles"] >= 2
    assert warm["stats"]["xla_compiles"] == 0 and warm["info"]["disk_hits"] == 2, warm
    for n, y, z in zip((2, 5), cold["ys"], warm["ys"]):
        want = np.tanh(np.arange(n * 3, dtype=np.float32).reshape(n, 3)) * 2
        np.testing.assert_allclose(np.array(y), want, rtol=1e-6)
        np.testing.assert_array_equal(np.array(z), np.array(y))
