"""The (framework, dtype, layout) table that drives the bridge round-trip tests.

Each ``BridgeCase`` builds a source array in one framework from a NumPy reference and says what
xfront promises for it: ``zero_copy`` True (pointers equal), False (exactly one copy: pointers
differ), or None (nothing to compare: zero-size). Frameworks are imported only when a case is
built, and a missing framework skips the case with the extra to install.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable

import ml_dtypes
import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BF16 = np.dtype(ml_dtypes.bfloat16)
EXTRA = {"torch": "torch", "tensorflow": "tf", "jax": "core"}

ALL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "bfloat16", "float32", "float64", "complex64", "complex128")


def need(module: str) -> Any:
    """Import a framework, or skip the test saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRA.get(module, module)
        pytest.skip(f"{module} is not installed (pip install -e '.[{extra}]')")


def np_dtype(name: str) -> np.dtype:
    return BF16 if name == "bfloat16" else np.dtype(name)


def reference(dtype: str, shape: tuple[int, ...] = (3, 4)) -> np.ndarray:
    """Values that catch narrowing: 64-bit entries that do not fit 32 bits, non-integers."""
    n = int(np.prod(shape))
    d = np_dtype(dtype)
    if dtype == "bool":
        v = (np.arange(n) % 3 == 0)
    elif dtype in ("int64", "uint64"):
        v = np.arange(n, dtype=np.int64) + (2 ** 40 + 7)
    elif dtype.startswith("int") or dtype.startswith("uint"):
        v = np.arange(n) % 100 + (0 if dtype.startswith("u") else -50)
    elif dtype == "float64":
        v = (np.arange(n) - 5.5) * (1 + 1e-12)
    elif dtype == "complex128":
        v = (np.arange(n) - 5.5) * (1 + 1e-12) + 1j / 3
    elif dtype == "complex64":
        v = (np.arange(n) - 5.5) + 0.25j
    else:
        v = (np.arange(n) - 5.5) * 0.5
    return aligned(np.asarray(v).astype(d).reshape(shape))


