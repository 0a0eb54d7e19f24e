"""Assignments, write side: what an addressee unit does with a directive it was sent. Acknowledge
it (ลงรับ), move it through its states, declare it (not) applicable, forward it down its own
subtree, and register the document in its receipt book (ทะเบียนรับ). Use cases are
``(command, uow)``; the state machine is domain.py's (``transition``), and repeating an action
already done is a no-op without an event.
"""
from __future__ import annotations

import json
import uuid

from sqlalchemy import insert, select, update

from services.plans import domain, scope
from services.plans.document_actions import create_assignments
from services.plans.lookups import domain_units, receipt_dates, require_document, units_on
from services.plans.models import assignments, directives, documents, receipts
from shared.contracts import utcnow
from shared.contracts.commands.plans import (AcknowledgeAssignment, ChangeAssignmentState, DeclareApplicability,
                                             ForwardAssignment, RegisterReceipt, ReportingInput)
from shared.contracts.events import AssignmentAcknowledged, AssignmentStateChanged, DirectiveForwarded
from shared.db import UnitOfWork
from shared.errors import InputError, conflict, forbidden, not_found
from shared.thai import to_be_year, to_thai_digits


def own_assignment(session, assignment_id: str, unit_code: str) -> dict:
    row = session.execute(select(assignments).where(assignments.c.id == assignment_id)).mappings().first()
    if row is None:
        raise not_found("assignment_id", "ข้อสั่งการที่มอบหมาย", "assignment", assignment_id)
    if row["unit_code"] != unit_code:
        raise forbidden("unit_code", "หน่วยงานนี้ไม่ใช่ผู้รับข้อสั่งการ", "this unit is not the addressee of the assignment")
    return dict(row)


def acknowledge_assignment(command: AcknowledgeAssignment, uow: UnitOfWork) -> dict:
    row = own_assignment(uow.session, command.assignment_id, command.unit_code)
    new_state = domain.acknowledge(row["state"])
    if new_state is None:
        return {"assignment_id": row["id"], "state": row["state"], "changed": False}
    acknowledged_at = command.acknowledged_at or utcnow()
    number = domain.normalize_receipt_number(command.receipt_number) if command.receipt_number else None
    uow.session.execute(update(assignments).where(assignments.c.id == row["id"]).values(
        state=new_state, acknowledged_at=acknowledged_at,
        # received = marked received or acknowledged, whichever came first (shared/cascade.py)
        received_at=min(row["received_at"], acknowledged_at) if row["received_at"] else acknowledged_at,
        receipt_number=number or row["receipt_number"]))
    uow.add_event(AssignmentAcknowledged(
        assignment_id=row["id"], directive_id=row["directive_id"], unit_code=row["unit_code"],
        acknowledged_at=acknowledged_at, receipt_number=number))
    return {"assignment_id": row["id"], "state": str(new_state), "changed": True}


def _move(uow: UnitOfWork, row: dict, target: domain.AssignmentState, note: str | None = None,
          **values) -> dict:
    new_state = domain.transition(row["state"], target)
    if new_state is None:
        return {"assignment_id": row["id"], "state": row["state"], "changed": False}
    now = utcnow()
    timestamps = {domain.S.RECEIVED: "received_at", domain.S.CLOSED: "closed_at"}
    if target in timestamps:
        values[timestamps[target]] = now
    uow.session.execute(update(assignments).where(assignments.c.id == row["id"]).values(state=new_state, **values))
    uow.add_event(AssignmentStateChanged(assignment_id=row["id"], directive_id=row["directive_id"],
                                         unit_code=row["unit_code"], from_state=row["state"],
                                         to_state=str(new_state), at=now, note=note))
    return {"assignment_id": row["id"], "state": str(new_state), "changed": True}


def change_assignment_state(command: ChangeAssignmentState, uow: UnitOfWork) -> dict:
    row = own_assignment(uow.session, command.assignment_id, command.unit_code)
    return _move(uow, row, domain.AssignmentState(command.to_state), command.note)


def declare_applicability(command: DeclareApplicability, uow: UnitOfWork) -> dict:
    row = own_assignment(uow.session, command.assignment_id, command.unit_code)
    if not command.applicable:
        return _move(uow, row, domain.S.NOT_APPLICABLE, command.note, applicable=False,
                     applicability_note=command.note)
    if row["applicable"] is True:
        return {"assignment_id": row["id"], "state": row["state"], "changed": False}
    uow.session.execute(update(assignments).where(assignments.c.id == row["id"]).values(
        applicable=True, applicability_note=command.note))
    uow.add_event(AssignmentStateChanged(assignment_id=row["id"], directive_id=row["directive_id"],
                                         unit_code=row["unit_code"], from_state=row["state"],
                                         to_state=row["state"], at=utcnow(), note="declared applicable"))
    return {"assignment_id": row["id"], "state": row["state"], "changed": True}


