"""An LPA round through its use cases, on a SQLite store: central imports the framework and opens the
round (one self-assessment obligation per LAO, announced like any report), LAOs claim and attach
evidence, the province forms teams (refused without a community leader, with too few members, or
with an insider), the team scores and its lead finalises, DLA returns one for correction, central
publishes (ranks, follow-ups of weak areas), and next year's round shows this year's as baseline."""
from __future__ import annotations

import base64
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml
from sqlalchemy import insert, select

from services.assessments.lpa import domain, frameworks, rounds, views, work
from services.assessments.lpa.models import lpa_assessments  # noqa: F401 - registers the LPA tables
from services.assessments.models import metadata, obligations, org_units
from shared.config import REPO_ROOT
from shared.contracts.commands.lpa import (AddLpaEvidence, FormLpaTeam, ImportLpaFramework, ImportLpaScores,
                                           OpenLpaRound,
                                           PublishLpaRound, ReturnLpaAssessment, SaveFollowUpPlan,
                                           SaveSelfAssessment, ScoreLpa)
from shared.contracts.lpa_framework import LpaFramework
from shared.errors import InputError
from shared.messaging.tables import outbox
from shared.validation import parse
from tests.fakes import sqlite_database

NOW = datetime(2026, 1, 5, 3, 0, tzinfo=timezone.utc)
UNITS = [("DLA", "department", None, None), ("PLO-18", "provincial_office", "DLA", None),
         ("DLO-1801", "district_office", "PLO-18", None), ("DLO-1802", "district_office", "PLO-18", None),
         ("PLO-10", "provincial_office", "DLA", None), ("DLO-1001", "district_office", "PLO-10", None),
         ("TM-1", "lao", "DLO-1801", "town_municipality"), ("SAO-1", "lao", "DLO-1801", "sao"),
         ("SAO-2", "lao", "DLO-1802", "sao"), ("SAO-9", "lao", "DLO-1001", "sao"),
         ("MOI", "ministry", None, None), ("BMA", "lao", "MOI", "special")]   # Bangkok: under the ministry
TEAM = [{"person": "plo18.lead", "role": "lead", "unit_code": "PLO-18"},
        {"person": "plo18.officer", "role": "member", "unit_code": "PLO-18"},
        {"person": "dlo1802.officer", "role": "member", "unit_code": "DLO-1802"},
        {"person": "นายสมชาย ใจดี", "role": "community_leader", "name_th": "นายสมชาย ใจดี (ผู้ใหญ่บ้าน)"}]


def framework(year: int) -> dict:
    return yaml.safe_load((REPO_ROOT / "data" / "lpa" / f"framework-{year}.yaml").read_text())


@pytest.fixture
def database(tmp_path):
    database = sqlite_database(tmp_path, metadata)
    with database.unit_of_work() as uow:
        uow.session.execute(insert(org_units), [
            {"code": code, "valid_from": date(2000, 1, 1), "level": level, "parent_code": parent, "lao_type": lao_type}
            for code, level, parent, lao_type in UNITS])
        uow.commit()
    return database


def run(database, handler, command, **kwargs):
    with database.unit_of_work() as uow:
        result = handler(command, uow, **kwargs)
        uow.commit()
    return result


def events(database, kind):
    with database.session() as session:
        return [row for row in session.execute(select(outbox.c.event_type, outbox.c.body)).all()
                if row[0] == kind]


def opened(database, year=2568, scope=None, now=NOW):
    run(database, frameworks.import_framework, parse(ImportLpaFramework, {"framework": framework(year)}))
    return run(database, rounds.open_round, parse(OpenLpaRound, {
        "year_be": year, "scope_code": scope, "self_due_at": (now + timedelta(days=30)).isoformat(),
        "visit_from": "2026-03-01", "visit_to": "2026-04-30", "publish_on": "2026-05-15"}), now=now)


def ids(database):
    with database.session() as session:
        return dict(session.execute(select(lpa_assessments.c.unit_code, lpa_assessments.c.id)).all())


def full_marks(year=2568, lao_type="sao", scale=1.0):
    fw = parse(LpaFramework, framework(year))
    return [{"indicator_code": i.code, "points": max((l.points for l in i.levels if l.points <= i.max_points * scale))}
            for _, i in domain.applicable(fw, lao_type)]


