"""xf.export, Exported.serialize / xf.deserialize, xf.import_stablehlo and xf.export_tf.

A small table of functions (pytrees in and out, closed-over constants, Python scalars, integer,
0-d and zero-size arrays) is exported, serialized, loaded and called from each framework; the
results must equal the original function's. Artifacts are fuzzed (truncation, byte flips,
header edits, module bytes with a valid checksum in a child process). Imported jax.export
modules, their VJPs, and a SavedModel reloaded by a process that never imports xfront close it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import textwrap
from collections import namedtuple

import numpy as np
import pytest

import xfront as xf

RNG = np.random.default_rng(0)
W = RNG.standard_normal((3, 4)).astype(np.float32)
Pair = namedtuple("Pair", ["lo", "hi"])


def _mlp(x, params):
    h = xf.tanh(x @ W + params["b"])
    return {"y": h * params["scale"], "norm": xf.sum(h * h)}


def _int_ops(a, k):
    return Pair(a // 2 - k, xf.max(a, axis=0))


def _weak(x, s):
    return x * s + 1


def _zero_size(x, y):
    return xf.concat([x, y], axis=0), xf.sum(x)


# (name, fn, specs, example arguments); ``specs`` mixes xf.Spec with example arrays
CASES = [
    ("mlp", _mlp,
     (xf.Spec((2, 3), xf.float32), {"b": xf.Spec((4,), "float32"), "scale": np.float32(2.0)}),
     lambda: (RNG.standard_normal((2, 3)).astype(np.float32),
              {"b": RNG.standard_normal(4).astype(np.float32), "scale": np.float32(2.0)})),
    ("int_ops", _int_ops, (xf.Spec((3, 2), xf.int32), xf.Spec((), xf.int32)),
     lambda: (RNG.integers(-9, 9, (3, 2)).astype(np.int32), np.int32(3))),
    ("weak_scalar", _weak, (xf.Spec((2, 2), xf.float16), 0.5),
     lambda: (RNG.standard_normal((2, 2)).astype(np.float16), 2.0)),
    ("zero_size", _zero_size, (xf.Spec((0, 3), xf.float64), xf.Spec((2, 3), xf.float64)),
     lambda: (np.zeros((0, 3)), RNG.standard_normal((2, 3)))),
]


def _eager(fn, args):
    conv = lambda a: a if isinstance(a, (int, float)) else xf.asarray(a)  # noqa: E731
    return xf.tree_map(np.asarray, fn(*xf.tree_map(conv, args)))


def _assert_same(got, want):
    gl, gt = xf.tree_flatten(xf.tree_map(np.asarray, got))
    wl, wt = xf.tree_flatten(want)
    assert repr(gt) == repr(wt), (gt, wt)  # a loaded namedtuple is rebuilt by name and fields
    for g, w in zip(gl, wl):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, g.dtype, w.shape, w.dtype)
        tol = 1e-3 if g.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def artifacts():
    out = {}
    for name, fn, specs, make in CASES:
        exp = xf.export(fn, *specs, vjp=(name == "mlp"))
        out[name] = (exp, exp.serialize())
    return out


@pytest.mark.parametrize("name,fn,specs,make", CASES, ids=[c[0] for c in CASES])
def test_round_trip_matches_the_function(artifacts, name, fn, specs, make):
    exp, blob = artifacts[name]
    args = make()
    want = _eager(fn, args)
    _assert_same(exp(*args), want)  # in this process
    loaded = xf.deserialize(blob)  # without the Python source: only the bytes
    assert loaded.graph is None and loaded.in_avals == exp.in_avals
    assert loaded.in_tree == exp.in_tree and repr(loaded.out_tree) == repr(exp.out_tree)
    _assert_same(loaded(*args), want)
    # and as a compiled function would: inlined into another program
    _assert_same(xf.compile(lambda *a: loaded(*a))(*args), want)


def test_calling_convention_and_versions(artifacts):
    exp, blob = artifacts["weak_scalar"]
    loaded = xf.deserialize(blob)
    assert [a.short for a in loaded.in_avals] == ["f16[2,2]", "f64~[]"]
    assert [a.short for a in loaded.out_avals] == ["f16[2,2]"]
    assert loaded.platforms == ("cpu",) and loaded.xfront_version == xf.__version__
    assert loaded.stablehlo_version.count(".") == 2 and not loaded.has_vjp
    assert "func.func" in loaded.mlir_module()
    # the documented layout: magic, version, header length, JSON header, sections, sha256
    assert blob[:8] == b"XFEXPORT"
    version, hlen = struct.unpack("<II", blob[8:16])
    header = json.loads(blob[16:16 + hlen])
    assert version == 1 and header["in_avals"][1] == {"shape": [], "dtype": "float64",
                                                       "weak": True}
    start, length = header["sections"]["module"]
    assert blob[16 + hlen + start:16 + hlen + start + 4] == b"ML\xefR"
    assert blob[-32:] == hashlib.sha256(blob[:-32]).digest()


def test_called_from_every_framework(artifacts):
    exp, blob = artifacts["mlp"]
    loaded = xf.deserialize(blob)
    x, p = CASES[0][3]()
    want = _eager(_mlp, (x, p))
    out = loaded(xf.asarray(x), xf.tree_map(xf.asarray, p))
    assert isinstance(out["y"], xf.Array)
    _assert_same(out, want)
    torch = pytest.importorskip("torch")
    out = loaded(torch.from_numpy(x), {k: torch.from_numpy(np.asarray(v)) for k, v in p.items()})
    assert isinstance(out["y"], torch.Tensor)
    _assert_same(xf.tree_map(lambda t: t.numpy(), out), want)
    tf = pytest.importorskip("tensorflow")
    out = loaded(tf.constant(x), {k: tf.constant(v) for k, v in p.items()})
    assert isinstance(out["y"], tf.Tensor)
    _assert_same(xf.tree_map(lambda t: t.numpy(), out), want)
    jnp = pytest.importorskip("jax.numpy")
    out = loaded(jnp.asarray(x), {k: jnp.asarray(v) for k, v in p.items()})
    _assert_same(out, want)


def test_vjp_matches_the_original_gradient(artifacts):
    exp, blob = artifacts["mlp"]
    loaded = xf.deserialize(blob)
    assert loaded.has_vjp
    x, p = CASES[0][3]()
    b, s = p["b"], p["scale"]

    def loss_of(f):
        return lambda x, b: xf.sum(f(x, {"b": b, "scale": s})["y"]) + f(
            x, {"b": b, "scale": s})["norm"]

    want = xf.grad(loss_of(_mlp), argnums=(0, 1))(x, b)
    got = xf.grad(loss_of(loaded), argnums=(0, 1))(x, b)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
    # finite differences on the loaded artifact itself (float64 view of a float32 program)
    loss = xf.compile(loss_of(loaded))
    v = RNG.standard_normal(x.shape).astype(np.float32)
    eps = 1e-2
    fd = (float(loss(x + eps * v, b)) - float(loss(x - eps * v, b))) / (2 * eps)
    assert abs(float(np.sum(np.asarray(got[0]) * v)) - fd) < 2e-2 * (1 + abs(fd))
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    out = loaded(tx, {"b": torch.tensor(b), "scale": torch.tensor(s)})
    (out["y"].sum() + out["norm"]).backward()
    np.testing.assert_allclose(tx.grad.numpy(), np.asarray(want[0]), rtol=1e-5, atol=1e-6)


def test_gradient_without_vjp_module_names_the_fix(artifacts):
    loaded = xf.deserialize(artifacts["weak_scalar"][1])
    x = np.ones((2, 2), np.float16)
    with pytest.raises(xf.DifferentiationError, match=r"(?s)call_module.*vjp=True"):
        xf.grad(lambda x: xf.sum(loaded(x, 2.0)))(x)


def test_bad_calls_and_bad_exports(artifacts):
    loaded = xf.deserialize(artifacts["mlp"][1])
    x, p = CASES[0][3]()
    with pytest.raises(xf.ArgumentError, match=r"called with \(f32\[3,3\].*takes \(f32\[2,3\]"):
        loaded(np.ones((3, 3), np.float32), p)
    with pytest.raises(xf.ArgumentError, match=r"called with \(f64\[2,3\].*takes \(f32\[2,3\]"):
        loaded(x.astype(np.float64), p)
    with pytest.raises(xf.ArgumentError, match="structured as"):
        loaded(x, p["b"])
    with pytest.raises(xf.ShapeError, match=r"symbols b of \(f32\[2\*b,3\]\).*alone"):
        xf.export(lambda x: x, xf.Spec(("2*b", 3)))  # no axis tells b's size
    with pytest.raises(xf.ShapeError, match="non-negative"):
        xf.Spec((-1, 3))

    class Box:
        def __init__(self, v):
            self.v = v

    xf.register_pytree_node(Box, lambda b: ((b.v,), None), lambda aux, c: Box(c[0]))
    with pytest.raises(xf.ArgumentError, match="Box node"):
        xf.export(lambda b: b.v * 2, Box(xf.Spec((2,), xf.float32)))
    foreign = xf.export(lambda x: x + 1, xf.Spec((2,), xf.float32), platform="cuda")
    assert xf.deserialize(foreign.serialize()).platforms == ("cuda",)
    with pytest.raises(xf.DeviceError, match="lowered for cuda"):
        foreign(np.ones(2, np.float32))


# --- fuzzing ----------------------------------------------------------------------------------

def _reseal(body: bytes) -> bytes:
    return body + hashlib.sha256(body).digest()


def _split(blob: bytes):
    hlen = struct.unpack("<I", blob[12:16])[0]
    return blob[:16], json.loads(blob[16:16 + hlen]), blob[16 + hlen:-32]


def _with_header(blob: bytes, header, deep: int = 0) -> bytes:
    _, _, payload = _split(blob)
    hb = json.dumps(header).encode()
    if deep:  # an in_tree nested ``deep`` levels (too deep for json.dumps to write)
        hb = hb.replace(b'"@deep"', b'{"tuple":[' * deep + b'"*"' + b"]}" * deep)
    return _reseal(b"XFEXPORT" + struct.pack("<II", 1, len(hb)) + hb + payload)


def test_fuzz_truncated_and_flipped_bytes(artifacts):
    blob = artifacts["mlp"][1]
    rnd = random.Random(1)
    cuts = sorted(set([0, 1, 7, 8, 15, 16, len(blob) - 33, len(blob) - 1]
                      + [rnd.randrange(len(blob)) for _ in range(40)]))
    for n in cuts:
        with pytest.raises(xf.ArtifactError, match="xfront.deserialize"):
            xf.deserialize(blob[:n])
    for _ in range(150):
        b = bytearray(blob)
        for _ in range(rnd.choice((1, 1, 2, 8))):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        if bytes(b) == blob:
            continue
        with pytest.raises(xf.ArtifactError):
            xf.deserialize(bytes(b))
    with pytest.raises(xf.ArgumentError, match="expected bytes"):
        xf.deserialize("XFEXPORT")


def test_fuzz_header_fields_with_valid_checksum(artifacts):
    blob = artifacts["mlp"][1]
    _, header, _ = _split(blob)
    rnd = random.Random(2)
    junk = [None, -1, 2 ** 70, 1.5, "", "x" * 300, [], {}, [[]], {"tuple": 3}, True, "*",
            [-5, 3], ["n", 3], {"a": 1}]
    bad = []
    for key in header:
        for v in rnd.sample(junk, 5):
            h = dict(header)
            h[key] = v
            bad.append(h)
    h = dict(header); h["in_avals"] = [dict(a, dtype="float128") for a in h["in_avals"]]
    bad.append(h)
    h = dict(header); h["in_avals"] = [dict(a, shape=["batch", 3]) for a in h["in_avals"]]
    bad.append(h)
    h = dict(header); h["sections"] = {"module": [0, 10 ** 9]}
    bad.append(h)
    h = dict(header); h["extra"] = 1
    bad.append(h)
    h = dict(header); h["out_tree"] = {"namedtuple": "os.system", "fields": ["a"],
                                       "children": ["*"]}
    bad.append(h)
    h = dict(header); h["stablehlo_version"] = "99.0.0"
    bad.append(h)
    for h in bad:
        if h == header:
            continue
        with pytest.raises(xf.ArtifactError, match="xfront.deserialize"):
            xf.deserialize(_with_header(blob, h))
    for depth in (70, 5000):
        with pytest.raises(xf.ArtifactError, match="xfront.deserialize"):
            xf.deserialize(_with_header(blob, dict(header, in_tree="@deep"), deep=depth))
    # an artifact of a future format version
    future = _reseal(blob[:8] + struct.pack("<I", 3) + blob[12:-32])
    with pytest.raises(xf.ArtifactError, match="format version 3"):
        xf.deserialize(future)
    with pytest.raises(xf.ArtifactError, match="newer than this jaxlib"):
        xf.deserialize(_with_header(blob, dict(header, stablehlo_version="99.0.0")))


_CHILD = textwrap.dedent("""
    import sys
    import xfront as xf
    data = open(sys.argv[1], "rb").read()
    start = int(sys.argv[2])
    n = int.from_bytes(data[:4], "little")
    pos = 4
    for i in range(n):
        size = int.from_bytes(data[pos:pos + 4], "little")
        blob = data[pos + 4:pos + 4 + size]
        pos += 4 + size
        if i < start:
            continue
        print(i, "start", flush=True)
        try:
            xf.deserialize(blob)
            print(i, "ok", flush=True)
        except xf.ArtifactError:
            print(i, "ArtifactError", flush=True)
        except BaseException as e:
            print(i, "OTHER", type(e).__name__, str(e)[:200].replace(chr(10), " "), flush=True)
