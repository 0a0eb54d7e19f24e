"""The authorization matrix on one real platform: a sample, generated from the route declarations
(services/gateway/routing.py), that shows the real services agree with the fakes of the interface tier.

The whole matrix (every route x every role) runs in process in seconds:
tests/interface/test_gateway_authorization.py. Here, for each *scope rule*, one route (a write when
the rule has one) and, as the demo users of the real stack:
- a role the route does not allow: 403, and the target re-read afterwards (as central) is unchanged;
- a target outside the caller's scope (Sing Buri's data for a Chainat user; another unit's
  assignment for everyone): a read answers 404, a write 403, and the target is unchanged;
- a target within the caller's scope: not refused (no 401/403, and a read no 404), never a 5xx.

The targets come from one fixture per scope rule, not per route: a route with a new rule fails
``test_every_scope_rule_has_fixtures`` until its fixtures are written here. Refusals run before any
in-scope call (which may change data).
"""
from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from devtools.demo import create_users
from devtools.mailsink import MailSink
from devtools.stack import Stack, free_port
from services.gateway import auth
from services.gateway.routing import declarations
from services.gateway.service import GatewayService
from services.plans.cli import registry_rows
from shared.db import Database
from tests.e2e.conftest import PASSWORDS, wait_for

USERS = {"central": "central", "province": "chainat", "district": "muang-chainat", "lao": "lao-180101",
         "reviewer": "reviewer", "ops": "ops"}
ORG = {"central": "DLA", "province": "PLO-09", "district": "DLO-0115", "lao": "LAO-180101", "reviewer": "PLO-09",
       "ops": "DLA"}
NATIONAL = ("central", "ops")
OUTSIDER = ("lao-170101", "singburi-lao-2569", "lao", "LAO-170101")   # an LAO of Sing Buri (PLO-08)
ROUTES = sorted(declarations(GatewayService), key=lambda spec: (spec.doc_path, spec.method))
# Routes whose in-scope call ends the caller's credentials: they get a throwaway login.
REVOKING = {"logout", "revoke_token"}
LPA_YEAR = 2569
# every role that scores sits on the team of LAO-180101, so that its in-scope score is not refused
LPA_TEAM = [{"person": "chainat", "role": "lead", "unit_code": "PLO-09"},
            {"person": "muang-chainat", "role": "member", "unit_code": "DLO-0115"},
            {"person": "reviewer", "role": "member", "unit_code": "PLO-09"},
            {"person": "central", "role": "member", "unit_code": "DLA"},
            {"person": "นายสมหมาย รักถิ่น", "role": "community_leader", "name_th": "นายสมหมาย รักถิ่น"}]


# --- targets per scope rule: (in scope, out of scope) for a role; each a dict of path parameters
# and optionally "query", "body" (JSON), "files" or "data" --------------------------------------------
def _own(w, role):
    return {}, None


def _by_id(name, inside, outside, *, national_out=False):
    def targets(w, role):
        out = None if role in NATIONAL and not national_out else {name: w[outside]}
        return {name: w[inside]}, out
    return targets


def _recorder(w, role):
    """Out of scope: a document the caller can read but did not record (one it cannot read is a 404, as
    tests/e2e/test_ownership.py shows)."""
    draft = w["drafts"].get(ORG[role])
    return ({"document_id": draft} if draft else None), (None if role == "central" else {"document_id": w["document_in"]})


def _assignee(w, role):
    mine = w["assignments"].get(ORG[role])
    return ({"assignment_id": mine} if mine else None), {"assignment_id": w["assignment_out"]}


def _sender(w, role):
    outside = {"body": {"sender_code": "PLO-08", "document_date": "2026-11-21", "subject_th": "ในนามผู้อื่น",
                        "items": [{"text_th": "ข้อสั่งการ", "addressees": {"codes": ["LAO-170101"]}}]}}
    return {"body": {}}, (None if role == "central" else outside)


