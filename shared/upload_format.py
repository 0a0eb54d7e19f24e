"""The columns of the bulk upload of reported values (CSV/XLSX, ``POST /api/v1/submissions/upload``):
one declaration read by the parser (services/assessments/bulk.py), the OpenAPI description, the
error message for an unknown column and the docs. Headers are matched ignoring case, spaces, ``-``/``_``
and a byte-order mark."""
from __future__ import annotations

# column, its Thai header, required, what it holds
UPLOAD_COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("unit_code", "รหัสหน่วยงาน", True, "the reporting unit, e.g. LAO-820801"),
    ("indicator_code", "รหัสตัวชี้วัด", True, "an indicator of the reporting rule"),
    ("period", "งวด", True, "a period of the one grammar: 2569-01, ม.ค. 2569, FY2569-Q1, FY2569"),
    ("value", "ค่า", True, "the value (Thai or Arabic digits; 1,234.5 accepted)"),
    ("note", "หมายเหตุ", False, "required when the value misses its target"),
)


def headers_text() -> str:
    """``unit_code (รหัสหน่วยงาน), indicator_code (รหัสตัวชี้วัด), …`` for messages and descriptions."""
    return ", ".join(f"{column} ({thai})" for column, thai, _, _ in UPLOAD_COLUMNS)
