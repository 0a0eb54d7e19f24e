"""Planning messages from events: what other services announce becomes scheduled (or cancelled)
messages. Nothing is sent here; dispatch sends what is due.

Each handler is ``(event, uow, envelope)`` plus, by keyword, what it needs of ``settings`` and
``clock``; ``bootstrap.event_handlers`` binds those and gives the Inbox the map ``EVENT_HANDLERS``
(event type -> handler). Invariants:
* a message is keyed by (recipient, subject, step) and planned once (redelivered events plan
  nothing new); cancelling only touches messages still ``scheduled`` or ``digested``;
* a ladder is placed per recipient by ``domain.plan_ladder`` (their send window), and nothing is
  scheduled for a unit on or after the day it closes (``domain.closed_by``);
* the registry copy keeps every version of a unit (the highest revision of a (code, valid_from)
  stands, whatever the order of arrival); ``follow_closing`` cancels, or gives back, what a
  closing concerns;
* LPA (issue #19): a finalised assessor team tells each member (person or guest) of their place
  once per (member, team, visit day); a returned assessment tells the team's lead and province.
"""
from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Callable

import structlog
from sqlalchemy import bindparam, or_, select, update

from services.notifications import domain
from services.notifications.audience import (SM, ancestor_at, audience, escalation_target_of_unit, head_code,
                                             message_row, person_code, recipient_view, schedule)
from services.notifications.models import (org_unit_versions, recipients, reminder_ladders, tracked_assignments,
                                           tracked_directives, tracked_lpa_visits, tracked_obligations)
from services.notifications.settings import Settings
from shared.contracts import Envelope, utcnow
from shared.contracts.events import (AcknowledgementOverdue, AssignmentAcknowledged, AssignmentCreated,
                                     AssignmentStateChanged, DeadlineMissed, DirectiveIssued, ExtensionDenied,
                                     ExtensionGranted, ExtensionRequested, IndicatorSubmitted, LpaAssessmentReturned,
                                     LpaTeamFinalised, ObligationCancelled, ObligationOpened, OrgUnitChanged,
                                     SubmissionReviewed)
from shared.db import UnitOfWork, insert_new, prepared, upsert
from shared.messaging.inbox import handles_many
from shared.thai import BANGKOK
from shared.vocabulary import DISTRICT_LEVEL, PROVINCE_LEVEL

Clock = Callable[[], datetime]
log = structlog.get_logger(__name__)


def group_key(directive_id: str | None, indicator_code: str, period: str) -> str:
    return f"{directive_id or '-'}:{indicator_code}:{period}"


def ladder_for(session, settings: Settings, rule_id: str | None, directive_id: str | None) -> list[str]:
    """The reminder ladder of a rule, else of its directive, else the stored default, else ours."""
    keys = [k for k in (f"rule:{rule_id}" if rule_id else None,
                        f"directive:{directive_id}" if directive_id else None, "default") if k]
    statement = prepared(session, "ladders", lambda ins: select(reminder_ladders.c.key, reminder_ladders.c.steps)
                          .where(reminder_ladders.c.key.in_(bindparam("keys", expanding=True))))
    rows = dict(session.execute(statement, {"keys": keys}).all())
    for key in keys:
        if key in rows:
            return json.loads(rows[key])
    return list(settings.reminder_ladder)


# --- the three verbs: plan a ladder, notify now, cancel ------------------------------------------------

