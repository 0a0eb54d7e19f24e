"""The org registry over time (issue #16): a change takes effect on the date asked, past, today or
future, and the versions of a unit stay a tiling of time (shared.unit_versions).

A change at D splits the version holding on D into [a, D) and [D, b) and applies the changed fields
to every version from D on; a closing (or a merger or split ending the unit) ends the version
holding on D at D and removes the versions after it. Every version touched is sent again whole
(OrgUnitChanged) with the unit's next revision. A change that would rewrite how a period the unit
already reported is counted is refused (409) unless central forces it with a reason.

Pure planning over rows in memory, then one write: a dry run plans and reports, and writes nothing.
An ending that has taken effect settles the unit's open assignments (unit_endings.py). The periods
units reported, which the 409 rule reads, are kept from assessments' events (on_indicator_submitted).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import bindparam, delete, func, insert, select, update

from services.plans import domain, unit_endings
from services.plans.lookups import bangkok_today
from services.plans.models import org_unit_revisions, org_units, reported_periods
from shared.calendar import period_bounds
from shared.contracts import Envelope
from shared.contracts.commands.plans import OrgUnitInput, RegisterUnits
from shared.contracts.events import IndicatorSubmitted, OrgUnitChanged
from shared.db import UnitOfWork, chunks
from shared.errors import InputError, conflict, forbidden, invalid
from shared.unit_versions import COUNTING_CHANGES, ENDING_KINDS, VersionConflict, check_versions, holds_on, rewrites_period
from shared.vocabulary import LAO_LEVEL

VERSION_FIELDS = ("level", "lao_type", "parent_code", "name_th", "name_en", "province_code", "district_code",
                  "subdistrict_code", "contact_email", "head_name_th", "head_email", "head_phone")
COUNTED_FIELDS = ("level", "lao_type", "parent_code", "district_code", "province_code")
KIND_TH = {"opened": "การจัดตั้ง", "updated": "การแก้ไขข้อมูล", "renamed": "การเปลี่ยนชื่อ",
           "type_changed": "การเปลี่ยนประเภท", "moved": "การย้ายสังกัด", "merged": "การควบรวม",
           "split": "การแยก", "closed": "การยุบเลิก"}
KIND_EN = {"opened": "opening", "updated": "update", "renamed": "renaming", "type_changed": "type change",
           "moved": "move", "merged": "merger", "split": "split", "closed": "closing"}


def infer_kind(before: dict, after: dict) -> str:
    """The change kind a field change amounts to: type first, then district or province, then name."""
    changed = {name for name in VERSION_FIELDS if before.get(name) != after.get(name)}
    if changed & {"level", "lao_type"}:
        return "type_changed"
    if changed & {"parent_code", "district_code", "province_code"}:
        return "moved"
    if changed & {"name_th", "name_en"}:
        return "renamed"
    return "updated"


@dataclass
class Touch:
    kind: str
    effective: date
    reason: str | None
    forced: bool


@dataclass
class Planned:
    """What one input row does, for the answer (and the dry run)."""
    code: str
    action: str                       # create | change | close | unchanged
    change_kind: str | None = None
    effective_date: date | None = None
    fields: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        result = {"code": self.code, "action": self.action}
        if self.change_kind:
            result.update(change_kind=self.change_kind, effective_date=self.effective_date.isoformat())
        if self.fields:
            result["fields"] = self.fields
        return result


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def _version(row) -> dict:
    version = dict(row)
    version["predecessor_codes"] = json.loads(version.get("predecessor_codes") or "[]")
    version["successor_codes"] = json.loads(version.get("successor_codes") or "[]")
    version["touch"] = None
    return version


class RegistryPlan:
    """Every version of the units a batch touches, changed in memory."""

    def __init__(self, session, today: date, incoming: set[str]):
        self.session = session
        self.today = today
        self.incoming = incoming
        self.versions: dict[str, list[dict]] = {}
        self.original_ids: dict[str, set[int]] = {}
        self.checks: list[tuple[str, str, date, str, bool]] = []   # code, kind, D, field, forced
        self.endings: list[tuple[str, date, str, list[str], str | None]] = []  # closings to settle

    # --- loading --------------------------------------------------------------------------------
    def preload(self, codes) -> None:
        """Every version of these units in a few statements: a national registry is 8,000 units, and
        one query each took most of a minute on PostgreSQL."""
        wanted = sorted({code for code in codes if code and code not in self.versions})
        for code in wanted:
            self.versions[code], self.original_ids[code] = [], set()
        for part in chunks(wanted):
            for row in self.session.execute(select(org_units).where(org_units.c.code.in_(part))
                                            .order_by(org_units.c.code, org_units.c.valid_from)).mappings():
                self.versions[row["code"]].append(_version(row))
                self.original_ids[row["code"]].add(row["id"])

    def of(self, code: str) -> list[dict]:
        if code not in self.versions:
            rows = self.session.execute(select(org_units).where(org_units.c.code == code)
                                        .order_by(org_units.c.valid_from)).mappings().all()
            self.versions[code] = [_version(row) for row in rows]
            self.original_ids[code] = {row["id"] for row in rows}
        return self.versions[code]

    def known(self, code: str) -> bool:
        return code in self.incoming or bool(self.of(code))

    def exists_on(self, code: str, day: date) -> bool:
        return code in self.incoming or any(holds_on(v, day) for v in self.of(code))

    # --- one input row --------------------------------------------------------------------------
    def apply(self, index: int, unit: OrgUnitInput) -> Planned:
        where = f"units[{index}]"
        sent = unit.model_fields_set
        values = {name: getattr(unit, name) for name in VERSION_FIELDS if name in sent}
        for position, code in enumerate(unit.predecessor_codes):
            if not self.known(code):
                raise _unknown(f"{where}.predecessor_codes[{position}]", code)
        for position, code in enumerate(unit.successor_codes):
            if not self.known(code):
                raise _unknown(f"{where}.successor_codes[{position}]", code)
        versions = self.of(unit.code)
        if not versions:
            return self._open(where, unit, values)
        closing_at = unit.valid_to if "valid_to" in sent else None
        kind = unit.change_kind
        ends = kind == "closed" or (kind in ("merged", "split") and bool(unit.successor_codes)) or (
            kind is None and closing_at is not None and not values)
        if ends:
            effective = unit.effective_date or closing_at or self.today
            return self._end(where, unit, kind or "closed", effective)
        effective = unit.effective_date or (unit.valid_from if "valid_from" in sent else None) or self.today
        planned = self._change(where, unit, values, kind, effective)
        if closing_at is not None:  # a change and its end in one row
            if closing_at <= effective:
                raise invalid(f"{where}.valid_to", "วันสิ้นสุดต้องอยู่หลังวันที่มีผล",
                              "valid_to must be after the effective date")
            self._end(where, unit, "closed", closing_at)
        return planned

    def _open(self, where: str, unit: OrgUnitInput, values: dict) -> Planned:
        for name in ("level", "name_th"):
            if values.get(name) is None:
                raise invalid(f"{where}.{name}", f"หน่วยงานใหม่ต้องระบุ {name}", f"a new unit needs its {name}")
        if values["level"] == LAO_LEVEL and not values.get("lao_type"):
            raise invalid(f"{where}.lao_type", "อปท. ต้องระบุประเภท (lao_type)", "an LAO needs its lao_type")
        kind = unit.change_kind or ("merged" if unit.predecessor_codes else "opened")
        if kind not in ("opened", "merged", "split"):
            raise invalid(f"{where}.change_kind", f"หน่วยงาน {unit.code} ยังไม่มีในทะเบียน จึงเป็นได้เฉพาะการจัดตั้ง "
                          "การควบรวม หรือการแยก", f"{unit.code} is not in the registry yet: only opened, merged or "
                          "split can create it")
        effective = unit.effective_date or unit.valid_from
        valid_to = unit.valid_to
        if valid_to is not None and valid_to <= effective:
            raise invalid(f"{where}.valid_to", "วันสิ้นสุดต้องอยู่หลังวันที่จัดตั้ง", "valid_to must be after the opening date")
        self._parent_exists(where, values.get("parent_code"), effective)
        version = {name: values.get(name) for name in VERSION_FIELDS}
        version.update(id=None, code=unit.code, valid_from=effective, valid_to=valid_to, change_kind=kind,
                       effective_date=effective, predecessor_codes=list(unit.predecessor_codes), successor_codes=[],
                       reason=unit.reason, forced=unit.force, end_kind="closed" if valid_to else None, revision=0,
                       touch=Touch(kind, effective, unit.reason, unit.force))
        self.versions[unit.code].append(version)
        for predecessor in unit.predecessor_codes if kind in ("merged", "split") else ():
            self._close(where, predecessor, effective, kind, [unit.code], unit.reason, unit.force)
        return Planned(unit.code, "create", kind, effective)

    def _change(self, where: str, unit: OrgUnitInput, values: dict, kind: str | None, effective: date) -> Planned:
        versions = self.versions[unit.code]
        holder = self._holder(where, unit.code, versions, effective)
        after = {**holder, **values}
        differing = {name: [_plain(holder[name]), _plain(values[name])] for name in values if holder[name] != values[name]}
        if after.get("level") == LAO_LEVEL and not after.get("lao_type"):
            raise invalid(f"{where}.lao_type", "อปท. ต้องระบุประเภท (lao_type)", "an LAO needs its lao_type")
        linking = kind in ("merged", "split") and unit.predecessor_codes
        if not differing and not linking:  # sent again as it is (a CSV re-imported): nothing to do
            return Planned(unit.code, "unchanged")
        inferred = infer_kind(holder, after)
        kind = kind or inferred
        if (kind in ENDING_KINDS or kind == "opened") and not linking:
            kind = inferred
        if "parent_code" in differing:
            self._parent_exists(where, values.get("parent_code"), effective)
        # what the change does to counts: a successor absorbing others is counted by its own fields
        counted = inferred if linking or kind not in COUNTING_CHANGES else kind
        self.checks.append((unit.code, counted, effective, f"{where}.effective_date", unit.force))
        touch = Touch(kind, effective, unit.reason, unit.force)
        if holder["valid_from"] != effective:
            later = {**holder, "id": None, "valid_from": effective, "predecessor_codes": []}
            holder.update(valid_to=effective, end_kind=kind, successor_codes=[], touch=touch)
            versions.insert(versions.index(holder) + 1, later)
            target = later
        else:
            target = holder
        target.update(change_kind=kind, effective_date=effective, reason=unit.reason, forced=unit.force, touch=touch)
        if linking:
            target["predecessor_codes"] = sorted(set(target["predecessor_codes"]) | set(unit.predecessor_codes))
        for version in versions[versions.index(target):]:
            version.update({name: values[name] for name in differing})
            version["touch"] = touch
        for predecessor in unit.predecessor_codes if linking else ():
            self._close(where, predecessor, effective, kind, [unit.code], unit.reason, unit.force)
        return Planned(unit.code, "change", kind, effective, differing)

    def _end(self, where: str, unit: OrgUnitInput, kind: str, effective: date) -> Planned:
        self._close(where, unit.code, effective, kind, list(unit.successor_codes), unit.reason, unit.force)
        for successor in unit.successor_codes:  # the successor carries its predecessors
            successor_versions = self.of(successor)
            holder = next((v for v in successor_versions if holds_on(v, effective)), None)
            if holder is None:
                if successor in self.incoming:
                    continue  # opened by its own row in this batch, which names its predecessors
                raise InputError("unknown_unit", f"{where}.successor_codes",
                                 f"หน่วยงาน {successor} ไม่มีอยู่ในวันที่ {effective.isoformat()}",
                                 f"unit {successor} does not exist on {effective.isoformat()}", status=422)
            if holder["valid_from"] != effective:
                later = {**holder, "id": None, "valid_from": effective, "predecessor_codes": []}
                touch = Touch(kind, effective, unit.reason, unit.force)
                holder.update(valid_to=effective, end_kind=kind, successor_codes=[], touch=touch)
                successor_versions.insert(successor_versions.index(holder) + 1, later)
                holder = later
            holder.update(change_kind=kind, effective_date=effective, reason=unit.reason, forced=unit.force,
                          predecessor_codes=sorted(set(holder["predecessor_codes"]) | {unit.code}),
                          touch=Touch(kind, effective, unit.reason, unit.force))
        return Planned(unit.code, "close", kind, effective)

    # --- the two primitives -----------------------------------------------------------------------
    def _holder(self, where: str, code: str, versions: list[dict], effective: date) -> dict:
        holder = next((v for v in versions if holds_on(v, effective)), None)
        if holder is not None:
            return holder
        if effective < versions[0]["valid_from"]:
            raise invalid(f"{where}.effective_date",
                          f"หน่วยงาน {code} เริ่มมีในวันที่ {versions[0]['valid_from'].isoformat()} "
                          f"จึงเปลี่ยนแปลงในวันที่ {effective.isoformat()} ไม่ได้",
                          f"unit {code} exists only from {versions[0]['valid_from'].isoformat()}: "
                          f"it cannot change on {effective.isoformat()}")
        last_end = max((v["valid_to"] for v in versions if v["valid_to"] is not None), default=effective)
        raise InputError("unit_closed", f"{where}.effective_date",
                         f"หน่วยงาน {code} ยุบเลิกแล้วตั้งแต่วันที่ {last_end.isoformat()}",
                         f"unit {code} closed on {last_end.isoformat()}", status=409,
                         details={"unit_code": code, "closed_on": last_end.isoformat()})

    def _close(self, where: str, code: str, effective: date, kind: str, successors: list[str],
               reason: str | None, forced: bool) -> None:
        versions = self.of(code)
        if not versions:
            if code in self.incoming:
                raise invalid(where, f"หน่วยงาน {code} ยังไม่มีในทะเบียน จึงยุบเลิกไม่ได้",
                              f"{code} is not in the registry yet: it cannot end")
            raise _unknown(where, code)
        touch = Touch(kind, effective, reason, forced)
        holder = next((v for v in versions if holds_on(v, effective)), None)
        if holder is None:
            ended = versions[-1]
            if ended["valid_to"] == effective:  # already ended on that day: add the successors
                ended["successor_codes"] = sorted(set(ended["successor_codes"]) | set(successors))
                ended["touch"] = touch
                return
            self._holder(where, code, versions, effective)  # raises why
        self.checks.append((code, kind, effective, f"{where}.effective_date", forced))
        if holder["valid_from"] == effective:  # the version would be empty: the one before it ends instead
            previous = next((v for v in versions if v["valid_to"] == effective), None)
            if previous is None:
                raise invalid(f"{where}.effective_date", f"หน่วยงาน {code} ยุบเลิกในวันที่จัดตั้งไม่ได้",
                              f"unit {code} cannot end on the day it opens")
            holder = previous
        for removed in versions[versions.index(holder) + 1:]:
            # periods overlapping both the ending version and a removed later one would be counted
            # under the ending one now: a change of type, district or province for them
            if any(removed[name] != holder[name] for name in COUNTED_FIELDS):
                self.checks.append((code, "type_changed", removed["valid_from"], f"{where}.effective_date", forced))
        del versions[versions.index(holder) + 1:]
        holder.update(valid_to=effective, end_kind=kind, successor_codes=sorted(set(successors)), touch=touch)
        if reason:
            holder["reason"] = reason
        holder["forced"] = holder["forced"] or forced
        self.endings.append((code, effective, kind, sorted(set(successors)), reason))

    def _parent_exists(self, where: str, parent: str | None, effective: date) -> None:
        if parent and not self.exists_on(parent, effective):
            raise InputError("unknown_unit", f"{where}.parent_code", f"ไม่พบหน่วยงานแม่ {parent} ในวันที่ {effective.isoformat()}",
                             f"unknown parent unit {parent} on {effective.isoformat()}", status=422)

    # --- checks ------------------------------------------------------------------------------------
    def check(self, actor: domain.Actor | None) -> None:
        try:
            check_versions(v for versions in self.versions.values() for v in versions)
        except VersionConflict as error:  # a bug of this module, never the caller's
            raise conflict("units", f"ช่วงเวลาของหน่วยงานทับซ้อนกัน: {error}", f"versions would overlap: {error}") from None
        reported: dict[str, list] = defaultdict(list)
        for part in chunks(sorted({code for code, kind, *_ in self.checks if kind in COUNTING_CHANGES})):
            for row in self.session.execute(select(reported_periods).where(reported_periods.c.unit_code.in_(part))
                                            .order_by(reported_periods.c.period_start)).mappings():
                reported[row["unit_code"]].append(row)
        for code, kind, effective, where, forced in self.checks:
            if kind not in COUNTING_CHANGES:
                continue
            rows = reported.get(code, [])
            hit = next((r for r in rows if rewrites_period(kind, effective, r["period_start"], r["period_end"])), None)
            if hit is None:
                continue
            if forced:
                if actor is not None and not actor.central:
                    raise forbidden(where.rsplit(".", 1)[0] + ".force", "เฉพาะส่วนกลางบังคับการเปลี่ยนแปลงได้",
                                    "only central may force a change that rewrites a reported period")
                continue
            raise _rewrites(where, code, kind, effective, hit)

    # --- writing -------------------------------------------------------------------------------------
    def write(self, uow: UnitOfWork) -> None:
        """Every row in a few set-based statements (a national registry in one batch): removed
        versions first, then the versions that end or change, then the new ones, so no two rows of
        a unit overlap after any statement (the PostgreSQL exclusion constraint checks each)."""
        session = uow.session
        touched_codes = [code for code, versions in self.versions.items() if any(v["touch"] for v in versions)]
        revisions, counted = self._revisions(touched_codes)
        gone_ids, updates, inserts, stored = [], [], [], []
        for code, versions in self.versions.items():
            kept = {v["id"] for v in versions if v["id"] is not None}
            gone_ids.extend(self.original_ids[code] - kept)
            touched = [v for v in versions if v["touch"] is not None]
            if not touched:
                continue
            revision = revisions[code]
            for version in sorted(touched, key=lambda v: (v["id"] is None, v["valid_from"])):
                revision += 1
                version["revision"] = revision
                row = {name: version[name] for name in VERSION_FIELDS}
                row.update(code=code, valid_from=version["valid_from"], valid_to=version["valid_to"],
                           revision=revision, change_kind=version["change_kind"],
                           effective_date=version["effective_date"],
                           predecessor_codes=json.dumps(version["predecessor_codes"]),
                           successor_codes=json.dumps(version["successor_codes"]), reason=version["reason"],
                           forced=bool(version["forced"]), end_kind=version["end_kind"])
                if version["id"] is None:
                    inserts.append(row)
                else:
                    updates.append({"b_id": version["id"], **row})
                touch = version["touch"]
                uow.add_event(OrgUnitChanged(
                    **{name: version[name] for name in VERSION_FIELDS}, code=code, valid_from=version["valid_from"],
                    valid_to=version["valid_to"], revision=revision, change_kind=touch.kind,
                    effective_date=touch.effective, predecessor_codes=version["predecessor_codes"],
                    successor_codes=version["successor_codes"], reason=touch.reason, forced=touch.forced))
            stored.append({"b_code": code, "revision": revision})
        for part in chunks(sorted(gone_ids)):
            session.execute(delete(org_units).where(org_units.c.id.in_(part)))
        if updates:
            session.execute(update(org_units).where(org_units.c.id == bindparam("b_id")), updates)
        if inserts:
            session.execute(insert(org_units), inserts)
        known = [row for row in stored if row["b_code"] in counted]
        if known:
            session.execute(update(org_unit_revisions).where(org_unit_revisions.c.code == bindparam("b_code")), known)
        new = [{"code": row["b_code"], "revision": row["revision"]} for row in stored if row["b_code"] not in counted]
        if new:
            session.execute(insert(org_unit_revisions), new)
        for code, effective, kind, successors, reason in self.endings:
            if effective <= self.today:
                unit_endings.settle_assignments(uow, code, effective, kind, successors, reason, self.today)

    def _revisions(self, codes: list[str]) -> tuple[dict[str, int], set[str]]:
        """The last revision of each unit, and which units already have a counter row."""
        counters: dict[str, int] = {}
        for part in chunks(codes):
            counters.update(self.session.execute(select(org_unit_revisions.c.code, org_unit_revisions.c.revision)
                                                 .where(org_unit_revisions.c.code.in_(part))).all())
        revisions = dict(counters)
        for part in chunks([code for code in codes if code not in counters]):
            revisions.update(self.session.execute(
                select(org_units.c.code, func.coalesce(func.max(org_units.c.revision), 0))
                .where(org_units.c.code.in_(part)).group_by(org_units.c.code)).all())
        return {code: revisions.get(code) or 0 for code in codes}, set(counters)


def _unknown(where: str, code: str) -> InputError:
    return InputError("unknown_unit", where, f"ไม่พบหน่วยงาน {code}", f"unknown unit {code}", status=422)


def _rewrites(where: str, code: str, kind: str, effective: date, period: dict) -> InputError:
    start, end = period["period_start"].isoformat(), period["period_end"].isoformat()
    if kind in ENDING_KINDS:
        what_th = f"หน่วยงานยังมีอยู่และได้รายงานงวด {period['period']} ({start} ถึง {end}) ซึ่งเริ่มในหรือหลังวันยุบเลิก"
        what_en = (f"the unit existed and reported for period {period['period']} ({start} to {end}), which starts on "
                   f"or after the date it would end")
    elif kind == "opened":
        what_th = f"หน่วยงานได้รายงานงวด {period['period']} ({start} ถึง {end}) ก่อนวันที่จัดตั้ง"
        what_en = f"the unit reported for period {period['period']} ({start} to {end}), before that opening date"
    else:
        what_th = (f"งวด {period['period']} ({start} ถึง {end}) รายงานแล้วและนับตามประเภท/สังกัดเดิมของหน่วยงาน")
        what_en = (f"period {period['period']} ({start} to {end}) was reported and is counted under the unit's "
                   f"type and district as they were")
    return InputError(
        "rewrites_reported_period", where,
        f"{KIND_TH.get(kind, kind)}ของ {code} ที่มีผลวันที่ {effective.isoformat()} ขัดกับข้อมูลที่รายงานแล้ว: "
        f"{what_th}; หากจำเป็น ส่วนกลางส่ง force: true พร้อมเหตุผล (reason)",
        f"the {KIND_EN.get(kind, kind)} of {code} effective {effective.isoformat()} would rewrite a period already reported: {what_en}; "
        f"central may send force: true with a reason", status=409,
        details={"unit_code": code, "change_kind": kind, "effective_date": effective.isoformat(),
                 "period": period["period"], "period_start": start, "period_end": end})


def register_units(command: RegisterUnits, uow: UnitOfWork, *, actor: domain.Actor | dict | None = None,
                   today: date | None = None) -> dict:
    """Create, change, merge, split or close units, each on its effective date; with dry_run, say
    exactly what would change and change nothing."""
    actor = domain.Actor.of(actor) if actor is not None else None
    codes = [unit.code for unit in command.units]
    if len(set(codes)) != len(codes):
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        raise invalid("units.code", f"รหัสหน่วยงานซ้ำในชุดข้อมูล: {', '.join(duplicates[:5])}",
                      f"duplicate unit codes in the input: {', '.join(duplicates[:5])}")
    if actor is not None and not actor.central:
        for index, unit in enumerate(command.units):
            if unit.force:
                raise forbidden(f"units[{index}].force", "เฉพาะส่วนกลางบังคับการเปลี่ยนแปลงได้",
                                "only central may force a change that rewrites a reported period")
    plan = RegistryPlan(uow.session, today or bangkok_today(), set(codes))
    plan.preload(codes + [unit.parent_code for unit in command.units if unit.parent_code])
    planned = [plan.apply(index, unit) for index, unit in enumerate(command.units)]
    plan.check(actor)
    counts = {"created": 0, "changed": 0, "closed": 0, "unchanged": 0}
    for item in planned:
        counts[{"create": "created", "change": "changed", "close": "closed", "unchanged": "unchanged"}[item.action]] += 1
    if not command.dry_run:
        plan.write(uow)
    changes = [item.as_dict() for item in planned if item.action != "unchanged"]
    return {**counts, "dry_run": command.dry_run, "changes": changes[:500], "changes_truncated": len(changes) > 500,
            "forced": sorted({unit.code for unit in command.units if unit.force})}


def on_indicator_submitted(event: IndicatorSubmitted, uow: UnitOfWork, envelope: Envelope) -> None:
    """Keep the periods each unit has reported: a registry change may not rewrite them unless forced.
    Idempotent (the inbox drops repeats; a period seen twice is kept once)."""
    bounds = period_bounds(event.period)
    if bounds is None:
        return
    exists = uow.session.execute(select(reported_periods.c.unit_code).where(
        reported_periods.c.unit_code == event.unit_code, reported_periods.c.period == event.period)).first()
    if exists is None:
        uow.session.execute(insert(reported_periods).values(unit_code=event.unit_code, period=event.period,
                                                            period_start=bounds[0], period_end=bounds[1]))
