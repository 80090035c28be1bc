"""Symbolic shapes: dimension expressions (xfront/_shapes.py), ``xf.Spec`` with symbol names,
``xf.compile(polymorphic=...)`` (trace and lower once, refine and compile per size)."""

import pickle

import numpy as np
import pytest

import xfront as xf
from xfront import _shapes
from xfront._shapes import InconclusiveDimensionError, symbol
from xfront.prims import indexing as _ix
from xfront.prims import reduction as _red

b, c = symbol("b"), symbol("c")


# --- dimension expressions -------------------------------------------------------------------

def test_expressions_normalize_print_and_hash():
    assert str(2 * b + 1) == "2*b + 1"
    assert str(b * c - 3) == "b*c - 3"
    assert str((b + 1) ** 2) == "b^2 + 2*b + 1"
    assert str(b // 2) == "floordiv(b, 2)" and str(b % 3) == "mod(b, 3)"
    assert str(_shapes.dim_max(b, 4)) == "max(4, b)"
    assert (2 * b) // 2 == b and (2 * b) % 2 == 0 and (b + 1) - b == 1
    assert type((b + 1) - b) is int  # constants come back as plain ints
    assert hash(2 * b) == hash(b + b) and {b * c: 1}[c * b] == 1
    assert _shapes.exact_div(3 * b * c, b) == 3 * c and _shapes.exact_div(3 * b, 2) is None
    for e in (2 * b + 1, b * c - 3, b // 2 + c % 3, _shapes.dim_min(b, c) + 1):
        assert _shapes.parse(str(e)) == e
        assert pickle.loads(pickle.dumps(e)) == e
    assert (b // 2 + c % 3).evaluate({"b": 7, "c": 5}) == 3 + 2
    # a constant modulo a symbol (a roll's shift): in [0, b - 1]
    r = -3 % b
    assert str(r) == "mod(-3, b)" and _shapes.parse(str(r)) == r
    assert [r.evaluate({"b": n}) for n in (1, 2, 5)] == [0, 1, 2]
    assert b - r >= 1 and r >= 0 and r < b


def test_evaluate_shape_at_concrete_sizes():
    env = {"b": 7, "c": 5}
    shape = (b, 3, 2 * b + 1, b // 2 + c % 3, _shapes.dim_max(b, c), 0)
    got = _shapes.evaluate_shape(shape, env)
    assert got == (7, 3, 15, 5, 7, 0) and all(type(n) is int for n in got)
    assert _shapes.evaluate_shape((), env) == () and _shapes.evaluate_shape((4, 1), {}) == (4, 1)
    with pytest.raises(xf.ShapeError, match=r"no value for symbol `c`"):
        _shapes.evaluate_shape((b, c), {"b": 2})


def test_comparisons_decide_or_raise_naming_the_symbols():
    assert b == b and b != 4 and not (b == 4)  # == compares normal forms
    assert b >= 1 and b + 1 > b and b < 2 ** 32 and 0 <= b - 1
    assert _shapes.dim_min(3, b) <= b and _shapes.dim_max(b, 4) >= b
    assert 2 * (b // 2) <= b and 2 * ((b + 1) // 2) - 1 <= b
    assert max(b - 1, 0) == b - 1  # builtin max works where the order is known
    for bad in (lambda: b > 4, lambda: b < c, lambda: bool(b - 1), lambda: int(b),
                lambda: b % c):
        with pytest.raises(InconclusiveDimensionError, match=r"symbolic dimensions: cannot "
                                                             r"decide .*b"):
            bad()
    assert issubclass(InconclusiveDimensionError, xf.XfrontError)
    assert issubclass(InconclusiveDimensionError, ValueError)


# --- tracing and lowering ----------------------------------------------------------------------

def _f(x, y):
    return xf.sum(x * 2.0 + y[:, None], axis=1)


def test_trace_prints_symbols_and_lower_shows_dynamic_dims():
    cf = xf.compile(_f)
    specs = (xf.Spec(("b", 4), xf.float32), xf.Spec("b", xf.float32))
    g = str(cf.trace(*specs))
    assert "a:f32[b,4], b:f32[b]" in g and "f32[b] = reduce_sum" in g
    text = cf.lower(*specs).as_text(pretty=False)
    assert "tensor<?x4xf32>" in text and "stablehlo.get_dimension_size" in text
    assert "dynamic_broadcast_in_dim" in text
    # the polymorphic compile shows the same module for concrete arguments
    pf = xf.compile(_f, polymorphic=("b, _", "b"))
    x, y = np.ones((3, 4), np.float32), np.ones(3, np.float32)
    assert "tensor<?x4xf32>" in pf.lower(x, y).as_text(pretty=False)
    # static shapes stay plain ints and static StableHLO
    st = xf.compile(_f).lower(x, y)
    assert all(type(d) is int for a in st.in_avals for d in a.shape)
    assert "?" not in st.text and "dynamic" not in st.text


def test_refinement_gives_static_modules():
    from xfront._aval import AbstractArray
    from xfront.lowering import runtime, specialize

    low = xf.compile(_f).lower(xf.Spec(("b", 4), xf.float32), xf.Spec(("b",), xf.float32))
    f32 = xf.float32
    text = runtime.refine_shapes(specialize(low, [AbstractArray((5, 4), f32),
                                                  AbstractArray((5,), f32)],
                                            [AbstractArray((5,), f32)]))
    assert "?" not in text and "_xf_poly" not in text and "tensor<5x4xf32>" in text


# --- one trace, many sizes: every shape-manipulating op ----------------------------------------

F = np.float32


def _np_at(x, idx, v):
    out = x.copy()
    np.add.at(out, idx, v)
    return out


def _np_set(x, idx):
    out = x.copy()
    out[idx] = 0
    return out


def _np_set_row(x, i):
    out = x.copy()
    out[i] = 0
    return out


def _cummax_grad_ref(x):
    # d/dx sum(cummax(x, 0)**2): each output's 2*y goes to the first position of its maximum
    out = np.zeros_like(x)
    for j in range(x.shape[1]):
        for i in range(x.shape[0]):
            k = int(np.argmax(x[: i + 1, j]))
            out[k, j] += 2 * x[k, j]
    return out

OPS = {  # name: (xfront fn, NumPy fn, argument shapes with symbols, polymorphic spec)
    "broadcasting": (lambda x, y: x + y[:, None], lambda x, y: x + y[:, None],
                     [("b", 4), ("b",)], ("b, _", "b")),
    "sum": (lambda x: xf.sum(x, axis=0), lambda x: x.sum(0), [("b", 4)], ("b, _",)),
    "mean": (lambda x: xf.mean(x, axis=0), lambda x: x.mean(0), [("b", 4)], ("b, _",)),
    "var": (lambda x: xf.var(x, axis=0, correction=1), lambda x: np.var(x, 0, ddof=1),
            [("b", 4)], ("b, _",)),
    "max": (lambda x: xf.max(x), lambda x: x.max(), [("b", 4)], ("b, _",)),
    "argmax": (lambda x: xf.argmax(x, axis=0), lambda x: np.argmax(x, 0), [("b", 4)],
               ("b, _",)),
    "reshape_split": (lambda x: xf.reshape(x, (-1, 2, 2)), lambda x: x.reshape(-1, 2, 2),
                      [("b", 4)], ("b, _",)),
    "reshape_flat": (lambda x: xf.reshape(x, (-1,)), lambda x: x.reshape(-1), [("b", 4)],
                     ("b, _",)),
    "transpose": (lambda x: x.T, lambda x: x.T, [("b", 4)], ("b, _",)),
    "moveaxis": (lambda x: xf.moveaxis(x, 0, 1), lambda x: np.moveaxis(x, 0, 1), [("b", 4)],
                 ("b, _",)),
    "expand_squeeze": (lambda x: xf.squeeze(xf.expand_dims(x, axis=1), axis=1), lambda x: x,
                       [("b", 4)], ("b, _",)),
    "concat": (lambda x, y: xf.concat([x, y], axis=0), lambda x, y: np.concatenate([x, y]),
               [("b", 4), ("c", 4)], ("b, _", "c, _")),
    "stack": (lambda x, y: xf.stack([x, y]), lambda x, y: np.stack([x, y]),
              [("b", 4), ("b", 4)], ("b, _", "b, _")),
    "flip": (lambda x: xf.flip(x, axis=0), lambda x: x[::-1], [("b", 4)], ("b, _",)),
    "slice_tail": (lambda x: x[1:], lambda x: x[1:], [("b", 4)], ("b, _",)),
    "slice_step": (lambda x: x[::2], lambda x: x[::2], [("b", 4)], ("b, _",)),
    "slice_rev": (lambda x: x[::-1, 1:3], lambda x: x[::-1, 1:3], [("b", 4)], ("b, _",)),
    "slice_head": (lambda x: x[:3], lambda x: x[:3], [("b", 4)], ("b, _",)),
    "index_last": (lambda x: x[-1], lambda x: x[-1], [("b", 4)], ("b, _",)),
    "pad": (lambda x: xf.pad(x, ((1, 2), (0, 1))), lambda x: np.pad(x, ((1, 2), (0, 1))),
            [("b", 4)], ("b, _",)),
    "broadcast_to": (lambda x, y: xf.broadcast_to(y, x.shape),
                     lambda x, y: np.broadcast_to(y, x.shape), [("b", 4), (4,)], ("b, _",)),
    "zeros_like": (lambda x: xf.zeros_like(x) + 1, lambda x: np.zeros_like(x) + 1, [("b", 4)],
                   ("b, _",)),
    "matmul": (lambda x, w: x @ w, lambda x, w: x @ w, [("b", 4), (4, 3)], ("b, _",)),
    "matmul_contract": (lambda x: x.T @ x, lambda x: x.T @ x, [("b", 4)], ("b, _",)),
    "sort": (lambda x: xf.sort(x, axis=0), lambda x: np.sort(x, 0), [("b", 4)], ("b, _",)),
    "where": (lambda x: xf.where(x > 0.5, x, 0.0), lambda x: np.where(x > 0.5, x, 0.0),
              [("b", 4)], ("b, _",)),
    "softmax": (lambda x: xf.exp(x) / xf.sum(xf.exp(x), axis=1, keepdims=True),
                lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True), [("b", 4)], ("b, _",)),
    "tile": (lambda x: xf.tile(x, (2, 1)), lambda x: np.tile(x, (2, 1)), [("b", 4)], ("b, _",)),
    "repeat": (lambda x: xf.repeat(x, 2, axis=0), lambda x: np.repeat(x, 2, axis=0),
               [("b", 4)], ("b, _",)),
    "take": (lambda x: xf.take(x, xf.asarray([0, 1]), axis=0), lambda x: x[[0, 1]],
             [("b", 4)], ("b, _",)),
    "outer": (lambda x: x[:, None, :] * x[None, :, :], lambda x: x[:, None, :] * x[None, :, :],
              [("b", 4)], ("b, _",)),
    "astype": (lambda x: xf.astype(x, xf.float64), lambda x: x.astype(np.float64), [("b", 4)],
               ("b, _",)),
    "grad": (lambda x: xf.grad(lambda y: xf.sum(y * y))(x), lambda x: 2 * x, [("b", 4)],
             ("b, _",)),
    "cumulative_sum": (lambda x: xf.cumulative_sum(x, axis=0, include_initial=True),
                       lambda x: np.concatenate([np.zeros((1, 4), F), np.cumsum(x, 0)]),
                       [("b", 4)], ("b, _",)),
    "cumulative_prod": (lambda x: xf.cumulative_prod(x + 0.5, axis=1),
                        lambda x: np.cumprod(x + 0.5, 1), [("b", "c")], ("b, c",)),
    "cummax_reverse": (lambda x: _red.cummax(x, axis=0, reverse=True),
                       lambda x: np.maximum.accumulate(x[::-1], 0)[::-1], [("b", 4)], ("b, _",)),
    "cummin": (lambda x: _red.cummin(x, axis=0), lambda x: np.minimum.accumulate(x, 0),
               [("b", 4)], ("b, _",)),
    "grad_cumprod": (lambda x: xf.grad(lambda y: xf.sum(xf.cumulative_prod(y, axis=0)))(x + 0.5),
                     lambda x: np.array([[np.sum(np.cumprod(np.where(np.arange(len(x)) == i,
                                                                     1.0, x[:, j] + 0.5))
                                                 [i:]) for j in range(4)]
                                         for i in range(len(x))]),
                     [("b", 4)], ("b, _",)),
    "grad_cummax": (lambda x: xf.grad(lambda y: xf.sum(_red.cummax(y, axis=0) ** 2))(x),
                    lambda x: _cummax_grad_ref(x), [("b", 4)], ("b, _",)),
    "roll": (lambda x: xf.roll(x, 3, axis=0), lambda x: np.roll(x, 3, axis=0), [("b", 4)],
             ("b, _",)),
    "roll_two_axes": (lambda x: xf.roll(x, (-1, 5), axis=(0, 1)),
                      lambda x: np.roll(x, (-1, 5), axis=(0, 1)), [("b", "c")], ("b, c",)),
    "roll_flat": (lambda x: xf.roll(x, 2), lambda x: np.roll(x, 2), [("b", 4)], ("b, _",)),
    "prod_any_all": (lambda x: xf.prod(x + 0.5, axis=0) * xf.any(x > 0.5, axis=0)
                     * xf.all(x > 0.1, axis=0),
                     lambda x: np.prod(x + 0.5, 0) * np.any(x > 0.5, 0) * np.all(x > 0.1, 0),
                     [("b", 4)], ("b, _",)),
    "min_argmin": (lambda x: xf.min(x, axis=0) + xf.argmin(x, axis=0),
                   lambda x: x.min(0) + np.argmin(x, 0), [("b", 4)], ("b, _",)),
    "scatter_add": (lambda x: x.at[xf.asarray([0, -1])].add(1.0),
                    lambda x: _np_at(x, [0, -1], 1.0), [("b", 4)], ("b, _",)),
    "dynamic_slice": (lambda x: x[xf.argmax(x[:, 0])], lambda x: x[np.argmax(x[:, 0])],
                      [("b", 4)], ("b, _",)),
    "dynamic_update_slice": (lambda x: _ix.dynamic_update_slice(
                                 x, xf.zeros((1, 4), dtype=xf.float32),
                                 [xf.argmax(x[:, 0]), xf.asarray(0, dtype=xf.int64)]),
                             lambda x: _np_set_row(x, np.argmax(x[:, 0])), [("b", 4)],
                             ("b, _",)),
    "at_set_slice": (lambda x: x.at[1:3].set(0.0), lambda x: _np_set(x, np.s_[1:3]),
                     [("b", 4)], ("b, _",)),
    "at_set_tail": (lambda x: x.at[-2:, ::2].set(0.0), lambda x: _np_set(x, np.s_[-2:, ::2]),
                    [("b", 4)], ("b, _",)),
    "at_set_row": (lambda x: x.at[xf.argmax(x[:, 0])].set(xf.zeros(4)),
                   lambda x: _np_set_row(x, np.argmax(x[:, 0])), [("b", 4)], ("b, _",)),
    "arange": (lambda x: x[: x.shape[0] // 2]
               + xf.astype(xf.arange(1, x.shape[0], 2), xf.float32)[: x.shape[0] // 2, None],
               lambda x: x[: len(x) // 2] + np.arange(1, len(x), 2)[: len(x) // 2, None],
               [("b", 4)], ("b, _",)),
    "two_symbols": (lambda x: xf.reshape(x, (-1,))[: x.shape[0]], lambda x: x.reshape(-1)[:len(x)],
                    [("b", "c")], ("b, c",)),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_one_trace_serves_every_size(name):
    fn, ref, shapes, poly = OPS[name]
    traces = []

    def counted(*a):
        traces.append(1)
        return fn(*a)

    cf = xf.compile(counted, polymorphic=poly)
    rng = np.random.default_rng(0)
    sizes = (2, 3, 5)
    for n in sizes:
        args = [rng.random(tuple(n if d == "b" else n + 1 if d == "c" else d for d in s))
                .astype(F) for s in shapes]
        out = cf(*args)
        np.testing.assert_allclose(np.asarray(out), ref(*args), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} at size {n}")
    assert len(traces) == 1, f"{name}: traced {len(traces)} times for {len(sizes)} sizes"
    info = cf.cache_info()
    assert info.misses == len(sizes) and info.entries == len(sizes)
    cf(*args)  # a repeated size is a cache hit
    assert cf.cache_info().hits == 1 and len(traces) == 1


# the primitives that build, move or reduce shapes: each must appear in the table above
SHAPE_PRIMITIVES = {
    "broadcast_in_dim", "reshape", "transpose", "rev", "slice", "pad", "concatenate", "iota",
    "dimension_size", "gather", "scatter", "dynamic_slice", "dynamic_update_slice",
    "reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and", "reduce_or",
    "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "sort", "dot_general",
}


def test_the_table_covers_every_shape_primitive():
    from xfront import _core

    assert SHAPE_PRIMITIVES <= set(_core.PRIMITIVES)
    used = set()

    def walk(g):
        for e in g.eqns:
            used.add(e.prim.name)
            for v in e.params.values():
                for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                    if hasattr(sub, "eqns"):
                        walk(sub)

    for fn, _, shapes, _ in OPS.values():
        walk(xf.compile(fn).trace(*[xf.Spec(tuple(s), F) for s in shapes]).graph)
    assert not SHAPE_PRIMITIVES - used, f"no symbolic row uses {sorted(SHAPE_PRIMITIVES - used)}"


def test_xfront_array_arguments_take_the_fast_path():
    cf = xf.compile(lambda x: x * 2, polymorphic=("b",))
    for n in (1, 4, 4, 7):
        x = xf.asarray(np.arange(n, dtype=F))
        np.testing.assert_array_equal(np.asarray(cf(x)), np.arange(n, dtype=F) * 2)
    assert cf.cache_info().misses == 3 and cf.cache_info().hits == 1


def _counting(fn):
    traces = []

    def counted(*a, **k):
        traces.append(1)
        return fn(*a, **k)

    counted.__signature__ = __import__("inspect").signature(fn)
    return counted, traces


def test_polymorphic_keywords_and_pytrees():
    rng = np.random.default_rng(0)
    w, bias = rng.random((4, 3)).astype(F), rng.random(3).astype(F)

    def layer(x, params, *, scale):
        return {"y": xf.tanh(x @ params["w"] + params["b"]) * scale[:, None],
                "n": xf.sum(params["rows"], axis=0)}

    # a dict by parameter name: a keyword-only argument, and a pytree argument whose spec
    # mirrors its dict (the keys it leaves out stay static)
    fn, traces = _counting(layer)
    cf = xf.compile(fn, polymorphic={"x": "b, _", "scale": "b", "params": {"rows": "r, _"}})
    for n in (1, 3, 6):
        x, sc, rows = (rng.random((n, 4)).astype(F), rng.random(n).astype(F),
                       rng.random((n + 2, 3)).astype(F))
        out = cf(x, {"w": w, "b": bias, "rows": rows}, scale=sc)
        np.testing.assert_allclose(np.asarray(out["y"]), np.tanh(x @ w + bias) * sc[:, None],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.asarray(out["n"]), rows.sum(0), rtol=1e-5)
    assert len(traces) == 1 and cf.cache_info().misses == 3
    # a positional spec also serves its argument passed by keyword; a string spec applies to
    # every leaf of a list argument
    fn, traces = _counting(lambda x, ys: x + ys[0] * ys[1])
    cf = xf.compile(fn, polymorphic=("b", "b"))
    for n in (2, 5):
        x, y0, y1 = (rng.random(n).astype(F) for _ in range(3))
        np.testing.assert_allclose(np.asarray(cf(ys=[y0, y1], x=x)), x + y0 * y1, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(cf(x, [y0, y1])), x + y0 * y1, rtol=1e-6)
    assert len(traces) == 2  # one per argument structure (keywords vs positions), not per size
    with pytest.raises(xf.ArgumentError, match=r"spec of args\[0\] names key\(s\) \['z'\]"):
        xf.compile(lambda d: d["a"], polymorphic=({"z": "b"},))({"a": np.ones(2, F)})
    with pytest.raises(xf.ArgumentError, match=r"spec \('b', 'c', 'd'\) of args\[0\] does not "
                                               r"match the argument's structure \[\*, \*\]"):
        xf.compile(lambda d: d[0], polymorphic=(("b", "c", "d"),))([np.ones(2, F)] * 2)
    with pytest.raises(xf.ArgumentError, match=r"symbolic dimension `b` is 2 in argument "
                                               r"args\[0\]\[0\] \(axis 0\) but 3 in argument "
                                               r"args\[0\]\[1\]"):
        xf.compile(lambda d: d[0], polymorphic=("b",))([np.ones(2, F), np.ones(3, F)])


def test_polymorphic_donation_consumes_the_buffer_at_every_size():
    cf = xf.compile(lambda x, y: (x * 2 + y, xf.sum(y)), polymorphic=("b, _", "b, _"),
                    donate_argnums=0)
    assert "jax.buffer_donor = true" in cf.lower(xf.Spec(("b", 3), F), xf.Spec(("b", 3), F)).text
    rng = np.random.default_rng(2)
    for n in (2, 5, 9):
        xn, yn = rng.random((n, 3)).astype(F), rng.random((n, 3)).astype(F)
        x, y = xf.asarray(xn), xf.asarray(yn)
        ptr = x.unsafe_buffer_pointer()
        out, total = cf(x, y)
        np.testing.assert_allclose(np.asarray(out), xn * 2 + yn, rtol=1e-6)
        np.testing.assert_allclose(float(total), yn.sum(), rtol=1e-5)
        assert out.unsafe_buffer_pointer() == ptr  # written into the donated buffer
        with pytest.raises(xf.ArgumentError, match=r"was donated"):
            np.asarray(x)
        np.testing.assert_array_equal(np.asarray(y), yn)  # not donated: still usable
    assert cf.cache_info().misses == 3


@pytest.fixture
def small_pool(monkeypatch):
    """Outputs from 4 KiB up go through the output buffer pool (its donating variant)."""
    from xfront import _array, _eager
    from xfront.lowering import runtime

    if not runtime.POOL_ENABLED:
        pytest.skip("the output buffer pool is switched off")
    for mod, name in ((runtime, "POOL_MIN_BYTES"), (_array, "_POOL_MIN"), (_eager, "_POOL_MIN")):
        if hasattr(mod, name):
            monkeypatch.setattr(mod, name, 4096)


def test_polymorphic_outputs_into_recycled_buffers(small_pool):
    # large outputs are written into pooled buffers by a second program variant: for a
    # polymorphic entry it is built from the refined module, not the symbolic graph
    from xfront._compile import _PolyProgram

    cf = xf.compile(lambda x: x * 2, polymorphic=("b, _",))
    x = xf.asarray(np.ones((64, 32), F))
    for _ in range(3):
        y = cf(x)
        np.testing.assert_array_equal(np.asarray(y), 2)
        del y
    prog = next(iter(cf._cache.values())).exe
    assert isinstance(prog, _PolyProgram) and prog._donor_exe is not None


def test_pool_fed_variant_of_a_static_and_a_polymorphic_program(small_pool):
    # one _compile_donor for both kinds of program; each lowers its variant its own way (the
    # polymorphic one from its refined module: static shapes only)
    from xfront._compile import _PolyProgram

    x = np.linspace(-1, 1, 64 * 32, dtype=F).reshape(64, 32)
    for poly in (None, ("b, _",)):
        cf = xf.compile(lambda x: x * 2, polymorphic=poly)
        np.testing.assert_array_equal(np.asarray(cf(x)), 2 * x)
        prog = next(iter(cf._cache.values())).exe
        assert isinstance(prog, _PolyProgram) == (poly is not None) and prog.pool_outs == [0]
        exe = prog._compile_donor()
        assert prog._donor_exe is exe
        low = prog.lower_variant({1: 0}, [prog.out_avals[0]])
        assert "tf.aliasing_output = 0" in low.text and "?x" not in low.text
        assert [a.shape for a in low.in_avals] == [(64, 32), (64, 32)]
        donor = xf.asarray(np.zeros((64, 32), F))
        (out,) = exe.execute([xf.asarray(x)._buf, donor._buf])
        np.testing.assert_array_equal(np.asarray(out), 2 * x)

# --- errors ----------------------------------------------------------------------------------

def test_reshape_that_needs_a_divisibility_fact_names_the_symbol():
    cf = xf.compile(lambda x: xf.reshape(x, (4, -1)), polymorphic=("b, _",))
    with pytest.raises(xf.ShapeError, match=r"reshape.*f32\[b,3\].*\(4, -1\).*3\*b.*not known "
                                            r"to be divisible by 4.*symbolic dimension\(s\) b"):
        cf(np.ones((4, 3), F))
    with pytest.raises(xf.ShapeError, match=r"reshape.*\(b, 4\).*symbolic dimension\(s\) b"):
        xf.compile(lambda x: xf.reshape(x, (x.shape[0], 4))).trace(xf.Spec(("b", 3), F))


def test_a_primitive_that_needs_static_sizes_is_named():
    # a LAPACK custom call cannot be refined: the error names the primitive and the operands
    cf = xf.compile(lambda x: xf.linalg.cholesky(x), polymorphic=("b, _, _",))
    with pytest.raises(InconclusiveDimensionError, match=r"primitive `cholesky` .*does not lower "
                                                         r"with symbolic dimensions yet \(operands "
                                                         r"f32\[b,2,2\]\)"):
        cf(np.eye(2, dtype=F)[None].repeat(3, 0))
    # an op that needs a concrete size at trace time points at the user's line
    with pytest.raises(InconclusiveDimensionError, match=r"integer value of `b`(.|\n)*"
                                                         r"at test_symbolic.py:\d+"):
        xf.compile(lambda x: xf.fft.fft(x, axis=0), polymorphic=("b",))(np.ones(3, F))


def test_a_library_call_in_a_nested_region_is_named():
    # the refusal is decided where the custom call would be emitted, also inside a branch;
    # the same program with static shapes compiles and runs
    def f(x):
        return xf.cond(x[0, 0, 0] > 0, lambda y: xf.linalg.cholesky(y), lambda y: y, x)

    x = (np.eye(2, dtype=F) * 4)[None].repeat(3, 0)
    with pytest.raises(InconclusiveDimensionError, match=r"primitive `cholesky` .*does not lower "
                                                         r"with symbolic dimensions yet \(operands "
                                                         r"f32\[b,2,2\]\).*library call"):
        xf.compile(f, polymorphic=("b, _, _",))(x)
    np.testing.assert_allclose(np.asarray(xf.compile(f)(x)), np.linalg.cholesky(x), rtol=1e-6)


def test_broadcast_of_unequal_symbols_fails_at_trace_time():
    with pytest.raises(xf.ShapeError):
        xf.compile(lambda x, y: x + y).trace(xf.Spec(("b",), F), xf.Spec(("c",), F))
    with pytest.raises(InconclusiveDimensionError, match=r"cannot decide 3 < b|b > 3|b"):
        xf.compile(lambda x: x[3]).trace(xf.Spec(("b",), F))


def test_call_sizes_that_break_a_symbol_are_named():
    cf = xf.compile(lambda x, y: x + y, polymorphic=("b", "b"))
    with pytest.raises(xf.ArgumentError, match=r"symbolic dimension `b` is 3 in argument args\[0\] "
                                               r"\(axis 0\) but 4 in argument args\[1\]"):
        cf(np.ones(3, F), np.ones(4, F))
    with pytest.raises(xf.ArgumentError, match=r"has 2 axes, but the argument is f32\[3\]"):
        xf.compile(lambda x: x, polymorphic=("b, _",))(np.ones(3, F))
    with pytest.raises(xf.ArgumentError, match=r"symbolic dimension `b` \(axis 0\) must be >= 1"):
        xf.compile(lambda x: x, polymorphic=("b",))(np.ones(0, F))
    with pytest.raises(xf.ArgumentError, match=r"each axis must be a symbol name or '_'"):
        xf.compile(lambda x: x, polymorphic=("2*b",))
    with pytest.raises(xf.ShapeError, match=r"Spec.*dimension None"):
        xf.Spec((None, 3), F)


# --- TF and Keras: unknown dimensions (NOTE [Unknown TF dimensions]) ----------------------------

@xf.compile
def _dense_tanh(x, w, b):
    return xf.tanh(x @ w + b)


@pytest.mark.parametrize("jit", [False, True])
def test_tf_function_with_none_dims_forward_and_backward(jit):
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(1)
    w = tf.Variable(rng.random((4, 3)).astype(F))
    bias = np.zeros(3, F)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)], jit_compile=jit)
    def f(x):
        with tf.GradientTape() as t:
            y = _dense_tanh(x, w, bias)
            loss = tf.reduce_sum(y)
        return y, t.gradient(loss, w)

    graph = f.get_concrete_function().graph
    assert [op.type for op in graph.get_operations()].count("XlaCallModule") == 2  # fwd + bwd
    for n in (1, 5, 7):
        x = rng.random((n, 4)).astype(F)
        y, gw = f(x)
        t = np.tanh(x @ w.numpy())
        np.testing.assert_allclose(y.numpy(), t, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(gw.numpy(), x.T @ (1 - t ** 2), rtol=1e-4, atol=1e-5)


def test_tf_arguments_that_share_a_symbol_must_agree_at_run_time():
    tf = pytest.importorskip("tensorflow")
    cf = xf.compile(lambda x, y: x * y[:, None])

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32),
                                  tf.TensorSpec([None], tf.float32)])
    def f(x, y):
        return cf(x, y)

    np.testing.assert_array_equal(f(np.ones((3, 4), F), np.full(3, 2, F)).numpy(), 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"symbolic dimension `batch` .*"
                                                             r"argument #1 \(axis 0\) and "
                                                             r"argument #0 \(axis 0\) differ"):
        f(np.ones((3, 4), F), np.ones(5, F))


def test_sharded_compile_refuses_polymorphic():
    with pytest.raises(xf.ArgumentError, match=r"polymorphic= cannot be combined with "
                                               r"in_shardings/out_shardings"):
        xf.compile(lambda x: x, in_shardings=object(), polymorphic=("b",))


def test_keras_layer_builds_on_none_fits_predicts_and_exports(tmp_path):
    keras = pytest.importorskip("keras")
    tf = pytest.importorskip("tensorflow")

    class XDense(keras.layers.Layer):  # no compute_output_shape
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, x):
            return _dense_tanh(x, self.w, self.b)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 4)).astype(F)  # batches of 32, 32 and a last one of 6
    y = np.sin(x @ rng.standard_normal((4, 1))).astype(F)
    model = keras.Sequential([keras.Input((4,)), XDense(16), keras.layers.Dense(1)])
    assert model.output_shape == (None, 1)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before
    pred = model.predict(x[:5], verbose=0)
    assert pred.shape == (5, 1)
    model.export(str(tmp_path / "sm"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "sm"))  # (kept alive while it serves)
    served = loaded.serve(x[:3]).numpy()
    np.testing.assert_allclose(served, pred[:3], rtol=1e-5, atol=1e-6)