""")


def test_fuzz_module_bytes_in_a_child_process(artifacts, tmp_path):
    """Corrupted StableHLO bytecode behind a valid (recomputed) checksum, i.e. a forged
    artifact: it reaches StableHLO's bytecode reader (C++), so it is parsed in a child process.
    Every artifact must load or raise ArtifactError; the reader itself can crash on some forged
    bytecode, sometimes only after earlier bad inputs in the same process (the child is
    restarted after the crashing one), which ``deserialize(..., isolate=True)`` guards against.
    """
    blob = artifacts["mlp"][1]
    head, header, payload = _split(blob)
    start, length = header["sections"]["module"]
    rnd = random.Random(3)
    mutated = []
    for i in range(80):
        p = bytearray(payload)
        if i % 3 == 0:  # truncate the module inside its section
            cut = rnd.randrange(24, length)
            p = p[:start + cut] + bytes(length - cut)
        else:  # bytes after the magic and producer string
            for _ in range(rnd.choice((1, 3, 16))):
                p[start + rnd.randrange(24, length)] = rnd.randrange(256)
        mutated.append(_reseal(blob[:len(blob) - 32 - len(payload)] + bytes(p)))
    path = tmp_path / "mutated.bin"
    with open(path, "wb") as f:
        f.write(len(mutated).to_bytes(4, "little"))
        for m in mutated:
            f.write(len(m).to_bytes(4, "little") + m)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results: dict[int, str] = {}
    crashed: list[int] = []
    nxt = 0
    while nxt < len(mutated):
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(nxt)],
                              capture_output=True, text=True, errors="replace", timeout=300,
                              cwd=root, env=env)
        last = nxt
        for ln in proc.stdout.split("\n"):
            parts = ln.split(" ", 2)
            if len(parts) >= 2 and parts[0].isdigit():
                last = int(parts[0])
                if parts[1] != "start":
                    results[last] = parts[1]
        if proc.returncode == 0:
            break
        assert proc.returncode < 0, proc.stderr[-2000:]  # killed by a signal inside C++
        crashed.append(last)
        nxt = last + 1
    for i in range(len(mutated)):
        assert i in results or i in crashed, (i, results, crashed)
    assert all(r in ("ok", "ArtifactError") for r in results.values()), results
    assert list(results.values()).count("ArtifactError") > 0
    if crashed:  # the mitigation for untrusted artifacts: parsed in a fresh child first
        with pytest.raises(xf.ArtifactError, match="xfront.deserialize"):
            xf.deserialize(mutated[crashed[0]], isolate=True)
    # a sound artifact passes the isolated check
    assert xf.deserialize(blob, isolate=True).in_avals == artifacts["mlp"][0].in_avals


# --- foreign StableHLO -----------------------------------------------------------------------

def test_import_jax_export_with_vjp():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    from jax import export as jexport

    def f(x, unused, y):
        return jnp.sin(x) * y, jnp.sum(x * x)

    specs = (jax.ShapeDtypeStruct((3,), jnp.float32), jax.ShapeDtypeStruct((2,), jnp.int32),
             jax.ShapeDtypeStruct((3,), jnp.float32))
    je = jexport.export(jax.jit(f))(*specs)
    m = xf.import_stablehlo(je.serialize(vjp_order=1), name="jaxf")
    assert m.has_vjp and [a.short for a in m.in_avals] == ["f32[3]", "i32[2]", "f32[3]"]
    x = np.array([0.5, 1.0, -2.0], np.float32)
    y = np.array([2.0, -1.0, 0.25], np.float32)
    k = np.array([1, 2], np.int32)
    a, s = m(x, k, y)
    np.testing.assert_allclose(a, np.sin(x) * y, rtol=1e-6)
    np.testing.assert_allclose(s, np.sum(x * x), rtol=1e-6)
    # inside xf.compile (inlined) and differentiated with the shipped VJP
    loss = xf.compile(lambda x, y: xf.sum(m(x, k, y)[0]) + m(x, k, y)[1])
    np.testing.assert_allclose(loss(x, y), np.sum(np.sin(x) * y) + np.sum(x * x), rtol=1e-6)
    gx, gy = xf.grad(loss, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, np.cos(x) * y + 2 * x, rtol=1e-5)
    np.testing.assert_allclose(gy, np.sin(x), rtol=1e-5)
    # the serialized xfront artifact of an import keeps the jax calling convention
    again = xf.deserialize(m.serialize())
    np.testing.assert_allclose(again(x, k, y)[0], np.sin(x) * y, rtol=1e-6)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    ta, ts = m(tx, torch.tensor(k), torch.tensor(y))
    (ta.sum() + ts).backward()
    np.testing.assert_allclose(tx.grad.numpy(), np.cos(x) * y + 2 * x, rtol=1e-5)


def test_import_stablehlo_text_and_errors():
    text = textwrap.dedent("""
        func.func public @main(%a: tensor<2x3xf32>, %b: tensor<3xf32>) -> tensor<2x3xf32> {
          %0 = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<3xf32>) -> tensor<2x3xf32>
          %1 = call @helper(%a, %0) : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
          return %1 : tensor<2x3xf32>
        }
        func.func private @helper(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> tensor<2x3xf32> {
          %0 = stablehlo.multiply %a, %b : tensor<2x3xf32>
          return %0 : tensor<2x3xf32>
        }
    """)
    m = xf.import_stablehlo(text, name="scale_rows")
    a = RNG.standard_normal((2, 3)).astype(np.float32)
    b = RNG.standard_normal(3).astype(np.float32)
    np.testing.assert_allclose(m(a, b), a * b, rtol=1e-6)
    # two imports of the same module inside one program share one copy of its functions
    both = xf.compile(lambda a, b: m(a, b) + m(a, b) + xf.import_stablehlo(text)(a, b))
    np.testing.assert_allclose(both(a, b), 3 * a * b, rtol=1e-6)
    text_out = both.lower(a, b).as_text(pretty=False)
    assert len(re.findall(r"func.func private @xf\w+_helper\(", text_out)) == 1
    # plain MLIR bytecode (another producer's serialization) imports too
    jax = pytest.importorskip("jax")
    from jax._src.interpreters import mlir as jmlir
    from jaxlib.mlir import ir

    buf = io.BytesIO()
    with jmlir.make_ir_context():
        ir.Module.parse(text).operation.write_bytecode(buf)
    from_bc = xf.import_stablehlo(buf.getvalue())
    np.testing.assert_allclose(from_bc(a, b), a * b, rtol=1e-6)
    # stored as a portable artifact: the round trip never needs MLIR's generic parser
    np.testing.assert_allclose(xf.deserialize(from_bc.serialize())(a, b), a * b, rtol=1e-6)
    with pytest.raises(xf.ArtifactError, match="import_stablehlo.*does not parse"):
        xf.import_stablehlo("func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> { nonsense }")
    with pytest.raises(xf.ArtifactError, match="no @main"):
        xf.import_stablehlo(text.replace("@main", "@entry"))
    with pytest.raises(xf.ArtifactError, match="dynamic"):
        xf.import_stablehlo("func.func public @main(%a: tensor<?xf32>) -> tensor<?xf32> {\n"
                            "  return %a : tensor<?xf32>\n}")
    with pytest.raises(xf.ArtifactError, match="jax.export"):
        xf.import_stablehlo(b"\x00\x01garbage bytes")


# --- TensorFlow SavedModel ---------------------------------------------------------------------

_RELOAD = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    m = tf.saved_model.load(sys.argv[1])
    x = tf.Variable(np.array(json.loads(sys.argv[2]), np.float32))
    with tf.GradientTape() as tape:
        out = m(x, tf.constant(np.int32(2)))
        loss = tf.reduce_sum(out[0])
    print(json.dumps({"y": out[0].numpy().tolist(), "n": out[1].numpy().tolist(),
                      "g": tape.gradient(loss, x).numpy().tolist(),
                      "xfront": "xfront" in sys.modules}))
""")


