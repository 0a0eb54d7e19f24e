"""notifications and the LPA (issue #19): each member of a finalised assessor team hears of their
place (people through their own preferences and channels, a community leader without an account by
e-mail), once per team and visit day; a returned assessment reaches the team's lead and province with
DLA's reason; and the self-assessment, an ordinary obligation, is reminded like any report and its
submission ends the ladder. Fakes for channels, a real SQLite file; the last test drives the real
assessments use cases and feeds their outbox to notifications."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select

from services.notifications import domain, people, views
from services.notifications.channels import ChannelError
from services.notifications.models import inbox_items, recipients
from shared.contracts import encode
from shared.contracts.events import LpaAssessmentReturned, LpaTeamFinalised, LpaTeamMember, OrgUnitChanged
from shared.messaging.topology import SUBSCRIPTIONS
from tests.unit.test_notifications import World

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)    # Mon 23 Nov 2026 09:00 Bangkok
LEAD = {"username": "plo1.lead", "org_code": "PLO-1", "display_name": "นางสาวหัวหน้า ทีม", "role": "province"}
MEMBERS = [LpaTeamMember(person="plo1.lead", role="lead", unit_code="PLO-1"),
           LpaTeamMember(person="dlo1.officer", role="member", unit_code="DLO-1", name_th="นายกรรมการ หนึ่ง"),
           LpaTeamMember(person="นายสมชาย ใจดี", role="community_leader", name_th="นายสมชาย ใจดี (ผู้ใหญ่บ้าน)",
                         email="somchai.leader@x.test"),
           LpaTeamMember(person="นางสมศรี", role="community_leader")]          # neither account nor e-mail


def finalised(visit_on=date(2026, 12, 15), members=MEMBERS, team_id="team-1") -> LpaTeamFinalised:
    return LpaTeamFinalised(team_id=team_id, round_id="round-2569", year_be=2569, province_code="PLO-1",
                            unit_codes=["LAO-1", "LAO-2"], visit_on=visit_on, members=members)


def returned(at=NOW, unit_code="LAO-1", assessment_id="a-1") -> LpaAssessmentReturned:
    return LpaAssessmentReturned(assessment_id=assessment_id, round_id="round-2569", unit_code=unit_code,
                                 reason="คะแนนด้านธรรมาภิบาลไม่มีหลักฐาน", returned_at=at)


@pytest.fixture
def world(tmp_path):
    world = World(tmp_path)
    world.clock.now = NOW
    with world.database.unit_of_work() as uow:  # the lead saved her preferences: e-mail
        people.upsert_person(uow, LEAD, {"channels": {"email": "lead@x.test"}}, world.settings)
        uow.commit()
    return world


def inbox(world, username, org_code):
    with world.database.session() as session:
        return views.list_inbox(session, {"username": username, "org_code": org_code})["items"]


def test_notifications_subscribes_to_the_lpa_events_it_handles():
    assert {LpaTeamFinalised.TYPE, LpaAssessmentReturned.TYPE} <= set(SUBSCRIPTIONS["notifications"])
    assert domain.event_kind("lpa_team") == domain.event_kind("lpa_returned") == "assignment"
    assert domain.is_critical("lpa_team") and domain.is_critical("lpa_returned")


def test_who_a_team_member_is_to_notifications():
    assert domain.team_member_kind("plo1.lead", "PLO-1", None, has_account=False) == "user"
    assert domain.team_member_kind("somchai", None, "s@x.test", has_account=True) == "user"   # a leader with an account
    assert domain.team_member_kind("นายสมชาย", None, "s@x.test", has_account=False) == domain.GUEST
    assert domain.team_member_kind("นายสมชาย", None, "  ", has_account=False) is None
    assert domain.team_member_kind("x" * 65, "PLO-1", None, has_account=False) is None       # a name, not a username
    assert domain.guest_code("S@X.test ") == domain.guest_code("s@x.test")
    assert domain.fallback_channels(None, domain.GUEST) == ["email"]                        # no inbox to fall back on
    assert domain.lpa_work_link(2569) == "#/lpa/2569/teams"


def test_each_member_of_a_finalised_team_hears_of_the_laos_and_the_day_once(world):
    event = finalised()
    body = encode(event, correlation_id="c").to_json()
    world.deliver(event)
    world.deliver(event)                                    # the same facts in a new envelope
    world.consumer.process(body)
    world.consumer.process(body)                            # the very same message twice
    world.dispatch(NOW + timedelta(minutes=1))
    world.dispatch(NOW + timedelta(hours=1))
    to = sorted(address for address, _, _ in world.email.sent)
    assert to == ["lead@x.test", "somchai.leader@x.test"]   # the officer has no e-mail: his in-app inbox
    lead = next((s, b) for a, s, b in world.email.sent if a == "lead@x.test")
    assert lead[0].startswith("[ทีมตรวจประเมิน LPA 2569]") and "๑๕ ธ.ค. ๒๕๖๙" in lead[0]
    assert "หัวหน้าทีมตรวจประเมิน" in lead[1] and "อบต.1 (LAO-1)" in lead[1] and "อบต.2 (LAO-2)" in lead[1]
    assert "สถจ.หนึ่ง" in lead[1] and lead[1].rstrip().endswith("/#/lpa/2569/teams")
    guest = next(b for a, _, b in world.email.sent if a == "somchai.leader@x.test")
    assert "เรียน นายสมชาย ใจดี (ผู้ใหญ่บ้าน)" in guest and "ผู้นำชุมชน" in guest and "สถจ.หนึ่ง" in guest
    officer = inbox(world, "dlo1.officer", "DLO-1")
    assert len(officer) == 1 and "กรรมการตรวจประเมิน" in officer[0]["body"]
    assert officer[0]["link"].endswith("#/lpa/2569/teams")
    # one message per member, sent events of kind "assignment"; nobody to write to for นางสมศรี
    rows = world.rows(kind="lpa_team")
    assert sorted(r["status"] for r in rows) == ["sent"] * 3
    assert len({r["recipient_code"] for r in rows}) == 3
    sent = world.events("notifications.notification_sent.v1")
    assert len(sent) == 3 and all('"kind":"assignment"' in e.replace(" ", "") for e in sent)
    # the officer is written to by name: not added to his unit's audience (no reminders of DLO-1's reports)
    with world.database.session() as session:
        kind = session.execute(select(recipients.c.kind).where(recipients.c.code == "user:dlo1.officer")).scalar()
    assert kind == domain.MEMBER


def test_a_team_finalised_again_for_the_same_day_plans_nothing_new_and_a_moved_visit_is_news(world):
    world.deliver(finalised())
    world.dispatch(NOW + timedelta(minutes=1))
    world.deliver(finalised())                          # re-finalised, same day: a new envelope, the same key
    world.dispatch(NOW + timedelta(minutes=2))
    assert len(world.email.sent) == 2 and len(world.rows(kind="lpa_team")) == 3
    world.deliver(finalised(visit_on=date(2026, 12, 17)))
    world.dispatch(NOW + timedelta(minutes=3))
    assert len(world.email.sent) == 4
    assert sorted(a for a, s, _ in world.email.sent if "๑๗ ธ.ค. ๒๕๖๙" in s) == ["lead@x.test", "somchai.leader@x.test"]
    assert len(inbox(world, "dlo1.officer", "DLO-1")) == 2


def test_a_moved_visit_cancels_what_still_waited_for_the_old_day(world):
    world.deliver(finalised())                          # not dispatched yet
    world.deliver(finalised(visit_on=date(2026, 12, 17), members=MEMBERS[:1]))
    old = [r for r in world.rows(kind="lpa_team") if r["step"] == "lpa_team:2026-12-15"]
    assert {r["status"] for r in old} == {"cancelled"} and len(old) == 3
    world.dispatch(NOW + timedelta(minutes=1))
    assert [(a, "๑๗ ธ.ค." in s) for a, s, _ in world.email.sent] == [("lead@x.test", True)]
    # moved back to the 15th: what never went for that day goes now; the same event again adds nothing
    for _ in range(2):
        world.deliver(finalised(members=MEMBERS[:3]))
    world.dispatch(NOW + timedelta(minutes=2))
    assert sorted((a, "๑๕ ธ.ค." in s) for a, s, _ in world.email.sent[1:]) == [
        ("lead@x.test", True), ("somchai.leader@x.test", True)]
    assert len(inbox(world, "dlo1.officer", "DLO-1")) == 1


def test_a_guest_is_reached_by_email_only_and_a_refusal_says_so(world):
    world.email.errors.append(ChannelError("550 no such mailbox", permanent=True))
    world.deliver(finalised(members=MEMBERS[2:3]))
    world.dispatch(NOW + timedelta(minutes=1))
    row, = world.rows(kind="lpa_team")
    assert row["status"] == "failed" and row["recipient_code"] == domain.guest_code("somchai.leader@x.test")
    with world.database.session() as session:
        assert session.execute(select(inbox_items)).first() is None
    failed = world.events("notifications.notification_failed.v1")
    assert len(failed) == 1 and '"final":true' in failed[0].replace(" ", "")


def test_a_returned_assessment_tells_the_team_lead_and_the_province_why(world):
    world.deliver(finalised())
    world.dispatch(NOW + timedelta(minutes=1))
    world.email.sent.clear()
    event = returned()
    world.deliver(event)
    world.deliver(event)
    world.consumer.process(encode(event, correlation_id="c").to_json())
    world.dispatch(NOW + timedelta(minutes=2))
    told = sorted((a, s) for a, s, _ in world.email.sent)
    assert [a for a, _ in told] == ["lead@x.test", "plo1@x.test"]
    assert all(s.startswith("[ส่งกลับแก้ไข] ผลการตรวจประเมิน LPA 2569 ของ อบต.1") for _, s in told)
    body = next(b for a, _, b in world.email.sent if a == "lead@x.test")
    assert "คะแนนด้านธรรมาภิบาลไม่มีหลักฐาน" in body and body.rstrip().endswith("/#/lpa/2569/teams")
    # returned again after a new finalisation: news again, once
    world.deliver(returned(at=NOW + timedelta(days=2)))
    world.dispatch(NOW + timedelta(days=2, minutes=1))
    assert len(world.email.sent) == 4


def test_a_return_for_an_lao_whose_team_we_never_heard_of_reaches_its_province(world):
    world.deliver(returned(unit_code="LAO-3", assessment_id="a-3"))
    world.dispatch(NOW + timedelta(minutes=1))
    # the office's contact point and its people (the lead is one: an officer of PLO-1)
    assert sorted(a for a, _, _ in world.email.sent) == ["lead@x.test", "plo1@x.test"]
    assert all("อบต.3" in s and b.rstrip().endswith("/#/lpa") for _, s, b in world.email.sent)


def test_an_english_reader_gets_the_team_message_in_english(world):
    with world.database.unit_of_work() as uow:
        people.upsert_person(uow, LEAD, {"language": "en", "date_digits": "arabic"}, world.settings)
        uow.commit()
    world.deliver(finalised(members=MEMBERS[:1]))
    world.dispatch(NOW + timedelta(minutes=1))
    (_, subject, body), = world.email.sent
    assert subject.startswith("[LPA 2569 assessor team]") and "the lead" in body and "LAO-2" in body


# --- the self-assessment and follow-ups: ordinary obligations ----------------------------------------------

def test_a_follow_up_of_a_weak_area_is_reminded_and_escalated_like_any_report(world):
    from shared.contracts.events import DeadlineMissed, ObligationOpened
    due = NOW + timedelta(days=20)
    world.deliver(ObligationOpened(obligation_id="fu-1", unit_code="LAO-2", indicator_code="LPA-FU-2569-GOV",
                                   indicator_name_th="แผนพัฒนาด้านธรรมาภิบาล (LPA 2569)", period="FY2569",
                                   due_at=due))
    assert sorted(r["step"] for r in world.rows(subject_ref="fu-1")) == sorted(
        f"reminder:{step}" for step in world.settings.reminder_ladder)
    world.dispatch(due - timedelta(days=7) + timedelta(minutes=1))
    assert [(a, "แผนพัฒนาด้านธรรมาภิบาล" in s) for a, s, _ in world.email.sent] == [("lao2@x.test", True)]
    world.deliver(DeadlineMissed(obligation_id="fu-1", unit_code="LAO-2", indicator_code="LPA-FU-2569-GOV",
                                 period="FY2569", due_at=due, detected_at=due))
    world.dispatch(due + timedelta(days=3, minutes=1))
    assert world.status("LAO-2", "escalation:lao_head") == "sent"
    assert world.status("DLO-1", "escalation:district") == "sent"


def test_an_lpa_round_through_assessments_reaches_people_through_notifications(world, tmp_path):
    """The real assessments use cases (tests/unit/test_lpa_round.py's round) produce the events;
    notifications consumes what it subscribes to, in order, some twice."""
    from services.assessments.lpa import work
    from services.assessments.models import metadata, org_units
    from tests.fakes import sqlite_database
    from shared.contracts.commands.lpa import FormLpaTeam, ReturnLpaAssessment, SaveSelfAssessment, ScoreLpa
    from shared.messaging.tables import outbox
    from shared.validation import parse
    from tests.unit import test_lpa_round as lpa

    (tmp_path / "assessments").mkdir()
    assessments = sqlite_database(tmp_path / "assessments", metadata)
    with assessments.unit_of_work() as uow:
        uow.session.execute(insert(org_units), [
            {"code": code, "valid_from": date(2000, 1, 1), "level": level, "parent_code": parent, "lao_type": lao_type}
            for code, level, parent, lao_type in lpa.UNITS])
        uow.commit()
    start = lpa.NOW                                     # Mon 5 Jan 2026; the self-assessment is due 30 days on
    world.clock.now = start
    for code, level, parent, lao_type in lpa.UNITS:
        if code != "DLA":
            world.deliver(OrgUnitChanged(code=code, level=level, parent_code=parent if parent != "DLA" else None,
                                         name_th=f"หน่วย {code}", lao_type=lao_type, valid_from="2000-01-01",
                                         contact_email=f"{code.lower()}@x.test"))
    fed: set[int] = set()

    def feed(twice=False):
        with assessments.session() as session:
            rows = session.execute(select(outbox.c.id, outbox.c.event_type, outbox.c.body)
                                   .order_by(outbox.c.id)).all()
        for row_id, event_type, body in rows:
            if row_id in fed or event_type not in SUBSCRIPTIONS["notifications"]:
                continue
            fed.add(row_id)
            for _ in range(2 if twice else 1):
                assert world.consumer.process(body).outcome in ("processed", "duplicate")

    lpa.opened(assessments, scope="PLO-18")
    feed(twice=True)
    due = start + timedelta(days=30)
    ladder = {r["recipient_code"]: [] for r in world.rows(kind="reminder")}
    for r in world.rows(kind="reminder"):
        ladder[r["recipient_code"]].append(r["step"])
    assert sorted(ladder) == ["SAO-1", "SAO-2", "TM-1"]
    assert all(sorted(steps) == sorted(f"reminder:{s}" for s in world.settings.reminder_ladder)
               for steps in ladder.values())
    world.dispatch(due - timedelta(days=7) + timedelta(minutes=1))
    first = sorted(a for a, s, _ in world.email.sent)
    assert first == ["sao-1@x.test", "sao-2@x.test", "tm-1@x.test"]
    assert all("(LPA-2568)" in b and "งวด FY2568" in b for _, _, b in world.email.sent)
    # SAO-1 submits its self-assessment (indicator_submitted): the rest of its ladder is cancelled
    ids = lpa.ids(assessments)
    claims = [{"indicator_code": s["indicator_code"], "claimed_points": s["points"]} for s in lpa.full_marks()]
    lpa.run(assessments, work.save_self_assessment, parse(SaveSelfAssessment, {
        "assessment_id": ids["SAO-1"], "entries": claims, "submit": True, "unit_code": "SAO-1"}),
        now=due - timedelta(days=5))
    feed(twice=True)
    assert {r["status"] for r in world.rows(recipient_code="SAO-1", kind="reminder") if r["status"] != "sent"} == \
        {"cancelled"}
    world.email.sent.clear()
    world.dispatch(due - timedelta(days=1) + timedelta(minutes=1))
    assert sorted(a for a, _, _ in world.email.sent) == ["sao-2@x.test", "tm-1@x.test"]
    # the province forms the team: each member is told (the lead with preferences, the leader by e-mail)
    world.email.sent.clear()
    with world.database.unit_of_work() as uow:
        people.upsert_person(uow, {"username": "plo18.lead", "org_code": "PLO-18", "display_name": "หัวหน้าทีม"},
                             {"channels": {"email": "plo18.lead@x.test"}}, world.settings)
        uow.commit()
    team = [*lpa.TEAM[:3], {**lpa.TEAM[3], "email": "leader@x.test"}]
    lpa.run(assessments, work.form_team, parse(FormLpaTeam, {
        "year_be": 2568, "unit_codes": ["SAO-1", "SAO-2"], "visit_on": "2026-03-10", "finalise": True,
        "province_code": "PLO-18", "members": team}), now=start)
    feed(twice=True)
    world.dispatch(world.clock.now + timedelta(minutes=1))
    assert sorted(a for a, _, _ in world.email.sent) == ["leader@x.test", "plo18.lead@x.test"]
    assert len(world.rows(kind="lpa_team")) == 4
    assert "หน่วย SAO-2 (SAO-2)" in world.email.sent[0][2] and "#/lpa/2568/teams" in world.email.sent[0][2]
    # DLA returns SAO-2 for correction: the lead and the province are told why
    world.email.sent.clear()
    lpa.run(assessments, work.score, parse(ScoreLpa, {"assessment_id": ids["SAO-2"], "scores": lpa.full_marks(),
                                                      "finalise": True, "scorer": "plo18.lead"}), now=start)
    lpa.run(assessments, work.return_assessment, parse(ReturnLpaAssessment, {
        "assessment_id": ids["SAO-2"], "reason": "ไม่มีหลักฐานการประชุมประชาคม"}), now=start)
    feed(twice=True)
    world.dispatch(world.clock.now + timedelta(minutes=2))
    assert sorted(a for a, _, _ in world.email.sent) == ["plo-18@x.test", "plo18.lead@x.test"]
    assert all("ไม่มีหลักฐานการประชุมประชาคม" in b for _, _, b in world.email.sent)
