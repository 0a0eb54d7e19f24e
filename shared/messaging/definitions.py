"""RabbitMQ definitions (the broker's schema file) generated from ``shared.messaging.topology``.

    python -m shared.messaging.definitions            # rewrite deploy/rabbitmq/definitions.json
    python -m shared.messaging.definitions --check    # exit 1 if the committed file has drifted

A cluster loads the file at boot (``load_definitions``, see deploy/k8s/rabbitmq.yaml), so the
exchanges, queues and bindings exist before any service starts. The services still declare the
same topology themselves (``publisher.declare_platform_topology``): the arguments here are taken
from the very same ``QueueSpec``s, so those declarations are no-ops instead of PRECONDITION_FAILED.

The file holds no users: with ``load_definitions`` set, RabbitMQ creates no default user, and a
password does not belong in a ConfigMap. The deployment imports a second file with the users from
a Secret (``users_definitions``).

Policies are the one thing here that the services do not declare: operational settings that a
queue argument could not change later without deleting the queue.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from unittest import mock

from shared.config import REPO_ROOT
from shared.messaging import topology as topo

DEFINITIONS_FILE = REPO_ROOT / "deploy" / "rabbitmq" / "definitions.json"
VHOST = "/"

# Dead-lettering from a quorum queue is at-most-once by default: a message that hits the delivery
# limit while thongthin.dead_letters is unavailable would be dropped. At-least-once keeps it in
# the work queue until the dead-letter queue confirms it; RabbitMQ requires overflow=reject-publish
# for that strategy (without a max-length it never rejects anything).
POLICIES = [
    {
        "name": "thongthin-work-queues",
        "pattern": "^(" + "|".join(topo.queue_name(service) for service in topo.SUBSCRIPTIONS).replace(".", r"\.")
                   + ")$",
        "apply-to": "queues",
        "priority": 0,
        "definition": {"dead-letter-strategy": "at-least-once", "overflow": "reject-publish"},
    },
]


def default_retry_delays_ms() -> list[int]:
    """The retry schedule the services use when THONGTHIN_RETRY_DELAYS_MS is not set (the
    deployment does not set it; a test checks). The file must not depend on who generates it."""
    with mock.patch.dict(os.environ):
        os.environ.pop("THONGTHIN_RETRY_DELAYS_MS", None)
        return topo.retry_delays_ms()


def definitions(vhost: str = VHOST) -> dict:
    """The topology as a RabbitMQ definitions document (sorted, so the file diffs cleanly)."""
    topology = topo.platform_topology(default_retry_delays_ms())
    exchanges = [{"name": name, "vhost": vhost, "type": kind, "durable": True, "auto_delete": False,
                  "internal": False, "arguments": {}} for name, kind in topology.exchanges]
    queues, bindings = [], []
    for queue in topology.queues:
        queues.append({"name": queue.name, "vhost": vhost, "durable": True, "auto_delete": False,
                       "arguments": dict(sorted(queue.arguments.items()))})
        bindings.extend({"source": exchange, "vhost": vhost, "destination": queue.name,
                         "destination_type": "queue", "routing_key": routing_key, "arguments": {}}
                        for exchange, routing_key in queue.bindings)
    return {
        "vhosts": [{"name": vhost}],
        "exchanges": sorted(exchanges, key=lambda x: x["name"]),
        "queues": sorted(queues, key=lambda q: q["name"]),
        "bindings": sorted(bindings, key=lambda b: (b["source"], b["destination"], b["routing_key"])),
        "policies": [dict(policy, vhost=vhost) for policy in POLICIES],
    }


def users_definitions(username: str, password: str, vhost: str = VHOST) -> dict:
    """The second definitions file: the platform's user and its permissions (from a Secret).
    RabbitMQ hashes a plain ``password`` on import."""
    return {
        "users": [{"name": username, "password": password, "tags": ["administrator"]}],
        "permissions": [{"user": username, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
    }


def render(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file differs from the topology")
    parser.add_argument("--output", type=Path, default=DEFINITIONS_FILE)
    args = parser.parse_args(argv)
    text = render(definitions())
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run python -m shared.messaging.definitions", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
