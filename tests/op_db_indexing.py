"""Op-table rows for indexing and sorting: take, take_along_axis, sort, argsort, searchsorted,
integer-array ``x[key]`` and ``x.at[key]`` updates (through small wrapper functions).

Integer arguments are drawn in [-3, 2] (``int_domain``, which every harness honours) and the
indexed axes have size >= 3, so indices are always in bounds (the out-of-bounds and error
behaviour is tested in tests/test_indexing.py and by the ErrorCases).
Rows with error cases call the xfront function itself (or ``operator.getitem``), so that the
error's call site is the test.

Sorting rows draw floats without subnormals: XLA:CPU flushes subnormals to zero in
comparisons (``-1e-310 < 0`` is false there), a platform property documented in
xfront/prims/sort.py.
"""

from __future__ import annotations

import operator

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xfront as xf
from tests._harness import BF16, ALL, BOOL, COMPLEX, REAL_NUMERIC, A, ErrorCase, OpCase


# Rows whose other arguments are integer indices leave bfloat16 out of the drawn dtypes: the
# harness computes a bfloat16 row in float32 and may keep that dtype for the expected result
# when the inputs mix dtypes. bfloat16 indexing is covered in tests/test_indexing.py.
ALL_NO_BF16 = tuple(d for d in ALL if d != "bfloat16")
REAL_NUMERIC_NO_BF16 = tuple(d for d in REAL_NUMERIC if d != "bfloat16")


def _index_dtype(*positions, dtype="int64"):
    def arg_dtype(d, i):
        return dtype if i in positions else None

    return arg_dtype


def _sides3(min_dims=1, max_dims=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=3, max_side=4)


def _index_shape():
    return hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3)


# --- take / take_along_axis -----------------------------------------------------------------

def _take_shapes(nargs):
    return st.tuples(_sides3(), _index_shape())


def _take_kwargs(shapes):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"axis": st.one_of(st.none(), st.integers(-nd, nd - 1))})


@st.composite
def _along_shapes(draw, nargs, axis):
    xs = draw(_sides3())
    a = axis % len(xs)
    idx = [draw(st.sampled_from([s, 1])) for s in xs]  # other axes broadcast
    idx[a] = draw(st.integers(0, 4))
    if draw(st.booleans()):  # x may broadcast too
        xs = tuple(1 if i != a and idx[i] != 1 and draw(st.booleans()) else s
                   for i, s in enumerate(xs))
    return tuple(xs), tuple(idx)


def _np_take_along(x, i, axis):
    shape = np.broadcast_shapes(tuple(s for k, s in enumerate(x.shape) if k != axis % x.ndim),
                                tuple(s for k, s in enumerate(i.shape) if k != axis % x.ndim))
    a = axis % x.ndim
    xs, is_ = list(shape), list(shape)
    xs.insert(a, x.shape[a])
    is_.insert(a, i.shape[a])
    return np.take_along_axis(np.broadcast_to(x, xs), np.broadcast_to(i, is_), axis=a)


# --- sort / argsort / searchsorted ----------------------------------------------------------

def _sort_kwargs(shapes):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd, nd - 1),
                                  "descending": st.booleans(), "stable": st.just(True)})


def _np_sort(x, axis=-1, descending=False, stable=True):
    out = np.sort(x, axis=axis, kind="stable")
    return np.flip(out, axis) if descending else out


def _np_argsort(x, axis=-1, descending=False, stable=True):
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    flipped = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return n - 1 - np.flip(flipped, axis)


def _nd1(nargs):
    return hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5).map(
        lambda s: (s,) * nargs)


def _search_shapes(nargs):
    return st.tuples(hnp.array_shapes(min_dims=1, max_dims=1, min_side=0, max_side=8),
                     hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4))


_SIDE = ({"side": "left"}, {"side": "right"})


_SPECIALS = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0]


def _float_width(dtype):
    return 16 if dtype == np.float16 else (64 if dtype in (np.float64, np.complex128) else 32)


def _normal_floats(dtype, index):
    """Floats in [-3, 3] plus nan/inf/-0.0, without subnormals."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc" and dtype != BF16:
        return None
    fl = st.floats(-3, 3, width=_float_width(dtype), allow_subnormal=False)
    fl = st.one_of(fl, fl, fl, st.sampled_from(_SPECIALS))
    return st.builds(complex, fl, fl) if dtype.kind == "c" else fl


def _search_elements(dtype, index):
    """Few distinct values, so that ties exercise side='left' / 'right'."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return st.integers(0, 5)
    if dtype.kind in "fc" or dtype == BF16:
        fl = st.sampled_from([-1.5, -0.0, 0.0, 0.5, 1.0, 2.0] + _SPECIALS)
        return st.builds(complex, fl, fl) if dtype.kind == "c" else fl
    return None


