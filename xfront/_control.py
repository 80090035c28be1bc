"""Structured control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``.

Imports: _core, _tree, _array, _aval, _dtypes, _errors, prims, and the namespace (_api) for
converting eager results. The primitives and their lowering live in xfront/prims/control.py.

Two modes, one meaning
----------------------
Inside a trace (``xf.compile``, or any traced region) the functions are traced into region
graphs and recorded as cond / while / scan primitives (lowered to stablehlo.if, case and while).
Outside a trace, loops run as ordinary Python control flow, calling your functions eagerly (so
``print`` works in them), but first trace them once to fix the types; ``cond``/``switch`` trace
every branch once and run the cond primitive on the traced graphs, so a branch's Python runs
exactly once. Both modes therefore check the same things and give the same dtypes and values:

* branch outputs must agree in pytree structure, shape and dtype; a loop body must return its
  carry with the structure, shapes and dtypes it received;
* weakly typed values (Python scalars) adapt as in the namespace: a carry that starts as the
  Python float ``0.0`` and is updated with a float32 array becomes float32, and a branch that
  returns ``0.0`` next to a float32 branch returns float32.

Values a function closes over (arrays, or tracers of the enclosing trace) become operands of the
primitive automatically; branches may close over different values.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Sequence

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._array import Array
from xfront._aval import AbstractArray
from xfront._core import Tracer, WeakValue
from xfront._tree import TreeDef, tree_flatten, tree_flatten_with_path, tree_unflatten
from xfront.prims import control as _cf
from xfront.prims import elementwise as _ew

_PY_SCALARS = (bool, int, float, complex)

__all__ = ["cond", "switch", "while_loop", "fori_loop", "scan"]


# --- leaves -----------------------------------------------------------------------------------

def _is_py_scalar(x: Any) -> bool:
    return isinstance(x, _PY_SCALARS) and not isinstance(x, np.generic)


def _leaf(op: str, what: str, x: Any) -> tuple[Any, AbstractArray]:
    """(value usable as a primitive operand, its aval) for one pytree leaf."""
    if isinstance(x, (Array, WeakValue)):
        return x, x.aval
    if _is_py_scalar(x):
        d, _ = dt.weak_result(None, [dt.scalar_kind(x)])
        if isinstance(x, int) and not isinstance(x, bool):
            x = dt.check_int_fits(x, d, op)
        return WeakValue(np.asarray(x, dtype=d.np)), AbstractArray((), d, True)
    from xfront._api._helpers import operand

    v = operand(op, x, what)
    if isinstance(v, Array):
        return v, v.aval
    arr = np.asarray(v)
    return arr, AbstractArray(arr.shape, dt.dtype(arr.dtype))


def _leaves(op: str, what: str, tree_value: Any) -> tuple[list[Any], list[AbstractArray], TreeDef]:
    raw, tree = tree_flatten(tree_value)
    paths = None
    vals, avals = [], []
    for i, x in enumerate(raw):
        try:
            v, a = _leaf(op, what, x)
        except _errors.ArgumentError:
            paths = paths or [p for p, _ in tree_flatten_with_path(tree_value)]
            raise _errors.err(_errors.ArgumentError, op,
                              f"{what}{paths[i]} is a {type(x).__name__}, which is not an array",
                              "pass arrays, Python numbers or pytrees (tuples, lists, dicts) "
                              "of them") from None
        vals.append(v)
        avals.append(a)
    return vals, avals, tree


def _out_leaves(op: str, fn_name: str, out: Any, what: str = "output"
                ) -> tuple[list[Any], TreeDef]:
    """Flatten what a traced function returned; Python scalars stay weak."""
    raw, tree = tree_flatten(out)
    vals = []
    for i, x in enumerate(raw):
        try:
            vals.append(_leaf(op, what, x)[0])
        except _errors.XfrontError:
            path = tree_flatten_with_path(out)[i][0]
            raise _errors.err(_errors.ArgumentError, op,
                              f"{fn_name} returned a {type(x).__name__} at {what}{path}, which "
                              "is not an array", "return arrays or pytrees of arrays") from None
    return vals, tree


def _paths(tree: TreeDef) -> list[str]:
    return [p for p, _ in tree_flatten_with_path(tree_unflatten(tree, range(tree.num_leaves)))]


def _aval(x: Any) -> AbstractArray:
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    return _leaf("", "", x)[1]


# --- type joins (weak values adapt; see NOTE [Python scalars are weak] in _dtypes.py) ---------

def _join(a: AbstractArray, b: AbstractArray) -> AbstractArray | None:
    """The common type of two values that must agree, or None if they cannot."""
    if a.shape != b.shape:
        return None
    if a.dtype is b.dtype:
        return AbstractArray(a.shape, a.dtype, a.weak and b.weak)
    if a.weak and b.weak:
        d, _ = dt.weak_result(None, [a.dtype.kind, b.dtype.kind])
        return AbstractArray(a.shape, d, True)
    strong, weak = (b, a) if a.weak else (a, b)
    if not weak.weak:
        return None
    d, _ = dt.weak_result(strong.dtype, [weak.dtype.kind])
    return strong.strong() if d is strong.dtype else None


_CATEGORY = {"b": "bool", "i": "int", "u": "int", "f": "float", "c": "complex"}


def _mismatch(a: AbstractArray, b: AbstractArray) -> type:
    return _errors.ShapeError if a.shape != b.shape else _errors.DTypeError


def _join_carry(op: str, fn_name: str, tree: TreeDef, carry: list[AbstractArray],
                out: list[AbstractArray], label: str = "carry") -> list[AbstractArray]:
    # NOTE: a weak carry (a Python-number start) may take the precision of the arrays it meets
    # (0.0 + float32 -> float32) but not change kind: 0 + 1.5 would silently turn an int carry
    # into a float one, so it raises like any other dtype change.
    joined = []
    for i, (a, o) in enumerate(zip(carry, out)):
        j = _join(a, o)
        if j is None or (not a.weak and j.dtype is not a.dtype) or (
                a.weak and _CATEGORY[j.dtype.kind] != _CATEGORY[a.dtype.kind]):
            path = _paths(tree)[i]
            start = f"the Python {_CATEGORY[a.dtype.kind]} {a.short}" if a.weak else a.short
            raise _errors.err(
                _mismatch(a, o), op,
                f"{fn_name} returns {o.short} for {label}{path}, which starts as {start}; "
                "a loop carry must keep its shape and dtype",
                "cast the initial value (or the new value) so that they agree"
                + (", e.g. start from 0.0 instead of 0" if a.weak and a.dtype.kind in "iu"
                   and o.dtype.kind in "fc" else ""))
        joined.append(j)
    return joined


def _check_structure(op: str, fn_name: str, got: TreeDef, want: TreeDef, what: str) -> None:
    if got != want:
        raise _errors.err(_errors.ArgumentError, op,
                          f"{fn_name} returned {what} with structure {got}, expected {want}",
                          "a loop body must return its carry with the structure it received")


# --- converting values ------------------------------------------------------------------------

def _operand(v: Any, aval: AbstractArray) -> Any:
    """A traced-mode operand converted to ``aval``'s dtype (and weak flag for constants)."""
    cur = _aval(v)
    if isinstance(v, WeakValue):
        val = v.value.astype(aval.dtype.np) if cur.dtype is not aval.dtype else v.value
        return WeakValue(val) if aval.weak else val
    if cur.dtype is aval.dtype:
        return v
    if isinstance(v, Array):
        return _ew.convert(v, dtype=aval.dtype)
    return np.asarray(v).astype(aval.dtype.np)


