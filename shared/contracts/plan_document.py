"""The plan file format ``thongthin.plan/v1``: the normalized plan document, as imported and exported.

This is a contract: the plans service reads and writes it (``services/plans/development_plans/`` adapts other
source shapes to it and flattens it into the plan tree), and the gateway documents it as the body of
``POST /api/v1/plans`` and the answer of a plan export. Pure pydantic; every problem is a
``ThaiValueError`` (Thai and English), reported by the reader with the field's path in the file.

Its tree:

    plan (header: id, type, owner, titles, BE period, parent plans, vision/missions/values)
    strategic_issues[] -> goals[] -> indicators[] (targets per fiscal year BE, per unit/group)
                       -> strategies[] -> elements[] (generic: programme, project, tactic, ...)
                       -> elements[]
    goals[] / strategies[] / indicators[] / elements[] at plan level, placed in the tree by
        issue_id / goal_id / parent_id (or left at plan level: the Tai Mueang plan has no
        issues or goals)
    links[]: from an element (or the plan) to an element of this or another plan

Text is kept byte for byte (no stripping, no normalisation). Source fields that have no slot of
their own are kept in ``attributes`` (printed forms, notes, source lines, inferred flags).
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, \
    field_serializer, model_validator

from shared.thai import ThaiInputError, from_thai_digits, parse_be_year
from shared.validation import TEXT_MAX, LongText, ThaiValueError, control_character_problem, one_line
from shared.vocabulary import Direction, ValueType

__all__ = [
    "FORMAT", "ISSUE", "GOAL", "STRATEGY", "INDICATOR", "TYPED_KINDS", "PERCENT_UNITS", "NO_TARGET_MARKS",
    "PlanDocument", "PlanHeader", "StrategicIssue", "Goal", "Strategy", "Indicator", "Element", "Link",
    "Statement", "Target", "UnitTargets", "DeclaredTotal", "Flag", "plain_number",
]

FORMAT = "thongthin.plan/v1"

# Kinds with their own place in the document; generic elements take any other kind.
ISSUE, GOAL, STRATEGY, INDICATOR = "strategic_issue", "goal", "strategy", "indicator"
TYPED_KINDS = (ISSUE, GOAL, STRATEGY, INDICATOR)

PERCENT_UNITS = {"percent", "ร้อยละ", "%", "percent_reduction", "ร้อยละการลดลง"}
NO_TARGET_MARKS = {"-", "–", "—", ""}


# --- the normalized document ----------------------------------------------------------------

class Strict(BaseModel):
    # no str_strip_whitespace: Thai text is kept byte for byte
    model_config = ConfigDict(extra="forbid")


def _be_year(value: Any) -> int:
    try:
        return parse_be_year(value, "year")
    except ThaiInputError as exc:
        raise ThaiValueError(exc.message_en, exc.message_th) from None


def _jsonable(value: Any) -> Any:
    """Attributes are stored as JSON: make them JSON values now, so a round trip is exact."""
    if isinstance(value, dict):
        return {_jsonable(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        if problem := control_character_problem(value):
            raise ThaiValueError(f"attributes: {problem[0]}", f"ข้อมูลประกอบ{problem[1]}")
        return value
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ThaiValueError("attributes must not hold NaN or infinity",
                                 "ข้อมูลประกอบต้องไม่มีค่า NaN หรืออนันต์")
        return value
    raise ThaiValueError(f"attributes must be JSON values, not {type(value).__name__}",
                         "ข้อมูลประกอบต้องเป็นค่าแบบ JSON")


def _number(value: Any, what_en: str = "a target", what_th: str = "ค่าเป้าหมาย") -> float | None:
    """A target-like number: None or a dash means 'none' (not zero); Thai digits accepted."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ThaiValueError(f"{what_en} must be a number, or null / '-' for none (got {value!r})",
                             f"{what_th}ต้องเป็นตัวเลข หรือ '-' หากไม่มี (ได้รับ {value!r})")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = from_thai_digits(value).strip().replace(",", "")
        if text in NO_TARGET_MARKS:
            return None
        try:
            number = float(text)
        except ValueError:
            raise ThaiValueError(
                f"{what_en} must be a number, or null / '-' for none (got {value!r})",
                f"{what_th}ต้องเป็นตัวเลข หรือ '-' หากไม่มี (ได้รับ {value!r})") from None
    else:
        raise ThaiValueError(f"{what_en} must be a number, or null / '-' for none (got {value!r})",
                             f"{what_th}ต้องเป็นตัวเลข หรือ '-' หากไม่มี (ได้รับ {value!r})")
    if not math.isfinite(number):
        raise ThaiValueError(f"{what_en} must be a finite number", f"{what_th}ต้องเป็นตัวเลขจำกัด")
    return number


