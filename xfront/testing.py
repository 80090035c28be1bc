"""``xfront.testing.compare``: run one Array API program through xfront and other frameworks.

Imports: numpy and xfront at import time; array_api_compat, torch, TensorFlow and jax only
inside ``compare`` (each only when it is asked for and installed).

The program is the user's own Python function. It reaches its namespace in one of two ways:

* it takes an ``xp`` keyword argument (``def f(x, *, xp): return xp.sum(xp.exp(x))``), and
  compare passes each framework's namespace there; or
* it calls the xfront module through a global name (``import xfront as xf`` in its module, as
  xfront's own kernels do). compare then runs a copy of the function (and, recursively, of the
  plain Python functions it reaches through its globals that also use the xfront module) whose
  global names for the xfront module point to the framework's namespace instead. Nothing is
  patched in place, so concurrent calls are safe. Names captured in closures are not rebound.

Namespaces: NumPy and torch through ``array_api_compat`` (``array_api_compat.numpy``,
``array_api_compat.torch``); jax through ``jax.numpy`` (an Array API namespace). TensorFlow
has no Array API namespace: compare uses ``tf.experimental.numpy`` (TF's own eager kernels,
NumPy names) with aliases for the Array API names it lacks (``acos`` -> ``arccos``,
``concat`` -> ``concatenate``, ``permute_dims`` -> ``transpose``, ``pow`` -> ``power``,
``astype`` -> a cast, ...). A name a namespace does not have (xfront extensions such as
``rsqrt`` or ``erf`` are not Array API functions) makes that framework's row an error row.

NOTE [Tolerances]
    A value agrees when ``|theirs - ours| <= atol + rtol * |ours|`` (NaNs in the same places,
    infinities equal), with ``(rtol, atol)`` per output dtype from ``TOLERANCES``: float16
    (2e-3, 1e-3), bfloat16 (1.6e-2, 1e-2), float32 and complex64 (1e-5, 1e-6), float64 and
    complex128 (1e-12, 1e-14); integers and bools must be equal. These allow a few ulps of
    difference between math libraries and summation orders; pass ``rtol``/``atol`` to override.
    Shapes and dtypes must agree exactly (dtype disagreements are reported, e.g. a framework
    that computes float64 inputs in float32).

NOTE [Which op differs first]
    For a framework whose results differ, compare replays the recorded namespace calls of both
    runs (xfront eager and the framework, made through the same Python code, so the calls line
    up) and reports the first call whose results differ beyond tolerance, with its source line.
    Operators (``x + y``, ``x @ w``) are not namespace calls: a difference there shows up at the
    next call. Separately, when anything differs compare bisects xfront's own graph: it
    evaluates the graph's prefixes compiled (all intermediate values of one program) and checks
    each primitive against its NumPy reference on the same inputs, naming the first primitive
    whose compiled result is outside tolerance (``Report.xfront_first_diff``), or None when
    every primitive agrees with its reference (then the difference lies in how the other
    framework defines the operation, or in accumulated rounding).
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import ml_dtypes
import numpy as np

import xfront as xf
from xfront import _dtypes, _errors

FRAMEWORKS = ("numpy", "torch", "tensorflow", "jax")

TOLERANCES: dict[str, tuple[float, float]] = {
    "float16": (2e-3, 1e-3), "bfloat16": (1.6e-2, 1e-2),
    "float32": (1e-5, 1e-6), "complex64": (1e-5, 1e-6),
    "float64": (1e-12, 1e-14), "complex128": (1e-12, 1e-14),
}

_BF16 = np.dtype(ml_dtypes.bfloat16)


# --- report ---------------------------------------------------------------------------------

@dataclass
class Row:
    """One output of one framework compared with xfront's compiled result."""

    framework: str
    output: int | None  # None: the whole run (an error or a skipped framework)
    status: str  # 'ok', 'differs', 'error', 'skipped'
    shape: tuple[Any, Any] | None = None  # (ours, theirs)
    dtype: tuple[str, str] | None = None  # (ours, theirs)
    max_abs: float = 0.0
    max_rel: float = 0.0
    max_ulp: int = 0
    tol: tuple[float, float] | None = None
    first_diff: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


