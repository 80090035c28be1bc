"""xfront: write an array program once, run it compiled from NumPy, PyTorch, TensorFlow or JAX.

``import xfront as xf`` gives an Array API namespace (``xf.sin``, ``xf.matmul``, ...), the
``xf.compile`` transformation, dtypes and devices. Importing xfront loads neither torch,
TensorFlow nor jax: the PJRT runtime (through jaxlib) is started on first device use.

Layers, bottom up: _dtypes/_aval/_errors -> _core (graph IR, primitives, tracer) -> prims
(strict primitives, lowering rules in xfront.lowering) -> _api (the namespace: promotion,
broadcasting) -> _compile (staging and caching) -> this module (re-exports only).
"""


def _source_checkout_path() -> None:
    # In a source checkout lowering/ and kernels/ sit beside xfront/ (setuptools maps them to
    # xfront.lowering / xfront.kernels when installing); let the import system find them there.
    import os

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    if not os.path.isdir(os.path.join(here, "lowering")) and os.path.isfile(
            os.path.join(root, "lowering", "__init__.py")):
        __path__.append(root)  # noqa: F821


_source_checkout_path()

from xfront import _eager as _eager  # installs eager execution  # noqa: F401
from xfront import prims as prims  # noqa: F401
from xfront._array import Array as Array
from xfront._core import Graph as Graph, Primitive as Primitive, Tracer as Tracer
from xfront._device import Device as Device, default_device as _default_device_fn
from xfront._device import devices as devices, get_device as device, using_device as using_device
from xfront._dtypes import (DType, bfloat16, bool_, complex64, complex128, float16, float32,
                            float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64)
from xfront._errors import (ArgumentError, DeviceError, DTypeError, DynamicShapeError,
                            LoweringError, ShapeError, TracerConversionError, TracerLeakError,
                            XfIndexError, XfrontError)
from xfront._compile import (CacheInfo, CompiledFunction, RecompileWarning, compile,  # noqa: A004
                             trace)
from xfront._tree import (register_pytree_node, tree_flatten, tree_leaves, tree_map,
                          tree_unflatten)
from xfront._api._data_types import astype, can_cast, finfo, iinfo, isdtype, result_type
from xfront._api._elementwise import (add, subtract, multiply, divide, floor_divide, remainder,
    pow, negative, positive, abs, sign, square, reciprocal, maximum, minimum, clip, exp, exp2,
    expm1, log, log1p, log2, log10, logaddexp, sqrt, rsqrt, cbrt, hypot, sin, cos, tan, asin,
    acos, atan, atan2, sinh, cosh, tanh, asinh, acosh, atanh, sigmoid, erf, erfinv, lgamma,
    digamma, floor, ceil, trunc, round, equal, not_equal, less, less_equal, greater,
    greater_equal, isnan, isinf, isfinite, signbit, copysign, nextafter, real, imag, conj,
    logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or, bitwise_xor,
    bitwise_invert, bitwise_left_shift, bitwise_right_shift, bitwise_count)  # noqa: A004
from xfront._api._creation import (arange, asarray, empty, empty_like, eye, from_dlpack, full,
    full_like, linspace, meshgrid, ones, ones_like, tril, triu, zeros, zeros_like)
from xfront._api._manipulation import (broadcast_arrays, broadcast_to, concat, expand_dims,
    flip, moveaxis, permute_dims, repeat, reshape, roll, squeeze, stack, tile, unstack)
from xfront._api._statistical import (all, any, argmax, argmin, count_nonzero, cumulative_prod,
    cumulative_sum, max, mean, min, prod, std, sum, var, where)  # noqa: A004
from xfront._api._linalg import matmul, matrix_transpose, tensordot, vecdot
from xfront._api._searching import (nonzero, unique_all, unique_counts, unique_inverse,
                                    unique_values)
from xfront import nn as nn  # windowed ops: conv_general_dilated, reduce_window_*