def test_saved_model_reloads_without_xfront(tmp_path):
    tf = pytest.importorskip("tensorflow")

    def f(x, n):
        return xf.tanh(x @ W) * 3, n * 2

    exp = xf.deserialize(xf.export(f, xf.Spec((2, 3), xf.float32), xf.Spec((), xf.int32),
                                   vjp=True).serialize())
    module = xf.export_tf(exp)
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    want = np.tanh(x @ W) * 3
    y, n = module(tf.constant(x), tf.constant(np.int32(2)))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-5)
    assert int(n) == 4
    # the loaded artifact itself inside a tf.function, differentiated by a tape there
    @tf.function(input_signature=[tf.TensorSpec((2, 3), tf.float32)])
    def staged(t):
        with tf.GradientTape() as tape:
            tape.watch(t)
            loss = tf.reduce_sum(exp(t, np.int32(1))[0])
        return loss, tape.gradient(loss, t)

    loss, grad = staged(tf.constant(x))
    np.testing.assert_allclose(float(loss), want.sum(), rtol=1e-5)
    np.testing.assert_allclose(grad.numpy(), (3 * (1 - np.tanh(x @ W) ** 2)) @ W.T, rtol=1e-4,
                               atol=1e-5)
    tf.saved_model.save(module, str(tmp_path / "sm"))
    script = tmp_path / "reload.py"
    script.write_text(_RELOAD)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "sm"),
                           json.dumps(x.tolist())], capture_output=True, text=True,
                          timeout=300, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["xfront"] is False
    np.testing.assert_allclose(np.array(got["y"]), want, rtol=1e-5)
    assert got["n"] == 4
    grad_want = (3 * (1 - np.tanh(x @ W) ** 2)) @ W.T
    np.testing.assert_allclose(np.array(got["g"]), grad_want, rtol=1e-4, atol=1e-5)
    with pytest.raises(xf.ArgumentError, match="expected an xf.Exported"):
        xf.export_tf(f)