def _plan(owner, plan_id):
    return {"format": "thongthin.plan/v1",
            "plan": {"id": plan_id, "type": "local_development", "owner_code": owner, "title_th": "แผนทดสอบสิทธิ์",
                     "period_be_start": 2566, "period_be_end": 2570},
            "indicators": [{"id": "IND-1", "name_th": "ตัวชี้วัดทดสอบ", "unit_th": "คน", "targets": {"2567": 1}}]}


def _plan_owner(w, role):
    inside = {"query": {"dry_run": "1"}, "body": _plan(ORG[role], f"MATRIX-{ORG[role]}")}
    outside = {"body": _plan("LAO-170101", f"MATRIX-BY-{role}")}
    return inside, (None if role == "central" else outside)


def _batch(w, role):
    row = {"unit_code": "LAO-170101", "period": w["period"], "values": [{"indicator_code": "X", "value": 50}]}
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["unit_code", "indicator_code", "period", "value", "note"],
                                  ["LAO-170101", "X", w["period"], "50", ""]])
    outside = {"body": {"items": [row]},
               "files": {"file": ("รายงาน.csv", buffer.getvalue().encode("utf-8"), "text/csv")}}
    return {}, (None if role in NATIONAL else outside)


def _in_body(name, inside, outside):
    def targets(w, role):
        return {"body": {name: w[inside]}}, (None if role in NATIONAL else {"body": {name: w[outside]}})
    return targets


def _report_unit(w, role):
    return {"query": {"unit_code": ORG[role]}}, (None if role in NATIONAL else {"query": {"unit_code": "PLO-08"}})


def _list(w, role):
    return {}, (None if role in NATIONAL else {"query": {"unit_code": "LAO-170101"}})


def _lpa_team(w, role):
    """In scope: any body (the service names what is missing, 422); out: a team for Sing Buri's LAO (403)."""
    outside = {"body": {"unit_codes": ["LAO-170101"], "visit_on": w["lpa_visit_on"], "members": LPA_TEAM,
                        "finalise": True}}
    return {"body": {}}, (None if role in NATIONAL else outside)


def _lpa_sheet(w, role):
    """In scope: any body (422); out: a row of Sing Buri's LAO (403)."""
    outside = {"body": {"rows": [{"unit_code": "LAO-170101", "indicator_code": "MGMT-01", "points": 0}]}}
    return {"body": {}}, (None if role in NATIONAL else outside)


def _none(w, role):
    return None, None


TARGETS = {
    "public": _own, "own": _own, "everyone": _own, "nation": _own,
    "subtree-list": _list, "report-unit": _report_unit,
    "document-visible": _by_id("document_id", "document_in", "document_out"),
    "document-recorder": _recorder, "document-sender": _sender,
    "attachment-visible": _by_id("attachment_id", "attachment_in", "attachment_out"),
    "directive-visible": _by_id("directive_id", "directive_in", "directive_out"),
    "directive-report": _by_id("directive_id", "directive_in", "directive_out"),
    "assignee": _assignee,
    "receipt-document": _in_body("document_id", "document_in", "document_out"),
    "plan-owner": _plan_owner,
    "obligation-in-subtree": _by_id("obligation_id", "obligation_in", "obligation_out"),
    "own-obligation": _by_id("obligation_id", "obligation_in", "obligation_out", national_out=True),
    "submission-in-subtree": _by_id("submission_id", "submission_in", "submission_out"),
    "extension-in-subtree": _by_id("request_id", "extension_in", "extension_out"),
    "chased-obligation": _in_body("obligation_id", "obligation_in", "obligation_out"),
    "batch-units": _batch,
    "lpa-assessment-visible": _by_id("assessment_id", "lpa_assessment_in", "lpa_assessment_out"),
    "lpa-evidence-visible": _by_id("evidence_id", "lpa_evidence_in", "lpa_evidence_out"),
    "lpa-team-province": _lpa_team,
    "lpa-sheet-province": _lpa_sheet,
    "lpa-follow-up-in-subtree": _none,   # follow-ups exist only once a round is published (tests/e2e/test_lpa_api.py)
}

