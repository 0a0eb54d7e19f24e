"""The registry's versions in the stores of assessments and notifications (issue #16), on SQLite and
PostgreSQL: the migrations carry a unit over as its version, the copy keeps the highest revision of
each (code, valid_from) (the conditional upsert both dialects run), and a merger hands a rule over."""
from __future__ import annotations

from datetime import date, datetime, timezone

from alembic import command
from sqlalchemy import create_engine, select, text

from services.assessments import copies
from services.assessments import obligations as obligation_cases
from services.assessments.models import obligations, org_units
from services.notifications import planning as notifications
from services.notifications.models import org_unit_versions, recipients
from shared.contracts import encode
from shared.contracts.events import IndicatorSpec, OrgUnitChanged, ReportingRulePublished
from shared.db import Database
from shared.migrate import alembic_config, upgrade

BASE = date(2000, 1, 1)
MERGED_ON = date(2026, 12, 1)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)


def unit(code, valid_from=BASE, valid_to=None, revision=0, **extra):
    return OrgUnitChanged(code=code, level="lao", lao_type="sao", parent_code="DLO-1", name_th=code,
                          contact_email=f"{code.lower()}@x.test", valid_from=valid_from, valid_to=valid_to,
                          revision=revision, **extra)


def apply(database, handler, *events, **kwargs):
    for event in events:
        with database.unit_of_work() as uow:
            handler(event, uow, encode(event, correlation_id="c"), **kwargs)
            uow.commit()


def test_assessments_keeps_versions_and_hands_a_rule_to_the_successor(database_url, monkeypatch):
    config = alembic_config("assessments", database_url)
    command.upgrade(config, "0003_rpc_results")
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO org_units (code, level, lao_type, parent_code, valid_from) "
                                "VALUES ('SAO-A', 'lao', 'sao', 'DLO-1', '2000-01-01')"))
    engine.dispose()
    upgrade("assessments", database_url)
    for module in (copies, obligation_cases):
        monkeypatch.setattr(module, "utcnow", lambda: NOW)
    database = Database(database_url)
    try:
        apply(database, copies.on_org_unit_changed, unit("SAO-B"))
        rule = ReportingRulePublished(rule_id="r", indicators=[IndicatorSpec(code="I", name_th="ตัวชี้วัด")],
                                      unit_codes=["SAO-A", "SAO-B"], rrule="FREQ=MONTHLY;BYMONTHDAY=3")
        with database.unit_of_work() as uow:
            obligation_cases.on_reporting_rule_published(rule, uow, encode(rule, correlation_id="c"), now=NOW)
            uow.commit()
        apply(database, copies.on_org_unit_changed,
              unit("SAO-A", valid_to=MERGED_ON, revision=2, change_kind="merged", successor_codes=["TM-1"]),
              unit("SAO-A", revision=1),                                       # stale: ignored
              unit("TM-1", valid_from=MERGED_ON, change_kind="merged", predecessor_codes=["SAO-A"]))
        with database.session() as session:
            versions = session.execute(select(org_units.c.code, org_units.c.valid_from, org_units.c.valid_to,
                                              org_units.c.revision).order_by(org_units.c.code)).all()
            live = sorted(tuple(r) for r in session.execute(select(obligations.c.unit_code, obligations.c.period).where(
                obligations.c.state != "cancelled")))
        assert [tuple(v) for v in versions] == [("SAO-A", BASE, MERGED_ON, 2), ("SAO-B", BASE, None, 0),
                                                ("TM-1", MERGED_ON, None, 0)]
        # due 3 Dec and 4 Jan: November is the SAOs', December (from the merger on) SAO-B's and TM-1's
        assert live == [("SAO-A", "2569-11"), ("SAO-B", "2569-11"), ("SAO-B", "2569-12"), ("TM-1", "2569-12")]
    finally:
        database.dispose()
    command.downgrade(config, "0003_rpc_results")


def test_notifications_keeps_versions_and_the_closing_day(database_url):
    upgrade("notifications", database_url)
    database = Database(database_url)
    try:
        today = date(2026, 11, 23)
        apply(database, notifications.on_org_unit_changed,
              unit("SAO-A", valid_to=MERGED_ON, revision=2, change_kind="merged", successor_codes=["TM-1"]),
              unit("SAO-A", revision=1), today=today)
        with database.session() as session:
            stored = session.execute(select(org_unit_versions.c.valid_to, org_unit_versions.c.revision)).all()
            row = session.execute(select(recipients.c.valid_to, recipients.c.email).where(
                recipients.c.code == "SAO-A")).one()
        assert [tuple(s) for s in stored] == [("2026-12-01", 2)]
        assert tuple(row) == ("2026-12-01", "sao-a@x.test")
    finally:
        database.dispose()
    command.downgrade(alembic_config("notifications", database_url), "0002_selective_indexes")