@dataclass
class Report:
    """The result of ``compare``: rows per framework and output; ``ok`` when all agree."""

    rows: list[Row] = field(default_factory=list)
    xfront_first_diff: str | None = None

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def for_framework(self, name: str) -> list[Row]:
        return [r for r in self.rows if r.framework == name]

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = ("framework", "out", "status", "shape", "dtype", "max_abs", "max_rel",
                "max_ulp", "first differing op / detail")
        lines = [head]
        for r in self.rows:
            shape = "" if r.shape is None else (
                str(r.shape[0]) if r.shape[0] == r.shape[1] else f"{r.shape[0]} vs {r.shape[1]}")
            dtype = "" if r.dtype is None else (
                r.dtype[0] if r.dtype[0] == r.dtype[1] else f"{r.dtype[0]} vs {r.dtype[1]}")
            num = r.status in ("ok", "differs")
            lines.append((r.framework, "" if r.output is None else str(r.output), r.status,
                          shape, dtype, f"{r.max_abs:.3g}" if num else "",
                          f"{r.max_rel:.3g}" if num else "", str(r.max_ulp) if num else "",
                          r.first_diff or r.detail))
        widths = [max(len(str(line[i])) for line in lines) for i in range(len(head) - 1)]
        text = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) + "  " + str(line[-1])
                for line in lines]
        text.append(f"ok: {self.ok}" + (f"; first xfront primitive off its NumPy reference: "
                                         f"{self.xfront_first_diff}"
                                         if self.xfront_first_diff else ""))
        return "\n".join(t.rstrip() for t in text)

    __repr__ = __str__


# --- namespaces -----------------------------------------------------------------------------

