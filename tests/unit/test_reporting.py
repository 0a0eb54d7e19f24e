"""reporting read models: every status and flag, rollups, rates, order independence, idempotency,
rebuild == live, and the dashboard queries' filters and 404s (in-file SQLite)."""
from __future__ import annotations

import itertools
import random
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.reporting import domain as reporting_domain
from services.reporting import bootstrap, projection, views
from services.reporting.models import event_log, metadata, obligations
from services.reporting.rebuild import READ_MODELS, rebuild
from shared.contracts import encode
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, DeadlineMissed, DirectiveForwarded,
                                     DirectiveIssued, ExtensionGranted, IndicatorSpec, IndicatorSubmitted,
                                     NotificationFailed, NotificationSent, ObligationCancelled, ObligationOpened,
                                     OrgUnitChanged, PlanPublished, SubmissionReviewed, SubmittedValue, TargetSet)
from shared.errors import InputError
from shared.messaging.inbox import ReliableConsumer
from shared.messaging.topology import SUBSCRIPTIONS
from tests.fakes import sqlite_database

UTC = timezone.utc
DUE = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)          # the report on 2569-11 (FY 2570)
BEFORE, AFTER = DUE - timedelta(days=1), DUE + timedelta(days=2)
T0 = datetime(2026, 11, 1, tzinfo=UTC)

# nation -> PLO-01 (DLO-0101 -> LAO-A sao, LAO-B sao; DLO-0102 -> LAO-C municipality; PAO-01) ; PLO-02 -> DLO-0201 -> LAO-D
REGISTRY = [
    ("MOI", "ministry", None, None), ("DLA", "department", None, "MOI"),
    ("PLO-01", "provincial_office", None, "DLA"), ("PLO-02", "provincial_office", None, "DLA"),
    ("PAO-01", "lao", "pao", "PLO-01"),
    ("DLO-0101", "district_office", None, "PLO-01"), ("DLO-0102", "district_office", None, "PLO-01"),
    ("DLO-0201", "district_office", None, "PLO-02"),
    ("LAO-A", "lao", "sao", "DLO-0101"), ("LAO-B", "lao", "sao", "DLO-0101"),
    ("LAO-C", "lao", "subdistrict_municipality", "DLO-0102"), ("LAO-D", "lao", "sao", "DLO-0201"),
    ("BMA", "lao", "special", "MOI"),
]


@pytest.fixture
def database(tmp_path):
    return sqlite_database(tmp_path, metadata)


class Feed:
    """Publishes events to the reporting consumer the way the broker would (through the inbox)."""

    def __init__(self, database):
        self.database = database
        self.consumer = ReliableConsumer("reporting.events", database,
                                         bootstrap.event_handlers(SUBSCRIPTIONS["reporting"]), [10])
        self.clock = T0
        self.bodies = []

    def __call__(self, event, at: datetime | None = None):
        self.clock += timedelta(seconds=1)
        body = encode(event, correlation_id="c", occurred_at=at or self.clock).to_json()
        self.bodies.append(body)
        outcome = self.consumer.process(body)
        assert outcome.outcome in ("processed", "duplicate"), outcome
        return body

    def registry(self, rows=REGISTRY):
        for code, level, lao_type, parent in rows:
            self(OrgUnitChanged(code=code, level=level, lao_type=lao_type, parent_code=parent,
                                name_th=f"ชื่อ {code}", valid_from=date(2000, 1, 1)))


def opened(oid, unit, period="2569-11", due=DUE, rule="r-1", directive=None, indicator="BUD-1"):
    return ObligationOpened(obligation_id=oid, unit_code=unit, rule_id=rule, directive_id=directive,
                            indicator_code=indicator, indicator_name_th="เบิกจ่าย", indicator_codes=[indicator],
                            period=period, due_at=due)


