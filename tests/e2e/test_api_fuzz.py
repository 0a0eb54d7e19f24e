"""Bad input: schemathesis against the gateway's own /api/openapi.json, on the real platform.

Every documented operation is fuzzed as the central user (bearer token; THONGTHIN_FUZZ_USER picks
another) with every schemathesis check: no 5xx, every status documented, every body and header
matching its documented schema and content type, invalid data (negative cases) refused with a 4xx,
valid data not refused for being invalid, missing required headers and unsupported methods refused,
authentication enforced. And one of our own: a request with a query parameter the operation does not
declare, or a body property its schema does not have, is refused with a 4xx. Path parameters are often the ids of real data (Chainat's units, a directive with a reporting
rule, its obligations, a submission, an extension request, a document with an attachment, a plan),
so the fuzzer gets past "not found". No operation is excluded. The run is bounded: the examples and
coverage phases, then a fixed number of random examples per operation, no shrinking, a fixed seed
(about three and a half minutes for the whole module on 2 cores).

Then every write operation again as each other role (province, district, LAO, reviewer, ops): a
few random examples each, every request sent once per role: no 5xx, no undocumented status.

Also: Thai text (names, numbers as printed, Thai digits, tone marks, zero-width spaces) goes in
through the API and comes back unchanged.
"""
from __future__ import annotations

import copy
import itertools
import json
import os
import time
import urllib.parse
from datetime import datetime, timedelta

import pytest
import requests

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.transport.requests import REQUESTS_TRANSPORT  # noqa: E402

from services.gateway.openapi import build_document  # noqa: E402
from services.gateway.routing import declarations  # noqa: E402
from services.gateway.service import GatewayService  # noqa: E402
from services.plans.cli import registry_rows  # noqa: E402
from shared.config import REPO_ROOT  # noqa: E402
from tests.e2e.conftest import PASSWORDS  # noqa: E402
from shared.thai import BANGKOK  # noqa: E402

# Examples per operation in the fuzzing phase (the examples and coverage phases add their own,
# a bounded set per operation). THONGTHIN_FUZZ_EXAMPLES raises it for a longer local run.
MAX_EXAMPLES = int(os.environ.get("THONGTHIN_FUZZ_EXAMPLES", "5"))
FUZZ_USER = os.environ.get("THONGTHIN_FUZZ_USER", "central")   # e.g. chainat: a user with a scope
# Operations that end the caller's own credentials are called with a throwaway login of another
# user, so that the fuzzing user's token survives them (they are fuzzed all the same).
REVOKING = {"POST /api/v1/auth/logout", "DELETE /api/v1/tokens/{token_id}"}
# Operations only a unit that owns the data (or a role) can complete: fuzzed as that user, so that
# their success responses are checked too. Everything else runs as FUZZ_USER.
AS_USER = {
    "POST /api/v1/assignments/{assignment_id}/acknowledge": "lao-180101",
    "POST /api/v1/assignments/{assignment_id}/state": "lao-180101",
    "POST /api/v1/assignments/{assignment_id}/applicability": "lao-180101",
    "POST /api/v1/assignments/{assignment_id}/forward": "chainat",
    "POST /api/v1/obligations/{obligation_id}/submissions": "lao-180101",
    "POST /api/v1/obligations/{obligation_id}/extension-requests": "lao-180101",
    "GET /api/v1/audit": "ops",
}
CALLS: dict[str, list[tuple[int, float]]] = {}   # operation -> (status, seconds) per call, summed up at the end
THAI_UNIT = "องค์การบริหารส่วนตำบลหาดอาษา ๒ (ทดสอบ​ภาษาไทย) ก่ำ ฅ ฦ ๑๒๓"  # with a zero-width space


