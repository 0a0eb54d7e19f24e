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

from sqlalchemy import Date, Float, and_, bindparam, case, literal, or_, select, update

from services.reporting import domain
from services.reporting.models import (achievement, deliveries, directive_summary, directive_units, indicators,
                                       obligations, periods, targets, unit_versions, units, values)
from shared.contracts import Envelope
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, AssignmentStateChanged,
                                     DeadlineMissed, DirectiveForwarded, DirectiveIssued, Event, ExtensionGranted,
                                     IndicatorSubmitted, NotificationFailed, NotificationSent, ObligationCancelled,
                                     ObligationOpened, OrgUnitChanged, PlanPublished, ReportingRulePublished,
                                     SubmissionReviewed, TargetSet)
from shared.db import chunks, insert_new, prepared, upsert
from shared.calendar import fiscal_year_of_period
from shared.thai import fiscal_year_bounds
from shared.unit_versions import superseded


def _later(new, old):
    """The later of two instants, NULL-safe (portable: no GREATEST in SQLite)."""
    return case((old.is_(None), new), (new.is_(None), old), (new > old, new), else_=old)


def _earlier(new, old):
    return case((old.is_(None), new), (new.is_(None), old), (new < old, new), else_=old)


def _version_key(column: str):
    """A column of the version the row's period counts its unit under (``domain.counted_version`` in
    SQL; the period's first and last day are bound as p_start and p_end, ``domain.NO_PERIOD`` when the
    event does not say): the latest version overlapping the period, else the latest begun by its end,
    else the first."""
    v = unit_versions.c
    start, end = bindparam("p_start", type_=Date), bindparam("p_end", type_=Date)
    overlapping = and_(v.valid_from <= end, or_(v.valid_to.is_(None), v.valid_to > start))
    begun = v.valid_from <= end
    return (select(v[column]).where(v.code == bindparam("unit_code"), v.superseded == 0)
            .order_by(case((overlapping, 0), else_=1), case((begun, 0), else_=1),
                      case((begun, v.valid_from)).desc(), v.valid_from)
            .limit(1).scalar_subquery())


def _bounds(params: dict, period: str | None) -> dict:
    """The parameters with the bounds of the period the row is about (see _version_key)."""
    params["p_start"], params["p_end"] = domain.bounds_of(period)
    return params


# --- obligations ---------------------------------------------------------------------------------------

def _obligation_upsert(session, name: str, insert_columns: tuple[str, ...], on_conflict) -> object:
    """INSERT the row this event knows about (unit keys read from rm_units), or apply ``on_conflict``
    (a dict of column -> expression over the row and ``excluded``) to the existing one."""
    def build(ins):
        statement = ins(obligations).values(
            {**{column: bindparam(column) for column in insert_columns},
             "province_unit": _version_key("province_unit"), "district_unit": _version_key("district_unit"),
             "lao_type": _version_key("lao_type")})
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


_OPENED_COLUMNS = ("obligation_id", "unit_code", "rule_id", "directive_id", "indicator_code", "indicator_name_th",
                   "period", "due_at")


def _opened_statement(session):
    return _obligation_upsert(session, "opened", _OPENED_COLUMNS, lambda excluded: {
        **{column: excluded[column] for column in _OPENED_COLUMNS[1:]},
        "province_unit": excluded.province_unit, "district_unit": excluded.district_unit,
        "lao_type": excluded.lao_type})


def _opened_params(event: ObligationOpened) -> dict:
    return _bounds({column: getattr(event, column) for column in _OPENED_COLUMNS}, event.period)


def _on_obligation_opened(session, event: ObligationOpened) -> None:
    _on_obligations_opened(session, [event])


def _on_obligations_opened(session, events: list[ObligationOpened]) -> None:
    _execute_rounds(session, _opened_statement(session), [_opened_params(event) for event in events], "obligation_id")
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
            "first_submitted_at": _earlier(excluded.first_submitted_at, c.first_submitted_at),
            "last_submitted_at": _later(excluded.last_submitted_at, c.last_submitted_at),
            "submissions": c.submissions + 1}))


def _submitted_params(event: IndicatorSubmitted) -> dict:
    return _bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code, "period": event.period,
                    "first_submitted_at": event.submitted_at, "last_submitted_at": event.submitted_at,
                    "last_on_time": 1 if event.on_time else 0, "submissions": 1}, event.period)


