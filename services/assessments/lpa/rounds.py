"""A round: central opens the year for every LAO in scope (each gets its assessment and a
self-assessment obligation, reminded and escalated like any report), and publishes the results.

Opening is set-based: a national round (~7,850 LAOs) is a handful of statements, and the obligations
are announced with the platform's own ``assessments.obligation_opened.v1``, so reminders, escalations
and the compliance checklist of every district and province work for the LPA as for any report.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, insert, or_, select, update

from services.assessments.lpa import frameworks
from services.assessments.lpa.models import lpa_assessments, lpa_follow_ups, lpa_rounds
from services.assessments.domain import DEFAULTS, Settings
from services.assessments.models import obligations, org_units
from shared import orgtree
from shared.ranking import ranks_within
from shared.calendar import period_bounds
from shared.contracts import utcnow
from shared.contracts.commands.lpa import OpenLpaRound, PublishLpaRound
from shared.contracts.events import LpaFollowUpOpened, LpaResultsPublished, LpaRoundOpened, ObligationOpened
from shared.db import UnitOfWork
from shared.errors import conflict, invalid, not_found
from shared.thai import BANGKOK
from shared.vocabulary import DISTRICT_LEVEL, LAO_LEVEL, PROVINCE_LEVEL, ObligationState

SELF_ASSESSMENT = "LPA"          # the indicator code naming a self-assessment obligation: LPA-2569
FOLLOW_UP = "LPA-FU"             # and a follow-up's: LPA-FU-2569-FIN
FOLLOW_UP_DAYS = 90              # an improvement plan is due this long after publication


def self_assessment_code(year_be: int) -> str:
    return f"{SELF_ASSESSMENT}-{year_be}"


def current_units(session, day) -> dict[str, dict]:
    """Every unit's version holding on ``day`` (code → row)."""
    rows = session.execute(select(org_units.c.code, org_units.c.level, org_units.c.lao_type,
                                  org_units.c.parent_code).where(
        org_units.c.valid_from <= day, or_(org_units.c.valid_to.is_(None), org_units.c.valid_to > day))).mappings()
    return {row["code"]: dict(row) for row in rows}


def laos_in_scope(units: dict[str, dict], scope_code: str | None) -> list[dict]:
    parent_of = {code: row["parent_code"] for code, row in units.items()}
    level_of = {code: row["level"] for code, row in units.items()}
    within = orgtree.subtree(scope_code, parent_of) if scope_code else None
    found = []
    for code, row in sorted(units.items()):
        if row["level"] != LAO_LEVEL or (within is not None and code not in within):
            continue
        found.append({**row, "province_code": orgtree.ancestor_at(code, parent_of, level_of, PROVINCE_LEVEL),
                      "district_code": orgtree.ancestor_at(code, parent_of, level_of, DISTRICT_LEVEL)})
    return found


def get_round(session, year_be: int, field: str = "year_be") -> dict:
    row = session.execute(select(lpa_rounds).where(lpa_rounds.c.year_be == year_be)).mappings().first()
    if row is None:
        raise not_found(field, "รอบการประเมิน LPA ปี", "LPA round of year", year_be)
    return dict(row)


def obligation_row(*, unit_code: str, source_key: str, code: str, name_th: str, period: str, opens_at: datetime,
                   due_at: datetime, correlation_id: str | None, now: datetime, settings: Settings) -> dict:
    start, end = period_bounds(period)
    return {"id": str(uuid.uuid4()), "unit_code": unit_code, "source_key": source_key, "rule_id": None,
            "directive_id": None, "assignment_id": None, "indicator_code": code, "indicator_name_th": name_th,
            "indicator_codes": json.dumps([code]), "period": period, "period_start": start, "period_end": end,
            "opens_at": opens_at, "due_at": due_at, "extended_due_at": None, "closes_at": due_at + settings.closes_after,
            "state": ObligationState.OPEN, "missed_at": None, "correlation_id": correlation_id, "created_at": now}


