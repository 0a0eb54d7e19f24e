"""One class per event type and version: the single schema registry of the platform.

A new version of an event is a new class (``...v2``) registered beside the old one; consumers
keep decoding the versions they were written for.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.unit_versions import ChangeKind
from shared.vocabulary import CanonicalDirection, LaoType, Level, Urgency, ValueType


class Event(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    TYPE: ClassVar[str]
    PRODUCER: ClassVar[str]


REGISTRY: dict[str, type[Event]] = {}


def register(cls: type[Event]) -> type[Event]:
    if cls.TYPE in REGISTRY:
        raise ValueError(f"event type {cls.TYPE} registered twice")
    REGISTRY[cls.TYPE] = cls
    return cls




class IndicatorSpec(BaseModel):
    """What a reported value must look like."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str
    name_th: str
    name_en: str | None = None
    unit_of_measure: str | None = None
    value_type: ValueType = "number"
    direction: CanonicalDirection = "increase"
    minimum: float | None = None
    maximum: float | None = None


class ReportingRequirement(BaseModel):
    """What an addressee must report for an assignment, and by when."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    indicator_code: str
    indicator_name_th: str
    unit_of_measure: str | None = None
    period: str = Field(description="Reporting period label, e.g. 2569-11 or FY2569")
    opens_at: datetime | None = None
    due_at: datetime
    indicators: list[IndicatorSpec] = Field(
        default_factory=list, description="every indicator to report, the first being indicator_code, with what "
                                          "a value must look like (empty: indicator_code alone, a plain number)")


# --- plans -------------------------------------------------------------------------------------

@register
class OrgUnitChanged(Event):
    """One version of a unit of the org registry, whole: its state from ``valid_from`` (inclusive) to
    ``valid_to`` (exclusive; null = still valid). A change effective on day D sends the version it
    ends again (``valid_to`` = D) and the version it opens (``valid_from`` = D); a closing sends only
    the ended version. Consumers keep every version keyed by (code, valid_from) and keep, for a key,
    the event with the highest ``revision`` (events may arrive in any order or twice); "current"
    means the version holding on the day asked (``shared.unit_versions``)."""

    TYPE: ClassVar[str] = "plans.org_unit_changed.v1"
    PRODUCER: ClassVar[str] = "plans"
    code: str
    level: Level
    lao_type: LaoType | None = None
    parent_code: str | None = None
    name_th: str
    name_en: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    subdistrict_code: str | None = None
    contact_email: str | None = None
    head_name_th: str | None = Field(default=None, description="the unit's head (e.g. นายกเทศมนตรี), escalated to after a missed deadline")
    head_email: str | None = None
    head_phone: str | None = Field(default=None, description="E.164, for SMS")
    valid_from: date
    valid_to: date | None = None
    revision: int = Field(default=0, ge=0, description="increases with every event about this unit (code): the "
                                                         "highest revision of a (code, valid_from) is its truth")
    change_kind: ChangeKind = Field(default="updated", description="what the change that produced this version "
                                    "was: opened, updated (contact details), renamed, type_changed (e.g. SAO "
                                    "upgraded to a subdistrict municipality), moved (another district), merged, "
                                    "split, closed")
    effective_date: date | None = Field(default=None, description="the day the change takes effect (valid_from "
                                        "of a version it opens, valid_to of the version it closes)")
    predecessor_codes: list[str] = Field(default_factory=list, description="units merged into or split from to "
                                         "make this one")
    successor_codes: list[str] = Field(default_factory=list, description="units that take over from this one "
                                       "(a merger or split ending it)")
    reason: str | None = Field(default=None, max_length=500, description="why (required when a change that "
                               "rewrites a reported period was forced)")
    forced: bool = Field(default=False, description="central forced a change that rewrites a period already reported")


@register
class DirectiveIssued(Event):
    """A directive (ข้อสั่งการ) was issued: its text, issuer, addressees and reporting rule, if any."""

    TYPE: ClassVar[str] = "plans.directive_issued.v1"
    PRODUCER: ClassVar[str] = "plans"
    directive_id: str
    document_number: str
    title_th: str
    urgency: Urgency
    issuer_code: str
    addressee_count: int = Field(ge=0)
    acknowledge_due_at: datetime | None = None
    reporting: ReportingRequirement | None = None
    issued_at: datetime | None = Field(default=None, description="when it was issued (else the envelope's time)")


@register
class AssignmentCreated(Event):
    """One addressee owes a directive: the unit, its acknowledgement deadline, who sent it."""

    TYPE: ClassVar[str] = "plans.assignment_created.v1"
    PRODUCER: ClassVar[str] = "plans"
    assignment_id: str
    directive_id: str
    document_number: str
    title_th: str
    unit_code: str
    parent_assignment_id: str | None = None
    acknowledge_due_at: datetime | None = None
    reporting: ReportingRequirement | None = None
    assigned_at: datetime | None = Field(default=None, description="when the unit was sent it (else the envelope's time)")


@register
class AssignmentAcknowledged(Event):
    """The addressee acknowledged (รับทราบ) its assignment."""

    TYPE: ClassVar[str] = "plans.assignment_acknowledged.v1"
    PRODUCER: ClassVar[str] = "plans"
    assignment_id: str
    directive_id: str
    unit_code: str
    acknowledged_at: datetime
    receipt_number: str | None = None


@register
class PlanPublished(Event):
    """A plan (and its tree) was imported or changed; carries its indicators for other services."""

    TYPE: ClassVar[str] = "plans.plan_published.v1"
    PRODUCER: ClassVar[str] = "plans"
    plan_id: str
    title_th: str
    title_en: str | None = None
    owner_code: str | None = None
    plan_type: str
    period_be_start: int
    period_be_end: int
    parent_plan_ids: list[str] = Field(default_factory=list)
    indicators: list[IndicatorSpec] = Field(default_factory=list)


@register
class TargetSet(Event):
    """A yearly target of an indicator for a unit or a group of units; value None = no target."""

    TYPE: ClassVar[str] = "plans.target_set.v1"
    PRODUCER: ClassVar[str] = "plans"
    plan_id: str
    indicator_code: str
    fiscal_year_be: int
    unit_code: str | None = Field(default=None, description="a unit, or None for the plan owner's whole scope")
    unit_group: str | None = Field(default=None, description="e.g. level:lao or lao_type:sao")
    value: float | None = Field(description="None means no target that year (not zero)")
    provenance: str


@register
class ReportingRulePublished(Event):
    """Which units report which indicators, for which periods, in which window."""

    TYPE: ClassVar[str] = "plans.reporting_rule_published.v1"
    PRODUCER: ClassVar[str] = "plans"
    rule_id: str
    directive_id: str | None = None
    plan_id: str | None = None
    indicators: list[IndicatorSpec] = Field(min_length=1)
    unit_codes: list[str] = Field(description="reporting units (resolved addressees)")
    rrule: str | None = Field(default=None, description="RFC 5545 RRULE in Asia/Bangkok, e.g. FREQ=MONTHLY;BYMONTHDAY=3")
    dtstart: datetime | None = None
    until: datetime | None = None
    due_at: datetime | None = Field(default=None, description="one-off due time instead of an RRULE")
    due_time_local: str = Field(default="16:30", description="local time of day a recurring report is due")
    window_opens_before: str = Field(default="P10D", description="ISO 8601 duration before the due time")
    holiday_rule: Literal["none", "next_working_day", "previous_working_day"] = "next_working_day"
    fiscal_year_be: int | None = Field(default=None, description="only the periods of this B.E. fiscal year")
    version: int = 1


@register
class DirectiveForwarded(Event):
    """A unit passed a directive down to units of its subtree."""

    TYPE: ClassVar[str] = "plans.directive_forwarded.v1"
    PRODUCER: ClassVar[str] = "plans"
    directive_id: str
    from_assignment_id: str
    from_unit_code: str
    child_assignment_ids: list[str]
    unit_codes: list[str]
    forwarded_at: datetime


@register
class AssignmentStateChanged(Event):
    """Any other transition of an assignment's lifecycle (received, in progress, reported, ...)."""

    TYPE: ClassVar[str] = "plans.assignment_state_changed.v1"
    PRODUCER: ClassVar[str] = "plans"
    assignment_id: str
    directive_id: str
    unit_code: str
    from_state: str
    to_state: str
    at: datetime
    note: str | None = None


