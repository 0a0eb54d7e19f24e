"""Bulk submission files: encodings, delimiters, XLSX, every row error with its row and column."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime

import openpyxl
import pytest

from services.assessments.bulk import BulkRow, IndicatorRule, RowError, parse_bulk
from shared.contracts.events import IndicatorSpec

INDICATORS = {
    "BUD-PCT": IndicatorRule("BUD-PCT", "percent", minimum=0, maximum=100, target=80, direction="increase"),
    "ELDERLY": IndicatorRule("ELDERLY", "count"),
    "SPENT": IndicatorRule("SPENT", "number", minimum=0),
    "HAS-PLAN": IndicatorRule("HAS-PLAN", "boolean"),
    "COMPLAINT-DAYS": IndicatorRule("COMPLAINT-DAYS", "integer", target=15, direction="decrease"),
}
ENGLISH_HEADER = ["unit_code", "indicator_code", "period", "value", "note"]
THAI_HEADER = ["รหัสหน่วยงาน", "รหัสตัวชี้วัด", "งวด", "ค่า", "หมายเหตุ"]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> bytes:
    lines = [delimiter.join(cells) for cells in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list], title: str = "Sheet", before: list[str] = ()) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.title = before[0] if before else title
    for name in before[1:]:
        workbook.create_sheet(name)
    sheet = workbook.create_sheet(title) if before else workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def parse(data: bytes, filename: str = "values.csv", **kwargs):
    return parse_bulk(data, filename, indicators=INDICATORS, **kwargs)


def only_error(result) -> RowError:
    assert len(result.errors) == 1, result.errors
    return result.errors[0]


GOOD_THAI_ROWS = [
    THAI_HEADER,
    ["LAO-820801", "BUD-PCT", "๒๕๖๙-๐๑", "๘๕.๕", ""],
    ["LAO-820802", "BUD-PCT", "2569-01", "62", "เบิกจ่ายล่าช้าเพราะน้ำท่วม"],
    ["LAO-820802", "ELDERLY", "2569-01", "๑๒", ""],
]


# --- Encodings and delimiters -----------------------------------------------------------------

@pytest.mark.parametrize("encoding, detected", [("utf-8-sig", "utf-8-sig"), ("utf-8", "utf-8"),
                                                ("cp874", "cp874"), ("tis-620", "cp874")])
def test_thai_csv_reads_in_every_supported_encoding(encoding, detected):
    result = parse(csv_bytes(GOOD_THAI_ROWS, encoding))
    assert result.errors == []
    assert result.encoding == detected and result.file_format == "csv"
    assert result.rows == [
        BulkRow(2, "LAO-820801", "BUD-PCT", "2569-01", 85.5, None),
        BulkRow(3, "LAO-820802", "BUD-PCT", "2569-01", 62.0, "เบิกจ่ายล่าช้าเพราะน้ำท่วม"),
        BulkRow(4, "LAO-820802", "ELDERLY", "2569-01", 12.0, None),
    ]
    assert result.accepted == result.rows and result.data_rows == 3


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_detected(delimiter):
    rows = [ENGLISH_HEADER, ["LAO-1", "SPENT", "2569-01", "1500.25", "มี; เครื่องหมาย, ปน"]]
    data = csv_bytes(rows[:1], delimiter=delimiter) + (
        delimiter.join(rows[1][:4]) + delimiter + '"มี; เครื่องหมาย, ปน"\r\n').encode()
    result = parse(data)
    assert result.errors == []
    assert result.rows == [BulkRow(2, "LAO-1", "SPENT", "2569-01", 1500.25, "มี; เครื่องหมาย, ปน")]


def test_columns_in_any_order_with_loose_english_headers_and_no_note_column():
    rows = [["Value", "Period", " Unit Code ", "INDICATOR-CODE"], ["7", "2569-02", "LAO-9", "elderly"]]
    result = parse(csv_bytes(rows))
    assert result.errors == []
    assert result.rows == [BulkRow(2, "LAO-9", "ELDERLY", "2569-02", 7.0, None)]


def test_latin1_file_is_one_clear_encoding_error():
    result = parse("unit_code,indicator_code,period,value,note\nLAO-1,SPENT,2569-01,1,café\n".encode("latin-1"))
    error = only_error(result)
    assert (error.row, error.column, error.code) == (0, None, "encoding")
    assert "UTF-8" in error.message_th and "TIS-620" in error.message_en
    assert result.rows == result.accepted == []


def test_utf16_and_binary_files_are_encoding_errors():
    assert only_error(parse(",".join(ENGLISH_HEADER).encode("utf-16"))).code == "encoding"
    assert only_error(parse(",".join(ENGLISH_HEADER).encode("utf-16-le"))).code == "encoding"
    assert only_error(parse(bytes(range(256)) * 4)).code == "encoding"


def test_broken_utf8_after_a_bom_is_an_encoding_error():
    data = b"\xef\xbb\xbf" + ",".join(ENGLISH_HEADER).encode() + b"\n\xe0\xb8"
    assert only_error(parse(data)).code == "encoding"


# --- Values -----------------------------------------------------------------------------------

def test_number_formats():
    rows = [ENGLISH_HEADER,
            ["LAO-1", "SPENT", "2569-01", '"1,234,567.50"', ""],
            ["LAO-2", "BUD-PCT", "2569-01", "85%", ""],
            ["LAO-3", "HAS-PLAN", "2569-01", "ใช่", ""],
            ["LAO-4", "HAS-PLAN", "2569-01", "0", ""],
            ["LAO-5", "ELDERLY", "2569-01", "๓.๐", ""],
            ["LAO-6", "SPENT", "2569-01", "+.5", ""]]
    result = parse(csv_bytes(rows))
    assert result.errors == []
    assert [row.value for row in result.rows] == [1234567.5, 85.0, 1.0, 0.0, 3.0, 0.5]


def test_every_row_error_kind_has_its_row_and_column():
    rows = [
        ENGLISH_HEADER,                                                     # row 1
        ["LAO-1", "BUD-PCT", "2569-01", "90", ""],                           # 2 good
        ["", "BUD-PCT", "2569-01", "90", ""],                               # 3 missing unit
        ["LAO-3", "NOPE", "2569-01", "90", ""],                             # 4 unknown indicator
        ["LAO-4", "SPENT", "2569-01", "สิบ", ""],                           # 5 not a number
        ["LAO-5", "ELDERLY", "2569-01", "2.5", ""],                         # 6 count must be whole
        ["LAO-6", "HAS-PLAN", "2569-01", "maybe", ""],                      # 7 not a yes/no
        ["LAO-7", "BUD-PCT", "2569-01", "120", "เกิน"],                      # 8 above maximum
        ["LAO-8", "ELDERLY", "2569-01", "-1", ""],                          # 9 a count is never negative
        ["LAO-9", "BUD-PCT", "2569-13", "90", ""],                          # 10 bad period
        ["LAO-10", "BUD-PCT", "2569-01", "50", ""],                         # 11 misses target, no note
        ["LAO-11", "COMPLAINT-DAYS", "2569-01", "20", " "],                 # 12 above a "decrease" target
        ["LAO-12", "SPENT", "2569-01", "", ""],                             # 13 missing value
        ["LAO-13", "SPENT", "2569-01", "5", "ขาด", "ส่วนเกิน"],              # 14 value beyond the header
        ["LAO-1", "BUD-PCT", "๒๕๖๙-๑", "91", ""],                            # 15 duplicates row 2
    ]
    result = parse(csv_bytes(rows))
    assert [(error.row, error.column, error.code) for error in result.errors] == [
        (2, None, "duplicate_row"),
        (3, "unit_code", "missing_value"),
        (4, "indicator_code", "unknown_indicator"),
        (5, "value", "not_a_number"),
        (6, "value", "wrong_type"),
        (7, "value", "wrong_type"),
        (8, "value", "out_of_range"),
        (9, "value", "out_of_range"),
        (10, "period", "invalid_period"),
        (11, "note", "note_required"),
        (12, "note", "note_required"),
        (13, "value", "missing_value"),
        (14, None, "unexpected_value"),
        (15, None, "duplicate_row"),
    ]
    for error in result.errors:
        assert error.message_th and error.message_en
    messages = {error.row: error for error in result.errors}
    assert "0 to 100" in messages[8].message_en and "0 ถึง 100" in messages[8].message_th
    assert "row 15" in messages[2].message_en and "แถว 15" in messages[2].message_th
    assert "target 80" in messages[11].message_en
    assert "column 6" in messages[14].message_en
    assert result.rows == [] and result.accepted == []  # row 2 is a duplicate too


def test_unquoted_delimiter_in_a_note_is_caught():
    data = b"unit_code,indicator_code,period,value,note\nLAO-1,BUD-PCT,2569-01,50,late, sorry\n"
    error = only_error(parse(data))
    assert (error.row, error.column, error.code) == (2, None, "unexpected_value")


def test_christian_era_period_gets_a_hint():
    data = csv_bytes([ENGLISH_HEADER, ["LAO-1", "SPENT", "2026-01", "5", ""]])
    error = only_error(parse(data))
    assert error.code == "invalid_period" and "2569" in error.message_en


def test_target_missed_with_a_note_is_fine_and_target_met_needs_none():
    rows = [ENGLISH_HEADER, ["LAO-1", "BUD-PCT", "2569-01", "50", "ฝนตกหนัก"],
            ["LAO-2", "BUD-PCT", "2569-01", "80", ""], ["LAO-3", "COMPLAINT-DAYS", "2569-01", "15", ""]]
    assert parse(csv_bytes(rows)).errors == []


def test_rule_built_from_an_indicator_spec():
    spec = IndicatorSpec(code="K1", name_th="ร้อยละ", value_type="percent", direction="decrease", maximum=100)
    rule = IndicatorRule.from_spec(spec, target=10)
    assert rule == IndicatorRule("K1", "percent", None, 100, 10, "decrease")
    assert rule.misses_target(11) and not rule.misses_target(10)
    assert not IndicatorRule("K2", direction="none", target=5).misses_target(0)
    assert IndicatorRule("K3", direction="maintain", target=5).misses_target(4)


# --- Rows and modes ---------------------------------------------------------------------------

def test_blank_rows_are_ignored_but_row_numbers_stay_as_in_the_file():
    data = (b"\n,,,,\nunit_code,indicator_code,period,value,note\n"
            b"LAO-1,SPENT,2569-01,1,\n\n , , , ,\nLAO-2,SPENT,2569-01,x,\n")
    result = parse(data)
    assert [row.row for row in result.rows] == [4]
    assert [(error.row, error.column) for error in result.errors] == [(7, "value")]
    assert result.data_rows == 2


def test_multi_line_note_counts_as_one_row():
    data = ('unit_code,indicator_code,period,value,note\n'
            'LAO-1,BUD-PCT,2569-01,50,"บรรทัดแรก\nบรรทัดสอง"\n'
            'LAO-2,SPENT,2569-01,x,\n').encode()
    result = parse(data)
    assert result.rows[0].note == "บรรทัดแรก\nบรรทัดสอง"
    assert only_error(result).row == 3


MIXED_ROWS = [ENGLISH_HEADER, ["LAO-1", "SPENT", "2569-01", "1", ""],
              ["LAO-2", "SPENT", "2569-01", "abc", ""], ["LAO-3", "SPENT", "2569-01", "3", ""]]


def test_all_or_nothing_accepts_nothing_when_any_row_fails():
    result = parse(csv_bytes(MIXED_ROWS))
    assert result.mode == "all_or_nothing"
    assert [row.row for row in result.rows] == [2, 4]
    assert result.accepted == []
    assert [error.row for error in result.errors] == [3]


def test_keep_good_rows_accepts_the_valid_ones():
    result = parse(csv_bytes(MIXED_ROWS), mode="keep_good_rows")
    assert [row.row for row in result.accepted] == [2, 4]
    assert [error.row for error in result.errors] == [3]


def test_header_problems_stop_before_the_rows():
    rows = [["unit_code", "รหัสหน่วยงาน", "period", "remark", "note"], ["LAO-1", "LAO-1", "2569-01", "x", ""]]
    result = parse(csv_bytes(rows), mode="keep_good_rows")
    assert [(error.row, error.column, error.code) for error in result.errors] == [
        (1, "unit_code", "duplicate_column"),
        (1, "remark", "unknown_column"),
        (1, "indicator_code", "missing_column"),
        (1, "value", "missing_column"),
    ]
    assert result.rows == result.accepted == []


def test_header_after_blank_lines_is_reported_at_its_own_row():
    result = parse(b"\n\nunit_code,indicator_code,period\n")
    assert [(error.row, error.column) for error in result.errors] == [(3, "value")]


@pytest.mark.parametrize("data", [b"", b"\n\n", b" , ,\n"])
def test_empty_files(data):
    error = only_error(parse(data))
    assert (error.row, error.column, error.code) == (0, None, "empty_file")


# --- Limits -----------------------------------------------------------------------------------

def test_file_over_the_size_limit_is_refused_before_reading():
    error = only_error(parse(b"x" * 2000, max_bytes=1000))
    assert (error.row, error.code) == (0, "file_too_large")
    assert "1,000" in error.message_en


def test_csv_with_too_many_rows_is_refused():
    rows = [ENGLISH_HEADER] + [[f"LAO-{n}", "SPENT", "2569-01", "1", ""] for n in range(6)]
    assert parse(csv_bytes(rows), max_rows=6).errors == []
    error = only_error(parse(csv_bytes(rows), max_rows=5))
    assert (error.row, error.column, error.code) == (0, None, "too_many_rows")


def test_xlsx_with_too_many_rows_is_refused_from_its_dimension():
    rows = [ENGLISH_HEADER] + [[f"LAO-{n}", "SPENT", "2569-01", n, None] for n in range(6)]
    assert only_error(parse(xlsx_bytes(rows), "values.xlsx", max_rows=5)).code == "too_many_rows"


def test_xlsx_that_unpacks_too_large_is_refused():
    rows = [ENGLISH_HEADER] + [["LAO-1" * 200, "SPENT", "2569-01", 1, None]] * 50
    data = xlsx_bytes(rows)
    assert only_error(parse(data, "values.xlsx", max_bytes=len(data))).code == "file_too_large"


# --- XLSX -------------------------------------------------------------------------------------

def test_xlsx_with_numeric_and_text_cells():
    rows = [THAI_HEADER,
            [820801, "BUD-PCT", "2569-01", 85.5, None],
            ["LAO-2", "ELDERLY", "๒๕๖๙-๐๑", "๑๒", None],
            ["LAO-3", "HAS-PLAN", "2569-01", True, None],
            ["LAO-4", "ELDERLY", datetime(2569, 1, 1), 3.0, None]]  # Excel read "2569-01" as a date
    result = parse(xlsx_bytes(rows), "values.xlsx")
    assert result.errors == [] and result.file_format == "xlsx" and result.encoding is None
    assert result.rows == [
        BulkRow(2, "820801", "BUD-PCT", "2569-01", 85.5, None),
        BulkRow(3, "LAO-2", "ELDERLY", "2569-01", 12.0, None),
        BulkRow(4, "LAO-3", "HAS-PLAN", "2569-01", 1.0, None),
        BulkRow(5, "LAO-4", "ELDERLY", "2569-01", 3.0, None),
    ]


def test_xlsx_percent_formatted_cells_are_read_as_shown():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(ENGLISH_HEADER)
    sheet.append(["LAO-1", "BUD-PCT", "2569-01", 0.855, None])  # typed as 85.5%
    sheet.append(["LAO-2", "SPENT", "2569-01", 0.5, None])      # 50% is not an amount of money
    sheet["D2"].number_format = sheet["D3"].number_format = "0.0%"
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = parse(buffer.getvalue(), "values.xlsx")
    assert [row.value for row in result.rows] == [85.5]
    error = only_error(result)
    assert (error.row, error.column, error.code) == (3, "value", "not_a_number")
    assert "50.0%" in error.message_en


def test_xlsx_errors_use_spreadsheet_rows():
    rows = [ENGLISH_HEADER, [None] * 5, ["LAO-1", "ELDERLY", "2569-01", 2.5, None],
            ["LAO-2", "ELDERLY", "2569-01", datetime(2026, 1, 5), None], ["LAO-3", "SPENT", "2569-01", True, None]]
    result = parse(xlsx_bytes(rows), "values.xlsx")
    assert [(error.row, error.column, error.code) for error in result.errors] == [
        (3, "value", "wrong_type"), (4, "value", "not_a_number"), (5, "value", "not_a_number")]


@pytest.mark.parametrize("sheet_name", ["ข้อมูล", "Data"])
def test_xlsx_prefers_the_data_sheet(sheet_name):
    rows = [ENGLISH_HEADER, ["LAO-1", "SPENT", "2569-01", 5, None]]
    result = parse(xlsx_bytes(rows, title=sheet_name, before=["คำอธิบาย", "สรุป"]), "values.xlsx")
    assert result.errors == [] and len(result.rows) == 1


def test_xlsx_uses_the_first_sheet_otherwise():
    rows = [ENGLISH_HEADER, ["LAO-1", "SPENT", "2569-01", 5, None]]
    assert len(parse(xlsx_bytes(rows, title="มกราคม"), "values.xlsx").rows) == 1


def test_workbook_is_recognised_by_content_not_name():
    rows = [ENGLISH_HEADER, ["LAO-1", "SPENT", "2569-01", 5, None]]
    assert parse(xlsx_bytes(rows), "values.csv").file_format == "xlsx"


@pytest.mark.parametrize("data, filename, code", [
    (b"PK\x03\x04 not really a zip", "values.xlsx", "unreadable_file"),
    (b"unit_code,value\n", "values.xlsx", "unreadable_file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "values.xls", "unsupported_format"),
])
def test_unreadable_workbooks(data, filename, code):
    error = only_error(parse(data, filename))
    assert (error.row, error.column, error.code) == (0, None, code)


def test_zip_that_is_not_a_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "สวัสดี")
    assert only_error(parse(buffer.getvalue(), "values.xlsx")).code == "unreadable_file"


# --- Size (speed is measured by `python -m bench.parsers`, not asserted here) --------------------

def ten_thousand_rows() -> list[list]:
    return [ENGLISH_HEADER] + [[f"LAO-{n}", "BUD-PCT", "2569-01", n % 101, "ล่าช้า" if n % 101 < 80 else ""]
                               for n in range(10_000)]


def test_ten_thousand_row_csv_is_accepted_whole():
    data = csv_bytes([[str(cell) for cell in row] for row in ten_thousand_rows()], "utf-8-sig")
    result = parse(data)
    assert len(result.accepted) == 10_000 and result.errors == []


def test_ten_thousand_row_xlsx_is_accepted_whole():
    data = xlsx_bytes(ten_thousand_rows())
    result = parse(data, "values.xlsx")
    assert len(result.accepted) == 10_000 and result.errors == []
