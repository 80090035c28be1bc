"""Names NumPy and torch users type that the Array API standard spells differently.

Imports: _errors. ``xfront.__getattr__`` looks a missing attribute up in ``HABITS`` and raises an
AttributeError that names the standard's function, so ``xf.concatenate`` says "use xf.concat"
instead of a bare "no attribute". The namespace itself keeps one name per thing: nothing here
is an alias.
"""

from __future__ import annotations

from xfront import _errors


class MissingNameError(_errors.XfrontError, AttributeError):
    """``xfront`` has no such attribute (a NumPy/torch spelling of a standard function)."""


# name -> what to use instead (xfront spellings)
HABITS: dict[str, str] = {
    # creation
    "array": "xf.asarray",
    "asanyarray": "xf.asarray",
    "ascontiguousarray": "xf.asarray",
    "tensor": "xf.asarray",
    "as_tensor": "xf.asarray",
    "from_numpy": "xf.asarray",
    "identity": "xf.eye",
    # manipulation
    "concatenate": "xf.concat",
    "cat": "xf.concat",
    "hstack": "xf.concat (axis=1, or axis=0 for 1-D arrays)",
    "vstack": "xf.concat(..., axis=0) (or xf.stack for 1-D arrays)",
    "transpose": "xf.permute_dims (xf.matrix_transpose or x.T for matrices)",
    "permute": "xf.permute_dims",
    "swapaxes": "xf.permute_dims, xf.moveaxis or xf.matrix_transpose",
    "rollaxis": "xf.moveaxis",
    "unsqueeze": "xf.expand_dims",
    "ravel": "xf.reshape(x, (-1,))",
    "flatten": "xf.reshape(x, (-1,))",
    "view": "xf.reshape",
    "expand": "xf.broadcast_to",
    # element-wise
    "power": "xf.pow",
    "float_power": "xf.pow",
    "absolute": "xf.abs",
    "arccos": "xf.acos",
    "arcsin": "xf.asin",
    "arctan": "xf.atan",
    "arctan2": "xf.atan2",
    "arccosh": "xf.acosh",
    "arcsinh": "xf.asinh",
    "arctanh": "xf.atanh",
    "true_divide": "xf.divide",
    "div": "xf.divide",
    "mul": "xf.multiply",
    "sub": "xf.subtract",
    "neg": "xf.negative",
    "mod": "xf.remainder",
    "fmod": "xf.remainder (which follows the divisor's sign, as Python's %)",
    "conjugate": "xf.conj",
    "invert": "xf.bitwise_invert",
    "bitwise_not": "xf.bitwise_invert",
    "left_shift": "xf.bitwise_left_shift",
    "right_shift": "xf.bitwise_right_shift",
    "clamp": "xf.clip",
    "around": "xf.round",
    "fix": "xf.trunc",
    "rint": "xf.round",
    # statistics and searching
    "amax": "xf.max",
    "amin": "xf.min",
    "cumsum": "xf.cumulative_sum",
    "cumprod": "xf.cumulative_prod",
    "argwhere": "xf.nonzero",
    "unique": "xf.unique_values, xf.unique_counts, xf.unique_inverse or xf.unique_all",
    # linear algebra
    "dot": "xf.matmul (or x @ y), xf.tensordot or xf.vecdot",
    "inner": "xf.vecdot or xf.tensordot",
    "outer": "xf.einsum('i,j->ij', x, y) or x[:, None] * y[None, :]",
    "mm": "xf.matmul (or x @ y)",
    "bmm": "xf.matmul (or x @ y)",
    "masked_fill": "xf.where(mask, value, x)",
    # kernels and random numbers
    "softmax": "xfront.kernels.softmax (also log_softmax, logsumexp)",
    "log_softmax": "xfront.kernels.log_softmax",
    "logsumexp": "xfront.kernels.logsumexp",
    "relu": "xf.maximum(x, 0)",
    "gelu": "xfront.kernels.gelu",
    "silu": "xfront.kernels.silu",
    "randn": "xf.random.normal(key, shape) with an explicit key (xf.random.key(seed))",
    "rand": "xf.random.uniform(key, shape) with an explicit key (xf.random.key(seed))",
    "manual_seed": "xf.random.key(seed), passed explicitly (or xf.random.Generator(seed))",
    "seed": "xf.random.key(seed), passed explicitly (or xf.random.Generator(seed))",
    # attributes NumPy also offers as functions
    "shape": "x.shape",
    "ndim": "x.ndim",
    "size": "x.size",
    "numel": "x.size",
    "ndarray": "xf.Array",
}


def missing(name: str) -> AttributeError:
    """The AttributeError for ``xfront.<name>``."""
    use = HABITS.get(name)
    if use is None:
        return AttributeError(f"module 'xfront' has no attribute {name!r}")
    return MissingNameError(f"module 'xfront' has no attribute {name!r}; use {use} (xfront "
                            "follows the Array API standard's names)")
