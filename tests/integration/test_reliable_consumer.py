"""The reliable event handler in a real nameko process: duplicates, retries, dead letters."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from devtools.stack import free_port
from shared.config import REPO_ROOT
from shared.contracts import encode
from shared.contracts.events import DeadlineMissed
from shared.db import Database
from shared.messaging.publisher import declare_platform_topology
from shared.messaging.tables import inbox, messaging_metadata
from tests.support.amqp import Broker
from tests.support.services import POISON_UNIT, effects, effects_metadata

NOW = datetime(2026, 2, 3, 9, 0, tzinfo=timezone.utc)
RETRY_DELAYS = "200,400"


def miss(unit: str, i: int = 0) -> DeadlineMissed:
    return DeadlineMissed(obligation_id=f"o-{unit}-{i}", unit_code=unit, indicator_code="I",
                          period="p", due_at=NOW, detected_at=NOW)


@pytest.fixture
def consumer_process(database_url, amqp_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("THONGTHIN_RETRY_DELAYS_MS", RETRY_DELAYS)  # same topology as the process
    database = Database(database_url)
    messaging_metadata.create_all(database.engine)
    effects_metadata.create_all(database.engine)
    declare_platform_topology(amqp_uri)
    env = {"AMQP_URI": amqp_uri, "REPORTING_DATABASE_URL": database_url,
           "REPORTING_HTTP_ADDRESS": f"127.0.0.1:{free_port()}", "THONGTHIN_VAR_DIR": str(tmp_path),
           "THONGTHIN_RETRY_DELAYS_MS": RETRY_DELAYS, "PATH": "/usr/bin:/bin"}
    log = open(tmp_path / "consumer.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "shared.runner",
                                "tests.support.services:ReportingUnderTest"],
                               cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    broker = Broker(amqp_uri)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # ready when it consumes from its queue
        if broker.channel.queue_declare("reporting.events", passive=True).consumer_count:
            break
        time.sleep(0.2)
    yield database, broker, process, tmp_path / "consumer.log"
    process.terminate()
    process.wait(20)
    broker.close()
    database.dispose()


def count(database, table) -> int:
    with database.session() as session:
        return session.execute(select(func.count()).select_from(table)).scalar_one()


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_duplicate_delivery_of_the_same_envelope_has_exactly_one_effect(consumer_process):
    database, broker, _, _ = consumer_process
    body = encode(miss("LAO-1"), correlation_id="c").to_json()
    for _ in range(5):
        broker.publish_raw(body, "assessments.deadline_missed.v1")
    assert wait_for(lambda: count(database, inbox) == 1)
    time.sleep(1.0)  # give the other four every chance to (wrongly) apply
    assert count(database, effects) == 1
    assert broker.depth("reporting.events") == 0


def test_a_handler_that_always_fails_ends_in_the_dead_letter_queue_and_others_keep_flowing(consumer_process):
    database, broker, _, log = consumer_process
    poison = encode(miss(POISON_UNIT), correlation_id="c")
    broker.publish_raw(poison.to_json(), "assessments.deadline_missed.v1", message_id=poison.message_id)
    for i in range(20):
        broker.publish_raw(encode(miss("LAO-1", i), correlation_id="c").to_json(),
                           "assessments.deadline_missed.v1")
    assert wait_for(lambda: count(database, effects) == 20), "good messages are not blocked by the poison"
    assert broker.wait_depth("thongthin.dead_letters", 1, timeout=30) == 1, log.read_text()
    [dead] = broker.get_all("thongthin.dead_letters")
    headers = dead.properties["application_headers"]
    assert "retries exhausted after 3 attempts" in headers["x-thongthin-reason"]
    assert "always fails" in headers["x-thongthin-reason"]
    assert headers["x-thongthin-queue"] == "reporting.events"
    assert dead.body == poison.to_json() and dead.properties["message_id"] == poison.message_id
    assert count(database, inbox) == 20  # the poison left no trace


def test_a_backlog_is_consumed_in_batches_and_a_poison_message_only_splits_its_batch(consumer_process):
    database, broker, _, log = consumer_process
    poison = encode(miss(POISON_UNIT), correlation_id="c")
    for i in range(600):
        if i == 300:
            broker.publish_raw(poison.to_json(), "assessments.deadline_missed.v1", message_id=poison.message_id)
        broker.publish_raw(encode(miss("LAO-1", i), correlation_id=f"c-{i}").to_json(),
                           "assessments.deadline_missed.v1")
    assert wait_for(lambda: count(database, effects) == 600, timeout=60), log.read_text()[-3000:]
    assert broker.wait_depth("thongthin.dead_letters", 1, timeout=30) == 1
    time.sleep(0.5)
    assert count(database, effects) == 600 and count(database, inbox) == 600
    processed = [json.loads(line) for line in log.read_text().splitlines()
                 if '"message_processed"' in line]
    sizes = [entry.get("batch", 1) for entry in processed]
    assert len(processed) == 600
    assert max(sizes) > 1, "a backlog must be handled several messages per transaction"
    assert any('"batch_split"' in line for line in log.read_text().splitlines())
    assert broker.depth("reporting.events") == 0


def test_malformed_and_unknown_messages_are_dead_lettered_at_once(consumer_process):
    database, broker, _, _ = consumer_process
    broker.publish_raw(b"{not json", "assessments.deadline_missed.v1")
    broker.publish_raw(b'{"hello": "world"}', "assessments.deadline_missed.v1")
    assert broker.wait_depth("thongthin.dead_letters", 2, timeout=20) == 2
    reasons = sorted(m.properties["application_headers"]["x-thongthin-reason"]
                     for m in broker.get_all("thongthin.dead_letters"))
    assert all(r.startswith("MalformedMessage") for r in reasons)
    assert count(database, effects) == 0


def test_a_killed_consumer_redelivers_and_applies_once(consumer_process, amqp_uri, database_url, tmp_path):
    database, broker, process, _ = consumer_process
    process.kill()
    process.wait()
    for i in range(30):
        broker.publish_raw(encode(miss("LAO-2", i), correlation_id="c").to_json(),
                           "assessments.deadline_missed.v1")
    assert broker.wait_depth("reporting.events", 30) == 30  # nothing lost while nobody consumed
    env = {"AMQP_URI": amqp_uri, "REPORTING_DATABASE_URL": database_url,
           "REPORTING_HTTP_ADDRESS": f"127.0.0.1:{free_port()}", "THONGTHIN_VAR_DIR": str(tmp_path),
           "THONGTHIN_RETRY_DELAYS_MS": RETRY_DELAYS, "PATH": "/usr/bin:/bin"}
    restarted = subprocess.Popen([sys.executable, "-m", "shared.runner",
                                  "tests.support.services:ReportingUnderTest"], cwd=REPO_ROOT, env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: count(database, effects) == 30)
    finally:
        restarted.terminate()
        restarted.wait(20)
