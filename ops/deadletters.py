"""The dead-letter queue read and replayed over AMQP, without ever losing a message.

RabbitMQ cannot browse a queue, so reading takes messages with ``basic.get`` *without* auto-ack
and gives them all back (``basic.nack(multiple, requeue)``) when done: a crash or a dropped
connection also gives them back. Replaying publishes a copy to the message's original queue with
publisher confirms and ``mandatory`` (``ConfirmingPublisher``, as the consumers' own dead-lettering
does) and acks the dead letter only after the broker confirmed the copy, so a failure anywhere
leaves the message in the dead-letter queue (at worst a message is in both; the consumer's inbox
absorbs the duplicate). Messages not replayed go back in their order.

Where a dead letter came from (shared/messaging/nameko_ext.py ``_settle``): a consumer that gives
up sets ``x-thongthin-reason``, ``x-thongthin-queue`` and ``x-thongthin-failed-at``; a message
the broker dead-lettered itself (the quorum queue's delivery limit) carries RabbitMQ's ``x-death``
and ``x-first-death-*`` headers instead.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import amqp

from shared.messaging import topology as topo
from shared.messaging.publisher import ConfirmingPublisher, OutgoingMessage, PublishError, connection_params

REASON, QUEUE, FAILED_AT = "x-thongthin-reason", "x-thongthin-queue", "x-thongthin-failed-at"
REPLAYS, REPLAYED_AT = "x-thongthin-replays", "x-thongthin-replayed-at"
# Dropped from a replayed copy: it starts over with every retry (and new reasons if it fails again).
FAILURE_HEADERS = (REASON, QUEUE, FAILED_AT, "x-thongthin-attempt", "x-thongthin-last-error",
                   "x-death", "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange",
                   "x-last-death-queue", "x-last-death-reason", "x-last-death-exchange", "x-delivery-count")
PUBLISH_CHUNK = 200


def _text(value) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _moment(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return None


@dataclass
class DeadLetter:
    """One message in the dead-letter queue, as an operator needs to see it."""

    message_id: str | None
    event_type: str | None
    queue: str | None            # where it failed, where a replay sends it
    reason: str | None
    failed_at: datetime | None
    replays: int
    headers: dict
    properties: dict
    body: bytes
    delivery_tag: int = field(default=0, repr=False)

    @classmethod
    def from_message(cls, message: amqp.Message) -> "DeadLetter":
        properties = dict(message.properties or {})
        headers = dict(properties.pop("application_headers", None) or {})
        body = message.body
        if isinstance(body, str):  # py-amqp decodes bodies that declare a content encoding
            body = body.encode(properties.get("content_encoding") or "utf-8")
        deaths = headers.get("x-death") or []
        first_death = deaths[-1] if deaths else {}  # x-death is newest first
        event_type = _text(properties.get("type"))
        envelope = cls._envelope(body)
        if not event_type and isinstance(envelope, dict):
            event_type = envelope.get("type")
        message_id = _text(properties.get("message_id"))
        if not message_id and isinstance(envelope, dict):
            message_id = envelope.get("message_id")
        return cls(
            message_id=message_id, event_type=event_type,
            queue=_text(headers.get(QUEUE) or headers.get("x-first-death-queue") or first_death.get("queue")),
            reason=_text(headers.get(REASON) or headers.get("x-first-death-reason") or first_death.get("reason")),
            failed_at=_moment(headers.get(FAILED_AT)) or _moment(first_death.get("time")),
            replays=int(headers.get(REPLAYS) or 0), headers=headers, properties=properties, body=body,
            delivery_tag=message.delivery_tag)

    @staticmethod
    def _envelope(body: bytes):
        try:
            return json.loads(body)
        except ValueError:
            return None

    def envelope(self):
        """The body as JSON, or None if it is not JSON (such a message is dead-lettered as bad)."""
        return self._envelope(self.body)

    def summary(self) -> dict:
        return {"message_id": self.message_id, "event_type": self.event_type, "queue": self.queue,
                "reason": self.reason, "failed_at": self.failed_at.isoformat() if self.failed_at else None,
                "replays": self.replays, "bytes": len(self.body)}

    def detail(self) -> dict:
        envelope = self.envelope()
        return {**self.summary(), "headers": _plain(self.headers), "properties": _plain(self.properties),
                "body": envelope if envelope is not None else self.body.decode("utf-8", "replace")}


def _plain(value):
    """AMQP header values (datetimes, bytes, nested tables) as JSON-friendly values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


@dataclass
class ReplayReport:
    replayed: list[DeadLetter] = field(default_factory=list)
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)  # stayed in the DLQ, and why
    not_found: list[str] = field(default_factory=list)
    remaining: int = 0

    def as_dict(self) -> dict:
        return {"replayed": [letter.summary() for letter in self.replayed],
                "failed": [{**letter.summary(), "error": error} for letter, error in self.failed],
                "not_found": self.not_found, "remaining": self.remaining}


