"""Array API surface: inspection namespace, signatures, diff, DLPack protocol, hypothesis's
array-API strategies on xfront, and a real library (SciPy) running on xfront arrays.
"""

import inspect
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.array_api import make_strategies_namespace

import xfront as xf

XPS = make_strategies_namespace(xf, api_version="2024.12")


# --- inspection namespace -----------------------------------------------------------------------

def test_namespace_info():
    info = xf.__array_namespace_info__()
    caps = info.capabilities()
    assert caps["boolean indexing"] is True and caps["data-dependent shapes"] is True
    assert "max dimensions" in caps
    assert info.default_device() in info.devices() and isinstance(info.devices(), list)
    dd = info.default_dtypes(device=info.default_device())
    assert dd == {"real floating": xf.float64, "complex floating": xf.complex128,
                  "integral": xf.int64, "indexing": xf.int64}
    assert xf.arange(3).dtype == dd["indexing"] and xf.asarray(1.0).dtype == dd["real floating"]
    all_dtypes = info.dtypes()
    assert set(all_dtypes) == {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
                               "uint32", "uint64", "float32", "float64", "complex64",
                               "complex128"}
    for kind in ("bool", "signed integer", "unsigned integer", "integral", "real floating",
                 "complex floating", "numeric"):
        got = info.dtypes(kind=kind)
        assert got and all(xf.isdtype(d, kind) for d in got.values()), kind
        assert all(getattr(xf, name) is d for name, d in got.items())
    assert set(info.dtypes(kind=("bool", "complex floating"))) == {"bool", "complex64",
                                                                     "complex128"}
    with pytest.raises(xf.ArgumentError, match=r"unknown kind 'floats'.*\nHint: valid kinds"):
        info.dtypes(kind="floats")
    with pytest.raises(ValueError, match=r"quantum"):
        info.dtypes(device="quantum")


# --- signatures: positional-only / keyword-only as the standard writes them -----------------------

def _strict_names():
    strict = pytest.importorskip("array_api_strict")
    strict.set_array_api_strict_flags(api_version="2024.12")
    # the standard's 2024.12 main namespace: strict also carries names of later drafts
    later = {"isin", "broadcast_shapes"}
    return strict, [n for n in strict.__all__ if not n[0].isupper() and n not in later
                    and not n.startswith(("_", "set_", "get_", "reset_"))
                    and n not in ("fft", "linalg")]


def test_every_name_of_the_main_namespace():
    strict, names = _strict_names()
    assert [n for n in names if not hasattr(xf, n)] == []
    assert hasattr(xf, "__array_namespace_info__")


def test_signatures_match_the_standard():
    strict, names = _strict_names()
    bad = []
    for n in names:
        ref = getattr(strict, n)
        if not inspect.isfunction(ref):
            continue
        want = [(p.name, p.kind) for p in inspect.signature(ref).parameters.values()]
        got = [(p.name, p.kind) for p in inspect.signature(getattr(xf, n)).parameters.values()]
        # xfront may add trailing keyword-only extras (documented), never change the rest
        if got[:len(want)] != want or any(p[1] != inspect.Parameter.KEYWORD_ONLY
                                           for p in got[len(want):]):
            bad.append((n, want, got))
    assert bad == []


# --- small API fixes -------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((2, 3), 0), ((2, 3), -1), ((2, 3), (0, -1)),
                                        ((), (0, 1)), ((4,), (-1, -2)), ((2, 3), (1, 3))],
                         ids=str)
def test_expand_dims_matches_numpy(shape, axis):
    a = np.ones(shape)
    assert xf.expand_dims(xf.asarray(a), axis=axis).shape == np.expand_dims(a, axis).shape


def test_expand_dims_out_of_bounds_is_an_index_error():
    with pytest.raises(xf.XfIndexError, match=r"expand_dims: axis 3 is out of bounds for the "
                                              r"3-d result of expanding f64\[2,3\]"):
        xf.expand_dims(xf.ones((2, 3)), axis=3)
    with pytest.raises(IndexError, match=r"axis -4"):
        xf.expand_dims(xf.ones((2, 3)), axis=-4)


