"""Assessments' copies of the facts plans announces, and what follows from them: versions of the org
units (the registry over time, issue #16), after which obligations are put right by the registry as
it now stands (``follow_registry``); indicators (from published plans) and targets.

Event handlers, ``(event, uow, envelope)``; those that open obligations take the ``Settings`` that
``bootstrap`` binds. The registry rules themselves (who owes a period, successions) are pure, in
``registry.py``.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import or_, select

from services.assessments.domain import DEFAULTS, Settings
from services.assessments.domain import ObligationState as O
from services.assessments.models import obligations, org_units, rules, targets
from services.assessments.obligations import (cancel, closing_reason_of, free_source_key, json_text, live_keys,
                                              load_registry, open_obligations, reconcile_rule, upsert_indicator)
from shared.contracts import Envelope, utcnow
from shared.contracts.events import OrgUnitChanged, PlanPublished, TargetSet
from shared.db import UnitOfWork, prepared, upsert


def _version_upsert(ins):
    """A version of a unit, unless a higher revision of the same (code, valid_from) is stored."""
    statement = ins(org_units)
    names = [c.name for c in org_units.columns if c.name not in ("code", "valid_from")]
    return statement.on_conflict_do_update(index_elements=["code", "valid_from"],
                                           set_={name: statement.excluded[name] for name in names},
                                           where=org_units.c.revision <= statement.excluded.revision)


def on_org_unit_changed(event: OrgUnitChanged, uow: UnitOfWork, envelope: Envelope, *,
                        settings: Settings = DEFAULTS, now: datetime | None = None) -> None:
    """Keep the version (the highest revision of its (code, valid_from) stands, whatever the order
    of delivery), then put obligations right by the registry as it now stands: the unit's and its
    successors' and predecessors' (see ``follow_registry``)."""
    uow.session.execute(prepared(uow.session, "org_units:version", _version_upsert), {
        "code": event.code, "valid_from": event.valid_from, "level": event.level, "lao_type": event.lao_type,
        "parent_code": event.parent_code, "valid_to": event.valid_to, "revision": event.revision,
        "change_kind": event.change_kind, "predecessor_codes": json_text(sorted(event.predecessor_codes)),
        "successor_codes": json_text(sorted(event.successor_codes))})
    follow_registry(uow, event.code, settings=settings, now=now)



def follow_registry(uow: UnitOfWork, code: str, *, settings: Settings = DEFAULTS, now: datetime | None = None) -> None:
    """After a version of ``code`` arrived: every rule naming the unit, a unit it took over from or
    one that took over from it is put right for those units over the periods it has opened
    (``reconcile_rule``); the unit's other obligations (one-off reports of directives) are
    cancelled for periods it did not exist in, and opened again if a version now covers them."""
    session = uow.session
    registry = load_registry(session, [code])
    family = registry.component([code])
    conditions = [rules.c.unit_codes.like(f'%{json_text(member)}%') for member in sorted(family)]
    rule_ids = session.execute(select(rules.c.id).where(or_(*conditions))).scalars().all() if conditions else []
    for rule_id in sorted(rule_ids):
        reconcile_rule(uow, rule_id, family, registry=registry, settings=settings, now=now)
    if not registry.knows(code):
        return
    # obligations from elsewhere than a rule: cancelled while the unit does not exist in their period
    live = session.execute(select(obligations.c.id, obligations.c.period_start, obligations.c.period_end).where(
        obligations.c.unit_code == code, obligations.c.rule_id.is_(None),
        obligations.c.state.in_((O.OPEN, O.MISSED)), obligations.c.period_start.is_not(None))).all()
    by_reason: dict[str, list[str]] = defaultdict(list)
    for obligation_id, start, end in live:
        if not registry.exists_in(code, start, end):
            by_reason[closing_reason_of(registry, code, start)].append(obligation_id)
    for reason, ids in by_reason.items():
        cancel(uow, ids, code, reason, cause="unit_closed")
    # ... and opened again (as a new obligation) when a version now says the unit existed then
    cancelled = session.execute(select(obligations).where(
        obligations.c.unit_code == code, obligations.c.rule_id.is_(None), obligations.c.state == O.CANCELLED,
        obligations.c.cancel_cause == "unit_closed")).mappings().all()
    back = [row for row in cancelled if registry.exists_in(code, row["period_start"], row["period_end"])]
    if back:
        owed = live_keys(session, [code], {row["indicator_code"] for row in back}, {row["period"] for row in back})
        rows = []
        for row in back:
            key = (code, row["indicator_code"], row["period"])
            if key not in owed:
                owed.add(key)
                rows.append({**dict(row), "id": str(uuid.uuid4()), "state": O.OPEN, "cancel_reason": None,
                             "cancel_cause": None, "missed_at": None, "created_at": utcnow(),
                             "source_key": free_source_key(session, code, row["source_key"], row["period"])})
        open_obligations(uow, rows)



def on_plan_published(event: PlanPublished, uow: UnitOfWork, envelope: Envelope) -> None:
    for spec in event.indicators:
        upsert_indicator(uow.session, spec)


def on_target_set(event: TargetSet, uow: UnitOfWork, envelope: Envelope) -> None:
    scope = event.unit_code or event.unit_group or "*"
    upsert(uow.session, targets, {"indicator_code": event.indicator_code, "fiscal_year_be": event.fiscal_year_be,
                                   "scope": scope},
            {"value": event.value, "plan_id": event.plan_id, "provenance": event.provenance})

