"""Walks of the primitive registry and of the public names: nothing is left without rules or
tests.

* Every primitive has a shape rule, a NumPy reference and a lowering, and either a VJP rule
  (checked against finite differences by tests/test_autodiff.py, which also checks that its
  table reaches every differentiable primitive) or NONDIFFERENTIABLE with a reason listed here.
* Every name in ``xfront.__all__`` (and in the public submodules) is covered: an op-table row
  calls it, or a test file uses it as ``xf.<name>`` / ``xfront.<name>``.
"""

from __future__ import annotations

import pathlib
import re
import types

import pytest

import xfront as xf
from xfront import _core

from op_db import OPS

TESTS = pathlib.Path(__file__).parent

# why each non-differentiable primitive has no gradient (a new one must say why here)
NONDIFFERENTIABLE_REASONS = {
    **{n: "comparison: boolean output" for n in ("eq", "ne", "lt", "le", "gt", "ge",
                                                 "is_finite")},
    **{n: "bitwise/logical: integer or boolean operands only" for n in (
        "not", "and", "or", "xor", "popcnt", "clz", "shift_left", "shift_right_arithmetic",
        "shift_right_logical", "reduce_and", "reduce_or")},
    "dimension_size": "integer-valued (a size, no operands)",
    "argmax": "integer-valued (an index)", "argmin": "integer-valued (an index)",
    "iota": "has no array inputs",
    "threefry2x32": "random bits: integer-valued",
    "bitcast_convert": "reinterprets bits; not a numeric function of its input",
    "stop_gradient": "blocks gradients by definition",
    "axis_index": "integer-valued (a device index), no array inputs",
}


def registry_problems(prims) -> list[str]:
    """What is missing from each primitive of ``prims`` (a name -> Primitive mapping)."""
    problems = []
    for name, p in sorted(prims.items()):
        for rule in ("abstract_eval", "ref", "lowering"):
            if not callable(getattr(p, rule, None)):
                problems.append(f"{name}: no {rule} rule")
        if p.vjp is _core.VJP_TODO:
            problems.append(f"{name}: no VJP rule (VJP_TODO)")
        elif p.vjp is _core.NONDIFFERENTIABLE:
            if not NONDIFFERENTIABLE_REASONS.get(name):
                problems.append(f"{name}: NONDIFFERENTIABLE without a reason in "
                                "tests/test_registry.py")
        elif not callable(p.vjp):
            problems.append(f"{name}: vjp is neither a rule nor NONDIFFERENTIABLE")
        for platform, rule in p.platform_lowering.items():
            if platform not in _core.LOWERING_PLATFORMS or not callable(rule):
                problems.append(f"{name}: bad platform rule {platform!r}")
    return problems


def _all_primitives():
    import xfront._export  # noqa: F401  (modules that declare primitives; loaded on first use)
    import xfront._shard_map  # noqa: F401
    import xfront.nn  # noqa: F401
    import xfront.random  # noqa: F401

    # only xfront's own primitives: other test modules declare throwaway ones (a VJP_TODO to
    # check the autodiff error, a primitive without a batching rule, ...) in the same process
    return {n: p for n, p in _core.PRIMITIVES.items()
            if getattr(p.abstract_eval, "__module__", "").startswith("xfront.")}


def test_every_primitive_has_all_its_rules():
    prims = _all_primitives()
    assert len(prims) > 50
    assert registry_problems(prims) == []


def test_reasons_name_only_real_nondifferentiable_primitives():
    prims = _all_primitives()
    stale = [n for n in NONDIFFERENTIABLE_REASONS
             if n not in prims or prims[n].vjp is not _core.NONDIFFERENTIABLE]
    assert stale == []


def test_the_registry_walk_catches_a_missing_rule():
    class Fake:
        def __init__(self, **kw):
            self.abstract_eval = self.ref = self.lowering = lambda *a, **k: None
            self.vjp = lambda *a, **k: None
            self.platform_lowering = {}
            self.__dict__.update(kw)

    assert registry_problems({"ok": Fake()}) == []
    assert registry_problems({"p": Fake(vjp=_core.VJP_TODO)}) == ["p: no VJP rule (VJP_TODO)"]
    assert registry_problems({"p": Fake(vjp=_core.NONDIFFERENTIABLE)}) == [
        "p: NONDIFFERENTIABLE without a reason in tests/test_registry.py"]
    assert registry_problems({"p": Fake(lowering=None)}) == ["p: no lowering rule"]
    assert registry_problems({"p": Fake(platform_lowering={"metal": lambda: 0})}) == [
        "p: bad platform rule 'metal'"]


