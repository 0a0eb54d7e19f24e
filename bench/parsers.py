"""Speed of the pure parsers a request waits on, printed (not asserted: the machine is shared).

    python -m bench.parsers

- the national registry built from the shipped admin divisions file (what `make run` and the bench
  load), with and without reading the file;
- a bulk upload of 10,000 rows parsed from CSV and from XLSX (what a province sends for its LAOs).
Each figure is the best of three runs, wall and CPU seconds; targets: registry < 1 s, each upload < 2 s CPU.
"""
from __future__ import annotations

import csv
import io
import time

import openpyxl

from services.assessments.bulk import IndicatorRule, parse_bulk
from services.plans.registry import load_admin_divisions, national_registry

RULES = {"BUD-PCT": IndicatorRule("BUD-PCT", "percent", minimum=0, maximum=100, target=80, direction="increase")}
HEADER = ["unit_code", "indicator_code", "period", "value", "note"]
ROWS = [HEADER] + [[f"LAO-{n}", "BUD-PCT", "2569-01", n % 101, "ล่าช้า" if n % 101 < 80 else ""]
                   for n in range(10_000)]


def best_of_three(function, *args, **kwargs) -> tuple[float, float]:
    runs = []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        function(*args, **kwargs)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs)


def csv_upload() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(ROWS)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_upload() -> bytes:
    workbook = openpyxl.Workbook()
    for row in ROWS:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def main() -> None:
    divisions = load_admin_divisions()
    figures = {
        "national registry (divisions loaded)": best_of_three(national_registry, divisions),
        "national registry (reading the file)": best_of_three(national_registry),
        "10,000-row CSV upload": best_of_three(parse_bulk, csv_upload(), "values.csv", indicators=RULES),
        "10,000-row XLSX upload": best_of_three(parse_bulk, xlsx_upload(), "values.xlsx", indicators=RULES),
    }
    for name, (wall, cpu) in figures.items():
        print(f"{name:40s} {wall:7.3f} s wall {cpu:7.3f} s CPU")


if __name__ == "__main__":
    main()
