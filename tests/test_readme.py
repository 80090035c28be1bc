"""The README is tested: every Python block runs, and the kernel table matches the kernels.

Each ```python block of README.md is executed on its own, in a fresh namespace, so every block
must be self-contained (its imports, the names it uses). A block that imports torch or
tensorflow is skipped when that extra is not installed. The Kernels table's signatures must be
the kernels' real signatures (keyword-only parameters after ``*``), and every kernel of
``KERNELS`` must appear in it.
"""

from __future__ import annotations

import inspect
import pathlib
import re
import warnings

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
_TEXT = README.read_text(encoding="utf-8")


def _python_blocks() -> list[tuple[str, int, str]]:
    """(nearest heading, line number, code) for every ```python block."""
    blocks = []
    heading = "top"
    lines = _TEXT.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip() == "```python":
            start = i + 1
            j = start
            while lines[j].strip() != "```":
                j += 1
            blocks.append((heading, start + 1, "\n".join(lines[start:j]) + "\n"))
            i = j
        i += 1
    return blocks


BLOCKS = _python_blocks()


def test_readme_has_python_blocks():
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("heading,line,code", BLOCKS,
                         ids=[f"L{line}-{h[:30]}" for h, line, _ in BLOCKS])
def test_readme_block_runs(heading, line, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks may write files (a SavedModel, an ONNX model)
    for mod in ("torch", "tensorflow"):
        if re.search(rf"^\s*(import {mod}\b|from {mod}\b)", code, re.M):
            pytest.importorskip(mod)
    compiled = compile(code, f"README.md:{line}", "exec")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a block may, e.g., show a RecompileWarning
        exec(compiled, {"__name__": f"readme_block_{line}"})


# --- the Kernels table ----------------------------------------------------------------------

def _kernel_section() -> str:
    start = _TEXT.index("## Kernels")
    end = _TEXT.index("\n## ", start + 1)
    return _TEXT[start:end]


def _render(name: str, fn) -> str:
    """``name(x, weight=None, *, axis=-1)``: the signature as the table spells it."""
    parts = []
    star = False
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return f"{name}({', '.join(parts)})"


def test_kernel_table_matches_the_kernels():
    from xfront import kernels as K

    rows = [r for r in _kernel_section().splitlines() if r.startswith("| `")]
    written = {}
    for row in rows:
        first_cell = row.split(" | ")[0]
        for sig in re.findall(r"`([A-Za-z_0-9]+\(.*?\))`", first_cell):
            written[sig.split("(")[0]] = sig
    assert set(K.KERNELS) <= set(written), sorted(set(K.KERNELS) - set(written))
    for name, sig in written.items():
        assert sig == _render(name, getattr(K, name)), f"README: {sig}"


def test_render_shows_keyword_only_parameters():
    def k(x, w=None, *, axis=-1, eps=1e-5):
        return x

    assert _render("k", k) == "k(x, w=None, *, axis=-1, eps=1e-05)"
