"""Importing a plan: validated first, one transaction, idempotent.

``import_plan(document, uow)`` reads any supported shape (reading.py), checks links against plans
already imported, then compares the plan with what is stored and writes only the differences, in a
few set-based statements. Events go to the transactional outbox (``uow.add_event``) only when
something changed: one ``PlanPublished`` (with the plan's indicators) and one ``TargetSet`` per new
or changed target (a removed target is published as value None, "no target").

Links are stored by target code and resolved when read: a link to an element of a plan that is
not imported yet is kept and reported as an anomaly ("unresolved") until that plan arrives; a
link to an element that an imported plan does not have is refused on import (and reported as
"dangling" if a later version of the higher plan drops it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update

from services.plans import domain
from services.plans.development_plans import views
from services.plans.development_plans.reading import PlanInput, read_plan
from services.plans.development_plans.tables import (plan_elements, plan_indicators, plan_links, plan_plans,
                                                     plan_targets)
from services.plans.development_plans.tree import LIST_OF_KIND, PARENT_PLAN, FlatPlan, spec_direction
from shared.contracts import utcnow
from shared.contracts.events import IndicatorSpec, PlanPublished, TargetSet
from shared.db import UnitOfWork
from shared.errors import InputError

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


def import_plan(document: dict, uow: UnitOfWork, *, source_name: str | None = None,
                dry_run: bool = False, actor: domain.Actor | dict | None = None) -> dict:
    """Import (create or update) a plan from a parsed YAML/JSON document of any supported shape.

    Validates everything before writing; writes only what changed; returns a summary with
    created/updated/unchanged/deleted counts per part, the anomalies and the number of events.
    With dry_run nothing is written and no event is added.
    """
    if not isinstance(document, dict):
        raise InputError("invalid", "body", "ข้อมูลแผนต้องเป็นออบเจ็กต์", "a plan document must be an object",
                         status=422)
    plan_input = read_plan(document, source_name=source_name)
    flat = plan_input.flat
    session = uow.session
    _check_link_targets(session, plan_input)
    stored = _load_stored(session, flat.plan_id)
    if actor is not None:  # a dry run shows a plan's changes only to who may make them
        domain.check_may_change_plan(domain.Actor.of(actor), flat.header.get("owner_code"),
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
        "anomalies": flat_anomalies(session, flat),
        "events": 0,
    }
    if dry_run or not changed:
        return summary
    _write(session, flat, stored, new, changes, version, source_name)
    summary["events"] = _publish(uow, flat, changes, stored, version)
    return summary


def _flat_counts(flat: FlatPlan) -> dict:
    return {"strategic_issues": flat.count("strategic_issue"), "goals": flat.count("goal"),
            "indicators": flat.count("indicator"), "strategies": flat.count("strategy"),
            "other_elements": sum(1 for e in flat.elements if e.kind not in LIST_OF_KIND),
            "targets": len(flat.targets),
            "targets_with_value": sum(1 for t in flat.targets if t.value is not None),
            "links": len(flat.links)}


def _check_link_targets(session, plan_input: PlanInput) -> None:
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
        direction=spec_direction(indicator.get("direction"), has_targets),
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


def flat_anomalies(session, flat: FlatPlan) -> list[dict]:
    """Anomalies of a plan about to be imported (for the import summary and dry runs)."""
    out = []
    for code, indicator in flat.indicators.items():
        out.extend(views.flag_anomalies(flat.plan_id, code, indicator.flags))
    own = {flat.plan_id: {e.code: {"kind": e.kind, "title_th": e.title_th} for e in flat.elements}}
    status = views.resolve_links(session, {(l.to_plan_id, l.to_code) for l in flat.links}, own)
    for link in flat.links:
        state = status[(link.to_plan_id, link.to_code)]["status"]
        if state != "resolved":
            out.append(views.link_anomaly(flat.plan_id, link.from_code,
                                          {"relation": link.relation, "to_plan_id": link.to_plan_id,
                                      "to_id": link.to_code, "basis": link.basis}, state))
    return out
