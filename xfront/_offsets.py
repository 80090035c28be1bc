"""Zero-copy compiled calls on large host inputs that are not 64-byte aligned.

Imports: _core, _aval, _eager, lowering; the runtime adapter lazily (through _eager).

NOTE [Misaligned inputs without a copy]
    PJRT aliases host memory only at a 64-byte boundary, and NumPy's large allocations (so
    also ``torch.from_numpy`` tensors) start 16 bytes after one: such an input is copied on
    every call (staged, NOTE [Staging misaligned NumPy inputs] in the runtime adapter). For a
    program made only of elementwise primitives xfront instead imports the memory from the
    64-byte boundary just below the data (the same page: the boundary is at most 63 bytes
    lower, so nothing unmapped is read) as a flat array ``o`` elements longer, and runs a
    variant of the program that slices the ``o`` leading elements off and reshapes before
    the original body. XLA fuses the slice into the elementwise loop, so nothing is copied.
    The leading bytes are only ever read by the slice's address arithmetic, never written
    (the variant donates nothing). One variant is compiled per pattern of offsets. Programs
    with reductions, dots or data movement keep staging: there XLA:CPU materialises the slice
    (a 64 MiB float32 sum measured 48 ms sliced against 6.7 ms aligned).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xfront import _core
from xfront._aval import AbstractArray

_SHAPE_PRIMS = ("broadcast_in_dim", "reshape", "convert")
_fusable: frozenset | None = None


def _fusable_prims() -> frozenset:
    global _fusable
    if _fusable is None:
        from xfront.prims import elementwise as _ew

        s = {v for v in vars(_ew).values() if isinstance(v, _core.Primitive)}
        s |= {_core.PRIMITIVES[n] for n in _SHAPE_PRIMS if n in _core.PRIMITIVES}
        _fusable = frozenset(s)
    return _fusable


def eligible(graph: _core.Graph, donate: Sequence[int], platform: str) -> bool:
    """Whether misaligned inputs of this program can be imported from below (see NOTE)."""
    if platform != "cpu" or donate:
        return False
    ok = _fusable_prims()
    return all(e.prim in ok for e in graph.eqns)


def offsets(leaves: Sequence[Any], min_bytes: int) -> tuple[int, ...] | None:
    """Per leaf, how many elements its data starts after a 64-byte boundary (0: aligned, small,
    or not a row-major NumPy array); None when no leaf needs it."""
    out = []
    found = False
    for x in leaves:
        o = 0
        if type(x) is np.ndarray and x.nbytes >= min_bytes and x.flags.c_contiguous:
            r = x.ctypes.data % 64
            if r and r % x.itemsize == 0:
                o = r // x.itemsize
                found = True
        out.append(o)
    return tuple(out) if found else None


def from_below(x: np.ndarray, o: int) -> np.ndarray:
    """A flat view of ``x``'s memory starting ``o`` elements before it (at a 64-byte boundary).

    NOTE: the view does not own the memory; the caller keeps ``x`` alive while it is used.
    """
    import ctypes

    n = (x.size + o) * x.itemsize
    mem = (ctypes.c_char * n).from_address(x.ctypes.data - o * x.itemsize)
    mem.xfront_base = x  # keeps x alive as long as any view of the padded memory
    return np.frombuffer(mem, dtype=x.dtype)


def variant(entry: Any, offs: tuple[int, ...]) -> tuple[Any, list[Any]]:
    """``(Program, constant buffers)`` of ``entry``'s program taking the inputs at offsets
    ``offs`` as flat arrays padded in front (compiled once per pattern)."""
    v = entry.variants.get(offs)
    if v is not None:
        return v
    from xfront._api._manipulation import reshape
    from xfront._eager import Program, compile_lowered_counted, load_consts
    from xfront.lowering import lower_graph
    from xfront.prims.control import eval_graph

    graph = entry.traced.graph
    dev = entry.device
    avals = [var.aval for var in graph.invars]
    padded = [AbstractArray((a.size + o,), a.dtype) if o else a for a, o in zip(avals, offs)]

    def body(*xs: Any) -> list[Any]:
        ins = [reshape(x[o:o + a.size], a.shape) if o else x
               for x, a, o in zip(xs, avals, offs)]
        return eval_graph(graph, *ins)

    g2, _, _ = _core.trace_graph(body, padded, name=graph.name)
    exe, _ = compile_lowered_counted(lower_graph(g2, platform=dev.platform), dev)
    v = (Program(exe, g2, dev, (), [a.strong() for a in g2.out_avals]),
         load_consts(g2.consts, dev))
    entry.variants[offs] = v
    return v
