"""Submissions: values of an obligation by form (``submit_values``), JSON batch (``submit_batch``)
and CSV/XLSX file (``submit_file``). Commands, ``(command, uow)``.

Each item is checked by the domain's rules (``domain.check_window`` then ``domain.check_values``)
over the facts ``facts.Facts`` loads once per call; a batch or a file is validated as a whole
before anything is written, then all or nothing (default) or the good items only. Storing is
set-based (``_record_many``: a handful of statements whatever the number of items); each stored
submission supersedes a pending one and is announced (``IndicatorSubmitted``).
"""
from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, select, update

from services.assessments import bulk, domain, schedule
from services.assessments.domain import ObligationState as O
from services.assessments.facts import Facts
from services.assessments.models import obligations, submission_values, submissions
from services.assessments.obligations import obligation_row
from shared.contracts import utcnow
from shared.contracts.commands.assessments import BatchItem, SubmitBatch, SubmitValues
from shared.contracts.events import IndicatorSubmitted, SubmittedValue
from shared.db import UnitOfWork
from shared.errors import InputError, forbidden, invalid, not_found


def _validate(facts: Facts, row: dict, unit_code: str, values, now: datetime, prefix: str) -> list[dict]:
    """Checked values ready to store; raises InputError naming the field."""
    closed = None
    if domain.closure_matters(row, unit_code):
        closed = facts.closed_error(unit_code, row["period"], row["period_start"], f"{prefix}unit_code")
    domain.check_window(row, unit_code, now, prefix, closed)
    wanted = json.loads(row["indicator_codes"])
    return domain.check_values(wanted, values, facts.rules_for(row, wanted), prefix)


def _record(uow: UnitOfWork, row: dict, checked: list[dict], *, now: datetime, submitted_by: str | None,
            submitter_unit: str | None, via: str) -> dict:
    return _record_many(uow, [(row, checked)], now=now, submitted_by=submitted_by, submitter_unit=submitter_unit,
                        via=via)[0]


def _record_many(uow: UnitOfWork, good: list[tuple[dict, list[dict]]], *, now: datetime,
                 submitted_by: str | None, submitter_unit: str | None, via: str) -> list[dict]:
    """Store checked submissions with a handful of statements, whatever their number."""
    if not good:
        return []
    session = uow.session
    ids = [row["id"] for row, _ in good]
    session.execute(update(submissions).where(submissions.c.obligation_id.in_(ids),
                                              submissions.c.status == "pending").values(status="superseded"))
    submission_rows, value_rows, results = [], [], []
    returned = [row["id"] for row, _ in good if row["state"] == O.RETURNED]
    returned_on_time = dict(session.execute(
        select(submissions.c.obligation_id, submissions.c.on_time).where(
            submissions.c.obligation_id.in_(returned), submissions.c.status == "returned")
        .order_by(submissions.c.submitted_at)).all()) if returned else {}
    for row, checked in good:
        on_time = domain.submission_on_time(now, row, returned_on_time.get(row["id"]))
        submission_id = str(uuid.uuid4())
        submission_rows.append({
            "id": submission_id, "obligation_id": row["id"], "unit_code": row["unit_code"],
            "submitted_by": submitted_by,
            "submitted_for_by_unit": submitter_unit if submitter_unit != row["unit_code"] else None, "via": via,
            "submitted_at": now, "on_time": on_time, "status": "pending"})
        value_rows.extend({"submission_id": submission_id, **value} for value in checked)
        uow.add_event(IndicatorSubmitted(
            submission_id=submission_id, obligation_id=row["id"], unit_code=row["unit_code"],
            directive_id=row["directive_id"], period=row["period"],
            values=[SubmittedValue(indicator_code=v["indicator_code"], value=v["value"], note=v["note"])
                    for v in checked],
            submitted_at=now, due_at=domain.effective_due(row["due_at"], row["extended_due_at"]), on_time=on_time))
        results.append({"submission_id": submission_id, "obligation_id": row["id"], "unit_code": row["unit_code"],
                        "on_time": on_time, "submitted_at": now.isoformat()})
    session.execute(insert(submissions), submission_rows)
    session.execute(insert(submission_values), value_rows)
    session.execute(update(obligations).where(obligations.c.id.in_(ids)).values(state=O.SUBMITTED))
    return results