def test_data_type_functions_accept_arrays_and_dtypes():
    x = xf.ones(3, dtype=xf.float32)
    assert xf.can_cast(x, xf.float64) and not xf.can_cast(xf.float64, xf.float32)
    assert xf.finfo(x).bits == 32 and xf.iinfo(xf.ones(2, dtype=xf.int16)).max == 32767
    assert xf.isdtype(dtype=xf.int8, kind=("bool", "signed integer"))


# --- diff: prepend/append (the op table covers the plain form) --------------------------------

# XLA:CPU flushes subnormal floats to zero (README, "Differences from NumPy"): none drawn
NORMAL = {"allow_subnormal": False}


@settings(max_examples=15, deadline=None, derandomize=True)
@given(data=st.data(), x=XPS.arrays(XPS.numeric_dtypes(), XPS.array_shapes(min_dims=1, max_side=3),
                                    elements=NORMAL))
def test_diff_prepend_append(data, x):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1), label="axis")
    side = list(x.shape)
    side[axis] = data.draw(st.integers(0, 2))
    pre = data.draw(XPS.arrays(x.dtype, tuple(side), elements=NORMAL), label="prepend")
    app = data.draw(XPS.arrays(x.dtype, tuple(side), elements=NORMAL), label="append")
    n = data.draw(st.integers(0, 3), label="n")
    want = np.diff(np.asarray(x), n=n, axis=axis, prepend=np.asarray(pre), append=np.asarray(app))
    got = xf.diff(x, axis=axis, n=n, prepend=pre, append=app)
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(got), want)
    f = xf.compile(lambda a, p, q: xf.diff(a, axis=axis, n=n, prepend=p, append=q))
    np.testing.assert_array_equal(np.asarray(f(x, pre, app)), want)


def test_diff_errors():
    with pytest.raises(xf.ShapeError, match=r"diff: expected at least 1 dimension"):
        xf.diff(xf.asarray(1.0))
    with pytest.raises(xf.ArgumentError, match=r"diff: n must be non-negative"):
        xf.diff(xf.ones(3), n=-1)
    with pytest.raises(xf.ShapeError, match=r"diff: prepend/append f64\[2,2\] must match"):
        xf.diff(xf.ones((3, 4)), axis=1, prepend=xf.ones((2, 2)))


# --- DLPack protocol ---------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"max_version": (1, 0)}, {"max_version": (0, 0)},
                                {"max_version": (2, 3)}, {"copy": True}, {"copy": False},
                                {"dl_device": (1, 0)}, {"stream": None}, {"stream": -1},
                                {"max_version": (1, 0), "copy": False, "dl_device": (1, 0)}],
                         ids=str)
def test_dunder_dlpack_keywords(kw):
    x = xf.arange(4.0)
    cap = x.__dlpack__(**kw)
    assert type(cap).__name__ == "PyCapsule"

    class Holder:  # hands the capsule to NumPy's importer
        def __dlpack__(self, **_):
            return cap

        def __dlpack_device__(self):
            return x.__dlpack_device__()

    np.testing.assert_array_equal(np.from_dlpack(Holder()), [0.0, 1.0, 2.0, 3.0])


def test_dunder_dlpack_copy_semantics():
    torch = pytest.importorskip("torch")
    x = xf.arange(3.0)
    shared = torch.from_dlpack(x.__dlpack__(copy=False))
    copied = torch.from_dlpack(x.__dlpack__(copy=True))
    assert shared.data_ptr() == x.unsafe_buffer_pointer() != copied.data_ptr()
    np.testing.assert_array_equal(np.from_dlpack(x), [0.0, 1.0, 2.0])


@pytest.mark.parametrize("kw,err,match", [
    ({"dl_device": (2, 0)}, BufferError, r"lives on DLPack device \(1, 0\); exporting to \(2, 0\)"),
    ({"dl_device": (2, 0), "copy": False}, BufferError, r"copy=False forbids a transfer"),
    ({"stream": 7}, BufferError, r"stream=7 was given, but the array is on the CPU"),
    ({"max_version": (1,)}, TypeError, r"max_version must be None or a \(major, minor\)"),
    ({"max_version": "1.0"}, TypeError, r"max_version must be None"),
    ({"copy": "yes"}, TypeError, r"copy must be None, True or False"),
], ids=str)
def test_dunder_dlpack_refusals(kw, err, match):
    with pytest.raises(err, match=r"xfront\.Array\.__dlpack__: .*" + match) as e:
        xf.ones(2).__dlpack__(**kw)
    assert isinstance(e.value, xf.XfrontError)


