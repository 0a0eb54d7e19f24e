"""The Local Performance Assessment (issue #19): rm_lpa_rounds, rm_lpa_results (and its areas as
rows, rm_lpa_areas), rm_lpa_follow_ups from the assessments.lpa_* events.

Assessments decides every figure (totals, pass, the round's counts); reporting only keeps them, and
computes the ranks within province and LAO type with shared.ranking, the one implementation
assessments ranks with at publication. Invariants:
- every statement is an upsert keyed by what the event is about (the round's year, the assessment,
  the follow-up) that keeps, for each fact, the event with the latest time of its kind (the event's
  own submitted_at / finalised_at / returned_at / closed_at): events arriving twice or in any order
  give the same rows; a row is created by whichever of its events arrives first and the others
  fill what it did not know;
- a result counts while it is finalised and not returned since (a finalisation later than the
  return wins): ``COUNTED``;
- ranks are those of shared.ranking over the counted results of a published round, recomputed for
  the round's year whenever the publication, a finalisation or a return of that year is projected
  (so they converge whatever the order); NULL before publication and for a withdrawn result;
- runs are written set-based (execute_rounds), so every LPA kind gathers with the others.
LpaTeamFinalised is only logged (see tests/unit/test_reporting_bulk.py): teams are people and their
visits, which assessments shows to whom may see them; no dashboard counts them.
"""
from __future__ import annotations

import json

from sqlalchemy import and_, bindparam, case, delete, insert, or_, select, update

from services.reporting.models import lpa_areas, lpa_follow_ups, lpa_results, lpa_rounds
from services.reporting.projection.sql import execute_rounds, later, rounds
from shared.db import chunks, prepared
from shared.ranking import ranks_within

R = lpa_results.c

# A result that counts: finalised, and not returned for correction since.
COUNTED = and_(R.finalised_at.is_not(None), or_(R.returned_at.is_(None), R.returned_at < R.finalised_at))


def _fill(table, *columns):
    """Columns the row may not know yet (created by an event that arrived first): the first value wins."""
    return lambda excluded: {column: case((table.c[column].is_(None), excluded[column]), else_=table.c[column])
                             for column in columns}


def _latest(table, stamp: str, *columns):
    """The columns of the event whose ``stamp`` is the latest (on a tie the stored row stays)."""
    def build(excluded):
        newer = or_(table.c[stamp].is_(None), excluded[stamp] > table.c[stamp])
        result = {column: case((newer, excluded[column]), else_=table.c[column]) for column in columns}
        result[stamp] = later(excluded[stamp], table.c[stamp])
        return result
    return build


def _psycopg2(session) -> bool:
    return session.get_bind().dialect.driver == "psycopg2"


def _send_pages(session, sql: str, rows: list, template: str | None = None) -> None:
    """``sql`` with ``VALUES %s`` for every row, in pages of multi-row VALUES: psycopg2's executemany
    is a round trip per row (7,850 finalisations took ten seconds), as projection.values found."""
    from psycopg2.extras import execute_values
    with session.connection().connection.cursor() as cursor:
        execute_values(cursor, sql, rows, template=template, page_size=1000)


_PAGED: dict = {}


