"""What people read about a round's work: its progress, each province's and district's checklist, one
LAO's assessment (its claims and evidence beside the team's scores and last year's), teams, follow-ups.
Results, ranks, summaries and the public pages are reporting's (services/reporting/views_lpa.py).

Who may read an LAO's assessment (beyond the gateway's role and subtree checks): the LAO, its district
and provincial offices, central, and the members of its team.
"""
from __future__ import annotations

import base64
import json

from sqlalchemy import case, func, select

from services.assessments.lpa import domain, frameworks
from services.assessments.lpa.models import (lpa_assessments, lpa_entries, lpa_evidence, lpa_follow_ups,
                                             lpa_rounds, lpa_team_members, lpa_teams)
from services.assessments.lpa.rounds import get_round
from services.assessments.lpa.work import assessment, team_of
from shared.errors import not_found

A = lpa_assessments


def _iso(value):
    return value.isoformat() if value is not None else None


def round_view(session, year_be: int) -> dict:
    round_ = get_round(session, year_be)
    counts = session.execute(select(
        func.count(),
        func.sum(case((A.c.self_state == "submitted", 1), else_=0)),
        func.sum(case((A.c.self_on_time.is_(False), 1), else_=0)),
        func.sum(case((A.c.team_id.is_not(None), 1), else_=0)),
        func.sum(case((A.c.score_state == "finalised", 1), else_=0)),
        func.sum(case((A.c.passed.is_(True), 1), else_=0)),
    ).where(A.c.round_id == round_["id"])).one()
    total, submitted, late, with_team, finalised, passed = (value or 0 for value in counts)
    return {"round_id": round_["id"], "year_be": year_be, "scope_code": round_["scope_code"], "state": round_["state"],
            "self_opens_at": _iso(round_["self_opens_at"]), "self_due_at": _iso(round_["self_due_at"]),
            "visit_from": _iso(round_["visit_from"]), "visit_to": _iso(round_["visit_to"]),
            "publish_on": _iso(round_["publish_on"]), "published_at": _iso(round_["published_at"]),
            "counts": {"laos": total, "self_submitted": submitted, "self_late": late, "with_team": with_team,
                       "finalised": finalised, "passed": passed}}


def rounds_list(session) -> dict:
    years = [year for (year,) in session.execute(select(lpa_rounds.c.year_be).order_by(lpa_rounds.c.year_be.desc()))]
    return {"items": [round_view(session, year) for year in years]}


def checklist(session, year_be: int, *, province_code: str | None = None, district_code: str | None = None,
              unit_code: str | None = None, self_state: str | None = None, score_state: str | None = None,
              limit: int = 100, offset: int = 0) -> dict:
    """The LAOs of a province or district (or the nation) in the round, with where each stands."""
    round_ = get_round(session, year_be)
    where = [A.c.round_id == round_["id"]]
    for column, value in ((A.c.province_code, province_code), (A.c.district_code, district_code),
                          (A.c.unit_code, unit_code), (A.c.self_state, self_state), (A.c.score_state, score_state)):
        if value:
            where.append(column == value)
    total = session.execute(select(func.count()).select_from(A).where(*where)).scalar()
    rows = session.execute(select(A).where(*where).order_by(A.c.province_code, A.c.district_code, A.c.unit_code)
                           .limit(limit).offset(offset)).mappings().all()
    return {"year_be": year_be, "total": total, "limit": limit, "offset": offset,
            "items": [_summary(row) for row in rows]}


def _summary(row) -> dict:
    return {"assessment_id": row["id"], "unit_code": row["unit_code"], "lao_type": row["lao_type"],
            "province_code": row["province_code"], "district_code": row["district_code"],
            "self_state": row["self_state"], "self_submitted_at": _iso(row["self_submitted_at"]),
            "self_on_time": row["self_on_time"], "team_id": row["team_id"], "score_state": row["score_state"],
            "points": row["points"], "max_points": row["max_points"],
            "percent": round(row["pass_value"], 2) if row["pass_value"] is not None else None,
            "passed": row["passed"], "rank_province": row["rank_province"], "rank_lao_type": row["rank_lao_type"]}


def may_read(session, row: dict, viewer: dict) -> bool:
    unit = viewer.get("unit_code")
    if viewer.get("central") or unit in (row["unit_code"], row["district_code"], row["province_code"]):
        return True
    return bool(row["team_id"]) and session.execute(select(lpa_team_members.c.person).where(
        lpa_team_members.c.team_id == row["team_id"], lpa_team_members.c.person == viewer.get("username"))).first() \
        is not None


