"""xfront.keras.Layer: build on (None, ...), fit, predict, save and load under the TensorFlow
Keras backend (in this process), and the same model under the tensorflow and torch backends in
their own processes with the same weights and data."""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":  # pragma: no cover - the in-process tests use TF
    pytest.skip("the in-process tests use the tensorflow backend", allow_module_level=True)

from tests._keras_model import data as _data, dense_init, dense_tanh  # noqa: E402
from xfront.keras import Layer  # noqa: E402


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_fit_predict_save_load(tmp_path, run_eagerly):
    keras.utils.set_random_seed(0)
    x, y = _data()
    layer = Layer(dense_tanh, init=dense_init)
    model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(1)])
    assert model.output_shape == (None, 1)
    assert layer.compute_output_spec(keras.KerasTensor((None, 4))).shape == (None, 8)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", run_eagerly=run_eagerly)
    w0 = layer.params["w"].numpy()
    before = model.evaluate(x, y, batch_size=32, verbose=0)
    model.fit(x, y, batch_size=32, epochs=6, verbose=0)
    after = model.evaluate(x, y, batch_size=32, verbose=0)
    assert after < 0.5 * before, (before, after)
    assert not np.allclose(layer.params["w"].numpy(), w0)  # the xfront weights trained
    pred = model.predict(x, batch_size=32, verbose=0)
    # the layer's forward pass is the xfront function on the trained weights
    params = {k: v.numpy() for k, v in layer.params.items()}
    hidden = np.tanh(x @ params["w"] + params["b"])
    np.testing.assert_allclose(model.layers[1](hidden).numpy(), pred, rtol=1e-5, atol=1e-5)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.layers[0], Layer) and loaded.layers[0].fn is dense_tanh
    np.testing.assert_allclose(loaded.predict(x, batch_size=32, verbose=0), pred, rtol=1e-6)


def test_gradient_matches_finite_differences():
    import tensorflow as tf

    layer = Layer(dense_tanh, params=dense_init((3, 4)))
    x = tf.constant(np.random.default_rng(1).standard_normal((3, 4)).astype("float32"))
    layer.build((3, 4))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    g = tape.gradient(loss, layer.params["w"].value)
    w = layer.params["w"].numpy().astype(np.float64)
    b = layer.params["b"].numpy().astype(np.float64)
    xs = x.numpy().astype(np.float64)
    f = lambda w_: np.sum(np.tanh(xs @ w_ + b) ** 2)  # noqa: E731
    eps = 1e-6
    fd = np.zeros_like(w)
    for idx in np.ndindex(*w.shape):
        d = np.zeros_like(w)
        d[idx] = eps
        fd[idx] = (f(w + d) - f(w - d)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-3, atol=1e-4)


def test_errors():
    with pytest.raises(xf.ArgumentError, match=r"give the initial weights"):
        Layer(dense_tanh)
    local = Layer(lambda p, x: x * p, params=np.float32(2.0))
    with pytest.raises(xf.ArgumentError, match=r"not an importable module-level function"):
        local.get_config()


def test_unknown_batch_size_in_graph_mode_is_symbolic():
    # a partial last batch makes Keras retrace with a None batch: a symbolic batch dimension
    x, y = _data()
    model = keras.Sequential([keras.Input((4,)), Layer(dense_tanh, init=dense_init)])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(x, np.zeros((128, 8), np.float32), batch_size=48, epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    np.testing.assert_allclose(model.predict(x[:5], verbose=0), model(x[:5]).numpy(), rtol=1e-5,
                               atol=1e-6)


def test_backends_agree_in_their_own_processes(tmp_path):
    import os
    import subprocess
    import sys

    from tests import _keras_model

    _keras_model.main(str(tmp_path / "tensorflow"))  # this process runs the tensorflow backend
    results = {"tensorflow": np.load(str(tmp_path / "tensorflow") + ".npz")}
    for backend in ("torch",):
        out = str(tmp_path / backend)
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run([sys.executable, "-m", "tests._keras_model", out], env=env,
                              capture_output=True, text=True, timeout=300,
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[backend] = np.load(out + ".npz")
        assert str(results[backend]["backend"]) == backend
    tf_r, torch_r = results["tensorflow"], results["torch"]
    x, _ = _data()
    p = dense_init(x.shape)
    head = np.random.default_rng(1).standard_normal((8, 1)).astype(np.float32) * 0.3
    np.testing.assert_allclose(tf_r["before"], np.tanh(x @ p["w"] + p["b"]) @ head, rtol=1e-5,
                               atol=1e-5)
    for key in ("before", "after", "reloaded"):
        np.testing.assert_allclose(torch_r[key], tf_r[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert not np.allclose(tf_r["after"], tf_r["before"])  # one epoch of SGD changed the model
    np.testing.assert_allclose(tf_r["reloaded"], tf_r["after"], rtol=1e-6)