class _Upsert:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET <parts> for a run of parameter sets, in rounds
    (sql.rounds: a round's keys are distinct, as a multi-row ON CONFLICT DO UPDATE requires): one
    prepared executemany per round, or on psycopg2 the same statement sent in pages (_send_pages),
    its values bound as SQLAlchemy binds them (the columns' own bind processors)."""

    def __init__(self, table, key: str, name: str, columns: tuple[str, ...], *parts):
        self.table, self.key, self.name, self.columns, self.parts = table, key, name, columns, parts

    def _build(self, ins):
        statement = ins(self.table).values({column: bindparam(column) for column in self.columns})
        set_ = {}
        for part in self.parts:
            set_.update(part(statement.excluded))
        return statement.on_conflict_do_update(index_elements=[self.key], set_=set_)

    def __call__(self, session, params: list[dict]) -> None:
        statement = prepared(session, f"rm:lpa:{self.name}", self._build)
        if not _psycopg2(session):
            execute_rounds(session, statement, params, self.key)
            return
        dialect = session.get_bind().dialect
        paged = _PAGED.get(self.name)
        if paged is None:
            sql = str(statement.compile(dialect=dialect))
            head, _, rest = sql.partition(" VALUES (")
            inner, _, tail = rest.partition(") ON CONFLICT")
            processors = {column: processor for column in self.columns
                          if (processor := self.table.c[column].type.dialect_impl(dialect).bind_processor(dialect))}
            paged = _PAGED[self.name] = (f"{head} VALUES %s ON CONFLICT{tail}", f"({inner})", processors)
        sql, template, processors = paged
        for batch in rounds(params, self.key):
            _send_pages(session, sql, [{column: processors[column](item[column]) if column in processors
                                        else item[column] for column in self.columns} for item in batch], template)


# --- rounds -------------------------------------------------------------------------------------------

_OPENED = ("year_be", "round_id", "name_th", "scope_code", "units", "self_due_at", "visit_from", "visit_to",
           "publish_on", "opened_at")


def round_opened(session, items) -> None:
    """LpaRoundOpened: the round's name, scope, size and dates (its publication's publish_on stands)."""
    r = lpa_rounds.c
    upsert = _Upsert(lpa_rounds, "year_be", "round_opened", _OPENED, lambda excluded: {
        **{column: excluded[column] for column in _OPENED[1:-2]},
        "publish_on": case((r.published_at.is_(None), excluded.publish_on), else_=r.publish_on),
        "opened_at": later(excluded.opened_at, r.opened_at)})
    params = [{"year_be": event.year_be, "round_id": event.round_id, "name_th": event.name_th,
               "scope_code": event.scope_code, "units": event.units, "self_due_at": event.self_due_at,
               "visit_from": event.visit_from, "visit_to": event.visit_to, "publish_on": event.publish_on,
               "opened_at": envelope.occurred_at} for envelope, event in items]
    upsert(session, params)


_PUBLISHED = ("year_be", "round_id", "publish_on", "published_at", "assessed", "passed")


def results_published(session, items) -> None:
    """LpaResultsPublished: the publication (the latest wins) and the year's ranks."""
    upsert = _Upsert(lpa_rounds, "year_be", "results_published", _PUBLISHED,
                        _fill(lpa_rounds, "round_id"),
                        _latest(lpa_rounds, "published_at", "publish_on", "assessed", "passed"))
    params = [{"year_be": event.year_be, "round_id": event.round_id, "publish_on": event.publish_on,
               "published_at": event.published_at, "assessed": event.assessed, "passed": event.passed}
              for _, event in items]
    upsert(session, params)
    for year_be in sorted({event.year_be for _, event in items}):
        rank(session, year_be)


# --- one LAO's assessment -------------------------------------------------------------------------------

_SUBMITTED = ("assessment_id", "round_id", "year_be", "unit_code", "self_submitted_at", "self_on_time",
              "claimed_percent", "evidence")


def self_assessment_submitted(session, items) -> None:
    """LpaSelfAssessmentSubmitted: the latest submission, on time or not (judged by assessments)."""
    upsert = _Upsert(lpa_results, "assessment_id", "self_submitted", _SUBMITTED,
                        _fill(lpa_results, "round_id", "year_be"),
                        _latest(lpa_results, "self_submitted_at", "self_on_time", "claimed_percent", "evidence"))
    params = [{"assessment_id": event.assessment_id, "round_id": event.round_id, "year_be": event.year_be,
               "unit_code": event.unit_code, "self_submitted_at": event.submitted_at,
               "self_on_time": int(event.on_time), "claimed_percent": event.claimed_percent,
               "evidence": event.evidence} for _, event in items]
    upsert(session, params)


_RESULT = ("lao_type", "province_code", "district_code", "points", "max_points", "pass_value", "passed", "areas")
_FINALISED = ("assessment_id", "round_id", "year_be", "unit_code", *_RESULT, "finalised_at")


def assessment_finalised(session, items) -> None:
    """LpaAssessmentFinalised: the latest finalisation's totals, areas and pass; then the ranks of its
    year if the round is published."""
    upsert = _Upsert(lpa_results, "assessment_id", "finalised", _FINALISED,
                        _fill(lpa_results, "round_id", "year_be"), _latest(lpa_results, "finalised_at", *_RESULT))
    params = [{"assessment_id": event.assessment_id, "round_id": event.round_id, "year_be": event.year_be,
               "unit_code": event.unit_code, "lao_type": event.lao_type, "province_code": event.province_code,
               "district_code": event.district_code, "points": event.points, "max_points": event.max_points,
               "pass_value": event.pass_value, "passed": int(event.passed),
               "areas": json.dumps([area.model_dump() for area in event.areas], ensure_ascii=False),
               "finalised_at": event.finalised_at} for _, event in items]
    upsert(session, params)
    ids = sorted({event.assessment_id for _, event in items})
    _area_rows(session, ids)
    _rank_years_of(session, ids)


def _area_rows(session, assessment_ids: list[str]) -> None:
    """rm_lpa_areas of these assessments: the rows of their stored (latest) areas, whatever order the
    finalisations came in."""
    for chunk in chunks(assessment_ids):
        stored = session.execute(select(R.assessment_id, R.areas).where(R.assessment_id.in_(chunk))).all()
        session.execute(delete(lpa_areas).where(lpa_areas.c.assessment_id.in_(chunk)))
        rows = [{"assessment_id": assessment_id, "area_code": area["code"], "name_th": area["name_th"],
                 "points": area["points"], "max_points": area["max_points"], "percent": area["percent"]}
                for assessment_id, areas in stored for area in json.loads(areas or "[]")]
        if rows and _psycopg2(session):
            _send_pages(session, "INSERT INTO rm_lpa_areas (assessment_id, area_code, name_th, points, max_points, "
                        "percent) VALUES %s", [tuple(row.values()) for row in rows])
        elif rows:
            session.execute(insert(lpa_areas), rows)


_RETURNED = ("assessment_id", "round_id", "unit_code", "returned_at", "return_reason")


def assessment_returned(session, items) -> None:
    """LpaAssessmentReturned: the latest return (the result is withdrawn until finalised later)."""
    upsert = _Upsert(lpa_results, "assessment_id", "returned", _RETURNED,
                        _fill(lpa_results, "round_id"), _latest(lpa_results, "returned_at", "return_reason"))
    params = [{"assessment_id": event.assessment_id, "round_id": event.round_id, "unit_code": event.unit_code,
               "returned_at": event.returned_at, "return_reason": event.reason} for _, event in items]
    upsert(session, params)
    _rank_years_of(session, [event.assessment_id for _, event in items])


# --- follow-ups ------------------------------------------------------------------------------------------

_FOLLOW_UP = ("follow_up_id", "assessment_id", "year_be", "unit_code", "area_code", "area_name_th", "percent",
              "threshold", "due_at", "opened_at")


def follow_up_opened(session, items) -> None:
    """LpaFollowUpOpened: a weak area's follow-up (opened_at: the event's time, the earliest kept)."""
    f = lpa_follow_ups.c
    upsert = _Upsert(lpa_follow_ups, "follow_up_id", "follow_up_opened", _FOLLOW_UP, lambda excluded: {
        **{column: excluded[column] for column in _FOLLOW_UP[1:-1]},
        "opened_at": case((or_(f.opened_at.is_(None), excluded.opened_at < f.opened_at), excluded.opened_at),
                          else_=f.opened_at)})
    params = [{"follow_up_id": event.follow_up_id, "assessment_id": event.assessment_id, "year_be": event.year_be,
               "unit_code": event.unit_code, "area_code": event.area_code, "area_name_th": event.area_name_th,
               "percent": event.percent, "threshold": event.threshold, "due_at": event.due_at,
               "opened_at": envelope.occurred_at} for envelope, event in items]
    upsert(session, params)


def follow_up_closed(session, items) -> None:
    """LpaFollowUpClosed: closed at the latest closing."""
    upsert = _Upsert(lpa_follow_ups, "follow_up_id", "follow_up_closed",
                        ("follow_up_id", "unit_code", "closed_at"),
                        lambda excluded: {"closed_at": later(excluded.closed_at, lpa_follow_ups.c.closed_at)})
    upsert(session, [{"follow_up_id": event.follow_up_id, "unit_code": event.unit_code,
                                         "closed_at": event.closed_at} for _, event in items])


# --- ranks -------------------------------------------------------------------------------------------------

def _rank_years_of(session, assessment_ids: list[str]) -> None:
    """Rank again the published years these assessments belong to."""
    years: set[int] = set()
    for chunk in chunks(sorted(set(assessment_ids))):
        years.update(session.execute(select(R.year_be).distinct().join(
            lpa_rounds, lpa_rounds.c.year_be == R.year_be).where(
            R.assessment_id.in_(chunk), lpa_rounds.c.published_at.is_not(None))).scalars())
    for year_be in sorted(years):
        rank(session, year_be)


def rank(session, year_be: int) -> None:
    """The year's ranks within province and within LAO type (shared.ranking, by pass_value) for its
    counted results; NULL for the others. Only rows whose ranks change are written (one executemany)."""
    rows = session.execute(select(R.assessment_id, R.pass_value, R.province_code, R.lao_type, R.rank_province,
                                  R.rank_lao_type, COUNTED.label("counted")).where(R.year_be == year_be)).all()
    counted = [row for row in rows if row.counted]
    by_value = {row.assessment_id: row.pass_value or 0.0 for row in counted}
    by_province = ranks_within(by_value, {row.assessment_id: row.province_code for row in counted})
    by_type = ranks_within(by_value, {row.assessment_id: row.lao_type for row in counted})
    changes = []
    for row in rows:
        wanted = (by_province.get(row.assessment_id), by_type.get(row.assessment_id))
        if wanted != (row.rank_province, row.rank_lao_type):
            changes.append({"b_id": row.assessment_id, "b_province": wanted[0], "b_type": wanted[1]})
    if not changes:
        return
    if not _psycopg2(session):
        session.execute(prepared(session, "rm:lpa:rank", lambda ins: update(lpa_results).where(
            R.assessment_id == bindparam("b_id")).values(rank_province=bindparam("b_province"),
                                                         rank_lao_type=bindparam("b_type"))), changes)
        return
    _send_pages(session, "UPDATE rm_lpa_results AS r SET rank_province = v.p, rank_lao_type = v.t "
                "FROM (VALUES %s) AS v (id, p, t) WHERE r.assessment_id = v.id",
                [(item["b_id"], item["b_province"], item["b_type"]) for item in changes], "(%s, %s::integer, %s::integer)")
