"""Readable text form of graphs: one line per eqn, nested regions indented.

    graph mlp(a:f32[8,4], b:f32[4,3]) {
      c:f32[8,3] = dot_general a b contracting=((1,), (0,)) batch=((), ())
      d:f32[8,3] = tanh c
      return d
    }

Imports: _core only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xfront import _core


class _Names:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def name(self, v: _core.Var) -> str:
        n = self.names.get(v.id)
        if n is None:
            i = len(self.names)
            n = ""
            while True:
                n = chr(ord("a") + i % 26) + n
                i = i // 26 - 1
                if i < 0:
                    break
            self.names[v.id] = n
        return n


def _atom(names: _Names, a: Any) -> str:
    if isinstance(a, _core.Literal):
        return f"{_core.format_literal(a.value)}:{a.aval.dtype.short}"
    return names.name(a)


def _param(v: Any) -> str:
    if isinstance(v, _core.Graph):
        return f"<graph {v.name}>"
    if isinstance(v, np.ndarray):
        return _core.format_literal(v)
    if hasattr(v, "name") and type(v).__name__ == "DType":
        return v.name
    return repr(v)


def _lines(g: _core.Graph, names: _Names, indent: str, title: str) -> list[str]:
    ins = ", ".join(f"{names.name(v)}:{v.aval.short}" for v in g.invars)
    head = f"{indent}{title}({ins})"
    if g.constvars:
        head += " consts(" + ", ".join(f"{names.name(v)}:{v.aval.short}" for v in g.constvars) + ")"
    out = [head + " {"]
    for e in g.eqns:
        lhs = ", ".join(f"{names.name(v)}:{v.aval.short}" for v in e.outputs)
        args = " ".join(_atom(names, a) for a in e.inputs)
        plain = {k: v for k, v in e.params.items()
                 if not isinstance(v, _core.Graph) and not (isinstance(v, tuple) and v
                                                            and isinstance(v[0], _core.Graph))}
        params = " ".join(f"{k}={_param(v)}" for k, v in plain.items())
        line = f"{indent}  {lhs} = {e.prim.name}"
        if args:
            line += f" {args}"
        if params:
            line += f" {params}"
        out.append(line)
        for k, v in e.params.items():
            subs = v if isinstance(v, tuple) else (v,)
            for j, sub in enumerate(subs):
                if isinstance(sub, _core.Graph):
                    label = f"{k}[{j}]" if isinstance(v, tuple) else k
                    out.extend(_lines(sub, names, indent + "    ", f"{label}: "))
    out.append(f"{indent}  return " + ", ".join(_atom(names, a) for a in g.outs))
    out.append(indent + "}")
    return out


def pprint_graph(g: _core.Graph) -> str:
    return "\n".join(_lines(g, _Names(), "", f"graph {g.name}"))
