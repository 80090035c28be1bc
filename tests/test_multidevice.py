"""Beyond one device: shardings, SPMD programs, per-thread devices, multi-process runs.

The number of CPU devices is fixed when the runtime creates its CPU client, so every case runs
in a fresh Python process with ``--xla_force_host_platform_device_count=N`` (2, 4 or 8). All
cases start together (one fixture launches them in parallel) and each has a timeout, so a
hang or a crash fails its test instead of the suite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_S = 240

PRELUDE = """
import numpy as np
import xfront as xf
rng = np.random.default_rng(0)
def close(a, b, tol=1e-5):
    a = np.asarray(a); b = np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
def raises(exc, fn, *words):  # an xfront error of type exc whose message has every word
    try:
        fn()
    except exc as e:
        msg = str(e)
        assert isinstance(e, xf.XfrontError), type(e)
        for w in words:
            assert w in msg, (w, msg)
        return msg
    raise AssertionError(f"no {exc.__name__}")
"""

CASES: dict[str, tuple[int, str]] = {}

# --- per-thread default device (2 devices) ----------------------------------------------------
CASES["threads"] = (2, """
import threading
assert len(devs) == 2
barrier = threading.Barrier(2, timeout=60)
seen = {}
def body(i):
    with xf.using_device(devs[i]):
        barrier.wait()            # both threads are inside their own `using_device`
        x = xf.ones((3,)) * i
        barrier.wait()
        seen[i] = (x.device, xf.default_device(), float(xf.sum(x)))
ts = [threading.Thread(target=body, args=(i,)) for i in range(2)]
for t in ts: t.start()
for t in ts: t.join(60)
assert seen[0][:2] == (devs[0], devs[0]) and seen[1][:2] == (devs[1], devs[1]), seen
assert seen[1][2] == 3.0
assert xf.default_device() == devs[0]   # this thread never entered a using_device
""")

# --- a table of ops x shardings equals the one-device program (4 devices) --------------------
CASES["table"] = (4, """
mesh1 = xf.Mesh(devs[:4], ("x",))
mesh2 = xf.Mesh(np.array(devs[:4], dtype=object).reshape(2, 2), ("a", "b"))
S = lambda m, *spec: xf.NamedSharding(m, xf.P(*spec))
assert xf.P is xf.PartitionSpec and xf.PartitionSpec("x", None) == ("x", None)
shardings = [S(mesh1, "x"), S(mesh1, None, "x"), S(mesh1), S(mesh2, "a", "b"),
             S(mesh2, ("a", "b")), S(mesh2, None, "a")]
ops = {
    "sin_mul": lambda a, b: xf.sin(a) * b + 1.0,
    "sum0": lambda a, b: xf.sum(a, axis=0) + xf.sum(b),
    "sum1": lambda a, b: xf.max(a * b, axis=1),
    "matmul": lambda a, b: a @ xf.permute_dims(b, (1, 0)),
    "reshape": lambda a, b: xf.reshape(a + b, (4, 16)),
    "cumsum": lambda a, b: xf.cumulative_sum(a - b, axis=0),
    "where": lambda a, b: xf.where(a > b, a, b),
    "mean_keep": lambda a, b: a - xf.mean(a, axis=1, keepdims=True),
}
a = rng.standard_normal((8, 8)).astype(np.float32)
b = rng.standard_normal((8, 8)).astype(np.float32)
n = 0
for name, fn in ops.items():
    want = xf.compile(fn)(a, b)
    for s in shardings:
        f = xf.compile(fn, in_shardings=s)
        got = f(a, b)                                   # NumPy in -> NumPy out (gathered)
        close(got, want, 1e-4)
        ga, gb = xf.device_put(a, s), xf.device_put(b, s)
        out = f(ga, gb)                                 # global arrays in -> global array out
        assert isinstance(out, xf.ShardedArray), type(out)
        close(np.asarray(out), want, 1e-4)
        n += 1
assert n == len(ops) * len(shardings)
# vocabulary: shards, shard shapes, eager use of a global array, lower() shows annotations
s = S(mesh2, "a", "b")
g = xf.device_put(a, s)
assert g.sharding == s and g.sharding.shard_shape(a.shape) == (4, 4)
shards = g.addressable_shards
assert len(shards) == 4 and {sh.device for sh in shards} == set(devs[:4])
for sh in shards:
    close(np.asarray(sh.data), a[sh.index])
    assert sh.data.device == sh.device
