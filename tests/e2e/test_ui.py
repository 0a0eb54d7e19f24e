"""The officers' web UI in a real browser (Debian's chromium, headless) against the real platform.

An LAO officer on a phone registers a receipt, acknowledges, submits a report (a wrong value first:
the Thai error appears next to the field), asks for an extension and uploads a CSV; the province
sees who is late, chases, returns a submission, approves the extension and forwards a directive;
central composes a document with a live preview of its reach, issues it and follows the cascade.
Numbers on the pages are checked against the API. Screenshots go to tests/e2e/screenshots/."""
from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import datetime, timedelta

import pytest
import requests

from tests.e2e.conftest import client
from tests.support.browser import (DESKTOP, PHONE, STATIC, expect, login, needs_chromium, new_page,
                                   no_horizontal_overflow, shot)
from services.plans.cli import registry_rows
from shared.thai import BANGKOK

def wait_until(check, timeout=60):
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.3)
    return result


@pytest.fixture(scope="module")
def world(stack):
    """Chainat's units; directive A (monthly report due in 3 days) to its 54 LAOs; directive B (a
    one-off report due yesterday) to the LAOs of Mueang Chainat district; directive C to the province."""
    central = client(stack, "central")
    rows = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") == "9"]
    assert central.post(f"{central.base}/org-units", json={"units": rows}).status_code == 200
    now = datetime.now(BANGKOK)
    due = (now + timedelta(days=3)).replace(hour=16, minute=30, second=0, microsecond=0)
    a = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๗๗", "document_date": now.date().isoformat(), "urgency": "very_urgent",
        "subject_th": "รายงานผลการเบิกจ่ายงบประมาณประจำเดือน", "text_th": "ให้ อปท. รายงานผลการเบิกจ่ายทุกเดือน",
        "addressees": {"level": "lao", "within": "PLO-09"}, "acknowledge_due_at": (now + timedelta(days=7)).isoformat(),
        "reporting": {"indicator_code": "DISB-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย", "value_type": "percent",
                      "minimum": 0, "maximum": 100, "rrule": f"FREQ=MONTHLY;BYMONTHDAY={due.day}",
                      "dtstart": (due - timedelta(days=1)).isoformat(), "until": (due + timedelta(days=1)).isoformat(),
                      "due_time_local": "16:30", "holiday_rule": "none",
                      "more_indicators": [{"code": "ELDERLY", "name_th": "ผู้สูงอายุที่ได้รับการดูแล", "value_type": "count"}]}})
    assert a.status_code == 201, a.text
    yesterday = (now - timedelta(days=1)).replace(hour=16, minute=30, second=0, microsecond=0)
    period_b = f"{now.year + 543}-{now.month:02d}"
    b = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๕/ว ๑๒", "document_date": (now - timedelta(days=10)).date().isoformat(),
        "subject_th": "สำรวจการเยี่ยมบ้านผู้สูงอายุ", "kind": "order", "text_th": "ให้รายงานจำนวนผู้สูงอายุที่ได้รับการเยี่ยมบ้าน",
        "addressees": {"level": "lao", "within": "DLO-0115"}, "acknowledge_due_at": (now - timedelta(hours=2)).isoformat(),
        "reporting": {"indicator_code": "ELDER-VISIT", "indicator_name_th": "จำนวนผู้สูงอายุที่ได้รับการเยี่ยมบ้าน",
                      "period": period_b, "opens_at": (now - timedelta(days=10)).isoformat(), "due_at": yesterday.isoformat()}})
    assert b.status_code == 201, b.text
    c = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๖.๒/ว ๓๓", "document_date": now.date().isoformat(), "kind": "guideline",
        "subject_th": "แนวทางการป้องกันและแก้ไขปัญหาอุทกภัย", "text_th": "ให้ท้องถิ่นจังหวัดแจ้งท้องถิ่นอำเภอทุกแห่ง",
        "addressees": {"codes": ["PLO-09"]}, "acknowledge_due_at": (now + timedelta(days=7)).isoformat()})
    assert c.status_code == 201, c.text
    lao_b = b.json()["assignment_count"]
    province = client(stack, "chainat")
    assert wait_until(lambda: len(province.get(f"{province.base}/obligations", params={"limit": 1000}
                                               ).json()["items"]) == 54 + lao_b), "obligations of A and B"
    return {"a": a.json(), "b": b.json(), "c": c.json(), "period_b": period_b, "due": due,
            "central": central, "province": province, "lao": client(stack, "lao-180101")}


