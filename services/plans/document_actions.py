"""Documents and directives, write side: record an official document with its directive items
(drafts), attach files, issue the drafts (one assignment per addressee), or record and issue a
one-item document at once. Use cases are ``(command, uow)`` (plus the acting user); events go to
the outbox with the rows.

Who may write: with an ``actor`` (every RPC caller) the sender is the actor's unit unless the actor
is central and states it, every item's issuer and addressees lie within the sender's reach, and
only the recording unit (or central) attaches to or issues a draft (domain.py holds the rules).
Without one (the seed loader in process) the command is taken as it is.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from datetime import date, datetime

from pydantic import ValidationError
from sqlalchemy import insert, select, update

from services.plans import domain, scope
from services.plans.lookups import domain_units, receipt_dates, require_document, units_on
from services.plans.models import assignments, attachments, directives, documents, reporting_rules
from shared.contracts import utcnow
from shared.contracts.commands.plans import (AddAttachment, DirectiveItemInput, IssueDirective, IssueDocument,
                                             RecordDocument, ReportingInput)
from shared.contracts.events import (AssignmentCreated, DirectiveIssued, IndicatorSpec, ReportingRequirement,
                                     ReportingRulePublished)
from shared.db import UnitOfWork
from shared.errors import InputError, conflict, invalid

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


# --- recording a document -------------------------------------------------------------------------

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
    current = units_on(session)
    units = domain_units(current)
    actor = domain.Actor.of(actor) if actor is not None else None
    sender_code = domain.document_sender(actor, command.sender_code) if actor else command.sender_code
    if sender_code and sender_code not in current:
        raise InputError("unknown_unit", "sender_code", f"ไม่พบหน่วยงานผู้ส่ง {sender_code}",
                         f"unknown sending unit {sender_code}", status=422)
    for index, reference in enumerate(command.references):
        require_document(session, reference, f"references[{index}]")
    anomalies = []
    if command.forwards_document_id:
        require_document(session, command.forwards_document_id, "forwards_document_id")
        anomaly = domain.forwarded_before_received(command.document_date,
                                                   receipt_dates(session, command.forwards_document_id))
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
        return require_document(session, document_id, "document_id")
    actor = domain.Actor.of(actor)
    if not actor.central:
        scope.check_visible(session, document_id, scope.subtree_codes(session, actor.org_code))
    document = require_document(session, document_id, "document_id")
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


# --- issuing: directives become assignments and events ------------------------------------------

def indicator_specs(reporting: ReportingInput) -> list[IndicatorSpec]:
    """The directive's indicators as the contract carries them: the first, then any more."""
    first = IndicatorSpec(code=reporting.indicator_code, name_th=reporting.indicator_name_th,
                          unit_of_measure=reporting.unit_of_measure, value_type=reporting.value_type,
                          direction=reporting.direction, minimum=reporting.minimum, maximum=reporting.maximum)
    return [first] + [IndicatorSpec(**more.model_dump()) for more in reporting.more_indicators]


def reporting_requirement(reporting: ReportingInput | None) -> ReportingRequirement | None:
    """A one-off report (due_at) as addressees receive it: every indicator with what its values
    must look like (type, range, direction), so assessments enforces what the directive declared."""
    if reporting is None or reporting.due_at is None:
        return None
    return ReportingRequirement(
        indicator_code=reporting.indicator_code, indicator_name_th=reporting.indicator_name_th,
        unit_of_measure=reporting.unit_of_measure, period=reporting.period,
        opens_at=reporting.opens_at, due_at=reporting.due_at, indicators=indicator_specs(reporting))


