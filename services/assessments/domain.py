"""Pure rules of assessments, over plain data (rows as mappings, small dataclasses): no database,
no broker, no file parser. The use-case modules load the facts and store the outcome; what is
decided in between is decided here, so it is unit-tested without SQLite
(tests/unit/test_assessments_domain.py).

- Obligation states and deadlines: effective deadline (extensions included), on time or late,
  missed, what a submission or a review turns the state into, when a report closes and when a
  returned report is awaited again (``Settings``, built once by ``bootstrap``).
- What a value must look like: ``IndicatorRule`` and ``parse_value`` (the same check for a form, a
  JSON batch and a file; ``bulk`` reads files and applies it).
- Whether a submission is acceptable: ``check_window`` (the obligation: whose, open, closed, the
  unit still existing) then ``check_values`` (the indicators and their values against their rules).
- Who may act for a unit (``may_act_for``: the unit or one above it, ``shared.orgtree``), which
  target applies (``target_of``: ``shared.indicators``' precedence, by the unit as it was in the
  period), and a year's achievement (``yearly_achievement``: ``shared.indicators``' achievement and
  at-risk rules, re-exported here with ``misses_target``).

Errors are ``InputError`` naming the field; a rule raises, the shell maps nothing.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared import indicators, orgtree
from shared.errors import InputError, forbidden, invalid
from shared.indicators import achievement, at_risk, misses_target  # noqa: F401  (the one rule, re-exported)
from shared.thai import fiscal_year_be, fiscal_year_of_period, from_thai_digits
from shared.unit_versions import version_for_period
from shared.vocabulary import CanonicalDirection as Direction
from shared.vocabulary import ObligationState, ValueType


# open; submitted (a submission waits for review); accepted; returned (the supervisor sent it back:
# resubmit by resubmit_due_at); missed (the deadline passed without any submission); cancelled
O = ObligationState
# The only state the deadline sweep turns into MISSED once its effective due time has passed. A
# returned report was reported: it awaits its resubmission, it is never missing (issue #15).
SWEEPABLE = (O.OPEN,)
SUBMITTABLE = {O.OPEN, O.SUBMITTED, O.RETURNED, O.MISSED}


@dataclass(frozen=True)
class Settings:
    """The service's time policy. These defaults are the documented ones; ``bootstrap`` builds the
    running service's from the environment (``THONGTHIN_OBLIGATION_HORIZON_DAYS``)."""

    # obligations exist this far ahead (units see what they will owe; a registry change dated ahead is
    # applied to the periods already opened)
    horizon: timedelta = timedelta(days=45)
    closes_after: timedelta = timedelta(days=30)      # submissions refused this long after the due time
    resubmit_within: timedelta = timedelta(days=7)    # a returned report is awaited again this long


DEFAULTS = Settings()


# --- deadlines and states ------------------------------------------------------------------------

def effective_due(due_at: datetime, extended_due_at: datetime | None) -> datetime:
    return max(due_at, extended_due_at) if extended_due_at else due_at


def is_on_time(submitted_at: datetime, due_at: datetime, extended_due_at: datetime | None = None) -> bool:
    """Server time against the effective deadline, extensions included; the due instant counts."""
    return submitted_at <= effective_due(due_at, extended_due_at)


def is_missed(state: str, now: datetime, due_at: datetime, extended_due_at: datetime | None) -> bool:
    return state in SWEEPABLE and now > effective_due(due_at, extended_due_at)


def resubmission_on_time(submitted_at: datetime, returned_on_time: bool | None,
                         resubmit_due_at: datetime | None) -> bool | None:
    """A report resubmitted by its resubmission deadline keeps the timeliness of the report that
    was returned (None: not a resubmission within that deadline, judge it as any submission)."""
    if returned_on_time is None or resubmit_due_at is None or submitted_at > resubmit_due_at:
        return None
    return returned_on_time


def submission_on_time(now: datetime, obligation: Mapping, returned_on_time: bool | None) -> bool:
    """On time by the resubmission rule for a returned report, else by the effective deadline."""
    on_time = resubmission_on_time(now, returned_on_time, obligation.get("resubmit_due_at"))
    return is_on_time(now, obligation["due_at"], obligation["extended_due_at"]) if on_time is None else on_time


