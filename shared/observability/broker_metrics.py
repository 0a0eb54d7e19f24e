"""The RabbitMQ metrics Thongthin's alerts and dashboard use, and where Prometheus gets them.

Queue depths (work queues, retry queues, the dead-letter queue), consumer counts and therefore
consumer lag come from the broker's own ``rabbitmq_prometheus`` plugin, not from a gauge in a
service: the broker knows every queue, and its numbers stay visible exactly when they matter most
-- when the service that would have reported them is down. The plugin ships with RabbitMQ
(3.8+), is enabled in the official Docker image and serves on port 15692.

Its default ``/metrics`` aggregates all queues into one number, so Prometheus scrapes
``/metrics/detailed`` and asks only for the per-queue families below (cheap even with many
queues). tests/integration/test_ops_cli.py checks these names against a real node.
"""
from __future__ import annotations

PORT = 15692
DETAILED_PATH = "/metrics/detailed"
DETAILED_FAMILIES = ("queue_coarse_metrics", "queue_consumer_count")

# name -> meaning; every series carries the labels ``vhost`` and ``queue``.
QUEUE_METRICS = {
    "rabbitmq_detailed_queue_messages_ready": "messages waiting for a consumer (the lag)",
    "rabbitmq_detailed_queue_messages_unacked": "messages delivered, not yet acknowledged",
    "rabbitmq_detailed_queue_messages": "ready + unacknowledged (the queue depth)",
    "rabbitmq_detailed_queue_consumers": "consumers attached to the queue",
}
