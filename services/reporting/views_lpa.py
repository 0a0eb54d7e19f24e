"""Queries of the Local Performance Assessment's read models (issue #19): the summaries of the
dashboards (nation, province, district) and the per-LAO results, the public pages' source.

Figures (assessments decided every total and pass; nothing is recomputed here):
- a result counts while it is finalised and not returned since (projection.lpa.COUNTED);
- ``percent`` is the LAO's pass_value (the figure the framework's pass rule compares); means are
  plain means over the counted LAOs; the distribution is in 10-point bands (100 falls in 90-100);
- ``public``: the round is published and its publish_on has come, in Bangkok; ``public_only``
  answers 404 on year_be before that (the public may not learn that results exist);
- change from last year: the unit's counted result of the previous round (the latest year before).
Names come from rm_units (each unit's latest version).
"""
from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import and_, case, func, select

from services.reporting.models import lpa_areas, lpa_follow_ups, lpa_rounds, units
from services.reporting.models import lpa_results as RESULTS
from services.reporting.projection.lpa import COUNTED
from services.reporting.views import node
from shared.db import chunks
from shared.errors import InputError, not_found
from shared.listing import order_by
from shared.thai import BANGKOK

R, F, A = RESULTS.c, lpa_follow_ups.c, lpa_areas.c
BANDS = 10
RESULT_SORT = ("percent", "points", "unit_code", "province_code", "district_code", "lao_type", "rank_province",
               "rank_lao_type")


def _iso(value):
    return value.isoformat() if value is not None else None


def _round(value, digits=2):
    return round(value, digits) if value is not None else None


def today_in_bangkok() -> date:
    return datetime.now(BANGKOK).date()


def _year(year_be) -> int:
    if not isinstance(year_be, int) or isinstance(year_be, bool) or not 2400 <= year_be <= 2700:
        raise InputError("invalid", "year_be", "ปีต้องเป็นปี พ.ศ. สี่หลัก เช่น 2569",
                         "year_be must be a four-digit Buddhist Era year, e.g. 2569", status=400)
    return year_be


def _round_row(session, year_be: int) -> dict | None:
    row = session.execute(select(lpa_rounds).where(lpa_rounds.c.year_be == year_be)).mappings().first()
    return dict(row) if row is not None else None


def is_public(round_: dict | None, today: date) -> bool:
    return bool(round_ and round_["published_at"] is not None and round_["publish_on"] is not None
                and round_["publish_on"] <= today)


def _gate(session, year_be, public_only: bool, today: date | None) -> tuple[dict | None, bool]:
    year_be = _year(year_be)
    round_ = _round_row(session, year_be)
    public = is_public(round_, today or today_in_bangkok())
    if public_only and not public:
        raise not_found("year_be", "ผลการประเมิน LPA ที่ประกาศแล้วของปี", "published LPA results of year", year_be)
    if round_ is None and not session.execute(select(R.assessment_id).where(R.year_be == year_be).limit(1)).first():
        raise not_found("year_be", "รอบการประเมิน LPA ปี", "LPA round of year", year_be)
    return round_, public


def _round_info(round_: dict | None) -> dict | None:
    if round_ is None:
        return None
    return {"round_id": round_["round_id"], "year_be": round_["year_be"], "name_th": round_["name_th"],
            "scope_code": round_["scope_code"], "units": round_["units"], "self_due_at": _iso(round_["self_due_at"]),
            "visit_from": _iso(round_["visit_from"]), "visit_to": _iso(round_["visit_to"]),
            "publish_on": _iso(round_["publish_on"]), "published_at": _iso(round_["published_at"]),
            "assessed": round_["assessed"], "passed": round_["passed"]}


def _names(session, codes) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(sorted({code for code in codes if code})):
        found.update(session.execute(select(units.c.code, units.c.name_th).where(units.c.code.in_(chunk))).all())
    return found


# --- summary ---------------------------------------------------------------------------------------

def _scope(n):
    """The WHERE of a node's results and the expression giving each result's child (None: no children)."""
    if n.kind == "nation":  # an LAO outside every province (BMA) is its own child, as in the rollups
        return [], func.coalesce(R.province_code, R.unit_code)
    if n.kind == "province":
        return [R.province_code == n.code], func.coalesce(R.district_code, R.unit_code)
    if n.kind == "district":
        return [R.district_code == n.code], R.unit_code
    return [R.unit_code == n.code], None


def _band():
    """The 10-point band of a result (100 falls in the last)."""
    value = func.coalesce(R.pass_value, 0.0)
    return case(*((value >= 10 * band, band) for band in range(BANDS - 1, 0, -1)), else_=0)


