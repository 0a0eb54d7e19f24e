"""Tables as files: every table the web UI shows can be downloaded as CSV or XLSX (``?format=csv|xlsx``).

One helper for every route: rows (dicts, as the JSON answer has them) + a column spec (key, Thai
header, English header) -> a file. CSV is UTF-8 with a BOM so that Excel shows Thai; XLSX is written
with openpyxl. Headers are Thai unless ``?lang=en``. Values are written as the JSON has them (ISO
times, rates 0..1), so a file and the JSON answer hold the same rows. A text cell that a spreadsheet
would read as a formula (=, +, -, @) is prefixed with ' in CSV and stored as text in XLSX. A character
that a spreadsheet cannot hold (a control character other than tab and line breaks, a lone surrogate:
refused on input today, but possibly stored before, and kept in the audit log's copy of a request) is
written as U+FFFD, so one stored character never breaks an export.
"""
from __future__ import annotations

import csv
import io
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from werkzeug.wrappers import Response

from shared.errors import InputError
from shared.validation import printable

FORMATS = ("json", "csv", "xlsx")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_ROWS = 100_000


@dataclass(frozen=True)
class Column:
    key: str
    th: str
    en: str


def columns(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*item) for item in spec)


def export_format(args) -> str:
    """``json`` (the default), ``csv`` or ``xlsx``; anything else is a 422 naming ``format``."""
    value = (args.get("format") or "json").lower()
    if value not in FORMATS:
        raise InputError("invalid", "format", "format ต้องเป็น json, csv หรือ xlsx",
                         "format must be json, csv or xlsx", status=422)
    lang = args.get("lang") or "th"
    if lang not in ("th", "en"):
        raise InputError("invalid", "lang", "lang ต้องเป็น th หรือ en", "lang must be th or en", status=422)
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_cell(v)) for v in value)
    if isinstance(value, dict):
        return printable(json.dumps(value, ensure_ascii=False, default=str))
    return printable(str(value))


def _value(row: dict, key: str) -> Any:
    """``a.b`` reads a nested dict (e.g. ``cells.2569-01`` of a matrix row)."""
    if key in row:
        return row[key]
    head, _, rest = key.partition(".")
    inner = row.get(head)
    return inner.get(rest) if isinstance(inner, dict) and rest else None


def table_values(rows: Iterable[dict], spec: tuple[Column, ...]) -> list[list[Any]]:
    """The rows as the files hold them (without the header): what tests compare with the JSON."""
    return [[_cell(_value(row, column.key)) for column in spec] for row in rows]


def to_csv(rows: Iterable[dict], spec: tuple[Column, ...], lang: str = "th") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([column.en if lang == "en" else column.th for column in spec])
    for values in table_values(rows, spec):
        writer.writerow([f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in values])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


def to_xlsx(rows: Iterable[dict], spec: tuple[Column, ...], lang: str = "th", title: str = "data") -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=re.sub(r"[\[\]:*?/\\]", "-", title)[:31] or "data")
    bold = Font(bold=True)
    header = []
    for column in spec:
        cell = WriteOnlyCell(sheet, value=column.en if lang == "en" else column.th)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for values in table_values(rows, spec):
        sheet.append([_text_cell(sheet, v) if isinstance(v, str) and v.startswith("=") else v for v in values])
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text_cell(sheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # text, never a formula
    return cell


def _filename(name: str, extension: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "export"
    return f"{ascii_name}.{extension}"


def file_response(rows: list[dict], spec: tuple[Column, ...], name: str, fmt: str, lang: str = "th") -> Response:
    if len(rows) > MAX_ROWS:
        raise InputError("too_large", "limit", f"ส่งออกได้ไม่เกิน {MAX_ROWS:,} แถว",
                         f"at most {MAX_ROWS:,} rows can be exported", status=422)
    if fmt == "csv":
        content, content_type = to_csv(rows, spec, lang), CSV_TYPE
    else:
        content, content_type = to_xlsx(rows, spec, lang, title=name), XLSX_TYPE
    filename = _filename(name, fmt)
    return Response(content, status=200, headers={
        "Content-Type": content_type,
        "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{urllib.parse.quote(filename)}",
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


def exported(request, payload: Any, rows: list[dict], spec: tuple[Column, ...], name: str):
    """The JSON ``payload`` unless ``?format=csv|xlsx`` asks for ``rows`` as a file."""
    fmt = export_format(request.args)
    if fmt == "json":
        return payload
    return file_response(rows, spec, name, fmt, request.args.get("lang") or "th")


def wants_file(request) -> bool:
    return export_format(request.args) != "json"
