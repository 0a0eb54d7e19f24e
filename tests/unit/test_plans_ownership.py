"""Who may write what in plans: the pure rules (with hypothesis for the scope rule) and the use cases
that apply them whoever calls (each refusal changes nothing)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from services.plans import assignment_actions, document_actions, domain, unit_changes, views
from services.plans.development_plans import importing
from shared.contracts.commands.plans import (AddAttachment, IssueDocument, RecordDocument, RegisterReceipt,
                                     RegisterUnits)
from services.plans.domain import Actor, Unit
from services.plans.models import assignments, attachments, documents, metadata, receipts
from services.plans.development_plans.tables import plan_plans
from shared.errors import InputError
from shared.validation import parse
from tests.fakes import sqlite_database

CENTRAL = Actor("central", "central", "DLA")
CHAINAT = Actor("chainat", "province", "PLO-09")
MUANG = Actor("muang-chainat", "district", "DLO-0115")
LAO = Actor("lao-180101", "lao", "LAO-180101")


# --- the pure rules ---------------------------------------------------------------------------------

@st.composite
def trees(draw):
    """A random org tree: unit i's parent is one of the units before it (unit 0 is the root)."""
    size = draw(st.integers(min_value=1, max_value=25))
    parents = [None] + [draw(st.integers(min_value=0, max_value=i - 1)) for i in range(1, size)]
    return [Unit(code=f"U{i}", level="lao", parent_code=None if p is None else f"U{p}")
            for i, p in enumerate(parents)]


def is_below_or_same(addressee: str, sender: str, units: list[Unit]) -> bool:
    """The oracle, walking up from the addressee (subtree() walks down from the sender)."""
    parent = {u.code: u.parent_code for u in units}
    code = addressee
    while code is not None:
        if code == sender:
            return True
        code = parent[code]
    return False


@settings(max_examples=300, deadline=None)
@given(data=st.data(), units=trees())
def test_an_addressee_outside_the_senders_subtree_is_refused_and_central_addresses_all(data, units):
    codes = [u.code for u in units]
    sender = data.draw(st.sampled_from(codes))
    addressees = data.draw(st.lists(st.sampled_from(codes), min_size=1, max_size=6))
    inside = all(is_below_or_same(a, sender, units) for a in addressees)
    for addressee in addressees:
        assert domain.may_address(sender, addressee, units) == is_below_or_same(addressee, sender, units)
        assert domain.may_address(sender, addressee, units, central=True)
    domain.check_item_scope(sender, sender, addressees, units, central=True, field="items[0]")
    if inside:
        domain.check_item_scope(sender, sender, addressees, units, central=False, field="items[0]")
    else:
        with pytest.raises(InputError) as error:
            domain.check_item_scope(sender, sender, addressees, units, central=False, field="items[0]")
        assert error.value.status == 403 and error.value.field == "items[0].addressees"
        outside = [a for a in addressees if not is_below_or_same(a, sender, units)]
        assert outside[0] in error.value.message_en and error.value.message_th


@settings(max_examples=200, deadline=None)
@given(data=st.data(), units=trees())
def test_an_issuer_outside_the_senders_subtree_is_refused(data, units):
    codes = [u.code for u in units]
    sender, issuer = data.draw(st.sampled_from(codes)), data.draw(st.sampled_from(codes))
    if is_below_or_same(issuer, sender, units):
        domain.check_item_scope(sender, issuer, [sender], units, central=False, field="items[2]")
    else:
        with pytest.raises(InputError) as error:
            domain.check_item_scope(sender, issuer, [sender], units, central=False, field="items[2]")
        assert (error.value.status, error.value.field) == (403, "items[2].issuer_code")


@given(role=st.sampled_from(["province", "district", "lao", "reviewer", "ops"]),
       own=st.sampled_from(["PLO-09", "DLO-0115", "LAO-180101"]),
       stated=st.one_of(st.none(), st.sampled_from(["PLO-09", "DLO-0115", "LAO-180101", "DLA", "MOI"])))
def test_the_sender_is_the_callers_own_unit_unless_central_states_it(role, own, stated):
    actor = Actor("someone", role, own)
    if stated in (None, own):
        assert domain.document_sender(actor, stated) == own
    else:
        with pytest.raises(InputError) as error:
            domain.document_sender(actor, stated)
        assert (error.value.status, error.value.field) == (403, "sender_code")
    assert domain.document_sender(CENTRAL, "MOI") == "MOI"  # an incoming memo from above
    with pytest.raises(InputError) as error:  # never silently the caller's own unit
        domain.document_sender(CENTRAL, None)
    assert (error.value.status, error.value.field) == (422, "sender_code")


