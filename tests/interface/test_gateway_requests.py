"""What the gateway alone decides about a request, on the gateway built in process: credentials
(read-only and revoked tokens, the session cookie and its CSRF token, lockout), the shape of a request
(content types, unknown fields and query parameters, nesting, control characters, bounds), and what the
audit log keeps (target, before-image, result; never a secret). Each refusal is problem+json naming the
field in Thai and English, and reaches no service.

Moved here from tests/e2e (test_authorization, test_bad_input, test_audit), where they ran through the
five-process stack; the journeys that need the services' own rules stay there.
"""
from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from sqlalchemy import select

from services.gateway import auth
from services.gateway.models import users
from services.gateway.routing import CONVERTER
from tests.interface.gateway import PASSWORDS, ROUTES, body
from tests.interface.test_gateway_authorization import assert_problem


def problem_of(response, status: int, field: str) -> dict:
    problem = assert_problem(response, status)
    assert problem["field"] == field, problem
    return problem


def session_cookies(gateway, username: str = "lao-180101") -> tuple[dict, str]:
    started = gateway.call("POST", "/api/v1/auth/session", json_body={"username": username,
                                                                       "password": PASSWORDS[username]})
    assert started.status_code == 200, started.get_data(as_text=True)
    cookies = {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in started.headers.getlist("Set-Cookie")}
    assert "HttpOnly" in next(c for c in started.headers.getlist("Set-Cookie") if c.startswith("tt_session="))
    return cookies, body(started)["csrf_token"]


# --- credentials -------------------------------------------------------------------------------------

def test_a_read_only_token_cannot_write_and_a_revoked_token_is_dead(gateway):
    created = gateway.call("POST", "/api/v1/tokens", role="lao",
                           json_body={"name": "dashboard", "scopes": ["read"], "expires_in_days": 7})
    assert created.status_code == 201
    reader = body(created)["token"]
    assert gateway.call("GET", "/api/v1/obligations", token=reader).status_code == 200
    write = gateway.call("POST", "/api/v1/receipts", token=reader, json_body={})
    assert problem_of(write, 403, "Authorization")["code"] == "insufficient_scope"
    assert gateway.call("DELETE", f"/api/v1/tokens/{body(created)['id']}", role="lao").status_code == 200
    assert_problem(gateway.call("GET", "/api/v1/obligations", token=reader), 401)
    listed = {t["id"]: t for t in body(gateway.call("GET", "/api/v1/tokens", role="lao"))["items"]}
    assert listed[body(created)["id"]]["revoked"] is True and listed[body(created)["id"]]["scopes"] == ["read"]
    assert gateway.writes() == []


def test_no_token_no_entry(gateway):
    for authorization in (None, "Bearer", "Bearer not-a-token", "Basic bGFvOmxhbw=="):
        headers = {"Authorization": authorization} if authorization else {}
        problem_of(gateway.call("GET", "/api/v1/me", headers=headers), 401, "Authorization")


def path_value(match) -> str:
    """A value a path parameter's converter accepts: a number for a token id or a year, else a word."""
    return {"token_id": "0", "year_be": "2569"}.get(match.group(1), "x")


def test_every_write_by_session_cookie_needs_the_csrf_token(gateway):
    """Double submit: a cross-site form sends the cookie but cannot read it; every write route refuses
    a session caller without X-CSRF-Token equal to the CSRF cookie (403 csrf), before anything else."""
    cookies, csrf = session_cookies(gateway, "central")
    writes = [spec for spec in ROUTES if spec.write and not spec.public and spec.operation_id != "logout"]
    assert len(writes) > 20
    for spec in writes:
        path = CONVERTER.sub(path_value, spec.path)
        for sent in (None, "wrong-token"):
            headers = {"X-CSRF-Token": sent} if sent else {}
            response = gateway.call(spec.method, path, cookies=cookies, headers=headers, json_body={})
            assert problem_of(response, 403, "X-CSRF-Token")["code"] == "csrf", spec.path
    assert gateway.writes() == []
    # with the token the request goes on to its own checks; a read needs none
    answered = gateway.call("POST", "/api/v1/tokens", cookies=cookies, headers={"X-CSRF-Token": csrf},
                            json_body={"name": "from-the-page"})
    assert answered.status_code == 201, answered.get_data(as_text=True)
    assert gateway.call("GET", "/api/v1/me", cookies=cookies).status_code == 200


