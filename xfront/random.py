"""``xfront.random``: reproducible random numbers from explicit, splittable keys.

Imports: _core, _compile, _array, _aval, _dtypes, _errors, prims, the namespace (_api).

Keys
----
A key is a ``uint32[2]`` array: ``key(seed)`` makes one, ``split(key, n)`` derives ``n``
independent keys (a ``uint32[n, 2]`` array whose rows are keys), ``fold_in(key, i)`` derives one
key from an integer (a step number, a device index...). Keys are ordinary arrays, so they can be
passed to compiled functions, returned, stored, and sent through any framework. Never reuse a
key for two different draws that should be independent: split it.

The generator
-------------
Every sampler is built on the Threefry-2x32 block cipher (20 rounds), a counter-based
generator: word ``j`` of a draw is a pure function of ``(key, j)``. It is written in plain 32-bit
integer StableHLO ops (add, shift, or, xor), not ``rng_bit_generator`` (whose output is only
defined per backend), and every sampler runs as one compiled program also eagerly. Hence:

* the same key gives the same bits eagerly and inside ``xf.compile``, across calls, processes and
  machines, whatever framework the other inputs come from;
* ``bits``, ``randint``, ``bernoulli``, ``permutation`` and ``uniform`` with the default range
  ``[0, 1)`` use only integer ops and exact float ops, so they are bit-identical on every
  backend (CPU and GPU);
* ``normal``, ``truncated_normal``, ``categorical`` and ``uniform`` with another range also use
  floating-point math (``erf_inv``, ``log``, a multiply-add) whose last bit may differ between
  backends' math libraries (and with fused multiply-adds); on one backend they are reproducible.

Counters and domains: draws of ``n`` 32-bit words encrypt the counters ``(j, 0)`` for
``j < ceil(n / 2)`` (both output words are used); ``split`` encrypts ``(i, 1)`` and ``fold_in``
encrypts ``(data, 2)``, so the three never share a counter under one key.

``Generator(seed)`` is a convenience for NumPy-style code outside ``compile``: it holds a key and
splits off a fresh one for every draw.
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from typing import Any, Callable, Sequence

import numpy as np

from xfront import _core, _errors
from xfront import _dtypes as dt
from xfront._array import Array
from xfront._aval import AbstractArray
from xfront._core import Tracer
from xfront.prims import elementwise as _ew
from xfront.prims import random as _rp
from xfront.prims import reduction as _red
from xfront.prims import shape as _sh

__all__ = ["key", "split", "fold_in", "bits", "uniform", "normal", "truncated_normal",
           "bernoulli", "randint", "permutation", "categorical", "Generator"]

_U32, _U64 = dt.uint32, dt.uint64
_KEY_AVAL = AbstractArray((2,), _U32)
_DOMAIN_BITS, _DOMAIN_SPLIT, _DOMAIN_FOLD = 0, 1, 2
_MANTISSA = {dt.float16: 10, dt.bfloat16: 7, dt.float32: 23, dt.float64: 52}


# --- running a sampler: inline in a trace, one compiled program eagerly -----------------------

@functools.lru_cache(maxsize=None)
def _compiled(core: Callable, static: tuple[str, ...]) -> Any:
    from xfront._compile import CompiledFunction

    cf = CompiledFunction(core, static_argnames=static, returns="xfront")
    cf._warn_after = sys.maxsize  # every new shape is a new program here, by design
    return cf


def _run(core: Callable, *args: Any, **static: Any) -> Any:
    """``core(*args, **static)``: recorded into the current trace, or eagerly run as one
    compiled program (so eager and compiled draws execute the same program)."""
    if _core.current_builder() is not None:
        return core(*args, **static)
    return _compiled(core, tuple(sorted(static)))(*args, **static)


# --- argument checking --------------------------------------------------------------------------

def _op(name: str) -> str:
    return f"random.{name}"


def _aval_of(x: Any) -> AbstractArray | None:
    """The aval of an array-like operand (None for Python scalars)."""
    if isinstance(x, (bool, int, float, complex)):
        return None
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval
    arr = np.asarray(x)
    return AbstractArray(arr.shape, dt.dtype(arr.dtype))


def _key(op: str, k: Any) -> Any:
    from xfront._api._helpers import operand

    try:
        v = operand(_op(op), k, "key")
    except _errors.XfrontError:
        v = None
    aval = None if v is None else _aval_of(v)
    if aval is None or aval.shape != (2,) or aval.dtype is not _U32:
        got = aval.short if aval is not None else "a " + _errors.short(k)
        raise _errors.err(_errors.ArgumentError, _op(op),
                          f"key must be a uint32[2] array, got {got}",
                          "make keys with xf.random.key(seed) and derive new ones with "
                          "xf.random.split(key) or xf.random.fold_in(key, i)")
    return v


def _shape(op: str, shape: Any) -> tuple[int, ...]:
    if shape is None:
        return ()
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(operator.index(s) for s in shape)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, _op(op),
                          f"shape must be a tuple of ints, got {shape!r}") from None
    if any(s < 0 for s in out):
        raise _errors.err(_errors.ShapeError, _op(op), f"negative dimension in shape {out}")
    return out


def _dtype(op: str, dtype: Any, accepts: frozenset[dt.DType], default: dt.DType) -> dt.DType:
    d = default if dtype is None else dt.dtype(dtype)
    if d not in accepts:
        raise _errors.err(_errors.DTypeError, _op(op),
                          f"dtype must be a {dt.category_name(accepts)} dtype, got {d.name}")
    return d


def _value(op: str, x: Any, name: str) -> Any:
    from xfront._api._helpers import operand

    return operand(_op(op), x, name)


def _shape_of(x: Any) -> tuple[int, ...]:
    return () if isinstance(x, (bool, int, float, complex)) else tuple(x.shape)


def _broadcast_to(op: str, shape: tuple[int, ...], *xs: tuple[str, Any]) -> None:
    for name, x in xs:
        s = _shape_of(x)
        try:
            ok = np.broadcast_shapes(s, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise _errors.err(_errors.ShapeError, _op(op),
                              f"{name} has shape {s}, which does not broadcast to shape {shape}")


# --- building blocks (run inside a trace) -------------------------------------------------------

def _scalar_u32(v: int) -> np.ndarray:
    return np.asarray(v, dtype=np.uint32)


def _full(value: Any, d: dt.DType, shape: tuple[int, ...]) -> Any:
    return _sh.broadcast_in_dim(np.asarray(value, dtype=d.np), shape=shape, dims=())


def _key_words(k: Any) -> tuple[Any, Any]:
    w = [_sh.reshape(_sh.slice(k, start=(i,), limit=(i + 1,)), shape=()) for i in (0, 1)]
    return w[0], w[1]


def _block(k: Any, c0: Any, c1: Any) -> list[Any]:
    """Threefry-2x32 of counters (c0, c1) (uint32 arrays of one shape) under key ``k``."""
    shape = tuple(c0.shape)
    k0, k1 = _key_words(k)
    return _rp.threefry2x32(_sh.broadcast_in_dim(k0, shape=shape, dims=()),
                            _sh.broadcast_in_dim(k1, shape=shape, dims=()), c0, c1)


def _words(k: Any, n: int) -> Any:
    """``n`` random uint32 words."""
    m = (n + 1) // 2
    if m > 2 ** 32:
        raise _errors.err(_errors.ArgumentError, "random",
                          f"a single draw of {n} 32-bit words exceeds the 2**33 counter range",
                          "split the key and draw in pieces")
    if n == 0:
        return _full(0, _U32, (0,))
    y0, y1 = _block(k, _sh.iota(_U32, (m,)), _full(_DOMAIN_BITS, _U32, (m,)))
    both = _sh.concatenate([y0, y1], axis=0)
    return both if 2 * m == n else _sh.slice(both, start=(0,), limit=(n,))


def _bits(k: Any, shape: tuple[int, ...], width: int) -> Any:
    """Random unsigned integers of ``width`` bits with shape ``shape``."""
    n = math.prod(shape)
    if width == 64:
        w = _words(k, 2 * n)
        hi = _ew.convert(_sh.slice(w, start=(0,), limit=(n,)), dtype=_U64)
        lo = _ew.convert(_sh.slice(w, start=(n,), limit=(2 * n,)), dtype=_U64)
        out = _ew.or_(_ew.shift_left(hi, _full(32, _U64, (n,))), lo)
    else:
        out = _words(k, n)
        if width != 32:
            out = _ew.convert(out, dtype=dt.int_of_size(width // 8, unsigned=True))
    return _sh.reshape(out, shape=shape)


def _unit(k: Any, shape: tuple[int, ...], d: dt.DType) -> Any:
    """Uniform floats in [0, 1): random mantissa bits under the exponent of 1.0, minus 1."""
    width = d.itemsize * 8
    ud = dt.int_of_size(d.itemsize, unsigned=True)
    nmant = _MANTISSA[d]
    if width == 64:
        b = _ew.shift_right_logical(_bits(k, shape, 64), _full(64 - nmant, _U64, shape))
    else:
        b = _ew.shift_right_logical(_bits(k, shape, 32), _full(32 - nmant, _U32, shape))
        if ud is not _U32:
            b = _ew.convert(b, dtype=ud)
    one_bits = np.asarray(1, dtype=d.np).view(ud.np)
    f = _ew.bitcast_convert(_ew.or_(b, _full(one_bits, ud, shape)), dtype=d)
    return _ew.sub(f, _full(1, d, shape))


def _param(x: Any, d: dt.DType, shape: tuple[int, ...]) -> Any:
    """A sampler parameter (scalar or array) converted to ``d`` and broadcast to ``shape``."""
    from xfront._api._creation import asarray
    from xfront._api._data_types import astype
    from xfront._api._manipulation import broadcast_to

    return broadcast_to(astype(asarray(x), d), shape)


# --- keys ---------------------------------------------------------------------------------------

def _seed_words(seed: int) -> np.ndarray:
    s = int(seed) & (2 ** 64 - 1)
    return np.array([s >> 32, s & 0xFFFFFFFF], dtype=np.uint32)


def _key_from_array(seed: Any) -> Any:
    d = _aval_of(seed).dtype
    s = seed
    if d is _U64:
        s = _ew.bitcast_convert(s, dtype=dt.int64)
    elif d is not dt.int64:
        s = _ew.convert(s, dtype=dt.int64)
    s = _ew.bitcast_convert(s, dtype=_U64)
    hi = _ew.convert(_ew.shift_right_logical(s, np.asarray(32, np.uint64)), dtype=_U32)
    lo = _ew.convert(_ew.and_(s, np.asarray(0xFFFFFFFF, np.uint64)), dtype=_U32)
    return _sh.concatenate([_sh.reshape(hi, shape=(1,)), _sh.reshape(lo, shape=(1,))], axis=0)


def key(seed: Any) -> Array:
    """A key from an integer seed (a Python int, or an integer scalar array, also traced).

    The seed is taken modulo 2**64 (negative seeds wrap); the key is ``[seed >> 32,
    seed & 0xFFFFFFFF]`` as ``uint32[2]``.

    Example:
      >>> k = xf.random.key(0)
      >>> x = xf.random.normal(k, (3,), dtype=xf.float32)
    """
    if isinstance(seed, bool) or isinstance(seed, float):
        raise _errors.err(_errors.ArgumentError, _op("key"),
                          f"seed must be an integer, got {type(seed).__name__}")
    if isinstance(seed, (int, np.integer)):
        from xfront._api._helpers import ensure_array

        return ensure_array(_seed_words(int(seed)))
    v = _value("key", seed, "seed")
    aval = _aval_of(v)
    if aval is None or aval.shape != () or aval.dtype.kind not in "iu":
        raise _errors.err(_errors.ArgumentError, _op("key"),
                          f"seed must be an integer scalar, got {aval.short}")
    return _run(_key_from_array, v)


def _split_core(k: Any, *, num: int) -> Any:
    y0, y1 = _block(k, _sh.iota(_U32, (num,)), _full(_DOMAIN_SPLIT, _U32, (num,)))
    return _sh.concatenate([_sh.reshape(y0, shape=(num, 1)), _sh.reshape(y1, shape=(num, 1))],
                           axis=1)


def split(key: Any, num: int = 2) -> Array:
    """``num`` new keys derived from ``key``, as a ``uint32[num, 2]`` array (rows are keys).

    Example:
      >>> k, sub = xf.random.split(k)      # unpacks the two rows
    """
    k = _key("split", key)
    try:
        num = operator.index(num)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, _op("split"),
                          f"num must be a Python int, got {type(num).__name__}") from None
    if num < 0:
        raise _errors.err(_errors.ArgumentError, _op("split"), f"num must be >= 0, got {num}")
    return _run(_split_core, k, num=num)


def _fold_in_core(k: Any, data: Any) -> Any:
    if _aval_of(data).dtype is not _U32:
        data = _ew.convert(data, dtype=_U32)  # integer narrowing wraps: data mod 2**32
    y0, y1 = _block(k, _sh.reshape(data, shape=(1,)), _full(_DOMAIN_FOLD, _U32, (1,)))
    return _sh.concatenate([y0, y1], axis=0)


def fold_in(key: Any, data: Any) -> Array:
    """A new key derived from ``key`` and an integer ``data`` (taken modulo 2**32).

    Example:
      >>> step_key = xf.random.fold_in(k, step)
    """
    k = _key("fold_in", key)
    if isinstance(data, bool) or isinstance(data, float):
        raise _errors.err(_errors.ArgumentError, _op("fold_in"),
                          f"data must be an integer, got {type(data).__name__}")
    if isinstance(data, (int, np.integer)):
        data = np.asarray(int(data) & 0xFFFFFFFF, dtype=np.uint32)
    else:
        data = _value("fold_in", data, "data")
        aval = _aval_of(data)
        if aval is None or aval.shape != () or aval.dtype.kind not in "iu":
            raise _errors.err(_errors.ArgumentError, _op("fold_in"),
                              f"data must be an integer scalar, got {aval.short}")
    return _run(_fold_in_core, k, data)


# --- samplers -----------------------------------------------------------------------------------

def _bits_core(k: Any, *, shape: tuple[int, ...], dtype: dt.DType) -> Any:
    return _bits(k, shape, dtype.itemsize * 8)


def bits(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Uniformly random unsigned integers (all bits random); ``dtype`` uint8/16/32/64
    (default uint32)."""
    k = _key("bits", key)
    d = _dtype("bits", dtype, dt.UNSIGNED, _U32)
    return _run(_bits_core, k, shape=_shape("bits", shape), dtype=d)


