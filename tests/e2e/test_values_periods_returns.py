"""Issue #15, items 5, 6, 7, 10 and 11, as an officer meets them through the public API with the
seeds' data: Tai Mueang SAO's FY2563 targets (seed 003), a seed 004-like monthly day-3 rule for
Chainat's LAOs, a returned late report. Real processes; the sweep judges deadlines every 2 s."""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.plans.cli import registry_rows
from shared.thai import BANGKOK
from tests.e2e.conftest import client, platform_stack, wait_for

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"
MONTHLY = "ELDERLY-VOL-DISBURSED-PCT"   # seed 004's day-3 report, as the memo import records it


@pytest.fixture(scope="module")
def stack(rabbit, tmp_path_factory):
    with platform_stack(rabbit, tmp_path_factory, THONGTHIN_SWEEP_INTERVAL_S="2") as platform:
        yield platform


@pytest.fixture(scope="module")
def central(stack):
    session = client(stack, "central")
    rows = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") in ("9", "65")]
    assert session.post(f"{session.base}/org-units", json={"units": rows}).status_code == 200
    plan = session.post(f"{session.base}/plans", params={"source": "tai_mueang_sao_plan.yaml"},
                        data=(REFERENCE / "tai_mueang_sao_plan.yaml").read_bytes(),
                        headers={"Content-Type": "application/x-yaml"})
    assert plan.status_code == 200, plan.text
    return session


def directive(session, number, addressees, reporting):
    now = datetime.now(BANGKOK)
    issued = session.post(f"{session.base}/directives", json={
        "document_number": number, "document_date": now.date().isoformat(), "subject_th": "ขอให้รายงานผล",
        "text_th": "ให้ อปท. รายงานผลตามตัวชี้วัด", "addressees": addressees, "reporting": reporting})
    return issued


def obligations(session, **params):
    return session.get(f"{session.base}/obligations", params={"limit": 1000, **params}).json()["items"]


def test_fiscal_year_2563_values_are_judged_by_fy2563_targets_and_filed_under_2563(central):
    """Items 5 and 7: a one-off report of several indicators for FY2563, due now (FY2570)."""
    due = datetime.now(BANGKOK) + timedelta(days=3)
    issued = directive(central, "ชง ๐๐๒๓.๓/ว ๒๕๖๓", {"codes": ["LAO-820801"]}, {
        "indicator_code": "TM-K13", "indicator_name_th": "จัดกิจกรรมให้ความรู้และถ่ายทอดเทคโนโลยี รวมทั้งฝึกอาชีพ",
        "unit_of_measure": "ครั้ง", "value_type": "count", "direction": "higher", "period": "FY2563",
        "due_at": due.isoformat(),
        "more_indicators": [{"code": "TM-K17", "name_th": "หมู่บ้านสะอาดปลอดภัย", "unit_of_measure": "หมู่",
                             "value_type": "count", "direction": "increase"}]})
    assert issued.status_code == 201, issued.text
    [obligation] = wait_for(lambda: obligations(central, directive_id=issued.json()["directive_id"]),
                            what="Tai Mueang's FY2563 obligation")
    assert (obligation["period"], obligation["indicator_codes"]) == ("FY2563", ["TM-K13", "TM-K17"])
    url = f"{central.base}/obligations/{obligation['id']}/submissions"
    # seed 003: FY2563 targets TM-K13 = 1 ครั้ง, TM-K17 = 2 หมู่; one village is below target
    below = central.post(url, json={"unit_code": "LAO-820801", "values": [{"indicator_code": "TM-K13", "value": 1},
                                               {"indicator_code": "TM-K17", "value": 1}]})
    assert below.status_code == 422, below.text
    problem = below.json()
    assert (problem["code"], problem["field"]) == ("note_required", "values[1].note")
    assert "2" in problem["message_en"] and problem["message_th"]
    accepted = central.post(url, json={"unit_code": "LAO-820801", "values": [{"indicator_code": "TM-K13", "value": 1},
                                                  {"indicator_code": "TM-K17", "value": 1,
                                                   "note": "หมู่ที่ ๕ ยังไม่ผ่านเกณฑ์"}]})
    assert accepted.status_code == 201, accepted.text

    def achievement(year):
        response = central.get(f"{central.base}/achievement", params={"unit_code": "LAO-820801", "fiscal_year_be": year})
        assert response.status_code == 200, response.text
        return {item["indicator_code"]: item for item in response.json()["items"]}
    fy2563 = achievement(2563)
    assert (fy2563["TM-K13"]["status"], fy2563["TM-K13"]["target"]) == ("achieved", 1)
    assert (fy2563["TM-K17"]["status"], fy2563["TM-K17"]["target"]) == ("not_achieved", 2)
    assert achievement(2570) == {}
    # reporting files them under FY2563 too
    report = wait_for(lambda: (r := central.get(f"{central.base}/reports/achievement", params={
        "indicator_code": "TM-K17", "fiscal_year": 2563, "unit_code": "LAO-820801"}).json()).get("rows") and r,
        what="reporting's FY2563 achievement")
    assert [(row["actual"], row["target"], row["status"]) for row in report["rows"]] == [(1, 2, "not_achieved")]


