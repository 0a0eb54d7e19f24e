"""Use cases of the plans service: (command, unit of work) -> result; events go to the outbox."""
from __future__ import annotations

import json
import uuid
from datetime import date

from sqlalchemy import insert, select, update

from services.plans import domain
from services.plans.commands import AcknowledgeAssignment, IssueDirective, RegisterUnits
from services.plans.models import assignments, directives, documents, org_units
from shared.contracts import utcnow
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, DirectiveIssued,
                                     OrgUnitChanged, ReportingRequirement)
from shared.db import UnitOfWork
from shared.errors import InputError, forbidden, not_found

UNIT_FIELDS = ("level", "lao_type", "parent_code", "name_th", "name_en", "province_code",
               "district_code", "subdistrict_code", "contact_email", "valid_to")


def _current_units(session) -> dict[str, dict]:
    rows = session.execute(select(org_units).where(org_units.c.valid_to.is_(None))).mappings()
    return {row["code"]: dict(row) for row in rows}


def register_units(uow: UnitOfWork, command: RegisterUnits) -> dict:
    """Create or update units; a change closes the current version and opens a new one."""
    current = _current_units(uow.session)
    known = set(current) | {unit.code for unit in command.units}
    for unit in command.units:
        if unit.parent_code and unit.parent_code not in known:
            raise InputError("unknown_unit", "units.parent_code", f"ไม่พบหน่วยงานแม่ {unit.parent_code}",
                             f"unknown parent unit {unit.parent_code} of {unit.code}", status=422)
    counts = {"created": 0, "changed": 0, "unchanged": 0}
    new_rows = []
    for unit in command.units:
        values = unit.model_dump()
        existing = current.get(unit.code)
        if existing and all(existing[f] == values[f] for f in UNIT_FIELDS):
            counts["unchanged"] += 1
            continue
        if existing is None:
            counts["created"] += 1
        else:
            counts["changed"] += 1
            today = date.today()
            if existing["valid_from"] >= today:
                uow.session.execute(update(org_units).where(org_units.c.id == existing["id"])
                                    .values(**{f: values[f] for f in UNIT_FIELDS}))
                uow.add_event(OrgUnitChanged(**{**values, "valid_from": existing["valid_from"]}))
                continue
            uow.session.execute(update(org_units).where(org_units.c.id == existing["id"])
                                .values(valid_to=today))
            values["valid_from"] = today
        new_rows.append(values)
        uow.add_event(OrgUnitChanged(**values))
    if new_rows:
        uow.session.execute(insert(org_units), new_rows)
    return counts


def issue_directive(uow: UnitOfWork, command: IssueDirective) -> dict:
    session = uow.session
    units = [domain.Unit(code=row["code"], level=row["level"], parent_code=row["parent_code"],
                         lao_type=row["lao_type"]) for row in _current_units(session).values()]
    if command.issuer_code not in {unit.code for unit in units}:
        raise InputError("unknown_unit", "issuer_code", f"ไม่พบหน่วยงานผู้ออกคำสั่ง {command.issuer_code}",
                         f"unknown issuing unit {command.issuer_code}", status=422)
    addressee_codes = domain.resolve_addressees(command.addressees.model_dump(exclude_none=True), units)
    now = utcnow()
    document_id, directive_id = str(uuid.uuid4()), str(uuid.uuid4())
    reporting = (ReportingRequirement(**command.reporting.model_dump())
                 if command.reporting else None)
    session.execute(insert(documents).values(
        id=document_id, number_printed=command.document_number, document_date=command.document_date,
        urgency=command.urgency, subject_th=command.subject_th, sender_code=command.issuer_code,
        created_at=now))
    session.execute(insert(directives).values(
        id=directive_id, document_id=document_id, kind=command.kind, text_th=command.text_th,
        issuer_code=command.issuer_code,
        addressees=json.dumps(command.addressees.model_dump(exclude_none=True), ensure_ascii=False),
        acknowledge_due_at=command.acknowledge_due_at,
        reporting=reporting.model_dump_json() if reporting else None,
        issued_at=now, correlation_id=uow.correlation_id))
    uow.add_event(DirectiveIssued(
        directive_id=directive_id, document_number=command.document_number,
        title_th=command.subject_th, urgency=command.urgency, issuer_code=command.issuer_code,
        addressee_count=len(addressee_codes), acknowledge_due_at=command.acknowledge_due_at,
        reporting=reporting))
    rows = []
    for code in addressee_codes:
        assignment_id = str(uuid.uuid4())
        rows.append({"id": assignment_id, "directive_id": directive_id, "unit_code": code,
                     "parent_assignment_id": None, "state": domain.AssignmentState.ISSUED,
                     "created_at": now})
        uow.add_event(AssignmentCreated(
            assignment_id=assignment_id, directive_id=directive_id,
            document_number=command.document_number, title_th=command.subject_th, unit_code=code,
            acknowledge_due_at=command.acknowledge_due_at, reporting=reporting))
    session.execute(insert(assignments), rows)
    return {"directive_id": directive_id, "document_id": document_id,
            "assignment_count": len(rows)}