bool = bool_  # noqa: A001  (Array API spelling: xfront.bool)
jit = compile  # alias for JAX users
e = 2.718281828459045
pi = 3.141592653589793
inf = float("inf")
nan = float("nan")
newaxis = None
__array_api_version__ = "2024.12"
__version__ = "0.1.0"


def default_device() -> Device:
    """The device new arrays and programs use (see xfront._device)."""
    return _default_device_fn()

# --- indexing and sorting: take, take_along_axis, sort, argsort, searchsorted -------------
from xfront._api._gather import take, take_along_axis  # noqa: E402
from xfront._api._sorting import argsort, searchsorted, sort  # noqa: E402

# --- bridges: to_torch, to_tf, to_numpy, to_jax ----------------------------------------------
from xfront.bridges import (BridgeError, to_jax, to_numpy, to_tf,  # noqa: E402
                            to_torch)


def __getattr__(name: str):
    # xf.torch (Function, Module: torch autograd wrappers) imports torch, so only on first use
    if name == "torch":
        import importlib

        return importlib.import_module("xfront.torch")
    where = _LAZY.get(name)
    if where is not None:
        return _load_lazy(name, where)
    # NumPy/torch spellings (xf.concatenate, xf.transpose, ...) name the standard's function
    from xfront._habits import missing

    raise missing(name)

# --- control flow, random, autodiff, einsum/pad, export, ONNX, linalg, fft, testing ----------
#     (cond, grad, export, ...: bound on first use, see NOTE [Lazy modules] at the end)

# --- batching: vmap (xfront.keras is imported on use) -----------------------------------------
from xfront._batching import BatchingError, vmap  # noqa: E402

# --- hardening: runtime error classes (NOTE [One exception boundary] in the runtime adapter) --
from xfront._errors import (CompileError, ExecutionError, XfMemoryError,  # noqa: E402
                            XfOverflowError)

# --- hardening: the public names (walked by tests/test_public_names.py) ----------------------
# Every public name of the namespace. A new public name is added here as a word in its group
# (or in a new group): the walk test fails for a public attribute missing from this list, and
# for a listed name that no op-table row and no test uses.
__all__ = """
    Array Device DType Graph Primitive Tracer CacheInfo CompiledFunction RecompileWarning
    XfrontError ArgumentError BridgeError CompileError DTypeError DeviceError
    DifferentiationError DynamicShapeError ExecutionError LoweringError ShapeError
    TracerConversionError TracerLeakError XfIndexError XfMemoryError XfOverflowError
    bool bool_ int8 int16 int32 int64 uint8 uint16 uint32 uint64 float16 bfloat16 float32
    float64 complex64 complex128 e inf nan newaxis pi
    astype can_cast finfo iinfo isdtype result_type
    default_device device devices using_device
    compile jit trace grad value_and_grad vjp jvp stop_gradient
    cond switch while_loop fori_loop scan
    register_pytree_node tree_flatten tree_leaves tree_map tree_unflatten
    to_jax to_numpy to_tf to_torch from_dlpack
    arange asarray empty empty_like eye full full_like linspace meshgrid ones ones_like tril
    triu zeros zeros_like
    abs acos acosh add asin asinh atan atan2 atanh bitwise_and bitwise_count bitwise_invert
    bitwise_left_shift bitwise_or bitwise_right_shift bitwise_xor cbrt ceil clip conj copysign
    cos cosh digamma divide equal erf erfinv exp exp2 expm1 floor floor_divide greater
    greater_equal hypot imag isfinite isinf isnan less less_equal lgamma log log10 log1p log2
    logaddexp logical_and logical_not logical_or logical_xor maximum minimum multiply negative
    nextafter not_equal positive pow real reciprocal remainder round rsqrt sigmoid sign signbit
    sin sinh sqrt square subtract tan tanh trunc
    all any argmax argmin count_nonzero cumulative_prod cumulative_sum max mean min prod std
    sum var
    matmul matrix_transpose tensordot vecdot
    broadcast_arrays broadcast_to concat expand_dims flip moveaxis permute_dims repeat reshape
    roll squeeze stack tile unstack
    nonzero searchsorted sort argsort take take_along_axis unique_all unique_counts
    unique_inverse unique_values where
    nn random
    einsum pad
    ArtifactError Exported Spec deserialize export export_tf import_stablehlo
    OnnxExportError export_onnx
    BatchingError vmap testing
    fft linalg
    diff __array_namespace_info__
""".split()