# What a refused write could have changed, read back as central: (path, query) from the call's arguments.
WITNESS = {
    "register_units": lambda w, a: ("/org-units", {"limit": 1000}),
    "import_units": lambda w, a: ("/org-units", {"limit": 1000}),
    "record_document": None,   # no list of documents to read back; the refusal comes before any RPC
    "issue_document": lambda w, a: (f"/documents/{a['document_id']}", {}),
    "add_attachment": lambda w, a: (f"/documents/{a['document_id']}", {}),
    "issue_directive": lambda w, a: ("/assignments", {"mine": "0", "limit": 1000}),
    "acknowledge": lambda w, a: ("/assignments", {"mine": "0", "limit": 1000}),
    "change_state": lambda w, a: ("/assignments", {"mine": "0", "limit": 1000}),
    "declare_applicability": lambda w, a: ("/assignments", {"mine": "0", "limit": 1000}),
    "forward": lambda w, a: ("/assignments", {"mine": "0", "limit": 1000}),
    "register_receipt": lambda w, a: (f"/documents/{(a.get('body') or {}).get('document_id', w['document_in'])}", {}),
    "import_plan": lambda w, a: ("/plans", {"limit": 1000}),
    "submit": lambda w, a: (f"/obligations/{a['obligation_id']}", {}),
    "request_extension": lambda w, a: (f"/obligations/{a['obligation_id']}", {}),
    "submit_batch": lambda w, a: (f"/obligations/{w['obligation_out']}", {}),
    "submit_file": lambda w, a: (f"/obligations/{w['obligation_out']}", {}),
    "review": lambda w, a: (f"/obligations/{w['submission_obligation'][a['submission_id']]}", {}),
    "decide_extension": lambda w, a: ("/extension-requests", {"status": "", "limit": 1000}),
    "notification_chase": None,   # a reminder is queued asynchronously; the refusal comes before any RPC
    "notification_ladder_put": lambda w, a: ("/notifications/reminder-ladders", {}),
    "lpa_import_framework": lambda w, a: ("/lpa/frameworks", {}),
    "lpa_open_round": lambda w, a: ("/lpa/rounds", {}),
    "lpa_publish": lambda w, a: ("/lpa/rounds", {}),
    "lpa_save_self_assessment": lambda w, a: (f"/lpa/rounds/{LPA_YEAR}/checklist", {"limit": 1000}),
    "lpa_score": lambda w, a: (f"/lpa/rounds/{LPA_YEAR}/checklist", {"limit": 1000}),
    "lpa_return": lambda w, a: (f"/lpa/rounds/{LPA_YEAR}/checklist", {"limit": 1000}),
    "lpa_form_team": lambda w, a: (f"/lpa/rounds/{LPA_YEAR}/teams", {}),
    "lpa_import_scores": lambda w, a: (f"/lpa/rounds/{LPA_YEAR}/checklist", {"limit": 1000}),
    "lpa_add_evidence": lambda w, a: (f"/lpa/assessments/{a.get('assessment_id', w['lpa_assessment_in'])}", {}),
    "lpa_save_follow_up": lambda w, a: ("/lpa/follow-ups", {"limit": 1000}),
}

# Known holes that other work on issue #14 closes in the owning service (strict: an unexpected pass fails).
PENDING: dict[tuple[str, str], str] = {}

DEFAULT_BODY = {"multipart/form-data": {"files": {"file": ("a.txt", "ข้อความ".encode(), "text/plain")}},
                "text/csv": {"data": "code\n".encode(), "headers": {"Content-Type": "text/csv"}},
                "application/json": {"body": {}}}


def _cases():
    refusals, allowed = [], []
    for spec in ROUTES:
        if spec.public:
            allowed.append(pytest.param(spec.operation_id, None, "in", id=f"{spec.operation_id}-public"))
            continue
        for role in USERS:
            if role not in spec.allowed_roles:
                refusals.append(pytest.param(spec.operation_id, role, "role", id=f"{spec.operation_id}-{role}-role"))
                continue
            if spec.scope.targets:
                reason = PENDING.get((spec.operation_id, "out"))
                marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                refusals.append(pytest.param(spec.operation_id, role, "out", marks=marks,
                                             id=f"{spec.operation_id}-{role}-out"))
            allowed.append(pytest.param(spec.operation_id, role, "in", id=f"{spec.operation_id}-{role}-in"))
    return refusals + allowed


