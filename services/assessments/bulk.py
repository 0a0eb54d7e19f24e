"""Bulk submission files (CSV, XLSX): read, normalise and validate rows of indicator values.

Provinces collect values on behalf of their LAOs and upload one file. Columns (any order, header
in English or Thai; ``note`` may be left out):

    unit_code / รหัสหน่วยงาน, indicator_code / รหัสตัวชี้วัด, period / งวด, value / ค่า,
    note / หมายเหตุ

Pure Python (csv, openpyxl). Nothing here raises on bad content: every problem becomes a
``RowError`` whose ``row`` is the 1-based row number the user sees in the file (spreadsheet
row; a quoted multi-line CSV cell still counts as one row) and whose ``column`` is the
canonical column name (``value``), the header as typed for an unknown column, or None when the
problem is the whole row or the whole file (row 0). Whether good rows are accepted despite
errors in others is an explicit ``mode``.

What a value must look like (``IndicatorRule``, ``parse_value``) is the domain's rule, the same for a
form and a JSON batch: this module applies it to cells and re-exports the names.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections import defaultdict
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal, get_args

import openpyxl

from services.assessments.domain import IndicatorRule, ValueProblem, parse_value  # noqa: F401  (re-exported)
from services.assessments.domain import format_number as _format_number
from services.assessments.domain import plain_text as _text
from services.assessments.schedule import parse_period_label
from shared.errors import InputError
from shared.thai import from_thai_digits
from shared.upload_format import UPLOAD_COLUMNS, headers_text
from shared.validation import ADDRESS_MAX, control_character_problem

__all__ = [
    "BulkParseResult",
    "BulkRow",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "IndicatorRule",
    "Mode",
    "RowError",
    "parse_bulk",
]

Mode = Literal["all_or_nothing", "keep_good_rows"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ROWS = 100_000
# An XLSX is a zip: bound what it unpacks to, so a small "zip bomb" cannot exhaust memory
# (openpyxl keeps the shared-strings table in memory even in read-only mode).
XLSX_MAX_EXPANSION = 10

REQUIRED_COLUMNS = tuple(column for column, _, required, _ in UPLOAD_COLUMNS if required)
COLUMNS = tuple(column for column, *_ in UPLOAD_COLUMNS)
_COLUMN_BY_HEADER = {**{column: column for column in COLUMNS}, **{thai: column for column, thai, *_ in UPLOAD_COLUMNS}}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls
_DATA_SHEET_NAMES = {"ข้อมูล", "data"}


@dataclass(frozen=True)
class BulkRow:
    row: int
    unit_code: str
    indicator_code: str
    period: str
    value: float
    note: str | None


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    code: str
    message_th: str
    message_en: str


@dataclass(frozen=True)
class BulkParseResult:
    """``rows``: every valid row; ``accepted``: the rows to store, per ``mode``."""

    rows: list[BulkRow]
    errors: list[RowError]
    accepted: list[BulkRow]
    mode: Mode
    file_format: Literal["csv", "xlsx"] | None = None
    encoding: str | None = None
    data_rows: int = 0  # non-empty rows under the header


class _FileProblem(Exception):
    """The file as a whole cannot be read; carries the single error reported for it."""

    def __init__(self, code: str, message_th: str, message_en: str):
        super().__init__(code)
        self.error = RowError(0, None, code, message_th, message_en)


def parse_bulk(
    data: bytes,
    filename: str,
    *,
    indicators: Mapping[str, IndicatorRule],
    mode: Mode = "all_or_nothing",
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> BulkParseResult:
    """Read a CSV or XLSX bulk file and validate every row against ``indicators`` (keyed by code).

    ``mode="all_or_nothing"`` (default): any error means nothing is accepted.
    ``mode="keep_good_rows"``: the valid rows are accepted and the errors reported.
    ``max_rows`` counts rows under the header; both limits are checked before the whole file
    is read.
    """
    if mode not in get_args(Mode):
        raise ValueError(f"mode must be one of {get_args(Mode)}, not {mode!r}")
    file_format, encoding = None, None
    try:
        if len(data) > max_bytes:
            raise _FileProblem("file_too_large",
                               f"ไฟล์ใหญ่เกินไป ({len(data):,} ไบต์ เกินขีดจำกัด {max_bytes:,} ไบต์) "
                               "กรุณาแบ่งเป็นหลายไฟล์",
                               f"the file is too large ({len(data):,} bytes, limit {max_bytes:,}); split it")
        file_format = _file_format(data, filename)
        if file_format == "xlsx":
            records = _xlsx_records(data, max_bytes, max_rows)
        else:
            text, encoding = _decode(data)
            records = _csv_records(text, max_rows)
        try:
            rows, errors, data_rows = _validate(records, indicators)
        finally:
            records.close()  # releases the workbook when validation stops early
    except _FileProblem as problem:
        return BulkParseResult([], [problem.error], [], mode, file_format, encoding)
    accepted = rows if mode == "keep_good_rows" or not errors else []
    return BulkParseResult(rows, errors, accepted, mode, file_format, encoding, data_rows)


# --- Reading the file -------------------------------------------------------------------------

def _file_format(data: bytes, filename: str) -> Literal["csv", "xlsx"]:
    # The content decides: a workbook renamed .csv still reads; a .xlsx that is not a zip does not.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC) or extension == "xls":
        raise _FileProblem("unsupported_format",
                           "ไม่รองรับไฟล์ Excel รุ่นเก่า (.xls) กรุณาบันทึกเป็น .xlsx หรือ CSV UTF-8",
                           "old Excel files (.xls) are not supported; save as .xlsx or CSV UTF-8")
    if extension in ("xlsx", "xlsm"):
        raise _unreadable_xlsx()
    return "csv"


def _decode(data: bytes) -> tuple[str, str]:
    """Strictly decode UTF-8 (with or without BOM), else Thai CP874 (a superset of TIS-620)."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "cp874")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        # NULs mean UTF-16 or a binary file; CP874 accepts almost any byte, so it must also
        # read as Thai (this rejects e.g. Latin-1 "café", whose é would be a stray tone mark).
        if "\x00" not in text and (encoding != "cp874" or _plausible_thai(text)):
            return text, encoding
    raise _FileProblem("encoding",
                       "อ่านไฟล์ไม่ได้: ไม่ใช่ข้อความ UTF-8 หรือ TIS-620/CP874 กรุณาบันทึกเป็น CSV UTF-8 หรือ .xlsx",
                       "cannot read the file: it is not UTF-8 or Thai TIS-620/CP874 text; "
                       "save it as CSV UTF-8 or .xlsx")