def submitted(oid, unit, at, on_time, period="2569-11", values=None, sid=None, directive=None):
    return IndicatorSubmitted(submission_id=sid or f"s-{oid}-{at.isoformat()}", obligation_id=oid, unit_code=unit,
                              directive_id=directive, period=period,
                              values=[SubmittedValue(indicator_code=k, value=v) for k, v in (values or {"BUD-1": 50.0}).items()],
                              submitted_at=at, due_at=DUE, on_time=on_time)


def missed(oid, unit, period="2569-11", detected=DUE + timedelta(hours=1), due=DUE, directive=None):
    return DeadlineMissed(obligation_id=oid, unit_code=unit, indicator_code="BUD-1", period=period, due_at=due,
                          detected_at=detected, directive_id=directive)


def compliance(database, **kwargs):
    with database.session() as session:
        return views.compliance(session, **kwargs)


def statuses(database):
    with database.session() as session:
        return dict(session.execute(select(obligations.c.obligation_id, obligations.c.status)).all())


# --- obligation status ------------------------------------------------------------------------

def scenario():
    """One obligation per status and flag, in the order the platform emits them."""
    return [
        opened("o-on-time", "LAO-A"), submitted("o-on-time", "LAO-A", BEFORE, True),
        opened("o-late", "LAO-B"), missed("o-late", "LAO-B"), submitted("o-late", "LAO-B", AFTER, False),
        opened("o-missing", "LAO-C"), missed("o-missing", "LAO-C"),
        opened("o-pending", "LAO-D"),
        opened("o-extended", "PAO-01"), missed("o-extended", "PAO-01"),
        ExtensionGranted(request_id="x1", obligation_id="o-extended", unit_code="PAO-01", new_due_at=AFTER,
                         decided_by_unit_code="PLO-01", decided_at=DUE + timedelta(hours=2)),
        submitted("o-extended", "PAO-01", AFTER - timedelta(hours=1), True),
        opened("o-returned", "BMA"), submitted("o-returned", "BMA", BEFORE, True),
        SubmissionReviewed(submission_id="s", obligation_id="o-returned", unit_code="BMA", reviewer_unit_code="MOI",
                           decision="returned", reviewed_at=BEFORE + timedelta(hours=1)),
        opened("o-cancelled", "LAO-A", period="2569-12", due=DUE + timedelta(days=30)),
        ObligationCancelled(obligation_id="o-cancelled", unit_code="LAO-A", reason="rule changed"),
    ]


EXPECTED_STATUS = {"o-on-time": "on_time", "o-late": "late", "o-missing": "missing", "o-pending": "pending",
                   "o-extended": "on_time", "o-returned": "returned", "o-cancelled": "cancelled"}


def test_each_status_and_flag(database):
    feed = Feed(database)
    feed.registry()
    for event in scenario():
        feed(event)
    assert statuses(database) == EXPECTED_STATUS
    # Long after every deadline: the obligation never submitted nor swept counts as missing; the
    # returned report (awaiting resubmission) is due and reported, not on time, not missing.
    national = compliance(database, now=AFTER + timedelta(days=30))
    assert national["totals"] == {"expected": 6, "due": 6, "on_time": 2, "late": 1, "extended": 1, "missing": 2,
                                  "returned": 1, "pending": 0, "on_time_rate": 0.3333, "reported_rate": 0.6667}
    # Before the deadline: what is not submitted is not yet due and counts against nobody,
    # even the obligation a (premature) miss was recorded for.
    early = compliance(database, now=DUE - timedelta(hours=1))
    assert early["totals"] == {"expected": 6, "due": 4, "on_time": 2, "late": 1, "extended": 1, "missing": 0,
                               "returned": 1, "pending": 2, "on_time_rate": 0.5, "reported_rate": 1.0}
    assert national["periods"] == ["2569-11", "2569-12"]