# Who plays each kind of case in the sample, first choice first: a Chainat user where one can be refused
# for scope (central and ops see everything), and in scope a user below central where one may call.
SAMPLE_ROLES = {"role": ("lao", "reviewer", "district", "province", "ops", "central"),
                "out": ("province", "lao", "district", "reviewer", "ops", "central"),
                "in": ("province", "lao", "district", "reviewer", "central", "ops")}


def _sample(cases):
    """Per scope rule, one route (its first write, else its first read), and for it the first choice of
    SAMPLE_ROLES of each kind of case; the public routes' one call each stays out (the interface tier has
    them)."""
    chosen: dict[str, str] = {}
    for spec in ROUTES:
        if not spec.public and (spec.scope.name not in chosen or spec.write and not BY_ID[chosen[spec.scope.name]].write):
            chosen[spec.scope.name] = spec.operation_id
    sample = []
    for operation_id in chosen.values():
        for kind, roles in SAMPLE_ROLES.items():
            found = {case.values[1]: case for case in cases if case.values[0] == operation_id and case.values[2] == kind}
            role = next((role for role in roles if role in found), None)
            if role is not None:
                sample.append(found[role])
    return sorted(sample, key=lambda case: case.values[2] == "in")  # refusals before in-scope calls (stable)


BY_ID = {spec.operation_id: spec for spec in ROUTES}
CASES = _sample(_cases())
TIMES: list[float] = []


def test_every_scope_rule_has_fixtures_and_every_refusable_write_a_witness():
    missing = sorted({spec.scope.name for spec in ROUTES} - set(TARGETS))
    assert not missing, f"scope rules without matrix fixtures (add them to TARGETS): {missing}"
    refusable = {spec.operation_id for spec in ROUTES if spec.write and not spec.public and (
        spec.scope.targets or set(spec.allowed_roles) != set(USERS))}
    assert refusable <= set(WITNESS), f"writes without a WITNESS entry: {sorted(refusable - set(WITNESS))}"


