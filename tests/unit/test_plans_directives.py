"""Documents, receipts, forwarding, the cascade, and seed 004 recorded exactly."""
from __future__ import annotations

import base64
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from services.plans import assignment_actions, document_actions, domain, memo_import, unit_changes, unit_csv, views
from shared.contracts.commands.plans import (AcknowledgeAssignment, AddAttachment, ChangeAssignmentState,
                                     DeclareApplicability, ForwardAssignment, IssueDirective,
                                     IssueDocument, RegisterReceipt, RegisterUnits)
from services.plans.models import assignments
from shared.contracts import decode
from shared.errors import InputError
from shared.messaging.tables import outbox
from shared.validation import parse
from tests.support.worlds import run


@pytest.fixture
def database(plans_database):
    return plans_database


def events(database, event_type):
    with database.session() as session:
        bodies = session.execute(select(outbox.c.body).where(outbox.c.event_type == event_type)
                                 .order_by(outbox.c.id)).scalars().all()
    return [decode(body)[1] for body in bodies]


def issue(database, **overrides):
    payload = {"document_number": "มท ๐๘๐๑.๓/ว ๑๒", "document_date": "๑๕ ม.ค. ๒๕๗๐", "subject_th": "ทดสอบ",
               "issuer_code": "DLA", "text_th": "ให้ดำเนินการ", "addressees": {"level": "provincial_office"}}
    payload.update(overrides)
    return run(database, document_actions.issue_directive, parse(IssueDirective, payload))


def test_seed_004_is_recorded_exactly(database):
    with database.unit_of_work() as uow:
        ids = memo_import.record_memo(uow)
        uow.commit()
    with database.session() as session:
        d3 = views.get_document(session, ids["documents"]["D3"])
        d4 = views.get_document(session, ids["documents"]["D4"])
        d1 = views.get_document(session, ids["documents"]["D1"])
    assert d3["number_printed"] == "มท ๐๒๑๑.๒/๑๙๓๕๕" and d3["document_date"] == "2021-12-30"
    assert d3["references"] == [ids["documents"]["D1"]] and d1["status"] == "referenced_only"
    assert d4["number_printed"] == "มท ๐๘๐๑.๒/ว ๕๒" and d4["circular"] is True
    assert d4["number_normalized"] == "มท 0801.2/ว 52"
    assert d4["forwards_document_id"] == ids["documents"]["D3"]
    assert d4["references"] == [ids["documents"]["D2"]]
    assert [a["code"] for a in d4["anomalies"]] == ["forwarded_before_received"]  # AN1: accepted, flagged
    receipts = {(r["unit_code"], r["receipt_no"], r["received_on"], r["received_time"]) for r in d3["receipts"]}
    assert receipts == {("DLA", "296", "2022-01-04", None), ("DLA-SEC", "15", "2022-01-04", None),
                        ("DLA-SEC-FAC", "002", "2022-01-04", "16:56")}
    assert all(r["register_year_be"] == 2565 for r in d3["receipts"])
    kinds = Counter(item["kind"] for item in d3["items"])
    assert kinds == {"order": 9, "guideline": 9, "observation": 2, "inspection_focus": 4}
    dps2 = next(item for item in d3["items"] if item["item_ref"] == "DPS-2")
    assert sorted(dps2["addressees"]["codes"]) == sorted(f"PLO-{p:02d}" for p in (27, 35, 77, 36, 34, 24, 33, 22, 25, 46))
    cig = next(item for item in d3["items"] if item["item_ref"] == "CIG-1.1")
    assert cig["reporting"]["rrule"] == "FREQ=MONTHLY;BYMONTHDAY=3"


