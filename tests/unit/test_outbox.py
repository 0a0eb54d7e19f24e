"""The outbox relay against a fake broker: publish once, keep what was not confirmed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from shared.contracts.events import DeadlineMissed
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import PublishError
from shared.messaging.tables import outbox
from tests.fakes import FakePublisher, sqlite_database

NOW = datetime(2026, 2, 3, 9, 0, tzinfo=timezone.utc)


def add_misses(database, n, start=0):
    with database.unit_of_work(correlation_id="c") as uow:
        for i in range(start, start + n):
            uow.add_event(DeadlineMissed(obligation_id=f"o-{i}", unit_code="L", indicator_code="I",
                                         period="p", due_at=NOW, detected_at=NOW))
        uow.commit()


def pending(database):
    with database.session() as session:
        return session.execute(select(outbox.c.message_id).where(outbox.c.published_at.is_(None))).all()


@pytest.fixture
def database(tmp_path):
    return sqlite_database(tmp_path)


def test_events_are_only_written_when_the_unit_of_work_commits(database):
    with database.unit_of_work() as uow:
        uow.add_event(DeadlineMissed(obligation_id="o", unit_code="L", indicator_code="I", period="p",
                                     due_at=NOW, detected_at=NOW))
        # no commit: leaving the block rolls back
    assert pending(database) == []


def test_relay_publishes_in_id_order_in_batches_and_marks_sent(database):
    add_misses(database, 7)
    publisher = FakePublisher()
    relay = OutboxRelay(database, publisher, batch_size=3)
    reports = [relay.relay_once() for _ in range(4)]
    assert [r.published for r in reports] == [3, 3, 1, 0]
    bodies = [m.body.decode() for m in publisher.published]
    assert [f'"obligation_id":"o-{i}"' in b for i, b in enumerate(bodies)] == [True] * 7
    assert all(m.routing_key == "assessments.deadline_missed.v1" for m in publisher.published)
    assert pending(database) == []


def test_unroutable_records_stay_pending_and_wait_before_the_next_try(database):
    add_misses(database, 2)
    publisher = FakePublisher()
    publisher.unroutable.add("assessments.deadline_missed.v1")
    relay = OutboxRelay(database, publisher)
    report = relay.relay_once()
    assert report.returned == 2 and report.published == 0
    assert len(pending(database)) == 2
    assert relay.relay_once().handled == 0, "backoff: not retried at once"
    with database.session() as session:
        rows = session.execute(select(outbox)).mappings().all()
        assert all(r["attempts"] == 1 and "unroutable" in r["last_error"] for r in rows)
        session.execute(update(outbox).values(next_attempt_at=NOW - timedelta(days=1)))
        session.commit()
    publisher.unroutable.clear()  # a consumer bound its queue
    assert relay.relay_once().published == 2
    assert pending(database) == []


def test_broker_down_marks_nothing(database):
    add_misses(database, 3)
    publisher = FakePublisher()
    publisher.down = True
    with pytest.raises(PublishError):
        OutboxRelay(database, publisher).relay_once()
    assert len(pending(database)) == 3


def test_a_late_commit_with_a_lower_id_is_not_skipped(database):
    """The relay keeps no high-water mark: any pending row is found, whatever its id."""
    add_misses(database, 2)
    publisher = FakePublisher()
    relay = OutboxRelay(database, publisher)
    with database.session() as session:  # row 1 looks "not yet committed" to the relay
        session.execute(update(outbox).where(outbox.c.id == 1).values(next_attempt_at=NOW + timedelta(days=9999)))
        session.commit()
    assert relay.relay_once().published == 1
    with database.session() as session:
        session.execute(update(outbox).where(outbox.c.id == 1).values(next_attempt_at=None))
        session.commit()
    assert relay.relay_once().published == 1
    assert len(publisher.published) == 2


def test_pending_reports_count_and_age(database):
    add_misses(database, 2)
    count, age = OutboxRelay(database, FakePublisher()).pending()
    assert count == 2 and 0 <= age < 60