def forward_assignment(command: ForwardAssignment, uow: UnitOfWork) -> dict:
    """Pass a directive down: child assignments for units inside the forwarding unit's subtree."""
    session = uow.session
    row = own_assignment(session, command.assignment_id, command.unit_code)
    domain.check_may_forward(row["state"])
    current = units_on(session)
    units = domain_units(current)
    codes = domain.resolve_addressees(command.addressees.model_dump(exclude_none=True), units)
    domain.check_forwarding(command.unit_code, codes, units)
    already = set(session.execute(select(assignments.c.unit_code).where(
        assignments.c.directive_id == row["directive_id"], assignments.c.unit_code.in_(codes))).scalars())
    new_codes = [code for code in codes if code not in already]
    if not new_codes:
        return {"assignment_id": row["id"], "child_assignment_ids": [], "already_assigned": sorted(already)}
    directive = dict(session.execute(select(directives).where(directives.c.id == row["directive_id"])).mappings().one())
    document = require_document(session, directive["document_id"], "document_id")
    # An issued directive is forwarded as it was issued, even if stored before periods were checked.
    reporting = (ReportingInput.model_validate_json(directive["reporting"], context={"stored": True})
                 if directive["reporting"] else None)
    reporters = set(domain.reporting_units(new_codes, reporting.reporting_level, units)) if reporting else set()
    reporters &= set(new_codes)
    now = utcnow()
    child_ids = create_assignments(uow, directive, document, new_codes, current, parent_assignment_id=row["id"],
                                   acknowledge_due_at=command.acknowledge_due_at or directive["acknowledge_due_at"],
                                   reporting=reporting, reporters=reporters, now=now)
    if row["state"] != domain.S.FORWARDED:
        session.execute(update(assignments).where(assignments.c.id == row["id"]).values(
            state=domain.S.FORWARDED, forwarded_at=row["forwarded_at"] or now))
    uow.add_event(DirectiveForwarded(directive_id=row["directive_id"], from_assignment_id=row["id"],
                                     from_unit_code=row["unit_code"], child_assignment_ids=child_ids,
                                     unit_codes=new_codes, forwarded_at=now))
    return {"assignment_id": row["id"], "child_assignment_ids": child_ids, "already_assigned": sorted(already)}


def register_receipt(command: RegisterReceipt, uow: UnitOfWork, *, actor: domain.Actor | dict | None = None) -> dict:
    """ลงทะเบียนรับ. Receipt numbers are unique per unit per calendar year, whether typed with Thai
    or Arabic digits (stored with Arabic ones); a document may be registered by several units
    (seed 004: DLA 296, its secretariat 15, a section 002). A unit registers only for itself (central
    for any unit) and only a document it can see."""
    session = uow.session
    if actor is not None:
        actor = domain.Actor.of(actor)
        domain.check_may_register_receipt(actor, command.unit_code)
    if command.unit_code not in units_on(session):
        raise InputError("unknown_unit", "unit_code", f"ไม่พบหน่วยงาน {command.unit_code}",
                         f"unknown unit {command.unit_code}", status=422)
    if actor is not None and not actor.central:
        scope.check_visible(session, command.document_id, scope.subtree_codes(session, actor.org_code))
    require_document(session, command.document_id, "document_id")
    year_be = to_be_year(command.received_on.year)
    number = domain.normalize_receipt_number(command.receipt_no)
    taken = session.execute(select(receipts.c.id).where(
        receipts.c.unit_code == command.unit_code, receipts.c.register_year_be == year_be,
        receipts.c.receipt_no.in_({number, to_thai_digits(number)}))).first()  # Thai-digit rows of old
    if taken:
        raise conflict("receipt_no", f"เลขรับ {number} ของปี {year_be} ถูกใช้แล้วในหน่วยงานนี้",
                       f"receipt number {number} of {year_be} is already used by this unit")
    if command.routed_from_receipt_id and not session.execute(
            select(receipts.c.id).where(receipts.c.id == command.routed_from_receipt_id)).first():
        raise not_found("routed_from_receipt_id", "ทะเบียนรับต้นทาง", "receipt", command.routed_from_receipt_id)
    receipt_id = str(uuid.uuid4())
    session.execute(insert(receipts).values(
        id=receipt_id, unit_code=command.unit_code, document_id=command.document_id,
        assignment_id=command.assignment_id, receipt_no=number, register_year_be=year_be,
        received_on=command.received_on,
        received_time=domain.normalize_received_time(command.received_time),
        channel=command.channel, routed_from_receipt_id=command.routed_from_receipt_id, created_at=utcnow()))
    result = {"receipt_id": receipt_id, "register_year_be": year_be}
    if command.assignment_id:
        row = own_assignment(session, command.assignment_id, command.unit_code)
        result["assignment"] = _move(uow, row, domain.S.RECEIVED, f"receipt {number}", receipt_number=number)
    # A forwarding memo recorded earlier may now turn out to be dated before this receipt.
    for forwarding in session.execute(select(documents).where(
            documents.c.forwards_document_id == command.document_id)).mappings().all():
        anomalies = json.loads(forwarding["anomalies"])
        anomaly = domain.forwarded_before_received(forwarding["document_date"],
                                                   receipt_dates(session, command.document_id))
        if anomaly and not any(a["code"] == anomaly["code"] for a in anomalies):
            session.execute(update(documents).where(documents.c.id == forwarding["id"]).values(
                anomalies=json.dumps(anomalies + [anomaly], ensure_ascii=False)))
    return result
