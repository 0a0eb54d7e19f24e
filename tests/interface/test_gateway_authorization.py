"""The authorization matrix, generated from the route declarations (services/gateway/routing.py), on
the gateway built in process (tests/interface/gateway.py).

For every declared route, for every role (as its demo user):
- a role the route does not allow: 403, and no write reached any service;
- a target outside the caller's scope (Sing Buri's records for a Chainat user; another unit's
  assignment for everyone): a read answers 404, a write 403, and no write reached any service (a rule
  the owning service applies, ``Delegated``, is checked by that service: the gateway must pass it the
  caller); a list asked for another unit holds only the caller's subtree;
- a target within the caller's scope: not refused (no 401/403, and a read no 404), never a 5xx;
- every write, refused or not, leaves an audit row with its action and status;
- every refusal is problem+json naming the field in Thai and English.

The targets come from one fixture per *scope rule*, not per route: a new route with an existing rule
is covered as soon as it is declared; a route with a new rule fails ``test_every_scope_rule_has_targets``
until its targets are written here. tests/e2e/test_authorization_matrix.py keeps a sample of these
cases on the real stack, to show that the services agree with the fakes.
"""
from __future__ import annotations

import re

import pytest

from services.gateway.routing import Delegated
from tests.interface.gateway import BY_ID, OUTSIDER, ROUTES, USERS, body

ORG = {role: org for role, (_username, org) in USERS.items()}
NATIONAL = ("central", "ops")
THAI = re.compile("[\u0e00-\u0e7f]")
REVOKING = {"logout", "revoke_token"}   # their in-scope call ends the caller's credential
SUBTREE = {"central": None, "ops": None, "province": {"PLO-09", "DLO-0115", "LAO-180101", "LAO-180102"},
           "reviewer": {"PLO-09", "DLO-0115", "LAO-180101", "LAO-180102"},
           "district": {"DLO-0115", "LAO-180101", "LAO-180102"}, "lao": {"LAO-180101"}}


# --- targets per scope rule: (in scope, out of scope) for a role; each a dict of path parameters and
# optionally "query", "body" (JSON), "files" -----------------------------------------------------------
def _own(role):
    return {}, None


def _by_id(name, inside, outside, *, national_out=False):
    def targets(role):
        return {name: inside}, (None if role in NATIONAL and not national_out else {name: outside})
    return targets


def _recorder(role):
    draft = {"DLA": "draft-DLA", "PLO-09": "draft-PLO-09", "DLO-0115": "draft-DLO-0115"}.get(ORG[role])
    return ({"document_id": draft} if draft else None), (None if role == "central" else {"document_id": "doc-in"})


def _assignee(role):
    return {"assignment_id": f"asg-{ORG[role]}"}, {"assignment_id": "asg-out"}


def _sender(role):
    outside = {"body": {"sender_code": "PLO-08", "document_date": "2026-11-21", "subject_th": "ในนามผู้อื่น",
                        "items": [{"text_th": "ข้อสั่งการ", "addressees": {"codes": ["LAO-170101"]}}]}}
    return {"body": {}}, (None if role == "central" else outside)


def _plan(owner, plan_id):
    return {"format": "thongthin.plan/v1",
            "plan": {"id": plan_id, "type": "local_development", "owner_code": owner, "title_th": "แผนทดสอบสิทธิ์",
                     "period_be_start": 2566, "period_be_end": 2570}, "indicators": []}


def _plan_owner(role):
    inside = {"query": {"dry_run": "1"}, "body": _plan(ORG[role], f"MATRIX-{ORG[role]}")}
    return inside, (None if role == "central" else {"body": _plan("LAO-170101", f"MATRIX-BY-{role}")})


def _batch(role):
    outside = {"body": {"items": [{"unit_code": "LAO-170101", "period": "2570-01",
                                   "values": [{"indicator_code": "X", "value": 50}]}]},
               "files": {"file": ("รายงาน.csv", "unit_code,indicator_code,period,value\nLAO-170101,X,2570-01,50\n"
                                  .encode(), "text/csv")}}
    return {}, (None if role in NATIONAL else outside)


def _in_body(name, inside, outside):
    def targets(role):
        return {"body": {name: inside}}, (None if role in NATIONAL else {"body": {name: outside}})
    return targets


