"""``xfront.fft``: the Array API 2024.12 FFT extension.

All 14 functions, eagerly and inside ``compile``/``grad``, lowered to ``stablehlo.fft`` through
one primitive (xfront/prims/fft.py). ``n``/``s`` pad with zeros or truncate the input along the
transformed axes first, as NumPy does. ``norm``: 'backward' (no scaling forward, 1/N inverse),
'ortho' (1/sqrt(N) both ways) or 'forward' (1/N forward, none inverse). More than three axes
are transformed three at a time (the transform is separable).

Inputs: ``fft``/``ifft``/``fftn``/``ifftn``/``irfft*``/``hfft`` take complex arrays (real
float32/float64 ones are converted, as NumPy does); ``rfft*``/``ihfft`` take real float32 or
float64. float16/bfloat16 and integers raise DTypeError (XLA's FFT has no such kernel).

Imports: the namespace (xfront._api), prims. Never torch/TF/jaxlib.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._api import _elementwise as ew
from xfront._api import _manipulation as mp
from xfront._api._creation import arange
from xfront._api._eager_program import as_one_program
from xfront._api._helpers import dtype_of, ensure_array, normalize_axis, operand
from xfront.prims import fft as pf
from xfront.prims import shape as sh

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = ("backward", "ortho", "forward")
_REAL = frozenset({dt.float32, dt.float64})


def _input(op: str, x: Any, *, real: bool) -> Any:
    x = operand(f"fft.{op}", x)
    d = dtype_of(x)
    if d is None:
        x = np.asarray(x, dtype=dt.default_float().np)
        d = dtype_of(x)
    ok = _REAL if real else (_REAL | dt.COMPLEX)
    if d not in ok:
        want = "a real float32 or float64 array" if real else \
            "a complex64/complex128 (or real float32/float64) array"
        raise _errors.err(_errors.DTypeError, f"fft.{op}", f"expected {want}, got "
                          f"{_errors.short(x)}",
                          "convert first, e.g. xfront.astype(x, xfront.complex128)" if not real
                          else "convert first, e.g. xfront.astype(x, xfront.float64)")
    x = ensure_array(x)
    if not real and d.kind != "c":
        from xfront.prims import elementwise as pe

        x = pe.convert(x, dtype=dt.complex_dtype(d))
    return x


def _check_norm(op: str, norm: str) -> None:
    if norm not in _NORMS:
        raise _errors.err(_errors.ArgumentError, f"fft.{op}",
                          f"norm must be one of {_NORMS}, got {norm!r}")


def _resize(op: str, x: Any, axis: int, n: int) -> Any:
    """Zero-pad or truncate ``x`` along ``axis`` to length ``n``."""
    size = x.shape[axis]
    if n == size:
        return x
    if n < size:
        limit = list(x.shape)
        limit[axis] = n
        return sh.slice(x, start=(0,) * x.ndim, limit=tuple(limit))
    hi = [0] * x.ndim
    hi[axis] = n - size
    return sh.pad(x, np.zeros((), dtype=x.dtype.np), lo=(0,) * x.ndim, hi=tuple(hi))


def _on_last_axes(x: Any, axes: Sequence[int], fn: Any) -> Any:
    """Move ``axes`` to the end (in order), apply ``fn``, move them back."""
    nd = x.ndim
    rest = [i for i in range(nd) if i not in axes]
    perm = rest + list(axes)
    if perm != list(range(nd)):
        x = sh.transpose(x, perm=perm)
    out = fn(x)
    if perm != list(range(nd)):
        out = sh.transpose(out, perm=[perm.index(i) for i in range(nd)])
    return out


def _transform(x: Any, axes: Sequence[int], kind: str) -> Any:
    """Complex FFT/IFFT over ``axes`` (current lengths), three axes at a time."""
    axes = list(axes)
    while axes:
        chunk, axes = axes[-3:], axes[:-3]
        x = _on_last_axes(x, chunk, lambda y, c=chunk: pf.fft(
            y, fft_type=kind, fft_length=tuple(y.shape[-len(c):])))
    return x


def _scale(x: Any, norm: str, n: int, inverse: bool) -> Any:
    # the inverse primitives already divide by n
    if norm == "backward" or n == 0:
        return x
    if norm == "ortho":
        f = math.sqrt(n) if inverse else 1.0 / math.sqrt(n)
    else:  # forward
        f = float(n) if inverse else 1.0 / n
    d = dt.real_dtype(x.dtype)
    return ew.multiply(x, ensure_array(np.asarray(f, dtype=d.np)))


def _axes_and_lengths(op: str, x: Any, s: Any, axes: Any, *, irfft: bool = False
                      ) -> tuple[list[int], list[int]]:
    if axes is None:
        if s is None:
            axes_l = list(range(x.ndim))
        else:
            axes_l = list(range(x.ndim - len(s), x.ndim))
    else:
        name = "axes" if op.endswith("n") else "axis"
        if not isinstance(axes, (tuple, list)):
            raise _errors.err(_errors.ArgumentError, f"fft.{op}",
                              f"axes must be a sequence of ints, got {type(axes).__name__}")
        axes_l = [normalize_axis(f"fft.{op}", a, x.ndim, name) for a in axes]
    if len(set(axes_l)) != len(axes_l):
        raise _errors.err(_errors.ArgumentError, f"fft.{op}", f"axes {axes} has duplicates")
    if s is None:
        lengths = [x.shape[a] for a in axes_l]
        if irfft and axes_l:
            lengths[-1] = 2 * (x.shape[axes_l[-1]] - 1)
    else:
        lengths = [operator.index(n) for n in s]
        if len(lengths) != len(axes_l):
            raise _errors.err(_errors.ShapeError, f"fft.{op}",
                              f"s {tuple(lengths)} and axes {tuple(axes_l)} differ in length")
        lengths = [x.shape[a] if n == -1 else n for a, n in zip(axes_l, lengths)]
    for a, n in zip(axes_l, lengths):
        if n < 1:
            raise _errors.err(_errors.ShapeError, f"fft.{op}",
                              f"axis {a} of shape {tuple(x.shape)} would be transformed with "
                              f"{n} points; the number of points must be at least 1")
    return axes_l, lengths


def _operand(op: str, x: Any, norm: str, *, real: bool) -> Any:
    """The checked input of a transform: a known ``norm`` and an array of at least one axis."""
    _check_norm(op, norm)
    x = _input(op, x, real=real)
    if x.ndim == 0:
        raise _errors.err(_errors.ShapeError, f"fft.{op}", "expected at least one dimension, "
                          "got a 0-d array")
    return x


def _c2c(op: str, x: Any, s: Any, axes: Any, norm: str, inverse: bool) -> Any:
    x = _operand(op, x, norm, real=False)
    axes_l, lengths = _axes_and_lengths(op, x, s, axes)
    for a, n in zip(axes_l, lengths):
        x = _resize(op, x, a, n)
    out = _transform(x, axes_l, "IFFT" if inverse else "FFT")
    return _scale(out, norm, math.prod(lengths), inverse)


def _r2c(op: str, x: Any, s: Any, axes: Any, norm: str) -> Any:
    x = _operand(op, x, norm, real=True)
    axes_l, lengths = _axes_and_lengths(op, x, s, axes)
    for a, n in zip(axes_l, lengths):
        x = _resize(op, x, a, n)
    last = axes_l[-1]
    out = _on_last_axes(x, [last], lambda y: pf.fft(y, fft_type="RFFT",
                                                    fft_length=(lengths[-1],)))
    out = _transform(out, axes_l[:-1], "FFT")
    return _scale(out, norm, math.prod(lengths), False)


def _c2r(op: str, x: Any, s: Any, axes: Any, norm: str) -> Any:
    x = _operand(op, x, norm, real=False)
    axes_l, lengths = _axes_and_lengths(op, x, s, axes, irfft=True)
    for a, n in zip(axes_l[:-1], lengths[:-1]):
        x = _resize(op, x, a, n)
    last, n_last = axes_l[-1], lengths[-1]
    x = _resize(op, x, last, n_last // 2 + 1)
    x = _transform(x, axes_l[:-1], "IFFT")
    out = _on_last_axes(x, [last], lambda y: pf.fft(y, fft_type="IRFFT", fft_length=(n_last,)))
    return _scale(out, norm, math.prod(lengths), True)


def _one(axis: int) -> tuple[int]:
    return (operator.index(axis),)


def _n(n: Any) -> Any:
    return None if n is None else (operator.index(n),)


# --- the standard's functions --------------------------------------------------------------------

@as_one_program
def fft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """One-dimensional discrete Fourier transform along ``axis`` (``n`` points)."""
    return _c2c("fft", x, _n(n), _one(axis), norm, False)


@as_one_program
def ifft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """One-dimensional inverse discrete Fourier transform along ``axis``."""
    return _c2c("ifft", x, _n(n), _one(axis), norm, True)


@as_one_program
def fftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str = "backward") -> Any:
    """n-dimensional discrete Fourier transform over ``axes`` (all when None)."""
    return _c2c("fftn", x, s, axes, norm, False)


@as_one_program
def ifftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str = "backward") -> Any:
    """n-dimensional inverse discrete Fourier transform over ``axes``."""
    return _c2c("ifftn", x, s, axes, norm, True)


@as_one_program
def rfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Transform of a real signal along ``axis``: the n // 2 + 1 non-negative frequencies."""
    return _r2c("rfft", x, _n(n), _one(axis), norm)


