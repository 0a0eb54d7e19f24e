"""Obligation rows (rm_obligations) and the periods and indicators they name: opened, submitted,
missed, extended, cancelled, returned for correction.

Each fact is kept as a min/max/flag (first and last submission, latest miss, latest extension...)
and the status is a column the database computes from those facts on every write
(models.STATUS_SQL, whose executable specification is domain.obligation_status): events about one
obligation converge to the same row in any order. A row is created by whichever event about it
arrives first, keyed (province, district, LAO type) by the version of its unit its period counts.
Every projector here takes a run of events of its kind and writes them set-based, in rounds.
"""
from __future__ import annotations

from sqlalchemy import and_, bindparam, case, literal, or_

from services.reporting.models import indicators, obligations, periods
from services.reporting.projection import values
from services.reporting.projection.sql import earlier, execute_rounds, later, version_key, with_bounds
from shared.calendar import fiscal_year_of_period
from shared.db import prepared


def _obligation_upsert(session, name: str, insert_columns: tuple[str, ...], on_conflict) -> object:
    """INSERT the row this event knows about (unit keys read from rm_unit_versions), or apply
    ``on_conflict`` (a dict of column -> expression over the row and ``excluded``) to the existing one."""
    def build(ins):
        statement = ins(obligations).values(
            {**{column: bindparam(column) for column in insert_columns},
             "province_unit": version_key("province_unit"), "district_unit": version_key("district_unit"),
             "lao_type": version_key("lao_type")})
        return statement.on_conflict_do_update(index_elements=["obligation_id"],
                                               set_=on_conflict(statement.excluded))
    return prepared(session, f"rm:obligation:{name}", build)


def _keep(column: str):
    """Fill a column the row may not know yet (it was created by an event that arrived first)."""
    return lambda excluded: {column: case((obligations.c[column].is_(None), excluded[column]),
                                          else_=obligations.c[column])}


def _keys_once_the_period_is_known(excluded):
    """A row created by an event that did not know its period (an extension, a review) was keyed by
    the unit's latest version: the first event that brings the period keys it by that period's version."""
    c = obligations.c
    known = and_(c.period.is_(None), excluded.period.is_not(None))
    return {column: case((known, excluded[column]), else_=c[column])
            for column in ("province_unit", "district_unit", "lao_type")}


def _merge(*parts):
    def build(excluded):
        result = {}
        for part in parts:
            result.update(part(excluded))
        return result
    return build


def _events(items) -> list:
    return [event for _, event in items]


# --- opened -----------------------------------------------------------------------------------------

_OPENED_COLUMNS = ("obligation_id", "unit_code", "rule_id", "directive_id", "indicator_code", "indicator_name_th",
                   "period", "due_at")


def _opened_statement(session):
    return _obligation_upsert(session, "opened", _OPENED_COLUMNS, lambda excluded: {
        **{column: excluded[column] for column in _OPENED_COLUMNS[1:]},
        "province_unit": excluded.province_unit, "district_unit": excluded.district_unit,
        "lao_type": excluded.lao_type})


def _opened_params(event) -> dict:
    return with_bounds({column: getattr(event, column) for column in _OPENED_COLUMNS}, event.period)


def opened(session, items) -> None:
    """ObligationOpened: the row (its rule, indicator, period, due time) and its period and indicator."""
    events = _events(items)
    execute_rounds(session, _opened_statement(session), [_opened_params(event) for event in events], "obligation_id")
    # insert_new keeps the first: the first of each key is all that can land
    first_periods, first_indicators = {}, {}
    for event in events:
        first_periods.setdefault(event.period, {"period": event.period,
                                                "fiscal_year_be": fiscal_year_of_period(event.period)})
        first_indicators.setdefault(event.indicator_code, {"code": event.indicator_code,
                                                           "name_th": event.indicator_name_th})
    for table, key, rows in ((periods, "period", first_periods), (indicators, "code", first_indicators)):
        session.execute(prepared(session, f"insert_new:{table.name}:{id(table)}:{key}",
                                 lambda ins, table=table, key=key: ins(table).on_conflict_do_nothing(
                                     index_elements=[key])), list(rows.values()))


# --- submitted --------------------------------------------------------------------------------------

