"""assessments: obligations from rules, submissions by form/batch/file, reviews, extensions,
achievement, and the acknowledgement sweep."""
from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from services.assessments import domain, reviews, sweeps, views
from services.assessments import submissions as submission_cases
from services.assessments.submissions import SubmitFile
from shared.contracts.commands.assessments import (DecideExtension, RequestExtension, ReviewSubmission, SubmitBatch,
                                           SubmitValues)
from services.assessments.models import obligations, submissions
from shared.contracts import decode
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, IndicatorSpec, OrgUnitChanged,
                                     ReportingRequirement, ReportingRulePublished, TargetSet)
from shared.errors import InputError
from shared.messaging.tables import outbox
from shared.validation import parse
from tests.support.worlds import IN_WINDOW, LAOS, NOW, SPECS, freeze, run



@pytest.fixture
def world(assessments_world):
    return assessments_world


def publish_rule(deliver, version=1, units=None, rrule="FREQ=MONTHLY;BYMONTHDAY=3", monkeypatch=None):
    deliver(ReportingRulePublished(rule_id="rule-1", directive_id="d-1", indicators=SPECS, unit_codes=units or LAOS,
                                   rrule=rrule, version=version))


def count(database, table, *where):
    with database.session() as session:
        return session.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def open_for(database, unit, period=None):
    with database.session() as session:
        query = select(obligations).where(obligations.c.unit_code == unit, obligations.c.state != "cancelled")
        if period:
            query = query.where(obligations.c.period == period)
        return session.execute(query.order_by(obligations.c.due_at)).mappings().all()


@pytest.fixture(autouse=True)
def frozen_now(frozen_assessments_clock):
    """Every test here runs at NOW (tests/support/worlds.py)."""


def values(disb=80.0, elderly=12, note=None):
    return [{"indicator_code": "DISB-PCT", "value": disb, "note": note}, {"indicator_code": "ELDERLY", "value": elderly}]


def test_a_monthly_rule_opens_one_obligation_per_unit_and_period_within_the_horizon(world):
    database, deliver = world
    publish_rule(deliver)
    rows = open_for(database, "LAO-1")
    # within 45 days: due 3 Dec 2026 (Thursday) and 3 Jan 2027 (a Sunday, so Monday 4 Jan)
    assert [(r["period"], r["due_at"].date()) for r in rows] == [("2569-11", date(2026, 12, 3)),
                                                                  ("2569-12", date(2027, 1, 4))]
    assert count(database, obligations) == 6
    opened = [decode(b)[1] for b in _outbox(database, "assessments.obligation_opened.v1")]
    assert {o.unit_code for o in opened} == set(LAOS) and opened[0].indicator_codes == ["DISB-PCT", "ELDERLY"]
    publish_rule(deliver)  # the same version again: nothing new
    assert count(database, obligations) == 6


def _outbox(database, event_type):
    with database.session() as session:
        return session.execute(select(outbox.c.body).where(outbox.c.event_type == event_type)).scalars().all()


def test_rolling_forward_opens_the_next_period_once_and_shifts_off_weekends(world, monkeypatch):
    database, deliver = world
    publish_rule(deliver)
    later = NOW + timedelta(days=30)
    freeze(monkeypatch, later)
    assert sweeps.extend_all(database, now=later) == 3   # February's report
    assert sweeps.extend_all(database, now=later) == 0
    assert open_for(database, "LAO-1", "2570-01")[0]["due_at"].date() == date(2027, 2, 3)


def test_a_new_rule_version_cancels_only_future_unreported_obligations(world):
    database, deliver = world
    publish_rule(deliver)
    first = open_for(database, "LAO-1")[0]
    run(database, submission_cases.submit_values, SubmitValues(obligation_id=open_for(database, "LAO-2")[0]["id"],
                                                        unit_code="LAO-2", values=values()), now=IN_WINDOW)
    publish_rule(deliver, version=2, units=["LAO-1", "LAO-2"])
    with database.session() as session:
        old = session.execute(select(obligations.c.state).where(obligations.c.id == first["id"])).scalar_one()
    assert old == "cancelled"
    # LAO-1 and LAO-3 for two periods, LAO-2 for the second: its first was reported
    assert len(_outbox(database, "assessments.obligation_cancelled.v1")) == 5
    assert [r["state"] for r in open_for(database, "LAO-2")][0] == "submitted"


