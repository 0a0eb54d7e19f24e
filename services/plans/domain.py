"""Pure rules of the plans service, as functions over plain data (``Unit`` rows, states, strings):

- the assignment lifecycle: which action may start from which state, what repeating one does,
  when an assignment is overdue;
- addressees: what an addressee rule reaches, who reports on a directive, forwarding inside one's
  own subtree (the tree walk is shared.orgtree's);
- who may act: the sender of a recorded document, an item's reach, editing a draft, changing a plan;
- documents: printed numbers and receipt numbers normalized, circular letters, the
  forwarded-before-received anomaly, RRULE validation.

No database, no framework; problems are ``InputError`` (Thai and English) with their status.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable

from dateutil.rrule import rrulestr

from shared import orgtree
from shared.errors import InputError, conflict, forbidden, invalid
from shared.thai import BANGKOK, from_thai_digits
from shared.vocabulary import AssignmentState


@dataclass(frozen=True)
class Unit:
    code: str
    level: str
    parent_code: str | None
    lao_type: str | None = None
    province_code: str | None = None
    district_code: str | None = None


# --- the assignment lifecycle -----------------------------------------------------------------

S = AssignmentState  # the vocabulary's states (shared.vocabulary); the rules over them are here
FINAL = {S.CLOSED, S.NOT_APPLICABLE, S.CANCELLED}
# Which states each action may start from. Acknowledging implies receipt; forwarding and work
# imply acknowledgement (a unit cannot act on what it has not registered).
ALLOWED_FROM = {
    S.RECEIVED: {S.ISSUED},
    S.ACKNOWLEDGED: {S.ISSUED, S.RECEIVED},
    S.FORWARDED: {S.ACKNOWLEDGED, S.IN_PROGRESS, S.FORWARDED},
    S.IN_PROGRESS: {S.ACKNOWLEDGED, S.FORWARDED},
    S.REPORTED: {S.ACKNOWLEDGED, S.FORWARDED, S.IN_PROGRESS},
    S.CLOSED: {S.REPORTED, S.FORWARDED, S.ACKNOWLEDGED, S.IN_PROGRESS},
    S.NOT_APPLICABLE: {S.ISSUED, S.RECEIVED, S.ACKNOWLEDGED},
    S.CANCELLED: {S.ISSUED, S.RECEIVED, S.ACKNOWLEDGED, S.FORWARDED, S.IN_PROGRESS, S.REPORTED},
}
# Reached already (or passed): repeating the action is a no-op, not an error.
PASSED = {
    S.RECEIVED: {S.RECEIVED, S.ACKNOWLEDGED, S.FORWARDED, S.IN_PROGRESS, S.REPORTED, S.CLOSED},
    S.ACKNOWLEDGED: {S.ACKNOWLEDGED, S.FORWARDED, S.IN_PROGRESS, S.REPORTED, S.CLOSED},
    S.IN_PROGRESS: {S.IN_PROGRESS},
    S.REPORTED: {S.REPORTED, S.CLOSED},
    S.CLOSED: {S.CLOSED},
    S.NOT_APPLICABLE: {S.NOT_APPLICABLE},
    S.CANCELLED: {S.CANCELLED},
    S.FORWARDED: set(),
}
STATE_TH = {
    S.ISSUED: "ส่งแล้ว", S.RECEIVED: "รับแล้ว", S.ACKNOWLEDGED: "ลงรับแล้ว", S.FORWARDED: "ส่งต่อแล้ว",
    S.IN_PROGRESS: "กำลังดำเนินการ", S.REPORTED: "รายงานแล้ว", S.CLOSED: "ปิดแล้ว",
    S.NOT_APPLICABLE: "ไม่เกี่ยวข้อง", S.CANCELLED: "ยกเลิก",
}


def transition(current: str, target: AssignmentState) -> AssignmentState | None:
    """The new state, or None when the action was already done (idempotent, no event)."""
    state = AssignmentState(current)
    if state in PASSED[target]:
        return None
    if state not in ALLOWED_FROM[target]:
        raise conflict("state", f"ทำรายการนี้ไม่ได้ในสถานะ {STATE_TH[state]}",
                       f"cannot move an assignment from {state} to {target}")
    return target


def is_overdue(state: str, acknowledge_due_at: datetime | None, now: datetime) -> bool:
    """Overdue is a flag, not a state: not yet acknowledged when the acknowledgement was due."""
    return (acknowledge_due_at is not None and now > acknowledge_due_at
            and AssignmentState(state) in (S.ISSUED, S.RECEIVED))


def acknowledge(current: str) -> AssignmentState | None:
    return transition(current, S.ACKNOWLEDGED)


def check_may_forward(current: str) -> None:
    """Forwarding needs the assignment acknowledged (or already at work or forwarded): 409 otherwise.
    Forwarding again is allowed (more units below), unlike other repeated actions."""
    if AssignmentState(current) not in ALLOWED_FROM[S.FORWARDED]:
        raise conflict("state", "ต้องลงรับก่อนจึงจะส่งต่อได้", "acknowledge the assignment before forwarding it")


# --- addressees -------------------------------------------------------------------------------

CRITERION_ATTRIBUTES = ("level", "lao_type", "province_code", "district_code")


def parent_of(units: Iterable[Unit]) -> dict[str, str | None]:
    """Code → parent code: the registry as shared.orgtree walks it."""
    return {unit.code: unit.parent_code for unit in units}


def subtree(root: str, units: Iterable[Unit]) -> set[str]:
    """Codes of root and every unit below it (shared.orgtree's walk)."""
    return orgtree.subtree(root, parent_of(units))


def _unknown(field: str, codes: list[str]) -> InputError:
    return InputError("unknown_unit", field, f"ไม่พบรหัสหน่วยงาน {', '.join(codes[:5])}",
                      f"unknown unit codes: {', '.join(codes[:5])}", status=422)


def resolve_addressees(rule: dict, units: list[Unit], *, field: str = "addressees") -> list[str]:
    """Unit codes an addressee rule reaches.

    Forms (combinable: the result is their intersection, restricted to ``within``):
      {"codes": [...]}                              an explicit list
      {"level": "lao"}                              all units of a level
      {"within": "PLO-09"}                          a subtree (with level: that level inside it)
      {"criterion": {"attribute": "lao_type", "in": ["sao"]}}   a unit attribute
    """
    by_code = {unit.code: unit for unit in units}
    candidates: set[str] | None = None
    if rule.get("codes"):
        unknown = [code for code in rule["codes"] if code not in by_code]
        if unknown:
            raise _unknown(f"{field}.codes", unknown)
        candidates = set(rule["codes"])
    if rule.get("within"):
        if rule["within"] not in by_code:
            raise _unknown(f"{field}.within", [rule["within"]])
        inside = subtree(rule["within"], units) - {rule["within"]}
        candidates = inside if candidates is None else candidates & inside
    if rule.get("level"):
        of_level = {unit.code for unit in units if unit.level == rule["level"]}
        candidates = of_level if candidates is None else candidates & of_level
    if rule.get("criterion"):
        criterion = rule["criterion"]
        attribute = criterion.get("attribute")
        if attribute not in CRITERION_ATTRIBUTES:
            raise invalid(f"{field}.criterion.attribute", "ไม่รู้จักคุณสมบัติของหน่วยงานนี้",
                          f"attribute must be one of {', '.join(CRITERION_ATTRIBUTES)}")
        wanted = set(map(str, criterion.get("in") or [criterion.get("equals")]))
        matching = {unit.code for unit in units if str(getattr(unit, attribute)) in wanted}
        candidates = matching if candidates is None else candidates & matching
    if candidates is None:
        raise invalid(field, "ต้องระบุผู้รับ: รายการรหัส ระดับ หน่วยงานแม่ หรือเงื่อนไข",
                      "addressees need codes, a level, a subtree or a criterion")
    if not candidates:
        raise invalid(field, "ไม่มีหน่วยงานตามเงื่อนไขผู้รับ", "the addressee rule reaches no unit")
    return sorted(candidates)


def reporting_units(addressee_codes: list[str], level: str | None, units: list[Unit]) -> list[str]:
    """Who reports on a directive: the addressees themselves, or the units of the reporting level
    at or below them."""
    if level is None:
        return addressee_codes
    level_of = {unit.code: unit.level for unit in units}
    children = orgtree.children_of(parent_of(units))
    reporters = set()
    for code in addressee_codes:
        if level_of[code] == level:
            reporters.add(code)
        else:
            reporters |= {c for c in orgtree.subtree(code, children=children) if level_of[c] == level}
    return sorted(reporters)


def check_forwarding(from_unit: str, targets: list[str], units: list[Unit]) -> None:
    """A unit forwards only inside its own subtree."""
    inside = subtree(from_unit, units) - {from_unit}
    outside = [code for code in targets if code not in inside]
    if outside:
        raise forbidden("addressees", f"ส่งต่อได้เฉพาะหน่วยงานในสังกัด: {', '.join(outside[:5])}",
                        f"can only forward inside the unit's own subtree: {', '.join(outside[:5])}")


# --- who may act (the service's own check on every write, whoever calls it) ----------------------

CENTRAL_ROLES = frozenset({"central"})  # DLA/MOI level: records what comes from above, addresses all


@dataclass(frozen=True)
class Actor:
    """The user a write is done for, as the gateway authenticated them."""

    username: str
    role: str
    org_code: str

    @property
    def central(self) -> bool:
        return self.role in CENTRAL_ROLES

    @classmethod
    def of(cls, value: "Actor | dict | None") -> "Actor":
        if isinstance(value, Actor):
            return value
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value.get(k)
                                                  for k in ("username", "role", "org_code")):
            raise forbidden("actor", "ไม่ทราบผู้ทำรายการ", "the acting user (username, role, org_code) is required")
        return cls(username=value["username"], role=value["role"], org_code=value["org_code"])


