"""``xfront.keras.Layer``: a compiled xfront function with weights as a Keras 3 layer.

Imports keras (and so its backend) when this module is imported; ``import xfront`` never
imports it.

Backends: tensorflow (the TF bridge: compiled calls become XlaCallModule ops with xfront's VJP
under ``tf.function``, or GradientTape-recorded calls eagerly), torch (the torch bridge: each
call is one torch autograd op backed by xfront's VJP) and jax (the function is exported with
its VJP, ``xf.export(..., vjp=True)``, once per input signature, and both modules are called
as StableHLO inside jax's trace, so the call stays in the graph of Keras' ``jax.jit`` train
and predict steps and its gradient is xfront's VJP: NOTE [xfront modules inside jax.jit] in
the runtime adapter, which holds all of this path's jax calls).

NOTE [Symbolic batch dimensions]
    xfront programs have static shapes. The layer's output shape for a symbolic ``(None, ...)``
    input is found by tracing the function with a batch of 1 (and marking the output's
    leading axis None again), which assumes the function maps over the leading axis. Each
    concrete batch size seen at run time compiles (and caches) its own program. The jax
    backend always traces with concrete batch sizes (a smaller last batch is one more trace).
    Inside ``tf.function`` (``model.fit``/``predict`` without ``run_eagerly``) a smaller last
    batch makes Keras retrace with a ``None`` batch, which the TF bridge stages as one module
    with a symbolic batch dimension (NOTE [Unknown TF dimensions] in
    xfront/bridges/tensorflow.py).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import keras
import numpy as np

import xfront as xf
from xfront import _errors


def _path(fn: Callable | str | None) -> str | None:
    """``module:qualname`` of an importable module-level function (for saving)."""
    if fn is None or isinstance(fn, str):
        return fn
    path = f"{getattr(fn, '__module__', '')}:{getattr(fn, '__qualname__', '')}"
    try:
        ok = _resolve(path) is fn
    except Exception:
        ok = False
    if not ok:
        raise _errors.err(_errors.ArgumentError, "keras.Layer",
                          f"{fn!r} is not an importable module-level function, so a saved model "
                          "could not find it again",
                          "define the function at the top level of a module")
    return path


def _resolve(path: str) -> Callable:
    module, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _spec(params: Any) -> Any:
    """A JSON-able description (shape and dtype per leaf, same containers) of ``params``."""
    leaves, td = xf.tree_flatten(params)
    return xf.tree_unflatten(td, [{"shape": list(np.shape(x)), "dtype": str(np.asarray(x).dtype)}
                                  for x in leaves])


def _is_leaf_spec(x: Any) -> bool:
    return isinstance(x, dict) and set(x) == {"shape", "dtype"}


def _zeros_from_spec(spec: Any) -> Any:
    if _is_leaf_spec(spec):
        return np.zeros(spec["shape"], dtype=spec["dtype"])
    if isinstance(spec, dict):
        return {k: _zeros_from_spec(v) for k, v in spec.items()}
    if isinstance(spec, (list, tuple)):
        return type(spec)(_zeros_from_spec(v) for v in spec)
    return spec


_BACKENDS = ("tensorflow", "torch", "jax")


class _Box:
    """Holds a pytree out of sight of Keras' attribute tracking (which would turn its dicts and
    lists into tracked containers that are not pytree nodes)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


