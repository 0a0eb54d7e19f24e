"""Adapters: one per source shape of a plan file, each turning it into a normalized document.

Three shapes besides the normalized format itself (``thongthin.plan/v1``): the DLA strategic plan
extract (``dla_strategic``), a provincial plan with its cascade columns (``provincial_cascade``) and
a local development plan extract (``local_development``). ``reading.detect_shape`` tells them apart
by their structure. Each adapter returns a dict in the normalized format and fills ``path_map``
(normalized path -> path in the file as given) so that a later error names the field the user
wrote. Problems the adapter itself finds already name the field in the file.

Pure Python, no database.
"""
from __future__ import annotations

import re
from typing import Any, Callable

from shared.contracts.plan_document import FORMAT
from shared.errors import InputError
from shared.thai import from_thai_digits, to_ce_year

__all__ = ["SHAPES", "adapt_dla_strategic", "adapt_provincial_cascade", "adapt_local_development"]


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
