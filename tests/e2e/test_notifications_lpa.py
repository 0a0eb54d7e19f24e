"""The LPA reaches people (issue #19), every service a real process, messages over RabbitMQ: the
round's self-assessment obligations get their reminder ladders like any report and a submission
ends one; a finalised assessor team reaches each member (the community leader without an account
by e-mail, through the SMTP sink); DLA's return reaches the lead and the provincial office.

The LPA's HTTP routes are not on the gateway yet: the commands go to assessments' RPCs directly
(as the gateway will send them, its fields filled in); what notifications did is read from its
ledger (GET /api/v1/notifications/deliveries) and the mail sink. Quiet hours and working days are
off in this stack, so messages go when planned."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import yaml

from shared.config import REPO_ROOT
from tests.e2e.conftest import client, platform_stack
from tests.e2e.test_thin_journey import LAOS, UNITS, wait_until
from tests.unit.test_lpa_round import full_marks

LEADER = "leader@lpa.thongthin.test"


@pytest.fixture(scope="module")
def stack(rabbit, tmp_path_factory):
    with platform_stack(rabbit, tmp_path_factory, THONGTHIN_SWEEP_INTERVAL_S="3600", THONGTHIN_QUIET_HOURS="",
                        THONGTHIN_WORKING_DAYS_ONLY="0", THONGTHIN_SCHEDULER_INTERVAL_S="1") as platform:
        yield platform


def call(stack, method: str, *args):
    from nameko.standalone.rpc import ClusterRpcProxy
    with ClusterRpcProxy({"AMQP_URI": stack.amqp_uri}, context_data={"idempotency_key": uuid.uuid4().hex}) as rpc:
        return getattr(rpc.assessments, method)(*args)


def ledger(ops, **params) -> list[dict]:
    return ops.get(f"{ops.base}/notifications/deliveries", params={"limit": 500, **params}).json()["items"]


def test_an_lpa_round_reaches_its_laos_its_team_and_its_province(stack):
    central, ops = client(stack, "central"), client(stack, "ops")
    assert central.post(f"{central.base}/org-units", json={"units": UNITS}).status_code == 200
    framework = yaml.safe_load((REPO_ROOT / "data" / "lpa" / "framework-2568.yaml").read_text())
    call(stack, "lpa_import_framework", {"framework": framework})
    today = date.today()
    due = datetime.now(timezone.utc) + timedelta(days=30)
    round_ = {"year_be": 2568, "scope_code": "PLO-09", "self_due_at": due.isoformat(),
              "visit_from": (today + timedelta(days=40)).isoformat(), "visit_to": (today + timedelta(days=60)).isoformat(),
              "publish_on": (today + timedelta(days=90)).isoformat(), "opened_by": "central"}

    def opened():
        try:
            return call(stack, "lpa_open_round", round_)
        except Exception:  # noqa: BLE001 - the registry has not reached assessments yet
            return None
    assert wait_until(opened, timeout=90)["units"] == 3
    # each LAO's self-assessment is an ordinary obligation: its reminder ladder is planned
    reminders = wait_until(lambda: len(ledger(ops, kind="reminder")) >= 12 and ledger(ops, kind="reminder"),
                           timeout=90)
    assert {(r["recipient_code"], r["step"]) for r in reminders} >= {
        (code, f"reminder:{step}") for code in LAOS for step in ("-P7D", "-P3D", "-P1D", "MORNING")}
    ids = {item["unit_code"]: item["assessment_id"]
           for item in call(stack, "lpa_checklist", 2568, "PLO-09")["items"]}
    claims = [{"indicator_code": s["indicator_code"], "claimed_points": s["points"]} for s in full_marks(2568, "sao")]
    call(stack, "lpa_save_self_assessment", {"assessment_id": ids[LAOS[1]], "entries": claims, "submit": True,
                                             "unit_code": LAOS[1], "submitted_by": "lao"})
    ended = wait_until(lambda: {r["status"] for r in ledger(ops, kind="reminder", recipient_code=LAOS[1])} ==
                       {"cancelled"}, timeout=60)
    assert ended, ledger(ops, kind="reminder", recipient_code=LAOS[1])
    assert {r["status"] for r in ledger(ops, kind="reminder", recipient_code=LAOS[2])} == {"scheduled"}
    # the province forms and finalises a team: each member is told, the leader by e-mail
    members = [{"person": "plo09.lead", "role": "lead", "unit_code": "PLO-09", "email": "lead@lpa.thongthin.test"},
               {"person": "plo09.officer", "role": "member", "unit_code": "PLO-09"},
               {"person": "dlo0115.officer", "role": "member", "unit_code": "DLO-0115"},
               {"person": "นายสมชาย ใจดี", "role": "community_leader", "name_th": "นายสมชาย ใจดี (ผู้ใหญ่บ้าน)",
                "email": LEADER}]
    team = {"year_be": 2568, "unit_codes": LAOS[:2], "visit_on": (today + timedelta(days=45)).isoformat(),
            "members": members, "finalise": True, "province_code": "PLO-09", "formed_by": "plo09"}
    call(stack, "lpa_form_team", team)
    mail = stack.mail.wait_for(lambda ms: any(LEADER in str(m["To"]) for m in ms), timeout=60)
    to_leader, = [m for m in mail if LEADER in str(m["To"])]
    assert "LPA 2568" in to_leader["Subject"] and "เทศบาลเมืองชัยนาท (LAO-180101)" in to_leader.get_content()
    rows = wait_until(lambda: len(ledger(ops, kind="lpa_team")) == 4 and ledger(ops, kind="lpa_team"), timeout=30)
    assert sorted(r["recipient_code"] for r in rows if r["recipient_code"].startswith("user:")) == [
        "user:dlo0115.officer", "user:plo09.lead", "user:plo09.officer"]
    # DLA returns an assessment: the lead and the provincial office are told why
    call(stack, "lpa_score", {"assessment_id": ids[LAOS[1]], "scores": full_marks(2568, "sao"), "finalise": True,
                              "scorer": "plo09.lead"})
    call(stack, "lpa_return", {"assessment_id": ids[LAOS[1]], "reason": "ไม่มีหลักฐานการประชุมประชาคม",
                               "returned_by": "central"})
    mail = stack.mail.wait_for(lambda ms: len([m for m in ms if "ส่งกลับแก้ไข" in str(m["Subject"])]) >= 2,
                               timeout=60)
    returned = sorted(str(m["To"]) for m in mail if "ส่งกลับแก้ไข" in str(m["Subject"]))
    assert returned == ["lead@lpa.thongthin.test", "saraban@plo-09.thongthin.test"]
    assert all("ไม่มีหลักฐานการประชุมประชาคม" in m.get_content() for m in mail if "ส่งกลับแก้ไข" in str(m["Subject"]))
