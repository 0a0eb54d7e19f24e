"""The one period grammar of the platform: what a reporting period label is, how a typed one is
read, its kind, fiscal year, first and last day, and its place in time.

Canonical labels (what is stored, published in events and shown):

- a month: ``2569-01`` (B.E. year, two-digit month) = January 2026;
- a fiscal quarter (ไตรมาส, Q1 = Oct–Dec): ``FY2569-Q1`` = Oct–Dec 2025;
- a fiscal year (ปีงบประมาณ, named by the B.E. year in which it ends): ``FY2569`` = Oct 2025–Sep 2026.

What a person may type (``parse_period``), always read to one canonical label:

- Thai or Arabic digits, any case, spaces, and ``/`` or ``.`` instead of ``-``: ``๒๕๖๙/๑`` → ``2569-01``,
  ``fy2569q1`` → ``FY2569-Q1``;
- a Thai month name, full or abbreviated, dots optional, then the B.E. year in four digits or in
  the two digits Thai officers write (``ธ.ค. 69`` = ธันวาคม 2569, always 25xx), optionally after
  "พ.ศ.": ``ธ.ค. 69``, ``ธันวาคม 2569``, ``ธค 2569`` → ``2569-12``;
- ``ปีงบประมาณ 2569`` / ``ปีงบ 2569`` (optionally "พ.ศ.") → ``FY2569``.

A C.E. year (``2026-01``, ``ธ.ค. 2026``) is refused with a message suggesting the B.E. one: which era
a person meant cannot be guessed. Anything else (``T1796651760``) is refused, naming the field.

Pure Python, standard library and ``shared.thai`` only: every service and the gateway read periods here.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

import holidays

from shared.errors import InputError, invalid
from shared.thai import ThaiInputError, fiscal_year_bounds, from_thai_digits, parse_be_year, thai_month_number, to_ce_year

__all__ = ["is_working_day", "non_working_reason", "thai_holidays", "PERIOD_KINDS", "PeriodKind", "fiscal_year_of_period", "is_period", "parse_period", "period_bounds",
           "period_kind", "period_sort_key", "sort_periods"]

PeriodKind = Literal["month", "quarter", "year"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("month", "quarter", "year")

# Canonical forms: exactly what parse_period returns.
_CANONICAL_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_CANONICAL_FISCAL = re.compile(r"FY(\d{4})(?:-Q([1-4]))?")
# Typed forms, matched after Thai digits are made Arabic, spaces removed and letters upper-cased.
_TYPED_MONTH = re.compile(r"(\d{4})[-/.](\d{1,2})")
_TYPED_FISCAL = re.compile(r"FY(\d{4})(?:-?Q([1-4]))?")
_TYPED_THAI_FISCAL = re.compile(r"ปีงบ(?:ประมาณ)?(?:พ\.?ศ\.?)?(\d{4})")
_TYPED_THAI_MONTH = re.compile(r"([ก-๎.]+?)(?:พ\.?ศ\.?)?(\d{4}|\d{2})")

_EXAMPLES_TH = "ใช้ เช่น 2569-01 หรือ ม.ค. 2569 (เดือน), FY2569-Q1 (ไตรมาส) หรือ FY2569 (ปีงบประมาณ)"
_EXAMPLES_EN = "use e.g. 2569-01 or ม.ค. 2569 (month), FY2569-Q1 (quarter) or FY2569 (fiscal year)"


def parse_period(text: object, field: str = "period") -> str:
    """The canonical label of a typed period, or InputError (422) naming ``field``."""
    if not isinstance(text, str):
        raise invalid(field, f"งวดต้องเป็นข้อความ {_EXAMPLES_TH}", f"a period is text; {_EXAMPLES_EN}")
    compact = re.sub(r"\s+", "", from_thai_digits(text)).upper()
    try:
        if match := _TYPED_MONTH.fullmatch(compact):
            return _month_label(parse_be_year(match.group(1), field), int(match.group(2)), text, field)
        if match := _TYPED_FISCAL.fullmatch(compact):
            year, quarter = parse_be_year(match.group(1), field), match.group(2)
            return f"FY{year}-Q{quarter}" if quarter else f"FY{year}"
        if match := _TYPED_THAI_FISCAL.fullmatch(compact):
            return f"FY{parse_be_year(match.group(1), field)}"
        if (match := _TYPED_THAI_MONTH.fullmatch(compact)) and (month := thai_month_number(match.group(1))):
            year_text = match.group(2)
            year = 2500 + int(year_text) if len(year_text) == 2 else parse_be_year(year_text, field)
            return _month_label(year, month, text, field)
    except ThaiInputError as error:
        raise invalid(field, error.message_th, error.message_en) from None
    raise _not_a_period(text, field)


def _month_label(year: int, month: int, text: str, field: str) -> str:
    if not 1 <= month <= 12:
        raise _not_a_period(text, field)
    return f"{year}-{month:02d}"


def _not_a_period(text: str, field: str) -> InputError:
    return invalid(field, f"งวด {text!r} ไม่ถูกต้อง {_EXAMPLES_TH}", f"period {text!r} is not valid; {_EXAMPLES_EN}")


def period_kind(label: object) -> PeriodKind | None:
    """``month`` / ``quarter`` / ``year`` of a canonical label; None for anything else (a stored row
    written before periods were validated): readers skip or flag it, never fail on it."""
    if not isinstance(label, str):
        return None
    if (match := _CANONICAL_MONTH.fullmatch(label)) and _plausible(match.group(1)):
        return "month"
    if (match := _CANONICAL_FISCAL.fullmatch(label)) and _plausible(match.group(1)):
        return "quarter" if match.group(2) else "year"
    return None


def is_period(label: object) -> bool:
    return period_kind(label) is not None


def _plausible(year_text: str) -> bool:
    try:
        parse_be_year(int(year_text))
    except ThaiInputError:
        return False
    return True


def fiscal_year_of_period(label: str) -> int | None:
    """B.E. fiscal year of a canonical label: ``2569-11`` (Nov 2026) → 2570, ``2569-09`` → 2569,
    ``FY2569-Q1`` and ``FY2569`` → 2569; None for anything else."""
    kind = period_kind(label)
    if kind == "month":
        year, month = int(label[:4]), int(label[5:7])
        return year + 1 if month >= 10 else year
    if kind is not None:
        return int(label[2:6])
    return None


def period_bounds(label: str) -> tuple[date, date] | None:
    """First and last Bangkok day (inclusive) of a canonical label; None for anything else."""
    kind = period_kind(label)
    if kind == "month":
        year_ce, month = to_ce_year(int(label[:4])), int(label[5:7])
        start = date(year_ce, month, 1)
        following = date(year_ce + month // 12, month % 12 + 1, 1)
        return start, following - timedelta(days=1)
    if kind == "year":
        return fiscal_year_bounds(int(label[2:6]))
    if kind == "quarter":
        first, _ = fiscal_year_bounds(int(label[2:6]))
        quarter = int(label[-1])
        start_month = (first.month - 1 + 3 * (quarter - 1)) % 12 + 1
        start = date(first.year + (first.month - 1 + 3 * (quarter - 1)) // 12, start_month, 1)
        end_month_index = start.month - 1 + 3
        return start, date(start.year + end_month_index // 12, end_month_index % 12 + 1, 1) - timedelta(days=1)
    return None


def period_sort_key(label: str) -> tuple:
    """Chronological order within a kind (by first day), kinds apart (months, quarters, years);
    labels that are not periods last, by text."""
    kind = period_kind(label)
    if kind is None:
        return (len(PERIOD_KINDS), date.max, label)
    return (PERIOD_KINDS.index(kind), period_bounds(label)[0], label)


def sort_periods(labels) -> list[str]:
    return sorted(set(labels), key=period_sort_key)


# --- Working days (Thai public and government holidays, weekends) ---------------------------------

@lru_cache(maxsize=None)
def thai_holidays(year_ce: int) -> dict[date, str]:
    """Thai holidays of a C.E. year with their Thai names, from the offline ``holidays`` package.

    Public holidays (with substitution days, ชดเชย…, and the cabinet's extra days off known when
    the package was released) plus the government-only days off (วันพืชมงคล): reports go to and
    from government offices, which close on both.
    """
    calendar = holidays.Thailand(years=year_ce, categories=("public", "government"), language="th")
    return dict(calendar.items())


def is_working_day(day: date) -> bool:
    return non_working_reason(day) is None


def non_working_reason(day: date) -> str | None:
    # A holiday name says more than "weekend" when a holiday falls on a Saturday.
    if name := thai_holidays(day.year).get(day):
        return f"holiday: {name}"
    if day.weekday() >= 5:
        return "weekend"
    return None