# --- hypothesis's array-API strategies drive xfront ---------------------------------------------

@settings(max_examples=20, deadline=None, derandomize=True)
@given(x=XPS.arrays(XPS.scalar_dtypes(), XPS.array_shapes(min_dims=0, max_dims=3, max_side=3)))
def test_strategies_namespace_roundtrip(x):
    assert isinstance(x, xf.Array)
    a = np.asarray(x)
    assert a.shape == x.shape and a.dtype == np.dtype(x.dtype.name)
    np.testing.assert_array_equal(np.asarray(xf.flip(x)), np.flip(a))


# --- a library that dispatches on the standard: SciPy (SCIPY_ARRAY_API=1) ------------------------

SCIPY_SCRIPT = textwrap.dedent("""
    import numpy as np, xfront as xf
    import scipy.special as sp, scipy.stats as ss, scipy.cluster.vq as vq
    a = np.linspace(-2, 2, 12).reshape(3, 4) ** 3
    x = xf.asarray(a)
    calls = [
        ("special.logsumexp", lambda m: sp.logsumexp(m, axis=1)),
        ("special.softmax", lambda m: sp.softmax(m, axis=0)),
        ("special.xlogy", lambda m: sp.xlogy(m, m + 9)),
        ("stats.zscore", lambda m: ss.zscore(m, axis=1)),
        ("stats.skew", lambda m: ss.skew(m, axis=1)),
        ("stats.kurtosis", lambda m: ss.kurtosis(m)),
        ("stats.gmean", lambda m: ss.gmean(m + 9, axis=1)),
        ("stats.entropy", lambda m: ss.entropy(m + 9)),
        ("stats.ttest_1samp", lambda m: ss.ttest_1samp(m, 0.5, axis=1).statistic),
        ("stats.sem", lambda m: ss.sem(m, axis=1)),
        ("cluster.vq.whiten", lambda m: vq.whiten(m)),
    ]
    for name, f in calls:
        got, want = f(x), f(a)
        assert isinstance(got, xf.Array), (name, type(got))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12, err_msg=name)
    print("ok", len(calls))
""")


def test_scipy_array_api_paths_run_on_xfront_arrays():
    pytest.importorskip("scipy")
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    r = subprocess.run([sys.executable, "-c", SCIPY_SCRIPT], env=env, capture_output=True,
                       text=True, timeout=300,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "ok 11"


# --- the conformance suite's remaining failures: each entry must still fail ----------------

XFAILS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "array_api_xfails.txt")


def _xfail_entries():
    """(test id, reason, reproducer) per entry of tests/array_api_xfails.txt."""
    entries, cur = [], None
    with open(XFAILS) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("array_api_tests/"):
                cur = {"id": line.strip(), "reason": "", "repro": []}
                entries.append(cur)
            elif cur is not None and line.startswith("#   reason: "):
                cur["reason"] = line[len("#   reason: "):]
            elif cur is not None and line.startswith("#   repro: "):
                cur["repro"].append(line[len("#   repro: "):])
            elif cur is not None and line.startswith("#   "):
                cur["repro"].append(line[len("#   "):])
    return entries


def test_xfails_file_is_well_formed():
    with open(XFAILS) as f:
        ids = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    entries = _xfail_entries()
    assert [e["id"] for e in entries] == ids  # every non-comment line is a suite test id
    for e in entries:
        assert e["reason"] and e["repro"], f"{e['id']}: needs a reason and a reproducer"


@pytest.mark.parametrize("entry", _xfail_entries(), ids=lambda e: e["id"].split("::")[-1])
def test_listed_conformance_failures_still_fail(entry):
    """A listed failure whose reproducer stops failing is fixed: remove its entry. Reproducers
    assert the standard's behaviour, so they fail with AssertionError while xfront deviates."""
    code = "\n".join(entry["repro"])
    with pytest.raises(AssertionError):
        exec(code, {"xf": xf, "np": np})
