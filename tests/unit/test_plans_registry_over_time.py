"""The registry over time in the plans service (issue #16): changes on their effective dates, partial
updates, mergers and splits with successor links, 'current' as of a date, and the refusal of a change
that rewrites a period already reported unless central forces it."""
from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from services.plans import document_actions, lookups, unit_changes, unit_csv, unit_endings, views
from shared.contracts.commands.plans import RegisterUnits
from services.plans.models import assignments, metadata, org_units, reported_periods
from shared.calendar import period_bounds
from shared.contracts import decode
from shared.contracts.events import IndicatorSubmitted, OrgUnitChanged, SubmittedValue
from shared.errors import InputError
from shared.messaging.tables import outbox
from shared.unit_versions import check_versions, version_for_period
from shared.validation import parse
from tests.fakes import sqlite_database

TODAY = date(2026, 12, 8)
BASE = [
    dict(code="MOI", level="ministry", name_th="กระทรวงมหาดไทย"),
    dict(code="DLA", level="department", parent_code="MOI", name_th="กรมส่งเสริมการปกครองท้องถิ่น"),
    dict(code="PLO-09", level="provincial_office", parent_code="DLA", name_th="สถจ.ชัยนาท", province_code="9"),
    dict(code="DLO-0901", level="district_office", parent_code="PLO-09", name_th="สถอ.เมืองชัยนาท",
         province_code="9", district_code="0901"),
    dict(code="DLO-0902", level="district_office", parent_code="PLO-09", name_th="สถอ.มโนรมย์",
         province_code="9", district_code="0902"),
]
LAOS = ["LAO-A", "LAO-B", "LAO-C", "LAO-D"]
CENTRAL = {"username": "central", "role": "central", "org_code": "DLA"}
PROVINCE = {"username": "chainat", "role": "province", "org_code": "PLO-09"}


def new_database(path: Path):
    database = sqlite_database(path, metadata)
    units = BASE + [dict(code=code, level="lao", lao_type="sao", parent_code="DLO-0901", name_th=f"อบต.{code}",
                         province_code="9", district_code="0901", contact_email=f"{code.lower()}@example.go.th",
                         head_name_th="นายก", head_phone="+66811111111") for code in LAOS]
    register(database, {"units": units})
    return database


def register(database, body: dict, actor: dict | None = None, today: date = TODAY) -> dict:
    with database.unit_of_work() as uow:
        result = unit_changes.register_units(parse(RegisterUnits, body), uow, actor=actor, today=today)
        uow.commit()
    return result


def versions(database, code: str | None = None) -> list[dict]:
    with database.session() as session:
        query = select(org_units).order_by(org_units.c.code, org_units.c.valid_from)
        if code:
            query = query.where(org_units.c.code == code)
        return [dict(row) for row in session.execute(query).mappings()]


def unit_events(database) -> list[OrgUnitChanged]:
    with database.session() as session:
        bodies = session.execute(select(outbox.c.body).order_by(outbox.c.id)).scalars().all()
    return [event for envelope, event in map(decode, bodies) if envelope.type == OrgUnitChanged.TYPE]


def report(database, code: str, period: str) -> None:
    start, end = period_bounds(period)
    with database.unit_of_work() as uow:
        uow.session.execute(insert(reported_periods).values(unit_code=code, period=period, period_start=start,
                                                            period_end=end))
        uow.commit()


@pytest.fixture
def database(tmp_path):
    return new_database(tmp_path)


# --- effective dates ------------------------------------------------------------------------------------

def test_an_upgrade_dated_in_the_past_takes_effect_on_that_day_and_keeps_the_other_fields(database):
    result = register(database, {"units": [{"code": "LAO-A", "lao_type": "subdistrict_municipality",
                                            "name_th": "เทศบาลตำบล A", "effective_date": "2026-04-01"}]})
    assert result["changed"] == 1 and result["changes"][0]["change_kind"] == "type_changed"
    assert result["changes"][0]["fields"] == {"lao_type": ["sao", "subdistrict_municipality"],
                                              "name_th": ["อบต.LAO-A", "เทศบาลตำบล A"]}
    before, after = versions(database, "LAO-A")
    assert (before["valid_from"], before["valid_to"], after["valid_from"], after["valid_to"]) == (
        date(2000, 1, 1), date(2026, 4, 1), date(2026, 4, 1), None)
    # a field left out stays as it was: the head and the e-mail still reach the municipality
    assert after["contact_email"] == "lao-a@example.go.th" and after["head_phone"] == "+66811111111"
    assert (after["change_kind"], after["effective_date"], before["end_kind"]) == (
        "type_changed", date(2026, 4, 1), "type_changed")