def _on_indicator_submitted(session, event: IndicatorSubmitted) -> None:
    _on_indicators_submitted(session, [event])


def _on_indicators_submitted(session, events: list[IndicatorSubmitted]) -> None:
    _execute_rounds(session, _submitted_statement(session), [_submitted_params(event) for event in events],
                    "obligation_id")
    _project_values(session, events)


def _missed_statement(session):
    c = obligations.c
    return _obligation_upsert(
        session, "missed", ("obligation_id", "unit_code", "period", "indicator_code", "missed_at", "missed_due_at"),
        _merge(_keys_once_the_period_is_known, _keep("period"), _keep("indicator_code"), lambda excluded: {
            "missed_due_at": case((or_(c.missed_at.is_(None), excluded.missed_at >= c.missed_at),
                                   excluded.missed_due_at), else_=c.missed_due_at),
            "missed_at": _later(excluded.missed_at, c.missed_at)}))


def _missed_params(event: DeadlineMissed) -> dict:
    return _bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code, "period": event.period,
                    "indicator_code": event.indicator_code, "missed_at": event.detected_at,
                    "missed_due_at": event.due_at}, event.period)


def _on_deadline_missed(session, event: DeadlineMissed) -> None:
    session.execute(_missed_statement(session), _missed_params(event))


def _extended_statement(session):
    return _obligation_upsert(
        session, "extended", ("obligation_id", "unit_code", "extended_due_at", "extended"),
        lambda excluded: {"extended": literal(1),
                          "extended_due_at": _later(excluded.extended_due_at, obligations.c.extended_due_at)})


def _extended_params(event: ExtensionGranted) -> dict:
    return _bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code,
                    "extended_due_at": event.new_due_at, "extended": 1}, None)


def _on_extension_granted(session, event: ExtensionGranted) -> None:
    session.execute(_extended_statement(session), _extended_params(event))


def _returned_statement(session):
    return _obligation_upsert(session, "returned", ("obligation_id", "unit_code", "returned", "returned_at"),
                              lambda excluded: {"returned": literal(1),
                                                "returned_at": _later(excluded.returned_at, obligations.c.returned_at)})


def _returned_params(event: SubmissionReviewed) -> dict:
    return _bounds({"obligation_id": event.obligation_id, "unit_code": event.unit_code, "returned": 1,
                    "returned_at": event.reviewed_at}, None)


def _flag_statement(session, name: str):
    return _obligation_upsert(session, f"flag:{name}", ("obligation_id", "unit_code", name),
                              lambda excluded: {name: literal(1)})


def _flag(session, name: str, obligation_id: str, unit_code: str) -> None:
    session.execute(_flag_statement(session, name), _flag_params(name, obligation_id, unit_code))


def _flag_params(name: str, obligation_id: str, unit_code: str) -> dict:
    return _bounds({"obligation_id": obligation_id, "unit_code": unit_code, name: 1}, None)


# --- values and achievement ------------------------------------------------------------------------

def _execute_rounds(session, statement, params: list[dict], key: str | tuple[str, ...]) -> None:
    """Execute ``statement`` for every parameter set, in order for each ``key`` value: the n-th
    event about a row goes in round n, so a round never touches a row twice (a multi-row
    INSERT ... ON CONFLICT DO UPDATE may not) and every row sees its events in their order."""
    rounds: list[list[dict]] = []
    seen: dict = {}
    for item in params:
        row = item[key] if isinstance(key, str) else tuple(item[part] for part in key)
        n = seen.get(row, 0)
        seen[row] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(item)
    for batch in rounds:
        session.execute(statement, batch)


