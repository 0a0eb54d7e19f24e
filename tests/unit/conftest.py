"""Fixtures that unit test modules share, so that none imports another test module for its fixtures
(a fixture imported by name is re-bound by every test that takes it). A module's own fixtures stay in it.

    assessments_world         an assessments database with DLA > PLO-1 > DLO-1 > LAO-1..3, and deliver(event)
    frozen_assessments_clock  the assessments service's clock stopped at tests.support.worlds.NOW
    plans_database            a plans database holding the national registry (built once per module, copied)
"""
from __future__ import annotations

from datetime import date

import pytest

from shared.contracts import encode
from shared.contracts.events import OrgUnitChanged
from shared.messaging.inbox import ReliableConsumer
from shared.messaging.tables import outbox
from tests.fakes import sqlite_database
from tests.support.worlds import LAOS, NOW, freeze, run, unit_payload


@pytest.fixture
def frozen_assessments_clock(monkeypatch):
    freeze(monkeypatch, NOW)


@pytest.fixture
def assessments_world(tmp_path):
    """``(database, deliver)``: the assessments database and a function that delivers it one event
    through the service's inbox handlers, as the broker would."""
    from services.assessments import domain
    from services.assessments.bootstrap import bootstrap
    from services.assessments.models import metadata
    database = sqlite_database(tmp_path, metadata)
    consumer = ReliableConsumer("assessments.events", database, bootstrap(domain.DEFAULTS).event_handlers, [10])

    def deliver(event, correlation_id="corr-rule"):
        outcome = consumer.process(encode(event, correlation_id=correlation_id).to_json())
        assert outcome.outcome == "processed", outcome
    for code, level, parent in [("DLA", "department", None), ("PLO-1", "provincial_office", "DLA"),
                                ("DLO-1", "district_office", "PLO-1")] + [(c, "lao", "DLO-1") for c in LAOS]:
        deliver(OrgUnitChanged(code=code, level=level, parent_code=parent, name_th=code, valid_from=date(2000, 1, 1),
                               lao_type="sao" if level == "lao" else None))
    return database, deliver


@pytest.fixture(scope="module")
def plans_national(tmp_path_factory):
    """A plans database file with the national registry, built once for the module (copied per test)."""
    from services.plans import unit_changes
    from services.plans.models import metadata
    from services.plans.registry import national_registry
    from shared.contracts.commands.plans import RegisterUnits
    path = tmp_path_factory.mktemp("national")
    database = sqlite_database(path, metadata)
    run(database, unit_changes.register_units,
        RegisterUnits(units=[unit_payload(s) for s in national_registry()]))
    with database.session() as session:
        session.execute(outbox.delete())
        session.commit()
    database.dispose()
    return path / "test.db"


@pytest.fixture
def plans_database(plans_national, tmp_path):
    from shared.db import Database
    (tmp_path / "test.db").write_bytes(plans_national.read_bytes())
    database = Database(f"sqlite:///{tmp_path / 'test.db'}")
    yield database
    database.dispose()
