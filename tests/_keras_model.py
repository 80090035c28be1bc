"""A small model with an xfront.keras.Layer, run under one Keras backend per process.

``python -m tests._keras_model OUT.npz`` (with KERAS_BACKEND set) builds the model from fixed
weights, predicts, trains one epoch of plain SGD without shuffling, predicts again, saves and
reloads the model, and writes the results to OUT.npz; tests/test_keras.py compares backends.
"""

from __future__ import annotations

import sys

import numpy as np

import xfront as xf


def dense_tanh(params, x):
    return xf.tanh(x @ params["w"] + params["b"])


def dense_init(input_shape):
    rng = np.random.default_rng(0)
    return {"w": (rng.standard_normal((input_shape[-1], 8)) * 0.5).astype(np.float32),
            "b": np.zeros((8,), np.float32)}


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 4)).astype("float32")
    y = np.sin(x @ rng.standard_normal((4, 1))).astype("float32")
    return x, y


def main(out: str) -> None:
    import keras

    from xfront.keras import Layer

    x, y = data()
    head = np.random.default_rng(1).standard_normal((8, 1)).astype(np.float32) * 0.3
    model = keras.Sequential([
        keras.Input((4,)), Layer(dense_tanh, init=dense_init),
        keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(head))])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    before = model.predict(x, batch_size=32, verbose=0)
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    after = model.predict(x, batch_size=32, verbose=0)
    path = out + ".keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    reloaded = loaded.predict(x, batch_size=32, verbose=0)
    np.savez(out, before=np.asarray(before), after=np.asarray(after),
             reloaded=np.asarray(reloaded), backend=keras.backend.backend())


if __name__ == "__main__":
    main(sys.argv[1])
