"""Commands the assessments service accepts."""
from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
    unit_code: str = Field(min_length=1)
    submitted_by: str | None = None
    values: list[ValueInput] = Field(min_length=1)