def login(stack, username: str) -> str:
    response = requests.post(f"{stack.gateway_url}/api/v1/auth/token",
                             json={"username": username, "password": PASSWORDS[username]}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def client(stack, username: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {login(stack, username)}"
    session.base = f"{stack.gateway_url}/api/v1"
    return session


def wait_until(check, timeout=60):
    deadline = time.monotonic() + timeout
    while not (result := check()) and time.monotonic() < deadline:
        time.sleep(0.3)
    return result


@pytest.fixture(scope="module")
def world(stack):
    """A little real data, through the API: ids the fuzzer can aim at."""
    started = time.monotonic()
    central, lao = client(stack, "central"), client(stack, "lao-180101")
    units = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") == "9"]
    assert central.post(f"{central.base}/org-units", json={"units": units}).status_code == 200
    due = (datetime.now(BANGKOK) + timedelta(days=3)).replace(hour=16, minute=30, second=0, microsecond=0)
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๗๗", "document_date": "2026-11-21", "subject_th": "รายงานผลการเบิกจ่าย",
        "text_th": "ให้ อปท. รายงานทุกเดือน", "addressees": {"level": "lao", "within": "PLO-09"},
        "acknowledge_due_at": (due - timedelta(days=1)).isoformat(),
        "reporting": {"indicator_code": "DISB-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย", "value_type": "percent",
                      "minimum": 0, "maximum": 100, "rrule": f"FREQ=MONTHLY;BYMONTHDAY={due.day}",
                      "dtstart": (due - timedelta(days=1)).isoformat(), "until": (due + timedelta(days=1)).isoformat(),
                      "due_time_local": "16:30", "holiday_rule": "none"}})
    assert issued.status_code == 201, issued.text
    directive_id, document_id = issued.json()["directive_id"], issued.json()["document_id"]
    obligations = wait_until(lambda: len(items := central.get(
        f"{central.base}/obligations", params={"limit": 1000}).json()["items"]) == 54 and items)
    assert obligations, "54 obligations, one per LAO of Chainat"
    [mine] = lao.get(f"{lao.base}/obligations").json()["items"]
    submitted = lao.post(f"{lao.base}/obligations/{mine['id']}/submissions",
                         json={"values": [{"indicator_code": "DISB-PCT", "value": 64.5}]})
    assert submitted.status_code == 201, submitted.text
    extension = lao.post(f"{lao.base}/obligations/{mine['id']}/extension-requests",
                         json={"requested_due_at": (due + timedelta(days=5)).isoformat(), "reason": "ไฟฟ้าดับทั้งตำบล"})
    assert extension.status_code == 201, extension.text
    [assignment] = lao.get(f"{lao.base}/assignments").json()["items"]
    to_province = central.post(f"{central.base}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๗๘", "document_date": "2026-11-22", "subject_th": "แจ้งเวียน อปท. ในพื้นที่",
        "text_th": "ให้ท้องถิ่นจังหวัดแจ้งเวียน", "addressees": {"codes": ["PLO-09"]}})
    assert to_province.status_code == 201, to_province.text
    [province_assignment] = client(stack, "chainat").get(
        f"{central.base}/assignments", params={"directive_id": to_province.json()["directive_id"]}).json()["items"]
    draft = central.post(f"{central.base}/documents", json={
        "document_date": "2026-11-23", "subject_th": "ร่างหนังสือ", "sender_code": "DLA", "items": [
            {"text_th": "ข้อสั่งการฉบับร่าง", "addressees": {"codes": ["PLO-09"]}}]})
    assert draft.status_code == 201, draft.text
    attachment = central.post(f"{central.base}/documents/{document_id}/attachments",
                              files={"file": ("แนวทาง.pdf", b"%PDF-1.4 test", "application/pdf")})
    assert attachment.status_code == 201, attachment.text
    plan_text = (REPO_ROOT / "data" / "reference" / "tai_mueang_sao_plan.yaml").read_bytes()
    plan = central.post(f"{central.base}/plans", data=plan_text, headers={"Content-Type": "application/x-yaml"})
    assert plan.status_code == 200, plan.text
    plan_id = plan.json()["plan_id"]
    tree = central.get(f"{central.base}/plans/{plan_id}").json()["tree"]
    indicator_id = next(_indicators(tree))
    wait_until(lambda: central.get(f"{central.base}/reports/directives/{directive_id}/compliance").status_code == 200)
    print(f"\nfuzz data ready in {time.monotonic() - started:.1f}s")
    return {
        "tokens": {username: f"Bearer {login(stack, username)}"
                   for username in {FUZZ_USER, *AS_USER.values(), *OTHER_ROLES}},
        "overrides": {"POST /api/v1/assignments/{assignment_id}/forward": {"assignment_id": province_assignment["id"]},
                      "POST /api/v1/documents/{document_id}/issue": {"document_id": draft.json()["document_id"]}},
        "ids": {"directive_id": directive_id, "document_id": document_id, "obligation_id": mine["id"],
                "submission_id": submitted.json()["submission_id"], "request_id": extension.json()["request_id"],
                "assignment_id": assignment["id"], "attachment_id": attachment.json()["attachment_id"],
                "plan_id": plan_id, "indicator_id": indicator_id, "code": "LAO-180101", "key": "default"},
    }