def test_a_unit_that_closes_is_not_expected_afterwards(world):
    database, deliver = world
    publish_rule(deliver)
    deliver(OrgUnitChanged(code="LAO-3", level="lao", lao_type="sao", parent_code="DLO-1", name_th="x",
                           valid_from=date(2000, 1, 1), valid_to=date(2026, 11, 1)))
    assert open_for(database, "LAO-3") == []


def test_values_are_checked_against_the_indicator_and_the_target(world):
    database, deliver = world
    publish_rule(deliver)
    deliver(TargetSet(plan_id="p", indicator_code="DISB-PCT", fiscal_year_be=2570, unit_group="level:lao", value=60,
                      provenance="test"))
    obligation = open_for(database, "LAO-1")[0]

    def submit(vals):
        return run(database, submission_cases.submit_values, SubmitValues(obligation_id=obligation["id"], unit_code="LAO-1",
                                                                 values=vals), now=IN_WINDOW)
    for bad, field, code in [(values(disb=130), "values[0].value", "out_of_range"),
                             (values(elderly=2.5), "values[1].value", "wrong_type"),
                             (values(disb=40), "values[0].note", "note_required"),
                             (values()[:1], "values", "invalid")]:
        with pytest.raises(InputError) as error:
            submit(bad)
        assert (error.value.field, error.value.code) == (field, code)
        assert error.value.message_th and error.value.message_en
    assert count(database, submissions) == 0
    assert submit(values(disb=40, note="งบประมาณโอนล่าช้า"))["on_time"] is True


def test_resubmission_keeps_history_and_review_follows_the_hierarchy(world):
    database, deliver = world
    publish_rule(deliver)
    obligation = open_for(database, "LAO-1")[0]
    first = run(database, submission_cases.submit_values, SubmitValues(obligation_id=obligation["id"], unit_code="LAO-1",
                                                                values=values()), now=IN_WINDOW)
    with pytest.raises(InputError) as error:   # a sibling LAO is no supervisor
        run(database, reviews.review_submission, ReviewSubmission(
            submission_id=first["submission_id"], reviewer_unit_code="LAO-2", decision="accepted"))
    assert error.value.status == 403
    with pytest.raises(InputError):
        parse(ReviewSubmission, {"submission_id": first["submission_id"], "reviewer_unit_code": "DLO-1",
                                 "decision": "returned"})  # a return needs a comment
    run(database, reviews.review_submission, ReviewSubmission(
        submission_id=first["submission_id"], reviewer_unit_code="DLO-1", decision="returned", comment="ตัวเลขไม่ตรง"))
    second = run(database, submission_cases.submit_values, SubmitValues(obligation_id=obligation["id"], unit_code="LAO-1",
                                                                 values=values(disb=81)), now=IN_WINDOW)
    run(database, reviews.review_submission, ReviewSubmission(
        submission_id=second["submission_id"], reviewer_unit_code="PLO-1", decision="accepted"))
    with database.session() as session:
        detail = views.get_obligation(session, obligation["id"])
    assert detail["state"] == "accepted"
    assert [s["status"] for s in detail["submissions"]] == ["returned", "accepted"]
    assert detail["submissions"][0]["reviews"][0]["comment"] == "ตัวเลขไม่ตรง"
    with pytest.raises(InputError) as error:
        run(database, submission_cases.submit_values, SubmitValues(obligation_id=obligation["id"], unit_code="LAO-1",
                                                           values=values()), now=IN_WINDOW)
    assert error.value.status == 409