def test_a_dry_run_stores_nothing_and_a_second_year_says_what_changed(database):
    dry = run(database, frameworks.import_framework, parse(ImportLpaFramework, {"framework": framework(2568),
                                                                                "dry_run": True}))
    assert dry["dry_run"] and dry["indicators"] == 43
    with database.session() as session, pytest.raises(InputError):
        frameworks.load(session, 2568)
    run(database, frameworks.import_framework, parse(ImportLpaFramework, {"framework": framework(2568)}))
    second = run(database, frameworks.import_framework, parse(ImportLpaFramework, {"framework": framework(2569)}))
    assert second["previous_year_be"] == 2568
    assert {(c["kind"], c["code"]) for c in second["changes"]} >= {("area_added", "INNOV"),
                                                                    ("indicator_changed", "MGMT-09")}


def test_opening_a_round_gives_every_lao_in_scope_an_obligation(database):
    result = opened(database, scope="PLO-18")
    assert result["units"] == 3     # TM-1, SAO-1, SAO-2: not SAO-9 of another province
    with database.session() as session:
        rows = session.execute(select(obligations.c.unit_code, obligations.c.indicator_code, obligations.c.period)
                               .order_by(obligations.c.unit_code)).all()
        assessments = session.execute(select(lpa_assessments.c.unit_code, lpa_assessments.c.province_code,
                                             lpa_assessments.c.district_code)).all()
    assert rows == [("SAO-1", "LPA-2568", "FY2568"), ("SAO-2", "LPA-2568", "FY2568"), ("TM-1", "LPA-2568", "FY2568")]
    assert ("SAO-2", "PLO-18", "DLO-1802") in assessments
    assert len(events(database, "assessments.obligation_opened.v1")) == 3
    assert len(events(database, "assessments.lpa_round_opened.v1")) == 1
    with pytest.raises(InputError) as again:
        opened(database, scope="PLO-18")
    assert again.value.status == 409


