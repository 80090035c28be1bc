"""xf.random: the block function, reproducibility, and the samplers' distributions.

* Threefry-2x32 matches the published known-answer vectors (NumPy reference, eager, compiled).
* Reproducibility: the same key gives the same bits eagerly and compiled, across calls, whatever
  framework the other inputs come from; the integer-valued and default-range uniform samplers
  equal their NumPy definitions bit for bit.
* Statistics with fixed keys (so they cannot flake): moments within 5 standard errors and
  Kolmogorov-Smirnov distances below the 99.9% critical value.
* Errors, the Generator convenience, and the keyed dropout kernel.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from scipy import stats

import xfront as xf
from xfront.kernels import dropout as dropout_mod
from xfront.prims import random as rp

N = 100_000
KEYS = (0, 1, 2023)


def ks_bound(n: int, resolution: float = 0.0) -> float:
    return 1.95 / math.sqrt(n) + resolution  # 99.9% critical value (+ the grid spacing)


def np_(x) -> np.ndarray:
    return np.asarray(x)


# --- the block function ------------------------------------------------------------------------

# Threefry-2x32, 20 rounds: (key, counter) -> output, from the Random123 known-answer tests
KAT = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("key,ctr,want", KAT)
def test_threefry_known_answers(key, ctr, want):
    args = [np.array([v], dtype=np.uint32) for v in (*key, *ctr)]
    assert [int(v[0]) for v in rp.threefry2x32_ref(*args)] == list(want)
    assert [int(np_(v)[0]) for v in rp.threefry2x32(*args)] == list(want)  # eager
    compiled = xf.compile(lambda *a: rp.threefry2x32(*a))(*args)
    assert [int(np_(v)[0]) for v in compiled] == list(want)


def test_threefry_lowers_to_integer_ops_only():
    text = xf.compile(lambda k: xf.random.normal(k, (4,))).lower(xf.random.key(0)).as_text(
        pretty=False)
    assert "rng_bit_generator" not in text and '"stablehlo.xor"' in text


def test_threefry_graph_matches_reference_interpreter():
    from xfront import _core

    g = xf.trace(lambda k: xf.random.bits(k, (5, 3)))(np.array([7, 9], np.uint32))
    _core.check_graph(g)
    (ref,) = _core.eval_graph_ref(g, np.array([7, 9], np.uint32))
    np.testing.assert_array_equal(ref, xf.random.bits(np.array([7, 9], np.uint32), (5, 3)))


# --- the NumPy definitions of the integer-exact samplers ------------------------------------

def ref_words(key: np.ndarray, n: int) -> np.ndarray:
    m = (n + 1) // 2
    y0, y1 = rp.threefry2x32_ref(np.full(m, key[0]), np.full(m, key[1]),
                                 np.arange(m, dtype=np.uint32), np.zeros(m, np.uint32))
    return np.concatenate([y0, y1])[:n]


def ref_uniform32(key: np.ndarray, n: int) -> np.ndarray:
    w = ref_words(key, n)
    return ((w >> np.uint32(9)) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1)


def test_key_split_fold_in_match_their_definition():
    k = np.array([0x12345678, 0x9ABCDEF0], np.uint32)
    assert np_(xf.random.key(0x12345678_9ABCDEF0)).tolist() == k.tolist()
    assert np_(xf.random.key(-1)).tolist() == [0xFFFFFFFF, 0xFFFFFFFF]
    assert np_(xf.random.key(np.int64(-1))).tolist() == [0xFFFFFFFF, 0xFFFFFFFF]
    assert np_(xf.random.key(xf.asarray(5, dtype=xf.int32))).tolist() == [0, 5]
    y0, y1 = rp.threefry2x32_ref(np.full(3, k[0]), np.full(3, k[1]),
                                 np.arange(3, dtype=np.uint32), np.ones(3, np.uint32))
    np.testing.assert_array_equal(xf.random.split(k, 3), np.stack([y0, y1], 1))
    y0, y1 = rp.threefry2x32_ref(k[:1], k[1:], np.array([7], np.uint32),
                                 np.array([2], np.uint32))
    np.testing.assert_array_equal(xf.random.fold_in(k, 7), np.concatenate([y0, y1]))
    np.testing.assert_array_equal(xf.random.fold_in(k, 7 + 2 ** 32), xf.random.fold_in(k, 7))
    np.testing.assert_array_equal(xf.random.fold_in(k, np.int64(-1)),
                                  xf.random.fold_in(k, 2 ** 32 - 1))


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_bits_and_uniform_equal_numpy_definition(n):
    k = np_(xf.random.key(42))
    np.testing.assert_array_equal(xf.random.bits(k, (n,)), ref_words(k, n))
    u = xf.random.uniform(k, (n,), dtype=xf.float32)
    assert np_(u).tobytes() == ref_uniform32(k, n).tobytes()  # bit for bit
    p = 0.3
    want = ref_words(k, n).astype(np.uint64) < np.uint64(int(p * 2 ** 32))
    np.testing.assert_array_equal(xf.random.bernoulli(k, p, (n,)), want)


# --- reproducibility -----------------------------------------------------------------------------

SAMPLERS = {
    "bits": lambda k: xf.random.bits(k, (3, 5)),
    "bits_u64": lambda k: xf.random.bits(k, (7,), dtype=xf.uint64),
    "uniform_f32": lambda k: xf.random.uniform(k, (4, 3), dtype=xf.float32),
    "uniform_f64_range": lambda k: xf.random.uniform(k, (9,), minval=-2.0, maxval=3.0),
    "uniform_bf16": lambda k: xf.random.uniform(k, (9,), dtype=xf.bfloat16),
    "normal_f32": lambda k: xf.random.normal(k, (5,), dtype=xf.float32),
    "normal_f64": lambda k: xf.random.normal(k, (2, 2)),
    "normal_f16": lambda k: xf.random.normal(k, (6,), dtype=xf.float16),
    "truncated_normal": lambda k: xf.random.truncated_normal(k, -0.5, 2.0, (8,)),
    "bernoulli": lambda k: xf.random.bernoulli(k, 0.25, (12,)),
    "randint": lambda k: xf.random.randint(k, (10,), -5, 5),
    "randint_u8": lambda k: xf.random.randint(k, (10,), 0, 256, dtype=xf.uint8),
    "permutation": lambda k: xf.random.permutation(k, 10),
    "permutation_rows": lambda k: xf.random.permutation(k, np.arange(12.0).reshape(4, 3)),
    "categorical": lambda k: xf.random.categorical(k, np.log(np.array([0.2, 0.3, 0.5])),
                                                   shape=(7,)),
    "split": lambda k: xf.random.split(k, 4),
    "fold_in": lambda k: xf.random.fold_in(k, 12345),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_same_key_same_bits_eager_and_compiled(name):
    draw = SAMPLERS[name]
    k = xf.random.key(7)
    eager = np_(draw(k))
    again = np_(draw(k))
    compiled = np_(xf.compile(draw)(k))
    compiled_np_key = np_(xf.compile(draw)(np_(k)))  # a NumPy key: NumPy output
    for other in (again, compiled, compiled_np_key):
        assert other.dtype == eager.dtype and other.shape == eager.shape
        assert other.tobytes() == eager.tobytes(), name
    other_key = np_(draw(xf.random.key(8)))
    assert other_key.tobytes() != eager.tobytes()


def test_key_and_split_inside_compile():
    @xf.compile
    def f(seed):
        k1, k2 = xf.random.split(xf.random.key(seed))
        return xf.random.uniform(k1, (3,)), xf.random.normal(k2, (3,))

    a, b = f(np.int64(3))
    k1, k2 = xf.random.split(xf.random.key(3))
    assert np_(a).tobytes() == np_(xf.random.uniform(k1, (3,))).tobytes()
    assert np_(b).tobytes() == np_(xf.random.normal(k2, (3,))).tobytes()


def test_bits_do_not_depend_on_the_frameworks_of_other_inputs():
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")

    @xf.compile
    def noisy(key, x):
        return x + xf.random.normal(key, x.shape, dtype=x.dtype)

    k = np_(xf.random.key(11)).copy()
    x = np.linspace(-1, 1, 6, dtype=np.float32)
    outs = [noisy(k, x), noisy(xf.asarray(k), xf.asarray(x)),
            noisy(k, torch.from_numpy(x)),  # mixed frameworks: xfront out
            noisy(torch.from_numpy(k), torch.from_numpy(x)).numpy(),  # torch in, torch out
            noisy(tf.constant(k), tf.constant(x)).numpy()]
    for o in outs[1:]:
        assert np.asarray(o).tobytes() == np.asarray(outs[0]).tobytes()


def test_generator_reproduces_the_split_chain():
    g = xf.random.Generator(5)
    k = xf.random.key(5)
    for _ in range(3):
        k, sub = xf.random.split(k)
        assert np_(g.key()).tolist() == np_(sub).tolist()
    assert g.state.tolist() == np_(k).tolist()
    g1, g2 = xf.random.Generator(9), xf.random.Generator(9)
    assert np_(g1.normal((4,))).tobytes() == np_(g2.normal((4,))).tobytes()
    assert np_(g1.normal((4,))).tobytes() != np_(g1.normal((4,))).tobytes()  # it advances
    from_key = xf.random.Generator(xf.random.key(9)).randint((5,), 0, 9)
    assert np_(from_key).tolist() == np_(xf.random.Generator(9).randint((5,), 0, 9)).tolist()


def test_generator_refuses_to_run_while_tracing():
    g = xf.random.Generator(0)
    with pytest.raises(xf.ArgumentError, match="Generator was used inside a traced function"):
        xf.compile(lambda x: x + g.uniform(x.shape))(np.ones(2))


# --- statistics (fixed keys: deterministic) --------------------------------------------------

@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("seed", KEYS)
def test_uniform_distribution(dtype, seed):
    u = np_(xf.random.uniform(xf.random.key(seed), (N,), dtype=dtype)).astype(np.float64)
    assert u.min() >= 0.0 and u.max() < 1.0
    res = 2.0 ** -{"float16": 10, "bfloat16": 7, "float32": 23, "float64": 52}[dtype]
    assert stats.kstest(u, "uniform").statistic < ks_bound(N, res)
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(u.var() - 1 / 12) < 5 * math.sqrt(1 / 180 / N)


@pytest.mark.parametrize("seed", KEYS)
def test_uniform_range(seed):
    lo = np.array([-3.0, 0.0, 100.0])
    u = np_(xf.random.uniform(xf.random.key(seed), (N // 10, 3), minval=lo, maxval=lo + 2))
    assert (u >= lo).all() and (u < lo + 2).all()
    for j in range(3):
        assert stats.kstest((u[:, j] - lo[j]) / 2, "uniform").statistic < ks_bound(N // 10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("seed", KEYS)
def test_normal_distribution(dtype, seed):
    z = np_(xf.random.normal(xf.random.key(seed), (N,), dtype=dtype)).astype(np.float64)
    assert np.isfinite(z).all()
    assert stats.kstest(z, "norm").statistic < ks_bound(N)
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N)
    assert abs(stats.skew(z)) < 5 * math.sqrt(6 / N)
    assert abs(stats.kurtosis(z)) < 5 * math.sqrt(24 / N)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_normal_low_precision(dtype):
    z = np_(xf.random.normal(xf.random.key(3), (N,), dtype=dtype)).astype(np.float64)
    assert np.isfinite(z).all() and abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.std() - 1) < 0.01


@pytest.mark.parametrize("lower,upper", [(-1.0, 1.0), (0.5, 3.0), (-np.inf, -1.0), (2.0, np.inf)])
def test_truncated_normal_distribution(lower, upper):
    z = np_(xf.random.truncated_normal(xf.random.key(4), lower, upper, (N,)))
    assert (z > lower).all() and (z < upper).all()
    assert stats.kstest(z, stats.truncnorm(lower, upper).cdf).statistic < ks_bound(N)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.93, 1.0])
def test_bernoulli_frequency(p):
    b = np_(xf.random.bernoulli(xf.random.key(5), p, (N,)))
    assert b.dtype == np.bool_
    assert abs(b.mean() - p) <= 5 * math.sqrt(p * (1 - p) / N)


def test_bernoulli_array_p():
    p = np.array([0.2, 0.8])
    b = np_(xf.random.bernoulli(xf.random.key(6), p, (N // 2, 2)))
    np.testing.assert_allclose(b.mean(0), p, atol=5 * math.sqrt(0.16 / (N // 2)))


@pytest.mark.parametrize("lo,hi,dtype", [(0, 10, "int64"), (-7, 3, "int32"), (0, 256, "uint8"),
                                         (-128, 128, "int8"), (1000, 1003, "uint64")])
def test_randint_frequency(lo, hi, dtype):
    r = np_(xf.random.randint(xf.random.key(7), (N,), lo, hi, dtype=dtype))
    assert r.dtype == np.dtype(dtype)
    assert r.min() >= lo and r.max() < hi
    counts = np.bincount((r.astype(np.int64) - lo), minlength=hi - lo)
    p = 1 / (hi - lo)
    assert (np.abs(counts / N - p) <= 5 * math.sqrt(p * (1 - p) / N)).all()
    assert r.min() == lo and r.max() == hi - 1  # the end points are reached


def test_randint_empty_range_gives_minval():
    r = np_(xf.random.randint(xf.random.key(0), (5,), 3, 3))
    assert (r == 3).all()


def test_bits_are_balanced():
    for dtype, width in (("uint8", 8), ("uint16", 16), ("uint32", 32), ("uint64", 64)):
        b = np_(xf.random.bits(xf.random.key(8), (N // 10,), dtype=dtype))
        assert b.dtype == np.dtype(dtype)
        ones = np.array([((b >> np.array(i, b.dtype)) & np.array(1, b.dtype)).mean()
                         for i in range(width)])
        assert (np.abs(ones - 0.5) < 5 * math.sqrt(0.25 / (N // 10))).all()


def test_categorical_frequency():
    probs = np.array([0.1, 0.0, 0.25, 0.65])
    with np.errstate(divide="ignore"):
        logits = np.log(probs)
    c = np_(xf.random.categorical(xf.random.key(9), logits, shape=(N,)))
    freq = np.bincount(c, minlength=4) / N
    assert freq[1] == 0.0  # -inf logits are never drawn
    assert (np.abs(freq - probs) <= 5 * np.sqrt(probs * (1 - probs) / N) + 1e-12).all()


def test_categorical_batched_axis():
    logits = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])).T  # categories on axis 0
    c = np_(xf.random.categorical(xf.random.key(10), logits, axis=0, shape=(N // 10, 3)))
    np.testing.assert_allclose(c.mean(0), [0.1, 0.8, 0.5], atol=0.02)


def test_permutation_is_uniform():
    n, draws = 5, 4000
    keys = xf.random.split(xf.random.key(11), draws)
    # one compiled scan draws all the permutations (a key per step)
    perms = np_(xf.compile(lambda ks: xf.scan(
        lambda c, k: (c, xf.random.permutation(k, n)), 0, ks)[1])(keys))
    assert (np.sort(perms, axis=1) == np.arange(n)).all()
    counts = np.stack([(perms == v).sum(0) for v in range(n)])  # value v at position j
    p = 1 / n
    assert (np.abs(counts / draws - p) <= 5 * math.sqrt(p * (1 - p) / draws)).all()
    assert len({tuple(r) for r in perms}) > 100  # many distinct orderings


def test_permutation_of_an_array_along_an_axis():
    x = np.arange(20.0).reshape(4, 5)
    p = np_(xf.random.permutation(xf.random.key(12), x, axis=1))
    assert sorted(p[0].tolist()) == x[0].tolist()
    np.testing.assert_array_equal(p - p[:1], x - x[:1])  # whole columns move


def test_split_keys_are_independent():
    ks = xf.random.split(xf.random.key(13), 3)
    a, b, c = (np_(xf.random.normal(ks[i], (N // 10,))) for i in range(3))
    for x, y in ((a, b), (a, c), (b, c)):
        assert abs(np.corrcoef(x, y)[0, 1]) < 5 / math.sqrt(N // 10)
    s = np_(xf.random.split(xf.random.key(13), 1000))
    assert len({tuple(r) for r in s}) == 1000


# --- errors ---------------------------------------------------------------------------------------

ERRORS = [
    (lambda: xf.random.uniform(0, (2,)), xf.ArgumentError,
     r"xfront\.random\.uniform: key must be a uint32\[2\] array, got a python int"),
    (lambda: xf.random.normal(np.zeros(2, np.int32), (2,)), xf.ArgumentError,
     r"key must be a uint32\[2\] array, got i32\[2\]"),
    (lambda: xf.random.uniform(xf.random.key(0), (2,), dtype=xf.int32), xf.DTypeError,
     r"xfront\.random\.uniform: dtype must be a real floating-point dtype, got int32"),
    (lambda: xf.random.randint(xf.random.key(0), (2,), 0, 5, dtype=xf.float32), xf.DTypeError,
     r"xfront\.random\.randint: dtype must be an? integer dtype, got float32"),
    (lambda: xf.random.normal(xf.random.key(0), (2, -1)), xf.ShapeError, "negative dimension"),
    (lambda: xf.random.uniform(xf.random.key(0), (3,), minval=np.zeros(2)), xf.ShapeError,
     r"minval has shape \(2,\), which does not broadcast to shape \(3,\)"),
    (lambda: xf.random.categorical(xf.random.key(0), np.zeros((2, 3)), shape=(4,)),
     xf.ShapeError, r"shape \(4,\) must end with the logits' batch shape \(2,\)"),
    (lambda: xf.random.key(1.5), xf.ArgumentError, "seed must be an integer"),
    (lambda: xf.random.split(xf.random.key(0), -1), xf.ArgumentError, "num must be >= 0"),
    (lambda: xf.random.permutation(xf.random.key(0), np.float64(3)), xf.ShapeError,
     "at least one axis"),
]


@pytest.mark.parametrize("call,exc,match", ERRORS)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_import_does_not_load_jax():
    import subprocess
    import sys

    code = ("import sys, xfront as xf; k = xf.random; "
            "assert not {'jax', 'torch', 'tensorflow'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the keyed dropout kernel ---------------------------------------------------------------

def test_dropout_scales_kept_values_and_is_reproducible():
    x = np.linspace(1, 2, 1000, dtype=np.float32)
    k = xf.random.key(14)
    y = np_(dropout_mod.dropout(x, 0.25, k))
    keep = np_(xf.random.bernoulli(k, 0.75, x.shape))
    np.testing.assert_allclose(y, dropout_mod.dropout_ref(x, 0.25, keep), rtol=1e-6)
    assert y.dtype == np.float32
    assert abs((y == 0).mean() - 0.25) < 5 * math.sqrt(0.25 * 0.75 / 1000)
    compiled = xf.compile(lambda x, k: dropout_mod.dropout(x, 0.25, k))(x, k)
    assert np_(compiled).tobytes() == y.tobytes()
    assert abs(y.mean() - x.mean()) < 0.05  # the expectation is preserved


def test_dropout_edge_cases():
    x = np.ones((3, 4), np.float32)
    k = xf.random.key(0)
    np.testing.assert_array_equal(dropout_mod.dropout(x, 0.5, k, training=False), x)
    np.testing.assert_array_equal(dropout_mod.dropout(x, 0.0, k), x)
    np.testing.assert_array_equal(dropout_mod.dropout(x, 1.0, k), np.zeros_like(x))
    with pytest.raises(xf.ArgumentError, match=r"rate must be a Python float in \[0, 1\]"):
        dropout_mod.dropout(x, 1.5, k)
    with pytest.raises(xf.DTypeError, match="real floating-point"):
        dropout_mod.dropout(np.ones(3, np.int32), 0.5, k)
    bf = dropout_mod.dropout(np.ones(8, ml_dtypes.bfloat16), 0.5, k)
    assert np_(bf).dtype == ml_dtypes.bfloat16 and set(np_(bf).astype(float).tolist()) <= {0.0, 2.0}