# --- x[key] and x.at[key] -------------------------------------------------------------------

@st.composite
def _two_index_shapes(draw, nargs):
    xs = draw(_sides3(min_dims=3, max_dims=3))
    pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
    i, j = pair.input_shapes
    return xs, i, j


def _at_shapes(nargs):
    @st.composite
    def make(draw):
        xs = draw(_sides3(max_dims=2))
        i = draw(_index_shape())
        v = i + xs[1:]
        if v and draw(st.booleans()):  # the value may broadcast
            v = (1,) + v[1:]
        return xs, i, v

    return make()


def _window_shapes(key):
    def make(nargs):
        return _sides3(min_dims=2, max_dims=3).map(lambda s: (s, np.empty(s)[key].shape))

    return make


def _np_set(key):
    def ref(x, v):
        out = x.copy()
        out[key] = v
        return out

    return ref


def _np_add(key):
    def ref(x, v):
        out = x.copy()
        out[key] = np.logical_or(out[key], v) if x.dtype == np.bool_ else out[key] + v
        return out

    return ref


def _np_at_add(x, i, v):
    out = x.copy()
    (np.logical_or if x.dtype == np.bool_ else np.add).at(out, i, v)
    return out


def _np_at_max(x, i, v):
    out = x.copy()
    np.maximum.at(out, i, v)
    return out


