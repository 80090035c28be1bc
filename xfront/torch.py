"""``xf.torch``: xfront functions as torch functions and ``nn.Module``s, with gradients.

Imports: torch, _compile, _tree, _array, bridges. ``import xfront`` does not import this module
(``xf.torch`` loads it, and torch with it, on first use).

Every ``xf.compile``'d function already joins torch's autograd graph when it gets tensors that
require grad (NOTE [Gradients through framework autograd] in xfront/bridges/_autograd.py). This
module adds the conveniences a torch program wants around that:

* ``Function(fn)``: a compiled function that always returns torch tensors and takes
  non-array arguments (ints, strings, flags) as static values without ``static_argnums``;
* ``Module(fn, params)``: an ``nn.Module`` whose parameters are a pytree of tensors and whose
  ``forward(*inputs)`` is ``fn(params, *inputs)``, so ``torch.optim``, ``state_dict`` and
  ``torch.compile`` work with it.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import torch

from xfront._array import Array
from xfront._aval import AbstractArray
from xfront._compile import CompiledFunction
from xfront._tree import tree_flatten, tree_flatten_with_path, tree_unflatten

__all__ = ["Function", "Module", "function"]


def _static(x: Any) -> bool:
    """An argument is static when it holds no arrays and no Python floats (floats stay
    dynamic, weak-typed scalars, as in ``xf.compile``) and is hashable. ``AbstractArray``
    stand-ins (``Function.trace``; the shape pass of torch.compile's ``xfront::call`` op) are
    arrays too: treating one as static would hand the function a shape instead of a tracer."""
    leaves, _ = tree_flatten(x)
    for leaf in leaves:
        if isinstance(leaf, (Array, AbstractArray, np.ndarray, np.generic, torch.Tensor, float,
                             complex)):
            return False
        if hasattr(leaf, "__dlpack__"):
            return False
    try:
        hash(x)
    except TypeError:
        return False
    return True


class Function(CompiledFunction):
    """An xfront function called with torch tensors: compiled, returning torch tensors, and
    recorded by torch autograd when its inputs require grad.

    Like ``xfront.compile(fn, returns="torch")``, except that arguments holding no arrays and
    no Python floats (ints, bools, strings, None, tuples of them) are static automatically:
    each new value compiles a new program, and the function may use them in Python control
    flow and as shapes or axes. Python floats stay dynamic (one program for all values).
    Integer tensors and everything static are never differentiated.

    Args:
      fn: the xfront function.
      static_argnums / static_argnames: more static arguments (e.g. a float used as a shape).
      device: where to run (default: the tensors' device).
    """

    def __init__(self, fn: Callable, *, static_argnums: Any = (), static_argnames: Any = (),
                 device: Any = None):
        super().__init__(fn, static_argnums=static_argnums, static_argnames=static_argnames,
                         device=device, returns="torch")

    def __repr__(self) -> str:
        return f"<xfront.torch.Function of {getattr(self._fn, '__qualname__', self._fn)}>"

    def _split(self, args: tuple, kwargs: dict) -> tuple[Any, Any]:
        auto_nums = [i for i, a in enumerate(args) if i not in self._static_nums and _static(a)]
        auto_names = [k for k, v in kwargs.items() if k not in self._static_names and _static(v)]
        if not (auto_nums or auto_names or self._static_nums or self._static_names):
            return (args, kwargs), None
        nums = self._static_nums.union(auto_nums)
        names = self._static_names.union(auto_names)
        return self._split_statics(args, kwargs, nums, names, "torch.Function")


def function(fn: Callable | None = None, **options: Any) -> Any:
    """Decorator form of ``Function``: ``@xf.torch.function`` or
    ``@xf.torch.function(static_argnames=...)``."""
    if fn is None:
        return lambda f: Function(f, **options)
    return Function(fn, **options)


_NAME_JUNK = re.compile(r"[^0-9A-Za-z_]+")


def _param_name(path: str) -> str:
    name = _NAME_JUNK.sub("_", path).strip("_")
    return name or "param"


class Module(torch.nn.Module):
    """An ``nn.Module`` around an xfront function of a parameter pytree.

    ``Module(fn, params)(*inputs)`` is ``fn(params, *inputs)``, compiled (``Function``), with
    ``params`` (a dict/list/tuple pytree of tensors or arrays) held as ``nn.Parameter``s named
    after their paths (``{"w1": ..., "layers": [{"w": ...}]}`` gives ``w1``, ``layers_0_w``).
    ``parameters()``, optimizers, ``state_dict`` and ``torch.compile`` see them as usual; the
    backward pass is xfront's compiled VJP.

    Example::

        def mlp(p, x):
            return xf.tanh(x @ p["w1"] + p["b1"]) @ p["w2"]

        model = xf.torch.Module(mlp, {"w1": torch.randn(4, 16), "b1": torch.zeros(16),
                                      "w2": torch.randn(16, 1)})
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        loss = ((model(x) - y) ** 2).mean(); loss.backward(); opt.step()

    Args:
      fn: ``fn(params, *inputs, **kwargs)`` written with xfront.
      params: the initial parameters (copied; floating dtypes require grad).
      static_argnums / static_argnames: passed to ``Function`` (count ``params`` as argument 0).
    """

    def __init__(self, fn: Callable, params: Any, *, static_argnums: Any = (),
                 static_argnames: Any = ()):
        super().__init__()
        leaves, self._param_tree = tree_flatten(params)
        paths = [p for p, _ in tree_flatten_with_path(params)]
        self._param_names: list[str] = []
        for path, leaf in zip(paths, leaves):
            name = _param_name(path)
            if name in self._param_names or name in ("fn", "params") or hasattr(self, name):
                name = f"{name}_{len(self._param_names)}"
            t = leaf.detach().clone() if isinstance(leaf, torch.Tensor) else \
                torch.as_tensor(np.array(leaf))
            self.register_parameter(name, torch.nn.Parameter(
                t, requires_grad=t.is_floating_point() or t.is_complex()))
            self._param_names.append(name)
        self.fn = Function(fn, static_argnums=static_argnums, static_argnames=static_argnames)

    @property
    def params(self) -> Any:
        """The parameters in ``params``' structure (the live ``nn.Parameter`` objects)."""
        return tree_unflatten(self._param_tree, [getattr(self, n) for n in self._param_names])

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.fn(self.params, *inputs, **kwargs)

    def extra_repr(self) -> str:
        return f"fn={getattr(self.fn._fn, '__qualname__', self.fn._fn)}"