def test_only_the_recording_unit_or_central_may_edit_a_draft():
    assert domain.may_edit_draft(CENTRAL, "PLO-09") and domain.may_edit_draft(CENTRAL, None)
    assert domain.may_edit_draft(CHAINAT, "PLO-09")
    assert not domain.may_edit_draft(CHAINAT, "DLA")
    assert not domain.may_edit_draft(MUANG, "PLO-09")  # not even the province's own district office
    assert not domain.may_edit_draft(CHAINAT, None)


def test_only_central_or_the_owner_may_change_a_plan():
    assert domain.may_change_plan(CENTRAL, "PLO-10", "DLA", exists=True)
    assert domain.may_change_plan(CHAINAT, "PLO-09", None, exists=False)
    assert domain.may_change_plan(CHAINAT, "PLO-09", "PLO-09", exists=True)
    assert not domain.may_change_plan(CHAINAT, "PLO-10", None, exists=False)   # a plan in another's name
    assert not domain.may_change_plan(CHAINAT, "PLO-09", "DLA", exists=True)   # taking over DLA's plan
    assert not domain.may_change_plan(LAO, "DLA", "DLA", exists=True)


def test_an_actor_must_name_user_role_and_unit():
    assert Actor.of({"username": "u", "role": "lao", "org_code": "LAO-180101"}) == Actor("u", "lao", "LAO-180101")
    for bad in (None, {}, {"username": "u", "role": "lao"}, {"username": "u", "role": "", "org_code": "X"}):
        with pytest.raises(InputError) as error:
            Actor.of(bad)
        assert error.value.status == 403


@given(digits=st.text(alphabet="0123456789", min_size=1, max_size=8))
def test_receipt_numbers_in_thai_or_arabic_digits_are_one_number(digits):
    from shared.thai import to_thai_digits
    assert domain.normalize_receipt_number(to_thai_digits(digits)) == digits == domain.normalize_receipt_number(digits)


# --- the use cases, whoever calls ------------------------------------------------------------------

UNITS = [
    {"code": "MOI", "level": "ministry", "name_th": "กระทรวงมหาดไทย"},
    {"code": "DLA", "level": "department", "parent_code": "MOI", "name_th": "กรมส่งเสริมการปกครองท้องถิ่น"},
    {"code": "PLO-09", "level": "provincial_office", "parent_code": "DLA", "name_th": "สถจ.ชัยนาท", "province_code": "9"},
    {"code": "DLO-0115", "level": "district_office", "parent_code": "PLO-09", "name_th": "สถอ.เมืองชัยนาท",
     "province_code": "9"},
    {"code": "LAO-180101", "level": "lao", "lao_type": "town_municipality", "parent_code": "DLO-0115",
     "name_th": "เทศบาลเมืองชัยนาท", "province_code": "9"},
    {"code": "PLO-82", "level": "provincial_office", "parent_code": "DLA", "name_th": "สถจ.พังงา", "province_code": "82"},
    {"code": "DLO-8201", "level": "district_office", "parent_code": "PLO-82", "name_th": "สถอ.เมืองพังงา",
     "province_code": "82"},
    {"code": "LAO-820801", "level": "lao", "lao_type": "sao", "parent_code": "DLO-8201", "name_th": "อบต.ท้ายเหมือง",
     "province_code": "82"},
]


@pytest.fixture
def database(tmp_path):
    database = sqlite_database(tmp_path, metadata)
    with database.unit_of_work() as uow:
        unit_changes.register_units(RegisterUnits(units=UNITS), uow)
        uow.commit()
    yield database
    database.dispose()


def run(database, handler, command, **kwargs):
    with database.unit_of_work() as uow:
        result = handler(command, uow, **kwargs)
        uow.commit()
    return result


def counts(database) -> tuple:
    with database.session() as session:
        return tuple(session.execute(select(func.count()).select_from(table)).scalar()
                     for table in (documents, assignments, attachments, receipts, plan_plans))


def refused(database, status, field, handler, command, **kwargs) -> InputError:
    before = counts(database)
    with pytest.raises(InputError) as error:
        run(database, handler, command, **kwargs)
    assert (error.value.status, error.value.field) == (status, field), error.value
    assert counts(database) == before
    return error.value