class _Figures:
    """Adds up the grouped rows of one node or child."""

    def __init__(self):
        self.assessed = self.passed = 0
        self.total = 0.0
        self.types: dict[str | None, list] = {}
        self.bands = [0] * BANDS
        self.areas: dict[str, list] = {}

    def add(self, lao_type, band, count, passed, total) -> None:
        self.assessed += count
        self.passed += passed
        self.total += total
        self.bands[band] += count
        entry = self.types.setdefault(lao_type, [0, 0, 0.0])
        entry[0] += count
        entry[1] += passed
        entry[2] += total

    def add_area(self, code, name_th, total, count) -> None:
        entry = self.areas.setdefault(code, [name_th, 0.0, 0])
        entry[1] += total
        entry[2] += count

    def as_dict(self) -> dict:
        assessed = self.assessed
        return {
            "assessed": assessed, "passed": self.passed,
            "pass_rate": round(self.passed / assessed, 4) if assessed else None,
            "mean_percent": _round(self.total / assessed) if assessed else None,
            "areas": [{"code": code, "name_th": name, "mean_percent": _round(total / count), "assessed": count}
                      for code, (name, total, count) in sorted(self.areas.items())],
            "by_lao_type": [{"lao_type": lao_type, "assessed": count, "passed": passed,
                             "mean_percent": _round(total / count)}
                            for lao_type, (count, passed, total) in sorted(self.types.items(),
                                                                            key=lambda kv: kv[0] or "")],
            "distribution": [{"from": 10 * band, "to": 10 * band + 10, "laos": count}
                             for band, count in enumerate(self.bands)]}


def lpa_summary(session, year_be: int, unit_code: str | None = None, today: date | None = None,
                public_only: bool = False) -> dict:
    """The LPA figures of the nation (None), a province office, a district office (or one LAO), with
    the same figures for each child (provinces, and the LAOs outside any (BMA); districts and the LAOs directly under the province;
    LAOs), the round, its progress in this scope and the follow-ups. Grouped in SQL (child, LAO type,
    band; child, area): a few hundred rows reach Python at national scale."""
    round_, public = _gate(session, year_be, public_only, today)
    n = node(session, unit_code)
    where, child = _scope(n)
    key = child if child is not None else R.unit_code
    band = _band()
    totals, children = _Figures(), {}
    grouped = session.execute(select(key, R.lao_type, band, func.count(), func.coalesce(func.sum(R.passed), 0),
                                     func.coalesce(func.sum(R.pass_value), 0.0)).where(
        R.year_be == year_be, COUNTED, *where).group_by(key, R.lao_type, band)).all()
    for code, lao_type, band_, count, passed, total in grouped:
        for figures in (totals, children.setdefault(code, _Figures())):
            figures.add(lao_type, band_, count, int(passed), float(total))
    areas = session.execute(select(key, A.area_code, func.max(A.name_th), func.sum(A.percent), func.count()).join(
        RESULTS, R.assessment_id == A.assessment_id).where(R.year_be == year_be, COUNTED, *where)
        .group_by(key, A.area_code)).all()
    for code, area_code, name_th, total, count in areas:
        for figures in (totals, children.setdefault(code, _Figures())):
            figures.add_area(area_code, name_th, float(total), count)
    progress = session.execute(select(
        func.count(R.self_submitted_at), func.coalesce(func.sum(R.self_on_time), 0),
        func.coalesce(func.sum(case((COUNTED, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(R.returned_at.is_not(None), ~COUNTED), 1), else_=0)), 0)).where(
        R.year_be == year_be, *where)).one()
    follow_ups = dict(session.execute(select(F.closed_at.is_(None), func.count()).select_from(lpa_follow_ups).join(
        RESULTS, R.assessment_id == F.assessment_id).where(R.year_be == year_be, *where)
        .group_by(F.closed_at.is_(None))).all())
    rows = []
    if child is not None:
        names = _names(session, children)
        rows = [{"code": code, "name_th": names.get(code), **figures.as_dict()}
                for code, figures in sorted(children.items(), key=lambda kv: kv[0] or "")]
    return {"year_be": year_be, "unit": n.as_dict(), "round": _round_info(round_), "public": public,
            "progress": {"self_submitted": progress[0], "self_on_time": int(progress[1]),
                         "finalised": int(progress[2]), "returned": int(progress[3])},
            "totals": totals.as_dict(), "children": rows,
            "follow_ups": {"open": follow_ups.get(True, 0), "closed": follow_ups.get(False, 0)}}


