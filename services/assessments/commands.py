"""Commands the assessments service accepts."""
from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.validation import Moment, ThaiValueError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ValueInput(Strict):
    indicator_code: str = Field(min_length=1, max_length=64)
    value: float
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("value must be a finite number")
        return value


class SubmitValues(Strict):
    obligation_id: str = Field(min_length=1)
    unit_code: str = Field(min_length=1, description="the unit that owes the report")
    submitted_by: str | None = None
    submitter_unit_code: str | None = Field(default=None, description="who submits: the unit or one above it")
    values: list[ValueInput] = Field(min_length=1)


class BatchItem(Strict):
    obligation_id: str | None = None
    unit_code: str = Field(min_length=1)
    period: str | None = Field(default=None, description="with rule_id or indicator codes, instead of obligation_id")
    values: list[ValueInput] = Field(min_length=1)


class SubmitBatch(Strict):
    """A province (or an LAO) submits many reports at once."""

    items: list[BatchItem] = Field(min_length=1, max_length=5000)
    submitted_by: str | None = None
    submitter_unit_code: str = Field(min_length=1)
    mode: Literal["all_or_nothing", "keep_good"] = "all_or_nothing"
    via: Literal["batch", "file"] = "batch"


class ReviewSubmission(Strict):
    submission_id: str
    reviewer_unit_code: str
    reviewer: str | None = None
    decision: Literal["accepted", "returned"]
    comment: str | None = Field(default=None, max_length=2000)
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
    obligation_id: str
    unit_code: str
    requested_due_at: Moment
    reason: str = Field(min_length=3, max_length=2000)
    requested_by: str | None = None


class DecideExtension(Strict):
    request_id: str
    decider_unit_code: str
    approve: bool
    comment: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _why_denied(self):
        if not self.approve and not self.comment:
            raise ThaiValueError("say why it is denied", "ต้องระบุเหตุผลที่ไม่อนุมัติ")
        return self