close(xf.sum(g * 2.0), np.float32((a * 2).sum()), 1e-4)   # eager ops gather
close(xf.compile(ops["matmul"])(g, g), a @ a.T, 1e-4)      # so do one-device programs
close(xf.grad(lambda v: xf.sum(v ** 2))(g), 2 * a, 1e-5)
import pickle
back = pickle.loads(pickle.dumps(g))
assert back.sharding == s and isinstance(back, xf.ShardedArray)
close(back, a)
assert isinstance(xf.compile(ops["sin_mul"], in_shardings=s, returns="xfront")(a, b),
                  xf.ShardedArray)
try:
    xf.compile(ops["sin_mul"], in_shardings=s, static_argnums=1)
    raise AssertionError("no error")
except TypeError as e:
    assert "static_argnums" in str(e)
plain = xf.ones((2,))
assert plain.sharding.device_set == {plain.device} and len(plain.addressable_shards) == 1
text = xf.compile(ops["sin_mul"], in_shardings=s, out_shardings=s).lower(a, b).as_text()
assert 'sdy.mesh @mesh = <["a"=2, "b"=2]>' in text, text
assert '#sdy.sharding<@mesh, [{"a"}, {"b"}]>' in text and "num_partitions = 4" in text
# int and float64 data survive the split
i64 = np.arange(32, dtype=np.int64).reshape(8, 4) * (2 ** 40)
close(xf.device_put(i64, S(mesh1, "x")), i64)
# torch in -> torch out, gathered
import torch
t = xf.compile(ops["sin_mul"], in_shardings=S(mesh1, "x"))(torch.from_numpy(a), torch.from_numpy(b))
assert isinstance(t, torch.Tensor)
try:
    xf.compile(ops["sin_mul"], in_shardings=S(mesh1, "x"))(torch.ones(8, 8, requires_grad=True),
                                                        torch.from_numpy(b))
    raise AssertionError("no error")
except TypeError as e:
    assert "requires grad" in str(e), e
close(t.numpy(), np.sin(a) * b + np.float32(1), 1e-4)
print("cases", n)
""")

# --- errors and the two crash traps (4 devices) ---------------------------------------------
CASES["errors"] = (4, """
import time
mesh = xf.Mesh(devs[:4], ("x",))
rows = xf.NamedSharding(mesh, xf.P("x"))
repl = xf.NamedSharding(mesh, xf.P())
x6 = np.ones((6, 2), np.float32)
raises(ValueError, lambda: xf.device_put(x6, rows), "(6, 2)", "size 4", "does not divide")
raises(ValueError, lambda: xf.compile(lambda a: a * 2, in_shardings=rows)(x6), "argument 0",
       "does not divide")
raises(ValueError, lambda: xf.compile(lambda a: xf.shard(a[:3], rows), in_shardings=repl)(
       np.ones((8,), np.float32)), "shard", "does not divide")
raises(TypeError, lambda: xf.NamedSharding(mesh, xf.P("y")), "'y'", "['x']")
raises(TypeError, lambda: xf.NamedSharding(mesh, xf.P("x", "x")), "twice")
raises(TypeError, lambda: xf.Mesh(devs[:4], ("x", "y")), "axis names")
other = xf.NamedSharding(xf.Mesh(devs[:2], ("x",)), xf.P("x"))
raises(TypeError, lambda: xf.compile(lambda a, b: a + b, in_shardings=(rows, other))(
       np.ones((8,), np.float32), np.ones((8,), np.float32)), "different meshes")
raises(TypeError, lambda: xf.compile(lambda a: a, in_shardings=(rows, rows))(
       np.ones((8,), np.float32)), "in_shardings")
