"""Differential tests of every kernel in ``xfront.kernels.KERNELS``.

For each (kernel, case, dtype): eager results (xfront arrays in) and compiled results (NumPy
in -> NumPy out) must match the kernel's float64 NumPy reference; the traced graph must
type-check and reproduce the reference when run with the primitives' own NumPy refs. Against
the peers (skipped when the extra is not installed): called with torch tensors the compiled
kernel returns torch tensors equal to the torch equivalent's output, and likewise for
TensorFlow; JAX arrays come back as JAX arrays. Cases a peer cannot express (e.g. torch has no
'SAME' padding with strides, TF no grouped CPU convolution) are not generated for that peer.
"""

from __future__ import annotations


import numpy as np
import pytest

import xfront as xf
from xfront import _core
from xfront.kernels import KERNELS, Kernel

pytestmark = pytest.mark.filterwarnings("ignore::xfront.RecompileWarning")

CASES = [(k, c, d) for k in KERNELS.values() for c in k.cases for d in k.dtypes]
IDS = [f"{k.name}-{c.label}-{d}" for k, c, d in CASES]
TORCH_CASES = [(k, c, d) for k, c, d in CASES if c.torch and k.torch is not None]
TF_CASES = [(k, c, d) for k, c, d in CASES if c.tf and k.tf is not None]


def _ids(cases):
    return [f"{k.name}-{c.label}-{d}" for k, c, d in cases]


# Peers are compared with a looser float64 tolerance: some compute float64 with float32
# constants (TF's gelu: ~1e-9 relative), which the float64 NumPy reference would flag.
PEER_TOL = {"float32": None, "float64": (1e-7, 1e-9)}


def _close(actual, expected, kernel: Kernel, dtype: str, what: str, tol=None) -> None:
    a = np.asarray(actual)
    e = np.asarray(expected)
    assert a.shape == e.shape, f"{kernel.name} {what}: shape {a.shape} != {e.shape}"
    assert a.dtype == e.dtype, f"{kernel.name} {what}: dtype {a.dtype} != {e.dtype}"
    rtol, atol = tol or kernel.tol[dtype]
    np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                               err_msg=f"{kernel.name} {what}")


@pytest.mark.parametrize("kernel,case,dtype", CASES, ids=IDS)
def test_eager_matches_ref(kernel, case, dtype):
    args = kernel.inputs(case, dtype)
    out = kernel.fn(*[xf.asarray(a) for a in args], **case.kwargs)
    assert isinstance(out, xf.Array)
    _close(out, kernel.ref(*args, **case.kwargs), kernel, dtype, "eager")


@pytest.mark.parametrize("kernel,case,dtype", CASES, ids=IDS)
def test_compiled_matches_ref(kernel, case, dtype):
    args = kernel.inputs(case, dtype)
    out = kernel.compiled(*args, **case.kwargs)
    assert isinstance(out, np.ndarray), "NumPy in -> NumPy out"
    _close(out, kernel.ref(*args, **case.kwargs), kernel, dtype, "compiled")


@pytest.mark.parametrize("kernel,case,dtype", CASES, ids=IDS)
def test_graph_typechecks_and_matches_prim_refs(kernel, case, dtype):
    args = kernel.inputs(case, dtype)
    graph = xf.trace(lambda *a: kernel.fn(*a, **case.kwargs))(*args)
    _core.check_graph(graph)
    (out,) = _core.eval_graph_ref(graph, *args)
    _close(out, kernel.ref(*args, **case.kwargs), kernel, dtype, "prim refs")


@pytest.mark.parametrize("kernel,case,dtype", TORCH_CASES, ids=_ids(TORCH_CASES))
def test_matches_torch(kernel, case, dtype):
    torch = pytest.importorskip("torch")
    args = [torch.from_numpy(a) for a in kernel.inputs(case, dtype)]
    out = kernel.compiled(*args, **case.kwargs)
    assert isinstance(out, torch.Tensor), "torch in -> torch out"
    expected = kernel.torch(*args, **case.kwargs)
    _close(out.numpy(), expected.numpy(), kernel, dtype, "vs torch", PEER_TOL[dtype])