def _uniform_core(k: Any, *, shape: tuple[int, ...], dtype: dt.DType) -> Any:
    return _unit(k, shape, dtype)


def _uniform_range_core(k: Any, minval: Any, maxval: Any, *, shape: tuple[int, ...],
                        dtype: dt.DType) -> Any:
    lo, hi = _param(minval, dtype, shape), _param(maxval, dtype, shape)
    u = _unit(k, shape, dtype)
    out = _ew.add(_ew.mul(u, _ew.sub(hi, lo)), lo)
    # rounding may reach maxval: keep the result in [minval, maxval)
    return _ew.max(lo, _ew.min(out, _ew.next_after(hi, lo)))


def uniform(key: Any, shape: Sequence[int] = (), dtype: Any = None, minval: Any = 0.0,
            maxval: Any = 1.0) -> Array:
    """Uniform floats in ``[minval, maxval)``.

    Args:
      key: a key (``xf.random.key``).
      shape: the output shape.
      dtype: float16, bfloat16, float32 or float64 (default: xfront's default float).
      minval, maxval: scalars or arrays broadcastable to ``shape``.

    With the default range the values are ``m * 2**-p`` for random ``p``-bit mantissas ``m``,
    bit-identical on every backend.
    """
    k = _key("uniform", key)
    shape = _shape("uniform", shape)
    d = _dtype("uniform", dtype, dt.REAL_FLOATING, dt.default_float())
    if (isinstance(minval, (int, float)) and isinstance(maxval, (int, float))
            and minval == 0 and maxval == 1):
        return _run(_uniform_core, k, shape=shape, dtype=d)
    minval, maxval = _value("uniform", minval, "minval"), _value("uniform", maxval, "maxval")
    _broadcast_to("uniform", shape, ("minval", minval), ("maxval", maxval))
    return _run(_uniform_range_core, k, minval, maxval, shape=shape, dtype=d)


