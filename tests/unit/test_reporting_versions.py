"""Counts by the period's truth (issue #16): reporting keeps every version of a unit and counts each
period's obligations, values and yearly aggregates under the version that period counts the unit
under (shared.unit_versions), for any sequence of upgrades, moves, mergers, splits, closings and
openings, dated anywhere, whose events arrive in any order and more than once (in-file SQLite)."""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.reporting import projection, views
from services.reporting.models import achievement, metadata, obligations, unit_versions, units, values
from services.reporting.rebuild import rebuild
from shared.calendar import period_bounds
from shared.contracts import encode
from shared.contracts.events import (DeadlineMissed, IndicatorSubmitted, ObligationCancelled, ObligationOpened,
                                     OrgUnitChanged, SubmittedValue)
from shared.unit_versions import expected_units, rewrites_period, version_for_period
from tests.fakes import sqlite_database
from tests.unit.test_reporting import _snapshot

UTC = timezone.utc
T0 = datetime(2024, 9, 1, tzinfo=UTC)
START = date(2024, 10, 1)                       # FY2568 (B.E.) begins
OFFICES = [("MOI", "ministry", None), ("DLA", "department", "MOI"), ("PLO-01", "provincial_office", "DLA"),
           ("PLO-02", "provincial_office", "DLA"), ("DLO-0101", "district_office", "PLO-01"),
           ("DLO-0102", "district_office", "PLO-01"), ("DLO-0201", "district_office", "PLO-02")]
DISTRICTS = ["DLO-0101", "DLO-0102", "DLO-0201"]
PROVINCE = {"DLO-0101": "PLO-01", "DLO-0102": "PLO-01", "DLO-0201": "PLO-02"}
TYPES = ["sao", "subdistrict_municipality", "town_municipality"]
MONTHS = [f"{2567 + (9 + m) // 12}-{(9 + m) % 12 + 1:02d}" for m in range(24)]   # 2567-10 .. 2569-09
PERIODS = MONTHS + [f"FY{y}-Q{q}" for y in (2568, 2569) for q in (1, 2, 3, 4)] + ["FY2568", "FY2569"]
LATER = datetime(2031, 1, 1, tzinfo=UTC)       # every deadline has passed


def bounds(period: str) -> tuple[date, date]:
    return period_bounds(period)


# --- a model of the registry: the versions plans keeps and the events it sends -------------------------

