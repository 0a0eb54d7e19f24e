"""The registry over time: which version of a unit holds on a date or in a period, and which changes
would rewrite a period already reported. One rule for every service (plans keeps the versions and
refuses contradicting changes, assessments opens obligations, reporting counts by a period's truth).
Pure: no database, no broker.

A version holds from ``valid_from`` (inclusive) to ``valid_to`` (exclusive; None = still valid).
A change effective on day D closes the version before it on D and opens the next one on D, so the
versions of one unit tile time without overlap; a closing is a version whose ``valid_to`` is D and
which has no successor version.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Literal, TypeVar, get_args

ChangeKind = Literal["opened", "updated", "renamed", "type_changed", "moved", "merged", "split", "closed"]
CHANGE_KINDS: tuple[str, ...] = get_args(ChangeKind)

# changes that alter who is counted where in a period (existence, LAO type, district or province);
# a rename or new contact details never change a count
COUNTING_CHANGES = frozenset({"opened", "type_changed", "moved", "merged", "split", "closed"})
# changes that end a unit (a merger or split ends each unit merged or split)
ENDING_KINDS = frozenset({"closed", "merged", "split"})

Version = TypeVar("Version")


def field_of(record, name: str):
    """A version's field, whether the version is a mapping (a row, a dict) or an object (an event)."""
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


def holds_on(version, day: date) -> bool:
    """The version is the unit's truth on ``day``."""
    valid_to = field_of(version, "valid_to")
    return field_of(version, "valid_from") <= day and (valid_to is None or day < valid_to)


def overlaps(version, period_start: date, period_end: date) -> bool:
    """The version holds on at least one day of the period (both ends inclusive)."""
    valid_to = field_of(version, "valid_to")
    return field_of(version, "valid_from") <= period_end and (valid_to is None or valid_to > period_start)


def versions_on(versions: Iterable[Version], day: date) -> list[Version]:
    """The units as they are on ``day`` (one version per code at most, when the versions are sound)."""
    return [v for v in versions if holds_on(v, day)]


def expected_units(units: Iterable[Version], period_start: date, period_end: date) -> list[Version]:
    """The units expected to report for a period: those that existed on at least one of its days,
    each as its latest version valid during the period (the unit as it stood on the last day it
    existed in the period: its LAO type, district and province for that period's counts).

    A unit created after the period ends, or closed on or before its first day, is not expected.
    Several versions of one code count once, so an expected count never exceeds the real one.
    """
    latest_by_code: dict[str, Version] = {}
    for unit in units:
        if not overlaps(unit, period_start, period_end):
            continue
        code = field_of(unit, "code")
        kept = latest_by_code.get(code)
        if kept is None or field_of(unit, "valid_from") > field_of(kept, "valid_from"):
            latest_by_code[code] = unit
    return list(latest_by_code.values())


def version_for_period(versions: Iterable[Version], period_start: date, period_end: date) -> Version | None:
    """One unit's version that a period counts it under (see ``expected_units``), None if the
    unit did not exist in the period."""
    found = expected_units(versions, period_start, period_end)
    return found[0] if found else None


class VersionConflict(ValueError):
    """The versions of one unit overlap or run backwards."""


def check_versions(versions: Iterable[Version]) -> None:
    """Raise VersionConflict unless every version ends after it starts and the versions of each
    code are disjoint (ordered by valid_from, each ends no later than the next begins)."""
    by_code: dict[str, list] = {}
    for version in versions:
        valid_from, valid_to = field_of(version, "valid_from"), field_of(version, "valid_to")
        if valid_to is not None and valid_to <= valid_from:
            raise VersionConflict(f"{field_of(version, 'code')}: valid_to {valid_to} is not after valid_from {valid_from}")
        by_code.setdefault(field_of(version, "code"), []).append(version)
    for code, own in by_code.items():
        own.sort(key=lambda v: field_of(v, "valid_from"))
        for earlier, later in zip(own, own[1:]):
            end = field_of(earlier, "valid_to")
            if end is None or end > field_of(later, "valid_from"):
                raise VersionConflict(f"{code}: the version from {field_of(earlier, 'valid_from')} overlaps the "
                                      f"one from {field_of(later, 'valid_from')}")


def superseded(version, versions) -> bool:
    """Did plans remove this version? Plans never lets a unit's versions overlap and sends every
    version a change touches again with the unit's next revision, but sends nothing for a version it
    removes (a closing removes the versions after it; a change may replace one). So a version is
    stale when a version of the same unit with a higher revision overlaps it, or is a closing
    (closed, merged, split) that ends on or before it begins. Versions of one revision (an older
    platform sent revision 0 only) never supersede each other."""
    end = field_of(version, "valid_to") or date.max
    for other in versions:
        if field_of(other, "revision") <= field_of(version, "revision"):
            continue
        other_end = field_of(other, "valid_to")
        if field_of(other, "valid_from") < end and (other_end is None or other_end > field_of(version, "valid_from")):
            return True
        if (field_of(other, "change_kind") in ENDING_KINDS and other_end is not None
                and other_end <= field_of(version, "valid_from")):
            return True
    return False


def rewrites_period(kind: str, effective: date, period_start: date, period_end: date) -> bool:
    """Would a change of this kind, effective on ``effective``, change how a period already reported
    is counted? A closing (or a merger or split ending the unit) removes the unit from periods that
    start on or after the date; a change of type, district or province changes the version every
    period ending on or after the date is counted under; an opening dated after a reported period's
    start says the unit did not exist when it reported. Renames and contact changes never do."""
    if kind not in COUNTING_CHANGES:
        return False
    if kind in ENDING_KINDS:
        return period_start >= effective
    if kind == "opened":
        return effective > period_start
    return period_end >= effective


def last_day(valid_to: date | None) -> date | None:
    """The last day a version holds (valid_to is exclusive)."""
    return None if valid_to is None else valid_to - timedelta(days=1)
