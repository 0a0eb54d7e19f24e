"""Issue #16 through the running platform, assessments' side: a Chainat district's monthly day-3 rule
(seed-like) across a merger of two of its SAOs into a new municipality effective the first of this
month (a past-dated change: published as plans publishes it, twice and in two orders, and made
through plans' registry routes). The SAOs' obligations from that day are
cancelled saying when and into whom, the municipality owes them instead (once, even when the
events come twice), and a report from a merged SAO for such a period is refused saying it closed."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from services.plans.cli import registry_rows
from shared.contracts import encode
from shared.contracts.events import OrgUnitChanged
from shared.messaging.publisher import ConfirmingPublisher, OutgoingMessage
from shared.messaging.topology import EVENTS_EXCHANGE
from shared.thai import BANGKOK
from tests.e2e.conftest import client, wait_for




def publish(stack, *events):
    """As plans' outbox relay would: each event on the events exchange under its type."""
    publisher = ConfirmingPublisher(stack.amqp_uri)
    try:
        messages = []
        for event in events:
            envelope = encode(event, correlation_id="registry-e2e")
            messages.append(OutgoingMessage(message_id=envelope.message_id, exchange=EVENTS_EXCHANGE,
                                            routing_key=envelope.type, body=envelope.to_json(),
                                            correlation_id=envelope.correlation_id, event_type=envelope.type))
        result = publisher.publish_batch(messages)
        assert len(result.confirmed) == len(messages), result
    finally:
        publisher.close()


@pytest.fixture(scope="module")
def central(stack):
    session = client(stack, "central")
    rows = [r for r in registry_rows() if r["code"] in ("MOI", "DLA") or r.get("province_code") == "9"]
    response = session.post(f"{session.base}/org-units", json={"units": rows})
    assert response.status_code == 200, response.text
    return session


def obligations(session, **params):
    return session.get(f"{session.base}/obligations", params={"limit": 1000, **params}).json()["items"]


def merge_by_events(stack, central, district, merged, successor, merged_on):
    """As plans publishes a merger (each ended version again with its successor, the new unit's
    version with its predecessors), twice and in two orders."""
    by_code = {r["code"]: r for r in registry_rows()}
    ended = [OrgUnitChanged(code=code, level="lao", lao_type=by_code[code].get("lao_type"), parent_code=district,
                            name_th=by_code[code]["name_th"], province_code="9", valid_from=date(2000, 1, 1),
                            valid_to=merged_on, revision=100, change_kind="merged", effective_date=merged_on,
                            successor_codes=[successor]) for code in merged]
    opened = OrgUnitChanged(code=successor, level="lao", lao_type="subdistrict_municipality", parent_code=district,
                            name_th="เทศบาลตำบลรวมใจ", province_code="9", valid_from=merged_on, revision=1,
                            change_kind="merged", effective_date=merged_on, predecessor_codes=merged)
    publish(stack, opened, *ended)
    publish(stack, *reversed(ended), opened)


def merge_by_the_api(stack, central, district, merged, successor, merged_on):
    """Through plans' registry routes, as central would."""
    first = next(r for r in registry_rows() if r["code"] == merged[0])
    response = central.post(f"{central.base}/org-units", json={"units": [{
        "code": successor, "level": "lao", "lao_type": "subdistrict_municipality", "parent_code": district,
        "name_th": "เทศบาลตำบลรวมใจ", "province_code": "9", "district_code": first.get("district_code"),
        "change_kind": "merged", "predecessor_codes": merged, "effective_date": merged_on.isoformat(),
        "reason": "ควบรวม อบต. สองแห่ง"}]})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("district, indicator, successor, merge", [
    ("DLO-0122", "DISB-PCT-16", "LAO-999001", merge_by_events),
    ("DLO-0121", "DISB-PCT-16B", "LAO-999002", merge_by_the_api)], ids=["as-plans-publishes", "through-the-api"])
