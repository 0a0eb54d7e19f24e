"""The reporting store on both databases, migrated by alembic: live projection, queries, and a rebuild
that gives exactly the same read models."""
from __future__ import annotations

from datetime import date, datetime, timezone

from shared.db import Database
from shared.migrate import upgrade
from services.reporting import views
from services.reporting.rebuild import rebuild
from shared.contracts.events import OrgUnitChanged
from tests.unit.test_reporting import EXPECTED_STATUS, Feed, _achievement_world, _snapshot, scenario, statuses


def test_live_projection_queries_and_rebuild_on_a_migrated_store(database_url):
    upgrade("reporting", database_url)
    database = Database(database_url)
    try:
        feed = Feed(database)
        _achievement_world(feed)
        for event in scenario():
            feed(event)
        # LAO-C becomes a town municipality on 15 December 2026 (issue #16): the version it ends,
        # then the one it opens; November still counts it as a subdistrict municipality
        versions = ((date(2000, 1, 1), date(2026, 12, 15), "subdistrict_municipality", 1),
                    (date(2026, 12, 15), None, "town_municipality", 2))
        for valid_from, valid_to, lao_type, revision in versions:
            feed(OrgUnitChanged(code="LAO-C", level="lao", lao_type=lao_type, parent_code="DLO-0102",
                                name_th="ชื่อ LAO-C", valid_from=valid_from, valid_to=valid_to, revision=revision,
                                change_kind="type_changed", effective_date=date(2026, 12, 15)))
        with database.session() as session:
            by_type = {period: {row["lao_type"]: row["expected"] for row in
                                views.compliance(session, period=period)["by_lao_type"]}
                       for period in ("2569-11", "2569-12")}
        assert by_type["2569-11"]["subdistrict_municipality"] == 2 and "town_municipality" not in by_type["2569-11"]
        assert by_type["2569-12"]["town_municipality"] == 1 and "subdistrict_municipality" not in by_type["2569-12"]
        assert statuses(database) == {**EXPECTED_STATUS, **{k: v for k, v in statuses(database).items()
                                                             if k not in EXPECTED_STATUS}}
        now = datetime(2027, 1, 10, tzinfo=timezone.utc)
        with database.session() as session:
            national = views.compliance(session)
            achievement = views.achievement_report(session, "BUD-1", 2570, now=now)
            matrix = views.compliance_matrix(session, "PLO-01")
            late = views.overdue(session, now=now)
        assert national["totals"]["on_time_rate"] is not None and national["totals"]["on_time_rate"] <= 1
        # the scenario adds BMA's 50 against the LAO-wide 60: a second unit short and at risk
        assert achievement["summary"] == {"achieved": 2, "not_achieved": 2, "no_target": 1, "at_risk": 2,
                                          "no_data": 1}
        assert [row["code"] for row in matrix["rows"]] == ["DLO-0101", "DLO-0102", "PAO-01"]
        assert late["total"] >= 1
        live = _snapshot(database)
        result = rebuild(database, batch_size=5)
        assert _snapshot(database) == live
        assert result["events"] == len(feed.bodies)
        with database.session() as session:
            assert views.compliance(session) == national
    finally:
        database.dispose()


def test_project_many_gives_the_rows_of_project_one_at_a_time(database_url):
    """The set-based statements of rebuild and bulk loads (executemany, rounds, DBAPI upserts) on both
    databases: the same read models as one event at a time, on a shuffled random stream."""
    import random

    from sqlalchemy import delete

    from services.reporting import projection
    from services.reporting.rebuild import READ_MODELS
    from shared.contracts import encode
    from tests.unit.test_reporting_bulk import random_stream

    upgrade("reporting", database_url)
    database = Database(database_url)
    try:
        rng = random.Random(11)
        stream = random_stream(rng, obligations=60)
        rng.shuffle(stream)
        items = [(encode(event, correlation_id="c", occurred_at=at), event) for event, at in stream]
        with database.unit_of_work() as uow:
            for envelope, event in items:
                projection.project(uow.session, envelope, event)
            uow.commit()
        one_at_a_time = _snapshot(database)
        with database.unit_of_work() as uow:
            for table in READ_MODELS:
                uow.session.execute(delete(table))
            for start in range(0, len(items), 50):
                projection.project_many(uow.session, items[start:start + 50])
            uow.commit()
        assert _snapshot(database) == one_at_a_time
        assert one_at_a_time["rm_values"] and one_at_a_time["rm_achievement"]
    finally:
        database.dispose()
