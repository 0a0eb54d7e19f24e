"""Publishing with publisher confirms and ``mandatory``, in batches.

One AMQP channel in confirm mode; a batch is written in one go and then the broker's acks,
nacks and returns are awaited together, so a batch costs one round trip instead of one per
message. A message counts as published only when the broker confirmed it and did not return it
as unroutable.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import amqp

from shared.messaging import topology as topo


class PublishError(Exception):
    """The broker could not be reached or did not confirm in time (retry later)."""


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: str
    exchange: str
    routing_key: str
    body: bytes
    headers: dict | None = None
    correlation_id: str | None = None
    event_type: str | None = None


@dataclass(frozen=True)
class PublishResult:
    confirmed: list[str]          # message ids routed and confirmed
    returned: dict[str, str]      # message id -> reason (unroutable)
    nacked: list[str]             # message ids the broker refused


def connection_params(amqp_uri: str) -> dict:
    url = urlparse(amqp_uri)
    vhost = unquote(url.path[1:]) if url.path and url.path != "/" else "/"
    return {
        "host": f"{url.hostname or '127.0.0.1'}:{url.port or 5672}",
        "userid": unquote(url.username or "guest"),
        "password": unquote(url.password or "guest"),
        "virtual_host": vhost,
    }


class ConfirmingPublisher:
    """Thread-safe (one batch at a time) confirming publisher with lazy (re)connection.

    py-amqp sends heartbeats only when asked to, and an idle publisher is not asked: the broker
    closes a connection that stayed silent for two heartbeat intervals. So a connection idle for
    more than half an interval is replaced before the next batch, and a batch that fails on a
    reused connection is tried once more on a fresh one (a message published twice is absorbed by
    the consumers' inboxes; one never published would be a loss only if we gave up).
    """

    def __init__(self, amqp_uri: str, *, confirm_timeout: float = 30.0, declare_topology: bool = True,
                 heartbeat: int = 30):
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self.declare_topology = declare_topology
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._connection: amqp.Connection | None = None
        self._channel = None
        self._next_tag = 1
        self._acked: set[int] = set()
        self._nacked: set[int] = set()
        self._returned: dict[str, str] = {}
        self._last_used = 0.0

    # -- connection -----------------------------------------------------------------------------
    def _connect(self) -> None:
        connection = amqp.Connection(**connection_params(self.amqp_uri), heartbeat=self.heartbeat,
                                     connect_timeout=5)
        connection.connect()
        channel = connection.channel()
        if self.declare_topology:
            topo.declare(channel)
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._connection, self._channel = connection, channel
        self._next_tag = 1

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def _drop_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # the connection is already broken; nothing left to release
                pass

    # -- broker callbacks -----------------------------------------------------------------------
    def _confirm(self, target: set[int], delivery_tag: int, multiple: bool) -> None:
        if multiple:
            target.update(range(1, delivery_tag + 1))
        else:
            target.add(delivery_tag)

    def _on_ack(self, delivery_tag, multiple):
        self._confirm(self._acked, delivery_tag, multiple)

    def _on_nack(self, delivery_tag, multiple):
        self._confirm(self._nacked, delivery_tag, multiple)

    def _on_return(self, exc, exchange, routing_key, message):
        message_id = message.properties.get("message_id")
        self._returned[message_id] = f"unroutable: {exchange}/{routing_key} ({exc})"

    # -- publishing -----------------------------------------------------------------------------
    def publish_batch(self, messages: list[OutgoingMessage]) -> PublishResult:
        if not messages:
            return PublishResult([], {}, [])
        with self._lock:
            if self._connection is not None and self.heartbeat and \
                    time.monotonic() - self._last_used > self.heartbeat / 2:
                self._drop_connection()  # silent too long: the broker may have closed it already
            for last_try in (self._connection is None, True):
                try:
                    result = self._publish_batch(messages)
                    self._last_used = time.monotonic()
                    return result
                except (OSError, socket.timeout, amqp.exceptions.AMQPError, AttributeError) as exc:
                    self._drop_connection()
                    if last_try:
                        raise PublishError(f"publish failed: {exc!r}") from exc
        raise AssertionError("unreachable")

    def _publish_batch(self, messages: list[OutgoingMessage]) -> PublishResult:
        if self._connection is None:
            self._connect()
        self._acked.clear()
        self._nacked.clear()
        self._returned.clear()
        tags: dict[int, str] = {}
        for message in messages:
            properties = {
                "message_id": message.message_id,
                "content_type": "application/json",
                "content_encoding": "utf-8",
                "delivery_mode": 2,
                "application_headers": dict(message.headers or {}),
            }
            if message.correlation_id:
                properties["correlation_id"] = message.correlation_id
            if message.event_type:
                properties["type"] = message.event_type
            self._channel.basic_publish(amqp.Message(message.body, **properties),
                                        exchange=message.exchange, routing_key=message.routing_key,
                                        mandatory=True)
            tags[self._next_tag] = message.message_id
            self._next_tag += 1
        deadline = time.monotonic() + self.confirm_timeout
        while not set(tags) <= (self._acked | self._nacked):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError(f"no confirm for {len(set(tags) - self._acked - self._nacked)} messages")
            try:
                self._connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                continue
        confirmed = [mid for tag, mid in tags.items() if tag in self._acked and mid not in self._returned]
        nacked = [mid for tag, mid in tags.items() if tag in self._nacked]
        returned = {mid: reason for mid, reason in self._returned.items() if mid in tags.values()}
        return PublishResult(confirmed, returned, nacked)


def declare_platform_topology(amqp_uri: str) -> None:
    """Declare every exchange, queue and binding of the platform, then disconnect."""
    connection = amqp.Connection(**connection_params(amqp_uri), connect_timeout=5)
    connection.connect()
    try:
        topo.declare(connection.channel())
    finally:
        connection.close()