def test_issuing_seed_004_reaches_the_ten_provinces_and_publishes_the_monthly_rule(database):
    with database.unit_of_work() as uow:
        ids = memo_import.record_memo(uow)
        uow.commit()
    result = run(database, document_actions.issue_document, IssueDocument(document_id=ids["documents"]["D3"]))
    by_item = {d["directive_id"]: d["assignment_count"] for d in result["directives"]}
    assert len(by_item) == 24
    with database.session() as session:
        d3 = views.get_document(session, ids["documents"]["D3"])
    dps2 = next(i for i in d3["items"] if i["item_ref"] == "DPS-2")
    assert by_item[dps2["id"]] == 10
    [rule] = events(database, "plans.reporting_rule_published.v1")
    # every LAO under DLA: 7,361 less Bangkok (a special form outside the DLA cascade)
    assert rule.rrule == "FREQ=MONTHLY;BYMONTHDAY=3" and len(rule.unit_codes) == 7360 and "BMA" not in rule.unit_codes
    assert rule.indicators[0].value_type == "percent"


def test_receipt_numbers_are_unique_per_unit_per_year(database):
    issued = issue(database, addressees={"codes": ["PLO-09"]})
    document_id = issued["document_id"]
    first = run(database, assignment_actions.register_receipt, RegisterReceipt(
        unit_code="PLO-09", document_id=document_id, receipt_no="๐๑๒", received_on="2027-01-16"))
    assert first["register_year_be"] == 2570
    with pytest.raises(InputError) as error:
        run(database, assignment_actions.register_receipt, RegisterReceipt(
            unit_code="PLO-09", document_id=document_id, receipt_no="๐๑๒", received_on="2027-02-01"))
    assert error.value.status == 409 and error.value.field == "receipt_no"
    # another unit, or the next year, may use the same number
    run(database, assignment_actions.register_receipt, RegisterReceipt(
        unit_code="PLO-10", document_id=document_id, receipt_no="๐๑๒", received_on="2027-01-16"))
    run(database, assignment_actions.register_receipt, RegisterReceipt(
        unit_code="PLO-09", document_id=document_id, receipt_no="๐๑๒", received_on="2028-01-03"))


def _assignment(database, unit_code):
    with database.session() as session:
        return session.execute(select(assignments).where(assignments.c.unit_code == unit_code)
                               .order_by(assignments.c.created_at.desc())).mappings().first()


def test_forwarding_down_the_subtree_builds_the_cascade(database):
    issued = issue(database, addressees={"codes": ["PLO-09"]},
                   acknowledge_due_at=(datetime.now(timezone.utc) + timedelta(days=3)).isoformat())
    plo = _assignment(database, "PLO-09")
    with pytest.raises(InputError) as error:  # must acknowledge before forwarding
        run(database, assignment_actions.forward_assignment, ForwardAssignment(
            assignment_id=plo["id"], unit_code="PLO-09", addressees={"level": "district_office", "within": "PLO-09"}))
    assert error.value.status == 409
    run(database, assignment_actions.acknowledge_assignment, AcknowledgeAssignment(
        assignment_id=plo["id"], unit_code="PLO-09", receipt_number="77"))
    forwarded = run(database, assignment_actions.forward_assignment, ForwardAssignment(
        assignment_id=plo["id"], unit_code="PLO-09", addressees={"level": "district_office", "within": "PLO-09"}))
    assert len(forwarded["child_assignment_ids"]) == 8  # Chainat's 8 district offices
    # forwarding again to the same units creates nothing new
    again = run(database, assignment_actions.forward_assignment, ForwardAssignment(
        assignment_id=plo["id"], unit_code="PLO-09", addressees={"level": "district_office", "within": "PLO-09"}))
    assert again["child_assignment_ids"] == [] and len(again["already_assigned"]) == 8
    dlo = _assignment(database, "DLO-0115")
    assert dlo["parent_assignment_id"] == plo["id"]
    run(database, assignment_actions.acknowledge_assignment, AcknowledgeAssignment(assignment_id=dlo["id"], unit_code="DLO-0115"))
    run(database, assignment_actions.forward_assignment, ForwardAssignment(
        assignment_id=dlo["id"], unit_code="DLO-0115", addressees={"level": "lao", "within": "DLO-0115"}))
    with database.session() as session:
        view = views.cascade(session, issued["directive_id"])
    levels = {level["level"]: level for level in view["levels"]}
    assert levels["provincial_office"]["acknowledged"] == 1 and levels["provincial_office"]["forwarded"] == 1
    assert levels["district_office"]["units"] == 8 and levels["district_office"]["acknowledged"] == 1
    assert levels["lao"]["units"] >= 1
    lao_row = next(u for u in view["units"] if u["level"] == "lao")
    assert lao_row["forwarded_by"] == "DLO-0115" and lao_row["hop_s"] is not None
    assert lao_row["name_th"] and lao_row["forwarded_by_name_th"]  # names, not only codes
    plo_row = next(u for u in view["units"] if u["unit_code"] == "PLO-09")
    assert plo_row["forwarded_by"] is None  # sent directly by the issuer: nobody forwarded it
    assert levels["provincial_office"]["received"] == 1 and levels["district_office"]["received"] == 1
    assert len(events(database, "plans.directive_forwarded.v1")) == 2