def test_a_field_sent_as_null_is_cleared_and_the_dry_run_shows_exactly_that(database):
    preview = register(database, {"units": [{"code": "LAO-B", "head_phone": None, "effective_date": "2026-12-08"}],
                                  "dry_run": True})
    assert preview["changes"] == [{"code": "LAO-B", "action": "change", "change_kind": "updated",
                                   "effective_date": "2026-12-08", "fields": {"head_phone": ["+66811111111", None]}}]
    assert len(versions(database, "LAO-B")) == 1  # nothing written
    register(database, {"units": [{"code": "LAO-B", "head_phone": None}]})
    latest = versions(database, "LAO-B")[-1]
    assert latest["head_phone"] is None and latest["head_name_th"] == "นายก"
    assert latest["valid_from"] == TODAY  # no effective date: today in Bangkok


def test_a_change_inside_history_splits_that_version_and_carries_to_later_ones(database):
    register(database, {"units": [{"code": "LAO-C", "name_th": "อบต.ซี ใหม่", "effective_date": "2026-06-01"}]})
    register(database, {"units": [{"code": "LAO-C", "parent_code": "DLO-0902", "district_code": "0902",
                                   "effective_date": "2026-03-01"}]})
    rows = versions(database, "LAO-C")
    assert [(r["valid_from"], r["valid_to"], r["parent_code"], r["name_th"]) for r in rows] == [
        (date(2000, 1, 1), date(2026, 3, 1), "DLO-0901", "อบต.LAO-C"),
        (date(2026, 3, 1), date(2026, 6, 1), "DLO-0902", "อบต.LAO-C"),
        (date(2026, 6, 1), None, "DLO-0902", "อบต.ซี ใหม่")]
    assert rows[1]["change_kind"] == "moved"


def test_a_closing_asked_for_a_date_ends_on_that_date_and_never_inverts(database):
    register(database, {"units": [{"code": "LAO-D", "valid_to": "2026-12-01"}]})
    [only] = versions(database, "LAO-D")
    assert (only["valid_from"], only["valid_to"], only["end_kind"]) == (date(2000, 1, 1), date(2026, 12, 1), "closed")
    later = pytest.raises(InputError, register, database, {"units": [{"code": "LAO-D", "name_th": "x"}]})
    assert later.value.status == 409 and later.value.field == "units[0].effective_date"
    assert "2026-12-01" in later.value.message_en and "2026-12-01" in later.value.message_th


def test_a_closing_removes_the_versions_after_it(database):
    register(database, {"units": [{"code": "LAO-A", "name_th": "ชื่อใหม่", "effective_date": "2027-03-01"}]})
    register(database, {"units": [{"code": "LAO-A", "change_kind": "closed", "effective_date": "2027-01-01"}]})
    assert [(r["valid_from"], r["valid_to"]) for r in versions(database, "LAO-A")] == [
        (date(2000, 1, 1), date(2027, 1, 1))]


def test_future_opening_and_future_closing_as_of_a_date(database):
    register(database, {"units": [
        {"code": "LAO-NEW", "level": "lao", "lao_type": "sao", "parent_code": "DLO-0901", "name_th": "อบต.ใหม่",
         "effective_date": "2027-01-01"},
        {"code": "LAO-B", "change_kind": "closed", "effective_date": "2027-02-01"}]})
    with database.session() as session:
        today = {u["code"] for u in views.list_units(session, level="lao", on=TODAY)}
        january = {u["code"] for u in views.list_units(session, level="lao", on=date(2027, 1, 15))}
        february = {u["code"] for u in views.list_units(session, level="lao", on=date(2027, 2, 1))}
        counts_today = views.registry_counts(session, TODAY)
    assert "LAO-NEW" not in today and "LAO-B" in today
    assert {"LAO-NEW", "LAO-B"} <= january
    assert "LAO-B" not in february and "LAO-NEW" in february
    assert counts_today["lao"] == 4