def aligned(a: np.ndarray, offset: int = 0) -> np.ndarray:
    """A copy of ``a`` whose data pointer is 64-byte aligned (plus ``offset`` bytes)."""
    raw = np.empty(a.nbytes + 128 + offset, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def pointer(x: Any) -> int:
    """The data pointer of an array of any framework (for zero-copy checks)."""
    mod = type(x).__module__.partition(".")[0]
    if isinstance(x, np.ndarray):
        return x.__array_interface__["data"][0]
    if mod == "torch":
        return x.data_ptr()
    if mod == "tensorflow":
        return np.asarray(x).__array_interface__["data"][0]  # np.asarray views a CPU tensor
    return x.unsafe_buffer_pointer()  # xfront and jax


def to_numpy(x: Any) -> np.ndarray:
    """Values of an array of any framework, as NumPy (bfloat16 through ml_dtypes)."""
    mod = type(x).__module__.partition(".")[0]
    if mod == "torch":
        torch = need("torch")
        x = x.detach().cpu().resolve_conj()
        if x.dtype == torch.bfloat16:
            return x.view(torch.int16).numpy().view(BF16)
        return x.numpy()
    if mod == "tensorflow" and x.dtype.name == "bfloat16":
        return np.asarray(x).view(np.int16).view(BF16)
    return np.asarray(x)


def dtype_name(x: Any) -> str:
    """The dtype of an array of any framework, spelled like xfront."""
    mod = type(x).__module__.partition(".")[0]
    if mod == "torch":
        return str(x.dtype).rpartition(".")[2]
    if mod == "tensorflow":
        return x.dtype.name
    return "bfloat16" if np.dtype(x.dtype) == BF16 else np.dtype(x.dtype).name


# --- sources -----------------------------------------------------------------------------------

def _torch_from(ref: np.ndarray) -> Any:
    torch = need("torch")
    if ref.dtype == BF16:
        return torch.from_numpy(ref.view(np.int16).copy()).view(torch.bfloat16).clone()
    return torch.from_numpy(ref.copy()).clone()  # torch-owned, 64-byte aligned memory


def _tf_from(ref: np.ndarray) -> Any:
    tf = need("tensorflow")
    if ref.dtype == BF16:
        return tf.constant(ref.astype(np.float32), dtype=tf.bfloat16)
    return tf.constant(ref)


def _jax_from(ref: np.ndarray) -> Any:
    jax = need("jax")
    with jax.enable_x64(True):
        return jax.device_put(ref)


_MAKERS: dict[str, Callable[[np.ndarray], Any]] = {
    "numpy": aligned, "torch": _torch_from, "tensorflow": _tf_from, "jax": _jax_from,
}


def _layout(framework: str, layout: str, ref: np.ndarray) -> tuple[Any, np.ndarray]:
    """(source, expected values) for one layout; the source is built from ``ref``."""
    make = _MAKERS[framework]
    if layout == "contiguous":
        return make(ref), ref
    if layout == "0d":
        r = aligned(ref.reshape(-1)[:1].reshape(()))
        return make(r), r
    if layout == "empty":
        r = ref.reshape(-1)[:0].reshape(0, 3)
        return make(r), r
    if layout == "transposed":
        src = make(ref)
        if framework == "numpy":
            return src.T, ref.T
        if framework == "torch":
            return src.T, ref.T
        if framework == "tensorflow":
            return need("tensorflow").transpose(src), ref.T
        return src.T, ref.T
    if layout == "negative":  # numpy only
        return make(ref)[::-1], ref[::-1]
    if layout == "strided":
        return make(ref)[:, ::2], ref[:, ::2]
    if layout == "readonly":  # numpy only
        a = make(ref)
        a.flags.writeable = False
        return a, ref
    if layout == "unaligned":  # 1-D, one element in: 4/8 bytes off a 64-byte boundary
        flat = aligned(ref.reshape(-1))
        return make(flat)[1:], flat[1:]
    if layout == "offset64":  # 1-D, 64 bytes in: still aligned
        flat = aligned(ref.reshape(-1))
        k = 64 // flat.itemsize
        return make(flat)[k:], flat[k:]
    if layout == "channels_last":  # torch only
        torch = need("torch")
        r = aligned(ref.reshape(1, 3, 2, 2))
        return _torch_from(r).to(memory_format=torch.channels_last), r
    if layout == "expand":  # torch only: stride-0 dimension
        r = ref[:1]
        return _torch_from(aligned(r)).expand(3, ref.shape[1]), np.broadcast_to(r, (3,) + r.shape[1:])
    if layout == "size1_strides":  # torch only: contiguous, odd stride on a size-1 dimension
        flat = _torch_from(ref.reshape(-1))
        return flat.as_strided((3, 1, 4), (4, 100, 1)), ref.reshape(3, 1, 4)
    if layout == "conj":  # torch only: the lazy conjugate bit
        return _torch_from(ref).conj(), np.conj(ref)
    if layout == "variable":  # tensorflow only: a resource variable
        return need("tensorflow").Variable(ref), ref
    raise ValueError(layout)


@dataclass(frozen=True)
class BridgeCase:
    framework: str
    dtype: str
    layout: str = "contiguous"
    zero_copy: bool | None = True  # True: pointers equal; False: exactly one copy

    @property
    def id(self) -> str:
        return f"{self.framework}-{self.dtype}-{self.layout}"

    def build(self) -> tuple[Any, np.ndarray]:
        return _layout(self.framework, self.layout, reference(self.dtype))


def _dtype_rows(framework: str) -> list[BridgeCase]:
    return [BridgeCase(framework, d) for d in ALL_DTYPES]


CASES: list[BridgeCase] = [
    *_dtype_rows("numpy"),
    BridgeCase("numpy", "float32", "0d"),
    BridgeCase("numpy", "float32", "empty", None),
    BridgeCase("numpy", "float32", "transposed", False),
    BridgeCase("numpy", "float64", "negative", False),
    BridgeCase("numpy", "int32", "strided", False),
    BridgeCase("numpy", "float32", "readonly", True),
    BridgeCase("numpy", "float32", "unaligned", False),
    BridgeCase("numpy", "bool", "transposed", False),

    *_dtype_rows("torch"),
    BridgeCase("torch", "float32", "0d"),
    BridgeCase("torch", "bool", "0d"),
    BridgeCase("torch", "float32", "empty", None),
    BridgeCase("torch", "float32", "transposed", False),
    BridgeCase("torch", "float64", "transposed", False),
    BridgeCase("torch", "float32", "channels_last", False),
    BridgeCase("torch", "float32", "strided", False),
    BridgeCase("torch", "int64", "expand", False),
    BridgeCase("torch", "float32", "size1_strides", True),
    BridgeCase("torch", "float32", "unaligned", False),
    BridgeCase("torch", "float32", "offset64", True),
    BridgeCase("torch", "complex64", "conj", False),

    *_dtype_rows("tensorflow"),
    BridgeCase("tensorflow", "float32", "0d"),
    BridgeCase("tensorflow", "float32", "empty", None),
    BridgeCase("tensorflow", "float32", "transposed", True),  # tf.transpose materialises
    BridgeCase("tensorflow", "float64", "variable", True),

    *_dtype_rows("jax"),
    BridgeCase("jax", "float32", "0d"),
    BridgeCase("jax", "float32", "empty", None),
]
