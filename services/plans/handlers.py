"""Use cases of the plans service: (command, unit of work) -> result; events go to the outbox."""
from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
import uuid
from datetime import date, datetime
from typing import get_args

from pydantic import ValidationError
from sqlalchemy import case, func, insert, or_, select, update

from services.plans import domain, unit_changes
from shared.contracts.commands.plans import (AcknowledgeAssignment, AddAttachment, ChangeAssignmentState,
                                     DeclareApplicability, DirectiveItemInput, ForwardAssignment,
                                     IssueDirective, IssueDocument, LaoType, Level, OrgUnitInput, RecordDocument,
                                     RegisterReceipt, RegisterUnits, ReportingInput)
from services.plans.models import (assignments, attachments, directives, documents, org_units,
                                   receipts, reported_periods, reporting_rules)
from shared import cascade as cascade_figures
from shared.calendar import period_bounds
from shared.contracts import Envelope, utcnow
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, AssignmentStateChanged,
                                     DirectiveForwarded, DirectiveIssued, IndicatorSpec, IndicatorSubmitted,
                                     ReportingRequirement, ReportingRulePublished)
from shared.db import UnitOfWork
from shared.errors import InputError, conflict, forbidden, invalid, not_found
from shared.listing import order_by
from shared.thai import to_be_year, to_thai_digits
from shared.validation import safe_filename
from services.plans.unit_changes import bangkok_today

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


# --- the org registry ---------------------------------------------------------------------------

def _units_on(session, day: date | None = None) -> dict[str, dict]:
    """The units as they are on ``day`` (default today in Bangkok): the version of each code that
    holds on that day, so a unit opening later is not there yet and one closing later still is."""
    day = day or bangkok_today()
    rows = session.execute(select(org_units).where(
        org_units.c.valid_from <= day, or_(org_units.c.valid_to.is_(None), org_units.c.valid_to > day))).mappings()
    return {row["code"]: dict(row) for row in rows}


def _domain_units(current: dict[str, dict]) -> list[domain.Unit]:
    return [domain.Unit(code=row["code"], level=row["level"], parent_code=row["parent_code"],
                        lao_type=row["lao_type"], province_code=row["province_code"],
                        district_code=row["district_code"]) for row in current.values()]


def register_units(command: RegisterUnits, uow: UnitOfWork, *, actor: domain.Actor | dict | None = None,
                   today: date | None = None) -> dict:
    """Create, change, merge, split or close units on their effective dates (services/plans/unit_changes.py)."""
    return unit_changes.register_units(command, uow, actor=actor, today=today)


def on_indicator_submitted(event: IndicatorSubmitted, uow: UnitOfWork, envelope: Envelope) -> None:
    """Keep the periods each unit has reported: a registry change may not rewrite them unless forced.
    Idempotent (the inbox drops repeats; a period seen twice is kept once)."""
    bounds = period_bounds(event.period)
    if bounds is None:
        return
    exists = uow.session.execute(select(reported_periods.c.unit_code).where(
        reported_periods.c.unit_code == event.unit_code, reported_periods.c.period == event.period)).first()
    if exists is None:
        uow.session.execute(insert(reported_periods).values(unit_code=event.unit_code, period=event.period,
                                                            period_start=bounds[0], period_end=bounds[1]))


EVENT_HANDLERS = {IndicatorSubmitted.TYPE: on_indicator_submitted}


CSV_LISTS = ("successor_codes", "predecessor_codes")
CSV_TRUE, CSV_FALSE = ("true", "1", "yes", "y"), ("false", "0", "no", "n")