def plain_number(value: float | None) -> float | int | None:
    """A whole number as an int (2568, not 2568.0), for output."""
    return int(value) if value is not None and float(value).is_integer() else value


BEYear = Annotated[int, BeforeValidator(_be_year)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^\S+$"), AfterValidator(one_line)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
# Text in a plan may span lines (it is kept as printed) but holds no other control character.
Text = LongText(TEXT_MAX, 1)
OptText = LongText(TEXT_MAX)
Attributes = Annotated[dict[str, Any], BeforeValidator(_jsonable)]


class Statement(Strict):
    """Vision, a mission or the values: text with its provenance."""
    text_th: Text
    text_en: OptText | None = None
    attributes: Attributes = Field(default_factory=dict)


class Target(Strict):
    """One yearly target. value None = no target that year (a printed "-"), which is not 0.

    Shorthand on input: ``2568: 5`` or ``2568: "-"`` instead of ``2568: {value: 5}``.
    """
    value: float | None
    printed: OptText | None = None
    provenance: OptText | None = None
    inferred: bool = False

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            dash = isinstance(data, str) and data.strip() in NO_TARGET_MARKS
            data = {"value": data, **({"printed": data} if dash else {})}
        elif "value" not in data:
            raise ThaiValueError("a target needs a value (null or '-' for no target)",
                                 "ต้องระบุค่าเป้าหมาย (null หรือ '-' หากไม่มีเป้าหมาย)")
        return {**data, "value": _number(data["value"])}

    @field_serializer("value")
    def _value_out(self, value: float | None):
        return plain_number(value)


class UnitTargets(Strict):
    """Targets for one unit (org registry code) or one group of units (e.g. level:lao)."""
    unit_code: Code | None = None
    unit_group: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(one_line)] | None = None
    targets: dict[BEYear, Target]

    @model_validator(mode="after")
    def _one_scope(self):
        if (self.unit_code is None) == (self.unit_group is None):
            raise ThaiValueError("give either unit_code or unit_group",
                                 "ต้องระบุ unit_code หรือ unit_group อย่างใดอย่างหนึ่ง")
        return self


