"""The broker topology, declared in one place and used by relays, consumers, tests and deploy.

Every event goes to the topic exchange ``thongthin.events`` with its type as routing key. Each
consuming service has one quorum queue bound to exactly the event types it handles, so a publish
of a type nobody consumes is returned (``mandatory``) and stays in the outbox.

Failures:
  * a retryable failure is re-published to ``thongthin.retry`` with routing key
    ``<queue>.retry.<delay_ms>``; that delay queue has a TTL and dead-letters the message back to
    ``<queue>`` through the default exchange: a backoff that holds no worker and cannot spin;
  * a fatal failure, or the last retry, goes to ``thongthin.dead`` and lands in
    ``thongthin.dead_letters`` with the reason in its headers;
  * a message that crashes its consumer process again and again is dead-lettered by the broker
    itself once the quorum queue's delivery limit is reached.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from shared.contracts import REGISTRY

EVENTS_EXCHANGE = "thongthin.events"
RETRY_EXCHANGE = "thongthin.retry"
DEAD_EXCHANGE = "thongthin.dead"
DEAD_LETTER_QUEUE = "thongthin.dead_letters"
DELIVERY_LIMIT = 20

# Which service consumes which event types. The one source of truth for bindings.
SUBSCRIPTIONS: dict[str, list[str]] = {
    # Each list must equal the event types the service has handlers for (a test checks it):
    # a bound type without a handler would be dead-lettered.
    "assessments": [
        "plans.org_unit_changed.v1",
        "plans.assignment_created.v1",
        "plans.assignment_acknowledged.v1",
        "plans.assignment_state_changed.v1",
        "plans.reporting_rule_published.v1",
        "plans.plan_published.v1",
        "plans.target_set.v1",
    ],
    "notifications": [
        "plans.org_unit_changed.v1",
        "plans.directive_issued.v1",
        "plans.assignment_created.v1",
        "plans.assignment_acknowledged.v1",
        "plans.assignment_state_changed.v1",
        "assessments.obligation_opened.v1",
        "assessments.obligation_cancelled.v1",
        "assessments.indicator_submitted.v1",
        "assessments.submission_reviewed.v1",
        "assessments.extension_requested.v1",
        "assessments.extension_granted.v1",
        "assessments.extension_denied.v1",
        "assessments.deadline_missed.v1",
        "assessments.acknowledgement_overdue.v1",
        "assessments.lpa_team_finalised.v1",
        "assessments.lpa_assessment_returned.v1",
    ],
    # plans keeps the periods units reported: a registry change may not rewrite them (issue #16)
    "plans": [
        "assessments.indicator_submitted.v1",
    ],
    # Reporting keeps every event the platform emits.
    "reporting": sorted(REGISTRY),
}


def retry_delays_ms() -> list[int]:
    """Backoff schedule of retryable failures (one delay queue per step)."""
    raw = os.environ.get("THONGTHIN_RETRY_DELAYS_MS", "1000,5000,30000,120000")
    return [int(part) for part in raw.split(",") if part.strip()]


def queue_name(service: str) -> str:
    return f"{service}.events"


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    arguments: dict
    bindings: list[tuple[str, str]] = field(default_factory=list)  # (exchange, routing key)
    classic: bool = False


@dataclass(frozen=True)
class Topology:
    exchanges: list[tuple[str, str]]  # (name, type)
    queues: list[QueueSpec]


def consumer_queue(service: str) -> QueueSpec:
    name = queue_name(service)
    return QueueSpec(
        name=name,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": DELIVERY_LIMIT,
            "x-dead-letter-exchange": DEAD_EXCHANGE,
            "x-dead-letter-routing-key": name,
        },
        bindings=[(EVENTS_EXCHANGE, event_type) for event_type in SUBSCRIPTIONS[service]],
    )


def retry_queues(service: str, delays_ms: list[int] | None = None) -> list[QueueSpec]:
    name = queue_name(service)
    return [
        QueueSpec(
            name=retry_queue_name(name, delay),
            arguments={
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",  # default exchange: straight back to the work queue
                "x-dead-letter-routing-key": name,
            },
            bindings=[(RETRY_EXCHANGE, retry_queue_name(name, delay))],
            classic=True,
        )
        for delay in (delays_ms if delays_ms is not None else retry_delays_ms())
    ]


def platform_topology(delays_ms: list[int] | None = None) -> Topology:
    queues: list[QueueSpec] = []
    for service in SUBSCRIPTIONS:
        queues.append(consumer_queue(service))
        queues.extend(retry_queues(service, delays_ms))
    queues.append(QueueSpec(
        name=DEAD_LETTER_QUEUE,
        arguments={"x-queue-type": "quorum"},
        bindings=[(DEAD_EXCHANGE, "#")],
    ))
    return Topology(
        exchanges=[(EVENTS_EXCHANGE, "topic"), (RETRY_EXCHANGE, "direct"), (DEAD_EXCHANGE, "topic")],
        queues=queues,
    )


def declare(channel, topology: Topology | None = None) -> None:
    """Declare exchanges, queues and bindings on a py-amqp channel (idempotent)."""
    topology = topology or platform_topology()
    for name, kind in topology.exchanges:
        channel.exchange_declare(name, kind, durable=True, auto_delete=False)
    for queue in topology.queues:
        channel.queue_declare(queue.name, durable=True, auto_delete=False, arguments=queue.arguments)
        for exchange, routing_key in queue.bindings:
            channel.queue_bind(queue.name, exchange=exchange, routing_key=routing_key)