@pytest.mark.parametrize("seed", range(4))
def test_any_arrival_order_gives_the_same_read_models(database, tmp_path, seed):
    events = scenario()
    random.Random(seed).shuffle(events)
    feed = Feed(database)
    # the registry arrives last and children before parents: keys are repaired afterwards
    for event in events:
        feed(event)
    feed.registry(list(reversed(REGISTRY)))
    assert statuses(database) == EXPECTED_STATUS
    assert compliance(database)["totals"]["on_time_rate"] == 0.3333
    assert {row["code"]: row["expected"] for row in compliance(database)["children"]} == {
        "PLO-01": 4, "PLO-02": 1, "BMA": 1}


def test_a_returned_report_is_returned_never_missing_until_resubmitted(database):
    feed = Feed(database)
    feed.registry()
    feed(opened("o", "LAO-A"))
    feed(submitted("o", "LAO-A", BEFORE, True))
    feed(SubmissionReviewed(submission_id="s", obligation_id="o", unit_code="LAO-A", reviewer_unit_code="DLO-0101",
                            decision="returned", reviewed_at=BEFORE, resubmit_due_at=BEFORE + timedelta(days=7)))
    # even a miss on record (an older platform swept returned reports) does not make it missing
    feed(missed("o", "LAO-A", detected=DUE + timedelta(hours=1)))
    assert statuses(database)["o"] == "returned"
    totals = compliance(database, unit_code="DLO-0101")["totals"]
    assert (totals["returned"], totals["missing"], totals["reported_rate"]) == (1, 0, 1.0)
    feed(submitted("o", "LAO-A", AFTER, False))
    assert statuses(database)["o"] == "late"
    assert compliance(database, unit_code="LAO-A")["totals"]["returned"] == 0  # no longer awaiting resubmission


def test_projecting_the_same_message_twice_changes_nothing(database):
    feed = Feed(database)
    feed.registry()
    bodies = [feed(event) for event in scenario()]
    with database.session() as session:
        before = [session.execute(select(table)).all() for table in READ_MODELS]
    for body in bodies:
        assert feed.consumer.process(body).outcome == "duplicate"
    with database.session() as session:
        assert [session.execute(select(table)).all() for table in READ_MODELS] == before
        assert session.execute(select(func.count()).select_from(event_log)).scalar_one() == len(feed.bodies)


def test_several_events_for_one_row_in_one_transaction(database):
    """Batched consumption: the handler runs for several events before one commit."""
    feed = Feed(database)
    feed.registry()
    handler = projection.record_and_project
    with database.unit_of_work() as uow:
        for i, event in enumerate([opened("o", "LAO-A"), missed("o", "LAO-A"), submitted("o", "LAO-A", AFTER, False),
                                   submitted("o", "LAO-A", AFTER + timedelta(hours=1), False,
                                             values={"BUD-1": 70.0})]):
            handler(event, uow, encode(event, correlation_id="c", occurred_at=T0 + timedelta(seconds=i)))
        uow.commit()
    assert statuses(database)["o"] == "late"
    with database.session() as session:
        row = views.achievement_report(session, "BUD-1", 2570, "LAO-A", now=T0)["rows"][0]
    assert row["actual"] == 70.0


# --- rollups, rates, filters, 404s ---------------------------------------------------------------

def test_rollup_nation_province_district_unit_and_lao_type(database):
    feed = Feed(database)
    feed.registry()
    for event in scenario():
        feed(event)
    province = compliance(database, unit_code="PLO-01")
    assert province["unit"] == {"code": "PLO-01", "name_th": "ชื่อ PLO-01", "level": "provincial_office"}
    assert {row["code"]: (row["expected"], row["on_time"]) for row in province["children"]} == {
        "DLO-0101": (2, 1), "DLO-0102": (1, 0), "PAO-01": (1, 1)}
    district = compliance(database, unit_code="DLO-0101")
    assert [row["code"] for row in district["children"]] == ["LAO-A", "LAO-B"]
    assert district["children"][1]["late"] == 1
    lao = compliance(database, unit_code="LAO-B")
    assert [(row["period"], row["status"]) for row in lao["children"]] == [("2569-11", "late")]
    assert compliance(database, unit_code="MOI")["totals"] == compliance(database)["totals"]
    sao = compliance(database, lao_type="sao")
    assert sao["totals"]["expected"] == 3
    assert {row["lao_type"]: row["expected"] for row in compliance(database)["by_lao_type"]} == {
        "pao": 1, "sao": 3, "special": 1, "subdistrict_municipality": 1}
    assert compliance(database, rule_id="nope")["totals"]["expected"] == 0
    assert compliance(database, rule_id="nope")["totals"]["on_time_rate"] is None
    assert compliance(database, period="2569-12")["totals"]["expected"] == 0  # only a cancelled one


