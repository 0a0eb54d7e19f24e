"""Use cases of notifications: keep recipients and what messages are about, plan the steps,
deliver each message at most once (exactly once on idempotent channels), answer queries.

Sending follows claim -> send -> record:
  claim   one transaction: take due messages, decide (still relevant? allowed now? digest or cap?),
          choose the channel, render, mark them ``sending`` with an attempt row in the ledger;
  send    outside any transaction, concurrently (bounded), through the channel adapters;
  record  one transaction: the outcome of every attempt, the in-app items, the events.
A ``sending`` claim that is never recorded (the process died) is, after a lease, either repeated
with the same provider idempotency key (idempotent channels) or marked ``uncertain`` and never
repeated (e-mail, SMS without idempotency). See docs/notifications.md.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import structlog
from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from services.notifications import domain
from services.notifications.channels import ChannelError, Channels, SendResult, provider_key
from services.notifications.models import (deliveries, inbox_items, line_link_codes, org_unit_versions, recipients,
                                           reminder_ladders, scheduled_messages, tracked_assignments,
                                           tracked_directives, tracked_obligations)
from services.notifications.rendering import Rendered, render
from shared.contracts import Envelope, utcnow
from shared.contracts.events import (AcknowledgementOverdue, AssignmentAcknowledged, AssignmentCreated,
                                     AssignmentStateChanged, DeadlineMissed, DirectiveIssued,
                                     ExtensionDenied, ExtensionGranted, ExtensionRequested, IndicatorSubmitted, NotificationFailed,
                                     NotificationSent, ObligationCancelled, ObligationOpened,
                                     OrgUnitChanged, SubmissionReviewed)
from shared.db import Database, UnitOfWork, insert_new, prepared, upsert
from shared.errors import InputError, conflict, forbidden, invalid, not_found
from shared.messaging.inbox import handles_many
from shared.observability import metrics
from shared.thai import BANGKOK

log = structlog.get_logger(__name__)
SM = scheduled_messages


@dataclass(frozen=True)
class Settings:
    reminder_ladder: list[str] = field(default_factory=lambda: ["-P7D", "-P3D", "-P1D", "MORNING"])
    ack_ladder: list[str] = field(default_factory=lambda: ["-P1D"])
    escalation_ladder: list[tuple[str, timedelta]] = field(default_factory=lambda: [
        ("lao_head", timedelta(days=1)), ("district", timedelta(days=3)), ("province", timedelta(days=7))])
    ack_escalation_after: timedelta = timedelta(days=1)
    # A notice of a new assignment that asks for a report waits this long: if a reminder of that
    # report reaches the recipient first, the notice is not sent (one message, not two).
    directive_notice_delay: timedelta = timedelta(minutes=5)
    quiet_hours: domain.QuietHours | None = domain.QuietHours(time(20, 0), time(7, 0))
    working_days_only: bool = True
    digest_at: time = time(8, 0)
    daily_cap: int = 20
    retry_delays_s: tuple[float, ...] = (30.0, 120.0, 600.0)  # per channel; then the next channel
    claim_lease: timedelta = timedelta(minutes=10)
    late_after: timedelta = timedelta(minutes=15)
    idempotency_window: timedelta = timedelta(hours=23)       # LINE keeps retry keys for 24 h
    batch_size: int = 500
    max_batches: int = 200
    public_url: str = "http://127.0.0.1:8000"
    link_code_ttl: timedelta = timedelta(minutes=15)

    def window(self, recipient: dict | None = None) -> domain.SendWindow:
        quiet = self.quiet_hours
        if recipient is not None and recipient.get("quiet_hours") is not None:
            quiet = domain.parse_quiet_hours(recipient["quiet_hours"])
        return domain.SendWindow(quiet=quiet, working_days_only=self.working_days_only)

    @property
    def attempts_per_channel(self) -> int:
        return len(self.retry_delays_s) + 1


TERMINAL = ("sent", "failed", "uncertain")
NEVER_ATTEMPTED = ("cancelled", "skipped")
OPEN_ASSIGNMENT = ("issued", "received")
CLOSED_ASSIGNMENT = ("closed", "not_applicable", "cancelled")


# --- small helpers ------------------------------------------------------------------------------------

def _json_list(text: str | None) -> list:
    return json.loads(text) if text else []


def recipient_view(row) -> dict:
    """A recipients row with its JSON columns read and defaults resolved."""
    data = dict(row)
    data["line_ids"] = _json_list(data.get("line_ids"))
    data["fallback_order"] = _json_list(data.get("fallback_order")) or None
    data["opt_out"] = _json_list(data.get("opt_out"))
    if data.get("digest") is None:
        data["digest"] = data["kind"] == "person"
    return data


def person_code(username: str) -> str:
    return f"user:{username}"


def group_key(directive_id: str | None, indicator_code: str, period: str) -> str:
    return f"{directive_id or '-'}:{indicator_code}:{period}"


def _schedule(uow: UnitOfWork, *, kind: str, recipient_code: str, subject_ref: str, step: str,
              nominal_at: datetime, due_at: datetime, status: str = "scheduled", late: bool = False,
              reason: str | None = None, payload: dict | None = None, revive: bool = False) -> bool:
    """Insert a message unless its (recipient, subject, step) exists. True if (re)scheduled.

    ``revive``: a row that was cancelled or skipped before any attempt may be scheduled again
    (e.g. an extension reopens an obligation); a row that was ever attempted never is."""
    row = _message_row(uow, kind=kind, recipient_code=recipient_code, subject_ref=subject_ref, step=step,
                       nominal_at=nominal_at, due_at=due_at, status=status, late=late, reason=reason,
                       payload=payload)
    inserted = insert_new(uow.session, SM, "dedupe_key", row)
    if inserted or not (revive and status == "scheduled"):
        return inserted
    return uow.session.execute(update(SM).where(
        SM.c.dedupe_key == row["dedupe_key"], SM.c.attempts == 0,
        SM.c.status.in_(NEVER_ATTEMPTED + ("scheduled",))).values(
        status="scheduled", status_reason=reason, nominal_at=nominal_at, due_at=due_at, late=late,
        payload=row["payload"])).rowcount == 1


def _message_row(uow: UnitOfWork, *, kind: str, recipient_code: str, subject_ref: str, step: str,
                 nominal_at: datetime, due_at: datetime, status: str = "scheduled", late: bool = False,
                 reason: str | None = None, payload: dict | None = None) -> dict:
    return dict(
        id=str(uuid.uuid4()), dedupe_key=f"{recipient_code}|{subject_ref}|{step}", kind=kind,
        recipient_code=recipient_code, subject_ref=subject_ref, step=step, nominal_at=nominal_at, due_at=due_at,
        status=status, status_reason=reason, late=late, attempts=0, channel_index=0, channel_attempts=0,
        payload=json.dumps(payload, ensure_ascii=False, default=str) if payload else None,
        digest_id=None, channel=None, address=None, provider_key=None, claimed_at=None, sent_at=None,
        read_at=None, correlation_id=uow.correlation_id, created_at=utcnow())


def _audience(session, unit_code: str, message_class: str) -> list[dict]:
    """The org contact point of a unit and the people of that unit who want this class."""
    statement = prepared(session, "audience", lambda ins: select(recipients).where(or_(
        recipients.c.code == bindparam("unit"),
        and_(recipients.c.org_code == bindparam("unit"), recipients.c.kind == "person"))))
    rows = session.execute(statement, {"unit": unit_code}).mappings().all()
    found = [recipient_view(row) for row in rows]
    if not any(r["code"] == unit_code for r in found):
        # not (yet) in our copy of the registry: the row is kept; sending re-checks
        found.append({"code": unit_code, "kind": "org", "quiet_hours": None, "opt_out": []})
    closes_on = next((r.get("valid_to") for r in found if r["code"] == unit_code), None)
    for r in found:  # the day the unit closes holds for its people too
        r["closes_on"] = closes_on
    critical = domain.is_critical(message_class)
    return [r for r in found if critical or message_class not in r["opt_out"]]


def _ancestor(session, unit_code: str, level: str) -> str | None:
    code = unit_code
    for _ in range(8):
        row = session.execute(select(recipients.c.parent_code).where(recipients.c.code == code)).first()
        if row is None or row[0] is None:
            return None
        code = row[0]
        found = session.execute(select(recipients.c.level).where(recipients.c.code == code)).first()
        if found is not None and found[0] == level:
            return code
    return None


def subtree_codes(session, root: str) -> set[str]:
    """Org codes below ``root`` (not including it)."""
    found: set[str] = set()
    frontier = [root]
    for _ in range(8):
        if not frontier:
            break
        children = [code for (code,) in session.execute(
            select(recipients.c.code).where(recipients.c.parent_code.in_(frontier),
                                            recipients.c.kind == "org")).all()]
        frontier = [code for code in children if code not in found]
        found.update(frontier)
    return found


def ladder_for(session, settings: Settings, rule_id: str | None, directive_id: str | None) -> list[str]:
    keys = [k for k in (f"rule:{rule_id}" if rule_id else None,
                        f"directive:{directive_id}" if directive_id else None, "default") if k]
    statement = prepared(session, "ladders", lambda ins: select(reminder_ladders.c.key, reminder_ladders.c.steps)
                          .where(reminder_ladders.c.key.in_(bindparam("keys", expanding=True))))
    rows = dict(session.execute(statement, {"keys": keys}).all())
    for key in keys:
        if key in rows:
            return json.loads(rows[key])
    return list(settings.reminder_ladder)


# --- events -------------------------------------------------------------------------------------------

def _version_upsert(ins):
    """A version of a unit, unless a higher revision of the same (code, valid_from) is stored."""
    statement = ins(org_unit_versions)
    names = ("valid_to", "revision", "change_kind", "successor_codes", "version")
    return statement.on_conflict_do_update(index_elements=["code", "valid_from"],
                                           set_={name: statement.excluded[name] for name in names},
                                           where=org_unit_versions.c.revision <= statement.excluded.revision)


@dataclass(frozen=True)
class UnitState:
    """What the versions of a unit say after an event: the day it closes (ISO, None while it lasts)
    and who took over."""

    code: str
    closes_on: str | None
    successors: list[str]
    change_kind: str


def on_org_unit_changed(event: OrgUnitChanged, uow: UnitOfWork, envelope: Envelope, *,
                        today: date | None = None) -> UnitState:
    """Keep the version (highest revision of its (code, valid_from) standing, whatever the order),
    then the unit's recipients row: the version holding today (a closed unit as it last stood, a
    unit not open yet as it will open), ``valid_to`` the day the unit closes."""
    session = uow.session
    session.execute(prepared(session, "org_unit_versions:version", _version_upsert), {
        "code": event.code, "valid_from": event.valid_from.isoformat(),
        "valid_to": event.valid_to.isoformat() if event.valid_to else None, "revision": event.revision,
        "change_kind": event.change_kind, "successor_codes": json.dumps(sorted(event.successor_codes)),
        "version": event.model_dump_json()})
    day = (today or utcnow().astimezone(BANGKOK).date()).isoformat()
    versions = session.execute(select(org_unit_versions).where(org_unit_versions.c.code == event.code)
                               .order_by(org_unit_versions.c.valid_from)).mappings().all()
    holding = [v for v in versions if v["valid_from"] <= day and (v["valid_to"] is None or day < v["valid_to"])]
    started = [v for v in versions if v["valid_from"] <= day]
    if holding:
        chosen_row = holding[0]
    elif started:          # closed: as it last stood
        chosen_row = started[-1]
    else:                  # not open yet: as it will open
        chosen_row = versions[0]
    chosen = OrgUnitChanged.model_validate_json(chosen_row["version"])
    last = versions[-1]
    values = {"kind": "org", "org_code": chosen.code, "level": chosen.level, "parent_code": chosen.parent_code,
              "name_th": chosen.name_th, "name_en": chosen.name_en, "email": chosen.contact_email,
              "valid_to": last["valid_to"], "updated_at": utcnow()}
    upsert(session, recipients, {"code": chosen.code}, values)
    if chosen.head_email or chosen.head_phone or session.execute(
            select(recipients.c.code).where(recipients.c.code == head_code(chosen.code))).first():
        # The unit's head is a recipient of its own: escalations reach them, routine reminders do not.
        upsert(session, recipients, {"code": head_code(chosen.code)}, {
            **values, "kind": "head", "name_th": chosen.head_name_th or f"หัวหน้า {chosen.name_th}",
            "email": chosen.head_email, "phone": chosen.head_phone})
    return UnitState(event.code, last["valid_to"], json.loads(last["successor_codes"]), last["change_kind"])


def closing_reason(state: UnitState) -> str:
    how = {"merged": "merged into", "split": "split into"}.get(state.change_kind, "succeeded by")
    into = f" ({how} {', '.join(state.successors)})" if state.successors else ""
    return f"unit closed on {state.closes_on}{into}"


CLOSED_REASON_PREFIX = "unit closed on "


def _unit_audience_codes(session, unit_code: str) -> list[str]:
    people = session.execute(select(recipients.c.code).where(recipients.c.org_code == unit_code,
                                                             recipients.c.kind == "person")).scalars().all()
    return [unit_code, head_code(unit_code), *people]


def follow_closing(uow: UnitOfWork, state: UnitState) -> None:
    """A unit that closes on D hears nothing from D on: its messages still waiting (reminders,
    escalations to its head, digests) are cancelled saying when it closed and into whom. A unit
    that turns out not to close then (a later version came, or the closing moved) gets back the
    messages cancelled for the closing that were never attempted (each is checked again when due)."""
    session = uow.session
    audience = _unit_audience_codes(session, state.code)
    if state.closes_on is not None:
        closes_at = datetime.combine(date.fromisoformat(state.closes_on), time(0), BANGKOK)
        reason = closing_reason(state)[:500]
        for status, extra in (("scheduled", {}), ("digested", {"digest_id": None})):
            session.execute(update(SM).where(SM.c.recipient_code.in_(audience), SM.c.status == status,
                                             SM.c.due_at >= closes_at).values(
                status="cancelled", status_reason=reason, **extra))
    revive = [SM.c.recipient_code.in_(audience), SM.c.status == "cancelled", SM.c.attempts == 0,
              SM.c.status_reason.like(f"{CLOSED_REASON_PREFIX}%")]
    if state.closes_on is not None:
        revive.append(SM.c.due_at < datetime.combine(date.fromisoformat(state.closes_on), time(0), BANGKOK))
    session.execute(update(SM).where(*revive).values(status="scheduled", status_reason=None))


def _closed_by(recipient: dict, at: datetime) -> str | None:
    """The reason a message due at ``at`` is not scheduled for this recipient: its unit closes
    on or before that day."""
    closes_on = recipient.get("closes_on")
    if closes_on and at.astimezone(BANGKOK).date().isoformat() >= closes_on:
        return f"{CLOSED_REASON_PREFIX}{closes_on}: nothing is scheduled for it after"
    return None


def head_code(unit_code: str) -> str:
    return f"head:{unit_code}"


def escalation_target_of_unit(session, unit_code: str) -> str:
    """The unit's head if the registry names one (with an address), else the unit's contact point."""
    head = session.execute(select(recipients.c.email, recipients.c.phone, recipients.c.line_ids).where(
        recipients.c.code == head_code(unit_code))).first()
    return head_code(unit_code) if head is not None and any(head) else unit_code


# What a submission makes pointless for its obligation.
SUBMISSION_ENDS = ("reminder", "chase", "deadline_missed", "extension")


def make_event_handlers(settings: Settings, clock=utcnow) -> dict:
    def plan_ladder(uow, *, message_class: str, unit_code: str, subject_ref: str, ladder: list[str],
                    deadline: datetime, prefix: str, revive: bool = False) -> dict[str, datetime]:
        """Schedule a ladder for a unit's audience; returns each recipient's first step time."""
        now = clock()
        steps = domain.reminder_steps(ladder, deadline, prefix=prefix)
        first: dict[str, datetime] = {}
        new_rows = []
        nominal = {step.name: step.at for step in steps}
        for recipient in _audience(uow.session, unit_code, message_class):
            window = settings.window(recipient)
            # placed before the deadline, distinct steps at least an hour apart, merges and skips
            # recorded with their reason (domain.plan_ladder)
            for planned in domain.plan_ladder(steps, deadline, window, now):
                due_at = planned.step.at
                status, reason = planned.status, planned.reason
                if status == "scheduled" and (closed := _closed_by(recipient, due_at)):
                    status, reason = "skipped", closed
                facts = dict(kind=message_class, recipient_code=recipient["code"], subject_ref=subject_ref,
                             step=planned.step.name, nominal_at=nominal[planned.step.name],
                             due_at=due_at, status=status, late=planned.late, reason=reason)
                if revive:
                    _schedule(uow, **facts, revive=True)
                else:
                    new_rows.append(_message_row(uow, **facts))
                if status == "scheduled":
                    first[recipient["code"]] = min(due_at, first.get(recipient["code"], due_at))
        if new_rows:  # one statement for the whole ladder; a step that exists already stays as it is
            uow.session.execute(prepared(uow.session, "ladder_rows", lambda ins: ins(SM).on_conflict_do_nothing(
                index_elements=["dedupe_key"])), new_rows)
        return first

    def notify_now(uow, *, message_class: str, unit_code: str, subject_ref: str, step: str,
                   at: datetime | None = None, payload: dict | None = None, revive: bool = False) -> int:
        at = at or clock()
        count = 0
        for recipient in _audience(uow.session, unit_code, message_class):
            placed = settings.window(recipient).next_allowed(at)
            closed = _closed_by(recipient, placed)
            scheduled = _schedule(uow, kind=message_class, recipient_code=recipient["code"],
                                  subject_ref=subject_ref, step=step, nominal_at=at, due_at=placed,
                                  payload=payload, revive=revive and not closed,
                                  **({"status": "skipped", "reason": closed} if closed else {}))
            count += scheduled and not closed
        return count

    def cancel(uow, subject_ref: str, reason: str, kinds: tuple[str, ...] | None = None,
               status_to: str = "cancelled") -> None:
        conditions = [SM.c.subject_ref == subject_ref, SM.c.status == "scheduled"]
        if kinds:
            conditions.append(SM.c.kind.in_(kinds))
        uow.session.execute(update(SM).where(*conditions).values(status=status_to, status_reason=reason))
        # messages waiting in a daily digest are not sent either
        conditions[1] = SM.c.status == "digested"
        uow.session.execute(update(SM).where(*conditions).values(status=status_to, status_reason=reason,
                                                                  digest_id=None))

    def on_directive_issued(event: DirectiveIssued, uow: UnitOfWork, envelope: Envelope) -> None:
        upsert(uow.session, tracked_directives, {"directive_id": event.directive_id}, {
            "document_number": event.document_number, "title_th": event.title_th, "urgency": event.urgency,
            "issuer_code": event.issuer_code})

    def on_assignment_created(event: AssignmentCreated, uow: UnitOfWork, envelope: Envelope) -> None:
        inserted = insert_new(uow.session, tracked_assignments, "assignment_id", {
            "assignment_id": event.assignment_id, "directive_id": event.directive_id, "unit_code": event.unit_code,
            "document_number": event.document_number, "title_th": event.title_th,
            "acknowledge_due_at": event.acknowledge_due_at, "state": "issued"})
        if not inserted:
            return
        reporting = event.reporting.model_dump(mode="json") if event.reporting else None
        notify_now(uow, message_class="directive", unit_code=event.unit_code, subject_ref=event.assignment_id,
                   step="assignment:new", payload={"reporting": reporting} if reporting else None,
                   at=clock() + settings.directive_notice_delay if reporting else None)
        if event.acknowledge_due_at is not None:
            plan_ladder(uow, message_class="ack_reminder", unit_code=event.unit_code,
                        subject_ref=event.assignment_id, ladder=settings.ack_ladder,
                        deadline=event.acknowledge_due_at, prefix="ack")

    def on_assignment_acknowledged(event: AssignmentAcknowledged, uow: UnitOfWork, envelope: Envelope) -> None:
        uow.session.execute(update(tracked_assignments).where(
            tracked_assignments.c.assignment_id == event.assignment_id).values(state="acknowledged"))
        cancel(uow, event.assignment_id, "acknowledged", ("ack_reminder", "ack_overdue"))

    def on_assignment_state_changed(event: AssignmentStateChanged, uow: UnitOfWork, envelope: Envelope) -> None:
        uow.session.execute(update(tracked_assignments).where(
            tracked_assignments.c.assignment_id == event.assignment_id).values(state=event.to_state))
        if event.to_state in CLOSED_ASSIGNMENT:
            cancel(uow, event.assignment_id, f"assignment {event.to_state}")
        elif event.to_state not in OPEN_ASSIGNMENT:
            cancel(uow, event.assignment_id, f"assignment {event.to_state}", ("ack_reminder", "ack_overdue"))

    def on_obligation_opened(event: ObligationOpened, uow: UnitOfWork, envelope: Envelope) -> None:
        inserted = insert_new(uow.session, tracked_obligations, "obligation_id", {
            "obligation_id": event.obligation_id, "unit_code": event.unit_code, "directive_id": event.directive_id,
            "assignment_id": event.assignment_id, "rule_id": event.rule_id,
            "indicator_code": event.indicator_code, "indicator_name_th": event.indicator_name_th,
            "indicator_count": max(1, len(event.indicator_codes)), "period": event.period,
            "group_key": group_key(event.directive_id, event.indicator_code, event.period),
            "due_at": event.due_at, "closes_at": event.closes_at, "state": "open"})
        if not inserted:
            return  # the same obligation announced twice: its ladder is planned already
        ladder = ladder_for(uow.session, settings, event.rule_id, event.directive_id)
        first = plan_ladder(uow, message_class="reminder", unit_code=event.unit_code,
                            subject_ref=event.obligation_id, ladder=ladder, deadline=event.due_at, prefix="reminder")
        if event.assignment_id:
            # a reminder that goes before the (delayed) notice of the assignment carries the same
            # request: the notice is not sent as well (one message, not two)
            covered = [f"{code}|{event.assignment_id}|assignment:new" for code, at in first.items()
                       if at <= clock() + settings.directive_notice_delay]
            if covered:  # a statement built once: this runs for every obligation of a fan-out
                uow.session.execute(prepared(uow.session, "skip_covered_notice", lambda ins: update(SM).where(
                    SM.c.dedupe_key == bindparam("b_key"), SM.c.status == "scheduled").values(
                    status="skipped", status_reason="covered by the first reminder of the same report")),
                    [{"b_key": key} for key in covered])

    def on_obligation_cancelled(event: ObligationCancelled, uow: UnitOfWork, envelope: Envelope) -> None:
        uow.session.execute(update(tracked_obligations).where(
            tracked_obligations.c.obligation_id == event.obligation_id).values(state="cancelled"))
        cancel(uow, event.obligation_id, f"obligation cancelled: {event.reason}"[:500])

    def on_indicators_submitted(uow: UnitOfWork, items: list[tuple[Envelope, IndicatorSubmitted]]) -> None:
        """Submitted reports: their obligations are submitted and the rest of their ladders is
        pointless (digests re-check at send time); three statements for a whole run."""
        session = uow.session
        params = [{"b_ref": event.obligation_id} for _, event in items]
        session.execute(prepared(session, "submitted:obligation", lambda ins: update(tracked_obligations).where(
            tracked_obligations.c.obligation_id == bindparam("b_ref")).values(state="submitted")), params)
        for status, extra in (("scheduled", {}), ("digested", {"digest_id": None})):
            session.execute(prepared(session, f"submitted:cancel:{status}", lambda ins: update(SM).where(
                SM.c.subject_ref == bindparam("b_ref"), SM.c.status == status,
                or_(*(SM.c.kind == kind for kind in SUBMISSION_ENDS))).values(  # no IN: it runs executemany
                status="cancelled", status_reason="submitted", **extra)),
                params)

    @handles_many(on_indicators_submitted)
    def on_indicator_submitted(event: IndicatorSubmitted, uow: UnitOfWork, envelope: Envelope) -> None:
        on_indicators_submitted(uow, [(envelope, event)])

    def on_submission_reviewed(event: SubmissionReviewed, uow: UnitOfWork, envelope: Envelope) -> None:
        notify_now(uow, message_class="review", unit_code=event.unit_code, subject_ref=event.obligation_id,
                   step=f"review:{event.submission_id}",
                   payload={"decision": event.decision, "comment": event.comment})
        if event.decision == "returned":
            uow.session.execute(update(tracked_obligations)
                                .where(tracked_obligations.c.obligation_id == event.obligation_id,
                                       tracked_obligations.c.state == "submitted").values(state="open"))

    def on_extension_requested(event: ExtensionRequested, uow: UnitOfWork, envelope: Envelope) -> None:
        """The supervising offices (district and province above the unit; either may decide) are
        asked to decide; a decision before the message goes makes it pointless (cancelled)."""
        session = uow.session
        payload = {"request_id": event.request_id, "requested_due_at": event.requested_due_at.isoformat(),
                   "reason": event.reason}
        for level in ("district_office", "provincial_office"):
            reviewer = _ancestor(session, event.unit_code, level)
            if reviewer:
                notify_now(uow, message_class="extension_request", unit_code=reviewer,
                           subject_ref=event.obligation_id, step=f"extension_request:{event.request_id}",
                           payload=payload)

    def decided(uow, request_id: str, obligation_id: str, status: str) -> None:
        uow.session.execute(update(SM).where(
            SM.c.subject_ref == obligation_id, SM.c.step == f"extension_request:{request_id}",
            SM.c.status.in_(("scheduled", "digested"))).values(
            status="cancelled", status_reason=f"request {status} before the message went", digest_id=None))

    def decider_name(session, unit_code: str) -> str:
        return session.execute(select(recipients.c.name_th).where(recipients.c.code == unit_code)).scalar() \
            or unit_code

    def on_extension_denied(event: ExtensionDenied, uow: UnitOfWork, envelope: Envelope) -> None:
        decided(uow, event.request_id, event.obligation_id, "denied")
        notify_now(uow, message_class="extension", unit_code=event.unit_code, subject_ref=event.obligation_id,
                   step=f"extension:{event.request_id}",
                   payload={"decision": "denied", "comment": event.comment,
                            "decided_by": decider_name(uow.session, event.decided_by_unit_code)})

    def on_extension_granted(event: ExtensionGranted, uow: UnitOfWork, envelope: Envelope) -> None:
        session = uow.session
        decided(uow, event.request_id, event.obligation_id, "granted")
        obligation = session.execute(select(tracked_obligations).where(
            tracked_obligations.c.obligation_id == event.obligation_id)).mappings().first()
        if obligation is None:
            return
        reopened = obligation["state"] in ("open", "missed")
        session.execute(update(tracked_obligations).where(
            tracked_obligations.c.obligation_id == event.obligation_id).values(
            due_at=event.new_due_at, state="open" if reopened else obligation["state"]))
        if not reopened:
            return
        # escalations of the old deadline no longer apply (a new miss revives them)
        cancel(uow, event.obligation_id, "extension granted", ("deadline_missed",))
        # the remaining steps move to the new deadline; steps already sent are not repeated
        session.execute(update(SM).where(SM.c.subject_ref == event.obligation_id, SM.c.kind == "reminder",
                                         SM.c.status == "scheduled").values(
            status="cancelled", status_reason="rescheduled by an extension"))
        ladder = ladder_for(session, settings, obligation["rule_id"], obligation["directive_id"])
        plan_ladder(uow, message_class="reminder", unit_code=event.unit_code, subject_ref=event.obligation_id,
                    ladder=ladder, deadline=event.new_due_at, prefix="reminder", revive=True)
        notify_now(uow, message_class="extension", unit_code=event.unit_code, subject_ref=event.obligation_id,
                   step=f"extension:{event.request_id}",
                   payload={"decision": "granted", "new_due_at": event.new_due_at.isoformat(),
                            "decided_by": decider_name(session, event.decided_by_unit_code)})

    def on_deadline_missed(event: DeadlineMissed, uow: UnitOfWork, envelope: Envelope) -> None:
        session = uow.session
        session.execute(update(tracked_obligations)
                        .where(tracked_obligations.c.obligation_id == event.obligation_id)
                        .values(state="missed", due_at=event.due_at))
        cancel(uow, event.obligation_id, "deadline passed", ("reminder",), status_to="skipped")
        group = group_key(event.directive_id, event.indicator_code, event.period)
        for level, offset in settings.escalation_ladder:
            at = max(event.due_at + offset, clock())
            if level == "lao_head":
                notify_now(uow, message_class="deadline_missed",
                           unit_code=escalation_target_of_unit(session, event.unit_code),
                           subject_ref=event.obligation_id, step="escalation:lao_head", at=at, revive=True)
                continue
            target = _ancestor(session, event.unit_code,
                               "district_office" if level == "district" else "provincial_office")
            if target:
                notify_now(uow, message_class="escalation", unit_code=target, subject_ref=group,
                           step=f"escalation:{level}", at=at, revive=True)

    def on_acknowledgement_overdue(event: AcknowledgementOverdue, uow: UnitOfWork, envelope: Envelope) -> None:
        notify_now(uow, message_class="ack_overdue", unit_code=event.unit_code, subject_ref=event.assignment_id,
                   step="ack:overdue")
        cancel(uow, event.assignment_id, "acknowledgement deadline passed", ("ack_reminder",), status_to="skipped")
        parent = uow.session.execute(select(recipients.c.parent_code).where(
            recipients.c.code == event.unit_code)).scalar()
        if parent:
            notify_now(uow, message_class="escalation", unit_code=parent, subject_ref=f"ack:{event.directive_id}",
                       step="ack_escalation:parent",
                       at=max(event.acknowledge_due_at + settings.ack_escalation_after, clock()))

    def on_unit_changed(event: OrgUnitChanged, uow: UnitOfWork, envelope: Envelope) -> None:
        follow_closing(uow, on_org_unit_changed(event, uow, envelope, today=clock().astimezone(BANGKOK).date()))

    return {
        OrgUnitChanged.TYPE: on_unit_changed,
        DirectiveIssued.TYPE: on_directive_issued,
        AssignmentCreated.TYPE: on_assignment_created,
        AssignmentAcknowledged.TYPE: on_assignment_acknowledged,
        AssignmentStateChanged.TYPE: on_assignment_state_changed,
        ObligationOpened.TYPE: on_obligation_opened,
        ObligationCancelled.TYPE: on_obligation_cancelled,
        IndicatorSubmitted.TYPE: on_indicator_submitted,
        SubmissionReviewed.TYPE: on_submission_reviewed,
        ExtensionRequested.TYPE: on_extension_requested,
        ExtensionGranted.TYPE: on_extension_granted,
        ExtensionDenied.TYPE: on_extension_denied,
        DeadlineMissed.TYPE: on_deadline_missed,
        AcknowledgementOverdue.TYPE: on_acknowledgement_overdue,
    }


# --- the scheduler: claim ---------------------------------------------------------------------------

@dataclass
class Job:
    """One claimed attempt: what to send where, and what to record afterwards."""
    message: dict
    delivery_id: str
    channel: str
    address: str
    rendered: Rendered
    items: list[dict] = field(default_factory=list)   # messages carried by a daily digest
    result: SendResult | None = None
    error: ChannelError | None = None


@dataclass
class Claim:
    jobs: list[Job]
    outcome: Counter
    rows: int


class _Context:
    """Everything the claimed rows need, loaded in a few queries."""

    def __init__(self, session, rows: list[dict], now: datetime, settings: Settings):
        self.session, self.now, self.settings = session, now, settings
        codes = {row["recipient_code"] for row in rows}
        refs = {row["subject_ref"] for row in rows}
        self.recipients = {row["code"]: recipient_view(row) for row in session.execute(
            select(recipients).where(recipients.c.code.in_(codes))).mappings()} if codes else {}
        self.obligations = {row["obligation_id"]: dict(row) for row in session.execute(
            select(tracked_obligations).where(tracked_obligations.c.obligation_id.in_(refs))).mappings()}
        self.assignments = {row["assignment_id"]: dict(row) for row in session.execute(
            select(tracked_assignments).where(tracked_assignments.c.assignment_id.in_(refs))).mappings()}
        directive_ids = {o["directive_id"] for o in self.obligations.values() if o["directive_id"]} | \
                        {a["directive_id"] for a in self.assignments.values()}
        self.directives = {row["directive_id"]: dict(row) for row in session.execute(
            select(tracked_directives).where(tracked_directives.c.directive_id.in_(directive_ids))).mappings()
        } if directive_ids else {}
        notices = [row["subject_ref"] for row in rows if row["kind"] == "directive"]
        self.reminded = set(session.execute(
            select(SM.c.recipient_code, tracked_obligations.c.assignment_id)
            .join(tracked_obligations, tracked_obligations.c.obligation_id == SM.c.subject_ref)
            .where(tracked_obligations.c.assignment_id.in_(notices), SM.c.kind == "reminder",
                   SM.c.status.in_(("sent", "sending")))).all()) if notices else set()
        self.claims: list[dict] = []
        self.attempts: list[dict] = []
        day_start = domain.local_day_start(now)
        self.sent_today = Counter(dict(session.execute(
            select(SM.c.recipient_code, func.count()).where(
                SM.c.recipient_code.in_(codes), SM.c.kind != domain.DIGEST,
                SM.c.status.in_(("sent", "sending", "uncertain")), SM.c.digest_id.is_(None),
                SM.c.claimed_at >= day_start).group_by(SM.c.recipient_code)).all())) if codes else Counter()

    def extend(self, rows: list[dict]) -> None:
        """Load what the messages inside a digest need."""
        more = _Context(self.session, rows, self.now, self.settings)
        for name in ("recipients", "obligations", "assignments", "directives"):
            for key, value in getattr(more, name).items():
                getattr(self, name).setdefault(key, value)
        self.reminded |= more.reminded

    def document_number(self, directive_id: str | None) -> str | None:
        directive = self.directives.get(directive_id) if directive_id else None
        return directive["document_number"] if directive else None


def _recipient_name(recipient: dict) -> str:
    if recipient.get("language") == "en" and recipient.get("name_en"):
        return recipient["name_en"]
    return recipient["name_th"]


def _relevance(ctx: _Context, row: dict) -> str | None:
    """None if the message is still worth sending, else why not."""
    kind, ref = row["kind"], row["subject_ref"]
    if kind in OBLIGATION_CLASSES:
        obligation = ctx.obligations.get(ref)
        if obligation is None:
            return "obligation unknown"
        state = obligation["state"]
        if kind == "reminder":
            if state != "open":
                return f"obligation is {state}"
            if obligation["due_at"] <= ctx.now:
                return "deadline passed"
        elif kind == "chase" and state not in ("open", "missed"):
            return f"obligation is {state}"
        elif kind == "deadline_missed" and state != "missed":
            return f"obligation is {state}"
        elif kind == "extension" and _payload(row).get("decision") != "denied" and state != "open":
            return f"obligation is {state}"
        elif kind in ("extension", "extension_request") and state in ("cancelled", "accepted"):
            return f"obligation is {state}"
        return None
    if kind in ("directive", "ack_reminder", "ack_overdue"):
        assignment = ctx.assignments.get(ref)
        if assignment is None:
            return "assignment unknown"
        state = assignment["state"]
        if kind == "directive" and state in CLOSED_ASSIGNMENT:
            return f"assignment is {state}"
        if kind == "directive" and (row["recipient_code"], ref) in ctx.reminded:
            return "covered by a reminder of the same report, already sent"
        if kind in ("ack_reminder", "ack_overdue") and state not in OPEN_ASSIGNMENT:
            return f"assignment is {state}"
        if kind == "ack_reminder" and assignment["acknowledge_due_at"] and assignment["acknowledge_due_at"] <= ctx.now:
            return "acknowledgement deadline passed"
        return None
    return None  # escalation digests and daily digests decide when they are composed


# Message classes about one obligation (subject_ref is its id).
OBLIGATION_CLASSES = ("reminder", "chase", "deadline_missed", "extension", "extension_request", "review")


def _payload(row: dict) -> dict:
    return json.loads(row["payload"]) if row.get("payload") else {}


def _link(settings: Settings, path: str) -> str:
    return f"{settings.public_url.rstrip('/')}/{path.lstrip('/')}"


def _compose(ctx: _Context, row: dict, recipient: dict) -> Rendered | str:
    """Render a message for its recipient, or say why there is nothing to send."""
    settings, kind = ctx.settings, row["kind"]
    base = {"language": recipient.get("language", "th"), "date_digits": recipient.get("date_digits", "thai"),
            "recipient_name": _recipient_name(recipient)}
    payload = json.loads(row["payload"]) if row.get("payload") else {}
    if kind in OBLIGATION_CLASSES:
        obligation = ctx.obligations[row["subject_ref"]]
        facts = dict(indicator_name_th=obligation["indicator_name_th"], indicator_code=obligation["indicator_code"],
                     indicator_count=obligation["indicator_count"], period=obligation["period"],
                     due_at=obligation["due_at"], document_number=ctx.document_number(obligation["directive_id"]),
                     link=_link(settings, f"obligations/{obligation['obligation_id']}"))
        if kind == "reminder":
            return render("reminder", **base, **facts)
        if kind == "chase":
            return render("chase", state=obligation["state"], chased_by=payload.get("chased_by", "-"),
                          **base, **facts)
        if kind == "review":
            return render("review", decision=payload.get("decision", "accepted"),
                          comment=payload.get("comment"), **base, **facts)
        if kind == "extension":
            return render("extension", decision=payload.get("decision", "granted"), comment=payload.get("comment"),
                          decided_by=payload.get("decided_by"), **base, **facts)
        if kind == "extension_request":
            unit = ctx.recipients.get(obligation["unit_code"]) or ctx.session.execute(
                select(recipients).where(recipients.c.code == obligation["unit_code"])).mappings().first()
            return render("extension_request", unit_code=obligation["unit_code"],
                          unit_name=(unit or {}).get("name_th") or obligation["unit_code"],
                          requested_due_at=datetime.fromisoformat(payload["requested_due_at"]),
                          reason=payload.get("reason") or "-",
                          **base, **{**facts, "link": _link(settings, "#/followup")})
        return render(kind, **base, **facts)
    if kind in ("directive", "ack_reminder", "ack_overdue"):
        assignment = ctx.assignments[row["subject_ref"]]
        directive = ctx.directives.get(assignment["directive_id"]) or {}
        facts = dict(title_th=assignment["title_th"], document_number=assignment["document_number"],
                     acknowledge_due=assignment["acknowledge_due_at"],
                     link=_link(settings, f"assignments/{assignment['assignment_id']}"))
        if kind == "directive":
            reporting = payload.get("reporting")
            if reporting:
                reporting = {**reporting, "due_at": datetime.fromisoformat(reporting["due_at"])}
            return render("directive", urgency=directive.get("urgency", "normal"), reporting=reporting,
                          **base, **facts)
        return render(kind, **base, **facts)
    if kind == "escalation" and row["step"].startswith("ack_escalation"):
        return _compose_ack_digest(ctx, row, recipient, base)
    if kind == "escalation":
        return _compose_escalation_digest(ctx, row, recipient, base)
    raise ValueError(f"cannot compose a {kind} message")


def _compose_escalation_digest(ctx: _Context, row: dict, recipient: dict, base: dict) -> Rendered | str:
    session = ctx.session
    below = subtree_codes(session, recipient["org_code"])
    names = aliased(recipients)
    group = session.execute(
        select(tracked_obligations, names.c.name_th.label("unit_name_th"))
        .join(names, names.c.code == tracked_obligations.c.unit_code)
        .where(tracked_obligations.c.group_key == row["subject_ref"],
               tracked_obligations.c.unit_code.in_(below),
               tracked_obligations.c.state != "cancelled")
        .order_by(tracked_obligations.c.unit_code)).mappings().all()
    missing = [r for r in group if r["state"] == "missed"]
    if not missing:
        return "every unit has reported"
    first = missing[0]
    return render("escalation", line=domain.digest_line(len(missing), len(group), base["language"]),
                  indicator_name_th=first["indicator_name_th"], indicator_code=first["indicator_code"],
                  period=first["period"], due_at=first["due_at"],
                  document_number=ctx.document_number(first["directive_id"]),
                  missing_units=[{"code": r["unit_code"], "name_th": r["unit_name_th"]} for r in missing],
                  link=_link(ctx.settings, f"reports/directives/{first['directive_id']}/compliance"), **base)


def _compose_ack_digest(ctx: _Context, row: dict, recipient: dict, base: dict) -> Rendered | str:
    session = ctx.session
    directive_id = row["subject_ref"].split(":", 1)[1]
    below = subtree_codes(session, recipient["org_code"])
    names = aliased(recipients)
    group = session.execute(
        select(tracked_assignments, names.c.name_th.label("unit_name_th"))
        .join(names, names.c.code == tracked_assignments.c.unit_code)
        .where(tracked_assignments.c.directive_id == directive_id, tracked_assignments.c.unit_code.in_(below),
               tracked_assignments.c.state.notin_(CLOSED_ASSIGNMENT))
        .order_by(tracked_assignments.c.unit_code)).mappings().all()
    missing = [r for r in group if r["state"] in OPEN_ASSIGNMENT and r["acknowledge_due_at"]
               and r["acknowledge_due_at"] <= ctx.now]
    if not missing:
        return "every unit has acknowledged"
    first = missing[0]
    return render("ack_escalation", missing=len(missing), total=len(group), title_th=first["title_th"],
                  document_number=first["document_number"], acknowledge_due=first["acknowledge_due_at"],
                  missing_units=[{"code": r["unit_code"], "name_th": r["unit_name_th"]} for r in missing],
                  link=_link(ctx.settings, f"directives/{directive_id}/cascade"), **base)


def _choose_channel(channels: Channels, recipient: dict, start: int) -> tuple[int, str, str] | None:
    order = domain.fallback_channels(recipient.get("fallback_order"), recipient["kind"])
    for index in range(start, len(order)):
        channel = channels.get(order[index])
        address = channel.address(recipient) if channel else None
        if address:
            return index, order[index], address
    return None


def _ensure_digest(uow: UnitOfWork, recipient: dict, settings: Settings, now: datetime) -> str:
    at = domain.next_digest_time(now, settings.digest_at, settings.window(recipient))
    day = at.astimezone(BANGKOK).date().isoformat()
    key = f"{recipient['code']}|digest:{day}|digest"
    found = uow.session.execute(select(SM.c.id, SM.c.status).where(SM.c.dedupe_key == key)).first()
    if found is not None and found.status in ("scheduled",):
        return found.id
    if found is not None:  # that day's digest already went: the next one
        at = domain.next_digest_time(at + timedelta(minutes=1), settings.digest_at, settings.window(recipient))
        return _ensure_digest(uow, recipient, settings, at)
    message_id = str(uuid.uuid4())
    uow.session.execute(insert(SM).values(
        id=message_id, dedupe_key=key, kind=domain.DIGEST, recipient_code=recipient["code"],
        subject_ref=f"digest:{day}", step="digest", nominal_at=at, due_at=at, status="scheduled", late=False,
        attempts=0, channel_index=0, channel_attempts=0, correlation_id=uow.correlation_id, created_at=utcnow()))
    return message_id


def _expire_claims(uow: UnitOfWork, channels: Channels, settings: Settings, now: datetime) -> Counter:
    """Claims older than the lease: the process died between claim and record."""
    outcome = Counter()
    stale = uow.session.execute(select(SM).where(SM.c.status == "sending",
                                                 SM.c.claimed_at < now - settings.claim_lease)
                                ).mappings().all()
    for row in stale:
        channel = channels.get(row["channel"]) if row["channel"] else None
        repeatable = channel is not None and channel.idempotent and \
            now - row["claimed_at"] < settings.idempotency_window
        uow.session.execute(update(deliveries).where(deliveries.c.message_id == row["id"],
                                                     deliveries.c.status == "sending").values(
            status="uncertain", finished_at=now, error="claimed but never recorded (crash during send?)"))
        if repeatable:
            uow.session.execute(update(SM).where(SM.c.id == row["id"], SM.c.status == "sending").values(
                status="scheduled", due_at=now, channel_attempts=SM.c.channel_attempts - 1,
                status_reason=f"claim expired: repeating on {row['channel']} with the same idempotency key"))
            outcome["requeued"] += 1
            continue
        reason = "uncertain: claimed but never recorded (crash during send?); not repeated"
        uow.session.execute(update(SM).where(or_(SM.c.id == row["id"], and_(
            SM.c.digest_id == row["id"], SM.c.status == "digested"))).values(status="uncertain", status_reason=reason))
        uow.add_event(_failed_event(row, row["channel"] or "email", now, reason, final=True),
                      correlation_id=row["correlation_id"])
        outcome["uncertain"] += 1
    return outcome


def _supersede_ladder_steps(session, now: datetime) -> int:
    """Catch-up: of several due steps of one ladder (recipient, subject), only the latest goes.

    One indexed scan of the due ladder steps, grouped here: a correlated EXISTS per row made this
    quadratic (8 s per pass with 8,000 due reminders on SQLite)."""
    due = session.execute(select(SM.c.id, SM.c.recipient_code, SM.c.subject_ref, SM.c.kind, SM.c.nominal_at)
                          .where(SM.c.status == "scheduled", SM.c.due_at <= now,
                                 SM.c.kind.in_(domain.LADDER_CLASSES))).all()
    latest: dict[tuple, datetime] = {}
    for row in due:
        key = (row.recipient_code, row.subject_ref, row.kind)
        latest[key] = max(latest.get(key, row.nominal_at), row.nominal_at)
    superseded = [row.id for row in due if row.nominal_at < latest[(row.recipient_code, row.subject_ref, row.kind)]]
    skipped = 0
    for start in range(0, len(superseded), 500):
        skipped += session.execute(update(SM).where(
            SM.c.id.in_(superseded[start:start + 500]), SM.c.status == "scheduled").values(
            status="skipped", status_reason="superseded by a later step (catch-up)")).rowcount
    return skipped


def claim_due(database: Database, channels: Channels, settings: Settings, now: datetime) -> Claim:
    """Take due messages in one transaction and decide, for each, what happens now."""
    with database.unit_of_work() as uow:
        session = uow.session
        # A write first (it matches no row): on SQLite the transaction then holds the write lock
        # from its first read on (a replica in another process waits instead of failing on a
        # stale snapshot).
        session.execute(update(SM).where(SM.c.id == "").values(status=SM.c.status))
        skipped = _supersede_ladder_steps(session, now)
        outcome = _expire_claims(uow, channels, settings, now)
        outcome["skipped"] += skipped
        rows = [dict(row) for row in session.execute(
            select(SM).where(SM.c.status == "scheduled", SM.c.due_at <= now)
            .order_by(SM.c.due_at, SM.c.id).limit(settings.batch_size)
            .with_for_update(skip_locked=True)).mappings()]
        jobs: list[Job] = []
        if rows:
            ctx = _Context(session, rows, now, settings)
            for row in rows:
                decision, job = _decide(uow, ctx, channels, row)
                outcome[decision] += 1
                if job is not None:
                    jobs.append(job)
            if ctx.claims:
                claimed = session.execute(prepared(session, "claim", lambda ins: update(SM).where(
                    SM.c.id == bindparam("b_id"), SM.c.status == "scheduled").values(
                    status="sending", claimed_at=bindparam("b_now"), attempts=bindparam("b_attempts"),
                    channel_index=bindparam("b_channel_index"), channel_attempts=bindparam("b_channel_attempts"),
                    channel=bindparam("b_channel"), address=bindparam("b_address"),
                    provider_key=bindparam("b_provider_key"), late=bindparam("b_late"), status_reason=None)),
                    [{**claim, "b_now": now} for claim in ctx.claims]).rowcount
                if claimed != len(ctx.claims):  # someone else changed them: claim nothing this time
                    raise RuntimeError(f"claimed {claimed} of {len(ctx.claims)} messages; retrying later")
                session.execute(insert(deliveries), ctx.attempts)
        uow.commit()
    return Claim(jobs, outcome, len(rows))


def _set(session, row: dict, *, expect: str = "scheduled", **values) -> bool:
    """Change a claimed row only if it is still as we read it (another replica may have it)."""
    return session.execute(update(SM).where(SM.c.id == row["id"], SM.c.status == expect).values(**values)
                           ).rowcount == 1


def _decide(uow: UnitOfWork, ctx: _Context, channels: Channels, row: dict) -> tuple[str, Job | None]:
    session, now, settings = uow.session, ctx.now, ctx.settings
    recipient = ctx.recipients.get(row["recipient_code"])
    why_not = None
    if recipient is None:
        why_not = "recipient unknown"
    elif recipient.get("valid_to") and recipient["valid_to"] <= now.astimezone(BANGKOK).date().isoformat():
        why_not = "unit closed"
    elif row["kind"] in recipient["opt_out"] and not domain.is_critical(row["kind"]):
        why_not = "opted out"
    else:
        why_not = _relevance(ctx, row)
    if why_not:
        _set(session, row, status="skipped", status_reason=why_not)
        return "skipped", None
    window = settings.window(recipient)
    if not window.allows(now):
        later = window.next_allowed(now)
        if row["kind"] == "reminder" and later >= ctx.obligations[row["subject_ref"]]["due_at"]:
            # (the scheduler ran late) a reminder after the deadline helps nobody: say so now
            _set(session, row, status="skipped", status_reason=f"outside the window ({window.why_not(now)}) "
                                                               "and the next allowed time is after the deadline")
            return "skipped", None
        _set(session, row, due_at=later, status_reason=f"deferred: {window.why_not(now)}")
        return "deferred", None
    late = bool(row["late"]) or now - row["due_at"] > settings.late_after
    row = {**row, "late": late}
    items: list[dict] = []
    if row["kind"] == domain.DIGEST:
        composed = _compose_daily_digest(uow, ctx, row, recipient)
        if isinstance(composed, str):
            _set(session, row, status="skipped", status_reason=composed)
            return "skipped", None
        rendered, items = composed
    else:
        critical = domain.is_critical(row["kind"])
        capped = ctx.sent_today[recipient["code"]] >= settings.daily_cap
        if not critical and (recipient["digest"] or capped):
            digest_id = _ensure_digest(uow, recipient, settings, now)
            _set(session, row, status="digested", digest_id=digest_id,
                 status_reason="daily cap reached: in the daily digest" if capped and not recipient["digest"]
                 else "in the daily digest")
            return "digested", None
        rendered = _compose(ctx, row, recipient)
        if isinstance(rendered, str):
            _set(session, row, status="skipped", status_reason=rendered)
            return "skipped", None
    chosen = _choose_channel(channels, recipient, row["channel_index"])
    if chosen is None:  # cannot happen while the in-app inbox is always last; kept for safety
        _set(session, row, status="failed", status_reason="no channel available")
        return "failed", None
    index, channel_name, address = chosen
    channel_attempts = row["channel_attempts"] if index == row["channel_index"] else 0
    delivery_id = str(uuid.uuid4())
    key = provider_key(row["dedupe_key"])
    # written in bulk by claim_due (the rows are ours: locked on PostgreSQL, and on SQLite this
    # transaction is the only writer)
    ctx.claims.append({"b_id": row["id"], "b_attempts": row["attempts"] + 1, "b_channel_index": index,
                       "b_channel_attempts": channel_attempts + 1, "b_channel": channel_name,
                       "b_address": address[:200], "b_provider_key": key, "b_late": late})
    ctx.attempts.append({"id": delivery_id, "message_id": row["id"], "attempt": row["attempts"] + 1,
                         "channel": channel_name, "address": address[:200], "status": "sending",
                         "provider_key": key, "subject": rendered.subject, "started_at": now})
    if row["kind"] != domain.DIGEST:
        ctx.sent_today[recipient["code"]] += 1
    if row["kind"] == "reminder" and ctx.obligations[row["subject_ref"]]["assignment_id"]:
        ctx.reminded.add((row["recipient_code"], ctx.obligations[row["subject_ref"]]["assignment_id"]))
    message = {**row, "attempts": row["attempts"] + 1, "channel_index": index,
               "channel_attempts": channel_attempts + 1, "channel": channel_name, "address": address,
               "late": late, "recipient_kind": recipient["kind"],
               "fallback_order": domain.fallback_channels(recipient.get("fallback_order"), recipient["kind"])}
    return "claimed", Job(message, delivery_id, channel_name, address, rendered, items)


def _compose_daily_digest(uow: UnitOfWork, ctx: _Context, row: dict, recipient: dict):
    session = uow.session
    items = [dict(r) for r in session.execute(select(SM).where(
        SM.c.digest_id == row["id"], SM.c.status == "digested").order_by(SM.c.nominal_at)).mappings()]
    ctx.extend(items)
    included = []
    for item in items:
        why_not = _relevance(ctx, item)
        rendered = _compose(ctx, item, recipient) if why_not is None else why_not
        if isinstance(rendered, str):
            _set(session, item, expect="digested", status="skipped",
                 status_reason=f"{rendered} (before the digest went)")
            continue
        included.append((item, rendered))
    if not included:
        return "nothing left for the digest"
    day = row["subject_ref"].split(":", 1)[1]
    rendered = render("digest", language=recipient.get("language", "th"),
                      date_digits=recipient.get("date_digits", "thai"), recipient_name=_recipient_name(recipient),
                      day=date.fromisoformat(day), link=_link(ctx.settings, "me/notification-preferences"),
                      items=[{"subject": r.subject, "link": r.link} for _, r in included])
    return rendered, [item for item, _ in included]


# --- the scheduler: send and record -----------------------------------------------------------------

def send_job(channels: Channels, job: Job) -> Job:
    """Runs outside any transaction (concurrently with other jobs)."""
    channel = channels.get(job.channel)
    try:
        job.result = channel.send(job.address, job.rendered, job.message["dedupe_key"])
    except ChannelError as exc:
        job.error = exc
    except Exception as exc:  # noqa: BLE001 - an adapter bug must not lose the record
        job.error = ChannelError(f"{job.channel}: unexpected {exc!r}", uncertain=True)
    metrics.notification_attempt(job.channel, job.message["kind"], job.error)
    return job


def _sent_event(message: dict, channel: str, address: str, now: datetime) -> NotificationSent:
    return NotificationSent(
        delivery_id=message["id"], kind=domain.event_kind(message["kind"]), channel=channel,
        recipient_code=message["recipient_code"], address=address[:200], subject_ref=message["subject_ref"],
        step=message["step"], sent_at=now, late=bool(message.get("late")))


def _failed_event(message: dict, channel: str, now: datetime, reason: str, final: bool) -> NotificationFailed:
    return NotificationFailed(
        delivery_id=message["id"], kind=domain.event_kind(message["kind"]), channel=channel,
        recipient_code=message["recipient_code"], subject_ref=message["subject_ref"], step=message["step"],
        failed_at=now, reason=reason[:500], final=final)


def record(database: Database, jobs: list[Job], settings: Settings, now: datetime,
           channels: Channels) -> Counter:
    """One transaction: each attempt's outcome, the in-app items and the events."""
    outcome = Counter()
    if not jobs:
        return outcome
    with database.unit_of_work() as uow:
        session = uow.session
        sent_attempts, sent_messages, inapp = [], [], []
        for job in jobs:
            message, error = job.message, job.error
            carried = [message] + job.items
            if error is None:
                status = "sent"
                sent_attempts.append({"b_id": job.delivery_id, "b_now": now,
                                      "b_provider_id": job.result.provider_id if job.result else None,
                                      "b_error": "provider had it already (idempotency key)"
                                      if job.result and job.result.duplicate else None})
                sent_messages.append({"b_id": message["id"], "b_now": now})
                for item in job.items:
                    session.execute(update(SM).where(SM.c.id == item["id"]).values(
                        status="sent", sent_at=now, channel=job.channel, address=job.address[:200],
                        status_reason=f"in the daily digest {message['id']}"))
                if job.channel == "inapp":
                    inapp.append(dict(
                        id=str(uuid.uuid4()), message_id=message["id"], recipient_code=message["recipient_code"],
                        kind=message["kind"], subject=job.rendered.subject, body=job.rendered.body,
                        link=job.rendered.link, created_at=now))
                for item in carried:
                    if item["kind"] != domain.DIGEST:
                        uow.add_event(_sent_event({**item, "late": item.get("late")}, job.channel, job.address, now),
                                      correlation_id=item["correlation_id"])
            else:
                status = _record_failure(uow, job, settings, now, channels)
            outcome[status] += 1
            if error is not None:
                log.info("notification_" + status, message_id=message["id"], step=message["step"],
                         recipient=message["recipient_code"], channel=job.channel, error=str(error))
        if sent_attempts:
            session.execute(prepared(session, "attempt_sent", lambda ins: update(deliveries).where(
                deliveries.c.id == bindparam("b_id")).values(status="sent", finished_at=bindparam("b_now"),
                                                               provider_id=bindparam("b_provider_id"),
                                                               error=bindparam("b_error"))), sent_attempts)
            session.execute(prepared(session, "message_sent", lambda ins: update(SM).where(
                SM.c.id == bindparam("b_id"), SM.c.status == "sending").values(
                status="sent", sent_at=bindparam("b_now"), status_reason=None)), sent_messages)
        if inapp:
            session.execute(insert(inbox_items), inapp)
        uow.commit()
    if outcome["sent"]:
        log.info("notifications_sent", count=outcome["sent"],
                 channels=dict(Counter(job.channel for job in jobs if job.error is None)))
    return outcome


