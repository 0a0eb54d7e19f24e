"""One class per event type and version: the single schema registry of the platform.

A new version of an event is a new class (``...v2``) registered beside the old one; consumers
keep decoding the versions they were written for.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


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


Urgency = Literal["most_urgent", "very_urgent", "urgent", "normal"]  # ด่วนที่สุด ด่วนมาก ด่วน ปกติ


class ReportingRequirement(BaseModel):
    """What an addressee must report for an assignment, and by when."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    indicator_code: str
    indicator_name_th: str
    unit_of_measure: str | None = None
    period: str = Field(description="Reporting period label, e.g. 2569-11 or FY2569")
    opens_at: datetime | None = None
    due_at: datetime


# --- plans -------------------------------------------------------------------------------------

@register
class OrgUnitChanged(Event):
    """A unit of the org registry was created or changed (full current state)."""

    TYPE: ClassVar[str] = "plans.org_unit_changed.v1"
    PRODUCER: ClassVar[str] = "plans"
    code: str
    level: str
    lao_type: str | None = None
    parent_code: str | None = None
    name_th: str
    name_en: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    subdistrict_code: str | None = None
    contact_email: str | None = None
    valid_from: date
    valid_to: date | None = None


@register
class DirectiveIssued(Event):
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


@register
class AssignmentCreated(Event):
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


@register
class AssignmentAcknowledged(Event):
    TYPE: ClassVar[str] = "plans.assignment_acknowledged.v1"
    PRODUCER: ClassVar[str] = "plans"
    assignment_id: str
    directive_id: str
    unit_code: str
    acknowledged_at: datetime
    receipt_number: str | None = None


# --- assessments -------------------------------------------------------------------------------

@register
class ObligationOpened(Event):
    TYPE: ClassVar[str] = "assessments.obligation_opened.v1"
    PRODUCER: ClassVar[str] = "assessments"
    obligation_id: str
    unit_code: str
    directive_id: str | None = None
    assignment_id: str | None = None
    indicator_code: str
    indicator_name_th: str
    period: str
    opens_at: datetime | None = None
    due_at: datetime


class SubmittedValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    indicator_code: str
    value: float
    note: str | None = None


@register
class IndicatorSubmitted(Event):
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
    TYPE: ClassVar[str] = "assessments.deadline_missed.v1"
    PRODUCER: ClassVar[str] = "assessments"
    obligation_id: str
    unit_code: str
    directive_id: str | None = None
    indicator_code: str
    period: str
    due_at: datetime
    detected_at: datetime


# --- notifications -----------------------------------------------------------------------------

NotificationKind = Literal["reminder", "escalation", "directive"]


@register
class NotificationSent(Event):
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
