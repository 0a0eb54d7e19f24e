"""Who hears about what, and the one way a message row is written: shared by planning (messages
from events), people (a chase by hand) and dispatch (composing digests for an area).

* ``recipient_view``: a recipients row with its JSON columns read and its defaults resolved;
* ``audience``: the org contact point of a unit and the people of that unit who want a class;
* ``ancestor_at`` / ``is_within`` / ``subtree_codes``: our copy of the registry walked by
  ``shared.orgtree`` (the one implementation of above and below);
* ``schedule`` / ``message_row``: a message is keyed by (recipient, subject, step) and written
  once; a row ever attempted is never scheduled again.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import and_, bindparam, or_, select, update

from services.notifications import domain
from services.notifications.models import recipients, scheduled_messages
from shared import orgtree
from shared.contracts import utcnow
from shared.db import UnitOfWork, insert_new, prepared
from shared.errors import invalid

SM = scheduled_messages
NEVER_ATTEMPTED = ("cancelled", "skipped")


def json_list(text: str | None) -> list:
    return json.loads(text) if text else []


def recipient_view(row) -> dict:
    """A recipients row with its JSON columns read and defaults resolved."""
    data = dict(row)
    data["line_ids"] = json_list(data.get("line_ids"))
    data["fallback_order"] = json_list(data.get("fallback_order")) or None
    data["opt_out"] = json_list(data.get("opt_out"))
    if data.get("digest") is None:
        data["digest"] = data["kind"] == "person"
    return data


def person_code(username: str) -> str:
    return f"user:{username}"


def head_code(unit_code: str) -> str:
    return f"head:{unit_code}"


def check_user(user) -> dict:
    """The gateway's user as the RPCs receive it: a username and an org code at least."""
    if not isinstance(user, dict):
        raise invalid("user", "ข้อมูลผู้ใช้ไม่ถูกต้อง", "user must be an object")
    for name in ("username", "org_code"):
        if not isinstance(user.get(name), str) or not user[name].strip() or len(user[name]) > 64:
            raise invalid(f"user.{name}", f"ต้องระบุ {name}", f"user.{name} is required")
    return user


def audience(session, unit_code: str, message_class: str) -> list[dict]:
    """The org contact point of a unit and the people of that unit who want this class."""
    statement = prepared(session, "audience", lambda ins: select(recipients).where(or_(
        recipients.c.code == bindparam("unit"),
        and_(recipients.c.org_code == bindparam("unit"), recipients.c.kind == "person"))))
    rows = session.execute(statement, {"unit": unit_code}).mappings().all()
    found = [recipient_view(row) for row in rows]
    if not any(r["code"] == unit_code for r in found):
        # not (yet) in our copy of the registry: the row is kept; sending re-checks
        found.append({"code": unit_code, "kind": "org", "quiet_hours": None, "opt_out": []})
    closes_on = next((r.get("valid_to") for r in found if r["code"] == unit_code), None)
    for r in found:  # the day the unit closes holds for its people too
        r["closes_on"] = closes_on
    critical = domain.is_critical(message_class)
    return [r for r in found if critical or message_class not in r["opt_out"]]


def escalation_target_of_unit(session, unit_code: str) -> str:
    """The unit's head if the registry names one (with an address), else the unit's contact point."""
    head = session.execute(select(recipients.c.email, recipients.c.phone, recipients.c.line_ids).where(
        recipients.c.code == head_code(unit_code))).first()
    return head_code(unit_code) if head is not None and any(head) else unit_code


# --- the org tree, as our copy of the registry knows it (walked by shared.orgtree) ---------------------

class _Column:
    """A read-only mapping code -> one column of that unit's recipients row, read when asked: a
    walk up the tree touches a handful of units, loading the registry for it would not pay."""

    def __init__(self, session, column):
        self.session, self.column, self.known = session, column, {}

    def get(self, code, default=None):
        if code not in self.known:
            self.known[code] = self.session.execute(select(self.column).where(recipients.c.code == code)).first()
        row = self.known[code]
        return default if row is None else row[0]


def ancestor_at(session, unit_code: str, level: str) -> str | None:
    """The unit's nearest ancestor of that level (a district or provincial office), if any."""
    return orgtree.ancestor_at(unit_code, _Column(session, recipients.c.parent_code),
                               _Column(session, recipients.c.level), level)


def is_within(session, unit_code: str, root: str) -> bool:
    """``unit_code`` is ``root`` or below it."""
    return orgtree.is_within(unit_code, root, _Column(session, recipients.c.parent_code))


def org_children(session) -> dict[str, list[str]]:
    """Parent code -> the codes of its units (the whole registry copy: load it once per batch)."""
    return orgtree.children_of(dict(session.execute(
        select(recipients.c.code, recipients.c.parent_code).where(recipients.c.kind == "org")).all()))


def subtree_codes(session, root: str, children: dict[str, list[str]] | None = None) -> set[str]:
    """Org codes below ``root`` (not including it)."""
    return orgtree.subtree(root, children=org_children(session) if children is None else children) - {root}


# --- writing a message row -----------------------------------------------------------------------------

def message_row(uow: UnitOfWork, *, kind: str, recipient_code: str, subject_ref: str, step: str,
                nominal_at: datetime, due_at: datetime, status: str = "scheduled", late: bool = False,
                reason: str | None = None, payload: dict | None = None) -> dict:
    return dict(
        id=str(uuid.uuid4()), dedupe_key=f"{recipient_code}|{subject_ref}|{step}", kind=kind,
        recipient_code=recipient_code, subject_ref=subject_ref, step=step, nominal_at=nominal_at, due_at=due_at,
        status=status, status_reason=reason, late=late, attempts=0, channel_index=0, channel_attempts=0,
        payload=json.dumps(payload, ensure_ascii=False, default=str) if payload else None,
        digest_id=None, channel=None, address=None, provider_key=None, claimed_at=None, sent_at=None,
        read_at=None, correlation_id=uow.correlation_id, created_at=utcnow())


def schedule(uow: UnitOfWork, *, kind: str, recipient_code: str, subject_ref: str, step: str,
             nominal_at: datetime, due_at: datetime, status: str = "scheduled", late: bool = False,
             reason: str | None = None, payload: dict | None = None, revive: bool = False) -> bool:
    """Insert a message unless its (recipient, subject, step) exists. True if (re)scheduled.

    ``revive``: a row that was cancelled or skipped before any attempt may be scheduled again
    (e.g. an extension reopens an obligation); a row that was ever attempted never is."""
    row = message_row(uow, kind=kind, recipient_code=recipient_code, subject_ref=subject_ref, step=step,
                      nominal_at=nominal_at, due_at=due_at, status=status, late=late, reason=reason,
                      payload=payload)
    inserted = insert_new(uow.session, SM, "dedupe_key", row)
    if inserted or not (revive and status == "scheduled"):
        return inserted
    return uow.session.execute(update(SM).where(
        SM.c.dedupe_key == row["dedupe_key"], SM.c.attempts == 0,
        SM.c.status.in_(NEVER_ATTEMPTED + ("scheduled",))).values(
        status="scheduled", status_reason=reason, nominal_at=nominal_at, due_at=due_at, late=late,
        payload=row["payload"])).rowcount == 1