# --- mergers and splits ------------------------------------------------------------------------------------

def test_a_merger_closes_the_predecessors_and_links_both_ways(database):
    result = register(database, {"units": [{
        "code": "LAO-AB", "level": "lao", "lao_type": "subdistrict_municipality", "parent_code": "DLO-0901",
        "name_th": "เทศบาลตำบลเอบี", "change_kind": "merged", "predecessor_codes": ["LAO-A", "LAO-B"],
        "effective_date": "2026-10-01", "reason": "ประกาศกระทรวงมหาดไทย"}]})
    assert result["created"] == 1
    [successor] = versions(database, "LAO-AB")
    assert successor["valid_from"] == date(2026, 10, 1) and successor["change_kind"] == "merged"
    with database.session() as session:
        history = views.unit_history(session, "LAO-AB")
        a_history = views.unit_history(session, "LAO-A")
    assert history[0]["predecessor_codes"] == ["LAO-A", "LAO-B"]
    assert a_history[-1]["successor_codes"] == ["LAO-AB"] and a_history[-1]["valid_to"] == "2026-10-01"
    assert a_history[-1]["end_kind"] == "merged"
    ended = [e for e in unit_events(database) if e.code in ("LAO-A", "LAO-B") and e.valid_to == date(2026, 10, 1)]
    assert {e.code for e in ended} == {"LAO-A", "LAO-B"}
    assert all(e.change_kind == "merged" and e.successor_codes == ["LAO-AB"] and e.effective_date == date(2026, 10, 1)
               and e.reason == "ประกาศกระทรวงมหาดไทย" for e in ended)


def test_a_merger_into_an_existing_unit_from_the_predecessor_row(database):
    register(database, {"units": [{"code": "LAO-C", "change_kind": "merged", "successor_codes": ["LAO-D"],
                                   "effective_date": "2026-11-01"}]})
    assert versions(database, "LAO-C")[-1]["valid_to"] == date(2026, 11, 1)
    d_rows = versions(database, "LAO-D")
    assert [(r["valid_from"], r["valid_to"]) for r in d_rows] == [(date(2000, 1, 1), date(2026, 11, 1)),
                                                                  (date(2026, 11, 1), None)]
    assert d_rows[-1]["predecessor_codes"] == '["LAO-C"]'


def test_a_split_ends_the_unit_and_opens_its_successors(database):
    register(database, {"units": [
        {"code": f"LAO-D{n}", "level": "lao", "lao_type": "sao", "parent_code": "DLO-0902", "name_th": f"อบต.ดี{n}",
         "change_kind": "split", "predecessor_codes": ["LAO-D"], "effective_date": "2026-10-01"} for n in (1, 2)]})
    [ended] = versions(database, "LAO-D")
    assert ended["valid_to"] == date(2026, 10, 1) and ended["successor_codes"] == '["LAO-D1", "LAO-D2"]'


def test_open_assignments_of_a_merged_unit_move_to_its_successor(database):
    from shared.contracts.commands.plans import IssueDirective
    with database.unit_of_work() as uow:
        document_actions.issue_directive(parse(IssueDirective, {
            "document_number": "มท ๐๘๐๑.๒/ว ๙", "document_date": "2026-12-01", "urgency": "urgent",
            "subject_th": "รายงาน", "issuer_code": "DLA", "text_th": "ให้รายงาน",
            "addressees": {"codes": ["LAO-A", "LAO-B"]}}), uow)
        uow.commit()
    register(database, {"units": [{"code": "LAO-A", "change_kind": "merged", "successor_codes": ["LAO-C"],
                                   "effective_date": "2026-12-01", "reason": "ควบรวม"}]})
    with database.session() as session:
        rows = {r["unit_code"]: r for r in session.execute(select(assignments)).mappings()}
    assert rows["LAO-A"]["state"] == "cancelled" and rows["LAO-C"]["state"] == "issued"
    assert rows["LAO-B"]["state"] == "issued"


