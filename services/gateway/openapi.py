"""The gateway's OpenAPI 3.1 document (``GET /api/openapi.json``) and its browsable docs (``GET /api/docs``).

One ``Op`` per route below. Request bodies come from the services' own pydantic commands (minus the
fields the gateway fills in from the logged-in user); responses are described by the pydantic models
in this module, written from what the services return. ``tests/unit/test_openapi.py`` keeps this
table equal to the routes of ``GatewayService``; ``tests/e2e/test_api_fuzz.py`` runs schemathesis
against the served document.
"""
from __future__ import annotations

import copy
import html
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from shared.web import http
from pydantic import BaseModel, ConfigDict, Field

from services.assessments import commands as assessment_commands
from services.plans import commands as plan_commands
from services.plans import plan_io
from shared.upload_format import UPLOAD_COLUMNS

OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
REF = "#/components/schemas/{model}"

# Routes of GatewayService that are deliberately not in the document, as (METHOD, path) with
# ``{name}`` path parameters. Web pages (HTML, not the JSON API) belong here when they come.
# An entry may name a route that is not (yet) mixed into the service.
UNDOCUMENTED: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/"),                    # the web UI's page (routes_ui.py)
    ("GET", "/static/{name}"),       # its static assets
})

TAGS = [
    ("registry", "ทะเบียนหน่วยงาน", "Org registry: units, their history, CSV import"),
    ("documents", "หนังสือราชการ", "Official documents, their directive items and attachments"),
    ("directives", "ข้อสั่งการ", "Directives: issue, read, addressee preview, cascade"),
    ("assignments", "การมอบหมาย", "A unit's assignments: acknowledge, state, applicability, forward"),
    ("receipts", "ทะเบียนรับ", "Receipt register (unique per unit per calendar year)"),
    ("plans", "แผนพัฒนา", "Plan trees, indicators, targets, alignment links"),
    ("obligations", "ภาระการรายงาน", "Reporting obligations and their history"),
    ("submissions", "การส่งรายงาน", "Submitting values: form, JSON batch, CSV/XLSX upload"),
    ("reviews", "การตรวจรับ", "Supervisors accept or return submissions"),
    ("extensions", "การขยายเวลา", "Extension requests and decisions"),
    ("reports", "รายงานผล", "Compliance per directive, achievement against targets"),
    ("auth", "การเข้าสู่ระบบ", "Tokens, web sessions, who am I"),
    ("notifications", "การแจ้งเตือน", "Preferences, in-app inbox, LINE, delivery ledger, reminder ladders"),
    ("platform", "ระบบ", "Health, metrics, this document"),
]


# ================================================================================================
# Response models: what the gateway returns (the services return dicts; these describe them)
# ================================================================================================

class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


Role = Literal["central", "province", "district", "lao", "reviewer", "ops"]
Urgency = Literal["most_urgent", "very_urgent", "urgent", "normal"]
DirectiveKind = Literal["order", "guideline", "observation", "inspection_focus"]
AssignmentState = Literal["issued", "received", "acknowledged", "forwarded", "in_progress", "reported", "closed",
                          "not_applicable", "cancelled"]
ObligationState = Literal["open", "submitted", "accepted", "returned", "missed", "cancelled"]
ExtensionStatus = Literal["pending", "granted", "denied"]


class Problem(Out):
    """An error (RFC 9457 problem details), with a stable code, the field at fault and both languages."""
    type: str = Field(description="urn:thongthin:problem:<code>", examples=["urn:thongthin:problem:invalid"])
    title: str = Field(description="the English message")
    status: int = Field(ge=400, le=599)
    code: str = Field(description="stable machine-readable code, e.g. invalid, not_found, conflict, forbidden, "
                                  "unauthorized, csrf, too_large, unsupported_media_type, invalid_json")
    field: str | None = Field(description="the input field at fault, e.g. values[0].value; null when none")
    message_th: str
    message_en: str
    detail: str = Field(description="message_th / message_en")
    existing_document_id: str | None = Field(default=None, description="a duplicate document (409): the one "
                                             "already recorded with the same number, sender and date")


class Principal(Out):
    username: str
    role: Role
    org_code: str
    display_name: str
    scopes: list[Literal["read", "write"]] = Field(description="what the token used may do")


class TokenIssued(Out):
    token: str = Field(description="send as Authorization: Bearer <token>")
    token_type: Literal["Bearer"]
    expires_at: datetime
    user: Principal


class SessionStarted(Out):
    user: Principal
    csrf_token: str = Field(description="echo it in the X-CSRF-Token header on every write (also set as cookie tt_csrf)")


class ApiTokenCreated(Out):
    id: int
    token: str = Field(description="shown once; only its hash is stored")
    name: str
    scopes: list[Literal["read", "write"]]
    expires_at: datetime


class ApiToken(Out):
    id: int
    name: str
    scopes: list[Literal["read", "write"]]
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


class ApiTokenList(Out):
    items: list[ApiToken]


class TokenRevoked(Out):
    id: int
    revoked: Literal[True]


class AuditEntry(Out):
    id: int
    at: datetime
    username: str | None
    action: str = Field(description="METHOD path")
    target: str | None = Field(description="the resource written, e.g. assignment:<id>, obligation:<id>, "
                                           "submission:<id>, extension_request:<id>, document:<id>, token:<id>, "
                                           "preferences:<username>, reminder_ladder:<key>, inbox_item:<id>; "
                                           "null for a creation")
    remote_addr: str | None
    status: int
    request: str | None = Field(description="the request body (passwords removed)")
    before: dict[str, Any] | str | None = Field(
        description="the resource as it was just before the write (secrets removed); null for a creation, an "
                    "unknown id, or a resource outside the caller's scope")
    result: str | None = Field(description="the answer (JSON text, secrets removed): the state after the write")
    correlation_id: str | None


class AuditList(Out):
    items: list[AuditEntry]


class Empty(Out):
    """An empty JSON object."""


class Health(Out):
    service: Literal["gateway"]
    status: Literal["ok", "degraded"]
    services: dict[str, Literal["ok", "down", "unreachable"]]


# --- registry ------------------------------------------------------------------------------------

class OrgUnit(Out):
    code: str
    level: plan_commands.Level
    lao_type: plan_commands.LaoType | None
    parent_code: str | None
    name_th: str
    name_en: str | None
    province_code: str | None
    district_code: str | None
    subdistrict_code: str | None
    contact_email: str | None
    head_name_th: str | None = Field(default=None, description="the unit's head, escalated to after a missed deadline")
    head_email: str | None = None
    head_phone: str | None = None
    valid_from: date
    valid_to: date | None


class OrgUnitList(Out):
    items: list[OrgUnit]


class UnitChange(Out):
    code: str
    action: Literal["create", "change"]
    fields: dict[str, list[Any]] | None = Field(
        default=None, description="only for a change: field name -> [before, after]")


class RegisterResult(Out):
    created: int
    changed: int
    unchanged: int
    dry_run: bool
    changes: list[UnitChange] = Field(description="at most 500")
    changes_truncated: bool


# --- documents and directives ----------------------------------------------------------------------

class DocumentAnomaly(Out):
    code: str
    message_th: str
    message_en: str


class DocumentRecorded(Out):
    document_id: str
    directive_ids: list[str]
    anomalies: list[DocumentAnomaly]


class DirectiveRef(Out):
    directive_id: str
    assignment_count: int


class DocumentIssued(Out):
    document_id: str
    directives: list[DirectiveRef]
    assignment_count: int


class AttachmentStored(Out):
    attachment_id: str
    size: int
    sha256: str


class AttachmentInfo(Out):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str


class ReceiptRow(Out):
    id: str
    unit_code: str
    document_id: str
    assignment_id: str | None
    receipt_no: str
    register_year_be: int
    received_on: date
    received_time: str | None
    channel: Literal["paper", "e-saraban", "email", "fax", "hand"]
    routed_from_receipt_id: str | None
    created_at: datetime


class DirectiveItem(Out):
    id: str
    document_id: str
    item_ref: str | None
    kind: DirectiveKind
    issuer_code: str
    issuer_position_th: str | None
    topic_th: str | None
    text_th: str
    text_en: str | None
    addressees: plan_commands.AddresseeRule
    acknowledge_due_at: datetime | None
    reporting: plan_commands.ReportingInput | None
    state: Literal["draft", "issued", "cancelled"]
    issued_at: datetime | None
    correlation_id: str | None


class DocumentDetail(Out):
    id: str
    form: Literal["memo", "letter", "circular", "attachment"]
    number_printed: str | None = Field(description="as printed, Thai digits kept")
    number_normalized: str | None = Field(description="Arabic digits, no ที่, single spaces")
    circular: bool
    document_date: date
    urgency: Urgency
    subject_th: str
    subject_en: str | None
    sender_code: str | None
    sender_text: str | None
    addressee_text: str | None
    references: list[str]
    forwards_document_id: str | None
    status: Literal["recorded", "referenced_only"]
    anomalies: list[DocumentAnomaly]
    created_at: datetime
    created_by: str | None
    recorded_by_unit: str | None = Field(description="the unit that recorded it: it (or central) attaches and issues")
    items: list[DirectiveItem]
    attachments: list[AttachmentInfo]
    receipts: list[ReceiptRow] = Field(description="those registered by units within the caller's scope")


class DocumentSummary(Out):
    id: str
    form: Literal["memo", "letter", "circular", "attachment"]
    number_printed: str | None
    number_normalized: str | None
    document_date: date
    urgency: Urgency
    subject_th: str
    sender_code: str | None
    sender_text: str | None
    status: Literal["recorded", "referenced_only"]
    created_at: datetime


class DocumentList(Out):
    items: list[DocumentSummary]


class AssignmentRow(Out):
    id: str
    directive_id: str
    unit_code: str
    unit_level: str
    parent_assignment_id: str | None
    state: AssignmentState
    applicable: bool | None
    applicability_note: str | None
    created_at: datetime
    received_at: datetime | None
    acknowledged_at: datetime | None
    forwarded_at: datetime | None
    closed_at: datetime | None
    receipt_number: str | None


class DirectiveDetail(DirectiveItem):
    document_number: str | None
    subject_th: str
    urgency: Urgency
    document_date: date
    assignments: list[AssignmentRow]


class DirectiveIssued(Out):
    directive_id: str
    document_id: str
    assignment_count: int


class AddresseeSample(Out):
    code: str
    name_th: str


class AddresseePreview(Out):
    count: int
    by_level: dict[str, int]
    sample: list[AddresseeSample] = Field(description="the first 20")


class LevelSummary(Out):
    """One level of a cascade; the same figures in plans' and reporting's cascade (shared/cascade.py)."""
    level: str
    units: int = Field(description="addressees at this level (assignments sent)")
    received: int = Field(description="addressees that marked it received or acknowledged it")
    acknowledged: int
    forwarded: int = Field(description="addressees that passed it down")
    not_applicable: int
    acknowledgement_rate: float | None = Field(description="acknowledged / units, 0..1")
    median_hop_s: float | None = Field(description="seconds from the sender getting it to this unit being sent it")
    max_hop_s: float | None
    median_acknowledge_s: float | None = Field(description="seconds from sent to acknowledged")
    max_acknowledge_s: float | None


