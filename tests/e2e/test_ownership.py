"""Who may write documents, plans and receipts, through the HTTP API with the real memo of seed 004
(issue #14 items 1-5, issue #15 items 13-14). Every refusal is re-read: nothing changed."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import yaml

from devtools.demo import DEMO_USERS, MEMO, create_users
from devtools.mailsink import MailSink
from devtools.stack import Stack, free_port
from services.gateway import auth
from services.plans.cli import registry_rows
from shared.config import REPO_ROOT
from shared.db import Database

PASSWORDS = {username: password for username, password, *_ in DEMO_USERS}
TAI_MUEANG = ("tai-mueang", "tai-mueang-demo", "lao", "LAO-820801")  # Phang Nga's Tai Mueang SAO
SEED_004 = yaml.safe_load(MEMO.read_text("utf-8"))
D3 = next(d for d in SEED_004["documents"] if d["id"] == "D3")            # the MOI memo DLA received
D4 = next(d for d in SEED_004["documents"] if d["id"] == "D4")            # DLA's cover memo
ITEMS = {item["id"]: item for item in SEED_004["directives"]}
R1 = SEED_004["receipt_stamps"][0]                                          # DLA's receipt 296


@pytest.fixture(scope="module")
def stack(rabbit, tmp_path_factory):
    from tests.conftest import new_vhost
    sink = MailSink(port=free_port()).start()
    platform = Stack(amqp_uri=new_vhost(rabbit), var_dir=tmp_path_factory.mktemp("var"),
                     extra_env={"SMTP_PORT": str(sink.port), "THONGTHIN_SWEEP_INTERVAL_S": "3600"})
    platform.migrate()
    create_users(platform.database_urls["gateway"])
    database = Database(platform.database_urls["gateway"])
    with database.session() as session:
        username, password, role, org = TAI_MUEANG
        auth.create_user(session, username=username, password=password, role=role, org_code=org, display_name=username)
        session.commit()
    database.dispose()
    PASSWORDS[TAI_MUEANG[0]] = TAI_MUEANG[1]
    platform.start()
    central = client(platform, "central")
    units = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") in ("9", "65")]
    assert central.post(f"{central.base}/org-units", json={"units": units}).status_code == 200
    yield platform
    platform.stop()
    sink.stop()


def client(stack, username: str) -> requests.Session:
    session = requests.Session()
    response = session.post(f"{stack.gateway_url}/api/v1/auth/token",
                            json={"username": username, "password": PASSWORDS[username]})
    assert response.status_code == 200, response.text
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    session.base = f"{stack.gateway_url}/api/v1"
    return session


def memo_item(item_id: str, addressees: dict, **extra) -> dict:
    item = ITEMS[item_id]
    return {"item_ref": item_id, "text_th": item["text_th"], "topic_th": item.get("topic_th"),
            "addressees": addressees, **extra}


def moi_memo(number: str | None = None, **overrides) -> dict:
    """Seed 004's D3 as printed: the MOI memo recorded by DLA."""
    return {"form": "memo", "document_number": number or D3["number_printed"], "document_date": D3["date"],
            "subject_th": D3["subject_th"], "sender_text": D3["sender_th"], **overrides}


def by_number(session, number: str) -> list[dict]:
    response = session.get(f"{session.base}/documents", params={"number": number})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def document(session, document_id: str) -> dict:
    response = session.get(f"{session.base}/documents/{document_id}")
    assert response.status_code == 200, response.text
    return response.json()


def assignment_count(central, directive_ids: list[str]) -> int:
    return sum(len(central.get(f"{central.base}/directives/{d}").json()["assignments"]) for d in directive_ids)


def test_item_1_a_province_can_neither_issue_nor_attach_to_dlas_draft(stack):
    central, chainat = client(stack, "central"), client(stack, "chainat")
    draft = central.post(f"{central.base}/documents", json=moi_memo(
        "ที่ มท ๐๒๑๑.๒/๑๙๓๕๕-๑", sender_code="MOI",
        items=[memo_item("PS-G1", {"codes": ["LAO-820801"]})]))
    assert draft.status_code == 201, draft.text
    document_id, directive_ids = draft.json()["document_id"], draft.json()["directive_ids"]
    assert chainat.get(f"{chainat.base}/documents/{document_id}").status_code == 404
    issued = chainat.post(f"{chainat.base}/documents/{document_id}/issue")
    attached = chainat.post(f"{chainat.base}/documents/{document_id}/attachments",
                            files={"file": ("a.txt", "แทรก".encode(), "text/plain")})
    assert (issued.status_code, attached.status_code) == (404, 404), (issued.text, attached.text)
    after = document(central, document_id)
    assert [i["state"] for i in after["items"]] == ["draft"] and after["attachments"] == []
    assert assignment_count(central, directive_ids) == 0