def test_a_merger_hands_the_district_rule_to_the_new_municipality_and_the_merged_saos_are_told_they_closed(
        central, stack, district, indicator, successor, merge):
    laos = sorted(r["code"] for r in registry_rows() if r.get("parent_code") == district and r["level"] == "lao")
    assert len(laos) >= 3
    merged, kept = laos[:2], laos[2:]
    issued = central.post(f"{central.base}/directives", json={
        "document_number": "ชน ๐๐๒๓.๓/ว ๑๖", "document_date": datetime.now(BANGKOK).date().isoformat(),
        "subject_th": "ขอให้รายงานผลการเบิกจ่ายรายเดือน", "text_th": "ให้ อปท. รายงานทุกวันที่ ๓",
        "addressees": {"level": "lao", "within": district},
        "reporting": {"indicator_code": indicator, "indicator_name_th": "ร้อยละการเบิกจ่าย", "unit_of_measure": "ร้อยละ",
                      "value_type": "percent", "minimum": 0, "maximum": 100, "direction": "higher",
                      "rrule": "FREQ=MONTHLY;BYMONTHDAY=3", "dtstart": datetime.now(BANGKOK).isoformat(),
                      "window_opens_before": "P40D"}})
    assert issued.status_code == 201, issued.text
    directive_id = issued.json()["directive_id"]
    before = wait_for(lambda: (found := obligations(central, directive_id=directive_id))
                      and {o["unit_code"] for o in found} == set(laos) and found, what="the district's obligations")
    periods = {o["period"]: date.fromisoformat(o["period_start"]) for o in before}

    merged_on = datetime.now(BANGKOK).date().replace(day=1)   # effective the first of this month (past-dated)
    merge(stack, central, district, merged, successor, merged_on)

    after_periods = sorted(p for p, start in periods.items() if start >= merged_on)
    assert after_periods, periods   # the rule's periods from the first of this month on

    def settled():
        found = obligations(central, directive_id=directive_id)
        live = sorted((o["unit_code"], o["period"]) for o in found if o["state"] != "cancelled")
        wanted = sorted([(code, p) for code in kept for p in periods] + [(code, p) for code in merged for p in periods
                                                         if p not in after_periods]
                        + [(successor, p) for p in after_periods])
        return live == wanted and found
    found = wait_for(settled, what="obligations by the period's truth")
    cancelled = [o for o in found if o["state"] == "cancelled"]
    assert sorted((o["unit_code"], o["period"]) for o in cancelled) == sorted(
        (code, p) for code in merged for p in after_periods)
    for obligation in cancelled:
        assert obligation["cancel_cause"] == "unit_closed"
        assert merged_on.isoformat() in obligation["cancel_reason"] and successor in obligation["cancel_reason"]

    # a merged SAO reporting such a period: refused, saying it closed (when, into whom), naming the field
    refused = central.post(f"{central.base}/obligations/{cancelled[0]['id']}/submissions",
                           json={"unit_code": cancelled[0]["unit_code"],
                                 "values": [{"indicator_code": indicator, "value": 50}]})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["field"] == "unit_code" and body["code"] == "unit_closed"
    assert merged_on.isoformat() in body["message_en"] and "closed" in body["message_en"]
    assert merged_on.isoformat() in body["message_th"] and successor in body["message_th"]
    assert "not open yet" not in body["message_en"]
    batch = central.post(f"{central.base}/submissions/batch", json={"items": [
        {"unit_code": merged[0], "period": after_periods[0], "values": [{"indicator_code": indicator, "value": 50}]}]})
    assert batch.status_code == 422 and batch.json()["accepted"] == 0, batch.text   # nothing stored
    [error] = batch.json()["errors"]
    assert error["field"] == "items[0].unit_code" and error["code"] == "unit_closed", batch.text
    assert merged_on.isoformat() in error["message_en"] and successor in error["message_en"]