def _login(stack, username):
    response = requests.post(f"{stack.gateway_url}/api/v1/auth/token",
                             json={"username": username, "password": PASSWORDS[username]}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["token"]


@pytest.fixture(scope="module")
def world(rabbit, tmp_path_factory):
    """Chainat (PLO-09, in every demo user's reach) and Sing Buri (PLO-08, outside all but central's and
    ops's): a directive to each role's own unit, one to Sing Buri only, reporting obligations, a
    submission and an extension request on each side, drafts recorded by each unit, attachments, a plan."""
    from tests.conftest import new_vhost
    started = time.monotonic()
    sink = MailSink(port=free_port()).start()
    stack = Stack(amqp_uri=new_vhost(rabbit), var_dir=tmp_path_factory.mktemp("var"),
                  extra_env={"SMTP_PORT": str(sink.port), "THONGTHIN_SWEEP_INTERVAL_S": "3600"})
    stack.migrate()
    create_users(stack.database_urls["gateway"])
    database = Database(stack.database_urls["gateway"])
    with database.session() as session:
        username, password, role, org = OUTSIDER
        auth.create_user(session, username=username, password=password, role=role, org_code=org,
                         display_name=username)
        session.commit()
    database.dispose()
    PASSWORDS[OUTSIDER[0]] = OUTSIDER[1]
    stack.start()
    try:
        tokens = {role: _login(stack, username) for role, username in USERS.items()}
        base = f"{stack.gateway_url}/api/v1"

        def call(username_or_role, method, path, headers=None, **kwargs):
            token = tokens.get(username_or_role) or _login(stack, username_or_role)
            response = requests.request(method, base + path, timeout=60, **kwargs,
                                        headers={"Authorization": f"Bearer {token}", **(headers or {})})
            assert response.status_code < 300, (method, path, response.status_code, response.text)
            return response.json()

        units = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") in ("8", "9")]
        call("central", "POST", "/org-units", json={"units": units})
        due = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
        reporting = {"indicator_code": "X", "indicator_name_th": "ตัวชี้วัด", "period": "2570-01", "due_at": due}

        def directive(codes, number, **extra):
            return call("central", "POST", "/directives", json={
                "document_number": number, "document_date": "2026-11-21", "subject_th": "ทดสอบสิทธิ์",
                "text_th": "ให้ดำเนินการ", "addressees": {"codes": codes}, **extra})

        inside = directive(["DLA", "PLO-09", "DLO-0115", "LAO-180101"], "มท ๐๘๑๐/ว ๑")
        outside = directive(["PLO-08"], "มท ๐๘๑๐/ว ๒")
        directive(["LAO-180101", "LAO-180102"], "มท ๐๘๑๐/ว ๓", reporting=reporting)
        directive(["LAO-170101"], "มท ๐๘๑๐/ว ๔", reporting=reporting)
        mine = wait_for(lambda: call("lao", "GET", "/obligations")["items"], what="LAO-180101's obligation")[0]
        theirs = wait_for(lambda: call(OUTSIDER[0], "GET", "/obligations")["items"], what="LAO-170101's obligation")[0]
        assignments = {}
        for role in ("central", "province", "district", "lao"):
            [row] = wait_for(lambda: call(role, "GET", "/assignments",
                                       params={"directive_id": inside["directive_id"]})["items"],
                          what=f"the assignment of {ORG[role]}")
            assignments[ORG[role]] = row["id"]
        [assignment_out] = wait_for(lambda: call("central", "GET", "/assignments", params={
            "mine": "0", "directive_id": outside["directive_id"]})["items"], what="PLO-08's assignment")
        submission_in = call("lao", "POST", f"/obligations/{mine['id']}/submissions",
                             json={"values": [{"indicator_code": "X", "value": 10}]})["submission_id"]
        submission_out = call("central", "POST", f"/obligations/{theirs['id']}/submissions",
                              json={"unit_code": "LAO-170101", "values": [{"indicator_code": "X", "value": 10}]}
                              )["submission_id"]
        later = (datetime.now(timezone.utc) + timedelta(days=9)).isoformat()
        extension_in = call("lao", "POST", f"/obligations/{mine['id']}/extension-requests",
                            json={"requested_due_at": later, "reason": "ไฟฟ้าดับ"})["request_id"]
        extension_out = call(OUTSIDER[0], "POST", f"/obligations/{theirs['id']}/extension-requests",
                             json={"requested_due_at": later, "reason": "น้ำท่วม"})["request_id"]

        def draft(role, codes):
            return call(role, "POST", "/documents", json={
                "document_date": "2026-11-23", "subject_th": "ร่างหนังสือ", "sender_code": ORG[role],
                "items": [{"text_th": "ข้อสั่งการฉบับร่าง", "addressees": {"codes": codes}}]})["document_id"]

        drafts = {"DLA": draft("central", ["PLO-09"]), "PLO-09": draft("province", ["DLO-0115"]),
                  "DLO-0115": draft("district", ["LAO-180101"])}
        draft_out = draft("central", ["PLO-08"])

        def attach(document_id):
            return call("central", "POST", f"/documents/{document_id}/attachments",
                        files={"file": ("แนวทาง.pdf", b"%PDF-1.4 test", "application/pdf")})["attachment_id"]

        for directive_id in (inside["directive_id"], outside["directive_id"]):  # the reports know them
            for report in ("compliance", "cascade"):
                wait_for(lambda: requests.get(f"{base}/reports/directives/{directive_id}/{report}", timeout=30,
                                           headers={"Authorization": f"Bearer {tokens['central']}"}
                                           ).status_code == 200, what=f"the {report} report")
        lpa = _lpa_world(call)
        plan_text = (stack_repo_root() / "data" / "reference" / "tai_mueang_sao_plan.yaml").read_bytes()
        plan_id = call("central", "POST", "/plans", data=plan_text,
                       headers={"Content-Type": "application/x-yaml"})["plan_id"]
        w = {
            "stack": stack, "base": base, "tokens": tokens, "period": theirs["period"],
            "document_in": inside["document_id"], "document_out": outside["document_id"],
            "directive_in": inside["directive_id"], "directive_out": outside["directive_id"],
            "attachment_in": attach(inside["document_id"]), "attachment_out": attach(outside["document_id"]),
            "assignments": assignments, "assignment_out": assignment_out["id"],
            "obligation_in": mine["id"], "obligation_out": theirs["id"],
            "submission_in": submission_in, "submission_out": submission_out,
            "submission_obligation": {submission_in: mine["id"], submission_out: theirs["id"]},
            "extension_in": extension_in, "extension_out": extension_out,
            "drafts": drafts, "draft_out": draft_out, **lpa,
            "ids": {"plan_id": plan_id, "indicator_id": "none", "code": "LAO-180101", "key": "default",
                    "item_id": "00000000-0000-4000-8000-000000000000", "token_id": "0",
                    "year_be": str(LPA_YEAR), "follow_up_id": "none"},
        }
        print(f"\nmatrix world ready in {time.monotonic() - started:.1f}s")
        yield w
    finally:
        stack.stop()
        sink.stop()
        if TIMES:
            print(f"\nauthorization matrix: {len(TIMES)} cases, {sum(TIMES):.1f}s in HTTP calls")


def _lpa_world(call) -> dict:
    """The LPA: the 2569 framework, a round open for every LAO (Chainat's and Sing Buri's), evidence (a file)
    on each side, and LAO-180101's team with every scoring role on it."""
    from shared.thai import BANGKOK
    framework = (stack_repo_root() / "data" / "lpa" / f"framework-{LPA_YEAR}.yaml").read_bytes()
    call("central", "POST", "/lpa/frameworks", data=framework, headers={"Content-Type": "application/x-yaml"})
    now = datetime.now(BANGKOK)
    today = now.date().isoformat()
    call("central", "POST", "/lpa/rounds", json={"year_be": LPA_YEAR, "self_due_at": (now + timedelta(days=5)).isoformat(),
                                                 "visit_from": today, "visit_to": today, "publish_on": today})
    ids = {}
    for unit in ("LAO-180101", "LAO-170101"):
        [row] = call("central", "GET", f"/lpa/rounds/{LPA_YEAR}/checklist", params={"unit_code": unit})["items"]
        ids[unit] = row["assessment_id"]
    view = call("lao", "GET", f"/lpa/assessments/{ids['LAO-180101']}")
    code = view["areas"][0]["indicators"][0]["code"]
    evidence = {"indicator_code": code, "filename": "หลักฐาน.pdf", "content_type": "application/pdf",
                "content_base64": "JVBERi0xLjQgdGVzdA=="}
    evidence_in = call("lao", "POST", f"/lpa/assessments/{ids['LAO-180101']}/evidence", json=evidence)["evidence_id"]
    evidence_out = call(OUTSIDER[0], "POST", f"/lpa/assessments/{ids['LAO-170101']}/evidence", json=evidence)["evidence_id"]
    call("province", "POST", f"/lpa/rounds/{LPA_YEAR}/teams", json={
        "unit_codes": ["LAO-180101"], "visit_on": today, "members": LPA_TEAM, "finalise": True})
    return {"lpa_assessment_in": ids["LAO-180101"], "lpa_assessment_out": ids["LAO-170101"],
            "lpa_evidence_in": evidence_in, "lpa_evidence_out": evidence_out, "lpa_visit_on": today}


def stack_repo_root():
    from shared.config import REPO_ROOT
    return REPO_ROOT


def _request(w, spec, role, args: dict):
    """The call of a case: path parameters from ``args`` (else the world's ids), then its body."""
    path = spec.doc_path
    if role is not None and spec.operation_id == "revoke_token":  # a token of the caller's own, made for it
        created = requests.post(w["base"] + "/tokens", json={"name": "matrix"}, timeout=30,
                                headers={"Authorization": f"Bearer {w['tokens'][role]}"})
        args = {**args, "token_id": created.json()["id"]}
    for name in [p.name for p in spec.params if p.where == "path"]:
        path = path.replace("{" + name + "}", str(args.get(name, w["ids"].get(name, "none"))))
    kwargs: dict = {"params": args.get("query") or {}}
    headers = {}
    if role is not None:
        token = w["tokens"][role]
        if spec.operation_id in REVOKING:
            token = _login(w["stack"], USERS[role])
        headers["Authorization"] = f"Bearer {token}"
    media = next(iter(spec.body), None) if spec.body else None
    if "files" in args and media == "multipart/form-data":
        kwargs["files"] = args["files"]
    elif "body" in args and media in (None, "application/json"):
        kwargs["json"] = args["body"]
    elif media:
        default = dict(DEFAULT_BODY.get(media, {"body": {}}))
        headers.update(default.pop("headers", {}))
        kwargs.update({"json" if key == "body" else key: value for key, value in default.items()})
    return spec.method, w["base"].removesuffix("/api/v1") + path, dict(kwargs, headers=headers)


def _as_central(w, path, query):
    response = requests.get(w["base"] + path, params=query, timeout=60,
                            headers={"Authorization": f"Bearer {w['tokens']['central']}"})
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def _subtree(w, role) -> set[str]:
    cache = w.setdefault("subtrees", {})
    if role not in cache:
        items = _as_central(w, "/org-units", {"within": ORG[role], "limit": 1000})["items"]
        cache[role] = {item["code"] for item in items} | {ORG[role]}
    return cache[role]


@pytest.mark.parametrize("operation_id,role,case", CASES)
def test_authorization_matrix(world, operation_id, role, case):
    spec = BY_ID[operation_id]
    inside, outside = TARGETS[spec.scope.name](world, role) if role else ({}, None)
    # a refused role aims at a real target (one in scope for central) so that its re-read means something
    real = inside or outside or (TARGETS[spec.scope.name](world, "central")[0] if role else {})
    args = {"role": real, "in": inside, "out": outside}[case]
    if args and spec.scope.name == "subtree-list" and "query" in args:
        # a list that takes no unit_code cannot be asked for another unit (the parameter would be refused,
        # 422): its out-of-scope case is the plain list, which must hold the caller's subtree only
        args = {**args, "query": {k: v for k, v in args["query"].items() if k in spec.query_names}}
    if args is None:
        pytest.skip(f"no {'in' if case == 'in' else 'out of'}-scope target exists for {role} under "
                    f"{spec.scope.name}")
    witness = WITNESS.get(operation_id) if spec.write and case != "in" else None
    before = _as_central(world, *witness(world, args)) if witness else None
    method, url, kwargs = _request(world, spec, role, args)
    started = time.monotonic()
    response = requests.request(method, url, timeout=60, **kwargs)
    TIMES.append(time.monotonic() - started)
    status, text = response.status_code, response.text[:300]
    assert status < 500, (method, url, status, text)
    if case == "role":
        assert status == 403, (method, url, role, status, text)
    elif case == "out" and spec.scope.name == "subtree-list":
        assert status == 200, (method, url, status, text)
        items = response.json()["items"]
        units = {item["unit_code"] for item in items if "unit_code" in item}
        assert units <= _subtree(world, role), (role, sorted(units - _subtree(world, role)))
        hidden = {world["document_out"], world["draft_out"]}  # a document list: none of Sing Buri's
        assert not {item.get("id") for item in items} & hidden, role
    elif case == "out" and spec.scope.name == "batch-units":
        assert status in (403, 422) and "forbidden" in response.text, (method, url, status, text)
    elif case == "out":
        assert status == spec.scope.refusal(spec.write), (method, url, role, status, text)
    else:
        assert status not in (401, 403), (method, url, role, status, text)
        if not spec.write and spec.scope.targets:
            assert status != 404, (method, url, role, status, text)
    if witness:
        assert _as_central(world, *witness(world, args)) == before, f"{operation_id} as {role} changed its target"
