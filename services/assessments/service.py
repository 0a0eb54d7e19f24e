"""assessments: the nameko service. Entrypoints only translate: decode, call a handler, return."""
from __future__ import annotations


from services.assessments import handlers
from services.assessments.commands import SubmitValues
from shared.messaging.nameko_ext import Inbox, config_timer, reliable_event_handler
from shared.observability import metrics
from shared.service_base import ServiceBase, run_command, rpc
from shared.validation import parse


class AssessmentsService(ServiceBase):
    name = "assessments"
    inbox = Inbox(handlers.EVENT_HANDLERS)

    @reliable_event_handler()
    def consume(self, body: bytes, attempt: int):
        return self.inbox.process(body, attempt)

    @rpc
    def submit_values(self, payload: dict) -> dict:
        return run_command(self.uow, handlers.submit_values, parse(SubmitValues, payload))

    @rpc
    def list_obligations(self, unit_code=None, directive_id=None, state=None, limit=100, offset=0):
        with self.uow.database.session() as session:
            return handlers.list_obligations(session, unit_code=unit_code, directive_id=directive_id,
                                             state=state, limit=min(int(limit), 1000), offset=int(offset))

    @rpc
    def get_obligation(self, obligation_id: str) -> dict:
        with self.uow.database.session() as session:
            return handlers.get_obligation(session, obligation_id)

    @config_timer("SWEEP_INTERVAL_S", 30)
    def sweep_deadlines(self):
        missed = handlers.sweep_deadlines(self.uow.database)
        metrics.SWEEP_LAST_RUN.labels(self.name).set_to_current_time()
        if missed:
            metrics.DEADLINES_MISSED.labels(self.name).inc(missed)
        return missed
