"""The idempotent consumer: one effect per message, bounded retries, typed dead letters."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from shared.contracts import encode
from shared.contracts.events import DeadlineMissed, NotificationSent
from shared.messaging.inbox import Ack, DeadLetter, FatalError, ReliableConsumer, Retry
from shared.messaging.tables import inbox, outbox
from tests.fakes import sqlite_database

effects_metadata = MetaData()
effects = Table("effects", effects_metadata, Column("id", Integer, primary_key=True),
                Column("obligation_id", String(36)))
NOW = datetime(2026, 2, 3, 9, 0, tzinfo=timezone.utc)


def miss(obligation_id="o-1") -> DeadlineMissed:
    return DeadlineMissed(obligation_id=obligation_id, unit_code="LAO-1", indicator_code="I",
                          period="2569-05", due_at=NOW, detected_at=NOW)


def record_effect(event, uow, envelope):
    uow.session.execute(insert(effects).values(obligation_id=event.obligation_id))
    uow.add_event(NotificationSent(delivery_id="x", kind="escalation", channel="email",
                                   recipient_code="DLO-1", address="a@b.test",
                                   subject_ref=event.obligation_id, step="s", sent_at=NOW))


@pytest.fixture
def database(tmp_path):
    return sqlite_database(tmp_path, effects_metadata)


def count(database, table) -> int:
    with database.session() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def consumer(database, handler=record_effect, delays=(10, 20)):
    return ReliableConsumer("test.events", database, {DeadlineMissed.TYPE: handler}, list(delays))


def test_a_duplicate_delivery_has_no_second_effect(database):
    body = encode(miss(), correlation_id="c").to_json()
    first = consumer(database).process(body)
    second = consumer(database).process(body)
    assert first == Ack(DeadlineMissed.TYPE)
    assert second.duplicate is True
    assert count(database, effects) == 1
    assert count(database, outbox) == 1  # the effect's own event, once
    assert count(database, inbox) == 1


def test_effect_inbox_and_new_events_commit_together_with_correlation(database):
    envelope = encode(miss(), correlation_id="corr-7")
    consumer(database).process(envelope.to_json())
    with database.session() as session:
        row = session.execute(select(outbox)).mappings().one()
    assert row["correlation_id"] == "corr-7"
    assert f'"causation_id":"{envelope.message_id}"' in row["body"]


def test_a_failing_handler_leaves_no_trace_and_is_retried_with_growing_delays(database):
    def boom(event, uow, envelope):
        uow.session.execute(insert(effects).values(obligation_id="half-done"))
        raise RuntimeError("database hiccup")
    body = encode(miss(), correlation_id="c").to_json()
    first = consumer(database, boom).process(body, attempt=0)
    second = consumer(database, boom).process(body, attempt=1)
    assert first == Retry(DeadlineMissed.TYPE, 10, 1, "RuntimeError: database hiccup")
    assert second.delay_ms == 20 and second.attempt == 2
    assert count(database, effects) == 0 and count(database, inbox) == 0


def test_exhausted_retries_dead_letter_with_the_reason(database):
    def boom(event, uow, envelope):
        raise RuntimeError("still failing")
    outcome = consumer(database, boom).process(encode(miss(), correlation_id="c").to_json(), attempt=2)
    assert isinstance(outcome, DeadLetter)
    assert "retries exhausted after 3 attempts" in outcome.reason and "still failing" in outcome.reason


def test_fatal_errors_dead_letter_at_once(database):
    def refuse(event, uow, envelope):
        raise FatalError("obligation belongs to a unit that never existed")
    outcome = consumer(database, refuse).process(encode(miss(), correlation_id="c").to_json())
    assert isinstance(outcome, DeadLetter) and "never existed" in outcome.reason


@pytest.mark.parametrize("body", [b"garbage", b'{"type": "x"}'])
def test_malformed_messages_dead_letter_without_touching_the_database(database, body):
    outcome = consumer(database).process(body)
    assert isinstance(outcome, DeadLetter) and outcome.event_type is None
    assert count(database, inbox) == 0


def test_a_type_without_handler_dead_letters(database):
    event = NotificationSent(delivery_id="x", kind="reminder", channel="email", recipient_code="L",
                             address="a@b.test", subject_ref="o", step="s", sent_at=NOW)
    outcome = consumer(database).process(encode(event, correlation_id="c").to_json())
    assert isinstance(outcome, DeadLetter) and "no handler" in outcome.reason


def test_database_unavailable_is_retryable(tmp_path):
    database = sqlite_database(tmp_path, effects_metadata)
    database.engine.dispose()
    (tmp_path / "test.db").unlink()
    (tmp_path / "test.db").mkdir()  # the file is now a directory: every connect fails
    outcome = consumer(database).process(encode(miss(), correlation_id="c").to_json())
    assert isinstance(outcome, Retry)


# --- batches: one transaction for many messages, same outcomes as one by one ----------------------

def test_a_batch_commits_every_effect_once_with_each_messages_own_correlation(database):
    envelopes = [encode(miss(f"o-{n}"), correlation_id=f"corr-{n}") for n in range(5)]
    outcomes = consumer(database).process_batch([(e.to_json(), 0) for e in envelopes])
    assert outcomes == [Ack(DeadlineMissed.TYPE)] * 5
    assert count(database, effects) == 5 and count(database, inbox) == 5
    with database.session() as session:
        rows = session.execute(select(outbox).order_by(outbox.c.id)).mappings().all()
    assert [row["correlation_id"] for row in rows] == [f"corr-{n}" for n in range(5)]
    for row, envelope in zip(rows, envelopes):
        assert f'"causation_id":"{envelope.message_id}"' in row["body"]


def test_duplicates_in_a_batch_and_across_batches_have_no_second_effect(database):
    first, second = (encode(miss(f"o-{n}"), correlation_id="c").to_json() for n in range(2))
    consumer(database).process(first)
    outcomes = consumer(database).process_batch([(first, 0), (second, 0), (second, 0)])
    assert [o.outcome for o in outcomes] == ["duplicate", "processed", "duplicate"]
    assert count(database, effects) == 2 and count(database, inbox) == 2 and count(database, outbox) == 2


def test_one_failing_message_costs_the_others_nothing_but_a_second_try(database):
    calls = []

    def fails_for_o2(event, uow, envelope):
        calls.append(event.obligation_id)
        if event.obligation_id == "o-2":
            raise RuntimeError("peer not consistent yet")
        record_effect(event, uow, envelope)
    bodies = [(encode(miss(f"o-{n}"), correlation_id="c").to_json(), 0) for n in range(4)]
    bodies.append((b"garbage", 0))
    outcomes = consumer(database, fails_for_o2).process_batch(bodies)
    assert [type(o).__name__ for o in outcomes] == ["Ack", "Ack", "Retry", "Ack", "DeadLetter"]
    assert outcomes[2].attempt == 1 and "peer not consistent" in outcomes[2].reason
    # the batch was rolled back and split: the effects of o-0 and o-1 exist once, o-2's not at all
    with database.session() as session:
        done = sorted(session.execute(select(effects.c.obligation_id)).scalars())
    assert done == ["o-0", "o-1", "o-3"]
    assert count(database, inbox) == 3 and count(database, outbox) == 3
    assert calls.count("o-0") == 2  # once in the failed batch, once alone


def test_a_batch_of_one_and_an_empty_batch(database):
    assert consumer(database).process_batch([]) == []
    body = encode(miss(), correlation_id="c").to_json()
    assert consumer(database).process_batch([(body, 0)]) == [Ack(DeadlineMissed.TYPE)]


def test_batch_settings_come_from_the_environment(monkeypatch):
    from shared.config import service_config
    from shared.messaging.nameko_ext import batch_concurrency, batch_size
    config = service_config("reporting")
    assert batch_size(config) == 100 and batch_concurrency(config, 4) == 2  # half the workers
    monkeypatch.setenv("THONGTHIN_CONSUMER_BATCH_SIZE", "7")
    monkeypatch.setenv("THONGTHIN_CONSUMER_CONCURRENCY", "3")
    config = service_config("reporting")
    assert batch_size(config) == 7 and batch_concurrency(config, 4) == 3


# --- set-based handlers: a run of consecutive messages in one call -------------------------------

def _effects_in_order(database) -> list[str]:
    with database.session() as session:
        return list(session.execute(select(effects.c.obligation_id).order_by(effects.c.id)).scalars())


def _set_based(calls: list, fail_for: str | None = None):
    from shared.messaging.inbox import handles_many

    def many(uow, items):
        calls.append([event.obligation_id for _, event in items])
        if fail_for in [event.obligation_id for _, event in items]:
            raise RuntimeError("cannot take this run")
        uow.session.execute(insert(effects), [{"obligation_id": event.obligation_id} for _, event in items])

    @handles_many(many)
    def one(event, uow, envelope):
        calls.append(event.obligation_id)
        if event.obligation_id == fail_for:
            raise RuntimeError("cannot take this one")
        uow.session.execute(insert(effects).values(obligation_id=event.obligation_id))
    return one


def test_a_run_of_messages_for_a_set_based_handler_goes_in_one_call_in_order(database):
    calls: list = []
    handlers = {DeadlineMissed.TYPE: _set_based(calls), NotificationSent.TYPE: record_effect_of_sent}
    sent = NotificationSent(delivery_id="x", kind="reminder", channel="email", recipient_code="L",
                            address="a@b.test", subject_ref="between", step="s", sent_at=NOW)
    bodies = [encode(miss("o-0"), correlation_id="c"), encode(miss("o-1"), correlation_id="c"),
              encode(sent, correlation_id="c"), encode(miss("o-2"), correlation_id="c")]
    duplicate = bodies[1]
    outcomes = ReliableConsumer("test.events", database, handlers, [10]).process_batch(
        [(e.to_json(), 0) for e in [*bodies, duplicate]])
    assert [o.outcome for o in outcomes] == ["processed"] * 4 + ["duplicate"]
    # the run is broken by the other handler's message, which lands in its place
    assert calls == [["o-0", "o-1"], ["o-2"]]
    assert _effects_in_order(database) == ["o-0", "o-1", "between", "o-2"]
    assert count(database, inbox) == 4


def record_effect_of_sent(event, uow, envelope):
    uow.session.execute(insert(effects).values(obligation_id=event.subject_ref))


def test_a_failing_run_is_split_into_single_messages_through_the_one_at_a_time_handler(database):
    calls: list = []
    bodies = [(encode(miss(f"o-{n}"), correlation_id="c").to_json(), 0) for n in range(3)]
    outcomes = consumer(database, _set_based(calls, fail_for="o-1")).process_batch(bodies)
    assert [type(o).__name__ for o in outcomes] == ["Ack", "Retry", "Ack"]
    assert calls == [["o-0", "o-1", "o-2"], "o-0", "o-1", "o-2"]
    assert _effects_in_order(database) == ["o-0", "o-2"] and count(database, inbox) == 2