def _indicators(nodes):
    for node in nodes:
        if node["kind"] == "indicator":
            yield node["id"]
        yield from _indicators(node["children"])


def test_the_served_document_is_the_built_one(stack):
    served = requests.get(f"{stack.gateway_url}/api/openapi.json", timeout=30)
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("application/json")
    assert served.json() == json.loads(json.dumps(build_document(GatewayService)))
    docs = requests.get(f"{stack.gateway_url}/api/docs", timeout=30)
    assert docs.status_code == 200 and docs.headers["Content-Type"].startswith("text/html")
    assert "ข้อสั่งการ" in docs.text and "/api/v1/obligations/{obligation_id}/submissions" in docs.text


def test_thai_text_round_trips_unchanged(stack, world):
    central = client(stack, "central")
    unit = {"code": "LAO-189999", "level": "lao", "lao_type": "sao", "parent_code": "DLO-0115",
            "name_th": THAI_UNIT, "name_en": "Hat Asa 2 SAO", "province_code": "9"}
    registered = central.post(f"{central.base}/org-units", json={"units": [unit]})
    assert registered.status_code == 200, registered.text
    # the raw bytes are UTF-8 Thai, not \\u escapes, and decode to exactly what was sent
    listed = central.get(f"{central.base}/org-units", params={"search": "หาดอาษา ๒", "limit": 10})
    assert THAI_UNIT.encode("utf-8") in listed.content
    [found] = [u for u in listed.json()["items"] if u["code"] == "LAO-189999"]
    assert found["name_th"] == THAI_UNIT
    [version] = central.get(f"{central.base}/org-units/LAO-189999/history").json()["items"]
    assert version["name_th"] == THAI_UNIT

    number = "ที่ มท ๐๘๐๑.๒/ว ๕๒"
    subject = "ซักซ้อมแนวทางการเบิกจ่ายเงินอุดหนุน ปีงบประมาณ พ.ศ. ๒๕๖๙ (ครั้งที่ ๒)"
    item_text = "ให้ อปท. รายงานผลภายในวันที่ ๓ ของทุกเดือน ​เวลา ๑๖.๓๐ น."
    recorded = central.post(f"{central.base}/documents", json={
        "document_number": number, "document_date": "๒๑ พ.ย. ๒๕๖๙", "subject_th": subject,
        "sender_code": "DLA", "sender_text": "กรมส่งเสริมการปกครองท้องถิ่น",
        "addressee_text": "ผู้ว่าราชการจังหวัด ทุกจังหวัด",
        "items": [{"item_ref": "๑.", "text_th": item_text, "topic_th": "การเบิกจ่าย",
                   "addressees": {"codes": ["LAO-189999"]}}]})
    assert recorded.status_code == 201, recorded.text
    document = central.get(f"{central.base}/documents/{recorded.json()['document_id']}")
    assert subject.encode("utf-8") in document.content
    body = document.json()
    assert (body["number_printed"], body["subject_th"], body["sender_text"], body["addressee_text"]) == (
        number, subject, "กรมส่งเสริมการปกครองท้องถิ่น", "ผู้ว่าราชการจังหวัด ทุกจังหวัด")
    assert body["document_date"] == "2026-11-21"  # ๒๑ พ.ย. ๒๕๖๙ read as a date
    [item] = body["items"]
    assert (item["item_ref"], item["text_th"], item["topic_th"]) == ("๑.", item_text, "การเบิกจ่าย")

    # a Thai plan id in the path, and Thai names in the plan
    plan_id = "แผนทดสอบ-อบต.หาดอาษา-๒๕๖๙"
    title = "แผนพัฒนาท้องถิ่น (พ.ศ. ๒๕๖๖ - ๒๕๗๐) อบต.หาดอาษา"
    indicator = "ร้อยละของครัวเรือนที่ได้รับน้ำประปาสะอาด"
    imported = central.post(f"{central.base}/plans", json={
        "format": "thongthin.plan/v1", "plan": {"id": plan_id, "type": "local_development", "owner_code": "LAO-189999", "title_th": title,
                 "period_be_start": "๒๕๖๖", "period_be_end": 2570},
        "indicators": [{"id": "ตช.๑", "name_th": indicator, "unit_th": "ร้อยละ", "targets": {"๒๕๖๗": "๘๐"}}]})
    assert imported.status_code == 200, imported.text
    got = central.get(f"{central.base}/plans/{urllib.parse.quote(plan_id, safe='')}")
    assert got.status_code == 200, got.text
    assert got.json()["plan"]["title_th"] == title and got.json()["plan"]["id"] == plan_id
    assert got.json()["plan"]["period_be_start"] == 2566
    [node] = got.json()["tree"]
    assert (node["id"], node["title_th"]) == ("ตช.๑", indicator)
    assert [t["value"] for t in node["indicator"]["targets"]] == [80] and \
        node["indicator"]["targets"][0]["fiscal_year_be"] == 2567
    exported = central.get(f"{central.base}/plans/{urllib.parse.quote(plan_id, safe='')}/export").json()
    assert exported["indicators"][0]["name_th"] == indicator and exported["plan"]["title_th"] == title


