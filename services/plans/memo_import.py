"""Seed 004 (the MOI memo chain of January BE 2565) as plans commands, recorded exactly.

The extract `data/reference/moi_directive_memo_2565.yaml` is mapped onto the registry, documents,
receipts and directive items of this service:

* D1, D2 are known only by reference (status ``referenced_only``); D3 (MOI -> DLA) carries the
  24 items of its attachment A1; D4 (DLA -> all provincial offices) forwards D3.
* The receipts R1 (DLA, 296), R2 (DLA secretariat, 15) and R3 (its facilitation section, 002,
  16.56) are registered on D3 and routed one to the next, as the stamps show.
* D4 is dated 3 Jan 2565, a day before those receipts: it is accepted and flagged (AN1).
* Addressees come from each item's roles (the highest level named; the 10-province list of
  DPS-2 as explicit provincial offices); CIG-1.1 carries the monthly day-3 disbursement report.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from services.plans import assignment_actions, document_actions, unit_changes
from shared.contracts.commands.plans import RecordDocument, RegisterReceipt, RegisterUnits
from shared.config import REPO_ROOT
from shared.db import UnitOfWork

MEMO_PATH = REPO_ROOT / "data" / "reference" / "moi_directive_memo_2565.yaml"
LEVELS = {"MINISTRY": "ministry", "MINISTRY_OFFICE": "ministry_office", "MINISTRY_BUREAU": "ministry_office",
          "DEPARTMENT": "department", "DEPT_OFFICE": "department_bureau", "DEPT_SECTION": "department_bureau"}
KINDS = {"ORDER": "order", "GUIDELINE": "guideline", "OBSERVATION": "observation",
         "INSPECTION_FOCUS": "inspection_focus"}
URGENCY = {"MOST_URGENT": "most_urgent", "VERY_URGENT": "very_urgent", "URGENT": "urgent", None: "normal"}
FORMS = {"MEMO": "memo", "LETTER": "letter", "ATTACHMENT": "attachment"}
# The highest level among an item's roles receives it (and forwards it down).
ROLE_ADDRESSEES = [
    ("DLA", {"codes": ["DLA"]}), ("DLA_UNITS", {"codes": ["DLA"]}), ("PERSONNEL", {"codes": ["DLA"]}),
    ("CENTRAL_ADMINISTRATION", {"codes": ["DLA"]}),
    ("PROVINCIAL_LA_OFFICE", {"level": "provincial_office"}),
    ("REGIONAL_ADMINISTRATION", {"level": "provincial_office"}),
    ("DISTRICT_LA_OFFICE", {"level": "district_office"}), ("LAO", {"level": "lao"}),
]


def load_memo(path: Path = MEMO_PATH) -> dict:
    return yaml.safe_load(path.read_text("utf-8"))


def memo_units(memo: dict) -> list[dict]:
    """The ministry and DLA offices named in the memo (the national registry has MOI and DLA)."""
    return [{"code": org["id"], "level": LEVELS[org["level"]], "parent_code": org.get("parent_id"),
             "name_th": org["name_th"], "name_en": org.get("name_en")}
            for org in memo["organisations"] if org["level"] in LEVELS]


def item_addressees(item: dict) -> dict:
    provinces = (item.get("scope") or {}).get("provinces")
    if provinces:
        return {"codes": [f"PLO-{p['province_id']:02d}" for p in provinces]}
    for role, rule in ROLE_ADDRESSEES:
        if role in item.get("addressee_roles", []):
            return rule
    return {"codes": ["DLA"]}  # no role stated: D3 went to the department as a whole


def item_reporting(item: dict) -> dict | None:
    rule = item.get("reporting_rule")
    if not rule:
        return None
    return {"indicator_code": "ELDERLY-VOL-DISBURSED-PCT",
            "indicator_name_th": "ร้อยละการเบิกจ่ายงบประมาณโครงการอาสาสมัครบริหารท้องถิ่นดูแลผู้สูงอายุที่มีภาวะพึ่งพิง",
            "unit_of_measure": "ร้อยละ", "value_type": "percent", "minimum": 0, "maximum": 100,
            "rrule": rule["rrule"], "reporting_level": "lao", "fiscal_year_be": 2565}


def item_command(item: dict) -> dict:
    return {"item_ref": item.get("id"), "kind": KINDS[item["kind"]],
            "issuer_position_th": item.get("issuer_position_th"), "topic_th": item.get("topic_th"),
            "text_th": item["text_th"], "text_en": item.get("text_en"), "addressees": item_addressees(item),
            "reporting": item_reporting(item)}


def record_memo(uow: UnitOfWork, memo: dict | None = None) -> dict:
    """Record seed 004 in one transaction; returns the new ids by the extract's ids."""
    memo = memo or load_memo()
    unit_changes.register_units(RegisterUnits(units=memo_units(memo)), uow)
    documents = {d["id"]: d for d in memo["documents"]}
    ids: dict[str, str] = {}
    for key in ("D1", "D2", "D3"):
        doc = documents[key]
        items = [item_command(item) for item in memo["directives"]] if key == "D3" else []
        ids[key] = _record(uow, doc, ids, items)
    stamps = {}
    for stamp in memo["receipt_stamps"]:
        result = assignment_actions.register_receipt(RegisterReceipt(
            unit_code=stamp["receiving_org_id"], document_id=ids[stamp["registered_on_doc_id"]],
            receipt_no=stamp["receipt_no"], received_on=stamp["date"], received_time=stamp.get("time"),
            routed_from_receipt_id=stamps.get(stamp.get("routed_from_receipt_id"))), uow)
        stamps[stamp["id"]] = result["receipt_id"]
    ids["D4"] = _record(uow, documents["D4"], ids, [])
    return {"documents": ids, "receipts": stamps}


def _record(uow: UnitOfWork, doc: dict, ids: dict[str, str], items: list[dict]) -> str:
    command = RecordDocument(
        form=FORMS[doc["form"]], document_number=doc.get("number_th"), document_date=doc["date"],
        urgency=URGENCY[doc.get("urgency")], subject_th=doc.get("subject_th") or doc.get("number_th"),
        subject_en=doc.get("subject_en"),
        sender_code=doc.get("sender_org_id") if doc.get("sender_org_id") != "PLAO-ALL" else None,
        sender_text=doc.get("sender_th"), addressee_text=doc.get("addressee_th"),
        references=[ids[r] for r in doc.get("references") or [] if r in ids],
        forwards_document_id=ids.get(doc.get("forwards")) if doc.get("forwards") else None,
        status="referenced_only" if doc["status"] == "referenced_only" else "recorded", items=items)
    return document_actions.record_document(command, uow, created_by="seed-004")["document_id"]