INDEXING = [
    OpCase("take", xf.take, lambda x, i, axis=None: np.take(x, i, axis=axis), ALL_NO_BF16,
           nargs=2,
           shapes=_take_shapes, kwargs=_take_kwargs, int_domain=(-3, 2),
           arg_dtype=_index_dtype(1),
           errors=(ErrorCase((A((3,)), np.array([5])), {"axis": 0}, raises=IndexError,
                             match=r"xfront\.take: index 5 is out of bounds for axis 0 with "
                                   r"size 3", compiled=False),
                   ErrorCase((A((3,)), np.array([0.5])), {"axis": 0}, raises=IndexError,
                             match=r"xfront\.take: arrays used as indices must have an integer "
                                   r"or boolean dtype"),
                   ErrorCase((A((3, 4)), np.array([1])), {"axis": 2}, raises=ValueError,
                             match=r"xfront\.take: axis 2 is out of bounds"))),
    OpCase("take_int32_indices", xf.take, lambda x, i, axis: np.take(x, i, axis=axis),
           ("float32", "int8", "bool"), nargs=2, shapes=_take_shapes, kwargs=({"axis": 0},),
           int_domain=(-3, 2), arg_dtype=_index_dtype(1, dtype="int32")),
    OpCase("take_along_axis", xf.take_along_axis, _np_take_along, ALL_NO_BF16, nargs=2,
           shapes=lambda n: _along_shapes(n, -1), kwargs=({"axis": -1},),
           int_domain=(-3, 2), arg_dtype=_index_dtype(1),
           errors=(ErrorCase((A((3, 4)), np.array([1, 2])), raises=ValueError,
                             match=r"xfront\.take_along_axis: indices .* must have the same "
                                   r"number of dimensions as x f32\[3,4\]"),
                   ErrorCase((A((3,)), np.array([3])), raises=IndexError,
                             match=r"xfront\.take_along_axis: index 3 is out of bounds for axis "
                                   r"0 with size 3", compiled=False))),
    OpCase("take_along_axis_0", xf.take_along_axis, _np_take_along,
           ("float64", "int16", "complex64"), nargs=2, shapes=lambda n: _along_shapes(n, 0),
           kwargs=({"axis": 0},), int_domain=(-3, 2),
           arg_dtype=_index_dtype(1, dtype="int32")),
    OpCase("sort", xf.sort, _np_sort, ALL, shapes=_nd1, kwargs=_sort_kwargs,
           elements=_normal_floats,
           errors=(ErrorCase((A((2, 3)),), {"axis": 2}, raises=ValueError,
                             match=r"xfront\.sort: axis 2 is out of bounds for an array of "
                                   r"dimension 2"),)),
    OpCase("argsort", xf.argsort, _np_argsort, ALL, shapes=_nd1, kwargs=_sort_kwargs,
           elements=_normal_floats, int_domain=(-3, 3),
           errors=(ErrorCase((A((2, 3)),), {"axis": -3}, raises=ValueError,
                             match=r"xfront\.argsort: axis -3 is out of bounds"),)),
    OpCase("searchsorted", lambda a, v, side="left": xf.searchsorted(xf.sort(a), v, side=side),
           lambda a, v, side="left": np.searchsorted(np.sort(a), v, side=side),
           BOOL + REAL_NUMERIC + COMPLEX, nargs=2, shapes=_search_shapes, kwargs=_SIDE,
           elements=_search_elements),
    OpCase("searchsorted_sorter",
           lambda a, v, side="left": xf.searchsorted(a, v, side=side, sorter=xf.argsort(a)),
           lambda a, v, side="left": np.searchsorted(a, v, side=side,
                                                     sorter=np.argsort(a, kind="stable")),
           ("int32", "float32", "float64", "uint8"), nargs=2, shapes=_search_shapes,
           kwargs=_SIDE, elements=_search_elements),
    # error cases only (no dtypes): the row calls xf.searchsorted itself
    OpCase("searchsorted_errors", xf.searchsorted, np.searchsorted, (), nargs=2,
           errors=(ErrorCase((A((2, 3)), A((2,))), raises=ValueError,
                             match=r"xfront\.searchsorted: x1 must be a 1-D sorted array, got "
                                   r"f32\[2,3\]"),
                   ErrorCase((A((3,)), A((2,))), {"side": "middle"}, raises=TypeError,
                             match=r"xfront\.searchsorted: side must be 'left' or 'right'"),
                   ErrorCase((A((3,)), A((2,)), ), {"sorter": np.array([0, 1, 7])},
                             raises=IndexError,
                             match=r"xfront\.take: index 7 is out of bounds for axis 0 with "
                                   r"size 3"))),
    OpCase("getitem_array", operator.getitem, operator.getitem, ALL_NO_BF16, nargs=2,
           shapes=lambda n: st.tuples(_sides3(), _index_shape()), int_domain=(-3, 2),
           arg_dtype=_index_dtype(1),
           errors=(ErrorCase((A((3, 4)), np.array([[1, 5]])), raises=IndexError,
                             match=r"xfront\.__getitem__: index 5 is out of bounds for axis 0 "
                                   r"with size 3", compiled=False),
                   ErrorCase((A((3, 4)), np.array([1.0])), raises=IndexError,
                             match=r"xfront\.__getitem__: arrays used as indices must have an "
                                   r"integer or boolean dtype, got f64\[1\]"))),
    OpCase("getitem_scalar_index", operator.getitem, operator.getitem,
           ("float32", "float64", "int64"),
           nargs=2, shapes=lambda n: st.tuples(_sides3(), st.just(())),
           int_domain=(-3, 2), arg_dtype=_index_dtype(1)),
    OpCase("getitem_separated", lambda x, i, j: x[i, 1:, j], lambda x, i, j: x[i, 1:, j],
           ("float32", "int8", "bool", "complex128"), nargs=3, shapes=_two_index_shapes,
           int_domain=(-3, 2), arg_dtype=_index_dtype(1, 2)),
    OpCase("getitem_adjacent", lambda x, i, j: x[::-1, i, j], lambda x, i, j: x[::-1, i, j],
           ("float64", "uint16"), nargs=3, shapes=_two_index_shapes,
           int_domain=(-3, 2), arg_dtype=_index_dtype(1, 2)),
    OpCase("getitem_int_and_array", lambda x, i, j: x[:, -2, None, j],
           lambda x, i, j: x[:, -2, None, j], ("float32",), nargs=3, shapes=_two_index_shapes,
           int_domain=(-3, 2), arg_dtype=_index_dtype(1, 2)),
    OpCase("at_add", lambda x, i, v: x.at[i].add(v), _np_at_add, ALL_NO_BF16, nargs=3,
           shapes=_at_shapes, int_domain=(-3, 2), arg_dtype=_index_dtype(1),
           tol={"float16": (1e-2, 1e-2), "bfloat16": (5e-2, 0.1)}),
    OpCase("at_set_rows", lambda x, v: x.at[1:3].set(v), _np_set(np.s_[1:3]), ALL, nargs=2,
           shapes=_window_shapes(np.s_[1:3])),
    OpCase("at_add_strided", lambda x, v: x.at[::-2, 1].add(v), _np_add(np.s_[::-2, 1]), ALL,
           nargs=2, shapes=_window_shapes(np.s_[::-2, 1]),
           tol={"float16": (1e-2, 1e-2), "bfloat16": (5e-2, 0.1)}),
    OpCase("at_max", lambda x, i, v: x.at[i].max(v), _np_at_max, BOOL + REAL_NUMERIC_NO_BF16,
           nargs=3,
           shapes=_at_shapes, int_domain=(-3, 2), arg_dtype=_index_dtype(1)),
]

__all__ = ["INDEXING"]
