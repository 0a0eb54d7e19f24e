"""The audit log records every write with its target, the resource before the write (as the owning
service holds it) and the answer after it; a refused write is recorded with its status and changes
nothing. That no secret is stored, and how the gateway records a write whatever the service, is in
tests/interface/test_gateway_requests.py."""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from services.plans.cli import registry_rows
from tests.e2e.conftest import client

OTHER_LAO = "LAO-190101"   # Saraburi: outside Chainat's subtree


def _wait(fetch, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not (value := fetch()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return value


@pytest.fixture(scope="module")
def world(stack):
    central = client(stack, "central")
    units = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") in ("9", "10")]
    assert central.post(f"{central.base}/org-units", json={"units": units}).status_code == 200
    due = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    directive = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๑/ว ๗", "document_date": "2026-11-21", "subject_th": "ทดสอบบันทึกการใช้งาน",
        "text_th": "ให้รายงาน", "addressees": {"codes": ["LAO-180101", OTHER_LAO]},
        "reporting": {"indicator_code": "AUD", "indicator_name_th": "ตัวชี้วัดทดสอบ", "value_type": "count",
                      "minimum": 0, "period": "2570-02", "due_at": due}})
    assert directive.status_code == 201, directive.text
    lao = client(stack, "lao-180101")

    def obligations():
        items = central.get(f"{central.base}/obligations", params={"directive_id": directive.json()["directive_id"]}
                            ).json()["items"]
        return {o["unit_code"]: o for o in items} if len(items) == 2 else None
    by_unit = _wait(obligations, "both obligations")
    return {"central": central, "lao": lao, "province": client(stack, "chainat"), "ops": client(stack, "ops"),
            "obligations": by_unit, "directive_id": directive.json()["directive_id"]}