def announce(uow: UnitOfWork, rows: list[dict]) -> None:
    """Insert obligations and announce each (the platform's obligation_opened)."""
    if not rows:
        return
    uow.session.execute(insert(obligations), rows)
    for row in rows:
        uow.add_event(ObligationOpened(
            obligation_id=row["id"], unit_code=row["unit_code"], indicator_code=row["indicator_code"],
            indicator_name_th=row["indicator_name_th"], indicator_codes=json.loads(row["indicator_codes"]),
            period=row["period"], opens_at=row["opens_at"], due_at=row["due_at"], closes_at=row["closes_at"]))


def open_round(command: OpenLpaRound, uow: UnitOfWork, *, now: datetime | None = None,
               settings: Settings = DEFAULTS) -> dict:
    now = now or utcnow()
    session = uow.session
    framework = frameworks.load(session, command.year_be)
    if session.execute(select(lpa_rounds.c.id).where(lpa_rounds.c.year_be == command.year_be)).first():
        raise conflict("year_be", f"เปิดรอบการประเมินปี {command.year_be} แล้ว", f"the {command.year_be} round is already open")
    opens_at = command.self_opens_at or now
    if command.self_due_at <= now:
        raise invalid("self_due_at", "กำหนดส่งการประเมินตนเองต้องอยู่ในอนาคต", "self_due_at must be in the future")
    units = current_units(session, now.astimezone(BANGKOK).date())
    if command.scope_code and command.scope_code not in units:
        raise not_found("scope_code", "หน่วยงาน", "unit", command.scope_code)
    laos = laos_in_scope(units, command.scope_code)
    if not laos:
        raise invalid("scope_code", "ไม่มี อปท. ในขอบเขตนี้", "there is no LAO in this scope")
    round_id = str(uuid.uuid4())
    session.execute(insert(lpa_rounds).values(
        id=round_id, year_be=command.year_be, scope_code=command.scope_code or "*", self_opens_at=opens_at,
        self_due_at=command.self_due_at, visit_from=command.visit_from, visit_to=command.visit_to,
        publish_on=command.publish_on, state="open", opened_by=command.opened_by, opened_at=now))
    code = self_assessment_code(command.year_be)
    name_th = f"การประเมินตนเอง LPA ประจำปี พ.ศ. {command.year_be}"
    period = f"FY{command.year_be}"
    obligation_rows, assessment_rows = [], []
    for lao in laos:
        row = obligation_row(unit_code=lao["code"], source_key=f"lpa:{round_id}", code=code, name_th=name_th,
                             period=period, opens_at=opens_at, due_at=command.self_due_at,
                             correlation_id=uow.correlation_id, now=now, settings=settings)
        obligation_rows.append(row)
        assessment_rows.append({
            "id": str(uuid.uuid4()), "round_id": round_id, "unit_code": lao["code"], "lao_type": lao["lao_type"],
            "province_code": lao["province_code"], "district_code": lao["district_code"],
            "obligation_id": row["id"], "self_state": "draft", "score_state": "pending"})
    session.execute(insert(lpa_assessments), assessment_rows)
    announce(uow, obligation_rows)
    uow.add_event(LpaRoundOpened(round_id=round_id, year_be=command.year_be, name_th=framework.name_th,
                                 scope_code=command.scope_code, units=len(laos), self_due_at=command.self_due_at,
                                 visit_from=command.visit_from, visit_to=command.visit_to,
                                 publish_on=command.publish_on))
    return {"round_id": round_id, "year_be": command.year_be, "units": len(laos), "obligations": len(obligation_rows),
            "self_due_at": command.self_due_at.isoformat()}