def test_rates_never_exceed_one_and_counts_add_up(database):
    feed = Feed(database)
    feed.registry()
    rng = random.Random(7)
    laos = [code for code, level, *_ in REGISTRY if level == "lao"]
    for i in range(30):
        unit = rng.choice(laos)
        oid = f"o{i}"
        feed(opened(oid, unit, period=rng.choice(["2569-10", "2569-11"])))
        for _ in range(rng.randint(0, 3)):  # resubmissions, misses, in any mix
            if rng.random() < 0.5:
                feed(submitted(oid, unit, DUE + timedelta(hours=rng.randint(-48, 48)), rng.random() < 0.5))
            else:
                feed(missed(oid, unit, detected=DUE + timedelta(hours=rng.randint(1, 48))))
    for unit in (None, "PLO-01", "DLO-0101", "LAO-A"):
        for row in [compliance(database, unit_code=unit)["totals"], *compliance(database, unit_code=unit)["children"]]:
            assert row["on_time"] + row["late"] + row["missing"] + row["pending"] + row["returned"] == row["expected"]
            assert row["on_time_rate"] is None or 0 <= row["on_time_rate"] <= row["reported_rate"] <= 1
    with database.session() as session:
        matrix = views.compliance_matrix(session, None, ["2569-10", "2569-11"])
    assert all(cell is None or 0 <= cell <= 1 for row in matrix["rows"] for cell in row["cells"].values())


def test_matrix_children_by_period(database):
    feed = Feed(database)
    feed.registry()
    for event in scenario():
        feed(event)
    feed(opened("o-oct", "LAO-A", period="2569-10", due=DUE - timedelta(days=30)))
    feed(submitted("o-oct", "LAO-A", DUE - timedelta(days=31), True, period="2569-10"))
    with database.session() as session:
        matrix = views.compliance_matrix(session, "DLO-0101")
        assert views.compliance_matrix(session, None, ["2569-10"])["rows"] == [
            {"code": "PLO-01", "name_th": "ชื่อ PLO-01", "cells": {"2569-10": 1.0}}]
    assert matrix["periods"] == ["2569-10", "2569-11", "2569-12"]
    assert matrix["rows"] == [
        {"code": "LAO-A", "name_th": "ชื่อ LAO-A", "cells": {"2569-10": 1.0, "2569-11": 1.0, "2569-12": None}},
        {"code": "LAO-B", "name_th": "ชื่อ LAO-B", "cells": {"2569-10": None, "2569-11": 0.0, "2569-12": None}}]


@pytest.mark.parametrize("call", [
    lambda s: views.compliance(s, unit_code="NOPE"),
    lambda s: views.compliance_matrix(s, "NOPE"),
    lambda s: views.cascade(s, "no-such-directive"),
    lambda s: views.achievement_report(s, "NOPE", 2570),
    lambda s: views.notification_effectiveness(s, "NOPE"),
    lambda s: views.overdue(s, "NOPE"),
])
def test_unknown_things_are_404_naming_the_field(database, call):
    Feed(database).registry()
    with database.session() as session, pytest.raises(InputError) as error:
        call(session)
    assert error.value.status == 404 and error.value.field in ("unit_code", "directive_id", "indicator_code")


# --- cascade --------------------------------------------------------------------------------------

