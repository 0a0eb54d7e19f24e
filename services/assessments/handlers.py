"""Use cases of assessments: obligations from rules and assignments, submissions (form, JSON
batch, file), reviews, extensions, achievement, and the deadline sweeps."""
from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update

from services.assessments import bulk, domain, schedule
from services.assessments.registry import Registry, closing_reason
from shared.contracts.commands.assessments import (BatchItem, DecideExtension, RequestExtension, ReviewSubmission,
                                           SubmitBatch, SubmitValues)
from services.assessments.domain import ObligationState as O
from services.assessments.models import (extension_requests, indicators, obligations, org_units, reviews,
                                         rules, submission_values, submissions, targets, tracked_assignments)
from shared.contracts import Envelope, utcnow
from shared.contracts.events import (AcknowledgementOverdue, AssignmentAcknowledged, AssignmentCreated,
                                     AssignmentStateChanged, DeadlineMissed, ExtensionDenied, ExtensionGranted,
                                     ExtensionRequested, IndicatorSubmitted, ObligationCancelled,
                                     ObligationOpened, OrgUnitChanged, PlanPublished, ReportingRulePublished,
                                     SubmissionReviewed, SubmittedValue, TargetSet)
from shared.db import Database, UnitOfWork, chunks, prepared, upsert
from shared.errors import InputError, conflict, forbidden, invalid, not_found
from shared.listing import order_by
from shared.messaging.inbox import handles_many
from shared.unit_versions import version_for_period
from shared.thai import BANGKOK, fiscal_year_be, fiscal_year_bounds, fiscal_year_of_period


@dataclass(frozen=True)
class Settings:
    # obligations exist this far ahead (units see what they will owe; a registry change dated ahead is
    # applied to the periods already opened)
    horizon: timedelta = field(default_factory=lambda: timedelta(
        days=int(os.environ.get("THONGTHIN_OBLIGATION_HORIZON_DAYS", "45"))))
    closes_after: timedelta = timedelta(days=30)      # submissions refused this long after the due time
    resubmit_within: timedelta = timedelta(days=7)    # a returned report is awaited again this long


SETTINGS = Settings()


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- the registry copy, indicators, targets ---------------------------------------------------------

def _version_upsert(ins):
    """A version of a unit, unless a higher revision of the same (code, valid_from) is stored."""
    statement = ins(org_units)
    names = [c.name for c in org_units.columns if c.name not in ("code", "valid_from")]
    return statement.on_conflict_do_update(index_elements=["code", "valid_from"],
                                           set_={name: statement.excluded[name] for name in names},
                                           where=org_units.c.revision <= statement.excluded.revision)


def on_org_unit_changed(event: OrgUnitChanged, uow: UnitOfWork, envelope: Envelope, *,
                        now: datetime | None = None) -> None:
    """Keep the version (the highest revision of its (code, valid_from) stands, whatever the order
    of delivery), then put obligations right by the registry as it now stands: the unit's and its
    successors' and predecessors' (see ``follow_registry``)."""
    uow.session.execute(prepared(uow.session, "org_units:version", _version_upsert), {
        "code": event.code, "valid_from": event.valid_from, "level": event.level, "lao_type": event.lao_type,
        "parent_code": event.parent_code, "valid_to": event.valid_to, "revision": event.revision,
        "change_kind": event.change_kind, "predecessor_codes": _json(sorted(event.predecessor_codes)),
        "successor_codes": _json(sorted(event.successor_codes))})
    follow_registry(uow, event.code, now=now)


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


def _closing_reason(registry: Registry, code: str, period_start: date) -> str:
    closed = registry.closed_for(code, period_start)
    if closed is None:
        return (f"หน่วยงาน {code} ไม่มีอยู่ในงวดนี้ / unit {code} did not exist in the period "
                f"starting {period_start.isoformat()}")
    last = registry.versions[code][-1]
    return closing_reason(code, closed, registry.successors(code), last["change_kind"])


def follow_registry(uow: UnitOfWork, code: str, *, now: datetime | None = None) -> None:
    """After a version of ``code`` arrived: every rule naming the unit, a unit it took over from or
    one that took over from it is put right for those units over the periods it has opened
    (``reconcile_rule``); the unit's other obligations (one-off reports of directives) are
    cancelled for periods it did not exist in, and opened again if a version now covers them."""
    session = uow.session
    registry = load_registry(session, [code])
    family = registry.component([code])
    conditions = [rules.c.unit_codes.like(f'%{_json(member)}%') for member in sorted(family)]
    rule_ids = session.execute(select(rules.c.id).where(or_(*conditions))).scalars().all() if conditions else []
    for rule_id in sorted(rule_ids):
        reconcile_rule(uow, rule_id, family, registry=registry, now=now)
    if not registry.knows(code):
        return
    # obligations from elsewhere than a rule: cancelled while the unit does not exist in their period
    live = session.execute(select(obligations.c.id, obligations.c.period_start, obligations.c.period_end).where(
        obligations.c.unit_code == code, obligations.c.rule_id.is_(None),
        obligations.c.state.in_((O.OPEN, O.MISSED)), obligations.c.period_start.is_not(None))).all()
    by_reason: dict[str, list[str]] = defaultdict(list)
    for obligation_id, start, end in live:
        if not registry.exists_in(code, start, end):
            by_reason[_closing_reason(registry, code, start)].append(obligation_id)
    for reason, ids in by_reason.items():
        _cancel(uow, ids, code, reason, cause="unit_closed")
    # ... and opened again (as a new obligation) when a version now says the unit existed then
    cancelled = session.execute(select(obligations).where(
        obligations.c.unit_code == code, obligations.c.rule_id.is_(None), obligations.c.state == O.CANCELLED,
        obligations.c.cancel_cause == "unit_closed")).mappings().all()
    back = [row for row in cancelled if registry.exists_in(code, row["period_start"], row["period_end"])]
    if back:
        owed = _live_keys(session, [code], {row["indicator_code"] for row in back}, {row["period"] for row in back})
        rows = []
        for row in back:
            key = (code, row["indicator_code"], row["period"])
            if key not in owed:
                owed.add(key)
                rows.append({**dict(row), "id": str(uuid.uuid4()), "state": O.OPEN, "cancel_reason": None,
                             "cancel_cause": None, "missed_at": None, "created_at": utcnow(),
                             "source_key": _free_source_key(session, code, row["source_key"], row["period"])})
        _open(uow, rows)