class CascadeUnitFigures(Out):
    unit_code: str
    name_th: str | None
    level: str | None
    state: str
    forwarded_by: str | None = Field(description="the unit that forwarded it; null when the issuer sent it directly")
    forwarded_by_name_th: str | None
    assigned_at: datetime | None = Field(description="when the unit was sent it")
    received_at: datetime | None = Field(description="marked received or acknowledged, the earlier")
    acknowledged_at: datetime | None
    forwarded_at: datetime | None
    hop_s: float | None
    acknowledge_s: float | None


class CascadeUnit(CascadeUnitFigures):
    assignment_id: str
    state: AssignmentState


class CascadeWaiting(CascadeUnit):
    waiting_s: float


class Cascade(Out):
    directive_id: str
    issued_at: datetime | None
    issuer_code: str | None
    issuer_name_th: str | None
    levels: list[LevelSummary]
    units: list[CascadeUnit]
    slowest_acknowledgements: list[CascadeUnit]
    longest_waiting: list[CascadeWaiting]


# --- assignments and receipts -----------------------------------------------------------------------

class AssignmentListItem(AssignmentRow):
    kind: DirectiveKind
    document_id: str
    text_th: str
    acknowledge_due_at: datetime | None
    number_printed: str | None
    subject_th: str
    urgency: Urgency
    overdue: bool = Field(description="not acknowledged by the acknowledgement deadline")


class AssignmentList(Out):
    items: list[AssignmentListItem]


class AssignmentChanged(Out):
    assignment_id: str
    state: AssignmentState
    changed: bool = Field(description="false when the action was already done (idempotent)")


class Forwarded(Out):
    assignment_id: str
    child_assignment_ids: list[str]
    already_assigned: list[str]


class ReceiptRegistered(Out):
    receipt_id: str
    register_year_be: int
    assignment: AssignmentChanged | None = Field(default=None, description="when assignment_id was given")


# --- plans ----------------------------------------------------------------------------------------------

class PartCounts(Out):
    plan: int
    elements: int
    indicators: int
    targets: int
    links: int


class PlanCounts(Out):
    strategic_issues: int
    goals: int
    indicators: int
    strategies: int
    other_elements: int
    targets: int
    targets_with_value: int
    links: int


class PlanAnomaly(Out):
    plan_id: str
    element_id: str | None
    code: str
    message_th: str
    message_en: str
    details: dict[str, Any]


class PlanImported(Out):
    plan_id: str
    shape: str = Field(description="which adapter read the document")
    status: Literal["created", "updated", "unchanged"]
    version: int
    dry_run: bool
    counts: PlanCounts
    created: PartCounts
    updated: PartCounts
    unchanged: PartCounts
    deleted: PartCounts
    anomalies: list[PlanAnomaly]
    events: int


class PlanListCounts(Out):
    strategic_issues: int
    goals: int
    indicators: int
    strategies: int
    targets: int
    flagged_indicators: int


class PlanSummary(Out):
    id: str
    plan_type: str
    owner_code: str | None
    title_th: str
    title_en: str | None
    period_be_start: int
    period_be_end: int
    parent_plan_ids: list[str]
    version: int
    updated_at: datetime
    counts: PlanListCounts


class PlanList(Out):
    items: list[PlanSummary]


class TargetRow(Out):
    fiscal_year_be: int
    scope: str = Field(description='"plan", "unit:<code>" or "group:<group>"')
    unit_code: str | None
    unit_group: str | None
    value: float | None = Field(description="null: no target that year (not zero)")
    no_target: bool
    printed: str | None
    provenance: str | None
    inferred: bool


class TargetListRow(TargetRow):
    plan_id: str
    indicator_id: str


class TargetList(Out):
    items: list[TargetListRow]


class IndicatorFacts(Out):
    unit: str | None
    unit_th: str | None
    value_type: str
    direction: str | None
    direction_basis: str | None
    subject: str | None
    targets_status: str
    declared_total: float | None
    declared_total_printed: str | None
    total_semantics: str | None
    flags: list[dict[str, Any]]
    targets: list[TargetRow]


class PlanNode(Out):
    id: str
    kind: str
    title_th: str
    title_en: str | None
    attributes: dict[str, Any]
    children: list[PlanNode]
    indicator: IndicatorFacts | None = Field(default=None, description="only on indicators")


class PlanHeaderOut(Out):
    id: str
    plan_type: str
    owner_code: str | None
    owner_name_th: str | None
    owner_name_en: str | None
    title_th: str
    title_en: str | None
    period_be_start: int
    period_be_end: int
    parent_plan_ids: list[str]
    vision: dict[str, Any] | None
    missions: list[dict[str, Any]]
    values: dict[str, Any] | None
    attributes: dict[str, Any] | None
    source: dict[str, Any] | None
    source_name: str | None
    version: int
    updated_at: datetime


class PlanDetail(Out):
    plan: PlanHeaderOut
    tree: list[PlanNode]


class PlanLinkOut(Out):
    plan_id: str
    from_id: str | None
    from_kind: str
    from_title_th: str | None
    relation: str
    to_plan_id: str
    to_id: str | None
    basis: Literal["stated", "inferred"]
    attributes: dict[str, Any]
    status: Literal["resolved", "unresolved", "dangling"]
    to_kind: str | None = Field(default=None, description="when resolved")
    to_title_th: str | None = Field(default=None, description="when resolved to an element")


class PlanLinkList(Out):
    items: list[PlanLinkOut]


class PlanAnomalyList(Out):
    items: list[PlanAnomaly]


class PathStep(Out):
    id: str
    kind: str
    title_th: str


class IndicatorDetail(IndicatorFacts):
    plan_id: str
    id: str
    name_th: str
    name_en: str | None
    attributes: dict[str, Any]
    path: list[PathStep]
    links_from: list[PlanLinkOut]
    links_to: list[PlanLinkOut]


# --- obligations, submissions, reviews, extensions -------------------------------------------------

class Obligation(Out):
    id: str
    unit_code: str
    source_key: str
    rule_id: str | None
    directive_id: str | None
    assignment_id: str | None
    indicator_code: str
    indicator_name_th: str
    indicator_codes: list[str]
    period: str
    period_start: date | None
    period_end: date | None
    opens_at: datetime | None
    due_at: datetime
    extended_due_at: datetime | None
    closes_at: datetime | None
    state: ObligationState
    missed_at: datetime | None
    correlation_id: str
    created_at: datetime
    effective_due_at: datetime = Field(description="the due time with any granted extension")


class ObligationList(Out):
    items: list[Obligation]


class StoredValue(Out):
    indicator_code: str
    value: float
    note: str | None
    target_missed: bool


class Review(Out):
    id: str
    submission_id: str
    reviewer_unit_code: str
    reviewer: str | None
    decision: Literal["accepted", "returned"]
    comment: str | None
    reviewed_at: datetime


class SubmissionRecord(Out):
    id: str
    obligation_id: str
    unit_code: str
    submitted_by: str | None
    submitted_for_by_unit: str | None
    via: Literal["form", "batch", "file"]
    submitted_at: datetime
    on_time: bool
    status: Literal["pending", "accepted", "returned", "superseded"]
    values: list[StoredValue]
    reviews: list[Review]


class ExtensionRequest(Out):
    id: str
    obligation_id: str
    unit_code: str
    requested_due_at: datetime
    reason: str
    requested_by: str | None
    requested_at: datetime
    status: ExtensionStatus
    decided_by_unit_code: str | None
    decided_at: datetime | None
    comment: str | None


class ObligationDetail(Obligation):
    submissions: list[SubmissionRecord]
    extension_requests: list[ExtensionRequest]


class SubmissionAccepted(Out):
    submission_id: str
    obligation_id: str
    unit_code: str
    on_time: bool
    submitted_at: datetime


class ItemError(Out):
    index: int
    field: str | None
    code: str
    message_th: str
    message_en: str


class BatchReport(Out):
    mode: Literal["all_or_nothing", "keep_good"]
    received: int
    accepted: int
    rejected: int
    errors: list[ItemError]
    submissions: list[SubmissionAccepted]


class RowError(Out):
    row: int
    column: str | None
    code: str
    message_th: str
    message_en: str


class FileReport(Out):
    filename: str
    format: Literal["csv", "xlsx"] | None
    encoding: str | None
    mode: Literal["all_or_nothing", "keep_good_rows"]
    data_rows: int
    rows_with_errors: int
    accepted_submissions: int
    errors: list[RowError]
    submissions: list[SubmissionAccepted]


class Reviewed(Out):
    submission_id: str
    decision: Literal["accepted", "returned"]
    obligation_state: ObligationState


class ExtensionRequested(Out):
    request_id: str
    status: Literal["pending"]


class ExtensionDecided(Out):
    request_id: str
    status: Literal["granted", "denied"]


class ExtensionRequestList(Out):
    items: list[ExtensionRequest]


# --- reports --------------------------------------------------------------------------------------------

class TrendPoint(Out):
    period: str
    value: float


class Achievement(Out):
    indicator_code: str
    fiscal_year_be: int
    direction: str
    target: float | None
    actual: float
    periods_reported: int
    status: Literal["achieved", "not_achieved", "no_target", "no_data"]
    at_risk: bool
    trend: list[TrendPoint]


class AchievementList(Out):
    items: list[Achievement]


class ComplianceCounts(Out):
    pending: int
    on_time: int
    late: int
    missed: int


class ComplianceUnit(Out):
    directive_id: str
    unit_code: str
    assignment_id: str | None
    assigned_at: datetime | None
    acknowledged_at: datetime | None
    obligation_id: str | None
    due_at: datetime | None
    report_status: Literal["pending", "on_time", "late", "missed"]
    submitted_at: datetime | None
    missed_at: datetime | None
    reminders_sent: int
    escalations_sent: int


class Compliance(Out):
    directive_id: str
    document_number: str
    title_th: str
    expected: int
    counts: ComplianceCounts
    on_time_rate: float | None
    acknowledgement_rate: float | None
    units: list[ComplianceUnit]


# --- notifications (services/gateway/notifications_api.py) -------------------------------------------
# These describe the notifications service as read; they allow additional properties where the
# service is still growing.

class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class NotificationPreferences(Open):
    username: str
    org_code: str
    language: str
    date_digits: str
    channels: dict[str, Any]
    fallback_order: list[str] | None
    quiet_hours: dict[str, str] | None
    quiet_hours_is_default: bool
    opt_out: list[str]
    digest: bool
    classes: dict[str, list[str]]


class InboxItem(Open):
    id: str | int
    kind: str
    subject: str | None
    body: str | None
    link: str | None
    created_at: datetime
    read: bool
    read_at: datetime | None


class Inbox(Open):
    unread: int
    items: list[InboxItem]


class InboxRead(Open):
    id: str | int
    read: Literal[True]