def _work_dtype(d: dt.DType) -> dt.DType:
    return dt.float32 if d in (dt.float16, dt.bfloat16) else d


def _normal_core(k: Any, *, shape: tuple[int, ...], dtype: dt.DType) -> Any:
    w = _work_dtype(dtype)
    u = _unit(k, shape, w)
    v = _ew.sub(_ew.mul(u, _full(2, w, shape)), _full(1, w, shape))  # [-1, 1), exact
    above = np.nextafter(np.asarray(-1, w.np), np.asarray(0, w.np))
    v = _ew.max(v, _full(above, w, shape))  # (-1, 1)
    z = _ew.mul(_ew.erf_inv(v), _full(np.sqrt(2.0), w, shape))
    return z if w is dtype else _ew.convert(z, dtype=dtype)


def normal(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard normal floats (mean 0, standard deviation 1), by the inverse CDF:
    ``sqrt(2) * erfinv(v)`` for ``v`` uniform in (-1, 1).

    Scale and shift it yourself: ``mu + sigma * xf.random.normal(k, shape)``.
    """
    k = _key("normal", key)
    d = _dtype("normal", dtype, dt.REAL_FLOATING, dt.default_float())
    return _run(_normal_core, k, shape=_shape("normal", shape), dtype=d)


def _truncated_normal_core(k: Any, lower: Any, upper: Any, *, shape: tuple[int, ...],
                           dtype: dt.DType) -> Any:
    w = _work_dtype(dtype)
    lo, hi = _param(lower, w, shape), _param(upper, w, shape)
    r2 = _full(np.sqrt(0.5), w, shape)
    a, b = _ew.erf(_ew.mul(lo, r2)), _ew.erf(_ew.mul(hi, r2))
    u = _ew.add(_ew.mul(_unit(k, shape, w), _ew.sub(b, a)), a)
    u = _ew.max(a, _ew.min(u, _ew.next_after(b, a)))
    z = _ew.mul(_ew.erf_inv(u), _full(np.sqrt(2.0), w, shape))
    inf = _full(np.inf, w, shape)
    z = _ew.clamp(_ew.next_after(lo, inf), z, _ew.next_after(hi, _ew.neg(inf)))
    return z if w is dtype else _ew.convert(z, dtype=dtype)


def truncated_normal(key: Any, lower: Any, upper: Any, shape: Sequence[int] | None = None,
                     dtype: Any = None) -> Array:
    """Standard normal floats conditioned on ``lower < x < upper`` (inverse CDF method).

    Args:
      lower, upper: bounds (scalars or arrays; ``-inf``/``inf`` allowed).
      shape: output shape (default: the broadcast shape of the bounds).
    """
    k = _key("truncated_normal", key)
    d = _dtype("truncated_normal", dtype, dt.REAL_FLOATING, dt.default_float())
    lower = _value("truncated_normal", lower, "lower")
    upper = _value("truncated_normal", upper, "upper")
    if shape is None:
        from xfront._api._helpers import broadcast_shapes

        shape = broadcast_shapes(_op("truncated_normal"), _shape_of(lower), _shape_of(upper))
    shape = _shape("truncated_normal", shape)
    _broadcast_to("truncated_normal", shape, ("lower", lower), ("upper", upper))
    return _run(_truncated_normal_core, k, lower, upper, shape=shape, dtype=d)


def _bernoulli_core(k: Any, p: Any, *, shape: tuple[int, ...]) -> Any:
    # keep a word w when w < p * 2**32: exact integer comparison, resolution 2**-32
    threshold = _ew.convert(_ew.mul(_param(p, dt.float64, shape), _full(2.0 ** 32, dt.float64,
                                                                       shape)), dtype=_U64)
    w = _ew.convert(_bits(k, shape, 32), dtype=_U64)
    return _ew.lt(w, threshold)


def bernoulli(key: Any, p: Any = 0.5, shape: Sequence[int] | None = None) -> Array:
    """Random booleans that are True with probability ``p`` (a scalar or array in [0, 1]).

    ``shape`` defaults to ``p``'s shape. The comparison is done on 32-bit integers, so the
    result is bit-identical on every backend.
    """
    k = _key("bernoulli", key)
    p = _value("bernoulli", p, "p")
    shape = _shape("bernoulli", _shape_of(p) if shape is None else shape)
    _broadcast_to("bernoulli", shape, ("p", p))
    return _run(_bernoulli_core, k, p, shape=shape)


def _randint_core(k: Any, minval: Any, maxval: Any, *, shape: tuple[int, ...],
                  dtype: dt.DType) -> Any:
    work = _U64 if dtype.kind == "u" else dt.int64
    info = np.iinfo(dtype.np)
    top = int(info.max) + 1 if dtype.itemsize < 8 else int(info.max)
    lo = _ew.clamp(_full(info.min, work, shape), _param(minval, work, shape),
                   _full(info.max, work, shape))
    hi = _ew.clamp(_full(info.min, work, shape), _param(maxval, work, shape),
                   _full(top, work, shape))
    ulo = lo if work is _U64 else _ew.bitcast_convert(lo, dtype=_U64)
    uhi = hi if work is _U64 else _ew.bitcast_convert(hi, dtype=_U64)
    valid = _ew.gt(hi, lo)
    span = _ew.select(valid, _ew.sub(uhi, ulo), _full(1, _U64, shape))
    r = _ew.rem(_bits(k, shape, 64), span)  # bias <= span / 2**64
    out = _ew.add(ulo, r)
    out = out if work is _U64 else _ew.bitcast_convert(out, dtype=work)
    return _ew.convert(_ew.select(valid, out, lo), dtype=dtype)


def randint(key: Any, shape: Sequence[int], minval: Any, maxval: Any, dtype: Any = None) -> Array:
    """Uniform integers in ``[minval, maxval)`` (``minval`` where ``maxval <= minval``).

    Args:
      shape: output shape.
      minval, maxval: integer scalars or arrays broadcastable to ``shape``; they are clipped
        to the range of ``dtype`` (``maxval`` may be one past its maximum, e.g. 256 for uint8).
      dtype: an integer dtype (default: xfront's default int).
    """
    k = _key("randint", key)
    shape = _shape("randint", shape)
    d = _dtype("randint", dtype, dt.INTEGER, dt.default_int())
    work = np.uint64 if d.kind == "u" else np.int64
    bounds = []
    for name, v in (("minval", minval), ("maxval", maxval)):
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            lim = np.iinfo(work)
            bounds.append(np.asarray(min(max(int(v), int(lim.min)), int(lim.max)), dtype=work))
            continue
        v = _value("randint", v, name)
        a = _aval_of(v)
        if a is None or a.dtype.kind not in "iu":
            raise _errors.err(_errors.DTypeError, _op("randint"),
                              f"{name} must be an integer, got "
                              f"{a.short if a is not None else type(v).__name__}")
        bounds.append(v)
    _broadcast_to("randint", shape, ("minval", bounds[0]), ("maxval", bounds[1]))
    return _run(_randint_core, k, bounds[0], bounds[1], shape=shape, dtype=d)


def _permutation_core(k: Any, x: Any, *, axis: int) -> Any:
    n = x.shape[axis]
    r = _sh.broadcast_in_dim(_bits(k, (n,), 64), shape=tuple(x.shape), dims=(axis,))
    return _rp.sort_by_key(r, x, axis=axis)


def _permutation_n_core(k: Any, *, n: int) -> Any:
    return _permutation_core(k, _sh.iota(dt.default_int(), (n,)), axis=0)


def permutation(key: Any, x: Any, axis: int = 0) -> Array:
    """A random permutation of ``range(x)`` (an int), or of ``x``'s entries along ``axis``.

    Every ordering is equally likely (the entries are sorted by independent random 64-bit
    keys). Differentiable with respect to ``x``.
    """
    k = _key("permutation", key)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        if x < 0:
            raise _errors.err(_errors.ArgumentError, _op("permutation"),
                              f"n must be >= 0, got {x}")
        return _run(_permutation_n_core, k, n=int(x))
    from xfront._api._helpers import normalize_axis

    v = _value("permutation", x, "x")
    s = _shape_of(v)
    if len(s) == 0:
        raise _errors.err(_errors.ShapeError, _op("permutation"),
                          "x must be an int or an array with at least one axis, got a 0-d value")
    return _run(_permutation_core, k, v, axis=normalize_axis(_op("permutation"), axis, len(s)))


def _categorical_core(k: Any, logits: Any, *, axis: int, shape: tuple[int, ...]) -> Any:
    from xfront._api._manipulation import moveaxis

    d = _aval_of(logits).dtype
    w = _work_dtype(d)
    lg = moveaxis(_ew.convert(logits, dtype=w) if d is not w else logits, axis, -1)
    full = shape + (lg.shape[-1],)
    lg = _sh.broadcast_in_dim(lg, shape=full, dims=tuple(range(len(full) - lg.ndim, len(full))))
    tiny = _full(dt.finfo(w).smallest_normal, w, full)
    u = _ew.max(_unit(k, full, w), tiny)  # (0, 1)
    gumbel = _ew.neg(_ew.log(_ew.neg(_ew.log(u))))
    return _red.argmax(_ew.add(lg, gumbel), axis=len(full) - 1, index_dtype=dt.default_int())


def categorical(key: Any, logits: Any, axis: int = -1, shape: Sequence[int] | None = None
                ) -> Array:
    """Random category indices with probabilities ``softmax(logits, axis)`` (Gumbel-max).

    Args:
      logits: unnormalized log-probabilities (``-inf`` excludes a category).
      axis: the category axis.
      shape: output shape; default: ``logits.shape`` without ``axis``. It must end with that
        batch shape (leading dimensions draw more samples).
    """
    from xfront._api._helpers import normalize_axis

    k = _key("categorical", key)
    lg = _value("categorical", logits, "logits")
    a = _aval_of(lg)
    if a is None or not a.shape or a.dtype not in dt.REAL_FLOATING:
        raise _errors.err(_errors.ArgumentError, _op("categorical"),
                          "logits must be a real floating-point array with a category axis, got "
                          + (a.short if a is not None else type(lg).__name__))
    s = a.shape
    ax = normalize_axis(_op("categorical"), axis, len(s))
    batch = s[:ax] + s[ax + 1:]
    shape = batch if shape is None else _shape("categorical", shape)
    if len(shape) < len(batch) or shape[len(shape) - len(batch):] != batch:
        raise _errors.err(_errors.ShapeError, _op("categorical"),
                          f"shape {shape} must end with the logits' batch shape {batch}")
    return _run(_categorical_core, k, lg, axis=ax, shape=shape)


# --- a NumPy-style convenience --------------------------------------------------------------------

def _split_np(k: np.ndarray, num: int) -> np.ndarray:
    """``split`` computed with the NumPy reference of the block function (same bits)."""
    y0, y1 = _rp.threefry2x32_ref(np.full(num, k[0]), np.full(num, k[1]),
                                  np.arange(num, dtype=np.uint32),
                                  np.full(num, _DOMAIN_SPLIT, dtype=np.uint32))
    return np.stack([y0, y1], axis=1)


class Generator:
    """Holds a key and splits off a fresh one for every draw (like ``numpy.random.Generator``).

    For eager code: inside ``xf.compile`` a generator's key would be baked into the program as a
    constant (the same numbers on every call), so calling it while tracing raises; pass keys
    explicitly there. Draw ``i`` uses ``split(state_i)[1]`` and the state advances to
    ``split(state_i)[0]``, so ``Generator(s)`` reproduces the keys of
    ``k = key(s); k, sub = split(k)`` repeated.

    Example:
      >>> g = xf.random.Generator(0)
      >>> x = g.normal((3,), dtype=xf.float32)
      >>> i = g.randint((2,), 0, 10)
    """

    def __init__(self, seed: Any = 0):
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            self._key = _seed_words(int(seed))
        else:
            k = _key("Generator", seed)
            if isinstance(k, Tracer):
                raise self._traced_error()
            self._key = np.array(np.asarray(k), dtype=np.uint32)

    @staticmethod
    def _traced_error() -> Exception:
        return _errors.err(_errors.ArgumentError, "random.Generator",
                           "a Generator was used inside a traced function; its key would be "
                           "baked into the compiled program as a constant",
                           "pass a key argument and use xf.random.split / fold_in instead")

    @property
    def state(self) -> np.ndarray:
        """The current key (a copy), as a NumPy ``uint32[2]`` array."""
        return self._key.copy()

    def key(self) -> Array:
        """A fresh key; advances the state."""
        if _core.current_builder() is not None:
            raise self._traced_error()
        ks = _split_np(self._key, 2)
        self._key = ks[0]
        from xfront._api._creation import asarray

        return asarray(ks[1])

    def bits(self, shape: Sequence[int] = (), dtype: Any = None) -> Array:
        return bits(self.key(), shape, dtype)

    def uniform(self, shape: Sequence[int] = (), dtype: Any = None, minval: Any = 0.0,
                maxval: Any = 1.0) -> Array:
        return uniform(self.key(), shape, dtype, minval, maxval)

    def normal(self, shape: Sequence[int] = (), dtype: Any = None) -> Array:
        return normal(self.key(), shape, dtype)

    def truncated_normal(self, lower: Any, upper: Any, shape: Sequence[int] | None = None,
                         dtype: Any = None) -> Array:
        return truncated_normal(self.key(), lower, upper, shape, dtype)

    def bernoulli(self, p: Any = 0.5, shape: Sequence[int] | None = None) -> Array:
        return bernoulli(self.key(), p, shape)

    def randint(self, shape: Sequence[int], minval: Any, maxval: Any, dtype: Any = None) -> Array:
        return randint(self.key(), shape, minval, maxval, dtype)

    def permutation(self, x: Any, axis: int = 0) -> Array:
        return permutation(self.key(), x, axis)

    def categorical(self, logits: Any, axis: int = -1, shape: Sequence[int] | None = None
                    ) -> Array:
        return categorical(self.key(), logits, axis, shape)

    def __repr__(self) -> str:
        return f"xfront.random.Generator(state={self._key.tolist()})"
