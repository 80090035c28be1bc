"""xfront.keras.Layer under each Keras backend.

The same model (tests/_keras_model.py: fixed weights and data) runs under the tensorflow
backend in this process and under the torch and jax backends in their own processes (without
TensorFlow), in parallel: each builds on (None, 4), predicts, trains one epoch, saves and
loads, and takes the layer's gradient with its own autodiff. The tests check each backend's
results (the forward pass is the xfront function on the trained weights, the gradient equals
finite differences, under jax the call stays inside jax's jitted module) and that the backends
agree. TF eager training and the errors are tested in this process."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import xfront as xf

keras = pytest.importorskip("keras")
if keras.backend.backend() != "tensorflow":  # pragma: no cover - the in-process tests use TF
    pytest.skip("the in-process tests use the tensorflow backend", allow_module_level=True)

from tests import _keras_model  # noqa: E402
from tests._keras_model import data as _data, dense_init, dense_tanh  # noqa: E402
from xfront.keras import Layer  # noqa: E402

BACKENDS = ("tensorflow", "torch", "jax")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each backend's results (see tests/_keras_model.py): torch and jax in child processes
    (as if TensorFlow were not installed) started first, tensorflow in this process
    meanwhile."""
    tmp = tmp_path_factory.mktemp("keras_backends")
    procs = {}
    for backend in BACKENDS[1:]:
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        procs[backend] = subprocess.Popen(
            [sys.executable, "-m", "tests._keras_model", str(tmp / backend),
             "--without-tensorflow"], env=env,
            cwd=_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _keras_model.main(str(tmp / "tensorflow"))
        out = {"tensorflow": dict(np.load(str(tmp / "tensorflow") + ".npz"))}
        for backend, proc in procs.items():
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"{backend} backend:\n{err[-3000:]}"
            out[backend] = dict(np.load(str(tmp / backend) + ".npz"))
            assert str(out[backend]["backend"]) == backend
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return out


def _forward(x, w, b, head_w, head_b):
    return np.tanh(x @ w + b) @ head_w + head_b


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_predict_save_load(results, backend):
    r = results[backend]
    x, y = _data()
    assert bool(r["none_batch"]) and r["output_shape"].tolist() == [1]
    p = dense_init(x.shape)
    np.testing.assert_allclose(r["before"], _forward(x, p["w"], p["b"], _keras_model.head_kernel(),
                                                     np.zeros(1, np.float32)),
                               rtol=1e-5, atol=1e-5)
    loss_before, loss_after = (np.mean((r[k] - y) ** 2) for k in ("before", "after"))
    assert loss_after < 0.9 * loss_before, (loss_before, loss_after)  # the model learned
    assert not np.allclose(r["trained_w"], p["w"])  # the xfront weights trained
    # the forward pass is the xfront function on the trained weights
    np.testing.assert_allclose(r["after"], _forward(x, r["trained_w"], r["trained_b"],
                                                    r["head_w"], r["head_b"]),
                               rtol=1e-5, atol=1e-5)
    assert bool(r["loaded_fn"])  # the loaded model's layer is an xfront Layer of dense_tanh
    np.testing.assert_allclose(r["reloaded"], r["after"], rtol=1e-6, atol=1e-7)
    # a smaller last batch (128 = 2 * 48 + 32), every backend
    np.testing.assert_allclose(r["uneven"], r["after"], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_weights_and_dict_outputs(results, backend):
    r = results[backend]
    x, _ = _data()
    init = _keras_model.scaled_init()
    assert r["mixed_k"] == init["k"] and r["mixed_k"].dtype == np.int32  # not trained
    assert len(r["mixed_trainable"]) == 1
    assert not np.allclose(r["mixed_w"], init["w"])  # trained towards the zero targets
    np.testing.assert_allclose(r["mixed_pred"], np.tanh(x @ r["mixed_w"]) * 3, rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_matches_finite_differences(results, backend):
    r = results[backend]
    xs = _keras_model.grad_input().astype(np.float64)
    p = {k: v.astype(np.float64) for k, v in dense_init(xs.shape).items()}

    def f(q):
        return np.sum(np.tanh(xs @ q["w"] + q["b"]) ** 2)

    eps = 1e-6
    for name in ("w", "b"):
        fd = np.zeros_like(p[name])
        for idx in np.ndindex(*fd.shape):
            hi, lo = dict(p), dict(p)
            hi[name], lo[name] = p[name].copy(), p[name].copy()
            hi[name][idx] += eps
            lo[name][idx] -= eps
            fd[idx] = (f(hi) - f(lo)) / (2 * eps)
        np.testing.assert_allclose(r[f"grad_{name}"], fd, rtol=1e-3, atol=1e-4, err_msg=name)


def test_jax_backend_call_stays_in_the_jitted_module(results):
    # the layer's module and xfront's VJP module are functions of jax's own jitted gradient
    # module (no host callback, no second program)
    funcs = str(results["jax"]["jax_funcs"]).split()
    assert "call_exported_dense_tanh" in funcs and "call_exported_vjp_dense_tanh" in funcs, funcs
    assert "callback" not in funcs


def test_jax_backend_64_bit_results_need_x64(results):
    msg = str(results["jax"]["int64_error"])
    assert "xfront.keras.Layer" in msg and "result int64 is 64-bit" in msg, msg
    assert "JAX_ENABLE_X64" in msg


def test_backends_agree(results):
    tf_r = results["tensorflow"]
    assert not np.allclose(tf_r["after"], tf_r["before"])  # one epoch of SGD changed the model
    for backend in BACKENDS[1:]:
        for key in ("before", "after", "reloaded", "grad_w", "grad_b"):
            np.testing.assert_allclose(results[backend][key], tf_r[key], rtol=1e-4, atol=1e-5,
                                       err_msg=f"{backend} {key}")


def test_tf_eager_fit():
    keras.utils.set_random_seed(0)
    x, y = _data()
    layer = Layer(dense_tanh, init=dense_init)
    model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(1)])
    assert layer.compute_output_spec(keras.KerasTensor((None, 4))).shape == (None, 8)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse", run_eagerly=True)
    w0 = layer.params["w"].numpy()
    before = model.evaluate(x, y, batch_size=64, verbose=0)
    # eagerly a smaller last batch (128 = 2 * 48 + 32) is no problem
    model.fit(x, y, batch_size=48, epochs=4, verbose=0)
    after = model.evaluate(x, y, batch_size=64, verbose=0)
    assert after < 0.7 * before, (before, after)
    assert not np.allclose(layer.params["w"].numpy(), w0)  # the xfront weights trained


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
