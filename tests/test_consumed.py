"""Consumed arrays (moved by to_torch, donated, deleted) at every public entry point: each use
raises ArgumentError naming the entry point, the argument and how the array was consumed; no
jaxlib/nanobind/C++ text reaches the user (NOTE [Consumed arrays] in xfront/_array.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import xfront as xf

torch = pytest.importorskip("torch")


def _fresh() -> xf.Array:
    # a fresh output that no other xfront object holds, so to_torch moves it (no copy)
    return xf.asarray(np.arange(1.0, 4.0, dtype=np.float32)) * 1


def _moved():
    x = _fresh()
    t = xf.to_torch(x)
    return x, t, r"was moved to torch by xfront\.to_torch"


_donate = xf.compile(lambda a: a * 2, donate_argnums=0)


def _donated():
    x = _fresh()
    y = _donate(x)
    return x, y, r"was donated to the compiled function `<lambda>` \(donate_argnums\)"


def _deleted():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(1.0, 4.0, dtype=jnp.float32)
    x = xf.asarray(j)  # zero-copy: x shares j's buffer
    j.delete()
    return x, None, r"was deleted: its buffer was donated or deleted by the framework"


STATES = {"moved": _moved, "donated": _donated, "deleted": _deleted}

_sum = xf.compile(lambda a: xf.sum(a))
_tree = xf.compile(lambda d: d["w"] * 2)


def _tf(x):
    pytest.importorskip("tensorflow")
    return xf.to_tf(x)


# entry point -> (call, regex for the start of the message)
ENTRY_POINTS = {
    "eager op": (lambda x: xf.sin(x), r"xfront\.sin: argument 0 \(f32\[3\]\) "),
    "eager binary op": (lambda x: xf.add(1.0, x), r"xfront\.add: argument 1 \(f32\[3\]\) "),
    "operator": (lambda x: x + x, r"xfront\.add: argument 0 \(f32\[3\]\) "),
    "compiled call": (lambda x: _sum(x), r"xfront\.compile: argument args\[0\] "),
    "compiled call, pytree": (lambda x: _tree({"w": x}),
                              r"xfront\.compile: argument args\[0\]\['w'\] "),
    "grad": (lambda x: xf.grad(lambda a: xf.sum(a * a))(x), r"xfront\.grad: argument args\[0\] "),
    "value_and_grad": (lambda x: xf.value_and_grad(lambda a: xf.sum(a))(x),
                       r"xfront\.value_and_grad: argument args\[0\] "),
    "vjp": (lambda x: xf.vjp(xf.sin, x), r"xfront\.vjp: input 0 \(f32\[3\]\) "),
    "jvp": (lambda x: xf.jvp(xf.sin, (x,), (np.ones(3, np.float32),)),
            r"xfront\.jvp: argument args\[0\]\[0\] "),
    "to_torch": (lambda x: xf.to_torch(x),
                 r"xfront\.to_torch: the f32\[3\] array passed to xfront\.to_torch "),
    "to_torch copy": (lambda x: xf.to_torch(x, copy=True),
                      r"xfront\.to_torch: the f32\[3\] array passed to xfront\.to_torch "),
    "to_tf": (_tf, r"xfront\.to_tf: the f32\[3\] array passed to xfront\.to_tf "),
    "to_jax": (lambda x: xf.to_jax(x), r"xfront\.to_jax: the f32\[3\] array passed to "),
    "to_numpy": (lambda x: xf.to_numpy(x), r"xfront\.to_numpy: the f32\[3\] array passed to "),
    "__dlpack__": (lambda x: x.__dlpack__(), r"xfront\.Array\.__dlpack__: this f32\[3\] array "),
    "__dlpack_device__": (lambda x: x.__dlpack_device__(),
                          r"xfront\.Array\.__dlpack_device__: this f32\[3\] array "),
    # torch asks for the device first
    "torch.from_dlpack": (lambda x: torch.from_dlpack(x),
                          r"xfront\.Array\.__dlpack_device__: this f32\[3\] array "),
    "np.asarray": (lambda x: np.asarray(x), r"xfront\.__array__: this f32\[3\] array "),
    "from_dlpack": (lambda x: xf.from_dlpack(x),
                    r"xfront\.from_dlpack: the f32\[3\] array passed to xfront\.from_dlpack "),
    "cond": (lambda x: xf.cond(True, lambda a: a * 2, lambda a: a + 1, x),
             r"xfront\.\w+: argument \d \(f32\[3\]\) "),
    "fori_loop": (lambda x: xf.fori_loop(0, 3, lambda i, a: a * 2, x),
                  r"xfront\.\w+: argument \S+ "),
    "to_device": (lambda x: x.to_device("cpu") * 1, r"xfront\.\w+: argument 0 \(f32\[3\]\) "),
    # NOTE: the eager control-flow entry points below report the first primitive that touches
    # the array (``xfront.reduce_sum``, ``xfront.slice``), not their own name
    "while_loop": (lambda x: xf.while_loop(lambda a: xf.sum(a) < 100, lambda a: a * 2, x),
                   r"xfront\.\w+: argument \S+ "),
    "scan": (lambda x: xf.scan(lambda c, a: (c + a, a * 2), xf.asarray(np.float32(0)), x),
             r"xfront\.\w+: argument \S+ "),
    "switch": (lambda x: xf.switch(1, [lambda a: a, lambda a: a * 2], x),
               r"xfront\.\w+: argument \d \(f32\[3\]\) "),
    "vmap": (lambda x: xf.vmap(xf.sin)(x), r"xfront\.\w+: argument args\[0\] "),
}

_LEAKS = ("std::", "nanobind", "incompatible function arguments", "JaxRuntimeError",
          "XlaRuntimeError", "jaxlib", "INVALID_ARGUMENT", "bad_cast")


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("state", list(STATES))
def test_consumed_array_at_entry_point(state, entry):
    x, other, how = STATES[state]()
    call, where = ENTRY_POINTS[entry]
    with pytest.raises(xf.ArgumentError) as info:
        call(x)
    msg = str(info.value)
    assert isinstance(info.value, TypeError)
    assert any(re.match(where + r".*" + how, line) for line in msg.splitlines()), msg
    # the call site: the innermost frame outside xfront (torch's own, for torch.from_dlpack)
    assert ("test_consumed.py" if entry != "torch.from_dlpack" else "dlpack.py") in msg
    assert not any(s in msg for s in _LEAKS), msg
    if state == "moved":  # the torch tensor that took the memory is intact
        assert other.tolist() == [1.0, 2.0, 3.0]
    if state == "donated":
        np.testing.assert_array_equal(np.asarray(other), [2.0, 4.0, 6.0])


def test_moved_array_error_names_the_consuming_call_and_the_copy_hint():
    x, _, _ = _moved()
    with pytest.raises(xf.ArgumentError, match=r"Hint: use the torch array, or call "
                                                r"xfront\.to_torch\(x, copy=True\) to keep x"):
        xf.to_torch(x)


def test_an_array_survives_a_skipped_donation():
    # a DLPack consumer still views the buffer: PJRT skips the donation and x stays valid
    x = _fresh()
    view = torch.from_dlpack(x.__dlpack__(copy=False))
    y = _donate(x)
    np.testing.assert_array_equal(np.asarray(y), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0, 3.0])
    assert view.tolist() == [1.0, 2.0, 3.0]


_fast2 = xf.compile(lambda a, b: a * b)


@pytest.mark.parametrize("state", list(STATES))
def test_consumed_array_on_the_fast_path_raises_what_the_general_path_raises(state):
    live = xf.asarray(np.ones(3, np.float32))
    _fast2(live, live)  # the signature f32[3], f32[3] now takes the xfront fast path
    x, _, how = STATES[state]()
    messages = []
    for call in (lambda: _fast2(live, x), lambda: _fast2._call((live, x), {}, None)):
        with pytest.raises(xf.ArgumentError) as info:
            call()
        msg = str(info.value)
        assert re.match(r"xfront\.compile: argument args\[1\] .*" + how, msg), msg
        assert not any(s in msg for s in _LEAKS), msg
        messages.append(msg.splitlines()[0])
    assert messages[0] == messages[1]
    np.testing.assert_array_equal(np.asarray(_fast2(live, live)), np.ones(3))  # still works
