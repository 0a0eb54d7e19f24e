"""Walking the administrative tree: the one implementation of "below" and "above" for every service.

Each service keeps its own copy of the registry (from ``plans.org_unit_changed.v1``) in its own
store; what it hands here is plain data: ``parent_of`` maps a unit's code to its parent's code (None
at the top), ``level_of`` a code to its level (shared.vocabulary.LEVELS). The walks are cycle-safe:
a registry mid-update that briefly holds a loop ends the walk instead of hanging it.

Pure: no database, no broker.
"""
from __future__ import annotations

from typing import Iterable, Mapping


def children_of(parent_of: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Parent code → its direct children's codes."""
    children: dict[str, list[str]] = {}
    for code, parent in parent_of.items():
        if parent:
            children.setdefault(parent, []).append(code)
    return children


def subtree(root: str, parent_of: Mapping[str, str | None] | None = None, *,
            children: Mapping[str, Iterable[str]] | None = None) -> set[str]:
    """Codes of ``root`` and every unit below it (give ``parent_of``, or ``children`` when built)."""
    if children is None:
        children = children_of(parent_of or {})
    found, stack = set(), [root]
    while stack:
        code = stack.pop()
        if code not in found:
            found.add(code)
            stack.extend(children.get(code, ()))
    return found


def ancestors(code: str, parent_of: Mapping[str, str | None]) -> list[str]:
    """The units above ``code``, nearest first (``code`` itself excluded)."""
    chain, seen = [], {code}
    while (code := parent_of.get(code)) and code not in seen:
        seen.add(code)
        chain.append(code)
    return chain


def ancestor_at(code: str, parent_of: Mapping[str, str | None], level_of: Mapping[str, str],
                level: str) -> str | None:
    """The nearest unit above ``code`` at ``level`` (e.g. an LAO's district office), or None."""
    return next((above for above in ancestors(code, parent_of) if level_of.get(above) == level), None)


def is_within(code: str, root: str, parent_of: Mapping[str, str | None]) -> bool:
    """``code`` is ``root`` or below it."""
    return code == root or root in ancestors(code, parent_of)


__all__ = ["ancestor_at", "ancestors", "children_of", "is_within", "subtree"]
