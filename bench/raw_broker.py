"""Benchmark: the raw RabbitMQ rate under the platform, with the platform's durability.

    python -m bench.raw_broker [--messages 20000] [--size BYTES] [--prefetch 4]

What the platform's messaging costs at the broker, without the platform: a pika publisher with
publisher confirms (``confirm_delivery``: each publish waits for its confirm), ``mandatory``,
persistent messages through a topic exchange into a quorum queue declared with our arguments
(delivery limit, dead-letter exchange), and a consumer with manual acks and the prefetch our
services use (``THONGTHIN_MAX_WORKERS``: 4 on SQLite, 10 on PostgreSQL). Three phases on one node:

  * publish: N messages into an empty queue, nobody consuming (msgs/s confirmed);
  * consume: the N queued messages, acked one by one (msgs/s acked);
  * end to end: publisher and consumer at once; N / (first publish -> last ack).

The message size defaults to a real envelope: an ``indicator_submitted`` of 30 values, the bulk of
a national cycle; ``bench.run`` passes the mean body size measured in its own cycle instead.
"""
from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
import uuid
from contextlib import nullcontext
from datetime import timedelta

import pika

from shared.contracts import encode, utcnow
from shared.contracts.events import IndicatorSubmitted, SubmittedValue
from shared.messaging.topology import DEAD_EXCHANGE, DELIVERY_LIMIT

EXCHANGE = "bench.raw"
QUEUE = "bench.raw.events"
ROUTING_KEY = "assessments.indicator_submitted.v1"


def typical_envelope_size(indicators: int = 30) -> int:
    """Bytes of a real envelope: one LAO's monthly submission of ``indicators`` values."""
    now = utcnow()
    event = IndicatorSubmitted(
        submission_id=str(uuid.uuid4()), obligation_id=str(uuid.uuid4()), unit_code="LAO-110104",
        directive_id=str(uuid.uuid4()), period="2570-02",
        values=[SubmittedValue(indicator_code="KPI-01", value=87.5, note="ตามแผน")]
        + [SubmittedValue(indicator_code=f"KPI-{i:02d}", value=float(100 + i)) for i in range(2, indicators + 1)],
        submitted_at=now, due_at=now + timedelta(days=3), on_time=True)
    return len(encode(event, correlation_id=str(uuid.uuid4())).to_json())


def _connect(amqp_uri: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(amqp_uri))


