"""nameko glue: the database, the outbox relay, the reliable event entrypoint, config timers.

Only this module and the services' ``service.py`` know nameko; handlers and domain do not.
"""
from __future__ import annotations

import time
from functools import partial

import eventlet
import eventlet.event
import eventlet.semaphore
import structlog
from kombu import Queue
from nameko.extensions import DependencyProvider, SharedExtension
from nameko.messaging import Consumer, QueueConsumer
from nameko.timer import Timer

from shared.db import Database
from shared.messaging import topology as topo
from shared.messaging.inbox import Ack, DeadLetter, Outcome, ReliableConsumer, Retry
from shared.messaging.outbox import OutboxRelay
from shared.messaging.rpc import IDEMPOTENCY_KEY
from shared.messaging.publisher import (ConfirmingPublisher, OutgoingMessage, PublishError,
                                        declare_platform_topology)
from shared.observability import metrics

log = structlog.get_logger(__name__)

ATTEMPT_HEADER = "x-thongthin-attempt"


class DatabaseExtension(SharedExtension):
    """The service's Database, one per container, shared by every provider that needs it."""

    database: Database | None = None

    def setup(self):
        self.database = Database(self.container.config["DATABASE_URL"])

    def kill(self):
        self.stop()

    def stop(self):
        if self.database is not None:
            self.database.dispose()


class OutboxRelayExtension(SharedExtension):
    """Runs the relay loop in a managed green thread; ``kick()`` wakes it after a commit."""

    database_ext = DatabaseExtension()

    def setup(self):
        config = self.container.config
        self.interval = float(config.get("RELAY_INTERVAL_S", 0.5))
        self.publisher = ConfirmingPublisher(config["AMQP_URI"], heartbeat=config.get("HEARTBEAT", 30))
        self._wake = eventlet.event.Event()
        self._running = False
        self._gt = None
        self._last_stats = 0.0

    def start(self):
        self.relay = OutboxRelay(self.database_ext.database, self.publisher)
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._loop, identifier="outbox_relay")

    def kick(self):
        if not self._wake.ready():
            self._wake.send(True)

    def _loop(self):
        service = self.container.service_name
        failures = 0
        while self._running:
            try:
                report = self.relay.relay_once()
                failures = 0
                if report.published:
                    metrics.OUTBOX_PUBLISHED.labels(service).inc(report.published)
                if report.handled:
                    continue  # more may be waiting: drain before sleeping
            except PublishError as exc:
                failures += 1
                log.warning("outbox_relay_broker_unavailable", error=str(exc), failures=failures)
            except Exception as exc:  # database away, ...: keep the loop alive, back off
                failures += 1
                log.error("outbox_relay_error", error=repr(exc), failures=failures)
            self._update_stats(service)
            self._sleep(min(self.interval * (2 ** min(failures, 6)), 30.0))

    def _sleep(self, seconds: float) -> None:
        self._wake = eventlet.event.Event()
        with eventlet.Timeout(seconds, False):
            self._wake.wait()

    def _update_stats(self, service: str) -> None:
        now = time.monotonic()
        if now - self._last_stats < 1.0:
            return
        self._last_stats = now
        try:
            count, age = self.relay.pending()
        except Exception:  # stats are best effort; the relay loop reports real errors
            return
        metrics.OUTBOX_PENDING.labels(service).set(count)
        metrics.OUTBOX_OLDEST_AGE.labels(service).set(age)

    def stop(self):
        self._running = False
        self.kick()
        if self._gt is not None:
            self._gt.wait()
        self.publisher.close()

    def kill(self):
        self._running = False
        if self._gt is not None:
            self._gt.kill()
        self.publisher.close()


class UnitOfWork(DependencyProvider):
    """Gives a worker ``self.uow()``: a unit of work carrying the worker's correlation id.

    After each worker the relay is woken, so committed events leave without waiting for a poll.
    """

    database_ext = DatabaseExtension()
    relay_ext = OutboxRelayExtension()

    def get_dependency(self, worker_ctx):
        database = self.database_ext.database

        def unit_of_work(**kwargs):
            kwargs.setdefault("correlation_id", worker_ctx.data.get("correlation_id"))
            return database.unit_of_work(**kwargs)
        unit_of_work.database = database
        # set by the caller (the gateway) on write RPCs: see shared.service_base.run_command
        unit_of_work.idempotency_key = worker_ctx.data.get(IDEMPOTENCY_KEY)
        unit_of_work.entrypoint = worker_ctx.entrypoint.method_name
        return unit_of_work

    def worker_teardown(self, worker_ctx):
        self.relay_ext.kick()