def csv_bytes(rows):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["unit_code", "indicator_code", "period", "value", "note"], *rows])
    return buffer.getvalue().encode("utf-8-sig")


def test_every_string_the_page_uses_exists_in_thai_and_english():
    thai, english = (json.loads((STATIC / f"{lang}.json").read_text("utf-8")) for lang in ("th", "en"))
    assert thai.keys() == english.keys()
    assert all(value.strip() for value in [*thai.values(), *english.values()])
    script = (STATIC / "app.js").read_text("utf-8")
    used = set(re.findall(r"\bt\('([A-Za-z_-]+)'[,)]", script)) | set(re.findall(r"oops\([^,]+, '(\w+)'\)", script))
    assert used and used <= thai.keys(), sorted(used - thai.keys())
    for prefix, values in {"as_": ["issued", "received", "acknowledged", "forwarded", "in_progress", "reported", "closed",
                                   "not_applicable", "cancelled"],
                           "os_": ["open", "submitted", "accepted", "returned", "missed", "cancelled"],
                           "l_": ["ministry", "ministry_office", "department", "department_bureau", "provincial_office",
                                  "district_office", "lao"],
                           "t_": ["pao", "city_municipality", "town_municipality", "subdistrict_municipality", "sao", "special"],
                           "u_": ["most_urgent", "very_urgent", "urgent", "normal"],
                           "k_": ["order", "guideline", "observation", "inspection_focus"]}.items():
        assert {prefix + value for value in values} <= thai.keys(), prefix


