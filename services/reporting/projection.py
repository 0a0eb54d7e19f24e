"""Projection: fold one event into the read models (the live consumer and rebuild share it).

Every statement is an upsert or a conditional update keyed by what the event is about, so that
- several events projected in one transaction (even for the same row) simply apply in turn;
- events arriving out of order converge to the same rows: each fact is kept as a min/max/flag
  (first and last submission, latest miss, latest extension...) and an obligation's status is a
  column the database computes from those facts on every write (models.STATUS_SQL);
- the inbox guarantees one projection per message; nothing here commits.
Statements are built once per dialect (shared.db.prepared): this runs for every platform event.
"""
from __future__ import annotations

import json

from sqlalchemy import bindparam, case, literal, or_, select, text, update

from services.reporting import domain
from services.reporting.models import (achievement, deliveries, directive_summary, directive_units, indicators,
                                       obligations, periods, targets, units, values)
from shared.contracts import Envelope
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, AssignmentStateChanged,
                                     DeadlineMissed, DirectiveForwarded, DirectiveIssued, Event, ExtensionGranted,
                                     IndicatorSubmitted, NotificationFailed, NotificationSent, ObligationCancelled,
                                     ObligationOpened, OrgUnitChanged, PlanPublished, ReportingRulePublished,
                                     SubmissionReviewed, TargetSet)
from shared.db import insert_new, prepared, upsert
from shared.thai import fiscal_year_of_period
from shared.types import UTCDateTime


def _later(new, old):
    """The later of two instants, NULL-safe (portable: no GREATEST in SQLite)."""
    return case((old.is_(None), new), (new.is_(None), old), (new > old, new), else_=old)


def _earlier(new, old):
    return case((old.is_(None), new), (new.is_(None), old), (new < old, new), else_=old)


def _unit_key(column: str):
    return select(units.c[column]).where(units.c.code == bindparam("unit_code")).scalar_subquery()


# --- obligations ---------------------------------------------------------------------------------------

def _obligation_upsert(session, name: str, insert_columns: tuple[str, ...], on_conflict) -> object:
    """INSERT the row this event knows about (unit keys read from rm_units), or apply ``on_conflict``
    (a dict of column -> expression over the row and ``excluded``) to the existing one."""
    def build(ins):
        statement = ins(obligations).values(
            {**{column: bindparam(column) for column in insert_columns},
             "province_unit": _unit_key("province_unit"), "district_unit": _unit_key("district_unit"),
             "lao_type": _unit_key("lao_type")})
        return statement.on_conflict_do_update(index_elements=["obligation_id"],
                                               set_=on_conflict(statement.excluded))
    return prepared(session, f"rm:obligation:{name}", build)


def _keep(column: str):
    """Fill a column the row may not know yet (it was created by an event that arrived first)."""
    return lambda excluded: {column: case((obligations.c[column].is_(None), excluded[column]),
                                          else_=obligations.c[column])}


def _merge(*parts):
    def build(excluded):
        result = {}
        for part in parts:
            result.update(part(excluded))
        return result
    return build


def _on_obligation_opened(session, event: ObligationOpened) -> None:
    columns = ("obligation_id", "unit_code", "rule_id", "directive_id", "indicator_code", "indicator_name_th",
               "period", "due_at")
    statement = _obligation_upsert(session, "opened", columns, lambda excluded: {
        **{column: excluded[column] for column in columns[1:]},
        "province_unit": excluded.province_unit, "district_unit": excluded.district_unit,
        "lao_type": excluded.lao_type})
    session.execute(statement, {
        "obligation_id": event.obligation_id, "unit_code": event.unit_code, "rule_id": event.rule_id,
        "directive_id": event.directive_id, "indicator_code": event.indicator_code,
        "indicator_name_th": event.indicator_name_th, "period": event.period, "due_at": event.due_at})
    insert_new(session, periods, "period", {"period": event.period,
                                            "fiscal_year_be": fiscal_year_of_period(event.period)})
    insert_new(session, indicators, "code", {"code": event.indicator_code, "name_th": event.indicator_name_th})


