"""The reporting store on both databases, migrated by alembic: live projection, queries, and a rebuild
that gives exactly the same read models."""
from __future__ import annotations

from datetime import datetime, timezone

from shared.db import Database
from shared.migrate import upgrade
from services.reporting import queries
from services.reporting.rebuild import rebuild
from tests.unit.test_reporting import EXPECTED_STATUS, Feed, _achievement_world, _snapshot, scenario, statuses


def test_live_projection_queries_and_rebuild_on_a_migrated_store(database_url):
    upgrade("reporting", database_url)
    database = Database(database_url)
    try:
        feed = Feed(database)
        _achievement_world(feed)
        for event in scenario():
            feed(event)
        assert statuses(database) == {**EXPECTED_STATUS, **{k: v for k, v in statuses(database).items()
                                                             if k not in EXPECTED_STATUS}}
        now = datetime(2027, 1, 10, tzinfo=timezone.utc)
        with database.session() as session:
            national = queries.compliance(session)
            achievement = queries.achievement_report(session, "BUD-1", 2570, now=now)
            matrix = queries.compliance_matrix(session, "PLO-01")
            late = queries.overdue(session, now=now)
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
            assert queries.compliance(session) == national
    finally:
        database.dispose()