def test_cascade_levels_hops_and_subtree(database):
    feed = Feed(database)
    feed.registry()
    issued = T0 + timedelta(hours=1)
    feed(DirectiveIssued(directive_id="d", document_number="มท ๑", title_th="ข้อสั่งการ", urgency="urgent",
                         issuer_code="DLA", addressee_count=2), at=issued)
    feed(AssignmentCreated(assignment_id="a1", directive_id="d", document_number="มท ๑", title_th="t",
                           unit_code="PLO-01"), at=issued)
    feed(AssignmentCreated(assignment_id="a2", directive_id="d", document_number="มท ๑", title_th="t",
                           unit_code="PLO-02"), at=issued)
    # acknowledgement arrives before the child assignment it belongs to (out of order)
    feed(AssignmentAcknowledged(assignment_id="a3", directive_id="d", unit_code="DLO-0101",
                                acknowledged_at=issued + timedelta(hours=5)))
    feed(AssignmentAcknowledged(assignment_id="a1", directive_id="d", unit_code="PLO-01",
                                acknowledged_at=issued + timedelta(hours=1)))
    feed(DirectiveForwarded(directive_id="d", from_assignment_id="a1", from_unit_code="PLO-01",
                            child_assignment_ids=["a3"], unit_codes=["DLO-0101"],
                            forwarded_at=issued + timedelta(hours=3)))
    feed(AssignmentCreated(assignment_id="a3", directive_id="d", document_number="มท ๑", title_th="t",
                           unit_code="DLO-0101", parent_assignment_id="a1"), at=issued + timedelta(hours=3))
    with database.session() as session:
        result = views.cascade(session, "d")
        province = views.cascade(session, "d", "PLO-01")
    levels = {row["level"]: row for row in result["levels"]}
    assert levels["provincial_office"]["units"] == 2 and levels["provincial_office"]["acknowledged"] == 1
    assert levels["provincial_office"]["acknowledgement_rate"] == 0.5
    assert levels["provincial_office"]["forwarded"] == 1
    assert levels["district_office"]["max_hop_s"] == 3 * 3600
    units = {row["unit_code"]: row for row in result["units"]}
    assert units["DLO-0101"]["forwarded_by"] == "PLO-01" and units["DLO-0101"]["acknowledge_s"] == 2 * 3600
    assert units["PLO-02"]["forwarded_by"] is None  # sent directly by the issuer
    assert units["DLO-0101"]["received_at"] == units["DLO-0101"]["acknowledged_at"]  # acknowledging is receiving
    assert levels["provincial_office"]["received"] == 1 and units["PLO-02"]["state"] == "issued"
    assert result["slowest_hops"][0]["unit_code"] == "DLO-0101"
    assert sorted(row["unit_code"] for row in province["units"]) == ["DLO-0101", "PLO-01"]


# --- achievement --------------------------------------------------------------------------------