@as_one_program
def irfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Inverse of ``rfft``: ``n`` real points (default 2 * (m - 1))."""
    return _c2r("irfft", x, _n(n), _one(axis), norm)


@as_one_program
def rfftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str = "backward") -> Any:
    """n-dimensional transform of a real signal (the last axis halved)."""
    return _r2c("rfftn", x, s, axes, norm)


@as_one_program
def irfftn(x: Any, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str = "backward") -> Any:
    """Inverse of ``rfftn``."""
    return _c2r("irfftn", x, s, axes, norm)


_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


@as_one_program
def hfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Transform of a Hermitian-symmetric signal given by its first half: ``n`` real points."""
    _check_norm("hfft", norm)
    x = _input("hfft", x, real=False)
    return _c2r("hfft", ew.conj(x), _n(n), _one(axis), _SWAP[norm])


@as_one_program
def ihfft(x: Any, /, *, n: int | None = None, axis: int = -1, norm: str = "backward") -> Any:
    """Inverse of ``hfft``: the n // 2 + 1 terms of a real signal's Hermitian spectrum."""
    _check_norm("ihfft", norm)
    return ew.conj(_r2c("ihfft", x, _n(n), _one(axis), _SWAP[norm]))


def _freq_dtype(op: str, dtype: Any) -> dt.DType:
    d = dt.default_float() if dtype is None else dt.dtype(dtype)
    if d not in _REAL | {dt.float16, dt.bfloat16}:
        raise _errors.err(_errors.DTypeError, f"fft.{op}",
                          f"dtype must be a real floating-point dtype, got {d.name}")
    return d