def test_a_declared_percent_range_is_enforced_by_form_batch_and_upload(central, stack):
    """Item 6, with a seed 004-like monthly day-3 rule for Chainat's LAOs (window open 40 days)."""
    unknown = directive(central, "มท ๐๘๑๐.๓/ว ๑๐๐", {"level": "lao", "within": "PLO-09"}, {
        "indicator_code": MONTHLY, "indicator_name_th": "ร้อยละการเบิกจ่าย", "rrule": "FREQ=MONTHLY;BYMONTHDAY=3",
        "value_type": "percent", "min": 0, "max": 100})
    assert unknown.status_code == 422 and unknown.json()["field"] == "reporting.min", unknown.text
    issued = directive(central, "มท ๐๘๑๐.๓/ว ๑๐๑", {"level": "lao", "within": "PLO-09"}, {
        "indicator_code": MONTHLY, "indicator_name_th": "ร้อยละการเบิกจ่ายงบประมาณโครงการอาสาสมัครบริหารท้องถิ่น",
        "unit_of_measure": "ร้อยละ", "value_type": "percent", "minimum": 0, "maximum": 100, "direction": "higher",
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=3", "dtstart": datetime.now(BANGKOK).isoformat(),
        "window_opens_before": "P40D"})
    assert issued.status_code == 201, issued.text
    items = wait_for(lambda: len(found := obligations(central, directive_id=issued.json()["directive_id"])) == 54
                     and found, what="54 monthly obligations")
    lao = client(stack, "lao-180101")
    [mine] = [o for o in items if o["unit_code"] == "LAO-180101"]
    for bad in (172.5, -5):
        form = lao.post(f"{lao.base}/obligations/{mine['id']}/submissions",
                        json={"values": [{"indicator_code": MONTHLY, "value": bad}]})
        assert form.status_code == 422 and form.json()["field"] == "values[0].value", form.text
        assert form.json()["code"] == "out_of_range" and form.json()["message_th"]
        batch = central.post(f"{central.base}/submissions/batch", json={"items": [
            {"obligation_id": mine["id"], "unit_code": "LAO-180101", "values": [{"indicator_code": MONTHLY, "value": bad}]}]})
        assert batch.status_code in (200, 422) and batch.json()["accepted"] == 0, batch.text
        assert batch.json()["errors"][0]["field"] == "items[0].values[0].value"
        buffer = io.StringIO()
        csv.writer(buffer).writerows([["รหัสหน่วยงาน", "รหัสตัวชี้วัด", "งวด", "ค่า", "หมายเหตุ"],
                                      ["LAO-180101", MONTHLY, mine["period"], f"{bad}%", ""]])
        upload = central.post(f"{central.base}/submissions/upload",
                              files={"file": ("เบิกจ่าย.csv", buffer.getvalue().encode("utf-8-sig"), "text/csv")})
        assert upload.status_code == 422, upload.text
        assert [(e["row"], e["column"], e["code"]) for e in upload.json()["errors"]] == [(2, "value", "out_of_range")]
    assert lao.get(f"{lao.base}/obligations/{mine['id']}").json()["submissions"] == []
    assert lao.post(f"{lao.base}/obligations/{mine['id']}/submissions",
                    json={"values": [{"indicator_code": MONTHLY, "value": 100}]}).status_code == 201


