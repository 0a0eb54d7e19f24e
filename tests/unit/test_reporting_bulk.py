"""project_many (rebuild, bulk loads) gives exactly the read models of project() one event at a time,
on seeded random streams in any order (in-file SQLite; tests/integration checks PostgreSQL)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from services.reporting import projection
from services.reporting.models import event_log, metadata
from shared.contracts import encode
from shared.contracts.events import (AssignmentCreated, DeadlineMissed, DirectiveIssued, ExtensionGranted,
                                     IndicatorSpec, IndicatorSubmitted, NotificationFailed, NotificationSent,
                                     ObligationCancelled, ObligationOpened, OrgUnitChanged, PlanPublished,
                                     SubmissionReviewed, SubmittedValue, TargetSet)
from shared.messaging.inbox import Ack, ReliableConsumer
from tests.fakes import sqlite_database
from tests.unit.test_reporting import REGISTRY, _snapshot

UTC = timezone.utc
T0 = datetime(2026, 10, 1, tzinfo=UTC)
CODES = ["BUD-1", "WASTE", "EVENTS"]
PERIODS = ["2569-09", "2569-10", "2569-11", "FY2570-Q1", "p"]  # two fiscal years, and a label of none


def random_stream(rng: random.Random, obligations: int = 40) -> list[tuple]:
    """(event, occurred_at) of a platform's life: registry, plans, targets, directives, obligations
    with submissions (ties included), misses, extensions, reviews, cancellations, notifications."""
    at = lambda: T0 + timedelta(minutes=rng.randint(0, 60 * 24 * 60))  # noqa: E731
    events = [(OrgUnitChanged(code=code, level=level, lao_type=lao_type, parent_code=parent, name_th=f"ชื่อ {code}",
                              valid_from=date(2000, 1, 1)), at()) for code, level, lao_type, parent in REGISTRY]
    # the registry over time (issue #16), each change as plans sends it: the version it ends again
    # (valid_to = the effective day) and the version it opens, revisions rising, in any order; the
    # periods before, across and after each change are reported (2569-09 .. FY2570-Q1)
    def version(code, lao_type, parent, valid_from, valid_to, revision, kind, **links):
        return OrgUnitChanged(code=code, level="lao", lao_type=lao_type, parent_code=parent, name_th=f"ชื่อ {code}",
                              valid_from=valid_from, valid_to=valid_to, revision=revision, change_kind=kind,
                              effective_date=valid_to or valid_from, **links)
    old = date(2000, 1, 1)
    changes = [
        # LAO-B moves to another district on 1 November 2026
        version("LAO-B", "sao", "DLO-0101", old, date(2026, 11, 1), 1, "moved"),
        version("LAO-B", "sao", "DLO-0201", date(2026, 11, 1), None, 2, "moved"),
        # LAO-A, an SAO, is upgraded mid-October 2026
        version("LAO-A", "sao", "DLO-0101", old, date(2026, 10, 15), 1, "type_changed"),
        version("LAO-A", "subdistrict_municipality", "DLO-0101", date(2026, 10, 15), None, 2, "type_changed"),
        # LAO-D closes on 1 December 2026, merged into LAO-C
        version("LAO-D", "sao", "DLO-0201", old, date(2026, 12, 1), 1, "merged", successor_codes=["LAO-C"]),
    ]
    events += [(change, at()) for change in changes]
    events.append((rng.choice(changes), at()))  # a version sent twice
    specs = [IndicatorSpec(code=code, name_th=f"ตัวชี้วัด {code}", value_type="number") for code in CODES]
    events.append((PlanPublished(plan_id="p", title_th="แผน", plan_type="lao", period_be_start=2569,
                                 period_be_end=2570, indicators=specs), at()))
    for code in CODES:
        events.append((TargetSet(plan_id="p", indicator_code=code, fiscal_year_be=2570, unit_group="level:lao",
                                 value=rng.choice([None, 50.0]), provenance="t"), at()))
    events.append((DirectiveIssued(directive_id="d", document_number="มท ๑", title_th="ข้อสั่งการ", urgency="normal",
                                   issuer_code="DLA", addressee_count=2), at()))
    laos = [code for code, level, *_ in REGISTRY if level == "lao"] + ["GHOST"]  # a unit never registered
    for i in range(obligations):
        oid, unit, period = f"o{i}", rng.choice(laos), rng.choice(PERIODS)
        due = at()
        directive = "d" if rng.random() < 0.15 else None
        if directive:
            events.append((AssignmentCreated(assignment_id=f"a{i}", directive_id="d", document_number="มท ๑",
                                             title_th="t", unit_code=unit), at()))
        events.append((ObligationOpened(obligation_id=oid, unit_code=unit, rule_id=rng.choice(["r1", "r2"]),
                                        directive_id=directive, indicator_code=rng.choice(CODES),
                                        indicator_name_th=f"ชื่อ {i}", indicator_codes=CODES, period=period,
                                        due_at=due), at()))
        times = [due + timedelta(hours=rng.randint(-48, 48)) for _ in range(rng.randint(0, 3))]
        if len(times) > 1 and rng.random() < 0.3:
            times[1] = times[0]  # two submissions of the same instant: the later one projected wins
        for n, submitted_at in enumerate(times):
            chosen = rng.sample(CODES, rng.randint(1, 3))
            values = [SubmittedValue(indicator_code=code, value=round(rng.uniform(-5, 120), rng.choice([0, 2, 7])))
                      for code in chosen + chosen[:rng.randint(0, 1)]]  # a repeated code: the last counts
            events.append((IndicatorSubmitted(submission_id=f"{oid}:s{n}", obligation_id=oid, unit_code=unit,
                                              directive_id=directive, period=period, values=values,
                                              submitted_at=submitted_at, due_at=due, on_time=submitted_at <= due),
                           submitted_at))
            if rng.random() < 0.3:
                events.append((SubmissionReviewed(submission_id=f"{oid}:s{n}", obligation_id=oid, unit_code=unit,
                                                  reviewer_unit_code="DLA",
                                                  decision=rng.choice(["returned", "accepted"]),
                                                  reviewed_at=submitted_at + timedelta(hours=1)), at()))
        for m in range(rng.choice([0, 0, 1, 2])):
            events.append((DeadlineMissed(obligation_id=oid, unit_code=unit, indicator_code="BUD-1", period=period,
                                          due_at=due, detected_at=due + timedelta(hours=m * 24 + 1),
                                          directive_id=directive), at()))
        if rng.random() < 0.2:
            events.append((ExtensionGranted(request_id=f"x{i}", obligation_id=oid, unit_code=unit,
                                            new_due_at=due + timedelta(days=rng.randint(1, 9)),
                                            decided_by_unit_code="DLA", decided_at=due), at()))
        if rng.random() < 0.1:
            events.append((ObligationCancelled(obligation_id=oid, unit_code=unit, reason="r"), at()))
        for n in range(rng.choice([0, 0, 1, 2])):
            kind = rng.choice(["reminder", "escalation"])
            events.append((NotificationSent(delivery_id=f"{oid}:n{n}", kind=kind, channel="email",
                                            recipient_code=unit, address="a@x", subject_ref=oid, step="-P1D",
                                            sent_at=due - timedelta(hours=n), late=rng.random() < 0.2), at()))
            if rng.random() < 0.3:
                events.append((NotificationFailed(delivery_id=f"{oid}:n{n}", kind=kind, channel="email",
                                                  recipient_code=unit, subject_ref=oid, step="-P1D",
                                                  failed_at=due, reason="x", final=rng.random() < 0.5), at()))
    return events


@pytest.mark.parametrize("seed", range(8))
def test_project_many_gives_the_rows_of_project_one_at_a_time(tmp_path, seed):
    rng = random.Random(seed)
    stream = random_stream(rng)
    if seed % 4:  # any arrival order (seed 0 and 4: the order the platform emits them in)
        rng.shuffle(stream)
    items = [(encode(event, correlation_id="c", occurred_at=at), event) for event, at in stream]
    for name in ("one", "many"):
        (tmp_path / name).mkdir()
    one, many = (sqlite_database(tmp_path / name, metadata) for name in ("one", "many"))
    try:
        with one.unit_of_work() as uow:
            for envelope, event in items:
                projection.project(uow.session, envelope, event)
            uow.commit()
        with many.unit_of_work() as uow:
            start = 0
            while start < len(items):  # batches of any size, as rebuild and the benchmark cut them
                size = rng.choice([1, 3, 17, len(items)])
                projection.project_many(uow.session, items[start:start + size])
                start += size
            uow.commit()
        expected, got = _snapshot(one), _snapshot(many)
        assert got == expected
        assert expected["rm_values"] and expected["rm_achievement"] and expected["rm_deliveries"]
    finally:
        one.dispose()
        many.dispose()


def _event_log(database) -> list[str]:
    with database.session() as session:
        return sorted(session.execute(select(event_log.c.message_id)).scalars())


@pytest.mark.parametrize("seed", range(3))
def test_the_live_consumer_in_batches_gives_the_rows_of_one_message_at_a_time(tmp_path, seed, monkeypatch):
    """reporting's consumer hands a batch's runs to record_and_project_many: same read models and
    event log as messages one by one, duplicates (within a batch and across) included."""
    from services.reporting import bootstrap
    rng = random.Random(seed)
    stream = random_stream(rng)
    rng.shuffle(stream)
    bodies = [encode(event, correlation_id="c", occurred_at=at).to_json() for event, at in stream]
    types = sorted({type(event).TYPE for event, _ in stream})
    for name in ("one", "batches"):
        (tmp_path / name).mkdir()
    one, batches = (sqlite_database(tmp_path / name, metadata) for name in ("one", "batches"))
    try:
        single = ReliableConsumer("reporting.events", one, bootstrap.event_handlers(types), [10])
        for body in bodies:
            assert single.process(body).outcome == "processed"
        batched = ReliableConsumer("reporting.events", batches, bootstrap.event_handlers(types), [10])
        runs = []
        real_many = projection.project_many
        monkeypatch.setattr(projection, "project_many", lambda session, items: (runs.append(len(items)),
                                                                                real_many(session, items)))
        start = 0
        while start < len(bodies):
            size = rng.choice([1, 5, 40, 100])
            chunk = bodies[start:start + size]
            redelivered = rng.sample(bodies[:start + len(chunk)], min(3, start + len(chunk)))
            outcomes = batched.process_batch([(body, 0) for body in chunk + redelivered])
            assert all(isinstance(outcome, Ack) for outcome in outcomes)
            start += size
        assert max(runs) > 1 and sum(runs) == len(bodies)  # the batches went through the set-based path
        assert _snapshot(batches) == _snapshot(one)
        assert _event_log(batches) == _event_log(one) and len(_event_log(one)) == len(bodies)
    finally:
        one.dispose()
        batches.dispose()


def test_every_event_kind_is_projected_or_deliberately_only_logged():
    """PROJECTORS is the one table of the kinds reporting folds into read models: a new event kind
    lands here or in the list of kinds reporting only keeps in its log (rebuild can replay them)."""
    from shared.contracts import REGISTRY
    only_logged = {"assessments.acknowledgement_overdue.v1", "assessments.extension_denied.v1",
                   "assessments.extension_requested.v1",
                   # an LPA assessor team is people and their visits: assessments shows it to whom may
                   # see it (the province, the team); no dashboard or public page counts teams
                   "assessments.lpa_team_finalised.v1"}
    assert {kind.TYPE for kind in projection.PROJECTORS} == set(REGISTRY) - only_logged