def _record_failure(uow: UnitOfWork, job: Job, settings: Settings, now: datetime, channels: Channels) -> str:
    session, message, error = uow.session, job.message, job.error
    channel = channels.get(job.channel)
    reason = str(error)
    if error.uncertain and not channel.idempotent:
        session.execute(update(deliveries).where(deliveries.c.id == job.delivery_id).values(
            status="uncertain", finished_at=now, error=reason[:2000]))
        text = f"uncertain: {reason}; not repeated (the provider has no idempotency key)"
        session.execute(update(SM).where(or_(SM.c.id == message["id"], SM.c.id.in_([i["id"] for i in job.items])))
                        .values(status="uncertain", status_reason=text[:2000]))
        uow.add_event(_failed_event(message, job.channel, now, text, final=True),
                      correlation_id=message["correlation_id"])
        return "uncertain"
    session.execute(update(deliveries).where(deliveries.c.id == job.delivery_id).values(
        status="failed", finished_at=now, error=reason[:2000]))
    order = message["fallback_order"]
    if not error.permanent and message["channel_attempts"] < settings.attempts_per_channel:
        delay = domain.retry_delay(message["channel_attempts"], list(settings.retry_delays_s))
        if error.retry_after:
            delay = max(delay, timedelta(seconds=error.retry_after))
        session.execute(update(SM).where(SM.c.id == message["id"]).values(
            status="scheduled", due_at=now + delay, status_reason=f"retry in {delay.total_seconds():.0f}s: {reason}"[:2000]))
        uow.add_event(_failed_event(message, job.channel, now, reason, final=False),
                      correlation_id=message["correlation_id"])
        return "retrying"
    next_index = message["channel_index"] + 1
    if next_index < len(order):
        session.execute(update(SM).where(SM.c.id == message["id"]).values(
            status="scheduled", due_at=now, channel_index=next_index, channel_attempts=0,
            status_reason=f"{job.channel} failed ({reason}); falling back to {order[next_index]}"[:2000]))
        uow.add_event(_failed_event(message, job.channel, now, f"{reason}; falling back", final=False),
                      correlation_id=message["correlation_id"])
        return "fallback"
    session.execute(update(SM).where(or_(SM.c.id == message["id"], SM.c.id.in_([i["id"] for i in job.items])))
                    .values(status="failed", status_reason=f"every channel failed; last: {reason}"[:2000]))
    uow.add_event(_failed_event(message, job.channel, now, reason, final=True),
                  correlation_id=message["correlation_id"])
    return "failed"


