"""What a value means against its target: the one implementation of the platform's indicator rules.
Assessments uses it to decide whether a value needs a note and to answer achievement; reporting uses
it to classify every unit on a dashboard. Pure: no database, no broker.

- **Direction** (shared.vocabulary): ``increase`` and ``maintain`` mean "at least the target",
  ``decrease`` "at most the target", ``none`` "no judgement" (always achieved once there is data).
- **Actual of a year**: a ``count`` adds up over the fiscal year (its actual is the year-to-date sum);
  any other value type is a level (its actual is the latest value).
- **Achievement**: ``no_target`` without a target, ``no_data`` without a value, else ``achieved`` or
  ``not_achieved`` by the direction.
- **At risk**, only while the fiscal year runs: a count's year-to-date sum against the pro-rata share
  of the target (months elapsed / 12), a level's latest value against the whole target, short by more
  than the tolerance (10 %). After the year ends the status is final and nothing is at risk.
- **Target scope precedence**: the most specific target row applies: the unit itself, then its LAO
  type (``lao_type:sao``), then its level (``level:lao``), then everyone (``*``). A row whose value is
  null means "no target that year" and still wins over less specific rows.
"""
from __future__ import annotations

from typing import Mapping

AT_RISK_TOLERANCE = 0.1
CUMULATIVE_VALUE_TYPES = frozenset({"count"})
EVERYONE = "*"


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


def is_cumulative(value_type: str | None) -> bool:
    """A count adds up over the year; any other value is a level."""
    return value_type in CUMULATIVE_VALUE_TYPES


def off_trajectory(direction: str, actual: float, expected: float, tolerance: float = AT_RISK_TOLERANCE) -> bool:
    """Short of where the year should be by more than the tolerance, in the indicator's direction."""
    if direction == "none":
        return False
    if direction == "decrease":
        return actual > expected * (1 + tolerance)
    return actual < expected * (1 - tolerance)


def at_risk(direction: str, cumulative: bool, values: list[float], periods_elapsed: int,
            periods_total: int, target: float | None, tolerance: float = AT_RISK_TOLERANCE) -> bool:
    """Off the yearly trajectory, from the year's values so far (oldest first)."""
    if target is None or not values or periods_total <= 0:
        return False
    if cumulative:
        actual, expected = sum(values), target * periods_elapsed / periods_total
    else:
        actual, expected = values[-1], target
    return off_trajectory(direction, actual, expected, tolerance)


def target_scopes(unit_code: str, level: str | None, lao_type: str | None) -> list[str]:
    """The scopes a target row may name for this unit, most specific first."""
    return ([unit_code] + ([f"lao_type:{lao_type}"] if lao_type else [])
            + ([f"level:{level}"] if level else []) + [EVERYONE])


def resolve_target(by_scope: Mapping[str, float | None], unit_code: str, level: str | None,
                   lao_type: str | None) -> tuple[bool, float | None]:
    """(a target row applies, its value): the most specific row wins, a null value included."""
    for scope in target_scopes(unit_code, level, lao_type):
        if scope in by_scope:
            return True, by_scope[scope]
    return False, None


def classifier(direction: str | None, value_type: str | None, months: int | None):
    """A ``(latest_value, sum_value, target) -> (actual, status, at_risk)`` for one indicator and year,
    built once per indicator (the national dashboard classifies every LAO on each request): the rules
    above, with ``months`` = months of the fiscal year elapsed while it runs (None after it ends)."""
    direction = direction or "increase"
    cumulative = is_cumulative(value_type)
    share = (months or 0) / 12 if cumulative else 1.0

    def classify(latest: float | None, total: float | None, target: float | None):
        actual = (total if cumulative else latest) if latest is not None else None
        status = achievement(direction, actual, target)
        risky = bool(months) and status in ("achieved", "not_achieved") and off_trajectory(
            direction, actual, target * share)
        return actual, status, risky
    return classify


__all__ = ["AT_RISK_TOLERANCE", "EVERYONE", "achievement", "at_risk", "classifier", "is_cumulative",
           "misses_target", "off_trajectory", "resolve_target", "target_scopes"]