def _report_unit(role):
    return {"query": {"unit_code": ORG[role]}}, (None if role in NATIONAL else {"query": {"unit_code": "PLO-08"}})


def _lpa_in_province(role, field):
    def of(code):
        if field == "rows":
            return {"rows": [{"unit_code": code, "indicator_code": "MGMT-01", "points": 0}]}
        return {"unit_codes": [code], "visit_on": "2027-02-10",
                "members": [{"person": "chainat", "role": "lead", "unit_code": "PLO-09"}]}
    return {"body": of("LAO-180101")}, (None if role == "central" else {"body": of("LAO-170101")})


def _list(role):
    return {}, (None if role in NATIONAL else {"query": {"unit_code": "LAO-170101"}})


TARGETS = {
    "public": _own, "own": _own, "everyone": _own, "nation": _own,
    "subtree-list": _list, "report-unit": _report_unit,
    "document-visible": _by_id("document_id", "doc-in", "doc-out"),
    "document-recorder": _recorder, "document-sender": _sender,
    "attachment-visible": _by_id("attachment_id", "att-in", "att-out"),
    "directive-visible": _by_id("directive_id", "dir-in", "dir-out"),
    "directive-report": _by_id("directive_id", "dir-in", "dir-out"),
    "assignee": _assignee,
    "receipt-document": _in_body("document_id", "doc-in", "doc-out"),
    "plan-owner": _plan_owner,
    "obligation-in-subtree": _by_id("obligation_id", "obl-in", "obl-out"),
    "own-obligation": _by_id("obligation_id", "obl-in", "obl-out", national_out=True),
    "submission-in-subtree": _by_id("submission_id", "sub-in", "sub-out"),
    "extension-in-subtree": _by_id("request_id", "ext-in", "ext-out"),
    "chased-obligation": _in_body("obligation_id", "obl-in", "obl-out"),
    "batch-units": _batch,
    "lpa-assessment-visible": _by_id("assessment_id", "lpa-LAO-180101", "lpa-LAO-170101"),
    "lpa-evidence-visible": _by_id("evidence_id", "ev-in", "ev-out"),
    "lpa-follow-up-in-subtree": _by_id("follow_up_id", "fu-in", "fu-out"),
    "lpa-team-province": lambda role: _lpa_in_province(role, "unit_codes"),
    "lpa-sheet-province": lambda role: _lpa_in_province(role, "rows"),
}
IDS = {"plan_id": "PLAN-1", "indicator_id": "IND-1", "code": "LAO-180101", "key": "default", "year_be": 2569,
       "item_id": "00000000-0000-4000-8000-000000000000", "token_id": "0"}
DEFAULT_BODY = {"multipart/form-data": {"files": {"file": ("a.txt", "ข้อความ".encode(), "text/plain")}},
                "text/csv": {"data": "code\n".encode(), "headers": {"Content-Type": "text/csv"}},
                "application/json": {"body": {}}}


def _cases():
    cases = []
    for spec in ROUTES:
        if spec.public:
            cases.append(pytest.param(spec.operation_id, None, "in", id=f"{spec.operation_id}-public"))
            continue
        for role in USERS:
            if role not in spec.allowed_roles:
                cases.append(pytest.param(spec.operation_id, role, "role", id=f"{spec.operation_id}-{role}-role"))
                continue
            if spec.scope.targets:
                cases.append(pytest.param(spec.operation_id, role, "out", id=f"{spec.operation_id}-{role}-out"))
            cases.append(pytest.param(spec.operation_id, role, "in", id=f"{spec.operation_id}-{role}-in"))
    return cases


def test_every_scope_rule_has_targets():
    missing = sorted({spec.scope.name for spec in ROUTES} - set(TARGETS))
    assert not missing, f"scope rules without matrix targets (add them to TARGETS): {missing}"


