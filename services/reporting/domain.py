"""Pure rules of the reporting read models: where a unit sits in the rollup tree, which version of
a unit a period counts, what status an obligation has, and the counts and rates of a node. No
SQLAlchemy, no nameko.

They are the executable form of docs/reporting.md, Definitions: that text is normative, and a
change of a rule here changes it in the same commit.
The SQL applies the same rules row by row: the obligation status column (models.STATUS_SQL, whose
executable specification is ``obligation_status``), the version a row is keyed by
(projection.sql.version_key, ``counted_version``) and the status at ``now`` (views._status_now,
``status_at``). Achievement against targets is not decided here: shared.indicators holds the one
rule (achieved, at risk, target precedence) and the dashboard's classifier built from it; only the
months of a fiscal year elapsed, as the dashboard counts them, are reporting's.
"""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from statistics import median

from shared.calendar import period_bounds
from shared.thai import fiscal_year_be, fiscal_year_bounds
from shared.unit_versions import field_of, version_for_period
# Levels above the provinces: looking at any of them means looking at the nation.
from shared.vocabulary import DISTRICT_LEVEL, NATIONAL_LEVELS, PROVINCE_LEVEL


STATUSES = ("on_time", "late", "missing", "pending", "returned")
FLAGS = ("extended",)


def unit_keys(code: str, level: str, parent: dict | None) -> tuple[str | None, str | None]:
    """(province_unit, district_unit) of a unit, from its parent's keys.

    A unit right below the national levels (a PLO, or BMA which hangs below MOI) is its own
    province; a unit right below a province that is not a district office (a PAO, Pattaya) is its
    own district. The national levels themselves have neither.
    """
    if level in NATIONAL_LEVELS:
        return None, None
    parent_level = parent["level"] if parent else None
    if level == PROVINCE_LEVEL or parent is None or parent_level in NATIONAL_LEVELS:
        province = code
    else:
        province = parent["province_unit"]
    if level == PROVINCE_LEVEL:
        district = None
    elif level == DISTRICT_LEVEL or parent is None or parent_level in (*NATIONAL_LEVELS, PROVINCE_LEVEL):
        district = code
    else:
        district = parent["district_unit"]
    return province, district


# The bounds a row without a known period is counted by: the unit's latest version.
NO_PERIOD = (date.max, date.max)


@lru_cache(maxsize=4096)
def bounds_of(period: str | None) -> tuple[date, date]:
    """First and last day of a period label; ``NO_PERIOD`` for none or a label outside the grammar."""
    return (period_bounds(period) if period else None) or NO_PERIOD


def counted_version(versions, period_start: date, period_end: date):
    """The version of one unit a period counts it under: ``shared.unit_versions.version_for_period``
    (its latest version valid during the period). A row about a period the unit did not exist in
    (an obligation about to be cancelled, a value of a label outside the grammar) still needs keys:
    the latest version begun by the period's end, else the first version. None without versions.
    The projection's SQL (projection.sql.version_key) is the same rule."""
    versions = list(versions)
    found = version_for_period(versions, period_start, period_end)
    if found is not None or not versions:
        return found
    begun = [v for v in versions if field_of(v, "valid_from") <= period_end]
    if begun:
        return max(begun, key=lambda v: field_of(v, "valid_from"))
    return min(versions, key=lambda v: field_of(v, "valid_from"))