class LineLinkCode(Open):
    code: str = Field(examples=["TT-ABCD-EFGH"])
    target: Literal["me", "org"]
    expires_at: datetime
    instructions_th: str
    instructions_en: str


class LineWebhookResult(Out):
    linked: int
    ignored: int


class Deliveries(Open):
    total: int
    items: list[dict[str, Any]]


class Chased(Open):
    obligation_id: str
    unit_code: str
    step: str
    queued: int
    already_chased_today: int
    status: str | None = None             # of the unit's own message: scheduled | sent | ...
    scheduled_for: str | None = None      # when it really goes (quiet hours, weekends, holidays)
    sends_now: bool = False
    deferred_because: str | None = None   # e.g. "quiet hours 20:00-07:00", "weekend or public holiday"
    recipients: list[dict[str, Any]] = []


class ReminderLadder(Open):
    key: str
    steps: list[Any]


class ReminderLadders(Open):
    default_from_config: list[Any]
    items: list[dict[str, Any]]


# --- dashboards (services/gateway/routes_reports.py; the reporting service's read models) -----------
# Open models: the reporting service may add columns; what is listed here is always there.

Rate = Field(ge=0, le=1, description="0..1 rounded to 4 places; null when nothing was expected")


class ReportCounts(Open):
    expected: int = Field(ge=0, description="obligations not cancelled")
    due: int = Field(ge=0, description="past their effective due time or submitted: on_time + late + missing, "
                                       "the denominator of every rate")
    on_time: int = Field(ge=0)
    late: int = Field(ge=0)
    missing: int = Field(ge=0)
    pending: int = Field(ge=0, description="not yet due and not submitted; due + pending = expected")
    extended: int = Field(ge=0, description="a flag counted on top: due time extended")
    returned: int = Field(ge=0, description="a flag counted on top: returned for correction")
    on_time_rate: float | None = Rate
    reported_rate: float | None = Rate


class ReportUnit(Open):
    code: str | None
    name_th: str | None
    level: str | None


class ComplianceReport(Open):
    unit: ReportUnit
    period: str | None
    periods: list[str] = Field(description="every period with obligations, months then quarters then fiscal "
                                           "years, each in chronological order")
    periods_by_kind: dict[str, list[str]] = Field(description="month / quarter / year → its periods, in order")
    invalid_periods: list[str] = Field(description="stored labels outside the period grammar: on no axis")
    totals: ReportCounts
    children: list[dict[str, Any]] = Field(
        description="the next level down (nation → provinces → districts → LAOs) with code, name_th, level, "
                    "lao_type and the counts; for an LAO one row per obligation with its status")


class MatrixRow(Open):
    code: str
    name_th: str | None
    cells: dict[str, float | None] = Field(description="period → on-time rate (0..1) or null")


class ComplianceMatrix(Open):
    kind: str = Field(description="month, quarter or year: one kind of period per matrix")
    periods: list[str] = Field(description="in chronological order")
    rows: list[MatrixRow]
    totals: dict[str, dict[str, Any]] = Field(description="period → the node's counts and rates for it")


class CascadeReportUnit(CascadeUnitFigures):
    report_status: str | None


class CascadeReport(Open):
    directive: dict[str, Any] = Field(description="directive_id, document_number, title_th, issued_at, addressee_count")
    levels: list[LevelSummary]
    units: list[CascadeReportUnit]
    slowest_hops: list[CascadeReportUnit] = Field(description="the ten units with the longest hop")


class AchievementReport(Open):
    indicator: dict[str, Any] = Field(description="code, name_th, unit_of_measure, direction")
    fiscal_year_be: int
    summary: dict[str, int] = Field(description="achieved, not_achieved, no_target, at_risk, no_data")
    rows: list[dict[str, Any]] = Field(description="children of the unit: code, name_th, level, actual, target, status")
    trend: list[dict[str, Any]] = Field(description="the unit's aggregate per period: period, actual, target")


class NotificationEffectiveness(Open):
    rows: list[dict[str, Any]] = Field(description="kind, step, channel, sent, failed, late, submitted_after, "
                                                   "median_s_to_submission")


class OverdueItem(Open):
    obligation_id: str
    unit_code: str
    name_th: str | None
    period: str
    due_at: datetime
    days_late: float | int


class OverdueReport(Open):
    total: int = Field(ge=0)
    items: list[OverdueItem]


# ================================================================================================
# Request bodies that are not a service command as is
# ================================================================================================

class Credentials(BaseModel):
    """Any other field is ignored."""
    username: str = Field(examples=["somchai.s"])
    password: str = Field(examples=["••••••••"])


class NewApiToken(BaseModel):
    """Other fields are ignored."""
    name: str = Field(default="api", description="at most 64 characters are kept")
    scopes: list[Literal["read", "write"]] = Field(default=["read"], min_length=1)
    expires_in_days: int = Field(default=90, ge=1, le=366)


class LineLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: Literal["me", "org"] = "me"


class ChaseRequest(BaseModel):
    obligation_id: str = Field(min_length=1, max_length=64)


class LadderSteps(BaseModel):
    steps: list[str] = Field(description="ISO 8601 durations before the due time, or MORNING",
                             examples=[["-P7D", "-P3D", "-P1D", "MORNING"]])


# ================================================================================================
# The routes
# ================================================================================================

@dataclass
class Param:
    name: str
    schema: dict
    where: str = "query"
    required: bool = False
    description: str = ""
    example: Any = None


@dataclass
class Op:
    method: str
    path: str
    operation_id: str
    tag: str
    summary_th: str
    summary_en: str
    description: str = ""
    auth: Literal["user", "bearer", "public"] = "user"
    write: bool = False                        # audited; session callers need X-CSRF-Token
    roles: tuple[str, ...] | None = None
    params: list[Param] = field(default_factory=list)
    body: dict[str, dict] | None = None        # media type -> {"schema": ..., "example": ...}
    body_required: bool = True
    ok: dict[str, tuple[str, Any]] = field(default_factory=dict)   # status -> (description, schema source)
    errors: tuple[int, ...] = ()
    mixin: str | None = None                   # documented only when the service has this mixin
    exports: bool = False                      # ?format=csv|xlsx (&lang=en) turn the table into a file


def _path(name: str, description: str = "") -> Param:
    return Param(name, {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}, "path", True, description)


