"""SQL building blocks every projector shares: NULL-safe min/max, the unit keys of the version a
row's period counts its unit under, and executing a batch in rounds so that no statement touches a
row twice. No event kinds here."""
from __future__ import annotations

from sqlalchemy import Date, and_, bindparam, case, or_, select

from services.reporting import domain
from services.reporting.models import unit_versions


def later(new, old):
    """The later of two instants, NULL-safe (portable: no GREATEST in SQLite)."""
    return case((old.is_(None), new), (new.is_(None), old), (new > old, new), else_=old)


def earlier(new, old):
    return case((old.is_(None), new), (new.is_(None), old), (new < old, new), else_=old)


def version_key(column: str):
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


def with_bounds(params: dict, period: str | None) -> dict:
    """The parameters with the bounds of the period the row is about (see version_key)."""
    params["p_start"], params["p_end"] = domain.bounds_of(period)
    return params


def rounds(params: list[dict], key: str | tuple[str, ...]) -> list[list[dict]]:
    """The parameter sets in rounds: the n-th about a ``key`` value goes in round n, so a round never
    touches a row twice (a multi-row INSERT ... ON CONFLICT DO UPDATE may not) and, executed in turn,
    every row sees its events in their order."""
    batches: list[list[dict]] = []
    seen: dict = {}
    for item in params:
        row = item[key] if isinstance(key, str) else tuple(item[part] for part in key)
        n = seen.get(row, 0)
        seen[row] = n + 1
        if n == len(batches):
            batches.append([])
        batches[n].append(item)
    return batches


def execute_rounds(session, statement, params: list[dict], key: str | tuple[str, ...]) -> None:
    """Execute ``statement`` for every parameter set, in rounds (see ``rounds``)."""
    for batch in rounds(params, key):
        session.execute(statement, batch)
