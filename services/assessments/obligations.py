"""Obligations: what a unit owes, opened from a directive's one-off report (``AssignmentCreated``)
and from reporting rules (``ReportingRulePublished``, rolled forward to the horizon by ``sweeps``),
put right when the registry changes (``reconcile_rule``, called by ``copies.follow_registry``), and
the tracking of acknowledgement deadlines.

Invariants: one live obligation per (unit, indicator, period), whatever asks for it (the first one
stands); every opened or cancelled obligation is announced in the same unit of work. Set-based: a
fan-out of assignments or a national rule costs a handful of statements, not a few per unit.
"""
from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import insert, or_, select, update

from services.assessments import schedule
from services.assessments.domain import DEFAULTS, Settings, closes_at
from services.assessments.domain import ObligationState as O
from services.assessments.models import indicators, obligations, org_units, rules, tracked_assignments
from services.assessments.registry import Registry, closing_reason
from shared.contracts import Envelope, utcnow
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, AssignmentStateChanged,
                                     ObligationCancelled, ObligationOpened, ReportingRulePublished)
from shared.db import UnitOfWork, chunks, prepared, upsert
from shared.errors import not_found
from shared.messaging.inbox import handles_many
from shared.thai import fiscal_year_of_period


def json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def obligation_row(session, obligation_id: str, field: str = "obligation_id") -> dict:
    row = session.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().first()
    if row is None:
        raise not_found(field, "ภาระการรายงาน", "obligation", obligation_id)
    return dict(row)


def load_registry(session, codes) -> Registry:
    """The versions of ``codes`` and of every unit linked to them by a succession, transitively
    (the links are few: only versions that name a predecessor or a successor)."""
    registry = Registry()
    registry.add(session.execute(select(org_units).where(or_(
        org_units.c.successor_codes != "[]", org_units.c.predecessor_codes != "[]"))).mappings().all())
    wanted = registry.component(codes)
    for chunk in chunks(sorted(wanted)):  # every version of them (the links gave only some)
        registry.add(session.execute(select(org_units).where(org_units.c.code.in_(chunk))).mappings().all())
    return registry


def closing_reason_of(registry: Registry, code: str, period_start: date) -> str:
    closed = registry.closed_for(code, period_start)
    if closed is None:
        return (f"หน่วยงาน {code} ไม่มีอยู่ในงวดนี้ / unit {code} did not exist in the period "
                f"starting {period_start.isoformat()}")
    last = registry.versions[code][-1]
    return closing_reason(code, closed, registry.successors(code), last["change_kind"])



def live_keys(session, units, indicator_codes, periods) -> set[tuple[str, str, str]]:
    """(unit, indicator, period) of the obligations not cancelled among those given."""
    found: set[tuple[str, str, str]] = set()
    for keys in chunks(sorted(units)):
        found |= {tuple(row) for row in session.execute(
            select(obligations.c.unit_code, obligations.c.indicator_code, obligations.c.period).where(
                obligations.c.unit_code.in_(keys), obligations.c.indicator_code.in_(sorted(indicator_codes)),
                obligations.c.period.in_(sorted(periods)), obligations.c.state != O.CANCELLED))}
    return found


def free_source_key(session, unit_code: str, source_key: str, period: str) -> str:
    """The source key of an obligation opened again for a unit and period that has a cancelled one
    of the same source (one row per unit, source and period: the new one says it is another)."""
    taken = set(session.execute(select(obligations.c.source_key).where(
        obligations.c.unit_code == unit_code, obligations.c.period == period,
        obligations.c.source_key.like(f"{source_key}%"))).scalars())
    if source_key not in taken:
        return source_key
    base = source_key.split("#reopened-")[0]
    n = 2
    while f"{base}#reopened-{n}" in taken:
        n += 1
    return f"{base}#reopened-{n}"


def upsert_indicator(session, spec) -> None:
    upsert(session, indicators, {"code": spec.code}, {
        "name_th": spec.name_th, "unit_of_measure": spec.unit_of_measure, "value_type": spec.value_type,
        "direction": spec.direction, "minimum": spec.minimum, "maximum": spec.maximum})