def _eager_value(x: Any, aval: AbstractArray) -> Any:
    """An eager value as the function sees it in both modes: a Python scalar while its type is
    still weak, otherwise an xfront array of ``aval``'s dtype."""
    if aval.weak and _is_py_scalar(x):
        return x
    return _as_array(x, aval)


def _as_array(x: Any, aval: AbstractArray) -> Array:
    from xfront._api._creation import asarray

    if isinstance(x, WeakValue):
        x = x.value
    if isinstance(x, Array) and x.dtype is aval.dtype:
        return x
    return asarray(x, dtype=aval.dtype)


def _eager_carry(op: str, fn_name: str, tree: TreeDef, avals: list[AbstractArray],
                 out: Any, label: str = "carry") -> list[Any]:
    leaves, got = _out_leaves(op, fn_name, out, label)
    _check_structure(op, fn_name, got, tree, f"a {label}")
    raw = tree_flatten(out)[0]
    _join_carry(op, fn_name, tree, avals, [_aval(v) for v in leaves], label)
    return [_eager_value(x, a) for x, a in zip(raw, avals)]


def _fn_name(fn: Callable, default: str) -> str:
    return getattr(fn, "__name__", default)


def _check_callable(op: str, **fns: Any) -> None:
    for name, f in fns.items():
        if not callable(f):
            raise _errors.err(_errors.ArgumentError, op,
                              f"{name} must be callable, got {type(f).__name__}")