def test_one_obligation_per_unit_indicator_and_period_and_the_upload_finds_it(central, stack):
    """Item 10: a directive asks LAO-180102 for December 2569 (printed in Thai digits), then a
    monthly rule asks every Chainat LAO for the same indicator and month: one obligation each."""
    due = datetime.now(BANGKOK) + timedelta(days=5)
    one_off = directive(central, "มท ๐๘๑๐.๓/ว ๒๐๐", {"codes": ["LAO-180102"]}, {
        "indicator_code": "DUP-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย (ทดสอบ)", "value_type": "percent",
        "period": "๒๕๖๙-๑๒", "due_at": due.isoformat()})
    assert one_off.status_code == 201, one_off.text
    [first] = wait_for(lambda: obligations(central, directive_id=one_off.json()["directive_id"]), what="the one-off")
    assert first["period"] == "2569-12"
    rule = directive(central, "มท ๐๘๑๐.๓/ว ๒๐๑", {"level": "lao", "within": "PLO-09"}, {
        "indicator_code": "DUP-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย (ทดสอบ)", "value_type": "percent",
        "rrule": "FREQ=MONTHLY;BYMONTHDAY=3", "dtstart": datetime.now(BANGKOK).isoformat(),
        "until": (datetime.now(BANGKOK) + timedelta(days=40)).isoformat(), "window_opens_before": "P40D"})
    assert rule.status_code == 201, rule.text
    # the rule's obligations arrive in one transaction: 53, LAO-180102 already owes December
    from_rule = wait_for(lambda: (found := obligations(central, directive_id=rule.json()["directive_id"]))
                         and found, what="the rule's obligations")
    assert {o["period"] for o in from_rule} == {"2569-12"}
    assert len(from_rule) == 53 and "LAO-180102" not in {o["unit_code"] for o in from_rule}
    december = [o for o in obligations(central, unit_code="LAO-180102", period="2569-12")
                if "DUP-PCT" in o["indicator_codes"]]
    assert [o["id"] for o in december] == [first["id"]]
    province = client(stack, "chainat")
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["unit_code", "indicator_code", "period", "value", "note"],
                                  ["LAO-180102", "DUP-PCT", "2569-12", "88", ""]])
    upload = province.post(f"{province.base}/submissions/upload",
                           files={"file": ("ธันวาคม.csv", buffer.getvalue().encode(), "text/csv")})
    assert upload.status_code == 200 and upload.json()["accepted_submissions"] == 1, upload.text
    assert upload.json()["submissions"][0]["obligation_id"] == first["id"]


