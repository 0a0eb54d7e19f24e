"""The shapes of the gateway's API: response models (what the services return, described), the request
bodies the gateway itself reads, the common query parameters and examples. The route declarations
(``services/gateway/routing.py``, on each handler) use them; ``openapi.build_document`` turns them
into the OpenAPI document.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.gateway.routing import Param
from shared.contracts.commands import plans as plan_commands
from shared import vocabulary

# ================================================================================================
# Response models: what the gateway returns (the services return dicts; these describe them)
# ================================================================================================

class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


Role = Literal["central", "province", "district", "lao", "reviewer", "ops"]
DirectiveKind = Literal["order", "guideline", "observation", "inspection_focus"]
AssignmentState = vocabulary.AssignmentStateName
ObligationState = vocabulary.ObligationStateName
Urgency = vocabulary.Urgency
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
    level: vocabulary.Level
    lao_type: vocabulary.LaoType | None
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
    revision: int = Field(default=0, description="the unit's revision when this version last changed")
    change_kind: str = Field(default="opened", description="the change that made this version: opened, updated, "
                             "renamed, type_changed, moved, merged, split")
    effective_date: date | None = None
    end_kind: str | None = Field(default=None, description="the change that ended it on valid_to (closed, merged, "
                                 "split, or a change opening the next version)")
    predecessor_codes: list[str] = Field(default_factory=list)
    successor_codes: list[str] = Field(default_factory=list)
    reason: str | None = None
    forced: bool = False


class OrgUnitList(Out):
    items: list[OrgUnit]


class UnitChange(Out):
    code: str
    action: Literal["create", "change", "close"]
    change_kind: str | None = None
    effective_date: date | None = None
    fields: dict[str, list[Any]] | None = Field(
        default=None, description="only for a change: the fields sent that differ, name -> [before, after] (a field "
                                  "left out is left as it was)")


class RegisterResult(Out):
    created: int
    changed: int
    closed: int = 0
    unchanged: int
    forced: list[str] = Field(default_factory=list, description="units whose change was forced over a reported period")
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
    cancel_reason: str | None = Field(default=None, description="cancelled: why, in Thai and English (e.g. the "
                                      "unit closed on a date, into its successors)")
    cancel_cause: Literal["rule_changed", "unit_closed"] | None = Field(default=None, description="cancelled: the "
                                                                        "cause as a word")
    missed_at: datetime | None
    resubmit_due_at: datetime | None = Field(default=None, description="returned: resubmit by then")
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
    resubmit_due_at: datetime | None = Field(default=None, description="returned: resubmit by then")


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
    resubmit_due_at: datetime | None = Field(default=None, description="returned: resubmit by then")


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
    returned: int = Field(description="returned for correction, awaiting resubmission (never missing)")


class ComplianceUnit(Out):
    directive_id: str
    unit_code: str
    assignment_id: str | None
    parent_assignment_id: str | None = Field(default=None, description="the assignment it was forwarded from")
    assigned_at: datetime | None
    received_at: datetime | None = None
    acknowledged_at: datetime | None
    forwarded_at: datetime | None = None
    state: str | None = None
    state_at: datetime | None = None
    obligation_id: str | None
    due_at: datetime | None
    report_status: Literal["pending", "on_time", "late", "missed", "returned"]
    submitted_at: datetime | None
    missed_at: datetime | None
    reminders_sent: int
    escalations_sent: int


class Compliance(Out):
    directive_id: str
    document_number: str
    title_th: str
    expected: int
    due: int = Field(description="reports whose effective deadline has passed or that were submitted: "
                                 "the denominator of every rate (docs/reporting.md)")
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

class Strict(BaseModel):
    """A request body the gateway reads itself: no other field, no coercion (``true`` is not a number)."""
    model_config = ConfigDict(extra="forbid", strict=True)


class Credentials(Strict):
    username: str = Field(min_length=1, max_length=64, examples=["somchai.s"])
    password: str = Field(min_length=1, max_length=1024, examples=["••••••••"])


class NewApiToken(Strict):
    name: str = Field(default="api", min_length=1, max_length=64)
    scopes: list[Literal["read", "write"]] = Field(default=["read"], min_length=1, max_length=2)
    expires_in_days: int = Field(default=90, ge=1, le=366)


class LineLinkRequest(Strict):
    target: Literal["me", "org"] = "me"


class ChaseRequest(Strict):
    obligation_id: str = Field(min_length=1, max_length=64)


class LadderSteps(Strict):
    steps: list[Annotated[str, Field(max_length=20)]] = Field(max_length=20, description="ISO 8601 durations before the due time, or MORNING",
                             examples=[["-P7D", "-P3D", "-P1D", "MORNING"]])



# ================================================================================================
# Parameters, bodies and examples shared by the route declarations
# ================================================================================================

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


# Period labels as the API writes them (Buddhist-era years 2400-2699): a month, a quarter, a fiscal year.
MONTH_LABEL = r"2[4-6][0-9]{2}-(?:0[1-9]|1[0-2])"
QUARTER_LABEL = r"FY2[4-6][0-9]{2}-Q[1-4]"
YEAR_LABEL = r"FY2[4-6][0-9]{2}"
PERIOD_LABEL = f"(?:{MONTH_LABEL}|{QUARTER_LABEL}|{YEAR_LABEL})"
MAX_PERIODS = 36
# 1 to 36 labels of one kind, comma-separated
PERIODS_OF_ONE_KIND = "^(?:" + "|".join(f"{label}(?:,{label}){{0,{MAX_PERIODS - 1}}}"
                                         for label in (MONTH_LABEL, QUARTER_LABEL, YEAR_LABEL)) + ")$"
UNIT_PARAM = Param("unit_code", {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,32}$"},
                   description="the unit looked at (default: the caller's own; the nation for central and ops)",
                   example="PLO-09")
PERIOD_PARAM = Param("period", {"type": "string", "pattern": f"^{PERIOD_LABEL}$"},
                     description="a period label, Buddhist era: 2569-01 (month), FY2569-Q1 (quarter), FY2569 (fiscal year)",
                     example="2569-01")
CSV_MEDIA = "text/csv"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OFFSET = Param("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0}, description="items to skip")
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
