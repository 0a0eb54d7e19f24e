"""Reviews and extensions: a supervising unit accepts or returns a submission, a unit asks for more
time and a supervising unit grants or denies it. Commands, ``(command, uow)``; the two that set a
deadline take the ``Settings`` that ``bootstrap`` binds.

Only a unit above the reporting one reviews or decides (``Facts.ancestors``); a returned report is
awaited again by its resubmission deadline (``domain.resubmit_due``), never swept as missed; a
granted extension moves the due time, keeps the closing no earlier and reopens a missed report
(``domain.extension_granted``).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update

from services.assessments import domain
from services.assessments.domain import DEFAULTS, Settings
from services.assessments.domain import ObligationState as O
from services.assessments.facts import Facts
from services.assessments.models import extension_requests, obligations, reviews, submissions
from services.assessments.obligations import obligation_row
from shared.contracts import utcnow
from shared.contracts.commands.assessments import DecideExtension, RequestExtension, ReviewSubmission
from shared.contracts.events import ExtensionDenied, ExtensionGranted, ExtensionRequested, SubmissionReviewed
from shared.db import UnitOfWork
from shared.errors import conflict, forbidden, invalid, not_found


def review_submission(command: ReviewSubmission, uow: UnitOfWork, *, settings: Settings = DEFAULTS,
                      now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    submission = session.execute(select(submissions).where(submissions.c.id == command.submission_id)).mappings().first()
    if submission is None:
        raise not_found("submission_id", "รายงานที่ส่ง", "submission", command.submission_id)
    facts = Facts(session)
    if command.reviewer_unit_code not in facts.ancestors(submission["unit_code"]):
        raise forbidden("reviewer_unit_code", "ตรวจรับได้เฉพาะรายงานของหน่วยงานในสังกัด",
                        "only a supervising unit may review this submission")
    if submission["status"] != "pending":
        raise conflict("submission_id", f"รายงานนี้ตรวจแล้วหรือมีฉบับใหม่กว่า ({submission['status']})",
                       f"this submission is {submission['status']}")
    session.execute(update(submissions).where(submissions.c.id == submission["id"]).values(status=command.decision))
    session.execute(insert(reviews).values(
        id=str(uuid.uuid4()), submission_id=submission["id"], reviewer_unit_code=command.reviewer_unit_code,
        reviewer=command.reviewer, decision=command.decision, comment=command.comment, reviewed_at=now))
    if command.decision == "accepted":
        new_state, resubmit_due_at = O.ACCEPTED, None
    else:  # its own state: awaited again by the resubmission deadline, never swept as missed
        obligation = obligation_row(session, submission["obligation_id"])
        new_state = O.RETURNED
        resubmit_due_at = domain.resubmit_due(now, obligation, command.resubmit_due_at, settings)
    session.execute(update(obligations).where(obligations.c.id == submission["obligation_id"]).values(
        state=new_state, resubmit_due_at=resubmit_due_at))
    uow.add_event(SubmissionReviewed(
        submission_id=submission["id"], obligation_id=submission["obligation_id"], unit_code=submission["unit_code"],
        reviewer_unit_code=command.reviewer_unit_code, decision=command.decision, comment=command.comment,
        reviewed_at=now, resubmit_due_at=resubmit_due_at))
    return {"submission_id": submission["id"], "decision": command.decision, "obligation_state": str(new_state),
            "resubmit_due_at": resubmit_due_at.isoformat() if resubmit_due_at else None}


def request_extension(command: RequestExtension, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = obligation_row(uow.session, command.obligation_id)
    if row["unit_code"] != command.unit_code:
        raise forbidden("unit_code", "ขอขยายเวลาได้เฉพาะรายงานของหน่วยงานตนเอง", "only the reporting unit may ask")
    if row["state"] in (O.ACCEPTED, O.CANCELLED):
        raise conflict("obligation_id", "รายงานนี้ปิดแล้ว", f"the obligation is {row['state']}")
    if command.requested_due_at <= domain.effective_due(row["due_at"], row["extended_due_at"]):
        raise invalid("requested_due_at", "วันที่ขอขยายต้องหลังกำหนดส่งเดิม", "the new due time must be after the current one")
    if uow.session.execute(select(extension_requests.c.id).where(
            extension_requests.c.obligation_id == row["id"], extension_requests.c.status == "pending")).first():
        raise conflict("obligation_id", "มีคำขอขยายเวลาที่รอพิจารณาอยู่แล้ว", "an extension request is already pending")
    request_id = str(uuid.uuid4())
    uow.session.execute(insert(extension_requests).values(
        id=request_id, obligation_id=row["id"], unit_code=row["unit_code"], requested_due_at=command.requested_due_at,
        reason=command.reason, requested_by=command.requested_by, requested_at=now, status="pending"))
    uow.add_event(ExtensionRequested(request_id=request_id, obligation_id=row["id"], unit_code=row["unit_code"],
                                     requested_due_at=command.requested_due_at, reason=command.reason,
                                     requested_at=now))
    return {"request_id": request_id, "status": "pending"}


def decide_extension(command: DecideExtension, uow: UnitOfWork, *, settings: Settings = DEFAULTS,
                     now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    request = session.execute(select(extension_requests).where(extension_requests.c.id == command.request_id)
                              ).mappings().first()
    if request is None:
        raise not_found("request_id", "คำขอขยายเวลา", "extension request", command.request_id)
    if command.decider_unit_code not in Facts(session).ancestors(request["unit_code"]):
        raise forbidden("decider_unit_code", "อนุมัติได้เฉพาะหน่วยงานที่กำกับดูแล", "only a supervising unit may decide")
    if request["status"] != "pending":
        raise conflict("request_id", "คำขอนี้พิจารณาแล้ว", f"the request is already {request['status']}")
    status = "granted" if command.approve else "denied"
    session.execute(update(extension_requests).where(extension_requests.c.id == request["id"]).values(
        status=status, decided_by_unit_code=command.decider_unit_code, decided_at=now, comment=command.comment))
    if command.approve:
        row = obligation_row(session, request["obligation_id"])
        values = domain.extension_granted(row, request["requested_due_at"], settings)  # a missed report reopens
        session.execute(update(obligations).where(obligations.c.id == row["id"]).values(**values))
        uow.add_event(ExtensionGranted(request_id=request["id"], obligation_id=row["id"], unit_code=row["unit_code"],
                                       new_due_at=request["requested_due_at"],
                                       decided_by_unit_code=command.decider_unit_code, decided_at=now))
    else:
        uow.add_event(ExtensionDenied(request_id=request["id"], obligation_id=request["obligation_id"],
                                      unit_code=request["unit_code"], decided_by_unit_code=command.decider_unit_code,
                                      comment=command.comment, decided_at=now))
    return {"request_id": request["id"], "status": status}