def memo(**overrides) -> RecordDocument:
    payload = {"document_number": "ที่ มท ๐๒๑๑.๒/๑๙๓๕๕", "document_date": "2021-12-30", "subject_th": "สรุปข้อสั่งการ",
               "items": [{"text_th": "ให้ดำเนินการ", "addressees": {"level": "lao", "within": "PLO-09"}}]}
    return parse(RecordDocument, {**payload, **overrides})


def test_a_district_cannot_speak_for_dla_or_moi_or_address_another_province(database):
    refused(database, 403, "sender_code", document_actions.record_document, memo(sender_code="DLA"), actor=MUANG)
    refused(database, 403, "items[0].issuer_code", document_actions.record_document,
            memo(items=[{"issuer_code": "MOI", "text_th": "x", "addressees": {"codes": ["LAO-180101"]}}]), actor=MUANG)
    refused(database, 403, "items[0].addressees", document_actions.record_document,
            memo(items=[{"text_th": "x", "addressees": {"codes": ["LAO-820801"]}}]), actor=MUANG)
    own = run(database, document_actions.record_document,
              memo(items=[{"text_th": "x", "addressees": {"codes": ["LAO-180101"]}}]), actor=MUANG)
    with database.session() as session:
        row = session.execute(select(documents).where(documents.c.id == own["document_id"])).mappings().one()
    assert (row["sender_code"], row["recorded_by_unit"]) == ("DLO-0115", "DLO-0115")


def test_central_records_the_moi_memo_as_moi_and_addresses_anyone(database):
    recorded = run(database, document_actions.record_document,
                   memo(sender_code="MOI", items=[{"text_th": "x", "addressees": {"codes": ["LAO-820801"]}}]),
                   actor=CENTRAL)
    with database.session() as session:
        row = session.execute(select(documents).where(documents.c.id == recorded["document_id"])).mappings().one()
    assert (row["sender_code"], row["recorded_by_unit"]) == ("MOI", "DLA")
    refused(database, 422, "sender_code", document_actions.record_document, memo(document_number="มท 1/1"), actor=CENTRAL)


def test_only_the_recording_unit_or_central_attaches_to_or_issues_a_draft(database):
    draft = run(database, document_actions.record_document,
                memo(sender_code="DLA", items=[{"text_th": "x", "addressees": {"codes": ["LAO-820801"]}}]),
                actor=CENTRAL)
    # Chainat cannot see DLA's draft at all: not found, as its GET answers
    refused(database, 404, "document_id", document_actions.issue_document, IssueDocument(document_id=draft["document_id"]),
            actor=CHAINAT)
    refused(database, 404, "document_id", document_actions.add_attachment,
            AddAttachment(document_id=draft["document_id"], filename="a.txt", content_type="text/plain",
                          content_base64="YQ=="), actor=CHAINAT)
    # the district office sees its province's document once assigned, but did not record it: forbidden
    chainat_doc = run(database, document_actions.record_document,
                      memo(document_number="ชน 0023/1", items=[
                          {"text_th": "x", "addressees": {"codes": ["DLO-0115"]}},
                          {"text_th": "y", "addressees": {"codes": ["LAO-180101"]}}]), actor=CHAINAT)
    first = run(database, document_actions.issue_document,
                IssueDocument(document_id=chainat_doc["document_id"], items=[chainat_doc["directive_ids"][0]]),
                actor=CHAINAT)
    assert [d["directive_id"] for d in first["directives"]] == [chainat_doc["directive_ids"][0]]
    refused(database, 403, "document_id", document_actions.issue_document,
            IssueDocument(document_id=chainat_doc["document_id"]), actor=MUANG)
    second = run(database, document_actions.issue_document, IssueDocument(document_id=chainat_doc["document_id"]),
                 actor=CENTRAL)
    assert [d["directive_id"] for d in second["directives"]] == [chainat_doc["directive_ids"][1]]


def test_issuing_a_subset_names_an_unknown_item(database):
    draft = run(database, document_actions.record_document, memo(), actor=CHAINAT)
    refused(database, 422, "items[0]", document_actions.issue_document,
            IssueDocument(document_id=draft["document_id"], items=["not-an-item"]), actor=CHAINAT)


def test_the_same_memo_again_is_a_conflict_naming_the_first_unless_allowed(database):
    first = run(database, document_actions.record_document, memo(sender_code="MOI"), actor=CENTRAL)
    error = refused(database, 409, "document_number", document_actions.record_document,
                    memo(sender_code="MOI", document_number="มท 0211.2/19355"), actor=CENTRAL)
    assert error.details == {"existing_document_id": first["document_id"]}
    assert error.as_problem()["existing_document_id"] == first["document_id"]
    # another date or sender is another document; allow_duplicate records it anyway
    run(database, document_actions.record_document, memo(sender_code="MOI", document_date="2021-12-31"), actor=CENTRAL)
    run(database, document_actions.record_document, memo(sender_code="MOI", allow_duplicate=True), actor=CENTRAL)
    with database.session() as session:
        found = views.find_documents(session, number="๐๒๑๑.๒/๑๙๓๕๕")
    assert len(found) == 3 and all(d["number_normalized"] == "มท 0211.2/19355" for d in found)


