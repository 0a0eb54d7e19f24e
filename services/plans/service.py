"""plans: the nameko service. Entrypoints only translate: decode, call a handler, return."""
from __future__ import annotations

from functools import partial

from services.plans import (assignment_actions, bootstrap, document_actions, domain, scope, unit_changes, unit_csv,
                            unit_endings, views)
from services.plans.development_plans import importing, reading
from services.plans.development_plans import views as plan_views
from shared.contracts.commands.plans import (AcknowledgeAssignment, AddresseeRule, AddAttachment, ChangeAssignmentState,
                                     DeclareApplicability, ForwardAssignment, IssueDirective,
                                     IssueDocument, RecordDocument, RegisterReceipt, RegisterUnits)
from shared.messaging.nameko_ext import Inbox, config_timer, reliable_event_handler
from shared.service_base import ServiceBase, rpc, run_command
from shared.errors import InputError
from shared.validation import parse, thai_date


def parse_on(value):
    """The ``on`` date of a registry query (ISO, BE or Thai), None for today."""
    if value in (None, ""):
        return None
    try:
        return thai_date(value) if not hasattr(value, "year") else value
    except ValueError as error:
        raise InputError("invalid", "on", getattr(error, "message_th", "วันที่ไม่ถูกต้อง"),
                         f"on: {error}", status=422) from None