def test_forwarding_outside_the_subtree_is_forbidden_and_changes_nothing(database):
    issue(database, addressees={"codes": ["PLO-09"]})
    plo = _assignment(database, "PLO-09")
    run(database, assignment_actions.acknowledge_assignment, AcknowledgeAssignment(assignment_id=plo["id"], unit_code="PLO-09"))
    before = len(events(database, "plans.assignment_created.v1"))
    with pytest.raises(InputError) as error:
        run(database, assignment_actions.forward_assignment, ForwardAssignment(
            assignment_id=plo["id"], unit_code="PLO-09", addressees={"codes": ["DLO-0115", "PLO-10"]}))
    assert error.value.status == 403 and "PLO-10" in error.value.message_en
    assert len(events(database, "plans.assignment_created.v1")) == before


def test_lifecycle_transitions_publish_events_and_repeat_harmlessly(database):
    issue(database, addressees={"codes": ["LAO-820801"]})
    lao = _assignment(database, "LAO-820801")
    move = lambda state: run(database, assignment_actions.change_assignment_state,  # noqa: E731
                             ChangeAssignmentState(assignment_id=lao["id"], unit_code="LAO-820801", to_state=state))
    assert move("received")["changed"] is True
    assert move("received")["changed"] is False
    run(database, assignment_actions.acknowledge_assignment, AcknowledgeAssignment(assignment_id=lao["id"], unit_code="LAO-820801"))
    for state in ("in_progress", "reported", "closed"):
        assert move(state)["state"] == state
    with pytest.raises(InputError):
        move("in_progress")  # closed is final
    changes = [(e.from_state, e.to_state) for e in events(database, "plans.assignment_state_changed.v1")]
    assert changes == [("issued", "received"), ("acknowledged", "in_progress"), ("in_progress", "reported"),
                       ("reported", "closed")]


def test_not_applicable_needs_a_reason(database):
    issue(database, addressees={"codes": ["LAO-820801"]})
    lao = _assignment(database, "LAO-820801")
    with pytest.raises(InputError) as error:
        parse(DeclareApplicability, {"assignment_id": lao["id"], "unit_code": "LAO-820801", "applicable": False})
    assert error.value.message_th.startswith("ต้องระบุเหตุผล")
    result = run(database, assignment_actions.declare_applicability, DeclareApplicability(
        assignment_id=lao["id"], unit_code="LAO-820801", applicable=False, note="ไม่มีผู้สูงอายุที่มีภาวะพึ่งพิง"))
    assert result["state"] == "not_applicable"


def test_addressees_by_criterion(database):
    result = issue(database, addressees={"within": "PLO-09", "criterion": {"attribute": "lao_type", "in": ["pao"]}})
    assert result["assignment_count"] == 1  # Chainat's PAO