def may_address(sender: str, addressee: str, units: Iterable[Unit], *, central: bool = False) -> bool:
    """A sender addresses units of its own subtree (itself included); central addresses every unit."""
    return central or addressee in subtree(sender, units)


def document_sender(actor: Actor, sender_code: str | None) -> str:
    """The sender of a document an actor records: its own unit, unless the actor is central and
    states the sender (an incoming document from above, such as the MOI memo of seed 004)."""
    if actor.central:
        if not sender_code:
            raise invalid("sender_code", "ต้องระบุหน่วยงานผู้ส่ง (sender_code) เช่น DLA หรือ MOI สำหรับหนังสือรับจากกระทรวง",
                          "central users state the sender (sender_code), e.g. DLA, or MOI for a memo from the ministry")
        return sender_code
    if sender_code and sender_code != actor.org_code:
        raise forbidden("sender_code", f"บันทึกหนังสือได้ในนามหน่วยงานของท่าน ({actor.org_code}) เท่านั้น",
                        f"you may record documents only as your own unit ({actor.org_code}), not {sender_code}")
    return actor.org_code


def check_item_scope(sender: str, issuer: str, addressees: list[str], units: list[Unit], *, central: bool,
                     field: str) -> None:
    """An item's issuer and every addressee lie within what the sender may address."""
    if not may_address(sender, issuer, units, central=central):
        raise forbidden(f"{field}.issuer_code", f"ผู้ออกคำสั่ง {issuer} ไม่อยู่ในสังกัดของผู้ส่ง {sender}",
                        f"the issuer {issuer} is outside the sender {sender}'s subtree")
    reach = None if central else subtree(sender, units)
    outside = [code for code in addressees if reach is not None and code not in reach]
    if outside:
        raise forbidden(f"{field}.addressees", f"ผู้รับอยู่นอกสังกัดของผู้ส่ง {sender}: {', '.join(outside[:5])}",
                        f"addressees outside the sender {sender}'s subtree: {', '.join(outside[:5])}")