def test_logout_with_the_session_cookie_needs_the_csrf_token_and_is_audited(gateway):
    cookies, csrf = session_cookies(gateway)
    forged = gateway.call("POST", "/api/v1/auth/logout", cookies=cookies)  # a cross-site form sends only the cookie
    assert problem_of(forged, 403, "X-CSRF-Token")["code"] == "csrf"
    assert gateway.call("GET", "/api/v1/me", cookies=cookies).status_code == 200, "the session survives a forged logout"
    done = gateway.call("POST", "/api/v1/auth/logout", cookies=cookies, headers={"X-CSRF-Token": csrf})
    assert done.status_code == 200
    assert any(c.startswith("tt_session=;") for c in done.headers.getlist("Set-Cookie"))
    assert gateway.call("GET", "/api/v1/me", cookies=cookies).status_code == 401
    logouts = gateway.audit_rows(action="POST /api/v1/auth/logout")
    assert [(row["status"], row["username"]) for row in logouts] == [(403, None), (200, "lao-180101")]


def test_a_locked_account_and_an_unknown_name_answer_alike(gateway):
    """Five wrong passwords lock a name for 15 minutes, whether or not it exists: the answers (401, then
    429) are the same, so they tell no one which accounts exist; no user is created for a wrong name."""
    answers = {}
    for username in ("muang-chainat", "no-such-officer"):
        seen = []
        for _ in range(auth.LOCKOUT_AFTER + 1):
            response = gateway.call("POST", "/api/v1/auth/token",
                                    json_body={"username": username, "password": "wrong-password"})
            problem = assert_problem(response)
            seen.append((response.status_code, problem["code"], problem["field"], problem["message_en"]))
        answers[username] = seen
    assert answers["muang-chainat"] == answers["no-such-officer"]
    assert [status for status, *_ in answers["muang-chainat"]] == [401] * auth.LOCKOUT_AFTER + [429]
    right = gateway.call("POST", "/api/v1/auth/token",
                         json_body={"username": "muang-chainat", "password": PASSWORDS["muang-chainat"]})
    assert right.status_code == 429, "the right password does not open a locked name"
    with gateway.database.session() as session:
        assert session.execute(select(users.c.id).where(users.c.username == "no-such-officer")).first() is None
    assert len(gateway.audit_rows(action="POST /api/v1/auth/token")) == 2 * (auth.LOCKOUT_AFTER + 1) + 1


# --- the shape of a request ------------------------------------------------------------------------

def test_json_routes_refuse_other_content_types_and_unknown_fields(gateway):
    as_text = gateway.call("POST", "/api/v1/tokens", role="lao", data='{"name": "x"}',
                           headers={"Content-Type": "text/plain"})
    problem_of(as_text, 415, "Content-Type")
    as_form = gateway.call("POST", "/api/v1/receipts", role="lao", data={"document_id": "x"})
    assert_problem(as_form, 415)
    smuggled = gateway.call("POST", "/api/v1/tokens", role="lao", json_body={"name": "x", "role": "central",
                                                                          "org_code": "DLA"})
    assert assert_problem(smuggled, 422)["field"] in ("role", "org_code")
    assert [t for t in body(gateway.call("GET", "/api/v1/tokens", role="lao"))["items"] if t["name"] != "login"] == []
    assert gateway.writes() == []


def test_a_token_lifetime_is_a_bounded_whole_number_of_days(gateway):
    for raw in ('{"expires_in_days": 1e999}', '{"expires_in_days": true}', '{"expires_in_days": 0}',
                '{"expires_in_days": 367}', '{"expires_in_days": 1.5}', '{"expires_in_days": "30"}'):
        response = gateway.call("POST", "/api/v1/tokens", role="central", data=raw,
                                headers={"Content-Type": "application/json"})
        problem_of(response, 422, "expires_in_days")
    nan = gateway.call("POST", "/api/v1/tokens", role="central", data='{"expires_in_days": NaN}',
                       headers={"Content-Type": "application/json"})
    problem_of(nan, 400, "body")
    assert [t for t in body(gateway.call("GET", "/api/v1/tokens", role="central"))["items"] if t["name"] != "login"] == []
    made = gateway.call("POST", "/api/v1/tokens", role="central", json_body={"name": "ci", "expires_in_days": 366})
    assert made.status_code == 201


