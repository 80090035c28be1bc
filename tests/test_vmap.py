"""xfront.vmap: batching rules against a Python loop, table-driven over the op table, plus
control flow, random, gradients, nesting, pytrees and errors.

Every row of tests/op_db.py runs with one dtype and a few drawn examples: ``vmap(f)(xs)`` (and
``compile(vmap(f))``) must equal ``stack([f(x) for x in xs])`` along the drawn in_axes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xfront as xf
from tests._harness import BF16, array_strategy, assert_close, op_inputs
from tests.op_db import OPS
from xfront import _batching, _core

BATCH = 3
_PREFERRED = ("float32", "int32", "bool", "float64")
# rows whose output shape depends on values: not traceable, so not batchable
_DATA_DEPENDENT = {"nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values"}
ROWS = [c for c in OPS if c.dtypes and c.name not in _DATA_DEPENDENT]


def _dtype_for(case):
    return next((d for d in _PREFERRED if d in case.dtypes), case.dtypes[0])


def _stack(outs, axis):
    first = outs[0]
    if isinstance(first, (tuple, list)):
        return type(first)(_stack([o[k] for o in outs], axis) for k in range(len(first)))
    arrs = [np.asarray(o) for o in outs]
    if isinstance(first, xf.Array) and first.dtype is xf.bfloat16:
        arrs = [a.astype(BF16) for a in arrs]
    return np.stack(arrs, axis=axis)


def _settings():
    return settings(max_examples=2, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


_EXAMPLES: dict[str, list] = {}


def _examples(case):
    """Two examples per row: (member inputs, in_axes, kwargs), drawn deterministically.

    Of a few cheap draws the test runs the one with the most elements and an edge case (a
    zero-size input, else the first, usually 0-d draw): compiling is what costs time."""
    if case.name in _EXAMPLES:
        return _EXAMPLES[case.name]
    found = []

    @settings(max_examples=10, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data):
        arrays, kwargs = data.draw(op_inputs(case, _dtype_for(case)))
        members = [arrays] + [
            [data.draw(array_strategy(case, a.dtype, a.shape, i)) for i, a in enumerate(arrays)]
            for _ in range(BATCH - 1)]
        axes = [data.draw(st.sampled_from([0, -1, None])) for _ in arrays]
        if all(a is None for a in axes):
            axes[0] = 0
        found.append((members, axes, kwargs))

    draw()
    size = lambda ex: sum(a.size for a in ex[0][0])  # noqa: E731
    biggest = max(found, key=size)
    edge = next((ex for ex in found if any(a.size == 0 for a in ex[0][0])), found[0])
    _EXAMPLES[case.name] = [biggest] if edge is biggest else [edge, biggest]
    return _EXAMPLES[case.name]


@pytest.mark.parametrize("case", ROWS, ids=[c.name for c in ROWS])
def test_vmap_matches_loop(case):
    examples = _examples(case)
    for n, (members, axes, kwargs) in enumerate(examples):
        batched = [members[0][i] if ax is None else np.stack([m[i] for m in members], axis=ax)
                   for i, ax in enumerate(axes)]

        def fn(*a):
            return case.fn(*a, **kwargs)

        # the loop runs f compiled once per example shape (eager per-op dispatch would compile
        # every primitive separately, which is what makes a table run slow)
        per_member = xf.compile(fn)
        loop = [per_member(*[members[0][i] if ax is None else m[i]
                             for i, ax in enumerate(axes)]) for m in members]
        expected = _stack(loop, 0)
        where = f" in_axes={axes} {kwargs} on {[a.shape for a in members[0]]}"
        vf = xf.vmap(fn, in_axes=tuple(axes))
        assert_close(vf(*batched), expected, case, " vmap eager" + where)
        if n == len(examples) - 1:  # compiled (vmap inside a trace) on the largest example
            assert_close(xf.compile(vf)(*batched), expected, case, " vmap compiled" + where)


def _prims_of(graph, seen):
    for e in graph.eqns:
        seen.add(e.prim.name)
        for p in e.params.values():
            for sub in (p if isinstance(p, tuple) else (p,)):
                if isinstance(sub, _core.Graph):
                    _prims_of(sub, seen)
    return seen


# primitives the table does not reach (or not batched in every way); the tests below cover them
_HAND_TESTED = {"cond", "while", "scan", "threefry2x32", "sort_by_key", "dynamic_slice",
                "dynamic_update_slice", "iota", "pad", "conv_general_dilated", "rev"}


def _prim_rows():
    from xfront.prims import elementwise as ew, reduction as red

    f32 = RNG.standard_normal((BATCH, 2, 3)).astype(np.float32)
    c64 = (f32 + 1j * f32[::-1]).astype(np.complex64)
    i32 = RNG.integers(0, 1 << 20, (BATCH, 4)).astype(np.int32)
    pos = np.abs(f32) + 0.5
    return {
        "clz": (ew.clz, [i32]),
        "complex": (ew.complex_, [f32, f32[::-1].copy()]),
        "cummax": (lambda x: red.cummax(x, axis=1, reverse=False), [f32]),
        "cummin": (lambda x: red.cummin(x, axis=0, reverse=True), [f32]),
        "real": (ew.real, [c64]),
        "imag": (ew.imag, [c64]),
        "polygamma": (ew.polygamma, [np.ones_like(pos), pos]),
        "stop_gradient": (ew.stop_gradient, [f32]),
    }


_PRIM_ROWS = ("clz", "complex", "cummax", "cummin", "real", "imag", "polygamma", "stop_gradient")
_HAND_TESTED |= set(_PRIM_ROWS)


@pytest.mark.parametrize("name", _PRIM_ROWS)
def test_primitives_outside_the_table(name):
    fn, args = _prim_rows()[name]
    expected = _loop(fn, *args, in_axes=[0] * len(args))
    _close(_both(xf.vmap(fn), *args), expected)
    # batch axis last; with two operands the first one unbatched
    moved = [np.moveaxis(a, 0, -1) for a in args]
    axes = [-1] * len(args)
    if len(args) > 1:
        moved[0], axes[0] = args[0][0], None
    _close(_both(xf.vmap(fn, in_axes=axes), *moved), _loop(fn, *moved, in_axes=axes))


def _xfront_primitives():
    """Every primitive declared in an xfront.prims module (test-made primitives excluded)."""
    import importlib
    import pkgutil

    import xfront.prims

    found = {}
    for info in pkgutil.iter_modules(xfront.prims.__path__):
        mod = importlib.import_module(f"xfront.prims.{info.name}")
        found.update({p.name: p for p in vars(mod).values() if isinstance(p, _core.Primitive)})
    return found


def test_every_primitive_has_a_rule_or_a_reason():
    prims = _xfront_primitives()
    assert len(prims) > 90
    missing = sorted(n for n in _batching.missing_rules() if n in prims)
    assert missing == [], (
        f"primitives without a batching rule: {missing}; add `<prim>_p.batch = ...` to the "
        "batching block at the end of its xfront/prims module (see xfront/_batching.py)")
    for name, p in prims.items():
        if isinstance(p.batch, _batching.NotBatchable):
            assert p.batch.reason, name


def test_table_reaches_every_batchable_primitive():
    """Each primitive with a rule is exercised by a table row or by a test in this module."""
    seen: set[str] = set()
    for case in ROWS:
        for members, _, kwargs in _examples(case):
            try:
                graph = xf.trace(lambda *a: case.fn(*a, **kwargs))(*members[0])
            except xf.XfrontError:
                continue
            _prims_of(graph, seen)
    rules = {n for n, p in _core.PRIMITIVES.items() if callable(p.batch)}
    assert rules - seen - _HAND_TESTED == set()


# --- hand-written cases -----------------------------------------------------------------------

RNG = np.random.default_rng(0)


def _both(vf, *args):
    """Eager and compiled results of a vmapped function (they must agree)."""
    eager = vf(*args)
    compiled = xf.compile(vf)(*args)
    for a, b in zip(xf.tree_leaves(eager), xf.tree_leaves(compiled)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    return eager


def _loop(f, *args, in_axes):
    n = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = [f(*[a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes)])
            for b in range(n)]
    return xf.tree_map(lambda *o: np.stack([np.asarray(x) for x in o]), *outs) \
        if isinstance(outs[0], (tuple, list, dict)) else np.stack([np.asarray(o) for o in outs])


def _close(a, b, tol=1e-5):
    for x, y in zip(xf.tree_leaves(a), xf.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=tol, atol=tol)


def test_per_example_gradients():
    w = RNG.standard_normal((3, 2)).astype(np.float32)
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    y = RNG.standard_normal((5, 2)).astype(np.float32)

    def loss(w, x, y):
        return xf.sum((xf.tanh(x @ w) - y) ** 2)

    g = xf.grad(loss)
    per_example = _both(xf.vmap(g, in_axes=(None, 0, 0)), w, x, y)
    _close(per_example, _loop(g, w, x, y, in_axes=(None, 0, 0)))
    # and the other way round: the gradient of a batched loss
    total = xf.grad(lambda w: xf.sum(xf.vmap(loss, in_axes=(None, 0, 0))(w, x, y)))(w)
    _close(total, np.sum(np.asarray(per_example), axis=0), 1e-4)


def test_vmap_of_jvp_and_vjp():
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    t = RNG.standard_normal((4, 3)).astype(np.float32)

    def f(x):
        return xf.sin(x) * xf.sum(x)

    def jvp_tangent(x, t):
        return xf.jvp(f, (x,), (t,))[1]

    _close(_both(xf.vmap(jvp_tangent), x, t), _loop(jvp_tangent, x, t, in_axes=(0, 0)))

    def vjp_ct(x, ct):
        return xf.vjp(f, x)[1](ct)[0]

    _close(_both(xf.vmap(vjp_ct), x, t), _loop(vjp_ct, x, t, in_axes=(0, 0)))


def test_nested_vmap_and_axes():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    w = RNG.standard_normal((4, 5)).astype(np.float32)

    def f(row, w):
        return xf.tanh(row @ w) + xf.max(row)

    vv = xf.vmap(xf.vmap(f, in_axes=(0, None)), in_axes=(0, None))
    expected = np.stack([np.stack([np.asarray(f(xf.asarray(x[i, j]), xf.asarray(w)))
                                   for j in range(3)]) for i in range(2)])
    _close(_both(vv, x, w), expected)
    # batch axis last in and out
    vl = xf.vmap(f, in_axes=(1, None), out_axes=1)
    _close(_both(vl, x, w), np.moveaxis(_loop(f, x, w, in_axes=(1, None)), 0, 1))


def test_pytrees_and_unmapped_outputs():
    params = {"w": RNG.standard_normal((3, 2)).astype(np.float32),
              "b": RNG.standard_normal((2,)).astype(np.float32)}
    xs = RNG.standard_normal((4, 3)).astype(np.float32)

    def f(p, x):
        return {"y": x @ p["w"] + p["b"], "n": xf.sum(p["b"])}

    out = _both(xf.vmap(f, in_axes=({"w": None, "b": None}, 0), out_axes={"n": None, "y": 0}),
                params, xs)
    _close(out["y"], xs @ params["w"] + params["b"])
    assert np.shape(out["n"]) == ()
    # an unmapped output with an int out_axes is broadcast
    out2 = xf.vmap(f, in_axes=(None, 0))(params, xs)
    assert np.shape(out2["n"]) == (4,)
    # axis_size with nothing mapped
    ones = xf.vmap(lambda: xf.ones((2,)), axis_size=3)()
    assert np.shape(ones) == (3, 2)


def test_cond_batched_predicate_becomes_select():
    x = RNG.standard_normal((6, 3)).astype(np.float32)

    def f(x):
        return xf.cond(xf.sum(x) > 0, lambda v: v * 2.0, lambda v: v - 1.0, x)

    _close(_both(xf.vmap(f), x), _loop(f, x, in_axes=(0,)))

    def g(i, x):  # switch with a per-member index (out-of-range indices clamp)
        return xf.switch(i, [lambda v: v + 1.0, lambda v: v * 3.0, lambda v: -v], x)

    idx = np.array([0, 1, 2, 5, -1, 1], dtype=np.int32)
    _close(_both(xf.vmap(g), idx, x), _loop(g, idx, x, in_axes=(0, 0)))

    def h(p, x):  # unbatched predicate, batched operand
        return xf.cond(p, lambda v: v * 2.0, lambda v: v, x)

    _close(_both(xf.vmap(h, in_axes=(None, 0)), True, x), 2 * x)


def test_while_loop_batched_predicate_runs_until_all_done():
    n = np.array([0, 3, 1, 5], dtype=np.int32)

    def f(n):
        def body(c):
            i, acc = c
            return i + 1, acc * 2.0 + 1.0

        return xf.while_loop(lambda c: c[0] < n, body, (xf.asarray(0, dtype=xf.int32),
                                                        xf.asarray(1.0, dtype=xf.float32)))

    out = _both(xf.vmap(f), n)
    exp = _loop(lambda k: f(xf.asarray(k)), n, in_axes=(0,))
    _close(out, exp)
    # batched carry, unbatched predicate
    x = RNG.standard_normal((4, 2)).astype(np.float32)

    def g(x):
        return xf.fori_loop(0, 3, lambda i, v: v * 2.0 + i, x)

    _close(_both(xf.vmap(g), x), _loop(g, x, in_axes=(0,)))


def test_scan_batched_carry_and_xs():
    xs = RNG.standard_normal((3, 5, 2)).astype(np.float32)
    c0 = np.zeros((2,), np.float32)

    def f(c, xs):
        def step(c, x):
            c = c * 0.5 + x
            return c, xf.sum(c)

        return xf.scan(step, c, xs)

    _close(_both(xf.vmap(f, in_axes=(None, 0)), c0, xs), _loop(f, c0, xs, in_axes=(None, 0)))
    # mapped along the scanned axis's neighbour: xs batched on axis 1
    xs1 = np.moveaxis(xs, 0, 1)
    _close(_both(xf.vmap(f, in_axes=(None, 1)), c0, xs1), _loop(f, c0, xs, in_axes=(None, 0)))


def test_random_with_batched_keys():
    keys = xf.random.split(xf.random.key(0), 4)

    def f(k):
        return xf.random.normal(k, (3,)) + xf.random.uniform(k, (3,)), xf.random.permutation(k, 5)

    _close(_both(xf.vmap(f), keys), _loop(f, np.asarray(keys), in_axes=(0,)))


def test_windowed_conv_pad_slices():
    x = RNG.standard_normal((3, 1, 2, 6, 6)).astype(np.float32)  # members of NCHW images
    k = RNG.standard_normal((3, 4, 2, 3, 3)).astype(np.float32)  # per-member kernels

    def conv(x, k):
        return xf.nn.conv_general_dilated(x, k, window_strides=(1, 2), padding=((1, 1), (0, 1)))

    _close(_both(xf.vmap(conv, in_axes=(0, None)), x, k[0]),
           _loop(conv, x, k[0], in_axes=(0, None)), 1e-4)
    _close(_both(xf.vmap(conv), x, k), _loop(conv, x, k, in_axes=(0, 0)), 1e-4)
    _close(_both(xf.vmap(conv, in_axes=(None, 0)), x[0], k),
           _loop(conv, x[0], k, in_axes=(None, 0)), 1e-4)
    # per-member kernels are feature groups of one convolution, not a loop
    assert "scan" not in _prims_of(xf.trace(xf.vmap(conv))(x, k), set())

    def grouped(x, k):  # feature groups, channels-last layouts, batch axis not first
        return xf.nn.conv_general_dilated(x, k, window_strides=(1, 1), padding="SAME",
                                          dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                          feature_group_count=2)

    xg = RNG.standard_normal((2, 5, 5, 4, 3)).astype(np.float32)  # batch on axis 4
    kg = RNG.standard_normal((3, 3, 2, 6, 3)).astype(np.float32)
    for axes in ((4, 4), (4, None), (None, 4)):
        args = [a if ax is not None else np.take(a, 0, axis=4) for a, ax in zip((xg, kg), axes)]
        _close(_both(xf.vmap(grouped, in_axes=axes), *args),
               _loop(grouped, *args, in_axes=axes), 1e-4)

    v = RNG.standard_normal((3, 5)).astype(np.float32)
    i = np.array([0, 2, 9], dtype=np.int32)

    def dyn(v, i):
        from xfront.prims import indexing as ix, shape as sh

        s = ix.dynamic_slice(v, [i], slice_sizes=(2,))
        u = ix.dynamic_update_slice(v, s * 10.0, [i])
        p = sh.pad(v, np.float32(-1), lo=(1,), hi=(2,), interior=(1,))
        return s, u, sh.rev(p, axes=(0,))

    _close(_both(xf.vmap(dyn), v, i), _loop(dyn, v, i, in_axes=(0, 0)))
    assert "scan" not in _prims_of(xf.trace(xf.vmap(dyn))(v, i), set())
    big = np.array([0, 300, 2], dtype=np.uint16)  # unsigned starts clamp to the top
    _close(_both(xf.vmap(dyn), v, big), _loop(dyn, v, big, in_axes=(0, 0)))
    _close(_both(xf.vmap(dyn, in_axes=(None, 0)), v[0], i), _loop(dyn, v[0], i,
                                                                   in_axes=(None, 0)))
    _close(_both(xf.vmap(dyn, in_axes=(0, None)), v, i[1]), _loop(dyn, v, i[1],
                                                                   in_axes=(0, None)))


_LINALG_PRIMS = {"cholesky", "eigh", "lu", "qr", "svd", "triangular_solve", "fft"}
_HAND_TESTED |= _LINALG_PRIMS


def test_linalg_and_fft():
    """The factorizations (one rule: they map over leading axes) and the FFT, batch axis first
    and last; one program reaches every one of them."""
    a = RNG.standard_normal((3, 3, 3))
    spd = a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)  # members: positive-definite 3x3
    b = RNG.standard_normal((3, 3))

    def f(m, v):
        q, r = xf.linalg.qr(m)
        return {"chol": xf.linalg.cholesky(m), "eig": xf.linalg.eigvalsh(m),
                "solve": xf.linalg.solve(m, v[:, None])[:, 0], "r": xf.abs(r),
                "sv": xf.linalg.svdvals(m), "fft": xf.fft.fft(v)}

    assert _prims_of(xf.trace(xf.vmap(f))(spd, b), set()) >= _LINALG_PRIMS
    _close(_both(xf.vmap(f), spd, b), _loop(f, spd, b, in_axes=(0, 0)), 1e-9)
    last = np.moveaxis(spd, 0, -1)
    _close(_both(xf.vmap(f, in_axes=(-1, None)), last, b[0]),
           _loop(f, last, b[0], in_axes=(-1, None)), 1e-9)


def test_eager_vmap_compiles_once_per_signature():
    vf = xf.vmap(lambda x: x * 2.0)
    vf(np.ones((3, 2), np.float32))
    vf(np.ones((3, 2), np.float32))
    vf(np.ones((4, 2), np.float32))
    info = vf._compiled.cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_errors():
    x = np.ones((3, 2), np.float32)
    with pytest.raises(xf.ShapeError, match=r"xfront\.vmap: mapped axes have different sizes"):
        xf.vmap(lambda a, b: a + b)(x, np.ones((4, 2), np.float32))
    with pytest.raises(xf.ShapeError, match=r"in_axes 2 is out of range"):
        xf.vmap(lambda a: a, in_axes=2)(x)
    with pytest.raises(xf.ArgumentError, match=r"no argument is mapped"):
        xf.vmap(lambda a: a, in_axes=None)(x)
    with pytest.raises(xf.ArgumentError, match=r"in_axes has 2 entries"):
        xf.vmap(lambda a: a, in_axes=(0, 0))(x)
    with pytest.raises(xf.ArgumentError, match=r"out_axes is None for output 0"):
        xf.vmap(lambda a: a * 2, out_axes=None)(x)
    with pytest.raises(xf.ArgumentError, match=r"is a float, which has no axis 0 to map over"):
        xf.vmap(lambda a, s: a * s)(x, 2.0)
    with pytest.raises(xf.ArgumentError, match=r"expected a function"):
        xf.vmap(3)
    with pytest.raises(xf.DynamicShapeError):
        xf.vmap(xf.nonzero)(x)


def test_leading_batch_rule_for_new_primitives():
    """The one-line rule for a primitive that maps over leading axes (matrix factorizations...)."""
    from xfront._aval import AbstractArray
    from xfront.prims import reduction as red

    def abstract_eval(x):
        return AbstractArray(x.shape[:-1], x.dtype)

    p = _core.Primitive("test_vmap_rowsum", abstract_eval=abstract_eval,
                        ref=lambda x: np.sum(x, axis=-1),
                        lowering=lambda ctx, x: red.reduce_sum_p.lowering(
                            ctx, x, axes=(len(ctx.avals_in[0].shape) - 1,)))
    try:
        p.batch = _batching.leading_batch(p)
        x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
        f = lambda v: p.bind(v) * 2.0  # noqa: E731
        _close(_both(xf.vmap(f, in_axes=2), x), _loop(f, x, in_axes=(2,)))
        p.batch = None
        with pytest.raises(xf.BatchingError, match="`test_vmap_rowsum` has no batching"):
            xf.vmap(f)(x)
        p.batch = _batching.NotBatchable("it is a test")
        with pytest.raises(_batching.BatchingError, match="cannot be batched.*it is a test"):
            xf.vmap(f)(x)
    finally:
        _core.PRIMITIVES.pop("test_vmap_rowsum", None)


# --- vmap over a symbolic axis (NOTE [Batching over a symbolic axis] in xfront/_batching.py) ---

_W = np.linspace(-1, 1, 8, dtype=np.float32).reshape(4, 2)
SYMBOLIC = {  # name: (per-member function of a [4] row, NumPy function of the [n, 4] batch)
    "elementwise": (lambda r: xf.sin(r) * 2 + r, lambda x: np.sin(x) * 2 + x),
    "where": (lambda r: xf.where(r > 0.5, r, 0.0), lambda x: np.where(x > 0.5, x, 0)),
    "sum": (lambda r: xf.sum(r), lambda x: x.sum(1)),
    "max": (lambda r: xf.max(r, axis=0), lambda x: x.max(1)),
    "argmax": (lambda r: xf.argmax(r), lambda x: np.argmax(x, 1)),
    "matmul": (lambda r: r @ _W, lambda x: x @ _W),
    "vecdot": (lambda r: xf.vecdot(r, r), lambda x: (x * x).sum(1)),
    "outer": (lambda r: r[:, None] * r[None, :], lambda x: x[:, :, None] * x[:, None, :]),
    "reshape_transpose": (lambda r: xf.reshape(r, (2, 2)).T,
                          lambda x: x.reshape(-1, 2, 2).transpose(0, 2, 1)),
    "slice_concat": (lambda r: xf.concat([r[1:3], r[:1]]),
                     lambda x: np.concatenate([x[:, 1:3], x[:, :1]], 1)),
    "broadcast_to": (lambda r: xf.broadcast_to(r, (3, 4)),
                     lambda x: np.broadcast_to(x[:, None], (len(x), 3, 4))),
    "take": (lambda r: xf.take(r, xf.asarray([0, 2])), lambda x: x[:, [0, 2]]),
    "index_by_value": (lambda r: r[xf.argmax(r)], lambda x: x.max(1)),
    "cumulative_sum": (lambda r: xf.cumulative_sum(r), lambda x: np.cumsum(x, 1)),
    "sort": (lambda r: xf.sort(r), lambda x: np.sort(x, 1)),
    "roll": (lambda r: xf.roll(r, 1), lambda x: np.roll(x, 1, 1)),
    "grad": (lambda r: xf.grad(lambda y: xf.sum(y ** 3))(r), lambda x: 3 * x ** 2),
}


@pytest.mark.parametrize("name", sorted(SYMBOLIC))
def test_vmap_over_a_symbolic_axis(name):
    fn, ref = SYMBOLIC[name]
    traces = []

    def batched(x):
        traces.append(1)
        return xf.vmap(fn)(x)

    cf = xf.compile(batched, polymorphic=("b, _",))
    assert "b" in str(cf.trace(xf.Spec(("b", 4), xf.float32)))
    rng = np.random.default_rng(3)
    for n in (1, 3, 6):
        x = rng.random((n, 4)).astype(np.float32)
        np.testing.assert_allclose(np.asarray(cf(x)), ref(x), rtol=1e-5, atol=1e-5,
                                   err_msg=f"{name} at size {n}")
    assert len(traces) == 2  # the .trace above, then one trace for the three sizes


def test_vmap_over_a_symbolic_axis_names_a_primitive_it_cannot_batch():
    from xfront.prims import shape as _sh

    def f(x, v):  # a per-member padding value: pad's batch rule loops over the members
        return xf.vmap(lambda r, s: _sh.pad(r, s, lo=(1,), hi=(0,)))(x, v)

    with pytest.raises(_batching.BatchingError, match=r"primitive `pad` .*cannot be batched "
                                                      r"over the symbolic axis size `b`"):
        xf.compile(f, polymorphic=("b, _", "b"))(np.ones((3, 4), np.float32),
                                                  np.ones(3, np.float32))
    out = xf.compile(f)(np.ones((3, 4), np.float32), np.arange(3, dtype=np.float32))
    np.testing.assert_array_equal(np.asarray(out)[:, 0], [0, 1, 2])  # static sizes: fine
