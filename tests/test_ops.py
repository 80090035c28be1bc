"""Differential tests of every public op against NumPy, generated from the op table.

For each (op, dtype): eager results and compiled results must match the NumPy reference in
value, shape and dtype on hypothesis-drawn shapes (0-d, zero-size, broadcasting) and values
(with nan/inf/-0.0 mixed into float inputs); the traced graph must type-check and agree with
the primitives' own NumPy references; fixed special-value grids must match; and each listed
bad input must raise the listed error with the listed message.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import xfront as xf
from tests._harness import (BF16, assert_close, np_dtype, op_inputs, reference)
from tests.op_db import OPS
from xfront import _core

CASES = [(c, d) for c in OPS for d in c.dtypes]
IDS = [f"{c.name}-{d}" for c, d in CASES]
ERROR_CASES = [(c, e) for c in OPS for e in c.errors]
ERROR_IDS = [f"{c.name}-{i}" for c in OPS for i, _ in enumerate(c.errors)]


# ``XFRONT_OP_EXAMPLES=N`` runs N times each row's examples, freshly drawn (random) instead of
# the fixed ones of the default run (e.g. 10 for a long differential session).
_FACTOR = int(os.environ.get("XFRONT_OP_EXAMPLES", "0"))


def _settings(case, factor=1):
    return settings(max_examples=case.examples * factor * (_FACTOR or 1), deadline=None,
                    derandomize=not _FACTOR, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("case,dtype", CASES, ids=IDS)
def test_matches_ref(case, dtype):
    """Eager, compiled, and graph-level results agree with NumPy on drawn inputs."""
    @_settings(case)
    @given(op_inputs(case, dtype))
    def check(inputs):
        arrays, kwargs = inputs
        where = f" {kwargs} on {[a.shape for a in arrays]}"
        expected = reference(case, arrays, kwargs)
        # 1. eager: xfront arrays in, every primitive runs as it is called
        eager = case.fn(*[xf.asarray(a) for a in arrays], **kwargs)
        assert_close(eager, expected, case, " eager" + where)
        # 2. compiled: NumPy in -> NumPy out through one XLA executable
        f = xf.compile(lambda *a: case.fn(*a, **kwargs))
        assert_close(f(*arrays), expected, case, " compiled" + where)
        # 3. the traced graph re-type-checks, its avals match NumPy's result, and running it
        #    with every primitive's NumPy ``ref`` (no XLA) reproduces the reference
        graph = f.trace(*arrays).graph
        _core.check_graph(graph)
        exp_flat = list(expected) if isinstance(expected, (tuple, list)) else [expected]
        assert len(graph.outs) == len(exp_flat)
        for aval, e in zip(graph.out_avals, exp_flat):
            e = np.asarray(e)
            assert aval.shape == e.shape, (aval, e.shape)
            if case.check_dtype:
                assert np_dtype(aval.dtype.name) == e.dtype, (aval, e.dtype)
        outs = _core.eval_graph_ref(graph, *arrays)
        assert_close(outs if len(outs) > 1 else outs[0],
                     expected if len(outs) > 1 else exp_flat[0], case, " prim refs" + where)

    check()


_SPECIAL_GRID = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-3]
_SPECIAL_CASES = [(c, d) for c, d in CASES
                  if d in ("float16", "bfloat16", "float32", "float64") and c.nargs <= 2
                  and c.specials and not callable(c.shapes) and not callable(c.kwargs)]


@pytest.mark.parametrize("case,dtype", _SPECIAL_CASES,
                         ids=[f"{c.name}-{d}" for c, d in _SPECIAL_CASES])
def test_special_values(case, dtype):
    """nan/inf/-0.0 on fixed grids (every pair for binary ops), eager and compiled."""
    d = np_dtype(dtype)
    grid = np.asarray(_SPECIAL_GRID, dtype=np.float64)
    if case.nargs == 1:
        arrays = [grid.astype(d)]
    else:
        pairs = np.array(list(itertools.product(grid, grid)))
        arrays = [pairs[:, 0].astype(d), pairs[:, 1].astype(d)]
    for kwargs in case.kwargs:
        expected = reference(case, arrays, kwargs)
        assert_close(case.fn(*[xf.asarray(a) for a in arrays], **kwargs), expected, case,
                     f" eager specials {kwargs}")
        f = xf.compile(lambda *a: case.fn(*a, **kwargs))
        assert_close(f(*arrays), expected, case, f" compiled specials {kwargs}")


@pytest.mark.parametrize("case,err", ERROR_CASES, ids=ERROR_IDS)
def test_errors(case, err):
    args = err.build_args()
    with pytest.raises(err.raises, match=err.match) as info:
        case.fn(*[xf.asarray(a) if isinstance(a, np.ndarray) else a for a in args], **err.kwargs)
    assert isinstance(info.value, xf.XfrontError)
    assert "test_ops.py" in str(info.value), "the message must point at the user's call site"
    if err.compiled:
        f = xf.compile(lambda *a: case.fn(*a, **err.kwargs))
        with pytest.raises(err.raises, match=err.match):
            f(*args)