def _achievement_world(feed):
    feed.registry()
    feed(PlanPublished(plan_id="p", title_th="แผน", plan_type="lao", period_be_start=2566, period_be_end=2570,
                       indicators=[IndicatorSpec(code="BUD-1", name_th="เบิกจ่าย", unit_of_measure="%",
                                                 value_type="percent", direction="increase"),
                                   IndicatorSpec(code="WASTE", name_th="ขยะ", value_type="number",
                                                 direction="decrease"),
                                   IndicatorSpec(code="EVENTS", name_th="กิจกรรม", value_type="count")]))
    feed(TargetSet(plan_id="p", indicator_code="BUD-1", fiscal_year_be=2570, unit_group="level:lao", value=60.0,
                   provenance="t"))
    feed(TargetSet(plan_id="p", indicator_code="BUD-1", fiscal_year_be=2570, unit_group="lao_type:pao", value=None,
                   provenance="no target for PAOs"))
    feed(TargetSet(plan_id="p", indicator_code="BUD-1", fiscal_year_be=2570, unit_code="LAO-D", value=80.0,
                   provenance="t"))
    feed(TargetSet(plan_id="p", indicator_code="WASTE", fiscal_year_be=2570, value=10.0, provenance="t"))
    feed(TargetSet(plan_id="p", indicator_code="EVENTS", fiscal_year_be=2570, value=12.0, provenance="t"))
    months = ["2569-10", "2569-11", "2569-12"]
    series = {"LAO-A": [40.0, 50.0, 65.0], "LAO-B": [30.0, 35.0, 40.0], "PAO-01": [10.0, 20.0, 30.0],
              "LAO-C": [70.0, 75.0, 20.0]}
    for unit, points in series.items():
        for period, value in zip(months, points):
            oid = f"{unit}-{period}"
            feed(opened(oid, unit, period=period))
            feed(submitted(oid, unit, BEFORE, True, period=period,
                           values={"BUD-1": value, "WASTE": 5.0, "EVENTS": 1.0}))
    # a resubmission replaces its period's value; an older resubmission arriving late changes nothing
    feed(submitted("LAO-C-2569-12", "LAO-C", BEFORE + timedelta(hours=2), True, period="2569-12",
                   values={"BUD-1": 90.0, "WASTE": 15.0, "EVENTS": 2.0}))
    feed(submitted("LAO-C-2569-12", "LAO-C", BEFORE + timedelta(hours=1), True, period="2569-12",
                   values={"BUD-1": 10.0, "WASTE": 1.0, "EVENTS": 9.0}))


def test_achievement_statuses_targets_and_trend(database):
    """The dashboard applies shared.indicators' one rule (tests/unit/test_kernel.py holds its fast
    classifier to achievement and at_risk): statuses, at risk while the year runs, target precedence."""
    feed = Feed(database)
    _achievement_world(feed)
    now = datetime(2027, 1, 10, tzinfo=UTC)  # FY 2570 runs: 4th month
    with database.session() as session:
        nation = views.achievement_report(session, "BUD-1", 2570, now=now)
        district = views.achievement_report(session, "BUD-1", 2570, "DLO-0101", now=now)
        province = views.achievement_report(session, "BUD-1", 2570, "PLO-01", now=now)
        waste = views.achievement_report(session, "WASTE", 2570, "DLO-0102", now=now)
        events = views.achievement_report(session, "EVENTS", 2570, "LAO-C", now=now)
        closed = views.achievement_report(session, "BUD-1", 2570, now=datetime(2027, 11, 1, tzinfo=UTC))
    # LAO-A 65 >= 60 achieved; LAO-B 40 < 60 not achieved and at risk; PAO no target; LAO-C 90 achieved;
    # LAO-D has a target of its own and no value: no data
    assert nation["summary"] == {"achieved": 2, "not_achieved": 1, "no_target": 1, "at_risk": 1, "no_data": 1}
    assert {row["code"]: row["status"] for row in district["rows"]} == {"LAO-A": "achieved", "LAO-B": "not_achieved"}
    assert {row["code"]: row["actual"] for row in district["rows"]} == {"LAO-A": 65.0, "LAO-B": 40.0}
    assert district["trend"] == [{"period": "2569-10", "actual": 35.0, "target": 60.0, "units": 2},
                                 {"period": "2569-11", "actual": 42.5, "target": 60.0, "units": 2},
                                 {"period": "2569-12", "actual": 52.5, "target": 60.0, "units": 2}]
    rows = {row["code"]: row for row in province["rows"]}
    assert rows["DLO-0101"]["actual"] == 52.5 and rows["DLO-0101"]["status"] == "not_achieved"
    assert rows["PAO-01"]["status"] == "no_target"
    assert rows["DLO-0102"]["actual"] == 90.0
    assert waste["indicator"]["direction"] == "decrease" and waste["rows"][0]["status"] == "not_achieved"  # 15 > 10
    assert events["rows"][0]["actual"] == 4.0  # a count adds up: 1 + 1 + 2 (the resubmission replaced 1)
    assert closed["summary"]["at_risk"] == 0  # the year is over: final statuses, nothing at risk
    with database.session() as session, pytest.raises(InputError) as error:
        views.achievement_report(session, "BUD-1", 2025)
    assert error.value.field == "fiscal_year_be"


