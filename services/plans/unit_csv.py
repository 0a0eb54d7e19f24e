"""The registry CSV: rows of a file (UTF-8, header = field names) as the units of RegisterUnits,
and an error's field named as the row of the file (``rows[3].effective_date``)."""
from __future__ import annotations

import csv
import io

from shared.contracts.commands.plans import OrgUnitInput
from shared.errors import invalid

CSV_LISTS = ("successor_codes", "predecessor_codes")
CSV_TRUE, CSV_FALSE = ("true", "1", "yes", "y"), ("false", "0", "no", "n")


def units_from_csv(text: str) -> list[dict]:
    """Rows of a registry CSV (UTF-8, header = field names) as dicts for RegisterUnits: the same
    fields as the JSON body (change_kind, effective_date, reason, force ...); successor_codes and
    predecessor_codes separated by ``;``. An empty cell is a field left out (left as it was)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    allowed = set(OrgUnitInput.model_fields)
    unknown = [name for name in (reader.fieldnames or []) if name not in allowed]
    if unknown:
        raise invalid("file", f"ไม่รู้จักคอลัมน์ {', '.join(unknown)}", f"unknown columns: {', '.join(unknown)}")
    rows = []
    for row in reader:
        kept = {key: value for key, value in row.items() if key is not None and value not in ("", None)}
        for name in CSV_LISTS:
            if name in kept:
                kept[name] = [code.strip() for code in kept[name].split(";") if code.strip()]
        if "force" in kept and kept["force"].strip().lower() in CSV_TRUE + CSV_FALSE:
            kept["force"] = kept["force"].strip().lower() in CSV_TRUE
        rows.append(kept)
    return rows


def csv_field(field: str) -> str:
    """``units[3].effective_date`` of the parsed rows as ``rows[3].effective_date`` of the file."""
    return "rows" + field[len("units"):] if field.startswith("units[") else field
