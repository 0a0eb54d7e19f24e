"""The LPA framework file format ``thongthin.lpa-framework/v1``: one year's criteria of the Local
Performance Assessment (การประเมินประสิทธิภาพขององค์กรปกครองส่วนท้องถิ่น), as imported and exported.

A contract: central imports it (YAML or JSON) through the gateway into the assessments service, which
keeps one version per BE year and shows it beside the previous year's. Its tree:

    framework (BE year, titles, whether it is synthetic demo data, team size, pass rule)
      areas[] (ด้าน: code, titles, follow-up threshold)
        indicators[] (code, titles, maximum points, evidence asked for, LAO types it applies to,
                      pilot flag)
          levels[] (what earns how many points: the scoring scale of the indicator)

Rules checked here, each failure naming the field in Thai and English: codes unique in the year;
an indicator's levels have distinct points, the highest equal to its maximum, none above it; the
pass rule's threshold is a percentage. Pure pydantic.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shared.validation import Body, Code, Command, Line, ThaiValueError, Title
from shared.vocabulary import LaoType

FORMAT = "thongthin.lpa-framework/v1"

PassRuleKind = Literal["average_of_areas", "total_percent"]


class ScoringLevel(Command):
    """One step of an indicator's scale: what the LAO must show to earn ``points``."""
    points: float = Field(ge=0, le=1000)
    description_th: Body = Field(min_length=1)
    description_en: Body | None = None


class LpaIndicator(Command):
    code: Code
    name_th: Title = Field(min_length=1)
    name_en: Title | None = None
    max_points: float = Field(gt=0, le=1000)
    levels: list[ScoringLevel] = Field(min_length=1, max_length=20)
    evidence_th: Body | None = Field(default=None, description="the evidence asked for (documents, photos, links)")
    lao_types: list[LaoType] | None = Field(default=None, description="the LAO types it applies to; null = every type")
    pilot: bool = Field(default=False, description="a pilot indicator is scored and shown but not counted")

    @model_validator(mode="after")
    def _scale(self):
        points = [level.points for level in self.levels]
        if len(set(points)) != len(points):
            raise ThaiValueError("the levels of an indicator must have distinct points", "ระดับคะแนนของตัวชี้วัดต้องไม่ซ้ำกัน")
        if max(points) != self.max_points:
            raise ThaiValueError(f"the highest level must earn the maximum, {self.max_points:g} points",
                                 f"ระดับสูงสุดต้องได้ {self.max_points:g} คะแนนเท่ากับคะแนนเต็ม")
        return self

    def applies_to(self, lao_type: str | None) -> bool:
        return self.lao_types is None or lao_type in self.lao_types


class LpaArea(Command):
    code: Code
    name_th: Title = Field(min_length=1)
    name_en: Title | None = None
    follow_up_below_percent: float | None = Field(
        default=None, ge=0, le=100, description="an LAO scoring below this share of the area's points gets a follow-up")
    indicators: list[LpaIndicator] = Field(min_length=1, max_length=200)


class PassRule(Command):
    """``average_of_areas``: the mean of the areas' percentages (2564: at least 70 %);
    ``total_percent``: the total points as a share of the maximum."""
    kind: PassRuleKind = "average_of_areas"
    threshold_percent: float = Field(default=70, ge=0, le=100)


class LpaFramework(Command):
    format: Literal["thongthin.lpa-framework/v1"] = FORMAT
    year_be: int = Field(ge=2549, le=2699, description="the BE year of the round (LPA is annual since 2549)")
    name_th: Title = Field(min_length=1)
    name_en: Title | None = None
    synthetic: bool = Field(default=False, description="demo criteria, not DLA's published ones")
    source_note: Line(500) | None = None
    min_team_members: int = Field(default=4, ge=2, le=20, description="an assessor team has at least this many members")
    pass_rule: PassRule = PassRule()
    areas: list[LpaArea] = Field(min_length=1, max_length=12)

    @model_validator(mode="after")
    def _unique_codes(self):
        areas = [area.code for area in self.areas]
        if len(set(areas)) != len(areas):
            raise ThaiValueError("area codes must be unique", "รหัสด้านซ้ำกัน")
        codes = [indicator.code for area in self.areas for indicator in area.indicators]
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise ThaiValueError(f"indicator codes must be unique in a year: {', '.join(repeated)}",
                                 f"รหัสตัวชี้วัดซ้ำกัน: {', '.join(repeated)}")
        return self

    def indicators(self):
        """(area, indicator) pairs in the order of the file."""
        return [(area, indicator) for area in self.areas for indicator in area.indicators]


__all__ = ["FORMAT", "LpaArea", "LpaFramework", "LpaIndicator", "PassRule", "PassRuleKind", "ScoringLevel"]
