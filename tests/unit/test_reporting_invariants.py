"""Invariants of the dashboards that must hold for every input (hypothesis), issue #15:

- for any stream of obligation events in any order and any "now": every rate is in [0, 1]; an
  obligation not yet due (effective due after now, extensions included) and not submitted never
  counts against its unit; returned is never missing; each fact has one number in every view (compliance per period, the
  matrix's cells and totals, the per-obligation rows of an LAO);
- any period label the API accepts (generated from the grammar) parses in every report;
- the cascade: plans' view and reporting's view of the same directive give the same figures.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.reporting import domain, views
from services.reporting.models import metadata
from shared.calendar import (fiscal_year_of_period, is_period, parse_period, period_bounds, period_kind,
                             period_sort_key)
from shared.contracts.events import (DeadlineMissed, ExtensionGranted, IndicatorSubmitted, ObligationCancelled,
                                     ObligationOpened, SubmissionReviewed, SubmittedValue)
from shared.errors import InputError
from shared.thai import THAI_MONTHS_ABBR, THAI_MONTHS_FULL, to_thai_digits
from tests.fakes import sqlite_database
from tests.unit.test_reporting import REGISTRY, Feed

UTC = timezone.utc
T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
LAOS = [code for code, level, *_ in REGISTRY if level == "lao"]
PERIODS = ["2569-10", "2569-11", "FY2569-Q1", "FY2570"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


# --- the period grammar ------------------------------------------------------------------------------

be_years = st.integers(2400, 2699)
months = st.integers(1, 12)


@st.composite
def typed_periods(draw):
    """(what a person may type, the canonical label it means), drawn from every form of the grammar."""
    year, month, quarter = draw(be_years), draw(months), draw(st.integers(1, 4))
    form = draw(st.sampled_from(["month", "month-thai-name", "month-short-year", "quarter", "year", "year-thai"]))
    if form == "month":
        sep = draw(st.sampled_from(["-", "/", "."]))
        text, label = f"{year}{sep}{month if draw(st.booleans()) else f'{month:02d}'}", f"{year}-{month:02d}"
    elif form == "month-thai-name":
        name = draw(st.sampled_from([THAI_MONTHS_ABBR[month - 1], THAI_MONTHS_FULL[month - 1],
                                     THAI_MONTHS_ABBR[month - 1].replace(".", "")]))
        era = draw(st.sampled_from(["", "พ.ศ. "]))
        text, label = f"{name} {era}{year}", f"{year}-{month:02d}"
    elif form == "month-short-year":
        year = draw(st.integers(2500, 2599))
        text, label = f"{THAI_MONTHS_ABBR[month - 1]} {year % 100:02d}", f"{year}-{month:02d}"
    elif form == "quarter":
        text, label = draw(st.sampled_from([f"FY{year}-Q{quarter}", f"fy{year}q{quarter}", f"FY {year} Q{quarter}"])), \
            f"FY{year}-Q{quarter}"
    elif form == "year":
        text, label = draw(st.sampled_from([f"FY{year}", f"fy{year}"])), f"FY{year}"
    else:
        text, label = f"ปีงบประมาณ {year}", f"FY{year}"
    if draw(st.booleans()):
        text = to_thai_digits(text)
    return text, label


@given(typed_periods())
@settings(max_examples=300)
def test_every_typed_period_reads_to_one_canonical_label_every_reader_understands(pair):
    text, label = pair
    assert parse_period(text) == label
    assert parse_period(label) == label  # canonical labels are fixed points
    kind = period_kind(label)
    assert kind is not None and is_period(label)
    first, last = period_bounds(label)
    assert first <= last
    assert fiscal_year_of_period(label) is not None
    assert period_sort_key(label)[0] < 3


@given(st.text(max_size=24))
@settings(max_examples=300)
def test_any_text_is_a_canonical_period_or_a_422_naming_the_field(text):
    try:
        label = parse_period(text, "reporting.period")
    except InputError as error:
        assert error.status == 422 and error.field == "reporting.period" and error.message_th and error.message_en
    else:
        assert is_period(label)


def test_the_labels_of_the_issue():
    assert parse_period("ธ.ค. 69") == "2569-12"  # as Thai officers write it: ธันวาคม 2569
    for bad in ("T1796651760", "2026-12", "ธ.ค. 2026", "2569-13", "FY2569-Q5"):
        with pytest.raises(InputError):
            parse_period(bad)


@given(st.lists(typed_periods(), min_size=1, max_size=4))
@SETTINGS
def test_any_accepted_period_label_parses_in_every_report(tmp_path_factory, pairs):
    """Labels the API accepts, stored beside one it never should have (written before the check):
    every report answers, the bad one is flagged and on no axis."""
    database = sqlite_database(tmp_path_factory.mktemp("periods"), metadata)
    feed = Feed(database)
    feed.registry()
    labels = [label for _, label in pairs]
    for index, label in enumerate([*labels, "T1796651760"]):
        feed(ObligationOpened(obligation_id=f"o{index}", unit_code=LAOS[index % len(LAOS)], rule_id="r",
                              indicator_code="X", indicator_name_th="x", period=label, due_at=T0))
    now = T0 + timedelta(days=1)
    with database.session() as session:
        national = views.compliance(session, now=now)
        assert national["invalid_periods"] == ["T1796651760"]
        assert sorted(national["periods"]) == sorted(set(labels))
        for label in set(labels):
            assert views.compliance(session, period=label, now=now)["totals"]["expected"] >= 1
            matrix = views.compliance_matrix(session, None, [label], now=now)
            assert matrix["periods"] == [label] and matrix["kind"] == period_kind(label)
        for kind in ("month", "quarter", "year"):
            matrix = views.compliance_matrix(session, None, kind=kind, now=now)
            assert all(period_kind(p) == kind for p in matrix["periods"])
            assert matrix["periods"] == sorted(matrix["periods"], key=period_sort_key)
        views.notification_effectiveness(session)
        views.overdue(session, now=now)
    database.dispose()


# --- any stream of obligation events, in any order ----------------------------------------------------

@st.composite
def obligation_streams(draw):
    """Events about a handful of obligations, each with its facts in a random order, and a "now"."""
    events = []
    for index in range(draw(st.integers(1, 8))):
        oid, unit = f"o{index}", draw(st.sampled_from(LAOS))
        period = draw(st.sampled_from(PERIODS))
        due = T0 + timedelta(hours=draw(st.integers(0, 24 * 60)))
        events.append(ObligationOpened(obligation_id=oid, unit_code=unit, rule_id="r", indicator_code="X",
                                       indicator_name_th="x", period=period, due_at=due))
        for step in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["submit", "miss", "extend", "return", "cancel"]))
            at = due + timedelta(hours=draw(st.integers(-72, 240)))
            if kind == "submit":
                events.append(IndicatorSubmitted(
                    submission_id=f"s-{oid}-{step}", obligation_id=oid, unit_code=unit, period=period,
                    values=[SubmittedValue(indicator_code="X", value=1.0)], submitted_at=at, due_at=due,
                    on_time=at <= due))
            elif kind == "miss":
                events.append(DeadlineMissed(obligation_id=oid, unit_code=unit, indicator_code="X", period=period,
                                             due_at=due, detected_at=at))
            elif kind == "extend":
                events.append(ExtensionGranted(request_id=f"x-{oid}-{step}", obligation_id=oid, unit_code=unit,
                                               new_due_at=at + timedelta(days=3), decided_by_unit_code="DLO-0101",
                                               decided_at=at))
            elif kind == "return":
                events.append(SubmissionReviewed(submission_id=f"s-{oid}-{step}", obligation_id=oid, unit_code=unit,
                                                 reviewer_unit_code="DLO-0101", decision="returned", reviewed_at=at,
                                                 resubmit_due_at=at + timedelta(days=7)))
            elif draw(st.integers(0, 4)) == 0:
                events.append(ObligationCancelled(obligation_id=oid, unit_code=unit, reason="rule changed"))
    order = draw(st.permutations(range(len(events))))
    now = T0 + timedelta(hours=draw(st.integers(-24, 24 * 70)))
    return [events[i] for i in order], now


def _rates(counts: dict) -> list:
    return [counts["on_time_rate"], counts["reported_rate"]]


@given(obligation_streams())
@SETTINGS
def test_rates_stay_in_0_1_not_yet_due_never_counts_and_every_view_agrees(tmp_path_factory, stream):
    events, now = stream
    database = sqlite_database(tmp_path_factory.mktemp("stream"), metadata)
    feed = Feed(database)
    feed.registry()
    for event in events:
        feed(event)
    with database.session() as session:
        # every rate in [0, 1], at every node and in every cell
        for unit in (None, "PLO-01", "DLO-0101", "LAO-A"):
            report = views.compliance(session, unit_code=unit, now=now)
            for row in [report["totals"], *report["children"], *report.get("by_lao_type", [])]:
                assert all(rate is None or 0 <= rate <= 1 for rate in _rates(row))
                assert row["due"] == row["on_time"] + row["late"] + row["missing"] + row["returned"]
                assert row["expected"] == row["due"] + row["pending"]
        # not yet due and not submitted: pending, never missing, whatever events arrived
        for lao in LAOS:
            for row in views.compliance(session, unit_code=lao, now=now)["children"]:
                due = domain.effective_due(_parse(row["due_at"]), _parse(row["extended_due_at"]))
                # (a return proves a submission, even when its event has not arrived yet)
                if row["submitted_at"] is None and row["status"] != "returned" and due is not None and due > now:
                    assert row["status"] == "pending" and row["due"] == 0
                if row["status"] == "missing":
                    assert due is not None and due <= now
                    assert _stored_status(session, row["obligation_id"]) != "returned"  # returned is never missing
        # one number per fact: compliance for a period == the matrix's totals == the sum of its LAO rows
        for kind in ("month", "quarter", "year"):
            matrix = views.compliance_matrix(session, None, kind=kind, now=now)
            for period in matrix["periods"]:
                per_period = views.compliance(session, period=period, now=now)["totals"]
                assert {k: per_period[k] for k in matrix["totals"][period]} == matrix["totals"][period]
                on_time = sum(row["on_time"] for lao in LAOS
                              for row in views.compliance(session, unit_code=lao, period=period, now=now)["children"])
                assert on_time == per_period["on_time"]
                for row in matrix["rows"]:
                    cell = row["cells"][period]
                    assert cell is None or 0 <= cell <= 1
                    child = views.compliance(session, unit_code=row["code"], period=period, now=now)["totals"]
                    assert cell == child["on_time_rate"]
    database.dispose()


def _stored_status(session, obligation_id):
    from sqlalchemy import select
    from services.reporting.models import obligations
    return session.execute(select(obligations.c.status).where(
        obligations.c.obligation_id == obligation_id)).scalar_one()


def _parse(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


# --- the cascade: plans and reporting, one number per figure --------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_plans_and_reporting_cascades_agree_for_any_actions_in_any_order(national_plans, tmp_path, seed):
    from services.plans import assignment_actions
    from services.plans import views as plans_views
    from shared.contracts.commands.plans import AcknowledgeAssignment, ChangeAssignmentState, ForwardAssignment
    from services.plans.models import assignments
    from shared.contracts import decode
    from shared.db import Database
    from shared.messaging.tables import outbox
    from sqlalchemy import select
    from tests.support.worlds import run
    from tests.unit.test_plans_directives import issue

    rng = random.Random(seed)
    (tmp_path / "plans.db").write_bytes(national_plans.read_bytes())
    plans_db = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    issued = issue(plans_db, addressees={"codes": ["PLO-09", "PLO-18", "DLO-0115"]})
    directive_id = issued["directive_id"]
    for _ in range(12):  # random units act: mark received, acknowledge, forward down
        with plans_db.session() as session:
            rows = session.execute(select(assignments).where(assignments.c.directive_id == directive_id)).mappings().all()
        row = rng.choice(rows)
        action = rng.choice(["receive", "acknowledge", "forward"])
        try:
            if action == "receive":
                run(plans_db, assignment_actions.change_assignment_state, ChangeAssignmentState(
                    assignment_id=row["id"], unit_code=row["unit_code"], to_state="received"))
            elif action == "acknowledge":
                run(plans_db, assignment_actions.acknowledge_assignment, AcknowledgeAssignment(
                    assignment_id=row["id"], unit_code=row["unit_code"]))
            elif row["unit_level"] != "lao":
                level = "district_office" if row["unit_level"] == "provincial_office" else "lao"
                run(plans_db, assignment_actions.forward_assignment, ForwardAssignment(
                    assignment_id=row["id"], unit_code=row["unit_code"],
                    addressees={"level": level, "within": row["unit_code"]}))
        except InputError:
            pass  # not allowed from this state: nothing changed
    with plans_db.session() as session:
        view = plans_views.cascade(session, directive_id)
        bodies = [row.body for row in session.execute(select(outbox)).all()]
    plans_db.dispose()
    # reporting sees the same events, in any order
    reporting_db = sqlite_database(tmp_path, metadata)
    feed = Feed(reporting_db)
    decoded = [decode(body) for body in bodies]
    involved = {unit["unit_code"] for unit in view["units"]} | {"DLA"}
    registry = [item for item in decoded if item[0].type.startswith("plans.org_unit_changed")
                and item[1].code in involved]
    others = [item for item in decoded if not item[0].type.startswith("plans.org_unit_changed")]
    rng.shuffle(others)
    for envelope, event in registry + others:
        feed(event, at=envelope.occurred_at)
    with reporting_db.session() as session:
        report = views.cascade(session, directive_id)
    reporting_db.dispose()
    figures = ("units", "received", "acknowledged", "forwarded", "not_applicable", "acknowledgement_rate",
               "median_hop_s", "max_hop_s", "median_acknowledge_s", "max_acknowledge_s")
    assert [{k: level[k] for k in ("level", *figures)} for level in view["levels"]] == \
        [{k: level[k] for k in ("level", *figures)} for level in report["levels"]]
    columns = ("unit_code", "name_th", "level", "state", "forwarded_by", "forwarded_by_name_th", "assigned_at",
               "received_at", "acknowledged_at", "forwarded_at", "hop_s", "acknowledge_s")
    by_code = {unit["unit_code"]: unit for unit in report["units"]}
    for unit in view["units"]:
        mine = {k: unit[k] for k in columns}
        theirs = {k: by_code[unit["unit_code"]][k] for k in columns}
        assert mine == {k: (_iso(v) if k.endswith("_at") else v) for k, v in theirs.items()}, unit["unit_code"]
    direct = [unit for unit in view["units"] if unit["unit_code"] in ("PLO-09", "PLO-18", "DLO-0115")]
    assert direct and all(unit["forwarded_by"] is None for unit in direct)


def _iso(value):
    return datetime.fromisoformat(value).isoformat() if isinstance(value, str) else value


@pytest.fixture(scope="module")
def national_plans(tmp_path_factory):
    """The plans database with the national registry, its registry events kept in the outbox."""
    from services.plans import unit_changes
    from shared.contracts.commands.plans import RegisterUnits
    from services.plans.models import metadata as plans_metadata
    from services.plans.registry import national_registry
    from tests.support.worlds import run, unit_payload

    path = tmp_path_factory.mktemp("national-plans")
    database = sqlite_database(path, plans_metadata)
    run(database, unit_changes.register_units, RegisterUnits(units=[unit_payload(s) for s in national_registry()]))
    database.dispose()
    return path / "test.db"
