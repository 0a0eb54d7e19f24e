"""The LPA's rules as functions over plain data: which indicators an LAO is assessed on, what a score
may be, the totals per area and overall, pass or fail, ranks, the areas that need a follow-up, who may
sit on an assessor team, and what changed between two years' frameworks.

- **Applicable indicators**: those whose ``lao_types`` include the LAO's type (all types when unset).
- **A score** is the points of one of the indicator's scoring levels (a team cannot invent 7 on a
  0/5/10 scale); a claim by the LAO follows the same scale.
- **Totals**: per area, the points of its applicable non-pilot indicators against their maximum;
  overall, the sum over areas. Pilot indicators are scored and shown but never counted. An
  indicator not scored counts 0 and leaves the assessment incomplete.
- **Pass**: by the framework's rule, ``average_of_areas`` (the mean of the area percentages, 2564's
  rule: at least 70 %) or ``total_percent``. Percentages are rounded to two decimals only for display;
  the comparison uses the exact value.
- **Ranks** (shared.ranking): competition ranking ("1, 2, 2, 4") by total percentage, highest first, within a group
  (a province, an LAO type).
- **Follow-up**: every area below its ``follow_up_below_percent`` opens one follow-up item.
- **Team**: at least ``min_team_members`` distinct people, exactly one lead, at least one community
  leader (ผู้นำชุมชน: seed 002), and nobody who belongs to the LAO assessed.

Pure: no database, no broker.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping

from shared.contracts.lpa_framework import LpaArea, LpaFramework, LpaIndicator
from shared.errors import InputError, invalid

TeamRole = Literal["lead", "member", "community_leader"]
TEAM_ROLES: tuple[str, ...] = ("lead", "member", "community_leader")


def applicable(framework: LpaFramework, lao_type: str | None) -> list[tuple[LpaArea, LpaIndicator]]:
    return [(area, indicator) for area, indicator in framework.indicators() if indicator.applies_to(lao_type)]


def check_points(indicator: LpaIndicator, points: float, field: str) -> float:
    """The points of one of the indicator's levels, or a 422 naming the field and the allowed scale."""
    allowed = sorted(level.points for level in indicator.levels)
    if points not in allowed:
        scale = ", ".join(f"{value:g}" for value in allowed)
        raise invalid(field, f"คะแนนของตัวชี้วัด {indicator.code} ต้องเป็นหนึ่งใน {scale}",
                  f"the points of indicator {indicator.code} must be one of {scale}")
    return points


def check_entries(indicators: Mapping[str, LpaIndicator], entries, list_field: str, points_field: str) -> None:
    """Claims or scores of one LAO: each names an indicator that applies to it, once, with points on
    that indicator's scale (None: not given yet); a 422 names the entry's field otherwise."""
    seen = set()
    for index, entry in enumerate(entries):
        field = f"{list_field}[{index}]"
        if entry.indicator_code not in indicators:
            raise invalid(f"{field}.indicator_code", f"ตัวชี้วัด {entry.indicator_code} ไม่ใช้กับ อปท. นี้",
                          f"indicator {entry.indicator_code} does not apply to this LAO")
        if entry.indicator_code in seen:
            raise invalid(f"{field}.indicator_code", "ตัวชี้วัดซ้ำ", "an indicator appears twice")
        seen.add(entry.indicator_code)
        points = getattr(entry, points_field)
        if points is not None:
            check_points(indicators[entry.indicator_code], points, f"{field}.{points_field}")


@dataclass(frozen=True)
class AreaTotal:
    code: str
    name_th: str
    points: float
    max_points: float
    scored: int          # counted indicators with a score
    counted: int         # counted (non-pilot) applicable indicators
    pilot_points: float  # shown, not counted

    @property
    def percent(self) -> float:
        return 100 * self.points / self.max_points if self.max_points else 0.0


@dataclass(frozen=True)
class Totals:
    areas: list[AreaTotal]
    points: float
    max_points: float
    complete: bool
    passed: bool
    pass_value: float    # the figure the pass rule compares (percent)
    threshold: float

    @property
    def percent(self) -> float:
        return 100 * self.points / self.max_points if self.max_points else 0.0

    def as_dict(self) -> dict:
        return {"points": self.points, "max_points": self.max_points, "percent": round(self.percent, 2),
                "pass_value": round(self.pass_value, 2), "threshold": self.threshold, "passed": self.passed,
                "complete": self.complete,
                "areas": [{"code": a.code, "name_th": a.name_th, "points": a.points, "max_points": a.max_points,
                           "percent": round(a.percent, 2), "scored": a.scored, "counted": a.counted,
                           "pilot_points": a.pilot_points} for a in self.areas]}