def test_a_body_nested_too_deep_is_refused_before_parsing(gateway):
    for raw in ("[" * 100_000, '{"a":' * 50_000, "[" * 40 + "]" * 40):
        response = gateway.call("POST", "/api/v1/documents", role="central", data=raw,
                                headers={"Content-Type": "application/json"})
        assert problem_of(response, 400, "body")["code"] == "too_deep"
    # without logging in too (the login reads its body the same way)
    problem_of(gateway.call("POST", "/api/v1/auth/token", data="[" * 100_000,
                            headers={"Content-Type": "application/json"}), 400, "body")
    assert gateway.writes() == []


NUL = "\x00"
CONTROL_CASES = [  # (role, method, path, body, the field named)
    ("central", "POST", "/documents", {"document_date": "2569-11-21", "subject_th": f"เรื่อง{NUL}"}, "subject_th"),
    ("central", "POST", "/documents", {"document_date": "2569-11-21", "subject_th": "เรื่อง", "items": [
        {"text_th": "ข้อ\x0bหนึ่ง", "addressees": {"codes": ["LAO-180101"]}}]}, "items[0].text_th"),
    ("central", "POST", "/documents", {"document_date": "2569-11-21", "subject_th": "เรื่อง", "addressee_text": "\x1b[2J"},
     "addressee_text"),
    ("central", "POST", "/directives", {"document_number": "ก ๑", "document_date": "2569-11-21", "subject_th": "ก",
                                        "text_th": f"ให้{NUL}รายงาน", "addressees": {"codes": ["LAO-180101"]}}, "text_th"),
    ("lao", "POST", "/obligations/obl-in/extension-requests",
     {"requested_due_at": "2569-12-31T16:30:00+07:00", "reason": f"ไฟฟ้า{NUL}ดับ"}, "reason"),
    ("lao", "POST", "/obligations/obl-in/submissions",
     {"values": [{"indicator_code": "DISB-PCT", "value": 50, "note": "หมาย\x7fเหตุ"}]}, "values[0].note"),
    ("lao", "POST", "/assignments/asg-LAO-180101/state", {"to_state": "in_progress", "note": "\x85x"}, "note"),
    ("central", "POST", "/org-units", {"units": [{"code": "LAO-189998", "level": "lao", "lao_type": "sao",
                                                  "parent_code": "DLO-0115", "name_th": f"อบต.{NUL}"}]}, "units[0].name_th"),
    ("central", "POST", "/plans", {"format": "thongthin.plan/v1", "plan": {
        "id": "P-NUL", "type": "strategic", "owner_code": "DLA", "title_th": f"แผน{NUL}",
        "period_be_start": 2566, "period_be_end": 2570}}, "plan.title_th"),
    ("lao", "PUT", "/me/notification-preferences", {"channels": {"email": f"a{NUL}@example.org"}}, "channels.email"),
    ("central", "POST", "/tokens", {"name": f"ci{NUL}"}, "name"),
    ("central", "POST", "/documents", {"document_date": "2569-11-21", "subject_th": "เรื่อง", f"x{NUL}": 1}, "body"),
]


@pytest.mark.parametrize("role, method, path, payload, field", CONTROL_CASES,
                         ids=[f"{c[2]}:{c[4]}" for c in CONTROL_CASES])
def test_a_control_character_in_any_text_field_is_refused_naming_it(gateway, role, method, path, payload, field):
    problem_of(gateway.call(method, "/api/v1" + path, role=role, json_body=payload), 422, field)
    assert gateway.writes() == []


def test_an_unknown_query_parameter_is_refused_on_every_route_naming_it(gateway):
    """Every documented route, with one parameter it does not declare: 422 naming it (Thai and English),
    before anything is looked up or changed."""
    specs = [spec for spec in ROUTES if spec.documented]
    assert len(specs) > 60
    for spec in specs:
        path = CONVERTER.sub(path_value, spec.path)
        response = gateway.call(spec.method, path, role=None if spec.public else "central",
                                query={"colour": "ม่วง"}, json_body={} if spec.body else None)
        problem = problem_of(response, 422, "colour")
        assert problem["code"] == "unknown_parameter" and "ม่วง" not in problem["message_en"], spec.path
        assert "ไม่รู้จักพารามิเตอร์ colour" in problem["message_th"], problem
        assert "unknown query parameter colour" in problem["message_en"], problem
    assert [name for fake in gateway.fakes() for name, *_ in fake.calls] == []
    # a declared one still works, and a known parameter beside an unknown one does not hide it
    assert gateway.call("GET", "/api/v1/org-units", role="central", query={"within": "PLO-09", "limit": 1}
                        ).status_code == 200
    problem_of(gateway.call("GET", "/api/v1/org-units", role="central", query={"limit": 1, "debug": "1"}), 422, "debug")
    problem_of(gateway.call("GET", "/api/v1/me", role="central", query={"format": "csv"}), 422, "format")
    problem_of(gateway.call("GET", "/api/v1/audit", role="ops", query={"status": "99"}), 422, "status")
    problem_of(gateway.call("GET", "/api/v1/audit", role="ops", query={"limit": ["1", "2"]}), 422, "limit")