def state_after_submission(state: str) -> ObligationState:
    if state not in SUBMITTABLE:
        raise InputError("conflict", "obligation_id", "รายงานนี้ได้รับการรับรองแล้วหรือถูกยกเลิก ส่งซ้ำไม่ได้",
                         f"a {state} obligation takes no more submissions", status=409)
    return O.SUBMITTED


def closes_at(due_at: datetime, settings: Settings = DEFAULTS) -> datetime:
    """Submissions are refused this long after the due time."""
    return due_at + settings.closes_after


def resubmit_due(now: datetime, obligation: Mapping, requested: datetime | None,
                 settings: Settings = DEFAULTS) -> datetime:
    """When a returned report is awaited again: as the reviewer asked, by default a week, and
    never before the report's own (effective) deadline; it must lie ahead."""
    due = requested or max(now + settings.resubmit_within,
                           effective_due(obligation["due_at"], obligation["extended_due_at"]))
    if due <= now:
        raise invalid("resubmit_due_at", "กำหนดส่งแก้ไขต้องอยู่หลังเวลาปัจจุบัน",
                      "the resubmission deadline must be in the future")
    return due


def extension_granted(obligation: Mapping, requested_due_at: datetime, settings: Settings = DEFAULTS) -> dict:
    """The obligation's new columns when an extension is granted: the new due time, a closing no
    earlier than before, and a missed report reopened (the miss stays on record)."""
    values = {"extended_due_at": requested_due_at,
              "closes_at": max(obligation["closes_at"] or requested_due_at, requested_due_at + settings.closes_after)}
    if obligation["state"] == O.MISSED:
        values["state"] = O.OPEN
    return values


# --- what a value must look like -------------------------------------------------------------------

@dataclass(frozen=True)
class IndicatorRule:
    """What a value of one indicator must look like; build it from an ``IndicatorSpec`` and a target."""

    code: str
    value_type: ValueType = "number"
    minimum: float | None = None
    maximum: float | None = None
    target: float | None = None
    direction: Direction = "increase"

    @classmethod
    def from_spec(cls, spec, target: float | None = None) -> IndicatorRule:
        """From anything shaped like ``IndicatorSpec`` (code, value_type, minimum, maximum, direction)."""
        return cls(code=spec.code, value_type=spec.value_type, minimum=spec.minimum,
                   maximum=spec.maximum, target=target, direction=spec.direction)

    def misses_target(self, value: float) -> bool:
        return indicators.misses_target(self.direction, value, self.target)


def indicator_rule(code: str, row: Mapping | None, target: float | None) -> IndicatorRule:
    """The rule of an indicator from its stored row (an unknown indicator: any number)."""
    if row is None:
        return IndicatorRule(code=code, target=target)
    return IndicatorRule(code=code, value_type=row["value_type"], minimum=row["minimum"], maximum=row["maximum"],
                         target=target, direction=row["direction"])


class ValueProblem(Exception):
    def __init__(self, code: str, message_th: str, message_en: str):
        super().__init__(code)
        self.code, self.message_th, self.message_en = code, message_th, message_en