class PlansService(ServiceBase):
    name = "plans"
    inbox = Inbox(bootstrap.EVENT_HANDLERS)

    @reliable_event_handler()
    def consume(self, messages: list[tuple[bytes, int]]):
        """The periods units have reported (assessments), which registry changes may not rewrite."""
        return self.inbox.process_batch(messages)

    @config_timer(bootstrap.SETTLE_INTERVAL_SETTING, bootstrap.SETTLE_INTERVAL_DEFAULT_S)
    def settle_ended_units(self):
        """Open assignments of units whose (future-dated) closing, merger or split has come."""
        with self.uow.database.unit_of_work() as uow:
            settled = unit_endings.settle_ended_units(uow)
            uow.commit()
            return settled

    # --- registry -------------------------------------------------------------------------------
    @rpc
    def register_units(self, payload: dict, actor: dict | None = None) -> dict:
        return run_command(self.uow, partial(unit_changes.register_units, actor=actor), parse(RegisterUnits, payload))

    @rpc
    def import_units_csv(self, text: str, dry_run: bool = False, actor: dict | None = None) -> dict:
        rows = unit_csv.units_from_csv(text)
        try:
            command = parse(RegisterUnits, {"units": rows, "dry_run": bool(dry_run)})
            return run_command(self.uow, partial(unit_changes.register_units, actor=actor), command)
        except InputError as error:  # name the row of the file: rows[3].effective_date
            raise InputError(error.code, unit_csv.csv_field(error.field or ""), error.message_th, error.message_en,
                             status=error.status, details=error.details) from None

    @rpc
    def list_units(self, parent_code=None, level=None, codes=None, search=None, limit=100, offset=0, sort=None,
                   within=None, lao_type=None, on=None):
        on = parse_on(on)
        with self.uow.database.session() as session:
            return views.list_units(session, parent_code=parent_code, level=level, codes=codes,
                                    search=search, within=within, lao_type=lao_type, limit=min(int(limit), 10000),
                                    offset=int(offset), sort=sort, on=on)

    @rpc
    def unit_history(self, code: str) -> list[dict]:
        with self.uow.database.session() as session:
            return views.unit_history(session, code)

    @rpc
    def preview_addressees(self, payload: dict) -> dict:
        rule = parse(AddresseeRule, payload).model_dump(exclude_none=True)
        with self.uow.database.session() as session:
            return views.preview_addressees(session, rule)

    @rpc
    def subtree_codes(self, root: str) -> list[str]:
        with self.uow.database.session() as session:
            return scope.subtree_codes(session, root)

    @rpc
    def registry_counts(self, on=None) -> dict:
        on = parse_on(on)
        with self.uow.database.session() as session:
            return views.registry_counts(session, on)

    # --- documents and directives -----------------------------------------------------------------
    # Every write names its actor ({"username", "role", "org_code"}): the service decides for itself
    # who may write what, whoever calls it (the gateway checks first; this is the second line).
    @rpc
    def record_document(self, payload: dict, actor: dict) -> dict:
        command = parse(RecordDocument, payload)
        with self.uow() as uow:
            result = document_actions.record_document(command, uow, created_by=domain.Actor.of(actor).username, actor=actor)
            uow.commit()
            return result

    @rpc
    def find_documents(self, number=None, sender_code=None, visible_to: list[str] | None = None, limit=100, offset=0):
        with self.uow.database.session() as session:
            return views.find_documents(session, number=number, sender_code=sender_code, visible_to=visible_to,
                                        limit=min(int(limit), 1000), offset=int(offset))

    @rpc
    def add_attachment(self, payload: dict, actor: dict) -> dict:
        return run_command(self.uow, partial(document_actions.add_attachment, actor=actor), parse(AddAttachment, payload))

    @rpc
    def get_attachment(self, attachment_id: str, visible_to: list[str] | None = None) -> dict:
        with self.uow.database.session() as session:
            return views.get_attachment(session, attachment_id, visible_to)

    @rpc
    def issue_document(self, payload: dict, actor: dict) -> dict:
        return run_command(self.uow, partial(document_actions.issue_document, actor=actor), parse(IssueDocument, payload))

    @rpc
    def issue_directive(self, payload: dict, actor: dict) -> dict:
        return run_command(self.uow, partial(document_actions.issue_directive, actor=actor), parse(IssueDirective, payload))

    @rpc
    def get_document(self, document_id: str, visible_to: list[str] | None = None) -> dict:
        with self.uow.database.session() as session:
            return views.get_document(session, document_id, visible_to)

    @rpc
    def get_directive(self, directive_id: str, visible_to: list[str] | None = None) -> dict:
        with self.uow.database.session() as session:
            return views.get_directive(session, directive_id, visible_to)

    @rpc
    def check_directive_visible(self, directive_id: str, visible_to: list[str] | None = None) -> None:
        """Not found (404) unless the caller's units have an assignment of the directive or sent it."""
        with self.uow.database.session() as session:
            scope.check_directive_visible(session, directive_id, visible_to)

    @rpc
    def cascade(self, directive_id: str, visible_to: list[str] | None = None) -> dict:
        with self.uow.database.session() as session:
            return views.cascade(session, directive_id, visible_to)

    # --- assignments ---------------------------------------------------------------------------
    @rpc
    def list_assignments(self, unit_codes=None, state=None, directive_id=None, limit=100, offset=0, sort=None):
        with self.uow.database.session() as session:
            return views.list_assignments(session, unit_codes=unit_codes, state=state,
                                          directive_id=directive_id, limit=min(int(limit), 1000),
                                          offset=int(offset), sort=sort)

    @rpc
    def get_assignment(self, assignment_id: str) -> dict:
        with self.uow.database.session() as session:
            return views.get_assignment(session, assignment_id)

    @rpc
    def acknowledge_assignment(self, payload: dict) -> dict:
        return run_command(self.uow, assignment_actions.acknowledge_assignment, parse(AcknowledgeAssignment, payload))

    @rpc
    def change_assignment_state(self, payload: dict) -> dict:
        return run_command(self.uow, assignment_actions.change_assignment_state, parse(ChangeAssignmentState, payload))

    @rpc
    def declare_applicability(self, payload: dict) -> dict:
        return run_command(self.uow, assignment_actions.declare_applicability, parse(DeclareApplicability, payload))

    @rpc
    def forward_assignment(self, payload: dict) -> dict:
        return run_command(self.uow, assignment_actions.forward_assignment, parse(ForwardAssignment, payload))

    @rpc
    def register_receipt(self, payload: dict, actor: dict) -> dict:
        return run_command(self.uow, partial(assignment_actions.register_receipt, actor=actor), parse(RegisterReceipt, payload))

    # --- plans, indicators, targets, links ----------------------------------------------------------
    @rpc
    def import_plan(self, document, actor: dict, source_name: str | None = None, dry_run: bool = False) -> dict:
        """document: a dict, or the text of a YAML/JSON file."""
        actor = domain.Actor.of(actor)
        if isinstance(document, str):
            document = reading.load_document(document)
        with self.uow() as uow:
            result = importing.import_plan(document, uow, source_name=source_name, dry_run=bool(dry_run),
                                           actor=actor)
            uow.commit()
            return result

    @rpc
    def export_plan(self, plan_id: str) -> dict:
        with self.uow.database.session() as session:
            return plan_views.export_plan(session, plan_id)

    @rpc
    def list_plans(self, plan_type=None, owner_code=None, parent_plan_id=None, limit=100, offset=0):
        with self.uow.database.session() as session:
            return plan_views.list_plans(session, plan_type=plan_type, owner_code=owner_code,
                                         parent_plan_id=parent_plan_id, limit=min(int(limit), 1000),
                                         offset=int(offset))

    @rpc
    def get_plan(self, plan_id: str) -> dict:
        with self.uow.database.session() as session:
            return plan_views.get_plan(session, plan_id)

    @rpc
    def get_indicator(self, plan_id: str, indicator_id: str) -> dict:
        with self.uow.database.session() as session:
            return plan_views.get_indicator(session, plan_id, indicator_id)

    @rpc
    def list_targets(self, plan_id=None, indicator_id=None, fiscal_year_be=None, unit_code=None,
                     unit_group=None, limit=1000, offset=0):
        with self.uow.database.session() as session:
            return plan_views.list_targets(
                session, plan_id=plan_id, indicator_id=indicator_id,
                fiscal_year_be=int(fiscal_year_be) if fiscal_year_be else None, unit_code=unit_code,
                unit_group=unit_group, limit=min(int(limit), 10000), offset=int(offset))

    @rpc
    def plan_links(self, plan_id: str, element_id: str | None = None, direction: str = "from") -> list[dict]:
        with self.uow.database.session() as session:
            query = plan_views.links_to if direction == "to" else plan_views.links_from
            return query(session, plan_id, element_id)

    @rpc
    def plan_anomalies(self, plan_id: str | None = None) -> list[dict]:
        with self.uow.database.session() as session:
            return plan_views.list_anomalies(session, plan_id)
