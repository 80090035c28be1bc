"""Bad input: each case raises a TypeError/ValueError subclass that names the function, the
shapes/dtypes involved and the user's call site; nothing crashes or hangs."""

from __future__ import annotations

import numpy as np
import pytest

import xfront as xf

HERE = "test_errors.py"


def _f32(*shape):
    return np.ones(shape, np.float32)


def test_shape_mismatch_names_op_shapes_and_call_site():
    with pytest.raises(ValueError) as info:
        xf.add(xf.asarray(_f32(3, 4)), xf.asarray(_f32(5)))
    msg = str(info.value)
    assert isinstance(info.value, xf.ShapeError)
    assert "xfront.add: cannot broadcast shapes (3, 4) and (5,)" in msg
    assert HERE in msg and "test_shape_mismatch_names_op_shapes_and_call_site" in msg


def test_shape_mismatch_inside_compile_points_at_the_traced_line():
    @xf.compile
    def step(x, w):
        return x @ w  # the line the error must name

    with pytest.raises(ValueError) as info:
        step(_f32(3, 4), _f32(5, 6))
    msg = str(info.value)
    assert "xfront.matmul: x1 has shape (3, 4) and x2 has shape (5, 6)" in msg
    assert f"{HERE}:" in msg and "in step" in msg


def test_bad_axis():
    with pytest.raises(ValueError, match=r"xfront\.sum: axis 3 is out of bounds for an array of "
                                         r"dimension 2.*\n.*valid axes are -2\.\.1"):
        xf.sum(xf.asarray(_f32(2, 3)), axis=3)
    with pytest.raises(ValueError, match=r"xfront\.sum: repeated axis"):
        xf.sum(xf.asarray(_f32(2, 3)), axis=(0, -2))
    with pytest.raises(TypeError, match=r"xfront\.mean: axis must be an integer, got float"):
        xf.mean(xf.asarray(_f32(2, 3)), axis=1.0)


def test_unsupported_dtypes():
    with pytest.raises(TypeError, match=r"xfront\.sin: x has NumPy dtype <U1"):
        xf.sin(np.array(["a"]))
    with pytest.raises(TypeError, match=r"cannot make an xfront array from data of dtype object"):
        xf.asarray(np.array([object()]))
    with pytest.raises(TypeError, match=r"xfront\.bitwise_and: expected integer or boolean input,"
                                        r" got f32\[2\] and f32\[2\]"):
        xf.bitwise_and(xf.asarray(_f32(2)), xf.asarray(_f32(2)))
    with pytest.raises(TypeError, match=r"cannot interpret 'float7' as an xfront dtype"):
        xf.zeros(3, dtype="float7")


def test_python_int_out_of_range_for_dtype():
    with pytest.raises(OverflowError, match=r"Python integer 300 is out of bounds for uint8"):
        xf.add(xf.asarray(np.zeros(2, np.uint8)), 300)


def test_wrong_arity_of_a_compiled_function():
    f = xf.compile(lambda x, y: x + y)
    with pytest.raises(TypeError, match=r"xfront\.compile: `<lambda>` takes \(x, y\) but was "
                                        r"called with 1 positional argument"):
        f(_f32(2))
    with pytest.raises(TypeError, match=r"missing 1 required positional argument"):
        xf.add(_f32(2))  # plain Python arity error of the namespace function names it


def test_python_if_on_traced_value():
    @xf.compile
    def relu(x):
        if x > 0:  # data-dependent Python control flow
            return x
        return -x

    with pytest.raises(TypeError) as info:
        relu(_f32(3))
    msg = str(info.value)
    assert isinstance(info.value, xf.TracerConversionError)
    assert "bool() was called on a traced array bool[3] inside `relu`" in msg
    assert "xfront.where" in msg and "static_argnums" in msg
    assert f"{HERE}:" in msg


@pytest.mark.parametrize("conv", [int, float, complex])
def test_python_conversions_of_traced_values(conv):
    f = xf.compile(lambda x: conv(x))
    with pytest.raises(TypeError, match=rf"{conv.__name__}\(\) was called on a traced array "
                                        r"f32\[\]"):
        f(np.float32(1.0))


def test_numpy_conversion_of_traced_value():
    f = xf.compile(lambda x: np.asarray(x) + 1)
    with pytest.raises(TypeError, match=r"numpy conversion \(__array__\) was called on a traced "
                                        r"array f32\[2\]"):
        f(_f32(2))


def test_tracer_leak():
    leaked = []

    @xf.compile
    def f(x):
        leaked.append(x * 2)
        return x

    f(_f32(2))
    with pytest.raises(TypeError) as info:
        xf.add(leaked[0], 1.0)
    assert isinstance(info.value, xf.TracerLeakError)
    assert "from the trace of `f` was used after that trace ended" in str(info.value)
    assert "f32[2]" in str(info.value)

    g = xf.compile(lambda y: y + leaked[0])
    with pytest.raises(TypeError, match=r"was used after that trace ended"):
        g(_f32(2))


def test_non_array_leaf_in_inputs_and_outputs():
    f = xf.compile(lambda cfg, x: x * 2)
    with pytest.raises(TypeError, match=r"xfront\.compile: argument args\[0\]\['name'\] is a str, "
                                        r"which is not an array.*\nHint:.*static"):
        f({"name": "relu"}, _f32(2))
    g = xf.compile(lambda x: (x, "done"))
    with pytest.raises(TypeError, match=r"returned a str at output\[1\], which is not an array"):
        g(_f32(2))


def test_value_dependent_shape_under_compile():
    f = xf.compile(lambda x: xf.nonzero(x))
    with pytest.raises(TypeError) as info:
        f(_f32(3))
    assert isinstance(info.value, xf.DynamicShapeError)
    assert "depends on the values of its input" in str(info.value)
    assert "xfront.where" in str(info.value)
    # eagerly it works
    (idx,) = xf.nonzero(xf.asarray(np.array([0, 2, 0, 3])))
    np.testing.assert_array_equal(np.asarray(idx), [1, 3])


def test_static_index_out_of_bounds():
    x = xf.asarray(_f32(2, 3))
    with pytest.raises(IndexError, match=r"index 3 is out of bounds for axis 1 with size 3"):
        x[0, 3]
    with pytest.raises(IndexError, match=r"too many indices for array f32\[2,3\]"):
        x[0, 0, 0]


def test_inplace_update_of_a_constant_in_a_trace_points_to_at():
    x = xf.asarray(_f32(3))

    @xf.compile
    def f(t):
        x[0] = t
        return x

    with pytest.raises(TypeError, match=r"in place here.*\nHint: .*x\.at\[key\]\.set"):
        f(xf.ones((), dtype=xf.float32))


def test_devices_mismatch_and_unknown_device():
    with pytest.raises(ValueError, match=r"xfront\.device: unknown platform 'quantum'"):
        xf.device("quantum")
    with pytest.raises(ValueError, match=r"'cpu:7' does not exist; cpu has 1 device"):
        xf.device("cpu:7")


def test_errors_are_catchable_as_builtins_and_as_xfront_errors():
    for exc, call in [(ValueError, lambda: xf.reshape(xf.asarray(_f32(2, 3)), (4,))),
                      (TypeError, lambda: xf.floor(xf.asarray(np.ones(2, np.complex64))))]:
        with pytest.raises(exc) as info:
            call()
        assert isinstance(info.value, xf.XfrontError)
