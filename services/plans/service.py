"""plans: the nameko service. Entrypoints only translate: decode, call a handler, return."""
from __future__ import annotations


from services.plans import handlers
from services.plans.commands import AcknowledgeAssignment, IssueDirective, RegisterUnits
from shared.service_base import ServiceBase, run_command, rpc
from shared.validation import parse


class PlansService(ServiceBase):
    name = "plans"

    @rpc
    def register_units(self, payload: dict) -> dict:
        return run_command(self.uow, handlers.register_units, parse(RegisterUnits, payload))

    @rpc
    def issue_directive(self, payload: dict) -> dict:
        return run_command(self.uow, handlers.issue_directive, parse(IssueDirective, payload))

    @rpc
    def acknowledge_assignment(self, payload: dict) -> dict:
        return run_command(self.uow, handlers.acknowledge_assignment,
                           parse(AcknowledgeAssignment, payload))

    @rpc
    def get_directive(self, directive_id: str) -> dict:
        with self.uow.database.session() as session:
            return handlers.get_directive(session, directive_id)

    @rpc
    def list_units(self, parent_code: str | None = None, level: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[dict]:
        with self.uow.database.session() as session:
            return handlers.list_units(session, parent_code=parent_code, level=level,
                                       limit=min(int(limit), 1000), offset=int(offset))