def cancel(uow: UnitOfWork, obligation_ids: list[str], unit_code: str | None, reason: str, *,
            cause: str = "rule_changed") -> None:
    if not obligation_ids:
        return
    rows = uow.session.execute(select(obligations.c.id, obligations.c.unit_code)
                               .where(obligations.c.id.in_(obligation_ids))).all()
    uow.session.execute(update(obligations).where(obligations.c.id.in_(obligation_ids)).values(
        state=O.CANCELLED, cancel_reason=reason[:1000], cancel_cause=cause))
    for obligation_id, code in rows:
        uow.add_event(ObligationCancelled(obligation_id=obligation_id, unit_code=code, reason=reason))


def open_obligations(uow: UnitOfWork, rows: list[dict], causations: list[str | None] | None = None) -> None:
    """Insert obligations and announce each one (caused by ``causations[i]`` when given)."""
    if not rows:
        return
    uow.session.execute(insert(obligations), rows)
    for row, causation_id in zip(rows, causations or [None] * len(rows)):
        uow.add_event(ObligationOpened(
            obligation_id=row["id"], unit_code=row["unit_code"], directive_id=row["directive_id"],
            assignment_id=row["assignment_id"], indicator_code=row["indicator_code"],
            indicator_name_th=row["indicator_name_th"], indicator_codes=json.loads(row["indicator_codes"]),
            rule_id=row["rule_id"], period=row["period"], opens_at=row["opens_at"], due_at=row["due_at"],
            closes_at=row["closes_at"]), correlation_id=row["correlation_id"], causation_id=causation_id)


def _assignment_source_key(event: AssignmentCreated) -> str:
    return f"assignment:{event.assignment_id}:{event.reporting.indicator_code}"


def _requirement_codes(requirement) -> list[str]:
    """Every indicator of a one-off report, the naming one first."""
    codes = [requirement.indicator_code]
    return codes + [spec.code for spec in requirement.indicators if spec.code not in codes]


def _assignment_obligation(event: AssignmentCreated, envelope: Envelope, settings: Settings) -> dict:
    requirement = event.reporting
    period = schedule.canonical_period(requirement.period)
    period_start, period_end = schedule.period_bounds(period)
    return {
        "id": str(uuid.uuid4()), "unit_code": event.unit_code, "source_key": _assignment_source_key(event),
        "rule_id": None, "directive_id": event.directive_id, "assignment_id": event.assignment_id,
        "indicator_code": requirement.indicator_code, "indicator_name_th": requirement.indicator_name_th,
        "indicator_codes": json_text(_requirement_codes(requirement)), "period": period,
        "period_start": period_start, "period_end": period_end, "opens_at": requirement.opens_at,
        "due_at": requirement.due_at,
        "extended_due_at": None, "closes_at": closes_at(requirement.due_at, settings), "state": O.OPEN,
        "missed_at": None, "correlation_id": envelope.correlation_id, "created_at": utcnow()}


def _tracked_assignment(event: AssignmentCreated, envelope: Envelope) -> dict:
    return {"assignment_id": event.assignment_id, "directive_id": event.directive_id, "unit_code": event.unit_code,
            "acknowledge_due_at": event.acknowledge_due_at, "state": "waiting",
            "correlation_id": envelope.correlation_id}


_TRACKED_COLUMNS = ("directive_id", "unit_code", "acknowledge_due_at", "state", "correlation_id")


def _tracked_assignments_upsert(ins):
    statement = ins(tracked_assignments)
    return statement.on_conflict_do_update(index_elements=["assignment_id"],
                                           set_={name: statement.excluded[name] for name in _TRACKED_COLUMNS})


def _new_indicator(event: AssignmentCreated) -> dict:
    requirement = event.reporting
    return {"code": requirement.indicator_code, "name_th": requirement.indicator_name_th,
            "unit_of_measure": requirement.unit_of_measure, "value_type": "number", "direction": "increase"}


