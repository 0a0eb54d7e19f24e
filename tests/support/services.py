"""Service classes used only by tests, run as real processes via ``python -m shared.runner``."""
from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from shared.messaging.nameko_ext import Inbox, reliable_event_handler
from shared.messaging.topology import SUBSCRIPTIONS
from shared.service_base import ServiceBase

effects_metadata = MetaData()
effects = Table("effects", effects_metadata, Column("id", Integer, primary_key=True),
                Column("message_id", String(36)), Column("unit_code", String(32)))

POISON_UNIT = "POISON"


def record_effect(event, uow, envelope):
    """One row per handled message; a message about the POISON unit always fails."""
    unit = getattr(event, "unit_code", None)
    if unit == POISON_UNIT:
        raise RuntimeError("this handler always fails for the poison unit")
    uow.session.execute(insert(effects).values(message_id=envelope.message_id, unit_code=unit))


class ReportingUnderTest(ServiceBase):
    """Takes the reporting queue (every event type) with a handler we control."""

    name = "reporting"
    inbox = Inbox({event_type: record_effect for event_type in SUBSCRIPTIONS["reporting"]})

    @reliable_event_handler()
    def consume(self, messages: list[tuple[bytes, int]]):
        return self.inbox.process_batch(messages)
