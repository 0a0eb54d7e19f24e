"""Notification deliveries (rm_deliveries) and the reminders and escalations counted on each
directive addressee's row. Counts add up and a delivery's facts are kept as latest/flag, so any
arrival order gives the same rows."""
from __future__ import annotations

from sqlalchemy import bindparam, case, update

from services.reporting.models import deliveries, directive_units
from services.reporting.projection.sql import execute_rounds
from shared.db import prepared


def _sent_statement(session):
    def build(ins):
        statement = ins(deliveries)
        return statement.on_conflict_do_update(index_elements=["delivery_id"], set_={
            "sent_at": statement.excluded.sent_at, "late": statement.excluded.late})
    return prepared(session, "rm:delivery_sent", build)


def _sent_params(event) -> dict:
    return {"delivery_id": event.delivery_id, "kind": event.kind, "channel": event.channel, "step": event.step,
            "recipient_code": event.recipient_code, "subject_ref": event.subject_ref, "sent_at": event.sent_at,
            "late": 1 if event.late else 0}


def _count_notifications(session, events: list) -> None:
    """Reminders and escalations sent, per obligation of a directive (counts add up in any order)."""
    counts: dict[tuple[str, str], int] = {}
    for event in events:
        column = "reminders_sent" if event.kind == "reminder" else "escalations_sent"
        counts[(column, event.subject_ref)] = counts.get((column, event.subject_ref), 0) + 1
    for column in ("reminders_sent", "escalations_sent"):
        params = [{"ref": ref, "n": n} for (name, ref), n in counts.items() if name == column]
        if params:
            session.execute(prepared(session, f"rm:count:{column}", lambda ins, column=column: update(
                directive_units).where(directive_units.c.obligation_id == bindparam("ref")).values(
                {column: directive_units.c[column] + bindparam("n")})), params)


def sent(session, items) -> None:
    """NotificationSent: the delivery (sent, late) and the count on its obligation's cascade row."""
    events = [event for _, event in items]
    execute_rounds(session, _sent_statement(session), [_sent_params(event) for event in events], "delivery_id")
    _count_notifications(session, events)


def _failed_statement(session):
    def build(ins):
        statement = ins(deliveries)
        return statement.on_conflict_do_update(index_elements=["delivery_id"], set_={
            "failed_at": statement.excluded.failed_at,
            "failed_final": case((statement.excluded.failed_final == 1, 1), else_=deliveries.c.failed_final)})
    return prepared(session, "rm:delivery_failed", build)


def _failed_params(event) -> dict:
    return {"delivery_id": event.delivery_id, "kind": event.kind, "channel": event.channel, "step": event.step,
            "recipient_code": event.recipient_code, "subject_ref": event.subject_ref, "failed_at": event.failed_at,
            "failed_final": 1 if event.final else 0}


def failed(session, items) -> None:
    """NotificationFailed: the latest failure, final once any attempt was final."""
    execute_rounds(session, _failed_statement(session), [_failed_params(event) for _, event in items],
                   "delivery_id")
