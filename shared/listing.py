"""Sorting for list endpoints: ``sort=due_at`` or ``sort=-due_at``, only on allowed columns."""
from __future__ import annotations

from sqlalchemy import Table

from shared.errors import InputError


def order_by(table: Table, sort: str | None, allowed: tuple[str, ...], default: tuple[str, ...]) -> list:
    """ORDER BY clauses for ``sort`` (comma-separated, ``-`` for descending), then the default
    order as a tie-breaker so pages are stable."""
    clauses, used = [], set()
    for part in filter(None, (p.strip() for p in (sort or "").split(","))):
        name = part.lstrip("-")
        if name not in allowed:
            raise InputError("invalid", "sort", f"เรียงลำดับได้เฉพาะ: {', '.join(allowed)}",
                             f"sort must be one of: {', '.join(allowed)} (prefix - for descending)", status=400)
        clauses.append(table.c[name].desc() if part.startswith("-") else table.c[name].asc())
        used.add(name)
    for part in default:
        name = part.lstrip("-")
        if name not in used:
            clauses.append(table.c[name].desc() if part.startswith("-") else table.c[name].asc())
    return clauses
