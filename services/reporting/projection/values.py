"""Values and achievement (rm_values, rm_achievement): the latest value per unit, indicator and
period, and the per-fiscal-year aggregate it feeds (latest value, sum, periods reported), written
set-based straight through the DBAPI (a national cycle writes millions of these rows). Rows carry
the rollup keys of the version their period (or fiscal year) counts the unit under.
"""
from __future__ import annotations

from sqlalchemy import Float, bindparam, select

from services.reporting import domain
from services.reporting.models import achievement, values
from services.reporting.projection.registry import keys_of, versions_of
from shared.calendar import fiscal_year_of_period
from shared.contracts.events import IndicatorSubmitted
from shared.db import chunks, prepared
from shared.thai import fiscal_year_bounds


def project_values(session, events: list[IndicatorSubmitted]) -> None:
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
    # under (NULL while the unit is unknown; registry.refresh_units fills them in when its versions arrive).
    versions = versions_of(session, {event.unit_code for event, _, _ in submissions})
    keys: dict = {}

    def keys_at(unit: str, bounds: tuple) -> tuple:
        found = keys.get((unit, bounds))
        if found is None:
            found = keys[(unit, bounds)] = keys_of(domain.counted_version(versions.get(unit, ()), *bounds))
        return found

    _write_rows(session, values, _VALUES_COLUMNS, 3, [
        (unit, code, period, fiscal_year, *keys_at(unit, domain.bounds_of(period))[:2], *state[(unit, code, period)])
        for (unit, code, period), fiscal_year in changed_values.items()])
    if changed_years:
        _write_rows(session, achievement, _ACHIEVEMENT_COLUMNS, 3, [
            (code, fiscal_year, unit, *keys_at(unit, fiscal_year_bounds(fiscal_year)), *years[(code, fiscal_year, unit)])
            for code, fiscal_year, unit in changed_years])


# Key columns first; the rest are what a conflict overwrites (the final figures computed above).
_VALUES_COLUMNS = ("unit_code", "indicator_code", "period", "fiscal_year_be", "province_unit", "district_unit",
                   "value", "submitted_at")
_ACHIEVEMENT_COLUMNS = ("indicator_code", "fiscal_year_be", "unit_code", "province_unit", "district_unit", "level",
                        "lao_type", "latest_period", "latest_value", "sum_value", "periods")
_KEPT_ON_CONFLICT = {"province_unit", "district_unit", "level", "lao_type"}  # registry.refresh_units' once the row exists
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
