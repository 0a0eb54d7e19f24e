"""The registry over time through the HTTP API (issue #16), with the LAOs of Mueang Chainat district
(DLO-0115) from the reference registry: an SAO upgraded to a subdistrict municipality mid fiscal year
(dated in the past), a merger of two LAOs, a future opening and a future closing, read back through
GET /org-units?on=, the units' history and the addressees of a directive issued today; a change that
would rewrite a period already reported is refused (409) unless central forces it with a reason."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

from services.plans.cli import registry_rows
from shared.thai import BANGKOK, to_be_year
from tests.e2e.conftest import client, wait_for
from tests.support.browser import DESKTOP, expect, login, needs_chromium, new_page, shot

DISTRICT = "DLO-0115"


def mueang_chainat() -> list[dict]:
    rows = [r for r in registry_rows() if r["code"] in ("MOI", "DLA", "PLO-09", DISTRICT)
            or r.get("parent_code") == DISTRICT]
    units = []
    for row in rows:
        unit = {k: str(v) if k == "province_code" else v for k, v in row.items() if v not in (None, "")}
        if unit["code"].startswith("LAO-"):
            unit["district_code"] = "115"
        units.append(unit)
    return units


def on(session, day: date) -> dict[str, dict]:
    response = session.get(f"{session.base}/org-units", params={"within": DISTRICT, "level": "lao", "on": day.isoformat(),
                                                                 "limit": 100})
    assert response.status_code == 200, response.text
    return {u["code"]: u for u in response.json()["items"]}


def history(session, code: str) -> list[dict]:
    response = session.get(f"{session.base}/org-units/{code}/history")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_upgrade_merger_future_opening_and_closing_through_the_api(stack):
    central = client(stack, "central")
    today = datetime.now(BANGKOK).date()
    units = mueang_chainat()
    assert sum(u["code"].startswith("LAO-") for u in units) == 9
    loaded = central.post(f"{central.base}/org-units", json={"units": units})
    assert loaded.status_code == 200 and loaded.json()["created"] == len(units), loaded.text

    # a directive to the SAO that will merge: its open assignment follows the unit that takes over
    before_merger = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๑๖", "document_date": today.isoformat(), "urgency": "urgent",
        "subject_th": "สำรวจข้อมูลผู้สูงอายุ", "text_th": "ให้สำรวจและรายงาน", "addressees": {"codes": ["LAO-180104"]}})
    assert before_merger.status_code == 201, before_merger.text

    # 1. องค์การบริหารส่วนตำบลบ้านกล้วย upgraded to a subdistrict municipality mid fiscal year, in the past:
    # only the fields that change are sent; its e-mail stays
    fiscal_start = date(today.year if today.month >= 10 else today.year - 1, 10, 1)
    upgrade_day = max(fiscal_start + timedelta(days=1), today - timedelta(days=30))
    upgraded = central.post(f"{central.base}/org-units", json={"units": [{
        "code": "LAO-180102", "lao_type": "subdistrict_municipality", "name_th": "เทศบาลตำบลบ้านกล้วย",
        "effective_date": upgrade_day.isoformat(), "reason": "ประกาศกระทรวงมหาดไทย เรื่อง เปลี่ยนแปลงฐานะ"}]})
    assert upgraded.status_code == 200, upgraded.text
    assert upgraded.json()["changes"][0]["change_kind"] == "type_changed"
    assert on(central, upgrade_day - timedelta(days=1))["LAO-180102"]["lao_type"] == "sao"
    now_upgraded = on(central, upgrade_day)["LAO-180102"]
    assert now_upgraded["lao_type"] == "subdistrict_municipality" and now_upgraded["name_th"] == "เทศบาลตำบลบ้านกล้วย"
    assert now_upgraded["contact_email"] == next(u for u in units if u["code"] == "LAO-180102")["contact_email"]
    sao, municipality = history(central, "LAO-180102")
    assert (sao["valid_to"], municipality["valid_from"], municipality["change_kind"], municipality["effective_date"]) == (
        upgrade_day.isoformat(), upgrade_day.isoformat(), "type_changed", upgrade_day.isoformat())

    # 2. a merger of two SAOs into a new subdistrict municipality, five days ago
    merger_day = today - timedelta(days=5)
    merged = central.post(f"{central.base}/org-units", json={"units": [{
        "code": "LAO-180199", "level": "lao", "lao_type": "subdistrict_municipality", "parent_code": DISTRICT,
        "name_th": "เทศบาลตำบลชัยนาทเขาท่าพระ", "province_code": "9", "district_code": "115",
        "change_kind": "merged", "predecessor_codes": ["LAO-180104", "LAO-180105"],
        "effective_date": merger_day.isoformat(), "reason": "ควบรวม อบต.ชัยนาท และ อบต.เขาท่าพระ"}]})
    assert merged.status_code == 200, merged.text
    before, after = on(central, merger_day - timedelta(days=1)), on(central, merger_day)
    assert {"LAO-180104", "LAO-180105"} <= set(before) and "LAO-180199" not in before
    assert "LAO-180199" in after and not {"LAO-180104", "LAO-180105"} & set(after)
    for predecessor in ("LAO-180104", "LAO-180105"):
        last = history(central, predecessor)[-1]
        assert (last["valid_to"], last["end_kind"], last["successor_codes"]) == (
            merger_day.isoformat(), "merged", ["LAO-180199"])
    assert history(central, "LAO-180199")[0]["predecessor_codes"] == ["LAO-180104", "LAO-180105"]
    moved = central.get(f"{central.base}/directives/{before_merger.json()['directive_id']}").json()["assignments"]
    assert {a["unit_code"]: a["state"] for a in moved} == {"LAO-180104": "cancelled", "LAO-180199": "issued"}

    # 3. a unit that opens next month and one that closes next month
    later = today + timedelta(days=30)
    future = central.post(f"{central.base}/org-units", json={"units": [
        {"code": "LAO-180110", "level": "lao", "lao_type": "sao", "parent_code": DISTRICT,
         "name_th": "องค์การบริหารส่วนตำบลทดลองใหม่", "province_code": "9", "district_code": "115",
         "effective_date": later.isoformat()},
        {"code": "LAO-180106", "change_kind": "closed", "effective_date": later.isoformat(), "reason": "ยุบรวม"}]})
    assert future.status_code == 200 and future.json()["created"] == 1 and future.json()["closed"] == 1, future.text
    listed_today, listed_later = on(central, today), on(central, later)
    assert "LAO-180110" not in listed_today and "LAO-180106" in listed_today
    assert "LAO-180110" in listed_later and "LAO-180106" not in listed_later
    default = central.get(f"{central.base}/org-units", params={"within": DISTRICT, "level": "lao", "limit": 100})
    assert {u["code"] for u in default.json()["items"]} == set(listed_today)  # no date: today in Bangkok

    # 4. a directive issued today reaches the LAOs of today
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๑๗", "document_date": today.isoformat(), "urgency": "urgent",
        "subject_th": "รายงานผลการเบิกจ่าย", "text_th": "ให้ อปท. ในอำเภอเมืองชัยนาทรายงาน",
        "addressees": {"level": "lao", "within": DISTRICT}})
    assert issued.status_code == 201, issued.text
    addressed = {a["unit_code"] for a in central.get(f"{central.base}/directives/{issued.json()['directive_id']}")
                 .json()["assignments"]}
    assert addressed == {"LAO-180101", "LAO-180102", "LAO-180103", "LAO-180106", "LAO-180107", "LAO-180108",
                         "LAO-180109", "LAO-180199"}

    # 5. a period reported by เทศบาลเมืองชัยนาท may not be rewritten unless central forces it
    period = f"{to_be_year(today.year)}-{today.month:02d}"
    reporting = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๑๘", "document_date": today.isoformat(), "urgency": "urgent",
        "subject_th": "รายงานร้อยละการเบิกจ่าย", "text_th": "ให้รายงาน", "addressees": {"codes": ["LAO-180101"]},
        "reporting": {"indicator_code": "BUD-DISBURSED-PCT", "indicator_name_th": "ร้อยละการเบิกจ่ายงบประมาณ",
                      "period": period, "due_at": (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}})
    assert reporting.status_code == 201, reporting.text
    lao = client(stack, "lao-180101")
    obligation = wait_for(lambda: [o for o in lao.get(f"{lao.base}/obligations").json()["items"]
                                     if o["period"] == period])[0]
    submitted = lao.post(f"{lao.base}/obligations/{obligation['id']}/submissions",
                         json={"values": [{"indicator_code": "BUD-DISBURSED-PCT", "value": 61.5}]})
    assert submitted.status_code == 201, submitted.text
    month_start = today.replace(day=1)
    closing = {"code": "LAO-180101", "change_kind": "closed", "effective_date": (month_start - timedelta(days=1)).isoformat()}
    # (a Response of status >= 400 is falsy: wait for a list holding it)
    [refused] = wait_for(lambda: [r for r in [central.post(f"{central.base}/org-units",
                                                             json={"units": [closing], "dry_run": True})]
                                    if r.status_code == 409])
    problem = refused.json()
    assert (problem["code"], problem["field"], problem["period"]) == (
        "rewrites_reported_period", "units[0].effective_date", period)
    assert period in problem["message_th"] and period in problem["message_en"]
    upgrade = {"code": "LAO-180101", "lao_type": "city_municipality", "effective_date": month_start.isoformat()}
    assert central.post(f"{central.base}/org-units", json={"units": [upgrade]}).status_code == 409
    district = client(stack, "muang-chainat")
    forced = {**upgrade, "force": True, "reason": "แก้ไขข้อมูลประเภทที่บันทึกผิด ตามหนังสือ มท ๐๘๑๐.๓/๑๒๓"}
    assert district.post(f"{district.base}/org-units", json={"units": [forced]}).status_code == 403
    accepted = central.post(f"{central.base}/org-units", json={"units": [forced]})
    assert accepted.status_code == 200 and accepted.json()["forced"] == ["LAO-180101"], accepted.text
    last = history(central, "LAO-180101")[-1]
    assert last["forced"] is True and last["reason"] == forced["reason"]
    ops = client(stack, "ops")
    audit = ops.get(f"{ops.base}/audit", params={"username": "central", "action": "POST /api/v1/org-units",
                                                  "status": 200, "limit": 1}).json()["items"][0]
    assert json.loads(audit["request"])["units"][0]["reason"] == forced["reason"]
    assert json.loads(audit["result"])["forced"] == ["LAO-180101"]

    # 6. the CSV import takes the same columns, and an error names the row and field
    bad = central.post(f"{central.base}/org-units/import", params={"dry_run": "1"}, headers={"Content-Type": "text/csv"},
                       data="code,change_kind,effective_date,successor_codes,reason\n"
                            "LAO-180107,renamed,,,\n"
                            "LAO-180108,merged,not a date,LAO-180109,ควบรวม\n".encode())
    assert bad.status_code == 422 and bad.json()["field"] == "rows[1].effective_date", bad.text
    csv_merger = central.post(f"{central.base}/org-units/import", headers={"Content-Type": "text/csv"},
                              data=("code,change_kind,effective_date,successor_codes,reason\n"
                                    f"LAO-180108,merged,{today.isoformat()},LAO-180109,ควบรวม\n").encode())
    assert csv_merger.status_code == 200 and csv_merger.json()["closed"] == 1, csv_merger.text
    assert history(central, "LAO-180109")[-1]["predecessor_codes"] == ["LAO-180108"]

    # the `on` parameter is declared in the API description
    spec = central.get(f"{stack.gateway_url}/api/openapi.json").json()
    assert "on" in {p["name"] for p in spec["paths"]["/api/v1/org-units"]["get"]["parameters"]}


@needs_chromium
def test_a_units_page_shows_its_history_with_links_to_predecessors_and_successors(stack, browser):
    central = client(stack, "central")
    today = datetime.now(BANGKOK).date()
    offices = [u for u in mueang_chainat() if not u["code"].startswith("LAO-")]
    laos = [{"code": code, "level": "lao", "lao_type": "sao", "parent_code": DISTRICT, "name_th": name,
             "province_code": "9", "district_code": "115", "effective_date": "2020-01-01"}
            for code, name in (("LAO-189001", "องค์การบริหารส่วนตำบลหนึ่ง"), ("LAO-189002", "องค์การบริหารส่วนตำบลสอง"))]
    assert central.post(f"{central.base}/org-units", json={"units": offices + laos}).status_code == 200
    merger = central.post(f"{central.base}/org-units", json={"units": [{
        "code": "LAO-189003", "level": "lao", "lao_type": "subdistrict_municipality", "parent_code": DISTRICT,
        "name_th": "เทศบาลตำบลหนึ่งสอง", "change_kind": "merged", "predecessor_codes": ["LAO-189001", "LAO-189002"],
        "effective_date": (today - timedelta(days=3)).isoformat(), "reason": "ควบรวมตามประกาศกระทรวง"}]})
    assert merger.status_code == 200, merger.text

    page = new_page(browser, stack, DESKTOP)
    login(page, "muang-chainat")
    page.goto(f"{stack.gateway_url}/#/unit/LAO-189001")
    expect(page.locator("h1#title")).to_have_text("องค์การบริหารส่วนตำบลหนึ่ง")
    expect(page.locator("p.notice")).to_contain_text("ยุบเลิกเมื่อ")
    expect(page.locator("table.history-table tbody tr")).to_have_count(1)
    first = page.locator("tr[data-version='2020-01-01']")
    expect(first).to_contain_text("ควบรวม")  # how it ended
    last_day = today - timedelta(days=4)  # the day before the merger: the last day it existed
    months = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."]
    expect(first).to_contain_text(f"– {last_day.day} {months[last_day.month - 1]} {last_day.year + 543}")
    page.locator("p.notice [data-unit-link='LAO-189003']").click()
    expect(page.locator("h1#title")).to_have_text("เทศบาลตำบลหนึ่งสอง")
    row = page.locator(f"tr[data-version='{(today - timedelta(days=3)).isoformat()}']")
    expect(row).to_contain_text("ควบรวม")
    expect(row).to_contain_text("ควบรวมตามประกาศกระทรวง")
    expect(row.locator("[data-unit-link]")).to_have_count(3)  # the district it is under, and both predecessors
    row.locator("[data-unit-link='LAO-189002']").click()
    expect(page.locator("h1#title")).to_have_text("องค์การบริหารส่วนตำบลสอง")
    shot(page, "unit-history")
    assert page.errors == []