def _live_keys(session, units, indicator_codes, periods) -> set[tuple[str, str, str]]:
    """(unit, indicator, period) of the obligations not cancelled among those given."""
    found: set[tuple[str, str, str]] = set()
    for keys in chunks(sorted(units)):
        found |= {tuple(row) for row in session.execute(
            select(obligations.c.unit_code, obligations.c.indicator_code, obligations.c.period).where(
                obligations.c.unit_code.in_(keys), obligations.c.indicator_code.in_(sorted(indicator_codes)),
                obligations.c.period.in_(sorted(periods)), obligations.c.state != O.CANCELLED))}
    return found


def _free_source_key(session, unit_code: str, source_key: str, period: str) -> str:
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


def _upsert_indicator(session, spec) -> None:
    upsert(session, indicators, {"code": spec.code}, {
        "name_th": spec.name_th, "unit_of_measure": spec.unit_of_measure, "value_type": spec.value_type,
        "direction": spec.direction, "minimum": spec.minimum, "maximum": spec.maximum})


def on_plan_published(event: PlanPublished, uow: UnitOfWork, envelope: Envelope) -> None:
    for spec in event.indicators:
        _upsert_indicator(uow.session, spec)


def on_target_set(event: TargetSet, uow: UnitOfWork, envelope: Envelope) -> None:
    scope = event.unit_code or event.unit_group or "*"
    upsert(uow.session, targets, {"indicator_code": event.indicator_code, "fiscal_year_be": event.fiscal_year_be,
                                   "scope": scope},
            {"value": event.value, "plan_id": event.plan_id, "provenance": event.provenance})


# --- obligations ---------------------------------------------------------------------------------------

def _cancel(uow: UnitOfWork, obligation_ids: list[str], unit_code: str | None, reason: str, *,
            cause: str = "rule_changed") -> None:
    if not obligation_ids:
        return
    rows = uow.session.execute(select(obligations.c.id, obligations.c.unit_code)
                               .where(obligations.c.id.in_(obligation_ids))).all()
    uow.session.execute(update(obligations).where(obligations.c.id.in_(obligation_ids)).values(
        state=O.CANCELLED, cancel_reason=reason[:1000], cancel_cause=cause))
    for obligation_id, code in rows:
        uow.add_event(ObligationCancelled(obligation_id=obligation_id, unit_code=code, reason=reason))


def _open(uow: UnitOfWork, rows: list[dict], causations: list[str | None] | None = None) -> None:
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


def _assignment_obligation(event: AssignmentCreated, envelope: Envelope) -> dict:
    requirement = event.reporting
    period = schedule.canonical_period(requirement.period)
    period_start, period_end = schedule.period_bounds(period)
    return {
        "id": str(uuid.uuid4()), "unit_code": event.unit_code, "source_key": _assignment_source_key(event),
        "rule_id": None, "directive_id": event.directive_id, "assignment_id": event.assignment_id,
        "indicator_code": requirement.indicator_code, "indicator_name_th": requirement.indicator_name_th,
        "indicator_codes": _json(_requirement_codes(requirement)), "period": period,
        "period_start": period_start, "period_end": period_end, "opens_at": requirement.opens_at,
        "due_at": requirement.due_at,
        "extended_due_at": None, "closes_at": requirement.due_at + SETTINGS.closes_after, "state": O.OPEN,
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


def on_assignments_created(uow: UnitOfWork, items: list[tuple[Envelope, AssignmentCreated]]) -> None:
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
        row = _assignment_obligation(event, envelope)
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
        _upsert_indicator(session, spec)
    _open(uow, rows, causations)
    if new_indicators:
        session.execute(insert(indicators), new_indicators)


@handles_many(on_assignments_created)
def on_assignment_created(event: AssignmentCreated, uow: UnitOfWork, envelope: Envelope) -> None:
    """Track the acknowledgement deadline; a one-off reporting requirement becomes an obligation."""
    on_assignments_created(uow, [(envelope, event)])


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
                                *, now: datetime | None = None) -> None:
    """Store (or replace by a newer version) a rule and open its obligations up to the horizon.
    A new version cancels the rule's future obligations that nobody has reported on yet; past
    ones are left as they are."""
    session, now = uow.session, now or utcnow()
    stored = session.execute(select(rules.c.version).where(rules.c.id == event.rule_id)).first()
    if stored and stored[0] >= event.version:
        return
    for spec in event.indicators:
        _upsert_indicator(session, spec)
    values = {
        "version": event.version, "directive_id": event.directive_id,
        "indicator_codes": _json([spec.code for spec in event.indicators]), "unit_codes": _json(event.unit_codes),
        "rrule": event.rrule, "dtstart": event.dtstart, "until": event.until, "due_at": event.due_at,
        "due_time_local": event.due_time_local, "window_opens_before": event.window_opens_before,
        "holiday_rule": event.holiday_rule, "fiscal_year_be": event.fiscal_year_be, "published_at": now,
        "generated_until": None, "correlation_id": envelope.correlation_id}
    if stored:
        future = session.execute(select(obligations.c.id).where(
            obligations.c.rule_id == event.rule_id, obligations.c.state == O.OPEN,
            obligations.c.due_at > now)).scalars().all()
        _cancel(uow, future, None, f"reporting rule changed (version {event.version})")
        session.execute(update(rules).where(rules.c.id == event.rule_id).values(**values))
    else:
        session.execute(insert(rules).values(id=event.rule_id, **values))
    generate_obligations(uow, event.rule_id, now=now)


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


