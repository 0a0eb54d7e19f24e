"""Composing claimed messages: the facts a batch needs (loaded once, in a few queries), whether
each message is still worth sending (``domain.relevance`` over those facts), and its rendered text.

Used by dispatch while it claims. Escalation digests ("5 of 23 LAOs in your area have not
reported") are composed at send time from the area as it stands then; a message that has become
pointless comes back as a string saying why (dispatch records it as skipped with that reason).
LPA messages (a place in an assessor team, an assessment returned) carry their facts in their
payload and are composed from it.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from services.notifications import domain
from services.notifications.audience import SM, org_children, recipient_view, subtree_codes
from services.notifications.models import recipients, tracked_assignments, tracked_directives, tracked_obligations
from services.notifications.rendering import Rendered, render
from services.notifications.settings import Settings


class Context:
    """Everything the claimed rows need, loaded in a few queries; also what the claim writes
    (``claims``, ``attempts``: in bulk at the end) and counts (``sent_today``, for the cap)."""

    def __init__(self, session, rows: list[dict], now: datetime, settings: Settings):
        self.session, self.now, self.settings = session, now, settings
        codes = {row["recipient_code"] for row in rows}
        refs = {row["subject_ref"] for row in rows}
        self.recipients = {row["code"]: recipient_view(row) for row in session.execute(
            select(recipients).where(recipients.c.code.in_(codes))).mappings()} if codes else {}
        self.obligations = {row["obligation_id"]: dict(row) for row in session.execute(
            select(tracked_obligations).where(tracked_obligations.c.obligation_id.in_(refs))).mappings()}
        self.assignments = {row["assignment_id"]: dict(row) for row in session.execute(
            select(tracked_assignments).where(tracked_assignments.c.assignment_id.in_(refs))).mappings()}
        directive_ids = {o["directive_id"] for o in self.obligations.values() if o["directive_id"]} | \
                        {a["directive_id"] for a in self.assignments.values()}
        self.directives = {row["directive_id"]: dict(row) for row in session.execute(
            select(tracked_directives).where(tracked_directives.c.directive_id.in_(directive_ids))).mappings()
        } if directive_ids else {}
        notices = [row["subject_ref"] for row in rows if row["kind"] == "directive"]
        self.reminded = set(session.execute(
            select(SM.c.recipient_code, tracked_obligations.c.assignment_id)
            .join(tracked_obligations, tracked_obligations.c.obligation_id == SM.c.subject_ref)
            .where(tracked_obligations.c.assignment_id.in_(notices), SM.c.kind == "reminder",
                   SM.c.status.in_(("sent", "sending")))).all()) if notices else set()
        self._children: dict[str, list[str]] | None = None
        self.claims: list[dict] = []
        self.attempts: list[dict] = []
        day_start = domain.local_day_start(now)
        self.sent_today = Counter(dict(session.execute(
            select(SM.c.recipient_code, func.count()).where(
                SM.c.recipient_code.in_(codes), SM.c.kind != domain.DIGEST,
                SM.c.status.in_(("sent", "sending", "uncertain")), SM.c.digest_id.is_(None),
                SM.c.claimed_at >= day_start).group_by(SM.c.recipient_code)).all())) if codes else Counter()

    def extend(self, rows: list[dict]) -> None:
        """Load what the messages inside a digest need."""
        more = Context(self.session, rows, self.now, self.settings)
        for name in ("recipients", "obligations", "assignments", "directives"):
            for key, value in getattr(more, name).items():
                getattr(self, name).setdefault(key, value)
        self.reminded |= more.reminded

    def below(self, root: str) -> set[str]:
        """Org codes below ``root``; the tree is loaded once per batch, when a digest first asks."""
        if self._children is None:
            self._children = org_children(self.session)
        return subtree_codes(self.session, root, self._children)

    def document_number(self, directive_id: str | None) -> str | None:
        directive = self.directives.get(directive_id) if directive_id else None
        return directive["document_number"] if directive else None


def payload_of(row: dict) -> dict:
    return json.loads(row["payload"]) if row.get("payload") else {}


def relevance(ctx: Context, row: dict) -> str | None:
    """None if the message is still worth sending, else why not (``domain.relevance``)."""
    kind, ref = row["kind"], row["subject_ref"]
    if kind in domain.OBLIGATION_CLASSES:
        decision = payload_of(row).get("decision") if kind == "extension" else None
        return domain.relevance(kind, ctx.obligations.get(ref), ctx.now, decision=decision)
    if kind in domain.ASSIGNMENT_CLASSES:
        return domain.relevance(kind, ctx.assignments.get(ref), ctx.now,
                                reminded=(row["recipient_code"], ref) in ctx.reminded)
    return None


def recipient_name(recipient: dict) -> str:
    if recipient.get("language") == "en" and recipient.get("name_en"):
        return recipient["name_en"]
    return recipient["name_th"]


def base_facts(recipient: dict) -> dict:
    """What every template is given about its reader."""
    return {"language": recipient.get("language", "th"), "date_digits": recipient.get("date_digits", "thai"),
            "recipient_name": recipient_name(recipient)}


def compose(ctx: Context, row: dict, recipient: dict) -> Rendered | str:
    """Render a message for its recipient, or say why there is nothing to send."""
    settings, kind = ctx.settings, row["kind"]
    base = base_facts(recipient)
    payload = payload_of(row)
    if kind in domain.OBLIGATION_CLASSES:
        obligation = ctx.obligations[row["subject_ref"]]
        facts = dict(indicator_name_th=obligation["indicator_name_th"], indicator_code=obligation["indicator_code"],
                     indicator_count=obligation["indicator_count"], period=obligation["period"],
                     due_at=obligation["due_at"], document_number=ctx.document_number(obligation["directive_id"]),
                     link=settings.link(f"obligations/{obligation['obligation_id']}"))
        if kind == "reminder":
            return render("reminder", **base, **facts)
        if kind == "chase":
            return render("chase", state=obligation["state"], chased_by=payload.get("chased_by", "-"),
                          **base, **facts)
        if kind == "review":
            return render("review", decision=payload.get("decision", "accepted"),
                          comment=payload.get("comment"), **base, **facts)
        if kind == "extension":
            return render("extension", decision=payload.get("decision", "granted"), comment=payload.get("comment"),
                          decided_by=payload.get("decided_by"), **base, **facts)
        if kind == "extension_request":
            unit = ctx.recipients.get(obligation["unit_code"]) or ctx.session.execute(
                select(recipients).where(recipients.c.code == obligation["unit_code"])).mappings().first()
            return render("extension_request", unit_code=obligation["unit_code"],
                          unit_name=(unit or {}).get("name_th") or obligation["unit_code"],
                          requested_due_at=datetime.fromisoformat(payload["requested_due_at"]),
                          reason=payload.get("reason") or "-",
                          **base, **{**facts, "link": settings.link("#/followup")})
        return render(kind, **base, **facts)
    if kind in domain.ASSIGNMENT_CLASSES:
        assignment = ctx.assignments[row["subject_ref"]]
        directive = ctx.directives.get(assignment["directive_id"]) or {}
        facts = dict(title_th=assignment["title_th"], document_number=assignment["document_number"],
                     acknowledge_due=assignment["acknowledge_due_at"],
                     link=settings.link(f"assignments/{assignment['assignment_id']}"))
        if kind == "directive":
            reporting = payload.get("reporting")
            if reporting:
                reporting = {**reporting, "due_at": datetime.fromisoformat(reporting["due_at"])}
            return render("directive", urgency=directive.get("urgency", "normal"), reporting=reporting,
                          **base, **facts)
        return render(kind, **base, **facts)
    if kind in domain.LPA_CLASSES:
        return _compose_lpa(ctx, row, payload, base)
    if kind == "escalation" and row["step"].startswith("ack_escalation"):
        return _compose_ack_digest(ctx, row, recipient, base)
    if kind == "escalation":
        return _compose_escalation_digest(ctx, row, recipient, base)
    raise ValueError(f"cannot compose a {kind} message")


def _compose_lpa(ctx: Context, row: dict, payload: dict, base: dict) -> Rendered:
    """An LPA message: its facts travel in the payload; the LAOs' and the province's names are
    our registry copy's as it stands now (the code when we do not know the unit)."""
    codes = payload.get("unit_codes") or [payload["unit_code"]]
    province = payload.get("province_code")
    names = dict(ctx.session.execute(select(recipients.c.code, recipients.c.name_th).where(
        recipients.c.code.in_([*codes, province] if province else codes))).all())
    units = [{"code": code, "name_th": names.get(code) or code} for code in codes]
    link = ctx.settings.link(domain.lpa_work_link(payload.get("year_be")))
    if row["kind"] == "lpa_team":
        return render("lpa_team", year_be=payload["year_be"], role=payload.get("role", "member"),
                      visit_on=date.fromisoformat(payload["visit_on"]), units=units,
                      province_name=names.get(province) if province else None,
                      guest=row["recipient_code"].startswith(f"{domain.GUEST}:"), link=link, **base)
    return render("lpa_returned", year_be=payload.get("year_be"), unit=units[0], reason=payload.get("reason") or "-",
                  link=link, **base)