def test_an_extension_moves_the_deadline_and_the_sweep_respects_it(world):
    database, deliver = world
    publish_rule(deliver)
    obligation = open_for(database, "LAO-1")[0]
    new_due = obligation["due_at"] + timedelta(days=7)
    request = run(database, reviews.request_extension, RequestExtension(
        obligation_id=obligation["id"], unit_code="LAO-1", requested_due_at=new_due, reason="น้ำท่วมสำนักงาน"))
    with pytest.raises(InputError) as error:
        run(database, reviews.decide_extension, DecideExtension(request_id=request["request_id"],
                                                                 decider_unit_code="LAO-1", approve=True))
    assert error.value.status == 403
    run(database, reviews.decide_extension, DecideExtension(request_id=request["request_id"],
                                                             decider_unit_code="DLO-1", approve=True))
    after_old_due = obligation["due_at"] + timedelta(days=1)
    missed = sweeps.sweep_deadlines(database, now=after_old_due)
    assert missed == 2  # December's LAO-2 and LAO-3, not LAO-1
    late = run(database, submission_cases.submit_values, SubmitValues(obligation_id=obligation["id"], unit_code="LAO-1",
                                                               values=values()), now=after_old_due)
    assert late["on_time"] is True  # within the extension
    assert sweeps.sweep_deadlines(database, now=new_due + timedelta(days=1)) == 0


def test_a_province_submits_a_batch_for_its_laos_all_or_nothing_by_default(world):
    database, deliver = world
    publish_rule(deliver)
    items = [{"unit_code": code, "period": "2569-11", "values": values()} for code in LAOS]
    items[2]["values"][0]["value"] = 500  # out of range
    report = run(database, submission_cases.submit_batch, parse(SubmitBatch, {"items": items, "submitter_unit_code": "PLO-1"}),
                 now=IN_WINDOW)
    assert report["accepted"] == 0 and report["errors"][0]["field"] == "items[2].values[0].value"
    assert count(database, submissions) == 0
    report = run(database, submission_cases.submit_batch, parse(SubmitBatch, {"items": items, "submitter_unit_code": "PLO-1",
                                                                      "mode": "keep_good"}), now=IN_WINDOW)
    assert report["accepted"] == 2 and report["rejected"] == 1
    outsider = run(database, submission_cases.submit_batch, parse(SubmitBatch, {
        "items": [{"unit_code": "LAO-3", "period": "2569-11", "values": values()}], "submitter_unit_code": "LAO-1"}),
        now=IN_WINDOW)
    assert outsider["errors"][0]["code"] == "forbidden"


def _csv(rows, encoding="utf-8-sig"):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["รหัสหน่วยงาน", "รหัสตัวชี้วัด", "งวด", "ค่า", "หมายเหตุ"])
    writer.writerows(rows)
    return base64.b64encode(buffer.getvalue().encode(encoding)).decode()


def test_a_file_upload_reports_errors_by_row_and_column_and_stores_nothing_by_default(world):
    database, deliver = world
    publish_rule(deliver)
    rows = [["LAO-1", "DISB-PCT", "2569-11", "๘๐.๕", ""], ["LAO-1", "ELDERLY", "2569-11", "12", ""],
            ["LAO-2", "DISB-PCT", "2569-11", "abc", ""], ["LAO-2", "ELDERLY", "2569-11", "3", ""],
            ["LAO-9", "DISB-PCT", "2569-11", "50", ""], ["LAO-9", "ELDERLY", "2569-11", "1", ""]]
    with database.unit_of_work() as uow:
        report = submission_cases.submit_file(SubmitFile(
            content_base64=_csv(rows, "cp874"), filename="พฤศจิกายน.csv", submitter_unit_code="PLO-1",
            submitted_by="chainat"), uow, now=IN_WINDOW)
        uow.commit()
    assert report["encoding"] in ("cp874", "tis-620") and report["accepted_submissions"] == 0
    problems = {(e["row"], e["column"], e["code"]) for e in report["errors"]}
    assert (4, "value", "not_a_number") in problems
    assert {(6, "unit_code"), (7, "unit_code")} <= {(r, c) for r, c, _ in problems}  # LAO-9: not PLO-1's
    assert count(database, submissions) == 0
    with database.unit_of_work() as uow:
        kept = submission_cases.submit_file(SubmitFile(
            content_base64=_csv(rows), filename="data.csv", submitter_unit_code="PLO-1", submitted_by="chainat",
            mode="keep_good_rows"), uow, now=IN_WINDOW)
        uow.commit()
    assert kept["accepted_submissions"] == 1 and count(database, submissions) == 1


