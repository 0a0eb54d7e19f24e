"""deploy/rabbitmq/definitions.json is the topology of shared.messaging.topology, nothing else."""
from __future__ import annotations

import json

from shared.messaging import definitions as defs
from shared.messaging import topology as topo


def test_committed_file_matches_the_topology():
    committed = defs.DEFINITIONS_FILE.read_text()
    assert committed == defs.render(defs.definitions()), (
        "deploy/rabbitmq/definitions.json drifted from shared/messaging/topology.py: "
        "run python -m shared.messaging.definitions")
    assert defs.main(["--check"]) == 0


def test_check_fails_on_a_drifted_file(tmp_path):
    drifted = defs.definitions()
    drifted["queues"][0]["arguments"]["x-delivery-limit"] = topo.DELIVERY_LIMIT + 1
    path = tmp_path / "definitions.json"
    path.write_text(defs.render(drifted))
    configmap = tmp_path / "configmap.yaml"
    configmap.write_text(defs.configmap(defs.render(defs.definitions())))
    paths = ["--output", str(path), "--configmap", str(configmap)]
    assert defs.main(["--check", *paths]) == 1
    assert defs.main(paths) == 0 and defs.main(["--check", *paths]) == 0
    configmap.write_text(configmap.read_text().replace("thongthin.dead", "thongthin.gone"))
    assert defs.main(["--check", *paths]) == 1


def test_configmap_holds_the_file_byte_for_byte():
    import yaml
    document = yaml.safe_load(defs.CONFIGMAP_FILE.read_text())
    assert document["kind"] == "ConfigMap" and document["metadata"]["name"] == defs.CONFIGMAP_NAME
    assert document["data"]["definitions.json"] == defs.DEFINITIONS_FILE.read_text()


def test_every_queue_and_binding_of_the_topology_is_in_the_file():
    document = json.loads(defs.DEFINITIONS_FILE.read_text())
    queues = {q["name"]: q["arguments"] for q in document["queues"]}
    bindings = {(b["source"], b["destination"], b["routing_key"]) for b in document["bindings"]}
    expected = topo.platform_topology(defs.default_retry_delays_ms())
    assert queues == {q.name: q.arguments for q in expected.queues}
    assert bindings == {(ex, q.name, key) for q in expected.queues for ex, key in q.bindings}
    assert {(x["name"], x["type"]) for x in document["exchanges"]} == set(expected.exchanges)
    for service in topo.SUBSCRIPTIONS:
        arguments = queues[topo.queue_name(service)]
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-delivery-limit"] == topo.DELIVERY_LIMIT
        assert arguments["x-dead-letter-exchange"] == topo.DEAD_EXCHANGE
    assert "users" not in document, "passwords come from a Secret, not the ConfigMap"


def test_the_file_does_not_depend_on_the_generating_environment(monkeypatch):
    monkeypatch.setenv("THONGTHIN_RETRY_DELAYS_MS", "5")
    assert defs.render(defs.definitions()) == defs.DEFINITIONS_FILE.read_text()


def test_work_queue_policy_matches_exactly_the_work_queues():
    import re
    pattern = re.compile(defs.POLICIES[0]["pattern"])
    names = [q.name for q in topo.platform_topology([1000]).queues]
    assert sorted(n for n in names if pattern.search(n)) == sorted(topo.queue_name(s) for s in topo.SUBSCRIPTIONS)