# crash trap 1: a replicated global array given to a row-sharded parameter must be refused
f = xf.compile(lambda a: (a * a, xf.sum(a * a)), in_shardings=rows, out_shardings=(rows, repl))
X = np.arange(16, dtype=np.float32).reshape(8, 2)
raises(TypeError, lambda: f(xf.device_put(X, repl)), "argument 0", "P('x')", "device_put")
y, s = f(xf.device_put(X, rows))                 # the process is still alive and correct
close(s, np.float32((X * X).sum()))
# crash trap 2: back-to-back launches of a program with a cross-device all-reduce
gx = xf.device_put(X, rows)
t0 = time.perf_counter()
for _ in range(300):
    y, s = f(gx)
close(s, np.float32((X * X).sum()))
print("300 launches", round(time.perf_counter() - t0, 3), "s")
""")

# --- data-parallel MLP training and a tensor-parallel MLP (4 devices) ------------------------
CASES["training"] = (4, """
mesh = xf.Mesh(devs[:4], ("batch",))
data = xf.NamedSharding(mesh, xf.P("batch"))
repl = xf.NamedSharding(mesh, xf.P())
def loss(params, x, y):
    w1, b1, w2 = params
    h = xf.tanh(x @ w1 + b1)
    return xf.mean((h @ w2 - y) ** 2)
def step(params, x, y):
    g = xf.grad(loss)(params, x, y)
    return tuple(p - 0.1 * gp for p, gp in zip(params, g)), loss(params, x, y)
params = (rng.standard_normal((5, 16)).astype(np.float32) * 0.3,
          np.zeros((16,), np.float32), rng.standard_normal((16, 1)).astype(np.float32) * 0.3)
x = rng.standard_normal((32, 5)).astype(np.float32)
y = np.sin(x.sum(axis=1, keepdims=True)).astype(np.float32)
one = xf.compile(step)
dp = xf.compile(step, in_shardings=(repl, data, data), out_shardings=(repl, repl))
p1 = tuple(xf.asarray(p) for p in params)
pd = tuple(xf.device_put(p, repl) for p in params)
xd, yd = xf.device_put(x, data), xf.device_put(y, data)
losses = []
for i in range(10):
    p1, l1 = one(p1, x, y)
    pd, ld = dp(pd, xd, yd)
    close(ld, np.asarray(l1), 1e-5)
    for a, b in zip(pd, p1):
        close(np.asarray(a), np.asarray(b), 1e-5)
    losses.append(float(l1))
assert losses[-1] < losses[0], losses
assert dp.compiles == 1
# tensor parallel: first matmul column-sharded, second row-sharded (2x2 mesh: data x model)
mesh2 = xf.Mesh(np.array(devs[:4], dtype=object).reshape(2, 2), ("data", "model"))
col = xf.NamedSharding(mesh2, xf.P(None, "model"))
row = xf.NamedSharding(mesh2, xf.P("model", None))
bat = xf.NamedSharding(mesh2, xf.P("data"))
w1 = rng.standard_normal((6, 8)).astype(np.float32)
w2 = rng.standard_normal((8, 3)).astype(np.float32)
xt = rng.standard_normal((4, 6)).astype(np.float32)
def tp(w1, w2, x):
    h = xf.shard(xf.tanh(x @ w1), xf.NamedSharding(mesh2, xf.P("data", "model")))
    return h @ w2
close(xf.compile(tp, in_shardings=(col, row, bat), out_shardings=bat)(w1, w2, xt),
      np.tanh(xt @ w1) @ w2, 1e-5)
tloss = lambda w1, w2, x: xf.sum(tp(w1, w2, x) ** 2)
g_tp = xf.compile(xf.grad(tloss, argnums=(0, 1)), in_shardings=(col, row, bat),
                  out_shardings=(col, row))(w1, w2, xt)
g_1 = xf.compile(xf.grad(tloss, argnums=(0, 1)))(w1, w2, xt)
for a, b in zip(g_tp, g_1):
    close(a, b, 1e-4)