def request_of(gateway, spec, role, args: dict) -> dict:
    """The call of a case: path parameters from ``args`` (else IDS), then its body."""
    path = spec.doc_path
    if role is not None and spec.operation_id == "revoke_token":  # a token of the caller's own, made for it
        created = gateway.call("POST", "/api/v1/tokens", role=role, json_body={"name": "matrix"})
        args = {**args, "token_id": body(created)["id"]}
    # every path parameter, declared or not (an undocumented page declares none)
    path = re.sub(r"\{(\w+)\}", lambda m: str(args.get(m.group(1), IDS.get(m.group(1), "none"))), path)
    call = {"query": args.get("query") or {}, "headers": {}}
    if role is not None:
        call["role"] = role
    media = next(iter(spec.body), None) if spec.body else None
    if "files" in args and media == "multipart/form-data":
        call["files"] = args["files"]
    elif "body" in args and media in (None, "application/json"):
        call["json_body"] = args["body"]
    elif media:
        default = dict(DEFAULT_BODY.get(media, {"body": {}}))
        call["headers"].update(default.pop("headers", {}))
        call.update({"json_body" if key == "body" else key: value for key, value in default.items()})
    return dict(call, method=spec.method, path=path)


def assert_problem(response, status: int | None = None):
    """A refusal: problem+json naming what is wrong in Thai and in English."""
    if status is not None:
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json", response.mimetype
    problem = body(response)
    assert problem["status"] == response.status_code and problem["code"]
    assert THAI.search(problem["message_th"]) and not THAI.search(problem["message_en"]), problem
    return problem


@pytest.mark.parametrize("operation_id,role,case", _cases())
def test_authorization_matrix(gateway, operation_id, role, case):
    spec = BY_ID[operation_id]
    inside, outside = TARGETS[spec.scope.name](role) if role else ({}, None)
    # a refused role aims at a real target (one in scope for central) so that nothing but the role refuses it
    real = inside or outside or (TARGETS[spec.scope.name]("central")[0] if role else {})
    args = {"role": real, "in": inside, "out": outside}[case]
    if args and spec.scope.name == "subtree-list" and "query" in args:
        # a list that takes no unit_code cannot be asked for another unit (422): its out-of-scope case is
        # the plain list, which must hold the caller's subtree only
        args = {**args, "query": {k: v for k, v in args["query"].items() if k in spec.query_names}}
    if args is None:
        pytest.skip(f"no {'in' if case == 'in' else 'out of'}-scope target exists for {role} under {spec.scope.name}")
    call = request_of(gateway, spec, role, args)
    gateway.forget_calls()
    audited = len(gateway.audit_rows())
    response = gateway.call(call.pop("method"), call.pop("path"), **call)
    status = response.status_code
    text = response.get_data(as_text=True)[:300]
    assert status < 500, (operation_id, role, status, text)
    if case == "role":
        assert_problem(response, 403)
        assert gateway.writes() == [], f"{operation_id} refused to {role} reached {gateway.writes()}"
    elif case == "out" and spec.scope.name == "subtree-list":
        assert status == 200, (operation_id, role, status, text)
        units = {item["unit_code"] for item in body(response)["items"] if "unit_code" in item}
        assert units <= SUBTREE[role], (role, sorted(units - SUBTREE[role]))
    elif case == "out" and spec.scope.name == "batch-units":
        assert status in (403, 422) and "forbidden" in text, (operation_id, role, status, text)
    elif case == "out":
        assert_problem(response, spec.scope.refusal(spec.write))
        assert isinstance(spec.scope, Delegated) or gateway.writes() == [], f"{operation_id} out of scope for {role} reached {gateway.writes()}"
    else:
        assert status not in (401, 403), (operation_id, role, status, text)
        if not spec.write and spec.scope.targets:
            assert status != 404, (operation_id, role, status, text)
    if spec.write and not spec.public or spec.operation_id in ("login", "login_session"):
        rows = gateway.audit_rows()[audited:]
        assert [(row["action"].split(" ")[0], row["status"]) for row in rows] == [(spec.method, status)], rows
        if role is not None and operation_id not in ("login", "login_session"):
            assert rows[0]["username"] == USERS[role][0]


def test_an_outsider_lao_sees_nothing_of_chainat(gateway):
    """The reverse direction: Sing Buri's LAO, for the Chainat records the matrix finds in scope."""
    for path in ("/api/v1/obligations/obl-in", "/api/v1/documents/doc-in", "/api/v1/attachments/att-in",
                 "/api/v1/directives/dir-in"):
        assert_problem(gateway.call("GET", path, username=OUTSIDER[0]), 404)
    listed = body(gateway.call("GET", "/api/v1/obligations", username=OUTSIDER[0]))["items"]
    assert {item["unit_code"] for item in listed} == {"LAO-170101"}
