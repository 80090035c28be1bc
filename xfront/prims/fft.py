"""The fft primitive: discrete Fourier transforms over the trailing axes (``stablehlo.fft``).

Imports: _core, _dtypes, _errors, numpy, the lowering rules; prims.shape / prims.elementwise
(VJP). Never the namespace.

``fft(x, fft_type, fft_length)`` transforms the last ``len(fft_length)`` (1 to 3) axes:
``FFT``/``IFFT`` complex -> complex (IFFT divides by the number of points), ``RFFT`` real ->
complex (last axis n -> n // 2 + 1), ``IRFFT`` complex -> real (last axis n // 2 + 1 -> n; the
imaginary parts of the zero and, for even n, the Nyquist terms are ignored). Lengths are those
of the operand's axes (the namespace pads or truncates first).

VJP (the transpose of each linear map, no conjugation): the DFT matrix is symmetric, so FFT and
IFFT are their own transposes; RFFT's is ``real(FFT(ct zero-padded to n))``; IRFFT's is
``conj(RFFT(ct) * w / N)`` with N the number of points and weights w = 2 on the terms that stand
for a conjugate pair (1 on the zero and Nyquist terms).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from xfront import _dtypes as dt
from xfront import _errors
from xfront._aval import AbstractArray
from xfront._core import Primitive
from xfront.lowering.rules import fft as L
from xfront.prims import elementwise as _ew
from xfront.prims import shape as _sh
from xfront.prims._factories import internal_error

FFT_TYPES = ("FFT", "IFFT", "RFFT", "IRFFT")


def _fft_abstract_eval(x: AbstractArray, *, fft_type: str, fft_length: tuple) -> AbstractArray:
    k = len(fft_length)
    if fft_type not in FFT_TYPES or not 1 <= k <= 3 or x.ndim < k:
        raise internal_error(_errors.ShapeError, "fft",
                             f"bad fft_type {fft_type!r} / fft_length {fft_length} for {x.short}")
    want_complex = fft_type != "RFFT"
    if x.dtype not in (dt.COMPLEX if want_complex else frozenset({dt.float32, dt.float64})):
        raise internal_error(_errors.DTypeError, "fft",
                             f"{fft_type} does not accept {x.short}")
    tail = tuple(x.shape[-k:])
    expect = tuple(fft_length)
    if fft_type == "IRFFT":
        expect = expect[:-1] + (expect[-1] // 2 + 1,)
    if tail != expect or any(n < 1 for n in fft_length):
        raise internal_error(_errors.ShapeError, "fft",
                             f"{fft_type} of length {fft_length} needs trailing axes {expect}, "
                             f"got {x.short}")
    shape = tuple(x.shape)
    if fft_type == "RFFT":
        return AbstractArray(shape[:-1] + (fft_length[-1] // 2 + 1,), dt.complex_dtype(x.dtype))
    if fft_type == "IRFFT":
        return AbstractArray(shape[:-1] + (fft_length[-1],), dt.real_dtype(x.dtype))
    return AbstractArray(shape, x.dtype)


def _fft_ref(x: np.ndarray, *, fft_type: str, fft_length: tuple) -> np.ndarray:
    axes = tuple(range(x.ndim - len(fft_length), x.ndim))
    fn = {"FFT": np.fft.fftn, "IFFT": np.fft.ifftn, "RFFT": np.fft.rfftn,
          "IRFFT": np.fft.irfftn}[fft_type]
    out_dtype = (dt.real_dtype if fft_type == "IRFFT" else dt.complex_dtype)(dt.dtype(x.dtype))
    if x.size == 0:
        return np.zeros(_fft_abstract_eval(AbstractArray(x.shape, dt.dtype(x.dtype)),
                                           fft_type=fft_type, fft_length=fft_length).shape,
                        dtype=out_dtype.np)
    return np.asarray(fn(x, s=fft_length, axes=axes)).astype(out_dtype.np)


def _fft_vjp(ct: Any, x: Any, *, out: Any, fft_type: str, fft_length: tuple) -> list[Any]:
    if fft_type in ("FFT", "IFFT"):
        return [fft(ct, fft_type=fft_type, fft_length=fft_length)]
    n = fft_length[-1]
    if fft_type == "RFFT":
        nd = ct.ndim
        padded = _sh.pad(ct, np.zeros((), dtype=ct.dtype.np), lo=(0,) * nd,
                         hi=(0,) * (nd - 1) + (n - ct.shape[-1],))
        return [_ew.real(fft(padded, fft_type="FFT", fft_length=fft_length))]
    y = fft(ct, fft_type="RFFT", fft_length=fft_length)
    m = y.shape[-1]
    w = np.full((m,), 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    w = w / float(np.prod(fft_length))
    weights = _sh.broadcast_in_dim(w.astype(y.dtype.np), shape=tuple(y.shape), dims=(y.ndim - 1,))
    scaled = _ew.mul(y, weights)
    return [_ew.complex_(_ew.real(scaled), _ew.neg(_ew.imag(scaled)))]


fft_p = Primitive("fft", abstract_eval=_fft_abstract_eval, ref=_fft_ref, lowering=L.fft,
                  vjp=_fft_vjp)


def fft(x: Any, *, fft_type: str, fft_length: Sequence[int]) -> Any:
    return fft_p.bind(x, fft_type=str(fft_type), fft_length=tuple(int(n) for n in fft_length))


__all__ = ["fft_p", "fft", "FFT_TYPES"]


# --- batching rules (xfront.vmap; see xfront/_batching.py) -----------------------------------

from xfront import _batching as _bt  # noqa: E402

fft_p.batch = _bt.leading_batch(fft_p)  # transforms the trailing axes: batch at the front