@dataclass
class Registry:
    versions: dict = field(default_factory=dict)     # code -> [version dict], oldest first
    revisions: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    serial: int = 0
    removed: list = field(default_factory=list)

    def send(self, version: dict, kind: str, effective: date | None = None, forced: bool = False, **links) -> None:
        code = version["code"]
        self.revisions[code] = self.revisions.get(code, -1) + 1
        self.events.append(OrgUnitChanged(
            code=code, level=version["level"], lao_type=version["lao_type"], parent_code=version["parent_code"],
            name_th=f"ชื่อ {code}", valid_from=version["valid_from"], valid_to=version["valid_to"],
            revision=self.revisions[code], change_kind=kind, effective_date=effective, forced=forced, **links))

    def open(self, code: str, level: str, lao_type: str | None, parent: str | None, day: date,
             predecessors=()) -> None:
        version = {"code": code, "level": level, "lao_type": lao_type, "parent_code": parent, "valid_from": day,
                   "valid_to": None}
        self.versions.setdefault(code, []).append(version)
        self.send(version, "opened", day, predecessor_codes=list(predecessors))

    def new_code(self) -> str:
        self.serial += 1
        return f"NEW-{self.serial}"

    def open_at(self, day: date) -> list[str]:
        """LAOs whose last version is open and began before ``day``: a change on ``day`` may apply."""
        return [code for code, own in self.versions.items()
                if own[-1]["level"] == "lao" and own[-1]["valid_to"] is None and own[-1]["valid_from"] < day]

    def holding(self, day: date) -> list[str]:
        """LAOs with a version begun before ``day`` and holding on it: a closing on ``day`` may apply."""
        return [code for code, own in self.versions.items() if own[-1]["level"] == "lao" and any(
            v["valid_from"] < day and (v["valid_to"] is None or v["valid_to"] > day) for v in own)]

    def end(self, code: str, day: date, kind: str, successors=(), forced=False) -> dict:
        """End the version holding on ``day`` at ``day``; as plans does, a closing removes the versions
        after it and sends nothing for them (``self.removed``: their first day, when they were counted
        otherwise than the ended one)."""
        own = self.versions[code]
        holder = next(v for v in own if v["valid_from"] < day and (v["valid_to"] is None or v["valid_to"] > day))
        for removed in own[own.index(holder) + 1:]:
            if (removed["lao_type"], removed["parent_code"]) != (holder["lao_type"], holder["parent_code"]):
                self.removed.append(removed["valid_from"])
        del own[own.index(holder) + 1:]
        holder["valid_to"] = day
        self.send(holder, kind if kind in ("closed", "merged", "split") else "updated", day, forced,
                  successor_codes=list(successors))
        return holder

    def change(self, kind: str, day: date, pick: int, choice: int, forced: bool = False) -> dict | None:
        """Apply one change effective ``day``; returns what it did ({"kind", "ended", "opened"}) or None."""
        # a closing, merger or split may end a unit before a change already planned (which it removes)
        candidates = sorted(self.holding(day) if kind in ("closed", "merged", "split") else self.open_at(day))
        self.removed = []
        if kind == "opened":
            code = self.new_code()
            self.open(code, "lao", TYPES[choice % 3], DISTRICTS[choice % 3], day)
            return {"kind": kind, "ended": [], "opened": [code], "day": day, "removed": []}
        if not candidates or (kind == "merged" and len(candidates) < 2):
            return None
        code = candidates[pick % len(candidates)]
        last = self.versions[code][-1]
        if kind in ("type_changed", "moved"):
            ended = self.end(code, day, kind, forced=forced)
            following = dict(ended, valid_from=day, valid_to=None)
            if kind == "type_changed":
                following["lao_type"] = next(t for t in TYPES[choice % 3:] + TYPES if t != last["lao_type"])
            else:
                following["parent_code"] = next(d for d in DISTRICTS[choice % 3:] + DISTRICTS
                                                if d != last["parent_code"])
            self.versions[code].append(following)
            self.send(following, kind, day, forced)
            return {"kind": kind, "ended": [code], "opened": [], "day": day, "removed": self.removed}
        if kind == "closed":
            self.end(code, day, kind, forced=forced)
            return {"kind": kind, "ended": [code], "opened": [], "day": day, "removed": self.removed}
        if kind == "merged":
            other = candidates[(pick + 1) % len(candidates)]
            successor = self.new_code()
            for ending in (code, other):
                self.end(ending, day, kind, [successor], forced)
            self.open(successor, "lao", "town_municipality", last["parent_code"], day, [code, other])
            return {"kind": kind, "ended": [code, other], "opened": [successor], "day": day,
                    "removed": self.removed}
        successors = [self.new_code(), self.new_code()]              # split
        self.end(code, day, kind, successors, forced)
        for n, successor in enumerate(successors):
            self.open(successor, "lao", TYPES[(choice + n) % 3], DISTRICTS[(choice + n) % 3], day, [code])
        return {"kind": kind, "ended": [code], "opened": successors, "day": day, "removed": self.removed}

    def all_versions(self) -> list[dict]:
        return [version for own in self.versions.values() for version in own]


def founded(types_and_districts) -> Registry:
    registry = Registry()
    for code, level, parent in OFFICES:
        registry.open(code, level, None, parent, date(2000, 1, 1))
    for n, (lao_type, district, offset) in enumerate(types_and_districts):
        registry.open(f"LAO-{n}", "lao", lao_type, district, START - timedelta(days=offset))
    return registry