def test_achievement_and_risk_against_targets(world):
    database, deliver = world
    publish_rule(deliver)
    deliver(TargetSet(plan_id="p", indicator_code="DISB-PCT", fiscal_year_be=2570, unit_code="LAO-1", value=60,
                      provenance="test"))
    obligation = open_for(database, "LAO-1")[0]
    run(database, submission_cases.submit_values, SubmitValues(obligation_id=obligation["id"], unit_code="LAO-1",
                                                       values=values(disb=75)), now=IN_WINDOW)
    with database.session() as session:
        result = {r["indicator_code"]: r for r in views.achievement(session, unit_code="LAO-1", fiscal_year_be=2570,
                                                                       now=NOW)}
    assert result["DISB-PCT"]["status"] == "achieved" and result["DISB-PCT"]["at_risk"] is False
    assert result["ELDERLY"]["status"] == "no_target"


def test_unacknowledged_assignments_are_flagged_once(world):
    database, deliver = world
    due = NOW - timedelta(hours=1)
    for code in ("LAO-1", "LAO-2"):
        deliver(AssignmentCreated(assignment_id=f"a-{code}", directive_id="d", document_number="x", title_th="t",
                                  unit_code=code, acknowledge_due_at=due))
    deliver(AssignmentAcknowledged(assignment_id="a-LAO-1", directive_id="d", unit_code="LAO-1", acknowledged_at=due))
    assert sweeps.sweep_acknowledgements(database, now=NOW) == 1
    assert sweeps.sweep_acknowledgements(database, now=NOW + timedelta(hours=1)) == 0
    [overdue] = [decode(b)[1] for b in _outbox(database, "assessments.acknowledgement_overdue.v1")]
    assert overdue.unit_code == "LAO-2"


# --- issue #15: returned reports, the period's fiscal year, one obligation per period, declared ranges ---

def _submit(database, obligation, vals, now, unit="LAO-1"):
    return run(database, submission_cases.submit_values, SubmitValues(obligation_id=obligation["id"], unit_code=unit,
                                                              values=vals), now=now)


def _state(database, obligation_id):
    with database.session() as session:
        return session.execute(select(obligations).where(obligations.c.id == obligation_id)).mappings().one()


def test_a_returned_late_report_awaits_resubmission_and_is_never_swept_missed(world):
    database, deliver = world
    publish_rule(deliver)
    obligation = open_for(database, "LAO-1")[0]
    late = obligation["due_at"] + timedelta(days=2)
    first = _submit(database, obligation, values(), late)
    assert first["on_time"] is False
    reviewed = run(database, reviews.review_submission, ReviewSubmission(
        submission_id=first["submission_id"], reviewer_unit_code="DLO-1", decision="returned",
        comment="ตัวเลขไม่ตรงกับฎีกา"), now=late + timedelta(hours=1))
    resubmit_by = late + timedelta(hours=1) + domain.DEFAULTS.resubmit_within
    assert reviewed["obligation_state"] == "returned" and reviewed["resubmit_due_at"] == resubmit_by.isoformat()
    assert _state(database, obligation["id"])["resubmit_due_at"] == resubmit_by
    [event] = [decode(b)[1] for b in _outbox(database, "assessments.submission_reviewed.v1")]
    assert event.resubmit_due_at == resubmit_by
    # the sweep, before and after the resubmission deadline: never missed (the LAO reported)
    for at in (late + timedelta(days=1), resubmit_by + timedelta(days=3)):
        sweeps.sweep_deadlines(database, now=at)
        assert _state(database, obligation["id"])["state"] == "returned"
    assert all(decode(b)[1].obligation_id != obligation["id"]
               for b in _outbox(database, "assessments.deadline_missed.v1"))
    with database.session() as session:  # overdue only once its resubmission deadline passed
        assert obligation["id"] not in {o["id"] for o in views.list_obligations(
            session, unit_code="LAO-1", overdue=True, now=resubmit_by - timedelta(hours=1))}
        assert obligation["id"] in {o["id"] for o in views.list_obligations(
            session, unit_code="LAO-1", overdue=True, now=resubmit_by + timedelta(hours=1))}
    again = _submit(database, obligation, values(disb=81), resubmit_by - timedelta(days=1))
    assert _state(database, obligation["id"])["state"] == "submitted" and again["on_time"] is False  # still late


