"""Development plans, read side: export, the plan list, a plan's tree, an indicator, targets,
links and anomalies. Each query takes a read session and returns plain JSON-ready dicts.

``export_plan`` gives the normalized document (``thongthin.plan/v1``); importing it again gives the
same plan. Links are resolved when read (``resolve_links``): resolved, unresolved (the target plan
is not imported yet) or dangling (the imported target plan has no such element).
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from services.plans.development_plans.tables import (plan_elements, plan_indicators, plan_links, plan_plans,
                                                     plan_targets)
from services.plans.development_plans.tree import CHILD_LISTS, LIST_OF_KIND, PARENT_PLAN
from shared.contracts.plan_document import FORMAT, PlanDocument, plain_number
from shared.errors import InputError, not_found
from shared.thai import ThaiInputError, parse_be_year
from shared.vocabulary import canonical_direction


def unjson(text: str | None, empty: Any = None) -> Any:
    """A JSON text column as stored (None or empty: ``{}``, or ``empty``)."""
    return json.loads(text) if text else ({} if empty is None else empty)


def _plan_row(session, plan_id: str) -> dict:
    row = session.execute(select(plan_plans).where(plan_plans.c.id == plan_id)).mappings().first()
    if row is None:
        raise not_found("plan_id", "แผน", "plan", plan_id)
    return dict(row)


def _target_out(row: dict) -> dict:
    return {"value": row["value"], "printed": row["value_printed"],
            "provenance": row["provenance"], "inferred": row["inferred"]}


def _load_tree(session, plan_id: str):
    """A stored plan: header, details, elements in order, indicators and targets by indicator."""
    plan = _plan_row(session, plan_id)
    rows = session.execute(select(plan_elements).where(plan_elements.c.plan_id == plan_id)
                           .order_by(plan_elements.c.position, plan_elements.c.id)).mappings().all()
    indicators = {r["element_id"]: dict(r) for r in session.execute(
        select(plan_indicators).where(plan_indicators.c.plan_id == plan_id)).mappings()}
    targets: dict[int, list] = {}
    for t in session.execute(select(plan_targets).where(plan_targets.c.plan_id == plan_id)
                             .order_by(plan_targets.c.scope, plan_targets.c.fiscal_year_be)
                             ).mappings():
        targets.setdefault(t["indicator_id"], []).append(dict(t))
    return plan, unjson(plan["details"]), rows, indicators, targets


def export_plan(session, plan_id: str) -> dict:
    """The plan as a normalized document (format thongthin.plan/v1); importing it gives the
    same plan. Flags (e.g. declared-total mismatches) are included on their indicators."""
    plan, details, rows, indicators, targets = _load_tree(session, plan_id)
    code_of = {r["id"]: r["code"] for r in rows}

    nodes: dict[int, dict] = {}
    for r in rows:
        base = {"id": r["code"], "attributes": unjson(r["attributes"])}
        if r["kind"] == "indicator":
            ind = indicators[r["id"]]
            plan_scope, by_scope = {}, {}
            for t in targets.get(r["id"], []):
                if t["scope"] == "plan":
                    plan_scope[t["fiscal_year_be"]] = _target_out(t)
                else:
                    by_scope.setdefault(t["scope"], {"unit_code": t["unit_code"],
                                                     "unit_group": t["unit_group"], "targets": {}}
                                        )["targets"][t["fiscal_year_be"]] = _target_out(t)
            declared = None
            if ind["declared_total"] is not None or ind["declared_total_printed"] is not None:
                declared = {"value": ind["declared_total"], "printed": ind["declared_total_printed"],
                            "semantics": ind["total_semantics"] or "SUM",
                            "semantics_inferred": ind["total_semantics_inferred"]}
            node = {**base, "name_th": r["title_th"], "name_en": r["title_en"],
                    **{f: ind[f] for f in ("unit", "unit_th", "value_type",
                                           "direction_basis", "subject", "targets_status")},
                    "direction": canonical_direction(ind["direction"]),
                    "targets": plan_scope,
                    "unit_targets": [by_scope[s] for s in sorted(by_scope)],
                    "declared_total": declared, "flags": unjson(ind["flags"], [])}
        else:
            node = {**base, "title_th": r["title_th"], "title_en": r["title_en"]}
            if r["kind"] not in LIST_OF_KIND:
                node["kind"] = r["kind"]
            for list_name in CHILD_LISTS.get(r["kind"], ("elements",)):
                node[list_name] = []
        nodes[r["id"]] = node
    document = {"format": FORMAT, "source": details.get("source") or {},
                "strategic_issues": [], "goals": [], "strategies": [], "indicators": [],
                "elements": [], "links": []}
    for r in rows:   # rows are in position order, so every list keeps its order
        list_name = LIST_OF_KIND.get(r["kind"], "elements")
        parent = nodes[r["parent_id"]] if r["parent_id"] else document
        parent[list_name].append(nodes[r["id"]])

    links = session.execute(select(plan_links).where(plan_links.c.plan_id == plan_id)
                            .order_by(plan_links.c.position, plan_links.c.id)).mappings().all()
    parent_plan_ids = [l["to_plan_id"] for l in links if l["relation"] == PARENT_PLAN]
    document["links"] = [
        {"from_id": code_of.get(l["from_element_id"]), "relation": l["relation"],
         "to_plan_id": l["to_plan_id"], "to_id": l["to_element_code"], "basis": l["basis"],
         "attributes": unjson(l["attributes"])}
        for l in links if l["relation"] != PARENT_PLAN]
    document["plan"] = {
        "id": plan["id"], "type": plan["plan_type"], "owner_code": plan["owner_code"],
        "owner_name_th": plan["owner_name_th"], "owner_name_en": plan["owner_name_en"],
        "title_th": plan["title_th"], "title_en": plan["title_en"],
        "period_be_start": plan["period_be_start"], "period_be_end": plan["period_be_end"],
        "parent_plan_ids": parent_plan_ids, "vision": details.get("vision"),
        "missions": details.get("missions") or [], "values": details.get("values"),
        "attributes": details.get("attributes") or {}}
    return PlanDocument.model_validate(document).model_dump(mode="json")


def list_plans(session, *, plan_type: str | None = None, owner_code: str | None = None,
               parent_plan_id: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
    query = select(plan_plans)
    if plan_type:
        query = query.where(plan_plans.c.plan_type == plan_type)
    if owner_code:
        query = query.where(plan_plans.c.owner_code == owner_code)
    if parent_plan_id:
        query = query.where(plan_plans.c.id.in_(
            select(plan_links.c.plan_id).where(plan_links.c.relation == PARENT_PLAN,
                                               plan_links.c.to_plan_id == parent_plan_id)))
    rows = session.execute(query.order_by(plan_plans.c.id).limit(limit).offset(offset)
                           ).mappings().all()
    ids = [r["id"] for r in rows]
    kinds: dict[str, dict] = {}
    for plan_id, kind, n in session.execute(
            select(plan_elements.c.plan_id, plan_elements.c.kind, func.count())
            .where(plan_elements.c.plan_id.in_(ids))
            .group_by(plan_elements.c.plan_id, plan_elements.c.kind)).tuples():
        kinds.setdefault(plan_id, {})[kind] = n
    targets = {plan_id: n for plan_id, n in session.execute(
        select(plan_targets.c.plan_id, func.count()).where(plan_targets.c.plan_id.in_(ids))
        .group_by(plan_targets.c.plan_id)).tuples()}
    flagged = {plan_id: n for plan_id, n in session.execute(
        select(plan_indicators.c.plan_id, func.count())
        .where(plan_indicators.c.plan_id.in_(ids), plan_indicators.c.flagged.is_(True))
        .group_by(plan_indicators.c.plan_id)).tuples()}
    parents: dict[str, list] = {}
    for plan_id, parent in session.execute(
            select(plan_links.c.plan_id, plan_links.c.to_plan_id)
            .where(plan_links.c.plan_id.in_(ids), plan_links.c.relation == PARENT_PLAN)
            .order_by(plan_links.c.position)).tuples():
        parents.setdefault(plan_id, []).append(parent)
    out = []
    for r in rows:
        k = kinds.get(r["id"], {})
        out.append({
            "id": r["id"], "plan_type": r["plan_type"], "owner_code": r["owner_code"],
            "title_th": r["title_th"], "title_en": r["title_en"],
            "period_be_start": r["period_be_start"], "period_be_end": r["period_be_end"],
            "parent_plan_ids": parents.get(r["id"], []), "version": r["version"],
            "updated_at": r["updated_at"].isoformat(),
            "counts": {"strategic_issues": k.get("strategic_issue", 0), "goals": k.get("goal", 0),
                       "indicators": k.get("indicator", 0), "strategies": k.get("strategy", 0),
                       "targets": targets.get(r["id"], 0),
                       "flagged_indicators": flagged.get(r["id"], 0)}})
    return out


def _indicator_out(row: dict, targets: list[dict]) -> dict:
    return {"unit": row["unit"], "unit_th": row["unit_th"], "value_type": row["value_type"],
            "direction": canonical_direction(row["direction"]), "direction_basis": row["direction_basis"],
            "subject": row["subject"], "targets_status": row["targets_status"],
            "declared_total": plain_number(row["declared_total"]),
            "declared_total_printed": row["declared_total_printed"],
            "total_semantics": row["total_semantics"], "flags": unjson(row["flags"], []),
            "targets": [_target_row_out(t) for t in targets]}


def _target_row_out(t: dict, indicator_code: str | None = None) -> dict:
    out = {"fiscal_year_be": t["fiscal_year_be"], "scope": t["scope"], "unit_code": t["unit_code"],
           "unit_group": t["unit_group"], "value": plain_number(t["value"]),
           "no_target": t["value"] is None, "printed": t["value_printed"],
           "provenance": t["provenance"], "inferred": t["inferred"]}
    if indicator_code is not None:
        out = {"plan_id": t["plan_id"], "indicator_id": indicator_code, **out}
    return out


def get_plan(session, plan_id: str) -> dict:
    """The plan header and its whole tree (every node with its children; indicators with their
    targets and flags)."""
    plan, details, rows, indicators, targets = _load_tree(session, plan_id)
    order = {kind: i for i, kind in enumerate(("goal", "indicator", "strategy"))}
    nodes = {}
    for r in rows:
        node = {"id": r["code"], "kind": r["kind"], "title_th": r["title_th"],
                "title_en": r["title_en"], "attributes": unjson(r["attributes"]), "children": []}
        if r["kind"] == "indicator":
            node["indicator"] = _indicator_out(indicators[r["id"]], targets.get(r["id"], []))
        nodes[r["id"]] = node
    tree = []
    for r in sorted(rows, key=lambda r: (order.get(r["kind"], 9), r["position"])):
        (nodes[r["parent_id"]]["children"] if r["parent_id"] else tree).append(nodes[r["id"]])
    tree.sort(key=lambda n: {"strategic_issue": 0, "goal": 1, "strategy": 2, "indicator": 3}
              .get(n["kind"], 4))   # stable: keeps positions within a kind
    parents = session.execute(select(plan_links.c.to_plan_id).where(
        plan_links.c.plan_id == plan_id, plan_links.c.relation == PARENT_PLAN)
        .order_by(plan_links.c.position)).scalars().all()
    return {"plan": {"id": plan["id"], "plan_type": plan["plan_type"],
                     "owner_code": plan["owner_code"], "owner_name_th": plan["owner_name_th"],
                     "owner_name_en": plan["owner_name_en"], "title_th": plan["title_th"],
                     "title_en": plan["title_en"], "period_be_start": plan["period_be_start"],
                     "period_be_end": plan["period_be_end"], "parent_plan_ids": list(parents),
                     "vision": details.get("vision"), "missions": details.get("missions") or [],
                     "values": details.get("values"), "attributes": details.get("attributes"),
                     "source": details.get("source"), "source_name": plan["source_name"],
                     "version": plan["version"], "updated_at": plan["updated_at"].isoformat()},
            "tree": tree}


def _element(session, plan_id: str, element_id: str, field_name: str = "element_id") -> dict:
    _plan_row(session, plan_id)
    row = session.execute(select(plan_elements).where(plan_elements.c.plan_id == plan_id,
                                                      plan_elements.c.code == element_id)
                          ).mappings().first()
    if row is None:
        raise not_found(field_name, f"องค์ประกอบในแผน {plan_id}", f"element of plan {plan_id}",
                        element_id)
    return dict(row)


def get_indicator(session, plan_id: str, indicator_id: str) -> dict:
    """An indicator with its targets (every scope and year), flags, place in the tree and links."""
    row = _element(session, plan_id, indicator_id, "indicator_id")
    if row["kind"] != "indicator":
        raise not_found("indicator_id", f"ตัวชี้วัดในแผน {plan_id}", f"indicator of plan {plan_id}",
                        indicator_id)
    indicator = session.execute(select(plan_indicators).where(
        plan_indicators.c.element_id == row["id"])).mappings().one()
    targets = session.execute(select(plan_targets).where(plan_targets.c.indicator_id == row["id"])
                              .order_by(plan_targets.c.scope, plan_targets.c.fiscal_year_be)
                              ).mappings().all()
    path, parent_id = [], row["parent_id"]
    while parent_id is not None:
        parent = session.execute(select(plan_elements).where(plan_elements.c.id == parent_id)
                                 ).mappings().one()
        path.insert(0, {"id": parent["code"], "kind": parent["kind"],
                        "title_th": parent["title_th"]})
        parent_id = parent["parent_id"]
    return {"plan_id": plan_id, "id": row["code"], "name_th": row["title_th"],
            "name_en": row["title_en"], "attributes": unjson(row["attributes"]),
            "path": path, **_indicator_out(dict(indicator), [dict(t) for t in targets]),
            "links_from": links_from(session, plan_id, indicator_id),
            "links_to": links_to(session, plan_id, indicator_id)}


def list_targets(session, *, plan_id: str | None = None, indicator_id: str | None = None,
                 fiscal_year_be: int | str | None = None, unit_code: str | None = None,
                 unit_group: str | None = None, limit: int = 1000, offset: int = 0) -> list[dict]:
    """Targets by plan / indicator / fiscal year BE / unit or unit group (value None = no target)."""
    query = (select(plan_targets, plan_indicators.c.code)
             .join(plan_indicators, plan_indicators.c.element_id == plan_targets.c.indicator_id))
    if plan_id:
        query = query.where(plan_targets.c.plan_id == plan_id)
    if indicator_id:
        query = query.where(plan_indicators.c.code == indicator_id)
    if fiscal_year_be is not None:
        try:
            year = parse_be_year(fiscal_year_be, "fiscal_year_be")
        except ThaiInputError as exc:
            raise InputError("invalid", "fiscal_year_be", exc.message_th, exc.message_en,
                             status=422) from None
        query = query.where(plan_targets.c.fiscal_year_be == year)
    if unit_code:
        query = query.where(plan_targets.c.unit_code == unit_code)
    if unit_group:
        query = query.where(plan_targets.c.unit_group == unit_group)
    rows = session.execute(query.order_by(plan_targets.c.plan_id, plan_indicators.c.code,
                                          plan_targets.c.scope, plan_targets.c.fiscal_year_be)
                           .limit(limit).offset(offset)).mappings().all()
    return [_target_row_out(dict(r), r["code"]) for r in rows]


def resolve_links(session, pairs: set[tuple], known: dict[str, set] | None = None) -> dict[tuple, dict]:
    """Status of link targets (plan id, element code or None): resolved, unresolved (plan not
    imported) or dangling (plan imported, element not in it). ``known`` overrides the stored
    codes of a plan (the plan being imported)."""
    known = known or {}
    plan_ids = {p for p, _ in pairs}
    imported = set(session.execute(select(plan_plans.c.id).where(
        plan_plans.c.id.in_(plan_ids))).scalars()) | set(known)
    elements = {}
    for plan_id, code, kind, title_th in session.execute(
            select(plan_elements.c.plan_id, plan_elements.c.code, plan_elements.c.kind,
                   plan_elements.c.title_th)
            .where(plan_elements.c.plan_id.in_(imported - set(known)))).tuples():
        elements[(plan_id, code)] = {"kind": kind, "title_th": title_th}
    for plan_id, codes in known.items():
        for code, info in codes.items():
            elements[(plan_id, code)] = info
    out = {}
    for plan_id, code in pairs:
        if plan_id not in imported:
            out[(plan_id, code)] = {"status": "unresolved"}
        elif code is None:
            out[(plan_id, code)] = {"status": "resolved", "to_kind": "plan"}
        elif (plan_id, code) in elements:
            info = elements[(plan_id, code)]
            out[(plan_id, code)] = {"status": "resolved", "to_kind": info["kind"],
                                    "to_title_th": info["title_th"]}
        else:
            out[(plan_id, code)] = {"status": "dangling"}
    return out


def _links_out(session, query) -> list[dict]:
    rows = session.execute(query.order_by(plan_links.c.plan_id, plan_links.c.position,
                                          plan_links.c.id)).mappings().all()
    from_ids = {r["from_element_id"] for r in rows if r["from_element_id"]}
    sources = {r["id"]: dict(r) for r in session.execute(
        select(plan_elements.c.id, plan_elements.c.code, plan_elements.c.kind,
               plan_elements.c.title_th).where(plan_elements.c.id.in_(from_ids))).mappings()}
    status = resolve_links(session, {(r["to_plan_id"], r["to_element_code"]) for r in rows})
    out = []
    for r in rows:
        source = sources.get(r["from_element_id"])
        out.append({"plan_id": r["plan_id"], "from_id": source["code"] if source else None,
                    "from_kind": source["kind"] if source else "plan",
                    "from_title_th": source["title_th"] if source else None,
                    "relation": r["relation"], "to_plan_id": r["to_plan_id"],
                    "to_id": r["to_element_code"], "basis": r["basis"],
                    "attributes": unjson(r["attributes"]),
                    **status[(r["to_plan_id"], r["to_element_code"])]})
    return out


def links_from(session, plan_id: str, element_id: str | None = None) -> list[dict]:
    """Links out of an element of a plan (element_id None: every link of the plan)."""
    query = select(plan_links).where(plan_links.c.plan_id == plan_id)
    if element_id is None:
        _plan_row(session, plan_id)
    else:
        query = query.where(plan_links.c.from_element_id == _element(session, plan_id, element_id)["id"])
    return _links_out(session, query)


def links_to(session, plan_id: str, element_id: str | None = None) -> list[dict]:
    """Links into a plan's element from any plan, e.g. what aligns to DLA strategy SI3-S1
    (element_id None: every link into the plan). Works before the target plan is imported."""
    query = select(plan_links).where(plan_links.c.to_plan_id == plan_id)
    if element_id is not None:
        query = query.where(plan_links.c.to_element_code == element_id)
    return _links_out(session, query)


def link_anomaly(plan_id: str, from_id: str | None, link: dict, status: str) -> dict:
    target = f"{link['to_plan_id']}" + (f" / {link['to_id']}" if link["to_id"] else "")
    if status == "unresolved":
        th = f"ความเชื่อมโยงไปยัง {target} ยังไม่ได้ตรวจสอบ: ยังไม่ได้นำเข้าแผน {link['to_plan_id']}"
        en = f"link to {target} is unresolved: plan {link['to_plan_id']} is not imported"
    else:
        th = f"ความเชื่อมโยงไปยัง {target} ขาด: ไม่มีองค์ประกอบนี้ในแผนที่นำเข้าแล้ว"
        en = f"link to {target} is dangling: the imported plan has no such element"
    return {"plan_id": plan_id, "element_id": from_id, "code": f"{status}_link",
            "message_th": th, "message_en": en,
            "details": {"relation": link["relation"], "to_plan_id": link["to_plan_id"],
                        "to_id": link["to_id"], "basis": link["basis"]}}


def flag_anomalies(plan_id: str, code: str, flags: list[dict]) -> list[dict]:
    return [{"plan_id": plan_id, "element_id": code, "code": flag["code"],
             "message_th": flag["message_th"], "message_en": flag["message_en"],
             "details": flag["details"]} for flag in flags]


def list_anomalies(session, plan_id: str | None = None) -> list[dict]:
    """Declared-total mismatches (both values kept) and links that are unresolved (target plan
    not imported) or dangling (target element gone), for one plan or all."""
    query = (select(plan_indicators.c.plan_id, plan_indicators.c.code, plan_indicators.c.flags)
             .where(plan_indicators.c.flagged.is_(True)))
    link_query = select(plan_links)
    if plan_id is not None:
        _plan_row(session, plan_id)
        query = query.where(plan_indicators.c.plan_id == plan_id)
        link_query = link_query.where(plan_links.c.plan_id == plan_id)
    out = []
    for pid, code, flags in session.execute(query.order_by(plan_indicators.c.plan_id,
                                                           plan_indicators.c.code)).tuples():
        out.extend(flag_anomalies(pid, code, unjson(flags, [])))
    for link in _links_out(session, link_query):
        if link["status"] != "resolved":
            out.append(link_anomaly(link["plan_id"], link["from_id"], link, link["status"]))
    return out