def obligation_events(registry: Registry, periods: list[str]) -> list:
    """What assessments does: one obligation per expected unit and period (shared.unit_versions), its
    report on time, late, missed or not yet in; a unit it is no longer owed by (closed before the
    period, known after the obligation was opened) has it cancelled."""
    events = []
    laos = [v for v in registry.all_versions() if v["level"] == "lao"]
    for period in periods:
        start, end = bounds(period)
        due = datetime.combine(end + timedelta(days=3), time(9), UTC)
        expected = {v["code"] for v in expected_units(laos, start, end)}
        for code in sorted(registry.versions):
            if registry.versions[code][0]["level"] != "lao":
                continue
            oid, fate = f"o:{code}:{period}", sum(map(ord, code + period)) % 5
            if code not in expected:
                if fate == 0:  # opened before the closing was known, then cancelled
                    events += [_opened(oid, code, period, due),
                               ObligationCancelled(obligation_id=oid, unit_code=code, reason="closed")]
                continue
            events.append(_opened(oid, code, period, due))
            if fate in (0, 1):
                at = due - timedelta(days=1) if fate == 0 else due + timedelta(days=2)
                events.append(IndicatorSubmitted(
                    submission_id=f"s:{oid}", obligation_id=oid, unit_code=code, period=period, submitted_at=at,
                    due_at=due, on_time=fate == 0, values=[SubmittedValue(indicator_code="BUD-1", value=10.0)]))
            elif fate == 2:
                events.append(DeadlineMissed(obligation_id=oid, unit_code=code, indicator_code="BUD-1",
                                             period=period, due_at=due, detected_at=due + timedelta(hours=1)))
    return events


def _opened(oid, code, period, due):
    return ObligationOpened(obligation_id=oid, unit_code=code, rule_id="r", indicator_code="BUD-1",
                            indicator_name_th="เบิกจ่าย", indicator_codes=["BUD-1"], period=period, due_at=due)


def envelopes(events: list) -> list[tuple]:
    return [(encode(event, correlation_id="c", occurred_at=T0 + timedelta(seconds=n)), event)
            for n, event in enumerate(events)]


def live(database, items) -> None:
    """One message at a time, as the live consumer projects them (the event log included)."""
    with database.unit_of_work() as uow:
        for envelope, event in items:
            projection.record_and_project(event, uow, envelope)
        uow.commit()


def in_batches(database, items, rng: random.Random) -> None:
    with database.unit_of_work() as uow:
        start = 0
        while start < len(items):
            size = rng.choice([1, 4, 25, len(items)])
            projection.record_and_project_many(uow, items[start:start + size])
            start += size
        uow.commit()


def shuffled_with_duplicates(items, rng: random.Random) -> list[tuple]:
    """Any arrival order, registry events sent twice (a re-sent version: another message, same revision)."""
    again = [(encode(event, correlation_id="c", occurred_at=envelope.occurred_at), event)
             for envelope, event in items if isinstance(event, OrgUnitChanged) and rng.random() < 0.3]
    mixed = list(items) + again
    rng.shuffle(mixed)
    return mixed


# --- what a period counts -----------------------------------------------------------------------------

def period_figures(database, period: str) -> dict:
    """Every count by LAO type, province and district a period's dashboards show."""
    with database.session() as session:
        national = views.compliance(session, period=period, now=LATER)
        figures = {"totals": national["totals"],
                   "by_type": {row["lao_type"]: row["expected"] for row in national["by_lao_type"]},
                   "provinces": {row["code"]: row["expected"] for row in national["children"]}}
        for province in ("PLO-01", "PLO-02"):
            figures[province] = {row["code"]: row["expected"] for row in
                                 views.compliance(session, province, period=period, now=LATER)["children"]}
        for district in DISTRICTS:
            figures[district] = {row["code"]: row["expected"] for row in
                                 views.compliance(session, district, period=period, now=LATER)["children"]}
        for lao_type in TYPES:
            figures[f"type:{lao_type}"] = views.compliance(session, period=period, lao_type=lao_type,
                                                             now=LATER)["totals"]["expected"]
    return figures


