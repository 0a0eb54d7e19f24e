"""Reporting's LPA read models on both databases, migrated by alembic (0008_lpa): a round projected
live, in shuffled set-based batches with duplicates, rebuilt, and read at national scale."""
from __future__ import annotations

import random
import time
from datetime import timedelta

from sqlalchemy import delete, select

from services.reporting import projection, views_lpa
from services.reporting.models import lpa_areas, lpa_follow_ups, lpa_results, lpa_rounds
from services.reporting.rebuild import rebuild
from shared.contracts import encode
from shared.contracts.events import LpaAssessmentFinalised
from shared.db import Database
from shared.migrate import upgrade
from shared.ranking import ranks_within
from tests.unit.test_reporting import Feed
from tests.unit.test_reporting_lpa import PUBLISH_ON, T, _snapshot, _story, opened, published


def test_lpa_round_live_shuffled_and_rebuilt_on_a_migrated_store(database_url):
    upgrade("reporting", database_url)
    database = Database(database_url)
    try:
        feed = Feed(database)
        feed.registry()
        story = _story()
        for event in story:
            feed(event)
        live = _snapshot(database)
        with database.session() as session:
            page = views_lpa.lpa_results(session, 2569, public_only=True, today=PUBLISH_ON)
            summary = views_lpa.lpa_summary(session, 2569, "PLO-01", today=PUBLISH_ON)
        assert page["total"] == 4 and page["public"]  # LAO-D was returned and not finalised again
        assert [row["code"] for row in summary["children"]] == ["DLO-0101", "DLO-0102", "PAO-01"]
        assert rebuild(database, batch_size=3)["events"] == len(feed.bodies)
        assert _snapshot(database) == live
        # the story in its order, then shuffled with duplicates, in set-based batches: the same rows
        rng = random.Random(3)
        times = {id(event): n for n, event in enumerate(story)}
        shuffled = story + rng.sample(story, 8)
        rng.shuffle(shuffled)
        snapshots = []
        for stream, size in ((story, len(story)), (shuffled, 7)):
            with database.unit_of_work() as uow:
                for table in (lpa_rounds, lpa_results, lpa_areas, lpa_follow_ups):
                    uow.session.execute(delete(table))
                for start in range(0, len(stream), size):
                    projection.project_many(uow.session, [
                        (encode(event, correlation_id="c", occurred_at=T + timedelta(seconds=times[id(event)])),
                         event) for event in stream[start:start + size]])
                uow.commit()
            snapshots.append(_snapshot(database))
        assert snapshots[0] == snapshots[1]
        assert snapshots[0]["rm_lpa_results"] == live["rm_lpa_results"]
    finally:
        database.dispose()


def test_lpa_results_at_national_scale(database_url):
    """~7,850 LAOs in 76 provinces: ranks are shared.ranking's, and a public page is a few ms."""
    upgrade("reporting", database_url)
    database = Database(database_url)
    try:
        rng = random.Random(19)
        types = ["sao", "subdistrict_municipality", "town_municipality", "city_municipality", "pao"]
        events, values, province_of, type_of = [opened()], {}, {}, {}
        for n in range(7850):
            unit, province, lao_type = f"L{n:05d}", f"PLO-{rng.randint(1, 76):02d}", rng.choice(types)
            value = round(rng.uniform(30, 99), 1)
            key = f"a-{unit}"
            values[key], province_of[key], type_of[key] = value, province, lao_type
            events.append(LpaAssessmentFinalised(
                assessment_id=key, round_id="round-2569", year_be=2569, unit_code=unit, lao_type=lao_type,
                province_code=province, district_code=f"D{province}-{n % 12}", points=value, max_points=100,
                pass_value=value, passed=value >= 60, areas=[], finalised_at=T))
        events.append(published())
        items = [(encode(event, correlation_id="c", occurred_at=T), event) for event in events]
        started = time.perf_counter()
        with database.unit_of_work() as uow:
            for start in range(0, len(items), 5000):
                projection.project_many(uow.session, items[start:start + 5000])
            uow.commit()
        projected = time.perf_counter() - started
        with database.session() as session:
            stored = {row[0]: (row[1], row[2]) for row in session.execute(select(
                lpa_results.c.assessment_id, lpa_results.c.rank_province, lpa_results.c.rank_lao_type))}
        by_province, by_type = ranks_within(values, province_of), ranks_within(values, type_of)
        assert stored == {key: (by_province[key], by_type[key]) for key in values}
        timings = []
        with database.session() as session:
            for _ in range(5):
                started = time.perf_counter()
                page = views_lpa.lpa_results(session, 2569, province_code="PLO-07", public_only=True,
                                             today=PUBLISH_ON, limit=50)
                timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            nation = views_lpa.lpa_summary(session, 2569, today=PUBLISH_ON)
            summary_seconds = time.perf_counter() - started
        assert page["total"] > 0 and nation["totals"]["assessed"] == 7850 and len(nation["children"]) == 76
        print(f"\nprojected 7,850 in {projected:.2f} s; public page {min(timings) * 1000:.1f} ms; "
              f"national summary {summary_seconds * 1000:.0f} ms")
        assert min(timings) < 0.05
    finally:
        database.dispose()
