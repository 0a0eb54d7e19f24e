"""The idempotent, failure-aware consumer: decode, de-duplicate, handle, commit, decide.

``ReliableConsumer.process`` never raises. It returns what the transport must do with the
message: ``Ack`` (done, or a duplicate), ``Retry`` (after a delay) or ``DeadLetter`` (with the
reason). The handler's effect, its new outbox records and the inbox record
(consumer, message id) commit in one transaction, so a redelivered message has no second effect.

``process_batch`` does the same for several messages in ONE transaction: a commit (and, on
SQLite, a turn at the single writer lock) per batch instead of per message is what lets a service
keep up with a national fan-out. If anything in the batch fails, the whole transaction is rolled
back and every message is processed again on its own, so one bad message never costs the others
more than a retry and each outcome stays exactly what ``process`` would have returned.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import structlog
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError, IntegrityError

from shared.contracts import ContractError, Envelope, Event, decode, utcnow
from shared.db import Database, UnitOfWork
from shared.messaging.tables import inbox

log = structlog.get_logger(__name__)

EventHandler = Callable[[Event, UnitOfWork, Envelope], None]


def handles_many(many: Callable[[UnitOfWork, list[tuple[Envelope, Event]]], None]):
    """Mark an event handler as having a set-based twin: in a batch, a run of consecutive messages
    for the same handler goes to ``many(uow, [(envelope, event), ...])`` in one call, which must
    leave exactly the rows the handler leaves one message at a time. A run has no single
    correlation or causation: a twin that emits events gives each the correlation and causation
    (``uow.add_event(..., correlation_id=, causation_id=)``) of the message it comes from."""
    def mark(handler: EventHandler) -> EventHandler:
        handler.many = many
        return handler
    return mark


class FatalError(Exception):
    """Raised by a handler for a message that can never succeed: dead-letter it, do not retry."""


class RetryableError(Exception):
    """Raised by a handler for a condition that may clear (a peer not yet consistent, ...)."""


@dataclass(frozen=True)
class Ack:
    event_type: str | None
    duplicate: bool = False
    outcome: str = "processed"


@dataclass(frozen=True)
class Retry:
    event_type: str | None
    delay_ms: int
    attempt: int
    reason: str
    outcome: str = "retried"


@dataclass(frozen=True)
class DeadLetter:
    event_type: str | None
    reason: str
    outcome: str = "dead_lettered"


Outcome = Ack | Retry | DeadLetter

# A DataError (a value too long for its column, ...) fails the same way on every attempt.
FATAL_ERRORS = (FatalError, ContractError, ValidationError, ValueError, KeyError, TypeError, LookupError,
                DataError)


class ReliableConsumer:
    def __init__(self, consumer: str, database: Database, handlers: dict[str, EventHandler],
                 retry_delays_ms: list[int]):
        self.consumer = consumer
        self.database = database
        self.handlers = handlers
        self.retry_delays_ms = retry_delays_ms

    def process(self, body: bytes, attempt: int = 0) -> Outcome:
        """attempt = how many times this message already failed here (0 on first delivery)."""
        started = time.perf_counter()
        decoded = self._decode(body)
        if not isinstance(decoded, tuple):
            return decoded
        return self._process_decoded(*decoded, attempt, started)

    def process_batch(self, messages: list[tuple[bytes, int]]) -> list[Outcome]:
        """Outcomes, in order, of ``[(body, attempt), ...]`` handled in one transaction."""
        started = time.perf_counter()
        outcomes: list[Outcome | None] = [None] * len(messages)
        work: list[tuple[int, Envelope, Event, EventHandler]] = []
        for index, (body, _attempt) in enumerate(messages):
            decoded = self._decode(body)
            if isinstance(decoded, tuple):
                work.append((index, *decoded))
            else:
                outcomes[index] = decoded
        if len(work) > 1:
            try:
                for index, outcome in self._handle_together(work, started):
                    outcomes[index] = outcome
                return outcomes  # type: ignore[return-value]
            except Exception as exc:  # roll back all, then let each message succeed or fail alone
                log.info("batch_split", consumer=self.consumer, size=len(work), error=repr(exc))
        for index, envelope, event, handler in work:
            outcomes[index] = self._process_decoded(envelope, event, handler, messages[index][1],
                                                    time.perf_counter())
        return outcomes  # type: ignore[return-value]

    def _decode(self, body: bytes) -> tuple[Envelope, Event, EventHandler] | DeadLetter:
        try:
            envelope, event = decode(body)
        except ContractError as exc:
            log.error("message_rejected", consumer=self.consumer, reason=str(exc))
            return DeadLetter(None, f"{type(exc).__name__}: {exc}")
        handler = self.handlers.get(envelope.type)
        if handler is None:
            return DeadLetter(envelope.type, f"no handler for {envelope.type} in {self.consumer}")
        return envelope, event, handler

    def _handle_together(self, work, started: float) -> list[tuple[int, Ack]]:
        results: list[tuple[int, Ack]] = []
        with self.database.unit_of_work() as uow:
            seen = set(uow.session.execute(select(inbox.c.message_id).where(
                inbox.c.consumer == self.consumer,
                inbox.c.message_id.in_([envelope.message_id for _, envelope, _, _ in work]))).scalars())
            records = []
            run: list[tuple[Envelope, Event]] = []  # consecutive messages for one set-based twin
            run_many = None
            for index, envelope, event, handler in work:
                if envelope.message_id in seen:  # redelivered, or twice in this very batch
                    results.append((index, Ack(envelope.type, duplicate=True, outcome="duplicate")))
                    continue
                seen.add(envelope.message_id)
                many = getattr(handler, "many", None)
                if run and many is not run_many:
                    run_many(uow, run)
                    run = []
                if many is not None:
                    run.append((envelope, event))
                    run_many = many
                else:
                    # Events the handler emits carry this message's correlation and causation.
                    uow.correlation_id, uow.causation_id = envelope.correlation_id, envelope.message_id
                    with structlog.contextvars.bound_contextvars(
                            message_id=envelope.message_id, correlation_id=envelope.correlation_id,
                            event_type=envelope.type, consumer=self.consumer):
                        handler(event, uow, envelope)
                records.append({"consumer": self.consumer, "message_id": envelope.message_id,
                                "event_type": envelope.type, "processed_at": utcnow()})
                results.append((index, Ack(envelope.type)))
            if run:
                run_many(uow, run)
            if records:
                uow.session.execute(insert(inbox), records)
            uow.commit()  # an IntegrityError (a concurrent duplicate) splits the batch
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        for index, envelope, _, _ in work:
            log.info("message_processed", message_id=envelope.message_id,
                     correlation_id=envelope.correlation_id, event_type=envelope.type,
                     consumer=self.consumer, batch=len(work), duration_ms=duration_ms)
        return results

    def _process_decoded(self, envelope: Envelope, event: Event, handler: EventHandler,
                         attempt: int, started: float) -> Outcome:
        with structlog.contextvars.bound_contextvars(
                message_id=envelope.message_id, correlation_id=envelope.correlation_id,
                event_type=envelope.type, consumer=self.consumer):
            try:
                outcome = self._handle_once(envelope, event, handler)
            except FATAL_ERRORS as exc:
                log.error("message_failed_fatally", error=repr(exc), attempt=attempt)
                return DeadLetter(envelope.type, f"{type(exc).__name__}: {exc}")
            except Exception as exc:  # anything else may be transient: bounded retries
                if attempt < len(self.retry_delays_ms):
                    delay = self.retry_delays_ms[attempt]
                    log.warning("message_failed_will_retry", error=repr(exc), attempt=attempt + 1,
                                retry_in_ms=delay)
                    return Retry(envelope.type, delay, attempt + 1, f"{type(exc).__name__}: {exc}")
                log.error("message_failed_retries_exhausted", error=repr(exc), attempt=attempt)
                return DeadLetter(envelope.type,
                                  f"retries exhausted after {attempt + 1} attempts: {type(exc).__name__}: {exc}")
            log.info("message_processed", duplicate=outcome.duplicate,
                     duration_ms=round((time.perf_counter() - started) * 1000, 2))
            return outcome

    def _handle_once(self, envelope: Envelope, event: Event, handler: EventHandler) -> Ack:
        with self.database.unit_of_work(correlation_id=envelope.correlation_id,
                                        causation_id=envelope.message_id) as uow:
            if self._already_processed(uow, envelope.message_id):
                return Ack(envelope.type, duplicate=True, outcome="duplicate")
            handler(event, uow, envelope)
            uow.session.execute(insert(inbox).values(
                consumer=self.consumer, message_id=envelope.message_id,
                event_type=envelope.type, processed_at=utcnow()))
            try:
                uow.commit()
            except IntegrityError:
                # A concurrent delivery of the same message committed first: its effect stands.
                uow.rollback()
                if self._already_processed_fresh(envelope.message_id):
                    return Ack(envelope.type, duplicate=True, outcome="duplicate")
                raise
        return Ack(envelope.type)

    def _already_processed(self, uow: UnitOfWork, message_id: str) -> bool:
        return uow.session.execute(
            select(inbox.c.message_id).where(inbox.c.consumer == self.consumer,
                                             inbox.c.message_id == message_id)
        ).first() is not None

    def _already_processed_fresh(self, message_id: str) -> bool:
        with self.database.session() as session:
            return session.execute(
                select(inbox.c.message_id).where(inbox.c.consumer == self.consumer,
                                                 inbox.c.message_id == message_id)
            ).first() is not None
