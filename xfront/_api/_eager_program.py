"""Run a composite namespace function eagerly as one compiled program.

``as_one_program(fn)``: inside a trace ``fn`` is recorded op by op as usual; outside one, the
call runs ``fn`` through a cached ``CompiledFunction`` (array arguments traced, every other
argument static), so an eager ``xfront.linalg.solve`` costs one program per signature instead
of one dispatch per primitive (and per step of its pivoting loop). This is what
``xfront.random`` does for its samplers; results are those of the compiled program.

Imports: _core, _compile (lazily).
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import numpy as np

from xfront import _core
from xfront._array import Array


def _is_array(x: Any) -> bool:
    return isinstance(x, (Array, np.ndarray, np.generic)) or hasattr(x, "__dlpack__")


@functools.lru_cache(maxsize=None)
def _compiled(fn: Callable, static_argnums: tuple[int, ...], static_argnames: tuple[str, ...]):
    from xfront._compile import CompiledFunction

    cf = CompiledFunction(fn, static_argnums=static_argnums, static_argnames=static_argnames,
                          returns="xfront")
    cf._warn_after = sys.maxsize  # every new shape is a new program here, by design
    return cf


def as_one_program(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _core.current_builder() is not None:
            return fn(*args, **kwargs)
        nums = tuple(i for i, a in enumerate(args) if not _is_array(a))
        names = tuple(sorted(k for k, v in kwargs.items() if not _is_array(v)))
        args = tuple(tuple(a) if isinstance(a, list) else a for a in args)
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
        return _compiled(fn, nums, names)(*args, **kwargs)

    return wrapper