def plan_ladder(uow: UnitOfWork, settings: Settings, now: datetime, *, message_class: str, unit_code: str,
                subject_ref: str, ladder: list[str], deadline: datetime, prefix: str,
                revive: bool = False) -> dict[str, datetime]:
    """Schedule a ladder for a unit's audience; returns each recipient's first step time."""
    steps = domain.reminder_steps(ladder, deadline, prefix=prefix)
    first: dict[str, datetime] = {}
    new_rows = []
    nominal = {step.name: step.at for step in steps}
    for recipient in audience(uow.session, unit_code, message_class):
        window = settings.window(recipient)
        # placed before the deadline, distinct steps at least an hour apart, merges and skips
        # recorded with their reason (domain.plan_ladder)
        for planned in domain.plan_ladder(steps, deadline, window, now):
            due_at = planned.step.at
            status, reason = planned.status, planned.reason
            if status == "scheduled" and (closed := domain.closed_by(recipient, due_at)):
                status, reason = "skipped", closed
            facts = dict(kind=message_class, recipient_code=recipient["code"], subject_ref=subject_ref,
                         step=planned.step.name, nominal_at=nominal[planned.step.name],
                         due_at=due_at, status=status, late=planned.late, reason=reason)
            if revive:
                schedule(uow, **facts, revive=True)
            else:
                new_rows.append(message_row(uow, **facts))
            if status == "scheduled":
                first[recipient["code"]] = min(due_at, first.get(recipient["code"], due_at))
    if new_rows:  # one statement for the whole ladder; a step that exists already stays as it is
        uow.session.execute(prepared(uow.session, "ladder_rows", lambda ins: ins(SM).on_conflict_do_nothing(
            index_elements=["dedupe_key"])), new_rows)
    return first


def notify_now(uow: UnitOfWork, settings: Settings, at: datetime, *, message_class: str, unit_code: str,
               subject_ref: str, step: str, payload: dict | None = None, revive: bool = False) -> int:
    """One message to a unit's audience, at ``at`` or each recipient's next allowed time after it."""
    count = 0
    for recipient in audience(uow.session, unit_code, message_class):
        placed = settings.window(recipient).next_allowed(at)
        closed = domain.closed_by(recipient, placed)
        scheduled = schedule(uow, kind=message_class, recipient_code=recipient["code"],
                             subject_ref=subject_ref, step=step, nominal_at=at, due_at=placed,
                             payload=payload, revive=revive and not closed,
                             **({"status": "skipped", "reason": closed} if closed else {}))
        count += scheduled and not closed
    return count


def notify_recipient(uow: UnitOfWork, settings: Settings, at: datetime, *, message_class: str,
                     recipient_code: str, subject_ref: str, step: str, payload: dict | None = None,
                     revive: bool = False) -> bool:
    """One message to one recipient (a person or a guest, not a unit's audience), at ``at`` or
    their next allowed time after it (``revive``: as ``schedule``'s)."""
    row = uow.session.execute(select(recipients).where(recipients.c.code == recipient_code)).mappings().first()
    recipient = recipient_view(row) if row is not None else {"code": recipient_code, "quiet_hours": None}
    return schedule(uow, kind=message_class, recipient_code=recipient_code, subject_ref=subject_ref, step=step,
                    nominal_at=at, due_at=settings.window(recipient).next_allowed(at), payload=payload,
                    revive=revive)


def cancel(uow: UnitOfWork, subject_ref: str, reason: str, kinds: tuple[str, ...] | None = None,
           status_to: str = "cancelled") -> None:
    conditions = [SM.c.subject_ref == subject_ref, SM.c.status == "scheduled"]
    if kinds:
        conditions.append(SM.c.kind.in_(kinds))
    uow.session.execute(update(SM).where(*conditions).values(status=status_to, status_reason=reason))
    # messages waiting in a daily digest are not sent either
    conditions[1] = SM.c.status == "digested"
    uow.session.execute(update(SM).where(*conditions).values(status=status_to, status_reason=reason,
                                                              digest_id=None))


# --- the registry: units, their heads, closings --------------------------------------------------------

def _version_upsert(ins):
    """A version of a unit, unless a higher revision of the same (code, valid_from) is stored."""
    statement = ins(org_unit_versions)
    names = ("valid_to", "revision", "change_kind", "successor_codes", "version")
    return statement.on_conflict_do_update(index_elements=["code", "valid_from"],
                                           set_={name: statement.excluded[name] for name in names},
                                           where=org_unit_versions.c.revision <= statement.excluded.revision)


