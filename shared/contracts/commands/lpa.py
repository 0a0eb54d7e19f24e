"""Commands the assessments service accepts for the annual LPA (issue #19). The gateway fills the
fields marked "filled by the gateway" from the caller's session; every other field comes from the body.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shared.contracts.lpa_framework import LpaFramework
from shared.validation import Code, Command, Flag, Line, LongText, Moment, Name, Note, Number, ThaiDate, \
    ThaiValueError, safe_filename

TeamRole = Literal["lead", "member", "community_leader"]


class ImportLpaFramework(Command):
    framework: LpaFramework
    dry_run: Flag = False
    imported_by: Line(128) | None = None                      # filled by the gateway


class OpenLpaRound(Command):
    """Central opens the year's round for every LAO under ``scope_code`` (default: the whole country)."""
    year_be: int = Field(ge=2549, le=2699)
    scope_code: Code | None = Field(default=None, description="a province or district office; none = every LAO")
    self_opens_at: Moment | None = Field(default=None, description="self-assessment opens (default: now)")
    self_due_at: Moment = Field(description="self-assessment and evidence are due")
    visit_from: ThaiDate
    visit_to: ThaiDate
    publish_on: ThaiDate = Field(description="results become public on this day")
    opened_by: Line(128) | None = None                         # filled by the gateway

    @model_validator(mode="after")
    def _order(self):
        if self.visit_to < self.visit_from:
            raise ThaiValueError("visit_to is before visit_from", "วันสิ้นสุดการตรวจประเมินก่อนวันเริ่ม")
        if self.publish_on < self.visit_to:
            raise ThaiValueError("results are published after the visits end", "วันประกาศผลต้องไม่ก่อนสิ้นสุดการตรวจประเมิน")
        if self.self_opens_at is not None and self.self_due_at <= self.self_opens_at:
            raise ThaiValueError("self_due_at must be after self_opens_at", "กำหนดส่งการประเมินตนเองต้องหลังวันเปิด")
        return self


class ClaimInput(Command):
    indicator_code: Code
    claimed_points: Number | None = Field(default=None, description="one of the indicator's levels; none = not yet")
    note: Note | None = None


class SaveSelfAssessment(Command):
    """An LAO saves its claims as a draft, or submits them (``submit``: then no more changes)."""
    assessment_id: Code
    entries: list[ClaimInput] = Field(default_factory=list, max_length=300)
    submit: Flag = False
    unit_code: Code | None = None                              # filled by the gateway: the caller's unit
    submitted_by: Line(128) | None = None                      # filled by the gateway


class AddLpaEvidence(Command):
    """A file (base64, the same limits as document attachments) or a link, for one indicator."""
    assessment_id: Code
    indicator_code: Code
    filename: Line(255) | None = None
    content_type: str | None = Field(default=None, min_length=3, max_length=120,
                                     pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
    content_base64: str | None = Field(default=None, min_length=1)
    url: Line(2000) | None = Field(default=None, pattern=r"^https?://\S+$")
    unit_code: Code | None = None                              # filled by the gateway
    uploaded_by: Line(128) | None = None                       # filled by the gateway

    @model_validator(mode="after")
    def _file_or_link(self):
        if (self.content_base64 is None) == (self.url is None):
            raise ThaiValueError("send either a file (content_base64) or a link (url)", "แนบไฟล์หรือลิงก์อย่างใดอย่างหนึ่ง")
        if self.content_base64 is not None and not (self.filename and self.content_type):
            raise ThaiValueError("a file needs filename and content_type", "ไฟล์ต้องมีชื่อและชนิด")
        if self.filename:
            object.__setattr__(self, "filename", safe_filename(self.filename))
        return self


class MemberInput(Command):
    person: Line(128, 1) = Field(description="a username, or a community leader's name without an account")
    role: TeamRole
    unit_code: Code | None = Field(default=None, description="the unit the person works for (none: a community leader)")
    name_th: Name | None = None
    email: Line(254) | None = None


class FormLpaTeam(Command):
    """The provincial office forms the team of one LAO or of a group of LAOs; ``finalise`` checks the rules."""
    year_be: int = Field(ge=2549, le=2699)
    unit_codes: list[Code] = Field(min_length=1, max_length=50, description="the LAOs this team assesses")
    visit_on: ThaiDate
    members: list[MemberInput] = Field(min_length=1, max_length=20)
    finalise: Flag = False
    team_id: Code | None = Field(default=None, description="change a draft team instead of forming a new one")
    province_code: Code | None = None                          # filled by the gateway: the caller's unit
    formed_by: Line(128) | None = None                         # filled by the gateway


class ScoreInput(Command):
    indicator_code: Code
    points: Number
    comment: Note | None = None


class ScoreLpa(Command):
    """A team member records scores; only the lead finalises (``finalise``)."""
    assessment_id: Code
    scores: list[ScoreInput] = Field(default_factory=list, max_length=300)
    finalise: Flag = False
    scorer: Line(128) | None = None                            # filled by the gateway


class ScoreRow(Command):
    unit_code: Code
    indicator_code: Code
    points: Number
    comment: Note | None = None


class ImportLpaScores(Command):
    """The provincial office keys in its teams' scoring sheets at once (the LAOs of its province with a
    finalised team): all rows or none; ``finalise`` finalises every LAO whose counted indicators are
    all scored."""
    year_be: int = Field(ge=2549, le=2699)
    rows: list[ScoreRow] = Field(min_length=1, max_length=50000)
    finalise: Flag = False
    province_code: Code | None = None                          # filled by the gateway: the caller's unit
    imported_by: Line(128) | None = None                       # filled by the gateway


class ReturnLpaAssessment(Command):
    """DLA returns a finalised assessment to its team for correction, within the round."""
    assessment_id: Code
    reason: LongText(2000, 1)
    returned_by: Line(128) | None = None                       # filled by the gateway


class PublishLpaRound(Command):
    year_be: int = Field(ge=2549, le=2699)
    published_by: Line(128) | None = None                      # filled by the gateway


class SaveFollowUpPlan(Command):
    """The LAO writes its improvement plan for a weak area; ``close`` marks it done (district or province)."""
    follow_up_id: Code
    plan_th: LongText(4000) | None = None
    close: Flag = False
    unit_code: Code | None = None                              # filled by the gateway


__all__ = ["AddLpaEvidence", "ClaimInput", "FormLpaTeam", "ImportLpaFramework", "MemberInput", "OpenLpaRound",
           "ImportLpaScores", "PublishLpaRound", "ReturnLpaAssessment", "SaveFollowUpPlan", "SaveSelfAssessment",
           "ScoreInput", "ScoreLpa", "ScoreRow", "TeamRole"]