def dispatch_due(database: Database, channels: Channels, settings: Settings, now: datetime | None = None,
                 *, pool_map=map, clock=utcnow) -> dict:
    """Send everything due, batch after batch: claim (commit) -> send (concurrently) -> record (commit)."""
    now = now or clock()
    outcome: Counter = Counter()
    for _ in range(settings.max_batches):
        claim = claim_due(database, channels, settings, now)
        outcome.update({k: v for k, v in claim.outcome.items() if k != "claimed"})
        if not claim.jobs and claim.rows == 0:
            break
        jobs = list(pool_map(lambda job: send_job(channels, job), claim.jobs))
        recorded = record(database, jobs, settings, now, channels)
        outcome.update(recorded)
        if claim.rows < settings.batch_size and not recorded["fallback"]:
            break  # (a fallback is due at once: the next channel is tried in this same pass)
    return {k: v for k, v in outcome.items() if v}


# --- people and preferences -------------------------------------------------------------------------

def _check_user(user) -> dict:
    if not isinstance(user, dict):
        raise invalid("user", "ข้อมูลผู้ใช้ไม่ถูกต้อง", "user must be an object")
    for name in ("username", "org_code"):
        if not isinstance(user.get(name), str) or not user[name].strip() or len(user[name]) > 64:
            raise invalid(f"user.{name}", f"ต้องระบุ {name}", f"user.{name} is required")
    return user