# --- cond / switch ----------------------------------------------------------------------------

def cond(pred: Any, true_fn: Callable, false_fn: Callable, *operands: Any) -> Any:
    """Return ``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``.

    Both branches are traced (their Python runs once each) and the choice happens at run time
    (stablehlo.if), inside ``xf.compile`` and eagerly alike. Both branches must return the same
    pytree structure with the same shapes and dtypes.

    Args:
      pred: a boolean scalar (an integer scalar counts as ``pred != 0``).
      true_fn, false_fn: functions of ``*operands``; they may close over other arrays.
      *operands: pytrees of arrays or Python numbers passed to the chosen branch.

    Returns:
      The chosen branch's output.

    Example:
      >>> xf.cond(x.sum() > 0, lambda v: v * 2, lambda v: -v, x)
    """
    _check_callable("cond", true_fn=true_fn, false_fn=false_fn)
    concrete, value = _pred("cond", pred)
    return _branches("cond", concrete, value, (false_fn, true_fn), ("false_fn", "true_fn"),
                     operands)


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """Return ``branches[index](*operands)``; ``index`` is clamped to ``[0, len(branches) - 1]``.

    Inside ``xf.compile`` every branch is traced and the choice happens at run time
    (stablehlo.case). All branches must return the same structure, shapes and dtypes.

    Args:
      index: an integer scalar.
      branches: a non-empty sequence of functions of ``*operands``.
      *operands: pytrees of arrays or Python numbers.
    """
    if callable(branches) or not isinstance(branches, (list, tuple)) or not branches:
        raise _errors.err(_errors.ArgumentError, "switch",
                          "branches must be a non-empty list or tuple of functions, got "
                          f"{type(branches).__name__}")
    _check_callable("switch", **{f"branches[{i}]": f for i, f in enumerate(branches)})
    concrete, value = _index("switch", index, len(branches))
    names = tuple(f"branches[{i}]" for i in range(len(branches)))
    return _branches("switch", concrete, value, tuple(branches), names, operands)


def _scalar_aval(op: str, name: str, x: Any) -> AbstractArray:
    try:
        aval = _aval(x)
    except _errors.XfrontError:
        raise _errors.err(_errors.ArgumentError, op,
                          f"{name} must be a scalar array or Python number, got "
                          f"{type(x).__name__}") from None
    return aval


def _pred(op: str, pred: Any) -> tuple[int | None, Any]:
    """(the branch index if ``pred`` is concrete, the operand to bind)."""
    aval = _scalar_aval(op, "pred", pred)
    if aval.shape != () or aval.dtype.kind not in "biu":
        raise _errors.err(_errors.DTypeError if aval.shape == () else _errors.ShapeError, op,
                          f"pred must be a boolean scalar, got {aval.short}",
                          "reduce it first, e.g. xf.any(x > 0), or compare: x > 0")
    if isinstance(pred, Tracer):
        if aval.dtype is dt.bool_:
            return None, pred
        return None, _ew.ne(pred, np.zeros((), aval.dtype.np))
    flag = bool(np.asarray(pred.value if isinstance(pred, WeakValue) else pred))
    return int(flag), np.asarray(flag)