# --- notifications and overdue ------------------------------------------------------------------

def test_notification_effectiveness_and_overdue(database):
    feed = Feed(database)
    feed.registry()
    for event in scenario():
        feed(event)
    feed(NotificationSent(delivery_id="n1", kind="reminder", channel="email", recipient_code="LAO-A",
                          address="a@x", subject_ref="o-on-time", step="-P1D", sent_at=BEFORE - timedelta(hours=2)))
    feed(NotificationSent(delivery_id="n2", kind="reminder", channel="line", recipient_code="LAO-C",
                          address="U1", subject_ref="o-missing", step="-P1D", sent_at=BEFORE - timedelta(hours=2)))
    feed(NotificationFailed(delivery_id="n3", kind="reminder", channel="sms", recipient_code="LAO-C",
                            subject_ref="o-missing", step="-P1D", failed_at=BEFORE, reason="gateway 500", final=True))
    with database.session() as session:
        effect = views.notification_effectiveness(session)
        scoped = views.notification_effectiveness(session, "DLO-0101", "2569-11")
        late = views.overdue(session, now=AFTER + timedelta(days=1))
        page = views.overdue(session, limit=1, offset=1, sort="unit_code", now=AFTER + timedelta(days=1))
    assert effect["rows"] == [
        {"kind": "reminder", "step": "-P1D", "channel": "email", "sent": 1, "failed": 0, "late": 0,
         "submitted_after": 1, "submission_rate": 1.0, "median_s_to_submission": 7200.0},
        {"kind": "reminder", "step": "-P1D", "channel": "line", "sent": 1, "failed": 0, "late": 0,
         "submitted_after": 0, "submission_rate": 0.0, "median_s_to_submission": None},
        {"kind": "reminder", "step": "-P1D", "channel": "sms", "sent": 0, "failed": 1, "late": 0,
         "submitted_after": 0, "submission_rate": None, "median_s_to_submission": None}]
    assert [row["channel"] for row in scoped["rows"]] == ["email"]
    assert [item["obligation_id"] for item in late["items"]] == ["o-missing", "o-pending"]
    assert late["total"] == 2 and late["items"][0]["reminders_sent"] == 1
    assert late["items"][0]["days_late"] == 3 and late["items"][0]["province_code"] == "PLO-01"
    assert page["total"] == 2 and [item["unit_code"] for item in page["items"]] == ["LAO-D"]
    with database.session() as session, pytest.raises(InputError) as error:
        views.overdue(session, sort="secret")
    assert error.value.field == "sort"


# --- rebuild -------------------------------------------------------------------------------------

def _snapshot(database):
    with database.session() as session:
        return {table.name: sorted(map(tuple, session.execute(select(table)).all()), key=repr)
                for table in READ_MODELS}


def test_rebuild_gives_the_same_read_models_as_the_live_projection(database):
    feed = Feed(database)
    _achievement_world(feed)
    for event in scenario():
        feed(event)
    live = _snapshot(database)
    progress = []
    result = rebuild(database, batch_size=7, progress=lambda done, total: progress.append((done, total)))
    assert _snapshot(database) == live
    assert result["events"] == len(feed.bodies) and progress[-1] == (len(feed.bodies), len(feed.bodies))
    assert all(b >= a for (a, _), (b, _) in itertools.pairwise(progress))
    assert result["tables"]["rm_obligations"] == len(live["rm_obligations"]) and result["seconds"] >= 0


@pytest.mark.parametrize("label, year", [("2569-11", 2570), ("2569-09", 2569), ("2569-10", 2570),
                                         ("FY2569-Q1", 2569), ("FY2569", 2569), ("p", None)])
def test_the_fiscal_year_of_a_period_label(label, year):
    from shared.thai import fiscal_year_of_period
    assert fiscal_year_of_period(label) == year