def _obligation(session, obligation_id: str, field: str = "obligation_id") -> dict:
    row = session.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().first()
    if row is None:
        raise not_found(field, "ภาระการรายงาน", "obligation", obligation_id)
    return dict(row)


def submit_values(command: SubmitValues, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = obligation_row(uow.session, command.obligation_id)
    facts = Facts(uow.session)
    if not facts.may_act_for(command.submitter_unit_code, command.unit_code):
        raise forbidden("unit_code", "ส่งรายงานแทนหน่วยงานนอกสังกัดไม่ได้", "cannot submit for a unit outside your own")
    checked = _validate(facts, row, command.unit_code, command.values, now, "")
    return _record(uow, row, checked, now=now, submitted_by=command.submitted_by,
                   submitter_unit=command.submitter_unit_code, via="form")



def _period_start(period: str) -> date | None:
    try:
        return schedule.period_bounds(schedule.canonical_period(period))[0]
    except (InputError, ValueError, TypeError):
        return None


def _find_by_period(session, item: BatchItem) -> dict | None:
    candidates = session.execute(select(obligations).where(
        obligations.c.unit_code == item.unit_code, obligations.c.period == item.period,
        obligations.c.state != O.CANCELLED)).mappings().all()
    wanted = {value.indicator_code for value in item.values}
    matching = [dict(row) for row in candidates if wanted <= set(json.loads(row["indicator_codes"]))]
    return matching[0] if len(matching) == 1 else None


def _check_batch(facts: Facts, items: list[BatchItem], submitter_unit_code: str, now: datetime
                 ) -> tuple[list[tuple[dict, list[dict]]], list[dict]]:
    """Validate every item without writing: (obligation row, checked values) per good item, and
    the errors of the others (index, field, code, messages)."""
    facts.load_units({item.unit_code for item in items})
    ids = [item.obligation_id for item in items if item.obligation_id]
    by_id = {row["id"]: dict(row) for row in facts.session.execute(
        select(obligations).where(obligations.c.id.in_(ids))).mappings()} if ids else {}
    seen: set[str] = set()
    good, errors = [], []
    for index, item in enumerate(items):
        prefix = f"items[{index}]."
        try:
            if not facts.may_act_for(submitter_unit_code, item.unit_code):
                raise forbidden(f"{prefix}unit_code", "ส่งรายงานแทนหน่วยงานนอกสังกัดไม่ได้",
                                "cannot submit for a unit outside your own")
            if item.obligation_id:
                row = by_id.get(item.obligation_id)
                if row is None:
                    raise not_found(f"{prefix}obligation_id", "ภาระการรายงาน", "obligation", item.obligation_id)
            elif item.period:
                row = _find_by_period(facts.session, item)
                if row is None and (closed := facts.closed_error(item.unit_code, item.period,
                                                              _period_start(item.period), f"{prefix}unit_code")):
                    raise closed
                if row is None:
                    raise not_found(f"{prefix}period", "ภาระการรายงานของงวดนี้", "obligation for unit and period",
                                    f"{item.unit_code} {item.period}")
            else:
                raise invalid(f"{prefix}obligation_id", "ต้องระบุ obligation_id หรือ period",
                              "give obligation_id or period")
            if row["id"] in seen:
                raise invalid(f"{prefix}obligation_id", "รายงานซ้ำในชุดเดียวกัน",
                              "the same report appears twice in the batch")
            seen.add(row["id"])
            good.append((row, _validate(facts, row, item.unit_code, item.values, now, prefix)))
        except InputError as error:
            errors.append({"index": index, "field": error.field, "code": error.code,
                           "message_th": error.message_th, "message_en": error.message_en})
    return good, errors


def submit_batch(command: SubmitBatch, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    """Validate every item, then store: all or nothing (default), or the good items only.
    Returns a report: accepted submissions and, per rejected item, the field and reason."""
    now = now or utcnow()
    good, errors = _check_batch(Facts(uow.session), command.items, command.submitter_unit_code, now)
    stored = []
    if not errors or command.mode == "keep_good":
        stored = _record_many(uow, good, now=now, submitted_by=command.submitted_by,
                              submitter_unit=command.submitter_unit_code, via=command.via)
    return {"mode": command.mode, "received": len(command.items), "accepted": len(stored),
            "rejected": len(errors), "errors": errors, "submissions": stored}



FILE_COLUMNS = {"value": "value", "note": "note", "indicator_code": "indicator_code", "unit_code": "unit_code",
                "period": "period", "obligation_id": "period"}


@dataclass(frozen=True)
class SubmitFile:
    """An uploaded file of values, as the RPC entrypoint receives it (base64 content)."""

    content_base64: str
    filename: str
    submitter_unit_code: str
    submitted_by: str | None = None
    mode: str = "all_or_nothing"   # or keep_good_rows


def submit_file(command: SubmitFile, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    """A CSV/XLSX file of rows (unit, indicator, period, value, note). Rows are checked one by one
    and grouped into one submission per (unit, period); every problem comes back by row and
    column. By default one bad row rejects the whole file; ``keep_good_rows`` stores the
    submissions whose rows are all good."""
    now = now or utcnow()
    filename, submitter_unit_code, submitted_by, mode = (command.filename, command.submitter_unit_code,
                                                         command.submitted_by, command.mode)
    try:
        data = base64.b64decode(command.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("file", "ไฟล์เสียหาย", "the file is not valid base64") from None
    facts = Facts(uow.session)
    parsed = bulk.parse_bulk(data, filename, indicators={code: facts.rule(code, None) for code in facts.indicators},
                             mode="keep_good_rows")
    errors = [{"row": e.row, "column": e.column, "code": e.code, "message_th": e.message_th,
               "message_en": e.message_en} for e in parsed.errors]
    bad_rows = {e.row for e in parsed.errors}
    groups: dict[tuple[str, str], list[bulk.BulkRow]] = defaultdict(list)
    for row in parsed.rows:
        groups[(row.unit_code, row.period)].append(row)
    items, rows_of_item = [], []
    for (unit_code, period), rows in groups.items():
        items.append(BatchItem(unit_code=unit_code, period=period, values=[
            {"indicator_code": r.indicator_code, "value": r.value, "note": r.note} for r in rows]))
        rows_of_item.append([r.row for r in rows])
    if not items and not errors:
        raise invalid("file", "ไฟล์ไม่มีข้อมูล", "the file has no data rows")
    good, item_errors = _check_batch(facts, items, submitter_unit_code, now)
    for error in item_errors:
        column = next((c for name, c in FILE_COLUMNS.items() if error["field"].endswith(name)), None)
        for row_number in rows_of_item[error["index"]]:
            errors.append({"row": row_number, "column": column, "code": error["code"],
                           "message_th": error["message_th"], "message_en": error["message_en"]})
    stored = []
    if not errors or mode == "keep_good_rows":  # `good` holds exactly the items that passed
        stored = _record_many(uow, good, now=now, submitted_by=submitted_by, submitter_unit=submitter_unit_code,
                              via="file")
    errors.sort(key=lambda e: (e["row"], e["column"] or ""))
    return {"filename": filename, "format": parsed.file_format, "encoding": parsed.encoding, "mode": mode,
            "data_rows": parsed.data_rows, "rows_with_errors": len({e["row"] for e in errors} | bad_rows),
            "accepted_submissions": len(stored), "errors": errors, "submissions": stored}