# --- symbolic dimensions ------------------------------------------------------------------------

def _poly_fn(x, y):
    h = xf.tanh(x @ W) + y[:, None]  # (b, 4)
    flat = xf.reshape(h, (-1,))  # (4*b,); the result "flat" is (8*b,)
    return {"h": h, "flat": xf.concat([flat, flat * 2], axis=0), "s": xf.sum(h, axis=1)}


def _poly_want(x, y):
    h = np.tanh(x @ W) + y[:, None]
    flat = h.reshape(-1)
    return {"h": h, "flat": np.concatenate([flat, flat * 2]), "s": h.sum(1)}


@pytest.fixture(scope="module")
def poly():
    exp = xf.export(_poly_fn, xf.Spec(("b", 3), xf.float32), xf.Spec("b", xf.float32), vjp=True)
    return exp, exp.serialize()


def test_symbolic_export_header_and_sizes(poly):
    exp, blob = poly
    assert exp.symbols == ("b",) and exp.polymorphic
    version, hlen = struct.unpack("<II", blob[8:16])
    header = json.loads(blob[16:16 + hlen])
    assert version == 2 and header["symbols"] == ["b"]
    assert [a["shape"] for a in header["in_avals"]] == [["b", 3], ["b"]]
    assert sorted(a["shape"][0] for a in header["out_avals"]) == ["8*b", "b", "b"]
    loaded = xf.deserialize(blob)
    assert [a.short for a in loaded.in_avals] == ["f32[b,3]", "f32[b]"]
    assert "tensor<?x3xf32>" in loaded.mlir_module()  # one module for every size
    vjp = loaded.module_ref().vjp  # the VJP module is polymorphic too
    assert [a.short for a in vjp.in_avals][:2] == ["f32[b,3]", "f32[b]"]
    assert "tensor<?x3xf32>" in vjp.text and "vjp" in header["sections"]
    for n in (1, 4, 7, 4):
        x = RNG.standard_normal((n, 3)).astype(np.float32)
        y = RNG.standard_normal(n).astype(np.float32)
        _assert_same(loaded(x, y), _poly_want(x, y))
    info = loaded.cache_info()
    assert (info.misses, info.compiles) == (3, 3)  # refined and compiled once per size
    # inlined into a static program, and pasted as is into a polymorphic one (same symbol)
    x, y = RNG.standard_normal((5, 3)).astype(np.float32), np.ones(5, np.float32)
    _assert_same(xf.compile(lambda a, b: loaded(a, b))(x, y), _poly_want(x, y))
    for sym in ("b", "n"):  # the caller's symbols, whatever their names
        pf = xf.compile(lambda a, b: loaded(a, b)["s"] * 2, polymorphic=(f"{sym}, _", sym))
        for n in (2, 6):
            np.testing.assert_allclose(np.asarray(pf(x[:n], y[:n])),
                                       2 * _poly_want(x[:n], y[:n])["s"], rtol=1e-6)
        assert pf.cache_info().misses == 2
        lowered = pf.lower(xf.Spec((sym, 3), xf.float32), xf.Spec(sym, xf.float32))
        assert "tensor<?x3xf32>" in lowered.as_text()