def _index(op: str, index: Any, n: int) -> tuple[int | None, Any]:
    aval = _scalar_aval(op, "index", index)
    if aval.shape != () or aval.dtype.kind not in "biu":
        raise _errors.err(_errors.DTypeError if aval.shape == () else _errors.ShapeError, op,
                          f"index must be an integer scalar, got {aval.short}")
    if isinstance(index, Tracer):
        v = index
        if aval.dtype is dt.bool_:
            v = _ew.convert(v, dtype=dt.int32)
        else:
            d = aval.dtype.np
            v = _ew.clamp(np.asarray(0, d), v, np.asarray(n - 1, d))
            if aval.dtype is not dt.int32:
                v = _ew.convert(v, dtype=dt.int32)
        return None, v
    i = min(max(int(np.asarray(index.value if isinstance(index, WeakValue) else index)), 0),
            n - 1)
    return i, np.asarray(i, dtype=np.int32)


def _branches(op: str, concrete: int | None, value: Any, fns: tuple[Callable, ...],
              names: tuple[str, ...], operands: tuple) -> Any:
    vals, avals, in_tree = _leaves(op, "operands", operands)
    traced = []
    trees: list[TreeDef] = []
    for fn, name in zip(fns, names):
        def flat(*tracers: Any, fn: Callable = fn, name: str = name) -> list[Any]:
            out = fn(*tree_unflatten(in_tree, tracers))
            leaves, tree = _out_leaves(op, name, out)
            trees.append(tree)
            return leaves
        traced.append(_cf.trace_region(flat, avals, _fn_name(fn, name)))
    for name, tree in zip(names[1:], trees[1:]):
        if tree != trees[0]:
            raise _errors.err(_errors.ArgumentError, op,
                              f"{names[0]} returns structure {trees[0]} but {name} returns "
                              f"{tree}; all branches must return the same structure")
    out_avals = list(traced[0][0].out_avals)
    for k, (g, _) in enumerate(traced[1:], 1):
        for i, (a, b) in enumerate(zip(out_avals, g.out_avals)):
            j = _join(a, b)
            if j is None:
                path = _paths(trees[0])[i]
                raise _errors.err(_mismatch(a, b), op,
                                  f"output{path} is {traced[0][0].out_avals[i].short} in "
                                  f"{names[0]} but {b.short} in {names[k]}; all branches must "
                                  "return the same shapes and dtypes",
                                  "cast one branch's result, e.g. with .astype(...)")
            out_avals[i] = j
    # NOTE: eagerly too, the cond primitive runs the branch graphs traced above (one small
    # executable per signature): each branch's Python runs exactly once, and both modes give
    # the same values and types.
    graphs = [(_cf.cast_outputs(g, out_avals), b) for g, b in traced]
    if _core.current_builder() is None:
        captures, closed = _close_root_regions([g for g, _ in graphs], len(avals))
    else:
        captures, closed = _cf.close_regions(graphs, len(avals))
    outs = _cf.cond(value, *captures, *vals, branches=closed)
    return tree_unflatten(trees[0], outs)


def _close_root_regions(graphs: list[_core.Graph], nargs: int) -> tuple[list[Any], list[Any]]:
    """Eager counterpart of ``close_regions``: regions traced outside any trace hold the arrays
    they close over as consts; those become operands shared by all regions."""
    index: dict[int, int] = {}
    outer: list[Any] = []
    outer_avals: list[AbstractArray] = []
    for g in graphs:
        for c, v in zip(g.consts, g.constvars):
            if id(c) not in index:
                index[id(c)] = len(outer)
                outer.append(c)
                outer_avals.append(v.aval)
    closed = []
    for g in graphs:
        mine = {id(c): v for c, v in zip(g.consts, g.constvars)}
        caps = [mine.get(id(c)) or _core.Var(a) for c, a in zip(outer, outer_avals)]
        closed.append(_core.Graph(caps + list(g.invars[:nargs]), [], [], list(g.eqns),
                                  list(g.outs), g.name))
    return outer, closed


# --- while_loop -------------------------------------------------------------------------------

