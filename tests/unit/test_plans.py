"""plans use cases on a real SQLite file: registry, directive issue, acknowledgement."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from services.plans import assignment_actions, document_actions, domain, unit_changes
from shared.contracts.commands.plans import AcknowledgeAssignment, IssueDirective, RegisterUnits
from services.plans.models import assignments, metadata, org_units
from services.plans.lookups import bangkok_today
from shared.contracts import decode
from shared.errors import InputError
from shared.messaging.tables import outbox
from shared.validation import parse
from tests.fakes import sqlite_database

UNITS = [
    dict(code="MOI", level="ministry", name_th="กระทรวงมหาดไทย"),
    dict(code="DLA", level="department", parent_code="MOI", name_th="กรมส่งเสริมการปกครองท้องถิ่น"),
    dict(code="PLO-09", level="provincial_office", parent_code="DLA", name_th="สถจ.ชัยนาท"),
    dict(code="DLO-0101", level="district_office", parent_code="PLO-09", name_th="สถอ.เมืองชัยนาท"),
    dict(code="DLO-0102", level="district_office", parent_code="PLO-09", name_th="สถอ.มโนรมย์"),
    *[dict(code=f"LAO-18010{i}", level="lao", lao_type="sao", parent_code="DLO-0101",
           name_th=f"อบต.ทดสอบ{i}") for i in range(1, 4)],
    dict(code="LAO-180201", level="lao", lao_type="sao", parent_code="DLO-0102", name_th="อบต.อื่น"),
]


@pytest.fixture
def database(tmp_path):
    database = sqlite_database(tmp_path, metadata)
    run(database, unit_changes.register_units, parse(RegisterUnits, {"units": UNITS}))
    return database


def run(database, handler, command):
    with database.unit_of_work() as uow:
        result = handler(command, uow)
        uow.commit()
    return result


def events(database, event_type=None):
    with database.session() as session:
        bodies = session.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars().all()
    decoded = [decode(body) for body in bodies]
    return [event for envelope, event in decoded if event_type is None or envelope.type == event_type]


def directive(**overrides):
    base = {"document_number": "มท ๐๘๐๑.๒/ว ๕๒", "document_date": "2022-01-04", "urgency": "urgent",
            "subject_th": "รายงานผลการเบิกจ่าย", "issuer_code": "DLA", "text_th": "ให้รายงาน",
            "addressees": {"level": "lao", "within": "DLO-0101"},
            "reporting": {"indicator_code": "BUD-1", "indicator_name_th": "ร้อยละการเบิกจ่าย",
                          "period": "2569-11",
                          "due_at": (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()}}
    base.update(overrides)
    return parse(IssueDirective, base)


def test_registering_publishes_one_change_per_unit_and_is_idempotent(database):
    assert len(events(database, "plans.org_unit_changed.v1")) == len(UNITS)
    again = run(database, unit_changes.register_units, parse(RegisterUnits, {"units": UNITS}))
    assert (again["created"], again["changed"], again["unchanged"]) == (0, 0, len(UNITS))
    assert len(events(database, "plans.org_unit_changed.v1")) == len(UNITS)


def test_issuing_to_a_level_within_a_subtree_creates_one_assignment_per_unit(database):
    result = run(database, document_actions.issue_directive, directive())
    assert result["assignment_count"] == 3
    created = events(database, "plans.assignment_created.v1")
    assert sorted(e.unit_code for e in created) == ["LAO-180101", "LAO-180102", "LAO-180103"]
    assert all(e.reporting.indicator_code == "BUD-1" for e in created)
    [issued] = events(database, "plans.directive_issued.v1")
    assert issued.addressee_count == 3 and issued.document_number == "มท ๐๘๐๑.๒/ว ๕๒"


def test_unknown_addressee_codes_are_refused_and_nothing_changes(database):
    before = len(events(database))
    with pytest.raises(InputError) as error:
        run(database, document_actions.issue_directive,
            directive(addressees={"codes": ["LAO-180101", "LAO-999999"]}))
    assert error.value.field == "addressees.codes" and "LAO-999999" in error.value.message_en
    assert error.value.message_th.startswith("ไม่พบ")
    assert len(events(database)) == before


def test_acknowledging_twice_changes_state_once_and_emits_one_event(database):
    run(database, document_actions.issue_directive, directive())
    with database.session() as session:
        assignment = session.execute(select(assignments).limit(1)).mappings().one()
    command = AcknowledgeAssignment(assignment_id=assignment["id"], unit_code=assignment["unit_code"],
                                    receipt_number="296")
    first = run(database, assignment_actions.acknowledge_assignment, command)
    second = run(database, assignment_actions.acknowledge_assignment, command)
    assert (first["changed"], second["changed"]) == (True, False)
    assert len(events(database, "plans.assignment_acknowledged.v1")) == 1


def test_another_unit_cannot_acknowledge(database):
    run(database, document_actions.issue_directive, directive())
    with database.session() as session:
        assignment_id = session.execute(select(assignments.c.id).limit(1)).scalar_one()
    with pytest.raises(InputError) as error:
        run(database, assignment_actions.acknowledge_assignment,
            AcknowledgeAssignment(assignment_id=assignment_id, unit_code="LAO-180201"))
    assert error.value.status == 403


@pytest.mark.parametrize("payload, field", [
    ({"reporting": {"indicator_code": "X", "indicator_name_th": "x", "period": "2569-01",
                    "due_at": "2026-01-01T00:00:00"}}, "reporting.due_at"),  # no time zone
    ({"reporting": {"indicator_code": "X", "indicator_name_th": "x", "period": "T1796651760",
                    "due_at": "2026-01-01T00:00:00+07:00"}}, "reporting.period"),  # not a period
    ({"urgency": "whenever"}, "urgency"),
    ({"addressees": {}}, "addressees"),
    ({"document_date": "not a date"}, "document_date"),
])
def test_bad_commands_name_the_field_in_thai_and_english(payload, field):
    with pytest.raises(InputError) as error:
        directive(**payload)
    assert error.value.field == field and error.value.status == 422
    assert error.value.message_th and error.value.message_en


def test_subtree_and_state_rules():
    units = [domain.Unit("A", "x", None), domain.Unit("B", "x", "A"), domain.Unit("C", "x", "B"),
             domain.Unit("D", "x", None)]
    assert domain.subtree("A", units) == {"A", "B", "C"}
    assert domain.acknowledge("issued") == domain.AssignmentState.ACKNOWLEDGED
    assert domain.acknowledge("acknowledged") is None
    with pytest.raises(InputError):
        domain.acknowledge("cancelled")


def test_a_changed_unit_keeps_its_history(database):
    renamed = dict(UNITS[-1], name_th="เทศบาลตำบลอื่น", lao_type="subdistrict_municipality")
    result = run(database, unit_changes.register_units, parse(RegisterUnits, {"units": [renamed]}))
    assert result["changed"] == 1
    with database.session() as session:
        versions = session.execute(select(org_units).where(org_units.c.code == "LAO-180201")
                                   .order_by(org_units.c.valid_from)).mappings().all()
    assert [v["name_th"] for v in versions] == ["อบต.อื่น", "เทศบาลตำบลอื่น"]
    assert versions[0]["valid_to"] == versions[1]["valid_from"] == bangkok_today()  # the change took effect today, in Bangkok
    assert versions[1]["valid_to"] is None
