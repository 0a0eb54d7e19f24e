"""The event registry: envelopes round-trip, bad messages fail with typed errors, schemas don't drift."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from shared.contracts import (REGISTRY, Envelope, MalformedMessage, UnknownEventType, decode, encode)
from shared.contracts.events import DeadlineMissed, DirectiveIssued
from shared.contracts.schema_export import drift, rendered_schemas

REQUIRED_TYPES = {
    "plans.directive_issued.v1", "plans.assignment_created.v1", "plans.assignment_acknowledged.v1",
    "assessments.obligation_opened.v1", "assessments.indicator_submitted.v1",
    "assessments.deadline_missed.v1", "notifications.notification_sent.v1",
}


def a_miss() -> DeadlineMissed:
    now = datetime(2026, 2, 3, 9, 0, tzinfo=timezone.utc)
    return DeadlineMissed(obligation_id="o-1", unit_code="LAO-820801", directive_id="d-1",
                          indicator_code="BUD-1", period="2569-05", due_at=now, detected_at=now)


def test_every_required_event_type_is_registered_with_a_version():
    assert REQUIRED_TYPES <= set(REGISTRY)
    assert all(t.rsplit(".", 1)[1].startswith("v") for t in REGISTRY)


def test_encode_then_decode_gives_the_same_event_and_ids():
    envelope = encode(a_miss(), correlation_id="corr-1", causation_id="cause-1")
    decoded_envelope, event = decode(envelope.to_json())
    assert event == a_miss()
    assert decoded_envelope.message_id == envelope.message_id
    assert (decoded_envelope.correlation_id, decoded_envelope.causation_id) == ("corr-1", "cause-1")
    assert decoded_envelope.producer == "assessments"
    assert decoded_envelope.type == "assessments.deadline_missed.v1"


def test_thai_text_survives_the_round_trip():
    event = DirectiveIssued(directive_id="d", document_number="มท ๐๘๐๑.๒/ว ๕๒", title_th="ด่วนที่สุด",
                            urgency="most_urgent", issuer_code="DLA", addressee_count=3)
    _, decoded = decode(encode(event, correlation_id="c").to_json())
    assert decoded.document_number == "มท ๐๘๐๑.๒/ว ๕๒"


def test_unknown_type_raises_unknown_event_type():
    body = json.loads(encode(a_miss(), correlation_id="c").to_json())
    body["type"] = "assessments.deadline_missed.v9"
    with pytest.raises(UnknownEventType) as error:
        decode(json.dumps(body))
    assert error.value.event_type == "assessments.deadline_missed.v9"


@pytest.mark.parametrize("body", [
    b"not json", b"[1, 2]", b"{}", "{\"message_id\": 1}".encode(),
    b"\xff\xfe garbage",
])
def test_malformed_bodies_raise_malformed_message(body):
    with pytest.raises(MalformedMessage):
        decode(body)


def test_payload_breaking_its_schema_raises_malformed_message_naming_the_field():
    body = json.loads(encode(a_miss(), correlation_id="c").to_json())
    del body["payload"]["unit_code"]
    with pytest.raises(MalformedMessage, match="unit_code"):
        decode(json.dumps(body))


def test_envelope_requires_an_aware_timestamp():
    with pytest.raises(MalformedMessage):
        Envelope.from_json(json.dumps({
            "message_id": "m", "type": "plans.directive_issued.v1", "occurred_at": "2026-01-01T00:00:00",
            "producer": "plans", "correlation_id": "c", "payload": {}}))


def test_generated_json_schemas_match_the_code():
    assert drift() == [], "run: python -m shared.contracts.schema_export"


def test_schema_files_cover_every_event_type():
    assert set(rendered_schemas()) == {"envelope.json"} | {f"{t}.json" for t in REGISTRY}