# --- beyond one device (issue 14): meshes, shardings, global arrays, SPMD programs ---------
from xfront.sharding import Mesh as Mesh, NamedSharding as NamedSharding  # noqa: E402
from xfront.sharding import P as P, PartitionSpec as PartitionSpec  # noqa: E402
from xfront.sharding import ShardedArray as ShardedArray, device_put as device_put  # noqa: E402
from xfront.sharding import shard as shard  # noqa: E402
from xfront.sharding import (  # noqa: E402
    make_array_from_process_local_data as make_array_from_process_local_data)
__all__ += """
    Mesh NamedSharding P PartitionSpec ShardedArray device_put shard
    make_array_from_process_local_data distributed sharding
""".split()
__all__ += """
    shard_map psum pmean pmax all_gather reduce_scatter ppermute all_to_all axis_index
""".split()  # (xfront.distributed and the SPMD names above: bound on first use, _LAZY below)

# --- Array API completeness: inspection namespace, diff (in-place updates: xfront/_array.py) --
from xfront._api._utility import diff  # noqa: E402

# --- performance: release_memory (idle pool and staging memory of the runtime adapter) -------


def release_memory() -> int:
    """Give back the memory xfront keeps for reuse (recycled output buffers, staging copies
    of large inputs, and the idle staging sets of small inputs that compiled calls keep);
    returns the bytes dropped. Arrays and tensors in use, and a staging set a running call
    uses, are not touched.
    Caps: ``XFRONT_POOL_MAX_BYTES`` (pool, default 1 GiB; staging takes at most half of it);
    ``XFRONT_BUFFER_POOL=0`` disables both."""
    import sys as _sys

    rt = _sys.modules.get("xfront.lowering.runtime")
    return 0 if rt is None else rt.release_memory()


__all__ += ["release_memory"]


# --- start-up: names whose modules load on first use ------------------------------------------
# NOTE [Lazy modules]
#     A fresh process's first compiled call pays for every module ``import xfront`` loads, and
#     most of that cost is reading their bytecode, in proportion to its size. The modules below
#     (export, ONNX, autodiff, control flow, random, linalg/fft, SPMD, testing, ...) are not on
#     the path of an ordinary call, so their names are bound on first access through the module
#     ``__getattr__``: ``xf.grad`` imports xfront._autodiff then, and later accesses find the
#     name in the namespace. ``dir(xfront)`` and ``__all__`` list them as before. None of these
#     modules changes shared state when imported beyond declaring its own primitives, so
#     importing one later gives the same behaviour as importing it with xfront.
_LAZY_GROUPS = {
    "xfront._control": "cond fori_loop scan switch while_loop",
    "xfront._autodiff": "DifferentiationError grad jvp stop_gradient value_and_grad vjp",
    "xfront._api._einsum": "einsum",
    "xfront._api._pad": "pad",
    "xfront._export": "ArtifactError Exported Spec deserialize export export_tf import_stablehlo",
    "xfront._onnx": "OnnxExportError export_onnx",
    "xfront._shard_map": "all_gather all_to_all axis_index pmax pmean ppermute psum "
                         "reduce_scatter shard_map",
    "xfront._info": "__array_namespace_info__",
}
_LAZY = {n: (mod, n) for mod, names in _LAZY_GROUPS.items() for n in names.split()}
# submodules: xf.random, xf.testing (compare: imports frameworks lazily), ...
_LAZY.update({n: ("xfront." + n, None) for n in ("random", "testing", "fft", "linalg",
                                                 "distributed")})


def _load_lazy(name: str, where: tuple[str, str | None]):
    import importlib

    mod = importlib.import_module(where[0])
    value = mod if where[1] is None else getattr(mod, where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