_TRUE_WORDS = {"1", "TRUE", "YES", "Y", "ใช่", "มี"}
_FALSE_WORDS = {"0", "FALSE", "NO", "N", "ไม่ใช่", "ไม่มี"}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def plain_text(cell) -> str:
    """A cell as trimmed text: Excel numbers lose a spurious ".0" (unit code 820801.0 → 820801)."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def parse_value(raw, rule: IndicatorRule) -> float:
    """A value typed in a form, a JSON batch or a file cell, as a number the rule accepts; raises
    ``ValueProblem`` (not a number, wrong type, out of range)."""
    if rule.value_type == "boolean":
        return _parse_boolean(raw)
    if isinstance(raw, (bool, date, time)):  # a datetime is a date
        raise _not_a_number(raw)
    if isinstance(raw, (int, float)):
        number = float(raw)
    else:
        text = from_thai_digits(str(raw)).strip().replace("\u2212", "-")
        if rule.value_type == "percent":
            text = text.removesuffix("%").rstrip()
        if _GROUPED_NUMBER.fullmatch(text):
            text = text.replace(",", "")
        if not _NUMBER.fullmatch(text):
            raise _not_a_number(raw)
        number = float(text)
    if not math.isfinite(number):
        raise _not_a_number(raw)

    if rule.value_type in ("integer", "count") and not number.is_integer():
        raise ValueProblem("wrong_type", f"ตัวชี้วัด {rule.code} ต้องเป็นจำนวนเต็ม (ได้รับ {raw})",
                           f"indicator {rule.code} takes whole numbers (got {raw})")
    minimum = rule.minimum
    if rule.value_type == "count":
        minimum = max(minimum if minimum is not None else 0.0, 0.0)
    if (minimum is not None and number < minimum) or (rule.maximum is not None and number > rule.maximum):
        allowed_th, allowed_en = _range_text(minimum, rule.maximum)
        raise ValueProblem("out_of_range", f"ค่า {format_number(number)} อยู่นอกช่วงที่อนุญาต ({allowed_th})",
                           f"value {format_number(number)} is out of range ({allowed_en})")
    return number


def _parse_boolean(raw) -> float:
    if isinstance(raw, bool):
        return float(raw)
    word = plain_text(raw).upper()
    if word in _TRUE_WORDS:
        return 1.0
    if word in _FALSE_WORDS:
        return 0.0
    raise ValueProblem("wrong_type", f"ค่า {raw!r} ต้องเป็นใช่/ไม่ใช่ (1/0)", f"value {raw!r} must be yes/no (1/0)")


def _not_a_number(raw) -> ValueProblem:
    return ValueProblem("not_a_number", f"ค่า {raw!r} ไม่ใช่ตัวเลข", f"value {raw!r} is not a number")


def _range_text(minimum: float | None, maximum: float | None) -> tuple[str, str]:
    if minimum is not None and maximum is not None:
        return (f"{format_number(minimum)} ถึง {format_number(maximum)}",
                f"{format_number(minimum)} to {format_number(maximum)}")
    if minimum is not None:
        return f"อย่างน้อย {format_number(minimum)}", f"at least {format_number(minimum)}"
    return f"ไม่เกิน {format_number(maximum)}", f"at most {format_number(maximum)}"


def format_number(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


# --- the org tree and targets ---------------------------------------------------------------------

def may_act_for(actor: str | None, unit_code: str, parent_of: Mapping[str, str | None]) -> bool:
    """A unit acts for itself and for the units below it (None: the system itself)."""
    return actor is None or orgtree.is_within(unit_code, actor, parent_of)


def unit_in_period(unit: Mapping | None, versions: Iterable[Mapping] | None, period_start: date | None,
                   period_end: date | None) -> Mapping | None:
    """The unit as it was in a period when the period and its versions are known, else as it stands."""
    if period_start is not None and period_end is not None and versions:
        return version_for_period(versions, period_start, period_end) or unit
    return unit


def target_of(by_scope: Mapping[str, float | None], unit_code: str, unit: Mapping | None) -> float | None:
    """The most specific target of a unit (``shared.indicators.resolve_target``: the unit, its LAO
    type, its level, then everyone), from its row as it was in the period."""
    return indicators.resolve_target(by_scope, unit_code, unit["level"] if unit else None,
                                     unit["lao_type"] if unit else None)[1]


def fiscal_year_reported(obligation: Mapping) -> int:
    """The fiscal year of the period reported, never of the due date: FY2563 values due in 2569
    are FY2563 values, judged against FY2563 targets."""
    return fiscal_year_of_period(obligation["period"]) or fiscal_year_be(obligation["period_start"]
                                                                          or obligation["due_at"])


# --- whether a submission is acceptable -------------------------------------------------------------

def unit_closed_error(code: str, period: str, closed: date, successors: list[str], field: str) -> InputError:
    """A unit that had closed by the start of a period owes no report for it: the error that says
    so (when and into whom)."""
    into_th = f" (รวมเป็น/แยกเป็น {', '.join(successors)} ซึ่งรับภาระรายงานแทน)" if successors else ""
    into_en = f" (taken over by {', '.join(successors)}, which report from then on)" if successors else ""
    return InputError("unit_closed", field,
                      f"หน่วยงาน {code} สิ้นสภาพแล้วเมื่อ {closed.isoformat()}{into_th} "
                      f"จึงไม่ต้องรายงานงวด {period}",
                      f"unit {code} closed on {closed.isoformat()}{into_en}: it reports nothing for "
                      f"period {period}", status=409)


def closure_matters(obligation: Mapping, unit_code: str) -> bool:
    """Whether a submission to this obligation must look at the unit having closed: an obligation
    of that very unit not reported on yet (a report once made may be reviewed and replaced)."""
    return obligation["unit_code"] == unit_code and obligation["state"] in (O.OPEN, O.MISSED, O.CANCELLED)


def check_window(obligation: Mapping, unit_code: str, now: datetime, prefix: str = "",
                 closed: InputError | None = None) -> None:
    """The obligation takes this unit's submission now: the unit owes it, the unit had not closed
    (``closed``: the error saying it had, see ``closure_matters``), the window is open and not yet
    closed (an extension keeps it open), and the state takes a submission."""
    if obligation["unit_code"] != unit_code:
        raise forbidden(f"{prefix}unit_code", "หน่วยงานนี้ไม่มีหน้าที่รายงานรายการนี้", "this unit does not owe this report")
    if closed is not None and closure_matters(obligation, unit_code):
        raise closed
    if obligation["opens_at"] and now < obligation["opens_at"]:
        raise invalid(f"{prefix}obligation_id", "ยังไม่เปิดให้ส่งรายงาน", "the submission window is not open yet")
    if obligation["closes_at"] and now > max(obligation["closes_at"],
                                             effective_due(obligation["due_at"], obligation["extended_due_at"])):
        raise invalid(f"{prefix}obligation_id", "ปิดรับรายงานงวดนี้แล้ว", "the submission window has closed")
    state_after_submission(obligation["state"])


def check_values(wanted: list[str], values, rules: Mapping[str, IndicatorRule], prefix: str = "") -> list[dict]:
    """Every indicator the obligation takes, once, each value as its rule reads it and a note
    where it misses its target. ``values``: items with indicator_code, value and note; ``rules``:
    the rule of each wanted indicator, its target resolved. Returns the checked values to store."""
    given = [value.indicator_code for value in values]
    if len(set(given)) != len(given):
        raise invalid(f"{prefix}values", "ตัวชี้วัดซ้ำในการส่งครั้งเดียว", "an indicator appears twice in one submission")
    for index, code in enumerate(given):
        if code not in wanted:
            raise invalid(f"{prefix}values[{index}].indicator_code", f"รายงานนี้ไม่มีตัวชี้วัด {code}",
                          f"this obligation does not take indicator {code}")
    if set(given) != set(wanted):
        missing = sorted(set(wanted) - set(given))
        raise invalid(f"{prefix}values", f"ยังขาดตัวชี้วัด {', '.join(missing[:5])}",
                      f"missing indicators: {', '.join(missing[:5])}")
    checked = []
    for index, value in enumerate(values):
        rule = rules[value.indicator_code]
        try:
            number = parse_value(value.value, rule)
        except ValueProblem as problem:
            raise InputError(problem.code, f"{prefix}values[{index}].value", problem.message_th, problem.message_en,
                             status=422) from None
        missed = rule.misses_target(number)
        if missed and not (value.note and value.note.strip()):
            raise InputError("note_required", f"{prefix}values[{index}].note",
                             f"ค่าไม่ถึงเป้าหมาย ({rule.target:g}) ต้องอธิบายเหตุผล",
                             f"the value misses the target ({rule.target:g}): add a short explanation", status=422)
        checked.append({"indicator_code": value.indicator_code, "value": number, "note": value.note,
                        "target_missed": missed})
    return checked


# --- achievement ---------------------------------------------------------------------------------

def months_elapsed(now: datetime, year_start: date) -> int:
    """Months of a fiscal year begun by ``now`` (the current one counted), 0 to 12."""
    return max(0, min(12, (now.year - year_start.year) * 12 + now.month - year_start.month + 1))


def yearly_achievement(code: str, fiscal_year: int, points: Iterable[tuple[str, datetime, float]],
                       rule: IndicatorRule, elapsed: int) -> dict:
    """One indicator's year from its reported (period, submitted_at, value) points: the latest
    value of each period; a count adds up over the year, any other type stands at its latest."""
    latest_per_period = {}
    for period, _submitted_at, value in sorted(points, key=lambda p: (p[0], p[1])):
        latest_per_period[period] = value
    values = [latest_per_period[p] for p in sorted(latest_per_period)]
    cumulative = indicators.is_cumulative(rule.value_type)
    actual = sum(values) if cumulative else values[-1]
    return {
        "indicator_code": code, "fiscal_year_be": fiscal_year, "direction": rule.direction,
        "target": rule.target, "actual": actual, "periods_reported": len(values),
        "status": achievement(rule.direction, actual, rule.target),
        "at_risk": at_risk(rule.direction, cumulative, values, elapsed, 12, rule.target),
        "trend": [{"period": p, "value": latest_per_period[p]} for p in sorted(latest_per_period)]}