def while_loop(cond_fn: Callable, body_fn: Callable, init: Any) -> Any:
    """Repeat ``carry = body_fn(carry)`` while ``cond_fn(carry)`` is True; return the carry.

    Inside ``xf.compile`` this is one stablehlo.while (the trip count may depend on data).
    ``body_fn`` must return the carry with the structure, shapes and dtypes of ``init``.
    Not reverse-differentiable (use ``fori_loop`` with Python-int bounds, or ``scan``).

    Args:
      cond_fn: ``carry -> boolean scalar``.
      body_fn: ``carry -> carry``.
      init: the initial carry, a pytree of arrays or Python numbers.
    """
    _check_callable("while_loop", cond_fn=cond_fn, body_fn=body_fn)
    return _while("while_loop", cond_fn, body_fn, init, "cond_fn", "body_fn")


def _while(op: str, cond_fn: Callable, body_fn: Callable, init: Any, cond_name: str,
           body_name: str) -> Any:
    vals, avals, tree = _leaves(op, "init", init)
    body_tr = None
    for _ in range(4 * len(avals) + 2):  # weak carries settle in a few rounds
        out_tree: list[TreeDef] = []

        def body_flat(*tracers: Any) -> list[Any]:
            leaves, t = _out_leaves(op, body_name, body_fn(tree_unflatten(tree, tracers)),
                                    "carry")
            out_tree.append(t)
            return leaves

        body_tr = _cf.trace_region(body_flat, avals, _fn_name(body_fn, body_name))
        _check_structure(op, body_name, out_tree[0], tree, "a carry")
        joined = _join_carry(op, body_name, tree, avals, body_tr[0].out_avals)
        if joined == avals:
            break
        avals = joined
    else:  # pragma: no cover - each round makes a leaf less weak, so this cannot happen
        raise AssertionError("while_loop: carry types did not settle")
    assert body_tr is not None

    def cond_flat(*tracers: Any) -> list[Any]:
        leaves, t = _out_leaves(op, cond_name, cond_fn(tree_unflatten(tree, tracers)))
        if t.num_leaves != 1 or t.kind != "leaf":
            raise _errors.err(_errors.ArgumentError, op,
                              f"{cond_name} must return a boolean scalar, got a pytree {t}")
        return leaves

    cond_tr = _cf.trace_region(cond_flat, avals, _fn_name(cond_fn, cond_name))
    c_aval = cond_tr[0].out_avals[0]
    if c_aval.shape != () or c_aval.dtype is not dt.bool_:
        raise _errors.err(_errors.DTypeError, op,
                          f"{cond_name} must return a boolean scalar, got {c_aval.short}",
                          "compare or reduce, e.g. xf.all(err > tol)")

    if _core.current_builder() is None:
        carry = [_eager_value(x, a) for x, a in zip(tree_flatten(init)[0], avals)]
        while bool(cond_fn(tree_unflatten(tree, carry))):
            carry = _eager_carry(op, body_name, tree, avals, body_fn(tree_unflatten(tree, carry)))
        return tree_unflatten(tree, [_as_array(x, a) for x, a in zip(carry, avals)])

    body_g = _cf.cast_outputs(body_tr[0], avals)
    cconsts, (cond_g,) = _cf.close_regions([cond_tr], len(avals))
    bconsts, (body_g,) = _cf.close_regions([(body_g, body_tr[1])], len(avals))
    outs = _cf.while_(*cconsts, *bconsts, *[_operand(v, a) for v, a in zip(vals, avals)],
                      cond_graph=cond_g, body_graph=body_g, cond_nconsts=len(cconsts),
                      body_nconsts=len(bconsts))
    return tree_unflatten(tree, outs)


# --- fori_loop --------------------------------------------------------------------------------