def test_the_whole_round(database):
    opened(database, scope="PLO-18")
    lao = ids(database)
    # the LAO claims, attaches a photo and a link, saves a draft, then submits (late: after the due day)
    claims = [{"indicator_code": s["indicator_code"], "claimed_points": s["points"]} for s in full_marks()]
    draft = run(database, work.save_self_assessment, parse(SaveSelfAssessment, {
        "assessment_id": lao["SAO-1"], "entries": claims[:5], "unit_code": "SAO-1"}), now=NOW)
    assert draft["self_state"] == "draft" and draft["claimed"] == 5
    with pytest.raises(InputError) as other:
        run(database, work.save_self_assessment, parse(SaveSelfAssessment, {
            "assessment_id": lao["SAO-1"], "entries": claims[:1], "unit_code": "SAO-2"}), now=NOW)
    assert other.value.status == 403
    with pytest.raises(InputError) as off_scale:
        run(database, work.save_self_assessment, parse(SaveSelfAssessment, {
            "assessment_id": lao["SAO-1"], "unit_code": "SAO-1",
            "entries": [{"indicator_code": "MGMT-01", "claimed_points": 7}]}), now=NOW)
    assert off_scale.value.field == "entries[0].claimed_points"
    photo = run(database, work.add_evidence, parse(AddLpaEvidence, {
        "assessment_id": lao["SAO-1"], "indicator_code": "MGMT-01", "filename": "../แผนพัฒนา.jpg",
        "content_type": "image/jpeg", "content_base64": base64.b64encode(b"\xff\xd8jpeg").decode(),
        "unit_code": "SAO-1"}), now=NOW)
    assert photo["size"] == 6 and len(photo["sha256"]) == 64
    run(database, work.add_evidence, parse(AddLpaEvidence, {
        "assessment_id": lao["SAO-1"], "indicator_code": "FIN-01", "url": "https://example.go.th/tax",
        "unit_code": "SAO-1"}), now=NOW)
    late = NOW + timedelta(days=31)
    sent = run(database, work.save_self_assessment, parse(SaveSelfAssessment, {
        "assessment_id": lao["SAO-1"], "entries": claims, "submit": True, "unit_code": "SAO-1"}), now=late)
    assert sent["self_state"] == "submitted" and sent["late"] and sent["claimed_percent"] == 100
    submitted, = events(database, "assessments.indicator_submitted.v1")
    assert '"on_time":false' in submitted[1].replace(" ", "")
    # the province forms the team: refused without a community leader, with three people, with an insider
    team = {"year_be": 2568, "unit_codes": ["SAO-1", "SAO-2"], "visit_on": "2026-03-10", "finalise": True,
            "province_code": "PLO-18"}
    for members, code in ((TEAM[:3] + [{"person": "x", "role": "member", "unit_code": "PLO-18"}],
                           "community_leader_required"),
                          (TEAM[:1] + TEAM[3:], "team_incomplete"),
                          (TEAM + [{"person": "sao1.clerk", "role": "member", "unit_code": "SAO-1"}],
                           "conflict_of_interest")):
        with pytest.raises(InputError) as refused:
            run(database, work.form_team, parse(FormLpaTeam, {**team, "members": members}), now=NOW)
        assert refused.value.code == code and refused.value.status == 409
    with pytest.raises(InputError) as outside:
        run(database, work.form_team, parse(FormLpaTeam, {**team, "province_code": "PLO-10", "members": TEAM}), now=NOW)
    assert outside.value.status == 403
    formed = run(database, work.form_team, parse(FormLpaTeam, {**team, "members": TEAM}), now=NOW)
    assert formed["state"] == "finalised"
    assert events(database, "assessments.lpa_team_finalised.v1")
    # the team scores; a member cannot finalise, the lead can once every counted indicator is scored
    with pytest.raises(InputError) as stranger:
        run(database, work.score, parse(ScoreLpa, {"assessment_id": lao["SAO-1"], "scores": full_marks()[:1],
                                                   "scorer": "someone.else"}), now=NOW)
    assert stranger.value.status == 403
    run(database, work.score, parse(ScoreLpa, {"assessment_id": lao["SAO-1"], "scores": full_marks(),
                                               "scorer": "plo18.officer"}), now=NOW)
    with pytest.raises(InputError):
        run(database, work.score, parse(ScoreLpa, {"assessment_id": lao["SAO-1"], "finalise": True,
                                                   "scorer": "plo18.officer"}), now=NOW)
    final = run(database, work.score, parse(ScoreLpa, {"assessment_id": lao["SAO-1"], "finalise": True,
                                                       "scorer": "plo18.lead"}), now=NOW)
    assert final["passed"] and final["percent"] == 100
    # SAO-2 scores low in governance: a pass overall, a follow-up for the weak area
    weak = [s if not s["indicator_code"].startswith("GOV") else {**s, "points": 0} for s in full_marks()]
    run(database, work.score, parse(ScoreLpa, {"assessment_id": lao["SAO-2"], "scores": weak, "finalise": True,
                                               "scorer": "plo18.lead"}), now=NOW)
    # DLA returns SAO-2 for correction; the lead finalises it again
    run(database, work.return_assessment, parse(ReturnLpaAssessment, {"assessment_id": lao["SAO-2"],
                                                                      "reason": "คะแนนด้านธรรมาภิบาลไม่มีหลักฐาน"}), now=NOW)
    assert events(database, "assessments.lpa_assessment_returned.v1")
    run(database, work.score, parse(ScoreLpa, {"assessment_id": lao["SAO-2"], "finalise": True,
                                               "scorer": "plo18.lead"}), now=NOW)
    # publication waits for TM-1
    with pytest.raises(InputError) as waiting:
        run(database, rounds.publish_round, parse(PublishLpaRound, {"year_be": 2568}), now=NOW)
    assert "1 LAO" in waiting.value.message_en
    tm_team = {**team, "unit_codes": ["TM-1"], "members": TEAM}
    sheet = [{"unit_code": "TM-1", **score} for score in full_marks(lao_type="town_municipality", scale=0.5)]
    with pytest.raises(InputError) as no_team:      # the province keys in the sheet: TM-1 has no team yet
        run(database, work.import_scores, parse(ImportLpaScores, {"year_be": 2568, "rows": sheet,
                                                                  "province_code": "PLO-18"}), now=NOW)
    assert no_team.value.field == "rows[0].unit_code" and no_team.value.status == 409
    run(database, work.form_team, parse(FormLpaTeam, tm_team), now=NOW)
    with pytest.raises(InputError) as off_scale:
        run(database, work.import_scores, parse(ImportLpaScores, {
            "year_be": 2568, "province_code": "PLO-18", "rows": sheet[:3] + [{**sheet[3], "points": 7.25}]}), now=NOW)
    assert off_scale.value.field == "rows[3].points"
    with pytest.raises(InputError) as other_province:
        run(database, work.import_scores, parse(ImportLpaScores, {"year_be": 2568, "rows": sheet,
                                                                  "province_code": "PLO-10"}), now=NOW)
    assert other_province.value.status == 403
    partial = run(database, work.import_scores, parse(ImportLpaScores, {
        "year_be": 2568, "rows": sheet[:-1], "finalise": True, "province_code": "PLO-18"}), now=NOW)
    assert partial["incomplete"] == ["TM-1"] and partial["finalised"] == []
    imported = run(database, work.import_scores, parse(ImportLpaScores, {
        "year_be": 2568, "rows": sheet[-1:], "finalise": True, "province_code": "PLO-18"}), now=NOW)
    assert imported["finalised"] == ["TM-1"]
    published = run(database, rounds.publish_round, parse(PublishLpaRound, {"year_be": 2568}), now=NOW)
    assert published == {**published, "assessed": 3, "passed": 2, "follow_ups": published["follow_ups"]}
    with database.session() as session:
        result = views.checklist(session, 2568, province_code="PLO-18")
        assert sorted((r["unit_code"], r["rank_province"], r["passed"]) for r in result["items"]) == [
            ("SAO-1", 1, True), ("SAO-2", 2, True), ("TM-1", 3, False)]
        follow = views.follow_ups(session, unit_code="SAO-2")
        assert [item["area_code"] for item in follow["items"]] == ["GOV"]
        detail = views.assessment_view(session, lao["SAO-1"], {"unit_code": "SAO-1"})
        mgmt = detail["areas"][0]["indicators"][0]
        assert mgmt["evidence"][0]["filename"] == "แผนพัฒนา.jpg" and mgmt["claimed_points"] == mgmt["points"]
        with pytest.raises(InputError):
            views.assessment_view(session, lao["SAO-1"], {"unit_code": "SAO-2"})
        assert views.assessment_view(session, lao["SAO-1"], {"unit_code": "X", "username": "นายสมชาย ใจดี"})
    # the LAO writes its plan, the province closes the follow-up
    item = follow["items"][0]["follow_up_id"]
    run(database, work.save_follow_up, parse(SaveFollowUpPlan, {"follow_up_id": item, "unit_code": "SAO-2",
                                                               "plan_th": "อบรมเจ้าหน้าที่และเปิดเผยข้อมูล ITA"}), now=NOW)
    closed = run(database, work.save_follow_up, parse(SaveFollowUpPlan, {"follow_up_id": item, "close": True,
                                                                         "unit_code": "PLO-18"}), now=NOW)
    assert closed["state"] == "closed"
    # next year: last year's score is the baseline
    opened(database, year=2569, scope="PLO-18", now=NOW + timedelta(days=365))
    with database.session() as session:
        this_year = session.execute(select(lpa_assessments.c.id).where(lpa_assessments.c.unit_code == "SAO-1")
                                    .order_by(lpa_assessments.c.id)).scalars().all()
        detail = next(views.assessment_view(session, aid, {"central": True}) for aid in this_year
                      if views.assessment_view(session, aid, {"central": True})["year_be"] == 2569)
    assert detail["last_year"]["percent"] == 100
    assert detail["areas"][0]["indicators"][0]["last_year_points"] == 18


def test_an_lao_outside_every_province_is_assessed_by_central(database):
    """Bangkok lies under the ministry, in no province: central (DLA) forms its team and keys in its sheet;
    a province cannot."""
    opened(database)
    lao = ids(database)
    team = {"year_be": 2568, "unit_codes": ["BMA"], "visit_on": "2026-03-10", "finalise": True, "members": TEAM}
    with pytest.raises(InputError) as province:
        run(database, work.form_team, parse(FormLpaTeam, {**team, "province_code": "PLO-18"}), now=NOW)
    assert province.value.status == 403
    run(database, work.form_team, parse(FormLpaTeam, {**team, "province_code": "DLA"}), now=NOW)
    sheet = [{"unit_code": "BMA", **score} for score in full_marks(lao_type="special")]
    result = run(database, work.import_scores, parse(ImportLpaScores, {"year_be": 2568, "rows": sheet, "finalise": True,
                                                                       "province_code": "DLA"}), now=NOW)
    assert result["finalised"] == ["BMA"]
    with database.session() as session:
        assert views.checklist(session, 2568, unit_code="BMA")["items"][0]["passed"] is True
    assert lao["BMA"]
