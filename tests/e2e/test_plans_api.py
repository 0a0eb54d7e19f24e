"""Plans through the public API with real processes: registry import with dry run, a document
with items, issue, receipt, acknowledge, forward down the tree, the cascade, attachments, plans."""
from __future__ import annotations

import time

import requests

from tests.e2e.conftest import PASSWORDS, client
from services.plans.cli import registry_rows
from shared.config import REPO_ROOT


def chainat_csv() -> str:
    rows = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") == "9"]
    columns = ["code", "level", "lao_type", "parent_code", "name_th", "contact_email", "province_code"]
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in rows]
    return "\n".join(lines) + "\n"


def test_the_directive_cascade_through_the_api(stack):
    central = client(stack, "central")
    csv_text = chainat_csv().encode("utf-8-sig")
    preview = central.post(f"{central.base}/org-units/import", params={"dry_run": "1"}, data=csv_text,
                           headers={"Content-Type": "text/csv"})
    assert preview.status_code == 200 and preview.json()["dry_run"] is True and preview.json()["created"] == 65
    assert central.get(f"{central.base}/org-units", params={"limit": 5}).json()["items"] == []
    loaded = central.post(f"{central.base}/org-units/import", data=csv_text, headers={"Content-Type": "text/csv"})
    assert loaded.json()["created"] == 65

    recorded = central.post(f"{central.base}/documents", json={
        "form": "circular", "document_number": "ที่ มท ๐๘๑๐.๔/ว ๙๙", "document_date": "๒๑ พ.ย. ๒๕๖๙",
        "urgency": "most_urgent", "subject_th": "ซักซ้อมการรายงานผลการเบิกจ่าย", "sender_code": "DLA",
        "items": [{"kind": "order", "text_th": "ให้ท้องถิ่นจังหวัดแจ้ง อปท. ในพื้นที่", "addressees": {"codes": ["PLO-09"]}},
                  {"kind": "guideline", "text_th": "แนวทางการรายงาน", "addressees": {"codes": ["PLO-09"]}}]})
    assert recorded.status_code == 201, recorded.text
    document_id = recorded.json()["document_id"]
    upload = central.post(f"{central.base}/documents/{document_id}/attachments",
                          files={"file": ("แนวทาง.pdf", b"%PDF-1.4 test", "application/pdf")})
    assert upload.status_code == 201
    download = central.get(f"{central.base}/attachments/{upload.json()['attachment_id']}")
    assert download.content == b"%PDF-1.4 test" and "filename*=UTF-8''" in download.headers["Content-Disposition"]
    issued = central.post(f"{central.base}/documents/{document_id}/issue")
    assert issued.json()["assignment_count"] == 2

    province = client(stack, "chainat")
    [order, guideline] = sorted(province.get(f"{province.base}/assignments").json()["items"], key=lambda a: a["kind"])
    receipt = province.post(f"{province.base}/receipts", json={
        "document_id": document_id, "receipt_no": "๑๒๓", "received_on": "21/11/2569", "assignment_id": guideline["id"]})
    assert receipt.status_code == 201 and receipt.json()["register_year_be"] == 2569
    duplicate = province.post(f"{province.base}/receipts", json={
        "document_id": document_id, "receipt_no": "๑๒๓", "received_on": "2026-11-22"})
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "receipt_no"
    for assignment in (order, guideline):
        assert province.post(f"{province.base}/assignments/{assignment['id']}/acknowledge", json={}).json()["changed"]
    again = province.post(f"{province.base}/assignments/{order['id']}/acknowledge", json={})
    assert again.status_code == 200 and again.json()["changed"] is False
    outside = province.post(f"{province.base}/assignments/{order['id']}/forward",
                            json={"addressees": {"codes": ["PLO-10"]}})
    assert outside.status_code in (403, 422), outside.text
    forwarded = province.post(f"{province.base}/assignments/{order['id']}/forward",
                              json={"addressees": {"level": "district_office", "within": "PLO-09"}})
    assert len(forwarded.json()["child_assignment_ids"]) == 8

    district = client(stack, "muang-chainat")
    [mine] = district.get(f"{district.base}/assignments").json()["items"]
    district.post(f"{district.base}/assignments/{mine['id']}/acknowledge", json={"receipt_number": "45"})
    district.post(f"{district.base}/assignments/{mine['id']}/forward",
                  json={"addressees": {"level": "lao", "within": "DLO-0115"}})
    lao = client(stack, "lao-180101")
    [inbox] = lao.get(f"{lao.base}/assignments").json()["items"]
    assert inbox["subject_th"] == "ซักซ้อมการรายงานผลการเบิกจ่าย"
    stranger = lao.post(f"{lao.base}/assignments/{order['id']}/acknowledge", json={})
    assert stranger.status_code == 403

    cascade = central.get(f"{central.base}/directives/{order['directive_id']}/cascade").json()
    levels = {level["level"]: level for level in cascade["levels"]}
    assert levels["provincial_office"]["forwarded"] == 1 and levels["district_office"]["units"] == 8
    assert levels["district_office"]["acknowledged"] == 1 and levels["lao"]["units"] >= 5

    # reporting saw the whole cascade through events
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        document = central.get(f"{central.base}/documents/{document_id}").json()
        if document["receipts"]:
            break
        time.sleep(0.3)
    assert document["circular"] is True and document["number_normalized"] == "มท 0810.4/ว 99"