def fori_loop(lower: Any, upper: Any, body_fn: Callable, init: Any) -> Any:
    """``for i in range(lower, upper): carry = body_fn(i, carry)``; returns the carry.

    With Python-int (or other concrete) bounds the trip count is static: the loop is a
    ``scan`` (stablehlo.while with a fixed count) and it is differentiable; ``i`` is then a
    weakly typed int (a Python int eagerly). With traced bounds it is a ``while_loop`` (not
    reverse-differentiable) and ``i`` has the bounds' integer dtype.

    Args:
      lower, upper: integer scalars.
      body_fn: ``(i, carry) -> carry``.
      init: the initial carry (pytree).
    """
    _check_callable("fori_loop", body_fn=body_fn)
    py = [_is_py_scalar(b) and isinstance(b, int) and not isinstance(b, bool)
          for b in (lower, upper)]
    if all(py):
        idx_aval = AbstractArray((), dt.int64, True)
    else:
        for name, b in (("lower", lower), ("upper", upper)):
            a = _scalar_aval("fori_loop", name, b)
            if a.shape != () or a.dtype.kind not in "iu":
                raise _errors.err(_errors.DTypeError, "fori_loop",
                                  f"{name} must be an integer scalar, got {a.short}")
        from xfront._api._helpers import promote

        d, _ = promote("fori_loop", *[b if p else _leaf("fori_loop", "bound", b)[0]
                                      for b, p in zip((lower, upper), py)])
        idx_aval = AbstractArray((), d)
    if not any(isinstance(b, Tracer) for b in (lower, upper)):
        lo, hi = int(np.asarray(_plain(lower))), int(np.asarray(_plain(upper)))
        i0 = lo if idx_aval.weak else np.asarray(lo, dtype=idx_aval.dtype.np)

        def step(carry: Any, _: Any) -> Any:
            i, x = carry
            return (i + 1, body_fn(i, x)), None

        (_, out), _ = _scan("fori_loop", step, (i0, init), None, max(hi - lo, 0), False,
                            _fn_name(body_fn, "body_fn"), label="(i, carry)")
        return out
    lo = _operand(_leaf("fori_loop", "lower", lower)[0], idx_aval)
    hi = _operand(_leaf("fori_loop", "upper", upper)[0], idx_aval)

    def below(carry: Any) -> Any:
        return _ew.lt(carry[0], hi)

    def step_(carry: Any) -> Any:
        i, x = carry
        return (i + 1, body_fn(i, x))

    _, out = _while("fori_loop", below, step_, (lo, init), "cond", _fn_name(body_fn, "body_fn"))
    return out


def _plain(x: Any) -> Any:
    return x.value if isinstance(x, WeakValue) else x


# --- scan -------------------------------------------------------------------------------------

def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False) -> tuple[Any, Any]:
    """Loop ``f`` over the leading axis of ``xs``, threading a carry; stack the outputs.

    Equivalent to::

        carry, ys = init, []
        for x in xs:                    # reversed(xs) with reverse=True
            carry, y = f(carry, x)
            ys.append(y)
        return carry, stack(ys)         # ys[t] belongs to xs[t] in both directions

    Inside ``xf.compile`` it is one stablehlo.while with a static trip count, and it is
    differentiable.

    Args:
      f: ``(carry, x) -> (carry, y)``; the carry keeps its structure, shapes and dtypes.
      init: the initial carry (pytree).
      xs: a pytree of arrays sharing a leading axis, or None (then ``length`` is required and
        ``f`` receives None).
      length: the number of steps; must match the leading axis of ``xs`` if both are given.
      reverse: run the steps from the last element to the first.

    Returns:
      ``(final carry, ys)`` where each leaf of ``ys`` has a new leading axis of ``length``.
    """
    _check_callable("scan", f=f)
    return _scan("scan", f, init, xs, length, bool(reverse), "f")