def _on_indicator_submitted(session, event: IndicatorSubmitted) -> None:
    c = obligations.c
    statement = _obligation_upsert(
        session, "submitted",
        ("obligation_id", "unit_code", "period", "first_submitted_at", "last_submitted_at", "last_on_time",
         "submissions"),
        _merge(_keep("period"), lambda excluded: {
            "last_on_time": case((or_(c.last_submitted_at.is_(None),
                                      excluded.last_submitted_at >= c.last_submitted_at), excluded.last_on_time),
                                 else_=c.last_on_time),
            "first_submitted_at": _earlier(excluded.first_submitted_at, c.first_submitted_at),
            "last_submitted_at": _later(excluded.last_submitted_at, c.last_submitted_at),
            "submissions": c.submissions + 1}))
    session.execute(statement, {
        "obligation_id": event.obligation_id, "unit_code": event.unit_code, "period": event.period,
        "first_submitted_at": event.submitted_at, "last_submitted_at": event.submitted_at,
        "last_on_time": 1 if event.on_time else 0, "submissions": 1})
    _project_values(session, event)


def _on_deadline_missed(session, event: DeadlineMissed) -> None:
    c = obligations.c
    statement = _obligation_upsert(
        session, "missed", ("obligation_id", "unit_code", "period", "indicator_code", "missed_at", "missed_due_at"),
        _merge(_keep("period"), _keep("indicator_code"), lambda excluded: {
            "missed_due_at": case((or_(c.missed_at.is_(None), excluded.missed_at >= c.missed_at),
                                   excluded.missed_due_at), else_=c.missed_due_at),
            "missed_at": _later(excluded.missed_at, c.missed_at)}))
    session.execute(statement, {
        "obligation_id": event.obligation_id, "unit_code": event.unit_code, "period": event.period,
        "indicator_code": event.indicator_code, "missed_at": event.detected_at, "missed_due_at": event.due_at})


def _on_extension_granted(session, event: ExtensionGranted) -> None:
    statement = _obligation_upsert(
        session, "extended", ("obligation_id", "unit_code", "extended_due_at", "extended"),
        lambda excluded: {"extended": literal(1),
                          "extended_due_at": _later(excluded.extended_due_at, obligations.c.extended_due_at)})
    session.execute(statement, {"obligation_id": event.obligation_id, "unit_code": event.unit_code,
                                "extended_due_at": event.new_due_at, "extended": 1})


def _flag(session, name: str, obligation_id: str, unit_code: str) -> None:
    statement = _obligation_upsert(session, f"flag:{name}", ("obligation_id", "unit_code", name),
                                   lambda excluded: {name: literal(1)})
    session.execute(statement, {"obligation_id": obligation_id, "unit_code": unit_code, name: 1})


# --- values and achievement ------------------------------------------------------------------------

def _project_values(session, event: IndicatorSubmitted) -> None:
    """The latest value per unit, indicator and period, and the per-year aggregate it feeds.

    A first value of a period adds to the year's sum and period count; a resubmission replaces
    the value it supersedes (delta); a value older than the stored one (out of order) changes
    nothing. One read of the values this submission may replace, then two upserts."""
    fiscal_year = fiscal_year_of_period(event.period)
    reported = {}
    for item in event.values:  # one value per indicator (the last if repeated)
        reported[item.indicator_code] = item.value
    existing = {code: (value, at) for code, value, at in session.execute(
        prepared(session, "rm:values_existing", lambda ins: select(
            values.c.indicator_code, values.c.value, values.c.submitted_at).where(
            values.c.unit_code == bindparam("unit_code"), values.c.period == bindparam("period"),
            values.c.indicator_code.in_(bindparam("codes", expanding=True)))),
        {"unit_code": event.unit_code, "period": event.period, "codes": sorted(reported)}).all()}
    items = []
    for code, value in reported.items():
        old = existing.get(code)
        if old is not None and old[1] > event.submitted_at:
            continue  # a newer submission's value already stands
        items.append({"c": code, "v": value, "d": value - (old[0] if old else 0.0), "n": 0 if old else 1})
    if not items:
        return
    # All of a submission's values in one statement each (a JSON array expanded by the database):
    # a national cycle is 235,500 values, and per-row parameters would dominate the projection.
    params = {"unit_code": event.unit_code, "period": event.period, "fy": fiscal_year, "at": event.submitted_at,
              "items": json.dumps(items)}
    session.execute(_json_statement(session, "values"), params)
    if fiscal_year is not None:
        del params["at"]
        session.execute(_json_statement(session, "achievement"), params)


