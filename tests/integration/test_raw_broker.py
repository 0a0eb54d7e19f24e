"""The raw-broker benchmark against a real node: every message it publishes is consumed, and it
leaves no queue or exchange behind."""
from __future__ import annotations

from urllib.parse import unquote, urlsplit

from bench import raw_broker


def test_raw_broker_moves_every_message_and_cleans_up(rabbit, amqp_uri):
    figures = raw_broker.measure(amqp_uri, messages=200, size=1500, prefetch=4, publishers=2)
    assert figures["raw_broker_messages"] == 200 and figures["raw_broker_msg_bytes"] == 1500
    for key in ("raw_broker_publish_msgs_per_s", "raw_broker_consume_msgs_per_s", "raw_broker_msgs_per_s"):
        assert figures[key] > 0
    if hasattr(rabbit, "queue_depths"):
        assert raw_broker.QUEUE not in rabbit.queue_depths(unquote(urlsplit(amqp_uri).path[1:]))


def test_the_default_size_is_a_real_30_value_envelope():
    assert 1500 < raw_broker.typical_envelope_size() < 6000
