"""People and their own use cases: who they are and what they want (preferences, LINE linking,
the in-app inbox's read marks), and what officers do by hand (chase an obligation, set a
reminder ladder). Each is ``(uow, ...)``: the service runs it in one unit of work and commits.

Invariants: a person is ``user:<username>`` of their unit (``org_code``) and hears what their unit
hears unless they switched an optional class off; a LINE link code is shown once, stored hashed,
used once and expires (``settings.link_code_ttl``); a chase goes at most once per obligation,
recipient and Bangkok day, at the recipient's next allowed time.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from services.notifications import domain
from services.notifications.audience import SM, audience, check_user, is_within, json_list, person_code, schedule
from services.notifications.models import inbox_items, line_link_codes, recipients, reminder_ladders, tracked_obligations
from services.notifications.settings import Settings
from services.notifications.views import preferences_of, preferences_view
from shared.contracts import utcnow
from shared.db import UnitOfWork, upsert
from shared.errors import conflict, forbidden, invalid, not_found
from shared.thai import BANGKOK


# --- preferences ------------------------------------------------------------------------------------

def upsert_person(uow: UnitOfWork, user: dict, preferences: dict | None, settings: Settings) -> dict:
    """Create or update a person (from the gateway's user) and, if given, their preferences."""
    user = check_user(user)
    code = person_code(user["username"])
    row = uow.session.execute(select(recipients).where(recipients.c.code == code)).mappings().first()
    prefs = domain.parse_preferences(preferences or {}, preferences_of(row))
    values = {
        "kind": "person", "org_code": user["org_code"], "name_th": str(user.get("display_name") or user["username"]),
        "role": user.get("role"), "language": prefs.language, "date_digits": prefs.date_digits,
        "email": prefs.email, "phone": prefs.phone,
        "fallback_order": json.dumps(list(prefs.fallback_order)) if prefs.fallback_order else None,
        "quiet_hours": prefs.quiet_hours, "opt_out": json.dumps(list(prefs.opt_out)), "digest": prefs.digest,
        "updated_at": utcnow()}
    if preferences and "channels" in preferences and "line" in preferences["channels"]:
        values["line_ids"] = None  # null = unlink
    upsert(uow.session, recipients, {"code": code}, values)
    stored = uow.session.execute(select(recipients).where(recipients.c.code == code)).mappings().first()
    return preferences_view(stored, user, settings)


# --- the in-app inbox: read marks -----------------------------------------------------------------------

def mark_read(uow: UnitOfWork, user: dict, item_id: str) -> dict:
    user = check_user(user)
    codes = [person_code(user["username"]), user["org_code"]]
    row = uow.session.execute(select(inbox_items).where(inbox_items.c.id == str(item_id),
                                                        inbox_items.c.recipient_code.in_(codes))).mappings().first()
    if row is None:
        raise not_found("id", "ข้อความ", "inbox item", item_id)
    now = utcnow()
    if row["read_at"] is None:
        uow.session.execute(update(inbox_items).where(inbox_items.c.id == row["id"]).values(
            read_at=now, read_by=user["username"]))
        uow.session.execute(update(SM).where(SM.c.id == row["message_id"]).values(read_at=now))
    return {"id": row["id"], "read": True}


# --- LINE linking -----------------------------------------------------------------------------------

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_IN_TEXT = re.compile(r"TT-?([A-HJ-NP-Z2-9]{4})-?([A-HJ-NP-Z2-9]{4})", re.IGNORECASE)


def _hash_code(compact: str) -> str:
    return hashlib.sha256(compact.upper().encode()).hexdigest()


def create_line_link(uow: UnitOfWork, user: dict, target: str, settings: Settings) -> dict:
    """A one-time code; the officer sends it to the LINE official account (or posts it in a group)."""
    user = check_user(user)
    if target not in ("me", "org"):
        raise invalid("target", "target ต้องเป็น me (ตัวท่าน) หรือ org (หน่วยงาน)", "target must be me or org")
    if target == "me":
        code = person_code(user["username"])
        if uow.session.execute(select(recipients.c.code).where(recipients.c.code == code)).first() is None:
            upsert_person(uow, user, None, settings)
    else:
        if user.get("role") not in ("central", "province", "district", "lao", "ops"):
            raise forbidden("target", "บทบาทของท่านเชื่อม LINE ให้หน่วยงานไม่ได้", "your role may not link LINE for the unit")
        code = user["org_code"]
        if uow.session.execute(select(recipients.c.code).where(recipients.c.code == code)).first() is None:
            raise not_found("org_code", "หน่วยงาน", "unit", code)
    compact = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    now = utcnow()
    uow.session.execute(insert(line_link_codes).values(
        code_hash=_hash_code(compact), recipient_code=code, username=user["username"], created_at=now,
        expires_at=now + settings.link_code_ttl))
    shown = f"TT-{compact[:4]}-{compact[4:]}"
    minutes = int(settings.link_code_ttl.total_seconds() // 60)
    return {"code": shown, "target": target, "expires_at": (now + settings.link_code_ttl).isoformat(),
            "instructions_th": f"เพิ่มบัญชี LINE ทางการของ Thongthin เป็นเพื่อน แล้วส่งข้อความ {shown} "
                               f"ภายใน {minutes} นาที" + (" (หรือเชิญบัญชีเข้ากลุ่ม LINE ของหน่วยงานแล้วส่งรหัสในกลุ่ม)"
                                                          if target == "org" else ""),
            "instructions_en": f"Add the Thongthin LINE official account as a friend and send {shown} "
                               f"within {minutes} minutes" + (" (or invite it to your unit's LINE group and post "
                                                             "the code there)" if target == "org" else "")}


def codes_in_text(text: str) -> list[str]:
    return ["".join(match) .upper() for match in _CODE_IN_TEXT.findall(text or "")]


def complete_line_link(uow: UnitOfWork, code: str, line_id: str) -> dict:
    if not isinstance(line_id, str) or not re.fullmatch(r"[UCR][0-9a-f]{32}", line_id):
        raise invalid("line_id", "รหัสผู้ใช้ LINE ไม่ถูกต้อง", "not a LINE user, group or room id")
    found = codes_in_text(code if isinstance(code, str) else "")
    if not found:
        raise invalid("code", "รหัสเชื่อมต่อไม่ถูกต้อง", "the link code is not valid")
    now = utcnow()
    row = uow.session.execute(select(line_link_codes).where(
        line_link_codes.c.code_hash == _hash_code(found[0]))).mappings().first()
    if row is None or row["used_at"] is not None or row["expires_at"] < now:
        raise not_found("code", "รหัสเชื่อมต่อที่ยังใช้ได้", "valid link code", f"TT-{found[0][:4]}-{found[0][4:]}")
    claimed = uow.session.execute(update(line_link_codes).where(
        line_link_codes.c.code_hash == row["code_hash"], line_link_codes.c.used_at.is_(None)).values(
        used_at=now, line_id=line_id)).rowcount
    if not claimed:
        raise conflict("code", "รหัสนี้ถูกใช้ไปแล้ว", "the code was used already")
    recipient = uow.session.execute(select(recipients).where(recipients.c.code == row["recipient_code"])
                                    ).mappings().first()
    ids = json_list(recipient["line_ids"]) if recipient else []
    if line_id not in ids:
        ids.append(line_id)
    uow.session.execute(update(recipients).where(recipients.c.code == row["recipient_code"]).values(
        line_ids=json.dumps(ids), updated_at=now))
    return {"linked": True, "recipient_code": row["recipient_code"], "username": row["username"]}


# --- by hand: chase, reminder ladders ---------------------------------------------------------------

def chase(uow: UnitOfWork, obligation_id: str, user: dict, scope_root: str | None, now: datetime,
          settings: Settings) -> dict:
    """A reminder now, by hand. Never twice per obligation, recipient and Bangkok day."""
    user = check_user(user)
    session = uow.session
    obligation = session.execute(select(tracked_obligations).where(
        tracked_obligations.c.obligation_id == str(obligation_id))).mappings().first()
    if obligation is None:
        raise not_found("obligation_id", "ภาระการรายงาน", "obligation", obligation_id)
    if scope_root is not None and not is_within(session, obligation["unit_code"], scope_root):
        raise forbidden("obligation_id", "หน่วยงานนี้ไม่อยู่ในความรับผิดชอบของท่าน", "that unit is outside your area")
    if obligation["state"] not in ("open", "missed"):
        raise conflict("obligation_id", f"ไม่ต้องติดตาม: ภาระนี้อยู่ในสถานะ {obligation['state']}",
                       f"nothing to chase: the obligation is {obligation['state']}")
    day = now.astimezone(BANGKOK).date().isoformat()
    step = f"chase:{day}"
    by = session.execute(select(recipients.c.name_th).where(recipients.c.code == user["org_code"])).scalar()
    queued = already = 0
    for recipient in audience(session, obligation["unit_code"], "chase"):
        window = settings.window(recipient)
        placed = window.next_allowed(now)
        if schedule(uow, kind="chase", recipient_code=recipient["code"], subject_ref=obligation["obligation_id"],
                     step=step, nominal_at=now, due_at=placed,
                     reason=f"deferred: {window.why_not(now)}" if placed > now else None,
                     payload={"chased_by": by or user.get("display_name") or user["org_code"],
                              "by_username": user["username"]}):
            queued += 1
        else:
            already += 1
    # When it will really go: the unit's own contact point rules (people of the unit may have other
    # quiet hours); the officer is told "at 07:00 on Monday", not "sent", when it only waits.
    rows = session.execute(select(SM.c.recipient_code, SM.c.due_at, SM.c.status, SM.c.sent_at, SM.c.status_reason)
                           .where(SM.c.subject_ref == obligation["obligation_id"], SM.c.step == step)).all()
    main = next((r for r in rows if r.recipient_code == obligation["unit_code"]), rows[0] if rows else None)
    scheduled_for = (main.sent_at or main.due_at) if main is not None else None
    immediate = scheduled_for is not None and scheduled_for <= now + timedelta(minutes=1)
    return {"obligation_id": obligation["obligation_id"], "unit_code": obligation["unit_code"], "step": step,
            "queued": queued, "already_chased_today": already,
            "status": main.status if main is not None else None,
            "scheduled_for": scheduled_for.isoformat() if scheduled_for else None,
            "sends_now": immediate,
            "deferred_because": None if immediate or main is None else _deferral(main.status_reason),
            "recipients": [{"code": r.recipient_code, "status": r.status,
                            "scheduled_for": (r.sent_at or r.due_at).isoformat()} for r in rows]}


def _deferral(reason: str | None) -> str | None:
    return reason.removeprefix("deferred: ") if reason and reason.startswith("deferred: ") else reason


def set_reminder_ladder(uow: UnitOfWork, key: str, steps, updated_by: str | None) -> dict:
    if not isinstance(key, str) or not re.fullmatch(r"default|rule:[\w-]{1,64}|directive:[\w-]{1,64}", key):
        raise invalid("key", "key ต้องเป็น default, rule:<id> หรือ directive:<id>",
                      "key must be default, rule:<id> or directive:<id>")
    cleaned = domain.validate_ladder(steps)
    upsert(uow.session, reminder_ladders, {"key": key}, {"steps": json.dumps(cleaned), "updated_by": updated_by,
                                                          "updated_at": utcnow()})
    return {"key": key, "steps": cleaned}
