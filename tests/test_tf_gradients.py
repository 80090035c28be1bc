"""Compiled xfront functions under tf.GradientTape: finite differences, TF's own gradients,
tf.function (an XlaCallModule pair under tf.custom_gradient), Keras model.fit, and the plain
forward when no tape watches the inputs."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
tf = pytest.importorskip("tensorflow",
                         reason="tensorflow is not installed (pip install -e '.[tf]')")

import xfront as xf  # noqa: E402
from xfront import _autodiff  # noqa: E402
from xfront.bridges import _autograd  # noqa: E402


@xf.compile
def _model(x, w, b, scale, labels):
    h = xf.tanh(x @ w + b)
    picked = xf.sum(h * xf.astype(labels[:, None] == xf.arange(h.shape[1]), h.dtype), axis=1)
    return xf.sum(xf.exp(picked) * scale), xf.argmax(h, axis=-1)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((4, 3)), rng.standard_normal((3, 5)),
            rng.standard_normal(5) * 0.1, np.array([0, 4, 2, 2]))


def _finite_differences(f, args, i, eps=1e-6):
    """d f / d args[i] by central differences (f takes and returns NumPy)."""
    base = [np.array(a, dtype=np.float64) for a in args]
    g = np.zeros_like(base[i])
    for k in np.ndindex(base[i].shape):
        plus = [a.copy() for a in base]
        minus = [a.copy() for a in base]
        plus[i][k] += eps
        minus[i][k] -= eps
        g[k] = (f(*plus) - f(*minus)) / (2 * eps)
    return g


def test_gradient_tape_matches_finite_differences():
    x, w, b, labels = _inputs()
    tx, tb = tf.constant(x), tf.constant(b)
    tw = tf.Variable(w)
    with tf.GradientTape() as tape:
        tape.watch([tx, tb])
        loss, idx = _model(tx, tw, tb, 0.5, tf.constant(labels))
    gx, gw, gb = tape.gradient(loss, [tx, tw, tb])
    assert idx.dtype == tf.int64
    f = lambda x, w, b: float(_model(x, w, b, 0.5, labels)[0])  # noqa: E731
    for got, i in ((gx, 0), (gw, 1), (gb, 2)):
        np.testing.assert_allclose(got.numpy(), _finite_differences(f, (x, w, b), i),
                                   rtol=1e-6, atol=1e-8)


def test_gradients_match_tf_and_integer_outputs_carry_zero():
    x, w, b, labels = _inputs(1)
    tw, tb = tf.Variable(w), tf.Variable(b)
    with tf.GradientTape(persistent=True) as tape:
        loss, idx = _model(tf.constant(x), tw, tb, 0.5, labels)
        h = tf.tanh(x @ tw + tb)
        ref = tf.reduce_sum(tf.exp(tf.gather(h, labels, batch_dims=1)) * 0.5)
    np.testing.assert_allclose(loss.numpy(), ref.numpy(), rtol=1e-12)
    for got, want in zip(tape.gradient(loss, [tw, tb]), tape.gradient(ref, [tw, tb])):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
    g = tape.gradient(idx, tw)  # the integer output is recorded with the op: a zero gradient
    assert g is None or not np.any(g.numpy())


def test_only_one_of_several_outputs_used():
    @xf.compile
    def f(a):
        return xf.sin(a), xf.cos(a)

    a = tf.Variable([0.1, 0.7, -1.2], dtype=tf.float64)
    with tf.GradientTape() as tape:
        s, _ = f(a)
    np.testing.assert_allclose(tape.gradient(s, a).numpy(), np.cos(a.numpy()))


def test_plain_forward_runs_without_a_tape(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the residual-saving forward ran")

    monkeypatch.setattr(_autodiff.CompiledVJP, "forward", fail)
    monkeypatch.setattr(_autograd, "call", fail)
    f = xf.compile(lambda a: xf.sum(xf.exp(a)))
    a = tf.constant([0.0, 1.0])
    assert float(f(a)) == pytest.approx(1 + np.e)
    with tf.GradientTape() as tape:  # a tape that does not watch ``a``
        out = f(a)
    assert tape.gradient(out, a) is None and not f._grad_plans
    monkeypatch.undo()
    with tf.GradientTape() as tape:
        tape.watch(a)
        out = f(a)
    np.testing.assert_allclose(tape.gradient(out, a).numpy(), np.exp([0.0, 1.0]), rtol=1e-6)
    assert len(f._grad_plans) == 1


def test_eager_namespace_functions_under_a_tape_are_a_clear_error():
    a = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(a)
        with pytest.raises(xf.ArgumentError, match=r"xfront.sin: .* watched by a GradientTape"):
            xf.sin(a)
        assert float(xf.sum(xf.sin(tf.stop_gradient(a)))) == pytest.approx(np.sin([1, 2]).sum())


# --- tf.function ---------------------------------------------------------------------------------

def _xla_call_modules(concrete) -> int:
    return sum(op.type == "XlaCallModule" for op in concrete.graph.get_operations())


@pytest.mark.parametrize("jit_compile", [None, True])
def test_tf_function_with_tape_inside(jit_compile):
    x, w, b, labels = _inputs(2)
    tw = tf.Variable(w)

    @tf.function(jit_compile=jit_compile)
    def step(x, b):
        with tf.GradientTape() as tape:
            tape.watch(b)
            loss, _ = _model(x, tw, b, 0.5, labels)
        return loss, tape.gradient(loss, [tw, b])

    tx, tb = tf.constant(x), tf.constant(b)
    loss, (gw, gb) = step(tx, tb)
    with tf.GradientTape() as tape:  # eager reference (the xfront eager gradient path)
        tape.watch(tb)
        ref, _ = _model(tx, tw, tb, 0.5, labels)
    rw, rb = tape.gradient(ref, [tw, tb])
    np.testing.assert_allclose(loss.numpy(), ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gw.numpy(), rw.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gb.numpy(), rb.numpy(), rtol=1e-10)
    # forward and backward are two staged modules; the backward does not recompute the forward
    assert _xla_call_modules(step.get_concrete_function(tx, tb)) == 2


def test_tf_function_called_under_a_tape():
    x, w, b, labels = _inputs(3)
    tw = tf.Variable(w)
    fwd = tf.function(lambda x: _model(x, tw, b, 0.5, labels)[0])
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        loss = fwd(tx)
    gx, gw = tape.gradient(loss, [tx, tw])
    f = lambda x, w: float(_model(x, w, b, 0.5, labels)[0])  # noqa: E731
    np.testing.assert_allclose(gx.numpy(), _finite_differences(f, (x, w), 0), rtol=1e-6)
    np.testing.assert_allclose(gw.numpy(), _finite_differences(f, (x, w), 1), rtol=1e-6)
    assert _xla_call_modules(fwd.get_concrete_function(tx)) == 1  # no gradient: forward only


def test_tf_function_integer_inputs_stage_the_plain_module():
    @xf.compile
    def count(a, n):
        return xf.sum(xf.astype(a > n, xf.int32))

    f = tf.function(lambda a: count(a, 2))
    a = tf.constant([1, 2, 3, 4])
    assert int(f(a)) == 2
    ops = [op.type for op in f.get_concrete_function(a).graph.get_operations()]
    assert ops.count("XlaCallModule") == 1 and "IdentityN" not in ops  # no custom gradient


# --- Keras --------------------------------------------------------------------------------------

@xf.compile
def _dense_tanh(x, w, b):
    return xf.tanh(x @ w + b)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_keras_fit_with_an_xfront_layer_decreases_the_loss(run_eagerly):
    keras = pytest.importorskip("keras")

    class XDense(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="glorot_uniform")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros")

        def call(self, x):
            return _dense_tanh(x, self.w, self.b)

        def compute_output_shape(self, input_shape):
            return tuple(input_shape[:-1]) + (self.units,)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 4)).astype("float32")
    y = np.sin(x @ rng.standard_normal((4, 1))).astype("float32")
    model = keras.Sequential([keras.Input((4,)), XDense(16), keras.layers.Dense(1)])
    # graph mode: the layer stages XlaCallModule ops; eagerly: calls recorded on the tape
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", run_eagerly=run_eagerly)
    before = model.evaluate(x, y, verbose=0)
    hist = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < 0.3 * before, (before, hist.history["loss"], after)
    layer = model.layers[0]
    assert layer.w.numpy().shape == (4, 16) and np.abs(layer.b.numpy()).sum() > 0  # trained
