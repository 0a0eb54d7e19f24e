"""Plan files in, normalized plan documents out: one adapter per source shape, and the validation
and flattening of the plan tree.

Pure Python (pydantic, no SQLAlchemy, no nameko). The flow is

    data (YAML/JSON already parsed) --adapter for its shape--> PlanDocument --flatten--> FlatPlan

and every problem is an ``InputError`` naming the field *in the file as given* (a path such as
``strategic_issues[2].goals[0].indicators[1].targets[2568]``), in Thai and English.

The normalized document (``format: thongthin.plan/v1``) is a contract, defined in
``shared/contracts/plan_document.py``; it is also what ``export_plan`` returns, so an export can be
imported again unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml

from shared.contracts.plan_document import (FORMAT, GOAL, INDICATOR, ISSUE, PERCENT_UNITS, STRATEGY, Element, Goal,
                                            Indicator, PlanDocument, PlanHeader, Strategy, plain_number)
from shared.errors import InputError
from shared.thai import from_thai_digits, to_ce_year
from shared.validation import MAX_JSON_DEPTH, parse
from shared.vocabulary import canonical_direction

__all__ = ["SHAPES", "PlanInput", "FlatPlan", "load_document", "detect_shape", "read_plan", "value_type_for",
           "spec_direction"]

PARENT_PLAN = "parent_plan"   # relation of a plan-level link built from plan.parent_plan_ids
COUNT_UNITS = {"count", "จำนวน", "times", "ครั้ง", "places", "แห่ง", "villages", "หมู่",
               "persons", "คน"}


# --- reading a file -------------------------------------------------------------------------

def load_document(text: str | bytes) -> dict:
    """Parse a plan file (YAML or JSON; JSON is YAML) into a dict."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        _check_shape(text, loader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise InputError("invalid", "body", "อ่านไฟล์แผนไม่ได้ (YAML/JSON ไม่ถูกต้อง)",
                         f"cannot read the plan file (bad YAML/JSON): {exc}", status=422) from None
    if not isinstance(data, dict):
        raise InputError("invalid", "body", "ไฟล์แผนต้องเป็นออบเจ็กต์", "a plan file must be an object",
                         status=422)
    return data


