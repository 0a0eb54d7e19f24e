"""Frameworks per BE year: import (with a dry run) and the year beside the previous one."""
from __future__ import annotations

import json

from sqlalchemy import func, insert, select, update

from services.assessments.lpa import domain
from services.assessments.lpa.models import lpa_frameworks, lpa_rounds
from shared.contracts import utcnow
from shared.contracts.commands.lpa import ImportLpaFramework
from shared.contracts.lpa_framework import LpaFramework
from shared.db import UnitOfWork
from shared.errors import conflict, not_found


def load(session, year_be: int, field: str = "year_be") -> LpaFramework:
    document = session.execute(select(lpa_frameworks.c.document).where(lpa_frameworks.c.year_be == year_be)).scalar()
    if document is None:
        raise not_found(field, "หลักเกณฑ์การประเมิน LPA ปี", "LPA framework of year", year_be)
    return LpaFramework.model_validate_json(document)


def previous_year(session, year_be: int) -> int | None:
    return session.execute(select(func.max(lpa_frameworks.c.year_be)).where(lpa_frameworks.c.year_be < year_be)).scalar()


def summary(framework: LpaFramework) -> dict:
    return {"year_be": framework.year_be, "name_th": framework.name_th, "synthetic": framework.synthetic,
            "areas": len(framework.areas), "indicators": len(framework.indicators()),
            "pilot_indicators": sum(1 for _, indicator in framework.indicators() if indicator.pilot),
            "max_points": sum(indicator.max_points for _, indicator in framework.indicators() if not indicator.pilot)}


def import_framework(command: ImportLpaFramework, uow: UnitOfWork) -> dict:
    """Store (or, with ``dry_run``, only check) a year's framework, and say what changed from the
    previous year's. A year whose round is open keeps its framework: scores already refer to it."""
    framework = command.framework
    session = uow.session
    if session.execute(select(lpa_rounds.c.id).where(lpa_rounds.c.year_be == framework.year_be)).first():
        raise conflict("framework.year_be", f"เปิดรอบการประเมินปี {framework.year_be} แล้ว แก้หลักเกณฑ์ไม่ได้",
                       f"the {framework.year_be} round is open: its framework can no longer change")
    before = previous_year(session, framework.year_be)
    changes = domain.changes(load(session, before) if before else None, framework)
    version = (session.execute(select(lpa_frameworks.c.version).where(
        lpa_frameworks.c.year_be == framework.year_be)).scalar() or 0) + 1
    if not command.dry_run:
        row = {"version": version, "name_th": framework.name_th, "synthetic": framework.synthetic,
               "document": framework.model_dump_json(), "imported_at": utcnow(), "imported_by": command.imported_by}
        if version == 1:
            session.execute(insert(lpa_frameworks).values(year_be=framework.year_be, **row))
        else:
            session.execute(update(lpa_frameworks).where(lpa_frameworks.c.year_be == framework.year_be).values(**row))
    return {**summary(framework), "version": version, "dry_run": command.dry_run, "previous_year_be": before,
            "changes": [change.as_dict() for change in changes]}


def framework_view(session, year_be: int) -> dict:
    """The year's framework, whole, with what changed from the previous year's."""
    framework = load(session, year_be)
    row = session.execute(select(lpa_frameworks).where(lpa_frameworks.c.year_be == year_be)).mappings().one()
    before = previous_year(session, year_be)
    return {**summary(framework), "version": row["version"], "imported_at": row["imported_at"].isoformat(),
            "previous_year_be": before, "document": json.loads(row["document"]),
            "changes": [change.as_dict() for change in domain.changes(load(session, before) if before else None,
                                                                      framework)]}


def frameworks_list(session) -> dict:
    rows = session.execute(select(lpa_frameworks.c.year_be, lpa_frameworks.c.version, lpa_frameworks.c.name_th,
                                  lpa_frameworks.c.synthetic, lpa_frameworks.c.imported_at)
                           .order_by(lpa_frameworks.c.year_be.desc())).mappings().all()
    return {"items": [{**row, "imported_at": row["imported_at"].isoformat()} for row in rows]}
