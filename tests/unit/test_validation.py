"""The shared input rules (shared/validation.py), property-based where a rule must hold for every input,
and the commands that use them: control characters, lengths, numbers, Buddhist-era timestamps, dates,
file names, JSON nesting, exports."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.contracts.commands.assessments import DecideExtension, RequestExtension, SubmitValues
from services.gateway.exports import columns, to_csv, to_xlsx
from shared.contracts.commands.plans import AddAttachment, IssueDirective, RecordDocument, RegisterUnits
from services.plans.development_plans.reading import load_document, read_plan
from shared.errors import InputError
from shared.validation import (MAX_FILENAME, NOT_IN_TEXT, TEXT_MAX, TITLE_MAX, bounded_int, check_json_depth,
                               control_character_problem, json_depth, parse, printable, safe_filename)

BAD = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]] + \
    ["\ud800", "\udfff", "\ufffe", "\uffff"]
bad_char = st.sampled_from(BAD)
good_text = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"))
DIRECTIVE = {"document_number": "มท ๐๘๑๐.๓/ว ๗๗", "document_date": "2569-11-21", "subject_th": "รายงานผล",
             "issuer_code": "DLA", "text_th": "ให้ อปท. รายงาน", "addressees": {"codes": ["LAO-180101"]}}


def refused(model, data) -> InputError:
    with pytest.raises(InputError) as caught:
        parse(model, data)
    assert caught.value.status == 422 and caught.value.message_th and caught.value.message_en
    return caught.value


# --- text --------------------------------------------------------------------------------------------

@given(good_text, bad_char, good_text)
def test_a_control_character_anywhere_is_found(before, char, after):
    assert control_character_problem(before + char + after) is not None
    assert control_character_problem(before + char + after, multiline=False) is not None


@given(good_text)
def test_text_without_control_characters_passes_and_tab_and_newline_only_in_long_text(text):
    assert control_character_problem(text) is None
    assert control_character_problem(text + "\t\n\r") is None
    assert control_character_problem(text + "\n", multiline=False) is not None


@settings(max_examples=60)
@given(st.sampled_from(["subject_th", "text_th", "document_number"]), good_text, bad_char, good_text)
def test_every_directive_text_field_refuses_a_control_character_naming_the_field(field, before, char, after):
    # between two letters: trimming (which takes \x1c-\x1f and \x85 for spaces) cannot remove it
    error = refused(IssueDirective, {**DIRECTIVE, field: before + "ก" + char + "ข" + after})
    assert error.field == field


@pytest.mark.parametrize("model, data, field", [
    (RecordDocument, {"document_date": "2569-11-21", "subject_th": "เรื่อง", "sender_text": "ก\x00"}, "sender_text"),
    (RecordDocument, {"document_date": "2569-11-21", "subject_th": "เรื่อง",
                      "items": [{"text_th": "ข้อ", "topic_th": "a\x1b[31m", "addressees": {"codes": ["X"]}}]},
     "items[0].topic_th"),
    (RecordDocument, {"document_date": "2569-11-21", "subject_th": "เรื่อง",
                      "items": [{"text_th": "ข้อ", "addressees": {"codes": ["LAO\x00"]}}]}, "items[0].addressees.codes[0]"),
    (RecordDocument, {"document_date": "2569-11-21", "subject_th": "เรื่อง",
                      "items": [{"text_th": "ข้อ", "addressees": {"criterion": {"attribute": "lao_type", "in": ["s\x00"]}}}]},
     "items[0].addressees.criterion"),
    (RequestExtension, {"obligation_id": "o", "unit_code": "U", "requested_due_at": "2026-12-31T16:30:00+07:00",
                        "reason": "ไฟฟ้า\x00ดับ"}, "reason"),
    (SubmitValues, {"obligation_id": "o", "unit_code": "U", "values": [{"indicator_code": "A", "value": 1,
                                                                      "note": "\x07"}]}, "values[0].note"),
    (DecideExtension, {"request_id": "r", "decider_unit_code": "U", "approve": False, "comment": "a\x85b"}, "comment"),
    (RegisterUnits, {"units": [{"code": "LAO-1", "level": "lao", "lao_type": "sao", "name_th": "อบต.\x00"}]},
     "units[0].name_th"),
])
def test_text_fields_of_every_command_refuse_control_characters(model, data, field):
    assert refused(model, data).field == field


def test_subject_is_one_line_text_may_span_lines():
    assert refused(IssueDirective, {**DIRECTIVE, "subject_th": "บรรทัดหนึ่ง\nบรรทัดสอง"}).field == "subject_th"
    assert parse(IssueDirective, {**DIRECTIVE, "text_th": "๑. ข้อหนึ่ง\n\t๒. ข้อสอง"}).text_th == "๑. ข้อหนึ่ง\n\t๒. ข้อสอง"


def test_documented_maximum_lengths():
    assert parse(IssueDirective, {**DIRECTIVE, "subject_th": "ก" * TITLE_MAX}).subject_th == "ก" * TITLE_MAX
    assert refused(IssueDirective, {**DIRECTIVE, "subject_th": "ก" * (TITLE_MAX + 1)}).field == "subject_th"
    assert parse(IssueDirective, {**DIRECTIVE, "text_th": "ก" * TEXT_MAX}).text_th == "ก" * TEXT_MAX
    assert refused(IssueDirective, {**DIRECTIVE, "text_th": "ก" * 100_000}).field == "text_th"


def test_the_reference_documents_fit_the_limits():
    from services.plans.memo_import import MEMO_PATH
    assert load_document(MEMO_PATH.read_text(encoding="utf-8"))
    from shared.config import REPO_ROOT
    for name in ("dla_strategic_plan.yaml", "chainat_provincial_plan.yaml", "tai_mueang_sao_plan.yaml"):
        assert read_plan(load_document((REPO_ROOT / "data" / "reference" / name).read_text(encoding="utf-8")))


def test_a_plan_refuses_control_characters_in_titles_and_attributes():
    plan = {"format": "thongthin.plan/v1", "plan": {"id": "P1", "type": "strategic", "title_th": "แผน\x00",
                                                   "period_be_start": 2566, "period_be_end": 2570}}
    with pytest.raises(InputError) as caught:
        read_plan(plan)
    assert caught.value.field == "plan.title_th"
    plan["plan"].update(title_th="แผน", attributes={"note": "\x1f"})
    with pytest.raises(InputError) as caught:
        read_plan(plan)
    assert caught.value.field == "plan.attributes"


@given(st.text())
def test_printable_leaves_nothing_a_file_cannot_hold(text):
    cleaned = printable(text)
    assert NOT_IN_TEXT.search(cleaned) is None and len(cleaned) == len(text)
    cleaned.encode("utf-8")


# --- numbers -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, False, float("inf"), float("nan"), 1e16, -1e16])
def test_a_reported_value_is_a_finite_bounded_number_never_a_bool(value):
    error = refused(SubmitValues, {"obligation_id": "o", "unit_code": "U",
                                   "values": [{"indicator_code": "A", "value": value}]})
    assert error.field == "values[0].value"


def test_an_approval_is_true_or_false_only():
    assert refused(DecideExtension, {"request_id": "r", "decider_unit_code": "U", "approve": 1}).field == "approve"
    assert refused(DecideExtension, {"request_id": "r", "decider_unit_code": "U", "approve": "yes"}).field == "approve"


@given(st.one_of(st.booleans(), st.floats(), st.integers(), st.text(), st.none()))
def test_bounded_int_returns_only_whole_numbers_within_bounds(value):
    try:
        result = bounded_int(value, "expires_in_days", 1, 366)
    except InputError as error:
        assert error.status == 422 and error.field == "expires_in_days"
    else:
        assert type(result) is int and 1 <= result <= 366 and not isinstance(value, (bool, str))


# --- dates and times ---------------------------------------------------------------------------------

@given(st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2199, 12, 30)),
       st.sampled_from([0, 7, -5]))
def test_a_buddhist_era_timestamp_means_the_same_instant_as_its_christian_era_twin(moment, hours):
    aware = moment.replace(tzinfo=timezone(timedelta(hours=hours)), microsecond=0)
    ce = aware.isoformat()
    be = f"{aware.year + 543:04d}{ce[4:]}"
    as_ce = parse(RequestExtension, {"obligation_id": "o", "unit_code": "U", "requested_due_at": ce, "reason": "เหตุผล"})
    as_be = parse(RequestExtension, {"obligation_id": "o", "unit_code": "U", "requested_due_at": be, "reason": "เหตุผล"})
    assert as_ce.requested_due_at == as_be.requested_due_at == aware


def test_the_reported_timestamps():
    due = parse(IssueDirective, {**DIRECTIVE, "acknowledge_due_at": "2569-12-31T16:30:00+07:00"}).acknowledge_due_at
    assert due == datetime(2026, 12, 31, 9, 30, tzinfo=timezone.utc)
    thai = parse(IssueDirective, {**DIRECTIVE, "acknowledge_due_at": "๒๕๖๙-๑๒-๓๑T๑๖:๓๐:๐๐+๐๗:๐๐"}).acknowledge_due_at
    assert thai == due
    # a leap day of B.E. 2567 is the leap day of C.E. 2024
    assert parse(IssueDirective, {**DIRECTIVE, "acknowledge_due_at": "2567-02-29T09:00:00+07:00"}
                 ).acknowledge_due_at.date() == date(2024, 2, 29)
    for bad in ("9999-12-31T00:00:00+07:00", "2201-01-01T00:00:00+00:00", "1899-12-31T00:00:00+00:00"):
        assert refused(IssueDirective, {**DIRECTIVE, "acknowledge_due_at": bad}).field == "acknowledge_due_at"
    # a number would be read as seconds since 1970
    assert refused(IssueDirective, {**DIRECTIVE, "acknowledge_due_at": 1_800_000_000}).field == "acknowledge_due_at"


@pytest.mark.parametrize("text, expected", [("2569-12-31", date(2026, 12, 31)), ("2026-12-31", date(2026, 12, 31)),
                                            ("๓๑ ธ.ค. ๒๕๖๙", date(2026, 12, 31)), ("1/1/2200", date(2200, 1, 1))])
def test_a_document_date_in_either_era(text, expected):
    assert parse(IssueDirective, {**DIRECTIVE, "document_date": text}).document_date == expected


@pytest.mark.parametrize("text", ["9999-12-31", "2745-01-01", "1899-12-31", "0001-01-01"])
def test_an_implausible_document_date_is_refused_not_stored_as_9456(text):
    error = refused(IssueDirective, {**DIRECTIVE, "document_date": text})
    assert error.field == "document_date" and "2200" in error.message_en


# --- attachments -------------------------------------------------------------------------------------

@given(st.text())
def test_a_stored_filename_is_a_plain_bounded_name(name):
    safe = safe_filename(name)
    assert safe and safe not in (".", "..") and len(safe) <= MAX_FILENAME
    assert not set(safe) & set('/\\"') and control_character_problem(safe, multiline=False) is None


@pytest.mark.parametrize("name, expected", [
    ("../../../../etc/passwd", "passwd"), ("C:\\Users\\x\\แนวทาง.pdf", "แนวทาง.pdf"), ("..", "attachment"),
    ("a\x00b\r\n.pdf", "ab.pdf"), ('say "hi".txt', "say hi.txt"), ("ก" * 400 + ".xlsx", "ก" * 250 + ".xlsx")])
def test_safe_filenames(name, expected):
    assert safe_filename(name) == expected


def test_an_attachment_command_keeps_only_the_basename():
    command = parse(AddAttachment, {"document_id": "d", "filename": "../../../../etc/passwd",
                                    "content_type": "text/plain", "content_base64": "eA=="})
    assert command.filename == "passwd"
    assert refused(AddAttachment, {"document_id": "d", "filename": "x", "content_type": "text/html\r\nX-Evil: 1",
                                   "content_base64": "eA=="}).field == "content_type"


# --- JSON nesting ------------------------------------------------------------------------------------

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                               st.text(alphabet='[]{}"\\ab', max_size=3), inner, max_size=3), max_leaves=30)


def depth_of(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@given(json_values)
def test_the_nesting_found_without_parsing_is_the_real_one(value):
    assert json_depth(json.dumps(value)) == depth_of(value)


def test_a_hundred_thousand_brackets_are_refused_before_parsing():
    for text in ("[" * 100_000, '{"a":' * 50_000, "[" * 33 + "]" * 33):
        with pytest.raises(InputError) as caught:
            check_json_depth(text)
        assert caught.value.status == 400 and caught.value.field == "body"
    check_json_depth("[" * 32 + "]" * 32)
    check_json_depth(json.dumps({"text": "[" * 100_000}))  # brackets inside a string are text


@pytest.mark.parametrize("text", ["[" * 100_000, "- " * 100_000 + "x", "a: &x [1]\nb: *x"])
def test_a_plan_file_too_deep_or_with_aliases_is_refused_before_it_is_built(text):
    with pytest.raises(InputError) as caught:
        load_document(text)  # 100,000 "[" crashed the whole plans process (libyaml's composer)
    assert caught.value.status == 422 and caught.value.field == "body"


# --- exports -----------------------------------------------------------------------------------------

SPEC = columns(("name_th", "ชื่อ", "name"), ("request", "คำขอ", "request"))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.fixed_dictionaries({"name_th": st.text(), "request": st.text() | st.dictionaries(
    st.text(max_size=3), st.text(max_size=5), max_size=2)}), min_size=1, max_size=3))
def test_every_stored_text_exports_to_a_readable_file(rows):
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(rows, SPEC)))
    assert book.active.max_row == len(rows) + 1
    read = list(csv.reader(io.StringIO(to_csv(rows, SPEC).decode("utf-8-sig"), newline="")))
    assert len(read) == len(rows) + 1


def test_a_nul_in_a_stored_row_is_written_as_a_replacement_character():
    rows = [{"name_th": "เทศบาล\x00เมือง\x0b", "request": '{"username": "a\x01"}'}]
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(rows, SPEC))).active
    assert sheet["A2"].value == "เทศบาล\ufffdเมือง\ufffd"
    assert "เทศบาล\ufffdเมือง\ufffd" in to_csv(rows, SPEC).decode("utf-8-sig")