def _preferences_of(row: dict | None) -> domain.Preferences:
    if row is None:
        return domain.Preferences()
    view = recipient_view(row)
    return domain.Preferences(
        language=view["language"], date_digits=view["date_digits"], email=view["email"], phone=view["phone"],
        fallback_order=tuple(view["fallback_order"]) if view["fallback_order"] else None,
        quiet_hours=view["quiet_hours"], opt_out=tuple(view["opt_out"]),
        digest=row["digest"])


def preferences_view(row: dict | None, user: dict, settings: Settings) -> dict:
    prefs = _preferences_of(row)
    view = recipient_view(row) if row else {"kind": "person", "line_ids": [], "fallback_order": None,
                                            "digest": True}
    quiet = domain.parse_quiet_hours(prefs.quiet_hours) if prefs.quiet_hours is not None else settings.quiet_hours
    return {
        "username": user["username"], "org_code": user["org_code"], "language": prefs.language,
        "date_digits": prefs.date_digits,
        "channels": {"email": prefs.email, "sms": prefs.phone, "inapp": True,
                     "line": {"linked": bool(view["line_ids"]), "count": len(view["line_ids"])}},
        "fallback_order": domain.fallback_channels(prefs.fallback_order, "person"),
        "quiet_hours": {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}"} if quiet else None,
        "quiet_hours_is_default": prefs.quiet_hours is None,
        "opt_out": list(prefs.opt_out), "digest": view["digest"] if prefs.digest is None else prefs.digest,
        "classes": {"critical": list(domain.CRITICAL_CLASSES), "optional": list(domain.OPTIONAL_CLASSES)},
    }