def create_assignments(uow: UnitOfWork, directive: dict, document: dict, codes: list[str],
                       by_code: dict[str, dict], *, parent_assignment_id: str | None,
                       acknowledge_due_at: datetime | None, reporting: ReportingInput | None,
                       reporters: set[str], now: datetime) -> list[str]:
    """One assignment per unit code (one set-based insert) and an AssignmentCreated for each; the
    reporting requirement goes to the ``reporters`` only. Used on issue, on forwarding and when a
    merged or split unit's work passes to its successors (unit_endings.settle_assignments)."""
    requirement = reporting_requirement(reporting)
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
    current = units_on(session)
    units = domain_units(current)
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
        reporting = (draft_reporting(draft, f"items[{position[draft['id']]}].reporting")
                     if draft["reporting"] else None)
        resolved[draft["id"]] = codes, reporting
    now = utcnow()
    issued = []
    for draft in drafts:
        codes, reporting = resolved[draft["id"]]
        reporters = set(domain.reporting_units(codes, reporting.reporting_level, units)) if reporting else set()
        session.execute(update(directives).where(directives.c.id == draft["id"]).values(
            state="issued", issued_at=now, correlation_id=uow.correlation_id))
        uow.add_event(DirectiveIssued(
            directive_id=draft["id"], document_number=document["number_printed"] or "",
            title_th=document["subject_th"], urgency=document["urgency"], issuer_code=draft["issuer_code"],
            addressee_count=len(codes), acknowledge_due_at=draft["acknowledge_due_at"], issued_at=now,
            reporting=reporting_requirement(reporting)))
        assignment_ids = create_assignments(
            uow, dict(draft), document, codes, current, parent_assignment_id=None,
            acknowledge_due_at=draft["acknowledge_due_at"], reporting=reporting, reporters=reporters, now=now)
        if reporting is not None and reporting.rrule:
            rule_id = str(uuid.uuid4())
            session.execute(insert(reporting_rules).values(
                id=rule_id, directive_id=draft["id"],
                indicators=json.dumps([spec.model_dump() for spec in indicator_specs(reporting)], ensure_ascii=False),
                rrule=reporting.rrule, dtstart=reporting.dtstart, until=reporting.until,
                due_time_local=reporting.due_time_local, window_opens_before=reporting.window_opens_before,
                holiday_rule=reporting.holiday_rule, reporting_level=reporting.reporting_level,
                fiscal_year_be=reporting.fiscal_year_be, version=1))
            uow.add_event(ReportingRulePublished(
                rule_id=rule_id, directive_id=draft["id"], indicators=indicator_specs(reporting),
                unit_codes=sorted(reporters), rrule=reporting.rrule, dtstart=reporting.dtstart,
                until=reporting.until, due_time_local=reporting.due_time_local,
                window_opens_before=reporting.window_opens_before, holiday_rule=reporting.holiday_rule,
                fiscal_year_be=reporting.fiscal_year_be))
        issued.append({"directive_id": draft["id"], "assignment_count": len(assignment_ids)})
    return {"document_id": command.document_id, "directives": issued,
            "assignment_count": sum(item["assignment_count"] for item in issued)}


def issue_directive(command: IssueDirective, uow: UnitOfWork, *, actor: domain.Actor | dict | None = None) -> dict:
    """Record a one-item document and issue it in the same transaction."""
    current = units_on(uow.session)
    if command.issuer_code not in current:
        raise InputError("unknown_unit", "issuer_code", f"ไม่พบหน่วยงานผู้ออกคำสั่ง {command.issuer_code}",
                         f"unknown issuing unit {command.issuer_code}", status=422)
    # validate with this command's own field names before building the document
    domain.resolve_addressees(command.addressees.model_dump(exclude_none=True), domain_units(current))
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


def draft_reporting(draft, field: str) -> ReportingInput:
    """A stored directive's reporting, validated again (named at ``field`` when it no longer is)."""
    try:
        return ReportingInput.model_validate_json(draft["reporting"])
    except ValidationError as exc:
        error = exc.errors()[0]
        custom = (error.get("ctx") or {}).get("error")
        raise invalid(field + "." + ".".join(str(part) for part in error["loc"]),
                      getattr(custom, "message_th", "ค่าไม่ถูกต้อง"), str(custom or error["msg"])) from None
