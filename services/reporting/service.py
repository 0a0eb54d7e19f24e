"""reporting: the nameko service. Entrypoints only translate: decode, call a handler, return."""
from __future__ import annotations


from services.reporting import handlers
from shared.messaging.nameko_ext import Inbox, reliable_event_handler
from shared.messaging.topology import SUBSCRIPTIONS
from shared.service_base import ServiceBase, rpc


class ReportingService(ServiceBase):
    name = "reporting"
    inbox = Inbox(handlers.event_handlers(SUBSCRIPTIONS["reporting"]))

    @reliable_event_handler()
    def consume(self, messages: list[tuple[bytes, int]]):
        return self.inbox.process_batch(messages)

    @rpc
    def directive_compliance(self, directive_id: str, unit_codes: list[str] | None = None) -> dict:
        with self.uow.database.session() as session:
            return handlers.directive_compliance(session, directive_id, unit_codes)

    @rpc
    def event_count(self) -> int:
        with self.uow.database.session() as session:
            return handlers.event_count(session)
