"""Commands the plans service accepts, validated at the edge (field errors in Thai and English)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from shared.validation import ThaiValueError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OrgUnitInput(Strict):
    code: str = Field(min_length=1, max_length=32)
    level: Literal["ministry", "ministry_office", "department", "department_bureau",
                   "provincial_office", "district_office", "lao"]
    lao_type: Literal["pao", "city_municipality", "town_municipality", "subdistrict_municipality",
                      "sao", "special"] | None = None
    parent_code: str | None = None
    name_th: str = Field(min_length=1)
    name_en: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    subdistrict_code: str | None = None
    contact_email: str | None = None
    valid_from: date = date(2000, 1, 1)
    valid_to: date | None = None


class RegisterUnits(Strict):
    units: list[OrgUnitInput] = Field(min_length=1)


class AddresseeRule(Strict):
    codes: list[str] | None = None
    level: Literal["provincial_office", "district_office", "lao"] | None = None
    within: str | None = None

    @model_validator(mode="after")
    def _one_form(self):
        if not self.codes and not self.level:
            raise ThaiValueError("give either codes or level", "ต้องระบุรายการรหัสหรือระดับหน่วยงาน")
        return self


class ReportingInput(Strict):
    indicator_code: str = Field(min_length=1, max_length=64)
    indicator_name_th: str = Field(min_length=1)
    unit_of_measure: str | None = None
    period: str = Field(min_length=1, max_length=32)
    opens_at: AwareDatetime | None = None
    due_at: AwareDatetime


class IssueDirective(Strict):
    document_number: str = Field(min_length=1, max_length=120,
                                 description="as printed, Thai digits kept, e.g. มท ๐๘๐๑.๒/ว ๕๒")
    document_date: date
    urgency: Literal["most_urgent", "very_urgent", "urgent", "normal"] = "normal"
    subject_th: str = Field(min_length=1)
    issuer_code: str = Field(min_length=1)
    kind: Literal["order", "guideline", "observation", "inspection_focus"] = "order"
    text_th: str = Field(min_length=1)
    addressees: AddresseeRule
    acknowledge_due_at: AwareDatetime | None = None
    reporting: ReportingInput | None = None


class AcknowledgeAssignment(Strict):
    assignment_id: str
    unit_code: str
    receipt_number: str | None = Field(default=None, max_length=32)
    acknowledged_at: datetime | None = None