def _limit(default: int = 100, maximum: int = 1000) -> Param:
    return Param("limit", {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
                 description=f"page size (default {default})")


def _sort(*columns: str) -> Param:
    one = "-?(" + "|".join(columns) + ")"
    return Param("sort", {"type": "string", "pattern": f"^{one}(,{one})*$"},
                 description="comma-separated columns, - for descending: " + ", ".join(columns),
                 example=f"-{columns[0]},{columns[1]}")


UNIT_PARAM = Param("unit_code", {"type": "string", "maxLength": 32},
                   description="the unit looked at (default: the caller's own; the nation for central and ops)",
                   example="PLO-09")
PERIOD_PARAM = Param("period", {"type": "string", "maxLength": 20},
                     description="a period label: 2569-01 (month), FY2569-Q1 (quarter), FY2569 (fiscal year)",
                     example="2569-01")
EXPORT_PARAMS = [
    Param("format", {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"},
          description="json (default), or the table as a file: csv (UTF-8 with BOM, for Excel) or xlsx"),
    Param("lang", {"type": "string", "enum": ["th", "en"], "default": "th"},
          description="the language of the file's column headers")]
CSV_MEDIA = "text/csv"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OFFSET = Param("offset", {"type": "integer", "minimum": 0, "default": 0}, description="items to skip")
FLAG = {"type": "string", "enum": ["0", "1", "true", "false"]}
JSON = "application/json"
PROBLEM = "application/problem+json"

# Statuses a route wrapped by ``api()`` may answer besides its own: 401 without a valid token or
# session, 502 when a service behind it fails.
READ_ERRORS = (401, 502)
WRITE_ERRORS = (400, 401, 403, 413, 422, 502)   # bad JSON, CSRF or role, too large, validation


def body(model_or_schema, example=None, media=JSON) -> dict:
    return {media: {"schema": model_or_schema, **({"example": example} if example is not None else {})}}


def command(model, *, drop: tuple[str, ...] = (), name: str | None = None, optional: tuple[str, ...] = (),
            require: tuple[str, ...] = ()):
    """A service command as a request body: minus the fields the gateway fills in (``drop``), with
    ``optional`` fields the gateway defaults from the user, and ``require``d ones the model defaults
    but the service needs (e.g. the format marker that tells a plan document's shape)."""
    return ("command", model, drop, name or model.__name__, optional, require)


UNIT_EXAMPLE = {"units": [{"code": "LAO-189901", "level": "lao", "lao_type": "sao", "parent_code": "DLO-0115",
                           "name_th": "องค์การบริหารส่วนตำบลบ้านกล้วย ๒", "name_en": "Ban Kluai 2 SAO",
                           "province_code": "9", "valid_from": "2026-10-01"}],
                "dry_run": True}
DIRECTIVE_EXAMPLE = {
    "document_number": "มท ๐๘๑๐.๓/ว ๗๗", "document_date": "2026-11-21", "urgency": "very_urgent",
    "subject_th": "รายงานผลการเบิกจ่ายเงินอุดหนุนผู้สูงอายุ", "text_th": "ให้ อปท. รายงานร้อยละการเบิกจ่ายทุกวันที่ ๓",
    "addressees": {"level": "lao", "within": "PLO-09"},
    "reporting": {"indicator_code": "ELDERLY-VOL-DISBURSED-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย",
                  "value_type": "percent", "minimum": 0, "maximum": 100, "rrule": "FREQ=MONTHLY;BYMONTHDAY=3",
                  "dtstart": "2026-12-01T00:00:00+07:00", "due_time_local": "16:30"}}
DOCUMENT_EXAMPLE = {
    "form": "circular", "document_number": "ที่ มท ๐๘๑๐.๔/ว ๙๙", "document_date": "2026-11-21",
    "urgency": "most_urgent", "subject_th": "ซักซ้อมการรายงานผลการเบิกจ่าย", "sender_code": "DLA",
    "items": [{"kind": "order", "text_th": "ให้ท้องถิ่นจังหวัดแจ้ง อปท. ในพื้นที่", "addressees": {"codes": ["PLO-09"]}}]}
SUBMIT_EXAMPLE = {"values": [{"indicator_code": "ELDERLY-VOL-DISBURSED-PCT", "value": 72.5,
                              "note": "เบิกจ่ายล่าช้าเพราะน้ำท่วมหมู่ ๓"}]}
PLAN_SHAPES = ("a thongthin.plan/v1 document (below), or one of the source extracts the importer "
               "recognises by structure (DLA strategic plan, provincial cascade, local development plan); "
               "YAML with Content-Type application/x-yaml")

OPS: list[Op] = [
    # --- platform --------------------------------------------------------------------------------
    Op("GET", "/health", "health", "platform", "สถานะระบบ", "Health of the gateway and every service",
       auth="public", ok={"200": ("every service answers", Health), "503": ("a service is down", Health)}),
    Op("GET", "/metrics", "metrics", "platform", "ตัวชี้วัดของระบบ (Prometheus)", "Prometheus metrics",
       auth="public", ok={"200": ("Prometheus text format", ("text/plain", {"type": "string"}))}),
    Op("GET", OPENAPI_PATH, "openapi_document", "platform", "เอกสาร OpenAPI นี้", "This OpenAPI document",
       auth="public", ok={"200": ("OpenAPI 3.1", {"type": "object"})}),
    Op("GET", DOCS_PATH, "api_docs", "platform", "คู่มือ API (หน้าเว็บ)", "Browsable API docs (HTML)",
       auth="public", ok={"200": ("HTML page", ("text/html", {"type": "string"}))}),

    # --- auth -----------------------------------------------------------------------------------------
    Op("POST", "/api/v1/auth/token", "login", "auth", "ขอโทเคน (ชื่อผู้ใช้ + รหัสผ่าน)",
       "Username and password for a bearer token (30 days)", auth="public",
       description="Five wrong passwords lock the account for 15 minutes (429).",
       body=body(Credentials, {"username": "somchai.s", "password": "รหัสผ่านของท่าน"}),
       ok={"200": ("a bearer token", TokenIssued)}, errors=(400, 401, 413, 422, 429)),
    Op("POST", "/api/v1/auth/session", "login_session", "auth", "เข้าสู่ระบบผ่านเว็บ (คุกกี้)",
       "Web login: HttpOnly session cookie tt_session and CSRF cookie tt_csrf (12 hours)", auth="public",
       body=body(Credentials, {"username": "somying.k", "password": "รหัสผ่านของท่าน"}),
       ok={"200": ("session started; cookies set", SessionStarted)}, errors=(400, 401, 413, 422, 429)),
    Op("POST", "/api/v1/auth/logout", "logout", "auth", "ออกจากระบบ (ยกเลิกโทเคนหรือเซสชัน)",
       "Revoke the session cookie's token, or the bearer token sent", auth="public", body=None,
       ok={"200": ("revoked (or nothing to revoke); cookies cleared", Empty)}),
    Op("POST", "/api/v1/tokens", "create_token", "auth", "สร้างโทเคนสำหรับระบบอื่น",
       "Create a named API token for a machine client (read, or read + write)", write=True,
       body=body(NewApiToken, {"name": "ระบบบัญชี อบต.", "scopes": ["read"], "expires_in_days": 90}),
       ok={"201": ("the token (shown once)", ApiTokenCreated)}, errors=WRITE_ERRORS),
    Op("GET", "/api/v1/tokens", "list_tokens", "auth", "โทเคนของฉัน", "My API tokens (not web sessions)",
       ok={"200": ("newest first", ApiTokenList)}, errors=READ_ERRORS),
    Op("DELETE", "/api/v1/tokens/{token_id}", "revoke_token", "auth", "ยกเลิกโทเคน", "Revoke one of my tokens",
       write=True, params=[Param("token_id", {"type": "integer", "minimum": 0}, "path", True)],
       ok={"200": ("revoked", TokenRevoked)}, errors=(401, 403, 404, 502)),
    Op("GET", "/api/v1/audit", "audit", "platform", "บันทึกการใช้งาน", "The audit log (ops)", roles=("ops",),
       params=[Param("username", {"type": "string"}), Param("status", {"type": "integer"}),
               Param("target", {"type": "string", "maxLength": 200}, description="exactly, e.g. assignment:<id>",
                     example="assignment:3f1c2a9e-0000-4000-8000-000000000000"),
               Param("action", {"type": "string"}, description="part of 'METHOD path'", example="POST /api/v1/directives"),
               _limit(), OFFSET],
       exports=True, ok={"200": ("newest first", AuditList)}, errors=(400, 403) + READ_ERRORS),
    Op("GET", "/api/v1/me", "me", "auth", "ข้อมูลผู้ใช้ปัจจุบัน", "Who am I",
       ok={"200": ("the caller", Principal)}, errors=READ_ERRORS),

    # --- registry -------------------------------------------------------------------------------------
    Op("POST", "/api/v1/org-units", "register_units", "registry", "ลงทะเบียน/แก้ไขหน่วยงาน",
       "Register or update units (a change keeps history; dry_run reports only)",
       write=True, roles=("central", "ops"), body=body(command(plan_commands.RegisterUnits), UNIT_EXAMPLE),
       ok={"200": ("what changed (or would change)", RegisterResult)}, errors=WRITE_ERRORS),
    Op("POST", "/api/v1/org-units/import", "import_units", "registry", "นำเข้าทะเบียนหน่วยงานจาก CSV",
       "Import a registry CSV (UTF-8, header = field names)", write=True, roles=("central", "ops"),
       params=[Param("dry_run", FLAG, description="1: list what would change, change nothing")],
       body={media: {"schema": {"type": "string"},
                     "example": "code,level,lao_type,parent_code,name_th\n"
                                "LAO-189901,lao,sao,DLO-0115,องค์การบริหารส่วนตำบลบ้านกล้วย ๒\n"}
             for media in ("text/csv", "application/csv", "text/plain")},
       ok={"200": ("what changed (or would change)", RegisterResult)}, errors=WRITE_ERRORS + (415,)),
    Op("GET", "/api/v1/org-units", "list_units", "registry", "รายการหน่วยงานปัจจุบัน", "Current units",
       params=[Param("parent_code", {"type": "string"}, description="children of this unit"),
               Param("level", {"type": "string", "enum": list(plan_commands.Level.__args__)}),
               Param("lao_type", {"type": "string", "enum": list(plan_commands.LaoType.__args__)},
                     description="LAOs of this type; any other value is 422"),
               Param("search", {"type": "string"}, description="in the Thai name or the code", example="ชัยนาท"),
               _limit(), OFFSET, _sort("code", "name_th", "level", "lao_type", "valid_from")],
       ok={"200": ("units by code", OrgUnitList)}, errors=(400,) + READ_ERRORS),
    Op("GET", "/api/v1/org-units/{code}/history", "unit_history", "registry", "ประวัติของหน่วยงาน",
       "Every version of a unit (renames, upgrades)", params=[_path("code")],
       ok={"200": ("versions, oldest first", OrgUnitList)}, errors=(404,) + READ_ERRORS),

    # --- documents ---------------------------------------------------------------------------------------
    Op("POST", "/api/v1/documents", "record_document", "documents", "บันทึกหนังสือราชการและข้อสั่งการ",
       "Record a document (number as printed, BE or CE date) with its directive items (drafts)",
       description="document_date also accepts Thai forms such as '๒๑ พ.ย. ๒๕๖๙' or '21/11/2569'. "
                   "The sender is the caller's unit (another sender_code: 403); central states sender_code "
                   "(e.g. MOI for an incoming memo). Each item's issuer and addressees lie within the "
                   "sender's subtree (central: any unit), else 403 naming the field. The same number, sender "
                   "and date again answers 409 with existing_document_id unless allow_duplicate is true.",
       write=True, roles=("central", "province", "district"),
       body=body(command(plan_commands.RecordDocument, optional=("sender_code",)), DOCUMENT_EXAMPLE),
       ok={"201": ("recorded", DocumentRecorded)}, errors=WRITE_ERRORS + (404, 409)),
    Op("GET", "/api/v1/documents", "find_documents", "documents", "ค้นหาหนังสือตามเลขที่",
       "Documents by number (Thai or Arabic digits, with or without ที่), exact matches first (own subtree)",
       params=[Param("number", {"type": "string", "maxLength": 160}, description="all or part of the number",
                     example="มท ๐๘๐๑.๒/ว ๕๒"),
               Param("sender_code", {"type": "string", "maxLength": 32}), _limit(), OFFSET],
       ok={"200": ("matching documents", DocumentList)}, errors=(400,) + READ_ERRORS),
    Op("GET", "/api/v1/documents/{document_id}", "get_document", "documents", "หนังสือพร้อมข้อสั่งการ ไฟล์แนบ และทะเบียนรับ",
       "A document with its items, attachments and receipts", params=[_path("document_id")],
       ok={"200": ("the document", DocumentDetail)}, errors=(404,) + READ_ERRORS),
    Op("POST", "/api/v1/documents/{document_id}/issue", "issue_document", "documents", "ส่งข้อสั่งการในหนังสือ",
       "Issue the draft items (all, or those listed in items): one assignment per addressee", write=True,
       description="Only the unit that recorded the document (or central) issues it (403).",
       roles=("central", "province", "district"), params=[_path("document_id")],
       body={JSON: {"schema": {"type": "object", "additionalProperties": False, "properties": {
           "items": {"type": "array", "minItems": 1, "maxItems": 500, "items": {"type": "string"},
                     "description": "ids of the draft items to issue (default: all)"}}},
           "example": {"items": ["<directive id>"]}}},
       body_required=False,
       ok={"200": ("issued", DocumentIssued)}, errors=(400, 401, 403, 404, 409, 413, 422, 502)),
    Op("POST", "/api/v1/documents/{document_id}/attachments", "add_attachment", "documents", "แนบไฟล์",
       "Upload an attachment (multipart field file, at most 5 MB)", write=True,
       roles=("central", "province", "district"), params=[_path("document_id")],
       body={"multipart/form-data": {
           "schema": {"type": "object", "required": ["file"],
                      "properties": {"file": {"type": "string", "format": "binary"}}}}},
       ok={"201": ("stored", AttachmentStored)}, errors=(400, 401, 403, 404, 413, 422, 502)),
    Op("GET", "/api/v1/attachments/{attachment_id}", "download_attachment", "documents", "ดาวน์โหลดไฟล์แนบ",
       "Download an attachment, with its own Content-Type (own subtree)", params=[_path("attachment_id")],
       ok={"200": ("the file as uploaded", ("*/*", {"type": "string", "format": "binary"}))},
       errors=(401, 404, 502)),

    # --- directives ------------------------------------------------------------------------------------
    Op("POST", "/api/v1/addressees/preview", "preview_addressees", "directives", "ดูตัวอย่างผู้รับตามเงื่อนไข",
       "How many units an addressee rule reaches, by level, with a sample", roles=("central", "province", "district"),
       body=body(command(plan_commands.AddresseeRule), {"level": "lao", "within": "PLO-09"}),
       ok={"200": ("the units reached", AddresseePreview)}, errors=(400, 401, 403, 413, 422, 502)),
    Op("POST", "/api/v1/directives", "issue_directive", "directives", "ออกข้อสั่งการ (หนังสือฉบับเดียว)",
       "Issue a directive with addressees (codes, or level + within) and an optional reporting rule",
       description="issuer_code defaults to the caller's unit; document_date also accepts Thai forms.",
       write=True, roles=("central",),
       body=body(command(plan_commands.IssueDirective, optional=("issuer_code",)), DIRECTIVE_EXAMPLE),
       ok={"201": ("issued", DirectiveIssued)}, errors=WRITE_ERRORS),
    Op("GET", "/api/v1/directives/{directive_id}", "get_directive", "directives", "ข้อสั่งการและการมอบหมาย",
       "A directive with its document and assignments", params=[_path("directive_id")],
       ok={"200": ("the directive", DirectiveDetail)}, errors=(404,) + READ_ERRORS),
    Op("GET", "/api/v1/directives/{directive_id}/cascade", "cascade", "directives", "การส่งต่อข้อสั่งการตามลำดับชั้น",
       "Per level and unit: received, acknowledged, forwarded, hop latencies (own subtree)",
       params=[_path("directive_id")], ok={"200": ("the cascade", Cascade)}, errors=(404,) + READ_ERRORS),

    # --- assignments ----------------------------------------------------------------------------------
    Op("GET", "/api/v1/assignments", "list_assignments", "assignments", "ข้อสั่งการที่หน่วยงานได้รับ",
       "The caller's unit's assignments (mine=0: its whole subtree)",
       params=[Param("mine", {"type": "string", "enum": ["0", "1"], "default": "1"}),
               Param("state", {"type": "string", "enum": list(AssignmentState.__args__)}),
               Param("directive_id", {"type": "string"}), _limit(), OFFSET,
               _sort("created_at", "unit_code", "state", "acknowledged_at")],
       exports=True, ok={"200": ("newest first", AssignmentList)}, errors=(400, 404) + READ_ERRORS),
    Op("POST", "/api/v1/assignments/{assignment_id}/acknowledge", "acknowledge", "assignments", "ลงรับข้อสั่งการ",
       "Acknowledge (idempotent), optionally with the receipt number", write=True,
       params=[_path("assignment_id")],
       body=body(command(plan_commands.AcknowledgeAssignment, drop=("assignment_id", "unit_code")),
                 {"receipt_number": "๑๒๓"}),
       ok={"200": ("acknowledged (changed=false if already)", AssignmentChanged)},
       errors=WRITE_ERRORS + (404, 409)),
    Op("POST", "/api/v1/assignments/{assignment_id}/state", "change_state", "assignments", "เปลี่ยนสถานะการดำเนินการ",
       "received / in_progress / reported / closed / not_applicable / cancelled", write=True,
       params=[_path("assignment_id")],
       body=body(command(plan_commands.ChangeAssignmentState, drop=("assignment_id", "unit_code")),
                 {"to_state": "in_progress", "note": "อยู่ระหว่างรวบรวมข้อมูลจากกองคลัง"}),
       ok={"200": ("the new state", AssignmentChanged)}, errors=WRITE_ERRORS + (404, 409)),
    Op("POST", "/api/v1/assignments/{assignment_id}/applicability", "declare_applicability", "assignments",
       "แจ้งว่าเกี่ยวข้องหรือไม่เกี่ยวข้อง", "Applicable or not (not: with a reason)", write=True,
       params=[_path("assignment_id")],
       body=body(command(plan_commands.DeclareApplicability, drop=("assignment_id", "unit_code")),
                 {"applicable": False, "note": "ไม่มีผู้สูงอายุในพื้นที่ที่เข้าเกณฑ์"}),
       ok={"200": ("recorded", AssignmentChanged)}, errors=WRITE_ERRORS + (404, 409)),
    Op("POST", "/api/v1/assignments/{assignment_id}/forward", "forward", "assignments", "ส่งต่อข้อสั่งการ",
       "Forward inside the unit's own subtree", write=True, roles=("central", "province", "district"),
       params=[_path("assignment_id")],
       body=body(command(plan_commands.ForwardAssignment, drop=("assignment_id", "unit_code")),
                 {"addressees": {"level": "district_office", "within": "PLO-09"}}),
       ok={"200": ("child assignments", Forwarded)}, errors=WRITE_ERRORS + (404, 409)),
    Op("POST", "/api/v1/receipts", "register_receipt", "receipts", "ลงทะเบียนรับหนังสือ",
       "Register a receipt number (unique per unit per calendar year) for the caller's unit", write=True,
       description="received_on also accepts Thai forms such as '21/11/2569'. The number is stored with "
                   "Arabic digits: ๕๐๘๓๖ and 50836 are the same number. A document the caller cannot see: 404.",
       body=body(command(plan_commands.RegisterReceipt, drop=("unit_code",)),
                 {"document_id": "<document id>", "receipt_no": "๒๙๖", "received_on": "2026-11-21",
                  "received_time": "10:30", "channel": "e-saraban"}),
       ok={"201": ("registered", ReceiptRegistered)}, errors=WRITE_ERRORS + (404, 409)),

    # --- plans ------------------------------------------------------------------------------------------
    Op("POST", "/api/v1/plans", "import_plan", "plans", "นำเข้าแผน (YAML หรือ JSON)",
       "Import (create or update) a plan; dry_run=1 reports only (central: any plan; a unit: its own plan only, "
       "else 403)", write=True,
       roles=("central", "province", "district", "lao"), description="The body is " + PLAN_SHAPES + ".",
       params=[Param("dry_run", FLAG), Param("source", {"type": "string"}, description="name of the source file")],
       body={JSON: {"schema": {"anyOf": [command(plan_io.PlanDocument, require=("format",)),
                                         {"type": "object", "description": "another supported shape"}]},
                    "example": {"format": "thongthin.plan/v1",
                                "plan": {"id": "LAO-189901-LDP-2566-2570", "type": "local_development",
                                         "owner_code": "LAO-189901", "title_th": "แผนพัฒนาท้องถิ่น (พ.ศ. ๒๕๖๖-๒๕๗๐)",
                                         "period_be_start": 2566, "period_be_end": 2570},
                                "indicators": [{"id": "IND-1", "name_th": "จำนวนผู้สูงอายุที่ได้รับการเยี่ยมบ้าน",
                                                "unit_th": "คน", "targets": {"2567": 120, "2568": "-"}}]}},
             **{media: {"schema": {"type": "string"}} for media in
                ("application/x-yaml", "application/yaml", "text/yaml", "text/plain")}},
       ok={"200": ("import summary", PlanImported)}, errors=WRITE_ERRORS + (404, 409, 415)),
    Op("GET", "/api/v1/plans", "list_plans", "plans", "รายการแผน", "Plans",
       params=[Param("type", {"type": "string"}, example="strategic"), Param("owner_code", {"type": "string"}),
               Param("parent_plan_id", {"type": "string"}), _limit(), OFFSET],
       ok={"200": ("plans by id", PlanList)}, errors=(400,) + READ_ERRORS),
    Op("GET", "/api/v1/plans/{plan_id}", "get_plan", "plans", "แผนพร้อมโครงสร้าง", "A plan and its whole tree",
       params=[_path("plan_id")], ok={"200": ("the plan", PlanDetail)}, errors=(404,) + READ_ERRORS),
    Op("GET", "/api/v1/plans/{plan_id}/export", "export_plan", "plans", "ส่งออกแผน (thongthin.plan/v1)",
       "The plan as a normalized document; importing it gives the same plan", params=[_path("plan_id")],
       ok={"200": ("thongthin.plan/v1", ("out", plan_io.PlanDocument))}, errors=(404,) + READ_ERRORS),
    Op("GET", "/api/v1/plans/{plan_id}/indicators/{indicator_id}", "get_indicator", "plans", "ตัวชี้วัดในแผน",
       "An indicator: targets, flags, place in the tree, links", params=[_path("plan_id"), _path("indicator_id")],
       ok={"200": ("the indicator", IndicatorDetail)}, errors=(404,) + READ_ERRORS),
    Op("GET", "/api/v1/targets", "list_targets", "plans", "ค่าเป้าหมาย", "Targets by plan, indicator, year, unit",
       params=[Param("plan_id", {"type": "string"}), Param("indicator_id", {"type": "string"}),
               Param("fiscal_year_be", {"type": "integer", "minimum": 0},
                     description="a Buddhist-era fiscal year (2400-2699); 0 or absent: every year", example=2568),
               Param("unit_code", {"type": "string"}), Param("unit_group", {"type": "string"}),
               _limit(1000), OFFSET],
       ok={"200": ("targets", TargetList)}, errors=(400, 422) + READ_ERRORS),
    Op("GET", "/api/v1/plans/{plan_id}/links", "plan_links", "plans", "ความเชื่อมโยงของแผน",
       "Links from the plan (or one element), or into it (direction=to)",
       params=[_path("plan_id"), Param("direction", {"type": "string", "enum": ["from", "to"], "default": "from"}),
               Param("element_id", {"type": "string"})],
       ok={"200": ("links", PlanLinkList)}, errors=(400, 404) + READ_ERRORS),
    Op("GET", "/api/v1/plans/{plan_id}/anomalies", "plan_anomalies", "plans", "ความผิดปกติของแผน",
       "Declared-total mismatches and unresolved or dangling links", params=[_path("plan_id")],
       ok={"200": ("anomalies", PlanAnomalyList)}, errors=(404,) + READ_ERRORS),

    # --- obligations ----------------------------------------------------------------------------------
    Op("GET", "/api/v1/obligations", "list_obligations", "obligations", "ภาระการรายงาน",
       "Obligations with their effective due time (own unit for an LAO, else own subtree)",
       params=[Param("unit_code", {"type": "string"}), Param("directive_id", {"type": "string"}),
               Param("rule_id", {"type": "string"}),
               Param("state", {"type": "string", "enum": list(ObligationState.__args__)}),
               Param("period", {"type": "string"}, example="2569-12"),
               Param("overdue", FLAG, description="1: past due and not submitted"), _limit(), OFFSET,
               _sort("due_at", "unit_code", "state", "period", "created_at")],
       exports=True, ok={"200": ("by due time", ObligationList)}, errors=(400, 404) + READ_ERRORS),
    Op("GET", "/api/v1/obligations/{obligation_id}", "get_obligation", "obligations", "ภาระการรายงานพร้อมประวัติ",
       "One obligation with its submissions, reviews and extension requests", params=[_path("obligation_id")],
       ok={"200": ("the obligation", ObligationDetail)}, errors=(404,) + READ_ERRORS),
    Op("POST", "/api/v1/obligations/{obligation_id}/submissions", "submit", "submissions", "ส่งรายงานตัวชี้วัด",
       "Submit every indicator's value; on time or late by server time", write=True,
       roles=("lao", "district", "province", "central"), params=[_path("obligation_id")],
       description="unit_code defaults to the caller's unit (a unit above it may submit for it). "
                   "A value that misses its target needs a note.",
       body=body(command(assessment_commands.SubmitValues,
                         drop=("obligation_id", "submitted_by", "submitter_unit_code"), optional=("unit_code",)),
                 SUBMIT_EXAMPLE),
       ok={"201": ("stored", SubmissionAccepted)}, errors=WRITE_ERRORS + (404, 409)),
    Op("POST", "/api/v1/obligations/{obligation_id}/extension-requests", "request_extension", "extensions",
       "ขอขยายเวลาส่งรายงาน", "Ask for more time, with a reason (the LAO)", write=True, roles=("lao",),
       params=[_path("obligation_id")],
       body=body(command(assessment_commands.RequestExtension,
                         drop=("obligation_id", "unit_code", "requested_by")),
                 {"requested_due_at": "2026-12-10T16:30:00+07:00", "reason": "ระบบไฟฟ้าขัดข้องทั้งตำบล"}),
       ok={"201": ("pending", ExtensionRequested)}, errors=WRITE_ERRORS + (404, 409)),
    Op("POST", "/api/v1/submissions/batch", "submit_batch", "submissions", "ส่งรายงานหลายรายการพร้อมกัน",
       "Many reports at once; all_or_nothing (default) or keep_good; errors by item and field",
       write=True, roles=("lao", "district", "province", "central"),
       body=body(command(assessment_commands.SubmitBatch, drop=("submitted_by", "submitter_unit_code")),
                 {"mode": "keep_good", "items": [{"unit_code": "LAO-180101", "period": "2569-12",
                                                  "values": SUBMIT_EXAMPLE["values"]}]}),
       ok={"200": ("stored (some or all)", BatchReport),
           "422": ("nothing stored: items rejected (a report, application/json), or the body itself is invalid "
                   "(a problem)", BatchReport)},
       errors=(400, 401, 403, 413, 422, 502)),
    Op("POST", "/api/v1/submissions/upload", "submit_file", "submissions", "อัปโหลดไฟล์รายงาน (CSV/XLSX)",
       "CSV or XLSX (UTF-8, UTF-8 with BOM, CP874/TIS-620); Thai or English headers; errors by row and column",
       description="The first row names the columns, in English or in Thai (any order, case and spaces "
                   "ignored): " + "; ".join(f"`{column}` or `{thai}`{'' if required else ' (optional)'}: {what}"
                                            for column, thai, required, what in UPLOAD_COLUMNS) + ".",
       write=True, roles=("lao", "district", "province", "central"),
       params=[Param("mode", {"type": "string", "enum": ["all_or_nothing", "keep_good_rows"],
                              "default": "all_or_nothing"})],
       body={"multipart/form-data": {
           "schema": {"type": "object", "required": ["file"],
                      "properties": {"file": {"type": "string", "format": "binary",
                                              "description": "a .csv, .txt or .xlsx file, at most 5 MB"}}}}},
       ok={"200": ("stored (some or all)", FileReport),
           "422": ("nothing stored: rows rejected (a report, application/json), or no file / an unreadable one "
                   "(a problem)", FileReport)},
       errors=(400, 401, 403, 413, 415, 422, 502)),
    Op("POST", "/api/v1/submissions/{submission_id}/review", "review", "reviews", "ตรวจรับรายงาน",
       "accepted, or returned with a comment (a supervising unit)", write=True,
       roles=("district", "province", "central", "reviewer"), params=[_path("submission_id")],
       body=body(command(assessment_commands.ReviewSubmission,
                         drop=("submission_id", "reviewer_unit_code", "reviewer")),
                 {"decision": "returned", "comment": "จำนวนผู้สูงอายุไม่ตรงกับทะเบียน"}),
       ok={"200": ("reviewed", Reviewed)}, errors=WRITE_ERRORS + (404, 409)),

    # --- extensions -------------------------------------------------------------------------------------
    Op("GET", "/api/v1/extension-requests", "list_extension_requests", "extensions", "คำขอขยายเวลา",
       "Extension requests (own unit for an LAO, else own subtree)",
       params=[Param("status", {"type": "string", "enum": ["pending", "granted", "denied", ""], "default": "pending"},
                     description="empty: every status"), _limit(), OFFSET,
               _sort("requested_at", "unit_code", "status", "requested_due_at")],
       exports=True, ok={"200": ("oldest first", ExtensionRequestList)}, errors=(400, 404) + READ_ERRORS),
    Op("POST", "/api/v1/extension-requests/{request_id}/decision", "decide_extension", "extensions",
       "อนุมัติหรือไม่อนุมัติการขยายเวลา", "Approve (moves the effective due time) or deny with a comment",
       write=True, roles=("district", "province", "central"), params=[_path("request_id")],
       body=body(command(assessment_commands.DecideExtension, drop=("request_id", "decider_unit_code")),
                 {"approve": False, "comment": "เหตุผลไม่เพียงพอ"}),
       ok={"200": ("decided", ExtensionDecided)}, errors=WRITE_ERRORS + (404, 409)),

    # --- reports ------------------------------------------------------------------------------------------
    Op("GET", "/api/v1/achievement", "achievement", "reports", "ผลการดำเนินงานเทียบค่าเป้าหมาย",
       "Per indicator: value vs target, at risk, trend (own subtree)",
       params=[Param("unit_code", {"type": "string"}, description="default: the caller's unit"),
               Param("fiscal_year_be", {"type": "integer", "minimum": 2400, "maximum": 2699}, required=True,
                     example=2569),
               Param("indicator_code", {"type": "string"})],
       ok={"200": ("by indicator", AchievementList)}, errors=(400, 404) + READ_ERRORS),
    Op("GET", "/api/v1/reports/directives/{directive_id}/compliance", "directive_compliance", "reports",
       "การรายงานตามข้อสั่งการ", "On time / late / missed / pending per LAO (the file: one row per unit)",
       params=[_path("directive_id")], exports=True, mixin="ReportsRoutes",
       ok={"200": ("compliance", Compliance)}, errors=(404,) + READ_ERRORS),
    Op("GET", "/api/v1/reports/compliance", "report_compliance", "reports", "การรายงานตรงเวลา ตามลำดับชั้น",
       "On time, late, missing per child unit of a unit (nation → province → district → LAO)",
       description="Without unit_code: the caller's own unit (the nation for central and ops). A unit outside "
                   "the caller's subtree answers 404. The file holds the children table.",
       params=[UNIT_PARAM, PERIOD_PARAM, Param("rule_id", {"type": "string", "maxLength": 64}),
               Param("lao_type", {"type": "string", "enum": ["pao", "city_municipality", "town_municipality",
                                                             "subdistrict_municipality", "sao", "special"]})],
       exports=True, mixin="ReportsRoutes",
       ok={"200": ("totals and children", ComplianceReport)}, errors=(400, 404, 422) + READ_ERRORS),
    Op("GET", "/api/v1/reports/compliance/matrix", "report_compliance_matrix", "reports",
       "อัตราการรายงานตรงเวลา หน่วยงาน × งวด", "On-time rate per child unit and period (heatmap, trend)",
       params=[UNIT_PARAM, Param("periods", {"type": "string", "maxLength": 400},
                                 description="comma-separated period labels of one kind (at most 36), sorted "
                                             "chronologically; default: the last 12 of `kind`",
                                 example="2569-01,2569-02"),
               Param("kind", {"type": "string", "enum": ["month", "quarter", "year"]},
                     description="without periods: months (default when any), quarters or fiscal years"),
               Param("rule_id", {"type": "string", "maxLength": 64})],
       exports=True, mixin="ReportsRoutes",
       ok={"200": ("children × periods", ComplianceMatrix)}, errors=(400, 404, 422) + READ_ERRORS),
    Op("GET", "/api/v1/reports/directives/{directive_id}/cascade", "report_cascade", "reports",
       "ความเร็วการส่งต่อข้อสั่งการ", "Cascade per level: received, acknowledged, forwarded, hop times, slowest hops",
       params=[_path("directive_id"), UNIT_PARAM,
               Param("table", {"type": "string", "enum": ["levels", "units", "slowest_hops"], "default": "levels"},
                     description="which table a file holds")],
       exports=True, mixin="ReportsRoutes",
       ok={"200": ("levels, units, slowest hops", CascadeReport)}, errors=(400, 404, 422) + READ_ERRORS),
    Op("GET", "/api/v1/reports/achievement", "report_achievement", "reports", "ผลเทียบค่าเป้าหมาย ตามหน่วยงาน",
       "One indicator: actual vs target per child unit, and the unit's trend over the periods",
       params=[Param("indicator_code", {"type": "string", "minLength": 1, "maxLength": 64}, required=True,
                     example="DISB-PCT"),
               Param("fiscal_year", {"type": "integer", "minimum": 2400, "maximum": 2699},
                     description="Buddhist-era fiscal year (default: the current one)", example=2569),
               UNIT_PARAM, Param("plan_id", {"type": "string", "maxLength": 200}),
               Param("table", {"type": "string", "enum": ["rows", "trend"], "default": "rows"},
                     description="which table a file holds")],
       exports=True, mixin="ReportsRoutes",
       ok={"200": ("rows, summary, trend", AchievementReport)}, errors=(400, 404, 422) + READ_ERRORS),
    Op("GET", "/api/v1/reports/notifications", "report_notifications", "reports", "ผลของการแจ้งเตือน",
       "Reminders and escalations: sent, failed, late, followed by a submission",
       params=[UNIT_PARAM, PERIOD_PARAM], exports=True, mixin="ReportsRoutes",
       ok={"200": ("by kind, step and channel", NotificationEffectiveness)}, errors=(400, 404, 422) + READ_ERRORS),
    Op("GET", "/api/v1/reports/overdue", "report_overdue", "reports", "รายการที่เลยกำหนดส่ง",
       "Obligations past due and not submitted (most late first)",
       params=[UNIT_PARAM, _limit(), OFFSET,
               _sort("days_late", "due_at", "unit_code", "period", "indicator_code", "obligation_id")],
       exports=True, mixin="ReportsRoutes",
       ok={"200": ("total and a page", OverdueReport)}, errors=(400, 404, 422) + READ_ERRORS),

    # --- notifications (services/gateway/notifications_api.py) ------------------------------------------
    Op("GET", "/api/v1/me/notification-preferences", "notification_preferences_get", "notifications",
       "การตั้งค่าการแจ้งเตือนของฉัน", "My notification preferences", mixin="NotificationsRoutes",
       ok={"200": ("preferences", NotificationPreferences)}, errors=(422,) + READ_ERRORS),
    Op("PUT", "/api/v1/me/notification-preferences", "notification_preferences_put", "notifications",
       "แก้ไขการตั้งค่าการแจ้งเตือน", "Change my notification preferences", write=True, mixin="NotificationsRoutes",
       body=body({"type": "object", "description": "language, date_digits, channels, fallback_order, "
                                                   "quiet_hours, opt_out, digest"},
                 {"language": "th", "quiet_hours": {"start": "21:00", "end": "07:00"}}),
       ok={"200": ("preferences", NotificationPreferences)}, errors=WRITE_ERRORS),
    Op("GET", "/api/v1/me/inbox", "notification_inbox", "notifications", "กล่องข้อความในระบบ", "My in-app inbox",
       mixin="NotificationsRoutes",
       params=[Param("unread", FLAG), _limit(50, 200), OFFSET],
       ok={"200": ("newest first", Inbox)}, errors=(400, 422) + READ_ERRORS),
    Op("POST", "/api/v1/me/inbox/{item_id}/read", "notification_inbox_read", "notifications", "ทำเครื่องหมายว่าอ่านแล้ว",
       "Mark an inbox item read", write=True, mixin="NotificationsRoutes", params=[_path("item_id")],
       ok={"200": ("read", InboxRead)}, errors=(401, 403, 404, 422, 502)),
    Op("POST", "/api/v1/me/line-link", "notification_line_link", "notifications", "ขอรหัสเชื่อมบัญชี LINE",
       "A one-time code to link LINE (me, or my unit)", write=True, mixin="NotificationsRoutes",
       body=body(LineLinkRequest, {"target": "me"}), body_required=False,
       ok={"201": ("the code", LineLinkCode)}, errors=WRITE_ERRORS + (404,)),
    Op("POST", "/api/v1/line/webhook", "notification_line_webhook", "notifications", "รับเหตุการณ์จาก LINE",
       "Called by LINE; the X-Line-Signature header proves it", auth="public", mixin="NotificationsRoutes",
       params=[Param("X-Line-Signature", {"type": "string"}, "header", description="base64 HMAC-SHA256 of the body")],
       body=body({"type": "object", "properties": {"events": {"type": "array", "items": {"type": "object"}}}}),
       ok={"200": ("processed", LineWebhookResult)}, errors=(400, 401, 404, 502)),
    Op("GET", "/api/v1/notifications/deliveries", "notification_deliveries", "notifications", "บันทึกการส่งข้อความ",
       "The delivery ledger (ops, central)", roles=("ops", "central"), mixin="NotificationsRoutes",
       params=[Param(name, {"type": "string"}) for name in ("status", "channel", "kind", "recipient_code",
                                                             "subject_ref", "since", "until")]
       + [Param("late", {"type": "string", "enum": ["0", "1"]}), _limit(), OFFSET],
       exports=True, ok={"200": ("newest first", Deliveries)}, errors=(400, 403, 422) + READ_ERRORS),
    Op("POST", "/api/v1/notifications/chase", "notification_chase", "notifications", "ติดตามรายงานทันที",
       "A reminder now, by hand (never twice a day)", write=True, roles=("district", "province", "central"),
       mixin="NotificationsRoutes", body=body(ChaseRequest, {"obligation_id": "<obligation id>"}),
       ok={"200": ("queued", Chased)}, errors=WRITE_ERRORS + (404, 409)),
    Op("GET", "/api/v1/notifications/reminder-ladders", "notification_ladders", "notifications", "ลำดับการเตือน",
       "Reminder ladders", mixin="NotificationsRoutes", ok={"200": ("ladders", ReminderLadders)}, errors=READ_ERRORS),
    Op("PUT", "/api/v1/notifications/reminder-ladders/{key}", "notification_ladder_put", "notifications",
       "กำหนดลำดับการเตือน", "Set a reminder ladder (default, rule:<id> or directive:<id>)", write=True,
       roles=("central",), mixin="NotificationsRoutes", params=[_path("key")],
       body=body(LadderSteps, {"steps": ["-P7D", "-P3D", "-P1D", "MORNING"]}),
       ok={"200": ("stored", ReminderLadder)}, errors=WRITE_ERRORS),
]


# ================================================================================================
# Building the document
# ================================================================================================

class _Components:
    """components/schemas, filled from pydantic models; the same name must mean the same schema."""

    def __init__(self):
        self.schemas: dict[str, dict] = {}
        self.model(Problem)

    def _add(self, name: str, schema: dict) -> None:
        existing = self.schemas.get(name)
        if existing is not None and existing != schema:
            raise ValueError(f"two different schemas named {name}")
        self.schemas[name] = schema

    def _hoist(self, schema: dict, name: str, suffix: str = "") -> dict:
        schema = copy.deepcopy(schema)
        for def_name, definition in schema.pop("$defs", {}).items():
            self._add(def_name + suffix, _rename_refs(definition, suffix))
        ref = {"$ref": REF.format(model=name)}
        schema = _rename_refs(schema, suffix)
        if schema != ref:  # a recursive model's top level is only a reference to its own definition
            self._add(name, schema)
        return ref

    def model(self, model: type[BaseModel], mode: str = "validation") -> dict:
        suffix = "Export" if mode == "serialization" else ""
        return self._hoist(model.model_json_schema(ref_template=REF, mode=mode), model.__name__ + suffix, suffix)

    def command(self, model, drop: tuple[str, ...], name: str, optional: tuple[str, ...],
                require: tuple[str, ...] = ()) -> dict:
        schema = model.model_json_schema(ref_template=REF)
        for gone in drop:
            schema["properties"].pop(gone)
        required = [r for r in schema.get("required", []) if r not in drop and r not in optional]
        required += [r for r in require if r not in required]
        if required:
            schema["required"] = required
        else:
            schema.pop("required", None)
        if drop:
            name = name + "Body"
            schema["title"] = name
            schema["description"] = ((schema.get("description") or "").strip() + "\n\n" +
                                      "The gateway fills in " + ", ".join(drop) + " itself.").strip()
        return self._hoist(schema, name)

    def resolve(self, source) -> dict:
        """A schema from: a pydantic model, ("out", model), ("ref", model), a command(...) or a dict."""
        if isinstance(source, type) and issubclass(source, BaseModel):
            return self.model(source)
        if isinstance(source, tuple) and source[0] == "command":
            return self.command(*source[1:])
        if isinstance(source, tuple) and source[0] == "out":
            return self.model(source[1], mode="serialization")
        if isinstance(source, tuple) and source[0] == "ref":
            return self.model(source[1])
        if isinstance(source, dict):
            return {key: self._resolve_value(value) for key, value in source.items()}
        raise TypeError(f"not a schema source: {source!r}")

    def _resolve_value(self, value):
        if isinstance(value, list):
            return [self.resolve(v) if isinstance(v, (tuple, type)) else self._resolve_value(v) for v in value]
        if isinstance(value, dict):
            return self.resolve(value)
        return value


def _rename_refs(schema, suffix: str):
    if not suffix:
        return schema
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/schemas/"):
                out[key] = value + suffix
            else:
                out[key] = _rename_refs(value, suffix)
        return out
    if isinstance(schema, list):
        return [_rename_refs(v, suffix) for v in schema]
    return schema


def _has_mixin(service_cls, name: str) -> bool:
    return service_cls is None or any(cls.__name__ == name for cls in service_cls.__mro__)


def operations(service_cls=None) -> list[Op]:
    """The operations documented for a service class (every one when None)."""
    return [op for op in OPS if op.mixin is None or _has_mixin(service_cls, op.mixin)]


def _security(op: Op) -> list[dict]:
    if op.auth == "public":
        return []
    if op.auth == "bearer":
        return [{"bearer": []}]
    if op.write or op.method != "GET":
        return [{"bearer": []}, {"session": [], "csrf": []}]
    return [{"bearer": []}, {"session": []}]


def _description(op: Op) -> str:
    lines = [f"{op.summary_th}\n\n{op.summary_en}."]
    if op.description:
        lines.append(op.description)
    if op.roles:
        lines.append("Roles / บทบาท: " + ", ".join(op.roles) + ".")
    if op.write:
        lines.append("Audited (who, when, what, from where, before and after). With the session cookie, "
                     "send X-CSRF-Token.")
    return "\n\n".join(lines)


ERROR_TEXT = {
    400: "bad request: body is not JSON, or a query parameter is not a valid number",
    401: "no valid bearer token or session",
    403: "the role may not do this, the unit is not the addressee, or the CSRF token is missing",
    404: "not found (or not within the caller's unit)",
    409: "conflict with the current state",
    413: "body or file too large",
    415: "unsupported Content-Type or file type",
    422: "invalid input: field at fault in `field`",
    429: "account temporarily locked after repeated wrong passwords",
    502: "a service behind the gateway failed",
    503: "not configured",
}


def build_document(service_cls=None) -> dict:
    """The OpenAPI 3.1 document of the gateway (``service_cls`` decides the optional route groups)."""
    components = _Components()
    problem_ref = {"$ref": REF.format(model="Problem")}
    paths: dict[str, dict] = {}
    for op in operations(service_cls):
        operation: dict[str, Any] = {
            "operationId": op.operation_id, "tags": [op.tag], "summary": f"{op.summary_en} — {op.summary_th}",
            "description": _description(op), "security": _security(op)}
        params = op.params + (EXPORT_PARAMS if op.exports else [])
        if params:
            operation["parameters"] = [_parameter(param) for param in params]
        if op.body:
            content = {}
            for media, spec in op.body.items():
                entry = {"schema": components.resolve(spec["schema"]) if not isinstance(spec["schema"], dict)
                         else components.resolve(spec["schema"])}
                if "example" in spec:
                    entry["example"] = spec["example"]
                if media == "multipart/form-data":
                    entry["encoding"] = {"file": {"contentType": "application/octet-stream"}}
                content[media] = entry
            operation["requestBody"] = {"required": op.body_required, "content": content}
        responses: dict[str, dict] = {}
        for status, (text, source) in op.ok.items():
            if isinstance(source, tuple) and source[0] not in ("out", "ref", "command"):
                media, schema = source
            else:
                media, schema = JSON, source
            responses[status] = {"description": text, "content": {media: {"schema": components.resolve(schema)}}}
            if op.exports and status == "200":
                responses[status]["description"] += "; with format=csv or xlsx the same rows as a file (attachment)"
                responses[status]["content"][CSV_MEDIA] = {"schema": {"type": "string"}}
                responses[status]["content"][XLSX_MEDIA] = {"schema": {"type": "string", "format": "binary"}}
        errors = set(op.errors) | ({422} if op.exports else set())
        for status in sorted(errors):
            if str(status) in responses:  # a report or a problem, told apart by the media type
                responses[str(status)]["content"][PROBLEM] = {"schema": problem_ref}
            else:
                responses[str(status)] = {"description": ERROR_TEXT[status],
                                          "content": {PROBLEM: {"schema": problem_ref}}}
        operation["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Thongthin API (ท้องถิ่น)",
            "version": "1",
            "summary": "ข้อสั่งการ ภาระการรายงาน และผลการรายงานของ อปท. / Directives, reporting obligations "
                       "and reports of Thailand's local administrative organisations",
            "description": (
                "ระบบส่งข้อสั่งการจากกระทรวงมหาดไทยถึงจังหวัด อำเภอ และองค์กรปกครองส่วนท้องถิ่น "
                "ติดตามการรายงานตามกำหนด และสรุปผล\n\n"
                "The Department of Local Administration's platform: directives travel from the Ministry of "
                "Interior down to provinces, districts and ~7,850 LAOs, become reporting obligations with "
                "deadlines, and are reported on.\n\n"
                "**Authentication**: `POST /api/v1/auth/token` gives a bearer token (`Authorization: Bearer "
                "<token>`). The web UI logs in with `POST /api/v1/auth/session` (HttpOnly cookie `tt_session`) "
                "and sends the CSRF token in `X-CSRF-Token` on every write.\n\n"
                "**Errors** are `application/problem+json` with a stable `code`, the `field` at fault, and "
                "`message_th` / `message_en`. Thai text is returned exactly as sent (UTF-8)."),
        },
        "servers": [{"url": "/", "description": "this gateway / เกตเวย์นี้"}],
        "tags": [{"name": name, "description": f"{thai} — {english}"} for name, thai, english in TAGS],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "a token from POST /api/v1/auth/token / โทเคนจากการเข้าสู่ระบบ"},
                "session": {"type": "apiKey", "in": "cookie", "name": "tt_session",
                            "description": "the web session cookie from POST /api/v1/auth/session (HttpOnly)"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                         "description": "for writes with the session cookie: the csrf_token of the login "
                                        "(also in the tt_csrf cookie)"},
            },
        },
    }