def _check_n(op: str, n: Any) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise _errors.err(_errors.ArgumentError, f"fft.{op}",
                          f"n must be an integer, got {type(n).__name__}") from None
    if n < 1:
        raise _errors.err(_errors.ArgumentError, f"fft.{op}", f"n must be positive, got {n}")
    return n


def fftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
    """Sample frequencies of an ``n``-point transform: [0, 1, ..., -(n // 2), ..., -1] / (d n)."""
    n = _check_n("fftfreq", n)
    fd = _freq_dtype("fftfreq", dtype)
    k = arange(n, dtype=dt.int64, device=device)
    k = ew.subtract(k, ew.multiply(ew.greater(k, (n - 1) // 2), n))
    return ew.divide(_astype(k, fd), ensure_array(np.asarray(d * n, dtype=fd.np)))


def rfftfreq(n: int, /, *, d: float = 1.0, dtype: Any = None, device: Any = None) -> Any:
    """Sample frequencies of ``rfft``'s output: [0, 1, ..., n // 2] / (d n)."""
    n = _check_n("rfftfreq", n)
    fd = _freq_dtype("rfftfreq", dtype)
    k = arange(n // 2 + 1, dtype=fd, device=device)
    return ew.divide(k, ensure_array(np.asarray(d * n, dtype=fd.np)))


def _astype(x: Any, d: Any) -> Any:
    from xfront._api._data_types import astype

    return astype(x, d)


def _shift(op: str, x: Any, axes: Any, sign: int) -> Any:
    x = ensure_array(operand(f"fft.{op}", x))
    if axes is None:
        axes_t = tuple(range(x.ndim))
    elif isinstance(axes, (list, tuple)):
        axes_t = tuple(normalize_axis(f"fft.{op}", a, x.ndim, "axes") for a in axes)
    else:
        axes_t = (normalize_axis(f"fft.{op}", axes, x.ndim, "axes"),)
    if not axes_t:
        return x
    shifts = tuple(sign * (x.shape[a] // 2) for a in axes_t)
    return mp.roll(x, shifts, axis=axes_t)


@as_one_program
def fftshift(x: Any, /, *, axes: int | Sequence[int] | None = None) -> Any:
    """Move the zero-frequency term to the centre (roll by n // 2 along ``axes``)."""
    return _shift("fftshift", x, axes, 1)


@as_one_program
def ifftshift(x: Any, /, *, axes: int | Sequence[int] | None = None) -> Any:
    """Inverse of ``fftshift`` (roll by -(n // 2))."""
    return _shift("ifftshift", x, axes, -1)