def _check_shape(text: str | bytes, loader) -> None:
    """Refuse, from the parser's events and before building anything, a document nested deeper than
    MAX_JSON_DEPTH (100,000 ``[`` or ``- `` crash libyaml's composer: the whole service, not the request)
    or using aliases (a few lines of anchors can stand for billions of nodes)."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InputError("too_deep", "body", f"ไฟล์แผนซ้อนกันเกิน {MAX_JSON_DEPTH} ชั้น",
                                 f"the plan file nests deeper than {MAX_JSON_DEPTH} levels", status=422)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            raise InputError("invalid", "body", "ไฟล์แผนต้องไม่ใช้ alias ของ YAML (*name)",
                             "the plan file must not use YAML aliases (*name)", status=422)


def detect_shape(data: dict) -> str:
    """Which adapter reads this document (by its structure, not by its file name)."""
    if not isinstance(data, dict):
        raise InputError("invalid", "body", "ข้อมูลแผนต้องเป็นออบเจ็กต์", "a plan document must be an object",
                         status=422)
    if "format" in data:
        if data["format"] != FORMAT:
            raise InputError("invalid", "format", f"ไม่รู้จักรูปแบบ {data['format']!r}",
                             f"unknown format {data['format']!r}; expected {FORMAT}", status=422)
        return "normalized"
    plan = data.get("plan")
    if isinstance(data.get("strategic_issues"), list) and isinstance(plan, dict):
        return "dla_strategic"
    if isinstance(plan, dict) and isinstance(plan.get("strategic_issues"), list):
        return "provincial_cascade"
    if isinstance(plan, dict) and (isinstance(plan.get("indicators"), dict)
                                   or isinstance(plan.get("tactics"), list)
                                   or isinstance(plan.get("strategies"), list)):
        return "local_development"
    raise InputError("invalid", "body", "ไม่รู้จักโครงสร้างของไฟล์แผนนี้",
                     "unrecognised plan document: expected the normalized format "
                     f"({FORMAT}) or a DLA strategic, provincial or local development plan extract",
                     status=422)


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


@dataclass
class PlanInput:
    """A document read and validated: its shape, the normalized document and its flat rows."""
    shape: str
    document: PlanDocument
    flat: FlatPlan
    path_map: dict[str, str] = field(default_factory=dict)

    def source_path(self, path: str) -> str:
        return map_path(path, self.path_map)

    def error(self, code: str, path: str, message_th: str, message_en: str,
              status: int = 422) -> InputError:
        return InputError(code, self.source_path(path), message_th, message_en, status=status)


def read_plan(data: dict, *, source_name: str | None = None) -> PlanInput:
    """Adapt, validate and flatten a plan document. Raises InputError naming the field."""
    shape = detect_shape(data)
    path_map: dict[str, str] = {}
    # adapter errors already name the field in the file as given
    normalized = data if shape == "normalized" else SHAPES[shape](
        data, source_name=source_name, path_map=path_map)
    try:
        document = _parse_document(normalized)
        flat = flatten(document)
    except InputError as error:
        raise InputError(error.code, map_path(error.field or "body", path_map), error.message_th,
                         error.message_en, status=error.status) from None
    return PlanInput(shape, document, flat, path_map)


def _parse_document(data: dict) -> PlanDocument:
    try:
        return parse(PlanDocument, data)
    except InputError as error:
        # render dict keys (fiscal years) as [2568] and drop pydantic's key marker
        path = re.sub(r"\.\[key\]", "", error.field or "body")
        path = re.sub(r"\.(\d+)(?=$|[.\[])", r"[\1]", path)
        raise InputError(error.code, path, error.message_th, error.message_en,
                         status=error.status) from None


def map_path(path: str, path_map: dict[str, str]) -> str:
    """Translate a path in the normalized document to the path in the file as given."""
    for key in sorted(path_map, key=len, reverse=True):
        if path == key or path.startswith(key + ".") or path.startswith(key + "["):
            return path_map[key] + path[len(key):]
    return path


# --- validation of the tree -----------------------------------------------------------------

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


# --- adapters: one per source shape ---------------------------------------------------------

def _src_invalid(path: str, message_th: str, message_en: str) -> InputError:
    return InputError("invalid", path, message_th, message_en, status=422)


def _get_dict(obj: dict, key: str, path: str, *, required: bool = True) -> dict:
    value = obj.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _src_invalid(f"{path}.{key}" if path else key, "ต้องเป็นออบเจ็กต์", "must be an object")
    return value


def _get_list(obj: dict, key: str, path: str, *, required: bool = False) -> list:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise _src_invalid(f"{path}.{key}" if path else key, "ต้องเป็นรายการ", "must be a list")
    return value


def _items(values: list, path: str) -> list[tuple[int, dict, str]]:
    out = []
    for i, value in enumerate(values):
        if not isinstance(value, dict):
            raise _src_invalid(f"{path}[{i}]", "ต้องเป็นออบเจ็กต์", "must be an object")
        out.append((i, value, f"{path}[{i}]"))
    return out


def _rest(obj: dict, *used: str) -> dict:
    return {k: v for k, v in obj.items() if k not in used}


def _statement(obj: Any, path: str) -> dict | None:
    if obj is None:
        return None
    if isinstance(obj, str):
        return {"text_th": obj}
    if not isinstance(obj, dict):
        raise _src_invalid(path, "ต้องเป็นออบเจ็กต์", "must be an object")
    return {"text_th": obj.get("text_th"), "text_en": obj.get("text_en"),
            "attributes": _rest(obj, "text_th", "text_en")}


def _year_key(key: Any) -> bool:
    if isinstance(key, bool):
        return False
    if isinstance(key, int):
        return True
    return isinstance(key, str) and re.fullmatch(r"\d{4}", from_thai_digits(key).strip()) is not None


def _header(plan: dict, *, plan_type: str, owner: dict, path_map: dict, skip: tuple = ()) -> dict:
    """Common plan header of the extracts: id, name_th/en, period_be (+ period_ce), vision..."""
    period = plan.get("period_be")
    if not isinstance(period, list) or len(period) != 2:
        raise _src_invalid("plan.period_be", "ต้องระบุช่วงแผนเป็น [ปีเริ่ม, ปีสิ้นสุด] พ.ศ.",
                           "give the plan period as [first, last] B.E. year")
    period_ce = plan.get("period_ce")
    if isinstance(period_ce, list) and len(period_ce) == 2 and all(
            isinstance(y, int) and not isinstance(y, bool) and y >= 2400 for y in period) \
            and period[0] <= period[1]:
        for k in (0, 1):
            if period_ce[k] != to_ce_year(period[k]):
                raise _src_invalid(f"plan.period_ce[{k}]",
                                   f"ปี ค.ศ. {period_ce[k]} ไม่ตรงกับ พ.ศ. {period[k]}",
                                   f"C.E. year {period_ce[k]} does not match B.E. {period[k]} "
                                   f"(expected {to_ce_year(period[k])})")
    path_map.update({"plan.period_be_start": "plan.period_be[0]",
                     "plan.period_be_end": "plan.period_be[1]",
                     "plan.title_th": "plan.name_th", "plan.title_en": "plan.name_en"})
    missions = plan.get("missions")
    mission_items, missions_meta, mission_path = [], None, "plan.missions"
    if isinstance(missions, dict):          # {legal_basis..., items: [...]}
        mission_items = _get_list(missions, "items", "plan.missions")
        missions_meta = _rest(missions, "items")
        mission_path = "plan.missions.items"
    elif missions is not None:
        mission_items = _get_list(plan, "missions", "plan")
    for i in range(len(mission_items)):
        path_map[f"plan.missions[{i}]"] = f"{mission_path}[{i}]"
    used = ("id", "type", "name_th", "name_en", "owner_code", "owner_th", "owner_en", "period_be",
            "period_ce", "parent_plan_ids", "vision", "missions", "values", *skip)
    attributes = _rest(plan, *used)
    if missions_meta:
        attributes["missions_meta"] = missions_meta
    attributes.update(owner.pop("attributes", {}))
    return {
        "id": plan.get("id"), "type": plan.get("type") or plan_type,
        "owner_code": plan.get("owner_code") or owner.get("code"),
        "owner_name_th": plan.get("owner_th") or owner.get("name_th"),
        "owner_name_en": plan.get("owner_en") or owner.get("name_en"),
        "title_th": plan.get("name_th"), "title_en": plan.get("name_en"),
        "period_be_start": period[0], "period_be_end": period[1],
        "parent_plan_ids": plan.get("parent_plan_ids") or [],
        "vision": _statement(plan.get("vision"), "plan.vision"),
        "missions": [_statement(m, f"{mission_path}[{i}]") for i, m in enumerate(mission_items)],
        "values": _statement(plan.get("values"), "plan.values"),
        "attributes": attributes,
    }


def _indicator_from_extract(obj: dict, path: str, npath: str, *, unit_names: dict,
                            path_map: dict) -> dict:
    """An indicator as the DLA/provincial extracts write it (targets: {status, ...})."""
    raw = obj.get("targets")
    targets, status, statement = {}, None, {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key == "status":
                status = value
            elif _year_key(key):
                targets[key] = value
            else:
                statement[key] = value
    elif raw is not None:
        raise _src_invalid(f"{path}.targets", "ต้องเป็นออบเจ็กต์", "must be an object")
    attributes = _rest(obj, "id", "goal_id", "name_th", "name_en", "unit", "unit_th", "direction",
                       "direction_basis", "subject", "targets", "value_type")
    if statement:
        attributes["target_statement"] = statement
    path_map[f"{npath}.targets_status"] = f"{path}.targets.status"
    unit = obj.get("unit")
    return {"id": obj.get("id"), "goal_id": obj.get("goal_id"), "name_th": obj.get("name_th"),
            "name_en": obj.get("name_en"), "unit": unit,
            "unit_th": obj.get("unit_th") or unit_names.get(unit),
            "value_type": obj.get("value_type"),
            "direction": obj.get("direction"), "direction_basis": obj.get("direction_basis"),
            "subject": obj.get("subject"), "targets_status": status, "targets": targets,
            "attributes": attributes}


def _issue_from_extract(issue: dict, path: str, npath: str, *, unit_names: dict, links: list,
                        plan_id: Any, path_map: dict) -> dict:
    """A strategic issue with goals, indicators, strategies and programmes/projects."""
    path_map[npath] = path
    goals = []
    for j, goal, gpath in _items(_get_list(issue, "goals", path), f"{path}.goals"):
        ngpath = f"{npath}.goals[{j}]"
        path_map[ngpath] = gpath
        path_map[f"{ngpath}.title_th"] = f"{gpath}.text_th"
        path_map[f"{ngpath}.title_en"] = f"{gpath}.text_en"
        indicators = []
        for k, indicator, ipath in _items(_get_list(goal, "indicators", gpath), f"{gpath}.indicators"):
            nipath = f"{ngpath}.indicators[{k}]"
            path_map[nipath] = ipath
            indicators.append(_indicator_from_extract(indicator, ipath, nipath,
                                                      unit_names=unit_names, path_map=path_map))
        for m, linked in enumerate(_get_list(goal, "linked_indicators", gpath)):
            k = len(links)
            path_map[f"links[{k}]"] = path_map[f"links[{k}].to_id"] = \
                f"{gpath}.linked_indicators[{m}]"
            path_map[f"links[{k}].from_id"] = f"{gpath}.id"
            links.append({"from_id": goal.get("id"), "relation": "measured_by", "to_plan_id": plan_id,
                          "to_id": linked, "basis": "stated",
                          "attributes": {"source_field": "linked_indicators"}})
        goals.append({"id": goal.get("id"), "title_th": goal.get("title_th", goal.get("text_th")),
                      "title_en": goal.get("title_en", goal.get("text_en")),
                      "indicators": indicators,
                      "attributes": _rest(goal, "id", "text_th", "text_en", "title_th", "title_en",
                                          "indicators", "linked_indicators")})
    strategies = []
    for j, strategy, spath in _items(_get_list(issue, "strategies", path), f"{path}.strategies"):
        path_map[f"{npath}.strategies[{j}]"] = spath
        strategies.append({"id": strategy.get("id"), "title_th": strategy.get("title_th"),
                           "title_en": strategy.get("title_en"),
                           "attributes": _rest(strategy, "id", "title_th", "title_en")})
    elements = []
    for j, programme, ppath in _items(_get_list(issue, "programmes", path), f"{path}.programmes"):
        nppath = f"{npath}.elements[{j}]"
        path_map[nppath] = ppath
        path_map[f"{nppath}.title_th"] = f"{ppath}.name_th"
        projects = []
        for m, project, jpath in _items(_get_list(programme, "projects", ppath), f"{ppath}.projects"):
            path_map[f"{nppath}.elements[{m}]"] = jpath
            path_map[f"{nppath}.elements[{m}].title_th"] = f"{jpath}.name_th"
            attributes = _rest(project, "id", "name_th", "name_en")
            if not project.get("id"):
                attributes["id_basis"] = "assigned on import: the source prints no project id"
            projects.append({"id": project.get("id") or f"{programme.get('id')}-J{m + 1}",
                             "kind": "project", "title_th": project.get("name_th"),
                             "title_en": project.get("name_en"), "attributes": attributes})
        elements.append({"id": programme.get("id"), "kind": "programme",
                         "title_th": programme.get("name_th"), "title_en": programme.get("name_en"),
                         "elements": projects,
                         "attributes": _rest(programme, "id", "name_th", "name_en", "projects")})
    return {"id": issue.get("id"), "title_th": issue.get("title_th"),
            "title_en": issue.get("title_en"), "goals": goals, "strategies": strategies,
            "elements": elements,
            "attributes": _rest(issue, "id", "title_th", "title_en", "goals", "strategies",
                                "programmes")}


def _unit_legend(legend: Any) -> dict[str, str]:
    """'percent (ร้อยละ)' -> {'percent': 'ร้อยละ'}; 'level_of_success (ระดับความสำเร็จ; ...)'."""
    names = {}
    units = legend.get("unit") if isinstance(legend, dict) else None
    for entry in units or []:
        match = re.fullmatch(r"\s*([a-z_]+)\s*\(([^;)]+)[;)].*", str(entry))
        if match:
            names[match.group(1)] = match.group(2).strip()
    return names


def adapt_dla_strategic(data: dict, *, source_name: str | None, path_map: dict) -> dict:
    """The DLA strategic plan extract: plan header + top-level strategic_issues[] with goals,
    indicators (targets.status), strategies and programmes/projects."""
    plan = _get_dict(data, "plan", "")
    issue_ids = _get_list(plan, "strategic_issue_ids", "plan")
    listed = {issue.get("id") for issue in data["strategic_issues"] if isinstance(issue, dict)}
    for k, issue_id in enumerate(issue_ids):
        if issue_id not in listed:
            raise InputError("unknown_reference", f"plan.strategic_issue_ids[{k}]",
                             f"ไม่พบประเด็นยุทธศาสตร์ {issue_id}",
                             f"strategic issue {issue_id} is listed but not given", status=422)
    owner = {"code": "DLA", "attributes": {
        "owner_code_basis": "the department's code in the org registry (DLA)"}}
    header = _header(plan, plan_type="strategic", owner=owner, path_map=path_map,
                     skip=("strategic_issue_ids",))
    unit_names = _unit_legend(data.get("legend"))
    links: list = []
    issues = [_issue_from_extract(issue, path, f"strategic_issues[{i}]", unit_names=unit_names,
                                  links=links, plan_id=header["id"], path_map=path_map)
              for i, issue, path in _items(data["strategic_issues"], "strategic_issues")]
    source = {"name": source_name, "shape": "dla_strategic",
              **_rest(data, "plan", "strategic_issues")}
    return {"format": FORMAT, "source": source, "plan": header, "strategic_issues": issues,
            "links": links}


# columns of the provincial cascade table, in order after "strategy (this plan)"
CASCADE_COLUMNS = ("dla", "moi", "national_strategy", "nesdp12", "sdg")
CASCADE_DEFAULT_PLANS = {"dla": "DLA-SP-2560-2569", "moi": "MOI-SP-2560-2564",
                         "national_strategy": "NS-20Y", "nesdp12": "NESDP-12", "sdg": "SDGS"}


def adapt_provincial_cascade(data: dict, *, source_name: str | None, path_map: dict) -> dict:
    """The provincial office plan: plan.strategic_issues[] -> strategies, and cascade.links[]
    (one row per strategy; cells link to the DLA, MOI, national strategy, NESDP and SDG plans)."""
    plan = _get_dict(data, "plan", "")
    organisation = _get_dict(data, "organisation", "", required=False)
    province_id = (organisation.get("admin_division_ids") or {}).get("province_id")
    owner = {"name_th": organisation.get("name_th"), "name_en": organisation.get("name_en"),
             "code": f"PLO-{int(province_id):02d}" if isinstance(province_id, int) else None,
             "attributes": {"owner_code_basis": "org registry code of the provincial office, from "
                                                "organisation.admin_division_ids.province_id"}}
    if organisation:
        owner["attributes"]["organisation"] = organisation
    header = _header(plan, plan_type="provincial", owner=owner, path_map=path_map,
                     skip=("strategic_issues",))
    links: list = []
    issues = [_issue_from_extract(issue, path, f"strategic_issues[{i}]", unit_names={},
                                  links=links, plan_id=header["id"], path_map=path_map)
              for i, issue, path in _items(plan["strategic_issues"], "plan.strategic_issues")]
    cascade = _get_dict(data, "cascade", "", required=False)
    columns = cascade.get("columns") or []
    plan_of = dict(CASCADE_DEFAULT_PLANS)
    if isinstance(columns, list) and len(columns) == 1 + len(CASCADE_COLUMNS):
        plan_of.update(zip(CASCADE_COLUMNS, columns[1:]))
    linked_items = {}
    for items in (cascade.get("linked_items") or {}).values():
        for item in items or []:
            if isinstance(item, dict) and item.get("id"):
                linked_items[item["id"]] = item
    strategies = {s["id"]: s for issue in issues for s in issue["strategies"]}
    for r, row, rpath in _items(_get_list(cascade, "links", "cascade"), "cascade.links"):
        from_id = row.get("strategy_id")
        if from_id in strategies:
            strategies[from_id]["attributes"]["cascade_row"] = _rest(
                row, "strategy_id", *CASCADE_COLUMNS)
        for column in CASCADE_COLUMNS:
            for e, cell, cpath in _items(_get_list(row, column, rpath), f"{rpath}.{column}"):
                target_field = "dla_strategy_id" if column == "dla" else "ref"
                to_id = cell.get(target_field)
                item = linked_items.get(to_id, {})
                to_plan = item.get("plan_id") or plan_of[column]
                basis = ("inferred" if str(cell.get("match_basis", "")).startswith("inferred")
                         else "stated")
                attributes = {"column": column, **_rest(cell, target_field)}
                if item:
                    attributes["target"] = _rest(item, "id", "plan_id")
                k = len(links)
                path_map[f"links[{k}]"] = cpath
                path_map[f"links[{k}].from_id"] = f"{rpath}.strategy_id"
                path_map[f"links[{k}].to_id"] = f"{cpath}.{target_field}"
                links.append({"from_id": from_id, "relation": "aligns_to", "to_plan_id": to_plan,
                              "to_id": to_id, "basis": basis, "attributes": attributes})
    if cascade:
        header["attributes"]["cascade"] = _rest(cascade, "links")
    source = {"name": source_name, "shape": "provincial_cascade",
              **_rest(data, "plan", "cascade", "organisation")}
    return {"format": FORMAT, "source": source, "plan": header, "strategic_issues": issues,
            "links": links}


# derived columns of the local development table: recomputed on import, so not kept
LOCAL_DERIVED = ("sum_of_yearly_targets", "declared_total_differs_from_sum", "total_anomaly")


def adapt_local_development(data: dict, *, source_name: str | None, path_map: dict) -> dict:
    """An LAO local development plan: plan.strategies[] (ยุทธศาสตร์), plan.tactics[] (กลยุทธ์,
    strategy_id optional), plan.indicators.items[] with yearly targets per year column,
    printed forms, a declared total and its semantics."""
    plan = _get_dict(data, "plan", "")
    organisation = _get_dict(data, "organisation", "", required=False)
    location = organisation.get("location") if isinstance(organisation.get("location"), dict) else {}
    subdistrict_id = (location.get("admin_division_ids") or {}).get("subdistrict_id")
    owner = {"name_th": organisation.get("name_th"), "name_en": organisation.get("name_en"),
             "code": f"LAO-{subdistrict_id}" if isinstance(subdistrict_id, int) else None,
             "attributes": {"owner_code_basis": "org registry code of the LAO, from "
                                                "organisation.location.admin_division_ids."
                                                "subdistrict_id (location attributed by name)"}}
    if organisation:
        owner["attributes"]["organisation"] = organisation
    header = _header(plan, plan_type="local_development", owner=owner, path_map=path_map,
                     skip=("strategies", "goals", "tactics", "indicators"))
    src = source_name or "plan file"
    links: list = []

    strategies = []
    for j, strategy, spath in _items(_get_list(plan, "strategies", "plan"), "plan.strategies"):
        path_map[f"strategies[{j}]"] = spath
        strategies.append({"id": strategy.get("id"), "title_th": strategy.get("title_th"),
                           "title_en": strategy.get("title_en"),
                           "issue_id": strategy.get("issue_id"),
                           "attributes": _rest(strategy, "id", "title_th", "title_en", "issue_id")})
    goals = []
    for j, goal, gpath in _items(_get_list(plan, "goals", "plan"), "plan.goals"):
        path_map[f"goals[{j}]"] = gpath
        path_map[f"goals[{j}].title_th"] = f"{gpath}.text_th"
        goals.append({"id": goal.get("id"), "title_th": goal.get("title_th", goal.get("text_th")),
                      "title_en": goal.get("title_en", goal.get("text_en")),
                      "attributes": _rest(goal, "id", "title_th", "title_en", "text_th", "text_en")})
    elements = []
    for j, tactic, tpath in _items(_get_list(plan, "tactics", "plan"), "plan.tactics"):
        path_map[f"elements[{j}]"] = tpath
        path_map[f"elements[{j}].parent_id"] = f"{tpath}.strategy_id"
        elements.append({"id": tactic.get("id"), "kind": "tactic", "title_th": tactic.get("title_th"),
                         "title_en": tactic.get("title_en"), "parent_id": tactic.get("strategy_id"),
                         "attributes": _rest(tactic, "id", "title_th", "title_en", "strategy_id")})

    table = _get_dict(plan, "indicators", "plan", required=False)
    inferred_years = bool(table.get("year_columns_inferred"))
    indicators = []
    for j, item, ipath in _items(_get_list(table, "items", "plan.indicators"),
                                 "plan.indicators.items"):
        npath = f"indicators[{j}]"
        path_map[npath] = ipath
        path_map[f"{npath}.unit"] = f"{ipath}.unit_code"
        raw_targets = item.get("targets") or {}
        printed = item.get("targets_printed") or {}
        if not isinstance(raw_targets, dict):
            raise _src_invalid(f"{ipath}.targets", "ต้องเป็นออบเจ็กต์ ปี: ค่าเป้าหมาย",
                               "must be an object of year: target")
        if not isinstance(printed, dict):
            raise _src_invalid(f"{ipath}.targets_printed", "ต้องเป็นออบเจ็กต์", "must be an object")
        printed_by_year = {str(k): v for k, v in printed.items()}
        extra = sorted(set(printed_by_year) - {str(k) for k in raw_targets})
        if extra:
            raise _src_invalid(f"{ipath}.targets_printed[{extra[0]}]",
                               f"มีค่าที่พิมพ์ของปี {extra[0]} แต่ไม่มีค่าเป้าหมาย",
                               f"a printed target for {extra[0]} has no target value")
        row = item.get("number", item.get("id"))
        targets = {}
        for year, value in raw_targets.items():
            column = f"year column {year}" + (" (inferred)" if inferred_years else "")
            targets[year] = {"value": value, "printed": printed_by_year.get(str(year)),
                             "provenance": f"{src} row {row}, {column}",
                             "inferred": inferred_years}
        declared = None
        if item.get("declared_total") is not None or item.get("declared_total_printed") is not None:
            declared = {"value": item.get("declared_total"),
                        "printed": item.get("declared_total_printed"),
                        "semantics": item.get("total_semantics") or "SUM",
                        "semantics_inferred": bool(table.get("total_semantics_basis"))}
            path_map[f"{npath}.declared_total"] = f"{ipath}.declared_total"
        for field_name, basis in (("strategy_id", "stated"), ("suggested_strategy_ids", "inferred")):
            value = item.get(field_name)
            targets_ids = value if isinstance(value, list) else ([value] if value else [])
            for m, strategy_id in enumerate(targets_ids):
                k = len(links)
                where = f"{ipath}.{field_name}" + (f"[{m}]" if isinstance(value, list) else "")
                path_map[f"links[{k}]"] = where
                path_map[f"links[{k}].to_id"] = where
                attributes = {"source_field": field_name}
                if basis == "inferred":
                    attributes["confidence"] = "low"
                links.append({"from_id": item.get("id"), "relation": "contributes_to",
                              "to_plan_id": header["id"], "to_id": strategy_id, "basis": basis,
                              "attributes": attributes})
        indicators.append({
            "id": item.get("id"), "goal_id": item.get("goal_id"), "name_th": item.get("name_th"),
            "name_en": item.get("name_en"), "unit": item.get("unit_code", item.get("unit")),
            "unit_th": item.get("unit_th"), "direction": item.get("direction"),
            "direction_basis": item.get("direction_basis"), "targets": targets,
            "declared_total": declared,
            "attributes": _rest(item, "id", "goal_id", "name_th", "name_en", "unit_code", "unit",
                                "unit_th", "direction", "direction_basis", "targets",
                                "targets_printed", "declared_total", "declared_total_printed",
                                "total_semantics", "strategy_id", "suggested_strategy_ids",
                                *LOCAL_DERIVED),
        })
    if table:
        header["attributes"]["indicator_table"] = _rest(table, "items")
    source = {"name": source_name, "shape": "local_development",
              **_rest(data, "plan", "organisation")}
    return {"format": FORMAT, "source": source, "plan": header, "goals": goals,
            "strategies": strategies, "indicators": indicators, "elements": elements,
            "links": links}


SHAPES: dict[str, Callable[..., dict]] = {
    "dla_strategic": adapt_dla_strategic,
    "provincial_cascade": adapt_provincial_cascade,
    "local_development": adapt_local_development,
}