def on_org_unit_changed(event: OrgUnitChanged, uow: UnitOfWork, envelope: Envelope, *,
                        today: date | None = None) -> domain.UnitState:
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
    chosen = OrgUnitChanged.model_validate_json(domain.version_holding(versions, day)["version"])
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
    return domain.UnitState(event.code, last["valid_to"], json.loads(last["successor_codes"]), last["change_kind"])


def _unit_audience_codes(session, unit_code: str) -> list[str]:
    people = session.execute(select(recipients.c.code).where(recipients.c.org_code == unit_code,
                                                             recipients.c.kind == "person")).scalars().all()
    return [unit_code, head_code(unit_code), *people]


def follow_closing(uow: UnitOfWork, state: domain.UnitState) -> None:
    """A unit that closes on D hears nothing from D on: its messages still waiting (reminders,
    escalations to its head, digests) are cancelled saying when it closed and into whom. A unit
    that turns out not to close then (a later version came, or the closing moved) gets back the
    messages cancelled for the closing that were never attempted (each is checked again when due)."""
    session = uow.session
    audience_codes = _unit_audience_codes(session, state.code)
    if state.closes_on is not None:
        closes_at = datetime.combine(date.fromisoformat(state.closes_on), time(0), BANGKOK)
        reason = domain.closing_reason(state)[:500]
        for status, extra in (("scheduled", {}), ("digested", {"digest_id": None})):
            session.execute(update(SM).where(SM.c.recipient_code.in_(audience_codes), SM.c.status == status,
                                             SM.c.due_at >= closes_at).values(
                status="cancelled", status_reason=reason, **extra))
    revive = [SM.c.recipient_code.in_(audience_codes), SM.c.status == "cancelled", SM.c.attempts == 0,
              SM.c.status_reason.like(f"{domain.CLOSED_REASON_PREFIX}%")]
    if state.closes_on is not None:
        revive.append(SM.c.due_at < datetime.combine(date.fromisoformat(state.closes_on), time(0), BANGKOK))
    session.execute(update(SM).where(*revive).values(status="scheduled", status_reason=None))


def on_unit_changed(event: OrgUnitChanged, uow: UnitOfWork, envelope: Envelope, *, clock: Clock = utcnow) -> None:
    follow_closing(uow, on_org_unit_changed(event, uow, envelope, today=clock().astimezone(BANGKOK).date()))


# --- directives and assignments ------------------------------------------------------------------------

def on_directive_issued(event: DirectiveIssued, uow: UnitOfWork, envelope: Envelope) -> None:
    upsert(uow.session, tracked_directives, {"directive_id": event.directive_id}, {
        "document_number": event.document_number, "title_th": event.title_th, "urgency": event.urgency,
        "issuer_code": event.issuer_code})


def on_assignment_created(event: AssignmentCreated, uow: UnitOfWork, envelope: Envelope, *,
                          settings: Settings, clock: Clock = utcnow) -> None:
    inserted = insert_new(uow.session, tracked_assignments, "assignment_id", {
        "assignment_id": event.assignment_id, "directive_id": event.directive_id, "unit_code": event.unit_code,
        "document_number": event.document_number, "title_th": event.title_th,
        "acknowledge_due_at": event.acknowledge_due_at, "state": "issued"})
    if not inserted:
        return
    reporting = event.reporting.model_dump(mode="json") if event.reporting else None
    now = clock()
    notify_now(uow, settings, now + settings.directive_notice_delay if reporting else now,
               message_class="directive", unit_code=event.unit_code, subject_ref=event.assignment_id,
               step="assignment:new", payload={"reporting": reporting} if reporting else None)
    if event.acknowledge_due_at is not None:
        plan_ladder(uow, settings, clock(), message_class="ack_reminder", unit_code=event.unit_code,
                    subject_ref=event.assignment_id, ladder=settings.ack_ladder,
                    deadline=event.acknowledge_due_at, prefix="ack")


def on_assignment_acknowledged(event: AssignmentAcknowledged, uow: UnitOfWork, envelope: Envelope) -> None:
    uow.session.execute(update(tracked_assignments).where(
        tracked_assignments.c.assignment_id == event.assignment_id).values(state="acknowledged"))
    cancel(uow, event.assignment_id, "acknowledged", ("ack_reminder", "ack_overdue"))