def _rule_obligation(rule, rule_id: str, first, code: str, slot, source_key: str, created: datetime) -> dict:
    return {
        "id": str(uuid.uuid4()), "unit_code": code, "source_key": source_key, "rule_id": rule_id,
        "directive_id": rule["directive_id"], "assignment_id": None,
        "indicator_code": first["code"], "indicator_name_th": first["name_th"],
        "indicator_codes": rule["indicator_codes"], "period": slot.period,
        "period_start": slot.period_start, "period_end": slot.period_end, "opens_at": slot.opens_at,
        "due_at": slot.due_at, "extended_due_at": None, "closes_at": slot.due_at + SETTINGS.closes_after,
        "state": O.OPEN, "missed_at": None, "correlation_id": rule["correlation_id"], "created_at": created}


def generate_obligations(uow: UnitOfWork, rule_id: str, *, now: datetime | None = None) -> int:
    """Open the obligations of one rule whose due time falls before now + horizon: for each period,
    the units the rule names that existed in it and the units that took over from those that had
    closed before it began (``registry.Registry.owing``)."""
    session, now = uow.session, now or utcnow()
    rule = session.execute(select(rules).where(rules.c.id == rule_id)).mappings().one()
    start = rule["generated_until"] or max(now, rule["dtstart"] or now)
    end = now + SETTINGS.horizon
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
            rows.append(_rule_obligation(rule, rule_id, first, code, slot, source_key, created))
    _open(uow, rows)
    session.execute(update(rules).where(rules.c.id == rule_id).values(generated_until=end))
    return len(rows)


def reconcile_rule(uow: UnitOfWork, rule_id: str, units: set[str], *, registry: Registry | None = None,
                   now: datetime | None = None) -> tuple[int, int]:
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
            by_reason[_closing_reason(registry, code, period_start)].append(obligation_id)
    for reason, ids in by_reason.items():
        _cancel(uow, ids, None, reason, cause="unit_closed")
    owed = {(unit, period) for unit, _, period in _live_keys(session, units, {first["code"]}, periods)}
    created, rows = utcnow(), []
    for slot in slots:
        for code in sorted(set(owing[slot.period]) & units):
            if (code, slot.period) in owed:
                continue
            owed.add((code, slot.period))
            rows.append(_rule_obligation(rule, rule_id, first, code, slot,
                                         _free_source_key(session, code, f"rule:{rule_id}", slot.period), created))
    _open(uow, rows)
    return len(rows), sum(len(ids) for ids in by_reason.values())


def extend_all(database: Database, *, now: datetime | None = None) -> int:
    """Roll every rule's obligations forward to the horizon (a periodic job)."""
    with database.session() as session:
        rule_ids = session.execute(select(rules.c.id)).scalars().all()
    opened = 0
    for rule_id in rule_ids:
        with database.unit_of_work() as uow:
            opened += generate_obligations(uow, rule_id, now=now)
            uow.commit()
    return opened


EVENT_HANDLERS = {
    OrgUnitChanged.TYPE: on_org_unit_changed,
    AssignmentCreated.TYPE: on_assignment_created,
    AssignmentAcknowledged.TYPE: on_assignment_acknowledged,
    AssignmentStateChanged.TYPE: on_assignment_state_changed,
    ReportingRulePublished.TYPE: on_reporting_rule_published,
    PlanPublished.TYPE: on_plan_published,
    TargetSet.TYPE: on_target_set,
}


# --- submissions --------------------------------------------------------------------------------------

class _Context:
    """What validating submissions needs, loaded once per call."""

    def __init__(self, session):
        self.session = session
        self.unit_rows: dict[str, dict | None] = {}  # code -> org unit (None: not in the registry)
        self.versions: dict[str, list] = {}           # code -> its versions
        self.indicators = {row["code"]: row for row in session.execute(select(indicators)).mappings()}
        self._targets: dict[tuple, float | None] = {}

    def load_units(self, codes) -> None:
        """The org units ``codes`` and all their ancestors, a level of the tree per query: a batch
        request reads the few hundred units it is about, not the whole registry."""
        wanted = {code for code in codes if code and code not in self.unit_rows}
        today = utcnow().astimezone(BANGKOK).date()
        while wanted:
            registry = Registry()
            for chunk in chunks(sorted(wanted)):
                registry.add(self.session.execute(select(org_units).where(org_units.c.code.in_(chunk))).mappings())
            # the unit as it stands today (a closed one as it last stood)
            found = {code: registry.current(code, today) for code in registry.versions}
            self.versions.update(registry.versions)
            self.unit_rows.update({code: found.get(code) for code in wanted})
            wanted = {row["parent_code"] for row in found.values()
                      if row["parent_code"] and row["parent_code"] not in self.unit_rows}

    def closed_error(self, code: str, period: str, period_start: date | None, field: str) -> InputError | None:
        """A unit that had closed by the start of a period owes no report for it: the error that
        says so (when and into whom), or None."""
        if period_start is None:
            return None
        self.load_units([code])
        own = self.versions.get(code)
        if not own:
            return None
        registry = Registry.of(own)
        closed = registry.closed_for(code, period_start)
        if closed is None:
            return None
        successors = load_registry(self.session, [code]).successors(code)
        into_th = f" (รวมเป็น/แยกเป็น {', '.join(successors)} ซึ่งรับภาระรายงานแทน)" if successors else ""
        into_en = f" (taken over by {', '.join(successors)}, which report from then on)" if successors else ""
        return InputError("unit_closed", field,
                          f"หน่วยงาน {code} สิ้นสภาพแล้วเมื่อ {closed.isoformat()}{into_th} "
                          f"จึงไม่ต้องรายงานงวด {period}",
                          f"unit {code} closed on {closed.isoformat()}{into_en}: it reports nothing for "
                          f"period {period}", status=409)

    def ancestors(self, code: str) -> list[str]:
        self.load_units([code])
        chain, seen = [], set()
        while (row := self.unit_rows.get(code)) and (code := row["parent_code"]) and code not in seen:
            seen.add(code)
            chain.append(code)
        return chain

    def may_act_for(self, actor: str | None, unit_code: str) -> bool:
        return actor is None or actor == unit_code or actor in self.ancestors(unit_code)

    def rule(self, code: str, target: float | None) -> bulk.IndicatorRule:
        row = self.indicators.get(code)
        if row is None:
            return bulk.IndicatorRule(code=code, target=target)
        return bulk.IndicatorRule(code=code, value_type=row["value_type"], minimum=row["minimum"],
                                  maximum=row["maximum"], target=target, direction=row["direction"])

    def target(self, indicator_code: str, fiscal_year: int, unit_code: str, period_start: date | None = None,
               period_end: date | None = None) -> float | None:
        """The most specific target: the unit, its LAO type, its level, then everyone (its type and
        level as they were in the period reported, when it is given: an SAO upgraded later is
        judged as an SAO for the periods before)."""
        key = (indicator_code, fiscal_year)
        if key not in self._targets:
            self._targets[key] = {scope: value for scope, value in self.session.execute(
                select(targets.c.scope, targets.c.value).where(targets.c.indicator_code == indicator_code,
                                                               targets.c.fiscal_year_be == fiscal_year)).all()}
        by_scope = self._targets[key]
        if not by_scope:
            return None
        self.load_units([unit_code])
        unit = self.unit_rows[unit_code]
        if period_start is not None and period_end is not None and self.versions.get(unit_code):
            unit = version_for_period(self.versions[unit_code], period_start, period_end) or unit
        scopes = [unit_code] + ([f"lao_type:{unit['lao_type']}", f"level:{unit['level']}"] if unit else []) + ["*"]
        return next((by_scope[s] for s in scopes if s in by_scope), None)