def obligation_status(*, cancelled: bool, last_submitted_at: datetime | None, last_on_time: bool | None,
                      missed_at: datetime | None, missed_due_at: datetime | None,
                      extended_due_at: datetime | None, returned_at: datetime | None = None) -> str:
    """cancelled | returned | on_time | late | missing | pending, from the facts gathered in any order.

    - returned for correction after the latest submission: returned (ส่งกลับแก้ไข), awaiting its
      resubmission; never missing (the unit did report), whatever miss is on record;
    - a submission after the latest miss (or with no miss) decides: on time or late as
      assessments judged the latest submission against the effective deadline;
    - else a miss about the current effective deadline (no extension granted after it) = missing;
    - else a submission that a later miss was superseded by an extension still counts as above;
    - else pending (not yet due, or due and not yet swept).
    """
    if cancelled:
        return "cancelled"
    if returned_at is not None and (last_submitted_at is None or returned_at >= last_submitted_at):
        return "returned"
    if last_submitted_at is not None and (missed_at is None or last_submitted_at >= missed_at):
        return "on_time" if last_on_time else "late"
    if missed_at is not None and (extended_due_at is None or missed_due_at >= extended_due_at):
        return "missing"
    if last_submitted_at is not None:
        return "on_time" if last_on_time else "late"
    return "pending"


def effective_due(due_at: datetime | None, extended_due_at: datetime | None) -> datetime | None:
    """The deadline that counts: the latest extension granted when it is later than the due time."""
    if extended_due_at is not None and (due_at is None or extended_due_at > due_at):
        return extended_due_at
    return due_at


def status_at(status: str, due_at: datetime | None, extended_due_at: datetime | None, now: datetime) -> str:
    """An obligation's status as the dashboards count it at ``now`` (docs/reporting.md, Definitions).

    A submission decides (on_time / late / returned) and cancelled stays cancelled. An obligation not submitted
    is ``missing`` once its effective due time (extensions included) has passed, whether or not the
    deadline sweep has recorded the miss yet, and ``pending`` (not yet due) before: an obligation
    that is not yet due never counts against its unit, whatever events arrived.
    """
    if status not in ("missing", "pending"):
        return status
    due = effective_due(due_at, extended_due_at)
    return "missing" if due is not None and due <= now else "pending"


def rate(numerator: int, denominator: int) -> float | None:
    """0..1 rounded to 4 places; None when there is nothing to divide by."""
    if not denominator:
        return None
    return round(min(numerator, denominator) / denominator, 4)


def counts(on_time=0, late=0, missing=0, pending=0, extended=0, returned=0) -> dict:
    """The figures of a node from its statuses at ``now`` (``status_at``): ``expected`` = every
    obligation not cancelled; ``due`` = those past their effective due or submitted (a returned
    report was submitted), the only ones a rate counts; ``pending`` = not yet due. A returned report
    (awaiting its resubmission) counts in ``returned`` and the reported rate, never in ``missing``;
    it is not on time until resubmitted."""
    due = on_time + late + missing + returned
    return {"expected": due + pending, "due": due, "on_time": on_time, "late": late, "extended": extended,
            "missing": missing, "returned": returned, "pending": pending,
            "on_time_rate": rate(on_time, due), "reported_rate": rate(on_time + late + returned, due)}


def add_counts(total: dict, part: dict) -> None:
    for key in ("on_time", "late", "missing", "pending", "extended", "returned"):
        total[key] = total.get(key, 0) + part.get(key, 0)


# --- achievement: the rule is shared.indicators'; the dashboard's calendar is here ---------------------

def months_elapsed(fiscal_year: int, today: date) -> int | None:
    """Months of a fiscal year begun by ``today`` (1..12) while it runs; None before or after it."""
    start, end = fiscal_year_bounds(fiscal_year)
    if not start <= today <= end:
        return None
    return (today.year - start.year) * 12 + today.month - start.month + 1


def median_seconds(values: list[float]) -> float | None:
    return round(median(values), 1) if values else None


def today_bangkok(now: datetime) -> date:
    """The Bangkok calendar date of an aware UTC instant (fiscal years turn at Bangkok midnight)."""
    from shared.thai import BANGKOK
    return now.astimezone(BANGKOK).date()


__all__ = ["NATIONAL_LEVELS", "NO_PERIOD", "STATUSES", "add_counts", "bounds_of", "counted_version", "counts",
           "effective_due", "fiscal_year_be", "median_seconds", "months_elapsed", "obligation_status", "rate",
           "status_at", "today_bangkok", "unit_keys"]
