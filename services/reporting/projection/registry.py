"""The unit registry over time (rm_unit_versions, rm_units), indicators and targets.

A unit's version (code, valid_from) is kept at its highest revision; versions plans removed
without an event are marked superseded and counted nowhere (shared.unit_versions.superseded).
Each version takes its rollup keys (province, district: domain.unit_keys) from its parent's
latest version; rm_units is the unit's latest version; obligations, values and yearly aggregates
carry the keys of the version their period counts the unit under (domain.counted_version), and a
change of keys flows down to the children. Registry, plan and target events are rare next to
reports: they are projected one at a time, a few statements each.
"""
from __future__ import annotations

from sqlalchemy import bindparam, select, update

from services.reporting import domain
from services.reporting.models import achievement, indicators, obligations, targets, unit_versions, units, values
from shared.db import chunks, prepared, upsert
from shared.thai import fiscal_year_bounds
from shared.unit_versions import superseded

_VERSION_KEYS = ("code", "valid_from", "valid_to", "level", "lao_type", "parent_code", "province_unit",
                 "district_unit")


def keys_of(version) -> tuple:
    """(province_unit, district_unit, level, lao_type) of a version; NULLs for none."""
    if version is None:
        return (None, None, None, None)
    return (version["province_unit"], version["district_unit"], version["level"], version["lao_type"])


def versions_of(session, codes) -> dict[str, list[dict]]:
    """Every version of these units that plans still holds (not superseded), per code, oldest first."""
    statement = prepared(session, "rm:versions_of", lambda ins: select(
        *(unit_versions.c[column] for column in _VERSION_KEYS)).where(
        unit_versions.c.code.in_(bindparam("codes", expanding=True)), unit_versions.c.superseded == 0).order_by(
        unit_versions.c.code, unit_versions.c.valid_from))
    found: dict[str, list[dict]] = {}
    for chunk in chunks(sorted(codes)):
        for row in session.execute(statement, {"codes": chunk}).mappings():
            found.setdefault(row["code"], []).append(dict(row))
    return found


def org_unit_changed(session, items) -> None:
    """OrgUnitChanged, one at a time: see _version_changed."""
    for envelope, event in items:
        _version_changed(session, event, envelope)


def _version_changed(session, event, envelope) -> None:
    """Keep the version (code, valid_from) of the event with the highest revision (on a tie, the
    later occurred_at; the same event twice changes nothing), then bring the unit's latest version,
    its rows' keys and its descendants up to date (refresh_units)."""
    v = unit_versions.c
    stored = session.execute(prepared(session, "rm:version_revision", lambda ins: select(
        v.revision, v.changed_at).where(v.code == bindparam("code"), v.valid_from == bindparam("valid_from"))),
        {"code": event.code, "valid_from": event.valid_from}).first()
    if stored is not None and (event.revision, envelope.occurred_at) < (stored[0], stored[1]):
        return  # an older revision of this version arrived late: the newer one stands
    upsert(session, unit_versions, {"code": event.code, "valid_from": event.valid_from}, {
        "valid_to": event.valid_to, "revision": event.revision, "level": event.level, "lao_type": event.lao_type,
        "parent_code": event.parent_code, "name_th": event.name_th, "province_code": event.province_code,
        "district_code": event.district_code, "change_kind": event.change_kind,
        "successor_codes": " ".join(event.successor_codes) or None, "forced": 1 if event.forced else 0,
        "changed_at": envelope.occurred_at})
    refresh_units(session, event.code)


_MAX_REFRESHES = 100_000


