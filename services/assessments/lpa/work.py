"""The round's work, step by step: the LAO's self-assessment and evidence, the provincial office's
assessor teams, the team's scores, DLA's return for correction, and the LAO's improvement plans.

Who may act is checked here, on the facts this service keeps (the gateway has already checked the
role and the caller's subtree): an LAO acts only on its own assessment; a provincial office (or a
unit above it) forms the teams of the LAOs below it; only members of an LAO's finalised team score
it, and only its lead finalises.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from services.assessments import domain as assessment_domain
from services.assessments.lpa import domain, frameworks
from services.assessments.lpa.models import (lpa_assessments, lpa_entries, lpa_evidence, lpa_follow_ups,
                                             lpa_rounds, lpa_team_members, lpa_teams)
from services.assessments.lpa.rounds import current_units, get_round
from services.assessments.models import obligations, submission_values, submissions
from shared import orgtree
from shared.attachments import decode_attachment
from shared.contracts import utcnow
from shared.contracts.commands.lpa import (AddLpaEvidence, FormLpaTeam, ImportLpaScores, ReturnLpaAssessment,
                                           SaveFollowUpPlan, SaveSelfAssessment, ScoreLpa)
from shared.contracts.events import (IndicatorSubmitted, LpaAreaResult, LpaAssessmentFinalised,
                                     LpaAssessmentReturned, LpaFollowUpClosed, LpaSelfAssessmentSubmitted,
                                     LpaTeamFinalised, LpaTeamMember, SubmittedValue)
from shared.db import UnitOfWork, dialect_insert
from shared.errors import conflict, forbidden, invalid, not_found
from shared.thai import BANGKOK
from shared.vocabulary import NATIONAL_LEVELS, ObligationState


def assessment(session, assessment_id: str, field: str = "assessment_id") -> dict:
    row = session.execute(select(lpa_assessments).where(lpa_assessments.c.id == assessment_id)).mappings().first()
    if row is None:
        raise not_found(field, "แบบประเมิน LPA", "LPA assessment", assessment_id)
    return dict(row)


def _round_of(session, row: dict) -> dict:
    return dict(session.execute(select(lpa_rounds).where(lpa_rounds.c.id == row["round_id"])).mappings().one())


def _framework_of(session, round_: dict):
    return frameworks.load(session, round_["year_be"])


# --- the LAO's self-assessment ---------------------------------------------------------------------

def save_self_assessment(command: SaveSelfAssessment, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    row = assessment(session, command.assessment_id)
    if command.unit_code != row["unit_code"]:
        raise forbidden("assessment_id", "ประเมินตนเองได้เฉพาะ อปท. เจ้าของแบบประเมิน",
                        "only the LAO itself fills in its self-assessment")
    if row["self_state"] == "submitted":
        raise conflict("assessment_id", "ส่งแบบประเมินตนเองแล้ว แก้ไขไม่ได้", "the self-assessment is already submitted")
    round_ = _round_of(session, row)
    if now < round_["self_opens_at"]:
        raise conflict("assessment_id", "ยังไม่ถึงช่วงประเมินตนเอง", "the self-assessment window has not opened yet")
    framework = _framework_of(session, round_)
    indicators = {indicator.code: indicator for _, indicator in domain.applicable(framework, row["lao_type"])}
    domain.check_entries(indicators, command.entries, "entries", "claimed_points")
    _upsert_entries(session, row["id"], [{"indicator_code": e.indicator_code, "claimed_points": e.claimed_points,
                                          "claim_note": e.note} for e in command.entries], ("claimed_points", "claim_note"))
    claims = dict(session.execute(select(lpa_entries.c.indicator_code, lpa_entries.c.claimed_points).where(
        lpa_entries.c.assessment_id == row["id"], lpa_entries.c.claimed_points.is_not(None))).all())
    result = {"assessment_id": row["id"], "self_state": "draft", "claimed": len(claims),
              "indicators": len(indicators)}
    if not command.submit:
        return result
    missing = [code for code, indicator in indicators.items() if not indicator.pilot and code not in claims]
    if missing:
        raise invalid("entries", f"ยังไม่ได้ประเมินตนเอง {len(missing)} ตัวชี้วัด เช่น {', '.join(missing[:3])}",
                      f"{len(missing)} indicators have no claim yet, e.g. {', '.join(missing[:3])}")
    claimed = domain.totals(framework, row["lao_type"], claims)
    on_time = _obligation_reported(uow, row["obligation_id"], round(claimed.pass_value, 2), now, command.submitted_by)
    evidence = session.execute(select(lpa_evidence.c.id).where(lpa_evidence.c.assessment_id == row["id"])).all()
    session.execute(update(lpa_assessments).where(lpa_assessments.c.id == row["id"]).values(
        self_state="submitted", self_submitted_at=now, self_on_time=on_time))
    uow.add_event(LpaSelfAssessmentSubmitted(
        assessment_id=row["id"], round_id=row["round_id"], year_be=round_["year_be"], unit_code=row["unit_code"],
        submitted_at=now, on_time=on_time, claimed_percent=round(claimed.pass_value, 2), evidence=len(evidence)))
    return {**result, "self_state": "submitted", "on_time": on_time, "late": not on_time,
            "claimed_percent": round(claimed.pass_value, 2)}


def _obligation_reported(uow: UnitOfWork, obligation_id: str | None, value: float, now: datetime,
                         submitted_by: str | None) -> bool:
    """The obligation behind a self-assessment or an improvement plan is reported like any report:
    reminders stop, the checklist and the compliance dashboards count it on time or late (its
    deadline, extensions included). Answers whether it was on time."""
    obligation = uow.session.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().first()
    if obligation is None:
        return True
    on_time = assessment_domain.is_on_time(now, obligation["due_at"], obligation["extended_due_at"])
    if obligation["state"] not in (ObligationState.OPEN, ObligationState.MISSED, ObligationState.RETURNED):
        return on_time
    submission_id = str(uuid.uuid4())
    uow.session.execute(insert(submissions).values(
        id=submission_id, obligation_id=obligation["id"], unit_code=obligation["unit_code"], submitted_by=submitted_by,
        submitted_for_by_unit=None, via="form", submitted_at=now, on_time=on_time, status="accepted"))
    uow.session.execute(insert(submission_values).values(
        submission_id=submission_id, indicator_code=obligation["indicator_code"], value=value, note=None,
        target_missed=False))
    uow.session.execute(update(obligations).where(obligations.c.id == obligation["id"]).values(
        state=ObligationState.ACCEPTED))
    uow.add_event(IndicatorSubmitted(
        submission_id=submission_id, obligation_id=obligation["id"], unit_code=obligation["unit_code"],
        period=obligation["period"], values=[SubmittedValue(indicator_code=obligation["indicator_code"], value=value)],
        submitted_at=now, due_at=assessment_domain.effective_due(obligation["due_at"], obligation["extended_due_at"]),
        on_time=on_time))
    return on_time


def _upsert_entries(session, assessment_id: str | None, entries: list[dict], columns: tuple[str, ...]) -> None:
    """Write the named columns of many entries in one statement; the other columns (a claim beside a
    score) are kept. ``assessment_id`` None: each entry names its own."""
    if not entries:
        return
    statement = dialect_insert(session, lpa_entries)
    statement = statement.on_conflict_do_update(index_elements=["assessment_id", "indicator_code"],
                                                set_={name: statement.excluded[name] for name in columns})
    rows = [{"assessment_id": assessment_id, **entry} if assessment_id else entry for entry in entries]
    session.execute(statement, [{name: row.get(name) for name in ("assessment_id", "indicator_code", *columns)}
                                for row in rows])


def add_evidence(command: AddLpaEvidence, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    row = assessment(session, command.assessment_id)
    if command.unit_code != row["unit_code"]:
        raise forbidden("assessment_id", "แนบหลักฐานได้เฉพาะ อปท. เจ้าของแบบประเมิน", "only the LAO itself attaches evidence")
    if row["self_state"] == "submitted":
        raise conflict("assessment_id", "ส่งแบบประเมินตนเองแล้ว แนบหลักฐานเพิ่มไม่ได้",
                       "the self-assessment is submitted: no more evidence")
    framework = _framework_of(session, _round_of(session, row))
    if command.indicator_code not in {i.code for _, i in domain.applicable(framework, row["lao_type"])}:
        raise invalid("indicator_code", f"ตัวชี้วัด {command.indicator_code} ไม่ใช้กับ อปท. นี้",
                      f"indicator {command.indicator_code} does not apply to this LAO")
    evidence_id = str(uuid.uuid4())
    values = {"id": evidence_id, "assessment_id": row["id"], "indicator_code": command.indicator_code,
              "uploaded_by": command.uploaded_by, "uploaded_at": now}
    if command.content_base64 is not None:
        content, digest = decode_attachment(command.content_base64)
        values.update(filename=command.filename, content_type=command.content_type, size=len(content), sha256=digest,
                      content=content)
    else:
        values.update(url=command.url)
    session.execute(insert(lpa_evidence).values(**values))
    return {"evidence_id": evidence_id, "indicator_code": command.indicator_code, "size": values.get("size"),
            "sha256": values.get("sha256"), "url": values.get("url")}


# --- the provincial office's assessor teams --------------------------------------------------------

def form_team(command: FormLpaTeam, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    round_ = get_round(session, command.year_be)
    if round_["state"] != "open":
        raise conflict("year_be", "ประกาศผลรอบนี้แล้ว", "this round's results are published")
    if not round_["visit_from"] <= command.visit_on <= round_["visit_to"]:
        raise invalid("visit_on", f"วันตรวจประเมินต้องอยู่ระหว่าง {round_['visit_from']} ถึง {round_['visit_to']}",
                      f"the visit must fall between {round_['visit_from']} and {round_['visit_to']}")
    rows = session.execute(select(lpa_assessments).where(lpa_assessments.c.round_id == round_["id"],
                                                         lpa_assessments.c.unit_code.in_(command.unit_codes))
                           ).mappings().all()
    by_unit = {row["unit_code"]: dict(row) for row in rows}
    units = current_units(session, now.astimezone(BANGKOK).date())
    parent_of = {code: unit["parent_code"] for code, unit in units.items()}
    for index, code in enumerate(command.unit_codes):
        field = f"unit_codes[{index}]"
        if code not in by_unit:
            raise not_found(field, "อปท. ในรอบการประเมิน", "LAO of the round", code)
        if not _under_office(code, by_unit[code]["province_code"], command.province_code, units, parent_of):
            raise forbidden(field, f"{code} ไม่อยู่ในจังหวัดของท่าน", f"{code} is not an LAO of your province")
        if by_unit[code]["team_id"] and by_unit[code]["team_id"] != command.team_id:
            raise conflict(field, f"{code} มีทีมประเมินแล้ว", f"{code} already has a team")
        if by_unit[code]["score_state"] == "finalised":
            raise conflict(field, f"{code} สรุปผลคะแนนแล้ว", f"{code} is already finalised")
    members = [domain.Member(person=m.person, role=m.role, unit_code=m.unit_code, name_th=m.name_th)
               for m in command.members]
    if command.finalise:
        for code in command.unit_codes:
            problems = domain.team_problems(members, code, _framework_of(session, round_).min_team_members)
            if problems:
                raise problems[0]
    team_id = command.team_id
    if team_id:
        team = session.execute(select(lpa_teams).where(lpa_teams.c.id == team_id)).mappings().first()
        if team is None or team["round_id"] != round_["id"]:
            raise not_found("team_id", "ทีมประเมิน", "team", team_id)
        if team["state"] == "finalised":
            raise conflict("team_id", "ทีมประเมินนี้ยืนยันแล้ว", "this team is already finalised")
        session.execute(delete(lpa_team_members).where(lpa_team_members.c.team_id == team_id))
        session.execute(update(lpa_assessments).where(lpa_assessments.c.team_id == team_id).values(team_id=None))
        session.execute(update(lpa_teams).where(lpa_teams.c.id == team_id).values(visit_on=command.visit_on))
    else:
        team_id = str(uuid.uuid4())
        session.execute(insert(lpa_teams).values(id=team_id, round_id=round_["id"],
                                                 province_code=command.province_code, visit_on=command.visit_on,
                                                 state="draft", created_by=command.formed_by))
    session.execute(insert(lpa_team_members), [{"team_id": team_id, **m.model_dump()} for m in command.members])
    session.execute(update(lpa_assessments).where(lpa_assessments.c.round_id == round_["id"],
                                                  lpa_assessments.c.unit_code.in_(command.unit_codes)).values(
        team_id=team_id))
    state = "draft"
    if command.finalise:
        state = "finalised"
        session.execute(update(lpa_teams).where(lpa_teams.c.id == team_id).values(state=state, finalised_at=now))
        session.execute(update(lpa_assessments).where(lpa_assessments.c.team_id == team_id).values(
            score_state="draft"))
        uow.add_event(LpaTeamFinalised(
            team_id=team_id, round_id=round_["id"], year_be=round_["year_be"], province_code=command.province_code,
            unit_codes=list(command.unit_codes), visit_on=command.visit_on,
            members=[LpaTeamMember(**m.model_dump()) for m in command.members]))
    return {"team_id": team_id, "state": state, "unit_codes": list(command.unit_codes),
            "visit_on": command.visit_on.isoformat(), "members": [m.model_dump() for m in command.members]}


def _under_office(code: str, province_code: str | None, office: str | None, units: dict[str, dict],
                  parent_of: dict[str, str | None]) -> bool:
    """The office that assesses an LAO: its provincial office (or a unit above it); for an LAO outside
    every province (Bangkok, under the ministry) a national office (DLA)."""
    if not office:
        return False
    if orgtree.is_within(code, office, parent_of):
        return True
    return province_code is None and units.get(office, {}).get("level") in NATIONAL_LEVELS


def team_of(session, team_id: str | None) -> dict | None:
    if not team_id:
        return None
    team = session.execute(select(lpa_teams).where(lpa_teams.c.id == team_id)).mappings().first()
    members = session.execute(select(lpa_team_members).where(lpa_team_members.c.team_id == team_id)
                              .order_by(lpa_team_members.c.role, lpa_team_members.c.person)).mappings().all()
    return {**dict(team), "visit_on": team["visit_on"].isoformat(),
            "finalised_at": team["finalised_at"].isoformat() if team["finalised_at"] else None,
            "members": [dict(member) for member in members]}


# --- the team's scores ---------------------------------------------------------------------------

def score(command: ScoreLpa, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    row = assessment(session, command.assessment_id)
    team = team_of(session, row["team_id"])
    member = next((m for m in (team or {}).get("members", []) if m["person"] == command.scorer), None)
    if team is None or team["state"] != "finalised" or member is None:
        raise forbidden("assessment_id", "ให้คะแนนได้เฉพาะกรรมการในทีมประเมินของ อปท. นี้",
                        "only a member of this LAO's finalised team scores it")
    if row["score_state"] == "finalised":
        raise conflict("assessment_id", "สรุปผลคะแนนแล้ว แก้ไขได้เมื่อกรมส่งกลับเท่านั้น",
                       "the scores are finalised: they change only when DLA returns them")
    round_ = _round_of(session, row)
    if round_["state"] != "open":
        raise conflict("assessment_id", "ประกาศผลรอบนี้แล้ว", "this round's results are published")
    framework = _framework_of(session, round_)
    indicators = {indicator.code: indicator for _, indicator in domain.applicable(framework, row["lao_type"])}
    domain.check_entries(indicators, command.scores, "scores", "points")
    _upsert_entries(session, row["id"], [{"indicator_code": s.indicator_code, "points": s.points, "comment": s.comment,
                                          "scored_by": command.scorer, "scored_at": now} for s in command.scores],
                    ("points", "comment", "scored_by", "scored_at"))
    points = dict(session.execute(select(lpa_entries.c.indicator_code, lpa_entries.c.points).where(
        lpa_entries.c.assessment_id == row["id"], lpa_entries.c.points.is_not(None))).all())
    result = domain.totals(framework, row["lao_type"], points)
    answer = {"assessment_id": row["id"], "score_state": "draft", **result.as_dict()}
    if not command.finalise:
        session.execute(update(lpa_assessments).where(lpa_assessments.c.id == row["id"]).values(score_state="draft"))
        return answer
    if member["role"] != "lead":
        raise forbidden("finalise", "หัวหน้าทีมเท่านั้นที่สรุปผลคะแนนได้", "only the team lead finalises")
    if not result.complete:
        missing = [code for code, indicator in indicators.items() if not indicator.pilot and code not in points]
        raise invalid("scores", f"ยังไม่ได้ให้คะแนน {len(missing)} ตัวชี้วัด เช่น {', '.join(missing[:3])}",
                      f"{len(missing)} indicators have no score yet, e.g. {', '.join(missing[:3])}")
    _finalise(uow, row, round_, result, command.scorer, now)
    return {**answer, "score_state": "finalised"}


def _finalise(uow: UnitOfWork, row: dict, round_: dict, result: domain.Totals, by: str | None, now: datetime) -> None:
    uow.session.execute(update(lpa_assessments).where(lpa_assessments.c.id == row["id"]).values(
        score_state="finalised", finalised_at=now, finalised_by=by, returned_reason=None,
        points=result.points, max_points=result.max_points, pass_value=result.pass_value, passed=result.passed,
        totals=json.dumps(result.as_dict(), ensure_ascii=False)))
    uow.add_event(LpaAssessmentFinalised(
        assessment_id=row["id"], round_id=row["round_id"], year_be=round_["year_be"], unit_code=row["unit_code"],
        lao_type=row["lao_type"], province_code=row["province_code"], district_code=row["district_code"],
        points=result.points, max_points=result.max_points, pass_value=round(result.pass_value, 4),
        passed=result.passed, finalised_at=now,
        areas=[LpaAreaResult(code=a.code, name_th=a.name_th, points=a.points, max_points=a.max_points,
                             percent=round(a.percent, 4)) for a in result.areas]))


def import_scores(command: ImportLpaScores, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    """Scores of many LAOs in a handful of statements (a province's ~100 LAOs × ~45 indicators)."""
    now = now or utcnow()
    session = uow.session
    round_ = get_round(session, command.year_be)
    if round_["state"] != "open":
        raise conflict("year_be", "ประกาศผลรอบนี้แล้ว", "this round's results are published")
    framework = frameworks.load(session, command.year_be)
    codes = sorted({row.unit_code for row in command.rows})
    found = {row["unit_code"]: dict(row) for row in session.execute(select(lpa_assessments).where(
        lpa_assessments.c.round_id == round_["id"], lpa_assessments.c.unit_code.in_(codes))).mappings()}
    teams = dict(session.execute(select(lpa_teams.c.id, lpa_teams.c.state).where(
        lpa_teams.c.id.in_([row["team_id"] for row in found.values() if row["team_id"]]))).all())
    units = current_units(session, now.astimezone(BANGKOK).date())
    parent_of = {code: unit["parent_code"] for code, unit in units.items()}
    scales: dict[str | None, dict] = {}
    entries, seen = [], set()
    for index, item in enumerate(command.rows):
        field = f"rows[{index}]"
        row = found.get(item.unit_code)
        if row is None:
            raise not_found(f"{field}.unit_code", "อปท. ในรอบการประเมิน", "LAO of the round", item.unit_code)
        if not _under_office(item.unit_code, row["province_code"], command.province_code, units, parent_of):
            raise forbidden(f"{field}.unit_code", f"{item.unit_code} ไม่อยู่ในจังหวัดของท่าน",
                            f"{item.unit_code} is not an LAO of your province")
        if teams.get(row["team_id"]) != "finalised":
            raise conflict(f"{field}.unit_code", f"{item.unit_code} ยังไม่มีทีมประเมินที่ยืนยันแล้ว",
                           f"{item.unit_code} has no finalised team yet")
        if row["score_state"] == "finalised":
            raise conflict(f"{field}.unit_code", f"{item.unit_code} สรุปผลคะแนนแล้ว", f"{item.unit_code} is already finalised")
        if row["lao_type"] not in scales:
            scales[row["lao_type"]] = {i.code: i for _, i in domain.applicable(framework, row["lao_type"])}
        indicator = scales[row["lao_type"]].get(item.indicator_code)
        if indicator is None:
            raise invalid(f"{field}.indicator_code", f"ตัวชี้วัด {item.indicator_code} ไม่ใช้กับ {item.unit_code}",
                          f"indicator {item.indicator_code} does not apply to {item.unit_code}")
        if (item.unit_code, item.indicator_code) in seen:
            raise invalid(f"{field}.indicator_code", "ตัวชี้วัดซ้ำ", "an indicator appears twice for this LAO")
        seen.add((item.unit_code, item.indicator_code))
        domain.check_points(indicator, item.points, f"{field}.points")
        entries.append({"assessment_id": row["id"], "indicator_code": item.indicator_code, "points": item.points,
                        "comment": item.comment, "scored_by": command.imported_by, "scored_at": now})
    _upsert_entries(session, None, entries, ("points", "comment", "scored_by", "scored_at"))
    ids = [found[code]["id"] for code in codes]
    session.execute(update(lpa_assessments).where(lpa_assessments.c.id.in_(ids)).values(score_state="draft"))
    finalised, incomplete = [], []
    if command.finalise:
        points: dict[str, dict] = {}
        for assessment_id, code, value in session.execute(select(
                lpa_entries.c.assessment_id, lpa_entries.c.indicator_code, lpa_entries.c.points).where(
                lpa_entries.c.assessment_id.in_(ids), lpa_entries.c.points.is_not(None))):
            points.setdefault(assessment_id, {})[code] = value
        for code in codes:
            row = found[code]
            result = domain.totals(framework, row["lao_type"], points.get(row["id"], {}))
            if not result.complete:
                incomplete.append(code)
                continue
            _finalise(uow, row, round_, result, command.imported_by, now)
            finalised.append(code)
    return {"year_be": command.year_be, "rows": len(entries), "laos": len(codes), "finalised": finalised,
            "incomplete": incomplete}


def return_assessment(command: ReturnLpaAssessment, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    row = assessment(session, command.assessment_id)
    if row["score_state"] != "finalised":
        raise conflict("assessment_id", "ส่งกลับได้เฉพาะผลที่สรุปแล้ว", "only a finalised assessment can be returned")
    if _round_of(session, row)["state"] != "open":
        raise conflict("assessment_id", "ประกาศผลรอบนี้แล้ว ส่งกลับไม่ได้", "the round is published: nothing returns")
    session.execute(update(lpa_assessments).where(lpa_assessments.c.id == row["id"]).values(
        score_state="returned", returned_reason=command.reason, finalised_at=None, passed=None, pass_value=None))
    uow.add_event(LpaAssessmentReturned(assessment_id=row["id"], round_id=row["round_id"], unit_code=row["unit_code"],
                                        reason=command.reason, returned_at=now))
    return {"assessment_id": row["id"], "score_state": "returned", "reason": command.reason}


# --- follow-up of weak areas ---------------------------------------------------------------------

def save_follow_up(command: SaveFollowUpPlan, uow: UnitOfWork, *, now: datetime | None = None) -> dict:
    now = now or utcnow()
    session = uow.session
    item = session.execute(select(lpa_follow_ups).where(lpa_follow_ups.c.id == command.follow_up_id)).mappings().first()
    if item is None:
        raise not_found("follow_up_id", "รายการติดตาม", "follow-up", command.follow_up_id)
    if item["state"] == "closed":
        raise conflict("follow_up_id", "ปิดรายการติดตามแล้ว", "this follow-up is closed")
    own = command.unit_code == item["unit_code"]
    if command.plan_th is not None:
        if not own:
            raise forbidden("plan_th", "แผนพัฒนาเขียนได้เฉพาะ อปท. เจ้าของรายการ", "only the LAO writes its improvement plan")
        session.execute(update(lpa_follow_ups).where(lpa_follow_ups.c.id == item["id"]).values(plan_th=command.plan_th))
        _obligation_reported(uow, item["obligation_id"], item["percent"], now, None)
    if command.close:
        if own:
            raise forbidden("close", "อำเภอหรือจังหวัดเป็นผู้ปิดรายการติดตาม", "the district or province closes a follow-up")
        if not (command.plan_th or item["plan_th"]):
            raise conflict("close", "ยังไม่มีแผนพัฒนา", "there is no improvement plan yet")
        session.execute(update(lpa_follow_ups).where(lpa_follow_ups.c.id == item["id"]).values(
            state="closed", closed_at=now))
        uow.add_event(LpaFollowUpClosed(follow_up_id=item["id"], unit_code=item["unit_code"], closed_at=now))
    return {"follow_up_id": item["id"], "state": "closed" if command.close else item["state"],
            "plan_th": command.plan_th or item["plan_th"]}


__all__ = ["add_evidence", "assessment", "form_team", "import_scores", "return_assessment", "save_follow_up",
           "save_self_assessment", "score", "team_of"]