def get_preferences(session, user: dict, settings: Settings) -> dict:
    user = _check_user(user)
    row = session.execute(select(recipients).where(recipients.c.code == person_code(user["username"]))
                          ).mappings().first()
    return preferences_view(row, user, settings)


def upsert_person(uow: UnitOfWork, user: dict, preferences: dict | None, settings: Settings) -> dict:
    """Create or update a person (from the gateway's user) and, if given, their preferences."""
    user = _check_user(user)
    code = person_code(user["username"])
    row = uow.session.execute(select(recipients).where(recipients.c.code == code)).mappings().first()
    prefs = domain.parse_preferences(preferences or {}, _preferences_of(row))
    values = {
        "kind": "person", "org_code": user["org_code"], "name_th": str(user.get("display_name") or user["username"]),
        "role": user.get("role"), "language": prefs.language, "date_digits": prefs.date_digits,
        "email": prefs.email, "phone": prefs.phone,
        "fallback_order": json.dumps(list(prefs.fallback_order)) if prefs.fallback_order else None,
        "quiet_hours": prefs.quiet_hours, "opt_out": json.dumps(list(prefs.opt_out)), "digest": prefs.digest,
        "updated_at": utcnow()}
    if preferences and "channels" in preferences and "line" in preferences["channels"]:
        values["line_ids"] = None  # null = unlink
    upsert(uow.session, recipients, {"code": code}, values)
    stored = uow.session.execute(select(recipients).where(recipients.c.code == code)).mappings().first()
    return preferences_view(stored, user, settings)


