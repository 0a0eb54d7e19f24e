"""An LPA round on the migrated stores (SQLite and PostgreSQL): migration 0005's tables, the set-based
opening, the one-statement upserts of claims and scores (ON CONFLICT on both dialects), publication's
ranks and the results view."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import yaml
from sqlalchemy import func, insert, select

from services.assessments.lpa import domain, frameworks, rounds, views, work
from services.assessments.lpa.models import lpa_assessments, lpa_entries
from services.assessments.models import obligations, org_units
from shared.config import REPO_ROOT
from shared.contracts.commands.lpa import (FormLpaTeam, ImportLpaFramework, ImportLpaScores, OpenLpaRound,
                                           PublishLpaRound, SaveSelfAssessment)
from shared.contracts.lpa_framework import LpaFramework
from shared.db import Database
from shared.migrate import upgrade
from shared.validation import parse

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)
LAOS = [f"SAO-{i:02d}" for i in range(40)]
TEAM = [{"person": "lead", "role": "lead", "unit_code": "PLO-1"}, {"person": "m1", "role": "member", "unit_code": "PLO-1"},
        {"person": "m2", "role": "member", "unit_code": "DLO-1"},
        {"person": "ผู้ใหญ่บ้าน", "role": "community_leader"}]


def run(database, handler, command, **kwargs):
    with database.unit_of_work() as uow:
        result = handler(command, uow, now=NOW, **kwargs) if handler is not frameworks.import_framework \
            else handler(command, uow)
        uow.commit()
    return result


def test_a_round_on_the_migrated_store(database_url):
    upgrade("assessments", database_url)
    database = Database(database_url)
    try:
        with database.unit_of_work() as uow:
            uow.session.execute(insert(org_units), [
                {"code": code, "valid_from": date(2000, 1, 1), "level": level, "parent_code": parent, "lao_type": kind}
                for code, level, parent, kind in [("DLA", "department", None, None),
                                                  ("PLO-1", "provincial_office", "DLA", None),
                                                  ("DLO-1", "district_office", "PLO-1", None)]
                + [(code, "lao", "DLO-1", "sao") for code in LAOS]])
            uow.commit()
        document = yaml.safe_load((REPO_ROOT / "data" / "lpa" / "framework-2568.yaml").read_text())
        run(database, frameworks.import_framework, parse(ImportLpaFramework, {"framework": document}))
        opened = run(database, rounds.open_round, parse(OpenLpaRound, {
            "year_be": 2568, "self_due_at": (NOW + timedelta(days=30)).isoformat(), "visit_from": "2026-03-01",
            "visit_to": "2026-04-30", "publish_on": "2026-05-15"}))
        assert opened["units"] == len(LAOS)
        with database.session() as session:
            ids = dict(session.execute(select(lpa_assessments.c.unit_code, lpa_assessments.c.id)).all())
            assert session.execute(select(func.count()).select_from(obligations)).scalar() == len(LAOS)
        scale = [i for _, i in domain.applicable(parse(LpaFramework, document), "sao")]
        claims = [{"indicator_code": i.code, "claimed_points": i.max_points} for i in scale]
        run(database, work.save_self_assessment, parse(SaveSelfAssessment, {
            "assessment_id": ids["SAO-00"], "unit_code": "SAO-00", "entries": claims[:10]}))
        run(database, work.save_self_assessment, parse(SaveSelfAssessment, {     # the claims again: upserted
            "assessment_id": ids["SAO-00"], "unit_code": "SAO-00", "entries": claims, "submit": True}))
        run(database, work.form_team, parse(FormLpaTeam, {"year_be": 2568, "unit_codes": LAOS, "visit_on": "2026-03-02",
                                                          "members": TEAM, "finalise": True, "province_code": "PLO-1"}))
        # every LAO scored: LAO i gets the level i % 5 of every indicator's scale (some pass, some not)
        rows = [{"unit_code": code, "indicator_code": i.code,
                 "points": sorted(level.points for level in i.levels)[min(n % 5, len(i.levels) - 1)]}
                for n, code in enumerate(LAOS) for i in scale]
        result = run(database, work.import_scores, parse(ImportLpaScores, {
            "year_be": 2568, "rows": rows, "finalise": True, "province_code": "PLO-1", "imported_by": "plo1"}))
        assert len(result["finalised"]) == len(LAOS)
        published = run(database, rounds.publish_round, parse(PublishLpaRound, {"year_be": 2568}))
        with database.session() as session:
            claimed = session.execute(select(lpa_entries.c.claimed_points, lpa_entries.c.points).where(
                lpa_entries.c.assessment_id == ids["SAO-00"], lpa_entries.c.indicator_code == scale[0].code)).one()
            assert claimed == (scale[0].max_points, 0)   # the claim kept beside the team's score
            listed = views.checklist(session, 2568, limit=100)
        assert listed["total"] == len(LAOS) and published["assessed"] == len(LAOS)
        best_first = sorted(listed["items"], key=lambda item: (-item["percent"], item["rank_province"]))
        percents = [item["percent"] for item in best_first]
        assert percents == sorted(percents, reverse=True)
        assert [item["rank_province"] for item in best_first][:8] == [1] * 8   # eight LAOs at level 4: tied
        assert sum(1 for item in listed["items"] if item["passed"]) == published["passed"] > 0
    finally:
        database.dispose()