text = xf.compile(xf.grad(tloss), in_shardings=(col, row, bat)).lower(w1, w2, xt).as_text()
assert text.count("sdy.sharding_constraint") >= 2, text   # forward and transposed constraint
""")

# --- 8 devices: a 2x4 mesh ---------------------------------------------------------------------
CASES["eight"] = (8, """
assert len(devs) == 8
mesh = xf.Mesh(np.array(devs, dtype=object).reshape(2, 4), ("a", "b"))
s = xf.NamedSharding(mesh, xf.P("a", "b"))
a = rng.standard_normal((4, 8)).astype(np.float32)
f = xf.compile(lambda v: (xf.exp(v) @ xf.permute_dims(v, (1, 0)), xf.sum(v, axis=0)),
               in_shardings=s, out_shardings=(xf.NamedSharding(mesh, xf.P("a")),
                                              xf.NamedSharding(mesh, xf.P("b"))))
m, c = f(xf.device_put(a, s))
close(m, (np.exp(a) @ a.T).astype(np.float32), 1e-4)
close(c, a.sum(axis=0), 1e-5)
assert len(c.addressable_shards) == 8 and c.addressable_shards[0].data.shape == (2,)
import tensorflow as tf                      # TF in -> TF out, split and gathered
m_tf, c_tf = f(tf.constant(a))
assert isinstance(c_tf, tf.Tensor)
close(c_tf.numpy(), a.sum(axis=0), 1e-5)
""")

# --- shard_map with collectives, and their gradients (4 devices) ------------------------------
CASES["shard_map"] = (4, """
mesh = xf.Mesh(devs[:4], ("x",))
rows = xf.NamedSharding(mesh, xf.P("x"))
repl = xf.NamedSharding(mesh, xf.P())
X = np.arange(16, dtype=np.float32).reshape(8, 2)
ring = [(i, (i + 1) % 4) for i in range(4)]
def body(a):
    return (xf.psum(xf.sum(a, axis=0), "x"), xf.pmean(a, "x"), xf.pmax(a, "x"),
            xf.all_gather(a * 2, "x"), xf.axis_index("x") + xf.zeros((1,), dtype=xf.int32),
            xf.ppermute(a, "x", ring), xf.reduce_scatter(xf.all_gather(a, "x"), "x"),
            xf.all_to_all(xf.tile(a, (1, 2)), "x", 1, 0))
specs = (xf.P(), xf.P(), xf.P(), xf.P(), xf.P("x"), xf.P("x"), xf.P("x"), xf.P("x"))
sm = xf.shard_map(body, mesh=mesh, in_specs=xf.P("x"), out_specs=specs)
f = xf.compile(sm, in_shardings=rows, out_shardings=tuple(xf.NamedSharding(mesh, s) for s in specs))
text = f.lower(X).as_text()
assert "sdy.manual_computation" in text and "stablehlo.all_reduce" in text, text
ps, pm, px, ag, ai, pp, rs, a2a = f(X)
blocks = X.reshape(4, 2, 2)
close(ps, X.sum(axis=0))
close(pm, blocks.mean(axis=0))
close(px, blocks.max(axis=0))
close(ag, X * 2)
close(ai, np.arange(4, dtype=np.int32))
close(pp, np.roll(X, 2, axis=0))
close(rs, X * 4)
# all_to_all: each device splits its (2, 4) tile into 4 column blocks (2, 1), block j goes to
# device j, which stacks what it receives along rows: device j gets column j of every tile
tiles = [np.tile(b, (1, 2)) for b in blocks]
want = np.concatenate([np.concatenate([t[:, j:j + 1] for t in tiles], axis=0) for j in range(4)])
close(a2a, want)
# 2-D mesh: collectives over one axis only
mesh2 = xf.Mesh(np.array(devs[:4], dtype=object).reshape(2, 2), ("a", "b"))
s2 = xf.NamedSharding(mesh2, xf.P("a", "b"))
g2 = xf.compile(xf.shard_map(lambda v: xf.psum(v, "b"), mesh=mesh2, in_specs=xf.P("a", "b"),
                             out_specs=xf.P("a", None)), in_shardings=s2,
                out_shardings=xf.NamedSharding(mesh2, xf.P("a")))
Y = np.arange(16, dtype=np.float32).reshape(4, 4)
close(g2(Y), Y[:, :2] + Y[:, 2:])
# gradients through shard_map: data-parallel loss with psum equals the one-device gradient
w = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
def local_loss(w, a):
    return xf.psum(xf.sum(xf.tanh(a @ w)), "x")
