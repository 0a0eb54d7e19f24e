"""Queries of the registry and the directive cascade (the read side): units as on a day, a
unit's history, addressee previews, documents, directives, attachments, assignments and the
cascade figures of a directive. Each takes a read session and returns JSON-ready dicts;
``visible_to`` (a caller's subtree, None for everything) restricts what is found (scope.py).
Development plans have their own views (development_plans/views.py).
"""
from __future__ import annotations

import base64
import json
from datetime import date, datetime

from sqlalchemy import case, func, or_, select

from services.plans import domain, scope
from services.plans.lookups import bangkok_today, domain_units, require_document, row_dict, units_on
from services.plans.models import assignments, attachments, directives, documents, org_units, receipts
from shared import cascade as cascade_figures
from shared.contracts import utcnow
from shared.errors import invalid, not_found
from shared.listing import order_by
from shared.validation import safe_filename
from shared.vocabulary import LAO_TYPES, LEVELS, level_rank


# --- the registry -------------------------------------------------------------------------------

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
    for name, value, allowed in (("level", level, LEVELS), ("lao_type", lao_type, LAO_TYPES)):
        if value and value not in allowed:
            raise invalid(name, f"{name} ต้องเป็นหนึ่งใน {', '.join(allowed)}", f"{name} must be one of {', '.join(allowed)}")
    if level:
        query = query.where(org_units.c.level == level)
    if lao_type:
        query = query.where(org_units.c.lao_type == lao_type)
    if codes is not None:
        query = query.where(org_units.c.code.in_(codes))
    if within:
        current = units_on(session, on)
        if within not in current:
            raise not_found("within", "หน่วยงาน", "unit", within)
        query = query.where(org_units.c.code.in_(domain.subtree(within, domain_units(current))))
    if search:
        query = query.where(org_units.c.name_th.contains(search) | org_units.c.code.contains(search))
    ordering = order_by(org_units, sort, ("code", "name_th", "level", "lao_type", "valid_from"), ("code",))
    rows = session.execute(query.order_by(*ordering).limit(limit).offset(offset)).mappings()
    return [unit_dict(row) for row in rows]


def unit_dict(row) -> dict:
    item = row_dict(row, drop=("id",))
    item["predecessor_codes"] = json.loads(row["predecessor_codes"] or "[]")
    item["successor_codes"] = json.loads(row["successor_codes"] or "[]")
    return item


def preview_addressees(session, rule: dict) -> dict:
    """How many units an addressee rule reaches, by level, with a sample (before issuing)."""
    current = units_on(session)
    codes = domain.resolve_addressees(rule, domain_units(current))
    by_level: dict[str, int] = {}
    for code in codes:
        by_level[current[code]["level"]] = by_level.get(current[code]["level"], 0) + 1
    return {"count": len(codes), "by_level": by_level,
            "sample": [{"code": c, "name_th": current[c]["name_th"]} for c in codes[:20]]}


def registry_counts(session, on: date | None = None) -> dict:
    """Units by level as they are on ``on`` (default today in Bangkok)."""
    on = on or bangkok_today()
    rows = session.execute(select(org_units.c.level, func.count()).where(
        org_units.c.valid_from <= on, or_(org_units.c.valid_to.is_(None), org_units.c.valid_to > on))
        .group_by(org_units.c.level)).all()
    return {level: count for level, count in rows}


def unit_history(session, code: str) -> list[dict]:
    """Every version of a unit, oldest first, with the change that made it, the one that ended it,
    and its predecessors and successors (names as they were on the day of the change)."""
    rows = session.execute(select(org_units).where(org_units.c.code == code)
                           .order_by(org_units.c.valid_from)).mappings().all()
    if not rows:
        raise not_found("code", "หน่วยงาน", "unit", code)
    return [unit_dict(row) for row in rows]


# --- documents, directives, assignments ------------------------------------------------------------

