"""xfront functions inside framework graphs: torch.compile (custom op, no graph break) and
tf.function (an XlaCallModule op). Both must give the same results as eager calls."""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf
from tests._bridge_cases import need


@xf.compile
def _gelu_pair(x, w, scale):
    h = xf.matmul(x, w)
    g = 0.5 * h * (1.0 + xf.tanh(0.7978845608 * (h + 0.044715 * h * h * h)))
    return g * scale, xf.sum(g, axis=-1)


# --- torch.compile ------------------------------------------------------------------------------

def _torch_model():
    torch = need("torch")

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(8, 8)
            self.w = torch.nn.Parameter(torch.randn(8, 4))

        def forward(self, x):
            g, s = _gelu_pair(torch.relu(self.lin(x)), self.w, 2.0)
            return g.sum(dim=-1) + s

    torch.manual_seed(0)
    return Block()


@pytest.mark.slow
def test_torch_compile_fullgraph_inductor_matches_eager():
    torch = need("torch")
    m = _torch_model()
    x = torch.randn(5, 8)
    with torch.no_grad():
        eager = m(x)
        compiled = torch.compile(m, fullgraph=True)(x)  # raises on any graph break
    torch.testing.assert_close(compiled, eager)


def test_torch_compile_records_the_xfront_custom_op():
    torch = need("torch")
    from torch._dynamo.backends.common import aot_autograd

    graphs = []

    def capture(gm, example_inputs):  # the graph after AOT tracing: real ops only
        graphs.append(gm)
        return gm.forward

    backend = aot_autograd(fw_compiler=capture)

    @xf.compile(static_argnames=("k",))
    def kernel(a, b, *, k):
        return {"sum": a + b * k, "prod": a * b}

    def fn(a, b):
        out = kernel(a, b, k=3)
        return out["sum"] - out["prod"]

    a, b = torch.arange(6.0).reshape(2, 3), torch.full((2, 3), 2.0)
    got = torch.compile(fn, backend=backend, fullgraph=True)(a, b)
    torch.testing.assert_close(got, fn(a, b))
    assert len(graphs) == 1
    targets = [str(n.target) for n in graphs[0].graph.nodes if n.op == "call_function"]
    assert "xfront.call.default" in targets, targets


def test_torch_compile_fake_impl_gives_xfront_shapes_and_dtypes():
    torch = need("torch")
    from torch._subclasses.fake_tensor import FakeTensorMode

    @xf.compile
    def kernel(a):
        return xf.sum(a, axis=0).astype(xf.float64), a[:, :1] > 0

    from xfront.bridges import torch as tb

    tb.install_compile_hook()
    spec, tensors = tb._split_leaves(kernel, (torch.ones(4, 3),), {})
    with FakeTensorMode() as mode:
        fake = mode.from_tensor(torch.ones(4, 3))
        outs = torch.ops.xfront.call(spec, [fake])
    assert [tuple(o.shape) for o in outs] == [(3,), (4, 1)]
    assert [o.dtype for o in outs] == [torch.float64, torch.bool]


def test_torch_compile_dynamic_shapes_are_specialized():
    torch = need("torch")

    @xf.compile
    def kernel(a):
        return a * 2

    f = torch.compile(lambda a: kernel(a) + 1, backend="aot_eager", dynamic=True, fullgraph=True)
    for n in (3, 5, 3):
        torch.testing.assert_close(f(torch.ones(n)), torch.full((n,), 3.0))


# --- tf.function --------------------------------------------------------------------------------

def _xla_call_module_ops(concrete) -> list[str]:
    return [op.type for op in concrete.graph.get_operations() if op.type == "XlaCallModule"]


@pytest.mark.parametrize("jit_compile", [None, True])
def test_tf_function_stages_an_xla_call_module(jit_compile):
    tf = need("tensorflow")
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((5, 8)).astype(np.float32))
    w = rng.standard_normal((8, 4)).astype(np.float32)

    @tf.function(jit_compile=jit_compile)
    def model(x):
        g, s = _gelu_pair(tf.nn.relu(x), w, 2.0)  # TF tensor, NumPy constant, Python scalar
        return tf.reduce_sum(g, axis=-1) + s

    eager_g, eager_s = _gelu_pair(tf.nn.relu(x), w, 2.0)
    expected = tf.reduce_sum(eager_g, axis=-1) + eager_s
    np.testing.assert_allclose(model(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    assert _xla_call_module_ops(model.get_concrete_function(x)) == ["XlaCallModule"]


def test_tf_function_survives_saved_model(tmp_path):
    tf = need("tensorflow")

    @xf.compile
    def kernel(a, b):
        return xf.exp(a) * b

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((3,), tf.float32),
                                      tf.TensorSpec((3,), tf.float32)])
        def __call__(self, a, b):
            return kernel(a, b)

    tf.saved_model.save(M(), str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    a = tf.constant([0.0, 1.0, 2.0])
    b = tf.constant([1.0, 2.0, 3.0])
    np.testing.assert_allclose(loaded(a, b).numpy(), np.exp(a.numpy()) * b.numpy(), rtol=1e-6)


def test_tf_function_unknown_dimensions_are_symbolic_and_unknown_rank_is_a_clear_error():
    tf = need("tensorflow")

    @xf.compile
    def kernel(a):
        return a + 1

    sig = [tf.TensorSpec((None,), tf.float32)]
    f = tf.function(lambda a: kernel(a), input_signature=sig, autograph=False)
    for n in (2, 5):  # one polymorphic module (tests/test_symbolic.py has more)
        np.testing.assert_allclose(f(np.arange(n, dtype=np.float32)).numpy(), np.arange(n) + 1)
    g = tf.function(lambda a: kernel(a), input_signature=[tf.TensorSpec(None, tf.float32)],
                    autograph=False)
    with pytest.raises(xf.ShapeError, match=r"argument #0 of `kernel` has a TF shape of "
                                            r"unknown rank"):
        g.get_concrete_function()


def test_tf_function_with_variables_and_pytrees():
    tf = need("tensorflow")
    v = tf.Variable(np.arange(3, dtype=np.float32))

    @xf.compile
    def kernel(d):
        return {"y": d["a"] * d["v"], "n": xf.max(d["v"])}

    @tf.function
    def step(a):
        out = kernel({"a": a, "v": v})
        return out["y"] + out["n"]

    np.testing.assert_allclose(step(tf.ones(3)).numpy(), [2.0, 3.0, 4.0])
    v.assign([5.0, 5.0, 5.0])  # the graph reads the variable's current value
    np.testing.assert_allclose(step(tf.ones(3)).numpy(), [10.0, 10.0, 10.0])
