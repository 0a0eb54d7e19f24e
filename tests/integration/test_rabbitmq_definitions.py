"""deploy/rabbitmq/definitions.json, imported into a real node, is the topology the services declare.

``rabbitmqctl import_definitions`` needs no management plugin (RabbitMQ 3.8.2+; the test node is
Debian's 3.10.8). The committed file is imported into a fresh virtual host of the test node (its
``vhost`` fields rewritten, nothing else), together with a users file as the Kubernetes Secret
holds it; then the platform's own ``declare_platform_topology`` runs against it as that user: any
argument that differs would close the channel with PRECONDITION_FAILED.
"""
from __future__ import annotations

import json
import uuid

import amqp
import pytest

from shared.messaging import definitions as defs
from shared.messaging import topology as topo
from shared.messaging.publisher import (ConfirmingPublisher, OutgoingMessage, connection_params,
                                        declare_platform_topology)
from tests.support.amqp import Broker


def retarget(document: dict, vhost: str) -> dict:
    """The same definitions in another virtual host."""
    document = json.loads(json.dumps(document))
    document["vhosts"] = [{"name": vhost}]
    for section in ("exchanges", "queues", "bindings", "policies", "permissions"):
        for item in document.get(section, []):
            item["vhost"] = vhost
    return document


@pytest.fixture
def imported(rabbit, tmp_path):
    """(amqp uri as the imported user, vhost): the committed file imported into a new vhost."""
    if not hasattr(rabbit, "ctl"):
        pytest.skip("needs rabbitmqctl on a node of this test run (TEST_AMQP_URI is external)")
    vhost, user, password = f"defs-{uuid.uuid4().hex[:8]}", f"tt-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    topology_file, users_file = tmp_path / "definitions.json", tmp_path / "users.json"
    topology_file.write_text(json.dumps(retarget(json.loads(defs.DEFINITIONS_FILE.read_text()), vhost)))
    users_file.write_text(json.dumps(defs.users_definitions(user, password, vhost)))
    try:
        rabbit.ctl("import_definitions", str(topology_file))
        rabbit.ctl("import_definitions", str(users_file))
        yield f"amqp://{user}:{password}@{rabbit.host}:{rabbit.port}/{vhost}", vhost
    finally:
        for args in (("delete_vhost", vhost), ("delete_user", user)):
            try:
                rabbit.ctl(*args)
            except Exception:  # the import failed before creating it
                pass


def test_services_declare_against_the_imported_definitions_and_messages_flow(rabbit, imported):
    uri, vhost = imported
    queues = {row["name"]: row for row in json.loads(rabbit.ctl(
        "list_queues", "-q", "-p", vhost, "--formatter", "json", "name", "type", "policy", "arguments"))}
    expected = topo.platform_topology(defs.default_retry_delays_ms())
    assert set(queues) == {q.name for q in expected.queues}
    for service in topo.SUBSCRIPTIONS:
        row = queues[topo.queue_name(service)]
        assert row["type"] == "quorum" and row["policy"] == "thongthin-work-queues", row

    # The platform's own declaration: identical arguments, or PRECONDITION_FAILED closes the channel.
    declare_platform_topology(uri)
    assert {row["name"] for row in json.loads(rabbit.ctl(
        "list_queues", "-q", "-p", vhost, "--formatter", "json", "name"))} == set(queues)

    # An event is routed to exactly its subscribers, with confirms (mandatory: not returned).
    publisher = ConfirmingPublisher(uri, declare_topology=False)
    broker = Broker(uri)
    try:
        event_type = "plans.directive_issued.v1"
        result = publisher.publish_batch([OutgoingMessage("m-1", topo.EVENTS_EXCHANGE, event_type, b"{}",
                                                          event_type=event_type)])
        assert result.confirmed == ["m-1"] and not result.returned and not result.nacked
        subscribers = {s for s, types in topo.SUBSCRIPTIONS.items() if event_type in types}
        assert subscribers == {"notifications", "reporting"}
        for service in topo.SUBSCRIPTIONS:
            messages = broker.get_all(topo.queue_name(service))
            assert len(messages) == (1 if service in subscribers else 0), service

        # A retry parks in its delay queue and comes back to the work queue by itself.
        work = topo.queue_name("assessments")
        delay = defs.default_retry_delays_ms()[0]
        result = publisher.publish_batch([OutgoingMessage("m-2", topo.RETRY_EXCHANGE,
                                                          topo.retry_queue_name(work, delay), b"{}")])
        assert result.confirmed == ["m-2"]
        assert broker.wait_depth(work, 1, timeout=delay / 1000 + 10) == 1

        # A dead letter lands in thongthin.dead_letters.
        result = publisher.publish_batch([OutgoingMessage("m-3", topo.DEAD_EXCHANGE, work, b"{}")])
        assert result.confirmed == ["m-3"]
        assert broker.wait_depth(topo.DEAD_LETTER_QUEUE, 1, timeout=10) == 1
    finally:
        publisher.close()
        broker.close()


def test_a_differing_argument_is_refused(imported):
    """The check above can fail: the broker compares the arguments of a re-declaration."""
    uri, _ = imported
    connection = amqp.Connection(**connection_params(uri), connect_timeout=5)
    connection.connect()
    try:
        with pytest.raises(amqp.exceptions.PreconditionFailed):
            connection.channel().queue_declare(
                topo.queue_name("reporting"), durable=True, auto_delete=False,
                arguments={**topo.consumer_queue("reporting").arguments, "x-delivery-limit": topo.DELIVERY_LIMIT + 1})
    finally:
        try:
            connection.close()
        except Exception:  # the broker may already have closed it
            pass


def test_a_node_imports_the_definitions_directory_at_boot(tmp_path):
    """The boot-time path of deploy/k8s/rabbitmq.yaml: its ``definitions.*`` settings, a directory
    holding the topology file and a users file. (The users file names guest here, because the test
    node's readiness check logs in as guest: with definitions configured no default user is made.)"""
    import yaml
    from tests.support.rabbitmq import RabbitMQNotInstalled, throwaway_rabbitmq

    manifests = yaml.safe_load_all((defs.REPO_ROOT / "deploy" / "k8s" / "rabbitmq.yaml").read_text())
    conf = next(doc for doc in manifests if doc and doc["metadata"]["name"] == "rabbitmq-config")["data"]["rabbitmq.conf"]
    directory = tmp_path / "definitions.d"
    directory.mkdir()
    (directory / "10-topology.json").write_text(defs.DEFINITIONS_FILE.read_text())
    (directory / "20-users.json").write_text(json.dumps(defs.users_definitions("guest", "guest")))
    settings = [line.replace("/etc/rabbitmq/definitions.d", str(directory))
                for line in conf.splitlines() if line.startswith("definitions.")]
    assert len(settings) == 3, settings
    try:
        with throwaway_rabbitmq(extra_config="\n".join(settings)) as node:
            names = {row["name"] for row in json.loads(node.ctl("list_queues", "-q", "--formatter", "json", "name"))}
            assert names == {q.name for q in topo.platform_topology(defs.default_retry_delays_ms()).queues}
            declare_platform_topology(node.amqp_uri)
    except RabbitMQNotInstalled as exc:
        pytest.skip(str(exc))
