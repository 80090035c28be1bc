"""``xf.einsum``: Einstein summation (an extension beyond the Array API standard).

Imports: _helpers, prims, opt_einsum (a dependency of jax, which xfront's runtime needs). The
contraction is built from existing primitives (``dot_general``, ``transpose``, ``reshape``,
``reduce_sum``, ``select``), so it compiles and differentiates like any other xfront code.

NOTE [einsum contraction order]
    ``opt_einsum.contract_path`` chooses the order of pairwise contractions from the operand
    shapes only (no data), so the same path is taken eagerly and when tracing. Each pairwise
    step first sums out the letters that appear in neither the other operand, the output nor a
    later operand, takes diagonals of letters repeated within one operand (``"ii->i"``), then
    calls ``dot_general`` with the shared letters that are still needed as batch dimensions
    and the other shared letters contracted. A letter of size 1 in one operand and size n in
    another broadcasts (as in NumPy): the size-1 axis is dropped from the operand that has it.
"""

from __future__ import annotations

import string
from typing import Any

from xfront import _dtypes as dt
from xfront import _errors
from xfront._api._helpers import cast, ensure_array, operand, promote, require
from xfront.prims import elementwise as ew
from xfront.prims import linalg as la
from xfront.prims import reduction as red
from xfront.prims import shape as sh

_LETTERS = frozenset(string.ascii_letters)


def _err(kind: type, msg: str, hint: str | None = None) -> Exception:
    return _errors.err(kind, "einsum", msg, hint)