# --- invariants over any stream of events (issue #15) ------------------------------------------------

_UNITS = [code for code, level, *_ in REGISTRY if level == "lao"]
_moment = st.integers(min_value=-72, max_value=72).map(lambda hours: DUE + timedelta(hours=hours))
_step = st.one_of(
    st.tuples(st.just("submit"), _moment, st.booleans()),
    st.tuples(st.just("miss"), _moment, st.just(None)),
    st.tuples(st.just("return"), _moment, st.just(None)),
    st.tuples(st.just("extend"), _moment, st.just(None)),
    st.tuples(st.just("cancel"), _moment, st.just(None)),
)
_obligation_story = st.tuples(st.sampled_from(_UNITS), st.sampled_from(["2569-10", "2569-11"]),
                              st.lists(_step, max_size=5))


def _events_of(stories):
    events = []
    for index, (unit, period, steps) in enumerate(stories):
        oid = f"h{index}"
        events.append(opened(oid, unit, period=period))
        for kind, at, on_time in steps:
            if kind == "submit":
                events.append(submitted(oid, unit, at, on_time, period=period))
            elif kind == "miss":
                events.append(missed(oid, unit, period=period, detected=at))
            elif kind == "return":
                events.append(SubmissionReviewed(submission_id=f"s-{oid}", obligation_id=oid, unit_code=unit,
                                                 reviewer_unit_code="PLO-01", decision="returned", comment="แก้ไข",
                                                 reviewed_at=at, resubmit_due_at=at + timedelta(days=7)))
            elif kind == "extend":
                events.append(ExtensionGranted(request_id=f"x-{oid}-{at}", obligation_id=oid, unit_code=unit,
                                               new_due_at=at + timedelta(days=3), decided_by_unit_code="PLO-01",
                                               decided_at=at))
            else:
                events.append(ObligationCancelled(obligation_id=oid, unit_code=unit, reason="test"))
    return events


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stories=st.lists(_obligation_story, min_size=1, max_size=8), order=st.randoms(use_true_random=False))
def test_any_stream_returned_is_never_missing_and_every_rate_is_a_share(tmp_path_factory, stories, order):
    database = sqlite_database(tmp_path_factory.mktemp("stream"), metadata)
    feed = Feed(database)
    feed.registry()
    events = _events_of(stories)
    order.shuffle(events)  # any arrival order
    for event in events:
        feed(event)
    with database.session() as session:
        rows = session.execute(select(obligations)).mappings().all()
    for row in rows:
        facts = {key: row[key] for key in ("last_submitted_at", "last_on_time", "missed_at", "missed_due_at",
                                           "extended_due_at", "returned_at")}
        # the database's generated status is the Python definition, whatever the order
        assert row["status"] == reporting_domain.obligation_status(cancelled=bool(row["cancelled"]), **facts)
        returned_last = row["returned_at"] is not None and (
            row["last_submitted_at"] is None or row["returned_at"] >= row["last_submitted_at"])
        if returned_last and not row["cancelled"]:
            assert row["status"] == "returned"   # returned != missed
        if row["status"] == "missing":
            assert row["last_submitted_at"] is None or row["last_submitted_at"] < row["missed_at"]
    for unit in (None, "PLO-01", "DLO-0101", "LAO-A"):
        report = compliance(database, unit_code=unit)
        for counted in [report["totals"], *report["children"]]:
            assert counted["on_time"] + counted["late"] + counted["missing"] + counted["pending"] \
                + counted["returned"] == counted["expected"]
            for name in ("on_time_rate", "reported_rate"):
                assert counted[name] is None or 0 <= counted[name] <= 1
            assert counted["on_time_rate"] is None or counted["on_time_rate"] <= counted["reported_rate"]
    with database.session() as session:
        matrix = views.compliance_matrix(session, None, ["2569-10", "2569-11"])
    assert all(cell is None or 0 <= cell <= 1 for row in matrix["rows"] for cell in row["cells"].values())