_ITEMS = {
    "sqlite": ("json_extract(j.value, '$.c')", "json_extract(j.value, '$.v')", "json_extract(j.value, '$.d')",
               "json_extract(j.value, '$.n')", "json_each(:items) AS j"),
    "postgresql": ("j.c", "j.v", "j.d", "j.n",
                   "json_to_recordset(CAST(:items AS json)) AS j(c text, v float8, d float8, n integer)"),
}
# The unit's rollup keys come along (NULL while the unit is unknown; _rekey fills them in later).
_JSON_SQL = {
    "values": """INSERT INTO rm_values
  (unit_code, indicator_code, period, fiscal_year_be, province_unit, district_unit, value, submitted_at)
SELECT :unit_code, {c}, :period, :fy, u.province_unit, u.district_unit, {v}, :at
FROM {source} LEFT JOIN rm_units u ON u.code = :unit_code WHERE true
ON CONFLICT (unit_code, indicator_code, period) DO UPDATE SET value = excluded.value,
  submitted_at = excluded.submitted_at, fiscal_year_be = excluded.fiscal_year_be""",
    "achievement": """INSERT INTO rm_achievement (indicator_code, fiscal_year_be, unit_code, province_unit,
  district_unit, level, lao_type, latest_period, latest_value, sum_value, periods)
SELECT {c}, :fy, :unit_code, u.province_unit, u.district_unit, u.level, u.lao_type, :period, {v}, {d}, {n}
FROM {source} LEFT JOIN rm_units u ON u.code = :unit_code WHERE true
ON CONFLICT (indicator_code, fiscal_year_be, unit_code) DO UPDATE SET
  latest_value = CASE WHEN excluded.latest_period >= rm_achievement.latest_period
                      THEN excluded.latest_value ELSE rm_achievement.latest_value END,
  latest_period = CASE WHEN excluded.latest_period >= rm_achievement.latest_period
                       THEN excluded.latest_period ELSE rm_achievement.latest_period END,
  sum_value = rm_achievement.sum_value + excluded.sum_value,
  periods = rm_achievement.periods + excluded.periods""",
}


def _json_statement(session, name: str):
    def build(_ins):
        dialect = session.get_bind().dialect.name
        c, v, d, n, source = _ITEMS[dialect]
        statement = text(_JSON_SQL[name].format(c=c, v=v, d=d, n=n, source=source))
        return statement.bindparams(bindparam("at", type_=UTCDateTime())) if ":at" in statement.text else statement
    return prepared(session, f"rm:json:{name}", build)


# --- registry, indicators, targets -----------------------------------------------------------------

def _unit_row(session, code: str | None):
    if code is None:
        return None
    statement = prepared(session, "rm:unit_row", lambda ins: select(
        units.c.code, units.c.level, units.c.lao_type, units.c.parent_code, units.c.province_unit,
        units.c.district_unit, units.c.changed_at).where(units.c.code == bindparam("code")))
    return session.execute(statement, {"code": code}).mappings().first()


def _on_org_unit_changed(session, event: OrgUnitChanged, envelope: Envelope) -> None:
    current = _unit_row(session, event.code)
    if current is not None and current["changed_at"] > envelope.occurred_at:
        return  # an older version of the unit arrived late: the newer one stands
    province, district = domain.unit_keys(event.code, event.level, _unit_row(session, event.parent_code))
    upsert(session, units, {"code": event.code}, {
        "level": event.level, "lao_type": event.lao_type, "parent_code": event.parent_code,
        "name_th": event.name_th, "province_code": event.province_code, "district_code": event.district_code,
        "province_unit": province, "district_unit": district, "valid_from": event.valid_from,
        "valid_to": event.valid_to, "changed_at": envelope.occurred_at})
    if current is None or (current["province_unit"], current["district_unit"], current["lao_type"],
                           current["level"]) != (province, district, event.lao_type, event.level):
        _rekey(session, event.code, event.level, province, district, event.lao_type)