# --- assessments -------------------------------------------------------------------------------

@register
class ObligationOpened(Event):
    """A unit owes one report: a rule's indicators for one period, with its window and deadline."""

    TYPE: ClassVar[str] = "assessments.obligation_opened.v1"
    PRODUCER: ClassVar[str] = "assessments"
    obligation_id: str
    unit_code: str
    directive_id: str | None = None
    assignment_id: str | None = None
    indicator_code: str = Field(description="the (first) indicator: names the obligation in messages")
    indicator_name_th: str
    indicator_codes: list[str] = Field(default_factory=list, description="every indicator to report")
    rule_id: str | None = None
    period: str
    opens_at: datetime | None = None
    due_at: datetime
    closes_at: datetime | None = Field(default=None, description="after this, submissions are refused")


@register
class ObligationCancelled(Event):
    """A future obligation no longer expected (its rule changed, or its unit closed)."""

    TYPE: ClassVar[str] = "assessments.obligation_cancelled.v1"
    PRODUCER: ClassVar[str] = "assessments"
    obligation_id: str
    unit_code: str
    reason: str


class SubmittedValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    indicator_code: str
    value: float
    note: str | None = None


@register
class IndicatorSubmitted(Event):
    """A unit sent its values for an obligation, judged on time or late once, here."""

    TYPE: ClassVar[str] = "assessments.indicator_submitted.v1"
    PRODUCER: ClassVar[str] = "assessments"
    submission_id: str
    obligation_id: str
    unit_code: str
    directive_id: str | None = None
    period: str
    values: list[SubmittedValue] = Field(min_length=1)
    submitted_at: datetime
    due_at: datetime
    on_time: bool