# --- in-app inbox -----------------------------------------------------------------------------------

def inbox(session, user: dict, *, unread_only: bool = False, limit: int = 50, offset: int = 0) -> dict:
    user = _check_user(user)
    codes = [person_code(user["username"]), user["org_code"]]
    where = [inbox_items.c.recipient_code.in_(codes)]
    if unread_only:
        where.append(inbox_items.c.read_at.is_(None))
    rows = session.execute(select(inbox_items).where(*where).order_by(inbox_items.c.created_at.desc(),
                                                                       inbox_items.c.id)
                           .limit(min(max(limit, 1), 200)).offset(max(offset, 0))).mappings().all()
    unread = session.execute(select(func.count()).select_from(inbox_items).where(
        inbox_items.c.recipient_code.in_(codes), inbox_items.c.read_at.is_(None))).scalar_one()
    return {"unread": unread, "items": [{
        "id": r["id"], "kind": r["kind"], "subject": r["subject"], "body": r["body"], "link": r["link"],
        "created_at": r["created_at"].isoformat(), "read": r["read_at"] is not None,
        "read_at": r["read_at"].isoformat() if r["read_at"] else None} for r in rows]}


def mark_read(uow: UnitOfWork, user: dict, item_id: str) -> dict:
    user = _check_user(user)
    codes = [person_code(user["username"]), user["org_code"]]
    row = uow.session.execute(select(inbox_items).where(inbox_items.c.id == str(item_id),
                                                        inbox_items.c.recipient_code.in_(codes))).mappings().first()
    if row is None:
        raise not_found("id", "ข้อความ", "inbox item", item_id)
    now = utcnow()
    if row["read_at"] is None:
        uow.session.execute(update(inbox_items).where(inbox_items.c.id == row["id"]).values(
            read_at=now, read_by=user["username"]))
        uow.session.execute(update(SM).where(SM.c.id == row["message_id"]).values(read_at=now))
    return {"id": row["id"], "read": True}