@pytest.mark.parametrize("reporting, field", [
    ({"rrule": "FREQ=SOMETIMES"}, "reporting.rrule"),
    ({"rrule": "FREQ=MONTHLY;BYMONTHDAY=40"}, "reporting.rrule"),
    ({"rrule": "FREQ=MONTHLY;BYMONTHDAY=3", "fiscal_year_be": 2025}, "reporting.fiscal_year_be"),
])
def test_bad_reporting_rules_name_the_field(database, reporting, field):
    base = {"indicator_code": "X", "indicator_name_th": "x"}
    with pytest.raises(InputError) as error:
        issue(database, reporting={**base, **reporting})
    assert error.value.field == field


def test_a_ce_date_in_thai_form_and_a_be_date_are_the_same_day():
    from shared.contracts.commands.plans import RecordDocument
    be = parse(RecordDocument, {"document_date": "๓ มกราคม ๒๕๖๕", "subject_th": "x"})
    ce = parse(RecordDocument, {"document_date": "2022-01-03", "subject_th": "x"})
    assert be.document_date == ce.document_date == date(2022, 1, 3)


def test_attachments_are_stored_and_downloadable(database):
    issued = issue(database, addressees={"codes": ["PLO-09"]})
    content = "สรุปข้อสั่งการ".encode() * 100
    added = run(database, document_actions.add_attachment, AddAttachment(
        document_id=issued["document_id"], filename="สรุป.pdf", content_type="application/pdf",
        content_base64=base64.b64encode(content).decode()))
    with database.session() as session:
        stored = views.get_attachment(session, added["attachment_id"])
    assert base64.b64decode(stored["content_base64"]) == content and stored["filename"] == "สรุป.pdf"


def test_registry_dry_run_reports_changes_and_changes_nothing(database):
    renamed = {"code": "LAO-820801", "level": "lao", "lao_type": "subdistrict_municipality",
               "parent_code": "DLO-0879", "name_th": "เทศบาลตำบลท้ายเหมือง"}
    preview = run(database, unit_changes.register_units, RegisterUnits(units=[renamed], dry_run=True))
    assert preview["changed"] == 1 and preview["changes"][0]["fields"]["name_th"][1] == "เทศบาลตำบลท้ายเหมือง"
    with database.session() as session:
        assert len(views.unit_history(session, "LAO-820801")) == 1
    assert events(database, "plans.org_unit_changed.v1") == []


def test_registry_csv_import_and_unknown_columns():
    rows = unit_csv.units_from_csv("\ufeffcode,level,name_th,parent_code,lao_type\nLAO-X,lao,อบต.เอ็กซ์,DLO-0115,sao\n")
    assert rows == [{"code": "LAO-X", "level": "lao", "name_th": "อบต.เอ็กซ์", "parent_code": "DLO-0115",
                     "lao_type": "sao"}]
    with pytest.raises(InputError) as error:
        unit_csv.units_from_csv("code,colour\nX,red\n")
    assert "colour" in error.value.message_en


def test_domain_helpers():
    assert domain.normalize_document_number("ที่ มท ๐๘๐๑.๒/ว ๕๒") == "มท 0801.2/ว 52"
    assert domain.is_circular("มท ๐๘๐๑.๒/ว ๕๒") and not domain.is_circular("มท ๐๒๑๑.๒/๑๙๓๕๕")
    assert domain.forwarded_before_received(date(2022, 1, 3), [date(2022, 1, 4)])["code"] == "forwarded_before_received"
    assert domain.forwarded_before_received(date(2022, 1, 5), [date(2022, 1, 4)]) is None


def test_overdue_is_a_flag_not_a_state():
    now = datetime.now(timezone.utc)
    assert domain.is_overdue("issued", now - timedelta(hours=1), now)
    assert not domain.is_overdue("acknowledged", now - timedelta(hours=1), now)
    assert not domain.is_overdue("issued", now + timedelta(hours=1), now)