def _parameter(param: Param) -> dict:
    out = {"name": param.name, "in": param.where, "required": param.required, "schema": param.schema}
    if param.description:
        out["description"] = param.description
    if param.example is not None:
        out["example"] = param.example
    return out


# ================================================================================================
# The docs page (server-side HTML, no external assets)
# ================================================================================================

_CSS = """
body{font-family:"Sarabun","Noto Sans Thai","Leelawadee UI",Tahoma,sans-serif;margin:0;color:#1d2430;
line-height:1.5;background:#fafbfc}
header{background:#13315c;color:#fff;padding:1.2rem 2rem}header h1{margin:0 0 .3rem;font-size:1.5rem}
header p{margin:.2rem 0;max-width:70rem}header a{color:#cfe3ff}
nav{padding:.6rem 2rem;background:#e9eef5;font-size:.95rem}nav a{margin-right:1rem;color:#13315c}
main{padding:1rem 2rem;max-width:80rem}h2{border-bottom:2px solid #13315c;padding-bottom:.2rem;margin-top:2rem}
details.op{background:#fff;border:1px solid #d5dbe3;border-radius:6px;margin:.5rem 0;padding:.4rem .8rem}
summary{cursor:pointer}.m{display:inline-block;min-width:4.2rem;font-weight:bold;font-family:monospace;
padding:0 .3rem;border-radius:3px;color:#fff;text-align:center}.GET{background:#1f7a4d}.POST{background:#1d5fa8}
.PUT{background:#8a5a00}.DELETE{background:#a3262a}code,.path{font-family:ui-monospace,Consolas,monospace}
.path{font-weight:bold}table{border-collapse:collapse;margin:.4rem 0;font-size:.92rem}
td,th{border:1px solid #d5dbe3;padding:.2rem .5rem;vertical-align:top;text-align:left}th{background:#f0f3f7}
pre{background:#f4f6f9;border:1px solid #d5dbe3;padding:.5rem;overflow:auto;font-size:.88rem}
.muted{color:#5b6675}.req{color:#a3262a}.schema{margin-left:1rem}
"""


