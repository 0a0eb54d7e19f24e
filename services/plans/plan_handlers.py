"""Use cases of plans: import (validated first, one transaction, idempotent), export, queries.

``import_plan`` reads any supported shape (plan_io), checks links against plans already
imported, then compares the plan with what is stored and writes only the differences. Events go
to the transactional outbox (``uow.add_event``) only when something changed: one
``PlanPublished`` (with the plan's indicators) and one ``TargetSet`` per new or changed target
(a removed target is published as value None, "no target").

Links are stored by target code and resolved when read: a link to an element of a plan that is
not imported yet is kept and reported as an anomaly ("unresolved") until that plan arrives; a
link to an element that an imported plan does not have is refused on import (and reported as
"dangling" if a later version of the higher plan drops it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from services.plans import domain, plan_io
from services.plans.plan_io import PARENT_PLAN, FlatPlan
from services.plans.plan_tables import (plan_elements, plan_indicators, plan_links, plan_plans,
                                        plan_targets)
from shared.contracts import utcnow
from shared.contracts.events import IndicatorSpec, PlanPublished, TargetSet
from shared.contracts.plan_document import FORMAT, PlanDocument, plain_number
from shared.db import UnitOfWork
from shared.errors import InputError, forbidden, not_found
from shared.thai import ThaiInputError, parse_be_year
from shared.vocabulary import canonical_direction

LIST_OF_KIND = {"strategic_issue": "strategic_issues", "goal": "goals", "strategy": "strategies",
                "indicator": "indicators"}
CHILD_LISTS = {"strategic_issue": ("goals", "strategies", "elements"),
               "goal": ("indicators", "elements"), "strategy": ("elements",),
               "indicator": ()}
PLAN_FIELDS = ("plan_type", "owner_code", "owner_name_th", "owner_name_en", "title_th", "title_en",
               "period_be_start", "period_be_end", "details")
ELEMENT_FIELDS = ("kind", "parent_code", "position", "title_th", "title_en", "attributes")
INDICATOR_FIELDS = ("unit", "unit_th", "value_type", "direction", "direction_basis", "subject",
                    "targets_status", "declared_total", "declared_total_printed",
                    "total_semantics", "total_semantics_inferred", "flagged", "flags")
TARGET_FIELDS = ("unit_code", "unit_group", "value", "value_printed", "provenance", "inferred")
LINK_FIELDS = ("basis", "position", "attributes")


def _json(value: Any) -> str | None:
    if value in (None, {}, []):
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _unjson(text: str | None, empty: Any = None) -> Any:
    return json.loads(text) if text else ({} if empty is None else empty)


# --- import -------------------------------------------------------------------------------------

@dataclass
class _Stored:
    plan: dict | None = None
    elements: dict[str, dict] = field(default_factory=dict)     # code -> row (+ parent_code)
    indicators: dict[str, dict] = field(default_factory=dict)   # code -> row
    targets: dict[tuple, dict] = field(default_factory=dict)    # (indicator, scope, year) -> row
    links: dict[tuple, dict] = field(default_factory=dict)      # (from, relation, plan, to) -> row


@dataclass
class _Changes:
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: int = 0
    deleted: list = field(default_factory=list)

    def counts(self) -> dict:
        return {"created": len(self.created), "updated": len(self.updated),
                "unchanged": self.unchanged, "deleted": len(self.deleted)}

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


def _load_stored(session, plan_id: str) -> _Stored:
    stored = _Stored()
    row = session.execute(select(plan_plans).where(plan_plans.c.id == plan_id)).mappings().first()
    if row is None:
        return stored
    stored.plan = dict(row)
    rows = [dict(r) for r in session.execute(
        select(plan_elements).where(plan_elements.c.plan_id == plan_id)).mappings()]
    code_of = {r["id"]: r["code"] for r in rows}
    for r in rows:
        r["parent_code"] = code_of.get(r["parent_id"])
        stored.elements[r["code"]] = r
    for r in session.execute(select(plan_indicators).where(
            plan_indicators.c.plan_id == plan_id)).mappings():
        stored.indicators[r["code"]] = dict(r)
    for r in session.execute(select(plan_targets).where(plan_targets.c.plan_id == plan_id)
                             ).mappings():
        stored.targets[(code_of[r["indicator_id"]], r["scope"], r["fiscal_year_be"])] = dict(r)
    for r in session.execute(select(plan_links).where(plan_links.c.plan_id == plan_id)).mappings():
        key = (code_of.get(r["from_element_id"]), r["relation"], r["to_plan_id"],
               r["to_element_code"])
        stored.links[key] = dict(r)
    return stored


def _new_rows(flat: FlatPlan) -> dict[str, dict]:
    """The plan as rows keyed like _Stored (without database ids)."""
    header = {**{k: flat.header[k] for k in PLAN_FIELDS if k != "details"},
              "details": _json(flat.header["details"])}
    elements = {e.code: {"kind": e.kind, "parent_code": e.parent_code, "position": e.position,
                         "title_th": e.title_th, "title_en": e.title_en,
                         "attributes": _json(e.attributes), "depth": e.depth}
                for e in flat.elements}
    indicators = {code: {"unit": i.unit, "unit_th": i.unit_th, "value_type": i.value_type,
                         "direction": i.direction, "direction_basis": i.direction_basis,
                         "subject": i.subject, "targets_status": i.targets_status,
                         "declared_total": i.declared_total,
                         "declared_total_printed": i.declared_total_printed,
                         "total_semantics": i.total_semantics,
                         "total_semantics_inferred": i.total_semantics_inferred,
                         "flagged": bool(i.flags), "flags": _json(i.flags)}
                  for code, i in flat.indicators.items()}
    targets = {t.key: {"unit_code": t.unit_code, "unit_group": t.unit_group, "value": t.value,
                       "value_printed": t.printed, "provenance": t.provenance,
                       "inferred": t.inferred, "flat": t} for t in flat.targets}
    links = {link.key: {"basis": link.basis, "position": link.position,
                        "attributes": _json(link.attributes)} for link in flat.links}
    return {"plan": header, "elements": elements, "indicators": indicators, "targets": targets,
            "links": links}


def _compare(old: dict, new: dict, fields: tuple) -> _Changes:
    changes = _Changes()
    for key, values in new.items():
        before = old.get(key)
        if before is None:
            changes.created.append(key)
        elif any(before[f] != values[f] for f in fields):
            changes.updated.append(key)
        else:
            changes.unchanged += 1
    changes.deleted = [key for key in old if key not in new]
    return changes


def import_plan(uow: UnitOfWork, document: dict, *, source_name: str | None = None,
                dry_run: bool = False, actor: domain.Actor | dict | None = None) -> dict:
    """Import (create or update) a plan from a parsed YAML/JSON document of any supported shape.

    Validates everything before writing; writes only what changed; returns a summary with
    created/updated/unchanged/deleted counts per part, the anomalies and the number of events.
    With dry_run nothing is written and no event is added.
    """
    if not isinstance(document, dict):
        raise InputError("invalid", "body", "ข้อมูลแผนต้องเป็นออบเจ็กต์", "a plan document must be an object",
                         status=422)
    plan_input = plan_io.read_plan(document, source_name=source_name)
    flat = plan_input.flat
    session = uow.session
    _check_link_targets(session, plan_input)
    stored = _load_stored(session, flat.plan_id)
    if actor is not None:  # a dry run shows a plan's changes only to who may make them
        _check_may_change(domain.Actor.of(actor), flat.header.get("owner_code"),
                          stored.plan["owner_code"] if stored.plan else None, stored.plan is not None)
    new = _new_rows(flat)
    changes = {
        "plan": _Changes(created=[flat.plan_id]) if stored.plan is None else (
            _Changes(updated=[flat.plan_id])
            if any(stored.plan[f] != new["plan"][f] for f in PLAN_FIELDS)
            else _Changes(unchanged=1)),
        "elements": _compare(stored.elements, new["elements"], ELEMENT_FIELDS),
        "indicators": _compare(stored.indicators, new["indicators"], INDICATOR_FIELDS),
        "targets": _compare(stored.targets, new["targets"], TARGET_FIELDS),
        "links": _compare(stored.links, new["links"], LINK_FIELDS),
    }
    changed = any(c.changed for c in changes.values())
    old_version = stored.plan["version"] if stored.plan else 0
    version = old_version + 1 if changed else old_version
    status = ("created" if stored.plan is None else "updated") if changed else "unchanged"
    summary = {
        "plan_id": flat.plan_id, "shape": plan_input.shape, "status": status,
        "version": version, "dry_run": dry_run,
        "counts": _flat_counts(flat),
        **{part: {name: c.counts()[part] for name, c in changes.items()}
           for part in ("created", "updated", "unchanged", "deleted")},
        "anomalies": _flat_anomalies(session, flat),
        "events": 0,
    }
    if dry_run or not changed:
        return summary
    _write(session, flat, stored, new, changes, version, source_name)
    summary["events"] = _publish(uow, flat, changes, stored, version)
    return summary


def _check_may_change(actor: domain.Actor, owner_code: str | None, stored_owner_code: str | None,
                      exists: bool) -> None:
    if domain.may_change_plan(actor, owner_code, stored_owner_code, exists):
        return
    if exists and stored_owner_code != actor.org_code:
        raise forbidden("plan.id", f"แผนนี้เป็นของ {stored_owner_code or 'ส่วนกลาง'}: แก้ไขได้เฉพาะเจ้าของแผนหรือส่วนกลาง",
                        f"this plan belongs to {stored_owner_code or 'central'}: only its owner or central may change it")
    raise forbidden("plan.owner_code", f"นำเข้าได้เฉพาะแผนของหน่วยงานของท่าน ({actor.org_code})",
                    f"you may import only your own unit's plan (owner_code {actor.org_code}), not {owner_code or 'none'}")


def _flat_counts(flat: FlatPlan) -> dict:
    return {"strategic_issues": flat.count("strategic_issue"), "goals": flat.count("goal"),
            "indicators": flat.count("indicator"), "strategies": flat.count("strategy"),
            "other_elements": sum(1 for e in flat.elements if e.kind not in LIST_OF_KIND),
            "targets": len(flat.targets),
            "targets_with_value": sum(1 for t in flat.targets if t.value is not None),
            "links": len(flat.links)}


def _check_link_targets(session, plan_input: plan_io.PlanInput) -> None:
    """A link into an imported plan must name an element that plan has (else: unresolved)."""
    flat = plan_input.flat
    foreign = [link for link in flat.links
               if link.to_plan_id != flat.plan_id and link.to_code is not None]
    if not foreign:
        return
    plan_ids = {link.to_plan_id for link in foreign}
    imported = set(session.execute(select(plan_plans.c.id).where(
        plan_plans.c.id.in_(plan_ids))).scalars())
    if not imported:
        return
    codes = set(session.execute(select(plan_elements.c.plan_id, plan_elements.c.code).where(
        plan_elements.c.plan_id.in_(imported))).tuples())
    for link in foreign:
        if link.to_plan_id in imported and (link.to_plan_id, link.to_code) not in codes:
            raise plan_input.error(
                "unknown_reference", f"{link.path}.to_id",
                f"ไม่พบ {link.to_code} ในแผน {link.to_plan_id} ที่นำเข้าแล้ว",
                f"{link.to_code} is not an element of the imported plan {link.to_plan_id}")


def _write(session, flat: FlatPlan, stored: _Stored, new: dict, changes: dict, version: int,
           source_name: str | None) -> None:
    now = utcnow()
    plan_id = flat.plan_id
    values = {**new["plan"], "version": version, "updated_at": now, "source_name": source_name}
    if stored.plan is None:
        session.execute(insert(plan_plans).values(id=plan_id, created_at=now, **values))
    else:
        session.execute(update(plan_plans).where(plan_plans.c.id == plan_id).values(**values))

    ids = {code: row["id"] for code, row in stored.elements.items()}
    for code in changes["elements"].created:           # parents first (flat order is by depth)
        row = new["elements"][code]
        result = session.execute(insert(plan_elements).values(
            plan_id=plan_id, code=code, parent_id=ids.get(row["parent_code"]),
            **{f: row[f] for f in ELEMENT_FIELDS if f != "parent_code"}))
        ids[code] = result.inserted_primary_key[0]
    for code in changes["elements"].updated:
        row = new["elements"][code]
        session.execute(update(plan_elements).where(plan_elements.c.id == ids[code]).values(
            parent_id=ids.get(row["parent_code"]),
            **{f: row[f] for f in ELEMENT_FIELDS if f != "parent_code"}))

    if changes["indicators"].created:
        session.execute(insert(plan_indicators), [
            {"element_id": ids[code], "plan_id": plan_id, "code": code,
             **{f: new["indicators"][code][f] for f in INDICATOR_FIELDS}}
            for code in changes["indicators"].created])
    for code in changes["indicators"].updated:
        session.execute(update(plan_indicators).where(plan_indicators.c.element_id == ids[code])
                        .values(**{f: new["indicators"][code][f] for f in INDICATOR_FIELDS}))

    if changes["targets"].created:
        session.execute(insert(plan_targets), [
            {"plan_id": plan_id, "indicator_id": ids[key[0]], "scope": key[1],
             "fiscal_year_be": key[2], **{f: new["targets"][key][f] for f in TARGET_FIELDS}}
            for key in changes["targets"].created])
    for key in changes["targets"].updated:
        session.execute(update(plan_targets).where(plan_targets.c.id == stored.targets[key]["id"])
                        .values(**{f: new["targets"][key][f] for f in TARGET_FIELDS}))

    if changes["links"].created:
        session.execute(insert(plan_links), [
            {"plan_id": plan_id, "from_element_id": ids[key[0]] if key[0] else None,
             "relation": key[1], "to_plan_id": key[2], "to_element_code": key[3],
             **{f: new["links"][key][f] for f in LINK_FIELDS}}
            for key in changes["links"].created])
    for key in changes["links"].updated:
        session.execute(update(plan_links).where(plan_links.c.id == stored.links[key]["id"])
                        .values(**{f: new["links"][key][f] for f in LINK_FIELDS}))

    # deletions last, children before parents, so no foreign key is ever left dangling
    _delete_ids(session, plan_targets.c.id, [stored.targets[k]["id"] for k in changes["targets"].deleted])
    _delete_ids(session, plan_links.c.id, [stored.links[k]["id"] for k in changes["links"].deleted])
    _delete_ids(session, plan_indicators.c.element_id,
                [stored.indicators[k]["element_id"] for k in changes["indicators"].deleted])
    gone = changes["elements"].deleted
    depth = {}
    for code in gone:
        level, current = 0, stored.elements[code]
        while current["parent_code"] is not None:
            level, current = level + 1, stored.elements[current["parent_code"]]
        depth[code] = level
    for code in sorted(gone, key=lambda c: -depth[c]):
        session.execute(delete(plan_elements).where(plan_elements.c.id == ids[code]))


def _delete_ids(session, column, ids: list) -> None:
    if ids:
        session.execute(delete(column.table).where(column.in_(ids)))


def indicator_spec(code: str, indicator: dict, has_targets: bool) -> IndicatorSpec:
    """IndicatorSpec of a stored or flat indicator (dict with the plan_indicators fields)."""
    value_type = indicator["value_type"]
    minimum = maximum = None
    if value_type == "percent":
        maximum = 100.0
        minimum = None if indicator.get("unit") == "percent_reduction" else 0.0
    elif value_type in ("count", "integer"):
        minimum = 0.0
    return IndicatorSpec(
        code=code, name_th=indicator["name_th"], name_en=indicator.get("name_en"),
        unit_of_measure=indicator.get("unit_th") or indicator.get("unit"), value_type=value_type,
        direction=plan_io.spec_direction(indicator.get("direction"), has_targets),
        minimum=minimum, maximum=maximum)


def _publish(uow: UnitOfWork, flat: FlatPlan, changes: dict, stored: _Stored, version: int) -> int:
    header = flat.header
    with_targets = {t.indicator_code for t in flat.targets if t.value is not None}
    specs = [indicator_spec(code, {**vars(i)}, code in with_targets)
             for code, i in flat.indicators.items()]
    uow.add_event(PlanPublished(
        plan_id=flat.plan_id, title_th=header["title_th"], title_en=header["title_en"],
        owner_code=header["owner_code"], plan_type=header["plan_type"],
        period_be_start=header["period_be_start"], period_be_end=header["period_be_end"],
        parent_plan_ids=[link.to_plan_id for link in flat.links if link.relation == PARENT_PLAN],
        indicators=specs))
    count = 1
    by_key = {t.key: t for t in flat.targets}
    for key in [*changes["targets"].created, *changes["targets"].updated]:
        target = by_key[key]
        uow.add_event(TargetSet(
            plan_id=flat.plan_id, indicator_code=target.indicator_code,
            fiscal_year_be=target.fiscal_year_be, unit_code=target.unit_code,
            unit_group=target.unit_group, value=target.value,
            provenance=target.provenance or f"plan {flat.plan_id} version {version}"))
        count += 1
    for key in changes["targets"].deleted:
        old = stored.targets[key]
        uow.add_event(TargetSet(
            plan_id=flat.plan_id, indicator_code=key[0], fiscal_year_be=key[2],
            unit_code=old["unit_code"], unit_group=old["unit_group"], value=None,
            provenance=f"removed from plan {flat.plan_id} in version {version}"))
        count += 1
    return count


# --- export -------------------------------------------------------------------------------------

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
    return plan, _unjson(plan["details"]), rows, indicators, targets


def export_plan(session, plan_id: str) -> dict:
    """The plan as a normalized document (format thongthin.plan/v1); importing it gives the
    same plan. Flags (e.g. declared-total mismatches) are included on their indicators."""
    plan, details, rows, indicators, targets = _load_tree(session, plan_id)
    code_of = {r["id"]: r["code"] for r in rows}

    nodes: dict[int, dict] = {}
    for r in rows:
        base = {"id": r["code"], "attributes": _unjson(r["attributes"])}
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
                    "declared_total": declared, "flags": _unjson(ind["flags"], [])}
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
         "attributes": _unjson(l["attributes"])}
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


# --- queries ------------------------------------------------------------------------------------

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
            "total_semantics": row["total_semantics"], "flags": _unjson(row["flags"], []),
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
                "title_en": r["title_en"], "attributes": _unjson(r["attributes"]), "children": []}
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
            "name_en": row["title_en"], "attributes": _unjson(row["attributes"]),
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


def _resolve(session, pairs: set[tuple], known: dict[str, set] | None = None) -> dict[tuple, dict]:
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
    status = _resolve(session, {(r["to_plan_id"], r["to_element_code"]) for r in rows})
    out = []
    for r in rows:
        source = sources.get(r["from_element_id"])
        out.append({"plan_id": r["plan_id"], "from_id": source["code"] if source else None,
                    "from_kind": source["kind"] if source else "plan",
                    "from_title_th": source["title_th"] if source else None,
                    "relation": r["relation"], "to_plan_id": r["to_plan_id"],
                    "to_id": r["to_element_code"], "basis": r["basis"],
                    "attributes": _unjson(r["attributes"]),
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


def _link_anomaly(plan_id: str, from_id: str | None, link: dict, status: str) -> dict:
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


def _flag_anomalies(plan_id: str, code: str, flags: list[dict]) -> list[dict]:
    return [{"plan_id": plan_id, "element_id": code, "code": flag["code"],
             "message_th": flag["message_th"], "message_en": flag["message_en"],
             "details": flag["details"]} for flag in flags]


def _flat_anomalies(session, flat: FlatPlan) -> list[dict]:
    """Anomalies of a plan about to be imported (for the import summary and dry runs)."""
    out = []
    for code, indicator in flat.indicators.items():
        out.extend(_flag_anomalies(flat.plan_id, code, indicator.flags))
    own = {flat.plan_id: {e.code: {"kind": e.kind, "title_th": e.title_th} for e in flat.elements}}
    status = _resolve(session, {(l.to_plan_id, l.to_code) for l in flat.links}, own)
    for link in flat.links:
        state = status[(link.to_plan_id, link.to_code)]["status"]
        if state != "resolved":
            out.append(_link_anomaly(flat.plan_id, link.from_code,
                                     {"relation": link.relation, "to_plan_id": link.to_plan_id,
                                      "to_id": link.to_code, "basis": link.basis}, state))
    return out


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
        out.extend(_flag_anomalies(pid, code, _unjson(flags, [])))
    for link in _links_out(session, link_query):
        if link["status"] != "resolved":
            out.append(_link_anomaly(link["plan_id"], link["from_id"], link, link["status"]))
    return out