# --- LINE linking -----------------------------------------------------------------------------------

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_IN_TEXT = re.compile(r"TT-?([A-HJ-NP-Z2-9]{4})-?([A-HJ-NP-Z2-9]{4})", re.IGNORECASE)


def _hash_code(compact: str) -> str:
    return hashlib.sha256(compact.upper().encode()).hexdigest()


def create_line_link(uow: UnitOfWork, user: dict, target: str, settings: Settings) -> dict:
    """A one-time code; the officer sends it to the LINE official account (or posts it in a group)."""
    user = _check_user(user)
    if target not in ("me", "org"):
        raise invalid("target", "target ต้องเป็น me (ตัวท่าน) หรือ org (หน่วยงาน)", "target must be me or org")
    if target == "me":
        code = person_code(user["username"])
        if uow.session.execute(select(recipients.c.code).where(recipients.c.code == code)).first() is None:
            upsert_person(uow, user, None, settings)
    else:
        if user.get("role") not in ("central", "province", "district", "lao", "ops"):
            raise forbidden("target", "บทบาทของท่านเชื่อม LINE ให้หน่วยงานไม่ได้", "your role may not link LINE for the unit")
        code = user["org_code"]
        if uow.session.execute(select(recipients.c.code).where(recipients.c.code == code)).first() is None:
            raise not_found("org_code", "หน่วยงาน", "unit", code)
    compact = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    now = utcnow()
    uow.session.execute(insert(line_link_codes).values(
        code_hash=_hash_code(compact), recipient_code=code, username=user["username"], created_at=now,
        expires_at=now + settings.link_code_ttl))
    shown = f"TT-{compact[:4]}-{compact[4:]}"
    minutes = int(settings.link_code_ttl.total_seconds() // 60)
    return {"code": shown, "target": target, "expires_at": (now + settings.link_code_ttl).isoformat(),
            "instructions_th": f"เพิ่มบัญชี LINE ทางการของ Thongthin เป็นเพื่อน แล้วส่งข้อความ {shown} "
                               f"ภายใน {minutes} นาที" + (" (หรือเชิญบัญชีเข้ากลุ่ม LINE ของหน่วยงานแล้วส่งรหัสในกลุ่ม)"
                                                          if target == "org" else ""),
            "instructions_en": f"Add the Thongthin LINE official account as a friend and send {shown} "
                               f"within {minutes} minutes" + (" (or invite it to your unit's LINE group and post "
                                                             "the code there)" if target == "org" else "")}


def codes_in_text(text: str) -> list[str]:
    return ["".join(match) .upper() for match in _CODE_IN_TEXT.findall(text or "")]


def complete_line_link(uow: UnitOfWork, code: str, line_id: str) -> dict:
    if not isinstance(line_id, str) or not re.fullmatch(r"[UCR][0-9a-f]{32}", line_id):
        raise invalid("line_id", "รหัสผู้ใช้ LINE ไม่ถูกต้อง", "not a LINE user, group or room id")
    found = codes_in_text(code if isinstance(code, str) else "")
    if not found:
        raise invalid("code", "รหัสเชื่อมต่อไม่ถูกต้อง", "the link code is not valid")
    now = utcnow()
    row = uow.session.execute(select(line_link_codes).where(
        line_link_codes.c.code_hash == _hash_code(found[0]))).mappings().first()
    if row is None or row["used_at"] is not None or row["expires_at"] < now:
        raise not_found("code", "รหัสเชื่อมต่อที่ยังใช้ได้", "valid link code", f"TT-{found[0][:4]}-{found[0][4:]}")
    claimed = uow.session.execute(update(line_link_codes).where(
        line_link_codes.c.code_hash == row["code_hash"], line_link_codes.c.used_at.is_(None)).values(
        used_at=now, line_id=line_id)).rowcount
    if not claimed:
        raise conflict("code", "รหัสนี้ถูกใช้ไปแล้ว", "the code was used already")
    recipient = uow.session.execute(select(recipients).where(recipients.c.code == row["recipient_code"])
                                    ).mappings().first()
    ids = _json_list(recipient["line_ids"]) if recipient else []
    if line_id not in ids:
        ids.append(line_id)
    uow.session.execute(update(recipients).where(recipients.c.code == row["recipient_code"]).values(
        line_ids=json.dumps(ids), updated_at=now))
    return {"linked": True, "recipient_code": row["recipient_code"], "username": row["username"]}


# --- chase, ladders, ledger -------------------------------------------------------------------------

def chase(uow: UnitOfWork, obligation_id: str, user: dict, scope_root: str | None, now: datetime,
          settings: Settings) -> dict:
    """A reminder now, by hand. Never twice per obligation, recipient and Bangkok day."""
    user = _check_user(user)
    session = uow.session
    obligation = session.execute(select(tracked_obligations).where(
        tracked_obligations.c.obligation_id == str(obligation_id))).mappings().first()
    if obligation is None:
        raise not_found("obligation_id", "ภาระการรายงาน", "obligation", obligation_id)
    if scope_root is not None and obligation["unit_code"] != scope_root and \
            obligation["unit_code"] not in subtree_codes(session, scope_root):
        raise forbidden("obligation_id", "หน่วยงานนี้ไม่อยู่ในความรับผิดชอบของท่าน", "that unit is outside your area")
    if obligation["state"] not in ("open", "missed"):
        raise conflict("obligation_id", f"ไม่ต้องติดตาม: ภาระนี้อยู่ในสถานะ {obligation['state']}",
                       f"nothing to chase: the obligation is {obligation['state']}")
    day = now.astimezone(BANGKOK).date().isoformat()
    step = f"chase:{day}"
    by = session.execute(select(recipients.c.name_th).where(recipients.c.code == user["org_code"])).scalar()
    queued = already = 0
    for recipient in _audience(session, obligation["unit_code"], "chase"):
        window = settings.window(recipient)
        placed = window.next_allowed(now)
        if _schedule(uow, kind="chase", recipient_code=recipient["code"], subject_ref=obligation["obligation_id"],
                     step=step, nominal_at=now, due_at=placed,
                     reason=f"deferred: {window.why_not(now)}" if placed > now else None,
                     payload={"chased_by": by or user.get("display_name") or user["org_code"],
                              "by_username": user["username"]}):
            queued += 1
        else:
            already += 1
    # When it will really go: the unit's own contact point rules (people of the unit may have other
    # quiet hours); the officer is told "at 07:00 on Monday", not "sent", when it only waits.
    rows = session.execute(select(SM.c.recipient_code, SM.c.due_at, SM.c.status, SM.c.sent_at, SM.c.status_reason)
                           .where(SM.c.subject_ref == obligation["obligation_id"], SM.c.step == step)).all()
    main = next((r for r in rows if r.recipient_code == obligation["unit_code"]), rows[0] if rows else None)
    scheduled_for = (main.sent_at or main.due_at) if main is not None else None
    immediate = scheduled_for is not None and scheduled_for <= now + timedelta(minutes=1)
    return {"obligation_id": obligation["obligation_id"], "unit_code": obligation["unit_code"], "step": step,
            "queued": queued, "already_chased_today": already,
            "status": main.status if main is not None else None,
            "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
            "sends_now": immediate,
            "deferred_because": None if immediate or main is None else _deferral(main.status_reason),
            "recipients": [{"code": r.recipient_code, "status": r.status,
                            "scheduled_for": (r.sent_at or r.due_at).isoformat()} for r in rows]}


def _deferral(reason: str | None) -> str | None:
    return reason.removeprefix("deferred: ") if reason and reason.startswith("deferred: ") else reason


def set_reminder_ladder(uow: UnitOfWork, key: str, steps, updated_by: str | None) -> dict:
    if not isinstance(key, str) or not re.fullmatch(r"default|rule:[\w-]{1,64}|directive:[\w-]{1,64}", key):
        raise invalid("key", "key ต้องเป็น default, rule:<id> หรือ directive:<id>",
                      "key must be default, rule:<id> or directive:<id>")
    cleaned = domain.validate_ladder(steps)
    upsert(uow.session, reminder_ladders, {"key": key}, {"steps": json.dumps(cleaned), "updated_by": updated_by,
                                                          "updated_at": utcnow()})
    return {"key": key, "steps": cleaned}


def list_reminder_ladders(session, settings: Settings) -> dict:
    rows = session.execute(select(reminder_ladders).order_by(reminder_ladders.c.key)).mappings().all()
    return {"default_from_config": list(settings.reminder_ladder),
            "items": [{"key": r["key"], "steps": json.loads(r["steps"]), "updated_by": r["updated_by"],
                       "updated_at": r["updated_at"].isoformat()} for r in rows]}


MESSAGE_STATUSES = ("scheduled", "sending", "sent", "failed", "uncertain", "cancelled", "skipped", "digested")


def _parse_when(value, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise invalid(name, f"{name} ต้องเป็นวันเวลา ISO 8601", f"{name} must be an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=BANGKOK)


def list_deliveries(session, filters: dict) -> dict:
    """The ledger for ops: messages with their attempts, newest first."""
    if not isinstance(filters, dict):
        raise invalid("filters", "ตัวกรองไม่ถูกต้อง", "filters must be an object")
    where = []
    status = filters.get("status")
    if status:
        if status not in MESSAGE_STATUSES:
            raise invalid("status", "สถานะไม่ถูกต้อง", f"status must be one of {', '.join(MESSAGE_STATUSES)}")
        where.append(SM.c.status == status)
    channel = filters.get("channel")
    if channel:
        if channel not in domain.CHANNELS:
            raise invalid("channel", "ช่องทางไม่ถูกต้อง", f"channel must be one of {', '.join(domain.CHANNELS)}")
        where.append(SM.c.channel == channel)
    kind = filters.get("kind")
    if kind:
        if kind not in (*domain.MESSAGE_CLASSES, domain.DIGEST):
            raise invalid("kind", "ประเภทข้อความไม่ถูกต้อง", "unknown message kind")
        where.append(SM.c.kind == kind)
    for name, column in (("recipient_code", SM.c.recipient_code), ("subject_ref", SM.c.subject_ref)):
        if filters.get(name):
            where.append(column == str(filters[name]))
    if filters.get("late") is not None:
        where.append(SM.c.late.is_(bool(filters["late"])))
    since, until = _parse_when(filters.get("since"), "since"), _parse_when(filters.get("until"), "until")
    if since:
        where.append(SM.c.created_at >= since)
    if until:
        where.append(SM.c.created_at < until)
    limit = filters.get("limit", 100)
    offset = filters.get("offset", 0)
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise invalid("limit", "limit ต้องอยู่ระหว่าง 1 ถึง 1000", "limit must be between 1 and 1000")
    if not isinstance(offset, int) or offset < 0:
        raise invalid("offset", "offset ต้องไม่ติดลบ", "offset must not be negative")
    rows = session.execute(select(SM).where(*where).order_by(SM.c.created_at.desc(), SM.c.id)
                           .limit(limit).offset(offset)).mappings().all()
    attempts: dict[str, list] = {}
    if rows:
        for a in session.execute(select(deliveries).where(deliveries.c.message_id.in_([r["id"] for r in rows]))
                                 .order_by(deliveries.c.attempt)).mappings():
            attempts.setdefault(a["message_id"], []).append({
                "attempt": a["attempt"], "channel": a["channel"], "address": a["address"], "status": a["status"],
                "error": a["error"], "provider_key": a["provider_key"], "provider_id": a["provider_id"],
                "started_at": a["started_at"].isoformat(),
                "finished_at": a["finished_at"].isoformat() if a["finished_at"] else None})
    total = session.execute(select(func.count()).select_from(SM).where(*where)).scalar_one()
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {"total": total, "items": [{
        "id": r["id"], "kind": r["kind"], "recipient_code": r["recipient_code"], "subject_ref": r["subject_ref"],
        "step": r["step"], "status": r["status"], "reason": r["status_reason"], "late": bool(r["late"]),
        "channel": r["channel"], "nominal_at": iso(r["nominal_at"]), "due_at": iso(r["due_at"]),
        "sent_at": iso(r["sent_at"]), "read_at": iso(r["read_at"]), "digest_id": r["digest_id"],
        "attempts": attempts.get(r["id"], [])} for r in rows]}


def message_counts(session) -> dict:
    rows = session.execute(select(SM.c.kind, SM.c.status, func.count())
                           .group_by(SM.c.kind, SM.c.status)).all()
    return {f"{kind}:{status}": count for kind, status, count in rows}


__all__ = ["InputError", "Settings", "make_event_handlers", "dispatch_due", "claim_due", "record", "send_job"]