def test_a_future_merger_moves_the_open_assignments_on_its_day_not_before(database):
    from shared.contracts.commands.plans import IssueDirective
    with database.unit_of_work() as uow:
        document_actions.issue_directive(parse(IssueDirective, {
            "document_number": "มท ๐๘๐๑.๒/ว ๑๑", "document_date": "2026-12-01", "urgency": "urgent",
            "subject_th": "รายงาน", "issuer_code": "DLA", "text_th": "ให้รายงาน", "addressees": {"codes": ["LAO-B"]}}), uow)
        uow.commit()
    real_today = lookups.bangkok_today()
    day = real_today + timedelta(days=10)
    register(database, {"units": [{"code": "LAO-B", "change_kind": "merged", "successor_codes": ["LAO-C"],
                                   "effective_date": day.isoformat()}]}, today=real_today)

    def states():
        with database.session() as session:
            return {r["unit_code"]: r["state"] for r in session.execute(select(assignments)).mappings()}

    def settle(today):
        with database.unit_of_work() as uow:
            settled = unit_endings.settle_ended_units(uow, today)
            uow.commit()
            return settled
    assert settle(real_today) == 0 and states() == {"LAO-B": "issued"}
    assert settle(day) == 1
    assert states() == {"LAO-B": "cancelled", "LAO-C": "issued"}
    assert settle(day) == 0  # once


# --- as of a date: addressees ------------------------------------------------------------------------------

def test_addressees_of_a_directive_are_the_units_of_its_issue_day(database):
    from shared.contracts.commands.plans import IssueDirective
    register(database, {"units": [
        {"code": "LAO-LATER", "level": "lao", "lao_type": "sao", "parent_code": "DLO-0901", "name_th": "อบต.ภายหลัง",
         "effective_date": (date.today() + timedelta(days=400)).isoformat()},
        {"code": "LAO-A", "change_kind": "closed", "effective_date": (date.today() + timedelta(days=400)).isoformat()}]})
    with database.unit_of_work() as uow:
        result = document_actions.issue_directive(parse(IssueDirective, {
            "document_number": "มท ๐๘๐๑.๒/ว ๑๐", "document_date": "2026-12-01", "urgency": "urgent",
            "subject_th": "รายงาน", "issuer_code": "DLA", "text_th": "ให้รายงาน",
            "addressees": {"level": "lao", "within": "DLO-0901"}}), uow)
        uow.commit()
    with database.session() as session:
        addressed = set(session.execute(select(assignments.c.unit_code).where(
            assignments.c.directive_id == result["directive_id"])).scalars())
    assert addressed == set(LAOS)  # LAO-A still exists today; LAO-LATER does not yet


# --- reported periods ----------------------------------------------------------------------------------------

def test_the_reported_periods_are_kept_from_assessments_once(database):
    event = IndicatorSubmitted(submission_id="s", obligation_id="o", unit_code="LAO-A", period="2569-10",
                               values=[SubmittedValue(indicator_code="X", value=1)],
                               submitted_at="2026-11-03T09:00:00+07:00", due_at="2026-11-03T16:30:00+07:00",
                               on_time=True)
    envelope = None  # the handler needs only the event
    for _ in range(2):
        with database.unit_of_work() as uow:
            unit_changes.on_indicator_submitted(event, uow, envelope)
            uow.commit()
    with database.session() as session:
        rows = session.execute(select(reported_periods)).mappings().all()
    assert [(r["unit_code"], r["period"], r["period_start"], r["period_end"]) for r in rows] == [
        ("LAO-A", "2569-10", date(2026, 10, 1), date(2026, 10, 31))]