def test_receipts_only_for_visible_documents_with_one_number_in_either_digits(database):
    dla_only = run(database, document_actions.record_document, memo(sender_code="DLA", items=[]), actor=CENTRAL)
    refused(database, 404, "document_id", assignment_actions.register_receipt,
            RegisterReceipt(unit_code="LAO-180101", document_id=dla_only["document_id"], receipt_no="1",
                            received_on="2022-01-04"), actor=LAO)
    refused(database, 403, "unit_code", assignment_actions.register_receipt,
            RegisterReceipt(unit_code="PLO-09", document_id=dla_only["document_id"], receipt_no="1",
                            received_on="2022-01-04"), actor=LAO)
    run(database, assignment_actions.register_receipt, RegisterReceipt(
        unit_code="DLA", document_id=dla_only["document_id"], receipt_no="๕๐๘๓๖", received_on="2022-01-04"),
        actor=CENTRAL)
    refused(database, 409, "receipt_no", assignment_actions.register_receipt, RegisterReceipt(
        unit_code="DLA", document_id=dla_only["document_id"], receipt_no="50836", received_on="2022-02-01"),
        actor=CENTRAL)
    with database.session() as session:
        assert [r["receipt_no"] for r in views.get_document(session, dla_only["document_id"])["receipts"]] == ["50836"]


def test_a_receipt_number_given_when_acknowledging_is_kept_with_arabic_digits(database):
    from shared.contracts.commands.plans import AcknowledgeAssignment
    draft = run(database, document_actions.record_document,
                memo(sender_code="DLA", items=[{"text_th": "x", "addressees": {"codes": ["LAO-180101"]}}]),
                actor=CENTRAL)
    run(database, document_actions.issue_document, IssueDocument(document_id=draft["document_id"]), actor=CENTRAL)
    with database.session() as session:
        assignment_id = session.execute(select(assignments.c.id)).scalar_one()
    run(database, assignment_actions.acknowledge_assignment,
        AcknowledgeAssignment(assignment_id=assignment_id, unit_code="LAO-180101", receipt_number="๑๒"))
    with database.session() as session:
        assert views.get_assignment(session, assignment_id)["receipt_number"] == "12"


PLAN = {"format": "thongthin.plan/v1",
        "plan": {"id": "PLO-09-PLAN", "type": "provincial", "owner_code": "PLO-09", "title_th": "แผนพัฒนาจังหวัดชัยนาท",
                 "period_be_start": 2566, "period_be_end": 2570},
        "indicators": [{"id": "K1", "name_th": "ตัวชี้วัด", "unit_th": "แห่ง", "direction": "higher",
                        "targets": {"2566": 1}}]}


def test_a_plan_is_changed_only_by_central_or_its_owner_dry_run_included(database):
    def import_as(actor, document, dry_run=False):
        with database.unit_of_work() as uow:
            result = importing.import_plan(document, uow, dry_run=dry_run, actor=actor)
            uow.commit()
        return result

    dla_plan = {**PLAN, "plan": {**PLAN["plan"], "id": "DLA-PLAN", "owner_code": "DLA"}}
    assert import_as(CENTRAL, dla_plan)["status"] == "created"
    overwrite = {**dla_plan, "indicators": [{**PLAN["indicators"][0], "targets": {"2566": 99}}]}
    for actor, dry_run in ((CHAINAT, True), (LAO, True), (CHAINAT, False)):
        before = counts(database)
        with pytest.raises(InputError) as error:
            import_as(actor, overwrite, dry_run)
        assert error.value.status == 403 and counts(database) == before
    with pytest.raises(InputError) as error:  # a plan in another province's name
        import_as(CHAINAT, {**PLAN, "plan": {**PLAN["plan"], "id": "PLO-10-PLAN", "owner_code": "PLO-10"}})
    assert (error.value.status, error.value.field) == (403, "plan.owner_code")
    assert import_as(CHAINAT, PLAN)["status"] == "created"   # its own plan
    assert import_as(CENTRAL, overwrite, dry_run=True)["status"] == "updated"
