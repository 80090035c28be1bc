"""Minimal pytrees: flatten/unflatten nested tuples, lists, dicts, namedtuples and None.

Imports: the standard library only. ``register_pytree_node`` adds custom containers.
Treedefs are hashable (they are part of compile cache keys). ``None`` is an empty node, not a
leaf, as in JAX.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

__all__ = ["TreeDef", "tree_flatten", "tree_unflatten", "tree_map", "tree_leaves",
           "tree_structure", "register_pytree_node", "tree_flatten_with_path"]


class TreeDef:
    __slots__ = ("kind", "meta", "children", "num_leaves", "_hash")

    def __init__(self, kind: Any, meta: Any, children: tuple[TreeDef, ...]):
        self.kind = kind  # 'leaf', tuple, list, dict, None, a namedtuple class or registered type
        self.meta = meta  # dict keys, or the aux data of a registered node
        self.children = children
        self.num_leaves = 1 if kind == "leaf" else sum(c.num_leaves for c in children)
        self._hash = hash((kind, meta, children))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TreeDef) and self._hash == other._hash and self.kind == other.kind
                and self.meta == other.meta and self.children == other.children)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        if self.kind == "leaf":
            return "*"
        if self.kind is None:
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind is tuple:
            return f"({inner}{',' if len(self.children) == 1 else ''})"
        if self.kind is list:
            return f"[{inner}]"
        if self.kind is dict:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.meta, self.children)) + "}"
        return f"{getattr(self.kind, '__name__', self.kind)}({inner})"


LEAF = TreeDef("leaf", None, ())
NONE = TreeDef(None, None, ())

_registry: dict[type, tuple[Callable, Callable]] = {}


def register_pytree_node(cls: type, flatten: Callable[[Any], tuple[Iterable[Any], Any]],
                         unflatten: Callable[[Any, list[Any]], Any]) -> None:
    """Register a container: ``flatten(x) -> (children, aux)``, ``unflatten(aux, children)``."""
    _registry[cls] = (flatten, unflatten)


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _flatten(x: Any, leaves: list[Any]) -> TreeDef:
    t = type(x)
    if t is tuple or t is list:
        return TreeDef(t, None, tuple(_flatten(c, leaves) for c in x))
    if t is dict:
        keys = tuple(sorted(x)) if all(isinstance(k, str) for k in x) else tuple(x)
        return TreeDef(dict, keys, tuple(_flatten(x[k], leaves) for k in keys))
    if x is None:
        return NONE
    if t in _registry:
        children, aux = _registry[t][0](x)
        return TreeDef(t, aux, tuple(_flatten(c, leaves) for c in children))
    if _is_namedtuple(x):
        return TreeDef(t, None, tuple(_flatten(c, leaves) for c in x))
    leaves.append(x)
    return LEAF


def tree_flatten(x: Any) -> tuple[list[Any], TreeDef]:
    leaves: list[Any] = []
    return leaves, _flatten(x, leaves)


def tree_leaves(x: Any) -> list[Any]:
    return tree_flatten(x)[0]


def tree_structure(x: Any) -> TreeDef:
    return tree_flatten(x)[1]


def _unflatten(td: TreeDef, it: Any) -> Any:
    k = td.kind
    if k == "leaf":
        return next(it)
    if k is None:
        return None
    kids = [_unflatten(c, it) for c in td.children]
    if k is tuple:
        return tuple(kids)
    if k is list:
        return kids
    if k is dict:
        return dict(zip(td.meta, kids))
    if k in _registry:
        return _registry[k][1](td.meta, kids)
    return k(*kids)  # namedtuple


def tree_unflatten(td: TreeDef, leaves: Iterable[Any]) -> Any:
    it = iter(leaves)
    out = _unflatten(td, it)
    return out


def tree_map(f: Callable, tree: Any, *rest: Any) -> Any:
    leaves, td = tree_flatten(tree)
    others = [tree_flatten(r) for r in rest]
    for ol, otd in others:
        if otd != td:
            raise ValueError(f"tree_map: structures differ: {td} vs {otd}")
    return tree_unflatten(td, [f(*xs) for xs in zip(leaves, *[ol for ol, _ in others])])


def tree_flatten_with_path(x: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, leaf) pairs, paths like ``[0]['w'].bias`` (for error messages)."""
    t = type(x)
    if t is tuple or t is list or _is_namedtuple(x):
        out = []
        for i, c in enumerate(x):
            out.extend(tree_flatten_with_path(c, f"{prefix}[{i}]"))
        return out
    if t is dict:
        keys = sorted(x) if all(isinstance(k, str) for k in x) else list(x)
        out = []
        for k in keys:
            out.extend(tree_flatten_with_path(x[k], f"{prefix}[{k!r}]"))
        return out
    if x is None:
        return []
    if t in _registry:
        children, _ = _registry[t][0](x)
        out = []
        for i, c in enumerate(children):
            out.extend(tree_flatten_with_path(c, f"{prefix}.<{i}>"))
        return out
    return [(prefix, x)]