def test_the_gateway_serves_the_page_and_its_assets_safely(stack):
    base = stack.gateway_url
    page = requests.get(base + "/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-cache"
    assets = re.findall(r'(/static/[\w.-]+)\?v=(\w+)', page.text)
    assert {path for path, _ in assets} >= {"/static/app.js", "/static/app.css"}
    for path, version in assets:
        versioned = requests.get(f"{base}{path}?v={version}")
        assert versioned.status_code == 200 and "immutable" in versioned.headers["Cache-Control"]
        assert versioned.headers["ETag"].strip('"') == version
        assert requests.get(base + path, headers={"If-None-Match": f'"{version}"'}).status_code == 304
    script = requests.get(base + "/static/app.js")
    assert script.headers["Content-Type"].startswith("text/javascript") and script.headers["Cache-Control"] == "no-cache"
    assert script.headers["Content-Encoding"] == "gzip"  # requests asks for gzip
    assert requests.get(base + "/static/app.css").headers["Content-Type"].startswith("text/css")
    weight = sum(len(requests.get(base + f"/static/{name}", headers={"Accept-Encoding": "identity"}).content)
                 for name in ("app.js", "app.css"))
    assert weight < 80 * 1024, f"JS + CSS weigh {weight} bytes"
    for bad in ("/static/../routes_ui.py", "/static/%2e%2e/routes_ui.py", "/static/..%2froutes_ui.py",
                "/static/.hidden", "/static/index.html", "/static/nothing.js", "/static/app.js/x",
                "/static/%5c..%5croutes_ui.py", "/static/app.py"):
        assert requests.get(base + bad).status_code == 404, bad


@needs_chromium
def test_an_lao_officer_on_a_phone(stack, world, browser):
    lao = world["lao"]
    page = new_page(browser, stack, PHONE)
    assert page.locator("html").get_attribute("lang") == "th"
    page.get_by_label("ชื่อผู้ใช้").fill("lao-180101")
    page.get_by_label("รหัสผ่าน").fill("not-the-password")
    page.get_by_role("button", name="เข้าสู่ระบบ").click()
    page.get_by_text("ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง").wait_for()
    shot(page, "login")
    login(page, "lao-180101")

    # the inbox, in Thai, with what the API says the unit has
    page.get_by_role("heading", name="ข้อสั่งการถึงหน่วยงาน").wait_for()
    assignments = lao.get(f"{lao.base}/assignments").json()["items"]
    assert page.locator("article.card").count() == len(assignments) == 2
    card_a = page.locator("article.card", has_text="รายงานผลการเบิกจ่ายงบประมาณประจำเดือน")
    card_b = page.locator("article.card", has_text="สำรวจการเยี่ยมบ้านผู้สูงอายุ")
    assert "late" in card_b.get_attribute("class") and "เลยกำหนด" in card_b.inner_text()
    assert "ด่วนมาก" in card_a.inner_text()

    card_a.get_by_role("button", name="ลงทะเบียนรับ").click()
    card_a.get_by_label("เลขทะเบียนรับ").fill("๑๒๓")
    card_a.get_by_role("button", name="บันทึก").click()
    card_a.locator(".badge", has_text=re.compile("^รับแล้ว$")).wait_for()
    assert "เลขทะเบียนรับ\n123" in card_a.inner_text()  # typed ๑๒๓: one receipt number, kept with Arabic digits
    card_a.get_by_role("button", name="ลงรับ", exact=True).click()
    card_a.locator(".badge", has_text="ลงรับแล้ว").wait_for()
    card_a.get_by_role("button", name="ระบุความเกี่ยวข้อง").click()
    card_a.get_by_role("button", name="บันทึก").click()
    card_a.locator("dd", has_text="เกี่ยวข้องกับหน่วยงาน").wait_for()
    [mine] = [x for x in lao.get(f"{lao.base}/assignments").json()["items"] if x["directive_id"] == world["a"]["directive_id"]]
    assert mine["state"] == "acknowledged" and mine["receipt_number"] == "123" and mine["applicable"] is True

    page.get_by_role("button", name="เลขไทย").click()  # dates in BE with Thai digits
    expect(card_a.locator(".facts dd").nth(1)).to_have_text(re.compile(r"^[๐-๙]+ [ก-ฮ.]+ ๒๕[๐-๙]{2} [๐-๙]{2}\.[๐-๙]{2} น\.$"))
    no_horizontal_overflow(page)
    shot(page, "lao-inbox")
    page.get_by_role("button", name="เลขไทย").click()
    page.get_by_role("button", name="English").click()
    page.get_by_role("heading", name="Directives for your unit").wait_for()
    assert page.locator("html").get_attribute("lang") == "en"
    shot(page, "lao-inbox-en", full_page=False)
    page.get_by_role("button", name="ภาษาไทย").click()
    page.get_by_role("heading", name="ข้อสั่งการถึงหน่วยงาน").wait_for()

    # obligations: the form, a wrong value first
    page.get_by_role("link", name="การรายงาน").click()
    page.get_by_role("heading", name="รายงานที่ต้องส่ง").wait_for()
    obligations = lao.get(f"{lao.base}/obligations").json()["items"]
    assert page.locator("article.card").count() == len(obligations) == 2
    shot(page, "lao-obligations")
    page.locator("article.card", has_text="ร้อยละการเบิกจ่าย").get_by_role("link", name="กรอกและส่งรายงาน").click()
    page.get_by_role("heading", name="ร้อยละการเบิกจ่าย").wait_for()
    first, second = page.locator('[data-field="values[0].value"] input'), page.locator('[data-field="values[1].value"] input')
    first.fill("140")
    second.fill("3")
    page.get_by_role("button", name="ส่งรายงาน").click()
    error = page.locator('[data-field="values[0].value"] .err')
    error.wait_for()
    assert "นอกช่วงที่อนุญาต" in error.inner_text() and first.get_attribute("aria-invalid") == "true"
    shot(page, "lao-submit-error")
    first.fill("๖๔.๕")  # Thai digits are fine
    page.get_by_role("button", name="ส่งรายงาน").click()
    page.locator("[data-submission]").first.wait_for()
    assert "ตรงเวลา" in page.locator("[data-submission]").first.inner_text()
    [obligation_a] = [o for o in obligations if o["directive_id"] == world["a"]["directive_id"]]
    detail = lao.get(f"{lao.base}/obligations/{obligation_a['id']}").json()
    assert detail["state"] == "submitted" and {v["indicator_code"]: v["value"] for v in detail["submissions"][-1]["values"]} == {
        "DISB-PCT": 64.5, "ELDERLY": 3}
    shot(page, "lao-submitted")

    # the late one: ask for more time
    page.get_by_role("link", name="← กลับ").click()
    page.locator("article.card", has_text="จำนวนผู้สูงอายุที่ได้รับการเยี่ยมบ้าน").get_by_role("link").click()
    new_due = datetime.now(BANGKOK) + timedelta(days=5)
    page.get_by_label("ขอขยายถึงวันที่").fill(f"{new_due.day}/{new_due.month}/{new_due.year + 543}")
    page.get_by_label("เหตุผล").fill("ระบบไฟฟ้าขัดข้องทั้งตำบล")
    page.get_by_role("button", name="ส่งคำขอขยายเวลา").click()
    page.locator(".badge", has_text="รอพิจารณา").wait_for()
    shot(page, "lao-extension")

    # bulk upload: the row error first, then a good file
    page.get_by_role("link", name="การรายงาน").click()
    page.get_by_role("heading", name="ส่งหลายรายการจากไฟล์ (CSV/XLSX)").wait_for()
    page.get_by_label("ไฟล์", exact=True).set_input_files({"name": "รายงาน.csv", "mimeType": "text/csv", "buffer": csv_bytes(
        [["LAO-180101", "ELDER-VISIT", world["period_b"], "สิบสอง", ""]])})
    page.get_by_role("button", name="อัปโหลดและตรวจสอบ").click()
    errors = page.locator("table.errors tbody tr")
    errors.first.wait_for()
    assert errors.count() == 1 and errors.first.locator("td").nth(1).inner_text() == "value"
    assert re.search("[ก-๙]", errors.first.locator("td").nth(2).inner_text())
    no_horizontal_overflow(page)
    shot(page, "lao-upload-errors")
    page.get_by_label("ไฟล์", exact=True).set_input_files({"name": "รายงาน.csv", "mimeType": "text/csv", "buffer": csv_bytes(
        [["LAO-180101", "ELDER-VISIT", world["period_b"], "๑๒", ""]])})
    page.get_by_role("button", name="อัปโหลดและตรวจสอบ").click()
    page.get_by_text("รับ 1 รายงาน").wait_for()
    [obligation_b] = [o for o in lao.get(f"{lao.base}/obligations").json()["items"] if o["directive_id"] == world["b"]["directive_id"]]
    assert obligation_b["state"] == "submitted"

    # notification preferences and LINE (or a calm "not available yet")
    page.get_by_role("link", name="การแจ้งเตือน").click()
    page.get_by_role("heading", name="การแจ้งเตือนและ LINE").wait_for()
    page.locator(".notice, form").first.wait_for()
    if page.get_by_role("button", name="ขอรหัสเชื่อม LINE ของฉัน").count():
        page.get_by_role("button", name="ขอรหัสเชื่อม LINE ของฉัน").click()
        page.locator(".code").wait_for()
    else:
        assert "ยังไม่เปิดให้บริการ" in page.locator(".notice").inner_text()
    no_horizontal_overflow(page)
    shot(page, "lao-preferences")
    page.get_by_role("button", name="ออกจากระบบ").click()
    page.get_by_role("heading", name="เข้าสู่ระบบ").wait_for()
    assert page.errors == []


@needs_chromium
def test_the_province_follows_up(stack, world, browser):
    province = world["province"]
    # every obligation of B is opened (assessments reads the assignments as they come) before the page
    # is read: all of B but the one uploaded is overdue
    late = wait_until(lambda: (lambda items: len(items) == world["b"]["assignment_count"] - 1 and items)(
        province.get(f"{province.base}/obligations", params={"limit": 1000, "overdue": 1}).json()["items"]), timeout=120)
    assert late, "B's obligations never all came overdue"
    everything = province.get(f"{province.base}/obligations", params={"limit": 1000}).json()["items"]
    page = new_page(browser, stack, DESKTOP)
    login(page, "chainat")
    page.get_by_role("heading", name="ติดตามการรายงานของหน่วยงานในสังกัด").wait_for()
    count = lambda key: int(page.locator(f'[data-count="{key}"] .n').inner_text().replace(",", ""))  # noqa: E731
    assert count("total") == len(everything) and count("overdue") == len(late)
    assert count("submitted") == sum(o["state"] == "submitted" for o in everything)
    rows = page.locator("table.late-table tbody tr")
    assert rows.count() == len(late)
    assert {rows.nth(i).get_attribute("data-obligation") for i in range(rows.count())} == {o["id"] for o in late}
    assert "LAO-180101" not in page.locator("table.late-table").inner_text()
    assert "องค์การบริหารส่วนตำบล" in rows.first.inner_text()  # names, not only codes
    shot(page, "province-follow-up")

    rows.first.get_by_role("button", name="ทวงถาม").click()
    rows.first.locator(".status").filter(has_text=re.compile(".+")).wait_for()

    review = page.locator("article.card", has_text="ร้อยละการเบิกจ่าย").filter(has_text="เทศบาลเมืองชัยนาท")
    review.get_by_role("button", name="ส่งกลับแก้ไข").click()
    review.get_by_text("ต้องระบุเหตุผลที่ส่งกลับ").wait_for()
    review.get_by_label("ความเห็น (จำเป็นเมื่อส่งกลับ)").fill("จำนวนผู้สูงอายุไม่ตรงทะเบียน")
    review.get_by_role("button", name="ส่งกลับแก้ไข").click()
    page.locator("#toast", has_text="ส่งกลับให้แก้ไขแล้ว").wait_for()
    [obligation_a] = [o for o in everything if o["unit_code"] == "LAO-180101" and o["directive_id"] == world["a"]["directive_id"]]
    detail = province.get(f"{province.base}/obligations/{obligation_a['id']}").json()
    assert detail["state"] == "returned"
    assert detail["submissions"][-1]["reviews"][-1]["comment"] == "จำนวนผู้สูงอายุไม่ตรงทะเบียน"

    [pending] = province.get(f"{province.base}/extension-requests").json()["items"]
    extension = page.locator(f'[data-extension="{pending["id"]}"]')
    assert "ระบบไฟฟ้าขัดข้องทั้งตำบล" in extension.inner_text()
    extension.get_by_role("button", name="อนุมัติ", exact=True).click()
    page.locator("#toast", has_text="อนุมัติขยายเวลาแล้ว").wait_for()
    [obligation_b] = [o for o in everything if o["unit_code"] == "LAO-180101" and o["directive_id"] == world["b"]["directive_id"]]
    assert [x["status"] for x in province.get(f"{province.base}/obligations/{obligation_b['id']}").json()["extension_requests"]] == ["granted"]

    # the province's own directive: acknowledge and forward to its district offices
    own = page.locator("article.card", has_text="แนวทางการป้องกันและแก้ไขปัญหาอุทกภัย")
    own.get_by_role("button", name="ลงรับ", exact=True).click()
    own = page.locator("article.card", has_text="แนวทางการป้องกันและแก้ไขปัญหาอุทกภัย")
    own.get_by_role("button", name="ส่งต่อ", exact=True).click()
    preview = own.locator(".preview")
    expected = province.post(f"{province.base}/addressees/preview", json={"level": "district_office", "within": "PLO-09"}).json()
    own.locator(f'.preview[data-count="{expected["count"]}"]').wait_for()
    assert expected["count"] == 8 and "ถึง 8 หน่วยงาน" in preview.inner_text()
    shot(page, "province-forward")
    own.get_by_role("button", name="ส่งต่อข้อสั่งการ").click()
    page.locator("#toast", has_text="ส่งต่อถึง 8 หน่วยงานแล้ว").wait_for()
    page.get_by_role("heading", name="ติดตามการรายงานของหน่วยงานในสังกัด").wait_for()
    shot(page, "province-follow-up-after")
    assert page.errors == []


@needs_chromium
def test_central_composes_previews_issues_and_follows_the_cascade(stack, world, browser):
    central = world["central"]
    page = new_page(browser, stack, DESKTOP)
    login(page, "central")
    page.get_by_role("heading", name="ออกหนังสือสั่งการ").wait_for()
    page.get_by_label("เลขที่หนังสือ").fill("ที่ มท ๐๘๑๐.๔/ว ๑๐๑")
    page.get_by_label("เรื่อง", exact=True).fill("ซักซ้อมการจัดทำแผนพัฒนาท้องถิ่น")
    page.get_by_label("ข้อความข้อสั่งการ").fill("ให้ อบต. ทบทวนแผนพัฒนาท้องถิ่นให้สอดคล้องกับแผนพัฒนาจังหวัด")
    item = page.locator('fieldset[data-item="0"]')
    item.get_by_label("ระดับหน่วยงาน").select_option("lao")
    item.get_by_label("ภายใต้หน่วยงาน (รหัส)").fill("PLO-09")
    item.get_by_label("เงื่อนไขคุณสมบัติ").select_option("lao_type")
    item.get_by_label("อบต.").check()
    rule = {"level": "lao", "within": "PLO-09", "criterion": {"attribute": "lao_type", "in": ["sao"]}}
    expected = central.post(f"{central.base}/addressees/preview", json=rule).json()
    assert expected["count"] == 38
    preview = item.locator(f'.preview[data-count="{expected["count"]}"]')
    preview.wait_for()
    assert f"ถึง {expected['count']} หน่วยงาน" in preview.inner_text() and "อปท. 38" in preview.inner_text()
    shot(page, "central-compose")
    page.get_by_role("button", name="บันทึกร่าง").click()
    page.get_by_text("บันทึกร่างแล้ว").wait_for()
    page.get_by_role("button", name="ออกหนังสือ (ส่งถึงผู้รับ)").click()
    page.get_by_text("ออกหนังสือแล้ว: 38 หน่วยงานได้รับ").wait_for()
    page.get_by_role("link", name=re.compile("ดูการส่งต่อ")).click()
    page.locator('tr[data-level="lao"]').wait_for()
    assert page.locator('tr[data-level="lao"] [data-k="units"]').inner_text() == "38"

    # the directive the province forwarded: every number as the API has it
    page.get_by_role("link", name="การส่งต่อ", exact=True).click()
    page.get_by_role("link", name=re.compile("แนวทางการป้องกันและแก้ไขปัญหาอุทกภัย")).click()
    page.locator('tr[data-level="district_office"]').wait_for()
    cascade = central.get(f"{central.base}/directives/{world['c']['directive_id']}/cascade").json()
    assert [level["level"] for level in cascade["levels"]] == ["provincial_office", "district_office"]
    for level in cascade["levels"]:
        for key in ("units", "received", "acknowledged", "forwarded", "not_applicable"):
            shown = page.locator(f'tr[data-level="{level["level"]}"] [data-k="{key}"]').inner_text()
            assert shown == str(level[key]), (level["level"], key, shown)
    assert cascade["levels"][0]["forwarded"] == 1 and cascade["levels"][1]["units"] == 8
    assert page.locator("section", has_text="รอนานที่สุด").locator("tbody tr").count() == len(cascade["longest_waiting"])
    shot(page, "central-cascade")
    assert page.errors == []