def check_may_register_receipt(actor: Actor, unit_code: str) -> None:
    """A unit registers receipts only in its own register; central in any unit's."""
    if not actor.central and unit_code != actor.org_code:
        raise forbidden("unit_code", "ลงทะเบียนรับได้เฉพาะในทะเบียนของหน่วยงานของท่าน",
                        "a unit registers receipts only in its own register")


def may_edit_draft(actor: Actor, recorded_by_unit: str | None) -> bool:
    """Only the unit that recorded a document (or central) attaches to it, edits or issues it."""
    return actor.central or (recorded_by_unit is not None and recorded_by_unit == actor.org_code)


def check_may_edit_draft(actor: Actor, recorded_by_unit: str | None, field: str = "document_id") -> None:
    if not may_edit_draft(actor, recorded_by_unit):
        raise forbidden(field, "เฉพาะหน่วยงานที่บันทึกหนังสือ (หรือส่วนกลาง) จึงแนบไฟล์ แก้ไข หรือส่งหนังสือนี้ได้",
                        "only the unit that recorded this document (or central) may attach to, edit or issue it")


def may_change_plan(actor: Actor, owner_code: str | None, stored_owner_code: str | None,
                    exists: bool) -> bool:
    """Central imports and changes any plan; a unit only its own plan (the plan as stored, if any,
    and as imported are both owned by the unit)."""
    if actor.central:
        return True
    return owner_code == actor.org_code and (not exists or stored_owner_code == actor.org_code)