def on_assignments_created(uow: UnitOfWork, items: list[tuple[Envelope, AssignmentCreated]], *,
                           settings: Settings = DEFAULTS) -> None:
    """A run of new assignments (a directive's fan-out reaches this consumer in batches): the rows
    and events of on_assignment_created for each, in order, with a few statements for the run."""
    session = uow.session
    tracked: dict[str, dict] = {}  # the last announcement of an assignment stands, as upserts in turn
    for envelope, event in items:
        if event.acknowledge_due_at:
            tracked[event.assignment_id] = _tracked_assignment(event, envelope)
    if tracked:
        session.execute(prepared(session, "tracked_assignments:upsert", _tracked_assignments_upsert),
                        list(tracked.values()))
    reporting = [(envelope, event) for envelope, event in items if event.reporting is not None]
    if not reporting:
        return
    # One obligation per unit, indicator and period, whatever asks for it (this assignment again,
    # a forwarded copy, another directive or a rule): the first one stands.
    units = sorted({event.unit_code for _, event in reporting})
    existing = {tuple(row) for keys in chunks(units) for row in session.execute(
        select(obligations.c.unit_code, obligations.c.indicator_code, obligations.c.period).where(
            obligations.c.unit_code.in_(keys), obligations.c.state != O.CANCELLED,
            obligations.c.indicator_code.in_({event.reporting.indicator_code for _, event in reporting})))}
    known = set(session.execute(select(indicators.c.code).where(indicators.c.code.in_(
        {event.reporting.indicator_code for _, event in reporting}))).scalars())
    rows, causations, new_indicators, specs = [], [], [], {}
    for envelope, event in reporting:
        row = _assignment_obligation(event, envelope, settings)
        key = (row["unit_code"], row["indicator_code"], row["period"])
        if key in existing:
            continue
        existing.add(key)
        rows.append(row)
        causations.append(envelope.message_id)
        for spec in event.reporting.indicators:  # declared: type, range, direction
            specs[spec.code] = spec
        if event.reporting.indicator_code not in known and event.reporting.indicator_code not in specs:
            known.add(event.reporting.indicator_code)
            new_indicators.append(_new_indicator(event))
    for spec in specs.values():
        upsert_indicator(session, spec)
    open_obligations(uow, rows, causations)
    if new_indicators:
        session.execute(insert(indicators), new_indicators)


@handles_many(on_assignments_created)
def on_assignment_created(event: AssignmentCreated, uow: UnitOfWork, envelope: Envelope, *,
                          settings: Settings = DEFAULTS) -> None:
    """Track the acknowledgement deadline; a one-off reporting requirement becomes an obligation."""
    on_assignments_created(uow, [(envelope, event)], settings=settings)


def _acknowledged(uow: UnitOfWork, assignment_id: str, state: str) -> None:
    uow.session.execute(update(tracked_assignments).where(
        tracked_assignments.c.assignment_id == assignment_id,
        tracked_assignments.c.state.in_(("waiting", "overdue"))).values(state=state))


def on_assignment_acknowledged(event: AssignmentAcknowledged, uow: UnitOfWork, envelope: Envelope) -> None:
    _acknowledged(uow, event.assignment_id, "acknowledged")


def on_assignment_state_changed(event: AssignmentStateChanged, uow: UnitOfWork, envelope: Envelope) -> None:
    if event.to_state in ("not_applicable", "cancelled", "closed", "acknowledged", "forwarded"):
        _acknowledged(uow, event.assignment_id, "closed" if event.to_state != "acknowledged" else "acknowledged")