def _project_values(session, events: list[IndicatorSubmitted]) -> None:
    """The latest value per unit, indicator and period, and the per-year aggregate it feeds.

    A first value of a period adds to the year's sum and period count; a resubmission replaces
    the value it supersedes (delta); a value older than the stored one (out of order) changes
    nothing. The rows these submissions may change are read once, the submissions are folded in
    Python in their order (the same arithmetic, in the same order, as one at a time), and each
    changed row is written once with its final figures: one event or a whole batch, the same rows."""
    submissions = []
    for event in events:
        reported = {}
        for item in event.values:  # one value per indicator (the last if repeated)
            reported[item.indicator_code] = item.value
        if reported:
            submissions.append((event, reported, fiscal_year_of_period(event.period)))
    if not submissions:
        return
    codes = sorted({code for _, reported, _ in submissions for code in reported})
    by_period: dict[str, set] = {}
    by_year: dict[int, set] = {}
    for event, _, fiscal_year in submissions:
        by_period.setdefault(event.period, set()).add(event.unit_code)
        if fiscal_year is not None:
            by_year.setdefault(fiscal_year, set()).add(event.unit_code)
    state = {}
    read_values = prepared(session, "rm:values_existing", lambda ins: select(
        values.c.unit_code, values.c.indicator_code, values.c.value, values.c.submitted_at).where(
        values.c.period == bindparam("period"), values.c.unit_code.in_(bindparam("units", expanding=True)),
        values.c.indicator_code.in_(bindparam("codes", expanding=True))))
    for period, unit_codes in by_period.items():
        for chunk in chunks(sorted(unit_codes)):
            for unit, code, value, at in session.execute(read_values, {"period": period, "units": chunk,
                                                                       "codes": codes}):
                state[(unit, code, period)] = (value, at)
    years = {}
    read_years = prepared(session, "rm:achievement_existing", lambda ins: select(
        achievement.c.indicator_code, achievement.c.unit_code, achievement.c.latest_period,
        achievement.c.latest_value, achievement.c.sum_value, achievement.c.periods).where(
        achievement.c.fiscal_year_be == bindparam("fy"), achievement.c.unit_code.in_(bindparam("units", expanding=True)),
        achievement.c.indicator_code.in_(bindparam("codes", expanding=True))))
    for fiscal_year, unit_codes in by_year.items():
        for chunk in chunks(sorted(unit_codes)):
            for code, unit, *row in session.execute(read_years, {"fy": fiscal_year, "units": chunk, "codes": codes}):
                years[(code, fiscal_year, unit)] = list(row)
    changed_values, changed_years = {}, set()
    for event, reported, fiscal_year in submissions:
        at = event.submitted_at
        for code, value in reported.items():
            key = (event.unit_code, code, event.period)
            old = state.get(key)
            if old is not None and old[1] > at:
                continue  # a newer submission's value already stands
            delta, first = value - (old[0] if old else 0.0), 0 if old else 1
            state[key] = (value, at)
            changed_values[key] = fiscal_year
            if fiscal_year is None:
                continue
            year_key = (code, fiscal_year, event.unit_code)
            row = years.get(year_key)
            if row is None:
                years[year_key] = [event.period, value, delta, first]
            else:
                if event.period >= row[0]:
                    row[0], row[1] = event.period, value
                row[2] += delta
                row[3] += first
            changed_years.add(year_key)
    if not changed_values:
        return
    # The unit's rollup keys come along, from the version the period (or fiscal year) counts it
    # under (NULL while the unit is unknown; _refresh_units fills them in when its versions arrive).
    versions = _versions_of(session, {event.unit_code for event, _, _ in submissions})
    keys: dict = {}

    def keys_of(unit: str, bounds: tuple) -> tuple:
        found = keys.get((unit, bounds))
        if found is None:
            found = keys[(unit, bounds)] = _keys_of(domain.counted_version(versions.get(unit, ()), *bounds))
        return found

    _write_rows(session, values, _VALUES_COLUMNS, 3, [
        (unit, code, period, fiscal_year, *keys_of(unit, domain.bounds_of(period))[:2], *state[(unit, code, period)])
        for (unit, code, period), fiscal_year in changed_values.items()])
    if changed_years:
        _write_rows(session, achievement, _ACHIEVEMENT_COLUMNS, 3, [
            (code, fiscal_year, unit, *keys_of(unit, fiscal_year_bounds(fiscal_year)), *years[(code, fiscal_year, unit)])
            for code, fiscal_year, unit in changed_years])


# Key columns first; the rest are what a conflict overwrites (the final figures computed above).
_VALUES_COLUMNS = ("unit_code", "indicator_code", "period", "fiscal_year_be", "province_unit", "district_unit",
                   "value", "submitted_at")
_ACHIEVEMENT_COLUMNS = ("indicator_code", "fiscal_year_be", "unit_code", "province_unit", "district_unit", "level",
                        "lao_type", "latest_period", "latest_value", "sum_value", "periods")
