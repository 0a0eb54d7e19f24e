"""The plans store on both databases, migrated by alembic: seed 004, national issue, plan import."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from services.plans import handlers, memo_import, plan_handlers, plan_io
from services.plans.cli import registry_rows
from services.plans.commands import IssueDocument, RegisterUnits
from services.plans.models import assignments
from shared.config import REPO_ROOT
from shared.db import Database
from shared.messaging.tables import outbox
from shared.migrate import upgrade


def test_seed_004_and_the_reference_plans_on_a_migrated_store(database_url):
    upgrade("plans", database_url)
    database = Database(database_url)
    with database.unit_of_work() as uow:
        handlers.register_units(uow, RegisterUnits(units=registry_rows()))
        ids = memo_import.record_memo(uow)
        uow.commit()
    with database.unit_of_work() as uow:
        issued = handlers.issue_document(uow, IssueDocument(document_id=ids["documents"]["D3"]))
        uow.commit()
    with database.session() as session:
        d4 = handlers.get_document(session, ids["documents"]["D4"])
        d3 = handlers.get_document(session, ids["documents"]["D3"])
        per_level = dict(session.execute(select(assignments.c.unit_level, func.count())
                                         .group_by(assignments.c.unit_level)).all())
        events = Counter(session.execute(select(outbox.c.event_type)).scalars())
    assert [a["code"] for a in d4["anomalies"]] == ["forwarded_before_received"]
    assert sorted(r["receipt_no"] for r in d3["receipts"]) == ["002", "15", "296"]
    assert issued["assignment_count"] == sum(per_level.values())
    assert events["plans.assignment_created.v1"] == issued["assignment_count"]
    assert events["plans.reporting_rule_published.v1"] == 1
    for name in ("dla_strategic_plan.yaml", "chainat_provincial_plan.yaml", "tai_mueang_sao_plan.yaml"):
        document = plan_io.load_document((REPO_ROOT / "data" / "reference" / name).read_text("utf-8"))
        with database.unit_of_work() as uow:
            plan_handlers.import_plan(uow, document, source_name=name)
            uow.commit()
    with database.session() as session:
        plans = plan_handlers.list_plans(session)
        anomalies = plan_handlers.list_anomalies(session)
    assert {p["counts"]["indicators"] for p in plans} >= {49, 15}
    assert {a["code"] for a in anomalies} >= {"declared_total_mismatch"}
    database.dispose()