def check_may_change_plan(actor: Actor, owner_code: str | None, stored_owner_code: str | None,
                          exists: bool) -> None:
    """Refused (403) unless ``may_change_plan``: naming the stored owner when the plan is another
    unit's, else the owner the import states."""
    if may_change_plan(actor, owner_code, stored_owner_code, exists):
        return
    if exists and stored_owner_code != actor.org_code:
        raise forbidden("plan.id", f"แผนนี้เป็นของ {stored_owner_code or 'ส่วนกลาง'}: แก้ไขได้เฉพาะเจ้าของแผนหรือส่วนกลาง",
                        f"this plan belongs to {stored_owner_code or 'central'}: only its owner or central may change it")
    raise forbidden("plan.owner_code", f"นำเข้าได้เฉพาะแผนของหน่วยงานของท่าน ({actor.org_code})",
                    f"you may import only your own unit's plan (owner_code {actor.org_code}), not {owner_code or 'none'}")


# --- documents ----------------------------------------------------------------------------------

def normalize_receipt_number(printed: str) -> str:
    """'๐๐๒' -> '002': receipt numbers are compared and stored with Arabic digits (zero padding kept)."""
    return re.sub(r"\s+", " ", from_thai_digits(printed).strip())


def normalize_document_number(printed: str | None) -> str | None:
    """'ที่ มท ๐๘๐๑.๒/ว ๕๒' -> 'มท 0801.2/ว 52' (for search; the printed form is kept too)."""
    if not printed:
        return None
    text = from_thai_digits(printed).strip()
    text = re.sub(r"^ที่\s*", "", text)
    return re.sub(r"\s+", " ", text)


def is_circular(printed: str | None) -> bool:
    """ว after the slash marks a circular letter (หนังสือเวียน)."""
    return bool(printed) and re.search(r"/\s*ว", printed) is not None


def normalize_received_time(printed: str | None) -> str | None:
    """'9.30' -> '09:30': the time a document was received, as a receipt book writes it."""
    return printed.replace(".", ":").zfill(5) if printed else None


def forwarded_before_received(forwarding_date: date, receipt_dates: list[date]) -> dict | None:
    """Seed 004's AN1: a forwarding memo dated before the receipt of what it forwards.
    Accepted (the paper may have been registered late), but flagged."""
    if receipt_dates and forwarding_date < min(receipt_dates):
        first = min(receipt_dates)
        return {"code": "forwarded_before_received",
                "message_th": f"หนังสือส่งต่อลงวันที่ก่อนวันลงรับหนังสือต้นเรื่อง ({first.isoformat()})",
                "message_en": f"dated {forwarding_date.isoformat()}, before the forwarded document "
                              f"was received ({first.isoformat()})"}
    return None


def validate_rrule(text: str, field: str = "reporting.rrule") -> str:
    text = text.strip()
    try:
        rule = rrulestr(text, dtstart=datetime(2000, 1, 1, tzinfo=BANGKOK), forceset=False)
    except (ValueError, TypeError, KeyError) as exc:
        raise invalid(field, "รูปแบบ RRULE ไม่ถูกต้อง", f"invalid RRULE: {exc}") from None
    if rule.after(datetime(2000, 1, 1, tzinfo=BANGKOK), inc=True) is None:
        raise invalid(field, "RRULE นี้ไม่เกิดขึ้นเลย", "the RRULE never occurs")
    return text