def test_item_1_only_the_recording_unit_issues_and_a_chosen_subset_can_go_first(stack):
    chainat, district = client(stack, "chainat"), client(stack, "muang-chainat")
    recorded = chainat.post(f"{chainat.base}/documents", json={
        "document_number": "ที่ ชน ๐๐๒๓.๓/ว ๑๐๑", "document_date": "๕ ม.ค. ๒๕๖๕", "subject_th": D4["subject_th"],
        "items": [memo_item("PS-G1", {"codes": ["DLO-0115"]}), memo_item("PS-G2", {"level": "lao", "within": "PLO-09"})]})
    assert recorded.status_code == 201, recorded.text
    document_id, (first, second) = recorded.json()["document_id"], recorded.json()["directive_ids"]
    assert document(chainat, document_id)["sender_code"] == "PLO-09"
    issued = chainat.post(f"{chainat.base}/documents/{document_id}/issue", json={"items": [first]})
    assert issued.status_code == 200, issued.text
    assert [d["directive_id"] for d in issued.json()["directives"]] == [first]
    # the district office now sees the document (it was assigned the first item) but did not record it
    assert district.get(f"{district.base}/documents/{document_id}").status_code == 200
    for refused in (district.post(f"{district.base}/documents/{document_id}/issue"),
                    district.post(f"{district.base}/documents/{document_id}/attachments",
                                  files={"file": ("a.txt", b"x", "text/plain")})):
        assert refused.status_code == 403 and refused.json()["field"] == "document_id", refused.text
    after = document(chainat, document_id)
    assert {i["id"]: i["state"] for i in after["items"]} == {first: "issued", second: "draft"}
    assert after["attachments"] == []
    rest = chainat.post(f"{chainat.base}/documents/{document_id}/issue")
    assert rest.status_code == 200 and [d["directive_id"] for d in rest.json()["directives"]] == [second]


def test_item_2_a_district_cannot_speak_for_dla_or_moi_nor_address_another_province(stack):
    district, central = client(stack, "muang-chainat"), client(stack, "central")
    number = "ที่ มท ๐๘๐๑.๒/ว ๙๙๙๑"
    attempts = [
        (moi_memo(number, sender_code="DLA", items=[memo_item("PS-G1", {"codes": ["LAO-180101"]})]), "sender_code"),
        (moi_memo(number, items=[memo_item("PS-G1", {"codes": ["LAO-180101"]}, issuer_code="MOI")]),
         "items[0].issuer_code"),
        (moi_memo(number, items=[memo_item("PS-G1", {"codes": ["LAO-820801"]})]), "items[0].addressees"),
        (moi_memo(number, items=[memo_item("PS-G1", {"level": "lao"})]), "items[0].addressees"),
    ]
    for body, field in attempts:
        response = district.post(f"{district.base}/documents", json=body)
        assert response.status_code == 403, response.text
        assert response.json()["field"] == field and response.json()["message_th"] and response.json()["message_en"]
    assert by_number(central, number) == []
    own = district.post(f"{district.base}/documents", json=moi_memo(
        number, items=[memo_item("PS-G1", {"codes": ["LAO-180101"]})]))
    assert own.status_code == 201, own.text
    assert document(central, own.json()["document_id"])["sender_code"] == "DLO-0115"


def _dla_plan(target: float) -> dict:
    return {"format": "thongthin.plan/v1",
            "plan": {"id": "DLA-DISB-2569", "type": "strategic", "owner_code": "DLA",
                     "title_th": "แผนการเบิกจ่ายงบประมาณ ๒๕๖๙", "period_be_start": 2569, "period_be_end": 2570},
            "indicators": [{"id": "DISB-PCT", "name_th": "ร้อยละการเบิกจ่าย", "unit_th": "ร้อยละ", "direction": "higher",
                            "targets": {"2569": target, "2570": target}}]}


