"""Small broker helpers for tests: read queues, publish raw bodies."""
from __future__ import annotations

import time

import amqp

from shared.messaging.publisher import connection_params


class Broker:
    def __init__(self, amqp_uri: str):
        self.connection = amqp.Connection(**connection_params(amqp_uri))
        self.connection.connect()
        self.channel = self.connection.channel()

    def close(self):
        self.connection.close()

    def get_all(self, queue: str) -> list[amqp.Message]:
        messages = []
        while (message := self.channel.basic_get(queue, no_ack=True)) is not None:
            if isinstance(message.body, str):  # py-amqp decodes bodies that declare an encoding
                message.body = message.body.encode(message.properties.get("content_encoding") or "utf-8")
            messages.append(message)
        return messages

    def depth(self, queue: str) -> int:
        return self.channel.queue_declare(queue, passive=True).message_count

    def publish_raw(self, body: bytes, routing_key: str, exchange: str = "thongthin.events",
                    message_id: str | None = None) -> None:
        self.channel.basic_publish(amqp.Message(body, message_id=message_id, delivery_mode=2,
                                                content_type="application/json"),
                                   exchange=exchange, routing_key=routing_key)

    def wait_depth(self, queue: str, expected: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            depth = self.depth(queue)
            if depth >= expected:
                return depth
            time.sleep(0.2)
        return self.depth(queue)