def on_reporting_rule_published(event: ReportingRulePublished, uow: UnitOfWork, envelope: Envelope,
                                *, settings: Settings = DEFAULTS, now: datetime | None = None) -> None:
    """Store (or replace by a newer version) a rule and open its obligations up to the horizon.
    A new version cancels the rule's future obligations that nobody has reported on yet; past
    ones are left as they are."""
    session, now = uow.session, now or utcnow()
    stored = session.execute(select(rules.c.version).where(rules.c.id == event.rule_id)).first()
    if stored and stored[0] >= event.version:
        return
    for spec in event.indicators:
        upsert_indicator(session, spec)
    values = {
        "version": event.version, "directive_id": event.directive_id,
        "indicator_codes": json_text([spec.code for spec in event.indicators]), "unit_codes": json_text(event.unit_codes),
        "rrule": event.rrule, "dtstart": event.dtstart, "until": event.until, "due_at": event.due_at,
        "due_time_local": event.due_time_local, "window_opens_before": event.window_opens_before,
        "holiday_rule": event.holiday_rule, "fiscal_year_be": event.fiscal_year_be, "published_at": now,
        "generated_until": None, "correlation_id": envelope.correlation_id}
    if stored:
        future = session.execute(select(obligations.c.id).where(
            obligations.c.rule_id == event.rule_id, obligations.c.state == O.OPEN,
            obligations.c.due_at > now)).scalars().all()
        cancel(uow, future, None, f"reporting rule changed (version {event.version})")
        session.execute(update(rules).where(rules.c.id == event.rule_id).values(**values))
    else:
        session.execute(insert(rules).values(id=event.rule_id, **values))
    generate_obligations(uow, event.rule_id, settings=settings, now=now)


def _rule_slots(rule, start: datetime, end: datetime) -> list:
    slots = schedule.expand_rule(
        rule["rrule"], dtstart=rule["dtstart"] or start, until=rule["until"], due_at=rule["due_at"],
        due_time_local=rule["due_time_local"], window_opens_before=rule["window_opens_before"],
        holiday_rule=rule["holiday_rule"], between=(start, end) if rule["rrule"] else None)
    if rule["fiscal_year_be"] is not None:  # a rule for one fiscal year: the periods of that year only
        slots = [slot for slot in slots if fiscal_year_of_period(slot.period) == rule["fiscal_year_be"]]
    return slots


def _rule_registry(session, codes: list[str]) -> Registry:
    if len(codes) < 2000:
        return load_registry(session, codes)
    registry = Registry.of(session.execute(select(org_units)).mappings().all())
    return registry


def _rule_obligation(rule, rule_id: str, first, code: str, slot, source_key: str, created: datetime,
                     settings: Settings) -> dict:
    return {
        "id": str(uuid.uuid4()), "unit_code": code, "source_key": source_key, "rule_id": rule_id,
        "directive_id": rule["directive_id"], "assignment_id": None,
        "indicator_code": first["code"], "indicator_name_th": first["name_th"],
        "indicator_codes": rule["indicator_codes"], "period": slot.period,
        "period_start": slot.period_start, "period_end": slot.period_end, "opens_at": slot.opens_at,
        "due_at": slot.due_at, "extended_due_at": None, "closes_at": closes_at(slot.due_at, settings),
        "state": O.OPEN, "missed_at": None, "correlation_id": rule["correlation_id"], "created_at": created}


