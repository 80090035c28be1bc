"""A small model with an xfront.keras.Layer, run under one Keras backend per process.

``python -m tests._keras_model OUT [--without-tensorflow]`` (with KERAS_BACKEND set) builds
the model from fixed weights, predicts, trains one epoch of plain SGD without shuffling,
predicts again, saves and reloads the model, takes the layer's gradient with the backend's own
autodiff, and writes everything to OUT.npz; tests/test_keras.py checks the results and
compares the backends.
"""

from __future__ import annotations

import re
import sys

import numpy as np

import xfront as xf


def dense_tanh(params, x):
    return xf.tanh(x @ params["w"] + params["b"])


def dense_init(input_shape):
    rng = np.random.default_rng(0)
    return {"w": (rng.standard_normal((input_shape[-1], 8)) * 0.5).astype(np.float32),
            "b": np.zeros((8,), np.float32)}


def scaled_tanh(params, x):
    """Weights with an integer (non-trainable) leaf, and a dict of outputs, one of them
    integer (no gradient flows into it)."""
    h = xf.tanh(x @ params["w"])
    return {"y": h * params["k"].astype(xf.float32), "top": xf.argmax(x, axis=-1).astype(xf.int32)}


def argmax_int64(params, x):
    return xf.argmax(x, axis=-1)


def scaled_init():
    return {"w": np.full((4, 2), 0.1, np.float32), "k": np.array(3, np.int32)}


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 4)).astype("float32")
    y = np.sin(x @ rng.standard_normal((4, 1))).astype("float32")
    return x, y


def head_kernel():
    return np.random.default_rng(1).standard_normal((8, 1)).astype(np.float32) * 0.3


def grad_input():
    """The input of the gradient check: ``d/dparams sum(layer(x) ** 2)`` at ``dense_init``."""
    return np.random.default_rng(1).standard_normal((3, 4)).astype("float32")


def _layer_gradient(layer, x):
    """``{name: d/dw sum(layer(x) ** 2)}`` for the layer's weights, by the backend's autodiff,
    and (jax) the names of the functions in the jitted gradient's module."""
    import keras

    names = {id(v): k for k, v in layer.params.items()}
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(tf.constant(x)) ** 2)
        variables = [v.value for v in layer.trainable_variables]
        grads = tape.gradient(loss, variables)
        return {names[id(v)]: np.asarray(g) for v, g in zip(layer.trainable_variables, grads)}, ""
    if backend == "torch":
        import torch

        loss = (layer(torch.tensor(x)) ** 2).sum()
        loss.backward()
        return {names[id(v)]: v.value.grad.numpy().copy() for v in layer.trainable_variables}, ""
    import jax
    import jax.numpy as jnp

    def loss(values):  # Keras' own stateless call: the weights are jax values
        y, _ = layer.stateless_call(values, [], x)
        return jnp.sum(y ** 2)

    values = [v.value for v in layer.trainable_variables]
    grad = jax.jit(jax.grad(loss))
    text = grad.lower(values).as_text()
    funcs = " ".join(sorted(set(re.findall(r"func\.func (?:public |private )?@(\w+)", text))))
    if "callback" in text:  # a host callback would mean the call left jax's graph
        funcs += " callback"
    grads = grad(values)
    return {names[id(v)]: np.asarray(g) for v, g in zip(layer.trainable_variables, grads)}, funcs


def main(out: str) -> None:
    import keras

    from xfront.keras import Layer

    x, y = data()
    layer = Layer(dense_tanh, init=dense_init)
    model = keras.Sequential([
        keras.Input((4,)), layer,
        keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(head_kernel()))])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    before = model.predict(x, batch_size=32, verbose=0)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    after = model.predict(x, batch_size=32, verbose=0)
    results = {}
    # a smaller last batch (128 = 2 * 48 + 32): under TF graph mode Keras retraces with a None
    # batch, which the layer stages as one symbolic module
    results["uneven"] = np.asarray(model.predict(x, batch_size=48, verbose=0))
    path = out + ".keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    reloaded = loaded.predict(x, batch_size=32, verbose=0)
    loaded_layer = loaded.layers[0]
    trained = {k: keras.ops.convert_to_numpy(v) for k, v in layer.params.items()}
    head = [keras.ops.convert_to_numpy(v) for v in model.layers[1].weights]

    # integer weights are not trained; a dict of outputs keeps its structure
    mixed = Layer(scaled_tanh, params=scaled_init())
    inp = keras.Input((4,))
    outs = mixed(inp)
    assert sorted(outs) == ["top", "y"] and outs["top"].shape == (None,), outs
    assert "int" in str(outs["top"].dtype), outs
    mixed_model = keras.Model(inp, outs["y"])
    mixed_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    mixed_model.fit(x, np.zeros((len(x), 2), np.float32), batch_size=64, epochs=1,
                    shuffle=False, verbose=0)
    results["mixed_pred"] = np.asarray(mixed_model.predict(x, batch_size=64, verbose=0))
    results["mixed_w"] = keras.ops.convert_to_numpy(mixed.params["w"])
    results["mixed_k"] = keras.ops.convert_to_numpy(mixed.params["k"])
    results["mixed_trainable"] = [v.path for v in mixed.trainable_variables]
    if keras.backend.backend() == "jax":  # int64 (argmax's default) without jax's x64 mode
        try:
            Layer(argmax_int64, params={})(x)
            results["int64_error"] = "no error"
        except xf.DTypeError as e:
            results["int64_error"] = str(e)

    fresh = Layer(dense_tanh, params=dense_init((3, 4)))
    fresh.build((3, 4))
    grads, funcs = _layer_gradient(fresh, grad_input())
    np.savez(out, before=np.asarray(before), after=np.asarray(after),
             reloaded=np.asarray(reloaded), output_shape=np.array(model.output_shape[1:]),
             none_batch=model.output_shape[0] is None,
             loaded_fn=type(loaded_layer) is Layer and loaded_layer.fn is dense_tanh,
             trained_w=trained["w"], trained_b=trained["b"], head_w=head[0], head_b=head[1],
             grad_w=grads["w"], grad_b=grads["b"], jax_funcs=funcs,
             backend=keras.backend.backend(), **results)


if __name__ == "__main__":
    if "--without-tensorflow" in sys.argv[2:]:
        # as if TensorFlow were not installed (Keras would import it to save a model): the
        # torch and jax backends must not need it
        sys.modules["tensorflow"] = None  # type: ignore[assignment]
    main(sys.argv[1])
