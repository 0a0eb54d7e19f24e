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
    """On time over the obligations due or submitted: a report not yet due counts against nobody."""
    due = counts["expected"] - counts["pending"]
    return round(counts["on_time"] / due, 4) if due else None


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
    ("/reports/directives/{directive}/cascade", {"table": "people"}, "table"),  # a real one: scope comes first
])
def test_bad_parameters_are_refused_naming_the_field(world, path, params, field):
    central = world["central"]
    path = path.replace("{directive}", world["directives"][0]["directive_id"])
    response = central.get(central.base + path, params=params)
    assert 400 <= response.status_code < 500, (path, params, response.status_code, response.text)
    problem = response.json()
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert problem["field"] == field and problem["message_th"] and problem["message_en"], problem


# --- issue #15: periods, rates, the cascade, the upload's headers, the registry filter ---------------

def test_a_period_is_checked_against_the_grammar_when_it_is_created(world):
    """#15 item 8: "T1796651760" is refused naming reporting.period; "ธ.ค. 69" (ธันวาคม 2569, as
    officers write it) is a period of the grammar and is stored canonical, 2569-12."""
    central = world["central"]
    reporting = {"indicator_code": INDICATOR, "indicator_name_th": "ร้อยละการเบิกจ่าย", "value_type": "percent",
                 "due_at": "2027-01-05T16:30:00+07:00"}
    directive = {"document_number": "มท ๐๘๑๐.๓/ว ๙๙๙", "document_date": "2026-12-01", "subject_th": "งวดผิด",
                 "issuer_code": "DLA", "text_th": "รายงาน", "addressees": {"codes": ["LAO-180101"]}}
    bad = central.post(f"{central.base}/directives",
                       json={**directive, "reporting": {**reporting, "period": "T1796651760"}})
    assert bad.status_code == 422 and bad.json()["field"] == "reporting.period", bad.text
    assert bad.json()["message_th"] and bad.json()["message_en"]
    draft = central.post(f"{central.base}/documents", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๙๙๘", "document_date": "2026-12-01", "subject_th": "ร่าง",
        "sender_code": "DLA", "items": [{"text_th": "รายงาน", "addressees": {"codes": ["LAO-180101"]},
                                         "reporting": {**reporting, "period": "ธ.ค. 69"}}]})
    assert draft.status_code == 201, draft.text
    stored = central.get(f"{central.base}/documents/{draft.json()['document_id']}").json()
    assert "2569-12" in str(stored) and "ธ.ค. 69" not in str(stored)
    bad_draft = central.post(f"{central.base}/documents", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๙๙๗", "document_date": "2026-12-01", "subject_th": "ร่าง",
        "sender_code": "DLA", "items": [{"text_th": "รายงาน", "addressees": {"codes": ["LAO-180101"]},
                                         "reporting": {**reporting, "period": "T1796651760"}}]})
    assert bad_draft.status_code == 422 and bad_draft.json()["field"] == "items[0].reporting.period", bad_draft.text


def test_a_period_not_yet_due_counts_against_nobody(world):
    """#15 item 9: this month's reports are due in 3 days; the LAOs that have not sent theirs yet
    are pending, not 0 %: no red 0 in the heatmap, no fall of the line to 0."""
    central, current = world["central"], world["current"]
    now = central.get(f"{central.base}/reports/compliance", params={"period": current}).json()["totals"]
    expected = expected_counts(world, set(world["laos"]), 3)
    assert now["pending"] == expected["pending"] > 0 and now["missing"] == 0
    assert now["due"] == expected["on_time"] and now["on_time_rate"] == 1.0
    matrix = central.get(f"{central.base}/reports/compliance/matrix", params={"kind": "month"}).json()
    assert matrix["kind"] == "month" and matrix["periods"][-4:] == [*world["periods"], current]
    assert all(row["cells"][current] in (None, 1.0) for row in matrix["rows"])
    assert matrix["totals"][current]["on_time_rate"] == 1.0
    for k, period in enumerate(world["periods"]):  # the line: the same numbers as compliance per period
        counts = expected_counts(world, set(world["laos"]), k)
        assert matrix["totals"][period]["on_time_rate"] == rate(counts)
    # fiscal years and months never share an axis
    mixed = central.get(f"{central.base}/reports/compliance/matrix", params={"periods": f"{current},FY2570"})
    assert mixed.status_code == 422 and mixed.json()["field"] == "periods"


def _wait_for(check, what, timeout=90):
    import time
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)
    return result


