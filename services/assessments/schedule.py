"""Reporting schedules: from a reporting rule to dated period slots, and who is expected to report.

Pure Python (python-dateutil and holidays only) so that it can be unit-tested and reused by the
assessments service, the reminder planner and the reporting read models alike.

Conventions (see shared/thai.py): RRULEs are expanded in Asia/Bangkok local time, which has no
daylight saving, so naive local datetimes are safe during expansion; every datetime this module
returns is aware and in UTC. Periods are Bangkok calendar dates, end inclusive.

Period labels follow the one grammar of ``shared.calendar`` (``2569-01`` a month, ``FY2569-Q1`` a
fiscal quarter, ``FY2569`` a fiscal year).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import islice
from typing import Literal, NamedTuple, get_args

from dateutil import rrule as du

from shared.calendar import is_working_day, parse_period, thai_holidays  # noqa: F401  (re-exported)
from shared.calendar import non_working_reason as _non_working_reason
from shared.calendar import period_bounds as calendar_period_bounds
from shared.errors import InputError, invalid
from shared.thai import (BANGKOK, fiscal_year_be, fiscal_year_bounds, from_thai_digits,
                         to_be_year)

__all__ = [
    "Coverage",
    "Granularity",
    "HolidayRule",
    "MAX_SLOTS",
    "Period",
    "canonical_period",
    "PeriodSlot",
    "expand_rule",
    "fiscal_year_periods",
    "is_working_day",
    "month_period",
    "parse_duration",
    "parse_period_label",
    "period_bounds",
    "period_covered",
    "shift_for_holidays",
    "thai_holidays",
]

Coverage = Literal["previous_month", "current_month", "previous_quarter", "fiscal_year",
                   "current_fiscal_year"]
HolidayRule = Literal["none", "next_working_day", "previous_working_day"]
Granularity = Literal["month", "quarter", "year"]

# A safety bound on one expansion: a century of monthly reports. A rule asking for more is a
# mistake (or COUNT=10**9) and would otherwise stall the service.
MAX_SLOTS = 1200

# Without an explicit ``covers``, a monthly report covers the month before it is due and a
# yearly report the fiscal year that ended before it is due; a one-off report its own month.
_DEFAULT_COVERAGE: dict[str, Coverage] = {"MONTHLY": "previous_month", "YEARLY": "fiscal_year"}
_ONE_OFF_COVERAGE: Coverage = "current_month"


class Period(NamedTuple):
    label: str
    start: date
    end: date


@dataclass(frozen=True)
class PeriodSlot:
    """One due date of a rule and the period it covers (one obligation per unit and slot)."""

    period: str
    period_start: date
    period_end: date
    opens_at: datetime           # UTC; due_at minus window_opens_before
    due_at: datetime             # UTC; after moving off weekends and holidays
    nominal_due_at: datetime     # UTC; as the rule states it
    shifted_reason: str | None   # e.g. "weekend", "holiday: วันรัฐธรรมนูญ"; None if not moved


# --- Periods ----------------------------------------------------------------------------------

def month_period(year_ce: int, month: int) -> Period:
    start = date(year_ce, month, 1)
    return Period(f"{to_be_year(year_ce)}-{month:02d}", start, _next_month_start(start) - timedelta(days=1))


def fiscal_year_periods(fy_be: int, granularity: Granularity = "month") -> list[Period]:
    """The months (``2569-10`` … ), quarters (``FY2569-Q1`` … ) or the year (``FY2569``) of a fiscal year.

    Q1 = October–December of the previous C.E. year, Q4 = July–September.
    """
    start, end = fiscal_year_bounds(fy_be)
    if granularity == "year":
        return [Period(f"FY{fy_be}", start, end)]
    months = []
    month_start = start
    while month_start <= end:
        months.append(month_period(month_start.year, month_start.month))
        month_start = _next_month_start(month_start)
    if granularity == "month":
        return months
    if granularity == "quarter":
        return [Period(f"FY{fy_be}-Q{number}", months[3 * number - 3].start, months[3 * number - 1].end)
                for number in range(1, 5)]
    raise ValueError(f"granularity must be month, quarter or year, not {granularity!r}")


def period_covered(due_date: date, covers: Coverage) -> Period:
    """The period a report due on ``due_date`` (Bangkok, before holiday shifting) covers.

    - ``previous_month``: the calendar month before the due date's month (due 3 Feb 2026 → ``2569-01``);
    - ``current_month``: the due date's own month (due 31 Jan 2026 → ``2569-01``);
    - ``previous_quarter``: the fiscal quarter before the one holding the due date
      (due 15 Jan 2026 → ``FY2569-Q1``, Oct–Dec 2025);
    - ``fiscal_year``: the fiscal year before the one holding the due date, i.e. the last
      completed one (due 31 Oct 2026, in FY 2570 → ``FY2569``);
    - ``current_fiscal_year``: the fiscal year holding the due date (due 31 Aug 2026 → ``FY2569``).
    """
    if covers == "previous_month":
        last_month_day = date(due_date.year, due_date.month, 1) - timedelta(days=1)
        return month_period(last_month_day.year, last_month_day.month)
    if covers == "current_month":
        return month_period(due_date.year, due_date.month)
    if covers == "previous_quarter":
        current_quarter = _quarter_containing(due_date)
        return _quarter_containing(current_quarter.start - timedelta(days=1))
    if covers == "fiscal_year":
        return fiscal_year_periods(fiscal_year_be(due_date) - 1, "year")[0]
    if covers == "current_fiscal_year":
        return fiscal_year_periods(fiscal_year_be(due_date), "year")[0]
    raise _unknown_coverage(covers)


def _unknown_coverage(covers: object) -> InputError:
    return invalid("covers", f"ไม่รู้จักรูปแบบงวดรายงาน {covers!r} (ใช้ได้: {', '.join(get_args(Coverage))})",
                   f"unknown period coverage {covers!r}; use one of {', '.join(get_args(Coverage))}")


# The one period grammar (canonical labels, what may be typed) lives in shared.calendar.
parse_period_label = parse_period


def canonical_period(text: str) -> str:
    """The one spelling of a period, so that one period is never two obligations: the canonical
    label of anything the period grammar reads (shared.calendar: ``ธ.ค. 2569``, ``ธันวาคม ๒๕๖๙``,
    ``ธ.ค. 69`` → ``2569-12``). Any other text is kept as it is (trimmed): an event carries it, and
    refusing it here would lose the obligation."""
    try:
        return parse_period(text)
    except InputError:
        return text.strip()


def period_bounds(label: str) -> tuple[date, date] | tuple[None, None]:
    """First and last day of a canonical period label (None, None for any other text)."""
    return calendar_period_bounds(label) or (None, None)


def _quarter_containing(day: date) -> Period:
    quarter_index = ((day.month - 10) % 12) // 3  # October → 0
    return fiscal_year_periods(fiscal_year_be(day), "quarter")[quarter_index]


def _next_month_start(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


# --- Working days -----------------------------------------------------------------------------

def shift_for_holidays(day: date, holiday_rule: HolidayRule) -> tuple[date, str | None]:
    """Move a due date off weekends and holidays; returns the date and why it moved (None if not).

    ``next_working_day`` moves forward and ``previous_working_day`` backward to the nearest
    working day; ``none`` keeps the date. The reason names every kind of day skipped, e.g.
    ``holiday: วันรัฐธรรมนูญ; weekend; holiday: ชดเชยวันรัฐธรรมนูญ``.
    """
    _require_holiday_rule(holiday_rule)
    if holiday_rule == "none":
        return day, None
    step = timedelta(days=1 if holiday_rule == "next_working_day" else -1)
    reasons: list[str] = []
    while (reason := _non_working_reason(day)) is not None:
        if reason not in reasons:
            reasons.append(reason)
        day += step
    return day, "; ".join(reasons) or None


def _require_holiday_rule(holiday_rule: str) -> None:
    if holiday_rule not in get_args(HolidayRule):
        raise invalid("holiday_rule", f"ไม่รู้จักกฎวันหยุด {holiday_rule!r}",
                      f"unknown holiday rule {holiday_rule!r}; use one of {', '.join(get_args(HolidayRule))}")


# --- Rule expansion ---------------------------------------------------------------------------

def expand_rule(
    rrule: str | None,
    *,
    dtstart: date | datetime | None = None,
    until: date | datetime | None = None,
    due_at: datetime | None = None,
    due_time_local: str = "16:30",
    window_opens_before: str = "P10D",
    holiday_rule: HolidayRule = "next_working_day",
    between: tuple[date | datetime, date | datetime] | None = None,
    covers: Coverage | None = None,
) -> list[PeriodSlot]:
    """The due dates of a reporting rule, each with the period it covers and its window.

    Takes the fields of ``ReportingRulePublished`` as they are. Either ``rrule`` (RFC 5545,
    FREQ=MONTHLY or YEARLY, expanded in Bangkok from the Bangkok date of ``dtstart``, each
    occurrence due at ``due_time_local``) or a one-off ``due_at`` (keeps its own time of day;
    a naive value is read as Bangkok time).

    Bounds: ``UNTIL``/``COUNT`` in the rule and ``until`` (Bangkok date, inclusive) limit the
    rule; ``between`` = (first, last) Bangkok dates, inclusive, keeps the slots whose *nominal*
    due date falls inside, so consecutive windows never produce a slot twice. A rule with no
    bound at all is rejected.

    Period coverage: the period is derived from the nominal (unshifted) due date by ``covers``
    (see ``period_covered``). Default: MONTHLY → ``previous_month`` (the report due 3 Feb 2026
    covers ``2569-01``), YEARLY → ``fiscal_year`` (due 31 Oct 2026 covers ``FY2569``), one-off →
    ``current_month``. Two due dates covering the same period are rejected.

    Holidays: a nominal due date on a Saturday, Sunday or Thai holiday moves by ``holiday_rule``
    (see ``shift_for_holidays``), keeping the time of day; the window opens
    ``window_opens_before`` (ISO 8601 duration) before the shifted due time.

    Raises InputError (status 422) naming the field at fault, in Thai and English.
    """
    window = parse_duration(window_opens_before)
    # Checked up front, so a bad rule fails even when no slot falls in range.
    _require_holiday_rule(holiday_rule)
    if covers is not None and covers not in get_args(Coverage):
        raise _unknown_coverage(covers)
    date_range = _date_range(between) if between is not None else None

    if rrule and due_at is not None:
        raise invalid("due_at", "ระบุได้อย่างใดอย่างหนึ่ง: กฎการรายงานซ้ำ (rrule) หรือวันครบกำหนดครั้งเดียว (due_at)",
                      "give either a recurring rule (rrule) or a one-off due_at, not both")
    if rrule:
        frequency, nominal_dues = _expand_recurrence(rrule, dtstart, until, due_time_local, date_range)
        coverage = covers or _DEFAULT_COVERAGE[frequency]
    elif due_at is not None:
        nominal = _as_bangkok(due_at, "due_at")
        in_range = date_range is None or date_range[0] <= nominal.date() <= date_range[1]
        nominal_dues = [nominal] if in_range else []
        coverage = covers or _ONE_OFF_COVERAGE
    else:
        raise invalid("rrule", "ต้องระบุกฎการรายงานซ้ำ (rrule) หรือวันครบกำหนด (due_at)",
                      "a reporting rule needs an rrule or a one-off due_at")

    slots = [_slot(nominal, coverage, holiday_rule, window) for nominal in nominal_dues]
    _ensure_one_slot_per_period(slots)
    return slots


def _slot(nominal: datetime, coverage: Coverage, holiday_rule: HolidayRule, window: timedelta) -> PeriodSlot:
    period = period_covered(nominal.date(), coverage)
    due_date, reason = shift_for_holidays(nominal.date(), holiday_rule)
    due = datetime.combine(due_date, nominal.timetz()).astimezone(timezone.utc)
    return PeriodSlot(period=period.label, period_start=period.start, period_end=period.end,
                      opens_at=due - window, due_at=due,
                      nominal_due_at=nominal.astimezone(timezone.utc), shifted_reason=reason)


def _ensure_one_slot_per_period(slots: list[PeriodSlot]) -> None:
    seen: set[str] = set()
    for slot in slots:
        if slot.period in seen:
            raise invalid("covers", f"กฎนี้มีวันครบกำหนดมากกว่าหนึ่งครั้งสำหรับงวด {slot.period} "
                                    "กรุณาตรวจสอบความถี่หรือรูปแบบงวดรายงาน (covers)",
                          f"the rule has more than one due date for period {slot.period}; "
                          "check its frequency or the period coverage (covers)")
        seen.add(slot.period)


def _expand_recurrence(text: str, dtstart, until, due_time_local: str,
                       date_range: tuple[date, date] | None) -> tuple[str, list[datetime]]:
    parts = _parse_rrule_parts(text)
    if dtstart is None:
        raise invalid("dtstart", "กฎการรายงานซ้ำต้องมีวันเริ่มต้น (dtstart)",
                      "a recurring rule needs a start date (dtstart)")
    due_time = _parse_local_time(due_time_local)
    start = datetime.combine(_local_date(dtstart, "dtstart"), due_time)

    last_dates = [day for day in (parts.pop("until", None),
                                  _local_date(until, "until") if until is not None else None) if day]
    last_date = min(last_dates) if last_dates else None
    if "count" not in parts and last_date is None and date_range is None:
        raise invalid("rrule", "กฎการรายงานซ้ำไม่มีวันสิ้นสุด กรุณาระบุ COUNT, UNTIL หรือช่วงวันที่ต้องการ (between)",
                      "the recurring rule never ends; give COUNT, UNTIL, until or a between range")
    if last_date is not None and "count" not in parts:  # dateutil refuses COUNT with UNTIL
        parts["until"] = datetime.combine(last_date, time.max)

    frequency = parts.pop("freq")
    rule = du.rrule(_FREQUENCIES[frequency], dtstart=start, **parts)
    if date_range is not None:
        first = datetime.combine(date_range[0], time.min)
        last = datetime.combine(date_range[1], time.max)
        occurrences = rule.between(first, last, inc=True)
    else:
        occurrences = list(islice(rule, MAX_SLOTS + 1))
    if last_date is not None:
        occurrences = [occurrence for occurrence in occurrences if occurrence.date() <= last_date]
    if date_range is None and not occurrences:
        raise invalid("rrule", "กฎการรายงานซ้ำนี้ไม่มีวันครบกำหนดเลย", "the recurring rule produces no due date")
    if len(occurrences) > MAX_SLOTS:
        raise invalid("rrule", f"กฎนี้สร้างวันครบกำหนดเกิน {MAX_SLOTS} ครั้ง กรุณาจำกัดช่วงเวลา",
                      f"the rule produces more than {MAX_SLOTS} due dates; narrow its range")
    return frequency, [occurrence.replace(tzinfo=BANGKOK) for occurrence in occurrences]


# --- RRULE parsing ----------------------------------------------------------------------------

_FREQUENCIES = {"MONTHLY": du.MONTHLY, "YEARLY": du.YEARLY}
_WEEKDAYS = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR, "SA": du.SA, "SU": du.SU}
# RRULE part → (dateutil keyword, largest absolute value, negatives allowed)
_NUMBER_LISTS = {
    "BYMONTH": ("bymonth", 12, False),
    "BYMONTHDAY": ("bymonthday", 31, True),
    "BYYEARDAY": ("byyearday", 366, True),
    "BYWEEKNO": ("byweekno", 53, True),
    "BYSETPOS": ("bysetpos", 366, True),
}
_TIME_OF_DAY_PARTS = {"BYHOUR", "BYMINUTE", "BYSECOND"}
_BYDAY_ITEM = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL_VALUE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?")


def _parse_rrule_parts(text: str) -> dict:
    """Validate an RRULE strictly (dateutil silently accepts BYMONTHDAY=40, INTERVAL=0, …)."""
    body = text.strip()
    body = body[len("RRULE:"):] if body.upper().startswith("RRULE:") else body
    parts: dict = {}
    seen: set[str] = set()
    for item in body.split(";"):
        name, sep, value = item.partition("=")
        name, value = name.strip().upper(), value.strip().upper()
        if not sep or not name or not value:
            raise _bad_rrule(text, f"ส่วน {item!r} ต้องอยู่ในรูป ชื่อ=ค่า", f"part {item!r} is not NAME=VALUE")
        if name in seen:
            raise _bad_rrule(text, f"ระบุ {name} ซ้ำ", f"{name} is given twice")
        seen.add(name)
        if name == "FREQ":
            if value not in _FREQUENCIES:
                raise _bad_rrule(text, f"ความถี่ {value} ใช้ไม่ได้ (ใช้ได้: MONTHLY, YEARLY)",
                                 f"frequency {value} is not supported for reporting (use MONTHLY or YEARLY)")
            parts["freq"] = value
        elif name in ("INTERVAL", "COUNT"):
            parts[name.lower()] = _positive_int(text, name, value)
        elif name == "UNTIL":
            parts["until"] = _parse_until(text, value)
        elif name in _NUMBER_LISTS:
            keyword, largest, negatives = _NUMBER_LISTS[name]
            parts[keyword] = tuple(_bounded_int(text, name, item_value, largest, negatives)
                                   for item_value in value.split(","))
        elif name == "BYDAY":
            parts["byweekday"] = tuple(_parse_byday(text, item_value) for item_value in value.split(","))
        elif name == "WKST":
            if value not in _WEEKDAYS:
                raise _bad_rrule(text, f"WKST {value} ไม่ใช่ชื่อวัน (MO…SU)", f"WKST {value} is not a weekday (MO…SU)")
            parts["wkst"] = _WEEKDAYS[value]
        elif name in _TIME_OF_DAY_PARTS:
            raise _bad_rrule(text, f"{name} ใช้ไม่ได้ เวลาครบกำหนดกำหนดด้วย due_time_local",
                             f"{name} is not allowed; the time of day comes from due_time_local")
        else:
            raise _bad_rrule(text, f"ไม่รู้จัก {name}", f"unknown rule part {name}")
    if "freq" not in parts:
        raise _bad_rrule(text, "ต้องระบุ FREQ", "FREQ is required")
    if "count" in parts and "until" in parts:
        raise _bad_rrule(text, "ระบุ COUNT และ UNTIL พร้อมกันไม่ได้", "COUNT and UNTIL cannot both be given")
    return parts


def _positive_int(text: str, name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise _bad_rrule(text, f"{name} ต้องเป็นจำนวนเต็มบวก (ได้รับ {value})",
                         f"{name} must be a positive whole number (got {value})")
    return int(value)


def _bounded_int(text: str, name: str, value: str, largest: int, negatives: bool) -> int:
    number = int(value) if re.fullmatch(r"[+-]?\d+", value) else None
    if number is None or not (1 <= abs(number) <= largest) or (number < 0 and not negatives):
        low = -largest if negatives else 1
        raise _bad_rrule(text, f"{name}={value} ต้องอยู่ระหว่าง {low} ถึง {largest} และไม่เป็นศูนย์",
                         f"{name}={value} must be between {low} and {largest}, not zero")
    return number


def _parse_byday(text: str, value: str):
    match = _BYDAY_ITEM.fullmatch(value)
    ordinal = int(match.group(1)) if match and match.group(1) else None
    if match is None or (ordinal is not None and not 1 <= abs(ordinal) <= 53):
        raise _bad_rrule(text, f"BYDAY {value} ไม่ถูกต้อง (เช่น MO, 1MO, -1FR)",
                         f"BYDAY {value} is not valid (e.g. MO, 1MO, -1FR)")
    weekday = _WEEKDAYS[match.group(2)]
    return weekday(ordinal) if ordinal is not None else weekday


def _parse_until(text: str, value: str) -> date:
    match = _UNTIL_VALUE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second, utc = match.groups()
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        raise _bad_rrule(text, f"UNTIL {value} ไม่ใช่วันที่ (เช่น 20220930)",
                         f"UNTIL {value} is not a date (e.g. 20220930)") from None
    # An RFC 5545 UNTIL in UTC ("…Z") ends on the Bangkok date of that instant.
    return moment.replace(tzinfo=timezone.utc).astimezone(BANGKOK).date() if utc else moment.date()


def _bad_rrule(text: str, reason_th: str, reason_en: str) -> InputError:
    return invalid("rrule", f"กฎการรายงานซ้ำ {text!r} ไม่ถูกต้อง: {reason_th}",
                   f"invalid recurrence rule {text!r}: {reason_en}")


# --- Small parsers ----------------------------------------------------------------------------

_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?)?")


def parse_duration(text: str, field: str = "window_opens_before") -> timedelta:
    """An ISO 8601 duration in weeks, days, hours and minutes: P10D, PT12H, P1DT6H, P2W.

    Months and years are refused: their length varies, so "opens one month before" is ambiguous.
    """
    match = _DURATION.fullmatch(text.strip().upper()) if isinstance(text, str) else None
    if match is None or not any(match.groups()):
        raise invalid(field, f"ระยะเวลา {text!r} ไม่ถูกต้อง ใช้รูปแบบ ISO 8601 เป็นวันหรือชั่วโมง เช่น P10D หรือ PT12H",
                      f"duration {text!r} is not valid; use ISO 8601 days or hours, e.g. P10D or PT12H")
    weeks, days, hours, minutes = (int(group or 0) for group in match.groups())
    duration = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
    if not duration:
        raise invalid(field, "ระยะเวลาต้องมากกว่าศูนย์", "the duration must be longer than zero")
    return duration


def _parse_local_time(text: str) -> time:
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", from_thai_digits(text).strip()) if isinstance(text, str) else None
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise invalid("due_time_local", f"เวลา {text!r} ไม่ถูกต้อง ใช้รูปแบบ ชั่วโมง:นาที เช่น 16:30",
                      f"time {text!r} is not valid; use HH:MM, e.g. 16:30")
    return time(int(match.group(1)), int(match.group(2)))


def _as_bangkok(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime):
        raise invalid(field, "ต้องเป็นวันและเวลา", "must be a date and time")
    return moment.astimezone(BANGKOK) if moment.tzinfo else moment.replace(tzinfo=BANGKOK)


def _local_date(moment: date | datetime, field: str) -> date:
    if isinstance(moment, datetime):
        return _as_bangkok(moment, field).date()
    if isinstance(moment, date):
        return moment
    raise invalid(field, "ต้องเป็นวันที่", "must be a date")


def _date_range(between) -> tuple[date, date]:
    try:
        first, last = between
    except (TypeError, ValueError):
        raise invalid("between", "ต้องเป็นคู่วันที่ (เริ่ม, สิ้นสุด)",
                      "must be a (first, last) pair of dates") from None
    first, last = _local_date(first, "between"), _local_date(last, "between")
    if first > last:
        raise invalid("between", "วันเริ่มต้องไม่อยู่หลังวันสิ้นสุด", "the first date must not be after the last")
    return first, last
