"""Proves the test infrastructure itself: throwaway RabbitMQ nodes and PostgreSQL databases.

One RabbitMQ node is shared by the module (start ~2.3 s, restart ~3.4 s); PostgreSQL tests use
``postgres_for_tests()`` (local server or throwaway) plus one short-lived throwaway cluster.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:  # e.g. when run as plain `pytest` rather than `python -m pytest`
    sys.path.insert(0, str(_REPO))

import kombu  # noqa: E402
import psycopg2  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from tests.support.postgres import postgres_for_tests, throwaway_postgres  # noqa: E402
from tests.support.rabbitmq import (  # noqa: E402
    ExternalRabbit,
    RabbitCtlError,
    rabbitmq_for_tests,
    throwaway_rabbitmq,
)
from tests.support.rabbitmq import _tcp_accepts  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def rabbit():
    with throwaway_rabbitmq() as node:
        base, port = node.base_dir, node.port
        yield node
    # teardown doubles as the cleanup check
    assert not base.exists(), f"{base} left behind"
    assert not _tcp_accepts("127.0.0.1", port), f"node still listening on {port}"


@pytest.fixture(scope="module")
def pg():
    with postgres_for_tests() as server:
        yield server
    assert not server.created_databases


def _queue(name: str, durable: bool = True) -> kombu.Queue:
    exchange = kombu.Exchange(f"{name}.x", type="direct", durable=durable)
    return kombu.Queue(name, exchange=exchange, routing_key=name, durable=durable, auto_delete=False)


def _publish(uri: str, queue: kombu.Queue, bodies: list[str], persistent: bool = True) -> None:
    with kombu.Connection(uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        queue(channel).declare()
        producer = conn.Producer(channel)
        for body in bodies:
            producer.publish(
                body,
                exchange=queue.exchange,
                routing_key=queue.routing_key,
                delivery_mode=2 if persistent else 1,
                serializer="json",
            )


def _drain(uri: str, queue: kombu.Queue, expected: int) -> list[str]:
    """Consume exactly ``expected`` messages, then check the queue is empty."""
    got: list[str] = []
    with kombu.Connection(uri) as conn:
        simple = conn.SimpleQueue(queue)
        try:
            for _ in range(expected):
                msg = simple.get(timeout=10)
                got.append(msg.payload)
                msg.ack()
            with pytest.raises(simple.Empty):
                simple.get_nowait()
        finally:
            simple.close()
    return got


# --------------------------------------------------------------------------- RabbitMQ


def test_throwaway_node_is_isolated_and_accepts_kombu(rabbit):
    assert rabbit.port != 5672 and rabbit.nodename != "rabbit@localhost"
    assert rabbit.nodename.startswith("tt-test-") and rabbit.nodename.endswith("@localhost")
    assert rabbit.amqp_uri == f"amqp://guest:guest@127.0.0.1:{rabbit.port}/"
    with kombu.Connection(rabbit.amqp_uri, connect_timeout=5) as conn:
        conn.connect()
        assert conn.connected
        assert conn.connection.server_properties.get("product") in ("RabbitMQ", b"RabbitMQ")
    # everything the node writes lives under base_dir
    assert (rabbit.base_dir / "mnesia" / rabbit.nodename).is_dir()
    assert rabbit.log_path.is_file() and rabbit.pid_file.is_file()
    assert rabbit.nodename in rabbit.ctl("status")


def test_queue_depths_and_ctl(rabbit):
    q = _queue(f"depth-{uuid.uuid4().hex[:8]}")
    _publish(rabbit.amqp_uri, q, ["a", "b", "c"])
    assert rabbit.queue_depths()[q.name] == 3
    assert _drain(rabbit.amqp_uri, q, 3) == ["a", "b", "c"]
    assert rabbit.queue_depths()[q.name] == 0
    with pytest.raises(RabbitCtlError):
        rabbit.ctl("no_such_command")


def test_durable_queue_with_persistent_messages_survives_restart(rabbit):
    durable = _queue(f"durable-{uuid.uuid4().hex[:8]}")
    transient = _queue(f"transient-{uuid.uuid4().hex[:8]}", durable=False)
    _publish(rabbit.amqp_uri, durable, ["one", "two"])
    _publish(rabbit.amqp_uri, transient, ["gone"], persistent=False)

    rabbit.restart()

    depths = rabbit.queue_depths()
    assert depths[durable.name] == 2
    assert transient.name not in depths
    assert _drain(rabbit.amqp_uri, durable, 2) == ["one", "two"]


def test_confirmed_persistent_messages_survive_hard_kill(rabbit):
    q = _queue(f"killed-{uuid.uuid4().hex[:8]}")
    _publish(rabbit.amqp_uri, q, ["x", "y", "z"])  # publisher confirms => on disk

    rabbit.kill()
    assert not rabbit.is_running()
    assert not _tcp_accepts("127.0.0.1", rabbit.port)
    rabbit.start()

    assert rabbit.queue_depths()[q.name] == 3
    assert _drain(rabbit.amqp_uri, q, 3) == ["x", "y", "z"]


def test_rabbitmq_for_tests_honours_test_amqp_uri(monkeypatch):
    monkeypatch.setenv("TEST_AMQP_URI", "amqp://guest:guest@example.invalid:5999/")
    with rabbitmq_for_tests() as broker:
        assert isinstance(broker, ExternalRabbit)
        assert broker.amqp_uri == "amqp://guest:guest@example.invalid:5999/"
        with pytest.raises(NotImplementedError):
            broker.queue_depths()
        with pytest.raises(NotImplementedError):
            broker.restart()


# --------------------------------------------------------------------------- PostgreSQL


def test_created_database_is_usable_and_gone_after_drop(pg):
    url = pg.create_database("infra")
    name = url.rsplit("/", 1)[1]
    assert name.startswith("tt_infra_")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id serial PRIMARY KEY, label text)"))
            conn.execute(text("INSERT INTO t (label) VALUES ('เทศบาล')"))
        conn = engine.connect()
        assert conn.execute(text("SELECT label FROM t")).scalar_one() == "เทศบาล"
        pg.drop_database(url)  # the open connection must not block the drop (WITH (FORCE))
        conn.invalidate()
        conn.close()
    finally:
        engine.dispose()
    assert not pg.database_exists(url)
    with pytest.raises(ValueError):
        pg.drop_database(pg.url_for("postgres"))  # never drops databases it didn't create


def test_throwaway_cluster_starts_stops_and_is_removed():
    with throwaway_postgres() as cluster:
        base = cluster.base_dir
        assert cluster.port != 5432 and cluster.is_ready()
        url = cluster.create_database("outage")
        engine = create_engine(url, pool_pre_ping=True)
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (x int)"))
                conn.execute(text("INSERT INTO t VALUES (42)"))

            cluster.stop()
            assert not cluster.is_ready()
            with pytest.raises((OperationalError, psycopg2.OperationalError)):
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))

            cluster.start()
            with engine.connect() as conn:
                assert conn.execute(text("SELECT x FROM t")).scalar_one() == 42
        finally:
            engine.dispose()
    assert not base.exists()
