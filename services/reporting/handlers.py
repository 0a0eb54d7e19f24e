"""Projections of reporting: every event is logged, then folded into the read models."""
from __future__ import annotations

from sqlalchemy import func, insert, select, update

from services.reporting.models import directive_summary, directive_units, event_log
from shared.contracts import Envelope
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, DeadlineMissed,
                                     DirectiveIssued, Event, IndicatorSubmitted, NotificationSent,
                                     ObligationOpened)
from shared.db import UnitOfWork
from shared.errors import not_found


def _ensure_unit_row(session, directive_id: str, unit_code: str) -> None:
    exists = session.execute(select(directive_units.c.unit_code).where(
        directive_units.c.directive_id == directive_id, directive_units.c.unit_code == unit_code)).first()
    if not exists:
        session.execute(insert(directive_units).values(directive_id=directive_id, unit_code=unit_code,
                                                       report_status="pending"))


def _set_unit(session, directive_id, unit_code, **values) -> None:
    _ensure_unit_row(session, directive_id, unit_code)
    session.execute(update(directive_units).where(
        directive_units.c.directive_id == directive_id, directive_units.c.unit_code == unit_code)
        .values(**values))


def project(session, envelope: Envelope, event: Event) -> None:
    """Fold one event into the read models (also used by rebuild)."""
    if isinstance(event, DirectiveIssued):
        if not session.execute(select(directive_summary.c.directive_id)
                               .where(directive_summary.c.directive_id == event.directive_id)).first():
            session.execute(insert(directive_summary).values(
                directive_id=event.directive_id, document_number=event.document_number,
                title_th=event.title_th, issued_at=envelope.occurred_at,
                addressee_count=event.addressee_count))
    elif isinstance(event, AssignmentCreated):
        _set_unit(session, event.directive_id, event.unit_code, assignment_id=event.assignment_id,
                  assigned_at=envelope.occurred_at)
    elif isinstance(event, AssignmentAcknowledged):
        _set_unit(session, event.directive_id, event.unit_code, acknowledged_at=event.acknowledged_at)
    elif isinstance(event, ObligationOpened) and event.directive_id:
        _set_unit(session, event.directive_id, event.unit_code, obligation_id=event.obligation_id,
                  due_at=event.due_at)
    elif isinstance(event, IndicatorSubmitted) and event.directive_id:
        _set_unit(session, event.directive_id, event.unit_code, submitted_at=event.submitted_at,
                  report_status="on_time" if event.on_time else "late")
    elif isinstance(event, DeadlineMissed) and event.directive_id:
        _ensure_unit_row(session, event.directive_id, event.unit_code)
        # A miss never overrides a submission that arrived first (events may be reordered).
        session.execute(update(directive_units).where(
            directive_units.c.directive_id == event.directive_id,
            directive_units.c.unit_code == event.unit_code,
            directive_units.c.report_status == "pending").values(
            report_status="missed", missed_at=event.detected_at))
    elif isinstance(event, NotificationSent):
        column = "reminders_sent" if event.kind == "reminder" else "escalations_sent"
        session.execute(update(directive_units).where(
            directive_units.c.obligation_id == event.subject_ref).values(
            **{column: directive_units.c[column] + 1}))


def record_and_project(event: Event, uow: UnitOfWork, envelope: Envelope) -> None:
    uow.session.execute(insert(event_log).values(
        message_id=envelope.message_id, event_type=envelope.type, occurred_at=envelope.occurred_at,
        correlation_id=envelope.correlation_id, envelope=envelope.model_dump_json()))
    project(uow.session, envelope, event)


def event_handlers(types: list[str]) -> dict:
    return {event_type: record_and_project for event_type in types}


# --- queries ----------------------------------------------------------------------------------------

def directive_compliance(session, directive_id: str, unit_codes: list[str] | None = None) -> dict:
    """On time / late / missed / pending per addressee (only ``unit_codes`` when given)."""
    summary = session.execute(select(directive_summary).where(
        directive_summary.c.directive_id == directive_id)).mappings().first()
    if summary is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    query = select(directive_units).where(directive_units.c.directive_id == directive_id)
    if unit_codes is not None:
        query = query.where(directive_units.c.unit_code.in_(unit_codes))
    units = session.execute(query.order_by(directive_units.c.unit_code)).mappings().all()
    counts = {status: 0 for status in ("pending", "on_time", "late", "missed")}
    for row in units:
        counts[row["report_status"]] += 1
    expected = len(units)
    acknowledged = sum(1 for row in units if row["acknowledged_at"])
    return {
        "directive_id": directive_id,
        "document_number": summary["document_number"],
        "title_th": summary["title_th"],
        "expected": expected,
        "counts": counts,
        "on_time_rate": round(counts["on_time"] / expected, 4) if expected else None,
        "acknowledgement_rate": round(acknowledged / expected, 4) if expected else None,
        "units": [{key: (value.isoformat() if hasattr(value, "isoformat") else value)
                   for key, value in row.items()} for row in units],
    }


def event_count(session) -> int:
    return session.execute(select(func.count()).select_from(event_log)).scalar_one()