@pytest.mark.parametrize("kernel,case,dtype", TF_CASES, ids=_ids(TF_CASES))
def test_matches_tensorflow(kernel, case, dtype):
    tf = pytest.importorskip("tensorflow")
    args = [tf.constant(a) for a in kernel.inputs(case, dtype)]
    out = kernel.compiled(*args, **case.kwargs)
    assert isinstance(out, tf.Tensor), "TF in -> TF out"
    expected = kernel.tf(*args, **case.kwargs)
    _close(out.numpy(), expected.numpy(), kernel, dtype, "vs tensorflow", PEER_TOL[dtype])


FIRST_CASES = [(k, k.cases[0], "float32") for k in KERNELS.values()]


@pytest.mark.parametrize("kernel,case,dtype", FIRST_CASES, ids=_ids(FIRST_CASES))
def test_jax_arrays_in_and_out(kernel, case, dtype):
    jax = pytest.importorskip("jax")
    np_args = kernel.inputs(case, dtype)
    args = [jax.device_put(a) for a in np_args]
    out = kernel.compiled(*args, **case.kwargs)
    assert isinstance(out, jax.Array), "JAX in -> JAX out"
    _close(np.asarray(out), kernel.ref(*np_args, **case.kwargs), kernel, dtype, "jax in/out")


@pytest.mark.parametrize("kernel,case,dtype", FIRST_CASES, ids=_ids(FIRST_CASES))
def test_inlined_inside_a_compiled_program(kernel, case, dtype):
    args = kernel.inputs(case, dtype)

    @xf.compile
    def program(*a):
        return kernel.fn(*a, **case.kwargs) * 2.0

    _close(program(*args), (kernel.ref(*args, **case.kwargs) * 2).astype(dtype), kernel, dtype,
           "inlined")


def test_registry_is_complete():
    expected = {"softmax", "log_softmax", "logsumexp", "layer_norm", "rms_norm", "gelu", "silu",
                "scaled_dot_product_attention", "mlp", "cross_entropy", "conv2d", "max_pool2d",
                "avg_pool2d", "batch_norm"}
    assert expected <= set(KERNELS)
    for name, k in KERNELS.items():
        assert k.name == name
        assert k.cases and k.dtypes and set(k.dtypes) <= set(k.tol)


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, 0.0, 0.0]], np.float32)
    out = np.asarray(xf.kernels.softmax(x))
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])


def test_logsumexp_of_infinite_rows():
    x = np.array([[-np.inf, -np.inf], [np.inf, 0.0], [1.0, 2.0]])
    out = np.asarray(xf.kernels.logsumexp(x))
    assert out[0] == -np.inf and out[1] == np.inf
    np.testing.assert_allclose(out[2], np.log(np.exp(1.0) + np.exp(2.0)))


def test_low_precision_inputs_are_computed_in_float32():
    x = (np.arange(64, dtype=np.float32).reshape(2, 32) / 7).astype(np.float16)
    out = xf.kernels.layer_norm(x)
    assert out.dtype == xf.float16
    ref = KERNELS["layer_norm"].ref(x.astype(np.float32)).astype(np.float16)
    np.testing.assert_allclose(np.asarray(out, np.float32), ref.astype(np.float32), atol=2e-3)


@pytest.mark.parametrize("call,match", [
    (lambda: xf.kernels.gelu(np.ones(3, np.float32), approximate="fast"), "approximate"),
    (lambda: xf.kernels.conv2d(np.ones((1, 1, 3, 3), np.float32),
                               np.ones((1, 1, 3, 3), np.float32), layout="NWHC"), "layout"),
    (lambda: xf.kernels.cross_entropy(np.ones((3, 4), np.float32), np.zeros(4, np.int64)),
     r"labels \(4,\)"),
    (lambda: xf.kernels.cross_entropy(np.ones((3, 4), np.float32), np.zeros(3, np.float32)),
     "integer class indices"),
    (lambda: xf.kernels.mlp(*[np.ones(s, np.float32) for s in ((2, 3), (3, 4), (4,), (4, 3),
                                                                (3,))], activation="tanh"),
     "activation"),
])
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(xf.XfrontError, match=match):
        call()