def get_document(session, document_id: str, visible_to: list[str] | None = None) -> dict:
    scope.check_visible(session, document_id, visible_to)
    document = require_document(session, document_id, "document_id")
    items = session.execute(select(directives).where(directives.c.document_id == document_id)
                            .order_by(directives.c.item_ref, directives.c.id)).mappings().all()
    files = session.execute(select(attachments.c.id, attachments.c.filename, attachments.c.content_type,
                                   attachments.c.size, attachments.c.sha256)
                            .where(attachments.c.document_id == document_id)).mappings().all()
    query = select(receipts).where(receipts.c.document_id == document_id)
    if visible_to is not None:  # another unit's register is its own business
        query = query.where(receipts.c.unit_code.in_(visible_to))
    registered = session.execute(query.order_by(receipts.c.received_on, receipts.c.created_at)).mappings().all()
    result = row_dict(document)
    result.update(references=json.loads(document["references"]), anomalies=json.loads(document["anomalies"]),
                  items=[directive_dict(item) for item in items],
                  attachments=[{**f, "filename": safe_filename(f["filename"])} for f in files],
                  receipts=[row_dict(r) for r in registered])
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
    return [row_dict(row) for row in rows]


def directive_dict(row) -> dict:
    result = row_dict(row)
    result["addressees"] = json.loads(row["addressees"])
    result["reporting"] = json.loads(row["reporting"]) if row["reporting"] else None
    return result


def get_directive(session, directive_id: str, visible_to: list[str] | None = None) -> dict:
    row = session.execute(select(directives).where(directives.c.id == directive_id)).mappings().first()
    if row is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    scope.check_visible(session, row["document_id"], visible_to, "directive_id")
    document = require_document(session, row["document_id"], "document_id")
    query = select(assignments).where(assignments.c.directive_id == directive_id)
    if visible_to is not None:  # only the assignments of the caller's own subtree
        query = query.where(assignments.c.unit_code.in_(visible_to))
    items = session.execute(query.order_by(assignments.c.unit_code)).mappings().all()
    result = directive_dict(row)
    result.update(document_number=document["number_printed"], subject_th=document["subject_th"],
                  urgency=document["urgency"], document_date=document["document_date"].isoformat(),
                  assignments=[row_dict(a) for a in items])
    return result


def get_assignment(session, assignment_id: str) -> dict:
    """One assignment row as stored (the gateway's audit before-image of an assignment action)."""
    row = session.execute(select(assignments).where(assignments.c.id == assignment_id)).mappings().first()
    if row is None:
        raise not_found("assignment_id", "ข้อสั่งการที่มอบหมาย", "assignment", assignment_id)
    return row_dict(row)


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
    return [{**row_dict(row), "overdue": domain.is_overdue(row["state"], row["acknowledge_due_at"], now)}
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
    scope.check_visible(session, directive[0], visible_to, "directive_id")
    issued_at, issuer_code = directive[1], directive[2]
    rows = session.execute(select(assignments).where(assignments.c.directive_id == directive_id)).mappings().all()
    by_id = {row["id"]: row for row in rows}  # parents outside the scope still give the hop time
    if visible_to is not None:
        in_scope = set(visible_to)
        rows = [row for row in rows if row["unit_code"] in in_scope]
    # each unit's name as it is today, or as it was when it last existed (a unit merged since)
    names = dict(session.execute(select(org_units.c.code, org_units.c.name_th)
                                 .order_by(org_units.c.valid_from)).all())
    names.update({code: row["name_th"] for code, row in units_on(session).items()})
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
            "units": [serialize(u) for u in sorted(units, key=lambda u: (level_rank(u["level"]), u["unit_code"]))],
            "slowest_acknowledgements": [serialize(u) for u in slowest],
            "longest_waiting": [serialize(u) for u in waiting]}


def get_attachment(session, attachment_id: str, visible_to: list[str] | None = None) -> dict:
    row = session.execute(select(attachments).where(attachments.c.id == attachment_id)).mappings().first()
    if row is None:
        raise not_found("attachment_id", "ไฟล์แนบ", "attachment", attachment_id)
    scope.check_visible(session, row["document_id"], visible_to, "attachment_id")
    # a name stored before names were cleaned on upload ("../../etc/passwd") is served as its last segment
    return {**row_dict(row, drop=("content",)), "filename": safe_filename(row["filename"]),
            "content_base64": base64.b64encode(row["content"]).decode()}
