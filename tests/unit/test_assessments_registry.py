"""assessments and the registry over time (issue #16): the copy keeps every version whatever the
delivery order; a rule is owed, period by period, by exactly the units that existed in it (and the
successors of those that closed), each once; a closing cancels saying when and into whom; a closed
unit's report for a later period is refused saying so."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from services.assessments import schedule, submissions
from services.assessments.bootstrap import bootstrap
from services.assessments.domain import Settings
from shared.contracts.commands.assessments import BatchItem, SubmitBatch, SubmitValues
from services.assessments.models import metadata, obligations, org_units
from services.assessments.registry import Registry
from shared.contracts import decode, encode
from shared.contracts.events import IndicatorSpec, OrgUnitChanged, ReportingRulePublished
from shared.errors import InputError
from shared.messaging.inbox import ReliableConsumer
from shared.messaging.tables import outbox
from shared.unit_versions import check_versions, overlaps
from tests.fakes import sqlite_database
from tests.support.worlds import freeze

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)
SPEC = IndicatorSpec(code="DISB-PCT", name_th="ร้อยละการเบิกจ่าย", value_type="percent", minimum=0, maximum=100)
BASE = date(2000, 1, 1)


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    freeze(monkeypatch, NOW)


# half a year of monthly periods ahead: Nov 2026 (due 3 Dec) .. Apr 2027
SETTINGS = Settings(horizon=timedelta(days=165))


class World:
    def __init__(self, path):
        self.database = sqlite_database(path, metadata)
        self.consumer = ReliableConsumer("assessments.events", self.database, bootstrap(SETTINGS).event_handlers,
                                         [10])

    def deliver(self, event):
        outcome = self.consumer.process(encode(event, correlation_id="c").to_json())  # a new message id each time
        assert outcome.outcome == "processed", outcome

    def live(self, rule_id="rule-1"):
        with self.database.session() as session:
            return [dict(r) for r in session.execute(select(obligations).where(
                obligations.c.rule_id == rule_id, obligations.c.state != "cancelled")).mappings()]

    def all(self, unit=None):
        with self.database.session() as session:
            query = select(obligations)
            if unit:
                query = query.where(obligations.c.unit_code == unit)
            return [dict(r) for r in session.execute(query).mappings()]

    def copy(self):
        with self.database.session() as session:
            return sorted((r["code"], r["valid_from"], r["valid_to"], r["revision"], r["lao_type"], r["parent_code"],
                           r["change_kind"], r["predecessor_codes"], r["successor_codes"])
                          for r in session.execute(select(org_units)).mappings())

    def events(self, event_type):
        with self.database.session() as session:
            return [decode(body)[1] for body in session.execute(
                select(outbox.c.body).where(outbox.c.event_type == event_type)).scalars()]


def unit(code, valid_from=BASE, valid_to=None, revision=0, lao_type="sao", parent="DLO-1", **extra):
    return OrgUnitChanged(code=code, level="lao", lao_type=lao_type, parent_code=parent, name_th=code,
                          valid_from=valid_from, valid_to=valid_to, revision=revision, **extra)


def rule(units, rule_id="rule-1"):
    return ReportingRulePublished(rule_id=rule_id, directive_id="d-1", indicators=[SPEC], unit_codes=units,
                                  rrule="FREQ=MONTHLY;BYMONTHDAY=3")


def owed(world, rule_id="rule-1"):
    by_period: dict[str, list[str]] = {}
    for row in world.live(rule_id):
        by_period.setdefault(row["period"], []).append(row["unit_code"])
    return {period: sorted(codes) for period, codes in by_period.items()}


OFFICES = [OrgUnitChanged(code="PLO-1", level="provincial_office", name_th="สถจ.", valid_from=BASE),
           OrgUnitChanged(code="DLO-1", level="district_office", parent_code="PLO-1", name_th="สถอ.", valid_from=BASE),
           OrgUnitChanged(code="DLO-2", level="district_office", parent_code="PLO-1", name_th="สถอ.2",
                          valid_from=BASE)]


# --- examples -------------------------------------------------------------------------------------------

def test_a_merger_hands_the_district_rule_to_the_new_municipality_from_its_date(tmp_path):
    """Two SAOs merge into a new municipality on 1 Jan 2027: they owe Nov and Dec, it owes Jan on;
    their January-on obligations are cancelled naming the date and the successor."""
    world = World(tmp_path)
    for event in OFFICES + [unit("SAO-A"), unit("SAO-B"), unit("SAO-C")]:
        world.deliver(event)
    world.deliver(rule(["SAO-A", "SAO-B", "SAO-C"]))
    assert owed(world)["2570-01"] == ["SAO-A", "SAO-B", "SAO-C"]
    merged_on = date(2027, 1, 1)
    for code in ("SAO-A", "SAO-B"):
        world.deliver(unit(code, valid_to=merged_on, revision=1, change_kind="merged", effective_date=merged_on,
                           successor_codes=["TM-AB"]))
    world.deliver(unit("TM-AB", valid_from=merged_on, lao_type="subdistrict_municipality", change_kind="merged",
                       effective_date=merged_on, predecessor_codes=["SAO-A", "SAO-B"]))
    table = owed(world)
    assert table["2569-11"] == table["2569-12"] == ["SAO-A", "SAO-B", "SAO-C"]
    for period in ("2570-01", "2570-02", "2570-03", "2570-04"):
        assert table[period] == ["SAO-C", "TM-AB"], period
    cancelled = [r for r in world.all("SAO-A") if r["state"] == "cancelled"]
    assert {r["period"] for r in cancelled} == {"2570-01", "2570-02", "2570-03", "2570-04"}
    assert all(r["cancel_cause"] == "unit_closed" and "2027-01-01" in r["cancel_reason"]
               and "TM-AB" in r["cancel_reason"] for r in cancelled)
    reasons = {e.reason for e in world.events("assessments.obligation_cancelled.v1") if e.unit_code == "SAO-B"}
    assert reasons == {"หน่วยงาน SAO-B สิ้นสภาพเมื่อ 2027-01-01 โดย TM-AB รับภาระแทน / "
                       "unit SAO-B closed on 2027-01-01 (merged into TM-AB)"}
    # the same events again, in another order: nothing new, nothing cancelled twice
    before = (owed(world), len(world.all()))
    for code in ("SAO-B", "SAO-A"):
        world.deliver(unit(code, valid_to=merged_on, revision=1, change_kind="merged", successor_codes=["TM-AB"]))
    world.deliver(rule(["SAO-A", "SAO-B", "SAO-C"]))
    assert (owed(world), len(world.all())) == before


def test_a_unit_merged_into_an_existing_one_hands_it_the_rule_it_did_not_have(tmp_path):
    world = World(tmp_path)
    for event in OFFICES + [unit("SAO-A"), unit("TM-X", lao_type="subdistrict_municipality")]:
        world.deliver(event)
    world.deliver(rule(["SAO-A"]))   # the district's rule names the SAO only
    merged_on = date(2027, 2, 1)
    world.deliver(unit("SAO-A", valid_to=merged_on, revision=1, change_kind="merged", successor_codes=["TM-X"]))
    table = owed(world)
    assert table["2570-01"] == ["SAO-A"] and table["2570-02"] == ["TM-X"] and table["2570-04"] == ["TM-X"]
    assert "2569-12" in table and "TM-X" not in table["2569-12"]


def test_an_upgrade_delivered_in_either_order_keeps_every_obligation_once(tmp_path):
    """SAO upgraded to a subdistrict municipality on 1 Feb 2027: the unit owes every period. If the
    ended version arrives first the unit looks closed for a moment: its February-on obligations are
    cancelled, then opened again when the new version arrives."""
    upgraded_on = date(2027, 2, 1)
    ended = unit("SAO-A", valid_to=upgraded_on, revision=1, change_kind="type_changed")
    new = unit("SAO-A", valid_from=upgraded_on, revision=2, lao_type="subdistrict_municipality",
               change_kind="type_changed")
    results = []
    for order, path in (((ended, new), tmp_path / "a"), ((new, ended), tmp_path / "b")):
        path.mkdir()
        world = World(path)
        for event in OFFICES + [unit("SAO-A")]:
            world.deliver(event)
        world.deliver(rule(["SAO-A"]))
        for event in order:
            world.deliver(event)
        results.append((owed(world), world.copy()))
        assert all(codes == ["SAO-A"] for codes in owed(world).values()) and len(owed(world)) == 6
    assert results[0] == results[1]


def test_a_closed_units_report_for_a_later_period_is_refused_saying_when_and_into_whom(tmp_path):
    world = World(tmp_path)
    for event in OFFICES + [unit("SAO-A"), unit("SAO-B")]:
        world.deliver(event)
    world.deliver(rule(["SAO-A", "SAO-B"]))
    january = next(r for r in world.all("SAO-A") if r["period"] == "2570-01")
    merged_on = date(2027, 1, 1)
    world.deliver(unit("SAO-A", valid_to=merged_on, revision=1, change_kind="merged", successor_codes=["SAO-B"]))
    in_window = datetime(2027, 1, 30, 3, 0, tzinfo=timezone.utc)
    with world.database.unit_of_work() as uow:
        with pytest.raises(InputError) as refused:
            submissions.submit_values(SubmitValues(obligation_id=january["id"], unit_code="SAO-A",
                                                     values=[{"indicator_code": "DISB-PCT", "value": 50}]), uow,
                                   now=in_window)
    error = refused.value
    assert error.status == 409 and error.field == "unit_code" and error.code == "unit_closed"
    assert "2027-01-01" in error.message_en and "SAO-B" in error.message_en and "closed" in error.message_en
    assert "2027-01-01" in error.message_th and "SAO-B" in error.message_th and "สิ้นสภาพ" in error.message_th
    assert "not open yet" not in error.message_en
    # by period in a batch: the same reason on the item's unit_code, nothing stored
    with world.database.unit_of_work() as uow:
        report = submissions.submit_batch(SubmitBatch(submitter_unit_code="DLO-1", items=[BatchItem(
            unit_code="SAO-A", period="2570-01", values=[{"indicator_code": "DISB-PCT", "value": 50}])]), uow,
            now=in_window)
    assert report["accepted"] == 0
    assert report["errors"][0]["field"] == "items[0].unit_code" and report["errors"][0]["code"] == "unit_closed"
    # December (before the closing) is still its own to report
    december = next(r for r in world.all("SAO-A") if r["period"] == "2569-12")
    with world.database.unit_of_work() as uow:
        submissions.submit_values(SubmitValues(obligation_id=december["id"], unit_code="SAO-A",
                                                 values=[{"indicator_code": "DISB-PCT", "value": 50}]), uow,
                               now=datetime(2026, 12, 30, 3, 0, tzinfo=timezone.utc))
        uow.commit()


def test_a_future_opening_owes_only_the_periods_it_exists_in(tmp_path):
    world = World(tmp_path)
    for event in OFFICES + [unit("SAO-A"), unit("NEW-1", valid_from=date(2027, 3, 15), change_kind="opened")]:
        world.deliver(event)
    world.deliver(rule(["SAO-A", "NEW-1"]))
    table = owed(world)
    assert [p for p, codes in sorted(table.items()) if "NEW-1" in codes] == ["2570-03", "2570-04"]


def test_a_stale_revision_never_replaces_a_newer_one(tmp_path):
    world = World(tmp_path)
    for event in OFFICES:
        world.deliver(event)
    world.deliver(unit("SAO-A", valid_to=date(2027, 1, 1), revision=3))
    world.deliver(unit("SAO-A", revision=1))          # older: ignored
    world.deliver(unit("SAO-A", valid_to=date(2027, 1, 1), revision=3))   # the same again
    assert [(r[1], r[2], r[3]) for r in world.copy() if r[0] == "SAO-A"] == [(BASE, date(2027, 1, 1), 3)]


def test_the_migration_keeps_each_unit_as_its_version(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine, text

    from shared.migrate import alembic_config
    url = f"sqlite:///{tmp_path / 'assessments.db'}"
    config = alembic_config("assessments", url)
    command.upgrade(config, "0003_rpc_results")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO org_units (code, level, lao_type, parent_code, valid_from, valid_to) "
                                "VALUES ('SAO-A', 'lao', 'sao', 'DLO-1', '2000-01-01', '2027-01-01')"))
    command.upgrade(config, "head")
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT code, valid_from, valid_to, revision, successor_codes FROM org_units")).all()
        assert [tuple(r) for r in rows] == [("SAO-A", "2000-01-01", "2027-01-01", 0, "[]")]
        connection.execute(text("INSERT INTO org_units (code, level, valid_from) VALUES ('SAO-A', 'lao', '2027-01-01')"))
        with pytest.raises(Exception, match="UNIQUE"):
            connection.execute(text("INSERT INTO org_units (code, level, valid_from) VALUES ('SAO-A', 'lao', '2027-01-01')"))
    command.downgrade(config, "0003_rpc_results")
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT code, valid_from FROM org_units")).all()
        assert [tuple(r) for r in rows] == [("SAO-A", "2027-01-01")]
    engine.dispose()


# --- properties -----------------------------------------------------------------------------------------

MONTHS = [date(2026 + (9 + i - 1) // 12, (9 + i - 1) % 12 + 1, 1) for i in range(9)]  # Sep 2026 .. May 2027
PERIODS = ["2569-11", "2569-12", "2570-01", "2570-02", "2570-03", "2570-04"]   # what the rule opens


class History:
    """A registry built by a sequence of changes, as plans would publish it: every version sent,
    and sent again (a higher revision) when a change ends it."""

    def __init__(self, codes):
        self.current: dict[str, dict] = {}
        self.revision: dict[str, int] = {}
        self.events: list[OrgUnitChanged] = []
        # code -> {named unit it took the rule over from: the first day of the periods it owes by it}
        self.descends: dict[str, dict[str, date]] = {}
        for code in codes:
            self._open(code, dict(valid_from=BASE, lao_type="sao", parent="DLO-1"), "opened", [])
            self.descends[code] = {code: BASE}

    def _inherit(self, code, predecessors, day):
        own = self.descends.setdefault(code, {})
        for predecessor in predecessors:
            for origin, since in self.descends.get(predecessor, {}).items():
                begins = max(since, day)
                own[origin] = min(own.get(origin, begins), begins)

    def __repr__(self):
        return "History(" + "; ".join(
            f"{e.code} {e.valid_from}..{e.valid_to} r{e.revision} {e.change_kind}"
            f"{' <' + ','.join(e.predecessor_codes) if e.predecessor_codes else ''}"
            f"{' >' + ','.join(e.successor_codes) if e.successor_codes else ''}" for e in self.events) + ")"

    def _send(self, code, version, kind, predecessors=(), successors=()):
        self.revision[code] = self.revision.get(code, -1) + 1
        self.events.append(unit(code, valid_from=version["valid_from"], valid_to=version.get("valid_to"),
                                revision=self.revision[code], lao_type=version["lao_type"], parent=version["parent"],
                                change_kind=kind, predecessor_codes=list(predecessors),
                                successor_codes=list(successors)))

    def _open(self, code, version, kind, predecessors):
        self.current[code] = version
        self._send(code, version, kind, predecessors)

    def _end(self, code, day, kind, successors=()):
        version = {**self.current.pop(code), "valid_to": day}
        self._send(code, version, kind, successors=successors)
        return version

    def alive(self, day):
        return sorted(code for code, v in self.current.items() if v["valid_from"] < day)

    def change(self, kind, codes, day, new_code):
        if kind in ("type_changed", "moved", "renamed"):
            old = self._end(codes[0], day, kind)
            new = {"valid_from": day, "lao_type": "subdistrict_municipality" if old["lao_type"] == "sao" else "sao",
                   "parent": "DLO-2" if kind == "moved" else old["parent"]}
            self._open(codes[0], new, kind, [])
        elif kind == "closed":
            self._end(codes[0], day, "closed")
        elif kind == "merged":
            for code in codes:
                self._end(code, day, "merged", [new_code])
            self._open(new_code, {"valid_from": day, "lao_type": "subdistrict_municipality", "parent": "DLO-1"},
                       "merged", codes)
            self._inherit(new_code, codes, day)
        elif kind == "merged_into":
            into = codes[1]
            self._end(codes[0], day, "merged", [into])
            old = self._end(into, day, "merged")
            self._open(into, {**old, "valid_from": day, "valid_to": None}, "merged", [codes[0]])
            self._inherit(into, codes[:1], day)
        elif kind == "split":
            parts = [f"{new_code}a", f"{new_code}b"]
            self._end(codes[0], day, "split", parts)
            for part in parts:
                self._open(part, {"valid_from": day, "lao_type": "sao", "parent": "DLO-1"}, "split", codes)
                self._inherit(part, codes, day)
        elif kind == "opened":
            self._open(new_code, {"valid_from": day, "lao_type": "sao", "parent": "DLO-1"}, "opened", [])
            self.descends[new_code] = {}

    def final(self):
        best: dict[tuple, OrgUnitChanged] = {}
        for event in self.events:
            key = (event.code, event.valid_from)
            if key not in best or event.revision >= best[key].revision:
                best[key] = event
        return best


@st.composite
def histories(draw):
    named = ["U1", "U2", "U3", "U4"]
    history = History(named)
    days = sorted(draw(st.sets(st.sampled_from(MONTHS[1:]), min_size=1, max_size=5)))
    for index, day in enumerate(days):
        alive = history.alive(day)
        kind = draw(st.sampled_from(["type_changed", "moved", "renamed", "closed", "merged", "merged_into", "split",
                                     "opened"]))
        if kind in ("merged", "merged_into") and len(alive) < 2 or kind != "opened" and not alive:
            kind = "opened"
        chosen = draw(st.permutations(alive))[:2 if kind in ("merged", "merged_into") else 1] if alive else []
        history.change(kind, list(chosen), day, f"N{index}")
    # the rule names some of the units there are at the start (a district's rule, not every unit)
    return history, sorted(draw(st.sets(st.sampled_from(named), min_size=1)))


def expected_owing(history: History, named: list[str], start: date, end: date) -> list[str]:
    """The oracle: units valid in the period that took the rule over from a unit it names by the
    period's first day (changes fall on the first of a month, so a successor's first period is the
    first its predecessor no longer exists in)."""
    final = history.final().values()
    return sorted({v.code for v in final if overlaps(v, start, end) and any(
        origin in named and since <= start for origin, since in history.descends.get(v.code, {}).items())})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_history_delivered_in_any_order_owes_each_period_by_exactly_the_units_valid_in_it(tmp_path_factory, data):
    history, named = data.draw(histories())
    events = list(history.events)
    events += data.draw(st.lists(st.sampled_from(events), max_size=4))       # some delivered twice
    order = data.draw(st.randoms(use_true_random=False))
    order.shuffle(events)
    rule_at = data.draw(st.integers(0, len(events)))                          # the rule comes at any point
    world = World(tmp_path_factory.mktemp("w"))
    for event in OFFICES:
        world.deliver(event)
    for index, event in enumerate(events):
        if index == rule_at:
            world.deliver(rule(named))
        world.deliver(event)
    if rule_at == len(events):
        world.deliver(rule(named))
    # the copy is the registry's final truth, whatever the order
    final = history.final()
    assert [row for row in world.copy() if not row[0].startswith(("DLO", "PLO"))] == sorted(
        (e.code, e.valid_from, e.valid_to, e.revision, e.lao_type, e.parent_code, e.change_kind,
         json.dumps(sorted(e.predecessor_codes)), json.dumps(sorted(e.successor_codes))) for e in final.values())
    check_versions(final.values())
    # each period: exactly the units valid in it, each once
    live = world.live()
    periods = {period: schedule.period_bounds(period) for period in PERIODS}
    assert {row["period"] for row in world.all()} <= set(PERIODS)
    assert len({(r["unit_code"], r["period"]) for r in live}) == len(live)
    table = owed(world)
    for period, (start, end) in periods.items():
        assert table.get(period, []) == expected_owing(history, named, start, end), period


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_owing_rule_never_counts_a_territory_twice(data):
    """Pure: with periods of any length, a period is owed by each unit at most once, by a unit that
    existed in it, and a successor owes it only when the unit it took over from no longer does."""
    history, named = data.draw(histories())
    registry = Registry.of([{**e.model_dump(), "predecessor_codes": e.predecessor_codes,
                             "successor_codes": e.successor_codes} for e in history.final().values()])
    start = data.draw(st.sampled_from(MONTHS)) + timedelta(days=data.draw(st.integers(0, 27)))
    end = start + timedelta(days=data.draw(st.integers(0, 90)))
    owing = registry.owing(named, start, end)
    for code, origin in owing.items():
        assert registry.exists_in(code, start, end)
        assert (origin is None) == (code in named)
        if origin is not None:
            assert origin in named and not registry.exists_in(origin, start, end)


def test_a_value_is_judged_against_the_target_of_the_type_the_unit_had_in_the_period(tmp_path):
    """An SAO upgraded to a subdistrict municipality on 1 Jan 2027: its December value is judged
    against the SAOs' target, its January value against the municipalities'."""
    from shared.contracts.events import TargetSet
    world = World(tmp_path)
    upgraded_on = date(2027, 1, 1)
    for event in OFFICES + [unit("SAO-A", valid_to=upgraded_on, revision=1, change_kind="type_changed"),
                            unit("SAO-A", valid_from=upgraded_on, revision=2, lao_type="subdistrict_municipality",
                                 change_kind="type_changed")]:
        world.deliver(event)
    world.deliver(rule(["SAO-A"]))
    for lao_type, target in (("sao", 60), ("subdistrict_municipality", 90)):
        world.deliver(TargetSet(plan_id="p", indicator_code="DISB-PCT", fiscal_year_be=2570,
                                unit_group=f"lao_type:{lao_type}", value=target, provenance="test"))
    by_period = {r["period"]: r for r in world.all("SAO-A")}

    def submit(period, at):
        with world.database.unit_of_work() as uow:
            result = submissions.submit_values(SubmitValues(obligation_id=by_period[period]["id"], unit_code="SAO-A",
                                                              values=[{"indicator_code": "DISB-PCT", "value": 70}]), uow,
                                            now=at)
            uow.commit()
        return result
    assert submit("2569-12", datetime(2026, 12, 30, 3, 0, tzinfo=timezone.utc))["on_time"]   # 70 >= 60
    with pytest.raises(InputError) as missed:
        submit("2570-01", datetime(2027, 1, 30, 3, 0, tzinfo=timezone.utc))                # 70 < 90
    assert (missed.value.field, missed.value.code) == ("values[0].note", "note_required")
