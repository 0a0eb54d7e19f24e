"""Assessments through the public API with real processes: a recurring rule for Chainat's LAOs,
an LAO's form, a province's JSON batch and CSV upload (row errors), review, extension."""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta


from tests.e2e.conftest import client
from services.plans.cli import registry_rows
from shared.thai import BANGKOK


def wait_until(check, timeout=60):
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.3)
    return result


def test_reporting_cycle_through_the_api(stack):
    central = client(stack, "central")
    units = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") == "9"]
    assert central.post(f"{central.base}/org-units", json={"units": units}).status_code == 200
    due = (datetime.now(BANGKOK) + timedelta(days=3)).replace(hour=16, minute=30, second=0, microsecond=0)
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๗๗", "document_date": "2026-11-21", "subject_th": "รายงานผลการเบิกจ่าย",
        "text_th": "ให้ อปท. รายงานทุกเดือน", "addressees": {"level": "lao", "within": "PLO-09"},
        "reporting": {"indicator_code": "DISB-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย", "value_type": "percent",
                      "minimum": 0, "maximum": 100, "rrule": f"FREQ=MONTHLY;BYMONTHDAY={due.day}",
                      "dtstart": (due - timedelta(days=1)).isoformat(), "until": (due + timedelta(days=1)).isoformat(),
                      "due_time_local": "16:30", "holiday_rule": "none",
                      "more_indicators": [{"code": "ELDERLY", "name_th": "ผู้สูงอายุที่ได้รับการดูแล", "value_type": "count"}]}})
    assert issued.status_code == 201, issued.text
    province = client(stack, "chainat")
    obligations = wait_until(lambda: len(items := province.get(f"{province.base}/obligations",
                                                               params={"limit": 1000}).json()["items"]) == 54 and items)
    assert obligations, "54 obligations, one per LAO of Chainat"
    lao = client(stack, "lao-180101")
    [mine] = lao.get(f"{lao.base}/obligations").json()["items"]
    assert mine["indicator_codes"] == ["DISB-PCT", "ELDERLY"]
    bad = lao.post(f"{lao.base}/obligations/{mine['id']}/submissions",
                   json={"values": [{"indicator_code": "DISB-PCT", "value": 140}, {"indicator_code": "ELDERLY", "value": 3}]})
    assert bad.status_code == 422 and bad.json()["field"] == "values[0].value" and bad.json()["message_th"]
    good = lao.post(f"{lao.base}/obligations/{mine['id']}/submissions",
                    json={"values": [{"indicator_code": "DISB-PCT", "value": 64.5}, {"indicator_code": "ELDERLY", "value": 3}]})
    assert good.status_code == 201 and good.json()["on_time"] is True

    others = [o for o in obligations if o["unit_code"] != "LAO-180101"]
    batch = province.post(f"{province.base}/submissions/batch", json={"items": [
        {"obligation_id": o["id"], "unit_code": o["unit_code"], "values": [
            {"indicator_code": "DISB-PCT", "value": 70}, {"indicator_code": "ELDERLY", "value": 5}]} for o in others[:20]]})
    assert batch.status_code == 200 and batch.json()["accepted"] == 20

    rows = [[o["unit_code"], code, o["period"], value, ""] for o in others[20:25]
            for code, value in (("DISB-PCT", "๗๕"), ("ELDERLY", "4"))]
    rows[3][3] = "สี่"  # row 5 of the file: not a number
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["unit_code", "indicator_code", "period", "value", "note"]] + rows)
    upload = province.post(f"{province.base}/submissions/upload",
                           files={"file": ("รายงาน.csv", buffer.getvalue().encode("cp874"), "text/csv")})
    assert upload.status_code == 422, upload.text
    assert {(e["row"], e["column"]) for e in upload.json()["errors"]} >= {(5, "value")}
    assert upload.json()["accepted_submissions"] == 0
    kept = province.post(f"{province.base}/submissions/upload", params={"mode": "keep_good_rows"},
                         files={"file": ("รายงาน.csv", buffer.getvalue().encode("cp874"), "text/csv")})
    assert kept.status_code == 200 and kept.json()["accepted_submissions"] == 4

    outsider = lao.get(f"{lao.base}/obligations/{others[0]['id']}")
    assert outsider.status_code == 404

    submission_id = good.json()["submission_id"]
    returned = province.post(f"{province.base}/submissions/{submission_id}/review",
                             json={"decision": "returned", "comment": "จำนวนผู้สูงอายุไม่ตรงทะเบียน"})
    assert returned.status_code == 200 and returned.json()["obligation_state"] == "returned"
    self_review = lao.post(f"{lao.base}/submissions/{submission_id}/review", json={"decision": "accepted"})
    assert self_review.status_code == 403

    extension = lao.post(f"{lao.base}/obligations/{mine['id']}/extension-requests",
                         json={"requested_due_at": (due + timedelta(days=5)).isoformat(), "reason": "ระบบไฟฟ้าขัดข้อง"})
    assert extension.status_code == 201
    district = client(stack, "muang-chainat")
    pending = district.get(f"{district.base}/extension-requests").json()["items"]
    assert [p["id"] for p in pending] == [extension.json()["request_id"]]
    granted = district.post(f"{district.base}/extension-requests/{pending[0]['id']}/decision", json={"approve": True})
    assert granted.json()["status"] == "granted"
    detail = lao.get(f"{lao.base}/obligations/{mine['id']}").json()
    assert datetime.fromisoformat(detail["effective_due_at"]) == due + timedelta(days=5)
    assert [s["status"] for s in detail["submissions"]] == ["returned"]
