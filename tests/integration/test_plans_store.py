"""The plans store on both databases, migrated by alembic: seed 004, national issue, plan import."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from services.plans import document_actions, memo_import, unit_changes, views
from services.plans.development_plans import importing, reading
from services.plans.development_plans import views as plan_views
from services.plans.cli import registry_rows
from shared.contracts.commands.plans import IssueDocument, RegisterUnits
from services.plans.models import assignments
from shared.config import REPO_ROOT
from shared.db import Database
from shared.messaging.tables import outbox
from shared.migrate import upgrade


def test_seed_004_and_the_reference_plans_on_a_migrated_store(database_url):
    upgrade("plans", database_url)
    database = Database(database_url)
    with database.unit_of_work() as uow:
        unit_changes.register_units(RegisterUnits(units=registry_rows()), uow)
        ids = memo_import.record_memo(uow)
        uow.commit()
    with database.unit_of_work() as uow:
        issued = document_actions.issue_document(IssueDocument(document_id=ids["documents"]["D3"]), uow)
        uow.commit()
    with database.session() as session:
        d4 = views.get_document(session, ids["documents"]["D4"])
        d3 = views.get_document(session, ids["documents"]["D3"])
        per_level = dict(session.execute(select(assignments.c.unit_level, func.count())
                                         .group_by(assignments.c.unit_level)).all())
        events = Counter(session.execute(select(outbox.c.event_type)).scalars())
    assert [a["code"] for a in d4["anomalies"]] == ["forwarded_before_received"]
    assert sorted(r["receipt_no"] for r in d3["receipts"]) == ["002", "15", "296"]
    assert issued["assignment_count"] == sum(per_level.values())
    assert events["plans.assignment_created.v1"] == issued["assignment_count"]
    assert events["plans.reporting_rule_published.v1"] == 1
    for name in ("dla_strategic_plan.yaml", "chainat_provincial_plan.yaml", "tai_mueang_sao_plan.yaml"):
        document = reading.load_document((REPO_ROOT / "data" / "reference" / name).read_text("utf-8"))
        with database.unit_of_work() as uow:
            importing.import_plan(document, uow, source_name=name)
            uow.commit()
    with database.session() as session:
        plans = plan_views.list_plans(session)
        anomalies = plan_views.list_anomalies(session)
    assert {p["counts"]["indicators"] for p in plans} >= {49, 15}
    assert {a["code"] for a in anomalies} >= {"declared_total_mismatch"}
    database.dispose()



def test_versions_of_a_unit_can_neither_invert_nor_overlap_in_the_store(database_url):
    """Migration 0006: a CHECK on both stores; on PostgreSQL an exclusion constraint over the date
    range of each code, when btree_gist could be created (else the domain check alone guards)."""
    import pytest
    from sqlalchemy import create_engine, exc, text
    upgrade("plans", database_url)
    engine = create_engine(database_url)
    row = ("INSERT INTO org_units (code, level, name_th, valid_from, valid_to) "
           "VALUES (:code, 'lao', 'x', :start, :end)")
    with pytest.raises(exc.IntegrityError), engine.begin() as connection:
        connection.execute(text(row), {"code": "LAO-1", "start": "2026-12-07", "end": "2026-12-01"})
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            guarded = connection.execute(text(
                "SELECT count(*) FROM pg_constraint WHERE conname = 'ex_org_units_no_overlap'")).scalar()
        if not guarded:
            engine.dispose()
            pytest.skip("btree_gist could not be created here: only the domain check guards overlaps")
        with pytest.raises(exc.IntegrityError), engine.begin() as connection:
            connection.execute(text(row), {"code": "LAO-2", "start": "2026-01-01", "end": None})
            connection.execute(text(row), {"code": "LAO-2", "start": "2026-06-01", "end": None})
    engine.dispose()
