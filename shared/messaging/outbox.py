"""The outbox relay: publishes committed outbox records and marks them sent after the confirm.

It never tracks a "last published id": every poll takes the oldest *pending* rows, so a
transaction that commits late with a lower id is still picked up (nothing is skipped when
transactions commit out of id order). With PostgreSQL, ``FOR UPDATE SKIP LOCKED`` lets two
replicas relay side by side without publishing the same row twice in the normal case; a crash
between the broker's confirm and the commit of ``published_at`` republishes the row, which the
consumers' inbox absorbs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import structlog
from sqlalchemy import func, or_, select, update

from shared.contracts import utcnow
from shared.db import Database
from shared.messaging.publisher import ConfirmingPublisher, OutgoingMessage
from shared.messaging.tables import outbox

log = structlog.get_logger(__name__)

# An unroutable or refused record waits this long before the next try (doubling, capped).
RETRY_BASE = timedelta(seconds=2)
RETRY_CAP = timedelta(minutes=5)


@dataclass(frozen=True)
class RelayReport:
    published: int = 0
    returned: int = 0
    nacked: int = 0

    @property
    def handled(self) -> int:
        return self.published + self.returned + self.nacked


class OutboxRelay:
    def __init__(self, database: Database, publisher: ConfirmingPublisher, *, batch_size: int = 500):
        self.database = database
        self.publisher = publisher
        self.batch_size = batch_size

    def relay_once(self) -> RelayReport:
        """Publish one batch of due pending records; raises PublishError if the broker is away."""
        now = utcnow()
        with self.database.session() as session, session.begin():
            rows = session.execute(
                select(outbox.c.id, outbox.c.message_id, outbox.c.exchange, outbox.c.routing_key,
                       outbox.c.body, outbox.c.headers, outbox.c.correlation_id, outbox.c.event_type,
                       outbox.c.attempts)
                .where(outbox.c.published_at.is_(None))
                .where(or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now))
                .order_by(outbox.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return RelayReport()
            result = self.publisher.publish_batch([
                OutgoingMessage(message_id=row.message_id, exchange=row.exchange,
                                routing_key=row.routing_key, body=row.body.encode("utf-8"),
                                headers=json.loads(row.headers) if row.headers else None,
                                correlation_id=row.correlation_id, event_type=row.event_type)
                for row in rows
            ])
            if result.confirmed:
                session.execute(update(outbox).where(outbox.c.message_id.in_(result.confirmed))
                                .values(published_at=utcnow()))
            failures = {**result.returned, **{mid: "nacked by broker" for mid in result.nacked}}
            attempts = {row.message_id: row.attempts for row in rows}
            for message_id, reason in failures.items():
                delay = min(RETRY_BASE * (2 ** attempts[message_id]), RETRY_CAP)
                session.execute(update(outbox).where(outbox.c.message_id == message_id).values(
                    attempts=outbox.c.attempts + 1, last_error=reason, next_attempt_at=now + delay))
                log.warning("outbox_publish_failed", message_id=message_id, reason=reason,
                            retry_in_s=delay.total_seconds())
        return RelayReport(len(result.confirmed), len(result.returned), len(result.nacked))

    def pending(self) -> tuple[int, float]:
        """(number of pending records, age in seconds of the oldest one)."""
        with self.database.session() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(outbox.c.created_at))
                .where(outbox.c.published_at.is_(None))
            ).one()
        if not oldest:
            return 0, 0.0
        if isinstance(oldest, str):  # SQLite aggregates bypass the column type
            oldest = datetime.fromisoformat(oldest)
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)
        return count, max(0.0, (utcnow() - oldest).total_seconds())