def totals(framework: LpaFramework, lao_type: str | None, points: Mapping[str, float]) -> Totals:
    """Totals of one LAO from its points per indicator code (missing = not scored)."""
    areas = []
    for area in framework.areas:
        own = [indicator for indicator in area.indicators if indicator.applies_to(lao_type)]
        counted = [indicator for indicator in own if not indicator.pilot]
        if not own:
            continue
        areas.append(AreaTotal(
            code=area.code, name_th=area.name_th,
            points=sum(points.get(indicator.code, 0.0) for indicator in counted),
            max_points=sum(indicator.max_points for indicator in counted),
            scored=sum(1 for indicator in counted if indicator.code in points), counted=len(counted),
            pilot_points=sum(points.get(indicator.code, 0.0) for indicator in own if indicator.pilot)))
    total_points = sum(area.points for area in areas)
    total_max = sum(area.max_points for area in areas)
    rule = framework.pass_rule
    counted_areas = [area for area in areas if area.max_points]
    if rule.kind == "average_of_areas":
        value = sum(area.percent for area in counted_areas) / len(counted_areas) if counted_areas else 0.0
    else:
        value = 100 * total_points / total_max if total_max else 0.0
    complete = all(area.scored == area.counted for area in areas)
    return Totals(areas=areas, points=total_points, max_points=total_max, complete=complete,
                  passed=value >= rule.threshold_percent, pass_value=value, threshold=rule.threshold_percent)


def weak_areas(framework: LpaFramework, result: Totals) -> list[AreaTotal]:
    """Areas below their follow-up threshold: each opens one follow-up item for the LAO."""
    thresholds = {area.code: area.follow_up_below_percent for area in framework.areas}
    return [area for area in result.areas
            if thresholds.get(area.code) is not None and area.max_points and area.percent < thresholds[area.code]]


@dataclass(frozen=True)
class Member:
    person: str                  # a username, or a community leader's name when without an account
    role: str
    unit_code: str | None = None  # the unit the person works for (None for a community leader)
    name_th: str | None = None


def team_problems(members: Iterable[Member], lao_code: str, min_members: int) -> list[InputError]:
    """What stops a team from being finalised for ``lao_code`` (empty = it may be)."""
    members = list(members)
    problems = []
    people = [member.person for member in members]
    if len(set(people)) != len(people):
        problems.append(InputError("invalid", "members", "มีรายชื่อกรรมการซ้ำ", "a person is listed twice"))
    if len(set(people)) < min_members:
        problems.append(InputError("team_incomplete", "members",
                                   f"ทีมประเมินต้องมีกรรมการอย่างน้อย {min_members} คน (มี {len(set(people))} คน)",
                                   f"an assessor team needs at least {min_members} members (it has {len(set(people))})",
                                   status=409))
    if not any(member.role == "community_leader" for member in members):
        problems.append(InputError("community_leader_required", "members",
                                   "ทีมประเมินต้องมีผู้นำชุมชนอย่างน้อยหนึ่งคน",
                                   "an assessor team needs at least one community leader", status=409))
    leads = [member for member in members if member.role == "lead"]
    if len(leads) != 1:
        problems.append(InputError("invalid", "members", "ทีมประเมินต้องมีหัวหน้าทีมหนึ่งคน",
                                   "an assessor team has exactly one lead", status=409 if members else 422))
    insiders = [member.person for member in members if member.unit_code == lao_code]
    if insiders:
        problems.append(InputError("conflict_of_interest", "members",
                                   f"ผู้สังกัด {lao_code} ประเมินหน่วยงานของตนเองไม่ได้: {', '.join(insiders)}",
                                   f"nobody assesses an LAO they belong to: {', '.join(insiders)}", status=409))
    return problems


@dataclass
class Change:
    kind: str                    # area_added, area_removed, indicator_added, indicator_removed, indicator_changed
    code: str
    area: str | None = None
    fields: dict = field(default_factory=dict)   # field -> (before, after)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "code": self.code, "area": self.area,
                "fields": {name: {"before": before, "after": after} for name, (before, after) in self.fields.items()}}


COMPARED = ("name_th", "max_points", "lao_types", "pilot", "evidence_th")


def changes(previous: LpaFramework | None, current: LpaFramework) -> list[Change]:
    """What changed from the previous year's framework to this one, area by area, indicator by indicator."""
    if previous is None:
        return [Change("area_added", area.code) for area in current.areas]
    found: list[Change] = []
    before_areas = {area.code: area for area in previous.areas}
    after_areas = {area.code: area for area in current.areas}
    found += [Change("area_added", code) for code in after_areas if code not in before_areas]
    found += [Change("area_removed", code) for code in before_areas if code not in after_areas]
    before = {indicator.code: (area.code, indicator) for area, indicator in previous.indicators()}
    after = {indicator.code: (area.code, indicator) for area, indicator in current.indicators()}
    for code, (area, indicator) in after.items():
        if code not in before:
            found.append(Change("indicator_added", code, area))
            continue
        old_area, old = before[code]
        diff = {name: (getattr(old, name), getattr(indicator, name)) for name in COMPARED
                if getattr(old, name) != getattr(indicator, name)}
        if old_area != area:
            diff["area"] = (old_area, area)
        old_scale = [(level.points, level.description_th) for level in old.levels]
        new_scale = [(level.points, level.description_th) for level in indicator.levels]
        if old_scale != new_scale:
            diff["levels"] = ([points for points, _ in old_scale], [points for points, _ in new_scale])
        if diff:
            found.append(Change("indicator_changed", code, area, diff))
    found += [Change("indicator_removed", code, area) for code, (area, _) in before.items() if code not in after]
    return found


__all__ = ["AreaTotal", "Change", "Member", "TEAM_ROLES", "TeamRole", "Totals", "applicable", "changes",
           "check_entries", "check_points", "team_problems", "totals", "weak_areas"]
