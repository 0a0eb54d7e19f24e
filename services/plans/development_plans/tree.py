"""The plan tree: the flat rows a plan document becomes, and the checks on the way.

``flatten(document)`` checks a normalized ``PlanDocument`` (unique ids in one namespace per plan,
parent references, no cycles, fiscal years inside the plan period, links within and out of the
plan) and returns a ``FlatPlan``: elements parents first, indicators with their declared-total
flags (a mismatch is kept and flagged, never corrected), yearly targets by scope and links. Every
problem is an ``InputError`` naming the field in the normalized document; ``reading.read_plan``
maps it back to the field in the file as given.

Pure Python (pydantic models of the contract), no database, no framework.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.contracts.plan_document import (GOAL, INDICATOR, ISSUE, PERCENT_UNITS, STRATEGY, Element, Goal,
                                            Indicator, PlanDocument, PlanHeader, Strategy, plain_number)
from shared.errors import InputError
from shared.vocabulary import canonical_direction

PARENT_PLAN = "parent_plan"   # relation of a plan-level link built from plan.parent_plan_ids
COUNT_UNITS = {"count", "จำนวน", "times", "ครั้ง", "places", "แห่ง", "villages", "หมู่",
               "persons", "คน"}
# The list each kind of element sits in within its parent (the normalized document's layout):
# a kind not named here is a generic element (programme, project, tactic ...) in ``elements``.
LIST_OF_KIND = {"strategic_issue": "strategic_issues", "goal": "goals", "strategy": "strategies",
                "indicator": "indicators"}
CHILD_LISTS = {"strategic_issue": ("goals", "strategies", "elements"),
               "goal": ("indicators", "elements"), "strategy": ("elements",),
               "indicator": ()}


@dataclass
class FlatElement:
    code: str
    kind: str
    parent_code: str | None
    list_name: str
    position: int
    title_th: str
    title_en: str | None
    attributes: dict
    path: str
    depth: int = 0


@dataclass
class FlatIndicator:
    code: str
    unit: str | None
    unit_th: str | None
    value_type: str
    direction: str | None
    direction_basis: str | None
    subject: str | None
    targets_status: str
    declared_total: float | None
    declared_total_printed: str | None
    total_semantics: str | None
    total_semantics_inferred: bool
    flags: list[dict]
    name_th: str
    name_en: str | None


@dataclass
class FlatTarget:
    indicator_code: str
    scope: str
    unit_code: str | None
    unit_group: str | None
    fiscal_year_be: int
    value: float | None
    printed: str | None
    provenance: str | None
    inferred: bool
    path: str

    @property
    def key(self) -> tuple:
        return (self.indicator_code, self.scope, self.fiscal_year_be)


@dataclass
class FlatLink:
    from_code: str | None
    relation: str
    to_plan_id: str
    to_code: str | None
    basis: str
    position: int
    attributes: dict
    path: str

    @property
    def key(self) -> tuple:
        return (self.from_code, self.relation, self.to_plan_id, self.to_code)


@dataclass
class FlatPlan:
    header: dict
    elements: list[FlatElement]          # parents before children
    indicators: dict[str, FlatIndicator]
    targets: list[FlatTarget]
    links: list[FlatLink]

    @property
    def plan_id(self) -> str:
        return self.header["id"]

    def count(self, kind: str) -> int:
        return sum(1 for e in self.elements if e.kind == kind)


def _invalid(code: str, path: str, message_th: str, message_en: str) -> InputError:
    return InputError(code, path, message_th, message_en, status=422)


@dataclass
class _Node:
    code: str
    kind: str
    list_name: str
    model: Any
    path: str
    parent_code: str | None
    ref_field: str | None = None   # plan-level items: the field that names their parent


def flatten(document: PlanDocument) -> FlatPlan:
    """Check the tree (unique ids, references, years in the plan period, links) and flatten it."""
    plan = document.plan
    if plan.period_be_start > plan.period_be_end:
        raise _invalid("invalid", "plan.period_be_end", "ปีสิ้นสุดแผนต้องไม่ก่อนปีเริ่มต้น",
                       "the plan period must not end before it starts")
    nodes: list[_Node] = []

    def add_element(element: Element, path: str, parent: str | None, ref: str | None = None):
        if ref is None and element.parent_id not in (None, parent):
            raise _invalid("invalid_reference", f"{path}.parent_id",
                           f"องค์ประกอบซ้อนอยู่ใต้ {parent} แต่ระบุ parent_id {element.parent_id}",
                           f"the element sits under {parent} but names parent {element.parent_id}")
        nodes.append(_Node(element.id, element.kind, "elements", element, path, parent, ref))
        for m, child in enumerate(element.elements):
            add_element(child, f"{path}.elements[{m}]", element.id)

    def add_goal(goal: Goal, path: str, parent: str | None, ref: str | None = None):
        nodes.append(_Node(goal.id, GOAL, "goals", goal, path, parent, ref))
        for k, indicator in enumerate(goal.indicators):
            ipath = f"{path}.indicators[{k}]"
            if indicator.goal_id not in (None, goal.id):
                raise _invalid("invalid_reference", f"{ipath}.goal_id",
                               f"ตัวชี้วัดอยู่ใต้เป้าประสงค์ {goal.id} แต่ระบุ goal_id {indicator.goal_id}",
                               f"the indicator sits under goal {goal.id} but names goal "
                               f"{indicator.goal_id}")
            nodes.append(_Node(indicator.id, INDICATOR, "indicators", indicator, ipath, goal.id))
        for m, element in enumerate(goal.elements):
            add_element(element, f"{path}.elements[{m}]", goal.id)

    def add_strategy(strategy: Strategy, path: str, parent: str | None, ref: str | None = None):
        nodes.append(_Node(strategy.id, STRATEGY, "strategies", strategy, path, parent, ref))
        for m, element in enumerate(strategy.elements):
            add_element(element, f"{path}.elements[{m}]", strategy.id)

    for i, issue in enumerate(document.strategic_issues):
        path = f"strategic_issues[{i}]"
        nodes.append(_Node(issue.id, ISSUE, "strategic_issues", issue, path, None))
        for j, goal in enumerate(issue.goals):
            if goal.issue_id not in (None, issue.id):
                raise _invalid("invalid_reference", f"{path}.goals[{j}].issue_id",
                               f"เป้าประสงค์อยู่ใต้ประเด็น {issue.id} แต่ระบุ issue_id {goal.issue_id}",
                               f"the goal sits under issue {issue.id} but names issue {goal.issue_id}")
            add_goal(goal, f"{path}.goals[{j}]", issue.id)
        for j, strategy in enumerate(issue.strategies):
            if strategy.issue_id not in (None, issue.id):
                raise _invalid("invalid_reference", f"{path}.strategies[{j}].issue_id",
                               f"กลยุทธ์อยู่ใต้ประเด็น {issue.id} แต่ระบุ issue_id {strategy.issue_id}",
                               f"the strategy sits under issue {issue.id} but names issue "
                               f"{strategy.issue_id}")
            add_strategy(strategy, f"{path}.strategies[{j}]", issue.id)
        for j, element in enumerate(issue.elements):
            add_element(element, f"{path}.elements[{j}]", issue.id)
    for j, goal in enumerate(document.goals):
        add_goal(goal, f"goals[{j}]", goal.issue_id, "issue_id" if goal.issue_id else None)
    for j, strategy in enumerate(document.strategies):
        add_strategy(strategy, f"strategies[{j}]", strategy.issue_id,
                     "issue_id" if strategy.issue_id else None)
    for j, indicator in enumerate(document.indicators):
        nodes.append(_Node(indicator.id, INDICATOR, "indicators", indicator, f"indicators[{j}]",
                           indicator.goal_id, "goal_id" if indicator.goal_id else None))
    for j, element in enumerate(document.elements):
        add_element(element, f"elements[{j}]", element.parent_id,
                    "parent_id" if element.parent_id else None)

    # one namespace of ids per plan
    by_code: dict[str, _Node] = {}
    for node in nodes:
        if node.code in by_code:
            raise _invalid("duplicate_id", f"{node.path}.id",
                           f"รหัส {node.code} ซ้ำกับ {by_code[node.code].path}",
                           f"id {node.code} is used twice (also at {by_code[node.code].path})")
        by_code[node.code] = node

    # references of plan-level items to their parents
    wanted = {"issue_id": (ISSUE,), "goal_id": (GOAL,)}
    for node in nodes:
        if node.ref_field is None:
            continue
        parent = by_code.get(node.parent_code)
        allowed = wanted.get(node.ref_field)
        if parent is None:
            what_th = {"issue_id": "ประเด็นยุทธศาสตร์", "goal_id": "เป้าประสงค์"}.get(
                node.ref_field, "องค์ประกอบแม่")
            raise _invalid("unknown_reference", f"{node.path}.{node.ref_field}",
                           f"ไม่พบ{what_th} {node.parent_code} ในแผนนี้",
                           f"{node.ref_field} {node.parent_code} does not exist in this plan")
        if (allowed and parent.kind not in allowed) or parent.kind == INDICATOR:
            raise _invalid("invalid_reference", f"{node.path}.{node.ref_field}",
                           f"{node.parent_code} เป็น {parent.kind} ซึ่งเป็นแม่ของรายการนี้ไม่ได้",
                           f"{node.parent_code} is a {parent.kind} and cannot be the parent here")

    depth: dict[str, int] = {}
    for node in nodes:
        chain, current = [], node
        while current.code not in depth and current.parent_code is not None:
            if current.code in chain:
                raise _invalid("invalid_reference", f"{node.path}.{node.ref_field or 'parent_id'}",
                               "การอ้างอิงองค์ประกอบแม่วนกลับมาที่ตัวเอง",
                               "the parent references form a cycle")
            chain.append(current.code)
            current = by_code[current.parent_code]
        level = depth.setdefault(current.code, 0)
        for code in reversed(chain):
            level += 1
            depth[code] = level

    positions: dict[tuple, int] = {}
    elements: list[FlatElement] = []
    for node in nodes:
        slot = (node.parent_code, node.list_name)
        position = positions.get(slot, 0)
        positions[slot] = position + 1
        model = node.model
        title_th = model.name_th if node.kind == INDICATOR else model.title_th
        title_en = model.name_en if node.kind == INDICATOR else model.title_en
        elements.append(FlatElement(node.code, node.kind, node.parent_code, node.list_name,
                                    position, title_th, title_en, dict(model.attributes),
                                    node.path, depth[node.code]))
    elements.sort(key=lambda e: e.depth)   # stable: parents before children

    indicators: dict[str, FlatIndicator] = {}
    targets: list[FlatTarget] = []
    for node in nodes:
        if node.kind == INDICATOR:
            indicator_targets = _targets_of(node.model, node.path, plan)
            targets.extend(indicator_targets)
            indicators[node.code] = _flat_indicator(node.model, node.path, indicator_targets)

    links = _links_of(document, by_code)
    header = {
        "id": plan.id, "plan_type": plan.type, "owner_code": plan.owner_code,
        "owner_name_th": plan.owner_name_th, "owner_name_en": plan.owner_name_en,
        "title_th": plan.title_th, "title_en": plan.title_en,
        "period_be_start": plan.period_be_start, "period_be_end": plan.period_be_end,
        "details": {
            "vision": plan.vision.model_dump(mode="json") if plan.vision else None,
            "missions": [m.model_dump(mode="json") for m in plan.missions],
            "values": plan.values.model_dump(mode="json") if plan.values else None,
            "attributes": dict(plan.attributes),
            "source": dict(document.source),
        },
    }
    return FlatPlan(header, elements, indicators, targets, links)


def _targets_of(indicator: Indicator, path: str, plan: PlanHeader) -> list[FlatTarget]:
    if indicator.targets_status == "not_stated" and (indicator.targets or indicator.unit_targets):
        raise _invalid("invalid", f"{path}.targets_status",
                       "ระบุว่าไม่มีค่าเป้าหมาย (not_stated) แต่มีค่าเป้าหมายรายปี",
                       "targets_status is not_stated but yearly targets are given")
    scopes = [("plan", None, None, indicator.targets, f"{path}.targets")]
    seen: dict[str, int] = {}
    for u, unit_targets in enumerate(indicator.unit_targets):
        scope = (f"unit:{unit_targets.unit_code}" if unit_targets.unit_code
                 else f"group:{unit_targets.unit_group}")
        if scope in seen:
            raise _invalid("duplicate_id", f"{path}.unit_targets[{u}]",
                           f"ค่าเป้าหมายของ {scope} ซ้ำกับ unit_targets[{seen[scope]}]",
                           f"targets for {scope} are given twice (also unit_targets[{seen[scope]}])")
        seen[scope] = u
        scopes.append((scope, unit_targets.unit_code, unit_targets.unit_group,
                       unit_targets.targets, f"{path}.unit_targets[{u}].targets"))
    flat = []
    for scope, unit_code, unit_group, by_year, tpath in scopes:
        for year in sorted(by_year):
            if not plan.period_be_start <= year <= plan.period_be_end:
                raise _invalid(
                    "year_outside_period", f"{tpath}[{year}]",
                    f"ปีงบประมาณ {year} อยู่นอกช่วงของแผน พ.ศ. {plan.period_be_start}-{plan.period_be_end}",
                    f"fiscal year {year} is outside the plan period "
                    f"B.E. {plan.period_be_start}-{plan.period_be_end}")
            target = by_year[year]
            flat.append(FlatTarget(indicator.id, scope, unit_code, unit_group, year, target.value,
                                   target.printed, target.provenance, target.inferred,
                                   f"{tpath}[{year}]"))
    return flat


def value_type_for(unit: str | None, unit_th: str | None) -> str:
    names = {u for u in (unit, unit_th) if u}
    if names & PERCENT_UNITS:
        return "percent"
    if names & COUNT_UNITS:
        return "count"
    return "number"


def _flat_indicator(indicator: Indicator, path: str, targets: list[FlatTarget]) -> FlatIndicator:
    has_targets = bool(targets)
    status = indicator.targets_status or ("stated" if has_targets else "not_stated")
    total = indicator.declared_total
    flags = []
    if total is not None and total.value is not None:
        yearly = [(t.fiscal_year_be, t.value) for t in targets
                  if t.scope == "plan" and t.value is not None]
        values = [v for _, v in yearly]
        if total.semantics == "SUM":
            expected, ok = sum(values), sum(values) == total.value
        elif total.semantics == "CONSTANT":
            expected, ok = (values[0] if values else None), all(v == total.value for v in values)
        else:  # LAST
            expected = values[-1] if values else None
            ok = expected == total.value
        if not ok:
            declared, computed = plain_number(total.value), plain_number(expected)
            what_th = {"SUM": "ผลรวมค่าเป้าหมายรายปี", "CONSTANT": "ค่าเป้าหมายรายปี",
                       "LAST": "ค่าเป้าหมายปีสุดท้าย"}[total.semantics]
            what_en = {"SUM": "the sum of the yearly targets", "CONSTANT": "the yearly targets",
                       "LAST": "the last yearly target"}[total.semantics]
            flags.append({
                "code": "declared_total_mismatch",
                "message_th": f"ยอดรวมที่ระบุ ({declared}) ไม่ตรงกับ{what_th} ({computed}) "
                              "เก็บไว้ทั้งสองค่า ไม่ได้แก้ไข",
                "message_en": f"declared total {declared} differs from {what_en} ({computed}); "
                              "both values kept, not corrected",
                "details": {"declared_total": declared, "computed_total": computed,
                            "semantics": total.semantics,
                            "yearly_targets": {str(y): plain_number(v) for y, v in yearly}},
            })
    return FlatIndicator(
        code=indicator.id, unit=indicator.unit, unit_th=indicator.unit_th,
        value_type=indicator.value_type or value_type_for(indicator.unit, indicator.unit_th),
        direction=indicator.direction, direction_basis=indicator.direction_basis,
        subject=indicator.subject, targets_status=status,
        declared_total=total.value if total else None,
        declared_total_printed=total.printed if total else None,
        total_semantics=total.semantics if total else None,
        total_semantics_inferred=total.semantics_inferred if total else False,
        flags=flags, name_th=indicator.name_th, name_en=indicator.name_en)


def _links_of(document: PlanDocument, by_code: dict[str, _Node]) -> list[FlatLink]:
    plan = document.plan
    links: list[FlatLink] = []
    seen: dict[tuple, str] = {}
    for i, parent_id in enumerate(plan.parent_plan_ids):
        path = f"plan.parent_plan_ids[{i}]"
        if parent_id == plan.id:
            raise _invalid("invalid_reference", path, "แผนเป็นแผนแม่ของตัวเองไม่ได้",
                           "a plan cannot be its own parent plan")
        links.append(FlatLink(None, PARENT_PLAN, parent_id, None, "stated", i, {}, path))
    for i, link in enumerate(document.links):
        path = f"links[{i}]"
        if link.relation == PARENT_PLAN:
            raise _invalid("invalid", f"{path}.relation", "ใช้ plan.parent_plan_ids สำหรับแผนแม่",
                           "use plan.parent_plan_ids for parent plans")
        if link.from_id is not None and link.from_id not in by_code:
            raise _invalid("unknown_reference", f"{path}.from_id",
                           f"ไม่พบองค์ประกอบ {link.from_id} ในแผนนี้",
                           f"element {link.from_id} does not exist in this plan")
        if link.to_plan_id == plan.id:
            if link.to_id is None:
                raise _invalid("invalid_reference", f"{path}.to_id", "ต้องระบุองค์ประกอบปลายทางในแผนเดียวกัน",
                               "a link within the plan must name its target element")
            if link.to_id not in by_code:
                raise _invalid("unknown_reference", f"{path}.to_id",
                               f"ไม่พบองค์ประกอบ {link.to_id} ในแผนนี้",
                               f"element {link.to_id} does not exist in this plan")
        flat = FlatLink(link.from_id, link.relation, link.to_plan_id, link.to_id, link.basis,
                        len(links), dict(link.attributes), path)
        if flat.key in seen:
            raise _invalid("duplicate_id", path, f"ความเชื่อมโยงนี้ซ้ำกับ {seen[flat.key]}",
                           f"this link is given twice (also {seen[flat.key]})")
        seen[flat.key] = path
        links.append(flat)
    return links


def spec_direction(direction: str | None, has_targets: bool) -> str:
    """Plan direction -> IndicatorSpec direction. A plan that sets targets without a direction
    (Tai Mueang) means 'reach at least the target', i.e. increase."""
    direction = canonical_direction(direction)
    if direction in ("increase", "decrease", "maintain", "none"):
        return direction
    return "increase" if has_targets else "none"
