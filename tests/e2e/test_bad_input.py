"""Bad input through the HTTP API (issue #14, items 8-13): every request below was once answered 500,
or stored what it should have refused. Each is now a 4xx naming the field, Thai and English, and
changes nothing; exports of rows stored before the fix answer 200 with a file a spreadsheet opens.

Here: what the services refuse or store (bounds, dates, file names, stored rows). What the gateway
refuses by itself (nesting, control characters, token lifetimes, unknown query parameters, the audit
log's export) is in tests/interface/test_gateway_requests.py."""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import create_engine, select, text, update

from services.plans.cli import registry_rows
from shared.thai import BANGKOK
from tests.e2e.conftest import client


def wait_until(check, timeout=60):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.3)
    return result


@pytest.fixture(scope="module")
def world(stack):
    central, lao = client(stack, "central"), client(stack, "lao-180101")
    units = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") == "9"]
    assert central.post(f"{central.base}/org-units", json={"units": units}).status_code == 200
    due = datetime.now(BANGKOK) + timedelta(days=3)
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๘๘", "document_date": "2569-11-21", "subject_th": "รายงานผลการเบิกจ่าย",
        "text_th": "ให้ อปท. รายงาน", "addressees": {"codes": ["LAO-180101"]},
        "reporting": {"indicator_code": "DISB-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย", "value_type": "percent",
                      "minimum": 0, "maximum": 100, "period": "2569-12", "due_at": due.isoformat()}})
    assert issued.status_code == 201, issued.text
    [obligation] = wait_until(lambda: lao.get(f"{lao.base}/obligations").json()["items"])
    [assignment] = lao.get(f"{lao.base}/assignments").json()["items"]
    draft = central.post(f"{central.base}/documents", json={
        "document_date": "2569-11-23", "subject_th": "ร่างหนังสือ", "sender_code": "DLA",
        "items": [{"text_th": "ข้อสั่งการฉบับร่าง", "addressees": {"codes": ["PLO-09"]}}]})
    assert draft.status_code == 201, draft.text
    return {"central": central, "lao": lao, "obligation_id": obligation["id"], "assignment_id": assignment["id"],
            "directive_id": issued.json()["directive_id"], "document_id": issued.json()["document_id"],
            "draft_id": draft.json()["document_id"]}


def state(stack, world) -> dict:
    """What a refused request could have changed, as the API shows it."""
    central, lao = world["central"], world["lao"]
    obligation = lao.get(f"{lao.base}/obligations/{world['obligation_id']}").json()
    return {
        "assignments": central.get(f"{central.base}/assignments", params={"mine": "0", "limit": 1000}).json(),
        "obligation": (obligation["submissions"], obligation.get("extension_requests")),
        "units": central.get(f"{central.base}/org-units", params={"within": "PLO-09", "limit": 1000}).json(),
        "plans": central.get(f"{central.base}/plans").json(),
        "preferences": lao.get(f"{lao.base}/me/notification-preferences").json(),
        "tokens": central.get(f"{central.base}/tokens").json(),
        "draft": central.get(f"{central.base}/documents/{world['draft_id']}").json(),
        "assignment_state": lao.get(f"{lao.base}/assignments").json(),
    }


def problem_of(response, status, field):
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["field"] == field and body["message_th"] and body["message_en"], body
    return body


# --- 8. nesting and number bounds ------------------------------------------------------------------------

def test_a_plan_file_nested_too_deep_is_refused_and_changes_nothing(stack, world):
    """A plan file nested too deep used to crash the plans service itself (libyaml). (A JSON body nested
    too deep is the gateway's refusal: tests/interface/test_gateway_requests.py.)"""
    before = state(stack, world)
    central = world["central"]
    for plan in ("[" * 100_000, "- " * 100_000 + "x"):
        response = central.post(f"{central.base}/plans", data=plan, headers={"Content-Type": "application/x-yaml"})
        assert problem_of(response, 422, "body")["code"] == "too_deep"
    assert central.get(f"{central.base}/plans").status_code == 200  # still up
    assert state(stack, world) == before


def test_true_is_not_a_number(stack, world):
    lao = world["lao"]
    before = state(stack, world)
    response = lao.post(f"{lao.base}/obligations/{world['obligation_id']}/submissions",
                        json={"values": [{"indicator_code": "DISB-PCT", "value": True}]})
    problem_of(response, 422, "values[0].value")
    response = world["central"].post(f"{lao.base}/directives", json={
        "document_number": "ก ๑", "document_date": "2569-11-21", "subject_th": "ก", "text_th": "ก",
        "addressees": {"codes": ["LAO-180101"]},
        "reporting": {"indicator_code": "X", "indicator_name_th": "x", "minimum": True, "period": "2569-12",
                      "due_at": "2569-12-31T16:30:00+07:00"}})
    problem_of(response, 422, "reporting.minimum")
    assert state(stack, world) == before


# --- 10. lengths of text fields (control characters in them: the gateway's refusal, tests/interface) -------

def test_text_beyond_its_documented_length_is_refused(stack, world):
    central = world["central"]
    before = state(stack, world)
    base = {"document_number": "ก ๒", "document_date": "2569-11-21", "subject_th": "ก", "text_th": "ก",
            "addressees": {"codes": ["LAO-180101"]}}
    for field, limit in (("subject_th", 1000), ("text_th", 20000)):
        problem_of(central.post(f"{central.base}/directives", json={**base, field: "ก" * 100_000}), 422, field)
        problem_of(central.post(f"{central.base}/directives", json={**base, field: "ก" * (limit + 1)}), 422, field)
    assert state(stack, world) == before