def _fiscal_year(row) -> int:
    """The fiscal year of the period reported, never of the due date: FY2563 values due in 2569
    are FY2563 values, judged against FY2563 targets."""
    return fiscal_year_of_period(row["period"]) or fiscal_year_be(row["period_start"] or row["due_at"])


def _validate(ctx: _Context, row: dict, unit_code: str, values, now: datetime, prefix: str) -> list[dict]:
    """Checked values ready to store; raises InputError naming the field."""
    if row["unit_code"] != unit_code:
        raise forbidden(f"{prefix}unit_code", "หน่วยงานนี้ไม่มีหน้าที่รายงานรายการนี้", "this unit does not owe this report")
    if row["state"] in (O.OPEN, O.MISSED, O.CANCELLED) and (
            closed := ctx.closed_error(unit_code, row["period"], row["period_start"], f"{prefix}unit_code")):
        raise closed
    if row["opens_at"] and now < row["opens_at"]:
        raise invalid(f"{prefix}obligation_id", "ยังไม่เปิดให้ส่งรายงาน", "the submission window is not open yet")
    if row["closes_at"] and now > max(row["closes_at"], domain.effective_due(row["due_at"], row["extended_due_at"])):
        raise invalid(f"{prefix}obligation_id", "ปิดรับรายงานงวดนี้แล้ว", "the submission window has closed")
    domain.state_after_submission(row["state"])
    wanted = json.loads(row["indicator_codes"])
    given = [value.indicator_code for value in values]
    if len(set(given)) != len(given):
        raise invalid(f"{prefix}values", "ตัวชี้วัดซ้ำในการส่งครั้งเดียว", "an indicator appears twice in one submission")
    for index, code in enumerate(given):
        if code not in wanted:
            raise invalid(f"{prefix}values[{index}].indicator_code", f"รายงานนี้ไม่มีตัวชี้วัด {code}",
                          f"this obligation does not take indicator {code}")
    if set(given) != set(wanted):
        missing = sorted(set(wanted) - set(given))
        raise invalid(f"{prefix}values", f"ยังขาดตัวชี้วัด {', '.join(missing[:5])}",
                      f"missing indicators: {', '.join(missing[:5])}")
    fiscal_year = _fiscal_year(row)
    checked = []
    for index, value in enumerate(values):
        rule = ctx.rule(value.indicator_code, ctx.target(value.indicator_code, fiscal_year, row["unit_code"],
                                                               row["period_start"], row["period_end"]))
        try:
            number = bulk.parse_value(value.value, rule)
        except bulk.ValueProblem as problem:
            raise InputError(problem.code, f"{prefix}values[{index}].value", problem.message_th, problem.message_en,
                             status=422) from None
        missed = rule.misses_target(number)
        if missed and not (value.note and value.note.strip()):
            raise InputError("note_required", f"{prefix}values[{index}].note",
                             f"ค่าไม่ถึงเป้าหมาย ({rule.target:g}) ต้องอธิบายเหตุผล",
                             f"the value misses the target ({rule.target:g}): add a short explanation", status=422)
        checked.append({"indicator_code": value.indicator_code, "value": number, "note": value.note,
                        "target_missed": missed})
    return checked


def _record(uow: UnitOfWork, row: dict, checked: list[dict], *, now: datetime, submitted_by: str | None,
            submitter_unit: str | None, via: str) -> dict:
    return _record_many(uow, [(row, checked)], now=now, submitted_by=submitted_by, submitter_unit=submitter_unit,
                        via=via)[0]


def _record_many(uow: UnitOfWork, good: list[tuple[dict, list[dict]]], *, now: datetime,
                 submitted_by: str | None, submitter_unit: str | None, via: str) -> list[dict]:
    """Store checked submissions with a handful of statements, whatever their number."""
    if not good:
        return []
    session = uow.session
    ids = [row["id"] for row, _ in good]
    session.execute(update(submissions).where(submissions.c.obligation_id.in_(ids),
                                              submissions.c.status == "pending").values(status="superseded"))
    submission_rows, value_rows, results = [], [], []
    returned = [row["id"] for row, _ in good if row["state"] == O.RETURNED]
    returned_on_time = dict(session.execute(
        select(submissions.c.obligation_id, submissions.c.on_time).where(
            submissions.c.obligation_id.in_(returned), submissions.c.status == "returned")
        .order_by(submissions.c.submitted_at)).all()) if returned else {}
    for row, checked in good:
        on_time = domain.resubmission_on_time(now, returned_on_time.get(row["id"]), row.get("resubmit_due_at"))
        if on_time is None:
            on_time = domain.is_on_time(now, row["due_at"], row["extended_due_at"])
        submission_id = str(uuid.uuid4())
        submission_rows.append({
            "id": submission_id, "obligation_id": row["id"], "unit_code": row["unit_code"],
            "submitted_by": submitted_by,
            "submitted_for_by_unit": submitter_unit if submitter_unit != row["unit_code"] else None, "via": via,
            "submitted_at": now, "on_time": on_time, "status": "pending"})
        value_rows.extend({"submission_id": submission_id, **value} for value in checked)
        uow.add_event(IndicatorSubmitted(
            submission_id=submission_id, obligation_id=row["id"], unit_code=row["unit_code"],
            directive_id=row["directive_id"], period=row["period"],
            values=[SubmittedValue(indicator_code=v["indicator_code"], value=v["value"], note=v["note"])
                    for v in checked],
            submitted_at=now, due_at=domain.effective_due(row["due_at"], row["extended_due_at"]), on_time=on_time))
        results.append({"submission_id": submission_id, "obligation_id": row["id"], "unit_code": row["unit_code"],
                        "on_time": on_time, "submitted_at": now.isoformat()})
    session.execute(insert(submissions), submission_rows)
    session.execute(insert(submission_values), value_rows)
    session.execute(update(obligations).where(obligations.c.id.in_(ids)).values(state=O.SUBMITTED))
    return results