def test_item_3_only_central_or_the_owner_imports_or_changes_a_plan(stack):
    central, chainat, lao = client(stack, "central"), client(stack, "chainat"), client(stack, "lao-180101")
    assert central.post(f"{central.base}/plans", json=_dla_plan(70)).json()["status"] == "created"
    targets = lambda: sorted((t["fiscal_year_be"], t["value"]) for t in central.get(  # noqa: E731
        f"{central.base}/targets", params={"plan_id": "DLA-DISB-2569"}).json()["items"])
    before = targets()
    for session, params in ((lao, {"dry_run": "1"}), (chainat, {"dry_run": "1"}), (chainat, {})):
        response = session.post(f"{session.base}/plans", params=params, json=_dla_plan(5))
        assert response.status_code == 403 and response.json()["field"] == "plan.id", response.text
    assert targets() == before
    tai_mueang = (REPO_ROOT / "data" / "reference" / "tai_mueang_sao_plan.yaml").read_bytes()
    yaml_headers = {"Content-Type": "application/x-yaml"}
    refused = chainat.post(f"{chainat.base}/plans", data=tai_mueang, headers=yaml_headers)  # LAO-820801's plan
    assert refused.status_code == 403 and refused.json()["field"] == "plan.owner_code", refused.text
    other = {**_dla_plan(1), "plan": {**_dla_plan(1)["plan"], "id": "PLO-10-X", "owner_code": "PLO-10"}}
    assert chainat.post(f"{chainat.base}/plans", json=other).status_code == 403
    assert central.get(f"{central.base}/plans", params={"owner_code": "LAO-820801"}).json()["items"] == []
    assert central.get(f"{central.base}/plans", params={"owner_code": "PLO-10"}).json()["items"] == []
    # the owner imports its own plan; Tai Mueang its own, from seed 003
    chainat_plan = (REPO_ROOT / "data" / "reference" / "chainat_provincial_plan.yaml").read_bytes()
    assert chainat.post(f"{chainat.base}/plans", data=chainat_plan, headers=yaml_headers).status_code == 200
    mine = client(stack, "tai-mueang").post(f"{chainat.base}/plans", data=tai_mueang, headers=yaml_headers)
    assert mine.status_code == 200 and mine.json()["status"] == "created", mine.text


def test_item_4_directive_reports_are_not_found_outside_the_callers_assignments(stack):
    central, chainat = client(stack, "central"), client(stack, "chainat")
    due = (datetime.now(timezone.utc) + timedelta(days=5)).isoformat()
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๔๔๔", "document_date": "2026-11-21", "subject_th": "เฉพาะท้ายเหมือง",
        "text_th": ITEMS["PS-G1"]["text_th"], "addressees": {"codes": ["LAO-820801"]},
        "reporting": {"indicator_code": "X", "indicator_name_th": "ตัวชี้วัด", "period": "2570-01", "due_at": due}})
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["directive_id"]
    tai_mueang = client(stack, "tai-mueang")
    deadline = time.monotonic() + 60  # the read model follows the events
    while tai_mueang.get(f"{tai_mueang.base}/reports/directives/{directive_id}/compliance").status_code != 200:
        assert time.monotonic() < deadline, "the assigned LAO never saw its directive's report"
        time.sleep(0.5)
    for path in ("compliance", "cascade"):
        response = chainat.get(f"{chainat.base}/reports/directives/{directive_id}/{path}")
        assert response.status_code == 404, response.text
        assert "เฉพาะท้ายเหมือง" not in response.text and "๔๔๔" not in response.text
        assert central.get(f"{central.base}/reports/directives/{directive_id}/{path}").status_code == 200