def test_a_report_returned_on_time_and_resubmitted_by_its_deadline_stays_on_time(world):
    database, deliver = world
    publish_rule(deliver)
    obligation = open_for(database, "LAO-1")[0]
    first = _submit(database, obligation, values(), IN_WINDOW)
    chosen = obligation["due_at"] + timedelta(days=10)
    with pytest.raises(InputError) as error:  # a deadline in the past is refused, naming it
        run(database, reviews.review_submission, ReviewSubmission(
            submission_id=first["submission_id"], reviewer_unit_code="PLO-1", decision="returned", comment="x",
            resubmit_due_at=IN_WINDOW - timedelta(days=1)), now=IN_WINDOW)
    assert error.value.field == "resubmit_due_at"
    run(database, reviews.review_submission, ReviewSubmission(
        submission_id=first["submission_id"], reviewer_unit_code="PLO-1", decision="returned", comment="แนบหลักฐาน",
        resubmit_due_at=chosen), now=IN_WINDOW)
    assert _submit(database, obligation, values(), chosen - timedelta(hours=1))["on_time"] is True
    # a second return, resubmitted after that deadline: judged against the report's own due time
    with database.session() as session:
        second = [s for s in views.get_obligation(session, obligation["id"])["submissions"]
                  if s["status"] == "pending"][0]
    run(database, reviews.review_submission, ReviewSubmission(
        submission_id=second["id"], reviewer_unit_code="PLO-1", decision="returned", comment="ยังไม่ครบ"),
        now=chosen)
    assert _submit(database, obligation, values(), chosen + timedelta(days=8))["on_time"] is False


def _tai_mueang(deliver):
    deliver(OrgUnitChanged(code="LAO-820801", level="lao", lao_type="sao", parent_code="DLO-1",
                           name_th="องค์การบริหารส่วนตำบลท้ายเหมือง", valid_from=date(2000, 1, 1)))
    for code, target in (("TM-K13", 1), ("TM-K17", 2)):
        deliver(TargetSet(plan_id="TM-LDP-2561-2565", indicator_code=code, fiscal_year_be=2563,
                          unit_code="LAO-820801", value=target, provenance="seed 003"))
    specs = [IndicatorSpec(code="TM-K13", name_th="จัดกิจกรรมให้ความรู้และถ่ายทอดเทคโนโลยี รวมทั้งฝึกอาชีพ",
                           unit_of_measure="ครั้ง", value_type="count"),
             IndicatorSpec(code="TM-K17", name_th="หมู่บ้านสะอาดปลอดภัย", unit_of_measure="หมู่", value_type="count")]
    deliver(AssignmentCreated(
        assignment_id="a-tm", directive_id="d-tm", document_number="ชง ๐๐๒๓.๓/ว ๑", title_th="รายงานผลปี ๒๕๖๓",
        unit_code="LAO-820801", reporting=ReportingRequirement(
            indicator_code="TM-K13", indicator_name_th=specs[0].name_th, period="FY2563",
            due_at=NOW + timedelta(days=20), indicators=specs)))