def assert_counts_by_the_periods_truth(database, registry: Registry, periods: list[str]) -> None:
    laos = [v for v in registry.all_versions() if v["level"] == "lao"]
    for period in periods:
        counted = expected_units(laos, *bounds(period))     # each unit once, as its period's version
        figures = period_figures(database, period)
        assert figures["totals"]["expected"] == len(counted)
        assert figures["by_type"] == {k: v for k, v in Counter(v["lao_type"] for v in counted).items()}
        assert figures["provinces"] == dict(Counter(PROVINCE[v["parent_code"]] for v in counted))
        for province in ("PLO-01", "PLO-02"):
            assert figures[province] == dict(Counter(v["parent_code"] for v in counted
                                                     if PROVINCE[v["parent_code"]] == province))
        for district in DISTRICTS:
            assert figures[district] == dict(Counter(v["code"] for v in counted if v["parent_code"] == district))
        for lao_type in TYPES:
            assert figures[f"type:{lao_type}"] == sum(v["lao_type"] == lao_type for v in counted)


def assert_rates_are_shares(database) -> None:
    with database.session() as session:
        for unit in (None, "PLO-01", "PLO-02", *DISTRICTS):
            report = views.compliance(session, unit, now=LATER)
            for row in [report["totals"], *report["children"], *report["by_lao_type"]]:
                assert row["on_time"] + row["late"] + row["missing"] + row["pending"] + row["returned"] \
                    == row["expected"]
                for name in ("on_time_rate", "reported_rate"):
                    assert row[name] is None or 0 <= row[name] <= 1
            for kind in ("month", "quarter", "year"):
                matrix = views.compliance_matrix(session, unit, kind=kind, now=LATER)
                assert all(cell is None or 0 <= cell <= 1 for row in matrix["rows"] for cell in row["cells"].values())
                assert all(t["on_time_rate"] is None or 0 <= t["on_time_rate"] <= 1 for t in matrix["totals"].values())


# --- strategies ----------------------------------------------------------------------------------------

KINDS = ["type_changed", "moved", "merged", "split", "closed", "opened"]
laos_founded = st.lists(st.tuples(st.sampled_from(TYPES), st.sampled_from(DISTRICTS), st.integers(0, 400)),
                        min_size=2, max_size=5)