loss_sm = lambda w, a: xf.shard_map(local_loss, mesh=mesh, in_specs=(xf.P(), xf.P("x")),
                                    out_specs=xf.P())(w, a)
g_sm = xf.compile(xf.grad(loss_sm), in_shardings=(repl, rows), out_shardings=repl)(w, X)
g_1 = xf.compile(xf.grad(lambda w, a: xf.sum(xf.tanh(a @ w))))(w, X)
close(g_sm, g_1, 1e-4)
c = np.arange(16, dtype=np.float32).reshape(8, 2)
blocksum = np.tile(c.reshape(4, 2, 2).sum(0), (4, 1))
for fn, spec, weight, want in [
        (lambda a: xf.ppermute(a, "x", ring), xf.P("x"), c, np.roll(c, -2, axis=0)),
        (lambda a: xf.all_gather(a, "x"), xf.P(), c, c),
        (lambda a: xf.pmean(a, "x"), xf.P(), c[:2], np.tile(c[:2], (4, 1)) / 4),
        (lambda a: xf.reduce_scatter(xf.tile(a, (4, 1)), "x"), xf.P("x"), c, blocksum)]:
    outer = lambda a, fn=fn, spec=spec, weight=weight: xf.sum(
        xf.shard_map(fn, mesh=mesh, in_specs=xf.P("x"), out_specs=spec)(a) * weight)
    got = xf.compile(xf.grad(outer), in_shardings=rows, out_shardings=rows)(X)
    close(got, want.astype(np.float32), 1e-5)
# errors at trace time
raises(TypeError, lambda: xf.compile(xf.shard_map(lambda v: xf.psum(v, "y"), mesh=mesh,
       in_specs=xf.P("x"), out_specs=xf.P()), in_shardings=rows)(X), "psum", "'y'")
raises(TypeError, lambda: xf.psum(xf.ones((2,)), "x"), "outside xf.shard_map")
raises(ValueError, lambda: xf.compile(xf.shard_map(lambda v: v, mesh=mesh, in_specs=xf.P("x"),
       out_specs=xf.P("x")), in_shardings=repl)(np.ones((6,), np.float32)), "does not divide")
""")

# --- collective gradients against jax's shard_map (4 devices; NOTE [Collective gradients]) ---
CASES["shard_map_vjp_jax"] = (4, """
import jax, jax.numpy as jnp
from jax.sharding import Mesh as JMesh, PartitionSpec as JP
jdevs = jax.devices("cpu")
X = (np.linspace(-1, 1, 16) + 0.01 * np.arange(16) ** 2).astype(np.float32).reshape(8, 2)
Y = np.linspace(-2, 1, 32, dtype=np.float32).reshape(4, 8)
# (name, mesh axes, in spec, out specs to try, body(ops) -> per-device function, input)
ROWS = [
    ("all_gather tiled", ("x",), ("x",), [(), ("x",)],
     lambda L: lambda a: L.ag(a, "x", 0, True), X),
    ("all_gather tiled axis 1", ("x",), ("x",), [(), ("x",)],
     lambda L: lambda a: L.ag(a, "x", 1, True), X),
    ("all_gather stacked", ("x",), ("x",), [(), ("x",)],
     lambda L: lambda a: L.ag(a, "x", 0, False), X),
    ("all_gather stacked axis 2", ("x",), ("x",), [(), ("x",)],
     lambda L: lambda a: L.ag(a, "x", 2, False), X),
    ("sin of all_gather", ("x",), ("x",), [(), ("x",)],
     lambda L: lambda a: L.sin(L.ag(a * a, "x", 0, True)) * 3, X),
    ("psum", ("x",), ("x",), [(), ("x",)], lambda L: lambda a: L.psum(a, "x"), X),
    ("pmean", ("x",), ("x",), [(), ("x",)], lambda L: lambda a: L.pmean(a, "x"), X),
    ("reduce_scatter of all_gather", ("x",), ("x",), [(), ("x",)],
     lambda L: lambda a: L.rs(L.ag(a, "x", 0, True), "x"), X),
    ("2-d mesh: all_gather over b", ("a", "b"), ("a", "b"), [("a",), ("a", "b")],
     lambda L: lambda a: L.ag(a, "b", 1, True), Y),
    ("2-d mesh: psum over b", ("a", "b"), ("a", "b"), [("a",), ("a", "b")],
     lambda L: lambda a: L.psum(a, "b"), Y),
]
class J:
    ag = staticmethod(lambda a, n, ax, t: jax.lax.all_gather(a, n, axis=ax, tiled=t))
    psum, pmean, sin = staticmethod(jax.lax.psum), staticmethod(jax.lax.pmean), jnp.sin
    rs = staticmethod(lambda a, n: jax.lax.psum_scatter(a, n, tiled=True))