def test_symbolic_gradient_from_xfront_and_torch(poly):
    loaded = xf.deserialize(poly[1])
    for n in (2, 5):
        x = RNG.standard_normal((n, 3)).astype(np.float32)
        y = RNG.standard_normal(n).astype(np.float32)
        gx, gy = xf.grad(lambda a, b: xf.sum(loaded(a, b)["s"]), argnums=(0, 1))(x, y)
        d = 1 - np.tanh(x @ W) ** 2
        np.testing.assert_allclose(np.asarray(gx), d @ W.T,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(gy), np.full(n, 4.0), rtol=1e-6)
    torch = pytest.importorskip("torch")
    t = torch.tensor(RNG.standard_normal((3, 3)).astype(np.float32), requires_grad=True)
    loaded(t, torch.zeros(3))["h"].sum().backward()
    d = 1 - np.tanh(t.detach().numpy() @ W) ** 2
    np.testing.assert_allclose(t.grad.numpy(), d @ W.T, rtol=1e-5, atol=1e-6)


def test_symbolic_calls_that_break_the_constraints(poly):
    loaded = xf.deserialize(poly[1])
    x = np.ones((3, 3), np.float32)
    with pytest.raises(xf.ArgumentError, match=r"argument 1 has size 4 on axis 0.*`b` is 3 with "
                                               r"b = 3 \(argument 0, axis 0\)"):
        loaded(x, np.ones(4, np.float32))
    with pytest.raises(xf.ArgumentError, match=r"size 2 on axis 1, but that axis is 3"):
        loaded(np.ones((3, 2), np.float32), np.ones(3, np.float32))
    with pytest.raises(xf.ArgumentError, match=r"symbol `b` .* must be >= 1, got 0"):
        loaded(np.ones((0, 3), np.float32), np.ones(0, np.float32))
    with pytest.raises(xf.ArgumentError, match=r"called with \(f64\[3,3\]"):
        loaded(x.astype(np.float64), np.ones(3, np.float32))
    # slice's VJP pads back to b rows: with no symbolic form of that, the export names the VJP
    # (once there is one, the exported gradient must be right)
    try:
        sl = xf.export(lambda a: a[1:] * 2, xf.Spec(("b", 3)), vjp=True)
    except xf.ShapeError as e:
        assert re.search(r"export: the VJP of `<lambda>` has no symbolic form for "
                         r"\(f32\[b,3\]\)", str(e)), str(e)
    else:
        g = xf.grad(lambda a: xf.sum(sl(a)))(np.ones((4, 3), np.float32))
        np.testing.assert_array_equal(np.asarray(g), np.r_[np.zeros((1, 3)), np.full((3, 3), 2)])
    two = xf.deserialize(xf.export(lambda a, b: xf.concat([a, a]) + b, xf.Spec("n"),
                                   xf.Spec("2*n")).serialize())
    np.testing.assert_allclose(np.asarray(two(np.ones(2, np.float32), np.arange(4.0,
                                                                              dtype=np.float32))),
                               np.arange(4.0) + 1)
    with pytest.raises(xf.ArgumentError, match=r"`2\*n` is 6 with n = 3"):
        two(np.ones(3, np.float32), np.ones(5, np.float32))