def publish_round(command: PublishLpaRound, uow: UnitOfWork, *, now: datetime | None = None,
                  settings: Settings = DEFAULTS) -> dict:
    """Results become final: ranks within province and LAO type, and a follow-up for every weak area.
    Every LAO's assessment must be finalised first (the answer names how many are not)."""
    now = now or utcnow()
    session = uow.session
    round_ = get_round(session, command.year_be)
    if round_["state"] == "published":
        raise conflict("year_be", "ประกาศผลรอบนี้แล้ว", "this round's results are already published")
    pending = session.execute(select(func.count()).select_from(lpa_assessments).where(
        lpa_assessments.c.round_id == round_["id"], lpa_assessments.c.score_state != "finalised")).scalar()
    if pending:
        raise conflict("year_be", f"ยังมี อปท. {pending:,} แห่งที่ยังไม่ได้สรุปผลคะแนน",
                       f"{pending:,} LAOs are not finalised yet")
    framework = frameworks.load(session, command.year_be)
    rows = session.execute(select(lpa_assessments).where(lpa_assessments.c.round_id == round_["id"])).mappings().all()
    values = {row["id"]: row["pass_value"] or 0.0 for row in rows}
    by_province = ranks_within(values, {row["id"]: row["province_code"] for row in rows})
    by_type = ranks_within(values, {row["id"]: row["lao_type"] for row in rows})
    session.execute(update(lpa_assessments).where(lpa_assessments.c.id == bindparam("b_id")).values(
        rank_province=bindparam("b_province"), rank_lao_type=bindparam("b_type")),
        [{"b_id": row["id"], "b_province": by_province[row["id"]], "b_type": by_type[row["id"]]} for row in rows])
    session.execute(update(lpa_rounds).where(lpa_rounds.c.id == round_["id"]).values(state="published",
                                                                                      published_at=now))
    follow_ups = _open_follow_ups(uow, framework, round_, rows, now, settings)
    passed = sum(1 for row in rows if row["passed"])
    uow.add_event(LpaResultsPublished(round_id=round_["id"], year_be=command.year_be, publish_on=round_["publish_on"],
                                      published_at=now, assessed=len(rows), passed=passed))
    return {"year_be": command.year_be, "assessed": len(rows), "passed": passed, "follow_ups": follow_ups,
            "publish_on": round_["publish_on"].isoformat()}


def _open_follow_ups(uow: UnitOfWork, framework, round_: dict, rows, now: datetime, settings: Settings) -> int:
    names = {area.code: area.name_th for area in framework.areas}
    due_at = now + timedelta(days=FOLLOW_UP_DAYS)
    items, obligation_rows = [], []
    for row in rows:
        for area in json.loads(row["totals"] or "{}").get("areas", []):
            threshold = next((a.follow_up_below_percent for a in framework.areas if a.code == area["code"]), None)
            if threshold is None or not area["max_points"] or area["percent"] >= threshold:
                continue
            code = f"{FOLLOW_UP}-{round_['year_be']}-{area['code']}"
            obligation = obligation_row(
                unit_code=row["unit_code"], source_key=f"lpa-follow-up:{row['id']}:{area['code']}", code=code,
                name_th=f"แผนพัฒนาจุดอ่อน LPA {round_['year_be']}: {names.get(area['code'], area['code'])}",
                period=f"FY{round_['year_be']}", opens_at=now, due_at=due_at, correlation_id=uow.correlation_id,
                now=now, settings=settings)
            obligation_rows.append(obligation)
            items.append({"id": str(uuid.uuid4()), "assessment_id": row["id"], "round_id": round_["id"],
                          "unit_code": row["unit_code"], "area_code": area["code"], "percent": area["percent"],
                          "threshold": threshold, "obligation_id": obligation["id"], "due_at": due_at,
                          "state": "open", "opened_at": now})
    if items:
        uow.session.execute(insert(lpa_follow_ups), items)
        announce(uow, obligation_rows)
        for item in items:
            uow.add_event(LpaFollowUpOpened(
                follow_up_id=item["id"], assessment_id=item["assessment_id"], round_id=item["round_id"],
                year_be=round_["year_be"], unit_code=item["unit_code"], area_code=item["area_code"],
                area_name_th=names.get(item["area_code"], item["area_code"]), percent=item["percent"],
                threshold=item["threshold"], due_at=due_at))
    return len(items)


__all__ = ["FOLLOW_UP", "SELF_ASSESSMENT", "announce", "current_units", "get_round", "laos_in_scope", "open_round",
           "publish_round", "self_assessment_code"]