def test_a_change_that_rewrites_a_reported_period_is_refused_unless_central_forces_it(database):
    report(database, "LAO-A", "2569-10")
    closing = {"code": "LAO-A", "change_kind": "closed", "effective_date": "2026-09-15"}
    refused = pytest.raises(InputError, register, database, {"units": [closing]}, CENTRAL)
    assert refused.value.status == 409 and refused.value.code == "rewrites_reported_period"
    assert refused.value.field == "units[0].effective_date"
    assert "2569-10" in refused.value.message_th and "2569-10" in refused.value.message_en
    assert refused.value.details["period"] == "2569-10"
    upgrade = {"code": "LAO-A", "lao_type": "town_municipality", "effective_date": "2026-10-20"}
    assert pytest.raises(InputError, register, database, {"units": [upgrade]}).value.status == 409
    # a rename never changes a count; an upgrade after the period does not rewrite it
    register(database, {"units": [{"code": "LAO-A", "name_th": "อบต.เอ", "effective_date": "2026-10-20"}]})
    register(database, {"units": [{"code": "LAO-A", "lao_type": "subdistrict_municipality",
                                   "effective_date": "2026-11-01"}]})
    no_reason = pytest.raises(InputError, parse, RegisterUnits, {"units": [{**closing, "force": True}]})
    assert no_reason.value.field == "units[0]"
    forced = {**closing, "force": True, "reason": "คำสั่งศาลปกครอง"}
    assert pytest.raises(InputError, register, database, {"units": [forced]}, PROVINCE).value.status == 403
    result = register(database, {"units": [forced]}, CENTRAL)
    assert result["forced"] == ["LAO-A"]
    [last] = [e for e in unit_events(database) if e.code == "LAO-A"][-1:]
    assert last.forced is True and last.reason == "คำสั่งศาลปกครอง" and last.valid_to == date(2026, 9, 15)


# --- the CSV import ----------------------------------------------------------------------------------------

def test_the_csv_import_takes_change_kinds_dates_and_links():
    rows = unit_csv.units_from_csv(
        "code,change_kind,effective_date,successor_codes,predecessor_codes,reason,force\n"
        "LAO-A,merged,2026-10-01,LAO-AB; LAO-X,,ควบรวม,true\n"
        "LAO-AB,merged,2026-10-01,,LAO-A;LAO-B,,\n")
    assert rows[0] == {"code": "LAO-A", "change_kind": "merged", "effective_date": "2026-10-01",
                       "successor_codes": ["LAO-AB", "LAO-X"], "reason": "ควบรวม", "force": True}
    assert rows[1]["predecessor_codes"] == ["LAO-A", "LAO-B"]
    assert unit_csv.csv_field("units[3].effective_date") == "rows[3].effective_date"
    with pytest.raises(InputError) as error:
        parse(RegisterUnits, {"units": [{"code": "X", "level": "lao", "lao_type": "sao", "name_th": "x"}] * 3
                              + [{"code": "Y", "effective_date": "not a date"}]})
    assert unit_csv.csv_field(error.value.field) == "rows[3].effective_date"


# --- property: any sequence of changes ------------------------------------------------------------------

DAY0 = date(2026, 1, 1)
MONTHS = [f"2569-{m:02d}" for m in range(1, 13)]


@st.composite
def change(draw, number: int):
    day = (DAY0 + timedelta(days=draw(st.integers(-200, 500)))).isoformat()
    code = draw(st.sampled_from(LAOS))
    forced = draw(st.booleans()) and draw(st.booleans())
    extra = {"force": True, "reason": "ทดสอบ"} if forced else {}
    kind = draw(st.sampled_from(["upgrade", "rename", "move", "close", "merge_new", "merge_into", "split", "open"]))
    if kind == "upgrade":
        units = [{"code": code, "lao_type": draw(st.sampled_from(["subdistrict_municipality", "town_municipality"])),
                  "effective_date": day, **extra}]
    elif kind == "rename":
        units = [{"code": code, "name_th": f"ชื่อ {number}", "effective_date": day, **extra}]
    elif kind == "move":
        district = draw(st.sampled_from(["0901", "0902"]))
        units = [{"code": code, "parent_code": f"DLO-{district}", "district_code": district, "effective_date": day,
                  **extra}]
    elif kind == "close":
        units = [{"code": code, "change_kind": "closed", "effective_date": day, **extra}]
    elif kind == "merge_new":
        others = draw(st.lists(st.sampled_from(LAOS), min_size=2, max_size=2, unique=True))
        units = [{"code": f"LAO-M{number}", "level": "lao", "lao_type": "subdistrict_municipality",
                  "parent_code": "DLO-0901", "name_th": "เทศบาล", "change_kind": "merged", "predecessor_codes": others,
                  "effective_date": day, **extra}]
    elif kind == "merge_into":
        into = draw(st.sampled_from([c for c in LAOS if c != code]))
        units = [{"code": code, "change_kind": "merged", "successor_codes": [into], "effective_date": day, **extra}]
    elif kind == "split":
        units = [{"code": f"LAO-S{number}{n}", "level": "lao", "lao_type": "sao", "parent_code": "DLO-0902",
                  "name_th": "อบต.แยก", "change_kind": "split", "predecessor_codes": [code], "effective_date": day,
                  **extra} for n in (1, 2)]
    else:
        units = [{"code": f"LAO-O{number}", "level": "lao", "lao_type": "sao", "parent_code": "DLO-0902",
                  "name_th": "อบต.ใหม่", "effective_date": day}]
    return units, forced


