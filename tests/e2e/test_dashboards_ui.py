"""The dashboards in a real browser (Debian's chromium, headless) against the real platform.

Central walks the national page (bars by province, the trend line, the heatmap, the table), drills into
Chainat and then Mueang Chainat district, downloads the table as CSV and XLSX; the province opens a
directive's cascade report and the overdue list and chases a late LAO; central reads an indicator
against its targets. Every number shown is checked against the API's JSON for the same query.
Screenshots go to tests/e2e/screenshots/ (THONGTHIN_UPDATE_README_SCREENSHOTS=1 refreshes
docs/screenshots/dashboard-*.png)."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil

import openpyxl
import pytest

from services.gateway.exports import table_values
from services.gateway.routes_reports import COMPLIANCE_COLUMNS
from shared.config import REPO_ROOT
from tests.e2e.conftest import DASHBOARD_COUNT_KEYS, INDICATOR, wait_for
from tests.support.browser import (DESKTOP, PHONE, SHOTS, STATIC, login, needs_chromium, new_page,
                                   no_horizontal_overflow)

DOCS = {"dashboard-national": REPO_ROOT / "docs" / "screenshots" / "dashboard-national.png",
        "dashboard-province": REPO_ROOT / "docs" / "screenshots" / "dashboard-province.png"}
KEYS = DASHBOARD_COUNT_KEYS


@pytest.fixture(scope="module")
def world(dashboard_world):
    return dashboard_world


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#toast").evaluate("el => { el.style.display = 'none' }")
    page.evaluate("document.fonts.ready")
    path = SHOTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    page.locator("#toast").evaluate("el => { el.style.display = '' }")
    if name in DOCS and os.environ.get("THONGTHIN_UPDATE_README_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS[name])


def pct(rate):
    """As the page writes a rate (app.js pct)."""
    if rate is None:
        return "–"
    tenth = math.floor(rate * 1000 + 0.5) / 10  # JavaScript's Math.round: halves go up
    return (str(int(tenth)) if tenth == int(tenth) else str(tenth)) + "%"


def number(text):
    return int(text.replace(",", ""))


def check_counts_and_children(page, report):
    """The counts boxes, the bars and the table say what the API says."""
    for key in KEYS:
        assert number(page.locator(f'.dcounts [data-count="{key}"] .n').inner_text()) == report["totals"][key], key
    assert page.locator('.dcounts [data-count="on_time_rate"] .n').inner_text() == pct(report["totals"]["on_time_rate"])
    bars = page.locator("svg.bars").first.locator("g.bar")
    assert bars.count() == len(report["children"])
    shown = {bars.nth(i).get_attribute("data-key"): floats([bars.nth(i).get_attribute("data-value")])[0] for i in range(bars.count())}
    assert shown == {c["code"]: floats([c["on_time_rate"]])[0] for c in report["children"]}
    for child in report["children"]:
        row = page.locator(f'table.dtable tr[data-code="{child["code"]}"]')
        for key in (*KEYS, "extended", "returned"):
            assert number(row.locator(f'[data-k="{key}"]').inner_text()) == child[key], (child["code"], key)
        assert row.locator('[data-k="on_time_rate"]').inner_text() == pct(child["on_time_rate"])


def floats(values):
    return [None if v in ("", None) else round(float(v), 4) for v in values]


def test_every_string_the_dashboards_use_exists_in_thai_and_english():
    thai, english = (json.loads((STATIC / f"{lang}.json").read_text("utf-8")) for lang in ("th", "en"))
    script = (STATIC / "dash.js").read_text("utf-8")
    used = set(re.findall(r"\bt\('([A-Za-z_-]+)'[,)]", script))
    assert used and used <= thai.keys() and used <= english.keys(), sorted(used - thai.keys())
    for prefix, values in {"d_a_": ["achieved", "not_achieved", "at_risk", "no_target", "no_data"],
                           "d_s_": ["on_time", "late", "missing", "pending"], "n_": ["dashboard", "overdue", "indicator"]}.items():
        assert {prefix + v for v in values} <= thai.keys(), prefix
    charts = (STATIC / "charts.js").read_text("utf-8").replace("'http://www.w3.org/2000/svg'", "")  # a name, not a fetch
    assert not re.search(r"https?://", script + charts), "nothing is fetched from elsewhere"


@needs_chromium
def test_central_walks_the_nation_down_to_a_district_and_downloads_the_table(world, browser):
    central = world["central"]
    page = new_page(browser, world["stack"], DESKTOP)
    login(page, "central")
    page.get_by_role("link", name="ภาพรวม", exact=True).click()
    page.get_by_role("heading", name="ภาพรวมการรายงาน").wait_for()
    page.locator("svg.heat").wait_for()
    nation = central.get(f"{central.base}/reports/compliance").json()
    check_counts_and_children(page, nation)
    # the line: this unit's on-time rate in each period, as the API gives it per period
    points = page.locator("svg.lines g.series.s0 circle")
    periods = sorted(nation["periods"])[-12:]
    assert [points.nth(i).get_attribute("data-x") for i in range(points.count())] == [
        p for p in periods if central.get(f"{central.base}/reports/compliance", params={"period": p}).json()["totals"]["on_time_rate"] is not None]
    for i in range(points.count()):
        period = points.nth(i).get_attribute("data-x")
        api = central.get(f"{central.base}/reports/compliance", params={"period": period}).json()["totals"]["on_time_rate"]
        assert float(points.nth(i).get_attribute("data-y")) == api, period
    # the heatmap: every child × period cell
    matrix = central.get(f"{central.base}/reports/compliance/matrix", params={"periods": ",".join(periods)}).json()
    for row in matrix["rows"]:
        cells = page.locator(f'svg.heat g.hrow[data-key="{row["code"]}"] g.cell')
        assert floats([cells.nth(i).get_attribute("data-value") for i in range(cells.count())]) == floats(
            [row["cells"].get(p) for p in matrix["periods"]]), row["code"]
    assert page.errors == []
    shot(page, "dashboard-national")

    # the table as files: Thai headers, the rows of the JSON
    with page.expect_download() as info:
        page.locator("section", has_text="ตารางสรุปแยกตามหน่วยงาน").locator('a[data-format="csv"]').click()
    data = open(info.value.path(), "rb").read()
    assert data.startswith(b"\xef\xbb\xbf") and info.value.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["รหัสหน่วยงาน", "ชื่อหน่วยงาน", "ระดับ"]
    assert rows[1:] == [[str(v) for v in row] for row in table_values(nation["children"], COMPLIANCE_COLUMNS)]
    assert "สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัดชัยนาท" in [row[1] for row in rows]
    with page.expect_download() as info:
        page.locator("section", has_text="ตารางสรุปแยกตามหน่วยงาน").locator('a[data-format="xlsx"]').click()
    assert info.value.suggested_filename.endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(open(info.value.path(), "rb").read()), read_only=True).active
    values = [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]
    assert values[0] == [c.th for c in COMPLIANCE_COLUMNS] and values[1:] == table_values(nation["children"], COMPLIANCE_COLUMNS)

    # drill into Chainat from the table, then into Mueang Chainat district
    page.locator('table.dtable tr[data-code="PLO-09"] a').click()
    page.locator("nav.crumbs", has_text="ชัยนาท").wait_for()
    page.locator('table.dtable tr[data-code="DLO-0115"]').wait_for()
    page.locator("svg.heat").wait_for()
    chainat = central.get(f"{central.base}/reports/compliance", params={"unit_code": "PLO-09"}).json()
    check_counts_and_children(page, chainat)
    assert page.get_by_role("heading", level=1).inner_text() == "ภาพรวมการรายงาน"
    shot(page, "dashboard-province")
    page.locator('table.dtable tr[data-code="DLO-0115"] a').click()
    page.locator('table.dtable tr[data-code="LAO-180101"]').wait_for()
    page.locator("svg.heat").wait_for()
    district = central.get(f"{central.base}/reports/compliance", params={"unit_code": "DLO-0115"}).json()
    check_counts_and_children(page, district)
    assert [a.inner_text() for a in page.locator("nav.crumbs a").all()][:2] == ["ทั้งประเทศ", "สำนักงานส่งเสริมการปกครองท้องถิ่นจังหวัดชัยนาท"]
    # one period only
    page.get_by_label("งวด", exact=True).select_option(world["periods"][0])
    one = central.get(f"{central.base}/reports/compliance", params={"unit_code": "DLO-0115", "period": world["periods"][0]}).json()
    wait_for(lambda: number(page.locator('.dcounts [data-count="expected"] .n').inner_text()) == one["totals"]["expected"], 15, "the period")
    check_counts_and_children(page, one)
    shot(page, "dashboard-district-period")
    # the LAO: its obligations
    page.locator('table.dtable tr[data-code="LAO-180101"] a').click()
    page.locator("table.dtable tr[data-obligation]").first.wait_for()
    lao = central.get(f"{central.base}/reports/compliance", params={"unit_code": "LAO-180101", "period": world["periods"][0]}).json()
    assert page.locator("table.dtable tr[data-obligation]").count() == len(lao["children"])
    assert page.errors == []


@needs_chromium
def test_a_province_on_a_phone_sees_its_own_dashboard(world, browser):
    page = new_page(browser, world["stack"], PHONE)
    login(page, "chainat")
    page.get_by_role("link", name="ภาพรวม", exact=True).click()
    page.locator("svg.heat").wait_for()
    province = world["province"]
    check_counts_and_children(page, province.get(f"{province.base}/reports/compliance").json())
    no_horizontal_overflow(page)
    shot(page, "dashboard-province-phone")
    assert page.errors == []


@needs_chromium
def test_the_cascade_report_of_a_directive(world, browser):
    province = world["province"]
    directive = world["directives"][0]["directive_id"]
    page = new_page(browser, world["stack"], DESKTOP)
    login(page, "chainat")
    page.goto(world["stack"].gateway_url + f"/#/hops/{directive}")
    page.locator('tr[data-level="lao"]').wait_for()
    report = province.get(f"{province.base}/reports/directives/{directive}/cascade").json()
    assert report["levels"]
    for level in report["levels"]:
        for key in ("units", "received", "acknowledged", "forwarded"):
            assert number(page.locator(f'tr[data-level="{level["level"]}"] [data-k="{key}"]').inner_text()) == level[key]
        assert page.locator(f'tr[data-level="{level["level"]}"] [data-k="acknowledgement_rate"]').inner_text() == pct(level["acknowledgement_rate"])
    lao_level = next(level for level in report["levels"] if level["level"] == "lao")
    assert lao_level["units"] == len([c for c in world["laos"] if world["units"][c]["province_code"] == "9"])
    assert page.locator("section", has_text="การส่งต่อที่ช้าที่สุด").locator("tbody tr").count() == len(report["slowest_hops"])
    shot(page, "dashboard-cascade")
    assert page.errors == []


@needs_chromium
def test_an_indicator_against_its_targets(world, browser):
    central = world["central"]
    page = new_page(browser, world["stack"], DESKTOP)
    login(page, "central")
    page.get_by_role("link", name="ตัวชี้วัด", exact=True).click()
    page.get_by_label("รหัสตัวชี้วัด").fill(INDICATOR)
    page.get_by_role("button", name="แสดง").click()
    page.locator("svg.bars").wait_for()
    fiscal_year = int(page.get_by_label("ปีงบประมาณ (พ.ศ.)").input_value())
    report = central.get(f"{central.base}/reports/achievement", params={"indicator_code": INDICATOR, "fiscal_year": fiscal_year}).json()
    for key, value in report["summary"].items():
        assert number(page.locator(f'.dcounts [data-count="{key}"] .n').inner_text()) == value, key
    assert sum(report["summary"][k] for k in ("achieved", "not_achieved", "no_target", "no_data")) > 0
    for row in report["rows"]:
        shown = page.locator(f'table.dtable tr[data-code="{row["code"]}"]')
        assert shown.locator('[data-k="actual"]').inner_text().replace(",", "") == ("–" if row["actual"] is None else
                                                                                  f'{round(row["actual"], 2):g}'), row
        assert shown.locator('[data-k="target"]').inner_text().replace(",", "") == ("–" if row["target"] is None else f'{row["target"]:g}')
    bars = page.locator("svg.bars g.bar")
    assert bars.count() == len([r for r in report["rows"] if r["actual"] is not None or r["target"] is not None])
    actual = page.locator('svg.lines g.series.s0 circle')
    assert [actual.nth(i).get_attribute("data-x") for i in range(actual.count())] == [p["period"] for p in report["trend"] if p["actual"] is not None]
    assert floats([actual.nth(i).get_attribute("data-y") for i in range(actual.count())]) == floats(
        [p["actual"] for p in report["trend"] if p["actual"] is not None])
    shot(page, "dashboard-indicator")
    assert page.errors == []


@needs_chromium
def test_the_overdue_list_and_a_chase(world, browser):
    province = world["province"]
    page = new_page(browser, world["stack"], DESKTOP)
    login(page, "chainat")
    page.get_by_role("link", name="เลยกำหนด", exact=True).click()
    rows = page.locator("table.overdue-table tbody tr")
    rows.first.wait_for()
    report = province.get(f"{province.base}/reports/overdue", params={"limit": 100}).json()
    assert int(page.locator("p.summary").get_attribute("data-total")) == report["total"] > 0
    assert [rows.nth(i).get_attribute("data-obligation") for i in range(rows.count())] == [i["obligation_id"] for i in report["items"]]
    first = report["items"][0]
    assert number(rows.first.locator('[data-k="days_late"]').inner_text()) == first["days_late"]
    shot(page, "dashboard-overdue")
    rows.first.get_by_role("button", name="ทวงถาม").click()
    rows.first.locator(".status").filter(has_text=re.compile(".+")).wait_for()
    said = rows.first.locator(".status").inner_text()
    again = province.post(f"{province.base}/notifications/chase", json={"obligation_id": first["obligation_id"]}).json()
    assert again["queued"] == 0 and again["already_chased_today"] >= 1  # the click did chase
    # the button says when the message really goes: now, or e.g. "จะส่งเวลา ๐๗.๐๐ น. วันอังคารที่ ..."
    assert ("ทันที" in said) if again["sends_now"] else ("จะส่งเวลา" in said and " น. วัน" in said), said
    assert page.errors == []