def _type_text(schema: dict) -> str:
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{html.escape(name)}">{html.escape(name)}</a>'
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            joiner = " & " if combinator == "allOf" else " | "
            return joiner.join(_type_text(part) for part in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        return "array of " + _type_text(schema.get("items", {}))
    if kind == "object" and "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
        return "object of " + _type_text(schema["additionalProperties"])
    text = html.escape(str(kind))
    facts = []
    if "format" in schema:
        facts.append(html.escape(schema["format"]))
    if "enum" in schema:
        facts.append(" / ".join(html.escape(json.dumps(v, ensure_ascii=False)) for v in schema["enum"]))
    if "const" in schema:
        facts.append("= " + html.escape(json.dumps(schema["const"], ensure_ascii=False)))
    for key, sign in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤"),
                      ("minItems", "items ≥"), ("maxItems", "items ≤")):
        if key in schema:
            facts.append(f"{sign} {schema[key]}")
    if "pattern" in schema:
        facts.append(f"<code>{html.escape(schema['pattern'])}</code>")
    if "default" in schema:
        facts.append("default " + html.escape(json.dumps(schema["default"], ensure_ascii=False)))
    return text + (f' <span class="muted">({"; ".join(facts)})</span>' if facts else "")


def _properties_table(schema: dict) -> str:
    properties = schema.get("properties") or {}
    if not properties:
        return f"<p>{_type_text(schema)}</p>"
    required = set(schema.get("required", []))
    rows = []
    for name, prop in properties.items():
        mark = ' <span class="req">*</span>' if name in required else ""
        rows.append(f"<tr><td><code>{html.escape(name)}</code>{mark}</td><td>{_type_text(prop)}</td>"
                    f"<td>{html.escape(prop.get('description', '') if isinstance(prop, dict) else '')}</td></tr>")
    extra = "" if schema.get("additionalProperties") is not False else \
        '<p class="muted">No other fields / ไม่รับช่องข้อมูลอื่น</p>'
    return ("<table><tr><th>field / ช่องข้อมูล</th><th>type / ชนิด</th><th>notes / หมายเหตุ</th></tr>"
            + "".join(rows) + "</table>" + extra)


