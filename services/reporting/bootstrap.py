"""reporting's composition root: what the nameko service is built from, in one place.

Reporting has no settings of its own: its database URL is read by shared.messaging.nameko_ext's
UnitOfWork from the nameko config when the container starts, and its clock is the views' ``now``
(UTC now unless a caller passes one). Nothing is read at import time. The consumer's handler map
sends every event type reporting subscribes to (all of them, shared.messaging.topology) to
projection.record_and_project: keep the event, fold it into the read models.
"""
from __future__ import annotations

from services.reporting import projection
from shared.messaging.topology import SUBSCRIPTIONS


def event_handlers(types: list[str] | None = None) -> dict:
    """The Inbox's handler map: event type -> handler (event, uow, envelope), for ``types`` (by
    default every type reporting subscribes to)."""
    if types is None:
        types = SUBSCRIPTIONS["reporting"]
    return {event_type: projection.record_and_project for event_type in types}