_KEPT_ON_CONFLICT = {"province_unit", "district_unit", "level", "lao_type"}  # _refresh_units' once the row exists
_RAW: dict = {}


def _write_rows(session, table, columns: tuple[str, ...], keys: int, rows: list[tuple]) -> None:
    """Upsert ``rows`` (tuples in ``columns`` order; the first ``keys`` columns are the primary key)
    straight through the DBAPI: a national cycle writes millions of these rows, and SQLAlchemy's
    per-row parameter processing would cost more than the database's work. The values are bound
    exactly as SQLAlchemy binds them (the columns' own bind processors)."""
    dialect = session.get_bind().dialect
    cached = _RAW.get((dialect.name, table.name))
    if cached is None:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        conflict = (f"ON CONFLICT ({', '.join(columns[:keys])}) DO UPDATE SET "
                    + ", ".join(f"{column} = excluded.{column}" for column in columns[keys:]
                                if column not in _KEPT_ON_CONFLICT))
        head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES"
        processors = [(i, processor) for i, column in enumerate(columns)
                      if (processor := table.c[column].type.dialect_impl(dialect).bind_processor(dialect))
                      and not isinstance(table.c[column].type, Float)]  # floats are bound as they are
        cached = _RAW[(dialect.name, table.name)] = (
            f"{head} ({', '.join([mark] * len(columns))}) {conflict}", f"{head} %s {conflict}", processors)
    sql, pages_sql, processors = cached
    if processors:
        done: dict = {}  # a submission's instant is shared by its 30 values: bind it once
        rows = [list(row) for row in rows]
        for row in rows:
            for i, processor in processors:
                value = row[i]
                bound = done.get(value, done)
                if bound is done:
                    bound = done[value] = processor(value)
                row[i] = bound
    rows.sort()  # in key order: the B-tree pages are visited once, in turn
    if dialect.driver == "psycopg2":
        # psycopg2's executemany is a round trip per row (this ran 7x slower than SQLite): pages of
        # multi-row VALUES instead. The rows' keys are distinct, as ON CONFLICT DO UPDATE requires.
        from psycopg2.extras import execute_values
        with session.connection().connection.cursor() as cursor:
            execute_values(cursor, pages_sql, rows, page_size=1000)
        return
    session.connection().exec_driver_sql(sql, [tuple(row) for row in rows])


# --- registry, indicators, targets -----------------------------------------------------------------

_VERSION_KEYS = ("code", "valid_from", "valid_to", "level", "lao_type", "parent_code", "province_unit",
                 "district_unit")


def _keys_of(version) -> tuple:
    """(province_unit, district_unit, level, lao_type) of a version; NULLs for none."""
    if version is None:
        return (None, None, None, None)
    return (version["province_unit"], version["district_unit"], version["level"], version["lao_type"])


def _versions_of(session, codes) -> dict[str, list[dict]]:
    """Every version of these units that plans still holds (not superseded), per code, oldest first."""
    statement = prepared(session, "rm:versions_of", lambda ins: select(
        *(unit_versions.c[column] for column in _VERSION_KEYS)).where(
        unit_versions.c.code.in_(bindparam("codes", expanding=True)), unit_versions.c.superseded == 0).order_by(
        unit_versions.c.code, unit_versions.c.valid_from))
    found: dict[str, list[dict]] = {}
    for chunk in chunks(sorted(codes)):
        for row in session.execute(statement, {"codes": chunk}).mappings():
            found.setdefault(row["code"], []).append(dict(row))
    return found


def _on_org_unit_changed(session, event: OrgUnitChanged, envelope: Envelope) -> None:
    """Keep the version (code, valid_from) of the event with the highest revision (on a tie, the
    later occurred_at; the same event twice changes nothing), then bring the unit's latest version,
    its rows' keys and its descendants up to date (_refresh_units)."""
    v = unit_versions.c
    stored = session.execute(prepared(session, "rm:version_revision", lambda ins: select(
        v.revision, v.changed_at).where(v.code == bindparam("code"), v.valid_from == bindparam("valid_from"))),
        {"code": event.code, "valid_from": event.valid_from}).first()
    if stored is not None and (event.revision, envelope.occurred_at) < (stored[0], stored[1]):
        return  # an older revision of this version arrived late: the newer one stands
    upsert(session, unit_versions, {"code": event.code, "valid_from": event.valid_from}, {
        "valid_to": event.valid_to, "revision": event.revision, "level": event.level, "lao_type": event.lao_type,
        "parent_code": event.parent_code, "name_th": event.name_th, "province_code": event.province_code,
        "district_code": event.district_code, "change_kind": event.change_kind,
        "successor_codes": " ".join(event.successor_codes) or None, "forced": 1 if event.forced else 0,
        "changed_at": envelope.occurred_at})
    _refresh_units(session, event.code)