def _scan(op: str, f: Callable, init: Any, xs: Any, length: Any, reverse: bool, fn_name: str,
          label: str = "carry") -> tuple[Any, Any]:
    cvals, cavals, ctree = _leaves(op, "init", init)
    xvals, xavals, xtree = _leaves(op, "xs", xs)
    if length is not None:
        try:
            length = operator.index(length)
        except TypeError:
            raise _errors.err(_errors.ArgumentError, op,
                              f"length must be a Python int, got {type(length).__name__}") from None
        if length < 0:
            raise _errors.err(_errors.ArgumentError, op, f"length must be >= 0, got {length}")
    paths = None
    for i, a in enumerate(xavals):
        paths = paths or _paths(xtree)
        if a.ndim == 0:
            raise _errors.err(_errors.ShapeError, op,
                              f"xs{paths[i]} is {a.short}; scanned arrays need a leading axis")
        if length is None:
            length = a.shape[0]
        elif a.shape[0] != length:
            first = f"length={length}" if i == 0 else f"xs{paths[0]} has {xavals[0].shape[0]}"
            raise _errors.err(_errors.ShapeError, op,
                              f"xs{paths[i]} has leading axis {a.shape[0]} but {first}; all "
                              "scanned arrays must have the same leading size")
    if length is None:
        raise _errors.err(_errors.ArgumentError, op,
                          "length is required when xs is None or has no arrays")
    x_avals = [AbstractArray(a.shape[1:], a.dtype) for a in xavals]
    in_tree = tree_flatten((init, xs))[1]

    tr = None
    for _ in range(4 * len(cavals) + 2):
        trees: list[tuple[TreeDef, TreeDef]] = []

        def flat(*tracers: Any) -> list[Any]:
            carry, x = tree_unflatten(in_tree, tracers)
            c, y = _pair(op, fn_name, f(carry, x))
            cl, ct = _out_leaves(op, fn_name, c, label)
            yl, yt = _out_leaves(op, fn_name, y, "y")
            trees.append((ct, yt))
            return cl + yl

        tr = _cf.trace_region(flat, cavals + x_avals, _fn_name(f, fn_name))
        _check_structure(op, fn_name, trees[0][0], ctree, f"a {label}")
        joined = _join_carry(op, fn_name, ctree, cavals, tr[0].out_avals[:len(cavals)], label)
        if joined == cavals:
            break
        cavals = joined
    else:  # pragma: no cover - each round makes a leaf less weak, so this cannot happen
        raise AssertionError("scan: carry types did not settle")
    assert tr is not None
    ncarry = len(cavals)
    y_tree = trees[0][1]
    y_avals = [a.strong() for a in tr[0].out_avals[ncarry:]]

    if _core.current_builder() is None:
        carry = [_eager_value(x, a) for x, a in zip(tree_flatten(init)[0], cavals)]
        xs_arr = [_as_array(x, a) for x, a in zip(xvals, xavals)]
        ys: list[list[Any]] = [[None] * length for _ in y_avals]
        for t in (reversed(range(length)) if reverse else range(length)):
            x_t = tree_unflatten(xtree, [x[t] for x in xs_arr])
            c, y = _pair(op, fn_name, f(tree_unflatten(ctree, carry), x_t))
            carry = _eager_carry(op, fn_name, ctree, cavals, c, label)
            y_leaves, yt = _out_leaves(op, fn_name, y, "y")
            if yt != y_tree:
                raise _errors.err(_errors.ArgumentError, op,
                                  f"{fn_name} returned y with structure {yt} at step {t}, "
                                  f"expected {y_tree}")
            for col, v, a in zip(ys, tree_flatten(y)[0], y_avals):
                col[t] = _as_array(v, a)
        stacked = [_stack(col, a) for col, a in zip(ys, y_avals)]
        return (tree_unflatten(ctree, [_as_array(x, a) for x, a in zip(carry, cavals)]),
                tree_unflatten(y_tree, stacked))

    body = _cf.cast_outputs(tr[0], cavals + y_avals)
    consts, (body,) = _cf.close_regions([(body, tr[1])], len(cavals) + len(x_avals))
    outs = _cf.scan(*consts, *[_operand(v, a) for v, a in zip(cvals, cavals)], *xvals,
                    body=body, length=length, reverse=reverse, nconsts=len(consts),
                    ncarry=ncarry)
    return tree_unflatten(ctree, outs[:ncarry]), tree_unflatten(y_tree, outs[ncarry:])


def _pair(op: str, fn_name: str, out: Any) -> tuple[Any, Any]:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _errors.err(_errors.ArgumentError, op,
                          f"{fn_name} must return a pair (carry, y), got "
                          f"{type(out).__name__}" + (f" of length {len(out)}"
                                                     if isinstance(out, (tuple, list)) else ""))
    return out[0], out[1]


def _stack(col: list[Any], aval: AbstractArray) -> Array:
    from xfront._api._creation import zeros
    from xfront._api._manipulation import stack

    if not col:
        return zeros((0,) + aval.shape, dtype=aval.dtype)
    return stack(col, axis=0)
