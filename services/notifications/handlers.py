"""Use cases of notifications: keep recipients and obligations, plan steps, deliver them once."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, func, insert, select, update

from services.notifications import domain
from services.notifications.channels import ChannelError
from services.notifications.models import (deliveries, recipients, scheduled_messages,
                                           tracked_obligations)
from services.notifications.rendering import render
from shared.contracts import Envelope, utcnow
from shared.contracts.events import (DeadlineMissed, IndicatorSubmitted, NotificationFailed,
                                     NotificationSent, ObligationOpened, OrgUnitChanged)
from shared.db import Database, UnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Settings:
    reminder_ladder: list[str] = field(default_factory=lambda: ["-P7D", "-P3D", "-P1D", "MORNING"])
    escalation_ladder: list[tuple[str, timedelta]] = field(default_factory=lambda: [
        ("lao_head", timedelta(days=1)), ("district", timedelta(days=3)), ("province", timedelta(days=7))])
    public_url: str = "http://127.0.0.1:8000"
    max_attempts: int = 5
    claim_lease: timedelta = timedelta(minutes=10)


# --- events ---------------------------------------------------------------------------------------

def _upsert(session, table, key: dict, values: dict) -> None:
    where = and_(*(table.c[name] == value for name, value in key.items()))
    if session.execute(select(*(table.c[name] for name in key)).where(where)).first():
        session.execute(update(table).where(where).values(**values))
    else:
        session.execute(insert(table).values(**key, **values))


def on_org_unit_changed(event: OrgUnitChanged, uow: UnitOfWork, envelope: Envelope) -> None:
    _upsert(uow.session, recipients, {"code": event.code},
            {"level": event.level, "parent_code": event.parent_code, "name_th": event.name_th,
             "email": event.contact_email})


def _schedule(uow: UnitOfWork, *, kind: str, recipient_code: str, subject_ref: str, step: str,
              due_at: datetime, status: str = "scheduled", late: bool = False,
              reason: str | None = None) -> bool:
    """Insert a message unless its (recipient, subject, step) already exists. True if new."""
    key = f"{recipient_code}|{subject_ref}|{step}"
    if uow.session.execute(select(scheduled_messages.c.id)
                           .where(scheduled_messages.c.dedupe_key == key)).first():
        return False
    uow.session.execute(insert(scheduled_messages).values(
        id=str(uuid.uuid4()), dedupe_key=key, kind=kind, recipient_code=recipient_code,
        subject_ref=subject_ref, step=step, due_at=due_at, status=status, status_reason=reason,
        late=late, attempts=0, correlation_id=uow.correlation_id, created_at=utcnow()))
    return True


def group_key(directive_id: str | None, indicator_code: str, period: str) -> str:
    return f"{directive_id or '-'}:{indicator_code}:{period}"


def make_event_handlers(settings: Settings, clock=utcnow) -> dict:
    def on_obligation_opened(event: ObligationOpened, uow: UnitOfWork, envelope: Envelope) -> None:
        _upsert(uow.session, tracked_obligations, {"obligation_id": event.obligation_id}, {
            "unit_code": event.unit_code, "directive_id": event.directive_id,
            "indicator_code": event.indicator_code, "indicator_name_th": event.indicator_name_th,
            "period": event.period,
            "group_key": group_key(event.directive_id, event.indicator_code, event.period),
            "due_at": event.due_at, "state": "open"})
        steps = domain.reminder_steps(settings.reminder_ladder, event.due_at)
        for planned in domain.plan_reminders(steps, clock()):
            _schedule(uow, kind="reminder", recipient_code=event.unit_code,
                      subject_ref=event.obligation_id, step=planned.step.name, due_at=planned.step.at,
                      status=planned.status, late=planned.late, reason=planned.reason)

    def on_indicator_submitted(event: IndicatorSubmitted, uow: UnitOfWork, envelope: Envelope) -> None:
        uow.session.execute(update(tracked_obligations)
                            .where(tracked_obligations.c.obligation_id == event.obligation_id)
                            .values(state="submitted"))
        # The rest of the ladder is pointless now (digests re-check at send time).
        uow.session.execute(update(scheduled_messages).where(
            scheduled_messages.c.subject_ref == event.obligation_id,
            scheduled_messages.c.status == "scheduled").values(
            status="cancelled", status_reason="submitted"))

    def on_deadline_missed(event: DeadlineMissed, uow: UnitOfWork, envelope: Envelope) -> None:
        session = uow.session
        session.execute(update(tracked_obligations)
                        .where(tracked_obligations.c.obligation_id == event.obligation_id)
                        .values(state="missed"))
        session.execute(update(scheduled_messages).where(
            scheduled_messages.c.subject_ref == event.obligation_id,
            scheduled_messages.c.kind == "reminder",
            scheduled_messages.c.status == "scheduled").values(
            status="skipped", status_reason="deadline passed"))
        unit = session.execute(select(recipients).where(recipients.c.code == event.unit_code)
                               ).mappings().first()
        district = unit["parent_code"] if unit else None
        province = None
        if district:
            parent = session.execute(select(recipients.c.parent_code)
                                     .where(recipients.c.code == district)).first()
            province = parent[0] if parent else None
        group = group_key(event.directive_id, event.indicator_code, event.period)
        for level, offset in settings.escalation_ladder:
            at = max(event.due_at + offset, clock())
            if level == "lao_head":
                _schedule(uow, kind="escalation", recipient_code=event.unit_code,
                          subject_ref=event.obligation_id, step="escalation:lao_head", due_at=at)
            elif level == "district" and district:
                _schedule(uow, kind="escalation", recipient_code=district, subject_ref=group,
                          step="escalation:district", due_at=at)
            elif level == "province" and province:
                _schedule(uow, kind="escalation", recipient_code=province, subject_ref=group,
                          step="escalation:province", due_at=at)

    return {
        OrgUnitChanged.TYPE: on_org_unit_changed,
        ObligationOpened.TYPE: on_obligation_opened,
        IndicatorSubmitted.TYPE: on_indicator_submitted,
        DeadlineMissed.TYPE: on_deadline_missed,
    }


# --- the scheduler ---------------------------------------------------------------------------------

def claim_due(database: Database, now: datetime, settings: Settings, limit: int = 200) -> list[dict]:
    """Move due messages to 'sending' in their own transaction, so no other worker or replica
    takes them. A claim older than the lease means a crash mid-send: the outcome is unknown,
    so it is marked 'uncertain' rather than sent again."""
    with database.unit_of_work() as uow:
        uow.session.execute(update(scheduled_messages).where(
            scheduled_messages.c.status == "sending",
            scheduled_messages.c.claimed_at < now - settings.claim_lease).values(
            status="uncertain", status_reason="claimed but never confirmed (crash during send?)"))
        rows = uow.session.execute(
            select(scheduled_messages)
            .where(scheduled_messages.c.status == "scheduled", scheduled_messages.c.due_at <= now)
            .order_by(scheduled_messages.c.due_at).limit(limit)
            .with_for_update(skip_locked=True)).mappings().all()
        claimed = []
        for row in rows:
            changed = uow.session.execute(update(scheduled_messages).where(
                scheduled_messages.c.id == row["id"], scheduled_messages.c.status == "scheduled")
                .values(status="sending", claimed_at=now, attempts=scheduled_messages.c.attempts + 1)
            ).rowcount
            if changed:
                claimed.append(dict(row))
        uow.commit()
    return claimed


def _compose(session, message: dict, settings: Settings) -> tuple[str, str, str] | str:
    """(address, subject, body) to send, or the reason the message is no longer relevant."""
    recipient = session.execute(select(recipients).where(recipients.c.code == message["recipient_code"])
                                ).mappings().first()
    if recipient is None or not recipient["email"]:
        return "recipient has no e-mail address"
    link = f"{settings.public_url}/"
    if message["kind"] == "reminder" or message["step"] == "escalation:lao_head":
        obligation = session.execute(select(tracked_obligations).where(
            tracked_obligations.c.obligation_id == message["subject_ref"])).mappings().first()
        if obligation is None:
            return "obligation unknown"
        wanted = "open" if message["kind"] == "reminder" else "missed"
        if obligation["state"] != wanted:
            return f"obligation is {obligation['state']}"
        template = "reminder" if message["kind"] == "reminder" else "escalation_lao"
        subject, body = render(template, recipient_name_th=recipient["name_th"], link=link,
                               indicator_name_th=obligation["indicator_name_th"],
                               indicator_code=obligation["indicator_code"], period=obligation["period"],
                               due_at=obligation["due_at"], document_number=None)
        return recipient["email"], subject, body
    # A digest for a district or province: who below it has still not reported?
    below = select(recipients.c.code).where(recipients.c.parent_code == recipient["code"])
    if message["step"] == "escalation:province":
        below = select(recipients.c.code).where(recipients.c.parent_code.in_(below))
    group = session.execute(
        select(tracked_obligations, recipients.c.name_th.label("unit_name_th"))
        .join(recipients, recipients.c.code == tracked_obligations.c.unit_code)
        .where(tracked_obligations.c.group_key == message["subject_ref"],
               tracked_obligations.c.unit_code.in_(below))
        .order_by(tracked_obligations.c.unit_code)).mappings().all()
    missing = [row for row in group if row["state"] == "missed"]
    if not missing:
        return "every unit has reported"
    line_th, line_en = domain.digest_line(len(missing), len(group))
    first = group[0]
    subject, body = render("escalation_digest", recipient_name_th=recipient["name_th"], link=link,
                           line_th=line_th, line_en=line_en,
                           indicator_name_th=first["indicator_name_th"],
                           indicator_code=first["indicator_code"], period=first["period"],
                           due_at=first["due_at"],
                           missing_units=[{"code": r["unit_code"], "name_th": r["unit_name_th"]}
                                          for r in missing])
    return recipient["email"], subject, body


def deliver(database: Database, channel, message: dict, settings: Settings, now: datetime) -> str:
    """Send one claimed message and record the outcome with its event. Returns the new status."""
    with database.session() as session:
        composed = _compose(session, message, settings)
    if isinstance(composed, str):
        with database.unit_of_work() as uow:
            uow.session.execute(update(scheduled_messages).where(scheduled_messages.c.id == message["id"])
                                .values(status="skipped", status_reason=composed))
            uow.commit()
        return "skipped"
    address, subject, body = composed
    error = None
    try:
        channel.send(address, subject, body, idempotency_key=message["dedupe_key"])
    except ChannelError as exc:
        error = exc
    with database.unit_of_work(correlation_id=message["correlation_id"]) as uow:
        uow.session.execute(insert(deliveries).values(
            id=str(uuid.uuid4()), message_id=message["id"], channel=channel.name, address=address,
            status="failed" if error else "sent", error=str(error) if error else None,
            subject=subject, body=body, attempted_at=utcnow()))
        if error is None:
            status = "sent"
            uow.session.execute(update(scheduled_messages).where(scheduled_messages.c.id == message["id"])
                                .values(status=status, sent_at=now))
            uow.add_event(NotificationSent(
                delivery_id=message["id"], kind=message["kind"], channel=channel.name,
                recipient_code=message["recipient_code"], address=address,
                subject_ref=message["subject_ref"], step=message["step"], sent_at=now,
                late=bool(message["late"])))
        else:
            final = error.permanent or message["attempts"] >= settings.max_attempts
            status = "failed" if final else "scheduled"
            retry_at = now + timedelta(seconds=30 * 2 ** (message["attempts"] - 1))
            uow.session.execute(update(scheduled_messages).where(scheduled_messages.c.id == message["id"])
                                .values(status=status, status_reason=str(error),
                                        due_at=message["due_at"] if final else retry_at))
            uow.add_event(NotificationFailed(
                delivery_id=message["id"], kind=message["kind"], channel=channel.name,
                recipient_code=message["recipient_code"], subject_ref=message["subject_ref"],
                step=message["step"], failed_at=now, reason=str(error)[:500], final=final))
        uow.commit()
    log.info("notification_" + status, message_id=message["id"], step=message["step"],
             recipient=message["recipient_code"])
    return status


def dispatch_due(database: Database, channel, settings: Settings, now: datetime | None = None) -> dict:
    now = now or utcnow()
    outcome: dict[str, int] = {}
    for message in claim_due(database, now, settings):
        status = deliver(database, channel, message, settings, now)
        outcome[status] = outcome.get(status, 0) + 1
    return outcome


# --- queries ----------------------------------------------------------------------------------------

def message_counts(session) -> dict:
    rows = session.execute(select(scheduled_messages.c.kind, scheduled_messages.c.status, func.count())
                           .group_by(scheduled_messages.c.kind, scheduled_messages.c.status)).all()
    return {f"{kind}:{status}": count for kind, status, count in rows}