def test_a_returned_late_report_is_returned_not_missing_and_never_escalated(central, stack):
    """Item 11: due in a few seconds, reported late, returned by the province: returned with a
    resubmission deadline, counted as returned, not missed by the sweep, no escalation to the mayor;
    the resubmission goes back to submitted."""
    due = datetime.now(BANGKOK) + timedelta(seconds=8)
    issued = directive(central, "มท ๐๘๑๐.๓/ว ๓๐๐", {"codes": ["LAO-180101"]}, {
        "indicator_code": "RET-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย (ส่งกลับ)", "value_type": "percent",
        "minimum": 0, "maximum": 100, "period": "2569-11", "due_at": due.isoformat()})
    assert issued.status_code == 201, issued.text
    lao, province = client(stack, "lao-180101"), client(stack, "chainat")
    [obligation] = wait_for(lambda: obligations(lao, directive_id=issued.json()["directive_id"]), what="the obligation")
    url = f"{lao.base}/obligations/{obligation['id']}"
    wait_for(lambda: lao.get(url).json()["state"] == "missed", timeout=60, what="the sweep to see the deadline pass")
    late = lao.post(f"{url}/submissions", json={"values": [{"indicator_code": "RET-PCT", "value": 61}]})
    assert late.status_code == 201 and late.json()["on_time"] is False, late.text
    returned = province.post(f"{province.base}/submissions/{late.json()['submission_id']}/review",
                             json={"decision": "returned", "comment": "ยอดเบิกจ่ายไม่ตรงกับระบบ e-LAAS"})
    assert returned.status_code == 200, returned.text
    assert returned.json()["obligation_state"] == "returned"
    resubmit_by = datetime.fromisoformat(returned.json()["resubmit_due_at"])
    assert timedelta(days=6) < resubmit_by - datetime.now(BANGKOK) <= timedelta(days=7)
    detail = lao.get(url).json()
    assert (detail["state"], detail["resubmit_due_at"] is not None) == ("returned", True)
    # several sweeps later it is still returned, not overdue, not missing in any report
    sweeps_before = time.monotonic()
    wait_for(lambda: time.monotonic() - sweeps_before > 6, what="three sweeps")
    assert lao.get(url).json()["state"] == "returned"
    assert obligation["id"] not in {o["id"] for o in obligations(lao, overdue=1)}
    report = wait_for(lambda: (r := province.get(f"{province.base}/reports/compliance",
                                                 params={"unit_code": "LAO-180101", "period": "2569-11"}).json())
                      and any(c["obligation_id"] == obligation["id"] and c["status"] == "returned"
                              for c in r["children"]) and r, what="reporting to show it returned")
    [row] = [c for c in report["children"] if c["obligation_id"] == obligation["id"]]
    assert (row["returned"], row["missing"], row["reported_rate"]) == (1, 0, 1.0)
    overdue = province.get(f"{province.base}/reports/overdue", params={"limit": 1000}).json()["items"]
    assert obligation["id"] not in {item["obligation_id"] for item in overdue}
    # notifications: nothing about a missed deadline is scheduled or sent for it after the return
    ops = client(stack, "ops")
    ledger = ops.get(f"{ops.base}/notifications/deliveries", params={"subject_ref": obligation["id"],
                                                                      "kind": "deadline_missed", "limit": 100})
    assert ledger.status_code == 200, ledger.text
    assert {item["status"] for item in ledger.json()["items"]} <= {"cancelled", "skipped"}
    # the resubmission goes back to submitted
    again = lao.post(f"{url}/submissions", json={"values": [{"indicator_code": "RET-PCT", "value": 62}]})
    assert again.status_code == 201, again.text
    assert lao.get(url).json()["state"] == "submitted"


def test_plan_targets_as_printed_and_one_vocabulary_of_directions(central):
    """Item 7: "๑ แห่ง" is the target 1 in แห่ง; "higher" is read as increase and given back as increase."""
    def plan(targets):
        return central.post(f"{central.base}/plans", json={
            "format": "thongthin.plan/v1",
            "plan": {"id": "TM-PRINTED-TARGETS", "type": "local_development", "owner_code": "LAO-820801",
                     "title_th": "แผนพัฒนาท้องถิ่น อบต.ท้ายเหมือง (ค่าเป้าหมายตามที่พิมพ์)",
                     "period_be_start": 2561, "period_be_end": 2565},
            "indicators": [{"id": "TM-K12-PRINTED", "name_th": "สร้างตลาดกลางและสถานที่จำหน่ายสินค้า",
                            "unit_th": "แห่ง", "direction": "higher", "targets": targets}]})
    wrong = plan({"2562": "๑ ครั้ง"})
    assert wrong.status_code == 422 and "แห่ง" in wrong.json()["message_en"], wrong.text
    assert wrong.json()["field"].startswith("indicators[0]")
    imported = plan({"2562": "๑ แห่ง", "2563": "-", "2564": "๑ แห่ง"})
    assert imported.status_code == 200, imported.text
    targets = central.get(f"{central.base}/targets", params={"plan_id": "TM-PRINTED-TARGETS"}).json()["items"]
    assert sorted((t["fiscal_year_be"], t["value"]) for t in targets) == [(2562, 1), (2563, None), (2564, 1)]
    exported = central.get(f"{central.base}/plans/TM-PRINTED-TARGETS/export").json()
    assert exported["indicators"][0]["direction"] == "increase"