def test_item_5_an_lao_sees_only_its_scopes_receipts_and_cannot_register_what_it_cannot_see(stack):
    central, lao = client(stack, "central"), client(stack, "lao-180101")
    hidden = central.post(f"{central.base}/documents", json=moi_memo("ที่ มท ๐๒๑๑.๒/๑๙๓๕๕-๕", sender_code="MOI"))
    assert hidden.status_code == 201, hidden.text
    refused = lao.post(f"{lao.base}/receipts", json={"document_id": hidden.json()["document_id"], "receipt_no": "7",
                                                    "received_on": "2022-01-05"})
    assert refused.status_code == 404, refused.text
    assert document(central, hidden.json()["document_id"])["receipts"] == []
    # a document the LAO was assigned: DLA's stamp (R1, 296) and the LAO's own register
    shared = central.post(f"{central.base}/documents", json=moi_memo(
        "ที่ มท ๐๒๑๑.๒/๑๙๓๕๕-๖", sender_code="MOI", items=[memo_item("PS-G1", {"codes": ["LAO-180101"]})]))
    document_id = shared.json()["document_id"]
    assert central.post(f"{central.base}/documents/{document_id}/issue").status_code == 200
    assert central.post(f"{central.base}/receipts", json={"document_id": document_id, "receipt_no": R1["receipt_no"],
                                                          "received_on": R1["date"]}).status_code == 201
    assert lao.post(f"{lao.base}/receipts", json={"document_id": document_id, "receipt_no": "๑๒",
                                                  "received_on": "2022-01-06"}).status_code == 201
    assert [(r["unit_code"], r["receipt_no"]) for r in document(lao, document_id)["receipts"]] == [("LAO-180101", "12")]
    assert {(r["unit_code"], r["receipt_no"]) for r in document(central, document_id)["receipts"]} == {
        ("DLA", "296"), ("LAO-180101", "12")}


def test_issue_15_item_13_receipt_numbers_in_thai_and_arabic_digits_are_one_number(stack):
    central = client(stack, "central")
    recorded = central.post(f"{central.base}/documents", json=moi_memo("ที่ มท ๐๒๑๑.๒/๑๙๓๕๕-๑๓", sender_code="MOI"))
    document_id = recorded.json()["document_id"]
    first = central.post(f"{central.base}/receipts", json={"document_id": document_id, "receipt_no": "๕๐๘๓๖",
                                                           "received_on": "๔ ม.ค. ๒๕๖๕"})
    assert first.status_code == 201, first.text
    again = central.post(f"{central.base}/receipts", json={"document_id": document_id, "receipt_no": "50836",
                                                           "received_on": "2022-03-01"})
    assert again.status_code == 409 and again.json()["field"] == "receipt_no", again.text
    assert [r["receipt_no"] for r in document(central, document_id)["receipts"]] == ["50836"]
    next_year = central.post(f"{central.base}/receipts", json={"document_id": document_id, "receipt_no": "50836",
                                                               "received_on": "2023-01-03"})
    assert next_year.status_code == 201, next_year.text


def test_issue_15_item_14_the_moi_memo_is_found_by_number_and_recorded_once(stack):
    central, chainat = client(stack, "central"), client(stack, "chainat")
    # central states the sender: the MOI memo is not saved as DLA's
    unstated = central.post(f"{central.base}/documents", json=moi_memo())
    assert unstated.status_code == 422 and unstated.json()["field"] == "sender_code", unstated.text
    first = central.post(f"{central.base}/documents", json=moi_memo(sender_code="MOI"))
    assert first.status_code == 201, first.text
    existing = first.json()["document_id"]
    assert document(central, existing)["sender_code"] == "MOI"
    for typed in (D3["number_printed"], D3["number_th"], "มท 0211.2/19355", "๐๒๑๑.๒/๑๙๓๕๕"):
        found = by_number(central, typed)
        assert found and found[0]["id"] == existing, typed
    again = central.post(f"{central.base}/documents", json=moi_memo("มท 0211.2/19355", sender_code="MOI"))
    assert again.status_code == 409, again.text
    assert again.json()["existing_document_id"] == existing and again.json()["field"] == "document_number"
    assert [d["id"] for d in by_number(central, "มท 0211.2/19355") if d["number_normalized"] == "มท 0211.2/19355"] \
        == [existing]
    forced = central.post(f"{central.base}/documents", json=moi_memo(sender_code="MOI", allow_duplicate=True))
    assert forced.status_code == 201, forced.text
    # a province finds only documents it can see (here: the one assigned to a Chainat LAO in item 5's test)
    seen = {d["id"] for d in by_number(chainat, D3["number_th"])}
    assert existing not in seen and forced.json()["document_id"] not in seen
    assert all(document(chainat, d) for d in seen)