def test_values_of_fiscal_year_2563_due_in_2569_are_judged_and_filed_under_2563(world):
    database, deliver = world
    _tai_mueang(deliver)
    [obligation] = open_for(database, "LAO-820801")
    assert (obligation["period"], obligation["period_start"]) == ("FY2563", date(2019, 10, 1))
    assert json_codes(obligation) == ["TM-K13", "TM-K17"]  # a one-off report of several indicators

    def submit(k13, k17, note=None):
        return _submit(database, obligation, [{"indicator_code": "TM-K13", "value": k13},
                                              {"indicator_code": "TM-K17", "value": k17, "note": note}],
                       NOW, unit="LAO-820801")
    with pytest.raises(InputError) as error:  # 1 village against the FY2563 target of 2: a note is needed
        submit(1, 1)
    assert (error.value.code, error.value.field) == ("note_required", "values[1].note")
    assert "2" in error.value.message_en and error.value.message_th
    submit(1, 1, note="งบประมาณไม่เพียงพอ")
    with database.session() as session:
        by_year = {year: {r["indicator_code"]: r for r in views.achievement(
            session, unit_code="LAO-820801", fiscal_year_be=year, now=NOW)} for year in (2563, 2570)}
    assert by_year[2570] == {}
    assert by_year[2563]["TM-K13"]["status"] == "achieved" and by_year[2563]["TM-K17"]["status"] == "not_achieved"
    assert by_year[2563]["TM-K17"]["target"] == 2


def json_codes(row):
    return json.loads(row["indicator_codes"])


def test_one_obligation_per_unit_indicator_and_period_whatever_asks_for_it(world):
    database, deliver = world
    publish_rule(deliver)   # monthly DISB-PCT: LAO-1 owes 2569-11 (due 3 Dec) and 2569-12
    # a directive asks LAO-1 for the same indicator and month, spelled as printed: no second obligation
    deliver(AssignmentCreated(
        assignment_id="a-dup", directive_id="d-dup", document_number="x", title_th="t", unit_code="LAO-1",
        reporting=ReportingRequirement(indicator_code="DISB-PCT", indicator_name_th="ร้อยละการเบิกจ่าย",
                                       period="พ.ย. ๒๕๖๙", due_at=NOW + timedelta(days=5))))
    # and LAO-2 for a month the rule does not cover yet: its own obligation, the label made canonical
    deliver(AssignmentCreated(
        assignment_id="a-new", directive_id="d-dup", document_number="x", title_th="t", unit_code="LAO-2",
        reporting=ReportingRequirement(indicator_code="DISB-PCT", indicator_name_th="ร้อยละการเบิกจ่าย",
                                       period="ธ.ค. 2570", due_at=NOW + timedelta(days=5))))
    assert [r["period"] for r in open_for(database, "LAO-1")] == ["2569-11", "2569-12"]
    assert sorted(r["period"] for r in open_for(database, "LAO-2")) == ["2569-11", "2569-12", "2570-12"]
    # the upload for that period finds its obligation (one, not two)
    report = run(database, submission_cases.submit_batch, parse(SubmitBatch, {
        "items": [{"unit_code": "LAO-1", "period": "2569-11", "values": values()}], "submitter_unit_code": "PLO-1"}),
        now=IN_WINDOW)
    assert report["accepted"] == 1, report
    with pytest.raises(Exception) as error:  # and the database refuses a second live one
        with database.unit_of_work() as uow:
            row = dict(open_for(database, "LAO-1")[0])
            uow.session.execute(obligations.insert().values({**row, "id": "another", "source_key": "rule:other"}))
            uow.commit()
    assert "UNIQUE" in str(error.value).upper()