def on_assignment_state_changed(event: AssignmentStateChanged, uow: UnitOfWork, envelope: Envelope) -> None:
    uow.session.execute(update(tracked_assignments).where(
        tracked_assignments.c.assignment_id == event.assignment_id).values(state=event.to_state))
    if event.to_state in domain.CLOSED_ASSIGNMENT:
        cancel(uow, event.assignment_id, f"assignment {event.to_state}")
    elif event.to_state not in domain.OPEN_ASSIGNMENT:
        cancel(uow, event.assignment_id, f"assignment {event.to_state}", ("ack_reminder", "ack_overdue"))


def on_acknowledgement_overdue(event: AcknowledgementOverdue, uow: UnitOfWork, envelope: Envelope, *,
                               settings: Settings, clock: Clock = utcnow) -> None:
    notify_now(uow, settings, clock(), message_class="ack_overdue", unit_code=event.unit_code,
               subject_ref=event.assignment_id, step="ack:overdue")
    cancel(uow, event.assignment_id, "acknowledgement deadline passed", ("ack_reminder",), status_to="skipped")
    parent = uow.session.execute(select(recipients.c.parent_code).where(
        recipients.c.code == event.unit_code)).scalar()
    if parent:
        notify_now(uow, settings, max(event.acknowledge_due_at + settings.ack_escalation_after, clock()),
                   message_class="escalation", unit_code=parent, subject_ref=f"ack:{event.directive_id}",
                   step="ack_escalation:parent")


# --- obligations: open, cancelled, submitted, reviewed, missed ------------------------------------------

def on_obligation_opened(event: ObligationOpened, uow: UnitOfWork, envelope: Envelope, *,
                         settings: Settings, clock: Clock = utcnow) -> None:
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
    first = plan_ladder(uow, settings, clock(), message_class="reminder", unit_code=event.unit_code,
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
            or_(*(SM.c.kind == kind for kind in domain.SUBMISSION_ENDS))).values(  # no IN: it runs executemany
            status="cancelled", status_reason="submitted", **extra)),
            params)


@handles_many(on_indicators_submitted)
def on_indicator_submitted(event: IndicatorSubmitted, uow: UnitOfWork, envelope: Envelope) -> None:
    on_indicators_submitted(uow, [(envelope, event)])


def on_submission_reviewed(event: SubmissionReviewed, uow: UnitOfWork, envelope: Envelope, *,
                           settings: Settings, clock: Clock = utcnow) -> None:
    notify_now(uow, settings, clock(), message_class="review", unit_code=event.unit_code,
               subject_ref=event.obligation_id, step=f"review:{event.submission_id}",
               payload={"decision": event.decision, "comment": event.comment})
    if event.decision == "returned":
        uow.session.execute(update(tracked_obligations)
                            .where(tracked_obligations.c.obligation_id == event.obligation_id,
                                   tracked_obligations.c.state == "submitted").values(state="open"))


def on_deadline_missed(event: DeadlineMissed, uow: UnitOfWork, envelope: Envelope, *,
                       settings: Settings, clock: Clock = utcnow) -> None:
    session = uow.session
    session.execute(update(tracked_obligations)
                    .where(tracked_obligations.c.obligation_id == event.obligation_id)
                    .values(state="missed", due_at=event.due_at))
    cancel(uow, event.obligation_id, "deadline passed", ("reminder",), status_to="skipped")
    group = group_key(event.directive_id, event.indicator_code, event.period)
    for level, offset in settings.escalation_ladder:
        at = max(event.due_at + offset, clock())
        if level == "lao_head":
            notify_now(uow, settings, at, message_class="deadline_missed",
                       unit_code=escalation_target_of_unit(session, event.unit_code),
                       subject_ref=event.obligation_id, step="escalation:lao_head", revive=True)
            continue
        target = ancestor_at(session, event.unit_code, DISTRICT_LEVEL if level == "district" else PROVINCE_LEVEL)
        if target:
            notify_now(uow, settings, at, message_class="escalation", unit_code=target, subject_ref=group,
                       step=f"escalation:{level}", revive=True)