# --- public names -------------------------------------------------------------------------------

# submodules whose public names are walked too (those that exist in this checkout)
SUBMODULES = ("nn", "random", "linalg", "fft")


def _test_text() -> str:
    me = pathlib.Path(__file__).name
    return "\n".join(p.read_text() for p in sorted(TESTS.glob("*.py")) if p.name != me)


def _op_table_functions() -> set[int]:
    return {id(case.fn) for case in OPS}


def _public(mod: types.ModuleType) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")
                 and getattr(getattr(mod, n), "__module__", "").startswith(mod.__name__)]
    return list(names)


def uncovered(names: list[str], owner: types.ModuleType, prefix: str, text: str,
              table: set[int]) -> list[str]:
    """Names of ``owner`` that no op-table row calls and no test uses as ``<prefix><name>``."""
    out = []
    for n in names:
        obj = getattr(owner, n, None)
        if obj is not None and id(obj) in table:
            continue
        if re.search(prefix + re.escape(n) + r"\b", text):
            continue
        out.append(n)
    return out


def test_all_lists_every_public_name():
    listed = set(xf.__all__)
    public = {n for n, v in vars(xf).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert sorted(public - listed) == [], "public names missing from xfront.__all__"
    assert sorted(n for n in listed if not hasattr(xf, n)) == [], "listed names that do not exist"
    assert len(xf.__all__) == len(listed), "duplicates in xfront.__all__"


def test_every_public_name_has_a_table_row_or_a_test():
    missing = uncovered([n for n in xf.__all__ if not isinstance(getattr(xf, n), types.ModuleType)],
                        xf, r"\b(?:xf|xfront)\.", _test_text(), _op_table_functions())
    assert missing == [], f"public names without an op-table row or a test: {missing}"


@pytest.mark.parametrize("sub", SUBMODULES)
def test_every_submodule_name_has_a_table_row_or_a_test(sub):
    mod = getattr(xf, sub, None)
    if mod is None:
        try:
            mod = __import__(f"xfront.{sub}", fromlist=["_"])
        except ImportError:
            pytest.skip(f"xfront.{sub} is not part of this checkout")
    names = _public(mod)
    assert names, f"xfront.{sub} has no public names"
    text = _test_text()
    # a test may bind the submodule to a short name (``LA = xf.linalg``) and call ``LA.cross``
    aliases = set(re.findall(rf"^(\w+) = (?:xf|xfront)\.{sub}\s*$", text, re.M))
    prefix = rf"\b(?:(?:(?:xf|xfront)\.)?{sub}|{'|'.join(sorted(aliases)) or sub})\."
    missing = uncovered(names, mod, prefix, text, _op_table_functions())
    assert missing == [], f"xfront.{sub} names without an op-table row or a test: {missing}"


def test_the_name_walk_catches_an_untested_name():
    mod = types.SimpleNamespace(tested=lambda: 0, untested=lambda: 0, in_table=len)
    text = "xf.tested(3)\nxf.testedx()"
    assert uncovered(["tested", "untested", "in_table"], mod, r"\b(?:xf|xfront)\.", text,
                     {id(len)}) == ["untested"]


# --- one place touches jaxlib -------------------------------------------------------------------

# modules other than the runtime adapter that may import jax: they hand arrays to *users* of jax
# (as the torch/TF code next to them does for torch and TF), never call jaxlib for xfront's work
JAX_AS_A_USER_FRAMEWORK = {
    "xfront/sharding.py": "returns jax arrays to callers that passed jax arrays",
    "xfront/testing.py": "compares a program against jax.numpy",
}


def _jax_imports(path: pathlib.Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & {"jax", "jaxlib"}


def test_only_the_runtime_adapter_imports_jaxlib():
    root = TESTS.parent
    importers = {}
    for path in sorted([*root.glob("xfront/**/*.py"), *root.glob("lowering/**/*.py")]):
        mods = _jax_imports(path)
        if mods:
            importers[path.relative_to(root).as_posix()] = mods
    # the adapter: one module, or a package of them if it grows
    adapter = [p for p in importers if p == "lowering/runtime.py"
               or p.startswith("lowering/runtime/")]
    assert adapter, "the runtime adapter imports no jax?"
    for p in adapter:
        del importers[p]
    assert {p: m for p, m in importers.items() if "jaxlib" in m} == {}
    assert set(importers) <= set(JAX_AS_A_USER_FRAMEWORK), importers