class Inbox(DependencyProvider):
    """Gives a worker the service's ReliableConsumer (handlers are bound at declaration)."""

    database_ext = DatabaseExtension()
    relay_ext = OutboxRelayExtension()

    def __init__(self, handlers):
        self.handlers = handlers

    consumer: ReliableConsumer | None = None

    def start(self):
        # After every setup(): the shared database exists by now.
        self.consumer = ReliableConsumer(topo.queue_name(self.container.service_name),
                                         self.database_ext.database, self.handlers,
                                         topo.retry_delays_ms())

    def get_dependency(self, worker_ctx):
        return self.consumer

    def worker_teardown(self, worker_ctx):
        self.relay_ext.kick()


class RawQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a body kombu cannot decode still reaches the
    entrypoint (which decodes it itself and dead-letters it) instead of breaking the loop, and
    that the prefetch covers whole batches rather than one message per worker."""

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    @property
    def prefetch_count(self):
        config = self.container.config
        return batch_size(config) * (batch_concurrency(config, self.container.max_workers) + 1)

    def _undecodable(self, provider, message, exc):
        self.handle_message(provider, None, message)


def batch_size(config: dict) -> int:
    """Most messages one worker handles in one transaction (CONSUMER_BATCH_SIZE, default 100)."""
    return max(1, int(config.get("CONSUMER_BATCH_SIZE", 100)))


def batch_concurrency(config: dict, max_workers: int) -> int:
    """Batches in flight at once (CONSUMER_CONCURRENCY): half the workers by default, leaving
    the rest to RPC and timers; on SQLite more would only queue for the single writer."""
    return max(1, int(config.get("CONSUMER_CONCURRENCY") or max(1, max_workers // 2)))


class ReliableEventHandler(Consumer):
    """Consumes the service's work queue in batches and acts on the Outcome of each message.

    Batching is natural, not timed: a message that arrives while a batch slot is free is handled
    at once (no added latency when traffic is light); messages that arrive while every slot is
    busy wait in the prefetch and go together as the next batch. The worker gets
    ``[(body, attempt), ...]`` and must return one Outcome per message, in order (see
    ``inbox.ReliableConsumer.process_batch``). Retry and dead-letter copies are published with
    confirms *before* the original is acked: a crash in between gives a duplicate (absorbed by
    the inbox), never a loss.
    """

    queue_consumer = RawQueueConsumer()

    def __init__(self, **kwargs):
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        config = self.container.config
        name = topo.queue_name(self.container.service_name)
        self.queue = Queue(name, no_declare=True)
        self.publisher = ConfirmingPublisher(config["AMQP_URI"], declare_topology=False,
                                             heartbeat=config.get("HEARTBEAT", 30))
        self.batch_size = batch_size(config)
        self._slot_count = batch_concurrency(config, self.container.max_workers)
        self._slots = eventlet.semaphore.Semaphore(self._slot_count)
        self._pending: list = []        # (message, attempt), in delivery order
        self._arrived = eventlet.event.Event()
        self._dispatching = False
        # Our queue must exist with its bindings before we consume from it.
        declare_platform_topology(config["AMQP_URI"])
        super().setup()

    def start(self):
        self._dispatching = True
        self._dispatcher = self.container.spawn_managed_thread(self._dispatch_loop,
                                                               identifier="batch_dispatcher")

    def stop(self):
        """Graceful stop: batches in flight finish and are acked; waiting ones go back to the queue.

        The queue consumer closes its connection once our consumer is cancelled, and an ack
        after that is lost (the message would be redelivered, a duplicate). So: no new batches,
        and wait for the running ones to settle while the connection still stands; only then
        cancel the consumer. Messages still waiting here are never acked: the broker gives them
        to another replica when this connection closes. (Requeueing them ourselves would hand
        them straight back to this still-registered consumer, again and again, until the
        queue's delivery limit dead-lettered them.)"""
        self._dispatching = False
        self._wake()
        for _ in range(self._slot_count):  # every slot free = every running batch settled (acked or parked)
            self._slots.acquire()
        super().stop()
        for _ in range(self._slot_count):
            self._slots.release()
        self.publisher.close()

    def kill(self):
        self._dispatching = False
        self._wake()
        super().kill()

    def handle_message(self, body, message):
        self._pending.append((message, int((message.headers or {}).get(ATTEMPT_HEADER, 0))))
        self._wake()

    def _wake(self):
        if not self._arrived.ready():
            self._arrived.send(True)

    def _dispatch_loop(self):
        while self._dispatching:
            if not self._pending:
                self._arrived = eventlet.event.Event()
                self._arrived.wait()
                continue
            self._slots.acquire()  # while every slot is busy, the next batch grows
            if not self._dispatching:
                self._slots.release()
                return
            self._spawn_batch(slot_held=True)

    def _spawn_batch(self, slot_held: bool = False) -> None:
        batch, self._pending = self._pending[:self.batch_size], self._pending[self.batch_size:]
        if not batch:
            if slot_held:
                self._slots.release()
            return
        first = batch[0][0]
        context_data = self.unpack_message_headers(first)
        correlation_id = (first.properties or {}).get("correlation_id")
        if correlation_id:
            context_data["correlation_id"] = correlation_id
        messages = [message for message, _ in batch]
        handle_result = partial(self.handle_result, messages, slot_held)
        try:
            self.container.spawn_worker(self, ([(m.body, attempt) for m, attempt in batch],), {},
                                        context_data=context_data, handle_result=handle_result)
        except Exception:  # container being killed: give the messages back
            for message in messages:
                self.queue_consumer.requeue_message(message)
            if slot_held:
                self._slots.release()

    def handle_result(self, messages, slot_held, worker_ctx, result=None, exc_info=None):
        try:
            service = self.container.service_name
            if exc_info is not None or not isinstance(result, list) or len(result) != len(messages):
                reason = repr(exc_info[1]) if exc_info else f"worker returned {result!r}"[:300]
                result = [Retry(None, topo.retry_delays_ms()[0], 1, f"consumer crashed: {reason}")] * len(messages)
            for message, outcome in zip(messages, result):
                if not isinstance(outcome, (Ack, Retry, DeadLetter)):
                    outcome = Retry(None, topo.retry_delays_ms()[0], 1, f"worker returned {outcome!r}"[:300])
                try:
                    self._settle(message, outcome)
                except Exception as error:  # noqa: BLE001 - e.g. the connection broke mid-ack
                    # Never let it escape: nameko would kill the whole container. The message is
                    # not acked, so the broker redelivers it and the inbox absorbs the repeat.
                    log.warning("settle_failed", outcome=outcome.outcome, error=repr(error))
                metrics.MESSAGES_CONSUMED.labels(service, outcome.event_type or "unknown", outcome.outcome).inc()
        finally:
            if slot_held:
                self._slots.release()
        return result, None  # the outcomes are handled: nameko must not log them as errors

    def _settle(self, message, outcome: Outcome) -> None:
        if isinstance(outcome, Ack):
            self.queue_consumer.ack_message(message)
            return
        headers = dict(message.headers or {})
        if isinstance(outcome, Retry):
            headers[ATTEMPT_HEADER] = outcome.attempt
            headers["x-thongthin-last-error"] = outcome.reason[:500]
            target = (topo.RETRY_EXCHANGE, topo.retry_queue_name(self.queue.name, outcome.delay_ms))
        else:
            headers.update({"x-thongthin-reason": outcome.reason[:2000],
                            "x-thongthin-queue": self.queue.name,
                            "x-thongthin-failed-at": time.time()})
            target = (topo.DEAD_EXCHANGE, self.queue.name)
            metrics.DEAD_LETTERED.labels(self.container.service_name).inc()
        properties = message.properties or {}
        outgoing = OutgoingMessage(
            message_id=properties.get("message_id") or f"unidentified-{time.time_ns()}",
            exchange=target[0], routing_key=target[1], body=message.body, headers=headers,
            correlation_id=properties.get("correlation_id"), event_type=properties.get("type"))
        try:
            result = self.publisher.publish_batch([outgoing])
            moved = bool(result.confirmed)
        except PublishError as exc:
            log.error("retry_publish_failed", error=str(exc))
            moved = False
        if moved:
            self.queue_consumer.ack_message(message)
        else:
            # Could not park it: hand it back to the broker after a pause (no hot loop; the
            # quorum queue's delivery limit bounds how often this can happen).
            eventlet.sleep(1.0)
            self.queue_consumer.requeue_message(message)


reliable_event_handler = ReliableEventHandler.decorator


class ConfigTimer(Timer):
    """A nameko timer whose interval comes from the container config (set per environment)."""

    def __init__(self, config_key: str, default: float, **kwargs):
        super().__init__(interval=default, **kwargs)
        self.config_key = config_key

    def setup(self):
        self.interval = float(self.container.config.get(self.config_key, self.interval))


config_timer = ConfigTimer.decorator