# Thai marks written above or below a letter (ั ิ ี ึ ื ุ ู ฺ ็ ่ ้ ๊ ๋ ์ ํ ๎): each must follow a
# consonant (ก-ฮ) or another such mark.
_STRAY_THAI_MARK = re.compile(r"(?<![\u0e01-\u0e2e\u0e31\u0e34-\u0e3a\u0e47-\u0e4e])[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]")


def _plausible_thai(text: str) -> bool:
    return _STRAY_THAI_MARK.search(text) is None


Records = Generator[tuple[int, list], None, None]  # (row number as the user sees it, cells)


def _csv_records(text: str, max_rows: int) -> Records:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_detect_delimiter(text))
    try:
        for number, record in enumerate(reader, start=1):
            _check_row_count(number, max_rows)
            yield number, record
    except csv.Error as error:
        raise _FileProblem("unreadable_file", f"อ่านไฟล์ CSV ไม่ได้: {error}",
                           f"cannot read the CSV file: {error}") from None


def _detect_delimiter(text: str) -> str:
    sample = text[:16_384]
    sample = sample[:sample.rfind("\n") + 1] or sample  # whole lines only
    header_line = next((line for line in sample.splitlines() if line.strip()), "")
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = None
    # The sniffer can be fooled by notes full of ";" or by a one-line file; the header is not.
    if delimiter is None or delimiter not in header_line:
        delimiter = max(",;\t", key=header_line.count)
    return delimiter


