"""Each service's RPC entrypoints built in process: ``worker_factory(PlansService, ...)`` with its own
database a real SQLite file at alembic head, a unit of work as nameko's UnitOfWork gives it, and the
events it consumes delivered through its own inbox handlers (``Service.inbox.handlers``). A few cases
each: a command and what it leaves (rows, events in the outbox), a query, and an ``InputError`` that
crosses the RPC boundary as the caller expects (an expected exception of the entrypoint, which
nameko serializes and the gateway gets back as an ``InputError`` with its status and field).

The entrypoints are called as the gateway calls them (tests/interface/fakes.py checks the gateway's
calls against these same signatures), so a handler module may be split or renamed freely.
"""
from __future__ import annotations

import inspect
from datetime import date, datetime, timedelta, timezone

import pytest
from nameko.exceptions import deserialize, serialize
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from sqlalchemy import func, select

from shared.contracts import encode
from shared.contracts.events import IndicatorSpec, OrgUnitChanged, ReportingRulePublished
from shared.db import Database
from shared.errors import InputError
from shared.messaging.inbox import ReliableConsumer
from shared.messaging.tables import outbox
from tests.support.inprocess import migrated_sqlite, unit_of_work, worker_factory

CENTRAL = {"username": "central", "role": "central", "org_code": "DLA"}
UNITS = [("DLA", "department", None), ("PLO-09", "provincial_office", "DLA"), ("DLO-0115", "district_office", "PLO-09"),
         ("LAO-180101", "lao", "DLO-0115"), ("LAO-180102", "lao", "DLO-0115")]


class Built:
    """One service's worker, its database, and a way to deliver it the events it subscribes to."""

    def __init__(self, service_cls, tmp_path, template_dir, handlers=None, **extra):
        self.database = Database(migrated_sqlite(service_cls.name, tmp_path / f"{service_cls.name}.db", template_dir))
        dependencies = {"uow": unit_of_work(self.database), "config": {}, "context": "interface-test", **extra}
        providers = {name for name, attr in inspect.getmembers(service_cls) if isinstance(attr, DependencyProvider)}
        # no MagicMock stands in for anything: every dependency is given (None: not used by an RPC entrypoint)
        self.worker = worker_factory(service_cls, **{name: dependencies.get(name) for name in providers})
        handlers = handlers if handlers is not None else service_cls.inbox.handlers
        self.consumer = ReliableConsumer(f"{service_cls.name}.events", self.database, handlers, [10])
        self.service_cls = service_cls

    def deliver(self, *events):
        for event in events:
            outcome = self.consumer.process(encode(event, correlation_id="interface-test").to_json())
            assert outcome.outcome == "processed", outcome

    def outbox_types(self) -> list[str]:
        with self.database.session() as session:
            return list(session.execute(select(outbox.c.event_type).order_by(outbox.c.id)).scalars())

    def count(self, table) -> int:
        with self.database.session() as session:
            return session.execute(select(func.count()).select_from(table)).scalar_one()

    def refuses(self, entrypoint: str, *args, status: int, field: str | None = None, **kwargs) -> InputError:
        """The entrypoint raises an InputError, declared expected (a caller's mistake, not a server error),
        and it arrives at the caller as the same InputError."""
        method = getattr(self.service_cls, entrypoint)
        [rpc_entry] = [e for e in method.nameko_entrypoints if isinstance(e, Rpc)]
        assert InputError in tuple(rpc_entry.expected_exceptions), entrypoint
        with pytest.raises(InputError) as raised:
            getattr(self.worker, entrypoint)(*args, **kwargs)
        crossed = deserialize(serialize(raised.value))
        assert isinstance(crossed, InputError) and crossed.status == raised.value.status == status
        if field is not None:
            assert crossed.field == field, crossed.as_problem()
        assert crossed.as_problem()["message_th"] and crossed.as_problem()["message_en"]
        return crossed

    def close(self):
        self.database.dispose()


@pytest.fixture
def build(tmp_path, template_dir):
    built = []

    def make(service_cls, handlers=None, **extra):
        built.append(Built(service_cls, tmp_path, template_dir, handlers, **extra))
        return built[-1]
    yield make
    for service in built:
        service.close()


def unit_events():
    return [OrgUnitChanged(code=code, level=level, parent_code=parent, name_th=f"หน่วยงาน {code}",
                           valid_from=date(2000, 1, 1), lao_type="sao" if level == "lao" else None)
            for code, level, parent in UNITS]


# --- plans -------------------------------------------------------------------------------------------

def test_plans_registers_units_answers_their_subtree_and_refuses_an_unknown_document(build):
    from services.plans.cli import registry_rows
    from services.plans.service import PlansService
    plans = build(PlansService)
    rows = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") == "9"]
    result = plans.worker.register_units({"units": rows}, CENTRAL)
    assert result["created"] == len(rows) == plans.outbox_types().count("plans.org_unit_changed.v1")
    subtree = plans.worker.subtree_codes("DLO-0115")
    assert "DLO-0115" in subtree and "LAO-180101" in subtree and "PLO-09" not in subtree
    listed = plans.worker.list_units(within="PLO-09", level="lao", limit=1000)
    assert listed and {unit["code"] for unit in listed} <= set(subtree) | {r["code"] for r in rows}
    assert all(unit["level"] == "lao" for unit in listed)
    plans.refuses("get_document", "no-such-document", ["LAO-180101"], status=404)
    # a caller's mistake in a command: nothing is written
    before = plans.outbox_types()
    plans.refuses("register_units", {"units": [{"code": "LAO-X", "level": "no-such-level"}]}, CENTRAL, status=422)
    assert plans.outbox_types() == before


