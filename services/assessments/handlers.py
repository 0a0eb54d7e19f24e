"""Use cases of assessments: open obligations, accept submissions, sweep deadlines."""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import insert, select, update

from services.assessments import domain
from services.assessments.commands import SubmitValues
from services.assessments.models import obligations, submissions
from shared.contracts import Envelope, utcnow
from shared.contracts.events import (AssignmentCreated, DeadlineMissed, IndicatorSubmitted,
                                     ObligationOpened, SubmittedValue)
from shared.db import Database, UnitOfWork
from shared.errors import forbidden, invalid, not_found


# --- events ---------------------------------------------------------------------------------------

def open_obligation_for_assignment(event: AssignmentCreated, uow: UnitOfWork, envelope: Envelope) -> None:
    """An assignment that carries a reporting requirement becomes an obligation of its unit."""
    requirement = event.reporting
    if requirement is None:
        return
    exists = uow.session.execute(select(obligations.c.id).where(
        obligations.c.unit_code == event.unit_code, obligations.c.assignment_id == event.assignment_id,
        obligations.c.indicator_code == requirement.indicator_code,
        obligations.c.period == requirement.period)).first()
    if exists:
        return
    obligation_id = str(uuid.uuid4())
    uow.session.execute(insert(obligations).values(
        id=obligation_id, unit_code=event.unit_code, directive_id=event.directive_id,
        assignment_id=event.assignment_id, indicator_code=requirement.indicator_code,
        indicator_name_th=requirement.indicator_name_th, period=requirement.period,
        opens_at=requirement.opens_at, due_at=requirement.due_at, state=domain.ObligationState.OPEN,
        correlation_id=envelope.correlation_id, created_at=utcnow()))
    uow.add_event(ObligationOpened(
        obligation_id=obligation_id, unit_code=event.unit_code, directive_id=event.directive_id,
        assignment_id=event.assignment_id, indicator_code=requirement.indicator_code,
        indicator_name_th=requirement.indicator_name_th,
        period=requirement.period, opens_at=requirement.opens_at, due_at=requirement.due_at))


EVENT_HANDLERS = {
    AssignmentCreated.TYPE: open_obligation_for_assignment,
}


# --- commands -------------------------------------------------------------------------------------

def submit_values(uow: UnitOfWork, command: SubmitValues, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = uow.session.execute(select(obligations).where(obligations.c.id == command.obligation_id)
                              ).mappings().first()
    if row is None:
        raise not_found("obligation_id", "ภาระการรายงาน", "obligation", command.obligation_id)
    if row["unit_code"] != command.unit_code:
        raise forbidden("unit_code", "หน่วยงานนี้ไม่มีหน้าที่รายงานรายการนี้",
                        "this unit does not owe this report")
    if row["opens_at"] and now < row["opens_at"]:
        raise invalid("submitted_at", "ยังไม่เปิดให้ส่งรายงาน", "the submission window is not open yet")
    codes = [value.indicator_code for value in command.values]
    if len(set(codes)) != len(codes):
        raise invalid("values", "ตัวชี้วัดซ้ำในการส่งครั้งเดียว", "an indicator appears twice in one submission")
    if row["indicator_code"] not in codes or len(codes) != 1:
        raise invalid("values[0].indicator_code",
                      f"ต้องรายงานตัวชี้วัด {row['indicator_code']} เท่านั้น",
                      f"this obligation takes indicator {row['indicator_code']} only")
    on_time = domain.is_on_time(now, row["due_at"], row["extended_due_at"])
    submission_id = str(uuid.uuid4())
    values = [SubmittedValue(**value.model_dump()) for value in command.values]
    uow.session.execute(insert(submissions).values(
        id=submission_id, obligation_id=row["id"], unit_code=row["unit_code"],
        submitted_by=command.submitted_by,
        values=json.dumps([v.model_dump() for v in values], ensure_ascii=False),
        submitted_at=now, on_time=on_time))
    uow.session.execute(update(obligations).where(obligations.c.id == row["id"]).values(
        state=domain.state_after_submission(row["state"])))
    uow.add_event(IndicatorSubmitted(
        submission_id=submission_id, obligation_id=row["id"], unit_code=row["unit_code"],
        directive_id=row["directive_id"], period=row["period"], values=values, submitted_at=now,
        due_at=domain.effective_due(row["due_at"], row["extended_due_at"]), on_time=on_time))
    return {"submission_id": submission_id, "obligation_id": row["id"], "on_time": on_time,
            "submitted_at": now.isoformat()}


def sweep_deadlines(database: Database, *, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Flag every open obligation past its effective deadline, once, emitting ``deadline missed``.

    Each batch is one transaction. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and the
    state change is conditional (``WHERE state = 'open'``), so two replicas sweeping at the same
    time never emit the same miss twice; a sweep after downtime simply finds everything overdue.
    """
    now = now or utcnow()
    total = 0
    while True:
        with database.unit_of_work() as uow:
            rows = uow.session.execute(
                select(obligations)
                .where(obligations.c.state == domain.ObligationState.OPEN, obligations.c.due_at < now)
                .order_by(obligations.c.due_at).limit(batch_size)
                .with_for_update(skip_locked=True)).mappings().all()
            missed = [row for row in rows
                      if domain.is_missed(row["state"], now, row["due_at"], row["extended_due_at"])]
            if not rows:
                return total
            for row in missed:
                changed = uow.session.execute(
                    update(obligations)
                    .where(obligations.c.id == row["id"], obligations.c.state == domain.ObligationState.OPEN)
                    .values(state=domain.ObligationState.MISSED, missed_at=now)).rowcount
                if changed:
                    uow.add_event(DeadlineMissed(
                        obligation_id=row["id"], unit_code=row["unit_code"],
                        directive_id=row["directive_id"], indicator_code=row["indicator_code"],
                        period=row["period"],
                        due_at=domain.effective_due(row["due_at"], row["extended_due_at"]),
                        detected_at=now), correlation_id=row["correlation_id"])
                    total += 1
            uow.commit()
            if len(rows) < batch_size or not missed:
                return total


# --- queries --------------------------------------------------------------------------------------

def _obligation_dict(row) -> dict:
    return {key: (value.isoformat() if isinstance(value, datetime) else value)
            for key, value in dict(row).items()}


def list_obligations(session, *, unit_code: str | None = None, directive_id: str | None = None,
                     state: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    query = select(obligations)
    if unit_code:
        query = query.where(obligations.c.unit_code == unit_code)
    if directive_id:
        query = query.where(obligations.c.directive_id == directive_id)
    if state:
        query = query.where(obligations.c.state == state)
    rows = session.execute(query.order_by(obligations.c.due_at, obligations.c.unit_code)
                           .limit(limit).offset(offset)).mappings()
    return [_obligation_dict(row) for row in rows]


def get_obligation(session, obligation_id: str) -> dict:
    row = session.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().first()
    if row is None:
        raise not_found("obligation_id", "ภาระการรายงาน", "obligation", obligation_id)
    result = _obligation_dict(row)
    history = session.execute(select(submissions).where(submissions.c.obligation_id == obligation_id)
                              .order_by(submissions.c.submitted_at)).mappings()
    result["submissions"] = [{**_obligation_dict(s), "values": json.loads(s["values"])} for s in history]
    return result