class DeadLetterQueue:
    """``with DeadLetterQueue(uri) as dlq: dlq.list()``. One connection; whatever was taken and
    not acked is given back on exit (and by the broker if the process dies)."""

    def __init__(self, amqp_uri: str, queue: str = topo.DEAD_LETTER_QUEUE):
        self.amqp_uri = amqp_uri
        self.queue = queue
        self.connection: amqp.Connection | None = None
        self.channel = None
        self._outstanding: set[int] = set()

    def __enter__(self) -> "DeadLetterQueue":
        self.connection = amqp.Connection(**connection_params(self.amqp_uri), connect_timeout=5)
        self.connection.connect()
        self.channel = self.connection.channel()
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self._give_back()
        finally:
            self.connection.close()

    def depth(self) -> int:
        return self.channel.queue_declare(self.queue, passive=True).message_count

    def _take_all(self) -> list[DeadLetter]:
        """Every message, kept unacked until ``_give_back``. Always all of them: a quorum queue
        puts a returned message behind those still waiting (RabbitMQ 3.10), so only taking and
        returning the whole queue keeps its order. We hold what we took, so this ends."""
        letters: list[DeadLetter] = []
        while (message := self.channel.basic_get(self.queue, no_ack=False)) is not None:
            self._outstanding.add(message.delivery_tag)
            letters.append(DeadLetter.from_message(message))
        return letters

    def _give_back(self) -> None:
        if not (self._outstanding and self.channel is not None and self.channel.is_open):
            self._outstanding.clear()
            return
        count = len(self._outstanding)
        # In the order they were taken, so they keep their places (py-amqp has no basic_nack;
        # reject is asynchronous: one frame each, no round trip).
        for tag in sorted(self._outstanding):
            self.channel.basic_reject(tag, requeue=True)
        self._outstanding.clear()
        # The broker re-enqueues them a few milliseconds later; wait for it, so that whoever
        # looks next (the next command) sees the whole queue.
        deadline = time.monotonic() + 2.0
        while self.depth() < count and time.monotonic() < deadline:
            time.sleep(0.01)

    def list(self, limit: int | None = None) -> tuple[list[DeadLetter], int]:
        """The first ``limit`` dead letters (all by default), oldest first, and how many there are."""
        try:
            letters = self._take_all()
        finally:
            self._give_back()
        return (letters if limit is None else letters[:limit]), len(letters)

    def find(self, message_id: str) -> list[DeadLetter]:
        """Every copy of a message (a message can be dead-lettered more than once)."""
        letters, _ = self.list()
        return [letter for letter in letters if letter.message_id == message_id]

    def replay(self, message_ids: list[str] | None = None, *, queue: str | None = None) -> ReplayReport:
        """Re-publish the chosen dead letters (by id, or all; optionally only those of one original
        queue) to their original queue; each leaves the DLQ only once its copy is confirmed."""
        report = ReplayReport()
        wanted = set(message_ids or ())
        try:
            letters = self._take_all()
            chosen = [letter for letter in letters
                      if (not wanted or letter.message_id in wanted) and (queue is None or letter.queue == queue)]
            found = {letter.message_id for letter in letters}
            report.not_found = [mid for mid in (message_ids or []) if mid not in found]
            self._republish(chosen, report)
            for letter in report.replayed:  # confirmed copies only
                self.channel.basic_ack(letter.delivery_tag)
                self._outstanding.discard(letter.delivery_tag)
            report.remaining = len(self._outstanding)
        finally:
            self._give_back()
        return report

    def _republish(self, letters: list[DeadLetter], report: ReplayReport) -> None:
        publisher = ConfirmingPublisher(self.amqp_uri, declare_topology=False)
        try:
            chunk: list[DeadLetter] = []
            for letter in letters:
                if not letter.queue:
                    report.failed.append((letter, "original queue unknown (no x-thongthin-queue or x-death)"))
                    continue
                if len(chunk) >= PUBLISH_CHUNK or letter.message_id in {other.message_id for other in chunk}:
                    self._publish_chunk(publisher, chunk, report)
                    chunk = []
                chunk.append(letter)
            self._publish_chunk(publisher, chunk, report)
        finally:
            publisher.close()

    def _publish_chunk(self, publisher: ConfirmingPublisher, chunk: list[DeadLetter], report: ReplayReport) -> None:
        if not chunk:
            return
        now = time.time()
        outgoing = []
        for index, letter in enumerate(chunk):
            headers = {key: value for key, value in letter.headers.items() if key not in FAILURE_HEADERS}
            headers[REPLAYS] = letter.replays + 1
            headers[REPLAYED_AT] = now
            outgoing.append(OutgoingMessage(
                # the publisher matches confirms by id: an id-less message gets a stand-in
                message_id=letter.message_id or f"unidentified-{time.time_ns()}-{index}",
                exchange="", routing_key=letter.queue,  # the default exchange: that queue only
                body=letter.body, headers=headers,
                correlation_id=_text(letter.properties.get("correlation_id")), event_type=letter.event_type))
        try:
            result = publisher.publish_batch(outgoing)
        except PublishError as exc:
            report.failed.extend((letter, str(exc)) for letter in chunk)
            return
        confirmed = set(result.confirmed)
        for letter, message in zip(chunk, outgoing):
            if message.message_id in confirmed:
                report.replayed.append(letter)
            elif message.message_id in result.returned:
                report.failed.append((letter, result.returned[message.message_id]))
            else:
                report.failed.append((letter, "the broker refused it (nack)"))