def test_symbolic_header_fuzz(poly):
    blob = poly[1]
    _, header, payload = _split(blob)

    def seal(h, version=2):
        hb = json.dumps(h).encode()
        return _reseal(b"XFEXPORT" + struct.pack("<II", version, len(hb)) + hb + payload)

    assert xf.deserialize(seal(header)).symbols == ("b",)
    bad = [dict(header, symbols=[]), dict(header, symbols=["b", "c"]), dict(header, symbols=3)]
    for shape in (["b +", 3], ["c" * 300, 3], ["floordiv(b, 0)", 3], ["-b", 3],
                  ["b", "c"], ["b", 3, 1]):
        bad.append(dict(header, in_avals=[dict(header["in_avals"][0], shape=shape),
                                          header["in_avals"][1]]))
    bad.append(dict(header, out_avals=[dict(a, shape=["z"]) for a in header["out_avals"]]))
    bad.append({k: v for k, v in header.items() if k != "symbols"})
    for h in bad:
        with pytest.raises(xf.ArtifactError, match="xfront.deserialize"):
            xf.deserialize(seal(h))
    rnd = random.Random(4)
    for _ in range(40):  # accidental corruption is caught by the checksum
        b = bytearray(blob)
        b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        with pytest.raises(xf.ArtifactError, match="checksum"):
            xf.deserialize(bytes(b))
    with pytest.raises(xf.ArtifactError, match="format-version-1"):
        xf.deserialize(seal({k: v for k, v in header.items() if k != "symbols"}, version=1))


