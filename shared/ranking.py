"""Ranks: competition ranking ("1, 2, 2, 4"), highest value first, over a whole set or within groups
(a province, an LAO type). One implementation for the service that publishes LPA results and the one
that shows them. Pure."""
from __future__ import annotations

from typing import Mapping


def ranks(values: Mapping[str, float]) -> dict[str, int]:
    """Competition ranking, highest value first: equal values share a rank, the next rank skips."""
    ordered = sorted(values.items(), key=lambda item: -item[1])
    result, previous, rank = {}, None, 0
    for position, (code, value) in enumerate(ordered, start=1):
        if value != previous:
            rank, previous = position, value
        result[code] = rank
    return result


def ranks_within(values: Mapping[str, float], group_of: Mapping[str, str | None]) -> dict[str, int]:
    """Ranks of each LAO within its group (province, LAO type)."""
    groups: dict[str | None, dict[str, float]] = {}
    for code, value in values.items():
        groups.setdefault(group_of.get(code), {})[code] = value
    return {code: rank for members in groups.values() for code, rank in ranks(members).items()}


__all__ = ["ranks", "ranks_within"]