_MAX_REFRESHES = 100_000


def _refresh_units(session, code: str) -> None:
    """A unit's versions changed (a new one, a new revision, or its parent's keys): key each of its
    versions from its parent's latest version, make ``rm_units`` its latest version, carry to its
    obligations, values and yearly aggregates the keys of the version their period counts it under,
    and do the same for its children when its own keys changed. Registry changes are rare next to
    reports: a few statements per unit."""
    v = unit_versions.c
    parent_of = prepared(session, "rm:unit_row", lambda ins: select(
        units.c.code, units.c.level, units.c.province_unit, units.c.district_unit).where(
        units.c.code == bindparam("code")))
    set_version_keys = prepared(session, "rm:version_keys", lambda ins: update(unit_versions).where(
        v.code == bindparam("b_code"), v.valid_from == bindparam("b_from")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d")))
    every_version = prepared(session, "rm:every_version", lambda ins: select(
        *(v[column] for column in _VERSION_KEYS), v.revision, v.change_kind, v.superseded).where(
        v.code == bindparam("code")).order_by(v.valid_from))
    set_superseded = prepared(session, "rm:version_superseded", lambda ins: update(unit_versions).where(
        v.code == bindparam("b_code"), v.valid_from == bindparam("b_from")).values(superseded=bindparam("s")))
    children_of = prepared(session, "rm:unit_children", lambda ins: select(v.code).distinct().where(
        v.parent_code == bindparam("code")).order_by(v.code))
    pending, rounds = [code], 0
    while pending:
        code = pending.pop()
        # A unit is refreshed again whenever one of its parents' keys changed (one that moved may
        # hang below two units of the subtree); a cycle in the registry must not loop for ever.
        rounds += 1
        if rounds > _MAX_REFRESHES:
            break
        # the versions plans removed (shared.unit_versions.superseded) count nowhere
        stored = [dict(row) for row in session.execute(every_version, {"code": code}).mappings()]
        if not stored:
            continue
        flags = []
        for row in stored:
            flag = superseded(row, stored)
            if flag != bool(row["superseded"]):
                flags.append({"b_code": code, "b_from": row["valid_from"], "s": int(flag)})
                row["superseded"] = int(flag)
        if flags:
            session.execute(set_superseded, flags)
        parents: dict = {}
        for version in stored:  # superseded ones too: their keys never depend on the order of events
            parent_code = version["parent_code"]
            if parent_code not in parents:
                parents[parent_code] = (None if parent_code is None else
                                        session.execute(parent_of, {"code": parent_code}).mappings().first())
            keys = domain.unit_keys(code, version["level"], parents[parent_code])
            if keys != (version["province_unit"], version["district_unit"]):
                session.execute(set_version_keys, {"b_code": code, "b_from": version["valid_from"],
                                                   "p": keys[0], "d": keys[1]})
                version["province_unit"], version["district_unit"] = keys
        versions = [version for version in stored if not version["superseded"]]
        if not versions:
            continue  # cannot happen: the highest revision is never superseded
        before = session.execute(parent_of, {"code": code}).mappings().first()
        latest = session.execute(select(unit_versions).where(
            v.code == code, v.valid_from == versions[-1]["valid_from"])).mappings().one()
        upsert(session, units, {"code": code}, {
            column: latest[column] for column in ("level", "lao_type", "parent_code", "name_th", "province_code",
                                                  "district_code", "province_unit", "district_unit", "valid_from",
                                                  "valid_to", "changed_at")})
        _carry_keys(session, code, versions)
        if before is None or (before["level"], before["province_unit"], before["district_unit"]) != (
                latest["level"], latest["province_unit"], latest["district_unit"]):
            pending.extend(session.execute(children_of, {"code": code}).scalars().all())


def _carry_keys(session, code: str, versions: list[dict]) -> None:
    """Each obligation, value and yearly aggregate of the unit takes the keys of the version its
    period (its fiscal year, for an aggregate) counts the unit under (domain.counted_version)."""
    o, val, a = obligations.c, values.c, achievement.c
    obligation_periods = prepared(session, "rm:unit_obligation_periods", lambda ins: select(o.period).distinct().where(
        o.unit_code == bindparam("code")))
    value_periods = prepared(session, "rm:unit_value_periods", lambda ins: select(val.period).distinct().where(
        val.unit_code == bindparam("code")))
    years = prepared(session, "rm:unit_years", lambda ins: select(a.fiscal_year_be).distinct().where(
        a.unit_code == bindparam("code")))
    carry = prepared(session, "rm:carry_obligations", lambda ins: update(obligations).where(
        o.unit_code == bindparam("code"), o.period.is_not_distinct_from(bindparam("b_period"))).values(
        province_unit=bindparam("p"), district_unit=bindparam("d"), lao_type=bindparam("t")))
    carry_values = prepared(session, "rm:carry_values", lambda ins: update(values).where(
        val.unit_code == bindparam("code"), val.period == bindparam("b_period")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d")))
    carry_years = prepared(session, "rm:carry_achievement", lambda ins: update(achievement).where(
        a.unit_code == bindparam("code"), a.fiscal_year_be == bindparam("b_fy")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d"), level=bindparam("l"), lao_type=bindparam("t")))

    def keys(bounds):
        return _keys_of(domain.counted_version(versions, *bounds))

    params = []
    for period in session.execute(obligation_periods, {"code": code}).scalars().all():
        p, d, _, t = keys(domain.bounds_of(period))
        params.append({"code": code, "b_period": period, "p": p, "d": d, "t": t})
    if params:
        session.execute(carry, params)
    params = []
    for period in session.execute(value_periods, {"code": code}).scalars().all():
        p, d, _, _ = keys(domain.bounds_of(period))
        params.append({"code": code, "b_period": period, "p": p, "d": d})
    if params:
        session.execute(carry_values, params)
    params = []
    for fiscal_year in session.execute(years, {"code": code}).scalars().all():
        p, d, level, t = keys(fiscal_year_bounds(fiscal_year))
        params.append({"code": code, "b_fy": fiscal_year, "p": p, "d": d, "l": level, "t": t})
    if params:
        session.execute(carry_years, params)


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

def _directive_unit_statement(session, name: str, columns: tuple[str, ...], on_conflict):
    def build(ins):
        statement = ins(directive_units).values(
            {"directive_id": bindparam("directive_id"), "unit_code": bindparam("unit_code"),
             "report_status": literal("pending"), **{column: bindparam(column) for column in columns}})
        return statement.on_conflict_do_update(index_elements=["directive_id", "unit_code"],
                                               set_=on_conflict(statement.excluded))
    return prepared(session, f"rm:directive_unit:{name}", build)


def _directive_unit(session, name: str, directive_id: str, unit_code: str, insert_values: dict, on_conflict) -> None:
    session.execute(_directive_unit_statement(session, name, tuple(sorted(insert_values)), on_conflict),
                    {"directive_id": directive_id, "unit_code": unit_code, **insert_values})


_d = directive_units.c
# The cascade row (directive, unit) of an obligation's events: (statement name, insert values, what a
# conflict sets). Submissions and misses keep their facts as min/max/flag: project_many groups them.
_CASCADE_OF_OBLIGATIONS = {
    ObligationOpened: ("obligation", lambda event: {"obligation_id": event.obligation_id, "due_at": event.due_at},
                       lambda excluded: {"obligation_id": excluded.obligation_id, "due_at": excluded.due_at}),
    # The latest submission decides on time or late, whichever order they arrive in.
    IndicatorSubmitted: ("submitted", lambda event: {"submitted_at": event.submitted_at,
                                                     "report_status": "on_time" if event.on_time else "late"},
                         lambda excluded: {"submitted_at": _later(excluded.submitted_at, _d.submitted_at),
                                           "report_status": case(
                                               (or_(_d.submitted_at.is_(None), excluded.submitted_at >= _d.submitted_at),
                                                excluded.report_status), else_=_d.report_status)}),
    # A miss never overrides a submission, whichever arrived first.
    DeadlineMissed: ("missed", lambda event: {"missed_at": event.detected_at, "report_status": "missed"},
                     lambda excluded: {"missed_at": excluded.missed_at,
                                       "report_status": case((_d.submitted_at.is_(None), literal("missed")),
                                                             else_=_d.report_status)}),
}


def _cascade_of_obligations(session, kind: type, events: list) -> None:
    """The cascade rows of a kind's events that belong to a directive, in rounds per row."""
    name, values_of, on_conflict = _CASCADE_OF_OBLIGATIONS[kind]
    params = [{"directive_id": event.directive_id, "unit_code": event.unit_code, **values_of(event)}
              for event in events if event.directive_id]
    if params:
        columns = tuple(sorted(set(params[0]) - {"directive_id", "unit_code"}))
        _execute_rounds(session, _directive_unit_statement(session, name, columns, on_conflict), params,
                        ("directive_id", "unit_code"))


def _project_cascade(session, envelope: Envelope, event: Event) -> None:
    if isinstance(event, DirectiveIssued):
        insert_new(session, directive_summary, "directive_id", {
            "directive_id": event.directive_id, "document_number": event.document_number,
            "title_th": event.title_th, "issued_at": event.issued_at or envelope.occurred_at,
            "addressee_count": event.addressee_count})
    elif isinstance(event, AssignmentCreated):
        _directive_unit(session, "created", event.directive_id, event.unit_code, {
            "assignment_id": event.assignment_id, "assigned_at": event.assigned_at or envelope.occurred_at,
            "parent_assignment_id": event.parent_assignment_id},
            lambda excluded: {"assignment_id": excluded.assignment_id,
                              "assigned_at": _earlier(excluded.assigned_at, _d.assigned_at),
                              "parent_assignment_id": excluded.parent_assignment_id})
    elif isinstance(event, AssignmentAcknowledged):
        # acknowledging implies receipt: received = marked received or acknowledged, the earlier
        _directive_unit(session, "acknowledged", event.directive_id, event.unit_code,
                        {"acknowledged_at": event.acknowledged_at, "received_at": event.acknowledged_at},
                        lambda excluded: {"acknowledged_at": _earlier(excluded.acknowledged_at, _d.acknowledged_at),
                                          "received_at": _earlier(excluded.received_at, _d.received_at)})
    elif isinstance(event, DirectiveForwarded):
        _directive_unit(session, "forwarded", event.directive_id, event.from_unit_code,
                        {"forwarded_at": event.forwarded_at},
                        lambda excluded: {"forwarded_at": _earlier(excluded.forwarded_at, _d.forwarded_at)})
    elif isinstance(event, AssignmentStateChanged):
        if event.to_state == "received":
            _directive_unit(session, "received", event.directive_id, event.unit_code, {"received_at": event.at},
                            lambda excluded: {"received_at": _earlier(excluded.received_at, _d.received_at)})
        _directive_unit(session, "state", event.directive_id, event.unit_code, {"state": event.to_state,
                                                                                "state_at": event.at},
                        lambda excluded: {
                            "state": case((or_(_d.state_at.is_(None), excluded.state_at >= _d.state_at), excluded.state),
                                          else_=_d.state),
                            "state_at": _later(excluded.state_at, _d.state_at)})
    elif isinstance(event, (ObligationOpened, IndicatorSubmitted, DeadlineMissed)):
        _cascade_of_obligations(session, type(event), [event])


# --- notifications ---------------------------------------------------------------------------------

def _sent_statement(session):
    def build(ins):
        statement = ins(deliveries)
        return statement.on_conflict_do_update(index_elements=["delivery_id"], set_={
            "sent_at": statement.excluded.sent_at, "late": statement.excluded.late})
    return prepared(session, "rm:delivery_sent", build)


def _sent_params(event: NotificationSent) -> dict:
    return {"delivery_id": event.delivery_id, "kind": event.kind, "channel": event.channel, "step": event.step,
            "recipient_code": event.recipient_code, "subject_ref": event.subject_ref, "sent_at": event.sent_at,
            "late": 1 if event.late else 0}


def _count_notifications(session, events: list[NotificationSent]) -> None:
    """Reminders and escalations sent, per obligation of a directive (counts add up in any order)."""
    counts: dict[tuple[str, str], int] = {}
    for event in events:
        column = "reminders_sent" if event.kind == "reminder" else "escalations_sent"
        counts[(column, event.subject_ref)] = counts.get((column, event.subject_ref), 0) + 1
    for column in ("reminders_sent", "escalations_sent"):
        params = [{"ref": ref, "n": n} for (name, ref), n in counts.items() if name == column]
        if params:
            session.execute(prepared(session, f"rm:count:{column}", lambda ins, column=column: update(
                directive_units).where(directive_units.c.obligation_id == bindparam("ref")).values(
                {column: directive_units.c[column] + bindparam("n")})), params)


def _on_notification_sent(session, event: NotificationSent) -> None:
    session.execute(_sent_statement(session), _sent_params(event))
    _count_notifications(session, [event])


def _failed_statement(session):
    def build(ins):
        statement = ins(deliveries)
        return statement.on_conflict_do_update(index_elements=["delivery_id"], set_={
            "failed_at": statement.excluded.failed_at,
            "failed_final": case((statement.excluded.failed_final == 1, 1), else_=deliveries.c.failed_final)})
    return prepared(session, "rm:delivery_failed", build)


def _failed_params(event: NotificationFailed) -> dict:
    return {"delivery_id": event.delivery_id, "kind": event.kind, "channel": event.channel, "step": event.step,
            "recipient_code": event.recipient_code, "subject_ref": event.subject_ref, "failed_at": event.failed_at,
            "failed_final": 1 if event.final else 0}


def _on_notification_failed(session, event: NotificationFailed) -> None:
    session.execute(_failed_statement(session), _failed_params(event))


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
        session.execute(_returned_statement(session), _returned_params(event))
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


# --- many events at once (rebuild, bulk loads) -------------------------------------------------------

def _groupable(event: Event) -> bool:
    """Events whose statements commute with those of every other groupable event but their own kind
    (each writes facts kept as min/max/flag/sum, or its own rows): project_many may gather them by
    kind. The rest (registry, plans, targets, directives, assignments) are applied one at a time, in
    place, between groups; so is a directive's obligation opening, which gives its cascade row the
    obligation id that notifications are counted by (counting before or after it differs)."""
    if isinstance(event, ObligationOpened):
        return not event.directive_id
    return isinstance(event, (IndicatorSubmitted, DeadlineMissed, ExtensionGranted, ObligationCancelled,
                              SubmissionReviewed, NotificationSent, NotificationFailed))


def _project_group(session, events: list[Event]) -> None:
    kinds: dict[type, list] = {}
    for event in events:
        kinds.setdefault(type(event), []).append(event)
    for kind in _CASCADE_OF_OBLIGATIONS:
        if kinds.get(kind):
            _cascade_of_obligations(session, kind, kinds[kind])
    if opened := kinds.get(ObligationOpened):
        _on_obligations_opened(session, opened)
    if submitted := kinds.get(IndicatorSubmitted):
        _on_indicators_submitted(session, submitted)
    plan = (
        (DeadlineMissed, _missed_statement, _missed_params, "obligation_id"),
        (ExtensionGranted, _extended_statement, _extended_params, "obligation_id"),
        (ObligationCancelled, lambda session: _flag_statement(session, "cancelled"),
         lambda event: _flag_params("cancelled", event.obligation_id, event.unit_code),
         "obligation_id"),
        (SubmissionReviewed, _returned_statement, _returned_params, "obligation_id"),
        (NotificationSent, _sent_statement, _sent_params, "delivery_id"),
        (NotificationFailed, _failed_statement, _failed_params, "delivery_id"),
    )
    for kind, statement, params, key in plan:
        group = kinds.get(kind, [])
        if kind is SubmissionReviewed:
            group = [event for event in group if event.decision == "returned"]
        if group:
            _execute_rounds(session, statement(session), [params(event) for event in group], key)
    if sent := kinds.get(NotificationSent):
        _count_notifications(session, sent)


def project_many(session, items: list[tuple[Envelope, Event]]) -> None:
    """Fold many events into the read models: exactly the rows ``project`` gives for each in turn,
    with a few set-based statements per kind of event instead of several per event (rebuild and
    bulk loads). Runs of groupable events are gathered by kind, each kind in its order; any other
    event is projected on its own, in place, so that it sees every event before it and none after."""
    run: list[Event] = []
    for envelope, event in items:
        if _groupable(event):
            run.append(event)
            continue
        if run:
            _project_group(session, run)
            run = []
        project(session, envelope, event)
    if run:
        _project_group(session, run)