def _submitted_statement(session):
    c = obligations.c
    return _obligation_upsert(
        session, "submitted",
        ("obligation_id", "unit_code", "period", "first_submitted_at", "last_submitted_at", "last_on_time",
         "submissions"),
        _merge(_keys_once_the_period_is_known, _keep("period"), lambda excluded: {
            "last_on_time": case((or_(c.last_submitted_at.is_(None),
                                      excluded.last_submitted_at >= c.last_submitted_at), excluded.last_on_time),
                                 else_=c.last_on_time),
            "first_submitted_at": earlier(excluded.first_submitted_at, c.first_submitted_at),
            "last_submitted_at": later(excluded.last_submitted_at, c.last_submitted_at),
            "submissions": c.submissions + 1}))


def _submitted_params(event) -> dict:
    return with_bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code, "period": event.period,
                        "first_submitted_at": event.submitted_at, "last_submitted_at": event.submitted_at,
                        "last_on_time": 1 if event.on_time else 0, "submissions": 1}, event.period)


def submitted(session, items) -> None:
    """IndicatorSubmitted: first and last submission, on time as assessments judged the latest (and
    the values it carries, values.project_values)."""
    events = _events(items)
    execute_rounds(session, _submitted_statement(session), [_submitted_params(event) for event in events],
                   "obligation_id")
    values.project_values(session, events)


# --- missed, extended, cancelled, returned -----------------------------------------------------------

def _missed_statement(session):
    c = obligations.c
    return _obligation_upsert(
        session, "missed", ("obligation_id", "unit_code", "period", "indicator_code", "missed_at", "missed_due_at"),
        _merge(_keys_once_the_period_is_known, _keep("period"), _keep("indicator_code"), lambda excluded: {
            "missed_due_at": case((or_(c.missed_at.is_(None), excluded.missed_at >= c.missed_at),
                                   excluded.missed_due_at), else_=c.missed_due_at),
            "missed_at": later(excluded.missed_at, c.missed_at)}))


def _missed_params(event) -> dict:
    return with_bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code, "period": event.period,
                        "indicator_code": event.indicator_code, "missed_at": event.detected_at,
                        "missed_due_at": event.due_at}, event.period)


def missed(session, items) -> None:
    """DeadlineMissed: the latest miss and the due time it was about."""
    execute_rounds(session, _missed_statement(session), [_missed_params(event) for event in _events(items)],
                   "obligation_id")


def _extended_statement(session):
    return _obligation_upsert(
        session, "extended", ("obligation_id", "unit_code", "extended_due_at", "extended"),
        lambda excluded: {"extended": literal(1),
                          "extended_due_at": later(excluded.extended_due_at, obligations.c.extended_due_at)})


def _extended_params(event) -> dict:
    return with_bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code,
                        "extended_due_at": event.new_due_at, "extended": 1}, None)


def extended(session, items) -> None:
    """ExtensionGranted: the extended flag and the latest extended due time."""
    execute_rounds(session, _extended_statement(session), [_extended_params(event) for event in _events(items)],
                   "obligation_id")


def _cancelled_statement(session):
    return _obligation_upsert(session, "flag:cancelled", ("obligation_id", "unit_code", "cancelled"),
                              lambda excluded: {"cancelled": literal(1)})


def cancelled(session, items) -> None:
    """ObligationCancelled: the cancelled flag (a cancelled obligation counts nowhere)."""
    execute_rounds(session, _cancelled_statement(session), [
        with_bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code, "cancelled": 1}, None)
        for event in _events(items)], "obligation_id")


def _returned_statement(session):
    return _obligation_upsert(session, "returned", ("obligation_id", "unit_code", "returned", "returned_at"),
                              lambda excluded: {"returned": literal(1),
                                                "returned_at": later(excluded.returned_at, obligations.c.returned_at)})


def returned(session, items) -> None:
    """SubmissionReviewed with the decision "returned" (for correction): the latest return; any other
    decision changes no read model."""
    execute_rounds(session, _returned_statement(session), [
        with_bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code, "returned": 1,
                     "returned_at": event.reviewed_at}, None)
        for event in _events(items) if event.decision == "returned"], "obligation_id")