def test_plans_import_over_the_api_and_round_trip(stack):
    central = client(stack, "central")
    for name in ("dla_strategic_plan.yaml", "chainat_provincial_plan.yaml", "tai_mueang_sao_plan.yaml"):
        text = (REPO_ROOT / "data" / "reference" / name).read_bytes()
        response = central.post(f"{central.base}/plans", data=text, headers={"Content-Type": "application/x-yaml"})
        assert response.status_code == 200, response.text
    plans = central.get(f"{central.base}/plans").json()["items"]
    assert len(plans) == 3
    dla = next(p for p in plans if p["owner_code"] == "DLA")
    exported = central.get(f"{central.base}/plans/{dla['id']}/export").json()
    again = central.post(f"{central.base}/plans", json=exported, params={"dry_run": "1"}).json()
    assert again["dry_run"] is True
    aligned = central.get(f"{central.base}/plans/{dla['id']}/links", params={"direction": "to"}).json()["items"]
    assert {link["plan_id"] for link in aligned} >= {p["id"] for p in plans if p["owner_code"] == "PLO-09"}
    broken = central.post(f"{central.base}/plans", data=b"plan: [unclosed", headers={"Content-Type": "application/x-yaml"})
    assert broken.status_code in (400, 422) and broken.json()["message_th"]


def test_the_web_session_uses_an_httponly_cookie_and_refuses_writes_without_csrf(stack):
    browser = requests.Session()
    login = browser.post(f"{stack.gateway_url}/api/v1/auth/session",
                         json={"username": "chainat", "password": PASSWORDS["chainat"]})
    assert login.status_code == 200
    cookies = {c.name: c for c in browser.cookies}
    assert cookies["tt_session"].has_nonstandard_attr("HttpOnly") and not cookies["tt_csrf"].has_nonstandard_attr("HttpOnly")
    assert browser.get(f"{stack.gateway_url}/api/v1/me").json()["org_code"] == "PLO-09"
    forged = browser.post(f"{stack.gateway_url}/api/v1/receipts", json={})
    assert forged.status_code == 403 and forged.json()["code"] == "csrf"
    with_token = browser.post(f"{stack.gateway_url}/api/v1/receipts", json={},
                              headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert with_token.status_code == 422  # past the CSRF check, into validation
    browser.post(f"{stack.gateway_url}/api/v1/auth/logout", headers={"X-CSRF-Token": login.json()["csrf_token"]})
    stale = requests.get(f"{stack.gateway_url}/api/v1/me", cookies={"tt_session": cookies["tt_session"].value})
    assert stale.status_code == 401


def test_repeated_wrong_passwords_lock_the_account(stack):
    for _ in range(5):
        assert requests.post(f"{stack.gateway_url}/api/v1/auth/token",
                             json={"username": "reviewer", "password": "wrong"}).status_code == 401
    locked = requests.post(f"{stack.gateway_url}/api/v1/auth/token",
                           json={"username": "reviewer", "password": PASSWORDS["reviewer"]})
    assert locked.status_code == 429 and locked.json()["field"] == "username"