# --- torch.compile with symbolic sizes (NOTE [Symbolic sizes under torch.compile]) ---------------

def test_torch_compile_dynamic_one_graph_for_every_batch_size():
    torch = pytest.importorskip("torch")
    from torch._dynamo.testing import CompileCounter

    cf = xf.compile(lambda x, w: xf.tanh(x @ w)[:, :2] * 2.0)
    w = torch.randn(4, 3)

    def f(x):
        return cf(x, w) + 1

    def ref(x):
        return torch.tanh(x @ w)[:, :2] * 2 + 1

    cnt = CompileCounter()
    g = torch.compile(f, backend=cnt, dynamic=True)
    for n in (2, 3, 5, 8):
        x = torch.randn(n, 4)
        torch.testing.assert_close(g(x), ref(x), atol=1e-5, rtol=1e-5)
    assert cnt.frame_count == 1  # one Dynamo graph for four batch sizes

    cnt = CompileCounter()
    h = torch.compile(f, backend=cnt)
    for n in (2, 3, 5):
        x = torch.randn(n, 4)
        torch._dynamo.mark_dynamic(x, 0)
        torch.testing.assert_close(h(x), ref(x), atol=1e-5, rtol=1e-5)
    assert cnt.frame_count == 1


@pytest.mark.parametrize("backend", ["aot_eager", "eager"])
def test_torch_compile_training_one_graph_one_trace_for_every_batch_size(backend):
    # calls that record gradients plan their VJP polymorphically too (NOTE [Polymorphic
    # gradient plans] in xfront/bridges/_autograd.py): one Dynamo frame, one xfront trace
    torch = pytest.importorskip("torch")
    from torch._dynamo.testing import CompileCounterWithBackend

    traces = []

    def f(x, w):
        traces.append(1)
        return xf.tanh(x @ w)[:, :2] * 2.0

    cf = xf.compile(f)
    wg = torch.randn(4, 3, requires_grad=True)
    cnt = CompileCounterWithBackend(backend)
    lc = torch.compile(lambda x: (cf(x, wg) ** 2).sum(), backend=cnt, dynamic=True)
    for n in (2, 3, 5, 7):
        x = torch.randn(n, 4, requires_grad=True)
        lc(x).backward()
        gw, gx = wg.grad.clone(), x.grad.clone()
        wg.grad = None
        x2 = x.detach().clone().requires_grad_()
        ((torch.tanh(x2 @ wg)[:, :2] * 2) ** 2).sum().backward()
        torch.testing.assert_close(gw, wg.grad, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(gx, x2.grad, atol=1e-4, rtol=1e-4)
        wg.grad = None
    assert cnt.frame_count == 1 and len(traces) == 1
    assert len(cf._grad_plans) == 1 and next(iter(cf._grad_plans.values())).poly


def test_torch_autograd_with_polymorphic_compile_traces_once():
    torch = pytest.importorskip("torch")
    from xfront import _eager

    fn, traces = _counting(lambda x, w, b: xf.tanh(x @ w + b))
    cf = xf.compile(fn, polymorphic=("b, _",))
    w = torch.randn(4, 3, requires_grad=True)
    bias = torch.randn(3, requires_grad=True)
    compiles = _eager.STATS.compiles
    for n in (2, 3, 5, 3):
        x = torch.randn(n, 4, requires_grad=True)
        (cf(x, w, bias) ** 2).sum().backward()
        got = [t.grad.clone() for t in (x, w, bias)]
        w.grad = bias.grad = None
        ref = [t.detach().clone().requires_grad_() for t in (x, w, bias)]
        (torch.tanh(ref[0] @ ref[1] + ref[2]) ** 2).sum().backward()
        for g, r in zip(got, ref):
            torch.testing.assert_close(g, r.grad, atol=1e-5, rtol=1e-5)
    assert len(traces) == 1 and len(cf._grad_plans) == 1
    assert _eager.STATS.compiles - compiles == 6  # forward and backward per distinct size


def test_torch_dynamic_sizes_that_need_an_unproved_equality_are_specialized():
    torch = pytest.importorskip("torch")
    # dynamic=True gives the equal sizes w.shape[1] and b.shape[0] distinct torch symbols:
    # x @ w + b cannot be proved to broadcast, so the call specializes its sizes (still right)
    cf = xf.compile(lambda x, w, b: xf.tanh(x @ w + b))
    g = torch.compile(lambda x, w, b: cf(x, w, b) * 2, backend="eager", dynamic=True)
    for n, h in ((2, 3), (4, 5)):
        x, w, b = torch.randn(n, 4), torch.randn(4, h), torch.randn(h)
        torch.testing.assert_close(g(x, w, b), torch.tanh(x @ w + b) * 2, atol=1e-5, rtol=1e-5)


def test_export_of_symbolic_specs_is_polymorphic():
    # one artifact for every b (tests/test_export.py covers the format, TF and errors)
    exp = xf.export(lambda x: x + 1, xf.Spec(("b", 3), xf.float32))
    assert exp.symbols == ("b",)
    for n in (1, 4):
        np.testing.assert_array_equal(np.asarray(exp(np.zeros((n, 3), np.float32))),
                                      np.ones((n, 3), np.float32))
