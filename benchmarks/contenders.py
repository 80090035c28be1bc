"""Benchmark contenders: how each framework runs a workload, and how its outputs are awaited.

Imports: numpy, xfront; torch / tensorflow / jax lazily, when a contender that needs them is
prepared (a missing framework makes its contenders unavailable, with the reason reported).

A contender turns (workload, NumPy inputs) into a zero-argument ``call`` that runs the workload
once and waits until the results exist in the caller's framework (``block_until_ready`` for JAX
and xfront arrays; torch, TF eager and NumPy return finished results). Compiled contenders
(torch.compile, tf.function(jit_compile=True), jax.jit, xfront) are compiled and warmed up in
``prepare``; first-call latency is measured separately, in fresh processes (first_call.py).

The xfront contenders all run the same compiled program; they differ only in what goes in and
comes out: xfront arrays, or NumPy / torch / TF / JAX arrays (zero-copy through DLPack, results
returned in the caller's framework).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import xfront as xf
from benchmarks.workloads import Workload

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _leaves(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _block(out: Any) -> Any:
    for o in _leaves(out):
        o.block_until_ready()
    return out


@dataclass(frozen=True)
class Contender:
    """One way of running workloads.

    ``family`` names the framework ('numpy', 'torch', 'tf', 'jax', 'xfront'); ``peer`` is
    False for the xfront contenders (ratios are taken against the best peer).
    """

    name: str
    family: str
    peer: bool
    setup: Callable[[Workload, list[np.ndarray]], tuple[Callable[[], Any], Callable[[Any], Any]]]

    def prepare(self, workload: Workload, inputs: list[np.ndarray]) -> tuple[Callable, Callable]:
        """(call, to_numpy): ``call()`` runs once and waits; ``to_numpy(call())`` gives NumPy."""
        return self.setup(workload, inputs)


# --- NumPy ---------------------------------------------------------------------------------

def _numpy(w: Workload, xs: list[np.ndarray]):
    return (lambda: w.numpy(*xs)), (lambda out: [np.asarray(o) for o in _leaves(out)])


# --- torch ---------------------------------------------------------------------------------

def _torch_to_numpy(out: Any) -> list[np.ndarray]:
    return [o.detach().numpy() for o in _leaves(out)]


def _torch_eager(w: Workload, xs: list[np.ndarray]):
    import torch

    args = [_to_torch(x) for x in xs]

    def call():
        with torch.inference_mode():
            return w.torch(*args)

    return call, _torch_to_numpy


def _torch_compile(w: Workload, xs: list[np.ndarray]):
    import torch

    args = [_to_torch(x) for x in xs]
    fn = torch.compile(w.torch)

    def call():
        with torch.inference_mode():
            return fn(*args)

    return call, _torch_to_numpy


# --- TensorFlow ----------------------------------------------------------------------------

def _tf_to_numpy(out: Any) -> list[np.ndarray]:
    return [o.numpy() for o in _leaves(out)]


def _tf_eager(w: Workload, xs: list[np.ndarray]):
    import tensorflow as tf

    args = [tf.constant(x) for x in xs]
    return (lambda: w.tf(*args)), _tf_to_numpy


def _tf_xla(w: Workload, xs: list[np.ndarray]):
    import tensorflow as tf

    args = [tf.constant(x) for x in xs]
    fn = tf.function(w.tf, jit_compile=True)
    return (lambda: fn(*args)), _tf_to_numpy


# --- JAX -----------------------------------------------------------------------------------

def _jax_jit(w: Workload, xs: list[np.ndarray]):
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 workloads stay float64
    args = [jax.device_put(x) for x in xs]
    fn = jax.jit(w.jax)
    return (lambda: _block(fn(*args))), (lambda out: [np.asarray(o) for o in _leaves(out)])


# --- xfront --------------------------------------------------------------------------------

def _xfront_with(convert: Callable[[np.ndarray], Any], to_numpy: Callable[[Any], np.ndarray],
                 block: bool) -> Callable:
    def setup(w: Workload, xs: list[np.ndarray]):
        fn = xf.compile(w.xfront)
        args = [convert(x) for x in xs]
        if block:
            return (lambda: _block(fn(*args))), (lambda out: [to_numpy(o) for o in _leaves(out)])
        return (lambda: fn(*args)), (lambda out: [to_numpy(o) for o in _leaves(out)])

    return setup


def _to_torch(x: np.ndarray) -> Any:
    """A torch-allocated copy (64-byte aligned, like any tensor torch creates; tensors that
    view NumPy memory are only 16-byte aligned, and XLA copies unaligned inputs)."""
    import torch

    return torch.from_numpy(x).clone()


def _to_tf(x: np.ndarray) -> Any:
    import tensorflow as tf

    return tf.constant(x)


def _to_jax(x: np.ndarray) -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax.device_put(x)


CONTENDERS: dict[str, Contender] = {c.name: c for c in [
    Contender("numpy", "numpy", True, _numpy),
    Contender("torch", "torch", True, _torch_eager),
    Contender("torch.compile", "torch", True, _torch_compile),
    Contender("tf", "tf", True, _tf_eager),
    Contender("tf.xla", "tf", True, _tf_xla),
    Contender("jax.jit", "jax", True, _jax_jit),
    Contender("xfront", "xfront", False,
              _xfront_with(xf.asarray, lambda o: np.asarray(o), block=True)),
    Contender("xfront[numpy]", "xfront", False,
              _xfront_with(lambda x: x, np.asarray, block=False)),
    Contender("xfront[torch]", "xfront", False,
              _xfront_with(_to_torch, lambda o: o.numpy(), block=False)),
    Contender("xfront[tf]", "xfront", False,
              _xfront_with(_to_tf, lambda o: o.numpy(), block=False)),
    Contender("xfront[jax]", "xfront", False,
              _xfront_with(_to_jax, np.asarray, block=True)),
]}

# the framework each contender needs (checked before a run; missing ones are reported)
REQUIRES = {"torch": "torch", "torch.compile": "torch", "tf": "tensorflow",
            "tf.xla": "tensorflow", "jax.jit": "jax", "xfront[torch]": "torch",
            "xfront[tf]": "tensorflow", "xfront[jax]": "jax"}


def missing_framework(name: str) -> str | None:
    """The module a contender needs but cannot import, or None."""
    mod = REQUIRES.get(name)
    if mod is None:
        return None
    import importlib.util

    return None if importlib.util.find_spec(mod) is not None else mod