def _parse(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Explicit letters for every operand and the output (``...`` replaced by fresh letters)."""
    if not isinstance(subscripts, str):
        raise _err(_errors.ArgumentError,
                   "subscripts must be a string such as 'ij,jk->ik', got "
                   f"{type(subscripts).__name__}")
    spec = subscripts.replace(" ", "")
    lhs, arrow, out = spec.partition("->")
    if "->" in out:
        raise _err(_errors.ArgumentError, f"subscripts {subscripts!r} have more than one '->'")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise _err(_errors.ArgumentError,
                   f"subscripts {subscripts!r} name {len(terms)} operand(s) but "
                   f"{len(shapes)} array(s) were given")
    for t in terms + [out]:
        bad = set(t.replace("...", "")) - _LETTERS
        if bad or t.count("...") > 1:
            raise _err(_errors.ArgumentError,
                       f"invalid subscripts {subscripts!r}: use letters a-z/A-Z, ',', '->' and at "
                       "most one '...' per term")
    used = set(spec) & _LETTERS
    fresh = [c for c in string.ascii_letters if c not in used]
    n_ell = 0
    for t, s in zip(terms, shapes):
        named = len(t.replace("...", ""))
        if "..." in t:
            n_ell = max(n_ell, len(s) - named)
        if ("..." not in t and named != len(s)) or len(s) < named:
            raise _err(_errors.ShapeError,
                       f"term {t!r} names {named} axes but its operand has shape {tuple(s)}")
    ell = "".join(fresh[:n_ell])
    letters = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - len(t.replace("...", ""))
            t = t.replace("...", ell[n_ell - k:])  # ellipsis dims align from the right
        letters.append(t)
    if arrow:
        if "..." in out:
            out = out.replace("...", ell)
        elif ell and any("..." in t for t in terms):
            raise _err(_errors.ArgumentError,
                       f"subscripts {subscripts!r}: the output must contain '...' when the "
                       "inputs do (or sum over those axes explicitly)")
        if len(set(out)) != len(out):
            raise _err(_errors.ArgumentError, f"output subscripts {out!r} repeat a letter")
        missing = set(out) - set("".join(letters))
        if missing:
            raise _err(_errors.ArgumentError,
                       f"output letter(s) {''.join(sorted(missing))!r} appear in no input")
    else:  # implicit mode: broadcast dims, then the letters seen once, in alphabetical order
        joined = "".join(letters)
        out = ell + "".join(sorted(c for c in set(joined) - set(ell) if joined.count(c) == 1))
    return letters, out


def _diagonal(x: Any, lt: str) -> tuple[Any, str]:
    """Take the diagonal of every letter repeated within one operand's term."""
    while len(set(lt)) != len(lt):
        c = next(c for c in lt if lt.count(c) > 1)
        i = lt.index(c)
        j = lt.index(c, i + 1)
        shape = tuple(x.shape)
        rows = sh.iota(dt.int32, shape, i)
        cols = sh.iota(dt.int32, shape, j)
        zero = sh.broadcast_in_dim(ensure_array(cast("einsum", 0, x.dtype)), shape=shape, dims=())
        x = ew.select(ew.eq(rows, cols), x, zero)
        x = red.reduce_sum(x, axes=(j,))
        lt = lt[:j] + lt[j + 1:]
    return x, lt


def _keep_only(x: Any, lt: str, keep: set[str]) -> tuple[Any, str]:
    """Diagonals, then sum out the letters not in ``keep``."""
    x, lt = _diagonal(x, lt)
    drop = tuple(i for i, c in enumerate(lt) if c not in keep)
    if drop:
        x = red.reduce_sum(x, axes=drop)
        lt = "".join(c for c in lt if c in keep)
    return x, lt


def _contract(a: Any, la_: str, b: Any, lb: str, keep: set[str]) -> tuple[Any, str]:
    a, la_ = _keep_only(a, la_, keep | set(lb))
    b, lb = _keep_only(b, lb, keep | set(la_))
    shared = [c for c in la_ if c in lb]
    batch = [c for c in shared if c in keep]
    con = [c for c in shared if c not in keep]
    out = la.dot_general(a, b,
                         contracting=([la_.index(c) for c in con], [lb.index(c) for c in con]),
                         batch=([la_.index(c) for c in batch], [lb.index(c) for c in batch]))
    lt = "".join(batch) + "".join(c for c in la_ if c not in lb) + "".join(
        c for c in lb if c not in la_)
    return out, lt


def einsum(subscripts: str, /, *operands: Any, optimize: Any = "auto") -> Any:
    """Einstein summation over ``operands`` as NumPy's ``einsum`` (an xfront extension).

    Supports explicit (``'ij,jk->ik'``) and implicit (``'ij,jk'``) output, ``...`` for
    broadcast dimensions, repeated letters within a term (diagonals, ``'ii->'`` is the trace)
    and size-1 broadcasting. The contraction order comes from ``opt_einsum`` (NOTE [einsum
    contraction order]); the work is done by ``dot_general``, so it compiles and has gradients.

    Args:
      subscripts: the Einstein-notation string.
      *operands: the arrays (any numeric dtype; promoted together as ``result_type`` does).
      optimize: ``opt_einsum``'s path strategy (``"auto"``, ``"greedy"``, ``"optimal"``, ...;
        ``False`` contracts left to right).

    Returns:
      The result, with the promoted dtype of the operands.

    Examples:
      >>> import xfront as xf
      >>> a = xf.reshape(xf.arange(6.0), (2, 3))
      >>> xf.einsum("ij,kj->ik", a, a)
      Array([[ 5., 14.],
             [14., 50.]], dtype=float64)
    """
    import opt_einsum

    if not operands:
        raise _err(_errors.ArgumentError, "needs at least one operand")
    xs = [operand("einsum", x, f"operand {i}") for i, x in enumerate(operands)]
    d, _ = promote("einsum", *xs)
    require("einsum", d, dt.NUMERIC, *xs, hint="cast boolean arrays to an integer dtype first")
    xs = [ensure_array(cast("einsum", x, d)) for x in xs]
    letters, out = _parse(subscripts, [tuple(x.shape) for x in xs])

    sizes: dict[str, int] = {}
    for x, lt in zip(xs, letters):
        for c in set(lt):
            own = {n for d, n in zip(lt, x.shape) if d == c}
            if len(own) > 1:
                raise _err(_errors.ShapeError,
                           f"letter {c!r} is repeated in a term but its axes have sizes "
                           f"{sorted(own)} in the operand of shape {tuple(x.shape)}",
                           "a repeated letter (a diagonal) needs axes of equal size")
        for c, n in zip(lt, x.shape):
            if sizes.get(c, 1) != 1 and n not in (1, sizes[c]):
                raise _err(_errors.ShapeError,
                           f"letter {c!r} has size {sizes[c]} in one operand and {n} in another "
                           f"(shapes {', '.join(str(tuple(y.shape)) for y in xs)})")
            if n != 1 or c not in sizes:
                sizes[c] = n
    # broadcasting: drop size-1 axes of letters that are larger elsewhere
    for k, (x, lt) in enumerate(zip(xs, letters)):
        ones = [i for i, c in enumerate(lt) if x.shape[i] == 1 and sizes[c] != 1]
        if ones:
            xs[k] = sh.reshape(x, shape=[n for i, n in enumerate(x.shape) if i not in ones])
            letters[k] = "".join(c for i, c in enumerate(lt) if i not in ones)

    ops = list(zip(xs, letters))
    if len(ops) > 1:
        eq = ",".join(letters) + "->" + out
        try:
            path, _ = opt_einsum.contract_path(eq, *[tuple(x.shape) for x in xs], shapes=True,
                                               optimize=optimize)
        except (KeyError, ValueError, TypeError) as e:
            raise _err(_errors.ArgumentError, f"optimize={optimize!r} is not a valid path "
                       f"strategy ({e})",
                       "use 'auto', 'greedy', 'optimal', 'dp', False, or an explicit path "
                       "such as [(0, 1), (0, 1)]") from None
        for step in path:
            picked = [ops[i] for i in step]
            for i in sorted(step, reverse=True):
                ops.pop(i)
            later = set(out).union(*[set(lt) for _, lt in ops])
            x, lt = picked[0]
            for k in range(1, len(picked)):
                y, ly = picked[k]
                rest = later.union(*[set(l2) for _, l2 in picked[k + 1:]])
                x, lt = _contract(x, lt, y, ly, rest)
            if len(picked) == 1:
                x, lt = _keep_only(x, lt, later)
            ops.append((x, lt))
    x, lt = _keep_only(*ops[0], set(out))
    if lt != out:
        x = sh.transpose(x, perm=[lt.index(c) for c in out])
    return x


__all__ = ["einsum"]
