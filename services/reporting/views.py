"""Every query of reporting, the read side: dashboards, the per-directive compliance, the event
count. Each takes a read session and returns plain data. The contract is docs/reporting.md, RPCs;
every figure is defined in docs/reporting.md, Definitions (domain.py holds the rules).

A node is the nation (``None``, or a unit at a national level such as MOI or DLA), a province
(a PLO, or a unit directly below the nation such as BMA), a district (a DLO) or a unit. Its
children are the next level down; obligations carry their unit's province and district keys, so
every rollup is one GROUP BY over a covering index.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, literal, select, true

from services.reporting import domain
from services.reporting.models import (achievement, deliveries, directive_summary, directive_units, event_log,
                                       indicators, obligations, periods, targets, unit_versions, units, values)
from shared import cascade as cascade_figures
from shared import indicators as rules
from shared.calendar import PERIOD_KINDS, period_kind, period_sort_key
from shared.contracts import utcnow
from shared.errors import InputError, invalid, not_found
from shared.listing import order_by
from shared.thai import fiscal_year_bounds
from shared.unit_versions import version_for_period
from shared.vocabulary import LAO_LEVEL, NATIONAL_LEVELS

NATION = {"code": None, "name_th": "ทั้งประเทศ", "level": "nation"}


@dataclass(frozen=True)
class Node:
    code: str | None
    name_th: str
    level: str
    kind: str            # nation | province | district | unit
    lao_type: str | None = None
    province: str | None = None  # the province a district belongs to (lets indexes start with it)

    def as_dict(self) -> dict:
        return {"code": self.code, "name_th": self.name_th, "level": self.level}


def node(session, unit_code: str | None, field: str = "unit_code") -> Node:
    if unit_code in (None, ""):
        return Node(None, NATION["name_th"], "nation", "nation")
    row = session.execute(select(units).where(units.c.code == unit_code)).mappings().first()
    if row is None:
        raise not_found(field, "หน่วยงาน", "unit", unit_code)
    if row["level"] in NATIONAL_LEVELS:
        kind = "nation"
    elif row["level"] == LAO_LEVEL:
        kind = "unit"
    elif row["district_unit"] == unit_code:
        kind = "district"
    elif row["province_unit"] == unit_code:
        kind = "province"
    else:
        kind = "unit"
    return Node(unit_code, row["name_th"], row["level"], kind, row["lao_type"], row["province_unit"])


def _scope(table, n: Node):
    """(WHERE clause, column giving each row's child of ``n``) for a table with the unit keys."""
    if n.kind == "nation":
        return true(), table.c.province_unit
    if n.kind == "province":
        return table.c.province_unit == n.code, table.c.district_unit
    if n.kind == "district":
        return (and_(table.c.province_unit == n.province, table.c.district_unit == n.code),
                table.c.unit_code if "unit_code" in table.c else table.c.code)
    column = table.c.unit_code if "unit_code" in table.c else table.c.code
    return column == n.code, column


def _child_of(n: Node, code: str, province: str | None, district: str | None):
    """``_scope`` in Python for one unit's keys: its child of ``n``, or False outside ``n``."""
    if n.kind == "nation":
        return province
    if n.kind == "province":
        return district if province == n.code else False
    if n.kind == "district":
        return code if (province, district) == (n.province, n.code) else False
    return code if code == n.code else False


def _unit_rows(session, codes) -> dict[str, dict]:
    codes = sorted({c for c in codes if c})
    if not codes:
        return {}
    result = {}
    for start in range(0, len(codes), 500):
        for row in session.execute(select(units.c.code, units.c.name_th, units.c.level, units.c.lao_type)
                                   .where(units.c.code.in_(codes[start:start + 500]))).mappings():
            result[row["code"]] = dict(row)
    return result


def known_periods(session) -> list[str]:
    """Every period label with obligations that follows the period grammar, months first, then
    quarters, then fiscal years, each kind in chronological order. A label stored before periods were
    checked (``T1796651760``) is left out here and flagged by ``invalid_periods``: one bad row never
    takes a dashboard down."""
    labels = session.execute(select(periods.c.period)).scalars().all()
    return sorted((label for label in labels if period_kind(label)), key=period_sort_key)


def invalid_periods(session) -> list[str]:
    """Stored period labels that are not periods of the grammar (their obligations still count in
    the totals; no period axis shows them)."""
    return sorted(label for label in session.execute(select(periods.c.period)).scalars().all()
                  if not period_kind(label))


def periods_by_kind(labels: list[str]) -> dict[str, list[str]]:
    """Canonical labels split by kind (month / quarter / year), each in chronological order."""
    return {kind: [label for label in labels if period_kind(label) == kind] for kind in PERIOD_KINDS}


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _check_period(session, period: str | None, field: str = "period") -> None:
    if period is not None and session.execute(select(periods.c.period).where(periods.c.period == period)).first() is None:
        raise not_found(field, "งวดรายงาน", "period", period)


# --- compliance ------------------------------------------------------------------------------------

SUBMITTED = ("on_time", "late", "returned")  # statuses a submission decides: they count whatever the time


def _effective_due(c):
    return case((and_(c.extended_due_at.is_not(None), c.extended_due_at > c.due_at), c.extended_due_at),
                else_=c.due_at)


def _status_now(c, now: datetime):
    """``domain.status_at`` in SQL, for the rows not submitted (status missing or pending)."""
    effective_due = _effective_due(c)
    return case((and_(effective_due.is_not(None), effective_due <= now), literal("missing")), else_=literal("pending"))


def _status_rows(session, keys: list, where: list, now: datetime, flags: bool = True):
    """(keys..., status at ``now``, n[, extended]) rows: submitted obligations (on time, late,
    returned) by their stored status over a covering index, the others (missing or pending) by their
    effective due against ``now`` (those rows are read: a few per cent of a year)."""
    c = obligations.c
    measures = [func.count()] + ([func.sum(c.extended)] if flags else [])
    submitted = (select(*keys, c.status, *measures)
                 .where(*where, c.status.in_(SUBMITTED)).group_by(*keys, c.status))
    status_now = _status_now(c, now)
    unsubmitted = (select(*keys, status_now, *measures)
                   .where(*where, c.status.in_(("missing", "pending"))).group_by(*keys, status_now))
    yield from session.execute(submitted).all()
    yield from session.execute(unsubmitted).all()


def _status_counts(session, group, where: list, now: datetime) -> tuple[dict, dict]:
    """Counts per child and per LAO type, statuses as at ``now``."""
    c = obligations.c
    per_child: dict[str | None, dict] = defaultdict(dict)
    per_type: dict[str | None, dict] = defaultdict(dict)
    for child, lao_type, status, n_rows, extended in _status_rows(
            session, [group.label("child"), c.lao_type], where, now):
        # "returned" is a status (awaiting resubmission), counted once, never as missing
        part = {status: n_rows, "extended": int(extended or 0)}
        domain.add_counts(per_child[child], part)
        domain.add_counts(per_type[lao_type], part)
    return per_child, per_type


def compliance(session, unit_code: str | None = None, period: str | None = None, rule_id: str | None = None,
               lao_type: str | None = None, now: datetime | None = None) -> dict:
    n = node(session, unit_code)
    now = now or utcnow()
    c = obligations.c
    scope, group = _scope(obligations, n)
    where = [scope]
    if period:
        where.append(c.period == period)
    if rule_id:
        where.append(c.rule_id == rule_id)
    if lao_type:
        where.append(c.lao_type == lao_type)
    all_periods = known_periods(session)
    period_lists = {"periods": all_periods, "periods_by_kind": periods_by_kind(all_periods),
                    "invalid_periods": invalid_periods(session)}
    if n.kind == "unit":
        rows = session.execute(select(obligations).where(*where, c.status != "cancelled")
                               .order_by(c.period, c.rule_id, c.obligation_id)).mappings().all()
        totals: dict = {}
        children = []
        for row in rows:
            status = domain.status_at(row["status"], row["due_at"], row["extended_due_at"], now)
            single = {status: 1, "extended": row["extended"]}
            domain.add_counts(totals, single)
            # the LAO type of the version the obligation's period counts the unit under
            children.append({"code": n.code, "name_th": n.name_th, "level": n.level, "lao_type": row["lao_type"],
                             "obligation_id": row["obligation_id"], "rule_id": row["rule_id"],
                             "directive_id": row["directive_id"], "period": row["period"],
                             "indicator_code": row["indicator_code"], "indicator_name_th": row["indicator_name_th"],
                             "due_at": _iso(row["due_at"]), "extended_due_at": _iso(row["extended_due_at"]),
                             "submitted_at": _iso(row["last_submitted_at"]), "status": status,
                             **domain.counts(**single)})
        return {"unit": n.as_dict(), "period": period, **period_lists,
                "totals": domain.counts(**totals), "children": children}
    per_child, per_type = _status_counts(session, group, where, now)
    names = _unit_rows(session, per_child)
    totals = {}
    children = []
    for child, bucket in per_child.items():
        domain.add_counts(totals, bucket)
        info = names.get(child) or ({"name_th": n.name_th, "level": n.level, "lao_type": n.lao_type}
                                    if child is None or child == n.code else {"name_th": child, "level": None,
                                                                              "lao_type": None})
        children.append({"code": child if child is not None else n.code, "name_th": info["name_th"],
                         "level": info["level"], "lao_type": info["lao_type"], **domain.counts(**bucket)})
    children.sort(key=lambda row: (row["code"] or ""))
    by_type = [{"lao_type": key, **domain.counts(**value)}
               for key, value in sorted(per_type.items(), key=lambda kv: kv[0] or "")]
    return {"unit": n.as_dict(), "period": period, **period_lists, "totals": domain.counts(**totals),
            "children": children, "by_lao_type": by_type}


def compliance_matrix(session, unit_code: str | None = None, periods_: list[str] | None = None,
                      rule_id: str | None = None, kind: str | None = None, now: datetime | None = None) -> dict:
    """On-time rate per child unit and period, for periods of ONE kind (months, quarters or fiscal
    years never share an axis), in chronological order; ``totals`` = the node's figures per period
    (the line of the dashboard: the same numbers as ``compliance`` for that period)."""
    n = node(session, unit_code)
    now = now or utcnow()
    c = obligations.c
    if kind is not None and kind not in PERIOD_KINDS:
        raise invalid("kind", "ชนิดงวดต้องเป็น month, quarter หรือ year", "kind must be month, quarter or year")
    if periods_:
        kinds = {period_kind(label) for label in periods_}
        if None in kinds or len(kinds) > 1 or (kind is not None and kinds != {kind}):
            raise invalid("periods", "งวดในตารางเดียวกันต้องเป็นชนิดเดียวกัน (เดือน ไตรมาส หรือปีงบประมาณ)",
                          "the periods of one matrix must be of one kind (months, quarters or fiscal years)")
        kind = kinds.pop()
        chosen = sorted(dict.fromkeys(periods_), key=period_sort_key)
    else:
        by_kind = periods_by_kind(known_periods(session))
        kind = kind or next((k for k in PERIOD_KINDS if by_kind[k]), "month")
        chosen = by_kind[kind][-12:]
    scope, group = _scope(obligations, n)
    if n.kind == "unit":
        group = c.unit_code
    where = [scope, c.period.in_(chosen)] if chosen else [scope, literal(False)]
    if rule_id:
        where.append(c.rule_id == rule_id)
    cells: dict = defaultdict(lambda: defaultdict(dict))
    per_period: dict = defaultdict(dict)
    for child, period, status, n_rows in _status_rows(session, [group, c.period], where, now, flags=False):
        domain.add_counts(cells[child][period], {status: n_rows})
        domain.add_counts(per_period[period], {status: n_rows})
    names = _unit_rows(session, cells)
    rows = []
    for child in sorted(cells, key=lambda code: code or ""):
        info = names.get(child) or {"name_th": n.name_th if child in (None, n.code) else child}
        rows.append({"code": child if child is not None else n.code, "name_th": info["name_th"],
                     "cells": {p: domain.counts(**cells[child][p])["on_time_rate"] if p in cells[child] else None
                               for p in chosen}})
    totals = {p: {key: value for key, value in domain.counts(**per_period.get(p, {})).items()
                  if key != "extended"} for p in chosen}
    return {"unit": n.as_dict(), "kind": kind, "periods": chosen, "rows": rows, "totals": totals}


# --- cascade ---------------------------------------------------------------------------------------

def _cascade_state(row) -> str:
    """The assignment's state from its facts, as plans holds it: the latest of sent (issued),
    received, acknowledged, forwarded and the last state change wins (on a tie, the later step)."""
    facts = [(row["assigned_at"], 0, "issued"), (row["received_at"], 1, "received"),
             (row["acknowledged_at"], 2, "acknowledged"), (row["forwarded_at"], 3, "forwarded"),
             (row["state_at"], 4, row["state"])]
    known = [fact for fact in facts if fact[0] is not None and fact[2]]
    return max(known)[2] if known else "not_received"


def cascade(session, directive_id: str, unit_code: str | None = None) -> dict:
    """The cascade with the figures of shared/cascade.py (plans' own cascade uses the same)."""
    summary = session.execute(select(directive_summary).where(
        directive_summary.c.directive_id == directive_id)).mappings().first()
    if summary is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    n = node(session, unit_code)
    d = directive_units.c
    rows = session.execute(
        select(directive_units, units.c.name_th, units.c.level, units.c.province_unit, units.c.district_unit)
        .select_from(directive_units.outerjoin(units, units.c.code == d.unit_code))
        .where(d.directive_id == directive_id)).mappings().all()
    by_assignment = {row["assignment_id"]: row for row in rows if row["assignment_id"]}
    items = []
    for row in rows:
        if n.kind != "nation" and n.code not in (row["unit_code"], row["province_unit"], row["district_unit"]):
            continue
        parent = by_assignment.get(row["parent_assignment_id"])
        items.append({
            "unit_code": row["unit_code"], "name_th": row["name_th"], "level": row["level"],
            "state": _cascade_state(row),
            "forwarded_by": parent["unit_code"] if parent else None,
            "forwarded_by_name_th": parent["name_th"] if parent else None,
            "assigned_at": _iso(row["assigned_at"]), "received_at": _iso(row["received_at"]),
            "acknowledged_at": _iso(row["acknowledged_at"]), "forwarded_at": _iso(row["forwarded_at"]),
            **cascade_figures.unit_figures(assigned_at=row["assigned_at"], acknowledged_at=row["acknowledged_at"],
                                           sender_assigned_at=parent["assigned_at"] if parent else summary["issued_at"]),
            "report_status": row["report_status"]})
    items.sort(key=lambda item: item["unit_code"])
    slowest = sorted((item for item in items if item["hop_s"] is not None), key=lambda item: -item["hop_s"])[:10]
    return {"directive": {"directive_id": directive_id, "document_number": summary["document_number"],
                          "title_th": summary["title_th"], "issued_at": _iso(summary["issued_at"]),
                          "addressee_count": summary["addressee_count"]},
            "unit": n.as_dict(), "levels": cascade_figures.levels(items), "units": items, "slowest_hops": slowest}


# --- achievement -----------------------------------------------------------------------------------

def directive_compliance(session, directive_id: str, unit_codes: list[str] | None = None, now=None) -> dict:
    """On time / late / missed / pending per addressee (only ``unit_codes`` when given); the report
    status is the obligation's status at ``now`` (``domain.status_at``, as on every dashboard): an
    addressee whose report is not yet due is pending, never missed, and the on-time rate counts only
    reports due or submitted."""
    summary = session.execute(select(directive_summary).where(
        directive_summary.c.directive_id == directive_id)).mappings().first()
    if summary is None:
        raise not_found("directive_id", "ข้อสั่งการ", "directive", directive_id)
    now = now or utcnow()
    o = obligations.c
    query = (select(directive_units, o.status.label("obligation_status"), o.extended_due_at)
             .select_from(directive_units.outerjoin(obligations, o.obligation_id == directive_units.c.obligation_id))
             .where(directive_units.c.directive_id == directive_id))
    if unit_codes is not None:
        query = query.where(directive_units.c.unit_code.in_(unit_codes))
    units = []
    for row in session.execute(query.order_by(directive_units.c.unit_code)).mappings().all():
        row = dict(row)
        stored, extended_due_at = row.pop("obligation_status"), row.pop("extended_due_at")
        if stored is not None and stored != "cancelled":
            status = domain.status_at(stored, row["due_at"], extended_due_at, now)
            row["report_status"] = "missed" if status == "missing" else status
        units.append(row)
    counts = {status: 0 for status in ("pending", "on_time", "late", "missed", "returned")}
    for row in units:
        counts[row["report_status"]] += 1
    expected = len(units)
    due = counts["on_time"] + counts["late"] + counts["missed"] + counts["returned"]
    acknowledged = sum(1 for row in units if row["acknowledged_at"])
    return {
        "directive_id": directive_id,
        "document_number": summary["document_number"],
        "title_th": summary["title_th"],
        "expected": expected,
        "due": due,
        "counts": counts,
        "on_time_rate": domain.rate(counts["on_time"], due),
        "acknowledgement_rate": domain.rate(acknowledged, expected),
        "units": [{key: (value.isoformat() if hasattr(value, "isoformat") else value)
                   for key, value in row.items()} for row in units],
    }


def _targets(session, indicator_code: str, fiscal_year: int, plan_id: str | None) -> dict[str, float | None]:
    """Target per scope; when several plans set one for the same scope, the latest set wins."""
    query = select(targets.c.scope, targets.c.value, targets.c.set_at).where(
        targets.c.indicator_code == indicator_code, targets.c.fiscal_year_be == fiscal_year)
    if plan_id:
        query = query.where(targets.c.plan_id == plan_id)
    by_scope: dict = {}
    for scope, value, set_at in sorted(session.execute(query).all(), key=lambda r: r[2]):
        by_scope[scope] = value
    return by_scope


def achievement_report(session, indicator_code: str, fiscal_year_be: int, unit_code: str | None = None,
                       plan_id: str | None = None, now: datetime | None = None) -> dict:
    if not isinstance(fiscal_year_be, int) or isinstance(fiscal_year_be, bool) or not 2400 <= fiscal_year_be <= 2699:
        raise InputError("invalid", "fiscal_year_be", "ปีงบประมาณต้องเป็นปี พ.ศ. สี่หลัก เช่น 2569",
                         "fiscal_year_be must be a B.E. year such as 2569", status=422)
    indicator = session.execute(select(indicators).where(indicators.c.code == indicator_code)).mappings().first()
    if indicator is None:
        raise not_found("indicator_code", "ตัวชี้วัด", "indicator", indicator_code)
    n = node(session, unit_code)
    direction = indicator["direction"] or "increase"
    by_scope = _targets(session, indicator_code, fiscal_year_be, plan_id)
    months = domain.months_elapsed(fiscal_year_be, domain.today_bangkok(now or utcnow()))
    a = achievement.c
    scope, group = _scope(achievement, n)
    query = (select(a.unit_code, a.latest_value, a.sum_value, a.level, a.lao_type, group)
             .where(a.indicator_code == indicator_code, a.fiscal_year_be == fiscal_year_be, scope))
    members = {row[0]: row for row in session.execute(query).all()}
    # Units with a target of their own but no value yet count as "no data", as the version the
    # fiscal year counts them under (its LAO type, district and province), if they existed in it.
    own_targets = [s for s in by_scope if ":" not in s and s != rules.EVERYONE and s not in members]
    year_start, year_end = fiscal_year_bounds(fiscal_year_be)
    versions: dict[str, list] = defaultdict(list)
    for start in range(0, len(own_targets), 500):
        for row in session.execute(select(unit_versions).where(
                unit_versions.c.code.in_(own_targets[start:start + 500]), unit_versions.c.superseded == 0)).mappings():
            versions[row["code"]].append(row)
    for code, own in versions.items():
        version = version_for_period(own, year_start, year_end)
        if version is None or version["level"] != LAO_LEVEL:
            continue
        child = _child_of(n, version["code"], version["province_unit"], version["district_unit"])
        if child is not False:
            members[code] = (code, None, None, version["level"], version["lao_type"], child)
    summary = {"achieved": 0, "not_achieved": 0, "no_target": 0, "at_risk": 0, "no_data": 0}
    per_child: dict = defaultdict(lambda: defaultdict(int))
    classify = rules.classifier(direction, indicator["value_type"], months)
    group_targets: dict = {}  # (level, lao_type) -> target: the same for every unit without its own
    for code, latest, total, level, lao_type, child in members.values():
        if code in by_scope:
            target = by_scope[code]
        else:
            key = (level, lao_type)
            if key not in group_targets:
                group_targets[key] = rules.resolve_target(by_scope, "", level, lao_type)[1]
            target = group_targets[key]
        actual, status, risky = classify(latest, total, target)
        summary[status] += 1
        summary["at_risk"] += risky
        acc = per_child[child if child is not None else n.code]  # one pass: sums and counts per child
        acc["units"] += 1
        acc[status] += 1
        acc["at_risk"] += risky
        acc["last"] = (actual, target, status)
        if actual is not None:
            acc["sum_actual"] += actual
            acc["n_actual"] += 1
        if target is not None:
            acc["sum_target"] += target
            acc["n_target"] += 1
    names = _unit_rows(session, per_child)
    rows = []
    for child in sorted(per_child, key=lambda c: c or ""):
        acc = per_child[child]
        info = names.get(child) or {"name_th": n.name_th, "level": n.level}
        if acc["units"] == 1 and info.get("level") == LAO_LEVEL:
            actual, target, status = acc["last"]
        else:
            actual = round(acc["sum_actual"] / acc["n_actual"], 4) if acc["n_actual"] else None
            target = by_scope[child] if child in by_scope else (
                round(acc["sum_target"] / acc["n_target"], 4) if acc["n_target"] else None)
            status = rules.achievement(direction, actual, target)
        rows.append({"code": child, "name_th": info["name_th"], "level": info.get("level"),
                     "actual": actual, "target": target, "status": status, "units": acc["units"],
                     "at_risk": acc["at_risk"],
                     **{key: acc[key] for key in ("achieved", "not_achieved", "no_target", "no_data")}})
    n_target = sum(acc["n_target"] for acc in per_child.values())
    node_target = by_scope.get(n.code) if n.code in by_scope else (
        round(sum(acc["sum_target"] for acc in per_child.values()) / n_target, 4) if n_target else None)
    return {"indicator": {"code": indicator["code"], "name_th": indicator["name_th"],
                          "unit_of_measure": indicator["unit_of_measure"], "direction": direction,
                          "value_type": indicator["value_type"]},
            "fiscal_year_be": fiscal_year_be, "unit": n.as_dict(), "summary": summary, "rows": rows,
            "trend": _trend(session, n, indicator_code, fiscal_year_be, node_target)}


def _trend(session, n: Node, indicator_code: str, fiscal_year: int, target: float | None) -> list[dict]:
    v = values.c
    scope, _ = _scope(values, n)
    # Grouped in the covering index's own order (province, district, period): no sort of every value
    # of the year (at national scope that sort cost 120 ms at scale 1); the few thousand partial sums
    # are added up per period here.
    query = (select(v.period, func.sum(v.value), func.count())
             .where(v.indicator_code == indicator_code, v.fiscal_year_be == fiscal_year, scope)
             .group_by(v.province_unit, v.district_unit, v.period))
    totals: dict[str, list] = {}
    for period, total, count in session.execute(query).all():
        acc = totals.setdefault(period, [0.0, 0])
        acc[0] += total
        acc[1] += count
    return [{"period": period, "actual": round(total / count, 4) if count else None, "target": target,
             "units": count}
            for period, (total, count) in sorted(totals.items())]


# --- notifications ---------------------------------------------------------------------------------

def notification_effectiveness(session, unit_code: str | None = None, period: str | None = None) -> dict:
    n = node(session, unit_code)
    dl, o = deliveries.c, obligations.c
    query = (select(dl.kind, dl.step, dl.channel, dl.sent_at, dl.late, dl.failed_final, o.first_submitted_at)
             .select_from(deliveries.outerjoin(obligations, o.obligation_id == dl.subject_ref)))
    if n.kind != "nation":
        scope, _ = _scope(obligations, n)
        query = query.where(scope)
    if period:
        query = query.where(o.period == period)
    groups: dict = {}
    for kind, step, channel, sent_at, late, failed_final, submitted_at in session.execute(query).all():
        bucket = groups.setdefault((kind, step, channel), {"sent": 0, "failed": 0, "late": 0, "submitted_after": 0,
                                                           "durations": []})
        if sent_at is not None:
            bucket["sent"] += 1
            bucket["late"] += late
            if submitted_at is not None and submitted_at >= sent_at:
                bucket["submitted_after"] += 1
                bucket["durations"].append((submitted_at - sent_at).total_seconds())
        elif failed_final:
            bucket["failed"] += 1
    rows = []
    for (kind, step, channel), bucket in sorted(groups.items()):
        durations = bucket.pop("durations")
        rows.append({"kind": kind, "step": step, "channel": channel, **bucket,
                     "submission_rate": domain.rate(bucket["submitted_after"], bucket["sent"]),
                     "median_s_to_submission": domain.median_seconds(durations)})
    return {"unit": n.as_dict(), "period": period, "rows": rows}


# --- overdue ---------------------------------------------------------------------------------------

def _overdue_sort(sort: str | None) -> str | None:
    """``days_late`` is the mirror of the due time: more days late = due earlier."""
    parts = []
    for part in (sort or "").split(","):
        part = part.strip()
        if part.lstrip("-") == "days_late":
            part = "due_at" if part.startswith("-") else "-due_at"
        if part:
            parts.append(part)
    return ",".join(parts) or None


OVERDUE_SORT = ("due_at", "unit_code", "period", "indicator_code", "province_unit", "district_unit", "obligation_id",
                "days_late")


def overdue(session, unit_code: str | None = None, limit: int = 100, offset: int = 0, sort: str | None = None,
            now: datetime | None = None) -> dict:
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InputError("invalid", "limit", "limit ต้องอยู่ระหว่าง 1 ถึง 1000", "limit must be 1..1000", status=400)
    if not isinstance(offset, int) or offset < 0:
        raise InputError("invalid", "offset", "offset ต้องไม่ติดลบ", "offset must be 0 or more", status=400)
    n = node(session, unit_code)
    now = now or utcnow()
    o = obligations.c
    effective_due = _effective_due(o)
    scope, _ = _scope(obligations, n)
    where = [scope, o.status.in_(("missing", "pending")), o.due_at.is_not(None), effective_due < now]
    ordering = order_by(obligations, _overdue_sort(sort), OVERDUE_SORT, ("due_at", "obligation_id"))
    total = session.execute(select(func.count()).select_from(obligations).where(*where)).scalar_one()
    rows = session.execute(select(obligations, effective_due.label("effective_due"))
                           .where(*where).order_by(*ordering).limit(limit).offset(offset)).mappings().all()
    ids = [row["obligation_id"] for row in rows]
    reminders = dict(session.execute(
        select(deliveries.c.subject_ref, func.count()).where(
            deliveries.c.subject_ref.in_(ids or [""]), deliveries.c.kind == "reminder",
            deliveries.c.sent_at.is_not(None)).group_by(deliveries.c.subject_ref)).all())
    names = _unit_rows(session, [row["unit_code"] for row in rows])
    items = []
    for row in rows:
        due = row["effective_due"]
        items.append({"obligation_id": row["obligation_id"], "unit_code": row["unit_code"],
                      "name_th": names.get(row["unit_code"], {}).get("name_th"),
                      "district_code": row["district_unit"], "province_code": row["province_unit"],
                      "indicator_code": row["indicator_code"], "indicator_name_th": row["indicator_name_th"],
                      "period": row["period"], "due_at": _iso(due), "status": row["status"],
                      "days_late": (now - due).days if due else None,
                      "reminders_sent": reminders.get(row["obligation_id"], 0), "directive_id": row["directive_id"]})
    return {"total": total, "items": items}



def event_count(session) -> int:
    """Events reporting has kept (event_log): every event it consumed, projected or not."""
    return session.execute(select(func.count()).select_from(event_log)).scalar_one()


__all__ = ["achievement_report", "cascade", "compliance", "compliance_matrix", "directive_compliance", "event_count",
           "invalid_periods", "known_periods", "node", "notification_effectiveness", "overdue"]