@register
class DeadlineMissed(Event):
    """An obligation's effective deadline passed with no report (swept once)."""

    TYPE: ClassVar[str] = "assessments.deadline_missed.v1"
    PRODUCER: ClassVar[str] = "assessments"
    obligation_id: str
    unit_code: str
    directive_id: str | None = None
    indicator_code: str
    period: str
    due_at: datetime
    detected_at: datetime


@register
class SubmissionReviewed(Event):
    """A supervisor accepted a report or returned it, with a resubmission deadline."""

    TYPE: ClassVar[str] = "assessments.submission_reviewed.v1"
    PRODUCER: ClassVar[str] = "assessments"
    submission_id: str
    obligation_id: str
    unit_code: str
    reviewer_unit_code: str
    decision: Literal["accepted", "returned"]
    comment: str | None = None
    reviewed_at: datetime
    resubmit_due_at: datetime | None = Field(
        default=None, description="returned: the report is awaited again by then (never counted missed before)")


@register
class ExtensionRequested(Event):
    """A unit asked for more time on an obligation, with its reason."""

    TYPE: ClassVar[str] = "assessments.extension_requested.v1"
    PRODUCER: ClassVar[str] = "assessments"
    request_id: str
    obligation_id: str
    unit_code: str
    requested_due_at: datetime
    reason: str
    requested_at: datetime


@register
class ExtensionGranted(Event):
    """The effective deadline moved: reminders are rescheduled, the sweep waits for the new one."""

    TYPE: ClassVar[str] = "assessments.extension_granted.v1"
    PRODUCER: ClassVar[str] = "assessments"
    request_id: str
    obligation_id: str
    unit_code: str
    new_due_at: datetime
    decided_by_unit_code: str
    decided_at: datetime


@register
class ExtensionDenied(Event):
    """The request for more time was refused; the deadline stands."""

    TYPE: ClassVar[str] = "assessments.extension_denied.v1"
    PRODUCER: ClassVar[str] = "assessments"
    request_id: str
    obligation_id: str
    unit_code: str
    decided_by_unit_code: str
    comment: str | None = None
    decided_at: datetime


@register
class AcknowledgementOverdue(Event):
    """An assignment not acknowledged by its acknowledgement deadline (swept once)."""

    TYPE: ClassVar[str] = "assessments.acknowledgement_overdue.v1"
    PRODUCER: ClassVar[str] = "assessments"
    assignment_id: str
    directive_id: str
    unit_code: str
    acknowledge_due_at: datetime
    detected_at: datetime


# --- assessments: the annual LPA (issue #19) ----------------------------------------------------

@register
class LpaRoundOpened(Event):
    """Central opened the year's Local Performance Assessment for every LAO in scope."""

    TYPE: ClassVar[str] = "assessments.lpa_round_opened.v1"
    PRODUCER: ClassVar[str] = "assessments"
    round_id: str
    year_be: int
    name_th: str
    scope_code: str | None = None
    units: int = Field(description="LAOs assessed in the round (each owes a self-assessment obligation)")
    self_due_at: datetime
    visit_from: date
    visit_to: date
    publish_on: date


