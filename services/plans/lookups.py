"""Reads the use cases and the views share: the registry as it is on a day, a document by id,
the dates it was received, and a stored row as a JSON-ready dict. Each takes a session."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import or_, select

from services.plans import domain
from services.plans.models import documents, org_units, receipts
from shared.contracts import utcnow
from shared.errors import not_found
from shared.thai import BANGKOK


def bangkok_today() -> date:
    """Today's date in Bangkok: the day a registry change without a date takes effect."""
    return utcnow().astimezone(BANGKOK).date()


def units_on(session, day: date | None = None) -> dict[str, dict]:
    """The units as they are on ``day`` (default today in Bangkok): the version of each code that
    holds on that day, so a unit opening later is not there yet and one closing later still is."""
    day = day or bangkok_today()
    rows = session.execute(select(org_units).where(
        org_units.c.valid_from <= day, or_(org_units.c.valid_to.is_(None), org_units.c.valid_to > day))).mappings()
    return {row["code"]: dict(row) for row in rows}


def domain_units(current: dict[str, dict]) -> list[domain.Unit]:
    """The rows of ``units_on`` as the plain ``domain.Unit`` the rules take."""
    return [domain.Unit(code=row["code"], level=row["level"], parent_code=row["parent_code"],
                        lao_type=row["lao_type"], province_code=row["province_code"],
                        district_code=row["district_code"]) for row in current.values()]


def row_dict(row, drop=()) -> dict:
    """A stored row as a JSON-ready dict (dates and times as ISO text), without the ``drop`` columns."""
    return {key: (value.isoformat() if isinstance(value, (date, datetime)) else value)
            for key, value in dict(row).items() if key not in drop}


def require_document(session, document_id: str, field: str) -> dict:
    row = session.execute(select(documents).where(documents.c.id == document_id)).mappings().first()
    if row is None:
        raise not_found(field, "หนังสือ", "document", document_id)
    return dict(row)


def receipt_dates(session, document_id: str) -> list[date]:
    return list(session.execute(select(receipts.c.received_on)
                                .where(receipts.c.document_id == document_id)).scalars())
