"""Every read and write stays inside the caller's org subtree: cross-scope attempts get 403/404, on the
real stack (the services' own rules: an LAO's obligations, a province's batch, forwarding).

What the gateway alone decides (the audit log's reader, read-only and revoked tokens, the session
cookie's CSRF token, lockout, content types) is in tests/interface/test_gateway_requests.py."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from devtools.demo import DEMO_USERS, create_users
from devtools.mailsink import MailSink
from devtools.stack import Stack, free_port
from services.gateway import auth
from services.plans.cli import registry_rows
from shared.db import Database

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
EXTRA = [("lao-180102", "lao-2-demo", "lao", "LAO-180102"), ("singburi", "singburi-demo", "province", "PLO-10")]


@pytest.fixture(scope="module")
def world(rabbit, tmp_path_factory):
    from tests.conftest import new_vhost
    sink = MailSink(port=free_port()).start()
    stack = Stack(amqp_uri=new_vhost(rabbit), var_dir=tmp_path_factory.mktemp("var"),
                  extra_env={"SMTP_PORT": str(sink.port), "THONGTHIN_SWEEP_INTERVAL_S": "3600"})
    stack.migrate()
    create_users(stack.database_urls["gateway"])
    database = Database(stack.database_urls["gateway"])
    with database.session() as session:
        for username, password, role, org in EXTRA:
            auth.create_user(session, username=username, password=password, role=role, org_code=org,
                             display_name=username)
        session.commit()
    database.dispose()
    PASSWORDS.update({u: p for u, p, *_ in EXTRA})
    stack.start()
    central = client(stack, "central")
    units = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") in ("9", "10")]
    assert central.post(f"{central.base}/org-units", json={"units": units}).status_code == 200
    due = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    directive = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๑/ว ๑", "document_date": "2026-11-21", "subject_th": "ทดสอบสิทธิ์",
        "text_th": "ให้รายงาน", "addressees": {"level": "lao", "criterion": {"attribute": "province_code", "in": ["9", "10"]}},
        "reporting": {"indicator_code": "X", "indicator_name_th": "ตัวชี้วัด", "period": "2570-01", "due_at": due}}).json()
    secret = central.post(f"{central.base}/documents", json={
        "subject_th": "เฉพาะสิงห์บุรี", "document_date": "2026-11-21", "sender_code": "DLA",
        "items": [{"text_th": "ลับ", "addressees": {"codes": ["PLO-10"]}}]}).json()
    central.post(f"{central.base}/documents/{secret['document_id']}/issue")
    attachment = central.post(f"{central.base}/documents/{secret['document_id']}/attachments",
                              files={"file": ("a.txt", "ลับ".encode(), "text/plain")}).json()
    yield stack, directive, secret, attachment
    stack.stop()
    sink.stop()


def client(stack, username):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + session.post(
        f"{stack.gateway_url}/api/v1/auth/token", json={"username": username, "password": PASSWORDS[username]}
    ).json()["token"]
    session.base = f"{stack.gateway_url}/api/v1"
    return session


def obligations_of(stack, username, **params):
    deadline = time.monotonic() + 30
    session = client(stack, username)
    while True:
        items = session.get(f"{session.base}/obligations", params={"limit": 1000, **params}).json()["items"]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(0.3)


def test_an_lao_cannot_read_or_submit_or_acknowledge_for_another_lao(world):
    stack, directive, *_ = world
    mine = obligations_of(stack, "lao-180101")
    theirs = obligations_of(stack, "lao-180102")
    assert {o["unit_code"] for o in mine} == {"LAO-180101"} and {o["unit_code"] for o in theirs} == {"LAO-180102"}
    lao = client(stack, "lao-180101")
    assert lao.get(f"{lao.base}/obligations/{theirs[0]['id']}").status_code == 404
    assert lao.get(f"{lao.base}/obligations", params={"unit_code": "LAO-180102"}).json()["items"] == []
    submitted = lao.post(f"{lao.base}/obligations/{theirs[0]['id']}/submissions",
                         json={"unit_code": "LAO-180102", "values": [{"indicator_code": "X", "value": 1}]})
    assert submitted.status_code == 403
    other = client(stack, "lao-180102").get(f"{lao.base}/assignments").json()["items"][0]
    assert lao.post(f"{lao.base}/assignments/{other['id']}/acknowledge", json={}).status_code == 403
    assert lao.get(f"{lao.base}/achievement", params={"unit_code": "LAO-180102", "fiscal_year_be": 2570}).status_code == 404


def test_a_province_sees_and_acts_only_inside_its_own_province(world):
    stack, directive, secret, attachment = world
    chainat = client(stack, "chainat")
    singburi_laos = obligations_of(stack, "singburi")
    chainat_obligations = {x["unit_code"] for x in obligations_of(stack, "chainat")}
    assert singburi_laos and all(o["unit_code"] not in chainat_obligations for o in singburi_laos)
    assert chainat.get(f"{chainat.base}/obligations/{singburi_laos[0]['id']}").status_code == 404
    compliance = chainat.get(f"{chainat.base}/reports/directives/{directive['directive_id']}/compliance")
    chainat_units = {r["code"] for r in registry_rows() if r.get("province_code") == "9"}
    assert compliance.status_code == 200
    assert {u["unit_code"] for u in compliance.json()["units"]} <= chainat_units
    cascade = chainat.get(f"{chainat.base}/directives/{directive['directive_id']}/cascade").json()
    assert cascade["units"] and {u["unit_code"] for u in cascade["units"]} <= chainat_units
    # another province's document and its attachment do not exist for Chainat
    assert chainat.get(f"{chainat.base}/documents/{secret['document_id']}").status_code == 404
    assert chainat.get(f"{chainat.base}/attachments/{attachment['attachment_id']}").status_code == 404
    assert client(stack, "singburi").get(f"{chainat.base}/documents/{secret['document_id']}").status_code == 200
    # submitting, reviewing and deciding for another province's LAO are refused
    batch = chainat.post(f"{chainat.base}/submissions/batch", json={"items": [
        {"obligation_id": singburi_laos[0]["id"], "unit_code": singburi_laos[0]["unit_code"],
         "values": [{"indicator_code": "X", "value": 1}]}]})
    assert batch.status_code == 422 and batch.json()["errors"][0]["code"] == "forbidden"
    singburi = client(stack, "singburi")
    done = singburi.post(f"{singburi.base}/obligations/{singburi_laos[0]['id']}/submissions",
                         json={"unit_code": singburi_laos[0]["unit_code"], "values": [{"indicator_code": "X", "value": 3}]})
    assert done.status_code == 201, done.text
    review = chainat.post(f"{chainat.base}/submissions/{done.json()['submission_id']}/review",
                          json={"decision": "accepted"})
    assert review.status_code == 403


def test_forwarding_outside_the_subtree_is_refused(world):
    stack, *_ = world
    singburi = client(stack, "singburi")
    [own] = [a for a in singburi.get(f"{singburi.base}/assignments").json()["items"] if a["subject_th"] == "เฉพาะสิงห์บุรี"]
    singburi.post(f"{singburi.base}/assignments/{own['id']}/acknowledge", json={})
    refused = singburi.post(f"{singburi.base}/assignments/{own['id']}/forward",
                            json={"addressees": {"codes": ["DLO-0115"]}})
    assert refused.status_code == 403 and refused.json()["message_th"]