def acknowledge_assignment(uow: UnitOfWork, command: AcknowledgeAssignment) -> dict:
    row = uow.session.execute(select(assignments).where(assignments.c.id == command.assignment_id)
                              ).mappings().first()
    if row is None:
        raise not_found("assignment_id", "ข้อสั่งการที่มอบหมาย", "assignment", command.assignment_id)
    if row["unit_code"] != command.unit_code:
        raise forbidden("unit_code", "หน่วยงานนี้ไม่ใช่ผู้รับข้อสั่งการ",
                        "this unit is not the addressee of the assignment")
    new_state = domain.acknowledge(row["state"])
    if new_state is None:
        return {"assignment_id": row["id"], "state": row["state"], "changed": False}
    acknowledged_at = command.acknowledged_at or utcnow()
    uow.session.execute(update(assignments).where(assignments.c.id == row["id"]).values(
        state=new_state, acknowledged_at=acknowledged_at, receipt_number=command.receipt_number))
    uow.add_event(AssignmentAcknowledged(
        assignment_id=row["id"], directive_id=row["directive_id"], unit_code=row["unit_code"],
        acknowledged_at=acknowledged_at, receipt_number=command.receipt_number))
    return {"assignment_id": row["id"], "state": str(new_state), "changed": True}


# --- queries ------------------------------------------------------------------------------------

def get_directive(session, directive_id: str) -> dict:
    row = session.execute(
        select(directives, documents.c.number_printed, documents.c.subject_th, documents.c.urgency,
               documents.c.document_date)
        .join(documents, documents.c.id == directives.c.document_id)
        .where(directives.c.id == directive_id)).mappings().first()
    if row is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    items = session.execute(select(assignments).where(assignments.c.directive_id == directive_id)
                            .order_by(assignments.c.unit_code)).mappings().all()
    return {
        "id": row["id"], "document_number": row["number_printed"], "subject_th": row["subject_th"],
        "urgency": row["urgency"], "document_date": row["document_date"].isoformat(),
        "kind": row["kind"], "text_th": row["text_th"], "issuer_code": row["issuer_code"],
        "addressees": json.loads(row["addressees"]),
        "reporting": json.loads(row["reporting"]) if row["reporting"] else None,
        "issued_at": row["issued_at"].isoformat(),
        "assignments": [{"id": a["id"], "unit_code": a["unit_code"], "state": a["state"],
                         "acknowledged_at": a["acknowledged_at"].isoformat() if a["acknowledged_at"] else None,
                         "receipt_number": a["receipt_number"]} for a in items],
    }


def list_units(session, *, parent_code: str | None = None, level: str | None = None,
               limit: int = 100, offset: int = 0) -> list[dict]:
    query = select(org_units).where(org_units.c.valid_to.is_(None))
    if parent_code:
        query = query.where(org_units.c.parent_code == parent_code)
    if level:
        query = query.where(org_units.c.level == level)
    rows = session.execute(query.order_by(org_units.c.code).limit(limit).offset(offset)).mappings()
    return [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items() if k != "id"}
            for row in rows]