# --- extensions -------------------------------------------------------------------------------------

def on_extension_requested(event: ExtensionRequested, uow: UnitOfWork, envelope: Envelope, *,
                           settings: Settings, clock: Clock = utcnow) -> None:
    """The supervising offices (district and province above the unit; either may decide) are
    asked to decide; a decision before the message goes makes it pointless (cancelled)."""
    session = uow.session
    payload = {"request_id": event.request_id, "requested_due_at": event.requested_due_at.isoformat(),
               "reason": event.reason}
    for level in (DISTRICT_LEVEL, PROVINCE_LEVEL):
        reviewer = ancestor_at(session, event.unit_code, level)
        if reviewer:
            notify_now(uow, settings, clock(), message_class="extension_request", unit_code=reviewer,
                       subject_ref=event.obligation_id, step=f"extension_request:{event.request_id}",
                       payload=payload)


def _decided(uow: UnitOfWork, request_id: str, obligation_id: str, status: str) -> None:
    uow.session.execute(update(SM).where(
        SM.c.subject_ref == obligation_id, SM.c.step == f"extension_request:{request_id}",
        SM.c.status.in_(("scheduled", "digested"))).values(
        status="cancelled", status_reason=f"request {status} before the message went", digest_id=None))


def _decider_name(session, unit_code: str) -> str:
    return session.execute(select(recipients.c.name_th).where(recipients.c.code == unit_code)).scalar() \
        or unit_code


def on_extension_denied(event: ExtensionDenied, uow: UnitOfWork, envelope: Envelope, *,
                        settings: Settings, clock: Clock = utcnow) -> None:
    _decided(uow, event.request_id, event.obligation_id, "denied")
    notify_now(uow, settings, clock(), message_class="extension", unit_code=event.unit_code,
               subject_ref=event.obligation_id, step=f"extension:{event.request_id}",
               payload={"decision": "denied", "comment": event.comment,
                        "decided_by": _decider_name(uow.session, event.decided_by_unit_code)})


def on_extension_granted(event: ExtensionGranted, uow: UnitOfWork, envelope: Envelope, *,
                         settings: Settings, clock: Clock = utcnow) -> None:
    session = uow.session
    _decided(uow, event.request_id, event.obligation_id, "granted")
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
    plan_ladder(uow, settings, clock(), message_class="reminder", unit_code=event.unit_code,
                subject_ref=event.obligation_id, ladder=ladder, deadline=event.new_due_at, prefix="reminder",
                revive=True)
    notify_now(uow, settings, clock(), message_class="extension", unit_code=event.unit_code,
               subject_ref=event.obligation_id, step=f"extension:{event.request_id}",
               payload={"decision": "granted", "new_due_at": event.new_due_at.isoformat(),
                        "decided_by": _decider_name(session, event.decided_by_unit_code)})


# --- LPA: assessor teams and returned assessments (issue #19) -------------------------------------------
# The self-assessments and follow-ups need nothing here: they are ordinary obligations
# (obligation_opened, indicator_submitted), reminded and escalated like any report.

def _team_member_codes(uow: UnitOfWork, event: LpaTeamFinalised) -> list[tuple[str, str]]:
    """(recipient code, role) of each member we can write to. Someone with an account we have no
    row for gets a ``member`` row (their unit, their name, the address the team form gave): written
    to by name, not added to their unit's audience; a row that exists keeps its preferences. A
    guest's row follows the latest team form (name, address)."""
    session = uow.session
    known = set(session.execute(select(recipients.c.code).where(recipients.c.code.in_(
        [person_code(member.person) for member in event.members]))).scalars())
    found = []
    for member in event.members:
        kind = domain.team_member_kind(member.person, member.unit_code, member.email,
                                       has_account=person_code(member.person) in known)
        if kind is None:
            log.info("lpa_team_member_unreachable", team_id=event.team_id, role=member.role,
                     reason="no account and no e-mail address")
            continue
        name = member.name_th or member.person
        if kind == domain.GUEST:
            code = domain.guest_code(member.email)
            upsert(session, recipients, {"code": code}, {
                "kind": domain.GUEST, "org_code": event.province_code or "", "name_th": name,
                "email": member.email.strip(), "digest": False, "updated_at": utcnow()})
        else:
            code = person_code(member.person)
            if code not in known:
                insert_new(session, recipients, "code", {
                    "code": code, "kind": domain.MEMBER, "org_code": member.unit_code or event.province_code or "",
                    "name_th": name, "email": member.email, "updated_at": utcnow()})
        found.append((code, member.role))
    return found