# (kind, effective day from the start of FY2568, which unit, which type or district): past, present
# or future of any period, on the first of a month or any day
a_change = st.tuples(st.sampled_from(KINDS),
                     st.one_of(st.integers(-60, 800),
                               st.integers(0, 26).map(lambda m: (date(2024 + (9 + m) // 12, (9 + m) % 12 + 1, 1)
                                                                 - START).days)),
                     st.integers(0, 10), st.integers(0, 5))
some_periods = st.lists(st.sampled_from(PERIODS), min_size=1, max_size=5, unique=True)


def history(founding, changes) -> Registry:
    registry = founded(founding)
    for kind, offset, pick, choice in changes:
        registry.change(kind, START + timedelta(days=offset), pick, choice)
    return registry


# no explain phase: tracing every line of a failing example's projection takes minutes
SETTINGS = settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


@SETTINGS
@given(founding=laos_founded, changes=st.lists(a_change, max_size=8), periods=some_periods,
       order=st.randoms(use_true_random=False))
def test_any_changes_in_any_order_count_each_period_by_its_own_versions(tmp_path_factory, founding, changes, periods,
                                                                        order):
    registry = history(founding, changes)
    items = envelopes(registry.events + obligation_events(registry, periods))
    one, many = (sqlite_database(tmp_path_factory.mktemp(name), metadata) for name in ("one", "many"))
    try:
        live(one, items)
        in_batches(many, shuffled_with_duplicates(items, order), order)
        # the same read models whatever the order, duplicates, batches
        assert _snapshot(many) == _snapshot(one)
        # every version kept, the last revision of each
        with many.session() as session:
            kept = {(row["code"], row["valid_from"]): row["valid_to"]
                    for row in session.execute(select(unit_versions).where(unit_versions.c.superseded == 0)).mappings()}
        assert kept == {(v["code"], v["valid_from"]): v["valid_to"] for v in registry.all_versions()}
        assert_counts_by_the_periods_truth(many, registry, periods)
        assert_rates_are_shares(many)
        # a rebuild from the event log gives the live rows
        expected = _snapshot(one)
        rebuild(one, batch_size=order.choice([3, 50, 5000]))
        assert _snapshot(one) == expected
    finally:
        one.dispose()
        many.dispose()


def rewritten(change: dict, period: str) -> bool:
    """Does this change alter a period already reported? The units it changes or ends, by its kind
    (shared.unit_versions.rewrites_period); a unit it creates, in every period it exists in (a new
    unit dated on or before a period's start adds to that period's expected units, although
    rewrites_period("opened", ...) only flags an opening after the period's start)."""
    start, end = bounds(period)
    ending = change["kind"] if change["kind"] != "opened" else None
    return ((ending is not None and rewrites_period(ending, change["day"], start, end))
            or (bool(change["opened"]) and end >= change["day"])
            # a version a closing removed counted the periods it overlapped otherwise (plans checks
            # these as a change of type or district on the removed version's first day)
            or any(rewrites_period("type_changed", day, start, end) for day in change["removed"]))


@SETTINGS
@given(founding=laos_founded, changes=st.lists(a_change, max_size=5), later=a_change, periods=some_periods,
       order=st.randoms(use_true_random=False))
def test_a_later_change_leaves_the_reports_of_periods_it_does_not_rewrite_as_they_were(
        tmp_path_factory, founding, changes, later, periods, order):
    before = history(founding, changes)
    after = history(founding, changes)
    kind, offset, pick, choice = later
    change = after.change(kind, START + timedelta(days=offset), pick, choice)
    stores = {}
    try:
        for name, registry in (("before", before), ("after", after)):
            stores[name] = sqlite_database(tmp_path_factory.mktemp(name), metadata)
            in_batches(stores[name], shuffled_with_duplicates(
                envelopes(registry.events + obligation_events(registry, periods)), order), order)
        for period in periods:
            if change is None or not rewritten(change, period):
                assert period_figures(stores["after"], period) == period_figures(stores["before"], period)
        assert_counts_by_the_periods_truth(stores["after"], after, periods)
    finally:
        for database in stores.values():
            database.dispose()


# --- the cases of the issue ----------------------------------------------------------------------------

@pytest.fixture
def database(tmp_path):
    database = sqlite_database(tmp_path, metadata)
    yield database
    database.dispose()


FY2570 = [f"2569-{m}" for m in ("10", "11", "12")] + [f"2570-{m:02d}" for m in range(1, 10)]


def _fiscal_year_2570(registry: Registry) -> list:
    """Every month of FY2570, reported (or not) by the units then expected."""
    return obligation_events(registry, FY2570)


def test_an_sao_upgraded_in_february_counts_as_sao_until_january_and_as_a_municipality_from_february(database):
    registry = founded([("sao", "DLO-0101", 0), ("sao", "DLO-0101", 0), ("sao", "DLO-0102", 0)])
    upgrade = Registry(versions=registry.versions, revisions=registry.revisions)
    # the upgrade arrives after the year's reports: the rows are re-keyed by their periods' versions
    upgrade.change("type_changed", date(2027, 2, 1), 0, 1)                   # LAO-0 -> subdistrict municipality
    upgrade.change("moved", date(2027, 6, 15), 1, 2)                          # LAO-1 -> DLO-0201 mid-June
    live(database, envelopes(registry.events + _fiscal_year_2570(registry) + upgrade.events))
    for period in FY2570:
        figures = period_figures(database, period)
        upgraded = period >= "2570-02"
        assert figures["by_type"] == ({"sao": 2, "subdistrict_municipality": 1} if upgraded else {"sao": 3})
        # June counts LAO-1 in its new district (its version on the last day it existed in June)
        moved = period >= "2570-06"
        assert figures["PLO-02"] == ({"DLO-0201": 1} if moved else {})
        assert figures["PLO-01"] == ({"DLO-0101": 1, "DLO-0102": 1} if moved else {"DLO-0101": 2, "DLO-0102": 1})
    assert_counts_by_the_periods_truth(database, registry, FY2570)
    with database.session() as session:
        # the unit's own report lists each obligation with its period's LAO type
        rows = views.compliance(session, "LAO-0", now=LATER)["children"]
        assert {row["period"]: row["lao_type"] for row in rows}["2570-01"] == "sao"
        assert {row["period"]: row["lao_type"] for row in rows}["2570-02"] == "subdistrict_municipality"
        # values carry their period's district, the year's aggregate the fiscal year's version
        keys = dict(session.execute(select(values.c.period, values.c.district_unit)
                                    .where(values.c.unit_code == "LAO-1")).all())
        assert keys and keys == {period: "DLO-0201" if period >= "2570-06" else "DLO-0101" for period in keys}
        # the fiscal year's aggregate: the unit's latest version valid in the year
        years = session.execute(select(achievement.c.unit_code, achievement.c.lao_type, achievement.c.district_unit)
                                .where(achievement.c.fiscal_year_be == 2570)).all()
        assert {tuple(row) for row in years} == {
            ("LAO-0", "subdistrict_municipality", "DLO-0101"), ("LAO-1", "sao", "DLO-0201"),
            ("LAO-2", "sao", "DLO-0102")}
        # the dashboards' node is the unit as it is last known
        assert session.execute(select(units.c.lao_type).where(units.c.code == "LAO-0")).scalar() \
            == "subdistrict_municipality"


def test_a_merger_ends_the_merged_units_expected_reports_and_the_successor_owes_them_from_its_opening(database):
    registry = founded([("sao", "DLO-0101", 0), ("sao", "DLO-0101", 0)])
    registry.change("merged", date(2027, 3, 1), 0, 0)
    live(database, envelopes(registry.events + obligation_events(registry, FY2570 + ["FY2570-Q2"])))
    assert period_figures(database, "2570-02")["by_type"] == {"sao": 2}
    assert period_figures(database, "2570-03")["by_type"] == {"town_municipality": 1}
    # the quarter holding the merger counts the merged units (until the last day) and the successor
    assert period_figures(database, "FY2570-Q2")["totals"]["expected"] == 3
    assert_rates_are_shares(database)


def test_the_highest_revision_of_a_version_stands_whatever_the_order(database):
    registry = founded([("sao", "DLO-0101", 0)])
    registry.change("type_changed", date(2027, 2, 1), 0, 1)
    items = envelopes(registry.events)
    newest_first = sorted(items, key=lambda item: -item[1].revision)
    again = [(encode(event, correlation_id="c", occurred_at=envelope.occurred_at), event)
             for envelope, event in newest_first[:3]]
    live(database, newest_first + again)    # older revisions and re-sent versions come last
    with database.session() as session:
        kept = session.execute(select(unit_versions.c.valid_from, unit_versions.c.valid_to, unit_versions.c.revision,
                                      unit_versions.c.lao_type).where(unit_versions.c.code == "LAO-0")
                               .order_by(unit_versions.c.valid_from)).all()
    assert [tuple(row) for row in kept] == [(START, date(2027, 2, 1), 1, "sao"),
                                            (date(2027, 2, 1), None, 2, "subdistrict_municipality")]


def test_a_forced_change_rewrites_a_reported_period_and_an_unforced_later_one_does_not(database):
    registry = founded([("sao", "DLO-0101", 0), ("sao", "DLO-0102", 0)])
    live(database, envelopes(registry.events + obligation_events(registry, ["2569-12"])))
    december = period_figures(database, "2569-12")
    later = Registry(versions=registry.versions, revisions=registry.revisions)
    later.change("type_changed", date(2027, 1, 1), 0, 1)        # effective after December: not rewritten
    live(database, envelopes(later.events))
    assert period_figures(database, "2569-12") == december
    forced = Registry(versions=registry.versions, revisions=registry.revisions)
    # central forces an upgrade of the other unit effective 1 December 2026, with a reason
    forced.change("type_changed", date(2026, 12, 1), 1, 2, forced=True)
    assert rewrites_period("type_changed", date(2026, 12, 1), *bounds("2569-12"))
    live(database, envelopes(forced.events))
    assert period_figures(database, "2569-12")["by_type"] == {"sao": 1, "town_municipality": 1}
    with database.session() as session:
        assert session.execute(select(unit_versions.c.forced).where(
            unit_versions.c.code == "LAO-1", unit_versions.c.valid_from == date(2026, 12, 1))).scalar() == 1


def test_an_obligation_whose_period_arrives_late_is_keyed_by_that_periods_version(database):
    """An extension or a review can arrive before the obligation's opening: the row is keyed by the
    unit's latest version until an event brings its period."""
    from shared.contracts.events import ExtensionGranted
    registry = founded([("sao", "DLO-0101", 0)])
    registry.change("type_changed", date(2027, 2, 1), 0, 1)
    due = datetime(2027, 1, 3, 9, tzinfo=UTC)
    extension = ExtensionGranted(request_id="x", obligation_id="o", unit_code="LAO-0", new_due_at=due,
                                 decided_by_unit_code="DLO-0101", decided_at=due)
    miss = DeadlineMissed(obligation_id="o", unit_code="LAO-0", indicator_code="BUD-1", period="2569-12",
                          due_at=due, detected_at=due)
    live(database, envelopes(registry.events + [extension, miss]))
    with database.session() as session:
        assert session.execute(select(obligations.c.lao_type)).scalar() == "sao"
    assert version_for_period(registry.versions["LAO-0"], *bounds("2569-12"))["lao_type"] == "sao"


@pytest.mark.parametrize("seed", range(3))
def test_a_closing_before_a_planned_upgrade_removes_it_from_every_count(database, seed):
    """Plans removes the versions after a closing without an event about them: reporting infers it
    (a higher revision ends the unit before they begin) and counts the quarter holding both dates
    under the ended version, whatever the order the events arrive in."""
    registry = founded([("sao", "DLO-0101", 0), ("sao", "DLO-0102", 0)])
    registry.change("type_changed", date(2027, 3, 1), 0, 2)       # LAO-0 to become a town municipality
    registry.change("closed", date(2027, 2, 15), 0, 0)             # ... but it closes before
    assert registry.removed == [date(2027, 3, 1)]
    items = envelopes(registry.events + obligation_events(registry, ["FY2570-Q2", "2570-03"]))
    random.Random(seed).shuffle(items)
    live(database, items)
    assert period_figures(database, "FY2570-Q2")["by_type"] == {"sao": 2}
    assert period_figures(database, "2570-03")["by_type"] == {"sao": 1}
    with database.session() as session:
        flags = dict(session.execute(select(unit_versions.c.valid_from, unit_versions.c.superseded)
                                     .where(unit_versions.c.code == "LAO-0")).all())
        latest = session.execute(select(units.c.valid_to, units.c.lao_type).where(units.c.code == "LAO-0")).one()
    assert flags == {START: 0, date(2027, 3, 1): 1}
    assert tuple(latest) == (date(2027, 2, 15), "sao")