def _obligation(session, obligation_id: str, field: str = "obligation_id") -> dict:
    row = session.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().first()
    if row is None:
        raise not_found(field, "ภาระการรายงาน", "obligation", obligation_id)
    return dict(row)


def submit_values(command: SubmitValues, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = _obligation(uow.session, command.obligation_id)
    ctx = _Context(uow.session)
    if not ctx.may_act_for(command.submitter_unit_code, command.unit_code):
        raise forbidden("unit_code", "ส่งรายงานแทนหน่วยงานนอกสังกัดไม่ได้", "cannot submit for a unit outside your own")
    checked = _validate(ctx, row, command.unit_code, command.values, now, "")
    return _record(uow, row, checked, now=now, submitted_by=command.submitted_by,
                   submitter_unit=command.submitter_unit_code, via="form")


def _period_start(period: str) -> date | None:
    try:
        return schedule.period_bounds(schedule.canonical_period(period))[0]
    except (InputError, ValueError, TypeError):
        return None


def _find_by_period(session, item: BatchItem) -> dict | None:
    candidates = session.execute(select(obligations).where(
        obligations.c.unit_code == item.unit_code, obligations.c.period == item.period,
        obligations.c.state != O.CANCELLED)).mappings().all()
    wanted = {value.indicator_code for value in item.values}
    matching = [dict(row) for row in candidates if wanted <= set(json.loads(row["indicator_codes"]))]
    return matching[0] if len(matching) == 1 else None


def _check_batch(ctx: _Context, items: list[BatchItem], submitter_unit_code: str, now: datetime
                 ) -> tuple[list[tuple[dict, list[dict]]], list[dict]]:
    """Validate every item without writing: (obligation row, checked values) per good item, and
    the errors of the others (index, field, code, messages)."""
    ctx.load_units({item.unit_code for item in items})
    ids = [item.obligation_id for item in items if item.obligation_id]
    by_id = {row["id"]: dict(row) for row in ctx.session.execute(
        select(obligations).where(obligations.c.id.in_(ids))).mappings()} if ids else {}
    seen: set[str] = set()
    good, errors = [], []
    for index, item in enumerate(items):
        prefix = f"items[{index}]."
        try:
            if not ctx.may_act_for(submitter_unit_code, item.unit_code):
                raise forbidden(f"{prefix}unit_code", "ส่งรายงานแทนหน่วยงานนอกสังกัดไม่ได้",
                                "cannot submit for a unit outside your own")
            if item.obligation_id:
                row = by_id.get(item.obligation_id)
                if row is None:
                    raise not_found(f"{prefix}obligation_id", "ภาระการรายงาน", "obligation", item.obligation_id)
            elif item.period:
                row = _find_by_period(ctx.session, item)
                if row is None and (closed := ctx.closed_error(item.unit_code, item.period,
                                                              _period_start(item.period), f"{prefix}unit_code")):
                    raise closed
                if row is None:
                    raise not_found(f"{prefix}period", "ภาระการรายงานของงวดนี้", "obligation for unit and period",
                                    f"{item.unit_code} {item.period}")
            else:
                raise invalid(f"{prefix}obligation_id", "ต้องระบุ obligation_id หรือ period",
                              "give obligation_id or period")
            if row["id"] in seen:
                raise invalid(f"{prefix}obligation_id", "รายงานซ้ำในชุดเดียวกัน",
                              "the same report appears twice in the batch")
            seen.add(row["id"])
            good.append((row, _validate(ctx, row, item.unit_code, item.values, now, prefix)))
        except InputError as error:
            errors.append({"index": index, "field": error.field, "code": error.code,
                           "message_th": error.message_th, "message_en": error.message_en})
    return good, errors


def submit_batch(command: SubmitBatch, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    """Validate every item, then store: all or nothing (default), or the good items only.
    Returns a report: accepted submissions and, per rejected item, the field and reason."""
    now = now or utcnow()
    good, errors = _check_batch(_Context(uow.session), command.items, command.submitter_unit_code, now)
    stored = []
    if not errors or command.mode == "keep_good":
        stored = _record_many(uow, good, now=now, submitted_by=command.submitted_by,
                              submitter_unit=command.submitter_unit_code, via=command.via)
    return {"mode": command.mode, "received": len(command.items), "accepted": len(stored),
            "rejected": len(errors), "errors": errors, "submissions": stored}


FILE_COLUMNS = {"value": "value", "note": "note", "indicator_code": "indicator_code", "unit_code": "unit_code",
                "period": "period", "obligation_id": "period"}


def submit_file(uow: UnitOfWork, *, content_base64: str, filename: str, submitter_unit_code: str,
                submitted_by: str | None, mode: str = "all_or_nothing", now: datetime | None = None) -> dict:
    """A CSV/XLSX file of rows (unit, indicator, period, value, note). Rows are checked one by one
    and grouped into one submission per (unit, period); every problem comes back by row and
    column. By default one bad row rejects the whole file; ``keep_good_rows`` stores the
    submissions whose rows are all good."""
    now = now or utcnow()
    try:
        data = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("file", "ไฟล์เสียหาย", "the file is not valid base64") from None
    ctx = _Context(uow.session)
    parsed = bulk.parse_bulk(data, filename, indicators={code: ctx.rule(code, None) for code in ctx.indicators},
                             mode="keep_good_rows")
    errors = [{"row": e.row, "column": e.column, "code": e.code, "message_th": e.message_th,
               "message_en": e.message_en} for e in parsed.errors]
    bad_rows = {e.row for e in parsed.errors}
    groups: dict[tuple[str, str], list[bulk.BulkRow]] = defaultdict(list)
    for row in parsed.rows:
        groups[(row.unit_code, row.period)].append(row)
    items, rows_of_item = [], []
    for (unit_code, period), rows in groups.items():
        items.append(BatchItem(unit_code=unit_code, period=period, values=[
            {"indicator_code": r.indicator_code, "value": r.value, "note": r.note} for r in rows]))
        rows_of_item.append([r.row for r in rows])
    if not items and not errors:
        raise invalid("file", "ไฟล์ไม่มีข้อมูล", "the file has no data rows")
    good, item_errors = _check_batch(ctx, items, submitter_unit_code, now)
    for error in item_errors:
        column = next((c for name, c in FILE_COLUMNS.items() if error["field"].endswith(name)), None)
        for row_number in rows_of_item[error["index"]]:
            errors.append({"row": row_number, "column": column, "code": error["code"],
                           "message_th": error["message_th"], "message_en": error["message_en"]})
    stored = []
    if not errors or mode == "keep_good_rows":  # `good` holds exactly the items that passed
        stored = _record_many(uow, good, now=now, submitted_by=submitted_by, submitter_unit=submitter_unit_code,
                              via="file")
    errors.sort(key=lambda e: (e["row"], e["column"] or ""))
    return {"filename": filename, "format": parsed.file_format, "encoding": parsed.encoding, "mode": mode,
            "data_rows": parsed.data_rows, "rows_with_errors": len({e["row"] for e in errors} | bad_rows),
            "accepted_submissions": len(stored), "errors": errors, "submissions": stored}


# --- reviews and extensions -------------------------------------------------------------------------------

def review_submission(command: ReviewSubmission, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    submission = session.execute(select(submissions).where(submissions.c.id == command.submission_id)).mappings().first()
    if submission is None:
        raise not_found("submission_id", "รายงานที่ส่ง", "submission", command.submission_id)
    ctx = _Context(session)
    if command.reviewer_unit_code not in ctx.ancestors(submission["unit_code"]):
        raise forbidden("reviewer_unit_code", "ตรวจรับได้เฉพาะรายงานของหน่วยงานในสังกัด",
                        "only a supervising unit may review this submission")
    if submission["status"] != "pending":
        raise conflict("submission_id", f"รายงานนี้ตรวจแล้วหรือมีฉบับใหม่กว่า ({submission['status']})",
                       f"this submission is {submission['status']}")
    session.execute(update(submissions).where(submissions.c.id == submission["id"]).values(status=command.decision))
    session.execute(insert(reviews).values(
        id=str(uuid.uuid4()), submission_id=submission["id"], reviewer_unit_code=command.reviewer_unit_code,
        reviewer=command.reviewer, decision=command.decision, comment=command.comment, reviewed_at=now))
    if command.decision == "accepted":
        new_state, resubmit_due_at = O.ACCEPTED, None
    else:  # its own state: awaited again by the resubmission deadline, never swept as missed
        # by default a week, and never before the report's own (effective) deadline
        obligation = _obligation(session, submission["obligation_id"])
        new_state, resubmit_due_at = O.RETURNED, command.resubmit_due_at or max(
            now + SETTINGS.resubmit_within, domain.effective_due(obligation["due_at"], obligation["extended_due_at"]))
        if resubmit_due_at <= now:
            raise invalid("resubmit_due_at", "กำหนดส่งแก้ไขต้องอยู่หลังเวลาปัจจุบัน",
                          "the resubmission deadline must be in the future")
    session.execute(update(obligations).where(obligations.c.id == submission["obligation_id"]).values(
        state=new_state, resubmit_due_at=resubmit_due_at))
    uow.add_event(SubmissionReviewed(
        submission_id=submission["id"], obligation_id=submission["obligation_id"], unit_code=submission["unit_code"],
        reviewer_unit_code=command.reviewer_unit_code, decision=command.decision, comment=command.comment,
        reviewed_at=now, resubmit_due_at=resubmit_due_at))
    return {"submission_id": submission["id"], "decision": command.decision, "obligation_state": str(new_state),
            "resubmit_due_at": resubmit_due_at.isoformat() if resubmit_due_at else None}


def request_extension(command: RequestExtension, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    row = _obligation(uow.session, command.obligation_id)
    if row["unit_code"] != command.unit_code:
        raise forbidden("unit_code", "ขอขยายเวลาได้เฉพาะรายงานของหน่วยงานตนเอง", "only the reporting unit may ask")
    if row["state"] in (O.ACCEPTED, O.CANCELLED):
        raise conflict("obligation_id", "รายงานนี้ปิดแล้ว", f"the obligation is {row['state']}")
    if command.requested_due_at <= domain.effective_due(row["due_at"], row["extended_due_at"]):
        raise invalid("requested_due_at", "วันที่ขอขยายต้องหลังกำหนดส่งเดิม", "the new due time must be after the current one")
    if uow.session.execute(select(extension_requests.c.id).where(
            extension_requests.c.obligation_id == row["id"], extension_requests.c.status == "pending")).first():
        raise conflict("obligation_id", "มีคำขอขยายเวลาที่รอพิจารณาอยู่แล้ว", "an extension request is already pending")
    request_id = str(uuid.uuid4())
    uow.session.execute(insert(extension_requests).values(
        id=request_id, obligation_id=row["id"], unit_code=row["unit_code"], requested_due_at=command.requested_due_at,
        reason=command.reason, requested_by=command.requested_by, requested_at=now, status="pending"))
    uow.add_event(ExtensionRequested(request_id=request_id, obligation_id=row["id"], unit_code=row["unit_code"],
                                     requested_due_at=command.requested_due_at, reason=command.reason,
                                     requested_at=now))
    return {"request_id": request_id, "status": "pending"}


def decide_extension(command: DecideExtension, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    request = session.execute(select(extension_requests).where(extension_requests.c.id == command.request_id)
                              ).mappings().first()
    if request is None:
        raise not_found("request_id", "คำขอขยายเวลา", "extension request", command.request_id)
    if command.decider_unit_code not in _Context(session).ancestors(request["unit_code"]):
        raise forbidden("decider_unit_code", "อนุมัติได้เฉพาะหน่วยงานที่กำกับดูแล", "only a supervising unit may decide")
    if request["status"] != "pending":
        raise conflict("request_id", "คำขอนี้พิจารณาแล้ว", f"the request is already {request['status']}")
    status = "granted" if command.approve else "denied"
    session.execute(update(extension_requests).where(extension_requests.c.id == request["id"]).values(
        status=status, decided_by_unit_code=command.decider_unit_code, decided_at=now, comment=command.comment))
    if command.approve:
        row = _obligation(session, request["obligation_id"])
        values = {"extended_due_at": request["requested_due_at"],
                  "closes_at": max(row["closes_at"] or request["requested_due_at"],
                                   request["requested_due_at"] + SETTINGS.closes_after)}
        if row["state"] == O.MISSED:  # reopened: the miss stays on record, the report is expected again
            values["state"] = O.OPEN
        session.execute(update(obligations).where(obligations.c.id == row["id"]).values(**values))
        uow.add_event(ExtensionGranted(request_id=request["id"], obligation_id=row["id"], unit_code=row["unit_code"],
                                       new_due_at=request["requested_due_at"],
                                       decided_by_unit_code=command.decider_unit_code, decided_at=now))
    else:
        uow.add_event(ExtensionDenied(request_id=request["id"], obligation_id=request["obligation_id"],
                                      unit_code=request["unit_code"], decided_by_unit_code=command.decider_unit_code,
                                      comment=command.comment, decided_at=now))
    return {"request_id": request["id"], "status": status}


# --- the sweeps -----------------------------------------------------------------------------------------

def sweep_deadlines(database: Database, *, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Flag every obligation past its effective deadline without an accepted or pending
    submission, once, emitting ``deadline missed``.

    Each batch is one transaction. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and the state
    change is conditional, so two replicas sweeping at the same time never emit the same miss
    twice; a sweep after downtime simply finds everything overdue (catch-up)."""
    now = now or utcnow()
    total = 0
    while True:
        with database.unit_of_work() as uow:
            rows = uow.session.execute(
                select(obligations).where(obligations.c.state.in_(domain.SWEEPABLE), obligations.c.due_at < now)
                .order_by(obligations.c.due_at).limit(batch_size).with_for_update(skip_locked=True)).mappings().all()
            if not rows:
                return total
            missed = {row["id"]: row for row in rows
                      if domain.is_missed(row["state"], now, row["due_at"], row["extended_due_at"])}
            # One conditional statement per batch; only the rows it really changed get an event.
            changed = uow.session.execute(
                update(obligations).where(obligations.c.id.in_(list(missed)),
                                          obligations.c.state.in_(domain.SWEEPABLE))
                .values(state=O.MISSED, missed_at=now).returning(obligations.c.id)).scalars().all() if missed else []
            for obligation_id in changed:
                row = missed[obligation_id]
                uow.add_event(DeadlineMissed(
                    obligation_id=row["id"], unit_code=row["unit_code"], directive_id=row["directive_id"],
                    indicator_code=row["indicator_code"], period=row["period"],
                    due_at=domain.effective_due(row["due_at"], row["extended_due_at"]), detected_at=now),
                    correlation_id=row["correlation_id"])
            total += len(changed)
            uow.commit()
            if len(rows) < batch_size or not missed:
                return total


def sweep_acknowledgements(database: Database, *, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Assignments not acknowledged by their deadline: ``acknowledgement overdue``, once each."""
    now = now or utcnow()
    total = 0
    while True:
        with database.unit_of_work() as uow:
            rows = uow.session.execute(
                select(tracked_assignments).where(tracked_assignments.c.state == "waiting",
                                                  tracked_assignments.c.acknowledge_due_at < now)
                .limit(batch_size).with_for_update(skip_locked=True)).mappings().all()
            for row in rows:
                if uow.session.execute(update(tracked_assignments).where(
                        tracked_assignments.c.assignment_id == row["assignment_id"],
                        tracked_assignments.c.state == "waiting").values(state="overdue", overdue_at=now)).rowcount:
                    uow.add_event(AcknowledgementOverdue(
                        assignment_id=row["assignment_id"], directive_id=row["directive_id"],
                        unit_code=row["unit_code"], acknowledge_due_at=row["acknowledge_due_at"], detected_at=now),
                        correlation_id=row["correlation_id"])
                    total += 1
            uow.commit()
            if len(rows) < batch_size:
                return total


# --- queries --------------------------------------------------------------------------------------------

def _plain(row) -> dict:
    out = {}
    for key, value in dict(row).items():
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        elif key == "indicator_codes" and isinstance(value, str):
            value = json.loads(value)
        out[key] = value
    return out


def list_obligations(session, *, unit_codes: list[str] | None = None, unit_code: str | None = None,
                     directive_id: str | None = None, rule_id: str | None = None, state: str | None = None,
                     period: str | None = None, overdue: bool | None = None, limit: int = 100,
                     offset: int = 0, now: datetime | None = None, sort: str | None = None) -> list[dict]:
    now = now or utcnow()
    query = select(obligations)
    if unit_codes is not None:
        query = query.where(obligations.c.unit_code.in_(unit_codes))
    for column, value in (("unit_code", unit_code), ("directive_id", directive_id), ("rule_id", rule_id),
                          ("state", state), ("period", period)):
        if value:
            query = query.where(obligations.c[column] == value)
    if overdue:  # against the effective due time (a granted extension is not late); a returned
        # report against its resubmission deadline
        effective = func.coalesce(obligations.c.extended_due_at, obligations.c.due_at)
        query = query.where(or_(
            and_(obligations.c.state.in_((O.OPEN, O.MISSED)), effective < now),
            and_(obligations.c.state == O.RETURNED, func.coalesce(obligations.c.resubmit_due_at, effective) < now)))
    ordering = order_by(obligations, sort, ("due_at", "unit_code", "state", "period", "created_at"),
                        ("due_at", "unit_code", "id"))
    rows = session.execute(query.order_by(*ordering).limit(limit).offset(offset)).mappings()
    return [{**_plain(row), "effective_due_at": domain.effective_due(row["due_at"], row["extended_due_at"]).isoformat()}
            for row in rows]


def get_obligation(session, obligation_id: str) -> dict:
    row = _obligation(session, obligation_id)
    history = session.execute(select(submissions).where(submissions.c.obligation_id == obligation_id)
                              .order_by(submissions.c.submitted_at)).mappings().all()
    ids = [s["id"] for s in history]
    values = defaultdict(list)
    for value in session.execute(select(submission_values).where(submission_values.c.submission_id.in_(ids))).mappings():
        values[value["submission_id"]].append({k: v for k, v in value.items() if k != "submission_id"})
    review_rows = defaultdict(list)
    for review in session.execute(select(reviews).where(reviews.c.submission_id.in_(ids))
                                  .order_by(reviews.c.reviewed_at)).mappings():
        review_rows[review["submission_id"]].append(_plain(review))
    extensions = session.execute(select(extension_requests).where(extension_requests.c.obligation_id == obligation_id)
                                 .order_by(extension_requests.c.requested_at)).mappings().all()
    result = _plain(row)
    result["effective_due_at"] = domain.effective_due(row["due_at"], row["extended_due_at"]).isoformat()
    result["submissions"] = [{**_plain(s), "values": values[s["id"]], "reviews": review_rows[s["id"]]} for s in history]
    result["extension_requests"] = [_plain(e) for e in extensions]
    return result


def get_submission(session, submission_id: str) -> dict:
    """One submission with its values and reviews (the gateway's audit before-image of a review)."""
    row = session.execute(select(submissions).where(submissions.c.id == submission_id)).mappings().first()
    if row is None:
        raise not_found("submission_id", "รายงานที่ส่ง", "submission", submission_id)
    values = session.execute(select(submission_values).where(submission_values.c.submission_id == submission_id)
                             ).mappings().all()
    history = session.execute(select(reviews).where(reviews.c.submission_id == submission_id)
                              .order_by(reviews.c.reviewed_at)).mappings().all()
    return {**_plain(row), "values": [{k: v for k, v in value.items() if k != "submission_id"} for value in values],
            "reviews": [_plain(review) for review in history]}


def get_extension_request(session, request_id: str) -> dict:
    row = session.execute(select(extension_requests).where(extension_requests.c.id == request_id)).mappings().first()
    if row is None:
        raise not_found("request_id", "คำขอขยายเวลา", "extension request", request_id)
    return _plain(row)


def list_extension_requests(session, *, unit_codes: list[str] | None = None, status: str | None = "pending",
                            limit: int = 100, offset: int = 0, sort: str | None = None) -> list[dict]:
    query = select(extension_requests)
    if unit_codes is not None:
        query = query.where(extension_requests.c.unit_code.in_(unit_codes))
    if status:
        query = query.where(extension_requests.c.status == status)
    ordering = order_by(extension_requests, sort, ("requested_at", "unit_code", "status", "requested_due_at"),
                        ("requested_at", "id"))
    rows = session.execute(query.order_by(*ordering).limit(limit).offset(offset)).mappings()
    return [_plain(row) for row in rows]


def achievement(session, *, unit_code: str, fiscal_year_be: int, indicator_code: str | None = None,
                now: datetime | None = None) -> list[dict]:
    """Per indicator the unit reported in a fiscal year: the year's value against its target
    (achieved / not_achieved / no_target / no_data) and whether it is at risk of missing it."""
    now = now or utcnow()
    start, end = fiscal_year_bounds(fiscal_year_be)
    # The periods of the fiscal year (months, quarters, the year), by their canonical labels.
    labels = [period.label for granularity in ("month", "quarter", "year")
              for period in schedule.fiscal_year_periods(fiscal_year_be, granularity)]
    query = (select(submission_values.c.indicator_code, submission_values.c.value, obligations.c.period,
                    obligations.c.period_start, submissions.c.submitted_at)
             .join(submissions, submissions.c.id == submission_values.c.submission_id)
             .join(obligations, obligations.c.id == submissions.c.obligation_id)
             .where(submissions.c.unit_code == unit_code, submissions.c.status.in_(("pending", "accepted")),
                    obligations.c.period.in_(labels)))
    if indicator_code:
        query = query.where(submission_values.c.indicator_code == indicator_code)
    series: dict[str, list[tuple]] = defaultdict(list)
    for code, value, period, period_start, submitted_at in session.execute(query).all():
        series[code].append((period, submitted_at, value))
    ctx = _Context(session)
    elapsed = max(0, min(12, (now.year - start.year) * 12 + now.month - start.month + 1))
    result = []
    for code, points in sorted(series.items()):
        latest_per_period = {}
        for period, submitted_at, value in sorted(points, key=lambda p: (p[0], p[1])):
            latest_per_period[period] = value
        values = [latest_per_period[p] for p in sorted(latest_per_period)]
        rule = ctx.rule(code, ctx.target(code, fiscal_year_be, unit_code))
        cumulative = rule.value_type == "count"
        actual = sum(values) if cumulative else values[-1]
        result.append({
            "indicator_code": code, "fiscal_year_be": fiscal_year_be, "direction": rule.direction,
            "target": rule.target, "actual": actual, "periods_reported": len(values),
            "status": domain.achievement(rule.direction, actual, rule.target),
            "at_risk": domain.at_risk(rule.direction, cumulative, values, elapsed, 12, rule.target),
            "trend": [{"period": p, "value": latest_per_period[p]} for p in sorted(latest_per_period)]})
    return result


def counts(session) -> dict:
    return {state: n for state, n in session.execute(
        select(obligations.c.state, func.count()).group_by(obligations.c.state)).all()}