# --- assessments -------------------------------------------------------------------------------------

def test_assessments_takes_a_submission_for_an_obligation_it_made_from_a_rule(build):
    from services.assessments.bootstrap import bootstrap
    from services.assessments.service import AssessmentsService
    app = bootstrap()   # the composition root the container builds at setup
    assessments = build(AssessmentsService, handlers=app.event_handlers, app=app)
    indicator = IndicatorSpec(code="DISB-PCT", name_th="ร้อยละการเบิกจ่าย", value_type="percent", direction="increase",
                              minimum=0, maximum=100)
    due = datetime.now(timezone.utc) + timedelta(days=3)   # its window opened 10 days before: open now
    assessments.deliver(*unit_events(), ReportingRulePublished(
        rule_id="rule-now", directive_id="d-1", unit_codes=["LAO-180101", "LAO-180102"], due_at=due,
        indicators=[indicator], version=1), ReportingRulePublished(
        rule_id="rule-later", directive_id="d-2", unit_codes=["LAO-180101"], due_at=due + timedelta(days=60),
        indicators=[indicator], version=1))
    mine = {o["rule_id"]: o for o in assessments.worker.list_obligations(unit_codes=["LAO-180101"], limit=1000)}
    assert set(mine) == {"rule-now", "rule-later"}
    assert {o["unit_code"] for o in assessments.worker.list_obligations(unit_codes=["LAO-180102"])} == {"LAO-180102"}
    obligation = mine["rule-now"]
    assert assessments.worker.get_obligation(obligation["id"])["unit_code"] == "LAO-180101"

    def submission(obligation_id, value):
        return {"obligation_id": obligation_id, "unit_code": "LAO-180101", "submitted_by": "lao-180101",
                "submitter_unit_code": "LAO-180101", "values": [{"indicator_code": "DISB-PCT", "value": value}]}
    accepted = assessments.worker.submit_values(submission(obligation["id"], 55))
    assert accepted["submission_id"] and assessments.outbox_types()[-1] == "assessments.indicator_submitted.v1"
    assert assessments.worker.get_submission(accepted["submission_id"])["unit_code"] == "LAO-180101"
    assessments.refuses("get_obligation", "no-such-obligation", status=404)
    events = assessments.outbox_types()
    refused = assessments.refuses("submit_values", submission(obligation["id"], 101), status=422)
    assert refused.field.startswith("values"), refused.as_problem()
    refused = assessments.refuses("submit_values", submission(mine["rule-later"]["id"], 50), status=422,
                                  field="obligation_id")
    assert "not open" in refused.message_en
    assert assessments.outbox_types() == events


# --- notifications ----------------------------------------------------------------------------------

def test_notifications_keeps_a_persons_preferences_and_refuses_an_unknown_inbox_item(build):
    from services.notifications import bootstrap
    from services.notifications.channels import Channels
    from services.notifications.service import NotificationsService
    app = bootstrap.bootstrap({}, channels=Channels())   # the composition root (no channel sends here)
    notifications = build(NotificationsService, handlers=app.event_handlers, app=app)
    user = {"username": "lao-180101", "role": "lao", "org_code": "LAO-180101", "display_name": "เจ้าหน้าที่"}
    assert notifications.worker.get_preferences(user)["language"] == "th"
    notifications.worker.upsert_person(user, {"language": "en"})
    assert notifications.worker.get_preferences(user)["language"] == "en"
    assert notifications.worker.list_inbox(user)["items"] == []
    assert notifications.worker.list_reminder_ladders()["default_from_config"]
    notifications.refuses("mark_read", user, "00000000-0000-4000-8000-000000000000", status=404)
    notifications.refuses("upsert_person", user, {"language": "fr"}, status=422)
    assert notifications.worker.get_preferences(user)["language"] == "en"


# --- reporting --------------------------------------------------------------------------------------

def test_reporting_answers_from_the_events_it_projected_and_refuses_an_unknown_directive(build):
    from services.reporting.service import ReportingService
    reporting = build(ReportingService)
    reporting.deliver(*unit_events())
    report = reporting.worker.compliance(unit_code="PLO-09")
    assert report["unit"] == {"code": "PLO-09", "name_th": "หน่วยงาน PLO-09", "level": "provincial_office"}
    assert report["totals"]["expected"] == 0 and report["totals"]["on_time_rate"] is None
    assert reporting.worker.overdue(unit_code="PLO-09") == {"total": 0, "items": []}
    reporting.refuses("cascade", "no-such-directive", status=404)


def test_every_service_entrypoint_called_here_is_an_rpc_entrypoint():
    """The calls above are RPC entrypoints (not helpers): what crosses the boundary is what is tested."""
    from services.assessments.service import AssessmentsService
    from services.notifications.service import NotificationsService
    from services.plans.service import PlansService
    from services.reporting.service import ReportingService
    called = {PlansService: ("register_units", "subtree_codes", "list_units", "get_document"),
              AssessmentsService: ("list_obligations", "get_obligation", "submit_values", "get_submission"),
              NotificationsService: ("get_preferences", "upsert_person", "list_inbox", "mark_read",
                                     "list_reminder_ladders"),
              ReportingService: ("compliance", "overdue", "cascade")}
    for service_cls, names in called.items():
        for name in names:
            entrypoints = getattr(getattr(service_cls, name), "nameko_entrypoints", ())
            assert any(isinstance(e, Rpc) for e in entrypoints), f"{service_cls.__name__}.{name}"


