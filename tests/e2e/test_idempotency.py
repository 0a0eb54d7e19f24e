"""Idempotent writes through the public API (issue #17): an officer's client that sends a write
again with its Idempotency-Key — after a timeout or a 503 — gets the first answer back and the
directive exists once; the same key for another request is refused; a key expires after 24 h.
And the service side: plans applies a keyed write once even when the call itself comes twice
(the gateway's retry after a lost reply, or the broker redelivering the request)."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import create_engine, text

from shared.contracts import utcnow
from tests.e2e.conftest import client

UNITS = [
    dict(code="MOI", level="ministry", name_th="กระทรวงมหาดไทย"),
    dict(code="DLA", level="department", parent_code="MOI", name_th="กรมส่งเสริมการปกครองท้องถิ่น"),
    dict(code="PLO-09", level="provincial_office", parent_code="DLA", name_th="สถจ.ชัยนาท"),
    dict(code="DLO-0115", level="district_office", parent_code="PLO-09", name_th="สถอ.เมืองชัยนาท"),
    dict(code="LAO-180101", level="lao", lao_type="town_municipality", parent_code="DLO-0115",
         name_th="เทศบาลเมืองชัยนาท"),
    dict(code="LAO-180102", level="lao", lao_type="sao", parent_code="DLO-0115", name_th="อบต.ธรรมามูล"),
]


def directive(number: str, subject: str = "ขอให้รายงานผลการเบิกจ่ายงบประมาณ") -> dict:
    return {"document_number": number, "document_date": "2025-11-03", "urgency": "urgent",
            "subject_th": subject, "text_th": "ให้รายงานผลภายในกำหนด",
            "addressees": {"level": "lao", "within": "DLO-0115"}}


def count(stack, service: str, sql: str, **params) -> int:
    engine = create_engine(stack.database_urls[service])
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), params).scalar_one()
    finally:
        engine.dispose()


def directives_numbered(stack, number: str) -> int:
    return count(stack, "plans", "SELECT count(*) FROM directives dir JOIN documents d ON d.id = dir.document_id "
                                 "WHERE d.number_printed = :n", n=number)


def test_a_write_sent_again_with_its_key_is_answered_again_and_applied_once(stack):
    central = client(stack, "central")
    assert central.post(f"{central.base}/org-units", json={"units": UNITS}).status_code == 200
    key, number = str(uuid.uuid4()), f"มท ๐๘๑๐.๔/ว {uuid.uuid4().hex[:6]}"
    first = central.post(f"{central.base}/directives", json=directive(number), headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = central.post(f"{central.base}/directives", json=directive(number), headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    assert directives_numbered(stack, number) == 1
    # without a key, the same body is a second directive: the key is what makes a retry a retry
    plain = central.post(f"{central.base}/directives", json=directive(number))
    assert plain.status_code == 201 and plain.json()["directive_id"] != first.json()["directive_id"]
    assert directives_numbered(stack, number) == 2


def test_the_same_key_for_another_request_is_refused_and_changes_nothing(stack):
    central = client(stack, "central")
    assert central.post(f"{central.base}/org-units", json={"units": UNITS}).status_code == 200
    key, number = str(uuid.uuid4()), f"มท ๐๘๑๐.๔/ว {uuid.uuid4().hex[:6]}"
    assert central.post(f"{central.base}/directives", json=directive(number),
                        headers={"Idempotency-Key": key}).status_code == 201
    other = central.post(f"{central.base}/directives", json=directive(number, subject="เรื่องอื่น"),
                         headers={"Idempotency-Key": key})
    assert other.status_code == 422, other.text
    problem = other.json()
    assert problem["code"] == "idempotency_key_reused" and problem["field"] == "Idempotency-Key"
    assert problem["message_th"] and problem["message_en"]
    assert other.headers["Content-Type"].startswith("application/problem+json")
    assert directives_numbered(stack, number) == 1
    # a key that is not 1-200 printable ASCII characters is bad input, named as such
    bad = central.post(f"{central.base}/directives", json=directive(number), headers={"Idempotency-Key": "k" * 201})
    assert bad.status_code == 400 and bad.json()["field"] == "Idempotency-Key"
    assert directives_numbered(stack, number) == 1


def test_keys_belong_to_their_caller_and_expire(stack):
    central, province = client(stack, "central"), client(stack, "chainat")
    assert central.post(f"{central.base}/org-units", json={"units": UNITS}).status_code == 200
    key = str(uuid.uuid4())
    document = {"form": "memo", "document_number": f"ชน ๐๐๒๓.๓/{uuid.uuid4().hex[:6]}", "document_date": "2025-11-03",
                "urgency": "normal", "subject_th": "แจ้งเพื่อทราบ",
                "items": [{"kind": "guideline", "text_th": "แนวทาง", "addressees": {"codes": ["DLO-0115"]}}]}
    mine = central.post(f"{central.base}/documents", json={**document, "sender_code": "DLA"},
                        headers={"Idempotency-Key": key})
    theirs = province.post(f"{province.base}/documents", json=document, headers={"Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 201, (mine.text, theirs.text)
    assert mine.json()["document_id"] != theirs.json()["document_id"]  # two callers, two documents
    # a day later the key is forgotten: the same key may name a new request
    engine = create_engine(stack.database_urls["gateway"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE idempotency_keys SET expires_at = :t WHERE key = :k"),
                           {"t": utcnow() - timedelta(seconds=1), "k": key})
    engine.dispose()
    renewed = central.post(f"{central.base}/documents", json={**document, "sender_code": "DLA", "subject_th": "เรื่องใหม่",
                                                       "document_number": f"มท ๐๘๑๐.๔/{uuid.uuid4().hex[:6]}"},
                           headers={"Idempotency-Key": key})
    assert renewed.status_code == 201, renewed.text
    assert renewed.json()["document_id"] not in (mine.json()["document_id"], theirs.json()["document_id"])


def test_plans_applies_a_keyed_call_once_however_often_it_comes(stack):
    """What the gateway's retry after a lost reply (and the broker's redelivery of the request)
    meets in plans: the stored result of the first call, not a second directive."""
    from nameko.standalone.rpc import ClusterRpcProxy
    central = client(stack, "central")
    assert central.post(f"{central.base}/org-units", json={"units": UNITS}).status_code == 200
    number = f"มท ๐๘๑๐.๔/ว {uuid.uuid4().hex[:6]}"
    payload = {**directive(number), "issuer_code": "DLA"}
    actor = {"username": "central", "role": "central", "org_code": "DLA"}
    with ClusterRpcProxy({"AMQP_URI": stack.amqp_uri}, context_data={"idempotency_key": uuid.uuid4().hex}) as rpc:
        first = rpc.plans.issue_directive(payload, actor)
        second = rpc.plans.issue_directive(payload, actor)
        different = rpc.plans.issue_directive({**payload, "subject_th": "อีกเรื่องหนึ่ง"}, actor)
    assert second == first
    assert different["directive_id"] != first["directive_id"]  # same key, another command: its own call
    assert directives_numbered(stack, number) == 2
    assert count(stack, "plans", "SELECT count(*) FROM rpc_results WHERE call = 'issue_directive:issue_directive'") >= 2