# --- errors of the services as the gateway answers them --------------------------------------------

def test_an_input_error_of_a_service_crosses_as_problem_json_and_a_failed_service_is_a_502(gateway):
    from nameko.exceptions import RemoteError
    from shared.errors import InputError
    gateway.plans.answers["issue_directive"] = lambda payload, actor: (_ for _ in ()).throw(
        InputError("invalid", "addressees", "ไม่มีผู้รับ", "no addressees", status=422))
    refused = gateway.call("POST", "/api/v1/directives", role="central", json_body={"subject_th": "ก"})
    problem_of(refused, 422, "addressees")
    assert gateway.audit_rows(action="POST /api/v1/directives")[-1]["status"] == 422
    gateway.assessments.failure = RemoteError("KeyError", "boom")
    failed = gateway.call("GET", "/api/v1/obligations/obl-in", role="lao")
    assert failed.status_code == 502 and body(failed)["code"] == "upstream" and body(failed)["correlation_id"]


# --- the audit log ----------------------------------------------------------------------------------

def test_the_audit_log_is_for_ops_and_records_who_what_and_from_where(gateway):
    assert gateway.call("POST", "/api/v1/tokens", role="central", json_body={"name": "ci"}).status_code == 201
    assert_problem(gateway.call("GET", "/api/v1/audit", role="lao"), 403)
    entries = body(gateway.call("GET", "/api/v1/audit", role="ops", query={"username": "central"}))["items"]
    assert [(e["action"], e["status"], e["remote_addr"]) for e in entries] == [("POST /api/v1/tokens", 201, "127.0.0.1")]
    assert entries[0]["correlation_id"]


def test_an_audited_write_records_its_target_before_and_after(gateway):
    gateway.plans.answers["acknowledge_assignment"] = lambda payload: {
        "assignment_id": payload["assignment_id"], "state": "acknowledged", "changed": True}
    done = gateway.call("POST", "/api/v1/assignments/asg-LAO-180101/acknowledge", role="lao",
                        json_body={"receipt_number": "๑๒"})
    assert done.status_code == 200, done.get_data(as_text=True)
    [row] = gateway.audit_rows(target="assignment:asg-LAO-180101")
    assert row["username"] == "lao-180101" and row["status"] == 200
    assert row["action"] == "POST /api/v1/assignments/asg-LAO-180101/acknowledge"
    assert json.loads(row["before"]) == gateway.world.assignments["asg-LAO-180101"]
    assert json.loads(row["result"]) == {"assignment_id": "asg-LAO-180101", "state": "acknowledged", "changed": True}
    assert json.loads(row["request"]) == {"receipt_number": "๑๒"}
    # a refused write: recorded with its status, and the target's before-image does not leak
    refused = gateway.call("POST", "/api/v1/assignments/asg-out/acknowledge", role="lao", json_body={})
    assert refused.status_code == 403
    [row] = gateway.audit_rows(target="assignment:asg-out")
    assert row["status"] == 403 and row["before"] is None
    missing = gateway.call("POST", "/api/v1/assignments/no-such/acknowledge", role="lao", json_body={})
    assert missing.status_code == 404
    assert gateway.audit_rows(target="assignment:no-such")[0]["before"] is None


def test_preferences_and_token_revocation_record_before_and_after(gateway):
    gateway.notifications.answers["get_preferences"] = {"language": "th", "channels": {}}
    gateway.notifications.answers["upsert_person"] = {"language": "en", "channels": {}}
    assert gateway.call("PUT", "/api/v1/me/notification-preferences", role="lao",
                        json_body={"language": "en"}).status_code == 200
    [row] = gateway.audit_rows(target="preferences:lao-180101")
    assert json.loads(row["before"])["language"] == "th" and json.loads(row["result"])["language"] == "en"

    created = body(gateway.call("POST", "/api/v1/tokens", role="lao", json_body={"name": "audit-test",
                                                                                 "scopes": ["read"]}))
    assert gateway.call("DELETE", f"/api/v1/tokens/{created['id']}", role="lao").status_code == 200
    [row] = gateway.audit_rows(target=f"token:{created['id']}")
    before = json.loads(row["before"])
    assert before["name"] == "audit-test" and before["revoked_at"] is None and "token_hash" not in before
    assert json.loads(row["result"]) == {"id": created["id"], "revoked": True}
    [creation] = gateway.audit_rows(action="POST /api/v1/tokens")
    assert created["token"] not in creation["result"] and json.loads(creation["result"])["token"] == "(not stored)"