class XF:
    ag = staticmethod(lambda a, n, ax, t: xf.all_gather(a, n, axis=ax, tiled=t))
    psum, pmean, sin = xf.psum, xf.pmean, xf.sin
    rs = staticmethod(xf.reduce_scatter)
checked = 0
for name, names, ins, outs, body, A in ROWS:
    shape = (4,) if len(names) == 1 else (2, 2)
    jm = JMesh(np.array(jdevs[:4]).reshape(shape), names)
    xm = xf.Mesh(np.array(devs[:4], dtype=object).reshape(shape), names)
    for out in outs:
        jf = jax.shard_map(body(J), mesh=jm, in_specs=JP(*ins), out_specs=JP(*out),
                           check_vma=False)
        want = np.asarray(jf(A))
        W = np.linspace(0.5, 2, want.size, dtype=np.float32).reshape(want.shape)
        gwant = np.asarray(jax.grad(lambda a: jnp.sum(jf(a) * W))(A))
        sm = xf.shard_map(body(XF), mesh=xm, in_specs=xf.P(*ins), out_specs=xf.P(*out))
        split = xf.NamedSharding(xm, xf.P(*ins))
        got = xf.compile(sm, in_shardings=split)(A)
        grad = xf.compile(xf.grad(lambda a: xf.sum(sm(a) * W)), in_shardings=split)(A)
        close(got, want, 1e-6)
        np.testing.assert_allclose(np.asarray(grad), gwant, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name}, out_specs P{out}")
        checked += 1
assert checked == 20, checked
# by hand: gathered to every device and returned per device (P("x")), each block's gradient
# is the sum of the four devices' weights for it; returned once (P()), the weight itself
mesh = xf.Mesh(devs[:4], ("x",))
rows = xf.NamedSharding(mesh, xf.P("x"))
for spec, copies in ((xf.P(), 1), (xf.P("x"), 4)):
    W = np.linspace(0.5, 2, 16 * copies, dtype=np.float32).reshape(8 * copies, 2)
    sm = xf.shard_map(lambda a: xf.all_gather(a, "x"), mesh=mesh, in_specs=xf.P("x"),
                      out_specs=spec)
    g = xf.compile(xf.grad(lambda a: xf.sum(sm(a) * W)), in_shardings=rows)(X)
    close(g, W.reshape(copies, 8, 2).sum(0))
# pmax (jax has no pmax gradient): psum of the cotangents on the device that holds the maximum
for spec, copies in ((xf.P(), 1), (xf.P("x"), 4)):
    W = np.linspace(0.5, 2, 4 * copies, dtype=np.float32).reshape(2 * copies, 2)
    sm = xf.shard_map(lambda a: xf.pmax(a, "x"), mesh=mesh, in_specs=xf.P("x"), out_specs=spec)
    g = np.asarray(xf.compile(xf.grad(lambda a: xf.sum(sm(a) * W)), in_shardings=rows)(X))
    blocks = X.reshape(4, 2, 2)
    want = (blocks == blocks.max(0)) * W.reshape(copies, 2, 2).sum(0)
    close(g, want.reshape(8, 2))
# all_gather's axis is checked at trace time
for bad, words in (((lambda a: xf.all_gather(a, "x", axis=2)), ("all_gather", "axis 2")),
                   ((lambda a: xf.all_gather(xf.sum(a), "x")), ("0-d", "tiled=False")),
                   ((lambda a: xf.reduce_scatter(a, "x", axis=-3)), ("reduce_scatter", "axis -3"))):
    raises(xf.ShapeError, lambda: xf.compile(xf.shard_map(bad, mesh=mesh, in_specs=xf.P("x"),
           out_specs=xf.P()), in_shardings=rows)(X), *words)