def test_both_cascade_views_give_one_number_per_figure(world):
    """#15 item 12: DLA sends a memo to Chainat's provincial office, which acknowledges it and forwards
    it to its district offices; one of them acknowledges. Plans' cascade and reporting's cascade agree
    on every level's figures, in seconds; nobody "forwarded" what DLA sent directly; names, not codes."""
    central, province = world["central"], world["province"]
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๖.๓/ว ๕๐๘๓", "document_date": "2026-12-01", "urgency": "very_urgent",
        "subject_th": "การเตรียมความพร้อมรับมือสาธารณภัย", "issuer_code": "DLA", "text_th": "ให้แจ้ง อปท. ในพื้นที่",
        "addressees": {"codes": ["PLO-09", "DLO-0115"]}})
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["directive_id"]
    mine = province.get(f"{province.base}/assignments", params={"directive_id": directive_id}).json()["items"]
    plo = next(a for a in mine if a["unit_code"] == "PLO-09")
    assert province.post(f"{province.base}/assignments/{plo['id']}/acknowledge", json={}).status_code == 200
    forwarded = province.post(f"{province.base}/assignments/{plo['id']}/forward",
                              json={"addressees": {"level": "district_office", "within": "PLO-09"}})
    assert forwarded.status_code == 200, forwarded.text
    plans_view = central.get(f"{central.base}/directives/{directive_id}/cascade").json()
    figures = ("level", "units", "received", "acknowledged", "forwarded", "acknowledgement_rate",
               "median_hop_s", "max_hop_s", "median_acknowledge_s", "max_acknowledge_s")
    wanted = [{k: level[k] for k in figures} for level in plans_view["levels"]]
    report = _wait_for(lambda: (r := central.get(f"{central.base}/reports/directives/{directive_id}/cascade").json())
                       and [{k: level.get(k) for k in figures} for level in r.get("levels", [])] == wanted and r,
                       "reporting's cascade to agree with plans'")
    levels = {level["level"]: level for level in wanted}
    assert levels["provincial_office"]["received"] == levels["provincial_office"]["acknowledged"] == 1
    assert levels["district_office"]["units"] == 8 and levels["district_office"]["forwarded"] == 0
    units = {u["unit_code"]: u for u in report["units"]}
    assert units["DLO-0115"]["forwarded_by"] is None  # DLA sent it directly (PLO-09 found it already there)
    forwarded_rows = [u for u in report["units"] if u["forwarded_by"] == "PLO-09"]
    assert len(forwarded_rows) == 7 and all(u["forwarded_by_name_th"] for u in forwarded_rows)
    assert all(u["name_th"] and u["name_th"] != u["unit_code"] for u in plans_view["units"] + report["units"])
    assert all(u["hop_s"] is not None for u in plans_view["units"])


def test_org_units_filter_by_lao_type_and_refuse_unknown_values(world):
    """#15 item 15: the lao_type filter works; an unknown filter value is 422 naming it."""
    central = world["central"]
    saos = central.get(f"{central.base}/org-units", params={"lao_type": "sao", "limit": 1000}).json()["items"]
    assert saos and all(unit["lao_type"] == "sao" for unit in saos)
    everything = central.get(f"{central.base}/org-units", params={"level": "lao", "limit": 1000}).json()["items"]
    assert len(saos) < len(everything)
    for name, value in (("lao_type", "city"), ("level", "village")):
        refused = central.get(f"{central.base}/org-units", params={name: value})
        assert refused.status_code == 422 and refused.json()["field"] == name, refused.text


def test_the_upload_names_its_thai_headers_in_the_error_and_the_api_docs(world):
    """#15 item 15: a wrong header is answered with every accepted header, English and Thai; the
    OpenAPI description of the upload route lists them."""
    province = world["province"]
    body = "รหัส อปท.,ตัวชี้วัด,งวด,ค่า\nLAO-180101,DISB-PCT,2569-11,50\n".encode()
    upload = province.post(f"{province.base}/submissions/upload", files={"file": ("รายงาน.csv", body, "text/csv")})
    assert upload.status_code == 422, upload.text
    messages = " ".join(e.get("message_th", "") + " " + e.get("message_en", "") for e in upload.json()["errors"])
    for header in ("รหัสหน่วยงาน", "รหัสตัวชี้วัด", "งวด", "ค่า", "หมายเหตุ", "unit_code", "indicator_code"):
        assert header in messages, header
    spec = province.get(f"{world['stack'].gateway_url}/api/openapi.json").json()
    description = spec["paths"]["/api/v1/submissions/upload"]["post"]["description"]
    assert all(header in description for header in ("รหัสหน่วยงาน", "รหัสตัวชี้วัด", "งวด", "ค่า", "หมายเหตุ"))
