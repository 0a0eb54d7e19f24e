"""The export helper: CSV with a BOM that Excel reads as UTF-8, XLSX that openpyxl reads back, Thai unchanged."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from services.gateway.exports import columns, export_format, file_response, table_values, to_csv, to_xlsx
from shared.errors import InputError

SPEC = columns(("code", "รหัสหน่วยงาน", "unit code"), ("name_th", "ชื่อหน่วยงาน", "unit name"),
               ("on_time_rate", "อัตราตรงเวลา", "on-time rate"), ("cells.2569-01", "2569-01", "2569-01"),
               ("codes", "ตัวชี้วัด", "indicators"), ("late", "ล่าช้า", "late"))
ROWS = [{"code": "LAO-180101", "name_th": "เทศบาลเมืองชัยนาท, \"ชัยนาท\"\nบรรทัดสอง ๑๒๓", "on_time_rate": 0.8333,
         "cells": {"2569-01": 0.5}, "codes": ["A", "B"], "late": True},
        {"code": "=1+1", "name_th": "-ลบ", "on_time_rate": None, "cells": {}, "codes": [], "late": False}]


def test_csv_has_a_bom_thai_headers_and_quotes():
    data = to_csv(ROWS, SPEC)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["รหัสหน่วยงาน", "ชื่อหน่วยงาน", "อัตราตรงเวลา", "2569-01", "ตัวชี้วัด", "ล่าช้า"]
    assert rows[1] == ["LAO-180101", ROWS[0]["name_th"], "0.8333", "0.5", "A, B", "TRUE"]
    assert rows[2] == ["'=1+1", "'-ลบ", "", "", "", "FALSE"]  # never a formula in a spreadsheet
    assert list(csv.reader(io.StringIO(to_csv(ROWS, SPEC, "en").decode("utf-8-sig"))))[0][0] == "unit code"


def test_xlsx_reads_back_with_the_same_rows():
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(ROWS, SPEC, title="compliance")))
    sheet = book.active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == [c.th for c in SPEC]
    assert values[1] == ["LAO-180101", ROWS[0]["name_th"], 0.8333, 0.5, "A, B", "TRUE"]
    assert values[2][0] == "=1+1" and sheet["A3"].data_type == "s"  # text, not a formula
    assert [[None if v is None else v for v in row] for row in values[1:]] == [
        [None if v == "" else v for v in row] for row in table_values(ROWS, SPEC)]


def test_a_file_response_is_an_attachment():
    response = file_response(ROWS, SPEC, "compliance-PLO-09-2569-01", "xlsx")
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert response.headers["Content-Disposition"].startswith('attachment; filename="compliance-PLO-09-2569-01.xlsx"')
    assert file_response(ROWS, SPEC, "ชื่อไทย x", "csv").headers["Content-Disposition"].startswith(
        'attachment; filename="x.csv"')


@pytest.mark.parametrize("args,field", [({"format": "pdf"}, "format"), ({"format": "csv", "lang": "fr"}, "lang")])
def test_an_unknown_format_names_the_field(args, field):
    with pytest.raises(InputError) as caught:
        export_format(args)
    assert caught.value.status == 422 and caught.value.field == field
    assert export_format({}) == "json" and export_format({"format": "XLSX"}) == "xlsx"