class _Recording:
    """A namespace proxy that records each function call's results (as NumPy arrays)."""

    def __init__(self, ns: Any, array_type: type, to_numpy: Callable[[Any], np.ndarray]):
        self._ns, self.Array, self._to_numpy = ns, array_type, to_numpy
        self.calls: list[tuple[str, str, list[np.ndarray] | None]] = []

    def __getattr__(self, name: str) -> Any:
        try:
            attr = getattr(self._ns, name)
        except AttributeError:
            raise AttributeError(f"the namespace has no `{name}`") from None
        if not callable(attr) or isinstance(attr, type) or name in ("finfo", "iinfo"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            out = attr(*args, **kwargs)
            try:
                leaves = [self._to_numpy(o) for o in xf.tree_leaves(out)]
            except Exception:  # not array results (dtypes, info objects): nothing to compare
                leaves = None
            self.calls.append((name, _errors.call_site(), leaves))
            return out

        return call


def _tf_namespace() -> Any:
    import tensorflow as tf
    import tensorflow.experimental.numpy as tnp

    aliases = {"acos": "arccos", "acosh": "arccosh", "asin": "arcsin", "asinh": "arcsinh",
               "atan": "arctan", "atan2": "arctan2", "atanh": "arctanh", "concat": "concatenate",
               "permute_dims": "transpose", "pow": "power", "bitwise_invert": "invert",
               "bitwise_left_shift": "left_shift", "bitwise_right_shift": "right_shift"}

    class _TNP:
        def __getattr__(self, name: str) -> Any:
            return getattr(tnp, aliases.get(name, name))

    ns = _TNP()
    ns.astype = lambda x, dtype, copy=True: tf.cast(x, dtype)  # type: ignore[attr-defined]
    ns.bool = tnp.bool_  # type: ignore[attr-defined]
    ns.cumulative_sum = lambda x, axis=None, dtype=None: tnp.cumsum(x, axis=axis)  # type: ignore
    ns.unstack = lambda x, axis=0: tuple(tf.unstack(x, axis=axis))  # type: ignore
    ns.matrix_transpose = tf.linalg.matrix_transpose  # type: ignore[attr-defined]

    def isdtype(dtype: Any, kind: Any) -> bool:
        d = tf.as_dtype(dtype)
        if isinstance(kind, tuple):
            return any(isdtype(d, k) for k in kind)
        if not isinstance(kind, str):
            return d == tf.as_dtype(kind)
        return {"bool": d.is_bool, "signed integer": d.is_integer and not d.is_unsigned,
                "unsigned integer": d.is_integer and d.is_unsigned, "integral": d.is_integer,
                "real floating": d.is_floating, "complex floating": d.is_complex,
                "numeric": d.is_integer or d.is_floating or d.is_complex}[kind]

    ns.isdtype = isdtype  # type: ignore[attr-defined]
    return ns


def _np_out(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch
        import torch

        t = x.detach().cpu()
        if t.dtype == torch.bfloat16:
            return t.float().numpy().astype(_BF16)
        return t.numpy()
    if hasattr(x, "numpy") and not isinstance(x, (np.ndarray, xf.Array)):  # TF
        return np.asarray(x.numpy())
    return np.asarray(x)


def _setup(name: str) -> tuple[Any, type, Callable[[np.ndarray], Any]] | str:
    """(namespace, array type, converter from NumPy) for a framework, or why it is skipped."""
    try:
        if name == "numpy":
            import array_api_compat.numpy as xp

            return xp, np.ndarray, lambda a: np.array(a, copy=True)
        if name == "torch":
            import array_api_compat.torch as xp
            import torch

            def to_torch(a: np.ndarray) -> Any:
                if a.dtype == _BF16:
                    return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
                return torch.from_numpy(np.array(a, copy=True))

            return xp, torch.Tensor, to_torch
        if name == "jax":
            import jax
            import jax.numpy as jnp

            return jnp, jax.Array, lambda a: jnp.asarray(a)
        if name == "tensorflow":
            import tensorflow as tf

            return _tf_namespace(), tf.Tensor, lambda a: tf.constant(a)
    except ImportError as e:
        return f"not installed ({e.name})"
    raise _errors.err(_errors.ArgumentError, "testing.compare",
                      f"unknown framework {name!r}; known: {', '.join(FRAMEWORKS)}")


def _rebind(fn: Callable, ns: Any, memo: dict[int, Any] | None = None) -> Callable:
    """A copy of ``fn`` whose globals bound to the xfront module point to ``ns`` (recursively
    for plain functions it reaches through its globals that use the xfront module)."""
    memo = {} if memo is None else memo
    if id(fn) in memo:
        return memo[id(fn)]
    if not isinstance(fn, types.FunctionType) or not any(
            v is xf for v in fn.__globals__.values()):
        return fn
    g = dict(fn.__globals__)
    new = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__kwdefaults__ = fn.__kwdefaults__
    memo[id(fn)] = new
    for k, v in fn.__globals__.items():
        if v is xf:
            g[k] = ns
        elif isinstance(v, types.FunctionType) and v is not fn:
            g[k] = _rebind(v, ns, memo)
        elif v is fn:
            g[k] = new
    return new


def _takes_xp(fn: Callable) -> bool:
    try:
        return "xp" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _run(fn: Callable, ns: Any, args: Sequence[Any], kwargs: dict) -> Any:
    if _takes_xp(fn):
        return fn(*args, xp=ns, **kwargs)
    return _rebind(fn, ns)(*args, **kwargs)


# --- comparison -----------------------------------------------------------------------------

def _dtype_name(a: np.ndarray) -> str:
    return "bfloat16" if a.dtype == _BF16 else a.dtype.name


def _ordered_ints(a: np.ndarray) -> np.ndarray:
    """Float bits as integers ordered like the floats (for ulp distances)."""
    width = a.dtype.itemsize
    i = a.view(_dtypes.int_of_size(width).np).astype(np.int64)
    lowest = np.int64(-(1 << (8 * width - 1)))
    return np.where(i < 0, lowest - i, i)


def ulp_distance(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Elementwise ulp distance, in ``ours``' float dtype (``theirs`` is rounded to it)."""
    if ours.dtype.kind == "c":
        parts = [ulp_distance(np.ascontiguousarray(f(ours)), np.ascontiguousarray(f(theirs)))
                 for f in (np.real, np.imag)]
        return np.maximum(*parts)
    b = np.asarray(theirs).astype(ours.dtype)
    a = np.ascontiguousarray(ours)
    return np.abs(_ordered_ints(a) - _ordered_ints(np.ascontiguousarray(b)))


def _compare_arrays(ours: np.ndarray, theirs: np.ndarray, rtol: float | None,
                    atol: float | None) -> tuple[bool, dict]:
    info: dict[str, Any] = {"shape": (tuple(ours.shape), tuple(theirs.shape)),
                            "dtype": (_dtype_name(ours), _dtype_name(theirs))}
    if ours.shape != theirs.shape:
        return False, {**info, "detail": "shapes differ"}
    d = _dtype_name(ours)
    tol = TOLERANCES.get(d, (0.0, 0.0))
    tol = (tol[0] if rtol is None else rtol, tol[1] if atol is None else atol)
    info["tol"] = tol
    same_dtype = _dtype_name(ours) == _dtype_name(theirs)
    if ours.size == 0:
        return same_dtype, info
    kind = "c" if ours.dtype.kind == "c" or theirs.dtype.kind == "c" else "f"
    wide = np.complex128 if kind == "c" else np.float64
    a = ours.astype(wide)
    b = theirs.astype(wide)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    inf_bad = (np.isinf(a) | np.isinf(b)) & (a != b) & ~nan_a & ~nan_b
    finite = ~(nan_a | nan_b | np.isinf(a) | np.isinf(b))
    diff = np.abs(a - b)
    info["max_abs"] = float(diff[finite].max(initial=0.0))
    info["max_rel"] = float((diff[finite] / np.maximum(np.abs(a[finite]),
                                                        np.finfo(np.float64).tiny)).max(
        initial=0.0))
    if ours.dtype.kind in "fc" or ours.dtype == _BF16:
        u = ulp_distance(ours, theirs)
        info["max_ulp"] = int(u[finite].max(initial=0))
    bad = (nan_a != nan_b) | inf_bad | (finite & (diff > tol[1] + tol[0] * np.abs(a)))
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        info["detail"] = (f"{int(bad.sum())} of {bad.size} elements differ; first at {first}: "
                          f"ours {ours[first]!r}, theirs {theirs[first]!r}")
    elif not same_dtype:
        info["detail"] = "dtypes differ"
    return not bad.any() and same_dtype, info


def _first_call_diff(ours: list, theirs: list, rtol: float | None,
                     atol: float | None) -> str | None:
    for i, ((n1, site, r1), (n2, _, r2)) in enumerate(zip(ours, theirs)):
        where = f"xp.{n1} (call {i + 1}" + (f", {site})" if site else ")")
        if n1 != n2:
            return f"the calls diverge at call {i + 1}: xp.{n1} vs xp.{n2}"
        if r1 is None or r2 is None:
            continue
        if len(r1) != len(r2):
            return f"{where}: {len(r1)} vs {len(r2)} results"
        for a, b in zip(r1, r2):
            ok, info = _compare_arrays(a, b, rtol, atol)
            if not ok:
                return f"{where}: {info.get('detail', 'differs')}"
    if len(ours) != len(theirs):
        return f"xfront made {len(ours)} namespace calls, the framework {len(theirs)}"
    return None


def _xfront_first_diff(fn: Callable, inputs: Sequence[Any], kwargs: dict) -> str | None:
    """Bisect xfront's graph: all intermediate values (compiled) against each primitive's
    NumPy reference on the same inputs; the first primitive outside tolerance."""
    from xfront import _core
    from xfront.prims.control import eval_graph

    graph = xf.trace(lambda *a: _run(fn, xf, a, kwargs))(*inputs)

    def all_values(*args: Any) -> list[Any]:
        env_outs: list[Any] = []
        sub = _core.Graph(graph.invars, graph.constvars, graph.consts, graph.eqns,
                          [v for e in graph.eqns for v in e.outputs], graph.name)
        env_outs = eval_graph(sub, *args)
        return env_outs

    values = [np.asarray(v) for v in xf.compile(all_values)(*inputs)]
    env: dict[int, np.ndarray] = {v.id: np.asarray(c) for v, c in zip(graph.constvars,
                                                                       graph.consts)}
    env.update({v.id: np.asarray(a) for v, a in zip(graph.invars, inputs)})
    k = 0
    for e in graph.eqns:
        outs = values[k:k + len(e.outputs)]
        k += len(e.outputs)
        ins = [a.value if isinstance(a, _core.Literal) else env[a.id] for a in e.inputs]
        with np.errstate(all="ignore"):
            ref = e.prim.ref(*ins, **e.params)
        refs = ref if e.prim.multiple_results else [ref]
        for v, o, r in zip(e.outputs, outs, refs):
            r = np.asarray(r, dtype=v.aval.dtype.np).reshape(v.aval.shape)
            ok, info = _compare_arrays(o, r, None, None)
            if not ok and info.get("detail") != "dtypes differ":
                at = f" at {e.source}" if e.source else ""
                return f"{e.prim.name}{at}: {info.get('detail', '')}"
            env[v.id] = o
    return None


def compare(fn: Callable, *inputs: Any, against: Sequence[str] = FRAMEWORKS,
            rtol: float | None = None, atol: float | None = None,
            kwargs: dict | None = None) -> Report:
    """Run ``fn`` through xfront (eager and compiled) and each framework in ``against``.

    Args:
      fn: the program: takes arrays (NumPy inputs are converted for each framework) and
        reaches its namespace through an ``xp`` keyword or the global xfront module (see the
        module docstring). Returns an array or a pytree of arrays.
      inputs: NumPy arrays (or array-likes); every framework receives its own copy.
      against: frameworks to run: any of 'numpy', 'torch', 'tensorflow', 'jax'. One that is
        not installed gives a 'skipped' row.
      rtol, atol: override the per-dtype tolerances (NOTE [Tolerances]).
      kwargs: extra keyword arguments for ``fn`` (not arrays).

    Returns:
      A ``Report``: ``print(report)`` shows a table; ``report.ok`` is True when every
      framework agrees with xfront's compiled results in shape, dtype and value.
    """
    kwargs = dict(kwargs or {})
    arrays = [np.asarray(a) for a in inputs]
    report = Report()

    def compiled(*a: Any) -> Any:
        return _run(fn, xf, a, kwargs)

    compiled.__name__ = getattr(fn, "__name__", "program")
    try:
        ours = [np.asarray(o) for o in xf.tree_leaves(xf.compile(compiled)(*arrays))]
    except Exception as e:
        raise _errors.err(_errors.ArgumentError, "testing.compare",
                          f"xfront could not run the program compiled: {type(e).__name__}: {e}")

    def add_rows(name: str, theirs: list[np.ndarray], first: Callable[[], str | None]) -> None:
        if len(theirs) != len(ours):
            report.rows.append(Row(name, None, "differs",
                                   detail=f"{len(theirs)} outputs, xfront has {len(ours)}"))
            return
        failed = False
        for i, (a, b) in enumerate(zip(ours, theirs)):
            ok, info = _compare_arrays(a, b, rtol, atol)
            failed |= not ok
            report.rows.append(Row(name, i, "ok" if ok else "differs", info["shape"],
                                   info["dtype"], info.get("max_abs", 0.0),
                                   info.get("max_rel", 0.0), info.get("max_ulp", 0),
                                   info.get("tol"), detail=info.get("detail", "")))
        if failed:
            where = first()
            for r in report.rows:
                if r.framework == name and r.status == "differs":
                    r.first_diff = where

    # xfront eager, recording its namespace calls (the reference for "which op differs")
    rec_xf = _Recording(xf, xf.Array, _np_out)
    try:
        eager = [_np_out(o) for o in xf.tree_leaves(
            _run(fn, rec_xf, [xf.asarray(a) for a in arrays], kwargs))]
        add_rows("xfront eager", eager, lambda: None)
    except Exception as e:
        report.rows.append(Row("xfront eager", None, "error",
                               detail=f"{type(e).__name__}: {e}".splitlines()[0]))
    for name in against:
        setup = _setup(name)
        if isinstance(setup, str):
            report.rows.append(Row(name, None, "skipped", detail=setup))
            continue
        ns, array_type, convert = setup
        rec = _Recording(ns, array_type, _np_out)
        try:
            out = _run(fn, rec, [convert(a) for a in arrays], kwargs)
            theirs = [_np_out(o) for o in xf.tree_leaves(out)]
        except Exception as e:
            report.rows.append(Row(name, None, "error",
                                   detail=f"{type(e).__name__}: {e}".splitlines()[0]))
            continue
        add_rows(name, theirs, lambda: _first_call_diff(rec_xf.calls, rec.calls, rtol, atol))
    if not report.ok:
        try:
            report.xfront_first_diff = _xfront_first_diff(fn, arrays, kwargs)
        except Exception as e:  # the bisection is a diagnostic: never hide the report
            report.xfront_first_diff = f"(bisection failed: {type(e).__name__}: {e})"
    return report


__all__ = ["compare", "Report", "Row", "TOLERANCES", "FRAMEWORKS", "ulp_distance"]
