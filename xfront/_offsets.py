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
    with partial reductions, dots or data movement keep staging: there XLA:CPU materialises
    the slice.

NOTE [Whole-array reductions of misaligned inputs]
    A reduction over all axes of an input is the one consumer that a slice does not fuse
    into: XLA:CPU hands the reduce to a library kernel (a ``__ynn_fusion``) that reads its
    operand from memory, so any producer, a slice included, is materialised first (a 64 MiB
    float32 sum: 55 ms sliced, 66 ms with the head masked by a select, 3.3 ms aligned). A
    reshape is free, though. So such an input is imported as rows: from the boundary of
    ``ROW_BYTES`` just below the data (never below the data's page) to the next one at or
    after its end (never past the data's page; pages are mapped whole, so reading up to the
    page end is safe), viewed as ``(R, C)`` with ``C * itemsize == ROW_BYTES``. The program
    reduces every row (the library kernel reads the imported memory in place), then replaces
    the first and the last row's partial results by reductions of the data part of those two
    rows alone (small slices), and reduces the ``R`` partials. The bytes before and after
    the data (allocator headers, other arrays) only reach the two discarded partials, so a
    NaN or inf there never leaks into the result. Partials change the order of a float sum
    (by rounding only, as any blocked sum). Sum and mean of 16M float32 from NumPy, 2-core
    host, medians of 31 calls: 6.8-9.7 ms (min 2.0 ms; the native call's median 11 ms, min
    2-4 ms) against 43.8 ms (min 31.5 ms) through the staged copy. ``ROW_BYTES``: 1 KiB and
    4 KiB rows measured alike, 64-byte rows slower (a second pass over 1/16 of the data).

NOTE [Placing the results of misaligned elementwise programs]
    An elementwise loop over memory slows down when its loads trail its stores by a little
    modulo 4096 bytes: the CPU matches a load against the stores still in flight by the low
    12 address bits first, and a load whose bits equal a recent store's waits for it (4K
    aliasing). PJRT puts a large output 64 bytes into a page and NumPy's large allocations
    start 16 bytes into one, so in ``out = f(x)`` every load of ``x`` trails the store of the
    same element by 48 bytes. A 16M float32 chain (3 inputs, output 64 bytes into its page)
    took, over the CPU time of the fastest input offset: inputs 16 bytes into a page 1.48x,
    0 bytes 1.27x, 4000 and 4032 bytes 1.21x and 1.31x, 64 to 3072 bytes 1.00-1.18x
    (``python -m benchmarks.bench_large --page-offsets ...``). So when such a variant's large
    results leave as NumPy arrays or torch tensors, it writes each result ``k`` rows of ``C``
    elements (256 B to 1 KiB) into a buffer ``k`` rows longer: a ``pad`` of the ``(R, C)``
    view on its leading axis, which XLA fuses with the body into one loop (as it does a
    concatenation of zero rows; a ``pad`` of the flat result measured 10x slower). ``k`` is
    chosen so that the loads run ``LEAD`` to ``LEAD`` + 1 KiB ahead of the stores, and the
    caller gets the view from row ``k`` (its base keeps the runtime buffer, which returns to
    the pool when the view dies). The shift is chosen per call from the first misaligned
    input's page offset, in steps of 1 KiB (at most 3 more variants per pattern of offsets;
    NumPy's allocations all give one). Results for xfront arrays or jax are not views, so
    they keep the plain variant, as do programs that read an input as rows. A placed result
    has its own shape in the pool, so calls that alternate misaligned and aligned inputs keep
    two sets of recycled buffers. Where the allocator serves a large output from its heap
    rather than fresh pages, the output starts anywhere in its page and the rows help only by
    chance (glibc maps blocks of 32 MiB or more unless its heap has a free block that large).