def assessment_view(session, assessment_id: str, viewer: dict) -> dict:
    """One LAO's assessment: every applicable indicator with its scale and the evidence asked for, the
    LAO's claim, note and evidence, the team's score and comment, and last year's score (the baseline)."""
    row = assessment(session, assessment_id)
    if not may_read(session, row, viewer):
        raise not_found("assessment_id", "แบบประเมิน LPA", "LPA assessment", assessment_id)
    round_ = session.execute(select(lpa_rounds).where(lpa_rounds.c.id == row["round_id"])).mappings().one()
    framework = frameworks.load(session, round_["year_be"])
    entries = {e["indicator_code"]: e for e in session.execute(
        select(lpa_entries).where(lpa_entries.c.assessment_id == row["id"])).mappings()}
    evidence: dict[str, list] = {}
    for item in session.execute(select(lpa_evidence.c.id, lpa_evidence.c.indicator_code, lpa_evidence.c.filename,
                                       lpa_evidence.c.content_type, lpa_evidence.c.size, lpa_evidence.c.url,
                                       lpa_evidence.c.uploaded_at).where(
            lpa_evidence.c.assessment_id == row["id"]).order_by(lpa_evidence.c.uploaded_at)).mappings():
        evidence.setdefault(item["indicator_code"], []).append({**item, "uploaded_at": _iso(item["uploaded_at"])})
    baseline = _last_year(session, row["unit_code"], round_["year_be"])
    areas = []
    for area in framework.areas:
        items = []
        for indicator in area.indicators:
            if not indicator.applies_to(row["lao_type"]):
                continue
            entry = entries.get(indicator.code, {})
            items.append({"code": indicator.code, "name_th": indicator.name_th, "max_points": indicator.max_points,
                          "pilot": indicator.pilot, "evidence_th": indicator.evidence_th,
                          "levels": [level.model_dump() for level in indicator.levels],
                          "claimed_points": entry.get("claimed_points"), "claim_note": entry.get("claim_note"),
                          "points": entry.get("points"), "comment": entry.get("comment"),
                          "evidence": evidence.get(indicator.code, []),
                          "last_year_points": baseline.get("entries", {}).get(indicator.code)})
        if items:
            areas.append({"code": area.code, "name_th": area.name_th, "name_en": area.name_en, "indicators": items})
    points = {code: e["points"] for code, e in entries.items() if e["points"] is not None}
    current = domain.totals(framework, row["lao_type"], points).as_dict()
    return {**_summary(row), "year_be": round_["year_be"], "round_state": round_["state"],
            "self_due_at": _iso(round_["self_due_at"]), "returned_reason": row["returned_reason"],
            "framework": frameworks.summary(framework), "areas": areas, "totals": current,
            "last_year": baseline.get("summary"), "team": team_of(session, row["team_id"])}


def _last_year(session, unit_code: str, year_be: int) -> dict:
    previous = session.execute(select(A).join(lpa_rounds, lpa_rounds.c.id == A.c.round_id).where(
        A.c.unit_code == unit_code, lpa_rounds.c.year_be < year_be, A.c.score_state == "finalised")
        .order_by(lpa_rounds.c.year_be.desc()).limit(1)).mappings().first()
    if previous is None:
        return {}
    entries = dict(session.execute(select(lpa_entries.c.indicator_code, lpa_entries.c.points).where(
        lpa_entries.c.assessment_id == previous["id"])).all())
    return {"summary": {**_summary(previous), "totals": json.loads(previous["totals"] or "{}")}, "entries": entries}


def evidence_file(session, evidence_id: str, viewer: dict) -> dict:
    item = session.execute(select(lpa_evidence).where(lpa_evidence.c.id == evidence_id)).mappings().first()
    if item is None or not may_read(session, assessment(session, item["assessment_id"]), viewer):
        raise not_found("evidence_id", "หลักฐาน", "evidence", evidence_id)
    return {"evidence_id": item["id"], "filename": item["filename"], "content_type": item["content_type"],
            "url": item["url"], "content_base64": base64.b64encode(item["content"]).decode() if item["content"] else None}


def follow_ups(session, *, unit_code: str | None = None, province_code: str | None = None,
               district_code: str | None = None, state: str | None = None, follow_up_id: str | None = None,
               limit: int = 100, offset: int = 0) -> dict:
    F = lpa_follow_ups
    query = select(F, A.c.province_code, A.c.district_code).join(A, A.c.id == F.c.assessment_id)
    for column, value in ((F.c.unit_code, unit_code), (A.c.province_code, province_code),
                          (A.c.district_code, district_code), (F.c.state, state), (F.c.id, follow_up_id)):
        if value:
            query = query.where(column == value)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = session.execute(query.order_by(F.c.due_at, F.c.unit_code).limit(limit).offset(offset)).mappings().all()
    return {"total": total, "limit": limit, "offset": offset,
            "items": [{"follow_up_id": r["id"], "unit_code": r["unit_code"], "area_code": r["area_code"],
                       "obligation_id": r["obligation_id"],
                       "percent": round(r["percent"], 2), "threshold": r["threshold"], "state": r["state"],
                       "plan_th": r["plan_th"], "due_at": _iso(r["due_at"]), "opened_at": _iso(r["opened_at"]),
                       "closed_at": _iso(r["closed_at"]), "province_code": r["province_code"],
                       "district_code": r["district_code"]} for r in rows]}


def teams(session, year_be: int, *, province_code: str | None = None, person: str | None = None) -> dict:
    """The round's assessor teams (of a province, or those ``person`` sits on), each with its LAOs."""
    round_ = get_round(session, year_be)
    query = select(lpa_teams.c.id).where(lpa_teams.c.round_id == round_["id"])
    if province_code:
        query = query.where(lpa_teams.c.province_code == province_code)
    if person:
        query = query.where(lpa_teams.c.id.in_(select(lpa_team_members.c.team_id).where(
            lpa_team_members.c.person == person)))
    items = []
    for (team_id,) in session.execute(query.order_by(lpa_teams.c.visit_on, lpa_teams.c.id)).all():
        team = team_of(session, team_id)
        team["assessments"] = [_summary(row) for row in session.execute(
            select(A).where(A.c.team_id == team_id).order_by(A.c.unit_code)).mappings()]
        items.append(team)
    return {"year_be": year_be, "items": items}



__all__ = ["assessment_view", "checklist", "evidence_file", "follow_ups", "may_read", "round_view", "rounds_list",
           "teams"]
