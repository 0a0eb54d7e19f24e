"""The thin journey, end to end, through the gateway's HTTP API with every service a real process:

directive to three LAOs -> assignments -> obligations -> reminder e-mails -> one LAO submits ->
the other two miss -> one `deadline missed` each -> one escalation digest to the district ->
reporting shows on time vs missed per LAO. Runs on SQLite and again on PostgreSQL.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import create_engine, text

from devtools.demo import create_users
from devtools.mailsink import MailSink
from devtools.stack import Stack, free_port
from shared.config import SERVICES

UNITS = [
    dict(code="MOI", level="ministry", name_th="กระทรวงมหาดไทย"),
    dict(code="DLA", level="department", parent_code="MOI", name_th="กรมส่งเสริมการปกครองท้องถิ่น"),
    dict(code="PLO-09", level="provincial_office", parent_code="DLA", name_th="สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัดชัยนาท",
         contact_email="saraban@plo-09.thongthin.test"),
    dict(code="DLO-0115", level="district_office", parent_code="PLO-09",
         name_th="สำนักงานส่งเสริมการปกครองท้องถิ่นอำเภอเมืองชัยนาท", contact_email="saraban@dlo-0115.thongthin.test"),
    dict(code="LAO-180101", level="lao", lao_type="town_municipality", parent_code="DLO-0115",
         name_th="เทศบาลเมืองชัยนาท", contact_email="saraban@lao-180101.thongthin.test"),
    dict(code="LAO-180102", level="lao", lao_type="sao", parent_code="DLO-0115",
         name_th="องค์การบริหารส่วนตำบลบ้านกล้วย", contact_email="saraban@lao-180102.thongthin.test"),
    dict(code="LAO-180103", level="lao", lao_type="sao", parent_code="DLO-0115",
         name_th="องค์การบริหารส่วนตำบลท่าชัย", contact_email="saraban@lao-180103.thongthin.test"),
]
LAOS = ["LAO-180101", "LAO-180102", "LAO-180103"]


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request, rabbit, tmp_path):
    from tests.conftest import new_vhost
    amqp_uri = new_vhost(rabbit)
    databases = {}
    if request.param == "postgres":
        server = request.getfixturevalue("postgres")
        databases = {name: server.create_database(name) for name in SERVICES}
    sink = MailSink(port=free_port()).start()
    stack = Stack(amqp_uri=amqp_uri, var_dir=tmp_path / "var", database_urls=dict(databases), extra_env={
        "SMTP_PORT": str(sink.port), "THONGTHIN_SWEEP_INTERVAL_S": "1", "THONGTHIN_SCHEDULER_INTERVAL_S": "1",
        "THONGTHIN_RELAY_INTERVAL_S": "0.2", "THONGTHIN_REMINDER_LADDER": "-PT1H",
        "THONGTHIN_ESCALATION_LADDER": "lao_head=PT0S,district=PT2S",
        # the journey runs at any hour and on any day: no quiet hours, no holiday shifting
        "THONGTHIN_QUIET_HOURS": "", "THONGTHIN_WORKING_DAYS_ONLY": "0"})
    stack.migrate()
    create_users(stack.database_urls["gateway"])
    try:
        stack.start(timeout=120)
        yield stack, sink
    finally:
        stack.stop()
        sink.stop()
        if databases:
            for url in databases.values():
                server.drop_database(url)


def login(stack, username, password):
    response = requests.post(f"{stack.gateway_url}/api/v1/auth/token",
                             json={"username": username, "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    session.headers["X-Correlation-ID"] = f"journey-{time.time_ns()}"
    return session


def wait_until(check, timeout=45.0, interval=0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def test_directive_to_escalation_to_report(platform):
    stack, sink = platform
    # every service is up and exposes health and metrics
    health = requests.get(f"{stack.gateway_url}/health", timeout=10).json()
    assert health["status"] == "ok" and set(health["services"]) == set(SERVICES) - {"gateway"}
    for name in SERVICES:
        metrics = requests.get(f"{stack.url(name)}/metrics", timeout=10)
        assert metrics.status_code == 200 and "thongthin_outbox_pending" in metrics.text

    central = login(stack, "central", "central-demo-2569")
    assert central.post(f"{stack.gateway_url}/api/v1/org-units", json={"units": UNITS}).status_code == 200
    correlation_id = central.headers["X-Correlation-ID"]
    due = datetime.now(timezone.utc) + timedelta(seconds=12)
    issued = central.post(f"{stack.gateway_url}/api/v1/directives", json={
        "document_number": "มท ๐๘๐๑.๒/ว ๕๒", "document_date": "2022-01-03", "urgency": "urgent",
        "subject_th": "รายงานผลการเบิกจ่ายงบประมาณ", "text_th": "ให้รายงานผลการเบิกจ่ายงบประมาณทุกวันที่ ๓ ของเดือน",
        "addressees": {"level": "lao", "within": "DLO-0115"},
        "reporting": {"indicator_code": "BUD-DISBURSED-PCT", "indicator_name_th": "ร้อยละการเบิกจ่ายงบประมาณ",
                      "period": "2570-01", "due_at": due.isoformat()}})
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["directive_id"]
    assert issued.json()["assignment_count"] == 3

    # every LAO gets its obligation and a reminder e-mail
    lao = login(stack, "lao-180101", "lao-demo-2569")
    obligations = wait_until(lambda: lao.get(f"{stack.gateway_url}/api/v1/obligations").json()["items"])
    assert [o["unit_code"] for o in obligations] == ["LAO-180101"], "an LAO sees only its own"
    sink.wait_for(lambda ms: {str(m["To"]) for m in ms} >= {f"saraban@{c.lower()}.thongthin.test" for c in LAOS})
    reminder = sink.to("saraban@lao-180101.thongthin.test")[0]
    assert "ร้อยละการเบิกจ่ายงบประมาณ" in reminder["Subject"]

    # one LAO submits on time
    submitted = lao.post(f"{stack.gateway_url}/api/v1/obligations/{obligations[0]['id']}/submissions",
                         json={"values": [{"indicator_code": "BUD-DISBURSED-PCT", "value": 72.5}]})
    assert submitted.status_code == 201 and submitted.json()["on_time"] is True
    # ... and may not submit for another LAO
    other = central.get(f"{stack.gateway_url}/api/v1/obligations", params={"unit_code": "LAO-180102"}).json()
    refused = lao.post(f"{stack.gateway_url}/api/v1/obligations/{other['items'][0]['id']}/submissions",
                       json={"values": [{"indicator_code": "BUD-DISBURSED-PCT", "value": 1}]})
    # (the gateway's scope rule refuses it, naming the obligation it was asked about)
    assert refused.status_code == 403 and refused.json()["field"] == "obligation_id"

    # the other two miss the deadline; the district gets one digest naming both
    digest = sink.wait_for(lambda ms: any("dlo-0115" in str(m["To"]) for m in ms), timeout=60)
    district_mail = [m for m in digest if "dlo-0115" in str(m["To"])]
    assert len(district_mail) == 1
    body = district_mail[0].get_content()
    assert "2 จาก 3" in body and "LAO-180102" in body and "LAO-180103" in body and "LAO-180101" not in body

    report = wait_until(lambda: (r := central.get(
        f"{stack.gateway_url}/api/v1/reports/directives/{directive_id}/compliance").json())
        and r.get("counts", {}).get("missed") == 2 and r)
    assert report["counts"] == {"pending": 0, "on_time": 1, "late": 0, "missed": 2, "returned": 0}
    assert report["expected"] == 3 and report["on_time_rate"] == pytest.approx(1 / 3, abs=1e-3)
    status = {u["unit_code"]: u["report_status"] for u in report["units"]}
    assert status == {"LAO-180101": "on_time", "LAO-180102": "missed", "LAO-180103": "missed"}

    # exactly one `deadline missed` per missing LAO, and one correlation id from gateway to the end
    time.sleep(3)  # several more sweeps run: still one miss each
    engine = create_engine(stack.database_urls["reporting"])
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT event_type, correlation_id, envelope FROM event_log")).all()
    engine.dispose()
    misses = [json.loads(r.envelope)["payload"]["unit_code"] for r in rows
              if r.event_type == "assessments.deadline_missed.v1"]
    assert sorted(misses) == ["LAO-180102", "LAO-180103"]
    journey_types = {r.event_type for r in rows if r.correlation_id == correlation_id}
    assert {"plans.directive_issued.v1", "plans.assignment_created.v1", "assessments.obligation_opened.v1",
            "assessments.deadline_missed.v1", "notifications.notification_sent.v1"} <= journey_types
    assert len(sink.to("saraban@dlo-0115.thongthin.test")) == 1, "no second digest"