def _compose_escalation_digest(ctx: Context, row: dict, recipient: dict, base: dict) -> Rendered | str:
    session = ctx.session
    below = ctx.below(recipient["org_code"])
    names = aliased(recipients)
    group = session.execute(
        select(tracked_obligations, names.c.name_th.label("unit_name_th"))
        .join(names, names.c.code == tracked_obligations.c.unit_code)
        .where(tracked_obligations.c.group_key == row["subject_ref"],
               tracked_obligations.c.unit_code.in_(below),
               tracked_obligations.c.state != "cancelled")
        .order_by(tracked_obligations.c.unit_code)).mappings().all()
    missing = [r for r in group if r["state"] == "missed"]
    if not missing:
        return "every unit has reported"
    first = missing[0]
    return render("escalation", line=domain.digest_line(len(missing), len(group), base["language"]),
                  indicator_name_th=first["indicator_name_th"], indicator_code=first["indicator_code"],
                  period=first["period"], due_at=first["due_at"],
                  document_number=ctx.document_number(first["directive_id"]),
                  missing_units=[{"code": r["unit_code"], "name_th": r["unit_name_th"]} for r in missing],
                  link=ctx.settings.link(f"reports/directives/{first['directive_id']}/compliance"), **base)


def _compose_ack_digest(ctx: Context, row: dict, recipient: dict, base: dict) -> Rendered | str:
    session = ctx.session
    directive_id = row["subject_ref"].split(":", 1)[1]
    below = ctx.below(recipient["org_code"])
    names = aliased(recipients)
    group = session.execute(
        select(tracked_assignments, names.c.name_th.label("unit_name_th"))
        .join(names, names.c.code == tracked_assignments.c.unit_code)
        .where(tracked_assignments.c.directive_id == directive_id, tracked_assignments.c.unit_code.in_(below),
               tracked_assignments.c.state.notin_(domain.CLOSED_ASSIGNMENT))
        .order_by(tracked_assignments.c.unit_code)).mappings().all()
    missing = [r for r in group if r["state"] in domain.OPEN_ASSIGNMENT and r["acknowledge_due_at"]
               and r["acknowledge_due_at"] <= ctx.now]
    if not missing:
        return "every unit has acknowledged"
    first = missing[0]
    return render("ack_escalation", missing=len(missing), total=len(group), title_th=first["title_th"],
                  document_number=first["document_number"], acknowledge_due=first["acknowledge_due_at"],
                  missing_units=[{"code": r["unit_code"], "name_th": r["unit_name_th"]} for r in missing],
                  link=ctx.settings.link(f"directives/{directive_id}/cascade"), **base)
