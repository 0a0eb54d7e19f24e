"""Who sees what: a unit sees its own subtree, the documents it sent and the documents and
directives with an assignment somewhere in its subtree. What a unit may not see is reported as not
found (404), with no hint that it exists. ``visible_to`` None means the caller sees everything."""
from __future__ import annotations

from sqlalchemy import select

from services.plans import domain
from services.plans.lookups import domain_units, require_document, units_on
from services.plans.models import assignments, directives, documents
from shared.errors import not_found


def subtree_codes(session, root: str) -> list[str]:
    """Every current unit at or below root (used by the gateway to scope a user)."""
    current = units_on(session)
    if root not in current:
        raise not_found("code", "หน่วยงาน", "unit", root)
    return sorted(domain.subtree(root, domain_units(current)))


def check_visible(session, document_id: str, visible_to: list[str] | None, field: str = "document_id") -> None:
    """A unit sees a document it sent, or one with an assignment somewhere in its subtree;
    otherwise it is reported as not found (no hint that it exists). None: sees everything."""
    if visible_to is None:
        return
    scope = set(visible_to)
    document = require_document(session, document_id, field)
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
