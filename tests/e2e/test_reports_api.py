"""The dashboard API against the real platform: numbers that match what the units did, each caller
limited to its subtree, every table as CSV (BOM, Thai intact) and XLSX (the same rows as the JSON), and
bad parameters refused naming the field.

The world (tests/e2e/conftest.py): provinces 8 and 9 (99 LAOs), three past monthly periods where some
LAOs reported on time, the sweep marked the rest missed and some then reported late, and this month's
period with some on time and the rest pending. Expected numbers are computed from that plan, not read
back from the report."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from services.gateway.exports import table_values
from services.gateway.routes_reports import COMPLIANCE_COLUMNS, OVERDUE_COLUMNS
from tests.e2e.conftest import DASHBOARD_COUNT_KEYS, INDICATOR, client, expected_counts, laos_under

COUNT_KEYS = DASHBOARD_COUNT_KEYS


@pytest.fixture(scope="module")
def world(dashboard_world):
    return dashboard_world


def rate(counts):
    return round(counts["on_time"] / counts["expected"], 4) if counts["expected"] else None


def test_the_nation_the_province_the_district_and_the_lao_add_up(world):
    central = world["central"]
    nation = central.get(f"{central.base}/reports/compliance").json()
    everything = expected_counts(world, set(world["laos"]))
    assert {k: nation["totals"][k] for k in COUNT_KEYS} == everything
    assert nation["totals"]["on_time_rate"] == rate(everything)
    assert everything["on_time"] and everything["late"] and everything["missing"] and everything["pending"]
    assert set(world["periods"]) | {world["current"]} <= set(nation["periods"])
    provinces = {row["code"]: row for row in nation["children"]}
    assert set(provinces) == {"PLO-08", "PLO-09"}
    for code, row in provinces.items():
        mine = expected_counts(world, laos_under(world, code))
        assert {k: row[k] for k in COUNT_KEYS} == mine, code
        assert row["on_time_rate"] == rate(mine) and 0 <= row["on_time_rate"] <= 1
    assert provinces["PLO-08"]["on_time_rate"] != provinces["PLO-09"]["on_time_rate"]

    # one period only
    first = central.get(f"{central.base}/reports/compliance", params={"period": world["periods"][0]}).json()
    assert {k: first["totals"][k] for k in COUNT_KEYS} == expected_counts(world, set(world["laos"]), 0)

    # the province's children are its district offices (and its PAO, which has no district)
    chainat = central.get(f"{central.base}/reports/compliance", params={"unit_code": "PLO-09"}).json()
    assert chainat["unit"]["code"] == "PLO-09"
    districts = [row for row in chainat["children"] if row["level"] == "district_office"]
    assert len(districts) == 8
    for row in districts:
        assert {k: row[k] for k in COUNT_KEYS} == expected_counts(world, laos_under(world, row["code"])), row["code"]
    assert sum(row["expected"] for row in chainat["children"]) == chainat["totals"]["expected"]

    # the LAO: one row per obligation, with its status
    lao = central.get(f"{central.base}/reports/compliance", params={"unit_code": "LAO-180101"}).json()
    status = {row["period"]: row["status"] for row in lao["children"]}
    fates = {([*world["periods"], world["current"]])[k]: what for (code, k), what in world["fates"].items()
             if code == "LAO-180101"}
    assert status == fates
    assert lao["totals"]["extended"] == 1


def test_the_matrix_has_one_cell_per_child_and_period(world):
    central = world["central"]
    matrix = central.get(f"{central.base}/reports/compliance/matrix",
                         params={"periods": ",".join(world["periods"])}).json()
    assert matrix["periods"] == world["periods"]
    for row in matrix["rows"]:
        for k, period in enumerate(world["periods"]):
            assert row["cells"][period] == rate(expected_counts(world, laos_under(world, row["code"]), k)), (row["code"], period)


def test_overdue_lists_what_is_past_due_and_not_in(world):
    central, province = world["central"], world["province"]
    missing = {(code, k) for (code, k), what in world["fates"].items() if what == "missing"}
    everything = central.get(f"{central.base}/reports/overdue", params={"limit": 1000}).json()
    assert everything["total"] == len(missing) == len(everything["items"])
    assert {item["obligation_id"] for item in everything["items"]} == {world["obligations"][key]["id"] for key in missing}
    assert [item["days_late"] for item in everything["items"]] == sorted((i["days_late"] for i in everything["items"]), reverse=True)
    by_unit = central.get(f"{central.base}/reports/overdue", params={"limit": 5, "offset": 5, "sort": "unit_code"}).json()
    assert [i["unit_code"] for i in by_unit["items"]] == sorted(i["unit_code"] for i in everything["items"])[5:10]
    chainat = province.get(f"{province.base}/reports/overdue", params={"limit": 1000}).json()
    assert chainat["total"] == len({key for key in missing if key[0] in laos_under(world, "PLO-09")})
    assert {item["unit_code"] for item in chainat["items"]} <= laos_under(world, "PLO-09")


def test_a_caller_reads_only_its_own_subtree(world):
    province, lao = world["province"], world["lao"]
    district = client(world["stack"], "muang-chainat")
    directive = world["directives"][0]["directive_id"]
    # a province: its own by default, not another province
    assert province.get(f"{province.base}/reports/compliance").json()["unit"]["code"] == "PLO-09"
    for path, params in (("/reports/compliance", {"unit_code": "PLO-08"}),
                         ("/reports/compliance", {"unit_code": "DLO-0109"}),
                         ("/reports/compliance/matrix", {"unit_code": "PLO-08"}),
                         (f"/reports/directives/{directive}/cascade", {"unit_code": "PLO-08"}),
                         ("/reports/overdue", {"unit_code": "PLO-08"}),
                         ("/reports/notifications", {"unit_code": "PLO-08"}),
                         ("/reports/achievement", {"unit_code": "PLO-08", "indicator_code": INDICATOR})):
        refused = province.get(province.base + path, params=params)
        assert refused.status_code == 404 and refused.json()["field"] == "unit_code", (path, refused.text)
    # its cascade is its own LAOs only
    cascade = province.get(f"{province.base}/reports/directives/{directive}/cascade").json()
    assert {u["unit_code"] for u in cascade["units"]} <= laos_under(world, "PLO-09") | {"PLO-09"}
    assert len([u for u in cascade["units"] if u["level"] == "lao"]) == len(laos_under(world, "PLO-09"))
    # a district: its LAOs, not the province above it
    assert district.get(f"{district.base}/reports/compliance").json()["unit"]["code"] == "DLO-0115"
    assert district.get(f"{district.base}/reports/compliance", params={"unit_code": "PLO-09"}).status_code == 404
    # an LAO sees itself only
    mine = lao.get(f"{lao.base}/reports/compliance").json()
    assert mine["unit"]["code"] == "LAO-180101" and {r["code"] for r in mine["children"]} == {"LAO-180101"}
    assert lao.get(f"{lao.base}/reports/compliance", params={"unit_code": "LAO-180102"}).status_code == 404
    assert {i["unit_code"] for i in lao.get(f"{lao.base}/reports/overdue").json()["items"]} <= {"LAO-180101"}


def _csv_rows(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.content.startswith(b"\xef\xbb\xbf"), "no BOM: Excel would not read the Thai"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx_rows(response):
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


def test_every_report_table_exports_to_csv_and_xlsx_with_the_rows_of_the_json(world):
    central = world["central"]
    params = {"unit_code": "PLO-09"}
    report = central.get(f"{central.base}/reports/compliance", params=params).json()
    expected = table_values(report["children"], COMPLIANCE_COLUMNS)
    rows = _csv_rows(central.get(f"{central.base}/reports/compliance", params={**params, "format": "csv"}))
    assert rows[0] == [c.th for c in COMPLIANCE_COLUMNS] and rows[0][1] == "ชื่อหน่วยงาน"
    assert rows[1:] == [[str(v) for v in row] for row in expected]
    assert any("สำนักงานส่งเสริมการปกครองท้องถิ่นอำเภอเมืองชัยนาท" == row[1] for row in rows)  # Thai unchanged
    sheet = _xlsx_rows(central.get(f"{central.base}/reports/compliance", params={**params, "format": "xlsx"}))
    assert sheet[0] == [c.th for c in COMPLIANCE_COLUMNS] and sheet[1:] == expected
    english = _csv_rows(central.get(f"{central.base}/reports/compliance", params={**params, "format": "csv", "lang": "en"}))
    assert english[0][:2] == ["unit code", "unit name"] and english[1:] == rows[1:]

    overdue = central.get(f"{central.base}/reports/overdue", params={"limit": 1000}).json()
    sheet = _xlsx_rows(central.get(f"{central.base}/reports/overdue", params={"limit": 1000, "format": "xlsx"}))
    assert sheet[1:] == table_values(overdue["items"], OVERDUE_COLUMNS) and len(sheet) == overdue["total"] + 1

    matrix = _csv_rows(central.get(f"{central.base}/reports/compliance/matrix",
                                   params={"periods": ",".join(world["periods"]), "format": "csv"}))
    assert matrix[0][2:] == [f"{p} อัตราตรงเวลา" for p in world["periods"]] and len(matrix) == 3
    for path in (f"/reports/directives/{world['directives'][0]['directive_id']}/cascade",
                 f"/reports/directives/{world['directives'][0]['directive_id']}/compliance",
                 "/reports/notifications", "/reports/achievement?indicator_code=" + INDICATOR):
        for fmt in ("csv", "xlsx"):
            response = central.get(central.base + path, params={"format": fmt})
            assert response.status_code == 200 and response.headers["Content-Disposition"].startswith("attachment"), (path, fmt)


def test_the_lists_the_ui_shows_export_too(world):
    central, province = world["central"], world["province"]
    obligations = province.get(f"{province.base}/obligations", params={"limit": 1000, "overdue": 1}).json()["items"]
    rows = _csv_rows(province.get(f"{province.base}/obligations", params={"limit": 1000, "overdue": 1, "format": "csv"}))
    assert rows[0][:3] == ["รหัสหน่วยงาน", "รหัสตัวชี้วัด", "ตัวชี้วัด"] and len(rows) == len(obligations) + 1
    assert {row[-1] for row in rows[1:]} == {o["id"] for o in obligations} and rows[1][2] == "ร้อยละการเบิกจ่าย"
    assignments = _xlsx_rows(province.get(f"{province.base}/assignments", params={"mine": 0, "limit": 1000, "format": "xlsx"}))
    assert len(assignments) == 1 + len(province.get(f"{province.base}/assignments", params={"mine": 0, "limit": 1000}).json()["items"])
    assert assignments[1][3].startswith("รายงานผลการเบิกจ่ายงบประมาณ")
    assert _csv_rows(central.get(f"{central.base}/notifications/deliveries", params={"format": "csv"}))[0][0] == "สร้างเมื่อ"
    assert _csv_rows(province.get(f"{province.base}/extension-requests", params={"status": "", "format": "csv"}))[1][2] == "ระบบไฟฟ้าขัดข้อง"
    ops = client(world["stack"], "ops")
    assert _xlsx_rows(ops.get(f"{ops.base}/audit", params={"format": "xlsx", "limit": 10}))[0][:3] == ["เวลา", "ผู้ใช้", "การกระทำ"]


@pytest.mark.parametrize("path,params,field", [
    ("/reports/compliance", {"format": "pdf"}, "format"),
    ("/obligations", {"format": "docx"}, "format"),
    ("/reports/compliance", {"format": "csv", "lang": "fr"}, "lang"),
    ("/reports/compliance", {"period": "เดือนหน้า"}, "period"),
    ("/reports/compliance", {"period": "2026-01"}, "period"),        # a C.E. year
    ("/reports/compliance", {"lao_type": "city"}, "lao_type"),
    ("/reports/compliance", {"unit_code": "../PLO-09"}, "unit_code"),
    ("/reports/compliance", {"unit_code": "PLO-99"}, "unit_code"),    # no such unit
    ("/reports/compliance/matrix", {"periods": ",".join(["2569-01"] * 37)}, "periods"),
    ("/reports/compliance/matrix", {"periods": "2569-01,Q5"}, "periods"),
    ("/reports/achievement", {}, "indicator_code"),
    ("/reports/achievement", {"indicator_code": INDICATOR, "fiscal_year": "2026"}, "fiscal_year"),
    ("/reports/achievement", {"indicator_code": INDICATOR, "fiscal_year": "สองพัน"}, "fiscal_year"),
    ("/reports/achievement", {"indicator_code": "NO-SUCH"}, "indicator_code"),
    ("/reports/achievement", {"indicator_code": INDICATOR, "table": "all"}, "table"),
    ("/reports/overdue", {"limit": 0}, "limit"),
    ("/reports/overdue", {"offset": -1}, "offset"),
    ("/reports/overdue", {"sort": "password"}, "sort"),
    ("/reports/directives/no-such-directive/cascade", {}, "directive_id"),
    ("/reports/directives/x/cascade", {"table": "people"}, "table"),
])
def test_bad_parameters_are_refused_naming_the_field(world, path, params, field):
    central = world["central"]
    response = central.get(central.base + path, params=params)
    assert 400 <= response.status_code < 500, (path, params, response.status_code, response.text)
    problem = response.json()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert problem["field"] == field and problem["message_th"] and problem["message_en"], problem