"""

from __future__ import annotations

import ctypes
from typing import Any, Sequence

import numpy as np

from xfront import _core
from xfront._aval import AbstractArray

_SHAPE_PRIMS = ("broadcast_in_dim", "reshape", "convert")
_REDUCE_PRIMS = ("reduce_sum", "reduce_prod", "reduce_max", "reduce_min", "reduce_and",
                 "reduce_or")
_fusable: frozenset | None = None
ROW_BYTES = 1024  # NOTE [Whole-array reductions of misaligned inputs]; divides any page size
# NOTE [Placing the results of misaligned elementwise programs]
PAGE = 4096
OUT_IN_PAGE = 64  # where PJRT's large (page-mapped) outputs start in their first page
LEAD = 256  # the loads of a placed variant run LEAD to LEAD + 1 KiB ahead of its stores
PLACE = True  # whether results for NumPy and torch are placed (off: the plain variant)


def _fusable_prims() -> frozenset:
    global _fusable
    if _fusable is None:
        from xfront.prims import elementwise as _ew

        s = {v for v in vars(_ew).values() if isinstance(v, _core.Primitive)}
        s |= {_core.PRIMITIVES[n] for n in _SHAPE_PRIMS if n in _core.PRIMITIVES}
        _fusable = frozenset(s)
    return _fusable


class Plan:
    """How a program's misaligned inputs are imported: ``rows[i]`` for an input that some
    reduction over all its axes reads directly (NOTE [Whole-array reductions of misaligned
    inputs]); the others are imported from the 64-byte boundary below."""

    __slots__ = ("rows",)

    def __init__(self, rows: tuple[bool, ...]):
        self.rows = rows


def _whole_reduction(e: _core.Eqn, invars: dict[int, int]) -> int | None:
    """The input index that eqn ``e`` reduces over all its axes, or None."""
    if e.prim.name not in _REDUCE_PRIMS or len(e.inputs) != 1:
        return None
    x = e.inputs[0]
    i = invars.get(id(x))
    if i is None or tuple(sorted(e.params.get("axes", ()))) != tuple(range(x.aval.ndim)):
        return None
    return i


def eligible(graph: _core.Graph, donate: Sequence[int], platform: str) -> Plan | None:
    """Whether misaligned inputs of this program can be imported from below (see NOTEs): a
    Plan, or None."""
    if platform != "cpu" or donate:
        return None
    ok = _fusable_prims()
    invars = {id(v): i for i, v in enumerate(graph.invars)}
    rows = [False] * len(graph.invars)
    for e in graph.eqns:
        if e.prim in ok:
            continue
        i = _whole_reduction(e, invars)
        if i is None:
            return None
        rows[i] = True
    return Plan(tuple(rows))


def offsets(leaves: Sequence[Any], min_bytes: int,
            plan: Plan | None = None) -> tuple[Any, ...] | None:
    """Per leaf, how many elements its data starts after a 64-byte boundary (0: aligned, small,
    or not a row-major NumPy array), or for an input read as rows (``plan``) the pair
    ``(elements after the row boundary below, padded length)``; None when no leaf needs it.
    One more entry follows the leaves': the shift in bytes (a multiple of 1 KiB) that placed
    results take (NOTE [Placing the results of misaligned elementwise programs]), 0 for none."""
    out: list[Any] = []
    found = False
    shift = -1
    rows = plan.rows if plan is not None else ()
    for i, x in enumerate(leaves):
        o: Any = 0
        if type(x) is np.ndarray and x.nbytes >= min_bytes and x.flags.c_contiguous:
            p = x.ctypes.data
            r = p % 64
            if r and r % x.itemsize == 0:
                found = True
                if i < len(rows) and rows[i] and ROW_BYTES % x.itemsize == 0:
                    c = ROW_BYTES // x.itemsize
                    h = (p % ROW_BYTES) // x.itemsize
                    o = (h, -(-(h + x.size) // c) * c)
                    shift = 0  # an input read as rows: the plain variant
                else:
                    o = r // x.itemsize
                    if shift < 0:
                        shift = (p - OUT_IN_PAGE - LEAD) % PAGE // 1024 * 1024
        out.append(o)
    if not found:
        return None
    out.append(shift if shift > 0 and PLACE else 0)
    return tuple(out)


def from_below(x: np.ndarray, o: Any) -> np.ndarray:
    """A flat view of ``x``'s memory starting ``o`` elements before it (at a 64-byte boundary),
    or for ``o = (h, length)`` the ``length`` elements from ``h`` elements before it (whole rows:
    NOTE [Whole-array reductions of misaligned inputs]).

    NOTE: the view does not own the memory; the caller keeps ``x`` alive while it is used.
    """
    if type(o) is tuple:
        o, length = o
        n = length * x.itemsize
    else:
        n = (x.size + o) * x.itemsize
    mem = (ctypes.c_char * n).from_address(x.ctypes.data - o * x.itemsize)
    mem.xfront_base = x  # keeps x alive as long as any view of the padded memory
    return np.frombuffer(mem, dtype=x.dtype)


def _rows_reduce(prim: _core.Primitive, x: Any, h: int, n: int, length: int) -> Any:
    """``prim`` over the ``n`` elements at ``h`` of the flat padded ``x`` (NOTE [Whole-array
    reductions of misaligned inputs])."""
    from xfront._api._manipulation import concat, reshape

    c = ROW_BYTES // x.dtype.itemsize
    r = length // c
    if r <= 2:
        return prim.bind(x[h:h + n], axes=(0,))
    partial = prim.bind(reshape(x, (r, c)), axes=(1,))
    first = prim.bind(x[h:c], axes=(0,))
    last = prim.bind(x[(r - 1) * c:h + n], axes=(0,))
    parts = concat([reshape(first, (1,)), partial[1:r - 1], reshape(last, (1,))])
    return prim.bind(parts, axes=(0,))


def _eval(graph: _core.Graph, xs: Sequence[Any], ins: Sequence[Any],
          offs: tuple[Any, ...]) -> list[Any]:
    """``graph`` on the inputs ``ins``, with whole-array reductions of inputs read as rows
    taken from the padded ``xs`` (see NOTEs)."""
    env: dict[int, Any] = {}
    for v, c in zip(graph.constvars, graph.consts):
        env[v.id] = c
    for v, a in zip(graph.invars, ins):
        env[v.id] = a
    invars = {id(v): i for i, v in enumerate(graph.invars)}

    def read(a: Any) -> Any:
        if isinstance(a, _core.Literal):
            return _core.WeakValue(a.value) if a.aval.weak else a.value
        return env[a.id]

    for e in graph.eqns:
        i = _whole_reduction(e, invars)
        if i is not None and type(offs[i]) is tuple:
            h, length = offs[i]
            out = _rows_reduce(e.prim, xs[i], h, graph.invars[i].aval.size, length)
        else:
            out = e.prim.bind(*[read(a) for a in e.inputs], **e.params)
        for v, o in zip(e.outputs, out if e.prim.multiple_results else [out]):
            env[v.id] = o
    return [read(a) for a in graph.outs]


def _rows_of(a: AbstractArray, shift: int) -> tuple[int, int] | None:
    """``(k, C)``: a result of type ``a`` placed ``shift`` bytes later is written as ``(R, C)``
    rows after ``k`` leading ones, or None where no row width of 256 B to 1 KiB divides it."""
    size, item = a.size, a.dtype.itemsize
    for c in range(1024 // item, 256 // item - 1, -1):
        if size % c == 0 and c * item % 64 == 0:  # rows (so the view) stay 64-byte aligned
            k = (shift + c * item // 2) // (c * item)
            return (k, c) if k else None
    return None


def variant(entry: Any, offs: tuple[Any, ...], place: bool = False
            ) -> tuple[Any, list[Any], list[Any]]:
    """``(Program, constant buffers, placed)`` of ``entry``'s program taking the inputs at
    offsets ``offs`` as flat arrays padded in front (compiled once per pattern); with
    ``place``, its large results are placed (NOTE [Placing the results of misaligned
    elementwise programs]): ``placed[i]`` is the number of leading rows to drop from result
    ``i``'s buffer, or None where result ``i`` is not placed."""
    shift = offs[-1] if place else 0  # 0 when an input is read as rows (``offsets``)
    # keyed by the shift taken, not the one offered: unplaced calls share one plain variant
    # whatever page offset their inputs have
    key = (offs[:-1] + (shift,), shift)
    v = entry.variants.get(key)
    if v is not None:
        return v
    from xfront._api._manipulation import reshape
    from xfront._api._pad import pad
    from xfront._eager import Program, compile_lowered_counted, load_consts
    from xfront.lowering import lower_graph

    graph = entry.traced.graph
    dev = entry.device
    avals = [var.aval for var in graph.invars]
    offs_in = offs[:len(avals)]
    padded = [AbstractArray((o[1] if type(o) is tuple else a.size + o,), a.dtype) if o else a
              for a, o in zip(avals, offs_in)]
    heads = [o[0] if type(o) is tuple else o for o in offs_in]
    rows = [_rows_of(a, shift) if shift and p else None
            for a, p in zip(entry.out_avals, entry.out_pool)]

    def body(*xs: Any) -> list[Any]:
        ins = [reshape(x[o:o + a.size], a.shape) if o else x
               for x, a, o in zip(xs, avals, heads)]
        outs = _eval(graph, xs, ins, offs_in)
        return [o if r is None else pad(reshape(o, (o.size // r[1], r[1])), ((r[0], 0), (0, 0)))
                for o, r in zip(outs, rows)]

    g2, _, _ = _core.trace_graph(body, padded, name=graph.name)
    exe, _ = compile_lowered_counted(lower_graph(g2, platform=dev.platform), dev)
    v = (Program(exe, g2, dev, (), [a.strong() for a in g2.out_avals]),
         load_consts(g2.consts, dev), [None if r is None else r[0] for r in rows])
    entry.variants[key] = v
    return v


def placed_wrapper(wrap_numpy: Any, k: int, shape: tuple[int, ...], export: Any = None) -> Any:
    """``wrap(buf)`` for a placed result (NOTE [Placing the results of misaligned elementwise
    programs]): the NumPy view from row ``k`` of the NumPy array ``wrap_numpy(buf)`` (which
    owns the buffer), in ``shape``; ``export(view)`` hands it to another framework."""
    if export is None:
        def wrap(buf: Any) -> Any:
            return wrap_numpy(buf)[k:].reshape(shape)
    else:
        def wrap(buf: Any) -> Any:
            return export(wrap_numpy(buf)[k:].reshape(shape))
    return wrap