def refresh_units(session, code: str) -> None:
    """A unit's versions changed (a new one, a new revision, or its parent's keys): key each of its
    versions from its parent's latest version, make ``rm_units`` its latest version, carry to its
    obligations, values and yearly aggregates the keys of the version their period counts it under,
    and do the same for its children when its own keys changed. Registry changes are rare next to
    reports: a few statements per unit."""
    v = unit_versions.c
    parent_of = prepared(session, "rm:unit_row", lambda ins: select(
        units.c.code, units.c.level, units.c.province_unit, units.c.district_unit).where(
        units.c.code == bindparam("code")))
    set_version_keys = prepared(session, "rm:version_keys", lambda ins: update(unit_versions).where(
        v.code == bindparam("b_code"), v.valid_from == bindparam("b_from")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d")))
    every_version = prepared(session, "rm:every_version", lambda ins: select(
        *(v[column] for column in _VERSION_KEYS), v.revision, v.change_kind, v.superseded).where(
        v.code == bindparam("code")).order_by(v.valid_from))
    set_superseded = prepared(session, "rm:version_superseded", lambda ins: update(unit_versions).where(
        v.code == bindparam("b_code"), v.valid_from == bindparam("b_from")).values(superseded=bindparam("s")))
    children_of = prepared(session, "rm:unit_children", lambda ins: select(v.code).distinct().where(
        v.parent_code == bindparam("code")).order_by(v.code))
    pending, rounds = [code], 0
    while pending:
        code = pending.pop()
        # A unit is refreshed again whenever one of its parents' keys changed (one that moved may
        # hang below two units of the subtree); a cycle in the registry must not loop for ever.
        rounds += 1
        if rounds > _MAX_REFRESHES:
            break
        # the versions plans removed (shared.unit_versions.superseded) count nowhere
        stored = [dict(row) for row in session.execute(every_version, {"code": code}).mappings()]
        if not stored:
            continue
        flags = []
        for row in stored:
            flag = superseded(row, stored)
            if flag != bool(row["superseded"]):
                flags.append({"b_code": code, "b_from": row["valid_from"], "s": int(flag)})
                row["superseded"] = int(flag)
        if flags:
            session.execute(set_superseded, flags)
        parents: dict = {}
        for version in stored:  # superseded ones too: their keys never depend on the order of events
            parent_code = version["parent_code"]
            if parent_code not in parents:
                parents[parent_code] = (None if parent_code is None else
                                        session.execute(parent_of, {"code": parent_code}).mappings().first())
            keys = domain.unit_keys(code, version["level"], parents[parent_code])
            if keys != (version["province_unit"], version["district_unit"]):
                session.execute(set_version_keys, {"b_code": code, "b_from": version["valid_from"],
                                                   "p": keys[0], "d": keys[1]})
                version["province_unit"], version["district_unit"] = keys
        versions = [version for version in stored if not version["superseded"]]
        if not versions:
            continue  # cannot happen: the highest revision is never superseded
        before = session.execute(parent_of, {"code": code}).mappings().first()
        latest = session.execute(select(unit_versions).where(
            v.code == code, v.valid_from == versions[-1]["valid_from"])).mappings().one()
        upsert(session, units, {"code": code}, {
            column: latest[column] for column in ("level", "lao_type", "parent_code", "name_th", "province_code",
                                                  "district_code", "province_unit", "district_unit", "valid_from",
                                                  "valid_to", "changed_at")})
        _carry_keys(session, code, versions)
        if before is None or (before["level"], before["province_unit"], before["district_unit"]) != (
                latest["level"], latest["province_unit"], latest["district_unit"]):
            pending.extend(session.execute(children_of, {"code": code}).scalars().all())


def _carry_keys(session, code: str, versions: list[dict]) -> None:
    """Each obligation, value and yearly aggregate of the unit takes the keys of the version its
    period (its fiscal year, for an aggregate) counts the unit under (domain.counted_version)."""
    o, val, a = obligations.c, values.c, achievement.c
    obligation_periods = prepared(session, "rm:unit_obligation_periods", lambda ins: select(o.period).distinct().where(
        o.unit_code == bindparam("code")))
    value_periods = prepared(session, "rm:unit_value_periods", lambda ins: select(val.period).distinct().where(
        val.unit_code == bindparam("code")))
    years = prepared(session, "rm:unit_years", lambda ins: select(a.fiscal_year_be).distinct().where(
        a.unit_code == bindparam("code")))
    carry = prepared(session, "rm:carry_obligations", lambda ins: update(obligations).where(
        o.unit_code == bindparam("code"), o.period.is_not_distinct_from(bindparam("b_period"))).values(
        province_unit=bindparam("p"), district_unit=bindparam("d"), lao_type=bindparam("t")))
    carry_values = prepared(session, "rm:carry_values", lambda ins: update(values).where(
        val.unit_code == bindparam("code"), val.period == bindparam("b_period")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d")))
    carry_years = prepared(session, "rm:carry_achievement", lambda ins: update(achievement).where(
        a.unit_code == bindparam("code"), a.fiscal_year_be == bindparam("b_fy")).values(
        province_unit=bindparam("p"), district_unit=bindparam("d"), level=bindparam("l"), lao_type=bindparam("t")))

    def keys(bounds):
        return keys_of(domain.counted_version(versions, *bounds))

    params = []
    for period in session.execute(obligation_periods, {"code": code}).scalars().all():
        p, d, _, t = keys(domain.bounds_of(period))
        params.append({"code": code, "b_period": period, "p": p, "d": d, "t": t})
    if params:
        session.execute(carry, params)
    params = []
    for period in session.execute(value_periods, {"code": code}).scalars().all():
        p, d, _, _ = keys(domain.bounds_of(period))
        params.append({"code": code, "b_period": period, "p": p, "d": d})
    if params:
        session.execute(carry_values, params)
    params = []
    for fiscal_year in session.execute(years, {"code": code}).scalars().all():
        p, d, level, t = keys(fiscal_year_bounds(fiscal_year))
        params.append({"code": code, "b_fy": fiscal_year, "p": p, "d": d, "l": level, "t": t})
    if params:
        session.execute(carry_years, params)


def indicators_published(session, items) -> None:
    """PlanPublished, ReportingRulePublished: each indicator's name, unit of measure, value type and
    direction (the latest event wins)."""
    for _, event in items:
        for spec in event.indicators:
            upsert(session, indicators, {"code": spec.code}, {
                "name_th": spec.name_th, "unit_of_measure": spec.unit_of_measure, "value_type": spec.value_type,
                "direction": spec.direction})


def target_set(session, items) -> None:
    """TargetSet: the target of an indicator and fiscal year for a scope (a unit, ``lao_type:<t>``,
    ``level:<l>`` or ``*``) and plan; the latest event wins."""
    for envelope, event in items:
        upsert(session, targets, {"indicator_code": event.indicator_code, "fiscal_year_be": event.fiscal_year_be,
                                  "scope": event.unit_code or event.unit_group or "*", "plan_id": event.plan_id},
               {"value": event.value, "set_at": envelope.occurred_at})