def counted(database, reported: list[tuple[str, str]]) -> dict:
    """How each reported (unit, period) is counted: existence, type, district."""
    result = {}
    for code, period in reported:
        start, end = period_bounds(period)
        version = version_for_period(versions(database, code), start, end)
        result[(code, period)] = None if version is None else (version["lao_type"], version["parent_code"],
                                                                version["district_code"])
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reported=st.lists(st.tuples(st.sampled_from(LAOS), st.sampled_from(MONTHS)), max_size=4, unique=True),
       steps=st.data())
def test_any_sequence_of_changes_keeps_versions_sound_and_reported_periods_unchanged_unless_forced(reported, steps):
    with tempfile.TemporaryDirectory() as folder:
        database = new_database(Path(folder))
        for code, period in reported:
            report(database, code, period)
        for number in range(8):
            units, forced = steps.draw(change(number))
            before = counted(database, reported)
            try:
                register(database, {"units": units}, CENTRAL)
            except InputError as error:
                assert 400 <= error.status < 500 and error.code != "conflict", error
                assert counted(database, reported) == before  # a refusal changes nothing
                continue
            rows = versions(database)
            check_versions(rows)
            assert all(r["valid_to"] is None or r["valid_to"] > r["valid_from"] for r in rows)
            if not forced:
                assert counted(database, reported) == before, units
        # every consumer keeping the highest revision per (code, valid_from) holds the registry's truth
        latest: dict = {}
        last_revision: dict = {}
        for event in unit_events(database):
            assert event.revision > last_revision.get(event.code, -1)
            last_revision[event.code] = event.revision
            latest[(event.code, event.valid_from)] = event
        for row in versions(database):
            event = latest[(row["code"], row["valid_from"])]
            assert (event.valid_to, event.lao_type, event.parent_code, event.name_th) == (
                row["valid_to"], row["lao_type"], row["parent_code"], row["name_th"])


def test_the_on_date_of_a_registry_query_is_read_the_thai_way_or_refused_by_name():
    from services.plans.service import parse_on
    assert parse_on(None) is None and parse_on("") is None
    assert parse_on("2026-12-07") == parse_on("7/12/2569") == date(2026, 12, 7)
    with pytest.raises(InputError) as error:
        parse_on("yesterday")
    assert error.value.field == "on" and error.value.status == 422 and error.value.message_th


def test_the_migration_repairs_a_closing_the_old_code_inverted(tmp_path):
    """Issue #16's corrupt history: a closing asked for 2026-12-01 on 2026-12-07 left the version
    [2000-01-01, 2026-12-07) and an inverted one [2026-12-07, 2026-12-01). After migration 0006 the
    unit ends on the day asked, and the store refuses an inverted version."""
    from alembic import command
    from sqlalchemy import create_engine, exc, text

    from shared.migrate import alembic_config
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    config = alembic_config("plans", url)
    command.upgrade(config, "0005_rpc_results")
    engine = create_engine(url)
    row = "INSERT INTO org_units (code, level, name_th, valid_from, valid_to) VALUES ('LAO-1', 'lao', 'x', :start, :end)"
    with engine.begin() as connection:
        connection.execute(text(row), {"start": "2000-01-01", "end": "2026-12-07"})
        connection.execute(text(row), {"start": "2026-12-07", "end": "2026-12-01"})
    command.upgrade(config, "head")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT valid_from, valid_to FROM org_units WHERE code = 'LAO-1'")).all()
    assert [tuple(r) for r in rows] == [("2000-01-01", "2026-12-01")]
    with pytest.raises(exc.IntegrityError), engine.begin() as connection:
        connection.execute(text(row), {"start": "2027-01-01", "end": "2026-12-31"})
    engine.dispose()