def units_from_csv(text: str) -> list[dict]:
    """Rows of a registry CSV (UTF-8, header = field names) as dicts for RegisterUnits: the same
    fields as the JSON body (change_kind, effective_date, reason, force ...); successor_codes and
    predecessor_codes separated by ``;``. An empty cell is a field left out (left as it was)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    allowed = set(OrgUnitInput.model_fields)
    unknown = [name for name in (reader.fieldnames or []) if name not in allowed]
    if unknown:
        raise invalid("file", f"ไม่รู้จักคอลัมน์ {', '.join(unknown)}", f"unknown columns: {', '.join(unknown)}")
    rows = []
    for row in reader:
        kept = {key: value for key, value in row.items() if key is not None and value not in ("", None)}
        for name in CSV_LISTS:
            if name in kept:
                kept[name] = [code.strip() for code in kept[name].split(";") if code.strip()]
        if "force" in kept and kept["force"].strip().lower() in CSV_TRUE + CSV_FALSE:
            kept["force"] = kept["force"].strip().lower() in CSV_TRUE
        rows.append(kept)
    return rows


def csv_field(field: str) -> str:
    """``units[3].effective_date`` of the parsed rows as ``rows[3].effective_date`` of the file."""
    return "rows" + field[len("units"):] if field.startswith("units[") else field


def unit_history(session, code: str) -> list[dict]:
    """Every version of a unit, oldest first, with the change that made it, the one that ended it,
    and its predecessors and successors (names as they were on the day of the change)."""
    rows = session.execute(select(org_units).where(org_units.c.code == code)
                           .order_by(org_units.c.valid_from)).mappings().all()
    if not rows:
        raise not_found("code", "หน่วยงาน", "unit", code)
    return [_unit_dict(row) for row in rows]


# --- documents and directives ---------------------------------------------------------------------

def _row(row, drop=()) -> dict:
    return {key: (value.isoformat() if isinstance(value, (date, datetime)) else value)
            for key, value in dict(row).items() if key not in drop}


def _require_document(session, document_id: str, field: str) -> dict:
    row = session.execute(select(documents).where(documents.c.id == document_id)).mappings().first()
    if row is None:
        raise not_found(field, "หนังสือ", "document", document_id)
    return dict(row)


def _receipt_dates(session, document_id: str) -> list[date]:
    return list(session.execute(select(receipts.c.received_on)
                                .where(receipts.c.document_id == document_id)).scalars())


def _validate_item(item: DirectiveItemInput, index: int, units: list[domain.Unit], issuer_known: set[str]) -> list[str]:
    field = f"items[{index}]"
    codes = domain.resolve_addressees(item.addressees.model_dump(exclude_none=True), units,
                                      field=f"{field}.addressees")
    if item.issuer_code and item.issuer_code not in issuer_known:
        raise InputError("unknown_unit", f"{field}.issuer_code", f"ไม่พบหน่วยงาน {item.issuer_code}",
                         f"unknown unit {item.issuer_code}", status=422)
    if item.reporting and item.reporting.rrule:
        domain.validate_rrule(item.reporting.rrule, f"{field}.reporting.rrule")
    return codes


def find_duplicate(session, number_normalized: str | None, sender_code: str | None, document_date: date) -> str | None:
    """The id of a document already recorded with this number, sender and date (the same memo)."""
    if not number_normalized:
        return None
    sender = documents.c.sender_code.is_(None) if sender_code is None else documents.c.sender_code == sender_code
    return session.execute(select(documents.c.id).where(
        documents.c.number_normalized == number_normalized, documents.c.document_date == document_date, sender)
        .order_by(documents.c.created_at).limit(1)).scalar()


def record_document(command: RecordDocument, uow: UnitOfWork, *, created_by: str | None = None,
                    actor: domain.Actor | dict | None = None) -> dict:
    """Record an official document and its directive items (drafts until issued).

    With an ``actor`` (every RPC caller), the sender is the actor's unit unless the actor is central
    and states it, and each item's issuer and addressees lie within the sender's reach. Without one
    (the seed loader in process) the command is taken as it is."""
    session = uow.session
    current = _units_on(session)
    units = _domain_units(current)
    actor = domain.Actor.of(actor) if actor is not None else None
    sender_code = domain.document_sender(actor, command.sender_code) if actor else command.sender_code
    if sender_code and sender_code not in current:
        raise InputError("unknown_unit", "sender_code", f"ไม่พบหน่วยงานผู้ส่ง {sender_code}",
                         f"unknown sending unit {sender_code}", status=422)
    for index, reference in enumerate(command.references):
        _require_document(session, reference, f"references[{index}]")
    anomalies = []
    if command.forwards_document_id:
        _require_document(session, command.forwards_document_id, "forwards_document_id")
        anomaly = domain.forwarded_before_received(command.document_date,
                                                   _receipt_dates(session, command.forwards_document_id))
        if anomaly:
            anomalies.append(anomaly)
    for index, item in enumerate(command.items):
        codes = _validate_item(item, index, units, set(current))
        if actor and sender_code:
            domain.check_item_scope(sender_code, item.issuer_code or sender_code, codes, units,
                                    central=actor.central, field=f"items[{index}]")
    number = domain.normalize_document_number(command.document_number)
    if not command.allow_duplicate:
        existing = find_duplicate(session, number, sender_code, command.document_date)
        if existing:
            raise InputError(
                "duplicate_document", "document_number",
                f"หนังสือเลขที่ {number} ลงวันที่ {command.document_date.isoformat()} จาก {sender_code or '-'} "
                f"บันทึกไว้แล้ว (รหัส {existing}); ส่ง allow_duplicate: true หากต้องการบันทึกซ้ำ",
                f"document {number} of {command.document_date.isoformat()} from {sender_code or '-'} is already "
                f"recorded ({existing}); send allow_duplicate: true to record it again",
                status=409, details={"existing_document_id": existing})
    document_id = str(uuid.uuid4())
    session.execute(insert(documents).values(
        id=document_id, form=command.form, number_printed=command.document_number,
        number_normalized=number,
        circular=domain.is_circular(command.document_number), document_date=command.document_date,
        urgency=command.urgency, subject_th=command.subject_th, subject_en=command.subject_en,
        sender_code=sender_code, sender_text=command.sender_text,
        addressee_text=command.addressee_text, references=json.dumps(command.references),
        forwards_document_id=command.forwards_document_id, status=command.status,
        anomalies=json.dumps(anomalies, ensure_ascii=False), created_at=utcnow(), created_by=created_by,
        recorded_by_unit=actor.org_code if actor else sender_code))
    directive_ids = []
    for item in command.items:
        directive_id = str(uuid.uuid4())
        directive_ids.append(directive_id)
        session.execute(insert(directives).values(
            id=directive_id, document_id=document_id, item_ref=item.item_ref, kind=item.kind,
            issuer_code=item.issuer_code or sender_code or "",
            issuer_position_th=item.issuer_position_th, topic_th=item.topic_th, text_th=item.text_th,
            text_en=item.text_en,
            addressees=json.dumps(item.addressees.model_dump(exclude_none=True), ensure_ascii=False),
            acknowledge_due_at=item.acknowledge_due_at,
            reporting=item.reporting.model_dump_json() if item.reporting else None, state="draft"))
    return {"document_id": document_id, "directive_ids": directive_ids, "anomalies": anomalies}


def _editable_document(session, document_id: str, actor: domain.Actor | dict | None) -> dict:
    """The document, if the actor may attach to or issue it; a document the actor cannot see is not
    found, one it sees but did not record is forbidden."""
    if actor is None:
        return _require_document(session, document_id, "document_id")
    actor = domain.Actor.of(actor)
    if not actor.central:
        check_visible(session, document_id, subtree_codes(session, actor.org_code))
    document = _require_document(session, document_id, "document_id")
    domain.check_may_edit_draft(actor, document["recorded_by_unit"] or document["sender_code"])
    return document


def add_attachment(command: AddAttachment, uow: UnitOfWork, *, actor: domain.Actor | dict | None = None) -> dict:
    _editable_document(uow.session, command.document_id, actor)
    try:
        content = base64.b64decode(command.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("content_base64", "ไฟล์แนบเสียหาย (base64 ไม่ถูกต้อง)", "attachment is not valid base64") from None
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InputError("too_large", "file", "ไฟล์แนบใหญ่เกิน 10 MB", "attachment larger than 10 MB", status=413)
    attachment_id = str(uuid.uuid4())
    digest = hashlib.sha256(content).hexdigest()
    uow.session.execute(insert(attachments).values(
        id=attachment_id, document_id=command.document_id, filename=command.filename,
        content_type=command.content_type, size=len(content), sha256=digest, content=content,
        created_at=utcnow()))
    return {"attachment_id": attachment_id, "size": len(content), "sha256": digest}


def get_attachment(session, attachment_id: str, visible_to: list[str] | None = None) -> dict:
    row = session.execute(select(attachments).where(attachments.c.id == attachment_id)).mappings().first()
    if row is None:
        raise not_found("attachment_id", "ไฟล์แนบ", "attachment", attachment_id)
    check_visible(session, row["document_id"], visible_to, "attachment_id")
    # a name stored before names were cleaned on upload ("../../etc/passwd") is served as its last segment
    return {**_row(row, drop=("content",)), "filename": safe_filename(row["filename"]),
            "content_base64": base64.b64encode(row["content"]).decode()}


def _indicator_specs(reporting: ReportingInput) -> list[IndicatorSpec]:
    first = IndicatorSpec(code=reporting.indicator_code, name_th=reporting.indicator_name_th,
                          unit_of_measure=reporting.unit_of_measure, value_type=reporting.value_type,
                          direction=reporting.direction, minimum=reporting.minimum, maximum=reporting.maximum)
    return [first] + [IndicatorSpec(**more.model_dump()) for more in reporting.more_indicators]


def _requirement(reporting: ReportingInput | None) -> ReportingRequirement | None:
    """A one-off report (due_at) as addressees receive it: every indicator with what its values
    must look like (type, range, direction), so assessments enforces what the directive declared."""
    if reporting is None or reporting.due_at is None:
        return None
    return ReportingRequirement(
        indicator_code=reporting.indicator_code, indicator_name_th=reporting.indicator_name_th,
        unit_of_measure=reporting.unit_of_measure, period=reporting.period,
        opens_at=reporting.opens_at, due_at=reporting.due_at, indicators=_indicator_specs(reporting))


def _reporting_units(addressee_codes: list[str], level: str | None, units: list[domain.Unit],
                     by_code: dict[str, dict]) -> list[str]:
    """Who reports: the addressees themselves, or the units of the reporting level below them."""
    if level is None:
        return addressee_codes
    reporters = set()
    for code in addressee_codes:
        if by_code[code]["level"] == level:
            reporters.add(code)
        else:
            reporters |= {c for c in domain.subtree(code, units) if by_code[c]["level"] == level}
    return sorted(reporters)


def _create_assignments(uow: UnitOfWork, directive: dict, document: dict, codes: list[str],
                        by_code: dict[str, dict], *, parent_assignment_id: str | None,
                        acknowledge_due_at: datetime | None, reporting: ReportingInput | None,
                        reporters: set[str], now: datetime) -> list[str]:
    requirement = _requirement(reporting)
    rows, ids = [], []
    for code in codes:
        assignment_id = str(uuid.uuid4())
        ids.append(assignment_id)
        rows.append({"id": assignment_id, "directive_id": directive["id"], "unit_code": code,
                     "unit_level": by_code[code]["level"], "parent_assignment_id": parent_assignment_id,
                     "state": domain.AssignmentState.ISSUED, "created_at": now})
        uow.add_event(AssignmentCreated(
            assignment_id=assignment_id, directive_id=directive["id"],
            document_number=document["number_printed"] or "", title_th=document["subject_th"],
            unit_code=code, parent_assignment_id=parent_assignment_id,
            acknowledge_due_at=acknowledge_due_at,
            reporting=requirement if code in reporters else None, assigned_at=now))
    if rows:
        uow.session.execute(insert(assignments), rows)
    return ids


def issue_document(command: IssueDocument, uow: UnitOfWork, *, actor: domain.Actor | dict | None = None) -> dict:
    """Issue the draft items of a document (every one, or those named in ``items``): one assignment
    per addressee, events for all. The addressees are checked against the sender's reach again, as
    the registry may have changed since the draft was recorded."""
    session = uow.session
    document = _editable_document(session, command.document_id, actor)
    actor = domain.Actor.of(actor) if actor is not None else None
    drafts = session.execute(select(directives).where(directives.c.document_id == command.document_id,
                                                      directives.c.state == "draft")
                             .order_by(directives.c.item_ref, directives.c.id)).mappings().all()
    if not drafts:
        raise conflict("document_id", "หนังสือนี้ไม่มีข้อสั่งการที่รอส่ง", "the document has no draft items to issue")
    if command.items is not None:
        by_id = {draft["id"]: draft for draft in drafts}
        for index, directive_id in enumerate(command.items):
            if directive_id not in by_id:
                raise invalid(f"items[{index}]", f"{directive_id} ไม่ใช่ข้อสั่งการที่รอส่งของหนังสือนี้",
                              f"{directive_id} is not a draft item of this document")
        drafts = [by_id[directive_id] for directive_id in dict.fromkeys(command.items)]
    current = _units_on(session)
    units = _domain_units(current)
    position = {item_id: index for index, item_id in enumerate(session.execute(  # as GET /documents/{id} lists them
        select(directives.c.id).where(directives.c.document_id == command.document_id)
        .order_by(directives.c.item_ref, directives.c.id)).scalars())}
    resolved = {}
    for draft in drafts:  # every check before the first write
        codes = domain.resolve_addressees(json.loads(draft["addressees"]), units)
        if actor is not None and document["sender_code"]:
            domain.check_item_scope(document["sender_code"], draft["issuer_code"] or document["sender_code"], codes,
                                    units, central=actor.central, field=f"items[{position[draft['id']]}]")
        # Checked again on issue: a draft stored before periods were checked is canonicalised or refused.
        reporting = (_draft_reporting(draft, f"items[{position[draft['id']]}].reporting")
                     if draft["reporting"] else None)
        resolved[draft["id"]] = codes, reporting
    now = utcnow()
    issued = []
    for draft in drafts:
        codes, reporting = resolved[draft["id"]]
        reporters = set(_reporting_units(codes, reporting.reporting_level, units, current)) if reporting else set()
        session.execute(update(directives).where(directives.c.id == draft["id"]).values(
            state="issued", issued_at=now, correlation_id=uow.correlation_id))
        uow.add_event(DirectiveIssued(
            directive_id=draft["id"], document_number=document["number_printed"] or "",
            title_th=document["subject_th"], urgency=document["urgency"], issuer_code=draft["issuer_code"],
            addressee_count=len(codes), acknowledge_due_at=draft["acknowledge_due_at"], issued_at=now,
            reporting=_requirement(reporting)))
        assignment_ids = _create_assignments(
            uow, dict(draft), document, codes, current, parent_assignment_id=None,
            acknowledge_due_at=draft["acknowledge_due_at"], reporting=reporting, reporters=reporters, now=now)
        if reporting is not None and reporting.rrule:
            rule_id = str(uuid.uuid4())
            session.execute(insert(reporting_rules).values(
                id=rule_id, directive_id=draft["id"],
                indicators=json.dumps([spec.model_dump() for spec in _indicator_specs(reporting)], ensure_ascii=False),
                rrule=reporting.rrule, dtstart=reporting.dtstart, until=reporting.until,
                due_time_local=reporting.due_time_local, window_opens_before=reporting.window_opens_before,
                holiday_rule=reporting.holiday_rule, reporting_level=reporting.reporting_level,
                fiscal_year_be=reporting.fiscal_year_be, version=1))
            uow.add_event(ReportingRulePublished(
                rule_id=rule_id, directive_id=draft["id"], indicators=_indicator_specs(reporting),
                unit_codes=sorted(reporters), rrule=reporting.rrule, dtstart=reporting.dtstart,
                until=reporting.until, due_time_local=reporting.due_time_local,
                window_opens_before=reporting.window_opens_before, holiday_rule=reporting.holiday_rule,
                fiscal_year_be=reporting.fiscal_year_be))
        issued.append({"directive_id": draft["id"], "assignment_count": len(assignment_ids)})
    return {"document_id": command.document_id, "directives": issued,
            "assignment_count": sum(item["assignment_count"] for item in issued)}


def issue_directive(command: IssueDirective, uow: UnitOfWork, *, actor: domain.Actor | dict | None = None) -> dict:
    """Record a one-item document and issue it in the same transaction."""
    current = _units_on(uow.session)
    if command.issuer_code not in current:
        raise InputError("unknown_unit", "issuer_code", f"ไม่พบหน่วยงานผู้ออกคำสั่ง {command.issuer_code}",
                         f"unknown issuing unit {command.issuer_code}", status=422)
    # validate with this command's own field names before building the document
    domain.resolve_addressees(command.addressees.model_dump(exclude_none=True), _domain_units(current))
    if command.reporting and command.reporting.rrule:
        domain.validate_rrule(command.reporting.rrule)
    recorded = record_document(RecordDocument(
        form="circular" if domain.is_circular(command.document_number) else "memo",
        document_number=command.document_number, document_date=command.document_date,
        urgency=command.urgency, subject_th=command.subject_th, sender_code=command.issuer_code,
        items=[DirectiveItemInput(kind=command.kind, issuer_code=command.issuer_code, text_th=command.text_th,
                                  addressees=command.addressees, acknowledge_due_at=command.acknowledge_due_at,
                                  reporting=command.reporting)],
        allow_duplicate=True), uow,  # issuing at once is not recording a received memo again
        actor=actor)
    result = issue_document(IssueDocument(document_id=recorded["document_id"]), uow, actor=actor)
    return {"directive_id": result["directives"][0]["directive_id"], "document_id": recorded["document_id"],
            "assignment_count": result["assignment_count"]}


# --- assignments ------------------------------------------------------------------------------------

def _draft_reporting(draft, field: str) -> ReportingInput:
    try:
        return ReportingInput.model_validate_json(draft["reporting"])
    except ValidationError as exc:
        error = exc.errors()[0]
        custom = (error.get("ctx") or {}).get("error")
        raise invalid(field + "." + ".".join(str(part) for part in error["loc"]),
                      getattr(custom, "message_th", "ค่าไม่ถูกต้อง"), str(custom or error["msg"])) from None


def _own_assignment(session, assignment_id: str, unit_code: str) -> dict:
    row = session.execute(select(assignments).where(assignments.c.id == assignment_id)).mappings().first()
    if row is None:
        raise not_found("assignment_id", "ข้อสั่งการที่มอบหมาย", "assignment", assignment_id)
    if row["unit_code"] != unit_code:
        raise forbidden("unit_code", "หน่วยงานนี้ไม่ใช่ผู้รับข้อสั่งการ", "this unit is not the addressee of the assignment")
    return dict(row)


def acknowledge_assignment(command: AcknowledgeAssignment, uow: UnitOfWork) -> dict:
    row = _own_assignment(uow.session, command.assignment_id, command.unit_code)
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
    row = _own_assignment(uow.session, command.assignment_id, command.unit_code)
    return _move(uow, row, domain.AssignmentState(command.to_state), command.note)


def declare_applicability(command: DeclareApplicability, uow: UnitOfWork) -> dict:
    row = _own_assignment(uow.session, command.assignment_id, command.unit_code)
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
    row = _own_assignment(session, command.assignment_id, command.unit_code)
    if domain.AssignmentState(row["state"]) not in domain.ALLOWED_FROM[domain.S.FORWARDED]:
        raise conflict("state", "ต้องลงรับก่อนจึงจะส่งต่อได้", "acknowledge the assignment before forwarding it")
    current = _units_on(session)
    units = _domain_units(current)
    codes = domain.resolve_addressees(command.addressees.model_dump(exclude_none=True), units)
    domain.check_forwarding(command.unit_code, codes, units)
    already = set(session.execute(select(assignments.c.unit_code).where(
        assignments.c.directive_id == row["directive_id"], assignments.c.unit_code.in_(codes))).scalars())
    new_codes = [code for code in codes if code not in already]
    if not new_codes:
        return {"assignment_id": row["id"], "child_assignment_ids": [], "already_assigned": sorted(already)}
    directive = dict(session.execute(select(directives).where(directives.c.id == row["directive_id"])).mappings().one())
    document = _require_document(session, directive["document_id"], "document_id")
    # An issued directive is forwarded as it was issued, even if stored before periods were checked.
    reporting = (ReportingInput.model_validate_json(directive["reporting"], context={"stored": True})
                 if directive["reporting"] else None)
    reporters = set(_reporting_units(new_codes, reporting.reporting_level, units, current)) if reporting else set()
    reporters &= set(new_codes)
    now = utcnow()
    child_ids = _create_assignments(uow, directive, document, new_codes, current, parent_assignment_id=row["id"],
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
        if not actor.central and command.unit_code != actor.org_code:
            raise forbidden("unit_code", "ลงทะเบียนรับได้เฉพาะในทะเบียนของหน่วยงานของท่าน",
                            "a unit registers receipts only in its own register")
    if command.unit_code not in _units_on(session):
        raise InputError("unknown_unit", "unit_code", f"ไม่พบหน่วยงาน {command.unit_code}",
                         f"unknown unit {command.unit_code}", status=422)
    if actor is not None and not actor.central:
        check_visible(session, command.document_id, subtree_codes(session, actor.org_code))
    _require_document(session, command.document_id, "document_id")
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
        received_time=command.received_time.replace(".", ":").zfill(5) if command.received_time else None,
        channel=command.channel, routed_from_receipt_id=command.routed_from_receipt_id, created_at=utcnow()))
    result = {"receipt_id": receipt_id, "register_year_be": year_be}
    if command.assignment_id:
        row = _own_assignment(session, command.assignment_id, command.unit_code)
        result["assignment"] = _move(uow, row, domain.S.RECEIVED, f"receipt {number}", receipt_number=number)
    # A forwarding memo recorded earlier may now turn out to be dated before this receipt.
    for forwarding in session.execute(select(documents).where(
            documents.c.forwards_document_id == command.document_id)).mappings().all():
        anomalies = json.loads(forwarding["anomalies"])
        anomaly = domain.forwarded_before_received(forwarding["document_date"],
                                                   _receipt_dates(session, command.document_id))
        if anomaly and not any(a["code"] == anomaly["code"] for a in anomalies):
            session.execute(update(documents).where(documents.c.id == forwarding["id"]).values(
                anomalies=json.dumps(anomalies + [anomaly], ensure_ascii=False)))
    return result


# --- queries ------------------------------------------------------------------------------------

def check_visible(session, document_id: str, visible_to: list[str] | None, field: str = "document_id") -> None:
    """A unit sees a document it sent, or one with an assignment somewhere in its subtree;
    otherwise it is reported as not found (no hint that it exists). None: sees everything."""
    if visible_to is None:
        return
    scope = set(visible_to)
    document = _require_document(session, document_id, field)
    if document["sender_code"] in scope:
        return
    units = set(session.execute(select(assignments.c.unit_code).join(
        directives, directives.c.id == assignments.c.directive_id).where(
        directives.c.document_id == document_id)).scalars())
    if not units & scope:
        raise not_found(field, "หนังสือ", "document", document_id)


def check_directive_visible(session, directive_id: str, visible_to: list[str] | None) -> None:
    """A unit sees a directive its subtree has an assignment of (or that its subtree sent); any
    other directive is not found for it. None: sees everything."""
    row = session.execute(select(directives.c.document_id, documents.c.sender_code)
                          .join(documents, documents.c.id == directives.c.document_id)
                          .where(directives.c.id == directive_id)).first()
    if row is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    if visible_to is None or row.sender_code in set(visible_to):
        return
    assigned = session.execute(select(assignments.c.id).where(
        assignments.c.directive_id == directive_id, assignments.c.unit_code.in_(visible_to)).limit(1)).first()
    if assigned is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)


def get_document(session, document_id: str, visible_to: list[str] | None = None) -> dict:
    check_visible(session, document_id, visible_to)
    document = _require_document(session, document_id, "document_id")
    items = session.execute(select(directives).where(directives.c.document_id == document_id)
                            .order_by(directives.c.item_ref, directives.c.id)).mappings().all()
    files = session.execute(select(attachments.c.id, attachments.c.filename, attachments.c.content_type,
                                   attachments.c.size, attachments.c.sha256)
                            .where(attachments.c.document_id == document_id)).mappings().all()
    query = select(receipts).where(receipts.c.document_id == document_id)
    if visible_to is not None:  # another unit's register is its own business
        query = query.where(receipts.c.unit_code.in_(visible_to))
    registered = session.execute(query.order_by(receipts.c.received_on, receipts.c.created_at)).mappings().all()
    result = _row(document)
    result.update(references=json.loads(document["references"]), anomalies=json.loads(document["anomalies"]),
                  items=[_directive_dict(item) for item in items],
                  attachments=[{**f, "filename": safe_filename(f["filename"])} for f in files],
                  receipts=[_row(r) for r in registered])
    return result


DOCUMENT_SUMMARY = ("id", "form", "number_printed", "number_normalized", "document_date", "urgency", "subject_th",
                    "sender_code", "sender_text", "status", "created_at")


def find_documents(session, *, number: str | None = None, sender_code: str | None = None,
                   visible_to: list[str] | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    """Documents by their number, typed as printed or not (Thai or Arabic digits, with or without
    "ที่", whole or in part): exact matches first, then numbers ending with it, then those containing
    it; only those the caller may see."""
    query = select(*(documents.c[name] for name in DOCUMENT_SUMMARY))
    wanted = domain.normalize_document_number(number) if number else None
    if wanted:
        query = query.where(documents.c.number_normalized.contains(wanted, autoescape=True))
    if sender_code:
        query = query.where(documents.c.sender_code == sender_code)
    if visible_to is not None:
        assigned = (select(directives.c.document_id).join(assignments, assignments.c.directive_id == directives.c.id)
                    .where(assignments.c.unit_code.in_(visible_to)))
        query = query.where(documents.c.sender_code.in_(visible_to) | documents.c.id.in_(assigned))
    ordering = [documents.c.document_date.desc(), documents.c.id]
    if wanted:  # the number itself, then numbers ending with it (typed without "มท"), then the rest
        ordering[:0] = [case((documents.c.number_normalized == wanted, 0),
                             (documents.c.number_normalized.endswith(wanted, autoescape=True), 1), else_=2)]
    rows = session.execute(query.order_by(*ordering).limit(limit).offset(offset)).mappings()
    return [_row(row) for row in rows]


def _directive_dict(row) -> dict:
    result = _row(row)
    result["addressees"] = json.loads(row["addressees"])
    result["reporting"] = json.loads(row["reporting"]) if row["reporting"] else None
    return result


def get_directive(session, directive_id: str, visible_to: list[str] | None = None) -> dict:
    row = session.execute(select(directives).where(directives.c.id == directive_id)).mappings().first()
    if row is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    check_visible(session, row["document_id"], visible_to, "directive_id")
    document = _require_document(session, row["document_id"], "document_id")
    query = select(assignments).where(assignments.c.directive_id == directive_id)
    if visible_to is not None:  # only the assignments of the caller's own subtree
        query = query.where(assignments.c.unit_code.in_(visible_to))
    items = session.execute(query.order_by(assignments.c.unit_code)).mappings().all()
    result = _directive_dict(row)
    result.update(document_number=document["number_printed"], subject_th=document["subject_th"],
                  urgency=document["urgency"], document_date=document["document_date"].isoformat(),
                  assignments=[_row(a) for a in items])
    return result


def get_assignment(session, assignment_id: str) -> dict:
    """One assignment row as stored (the gateway's audit before-image of an assignment action)."""
    row = session.execute(select(assignments).where(assignments.c.id == assignment_id)).mappings().first()
    if row is None:
        raise not_found("assignment_id", "ข้อสั่งการที่มอบหมาย", "assignment", assignment_id)
    return _row(row)


def list_assignments(session, *, unit_codes: list[str] | None = None, state: str | None = None,
                     directive_id: str | None = None, limit: int = 100, offset: int = 0,
                     sort: str | None = None) -> list[dict]:
    query = (select(assignments, directives.c.kind, directives.c.text_th, directives.c.acknowledge_due_at,
                    directives.c.document_id, documents.c.number_printed, documents.c.subject_th,
                    documents.c.urgency)
             .join(directives, directives.c.id == assignments.c.directive_id)
             .join(documents, documents.c.id == directives.c.document_id))
    if unit_codes is not None:
        query = query.where(assignments.c.unit_code.in_(unit_codes))
    if state:
        query = query.where(assignments.c.state == state)
    if directive_id:
        query = query.where(assignments.c.directive_id == directive_id)
    ordering = order_by(assignments, sort, ("created_at", "unit_code", "state", "acknowledged_at"),
                        ("-created_at", "unit_code", "id"))
    rows = session.execute(query.order_by(*ordering).limit(limit).offset(offset)).mappings()
    now = utcnow()
    return [{**_row(row), "overdue": domain.is_overdue(row["state"], row["acknowledge_due_at"], now)}
            for row in rows]


def cascade(session, directive_id: str, visible_to: list[str] | None = None) -> dict:
    """Per level and unit: sent / received / acknowledged / forwarded and hop times in seconds, with
    the figures of shared/cascade.py (the reporting read model uses the same), restricted to the
    units of ``visible_to`` when given. ``forwarded_by`` is the unit that forwarded it, None when the
    issuer sent it directly."""
    directive = session.execute(select(directives.c.document_id, directives.c.issued_at, directives.c.issuer_code)
                                .where(directives.c.id == directive_id)).first()
    if directive is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    check_visible(session, directive[0], visible_to, "directive_id")
    issued_at, issuer_code = directive[1], directive[2]
    rows = session.execute(select(assignments).where(assignments.c.directive_id == directive_id)).mappings().all()
    by_id = {row["id"]: row for row in rows}  # parents outside the scope still give the hop time
    if visible_to is not None:
        scope = set(visible_to)
        rows = [row for row in rows if row["unit_code"] in scope]
    # each unit's name as it is today, or as it was when it last existed (a unit merged since)
    names = dict(session.execute(select(org_units.c.code, org_units.c.name_th)
                                 .order_by(org_units.c.valid_from)).all())
    names.update({code: row["name_th"] for code, row in _units_on(session).items()})
    units = []
    for row in rows:
        parent = by_id.get(row["parent_assignment_id"])
        forwarded_by = parent["unit_code"] if parent else None
        units.append({
            "assignment_id": row["id"], "unit_code": row["unit_code"], "name_th": names.get(row["unit_code"]),
            "level": row["unit_level"], "state": row["state"],
            "forwarded_by": forwarded_by, "forwarded_by_name_th": names.get(forwarded_by) if forwarded_by else None,
            "assigned_at": row["created_at"], "received_at": row["received_at"],
            "acknowledged_at": row["acknowledged_at"], "forwarded_at": row["forwarded_at"],
            **cascade_figures.unit_figures(assigned_at=row["created_at"], acknowledged_at=row["acknowledged_at"],
                                           sender_assigned_at=parent["created_at"] if parent else issued_at)})
    slowest = sorted((u for u in units if u["acknowledge_s"] is not None), key=lambda u: -u["acknowledge_s"])[:10]
    now = utcnow()
    waiting = sorted(({**u, "waiting_s": cascade_figures.seconds(now, u["assigned_at"])} for u in units
                      if u["acknowledged_at"] is None and u["state"] not in ("not_applicable", "cancelled")),
                     key=lambda u: u["assigned_at"])[:10]
    serialize = lambda u: {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in u.items()}  # noqa: E731
    return {"directive_id": directive_id, "issued_at": serialize({"t": issued_at})["t"],
            "issuer_code": issuer_code, "issuer_name_th": names.get(issuer_code),
            "levels": cascade_figures.levels(units),
            "units": [serialize(u) for u in sorted(units, key=lambda u: (cascade_figures.level_rank(u["level"]),
                                                                        u["unit_code"]))],
            "slowest_acknowledgements": [serialize(u) for u in slowest],
            "longest_waiting": [serialize(u) for u in waiting]}


def list_units(session, *, parent_code: str | None = None, level: str | None = None,
               codes: list[str] | None = None, search: str | None = None, within: str | None = None,
               limit: int = 100, offset: int = 0, sort: str | None = None, lao_type: str | None = None,
               on: date | None = None) -> list[dict]:
    """The units as they are on ``on`` (default today in Bangkok), filtered."""
    on = on or bangkok_today()
    query = select(org_units).where(org_units.c.valid_from <= on,
                                    or_(org_units.c.valid_to.is_(None), org_units.c.valid_to > on))
    if parent_code:
        query = query.where(org_units.c.parent_code == parent_code)
    # A filter value outside the vocabulary is refused: silently ignoring it would list every unit.
    for name, value, allowed in (("level", level, get_args(Level)), ("lao_type", lao_type, get_args(LaoType))):
        if value and value not in allowed:
            raise invalid(name, f"{name} ต้องเป็นหนึ่งใน {', '.join(allowed)}", f"{name} must be one of {', '.join(allowed)}")
    if level:
        query = query.where(org_units.c.level == level)
    if lao_type:
        query = query.where(org_units.c.lao_type == lao_type)
    if codes is not None:
        query = query.where(org_units.c.code.in_(codes))
    if within:
        current = _units_on(session, on)
        if within not in current:
            raise not_found("within", "หน่วยงาน", "unit", within)
        query = query.where(org_units.c.code.in_(domain.subtree(within, _domain_units(current))))
    if search:
        query = query.where(org_units.c.name_th.contains(search) | org_units.c.code.contains(search))
    ordering = order_by(org_units, sort, ("code", "name_th", "level", "lao_type", "valid_from"), ("code",))
    rows = session.execute(query.order_by(*ordering).limit(limit).offset(offset)).mappings()
    return [_unit_dict(row) for row in rows]


def _unit_dict(row) -> dict:
    item = _row(row, drop=("id",))
    item["predecessor_codes"] = json.loads(row["predecessor_codes"] or "[]")
    item["successor_codes"] = json.loads(row["successor_codes"] or "[]")
    return item


def preview_addressees(session, rule: dict) -> dict:
    """How many units an addressee rule reaches, by level, with a sample (before issuing)."""
    current = _units_on(session)
    codes = domain.resolve_addressees(rule, _domain_units(current))
    by_level: dict[str, int] = {}
    for code in codes:
        by_level[current[code]["level"]] = by_level.get(current[code]["level"], 0) + 1
    return {"count": len(codes), "by_level": by_level,
            "sample": [{"code": c, "name_th": current[c]["name_th"]} for c in codes[:20]]}


def subtree_codes(session, root: str) -> list[str]:
    """Every current unit at or below root (used by the gateway to scope a user)."""
    current = _units_on(session)
    if root not in current:
        raise not_found("code", "หน่วยงาน", "unit", root)
    return sorted(domain.subtree(root, _domain_units(current)))


def registry_counts(session, on: date | None = None) -> dict:
    """Units by level as they are on ``on`` (default today in Bangkok)."""
    on = on or bangkok_today()
    rows = session.execute(select(org_units.c.level, func.count()).where(
        org_units.c.valid_from <= on, or_(org_units.c.valid_to.is_(None), org_units.c.valid_to > on))
        .group_by(org_units.c.level)).all()
    return {level: count for level, count in rows}