# --- results ---------------------------------------------------------------------------------------

def _sort(sort: str | None) -> str | None:
    parts = []
    for part in filter(None, (p.strip() for p in (sort or "").split(","))):
        name = part.lstrip("-")
        if name not in RESULT_SORT:
            order_by(RESULTS, part, RESULT_SORT, ())  # raises the listing's 400 naming the choices
        parts.append(part.replace("percent", "pass_value") if name == "percent" else part)
    return ",".join(parts) or None


def lpa_results(session, year_be: int, province_code: str | None = None, district_code: str | None = None,
                lao_type: str | None = None, unit_code: str | None = None, public_only: bool = False,
                limit: int = 100, offset: int = 0, sort: str | None = None, today: date | None = None) -> dict:
    """Per LAO (counted results): names, type, province and district, points, percent, pass, areas,
    ranks, change from last year, follow-ups; ``total`` for paging. Best first unless ``sort`` says
    (comma-separated RESULT_SORT names, ``-`` for descending)."""
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InputError("invalid", "limit", "limit ต้องอยู่ระหว่าง 1 ถึง 1000", "limit must be 1..1000", status=400)
    if not isinstance(offset, int) or offset < 0:
        raise InputError("invalid", "offset", "offset ต้องไม่ติดลบ", "offset must be 0 or more", status=400)
    round_, public = _gate(session, year_be, public_only, today)
    where = [R.year_be == year_be, COUNTED]
    for column, value in ((R.province_code, province_code), (R.district_code, district_code),
                          (R.lao_type, lao_type), (R.unit_code, unit_code)):
        if value:
            where.append(column == value)
    allowed = tuple(name.replace("percent", "pass_value") if name == "percent" else name for name in RESULT_SORT)
    ordering = order_by(RESULTS, _sort(sort), allowed, ("-pass_value", "unit_code"))
    total = session.execute(select(func.count()).select_from(RESULTS).where(*where)).scalar_one()
    rows = session.execute(select(RESULTS).where(*where).order_by(*ordering).limit(limit).offset(offset)
                           ).mappings().all()
    codes = [row["unit_code"] for row in rows]
    previous_year = session.execute(select(func.max(lpa_rounds.c.year_be)).where(
        lpa_rounds.c.year_be < year_be)).scalar()
    last = {}
    if previous_year is not None and codes:
        last = {code: value for code, value in session.execute(select(R.unit_code, R.pass_value).where(
            R.year_be == previous_year, R.unit_code.in_(codes), COUNTED))}
    follow_ups: dict[str, dict] = {}
    ids = [row["assessment_id"] for row in rows]
    if ids:
        for assessment_id, is_open, count in session.execute(select(
                F.assessment_id, F.closed_at.is_(None), func.count()).where(F.assessment_id.in_(ids))
                .group_by(F.assessment_id, F.closed_at.is_(None))):
            follow_ups.setdefault(assessment_id, {"open": 0, "closed": 0})["open" if is_open else "closed"] += count
    names = _names(session, {*codes, *(row["province_code"] for row in rows), *(row["district_code"] for row in rows)})
    items = []
    for row in rows:
        before = last.get(row["unit_code"])
        items.append({
            "assessment_id": row["assessment_id"], "unit_code": row["unit_code"],
            "name_th": names.get(row["unit_code"]), "lao_type": row["lao_type"],
            "province_code": row["province_code"], "province_name_th": names.get(row["province_code"]),
            "district_code": row["district_code"], "district_name_th": names.get(row["district_code"]),
            "points": row["points"], "max_points": row["max_points"], "percent": _round(row["pass_value"]),
            "passed": bool(row["passed"]), "areas": json.loads(row["areas"] or "[]"),
            "rank_province": row["rank_province"], "rank_lao_type": row["rank_lao_type"],
            "self_submitted_at": _iso(row["self_submitted_at"]),
            "self_on_time": None if row["self_on_time"] is None else bool(row["self_on_time"]),
            "finalised_at": _iso(row["finalised_at"]),
            "last_year_percent": _round(before),
            "change": _round(row["pass_value"] - before) if before is not None and row["pass_value"] is not None
            else None,
            "follow_ups": follow_ups.get(row["assessment_id"], {"open": 0, "closed": 0})})
    return {"year_be": year_be, "public": public, "round": _round_info(round_), "total": total, "limit": limit,
            "offset": offset, "items": items}


__all__ = ["BANDS", "RESULT_SORT", "is_public", "lpa_results", "lpa_summary", "today_in_bangkok"]