class DeclaredTotal(Strict):
    """A total printed in the source beside the yearly targets; checked, never corrected."""
    value: float | None
    printed: OptText | None = None
    semantics: Literal["SUM", "CONSTANT", "LAST"] = "SUM"
    semantics_inferred: bool = False

    @model_validator(mode="before")
    @classmethod
    def _number(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            data = {"value": data}
        return {**data, "value": _number(data.get("value"), "the declared total", "ยอดรวม")}

    @field_serializer("value")
    def _value_out(self, value: float | None):
        return plain_number(value)


class Flag(Strict):
    """An anomaly found on import (computed; any value given on input is replaced)."""
    code: str
    message_th: str
    message_en: str
    details: Attributes = Field(default_factory=dict)


class Indicator(Strict):
    id: Code
    goal_id: Code | None = Field(default=None, description="plan-level indicators only")
    name_th: Text
    name_en: OptText | None = None
    unit: OptText | None = Field(default=None, description="unit code, e.g. percent, count, times")
    unit_th: OptText | None = Field(default=None, description="unit as printed, e.g. ร้อยละ, ครั้ง")
    value_type: ValueType | None = None
    direction: Direction | None = Field(default=None, description="increase / decrease / maintain / none "
                                                                   "(higher / lower accepted)")
    direction_basis: Literal["stated", "inferred"] | None = None
    subject: OptText | None = None
    targets_status: Literal["stated", "not_stated", "stated_in_prose"] | None = None
    targets: dict[BEYear, Target] = Field(default_factory=dict)
    unit_targets: list[UnitTargets] = Field(default_factory=list)
    declared_total: DeclaredTotal | None = None
    flags: list[Flag] = Field(default_factory=list)
    attributes: Attributes = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _printed_targets(cls, data: Any) -> Any:
        """Targets as printed in the source, a number and the indicator's unit ("๑ แห่ง"): the
        number is the target, the text is kept as ``printed``; a unit other than the indicator's is
        refused (naming the year)."""
        if not isinstance(data, dict):
            return data
        units = {u.strip() for u in (data.get("unit_th"), data.get("unit")) if isinstance(u, str) and u.strip()}
        data = dict(data)
        if isinstance(data.get("targets"), dict):
            data["targets"] = {year: _printed_target(raw, units, year) for year, raw in data["targets"].items()}
        if isinstance(data.get("unit_targets"), list):
            data["unit_targets"] = [
                {**scope, "targets": {year: _printed_target(raw, units, year)
                                      for year, raw in scope["targets"].items()}}
                if isinstance(scope, dict) and isinstance(scope.get("targets"), dict) else scope
                for scope in data["unit_targets"]]
        return data


# A number, then a unit word that does not start with a digit (else "80" would read as 8 in unit "0").
_PRINTED_TARGET = re.compile(r"([+-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+))\s*([^\d\s.,+-].*?)\s*")


def _printed_target(raw: Any, units: set[str], year: Any) -> Any:
    """``"๑ แห่ง"`` → ``{"value": "1", "printed": "๑ แห่ง"}`` when แห่ง is the indicator's unit."""
    target = raw if isinstance(raw, dict) else {"value": raw}
    text = target.get("value")
    if not isinstance(text, str):
        return raw
    match = _PRINTED_TARGET.fullmatch(from_thai_digits(text).strip())
    if match is None:
        return raw
    number, word = match.groups()
    accepted = units | ({"%", "ร้อยละ", "percent"} if units & PERCENT_UNITS else set())
    if word not in accepted:
        shown = ", ".join(sorted(units)) or "-"
        raise ThaiValueError(
            f"target {text!r} for {year} is in {word!r}, but the indicator is measured in {shown}",
            f"ค่าเป้าหมาย {text!r} ปี {year} มีหน่วย {word!r} ไม่ตรงกับหน่วยของตัวชี้วัด ({shown})")
    return {**target, "value": number, "printed": target.get("printed") or text}


class Element(Strict):
    """A generic element of the tree (programme, project, tactic, ...)."""
    id: Code
    kind: Slug
    parent_id: Code | None = Field(default=None, description="plan-level elements only")
    title_th: Text
    title_en: OptText | None = None
    attributes: Attributes = Field(default_factory=dict)
    elements: list["Element"] = Field(default_factory=list)

    @model_validator(mode="after")
    def _generic(self):
        if self.kind in TYPED_KINDS:
            raise ThaiValueError(f"kind {self.kind!r} has its own list in the document",
                                 f"ประเภท {self.kind!r} ต้องอยู่ในรายการของตนเอง")
        return self


class Strategy(Strict):
    id: Code
    issue_id: Code | None = Field(default=None, description="plan-level strategies only")
    title_th: Text
    title_en: OptText | None = None
    attributes: Attributes = Field(default_factory=dict)
    elements: list[Element] = Field(default_factory=list)


class Goal(Strict):
    id: Code
    issue_id: Code | None = Field(default=None, description="plan-level goals only")
    title_th: Text
    title_en: OptText | None = None
    attributes: Attributes = Field(default_factory=dict)
    indicators: list[Indicator] = Field(default_factory=list)
    elements: list[Element] = Field(default_factory=list)


class StrategicIssue(Strict):
    id: Code
    title_th: Text
    title_en: OptText | None = None
    attributes: Attributes = Field(default_factory=dict)
    goals: list[Goal] = Field(default_factory=list)
    strategies: list[Strategy] = Field(default_factory=list)
    elements: list[Element] = Field(default_factory=list)


class Link(Strict):
    """from_id (None = the plan itself) --relation--> to_plan_id / to_id (None = that plan)."""
    from_id: Code | None = None
    relation: Slug = "aligns_to"
    to_plan_id: Code
    to_id: Code | None = None
    basis: Literal["stated", "inferred"] = "stated"
    attributes: Attributes = Field(default_factory=dict)


class PlanHeader(Strict):
    id: Code
    type: Slug = Field(description="strategic, provincial, local_development, ...")
    owner_code: Annotated[str, StringConstraints(min_length=1, max_length=32), AfterValidator(one_line)] | None = None
    owner_name_th: OptText | None = None
    owner_name_en: OptText | None = None
    title_th: Text
    title_en: OptText | None = None
    period_be_start: BEYear
    period_be_end: BEYear
    parent_plan_ids: list[Code] = Field(default_factory=list)
    vision: Statement | None = None
    missions: list[Statement] = Field(default_factory=list)
    values: Statement | None = None
    attributes: Attributes = Field(default_factory=dict)


class PlanDocument(Strict):
    format: Literal["thongthin.plan/v1"] = FORMAT
    source: Attributes = Field(default_factory=dict)
    plan: PlanHeader
    strategic_issues: list[StrategicIssue] = Field(default_factory=list)
    goals: list[Goal] = Field(default_factory=list)
    strategies: list[Strategy] = Field(default_factory=list)
    indicators: list[Indicator] = Field(default_factory=list)
    elements: list[Element] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)


Element.model_rebuild()