def test_no_password_or_token_is_stored_anywhere_in_the_audit_log(gateway):
    for username in ("lao-180101", "chainat"):
        assert gateway.call("POST", "/api/v1/auth/token", json_body={"username": username,
                                                                     "password": PASSWORDS[username]}).status_code == 200
    gateway.call("POST", "/api/v1/auth/token", json_body={"username": "ops", "password": "wrong " + PASSWORDS["ops"]})
    cookies, _csrf = session_cookies(gateway, "central")
    gateway.call("POST", "/api/v1/tokens", role="central", json_body={"name": "x"})
    rows = gateway.audit_rows()
    text = json.dumps(rows, ensure_ascii=False, default=str)
    assert len(rows) == 5
    for password in PASSWORDS.values():
        assert password not in text
    for token in [*gateway.tokens.values(), *cookies.values()]:
        assert token not in text
    assert "token_hash" not in text and "password_hash" not in text
    exported = gateway.call("GET", "/api/v1/audit", role="ops", query={"format": "csv", "limit": "5"})
    assert exported.status_code == 200 and "ก่อนแก้ไข" in exported.get_data(as_text=True).splitlines()[0]


def test_the_audit_log_export_survives_an_anonymous_body_full_of_control_characters(gateway):
    # (a body naming a password is not kept at all: this one is kept as sent)
    problem_of(gateway.call("POST", "/api/v1/auth/token", data=b'{"username": "\x00\x01\x1b[2J\x7f"}',
                            headers={"Content-Type": "application/json"}), 400, "body")  # raw control characters: not JSON
    problem_of(gateway.call("POST", "/api/v1/auth/token", json_body={"username": "a\x00b", "password": "x"}),
               422, "username")
    listed = body(gateway.call("GET", "/api/v1/audit", role="ops", query={"action": "/api/v1/auth/token"}))["items"]
    assert any(item["request"] and "\ufffd\ufffd" in item["request"] for item in listed)
    for kind in ("xlsx", "csv"):
        exported = gateway.call("GET", "/api/v1/audit", role="ops", query={"format": kind, "limit": "200"})
        assert exported.status_code == 200
        if kind == "xlsx":
            rows = list(openpyxl.load_workbook(io.BytesIO(exported.get_data())).active.iter_rows(values_only=True))
        else:
            rows = list(csv.reader(io.StringIO(exported.get_data().decode("utf-8-sig"), newline="")))
        assert len(rows) == 3


# --- Idempotency-Key --------------------------------------------------------------------------------

def test_a_write_sent_again_with_its_idempotency_key_is_answered_again_without_a_second_call(gateway):
    payload = {"values": [{"indicator_code": "DISB-PCT", "value": 50}]}
    headers = {"Idempotency-Key": "5f0c3d4e-9a1b-4c2d-8e7f-0a1b2c3d4e5f"}
    first = gateway.call("POST", "/api/v1/obligations/obl-in/submissions", role="lao", json_body=payload,
                         headers=headers)
    again = gateway.call("POST", "/api/v1/obligations/obl-in/submissions", role="lao", json_body=payload,
                         headers=headers)
    assert first.status_code == again.status_code == 201 and body(first) == body(again)
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert gateway.writes() == ["submit_values"]
    other = gateway.call("POST", "/api/v1/obligations/obl-in/submissions", role="lao",
                         json_body={"values": [{"indicator_code": "DISB-PCT", "value": 51}]}, headers=headers)
    assert problem_of(other, 422, "Idempotency-Key")["code"] == "idempotency_key_reused"
    problem_of(gateway.call("POST", "/api/v1/obligations/obl-in/submissions", role="lao", json_body=payload,
                            headers={"Idempotency-Key": "ไม่ใช่ ASCII"}), 400, "Idempotency-Key")
    # another caller's same key is its own
    assert gateway.call("POST", "/api/v1/obligations/obl-in/submissions", role="district", json_body=payload,
                        headers=headers).status_code == 201
    assert gateway.writes() == ["submit_values", "submit_values"]