_RELOAD_POLY = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    m = tf.saved_model.load(sys.argv[1])
    out = []
    for n in (1, 3, 6):
        x = tf.Variable(np.arange(n * 3, dtype=np.float32).reshape(n, 3) / 10)
        y = tf.constant(np.ones(n, np.float32))
        with tf.GradientTape() as tape:
            r = m(x, y)
            loss = tf.reduce_sum(r["s"])
        out.append({"s": r["s"].numpy().tolist(), "flat": r["flat"].numpy().tolist(),
                    "g": tape.gradient(loss, x).numpy().tolist()})
    print(json.dumps({"out": out, "xfront": "xfront" in sys.modules}))
""")


def test_symbolic_saved_model_has_none_dims_and_reloads_without_xfront(poly, tmp_path):
    tf = pytest.importorskip("tensorflow")
    module = xf.export_tf(xf.deserialize(poly[1]))
    spec = module.__call__.get_concrete_function().structured_input_signature[0]
    assert [s.shape.as_list() for s in spec] == [[None, 3], [None]]
    loaded = xf.deserialize(poly[1])

    @tf.function(input_signature=[tf.TensorSpec([None, 3]), tf.TensorSpec([None])])
    def staged(x, y):  # the artifact itself inside a tf.function with None dimensions
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = loaded(x, y)["s"]
            loss = tf.reduce_sum(s)
        return s, tape.gradient(loss, x)

    for n in (2, 4):
        x = RNG.standard_normal((n, 3)).astype(np.float32)
        s, g = staged(tf.constant(x), tf.ones(n))
        np.testing.assert_allclose(s.numpy(), _poly_want(x, np.ones(n, np.float32))["s"],
                                   rtol=1e-5)
        np.testing.assert_allclose(g.numpy(), (1 - np.tanh(x @ W) ** 2) @ W.T, rtol=1e-4,
                                   atol=1e-5)
    tf.saved_model.save(module, str(tmp_path / "sm"))
    script = tmp_path / "reload.py"
    script.write_text(_RELOAD_POLY)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "sm")],
                          capture_output=True, text=True, timeout=300, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["xfront"] is False
    for n, r in zip((1, 3, 6), got["out"]):
        x = np.arange(n * 3, dtype=np.float32).reshape(n, 3) / 10
        want = _poly_want(x, np.ones(n, np.float32))
        np.testing.assert_allclose(np.array(r["s"]), want["s"], rtol=1e-5)
        np.testing.assert_allclose(np.array(r["flat"]), want["flat"], rtol=1e-5)
        np.testing.assert_allclose(np.array(r["g"]), (1 - np.tanh(x @ W) ** 2) @ W.T,
                                   rtol=1e-4, atol=1e-5)
