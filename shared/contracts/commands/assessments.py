"""Commands the assessments service accepts."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shared.validation import Code, Command, Flag, Line, LongText, Moment, Note, Number, ThaiValueError

Strict = Command  # every text field below is a Line, LongText or Note: no control characters


class ValueInput(Strict):
    indicator_code: Code
    value: Number = Field(description="finite, at most 10^15 in magnitude; never true/false")
    note: Note | None = None


class SubmitValues(Strict):
    obligation_id: Code
    unit_code: Code = Field(description="the unit that owes the report")
    submitted_by: Line(128) | None = None
    submitter_unit_code: Code | None = Field(default=None, description="who submits: the unit or one above it")
    values: list[ValueInput] = Field(min_length=1, max_length=500)


class BatchItem(Strict):
    obligation_id: Code | None = None
    unit_code: Code
    period: Line(32) | None = Field(default=None, description="with rule_id or indicator codes, instead of obligation_id")
    values: list[ValueInput] = Field(min_length=1, max_length=500)


class SubmitBatch(Strict):
    """A province (or an LAO) submits many reports at once."""

    items: list[BatchItem] = Field(min_length=1, max_length=5000)
    submitted_by: Line(128) | None = None
    submitter_unit_code: Code
    mode: Literal["all_or_nothing", "keep_good"] = "all_or_nothing"
    via: Literal["batch", "file"] = "batch"


class ReviewSubmission(Strict):
    submission_id: Code
    reviewer_unit_code: Code
    reviewer: Line(128) | None = None
    decision: Literal["accepted", "returned"]
    comment: Note | None = None
    resubmit_due_at: Moment | None = Field(default=None, description="returned: resubmit by then (default: 7 days)")

    @model_validator(mode="after")
    def _why_returned(self):
        if self.decision == "returned" and not self.comment:
            raise ThaiValueError("say why it is returned", "ต้องระบุเหตุผลที่ส่งกลับ")
        if self.decision == "accepted" and self.resubmit_due_at is not None:
            raise ThaiValueError("only a returned report has a resubmission deadline",
                                 "กำหนดส่งแก้ไขใช้ได้เฉพาะรายงานที่ส่งกลับ")
        return self


class RequestExtension(Strict):
    obligation_id: Code
    unit_code: Code
    requested_due_at: Moment
    reason: LongText(2000, 3)
    requested_by: Line(128) | None = None


class DecideExtension(Strict):
    request_id: Code
    decider_unit_code: Code
    approve: Flag
    comment: Note | None = None

    @model_validator(mode="after")
    def _why_denied(self):
        if not self.approve and not self.comment:
            raise ThaiValueError("say why it is denied", "ต้องระบุเหตุผลที่ไม่อนุมัติ")
        return self