# --- 11. Buddhist-era timestamps, implausible dates ----------------------------------------------------------

def test_a_buddhist_era_timestamp_is_stored_as_the_same_instant_in_the_christian_era(stack, world):
    central, lao = world["central"], world["lao"]
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๘๙", "document_date": "2569-11-21", "subject_th": "แจ้งเวียน",
        "text_th": "ให้ลงรับ", "addressees": {"codes": ["PLO-09"]}, "acknowledge_due_at": "2569-12-31T16:30:00+07:00"})
    assert issued.status_code == 201, issued.text
    directive = central.get(f"{central.base}/directives/{issued.json()['directive_id']}").json()
    assert datetime.fromisoformat(directive["acknowledge_due_at"]) == datetime(2026, 12, 31, 16, 30, tzinfo=BANGKOK)

    asked = lao.post(f"{lao.base}/obligations/{world['obligation_id']}/extension-requests",
                     json={"requested_due_at": "2569-12-31T16:30:00+07:00", "reason": "ระบบไฟฟ้าขัดข้อง"})
    assert asked.status_code == 201, asked.text
    obligation = lao.get(f"{lao.base}/obligations/{world['obligation_id']}").json()
    [request] = [r for r in obligation["extension_requests"] if r["id"] == asked.json()["request_id"]]
    assert datetime.fromisoformat(request["requested_due_at"]) == datetime(2026, 12, 31, 16, 30, tzinfo=BANGKOK)


def test_a_document_date_of_9999_is_refused_not_stored_as_9456(stack, world):
    central = world["central"]
    before = state(stack, world)
    for date_text in ("9999-12-31", "31/12/9999", "1800-01-01"):
        response = central.post(f"{central.base}/documents", json={"document_date": date_text, "subject_th": "เรื่อง"})
        assert "2200" in problem_of(response, 422, "document_date")["message_en"]
    response = central.post(f"{central.base}/directives", json={
        "document_number": "ก ๓", "document_date": "2569-11-21", "subject_th": "ก", "text_th": "ก",
        "addressees": {"codes": ["PLO-09"]}, "acknowledge_due_at": "9999-12-31T16:30:00+07:00"})
    problem_of(response, 422, "acknowledge_due_at")
    assert state(stack, world) == before


# --- 13. attachment names ------------------------------------------------------------------------------------

def test_an_attachment_is_stored_and_served_under_its_basename(stack, world):
    central = world["central"]
    added = central.post(f"{central.base}/documents/{world['draft_id']}/attachments",
                         files={"file": ("../../../../etc/passwd", b"root:x:0:0", "text/plain")})
    assert added.status_code == 201, added.text
    document = central.get(f"{central.base}/documents/{world['draft_id']}").json()
    assert [a["filename"] for a in document["attachments"]] == ["passwd"]
    served = central.get(f"{central.base}/attachments/{added.json()['attachment_id']}")
    assert served.status_code == 200 and served.content == b"root:x:0:0"
    assert served.headers["Content-Disposition"] == "attachment; filename*=UTF-8''passwd"

    # one stored before names were cleaned is served cleaned too
    engine = create_engine(stack.database_urls["plans"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE attachments SET filename = :name WHERE id = :id"),
                            {"name": "..\\..\\windows\\evil\x00.txt", "id": added.json()["attachment_id"]})
    engine.dispose()
    served = central.get(f"{central.base}/attachments/{added.json()['attachment_id']}")
    assert served.headers["Content-Disposition"] == "attachment; filename*=UTF-8''evil.txt"


# --- 9. exports of rows stored before the fix ---------------------------------------------------------------

def readable(response, kind: str) -> list[list]:
    assert response.status_code == 200, response.text[:300]
    if kind == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def test_an_export_with_a_stored_control_character_is_a_readable_file(stack, world):
    from services.plans.models import documents
    from services.reporting.models import units
    central = world["central"]
    engine = create_engine(stack.database_urls["plans"])
    with engine.begin() as connection:  # as a row stored before control characters were refused
        connection.execute(update(documents).where(documents.c.id == world["document_id"])
                           .values(subject_th="รายงาน\x00ผล\x0b\x1b[31m"))
    engine.dispose()
    for kind in ("xlsx", "csv"):
        rows = readable(central.get(f"{central.base}/assignments",
                                    params={"mine": "0", "format": kind, "directive_id": world["directive_id"]}), kind)
        assert any("รายงาน\ufffdผล\ufffd\ufffd[31m" in str(cell) for row in rows for cell in row), rows

    reporting = create_engine(stack.database_urls["reporting"])
    def projected():
        with reporting.connect() as connection:
            return connection.execute(select(units.c.code).where(units.c.code == "LAO-180101")).first()
    wait_until(projected)
    with reporting.begin() as connection:
        connection.execute(update(units).where(units.c.code == "LAO-180101").values(name_th="เทศบาล\x00เมือง\x01"))
    reporting.dispose()
    for kind in ("xlsx", "csv"):
        rows = readable(central.get(f"{central.base}/reports/compliance",
                                    params={"unit_code": "DLO-0115", "format": kind}), kind)
        assert any("เทศบาล\ufffdเมือง\ufffd" in str(cell) for row in rows for cell in row), rows
