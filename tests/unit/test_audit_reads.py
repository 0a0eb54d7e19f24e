"""The read-only RPC handlers behind the gateway's audit before-images: one submission, one extension
request, one assignment, each as stored, and not_found (404) for an unknown id."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.assessments import reviews, submissions, views
from shared.contracts.commands.assessments import RequestExtension, ReviewSubmission, SubmitValues
from services.plans import assignment_actions
from services.plans import views as plans_views
from shared.contracts.commands.plans import AcknowledgeAssignment
from shared.errors import InputError
from tests.support.worlds import IN_WINDOW
from tests.support.worlds import run as run_assessments
from tests.support.worlds import run as run_plans
from tests.unit.test_assessments_rules import open_for, publish_rule, values
from tests.unit.test_plans_directives import _assignment, issue


@pytest.fixture
def world(assessments_world, frozen_assessments_clock):
    return assessments_world


@pytest.fixture
def database(plans_database):
    return plans_database


def test_get_submission_shows_values_and_reviews_as_they_are(world):
    database, deliver = world
    publish_rule(deliver)
    obligation = open_for(database, "LAO-1")[0]
    sent = run_assessments(database, submissions.submit_values, SubmitValues(
        obligation_id=obligation["id"], unit_code="LAO-1", values=values(disb=42.5, note="ตามแผน")), now=IN_WINDOW)
    with database.session() as session:
        before = views.get_submission(session, sent["submission_id"])
    assert before["status"] == "pending" and before["unit_code"] == "LAO-1" and before["reviews"] == []
    assert {v["indicator_code"]: v["value"] for v in before["values"]} == {"DISB-PCT": 42.5, "ELDERLY": 12}
    assert all("submission_id" not in v for v in before["values"])
    run_assessments(database, reviews.review_submission, ReviewSubmission(
        submission_id=sent["submission_id"], reviewer_unit_code="DLO-1", decision="returned", comment="ไม่ตรง"))
    with database.session() as session:
        after = views.get_submission(session, sent["submission_id"])
        with pytest.raises(InputError) as error:
            views.get_submission(session, "no-such-submission")
    assert after["status"] == "returned" and [r["comment"] for r in after["reviews"]] == ["ไม่ตรง"]
    assert error.value.status == 404 and error.value.field == "submission_id"


def test_get_extension_request_as_stored(world):
    database, deliver = world
    publish_rule(deliver)
    obligation = open_for(database, "LAO-1")[0]
    asked = run_assessments(database, reviews.request_extension, RequestExtension(
        obligation_id=obligation["id"], unit_code="LAO-1", requested_due_at=obligation["due_at"] + timedelta(days=5),
        reason="น้ำท่วม"))
    with database.session() as session:
        row = views.get_extension_request(session, asked["request_id"])
        with pytest.raises(InputError) as error:
            views.get_extension_request(session, "nope")
    assert row["status"] == "pending" and row["reason"] == "น้ำท่วม" and row["unit_code"] == "LAO-1"
    assert isinstance(row["requested_due_at"], str)  # JSON-ready for the RPC and the audit log
    assert error.value.status == 404 and error.value.field == "request_id"


def test_get_assignment_before_and_after_acknowledgement(database):
    issue(database, addressees={"codes": ["LAO-820801"]})
    stored = _assignment(database, "LAO-820801")
    with database.session() as session:
        before = plans_views.get_assignment(session, stored["id"])
    assert before["state"] == "issued" and before["acknowledged_at"] is None and before["unit_code"] == "LAO-820801"
    run_plans(database, assignment_actions.acknowledge_assignment, AcknowledgeAssignment(assignment_id=stored["id"],
                                                                          unit_code="LAO-820801"))
    with database.session() as session:
        after = plans_views.get_assignment(session, stored["id"])
        with pytest.raises(InputError) as error:
            plans_views.get_assignment(session, "nope")
    assert after["state"] == "acknowledged" and isinstance(after["acknowledged_at"], str)
    assert error.value.status == 404 and error.value.field == "assignment_id"
