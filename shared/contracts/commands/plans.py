"""Commands the plans service accepts, validated at the edge (field errors in Thai and English)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from shared.calendar import parse_period
from shared.unit_versions import ChangeKind
from shared.errors import InputError
from shared.thai import ThaiInputError, parse_be_year
from shared.validation import (ADDRESS_MAX, NAME_MAX, TEXT_MAX, TITLE_MAX, Body, Code, Command, Flag, Line, LongText,
                               Moment, Name, Note, Number, ThaiDate, ThaiValueError, Title, refuse_control_characters,
                               safe_filename)
from shared.vocabulary import Direction, LaoType, Level, Urgency, ValueType


Strict = Command  # every text field below is a Line, LongText or a pattern: no control characters


class OrgUnitInput(Strict):
    """One unit to create or change. A change is partial: a field left out stays as it was, a field
    sent as null is cleared (``model_fields_set`` tells them apart). It takes effect on
    ``effective_date`` (past, today or future; default today in Bangkok); ``valid_from`` sent for an
    existing unit, or ``valid_to`` (a closing), are read as that date too."""
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    level: Level | None = None
    lao_type: LaoType | None = None
    parent_code: Code | None = None
    name_th: Line(NAME_MAX, 1) | None = None
    name_en: Name | None = None
    province_code: Line(16) | None = None
    district_code: Line(16) | None = None
    subdistrict_code: Line(16) | None = None
    contact_email: Line(200) | None = None
    # The head of the unit (นายก อปท.): escalations after a missed deadline go to them.
    head_name_th: Line(200) | None = None
    head_email: Line(200) | None = None
    head_phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{7,14}$")
    valid_from: ThaiDate = date(2000, 1, 1)
    valid_to: ThaiDate | None = None
    change_kind: ChangeKind | None = Field(default=None, description="inferred from what changed when not given")
    effective_date: ThaiDate | None = None
    predecessor_codes: list[Code] = Field(default_factory=list, max_length=50)
    successor_codes: list[Code] = Field(default_factory=list, max_length=50)
    reason: Line(500) | None = None
    force: Flag = False

    @model_validator(mode="after")
    def _consistent(self):
        if self.level == "lao" and "lao_type" in self.model_fields_set and not self.lao_type:
            raise ThaiValueError("an LAO needs its lao_type", "อปท. ต้องระบุประเภท (lao_type)")
        if self.valid_to and self.valid_to <= self.valid_from and "valid_from" in self.model_fields_set:
            raise ThaiValueError("valid_to is not after valid_from", "วันสิ้นสุดต้องอยู่หลังวันเริ่มต้น")
        if self.force and not self.reason:
            raise ThaiValueError("a forced change needs its reason", "การบังคับเปลี่ยนแปลงต้องระบุเหตุผล (reason)")
        if self.code in self.predecessor_codes or self.code in self.successor_codes:
            raise ThaiValueError("a unit cannot succeed itself", "หน่วยงานเป็นหน่วยงานสืบต่อของตนเองไม่ได้")
        return self


class RegisterUnits(Strict):
    units: list[OrgUnitInput] = Field(min_length=1)
    dry_run: Flag = False


class AddresseeRule(Strict):
    codes: list[Code] | None = Field(default=None, max_length=20000)
    level: Level | None = None
    within: Code | None = None
    criterion: dict | None = Field(default=None, description='{"attribute": "lao_type", "in": ["sao"]}')

    @field_validator("criterion")
    @classmethod
    def _printable_criterion(cls, value):
        try:
            refuse_control_characters(value)
        except InputError as error:
            raise ThaiValueError(f"{error.field}: {error.message_en}", f"{error.field}: {error.message_th}") from None
        return value

    @model_validator(mode="after")
    def _one_form(self):
        if not (self.codes or self.level or self.within or self.criterion):
            raise ThaiValueError("give codes, a level, a subtree (within) or a criterion",
                                 "ต้องระบุรายการรหัส ระดับ หน่วยงานแม่ หรือเงื่อนไข")
        return self


class IndicatorInput(Strict):
    code: Code
    name_th: Line(TITLE_MAX, 1)
    unit_of_measure: Name | None = None
    value_type: ValueType = "number"
    direction: Direction = "increase"
    minimum: Number | None = None
    maximum: Number | None = None


class ReportingInput(Strict):
    """What the addressees report: one indicator (plus any others in ``more_indicators``), once
    (due_at) or on a recurrence (rrule). A declared range (minimum, maximum) is enforced on every
    value, whichever way it arrives; ``fiscal_year_be`` limits a rule to that fiscal year's periods."""

    indicator_code: Code
    indicator_name_th: Line(TITLE_MAX, 1)
    unit_of_measure: Name | None = None
    value_type: ValueType = "number"
    direction: Direction = "increase"
    minimum: Number | None = None
    maximum: Number | None = None
    period: Line(32) | None = None
    opens_at: Moment | None = None
    due_at: Moment | None = None
    rrule: Line(255) | None = None
    dtstart: Moment | None = None
    until: Moment | None = None
    due_time_local: str = Field(default="16:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    window_opens_before: str = Field(default="P10D", pattern=r"^P(\d+D)?(T(\d+H)?(\d+M)?)?$")
    holiday_rule: Literal["none", "next_working_day", "previous_working_day"] = "next_working_day"
    fiscal_year_be: int | None = None
    reporting_level: Level | None = None
    more_indicators: list[IndicatorInput] = Field(default_factory=list, max_length=200)

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value, info: ValidationInfo):
        """The one period grammar (shared.calendar), canonicalised: "ธ.ค. 69" is stored as 2569-12.
        A directive stored before periods were checked still loads (context ``stored``)."""
        if value is None or (info.context or {}).get("stored"):
            return value
        try:
            return parse_period(value)
        except InputError as exc:
            raise ThaiValueError(exc.message_en, exc.message_th) from None

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
    item_ref: Line(64) | None = None
    kind: Literal["order", "guideline", "observation", "inspection_focus"] = "order"
    issuer_code: Code | None = None
    issuer_position_th: Title | None = None
    topic_th: Title | None = None
    text_th: LongText(TEXT_MAX, 1)
    text_en: Body | None = None
    addressees: AddresseeRule
    acknowledge_due_at: Moment | None = None
    reporting: ReportingInput | None = None