# --- issue #15: several indicators once, declared ranges, fiscal years, one vocabulary --------------

def test_a_one_off_directive_takes_several_indicators_with_their_ranges(database):
    due = (datetime.now(timezone.utc) + timedelta(days=20)).isoformat()
    issue(database, addressees={"codes": ["LAO-820801"]}, reporting={
        "indicator_code": "TM-K13", "indicator_name_th": "จัดกิจกรรมฝึกอาชีพ", "value_type": "count",
        "unit_of_measure": "ครั้ง", "period": "FY2563", "due_at": due,
        "more_indicators": [{"code": "TM-PCT", "name_th": "ร้อยละครัวเรือนที่คัดแยกขยะ", "value_type": "percent",
                             "minimum": 0, "maximum": 100, "direction": "higher"}]})
    [created] = events(database, "plans.assignment_created.v1")
    specs = created.reporting.indicators
    assert [s.code for s in specs] == ["TM-K13", "TM-PCT"]
    assert (specs[1].minimum, specs[1].maximum, specs[1].direction) == (0, 100, "increase")


def test_a_reporting_rule_field_the_platform_does_not_understand_is_refused_by_name(database):
    for reporting, field in [({"percent_max": 100}, "reporting.percent_max"),
                             ({"more_indicators": [{"code": "B", "name_th": "b", "max": 5}]},
                              "reporting.more_indicators[0].max")]:
        with pytest.raises(InputError) as error:
            issue(database, reporting={"indicator_code": "A", "indicator_name_th": "a",
                                       "rrule": "FREQ=MONTHLY;BYMONTHDAY=3", **reporting})
        assert (error.value.field, error.value.status) == (field, 422)
        assert error.value.message_th and error.value.message_en


def test_a_rule_carries_its_fiscal_year_and_directions_have_one_vocabulary(database):
    issue(database, addressees={"codes": ["LAO-820801"]}, reporting={
        "indicator_code": "A", "indicator_name_th": "a", "direction": "lower", "rrule": "FREQ=YEARLY;BYMONTH=12",
        "fiscal_year_be": "๒๕๖๙"})
    [rule] = events(database, "plans.reporting_rule_published.v1")
    assert rule.fiscal_year_be == 2569 and rule.indicators[0].direction == "decrease"
    with pytest.raises(InputError) as error:
        issue(database, reporting={"indicator_code": "A", "indicator_name_th": "a", "direction": "sideways",
                                   "rrule": "FREQ=YEARLY;BYMONTH=12"})
    assert error.value.field == "reporting.direction"


def test_the_events_accept_what_the_longest_allowed_directive_emits(database):
    """The commands' limits are no tighter than the event contracts: a directive at every maximum length,
    with B.E. timestamps and a multi-line text, is issued and every event it publishes decodes."""
    from shared.validation import TITLE_MAX
    issue(database, document_number="ท" * 160, subject_th="ก" * TITLE_MAX, text_th="๑. ข้อ\n\t" + "ข" * 19_990,
          addressees={"codes": ["PLO-09"]}, acknowledge_due_at="2570-01-31T16:30:00+07:00",
          reporting={"indicator_code": "I" * 64, "indicator_name_th": "ค" * TITLE_MAX, "unit_of_measure": "ร" * 300,
                     "minimum": -1e15, "maximum": 1e15, "period": "2570-01", "due_at": "2570-01-31T16:30:00+07:00"})
    [issued] = events(database, "plans.directive_issued.v1")
    assert issued.title_th == "ก" * TITLE_MAX and issued.acknowledge_due_at.year == 2027
    assert issued.reporting.due_at == datetime(2027, 1, 31, 9, 30, tzinfo=timezone.utc)
    [created] = events(database, "plans.assignment_created.v1")
    assert created.document_number == "ท" * 160 and created.reporting.indicator_name_th == "ค" * TITLE_MAX
