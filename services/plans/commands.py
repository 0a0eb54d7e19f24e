"""Commands the plans service accepts, validated at the edge (field errors in Thai and English)."""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.thai import ThaiInputError, parse_be_year, parse_thai_date
from shared.validation import Moment, ThaiValueError
from shared.vocabulary import Direction

Level = Literal["ministry", "ministry_office", "department", "department_bureau",
                "provincial_office", "district_office", "lao"]
LaoType = Literal["pao", "city_municipality", "town_municipality", "subdistrict_municipality", "sao",
                  "special"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def thai_date(value):
    """Dates may be typed in BE or CE, Thai or Arabic digits: '๓ ม.ค. ๒๕๖๕', '3/1/2565', ISO."""
    if isinstance(value, date) or value is None:
        return value
    try:
        return parse_thai_date(str(value))
    except ThaiInputError as exc:
        raise ThaiValueError(exc.message_en, exc.message_th) from None


class OrgUnitInput(Strict):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    level: Level
    lao_type: LaoType | None = None
    parent_code: str | None = None
    name_th: str = Field(min_length=1)
    name_en: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    subdistrict_code: str | None = None
    contact_email: str | None = Field(default=None, max_length=200)
    # The head of the unit (นายก อปท.): escalations after a missed deadline go to them.
    head_name_th: str | None = Field(default=None, max_length=200)
    head_email: str | None = Field(default=None, max_length=200)
    head_phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{7,14}$")
    valid_from: date = date(2000, 1, 1)
    valid_to: date | None = None

    _dates = field_validator("valid_from", "valid_to", mode="before")(thai_date)

    @model_validator(mode="after")
    def _consistent(self):
        if self.level == "lao" and not self.lao_type:
            raise ThaiValueError("an LAO needs its lao_type", "อปท. ต้องระบุประเภท (lao_type)")
        if self.valid_to and self.valid_to < self.valid_from:
            raise ThaiValueError("valid_to is before valid_from", "วันสิ้นสุดก่อนวันเริ่มต้น")
        return self


class RegisterUnits(Strict):
    units: list[OrgUnitInput] = Field(min_length=1)
    dry_run: bool = False


class AddresseeRule(Strict):
    codes: list[str] | None = None
    level: Level | None = None
    within: str | None = None
    criterion: dict | None = Field(default=None, description='{"attribute": "lao_type", "in": ["sao"]}')

    @model_validator(mode="after")
    def _one_form(self):
        if not (self.codes or self.level or self.within or self.criterion):
            raise ThaiValueError("give codes, a level, a subtree (within) or a criterion",
                                 "ต้องระบุรายการรหัส ระดับ หน่วยงานแม่ หรือเงื่อนไข")
        return self


class IndicatorInput(Strict):
    code: str = Field(min_length=1, max_length=64)
    name_th: str = Field(min_length=1)
    unit_of_measure: str | None = None
    value_type: Literal["number", "integer", "percent", "count", "boolean"] = "number"
    direction: Direction = "increase"
    minimum: float | None = None
    maximum: float | None = None


class ReportingInput(Strict):
    """What the addressees report: one indicator (plus any others in ``more_indicators``), once
    (due_at) or on a recurrence (rrule). A declared range (minimum, maximum) is enforced on every
    value, whichever way it arrives; ``fiscal_year_be`` limits a rule to that fiscal year's periods."""

    indicator_code: str = Field(min_length=1, max_length=64)
    indicator_name_th: str = Field(min_length=1)
    unit_of_measure: str | None = None
    value_type: Literal["number", "integer", "percent", "count", "boolean"] = "number"
    direction: Direction = "increase"
    minimum: float | None = None
    maximum: float | None = None
    period: str | None = Field(default=None, max_length=32)
    opens_at: Moment | None = None
    due_at: Moment | None = None
    rrule: str | None = Field(default=None, max_length=255)
    dtstart: Moment | None = None
    until: Moment | None = None
    due_time_local: str = Field(default="16:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    window_opens_before: str = Field(default="P10D", pattern=r"^P(\d+D)?(T(\d+H)?(\d+M)?)?$")
    holiday_rule: Literal["none", "next_working_day", "previous_working_day"] = "next_working_day"
    fiscal_year_be: int | None = None
    reporting_level: Level | None = None
    more_indicators: list[IndicatorInput] = Field(default_factory=list, max_length=200)

    @field_validator("fiscal_year_be", mode="before")
    @classmethod
    def _be_year(cls, value):
        if value is None:
            return None
        try:
            return parse_be_year(value, "fiscal_year_be")
        except ThaiInputError as exc:
            raise ThaiValueError(exc.message_en, exc.message_th) from None

    @model_validator(mode="after")
    def _once_or_recurring(self):
        if bool(self.due_at) == bool(self.rrule):
            raise ThaiValueError("give either due_at (once) or rrule (recurring)",
                                 "ต้องระบุกำหนดส่งครั้งเดียว (due_at) หรือรอบการรายงาน (rrule) อย่างใดอย่างหนึ่ง")
        if self.due_at and not self.period:
            raise ThaiValueError("a one-off report needs its period label", "ต้องระบุงวดของรายงาน (period)")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ThaiValueError("minimum is above maximum", "ค่าต่ำสุดมากกว่าค่าสูงสุด")
        codes = [self.indicator_code] + [i.code for i in self.more_indicators]
        if len(set(codes)) != len(codes):
            raise ThaiValueError("an indicator is listed twice", "มีตัวชี้วัดซ้ำ")
        for extra in self.more_indicators:
            if extra.minimum is not None and extra.maximum is not None and extra.minimum > extra.maximum:
                raise ThaiValueError(f"minimum is above maximum ({extra.code})", f"ค่าต่ำสุดมากกว่าค่าสูงสุด ({extra.code})")
        return self


class DirectiveItemInput(Strict):
    item_ref: str | None = Field(default=None, max_length=64)
    kind: Literal["order", "guideline", "observation", "inspection_focus"] = "order"
    issuer_code: str | None = None
    issuer_position_th: str | None = None
    topic_th: str | None = None
    text_th: str = Field(min_length=1)
    text_en: str | None = None
    addressees: AddresseeRule
    acknowledge_due_at: Moment | None = None
    reporting: ReportingInput | None = None


class RecordDocument(Strict):
    form: Literal["memo", "letter", "circular", "attachment"] = "memo"
    document_number: str | None = Field(default=None, max_length=160,
                                        description="as printed, Thai digits kept, e.g. มท ๐๘๐๑.๒/ว ๕๒")
    document_date: date
    urgency: Literal["most_urgent", "very_urgent", "urgent", "normal"] = "normal"
    subject_th: str = Field(min_length=1)
    subject_en: str | None = None
    sender_code: str | None = None
    sender_text: str | None = None
    addressee_text: str | None = None
    references: list[str] = Field(default_factory=list, description="ids of earlier documents")
    forwards_document_id: str | None = Field(default=None, min_length=1)
    status: Literal["recorded", "referenced_only"] = "recorded"
    items: list[DirectiveItemInput] = Field(default_factory=list)
    allow_duplicate: bool = Field(default=False, description="record it although a document with the same "
                                  "number, sender and date exists (else 409 naming that document)")

    _date = field_validator("document_date", mode="before")(thai_date)


class IssueDocument(Strict):
    document_id: str
    items: list[str] | None = Field(default=None, min_length=1, max_length=500,
                                    description="ids of the draft items to issue (default: every draft item)")


class IssueDirective(Strict):
    """Record a document with one directive item and issue it at once (the common case)."""

    document_number: str = Field(min_length=1, max_length=160)
    document_date: date
    urgency: Literal["most_urgent", "very_urgent", "urgent", "normal"] = "normal"
    subject_th: str = Field(min_length=1)
    issuer_code: str = Field(min_length=1)
    kind: Literal["order", "guideline", "observation", "inspection_focus"] = "order"
    text_th: str = Field(min_length=1)
    addressees: AddresseeRule
    acknowledge_due_at: Moment | None = None
    reporting: ReportingInput | None = None

    _date = field_validator("document_date", mode="before")(thai_date)


class AcknowledgeAssignment(Strict):
    assignment_id: str
    unit_code: str
    receipt_number: str | None = Field(default=None, max_length=32)
    acknowledged_at: Moment | None = None


class ChangeAssignmentState(Strict):
    assignment_id: str
    unit_code: str
    to_state: Literal["received", "in_progress", "reported", "closed", "not_applicable", "cancelled"]
    note: str | None = Field(default=None, max_length=2000)


class DeclareApplicability(Strict):
    assignment_id: str
    unit_code: str
    applicable: bool
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _reason_when_not(self):
        if not self.applicable and not self.note:
            raise ThaiValueError("say why it does not apply", "ต้องระบุเหตุผลที่ไม่เกี่ยวข้อง")
        return self


class ForwardAssignment(Strict):
    assignment_id: str
    unit_code: str
    addressees: AddresseeRule
    acknowledge_due_at: Moment | None = None


class RegisterReceipt(Strict):
    """ลงทะเบียนรับ: a unit's own receipt number for a document (unique per unit per year)."""

    unit_code: str
    document_id: str
    receipt_no: str = Field(min_length=1, max_length=32, pattern=r"^[0-9๐-๙]+[0-9๐-๙/ -]*$")
    received_on: date
    received_time: str | None = Field(default=None, pattern=r"^([01]?[0-9]|2[0-3])[:.][0-5][0-9]$")
    channel: Literal["paper", "e-saraban", "email", "fax", "hand"] = "paper"
    assignment_id: str | None = None
    routed_from_receipt_id: str | None = None

    _date = field_validator("received_on", mode="before")(thai_date)


class AddAttachment(Strict):
    document_id: str
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(min_length=1, max_length=120)
    content_base64: str = Field(min_length=1)


__all__ = ["AcknowledgeAssignment", "AddAttachment", "ChangeAssignmentState", "DeclareApplicability",
           "ForwardAssignment", "IssueDirective", "IssueDocument", "RecordDocument", "RegisterReceipt",
           "RegisterUnits"]