def generate_obligations(uow: UnitOfWork, rule_id: str, *, settings: Settings = DEFAULTS,
                         now: datetime | None = None) -> int:
    """Open the obligations of one rule whose due time falls before now + horizon: for each period,
    the units the rule names that existed in it and the units that took over from those that had
    closed before it began (``registry.Registry.owing``)."""
    session, now = uow.session, now or utcnow()
    rule = session.execute(select(rules).where(rules.c.id == rule_id)).mappings().one()
    start = rule["generated_until"] or max(now, rule["dtstart"] or now)
    end = now + settings.horizon
    if rule["until"]:
        end = min(end, rule["until"])
    if start >= end:
        return 0
    slots = _rule_slots(rule, start, end)
    if rule["generated_until"] is not None:
        slots = [slot for slot in slots if slot.nominal_due_at > rule["generated_until"]]
    codes = json.loads(rule["unit_codes"])
    registry = _rule_registry(session, codes)
    indicator_codes = json.loads(rule["indicator_codes"])
    first = session.execute(select(indicators).where(indicators.c.code == indicator_codes[0])).mappings().one()
    source_key = f"rule:{rule_id}"
    existing = {(unit, period) for unit, period in session.execute(
        select(obligations.c.unit_code, obligations.c.period).where(obligations.c.rule_id == rule_id)).all()}
    # The same unit, indicator and period already owed through another source (a directive's one-off
    # report, another rule): one obligation, never two.
    slot_periods = sorted({slot.period for slot in slots})
    existing |= {(unit, period) for unit, period in session.execute(
        select(obligations.c.unit_code, obligations.c.period).where(
            obligations.c.indicator_code == first["code"], obligations.c.period.in_(slot_periods),
            obligations.c.state != O.CANCELLED))} if slot_periods else set()
    created = utcnow()
    rows = []
    for slot in slots:
        for code in registry.owing(codes, slot.period_start, slot.period_end):
            if (code, slot.period) in existing:
                continue
            existing.add((code, slot.period))
            rows.append(_rule_obligation(rule, rule_id, first, code, slot, source_key, created, settings))
    open_obligations(uow, rows)
    session.execute(update(rules).where(rules.c.id == rule_id).values(generated_until=end))
    return len(rows)


def reconcile_rule(uow: UnitOfWork, rule_id: str, units: set[str], *, registry: Registry | None = None,
                   settings: Settings = DEFAULTS, now: datetime | None = None) -> tuple[int, int]:
    """Put a rule's obligations of ``units`` right by the registry as it now stands, over the
    periods the rule has opened so far: an obligation nobody has reported on (open or missed) of a
    unit that no longer owes its period is cancelled, saying why (closed on which day, into whom);
    a unit that owes a period and has no obligation for it (any source) gets one. Returns
    (opened, cancelled)."""
    session = uow.session
    rule = session.execute(select(rules).where(rules.c.id == rule_id)).mappings().one()
    if rule["generated_until"] is None:
        return 0, 0
    first_start = max(rule["published_at"], rule["dtstart"] or rule["published_at"])
    slots = [slot for slot in _rule_slots(rule, first_start, rule["generated_until"])
             if slot.nominal_due_at <= rule["generated_until"]]
    if not slots:
        return 0, 0
    # a unit of ``units`` owes a period by being named or by taking over from a named unit, which
    # is then one of ``units`` too (a component of the successions): the others need no look
    codes = [code for code in json.loads(rule["unit_codes"]) if code in units]
    registry = registry or load_registry(session, codes)
    indicator_codes = json.loads(rule["indicator_codes"])
    first = session.execute(select(indicators).where(indicators.c.code == indicator_codes[0])).mappings().one()
    periods = sorted({slot.period for slot in slots})
    mine = session.execute(select(obligations.c.id, obligations.c.unit_code, obligations.c.period,
                                  obligations.c.period_start).where(
        obligations.c.rule_id == rule_id, obligations.c.unit_code.in_(sorted(units)),
        obligations.c.state.in_((O.OPEN, O.MISSED)), obligations.c.period.in_(periods))).all()
    owing = {slot.period: registry.owing(codes, slot.period_start, slot.period_end) for slot in slots}
    by_reason: dict[str, list[str]] = defaultdict(list)
    for obligation_id, code, period, period_start in mine:
        if code not in owing[period]:
            by_reason[closing_reason_of(registry, code, period_start)].append(obligation_id)
    for reason, ids in by_reason.items():
        cancel(uow, ids, None, reason, cause="unit_closed")
    owed = {(unit, period) for unit, _, period in live_keys(session, units, {first["code"]}, periods)}
    created, rows = utcnow(), []
    for slot in slots:
        for code in sorted(set(owing[slot.period]) & units):
            if (code, slot.period) in owed:
                continue
            owed.add((code, slot.period))
            rows.append(_rule_obligation(rule, rule_id, first, code, slot,
                                         free_source_key(session, code, f"rule:{rule_id}", slot.period), created,
                                         settings))
    open_obligations(uow, rows)
    return len(rows), sum(len(ids) for ids in by_reason.values())