def _declare(channel) -> None:
    """A quorum queue with the arguments of our work queues, bound to a topic exchange like ours."""
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.queue_declare(QUEUE, durable=True, arguments={
        "x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_EXCHANGE, "x-dead-letter-routing-key": QUEUE})
    channel.queue_bind(QUEUE, EXCHANGE, routing_key=ROUTING_KEY)


def _publish_one(amqp_uri: str, count: int, body: bytes, started: list[float]) -> None:
    """One publisher: ``count`` persistent messages, each publish waiting for its confirm."""
    connection = _connect(amqp_uri)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        started.append(time.monotonic())
        for _ in range(count):
            # Properties as our relay sets them (shared/messaging/publisher.py).
            channel.basic_publish(EXCHANGE, ROUTING_KEY, body, mandatory=True, properties=pika.BasicProperties(
                message_id=str(uuid.uuid4()), content_type="application/json", content_encoding="utf-8",
                delivery_mode=pika.DeliveryMode.Persistent, type=ROUTING_KEY, headers={}))
    finally:
        connection.close()


def _publish(amqp_uri: str, count: int, body: bytes, publishers: int, started: list[float]) -> float:
    """``publishers`` confirming publishers side by side (each its own connection): a confirm
    waits for the quorum log's fsync, so one synchronous publisher measures a round trip, not the
    broker; several keep messages in flight like our relay's batches do. Returns seconds."""
    shares = [count // publishers + (1 if i < count % publishers else 0) for i in range(publishers)]
    threads = [threading.Thread(target=_publish_one, args=(amqp_uri, share, body, started)) for share in shares]
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - begin


def _consume(amqp_uri: str, count: int, prefetch: int, timeout: float = 300) -> float:
    """Consume and ack ``count`` messages one by one; returns the wall time of the last ack."""
    connection = _connect(amqp_uri)
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=prefetch)
        received = 0
        deadline = time.monotonic() + timeout
        for method, _properties, _body in channel.consume(QUEUE, inactivity_timeout=1):
            if method is not None:
                channel.basic_ack(method.delivery_tag)
                received += 1
                if received >= count:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumed {received} of {count} in {timeout}s")
        last_ack = time.monotonic()
        channel.cancel()
        return last_ack
    finally:
        connection.close()


def _consumer_process(amqp_uri: str, count: int, prefetch: int, ready, last_ack) -> None:
    """Consume and ack ``count`` messages one by one; sets ``ready`` once consuming, puts the
    time of the last ack on ``last_ack``."""
    connection = _connect(amqp_uri)
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    received = [0]

    def on_message(channel, method, _properties, _body):
        channel.basic_ack(method.delivery_tag)
        received[0] += 1
        if received[0] >= count:
            last_ack.put(time.monotonic())
            channel.stop_consuming()

    channel.basic_consume(QUEUE, on_message)
    ready.set()
    channel.start_consuming()
    connection.close()


def measure(amqp_uri: str, *, messages: int = 20000, size: int | None = None, prefetch: int = 4,
            publishers: int = 8) -> dict:
    """The three phases on the broker at ``amqp_uri``; leaves nothing behind."""
    size = size or typical_envelope_size()
    body = (b'{"pad":"' + b"x" * size)[:size - 2] + b'"}'
    connection = _connect(amqp_uri)
    channel = connection.channel()
    channel.queue_delete(QUEUE)
    _declare(channel)
    try:
        publish_s = _publish(amqp_uri, messages, body, publishers, [])
        begin = time.monotonic()
        consume_s = _consume(amqp_uri, messages, prefetch) - begin
        # End to end: the consumer, in its own process like our services (no shared GIL), is
        # consuming before the first publish; CLOCK_MONOTONIC is one clock for both processes.
        context = multiprocessing.get_context("spawn")
        ready, last_ack = context.Event(), context.Queue()
        consumer = context.Process(target=_consumer_process, args=(amqp_uri, messages, prefetch, ready, last_ack))
        consumer.start()
        if not ready.wait(120):
            consumer.kill()
            raise TimeoutError("the consumer process did not start consuming")
        started: list[float] = []
        _publish(amqp_uri, messages, body, publishers, started)
        e2e_s = last_ack.get(timeout=600) - min(started)
        consumer.join(30)
    finally:
        channel.queue_delete(QUEUE)
        channel.exchange_delete(EXCHANGE)
        connection.close()
    return {"raw_broker_messages": messages, "raw_broker_msg_bytes": size, "raw_broker_prefetch": prefetch,
            "raw_broker_publishers": publishers,
            "raw_broker_publish_msgs_per_s": round(messages / publish_s, 1),
            "raw_broker_consume_msgs_per_s": round(messages / consume_s, 1),
            "raw_broker_msgs_per_s": round(messages / e2e_s, 1)}


def main() -> int:
    from bench.common import machine, report
    from tests.support.rabbitmq import throwaway_rabbitmq
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--size", type=int, help="message bytes (default: a real 30-value envelope)")
    parser.add_argument("--prefetch", type=int, default=4, help="4 = our SQLite services, 10 = PostgreSQL")
    parser.add_argument("--publishers", type=int, default=8, help="confirming publishers side by side")
    parser.add_argument("--amqp-uri", help="an existing broker (default: a throwaway node)")
    args = parser.parse_args()
    with (nullcontext() if args.amqp_uri else throwaway_rabbitmq()) as node:
        figures = measure(args.amqp_uri or node.amqp_uri, messages=args.messages, size=args.size,
                          prefetch=args.prefetch, publishers=args.publishers)
    figures["machine"] = machine()
    report("Raw RabbitMQ: confirmed persistent publish -> quorum queue -> acked consume", [
        ("messages x bytes", f"{figures['raw_broker_messages']} x {figures['raw_broker_msg_bytes']}",
         f"prefetch {figures['raw_broker_prefetch']}, {figures['raw_broker_publishers']} publishers"),
        ("publish (confirmed)", f"{figures['raw_broker_publish_msgs_per_s']:,.0f}/s", "nobody consuming"),
        ("consume (acked)", f"{figures['raw_broker_consume_msgs_per_s']:,.0f}/s", "from the backlog"),
        ("end to end", f"{figures['raw_broker_msgs_per_s']:,.0f}/s", "publisher and consumer at once"),
    ], figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