def _xlsx_records(data: bytes, max_bytes: int, max_rows: int) -> Records:
    try:
        unpacked = sum(member.file_size for member in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except zipfile.BadZipFile:
        raise _unreadable_xlsx() from None
    if unpacked > max_bytes * XLSX_MAX_EXPANSION:
        raise _FileProblem("file_too_large",
                           "ไฟล์ XLSX มีข้อมูลมากเกินไปเมื่อแตกไฟล์ กรุณาแบ่งเป็นหลายไฟล์",
                           f"the XLSX file unpacks to {unpacked:,} bytes, more than "
                           f"{max_bytes * XLSX_MAX_EXPANSION:,}; split it")
    # openpyxl raises many kinds of error on a damaged workbook (zip, XML, missing parts);
    # to the user they all mean the same thing.
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - see above
        raise _unreadable_xlsx() from None
    try:
        sheet = next((candidate for candidate in workbook.worksheets
                      if candidate.title.strip().lower() in _DATA_SHEET_NAMES), None)
        sheet = sheet or workbook.worksheets[0]
        # The declared dimension lets a huge sheet be refused before any row is read.
        if sheet.max_row is not None:
            _check_row_count(sheet.max_row, max_rows)
        try:
            for number, cells in enumerate(sheet.iter_rows(), start=1):
                _check_row_count(number, max_rows)
                yield number, [_xlsx_value(cell) for cell in cells]
        except _FileProblem:
            raise
        except Exception:  # noqa: BLE001 - damaged sheet XML, as above
            raise _unreadable_xlsx() from None
    finally:
        workbook.close()


def _xlsx_value(cell):
    value = cell.value
    # A typed "85%" is stored as 0.85 shown with a percent format: read what the user sees.
    if isinstance(value, (int, float)) and not isinstance(value, bool) and "%" in (cell.number_format or ""):
        return f"{round(value * 100, 10)!r}%"
    return value


def _check_row_count(row_number: int, max_rows: int) -> None:
    if row_number > max_rows + 1:  # + the header row
        raise _FileProblem("too_many_rows",
                           f"ไฟล์มีข้อมูลเกิน {max_rows:,} แถว กรุณาแบ่งเป็นหลายไฟล์",
                           f"the file has more than {max_rows:,} data rows; split it")


def _unreadable_xlsx() -> _FileProblem:
    return _FileProblem("unreadable_file", "อ่านไฟล์ XLSX ไม่ได้ ไฟล์อาจเสียหาย กรุณาบันทึกใหม่จาก Excel",
                        "cannot read the XLSX file; it may be damaged; save it again from Excel")


# --- Validating rows --------------------------------------------------------------------------

def _validate(records: Records, indicators: Mapping[str, IndicatorRule]
              ) -> tuple[list[BulkRow], list[RowError], int]:
    indicator_by_key = {_code_key(code): rule for code, rule in indicators.items()}
    for header_row, header in records:
        if any(_text(cell) for cell in header):
            break
    else:
        raise _FileProblem("empty_file", "ไฟล์ไม่มีข้อมูล", "the file is empty")

    positions, errors = _read_header(header_row, header)
    if errors:
        return [], errors, 0

    rows: list[BulkRow] = []
    rows_by_key: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    data_rows = 0
    for row_number, cells in records:
        if not any(_text(cell) for cell in cells):
            continue  # blank rows are layout, not data
        data_rows += 1
        row, key, row_errors = _validate_row(row_number, cells, positions, indicator_by_key)
        if key is not None:
            rows_by_key[key].append(row_number)
        if row is not None:
            rows.append(row)
        errors.extend(row_errors)

    duplicate_rows = _duplicate_errors(rows_by_key, errors)
    rows = [row for row in rows if row.row not in duplicate_rows]
    errors.sort(key=lambda error: error.row)  # stable: keeps column order within a row
    return rows, errors, data_rows


def _validate_row(row_number: int, cells: list, positions: dict[str, int],
                  indicator_by_key: dict[str, IndicatorRule]
                  ) -> tuple[BulkRow | None, tuple[str, str, str] | None, list[RowError]]:
    """One data row: the normalised row (None if it has errors), its duplicate key, its errors."""
    errors: list[RowError] = []

    def fail(column: str | None, code: str, message_th: str, message_en: str) -> None:
        errors.append(RowError(row_number, column, code, message_th, message_en))

    def cell(column: str):
        position = positions.get(column)
        return cells[position] if position is not None and position < len(cells) else None

    known_positions = set(positions.values())
    for position, content in enumerate(cells):
        if position not in known_positions and _text(content):
            fail(None, "unexpected_value",
                 f"มีค่าในคอลัมน์ที่ {position + 1} ซึ่งไม่มีหัวคอลัมน์ "
                 "(หมายเหตุที่มีเครื่องหมายคั่นต้องอยู่ในเครื่องหมายคำพูด)",
                 f"value in column {position + 1}, which has no header "
                 "(a note containing the delimiter must be quoted)")

    texts = {column: _text(cell(column)) for column in ("unit_code", "indicator_code", "period")}
    for column, text in texts.items():
        if not text:
            fail(column, "missing_value", f"ไม่มีค่าในคอลัมน์ {column}", f"{column} is empty")
    unit_code = from_thai_digits(texts["unit_code"])

    rule = None
    if texts["indicator_code"]:
        rule = indicator_by_key.get(_code_key(texts["indicator_code"]))
        if rule is None:
            fail("indicator_code", "unknown_indicator",
                 f"ไม่รู้จักตัวชี้วัด {texts['indicator_code']} ในกฎการรายงานนี้",
                 f"unknown indicator {texts['indicator_code']} for this reporting rule")

    period = None
    if texts["period"]:
        try:
            period = _period_label(_period_text(cell("period")))
        except InputError as error:
            fail("period", "invalid_period", error.message_th, error.message_en)

    value = None
    raw_value = cell("value")
    if not _text(raw_value):
        fail("value", "missing_value", "ไม่มีค่าในคอลัมน์ value", "value is empty")
    elif rule is not None:
        try:
            value = parse_value(raw_value, rule)
        except ValueProblem as problem:
            fail("value", problem.code, problem.message_th, problem.message_en)

    note = _text(cell("note")) or None
    if note and (problem := control_character_problem(note)):
        fail("note", "invalid_text", f"หมายเหตุ{problem[1]}", f"the note {problem[0]}")
    elif note and len(note) > ADDRESS_MAX:
        fail("note", "too_long", f"หมายเหตุยาวเกิน {ADDRESS_MAX:,} ตัวอักษร",
             f"the note is longer than {ADDRESS_MAX:,} characters")
    if value is not None and rule.misses_target(value) and note is None:
        fail("note", "note_required",
             f"ค่า {_format_number(value)} ไม่บรรลุค่าเป้าหมาย {_format_number(rule.target)} ต้องระบุหมายเหตุ",
             f"value {_format_number(value)} misses the target {_format_number(rule.target)}; a note is required")

    key = (unit_code, rule.code, period) if unit_code and rule is not None and period is not None else None
    if errors:
        return None, key, errors
    return BulkRow(row_number, unit_code, rule.code, period, value, note), key, errors


def _read_header(row_number: int, header: list) -> tuple[dict[str, int], list[RowError]]:
    positions: dict[str, int] = {}
    errors: list[RowError] = []
    for position, cell in enumerate(header):
        typed = _text(cell)
        if not typed:
            continue  # e.g. a trailing delimiter; a value under it is reported per row
        column = _COLUMN_BY_HEADER.get(_header_key(typed))
        if column is None:
            errors.append(RowError(row_number, typed, "unknown_column",
                                   f"ไม่รู้จักคอลัมน์ {typed!r} (ใช้ได้: {headers_text()})",
                                   f"unknown column {typed!r}; expected {headers_text()}"))
        elif column in positions:
            errors.append(RowError(row_number, column, "duplicate_column",
                                   f"คอลัมน์ {column} ซ้ำ", f"column {column} appears twice"))
        else:
            positions[column] = position
    for column in REQUIRED_COLUMNS:
        if column not in positions:
            errors.append(RowError(row_number, column, "missing_column",
                                   f"ไม่มีคอลัมน์ {column}", f"column {column} is missing"))
    return positions, errors


def _duplicate_errors(rows_by_key: dict[tuple[str, str, str], list[int]], errors: list[RowError]) -> set[int]:
    # Which of two values is right cannot be known, so every row of a duplicate group is refused.
    duplicate_rows: set[int] = set()
    for (unit_code, indicator_code, period), row_numbers in rows_by_key.items():
        if len(row_numbers) < 2:
            continue
        duplicate_rows.update(row_numbers)
        for row_number in row_numbers:
            others = ", ".join(str(other) for other in row_numbers if other != row_number)
            errors.append(RowError(row_number, None, "duplicate_row",
                                   f"หน่วยงาน {unit_code} ตัวชี้วัด {indicator_code} งวด {period} ซ้ำกับแถว {others}",
                                   f"unit {unit_code}, indicator {indicator_code}, period {period} "
                                   f"also appears in row {others}"))
    return duplicate_rows


# --- Cells ------------------------------------------------------------------------------------

# A file repeats a handful of periods thousands of times.
_period_label = lru_cache(maxsize=256)(parse_period_label)


def _period_text(cell) -> str:
    # Excel turns a typed "2569-01" into the date 1 Jan 2569; read it back as that month.
    if isinstance(cell, date):  # a datetime is a date
        return f"{cell.year}-{cell.month:02d}"
    return _text(cell)


def _header_key(typed: str) -> str:
    cleaned = typed.replace("\ufeff", "").replace("\u200b", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", cleaned)


def _code_key(code: str) -> str:
    return from_thai_digits(code).strip().upper()
