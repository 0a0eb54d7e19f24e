"""``thongthin`` against a real broker and a real consumer process.

Poison messages reach the dead-letter queue through the platform's own dead-letter path (a
handler that keeps failing: retried, then dead-lettered by the consumer; a body that is not an
envelope: dead-lettered at once). The operator lists and shows them, "fixes" the consumer (the
table its handler writes to did not exist), replays one and sees it processed while the others
stay, in order. ``status`` reads the running consumer's /health and /metrics and every queue.
A second node with the rabbitmq_prometheus plugin proves the per-queue metric names the alerts
and the dashboard use.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from devtools.stack import free_port
from shared.config import REPO_ROOT, SERVICES
from shared.contracts import encode
from shared.contracts.events import DeadlineMissed
from shared.db import Database
from shared.messaging.publisher import declare_platform_topology
from shared.messaging.tables import messaging_metadata
from shared.observability import broker_metrics
from ops import cli
from tests.support.amqp import Broker
from tests.support.services import effects, effects_metadata

NOW = datetime(2026, 2, 3, 9, 0, tzinfo=timezone.utc)
RETRY_DELAYS = "100,200"
DLQ = "thongthin.dead_letters"


def miss(unit: str) -> DeadlineMissed:
    # Thai in the body, to see it come back readable
    return DeadlineMissed(obligation_id=f"o-{unit}", unit_code=unit, indicator_code="ผลการเบิกจ่าย",
                          period="2569-01", due_at=NOW, detected_at=NOW)


def wait_for(predicate, timeout=60.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def run(capsys, *argv) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def run_json(capsys, *argv):
    code, out = run(capsys, "--json", *argv)
    return code, json.loads(out)


@pytest.fixture
def platform(amqp_uri, tmp_path, monkeypatch):
    """The reporting queue consumed by a real process whose handler cannot work yet (its table is
    missing); the CLI sees the same environment an operator's shell would."""
    monkeypatch.setenv("THONGTHIN_RETRY_DELAYS_MS", RETRY_DELAYS)
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    database_url = f"sqlite:///{tmp_path / 'reporting.db'}"
    database = Database(database_url)
    messaging_metadata.create_all(database.engine)   # inbox, outbox -- but not the effects table
    declare_platform_topology(amqp_uri)
    port = free_port()
    for service in SERVICES:  # nothing listens on the others' ports
        monkeypatch.setenv(f"{service.upper()}_HTTP_ADDRESS", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("REPORTING_HTTP_ADDRESS", f"0.0.0.0:{port}")  # a wildcard bind, as in compose
    env = {"AMQP_URI": amqp_uri, "REPORTING_DATABASE_URL": database_url,
           "REPORTING_HTTP_ADDRESS": f"127.0.0.1:{port}", "THONGTHIN_VAR_DIR": str(tmp_path),
           "THONGTHIN_RETRY_DELAYS_MS": RETRY_DELAYS, "PATH": "/usr/bin:/bin"}
    log = open(tmp_path / "consumer.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "shared.runner", "tests.support.services:ReportingUnderTest"],
                               cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    broker = Broker(amqp_uri)
    assert wait_for(lambda: broker.channel.queue_declare("reporting.events", passive=True).consumer_count, 30), \
        (tmp_path / "consumer.log").read_text()
    yield database, broker
    process.terminate()
    process.wait(20)
    log.close()
    broker.close()
    database.dispose()


def effect_ids(database) -> list[str]:
    with database.session() as session:
        return [row[0] for row in session.execute(select(effects.c.message_id))]


def test_dead_letters_list_show_replay_and_status(platform, capsys):
    database, broker = platform
    events = [encode(miss(f"LAO-{i}"), correlation_id=f"c-{i}") for i in range(3)]
    for envelope in events:
        broker.publish_raw(envelope.to_json(), "assessments.deadline_missed.v1", message_id=envelope.message_id)
    broker.publish_raw(b"this is not an envelope", "assessments.deadline_missed.v1", message_id="garbage-1")
    assert broker.wait_depth(DLQ, 4, timeout=60) == 4

    # list: reason, original queue, event type, id, when -- and the messages stay where they are
    code, listed = run_json(capsys, "dead-letters", "list")
    assert code == 0 and listed["total"] == 4
    by_id = {row["message_id"]: row for row in listed["messages"]}
    assert set(by_id) == {e.message_id for e in events} | {"garbage-1"}
    for envelope in events:
        row = by_id[envelope.message_id]
        assert row["queue"] == "reporting.events"
        assert row["event_type"] == "assessments.deadline_missed.v1"
        assert "retries exhausted" in row["reason"] and "effects" in row["reason"], row["reason"]
        assert abs(datetime.fromisoformat(row["failed_at"]).timestamp() - time.time()) < 120
    assert by_id["garbage-1"]["queue"] == "reporting.events" and by_id["garbage-1"]["reason"]
    order = [row["message_id"] for row in listed["messages"]]
    assert broker.depth(DLQ) == 4, "listing must not consume anything"  # (all back on return)
    code, again = run_json(capsys, "dead-letters", "list")
    assert [row["message_id"] for row in again["messages"]] == order, "listing keeps the order"

    # the readable forms: a table, and one message with its Thai body as Thai
    code, out = run(capsys, "dead-letters", "list")
    assert code == 0 and "reporting.events" in out and "garbage-1" in out
    target = events[1]
    code, out = run(capsys, "dead-letters", "show", target.message_id)
    assert code == 0 and "ผลการเบิกจ่าย" in out and "x-thongthin-reason" in out
    code, shown = run_json(capsys, "dead-letters", "show", target.message_id)
    assert shown[0]["body"]["payload"]["indicator_code"] == "ผลการเบิกจ่าย"
    assert shown[0]["headers"]["x-thongthin-queue"] == "reporting.events"
    code, _ = run_json(capsys, "dead-letters", "show", "no-such-id")
    assert code == 1

    # status while it is broken: the consumer answers, the others do not, dead letters waiting
    code, status = run_json(capsys, "status", "--rate-window", "0.5")
    assert code == 1
    services = {row["service"]: row for row in status["services"]}
    assert services["reporting"]["healthy"] and services["reporting"]["url"].startswith("http://127.0.0.1:")
    assert services["reporting"]["consumed"]["dead_lettered"] == 4
    assert services["reporting"]["consumed"]["retried"] >= 6
    assert services["reporting"]["dead_lettered"] == 4
    assert services["reporting"]["outbox_pending"] == 0  # its relay reports, nothing waits
    assert not services["plans"]["healthy"] and services["plans"]["health"].startswith("unreachable")
    queues = {row["queue"]: row for row in status["queues"]}
    assert queues[DLQ] == {"queue": DLQ, "kind": "dead-letter", "ready": 4, "consumers": 0}
    assert queues["reporting.events"]["consumers"] == 1 and queues["reporting.events"]["kind"] == "work"
    assert queues["reporting.events.retry.100"]["kind"] == "retry"
    assert "4 dead letter(s) in thongthin.dead_letters" in status["problems"]
    code, out = run(capsys, "status", "--rate-window", "0")
    assert code == 1 and "needs attention" in out and "thongthin.dead_letters" in out

    # fix the consumer, replay one: processed once; the others stay, in their order
    effects_metadata.create_all(database.engine)
    code, report = run_json(capsys, "dead-letters", "replay", target.message_id)
    assert code == 0, report
    assert [row["message_id"] for row in report["replayed"]] == [target.message_id]
    assert report["remaining"] == 3 and not report["failed"]
    assert wait_for(lambda: effect_ids(database) == [target.message_id], 30)
    code, after = run_json(capsys, "dead-letters", "list")
    assert [row["message_id"] for row in after["messages"]] == [mid for mid in order if mid != target.message_id]
    time.sleep(1.0)
    assert effect_ids(database) == [target.message_id] and broker.depth(DLQ) == 3

    # a filter that matches nothing replays nothing
    code, report = run_json(capsys, "dead-letters", "replay", "--all", "--queue", "plans.events")
    assert code == 0 and report["replayed"] == [] and report["remaining"] == 3
    # the rest of the reporting queue's dead letters: the two events are processed now; the
    # garbage fails again and comes back (with a new reason), nothing is lost
    code, out = run(capsys, "dead-letters", "replay", "--all", "--queue", "reporting.events")
    assert code == 0 and "3 replayed" in out
    assert wait_for(lambda: sorted(effect_ids(database)) == sorted(e.message_id for e in events), 30)
    assert broker.wait_depth(DLQ, 1, timeout=30) == 1
    code, last = run_json(capsys, "dead-letters", "list")
    assert [row["message_id"] for row in last["messages"]] == ["garbage-1"]
    assert last["messages"][0]["replays"] == 1


def test_a_dead_letter_that_cannot_be_routed_stays(amqp_uri, capsys, monkeypatch):
    """Its original queue is gone: the broker returns the copy, so the dead letter is not acked."""
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    declare_platform_topology(amqp_uri)
    broker = Broker(amqp_uri)
    try:
        import amqp
        for message_id, queue in (("m-1", "gone.events"), ("m-2", "reporting.events"), ("m-3", "gone.events")):
            broker.channel.basic_publish(amqp.Message(
                json.dumps({"type": "x", "message_id": message_id}), message_id=message_id, delivery_mode=2,
                application_headers={"x-thongthin-queue": queue, "x-thongthin-reason": "test"}),
                exchange="thongthin.dead", routing_key=queue)
        assert broker.wait_depth(DLQ, 3) == 3
        code, report = run_json(capsys, "dead-letters", "replay", "m-1", "m-2")
        assert code == 1, report  # something was kept: needs attention
        assert [row["message_id"] for row in report["replayed"]] == ["m-2"]
        assert [row["message_id"] for row in report["failed"]] == ["m-1"]
        assert "unroutable" in report["failed"][0]["error"]
        assert broker.depth("reporting.events") == 1
        code, listed = run_json(capsys, "dead-letters", "list")
        assert [row["message_id"] for row in listed["messages"]] == ["m-1", "m-3"]
        code, report = run_json(capsys, "dead-letters", "replay", "nope")
        assert code == 1 and report["not_found"] == ["nope"] and report["remaining"] == 2

        # the same through `thongthin` as pip installs it ([project.scripts]), in a fresh process
        result = subprocess.run(
            [sys.executable, "-c", "import sys; from ops.cli import main; sys.exit(main())",
             "dead-letters", "list", "--json"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "AMQP_URI": amqp_uri})
        assert result.returncode == 0, result.stderr
        assert [row["message_id"] for row in json.loads(result.stdout)["messages"]] == ["m-1", "m-3"]
    finally:
        broker.close()


def test_status_of_real_services(amqp_uri, tmp_path, capsys, monkeypatch):
    """Two of the real services as processes (devtools/stack.py), the rest not started."""
    from devtools.stack import Stack
    stack = Stack(amqp_uri=amqp_uri, var_dir=tmp_path, services=("plans", "reporting"))
    stack.migrate()
    try:
        for name in stack.services:
            stack.start_service(name)
        for name in stack.services:
            stack.wait_healthy(120, service=name)
        for key, value in stack.env().items():
            if key == "AMQP_URI" or key.endswith("_HTTP_ADDRESS"):
                monkeypatch.setenv(key, value)
        broker = Broker(amqp_uri)
        try:  # wait until reporting consumes (it declares the topology first)
            assert wait_for(lambda: broker.channel.queue_declare("reporting.events", passive=True).consumer_count, 60)
        finally:
            broker.close()
        code, status = run_json(capsys, "status", "--rate-window", "0.5")
    finally:
        stack.stop()
    services = {row["service"]: row for row in status["services"]}
    for name in ("plans", "reporting"):
        assert services[name]["healthy"] and services[name]["health"] == "ok", services[name]
        assert services[name]["outbox_pending"] == 0 and services[name]["outbox_oldest_age_s"] == 0
    assert not services["gateway"]["healthy"]
    queues = {row["queue"]: row for row in status["queues"]}
    assert queues["reporting.events"]["consumers"] == 1
    assert queues["thongthin.dead_letters"]["ready"] == 0
    assert code == 1 and "nobody consumes assessments.events" in status["problems"]
    assert not any("dead letter" in problem for problem in status["problems"])


def test_rebuild_reporting_shows_progress_and_counts(tmp_path, capsys):
    from services.reporting.projection import log_row
    from services.reporting.models import event_log, metadata
    database_url = f"sqlite:///{tmp_path / 'reporting.db'}"
    database = Database(database_url)
    metadata.create_all(database.engine)
    with database.session() as session:
        session.execute(event_log.insert(), [log_row(encode(miss(f"LAO-{i}"), correlation_id="c"))
                                             for i in range(25)])
        session.commit()
    database.dispose()
    code, result = run_json(capsys, "rebuild", "reporting", "--database-url", database_url, "--batch-size", "10")
    assert code == 0 and result["events"] == 25, result
    code = cli.main(["rebuild", "reporting", "--database-url", database_url, "--batch-size", "10"])
    captured = capsys.readouterr()
    assert code == 0 and "rebuilt" in captured.out and "25 events" in captured.out, captured
    assert "rm_directives" in captured.out  # rows per read model
    assert "25/25" in captured.err, captured.err  # the progress bar, on stderr


# --------------------------------------------------------------------------- rabbitmq_prometheus


@pytest.fixture(scope="module")
def prometheus_node():
    from tests.support.rabbitmq import pick_free_ports, throwaway_rabbitmq
    port = pick_free_ports(1)[0]
    config = (f"prometheus.tcp.port = {port}\nprometheus.tcp.ip = 127.0.0.1\n"
              "collect_statistics_interval = 500\n")
    with throwaway_rabbitmq(plugins=("rabbitmq_prometheus",), extra_config=config) as node:
        yield node, port


def test_broker_exports_the_per_queue_metrics_the_alerts_use(prometheus_node):
    node, port = prometheus_node
    declare_platform_topology(node.amqp_uri)
    broker = Broker(node.amqp_uri)
    try:
        broker.publish_raw(b"{}", "reporting.events", exchange="thongthin.dead", message_id=str(uuid.uuid4()))
        url = f"http://127.0.0.1:{port}{broker_metrics.DETAILED_PATH}"
        params = [("family", family) for family in broker_metrics.DETAILED_FAMILIES]

        def samples():
            text = requests.get(url, params=params, timeout=5).text
            return {(s.name, s.labels.get("queue")): s.value
                    for family in text_string_to_metric_families(text) for s in family.samples}
        assert wait_for(lambda: samples().get(("rabbitmq_detailed_queue_messages", DLQ)) == 1, 30), samples()
        found = samples()
        for name in broker_metrics.QUEUE_METRICS:
            for queue in (DLQ, "reporting.events", "reporting.events.retry.1000"):
                assert (name, queue) in found, (name, queue)
        assert found[("rabbitmq_detailed_queue_messages_ready", DLQ)] == 1
        assert found[("rabbitmq_detailed_queue_consumers", "reporting.events")] == 0
    finally:
        broker.close()


def test_prometheus_scrapes_the_broker_and_fires_on_a_real_dead_letter(prometheus_node, tmp_path):
    """Debian's Prometheus with the repository's rabbitmq job and rule files, against a real node:
    the per-queue scrape works, every rule evaluates without error, and a dead letter fires."""
    import shutil
    import yaml
    from tests.support.rabbitmq import pick_free_ports
    node, metrics_port = prometheus_node
    binary = shutil.which("prometheus")
    assert binary, "Debian's 'prometheus' package is missing (scripts/install-system-deps.sh test)"
    declare_platform_topology(node.amqp_uri)
    broker = Broker(node.amqp_uri)
    try:
        broker.publish_raw(b"{}", "plans.events", exchange="thongthin.dead", message_id=str(uuid.uuid4()))
    finally:
        broker.close()

    config = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus" / "prometheus.local.yml").read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "rabbitmq"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    config["scrape_configs"] = [job]
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(REPO_ROOT / "deploy" / "prometheus" / "rules" / "*.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = pick_free_ports(1)[0]
    api = f"http://127.0.0.1:{port}/api/v1"
    log = open(tmp_path / "prometheus.log", "wb")
    process = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                                f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        def query(expr):
            try:
                return requests.get(f"{api}/query", params={"query": expr}, timeout=5).json()["data"]["result"]
            except (requests.RequestException, KeyError, ValueError):
                return []
        assert wait_for(lambda: query('ALERTS{alertname="ThongthinDeadLetterQueueNotEmpty", alertstate="firing"}'),
                        90, 0.5), (tmp_path / "prometheus.log").read_text()[-3000:]
        assert query('up{job="rabbitmq"}')[0]["value"][1] == "1"
        depth = query('rabbitmq_detailed_queue_messages{queue="thongthin.dead_letters"}')
        assert depth and float(depth[0]["value"][1]) >= 1
        def rules():
            return [rule for group in requests.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
                    for rule in group["rules"]]
        # every group evaluated at least once, none with an error (a typo in a label, a bad function)
        assert wait_for(lambda: all(rule["health"] == "ok" for rule in rules()), 30, 0.5), \
            [(rule["name"], rule["health"], rule.get("lastError")) for rule in rules()]
        assert len(rules()) >= 9
    finally:
        process.terminate()
        process.wait(20)
        log.close()