class RecordDocument(Strict):
    form: Literal["memo", "letter", "circular", "attachment"] = "memo"
    document_number: Line(160) | None = Field(default=None,
                                              description="as printed, Thai digits kept, e.g. มท ๐๘๐๑.๒/ว ๕๒")
    document_date: ThaiDate
    urgency: Urgency = "normal"
    subject_th: Line(TITLE_MAX, 1)
    subject_en: Title | None = None
    sender_code: Code | None = None
    sender_text: LongText(ADDRESS_MAX) | None = None
    addressee_text: LongText(ADDRESS_MAX) | None = None
    references: list[Code] = Field(default_factory=list, max_length=100, description="ids of earlier documents")
    forwards_document_id: Code | None = None
    status: Literal["recorded", "referenced_only"] = "recorded"
    items: list[DirectiveItemInput] = Field(default_factory=list, max_length=500)
    allow_duplicate: Flag = Field(default=False, description="record it although a document with the same "
                                  "number, sender and date exists (else 409 naming that document)")


class IssueDocument(Strict):
    document_id: Code
    items: list[Code] | None = Field(default=None, min_length=1, max_length=500,
                                     description="ids of the draft items to issue (default: every draft item)")


class IssueDirective(Strict):
    """Record a document with one directive item and issue it at once (the common case)."""

    document_number: Line(160, 1)
    document_date: ThaiDate
    urgency: Urgency = "normal"
    subject_th: Line(TITLE_MAX, 1)
    issuer_code: Code
    kind: Literal["order", "guideline", "observation", "inspection_focus"] = "order"
    text_th: LongText(TEXT_MAX, 1)
    addressees: AddresseeRule
    acknowledge_due_at: Moment | None = None
    reporting: ReportingInput | None = None


class AcknowledgeAssignment(Strict):
    assignment_id: Code
    unit_code: Code
    receipt_number: Line(32) | None = None
    acknowledged_at: Moment | None = None


class ChangeAssignmentState(Strict):
    assignment_id: Code
    unit_code: Code
    to_state: Literal["received", "in_progress", "reported", "closed", "not_applicable", "cancelled"]
    note: Note | None = None


class DeclareApplicability(Strict):
    assignment_id: Code
    unit_code: Code
    applicable: Flag
    note: Note | None = None

    @model_validator(mode="after")
    def _reason_when_not(self):
        if not self.applicable and not self.note:
            raise ThaiValueError("say why it does not apply", "ต้องระบุเหตุผลที่ไม่เกี่ยวข้อง")
        return self


class ForwardAssignment(Strict):
    assignment_id: Code
    unit_code: Code
    addressees: AddresseeRule
    acknowledge_due_at: Moment | None = None


class RegisterReceipt(Strict):
    """ลงทะเบียนรับ: a unit's own receipt number for a document (unique per unit per year)."""

    unit_code: Code
    document_id: Code
    receipt_no: str = Field(min_length=1, max_length=32, pattern=r"^[0-9๐-๙]+[0-9๐-๙/ -]*$")
    received_on: ThaiDate
    received_time: str | None = Field(default=None, pattern=r"^([01]?[0-9]|2[0-3])[:.][0-5][0-9]$")
    channel: Literal["paper", "e-saraban", "email", "fax", "hand"] = "paper"
    assignment_id: Code | None = None
    routed_from_receipt_id: Code | None = None


class AddAttachment(Strict):
    document_id: Code
    # stored and served under its last path segment only: "../../etc/passwd" is kept as "passwd"
    filename: Annotated[str, BeforeValidator(safe_filename)]
    content_type: str = Field(min_length=3, max_length=120,
                              pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
    content_base64: str = Field(min_length=1)


__all__ = ["AcknowledgeAssignment", "AddAttachment", "ChangeAssignmentState", "DeclareApplicability",
           "ForwardAssignment", "IssueDirective", "IssueDocument", "RecordDocument", "RegisterReceipt",
           "RegisterUnits"]
