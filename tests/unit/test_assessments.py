"""assessments use cases: obligations from assignments, on-time judgement, the sweep fires once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from services.assessments import domain, submissions, sweeps
from services.assessments.bootstrap import bootstrap
from shared.contracts.commands.assessments import SubmitValues
from services.assessments.models import metadata, obligations
from shared.contracts import decode, encode
from shared.contracts.events import AssignmentCreated, ReportingRequirement
from shared.errors import InputError
from shared.messaging.inbox import ReliableConsumer
from shared.messaging.tables import outbox
from tests.fakes import sqlite_database

DUE = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def database(tmp_path):
    return sqlite_database(tmp_path, metadata)


def assignment(unit="LAO-1", due=DUE) -> AssignmentCreated:
    return AssignmentCreated(
        assignment_id=f"a-{unit}", directive_id="d-1", document_number="มท ๑/๒", title_th="t",
        unit_code=unit, reporting=ReportingRequirement(indicator_code="BUD-1", indicator_name_th="เบิกจ่าย",
                                                       period="2570-01", due_at=due))


def open_obligations(database, *units, due=DUE):
    consumer = ReliableConsumer("assessments.events", database, bootstrap(domain.DEFAULTS).event_handlers, [10])
    for unit in units:
        consumer.process(encode(assignment(unit, due), correlation_id="corr-d1").to_json())
    with database.session() as session:
        return {row["unit_code"]: row["id"] for row in session.execute(select(obligations)).mappings()}


def emitted(database, event_type):
    with database.session() as session:
        bodies = session.execute(select(outbox.c.body).where(outbox.c.event_type == event_type)).scalars()
        return [decode(body) for body in bodies]


def submit(database, obligation_id, unit="LAO-1", value=12.5, now=None):
    with database.unit_of_work() as uow:
        result = submissions.submit_values(SubmitValues(
            obligation_id=obligation_id, unit_code=unit,
            values=[{"indicator_code": "BUD-1", "value": value}]), uow, now=now)
        uow.commit()
    return result


def test_an_assignment_with_a_reporting_rule_opens_one_obligation_even_if_redelivered(database):
    consumer = ReliableConsumer("assessments.events", database, bootstrap(domain.DEFAULTS).event_handlers, [10])
    body = encode(assignment(), correlation_id="c").to_json()
    consumer.process(body)
    consumer.process(body)
    # even a second, different message for the same assignment opens nothing new
    consumer.process(encode(assignment(), correlation_id="c").to_json())
    assert len(open_obligations(database)) == 1
    assert len(emitted(database, "assessments.obligation_opened.v1")) == 1


def _opened_state(database) -> tuple:
    """Everything but the generated ids: obligations, tracked assignments, indicators, and the
    ObligationOpened events with the correlation and causation each carries."""
    from services.assessments.models import indicators, tracked_assignments
    with database.session() as session:
        rows = sorted(tuple(v for k, v in row.items() if k not in ("id", "created_at"))
                      for row in session.execute(select(obligations)).mappings())
        tracked = sorted(map(tuple, session.execute(select(tracked_assignments)).all()))
        codes = sorted(session.execute(select(indicators.c.code)).scalars())
    events = sorted((e.correlation_id, e.causation_id, event.unit_code, event.assignment_id)
                    for e, event in emitted(database, "assessments.obligation_opened.v1"))
    return rows, tracked, codes, events


def test_a_batch_of_assignments_opens_the_same_obligations_as_one_at_a_time(tmp_path):
    """assessments takes a batch's run of assignments set-based (on_assignments_created): same rows
    and events, each event caused by its own message; duplicates and a repeated announcement included."""
    acknowledged = lambda unit: assignment(unit).model_copy(update={"acknowledge_due_at": DUE})  # noqa: E731
    events = [acknowledged("LAO-1"), assignment("LAO-2"), acknowledged("LAO-3"), assignment("LAO-2"),
              AssignmentCreated(assignment_id="a-plain", directive_id="d-1", document_number="x", title_th="t",
                                unit_code="LAO-4")]
    bodies = [encode(event, correlation_id=f"corr-{n}").to_json() for n, event in enumerate(events)]
    states = []
    for name in ("one", "batch"):
        (tmp_path / name).mkdir()
        database = sqlite_database(tmp_path / name, metadata)
        consumer = ReliableConsumer("assessments.events", database, bootstrap(domain.DEFAULTS).event_handlers, [10])
        if name == "one":
            outcomes = [consumer.process(body) for body in [*bodies, bodies[0]]]
        else:
            outcomes = consumer.process_batch([(body, 0) for body in [*bodies, bodies[0]]])
        assert [o.outcome for o in outcomes] == ["processed"] * 5 + ["duplicate"]
        states.append(_opened_state(database))
    assert states[1] == states[0]
    rows, tracked, codes, opened = states[0]
    assert len(rows) == 3 and len(tracked) == 2 and codes == ["BUD-1"]
    assert {(correlation, unit) for correlation, _, unit, _ in opened} == {
        ("corr-0", "LAO-1"), ("corr-1", "LAO-2"), ("corr-2", "LAO-3")}


def test_on_time_up_to_and_including_the_due_instant_late_after(database):
    ids = open_obligations(database, "LAO-1", "LAO-2")
    assert submit(database, ids["LAO-1"], "LAO-1", now=DUE)["on_time"] is True
    assert submit(database, ids["LAO-2"], "LAO-2", now=DUE + timedelta(seconds=1))["on_time"] is False
    submitted = [event for _, event in emitted(database, "assessments.indicator_submitted.v1")]
    assert sorted(e.on_time for e in submitted) == [False, True]


def test_extension_moves_the_effective_deadline():
    assert domain.is_on_time(DUE + timedelta(days=1), DUE, DUE + timedelta(days=2))
    assert not domain.is_missed("open", DUE + timedelta(days=1), DUE, DUE + timedelta(days=2))


def test_another_unit_cannot_submit_and_nothing_is_stored(database):
    ids = open_obligations(database, "LAO-1")
    with pytest.raises(InputError) as error:
        submit(database, ids["LAO-1"], unit="LAO-2")
    assert error.value.status == 403 and error.value.field == "unit_code"
    assert emitted(database, "assessments.indicator_submitted.v1") == []


def test_unknown_obligation_is_a_404(database):
    with pytest.raises(InputError) as error:
        submit(database, "nope")
    assert error.value.status == 404 and error.value.field == "obligation_id"


def test_the_sweep_emits_each_miss_once_and_spares_submissions(database):
    ids = open_obligations(database, "LAO-1", "LAO-2", "LAO-3")
    submit(database, ids["LAO-1"], "LAO-1", now=DUE - timedelta(hours=1))
    after = DUE + timedelta(minutes=1)
    assert sweeps.sweep_deadlines(database, now=DUE) == 0, "not yet past due"
    assert sweeps.sweep_deadlines(database, now=after) == 2
    assert sweeps.sweep_deadlines(database, now=after + timedelta(hours=5)) == 0
    misses = emitted(database, "assessments.deadline_missed.v1")
    assert sorted(event.unit_code for _, event in misses) == ["LAO-2", "LAO-3"]
    assert all(envelope.correlation_id == "corr-d1" for envelope, _ in misses)


def test_a_sweep_after_downtime_catches_up_in_batches(database):
    open_obligations(database, *[f"LAO-{i}" for i in range(25)])
    assert sweeps.sweep_deadlines(database, now=DUE + timedelta(days=30), batch_size=10) == 25


def test_a_late_submission_after_a_miss_is_accepted_and_marked_late(database):
    ids = open_obligations(database, "LAO-1")
    sweeps.sweep_deadlines(database, now=DUE + timedelta(minutes=1))
    result = submit(database, ids["LAO-1"], now=DUE + timedelta(hours=2))
    assert result["on_time"] is False


@pytest.mark.parametrize("values, field", [
    ([{"indicator_code": "BUD-1", "value": "abc"}], "values[0].value"),
    ([{"indicator_code": "BUD-1", "value": float("nan")}], "values[0].value"),
    ([], "values"),
])
def test_bad_values_name_the_field(values, field):
    from shared.validation import parse
    with pytest.raises(InputError) as error:
        parse(SubmitValues, {"obligation_id": "o", "unit_code": "u", "values": values})
    assert error.value.field == field
