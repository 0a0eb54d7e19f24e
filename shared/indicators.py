"""What a value means against its target: one rule for every service (assessments decides whether a
note is required, reporting shows achievement). Pure: no database, no broker."""
from __future__ import annotations


def misses_target(direction: str, value: float, target: float | None) -> bool:
    """Below target when more is better ("maintain" = keep at least the target), above when less is."""
    if target is None or direction == "none":
        return False
    if direction == "decrease":
        return value > target
    return value < target


def achievement(direction: str, actual: float | None, target: float | None) -> str:
    """achieved / not_achieved / no_target / no_data, by the indicator's direction."""
    if target is None:
        return "no_target"
    if actual is None:
        return "no_data"
    return "not_achieved" if misses_target(direction, actual, target) else "achieved"
