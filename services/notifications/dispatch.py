"""Dispatch: deliver each due message at most once (exactly once on idempotent channels).

Sending follows claim -> send -> record:
  claim   one transaction: take due messages, decide (still relevant? allowed now? digest or cap?),
          choose the channel, render (compose.py), mark them ``sending`` with an attempt row in the
          ledger;
  send    outside any transaction, concurrently (bounded), through the channel adapters;
  record  one transaction: the outcome of every attempt, the in-app items, the events.
A ``sending`` claim that is never recorded (the process died) is, after a lease, either repeated
with the same provider idempotency key (idempotent channels) or marked ``uncertain`` and never
repeated (e-mail, SMS without idempotency). See docs/notifications.md.

``dispatch_due`` runs the three in a loop; the service's timer and ``dispatch_now`` call it with
the settings and channels ``bootstrap`` built. The rules it applies (relevance, windows, digests,
retries, fallback order) are ``domain``'s.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import and_, bindparam, insert, or_, select, update

from services.notifications import domain
from services.notifications.audience import SM
from services.notifications.channels import ChannelError, Channels, SendResult, provider_key
from services.notifications.compose import Context, base_facts, compose, relevance
from services.notifications.models import deliveries, inbox_items
from services.notifications.rendering import Rendered, render
from services.notifications.settings import Settings
from shared.contracts import utcnow
from shared.contracts.events import NotificationFailed, NotificationSent
from shared.db import Database, UnitOfWork, prepared
from shared.observability import metrics
from shared.thai import BANGKOK

log = structlog.get_logger(__name__)


# --- claim ------------------------------------------------------------------------------------------

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
    superseded = domain.superseded_steps((row.id, (row.recipient_code, row.subject_ref, row.kind), row.nominal_at)
                                         for row in due)
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
            ctx = Context(session, rows, now, settings)
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


def _decide(uow: UnitOfWork, ctx: Context, channels: Channels, row: dict) -> tuple[str, Job | None]:
    session, now, settings = uow.session, ctx.now, ctx.settings
    recipient = ctx.recipients.get(row["recipient_code"])
    why_not = domain.why_not_to(recipient, row["kind"], now) or relevance(ctx, row)
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
        digested = domain.digest_reason(row["kind"], recipient["digest"], ctx.sent_today[recipient["code"]],
                                        settings.daily_cap)
        if digested:
            digest_id = _ensure_digest(uow, recipient, settings, now)
            _set(session, row, status="digested", digest_id=digest_id, status_reason=digested)
            return "digested", None
        rendered = compose(ctx, row, recipient)
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


def _compose_daily_digest(uow: UnitOfWork, ctx: Context, row: dict, recipient: dict):
    session = uow.session
    items = [dict(r) for r in session.execute(select(SM).where(
        SM.c.digest_id == row["id"], SM.c.status == "digested").order_by(SM.c.nominal_at)).mappings()]
    ctx.extend(items)
    included = []
    for item in items:
        why_not = relevance(ctx, item)
        rendered = compose(ctx, item, recipient) if why_not is None else why_not
        if isinstance(rendered, str):
            _set(session, item, expect="digested", status="skipped",
                 status_reason=f"{rendered} (before the digest went)")
            continue
        included.append((item, rendered))
    if not included:
        return "nothing left for the digest"
    day = row["subject_ref"].split(":", 1)[1]
    rendered = render("digest", **base_facts(recipient),
                      day=date.fromisoformat(day), link=ctx.settings.link("me/notification-preferences"),
                      items=[{"subject": r.subject, "link": r.link} for _, r in included])
    return rendered, [item for item, _ in included]


# --- send and record ----------------------------------------------------------------------------

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


