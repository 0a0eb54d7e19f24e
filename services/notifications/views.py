"""Queries (the read side): a person's preferences and inbox, the reminder ladders, the delivery
ledger for ops and message counts. Each takes a read session and changes nothing.
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select

from services.notifications import domain
from services.notifications.audience import SM, check_user, person_code, recipient_view
from services.notifications.models import deliveries, inbox_items, recipients, reminder_ladders
from services.notifications.settings import Settings
from shared.errors import invalid
from shared.thai import BANGKOK


# --- preferences -------------------------------------------------------------------------------------

def preferences_of(row: dict | None) -> domain.Preferences:
    if row is None:
        return domain.Preferences()
    view = recipient_view(row)
    return domain.Preferences(
        language=view["language"], date_digits=view["date_digits"], email=view["email"], phone=view["phone"],
        fallback_order=tuple(view["fallback_order"]) if view["fallback_order"] else None,
        quiet_hours=view["quiet_hours"], opt_out=tuple(view["opt_out"]),
        digest=row["digest"])


def preferences_view(row: dict | None, user: dict, settings: Settings) -> dict:
    prefs = preferences_of(row)
    view = recipient_view(row) if row else {"kind": "person", "line_ids": [], "fallback_order": None,
                                            "digest": True}
    quiet = domain.parse_quiet_hours(prefs.quiet_hours) if prefs.quiet_hours is not None else settings.quiet_hours
    return {
        "username": user["username"], "org_code": user["org_code"], "language": prefs.language,
        "date_digits": prefs.date_digits,
        "channels": {"email": prefs.email, "sms": prefs.phone, "inapp": True,
                     "line": {"linked": bool(view["line_ids"]), "count": len(view["line_ids"])}},
        "fallback_order": domain.fallback_channels(prefs.fallback_order, "person"),
        "quiet_hours": {"start": f"{quiet.start:%H:%M}", "end": f"{quiet.end:%H:%M}"} if quiet else None,
        "quiet_hours_is_default": prefs.quiet_hours is None,
        "opt_out": list(prefs.opt_out), "digest": view["digest"] if prefs.digest is None else prefs.digest,
        "classes": {"critical": list(domain.CRITICAL_CLASSES), "optional": list(domain.OPTIONAL_CLASSES)},
    }


def get_preferences(session, user: dict, settings: Settings) -> dict:
    user = check_user(user)
    row = session.execute(select(recipients).where(recipients.c.code == person_code(user["username"]))
                          ).mappings().first()
    return preferences_view(row, user, settings)


# --- the in-app inbox ----------------------------------------------------------------------------------

def list_inbox(session, user: dict, *, unread_only: bool = False, limit: int = 50, offset: int = 0) -> dict:
    user = check_user(user)
    codes = [person_code(user["username"]), user["org_code"]]
    where = [inbox_items.c.recipient_code.in_(codes)]
    if unread_only:
        where.append(inbox_items.c.read_at.is_(None))
    rows = session.execute(select(inbox_items).where(*where).order_by(inbox_items.c.created_at.desc(),
                                                                       inbox_items.c.id)
                           .limit(min(max(limit, 1), 200)).offset(max(offset, 0))).mappings().all()
    unread = session.execute(select(func.count()).select_from(inbox_items).where(
        inbox_items.c.recipient_code.in_(codes), inbox_items.c.read_at.is_(None))).scalar_one()
    return {"unread": unread, "items": [{
        "id": r["id"], "kind": r["kind"], "subject": r["subject"], "body": r["body"], "link": r["link"],
        "created_at": r["created_at"].isoformat(), "read": r["read_at"] is not None,
        "read_at": r["read_at"].isoformat() if r["read_at"] else None} for r in rows]}


# --- reminder ladders ------------------------------------------------------------------------------

def list_reminder_ladders(session, settings: Settings) -> dict:
    rows = session.execute(select(reminder_ladders).order_by(reminder_ladders.c.key)).mappings().all()
    return {"default_from_config": list(settings.reminder_ladder),
            "items": [{"key": r["key"], "steps": json.loads(r["steps"]), "updated_by": r["updated_by"],
                       "updated_at": r["updated_at"].isoformat()} for r in rows]}


# --- the delivery ledger ----------------------------------------------------------------------------

MESSAGE_STATUSES = ("scheduled", "sending", "sent", "failed", "uncertain", "cancelled", "skipped", "digested")


def _parse_when(value, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise invalid(name, f"{name} ต้องเป็นวันเวลา ISO 8601", f"{name} must be an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=BANGKOK)


def list_deliveries(session, filters: dict) -> dict:
    """The ledger for ops: messages with their attempts, newest first."""
    if not isinstance(filters, dict):
        raise invalid("filters", "ตัวกรองไม่ถูกต้อง", "filters must be an object")
    where = []
    status = filters.get("status")
    if status:
        if status not in MESSAGE_STATUSES:
            raise invalid("status", "สถานะไม่ถูกต้อง", f"status must be one of {', '.join(MESSAGE_STATUSES)}")
        where.append(SM.c.status == status)
    channel = filters.get("channel")
    if channel:
        if channel not in domain.CHANNELS:
            raise invalid("channel", "ช่องทางไม่ถูกต้อง", f"channel must be one of {', '.join(domain.CHANNELS)}")
        where.append(SM.c.channel == channel)
    kind = filters.get("kind")
    if kind:
        if kind not in (*domain.MESSAGE_CLASSES, domain.DIGEST):
            raise invalid("kind", "ประเภทข้อความไม่ถูกต้อง", "unknown message kind")
        where.append(SM.c.kind == kind)
    for name, column in (("recipient_code", SM.c.recipient_code), ("subject_ref", SM.c.subject_ref)):
        if filters.get(name):
            where.append(column == str(filters[name]))
    if filters.get("late") is not None:
        where.append(SM.c.late.is_(bool(filters["late"])))
    since, until = _parse_when(filters.get("since"), "since"), _parse_when(filters.get("until"), "until")
    if since:
        where.append(SM.c.created_at >= since)
    if until:
        where.append(SM.c.created_at < until)
    limit = filters.get("limit", 100)
    offset = filters.get("offset", 0)
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise invalid("limit", "limit ต้องอยู่ระหว่าง 1 ถึง 1000", "limit must be between 1 and 1000")
    if not isinstance(offset, int) or offset < 0:
        raise invalid("offset", "offset ต้องไม่ติดลบ", "offset must not be negative")
    rows = session.execute(select(SM).where(*where).order_by(SM.c.created_at.desc(), SM.c.id)
                           .limit(limit).offset(offset)).mappings().all()
    attempts: dict[str, list] = {}
    if rows:
        for a in session.execute(select(deliveries).where(deliveries.c.message_id.in_([r["id"] for r in rows]))
                                 .order_by(deliveries.c.attempt)).mappings():
            attempts.setdefault(a["message_id"], []).append({
                "attempt": a["attempt"], "channel": a["channel"], "address": a["address"], "status": a["status"],
                "error": a["error"], "provider_key": a["provider_key"], "provider_id": a["provider_id"],
                "started_at": a["started_at"].isoformat(),
                "finished_at": a["finished_at"].isoformat() if a["finished_at"] else None})
    total = session.execute(select(func.count()).select_from(SM).where(*where)).scalar_one()
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {"total": total, "items": [{
        "id": r["id"], "kind": r["kind"], "recipient_code": r["recipient_code"], "subject_ref": r["subject_ref"],
        "step": r["step"], "status": r["status"], "reason": r["status_reason"], "late": bool(r["late"]),
        "channel": r["channel"], "nominal_at": iso(r["nominal_at"]), "due_at": iso(r["due_at"]),
        "sent_at": iso(r["sent_at"]), "read_at": iso(r["read_at"]), "digest_id": r["digest_id"],
        "attempts": attempts.get(r["id"], [])} for r in rows]}


def message_counts(session) -> dict:
    rows = session.execute(select(SM.c.kind, SM.c.status, func.count())
                           .group_by(SM.c.kind, SM.c.status)).all()
    return {f"{kind}:{status}": count for kind, status, count in rows}