def test_a_declared_percent_range_is_enforced_on_a_one_off_report_by_form_batch_and_file(world):
    database, deliver = world
    spec = IndicatorSpec(code="VOL-PCT", name_th="ร้อยละการเบิกจ่าย", value_type="percent", minimum=0, maximum=100)
    deliver(AssignmentCreated(
        assignment_id="a-pct", directive_id="d-pct", document_number="x", title_th="t", unit_code="LAO-1",
        reporting=ReportingRequirement(indicator_code="VOL-PCT", indicator_name_th=spec.name_th, period="2569-11",
                                       due_at=NOW + timedelta(days=5), indicators=[spec])))
    [obligation] = open_for(database, "LAO-1")
    for bad in (172.5, -5):
        with pytest.raises(InputError) as error:
            _submit(database, obligation, [{"indicator_code": "VOL-PCT", "value": bad}], NOW)
        assert (error.value.code, error.value.field, error.value.status) == ("out_of_range", "values[0].value", 422)
        report = run(database, submission_cases.submit_batch, parse(SubmitBatch, {
            "items": [{"unit_code": "LAO-1", "period": "2569-11",
                       "values": [{"indicator_code": "VOL-PCT", "value": bad}]}], "submitter_unit_code": "PLO-1"}),
            now=NOW)
        assert report["errors"][0]["field"] == "items[0].values[0].value"
        with database.unit_of_work() as uow:
            uploaded = submission_cases.submit_file(SubmitFile(
                content_base64=_csv([["LAO-1", "VOL-PCT", "2569-11", str(bad), ""]]), filename="x.csv",
                submitter_unit_code="PLO-1", submitted_by="p"), uow, now=NOW)
        assert (uploaded["errors"][0]["row"], uploaded["errors"][0]["column"]) == (2, "value")
    assert count(database, submissions) == 0
    assert _submit(database, obligation, [{"indicator_code": "VOL-PCT", "value": 100}], NOW)["on_time"] is True


@pytest.mark.parametrize("fiscal_year, periods", [(2569, ["FY2569"]), (2570, [])])
def test_a_yearly_rule_honours_its_fiscal_year(world, fiscal_year, periods):
    database, deliver = world
    deliver(ReportingRulePublished(rule_id="rule-y", indicators=SPECS[:1], unit_codes=["LAO-1"],
                                   rrule="FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=15", dtstart=NOW,
                                   fiscal_year_be=fiscal_year))
    # due 15 Dec 2026, covering the fiscal year just ended (FY2569): only a rule for FY2569 opens it
    assert [r["period"] for r in open_for(database, "LAO-1")] == periods


def test_the_migration_leaves_one_obligation_per_unit_indicator_and_period(tmp_path):
    """Migration 0002 on a store that has the issue's duplicate: December 2569 spelled twice for one
    LAO, one submitted and one pending; the submitted one stays, under the canonical label."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from shared.migrate import alembic_config
    url = f"sqlite:///{tmp_path / 'assessments.db'}"
    config = alembic_config("assessments", url)
    command.upgrade(config, "85ffd91df82d")
    engine = create_engine(url)
    with engine.begin() as connection:
        for oid, source, period, state, created in (("o-rule", "rule:r", "2569-12", "open", "2026-11-01 00:00:00"),
                                                   ("o-memo", "assignment:a:X", "ธ.ค. 2569", "submitted",
                                                    "2026-11-02 00:00:00")):
            connection.execute(text(
                "INSERT INTO obligations (id, unit_code, source_key, indicator_code, indicator_name_th, indicator_codes,"
                " period, due_at, state, correlation_id, created_at) VALUES (:id, 'LAO-1', :source, 'X', 'x', '[\"X\"]',"
                " :period, '2027-01-04 09:30:00', :state, 'c', :created)"),
                {"id": oid, "source": source, "period": period, "state": state, "created": created})
    command.upgrade(config, "head")
    with engine.begin() as connection:
        rows = dict(connection.execute(text("SELECT id, state || ' ' || period FROM obligations")).all())
        assert rows == {"o-rule": "cancelled 2569-12", "o-memo": "submitted 2569-12"}
        with pytest.raises(Exception, match="UNIQUE"):
            connection.execute(text("UPDATE obligations SET state = 'open' WHERE id = 'o-rule'"))
    engine.dispose()