""")

# --- multi-process: 2 and 4 processes over loopback, gloo collectives ----------------------
MULTI = """
import sys
pid, nproc, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
xf.distributed.initialize(f"127.0.0.1:{port}", nproc, pid, timeout_s=60)
devs = xf.devices("cpu")
assert xf.distributed.process_index() == pid and xf.distributed.process_count() == nproc
assert len(devs) == nproc * NDEV, devs
mesh = xf.Mesh(devs, ("x",))
rows = xf.NamedSharding(mesh, xf.P("x"))
repl = xf.NamedSharding(mesh, xf.P())
local = np.arange(2 * NDEV * 3, dtype=np.float32).reshape(2 * NDEV, 3) + 100 * pid
g = xf.make_array_from_process_local_data(rows, local)
assert g.shape == (2 * NDEV * nproc, 3)
full = np.concatenate([np.arange(2 * NDEV * 3, dtype=np.float32).reshape(2 * NDEV, 3) + 100 * p
                       for p in range(nproc)])
w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
f = xf.compile(lambda a, w: (xf.sum(xf.tanh(a @ w), axis=0), a * 2),
               in_shardings=(rows, repl), out_shardings=(repl, rows))
s, y = f(g, w)
close(s, np.tanh(full @ w).sum(axis=0), 1e-4)
for sh in y.addressable_shards:             # this process's rows only
    close(sh.data, full[sh.index] * 2)
assert len(y.addressable_shards) == NDEV
grad = xf.compile(xf.grad(lambda w, a: xf.sum(xf.tanh(a @ w))), in_shardings=(repl, rows),
                  out_shardings=repl)(w, g)
close(grad, full.T @ (1 - np.tanh(full @ w) ** 2), 1e-3)
# 64-bit values keep their type across processes (replicated and split)
w64 = w.astype(np.float64)
g64 = xf.make_array_from_process_local_data(rows, local.astype(np.float64))
s64 = xf.compile(lambda a, w: xf.sum(a @ w, axis=0), in_shardings=(rows, repl),
                 out_shardings=repl)(g64, w64)
close(s64, (full.astype(np.float64) @ w64).sum(axis=0), 1e-9)
"""
PROCS = {"procs2": (2, 2), "procs4": (4, 1)}  # name: (processes, devices per process)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launch(name: str, ndev: int, body: str, argv: tuple = ()) -> subprocess.Popen:
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                        f" --xla_force_host_platform_device_count={ndev}").strip()
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    code = PRELUDE + textwrap.dedent(body) + "\nprint('CASE-OK')\n"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, argv)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[int, str]]:
    procs = {name: _launch(name, n, 'devs = xf.devices("cpu")\n' + body)
             for name, (n, body) in CASES.items()}
    for name, (nproc, ndev) in PROCS.items():
        port = _free_port()
        for pid in range(nproc):
            procs[f"{name}/{pid}"] = _launch(name, ndev, f"NDEV = {ndev}\n" + MULTI,
                                             (pid, nproc, port))
    deadline = time.monotonic() + TIMEOUT_S
    out: dict[str, tuple[int, str]] = {}
    for name, p in procs.items():
        try:
            text, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            out[name] = (p.returncode, text)
        except subprocess.TimeoutExpired:
            p.kill()
            text, _ = p.communicate()
            out[name] = (-1, f"TIMED OUT after {TIMEOUT_S} s\n{text}")
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_case(results: dict[str, tuple[int, str]], name: str) -> None:
    rc, text = results[name]
    assert rc == 0 and "CASE-OK" in text, f"case {name} failed (rc={rc}):\n{text[-4000:]}"


@pytest.mark.parametrize("name", list(PROCS))
def test_processes(results: dict[str, tuple[int, str]], name: str) -> None:
    """``xf.distributed.initialize`` over loopback: every process gets the same reduction."""
    for pid in range(PROCS[name][0]):
        rc, text = results[f"{name}/{pid}"]
        assert rc == 0 and "CASE-OK" in text, \
            f"process {pid} of {name} failed (rc={rc}):\n{text[-4000:]}"