DOCUMENT = build_document(GatewayService)
DECLARED = {(spec.method, spec.doc_path): spec for spec in declarations(GatewayService)}


def _body_properties(operation: dict, media: str) -> set[str] | None:
    """The top-level properties of a strict JSON body schema (None: extras allowed, or not an object)."""
    schema = operation.get("requestBody", {}).get("content", {}).get(media, {}).get("schema", {})
    if "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if schema.get("additionalProperties") is False and isinstance(schema.get("properties"), dict):
        return set(schema["properties"])
    return None


def unknown_fields_refused(ctx, response, case):
    """A query parameter the operation does not declare, or a body property its (strict) schema does not
    have, is refused with a 4xx: it is never silently ignored."""
    method, path = case.operation.method.upper(), case.operation.path
    extra = sorted(set(case.query or {}) - DECLARED[(method, path)].query_names)
    if isinstance(case.body, dict) and (case.media_type or "").startswith("application/json"):
        known = _body_properties(DOCUMENT["paths"][path][method.lower()], "application/json")
        if known is not None:
            extra += [f"body.{name}" for name in sorted(set(case.body) - known)]
    if extra and not 400 <= response.status_code < 500:
        raise AssertionError(f"Unknown input accepted: {', '.join(extra)} should have been refused with a 4xx, "
                             f"got {response.status_code}")


# The document fuzzed is the one the gateway serves at /api/openapi.json: the test above checks
# that they are equal. It is built in-process so that pytest can collect one test per operation
# (schemathesis's lazy from_fixture loader does not run under this pytest).
# The registry CSV import takes text/csv, application/csv or text/plain: send them as text.
if not REQUESTS_TRANSPORT.get_first_matching_media_type("application/csv"):
    schemathesis.serializer.alias("application/csv", "text/plain")
# A schema-valid request may still break a rule a JSON Schema of each field cannot state (an addressee
# rule needs codes, a level, a subtree or a criterion; a reporting rule due_at or rrule; a denial its
# reason; an LAO its lao_type; the obligation's window open...): refused with a 422 (an uploaded file's
# type by its name: 415), which the status check still requires to be documented. Every other refusal
# of valid data (400, 405, 406, 413, ...) fails the positive-data check.
POSITIVE_REFUSALS = {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "415", "422", "429"]}}
fuzzed = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=schemathesis.Config.from_dict({
    "seed": 2569,
    "continue-on-failure": True,   # every distinct failure of an operation, not only the first
    "generation": {"max-examples": MAX_EXAMPLES},
    "operations": [
        # Each login hashes a password with argon2 (~0.6 s here, on purpose): fewer random examples;
        # the examples and coverage phases still run in full.
        {"include-operation-id-regex": "^login", "generation": {"max-examples": 3}},
        # The deepest bodies (a whole plan document; a directive with its reporting rule) give the
        # coverage phase hundreds of negative variants, one per nested field (~50 s): it covers
        # their valid boundaries only; the fuzzing phase still sends them invalid data.
        {"include-operation-id-regex": "^(issue_directive|record_document)$",
         "phases": {"coverage": {"generation": {"mode": "positive"}}}},
        # A whole plan document: even its valid boundaries are ~900 requests (~25 s); the examples and
        # fuzzing phases send it (valid and invalid), tests/unit/test_plan_import.py covers its fields.
        {"include-operation-id-regex": "^import_plan$", "phases": {"coverage": {"enabled": False}}},
    ],
    "checks": POSITIVE_REFUSALS,
}))
# operation label (or "*") -> path parameter -> the id of real data (filled by the world fixture)
KNOWN: dict[str, dict[str, str]] = {}


