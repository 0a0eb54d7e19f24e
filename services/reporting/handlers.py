"""Projections of reporting: every event is logged, then folded into the read models."""
from __future__ import annotations

from sqlalchemy import func, insert, select

from services.reporting import domain, projection
from services.reporting.models import directive_summary, directive_units, event_log, obligations
from services.reporting.queries import (achievement_report, cascade, compliance, compliance_matrix,  # noqa: F401
                                        known_periods, notification_effectiveness, overdue)
from shared.contracts import Envelope, utcnow
from shared.contracts.events import Event
from shared.db import UnitOfWork
from shared.errors import not_found
from shared.messaging.inbox import handles_many


def project(session, envelope: Envelope, event: Event) -> None:
    """Fold one event into the read models (also used by rebuild)."""
    projection.project(session, envelope, event)


_LOG_INSERT = insert(event_log)


def log_row(envelope: Envelope) -> dict:
    return {"message_id": envelope.message_id, "event_type": envelope.type, "occurred_at": envelope.occurred_at,
            "correlation_id": envelope.correlation_id, "envelope": envelope.model_dump_json()}


def record_and_project_many(uow: UnitOfWork, items: list[tuple[Envelope, Event]]) -> None:
    """Many events in one go (a consumer's batch, bulk loads): the log rows in one executemany, the
    read models through projection.project_many (the rows record_and_project gives one at a time)."""
    if items:
        uow.session.execute(_LOG_INSERT, [log_row(envelope) for envelope, _ in items])
        projection.project_many(uow.session, items)


@handles_many(record_and_project_many)
def record_and_project(event: Event, uow: UnitOfWork, envelope: Envelope) -> None:
    """Keep the event (rebuild replays the log) and fold it into the read models; never commits."""
    uow.session.execute(_LOG_INSERT, log_row(envelope))
    projection.project(uow.session, envelope, event)


def event_handlers(types: list[str]) -> dict:
    return {event_type: record_and_project for event_type in types}


# --- queries ----------------------------------------------------------------------------------------

def directive_compliance(session, directive_id: str, unit_codes: list[str] | None = None, now=None) -> dict:
    """On time / late / missed / pending per addressee (only ``unit_codes`` when given); the report
    status is the obligation's status at ``now`` (``domain.status_at``, as on every dashboard): an
    addressee whose report is not yet due is pending, never missed, and the on-time rate counts only
    reports due or submitted."""
    summary = session.execute(select(directive_summary).where(
        directive_summary.c.directive_id == directive_id)).mappings().first()
    if summary is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    now = now or utcnow()
    o = obligations.c
    query = (select(directive_units, o.status.label("obligation_status"), o.extended_due_at)
             .select_from(directive_units.outerjoin(obligations, o.obligation_id == directive_units.c.obligation_id))
             .where(directive_units.c.directive_id == directive_id))
    if unit_codes is not None:
        query = query.where(directive_units.c.unit_code.in_(unit_codes))
    units = []
    for row in session.execute(query.order_by(directive_units.c.unit_code)).mappings().all():
        row = dict(row)
        stored, extended_due_at = row.pop("obligation_status"), row.pop("extended_due_at")
        if stored is not None and stored != "cancelled":
            status = domain.status_at(stored, row["due_at"], extended_due_at, now)
            row["report_status"] = "missed" if status == "missing" else status
        units.append(row)
    counts = {status: 0 for status in ("pending", "on_time", "late", "missed", "returned")}
    for row in units:
        counts[row["report_status"]] += 1
    expected = len(units)
    due = counts["on_time"] + counts["late"] + counts["missed"] + counts["returned"]
    acknowledged = sum(1 for row in units if row["acknowledged_at"])
    return {
        "directive_id": directive_id,
        "document_number": summary["document_number"],
        "title_th": summary["title_th"],
        "expected": expected,
        "due": due,
        "counts": counts,
        "on_time_rate": domain.rate(counts["on_time"], due),
        "acknowledgement_rate": domain.rate(acknowledged, expected),
        "units": [{key: (value.isoformat() if hasattr(value, "isoformat") else value)
                   for key, value in row.items()} for row in units],
    }


def event_count(session) -> int:
    return session.execute(select(func.count()).select_from(event_log)).scalar_one()