def on_lpa_team_finalised(event: LpaTeamFinalised, uow: UnitOfWork, envelope: Envelope, *,
                          settings: Settings, clock: Clock = utcnow) -> None:
    """Each member of a finalised team hears of their place in it: the LAOs, the visit day and the
    work page. Keyed (member, team, visit day): the same event twice, or the team finalised again
    for the same day, plans nothing new; a moved visit is news, and what still waited for the old
    day (or for someone no longer in the team) is cancelled, and comes back, if it never went,
    when the visit moves back to that day."""
    session = uow.session
    members = _team_member_codes(uow, event)
    lead = next((code for code, role in members if role == "lead"), None)
    for unit_code in event.unit_codes:
        upsert(session, tracked_lpa_visits, {"round_id": event.round_id, "unit_code": unit_code}, {
            "team_id": event.team_id, "year_be": event.year_be, "province_code": event.province_code,
            "visit_on": event.visit_on.isoformat(), "lead_code": lead})
    step = domain.lpa_team_step(event.visit_on)
    session.execute(update(SM).where(
        SM.c.subject_ref == event.team_id, SM.c.kind == "lpa_team", SM.c.status == "scheduled",
        or_(SM.c.step != step, SM.c.recipient_code.notin_([code for code, _ in members] or [""]))).values(
        status="cancelled", status_reason=f"the team was finalised again (visit {event.visit_on.isoformat()})"))
    payload = {"team_id": event.team_id, "year_be": event.year_be, "province_code": event.province_code,
               "unit_codes": list(event.unit_codes), "visit_on": event.visit_on.isoformat()}
    now = clock()
    for code, role in members:
        notify_recipient(uow, settings, now, message_class="lpa_team", recipient_code=code,
                         subject_ref=event.team_id, step=step, payload={**payload, "role": role}, revive=True)


def on_lpa_assessment_returned(event: LpaAssessmentReturned, uow: UnitOfWork, envelope: Envelope, *,
                               settings: Settings, clock: Clock = utcnow) -> None:
    """DLA returned an LAO's assessment for correction: the team's lead and the provincial office
    (the team's, else the LAO's province in our registry copy) are told why."""
    session = uow.session
    visit = session.execute(select(tracked_lpa_visits).where(
        tracked_lpa_visits.c.round_id == event.round_id,
        tracked_lpa_visits.c.unit_code == event.unit_code)).mappings().first()
    province = (visit["province_code"] if visit else None) or ancestor_at(session, event.unit_code, PROVINCE_LEVEL)
    step = domain.lpa_returned_step(event.returned_at)
    payload = {"assessment_id": event.assessment_id, "unit_code": event.unit_code, "reason": event.reason,
               "year_be": visit["year_be"] if visit else None}
    now = clock()
    if visit and visit["lead_code"]:
        notify_recipient(uow, settings, now, message_class="lpa_returned", recipient_code=visit["lead_code"],
                         subject_ref=event.assessment_id, step=step, payload=payload)
    if province:
        notify_now(uow, settings, now, message_class="lpa_returned", unit_code=province,
                   subject_ref=event.assessment_id, step=step, payload=payload)


# Event type -> handler; ``bootstrap.event_handlers`` binds their settings and clock.
EVENT_HANDLERS = {
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
    LpaTeamFinalised.TYPE: on_lpa_team_finalised,
    LpaAssessmentReturned.TYPE: on_lpa_assessment_returned,
}