@fuzzed.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time aim at real data: every path parameter we hold an id for gets it."""
    if not path_parameters:
        return st.just(path_parameters)
    known = {**KNOWN.get("*", {}), **KNOWN.get(context.operation.label, {})}
    real = {name: known.get(name, value) for name, value in path_parameters.items()}
    return st.sampled_from([path_parameters, real]) if real != path_parameters else st.just(path_parameters)


KEYS = itertools.count()


def own_idempotency_key(case) -> None:
    """Each request gets an Idempotency-Key of its own: a key the fuzzer drew again for another body would
    be refused (422 idempotency_key_reused, documented; tests/e2e/test_idempotency.py covers replays and
    reuse), which says nothing about the body. A key that is itself invalid is sent as drawn."""
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 1 <= len(key) <= 200 and key.isascii() and key.isprintable():
        case.headers["Idempotency-Key"] = f"{key[:180]}-{next(KEYS)}"


@fuzzed.parametrize()
@settings(deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_no_input_breaks_the_api(case, stack, world):
    KNOWN.update({"*": world["ids"], **world["overrides"]})
    label = case.operation.label
    if label in REVOKING:
        headers = {"Authorization": f"Bearer {login(stack, 'ops')}"}
    else:
        headers = {"Authorization": world["tokens"][AS_USER.get(label, FUZZ_USER)]}
    own_idempotency_key(case)
    started = time.monotonic()
    response = case.call(base_url=stack.gateway_url, headers=headers, timeout=30)
    CALLS.setdefault(label, []).append((response.status_code, time.monotonic() - started))
    case.validate_response(response, additional_checks=[unknown_fields_refused], headers=headers)


# The same document's writes, fuzzed again as every other role: a few random examples each (no
# coverage phase), every generated request sent once per role. Whatever the role and the data, the
# answer is documented and never a 5xx (a role that may not write answers 403, documented).
OTHER_ROLES = ("chainat", "muang-chainat", "lao-180101", "reviewer", "ops")
WRITES = sorted(spec.operation_id for spec in declarations(GatewayService)
                if spec.write and spec.documented and not spec.public and spec.operation_id not in ("logout", "revoke_token"))
fuzzed_writes = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=schemathesis.Config.from_dict({
    "seed": 2570, "continue-on-failure": True,
    "generation": {"max-examples": int(os.environ.get("THONGTHIN_FUZZ_ROLE_EXAMPLES", "1"))},
    "phases": {"coverage": {"enabled": False}},
    "checks": POSITIVE_REFUSALS,
})).include(operation_id=WRITES)
fuzzed_writes.hook(flatmap_path_parameters)


@fuzzed_writes.parametrize()
@settings(deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
def test_no_write_as_any_role_breaks_the_api(case, stack, world):
    KNOWN.update({"*": world["ids"], **world["overrides"]})
    for username in OTHER_ROLES:
        own_idempotency_key(case)
        headers = {"Authorization": world["tokens"][username]}
        started = time.monotonic()
        response = case.call(base_url=stack.gateway_url, headers=headers, timeout=30)
        CALLS.setdefault(f"{case.operation.label} as {username}", []).append(
            (response.status_code, time.monotonic() - started))
        case.validate_response(response, additional_checks=[unknown_fields_refused], headers=headers)


@pytest.fixture(scope="module", autouse=True)
def call_report(request):
    """How long the calls took, and which operations never got a 2xx (never reached real data)."""
    started = time.monotonic()
    yield
    if not CALLS:
        return
    calls = [call for per_operation in CALLS.values() for call in per_operation]
    lines = [f"schemathesis: {len(calls)} calls to {len(CALLS)} operations, {sum(t for _, t in calls):.1f}s in "
             f"HTTP calls, {time.monotonic() - started:.1f}s for the module; slowest operations:"]
    for label, per_operation in sorted(CALLS.items(), key=lambda item: -sum(t for _, t in item[1]))[:8]:
        lines.append(f"  {label}: {len(per_operation)} calls, {sum(t for _, t in per_operation):.1f}s")
    never = sorted(label for label, per_operation in CALLS.items()
                   if " as " not in label and not any(s < 300 for s, _ in per_operation))
    lines.append(f"operations without a single 2xx: {', '.join(never) or 'none'}")
    with request.config.pluginmanager.get_plugin("capturemanager").global_and_fixture_disabled():
        print("\n" + "\n".join(lines))