@keras.saving.register_keras_serializable(package="xfront")
class Layer(keras.layers.Layer):
    """A Keras layer computing ``fn(params, x)`` with xfront, compiled.

    Args:
      fn: ``fn(params, x) -> y``, written with xfront; ``params`` is a pytree (dicts, lists,
        tuples) of arrays that become the layer's weights. A module-level function (or its
        ``"module:qualname"``) so that saved models can be loaded.
      params: initial weights (a pytree of NumPy arrays), or None with ``init``.
      init: ``init(input_shape) -> params`` called when the layer is built (module-level,
        for saving), for weights whose shapes depend on the input.
      param_spec: shapes and dtypes of the weights (saved in the config; used when loading).

    Weights of floating dtypes are trainable, others are not.
    """

    def __init__(self, fn: Callable | str, params: Any = None, *,
                 init: Callable | str | None = None, param_spec: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if keras.backend.backend() not in _BACKENDS:
            raise _errors.err(_errors.ArgumentError, "keras.Layer",
                              f"the Keras backend is {keras.backend.backend()!r}; the "
                              f"{', '.join(_BACKENDS)} backends are supported",
                              "set KERAS_BACKEND to one of them before importing keras")
        self.fn = _resolve(fn) if isinstance(fn, str) else fn
        if not callable(self.fn):
            raise _errors.err(_errors.ArgumentError, "keras.Layer",
                              f"fn must be a function, got {type(self.fn).__name__}")
        self.init = _resolve(init) if isinstance(init, str) else init
        if params is None and self.init is None and param_spec is None:
            raise _errors.err(_errors.ArgumentError, "keras.Layer",
                              "give the initial weights (params=...) or a function that makes "
                              "them from the input shape (init=...)")
        self._params = _Box(params)
        self._param_spec = _Box(param_spec if param_spec is not None else (
            _spec(params) if params is not None else None))
        self._compiled = xf.compile(self.fn)
        self._treedef: Any = None
        self._jax_calls = _Box({})  # jax backend: (input types) -> (jax function, out tree)
        self._vars: list[Any] = []  # (Keras tracks this list: its variables are the weights)

    def build(self, input_shape: Any) -> None:
        params = self._params.value
        if params is None and self.init is not None:
            params = self.init(tuple(input_shape))
        if params is None:  # loading a saved model: shapes from the config, values from file
            params = _zeros_from_spec(self._param_spec.value)
        self._param_spec = _Box(_spec(params))
        leaves, self._treedef = xf.tree_flatten(params)
        self._vars = []
        for i, leaf in enumerate(leaves):
            value = np.asarray(leaf)
            self._vars.append(self.add_weight(
                shape=value.shape, dtype=str(value.dtype), name=f"param_{i}",
                initializer=lambda shape, dtype=None, v=value: v.astype(dtype or v.dtype),
                trainable=value.dtype.kind in "fc"))
        self.built = True

    @property
    def params(self) -> Any:
        """The current weights as a pytree of Keras variables."""
        return xf.tree_unflatten(self._treedef, self._vars)

    def call(self, x: Any) -> Any:
        # the backend's own tensors (torch: the Parameter, so autograd records the call)
        values = [keras.ops.convert_to_tensor(v) for v in self._vars]
        if keras.backend.backend() == "jax":
            return self._call_jax(values, keras.ops.convert_to_tensor(x))
        return self._compiled(xf.tree_unflatten(self._treedef, values), x)

    def _call_jax(self, values: list[Any], x: Any) -> Any:
        """``fn`` staged into jax's trace (see the module docstring): exported with its VJP
        once per input signature."""
        leaves = [*values, x]
        key = tuple((tuple(a.shape), np.dtype(a.dtype)) for a in leaves)
        entry = self._jax_calls.value.get(key)
        if entry is None:
            specs = [xf.Spec(s, d.name) for s, d in key]
            exp = xf.export(self._compiled, xf.tree_unflatten(self._treedef, specs[:-1]),
                            specs[-1], vjp=True)
            from xfront.lowering import runtime

            types = lambda avals: [(a.shape, np.dtype(a.dtype.name)) for a in avals]  # noqa
            name = "".join(c if c.isalnum() else "_" for c in exp.name)
            try:
                fn = runtime.jax_function(exp.module, exp.vjp_module, types(exp.in_avals),
                                          types(exp.out_avals), exp.platforms[0], name)
            except TypeError as e:
                raise _errors.err(_errors.DTypeError, "keras.Layer",
                                  f"under the jax backend: {e}",
                                  "cast inside fn (e.g. xf.argmax(...).astype(xf.int32)), or "
                                  "enable jax's x64 mode (JAX_ENABLE_X64=1)") from None
            entry = self._jax_calls.value[key] = (fn, exp.out_tree)
        fn, out_tree = entry
        return xf.tree_unflatten(out_tree, list(fn(*leaves)))

    def compute_output_spec(self, x: Any) -> Any:
        shape = tuple(x.shape)
        concrete = tuple(1 if d is None else d for d in shape)
        params = _zeros_from_spec(self._param_spec.value)
        traced = self._compiled.trace(params, np.zeros(concrete, dtype=x.dtype))
        graph = traced.graph
        outs = []
        for aval in graph.out_avals:
            out_shape = list(aval.shape)
            if shape and shape[0] is None and out_shape:
                out_shape[0] = None
            outs.append(keras.KerasTensor(tuple(out_shape), dtype=aval.dtype.name))
        return xf.tree_unflatten(traced.out_tree, outs)  # the structure call returns

    def get_config(self) -> dict:
        return {**super().get_config(), "fn": _path(self.fn), "init": _path(self.init),
                "param_spec": self._param_spec.value}

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)


__all__ = ["Layer"]
