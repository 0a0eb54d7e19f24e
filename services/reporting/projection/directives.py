"""Directives and their cascade (rm_directives, rm_directive_units): one row per directive, one
per (directive, addressee) with its assignment, receipt, acknowledgement, forwarding, state and the
report of its obligation (on time, late, missed).

Every fact is kept as a min/max or a latest-by-time, so the rows converge in any arrival order.
"""
from __future__ import annotations

from sqlalchemy import bindparam, case, literal, or_

from services.reporting.models import directive_summary, directive_units
from services.reporting.projection.sql import earlier, execute_rounds, later
from shared.db import insert_new, prepared


def _directive_unit_statement(session, name: str, columns: tuple[str, ...], on_conflict):
    def build(ins):
        statement = ins(directive_units).values(
            {"directive_id": bindparam("directive_id"), "unit_code": bindparam("unit_code"),
             "report_status": literal("pending"), **{column: bindparam(column) for column in columns}})
        return statement.on_conflict_do_update(index_elements=["directive_id", "unit_code"],
                                               set_=on_conflict(statement.excluded))
    return prepared(session, f"rm:directive_unit:{name}", build)


def _directive_unit(session, name: str, directive_id: str, unit_code: str, insert_values: dict, on_conflict) -> None:
    session.execute(_directive_unit_statement(session, name, tuple(sorted(insert_values)), on_conflict),
                    {"directive_id": directive_id, "unit_code": unit_code, **insert_values})


_d = directive_units.c


def issued(session, items) -> None:
    """DirectiveIssued: the directive's row (the first event of it wins)."""
    for envelope, event in items:
        insert_new(session, directive_summary, "directive_id", {
            "directive_id": event.directive_id, "document_number": event.document_number,
            "title_th": event.title_th, "issued_at": event.issued_at or envelope.occurred_at,
            "addressee_count": event.addressee_count})


def assignment_created(session, items) -> None:
    """AssignmentCreated: an addressee's row, assigned at the earliest assignment."""
    for envelope, event in items:
        _directive_unit(session, "created", event.directive_id, event.unit_code, {
            "assignment_id": event.assignment_id, "assigned_at": event.assigned_at or envelope.occurred_at,
            "parent_assignment_id": event.parent_assignment_id},
            lambda excluded: {"assignment_id": excluded.assignment_id,
                              "assigned_at": earlier(excluded.assigned_at, _d.assigned_at),
                              "parent_assignment_id": excluded.parent_assignment_id})


def acknowledged(session, items) -> None:
    """AssignmentAcknowledged: acknowledging implies receipt (received = marked received or
    acknowledged, the earlier)."""
    for _, event in items:
        _directive_unit(session, "acknowledged", event.directive_id, event.unit_code,
                        {"acknowledged_at": event.acknowledged_at, "received_at": event.acknowledged_at},
                        lambda excluded: {"acknowledged_at": earlier(excluded.acknowledged_at, _d.acknowledged_at),
                                          "received_at": earlier(excluded.received_at, _d.received_at)})


def forwarded(session, items) -> None:
    """DirectiveForwarded: the forwarding unit's row, forwarded at the earliest."""
    for _, event in items:
        _directive_unit(session, "forwarded", event.directive_id, event.from_unit_code,
                        {"forwarded_at": event.forwarded_at},
                        lambda excluded: {"forwarded_at": earlier(excluded.forwarded_at, _d.forwarded_at)})


def state_changed(session, items) -> None:
    """AssignmentStateChanged: the latest state by time (and received at, for "received")."""
    for _, event in items:
        if event.to_state == "received":
            _directive_unit(session, "received", event.directive_id, event.unit_code, {"received_at": event.at},
                            lambda excluded: {"received_at": earlier(excluded.received_at, _d.received_at)})
        _directive_unit(session, "state", event.directive_id, event.unit_code, {"state": event.to_state,
                                                                                "state_at": event.at},
                        lambda excluded: {
                            "state": case((or_(_d.state_at.is_(None), excluded.state_at >= _d.state_at), excluded.state),
                                          else_=_d.state),
                            "state_at": later(excluded.state_at, _d.state_at)})


# --- the report of an addressee's obligation ---------------------------------------------------------

def _obligation_report(name: str, values_of, on_conflict):
    """A projector of the cascade rows of an obligation's events that belong to a directive, in
    rounds per row: (statement name, insert values, what a conflict sets)."""
    def project(session, items) -> None:
        params = [{"directive_id": event.directive_id, "unit_code": event.unit_code, **values_of(event)}
                  for _, event in items if event.directive_id]
        if params:
            columns = tuple(sorted(set(params[0]) - {"directive_id", "unit_code"}))
            execute_rounds(session, _directive_unit_statement(session, name, columns, on_conflict), params,
                           ("directive_id", "unit_code"))
    return project


# ObligationOpened: the addressee's obligation (notifications are counted by its id) and due time.
obligation_opened = _obligation_report(
    "obligation", lambda event: {"obligation_id": event.obligation_id, "due_at": event.due_at},
    lambda excluded: {"obligation_id": excluded.obligation_id, "due_at": excluded.due_at})

# IndicatorSubmitted: the latest submission decides on time or late, whichever order they arrive in.
obligation_submitted = _obligation_report(
    "submitted", lambda event: {"submitted_at": event.submitted_at,
                                "report_status": "on_time" if event.on_time else "late"},
    lambda excluded: {"submitted_at": later(excluded.submitted_at, _d.submitted_at),
                      "report_status": case(
                          (or_(_d.submitted_at.is_(None), excluded.submitted_at >= _d.submitted_at),
                           excluded.report_status), else_=_d.report_status)})

# DeadlineMissed: a miss never overrides a submission, whichever arrived first.
obligation_missed = _obligation_report(
    "missed", lambda event: {"missed_at": event.detected_at, "report_status": "missed"},
    lambda excluded: {"missed_at": excluded.missed_at,
                      "report_status": case((_d.submitted_at.is_(None), literal("missed")), else_=_d.report_status)})