def audit(world, **params) -> list[dict]:
    response = world["ops"].get(f"{world['ops'].base}/audit", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def last(world, target: str) -> dict:
    rows = audit(world, target=target)
    assert rows, f"no audit row for {target}"
    assert all(row["target"] == target for row in rows)
    return rows[0]


def test_acknowledging_records_the_assignment_before_and_after(world):
    lao = world["lao"]
    [mine] = [a for a in lao.get(f"{lao.base}/assignments").json()["items"] if a["directive_id"] == world["directive_id"]]
    done = lao.post(f"{lao.base}/assignments/{mine['id']}/acknowledge", json={"receipt_number": "๑๒"})
    assert done.status_code == 200, done.text
    row = last(world, f"assignment:{mine['id']}")
    assert row["username"] == "lao-180101" and row["status"] == 200
    assert row["action"] == f"POST /api/v1/assignments/{mine['id']}/acknowledge"
    assert row["before"]["state"] == "issued" and row["before"]["acknowledged_at"] is None
    assert json.loads(row["result"]) == {"assignment_id": mine["id"], "state": "acknowledged", "changed": True}


def test_a_submission_and_its_review_record_the_previous_state(world):
    lao, province = world["lao"], world["province"]
    obligation = world["obligations"]["LAO-180101"]
    sent = lao.post(f"{lao.base}/obligations/{obligation['id']}/submissions",
                    json={"values": [{"indicator_code": "AUD", "value": 7}]})
    assert sent.status_code == 201, sent.text
    row = last(world, f"obligation:{obligation['id']}")
    assert row["status"] == 201 and row["before"]["state"] == "open" and row["before"]["submissions"] == []
    assert json.loads(row["result"])["submission_id"] == sent.json()["submission_id"]

    submission_id = sent.json()["submission_id"]
    reviewed = province.post(f"{province.base}/submissions/{submission_id}/review",
                             json={"decision": "returned", "comment": "ขอหลักฐานเพิ่ม"})
    assert reviewed.status_code == 200, reviewed.text
    row = last(world, f"submission:{submission_id}")
    assert row["username"] == "chainat"
    assert row["before"]["status"] == "pending" and row["before"]["reviews"] == []
    assert [v["value"] for v in row["before"]["values"]] == [7]
    assert json.loads(row["result"])["decision"] == "returned"


def test_an_extension_decision_records_the_pending_request(world):
    lao, province = world["lao"], world["province"]
    obligation = world["obligations"]["LAO-180101"]
    asked = lao.post(f"{lao.base}/obligations/{obligation['id']}/extension-requests", json={
        "requested_due_at": (datetime.now(timezone.utc) + timedelta(days=9)).isoformat(), "reason": "ไฟดับ"})
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request_id"]
    assert audit(world, target=f"obligation:{obligation['id']}")[0]["before"]["extension_requests"] == []
    decided = province.post(f"{province.base}/extension-requests/{request_id}/decision", json={"approve": True})
    assert decided.status_code == 200, decided.text
    row = last(world, f"extension_request:{request_id}")
    assert row["before"]["status"] == "pending" and row["before"]["reason"] == "ไฟดับ"
    assert json.loads(row["result"])["status"] == "granted"


def test_preferences_and_token_revocation_record_before_and_after(world):
    lao = world["lao"]
    previous = lao.get(f"{lao.base}/me/notification-preferences").json()
    assert lao.put(f"{lao.base}/me/notification-preferences", json={"language": "en"}).status_code == 200
    row = last(world, "preferences:lao-180101")
    assert row["before"]["language"] == previous["language"] == "th"
    assert json.loads(row["result"])["language"] == "en"

    created = lao.post(f"{lao.base}/tokens", json={"name": "audit-test", "scopes": ["read"]})
    assert created.status_code == 201
    token_id, token = created.json()["id"], created.json()["token"]
    assert lao.delete(f"{lao.base}/tokens/{token_id}").status_code == 200
    row = last(world, f"token:{token_id}")
    assert row["before"]["name"] == "audit-test" and row["before"]["revoked_at"] is None
    assert "token_hash" not in row["before"]
    assert json.loads(row["result"]) == {"id": token_id, "revoked": True}
    # the creation's answer carried the token once: the audit log keeps it out
    [creation] = [r for r in audit(world, action="POST /api/v1/tokens") if r["username"] == "lao-180101"]
    assert token not in creation["result"] and json.loads(creation["result"])["token"] == "(not stored)"


def test_refused_writes_are_audited_with_their_status_and_change_nothing(world):
    lao, province, central = world["lao"], world["province"], world["central"]
    missing = lao.post(f"{lao.base}/assignments/no-such-assignment/acknowledge", json={})
    assert missing.status_code == 404
    row = last(world, "assignment:no-such-assignment")
    assert row["status"] == 404 and row["before"] is None

    # another province's submission: refused (403), and its before-image does not leak into the log
    other = world["obligations"][OTHER_LAO]
    sent = central.post(f"{central.base}/obligations/{other['id']}/submissions",
                        json={"unit_code": OTHER_LAO, "values": [{"indicator_code": "AUD", "value": 3}]})
    assert sent.status_code == 201, sent.text
    submission_id = sent.json()["submission_id"]
    refused = province.post(f"{province.base}/submissions/{submission_id}/review", json={"decision": "accepted"})
    assert refused.status_code in (403, 404)
    row = last(world, f"submission:{submission_id}")
    assert row["status"] == refused.status_code and row["before"] is None and row["username"] == "chainat"
    assert central.get(f"{central.base}/obligations/{other['id']}").json()["submissions"][0]["status"] == "pending"

    # a role that may not review at all: 403 before anything is resolved
    assert lao.post(f"{lao.base}/submissions/{submission_id}/review", json={"decision": "accepted"}).status_code == 403
    assert audit(world, target=f"submission:{submission_id}", username="lao-180101")[0]["before"] is None

    # bad values: 422 naming the field, the obligation keeps its state
    obligation = world["obligations"]["LAO-180101"]
    state = lao.get(f"{lao.base}/obligations/{obligation['id']}").json()
    bad = lao.post(f"{lao.base}/obligations/{obligation['id']}/submissions",
                   json={"values": [{"indicator_code": "NO-SUCH-INDICATOR", "value": 5}]})
    assert bad.status_code == 422
    row = last(world, f"obligation:{obligation['id']}")
    assert row["status"] == 422 and row["before"]["state"] == state["state"]
    assert lao.get(f"{lao.base}/obligations/{obligation['id']}").json() == state