@register
class LpaSelfAssessmentSubmitted(Event):
    """An LAO submitted its self-assessment and evidence (on time or late, judged here once)."""

    TYPE: ClassVar[str] = "assessments.lpa_self_assessment_submitted.v1"
    PRODUCER: ClassVar[str] = "assessments"
    assessment_id: str
    round_id: str
    year_be: int
    unit_code: str
    submitted_at: datetime
    on_time: bool
    claimed_percent: float | None = None
    evidence: int = 0


class LpaTeamMember(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    person: str
    role: Literal["lead", "member", "community_leader"]
    unit_code: str | None = None
    name_th: str | None = None
    email: str | None = None


@register
class LpaTeamFinalised(Event):
    """A provincial office finalised an assessor team: its members, the LAOs it visits and the day."""

    TYPE: ClassVar[str] = "assessments.lpa_team_finalised.v1"
    PRODUCER: ClassVar[str] = "assessments"
    team_id: str
    round_id: str
    year_be: int
    province_code: str
    unit_codes: list[str]
    visit_on: date
    members: list[LpaTeamMember]


class LpaAreaResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str
    name_th: str
    points: float
    max_points: float
    percent: float


@register
class LpaAssessmentFinalised(Event):
    """The team lead finalised an LAO's scores: totals per area and overall, pass or fail."""

    TYPE: ClassVar[str] = "assessments.lpa_assessment_finalised.v1"
    PRODUCER: ClassVar[str] = "assessments"
    assessment_id: str
    round_id: str
    year_be: int
    unit_code: str
    lao_type: LaoType | None = None
    province_code: str | None = None
    district_code: str | None = None
    points: float
    max_points: float
    pass_value: float = Field(description="the figure the framework's pass rule compares, in percent")
    passed: bool
    areas: list[LpaAreaResult]
    finalised_at: datetime


@register
class LpaAssessmentReturned(Event):
    """DLA returned a finalised assessment to its team for correction: its result is withdrawn until finalised again."""

    TYPE: ClassVar[str] = "assessments.lpa_assessment_returned.v1"
    PRODUCER: ClassVar[str] = "assessments"
    assessment_id: str
    round_id: str
    unit_code: str
    reason: str
    returned_at: datetime


@register
class LpaResultsPublished(Event):
    """The round's results are final; they are public from publish_on."""

    TYPE: ClassVar[str] = "assessments.lpa_results_published.v1"
    PRODUCER: ClassVar[str] = "assessments"
    round_id: str
    year_be: int
    publish_on: date
    published_at: datetime
    assessed: int
    passed: int


@register
class LpaFollowUpOpened(Event):
    """A weak area of a published result: the LAO owes an improvement plan by due_at."""

    TYPE: ClassVar[str] = "assessments.lpa_follow_up_opened.v1"
    PRODUCER: ClassVar[str] = "assessments"
    follow_up_id: str
    assessment_id: str
    round_id: str
    year_be: int
    unit_code: str
    area_code: str
    area_name_th: str
    percent: float
    threshold: float
    due_at: datetime


@register
class LpaFollowUpClosed(Event):
    """A follow-up item was closed: its improvement plan was carried out."""

    TYPE: ClassVar[str] = "assessments.lpa_follow_up_closed.v1"
    PRODUCER: ClassVar[str] = "assessments"
    follow_up_id: str
    unit_code: str
    closed_at: datetime


# --- notifications -----------------------------------------------------------------------------

# "assignment": a task given to someone by name outside the reporting ladders (a place in an LPA
# assessor team, an LPA assessment returned to its team for correction).
NotificationKind = Literal["reminder", "escalation", "directive", "assignment"]


@register
class NotificationSent(Event):
    """A message reached a channel (e-mail, LINE, SMS or the in-app inbox)."""

    TYPE: ClassVar[str] = "notifications.notification_sent.v1"
    PRODUCER: ClassVar[str] = "notifications"
    delivery_id: str
    kind: NotificationKind
    channel: Literal["email", "line", "sms", "inapp"]
    recipient_code: str
    address: str
    subject_ref: str = Field(description="obligation or assignment the message is about")
    step: str
    sent_at: datetime
    late: bool = False


@register
class NotificationFailed(Event):
    """A message could not be delivered on a channel (final or to be retried)."""

    TYPE: ClassVar[str] = "notifications.notification_failed.v1"
    PRODUCER: ClassVar[str] = "notifications"
    delivery_id: str
    kind: NotificationKind
    channel: Literal["email", "line", "sms", "inapp"]
    recipient_code: str
    subject_ref: str
    step: str
    failed_at: datetime
    reason: str
    final: bool
