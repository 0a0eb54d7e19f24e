"""Pure rules of the plans service: addressee resolution and the assignment lifecycle."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Iterable

from shared.errors import InputError, conflict, invalid


@dataclass(frozen=True)
class Unit:
    code: str
    level: str
    parent_code: str | None
    lao_type: str | None = None


class AssignmentState(StrEnum):
    ISSUED = "issued"
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    FORWARDED = "forwarded"
    IN_PROGRESS = "in_progress"
    REPORTED = "reported"
    CLOSED = "closed"
    NOT_APPLICABLE = "not_applicable"
    CANCELLED = "cancelled"


ACKNOWLEDGEABLE = {AssignmentState.ISSUED, AssignmentState.RECEIVED}


def acknowledge(state: str) -> AssignmentState | None:
    """The state after acknowledging; None when already acknowledged (idempotent, no event)."""
    current = AssignmentState(state)
    if current in ACKNOWLEDGEABLE:
        return AssignmentState.ACKNOWLEDGED
    if current in (AssignmentState.CANCELLED,):
        raise conflict("assignment_id", "ข้อสั่งการนี้ถูกยกเลิกแล้ว", "the assignment was cancelled")
    return None


def subtree(root: str, units: Iterable[Unit]) -> set[str]:
    """Codes of root and every unit below it."""
    children: dict[str, list[str]] = {}
    for unit in units:
        if unit.parent_code:
            children.setdefault(unit.parent_code, []).append(unit.code)
    found, stack = set(), [root]
    while stack:
        code = stack.pop()
        if code not in found:
            found.add(code)
            stack.extend(children.get(code, ()))
    return found


def resolve_addressees(rule: dict, units: list[Unit]) -> list[str]:
    """Unit codes an addressee rule reaches: an explicit list, or a level within a subtree.

    rule = {"codes": [...]}  or  {"level": "lao", "within": "PLO-09"} (within is optional).
    """
    by_code = {unit.code: unit for unit in units}
    if rule.get("codes"):
        unknown = [code for code in rule["codes"] if code not in by_code]
        if unknown:
            raise InputError("unknown_unit", "addressees.codes",
                             f"ไม่พบรหัสหน่วยงาน {', '.join(unknown[:5])}",
                             f"unknown unit codes: {', '.join(unknown[:5])}", status=422)
        return sorted(set(rule["codes"]))
    level = rule.get("level")
    if not level:
        raise invalid("addressees", "ต้องระบุผู้รับ: รายการรหัสหรือระดับหน่วยงาน",
                      "addressees need a list of codes or a level")
    scope = by_code.keys()
    if rule.get("within"):
        if rule["within"] not in by_code:
            raise InputError("unknown_unit", "addressees.within",
                             f"ไม่พบรหัสหน่วยงาน {rule['within']}",
                             f"unknown unit code {rule['within']}", status=422)
        scope = subtree(rule["within"], units)
    codes = sorted(code for code in scope if by_code[code].level == level)
    if not codes:
        raise invalid("addressees", "ไม่มีหน่วยงานตามเงื่อนไขผู้รับ", "the addressee rule reaches no unit")
    return codes
