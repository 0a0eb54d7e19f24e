"""Operator commands of the plans service, run against its own database (events leave through
the outbox like any other change; the running service's relay publishes them).

    python -m services.plans.cli import-units FILE.csv|FILE.json [--dry-run]
    python -m services.plans.cli national-registry [--dry-run]     # the generated national registry
    python -m services.plans.cli seed-memo [--issue]              # seed 004, recorded exactly
    python -m services.plans.cli import-plan FILE.yaml|FILE.json [--dry-run]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.plans import document_actions, memo_import, unit_changes, unit_csv
from services.plans.development_plans import importing, reading
from shared.contracts.commands.plans import IssueDocument, RegisterUnits
from services.plans.registry import national_registry
from shared.config import database_url
from shared.db import Database
from shared.errors import InputError
from shared.validation import parse


def registry_rows() -> list[dict]:
    rows = []
    for spec in national_registry():
        row = {"code": spec.code, "level": str(spec.level), "parent_code": spec.parent_code,
               "lao_type": str(spec.lao_type) if spec.lao_type else None, "name_th": spec.name_th,
               "name_en": spec.name_en, "contact_email": spec.contact_email,
               "head_name_th": spec.head_name_th, "head_email": spec.head_email,
               "province_code": None if spec.province_code is None else str(spec.province_code),
               "district_code": None if spec.district_code is None else str(spec.district_code),
               "subdistrict_code": None if spec.subdistrict_code is None else str(spec.subdistrict_code),
               "valid_from": spec.valid_from.isoformat()}
        rows.append({key: value for key, value in row.items() if value is not None})
    return rows


def _summary(result: dict) -> str:
    return (f"created {result['created']}, changed {result['changed']}, unchanged {result['unchanged']}"
            + (" (dry run: nothing written)" if result.get("dry_run") else ""))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    units_command = commands.add_parser("import-units", help="create/update units from a CSV or JSON file")
    units_command.add_argument("file", type=Path)
    units_command.add_argument("--dry-run", action="store_true")
    national = commands.add_parser("national-registry", help="load the generated national registry")
    national.add_argument("--dry-run", action="store_true")
    memo = commands.add_parser("seed-memo", help="record seed 004 (documents, receipts, 24 items)")
    memo.add_argument("--issue", action="store_true", help="also issue D3's items")
    plan = commands.add_parser("import-plan", help="import a plan tree (YAML or JSON)")
    plan.add_argument("file", type=Path)
    plan.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)

    database = Database(database_url("plans"))
    try:
        with database.unit_of_work(correlation_id=f"cli-{args.command}") as uow:
            if args.command == "import-units":
                text = args.file.read_text("utf-8-sig")
                rows = json.loads(text) if args.file.suffix == ".json" else unit_csv.units_from_csv(text)
                result = unit_changes.register_units(parse(RegisterUnits, {"units": rows, "dry_run": args.dry_run}), uow)
                print(_summary(result))
                for change in result["changes"][:50]:
                    print(f"  {change['action']:<7} {change['code']} {change.get('fields', '')}")
            elif args.command == "national-registry":
                result = unit_changes.register_units(RegisterUnits(units=registry_rows(), dry_run=args.dry_run), uow)
                print(f"national registry: {_summary(result)}")
            elif args.command == "import-plan":
                document = reading.load_document(args.file.read_text("utf-8"))
                result = importing.import_plan(document, uow, source_name=args.file.name, dry_run=args.dry_run)
                print(f"{args.file.name}: {json.dumps(result, ensure_ascii=False, default=str)[:400]}")
            else:
                ids = memo_import.record_memo(uow)
                print(f"seed 004 recorded: documents {ids['documents']}")
                if args.issue:
                    issued = document_actions.issue_document(IssueDocument(document_id=ids["documents"]["D3"]), uow)
                    print(f"D3 issued: {len(issued['directives'])} items, {issued['assignment_count']} assignments")
            uow.commit()
    except InputError as error:
        print(f"error: {error.field}: {error.message_th} / {error.message_en}", file=sys.stderr)
        return 2
    finally:
        database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