def render_docs(document: dict) -> str:
    """The browsable docs: operations grouped by tag, parameters, bodies, responses, examples."""
    esc = html.escape
    info = document["info"]
    by_tag: dict[str, list] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            by_tag.setdefault(operation["tags"][0], []).append((method.upper(), path, operation))
    tags = [t for t in document["tags"] if t["name"] in by_tag]
    out = ["<!DOCTYPE html><html lang=\"th\"><head><meta charset=\"utf-8\">",
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
           f"<title>{esc(info['title'])}</title><style>{_CSS}</style></head><body>",
           f"<header><h1>{esc(info['title'])}</h1><p>{esc(info['summary'])}</p>",
           "<p>คู่มือนี้สร้างจากเอกสาร OpenAPI 3.1 ที่ <a href=\"" + OPENAPI_PATH + "\">" + OPENAPI_PATH +
           "</a> / This page is rendered from the OpenAPI 3.1 document at <a href=\"" + OPENAPI_PATH + "\">"
           + OPENAPI_PATH + "</a>.</p></header>",
           "<nav>" + "".join(f'<a href="#tag-{esc(t["name"])}">{esc(t["name"])}</a>' for t in tags)
           + '<a href="#schemas">schemas</a></nav><main>']
    for paragraph in info["description"].split("\n\n"):
        out.append(f"<p>{esc(paragraph)}</p>")
    for tag in tags:
        out.append(f'<h2 id="tag-{esc(tag["name"])}">{esc(tag["name"])} '
                   f'<span class="muted">— {esc(tag["description"])}</span></h2>')
        for method, path, operation in by_tag[tag["name"]]:
            out.append(f'<details class="op" id="op-{esc(operation["operationId"])}"><summary>'
                       f'<span class="m {method}">{method}</span> <span class="path">{esc(path)}</span> '
                       f'— {esc(operation["summary"])}</summary>')
            for paragraph in operation["description"].split("\n\n")[1:]:
                out.append(f"<p>{esc(paragraph)}</p>")
            security = operation.get("security") or []
            out.append("<p><b>Auth / การยืนยันตัวตน:</b> " + (
                " or ".join(" + ".join(requirement) for requirement in security) if security
                else "none / ไม่ต้องเข้าสู่ระบบ") + f' · <code>operationId: {esc(operation["operationId"])}</code></p>')
            if operation.get("parameters"):
                out.append("<h4>Parameters / พารามิเตอร์</h4><table><tr><th>name</th><th>in</th><th>type</th>"
                           "<th>notes</th></tr>")
                for param in operation["parameters"]:
                    mark = ' <span class="req">*</span>' if param.get("required") else ""
                    example = (f' <span class="muted">e.g. {esc(json.dumps(param["example"], ensure_ascii=False))}'
                               f"</span>" if "example" in param else "")
                    out.append(f"<tr><td><code>{esc(param['name'])}</code>{mark}</td><td>{esc(param['in'])}</td>"
                               f"<td>{_type_text(param['schema'])}</td>"
                               f"<td>{esc(param.get('description', ''))}{example}</td></tr>")
                out.append("</table>")
            if operation.get("requestBody"):
                out.append("<h4>Request body / ข้อมูลที่ส่ง</h4>")
                for media, entry in operation["requestBody"]["content"].items():
                    out.append(f"<p><code>{esc(media)}</code>: {_type_text(entry['schema'])}</p>")
                    if "example" in entry:
                        example = entry["example"]
                        text = example if isinstance(example, str) else json.dumps(example, ensure_ascii=False,
                                                                                    indent=2)
                        out.append(f"<pre>{esc(text)}</pre>")
            out.append("<h4>Responses / ผลลัพธ์</h4><table><tr><th>status</th><th>content</th><th>meaning</th></tr>")
            for status, response in operation["responses"].items():
                contents = "<br>".join(f"<code>{esc(media)}</code> {_type_text(entry['schema'])}"
                                       for media, entry in response.get("content", {}).items())
                out.append(f"<tr><td>{esc(status)}</td><td>{contents}</td><td>{esc(response['description'])}</td></tr>")
            out.append("</table></details>")
    out.append('<h2 id="schemas">Schemas / โครงสร้างข้อมูล</h2>')
    for name, schema in document["components"]["schemas"].items():
        out.append(f'<details class="op" id="schema-{esc(name)}"><summary><code>{esc(name)}</code></summary>')
        if schema.get("description"):
            out.append(f"<p>{esc(schema['description'])}</p>")
        out.append(f'<div class="schema">{_properties_table(schema)}</div></details>')
    out.append('<h2>Example error / ตัวอย่างข้อผิดพลาด</h2><pre>' + esc(json.dumps({
        "type": "urn:thongthin:problem:invalid", "title": "the value misses the target (80): add a short explanation",
        "status": 422, "code": "note_required", "field": "values[0].note",
        "message_th": "ค่าไม่ถึงเป้าหมาย (80) ต้องอธิบายเหตุผล",
        "message_en": "the value misses the target (80): add a short explanation",
        "detail": "ค่าไม่ถึงเป้าหมาย (80) ต้องอธิบายเหตุผล / the value misses the target (80): add a short explanation"},
        ensure_ascii=False, indent=2)) + "</pre>")
    out.append("</main></body></html>")
    return "\n".join(out)


_CACHE: dict[Any, tuple[str, str]] = {}


def _rendered(service_cls) -> tuple[str, str]:
    if service_cls not in _CACHE:
        document = build_document(service_cls)
        _CACHE[service_cls] = (json.dumps(document, ensure_ascii=False), render_docs(document))
    return _CACHE[service_cls]


class ApiDocsRoutes:
    """Mixed into GatewayService: the document and the docs page (both public, no external assets)."""

    @http("GET", OPENAPI_PATH)
    def openapi_document(self, request):
        return 200, {"Content-Type": "application/json; charset=utf-8",
                     "Access-Control-Allow-Origin": "*"}, _rendered(type(self))[0]

    @http("GET", DOCS_PATH)
    def api_docs(self, request):
        return 200, {"Content-Type": "text/html; charset=utf-8",
                     "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                     "X-Content-Type-Options": "nosniff"}, _rendered(type(self))[1]
