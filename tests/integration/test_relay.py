"""The outbox relay against a real broker and both real stores."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import insert, select

from shared.contracts import decode, encode
from shared.contracts.events import DeadlineMissed
from shared.db import Database, outbox_row
from shared.messaging.outbox import OutboxRelay
from shared.messaging.publisher import ConfirmingPublisher, declare_platform_topology
from shared.messaging.tables import messaging_metadata, outbox
from shared.config import REPO_ROOT
from tests.support.amqp import Broker

NOW = datetime(2026, 2, 3, 9, 0, tzinfo=timezone.utc)


def miss(i: int) -> DeadlineMissed:
    return DeadlineMissed(obligation_id=f"o-{i}", unit_code="LAO-1", indicator_code="I", period="p",
                          due_at=NOW, detected_at=NOW)


@pytest.fixture
def database(database_url):
    database = Database(database_url)
    messaging_metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def broker(amqp_uri):
    declare_platform_topology(amqp_uri)
    broker = Broker(amqp_uri)
    yield broker
    broker.close()


def pending(database) -> int:
    with database.session() as session:
        return len(session.execute(select(outbox.c.id).where(outbox.c.published_at.is_(None))).all())


def test_committed_events_reach_every_bound_queue_once_confirmed(database, broker, amqp_uri):
    with database.unit_of_work(correlation_id="corr-1") as uow:
        for i in range(120):
            uow.add_event(miss(i))
        uow.commit()
    relay = OutboxRelay(database, ConfirmingPublisher(amqp_uri), batch_size=50)
    assert [relay.relay_once().published for _ in range(4)] == [50, 50, 20, 0]
    assert pending(database) == 0
    # deadline_missed is consumed by notifications and reporting
    for queue in ("notifications.events", "reporting.events"):
        messages = broker.get_all(queue)
        assert len(messages) == 120
        envelope, event = decode(messages[0].body)
        assert messages[0].properties["message_id"] == envelope.message_id
        assert envelope.correlation_id == "corr-1" and event.obligation_id == "o-0"
    assert broker.depth("assessments.events") == 0


def test_an_unroutable_event_stays_pending_and_is_retried(database, broker, amqp_uri):
    envelope = encode(miss(1), correlation_id="c")
    with database.session() as session:
        session.execute(insert(outbox).values(**outbox_row(envelope, routing_key="nobody.listens.v1")))
        session.commit()
    report = OutboxRelay(database, ConfirmingPublisher(amqp_uri)).relay_once()
    assert (report.published, report.returned) == (0, 1)
    with database.session() as session:
        row = session.execute(select(outbox)).mappings().one()
    assert row["published_at"] is None and row["attempts"] == 1
    assert "unroutable" in row["last_error"] and row["next_attempt_at"] is not None


def test_after_a_crash_between_commit_and_publish_the_event_is_published(database_url, broker, amqp_uri):
    """A process commits a state change with its event, then dies before any relay ran."""
    script = textwrap.dedent(f"""
        import os
        from datetime import datetime, timezone
        from shared.db import Database
        from shared.messaging.tables import messaging_metadata
        from shared.contracts.events import DeadlineMissed
        db = Database({database_url!r})
        messaging_metadata.create_all(db.engine)
        now = datetime.now(timezone.utc)
        with db.unit_of_work(correlation_id="crash") as uow:
            uow.add_event(DeadlineMissed(obligation_id="o-crash", unit_code="L", indicator_code="I",
                                         period="p", due_at=now, detected_at=now))
            uow.commit()
        os._exit(137)  # killed: no relay, no clean shutdown
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 137, result.stderr
    database = Database(database_url)
    assert pending(database) == 1
    assert OutboxRelay(database, ConfirmingPublisher(amqp_uri)).relay_once().published == 1
    [message] = broker.get_all("reporting.events")
    assert decode(message.body)[1].obligation_id == "o-crash"
    database.dispose()


def test_transactions_committing_out_of_id_order_are_never_skipped(postgres_url, broker, amqp_uri):
    """T1 takes id 1 and commits late; T2 takes id 2 and commits first; the relay polls between."""
    database = Database(postgres_url)
    messaging_metadata.create_all(database.engine)
    relay = OutboxRelay(database, ConfirmingPublisher(amqp_uri))
    first_inserted, release_first = threading.Event(), threading.Event()

    def slow_transaction():
        with database.unit_of_work() as uow:
            uow.add_event(miss(1))
            uow.session.execute(insert(outbox), [outbox_row(e) for e in uow.events])
            uow.events.clear()
            uow.session.flush()
            first_inserted.set()
            release_first.wait(10)
            uow.commit()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    assert first_inserted.wait(10)
    with database.unit_of_work() as uow:
        uow.add_event(miss(2))
        uow.commit()
    with database.session() as session:
        ids = session.execute(select(outbox.c.id)).scalars().all()
    assert ids == [2], "the first transaction is still open"
    assert relay.relay_once().published == 1
    release_first.set()
    thread.join()
    assert relay.relay_once().published == 1
    obligations = sorted(decode(m.body)[1].obligation_id for m in broker.get_all("reporting.events"))
    assert obligations == ["o-1", "o-2"]
    database.dispose()
