"""Queries of assessments (the read side): each takes a read session and returns plain data
(dates as ISO text). Obligations with their effective deadline, one obligation with its history
(submissions, values, reviews, extension requests), a submission (the gateway's audit
before-image of a review), extension requests, a unit's achievement over a fiscal year, and the
count of obligations by state.
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select

from services.assessments import domain, schedule
from services.assessments.domain import ObligationState as O
from services.assessments.facts import Facts
from services.assessments.models import extension_requests, obligations, reviews, submission_values, submissions
from services.assessments.obligations import obligation_row
from shared.contracts import utcnow
from shared.errors import not_found
from shared.listing import order_by
from shared.thai import fiscal_year_bounds


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
    row = obligation_row(session, obligation_id)
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
    (achieved / not_achieved / no_target / no_data) and whether it is at risk of missing it
    (``domain.yearly_achievement``)."""
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
    facts = Facts(session)
    elapsed = domain.months_elapsed(now, start)
    return [domain.yearly_achievement(code, fiscal_year_be, points,
                                      facts.rule(code, facts.target(code, fiscal_year_be, unit_code)), elapsed)
            for code, points in sorted(series.items())]


def counts(session) -> dict:
    return {state: n for state, n in session.execute(
        select(obligations.c.state, func.count()).group_by(obligations.c.state)).all()}