def _rekey(session, code: str, level: str, province: str | None, district: str | None,
           lao_type: str | None) -> None:
    """A unit's rollup keys changed (it is new, moved, or its parent arrived late): carry them to its
    obligations and recompute its descendants' keys (registry changes are rare next to reports)."""
    carry = prepared(session, "rm:rekey_obligations", lambda ins: update(obligations).where(
        obligations.c.unit_code == bindparam("code")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d"), lao_type=bindparam("t")))
    carry_values = prepared(session, "rm:rekey_values", lambda ins: update(values).where(
        values.c.unit_code == bindparam("code")).values(province_unit=bindparam("p"), district_unit=bindparam("d")))
    carry_years = prepared(session, "rm:rekey_achievement", lambda ins: update(achievement).where(
        achievement.c.unit_code == bindparam("code")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d"), level=bindparam("l"), lao_type=bindparam("t")))
    children_of = prepared(session, "rm:unit_children", lambda ins: select(
        units.c.code, units.c.level, units.c.lao_type, units.c.province_unit, units.c.district_unit).where(
        units.c.parent_code == bindparam("code")))
    set_keys = prepared(session, "rm:unit_keys", lambda ins: update(units).where(
        units.c.code == bindparam("b_code")).values(province_unit=bindparam("p"), district_unit=bindparam("d")))
    pending = [(code, level, province, district, lao_type)]
    while pending:
        code, level, province, district, lao_type = pending.pop()
        session.execute(carry, {"code": code, "p": province, "d": district, "t": lao_type})
        session.execute(carry_values, {"code": code, "p": province, "d": district})
        session.execute(carry_years, {"code": code, "p": province, "d": district, "l": level, "t": lao_type})
        parent = {"level": level, "province_unit": province, "district_unit": district}
        for child in session.execute(children_of, {"code": code}).mappings().all():
            keys = domain.unit_keys(child["code"], child["level"], parent)
            if keys != (child["province_unit"], child["district_unit"]):
                session.execute(set_keys, {"b_code": child["code"], "p": keys[0], "d": keys[1]})
                pending.append((child["code"], child["level"], *keys, child["lao_type"]))


def _on_indicators(session, specs) -> None:
    for spec in specs:
        upsert(session, indicators, {"code": spec.code}, {
            "name_th": spec.name_th, "unit_of_measure": spec.unit_of_measure, "value_type": spec.value_type,
            "direction": spec.direction})


def _on_target_set(session, event: TargetSet, envelope: Envelope) -> None:
    upsert(session, targets, {"indicator_code": event.indicator_code, "fiscal_year_be": event.fiscal_year_be,
                              "scope": event.unit_code or event.unit_group or "*", "plan_id": event.plan_id},
           {"value": event.value, "set_at": envelope.occurred_at})


# --- directives and the cascade ---------------------------------------------------------------------

def _directive_unit(session, name: str, directive_id: str, unit_code: str, insert_values: dict, on_conflict) -> None:
    columns = tuple(sorted(insert_values))

    def build(ins):
        statement = ins(directive_units).values(
            {"directive_id": bindparam("directive_id"), "unit_code": bindparam("unit_code"),
             "report_status": literal("pending"), **{column: bindparam(column) for column in columns}})
        return statement.on_conflict_do_update(index_elements=["directive_id", "unit_code"],
                                               set_=on_conflict(statement.excluded))
    session.execute(prepared(session, f"rm:directive_unit:{name}", build),
                    {"directive_id": directive_id, "unit_code": unit_code, **insert_values})


def _project_cascade(session, envelope: Envelope, event: Event) -> None:
    d = directive_units.c
    if isinstance(event, DirectiveIssued):
        insert_new(session, directive_summary, "directive_id", {
            "directive_id": event.directive_id, "document_number": event.document_number,
            "title_th": event.title_th, "issued_at": envelope.occurred_at, "addressee_count": event.addressee_count})
    elif isinstance(event, AssignmentCreated):
        _directive_unit(session, "created", event.directive_id, event.unit_code, {
            "assignment_id": event.assignment_id, "assigned_at": envelope.occurred_at,
            "parent_assignment_id": event.parent_assignment_id},
            lambda excluded: {"assignment_id": excluded.assignment_id,
                              "assigned_at": _earlier(excluded.assigned_at, d.assigned_at),
                              "parent_assignment_id": excluded.parent_assignment_id})
    elif isinstance(event, AssignmentAcknowledged):
        _directive_unit(session, "acknowledged", event.directive_id, event.unit_code,
                        {"acknowledged_at": event.acknowledged_at},
                        lambda excluded: {"acknowledged_at": _earlier(excluded.acknowledged_at, d.acknowledged_at)})
    elif isinstance(event, DirectiveForwarded):
        _directive_unit(session, "forwarded", event.directive_id, event.from_unit_code,
                        {"forwarded_at": event.forwarded_at},
                        lambda excluded: {"forwarded_at": _earlier(excluded.forwarded_at, d.forwarded_at)})
    elif isinstance(event, AssignmentStateChanged):
        _directive_unit(session, "state", event.directive_id, event.unit_code, {"state": event.to_state,
                                                                                "state_at": event.at},
                        lambda excluded: {
                            "state": case((or_(d.state_at.is_(None), excluded.state_at >= d.state_at), excluded.state),
                                          else_=d.state),
                            "state_at": _later(excluded.state_at, d.state_at)})
    elif isinstance(event, ObligationOpened) and event.directive_id:
        _directive_unit(session, "obligation", event.directive_id, event.unit_code,
                        {"obligation_id": event.obligation_id, "due_at": event.due_at},
                        lambda excluded: {"obligation_id": excluded.obligation_id, "due_at": excluded.due_at})
    elif isinstance(event, IndicatorSubmitted) and event.directive_id:
        # The latest submission decides on time or late, whichever order they arrive in.
        _directive_unit(session, "submitted", event.directive_id, event.unit_code,
                        {"submitted_at": event.submitted_at, "report_status": "on_time" if event.on_time else "late"},
                        lambda excluded: {"submitted_at": _later(excluded.submitted_at, d.submitted_at),
                                          "report_status": case(
                                              (or_(d.submitted_at.is_(None), excluded.submitted_at >= d.submitted_at),
                                               excluded.report_status), else_=d.report_status)})
    elif isinstance(event, DeadlineMissed) and event.directive_id:
        # A miss never overrides a submission, whichever arrived first.
        _directive_unit(session, "missed", event.directive_id, event.unit_code,
                        {"missed_at": event.detected_at, "report_status": "missed"},
                        lambda excluded: {"missed_at": excluded.missed_at,
                                          "report_status": case((d.submitted_at.is_(None), literal("missed")),
                                                                else_=d.report_status)})


# --- notifications ---------------------------------------------------------------------------------

def _on_notification_sent(session, event: NotificationSent) -> None:
    def build(ins):
        statement = ins(deliveries)
        return statement.on_conflict_do_update(index_elements=["delivery_id"], set_={
            "sent_at": statement.excluded.sent_at, "late": statement.excluded.late})
    session.execute(prepared(session, "rm:delivery_sent", build), {
        "delivery_id": event.delivery_id, "kind": event.kind, "channel": event.channel, "step": event.step,
        "recipient_code": event.recipient_code, "subject_ref": event.subject_ref, "sent_at": event.sent_at,
        "late": 1 if event.late else 0})
    column = "reminders_sent" if event.kind == "reminder" else "escalations_sent"
    session.execute(update(directive_units).where(directive_units.c.obligation_id == event.subject_ref).values(
        **{column: directive_units.c[column] + 1}))


def _on_notification_failed(session, event: NotificationFailed) -> None:
    def build(ins):
        statement = ins(deliveries)
        return statement.on_conflict_do_update(index_elements=["delivery_id"], set_={
            "failed_at": statement.excluded.failed_at,
            "failed_final": case((statement.excluded.failed_final == 1, 1), else_=deliveries.c.failed_final)})
    session.execute(prepared(session, "rm:delivery_failed", build), {
        "delivery_id": event.delivery_id, "kind": event.kind, "channel": event.channel, "step": event.step,
        "recipient_code": event.recipient_code, "subject_ref": event.subject_ref, "failed_at": event.failed_at,
        "failed_final": 1 if event.final else 0})


# --- dispatch ----------------------------------------------------------------------------------------

def project(session, envelope: Envelope, event: Event) -> None:
    """Fold one event into every read model it touches (the live consumer and rebuild)."""
    _project_cascade(session, envelope, event)
    if isinstance(event, ObligationOpened):
        _on_obligation_opened(session, event)
    elif isinstance(event, IndicatorSubmitted):
        _on_indicator_submitted(session, event)
    elif isinstance(event, DeadlineMissed):
        _on_deadline_missed(session, event)
    elif isinstance(event, ExtensionGranted):
        _on_extension_granted(session, event)
    elif isinstance(event, ObligationCancelled):
        _flag(session, "cancelled", event.obligation_id, event.unit_code)
    elif isinstance(event, SubmissionReviewed) and event.decision == "returned":
        _flag(session, "returned", event.obligation_id, event.unit_code)
    elif isinstance(event, OrgUnitChanged):
        _on_org_unit_changed(session, event, envelope)
    elif isinstance(event, (PlanPublished, ReportingRulePublished)):
        _on_indicators(session, event.indicators)
    elif isinstance(event, TargetSet):
        _on_target_set(session, event, envelope)
    elif isinstance(event, NotificationSent):
        _on_notification_sent(session, event)
    elif isinstance(event, NotificationFailed):
        _on_notification_failed(session, event)
